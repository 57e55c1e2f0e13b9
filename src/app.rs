//! The subcommands, each a straight run through the pipeline's stages:
//! config → auth → pull → snapshot → analyse → render → (atomic) deliver → mail.
//!
//! Every command returns an [`Outcome`]: its exit code and, for `--json`, its result. A report
//! run (`run`, `report`) writes either one exact folder (`--out`) or a new dated run of the org
//! (`--reviews`, [`deliver::reviews`]), emails the digest once the folder is committed, and, with
//! `--email-on-failure`, sends a short notice when it fails instead.
//!
//! A run may be about several orgs (`--all-orgs`, `orgs` under `[run]`, [`crate::orgs`]): each
//! org runs as a run of its own into its own folder (`--out DIR/<org>`, `--reviews DIR/<org>/…`),
//! `--org-concurrency` of them at once, without an email of its own; then the combined summary
//! ([`crate::combined`]) is written beside them, in `DIR/all-orgs`, and sent as the run's one
//! email. An org that fails is marked failed in it, the others still report, and the run exits
//! with [`ExitCode::OrgsFailed`].

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::analysis::{self, Inputs};
use crate::changes::Previous;
use crate::cli::{
    AuditArgs, Cli, Command, ConfigArgs, DeliveryArgs, DoctorArgs, InitArgs, PullArgs, ReportArgs, ReviewArgs, RunArgs,
    SendArgs, SplitBy, VerifyArgs,
};
use crate::combined::{Combined, OrgDigest, OrgOutcome, Previous as PreviousCounts};
use crate::config::apps::AppConfig;
use crate::config::{self, COMBINED_NAME, Destination, EmailConfig, LoadedFile, Rules, SalesforceConfig};
use crate::deliver::email::{self as mail, message::LastGood};
use crate::deliver::{self, OrgReviews, ReportFolder, ReviewFolder, Staging, io_err};
use crate::exclusions::Exclusions;
use crate::exit::ExitCode;
use crate::model::Audit;
use crate::orgs::{self, Org, OrgSource};
use crate::roster::Roster;
use crate::salesforce::{Client, SalesforceError};
use crate::snapshot::apps::AppPull;
use crate::text::visible;
use crate::{Error, changes, doctor, http, init, render, report_folder, review, scim, snapshot};

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
    // `init` writes the file the others read: it must not need one.
    if let Command::Init(args) = &cli.command {
        return init(args, cli.config.as_deref());
    }
    let file = LoadedFile::load(cli.config.as_deref())?;
    // Progress bars only for a person watching: a terminal, and not --quiet.
    let progress = !cli.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
    match cli.command {
        Command::Pull(args) => pull(args, &file, started, progress),
        Command::Report(args) => {
            let org = report_org(&args, &file)?;
            let delivery = Delivery::new(&args.delivery, args.out.as_deref(), &file, org.folder())?;
            delivery.guard(|known| report(&args, &file, &org, &delivery, known))
        }
        Command::Run(args) => match orgs::several(args.orgs.all_orgs, &args.org, &file)? {
            Some(orgs) => run_several(&args, &file, &orgs, started),
            None => {
                let org = Org::target(&args.org, &file);
                let apps = config::apps::selected(&args.apps, &file)?;
                let delivery = Delivery::new(&args.delivery, args.out.as_deref(), &file, org.folder())?;
                delivery.guard(|known| {
                    let (config, _) = org.connection(&args.salesforce, &args.org, &file)?;
                    let plan = Plan::new(&args.audit, org.rules(&args.audit.rules, &file)?, None)?;
                    pull_and_report(config, &plan, &apps, &delivery, started, known, progress)
                        .map(|(outcome, _)| outcome)
                })
            }
        },
        Command::Verify(args) => verify(args),
        Command::Review(args) => review(args),
        Command::Config(args) => show_config(args, &file),
        Command::Doctor(args) => doctor(args, &file, started),
        Command::Send(args) => send(args, &file),
        Command::Init(_) => unreachable!("answered above"),
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

fn pull(args: PullArgs, file: &LoadedFile, started: Instant, progress: bool) -> Result<Outcome, Error> {
    let (config, _) = Org::target(&args.org, file).connection(&args.salesforce, &args.org, file)?;
    let apps = config::apps::selected(&args.apps, file)?;
    let floor = config.min_api_remaining;
    let options = snapshot::PullOptions { settings: config.pull, progress };
    let max_run = config.max_run;
    runtime()?.block_on(async {
        let manifest = within_deadline(
            started,
            max_run,
            connected(config, &apps, async |client, apps| Ok(snapshot::pull(client, &args.out, floor, options, apps).await?)),
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

/// `doctor`: every check of the login, one line each on stdout; exit 11 when one fails.
fn doctor(args: DoctorArgs, file: &LoadedFile, started: Instant) -> Result<Outcome, Error> {
    let (config, _) = Org::target(&args.org, file).connection(&args.salesforce, &args.org, file)?;
    let settings = doctor::Settings { floor: config.min_api_remaining, pull: config.pull };
    let max_run = config.max_run;
    let (report, spent) = runtime()?.block_on(within_deadline(
        started,
        max_run,
        connected(config, &[], async |client, _| {
            let report = doctor::doctor(client, settings).await?;
            Ok((report, client.api_requests()))
        }),
    ))?;
    if !crate::envelope::enabled() {
        for check in &report.checks {
            println!("{}", visible(&check.line()));
        }
    }
    let missing: Vec<&str> = report.missing().map(|c| c.check.as_str()).collect();
    let result = json!({
        "command": "doctor",
        "checks": report.checks,
        "api_requests": report.api_requests.map(|l| json!({ "remaining": l.remaining, "max": l.max })),
        "missing": missing.len(),
        "api_requests_spent": spent,
    });
    if missing.is_empty() {
        return Ok(Outcome::ok(result));
    }
    let message =
        visible(&format!("{} of {} checks failed: {}", missing.len(), report.checks.len(), missing.join(", ")))
            .into_owned();
    tracing::error!("{message}");
    Ok(Outcome { code: ExitCode::ChecksFailed, message: Some(message), result })
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
    /// The plan of one org's report: its `rules`, and the as-of instant (`as_of` when a run of
    /// several fixed one for all its orgs).
    fn new(args: &AuditArgs, rules: Rules, as_of: Option<chrono::DateTime<chrono::Utc>>) -> Result<Plan, Error> {
        let as_of = match as_of {
            Some(t) => t,
            None => config::as_of_checked(args, chrono::Utc::now())?,
        };
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
        let started = Instant::now();
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
        tracing::debug!("analysed in {:.2?}", started.elapsed());
        let files = render::render_all(&audit, |file| staging.write(&file.name, &file.bytes).map_err(Error::from))?;
        let out = staging.target().to_path_buf();
        let committing = Instant::now();
        staging.commit()?;
        tracing::debug!("committed {} in {:.2?}", out.display(), committing.elapsed());
        print_summary(&audit, &out);
        Ok((audit, files))
    }
}

/// Where a report run writes and who is told, validated before any work is done.
struct Delivery {
    place: Place,
    /// The org's folder name under `--reviews` (or a run of several's `--out`); None: its Id,
    /// learned at login.
    org_name: Option<String>,
    email: Option<EmailConfig>,
    /// The run's start (UTC): the name of a `--reviews` run.
    started_at: chrono::DateTime<chrono::Utc>,
}

/// Where the folder of a report run is.
#[derive(Debug, Clone)]
enum Place {
    /// `--out DIR`: exactly that folder.
    Out(PathBuf),
    /// `--out DIR` of a run of several: `DIR/<org>`.
    OutUnder(PathBuf),
    /// `--reviews DIR`: a new dated run `DIR/<org>/<stamp>`.
    Reviews { root: PathBuf, keep: Option<usize> },
}

/// What a report run has learned so far, for its failure notice and a run of several's summary.
#[derive(Debug, Default)]
struct Known {
    /// The org's name or Id.
    org: Option<String>,
    /// Where the last good report is: the `--out` folder, or the org's `latest` link.
    last_good: Option<PathBuf>,
    /// What the org's previous report said, read before this run replaced or followed it.
    previous: Option<PreviousCounts>,
}

/// Where a report run writes: the folder, and the org's locked reviews when it is a dated run.
struct Target {
    dir: PathBuf,
    reviews: Option<OrgReviews>,
}

impl Delivery {
    /// `target_name`: the org's name in the config or the Salesforce CLI (`--target-org`), its
    /// folder under `--reviews` unless `--org-name` says otherwise.
    fn new(
        args: &DeliveryArgs,
        out: Option<&Path>,
        file: &LoadedFile,
        target_name: Option<String>,
    ) -> Result<Delivery, Error> {
        let email = EmailConfig::from_sources(&args.email, args.email_on_failure, file)?;
        if let Some(name) = &args.org_name {
            config::check_org_folder_name(name).map_err(|e| config::ConfigError::Invalid(format!("--org-name {e}")))?;
        }
        let (place, org_name) = match Destination::from_sources(out, args, file)? {
            Destination::Out(dir) => (Place::Out(dir), None),
            Destination::Reviews { root, keep, org_name } => {
                (Place::Reviews { root, keep }, args.org_name.clone().or(target_name).or(org_name))
            }
        };
        Ok(Delivery { place, org_name, email, started_at: chrono::Utc::now() })
    }

    /// Runs a report run; when it fails and `--email-on-failure` is on, sends the notice (unless
    /// what failed was the email itself), then returns the failure as it was.
    fn guard(&self, work: impl FnOnce(&mut Known) -> Result<Outcome, Error>) -> Result<Outcome, Error> {
        let mut known = self.known();
        let result = work(&mut known);
        if let (Err(e), Some(email)) = (&result, &self.email)
            && email.on_failure
            && e.exit_code() != ExitCode::Mail
        {
            notify(email, &known, e);
        }
        result
    }

    /// What is known before the run: the org's name and folder when the command line or the
    /// config gives them.
    fn known(&self) -> Known {
        let mut known = Known::default();
        match (&self.place, &self.org_name) {
            (Place::Out(dir), _) => known.last_good = Some(dir.clone()),
            (Place::OutUnder(root) | Place::Reviews { root, .. }, Some(org)) => {
                known.org = Some(org.clone());
                known.last_good = Some(root.join(org));
            }
            (_, None) => {}
        }
        known
    }

    /// The folder this run writes, locking the org's reviews for a dated run; what the folder
    /// (or the org's latest run) said before is kept in `known.previous`.
    fn target(&self, org: impl FnOnce() -> Option<String>, known: &mut Known) -> Result<Target, Error> {
        let root = match &self.place {
            Place::Out(dir) => {
                known.previous = PreviousCounts::read(dir);
                return Ok(Target { dir: dir.clone(), reviews: None });
            }
            Place::OutUnder(root) | Place::Reviews { root, .. } => root,
        };
        let org = match self.org_name.clone().or_else(org) {
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
        match &self.place {
            Place::Reviews { .. } => {
                let reviews = OrgReviews::lock(root, &org)?;
                known.previous = reviews.latest().and_then(|run| PreviousCounts::read(&run));
                Ok(Target { dir: reviews.next_run(self.started_at), reviews: Some(reviews) })
            }
            _ => {
                let dir = root.join(&org);
                known.previous = PreviousCounts::read(&dir);
                Ok(Target { dir, reviews: None })
            }
        }
    }

    /// After the commit: `latest` and `--keep` for a dated run, then the email.
    fn deliver(
        &self,
        fail_on_findings: bool,
        findings: usize,
        result: Value,
        target: Target,
    ) -> Result<Outcome, Error> {
        let Target { dir, reviews } = target;
        let mut result = result;
        if let Some(reviews) = &reviews {
            reviews.point_latest(&dir)?;
            let keep = match &self.place {
                Place::Reviews { keep, .. } => *keep,
                Place::Out(_) | Place::OutUnder(_) => None,
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
        Ok(if fail_on_findings && findings > 0 {
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

/// The org `report --target-org` names: one of the config file's (a snapshot needs no login).
fn report_org(args: &ReportArgs, file: &LoadedFile) -> Result<Org, Error> {
    let org = Org::target(&crate::cli::OrgArgs { target_org: args.target_org.clone(), sf_bin: None }, file);
    if let OrgSource::SfCli(name) = &org.source {
        return Err(config::ConfigError::Invalid(format!(
            "report --target-org {}: {} has no [orgs.{0}] (report reads a snapshot: only an org of the configuration \
             file can lend it rules and a folder name)",
            visible(name),
            file.shown()
        ))
        .into());
    }
    Ok(org)
}

fn report(
    args: &ReportArgs,
    file: &LoadedFile,
    org: &Org,
    delivery: &Delivery,
    known: &mut Known,
) -> Result<Outcome, Error> {
    let plan = Plan::new(&args.audit, org.rules(&args.audit.rules, file)?, None)?;
    // The evidence is never written into, and never inside what the reports replace.
    if let Place::Out(out) = &delivery.place {
        deliver::check_apart(&args.snapshot, out)?;
    }
    // The source must verify before anything is written.
    let verifying = Instant::now();
    let verified = snapshot::verify(&args.snapshot)?;
    tracing::debug!("snapshot {} verified in {:.2?}", args.snapshot.display(), verifying.elapsed());
    warn_unresolved(&verified);
    let org_id = verified.manifest.org.id.clone();
    let target = delivery.target(|| Some(org_id), known)?;
    if target.reviews.is_some() {
        deliver::check_apart(&args.snapshot, &target.dir)?;
    }
    let (mut staging, dir) = report_staging(&target.dir)?;
    let copying = Instant::now();
    for (name, bytes, sha256) in snapshot::copy_verified(&verified, &args.snapshot, &dir)? {
        staging.record(&format!("{SNAPSHOT_DIR}/{name}"), bytes, sha256);
    }
    tracing::debug!("snapshot copied as evidence in {:.2?}", copying.elapsed());
    // What was copied is what was verified, byte for byte: it is read without a second check.
    let found = plan.found_previous(&target)?;
    let previous = plan.previous.as_ref().or(found.as_ref());
    let (audit, files) = plan.finish(staging, snapshot::load_copy(verified, &dir, &args.snapshot), previous)?;
    let result = run_result(&audit, &target.dir, files);
    delivery.deliver(plan.fail_on_findings, audit.findings(), result, target)
}

/// ` and 2 applications` (after `joiner`) for the log, when the snapshot holds any.
fn apps_pulled(manifest: &snapshot::Manifest, joiner: &str) -> String {
    match manifest.apps.len() {
        0 => String::new(),
        1 => format!("{joiner} 1 application"),
        n => format!("{joiner} {n} applications"),
    }
}

/// Pulls the org of `config` and reports it; hands back the outcome and the audit.
fn pull_and_report(
    config: SalesforceConfig,
    plan: &Plan,
    apps: &[AppConfig],
    delivery: &Delivery,
    started: Instant,
    known: &mut Known,
    progress: bool,
) -> Result<(Outcome, Audit), Error> {
    let floor = config.min_api_remaining;
    let options = snapshot::PullOptions { settings: config.pull, progress };
    let max_run = config.max_run;
    // A bad --out (or a busy org) fails before any request; a dated run of an org named only by
    // its Id learns the Id from the login first.
    let early = match (&delivery.place, &delivery.org_name) {
        (Place::Out(_), _) | (_, Some(_)) => {
            let target = delivery.target(|| None, known)?;
            let (staging, dir) = report_staging(&target.dir)?;
            Some((target, staging, dir))
        }
        (_, None) => None,
    };
    let (target, mut staging, snapshot_dir) = runtime()?.block_on(within_deadline(
        started,
        max_run,
        connected(config, apps, async |client, apps| {
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
            let manifest =
                snapshot::pull_into(client, &snapshot_dir, limit, previous.as_deref(), options, apps).await?;
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
    let result = run_result(&audit, &target.dir, files);
    let outcome = delivery.deliver(plan.fail_on_findings, audit.findings(), result, target)?;
    Ok((outcome, audit))
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
    let org = Org::target(&args.org, file);
    let mut text = String::new();
    if let OrgSource::SfCli(alias) = &org.source {
        // The Salesforce CLI's login, as the run would see it (never the token).
        let (config, login) = org.connection(&args.salesforce, &args.org, file)?;
        let login = login.expect("a Salesforce CLI org has its login");
        let line = |t: String| format!("# {}\n", visible(&t));
        text.push_str(&line(format!(
            "--target-org {alias}: the Salesforce CLI's login (sf org display), not the file's [salesforce]"
        )));
        text.push_str(&line(format!("  instance_url: {}", login.instance_url.as_str().trim_end_matches('/'))));
        text.push_str(&line(format!("  username: {}", login.username.as_deref().unwrap_or("(not said)"))));
        text.push_str(&line(format!("  org id: {}", login.org_id.as_deref().unwrap_or("(not said)"))));
        text.push_str(&line(format!(
            "  auth_flow: {}; the access token is used in memory, never printed or stored",
            config.credentials.flow_name()
        )));
    }
    let target = match &org.source {
        OrgSource::Config(name) => Some(name.as_str()),
        OrgSource::Default | OrgSource::SfCli(_) => None,
    };
    text.push_str(&config::describe(&args.salesforce, &args.rules, target, file)?);
    if !crate::envelope::enabled() {
        print!("{text}");
    }
    // The same settings as a JSON object (the comments, such as where secrets come from, stay in the text).
    let table: Value =
        toml::from_str::<toml::Value>(&text).ok().and_then(|t| serde_json::to_value(t).ok()).unwrap_or(Value::Null);
    Ok(Outcome::ok(json!({ "command": "config", "config": table, "text": text })))
}

/// `init`: the starter file, asking on a terminal only.
fn init(args: &InitArgs, path: Option<&Path>) -> Result<Outcome, Error> {
    use std::io::IsTerminal;
    let path = path.unwrap_or(Path::new(config::DEFAULT_CONFIG_FILE));
    let stdin = std::io::stdin();
    let written = if stdin.is_terminal() {
        let (mut input, mut output) = (stdin.lock(), std::io::stderr());
        init::init(
            path,
            args.login_url.as_deref(),
            args.auth_flow,
            Some(init::Terminal { input: &mut input, output: &mut output }),
        )?
    } else {
        init::init(path, args.login_url.as_deref(), args.auth_flow, None)?
    };
    if !crate::envelope::enabled() {
        let flow = toml::Value::try_from(written.auth_flow).map(|v| v.to_string()).unwrap_or_default();
        println!("wrote {}: login at {}, {} flow.", path.display(), written.login_url, flow.trim_matches('"'));
        if !written.asked {
            println!("(standard input is not a terminal, so nothing was asked: --login-url and --auth-flow choose.)");
        }
        println!("Fill in the lines marked FILL IN: {}.", written.fill_in.join(", "));
        if let Some(openssl) = written.openssl {
            println!("Make the JWT key and certificate, and upload access-audit.crt to the app:\n  {openssl}");
        }
        println!("Then check it with `access-audit config`, and run `access-audit run --out reports`.");
        println!(
            "An org the Salesforce CLI is logged in to needs none of this: `access-audit run --target-org ALIAS --out reports`."
        );
    }
    let file = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    Ok(Outcome::ok(json!({ "command": "init", "file": file, "init": written })))
}

/// A run of several orgs: each into its own folder, `--org-concurrency` at once, then the
/// combined summary beside them (`DIR/all-orgs`) and the run's one email.
fn run_several(args: &RunArgs, file: &LoadedFile, orgs: &[Org], started: Instant) -> Result<Outcome, Error> {
    orgs::check_shared_flags(&args.salesforce)?;
    if !args.apps.apps.is_empty() || args.apps.all_apps {
        // An application's accounts are matched to one org's users: against several, an account
        // would be an orphan in every org but its own.
        return Err(config::ConfigError::Invalid(
            "--app and --all-apps audit an application beside one org: run them with a single org, not several".into(),
        )
        .into());
    }
    if args.delivery.org_name.is_some() {
        return Err(config::ConfigError::Invalid(
            "--org-name names one org: in a run of several, each org's folder is its name in the config".into(),
        )
        .into());
    }
    let concurrency = orgs::concurrency(args.orgs.org_concurrency, file)?;
    let mut delivery = Delivery::new(&args.delivery, args.out.as_deref(), file, Some(COMBINED_NAME.to_string()))?;
    let per_org = match &delivery.place {
        Place::Out(root) => {
            let place = Place::OutUnder(root.clone());
            delivery.place = Place::OutUnder(root.clone());
            place
        }
        other => other.clone(),
    };
    // [output]'s org_name is one org's: the combined summary is always `all-orgs`.
    delivery.org_name = Some(COMBINED_NAME.to_string());
    // One instant for every org, so that their reports compare.
    let as_of = config::as_of_checked(&args.audit, chrono::Utc::now())?;
    let names: Vec<String> = orgs.iter().map(org_name).collect();
    let label = crate::combined::label(&names);
    delivery.guard(|known| {
        known.org = Some(label.clone());
        // The combined summary's folder first: a second run of several stops before any work.
        let target = delivery.target(|| None, known)?;
        known.org = Some(label.clone());
        let mut staging = Staging::new(&target.dir, &ReportFolder)?;
        tracing::info!("auditing {} orgs, {} at once: {label}", orgs.len(), concurrency.min(orgs.len()));
        let outcomes = each_org(orgs, concurrency, |org| {
            audit_one(org, args, file, &per_org, delivery.started_at, as_of, started)
        });
        let combined = Combined::new(as_of, outcomes);
        for file in render::combined::render(&combined)? {
            staging.write(&file.name, &file.bytes)?;
        }
        staging.commit()?;
        for o in &combined.orgs {
            match o {
                OrgOutcome::Reported(d) => {
                    tracing::info!("  {:<24} {:>7} findings  {}", d.name, d.findings, d.folder.display())
                }
                OrgOutcome::Failed { name, exit_code, error, .. } => {
                    tracing::error!("  {name:<24} FAILED (exit {exit_code}): {error}")
                }
            }
        }
        tracing::info!("combined summary written to {}", target.dir.display());
        let failed = combined.failed();
        let result = json!({
            "command": "run",
            "out": target.dir,
            "orgs": combined.orgs.iter().map(org_result).collect::<Vec<_>>(),
            "findings": combined.findings(),
            "failed": failed,
            "cross_org": { "people": combined.people.len(), "still_active_elsewhere": combined.still_active_elsewhere() },
        });
        let failures = || {
            let names: Vec<String> = combined
                .orgs
                .iter()
                .filter_map(|o| match o {
                    OrgOutcome::Failed { name, exit_code, .. } => Some(format!("{name} (exit {exit_code})")),
                    OrgOutcome::Reported(_) => None,
                })
                .collect();
            format!("{failed} of {} orgs failed: {}; the others reported", combined.orgs.len(), names.join(", "))
        };
        let out = target.dir.clone();
        match delivery.deliver(args.audit.fail_on_findings, combined.findings(), result.clone(), target) {
            Ok(outcome) if failed > 0 => {
                Ok(Outcome { code: ExitCode::OrgsFailed, message: Some(failures()), result: outcome.result })
            }
            Ok(outcome) => Ok(outcome),
            // The email failed too: the orgs' failure is still what the exit code says.
            Err(e) if failed > 0 => {
                tracing::error!("{}", visible(&format!("{e:#}")));
                let mut result = result;
                result["out"] = json!(out);
                result["email_error"] = json!(visible(&format!("{e:#}")));
                Ok(Outcome { code: ExitCode::OrgsFailed, message: Some(failures()), result })
            }
            Err(e) => Err(e),
        }
    })
}

/// An org's line of a run of several's `--json` result.
fn org_result(outcome: &OrgOutcome) -> Value {
    match outcome {
        OrgOutcome::Reported(d) => json!({
            "name": d.name, "status": "reported", "out": d.folder, "org": { "id": d.org_id, "name": d.org_name },
            "findings": d.findings, "change": d.change(),
        }),
        OrgOutcome::Failed { name, exit_code, exit_name, error, .. } => json!({
            "name": name, "status": "failed", "exit_code": exit_code, "exit_name": exit_name, "error": error,
        }),
    }
}

/// An org's name in a run of several before it ran: its folder's name, else how messages name it.
fn org_name(org: &Org) -> String {
    org.folder().unwrap_or_else(|| org.label())
}

/// Runs `work` for every org, `concurrency` at once, and hands the outcomes back in the orgs'
/// order. A panic (a bug) fails its org alone, as an internal error.
fn each_org(orgs: &[Org], concurrency: usize, work: impl Fn(&Org) -> OrgOutcome + Sync) -> Vec<OrgOutcome> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<Option<OrgOutcome>>> = Mutex::new(orgs.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..concurrency.clamp(1, orgs.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(org) = orgs.get(i) else { break };
                    let _span = tracing::info_span!("org", org = %org_name(org)).entered();
                    let outcome =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(org))).unwrap_or_else(|_| {
                            OrgOutcome::Failed {
                                name: org_name(org),
                                exit_code: ExitCode::Internal.code(),
                                exit_name: ExitCode::Internal.name(),
                                error: "internal error of access-audit (a panic); please report it".into(),
                                previous: None,
                            }
                        });
                    done.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(outcome);
                }
            });
        }
    });
    done.into_inner().unwrap_or_else(|p| p.into_inner()).into_iter().map(|o| o.expect("every org ran")).collect()
}

/// One org of a run of several: a run of its own into `place`, without email; its failure is
/// its outcome, never the run's.
fn audit_one(
    org: &Org,
    args: &RunArgs,
    file: &LoadedFile,
    place: &Place,
    started_at: chrono::DateTime<chrono::Utc>,
    as_of: chrono::DateTime<chrono::Utc>,
    started: Instant,
) -> OrgOutcome {
    let delivery = Delivery { place: place.clone(), org_name: org.folder(), email: None, started_at };
    let mut known = delivery.known();
    let run = |known: &mut Known| {
        let plan = Plan::new(&args.audit, org.rules(&args.audit.rules, file)?, Some(as_of))?;
        let (config, _) = org.connection(&args.salesforce, &args.org, file)?;
        // No progress bars: several orgs' bars at once would only garble each other.
        pull_and_report(config, &plan, &[], &delivery, started, known, false)
    };
    match run(&mut known) {
        Ok((outcome, audit)) => {
            let folder = outcome.result["out"].as_str().map(PathBuf::from).unwrap_or_default();
            let name = known.org.clone().unwrap_or_else(|| org_name(org));
            OrgOutcome::Reported(OrgDigest::new(&name, &folder, &audit, known.previous.take()))
        }
        Err(e) => {
            let error = visible(&format!("{e:#}")).split_whitespace().collect::<Vec<_>>().join(" ");
            tracing::error!("{error}");
            // Its last good report: what its folder held before, else the latest there is.
            let previous = known.previous.take().or_else(|| {
                let dir = known.last_good.as_deref()?;
                let run = if matches!(place, Place::Reviews { .. }) {
                    deliver::reviews::latest(dir)?
                } else {
                    dir.to_path_buf()
                };
                PreviousCounts::read(&run)
            });
            OrgOutcome::Failed {
                name: known.org.clone().unwrap_or_else(|| org_name(org)),
                exit_code: e.exit_code().code(),
                exit_name: e.exit_code().name(),
                error,
                previous,
            }
        }
    }
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
