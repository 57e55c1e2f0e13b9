//! Pulling what grants Certinia beyond permission sets, and the seats it costs (issue 11):
//! permission set licences and their assignments, package licences, PSA permission controls and
//! resources, Accounting user companies; decided from the org's own list of objects.

use serde_json::{Value, json};
use sf_sim::org::Org;

use crate::common::*;
use access_audit::snapshot;

/// Every query of REPORTS.md's "Certinia beyond permission sets" table, as the manifest records it.
const NEW_SOQL: [(&str, &str); 6] = [
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
    (
        "pse__Permission_Control__c",
        "SELECT Id, pse__User__c, pse__Start_Date__c, pse__End_Date__c, pse__Cascading_Permission__c, \
         pse__Resource__c, pse__Resource__r.Name, pse__Region__c, pse__Region__r.Name, pse__Practice__c, \
         pse__Practice__r.Name, pse__Group__c, pse__Group__r.Name, pse__Project__c, pse__Project__r.Name, \
         pse__Opportunity__c, pse__Opportunity__r.Name FROM pse__Permission_Control__c",
    ),
    (
        "Contact",
        "SELECT Id, Name, pse__Salesforce_User__c, pse__Is_Resource__c, pse__Is_Resource_Active__c FROM Contact \
         WHERE pse__Salesforce_User__c != null",
    ),
    (
        "c2g__codaUserCompany__c",
        "SELECT Id, c2g__User__c, c2g__Company__c, c2g__Company__r.Name FROM c2g__codaUserCompany__c",
    ),
];

const PSA_NOTE: &str = "PSA not installed: permission controls and resources not audited";
const ACCOUNTING_NOTE: &str = "Accounting not installed: user companies not audited";

fn rec(v: Value) -> serde_json::Map<String, Value> {
    let Value::Object(m) = v else { unreachable!() };
    m
}

/// Two users, a PSA permission set each, and nothing of PSA or Accounting installed.
fn base() -> OrgBuilder {
    let mut b = OrgBuilder::new("Certinia Pull Ltd");
    b.user("alice", person());
    b.user("bob", person().deactivated());
    b.psa("alice");
    b.psa("bob");
    b
}

