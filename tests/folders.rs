//! Output folders: the tool replaces only folders it provably wrote, never a file it did not write,
//! never a live run's staging folder, never the evidence it reads; signals leave nothing behind.
//! Each test is a reproduction from issue 13 (or 7), through the real binary.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use sf_sim::Faults;
use sha2::{Digest, Sha256};

use crate::common::*;

const AS_OF: &str = "2026-11-20T09:00:00Z";

/// `report` of the demo snapshot into `out` (relative to `work`).
fn report(work: &Path, out: &str) -> std::process::Output {
    bin(work).args(["report", "--snapshot"]).arg(demo_org()).args(["--out", out, "--as-of", AS_OF]).output().unwrap()
}

fn one_line(output: &std::process::Output) -> String {
    let err = stderr_of(output);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err.trim_end().to_string()
}

// ---- item 1: a folder is ours by its marker's format and name, not by a file name --------------

#[test]
fn pull_refuses_a_folder_whose_manifest_json_is_not_a_snapshot_manifest() {
    // The reproduction: a browser extension's folder was wiped by `pull --out`, exit 0.
    let sim = sim(small_org());
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("extension");
    std::fs::create_dir_all(out.join("src")).unwrap();
    std::fs::write(out.join("manifest.json"), r#"{"manifest_version": 3, "name": "Tab Saver"}"#).unwrap();
    std::fs::write(out.join("src/background.js"), "chrome.tabs.query({}, save);").unwrap();
    let before = tree(&out);
    let output = pull_jwt(work.path(), &sim, &out).output().unwrap();
    assert_eq!(output.status.code(), Some(5), "{}", stderr_of(&output));
    let line = one_line(&output);
    assert!(line.contains("refusing to replace"), "{line}");
    assert!(line.contains("not a snapshot written by access-audit"), "{line}");
    assert!(line.contains("manifest.json is not a snapshot manifest"), "{line}");
    assert!(tree(&out) == before, "touched nothing");
    assert_eq!(sim.stats().query_pages.values().sum::<u64>(), 0, "no API request spent");
    assert_eq!(staging_leftovers(work.path(), "extension"), Vec::<String>::new());
}

#[test]
fn a_snapshot_manifest_of_another_tool_is_not_ours() {
    let sim = sim(small_org());
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("snap");
    copy_snapshot(&demo_org(), &out);
    let path = out.join("manifest.json");
    let mut manifest: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    manifest["tool"] = "other-exporter 2.1".into();
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    let before = tree(&out);
    let output = pull_jwt(work.path(), &sim, &out).output().unwrap();
    assert_eq!(output.status.code(), Some(5));
    assert!(one_line(&output).contains(r#"was written by "other-exporter 2.1", not by access-audit"#));
    assert!(tree(&out) == before);
}

#[test]
fn a_snapshot_with_a_file_someone_added_is_not_replaced() {
    let sim = sim(small_org());
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("snap");
    pull_jwt(work.path(), &sim, &out).assert().success();
    std::fs::write(out.join("notes.txt"), "who approved this pull").unwrap();
    let before = tree(&out);
    let output = pull_jwt(work.path(), &sim, &out).output().unwrap();
    assert_eq!(output.status.code(), Some(5));
    let line = one_line(&output);
    assert!(line.contains("it holds notes.txt, which access-audit did not write"), "{line}");
    assert!(tree(&out) == before);
    // Without the added file, the snapshot is the tool's to replace again.
    std::fs::remove_file(out.join("notes.txt")).unwrap();
    pull_jwt(work.path(), &sim, &out).assert().success();
}

#[test]
fn a_folder_with_a_summary_json_is_not_a_report_folder_by_that_alone() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("dashboard");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("summary.json"), r#"{"visits": 12}"#).unwrap();
    std::fs::write(out.join("index.html"), "<h1>mine</h1>").unwrap();
    let before = tree(&out);
    let output = report(work.path(), "dashboard");
    assert_eq!(output.status.code(), Some(5));
    let line = one_line(&output);
    assert!(line.contains("not a report folder written by access-audit"), "{line}");
    assert!(line.contains("access-audit-files.json"), "{line}");
    assert!(tree(&out) == before);
}

#[test]
fn the_file_list_records_every_file_the_tool_wrote_with_its_sha256() {
    let work = tempfile::tempdir().unwrap();
    assert!(report(work.path(), "out").status.success());
    let out = work.path().join("out");
    let list: Value = serde_json::from_slice(&std::fs::read(out.join("access-audit-files.json")).unwrap()).unwrap();
    assert_eq!(list["format"], "access-audit-report-folder/1");
    assert_eq!(list["tool"], format!("access-audit {}", env!("CARGO_PKG_VERSION")));
    let listed: Vec<(String, u64, String)> = list["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (f["file"].as_str().unwrap().into(), f["bytes"].as_u64().unwrap(), f["sha256"].as_str().unwrap().into())
        })
        .collect();
    // Exactly the files on disk (but the list itself), each with the SHA-256 of its bytes.
    let on_disk: Vec<(String, u64, String)> = tree(&out)
        .into_iter()
        .filter(|(p, _)| p != Path::new("access-audit-files.json"))
        .map(|(p, bytes)| (p.to_string_lossy().into_owned(), bytes.len() as u64, hex::encode(Sha256::digest(&bytes))))
        .collect();
    assert_eq!(listed, on_disk);
    assert!(listed.iter().any(|(f, _, _)| f == "access-review.xlsx"));
    assert!(listed.iter().any(|(f, _, _)| f == "snapshot/User.ndjson"));
}

// ---- item 2: files a reviewer added are never deleted ------------------------------------------

#[test]
fn files_a_reviewer_added_make_the_next_run_refuse_and_name_them() {
    let work = tempfile::tempdir().unwrap();
    assert!(report(work.path(), "reports").status.success());
    let out = work.path().join("reports");
    std::fs::write(out.join("DECISIONS.xlsx"), "the reviewer's decisions").unwrap();
    std::fs::create_dir(out.join("evidence")).unwrap();
    std::fs::write(out.join("evidence/signoff.pdf"), "%PDF-1.7 signed").unwrap();
    let before = tree(&out);
    let output = report(work.path(), "reports");
    assert_eq!(output.status.code(), Some(5));
    let line = one_line(&output);
    assert!(line.contains("it holds DECISIONS.xlsx (and 1 other file), which access-audit did not write"), "{line}");
    assert!(tree(&out) == before, "nothing deleted, nothing changed");
    assert_eq!(staging_leftovers(work.path(), "reports"), Vec::<String>::new());
    // Moved out, the folder is the tool's again.
    std::fs::remove_file(out.join("DECISIONS.xlsx")).unwrap();
    std::fs::remove_dir_all(out.join("evidence")).unwrap();
    assert!(report(work.path(), "reports").status.success());
}

// ---- item 3: a live run's staging folder is never removed --------------------------------------

#[test]
fn a_second_run_leaves_a_live_runs_staging_folder_alone() {
    // The reproduction: two runs started together; the second deleted the first's staging folder
    // and the first failed with exit 5.
    let sim = sim(small_org());
    // Every request takes 2 s: the first run is still pulling when the second has finished.
    sim.set_faults(Faults { latency: Duration::from_secs(2), ..Faults::none() });
    let work = tempfile::tempdir().unwrap();
    let first = run_process(work.path(), &sim, "out", AS_OF).stderr(Stdio::piped()).spawn().unwrap();
    let staging = wait_for_staging(work.path(), "out");
    // A second run into the same folder while the first is pulling.
    let output = report(work.path(), "out");
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(staging.is_dir(), "the live run's staging folder is still there");
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "the first run finished: {}", stderr_of(&first));
    // The first run's reports (the simulator's org) replaced the second's (the demo org).
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(work.path().join("out/snapshot/manifest.json")).unwrap()).unwrap();
    assert_ne!(manifest["org"]["id"], "00D5g000000DBGqEAO");
    assert_eq!(staging_leftovers(work.path(), "out"), Vec::<String>::new());
}

