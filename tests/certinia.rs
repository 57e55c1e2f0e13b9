//! Certinia beyond permission sets (REPORTS.md, "Certinia beyond permission sets, and the seats it
//! costs"), through the real binary against the simulator: an org with PSA and Accounting where
//! each way a deactivated user can keep Certinia access is held alone by one user, with the
//! permission controls' end dates one day either side of the as-of date, and the users who must
//! stay out (active, outside the population, a non-Certinia licence, an inactive resource).
//!
//! Every expected set below is written from the rule, not from the tool's output.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};
use sf_sim::Org;

use crate::common::*;

/// The as-of instant: its UTC date, 2026-10-01, is what the end dates are compared with.
pub const AS_OF: &str = "2026-10-01T12:00:00Z";

fn id(key: &str) -> String {
    stable_id("005", key)
}

fn keys(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|k| id(k)).collect()
}

/// A permission set licence's Id.
pub fn psl_id(developer_name: &str) -> String {
    stable_id("0PL", developer_name)
}

/// A package licence's Id (the one [`OrgBuilder::licence`] points its assignments at).
pub fn package_id(ns: &str) -> String {
    stable_id("050", ns)
}

/// The org's licences and the Certinia records of user `key`.
pub trait Certinia {
    fn psl(&mut self, developer_name: &str, label: &str, total: i64, used: i64);
    fn package(&mut self, ns: &str, allowed: i64, used: i64);
    fn assign_psl(&mut self, key: &str, developer_name: &str);
    fn control(&mut self, key: &str, end: Option<&str>, region: Option<&str>);
    fn resource(&mut self, key: &str, is_resource: bool, active: bool);
    fn company(&mut self, key: &str, company: &str);
}

impl Certinia for OrgBuilder {
    fn psl(&mut self, developer_name: &str, label: &str, total: i64, used: i64) {
        self.record(
            "PermissionSetLicense",
            json!({"Id": psl_id(developer_name), "DeveloperName": developer_name, "MasterLabel": label,
                   "PermissionSetLicenseKey": developer_name, "Status": "Active",
                   "TotalLicenses": total, "UsedLicenses": used, "ExpirationDate": "2027-03-31"}),
        );
    }

    fn package(&mut self, ns: &str, allowed: i64, used: i64) {
        self.record(
            "PackageLicense",
            json!({"Id": package_id(ns), "NamespacePrefix": ns, "Status": "Active", "AllowedLicenses": allowed,
                   "UsedLicenses": used, "ExpirationDate": "2027-01-31T00:00:00.000+0000", "IsProvisioned": true}),
        );
    }

    fn assign_psl(&mut self, key: &str, developer_name: &str) {
        let user = self.id(key);
        self.record(
            "PermissionSetLicenseAssign",
            json!({"Id": stable_id("2LA", &format!("{key}/{developer_name}")), "AssigneeId": user,
                   "PermissionSetLicenseId": psl_id(developer_name)}),
        );
    }

    fn control(&mut self, key: &str, end: Option<&str>, region: Option<&str>) {
        let user = self.id(key);
        let region_id = region.map(|r| stable_id("a1R", r));
        self.record(
            "pse__Permission_Control__c",
            json!({"Id": stable_id("a1P", &format!("{key}/{end:?}/{region:?}")), "Name": format!("PC {key}"),
                   "pse__User__c": user, "pse__Region__c": region_id,
                   "pse__Region__r": region.map(|r| json!({"Name": r})),
                   "pse__Cascading_Permission__c": false, "pse__Start_Date__c": "2025-01-01",
                   "pse__End_Date__c": end}),
        );
    }

    fn resource(&mut self, key: &str, is_resource: bool, active: bool) {
        let user = self.id(key);
        self.record(
            "Contact",
            json!({"Id": stable_id("003", key), "Name": format!("Resource {key}"), "FirstName": "Resource",
                   "LastName": key, "Email": null, "pse__Salesforce_User__c": user,
                   "pse__Is_Resource__c": is_resource, "pse__Is_Resource_Active__c": active,
                   "pse__Start_Date__c": "2024-01-01"}),
        );
    }

    fn company(&mut self, key: &str, company: &str) {
        let user = self.id(key);
        self.record(
            "c2g__codaUserCompany__c",
            json!({"Id": stable_id("a2U", &format!("{key}/{company}")), "Name": format!("UC {key}"),
                   "c2g__User__c": user, "c2g__Company__c": stable_id("a2C", company),
                   "c2g__Company__r": {"Name": company}, "c2g__UseLocalAccount__c": false}),
        );
    }
}

