//! Deterministic synthetic orgs for scale tests and benchmarks.
//!
//! [`synthetic_org`] turns (seed, number of users, number of assignments)
//! into an [`Org`] that exercises every rule of the audit: active and
//! inactive users of several user types, users who never logged in, null
//! Profile and UserRole lookups, profile-owned permission sets, Certinia
//! permission sets found by namespace (`pse`, `c2g`, `ffbc`, `fferpcore`,
//! upper-case `SCMC`) or only by name pattern, look-alike names that must not
//! match, permission set groups (Certinia by name or only through a
//! component) assigned through their aggregate permission set, package
//! licences of Certinia and non-Certinia namespaces, and frozen users. Ids
//! are well-formed 18-character Salesforce ids with the real key prefixes and
//! checksum suffix. A seeded `StdRng` makes the same inputs give the same org.

use std::collections::{BTreeMap, HashSet};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::org::{Org, Record};

mod demo;
pub use demo::{DEMO_AS_OF, DEMO_INTEGRATION_USERNAME, demo_org};

/// An 18-character Salesforce id: key prefix, a fixed pod `5g0`, `n` in
/// base 62 over 9 characters, and the case-checksum suffix.
pub fn sf_id(prefix: &str, n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    assert_eq!(prefix.len(), 3, "key prefixes have 3 characters");
    let mut body = [b'0'; 9];
    let mut rest = n;
    for slot in body.iter_mut().rev() {
        *slot = DIGITS[(rest % 62) as usize];
        rest /= 62;
    }
    let id15 = format!("{prefix}5g0{}", std::str::from_utf8(&body).expect("ASCII"));
    to_18(&id15)
}

/// Appends the 3-character case-safe suffix to a 15-character id.
pub fn to_18(id15: &str) -> String {
    const SUFFIX: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    let bytes = id15.as_bytes();
    let mut out = id15.to_string();
    for chunk in bytes.chunks(5) {
        let flags =
            chunk.iter().enumerate().filter(|(_, b)| b.is_ascii_uppercase()).fold(0usize, |acc, (i, _)| acc | (1 << i));
        out.push(SUFFIX[flags] as char);
    }
    out
}

fn record(value: Value) -> Record {
    match value {
        Value::Object(map) => map,
        _ => unreachable!("records are built from JSON objects"),
    }
}

/// `2024-01-15T10:20:30.000+0000` for seconds since the epoch.
fn datetime(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .expect("generated timestamps are in range")
        .format("%Y-%m-%dT%H:%M:%S.000+0000")
        .to_string()
}

// 2016-01-01T00:00:00Z, 2025-01-01T00:00:00Z and 2025-06-30T00:00:00Z.
const T_2016: i64 = 1_451_606_400;
const T_2025: i64 = 1_735_689_600;
const T_2025_06_30: i64 = 1_751_241_600;

/// (name, user licence, user type, weight)
const PROFILES: &[(&str, &str, &str, u32)] = &[
    ("System Administrator", "Salesforce", "Standard", 3),
    ("Standard User", "Salesforce", "Standard", 40),
    ("Standard Platform User", "Salesforce Platform", "Standard", 15),
    ("PSA Resource (Custom)", "Salesforce", "Standard", 15),
    ("Customer Community User", "Customer Community", "CspLitePortal", 8),
    ("Partner Community User", "Partner Community", "PowerPartner", 6),
    ("Chatter Free User", "Chatter Free", "CsnOnly", 6),
    ("Analytics Cloud Integration User", "Analytics Cloud Integration User", "Standard", 2),
    ("Site Guest User", "Guest User License", "Guest", 1),
];

const ROLES: &[&str] = &["CEO", "VP Services", "Project Manager", "Consultant", "Finance"];

/// Regular permission sets: (API name, label, namespace, Certinia?).
const PERMISSION_SETS: &[(&str, &str, Option<&str>, bool)] = &[
    ("PSACreateProjects", "PSA - Create Projects", Some("pse"), true),
    ("PSAApproveTimecards", "PSA - Approve Timecards", Some("pse"), true),
    ("PSATimecardEntry", "PSA - Timecard Entry", Some("pse"), true),
    ("AccountingAgedAnalysisReports", "Accounting - Aged Analysis - Reports", Some("c2g"), true),
    ("Accounting", "Accounting", Some("c2g"), true),
    ("AccountingBankAccountReadAccess", "Accounting - Bank Account - Read Access", Some("c2g"), true),
    ("BillingCentral", "Billing Central", Some("ffbc"), true),
    ("FDNAsyncApiProcess", "FDN AsyncApi - Process", Some("fferpcore"), true),
    ("OIMInventoryUser", "OIM Inventory User", Some("SCMC"), true),
    ("FF_PSA_Full_User", "FF-PSA Full User", None, true),
    ("PSA_Timecard_Entry_Custom", "PSA Timecard Entry (custom)", None, true),
    ("Sales_Ops", "Sales Ops", None, false),
    ("Marketing_User", "Marketing User", None, false),
    ("API_Only_Integration", "API Only Integration", None, false),
    ("Staffa_Tools", "Staffa Tools", None, false),
    ("Capsacorp_Reports", "Capsacorp Reports", None, false),
    ("DocuSign_User", "DocuSign User", Some("dsfs"), false),
];

