//! The `sf-sim` binary: serves one org (an NDJSON folder, a synthetic org or
//! the built-in demo org) on 127.0.0.1 until Ctrl-C or SIGTERM, optionally
//! injecting faults (see `--help` and the library's `faults` module).
//!
//! Secrets (client secret, pre-issued access tokens, refresh tokens) come
//! from files or environment variables, never from the command line, so they
//! do not show up in process listings. Once the server listens, exactly one
//! line `sf-sim listening on http://127.0.0.1:PORT` (`https://` with
//! `--tls-cert` and `--tls-key`) is printed to stdout, for a parent process
//! to read the port from.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use sf_sim::faults::{self, BadText, FaultRule, Faults, Malformed};
use sf_sim::{Org, Sim, SimConfig, generate};

const FAULT_HELP: &str = "\
Faults (deterministic; they combine):
  --fault KIND[:OBJECT][:followups][@AFTER][xTIMES]   (repeatable)
      KIND     503      503 [{\"errorCode\":\"SERVER_UNAVAILABLE\",...}]
               503html  503 with an HTML maintenance page (text/html)
               500      500 [{\"errorCode\":\"UNKNOWN_EXCEPTION\",...}]
               drop     headers and half the body, then the connection is cut
               cut      a complete 200 whose JSON body stops half way
               limit    403 [{\"errorCode\":\"REQUEST_LIMIT_EXCEEDED\",...}]
               locator  400 INVALID_QUERY_LOCATOR, and the cursor is dropped
               endless  200 JSON that never ends (until the client hangs up)
               portal   200 text/html: a captive portal's sign-in page
               302      302 to https://login.salesforce.com/?ec=302&startURL=...
               silent   the request is read and never answered
      OBJECT   only that object's query pages (default: every /services/data
               query, follow-up page and /limits request)
      followups  only nextRecordsUrl pages
      bulk-create, bulk-poll, bulk-results, bulk-delete  only that step of Bulk API query jobs
      @AFTER   let the first AFTER matching requests through (default 0)
      xTIMES   then fail the next TIMES matching requests (default: forever)
      Each rule counts the authorised requests it matches; when several rules
      fire on one request the first given wins. Injected answers count as API
      usage, not as query pages.
      Examples: --fault 503@2x3   --fault locator:User:followups@0x1
                --fault drop:PermissionSetAssignment
  Once the API usage reaches --api-max, every data request gets 403
  REQUEST_LIMIT_EXCEEDED.

Demo: `sf-sim --demo` serves the made-up org \"Northwind Consulting\" (300 users);
report on it with --as-of 2026-11-20T09:00:00Z.";

/// A Salesforce REST API simulator (OAuth token endpoint, paged SOQL query,
/// limits) for access-audit's tests and benchmarks. Listens on 127.0.0.1 only.
#[derive(Debug, Parser)]
#[command(name = "sf-sim", version, after_help = FAULT_HELP)]
struct Cli {
    /// Folder of `<Object>.ndjson` files to serve.
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present_any = ["synthetic_users", "demo"]
    )]
    org: Option<PathBuf>,
    /// Serve the built-in demo org "Northwind Consulting" (300 users, as of
    /// 2026-11-20T09:00:00Z). Without --username, its integration user
    /// integration@northwind-consulting.com is the run-as user.
    #[arg(long, conflicts_with_all = ["org", "synthetic_users"])]
    demo: bool,
    /// Port to listen on (0: any free port; the line printed at start-up says which).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Serve HTTPS with this certificate chain (PEM, leaf first); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM: PKCS#8, RSA or EC) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Connected app consumer key expected from clients.
    #[arg(long, default_value = "sim-client-id")]
    client_id: String,
    /// File holding the consumer secret (else $SIM_CLIENT_SECRET, else "sim-client-secret").
    #[arg(long, value_name = "FILE")]
    client_secret_file: Option<PathBuf>,
    /// RSA public key or certificate (PEM) that JWT bearer assertions are verified with.
    #[arg(long, value_name = "FILE")]
    jwt_public_key: Option<PathBuf>,
    /// Integration username allowed as JWT subject (repeatable; the first is
    /// the run-as user of the client credentials and refresh token flows).
    #[arg(long = "username", value_name = "U")]
    usernames: Vec<String>,
    /// File of pre-issued valid access tokens, one per line (also $SIM_ACCESS_TOKEN).
    #[arg(long, value_name = "FILE")]
    access_token_file: Option<PathBuf>,
    /// File of accepted refresh tokens, one per line (also $SIM_REFRESH_TOKEN).
    #[arg(long, value_name = "FILE")]
    refresh_token_file: Option<PathBuf>,
    /// Daily API request limit reported by Sforce-Limit-Info and /limits.
    #[arg(long, default_value_t = 15_000)]
    api_max: u64,
    /// API requests already used at start.
    #[arg(long, default_value_t = 0)]
    api_used: u64,
    /// Serve a synthetic org of this many users instead of --org.
    #[arg(long, value_name = "N", conflicts_with = "org", requires = "synthetic_assignments")]
    synthetic_users: Option<usize>,
    /// Number of permission set assignments of the synthetic org (a target).
    #[arg(long, value_name = "M", requires = "synthetic_users")]
    synthetic_assignments: Option<usize>,
    /// Give the synthetic org PSA and Accounting: package and permission set licences, resources,
    /// permission controls and user companies (dates relative to the time of start).
    #[arg(long, requires = "synthetic_users")]
    synthetic_certinia: bool,
    /// Seed of the synthetic org.
    #[arg(long, value_name = "S", default_value_t = 1, requires = "synthetic_users")]
    seed: u64,
    /// Inject a fault: KIND[:OBJECT][:followups][@AFTER][xTIMES] (repeatable; see below).
    #[arg(long = "fault", value_name = "SPEC")]
    faults: Vec<FaultRule>,
    /// Delay before answering every /services/data request, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    latency_ms: u64,
    /// Delay before answering every token request, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    token_latency_ms: u64,
    /// Every access token expires (401 INVALID_SESSION_ID) after N data requests.
    #[arg(long, value_name = "N")]
    expire_tokens_after: Option<u64>,
    /// Report totalSize off by DELTA for OBJECT's queries (e.g. User:+3, User:-1).
    #[arg(long, value_name = "OBJECT:DELTA", value_parser = faults::parse_total_size_delta)]
    total_size_delta: Option<(String, i64)>,
    /// Replace FIELD of OBJECT's record number INDEX (0-based, file order) by
    /// a JSON value in query answers, e.g. User:3:IsActive='"yes"'.
    #[arg(long, value_name = "OBJECT:INDEX:FIELD=JSON", value_parser = faults::parse_malformed)]
    malformed: Option<Malformed>,
    /// Put bad text (a lone surrogate escape \ud800, the byte 0xFF, or a raw control character
    /// 0x01, which is not valid JSON) in front of FIELD of OBJECT's record number INDEX in query
    /// answers, e.g. User:3:Name=surrogate.
    #[arg(long, value_name = "OBJECT:INDEX:FIELD=surrogate|utf8|control", value_parser = faults::parse_bad_text)]
    bad_text: Option<BadText>,
    /// Every second query page holds half the batch size.
    #[arg(long)]
    short_pages: bool,
    /// How long a Bulk query job takes to complete, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    bulk_processing_ms: u64,
    /// The next N Bulk query jobs end Failed.
    #[arg(long, value_name = "N", default_value_t = 0)]
    bulk_failed_jobs: u64,
    /// The next N Bulk query jobs end Aborted.
    #[arg(long, value_name = "N", default_value_t = 0)]
    bulk_aborted_jobs: u64,
    /// The integration user may not use the Bulk API (403 API_DISABLED_FOR_ORG on creating or listing jobs).
    #[arg(long)]
    no_bulk_api: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sf-sim: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let tls = match (&cli.tls_cert, &cli.tls_key) {
        (Some(cert), Some(key)) => Some((read_pem(cert, "TLS certificate")?, read_pem(key, "TLS private key")?)),
        _ => None,
    };
    let (config, port) = config_from(cli)?;
    let sim = match &tls {
        Some((cert, key)) => Sim::start_tls_on_port(config, port, cert, key)?,
        None => Sim::start_on_port(config, port)?,
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "sf-sim listening on {}", sim.base_url())?;
    stdout.flush()?;
    drop(stdout);
    wait_for_shutdown_signal()?;
    // Exit without freeing a possibly large org record by record; the
    // server (and every connection) ends with the process.
    std::process::exit(0)
}

/// Turns the command line (and the secret files / environment) into a config.
fn config_from(cli: Cli) -> anyhow::Result<(SimConfig, u16)> {
    let org = match (&cli.org, cli.synthetic_users, cli.synthetic_assignments) {
        _ if cli.demo => {
            eprintln!(
                "sf-sim: serving the demo org \"Northwind Consulting\"; report on it with --as-of {}",
                generate::DEMO_AS_OF
            );
            generate::demo_org()
        }
        (Some(dir), None, _) => Org::load_dir(dir)?,
        (None, Some(users), Some(assignments)) => {
            let mut org = generate::synthetic_org(cli.seed, users, assignments);
            if cli.synthetic_certinia {
                generate::add_certinia(&mut org, chrono::Utc::now().timestamp());
            }
            org
        }
        _ => {
            bail!("give either --org DIR, --synthetic-users N --synthetic-assignments M, or --demo")
        }
    };
    let mut config = SimConfig::new(org);
    config.client_id = cli.client_id;
    config.client_secret = match &cli.client_secret_file {
        Some(file) => read_secret_lines(file)?
            .into_iter()
            .next()
            .with_context(|| format!("{} holds no client secret", file.display()))?,
        None => match std::env::var("SIM_CLIENT_SECRET") {
            Ok(secret) if !secret.trim().is_empty() => secret.trim().to_string(),
            _ => config.client_secret,
        },
    };
    if let Some(file) = &cli.jwt_public_key {
        config.jwt_public_key_pem = Some(
            std::fs::read_to_string(file).with_context(|| format!("reading the JWT public key {}", file.display()))?,
        );
    }
    config.usernames = cli.usernames;
    if cli.demo && config.usernames.is_empty() {
        config.usernames = vec![generate::DEMO_INTEGRATION_USERNAME.to_string()];
    }
    config.access_tokens = tokens(cli.access_token_file.as_deref(), "SIM_ACCESS_TOKEN")?;
    config.refresh_tokens = tokens(cli.refresh_token_file.as_deref(), "SIM_REFRESH_TOKEN")?;
    config.api_max = cli.api_max;
    config.api_used = cli.api_used;
    config.faults = Faults {
        latency: Duration::from_millis(cli.latency_ms),
        token_latency: Duration::from_millis(cli.token_latency_ms),
        rules: cli.faults,
        expire_tokens_after: cli.expire_tokens_after,
        total_size_delta: cli.total_size_delta,
        malformed: cli.malformed,
        short_pages: cli.short_pages,
        bad_text: cli.bad_text,
        bulk_processing: Duration::from_millis(cli.bulk_processing_ms),
        bulk_failed_jobs: cli.bulk_failed_jobs,
        bulk_aborted_jobs: cli.bulk_aborted_jobs,
        bulk_chunk_rows: 0,
        count_delta: None,
    };
    config.bulk_api = !cli.no_bulk_api;
    Ok((config, cli.port))
}

fn read_pem(file: &Path, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("reading the {what} {}", file.display()))
}

/// Non-empty trimmed lines of a secrets file.
fn read_secret_lines(file: &Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    Ok(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect())
}

/// Tokens from a file (one per line) plus the environment variable, if set.
fn tokens(file: Option<&Path>, env: &str) -> anyhow::Result<Vec<String>> {
    let mut out = match file {
        Some(file) => read_secret_lines(file)?,
        None => Vec::new(),
    };
    if let Ok(value) = std::env::var(env)
        && !value.trim().is_empty()
    {
        out.push(value.trim().to_string());
    }
    Ok(out)
}

/// Blocks until Ctrl-C (SIGINT) or, on Unix, SIGTERM.
fn wait_for_shutdown_signal() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        #[cfg(unix)]
        {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                r = tokio::signal::ctrl_c() => r?,
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c().await?;
        Ok::<(), anyhow::Error>(())
    })
}