#[test]
fn a_killed_runs_staging_folder_is_removed_by_the_next_run() {
    let sim = sim(small_org());
    sim.set_faults(Faults { latency: Duration::from_millis(500), ..Faults::none() });
    let work = tempfile::tempdir().unwrap();
    let mut killed = run_process(work.path(), &sim, "out", AS_OF).stderr(Stdio::null()).spawn().unwrap();
    let staging = wait_for_staging(work.path(), "out");
    killed.kill().unwrap(); // SIGKILL: no handler runs, the folder stays
    killed.wait().unwrap();
    assert!(staging.is_dir());
    assert!(report(work.path(), "out").status.success());
    assert!(!staging.exists(), "its owner is gone: the lock proves it");
    assert_eq!(staging_leftovers(work.path(), "out"), Vec::<String>::new());
}

// ---- item 4: the evidence is never written into ------------------------------------------------

#[test]
fn report_refuses_an_output_folder_inside_the_snapshot() {
    let work = tempfile::tempdir().unwrap();
    let snap = work.path().join("S");
    copy_snapshot(&demo_org(), &snap);
    let before = tree(&snap);
    let output =
        bin(work.path()).args(["report", "--snapshot", "S", "--out", "S/reports", "--as-of", AS_OF]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let line = one_line(&output);
    assert!(line.contains("--out S/reports is inside the snapshot S"), "{line}");
    assert!(tree(&snap) == before);
    bin(work.path()).args(["verify", "S"]).assert().success();
    // The same through a link and a `..`: paths are compared canonicalised.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&snap, work.path().join("link")).unwrap();
        let output = bin(work.path())
            .args(["report", "--snapshot", "S", "--out", "link/x/../reports", "--as-of", AS_OF])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
        assert!(tree(&snap) == before);
    }
}

