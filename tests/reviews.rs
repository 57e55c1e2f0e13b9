//! Dated runs through the real binary: `--reviews` keeps history, `latest` follows the last good
//! run, `--keep` never deletes a workbook holding decisions, an edited workbook is never replaced,
//! and one org's reviews have one writer at a time.

use std::path::{Path, PathBuf};

use access_audit::deliver::runs;

use crate::common::*;

const AS_OF: &str = "2026-11-20T09:00:00Z";

/// `report` of the demo snapshot into `--reviews reviews`, plus `extra`.
fn report(work: &Path, extra: &[&str]) -> std::process::Output {
    bin(work)
        .args(["report", "--snapshot"])
        .arg(demo_org())
        .args(["--reviews", "reviews", "--as-of", AS_OF])
        .args(extra)
        .output()
        .unwrap()
}

fn org_dir(work: &Path) -> PathBuf {
    // The demo org has no configured name here: its folder is its Id.
    let manifest = access_audit::snapshot::read_manifest(&demo_org()).unwrap();
    work.join("reviews").join(manifest.org.id)
}

/// Changes a cell of the workbook the way a reviewer saving it would: different bytes.
fn edit_workbook(run: &Path) {
    let path = run.join("access-review.xlsx");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"decisions");
    std::fs::write(&path, bytes).unwrap();
}

#[test]
fn two_runs_make_two_dated_folders_and_latest_points_at_the_second() {
    let work = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let output = report(work.path(), &[]);
        assert!(output.status.success(), "{}", stderr_of(&output));
    }
    let org = org_dir(work.path());
    let all = runs(&org);
    assert_eq!(all.len(), 2, "{all:?}");
    // Named by the run's start (UTC, to the minute); a second run in the same minute gets `-2`.
    let names: Vec<String> = all.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    let stamp = |n: &str| chrono::NaiveDateTime::parse_from_str(&n[..16], "%Y-%m-%dT%H%MZ").unwrap();
    assert!(names[1] == format!("{}-2", names[0]) || stamp(&names[1]) > stamp(&names[0]), "{names:?}");
    let link = std::fs::read_link(org.join("latest")).unwrap();
    assert!(link.is_relative(), "{link:?}");
    assert_eq!(org.join(link), all[1]);
    // Each run is a whole report folder, with its evidence.
    for run in &all {
        access_audit::deliver::FileList::read(run).unwrap();
        access_audit::snapshot::verify(&run.join("snapshot")).unwrap();
    }
    // Only the runs, the link and the lock: no staging folder left behind.
    let mut entries: Vec<String> =
        std::fs::read_dir(&org).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    entries.sort();
    let mut expected = vec![".access-audit.lock".to_string(), "latest".to_string()];
    expected.extend(names);
    expected.sort();
    assert_eq!(entries, expected);
}

