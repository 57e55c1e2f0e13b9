//! The one error type of delivery: what went wrong with an output folder, in one line.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("refusing to replace {path}: it is not {kind} written by access-audit ({reason}); nothing was changed")]
    Foreign { path: PathBuf, kind: &'static str, reason: String },
    #[error(
        "refusing to replace {path}: it holds {file}{}, which access-audit did not write; move it out of the folder or choose another --out (nothing was changed)",
        and_more(*others)
    )]
    ForeignFile { path: PathBuf, file: String, others: usize },
    #[error(
        "refusing to replace {path}: its {file} was changed after access-audit wrote it, so it holds reviewer decisions; \
         move the folder elsewhere (or use --reviews DIR, which keeps every run) and run again (nothing was changed)"
    )]
    Edited { path: PathBuf, file: String },
    #[error(
        "another access-audit run is writing the reviews of {org} in {dir} (it holds {lock}); this run stopped \
         without writing anything: let that one finish"
    )]
    Busy { org: String, dir: PathBuf, lock: PathBuf },
    #[error(
        "refusing to replace {path}: it holds review/, the read-back of its sign-off (access-audit review); new \
         reports would no longer match that record: move the folder elsewhere to keep it, or choose another --out \
         (nothing was changed)"
    )]
    HoldsReview { path: PathBuf },
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