/// A permission set group: (developer name, label, namespace, status,
/// API names of its component permission sets).
type GroupSpec = (&'static str, &'static str, Option<&'static str>, &'static str, &'static [&'static str]);

const GROUPS: &[GroupSpec] = &[
    (
        "PSAProjectManager",
        "Certinia - PSA - Project Manager",
        Some("pse"),
        "Updated",
        &["PSACreateProjects", "PSAApproveTimecards"],
    ),
    ("PSAResources", "Certinia - PSA - Resource", Some("pse"), "Updated", &["PSATimecardEntry"]),
    (
        "AccountsPayable",
        "FF Group - Accounting - Accounts Payable",
        Some("c2g"),
        "Outdated",
        &["Accounting", "AccountingBankAccountReadAccess"],
    ),
    ("SalesOpsBundle", "Sales Ops Bundle", None, "Updated", &["Sales_Ops", "PSATimecardEntry"]),
    ("MarketingBundle", "Marketing Bundle", None, "Updated", &["Marketing_User", "Capsacorp_Reports"]),
];

/// Package licences: (namespace, status, share of users holding one in %).
const PACKAGES: &[(&str, &str, u32)] = &[("pse", "Active", 35), ("c2g", "Active", 25), ("dsfs", "Active", 20)];

const FIRST_NAMES: &[&str] = &[
    "Ana", "Ben", "Chloé", "Dev", "Eva", "Femi", "Grace", "Hiro", "Ines", "Jon", "Kai", "Lena", "Maya", "Nils", "Omar",
    "Priya", "Quinn", "Rosa", "Sam", "Tariq",
];
const LAST_NAMES: &[&str] = &[
    "Adams", "Berg", "Costa", "Dubois", "Evans", "Fischer", "García", "Hughes", "Ito", "Jensen", "Khan", "López",
    "Müller", "Novak", "O'Brien", "Patel", "Rossi", "Silva", "Tanaka", "Wong",
];
const DEPARTMENTS: &[&str] = &["Services", "Finance", "Sales", "IT", "Operations"];
const TITLES: &[&str] = &["Consultant", "Project Manager", "Accountant", "Engineer", "Director"];

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn percent(rng: &mut StdRng, p: u32) -> bool {
    rng.random_range(0..100) < p
}

/// A permission set as nested under an assignment or a group component.
fn permission_set(
    id: &str,
    name: &str,
    label: &str,
    namespace: Option<&str>,
    owned_by_profile: bool,
    kind: &str,
    group_id: Option<&str>,
) -> Value {
    json!({
        "Id": id,
        "Name": name,
        "Label": label,
        "NamespacePrefix": namespace,
        "IsOwnedByProfile": owned_by_profile,
        "Type": kind,
        "PermissionSetGroupId": group_id,
    })
}