/// The org with PSA and Accounting (also the Seats tests' org).
pub fn org() -> Org {
    let mut b = OrgBuilder::new("Certinia Test");
    b.package("pse", 10, 3);
    b.package("c2g", 5, 2); // one assignment pulled: UsedMismatch
    b.package("acme", -1, 0); // a site licence of another vendor, nobody assigned
    b.psl("PSA_User", "PSA User", 20, 5);
    b.psl("SalesConsoleUser", "Sales Console User", 50, 1);
    // A contact that is no user's resource: the pull asks only for the linked ones.
    b.record(
        "Contact",
        json!({"Id": stable_id("003", "customer"), "Name": "A Customer", "FirstName": "A",
                                "LastName": "Customer", "Email": "customer@example.org"}),
    );

    // Deactivated users, each holding one thing alone.
    for key in [
        "d_grant",
        "d_lic",
        "d_psl_cert",
        "d_psl_other",
        "d_ctl_yesterday",
        "d_ctl_today",
        "d_ctl_tomorrow",
        "d_ctl_none",
        "d_company",
        "d_res_active",
        "d_res_inactive",
        "d_res_not_resource",
        "d_nothing",
    ] {
        b.user(key, person().deactivated());
    }
    b.psa("d_grant");
    b.licence("d_lic", "pse");
    b.assign_psl("d_psl_cert", "PSA_User");
    b.assign_psl("d_psl_other", "SalesConsoleUser");
    b.control("d_ctl_yesterday", Some("2026-09-30"), Some("EMEA"));
    b.control("d_ctl_today", Some("2026-10-01"), Some("EMEA"));
    b.control("d_ctl_tomorrow", Some("2026-10-02"), None);
    b.control("d_ctl_none", None, Some("Americas"));
    b.control("d_ctl_none", Some("2026-09-30"), Some("EMEA")); // an ended one beside it: not counted
    b.company("d_company", "Acme UK Ltd");
    b.company("d_company", "Acme US Inc");
    b.resource("d_res_active", true, true);
    b.resource("d_res_inactive", true, false);
    b.resource("d_res_not_resource", false, true);

    // Active users holding everything new: never in the retained report, and none of it makes
    // access expected (only a Certinia package licence does).
    b.user("a_all", person());
    b.assign_psl("a_all", "PSA_User");
    b.control("a_all", None, Some("EMEA"));
    b.company("a_all", "Acme UK Ltd");
    b.resource("a_all", true, true);
    // Active holders whose seats could be reclaimed, or not.
    b.user("a_frozen", person());
    b.freeze("a_frozen");
    b.assign_psl("a_frozen", "PSA_User");
    b.user("a_inactive", person().login(Some("2026-06-01T00:00:00")));
    b.licence("a_inactive", "pse");
    b.psa("a_inactive");
    b.user("a_never", person().login(None).created("2025-01-01T00:00:00"));
    b.assign_psl("a_never", "PSA_User");
    b.user("a_grace", person().login(None).created("2026-09-25T00:00:00"));
    b.assign_psl("a_grace", "PSA_User");
    b.user("a_busy", person());
    b.licence("a_busy", "pse");
    b.licence("a_busy", "c2g");
    b.psa("a_busy");
    // Outside the population: a deactivated partner user with a company.
    b.user("portal_dead", person().deactivated().kind("PowerPartner"));
    b.company("portal_dead", "Acme UK Ltd");
    b.build()
}

fn ids(path: &Path) -> BTreeSet<String> {
    csv_rows(path).into_keys().collect()
}

