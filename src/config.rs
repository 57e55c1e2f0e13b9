//! Configuration: command line, environment, file and defaults, merged once and validated.
//!
//! Takes the parsed command line (`cli`) and the optional TOML file, and hands on
//! a [`SalesforceConfig`] (where and how to log in) and [`Rules`] (the findings
//! contract's knobs). Precedence is flag or environment variable (clap merges
//! those two), then the file, then the default. Relative paths in the file are
//! relative to the file. Every mistake is one line that says what to fix; nothing
//! here ever prints a secret, only where it came from.
//!
//! The file may name several orgs: `[salesforce]` is the org a command uses by default (named
//! by its Id), and each `[orgs.NAME]` table holds the same keys for the org NAME, with optional
//! `[orgs.NAME.rules]` that override `[rules]` key by key. An org table stands alone: it does not
//! inherit `[salesforce]`'s settings (a login belongs to one org). `[run]` says which orgs a run
//! of several audits (`orgs = [...]`) and how many at once. [`describe`] prints all of it back as
//! valid TOML, each value with where it came from.

pub mod apps;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use regex::Regex;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::auth::{Credentials, JwtKey};
use crate::cli::{ApiChoice, AuditArgs, AuthFlow, DeliveryArgs, EmailArgs, FromEnv, RuleArgs, SalesforceArgs, SmtpTls};
use crate::endpoint::{
    DEFAULT_LOGIN_URL, EndpointError, SANDBOX_LOGIN_URL, endpoint_url, is_sandbox_host, is_shared_login_host,
};
pub use crate::http::RetryPolicy;
use crate::http::{BodyLimit, HttpSettings};
use crate::model::AccountClass;

/// The default configuration file, looked up in the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "access-audit.toml";
pub const DEFAULT_API_VERSION: &str = "62.0";
pub const DEFAULT_BATCH_SIZE: u32 = 2000;
/// The most one REST answer may hold, in MB (MiB): a 2,000-row page is well under 10 MB.
pub const DEFAULT_MAX_BODY_MB: u64 = 64;
/// Objects of more rows than this go to a Bulk API job under `--api auto`.
pub const DEFAULT_BULK_THRESHOLD: u64 = 50_000;
/// REST query cursors open at once (Salesforce allowed 10 per user for years; half leaves room
/// for the org's other integrations running as the same user).
pub const DEFAULT_MAX_CURSORS: u32 = 5;
/// How long a run may wait on Salesforce in all, in seconds (4 hours): far above any
/// measured pull, and short enough that a weekly or daily cron run never overlaps the next.
pub const DEFAULT_MAX_RUN_SECS: u64 = 4 * 3600;

/// The Certinia namespaces of REPORTS.md (see SALESFORCE.md §7.1 for each).
pub const DEFAULT_NAMESPACES: &[&str] = &[
    "pse",
    "c2g",
    "fferpcore",
    "ffrr",
    "ffbc",
    "bcws",
    "ffpsai",
    "scmc",
    "ffcash",
    "ffbf",
    "ffvat",
    "ffps_po",
    "ffc_statex",
    "ffirule",
    "ffaci",
    "scmffa",
];

/// The Certinia name pattern of REPORTS.md: whole words psa, ffa, certinia, financialforce.
pub const DEFAULT_NAME_PATTERN: &str = r"(?i)(^|[^a-z0-9])(psa|ffa|certinia|financialforce)([^a-z0-9]|$)";
pub const DEFAULT_INACTIVE_DAYS: u32 = 90;
pub const DEFAULT_GRACE_DAYS: u32 = 14;
pub const DEFAULT_USER_TYPES: &[&str] = &["Standard"];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    ReadFile { path: PathBuf, source: std::io::Error },
    #[error("configuration file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
}

fn invalid(message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(message.into())
}

/// The TOML file, as written by the admin. Unknown keys are errors (a typo must not be ignored).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub salesforce: FileSalesforce,
    #[serde(default)]
    pub rules: FileRules,
    #[serde(default, skip_serializing_if = "FileOutput::is_unset")]
    pub output: FileOutput,
    #[serde(default, skip_serializing_if = "FileEmail::is_unset")]
    pub email: FileEmail,
    /// `[orgs.NAME]`: the named orgs, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub orgs: BTreeMap<String, FileOrg>,
    #[serde(default, skip_serializing_if = "FileRun::is_unset")]
    pub run: FileRun,
    /// `[apps.NAME]`: other applications audited over SCIM 2.0 (see [`apps`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub apps: BTreeMap<String, apps::FileApp>,
    /// `[seat_costs]`: the yearly cost of one seat, by package namespace or permission set
    /// licence `DeveloperName` (or licence Id), as `--seat-cost` gives it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub seat_costs: BTreeMap<String, f64>,
}

/// The name of the folder that holds a run of several orgs' combined summary, beside the orgs'
/// own folders: no org may be called so.
pub const COMBINED_NAME: &str = "all-orgs";
/// How many orgs a run of several audits at once, when nothing says otherwise.
pub const DEFAULT_ORG_CONCURRENCY: usize = 2;
/// The most orgs audited at once (each holds its own connections and its users in memory).
pub const MAX_ORG_CONCURRENCY: usize = 16;

/// `[run]`: which orgs a run of several audits, and how many at once.
#[derive(Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileRun {
    /// Org names (of `[orgs.NAME]`, or Salesforce CLI aliases): `run` audits these, as `--all-orgs` does.
    pub orgs: Option<Vec<String>>,
    pub org_concurrency: Option<usize>,
}

impl FileRun {
    fn is_unset(&self) -> bool {
        *self == FileRun::default()
    }
}

/// `[orgs.NAME]`: the keys of `[salesforce]`, and `[orgs.NAME.rules]` (the keys of `[rules]`).
#[derive(Debug, Default, PartialEq, Serialize)]
pub struct FileOrg {
    #[serde(flatten)]
    pub salesforce: FileSalesforce,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<FileRules>,
}

impl<'de> Deserialize<'de> for FileOrg {
    /// `rules` is a table of its own; every other key is one of `[salesforce]`'s, and an unknown
    /// key is an error as anywhere else (serde's `flatten` would accept any key silently).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<FileOrg, D::Error> {
        use serde::de::Error;
        let mut table = toml::Table::deserialize(deserializer)?;
        let rules = table.remove("rules").map(|v| v.try_into::<FileRules>()).transpose().map_err(D::Error::custom)?;
        let salesforce = toml::Value::Table(table).try_into::<FileSalesforce>().map_err(D::Error::custom)?;
        Ok(FileOrg { salesforce, rules })
    }
}

impl FileOutput {
    fn is_unset(&self) -> bool {
        *self == FileOutput::default()
    }
}

impl FileEmail {
    fn is_unset(&self) -> bool {
        *self == FileEmail::default()
    }
}

/// `[output]`: where report runs go.
#[derive(Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileOutput {
    pub reviews_dir: Option<PathBuf>,
    pub keep: Option<usize>,
    pub org_name: Option<String>,
}

/// `[email]`: the digest's recipients and the SMTP server.
#[derive(Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileEmail {
    pub to: Option<Vec<String>>,
    pub from: Option<String>,
    pub subject: Option<String>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    pub smtp_tls: Option<SmtpTls>,
    pub smtp_username: Option<String>,
    pub smtp_password_file: Option<PathBuf>,
    pub smtp_ca_file: Option<PathBuf>,
    pub max_bytes: Option<u64>,
    pub on_failure: Option<bool>,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileSalesforce {
    pub instance_url: Option<String>,
    pub login_url: Option<String>,
    pub auth_flow: Option<AuthFlow>,
    pub client_id: Option<String>,
    pub username: Option<String>,
    pub jwt_key_file: Option<PathBuf>,
    pub jwt_audience: Option<String>,
    pub client_secret_file: Option<PathBuf>,
    pub refresh_token_file: Option<PathBuf>,
    pub access_token_file: Option<PathBuf>,
    pub api_version: Option<String>,
    pub batch_size: Option<u32>,
    pub min_api_remaining: Option<FloorSetting>,
    pub retries: Option<u32>,
    pub retry_delay_ms: Option<u64>,
    pub timeout_secs: Option<u64>,
    pub max_body_mb: Option<u64>,
    pub max_run_secs: Option<u64>,
    pub ca_file: Option<PathBuf>,
    pub api: Option<ApiChoice>,
    pub bulk_threshold: Option<u64>,
    pub max_cursors: Option<u32>,
    pub pushdown: Option<bool>,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileRules {
    pub inactive_days: Option<u32>,
    pub grace_days: Option<u32>,
    pub user_types: Option<Vec<String>>,
    pub namespaces: Option<Vec<String>>,
    pub name_patterns: Option<Vec<String>>,
    pub roster: Option<PathBuf>,
    pub exclusions: Option<PathBuf>,
    pub exclude_classes: Option<Vec<String>>,
}

/// The configuration file found for this run, if any.
#[derive(Debug, Default)]
pub struct LoadedFile {
    pub path: Option<PathBuf>,
    pub config: FileConfig,
}

impl LoadedFile {
    /// Reads `explicit` (an error when missing) or `./access-audit.toml` (skipped when missing).
    pub fn load(explicit: Option<&Path>) -> Result<LoadedFile, ConfigError> {
        let (path, required) = match explicit {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_CONFIG_FILE), false),
        };
        let text = match crate::files::read_to_string(&path, crate::files::CONFIG) {
            Ok(t) => t,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(LoadedFile::default());
            }
            Err(source) => return Err(ConfigError::ReadFile { path, source }),
        };
        let config: FileConfig = toml::from_str(&text)
            .map_err(|e| ConfigError::Parse { path: path.clone(), message: one_line(&e.to_string()) })?;
        check_orgs(&config).map_err(|message| ConfigError::Parse { path: path.clone(), message })?;
        Ok(LoadedFile { path: Some(path), config })
    }

    /// `FILE` for messages: the file's path, or the default name when there is none.
    pub fn shown(&self) -> String {
        self.path.as_deref().unwrap_or(Path::new(DEFAULT_CONFIG_FILE)).display().to_string()
    }

    /// A path from the file is relative to the file's folder.
    fn resolve(&self, p: &Path) -> PathBuf {
        match self.path.as_ref().and_then(|f| f.parent()) {
            Some(dir) if p.is_relative() && !dir.as_os_str().is_empty() => dir.join(p),
            _ => p.to_path_buf(),
        }
    }
}

