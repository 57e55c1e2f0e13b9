//! Staging folders: written beside the target, locked by their owner, swapped in whole.
//!
//! Every folder the tool writes is first written into a hidden sibling,
//! `.NAME.access-audit-tmp-XXXXXXXXXX` (same file system), flushed to disk, and
//! then swapped into place in one step. On Linux the swap is
//! `renameat2(RENAME_EXCHANGE)`, so there is no instant at which the target is
//! missing; the previous contents end up in the staging path and are deleted.
//! A crash or kill before the swap leaves the previous folder untouched.
//!
//! **Who may remove a staging folder.** Its owner holds an OS lock on it
//! (`flock` on the folder itself) for the folder's whole life; the kernel drops
//! the lock when the owner dies, however it dies. A later run removes a staging
//! folder only when it can take that lock without waiting, which proves the
//! owner gone; a live run's folder is never touched. A folder is created under
//! another name (`.NAME.access-audit-new-…`), locked, and only then renamed to
//! the staging name, so no run can ever see a staging folder that is not yet
//! locked (a run killed in that instant leaves an empty `-new-` folder, removed
//! once it is ten minutes old).
//!
//! **Signals.** Every live staging folder of this process is registered; the
//! signal handler ([`abandon_all`]) removes them all under the same lock that the
//! swap holds, so a signal lands either before the swap (the target is left as
//! it was) or after it (the new folder is complete), never in between.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use sha2::{Digest, Sha256};

use super::error::{OutputError, io_err};
use super::folders::{FILE_LIST, FileList, FileRecord, FolderKind, check_replaceable};

/// Live staging folders of this process: (staging folder, target).
static LIVE: Mutex<Vec<(PathBuf, PathBuf)>> = Mutex::new(Vec::new());

fn live() -> MutexGuard<'static, Vec<(PathBuf, PathBuf)>> {
    // A panic elsewhere must not stop the cleanup.
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Removes every live staging folder of this process, then calls `then` with their targets while
/// still holding the lock the swap needs, so that no swap can start afterwards. For the signal
/// handler: `then` ends the process.
pub fn abandon_all<R>(then: impl FnOnce(Vec<PathBuf>) -> R) -> R {
    abandon(|_| true, then)
}

/// [`abandon_all`] for the staging folders whose target `which` accepts.
fn abandon<R>(which: impl Fn(&Path) -> bool, then: impl FnOnce(Vec<PathBuf>) -> R) -> R {
    let mut live = live();
    let mut targets = Vec::new();
    live.retain(|(dir, target)| {
        if !which(target) {
            return true;
        }
        remove_all(dir);
        targets.push(target.clone());
        false
    });
    then(targets)
}

/// A staging folder that becomes `target` on [`Staging::commit`], or vanishes if dropped.
pub struct Staging {
    dir: PathBuf,
    target: PathBuf,
    kind: &'static dyn FolderKind,
    /// Files written through [`Staging::write`] or recorded with [`Staging::record`].
    written: BTreeMap<String, FileRecord>,
    /// The owner's lock on `dir`; released when this is dropped (or the process dies).
    _lock: Option<File>,
    committed: bool,
}

