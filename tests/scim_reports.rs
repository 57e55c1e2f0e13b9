//! The applications' reports through the real binary: a hand-built org and a hand-built
//! application in which every rule of REPORTS.md's "Other applications over SCIM 2.0" has its
//! cases, read from a SCIM simulator in each mode; the exact set of accounts in every report,
//! worked out by hand from the rules (each expectation says which rule puts the account there).
//!
//! The org (UserType Standard unless said; every user has a recent login):
//!
//! | user | state | FederationIdentifier | Username | Email |
//! |---|---|---|---|---|
//! | ana | active | E-ANA | ana@acme.example | ana@acme.example |
//! | bo | deactivated | E-BO | bo@acme.example | bo@acme.example |
//! | cy | active, frozen | | cy@acme.example | cy@acme.example |
//! | dee | active, PowerPartner (outside the population) | | dee@partner.example | dee@partner.example |
//! | eve | active | | eve@acme.example | shared@acme.example |
//! | fay | deactivated | | fay@acme.example | shared@acme.example |
//! | gus | active | E-GUS | gus@acme.example | gus@acme.example |
//! | hal | deactivated | E-HAL | hal@acme.example | hal@acme.example |
//! | ivy | active | | ivy@acme.example | Ivy.Lee@Acme.example |
//! | jo | active | | jo@acme.example | jo@acme.example |
//!
//! The application (Stensul: groups are roles; `groups` only on the roles in Stensul mode):
//!
//! | account | active | externalId | userName | emails | roles |
//! |---|---|---|---|---|---|
//! | st-ana | yes | e-ana | ana.stensul | | Admin |
//! | st-bo | yes | E-BO | bo.stensul | | |
//! | st-cy | yes | | CY@ACME.EXAMPLE | | |
//! | st-dee | yes | | dee.partner@stensul.example | DEE@partner.example | Viewer |
//! | st-zed | yes | | zed@contractor.example | zed@contractor.example | Editor |
//! | st-shared | yes | | someone@stensul.example | Shared@Acme.example | Viewer |
//! | st-hal | yes | E-HAL | gus@acme.example | | |
//! | st-ivy | yes | | ivy-stensul | ivy.lee@acme.EXAMPLE | Editor |
//! | st-jo | no | | jo@acme.example | | Admin |
//! | st-off | no | | off@stensul.example | | |
//! | st-gus | yes | | gus@acme.example | gus@acme.example | Editor |
//! | st-deleted | yes, soft-deleted | | deleted@stensul.example | | Admin |
//!
//! The roster: `E-ANA` (federation_id), `dee.partner@stensul.example` (username),
//! `ivy.lee@ACME.example` and `GUS@acme.example` (email).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Map, Value, json};
use sf_sim::Org;
use sf_sim::generate::sf_id;
use sf_sim::scim::{ScimGroup, ScimMode, ScimUser};

use crate::common::*;

const AS_OF: &str = "2026-10-01T00:00:00Z";
const SECRET_ENV: &str = "ACCESS_AUDIT_APP_STENSUL_SECRET";

/// (key, active, user type, frozen, federation id, email)
type Person = (&'static str, bool, &'static str, bool, Option<&'static str>, &'static str);

const PEOPLE: &[Person] = &[
    ("ana", true, "Standard", false, Some("E-ANA"), "ana@acme.example"),
    ("bo", false, "Standard", false, Some("E-BO"), "bo@acme.example"),
    ("cy", true, "Standard", true, None, "cy@acme.example"),
    ("dee", true, "PowerPartner", false, None, "dee@partner.example"),
    ("eve", true, "Standard", false, None, "shared@acme.example"),
    ("fay", false, "Standard", false, None, "shared@acme.example"),
    ("gus", true, "Standard", false, Some("E-GUS"), "gus@acme.example"),
    ("hal", false, "Standard", false, Some("E-HAL"), "hal@acme.example"),
    ("ivy", true, "Standard", false, None, "Ivy.Lee@Acme.example"),
    ("jo", true, "Standard", false, None, "jo@acme.example"),
];

/// The User Id of a person of [`PEOPLE`].
fn uid(key: &str) -> String {
    sf_id("005", 1 + PEOPLE.iter().position(|p| p.0 == key).unwrap_or_else(|| panic!("no {key}")) as u64)
}

