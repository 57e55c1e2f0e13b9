//! Each rule of REPORTS.md against an org built to exercise it, through the real binary.
//!
//! As of T = 2026-10-01T00:00:00Z: the inactive cutoff is T − 90 days = 2026-07-03T00:00:00Z and the
//! grace cutoff is T − 14 days = 2026-09-17T00:00:00Z. Users sit one second either side of both.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Map, Value, json};
use sf_sim::Org;
use sf_sim::generate::sf_id;

use crate::common::*;

const AS_OF: &str = "2026-10-01T00:00:00Z";
const INACTIVE_CUTOFF: &str = "2026-07-03T00:00:00";
const GRACE_CUTOFF: &str = "2026-09-17T00:00:00";

fn dt(s: &str) -> Value {
    json!(format!("{s}.000+0000"))
}

/// One second before or after a `YYYY-MM-DDTHH:MM:SS` instant.
fn shift(s: &str, seconds: i64) -> String {
    let t = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap() + chrono::Duration::seconds(seconds);
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// Builds the org record by record; each user is named by a short key.
#[derive(Default)]
struct Builder {
    objects: BTreeMap<String, Vec<Map<String, Value>>>,
    ids: BTreeMap<&'static str, String>,
    n: u64,
}

struct U<'a> {
    key: &'static str,
    active: bool,
    user_type: &'a str,
    created: String,
    last_login: Option<String>,
    federation: Option<&'a str>,
    email: Option<String>,
}

fn user(key: &'static str) -> U<'static> {
    U {
        key,
        active: true,
        user_type: "Standard",
        created: "2024-01-01T00:00:00".into(),
        last_login: Some(shift("2026-09-30T00:00:00", 0)),
        federation: None,
        email: None,
    }
}

impl U<'_> {
    fn inactive(mut self) -> Self {
        self.active = false;
        self
    }
    fn login(mut self, at: Option<String>) -> Self {
        self.last_login = at;
        self
    }
    fn created(mut self, at: String) -> Self {
        self.created = at;
        self
    }
    fn kind(mut self, t: &'static str) -> Self {
        self.user_type = t;
        self
    }
}

impl Builder {
    fn next(&mut self, prefix: &str) -> String {
        self.n += 1;
        sf_id(prefix, self.n)
    }

    fn push(&mut self, object: &str, record: Value) {
        let Value::Object(map) = record else { unreachable!() };
        self.objects.entry(object.to_string()).or_default().push(map);
    }

    fn id(&self, key: &str) -> String {
        self.ids.get(key).unwrap_or_else(|| panic!("no user {key}")).clone()
    }

    fn user(&mut self, u: U<'_>) {
        let id = self.next("005");
        let username = format!("{}@example.com", u.key.to_lowercase());
        self.push(
            "User",
            json!({
                "Id": id, "Username": username, "Name": format!("User {}", u.key), "Email": u.email.unwrap_or(username.clone()),
                "IsActive": u.active, "UserType": u.user_type,
                "Profile": {"Name": "Standard User", "UserLicense": {"Name": "Salesforce"}}, "UserRole": null,
                "Department": "Test", "Title": null, "FederationIdentifier": u.federation,
                "CreatedDate": dt(&u.created), "LastLoginDate": u.last_login.as_deref().map(dt),
            }),
        );
        let login = self.next("060");
        self.push("UserLogin", json!({"Id": login, "UserId": id, "IsFrozen": false}));
        self.ids.insert(u.key, id);
    }

    fn freeze(&mut self, key: &str) {
        let id = self.id(key);
        for r in self.objects.get_mut("UserLogin").unwrap() {
            if r["UserId"] == json!(id) {
                r.insert("IsFrozen".into(), json!(true));
            }
        }
    }

    fn permission_set(ns: Option<&str>, name: &str, label: &str, owned: bool) -> Value {
        json!({"Name": name, "Label": label, "NamespacePrefix": ns, "IsOwnedByProfile": owned,
               "Type": if owned { "Profile" } else { "Regular" }})
    }

