//! `summary.json`: the run's counts and metadata, for scripts, dashboards and monitoring.
//!
//! Pretty-printed, keys in a fixed order (the struct order below, never a hash
//! map's), with a trailing newline:
//!
//! ```text
//! run_id, tool_version, org {id, name, instance_url, is_sandbox}, api_version,
//! pulled_at, as_of, rules, summary, reports {slug: rows}, findings,
//! changes (null, or {previous {run_id, as_of, manifest_sha256, workbook_sha256},
//!   reports {slug: {new, persisting, resolved, not_done}}, total {…}}),
//! exclusions (null, or {active, expired, unmatched, class}),
//! seats {licences: [{id, kind, name, developer_name, certinia, allowed, used, assigned,
//!   used_mismatch, expiration, status, deactivated, frozen, inactive, never_logged_in,
//!   reclaimable, (yearly_seat_cost, reclaimable_yearly_cost)}], reclaimable_yearly_cost},
//! notes {run: [text], data_warnings: [{object, id, field, detail}]},
//! snapshot {manifest_sha256, files: [{object, file, soql, rows, sha256}]},
//! apps [{name, dialect, base_url, accounts, groups, reports {slug: rows}, findings,
//!        scim_crosscheck, notes}]
//! ```
//!
//! `run_id` is the run's id ([`crate::model::RunMeta::compute_run_id`]), the same as on the
//! workbook's Run sheet. `changes` counts, per finding report, the findings that are new and
//! persisting since the previous review, the previous findings resolved, and the persisting ones
//! whose previous decision was an action (not done). `exclusions` counts the Exclusions list by
//! status.
//!
//! `apps` is there only when the snapshot holds other applications read over SCIM
//! (`scim_crosscheck`, the cross-check's rows, only for Salesforce's own endpoint);
//! their findings count in the top-level `findings` too.
//!
//! `notes.run` holds the run's warnings in plain words (an audited user type
//! that no user has; how many dates lie after the as-of instant);
//! `notes.data_warnings` one entry per questionable value, in the shape of the
//! snapshot manifest's own `data_warnings`, so the two lists join.
//!
//! `as_of` is RFC 3339 in UTC to the second (`2024-01-15T10:20:30Z`);
//! `reports` lists the reports present, in [`ReportKind::ALL`] order;
//! `findings` adds up the findings of every report: not the access matrix, and
//! not a never-logged-in user still in the grace period. There is
//! no "generated at": the same audit gives the same bytes. (The report folder's
//! marker, with every file's SHA-256, is a file of its own:
//! [`crate::deliver::FILE_LIST`].)

use std::io::Write;

use serde::Serialize;
use serde::ser::SerializeMap;

use super::{RenderError, RenderedFile, Renderer, rfc3339};
use crate::model::apps::{AppAudit, AppReportKind};
use crate::model::{Audit, ChangeCounts, ExclusionStatus, Notes, ReportKind, RulesUsed, Seats, SourceFile, Summary};

pub const FILE_NAME: &str = "summary.json";

/// Writes `summary.json`.
pub struct JsonRenderer;

impl Renderer for JsonRenderer {
    fn name(&self) -> &'static str {
        "json"
    }

    fn render(&self, audit: &Audit) -> Result<Vec<RenderedFile>, RenderError> {
        let mut bytes = Vec::new();
        write_summary(audit, &mut bytes).map_err(|source| RenderError::Json { file: FILE_NAME.to_string(), source })?;
        Ok(vec![RenderedFile { name: FILE_NAME.to_string(), bytes }])
    }
}

/// Writes the summary document, pretty-printed, with a trailing newline.
pub fn write_summary<W: Write>(audit: &Audit, mut out: W) -> Result<(), serde_json::Error> {
    serde_json::to_writer_pretty(&mut out, &SummaryDoc::new(audit))?;
    out.write_all(b"\n").map_err(serde_json::Error::io)
}

/// The document, field order = key order.
#[derive(Serialize)]
struct SummaryDoc<'a> {
    run_id: &'a str,
    tool_version: &'a str,
    org: Org<'a>,
    api_version: &'a str,
    pulled_at: &'a str,
    as_of: String,
    rules: &'a RulesUsed,
    summary: &'a Summary,
    reports: ReportCounts,
    findings: usize,
    changes: Option<ChangesDoc<'a>>,
    exclusions: Option<ExclusionCounts>,
    seats: SeatsDoc<'a>,
    notes: &'a Notes,
    snapshot: Snapshot<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    apps: Vec<App<'a>>,
}

/// One application's counts.
#[derive(Serialize)]
struct App<'a> {
    name: &'a str,
    dialect: &'a str,
    base_url: &'a str,
    accounts: u64,
    groups: u64,
    reports: ReportCounts,
    findings: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    scim_crosscheck: Option<usize>,
    notes: &'a [String],
}

