//! Whose folder is it? The rules that decide whether `--out` may be replaced.
//!
//! A folder is the tool's to replace only when it is empty or when
//!
//! 1. its marker carries the tool's own format and name: a snapshot's
//!    `manifest.json` (checked by [`crate::snapshot`]), a report folder's
//!    [`FILE_LIST`] (checked here), and
//! 2. it holds nothing but the files that marker lists: any other file, folder,
//!    link or pipe is someone else's, and the run refuses, naming it.
//!
//! A folder is never "ours" by a file name alone: a browser extension's folder
//! has a `manifest.json` too. File-manager metadata ([`OS_METADATA`]: Finder's
//! `.DS_Store`, Windows' `Thumbs.db` and `desktop.ini`) is nobody's document and
//! goes with the folder; anything else is refused.
//!
//! The report folder's file list records each file's size and SHA-256 as it was
//! written, so that a later step can tell a file a reviewer changed (the
//! workbook's decisions) from the one the tool wrote.
//!
//! **The review record.** `access-audit review DIR` writes its read-back of the
//! sign-off into `DIR/review/`, a folder of its own kind ([`ReviewFolder`]) with
//! its own file list ([`REVIEW_FORMAT`]): a later `review` may replace a `review/`
//! whose marker is ours and that holds nothing else, and refuses one that is a
//! reviewer's (no marker, or files it did not write). A report folder holding a
//! `review/` is never replaced, whoever wrote it: the record belongs to that run,
//! and new reports would no longer match it ([`OutputError::HoldsReview`]).

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{OutputError, io_err};
use crate::files;

/// A report folder's marker: every file the tool wrote there, with its SHA-256.
pub const FILE_LIST: &str = "access-audit-files.json";
/// The `format` of [`FILE_LIST`].
pub const FILE_LIST_FORMAT: &str = "access-audit-report-folder/1";
/// The `format` of the review record's [`FILE_LIST`] (`DIR/review/`).
pub const REVIEW_FORMAT: &str = "access-audit-review/1";
/// The review record's folder in a report folder.
pub const REVIEW_DIR: &str = "review";
/// Every marker's `tool` starts with this (then the version).
const TOOL_PREFIX: &str = "access-audit ";

/// File-manager metadata, not anyone's document: it may be replaced along with the folder.
pub const OS_METADATA: [&str; 3] = [".DS_Store", "Thumbs.db", "desktop.ini"];

/// `access-audit 0.1.0`: the `tool` of every marker this build writes.
pub fn tool_name() -> String {
    format!("{TOOL_PREFIX}{}", env!("CARGO_PKG_VERSION"))
}

/// Whether a marker's `tool` names access-audit (any version).
pub fn is_tool(tool: &str) -> bool {
    tool.starts_with(TOOL_PREFIX)
}

/// One file the tool wrote into a folder.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileRecord {
    /// Relative to the folder, `/`-separated: `report.html`, `snapshot/User.ndjson`.
    pub file: String,
    pub bytes: u64,
    /// SHA-256 of the bytes written (hex).
    pub sha256: String,
}

/// The report folder's [`FILE_LIST`]: format, tool, and the files in path order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileList {
    pub format: String,
    pub tool: String,
    pub files: Vec<FileRecord>,
}

impl FileList {
    /// A report folder's file list.
    pub fn new(files: Vec<FileRecord>) -> FileList {
        FileList::with_format(FILE_LIST_FORMAT, files)
    }

    pub fn with_format(format: &str, mut files: Vec<FileRecord>) -> FileList {
        files.sort_by(|a, b| a.file.cmp(&b.file));
        FileList { format: format.to_string(), tool: tool_name(), files }
    }

    /// Reads `dir`'s file list; the error says why `dir` is not a report folder of ours.
    pub fn read(dir: &Path) -> Result<FileList, String> {
        FileList::read_format(dir, FILE_LIST_FORMAT)
    }

