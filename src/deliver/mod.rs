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
//!   A report folder's `review/` (written by `review`) is its own kind of folder,
//!   [`ReviewFolder`], and keeps the report folder from being replaced.
//! - [`staging`]: the hidden sibling (`.NAME.access-audit-tmp-XXXX`) the outputs are
//!   written into, flushed, and swapped into place (`renameat2(RENAME_EXCHANGE)`
//!   on Linux). The staging folder is locked by its owner (an OS lock, released
//!   by the kernel when the process dies) for its whole life, so a later run
//!   removes only folders whose owner is provably gone, never a live run's; and a
//!   signal handler can remove the live ones before the process exits.
//!
//! - [`reviews`]: `--reviews DIR`, dated runs per org that keep history: a lock per org, the
//!   `latest` link, and `--keep N`, which never deletes a workbook holding decisions. A report
//!   folder whose workbook was changed after it was written is never replaced (`--out` either).
//!
//! - [`email`]: the last step of a scheduled run, the one people see: the committed folder's
//!   digest with its attachments, or a failed run's notice, over SMTP (rustls, certificates
//!   always verified). It reads only what the folder's file list says the run wrote.
//!
//! Why one place: every file of a report folder is written by [`Staging::write`],
//! which records its SHA-256 as it writes, so the file list is the truth about
//! what the tool wrote, and a later run can tell its own files from anyone else's.

pub mod email;
mod error;
pub mod folders;
pub mod reviews;
pub mod staging;

pub use error::{OutputError, io_err};
pub use folders::{
    FILE_LIST, FileList, FileRecord, FolderKind, REVIEW_DIR, ReportFolder, ReviewFolder, WORKBOOK, check_apart,
    workbook_edited,
};
pub use reviews::{OrgReviews, Pruned, runs};
pub use staging::{Staging, abandon_all};
