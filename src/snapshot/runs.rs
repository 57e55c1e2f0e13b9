//! Sorted runs on disk, merged into one snapshot file: bounded memory whatever the org's size.
//!
//! Takes snapshot lines (each starting `{"Id":"…"`) in whatever order they arrive, and hands on
//! one file sorted by Id with its SHA-256. Each query (a REST cursor over an Id range, a whole
//! object, or a Bulk job, whose results come in no order) writes into its own [`Segment`]: lines
//! are buffered up to [`RUN_BYTES`], sorted, and written out as a run (appended to the previous
//! run when they continue it, as the pages of an `ORDER BY Id` query do, so such a query is one
//! run). [`merge`] then reads every run of an object once, in Id order, into the snapshot file.
//!
//! An answer that breaks off is read again, so a segment keeps what came before its last
//! checkpoint apart from what came after: lines after it that had to be written out go to
//! pending runs, deleted on rollback; committed lines are only written at a checkpoint.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use sha2::{Digest, Sha256};

use super::SnapshotError;
use crate::deliver::io_err;

/// Lines a segment holds in memory before writing them out as a run.
pub const RUN_BYTES: usize = 8 << 20;

/// An Id as a sort key: its bytes, zero-padded (a shorter Id that is a prefix sorts first, as
/// strings do).
type Key = [u8; 18];

fn key_of(id: &[u8]) -> Key {
    let mut key = [0u8; 18];
    let n = id.len().min(18);
    key[..n].copy_from_slice(&id[..n]);
    key
}

fn id_of(key: &Key) -> String {
    String::from_utf8_lossy(&key[..key.iter().position(|&b| b == 0).unwrap_or(18)]).into_owned()
}

/// The Id at the start of a snapshot line, `{"Id":"…"`.
fn line_key(line: &[u8]) -> Option<Key> {
    let rest = line.strip_prefix(br#"{"Id":""#)?;
    let end = rest.iter().position(|&b| b == b'"')?;
    Some(key_of(&rest[..end]))
}

/// Where one pull writes its runs: a hidden folder inside the snapshot's staging folder, gone
/// when the pull ends (or with the staging folder, if the run dies).
pub struct RunDir {
    dir: tempfile::TempDir,
    next: AtomicUsize,
}

impl RunDir {
    pub fn new(inside: &Path) -> Result<RunDir, SnapshotError> {
        let dir = tempfile::Builder::new().prefix(".access-audit-runs-").tempdir_in(inside).map_err(io_err(inside))?;
        Ok(RunDir { dir, next: AtomicUsize::new(0) })
    }

    fn new_run(&self) -> Result<Run, SnapshotError> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.path().join(format!("run-{n:05}.ndjson"));
        let file = File::create_new(&path).map_err(io_err(&path))?;
        Ok(Run { path, out: BufWriter::with_capacity(256 * 1024, file), last: [0; 18], rows: 0 })
    }
}

struct Run {
    path: PathBuf,
    out: BufWriter<File>,
    last: Key,
    rows: u64,
}

struct Entry {
    key: Key,
    start: usize,
    end: usize,
}

/// One query's lines (see the module documentation).
pub struct Segment<'d> {
    dir: &'d RunDir,
    object: &'static str,
    committed: Vec<Run>,
    pending: Vec<Run>,
    buf: Vec<u8>,
    entries: Vec<Entry>,
    /// Buffered lines before this index are committed.
    mark: usize,
}