#[test]
fn keep_1_deletes_older_runs_but_keeps_one_whose_workbook_was_edited() {
    let work = tempfile::tempdir().unwrap();
    for _ in 0..3 {
        assert!(report(work.path(), &[]).status.success());
    }
    let org = org_dir(work.path());
    let before = runs(&org);
    assert_eq!(before.len(), 3);
    // A reviewer recorded decisions in the first run's workbook.
    edit_workbook(&before[0]);
    let output = report(work.path(), &["--keep", "1"]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let after = runs(&org);
    // The edited one stays, the unedited second and third go, the new one is kept.
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(after[0], before[0]);
    assert!(!before[1].exists() && !before[2].exists());
    assert_eq!(std::fs::canonicalize(org.join("latest")).unwrap(), std::fs::canonicalize(&after[1]).unwrap());
    assert!(stderr_of(&output).contains("its workbook holds reviewer decisions"), "{}", stderr_of(&output));
    // A run holding a file someone added is not ours to delete either.
    std::fs::write(after[1].join("signoff.pdf"), "signed").unwrap();
    let output = report(work.path(), &["--keep", "1"]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(after[1].join("signoff.pdf").is_file());
    assert_eq!(runs(&org).len(), 3);
}

#[test]
fn a_folder_with_an_edited_workbook_is_never_replaced() {
    let work = tempfile::tempdir().unwrap();
    let out = |w: &Path| {
        bin(w).args(["report", "--snapshot"]).arg(demo_org()).args(["--out", "out", "--as-of", AS_OF]).output().unwrap()
    };
    assert!(out(work.path()).status.success());
    // An unedited folder of ours is replaced, as before.
    assert!(out(work.path()).status.success());
    edit_workbook(&work.path().join("out"));
    let before = tree(&work.path().join("out"));
    let output = out(work.path());
    assert_eq!(output.status.code(), Some(5), "{}", stderr_of(&output));
    let err = stderr_of(&output);
    let line = err.lines().find(|l| l.starts_with("access-audit: error:")).unwrap();
    assert!(
        line.contains("refusing to replace out: its access-review.xlsx was changed after access-audit wrote it"),
        "{line}"
    );
    assert!(line.contains("holds reviewer decisions") && line.contains("--reviews"), "{line}");
    assert_eq!(tree(&work.path().join("out")), before, "nothing was changed");
}

#[test]
fn a_second_concurrent_run_is_refused_by_the_lock() {
    let work = tempfile::tempdir().unwrap();
    // A first run that holds the org's lock while it waits on a slow Salesforce.
    let sim = sim(small_org());
    sim.set_faults(sf_sim::Faults { latency: std::time::Duration::from_millis(400), ..sf_sim::Faults::none() });
    let run = |cmd: &mut std::process::Command| {
        cmd.current_dir(work.path())
            .args(["--quiet", "run", "--reviews", "reviews", "--org-name", "acme", "--as-of", AS_OF])
            .args(["--instance-url", &sim.base_url()])
            .env("SF_ACCESS_TOKEN", ACCESS_TOKEN);
    };
    let mut first = std::process::Command::new(assert_cmd::cargo::cargo_bin("access-audit"));
    run(&mut first);
    let mut first = first.spawn().unwrap();
    // Its staging folder exists once it holds the lock (taken before the folder is made).
    wait_for_staging(&work.path().join("reviews/acme"));
    let started = std::time::Instant::now();
    let mut second = std::process::Command::new(assert_cmd::cargo::cargo_bin("access-audit"));
    run(&mut second);
    let second = second.output().unwrap();
    assert_eq!(second.status.code(), Some(5), "{}", stderr_of(&second));
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "refused at once, not after a pull");
    let err = stderr_of(&second);
    assert!(err.contains("another access-audit run is writing the reviews of acme"), "{err}");
    assert!(first.wait().unwrap().success());
    assert_eq!(runs(&work.path().join("reviews/acme")).len(), 1, "only the first run wrote");
}

/// Waits (up to 30 s) until a run's staging folder appears in `dir`.
fn wait_for_staging(dir: &Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let staged = std::fs::read_dir(dir)
            .map(|entries| entries.flatten().any(|e| e.file_name().to_string_lossy().contains(".access-audit-tmp-")))
            .unwrap_or(false);
        if staged {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "no staging folder appeared");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// REPORTS.md, "What changed since the previous review", with `--reviews`: the latest earlier run
/// of the same org is the previous review, found by itself; `--no-previous` turns it off.
#[test]
fn the_previous_run_is_found_by_itself_unless_no_previous() {
    let work = tempfile::tempdir().unwrap();
    let first = report(work.path(), &[]);
    assert!(first.status.success(), "{}", stderr_of(&first));
    let summary_of = |run: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(run.join("summary.json")).unwrap()).unwrap()
    };
    let org = org_dir(work.path());
    assert!(summary_of(&runs(&org)[0])["changes"].is_null(), "the first run has nothing to compare with");

    // The same snapshot again: every finding of the first run persists, none is new or resolved.
    let second = report(work.path(), &[]);
    assert!(second.status.success(), "{}", stderr_of(&second));
    let all = runs(&org);
    let latest = summary_of(&all[1]);
    let first_summary = summary_of(&all[0]);
    assert!(stderr_of(&second).contains("comparing with the previous review"), "{}", stderr_of(&second));
    let findings = first_summary["findings"].as_u64().unwrap();
    assert!(findings > 0);
    let changes = &latest["changes"];
    assert!(!changes.is_null(), "{latest}");
    let csv = csv_rows(&all[1].join("inactive-users.csv"));
    assert!(!csv.is_empty());
    assert!(csv.values().all(|row| row["Change"] == "persisting"), "every inactive user persists");
    assert!(!all[1].join("resolved.csv").exists() || csv_rows(&all[1].join("resolved.csv")).is_empty());

    // --no-previous: no comparison, no Change column.
    let third = report(work.path(), &["--no-previous"]);
    assert!(third.status.success(), "{}", stderr_of(&third));
    let all = runs(&org);
    assert!(summary_of(&all[2])["changes"].is_null());
    let header = std::fs::read_to_string(all[2].join("inactive-users.csv")).unwrap();
    assert!(!header.lines().next().unwrap().contains("Change"), "{header}");
}
