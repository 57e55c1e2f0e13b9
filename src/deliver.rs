//! Delivery: output folders that appear whole or not at all.
//!
//! Every folder the tool writes (a snapshot, a report folder) is first written
//! into a hidden staging sibling (`.NAME.access-audit-tmp-XXXX`, same file system),
//! flushed to disk, and then swapped into place in one step. On Linux the swap
//! is `renameat2(RENAME_EXCHANGE)`, so there is no instant at which the target is
//! missing; the previous contents end up in the staging folder and are deleted.
//! A crash or kill before the swap leaves the previous folder untouched.
//!
//! A folder is only ever replaced when it is empty or holds the tool's own
//! marker file (`manifest.json` for a snapshot, `summary.json` for reports), so a
//! mistyped `--out` cannot wipe someone's documents.

use std::fs::File;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error(
        "refusing to replace {path}: it exists and is not {kind} written by access-audit (no {marker}); choose another folder"
    )]
    Foreign { path: PathBuf, kind: &'static str, marker: &'static str },
    #[error("{path} exists and is not a folder")]
    NotADir { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

pub fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io { path: path.to_path_buf(), source }
}

/// A staging folder that becomes `target` on [`Staging::commit`], or vanishes if dropped.
pub struct Staging {
    dir: tempfile::TempDir,
    target: PathBuf,
}

impl Staging {
    /// Checks that `target` may be replaced, then creates the staging folder beside it.
    ///
    /// Call it before any expensive work, so that a bad `--out` fails first.
    pub fn new(target: &Path, kind: &'static str, marker: &'static str) -> Result<Staging, OutputError> {
        check_replaceable(target, kind, marker)?;
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(io_err(&parent))?;
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
        let prefix = format!(".{name}.access-audit-tmp-");
        remove_orphans(&parent, &prefix);
        let dir = tempfile::Builder::new().prefix(&prefix).tempdir_in(&parent).map_err(io_err(&parent))?;
        // Who owns this folder, so that a later run can clear it away if this one is killed.
        std::fs::write(dir.path().join(OWNER), std::process::id().to_string()).map_err(io_err(dir.path()))?;
        Ok(Staging { dir, target: target.to_path_buf() })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Flushes every file and swaps the staging folder into place.
    pub fn commit(self, kind: &'static str, marker: &'static str) -> Result<(), OutputError> {
        let owner = self.dir.path().join(OWNER);
        std::fs::remove_file(&owner).map_err(io_err(&owner))?;
        sync_tree(self.dir.path())?;
        // Checked again: the target may have changed while we worked.
        check_replaceable(&self.target, kind, marker)?;
        if self.target.exists() {
            swap(self.dir.path(), &self.target)?;
            // The old contents now sit in the staging path; dropping `dir` deletes them.
            drop(self.dir);
        } else {
            let staged = self.dir.keep();
            std::fs::rename(&staged, &self.target).map_err(io_err(&self.target))?;
        }
        if let Some(parent) = self.target.parent().filter(|p| !p.as_os_str().is_empty()) {
            // Make the rename itself durable.
            if let Ok(d) = File::open(parent) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

/// The file in a staging folder that names the process writing it.
const OWNER: &str = ".access-audit-owner";

/// Removes staging folders beside the target that a killed run left behind (their owner process
/// is gone). Folders of a run still going, and anything not ours, are left alone.
fn remove_orphans(parent: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if !entry.file_name().to_string_lossy().starts_with(prefix) || !path.is_dir() {
            continue;
        }
        let alive = match std::fs::read_to_string(path.join(OWNER)).ok().and_then(|p| p.trim().parse::<u32>().ok()) {
            Some(pid) => process_alive(pid),
            // Without an owner file it is the old contents of a swap that was not cleaned up.
            None => false,
        };
        if !alive {
            tracing::info!("removing {}, left behind by an interrupted run", path.display());
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

#[cfg(target_os = "linux")]
fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(not(target_os = "linux"))]
fn process_alive(_pid: u32) -> bool {
    // Without a cheap, safe liveness check, assume it runs: never delete a live run's work.
    true
}

fn check_replaceable(target: &Path, kind: &'static str, marker: &'static str) -> Result<(), OutputError> {
    match std::fs::symlink_metadata(target) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(OutputError::Io { path: target.to_path_buf(), source: e }),
        Ok(m) if !m.is_dir() => Err(OutputError::NotADir { path: target.to_path_buf() }),
        Ok(_) => {
            let mut entries = std::fs::read_dir(target).map_err(io_err(target))?;
            if entries.next().is_none() || target.join(marker).is_file() {
                Ok(())
            } else {
                Err(OutputError::Foreign { path: target.to_path_buf(), kind, marker })
            }
        }
    }
}

fn sync_tree(dir: &Path) -> Result<(), OutputError> {
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let path = entry.path();
        if entry.file_type().map_err(io_err(&path))?.is_dir() {
            sync_tree(&path)?;
        } else {
            File::open(&path).and_then(|f| f.sync_all()).map_err(io_err(&path))?;
        }
    }
    File::open(dir).and_then(|f| f.sync_all()).map_err(io_err(dir))
}

#[cfg(target_os = "linux")]
fn swap(staged: &Path, target: &Path) -> Result<(), OutputError> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    match renameat_with(CWD, staged, CWD, target, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(()),
        // Some file systems do not support the exchange: fall back to two renames.
        Err(rustix::io::Errno::INVAL) | Err(rustix::io::Errno::NOSYS) => swap_two_step(staged, target),
        Err(e) => Err(OutputError::Io { path: target.to_path_buf(), source: e.into() }),
    }
}

#[cfg(not(target_os = "linux"))]
fn swap(staged: &Path, target: &Path) -> Result<(), OutputError> {
    swap_two_step(staged, target)
}

/// Moves the old folder aside, the new one in, and the old one into the staging path.
fn swap_two_step(staged: &Path, target: &Path) -> Result<(), OutputError> {
    let aside = staged.with_extension("old");
    std::fs::rename(target, &aside).map_err(io_err(target))?;
    if let Err(e) = std::fs::rename(staged, target) {
        let _ = std::fs::rename(&aside, target);
        return Err(OutputError::Io { path: target.to_path_buf(), source: e });
    }
    std::fs::rename(&aside, staged).map_err(io_err(staged))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_own_folder_and_keeps_foreign_ones() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("snap");
        let s = Staging::new(&target, "a snapshot", "manifest.json").unwrap();
        std::fs::write(s.path().join("manifest.json"), "1").unwrap();
        s.commit("a snapshot", "manifest.json").unwrap();
        assert_eq!(std::fs::read_to_string(target.join("manifest.json")).unwrap(), "1");

        let s = Staging::new(&target, "a snapshot", "manifest.json").unwrap();
        std::fs::write(s.path().join("manifest.json"), "2").unwrap();
        s.commit("a snapshot", "manifest.json").unwrap();
        assert_eq!(std::fs::read_to_string(target.join("manifest.json")).unwrap(), "2");
        // Nothing is left behind beside the target.
        let names: Vec<_> = std::fs::read_dir(root.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("snap")]);

        let foreign = root.path().join("docs");
        std::fs::create_dir(&foreign).unwrap();
        std::fs::write(foreign.join("thesis.txt"), "x").unwrap();
        let e = Staging::new(&foreign, "a snapshot", "manifest.json").err().unwrap();
        assert!(e.to_string().contains("refusing to replace"), "{e}");
    }

