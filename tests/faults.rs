//! The fault matrix: every fault the simulator can inject, alone and combined, through the real binary.
//!
//! Each case either recovers (the snapshot's data files and every CSV equal the fault-free run's
//! byte for byte) or fails with the documented exit code, a message that names the cause, and an
//! output folder holding exactly what it held before. The README's fault table mirrors this file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use sf_sim::{FaultRule, Faults, Injected, Malformed, Sim};

use crate::common::*;

const AS_OF: &str = "2026-10-01T00:00:00Z";

/// An org with several pages per large object at --batch-size 500.
fn org() -> sf_sim::Org {
    sf_sim::generate::synthetic_org(11, 1_200, 2_600)
}

/// `run` with the JWT flow (so that a session can be renewed), quick retries.
fn run(work: &Path, sim: &Sim, out: &str) -> assert_cmd::Command {
    let mut cmd = bin(work);
    cmd.args(["run", "--out", out, "--as-of", AS_OF, "--batch-size", "500", "--retry-delay-ms", "5"])
        .args(["--login-url", &sim.base_url(), "--client-id", CLIENT_ID, "--username", USERNAME])
        .arg("--jwt-key-file")
        .arg(private_key());
    cmd
}

/// What must not change when a fault is survived: the pulled data and every CSV.
fn data(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    tree(dir).into_iter().filter(|(p, _)| p.extension().is_some_and(|e| e == "csv" || e == "ndjson")).collect()
}

/// A fault-free run of the same org into `work/base`.
fn baseline(work: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let sim = sim(org());
    let output = run(work, &sim, "base").output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let files = data(&work.join("base"));
    assert!(files.len() >= 12, "seven NDJSON files and five CSVs");
    files
}

/// Runs under `faults` into a fresh folder and expects the fault-free outputs.
fn assert_recovers(faults: Faults) -> sf_sim::StatsSnapshot {
    let work = tempfile::tempdir().unwrap();
    let base = baseline(work.path());
    let sim = sim(org());
    sim.set_faults(faults);
    let output = run(work.path(), &sim, "out").output().unwrap();
    assert!(output.status.success(), "not recovered: {}", stderr_of(&output));
    let got = data(&work.path().join("out"));
    assert_eq!(got.keys().collect::<Vec<_>>(), base.keys().collect::<Vec<_>>());
    for (path, bytes) in &base {
        assert!(&got[path] == bytes, "{} differs from the fault-free run", path.display());
    }
    sim.stats()
}

/// Runs under `faults` over a folder holding earlier reports, and expects `code`, a message
/// containing every `needles`, and the folder untouched.
fn assert_fails(faults: Faults, extra: &[&str], code: i32, needles: &[&str]) -> sf_sim::StatsSnapshot {
    let work = tempfile::tempdir().unwrap();
    baseline(work.path());
    let before = tree(&work.path().join("base"));
    let sim = sim(org());
    sim.set_faults(faults);
    let output = run(work.path(), &sim, "base").args(extra).output().unwrap();
    let err = stderr_of(&output);
    assert_eq!(output.status.code(), Some(code), "{err}");
    let last = err.trim().lines().last().unwrap_or_default();
    assert!(last.starts_with("access-audit: error: "), "one final error line: {err}");
    for needle in needles {
        assert!(last.contains(needle), "the message names {needle:?}: {last}");
    }
    assert!(tree(&work.path().join("base")) == before, "the previous reports are untouched");
    let names: Vec<_> = std::fs::read_dir(work.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("base")], "nothing half-written beside it");
    sim.stats()
}

fn rule(fault: Injected) -> FaultRule {
    FaultRule::always(fault)
}

fn faults(rules: Vec<FaultRule>) -> Faults {
    Faults { rules, ..Faults::none() }
}

// ---- recovered ----

#[test]
fn latency_recovers() {
    assert_recovers(Faults { latency: Duration::from_millis(40), ..Faults::none() });
}