/// The synthetic org (see the module documentation). `assignments` is a
/// target: duplicates (same user, same permission set) are skipped, so a
/// target larger than users × available sets yields fewer rows.
pub fn synthetic_org(seed: u64, users: usize, assignments: usize) -> Org {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut objects: BTreeMap<String, Vec<Record>> = BTreeMap::new();

    objects.insert(
        "Organization".into(),
        vec![record(json!({
            "Id": sf_id("00D", 1),
            "Name": format!("Synthetic Org {seed}"),
            "InstanceName": "SIM42",
            "IsSandbox": false,
            "OrganizationType": "Enterprise Edition",
        }))],
    );

    // Permission sets: regular ones, one per profile, one aggregate per group.
    let mut ps_counter = 0u64;
    let mut next_ps_id = || {
        ps_counter += 1;
        sf_id("0PS", ps_counter)
    };
    let regular: Vec<Value> = PERMISSION_SETS
        .iter()
        .map(|(name, label, ns, _)| permission_set(&next_ps_id(), name, label, *ns, false, "Regular", None))
        .collect();
    let profile_ids: Vec<String> = (1..=PROFILES.len() as u64).map(|i| sf_id("00e", i)).collect();
    let profile_sets: Vec<Value> = profile_ids
        .iter()
        .map(|profile_id| {
            permission_set(&next_ps_id(), &format!("X{profile_id}"), &profile_id[..15], None, true, "Profile", None)
        })
        .collect();
    let group_ids: Vec<String> = (1..=GROUPS.len() as u64).map(|i| sf_id("0PG", i)).collect();
    let aggregate_sets: Vec<Value> = group_ids
        .iter()
        .map(|group_id| {
            permission_set(
                &next_ps_id(),
                &format!("X{group_id}"),
                &group_id[..15],
                None,
                false,
                "Group",
                Some(group_id),
            )
        })
        .collect();

    let mut groups = Vec::new();
    let mut components = Vec::new();
    for ((dev, label, ns, status, parts), group_id) in GROUPS.iter().zip(&group_ids) {
        groups.push(record(json!({
            "Id": group_id,
            "DeveloperName": dev,
            "MasterLabel": label,
            "NamespacePrefix": ns,
            "Status": status,
        })));
        for part in *parts {
            let index = PERMISSION_SETS
                .iter()
                .position(|(name, ..)| name == part)
                .expect("group components are listed permission sets");
            let ps = &regular[index];
            components.push(record(json!({
                "Id": sf_id("0PH", components.len() as u64 + 1),
                "PermissionSetGroupId": group_id,
                "PermissionSetId": ps["Id"],
                "PermissionSet": ps,
            })));
        }
    }
    objects.insert("PermissionSetGroup".into(), groups);
    objects.insert("PermissionSetGroupComponent".into(), components);

    // Users.
    let role_ids: Vec<String> = (1..=ROLES.len() as u64).map(|i| sf_id("00E", i)).collect();
    let total_weight: u32 = PROFILES.iter().map(|p| p.3).sum();
    let mut user_records: Vec<Record> = Vec::with_capacity(users);
    let mut user_profile: Vec<Option<usize>> = Vec::with_capacity(users);
    for i in 0..users {
        let first = *pick(&mut rng, FIRST_NAMES);
        let last = *pick(&mut rng, LAST_NAMES);
        let ascii =
            |s: &str| -> String { s.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_lowercase() };
        let username = format!("{}.{}.{i}@synthetic-{seed}.example.com", ascii(first), ascii(last));
        let email = format!("{}.{}{i}@example.com", ascii(first), ascii(last));
        let profile = if percent(&mut rng, 2) {
            None
        } else {
            let mut roll = rng.random_range(0..total_weight);
            let mut chosen = 0;
            for (index, p) in PROFILES.iter().enumerate() {
                if roll < p.3 {
                    chosen = index;
                    break;
                }
                roll -= p.3;
            }
            Some(chosen)
        };
        user_profile.push(profile);
        let role = (!percent(&mut rng, 35)).then(|| rng.random_range(0..ROLES.len()));
        let active = percent(&mut rng, 78);
        let created = rng.random_range(T_2016..T_2025);
        let last_login = if percent(&mut rng, 12) {
            None
        } else if active {
            Some(rng.random_range(created..T_2025_06_30))
        } else {
            Some(rng.random_range(created..created + (T_2025 - created) / 2 + 1))
        };
        let department = (!percent(&mut rng, 20)).then(|| *pick(&mut rng, DEPARTMENTS));
        let title = (!percent(&mut rng, 20)).then(|| *pick(&mut rng, TITLES));
        let federation = percent(&mut rng, 60).then(|| email.clone());
        // A reporting line without touching the random stream: every ninth user reports to nobody,
        // the others to a user created before them (so the org's tree has no cycle).
        let manager = (i % 9 != 0).then(|| &user_records[i / 9]);
        user_records.push(record(json!({
            "Id": sf_id("005", i as u64 + 1),
            "Username": username,
            "Name": format!("{first} {last}"),
            "FirstName": first,
            "LastName": last,
            "Email": email,
            "IsActive": active,
            "UserType": profile.map_or("Standard", |p| PROFILES[p].2),
            "ProfileId": profile.map(|p| profile_ids[p].clone()),
            "Profile": profile.map(|p| json!({
                "Name": PROFILES[p].0,
                "UserLicense": {"Name": PROFILES[p].1},
            })),
            "UserRoleId": role.map(|r| role_ids[r].clone()),
            "UserRole": role.map(|r| json!({"Name": ROLES[r]})),
            "Department": department,
            "Title": title,
            "FederationIdentifier": federation,
            "CreatedDate": datetime(created),
            "LastLoginDate": last_login.map(datetime),
            "ManagerId": manager.map(|m| m["Id"].clone()),
            "Manager": manager.map(|m| json!({"Name": m["Name"], "Email": m["Email"]})),
        })));
    }

    // Permission set assignments.
    let certinia: Vec<usize> = (0..PERMISSION_SETS.len()).filter(|&i| PERMISSION_SETS[i].3).collect();
    let other: Vec<usize> = (0..PERMISSION_SETS.len()).filter(|&i| !PERMISSION_SETS[i].3).collect();
    let mut psas = Vec::with_capacity(assignments);
    let mut seen: HashSet<(usize, String)> = HashSet::with_capacity(assignments);
    let mut attempts = 0usize;
    let max_attempts = assignments.saturating_mul(4).saturating_add(100);
    while users > 0 && psas.len() < assignments && attempts < max_attempts {
        attempts += 1;
        let user = rng.random_range(0..users);
        let kind = rng.random_range(0..100);
        let (ps, group_id) = match kind {
            0..20 => match user_profile[user] {
                Some(p) => (&profile_sets[p], None),
                None => continue,
            },
            20..45 => (&regular[*pick(&mut rng, &certinia)], None),
            45..75 => (&regular[*pick(&mut rng, &other)], None),
            _ => {
                let g = rng.random_range(0..GROUPS.len());
                (&aggregate_sets[g], Some(group_ids[g].as_str()))
            }
        };
        let ps_id = ps["Id"].as_str().expect("ids are strings").to_string();
        if !seen.insert((user, ps_id.clone())) {
            continue;
        }
        let expiration = percent(&mut rng, 3).then(|| datetime(rng.random_range(T_2025..T_2025 + 3 * 365 * 86_400)));
        psas.push(record(json!({
            "Id": sf_id("0Pa", psas.len() as u64 + 1),
            "AssigneeId": sf_id("005", user as u64 + 1),
            "PermissionSetId": ps_id,
            "PermissionSet": ps,
            "PermissionSetGroupId": group_id,
            "IsActive": true,
            "ExpirationDate": expiration,
        })));
    }
    objects.insert("PermissionSetAssignment".into(), psas);

    // Package licences and logins.
    let package_ids: Vec<String> = (1..=PACKAGES.len() as u64).map(|i| sf_id("050", i)).collect();
    let mut licences = Vec::new();
    let mut logins = Vec::with_capacity(users);
    for user in 0..users {
        let user_id = sf_id("005", user as u64 + 1);
        for ((ns, status, share), package_id) in PACKAGES.iter().zip(&package_ids) {
            if percent(&mut rng, *share) {
                licences.push(record(json!({
                    "Id": sf_id("051", licences.len() as u64 + 1),
                    "UserId": user_id,
                    "PackageLicenseId": package_id,
                    "PackageLicense": {"NamespacePrefix": ns, "Status": status},
                })));
            }
        }
        logins.push(record(json!({
            "Id": sf_id("060", user as u64 + 1),
            "UserId": user_id,
            "IsFrozen": percent(&mut rng, 4),
            "IsPasswordLocked": percent(&mut rng, 1),
        })));
    }
    objects.insert("User".into(), user_records);
    objects.insert("UserPackageLicense".into(), licences);
    objects.insert("UserLogin".into(), logins);

    let mut org = Org::empty();
    *org.objects_mut() = objects;
    org
}

