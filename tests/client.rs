//! The HTTP client against hostile and broken answers, through the real binary: each case
//! ends in one line that names the cause, the documented exit code, and nothing written (or,
//! for text that is not valid Unicode, a complete run whose record is flagged).

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sf_sim::{BadText, BadTextKind, FaultRule, Faults, Injected, Sim};

use crate::common::*;

const AS_OF: &str = "2026-10-01T00:00:00Z";

/// `run --out out` with the JWT flow against `sim`, with quick retries.
fn run(work: &Path, sim: &Sim) -> assert_cmd::Command {
    let mut cmd = bin(work);
    cmd.args(["run", "--out", "out", "--as-of", AS_OF, "--retry-delay-ms", "5"])
        .args(["--login-url", &sim.base_url(), "--client-id", CLIENT_ID, "--username", USERNAME])
        .arg("--jwt-key-file")
        .arg(private_key());
    cmd
}

/// A simulator injecting `fault` on `object`'s query pages (every data request when `None`).
fn sim_with(fault: Injected, object: Option<&str>) -> Sim {
    let sim = sim(small_org());
    let mut rule = FaultRule::always(fault);
    if let Some(object) = object {
        rule = rule.object(object);
    }
    sim.set_faults(Faults { rules: vec![rule], ..Faults::none() });
    sim
}

/// The exit code and the error line of a failed run; the error is the last line of stderr.
fn failure(output: &Output) -> (Option<i32>, String) {
    let err = stderr_of(output);
    let last = err.trim().lines().last().unwrap_or_default().to_string();
    assert!(last.starts_with("access-audit: error: "), "one final error line: {err}");
    assert_eq!(err.matches("access-audit: error:").count(), 1, "{err}");
    (output.status.code(), last)
}

/// Nothing in `work` but `keep`: no output folder, no staging folder left behind.
fn nothing_written(work: &Path, keep: &[&str]) {
    let mut names: Vec<String> =
        std::fs::read_dir(work).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    let mut keep: Vec<String> = keep.iter().map(|s| s.to_string()).collect();
    keep.sort();
    assert_eq!(names, keep, "nothing written, nothing half-written");
}

// ---- issue 7, item 6: the messages name what to fix ----

#[test]
fn a_wrong_jwt_client_id_names_the_flag() {
    let sim = sim(small_org());
    let work = tempfile::tempdir().unwrap();
    let output = bin(work.path())
        .args(["pull", "--out", "s", "--login-url", &sim.base_url(), "--client-id", "3MVG9not.the.consumer.key"])
        .args(["--username", USERNAME, "--jwt-key-file"])
        .arg(private_key())
        .output()
        .unwrap();
    let (code, line) = failure(&output);
    assert_eq!(code, Some(3), "{line}");
    // Salesforce's answer to an unknown `iss` (SALESFORCE.md §4.4), and the flag that sets it.
    assert!(line.contains("invalid_client_id (client identifier invalid)"), "{line}");
    assert!(line.contains("--client-id"), "{line}");
    assert_eq!(sim.stats().token_requests, 1, "a refused login is not retried");
    nothing_written(work.path(), &[]);
}

#[test]
fn an_instance_host_that_does_not_resolve_is_named_and_not_retried() {
    let work = tempfile::tempdir().unwrap();
    let started = Instant::now();
    // A retry would pause at least 2.5 s (half the first delay, jittered).
    let output = bin(work.path())
        .args(["pull", "--out", "s", "--instance-url", "https://acme.invalid", "--retry-delay-ms", "5000"])
        .env("SF_ACCESS_TOKEN", ACCESS_TOKEN)
        .output()
        .unwrap();
    let (code, line) = failure(&output);
    assert_eq!(code, Some(3), "{line}");
    assert!(line.contains("cannot resolve host acme.invalid: check --instance-url / --login-url"), "{line}");
    assert!(!line.contains("gave up") && !line.contains("may be down"), "{line}");
    assert!(!stderr_of(&output).contains("retry"), "not retried: {}", stderr_of(&output));
    assert!(started.elapsed() < Duration::from_millis(2500), "not retried: {:?}", started.elapsed());
    nothing_written(work.path(), &[]);
}

#[test]
fn a_login_host_that_does_not_resolve_is_named_and_not_retried() {
    let work = tempfile::tempdir().unwrap();
    let output = bin(work.path())
        .args(["pull", "--out", "s", "--login-url", "https://login.acme.invalid", "--client-id", CLIENT_ID])
        .args(["--username", USERNAME, "--retry-delay-ms", "5000", "--jwt-key-file"])
        .arg(private_key())
        .output()
        .unwrap();
    let (code, line) = failure(&output);
    assert_eq!(code, Some(3), "{line}");
    assert!(line.contains("JWT bearer login"), "{line}");
    assert!(line.contains("cannot resolve host login.acme.invalid: check --instance-url / --login-url"), "{line}");
    assert!(!stderr_of(&output).contains("retry"), "not retried: {}", stderr_of(&output));
    nothing_written(work.path(), &[]);
}

