//! What changed since the previous review (REPORTS.md, "What changed since the previous review").
//!
//! Takes the previous review's report folder (`--previous DIR`) and the current [`Audit`], and
//! hands the audit on with every finding marked `new` or `persisting` (a persisting one carrying
//! the previous decision), and the lists of resolved findings and of persisting findings whose
//! previous decision was an action (not done), with counts per report.
//!
//! What the previous review found is read from its CSVs, and what it decided from its workbook(s)
//! (`access-review.xlsx` and any `by-manager/` workbook, read back by [`crate::readback`]). The
//! folder must be a report folder of the tool, of the same org, and its CSVs and summary.json must
//! still be the bytes the tool wrote (their SHA-256 in its file list): the workbook is the one file
//! a reviewer is expected to have changed. The current decision always starts empty: each review is
//! its own attestation.
//!
//! [`latest_earlier_run`] finds the previous review by itself among an org's dated runs (the
//! folders `--reviews` writes, `YYYY-MM-DDTHHMMZ[-N]`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crate::model::{
    Audit, Change, ChangeCounts, ChangeRow, ChangeState, Changes, FindingKey, PreviousDecision, PreviousUsed,
    ReportKind, ReviewedReport, Rows,
};
use crate::readback::{self, ReadbackError};
use crate::render::xlsx::{FILE_NAME as WORKBOOK, RUN_ID_KEY};
use crate::report_folder::{Folder, FolderError};

#[derive(Debug, thiserror::Error)]
pub enum ChangesError {
    #[error("--previous {0}")]
    Folder(#[from] FolderError),
    #[error("--previous {dir} is a review of the org {previous}, not of this org {current}")]
    OtherOrg { dir: PathBuf, previous: String, current: String },
    #[error("--previous {dir}: {source}")]
    Workbook {
        dir: PathBuf,
        #[source]
        source: ReadbackError,
    },
    #[error(
        "--previous {dir}: the workbook {file} is of run {found}, but the folder's summary.json is of run {expected}: \
         it was replaced by another run's workbook"
    )]
    ForeignWorkbook { dir: PathBuf, file: String, found: String, expected: String },
}

impl ChangesError {
    /// A mistake in the command line (a folder that is not a previous review of this org), rather
    /// than a previous review that cannot be trusted.
    pub fn is_usage(&self) -> bool {
        match self {
            ChangesError::Folder(e) => e.is_usage(),
            ChangesError::OtherOrg { .. } => true,
            ChangesError::Workbook { .. } | ChangesError::ForeignWorkbook { .. } => false,
        }
    }
}

/// A previous finding: who it named, as the previous CSV shows it.
#[derive(Debug, Clone)]
struct PreviousFinding {
    username: Option<String>,
    name: Option<String>,
}

/// The previous review, read.
#[derive(Debug, Clone)]
pub struct Previous {
    pub used: PreviousUsed,
    pub org_id: String,
    /// Every previous finding, per report, in the previous CSV's order.
    findings: BTreeMap<ReportKind, Vec<(FindingKey, PreviousFinding)>>,
    /// What the previous workbooks recorded for each finding that has anything recorded.
    decisions: HashMap<(ReportKind, FindingKey), PreviousDecision>,
}