    /// A direct assignment of a permission set.
    fn assign(&mut self, key: &str, ns: Option<&str>, name: &str, label: &str, owned: bool) {
        let (id, ps) = (self.next("0Pa"), self.next("0PS"));
        let assignee = self.id(key);
        self.push(
            "PermissionSetAssignment",
            json!({"Id": id, "AssigneeId": assignee, "PermissionSetId": ps,
                   "PermissionSet": Self::permission_set(ns, name, label, owned),
                   "PermissionSetGroupId": null, "ExpirationDate": null}),
        );
    }

    /// A permission set group with components; returns its Id.
    fn group(&mut self, name: &str, label: &str, components: &[(Option<&str>, &str, &str, bool)]) -> String {
        let group = self.next("0PG");
        self.push(
            "PermissionSetGroup",
            json!({"Id": group, "DeveloperName": name, "MasterLabel": label, "NamespacePrefix": null}),
        );
        for (ns, n, l, owned) in components {
            let (id, ps) = (self.next("0PH"), self.next("0PS"));
            self.push(
                "PermissionSetGroupComponent",
                json!({"Id": id, "PermissionSetGroupId": group, "PermissionSetId": ps,
                       "PermissionSet": Self::permission_set(*ns, n, l, *owned)}),
            );
        }
        group
    }

    /// A group assignment: the PermissionSet is the group's neutral aggregate set.
    fn assign_group(&mut self, key: &str, group: &str) {
        let (id, ps) = (self.next("0Pa"), self.next("0PS"));
        let assignee = self.id(key);
        self.push(
            "PermissionSetAssignment",
            json!({"Id": id, "AssigneeId": assignee, "PermissionSetId": ps,
                   "PermissionSet": {"Name": format!("X{}", ps), "Label": "Aggregate", "NamespacePrefix": null, "IsOwnedByProfile": false, "Type": "Group"},
                   "PermissionSetGroupId": group, "ExpirationDate": null}),
        );
    }

    fn license(&mut self, key: &str, ns: &str) {
        let (id, pl) = (self.next("051"), self.next("050"));
        let user = self.id(key);
        self.push(
            "UserPackageLicense",
            json!({"Id": id, "UserId": user, "PackageLicenseId": pl, "PackageLicense": {"NamespacePrefix": ns}}),
        );
    }
}

