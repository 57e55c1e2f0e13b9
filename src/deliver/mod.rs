//! Delivery: output folders that appear whole or not at all, and that only ever replace our own.
//!
//! Takes a target folder (`--out`) and the kind of folder the tool writes there
//! (a snapshot, a report folder) and hands on a [`Staging`] folder to fill; on
//! [`Staging::commit`] the staged folder takes the target's place in one step.
//!
//! - [`folders`]: what makes a folder *ours* to replace. Its marker must carry the
//!   tool's own format and name (the snapshot's `manifest.json`, the report
//!   folder's [`FILE_LIST`], which lists every file the tool wrote there with its
//!   SHA-256) **and** the folder must hold nothing else: a file someone added
//!   (a reviewer's `DECISIONS.xlsx`) makes the run refuse, naming that file,
//!   before anything is written. It also keeps `--out` and `--snapshot` apart.
//! - [`staging`]: the hidden sibling (`.NAME.access-audit-tmp-XXXX`) the outputs are
//!   written into, flushed, and swapped into place (`renameat2(RENAME_EXCHANGE)`
//!   on Linux). The staging folder is locked by its owner (an OS lock, released
//!   by the kernel when the process dies) for its whole life, so a later run
//!   removes only folders whose owner is provably gone, never a live run's; and a
//!   signal handler can remove the live ones before the process exits.
//!
//! Why one place: every file of a report folder is written by [`Staging::write`],
//! which records its SHA-256 as it writes, so the file list is the truth about
//! what the tool wrote, and a later run can tell its own files from anyone else's.

pub mod folders;
pub mod staging;

use std::path::{Path, PathBuf};

pub use folders::{FILE_LIST, FileList, FileRecord, FolderKind, ReportFolder, check_apart};
pub use staging::{Staging, abandon_all};

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("refusing to replace {path}: it is not {kind} written by access-audit ({reason}); nothing was changed")]
    Foreign { path: PathBuf, kind: &'static str, reason: String },
    #[error(
        "refusing to replace {path}: it holds {file}{}, which access-audit did not write; move it out of the folder or choose another --out (nothing was changed)",
        and_more(*others)
    )]
    ForeignFile { path: PathBuf, file: String, others: usize },
    #[error("{path} exists and is not a folder")]
    NotADir { path: PathBuf },
    #[error(
        "--out {out} is inside the snapshot {snapshot}: writing there would change the evidence; choose a folder outside it"
    )]
    OutInsideSnapshot { out: PathBuf, snapshot: PathBuf },
    #[error(
        "the snapshot {snapshot} is inside --out {out}, which the reports replace: copy the snapshot elsewhere first, or choose another --out"
    )]
    SnapshotInsideOut { snapshot: PathBuf, out: PathBuf },
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl OutputError {
    /// A mistake in the command line (two paths that must be apart), rather than a local failure.
    pub fn is_usage(&self) -> bool {
        matches!(self, OutputError::OutInsideSnapshot { .. } | OutputError::SnapshotInsideOut { .. })
    }
}

fn and_more(others: usize) -> String {
    match others {
        0 => String::new(),
        1 => " (and 1 other file)".to_string(),
        n => format!(" (and {n} other files)"),
    }
}

pub fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io { path: path.to_path_buf(), source }
}
