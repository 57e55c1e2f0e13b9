//! The command line, and nothing else.
//!
//! clap stays at the edge: this module declares the flags (their help is written
//! once, here, as doc comments) and `config::Config::from_cli` turns them into a
//! validated configuration. No module after that imports clap.
//!
//! Every option is `Option<_>` so that the configuration file can fill what the
//! command line leaves out: flag or environment variable first, then the file,
//! then the built-in default. Secrets are never options: they come from
//! environment variables or from files named here.

use std::collections::BTreeSet;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Secrets are never command-line arguments (a process listing would show them).
They come from environment variables or files:
  SF_CLIENT_SECRET   or --client-secret-file   (client credentials, refresh token flows)
  SF_REFRESH_TOKEN   or --refresh-token-file   (refresh token flow)
  SF_ACCESS_TOKEN    or --access-token-file    (a token you already have, e.g. from `sf org display`)
  --jwt-key-file                               (JWT bearer flow: the RS256 private key)
  ACCESS_AUDIT_APP_<NAME>_SECRET or client_secret_file, ACCESS_AUDIT_APP_<NAME>_TOKEN or token_file
                                               (an application's [apps.NAME] table, with --app NAME)

Examples:
  access-audit init                                    # a commented starter ./access-audit.toml
  access-audit run -o my-sandbox --out reports         # an org the sf CLI is logged in to
  access-audit run --all-orgs --reviews /srv/reviews   # every org of the config file
  access-audit pull --out snapshot                     # settings from ./access-audit.toml
  access-audit report --snapshot fixtures/demo-org --out reports
  access-audit run --out reports --as-of 2026-10-01T00:00:00Z
  SF_ACCESS_TOKEN=... access-audit pull --instance-url https://acme.my.salesforce.com --out snapshot
  access-audit verify snapshot
  access-audit review reports                          # read the completed workbook back
  access-audit doctor -o my-sandbox                    # can the login read all the audit needs?";

/// Audit who can reach the Certinia (FinancialForce) apps in a Salesforce org.
///
/// Pulls every User, permission set assignment, permission set group, package
/// and permission set licence, PSA permission control and resource, and
/// Accounting user company (REST or Bulk API 2.0), keeps the pull as a
/// verifiable snapshot, and reports inactive users, users who never logged in,
/// deactivated users who keep Certinia access, active users who lack it, and
/// the seats that could be reclaimed.
#[derive(Debug, Parser)]
#[command(name = "access-audit", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Configuration file (TOML). Default: ./access-audit.toml when it exists.
    #[arg(long, global = true, value_name = "FILE", env = "ACCESS_AUDIT_CONFIG", hide_env_values = true)]
    pub config: Option<PathBuf>,

    /// Say what is happening (requests, pages, timings); secrets are always redacted.
    #[arg(long, short, global = true)]
    pub verbose: bool,

    /// Print errors only.
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print one JSON object on stdout: {"status": 0, "result": {...}}, or {"status": N, "name": ..., "message": ...} on failure; logs stay on stderr.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses the process's arguments (exiting with clap's message and code 2 on a mistake),
    /// remembering which options took their value from the environment.
    pub fn parse_args() -> Cli {
        Cli::parse_from_args(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    /// [`Cli::parse_args`] over the given arguments, the program name first.
    pub fn parse_from_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = Cli::command().try_get_matches_from(args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        if let Some((_, sub)) = matches.subcommand() {
            let from_env: BTreeSet<String> = sub
                .ids()
                .filter(|id| sub.value_source(id.as_str()) == Some(ValueSource::EnvVariable))
                .map(|id| id.as_str().to_string())
                .collect();
            if let Some(rules) = cli.command.rule_args_mut() {
                rules.from_env = FromEnv(from_env);
            }
        }
        Ok(cli)
    }
}

/// The options of one command whose value came from their environment variable rather than the
/// command line, by clap id (the field name, e.g. `namespaces`), so that a message can name the
/// variable the user actually set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FromEnv(pub BTreeSet<String>);

impl FromEnv {
    pub fn contains(&self, id: &str) -> bool {
        self.0.contains(id)
    }
}

// Parsed once per process: the size of the largest variant costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Pull a complete snapshot of the org into a folder (the audit's evidence).
    ///
    /// Every row of every object is fetched through paged SOQL and counted
    /// against the totalSize Salesforce announced; a short pull fails instead of
    /// writing a snapshot that looks complete. The folder is written atomically.
    #[command(after_help = AFTER_HELP)]
    Pull(PullArgs),

    /// Build the reports from a snapshot, offline (no Salesforce access needed).
    ///
    /// Verifies the snapshot's hashes first, then writes report.html, one CSV per
    /// report, access-review.xlsx and summary.json into the output folder, with a
    /// copy of the snapshot as evidence. The folder appears whole or not at all.
    #[command(after_help = AFTER_HELP)]
    Report(ReportArgs),

    /// Pull a snapshot, then report, in one go (the snapshot is kept inside the output folder).
    #[command(after_help = AFTER_HELP)]
    Run(RunArgs),

    /// Re-check a snapshot: every file's SHA-256, rows and records against its manifest.
    Verify(VerifyArgs),

    /// Read back the completed review workbook(s) of a report folder: check they belong to the run and are complete, and write review/ (decisions.csv, signoff.json, remediation/).
    ///
    /// Exits 0 when every finding has a decision from its report's list, a reviewer and a date,
    /// 8 when the review is incomplete, 9 when a workbook does not belong to the run (another run
    /// id or manifest, findings added or removed, evidence changed). Writes only under DIR/review/,
    /// never into the org.
    Review(ReviewArgs),

    /// Print the effective configuration (flags, environment, file, defaults), secrets redacted.
    Config(ConfigArgs),

    /// Check the login behind the data: log in, read the API requests left, try every query the audit needs on one row, and check Bulk API access; one line per check.
    ///
    /// Each line is `ok  <check>`, or `missing  <check>: <what to grant>`; a Certinia package the
    /// org does not have is an `info` line (it is not audited), not a failure. Exits 0 when every
    /// check passes, 11 when one fails; a refused login keeps its own code (2 or 3). Spends
    /// about 20 API requests and writes nothing.
    #[command(after_help = AFTER_HELP)]
    Doctor(DoctorArgs),

    /// Email an existing report folder's digest (again): email.html and email.txt as the body, the workbook and the CSVs attached.
    #[command(after_help = EMAIL_HELP)]
    Send(SendArgs),

    /// Write a commented starter access-audit.toml (or --config FILE), never a secret in it; on a terminal, ask for the login URL and the login flow.
    ///
    /// Off a terminal it asks nothing and writes placeholders. An existing file is never
    /// replaced. An org the Salesforce CLI is logged in to needs no configuration at all:
    /// `access-audit run --target-org ALIAS --out reports`.
    #[command(after_help = INIT_HELP)]
    Init(InitArgs),
}

