//! Dated runs: `--reviews DIR` keeps every run of an org, in order, and never destroys decisions.
//!
//! Takes the reviews folder, the org's folder name and the run's start, and hands on the
//! folder the run writes (through a [`super::Staging`] like any report folder), then points
//! `latest` at it and prunes old runs. The layout, one folder per org:
//!
//! ```text
//! DIR/<org>/2026-11-27T0600Z/      a report folder (the run's start, UTC, to the minute)
//! DIR/<org>/2026-11-27T0600Z-2/    a second run in the same minute: never the same folder
//! DIR/<org>/latest -> 2026-11-27T0600Z-2    a relative symbolic link to the last good run
//! DIR/<org>/.access-audit.lock     the lock of the org's reviews
//! ```
//!
//! - **One writer per org**: [`OrgReviews::lock`] takes an OS lock (`flock`) on the lock file
//!   for the whole run, without waiting; the kernel drops it when the process ends, however it
//!   ends, so a second run started while the first is writing stops at once ([`OutputError::Busy`])
//!   and a killed run never leaves a stale lock behind.
//! - **History**: a run never replaces another; `latest` moves only once the new run is
//!   complete (a new link renamed over the old one, so it is never missing).
//! - **Decisions are never destroyed**: [`OrgReviews::prune`] (`--keep N`) deletes the runs
//!   older than the last N, except a run whose workbook was changed after it was written (its
//!   SHA-256 no longer matches the one the folder's file list recorded: it holds reviewer
//!   decisions), and except a folder holding anything access-audit did not write.
//!
//! [`runs`] lists an org's runs oldest first, for whoever needs "the previous review".

use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};

use super::error::{OutputError, io_err};
use super::folders::{ReportFolder, check_replaceable, workbook_edited};

/// The link to the last good run, in the org's folder.
pub const LATEST: &str = "latest";
/// The lock file in the org's folder.
pub const LOCK_FILE: &str = ".access-audit.lock";
/// A run folder's name: the run's start in UTC, to the minute.
const STAMP: &str = "%Y-%m-%dT%H%MZ";

/// `2026-11-27T0600Z`: the name of a run started at `started`.
pub fn stamp(started: DateTime<Utc>) -> String {
    started.format(STAMP).to_string()
}

/// The order of a run folder's name, `(start, n)` for `<stamp>` (n = 1) and `<stamp>-n` (n ≥ 2);
/// None for any other name.
fn run_key(name: &str) -> Option<(NaiveDateTime, u32)> {
    let (stamp, n) = match name.rsplit_once('-') {
        Some((stamp, n)) if n.bytes().all(|b| b.is_ascii_digit()) && !n.starts_with('0') && !n.is_empty() => {
            (stamp, n.parse::<u32>().ok().filter(|n| *n >= 2)?)
        }
        _ => (name, 1),
    };
    // The exact form only: `format` would also accept a shorter hour or minute.
    let start = NaiveDateTime::parse_from_str(stamp, STAMP).ok()?;
    (start.format(STAMP).to_string() == stamp).then_some((start, n))
}

/// An org's runs, oldest first: its dated folders (not `latest`, not a staging folder, nothing
/// else). An org folder that cannot be read has none.
pub fn runs(org_dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(org_dir) else { return Vec::new() };
    let mut found: Vec<((NaiveDateTime, u32), PathBuf)> = entries
        .flatten()
        // `file_type` does not follow a link: `latest` is never a run.
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| Some((run_key(&e.file_name().to_string_lossy())?, e.path())))
        .collect();
    found.sort();
    found.into_iter().map(|(_, path)| path).collect()
}

/// The run `latest` points at, if it points at one.
pub fn latest(org_dir: &Path) -> Option<PathBuf> {
    let target = std::fs::read_link(org_dir.join(LATEST)).ok()?;
    let run = org_dir.join(target.file_name()?);
    run.is_dir().then_some(run)
}

/// The 18-character, case-safe form of a 15-character Salesforce Id (an 18-character one is
/// returned as it is): the login may name the org either way, its Organization record never
/// does, and one org must always get the same folder.
pub fn case_safe_id(id: &str) -> String {
    const SUFFIX: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    if id.len() != 15 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return id.to_string();
    }
    let mut out = id.to_string();
    for chunk in id.as_bytes().chunks(5) {
        let flags =
            chunk.iter().enumerate().filter(|(_, b)| b.is_ascii_uppercase()).fold(0, |acc, (i, _)| acc | (1 << i));
        out.push(SUFFIX[flags] as char);
    }
    out
}

