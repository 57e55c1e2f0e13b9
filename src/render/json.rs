//! `summary.json`: the run's counts and metadata, for scripts, dashboards and monitoring.
//!
//! Pretty-printed, keys in a fixed order (the struct order below, never a hash
//! map's), with a trailing newline:
//!
//! ```text
//! tool_version, org {id, name, instance_url, is_sandbox}, api_version,
//! pulled_at, as_of, rules, summary, reports {slug: rows}, findings,
//! snapshot {manifest_sha256, files: [{object, file, soql, rows, sha256}]}
//! ```
//!
//! `as_of` is RFC 3339 in UTC to the second (`2024-01-15T10:20:30Z`);
//! `reports` lists the reports present, in [`ReportKind::ALL`] order;
//! `findings` adds up the rows of every report but the access matrix. There is
//! no "generated at": the same audit gives the same bytes. It is also the
//! report folder's marker file, so [`super::render_all`] writes it last.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::ser::SerializeMap;

use super::{RenderError, Renderer, create, finish, rfc3339};
use crate::model::{Audit, ReportKind, RulesUsed, SourceFile, Summary};

pub const FILE_NAME: &str = "summary.json";

/// Writes `summary.json`.
pub struct JsonRenderer;

impl Renderer for JsonRenderer {
    fn name(&self) -> &'static str {
        "json"
    }

    fn render(&self, audit: &Audit, dir: &Path) -> Result<Vec<PathBuf>, RenderError> {
        let (mut file, path) = create(dir, FILE_NAME)?;
        write_summary(audit, &mut file).map_err(|source| RenderError::Json { path: path.clone(), source })?;
        finish(file, &path)?;
        Ok(vec![PathBuf::from(FILE_NAME)])
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
    tool_version: &'a str,
    org: Org<'a>,
    api_version: &'a str,
    pulled_at: &'a str,
    as_of: String,
    rules: &'a RulesUsed,
    summary: &'a Summary,
    reports: ReportCounts,
    findings: usize,
    snapshot: Snapshot<'a>,
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
        SummaryDoc {
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
            snapshot: Snapshot { manifest_sha256: &meta.manifest_sha256, files: &meta.sources },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::tests::sample_audit;
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
        assert_eq!(v["summary"]["audited_users"], audit.summary.audited_users);
        assert_eq!(v["findings"], audit.findings());
        assert_eq!(v["reports"]["never-logged-in"], 2);
        assert_eq!(v["reports"]["access-matrix"], audit.report(ReportKind::AccessMatrix).unwrap().rows.len());
        assert_eq!(v["snapshot"]["manifest_sha256"], "cd".repeat(32));
        assert_eq!(v["snapshot"]["files"][0]["object"], "User");
        assert_eq!(v["snapshot"]["files"][0]["soql"], "SELECT Id, Username FROM User");
    }

    #[test]
    fn keys_are_in_the_documented_order() {
        let text = String::from_utf8(render(&sample_audit())).unwrap();
        let top: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("  \"") && !l.starts_with("   "))
            .map(|l| l.trim_start().split('"').nth(1).unwrap())
            .collect();
        assert_eq!(
            top,
            [
                "tool_version",
                "org",
                "api_version",
                "pulled_at",
                "as_of",
                "rules",
                "summary",
                "reports",
                "findings",
                "snapshot"
            ]
        );
        let slugs: Vec<usize> =
            ReportKind::ALL.iter().map(|k| text.find(&format!("\"{}\":", k.slug())).unwrap()).collect();
        assert!(slugs.windows(2).all(|w| w[0] < w[1]), "reports in ReportKind::ALL order");
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