fn record(v: Value) -> Map<String, Value> {
    let Value::Object(m) = v else { unreachable!() };
    m
}

/// A permission set assignment: (assignee, permission set number, namespace, name, label, owned, group).
type Assignment<'a> = (&'a str, u64, Option<&'a str>, &'a str, &'a str, bool, Option<u64>);

fn org(assignments: &[Assignment<'_>]) -> Org {
    let mut users = Vec::new();
    let mut logins = Vec::new();
    for (n, (key, active, user_type, frozen, federation, email)) in PEOPLE.iter().enumerate() {
        let id = uid(key);
        users.push(record(json!({
            "Id": id, "Username": format!("{key}@acme.example"), "Name": format!("User {key}"),
            "Email": email, "IsActive": active, "UserType": user_type,
            "ProfileId": sf_id("00e", 1), "Profile": {"Name": "Standard User", "UserLicense": {"Name": "Salesforce"}},
            "UserRole": null, "Department": "Finance", "Title": null, "FederationIdentifier": federation,
            "CreatedDate": "2024-01-01T00:00:00.000+0000", "LastLoginDate": "2026-09-28T00:00:00.000+0000",
        })));
        logins.push(record(json!({"Id": sf_id("060", n as u64 + 1), "UserId": id, "IsFrozen": frozen})));
    }
    let mut psas = Vec::new();
    let mut components = Vec::new();
    let mut groups = Vec::new();
    for (n, (who, ps, ns, name, label, owned, group)) in assignments.iter().enumerate() {
        let set = json!({"Name": name, "Label": label, "NamespacePrefix": ns, "IsOwnedByProfile": owned,
                         "Type": if *owned { "Profile" } else { "Regular" }});
        psas.push(record(json!({
            "Id": sf_id("0Pa", n as u64 + 1), "AssigneeId": uid(who), "PermissionSetId": sf_id("0PS", *ps),
            "PermissionSet": set, "PermissionSetGroupId": group.map(|g| sf_id("0PG", g)), "ExpirationDate": null,
        })));
        if let Some(g) = group {
            groups.push(record(json!({"Id": sf_id("0PG", *g), "DeveloperName": "Bundle", "MasterLabel": "Bundle", "NamespacePrefix": null})));
            components.push(record(json!({"Id": sf_id("0PC", n as u64 + 1), "PermissionSetGroupId": sf_id("0PG", *g),
                "PermissionSetId": sf_id("0PS", *ps), "PermissionSet": {"Name": name, "Label": label, "NamespacePrefix": ns, "IsOwnedByProfile": owned}})));
        }
    }
    Org::from_objects(BTreeMap::from([
        ("User".to_string(), users),
        ("UserLogin".to_string(), logins),
        ("PermissionSetAssignment".to_string(), psas),
        ("PermissionSetGroup".to_string(), groups),
        ("PermissionSetGroupComponent".to_string(), components),
        ("UserPackageLicense".to_string(), Vec::new()),
    ]))
    .unwrap()
}

fn account(id: &str, active: bool, external: Option<&str>, user_name: &str, emails: &[&str]) -> ScimUser {
    let mut u = ScimUser::new(id, user_name);
    u.active = active;
    u.external_id = external.map(str::to_string);
    u.emails = emails.iter().map(|e| e.to_string()).collect();
    u
}

fn application() -> (Vec<ScimUser>, Vec<ScimGroup>) {
    let mut deleted = account("st-deleted", true, None, "deleted@stensul.example", &[]);
    deleted.deleted = true;
    let accounts = vec![
        account("st-ana", true, Some("e-ana"), "ana.stensul", &[]),
        account("st-bo", true, Some("E-BO"), "bo.stensul", &[]),
        account("st-cy", true, None, "CY@ACME.EXAMPLE", &[]),
        account("st-dee", true, None, "dee.partner@stensul.example", &["DEE@partner.example"]),
        account("st-zed", true, None, "zed@contractor.example", &["zed@contractor.example"]),
        account("st-shared", true, None, "someone@stensul.example", &["Shared@Acme.example"]),
        account("st-hal", true, Some("E-HAL"), "gus@acme.example", &[]),
        account("st-ivy", true, None, "ivy-stensul", &["ivy.lee@acme.EXAMPLE"]),
        account("st-jo", false, None, "jo@acme.example", &[]),
        account("st-off", false, None, "off@stensul.example", &[]),
        account("st-gus", true, None, "gus@acme.example", &["gus@acme.example"]),
        deleted,
    ];
    let role = |id: &str, name: &str, members: &[&str]| ScimGroup {
        id: id.into(),
        display_name: name.into(),
        members: members.iter().map(|m| m.to_string()).collect(),
    };
    let roles = vec![
        role("r-admin", "Admin", &["st-ana", "st-jo", "st-deleted"]),
        role("r-editor", "Editor", &["st-zed", "st-ivy", "st-gus"]),
        role("r-viewer", "Viewer", &["st-dee", "st-shared"]),
    ];
    (accounts, roles)
}

const ROSTER: &str = "federation_id,username,email\nE-ANA,,\n,dee.partner@stensul.example,\n,,ivy.lee@ACME.example\n,,GUS@acme.example\n";

/// `run --app stensul` of the org against the application in `mode`, with or without the roster.
fn audit(mode: ScimMode, roster: bool) -> (tempfile::TempDir, std::process::Output) {
    let sim = sim(org(&[]));
    let (accounts, roles) = application();
    let scim = scim_sim(mode, accounts, roles, |_| {});
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("roster.csv"), ROSTER).unwrap();
    let mut cmd = run_apps(work.path(), &sim, &app_table("stensul", "stensul", &scim), "out", AS_OF);
    cmd.args(["--app", "stensul"]).env(SECRET_ENV, APP_CLIENT_SECRET);
    if roster {
        cmd.args(["--roster", "roster.csv"]);
    }
    let output = cmd.output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    (work, output)
}

