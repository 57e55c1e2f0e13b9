//! A crash or kill at any point leaves the previous outputs intact: the folder is either the old
//! one, byte for byte, or the new one, complete.
//!
//! Kills land at moments the run shows, not after a delay (a delay means something else on a busy
//! two-core machine): a number of query pages served, a file appearing in the staging folder, the
//! staging folder disappearing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use calamine::{Reader, Xlsx};
use sf_sim::Faults;

use crate::common::*;

const AS_OF: &str = "2026-10-01T00:00:00Z";

fn run_command(work: &Path, sim: &sf_sim::Sim) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("access-audit"));
    cmd.current_dir(work)
        .args(["--quiet", "run", "--out", "out", "--as-of", AS_OF, "--batch-size", "500"])
        .args(["--instance-url", &sim.base_url()])
        .env("SF_ACCESS_TOKEN", ACCESS_TOKEN)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// A point of a `run` as the file system and the simulator show it, in the order a run reaches them.
/// The staging folder is the hidden `.out.access-audit-tmp-*` beside `out` (see `deliver`).
#[derive(Debug, Clone, Copy)]
enum Moment {
    /// The staging folder exists: `--out` was checked, nothing pulled yet.
    Staged,
    /// At least this many query pages were served, and the pull is not over.
    PagesServed(u64),
    /// This file exists in the staging folder.
    InStaging(&'static str),
    /// The staging folder is gone: swapped into place and the old contents deleted.
    Swapped,
}

/// Query pages of a whole pull of `org` at 500 rows a page (an empty object still takes one).
fn pages_of(org: &sf_sim::Org) -> u64 {
    const OBJECTS: [&str; 7] = [
        "Organization",
        "User",
        "PermissionSetAssignment",
        "PermissionSetGroup",
        "PermissionSetGroupComponent",
        "UserPackageLicense",
        "UserLogin",
    ];
    OBJECTS.into_iter().map(|o| org.records(o).len().div_ceil(500).max(1) as u64).sum()
}

const STAGING_PREFIX: &str = ".out.access-audit-tmp-";

fn staging_folders(work: &Path) -> BTreeSet<PathBuf> {
    std::fs::read_dir(work)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(STAGING_PREFIX))
        .collect()
}

/// Every request waits this long during the kills before the pull is over: with at most seven
/// queries in flight, no pause of the test thread between two polls short of several of these
/// can let the pull run from the moment to its end.
const PULL_LATENCY: Duration = Duration::from_millis(50);

