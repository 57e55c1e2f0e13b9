//! A crash or kill at any point leaves the previous outputs intact: the folder is either the old
//! one, byte for byte, or the new one, complete.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

/// Kills the run after `delay` and returns whether it had already finished.
fn kill_after(work: &Path, sim: &sf_sim::Sim, delay: Duration) -> bool {
    let mut child = run_command(work, sim).spawn().unwrap();
    let deadline = Instant::now() + delay;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill();
    child.wait().unwrap();
    false
}

#[test]
fn killed_mid_pull_the_previous_reports_stay() {
    let org = sf_sim::generate::synthetic_org(21, 1_000, 2_000);
    let sim = sim(org);
    let work = tempfile::tempdir().unwrap();
    assert!(run_command(work.path(), &sim).status().unwrap().success());
    let before = tree(&work.path().join("out"));
    // Every request takes 150 ms: the kill lands while pages are still arriving.
    sim.set_faults(Faults { latency: Duration::from_millis(150), ..Faults::none() });
    assert!(!kill_after(work.path(), &sim, Duration::from_millis(400)), "killed mid-pull, not finished");
    assert!(sim.stats().query_pages.values().sum::<u64>() > 0);
    assert!(tree(&work.path().join("out")) == before, "the previous reports, byte for byte");
}

#[test]
fn killed_at_any_moment_the_folder_is_old_or_new_never_half() {
    let org = sf_sim::generate::synthetic_org(22, 3_000, 9_000);
    let sim = sim(org);
    let work = tempfile::tempdir().unwrap();
    let started = Instant::now();
    assert!(run_command(work.path(), &sim).status().unwrap().success());
    let full = started.elapsed();
    let old = tree(&work.path().join("out"));
    let csv_of = |t: &BTreeMap<PathBuf, Vec<u8>>| -> BTreeMap<PathBuf, Vec<u8>> {
        t.iter()
            .filter(|(p, _)| p.extension().is_some_and(|e| e == "csv"))
            .map(|(p, b)| (p.clone(), b.clone()))
            .collect()
    };
    // Kill at 12 moments spread over a whole run: pulling, analysing, rendering, swapping.
    let (mut killed, mut replaced) = (0, 0);
    for step in 1..=12u32 {
        let finished = kill_after(work.path(), &sim, full * step / 12);
        let now = tree(&work.path().join("out"));
        if now == old {
            killed += u32::from(!finished);
            continue;
        }
        // Not the old folder: then the whole new one.
        replaced += 1;
        assert_eq!(csv_of(&now), csv_of(&old), "step {step}: the new reports are complete");
        assert!(now.contains_key(Path::new("summary.json")) && now.contains_key(Path::new("report.html")));
        access_audit::snapshot::verify(&work.path().join("out/snapshot")).expect("the new snapshot is whole");
    }
    assert!(killed >= 3, "several kills landed mid-run ({killed} killed, {replaced} replaced)");
    // The next complete run clears away what the killed ones left beside the folder.
    assert!(run_command(work.path(), &sim).status().unwrap().success());
    let names: Vec<_> = std::fs::read_dir(work.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("out")], "no leftovers");
}