impl Staging {
    /// Checks that `target` may be replaced by a folder of `kind`, then creates the staging folder
    /// beside it, removing staging folders of earlier runs whose owner is gone.
    ///
    /// Call it before any expensive work, so that a bad `--out` fails first.
    pub fn new(target: &Path, kind: &'static dyn FolderKind) -> Result<Staging, OutputError> {
        check_replaceable(target, kind)?;
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(io_err(&parent))?;
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
        let prefix = format!(".{name}.access-audit-tmp-");
        remove_orphans(&parent, &prefix);
        remove_unborn(&parent, &format!(".{name}.access-audit-new-"));

        // Created, locked and registered in one step with respect to the signal handler.
        let mut live = live();
        let (dir, lock) = create_locked(&parent, &name, &prefix)?;
        live.push((dir.clone(), target.to_path_buf()));
        drop(live);
        Ok(Staging { dir, target: target.to_path_buf(), kind, written: BTreeMap::new(), _lock: lock, committed: false })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Writes `bytes` to `name` (relative, `/`-separated) in the staging folder and records its
    /// SHA-256 for the folder's file list.
    pub fn write(&mut self, name: &str, bytes: &[u8]) -> Result<(), OutputError> {
        let path = self.dir.join(name);
        if let Some(parent) = path.parent().filter(|p| *p != self.dir) {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        let mut file = File::create_new(&path).map_err(io_err(&path))?;
        file.write_all(bytes).map_err(io_err(&path))?;
        self.record(name, bytes.len() as u64, hex::encode(Sha256::digest(bytes)));
        Ok(())
    }

    /// Records a file that was written into the staging folder some other way, with its SHA-256
    /// (known to the writer), so that it need not be read again for the file list.
    pub fn record(&mut self, name: &str, bytes: u64, sha256: String) {
        self.written.insert(name.to_string(), FileRecord { file: name.to_string(), bytes, sha256 });
    }

    /// Every file in the staging folder, with the SHA-256 recorded at write time (files nobody
    /// recorded are hashed now).
    fn file_list(&self) -> Result<Vec<FileRecord>, OutputError> {
        let mut files = Vec::new();
        let mut stack = vec![(self.dir.clone(), String::new())];
        while let Some((dir, prefix)) = stack.pop() {
            for entry in std::fs::read_dir(&dir).map_err(io_err(&dir))? {
                let entry = entry.map_err(io_err(&dir))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let rel = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
                let path = entry.path();
                if entry.file_type().map_err(io_err(&path))?.is_dir() {
                    stack.push((path, rel));
                    continue;
                }
                let record = match self.written.get(&rel) {
                    Some(r) => r.clone(),
                    None => {
                        let bytes = std::fs::read(&path).map_err(io_err(&path))?;
                        FileRecord { file: rel, bytes: bytes.len() as u64, sha256: hex::encode(Sha256::digest(&bytes)) }
                    }
                };
                files.push(record);
            }
        }
        Ok(files)
    }

    /// Writes the folder's marker (for a report folder, the file list, last), flushes every file,
    /// and swaps the staging folder into place.
    pub fn commit(mut self) -> Result<(), OutputError> {
        if let Some(format) = self.kind.file_list_format() {
            let list = FileList::with_format(format, self.file_list()?);
            let mut text = serde_json::to_vec_pretty(&list).expect("a file list always serialises");
            text.push(b'\n');
            let path = self.dir.join(FILE_LIST);
            std::fs::write(&path, text).map_err(io_err(&path))?;
        }
        sync_tree(&self.dir)?;
        // Checked again: the target may have changed while we worked.
        check_replaceable(&self.target, self.kind)?;
        let mut live = live();
        if !live.iter().any(|(d, _)| *d == self.dir) {
            // A signal handler abandoned this folder: the process is ending.
            return Err(OutputError::Io {
                path: self.dir.clone(),
                source: std::io::Error::new(std::io::ErrorKind::Interrupted, "interrupted"),
            });
        }
        if std::fs::symlink_metadata(&self.target).is_ok() {
            swap(&self.dir, &self.target)?;
            // The old contents now sit in the staging path.
            remove_all(&self.dir);
        } else {
            std::fs::rename(&self.dir, &self.target).map_err(io_err(&self.target))?;
        }
        live.retain(|(d, _)| *d != self.dir);
        self.committed = true;
        drop(live);
        if let Some(parent) = self.target.parent().filter(|p| !p.as_os_str().is_empty()) {
            // Make the rename itself durable.
            if let Ok(d) = File::open(parent) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        let mut live = live();
        remove_all(&self.dir);
        live.retain(|(d, _)| *d != self.dir);
    }
}

/// Creates `.NAME.access-audit-new-XXXX`, locks it, and renames it to `PREFIX-XXXX`.
fn create_locked(parent: &Path, name: &str, prefix: &str) -> Result<(PathBuf, Option<File>), OutputError> {
    use rand::distr::{Alphanumeric, SampleString};
    loop {
        let suffix = Alphanumeric.sample_string(&mut rand::rng(), 10);
        let fresh = parent.join(format!(".{name}.access-audit-new-{suffix}"));
        let dir = parent.join(format!("{prefix}{suffix}"));
        match std::fs::create_dir(&fresh) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(OutputError::Io { path: fresh, source: e }),
        }
        let lock = match lock(&fresh) {
            Ok(lock) => lock,
            Err(e) => {
                // A file system without locks (some network mounts): other runs cannot take the
                // lock either, so they leave this folder alone; only a killed run's stays behind.
                tracing::warn!(
                    "cannot lock {} ({e}): if this run is killed, remove its staging folder by hand",
                    fresh.display()
                );
                None
            }
        };
        if dir.exists() {
            let _ = std::fs::remove_dir(&fresh);
            continue;
        }
        if let Err(e) = std::fs::rename(&fresh, &dir) {
            let _ = std::fs::remove_dir(&fresh);
            return Err(OutputError::Io { path: dir, source: e });
        }
        return Ok((dir, lock));
    }
}

/// Takes the owner's lock on a folder, without waiting.
#[cfg(unix)]
fn lock(dir: &Path) -> std::io::Result<Option<File>> {
    let handle = File::open(dir)?;
    match handle.try_lock() {
        Ok(()) => Ok(Some(handle)),
        Err(std::fs::TryLockError::WouldBlock) => {
            Err(std::io::Error::new(std::io::ErrorKind::WouldBlock, "locked by another process"))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(not(unix))]
fn lock(_dir: &Path) -> std::io::Result<Option<File>> {
    // A folder cannot be opened as a file here: without a lock, nobody else removes it (see below).
    Ok(None)
}

/// Whether the run that made a staging folder is provably gone: its lock can be taken now.
#[cfg(unix)]
fn owner_gone(dir: &Path) -> Option<File> {
    lock(dir).ok().flatten()
}

#[cfg(not(unix))]
fn owner_gone(_dir: &Path) -> Option<File> {
    // No proof either way: never delete what may be a live run's work.
    None
}

/// Removes staging folders beside the target whose owner is gone (killed, crashed). A live run's
/// folder, and anything that is not a staging folder of this target, is left alone.
fn remove_orphans(parent: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir || !entry.file_name().to_string_lossy().starts_with(prefix) {
            continue;
        }
        let path = entry.path();
        match owner_gone(&path) {
            Some(_held) => {
                tracing::info!("removing {}, left behind by an interrupted run", path.display());
                remove_all(&path);
            }
            None => tracing::debug!("leaving {}: a running access-audit is writing it", path.display()),
        }
    }
}

/// How old an empty, unlocked `.NAME.access-audit-new-…` folder must be to be removed: a live run
/// renames its folder microseconds after creating it, so only a run killed in between leaves one.
const UNBORN_AGE: std::time::Duration = std::time::Duration::from_secs(600);

/// Removes folders a run killed between creating and locking its staging folder left: empty
/// (nothing was ever written into them), unlocked, and older than [`UNBORN_AGE`]. Removing one
/// could at worst fail a run stopped for that long in that instant; it can never lose data.
fn remove_unborn(parent: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let old = entry
            .metadata()
            .ok()
            .filter(|m| m.is_dir())
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > UNBORN_AGE);
        if old && entry.file_name().to_string_lossy().starts_with(prefix) && owner_gone(&path).is_some() {
            // `remove_dir` removes only an empty folder.
            let _ = std::fs::remove_dir(&path);
        }
    }
}

/// Removes a folder and everything in it, even while another thread is still adding files to it.
fn remove_all(dir: &Path) {
    for _ in 0..20 {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
        }
    }
    tracing::warn!("could not remove {}", dir.display());
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
    use std::collections::BTreeSet;

