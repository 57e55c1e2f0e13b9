//! A report folder written earlier, read back: its file list, `summary.json` and report CSVs.
//!
//! Takes the folder and hands on what the run found, each file checked against the SHA-256 the
//! folder's file list ([`crate::deliver::FILE_LIST`]) recorded when the tool wrote it: a CSV or a
//! summary.json that changed since is refused, because a review must compare with what the run
//! really found. The workbooks are the files reviewers are expected to change; they are listed
//! ([`Folder::workbooks`]) and read elsewhere ([`crate::readback`]).
//!
//! Two stages read report folders: the comparison with the previous review ([`crate::changes`])
//! and the sign-off read back ([`crate::review`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::deliver::{FILE_LIST, FileList};
use crate::model::apps::AppReportKind;
use crate::model::{FindingKey, ReportKind, ReviewedReport};
use crate::render::xlsx::{FILE_NAME as WORKBOOK, split};

/// What is wrong with a report folder.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error("{dir} is not a report folder of access-audit: {reason}")]
    NotAReportFolder { dir: PathBuf, reason: String },
    #[error(
        "{dir}: {file} is not the file access-audit wrote (its SHA-256 differs from the one {FILE_LIST} recorded); \
         the reports of that run cannot be trusted"
    )]
    Changed { dir: PathBuf, file: String },
    #[error("{dir}: cannot read {file}: {detail}")]
    Unreadable { dir: PathBuf, file: String, detail: String },
}

impl FolderError {
    /// A path that is not a report folder at all (a mistake in the command line).
    pub fn is_usage(&self) -> bool {
        matches!(self, FolderError::NotAReportFolder { .. })
    }
}

/// One row of a report's CSV.
#[derive(Debug, Clone)]
pub struct CsvRow {
    pub key: FindingKey,
    /// The fields exactly as the CSV holds them (text neutralised against formulas).
    pub fields: Vec<String>,
    /// Whether the row is a finding (REPORTS.md): not in the access matrix, and not a
    /// never-logged-in user still in the grace period.
    pub finding: bool,
}

/// One report's CSV.
#[derive(Debug, Clone)]
pub struct CsvReport {
    pub kind: ReviewedReport,
    pub headers: Vec<String>,
    pub rows: Vec<CsvRow>,
}

impl CsvReport {
    /// The field of `row` under `header` as the org wrote it (the formula guard removed); empty
    /// when the report has no such column.
    pub fn text<'a>(&self, row: &'a CsvRow, header: &str) -> &'a str {
        self.headers.iter().position(|h| h == header).and_then(|i| row.fields.get(i)).map_or("", |f| unneutralised(f))
    }

    fn parse(kind: ReviewedReport, bytes: &[u8]) -> Result<CsvReport, String> {
        let mut reader = csv::Reader::from_reader(bytes);
        let headers: Vec<String> = reader.headers().map_err(|e| e.to_string())?.iter().map(String::from).collect();
        let finding = kind.is_finding();
        let mut report = CsvReport { kind, headers, rows: Vec::new() };
        for record in reader.records() {
            let record = record.map_err(|e| e.to_string())?;
            let line = record.position().map_or(0, |p| p.line());
            let mut row = CsvRow {
                key: FindingKey::User(String::new()),
                fields: record.iter().map(String::from).collect(),
                finding,
            };
            row.key = if let ReviewedReport::App { .. } = report.kind {
                let id = report.text(&row, "AccountId");
                if id.is_empty() {
                    return Err(format!("line {line} has no AccountId"));
                }
                FindingKey::Account(id.to_string())
            } else if report.kind.is_roster_entries() {
                FindingKey::roster(
                    report.text(&row, "federation_id"),
                    report.text(&row, "username"),
                    report.text(&row, "email"),
                )
            } else {
                let id = report.text(&row, "Id");
                if id.is_empty() {
                    return Err(format!("line {line} has no Id"));
                }
                FindingKey::User(id.to_string())
            };
            if report.kind == ReviewedReport::Org(ReportKind::NeverLoggedIn)
                && report.text(&row, "InGracePeriod") == "true"
            {
                row.finding = false;
            }
            report.rows.push(row);
        }
        Ok(report)
    }
}

/// The text the tool wrote into a CSV field, without the `'` that keeps a spreadsheet from reading
/// it as a formula ([`crate::render::csv::neutralise`]). Exact for every text but one that itself
/// begins with `'` and a formula character, which no key of a finding does.
pub fn unneutralised(field: &str) -> &str {
    match field.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => field,
    }
}

/// A report folder, opened: its file list and its summary.json (checked).
#[derive(Debug, Clone)]
pub struct Folder {
    pub dir: PathBuf,
    pub list: FileList,
    pub summary: Value,
}

impl Folder {
    pub fn open(dir: &Path) -> Result<Folder, FolderError> {
        let list =
            FileList::read(dir).map_err(|reason| FolderError::NotAReportFolder { dir: dir.to_path_buf(), reason })?;
        let mut folder = Folder { dir: dir.to_path_buf(), list, summary: Value::Null };
        let bytes = folder
            .read_ours("summary.json")?
            .ok_or_else(|| folder.unreadable("summary.json", "its file list does not name it"))?;
        folder.summary =
            serde_json::from_slice(&bytes).map_err(|e| folder.unreadable("summary.json", &e.to_string()))?;
        Ok(folder)
    }

