//! The pull: every object of the snapshot, each by the fastest way the org allows, into files.
//!
//! Takes a logged-in [`Client`] and the pull settings, and hands on the snapshot files and the
//! manifest written into a folder the caller stages. It runs in two steps, each concurrent over
//! the objects:
//!
//! 1. **Plan.** How many rows each object has: the previous pull's manifest in the same place,
//!    else a `SELECT COUNT()`. An object above `--bulk-threshold` goes to a Bulk API 2.0 job
//!    (`--api auto`, or every object with `--api bulk`); an object of more than
//!    [`SPLIT_MIN_ROWS`] pulled through REST with more than one cursor allowed is split into Id
//!    ranges (its lowest and highest Id probed with `ORDER BY Id ASC/DESC LIMIT 1`, the key
//!    space between them cut evenly, see `keyspace`), and counted afresh, since the ranges'
//!    rows must add up to that count.
//! 2. **Pull.** Every range or whole-object query holds one of `--max-cursors` permits from its
//!    first page to its last, across all objects (Salesforce limits the cursors a user holds
//!    open); the largest queries queue first, so that the cursors finish together. Bulk jobs
//!    hold no cursor. A Bulk job refused because the integration user may not use the Bulk API
//!    is pulled through REST instead under `--api auto`, with one warning.
//!
//! Records stream from the client's sinks into sorted runs on disk (`runs`), in the same bytes
//! whichever API they came through (`record`), and each object's runs are merged into its
//! Id-sorted file as soon as the object is complete. Nothing holds a whole page or a whole
//! object in memory.
//!
//! With pushdown (the default), the queries ask Salesforce only for the rows a report can use:
//! [`PUSHDOWN`] lists the filters, each a rule of REPORTS.md (a profile-owned permission set is
//! never a Certinia grant). The manifest records the exact SOQL of every query.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value};
use tokio::sync::Semaphore;

use super::apps::{self, AppPull};
use super::progress::{Bar, Progress};
use super::record::Shape;
use super::runs::{RunDir, Segment, merge};
use super::{
    ApiCost, DataWarning, FORMAT, MANIFEST, Manifest, ManifestObject, OBJECTS, ObjectSpec, OrgInfo, Package,
    SnapshotError, SnapshotFolder, Source, explain, keyspace, read_manifest, validate,
};
use crate::cli::ApiChoice;
use crate::config::{ApiFloor, PullSettings};
use crate::deliver::{Staging, io_err};
use crate::salesforce::{
    BULK_MIN_VERSION, Checkpoints, Client, CsvSink, Limit, RecordSink, ReplacedText, SalesforceError, Tally,
};

/// Filters pushed into the SOQL, by object: each keeps exactly the rows some report can use.
pub const PUSHDOWN: &[(&str, &str)] = &[
    // REPORTS.md: a profile-owned permission set is never a Certinia permission set, so its
    // assignments are never Certinia grants; every user has one, so this drops a row per user.
    ("PermissionSetAssignment", "PermissionSet.IsOwnedByProfile = false"),
];

/// Objects of more rows than this are split into Id ranges for parallel REST cursors (below it,
/// the probes cost about what the parallel pages save).
pub const SPLIT_MIN_ROWS: u64 = 20_000;
/// About how many rows one Id range holds: 20 pages, so that the last ranges to finish leave
/// the other cursors idle for no more than 20 round trips.
pub const ROWS_PER_RANGE: u64 = 40_000;
/// The most ranges one object is split into.
pub const MAX_RANGES: u64 = 64;

/// How one run pulls.
#[derive(Debug, Clone, Copy)]
pub struct PullOptions {
    pub settings: PullSettings,
    /// Draw progress bars (stderr is a terminal and not `--quiet`).
    pub progress: bool,
}

/// The SOQL an object is pulled with: its fields, its own condition (see [`ObjectSpec::filter`])
/// and its pushdown filter unless turned off.
pub fn base_soql(spec: &ObjectSpec, pushdown: bool) -> String {
    match filter(spec, pushdown) {
        Some(f) => format!("{} WHERE {f}", spec.soql()),
        None => spec.soql(),
    }
}

