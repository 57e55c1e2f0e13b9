//! The subcommands, each a straight run through the pipeline's stages:
//! config → auth → pull → snapshot → analyse → render → (atomic) deliver → mail.
//!
//! Every command returns an [`Outcome`]: its exit code and, for `--json`, its result. A report
//! run (`run`, `report`) writes either one exact folder (`--out`) or a new dated run of the org
//! (`--reviews`, [`deliver::reviews`]), emails the digest once the folder is committed, and, with
//! `--email-on-failure`, sends a short notice when it fails instead.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::analysis::{self, Inputs};
use crate::changes::Previous;
use crate::cli::{
    AuditArgs, Cli, Command, ConfigArgs, DeliveryArgs, PullArgs, ReportArgs, ReviewArgs, RunArgs, SendArgs, SplitBy,
    VerifyArgs,
};
use crate::config::apps::AppConfig;
use crate::config::{self, Destination, EmailConfig, LoadedFile, Rules, SalesforceConfig};
use crate::deliver::email::{self as mail, message::LastGood};
use crate::deliver::{self, OrgReviews, ReportFolder, ReviewFolder, Staging, io_err};
use crate::exclusions::Exclusions;
use crate::exit::ExitCode;
use crate::model::Audit;
use crate::roster::Roster;
use crate::salesforce::{Client, SalesforceError};
use crate::snapshot::apps::AppPull;
use crate::{Error, changes, http, render, report_folder, review, scim, snapshot};

/// Where the evidence goes inside a report folder.
pub const SNAPSHOT_DIR: &str = snapshot::REPORT_SNAPSHOT;

/// How a command ended: its exit code, a line about it (for exit 1), and its result for `--json`.
#[derive(Debug)]
pub struct Outcome {
    pub code: ExitCode,
    pub message: Option<String>,
    pub result: Value,
}

impl Outcome {
    fn ok(result: Value) -> Outcome {
        Outcome { code: ExitCode::Ok, message: None, result }
    }
}