    fn unreadable(&self, file: &str, detail: &str) -> FolderError {
        FolderError::Unreadable { dir: self.dir.clone(), file: file.to_string(), detail: detail.to_string() }
    }

    /// The SHA-256 the file list recorded for `file`.
    pub fn recorded(&self, file: &str) -> Option<&str> {
        self.list.files.iter().find(|f| f.file == file).map(|f| f.sha256.as_str())
    }

    /// A file the tool wrote, exactly as it wrote it; none when the file list does not name it.
    pub fn read_ours(&self, file: &str) -> Result<Option<Vec<u8>>, FolderError> {
        let Some(sha256) = self.recorded(file) else { return Ok(None) };
        let bytes = crate::files::read_member(&self.dir.join(file), crate::files::REPORT)
            .map_err(|e| self.unreadable(file, &e.to_string()))?;
        if hex::encode(Sha256::digest(&bytes)) != sha256 {
            return Err(FolderError::Changed { dir: self.dir.clone(), file: file.to_string() });
        }
        Ok(Some(bytes))
    }

    /// A text of summary.json by its path of keys (empty when absent).
    pub fn summary_text(&self, path: &[&str]) -> String {
        path.iter().fold(&self.summary, |v, k| &v[*k]).as_str().unwrap_or_default().to_string()
    }

    pub fn run_id(&self) -> String {
        self.summary_text(&["run_id"])
    }

    pub fn org_id(&self) -> String {
        self.summary_text(&["org", "id"])
    }

    pub fn manifest_sha256(&self) -> String {
        self.summary_text(&["snapshot", "manifest_sha256"])
    }

    /// The run's reports, as their CSVs hold them, in [`ReportKind::ALL`] order.
    pub fn reports(&self) -> Result<Vec<CsvReport>, FolderError> {
        self.read_reports(ReportKind::ALL.map(ReviewedReport::Org))
    }

    /// The reports of the applications the run audited (summary.json's `apps`), as their CSVs
    /// hold them: application by application, each in [`AppReportKind::ALL`] order.
    pub fn app_reports(&self) -> Result<Vec<CsvReport>, FolderError> {
        let apps = self.summary["apps"].as_array().map(Vec::as_slice).unwrap_or_default();
        let names = apps.iter().filter_map(|a| a["name"].as_str());
        self.read_reports(
            names.flat_map(|app| AppReportKind::ALL.map(|kind| ReviewedReport::App { app: app.to_string(), kind })),
        )
    }

    /// Each report's CSV the file list names (an absent one is a report the run did not make).
    fn read_reports(&self, kinds: impl IntoIterator<Item = ReviewedReport>) -> Result<Vec<CsvReport>, FolderError> {
        let mut reports = Vec::new();
        for kind in kinds {
            let file = format!("{}.csv", kind.slug());
            let Some(bytes) = self.read_ours(&file)? else { continue };
            reports.push(CsvReport::parse(kind, &bytes).map_err(|detail| self.unreadable(&file, &detail))?);
        }
        Ok(reports)
    }

    /// The workbooks the run wrote: `access-review.xlsx`, then the per-manager ones, by name.
    pub fn workbooks(&self) -> Vec<String> {
        let mut books: Vec<String> = self
            .list
            .files
            .iter()
            .map(|f| f.file.clone())
            .filter(|f| f.starts_with(&format!("{}/", split::FOLDER)) && f.ends_with(".xlsx"))
            .collect();
        books.sort();
        if self.recorded(WORKBOOK).is_some() {
            books.insert(0, WORKBOOK.to_string());
        }
        books
    }

    /// The SHA-256 of each file the file list names, by file.
    pub fn hashes(&self) -> HashMap<&str, &str> {
        self.list.files.iter().map(|f| (f.file.as_str(), f.sha256.as_str())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_lose_only_the_formula_guard() {
        assert_eq!(unneutralised("'=1+1"), "=1+1");
        assert_eq!(unneutralised("'-2"), "-2");
        assert_eq!(unneutralised("'quoted'"), "'quoted'");
        assert_eq!(unneutralised("plain"), "plain");
    }

    #[test]
    fn csv_reports_key_rows_and_skip_the_grace_period_as_findings() {
        let never = b"Id,Username,Name,InGracePeriod\n005A,a@x,A,false\n005B,b@x,'=B,true\n";
        let report = CsvReport::parse(ReviewedReport::Org(ReportKind::NeverLoggedIn), never).unwrap();
        assert_eq!(report.rows.len(), 2);
        assert_eq!(report.rows[0].key, FindingKey::User("005A".into()));
        assert!(report.rows[0].finding && !report.rows[1].finding);
        assert_eq!(report.text(&report.rows[1], "Name"), "=B");
        let roster = b"RosterLine,federation_id,username,email\n2,FED-1,,Ana@X.com\n";
        let report = CsvReport::parse(ReviewedReport::Org(ReportKind::NotProvisioned), roster).unwrap();
        assert_eq!(report.rows[0].key, FindingKey::roster("fed-1", "", "ana@x.com"));
        let matrix = CsvReport::parse(ReviewedReport::Org(ReportKind::AccessMatrix), b"Id\n005A\n").unwrap();
        assert!(!matrix.rows[0].finding);
        assert!(
            CsvReport::parse(ReviewedReport::Org(ReportKind::InactiveUsers), b"Id,Name\n,x\n")
                .unwrap_err()
                .contains("no Id")
        );
    }
}