impl Previous {
    /// Reads the previous review's report folder.
    pub fn load(dir: &Path) -> Result<Previous, ChangesError> {
        let folder = Folder::open(dir)?;
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let mut findings = BTreeMap::new();
        for report in folder.reports()?.into_iter().filter(|r| r.kind.is_finding()) {
            let ReviewedReport::Org(kind) = report.kind else { continue };
            let found = report
                .rows
                .iter()
                .filter(|row| row.finding)
                .map(|row| {
                    let (username, name) = if report.kind.is_roster_entries() {
                        (some(report.text(row, "username")), None)
                    } else {
                        (some(report.text(row, "Username")), some(report.text(row, "Name")))
                    };
                    (row.key.clone(), PreviousFinding { username, name })
                })
                .collect();
            findings.insert(kind, found);
        }

        // The decisions: the main workbook, then the per-manager ones; the first recorded wins.
        let run_id = folder.run_id();
        let mut decisions = HashMap::new();
        let mut workbook_sha256 = None;
        for file in folder.workbooks() {
            let path = dir.join(&file);
            if !path.exists() {
                continue;
            }
            let book =
                readback::read(&path).map_err(|source| ChangesError::Workbook { dir: dir.to_path_buf(), source })?;
            let found = book.run.get(RUN_ID_KEY).cloned().unwrap_or_default();
            if !run_id.is_empty() && found != run_id {
                return Err(ChangesError::ForeignWorkbook { dir: dir.to_path_buf(), file, found, expected: run_id });
            }
            if file == WORKBOOK {
                workbook_sha256 = Some(book.sha256.clone());
            }
            for sheet in &book.sheets {
                let ReviewedReport::Org(kind) = sheet.kind else { continue };
                for row in &sheet.rows {
                    let (Some(key), review) = (sheet.key(row), sheet.review(row)) else { continue };
                    if review.decision.is_none() && review.reviewer.is_none() && review.decided_on.is_none() {
                        continue;
                    }
                    decisions.entry((kind, key)).or_insert(PreviousDecision {
                        decision: review.decision,
                        reviewer: review.reviewer,
                        decided_on: review.decided_on,
                    });
                }
            }
        }
        Ok(Previous {
            used: PreviousUsed {
                folder: dir.display().to_string(),
                run_id,
                as_of: folder.summary_text(&["as_of"]),
                manifest_sha256: folder.manifest_sha256(),
                workbook_sha256,
            },
            org_id: folder.org_id(),
            findings,
            decisions,
        })
    }
}

/// Marks every finding of `audit` new or persisting against `previous`, and lists what was
/// resolved and what was not done.
pub fn compare(audit: &mut Audit, previous: &Previous) -> Result<(), ChangesError> {
    if !previous.org_id.is_empty() && previous.org_id != audit.meta.org_id {
        return Err(ChangesError::OtherOrg {
            dir: PathBuf::from(&previous.used.folder),
            previous: previous.org_id.clone(),
            current: audit.meta.org_id.clone(),
        });
    }
    let before = |kind: ReportKind| -> BTreeSet<&FindingKey> {
        previous.findings.get(&kind).map(|f| f.iter().map(|(k, _)| k).collect()).unwrap_or_default()
    };
    let decision_of =
        |kind: ReportKind, key: &FindingKey| previous.decisions.get(&(kind, key.clone())).cloned().unwrap_or_default();
    let mut changes = Changes::default();
    let mut counts: BTreeMap<ReportKind, ChangeCounts> = BTreeMap::new();
    for report in audit.reports.iter_mut().filter(|r| r.kind.is_finding()) {
        let kind = report.kind;
        report.with_changes = true;
        let was = before(kind);
        let count = counts.entry(kind).or_default();
        let mut mark = |key: FindingKey, username: Option<String>, name: Option<String>| -> Change {
            if !was.contains(&key) {
                count.new += 1;
                return Change { state: ChangeState::New, previous: PreviousDecision::default() };
            }
            count.persisting += 1;
            let decided = decision_of(kind, &key);
            if decided.is_action() {
                count.not_done += 1;
                changes.not_done.push(ChangeRow { report: kind, key, username, name, previous: decided.clone() });
            }
            Change { state: ChangeState::Persisting, previous: decided }
        };
        match &mut report.rows {
            Rows::Users(users) => {
                for user in users.iter_mut().filter(|u| u.is_finding_in(kind)) {
                    user.change = Some(mark(user.key(), Some(user.username.clone()), user.name.clone()));
                }
            }
            Rows::Roster(entries) => {
                for entry in entries.iter_mut() {
                    let username = (!entry.username.is_empty()).then(|| entry.username.clone());
                    entry.change = Some(mark(entry.key(), username, None));
                }
            }
        }
    }
    // Resolved: previous findings that are not findings of the same report now.
    for (kind, found) in &previous.findings {
        let now: BTreeSet<FindingKey> = audit
            .report(*kind)
            .map(|r| match &r.rows {
                Rows::Users(users) => users.iter().filter(|u| u.is_finding_in(*kind)).map(|u| u.key()).collect(),
                Rows::Roster(entries) => entries.iter().map(|e| e.key()).collect(),
            })
            .unwrap_or_default();
        for (key, finding) in found.iter().filter(|(key, _)| !now.contains(key)) {
            counts.entry(*kind).or_default().resolved += 1;
            changes.resolved.push(ChangeRow {
                report: *kind,
                key: key.clone(),
                username: finding.username.clone(),
                name: finding.name.clone(),
                previous: decision_of(*kind, key),
            });
        }
    }
    changes.not_done.sort_by_key(|r| r.report);
    changes.counts = counts.into_iter().collect();
    audit.meta.previous = Some(previous.used.clone());
    audit.changes = Some(changes);
    Ok(())
}