    use super::*;

    /// A kind whose marker is a file named `mark` holding `ours`.
    struct Marked;

    impl FolderKind for Marked {
        fn what(&self) -> &'static str {
            "a test folder"
        }

        fn listed_files(&self, dir: &Path) -> Result<BTreeSet<String>, String> {
            match std::fs::read_to_string(dir.join("mark")) {
                Ok(text) if text.starts_with("ours") => Ok(["mark".to_string()].into()),
                _ => Err("no mark".to_string()),
            }
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn replaces_own_folder_and_keeps_foreign_ones() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("snap");
        let mut s = Staging::new(&target, &Marked).unwrap();
        s.write("mark", b"ours 1").unwrap();
        s.commit().unwrap();
        assert_eq!(std::fs::read_to_string(target.join("mark")).unwrap(), "ours 1");

        let mut s = Staging::new(&target, &Marked).unwrap();
        s.write("mark", b"ours 2").unwrap();
        s.commit().unwrap();
        assert_eq!(std::fs::read_to_string(target.join("mark")).unwrap(), "ours 2");
        assert_eq!(names(root.path()), ["snap"], "nothing is left behind beside the target");

        let foreign = root.path().join("docs");
        std::fs::create_dir(&foreign).unwrap();
        std::fs::write(foreign.join("thesis.txt"), "x").unwrap();
        let e = Staging::new(&foreign, &Marked).err().unwrap();
        assert!(e.to_string().contains("refusing to replace"), "{e}");
    }