/// Checks an org's folder name: the configured name or the org's Id, used as one folder name.
pub fn check_org_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name != LATEST
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} cannot name an org's folder: use 1 to 100 letters, digits, '.', '_' or '-', not starting with '.'"
        ))
    }
}

/// What pruning did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Pruned {
    /// Runs deleted.
    pub removed: Vec<PathBuf>,
    /// Older runs kept because their workbook holds reviewer decisions.
    pub kept_edited: Vec<PathBuf>,
    /// Older runs kept because they hold files access-audit did not write, or are not its folders.
    pub kept_foreign: Vec<PathBuf>,
}

/// An org's reviews folder, locked by this run for as long as this lives.
#[derive(Debug)]
pub struct OrgReviews {
    org: String,
    dir: PathBuf,
    /// The OS lock; released when this is dropped, or by the kernel when the process dies.
    _lock: Option<File>,
}

impl OrgReviews {
    /// Creates `root/<org>` if needed and takes its lock without waiting: another run holding it
    /// is [`OutputError::Busy`].
    pub fn lock(root: &Path, org: &str) -> Result<OrgReviews, OutputError> {
        let dir = root.join(org);
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let path = dir.join(LOCK_FILE);
        let file =
            std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io_err(&path))?;
        let lock = match file.try_lock() {
            Ok(()) => Some(file),
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(OutputError::Busy { org: org.to_string(), dir, lock: path });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                // A file system without locks (some network mounts): say so, and go on.
                tracing::warn!("cannot lock {} ({e}): make sure no two runs write {org} at once", path.display());
                None
            }
        };
        Ok(OrgReviews { org: org.to_string(), dir, _lock: lock })
    }

    /// `root/<org>`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn org(&self) -> &str {
        &self.org
    }

    /// The folder for a run started at `started`: `<stamp>`, or `<stamp>-2`, `-3`, … when a run
    /// of the same minute exists.
    pub fn next_run(&self, started: DateTime<Utc>) -> PathBuf {
        let base = stamp(started);
        let mut n = 1;
        loop {
            let name = if n == 1 { base.clone() } else { format!("{base}-{n}") };
            let path = self.dir.join(&name);
            if std::fs::symlink_metadata(&path).is_err() {
                return path;
            }
            n += 1;
        }
    }

    /// The run `latest` points at, if any.
    pub fn latest(&self) -> Option<PathBuf> {
        latest(&self.dir)
    }

    /// Points `latest` at `run` (a folder in this org's folder), replacing the link in one step.
    pub fn point_latest(&self, run: &Path) -> Result<(), OutputError> {
        let name = run.file_name().expect("a run folder has a name");
        let link = self.dir.join(LATEST);
        #[cfg(unix)]
        {
            let fresh = self.dir.join(format!(".{LATEST}.access-audit-new"));
            let _ = std::fs::remove_file(&fresh);
            std::os::unix::fs::symlink(name, &fresh).map_err(io_err(&fresh))?;
            std::fs::rename(&fresh, &link).map_err(|e| {
                let _ = std::fs::remove_file(&fresh);
                OutputError::Io { path: link.clone(), source: e }
            })
        }
        #[cfg(not(unix))]
        {
            let _ = name;
            tracing::warn!("{} is not updated: this system has no symbolic links here", link.display());
            Ok(())
        }
    }

    /// Deletes the runs older than the last `keep` (at least one is always kept), except those
    /// whose workbook holds decisions and those holding anything the tool did not write.
    pub fn prune(&self, keep: usize) -> Result<Pruned, OutputError> {
        let mut pruned = Pruned::default();
        let all = runs(&self.dir);
        let keep = keep.max(1);
        if all.len() <= keep {
            return Ok(pruned);
        }
        let latest = self.latest();
        for run in &all[..all.len() - keep] {
            if latest.as_deref() == Some(run.as_path()) {
                continue;
            }
            if workbook_edited(run)? {
                tracing::info!("keeping {}: its workbook holds reviewer decisions", run.display());
                pruned.kept_edited.push(run.clone());
                continue;
            }
            if let Err(e) = check_replaceable(run, &ReportFolder) {
                tracing::warn!("keeping {}: {e}", run.display());
                pruned.kept_foreign.push(run.clone());
                continue;
            }
            // Out of the listing first (a hidden name), then deleted: a run killed meanwhile
            // leaves a hidden folder, never half a run that looks whole.
            let name = run.file_name().expect("a run folder has a name").to_string_lossy().into_owned();
            let doomed = self.dir.join(format!(".{name}.access-audit-old"));
            std::fs::rename(run, &doomed).map_err(io_err(run))?;
            std::fs::remove_dir_all(&doomed).map_err(io_err(&doomed))?;
            tracing::info!("removed {} (--keep {keep})", run.display());
            pruned.removed.push(run.clone());
        }
        Ok(pruned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn run_names_are_the_start_to_the_minute_with_a_suffix_when_taken() {
        assert_eq!(stamp(at("2026-11-27T06:00:59Z")), "2026-11-27T0600Z");
        assert!(run_key("2026-11-27T0600Z").is_some());
        assert_eq!(run_key("2026-11-27T0600Z-12").unwrap().1, 12);
        for not_a_run in ["latest", "2026-11-27T600Z", "2026-11-27T0600Z-1", "2026-11-27T0600Z-02", "x-2", ".a"] {
            assert!(run_key(not_a_run).is_none(), "{not_a_run}");
        }
    }

    #[test]
    fn runs_are_listed_oldest_first_without_latest_or_staging_folders() {
        let root = tempfile::tempdir().unwrap();
        let org = OrgReviews::lock(root.path(), "acme").unwrap();
        for name in ["2026-11-27T0600Z-10", "2026-11-27T0600Z", "2026-11-26T2359Z", "2026-11-27T0600Z-2", "notes"] {
            std::fs::create_dir(org.dir().join(name)).unwrap();
        }
        std::fs::create_dir(org.dir().join(".2026-11-28T0000Z.access-audit-tmp-x")).unwrap();
        org.point_latest(&org.dir().join("2026-11-27T0600Z-10")).unwrap();
        let names: Vec<String> =
            runs(org.dir()).iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["2026-11-26T2359Z", "2026-11-27T0600Z", "2026-11-27T0600Z-2", "2026-11-27T0600Z-10"]);
        assert_eq!(org.latest().unwrap(), org.dir().join("2026-11-27T0600Z-10"));
        assert_eq!(std::fs::read_link(org.dir().join(LATEST)).unwrap(), PathBuf::from("2026-11-27T0600Z-10"));
        assert_eq!(org.next_run(at("2026-11-27T06:00:30Z")), org.dir().join("2026-11-27T0600Z-3"));
        assert_eq!(org.next_run(at("2026-11-27T06:01:00Z")), org.dir().join("2026-11-27T0601Z"));
    }

    #[test]
    fn a_second_lock_on_the_same_org_is_refused_until_the_first_is_gone() {
        let root = tempfile::tempdir().unwrap();
        let first = OrgReviews::lock(root.path(), "acme").unwrap();
        let e = OrgReviews::lock(root.path(), "acme").unwrap_err();
        assert!(matches!(e, OutputError::Busy { .. }), "{e}");
        OrgReviews::lock(root.path(), "other").unwrap();
        drop(first);
        OrgReviews::lock(root.path(), "acme").unwrap();
    }

    #[test]
    fn a_15_character_id_gets_its_case_safe_suffix() {
        // Salesforce's documented example: 001A0000006Vm9r → 001A0000006Vm9rIAC.
        assert_eq!(case_safe_id("001A0000006Vm9r"), "001A0000006Vm9rIAC");
        assert_eq!(case_safe_id("001A0000006Vm9rIAC"), "001A0000006Vm9rIAC");
    }

    #[test]
    fn org_names_are_one_plain_folder_name() {
        for good in ["acme", "00D000000000001EAA", "acme-prod_2.eu"] {
            check_org_name(good).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "latest", ".hidden", "a b", "ä"] {
            assert!(check_org_name(bad).is_err(), "{bad:?}");
        }
    }
}