/// The base org with PSA and Accounting installed and a record of every new object.
fn certinia_org() -> Org {
    let b = base();
    let (alice, bob) = (b.id("alice"), b.id("bob"));
    let mut objects = b.build().into_objects();
    let mut put = |object: &str, records: Vec<Value>| {
        objects.insert(object.to_string(), records.into_iter().map(rec).collect());
    };
    let psl = stable_id("0PL", "psl-psa");
    put(
        "PermissionSetLicense",
        vec![
            json!({"Id": psl, "DeveloperName": "PSA_Resource", "MasterLabel": "PSA Resource",
                   "PermissionSetLicenseKey": "pse_PSAResource", "Status": "Active", "TotalLicenses": 10,
                   "UsedLicenses": 3, "ExpirationDate": "2027-01-31"}),
            json!({"Id": stable_id("0PL", "psl-site"), "DeveloperName": "Site", "MasterLabel": "Site",
                   "PermissionSetLicenseKey": "Site", "Status": "Active", "TotalLicenses": -1,
                   "UsedLicenses": 0, "ExpirationDate": null}),
        ],
    );
    put(
        "PermissionSetLicenseAssign",
        vec![json!({"Id": stable_id("2LA", "bob-psl"), "AssigneeId": bob, "PermissionSetLicenseId": psl})],
    );
    put(
        "PackageLicense",
        vec![
            json!({"Id": stable_id("050", "pse"), "NamespacePrefix": "pse", "Status": "Active",
                   "AllowedLicenses": 25, "UsedLicenses": 2, "ExpirationDate": "2027-06-30T00:00:00.000+0000",
                   "IsProvisioned": true}),
            json!({"Id": stable_id("050", "c2g"), "NamespacePrefix": "c2g", "Status": "Active",
                   "AllowedLicenses": -1, "UsedLicenses": 1, "ExpirationDate": null, "IsProvisioned": true}),
        ],
    );
    let resource = stable_id("003", "bob-resource");
    put(
        "Contact",
        vec![
            json!({"Id": resource, "Name": "Bob Resource", "FirstName": "Bob", "LastName": "Resource",
                   "Email": null, "pse__Salesforce_User__c": bob, "pse__Is_Resource__c": true,
                   "pse__Is_Resource_Active__c": true, "pse__Start_Date__c": "2024-02-01"}),
            // A contact linked to nobody: not a PSA resource of a user, not pulled.
            json!({"Id": stable_id("003", "customer"), "Name": "A Customer", "FirstName": "A",
                   "LastName": "Customer", "Email": "c@example.com", "pse__Salesforce_User__c": null,
                   "pse__Is_Resource__c": false, "pse__Is_Resource_Active__c": false,
                   "pse__Start_Date__c": null}),
        ],
    );
    let region = stable_id("a0R", "emea");
    put(
        "pse__Permission_Control__c",
        vec![json!({"Id": stable_id("a0P", "bob-emea"), "Name": "PC-0001", "pse__User__c": bob,
                    "pse__User__r": {"Id": bob}, "pse__Resource__c": null, "pse__Resource__r": null,
                    "pse__Region__c": region, "pse__Region__r": {"Name": "EMEA"}, "pse__Practice__c": null,
                    "pse__Practice__r": null, "pse__Group__c": null, "pse__Group__r": null,
                    "pse__Project__c": null, "pse__Project__r": null, "pse__Opportunity__c": null,
                    "pse__Opportunity__r": null, "pse__Cascading_Permission__c": true,
                    "pse__Start_Date__c": "2025-01-01", "pse__End_Date__c": null,
                    "pse__Timecard_Entry__c": true, "pse__Expense_Entry__c": false, "pse__Billing__c": false,
                    "pse__Resource_Request_Entry__c": false})],
    );
    let company = stable_id("a1C", "northwind-uk");
    put(
        "c2g__codaUserCompany__c",
        vec![json!({"Id": stable_id("a1U", "alice-uk"), "Name": "UC-0001", "c2g__User__c": alice,
                    "c2g__User__r": {"Id": alice}, "c2g__Company__c": company,
                    "c2g__Company__r": {"Name": "Northwind UK Ltd"}, "c2g__UseLocalAccount__c": false})],
    );
    Org::from_objects(objects).expect("a valid org")
}

fn pull(sim: &sf_sim::Sim) -> (tempfile::TempDir, std::process::Output) {
    let work = tempfile::tempdir().unwrap();
    let out = pull_jwt(work.path(), sim, &work.path().join("snapshot")).output().unwrap();
    (work, out)
}

