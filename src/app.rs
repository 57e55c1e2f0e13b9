//! The subcommands, each a straight run through the pipeline's stages:
//! config → auth → pull → snapshot → analyse → render → (atomic) deliver.

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::analysis::{self, Inputs};
use crate::cli::{AuditArgs, Cli, Command, ConfigArgs, PullArgs, ReportArgs, RunArgs, VerifyArgs};
use crate::config::{self, LoadedFile, Rules, SalesforceConfig};
use crate::deliver::{OutputError, Staging, io_err};
use crate::exit::ExitCode;
use crate::model::Audit;
use crate::roster::Roster;
use crate::salesforce::{Client, SalesforceError};
use crate::{Error, http, render, snapshot};

/// The marker that makes a folder a report folder (it may then be replaced).
const REPORT_MARKER: &str = render::MARKER;
const REPORT_KIND: &str = "a report folder";
/// Where the evidence goes inside a report folder.
pub const SNAPSHOT_DIR: &str = "snapshot";

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

fn pull(args: PullArgs, file: &LoadedFile, started: Instant) -> Result<ExitCode, Error> {
    let config = SalesforceConfig::from_sources(&args.salesforce, file)?;
    let floor = config.min_api_remaining;
    let max_run = config.max_run;
    runtime()?.block_on(async {
        let http = http::client(&config.http)?;
        let manifest = within_deadline(started, max_run, async {
            let client = Client::connect(config, http).await?;
            Ok(snapshot::pull(&client, &args.out, floor).await?)
        })
        .await?;
        let rows: u64 = manifest.objects.iter().map(|o| o.rows).sum();
        let (sha, _) = snapshot::hash_file(&args.out.join(snapshot::MANIFEST)).map_err(io_err(&args.out))?;
        tracing::info!(
            "snapshot written to {}: {} rows of {} objects, {} API requests; manifest SHA-256 {}",
            args.out.display(),
            rows,
            manifest.objects.len(),
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
    fail_on_findings: bool,
}

impl Plan {
    fn new(args: &AuditArgs, file: &LoadedFile) -> Result<Plan, Error> {
        let rules = Rules::from_sources(&args.rules, file)?;
        let as_of = config::as_of(args.as_of.as_deref())?;
        let roster = rules.roster.as_deref().map(Roster::load).transpose()?;
        Ok(Plan { rules, roster, as_of, fail_on_findings: args.fail_on_findings })
    }

    /// Analyses the snapshot in `staging/snapshot`, renders into `staging`, and swaps it into place.
    fn finish(&self, staging: Staging) -> Result<ExitCode, Error> {
        let loaded = snapshot::load(&staging.path().join(SNAPSHOT_DIR))?;
        let audit = analysis::analyse(
            &loaded,
            &Inputs { rules: &self.rules, roster: self.roster.as_ref(), as_of: self.as_of },
        )?;
        render::render_all(&audit, staging.path())?;
        let out = staging.target().to_path_buf();
        staging.commit(REPORT_KIND, REPORT_MARKER)?;
        print_summary(&audit, &out);
        Ok(if self.fail_on_findings && audit.findings() > 0 { ExitCode::Findings } else { ExitCode::Ok })
    }
}

fn report(args: ReportArgs, file: &LoadedFile) -> Result<ExitCode, Error> {
    let plan = Plan::new(&args.audit, file)?;
    // The source must verify before anything is written.
    let verified = snapshot::verify(&args.snapshot)?;
    let staging = Staging::new(&args.out, REPORT_KIND, REPORT_MARKER)?;
    copy_snapshot(&args.snapshot, &verified.manifest, &staging.path().join(SNAPSHOT_DIR))?;
    plan.finish(staging)
}

fn pull_and_report(args: RunArgs, file: &LoadedFile, started: Instant) -> Result<ExitCode, Error> {
    let config = SalesforceConfig::from_sources(&args.salesforce, file)?;
    let plan = Plan::new(&args.audit, file)?;
    let floor = config.min_api_remaining;
    let staging = Staging::new(&args.out, REPORT_KIND, REPORT_MARKER)?;
    let snapshot_dir = staging.path().join(SNAPSHOT_DIR);
    let previous = args.out.join(SNAPSHOT_DIR);
    let max_run = config.max_run;
    runtime()?.block_on(async {
        let http = http::client(&config.http)?;
        within_deadline(started, max_run, async {
            let client = Client::connect(config, http).await?;
            let limit = client.check_quota(floor, snapshot::estimate_requests(Some(&previous))).await?;
            let manifest = snapshot::pull_into(&client, &snapshot_dir, limit).await?;
            tracing::info!("pulled {} objects with {} API requests", manifest.objects.len(), manifest.api.requests);
            Ok(())
        })
        .await
    })?;
    plan.finish(staging)
}

/// Copies exactly the files the manifest lists (and the manifest), so the evidence travels with the reports.
fn copy_snapshot(from: &Path, manifest: &snapshot::Manifest, to: &Path) -> Result<(), OutputError> {
    std::fs::create_dir_all(to).map_err(io_err(to))?;
    for name in manifest.objects.iter().map(|o| o.file.as_str()).chain([snapshot::MANIFEST]) {
        std::fs::copy(from.join(name), to.join(name)).map_err(io_err(&to.join(name)))?;
    }
    Ok(())
}

fn print_summary(audit: &Audit, out: &Path) {
    tracing::info!("reports written to {}", out.display());
    for report in &audit.reports {
        tracing::info!("  {:<28} {:>7}", report.kind.title(), report.rows.len());
    }
}

fn verify(args: VerifyArgs) -> Result<ExitCode, Error> {
    let verified = snapshot::verify(&args.snapshot)?;
    println!(
        "ok: {} files, {} rows, org {} pulled at {}; manifest SHA-256 {}",
        verified.manifest.objects.len(),
        verified.rows,
        verified.manifest.org.id,
        verified.manifest.pulled_at,
        verified.manifest_sha256
    );
    Ok(ExitCode::Ok)
}

fn show_config(args: ConfigArgs, file: &LoadedFile) -> Result<ExitCode, Error> {
    print!("{}", config::describe(&args.salesforce, &args.rules, file)?);
    Ok(ExitCode::Ok)
}