/// The org names of the file: each one folder name (an org's reports go in a folder of that
/// name), none the combined summary's; `[run]`'s list names each org once.
fn check_orgs(config: &FileConfig) -> Result<(), String> {
    for name in config.orgs.keys() {
        check_org_folder_name(name).map_err(|e| format!("[orgs.{}]: {e}", crate::text::visible(name)))?;
    }
    if let Some(list) = &config.run.orgs {
        let mut seen = std::collections::BTreeSet::new();
        for name in list {
            if name.trim().is_empty() || name.starts_with('-') || name.chars().any(char::is_control) {
                return Err(format!(
                    "orgs under [run]: {:?} is not an org name (a name of [orgs.NAME], or a Salesforce CLI alias)",
                    crate::text::visible(name)
                ));
            }
            if !seen.insert(name.as_str()) {
                return Err(format!("orgs under [run] names {:?} twice", crate::text::visible(name)));
            }
        }
        if list.is_empty() {
            return Err("orgs under [run] is empty: name at least one org, or leave it out".into());
        }
    }
    if let Some(n) = config.run.org_concurrency {
        check_concurrency(n).map_err(|e| format!("org_concurrency under [run] {e}"))?;
    }
    Ok(())
}

/// An org's name as the name of its folder: one plain folder name, never the combined summary's.
pub fn check_org_folder_name(name: &str) -> Result<(), String> {
    crate::deliver::reviews::check_org_name(name)?;
    if name.eq_ignore_ascii_case(COMBINED_NAME) {
        return Err(format!(
            "{COMBINED_NAME:?} is the folder of the combined summary of several orgs: choose another name"
        ));
    }
    Ok(())
}

/// How many orgs at once: 1 to [`MAX_ORG_CONCURRENCY`].
pub fn check_concurrency(n: usize) -> Result<(), String> {
    if (1..=MAX_ORG_CONCURRENCY).contains(&n) {
        Ok(())
    } else {
        Err(format!("must be between 1 and {MAX_ORG_CONCURRENCY}, got {n}"))
    }
}

/// A message from a parser, on one line, with no raw control character (a config file can hold a NUL).
fn one_line(s: &str) -> String {
    crate::text::visible(&s.split_whitespace().collect::<Vec<_>>().join(" ")).into_owned()
}

/// Where the org is and how to log in to it.
#[derive(Debug)]
pub struct SalesforceConfig {
    pub credentials: Credentials,
    pub api_version: ApiVersion,
    pub batch_size: u32,
    pub retry: RetryPolicy,
    pub min_api_remaining: ApiFloor,
    /// Timeouts and extra trusted CAs of every HTTP client.
    pub http: HttpSettings,
    /// The most bytes one REST answer may hold (`--max-body-mb`).
    pub max_body: BodyLimit,
    /// How long the run may wait on Salesforce in all (`--max-run-secs`).
    pub max_run: std::time::Duration,
    /// Which API pulls what, and how many cursors at once.
    pub pull: PullSettings,
}

/// How the objects are pulled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PullSettings {
    pub api: ApiChoice,
    /// `--api auto` pulls objects of more rows than this through Bulk.
    pub bulk_threshold: u64,
    /// REST query cursors open at once, across all objects.
    pub max_cursors: u32,
    /// Filter out in the query the rows no report uses.
    pub pushdown: bool,
}

impl Default for PullSettings {
    fn default() -> Self {
        PullSettings {
            api: ApiChoice::Auto,
            bulk_threshold: DEFAULT_BULK_THRESHOLD,
            max_cursors: DEFAULT_MAX_CURSORS,
            pushdown: true,
        }
    }
}

/// The least number of daily API requests a run may leave the org.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ApiFloor {
    Requests(u64),
    Percent(f64),
}

impl ApiFloor {
    pub fn parse(s: &str) -> Result<ApiFloor, ConfigError> {
        let t = s.trim();
        let bad = || {
            invalid(format!("--min-api-remaining must be a count such as 2000 or a percentage such as 5%, got {s:?}"))
        };
        if let Some(p) = t.strip_suffix('%') {
            let p: f64 = p.trim().parse().map_err(|_| bad())?;
            if !(0.0..=100.0).contains(&p) {
                return Err(bad());
            }
            Ok(ApiFloor::Percent(p))
        } else {
            Ok(ApiFloor::Requests(t.parse().map_err(|_| bad())?))
        }
    }

    /// The floor in requests, for an org whose daily maximum is `max`.
    pub fn requests(self, max: u64) -> u64 {
        match self {
            ApiFloor::Requests(n) => n,
            ApiFloor::Percent(p) => ((max as f64) * p / 100.0).ceil() as u64,
        }
    }

    pub fn is_off(self) -> bool {
        matches!(self, ApiFloor::Requests(0)) || matches!(self, ApiFloor::Percent(p) if p == 0.0)
    }
}

impl std::fmt::Display for ApiFloor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiFloor::Requests(n) => write!(f, "{n}"),
            ApiFloor::Percent(p) => write!(f, "{p}%"),
        }
    }
}

pub const DEFAULT_API_FLOOR: &str = "5%";

/// A REST API version such as `62.0`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiVersion(String);

impl ApiVersion {
    pub fn parse(s: &str) -> Result<ApiVersion, ConfigError> {
        let t = s.trim().trim_start_matches(['v', 'V']);
        let major: u32 = t
            .strip_suffix(".0")
            .unwrap_or(t)
            .parse()
            .map_err(|_| invalid(format!("--api-version must look like 62.0, got {s:?}")))?;
        if !(20..=99).contains(&major) {
            return Err(invalid(format!(
                "--api-version {s} is outside what the REST query API offers (20.0 and later)"
            )));
        }
        Ok(ApiVersion(format!("{major}.0")))
    }

    /// `62.0`
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The audit rules of REPORTS.md, validated.
#[derive(Debug, Clone)]
pub struct Rules {
    pub inactive_days: u32,
    pub grace_days: u32,
    /// Spelled as Salesforce documents them (`PowerPartner`), whatever case was given.
    pub user_types: Vec<String>,
    /// Lower-cased, for case-insensitive comparison.
    pub namespaces: Vec<String>,
    pub name_patterns: Vec<Regex>,
    pub roster: Option<PathBuf>,
    /// Accounts reviewed elsewhere (REPORTS.md, "Exclusions").
    pub exclusions: Option<PathBuf>,
    /// Account classes kept out of the finding reports, in [`AccountClass::ALL`] order.
    pub excluded_classes: Vec<AccountClass>,
    /// The yearly cost of one seat by licence key (`[seat_costs]`, then `--seat-cost` over it).
    pub seat_costs: SeatCosts,
}

/// The yearly cost of one seat of a licence, by key: a package licence's namespace or a permission
/// set licence's `DeveloperName` (compared case-insensitively), or a licence's Id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeatCosts {
    /// Lower-cased key, amount; sorted by key, each key once.
    pub costs: BTreeMap<String, f64>,
}

impl SeatCosts {
    /// From the file's `[seat_costs]`, then each `--seat-cost KEY=AMOUNT` (a later one wins).
    pub fn from_sources(flags: &[String], file: &BTreeMap<String, f64>, path: &Path) -> Result<SeatCosts, ConfigError> {
        let mut costs = BTreeMap::new();
        for (key, amount) in file {
            let origin = format!("{key} under [seat_costs] in {}", path.display());
            costs.insert(seat_key(key, &origin)?, seat_amount(*amount, &origin)?);
        }
        for given in flags {
            let origin = format!("--seat-cost {given}");
            let Some((key, amount)) = given.split_once('=') else {
                return Err(invalid(format!("{origin}: expected NAMESPACE_OR_KEY=AMOUNT, such as pse=1200")));
            };
            let amount: f64 = amount.trim().parse().map_err(|_| {
                invalid(format!("{origin}: {:?} is not an amount, such as 1200 or 99.50", amount.trim()))
            })?;
            costs.insert(seat_key(key, &origin)?, seat_amount(amount, &origin)?);
        }
        Ok(SeatCosts { costs })
    }

    pub fn is_empty(&self) -> bool {
        self.costs.is_empty()
    }

    /// The yearly cost of one seat of the licence `id` whose key is `key` (namespace or
    /// `DeveloperName`): its key's cost, else its Id's.
    pub fn of(&self, key: Option<&str>, id: &str) -> Option<f64> {
        key.and_then(|k| self.costs.get(&k.to_lowercase())).or_else(|| self.costs.get(&id.to_lowercase())).copied()
    }
}

fn seat_key(key: &str, origin: &str) -> Result<String, ConfigError> {
    let key = key.trim();
    if key.is_empty() {
        return Err(invalid(format!("{origin}: the namespace or licence key is empty")));
    }
    Ok(key.to_lowercase())
}

fn seat_amount(amount: f64, origin: &str) -> Result<f64, ConfigError> {
    if !amount.is_finite() || amount < 0.0 {
        return Err(invalid(format!("{origin}: the yearly cost of a seat must be a number of 0 or more")));
    }
    Ok(amount)
}

/// The values `User.UserType` takes, as Salesforce documents them (see SALESFORCE.md).
pub const USER_TYPES: &[&str] = &[
    "Standard",
    "PowerPartner",
    "CspLitePortal",
    "CustomerSuccess",
    "PowerCustomerSuccess",
    "CsnOnly",
    "Guest",
    "AutomatedProcess",
    "CloudIntegrationUser",
    "SelfService",
];

/// The earliest `--as-of`: no Salesforce org has data before it.
pub const EARLIEST_AS_OF: &str = "2000-01-01T00:00:00Z";

/// Where a setting's value came from, so that a message names what the user has to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The command line: `--inactive-days`.
    Flag(&'static str),
    /// The environment: `ACCESS_AUDIT_INACTIVE_DAYS`.
    Env(&'static str),
    /// The configuration file: `inactive_days in /etc/access-audit/access-audit.toml`.
    File { key: &'static str, path: PathBuf },
    /// An org's table of the file: `inactive_days under [orgs.prod.rules] in access-audit.toml`.
    OrgFile { org: String, table: &'static str, key: &'static str, path: PathBuf },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Flag(flag) => write!(f, "{flag}"),
            Origin::Env(var) => write!(f, "{var}"),
            Origin::File { key, path } => write!(f, "{key} in {}", path.display()),
            Origin::OrgFile { org, table, key, path } => {
                let table = if table.is_empty() { String::new() } else { format!(".{table}") };
                write!(f, "{key} under [orgs.{org}{table}] in {}", path.display())
            }
        }
    }
}

/// One setting of the rules: its clap id, flag, environment variable and key in the file.
struct Setting {
    id: &'static str,
    flag: &'static str,
    env: &'static str,
    key: &'static str,
}

const INACTIVE_DAYS: Setting =
    Setting { id: "inactive_days", flag: "--inactive-days", env: "ACCESS_AUDIT_INACTIVE_DAYS", key: "inactive_days" };