#[test]
fn an_org_with_psa_and_accounting_gives_every_new_object_exactly() {
    let org = certinia_org();
    let sim = sim(org.clone());
    let (work, out) = pull(&sim);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let dir = work.path().join("snapshot");
    let manifest = snapshot::verify(&dir).expect("the snapshot verifies, references and all").manifest;
    assert!(manifest.notes.is_empty(), "{:?}", manifest.notes);
    for (object, soql) in NEW_SOQL {
        let entry = manifest.object(object).unwrap_or_else(|| panic!("{object} in the manifest"));
        assert_eq!(entry.soql, soql, "{object}");
        assert_eq!(entry.file, format!("{object}.ndjson"));
    }
    let bob = stable_id("005", "bob");
    // Every record, as the API sent it (the fields asked for, nested relationships, typed values).
    let psl = snapshot_records(&dir, "PermissionSetLicense");
    assert_eq!(
        Value::Object(psl[&stable_id("0PL", "psl-site")].clone()),
        json!({"Id": stable_id("0PL", "psl-site"), "DeveloperName": "Site", "MasterLabel": "Site",
               "TotalLicenses": -1, "UsedLicenses": 0, "ExpirationDate": null, "Status": "Active"})
    );
    assert_eq!(psl[&stable_id("0PL", "psl-psa")]["ExpirationDate"], json!("2027-01-31"));
    assert_eq!(
        snapshot_records(&dir, "PermissionSetLicenseAssign").into_values().map(Value::Object).collect::<Vec<_>>(),
        [json!({"Id": stable_id("2LA", "bob-psl"), "AssigneeId": bob,
                "PermissionSetLicenseId": stable_id("0PL", "psl-psa")})]
    );
    let packages = snapshot_records(&dir, "PackageLicense");
    assert_eq!(
        Value::Object(packages[&stable_id("050", "c2g")].clone()),
        json!({"Id": stable_id("050", "c2g"), "NamespacePrefix": "c2g", "AllowedLicenses": -1,
               "UsedLicenses": 1, "ExpirationDate": null, "Status": "Active"})
    );
    let contacts = snapshot_records(&dir, "Contact");
    assert_eq!(contacts.keys().cloned().collect::<Vec<_>>(), [stable_id("003", "bob-resource")], "linked ones only");
    assert_eq!(
        Value::Object(contacts[&stable_id("003", "bob-resource")].clone()),
        json!({"Id": stable_id("003", "bob-resource"), "Name": "Bob Resource", "pse__Salesforce_User__c": bob,
               "pse__Is_Resource__c": true, "pse__Is_Resource_Active__c": true})
    );
    let controls = snapshot_records(&dir, "pse__Permission_Control__c");
    let control = &controls[&stable_id("a0P", "bob-emea")];
    assert_eq!(control["pse__User__c"], json!(bob));
    assert_eq!(control["pse__End_Date__c"], Value::Null);
    assert_eq!(control["pse__Start_Date__c"], json!("2025-01-01"));
    assert_eq!(control["pse__Region__r"], json!({"Name": "EMEA"}));
    assert_eq!(control["pse__Project__r"], Value::Null);
    let companies = snapshot_records(&dir, "c2g__codaUserCompany__c");
    assert_eq!(
        Value::Object(companies[&stable_id("a1U", "alice-uk")].clone()),
        json!({"Id": stable_id("a1U", "alice-uk"), "c2g__User__c": stable_id("005", "alice"),
               "c2g__Company__c": stable_id("a1C", "northwind-uk"), "c2g__Company__r": {"Name": "Northwind UK Ltd"}})
    );
    // One list of objects, asked once, before the queries; no licence check needed.
    assert_eq!(sim.stats().requests_by_kind.get("sobjects"), Some(&1));

    // The same bytes through the Bulk API.
    let bulk_dir = work.path().join("bulk");
    let mut cmd = pull_jwt(work.path(), &sim, &bulk_dir);
    cmd.args(["--api", "bulk"]).assert().success();
    let bulk = snapshot::verify(&bulk_dir).unwrap().manifest;
    for (object, _) in NEW_SOQL {
        assert_eq!(bulk.object(object).unwrap().api.as_deref(), Some("bulk"), "{object}");
        assert_eq!(
            std::fs::read(bulk_dir.join(format!("{object}.ndjson"))).unwrap(),
            std::fs::read(dir.join(format!("{object}.ndjson"))).unwrap(),
            "{object}: the same bytes whichever API"
        );
    }
}

#[test]
fn an_org_without_psa_or_accounting_gets_the_notes_and_the_same_files_otherwise() {
    let sim = sim(base().build());
    let (work, out) = pull(&sim);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    assert!(stderr.contains(PSA_NOTE) && stderr.contains(ACCOUNTING_NOTE), "{stderr}");
    let dir = work.path().join("snapshot");
    let manifest = snapshot::verify(&dir).unwrap().manifest;
    assert_eq!(manifest.notes, [PSA_NOTE, ACCOUNTING_NOTE]);
    let files: Vec<&str> = manifest.objects.iter().map(|o| o.file.as_str()).collect();
    assert_eq!(
        files,
        [
            "Organization.ndjson",
            "User.ndjson",
            "PermissionSetAssignment.ndjson",
            "PermissionSetGroup.ndjson",
            "PermissionSetGroupComponent.ndjson",
            "UserPackageLicense.ndjson",
            "UserLogin.ndjson",
            "PermissionSetLicense.ndjson",
            "PermissionSetLicenseAssign.ndjson",
            "PackageLicense.ndjson",
        ]
    );
    let manifest_json: Value = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest_json["notes"], json!([PSA_NOTE, ACCOUNTING_NOTE]));
}

