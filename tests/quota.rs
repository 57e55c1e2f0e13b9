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

/// The simulator counts a `/limits` request against the daily allocation before it answers
/// (sim/src/server.rs, `decide`: `api_used += 1` for every authorised data request, then
/// `limits_body` reports `Remaining` = Max − used; pinned by sf-sim's own test
/// `limits_and_limit_info_header`: used 18 of 5,000 answers 4,981). The quota check is the run's
/// first data request, so the tool reads `Remaining` = 10,000 − used − 1.
const LIMITS_COUNTS_ITSELF: u64 = 1;

/// The usage to set so that `/limits` answers `remaining`.
fn used_for(remaining: u64) -> u64 {
    10_000 - remaining - LIMITS_COUNTS_ITSELF
}

#[test]
fn the_floor_is_checked_at_just_above_and_just_below() {
    // Remaining must be at least floor (5% of 10,000 = 500) + needed (the list of objects, and 13
    // objects at 1 request each) = 514.
    let (output, stats) = pull_at(used_for(514));
    assert!(output.status.success(), "at the floor the run starts: {}", stderr_of(&output));
    let err = stderr_of(&output);
    assert!(err.contains("the org has 514 of 10000 daily API requests left"), "{err}");
    assert!(stats.query_pages.values().sum::<u64>() >= 7);

    let (output, _) = pull_at(used_for(515));
    assert!(output.status.success(), "above the floor the run starts: {}", stderr_of(&output));

    let (output, stats) = pull_at(used_for(513));
    assert_eq!(output.status.code(), Some(3), "below the floor: {}", stderr_of(&output));
    let err = stderr_of(&output);
    for needle in ["not starting", "513 of 10000", "needs about 14", "at least 500", "--min-api-remaining 5%"] {
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
    // Plus the list of objects, and a licence count for each package noted as not installed.
    let needed = pages + 1 + 2;
    assert!(stderr_of(&output).contains(&format!("needs about {needed}")), "{}", stderr_of(&output));
}

#[test]
fn a_floor_of_zero_skips_the_check() {
    let sim = sim(small_org());
    let work = tempfile::tempdir().unwrap();
    pull_jwt(work.path(), &sim, &work.path().join("s")).args(["--min-api-remaining", "0"]).assert().success();
    assert_eq!(sim.stats().limits_requests, 0);
}