    /// Reads `dir`'s file list of the given `format`; the error says why `dir` is not such a folder.
    pub fn read_format(dir: &Path, format: &str) -> Result<FileList, String> {
        let path = dir.join(FILE_LIST);
        let bytes = match files::read_member(&path, files::MARKER) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let older = dir.join("summary.json").is_file();
                return Err(if older {
                    format!(
                        "it has no {FILE_LIST}: it was written by an older access-audit or by something else; \
                         check that it holds nothing you need and delete it, or choose another folder"
                    )
                } else {
                    format!("it has no {FILE_LIST}; choose another folder")
                });
            }
            Err(e) => return Err(format!("{FILE_LIST} {e}")),
        };
        let list: FileList =
            serde_json::from_slice(&bytes).map_err(|e| format!("{FILE_LIST} is not an access-audit file list: {e}"))?;
        if list.format != format || !is_tool(&list.tool) {
            return Err(format!(
                "{FILE_LIST} has format {:?} by {:?}, not {format:?} by access-audit",
                list.format, list.tool
            ));
        }
        Ok(list)
    }
}

/// A kind of folder the tool writes, and how to recognise one it wrote.
pub trait FolderKind: Sync {
    /// `a snapshot`, `a report folder`: for messages.
    fn what(&self) -> &'static str;

    /// The files (relative, `/`-separated, the marker included) that the marker in `dir` says the
    /// tool wrote; or, in a few words, why `dir` is not such a folder.
    fn listed_files(&self, dir: &Path) -> Result<BTreeSet<String>, String>;

    /// The format of the [`FILE_LIST`] committing this kind writes, last (a report folder, a
    /// review record); none for a kind with a marker of its own (a snapshot's manifest).
    fn file_list_format(&self) -> Option<&'static str> {
        None
    }

    /// A file in `dir` that someone changed after the tool wrote it and that holds their work
    /// (the report folder's workbook, with reviewer decisions): such a folder is never replaced.
    fn edited(&self, _dir: &Path) -> Result<Option<String>, OutputError> {
        Ok(None)
    }
}

/// The review workbook's name in a report folder (the renderer's [`crate::render::xlsx::FILE_NAME`]).
pub const WORKBOOK: &str = crate::render::xlsx::FILE_NAME;

/// Whether the workbook of the report folder `dir` was changed after the tool wrote it: its
/// SHA-256 now differs from the one [`FILE_LIST`] recorded at write time. Such a workbook holds
/// reviewer decisions. A folder without a file list, or whose workbook is gone, has none.
pub fn workbook_edited(dir: &Path) -> Result<bool, OutputError> {
    let Ok(list) = FileList::read(dir) else { return Ok(false) };
    let Some(record) = list.files.iter().find(|f| f.file == WORKBOOK) else { return Ok(false) };
    let path = dir.join(WORKBOOK);
    match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(OutputError::Io { path, source: e }),
        // A link or anything else in its place is not the file the tool wrote.
        Ok(m) if !m.is_file() => return Ok(true),
        Ok(m) if m.len() != record.bytes => return Ok(true),
        Ok(_) => {}
    }
    let (sha256, _) = crate::files::sha256_file(&path).map_err(io_err(&path))?;
    Ok(sha256 != record.sha256)
}

/// A report folder: the reports, the evidence (`snapshot/`) and [`FILE_LIST`].
pub struct ReportFolder;

impl FolderKind for ReportFolder {
    fn what(&self) -> &'static str {
        "a report folder"
    }

    fn listed_files(&self, dir: &Path) -> Result<BTreeSet<String>, String> {
        let list = FileList::read(dir)?;
        Ok(list.files.into_iter().map(|f| f.file).chain([FILE_LIST.to_string()]).collect())
    }

    fn file_list_format(&self) -> Option<&'static str> {
        Some(FILE_LIST_FORMAT)
    }

    fn edited(&self, dir: &Path) -> Result<Option<String>, OutputError> {
        Ok(workbook_edited(dir)?.then(|| WORKBOOK.to_string()))
    }
}

/// The review record in a report folder (`DIR/review/`): what `review` read back from the
/// completed workbooks, and [`FILE_LIST`] in the [`REVIEW_FORMAT`].
pub struct ReviewFolder;

impl FolderKind for ReviewFolder {
    fn what(&self) -> &'static str {
        "a review record"
    }

    fn listed_files(&self, dir: &Path) -> Result<BTreeSet<String>, String> {
        let list = FileList::read_format(dir, REVIEW_FORMAT)?;
        Ok(list.files.into_iter().map(|f| f.file).chain([FILE_LIST.to_string()]).collect())
    }

    fn file_list_format(&self) -> Option<&'static str> {
        Some(REVIEW_FORMAT)
    }
}