const INIT_HELP: &str = "\
Examples:
  access-audit init                        # ./access-audit.toml; asks on a terminal
  access-audit --config /etc/access-audit/access-audit.toml init --auth-flow jwt";

/// Answers to `init`'s questions, for a script.
#[derive(Debug, Args, Default)]
pub struct InitArgs {
    /// The OAuth login host to write (https://login.salesforce.com, https://test.salesforce.com or the My Domain URL), instead of asking.
    #[arg(long, value_name = "URL")]
    pub login_url: Option<String>,

    /// The login flow to write, instead of asking.
    #[arg(long, value_enum, value_name = "FLOW")]
    pub auth_flow: Option<AuthFlow>,
}

/// Which org a command works on.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Org")]
pub struct OrgArgs {
    /// The org: a name of the config file ([orgs.NAME]), else an alias or username the Salesforce CLI is logged in to (its access token is used in memory, never stored); default: [salesforce].
    #[arg(long, short = 'o', value_name = "NAME", env = "SF_TARGET_ORG", hide_env_values = true)]
    pub target_org: Option<String>,

    /// The Salesforce CLI program run for a --target-org the config does not name (default: sf on PATH).
    #[arg(long, value_name = "FILE", env = "ACCESS_AUDIT_SF_BIN", hide_env_values = true)]
    pub sf_bin: Option<PathBuf>,
}