/// A report's rows by AccountId (its first column).
fn rows(dir: &Path, file: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    csv_rows(&dir.join(file))
}

fn keys(rows: &BTreeMap<String, BTreeMap<String, String>>) -> BTreeSet<&str> {
    rows.keys().map(String::as_str).collect()
}

fn set<'a>(items: &[&'a str]) -> BTreeSet<&'a str> {
    items.iter().copied().collect()
}

#[test]
fn every_app_report_holds_exactly_the_accounts_its_rule_names() {
    let (work, _) = audit(ScimMode::Stensul, true);
    let out = work.path().join("out");

    // App orphans: active accounts whose matches hold no active, unfrozen, audited user.
    let orphans = rows(&out, "stensul-app-orphans.csv");
    let expected: BTreeMap<&str, (&str, &str, String)> = BTreeMap::from([
        // externalId E-BO finds bo, deactivated.
        ("st-bo", ("deactivated in Salesforce", "externalId", uid("bo"))),
        // No externalId; userName in upper case finds cy by Username: active but frozen.
        ("st-cy", ("frozen in Salesforce", "userName", uid("cy"))),
        // No externalId, no such Username; the email in mixed case finds dee, a PowerPartner.
        ("st-dee", ("outside the audited population", "emails", uid("dee"))),
        // Nothing finds anybody.
        ("st-zed", ("no Salesforce user", "", String::new())),
        // externalId E-HAL finds hal (deactivated) and decides, although its userName is gus's.
        ("st-hal", ("deactivated in Salesforce", "externalId", uid("hal"))),
    ]);
    assert_eq!(keys(&orphans), expected.keys().copied().collect::<BTreeSet<_>>());
    for (account, (reason, key, id)) in &expected {
        let row = &orphans[*account];
        assert_eq!((row["Reason"].as_str(), row["MatchedBy"].as_str(), &row["Id"]), (*reason, *key, id), "{account}");
        assert_eq!(row["Active"], "true");
    }
    // Not orphans: st-ana (e-ana finds ana by externalId, any case), st-shared (its email is
    // shared by eve, active, and fay, deactivated: one good match is enough), st-ivy (mixed-case
    // email finds ivy), st-gus (empty externalId skipped, userName finds gus), and the disabled
    // st-jo and st-off. The soft-deleted account is not seen at all.

    // App access retained: disabled accounts still in a role.
    let retained = rows(&out, "stensul-app-access-retained.csv");
    assert_eq!(keys(&retained), set(&["st-jo"]), "st-off is disabled but in no role");
    assert_eq!(retained["st-jo"]["Groups"], "Admin");
    assert_eq!(
        (retained["st-jo"]["Id"].as_str(), retained["st-jo"]["IsActive"].as_str()),
        (uid("jo").as_str(), "true")
    );

    // App unexpected access: active, in a role, on no roster entry by any key.
    let unexpected = rows(&out, "stensul-app-unexpected-access.csv");
    // st-ana is on by federation_id (E-ANA = e-ana), st-dee by username, st-ivy and st-gus by
    // email (any case); st-zed and st-shared are on no entry.
    assert_eq!(keys(&unexpected), set(&["st-shared", "st-zed"]));
    assert_eq!(unexpected["st-shared"]["Id"], format!("{}; {}", uid("eve"), uid("fay")), "a shared email matches both");
    assert_eq!(unexpected["st-shared"]["IsActive"], "true; false");

    // App access matrix: every account the application shows, with its match and the key.
    let matrix = rows(&out, "stensul-app-access-matrix.csv");
    let expected: BTreeMap<&str, (&str, String, &str)> = BTreeMap::from([
        ("st-ana", ("externalId", uid("ana"), "Admin")),
        ("st-bo", ("externalId", uid("bo"), "")),
        ("st-cy", ("userName", uid("cy"), "")),
        ("st-dee", ("emails", uid("dee"), "Viewer")),
        ("st-zed", ("", String::new(), "Editor")),
        ("st-shared", ("emails", format!("{}; {}", uid("eve"), uid("fay")), "Viewer")),
        ("st-hal", ("externalId", uid("hal"), "")),
        ("st-ivy", ("emails", uid("ivy"), "Editor")),
        ("st-jo", ("userName", uid("jo"), "Admin")),
        ("st-off", ("", String::new(), "")),
        ("st-gus", ("userName", uid("gus"), "Editor")),
    ]);
    assert_eq!(
        keys(&matrix),
        expected.keys().copied().collect::<BTreeSet<_>>(),
        "the soft-deleted account is not seen"
    );
    for (account, (key, id, groups)) in &expected {
        let row = &matrix[*account];
        assert_eq!((row["MatchedBy"].as_str(), &row["Id"], row["Groups"].as_str()), (*key, id, *groups), "{account}");
    }
    assert_eq!(matrix["st-jo"]["Active"], "false");
    // The org's own reports are unchanged by the application.
    assert!(out.join("access-matrix.csv").is_file() && !out.join("scim-crosscheck.csv").exists());
}

