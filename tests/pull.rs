//! Pulling a whole org: every row, exactly ceil(rows/2000) pages, relationship fields intact.

use crate::common::*;
use access_audit::snapshot::{self, OBJECTS};

/// An assignment of a profile-owned permission set (the pull's pushdown filter leaves it out).
fn profile_owned(record: &serde_json::Map<String, serde_json::Value>) -> bool {
    record.get("PermissionSet").and_then(|p| p.get("IsOwnedByProfile")) == Some(&serde_json::Value::Bool(true))
}

fn pages_for(rows: usize) -> u64 {
    rows.div_ceil(2000).max(1) as u64
}

#[test]
fn pulls_every_row_of_a_large_org_in_the_fewest_pages() {
    let org = sf_sim::generate::synthetic_org(42, 5_000, 20_000);
    // Profile-owned assignments are filtered out by the query (REPORTS.md: they never count).
    let expected: Vec<(&str, usize)> =
        OBJECTS.iter().map(|o| (o.name, org.records(o.name).iter().filter(|r| !profile_owned(r)).count())).collect();
    assert!(org.records("User").len() >= 5_000);
    assert!(org.records("PermissionSetAssignment").len() >= 20_000);
    let sim = sim(org);
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("snapshot");

    pull_jwt(work.path(), &sim, &out).assert().success();

    let stats = sim.stats();
    assert_eq!(stats.token_requests, 1, "one login: {stats:?}");
    for (object, rows) in &expected {
        assert_eq!(snapshot_records(&out, object).len(), *rows, "{object}: every row arrived");
        assert_eq!(
            stats.query_pages.get(*object).copied().unwrap_or(0),
            pages_for(*rows),
            "{object}: {rows} rows must take exactly ceil(rows/2000) pages: {stats:?}"
        );
    }
    let manifest = snapshot::verify(&out).expect("the snapshot verifies").manifest;
    for (object, rows) in &expected {
        let entry = manifest.object(object).unwrap();
        assert_eq!(entry.rows, *rows as u64);
        assert_eq!(entry.total_size, *rows as u64);
        assert_eq!(entry.pages, pages_for(*rows));
    }
    // The manifest counts every REST request the simulator served: a count of each object but the
    // Organization (to choose REST or Bulk), the pages, and one /limits for the quota check.
    let served: u64 = stats.query_pages.values().sum();
    assert_eq!(stats.limits_requests, 1);
    assert_eq!(stats.count_queries, OBJECTS.len() as u64 - 1);
    assert_eq!(manifest.api.requests, served + stats.count_queries + 1);
    assert!(manifest.api.org_daily_limit_before.is_some());
    assert_eq!(manifest.api.logins, 1);
    assert!(manifest.api.org_usage_after.is_some());
}

#[test]
fn relationship_fields_survive_as_nested_objects_or_null() {
    let org = small_org();
    let users = org.records("User").to_vec();
    let assignments = org.records("PermissionSetAssignment").to_vec();
    let sim = sim(org);
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("snapshot");
    pull_jwt(work.path(), &sim, &out).assert().success();

    let pulled = snapshot_records(&out, "User");
    let spec = snapshot::spec("User").unwrap();
    let (mut nested, mut null_role) = (0, 0);
    for user in &users {
        let id = user["Id"].as_str().unwrap();
        let got = &pulled[id];
        for field in spec.fields {
            assert_eq!(
                snapshot::lookup(got, field.path).unwrap(),
                snapshot::lookup(user, field.path).unwrap(),
                "{id} {}",
                field.path
            );
        }
        if got["Profile"]["UserLicense"]["Name"].is_string() {
            nested += 1;
        }
        if got["UserRole"].is_null() {
            null_role += 1;
        }
        assert!(got.get("attributes").is_none());
    }
    assert!(nested > 0 && null_role > 0, "the org exercises both shapes");
    let pulled = snapshot_records(&out, "PermissionSetAssignment");
    assert_eq!(pulled.len(), assignments.iter().filter(|a| !profile_owned(a)).count());
    for a in assignments.iter().filter(|a| !profile_owned(a)) {
        let got = &pulled[a["Id"].as_str().unwrap()];
        assert_eq!(got["PermissionSet"]["NamespacePrefix"], a["PermissionSet"]["NamespacePrefix"]);
        assert_eq!(got["PermissionSet"]["IsOwnedByProfile"], a["PermissionSet"]["IsOwnedByProfile"]);
    }
}

#[test]
fn a_total_size_that_does_not_match_the_rows_fails_and_keeps_the_previous_snapshot() {
    let sim = sim(small_org());
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("snapshot");
    pull_jwt(work.path(), &sim, &out).assert().success();
    let before = std::fs::read(out.join("manifest.json")).unwrap();

    sim.with_state(|s| s.faults.total_size_delta = Some(("PermissionSetAssignment".into(), 3)));
    let output = pull_jwt(work.path(), &sim, &out).output().unwrap();
    assert_eq!(output.status.code(), Some(4), "{}", stderr_of(&output));
    let err = stderr_of(&output);
    assert!(err.contains("PermissionSetAssignment"), "{err}");
    assert!(err.contains("totalSize"), "{err}");
    assert!(err.contains("incomplete"), "{err}");
    assert_eq!(std::fs::read(out.join("manifest.json")).unwrap(), before, "the previous snapshot is untouched");
    snapshot::verify(&out).expect("and still verifies");
    let leftovers: Vec<_> = std::fs::read_dir(work.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "no half-written folder beside it: {leftovers:?}");
}