const GRACE_DAYS: Setting =
    Setting { id: "grace_days", flag: "--grace-days", env: "ACCESS_AUDIT_GRACE_DAYS", key: "grace_days" };
const USER_TYPES_SETTING: Setting =
    Setting { id: "user_types", flag: "--user-types", env: "ACCESS_AUDIT_USER_TYPES", key: "user_types" };
const NAMESPACES: Setting =
    Setting { id: "namespaces", flag: "--namespaces", env: "ACCESS_AUDIT_NAMESPACES", key: "namespaces" };
const NAME_PATTERNS: Setting =
    Setting { id: "name_patterns", flag: "--name-pattern", env: "ACCESS_AUDIT_NAME_PATTERN", key: "name_patterns" };
const AS_OF: Setting = Setting { id: "as_of", flag: "--as-of", env: "ACCESS_AUDIT_AS_OF", key: "as_of" };
const EXCLUDE_CLASSES: Setting = Setting {
    id: "exclude_classes",
    flag: "--exclude-class",
    env: "ACCESS_AUDIT_EXCLUDE_CLASSES",
    key: "exclude_classes",
};

impl Setting {
    /// Where a value that clap delivered came from: the environment variable or the flag.
    fn given_origin(&self, from_env: &FromEnv) -> Origin {
        if from_env.contains(self.id) { Origin::Env(self.env) } else { Origin::Flag(self.flag) }
    }

    /// The value and where it came from: flag or environment variable first, then the org's own
    /// table of the file (`[orgs.NAME.rules]`), then the file's `[rules]`.
    fn pick<T: Clone>(
        &self,
        given: &Option<T>,
        from_env: &FromEnv,
        layers: &RuleLayers<'_>,
        value: impl Fn(&FileRules) -> &Option<T>,
    ) -> Option<(T, Origin)> {
        if let Some(value) = given {
            return Some((value.clone(), self.given_origin(from_env)));
        }
        let path = layers.file.path.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_FILE));
        if let Some((org, rules)) = layers.org
            && let Some(v) = value(rules)
        {
            return Some((v.clone(), Origin::OrgFile { org: org.to_string(), table: "rules", key: self.key, path }));
        }
        value(&layers.file.config.rules).as_ref().map(|v| (v.clone(), Origin::File { key: self.key, path }))
    }
}

/// Where rules come from in the file: `[rules]`, and the org's `[orgs.NAME.rules]` over it.
struct RuleLayers<'a> {
    file: &'a LoadedFile,
    org: Option<(&'a str, &'a FileRules)>,
}

impl Rules {
    /// The rules of `[salesforce]`'s org: flags, then `[rules]`, then the defaults.
    pub fn from_sources(args: &RuleArgs, file: &LoadedFile) -> Result<Rules, ConfigError> {
        Rules::for_org(args, file, None)
    }

    /// The rules of the org `org` (a name of `[orgs.NAME]`; None for `[salesforce]`'s org, and
    /// for an org the file does not name): flags, then its `[orgs.NAME.rules]`, then `[rules]`,
    /// then the defaults, key by key.
    pub fn for_org(args: &RuleArgs, file: &LoadedFile, org: Option<&str>) -> Result<Rules, ConfigError> {
        let layers = RuleLayers {
            file,
            org: org.and_then(|name| {
                let (name, table) = file.config.orgs.get_key_value(name)?;
                Some((name.as_str(), table.rules.as_ref()?))
            }),
        };
        let env = &args.from_env;
        let inactive_days = match INACTIVE_DAYS.pick(&args.inactive_days, env, &layers, |r| &r.inactive_days) {
            Some((n, origin)) if n == 0 || n > 36_500 => {
                return Err(invalid(format!("{origin} must be between 1 and 36500, got {n}")));
            }
            Some((n, _)) => n,
            None => DEFAULT_INACTIVE_DAYS,
        };
        let grace_days = match GRACE_DAYS.pick(&args.grace_days, env, &layers, |r| &r.grace_days) {
            Some((n, origin)) if n > 36_500 => {
                return Err(invalid(format!("{origin} must be between 0 and 36500, got {n}")));
            }
            Some((n, _)) => n,
            None => DEFAULT_GRACE_DAYS,
        };
        let user_types = match USER_TYPES_SETTING.pick(&args.user_types, env, &layers, |r| &r.user_types) {
            Some((list, origin)) => user_types(&list, &origin)?,
            None => DEFAULT_USER_TYPES.iter().map(|s| s.to_string()).collect(),
        };
        let namespaces = match NAMESPACES.pick(&args.namespaces, env, &layers, |r| &r.namespaces) {
            Some((list, origin)) => namespaces(&list, &origin)?,
            None => DEFAULT_NAMESPACES.iter().map(|s| s.to_string()).collect(),
        };
        let name_patterns = match NAME_PATTERNS.pick(&args.name_patterns, env, &layers, |r| &r.name_patterns) {
            Some((list, origin)) => name_patterns(&list, &origin)?,
            None => vec![Regex::new(DEFAULT_NAME_PATTERN).expect("the default pattern is valid")],
        };
        // A file path: the flag, else the org's `[orgs.NAME.rules]`, else `[rules]` (relative to the file).
        let path_setting = |given: &Option<PathBuf>, pick: fn(&FileRules) -> &Option<PathBuf>| {
            let in_org = layers.org.and_then(|(_, r)| pick(r).as_ref());
            match (given, in_org.or(pick(&file.config.rules).as_ref())) {
                (Some(p), _) => Some(p.clone()),
                (None, Some(p)) => Some(file.resolve(p)),
                (None, None) => None,
            }
        };
        let roster = path_setting(&args.roster, |r| &r.roster);
        let exclusions = path_setting(&args.exclusions, |r| &r.exclusions);
        let excluded_classes = match EXCLUDE_CLASSES.pick(&args.exclude_classes, env, &layers, |r| &r.exclude_classes) {
            Some((list, origin)) => account_classes(&list, &origin)?,
            None => Vec::new(),
        };
        let config_path = file.path.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_FILE));
        let seat_costs = SeatCosts::from_sources(&args.seat_costs, &file.config.seat_costs, &config_path)?;
        Ok(Rules {
            seat_costs,
            inactive_days,
            grace_days,
            user_types,
            namespaces,
            name_patterns,
            roster,
            exclusions,
            excluded_classes,
        })
    }
}

impl Rules {
    /// The rules a run recorded in its summary.json (`rules`), for analysing its snapshot again:
    /// the thresholds, user types, namespaces and name patterns; no roster, exclusions or excluded
    /// classes (they decide who is a finding, never what a user holds).
    pub fn recorded(rules: &serde_json::Value) -> Result<Rules, ConfigError> {
        let bad = |what: &str| invalid(format!("the run's summary.json has no valid rules.{what}"));
        let days = |key: &str| rules[key].as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| bad(key));
        let list = |key: &str| -> Result<Vec<String>, ConfigError> {
            rules[key]
                .as_array()
                .ok_or_else(|| bad(key))?
                .iter()
                .map(|v| v.as_str().map(str::to_string).ok_or_else(|| bad(key)))
                .collect()
        };
        let name_patterns = list("name_patterns")?
            .iter()
            .map(|p| Regex::new(p).map_err(|_| bad("name_patterns")))
            .collect::<Result<_, _>>()?;
        Ok(Rules {
            inactive_days: days("inactive_days")?,
            grace_days: days("grace_days")?,
            user_types: list("user_types")?,
            namespaces: list("namespaces")?,
            name_patterns,
            roster: None,
            exclusions: None,
            excluded_classes: Vec::new(),
            seat_costs: SeatCosts::default(),
        })
    }
}

/// Excluded account classes: each `Human`, `Integration` or `Automated` (any case), in that order.
fn account_classes(list: &[String], origin: &Origin) -> Result<Vec<AccountClass>, ConfigError> {
    let mut classes = Vec::new();
    for name in non_blank(list) {
        let Some(class) = AccountClass::from_label(name) else {
            return Err(invalid(format!(
                "{origin}: {name:?} is not an account class; the classes are Human, Integration and Automated"
            )));
        };
        classes.push(class);
    }
    Ok(AccountClass::ALL.into_iter().filter(|c| classes.contains(c)).collect())
}

/// The items of a list setting, trimmed; blank items (a trailing comma) are dropped.
fn non_blank(list: &[String]) -> Vec<&str> {
    list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect()
}

/// Audited user types: at least one, each a documented `UserType` (any case), in Salesforce's spelling.
fn user_types(list: &[String], origin: &Origin) -> Result<Vec<String>, ConfigError> {
    let names = non_blank(list);
    if names.is_empty() {
        return Err(invalid(format!("{origin} is empty: name at least one UserType to audit, e.g. Standard")));
    }
    let mut types: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        let Some(known) = USER_TYPES.iter().find(|t| t.eq_ignore_ascii_case(name)) else {
            return Err(invalid(format!(
                "{origin}: {name:?} is not a Salesforce UserType; the valid ones are {} (any case)",
                USER_TYPES.join(", ")
            )));
        };
        if !types.iter().any(|t| t == known) {
            types.push(known.to_string());
        }
    }
    Ok(types)
}

/// Whether `s` can be a namespace prefix: a letter, then letters, digits and single underscores,
/// 15 characters at most, not ending in an underscore (Salesforce's rule for prefixes).
fn is_namespace_prefix(s: &str) -> bool {
    s.len() <= 15
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !s.contains("__")
        && !s.ends_with('_')
}

/// Certinia namespaces: at least one, each a possible prefix; lower-cased.
fn namespaces(list: &[String], origin: &Origin) -> Result<Vec<String>, ConfigError> {
    let names = non_blank(list);
    if names.is_empty() {
        return Err(invalid(format!(
            "{origin} is empty, which would stop detecting Certinia permission sets and licences by namespace: \
             name at least one prefix (e.g. pse), or leave it unset for the default list"
        )));
    }
    let mut namespaces: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        if !is_namespace_prefix(name) {
            return Err(invalid(format!(
                "{origin}: {name:?} is not a namespace prefix (a letter, then letters, digits or underscores, \
                 e.g. pse or ffps_po); separate several with commas"
            )));
        }
        let lower = name.to_ascii_lowercase();
        if !namespaces.contains(&lower) {
            namespaces.push(lower);
        }
    }
    Ok(namespaces)
}

