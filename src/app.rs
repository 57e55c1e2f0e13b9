//! The subcommands, each a straight run through the pipeline's stages:
//! config → auth → pull → snapshot → analyse → render → (atomic) deliver.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::analysis::{self, Inputs};
use crate::cli::{AuditArgs, Cli, Command, ConfigArgs, PullArgs, ReportArgs, RunArgs, VerifyArgs};
use crate::config::apps::AppConfig;
use crate::config::{self, LoadedFile, Rules, SalesforceConfig};
use crate::deliver::{self, ReportFolder, Staging, io_err};
use crate::exit::ExitCode;
use crate::model::Audit;
use crate::roster::Roster;
use crate::salesforce::{Client, SalesforceError};
use crate::snapshot::apps::AppPull;
use crate::{Error, http, render, scim, snapshot};

/// Where the evidence goes inside a report folder.
pub const SNAPSHOT_DIR: &str = snapshot::REPORT_SNAPSHOT;

/// Runs one command to completion.
pub fn run(cli: Cli) -> Result<ExitCode, Error> {
    let started = Instant::now();
    let file = LoadedFile::load(cli.config.as_deref())?;
    match cli.command {
        Command::Pull(args) => pull(args, &file, started),
        Command::Report(args) => report(args, &file),
        Command::Run(args) => pull_and_report(args, &file, started),
        Command::Verify(args) => verify(args),
        Command::Config(args) => show_config(args, &file),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(Error::Runtime)
}

/// Runs the part of a run that waits on Salesforce, stopping it when `--max-run-secs`,
/// counted from the start of the run, has passed. Stopping drops every request in flight and
/// every staging folder with them: nothing half-written stays behind.
async fn within_deadline<T>(
    started: Instant,
    max_run: Duration,
    work: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match tokio::time::timeout_at((started + max_run).into(), work).await {
        Ok(done) => done,
        Err(_) => Err(SalesforceError::Deadline { secs: max_run.as_secs() }.into()),
    }
}

/// Logs in to the org and hands the client, with what the applications' SCIM clients share, to
/// `work`: one place where the org's client and the applications' meet.
async fn connected<T>(
    config: SalesforceConfig,
    apps: &[AppConfig],
    work: impl AsyncFnOnce(&Client, AppPull<'_>) -> Result<T, Error>,
) -> Result<T, Error> {
    let http = http::client(&config.http)?;
    let (retry, max_body) = (config.retry, config.max_body);
    let client = Client::connect(config, http.clone()).await?;
    let shared = scim::Shared { http: &http, retry, max_body, salesforce: &client };
    work(&client, AppPull { apps, shared }).await
}

fn pull(args: PullArgs, file: &LoadedFile, started: Instant) -> Result<ExitCode, Error> {
    let config = SalesforceConfig::from_sources(&args.salesforce, file)?;
    let apps = config::apps::selected(&args.apps, file)?;
    let floor = config.min_api_remaining;
    let max_run = config.max_run;
    runtime()?.block_on(async {
        let manifest = within_deadline(
            started,
            max_run,
            connected(config, &apps, async |client, apps| Ok(snapshot::pull(client, &args.out, floor, apps).await?)),
        )
        .await?;
        let rows: u64 = manifest.objects.iter().map(|o| o.rows).sum::<u64>()
            + manifest.apps.iter().flat_map(|a| &a.resources).map(|r| r.rows).sum::<u64>();
        let (sha, _) = snapshot::hash_file(&args.out.join(snapshot::MANIFEST)).map_err(io_err(&args.out))?;
        tracing::info!(
            "snapshot written to {}: {} rows of {} objects{}, {} API requests; manifest SHA-256 {}",
            args.out.display(),
            rows,
            manifest.objects.len(),
            apps_pulled(&manifest, " and"),
            manifest.api.requests,
            sha
        );
        Ok(ExitCode::Ok)
    })
}

/// Everything a report needs besides the data, checked before any work is done.
struct Plan {
    rules: Rules,
    roster: Option<Roster>,
    as_of: chrono::DateTime<chrono::Utc>,
    allow_empty: bool,
    fail_on_findings: bool,
}

impl Plan {
    fn new(args: &AuditArgs, file: &LoadedFile) -> Result<Plan, Error> {
        let rules = Rules::from_sources(&args.rules, file)?;
        let as_of = config::as_of_checked(args, chrono::Utc::now())?;
        let roster = rules.roster.as_deref().map(Roster::load).transpose()?;
        Ok(Plan { rules, roster, as_of, allow_empty: args.allow_empty, fail_on_findings: args.fail_on_findings })
    }

    /// Analyses the snapshot already in `staging/snapshot`, writes the reports into `staging`
    /// (each file recorded in the folder's file list), and swaps it into place.
    fn finish(&self, mut staging: Staging, loaded: snapshot::Loaded) -> Result<ExitCode, Error> {
        let audit = analysis::analyse(
            &loaded,
            &Inputs {
                rules: &self.rules,
                roster: self.roster.as_ref(),
                as_of: self.as_of,
                allow_empty: self.allow_empty,
            },
        )?;
        render::render_all(&audit, |file| staging.write(&file.name, &file.bytes).map_err(Error::from))?;
        let out = staging.target().to_path_buf();
        staging.commit()?;
        print_summary(&audit, &out);
        Ok(if self.fail_on_findings && audit.findings() > 0 { ExitCode::Findings } else { ExitCode::Ok })
    }
}

/// Says which references of a snapshot do not resolve (the same lines for `verify` and `report`).
fn warn_unresolved(verified: &snapshot::Verified) {
    for line in &verified.unresolved {
        tracing::warn!("snapshot: {line}");
    }
}

/// A staging folder for the reports, with an empty `snapshot/` for the evidence.
fn report_staging(out: &Path) -> Result<(Staging, PathBuf), Error> {
    let staging = Staging::new(out, &ReportFolder)?;
    let dir = staging.path().join(SNAPSHOT_DIR);
    std::fs::create_dir(&dir).map_err(io_err(&dir))?;
    Ok((staging, dir))
}

fn report(args: ReportArgs, file: &LoadedFile) -> Result<ExitCode, Error> {
    let plan = Plan::new(&args.audit, file)?;
    // The evidence is never written into, and never inside what the reports replace.
    deliver::check_apart(&args.snapshot, &args.out)?;
    // The source must verify before anything is written.
    let verified = snapshot::verify(&args.snapshot)?;
    warn_unresolved(&verified);
    let (mut staging, dir) = report_staging(&args.out)?;
    for (name, bytes, sha256) in snapshot::copy_verified(&verified, &args.snapshot, &dir)? {
        staging.record(&format!("{SNAPSHOT_DIR}/{name}"), bytes, sha256);
    }
    // What was copied is what was verified, byte for byte: it is read without a second check.
    plan.finish(staging, snapshot::load_copy(verified, &dir, &args.snapshot))
}

/// ` and 2 applications` (after `joiner`) for the log, when the snapshot holds any.
fn apps_pulled(manifest: &snapshot::Manifest, joiner: &str) -> String {
    match manifest.apps.len() {
        0 => String::new(),
        1 => format!("{joiner} 1 application"),
        n => format!("{joiner} {n} applications"),
    }
}

fn pull_and_report(args: RunArgs, file: &LoadedFile, started: Instant) -> Result<ExitCode, Error> {
    let config = SalesforceConfig::from_sources(&args.salesforce, file)?;
    let apps = config::apps::selected(&args.apps, file)?;
    let plan = Plan::new(&args.audit, file)?;
    let floor = config.min_api_remaining;
    let (mut staging, snapshot_dir) = report_staging(&args.out)?;
    let previous = args.out.join(SNAPSHOT_DIR);
    let max_run = config.max_run;
    runtime()?.block_on(within_deadline(
        started,
        max_run,
        connected(config, &apps, async |client, apps| {
            let limit = client.check_quota(floor, snapshot::estimate_requests(Some(&previous))).await?;
            let manifest = snapshot::pull_into(client, &snapshot_dir, limit, apps).await?;
            tracing::info!(
                "pulled {} objects{} with {} API requests",
                manifest.objects.len(),
                apps_pulled(&manifest, " and"),
                manifest.api.requests
            );
            Ok(())
        }),
    ))?;
    // Checked like any snapshot; messages name where the user will find it, not the staging folder.
    let loaded = snapshot::load_as(&snapshot_dir, &previous)?;
    warn_unresolved(&loaded.verified);
    let verified = &loaded.verified;
    let files = verified.manifest.member_files().into_iter();
    for (name, sha256) in files.chain([(snapshot::MANIFEST, verified.manifest_sha256.as_str())]) {
        let path = snapshot_dir.join(name);
        let bytes = std::fs::metadata(&path).map_err(io_err(&path))?.len();
        staging.record(&format!("{SNAPSHOT_DIR}/{name}"), bytes, sha256.to_string());
    }
    plan.finish(staging, loaded)
}

fn print_summary(audit: &Audit, out: &Path) {
    tracing::info!("reports written to {}", out.display());
    for report in &audit.reports {
        tracing::info!("  {:<28} {:>7}", report.kind.title(), report.rows.len());
    }
}

fn verify(args: VerifyArgs) -> Result<ExitCode, Error> {
    let verified = snapshot::verify(&args.snapshot)?;
    warn_unresolved(&verified);
    println!(
        "ok: {} files, {} rows, org {} pulled at {}{}; manifest SHA-256 {}",
        verified.manifest.member_files().len(),
        verified.rows,
        verified.manifest.org.id,
        verified.manifest.pulled_at,
        apps_pulled(&verified.manifest, ", with"),
        verified.manifest_sha256
    );
    Ok(ExitCode::Ok)
}

fn show_config(args: ConfigArgs, file: &LoadedFile) -> Result<ExitCode, Error> {
    print!("{}", config::describe(&args.salesforce, &args.rules, file)?);
    Ok(ExitCode::Ok)
}