/// Checks that `target` may be replaced by a folder of `kind`: missing, empty, or ours and holding
/// only what its marker lists.
pub fn check_replaceable(target: &Path, kind: &dyn FolderKind) -> Result<(), OutputError> {
    let meta = match std::fs::symlink_metadata(target) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(OutputError::Io { path: target.to_path_buf(), source: e }),
        Ok(m) => m,
    };
    if !meta.is_dir() {
        return Err(OutputError::NotADir { path: target.to_path_buf() });
    }
    if std::fs::read_dir(target).map_err(io_err(target))?.next().is_none() {
        return Ok(());
    }
    let listed = kind.listed_files(target).map_err(|reason| OutputError::Foreign {
        path: target.to_path_buf(),
        kind: kind.what(),
        reason,
    })?;
    if let Some(file) = kind.edited(target)? {
        return Err(OutputError::Edited { path: target.to_path_buf(), file });
    }
    let foreign = foreign_entries(target, &listed)?;
    let review = format!("{REVIEW_DIR}/");
    if foreign.iter().any(|f| f.starts_with(&review)) && ReviewFolder.listed_files(&target.join(REVIEW_DIR)).is_ok() {
        return Err(OutputError::HoldsReview { path: target.to_path_buf() });
    }
    match foreign.first() {
        None => Ok(()),
        Some(first) => {
            Err(OutputError::ForeignFile { path: target.to_path_buf(), file: first.clone(), others: foreign.len() - 1 })
        }
    }
}

/// Everything under `dir` that `listed` does not name, sorted: files, links, pipes, and folders
/// that hold none of the listed files (named with a trailing `/` when empty).
pub fn foreign_entries(dir: &Path, listed: &BTreeSet<String>) -> Result<Vec<String>, OutputError> {
    let mut found = Vec::new();
    walk(dir, "", listed, &mut found)?;
    found.sort();
    Ok(found)
}

fn walk(dir: &Path, prefix: &str, listed: &BTreeSet<String>, found: &mut Vec<String>) -> Result<(), OutputError> {
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
        let path = entry.path();
        // `file_type` does not follow a symbolic link: a link is never one of ours.
        let ft = entry.file_type().map_err(io_err(&path))?;
        if ft.is_dir() {
            let before = found.len();
            walk(&path, &rel, listed, found)?;
            let holds_listed =
                listed.iter().any(|f| f.len() > rel.len() && f.starts_with(&rel) && f[rel.len()..].starts_with('/'));
            if !holds_listed && found.len() == before {
                found.push(format!("{rel}/"));
            }
        } else if ft.is_file() && (listed.contains(&rel) || OS_METADATA.contains(&name.as_str())) {
            continue;
        } else {
            found.push(rel);
        }
    }
    Ok(())
}

/// Refuses an output folder inside the snapshot it reads, and a snapshot inside the output folder
/// it would replace; paths are compared canonicalised (links resolved), whether or not `out` exists.
pub fn check_apart(snapshot: &Path, out: &Path) -> Result<(), OutputError> {
    let s = canonical(snapshot).map_err(io_err(snapshot))?;
    let o = canonical(out).map_err(io_err(out))?;
    if o.starts_with(&s) {
        return Err(OutputError::OutInsideSnapshot { out: out.to_path_buf(), snapshot: snapshot.to_path_buf() });
    }
    if s.starts_with(&o) {
        return Err(OutputError::SnapshotInsideOut { snapshot: snapshot.to_path_buf(), out: out.to_path_buf() });
    }
    Ok(())
}