impl<'d> Segment<'d> {
    pub fn new(dir: &'d RunDir, object: &'static str) -> Segment<'d> {
        Segment {
            dir,
            object,
            committed: Vec::new(),
            pending: Vec::new(),
            buf: Vec::new(),
            entries: Vec::new(),
            mark: 0,
        }
    }

    /// Adds one line (without its newline), whose record has this Id.
    pub fn push(&mut self, id: &str, line: &[u8]) -> Result<(), SnapshotError> {
        let start = self.buf.len();
        self.buf.extend_from_slice(line);
        self.buf.push(b'\n');
        self.entries.push(Entry { key: key_of(id.as_bytes()), start, end: self.buf.len() });
        let committed_end = if self.mark == 0 { 0 } else { self.entries[self.mark - 1].end };
        if self.buf.len() - committed_end >= RUN_BYTES {
            // Only the lines since the checkpoint: they may still be dropped.
            let uncommitted = self.entries.split_off(self.mark);
            let run = self.write_run(uncommitted, None)?;
            self.pending.push(run);
            let keep = self.entries.last().map_or(0, |e| e.end);
            self.buf.truncate(keep);
        }
        Ok(())
    }

    /// Keeps every line added so far.
    pub fn checkpoint(&mut self) -> Result<(), SnapshotError> {
        self.committed.append(&mut self.pending);
        if self.buf.len() >= RUN_BYTES {
            self.spill()?;
        }
        self.mark = self.entries.len();
        Ok(())
    }

    /// Drops the lines added since the last checkpoint.
    pub fn rollback(&mut self) {
        for run in self.pending.drain(..) {
            drop(run.out);
            let _ = std::fs::remove_file(&run.path);
        }
        self.entries.truncate(self.mark);
        let keep = self.entries.last().map_or(0, |e| e.end);
        self.buf.truncate(keep);
    }

    /// Drops every line.
    pub fn restart(&mut self) {
        self.rollback();
        for run in self.committed.drain(..) {
            drop(run.out);
            let _ = std::fs::remove_file(&run.path);
        }
        self.entries.clear();
        self.buf.clear();
        self.mark = 0;
    }

    /// Writes the committed buffer out, appending to the last run when it continues it.
    fn spill(&mut self) -> Result<(), SnapshotError> {
        let entries = std::mem::take(&mut self.entries);
        if entries.is_empty() {
            return Ok(());
        }
        let last = self.committed.pop();
        match self.write_run(entries, last) {
            Ok(run) => self.committed.push(run),
            Err(e) => return Err(e),
        }
        self.buf.clear();
        self.mark = 0;
        Ok(())
    }

    /// Sorts `entries` and writes them to `onto` when they all come after its last line, else to
    /// a new run (`onto` is then kept as it was).
    fn write_run(&mut self, mut entries: Vec<Entry>, onto: Option<Run>) -> Result<Run, SnapshotError> {
        entries.sort_unstable_by_key(|e| e.key);
        if let Some(pair) = entries.windows(2).find(|w| w[0].key == w[1].key) {
            return Err(SnapshotError::Duplicate { object: self.object.to_string(), id: id_of(&pair[0].key) });
        }
        let mut run = match onto {
            Some(run) if run.rows > 0 && run.last < entries[0].key => run,
            Some(run) => {
                if run.last == entries[0].key && run.rows > 0 {
                    return Err(SnapshotError::Duplicate { object: self.object.to_string(), id: id_of(&run.last) });
                }
                self.committed.push(run);
                self.dir.new_run()?
            }
            None => self.dir.new_run()?,
        };
        for e in &entries {
            run.out.write_all(&self.buf[e.start..e.end]).map_err(io_err(&run.path))?;
        }
        run.rows += entries.len() as u64;
        run.last = entries.last().expect("not empty").key;
        Ok(run)
    }

    /// Writes out what is left; hands on the runs and how many lines they hold.
    pub fn finish(mut self) -> Result<(Vec<PathBuf>, u64), SnapshotError> {
        self.rollback();
        self.spill()?;
        let mut rows = 0;
        let mut paths = Vec::with_capacity(self.committed.len());
        for mut run in self.committed.drain(..) {
            run.out.flush().map_err(io_err(&run.path))?;
            rows += run.rows;
            paths.push(run.path);
        }
        Ok((paths, rows))
    }
}