fn filter(spec: &ObjectSpec, pushdown: bool) -> Option<String> {
    let pushed = PUSHDOWN.iter().find(|(o, _)| pushdown && *o == spec.name).map(|(_, f)| *f);
    let conditions: Vec<&str> = spec.filter.into_iter().chain(pushed).collect();
    (!conditions.is_empty()).then(|| conditions.join(" AND "))
}

fn count_soql(spec: &ObjectSpec, pushdown: bool) -> String {
    match filter(spec, pushdown) {
        Some(f) => format!("SELECT COUNT() FROM {} WHERE {f}", spec.name),
        None => format!("SELECT COUNT() FROM {}", spec.name),
    }
}

fn probe_soql(spec: &ObjectSpec, pushdown: bool, direction: &str) -> String {
    let filter = filter(spec, pushdown).map(|f| format!(" WHERE {f}")).unwrap_or_default();
    format!("SELECT Id FROM {}{filter} ORDER BY Id {direction} LIMIT 1", spec.name)
}

/// The query of the Id range `[lower, upper)` (either end open).
fn range_soql(spec: &ObjectSpec, pushdown: bool, lower: Option<&str>, upper: Option<&str>) -> String {
    let mut conditions: Vec<String> = filter(spec, pushdown).into_iter().collect();
    if let Some(l) = lower {
        conditions.push(format!("Id >= '{l}'"));
    }
    if let Some(u) = upper {
        conditions.push(format!("Id < '{u}'"));
    }
    let filter = if conditions.is_empty() { String::new() } else { format!(" WHERE {}", conditions.join(" AND ")) };
    format!("{}{filter} ORDER BY Id", spec.soql())
}

/// How one object is pulled.
#[derive(Debug, Clone)]
enum Strategy {
    /// One REST query of the whole object.
    Rest,
    /// REST queries of Id ranges (their SOQL), whose rows add up to `count`.
    Ranges {
        queries: Vec<String>,
        count: u64,
    },
    Bulk,
}

impl Strategy {
    fn label(&self) -> String {
        match self {
            Strategy::Rest => "REST".into(),
            Strategy::Ranges { queries, .. } => format!("parallel REST ×{}", queries.len()),
            Strategy::Bulk => "Bulk".into(),
        }
    }
}

/// One object, planned.
struct Plan {
    spec: &'static ObjectSpec,
    soql: String,
    strategy: Strategy,
    /// The rows expected, to queue the largest first.
    size: u64,
    bar: Arc<Bar>,
}

/// One object, pulled: its runs, ready to be merged.
struct Pulled {
    spec: &'static ObjectSpec,
    soql: String,
    api: &'static str,
    queries: Vec<String>,
    total_size: u64,
    pages: u64,
    sha256: String,
    rows: u64,
    warnings: Vec<DataWarning>,
    bar: Arc<Bar>,
}

/// What every object's pull shares.
struct Shared<'a> {
    client: &'a Client,
    options: PullOptions,
    runs: &'a RunDir,
    dir: &'a Path,
    cursors: Semaphore,
    /// The "no Bulk API access" warning was given.
    bulk_refused: AtomicBool,
}

/// Pulls every object (and every application of `apps`) and writes the snapshot folder atomically.
pub async fn pull(
    client: &Client,
    out: &Path,
    floor: ApiFloor,
    options: PullOptions,
    apps: AppPull<'_>,
) -> Result<Manifest, SnapshotError> {
    // Fail on a bad --out before spending any API request.
    let staging = Staging::new(out, &SnapshotFolder)?;
    let limit = client.check_quota(floor, estimate_requests(Some(out))).await?;
    let manifest = pull_into(client, staging.path(), limit, Some(out), options, apps).await?;
    staging.commit()?;
    Ok(manifest)
}

/// About how many requests a pull will spend: the list of objects, then what the previous pull
/// into the same place spent when there is one (and a licence count per package it noted as not
/// installed), else one page per object.
pub fn estimate_requests(previous: Option<&Path>) -> u64 {
    let fallback = 1 + OBJECTS.len() as u64;
    let Some(dir) = previous else { return fallback };
    match read_manifest(dir) {
        Ok(m) => {
            let spent: u64 = m.objects.iter().map(|e| e.requests.unwrap_or(e.pages).max(1)).sum();
            let missing = OBJECTS.iter().filter(|o| o.package().is_none() && m.object(o.name).is_none()).count();
            1 + spent + m.notes.len() as u64 + missing as u64
        }
        Err(_) => fallback,
    }
}