#[test]
fn a_failed_first_pull_leaves_no_folder() {
    let sim = sim(small_org());
    sim.with_state(|s| s.faults.total_size_delta = Some(("User".into(), -1)));
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("snapshot");
    let output = pull_jwt(work.path(), &sim, &out).output().unwrap();
    assert_eq!(output.status.code(), Some(4));
    assert_eq!(std::fs::read_dir(work.path()).unwrap().count(), 0, "nothing that looks like a snapshot");
}

#[test]
fn a_field_the_org_lacks_at_this_api_version_is_named() {
    let sim = sim(small_org());
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("snapshot");
    let output = pull_jwt(work.path(), &sim, &out).args(["--api-version", "44.0"]).output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    let err = stderr_of(&output);
    assert!(err.contains("API v44.0"), "{err}");
    assert!(err.contains("--api-version 45.0"), "{err}");
    assert!(!out.exists());
}

#[test]
fn refuses_to_replace_a_folder_that_is_not_a_snapshot() {
    let sim = sim(small_org());
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("documents");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("budget.xlsx"), "precious").unwrap();
    let output = pull_jwt(work.path(), &sim, &out).output().unwrap();
    assert_eq!(output.status.code(), Some(5));
    assert!(stderr_of(&output).contains("refusing to replace"));
    assert_eq!(std::fs::read_to_string(out.join("budget.xlsx")).unwrap(), "precious");
    assert_eq!(sim.stats().query_pages.values().sum::<u64>(), 0, "no API request spent");
}

#[test]
fn the_manifest_records_org_version_queries_and_hashes() {
    let sim = sim(small_org());
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("snapshot");
    pull_jwt(work.path(), &sim, &out).args(["--api-version", "60.0"]).assert().success();
    let manifest = snapshot::read_manifest(&out).unwrap();
    assert_eq!(manifest.format, "access-audit-snapshot/1");
    assert_eq!(manifest.api_version, "60.0");
    assert!(manifest.org.id.starts_with("00D"));
    assert_eq!(manifest.org.instance_url, sim.base_url());
    chrono::DateTime::parse_from_rfc3339(&manifest.pulled_at).expect("RFC 3339 time");
    for spec in OBJECTS {
        let entry = manifest.object(spec.name).unwrap();
        // The exact SOQL: the input table's fields, and the pushdown filter on assignments.
        assert_eq!(entry.soql, snapshot::base_soql(spec, true));
        assert_eq!(
            entry.soql.contains(" WHERE PermissionSet.IsOwnedByProfile = false"),
            spec.name == "PermissionSetAssignment"
        );
        let (sha, _) = snapshot::hash_file(&out.join(&entry.file)).unwrap();
        assert_eq!(entry.sha256, sha);
    }
    // Lines are sorted by Id, so two pulls of the same org are the same files.
    let first: Vec<String> = snapshot_records(&out, "User").into_keys().collect();
    let mut sorted = first.clone();
    sorted.sort();
    assert_eq!(first, sorted);
    let again = work.path().join("again");
    pull_jwt(work.path(), &sim, &again).args(["--api-version", "60.0"]).assert().success();
    let second = snapshot::read_manifest(&again).unwrap();
    for (a, b) in manifest.objects.iter().zip(&second.objects) {
        assert_eq!(a.sha256, b.sha256, "{}", a.object);
    }
}

#[test]
fn the_batch_size_is_sent_as_sforce_query_options() {
    let org = sf_sim::generate::synthetic_org(3, 450, 100);
    let users = org.records("User").len();
    let sim = sim(org);
    let work = tempfile::tempdir().unwrap();
    pull_jwt(work.path(), &sim, &work.path().join("s")).args(["--batch-size", "200"]).assert().success();
    assert_eq!(sim.stats().query_pages["User"], users.div_ceil(200) as u64);
}

#[test]
fn an_org_without_an_organization_record_is_identified_from_the_login() {
    let mut org = small_org();
    org.objects_mut().remove("Organization");
    let sim = sim(org);
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("snapshot");
    let output = pull_jwt(work.path(), &sim, &out).output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(stderr_of(&output).contains("identified as 00D"), "{}", stderr_of(&output));
    let manifest = snapshot::verify(&out).unwrap().manifest;
    assert_eq!(manifest.org.id, sf_sim::DEFAULT_ORG_ID);
    assert_eq!(manifest.org.name, None);
    // The report still runs.
    bin(work.path()).args(["report", "--snapshot", "snapshot", "--out", "reports"]).assert().success();
}