impl Command {
    /// The audit rules this command takes, if any.
    fn rule_args_mut(&mut self) -> Option<&mut RuleArgs> {
        match self {
            Command::Report(a) => Some(&mut a.audit.rules),
            Command::Run(a) => Some(&mut a.audit.rules),
            Command::Config(a) => Some(&mut a.rules),
            Command::Pull(_)
            | Command::Verify(_)
            | Command::Send(_)
            | Command::Review(_)
            | Command::Init(_)
            | Command::Doctor(_) => None,
        }
    }
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Folder to write the snapshot to; replaced atomically if it holds an older snapshot.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    #[command(flatten)]
    pub org: OrgArgs,

    #[command(flatten)]
    pub salesforce: SalesforceArgs,

    #[command(flatten)]
    pub apps: AppArgs,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub org: OrgArgs,

    #[command(flatten)]
    pub salesforce: SalesforceArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Snapshot folder written by `access-audit pull` (or the `snapshot` folder of an earlier run).
    #[arg(long, value_name = "DIR")]
    pub snapshot: PathBuf,

    /// Folder to write the reports to; replaced atomically if it holds earlier reports (never one whose workbook was edited). Or --reviews.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// The org of the config file ([orgs.NAME]) the snapshot is of: its rules, and its folder under --reviews.
    #[arg(long, short = 'o', value_name = "NAME", env = "SF_TARGET_ORG", hide_env_values = true)]
    pub target_org: Option<String>,

    #[command(flatten)]
    pub audit: AuditArgs,

    #[command(flatten)]
    pub delivery: DeliveryArgs,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Folder to write the reports and the snapshot to; replaced atomically if it holds earlier reports (never one whose workbook was edited). Or --reviews. With several orgs: DIR/<org> each, and DIR/all-orgs.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    #[command(flatten)]
    pub org: OrgArgs,

    #[command(flatten)]
    pub orgs: AllOrgsArgs,

    #[command(flatten)]
    pub salesforce: SalesforceArgs,

    #[command(flatten)]
    pub apps: AppArgs,

    #[command(flatten)]
    pub audit: AuditArgs,

    #[command(flatten)]
    pub delivery: DeliveryArgs,
}

/// Several orgs in one run.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Org")]
pub struct AllOrgsArgs {
    /// Audit every org of the config file (orgs = [...] under [run], else every [orgs.NAME] and a [salesforce] that names an org), each into its own folder, then write a combined summary in DIR/all-orgs and send one email.
    #[arg(long, conflicts_with_all = ["target_org", "org_name"])]
    pub all_orgs: bool,

    /// With several orgs: how many are audited at once, 1 to 16 (default 2).
    #[arg(long, value_name = "N", env = "ACCESS_AUDIT_ORG_CONCURRENCY", hide_env_values = true)]
    pub org_concurrency: Option<usize>,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// Report folder to send (written by `run` or `report`, e.g. reviews/acme/latest).
    #[arg(value_name = "DIR")]
    pub folder: PathBuf,

    #[command(flatten)]
    pub email: EmailArgs,
}

/// Where a report run's folder goes, and who is told when the run fails.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Delivery")]
pub struct DeliveryArgs {
    /// Keep every run: write DIR/<org>/<YYYY-MM-DDTHHMMZ>/ (the run's start, UTC) and point DIR/<org>/latest at it, instead of --out.
    #[arg(long, value_name = "DIR", conflicts_with = "out", env = "ACCESS_AUDIT_REVIEWS", hide_env_values = true)]
    pub reviews: Option<PathBuf>,