/// Pulls every object into `dir`, an existing empty folder that the caller stages.
///
/// `limit_before` is the org's `DailyApiRequests` as the quota check read it, for the manifest;
/// `previous` a snapshot of an earlier pull into the same place, whose row counts may spare the
/// counts. The folder is not created here: if it vanishes (a signal handler removed the staging
/// folder), writing fails instead of creating it again.
pub async fn pull_into(
    client: &Client,
    dir: &Path,
    limit_before: Option<Limit>,
    previous: Option<&Path>,
    options: PullOptions,
    apps: AppPull<'_>,
) -> Result<Manifest, SnapshotError> {
    let pulled_at = Utc::now();
    let runs = RunDir::new(dir)?;
    let progress = Progress::new(options.progress);
    let previous_rows: BTreeMap<String, u64> = previous
        .and_then(|p| read_manifest(p).ok())
        .map(|m| m.objects.iter().map(|o| (o.object.clone(), o.rows)).collect())
        .unwrap_or_default();
    let shared = Shared {
        client,
        options,
        runs: &runs,
        dir,
        cursors: Semaphore::new(options.settings.max_cursors as usize),
        bulk_refused: AtomicBool::new(false),
    };
    let offered = offered(client).await?;
    for note in &offered.notes {
        tracing::warn!("{note}");
    }
    let objects = async {
        let plans = futures::future::try_join_all(
            OBJECTS
                .iter()
                .filter(|spec| !offered.absent.contains(spec.name))
                .map(|spec| plan(&shared, spec, previous_rows.get(spec.name).copied(), progress.bar(spec.name))),
        )
        .await?;
        let mut plans: Vec<Plan> = plans.into_iter().flatten().collect();
        // The largest first: their queries queue first for the cursors.
        plans.sort_by_key(|p| std::cmp::Reverse(p.size));
        let pulled = futures::future::try_join_all(plans.into_iter().map(|plan| pull_object(&shared, plan))).await?;
        Ok::<Vec<Pulled>, SnapshotError>(pulled.into_iter().flatten().collect())
    };
    // The applications' SCIM listings are pulled beside the org's objects.
    let (pulled, pulled_apps) = futures::future::try_join(objects, apps::pull(apps)).await?;
    drop(progress);
    let mut pulled: Vec<Pulled> = pulled;
    pulled.sort_by_key(|p| OBJECTS.iter().position(|o| o.name == p.spec.name));

    let org = org_info(client, dir, pulled.iter().find(|p| p.spec.name == "Organization")).await?;
    let mut objects = Vec::new();
    let mut data_warnings = Vec::new();
    for mut p in pulled {
        data_warnings.append(&mut p.warnings);
        objects.push(ManifestObject {
            object: p.spec.name.to_string(),
            file: p.spec.file_name(),
            soql: p.soql,
            rows: p.rows,
            total_size: p.total_size,
            pages: p.pages,
            sha256: p.sha256,
            api: Some(p.api.to_string()),
            queries: p.queries,
            requests: Some(p.bar.tally().requests()),
        });
    }
    drop(runs);
    let app_entries = apps::write(dir, pulled_apps)?;
    let manifest = Manifest {
        format: FORMAT.to_string(),
        tool: format!("access-audit {}", env!("CARGO_PKG_VERSION")),
        org,
        api_version: client.api_version().to_string(),
        pulled_at: pulled_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        objects,
        api: ApiCost {
            requests: client.api_requests(),
            logins: client.logins(),
            org_daily_limit_before: limit_before,
            org_usage_after: client.last_usage(),
        },
        data_warnings: {
            data_warnings.sort();
            data_warnings
        },
        apps: app_entries,
        notes: offered.notes,
    };
    let manifest_path = dir.join(MANIFEST);
    let mut text = serde_json::to_string_pretty(&manifest).expect("a manifest always serialises");
    text.push('\n');
    std::fs::File::create_new(&manifest_path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
        .map_err(io_err(&manifest_path))?;
    Ok(manifest)
}

/// What the org offers of the objects that not every org has.
#[derive(Debug, Default)]
pub(crate) struct Offered {
    /// Objects of packages the org does not have: not pulled.
    pub absent: std::collections::BTreeSet<&'static str>,
    /// One line per such package ([`Package::note`]).
    pub notes: Vec<String>,
    /// Objects the org has that the integration user cannot see, each with the error that names
    /// the permission to grant ([`survey`] only: [`offered`] fails with the first).
    pub denied: Vec<(&'static ObjectSpec, SnapshotError)>,
}

/// Decides, from the org's own list of objects (`GET /sobjects`, one request, before any query),
/// which objects the org offers: a Certinia package whose namespace has no object there is not
/// installed (its note) unless the org holds a licence of it (one `SELECT COUNT()` of
/// `PackageLicense` per such package), which means the integration user may not read it; an
/// object every org has, or one of an installed package, that is not in the list cannot be read
/// by the integration user. Both are errors naming the permission to grant.
pub(crate) async fn offered(client: &Client) -> Result<Offered, SnapshotError> {
    decide(client, false).await
}

/// [`offered`], but an object the integration user cannot see is listed in
/// [`Offered::denied`] and the decision goes on: every such object, for `doctor`.
pub(crate) async fn survey(client: &Client) -> Result<Offered, SnapshotError> {
    decide(client, true).await
}

/// [`offered`] (`every`: false, the first object denied is the error) or [`survey`] (true).
async fn decide(client: &Client, every: bool) -> Result<Offered, SnapshotError> {
    let listed: std::collections::HashSet<String> =
        client.sobjects().await?.into_iter().map(|n| n.to_ascii_lowercase()).collect();
    let sees = |name: &str| listed.contains(&name.to_ascii_lowercase());
    let mut offered = Offered::default();
    let deny = |denied: &mut Vec<_>, spec: &'static ObjectSpec, why: String| {
        let e = no_access(spec, why);
        if !every {
            return Err(e);
        }
        denied.push((spec, e));
        Ok(())
    };
    let mut packages: Vec<&'static Package> = OBJECTS.iter().filter_map(|o| o.package()).collect();
    packages.dedup_by_key(|p| p.namespace);
    for package in packages {
        let prefix = format!("{}__", package.namespace);
        let in_list = listed.iter().any(|n| n.starts_with(&prefix));
        let installed = in_list || licensed(client, package).await?;
        for spec in OBJECTS.iter().filter(|o| o.package() == Some(package)) {
            if !installed {
                offered.absent.insert(spec.name);
            } else if !sees(spec.name) {
                let why = if in_list {
                    format!("it is not in its list of objects, while {} is installed", package.product)
                } else {
                    format!(
                        "no object of {} ({prefix}) is in its list of objects, while the org holds a {} licence",
                        package.product, package.namespace
                    )
                };
                deny(&mut offered.denied, spec, why)?;
            }
        }
        if !installed {
            offered.notes.push(package.note.to_string());
        }
    }
    for spec in OBJECTS.iter().filter(|o| o.source == Source::Listed && !sees(o.name)) {
        deny(&mut offered.denied, spec, "it is not in its list of objects".into())?;
    }
    Ok(offered)
}

fn no_access(spec: &ObjectSpec, why: String) -> SnapshotError {
    SnapshotError::NoAccess { object: spec.name.to_string(), why, permission: spec.permission.to_string() }
}

/// Whether the org holds a package licence of `package` (a trace of it installed).
async fn licensed(client: &Client, package: &Package) -> Result<bool, SalesforceError> {
    let soql = format!("SELECT COUNT() FROM PackageLicense WHERE NamespacePrefix = '{}'", package.namespace);
    Ok(client.count("PackageLicense", &soql, &Tally::default()).await? > 0)
}

/// Whether an error means an optional object is not offered by the org (unknown object or field,
/// or refused).
pub(super) fn not_offered(e: &SnapshotError) -> bool {
    matches!(
        e,
        SnapshotError::MissingObject { .. }
            | SnapshotError::MissingField { .. }
            | SnapshotError::Salesforce(SalesforceError::Api { status: 400 | 403 | 404, .. })
    )
}

/// Decides how `spec` is pulled; `None` for an optional object the org does not offer.
async fn plan(
    shared: &Shared<'_>,
    spec: &'static ObjectSpec,
    previous_rows: Option<u64>,
    bar: Arc<Bar>,
) -> Result<Option<Plan>, SnapshotError> {
    match plan_object(shared, spec, previous_rows, bar).await {
        Err(e) if spec.source == Source::IfOffered && not_offered(&e) => {
            tracing::warn!("{e}; going on without {}", spec.name);
            Ok(None)
        }
        other => other.map(Some),
    }
}

async fn plan_object(
    shared: &Shared<'_>,
    spec: &'static ObjectSpec,
    previous_rows: Option<u64>,
    bar: Arc<Bar>,
) -> Result<Plan, SnapshotError> {
    let settings = shared.options.settings;
    let client = shared.client;
    let version = client.api_version().as_str().split('.').next().and_then(|v| v.parse().ok()).unwrap_or(0u32);
    let soql = base_soql(spec, settings.pushdown);
    let sequential = settings.api == ApiChoice::Rest && settings.max_cursors == 1;
    // The Organization is one row; with one cursor and REST only, no count changes anything.
    if spec.source == Source::IfOffered || sequential {
        bar.set_strategy(Strategy::Rest.label());
        return Ok(Plan { spec, soql, strategy: Strategy::Rest, size: previous_rows.unwrap_or(0), bar });
    }
    let explained = |e: SalesforceError| explain(e.into(), spec, client.api_version().as_str());
    let mut fresh = None;
    let rows = match previous_rows {
        Some(rows) => rows,
        None => {
            let soql = count_soql(spec, settings.pushdown);
            let n = client.count(spec.name, &soql, bar.tally()).await.map_err(explained)?;
            fresh = Some(n);
            n
        }
    };
    let bulk = match settings.api {
        ApiChoice::Bulk => true,
        ApiChoice::Auto => rows > settings.bulk_threshold && version >= BULK_MIN_VERSION,
        ApiChoice::Rest => false,
    };
    let strategy = if bulk { Strategy::Bulk } else { rest_strategy(shared, spec, rows, fresh, bar.tally()).await? };
    bar.set_strategy(strategy.label());
    Ok(Plan { spec, soql, strategy, size: rows, bar })
}

/// Whole, or in Id ranges when the object is large and more than one cursor is allowed.
async fn rest_strategy(
    shared: &Shared<'_>,
    spec: &'static ObjectSpec,
    rows: u64,
    fresh_count: Option<u64>,
    tally: &Tally,
) -> Result<Strategy, SnapshotError> {
    let settings = shared.options.settings;
    let client = shared.client;
    if settings.max_cursors < 2 || rows <= SPLIT_MIN_ROWS {
        return Ok(Strategy::Rest);
    }
    let explained = |e: SalesforceError| explain(e.into(), spec, client.api_version().as_str());
    let (count, lowest, highest) = {
        let count_soql = count_soql(spec, settings.pushdown);
        let (asc, desc) = (probe_soql(spec, settings.pushdown, "ASC"), probe_soql(spec, settings.pushdown, "DESC"));
        let count = async {
            match fresh_count {
                Some(n) => Ok(n),
                None => client.count(spec.name, &count_soql, tally).await,
            }
        };
        futures::try_join!(count, client.first_id(spec.name, &asc, tally), client.first_id(spec.name, &desc, tally))
            .map_err(explained)?
    };
    let (Some(lowest), Some(highest)) = (lowest, highest) else {
        return Ok(Strategy::Rest);
    };
    let k = count.div_ceil(ROWS_PER_RANGE).clamp(2, MAX_RANGES) as usize;
    let cuts = keyspace::boundaries(&lowest, &highest, k);
    if cuts.is_empty() {
        return Ok(Strategy::Rest);
    }
    let mut queries = Vec::with_capacity(cuts.len() + 1);
    let mut lower: Option<&str> = None;
    for cut in &cuts {
        queries.push(range_soql(spec, settings.pushdown, lower, Some(cut)));
        lower = Some(cut);
    }
    queries.push(range_soql(spec, settings.pushdown, lower, None));
    Ok(Strategy::Ranges { queries, count })
}

async fn pull_object(shared: &Shared<'_>, plan: Plan) -> Result<Option<Pulled>, SnapshotError> {
    let spec = plan.spec;
    let optional = spec.source == Source::IfOffered;
    let result = pull_planned(shared, plan).await;
    match result {
        Err(e) if optional && not_offered(&e) => {
            tracing::warn!("{e}; going on without {}", spec.name);
            Ok(None)
        }
        other => other.map(Some),
    }
}

/// What the queries of one object returned, before their runs are merged.
struct Received {
    runs: Vec<PathBuf>,
    rows: u64,
    total_size: u64,
    pages: u64,
    warnings: Vec<DataWarning>,
}

async fn pull_planned(shared: &Shared<'_>, plan: Plan) -> Result<Pulled, SnapshotError> {
    let Plan { spec, soql, mut strategy, bar, .. } = plan;
    let client = shared.client;
    let shape = Shape::new(spec);
    let explained = |e: SnapshotError| explain(e, spec, client.api_version().as_str());
    let (api, received) = loop {
        match &strategy {
            Strategy::Bulk => {
                let mut sink = ObjectSink::new(&shape, shared.runs);
                match client.bulk_query(spec.name, &soql, bar.tally(), &mut sink).await.map_err(explained) {
                    Ok(stats) => {
                        let (runs, rows, warnings) = sink.finish()?;
                        break ("bulk", Received { runs, rows, total_size: stats.rows, pages: stats.chunks, warnings });
                    }
                    Err(SnapshotError::Salesforce(e @ SalesforceError::BulkNotAllowed { .. }))
                        if shared.options.settings.api == ApiChoice::Auto =>
                    {
                        if !shared.bulk_refused.swap(true, Ordering::Relaxed) {
                            tracing::warn!("{e:#}; pulling with REST instead");
                        }
                        let count = client
                            .count(spec.name, &count_soql(spec, shared.options.settings.pushdown), bar.tally())
                            .await?;
                        strategy = rest_strategy(shared, spec, count, Some(count), bar.tally()).await?;
                        bar.set_strategy(strategy.label());
                    }
                    Err(e) => return Err(e),
                }
            }
            Strategy::Rest => {
                let received = rest_query(shared, &shape, &soql, &bar).await.map_err(explained)?;
                break ("rest", received);
            }
            Strategy::Ranges { queries, count } => {
                let parts = futures::future::try_join_all(queries.iter().map(|q| rest_query(shared, &shape, q, &bar)))
                    .await
                    .map_err(explained)?;
                let mut all = Received { runs: Vec::new(), rows: 0, total_size: 0, pages: 0, warnings: Vec::new() };
                for mut part in parts {
                    all.runs.append(&mut part.runs);
                    all.rows += part.rows;
                    all.total_size += part.total_size;
                    all.pages += part.pages;
                    all.warnings.append(&mut part.warnings);
                }
                if all.rows != *count {
                    return Err(SalesforceError::Inconsistent {
                        object: spec.name.to_string(),
                        detail: format!(
                            "its {} Id ranges returned {} rows where SELECT COUNT() counted {count}",
                            queries.len(),
                            all.rows
                        ),
                    }
                    .into());
                }
                break ("rest", all);
            }
        }
    };
    let queries = match &strategy {
        Strategy::Ranges { queries, .. } => queries.clone(),
        _ => Vec::new(),
    };
    let file = shared.dir.join(spec.file_name());
    let runs = received.runs;
    let (sha256, rows) = tokio::task::spawn_blocking(move || merge(spec.name, &runs, &file)).await.map_err(|e| {
        SnapshotError::Invalid { dir: shared.dir.to_path_buf(), detail: format!("merging {}: {e}", spec.name) }
    })??;
    debug_assert_eq!(rows, received.rows);
    bar.finish();
    tracing::info!("pulled {}: {rows} rows with {} requests ({})", spec.name, bar.tally().requests(), strategy.label());
    Ok(Pulled {
        spec,
        soql,
        api,
        queries,
        total_size: received.total_size,
        pages: received.pages,
        sha256,
        rows,
        warnings: received.warnings,
        bar,
    })
}

/// One REST query run to its end while holding a cursor permit.
async fn rest_query(shared: &Shared<'_>, shape: &Shape, soql: &str, bar: &Bar) -> Result<Received, SnapshotError> {
    let _cursor = shared.cursors.acquire().await.expect("the semaphore is never closed");
    let mut sink = ObjectSink::new(shape, shared.runs);
    let stats = shared.client.query_all(shape.spec().name, soql, bar.tally(), &mut sink).await?;
    let (runs, rows, warnings) = sink.finish()?;
    Ok(Received { runs, rows, total_size: stats.total_size, pages: stats.pages, warnings })
}

/// Who the org is: from its Organization record, else from the login (the identity URL names the
/// org, and Salesforce access tokens start with the org id).
async fn org_info(client: &Client, dir: &Path, organization: Option<&Pulled>) -> Result<OrgInfo, SnapshotError> {
    let instance_url = client.instance_url().await.as_str().trim_end_matches('/').to_string();
    if let Some(p) = organization.filter(|p| p.rows == 1) {
        let path = dir.join(p.spec.file_name());
        let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
        let record: Map<String, Value> = serde_json::from_str(text.trim_end()).expect("written by us");
        let text = |k: &str| record.get(k).and_then(Value::as_str).map(str::to_string);
        return Ok(OrgInfo {
            id: text("Id").unwrap_or_default(),
            name: text("Name"),
            instance_url,
            instance_name: text("InstanceName"),
            is_sandbox: record.get("IsSandbox").and_then(Value::as_bool).unwrap_or(false),
            organization_type: text("OrganizationType"),
        });
    }
    let id = client.org_id_hint().await.unwrap_or_else(|| "unknown".to_string());
    tracing::warn!("the org's Organization record is not available: the org is identified as {id} from the login");
    Ok(OrgInfo { id, name: None, instance_url, instance_name: None, is_sandbox: false, organization_type: None })
}

/// One query's records, REST or Bulk, validated and written as snapshot lines into a segment,
/// with the data warnings of text that had to be repaired.
struct ObjectSink<'a> {
    shape: &'a Shape,
    segment: Segment<'a>,
    warnings: Vec<DataWarning>,
    /// Warnings before this index are committed.
    warnings_mark: usize,
    /// A failure of a checkpoint (the disk), reported with the next record or at the end.
    failed: Option<SnapshotError>,
    /// For Bulk: the CSV column of each field of the spec.
    columns: Vec<usize>,
    line: Vec<u8>,
}