/// Adds to an org (a [`synthetic_org`]) what grants Certinia beyond permission sets and the seats
/// it costs, built as the demo org's are: a `PackageLicense` per package (PSA's `UsedLicenses` two
/// above its assignments), permission set licences and their assignments (Accounting's used count
/// one below), a PSA resource per PSA holder (some inactive), permission controls ending before,
/// on and after the instant `as_of` (seconds since the epoch) or never, and Accounting user
/// companies. Deterministic: the same org and instant give the same records.
pub fn add_certinia(org: &mut Org, as_of: i64) {
    let packages: Vec<(&str, &str, String)> =
        PACKAGES.iter().enumerate().map(|(i, (ns, status, _))| (*ns, *status, sf_id("050", i as u64 + 1))).collect();
    demo::certinia(org.objects_mut(), &packages, as_of);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_suffix() {
        assert_eq!(to_18("001A0000006Vm9r"), "001A0000006Vm9rIAC");
        let id = sf_id("005", 1);
        assert_eq!(id.len(), 18);
        assert!(id.starts_with("0055g0000000001"));
    }

    #[test]
    fn certinia_objects_join_the_synthetic_org_and_point_at_its_records() {
        let mut org = synthetic_org(3, 600, 3_000);
        add_certinia(&mut org, 1_790_812_800);
        org.validate().unwrap();
        let ids = |object: &str, field: &str| -> HashSet<String> {
            org.records(object).iter().filter_map(|r| r[field].as_str().map(String::from)).collect()
        };
        let users = ids("User", "Id");
        for (object, field) in [
            ("PermissionSetLicenseAssign", "AssigneeId"),
            ("pse__Permission_Control__c", "pse__User__c"),
            ("Contact", "pse__Salesforce_User__c"),
            ("c2g__codaUserCompany__c", "c2g__User__c"),
        ] {
            let linked = ids(object, field);
            assert!(!linked.is_empty(), "{object} has records");
            assert!(linked.is_subset(&users), "{object}.{field} names users of the org");
        }
        // Every package licence assignment points at a PackageLicense record.
        assert!(ids("UserPackageLicense", "PackageLicenseId").is_subset(&ids("PackageLicense", "Id")));
        assert!(
            ids("PermissionSetLicenseAssign", "PermissionSetLicenseId").is_subset(&ids("PermissionSetLicense", "Id"))
        );
        // Controls end before, on and after the as-of date, or never.
        let ends: HashSet<Option<String>> = org
            .records("pse__Permission_Control__c")
            .iter()
            .map(|c| c["pse__End_Date__c"].as_str().map(String::from))
            .collect();
        for end in [None, Some("2026-09-30"), Some("2026-10-01"), Some("2026-10-02")] {
            assert!(ends.contains(&end.map(String::from)), "a control ending {end:?}: {ends:?}");
        }
    }

    #[test]
    fn deterministic_and_valid() {
        let a = synthetic_org(7, 300, 1500);
        let b = synthetic_org(7, 300, 1500);
        assert_eq!(a, b);
        assert_ne!(a, synthetic_org(8, 300, 1500));
        a.validate().unwrap();

        let users = a.records("User");
        assert_eq!(users.len(), 300);
        let psas = a.records("PermissionSetAssignment");
        assert!(psas.len() > 1400 && psas.len() <= 1500, "{}", psas.len());
        assert!(users.iter().any(|u| u["IsActive"] == false));
        assert!(users.iter().any(|u| u["LastLoginDate"].is_null()));
        assert!(users.iter().any(|u| u["UserRole"].is_null()));
        assert!(users.iter().any(|u| u["Profile"].is_null()));
        assert!(users.iter().any(|u| u["ManagerId"].is_null()));
        for u in users.iter().filter(|u| !u["ManagerId"].is_null()) {
            let manager = users.iter().find(|m| m["Id"] == u["ManagerId"]).expect("the manager is a user");
            assert_eq!(u["Manager"]["Name"], manager["Name"]);
            assert_eq!(u["Manager"]["Email"], manager["Email"]);
        }
        assert!(users.iter().any(|u| u["UserType"] == "PowerPartner"));
        let ns = |r: &Record| r["PermissionSet"]["NamespacePrefix"].as_str().map(str::to_string);
        assert!(psas.iter().any(|r| ns(r).as_deref() == Some("pse")));
        assert!(psas.iter().any(|r| ns(r).as_deref() == Some("c2g")));
        assert!(psas.iter().any(|r| r["PermissionSet"]["IsOwnedByProfile"] == true));
        let via_group: Vec<_> = psas.iter().filter(|r| !r["PermissionSetGroupId"].is_null()).collect();
        assert!(!via_group.is_empty());
        for r in via_group {
            assert_eq!(r["PermissionSet"]["PermissionSetGroupId"], r["PermissionSetGroupId"]);
        }
        let licence_ns: HashSet<_> = a
            .records("UserPackageLicense")
            .iter()
            .map(|r| r["PackageLicense"]["NamespacePrefix"].as_str().unwrap())
            .collect();
        assert_eq!(licence_ns, HashSet::from(["pse", "c2g", "dsfs"]));
        assert!(a.records("UserLogin").iter().any(|r| r["IsFrozen"] == true));
        assert_eq!(a.records("Organization").len(), 1);
        assert_eq!(a.records("PermissionSetGroup").len(), GROUPS.len());
    }

    #[test]
    fn empty_org_is_fine() {
        let org = synthetic_org(1, 0, 100);
        org.validate().unwrap();
        assert!(org.records("PermissionSetAssignment").is_empty());
    }
}