impl<'a> App<'a> {
    fn new(app: &'a AppAudit) -> App<'a> {
        let counts = AppReportKind::ALL
            .iter()
            .filter_map(|kind| app.report(*kind).map(|r| (kind.slug(), r.rows.len())))
            .collect();
        App {
            name: &app.name,
            dialect: &app.dialect,
            base_url: &app.base_url,
            accounts: app.accounts,
            groups: app.groups,
            reports: ReportCounts(counts),
            findings: app.findings(),
            scim_crosscheck: app.crosscheck.as_ref().map(Vec::len),
            notes: &app.notes,
        }
    }
}

/// The Seats report's counts: one entry per licence, in the report's order.
#[derive(Serialize)]
struct SeatsDoc<'a> {
    licences: Vec<SeatDoc<'a>>,
    /// The yearly cost of every reclaimable seat whose cost is known; null without seat costs.
    reclaimable_yearly_cost: Option<f64>,
}

#[derive(Serialize)]
struct SeatDoc<'a> {
    id: &'a str,
    kind: &'static str,
    name: &'a str,
    developer_name: Option<&'a str>,
    certinia: bool,
    allowed: Option<i64>,
    used: Option<i64>,
    assigned: u64,
    used_mismatch: bool,
    expiration: Option<String>,
    status: Option<&'a str>,
    deactivated: u64,
    frozen: u64,
    inactive: u64,
    never_logged_in: u64,
    reclaimable: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    yearly_seat_cost: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reclaimable_yearly_cost: Option<f64>,
}

impl<'a> SeatsDoc<'a> {
    fn new(seats: &'a Seats) -> SeatsDoc<'a> {
        let licences = seats
            .rows
            .iter()
            .map(|r| SeatDoc {
                id: &r.id,
                kind: r.kind.label(),
                name: &r.name,
                developer_name: r.developer_name.as_deref(),
                certinia: r.certinia,
                allowed: r.allowed,
                used: r.used,
                assigned: r.assigned,
                used_mismatch: r.used_mismatch(),
                expiration: r.expiration.map(|d| d.format("%Y-%m-%d").to_string()),
                status: r.status.as_deref(),
                deactivated: r.deactivated,
                frozen: r.frozen,
                inactive: r.inactive,
                never_logged_in: r.never_logged_in,
                reclaimable: r.reclaimable,
                yearly_seat_cost: r.seat_cost,
                reclaimable_yearly_cost: r.reclaimable_cost(),
            })
            .collect();
        SeatsDoc { licences, reclaimable_yearly_cost: seats.reclaimable_cost() }
    }
}

#[derive(Serialize)]
struct Org<'a> {
    id: &'a str,
    name: Option<&'a str>,
    instance_url: &'a str,
    is_sandbox: bool,
}

#[derive(Serialize)]
struct Snapshot<'a> {
    manifest_sha256: &'a str,
    files: &'a [SourceFile],
}

#[derive(Serialize)]
struct ChangesDoc<'a> {
    previous: PreviousDoc<'a>,
    reports: SlugMap<ChangeCounts>,
    total: ChangeCounts,
}

#[derive(Serialize)]
struct PreviousDoc<'a> {
    run_id: &'a str,
    as_of: &'a str,
    manifest_sha256: &'a str,
    workbook_sha256: Option<&'a str>,
}

#[derive(Serialize, Default)]
struct ExclusionCounts {
    active: usize,
    expired: usize,
    unmatched: usize,
    class: usize,
}

/// Slug → value, serialised as an object in [`ReportKind::ALL`] order.
struct SlugMap<T>(Vec<(&'static str, T)>);

impl<T: Serialize> Serialize for SlugMap<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (slug, value) in &self.0 {
            map.serialize_entry(slug, value)?;
        }
        map.end()
    }
}

/// Slug → row count, serialised as an object in [`ReportKind::ALL`] order.
struct ReportCounts(Vec<(&'static str, usize)>);

impl Serialize for ReportCounts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (slug, rows) in &self.0 {
            map.serialize_entry(slug, rows)?;
        }
        map.end()
    }
}