#[test]
fn service_unavailable_json_recovers() {
    let stats = assert_recovers(faults(vec![rule(Injected::Unavailable).window(2, 2)]));
    assert_eq!(stats.injected_faults, 2);
}

#[test]
fn maintenance_html_page_recovers() {
    let stats = assert_recovers(faults(vec![rule(Injected::MaintenanceHtml).object("User").window(0, 3)]));
    assert_eq!(stats.injected_faults, 3);
}

#[test]
fn internal_error_recovers() {
    assert_recovers(faults(vec![
        rule(Injected::InternalError).object("PermissionSetAssignment").follow_ups().window(1, 1),
    ]));
}

#[test]
fn connection_dropped_mid_body_recovers() {
    let stats = assert_recovers(faults(vec![
        rule(Injected::DropConnection).object("PermissionSetAssignment").follow_ups().window(0, 2),
    ]));
    assert_eq!(stats.injected_faults, 2);
}

#[test]
fn body_cut_mid_json_recovers() {
    assert_recovers(faults(vec![rule(Injected::TruncatedBody).object("User").window(1, 1)]));
}

#[test]
fn token_expiring_after_n_requests_is_renewed() {
    let stats = assert_recovers(Faults { expire_tokens_after: Some(6), ..Faults::none() });
    assert!(stats.token_requests >= 3, "renewed by logging in again: {stats:?}");
    assert!(stats.expired_sessions >= 2);
}

#[test]
fn invalid_query_locator_restarts_the_query_from_the_beginning() {
    let stats =
        assert_recovers(faults(vec![rule(Injected::InvalidQueryLocator).object("User").follow_ups().window(1, 1)]));
    // User has 3 pages at 500 a page: 2 served, the 3rd lost, then 3 again from the start.
    assert_eq!(stats.query_pages["User"], 5, "{stats:?}");
}

#[test]
fn slow_token_endpoint_recovers() {
    assert_recovers(Faults { token_latency: Duration::from_millis(600), ..Faults::none() });
}

#[test]
fn short_pages_recover() {
    assert_recovers(Faults { short_pages: true, ..Faults::none() });
}

#[test]
fn several_faults_at_once_recover() {
    let stats = assert_recovers(Faults {
        latency: Duration::from_millis(5),
        expire_tokens_after: Some(9),
        short_pages: true,
        rules: vec![
            rule(Injected::Unavailable).window(3, 1),
            rule(Injected::DropConnection).object("PermissionSetAssignment").follow_ups().window(2, 1),
            rule(Injected::InvalidQueryLocator).object("User").follow_ups().window(0, 1),
            rule(Injected::TruncatedBody).object("UserLogin").window(0, 1),
        ],
        ..Faults::none()
    });
    // When two rules match one request the first wins (and both count it), so 3 or 4 fire.
    assert!(stats.injected_faults >= 3, "{stats:?}");
}

// ---- failed, loudly, leaving the previous reports ----

#[test]
fn unavailable_for_good_gives_up_with_exit_3() {
    let stats = assert_fails(
        faults(vec![rule(Injected::Unavailable).object("User")]),
        &["--retries", "3"],
        3,
        &["query of User", "gave up after 4 attempts", "503", "SERVER_UNAVAILABLE"],
    );
    assert_eq!(stats.injected_faults_by_kind.get("Unavailable"), Some(&4), "exactly the retry budget: {stats:?}");
}

#[test]
fn maintenance_for_good_gives_up_with_exit_3() {
    assert_fails(faults(vec![rule(Injected::MaintenanceHtml)]), &["--retries", "2"], 3, &["gave up", "text/html"]);
}

#[test]
fn request_limit_exceeded_stops_at_once() {
    let stats = assert_fails(
        faults(vec![rule(Injected::RequestLimitExceeded).object("PermissionSetAssignment").follow_ups()]),
        &[],
        3,
        &["REQUEST_LIMIT_EXCEEDED", "stopped at once"],
    );
    assert_eq!(stats.injected_faults, 1, "no retry against a shared quota: {stats:?}");
}