// ---- issue 13, item 9: bounded bodies and a run deadline ----

#[test]
fn an_endless_body_is_cut_off_at_the_cap_naming_the_path() {
    let sim = sim_with(Injected::EndlessBody, Some("User"));
    let work = tempfile::tempdir().unwrap();
    let output = run(work.path(), &sim).args(["--max-body-mb", "1"]).output().unwrap();
    let (code, line) = failure(&output);
    assert_eq!(code, Some(3), "{line}");
    assert!(
        line.contains("query of User: the answer of /services/data/v62.0/query is larger than 1 MB (--max-body-mb)"),
        "{line}"
    );
    assert!(!line.contains("?q=") && !line.contains("SELECT"), "the path only: {line}");
    assert_eq!(sim.stats().injected_faults, 1, "an answer over the cap is not asked for again");
    nothing_written(work.path(), &[]);
}

#[test]
fn a_silent_server_is_stopped_by_the_run_deadline() {
    let sim = sim(small_org());
    let work = tempfile::tempdir().unwrap();
    // An earlier snapshot in the same place must survive the stopped run untouched.
    pull_jwt(work.path(), &sim, &work.path().join("s")).assert().success();
    let before = tree(&work.path().join("s"));
    sim.set_faults(Faults { rules: vec![FaultRule::always(Injected::Silent).object("User")], ..Faults::none() });
    let started = Instant::now();
    // Each request may take 120 s (the default --timeout-secs); the run may take 2 s in all.
    let output = pull_jwt(work.path(), &sim, &work.path().join("s")).args(["--max-run-secs", "2"]).output().unwrap();
    let elapsed = started.elapsed();
    let (code, line) = failure(&output);
    assert_eq!(code, Some(3), "{line}");
    assert!(line.contains("the run passed its time limit of 2 s (--max-run-secs)"), "{line}");
    assert!(line.contains("nothing was written"), "{line}");
    assert!(elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(30), "{elapsed:?}");
    assert!(tree(&work.path().join("s")) == before, "the earlier snapshot is untouched");
    nothing_written(work.path(), &["s"]);
}

#[test]
fn the_run_deadline_can_be_set_in_the_config_file() {
    let sim = sim_with(Injected::Silent, Some("PermissionSetAssignment"));
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("access-audit.toml"), "[salesforce]\nmax_run_secs = 1\n").unwrap();
    let output = run(work.path(), &sim).output().unwrap();
    let (code, line) = failure(&output);
    assert_eq!(code, Some(3), "{line}");
    assert!(line.contains("time limit of 1 s (--max-run-secs)"), "{line}");
    nothing_written(work.path(), &["access-audit.toml"]);
}

// ---- issue 13, item 11: a body that arrived whole is not a cut connection ----

/// `run` over an org whose User record `index` has bad text in front of its Name.
fn run_with_bad_name(kind: BadTextKind, index: usize) -> (Sim, tempfile::TempDir, Output) {
    let sim = sim(small_org());
    sim.set_faults(Faults {
        bad_text: Some(BadText { object: "User".into(), index, field: "Name".into(), kind }),
        ..Faults::none()
    });
    let work = tempfile::tempdir().unwrap();
    let output = run(work.path(), &sim).output().unwrap();
    (sim, work, output)
}