impl<'a> SummaryDoc<'a> {
    fn new(audit: &'a Audit) -> SummaryDoc<'a> {
        let meta = &audit.meta;
        let counts = ReportKind::ALL
            .iter()
            .filter_map(|kind| audit.report(*kind).map(|r| (kind.slug(), r.rows.len())))
            .collect();
        let changes = audit.changes.as_ref().zip(meta.previous.as_ref()).map(|(changes, previous)| ChangesDoc {
            previous: PreviousDoc {
                run_id: &previous.run_id,
                as_of: &previous.as_of,
                manifest_sha256: &previous.manifest_sha256,
                workbook_sha256: previous.workbook_sha256.as_deref(),
            },
            reports: SlugMap(changes.counts.iter().map(|(kind, c)| (kind.slug(), *c)).collect()),
            total: changes.total(),
        });
        let exclusions = audit.exclusions.as_ref().map(|rows| {
            let mut counts = ExclusionCounts::default();
            for row in rows {
                *match row.status {
                    ExclusionStatus::Active => &mut counts.active,
                    ExclusionStatus::Expired => &mut counts.expired,
                    ExclusionStatus::Unmatched => &mut counts.unmatched,
                    ExclusionStatus::Class => &mut counts.class,
                } += 1;
            }
            counts
        });
        SummaryDoc {
            run_id: &meta.run_id,
            tool_version: &meta.tool_version,
            org: Org {
                id: &meta.org_id,
                name: meta.org_name.as_deref(),
                instance_url: &meta.instance_url,
                is_sandbox: meta.is_sandbox,
            },
            api_version: &meta.api_version,
            pulled_at: &meta.pulled_at,
            as_of: rfc3339(meta.as_of),
            rules: &meta.rules,
            summary: &audit.summary,
            reports: ReportCounts(counts),
            findings: audit.findings(),
            changes,
            exclusions,
            seats: SeatsDoc::new(&audit.seats),
            notes: &audit.notes,
            snapshot: Snapshot { manifest_sha256: &meta.manifest_sha256, files: &meta.sources },
            apps: audit.apps.iter().map(App::new).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::tests::{SLUGS, sample_audit};
    use serde_json::Value;

    fn render(audit: &Audit) -> Vec<u8> {
        let mut out = Vec::new();
        write_summary(audit, &mut out).unwrap();
        out
    }

    #[test]
    fn is_deterministic_and_parses() {
        let audit = sample_audit();
        let bytes = render(&audit);
        assert_eq!(bytes, render(&audit.clone()));
        assert!(bytes.ends_with(b"}\n"));
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["as_of"], "2024-06-30T12:20:30Z");
        assert_eq!(v["org"]["id"], "00D000000000001EAA");
        assert_eq!(v["org"]["name"], "Acme <script>alert(1)</script> & \"Co\"");
        assert_eq!(v["org"]["is_sandbox"], false);
        assert_eq!(v["rules"]["inactive_days"], 90);
        assert_eq!(v["rules"]["roster"]["entries"], 3);
        assert_eq!(v["summary"]["audited_users"], 19);
        assert_eq!(v["summary"]["frozen"], 1);
        // The hostile users 3..=13 last logged in 120 to 520 days ago, and one user logged in after
        // the as-of instant (inactive by rule): 12 inactive. Every report's rows but the access
        // matrix's, but for the never-logged-in user in the grace period: 12 + 1 never + 1 retained
        // + 1 lacking + 1 roster + 0.
        assert_eq!(v["reports"]["inactive-users"], 12);
        assert_eq!(v["findings"], 16);
        assert_eq!(v["run_id"], "0123456789abcdef");
        assert_eq!(v["changes"], Value::Null);
        assert_eq!(v["exclusions"], Value::Null);
        assert_eq!(v["reports"]["never-logged-in"], 2);
        assert_eq!(v["reports"]["access-matrix"], 19);
        assert_eq!(v["snapshot"]["manifest_sha256"], "cd".repeat(32));
        assert_eq!(v["snapshot"]["files"][0]["object"], "User");
        assert_eq!(v["snapshot"]["files"][0]["soql"], "SELECT Id, Username FROM User");
    }

    #[test]
    fn keys_are_in_the_documented_order() {
        // serde_json keeps the document's key order (the `preserve_order` feature).
        let v: Value = serde_json::from_slice(&render(&sample_audit())).unwrap();
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(
            keys(&v),
            [
                "run_id",
                "tool_version",
                "org",
                "api_version",
                "pulled_at",
                "as_of",
                "rules",
                "summary",
                "reports",
                "findings",
                "changes",
                "exclusions",
                "seats",
                "notes",
                "snapshot"
            ]
        );
        assert_eq!(v["seats"]["licences"][0]["used_mismatch"], Value::Bool(true));
        assert_eq!(v["seats"]["licences"][0]["reclaimable_yearly_cost"], serde_json::json!(3600.0));
        assert_eq!(v["seats"]["reclaimable_yearly_cost"], serde_json::json!(3600.0), "the second licence has no cost");
        assert_eq!(keys(&v["org"]), ["id", "name", "instance_url", "is_sandbox"]);
        assert_eq!(keys(&v["snapshot"]), ["manifest_sha256", "files"]);
        assert_eq!(keys(&v["snapshot"]["files"][0]), ["object", "file", "soql", "rows", "sha256"]);
        assert_eq!(keys(&v["reports"]), SLUGS, "reports in ReportKind::ALL order");
    }

    #[test]
    fn only_present_reports_are_counted() {
        let mut audit = sample_audit();
        audit.reports.retain(|r| !matches!(r.kind, ReportKind::NotProvisioned | ReportKind::UnexpectedAccess));
        audit.meta.rules.roster = None;
        let v: Value = serde_json::from_slice(&render(&audit)).unwrap();
        let reports = v["reports"].as_object().unwrap();
        assert!(!reports.contains_key("not-provisioned"));
        assert!(!reports.contains_key("unexpected-access"));
        assert_eq!(reports.len(), 5);
        assert_eq!(v["rules"]["roster"], Value::Null);
    }
}