#[test]
fn the_quota_running_out_mid_run_stops_at_once() {
    let work = tempfile::tempdir().unwrap();
    baseline(work.path());
    let before = tree(&work.path().join("base"));
    let sim = sim(org());
    sim.with_state(|s| {
        s.api_max = 10_000;
        s.api_used = 9_994;
    });
    let output = run(work.path(), &sim, "base").args(["--min-api-remaining", "0"]).output().unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr_of(&output));
    assert!(stderr_of(&output).contains("REQUEST_LIMIT_EXCEEDED"));
    assert!(tree(&work.path().join("base")) == before);
    assert!(sim.stats().request_limit_exceeded <= 7, "one refusal per query at most: {:?}", sim.stats());
}

#[test]
fn a_total_size_that_does_not_match_fails_with_exit_4() {
    assert_fails(
        Faults { total_size_delta: Some(("UserPackageLicense".into(), 2)), ..Faults::none() },
        &[],
        4,
        &["UserPackageLicense", "totalSize", "incomplete"],
    );
}

#[test]
fn a_malformed_record_fails_naming_object_record_and_field() {
    let org = org();
    let id = org.records("User")[7]["Id"].as_str().unwrap().to_string();
    assert_fails(
        Faults {
            malformed: Some(Malformed {
                object: "User".into(),
                index: 7,
                field: "IsActive".into(),
                value: json!("yes"),
            }),
            ..Faults::none()
        },
        &[],
        4,
        &["User record", &id, "field IsActive", "\"yes\""],
    );
}

#[test]
fn a_malformed_datetime_fails_naming_it() {
    assert_fails(
        Faults {
            malformed: Some(Malformed {
                object: "User".into(),
                index: 3,
                field: "LastLoginDate".into(),
                value: json!("yesterday"),
            }),
            ..Faults::none()
        },
        &[],
        4,
        &["field LastLoginDate", "yesterday", "datetime"],
    );
}

#[test]
fn an_expired_access_token_cannot_be_renewed_and_fails_with_exit_3() {
    let work = tempfile::tempdir().unwrap();
    let sim = sim(org());
    sim.set_faults(Faults { expire_tokens_after: Some(3), ..Faults::none() });
    let output = bin(work.path())
        .args(["run", "--out", "out", "--as-of", AS_OF, "--batch-size", "500", "--instance-url", &sim.base_url()])
        .env("SF_ACCESS_TOKEN", ACCESS_TOKEN)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(stderr_of(&output).contains("get a new one"), "{}", stderr_of(&output));
    assert!(!work.path().join("out").exists());
}

#[test]
fn a_token_endpoint_slower_than_the_timeout_fails_with_exit_3() {
    assert_fails(
        Faults { token_latency: Duration::from_millis(2_500), ..Faults::none() },
        &["--timeout-secs", "1", "--retries", "1"],
        3,
        &["login", "timed out"],
    );
}

#[test]
fn a_locator_lost_again_and_again_fails_with_exit_3() {
    assert_fails(
        faults(vec![rule(Injected::InvalidQueryLocator).object("PermissionSetAssignment").follow_ups()]),
        &[],
        3,
        &["PermissionSetAssignment", "INVALID_QUERY_LOCATOR", "giving up"],
    );
}

#[test]
fn transient_faults_with_a_wrong_total_size_still_fail_with_exit_4() {
    assert_fails(
        Faults {
            rules: vec![
                rule(Injected::Unavailable).window(0, 2),
                rule(Injected::DropConnection).object("User").window(0, 1),
            ],
            total_size_delta: Some(("User".into(), -1)),
            ..Faults::none()
        },
        &[],
        4,
        &["User", "totalSize"],
    );
}