impl<'a> ObjectSink<'a> {
    fn new(shape: &'a Shape, runs: &'a RunDir) -> ObjectSink<'a> {
        ObjectSink {
            shape,
            segment: Segment::new(runs, shape.spec().name),
            warnings: Vec::new(),
            warnings_mark: 0,
            failed: None,
            columns: Vec::new(),
            line: Vec::with_capacity(1024),
        }
    }

    fn finish(mut self) -> Result<(Vec<PathBuf>, u64, Vec<DataWarning>), SnapshotError> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let (runs, rows) = self.segment.finish()?;
        Ok((runs, rows, self.warnings))
    }

    fn warn(&mut self, id: &str, replaced: Vec<ReplacedText>) {
        let name = self.shape.spec().name;
        for r in replaced {
            tracing::warn!("{name} record {id}: field {}: {}; the record is kept and flagged", r.field, r.detail);
            self.warnings.push(DataWarning {
                object: name.to_string(),
                id: id.to_string(),
                field: r.field,
                detail: r.detail.to_string(),
            });
        }
    }
}

impl Checkpoints for ObjectSink<'_> {
    fn checkpoint(&mut self) {
        if let Err(e) = self.segment.checkpoint() {
            self.failed.get_or_insert(e);
        }
        self.warnings_mark = self.warnings.len();
    }

    fn rollback(&mut self) {
        self.segment.rollback();
        self.warnings.truncate(self.warnings_mark);
    }

    fn restart(&mut self) {
        self.segment.restart();
        self.warnings.clear();
        self.warnings_mark = 0;
    }
}