/// The org, and the user Ids by key.
fn rules_org() -> (Org, BTreeMap<&'static str, String>) {
    let mut b = Builder::default();
    b.push("Organization", json!({"Id": sf_id("00D", 1), "Name": "Rules Test", "InstanceName": "SIM1", "IsSandbox": true, "OrganizationType": "Developer Edition"}));

    // Inactivity: strictly before T − 90 days.
    b.user(user("u1").login(Some(shift(INACTIVE_CUTOFF, -1))));
    b.user(user("u1old").login(Some("2020-02-29T12:00:00".into())));
    b.user(user("u1frozen").login(Some("2025-01-01T00:00:00".into())));
    b.freeze("u1frozen");
    b.user(user("u2at").login(Some(INACTIVE_CUTOFF.into())));
    b.user(user("u2after").login(Some(shift(INACTIVE_CUTOFF, 1))));
    b.user(user("u3"));
    b.user(user("u4").inactive().login(Some("2020-01-01T00:00:00".into())));
    // Never logged in: grace when created at or after T − 14 days.
    b.user(user("u5").login(None).created(GRACE_CUTOFF.into()));
    b.user(user("u6").login(None).created(shift(GRACE_CUTOFF, -1)));
    b.user(user("u7").login(None).created(shift(GRACE_CUTOFF, 1)));
    b.user(user("u8").inactive().login(None));
    // Outside the population, whatever they hold.
    b.user(user("u9").kind("PowerPartner").login(None));
    b.user(user("u10").kind("CspLitePortal").inactive());
    b.assign("u10", Some("pse"), "PSACreateProjects", "PSA - Create Projects", false);
    for (key, t) in [
        ("u11a", "AutomatedProcess"),
        ("u11b", "Guest"),
        ("u11c", "CsnOnly"),
        ("u11d", "PowerCustomerSuccess"),
        ("u11e", "CustomerSuccess"),
        ("u11f", "SelfService"),
    ] {
        b.user(user(key).kind(t).login(Some("2019-01-01T00:00:00".into())));
    }
    b.license("u11d", "pse");
    b.assign("u11f", Some("c2g"), "Accounting", "Accounting", false);

    // Certinia access retained: deactivated users, by every path.
    let neutral = b.group(
        "Project_Delivery",
        "Project Delivery",
        &[(Some("c2g"), "AccountingSave", "Accounting - Save", false), (None, "Reports", "Reports", false)],
    );
    let named = b.group("PSAResources", "Certinia - PSA - Resource", &[(None, "Reports2", "Reports", false)]);
    let profile_component =
        b.group("Ops_Bundle", "Ops Bundle", &[(Some("pse"), "ProfileThing", "Profile Thing", true)]);
    let plain = b.group("Sales_Bundle", "Sales Bundle", &[(None, "Sales", "Sales Cloud User", false)]);
    for key in ["r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "r12b", "r13"] {
        b.user(user(key).inactive());
    }
    b.assign("r1", Some("pse"), "PSACreateProjects", "Create Projects", false);
    b.assign("r2", None, "PSA_Timecard_Entry", "Timecard Entry", false);
    b.assign("r3", None, "FF_Full", "FF-PSA Full User", false);
    b.assign_group("r4", &neutral);
    b.assign("r5", Some("pse"), "PSA User", "PSA User", true);
    b.assign("r6", None, "Capsacorp", "Staffa", false);
    b.assign("r6", None, "PSACreateProjects", "CreateProjects", false);
    b.license("r7", "pse");
    b.license("r8", "sbqq");
    b.assign_group("r9", &named);
    b.assign_group("r10", &profile_component);
    b.assign("r11", Some("SCMC"), "Inventory", "Inventory", false);
    b.assign("r12", Some("ffps"), "Thing", "Thing", false);
    b.assign("r12b", Some("ffps_po"), "PurchaseOrders", "Purchase Orders", false);
    b.assign_group("r13", &plain);

    // Certinia access lacking: expected by licence or roster, no grant.
    for key in ["l1", "l2", "l6", "l7", "l9", "g1"] {
        b.user(user(key));
    }
    b.user(U { federation: Some("fed-l3"), ..user("l3") });
    b.user(user("l4"));
    b.user(U { email: Some("SHARED@example.com".into()), ..user("l5a") });
    b.user(U { email: Some("shared@EXAMPLE.com".into()), ..user("l5b") });
    b.user(U { federation: Some("FED-L2"), ..user("l2x") });
    b.user(user("l8").inactive());
    b.license("l1", "pse");
    b.license("l2", "pse");
    b.assign("l2", Some("pse"), "PSACreateProjects", "Create Projects", false);
    b.assign_group("l6", &neutral);
    b.license("l7", "c2g");
    b.assign("l7", Some("pse"), "PSA Profile", "PSA Profile", true);
    b.license("l8", "ffrr");
    b.license("l9", "fferpcore");
    b.freeze("l9");
    b.assign("g1", Some("c2g"), "Accounting", "Accounting", false);
    b.assign("l2x", Some("pse"), "PSACreateProjects", "Create Projects", false);

    let org = Org::from_objects(b.objects).expect("a valid org");
    (org, b.ids)
}

fn roster(ids: &BTreeMap<&'static str, String>) -> String {
    let _ = ids;
    [
        "federation_id,username,email",
        "FED-L3,,",                                  // federation id, mixed case
        ",L4@Example.COM,",                          // username, mixed case
        ",,Shared@Example.com",                      // an email shared by two users: both
        "nomatch,L6@example.com,",                   // federation finds nobody: username decides
        "FED-X,ghost@example.com,ghost@example.com", // nobody: not provisioned
        ",r1@example.com,",                          // deactivated: not provisioned
        ",u9@example.com,",                          // outside the population: not provisioned
        "fed-l2,g1@example.com,",                    // federation (l2x) decides; g1 stays unexpected
    ]
    .join("\n")
        + "\n"
}