    /// With --reviews: delete the runs older than the last N (N ≥ 1), except a run whose workbook was changed after it was written (it holds reviewer decisions).
    #[arg(long, value_name = "N", env = "ACCESS_AUDIT_KEEP", hide_env_values = true)]
    pub keep: Option<usize>,

    /// The org's folder name under --reviews, and its name in messages (letters, digits, . _ -); default: the org's Id.
    #[arg(long, value_name = "NAME", env = "ACCESS_AUDIT_ORG_NAME", hide_env_values = true)]
    pub org_name: Option<String>,

    /// When the run fails, email a short notice to --email-to: the org, the error, the exit code, and where the last good report is.
    #[arg(long)]
    pub email_on_failure: bool,

    #[command(flatten)]
    pub email: EmailArgs,
}

/// How an SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which the server must offer (port 587 by default).
    Starttls,
    /// TLS from the first byte (port 465 by default).
    Implicit,
    /// No encryption: only for a server on this machine (127.0.0.1, ::1, localhost; port 25 by default).
    None,
}

const EMAIL_HELP: &str = "\
The SMTP password is never a command-line argument: set ACCESS_AUDIT_SMTP_PASSWORD or --smtp-password-file.
Certificates are always verified (the system's trusted CAs, plus --smtp-ca-file).

Examples:
  access-audit run --reviews /srv/reviews --keep 8 --email-to it-sec@example.com --email-on-failure
  access-audit send /srv/reviews/acme/latest --email-to auditor@example.com";

/// The email: who receives it, and the SMTP server that sends it.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Email")]
pub struct EmailArgs {
    /// Send the digest to this address once the reports are written (e.g. it-sec@example.com or "IT Security <it-sec@example.com>"); repeat for several.
    #[arg(
        long = "email-to",
        value_name = "ADDR",
        env = "ACCESS_AUDIT_EMAIL_TO",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub email_to: Option<Vec<String>>,

    /// The sender's address.
    #[arg(long, value_name = "ADDR", env = "ACCESS_AUDIT_EMAIL_FROM", hide_env_values = true)]
    pub email_from: Option<String>,

    /// The subject, with {org}, {as_of} and {findings} filled in (default: "Certinia access review {org}: {findings} findings as of {as_of}").
    #[arg(long, value_name = "TEMPLATE", env = "ACCESS_AUDIT_EMAIL_SUBJECT", hide_env_values = true)]
    pub email_subject: Option<String>,

    /// SMTP server host name.
    #[arg(long, value_name = "HOST", env = "ACCESS_AUDIT_SMTP_HOST", hide_env_values = true)]
    pub smtp_host: Option<String>,

    /// SMTP port (default: 587 for starttls, 465 for implicit, 25 for none).
    #[arg(long, value_name = "PORT", env = "ACCESS_AUDIT_SMTP_PORT", hide_env_values = true)]
    pub smtp_port: Option<u16>,

    /// How the connection is secured (default starttls); none is accepted only for a server on this machine.
    #[arg(long, value_enum, value_name = "MODE", env = "ACCESS_AUDIT_SMTP_TLS", hide_env_values = true)]
    pub smtp_tls: Option<SmtpTls>,

    /// SMTP login name (the password from ACCESS_AUDIT_SMTP_PASSWORD or --smtp-password-file).
    #[arg(long, value_name = "USER", env = "ACCESS_AUDIT_SMTP_USERNAME", hide_env_values = true)]
    pub smtp_username: Option<String>,

    /// File holding the SMTP password (instead of ACCESS_AUDIT_SMTP_PASSWORD).
    #[arg(long, value_name = "FILE")]
    pub smtp_password_file: Option<PathBuf>,

    /// Extra trusted CA certificates (PEM) for the SMTP server; certificates are always verified.
    #[arg(long, value_name = "FILE", env = "ACCESS_AUDIT_SMTP_CA_FILE", hide_env_values = true)]
    pub smtp_ca_file: Option<PathBuf>,

    /// The largest message to send, in bytes (default 10485760, 10 MiB); above it only the workbook is attached, and the body says where the rest is.
    #[arg(long, value_name = "BYTES", env = "ACCESS_AUDIT_EMAIL_MAX_BYTES", hide_env_values = true)]
    pub email_max_bytes: Option<u64>,
}

/// Which other applications, configured as `[apps.NAME]` tables in the configuration file, are
/// pulled over SCIM 2.0 beside the org. None unless asked: an application's API may have its own
/// quota and allowlist, so a run never reaches one by surprise.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Other applications (SCIM 2.0)")]
pub struct AppArgs {
    /// Include the application configured as [apps.NAME] in the configuration file: its users and groups, read over SCIM 2.0 into the snapshot and audited beside the org; repeat for several.
    #[arg(long = "app", value_name = "NAME")]
    pub apps: Vec<String>,

    /// Include every application configured under [apps] in the configuration file (see --app).
    #[arg(long, conflicts_with = "apps")]
    pub all_apps: bool,
}

/// What every report run takes besides the data.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Report")]
pub struct AuditArgs {
    /// The instant every date rule is computed against (RFC 3339, e.g. 2026-10-01T00:00:00Z, or a date, taken as midnight UTC), from 2000-01-01 to one day after now. Default: now.
    #[arg(long, value_name = "WHEN", env = "ACCESS_AUDIT_AS_OF", hide_env_values = true)]
    pub as_of: Option<String>,

    /// Accept an --as-of more than one day after now (a planned review); the earliest is still 2000-01-01.
    #[arg(long)]
    pub allow_future_as_of: bool,

    /// Write (empty) reports when no user is audited, instead of failing with exit code 4.
    #[arg(long)]
    pub allow_empty: bool,

    /// Exit with code 1 when any finding is present (for CI and cron alerts).
    #[arg(long)]
    pub fail_on_findings: bool,

    /// The previous review's report folder: each finding gets Change (new or persisting) and the previous decision, and resolved.csv and not-done.csv are written.
    #[arg(long, value_name = "DIR", conflicts_with = "no_previous")]
    pub previous: Option<PathBuf>,

    /// Compare with no previous review, even one that would be found by itself.
    #[arg(long)]
    pub no_previous: bool,

    /// Also write one workbook per manager (by-manager/), each with only the rows of that manager's reports.
    #[arg(long, value_enum, value_name = "WHAT")]
    pub split_by: Option<SplitBy>,

    #[command(flatten)]
    pub rules: RuleArgs,
}

/// How the review workbook is split for its reviewers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SplitBy {
    /// One workbook per manager (User.ManagerId), for managers attesting their own people.
    Manager,
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// The report folder whose completed workbook(s) to read back (access-review.xlsx, and by-manager/*.xlsx).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Snapshot folder written by `access-audit pull`.
    #[arg(value_name = "DIR")]
    pub snapshot: PathBuf,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub org: OrgArgs,

    #[command(flatten)]
    pub salesforce: SalesforceArgs,

    #[command(flatten)]
    pub rules: RuleArgs,
}