/// The run-folder name `--reviews` gives a run: `2026-11-20T0900Z`, then `-2`, `-3`, … for more
/// runs in the same minute. Returns what orders runs: the minute, then the number (1 for none).
fn run_order(name: &str) -> Option<(chrono::NaiveDateTime, u32)> {
    let (stamp, n) = match name.get(16..) {
        Some("") => (name, 1),
        Some(rest) => (&name[..16], rest.strip_prefix('-')?.parse::<u32>().ok().filter(|n| *n >= 2)?),
        None => return None,
    };
    let minute = chrono::NaiveDateTime::parse_from_str(stamp.strip_suffix('Z')?, "%Y-%m-%dT%H%M").ok()?;
    Some((minute, n))
}

/// The newest run folder in an org's reviews folder (`DIR/<org>/`) before `current`: named like a
/// dated run ([`run_order`]), a real folder (not the `latest` link, nothing hidden such as a
/// staging folder), and earlier than `current` when `current`'s name is a run's name. For
/// `--reviews`: the previous review is found by itself unless `--no-previous`.
pub fn latest_earlier_run(org_dir: &Path, current: &Path) -> Option<PathBuf> {
    let current_name = current.file_name().map(|n| n.to_string_lossy().into_owned());
    let current_order = current_name.as_deref().and_then(run_order);
    let mut best: Option<((chrono::NaiveDateTime, u32), PathBuf)> = None;
    for entry in std::fs::read_dir(org_dir).ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || Some(&name) == current_name.as_ref() {
            continue;
        }
        // `file_type` does not follow links: `latest` and any other link are not runs.
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let Some(order) = run_order(&name) else { continue };
        if current_order.is_some_and(|c| order >= c) {
            continue;
        }
        if best.as_ref().is_none_or(|(b, _)| order > *b) {
            best = Some((order, entry.path()));
        }
    }
    best.map(|(_, path)| path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_names_order_by_minute_then_number() {
        assert!(run_order("2026-11-20T0900Z").is_some());
        assert!(run_order("2026-11-20T0900Z-2") > run_order("2026-11-20T0900Z"));
        assert!(run_order("2026-11-20T0900Z-10") > run_order("2026-11-20T0900Z-9"));
        assert!(run_order("2026-11-20T0901Z") > run_order("2026-11-20T0900Z-10"));
        for bad in [
            "latest",
            "2026-11-20T0900",
            "2026-11-20T0900Z-1",
            "2026-11-20T0900Z-x",
            "2026-11-20T2500Z",
            "2026-11-20T0900Zx",
        ] {
            assert_eq!(run_order(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_latest_earlier_run_is_found_among_dated_folders() {
        let org = tempfile::tempdir().unwrap();
        let d = org.path();
        for name in [
            "2026-08-20T0900Z",
            "2026-11-20T0900Z",
            "2026-11-20T0900Z-2",
            "2026-11-27T0600Z",
            "2027-01-01T0000Z",
            ".2026-12-01T0000Z.access-audit-tmp-abc",
            "notes",
        ] {
            std::fs::create_dir(d.join(name)).unwrap();
        }
        std::fs::write(d.join("2026-12-24T0000Z"), "a file, not a run").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(d.join("2027-01-01T0000Z"), d.join("latest")).unwrap();
        let pick = |current: &str| latest_earlier_run(d, &d.join(current)).map(|p| p.file_name().unwrap().to_owned());
        // The current run, already in place: the newest before it.
        assert_eq!(pick("2026-11-27T0600Z").unwrap(), "2026-11-20T0900Z-2");
        // Not yet in place (still staging), newest of all: the newest folder.
        assert_eq!(pick("2027-02-01T0000Z").unwrap(), "2027-01-01T0000Z");
        assert_eq!(pick("2026-11-20T0900Z-2").unwrap(), "2026-11-20T0900Z");
        assert_eq!(pick("2026-08-20T0900Z"), None, "the first run has no previous one");
        // A current folder not named like a run: the newest run folder.
        assert_eq!(pick("somewhere-else").unwrap(), "2027-01-01T0000Z");
        assert_eq!(latest_earlier_run(&d.join("missing"), &d.join("x")), None);
    }
}