#[test]
fn a_field_missing_on_an_installed_object_is_an_error_naming_object_and_field() {
    let sim = sim(certinia_org());
    sim.with_state(|st| {
        st.access.hidden_fields.insert(("c2g__codaUserCompany__c".into(), "c2g__Company__c".into()));
    });
    let (work, out) = pull(&sim);
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    assert!(stderr.contains("c2g__Company__c") && stderr.contains("c2g__codaUserCompany__c"), "{stderr}");
    assert!(!work.path().join("snapshot").exists(), "nothing half-written");
}

#[test]
fn an_installed_object_the_integration_user_cannot_read_names_the_permission() {
    // Refused outright: INSUFFICIENT_ACCESS on the query.
    let sim1 = sim(certinia_org());
    sim1.with_state(|st| {
        st.access.refused_objects.insert("pse__Permission_Control__c".into());
    });
    let (_work, out) = pull(&sim1);
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    assert!(stderr.contains("the integration user cannot read pse__Permission_Control__c"), "{stderr}");
    assert!(stderr.contains("INSUFFICIENT_ACCESS") && stderr.contains("grant it Read on the object"), "{stderr}");

    // Not in its list of objects, while the org holds an Accounting licence: not "not installed".
    let sim2 = sim(certinia_org());
    sim2.with_state(|st| {
        st.access.hidden_objects.insert("c2g__codaUserCompany__c".into());
    });
    let (work, out) = pull(&sim2);
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    assert!(stderr.contains("the integration user cannot read c2g__codaUserCompany__c"), "{stderr}");
    assert!(stderr.contains("holds a c2g licence"), "{stderr}");
    assert!(stderr.contains("grant it Read on the objects c2g__codaUserCompany__c"), "{stderr}");
    assert!(!stderr.contains(ACCOUNTING_NOTE), "not a quiet skip: {stderr}");
    assert!(!work.path().join("snapshot").exists());

    // A licence object every org has, not in its list: the setup permission.
    let sim3 = sim(certinia_org());
    sim3.with_state(|st| {
        st.access.hidden_objects.insert("PermissionSetLicense".into());
    });
    let (_work, out) = pull(&sim3);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr_of(&out).contains(
            "the integration user cannot read PermissionSetLicense (it is not in its list of objects): grant it the \
             system permission View Setup and Configuration"
        ),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn the_self_check_reports_new_references_that_do_not_resolve() {
    let sim = sim(certinia_org());
    let (work, out) = pull(&sim);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let dir = work.path().join("snapshot");
    // A user company of a user not in User.ndjson: rewrite the file and its manifest entry.
    let path = dir.join("c2g__codaUserCompany__c.ndjson");
    let text = std::fs::read_to_string(&path).unwrap().replace(&stable_id("005", "alice"), &stable_id("005", "ghost"));
    std::fs::write(&path, &text).unwrap();
    let mut manifest: Value = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let (sha, _) = snapshot::hash_file(&path).unwrap();
    for o in manifest["objects"].as_array_mut().unwrap() {
        if o["object"] == "c2g__codaUserCompany__c" {
            o["sha256"] = json!(sha);
        }
    }
    std::fs::write(dir.join("manifest.json"), serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
    let verified = snapshot::verify(&dir).unwrap();
    assert_eq!(
        verified.unresolved,
        [format!(
            "c2g__codaUserCompany__c {}: c2g__User__c {} is not in User.ndjson",
            stable_id("a1U", "alice-uk"),
            stable_id("005", "ghost")
        )]
    );
}