/// How the OAuth 2.0 login is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthFlow {
    /// JWT bearer flow: client id, username and an RS256 private key (server to server).
    Jwt,
    /// Client credentials flow against the org's My Domain (client id and secret).
    ClientCredentials,
    /// Refresh token flow (client id, refresh token, optional client secret).
    RefreshToken,
    /// An access token you already have, with --instance-url.
    AccessToken,
}

/// Which Salesforce API pulls the objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApiChoice {
    /// Bulk API 2.0 for objects above --bulk-threshold rows, REST for the rest (and for all when the user may not use Bulk).
    Auto,
    /// The REST query API only (in parallel Id ranges for large objects, up to --max-cursors at once).
    Rest,
    /// Bulk API 2.0 for every object but the Organization (API 47.0 or later).
    Bulk,
}

/// Connection to the org. Names follow the Salesforce CLI where it has one.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Salesforce connection")]
pub struct SalesforceArgs {
    /// The org's URL, e.g. https://acme.my.salesforce.com (https only; http only for loopback).
    #[arg(long, value_name = "URL", env = "SF_ORG_INSTANCE_URL", hide_env_values = true)]
    pub instance_url: Option<String>,

    /// OAuth login host: https://login.salesforce.com (default), https://test.salesforce.com or the My Domain URL.
    #[arg(long, value_name = "URL", env = "SF_LOGIN_URL", hide_env_values = true)]
    pub login_url: Option<String>,