/// Certinia name patterns: at least one, none blank, each a valid regular expression that needs at
/// least one character to match (a pattern matching the empty text matches every name).
fn name_patterns(list: &[String], origin: &Origin) -> Result<Vec<Regex>, ConfigError> {
    if list.is_empty() {
        return Err(invalid(format!(
            "{origin} is empty, which would stop detecting Certinia permission sets and groups by name: \
             give at least one pattern, or leave it unset for the default"
        )));
    }
    let mut patterns = Vec::with_capacity(list.len());
    for given in list {
        let p = given.trim();
        if p.is_empty() {
            return Err(invalid(format!(
                "{origin} holds an empty pattern, which cannot tell a Certinia name from any other: \
                 remove it, or leave the patterns unset for the default"
            )));
        }
        let re = Regex::new(p).map_err(|e| {
            invalid(format!("{origin} {p:?} is not a valid regular expression: {}", one_line(&e.to_string())))
        })?;
        if re.is_match("") {
            return Err(invalid(format!(
                "{origin} {p:?} matches the empty text, so it would call every permission set Certinia: \
                 make it require at least one character"
            )));
        }
        patterns.push(re);
    }
    Ok(patterns)
}

/// The `--as-of` instant: RFC 3339, or a plain date taken as midnight UTC; default now (whole seconds).
///
/// Only parses; [`as_of_checked`] also checks that the instant is plausible.
pub fn as_of(given: Option<&str>) -> Result<chrono::DateTime<chrono::Utc>, ConfigError> {
    use chrono::{SubsecRound, Utc};
    match given {
        None => Ok(Utc::now().trunc_subsecs(0)),
        Some(s) => parse_instant(s, &Origin::Flag(AS_OF.flag)),
    }
}

fn parse_instant(given: &str, origin: &Origin) -> Result<chrono::DateTime<chrono::Utc>, ConfigError> {
    use chrono::{DateTime, NaiveDate, Utc};
    let s = given.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Ok(d.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    Err(invalid(format!(
        "{origin} must be an RFC 3339 instant such as 2026-10-01T00:00:00Z or a date such as 2026-10-01, got {s:?}"
    )))
}

/// The as-of instant of a report run, from `--as-of` or `ACCESS_AUDIT_AS_OF` (default `now`):
/// between 2000-01-01 and one day after `now`, or later with `--allow-future-as-of`.
///
/// An instant before any Salesforce data turns every day count into nonsense, and one far in the
/// future makes every user look inactive; both are typing mistakes far more often than intent.
pub fn as_of_checked(
    args: &AuditArgs,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>, ConfigError> {
    use chrono::{SecondsFormat, SubsecRound};
    let Some(given) = &args.as_of else {
        return Ok(now.trunc_subsecs(0));
    };
    let origin = AS_OF.given_origin(&args.rules.from_env);
    let t = parse_instant(given, &origin)?;
    let show = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let earliest = chrono::DateTime::parse_from_rfc3339(EARLIEST_AS_OF).expect("a valid instant").to_utc();
    if t < earliest {
        return Err(invalid(format!(
            "{origin} {} is before {}: no Salesforce org has data that old; check the date",
            show(t),
            &EARLIEST_AS_OF[..10]
        )));
    }
    let latest = now + chrono::Duration::days(1);
    if t > latest && !args.allow_future_as_of {
        return Err(invalid(format!(
            "{origin} {} is more than one day after now ({}): every user would look inactive; \
             check the date, or pass --allow-future-as-of to audit a future instant",
            show(t),
            show(now.trunc_subsecs(0))
        )));
    }
    Ok(t)
}

/// Where a secret came from, for messages and `access-audit config` (never the value).
#[derive(Debug, Clone)]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
}

impl std::fmt::Display for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Env(v) => write!(f, "environment variable {v}"),
            SecretSource::File(p) => write!(f, "file {}", p.display()),
        }
    }
}

/// Reads a secret from its file or environment variable; both at once is ambiguous and refused.
fn secret(env: &str, flag: &str, file: Option<PathBuf>) -> Result<Option<(SecretString, SecretSource)>, ConfigError> {
    let from_env = std::env::var(env).ok().filter(|v| !v.trim().is_empty());
    match (from_env, file) {
        (Some(_), Some(_)) => Err(invalid(format!("both {env} and {flag} are set: keep one of them"))),
        (Some(v), None) => Ok(Some((SecretString::from(v.trim().to_string()), SecretSource::Env(env.to_string())))),
        (None, Some(path)) => {
            let text = crate::files::read_to_string(&path, crate::files::SECRET)
                .map_err(|e| invalid(format!("cannot read {flag} {}: {e}", path.display())))?;
            let value = text.trim();
            if value.is_empty() {
                return Err(invalid(format!("{flag} {} is empty", path.display())));
            }
            Ok(Some((SecretString::from(value.to_string()), SecretSource::File(path))))
        }
        (None, None) => Ok(None),
    }
}

/// `min_api_remaining` in the file: `"5%"`, or a plain count such as `2000`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum FloorSetting {
    Count(u64),
    Text(String),
}

impl FloorSetting {
    fn text(&self) -> String {
        match self {
            FloorSetting::Count(n) => n.to_string(),
            FloorSetting::Text(s) => s.clone(),
        }
    }
}

impl FileSalesforce {
    /// The connection settings of `[salesforce]`'s org after merging, before the credentials are
    /// read: flag or environment first, then the file (its relative paths resolved against it).
    pub fn merge(args: &SalesforceArgs, file: &LoadedFile) -> FileSalesforce {
        FileSalesforce::merge_table(args, &file.config.salesforce, file)
    }

    /// [`FileSalesforce::merge`] over one table of the file (`[salesforce]` or an `[orgs.NAME]`).
    pub fn merge_table(args: &SalesforceArgs, f: &FileSalesforce, file: &LoadedFile) -> FileSalesforce {
        let path = |a: &Option<PathBuf>, b: &Option<PathBuf>| a.clone().or_else(|| b.as_ref().map(|p| file.resolve(p)));
        FileSalesforce {
            instance_url: args.instance_url.clone().or_else(|| f.instance_url.clone()),
            login_url: args.login_url.clone().or_else(|| f.login_url.clone()),
            auth_flow: args.auth_flow.or(f.auth_flow),
            client_id: args.client_id.clone().or_else(|| f.client_id.clone()),
            username: args.username.clone().or_else(|| f.username.clone()),
            jwt_key_file: path(&args.jwt_key_file, &f.jwt_key_file),
            jwt_audience: args.jwt_audience.clone().or_else(|| f.jwt_audience.clone()),
            client_secret_file: path(&args.client_secret_file, &f.client_secret_file),
            refresh_token_file: path(&args.refresh_token_file, &f.refresh_token_file),
            access_token_file: path(&args.access_token_file, &f.access_token_file),
            api_version: args.api_version.clone().or_else(|| f.api_version.clone()),
            batch_size: args.batch_size.or(f.batch_size),
            min_api_remaining: args
                .min_api_remaining
                .clone()
                .map(FloorSetting::Text)
                .or_else(|| f.min_api_remaining.clone()),
            retries: args.retries.or(f.retries),
            retry_delay_ms: args.retry_delay_ms.or(f.retry_delay_ms),
            timeout_secs: args.timeout_secs.or(f.timeout_secs),
            max_body_mb: args.max_body_mb.or(f.max_body_mb),
            max_run_secs: args.max_run_secs.or(f.max_run_secs),
            ca_file: path(&args.ca_file, &f.ca_file),
            api: args.api.or(f.api),
            bulk_threshold: args.bulk_threshold.or(f.bulk_threshold),
            max_cursors: args.max_cursors.or(f.max_cursors),
            pushdown: if args.no_pushdown { Some(false) } else { f.pushdown },
        }
    }

    /// Whether the table says which org to log in to, or how (an instance, a flow, a client id, a
    /// username, a key or a secret's file): `[salesforce]` is then an org of a run of several.
    /// Settings any org may share (the API version, timeouts, a CA file) do not make one.
    pub fn names_login(&self) -> bool {
        self.instance_url.is_some()
            || self.auth_flow.is_some()
            || self.client_id.is_some()
            || self.username.is_some()
            || self.jwt_key_file.is_some()
            || self.client_secret_file.is_some()
            || self.refresh_token_file.is_some()
            || self.access_token_file.is_some()
    }

    fn api_floor(&self) -> Result<ApiFloor, ConfigError> {
        ApiFloor::parse(
            &self.min_api_remaining.as_ref().map(FloorSetting::text).unwrap_or_else(|| DEFAULT_API_FLOOR.into()),
        )
    }
}

impl SalesforceConfig {
    /// `[salesforce]`'s org, with the flags over it.
    pub fn from_sources(args: &SalesforceArgs, file: &LoadedFile) -> Result<SalesforceConfig, ConfigError> {
        SalesforceConfig::from_table(args, &file.config.salesforce, file)
    }

    /// The org of one table of the file (`[salesforce]` or an `[orgs.NAME]`), with the flags over it.
    pub fn from_table(
        args: &SalesforceArgs,
        table: &FileSalesforce,
        file: &LoadedFile,
    ) -> Result<SalesforceConfig, ConfigError> {
        SalesforceConfig::build(FileSalesforce::merge_table(args, table, file), credentials)
    }

    /// An org logged in elsewhere (the Salesforce CLI's stored login): `credentials` from there,
    /// every other setting from the flags, else the defaults.
    pub fn with_credentials(args: &SalesforceArgs, credentials: Credentials) -> Result<SalesforceConfig, ConfigError> {
        let m = FileSalesforce::merge_table(args, &FileSalesforce::default(), &LoadedFile::default());
        SalesforceConfig::build(m, |_| Ok(credentials))
    }

    fn build(
        m: FileSalesforce,
        credentials: impl FnOnce(&FileSalesforce) -> Result<Credentials, ConfigError>,
    ) -> Result<SalesforceConfig, ConfigError> {
        let api_version = ApiVersion::parse(m.api_version.as_deref().unwrap_or(DEFAULT_API_VERSION))?;
        let batch_size = batch_size(m.batch_size)?;
        let retry = retry_policy(&m)?;
        let min_api_remaining = m.api_floor()?;
        let ca_pem = match &m.ca_file {
            None => None,
            Some(path) => {
                let pem = crate::files::read(path, crate::files::CA_BUNDLE)
                    .map_err(|e| invalid(format!("cannot read --ca-file {}: {e}", path.display())))?;
                match reqwest::Certificate::from_pem_bundle(&pem) {
                    Ok(certs) if !certs.is_empty() => {}
                    _ => {
                        return Err(invalid(format!(
                            "--ca-file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                            path.display()
                        )));
                    }
                }
                Some((path.clone(), pem))
            }
        };
        let credentials = credentials(&m)?;
        let http = HttpSettings { timeout: timeout(&m)?, ca_pem };
        let max_body = BodyLimit { bytes: max_body_mb(&m)? * BodyLimit::MIB, setting: "--max-body-mb" };
        let max_run = std::time::Duration::from_secs(max_run_secs(&m)?);
        let pull = pull_settings(&m, &api_version)?;
        Ok(SalesforceConfig {
            credentials,
            api_version,
            batch_size,
            retry,
            min_api_remaining,
            http,
            max_body,
            max_run,
            pull,
        })
    }
}