    #[test]
    fn orphans_of_killed_runs_are_removed_and_live_ones_kept() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("out");
        let orphan = root.path().join(".out.access-audit-tmp-dead");
        std::fs::create_dir(&orphan).unwrap();
        std::fs::write(orphan.join(OWNER), "4294967295").unwrap();
        let live = root.path().join(".out.access-audit-tmp-live");
        std::fs::create_dir(&live).unwrap();
        std::fs::write(live.join(OWNER), std::process::id().to_string()).unwrap();
        let foreign = root.path().join(".other.access-audit-tmp-x");
        std::fs::create_dir(&foreign).unwrap();
        let s = Staging::new(&target, "a snapshot", "manifest.json").unwrap();
        assert!(!orphan.exists(), "a dead run's folder is removed");
        assert!(live.exists() || !cfg!(target_os = "linux"), "a live run's folder stays");
        assert!(foreign.exists(), "another target's folder stays");
        std::fs::write(s.path().join("manifest.json"), "1").unwrap();
        s.commit("a snapshot", "manifest.json").unwrap();
        assert!(!target.join(OWNER).exists(), "the owner file does not reach the output");
    }

    #[test]
    fn dropped_staging_leaves_the_previous_folder() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("snap");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("manifest.json"), "old").unwrap();
        {
            let s = Staging::new(&target, "a snapshot", "manifest.json").unwrap();
            std::fs::write(s.path().join("manifest.json"), "half").unwrap();
        }
        assert_eq!(std::fs::read_to_string(target.join("manifest.json")).unwrap(), "old");
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);
    }
}