fn assert_replaced_and_flagged(kind: BadTextKind, detail: &str) {
    let org = small_org();
    // An audited (Standard) user, so that its row shows the warning in the reports.
    let index = (5..).find(|&i| org.records("User")[i]["UserType"] == "Standard").unwrap();
    let user = &org.records("User")[index];
    let (id, name) = (user["Id"].as_str().unwrap(), user["Name"].as_str().unwrap());
    let (sim, work, output) = run_with_bad_name(kind, index);
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert_eq!(sim.stats().query_pages["User"], 1, "read once, not retried");
    let snapshot = work.path().join("out/snapshot");
    access_audit::snapshot::verify(&snapshot).expect("a verified snapshot");
    // The snapshot keeps the replaced text: U+FFFD where the bad text was, the rest as it was.
    let users = snapshot_records(&snapshot, "User");
    assert_eq!(users[id]["Name"], json!(format!("\u{FFFD}{name}")));
    let others =
        users.iter().filter(|(other, u)| *other != id && u["Name"].as_str().is_some_and(|n| n.contains('\u{FFFD}')));
    assert_eq!(others.count(), 0);
    // The manifest flags exactly that record and field for the analysis and the reports.
    let manifest: Value = serde_json::from_slice(&std::fs::read(snapshot.join("manifest.json")).unwrap()).unwrap();
    let warnings = manifest["data_warnings"].as_array().expect("data_warnings");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(
        (&warnings[0]["object"], &warnings[0]["id"], &warnings[0]["field"]),
        (&json!("User"), &json!(id), &json!("Name"))
    );
    assert!(warnings[0]["detail"].as_str().unwrap().contains(detail), "{warnings:?}");
    let err = stderr_of(&output);
    assert!(err.contains(&format!("User record {id}: field Name: ")) && err.contains("flagged"), "{err}");
    // The reports carry it: the user's row says which field was repaired, and summary.json's notes
    // list it beside a plain-words line.
    let matrix = csv_rows(&work.path().join("out/access-matrix.csv"));
    assert!(matrix[id]["DataWarnings"].starts_with("Name: "), "{:?}", matrix[id]);
    assert!(matrix[id]["DataWarnings"].contains(detail), "{:?}", matrix[id]);
    let summary: Value = serde_json::from_slice(&std::fs::read(work.path().join("out/summary.json")).unwrap()).unwrap();
    let noted = summary["notes"]["data_warnings"].as_array().unwrap();
    assert_eq!(noted.len(), 1, "{noted:?}");
    assert_eq!(
        (&noted[0]["object"], &noted[0]["id"], &noted[0]["field"]),
        (&json!("User"), &json!(id), &json!("Name"))
    );
    let run_notes = summary["notes"]["run"].to_string();
    assert!(run_notes.contains("1 field held text that is not valid Unicode"), "{run_notes}");
}

#[test]
fn a_lone_surrogate_is_replaced_and_flagged_not_retried() {
    assert_replaced_and_flagged(BadTextKind::LoneSurrogate, "lone UTF-16 surrogate escape");
}

#[test]
fn bytes_that_are_not_utf8_are_replaced_and_flagged_not_retried() {
    assert_replaced_and_flagged(BadTextKind::InvalidUtf8, "not UTF-8");
}

#[test]
fn json_that_is_malformed_although_whole_is_bad_data_naming_the_record() {
    let index = 9;
    let id = small_org().records("User")[index]["Id"].as_str().unwrap().to_string();
    let (sim, work, output) = run_with_bad_name(BadTextKind::RawControl, index);
    let (code, line) = failure(&output);
    assert_eq!(code, Some(4), "{line}");
    assert!(line.contains("query of User: the answer arrived whole but is not valid JSON"), "{line}");
    assert!(line.contains("control character"), "{line}");
    assert!(line.contains(&format!("in or after record {id}")), "{line}");
    assert!(!line.contains("gave up"), "{line}");
    assert_eq!(sim.stats().query_pages["User"], 1, "not retried");
    nothing_written(work.path(), &[]);
}

#[test]
fn a_captive_portal_page_is_not_a_salesforce_api_response() {
    let sim = sim_with(Injected::CaptivePortal, Some("User"));
    let work = tempfile::tempdir().unwrap();
    let output = run(work.path(), &sim).output().unwrap();
    let (code, line) = failure(&output);
    assert_eq!(code, Some(3), "{line}");
    assert!(
        line.contains("query of User: the answer is not a Salesforce API response (HTTP 200, text/html)"),
        "{line}"
    );
    assert!(!line.contains("gave up") && !line.contains("may be down"), "{line}");
    assert_eq!(sim.stats().injected_faults, 1, "not retried");
    nothing_written(work.path(), &[]);
}

// ---- issue 13, item 13: a redirect says where it went ----

#[test]
fn a_redirect_says_where_it_went_and_what_to_check() {
    let sim = sim_with(Injected::Redirect, None);
    let work = tempfile::tempdir().unwrap();
    let output = run(work.path(), &sim).output().unwrap();
    let (code, line) = failure(&output);
    assert_eq!(code, Some(3), "{line}");
    // The simulator's Location is https://login.salesforce.com/?ec=302&startURL=...; the query is left out.
    assert!(line.contains("redirected (HTTP 302) to https://login.salesforce.com/;"), "{line}");
    assert!(line.contains("My Domain") && line.contains("--instance-url"), "{line}");
    assert!(!line.contains("startURL"), "{line}");
    assert_eq!(sim.stats().injected_faults, 1, "not followed, not retried");
    nothing_written(work.path(), &[]);
}