fn pull_settings(m: &FileSalesforce, version: &ApiVersion) -> Result<PullSettings, ConfigError> {
    let defaults = PullSettings::default();
    let max_cursors = m.max_cursors.unwrap_or(defaults.max_cursors);
    if !(1..=10).contains(&max_cursors) {
        return Err(invalid(format!(
            "--max-cursors must be between 1 and 10 (Salesforce's open cursors per user), got {max_cursors}"
        )));
    }
    let api = m.api.unwrap_or(defaults.api);
    let major: u32 = version.as_str().split('.').next().and_then(|v| v.parse().ok()).unwrap_or(0);
    if api == ApiChoice::Bulk && major < crate::salesforce::BULK_MIN_VERSION {
        return Err(invalid(format!(
            "--api bulk needs Bulk API 2.0 query jobs, which exist from API 47.0 on; --api-version is {version}"
        )));
    }
    Ok(PullSettings {
        api,
        bulk_threshold: m.bulk_threshold.unwrap_or(defaults.bulk_threshold),
        max_cursors,
        pushdown: m.pushdown.unwrap_or(defaults.pushdown),
    })
}

fn retry_policy(m: &FileSalesforce) -> Result<RetryPolicy, ConfigError> {
    let mut policy = RetryPolicy::default();
    if let Some(r) = m.retries {
        if r > 20 {
            return Err(invalid(format!("--retries must be between 0 and 20, got {r}")));
        }
        policy.retries = r;
    }
    if let Some(ms) = m.retry_delay_ms {
        policy.first_delay = std::time::Duration::from_millis(ms.min(60_000));
    }
    Ok(policy)
}

/// The time limit of one HTTP request.
fn timeout(m: &FileSalesforce) -> Result<std::time::Duration, ConfigError> {
    let t = m.timeout_secs.unwrap_or(120);
    if t == 0 || t > 3600 {
        return Err(invalid(format!("--timeout-secs must be between 1 and 3600, got {t}")));
    }
    Ok(std::time::Duration::from_secs(t))
}

fn max_body_mb(m: &FileSalesforce) -> Result<u64, ConfigError> {
    let n = m.max_body_mb.unwrap_or(DEFAULT_MAX_BODY_MB);
    if !(1..=4096).contains(&n) {
        return Err(invalid(format!("--max-body-mb must be between 1 and 4096, got {n}")));
    }
    Ok(n)
}

fn max_run_secs(m: &FileSalesforce) -> Result<u64, ConfigError> {
    let n = m.max_run_secs.unwrap_or(DEFAULT_MAX_RUN_SECS);
    if !(1..=7 * 24 * 3600).contains(&n) {
        return Err(invalid(format!("--max-run-secs must be between 1 and 604800 (a week), got {n}")));
    }
    Ok(n)
}

fn batch_size(given: Option<u32>) -> Result<u32, ConfigError> {
    let n = given.unwrap_or(DEFAULT_BATCH_SIZE);
    if !(200..=2000).contains(&n) {
        return Err(invalid(format!("--batch-size must be between 200 and 2000 (Salesforce's limits), got {n}")));
    }
    Ok(n)
}

fn require<'a>(value: &'a Option<String>, flag: &str, flow: &str) -> Result<&'a str, ConfigError> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty()).ok_or_else(|| invalid(format!("the {flow} needs {flag}")))
}

fn credentials(m: &FileSalesforce) -> Result<Credentials, ConfigError> {
    let client_secret = secret("SF_CLIENT_SECRET", "--client-secret-file", m.client_secret_file.clone())?;
    let refresh_token = secret("SF_REFRESH_TOKEN", "--refresh-token-file", m.refresh_token_file.clone())?;
    let access_token = secret("SF_ACCESS_TOKEN", "--access-token-file", m.access_token_file.clone())?;

    let flow = match m.auth_flow {
        Some(f) => f,
        None if m.jwt_key_file.is_some() => AuthFlow::Jwt,
        None if refresh_token.is_some() => AuthFlow::RefreshToken,
        None if client_secret.is_some() => AuthFlow::ClientCredentials,
        None if access_token.is_some() => AuthFlow::AccessToken,
        None => {
            return Err(invalid(
                "no Salesforce credentials: give --jwt-key-file (with --client-id and --username), \
                 SF_CLIENT_SECRET (with --client-id and --instance-url), SF_REFRESH_TOKEN (with --client-id), \
                 or SF_ACCESS_TOKEN (with --instance-url); see the README, \"Connect to your org\"",
            ));
        }
    };
    let login_url = endpoint_url("--login-url", m.login_url.as_deref().unwrap_or(DEFAULT_LOGIN_URL))?;
    let instance_url = m.instance_url.as_deref().map(|u| endpoint_url("--instance-url", u)).transpose()?;

    match flow {
        AuthFlow::Jwt => {
            let flow_name = "JWT bearer flow";
            let client_id = require(&m.client_id, "--client-id", flow_name)?.to_string();
            let username = require(&m.username, "--username", flow_name)?.to_string();
            let key_file = m
                .jwt_key_file
                .clone()
                .ok_or_else(|| invalid("the JWT bearer flow needs --jwt-key-file (the RS256 private key)"))?;
            let key = JwtKey::load(&key_file).map_err(|e| invalid(e.to_string()))?;
            let audience = match &m.jwt_audience {
                Some(a) => a.trim().trim_end_matches('/').to_string(),
                None if is_sandbox_host(&login_url) => SANDBOX_LOGIN_URL.to_string(),
                None => DEFAULT_LOGIN_URL.to_string(),
            };
            Ok(Credentials::Jwt { login_url, audience, client_id, username, key })
        }
        AuthFlow::ClientCredentials => {
            let flow_name = "client credentials flow";
            let client_id = require(&m.client_id, "--client-id", flow_name)?.to_string();
            let (client_secret, _) = client_secret.ok_or_else(|| {
                invalid(
                    "the client credentials flow needs the client secret: set SF_CLIENT_SECRET or --client-secret-file",
                )
            })?;
            // Salesforce accepts this grant only at the org's own My Domain.
            let domain = match (&instance_url, m.login_url.is_some()) {
                (Some(u), _) => u.clone(),
                (None, true) => login_url.clone(),
                (None, false) => {
                    return Err(invalid(
                        "the client credentials flow needs the org's My Domain URL: set --instance-url https://<mydomain>.my.salesforce.com",
                    ));
                }
            };
            if is_shared_login_host(&domain) {
                return Err(invalid(format!(
                    "the client credentials flow needs the org's My Domain URL (https://<mydomain>.my.salesforce.com), not {}",
                    domain.as_str().trim_end_matches('/')
                )));
            }
            Ok(Credentials::ClientCredentials { my_domain: domain, client_id, client_secret })
        }
        AuthFlow::RefreshToken => {
            let client_id = require(&m.client_id, "--client-id", "refresh token flow")?.to_string();
            let (refresh_token, _) = refresh_token.ok_or_else(|| {
                invalid("the refresh token flow needs the refresh token: set SF_REFRESH_TOKEN or --refresh-token-file")
            })?;
            let token_host = match (&instance_url, m.login_url.is_some()) {
                (Some(u), false) => u.clone(),
                _ => login_url,
            };
            Ok(Credentials::RefreshToken {
                login_url: token_host,
                client_id,
                client_secret: client_secret.map(|(s, _)| s),
                refresh_token,
            })
        }
        AuthFlow::AccessToken => {
            let (access_token, _) = access_token.ok_or_else(|| {
                invalid("the access token flow needs the token: set SF_ACCESS_TOKEN or --access-token-file")
            })?;
            let instance_url = instance_url.ok_or_else(|| {
                invalid("an access token needs --instance-url (the org it was issued for), e.g. https://acme.my.salesforce.com")
            })?;
            Ok(Credentials::AccessToken { instance_url, access_token })
        }
    }
}

/// Where a report run writes: an exact folder (`--out`), or a new dated run of the org under a
/// reviews folder (`--reviews`, config `reviews_dir`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Out(PathBuf),
    Reviews { root: PathBuf, keep: Option<usize>, org_name: Option<String> },
}

impl Destination {
    /// `--out` wins (it keeps its exact-folder meaning), then `--reviews`, then the file's `reviews_dir`.
    pub fn from_sources(
        out: Option<&Path>,
        args: &DeliveryArgs,
        file: &LoadedFile,
    ) -> Result<Destination, ConfigError> {
        let f = &file.config.output;
        let org_name = args.org_name.clone().or_else(|| f.org_name.clone());
        if let Some(name) = &org_name {
            crate::deliver::reviews::check_org_name(name).map_err(|e| invalid(format!("--org-name {e}")))?;
        }
        let keep = args.keep.or(f.keep);
        if keep == Some(0) {
            return Err(invalid("--keep must be at least 1: the run just written is always kept"));
        }
        if let Some(out) = out {
            if args.keep.is_some() {
                return Err(invalid("--keep applies to --reviews runs; --out replaces one folder"));
            }
            return Ok(Destination::Out(out.to_path_buf()));
        }
        let root = args.reviews.clone().or_else(|| f.reviews_dir.as_ref().map(|p| file.resolve(p)));
        match root {
            Some(root) => Ok(Destination::Reviews { root, keep, org_name }),
            None => Err(invalid(
                "say where the reports go: --out DIR (one folder, replaced), or --reviews DIR (a dated folder per run; \
                 reviews_dir under [output] in the config file)",
            )),
        }
    }
}

/// The subject when none is configured.
pub const DEFAULT_SUBJECT: &str = "Certinia access review {org}: {findings} findings as of {as_of}";
/// The largest message sent, in bytes, when none is configured (10 MiB).
pub const DEFAULT_EMAIL_MAX_BYTES: u64 = 10 * 1024 * 1024;
/// The placeholders a subject may hold.
pub const SUBJECT_FIELDS: [&str; 3] = ["{org}", "{as_of}", "{findings}"];

/// The email, validated: who receives it, from whom, and through which server.
#[derive(Debug)]
pub struct EmailConfig {
    pub to: Vec<lettre::message::Mailbox>,
    pub from: lettre::message::Mailbox,
    pub subject: String,
    pub smtp: SmtpConfig,
    pub max_bytes: u64,
    pub on_failure: bool,
}