/// Runs until `moment`, then kills the run. Returns whether it was killed (false: it finished
/// before the moment came). Before the pull is over, the moment is checked and the run killed in
/// one step under the simulator's lock, with fewer pages served than the pull needs: the run
/// cannot have got any further.
fn kill_at(work: &Path, sim: &sf_sim::Sim, pages_needed: u64, moment: Moment) -> bool {
    let pulling = matches!(moment, Moment::Staged | Moment::PagesServed(_));
    let latency = if pulling { PULL_LATENCY } else { Duration::ZERO };
    sim.set_faults(Faults { latency, ..Faults::none() });
    sim.reset_stats();
    let leftovers = staging_folders(work);
    let mut child = run_command(work, sim).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut staging: Option<PathBuf> = None;
    loop {
        assert!(Instant::now() < deadline, "{moment:?} never came");
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if staging.is_none() {
            staging = staging_folders(work).difference(&leftovers).next().cloned();
        }
        let killed = if pulling {
            sim.with_state(|s| {
                let served = s.stats().total_query_pages();
                let reached = match moment {
                    Moment::PagesServed(n) => served >= n,
                    _ => staging.is_some(),
                };
                if reached {
                    assert!(served < pages_needed, "{moment:?} came too late: {served} of {pages_needed} pages");
                    child.kill().unwrap();
                    child.wait().unwrap();
                }
                reached
            })
        } else {
            let reached = match (moment, &staging) {
                (Moment::InStaging(file), Some(dir)) => dir.join(file).exists(),
                (Moment::Swapped, Some(dir)) => !dir.exists(),
                _ => false,
            };
            if reached {
                let _ = child.kill();
                child.wait().unwrap();
            }
            reached
        };
        if killed {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Whether `now` is a complete report folder of the same org and as-of as `old`, written by a later
/// run: the same files; the same CSVs and snapshot data byte for byte; a snapshot that verifies;
/// the same summary but for the pull's time, manifest hash and run id; a whole HTML page; a workbook that
/// opens with the same sheets and rows.
fn assert_complete_new(out: &Path, now: &BTreeMap<PathBuf, Vec<u8>>, old: &BTreeMap<PathBuf, Vec<u8>>, at: Moment) {
    let names = |t: &BTreeMap<PathBuf, Vec<u8>>| t.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(now), names(old), "{at:?}: the same files");
    for (path, bytes) in now {
        if path.extension().is_some_and(|e| e == "csv" || e == "ndjson") {
            assert!(bytes == &old[path], "{at:?}: {} differs", path.display());
        }
    }
    access_audit::snapshot::verify(&out.join("snapshot")).expect("the new snapshot is whole");
    let summary = |t: &BTreeMap<PathBuf, Vec<u8>>| {
        let mut v: serde_json::Value = serde_json::from_slice(&t[Path::new("summary.json")]).unwrap();
        v.as_object_mut().unwrap().remove("pulled_at");
        // The run id is a hash over the manifest's, which names the pull's time.
        v.as_object_mut().unwrap().remove("run_id");
        v["snapshot"].as_object_mut().unwrap().remove("manifest_sha256");
        v
    };
    assert_eq!(summary(now), summary(old), "{at:?}: summary.json");
    assert!(now[Path::new("report.html")].ends_with(b"</body>\n</html>\n"), "{at:?}: a whole page");
    let sheets = |path: &Path| -> Vec<(String, usize)> {
        let mut book: Xlsx<_> = calamine::open_workbook(path).unwrap_or_else(|e| panic!("{at:?}: {e}"));
        let names = book.sheet_names();
        names.into_iter().map(|n| (n.clone(), book.worksheet_range(&n).unwrap().rows().count())).collect()
    };
    let previous = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(previous.path(), &old[Path::new("access-review.xlsx")]).unwrap();
    assert_eq!(sheets(&out.join("access-review.xlsx")), sheets(previous.path()), "{at:?}: the workbook");
}

#[test]
fn killed_mid_pull_the_previous_reports_stay() {
    let org = sf_sim::generate::synthetic_org(21, 1_000, 2_000);
    let pages_needed = pages_of(&org);
    let sim = sim(org);
    let work = tempfile::tempdir().unwrap();
    assert!(run_command(work.path(), &sim).status().unwrap().success());
    let before = tree(&work.path().join("out"));
    assert!(kill_at(work.path(), &sim, pages_needed, Moment::PagesServed(2)), "killed mid-pull");
    assert!(tree(&work.path().join("out")) == before, "the previous reports, byte for byte");
}

#[test]
fn killed_at_any_moment_the_folder_is_old_or_new_never_half() {
    let org = sf_sim::generate::synthetic_org(22, 3_000, 9_000);
    let pages_needed = pages_of(&org);
    let sim = sim(org);
    let work = tempfile::tempdir().unwrap();
    assert!(run_command(work.path(), &sim).status().unwrap().success());
    let out = work.path().join("out");
    let old = tree(&out);

    // Before the pull is over the folder is certainly the old one, byte for byte.
    for moment in [Moment::Staged, Moment::PagesServed(1), Moment::PagesServed(pages_needed / 2)] {
        assert!(kill_at(work.path(), &sim, pages_needed, moment), "{moment:?}: killed");
        assert!(tree(&out) == old, "{moment:?}: the previous reports, byte for byte");
    }
    // Writing the snapshot, analysing, rendering: the old folder, or (had the run got through the
    // swap before the kill landed) the whole new one.
    for moment in [
        Moment::InStaging("snapshot/User.ndjson"),
        Moment::InStaging("snapshot/manifest.json"),
        Moment::InStaging("inactive-users.csv"),
        Moment::InStaging("access-review.xlsx"),
        Moment::InStaging("report.html"),
        Moment::InStaging("summary.json"),
    ] {
        kill_at(work.path(), &sim, pages_needed, moment);
        let now = tree(&out);
        if now != old {
            assert_complete_new(&out, &now, &old, moment);
        }
    }
    // Once the staging folder is gone, the new folder is in place, whole.
    kill_at(work.path(), &sim, pages_needed, Moment::Swapped);
    let now = tree(&out);
    assert_complete_new(&out, &now, &old, Moment::Swapped);

    // The next complete run clears away what the killed ones left beside the folder.
    assert!(run_command(work.path(), &sim).status().unwrap().success());
    let names: Vec<_> = std::fs::read_dir(work.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("out")], "no leftovers");
}