/// Runs `access-audit run` against the org and returns each report's Id set by CSV.
fn run(with_roster: bool) -> (BTreeMap<String, BTreeSet<String>>, BTreeMap<&'static str, String>, tempfile::TempDir) {
    let (org, ids) = rules_org();
    let sim = sim(org);
    let work = tempfile::tempdir().unwrap();
    let mut cmd = bin(work.path());
    cmd.args(["run", "--out", "out", "--as-of", AS_OF, "--instance-url", &sim.base_url()])
        .env("SF_ACCESS_TOKEN", ACCESS_TOKEN);
    if with_roster {
        std::fs::write(work.path().join("roster.csv"), roster(&ids)).unwrap();
        cmd.args(["--roster", "roster.csv"]);
    }
    let output = cmd.output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let mut reports = BTreeMap::new();
    for entry in std::fs::read_dir(work.path().join("out")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "csv") {
            reports.insert(path.file_stem().unwrap().to_string_lossy().into_owned(), csv_column(&path, 0));
        }
    }
    (reports, ids, work)
}

/// The values of one CSV column (by index) as a set.
fn csv_column(path: &Path, index: usize) -> BTreeSet<String> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    reader.records().map(|r| r.unwrap().get(index).unwrap().to_string()).collect()
}

fn set(ids: &BTreeMap<&'static str, String>, keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|k| ids.get(k).unwrap_or_else(|| panic!("no user {k}")).clone()).collect()
}

fn names(ids: &BTreeMap<&'static str, String>, got: &BTreeSet<String>) -> Vec<String> {
    let by_id: BTreeMap<&String, &&str> = ids.iter().map(|(k, v)| (v, k)).collect();
    got.iter().map(|id| by_id.get(id).map(|k| k.to_string()).unwrap_or_else(|| id.clone())).collect()
}

fn assert_report(
    reports: &BTreeMap<String, BTreeSet<String>>,
    ids: &BTreeMap<&'static str, String>,
    slug: &str,
    keys: &[&str],
) {
    let got = reports.get(slug).unwrap_or_else(|| panic!("no {slug}.csv"));
    assert_eq!(names(ids, got), names(ids, &set(ids, keys)), "{slug}");
}

const AUDITED: &[&str] = &[
    "u1", "u1old", "u1frozen", "u2at", "u2after", "u3", "u4", "u5", "u6", "u7", "u8", "r1", "r2", "r3", "r4", "r5",
    "r6", "r7", "r8", "r9", "r10", "r11", "r12", "r12b", "r13", "l1", "l2", "l6", "l7", "l9", "g1", "l3", "l4", "l5a",
    "l5b", "l2x", "l8",
];

#[test]
fn every_report_holds_exactly_the_users_its_rule_names() {
    let (reports, ids, _work) = run(false);
    assert_report(&reports, &ids, "inactive-users", &["u1", "u1old", "u1frozen"]);
    assert_report(&reports, &ids, "never-logged-in", &["u5", "u6", "u7"]);
    assert_report(
        &reports,
        &ids,
        "certinia-access-retained",
        &["r1", "r2", "r3", "r4", "r7", "r9", "r11", "r12b", "l8"],
    );
    assert_report(&reports, &ids, "certinia-access-lacking", &["l1", "l7", "l9"]);
    assert_report(&reports, &ids, "access-matrix", AUDITED);
    assert!(!reports.contains_key("not-provisioned") && !reports.contains_key("unexpected-access"));
}