/// The SMTP server and how to log in to it.
#[derive(Debug)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// The login name and password, and where the password came from.
    pub login: Option<(String, SecretString, SecretSource)>,
    /// Extra trusted CA certificates: the file and its PEM.
    pub ca_pem: Option<(PathBuf, Vec<u8>)>,
}

impl EmailConfig {
    /// The email settings of a report run or of `send`; None when no recipient is configured (no
    /// email). `--email-on-failure` without a recipient is a mistake, not a silent no-op.
    pub fn from_sources(
        args: &EmailArgs,
        on_failure: bool,
        file: &LoadedFile,
    ) -> Result<Option<EmailConfig>, ConfigError> {
        let f = &file.config.email;
        let on_failure = on_failure || f.on_failure.unwrap_or(false);
        let to: Vec<String> = args
            .email_to
            .clone()
            .or_else(|| f.to.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty())
            .collect();
        if to.is_empty() {
            if on_failure {
                return Err(invalid("--email-on-failure needs --email-to (or to = [...] under [email])"));
            }
            return Ok(None);
        }
        let mailbox = |flag: &str, text: &str| -> Result<lettre::message::Mailbox, ConfigError> {
            text.parse()
                .map_err(|e| invalid(format!("{flag} {:?} is not an email address: {e}", crate::text::visible(text))))
        };
        let to = to.iter().map(|a| mailbox("--email-to", a)).collect::<Result<Vec<_>, _>>()?;
        let from = args.email_from.clone().or_else(|| f.from.clone()).ok_or_else(|| {
            invalid("sending email needs --email-from (or from = \"...\" under [email]): the sender's address")
        })?;
        let from = mailbox("--email-from", from.trim())?;
        let subject =
            args.email_subject.clone().or_else(|| f.subject.clone()).unwrap_or_else(|| DEFAULT_SUBJECT.into());
        check_subject(&subject)?;
        let host = args.smtp_host.clone().or_else(|| f.smtp_host.clone()).map(|h| h.trim().to_string());
        let host = host
            .filter(|h| !h.is_empty())
            .ok_or_else(|| invalid("sending email needs --smtp-host (or smtp_host under [email]): the SMTP server"))?;
        let tls = args.smtp_tls.or(f.smtp_tls).unwrap_or(SmtpTls::Starttls);
        if tls == SmtpTls::None && !crate::endpoint::is_loopback_host(&host) {
            return Err(invalid(format!(
                "--smtp-tls none sends the message and the password in clear: it is accepted only for a server on \
                 this machine (127.0.0.1, ::1, localhost), not {host}; use starttls or implicit"
            )));
        }
        let port = args.smtp_port.or(f.smtp_port).unwrap_or(match tls {
            SmtpTls::Starttls => 587,
            SmtpTls::Implicit => 465,
            SmtpTls::None => 25,
        });
        let password_file =
            args.smtp_password_file.clone().or_else(|| f.smtp_password_file.as_ref().map(|p| file.resolve(p)));
        let password = secret("ACCESS_AUDIT_SMTP_PASSWORD", "--smtp-password-file", password_file)?;
        let username = args.smtp_username.clone().or_else(|| f.smtp_username.clone()).filter(|u| !u.trim().is_empty());
        let login = match (username, password) {
            (Some(user), Some((password, source))) => Some((user.trim().to_string(), password, source)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(invalid(
                    "--smtp-username needs the password: set ACCESS_AUDIT_SMTP_PASSWORD or --smtp-password-file",
                ));
            }
            (None, Some((_, source))) => {
                return Err(invalid(format!("an SMTP password is set ({source}) but no --smtp-username")));
            }
        };
        let ca_file = args.smtp_ca_file.clone().or_else(|| f.smtp_ca_file.as_ref().map(|p| file.resolve(p)));
        let ca_pem = match ca_file {
            None => None,
            Some(path) => {
                let pem = crate::files::read(&path, crate::files::CA_BUNDLE)
                    .map_err(|e| invalid(format!("cannot read --smtp-ca-file {}: {e}", path.display())))?;
                use rustls::pki_types::{CertificateDer, pem::PemObject};
                let certs = CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>();
                if !certs.is_ok_and(|c| !c.is_empty()) {
                    return Err(invalid(format!(
                        "--smtp-ca-file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                        path.display()
                    )));
                }
                Some((path, pem))
            }
        };
        let max_bytes = args.email_max_bytes.or(f.max_bytes).unwrap_or(DEFAULT_EMAIL_MAX_BYTES);
        if max_bytes < 64 * 1024 {
            return Err(invalid(format!("--email-max-bytes must be at least 65536 (64 KiB), got {max_bytes}")));
        }
        Ok(Some(EmailConfig {
            to,
            from,
            subject,
            smtp: SmtpConfig { host, port, tls, login, ca_pem },
            max_bytes,
            on_failure,
        }))
    }
}

/// A subject template may hold only `{org}`, `{as_of}` and `{findings}`, on one line.
fn check_subject(subject: &str) -> Result<(), ConfigError> {
    if subject.trim().is_empty() || subject.chars().any(char::is_control) {
        return Err(invalid("--email-subject must be one line of text"));
    }
    let mut rest = subject;
    while let Some(open) = rest.find('{') {
        let field = rest[open..].find('}').map(|close| &rest[open..=open + close]);
        match field {
            Some(field) if SUBJECT_FIELDS.contains(&field) => rest = &rest[open + field.len()..],
            _ => {
                return Err(invalid(format!(
                    "--email-subject {subject:?}: only {} can be filled in",
                    SUBJECT_FIELDS.join(", ")
                )));
            }
        }
    }
    Ok(())
}

/// What `access-audit config` prints: every effective value as valid TOML, each with where it
/// came from in a comment, secrets only by source. Fed back with `--config`, the output gives the
/// same effective configuration: every path is absolute, every value explicit where the file
/// or a flag set it (or where a default cannot change what the file means).
///
/// Flags apply to the org a run would log in to: `target` (a name of `[orgs.NAME]`), else
/// `[salesforce]`'s org; flags that do not say which org or how to log in (the API version,
/// timeouts, a CA file) apply to every org, as they do in a run of several.
pub fn describe(
    args_sf: &SalesforceArgs,
    args_rules: &RuleArgs,
    target: Option<&str>,
    file: &LoadedFile,
) -> Result<String, ConfigError> {
    let mut out = Described::default();
    out.comment("The effective configuration of access-audit: what a run would use, and where each value came from.");
    out.comment("It is TOML: saved as a file and passed with --config, it gives the same settings.");
    out.comment("Secrets are never printed, only where they come from.");
    let shown = file.path.as_deref().map(absolute).map(|p| p.display().to_string());
    out.comment(&format!("configuration file: {}", shown.as_deref().unwrap_or("(none)")));
    let targets_default = target.is_none_or(|t| !file.config.orgs.contains_key(t));
    let shared = shared_flags(args_sf);

    out.table("salesforce");
    let args = if targets_default { args_sf } else { &shared };
    describe_connection(&mut out, args, &file.config.salesforce, file, None)?;

    out.table("rules");
    let rules = Rules::from_sources(args_rules, file)?;
    let origin = |setting: &Setting, given: bool, in_file: bool| -> String {
        if given {
            setting.given_origin(&args_rules.from_env).to_string()
        } else if in_file {
            format!("{} in {}", setting.key, file.shown())
        } else {
            "default".to_string()
        }
    };
    let f = &file.config.rules;
    let list = |v: &[String]| toml::Value::Array(v.iter().map(|s| toml::Value::String(s.clone())).collect());
    let patterns = |r: &Rules| r.name_patterns.iter().map(|p| p.as_str().to_string()).collect::<Vec<_>>();
    out.set(
        "inactive_days",
        toml_int(rules.inactive_days.into()),
        &origin(&INACTIVE_DAYS, args_rules.inactive_days.is_some(), f.inactive_days.is_some()),
    );
    out.set(
        "grace_days",
        toml_int(rules.grace_days.into()),
        &origin(&GRACE_DAYS, args_rules.grace_days.is_some(), f.grace_days.is_some()),
    );
    out.set(
        "user_types",
        list(&rules.user_types),
        &origin(&USER_TYPES_SETTING, args_rules.user_types.is_some(), f.user_types.is_some()),
    );
    out.set(
        "namespaces",
        list(&rules.namespaces),
        &origin(&NAMESPACES, args_rules.namespaces.is_some(), f.namespaces.is_some()),
    );
    out.set(
        "name_patterns",
        list(&patterns(&rules)),
        &origin(&NAME_PATTERNS, args_rules.name_patterns.is_some(), f.name_patterns.is_some()),
    );
    match &rules.roster {
        Some(p) => out.set(
            "roster",
            path_value(p),
            if args_rules.roster.is_some() { "--roster (or ACCESS_AUDIT_ROSTER)" } else { "roster in the file" },
        ),
        None => out.unset("roster", "no roster"),
    }
    match &rules.exclusions {
        Some(p) => out.set(
            "exclusions",
            path_value(p),
            if args_rules.exclusions.is_some() {
                "--exclusions (or ACCESS_AUDIT_EXCLUSIONS)"
            } else {
                "exclusions in the file"
            },
        ),
        None => out.unset("exclusions", "no exclusions file"),
    }
    let classes: Vec<String> = rules.excluded_classes.iter().map(|c| c.label().to_string()).collect();
    out.set(
        "exclude_classes",
        list(&classes),
        &origin(&EXCLUDE_CLASSES, args_rules.exclude_classes.is_some(), f.exclude_classes.is_some()),
    );

    for (name, org) in &file.config.orgs {
        out.table(&format!("orgs.{}", table_key(name)));
        let args = if target == Some(name.as_str()) { args_sf } else { &shared };
        describe_connection(&mut out, args, &org.salesforce, file, Some(name))?;
        // The org's own rules: the keys its table sets (each as the run would apply it).
        let effective = Rules::for_org(args_rules, file, Some(name))?;
        if let Some(r) = &org.rules {
            out.table(&format!("orgs.{}.rules", table_key(name)));
            let here = |key: &str| format!("{key} under [orgs.{name}.rules] in {}", file.shown());
            let given = |set: bool, key: &str| {
                if set { format!("--{} (or its environment variable)", key.replace('_', "-")) } else { here(key) }
            };
            if r.inactive_days.is_some() {
                out.set(
                    "inactive_days",
                    toml_int(effective.inactive_days.into()),
                    &given(args_rules.inactive_days.is_some(), "inactive_days"),
                );
            }
            if r.grace_days.is_some() {
                out.set(
                    "grace_days",
                    toml_int(effective.grace_days.into()),
                    &given(args_rules.grace_days.is_some(), "grace_days"),
                );
            }
            if r.user_types.is_some() {
                out.set(
                    "user_types",
                    list(&effective.user_types),
                    &given(args_rules.user_types.is_some(), "user_types"),
                );
            }
            if r.namespaces.is_some() {
                out.set(
                    "namespaces",
                    list(&effective.namespaces),
                    &given(args_rules.namespaces.is_some(), "namespaces"),
                );
            }
            if r.name_patterns.is_some() {
                out.set(
                    "name_patterns",
                    list(&patterns(&effective)),
                    &given(args_rules.name_patterns.is_some(), "name_patterns"),
                );
            }
            if let (Some(_), Some(p)) = (&r.roster, &effective.roster) {
                out.set("roster", path_value(p), &given(args_rules.roster.is_some(), "roster"));
            }
            if let (Some(_), Some(p)) = (&r.exclusions, &effective.exclusions) {
                out.set("exclusions", path_value(p), &given(args_rules.exclusions.is_some(), "exclusions"));
            }
            if r.exclude_classes.is_some() {
                let classes: Vec<String> = effective.excluded_classes.iter().map(|c| c.label().to_string()).collect();
                out.set(
                    "exclude_classes",
                    list(&classes),
                    &given(args_rules.exclude_classes.is_some(), "exclude_classes"),
                );
            }
        }
    }

    let run = &file.config.run;
    if !run.is_unset() {
        out.table("run");
        let here = |key: &str| format!("{key} under [run] in {}", file.shown());
        if let Some(orgs) = &run.orgs {
            out.set("orgs", list(orgs), &here("orgs"));
        }
        if let Some(n) = run.org_concurrency {
            out.set("org_concurrency", toml_int(n as u64), &here("org_concurrency"));
        }
    }
    let resolved = |p: &PathBuf| path_value(&file.resolve(p));
    describe_table(&mut out, "output", &file.config.output, file, &["reviews_dir"], &resolved)?;
    describe_table(&mut out, "email", &file.config.email, file, &["smtp_password_file", "smtp_ca_file"], &resolved)?;
    describe_seat_costs(&mut out, &rules.seat_costs, &args_rules.seat_costs, file);
    apps::describe(&mut out, file)?;
    Ok(out.text)
}

