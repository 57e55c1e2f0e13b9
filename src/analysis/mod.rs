//! Analysis: from a verified snapshot to the findings of REPORTS.md, in polars end to end.
//!
//! Takes the snapshot, the [`Rules`], an optional roster and exclusions, and one `as_of` instant,
//! and hands on an [`Audit`] for the renderers. The same snapshot and `as_of` always give the same
//! audit. One module per concern, in the order the data flows:
//!
//! - [`frames`]: each snapshot file read line by line into polars column builders (users are the
//!   only object read whole); [`classify`] decides once per permission set, group or licence
//!   whether it is Certinia;
//! - [`joins`]: every per-user aggregate grouped, then LEFT-joined onto the users (a user with no
//!   assignment is kept), with the roster and exclusion flags: the matrix, still lazy;
//! - [`rules`]: one polars expression per report; all of them are added to the matrix and the
//!   whole plan is collected once, so the membership of every report comes from one pass;
//! - [`rows`]: each audited user's row built once from its position in the frames, copied into
//!   the reports it is in, and sorted as the outputs show them;
//! - [`exclude`], [`reconcile`], [`notes`], [`meta`]: the Exclusions list (applied last: an
//!   excluded user leaves every finding report, never the access matrix), the roster entries
//!   that match no active audited user, the run's notes, and its metadata;
//! - [`apps`]: the other applications read over SCIM (a few thousand accounts each, set logic in
//!   Rust over the JSON records).

pub mod apps;
mod classify;
mod exclude;
mod frames;
mod joins;
mod meta;
mod notes;
mod reconcile;
mod rows;
mod rules;
mod seats;

use chrono::{DateTime, Utc};
use polars::prelude::*;

pub use self::classify::Classifier;
use self::classify::display;
use self::frames::col_name::{AUDITED, IS_ACTIVE};
use self::joins::col_name::{EXCLUDED, HAS_GRANT, HAS_LICENSE, IS_FROZEN};
use self::rows::Matrix;
use crate::config::Rules;
use crate::exclusions::{Exclusions, ExclusionsError};
use crate::model::{Audit, Report, ReportKind, Rows, Seats, Summary};
use crate::roster::{self, Roster, UserKeys};
use crate::snapshot::Loaded;

#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error(
        "{object} record {id}: field {field} is {value:?}, not a Salesforce datetime such as 2024-01-15T10:20:30.000+0000"
    )]
    BadDateTime { object: &'static str, id: String, field: &'static str, value: String },
    #[error(
        "internal error in the analysis ({0}); this is a bug of access-audit, not a fault of the data: please report it with the command line used"
    )]
    Polars(#[from] PolarsError),
    #[error(transparent)]
    Snapshot(#[from] crate::snapshot::SnapshotError),
    #[error(
        "no user to audit: {}, or pass --allow-empty to write empty reports anyway",
        if *users_in_org == 0 {
            "the snapshot holds no User record at all: check the integration user's access".to_string()
        } else {
            format!(
                "none of the snapshot's {users_in_org} users has an audited user type ({user_types}): \
                 check --user-types"
            )
        }
    )]
    NoAuditedUsers { users_in_org: u64, user_types: String },
    #[error(transparent)]
    Exclusions(#[from] ExclusionsError),
}

/// Everything needed besides the snapshot.
pub struct Inputs<'a> {
    pub rules: &'a Rules,
    pub roster: Option<&'a Roster>,
    pub as_of: DateTime<Utc>,
    /// Whether an audit of no user at all is acceptable (`--allow-empty`).
    pub allow_empty: bool,
    /// Accounts reviewed elsewhere (`--exclusions`).
    pub exclusions: Option<&'a Exclusions>,
}

