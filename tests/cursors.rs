//! Parallel REST cursors: never more open at once than `--max-cursors`, across all objects, and
//! ranges that must add up to the object's count.

use std::path::Path;
use std::time::Duration;

use access_audit::snapshot;
use sf_sim::{Faults, Sim};

use crate::common::*;

/// Assignments above the split threshold (20,000 rows after the pushdown filter), at 200 rows a
/// page: many pages per range, so that cursors overlap.
fn org() -> sf_sim::Org {
    sf_sim::generate::synthetic_org(12, 6_000, 40_000)
}

fn pull(work: &Path, sim: &Sim, out: &str, options: &[&str]) -> std::process::Output {
    bin(work)
        .args(["pull", "--out", out, "--instance-url", &sim.base_url(), "--batch-size", "200"])
        .args(options)
        .env("SF_ACCESS_TOKEN", ACCESS_TOKEN)
        .output()
        .unwrap()
}

#[test]
fn the_cursor_limit_is_never_exceeded_across_all_objects() {
    let work = tempfile::tempdir().unwrap();
    let mut snapshots = Vec::new();
    for max in [1u64, 3, 5] {
        let sim = sim(org());
        // A little latency, so that queries really are open at the same time.
        sim.set_faults(Faults { latency: Duration::from_millis(2), ..Faults::none() });
        let out = format!("max{max}");
        let output = pull(work.path(), &sim, &out, &["--api", "rest", "--max-cursors", &max.to_string()]);
        assert!(output.status.success(), "{}", stderr_of(&output));
        let stats = sim.stats();
        assert!(stats.max_open_cursors <= max, "--max-cursors {max}: {stats:?}");
        assert_eq!(stats.max_open_cursors, max, "--max-cursors {max} is used in full: {stats:?}");
        assert_eq!(stats.unfinished_cursors, 0, "every cursor read to its last page");
        let manifest = snapshot::read_manifest(&work.path().join(&out)).unwrap();
        let ranges = manifest.object("PermissionSetAssignment").unwrap().queries.len();
        if max == 1 {
            assert_eq!(ranges, 0, "one cursor: one query per object");
        } else {
            assert!(ranges >= 2, "assignments split into Id ranges: {ranges}");
        }
        snapshots.push(work.path().join(&out));
    }
    for other in &snapshots[1..] {
        for spec in snapshot::OBJECTS.iter().filter(|o| o.package().is_none()) {
            let file = spec.file_name();
            assert!(
                std::fs::read(snapshots[0].join(&file)).unwrap() == std::fs::read(other.join(&file)).unwrap(),
                "{file} differs between one cursor and {}",
                other.display()
            );
        }
    }
}

#[test]
fn ranges_that_do_not_add_up_to_the_count_fail_with_exit_4() {
    let work = tempfile::tempdir().unwrap();
    let sim = sim(org());
    sim.set_faults(Faults { count_delta: Some(("PermissionSetAssignment".into(), 1)), ..Faults::none() });
    let output = pull(work.path(), &sim, "out", &["--api", "rest"]);
    assert_eq!(output.status.code(), Some(4), "{}", stderr_of(&output));
    let last = stderr_of(&output).trim().lines().last().unwrap_or_default().to_string();
    assert!(last.contains("PermissionSetAssignment") && last.contains("SELECT COUNT() counted"), "{last}");
    assert!(!work.path().join("out").exists(), "no snapshot written");
}

#[test]
fn a_range_whose_rows_do_not_match_its_total_size_fails_with_exit_4() {
    let work = tempfile::tempdir().unwrap();
    let sim = sim(org());
    sim.set_faults(Faults { total_size_delta: Some(("PermissionSetAssignment".into(), -1)), ..Faults::none() });
    let output = pull(work.path(), &sim, "out", &["--api", "rest"]);
    assert_eq!(output.status.code(), Some(4), "{}", stderr_of(&output));
    assert!(stderr_of(&output).contains("totalSize"), "{}", stderr_of(&output));
}