/// `[seat_costs]` as the run applies it: the file's keys, each `--seat-cost` over them (keys
/// lower-cased, as they are compared).
fn describe_seat_costs(out: &mut Described, costs: &SeatCosts, flags: &[String], file: &LoadedFile) {
    if costs.is_empty() {
        return;
    }
    out.table("seat_costs");
    for (key, amount) in &costs.costs {
        let flagged =
            flags.iter().any(|f| f.split_once('=').and_then(|(k, _)| seat_key(k, f).ok()).as_ref() == Some(key));
        let origin = if flagged {
            format!("--seat-cost {key}=…")
        } else {
            format!("{key} under [seat_costs] in {}", file.shown())
        };
        out.set(&table_key(key), toml::Value::Float(*amount), &origin);
    }
}

/// The flags that apply to every org: those that say neither which org nor how to log in.
fn shared_flags(args: &SalesforceArgs) -> SalesforceArgs {
    SalesforceArgs {
        api_version: args.api_version.clone(),
        batch_size: args.batch_size,
        min_api_remaining: args.min_api_remaining.clone(),
        retries: args.retries,
        retry_delay_ms: args.retry_delay_ms,
        timeout_secs: args.timeout_secs,
        max_body_mb: args.max_body_mb,
        max_run_secs: args.max_run_secs,
        ca_file: args.ca_file.clone(),
        ..SalesforceArgs::default()
    }
}

/// A table of the file written back as it is, its paths resolved: `[output]`, `[email]`.
fn describe_table<T: Serialize>(
    out: &mut Described,
    name: &str,
    table: &T,
    file: &LoadedFile,
    paths: &[&str],
    resolved: &dyn Fn(&PathBuf) -> toml::Value,
) -> Result<(), ConfigError> {
    let value = toml::Value::try_from(table).map_err(|e| invalid(format!("[{name}]: {e}")))?;
    let Some(keys) = value.as_table().filter(|t| !t.is_empty()) else { return Ok(()) };
    out.table(name);
    for (key, v) in keys {
        let v = match v.as_str() {
            Some(p) if paths.contains(&key.as_str()) => resolved(&PathBuf::from(p)),
            _ => v.clone(),
        };
        out.set(key, v, &format!("{key} under [{name}] in {}", file.shown()));
    }
    Ok(())
}

/// One org's connection settings: the table's values (with the flags over them), the defaults
/// where nothing is set, and where the secrets come from.
fn describe_connection(
    out: &mut Described,
    args: &SalesforceArgs,
    table: &FileSalesforce,
    file: &LoadedFile,
    org: Option<&str>,
) -> Result<(), ConfigError> {
    let m = FileSalesforce::merge_table(args, table, file);
    let whence = |given: bool, in_table: bool, key: &str| -> String {
        match (given, org) {
            (true, _) => format!("--{} (or its environment variable)", key.replace('_', "-")),
            (false, _) if !in_table => "default".to_string(),
            (false, Some(org)) => format!("{key} under [orgs.{org}] in {}", file.shown()),
            (false, None) => format!("{key} in {}", file.shown()),
        }
    };
    let text = |v: &str| toml::Value::String(v.to_string());
    // Where the setting `$key` came from.
    macro_rules! origin {
        ($key:ident) => {
            whence(args.$key.is_some(), table.$key.is_some(), stringify!($key))
        };
    }
    // A setting with a value (defaults included).
    macro_rules! effective {
        ($key:ident, $value:expr) => {
            out.set(stringify!($key), $value, &origin!($key))
        };
    }
    // A setting that may be unset: a comment saying `$unset` then.
    macro_rules! optional {
        ($key:ident, $value:expr, $unset:expr) => {
            match &m.$key {
                Some(v) => effective!($key, $value(v)),
                None => out.unset(stringify!($key), $unset),
            }
        };
    }
    optional!(instance_url, |v: &String| text(v), "not set");
    optional!(login_url, |v: &String| text(v), &format!("the default, {DEFAULT_LOGIN_URL}"));
    match (m.auth_flow, credentials(&m)) {
        (Some(flow), usable) => {
            let name = toml::Value::try_from(flow).map_err(|e| invalid(e.to_string()))?;
            let origin = match usable {
                Ok(_) => origin!(auth_flow),
                Err(e) => format!("{}; not usable yet: {e}", origin!(auth_flow)),
            };
            out.set("auth_flow", name, &origin);
        }
        (None, Ok(c)) => out.unset("auth_flow", &format!("{}, inferred from the credentials given", c.flow_name())),
        (None, Err(e)) => out.unset("auth_flow", &format!("no usable login yet: {e}")),
    }
    optional!(client_id, |v: &String| text(v), "not set");
    optional!(username, |v: &String| text(v), "not set");
    optional!(jwt_key_file, |v: &PathBuf| path_value(v), "not set");
    optional!(jwt_audience, |v: &String| text(v), "follows login_url");
    effective!(api_version, text(ApiVersion::parse(m.api_version.as_deref().unwrap_or(DEFAULT_API_VERSION))?.as_str()));
    effective!(batch_size, toml_int(batch_size(m.batch_size)?.into()));
    effective!(min_api_remaining, text(&m.api_floor()?.to_string()));
    let retry = retry_policy(&m)?;
    effective!(retries, toml_int(retry.retries.into()));
    effective!(retry_delay_ms, toml_int(u64::try_from(retry.first_delay.as_millis()).unwrap_or(u64::MAX)));
    effective!(timeout_secs, toml_int(timeout(&m)?.as_secs()));
    effective!(max_body_mb, toml_int(max_body_mb(&m)?));
    effective!(max_run_secs, toml_int(max_run_secs(&m)?));
    let version = ApiVersion::parse(m.api_version.as_deref().unwrap_or(DEFAULT_API_VERSION))?;
    let pull = pull_settings(&m, &version)?;
    effective!(api, toml::Value::try_from(pull.api).map_err(|e| invalid(e.to_string()))?);
    effective!(bulk_threshold, toml_int(pull.bulk_threshold));
    effective!(max_cursors, toml_int(pull.max_cursors.into()));
    let pushdown_origin = if args.no_pushdown {
        "--no-pushdown".to_string()
    } else {
        whence(false, table.pushdown.is_some(), "pushdown")
    };
    out.set("pushdown", toml::Value::Boolean(pull.pushdown), &pushdown_origin);
    optional!(ca_file, |v: &PathBuf| path_value(v), "not set");
    for (name, env, key, file_path, in_table, given) in [
        (
            "client secret",
            "SF_CLIENT_SECRET",
            "client_secret_file",
            &m.client_secret_file,
            table.client_secret_file.is_some(),
            args.client_secret_file.is_some(),
        ),
        (
            "refresh token",
            "SF_REFRESH_TOKEN",
            "refresh_token_file",
            &m.refresh_token_file,
            table.refresh_token_file.is_some(),
            args.refresh_token_file.is_some(),
        ),
        (
            "access token",
            "SF_ACCESS_TOKEN",
            "access_token_file",
            &m.access_token_file,
            table.access_token_file.is_some(),
            args.access_token_file.is_some(),
        ),
    ] {
        if let Some(p) = file_path {
            out.set(key, path_value(p), &format!("{name}: {}", whence(given, in_table, key)));
        } else if std::env::var(env).is_ok_and(|v| !v.trim().is_empty()) {
            out.comment(&format!("{name}: environment variable {env}"));
        } else {
            out.comment(&format!("{name}: not set"));
        }
    }
    Ok(())
}