#[test]
fn without_a_roster_there_is_no_unexpected_access_report() {
    let (work, _) = audit(ScimMode::Stensul, false);
    let out = work.path().join("out");
    assert!(!out.join("stensul-app-unexpected-access.csv").exists());
    assert_eq!(keys(&rows(&out, "stensul-app-orphans.csv")).len(), 5);
    let summary: Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let app = &summary["apps"][0];
    assert_eq!(app["reports"], json!({"app-orphans": 5, "app-access-retained": 1, "app-access-matrix": 11}));
    assert_eq!(app["findings"], 6);
    assert_eq!((app["accounts"].as_u64(), app["groups"].as_u64()), (Some(11), Some(3)));
    assert!(app["notes"][0].as_str().unwrap().contains("soft-deleted"), "{app}");
    assert!(summary["notes"]["run"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().contains("soft-deleted")));
}

#[test]
fn a_generic_provider_whose_users_carry_their_groups_gives_the_same_reports() {
    let (stensul, _) = audit(ScimMode::Stensul, true);
    let (generic, _) = audit(ScimMode::Generic, true);
    let users = std::fs::read_to_string(generic.path().join("out/snapshot/apps/stensul/Users.ndjson")).unwrap();
    assert!(users.contains("\"groups\":[{"), "the generic provider's users list their groups");
    for report in ["app-orphans", "app-access-retained", "app-unexpected-access", "app-access-matrix"] {
        let file = format!("stensul-{report}.csv");
        assert_eq!(
            std::fs::read(stensul.path().join("out").join(&file)).unwrap(),
            std::fs::read(generic.path().join("out").join(&file)).unwrap(),
            "{file}"
        );
    }
}