/// Builds every report.
pub fn analyse(snapshot: &Loaded, inputs: &Inputs<'_>) -> Result<Audit, AnalysisError> {
    let rules = inputs.rules;
    let as_of = inputs.as_of;
    let classify = Classifier::new(rules);
    let started = std::time::Instant::now();
    let users = frames::read_users(snapshot, &frames::UserRules { audited_types: &rules.user_types, as_of })?;
    if !users.columns()?.audited.any() && !inputs.allow_empty {
        return Err(AnalysisError::NoAuditedUsers {
            users_in_org: users.len() as u64,
            user_types: rules.user_types.join(", "),
        });
    }
    let frames = frames::read(snapshot, &classify, users)?;
    let users = frames.users.columns()?;
    tracing::debug!("frames read from the snapshot in {:.2?}", started.elapsed());

    // The roster and the exclusions, matched against all users.
    let keys: Vec<UserKeys<'_>> = (0..frames.users.len())
        .map(|r| UserKeys {
            id: users.id.get(r).unwrap_or_default(),
            federation_id: users.federation_id.get(r),
            username: users.username.get(r).unwrap_or_default(),
            email: users.email.get(r),
        })
        .collect();
    let roster_matches = inputs.roster.map(|r| roster::match_entries(&r.entries, &keys));
    let excluded_by_entry = inputs.exclusions.map(|e| e.match_users(&keys)).transpose()?;
    drop(keys);
    let index = users.index();
    let mut exclusions = (inputs.exclusions.is_some() || !rules.excluded_classes.is_empty())
        .then(|| exclude::list(inputs.exclusions.zip(excluded_by_entry.as_deref()), &users, &index, rules, as_of));
    let roster_matched = roster_matches.iter().flatten().flat_map(|m| m.user_ids.iter().cloned()).collect();
    let excluded = exclusions.as_deref().map(exclude::kept_out).unwrap_or_default();

    // Every report's membership, in one pass.
    let kinds: Vec<ReportKind> = ReportKind::ALL
        .into_iter()
        .filter(|k| inputs.roster.is_some() || !matches!(k, ReportKind::NotProvisioned | ReportKind::UnexpectedAccess))
        .collect();
    let thresholds = rules::Thresholds::new(rules, as_of);
    let plan = joins::matrix(
        &frames,
        &roster_matched,
        &excluded,
        &joins::RecordRules {
            live_permission_control: rules::live_permission_control(&thresholds),
            active_resource: rules::active_resource(),
        },
    )?
    .with_columns(rules::membership(&kinds, &thresholds));
    let collecting = std::time::Instant::now();
    let matrix = Matrix::new(plan.collect()?, &frames.users)?;
    tracing::debug!("joins and every report's membership collected in {:.2?}", collecting.elapsed());

    // Exclusions are applied last: an excluded user leaves every finding report.
    let is_excluded = matrix.flag(EXCLUDED)?;
    if let Some(list) = exclusions.as_mut() {
        let findings = kinds.iter().filter(|k| k.is_finding() && !k.is_roster_entries());
        let members = findings.map(|k| Ok((*k, matrix.member(*k)?))).collect::<PolarsResult<Vec<(ReportKind, _)>>>()?;
        exclude::name_reports(list, |id| {
            let row = index.get(id).copied();
            members.iter().filter(|(_, m)| row.is_some_and(|r| m.get(r).unwrap_or(false))).map(|(k, _)| *k).collect()
        });
    }

    // Rows.
    let building = std::time::Instant::now();
    let mut user_rows = rows::user_rows(&matrix, &frames.users, as_of)?;
    let mut reports = Vec::new();
    for kind in &kinds {
        let kind = *kind;
        if kind.is_roster_entries() {
            let (Some(roster), Some(matches)) = (inputs.roster, roster_matches.as_deref()) else { continue };
            let rows = reconcile::not_provisioned(roster, matches, &users, &index);
            reports.push(Report::new(kind, Rows::Roster(rows)));
            continue;
        }
        let member = matrix.member(kind)?;
        let kept =
            |i: usize| member.get(i).unwrap_or(false) && !(kind.is_finding() && is_excluded.get(i).unwrap_or(false));
        let mut rows = Vec::new();
        for i in (0..matrix.height()).filter(|&i| kept(i)) {
            // The access matrix comes last: it takes the rows the finding reports copied.
            let mut row = if kind == ReportKind::AccessMatrix { user_rows[i].take() } else { user_rows[i].clone() }
                .expect("a report holds only audited users");
            if kind == ReportKind::CertiniaAccessLacking {
                row.expected_by = rows::expected_by(&matrix, i)?;
            }
            rows.push(row);
        }
        rows::sort(kind, &mut rows);
        reports.push(Report::new(kind, Rows::Users(rows)));
    }

    tracing::debug!("report rows built in {:.2?}", building.elapsed());
    let summary = Summary {
        users_in_org: frames.users.len() as u64,
        audited_users: matrix.count(&[AUDITED], &[])?,
        active: matrix.count(&[AUDITED, IS_ACTIVE], &[IS_FROZEN])?,
        frozen: matrix.count(&[AUDITED, IS_ACTIVE, IS_FROZEN], &[])?,
        deactivated: matrix.count(&[AUDITED], &[IS_ACTIVE])?,
        with_certinia_grant: matrix.count(&[AUDITED, HAS_GRANT], &[])?,
        with_certinia_license: matrix.count(&[AUDITED, HAS_LICENSE], &[])?,
    };

    let mut notes = notes::notes(&frames.users, &snapshot.verified.manifest.data_warnings, rules, as_of)?;
    // What the pull could not audit (a Certinia package the org does not have), from the manifest.
    notes.run.extend(snapshot.verified.manifest.notes.iter().cloned());
    // Other applications read over SCIM: their reports, and what their notes say.
    let app_audits = apps::analyse_apps(snapshot, inputs)?;
    notes.run.extend(app_audits.iter().flat_map(|a| a.notes.iter().cloned()));
    for note in &notes.run {
        tracing::warn!("{note}");
    }
    let seats = Seats {
        rows: seats::seats(matrix.frame(), &frames, &rules.seat_costs)?,
        with_costs: !rules.seat_costs.is_empty(),
    };
    let meta = meta::run_meta(snapshot, inputs);
    Ok(Audit { meta, summary, reports, notes, changes: None, exclusions, apps: app_audits, seats })
}

/// The text at `path` of a JSON record (the applications' rules read records whole).
fn text<'r>(record: &'r serde_json::Map<String, serde_json::Value>, path: &str) -> Option<&'r str> {
    crate::snapshot::lookup(record, path).ok().flatten().and_then(serde_json::Value::as_str)
}

/// The boolean at `path` of a JSON record; false when null.
fn flag(record: &serde_json::Map<String, serde_json::Value>, path: &str) -> bool {
    crate::snapshot::lookup(record, path).ok().flatten().and_then(serde_json::Value::as_bool).unwrap_or(false)
}