    /// Login flow; default: inferred from the credentials given (JWT key, refresh token, client secret, access token).
    #[arg(long, value_enum, value_name = "FLOW", env = "SF_AUTH_FLOW", hide_env_values = true)]
    pub auth_flow: Option<AuthFlow>,

    /// Consumer key of the External Client App or connected app.
    #[arg(long, value_name = "KEY", env = "SF_CLIENT_ID", hide_env_values = true)]
    pub client_id: Option<String>,

    /// Integration user's username (JWT bearer flow).
    #[arg(long, value_name = "USERNAME", env = "SF_USERNAME", hide_env_values = true)]
    pub username: Option<String>,

    /// RS256 private key (PEM) whose certificate is uploaded to the app (JWT bearer flow).
    #[arg(long, value_name = "FILE", env = "SF_JWT_KEY_FILE", hide_env_values = true)]
    pub jwt_key_file: Option<PathBuf>,

    /// JWT audience; default: https://test.salesforce.com for sandboxes, else https://login.salesforce.com.
    #[arg(long, value_name = "URL", env = "SF_JWT_AUDIENCE", hide_env_values = true)]
    pub jwt_audience: Option<String>,

    /// File holding the client secret (instead of SF_CLIENT_SECRET).
    #[arg(long, value_name = "FILE")]
    pub client_secret_file: Option<PathBuf>,

    /// File holding the refresh token (instead of SF_REFRESH_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub refresh_token_file: Option<PathBuf>,

    /// File holding an access token (instead of SF_ACCESS_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub access_token_file: Option<PathBuf>,

    /// REST API version, e.g. 62.0 (default 62.0).
    #[arg(long, value_name = "VERSION", env = "SF_ORG_API_VERSION", hide_env_values = true)]
    pub api_version: Option<String>,

    /// Rows per query page asked of Salesforce, 200 to 2000 (default 2000).
    #[arg(long, value_name = "N", env = "ACCESS_AUDIT_BATCH_SIZE", hide_env_values = true)]
    pub batch_size: Option<u32>,

    /// Do not start when the run would leave the org fewer daily API requests than this: a count, or a percentage of the daily maximum (default 5%; 0 skips the check).
    #[arg(long, value_name = "N|P%", env = "ACCESS_AUDIT_MIN_API_REMAINING", hide_env_values = true)]
    pub min_api_remaining: Option<String>,

    /// Retries of a request that failed transiently (5xx, dropped connection, timeout, cut body), default 4.
    #[arg(long, value_name = "N", env = "ACCESS_AUDIT_RETRIES", hide_env_values = true)]
    pub retries: Option<u32>,

    /// First retry delay in milliseconds; it doubles on each retry (with jitter) up to 30 s (default 500).
    #[arg(long, value_name = "MS", env = "ACCESS_AUDIT_RETRY_DELAY_MS", hide_env_values = true)]
    pub retry_delay_ms: Option<u64>,

    /// Time limit of one HTTP request in seconds, default 120.
    #[arg(long, value_name = "SECONDS", env = "ACCESS_AUDIT_TIMEOUT_SECS", hide_env_values = true)]
    pub timeout_secs: Option<u64>,

    /// The most one REST answer (a query page) may hold, in MB (MiB), 1 to 4096; a larger answer stops the run (default 64).
    #[arg(long, value_name = "MB", env = "ACCESS_AUDIT_MAX_BODY_MB", hide_env_values = true)]
    pub max_body_mb: Option<u64>,

