//! The fault matrix of the Bulk API path: each fault alone and combined with REST faults, through
//! the real binary. Recovered means the data files and every CSV equal a fault-free REST run's
//! byte for byte; failed means the exit code, a message naming the cause, and the previous
//! reports untouched. The README's fault table lists these rows.

use std::path::Path;
use std::time::Duration;

use sf_sim::{Endpoint, FaultRule, Faults, Injected, Sim};

use crate::common::*;

const AS_OF: &str = "2026-10-01T00:00:00Z";

/// Chunks of at most 900 rows: users, assignments and logins take several, each with a locator.
const CHUNK_ROWS: usize = 900;

fn org() -> sf_sim::Org {
    sf_sim::generate::synthetic_org(11, 1_200, 2_600)
}

/// `run` with the JWT flow (a session can be renewed), quick retries, Bulk for every object.
fn run(work: &Path, sim: &Sim, out: &str, api: &str) -> assert_cmd::Command {
    let mut cmd = bin(work);
    cmd.args(["run", "--out", out, "--as-of", AS_OF, "--batch-size", "500", "--retry-delay-ms", "5", "--api", api])
        .args(["--login-url", &sim.base_url(), "--client-id", CLIENT_ID, "--username", USERNAME])
        .arg("--jwt-key-file")
        .arg(private_key());
    cmd
}

fn start(faults: Faults) -> Sim {
    let sim = sim(org());
    sim.set_faults(Faults { bulk_chunk_rows: CHUNK_ROWS, ..faults });
    sim
}

/// A fault-free REST run into `work/base`.
fn baseline(work: &Path) {
    let sim = sim(org());
    let output = run(work, &sim, "base", "rest").output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
}

fn assert_recovers(faults: Faults) -> sf_sim::StatsSnapshot {
    let work = tempfile::tempdir().unwrap();
    baseline(work.path());
    let sim = start(faults);
    let output = run(work.path(), &sim, "out", "bulk").output().unwrap();
    assert!(output.status.success(), "not recovered: {}", stderr_of(&output));
    assert_same_reports(&work.path().join("base"), &work.path().join("out"));
    let stats = sim.stats();
    assert_eq!(stats.bulk_jobs_open, 0, "every job deleted: {stats:?}");
    stats
}