/// Runs one command to completion.
pub fn run(cli: Cli) -> Result<Outcome, Error> {
    let started = Instant::now();
    let file = LoadedFile::load(cli.config.as_deref())?;
    match cli.command {
        Command::Pull(args) => pull(args, &file, started),
        Command::Report(args) => {
            let delivery = Delivery::new(&args.delivery, args.out.as_deref(), &file)?;
            delivery.guard(|known| report(&args, &file, &delivery, known))
        }
        Command::Run(args) => {
            let delivery = Delivery::new(&args.delivery, args.out.as_deref(), &file)?;
            delivery.guard(|known| pull_and_report(&args, &file, &delivery, started, known))
        }
        Command::Verify(args) => verify(args),
        Command::Review(args) => review(args),
        Command::Config(args) => show_config(args, &file),
        Command::Send(args) => send(args, &file),
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

fn pull(args: PullArgs, file: &LoadedFile, started: Instant) -> Result<Outcome, Error> {
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
        Ok(Outcome::ok(json!({
            "command": "pull",
            "out": args.out,
            "org": { "id": manifest.org.id, "name": manifest.org.name },
            "objects": manifest.objects.iter().map(|o| json!({ "object": o.object, "rows": o.rows })).collect::<Vec<_>>(),
            "apps": manifest.apps.iter().map(|a| json!({
                "name": a.name,
                "resources": a.resources.iter().map(|r| json!({ "resource": r.resource, "rows": r.rows })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "rows": rows,
            "api_requests": manifest.api.requests,
            "manifest_sha256": sha,
        })))
    })
}

/// Everything a report needs besides the data, checked before any work is done.
struct Plan {
    rules: Rules,
    roster: Option<Roster>,
    exclusions: Option<Exclusions>,
    /// The previous review to compare with (`--previous`).
    previous: Option<Previous>,
    /// `--no-previous`: no previous review, not even one found among dated runs.
    no_previous: bool,
    split_by_manager: bool,
    as_of: chrono::DateTime<chrono::Utc>,
    allow_empty: bool,
    fail_on_findings: bool,
}

impl Plan {
    fn new(args: &AuditArgs, file: &LoadedFile) -> Result<Plan, Error> {
        let rules = Rules::from_sources(&args.rules, file)?;
        let as_of = config::as_of_checked(args, chrono::Utc::now())?;
        let roster = rules.roster.as_deref().map(Roster::load).transpose()?;
        let exclusions = rules.exclusions.as_deref().map(Exclusions::load).transpose()?;
        // With `--reviews`, a previous review is also found by itself ([`Plan::found_previous`]).
        let previous = args.previous.as_deref().map(Previous::load).transpose()?;
        Ok(Plan {
            rules,
            roster,
            exclusions,
            previous,
            no_previous: args.no_previous,
            split_by_manager: args.split_by == Some(SplitBy::Manager),
            as_of,
            allow_empty: args.allow_empty,
            fail_on_findings: args.fail_on_findings,
        })
    }

    /// The previous review found by itself: with `--reviews` and neither `--previous` nor
    /// `--no-previous`, the latest earlier run of the same org ([`changes::latest_earlier_run`]).
    fn found_previous(&self, target: &Target) -> Result<Option<Previous>, Error> {
        let Some(reviews) = target.reviews.as_ref().filter(|_| self.previous.is_none() && !self.no_previous) else {
            return Ok(None);
        };
        let Some(dir) = changes::latest_earlier_run(reviews.dir(), &target.dir) else {
            return Ok(None);
        };
        tracing::info!("comparing with the previous review {} (--no-previous to skip)", dir.display());
        Ok(Some(Previous::load(&dir)?))
    }

    /// Analyses the snapshot already in `staging/snapshot`, writes the reports into `staging`
    /// (each file recorded in the folder's file list), and swaps it into place.
    fn finish(
        &self,
        mut staging: Staging,
        loaded: snapshot::Loaded,
        previous: Option<&Previous>,
    ) -> Result<(Audit, Vec<String>), Error> {
        let mut audit = analysis::analyse(
            &loaded,
            &Inputs {
                rules: &self.rules,
                roster: self.roster.as_ref(),
                as_of: self.as_of,
                allow_empty: self.allow_empty,
                exclusions: self.exclusions.as_ref(),
            },
        )?;
        if let Some(previous) = previous {
            changes::compare(&mut audit, previous)?;
        }
        audit.meta.split_by_manager = self.split_by_manager;
        audit.seal();
        let files = render::render_all(&audit, |file| staging.write(&file.name, &file.bytes).map_err(Error::from))?;
        let out = staging.target().to_path_buf();
        staging.commit()?;
        print_summary(&audit, &out);
        Ok((audit, files))
    }
}

/// Where a report run writes and who is told, validated before any work is done.
struct Delivery {
    destination: Destination,
    email: Option<EmailConfig>,
    /// The run's start (UTC): the name of a `--reviews` run.
    started_at: chrono::DateTime<chrono::Utc>,
}

/// What a report run has learned so far, for its failure notice.
#[derive(Debug, Default)]
struct Known {
    /// The org's name or Id.
    org: Option<String>,
    /// Where the last good report is: the `--out` folder, or the org's `latest` link.
    last_good: Option<PathBuf>,
}

/// Where a report run writes: the folder, and the org's locked reviews when it is a dated run.
struct Target {
    dir: PathBuf,
    reviews: Option<OrgReviews>,
}

impl Delivery {
    fn new(args: &DeliveryArgs, out: Option<&Path>, file: &LoadedFile) -> Result<Delivery, Error> {
        let email = EmailConfig::from_sources(&args.email, args.email_on_failure, file)?;
        let destination = Destination::from_sources(out, args, file)?;
        Ok(Delivery { destination, email, started_at: chrono::Utc::now() })
    }

    /// Runs a report run; when it fails and `--email-on-failure` is on, sends the notice (unless
    /// what failed was the email itself), then returns the failure as it was.
    fn guard(&self, work: impl FnOnce(&mut Known) -> Result<Outcome, Error>) -> Result<Outcome, Error> {
        let mut known = Known::default();
        match &self.destination {
            Destination::Out(dir) => known.last_good = Some(dir.clone()),
            Destination::Reviews { root, org_name: Some(org), .. } => {
                known.org = Some(org.clone());
                known.last_good = Some(root.join(org));
            }
            Destination::Reviews { .. } => {}
        }
        let result = work(&mut known);
        if let (Err(e), Some(email)) = (&result, &self.email)
            && email.on_failure
            && e.exit_code() != ExitCode::Mail
        {
            notify(email, &known, e);
        }
        result
    }

    /// The folder this run writes, locking the org's reviews for a dated run.
    fn target(&self, org: impl FnOnce() -> Option<String>, known: &mut Known) -> Result<Target, Error> {
        match &self.destination {
            Destination::Out(dir) => Ok(Target { dir: dir.clone(), reviews: None }),
            Destination::Reviews { root, org_name, .. } => {
                let org = match org_name.clone().or_else(org) {
                    Some(org) => org,
                    None => {
                        return Err(config::ConfigError::Invalid(
                            "cannot tell the org's Id from the login: set --org-name (org_name under [output]) for --reviews"
                                .into(),
                        )
                        .into());
                    }
                };
                deliver::reviews::check_org_name(&org)
                    .map_err(|e| config::ConfigError::Invalid(format!("the org's folder name: {e}")))?;
                known.org = Some(org.clone());
                known.last_good = Some(root.join(&org));
                let reviews = OrgReviews::lock(root, &org)?;
                Ok(Target { dir: reviews.next_run(self.started_at), reviews: Some(reviews) })
            }
        }
    }

    /// After the commit: `latest` and `--keep` for a dated run, then the email.
    fn deliver(&self, plan: &Plan, audit: &Audit, files: Vec<String>, target: Target) -> Result<Outcome, Error> {
        let Target { dir, reviews } = target;
        let mut result = run_result(audit, &dir, files);
        if let Some(reviews) = &reviews {
            reviews.point_latest(&dir)?;
            let keep = match &self.destination {
                Destination::Reviews { keep, .. } => *keep,
                Destination::Out(_) => None,
            };
            let pruned = keep.map(|k| reviews.prune(k)).transpose()?.unwrap_or_default();
            tracing::info!("{} is the latest run of {}", dir.display(), reviews.org());
            result["reviews"] = json!({
                "org": reviews.org(),
                "org_dir": reviews.dir(),
                "latest": reviews.dir().join(deliver::reviews::LATEST),
                "removed": pruned.removed,
                "kept_with_decisions": pruned.kept_edited,
                "kept_not_ours": pruned.kept_foreign,
            });
        }
        if let Some(email) = &self.email {
            let sent = mail::message::digest(email, &dir, &dir)
                .and_then(|outgoing| mail::send(email, outgoing))
                .map_err(|e| e.with_reports(dir.clone()))?;
            result["email"] = serde_json::to_value(&sent).expect("serialisable");
        }
        drop(reviews);
        let findings = audit.findings();
        Ok(if plan.fail_on_findings && findings > 0 {
            Outcome {
                code: ExitCode::Findings,
                message: Some(format!("{findings} findings present (--fail-on-findings)")),
                result,
            }
        } else {
            Outcome::ok(result)
        })
    }
}

/// Sends the notice of a failed run; a notice that cannot be sent is a warning, never a second error.
fn notify(email: &EmailConfig, known: &Known, e: &Error) {
    let code = e.exit_code();
    let org = known.org.clone().unwrap_or_else(|| "an org not yet identified (the run failed before)".to_string());
    let last_good = known.last_good.as_deref().and_then(|p| {
        // An org folder of dated runs: its `latest`.
        let dir =
            if p.join(deliver::reviews::LATEST).exists() { deliver::reviews::latest(p)? } else { p.to_path_buf() };
        LastGood::at(&dir)
    });
    let sent =
        mail::message::failure_notice(email, &org, &format!("{e:#}"), code.code(), code.meaning(), last_good.as_ref())
            .and_then(|notice| mail::send(email, notice));
    match sent {
        Ok(_) => tracing::info!(
            "sent the failure notice to {}",
            email.to.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", ")
        ),
        Err(n) => tracing::warn!("the failure notice could not be sent either: {n:#}"),
    }
}

/// The result of a report run, for `--json`.
fn run_result(audit: &Audit, dir: &Path, files: Vec<String>) -> Value {
    let reports: serde_json::Map<String, Value> =
        audit.reports.iter().map(|r| (r.kind.slug().to_string(), json!(r.rows.len()))).collect();
    json!({
        "out": dir,
        "org": { "id": audit.meta.org_id, "name": audit.meta.org_name },
        "as_of": render::rfc3339(audit.meta.as_of),
        "reports": reports,
        "findings": audit.findings(),
        "apps": audit.apps.iter().map(|a| {
            let reports: serde_json::Map<String, Value> =
                a.reports.iter().map(|r| (r.kind.slug().to_string(), json!(r.rows.len()))).collect();
            json!({ "name": a.name, "reports": reports, "scim_crosscheck": a.crosscheck.as_ref().map(Vec::len) })
        }).collect::<Vec<_>>(),
        "manifest_sha256": audit.meta.manifest_sha256,
        "files": files,
    })
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

fn report(args: &ReportArgs, file: &LoadedFile, delivery: &Delivery, known: &mut Known) -> Result<Outcome, Error> {
    let plan = Plan::new(&args.audit, file)?;
    // The evidence is never written into, and never inside what the reports replace.
    if let Destination::Out(out) = &delivery.destination {
        deliver::check_apart(&args.snapshot, out)?;
    }
    // The source must verify before anything is written.
    let verified = snapshot::verify(&args.snapshot)?;
    warn_unresolved(&verified);
    let org_id = verified.manifest.org.id.clone();
    let target = delivery.target(|| Some(org_id), known)?;
    if target.reviews.is_some() {
        deliver::check_apart(&args.snapshot, &target.dir)?;
    }
    let (mut staging, dir) = report_staging(&target.dir)?;
    for (name, bytes, sha256) in snapshot::copy_verified(&verified, &args.snapshot, &dir)? {
        staging.record(&format!("{SNAPSHOT_DIR}/{name}"), bytes, sha256);
    }
    // What was copied is what was verified, byte for byte: it is read without a second check.
    let found = plan.found_previous(&target)?;
    let previous = plan.previous.as_ref().or(found.as_ref());
    let (audit, files) = plan.finish(staging, snapshot::load_copy(verified, &dir, &args.snapshot), previous)?;
    delivery.deliver(&plan, &audit, files, target)
}

/// ` and 2 applications` (after `joiner`) for the log, when the snapshot holds any.
fn apps_pulled(manifest: &snapshot::Manifest, joiner: &str) -> String {
    match manifest.apps.len() {
        0 => String::new(),
        1 => format!("{joiner} 1 application"),
        n => format!("{joiner} {n} applications"),
    }
}

fn pull_and_report(
    args: &RunArgs,
    file: &LoadedFile,
    delivery: &Delivery,
    started: Instant,
    known: &mut Known,
) -> Result<Outcome, Error> {
    let config = SalesforceConfig::from_sources(&args.salesforce, file)?;
    let apps = config::apps::selected(&args.apps, file)?;
    let plan = Plan::new(&args.audit, file)?;
    let floor = config.min_api_remaining;
    let max_run = config.max_run;
    // A bad --out (or a busy org) fails before any request; a dated run of an org named only by
    // its Id learns the Id from the login first.
    let early = match &delivery.destination {
        Destination::Out(_) | Destination::Reviews { org_name: Some(_), .. } => {
            let target = delivery.target(|| None, known)?;
            let (staging, dir) = report_staging(&target.dir)?;
            Some((target, staging, dir))
        }
        Destination::Reviews { org_name: None, .. } => None,
    };
    let (target, mut staging, snapshot_dir) = runtime()?.block_on(within_deadline(
        started,
        max_run,
        connected(config, &apps, async |client, apps| {
            let (target, staging, snapshot_dir) = match early {
                Some(staged) => staged,
                None => {
                    let hint = client.org_id_hint().await.map(|id| deliver::reviews::case_safe_id(&id));
                    let target = delivery.target(|| hint, known)?;
                    let (staging, dir) = report_staging(&target.dir)?;
                    (target, staging, dir)
                }
            };
            let previous = previous_snapshot(&target);
            let limit = client.check_quota(floor, snapshot::estimate_requests(previous.as_deref())).await?;
            let manifest = snapshot::pull_into(client, &snapshot_dir, limit, apps).await?;
            tracing::info!(
                "pulled {} objects{} with {} API requests",
                manifest.objects.len(),
                apps_pulled(&manifest, " and"),
                manifest.api.requests
            );
            Ok((target, staging, snapshot_dir))
        }),
    ))?;
    let shown = target.dir.join(SNAPSHOT_DIR);
    // Checked like any snapshot; messages name where the user will find it, not the staging folder.
    let loaded = snapshot::load_as(&snapshot_dir, &shown)?;
    warn_unresolved(&loaded.verified);
    if let Some(reviews) = &target.reviews
        && reviews.org() != loaded.verified.manifest.org.id
        && known.org.as_deref() == Some(reviews.org())
        && reviews.org().starts_with("00D")
    {
        tracing::warn!(
            "the login named org {}, the pull org {}: this run is filed under {}",
            reviews.org(),
            loaded.verified.manifest.org.id,
            reviews.dir().display()
        );
    }
    let verified = &loaded.verified;
    let files = verified.manifest.member_files().into_iter();
    for (name, sha256) in files.chain([(snapshot::MANIFEST, verified.manifest_sha256.as_str())]) {
        let path = snapshot_dir.join(name);
        let bytes = std::fs::metadata(&path).map_err(io_err(&path))?.len();
        staging.record(&format!("{SNAPSHOT_DIR}/{name}"), bytes, sha256.to_string());
    }
    let found = plan.found_previous(&target)?;
    let previous = plan.previous.as_ref().or(found.as_ref());
    let (audit, files) = plan.finish(staging, loaded, previous)?;
    delivery.deliver(&plan, &audit, files, target)
}

/// The snapshot of the previous run in the same place, for the quota estimate.
fn previous_snapshot(target: &Target) -> Option<PathBuf> {
    match &target.reviews {
        None => Some(target.dir.join(SNAPSHOT_DIR)),
        Some(reviews) => reviews.latest().map(|run| run.join(SNAPSHOT_DIR)),
    }
}

fn print_summary(audit: &Audit, out: &Path) {
    tracing::info!("reports written to {} (run {})", out.display(), audit.meta.run_id);
    for report in &audit.reports {
        tracing::info!("  {:<28} {:>7}", report.kind.title(), report.rows.len());
    }
    for app in &audit.apps {
        for report in &app.reports {
            tracing::info!("  {:<28} {:>7}", render::apps::report_title(app, report.kind), report.rows.len());
        }
        if let Some(rows) = &app.crosscheck {
            tracing::info!("  {:<28} {:>7}", render::apps::CROSSCHECK_TITLE, rows.len());
        }
    }
    if let Some(changes) = &audit.changes {
        let t = changes.total();
        tracing::info!(
            "  since the previous review: {} new, {} persisting, {} resolved, {} not done",
            t.new,
            t.persisting,
            t.resolved,
            t.not_done
        );
    }
    if let Some(exclusions) = &audit.exclusions {
        tracing::info!("  exclusions listed: {}", exclusions.len());
    }
}

fn verify(args: VerifyArgs) -> Result<Outcome, Error> {
    let verified = snapshot::verify(&args.snapshot)?;
    warn_unresolved(&verified);
    let line = format!(
        "ok: {} files, {} rows, org {} pulled at {}{}; manifest SHA-256 {}",
        verified.manifest.member_files().len(),
        verified.rows,
        verified.manifest.org.id,
        verified.manifest.pulled_at,
        apps_pulled(&verified.manifest, ", with"),
        verified.manifest_sha256
    );
    if !crate::envelope::enabled() {
        println!("{line}");
    }
    Ok(Outcome::ok(json!({
        "command": "verify",
        "snapshot": args.snapshot,
        "files": verified.manifest.member_files().len(),
        "rows": verified.rows,
        "apps": verified.manifest.apps.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        "org": { "id": verified.manifest.org.id, "name": verified.manifest.org.name },
        "pulled_at": verified.manifest.pulled_at,
        "manifest_sha256": verified.manifest_sha256,
        "unresolved": verified.unresolved,
    })))
}

/// Reads the completed workbook(s) of a report folder back and writes `DIR/review/`.
///
/// The folder's reports and evidence are checked first (each file against the SHA-256 its file
/// list recorded, the snapshot as `verify` checks it); the snapshot is analysed again with the
/// run's own rules, for the Ids the remediation files name. Nothing in the folder is changed but
/// `review/`, which appears whole or not at all.
fn review(args: ReviewArgs) -> Result<Outcome, Error> {
    let folder = report_folder::Folder::open(&args.dir).map_err(review::ReviewError::from)?;
    let snapshot_dir = args.dir.join(SNAPSHOT_DIR);
    let loaded = snapshot::load(&snapshot_dir)?;
    warn_unresolved(&loaded.verified);
    let expected = folder.manifest_sha256();
    if loaded.verified.manifest_sha256 != expected {
        return Err(review::ReviewError::OtherSnapshot {
            dir: snapshot_dir,
            found: loaded.verified.manifest_sha256.clone(),
            expected,
        }
        .into());
    }
    let rules = Rules::recorded(&folder.summary["rules"])?;
    let as_of = chrono::DateTime::parse_from_rfc3339(&folder.summary_text(&["as_of"]))
        .map_err(|_| config::ConfigError::Invalid("the run's summary.json has no valid as_of".into()))?
        .to_utc();
    let audit = analysis::analyse(
        &loaded,
        &Inputs { rules: &rules, roster: None, as_of, allow_empty: true, exclusions: None },
    )?;
    let record = review::check(&folder, &review::Holdings::from_audit(&audit))?;
    let mut staging = Staging::new(&args.dir.join(deliver::REVIEW_DIR), &ReviewFolder)?;
    for (name, bytes) in &record.files {
        staging.write(name, bytes)?;
    }
    staging.commit()?;
    if !crate::envelope::enabled() {
        print!("{}", record.text);
    }
    let (code, message) = match (record.signoff.belongs, record.signoff.complete) {
        (false, _) => {
            (ExitCode::ReviewMismatch, Some("a workbook does not belong to the run (see review/)".to_string()))
        }
        (true, false) => (ExitCode::ReviewIncomplete, Some("the review is incomplete (see review/)".to_string())),
        (true, true) => (ExitCode::Ok, None),
    };
    let result = json!({
        "command": "review",
        "folder": args.dir,
        "review": args.dir.join(deliver::REVIEW_DIR),
        "signoff": serde_json::to_value(&record.signoff).unwrap_or(Value::Null),
    });
    Ok(Outcome { code, message, result })
}

fn show_config(args: ConfigArgs, file: &LoadedFile) -> Result<Outcome, Error> {
    let text = config::describe(&args.salesforce, &args.rules, file)?;
    if !crate::envelope::enabled() {
        print!("{text}");
    }
    // The same settings as a JSON object (the comments, such as where secrets come from, stay in the text).
    // (A setting that is not set reads `key = # not set`: left out here.)
    let set: String = text.lines().filter(|l| !l.contains("= #")).map(|l| format!("{l}\n")).collect();
    let table: Value =
        toml::from_str::<toml::Value>(&set).ok().and_then(|t| serde_json::to_value(t).ok()).unwrap_or(Value::Null);
    Ok(Outcome::ok(json!({ "command": "config", "config": table, "text": text })))
}

fn send(args: SendArgs, file: &LoadedFile) -> Result<Outcome, Error> {
    let Some(email) = EmailConfig::from_sources(&args.email, false, file)? else {
        return Err(config::ConfigError::Invalid(
            "send needs at least one --email-to (or to = [...] under [email])".into(),
        )
        .into());
    };
    // `reviews/acme/latest` is shown as the run it points at.
    let dir = std::fs::canonicalize(&args.folder).unwrap_or_else(|_| args.folder.clone());
    let outgoing = mail::message::digest(&email, &dir, &dir)?;
    let sent = mail::send(&email, outgoing)?;
    Ok(Outcome::ok(json!({ "command": "send", "folder": dir, "email": sent })))
}