    #[test]
    fn orphans_of_dead_runs_are_removed_and_locked_ones_kept() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("out");
        let orphan = root.path().join(".out.access-audit-tmp-dead");
        std::fs::create_dir(&orphan).unwrap();
        std::fs::write(orphan.join("report.html"), "half").unwrap();
        // A live run's folder: locked by its owner (here, this handle).
        let live = root.path().join(".out.access-audit-tmp-live");
        std::fs::create_dir(&live).unwrap();
        let held = lock(&live).unwrap();
        let foreign = root.path().join(".other.access-audit-tmp-x");
        std::fs::create_dir(&foreign).unwrap();
        let mut s = Staging::new(&target, &Marked).unwrap();
        assert!(!orphan.exists(), "a dead run's folder is removed");
        assert!(live.exists(), "a locked folder stays");
        assert!(foreign.exists(), "another target's folder stays");
        s.write("mark", b"ours").unwrap();
        s.commit().unwrap();
        drop(held);
        // Once its owner is gone, the next run removes it.
        drop(Staging::new(&target, &Marked).unwrap());
        assert_eq!(names(root.path()), [".other.access-audit-tmp-x", "out"]);
    }

    #[test]
    fn folders_killed_before_they_were_locked_are_removed_once_old() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("out");
        let unborn = root.path().join(".out.access-audit-new-old");
        std::fs::create_dir(&unborn).unwrap();
        let young = root.path().join(".out.access-audit-new-young");
        std::fs::create_dir(&young).unwrap();
        let long_ago = std::time::SystemTime::now() - UNBORN_AGE - std::time::Duration::from_secs(1);
        File::open(&unborn).unwrap().set_modified(long_ago).unwrap();
        drop(Staging::new(&target, &Marked).unwrap());
        assert!(!unborn.exists(), "an old empty one is removed");
        assert!(young.exists(), "a young one may be a live run's, about to be locked");
    }

    #[test]
    fn a_live_staging_folder_is_locked_until_it_is_gone() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("out");
        let s = Staging::new(&target, &Marked).unwrap();
        assert!(s.path().file_name().unwrap().to_string_lossy().starts_with(".out.access-audit-tmp-"));
        if cfg!(unix) {
            assert!(lock(s.path()).is_err(), "another open of the folder cannot take the lock");
        }
        // A second run beside it leaves it alone.
        let other = Staging::new(&target, &Marked).unwrap();
        assert!(s.path().is_dir());
        drop(other);
        let path = s.path().to_path_buf();
        drop(s);
        assert!(!path.exists());
    }

    #[test]
    fn dropped_staging_leaves_the_previous_folder() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("snap");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("mark"), "ours old").unwrap();
        {
            let mut s = Staging::new(&target, &Marked).unwrap();
            s.write("mark", b"ours half").unwrap();
        }
        assert_eq!(std::fs::read_to_string(target.join("mark")).unwrap(), "ours old");
        assert_eq!(names(root.path()), ["snap"]);
    }

    #[test]
    fn abandoned_folders_are_removed_and_cannot_be_committed() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("out");
        let mut s = Staging::new(&target, &Marked).unwrap();
        s.write("mark", b"ours").unwrap();
        let path = s.path().to_path_buf();
        // (Only this test's folder: other tests in this process stage folders too.)
        let targets = abandon(|t| t == target, |targets| targets);
        assert_eq!(targets, std::slice::from_ref(&target));
        assert!(!path.exists());
        assert!(s.commit().is_err());
        assert!(!target.exists());
    }
}