#[test]
fn each_new_grant_alone_keeps_a_deactivated_user_in_the_retained_report_and_every_report_is_exact() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let output = run_org(w, org(), "out", AS_OF, &[]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let out = w.join("out");

    // Deactivated and audited, holding a Certinia grant, Certinia package licence, Certinia
    // permission set licence, a live permission control (end date on or after 2026-10-01, or
    // none), an Accounting user company, or the user of an active resource.
    assert_eq!(
        ids(&out.join("certinia-access-retained.csv")),
        keys(&[
            "d_grant",
            "d_lic",
            "d_psl_cert",
            "d_ctl_today",
            "d_ctl_tomorrow",
            "d_ctl_none",
            "d_company",
            "d_res_active",
        ])
    );
    // Active, last login before 2026-10-01 − 90 days.
    assert_eq!(ids(&out.join("inactive-users.csv")), keys(&["a_inactive"]));
    // Active, never logged in (a_grace listed, in its grace period).
    assert_eq!(ids(&out.join("never-logged-in.csv")), keys(&["a_never", "a_grace"]));
    // Every holder of a Certinia package licence also holds a grant.
    assert!(ids(&out.join("certinia-access-lacking.csv")).is_empty());
    let everyone: Vec<&str> = vec![
        "d_grant",
        "d_lic",
        "d_psl_cert",
        "d_psl_other",
        "d_ctl_yesterday",
        "d_ctl_today",
        "d_ctl_tomorrow",
        "d_ctl_none",
        "d_company",
        "d_res_active",
        "d_res_inactive",
        "d_res_not_resource",
        "d_nothing",
        "a_all",
        "a_frozen",
        "a_inactive",
        "a_never",
        "a_grace",
        "a_busy",
    ];
    assert_eq!(ids(&out.join("access-matrix.csv")), keys(&everyone));

    // Each row says which.
    let rows = csv_rows(&out.join("certinia-access-retained.csv"));
    let cell = |key: &str, column: &str| rows[&id(key)][column].clone();
    let new_columns = ["CertiniaPermissionSetLicenses", "PermissionControls", "UserCompanies", "ActiveResource"];
    let said = |key: &str| new_columns.map(|c| cell(key, c));
    assert_eq!(said("d_grant"), ["", "", "", "false"]);
    assert_eq!(cell("d_grant", "CertiniaPermissionSets"), "PSA - Create Projects [pse__PSACreateProjects]");
    assert_eq!(cell("d_lic", "CertiniaLicenses"), "pse");
    assert_eq!(said("d_psl_cert"), ["PSA User", "", "", "false"]);
    assert_eq!(said("d_ctl_today"), ["", "1 (Region: EMEA)", "", "false"]);
    assert_eq!(said("d_ctl_tomorrow"), ["", "1", "", "false"], "a control without a named scope is counted");
    assert_eq!(said("d_ctl_none"), ["", "1 (Region: Americas)", "", "false"], "the ended control is not counted");
    assert_eq!(said("d_company"), ["", "", "Acme UK Ltd; Acme US Inc", "false"]);
    assert_eq!(said("d_res_active"), ["", "", "", "true"]);

    // The workbook's sheet and the page show the same columns; the digest names them.
    let sheet = SheetRows::read(&out.join("access-review.xlsx"), "Certinia retained");
    assert_eq!(sheet.value(&id("d_company"), "UserCompanies").to_string(), "Acme UK Ltd; Acme US Inc");
    assert_eq!(sheet.value(&id("d_ctl_today"), "PermissionControls").to_string(), "1 (Region: EMEA)");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Acme UK Ltd; Acme US Inc") && html.contains("Active resource"), "report.html");
    let digest = std::fs::read_to_string(out.join("email.txt")).unwrap();
    assert!(digest.contains("Companies: Acme UK Ltd; Acme US Inc"), "{digest}");
    assert!(digest.contains("Permission set licences: PSA User"), "{digest}");

    // The snapshot holds the new objects (only the contacts linked to a user).
    let contacts = snapshot_records(&out.join("snapshot"), "Contact");
    assert!(!contacts.contains_key(&stable_id("003", "customer")));
    assert_eq!(contacts.len(), 4, "d_res_active, d_res_inactive, d_res_not_resource, a_all");
    let summary: Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["reports"]["certinia-access-retained"], json!(8));
}

#[test]
fn an_org_without_psa_or_accounting_gives_the_same_reports_plus_the_notes() {
    let mut b = OrgBuilder::new("Plain Org");
    b.user("d_grant", person().deactivated());
    b.psa("d_grant");
    b.user("d_lic", person().deactivated());
    b.licence("d_lic", "pse");
    b.user("d_nothing", person().deactivated());
    b.user("a_inactive", person().login(Some("2026-06-01T00:00:00")));
    b.user("a_lacking", person());
    b.licence("a_lacking", "c2g");
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let output = run_org(w, b.build(), "out", AS_OF, &[]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let out = w.join("out");
    // The rules of permission sets and package licences alone, as before.
    assert_eq!(ids(&out.join("certinia-access-retained.csv")), keys(&["d_grant", "d_lic"]));
    assert_eq!(ids(&out.join("inactive-users.csv")), keys(&["a_inactive"]));
    assert_eq!(ids(&out.join("certinia-access-lacking.csv")), keys(&["a_lacking"]));
    assert!(ids(&out.join("never-logged-in.csv")).is_empty());
    let rows = csv_rows(&out.join("certinia-access-retained.csv"));
    for key in ["d_grant", "d_lic"] {
        let row = &rows[&id(key)];
        let new = ["CertiniaPermissionSetLicenses", "PermissionControls", "UserCompanies", "ActiveResource"];
        assert_eq!(new.map(|c| row[c].as_str()), ["", "", "", "false"], "{key}");
    }
    // The notes: in summary.json, on the page and on the Run sheet.
    let psa = "PSA not installed: permission controls and resources not audited";
    let accounting = "Accounting not installed: user companies not audited";
    let summary: Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let notes: Vec<&str> = summary["notes"]["run"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    assert!(notes.contains(&psa) && notes.contains(&accounting), "{notes:?}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains(psa) && html.contains(accounting));
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(out.join("access-review.xlsx")).unwrap();
    let run = book.worksheet_range("Run").unwrap();
    let notes_cell = run.rows().find(|r| r[0] == "Notes").expect("a Notes row on the Run sheet");
    let text = notes_cell[1].to_string();
    assert!(text.contains(psa) && text.contains(accounting), "{text}");
}
