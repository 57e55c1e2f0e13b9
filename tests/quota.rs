//! The API quota guard: a run that would leave the org's shared daily API allocation below the floor
//! does not start; at the floor and above it runs.

use crate::common::*;

/// Pulls with the org at `used` of 10,000 requests and a floor of 5% (500); a fresh folder, so the
/// run is estimated at one request per object (7).
fn pull_at(used: u64) -> (std::process::Output, sf_sim::StatsSnapshot) {
    let sim = sim(small_org());
    sim.with_state(|s| {
        s.api_max = 10_000;
        s.api_used = used;
    });
    let work = tempfile::tempdir().unwrap();
    let output =
        pull_jwt(work.path(), &sim, &work.path().join("s")).args(["--min-api-remaining", "5%"]).output().unwrap();
    (output, sim.stats())
}

/// What `/limits` reports as Remaining for a given `used` (the /limits request may count itself).
fn remaining_seen(used: u64) -> u64 {
    let (output, _) = pull_at(used);
    let err = stderr_of(&output);
    let start = err.find("the org has ").expect("the remaining count is logged") + "the org has ".len();
    err[start..].split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn the_floor_is_checked_at_just_above_and_just_below() {
    // Remaining must be at least floor (500) + needed (7) = 507.
    let offset = (10_000 - 5_000) - remaining_seen(5_000);
    let used_for = |remaining: u64| 10_000 - remaining - offset;

    let (output, stats) = pull_at(used_for(507));
    assert!(output.status.success(), "at the floor the run starts: {}", stderr_of(&output));
    assert!(stats.query_pages.values().sum::<u64>() >= 7);

    let (output, _) = pull_at(used_for(508));
    assert!(output.status.success(), "above the floor the run starts: {}", stderr_of(&output));

    let (output, stats) = pull_at(used_for(506));
    assert_eq!(output.status.code(), Some(3), "below the floor: {}", stderr_of(&output));
    let err = stderr_of(&output);
    for needle in ["not starting", "506 of 10000", "needs about 7", "at least 500", "--min-api-remaining 5%"] {
        assert!(err.contains(needle), "{needle}: {err}");
    }
    assert_eq!(stats.query_pages.values().sum::<u64>(), 0, "not one query spent");
    assert_eq!(stats.limits_requests, 1);
}

#[test]
fn the_estimate_comes_from_the_previous_pull() {
    let org = sf_sim::generate::synthetic_org(5, 1_500, 3_000);
    let sim = sim(org);
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("s");
    pull_jwt(work.path(), &sim, &out).args(["--batch-size", "500"]).assert().success();
    // What the previous pull spent on each object: its counts and pages.
    let pages: u64 = access_audit::snapshot::read_manifest(&out)
        .unwrap()
        .objects
        .iter()
        .map(|o| o.requests.expect("recorded per object"))
        .sum();
    assert!(pages > 7);
    let output = pull_jwt(work.path(), &sim, &out)
        .args(["--batch-size", "500", "--min-api-remaining", "14990"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(stderr_of(&output).contains(&format!("needs about {pages}")), "{}", stderr_of(&output));
}

#[test]
fn a_floor_of_zero_skips_the_check() {
    let sim = sim(small_org());
    let work = tempfile::tempdir().unwrap();
    pull_jwt(work.path(), &sim, &work.path().join("s")).args(["--min-api-remaining", "0"]).assert().success();
    assert_eq!(sim.stats().limits_requests, 0);
}