#[test]
fn the_roster_adds_expected_users_and_its_two_lists() {
    let (reports, ids, work) = run(true);
    assert_report(&reports, &ids, "certinia-access-lacking", &["l1", "l7", "l9", "l3", "l4", "l5a", "l5b"]);
    assert_report(&reports, &ids, "unexpected-access", &["g1", "l2"]);
    // Not provisioned lists roster entries by line: ghost (6), the deactivated r1 (7), the portal user u9 (8).
    let lines = csv_column(&work.path().join("out/not-provisioned.csv"), 0);
    assert_eq!(lines, ["6", "7", "8"].iter().map(|s| s.to_string()).collect());
    // Unchanged by the roster.
    assert_report(&reports, &ids, "inactive-users", &["u1", "u1old", "u1frozen"]);
    assert_report(
        &reports,
        &ids,
        "certinia-access-retained",
        &["r1", "r2", "r3", "r4", "r7", "r9", "r11", "r12b", "l8"],
    );
}

#[test]
fn rows_carry_grace_frozen_days_and_what_grants_access() {
    let (_reports, ids, work) = run(true);
    let rows = |slug: &str| -> BTreeMap<String, BTreeMap<String, String>> {
        let mut reader = csv::Reader::from_path(work.path().join(format!("out/{slug}.csv"))).unwrap();
        let headers = reader.headers().unwrap().clone();
        reader
            .records()
            .map(|r| {
                let r = r.unwrap();
                let row: BTreeMap<String, String> =
                    headers.iter().zip(r.iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect();
                (row["Id"].clone(), row)
            })
            .collect()
    };
    let never = rows("never-logged-in");
    assert_eq!(never[&ids["u5"]]["InGracePeriod"], "true");
    assert_eq!(never[&ids["u6"]]["InGracePeriod"], "false");
    assert_eq!(never[&ids["u7"]]["InGracePeriod"], "true");
    let inactive = rows("inactive-users");
    assert_eq!(inactive[&ids["u1"]]["DaysSinceLogin"], "90");
    assert_eq!(inactive[&ids["u1"]]["LastLoginDate"], "2026-07-02T23:59:59Z");
    assert_eq!(inactive[&ids["u1frozen"]]["Status"], "Frozen");
    assert_eq!(inactive[&ids["u1frozen"]]["IsFrozen"], "true");
    assert_eq!(inactive[&ids["u1frozen"]]["IsActive"], "true");
    let retained = rows("certinia-access-retained");
    assert_eq!(retained[&ids["r4"]]["CertiniaPermissionSetGroups"], "Project Delivery [Project_Delivery]");
    assert_eq!(retained[&ids["r1"]]["CertiniaPermissionSets"], "Create Projects [pse__PSACreateProjects]");
    assert_eq!(retained[&ids["r7"]]["CertiniaLicenses"], "pse");
    assert_eq!(retained[&ids["r7"]]["CertiniaAccess"], "false", "a seat is not a permission");
    assert_eq!(retained[&ids["r1"]]["Status"], "Deactivated");
    let lacking = rows("certinia-access-lacking");
    assert_eq!(lacking[&ids["l1"]]["ExpectedBy"], "licence");
    assert_eq!(lacking[&ids["l3"]]["ExpectedBy"], "roster");
    assert_eq!(lacking[&ids["l9"]]["Status"], "Frozen");
    let matrix = rows("access-matrix");
    assert_eq!(matrix[&ids["u3"]]["CertiniaAccess"], "false", "users without grants stay in the matrix");
    assert_eq!(matrix[&ids["l7"]]["CertiniaPermissionSets"], "", "profile-owned sets never count");
}

#[test]
fn population_can_be_widened() {
    let (org, ids) = rules_org();
    let sim = sim(org);
    let work = tempfile::tempdir().unwrap();
    bin(work.path())
        .args(["run", "--out", "out", "--as-of", AS_OF, "--instance-url", &sim.base_url()])
        .args(["--user-types", "Standard,PowerPartner,CspLitePortal"])
        .env("SF_ACCESS_TOKEN", ACCESS_TOKEN)
        .assert()
        .success();
    let never = csv_column(&work.path().join("out/never-logged-in.csv"), 0);
    assert!(never.contains(&ids["u9"]));
    let retained = csv_column(&work.path().join("out/certinia-access-retained.csv"), 0);
    assert!(retained.contains(&ids["u10"]));
}