#[test]
fn report_refuses_a_snapshot_inside_the_folder_it_would_replace() {
    let work = tempfile::tempdir().unwrap();
    assert!(report(work.path(), "reports").status.success());
    let before = tree(&work.path().join("reports"));
    let output = bin(work.path())
        .args(["report", "--snapshot", "reports/snapshot", "--out", "reports", "--as-of", AS_OF])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(one_line(&output).contains("the snapshot reports/snapshot is inside --out reports"));
    assert!(tree(&work.path().join("reports")) == before);
    // Into another folder it is fine.
    bin(work.path())
        .args(["report", "--snapshot", "reports/snapshot", "--out", "again", "--as-of", AS_OF])
        .assert()
        .success();
}

// ---- item 12: signals ---------------------------------------------------------------------------

/// Starts a slow `run` over an earlier complete one, sends `signal` once its staging folder exists,
/// and checks the exit code, the one line, and that everything is as before.
fn signalled_run(signal: &str, code: i32) {
    let sim = sim(small_org());
    let work = tempfile::tempdir().unwrap();
    assert!(run_process(work.path(), &sim, "out", AS_OF).status().unwrap().success());
    let before = tree(&work.path().join("out"));
    // Every request now takes 3 s: the signal lands mid-pull.
    sim.set_faults(Faults { latency: Duration::from_secs(3), ..Faults::none() });
    let child = run_process(work.path(), &sim, "out", AS_OF).stderr(Stdio::piped()).spawn().unwrap();
    wait_for_staging(work.path(), "out");
    let sent = std::process::Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status();
    assert!(sent.unwrap().success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(code), "{}", stderr_of(&output));
    assert_eq!(stderr_of(&output), format!("access-audit: stopped by SIG{signal}: nothing was written to out\n"));
    assert_eq!(staging_leftovers(work.path(), "out"), Vec::<String>::new(), "no staging folder is left");
    assert!(tree(&work.path().join("out")) == before, "the previous reports are intact");
}

#[test]
fn sigterm_removes_the_staging_folder_and_exits_143() {
    signalled_run("TERM", 143);
}

#[test]
fn sigint_removes_the_staging_folder_and_exits_130() {
    signalled_run("INT", 130);
}

#[test]
fn sighup_removes_the_staging_folder_and_exits_129() {
    signalled_run("HUP", 129);
}

// ---- item 13 (part) and issue 7 item 6 (part): messages about the snapshot path ----------------

#[test]
fn verify_on_a_missing_folder_is_a_usage_error() {
    let work = tempfile::tempdir().unwrap();
    let output = bin(work.path()).args(["verify", "no-such-snapshot"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(one_line(&output), "access-audit: error: snapshot no-such-snapshot: no such folder");
    let output = bin(work.path())
        .args(["report", "--snapshot", "no-such-snapshot", "--out", "r", "--as-of", AS_OF])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(!work.path().join("r").exists());
}

#[test]
fn verify_of_a_report_folder_points_at_its_snapshot() {
    let work = tempfile::tempdir().unwrap();
    assert!(report(work.path(), "reports").status.success());
    let output = bin(work.path()).args(["verify", "reports"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        one_line(&output),
        "access-audit: error: reports is a report folder, not a snapshot: its evidence is reports/snapshot \
         (access-audit verify reports/snapshot)"
    );
    bin(work.path()).args(["verify", "reports/snapshot"]).assert().success();
}

#[test]
fn snapshot_errors_name_the_users_path_not_the_staging_folder() {
    let work = tempfile::tempdir().unwrap();
    let snap = work.path().join("evidence");
    copy_snapshot(&demo_org(), &snap);
    // A malformed record with a fixed-up hash: found while reading, as the staging copy was before.
    let path = snap.join("UserLogin.ndjson");
    let text = std::fs::read_to_string(&path).unwrap().replacen("\"IsFrozen\":false", "\"IsFrozen\":\"no\"", 1);
    std::fs::write(&path, &text).unwrap();
    let manifest_path = snap.join("manifest.json");
    let mut manifest: Value = serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    for o in manifest["objects"].as_array_mut().unwrap() {
        if o["object"] == "UserLogin" {
            o["sha256"] = hex::encode(Sha256::digest(text.as_bytes())).into();
        }
    }
    std::fs::write(&manifest_path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    let output =
        bin(work.path()).args(["report", "--snapshot", "evidence", "--out", "out", "--as-of", AS_OF]).output().unwrap();
    assert_eq!(output.status.code(), Some(4));
    let err = stderr_of(&output);
    assert!(err.contains("snapshot evidence failed verification"), "{err}");
    assert!(err.contains("field IsFrozen is \"no\", not true or false"), "{err}");
    assert!(!err.contains("access-audit-tmp"), "no staging path: {err}");
    assert!(!work.path().join("out").exists());
}