/// Merges sorted runs into `out` (created), in Id order; two lines with one Id are a
/// [`SnapshotError::Duplicate`]. Returns the file's SHA-256 (hex) and its lines.
pub fn merge(object: &str, runs: &[PathBuf], out: &Path) -> Result<(String, u64), SnapshotError> {
    let file = File::create_new(out).map_err(io_err(out))?;
    let mut writer = BufWriter::with_capacity(1 << 20, file);
    let mut hasher = Sha256::new();
    let mut readers = Vec::with_capacity(runs.len());
    for path in runs {
        readers.push((BufReader::with_capacity(256 * 1024, File::open(path).map_err(io_err(path))?), path));
    }
    let mut lines: Vec<Vec<u8>> = vec![Vec::new(); readers.len()];
    let mut heap = BinaryHeap::with_capacity(readers.len());
    let read = |i: usize, readers: &mut Vec<(BufReader<File>, &PathBuf)>, lines: &mut Vec<Vec<u8>>| {
        lines[i].clear();
        let (reader, path) = &mut readers[i];
        let n = reader.read_until(b'\n', &mut lines[i]).map_err(io_err(path.as_path()))?;
        if n == 0 {
            return Ok(None);
        }
        line_key(&lines[i]).map(Some).ok_or_else(|| SnapshotError::Invalid {
            dir: path.to_path_buf(),
            detail: "a run line does not start with its Id".into(),
        })
    };
    for i in 0..readers.len() {
        if let Some(key) = read(i, &mut readers, &mut lines)? {
            heap.push(Reverse((key, i)));
        }
    }
    let mut previous: Option<Key> = None;
    let mut rows = 0u64;
    while let Some(Reverse((key, i))) = heap.pop() {
        if previous == Some(key) {
            return Err(SnapshotError::Duplicate { object: object.to_string(), id: id_of(&key) });
        }
        previous = Some(key);
        writer.write_all(&lines[i]).map_err(io_err(out))?;
        hasher.update(&lines[i]);
        rows += 1;
        if let Some(next) = read(i, &mut readers, &mut lines)? {
            heap.push(Reverse((next, i)));
        }
    }
    writer.flush().map_err(io_err(out))?;
    Ok((hex::encode(hasher.finalize()), rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: u32) -> (String, Vec<u8>) {
        let id = format!("0Pa{n:015}");
        let line = format!(r#"{{"Id":"{id}","N":{n}}}"#).into_bytes();
        (id, line)
    }

    fn merged(dir: &Path, segments: Vec<Segment<'_>>) -> Result<(String, u64), SnapshotError> {
        let mut runs = Vec::new();
        for s in segments {
            runs.extend(s.finish()?.0);
        }
        let out = dir.join(format!("out-{}.ndjson", runs.len()));
        merge("PermissionSetAssignment", &runs, &out)?;
        Ok((std::fs::read_to_string(&out).unwrap(), runs.len() as u64))
    }

    #[test]
    fn lines_in_any_order_come_out_sorted_and_rolled_back_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let runs = RunDir::new(dir.path()).unwrap();
        let mut a = Segment::new(&runs, "PermissionSetAssignment");
        for n in [5, 1, 9] {
            let (id, l) = line(n);
            a.push(&id, &l).unwrap();
        }
        a.checkpoint().unwrap();
        let (id, l) = line(7);
        a.push(&id, &l).unwrap();
        a.rollback();
        let mut b = Segment::new(&runs, "PermissionSetAssignment");
        for n in [4, 2] {
            let (id, l) = line(n);
            b.push(&id, &l).unwrap();
        }
        b.checkpoint().unwrap();
        let (text, _) = merged(dir.path(), vec![a, b]).unwrap();
        let ns: Vec<&str> = text.lines().map(|l| l.rsplit(':').next().unwrap().trim_end_matches('}')).collect();
        assert_eq!(ns, ["1", "2", "4", "5", "9"]);
    }

    #[test]
    fn a_duplicate_across_runs_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let runs = RunDir::new(dir.path()).unwrap();
        let mut a = Segment::new(&runs, "PermissionSetAssignment");
        let mut b = Segment::new(&runs, "PermissionSetAssignment");
        let (id, l) = line(3);
        a.push(&id, &l).unwrap();
        b.push(&id, &l).unwrap();
        a.checkpoint().unwrap();
        b.checkpoint().unwrap();
        let e = merged(dir.path(), vec![a, b]).unwrap_err();
        assert!(matches!(e, SnapshotError::Duplicate { .. }), "{e}");
    }

    #[test]
    fn big_unordered_input_spills_into_runs_and_an_ordered_one_stays_one_run() {
        let dir = tempfile::tempdir().unwrap();
        let runs = RunDir::new(dir.path()).unwrap();
        let n = 300_000u32; // about 10 MB a segment: more than RUN_BYTES
        let mut scrambled = Segment::new(&runs, "PermissionSetAssignment");
        for i in 0..n {
            let (id, l) = line((i * 7919) % n * 2);
            scrambled.push(&id, &l).unwrap();
            if i % 2000 == 1999 {
                scrambled.checkpoint().unwrap();
            }
        }
        scrambled.checkpoint().unwrap();
        let mut ordered = Segment::new(&runs, "PermissionSetAssignment");
        for i in 0..n {
            let (id, l) = line(i * 2 + 1);
            ordered.push(&id, &l).unwrap();
            if i % 2000 == 1999 {
                ordered.checkpoint().unwrap();
            }
        }
        ordered.checkpoint().unwrap();
        let (ordered_runs, rows) = ordered.finish().unwrap();
        assert_eq!((ordered_runs.len(), rows), (1, n as u64));
        let (mut all, rows) = scrambled.finish().unwrap();
        assert_eq!(rows, n as u64);
        assert!(all.len() > 1, "the scrambled input spilled");
        all.extend(ordered_runs);
        let out = dir.path().join("all.ndjson");
        let (sha, lines) = merge("PermissionSetAssignment", &all, &out).unwrap();
        assert_eq!(lines, 2 * n as u64);
        let text = std::fs::read(&out).unwrap();
        assert_eq!(sha, hex::encode(Sha256::digest(&text)));
        let keys: Vec<Key> =
            text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(|l| line_key(l).unwrap()).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
    }
}