fn assert_fails(faults: Faults, extra: &[&str], code: i32, needles: &[&str]) -> sf_sim::StatsSnapshot {
    let work = tempfile::tempdir().unwrap();
    baseline(work.path());
    let before = tree(&work.path().join("base"));
    let sim = start(faults);
    let output = run(work.path(), &sim, "base", "bulk").args(extra).output().unwrap();
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

fn bulk(fault: Injected, step: Endpoint) -> FaultRule {
    FaultRule::always(fault).on(step)
}

fn rules(rules: Vec<FaultRule>) -> Faults {
    Faults { rules, ..Faults::none() }
}

// ---- recovered ----

#[test]
fn a_results_chunk_dropped_mid_body_is_read_again() {
    let stats = assert_recovers(rules(vec![
        bulk(Injected::DropConnection, Endpoint::BulkResults).object("PermissionSetAssignment").window(1, 2),
    ]));
    assert_eq!(stats.injected_faults, 2);
}

#[test]
fn a_cut_csv_chunk_is_read_again() {
    let stats = assert_recovers(rules(vec![bulk(Injected::TruncatedBody, Endpoint::BulkResults).window(0, 3)]));
    assert_eq!(stats.injected_faults, 3);
}

#[test]
fn unavailable_on_create_poll_and_results_is_retried() {
    assert_recovers(rules(vec![
        bulk(Injected::Unavailable, Endpoint::BulkCreate).window(0, 1),
        bulk(Injected::InternalError, Endpoint::BulkPoll).window(1, 1),
        bulk(Injected::MaintenanceHtml, Endpoint::BulkResults).window(2, 1),
    ]));
}

#[test]
fn a_failed_job_is_created_again() {
    let stats = assert_recovers(Faults { bulk_failed_jobs: 2, ..Faults::none() });
    assert_eq!(stats.bulk_jobs_created, 9 + 2, "{stats:?}");
}

#[test]
fn a_slow_job_is_polled_until_it_completes() {
    let stats = assert_recovers(Faults { bulk_processing: Duration::from_millis(700), ..Faults::none() });
    // Pauses of 100, 200, 400 ms… : a few polls per job, not one every few milliseconds.
    let polls = stats.requests_by_kind["bulk-poll"];
    assert!((9 * 3..=9 * 6).contains(&polls), "{polls} polls for 9 jobs: {stats:?}");
}

#[test]
fn a_failed_delete_is_only_a_warning() {
    let work = tempfile::tempdir().unwrap();
    baseline(work.path());
    let sim = start(rules(vec![FaultRule::always(Injected::InternalError).on(Endpoint::BulkDelete)]));
    let output = run(work.path(), &sim, "out", "bulk").args(["--retries", "1"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(stderr_of(&output).contains("could not delete job"), "{}", stderr_of(&output));
    assert_same_reports(&work.path().join("base"), &work.path().join("out"));
}

#[test]
fn bulk_faults_with_rest_faults_at_once_recover() {
    let stats = assert_recovers(Faults {
        latency: Duration::from_millis(3),
        expire_tokens_after: Some(9),
        bulk_failed_jobs: 1,
        short_pages: true,
        rules: vec![
            FaultRule::always(Injected::Unavailable).window(4, 1),
            bulk(Injected::DropConnection, Endpoint::BulkResults).object("User").window(1, 1),
            bulk(Injected::TruncatedBody, Endpoint::BulkResults).object("PermissionSetAssignment").window(0, 1),
            bulk(Injected::Unavailable, Endpoint::BulkPoll).window(2, 1),
            // The Organization still goes through REST.
            FaultRule::always(Injected::TruncatedBody).object("Organization").window(0, 1),
        ],
        ..Faults::none()
    });
    assert!(stats.injected_faults >= 4, "{stats:?}");
    assert!(stats.expired_sessions >= 1, "{stats:?}");
}

// ---- failed, loudly, leaving the previous reports ----

#[test]
fn a_job_that_fails_every_time_gives_up_with_exit_3() {
    let stats = assert_fails(
        Faults { bulk_failed_jobs: 100, ..Faults::none() },
        &["--retries", "2"],
        3,
        &["Bulk query of", "failed 3 times", "InternalServerError"],
    );
    // Each failed job is deleted before the next is created (jobs of the other objects, still
    // running when the pull stops, are left to Salesforce's cleanup after seven days).
    assert!(stats.requests_by_kind.get("bulk-delete").copied().unwrap_or(0) >= 3, "{stats:?}");
}

#[test]
fn an_aborted_job_fails_at_once_with_exit_3() {
    assert_fails(Faults { bulk_aborted_jobs: 100, ..Faults::none() }, &[], 3, &["Bulk query of", "was aborted"]);
}

#[test]
fn results_unavailable_for_good_give_up_with_exit_3() {
    assert_fails(
        rules(vec![bulk(Injected::Unavailable, Endpoint::BulkResults)]),
        &["--retries", "2"],
        3,
        &["Bulk query of", "gave up after 3 attempts", "SERVER_UNAVAILABLE"],
    );
}

#[test]
fn a_csv_cut_again_and_again_gives_up_with_exit_3() {
    assert_fails(
        rules(vec![bulk(Injected::TruncatedBody, Endpoint::BulkResults).object("UserLogin")]),
        &["--retries", "2"],
        3,
        &["Bulk query of UserLogin", "gave up", "CSV answer is cut short"],
    );
}

#[test]
fn rows_that_do_not_match_the_jobs_count_fail_with_exit_4() {
    assert_fails(
        Faults { total_size_delta: Some(("UserPackageLicense".into(), 2)), ..Faults::none() },
        &[],
        4,
        &["UserPackageLicense", "incomplete"],
    );
}

#[test]
fn transient_bulk_faults_and_a_wrong_count_still_fail_with_exit_4() {
    assert_fails(
        Faults {
            total_size_delta: Some(("User".into(), -1)),
            rules: vec![
                bulk(Injected::DropConnection, Endpoint::BulkResults).window(0, 1),
                FaultRule::always(Injected::Unavailable).window(0, 2),
            ],
            ..Faults::none()
        },
        &[],
        4,
        &["User", "incomplete"],
    );
}