/// A count as a TOML integer (TOML's integers are signed 64-bit).
fn toml_int(n: u64) -> toml::Value {
    toml::Value::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

/// A path as TOML text, absolute, so that the output means the same wherever it is saved.
fn path_value(p: &Path) -> toml::Value {
    toml::Value::String(absolute(p).display().to_string())
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// A table name's key: bare when TOML allows it, else quoted.
fn table_key(name: &str) -> String {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        name.to_string()
    } else {
        toml::Value::String(name.to_string()).to_string()
    }
}

/// The text of [`describe`], built line by line.
#[derive(Default)]
struct Described {
    text: String,
}

impl Described {
    fn comment(&mut self, line: &str) {
        self.text.push_str(&format!("# {}\n", one_line(line)));
    }

    fn table(&mut self, name: &str) {
        self.text.push_str(&format!("\n[{name}]\n"));
    }

    /// `key = value  # origin`.
    fn set(&mut self, key: &str, value: toml::Value, origin: &str) {
        let line = format!("{key} = {value}");
        self.text.push_str(&format!("{line:<44} # {}\n", one_line(origin)));
    }

    /// A setting with no value: a comment, so that the output stays valid TOML.
    fn unset(&mut self, key: &str, why: &str) {
        self.comment(&format!("{key}: {why}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_version_forms() {
        assert_eq!(ApiVersion::parse("62.0").unwrap().as_str(), "62.0");
        assert_eq!(ApiVersion::parse("v58.0").unwrap().as_str(), "58.0");
        assert_eq!(ApiVersion::parse("45").unwrap().as_str(), "45.0");
        assert!(ApiVersion::parse("sixty").is_err());
        assert!(ApiVersion::parse("19.0").is_err());
    }

    #[test]
    fn api_floor_forms() {
        assert_eq!(ApiFloor::parse("5%").unwrap().requests(15_000), 750);
        assert_eq!(ApiFloor::parse("2000").unwrap().requests(15_000), 2000);
        assert_eq!(ApiFloor::parse("0.5 %").unwrap().requests(1000), 5);
        assert!(ApiFloor::parse("0").unwrap().is_off());
        assert!(ApiFloor::parse("0%").unwrap().is_off());
        assert!(ApiFloor::parse("lots").is_err());
        assert!(ApiFloor::parse("120%").is_err());
    }

    #[test]
    fn as_of_forms() {
        assert_eq!(as_of(Some("2026-10-01T00:00:00Z")).unwrap().to_rfc3339(), "2026-10-01T00:00:00+00:00");
        assert_eq!(as_of(Some("2026-10-01T02:00:00+02:00")).unwrap().to_rfc3339(), "2026-10-01T00:00:00+00:00");
        assert_eq!(as_of(Some("2026-10-01")).unwrap().to_rfc3339(), "2026-10-01T00:00:00+00:00");
        assert!(as_of(Some("last tuesday")).is_err());
        assert!(as_of(None).is_ok());
    }

    #[test]
    fn default_rules_follow_reports_md() {
        let rules = Rules::from_sources(&RuleArgs::default(), &LoadedFile::default()).unwrap();
        assert_eq!(rules.inactive_days, 90);
        assert_eq!(rules.grace_days, 14);
        assert_eq!(rules.user_types, vec!["Standard"]);
        assert_eq!(rules.namespaces.len(), 16);
        assert!(rules.namespaces.contains(&"scmc".to_string()));
        let re = &rules.name_patterns[0];
        for yes in
            ["PSA User", "FF-PSA Full User", "PSA_Timecard_Entry", "Certinia - PSA - Resource", "FinancialForce Admin"]
        {
            assert!(re.is_match(yes), "{yes}");
        }
        for no in ["Capsacorp", "Staffa", "PSACreateProjects", "Accounting"] {
            assert!(!re.is_match(no), "{no}");
        }
    }

    #[test]
    fn file_values_fill_gaps_and_flags_win() {
        let file = LoadedFile {
            path: Some(PathBuf::from("/etc/aa/access-audit.toml")),
            config: toml::from_str("[rules]\ninactive_days = 30\ngrace_days = 7\nroster = \"roster.csv\"\n").unwrap(),
        };
        let args = RuleArgs { inactive_days: Some(45), ..Default::default() };
        let rules = Rules::from_sources(&args, &file).unwrap();
        assert_eq!(rules.inactive_days, 45);
        assert_eq!(rules.grace_days, 7);
        assert_eq!(rules.roster, Some(PathBuf::from("/etc/aa/roster.csv")));
    }

    #[test]
    fn unknown_keys_are_errors() {
        let e = toml::from_str::<FileConfig>("[rules]\ninactive_dayz = 3\n").unwrap_err();
        assert!(e.to_string().contains("inactive_dayz"));
    }

    fn rules_with(args: RuleArgs) -> Result<Rules, String> {
        Rules::from_sources(&args, &LoadedFile::default()).map_err(|e| e.to_string())
    }

    fn strings(items: &[&str]) -> Option<Vec<String>> {
        Some(items.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn an_empty_certinia_definition_is_refused() {
        for args in [
            RuleArgs { namespaces: strings(&[]), ..Default::default() },
            RuleArgs { namespaces: strings(&["", " "]), ..Default::default() },
            RuleArgs { name_patterns: strings(&[]), ..Default::default() },
            RuleArgs { name_patterns: strings(&[""]), ..Default::default() },
            RuleArgs { name_patterns: strings(&["psa", "  "]), ..Default::default() },
        ] {
            let e = rules_with(args.clone()).unwrap_err();
            assert!(e.contains("empty"), "{args:?}: {e}");
        }
        // Patterns that match the empty text would match every name.
        for p in ["x?", ".*", "|psa", "^$", "(?i)(psa)*"] {
            let e = rules_with(RuleArgs { name_patterns: strings(&[p]), ..Default::default() }).unwrap_err();
            assert!(e.contains("matches the empty text"), "{p}: {e}");
        }
        // A trailing comma is not an empty list.
        let rules = rules_with(RuleArgs { namespaces: strings(&["PSE", "", "c2g", "pse"]), ..Default::default() });
        assert_eq!(rules.unwrap().namespaces, ["pse", "c2g"]);
    }

    #[test]
    fn namespaces_must_look_like_prefixes() {
        for bad in ["pse c2g", "1pse", "ps-e", "pse_", "ff__x", "abcdefghijklmnop"] {
            let e = rules_with(RuleArgs { namespaces: strings(&[bad]), ..Default::default() }).unwrap_err();
            assert!(e.contains("is not a namespace prefix"), "{bad}: {e}");
        }
        for good in ["pse", "SCMC", "ffps_po", "ffc_statex", "a1", "abcdefghijklmno"] {
            assert!(rules_with(RuleArgs { namespaces: strings(&[good]), ..Default::default() }).is_ok(), "{good}");
        }
    }

    #[test]
    fn user_types_are_the_documented_ones_in_any_case() {
        let rules = rules_with(RuleArgs {
            user_types: strings(&["standard", "POWERPARTNER", "Standard"]),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(rules.user_types, ["Standard", "PowerPartner"]);
        let e = rules_with(RuleArgs { user_types: strings(&["Standard", "Bogus"]), ..Default::default() }).unwrap_err();
        assert!(e.contains("\"Bogus\" is not a Salesforce UserType"), "{e}");
        for valid in USER_TYPES {
            assert!(e.contains(valid), "{e}");
        }
        let e = rules_with(RuleArgs { user_types: strings(&[" "]), ..Default::default() }).unwrap_err();
        assert!(e.contains("--user-types is empty"), "{e}");
    }

    #[test]
    fn messages_name_where_the_value_came_from() {
        let e = rules_with(RuleArgs { inactive_days: Some(0), ..Default::default() }).unwrap_err();
        assert_eq!(e, "--inactive-days must be between 1 and 36500, got 0");
        let from_env = FromEnv(["inactive_days".to_string()].into());
        let e = rules_with(RuleArgs { inactive_days: Some(0), from_env, ..Default::default() }).unwrap_err();
        assert_eq!(e, "ACCESS_AUDIT_INACTIVE_DAYS must be between 1 and 36500, got 0");
        let file = LoadedFile {
            path: Some(PathBuf::from("/etc/aa/access-audit.toml")),
            config: toml::from_str("[rules]\ninactive_days = 0\ngrace_days = 40000\n").unwrap(),
        };
        let e = Rules::from_sources(&RuleArgs::default(), &file).unwrap_err().to_string();
        assert_eq!(e, "inactive_days in /etc/aa/access-audit.toml must be between 1 and 36500, got 0");
        let args = RuleArgs { inactive_days: Some(30), ..Default::default() };
        let e = Rules::from_sources(&args, &file).unwrap_err().to_string();
        assert_eq!(e, "grace_days in /etc/aa/access-audit.toml must be between 0 and 36500, got 40000");
        let file = LoadedFile {
            path: Some(PathBuf::from("access-audit.toml")),
            config: toml::from_str("[rules]\nnamespaces = []\n").unwrap(),
        };
        let e = Rules::from_sources(&RuleArgs::default(), &file).unwrap_err().to_string();
        assert!(e.starts_with("namespaces in access-audit.toml is empty"), "{e}");
    }

    #[test]
    fn as_of_lies_between_2000_and_a_day_after_now() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z").unwrap().to_utc();
        let at = |s: &str, allow: bool| {
            let args = AuditArgs { as_of: Some(s.to_string()), allow_future_as_of: allow, ..Default::default() };
            as_of_checked(&args, now).map(|t| t.to_rfc3339()).map_err(|e| e.to_string())
        };
        assert_eq!(at("2000-01-01", false).unwrap(), "2000-01-01T00:00:00+00:00");
        assert_eq!(at("2026-11-28T10:00:00Z", false).unwrap(), "2026-11-28T10:00:00+00:00", "one day after now");
        let e = at("1999-12-31T23:59:59Z", false).unwrap_err();
        assert!(e.starts_with("--as-of 1999-12-31T23:59:59Z is before 2000-01-01"), "{e}");
        assert!(at("0001-01-01", true).unwrap_err().contains("before 2000-01-01"), "the flag allows the future only");
        let e = at("2026-11-28T10:00:01Z", false).unwrap_err();
        assert!(e.contains("more than one day after now (2026-11-27T10:00:00Z)"), "{e}");
        assert!(e.contains("--allow-future-as-of"), "{e}");
        assert_eq!(at("9999-12-31", true).unwrap(), "9999-12-31T00:00:00+00:00");
        let args = AuditArgs {
            as_of: Some("2100-01-01".into()),
            rules: RuleArgs { from_env: FromEnv(["as_of".to_string()].into()), ..Default::default() },
            ..Default::default()
        };
        let e = as_of_checked(&args, now).unwrap_err().to_string();
        assert!(e.starts_with("ACCESS_AUDIT_AS_OF 2100-01-01T00:00:00Z is more than one day"), "{e}");
        assert_eq!(as_of_checked(&AuditArgs::default(), now).unwrap(), now, "default: now");
    }

    #[test]
    fn parser_messages_carry_no_raw_control_character() {
        let e = toml::from_str::<FileConfig>("[rules]\ninactive_days = \"\u{0}\u{1b}[31m\"\n").unwrap_err();
        let line = one_line(&e.to_string());
        assert!(!line.chars().any(char::is_control), "{line:?}");
        assert!(line.contains("\u{2400}\u{241B}[31m"), "{line:?}");
    }

    #[test]
    fn bad_pattern_is_one_line() {
        let args = RuleArgs { name_patterns: Some(vec!["(unclosed".into()]), ..Default::default() };
        let e = Rules::from_sources(&args, &LoadedFile::default()).unwrap_err().to_string();
        assert!(e.contains("--name-pattern"), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }
}