    /// The longest a run may wait on Salesforce in all (login, quota check, every page, retries and their pauses), in seconds; then it stops, writing nothing (default 14400, four hours).
    #[arg(long, value_name = "SECONDS", env = "ACCESS_AUDIT_MAX_RUN_SECS", hide_env_values = true)]
    pub max_run_secs: Option<u64>,

    /// Extra trusted CA certificates (PEM), e.g. a corporate TLS-inspecting proxy's; certificates are always verified.
    #[arg(long, value_name = "FILE", env = "ACCESS_AUDIT_CA_FILE", hide_env_values = true)]
    pub ca_file: Option<PathBuf>,

    /// Which API pulls the objects (default auto).
    #[arg(long, value_enum, value_name = "API", env = "ACCESS_AUDIT_API", hide_env_values = true)]
    pub api: Option<ApiChoice>,

    /// With --api auto, objects of more rows than this are pulled with a Bulk API 2.0 job (default 50000).
    #[arg(long, value_name = "ROWS", env = "ACCESS_AUDIT_BULK_THRESHOLD", hide_env_values = true)]
    pub bulk_threshold: Option<u64>,

    /// The most REST query cursors open at once, across all objects, 1 to 10 (Salesforce's limit per user); 1 pulls one query after another (default 5).
    #[arg(long, value_name = "N", env = "ACCESS_AUDIT_MAX_CURSORS", hide_env_values = true)]
    pub max_cursors: Option<u32>,

    /// Pull every permission set assignment, the profile-owned ones too, which no report uses (for comparison or an audit of the pull itself); by default the query filters them out.
    #[arg(long)]
    pub no_pushdown: bool,
}

impl SalesforceArgs {
    /// The flags (or their environment variables) given that say which org to log in to and how:
    /// they belong to one org, so they cannot apply to several orgs, nor to a Salesforce CLI login.
    pub fn login_flags(&self) -> Vec<&'static str> {
        let given = [
            (self.instance_url.is_some(), "--instance-url (SF_ORG_INSTANCE_URL)"),
            (self.login_url.is_some(), "--login-url (SF_LOGIN_URL)"),
            (self.auth_flow.is_some(), "--auth-flow (SF_AUTH_FLOW)"),
            (self.client_id.is_some(), "--client-id (SF_CLIENT_ID)"),
            (self.username.is_some(), "--username (SF_USERNAME)"),
            (self.jwt_key_file.is_some(), "--jwt-key-file (SF_JWT_KEY_FILE)"),
            (self.jwt_audience.is_some(), "--jwt-audience (SF_JWT_AUDIENCE)"),
            (self.client_secret_file.is_some(), "--client-secret-file"),
            (self.refresh_token_file.is_some(), "--refresh-token-file"),
            (self.access_token_file.is_some(), "--access-token-file"),
        ];
        given.into_iter().filter(|(set, _)| *set).map(|(_, flag)| flag).collect()
    }
}

/// The audit rules of the findings contract (REPORTS.md).
#[derive(Debug, Clone, Args, Default)]
#[command(next_help_heading = "Audit rules")]
pub struct RuleArgs {
    /// An active user is inactive when the last login is more than this many days before --as-of (default 90).
    #[arg(long, value_name = "DAYS", env = "ACCESS_AUDIT_INACTIVE_DAYS", hide_env_values = true)]
    pub inactive_days: Option<u32>,

    /// A never-logged-in user created within this many days is still in the grace period (default 14).
    #[arg(long, value_name = "DAYS", env = "ACCESS_AUDIT_GRACE_DAYS", hide_env_values = true)]
    pub grace_days: Option<u32>,

    /// Audited user types, comma-separated, any case: Standard, PowerPartner, CspLitePortal, CustomerSuccess, PowerCustomerSuccess, CsnOnly, Guest, AutomatedProcess, CloudIntegrationUser, SelfService (default Standard).
    #[arg(long, value_name = "TYPES", value_delimiter = ',', env = "ACCESS_AUDIT_USER_TYPES", hide_env_values = true)]
    pub user_types: Option<Vec<String>>,