impl RecordSink for ObjectSink<'_> {
    type Error = SnapshotError;

    fn record(&mut self, mut record: Map<String, Value>, replaced: Vec<ReplacedText>) -> Result<(), SnapshotError> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let spec = self.shape.spec();
        // Salesforce returns exactly the fields asked for; keep the snapshot to those if a server sends more.
        record.retain(|key, _| spec.fields.iter().any(|f| f.path.split('.').next() == Some(key.as_str())));
        let id = validate(spec, &record)?;
        let replaced: Vec<ReplacedText> = replaced
            .into_iter()
            .filter(|r| record.contains_key(r.field.split('.').next().unwrap_or_default()))
            .collect();
        self.warn(&id, replaced);
        self.line.clear();
        self.shape.line_from_map(&record, &mut self.line);
        self.segment.push(&id, &self.line)
    }
}

impl CsvSink for ObjectSink<'_> {
    type Error = SnapshotError;

    fn header(&mut self, columns: &[&str]) -> Result<(), SnapshotError> {
        let spec = self.shape.spec();
        let mut map = Vec::with_capacity(spec.fields.len());
        for field in spec.fields {
            match columns.iter().position(|c| c.eq_ignore_ascii_case(field.path)) {
                Some(i) => map.push(i),
                None => {
                    return Err(SalesforceError::BadResponse {
                        what: format!("Bulk query of {}", spec.name),
                        detail: format!("the results have no column {} (they have {})", field.path, columns.join(", ")),
                    }
                    .into());
                }
            }
        }
        self.columns = map;
        Ok(())
    }

    fn row(&mut self, fields: &[&str], replaced: Vec<ReplacedText>) -> Result<(), SnapshotError> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let (id, cells) = self.shape.cells(fields, &self.columns)?;
        let spec = self.shape.spec();
        let replaced: Vec<ReplacedText> = replaced
            .into_iter()
            .filter_map(|r| {
                let field = spec.fields.iter().find(|f| f.path.eq_ignore_ascii_case(&r.field))?;
                Some(ReplacedText { field: field.path.to_string(), detail: r.detail })
            })
            .collect();
        self.warn(&id, replaced);
        self.line.clear();
        self.shape.line_from_cells(&cells, &mut self.line);
        self.segment.push(&id, &self.line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::spec;

    #[test]
    fn the_pushdown_filter_is_in_every_query_of_assignments_only() {
        let psa = spec("PermissionSetAssignment").unwrap();
        assert!(
            base_soql(psa, true)
                .ends_with(" FROM PermissionSetAssignment WHERE PermissionSet.IsOwnedByProfile = false")
        );
        assert_eq!(base_soql(psa, false), psa.soql());
        assert_eq!(
            count_soql(psa, true),
            "SELECT COUNT() FROM PermissionSetAssignment WHERE PermissionSet.IsOwnedByProfile = false"
        );
        assert_eq!(
            probe_soql(psa, true, "DESC"),
            "SELECT Id FROM PermissionSetAssignment WHERE PermissionSet.IsOwnedByProfile = false ORDER BY Id DESC LIMIT 1"
        );
        let user = spec("User").unwrap();
        assert_eq!(base_soql(user, true), user.soql());
        assert_eq!(
            range_soql(user, true, Some("0055g0000000001AAA"), Some("0055g000000000AAAA")),
            format!("{} WHERE Id >= '0055g0000000001AAA' AND Id < '0055g000000000AAAA' ORDER BY Id", user.soql())
        );
        assert_eq!(
            range_soql(psa, true, None, Some("0Pa5g000000000AAAA")),
            format!(
                "{} WHERE PermissionSet.IsOwnedByProfile = false AND Id < '0Pa5g000000000AAAA' ORDER BY Id",
                psa.soql()
            )
        );
    }

    #[test]
    fn fields_nobody_asked_for_are_not_kept_and_a_restart_drops_everything() {
        let dir = tempfile::tempdir().unwrap();
        let runs = RunDir::new(dir.path()).unwrap();
        let shape = Shape::new(spec("UserLogin").unwrap());
        let record = |json: &str| serde_json::from_str::<Map<String, Value>>(json).unwrap();
        let mut sink = ObjectSink::new(&shape, &runs);
        sink.record(record(r#"{"Id":"06000000000000BAAA","UserId":"005000000000001AAA","IsFrozen":true}"#), Vec::new())
            .unwrap();
        sink.checkpoint();
        sink.restart();
        sink.record(
            record(
                r#"{"IsPasswordLocked":true,"IsFrozen":false,"UserId":"005000000000001AAA","Id":"06000000000000AAAA"}"#,
            ),
            Vec::new(),
        )
        .unwrap();
        sink.checkpoint();
        let (files, rows, _) = sink.finish().unwrap();
        assert_eq!(rows, 1);
        let out = dir.path().join("UserLogin.ndjson");
        merge("UserLogin", &files, &out).unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "{\"Id\":\"06000000000000AAAA\",\"UserId\":\"005000000000001AAA\",\"IsFrozen\":false}\n"
        );
    }
}