#[test]
fn the_html_report_the_digest_and_fail_on_findings_carry_the_applications() {
    let (work, output) = audit(ScimMode::Stensul, true);
    let out = work.path().join("out");
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    for anchor in ["id=\"app-stensul\"", "id=\"stensul-app-orphans\"", "id=\"stensul-app-unexpected-access\""] {
        assert!(page.contains(anchor), "{anchor}");
    }
    // The orphans section lists exactly its accounts.
    let section = &page[page.find("id=\"stensul-app-orphans\"").unwrap()..];
    let section = &section[..section.find("</section>").unwrap()];
    for account in ["st-bo", "st-cy", "st-dee", "st-zed", "st-hal"] {
        assert!(section.contains(account), "{account}");
    }
    for account in ["st-ana", "st-shared", "st-ivy", "st-gus", "st-jo", "st-off", "st-deleted"] {
        assert!(!section.contains(&format!(">{account}<")), "{account}");
    }
    let digest = std::fs::read_to_string(out.join("email.txt")).unwrap();
    assert!(digest.contains("== stensul: App orphans: 5 =="), "{digest}");
    assert!(digest.contains("== stensul: App unexpected access: 2 =="), "{digest}");
    assert!(digest.contains("no Salesforce user"), "{digest}");
    assert!(stderr_of(&output).contains("soft-deleted"), "the note is logged");
    // --fail-on-findings counts the application's findings with the org's.
    let sim = sim(org(&[]));
    let (accounts, roles) = application();
    let scim = scim_sim(ScimMode::Stensul, accounts, roles, |_| {});
    let output = run_apps(work.path(), &sim, &app_table("stensul", "stensul", &scim), "again", AS_OF)
        .args(["--app", "stensul", "--fail-on-findings", "--user-types", "Standard,PowerPartner"])
        .env(SECRET_ENV, APP_CLIENT_SECRET)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr_of(&output));
    let summary: Value =
        serde_json::from_slice(&std::fs::read(work.path().join("again/summary.json")).unwrap()).unwrap();
    let own: u64 = ["inactive-users", "never-logged-in", "certinia-access-retained", "certinia-access-lacking"]
        .iter()
        .map(|r| summary["reports"][r].as_u64().unwrap())
        .sum();
    // With PowerPartner audited, dee is in good standing: st-dee is no longer an orphan.
    assert_eq!(summary["apps"][0]["reports"]["app-orphans"], 4);
    assert_eq!(summary["findings"].as_u64().unwrap(), own + 4 + 1);
}