/// The absolute, link-free form of `path`, which need not exist: its longest existing ancestor is
/// canonicalised, and the rest is appended with `.` and `..` taken as written.
pub fn canonical(path: &Path) -> std::io::Result<PathBuf> {
    let absolute = if path.is_absolute() { path.to_path_buf() } else { std::env::current_dir()?.join(path) };
    let parts: Vec<Component> = absolute.components().collect();
    for existing in (1..=parts.len()).rev() {
        let base: PathBuf = parts[..existing].iter().collect();
        match base.canonicalize() {
            Ok(mut resolved) => {
                for part in &parts[existing..] {
                    match part {
                        Component::ParentDir => {
                            resolved.pop();
                        }
                        Component::Normal(name) => resolved.push(name),
                        _ => {}
                    }
                }
                return Ok(resolved);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(absolute)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn foreign_entries_name_what_the_list_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("snapshot")).unwrap();
        std::fs::create_dir_all(d.join("evidence")).unwrap();
        std::fs::create_dir_all(d.join("empty")).unwrap();
        for f in ["report.html", "snapshot/manifest.json", "evidence/signoff.pdf", "DECISIONS.xlsx", ".DS_Store"] {
            std::fs::write(d.join(f), "x").unwrap();
        }
        let listed = set(&["report.html", "snapshot/manifest.json", "summary.json"]);
        assert_eq!(foreign_entries(d, &listed).unwrap(), ["DECISIONS.xlsx", "empty/", "evidence/signoff.pdf"]);
        assert_eq!(
            foreign_entries(d, &set(&["report.html"])).unwrap(),
            ["DECISIONS.xlsx", "empty/", "evidence/signoff.pdf", "snapshot/manifest.json"]
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_link_is_never_ours_even_under_a_listed_name() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("report.html")).unwrap();
        assert_eq!(foreign_entries(dir.path(), &set(&["report.html"])).unwrap(), ["report.html"]);
    }

    #[test]
    fn a_report_folder_needs_our_file_list() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("summary.json"), "{}").unwrap();
        let e = check_replaceable(d, &ReportFolder).unwrap_err().to_string();
        assert!(e.contains("older access-audit"), "{e}");
        let list = FileList { format: "other/1".into(), tool: tool_name(), files: vec![] };
        std::fs::write(d.join(FILE_LIST), serde_json::to_vec(&list).unwrap()).unwrap();
        let e = check_replaceable(d, &ReportFolder).unwrap_err().to_string();
        assert!(e.contains("format \"other/1\""), "{e}");
        let record = FileRecord { file: "summary.json".into(), bytes: 2, sha256: "00".repeat(32) };
        let list = FileList::new(vec![record]);
        std::fs::write(d.join(FILE_LIST), serde_json::to_vec(&list).unwrap()).unwrap();
        check_replaceable(d, &ReportFolder).unwrap();
        std::fs::write(d.join("notes.txt"), "mine").unwrap();
        let e = check_replaceable(d, &ReportFolder).unwrap_err().to_string();
        assert!(e.contains("it holds notes.txt, which access-audit did not write"), "{e}");
    }

    #[test]
    fn a_review_record_is_the_tools_to_replace_and_keeps_its_report_folder() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let record = |file: &str| FileRecord { file: file.into(), bytes: 1, sha256: "00".repeat(32) };
        std::fs::write(d.join("summary.json"), "{}").unwrap();
        std::fs::write(d.join(FILE_LIST), serde_json::to_vec(&FileList::new(vec![record("summary.json")])).unwrap())
            .unwrap();
        check_replaceable(d, &ReportFolder).unwrap();
        // A review record the tool wrote: replaceable as a review record, and it keeps the report folder.
        let review = d.join(REVIEW_DIR);
        std::fs::create_dir(&review).unwrap();
        std::fs::write(review.join("signoff.json"), "{}").unwrap();
        let list = FileList::with_format(REVIEW_FORMAT, vec![record("signoff.json")]);
        std::fs::write(review.join(FILE_LIST), serde_json::to_vec(&list).unwrap()).unwrap();
        check_replaceable(&review, &ReviewFolder).unwrap();
        let e = check_replaceable(d, &ReportFolder).unwrap_err();
        assert!(matches!(e, OutputError::HoldsReview { .. }), "{e}");
        // A report folder's file list is not a review record's, nor the reverse.
        assert!(check_replaceable(d, &ReviewFolder).is_err());
        // A file a reviewer added makes it theirs.
        std::fs::write(review.join("notes.txt"), "mine").unwrap();
        let e = check_replaceable(&review, &ReviewFolder).unwrap_err().to_string();
        assert!(e.contains("it holds notes.txt"), "{e}");
        // Without the marker, a review/ folder is someone else's: the report folder is refused too.
        std::fs::remove_file(review.join(FILE_LIST)).unwrap();
        let e = check_replaceable(d, &ReportFolder).unwrap_err();
        assert!(matches!(e, OutputError::ForeignFile { .. }), "{e}");
    }

    #[test]
    fn canonical_paths_need_not_exist() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("s")).unwrap();
        assert_eq!(canonical(&root.join("s/x/../reports")).unwrap(), root.join("s/reports"));
        assert_eq!(canonical(&root.join("s/./a/b")).unwrap(), root.join("s/a/b"));
        check_apart(&root.join("s"), &root.join("s/x/../reports")).unwrap_err();
        check_apart(&root.join("s"), &root.join("s2")).unwrap();
        check_apart(&root.join("s/snapshot"), &root.join("s")).unwrap_err();
    }
}