    /// Certinia namespace prefixes, comma-separated, compared case-insensitively; replaces the default list: pse (PSA), c2g (Accounting), fferpcore (Foundations), ffrr (Revenue Management), ffbc and bcws (Billing Central), ffpsai (PSA-Accounting connector), scmc and scmffa (Order and Inventory Management), ffcash (Cash Entry), ffbf (bank formats), ffvat, ffps_po (purchase orders), ffc_statex (statements), ffirule (integration rules), ffaci.
    #[arg(
        long,
        value_name = "PREFIXES",
        value_delimiter = ',',
        env = "ACCESS_AUDIT_NAMESPACES",
        hide_env_values = true
    )]
    pub namespaces: Option<Vec<String>>,

    /// A regular expression for Certinia permission set and group names or labels; repeat for several. Replaces the default: the whole words psa, ffa, certinia or financialforce, any case.
    #[arg(long = "name-pattern", value_name = "REGEX", env = "ACCESS_AUDIT_NAME_PATTERN", hide_env_values = true)]
    pub name_patterns: Option<Vec<String>>,

    /// Expected-users roster: a CSV with any of the columns federation_id, username, email (or Salesforce's FederationIdentifier, Username, Email; any case).
    #[arg(long, value_name = "FILE", env = "ACCESS_AUDIT_ROSTER", hide_env_values = true)]
    pub roster: Option<PathBuf>,

    /// Accounts reviewed elsewhere: a CSV with the columns user (Id, Username or Email), reason, approved_by and optionally expires (YYYY-MM-DD); they leave the finding reports and are listed in exclusions.csv.
    #[arg(long, value_name = "FILE", env = "ACCESS_AUDIT_EXCLUSIONS", hide_env_values = true)]
    pub exclusions: Option<PathBuf>,

    /// Account classes to keep out of the finding reports, comma-separated: Human, Integration, Automated (default: none; every class is shown in AccountClass).
    #[arg(
        long = "exclude-class",
        value_name = "CLASSES",
        value_delimiter = ',',
        env = "ACCESS_AUDIT_EXCLUDE_CLASSES",
        hide_env_values = true
    )]
    pub exclude_classes: Option<Vec<String>>,

    /// The yearly cost of one seat, to price the reclaimable seats of the Seats report: a package namespace or a permission set licence DeveloperName (or a licence Id), any case, then = and the amount, such as pse=1200; repeat for several. Adds to the config file's [seat_costs], a flag winning for the same key.
    #[arg(long = "seat-cost", value_name = "NAMESPACE_OR_KEY=AMOUNT")]
    pub seat_costs: Vec<String>,

    /// Which of these options (and --as-of) took their value from the environment.
    #[arg(skip)]
    pub from_env: FromEnv,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_from_the_command_line_are_not_from_the_environment() {
        let cli =
            Cli::parse_from_args(["access-audit", "config", "--namespaces", "pse", "--inactive-days", "3"]).unwrap();
        let Command::Config(args) = cli.command else { panic!("not config") };
        assert_eq!(args.rules.namespaces, Some(vec!["pse".to_string()]));
        assert!(!args.rules.from_env.contains("namespaces"));
        assert!(!args.rules.from_env.contains("inactive_days"));
    }

    #[test]
    fn the_namespaces_help_lists_the_default_prefixes() {
        let command = Cli::command();
        let report = command.find_subcommand("report").unwrap();
        let arg = report.get_arguments().find(|a| a.get_id() == "namespaces").unwrap();
        let help = arg.get_help().unwrap().to_string();
        let words: Vec<&str> = help.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).collect();
        for prefix in crate::config::DEFAULT_NAMESPACES {
            assert!(words.contains(prefix), "{prefix}: {help}");
        }
        let arg = report.get_arguments().find(|a| a.get_id() == "user_types").unwrap();
        let help = arg.get_help().unwrap().to_string();
        for user_type in crate::config::USER_TYPES {
            assert!(help.contains(user_type), "{user_type}: {help}");
        }
    }
}
