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

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Secrets are never command-line arguments (a process listing would show them).
They come from environment variables or files:
  SF_CLIENT_SECRET   or --client-secret-file   (client credentials, refresh token flows)
  SF_REFRESH_TOKEN   or --refresh-token-file   (refresh token flow)
  SF_ACCESS_TOKEN    or --access-token-file    (a token you already have, e.g. from `sf org display`)
  --jwt-key-file                               (JWT bearer flow: the RS256 private key)

Examples:
  access-audit pull --out snapshot                     # settings from ./access-audit.toml
  access-audit report --snapshot fixtures/demo-org --out reports
  access-audit run --out reports --as-of 2026-10-01T00:00:00Z
  SF_ACCESS_TOKEN=... access-audit pull --instance-url https://acme.my.salesforce.com --out snapshot
  access-audit verify snapshot";

/// Audit who can reach the Certinia (FinancialForce) apps in a Salesforce org.
///
/// Pulls every User, permission set assignment, permission set group and
/// package licence through the REST API, keeps the pull as a verifiable
/// snapshot, and reports inactive users, users who never logged in,
/// deactivated users who keep Certinia access, and active users who lack it.
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

    #[command(subcommand)]
    pub command: Command,
}

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

    /// Re-check a snapshot: every file's SHA-256 and row count against its manifest.
    Verify(VerifyArgs),

    /// Print the effective configuration (flags, environment, file, defaults), secrets redacted.
    Config(ConfigArgs),
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Folder to write the snapshot to; replaced atomically if it holds an older snapshot.
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,

    #[command(flatten)]
    pub salesforce: SalesforceArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Snapshot folder written by `access-audit pull` (or the `snapshot` folder of an earlier run).
    #[arg(long, value_name = "DIR")]
    pub snapshot: PathBuf,

    /// Folder to write the reports to; replaced atomically if it holds earlier reports.
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,

    #[command(flatten)]
    pub audit: AuditArgs,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Folder to write the reports and the snapshot to; replaced atomically if it holds earlier reports.
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,

    #[command(flatten)]
    pub salesforce: SalesforceArgs,

    #[command(flatten)]
    pub audit: AuditArgs,
}

/// What every report run takes besides the data.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Report")]
pub struct AuditArgs {
    /// The instant every date rule is computed against (RFC 3339, e.g. 2026-10-01T00:00:00Z, or a date, taken as midnight UTC). Default: now.
    #[arg(long, value_name = "WHEN", env = "ACCESS_AUDIT_AS_OF", hide_env_values = true)]
    pub as_of: Option<String>,

    /// Exit with code 1 when any finding is present (for CI and cron alerts).
    #[arg(long)]
    pub fail_on_findings: bool,

    #[command(flatten)]
    pub rules: RuleArgs,
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
}

/// The audit rules of the findings contract (REPORTS.md).
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Audit rules")]
pub struct RuleArgs {
    /// An active user is inactive when the last login is more than this many days before --as-of (default 90).
    #[arg(long, value_name = "DAYS", env = "ACCESS_AUDIT_INACTIVE_DAYS", hide_env_values = true)]
    pub inactive_days: Option<u32>,

    /// A never-logged-in user created within this many days is still in the grace period (default 14).
    #[arg(long, value_name = "DAYS", env = "ACCESS_AUDIT_GRACE_DAYS", hide_env_values = true)]
    pub grace_days: Option<u32>,

    /// Audited user types, comma-separated (default Standard).
    #[arg(long, value_name = "TYPES", value_delimiter = ',', env = "ACCESS_AUDIT_USER_TYPES", hide_env_values = true)]
    pub user_types: Option<Vec<String>>,

    /// Certinia namespace prefixes, comma-separated, compared case-insensitively (default: the list in REPORTS.md).
    #[arg(
        long,
        value_name = "PREFIXES",
        value_delimiter = ',',
        env = "ACCESS_AUDIT_NAMESPACES",
        hide_env_values = true
    )]
    pub namespaces: Option<Vec<String>>,

    /// A regular expression for Certinia permission set and group names or labels; repeat for several (replaces the default).
    #[arg(long = "name-pattern", value_name = "REGEX", env = "ACCESS_AUDIT_NAME_PATTERN", hide_env_values = true)]
    pub name_patterns: Option<Vec<String>>,

    /// Expected-users roster (CSV with columns federation_id, username, email).
    #[arg(long, value_name = "FILE", env = "ACCESS_AUDIT_ROSTER", hide_env_values = true)]
    pub roster: Option<PathBuf>,
}