#[test]
fn the_salesforce_dialect_audits_the_orgs_own_users_as_an_application() {
    let sim = sim(org(&[]));
    let work = tempfile::tempdir().unwrap();
    let config = "[apps.salesforce]\nkind = \"scim\"\ndialect = \"salesforce\"\n";
    let output = run_apps(work.path(), &sim, config, "out", AS_OF).args(["--app", "salesforce"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let out = work.path().join("out");
    // Each SCIM user is matched to itself (externalId = FederationIdentifier, else userName =
    // Username): the active ones that are not in good standing are cy (frozen) and dee (outside).
    let orphans = rows(&out, "salesforce-app-orphans.csv");
    assert_eq!(keys(&orphans), set(&[uid("cy").as_str(), uid("dee").as_str()]));
    assert_eq!(orphans[&uid("cy")]["Reason"], "frozen in Salesforce");
    assert_eq!(orphans[&uid("dee")]["Reason"], "outside the audited population");
    assert_eq!(orphans[&uid("cy")]["MatchedBy"], "userName");
    assert!(rows(&out, "salesforce-app-access-retained.csv").is_empty(), "the org has no public groups");
    assert_eq!(rows(&out, "salesforce-app-access-matrix.csv").len(), PEOPLE.len());
    // No assignment differs: the cross-check is empty, and present.
    let crosscheck = std::fs::read_to_string(out.join("scim-crosscheck.csv")).unwrap();
    assert_eq!(crosscheck.lines().count(), 1, "{crosscheck}");
}

#[test]
fn the_crosscheck_lists_users_whose_scim_entitlements_and_soql_assignments_differ() {
    let psa: &[Assignment<'_>] = &[
        // ana: a Certinia set both APIs show.
        ("ana", 1, Some("pse"), "Resource", "PSA Resource", false, None),
        // eve: a Certinia set SCIM will hide.
        ("eve", 2, Some("c2g"), "Accountant", "FFA Accountant", false, None),
        // bo (deactivated): a Certinia set both show; SCIM will call bo active.
        ("bo", 1, Some("pse"), "Resource", "PSA Resource", false, None),
        // cy: a profile-owned set named like Certinia (never Certinia), and a non-Certinia set.
        ("cy", 3, None, "PSA_Profile_Owned", "PSA profile", true, None),
        ("cy", 4, None, "Sales_Ops", "Sales Ops", false, None),
        // jo: a Certinia set through a permission set group (not a direct assignment).
        ("jo", 5, Some("ffrr"), "Revenue", "Revenue Manager", false, Some(1)),
        // hal (deactivated): FFA Admin, so that SOQL knows that set.
        ("hal", 6, None, "FFA_Admin", "FFA Admin", false, None),
    ];
    let sim = sim(org(psa));
    sim.with_state(|st| {
        let drift = &mut st.scim_drift;
        drift.active.insert(uid("bo"), true);
        drift.hidden_entitlements.insert(uid("eve"), vec![sf_id("0PS", 2)]);
        // gus: SCIM shows FFA Admin, which SOQL has on hal only.
        drift.extra_entitlements.insert(uid("gus"), vec![(sf_id("0PS", 6), "FFA Admin".into())]);
        // ivy: a set SOQL does not know, Certinia by its name.
        drift.extra_entitlements.insert(uid("ivy"), vec![(sf_id("0PS", 90), "Certinia Billing Viewer".into())]);
        // ana: a set SOQL does not know, not Certinia by its name.
        drift.extra_entitlements.insert(uid("ana"), vec![(sf_id("0PS", 91), "Marketing User".into())]);
        // dee is outside the population: a difference there is no one's finding.
        drift.active.insert(uid("dee"), false);
    });
    let work = tempfile::tempdir().unwrap();
    let config = "[apps.salesforce]\nkind = \"scim\"\ndialect = \"salesforce\"\n";
    let output = run_apps(work.path(), &sim, config, "out", AS_OF).args(["--all-apps"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let out = work.path().join("out");
    let cross = csv_rows(&out.join("scim-crosscheck.csv"));
    let expected: BTreeMap<String, (&str, &str, &str, &str)> = BTreeMap::from([
        (uid("bo"), ("active", "false", "true", "")),
        (uid("eve"), ("permission sets", "true", "true", "FFA Accountant [c2g__Accountant]")),
        (uid("gus"), ("permission sets", "true", "true", "")),
        (uid("ivy"), ("permission sets", "true", "true", "")),
    ]);
    assert_eq!(cross.keys().collect::<BTreeSet<_>>(), expected.keys().collect::<BTreeSet<_>>());
    for (id, (differences, soql, scim, only_soql)) in &expected {
        let row = &cross[id];
        assert_eq!(row["Differences"], *differences, "{id}");
        assert_eq!((row["IsActive"].as_str(), row["ScimActive"].as_str()), (*soql, *scim), "{id}");
        assert_eq!(row["OnlyInSoql"], *only_soql, "{id}");
    }
    assert_eq!(cross[&uid("gus")]["OnlyInScim"], "FFA Admin [FFA_Admin]", "named as SOQL names the set");
    assert_eq!(cross[&uid("ivy")]["OnlyInScim"], "Certinia Billing Viewer", "unknown to SOQL: Certinia by its name");
    assert_eq!(cross[&uid("bo")]["SoqlCertiniaPermissionSets"], "PSA Resource [pse__Resource]");
    assert_eq!(cross[&uid("bo")]["ScimCertiniaPermissionSets"], "PSA Resource [pse__Resource]");
    let summary: Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["apps"][0]["scim_crosscheck"], 4);
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(page.contains("id=\"scim-crosscheck\""));
    let digest = std::fs::read_to_string(out.join("email.txt")).unwrap();
    assert!(digest.contains("== SCIM cross-check: 4 =="), "{digest}");
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(out.join("access-review.xlsx")).unwrap();
    let (header, rows) = sheet(&mut book, "SCIM cross-check");
    let reviewer = access_audit::render::xlsx::REVIEW_COLUMNS;
    assert_eq!(&header[header.len() - reviewer.len()..], reviewer);
    assert_eq!(rows.keys().collect::<BTreeSet<_>>(), expected.keys().collect::<BTreeSet<_>>());
}

/// A sheet's header and its rows, each as header → text, by their first column.
fn sheet(
    book: &mut calamine::Xlsx<std::io::BufReader<std::fs::File>>,
    name: &str,
) -> (Vec<String>, BTreeMap<String, BTreeMap<String, String>>) {
    use calamine::Reader;
    let range = book.worksheet_range(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut rows = range.rows();
    let header: Vec<String> = rows.next().unwrap().iter().map(|c| c.to_string()).collect();
    let body = rows
        .filter(|r| !r[0].to_string().is_empty())
        .map(|r| {
            let row: BTreeMap<String, String> = header.iter().cloned().zip(r.iter().map(|c| c.to_string())).collect();
            (r[0].to_string(), row)
        })
        .collect();
    (header, body)
}

#[test]
fn the_workbook_has_a_sheet_per_application_report_with_its_decisions() {
    use calamine::Reader;
    let (work, _) = audit(ScimMode::Stensul, true);
    let path = work.path().join("out/access-review.xlsx");
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&path).unwrap();
    let names = book.sheet_names();
    let at = |n: &str| names.iter().position(|s| s == n).unwrap_or_else(|| panic!("{n}: {names:?}"));
    assert!(at("Access matrix") < at("stensul orphans") && at("stensul matrix") < at("Run"), "{names:?}");
    let (header, orphans) = sheet(&mut book, "stensul orphans");
    assert_eq!(header[0], "AccountId");
    // The same reviewer columns as the org's report sheets.
    let reviewer = access_audit::render::xlsx::REVIEW_COLUMNS;
    let (org_header, _) = sheet(&mut book, "Access matrix");
    assert_eq!(&header[header.len() - reviewer.len()..], reviewer);
    assert_eq!(&org_header[org_header.len() - reviewer.len()..], reviewer);
    assert_eq!(keys(&orphans), set(&["st-bo", "st-cy", "st-dee", "st-hal", "st-zed"]));
    assert_eq!(orphans["st-cy"]["Reason"], "frozen in Salesforce");
    assert_eq!(orphans["st-cy"]["Active"], "true", "a boolean cell");
    assert_eq!(keys(&sheet(&mut book, "stensul retained").1), set(&["st-jo"]));
    assert_eq!(keys(&sheet(&mut book, "stensul unexpected").1), set(&["st-shared", "st-zed"]));
    assert_eq!(sheet(&mut book, "stensul matrix").1.len(), 11);
    // The Summary sheet names each report with its rows.
    let summary = book.worksheet_range("Summary").unwrap();
    let line = summary.rows().find(|r| r[0] == "stensul: App orphans").expect("a Summary line");
    assert_eq!(line[1].to_string(), "5");
    // The drop-down offers the application's decisions.
    let sheet_number = at("stensul orphans") + 1;
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name(&format!("xl/worksheets/sheet{sheet_number}.xml")).unwrap(),
        &mut xml,
    )
    .unwrap();
    assert!(xml.contains("Disable account,Keep (justified),Investigate"), "the Decision drop-down");
    assert!(xml.contains(r#"ySplit="1""#), "a frozen header");
}

#[test]
fn review_of_a_folder_with_applications_reads_their_sheets_too() {
    let (work, _) = audit(ScimMode::Stensul, false);
    let output = bin(work.path()).args(["review", "out"]).output().unwrap();
    // The applications' files and sheets belong to the run (no exit 9, no changed evidence, exit
    // 4); the org has no finding to decide, but the application's findings are undecided (exit 8).
    assert_eq!(output.status.code(), Some(8), "{}", stderr_of(&output));
    let text = stdout_of(&output);
    assert!(text.contains("belongs to the run: yes"), "{text}");
    assert!(text.contains("complete: NO, 6 of 6 findings"), "{text}");
    assert!(text.contains("  sheet stensul orphans: 5\n") && text.contains("  sheet stensul retained: 1\n"), "{text}");
    assert!(work.path().join("out/review/decisions.csv").is_file());
}
