//! Pulling a whole org: every row, exactly ceil(rows/2000) pages, relationship fields intact.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::common::*;
use access_audit::snapshot::{self, OBJECTS};

/// The queries of REPORTS.md's input table (and `Organization`, for the report header), as a
/// reviewer reads them in the manifest: object and SOQL.
const SOQL: [(&str, &str); 10] = [
    ("Organization", "SELECT Id, Name, InstanceName, IsSandbox, OrganizationType FROM Organization"),
    (
        "User",
        "SELECT Id, Username, Name, Email, IsActive, UserType, Profile.Name, Profile.UserLicense.Name, \
         UserRole.Name, Department, Title, FederationIdentifier, CreatedDate, LastLoginDate, ManagerId, Manager.Name, \
         Manager.Email FROM User",
    ),
    (
        "PermissionSetAssignment",
        "SELECT Id, AssigneeId, PermissionSetId, PermissionSet.Name, PermissionSet.Label, \
         PermissionSet.NamespacePrefix, PermissionSet.IsOwnedByProfile, PermissionSet.Type, PermissionSetGroupId, \
         ExpirationDate FROM PermissionSetAssignment WHERE PermissionSet.IsOwnedByProfile = false",
    ),
    ("PermissionSetGroup", "SELECT Id, DeveloperName, MasterLabel, NamespacePrefix FROM PermissionSetGroup"),
    (
        "PermissionSetGroupComponent",
        "SELECT Id, PermissionSetGroupId, PermissionSetId, PermissionSet.Name, PermissionSet.Label, \
         PermissionSet.NamespacePrefix, PermissionSet.IsOwnedByProfile FROM PermissionSetGroupComponent",
    ),
    (
        "UserPackageLicense",
        "SELECT Id, UserId, PackageLicenseId, PackageLicense.NamespacePrefix FROM UserPackageLicense",
    ),
    ("UserLogin", "SELECT Id, UserId, IsFrozen FROM UserLogin"),
    (
        "PermissionSetLicense",
        "SELECT Id, DeveloperName, MasterLabel, TotalLicenses, UsedLicenses, ExpirationDate, Status \
         FROM PermissionSetLicense",
    ),
    ("PermissionSetLicenseAssign", "SELECT Id, AssigneeId, PermissionSetLicenseId FROM PermissionSetLicenseAssign"),
    (
        "PackageLicense",
        "SELECT Id, NamespacePrefix, AllowedLicenses, UsedLicenses, ExpirationDate, Status FROM PackageLicense",
    ),
];

/// An assignment of a profile-owned permission set (the pull's pushdown filter leaves it out).
fn profile_owned(record: &serde_json::Map<String, serde_json::Value>) -> bool {
    record.get("PermissionSet").and_then(|p| p.get("IsOwnedByProfile")) == Some(&serde_json::Value::Bool(true))
}

/// The dotted field paths of one of the queries above.
fn fields_of(object: &str) -> Vec<&'static str> {
    let soql = SOQL.iter().find(|(o, _)| *o == object).unwrap().1;
    let list = soql.strip_prefix("SELECT ").unwrap().split(" FROM ").next().unwrap();
    list.split(", ").collect()
}

/// What the REST API answers for `record` and the dotted `fields`, minus `attributes`: each
/// relationship a nested object holding only the selected fields, or `null` when its lookup is empty.
fn projection(record: &Map<String, Value>, fields: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    for field in fields {
        let (mut from, mut to) = (record, &mut out);
        let mut parts = field.split('.').peekable();
        while let Some(part) = parts.next() {
            let value = from.get(part).unwrap_or(&Value::Null);
            match (parts.peek(), value) {
                (Some(_), Value::Object(inner)) => {
                    from = inner;
                    let slot = to.entry(part).or_insert_with(|| Value::Object(Map::new()));
                    to = slot.as_object_mut().unwrap();
                }
                _ => {
                    to.insert(part.to_string(), if parts.peek().is_some() { Value::Null } else { value.clone() });
                    break;
                }
            }
        }
    }
    out
}

fn pages_for(rows: usize) -> u64 {
    rows.div_ceil(2000).max(1) as u64
}

#[test]
fn pulls_every_row_of_a_large_org_in_the_fewest_pages() {
    let org = sf_sim::generate::synthetic_org(42, 5_000, 20_000);
    // Profile-owned assignments are filtered out by the query (REPORTS.md: they never count).
    // The generated org has neither PSA nor Accounting installed: their objects are not pulled.
    let expected: Vec<(&str, usize)> = OBJECTS
        .iter()
        .filter(|o| o.package().is_none())
        .map(|o| (o.name, org.records(o.name).iter().filter(|r| !profile_owned(r)).count()))
        .collect();
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
    // The manifest counts every REST request the simulator served: one /sobjects and a count of
    // PackageLicense per Certinia package not in it (PSA, Accounting: is it licensed?), a count of
    // each object pulled but the Organization (to choose REST or Bulk), the pages, and one
    // /limits for the quota check.
    let served: u64 = stats.query_pages.values().sum();
    assert_eq!(stats.limits_requests, 1);
    assert_eq!(stats.requests_by_kind.get("sobjects"), Some(&1));
    assert_eq!(stats.count_queries, expected.len() as u64 - 1 + 2);
    assert_eq!(manifest.api.requests, served + stats.count_queries + 1 + 1);
    assert_eq!(
        manifest.notes,
        [
            "PSA not installed: permission controls and resources not audited",
            "Accounting not installed: user companies not audited"
        ]
    );
    assert!(manifest.api.org_daily_limit_before.is_some());
    assert_eq!(manifest.api.logins, 1);
    assert!(manifest.api.org_usage_after.is_some());
}

#[test]
fn relationship_fields_survive_as_nested_objects_or_null() {
    let org = small_org();
    let source = |object: &str| org.records(object).to_vec();
    // Profile-owned assignments are filtered out by the query (REPORTS.md: they never count).
    let assignments: Vec<_> = source("PermissionSetAssignment").into_iter().filter(|a| !profile_owned(a)).collect();
    let users = source("User");
    let sim = sim(org);
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("snapshot");
    pull_jwt(work.path(), &sim, &out).assert().success();

    let (mut nested, mut null_role) = (0, 0);
    for (object, records) in [("User", &users), ("PermissionSetAssignment", &assignments)] {
        let pulled = snapshot_records(&out, object);
        assert_eq!(pulled.len(), records.len(), "{object}");
        let fields = fields_of(object);
        for record in records {
            let id = record["Id"].as_str().unwrap();
            assert_eq!(pulled[id], projection(record, &fields), "{object} {id}: the whole record, as the API sent it");
            if object == "User" {
                nested += usize::from(pulled[id]["Profile"]["UserLicense"]["Name"].is_string());
                null_role += usize::from(pulled[id]["UserRole"].is_null());
            }
        }
    }
    assert!(nested > 0 && null_role > 0, "the org exercises both shapes");
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
    let recorded: Vec<(&str, &str)> = manifest.objects.iter().map(|o| (o.object.as_str(), o.soql.as_str())).collect();
    assert_eq!(recorded, SOQL, "every query of REPORTS.md's input table, exactly");
    for entry in &manifest.objects {
        assert_eq!(entry.file, format!("{}.ndjson", entry.object));
        // What `sha256sum` prints for the file's bytes.
        let bytes = std::fs::read(out.join(&entry.file)).unwrap();
        assert_eq!(entry.sha256, hex::encode(Sha256::digest(&bytes)), "{}", entry.file);
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
