//! The demo org: "Northwind Consulting Ltd", a made-up professional-services
//! company of 300 users running Certinia Accounting and PSA, pulled at
//! [`DEMO_AS_OF`] (every date in it lies before that instant; run the report
//! with `--as-of 2026-11-20T09:00:00Z`).
//!
//! It is built by hand, without randomness (a small hash gives variety), so
//! that each audit finding has a few recognisable examples:
//!
//! | group | users | what it shows |
//! |---|---|---|
//! | administrators and the API integration user | 4 | Certinia access of admins |
//! | Finance (Certinia Accounting, `c2g` sets, `c2g` + `fferpcore` licences) | 40 | 5 dormant (last login 100–400 days before), 1 frozen |
//! | Professional Services (PSA) | 60 | `pse` sets, the neutrally named group "Project Delivery" holding `pse` sets, the `pse` group "Certinia - PSA - Resource", un-namespaced "FF-PSA Full User" / "PSA_Timecard_Entry"; 4 dormant |
//! | Sales (no Certinia access) | 120 | look-alike names "Capsacorp Integration", "Staffa Reporting"; 5 deactivated, 8 dormant, 3 never logged in |
//! | leavers (`IsActive` false) | 20 | 17 retain Certinia sets and/or licences, 3 hold nothing |
//! | new joiners, never logged in | 10 | 5 created in the last 14 days, 5 created 20–60 days before |
//! | active with a Certinia licence but no Certinia set | 6 | "access lacking" |
//! | portal users (`PowerCustomerSuccess` 6, `CspLitePortal` 8) | 14 | 3 hold PSA-named sets |
//! | Guest, AutomatedProcess, Chatter Free (`CsnOnly`) | 1 + 1 + 4 | non-standard user types |
//! | other staff (Marketing, HR, IT, Operations) | 20 | no Certinia access |
//!
//! Every user has a profile-owned permission set assignment (Label = profile
//! name; the "PSA Consultant" profile's label contains "PSA" but must never
//! count), and a `UserLogin` row. A few users carry hostile text (formula
//! prefixes, HTML, control and bidi characters, emoji, a 255-character
//! title) in Name, Title, Department or the local part of Email.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Value, json};

use super::{datetime, permission_set, record, sf_id};
use crate::org::{Org, Record};

/// The instant the demo org was "pulled" at; use it as the report's as-of.
pub const DEMO_AS_OF: &str = "2026-11-20T09:00:00Z";
/// [`DEMO_AS_OF`] in seconds since the epoch.
const AS_OF: i64 = 1_795_165_200;
const DAY: i64 = 86_400;
const DOMAIN: &str = "northwind-consulting.com";
/// The demo org's API integration user (active; profile "Minimum Access - API Only Integrations").
pub const DEMO_INTEGRATION_USERNAME: &str = "integration@northwind-consulting.com";

/// Deterministic variety: a splitmix64 hash of (a, b).
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(b).wrapping_add(0x6A09_E667_F3BC_C909);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A number in `lo..=hi` from (a, b).
fn between(a: u64, b: u64, lo: i64, hi: i64) -> i64 {
    lo + (mix(a, b) % ((hi - lo + 1) as u64)) as i64
}

/// `days` days before the as-of instant, at a working-hours-ish time.
fn days_ago(days: i64, salt: u64) -> i64 {
    AS_OF - days * DAY - between(salt, 7, 0, 9 * 3600)
}

/// (name, user licence)
const PROFILES: &[(&str, &str)] = &[
    ("System Administrator", "Salesforce"),
    ("Minimum Access - API Only Integrations", "Salesforce Integration"),
    ("Standard User", "Salesforce"),
    ("Finance User", "Salesforce"),
    ("PSA Consultant", "Salesforce"),
    ("PSA Resource Manager", "Salesforce"),
    ("Sales User", "Salesforce"),
    ("Standard Platform User", "Salesforce Platform"),
    ("Customer Community User", "Customer Community"),
    ("Customer Community Plus User", "Customer Community Plus"),
    ("Chatter Free User", "Chatter Free"),
    ("Northwind Site Profile", "Guest User License"),
    ("Automated Process", "Automated Process"),
];

const ROLES: &[&str] = &[
    "Managing Director",
    "Finance Director",
    "Finance",
    "Services Director",
    "Project Manager",
    "Consultant",
    "Sales Director",
    "Sales EMEA",
    "Sales North America",
    "Operations",
];

/// Regular permission sets: (API name, label, namespace).
const SETS: &[(&str, &str, Option<&str>)] = &[
    // Certinia Accounting and Foundations.
    ("Accounting", "Accounting", Some("c2g")),
    ("AccountingSalesInvoiceSave", "Accounting - Sales Invoice - Save", Some("c2g")),
    ("AccountingPayableInvoiceSave", "Accounting - Payable Invoice - Save", Some("c2g")),
    ("AccountingBankAccountReadAccess", "Accounting - Bank Account - Read Access", Some("c2g")),
    ("AccountingAgedAnalysisReports", "Accounting - Aged Analysis Reports", Some("c2g")),
    ("FDNAsyncApiProcess", "FDN AsyncApi - Process", Some("fferpcore")),
    // Certinia PSA.
    ("PSACreateProjects", "PSA - Create Projects", Some("pse")),
    ("PSATimecardEntry", "PSA - Timecard Entry", Some("pse")),
    ("PSAApproveTimecards", "PSA - Approve Timecards", Some("pse")),
    ("PSAExpenseEntry", "PSA - Expense Entry", Some("pse")),
    ("PSAResourceRequests", "PSA - Resource Requests", Some("pse")),
    // Custom (un-namespaced) sets named after PSA.
    ("FF_PSA_Full_User", "FF-PSA Full User", None),
    ("PSA_Timecard_Entry", "PSA_Timecard_Entry", None),
    ("PSA_Community_Timecards", "PSA - Community Timecards", None),
    // Not Certinia (some deliberately look alike).
    ("Sales_Cloud_User", "Sales Cloud User", None),
    ("Capsacorp_Integration", "Capsacorp Integration", None),
    ("Staffa_Reporting", "Staffa Reporting", None),
    ("SteelBrickCPQUser", "Salesforce CPQ User", Some("SBQQ")),
    ("Project_Delivery_Reports", "Project Delivery Reports", None),
    ("Finance_Reports", "Finance Reports", None),
    ("Northwind_Marketing", "Marketing User", None),
    ("Northwind_API_Access", "API Access", None),
];

/// Permission set groups: (developer name, label, namespace, component set API names).
const GROUPS: &[(&str, &str, Option<&str>, &[&str])] = &[
    (
        "Project_Delivery",
        "Project Delivery",
        None,
        &["PSACreateProjects", "PSATimecardEntry", "PSAExpenseEntry", "Project_Delivery_Reports"],
    ),
    ("PSAResources", "Certinia - PSA - Resource", Some("pse"), &["PSATimecardEntry", "PSAExpenseEntry"]),
    (
        "AccountsPayable",
        "FF Group - Accounting - Accounts Payable",
        Some("c2g"),
        &["Accounting", "AccountingPayableInvoiceSave"],
    ),
    ("SalesOpsBundle", "Sales Ops Bundle", None, &["Sales_Cloud_User", "Staffa_Reporting"]),
];

/// Package licences: (namespace, status).
const PACKAGES: &[(&str, &str)] =
    &[("c2g", "Active"), ("fferpcore", "Active"), ("pse", "Active"), ("SBQQ", "Active"), ("dlrs", "Free")];

const FIRST_NAMES: &[&str] = &[
    "Oliver", "Amelia", "Harry", "Isla", "Jack", "Ava", "George", "Mia", "Noah", "Emily", "Leo", "Sophie", "Arthur",
    "Grace", "Oscar", "Freya", "Charlie", "Lily", "Thomas", "Chloé", "Aisha", "Mateo", "Priya", "Lukas", "Sofia",
    "Arjun", "Hannah", "Kwame", "Ingrid", "Tomás", "Yuki", "Fatima", "Daniel", "Elena", "Samuel", "Nadia", "James",
    "Zara", "William", "Maja", "Ravi", "Clara", "Ethan", "Leila", "Finn", "Anna", "Omar", "Julia", "Lars", "Chiara",
    "Rhys", "Niamh", "Callum", "Eilidh", "Dev", "Marta", "Kofi", "Astrid", "Hugo", "Ines",
];

const LAST_NAMES: &[&str] = &[
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Patel",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Khan",
    "Müller",
    "Novak",
    "O'Brien",
    "Fernández",
    "Rossi",
    "Nakamura",
    "Mensah",
    "Kowalski",
    "Lindqvist",
    "Dubois",
    "Okafor",
    "Singh",
    "Costa",
    "Murphy",
    "MacLeod",
    "Byrne",
    "Hughes",
    "Edwards",
    "Lewis",
    "Morgan",
    "Price",
    "Hussain",
    "Ali",
    "Chen",
    "Wang",
    "Kumar",
    "Schmidt",
    "García",
    "Jensen",
    "Haddad",
    "Petrov",
    "Andersson",
    "Moreau",
    "Bianchi",
    "Silva",
    "Adeyemi",
    "Fraser",
    "Ahmed",
];

/// One person of the org, before it becomes records.
#[derive(Debug, Clone)]
struct Person {
    first: Option<String>,
    last: String,
    /// Name, when it is not "first last".
    name: Option<String>,
    /// Username and email local part, when not derived from the name.
    username: Option<String>,
    email_local: Option<String>,
    user_type: &'static str,
    profile: &'static str,
    role: Option<&'static str>,
    department: Option<String>,
    title: Option<String>,
    active: bool,
    /// Days before the as-of instant.
    created: i64,
    last_login: Option<i64>,
    frozen: bool,
    sets: Vec<&'static str>,
    groups: Vec<&'static str>,
    packages: Vec<&'static str>,
    /// Employee number as FederationIdentifier (internal staff only).
    federated: bool,
    /// An ExpirationDate on the person's regular set assignments (days after as-of).
    expires_in: Option<i64>,
}

/// Hands out distinct (first, last) name pairs.
struct Names {
    next: usize,
}

impl Names {
    fn take(&mut self) -> (&'static str, &'static str) {
        let k = self.next;
        self.next += 1;
        let (f, l) = (FIRST_NAMES.len(), LAST_NAMES.len());
        // (k mod f, (7 (k mod f) + k div f) mod l) is injective for k < f * l.
        (FIRST_NAMES[k % f], LAST_NAMES[(7 * (k % f) + k / f) % l])
    }
}

/// A staff member with defaults: active, standard, logged in recently.
fn staff(names: &mut Names, profile: &'static str, department: &str, title: &str, salt: u64) -> Person {
    let (first, last) = names.take();
    Person {
        first: Some(first.into()),
        last: last.into(),
        name: None,
        username: None,
        email_local: None,
        user_type: "Standard",
        profile,
        role: None,
        department: Some(department.into()),
        title: Some(title.into()),
        active: true,
        created: between(salt, 1, 200, 3200),
        last_login: Some(between(salt, 2, 0, 20)),
        frozen: false,
        sets: Vec::new(),
        groups: Vec::new(),
        packages: Vec::new(),
        federated: true,
        expires_in: None,
    }
}

/// Lower-case ASCII for usernames: accents folded, other characters dropped.
fn ascii(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let folded = match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'Å' | 'Á' => "a",
            'é' | 'è' | 'ê' | 'ë' | 'É' => "e",
            'í' | 'ì' | 'î' | 'ï' => "i",
            'ó' | 'ò' | 'ô' | 'ö' | 'ø' | 'Ö' => "o",
            'ú' | 'ù' | 'û' | 'ü' | 'Ü' => "u",
            'ñ' => "n",
            'ç' => "c",
            c if c.is_ascii_alphanumeric() || c == '-' => {
                out.push(c.to_ascii_lowercase());
                continue;
            }
            _ => continue,
        };
        out.push_str(folded);
    }
    out
}

fn admins(names: &mut Names) -> Vec<Person> {
    let mut out = Vec::new();
    for i in 0..3u64 {
        let mut p = staff(names, "System Administrator", "IT", "Salesforce Administrator", 100 + i);
        p.role = (i == 0).then_some("Managing Director");
        p.created = 2900 - 400 * i as i64;
        out.push(p);
    }
    // The first admin also works in Certinia.
    out[0].sets = vec!["FF_PSA_Full_User", "Accounting"];
    out[0].packages = vec!["c2g", "fferpcore", "pse"];
    out[1].title = Some("Lead Salesforce Administrator".into());
    out.push(Person {
        first: Some("Audit".into()),
        last: "Integration".into(),
        name: None,
        username: Some(DEMO_INTEGRATION_USERNAME.into()),
        email_local: Some("salesforce-admins".into()),
        user_type: "Standard",
        profile: "Minimum Access - API Only Integrations",
        role: None,
        department: Some("IT".into()),
        title: Some("API integration user".into()),
        active: true,
        created: 700,
        last_login: Some(0),
        frozen: false,
        sets: vec!["Northwind_API_Access"],
        groups: Vec::new(),
        packages: Vec::new(),
        federated: false,
        expires_in: None,
    });
    out
}

fn finance(names: &mut Names) -> Vec<Person> {
    const TITLES: &[&str] = &[
        "Accounts Receivable Clerk",
        "Accounts Payable Clerk",
        "Management Accountant",
        "Financial Controller",
        "Credit Controller",
        "Payroll Specialist",
        "Treasury Analyst",
        "Billing Specialist",
    ];
    let dormant = [(7, 104), (15, 150), (22, 222), (29, 310), (36, 395)];
    let mut out = Vec::new();
    for i in 0..40u64 {
        let title = TITLES[i as usize % TITLES.len()];
        let mut p = staff(names, "Finance User", "Finance", title, 1000 + i);
        p.role = Some(if i % 10 == 0 { "Finance Director" } else { "Finance" });
        p.sets = vec!["Accounting", "Finance_Reports"];
        match i % 8 {
            0 | 4 | 7 => p.sets.push("AccountingSalesInvoiceSave"),
            1 => p.groups.push("AccountsPayable"),
            2 | 3 => p.sets.push("AccountingAgedAnalysisReports"),
            6 => p.sets.push("AccountingBankAccountReadAccess"),
            _ => {}
        }
        if i % 9 == 0 {
            p.sets.push("FDNAsyncApiProcess");
        }
        p.packages = vec!["c2g", "fferpcore"];
        if let Some((_, days)) = dormant.iter().find(|(at, _)| *at == i) {
            p.last_login = Some(*days);
            p.created = p.created.max(days + 300);
        }
        if i == 12 {
            p.frozen = true;
            p.last_login = Some(3);
        }
        out.push(p);
    }
    // Hostile text on dormant accountants (they show up in findings).
    out[7].title = Some("+1 (555) 0100".into());
    out[7].email_local = Some("+15550100".into());
    out[15].title = Some("\"Quotes\" & 'apostrophes'".into());
    out[22].first = Some("Zoë".into());
    out[22].last = "Ångström-Núñez".into();
    out
}

fn services(names: &mut Names) -> Vec<Person> {
    let mut out = Vec::new();
    let dormant = [(5, 121), (26, 185), (47, 240), (55, 300)];
    for i in 0..60u64 {
        let manager = i % 6 == 0;
        let (profile, title) = if manager {
            ("PSA Resource Manager", "Project Manager")
        } else {
            ("PSA Consultant", ["Consultant", "Senior Consultant", "Principal Consultant"][i as usize % 3])
        };
        let mut p = staff(names, profile, "Professional Services", title, 2000 + i);
        p.role = match i % 4 {
            0 => Some("Project Manager"),
            1 | 2 => Some("Consultant"),
            _ => None,
        };
        match i {
            0..25 => {
                p.sets = vec!["PSATimecardEntry"];
                if manager {
                    p.sets.extend(["PSACreateProjects", "PSAApproveTimecards"]);
                }
                if i % 5 == 2 {
                    p.sets.push("PSAResourceRequests");
                }
            }
            25..45 => p.groups = vec!["Project_Delivery"],
            45..53 => p.groups = vec!["PSAResources"],
            53..57 => p.sets = vec!["FF_PSA_Full_User"],
            _ => p.sets = vec!["PSA_Timecard_Entry"],
        }
        p.packages = if i % 2 == 0 { vec!["pse", "fferpcore"] } else { vec!["pse"] };
        if let Some((_, days)) = dormant.iter().find(|(at, _)| *at == i) {
            p.last_login = Some(*days);
            p.created = p.created.max(days + 200);
        }
        out.push(p);
    }
    // A contractor whose assignments expire at the end of the year.
    out[3].title = Some("Contract Consultant".into());
    out[3].expires_in = Some(41);
    out[26].department = Some("-2+3".into());
    out[47].title = Some(long_title());
    out
}

/// A 255-character title (Salesforce's maximum for User.Title is 80; the
/// simulator does not enforce lengths, and a report must not break on it).
fn long_title() -> String {
    let unit = "Senior Principal Consultant, Delivery Excellence & Transformation; ";
    let mut title: String = unit.repeat(4).chars().take(255).collect();
    title.replace_range(title.len() - 1.., ".");
    title
}

fn sales(names: &mut Names) -> Vec<Person> {
    const TITLES: &[&str] = &[
        "Account Executive",
        "Sales Development Representative",
        "Account Manager",
        "Sales Engineer",
        "Regional Sales Manager",
    ];
    let mut out = Vec::new();
    for i in 0..120u64 {
        let profile = if i % 6 == 5 { "Standard User" } else { "Sales User" };
        let mut p = staff(names, profile, "Sales", TITLES[i as usize % TITLES.len()], 3000 + i);
        p.role = match i % 5 {
            0 => Some("Sales Director"),
            1 | 2 => Some("Sales EMEA"),
            3 => Some("Sales North America"),
            _ => None,
        };
        p.sets = vec!["Sales_Cloud_User"];
        if i % 8 == 1 {
            p.sets.push("Capsacorp_Integration");
        }
        if i % 5 == 3 {
            p.sets.push("Staffa_Reporting");
        }
        if i % 12 == 4 {
            p.groups.push("SalesOpsBundle");
        }
        if i % 3 == 0 {
            p.sets.push("SteelBrickCPQUser");
            p.packages.push("SBQQ");
        }
        if i % 15 == 7 {
            p.packages.push("dlrs");
        }
        match i {
            // Deactivated, never had Certinia access.
            10 | 35 | 60 | 85 | 110 => {
                p.active = false;
                p.last_login = Some(between(i, 3, 40, 500));
                p.created = p.created.max(900);
            }
            // Dormant.
            13 | 27 | 41 | 55 | 69 | 83 | 97 | 111 => {
                p.last_login = Some(between(i, 4, 95, 350));
                p.created = p.created.max(400);
            }
            // Never logged in, created long ago.
            20 | 66 | 104 => {
                p.last_login = None;
                p.created = between(i, 5, 200, 900);
            }
            _ => {}
        }
        out.push(p);
    }
    out
}

fn leavers(names: &mut Names) -> Vec<Person> {
    let mut out = Vec::new();
    for i in 0..20u64 {
        let (department, profile, title) = match i % 20 {
            0..8 => ("Finance", "Finance User", "Accountant"),
            8..17 => ("Professional Services", "PSA Consultant", "Consultant"),
            _ => ("Operations", "Standard Platform User", "Operations Analyst"),
        };
        let mut p = staff(names, profile, department, title, 4000 + i);
        p.active = false;
        p.last_login = Some(between(i, 6, 30, 250));
        p.created = between(i, 8, 400, 2500);
        p.federated = i % 3 != 0;
        let finance = i < 8;
        match i {
            // Sets and licences retained.
            0 | 1 | 2 | 8 | 9 | 10 => {
                if finance {
                    p.sets = vec!["Accounting", "AccountingSalesInvoiceSave"];
                    p.packages = vec!["c2g", "fferpcore"];
                } else {
                    p.sets = vec!["PSATimecardEntry", "PSACreateProjects"];
                    p.packages = vec!["pse"];
                }
            }
            // Sets only (two through the neutral group).
            3 | 4 | 11 => {
                p.sets = if finance { vec!["Accounting"] } else { vec!["FF_PSA_Full_User"] };
            }
            12 | 13 => p.groups = vec!["Project_Delivery"],
            // Licences only.
            5 | 6 | 7 | 14 | 15 | 16 => {
                p.packages = if finance { vec!["c2g", "fferpcore"] } else { vec!["pse", "fferpcore"] };
            }
            // 17, 18, 19: nothing left.
            _ => {}
        }
        out.push(p);
    }
    // Hostile text on leavers (all but #19 appear in findings).
    out[0].first = None;
    out[0].last = "=HYPERLINK(\"http://evil.example\",\"click\")".into();
    out[0].username = Some(format!("eve.formula@{DOMAIN}"));
    out[0].email_local = Some("=1+1".into());
    out[1].first = Some("\tTabitha".into());
    out[1].last = "Lead".into();
    out[2].department = Some("<img src=x onerror=alert(1)>".into());
    out[8].first = Some("Line".into());
    out[8].last = "Break\nInjected".into();
    out[8].username = Some(format!("line.break@{DOMAIN}"));
    out[9].frozen = true;
    out[14].last_login = None;
    out
}

fn new_joiners(names: &mut Names) -> Vec<Person> {
    let created = [2, 5, 9, 12, 13, 21, 30, 38, 47, 59];
    let mut out = Vec::new();
    for (i, days) in created.into_iter().enumerate() {
        let (profile, department, title) = match i % 5 {
            0 | 1 => ("Finance User", "Finance", "Graduate Accountant"),
            2 | 3 => ("PSA Consultant", "Professional Services", "Associate Consultant"),
            _ => ("Sales User", "Sales", "Sales Development Representative"),
        };
        let mut p = staff(names, profile, department, title, 5000 + i as u64);
        p.created = days;
        p.last_login = None;
        match department {
            "Finance" => {
                p.sets = vec!["Accounting"];
                p.packages = vec!["c2g", "fferpcore"];
            }
            "Professional Services" => {
                p.groups = vec!["Project_Delivery"];
                p.packages = vec!["pse"];
            }
            _ => p.sets = vec!["Sales_Cloud_User"],
        }
        out.push(p);
    }
    out[6].title = Some("@SUM(A1)".into());
    out[2].last = "Smith\u{202E}fdp.exe".into();
    out[2].username = Some(format!("rtl.override@{DOMAIN}"));
    out[7].first = Some("Amara 👩‍💼".into());
    out
}

fn access_lacking(names: &mut Names) -> Vec<Person> {
    let mut out = Vec::new();
    for i in 0..6u64 {
        let mut p = staff(names, "Standard Platform User", "Operations", "Operations Coordinator", 6000 + i);
        p.role = Some("Operations");
        p.packages = match i {
            0..3 => vec!["pse"],
            3 | 4 => vec!["c2g", "fferpcore"],
            _ => vec!["fferpcore"],
        };
        p.sets = vec!["Staffa_Reporting"];
        out.push(p);
    }
    out[1].title = Some("<script>alert('x')</script>".into());
    out[4].email_local = Some("-2+3".into());
    out
}

fn portal_and_system(names: &mut Names) -> Vec<Person> {
    let mut out = Vec::new();
    for i in 0..14u64 {
        let plus = i < 6;
        let mut p = staff(
            names,
            if plus { "Customer Community Plus User" } else { "Customer Community User" },
            "",
            "Customer",
            7000 + i,
        );
        p.user_type = if plus { "PowerCustomerSuccess" } else { "CspLitePortal" };
        p.department = None;
        p.title = (i % 3 != 2).then(|| "Customer contact".to_string());
        p.federated = false;
        p.last_login = match i % 4 {
            0 => None,
            1 => Some(between(i, 9, 100, 600)),
            _ => Some(between(i, 9, 0, 60)),
        };
        p.created = between(i, 10, 700, 1500);
        p.email_local = Some(format!("{}.{}", ascii(p.first.as_deref().unwrap_or("")), ascii(&p.last)));
        match i {
            1 | 8 => p.sets = vec!["PSA_Community_Timecards"],
            3 => {
                p.sets = vec!["PSATimecardEntry"];
                p.packages = vec!["pse"];
            }
            _ => {}
        }
        p.active = i != 5;
        out.push(p);
    }
    for p in &mut out {
        let local = p.email_local.take().unwrap_or_default();
        p.username = Some(format!("{local}@customers.{DOMAIN}"));
    }
    let system = |first: Option<&str>,
                  last: &str,
                  username: String,
                  user_type: &'static str,
                  profile: &'static str,
                  last_login: Option<i64>| Person {
        first: first.map(str::to_string),
        last: last.into(),
        name: None,
        username: Some(username),
        email_local: Some("noreply".into()),
        user_type,
        profile,
        role: None,
        department: None,
        title: None,
        active: true,
        created: 2950,
        last_login,
        frozen: false,
        sets: Vec::new(),
        groups: Vec::new(),
        packages: Vec::new(),
        federated: false,
        expires_in: None,
    };
    out.push(system(
        Some("Northwind Site"),
        "Guest User",
        format!("northwind-site@{DOMAIN}.force.com"),
        "Guest",
        "Northwind Site Profile",
        None,
    ));
    out.push(system(
        None,
        "Automated Process",
        format!("autoproc@{DOMAIN}"),
        "AutomatedProcess",
        "Automated Process",
        None,
    ));
    for i in 0..4u64 {
        let mut p = staff(names, "Chatter Free User", "Partnerships", "Partner liaison", 8000 + i);
        p.user_type = "CsnOnly";
        p.federated = false;
        p.last_login = (i != 3).then(|| between(i, 11, 2, 200));
        out.push(p);
    }
    out
}

fn other_staff(names: &mut Names) -> Vec<Person> {
    let mut out = Vec::new();
    let teams: &[(&str, &str, &str, u64)] = &[
        ("Marketing", "Standard User", "Marketing Manager", 6),
        ("Human Resources", "Standard Platform User", "HR Business Partner", 4),
        ("IT", "Standard User", "IT Support Engineer", 4),
        ("Operations", "Standard Platform User", "Office Manager", 6),
    ];
    let mut salt = 9000;
    for (department, profile, title, n) in teams {
        for i in 0..*n {
            salt += 1;
            let mut p = staff(names, profile, department, title, salt);
            p.role = (*department == "Operations").then_some("Operations");
            p.sets = match *department {
                "Marketing" => vec!["Northwind_Marketing"],
                _ if i % 2 == 0 => vec!["Staffa_Reporting"],
                _ => Vec::new(),
            };
            if i == 1 {
                p.last_login = Some(between(salt, 12, 92, 200));
            }
            out.push(p);
        }
    }
    out
}

/// Who reports to whom, by position in the list of people (`starts`: where each group of
/// `demo_org` begins; `total`: how many people). The managing director (the first admin) heads the
/// company; each team has a head reporting to them; Services has a project manager for every six
/// people; portal, guest and system users have no manager. Two new PSA joiners still report to a
/// project manager who has left, and one deactivated sales head still has a team (reporting lines
/// nobody updated); leavers keep theirs.
fn reporting_lines(starts: &[usize; 9], total: usize) -> Vec<Option<usize>> {
    let [admins, finance, services, sales, leavers, joiners, lacking, portal, other] = *starts;
    let md = admins;
    let ops_head = other + 6 + 4 + 4; // Marketing 6, HR 4, IT 4, then Operations
    let mut lines = vec![None; total];
    for (n, line) in lines.iter_mut().enumerate() {
        *line = match n {
            n if n == md => None,
            n if n < finance => Some(md),
            n if n == finance => Some(md),
            n if n < services => Some(finance),
            n if n == services => Some(md),
            n if n < sales => {
                let head = services + (n - services) / 6 * 6;
                Some(if head == n { services } else { head })
            }
            n if n == sales => Some(md),
            n if n < leavers => {
                let head = sales + (n - sales) / 20 * 20;
                Some(if head == n { sales } else { head })
            }
            n if n < leavers + 8 => Some(finance),
            n if n < leavers + 17 => Some(services + 6),
            n if n < joiners => Some(ops_head),
            n if n < lacking => match (n - joiners) % 5 {
                0 | 1 => Some(finance),
                2 | 3 => Some(leavers + 8),
                _ => Some(sales),
            },
            n if n < portal => Some(ops_head),
            n if n < other => None,
            n => {
                let head = [other, other + 6, other + 10, other + 14].into_iter().rev().find(|h| *h <= n);
                match head {
                    Some(h) if h == n => Some(md),
                    h => h,
                }
            }
        };
    }
    lines
}

/// Builds the records.
struct Builder {
    users: Vec<Record>,
    psas: Vec<Record>,
    licences: Vec<Record>,
    logins: Vec<Record>,
    usernames: HashSet<String>,
    /// Nested PermissionSet values: regular sets by API name.
    sets: BTreeMap<&'static str, Value>,
    /// Aggregate sets of groups by developer name, with the group id.
    group_sets: BTreeMap<&'static str, (String, Value)>,
    /// Profile-owned sets and ids by profile name.
    profiles: BTreeMap<&'static str, (String, Value)>,
    packages: BTreeMap<&'static str, String>,
}

impl Builder {
    fn add(&mut self, p: Person) {
        let n = self.users.len() as u64;
        let salt = 50_000 + n;
        let user_id = sf_id("005", 4_100_000 + n * 37);
        let name = p.name.clone().unwrap_or_else(|| match &p.first {
            Some(first) => format!("{first} {}", p.last),
            None => p.last.clone(),
        });
        let base = match &p.first {
            Some(first) => format!("{}.{}", ascii(first), ascii(&p.last)),
            None => ascii(&p.last),
        };
        let mut username = p.username.clone().unwrap_or_else(|| format!("{base}@{DOMAIN}"));
        let mut k = 2;
        while !self.usernames.insert(username.clone()) {
            username = format!("{base}{k}@{DOMAIN}");
            k += 1;
        }
        let email = match &p.email_local {
            Some(local) => format!("{local}@{DOMAIN}"),
            None => username.clone(),
        };
        let (profile_id, profile_set) = self.profiles[p.profile].clone();
        let licence = PROFILES.iter().find(|(name, _)| *name == p.profile).map(|(_, l)| *l).expect("listed profile");
        let role_id = p.role.map(|r| {
            let i = ROLES.iter().position(|x| *x == r).expect("listed role");
            sf_id("00E", 52_000 + i as u64 * 11)
        });
        let created = days_ago(p.created, salt);
        let last_login = p.last_login.map(|d| {
            // Never before creation; logins of today are before the as-of instant.
            days_ago(d, salt + 1).max(created + 3600).min(AS_OF - 60)
        });
        self.users.push(record(json!({
            "Id": user_id,
            "Username": username,
            "Name": name,
            "FirstName": p.first,
            "LastName": p.last,
            "Email": email,
            "IsActive": p.active,
            "UserType": p.user_type,
            "ProfileId": profile_id,
            "Profile": {"Name": p.profile, "UserLicense": {"Name": licence}},
            "UserRoleId": role_id,
            "UserRole": p.role.map(|r| json!({"Name": r})),
            "Department": p.department,
            "Title": p.title,
            "FederationIdentifier": p.federated.then(|| format!("NW{:05}", 10_000 + n * 7)),
            "CreatedDate": datetime(created),
            "LastLoginDate": last_login.map(datetime),
            // Filled by `reporting_lines` once every user exists.
            "ManagerId": null,
            "Manager": null,
        })));
        self.logins.push(record(json!({
            "Id": sf_id("060", 8_300_000 + n * 41),
            "UserId": user_id,
            "IsFrozen": p.frozen,
            "IsPasswordLocked": n % 97 == 13,
        })));
        let expiration = p.expires_in.map(|d| datetime(AS_OF + d * DAY));
        let mut assign = |ps: &Value, group_id: Option<&str>, expiration: Option<&String>| {
            let id = sf_id("0Pa", 9_700_000 + self.psas.len() as u64 * 29);
            self.psas.push(record(json!({
                "Id": id,
                "AssigneeId": user_id,
                "PermissionSetId": ps["Id"],
                "PermissionSet": ps,
                "PermissionSetGroupId": group_id,
                "IsActive": true,
                "ExpirationDate": expiration,
            })));
        };
        assign(&profile_set, None, None);
        for set in &p.sets {
            assign(&self.sets[set], None, expiration.as_ref());
        }
        for group in &p.groups {
            let (group_id, ps) = &self.group_sets[group];
            assign(ps, Some(group_id), None);
        }
        for ns in &p.packages {
            let id = sf_id("051", 6_600_000 + self.licences.len() as u64 * 23);
            let status = PACKAGES.iter().find(|(n, _)| n == ns).map(|(_, s)| *s).expect("listed package");
            self.licences.push(record(json!({
                "Id": id,
                "UserId": user_id,
                "PackageLicenseId": self.packages[ns],
                "PackageLicense": {"NamespacePrefix": ns, "Status": status},
            })));
        }
    }
}

/// A date `days` days after the instant `as_of`'s UTC date (before it when negative).
fn date_at(as_of: i64, days: i64) -> String {
    chrono::DateTime::from_timestamp(as_of + days * DAY, 0).expect("in range").format("%Y-%m-%d").to_string()
}

/// Permission set licences: (developer name, label, total).
const PERMISSION_SET_LICENCES: &[(&str, &str, i64)] = &[
    ("PSA_Resource", "PSA Resource", 60),
    ("FinancialForce_Accounting", "FinancialForce Accounting", 55),
    ("SalesforceCPQ_CPQStandardPerm", "Salesforce CPQ License", 40),
    ("IdentityConnect", "Identity Connect", -1),
];

/// Accounting companies: (name).
const COMPANIES: &[&str] = &["Northwind Consulting UK Ltd", "Northwind Consulting GmbH", "Northwind Consulting Inc."];

/// PSA scopes a permission control can name: (relationship, key prefix, names).
const SCOPES: &[(&str, &str, &[&str])] = &[
    ("pse__Region", "a0R", &["EMEA", "North America", "APAC"]),
    ("pse__Practice", "a0S", &["Implementation", "Advisory"]),
    ("pse__Group", "a0T", &["Delivery UK", "Delivery DE"]),
    ("pse__Project", "a0U", &["Contoso ERP Rollout", "Fabrikam PSA Upgrade"]),
];

/// PSA and Accounting data of the demo org, from its users: package and permission set licences
/// (some `UsedLicenses` differ from the assignments), PSA resources (active and inactive) and
/// permission controls (no end date, ended, ending today, tomorrow, later) for the holders of PSA
/// permission sets, and user companies for the holders of Accounting ones; deactivated users keep
/// theirs, as Salesforce and Certinia leave them.
/// PSA, Accounting and the seats they cost, built from the org's users, permission set
/// assignments and package licence assignments: `packages` are (namespace, status, the
/// `PackageLicense` Id the assignments point to); dates are relative to the instant `as_of`.
pub(super) fn certinia(objects: &mut BTreeMap<String, Vec<Record>>, packages: &[(&str, &str, String)], as_of: i64) {
    let date = |days: i64| date_at(as_of, days);
    let holders = |ns: &str| -> Vec<String> {
        let mut ids: Vec<String> = objects["PermissionSetAssignment"]
            .iter()
            .filter(|a| a["PermissionSet"]["NamespacePrefix"].as_str() == Some(ns))
            .filter_map(|a| a["AssigneeId"].as_str().map(String::from))
            .collect();
        ids.sort();
        ids.dedup();
        ids
    };
    let (psa, accounting) = (holders("pse"), holders("c2g"));
    let users: BTreeMap<String, Record> =
        objects["User"].iter().map(|u| (u["Id"].as_str().expect("ids").to_string(), u.clone())).collect();
    let name = |id: &str| users[id]["Name"].clone();

    let mut assigned: BTreeMap<&str, i64> = BTreeMap::new();
    for l in &objects["UserPackageLicense"] {
        let ns = l["PackageLicense"]["NamespacePrefix"].as_str().expect("namespaces");
        *assigned.entry(packages.iter().find(|(n, ..)| *n == ns).expect("a listed package").0).or_default() += 1;
    }
    let package_licences: Vec<Record> = packages
        .iter()
        .enumerate()
        .map(|(i, (ns, status, id))| {
            let used = assigned.get(ns).copied().unwrap_or(0);
            // PSA counts two seats more than it has assignments: shown, never corrected.
            let used = if *ns == "pse" { used + 2 } else { used };
            let allowed = if *status == "Free" { -1 } else { used + 5 + i as i64 * 3 };
            record(json!({
                "Id": id,
                "NamespacePrefix": ns,
                "Status": status,
                "AllowedLicenses": allowed,
                "UsedLicenses": used,
                "ExpirationDate": (*status != "Free").then(|| datetime(as_of + (200 + i as i64 * 30) * DAY)),
                "IsProvisioned": true,
            }))
        })
        .collect();

    let psl_id = |i: usize| sf_id("0PL", 730_000 + i as u64 * 7);
    let mut psl_assigns = Vec::new();
    let mut psl_used = vec![0i64; PERMISSION_SET_LICENCES.len()];
    let mut give = |licence: usize, user: &str| {
        psl_used[licence] += 1;
        psl_assigns.push(record(json!({
            "Id": sf_id("2LA", 640_000 + psl_assigns.len() as u64 * 11),
            "AssigneeId": user,
            "PermissionSetLicenseId": psl_id(licence),
        })));
    };
    for u in &psa {
        give(0, u);
    }
    for u in &accounting {
        give(1, u);
    }
    for (n, u) in users.keys().enumerate() {
        if users[u]["Department"].as_str() == Some("Sales") && n % 3 == 0 {
            give(2, u);
        }
    }
    let licences: Vec<Record> = PERMISSION_SET_LICENCES
        .iter()
        .enumerate()
        .map(|(i, (dev, label, total))| {
            // Accounting's licence counts one seat fewer than its assignments.
            let used = if i == 1 { psl_used[i] - 1 } else { psl_used[i] };
            record(json!({
                "Id": psl_id(i),
                "DeveloperName": dev,
                "MasterLabel": label,
                "PermissionSetLicenseKey": dev,
                "Status": "Active",
                "TotalLicenses": total,
                "UsedLicenses": used,
                "ExpirationDate": (*total > 0).then(|| date(365 + i as i64 * 31)),
            }))
        })
        .collect();

    let mut contacts = Vec::new();
    let mut controls = Vec::new();
    let ends = [None, Some(-30), Some(0), Some(1), Some(90), Some(-1)];
    for (n, u) in psa.iter().enumerate() {
        let contact = sf_id("003", 510_000 + n as u64 * 13);
        let active_user = users[u]["IsActive"] == json!(true);
        // Every seventh resource has been set inactive; a leaver's resource mostly stays active.
        let active = n % 7 != 3 || !active_user && n % 2 == 0;
        contacts.push(record(json!({
            "Id": contact,
            "Name": name(u),
            "FirstName": users[u]["FirstName"],
            "LastName": users[u]["LastName"],
            "Email": users[u]["Email"],
            "pse__Salesforce_User__c": u,
            "pse__Is_Resource__c": true,
            "pse__Is_Resource_Active__c": active,
            "pse__Start_Date__c": date(-400 - n as i64 * 5),
        })));
        if n % 4 == 3 {
            continue; // a resource without permission controls
        }
        let (scope, prefix, names) = SCOPES[n % SCOPES.len()];
        let k = n % names.len();
        let mut control = json!({
            "Id": sf_id("a0P", 560_000 + controls.len() as u64 * 17),
            "Name": format!("PC-{:04}", controls.len() + 1),
            "pse__User__c": u,
            "pse__User__r": {"Id": u},
            "pse__Cascading_Permission__c": n % 2 == 0,
            "pse__Start_Date__c": date(-365),
            "pse__End_Date__c": ends[n % ends.len()].map(date),
            "pse__Timecard_Entry__c": true,
            "pse__Expense_Entry__c": n % 3 == 0,
            "pse__Billing__c": n % 5 == 0,
            "pse__Resource_Request_Entry__c": false,
        });
        control[format!("{scope}__c")] = json!(sf_id(prefix, 20_000 + k as u64));
        control[format!("{scope}__r")] = json!({"Name": names[k]});
        controls.push(record(control));
        if n % 5 == 1 {
            // A second control over the resource itself.
            controls.push(record(json!({
                "Id": sf_id("a0P", 560_000 + controls.len() as u64 * 17),
                "Name": format!("PC-{:04}", controls.len() + 1),
                "pse__User__c": u,
                "pse__User__r": {"Id": u},
                "pse__Resource__c": contact,
                "pse__Resource__r": {"Name": name(u)},
                "pse__Cascading_Permission__c": false,
                "pse__Start_Date__c": null,
                "pse__End_Date__c": null,
                "pse__Timecard_Entry__c": true,
                "pse__Expense_Entry__c": true,
                "pse__Billing__c": false,
                "pse__Resource_Request_Entry__c": true,
            })));
        }
    }
    let mut companies = Vec::new();
    for (n, u) in accounting.iter().enumerate() {
        for c in 0..(1 + n % 2) {
            let k = (n + c) % COMPANIES.len();
            companies.push(record(json!({
                "Id": sf_id("a1U", 590_000 + companies.len() as u64 * 19),
                "Name": format!("UC-{:04}", companies.len() + 1),
                "c2g__User__c": u,
                "c2g__User__r": {"Id": u},
                "c2g__Company__c": sf_id("a1C", 30_000 + k as u64),
                "c2g__Company__r": {"Name": COMPANIES[k]},
                "c2g__UseLocalAccount__c": false,
            })));
        }
    }
    objects.insert("PackageLicense".into(), package_licences);
    objects.insert("PermissionSetLicense".into(), licences);
    objects.insert("PermissionSetLicenseAssign".into(), psl_assigns);
    objects.insert("Contact".into(), contacts);
    objects.insert("pse__Permission_Control__c".into(), controls);
    objects.insert("c2g__codaUserCompany__c".into(), companies);
}

/// The demo org (see the module documentation). Deterministic; passes
/// [`Org::validate`].
pub fn demo_org() -> Org {
    let mut objects: BTreeMap<String, Vec<Record>> = BTreeMap::new();
    objects.insert(
        "Organization".into(),
        vec![record(json!({
            "Id": sf_id("00D", 3_141_592),
            "Name": "Northwind Consulting",
            "InstanceName": "EU45",
            "IsSandbox": false,
            "OrganizationType": "Enterprise Edition",
        }))],
    );

    let mut ps_n = 0u64;
    let mut next_ps_id = || {
        ps_n += 1;
        sf_id("0PS", 2_700_000 + ps_n * 13)
    };
    let sets: BTreeMap<&'static str, Value> = SETS
        .iter()
        .map(|(name, label, ns)| {
            let id = next_ps_id();
            (*name, permission_set(&id, name, label, *ns, false, "Regular", None))
        })
        .collect();
    let profiles: BTreeMap<&'static str, (String, Value)> = PROFILES
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            let profile_id = sf_id("00e", 1_900_000 + i as u64 * 17);
            let ps_name = format!("X{}_128_09_04_12_{}", &profile_id[..15], i + 1);
            let ps = permission_set(&next_ps_id(), &ps_name, name, None, true, "Profile", None);
            (*name, (profile_id, ps))
        })
        .collect();

    let mut groups = Vec::new();
    let mut components = Vec::new();
    let mut group_sets = BTreeMap::new();
    for (i, (dev, label, ns, parts)) in GROUPS.iter().enumerate() {
        let group_id = sf_id("0PG", 310_000 + i as u64 * 19);
        groups.push(record(json!({
            "Id": group_id,
            "DeveloperName": dev,
            "MasterLabel": label,
            "NamespacePrefix": ns,
            "Status": "Updated",
        })));
        for part in *parts {
            let ps = &sets[part];
            components.push(record(json!({
                "Id": sf_id("0PH", 420_000 + components.len() as u64 * 7),
                "PermissionSetGroupId": group_id,
                "PermissionSetId": ps["Id"],
                "PermissionSet": ps,
            })));
        }
        let aggregate = permission_set(&next_ps_id(), dev, label, *ns, false, "Group", Some(&group_id));
        group_sets.insert(*dev, (group_id, aggregate));
    }
    objects.insert("PermissionSetGroup".into(), groups);
    objects.insert("PermissionSetGroupComponent".into(), components);

    let package_ids: Vec<(&str, &str, String)> = PACKAGES
        .iter()
        .enumerate()
        .map(|(i, (ns, status))| (*ns, *status, sf_id("050", 880_000 + i as u64 * 3)))
        .collect();
    let packages = package_ids.iter().map(|(ns, _, id)| (*ns, id.clone())).collect();

    let mut b = Builder {
        users: Vec::new(),
        psas: Vec::new(),
        licences: Vec::new(),
        logins: Vec::new(),
        usernames: HashSet::new(),
        sets,
        group_sets,
        profiles,
        packages,
    };
    let mut names = Names { next: 0 };
    let people = [
        admins(&mut names),
        finance(&mut names),
        services(&mut names),
        sales(&mut names),
        leavers(&mut names),
        new_joiners(&mut names),
        access_lacking(&mut names),
        portal_and_system(&mut names),
        other_staff(&mut names),
    ];
    let mut starts = [0usize; 9];
    for i in 1..starts.len() {
        starts[i] = starts[i - 1] + people[i - 1].len();
    }
    let total = starts[8] + people[8].len();
    for person in people.into_iter().flatten() {
        b.add(person);
    }
    for (n, manager) in reporting_lines(&starts, total).into_iter().enumerate() {
        let Some(m) = manager else { continue };
        let (id, name, email) = (b.users[m]["Id"].clone(), b.users[m]["Name"].clone(), b.users[m]["Email"].clone());
        b.users[n].insert("ManagerId".into(), id);
        b.users[n].insert("Manager".into(), json!({"Name": name, "Email": email}));
    }
    objects.insert("User".into(), b.users);
    objects.insert("PermissionSetAssignment".into(), b.psas);
    objects.insert("UserPackageLicense".into(), b.licences);
    objects.insert("UserLogin".into(), b.logins);
    certinia(&mut objects, &package_ids, AS_OF);

    let mut org = Org::empty();
    *org.objects_mut() = objects;
    org
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, HashMap};

    const CERTINIA: &[&str] = &["c2g", "fferpcore", "pse"];

    fn s<'a>(v: &'a Value, key: &str) -> &'a str {
        v[key].as_str().unwrap_or("")
    }

    #[test]
    fn demo_org_is_valid_and_deterministic() {
        let org = demo_org();
        org.validate().unwrap();
        assert_eq!(org, demo_org());
        let orgs = org.records("Organization");
        assert_eq!(orgs.len(), 1);
        assert_eq!(orgs[0]["Name"], "Northwind Consulting");
        assert_eq!(orgs[0]["InstanceName"], "EU45");
        assert_eq!(orgs[0]["IsSandbox"], false);
        assert!(s(&Value::Object(orgs[0].clone()), "Id").starts_with("00D"));
        // Dates are all in the past of the as-of instant.
        let as_of = chrono::DateTime::parse_from_rfc3339(DEMO_AS_OF).unwrap();
        assert_eq!(as_of.timestamp(), AS_OF);
        for u in org.records("User") {
            let created = u["CreatedDate"].as_str().unwrap();
            assert!(created < "2026-11-20T09:00:00.000+0000", "{created}");
            if let Some(login) = u["LastLoginDate"].as_str() {
                assert!(login < "2026-11-20T09:00:00.000+0000", "{login}");
                assert!(login > created, "{u:?}");
            }
        }
        let usernames: HashSet<_> =
            org.records("User").iter().map(|u| u["Username"].as_str().unwrap().to_lowercase()).collect();
        assert_eq!(usernames.len(), org.records("User").len());
    }

    #[test]
    fn demo_org_has_reporting_lines() {
        let org = demo_org();
        let users = org.records("User");
        let by_id: HashMap<&str, &Record> = users.iter().map(|u| (u["Id"].as_str().unwrap(), u)).collect();
        let mut reports: HashMap<&str, usize> = HashMap::new();
        for u in users {
            let Some(manager) = u["ManagerId"].as_str() else {
                assert!(u["Manager"].is_null());
                continue;
            };
            let m = by_id[manager];
            assert_eq!(u["Manager"]["Name"], m["Name"]);
            assert_eq!(u["Manager"]["Email"], m["Email"]);
            *reports.entry(manager).or_default() += 1;
        }
        // The managing director, the team heads and project managers, and a leaver.
        assert!(reports.len() >= 20, "{}", reports.len());
        let standard_without = users.iter().filter(|u| u["ManagerId"].is_null() && u["UserType"] == "Standard").count();
        assert_eq!(standard_without, 1, "only the managing director");
        let deactivated_managers = reports.keys().filter(|id| by_id[**id]["IsActive"] == false).count();
        assert_eq!(deactivated_managers, 2, "a deactivated sales head's team and two joiners name a leaver");
        // No cycle: following managers always ends.
        for u in users {
            let mut at = u;
            for _ in 0..10 {
                match at["ManagerId"].as_str() {
                    Some(m) => at = by_id[m],
                    None => break,
                }
            }
            assert!(at["ManagerId"].is_null(), "a reporting line longer than 10 or a cycle");
        }
    }

    #[test]
    fn demo_org_has_every_category() {
        let org = demo_org();
        let users = org.records("User");
        assert_eq!(users.len(), 300);
        let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
        for u in users {
            *by_type.entry(u["UserType"].as_str().unwrap()).or_default() += 1;
        }
        assert_eq!(
            by_type,
            BTreeMap::from([
                ("AutomatedProcess", 1),
                ("CspLitePortal", 8),
                ("CsnOnly", 4),
                ("Guest", 1),
                ("PowerCustomerSuccess", 6),
                ("Standard", 280),
            ])
        );
        let standard: Vec<&Record> = users.iter().filter(|u| u["UserType"] == "Standard").collect();
        let inactive = standard.iter().filter(|u| u["IsActive"] == false).count();
        assert_eq!(inactive, 20 + 5, "leavers and deactivated sales users");
        let dept = |d: &str| users.iter().filter(|u| u["Department"] == d).count();
        assert_eq!(dept("Finance"), 40 + 8 + 4 - 1, "one leaver has a hostile department");
        assert_eq!(dept("Professional Services"), 60 + 9 + 4 - 1, "one has a hostile department");
        assert_eq!(dept("Sales"), 120 + 2);

        // Certinia access by user id.
        let mut certinia_sets: HashMap<&str, usize> = HashMap::new();
        let group_ns: HashMap<&str, bool> = {
            // Groups that hold a Certinia component.
            let mut m = HashMap::new();
            for c in org.records("PermissionSetGroupComponent") {
                let certinia = CERTINIA.contains(&s(&c["PermissionSet"], "NamespacePrefix"));
                let e = m.entry(c["PermissionSetGroupId"].as_str().unwrap()).or_insert(false);
                *e |= certinia;
            }
            m
        };
        for a in org.records("PermissionSetAssignment") {
            let ps = &a["PermissionSet"];
            if ps["IsOwnedByProfile"] == true {
                continue;
            }
            let label = s(ps, "Label");
            let by_ns = CERTINIA.contains(&s(ps, "NamespacePrefix"));
            let by_group = a["PermissionSetGroupId"].as_str().is_some_and(|g| group_ns[g]);
            let by_name = label.contains("PSA") && !label.contains("Community");
            if by_ns || by_group || by_name {
                *certinia_sets.entry(a["AssigneeId"].as_str().unwrap()).or_default() += 1;
            }
        }
        let mut certinia_licence: HashSet<&str> = HashSet::new();
        for l in org.records("UserPackageLicense") {
            if CERTINIA.contains(&s(&l["PackageLicense"], "NamespacePrefix")) {
                certinia_licence.insert(l["UserId"].as_str().unwrap());
            }
        }
        let id = |u: &Record| u["Id"].as_str().unwrap().to_string();
        let has_set = |u: &Record| certinia_sets.contains_key(id(u).as_str());
        let has_licence = |u: &Record| certinia_licence.contains(id(u).as_str());

        // Leavers: 17 retain something, 3 nothing.
        let leavers: Vec<&&Record> =
            standard.iter().filter(|u| u["IsActive"] == false && u["Department"] != "Sales").collect();
        assert_eq!(leavers.len(), 20);
        let retained = leavers.iter().filter(|u| has_set(u) || has_licence(u)).count();
        assert_eq!(retained, 17);
        // Deactivated sales users hold nothing.
        assert!(
            standard
                .iter()
                .filter(|u| u["IsActive"] == false && u["Department"] == "Sales")
                .all(|u| !has_set(u) && !has_licence(u))
        );
        // Sales users never have Certinia access.
        assert!(users.iter().filter(|u| u["Department"] == "Sales").all(|u| !has_set(u) && !has_licence(u)));
        // Access lacking: active standard users with a licence and no set.
        let lacking = standard.iter().filter(|u| u["IsActive"] == true && has_licence(u) && !has_set(u)).count();
        assert_eq!(lacking, 6);
        // Never logged in, active, standard: 10 new joiners and 3 sales users.
        let never: Vec<&&Record> =
            standard.iter().filter(|u| u["IsActive"] == true && u["LastLoginDate"].is_null()).collect();
        assert_eq!(never.len(), 13);
        let day = |u: &Record| {
            let created =
                chrono::DateTime::parse_from_str(u["CreatedDate"].as_str().unwrap(), "%Y-%m-%dT%H:%M:%S%.3f%z")
                    .unwrap();
            (AS_OF - created.timestamp()) / DAY
        };
        assert_eq!(never.iter().filter(|u| day(u) < 14).count(), 5);
        assert_eq!(never.iter().filter(|u| (20..=60).contains(&day(u))).count(), 5);
        // Dormant Finance users: active, last login 100-400 days before.
        let finance_dormant = standard
            .iter()
            .filter(|u| u["Department"] == "Finance" && u["IsActive"] == true)
            .filter(|u| {
                u["LastLoginDate"].as_str().is_some_and(|d| {
                    let t = chrono::DateTime::parse_from_str(d, "%Y-%m-%dT%H:%M:%S%.3f%z").unwrap().timestamp();
                    (100..=400).contains(&((AS_OF - t) / DAY))
                })
            })
            .count();
        assert_eq!(finance_dormant, 5);

        // Frozen: one finance user, one leaver.
        let frozen: HashSet<&str> = org
            .records("UserLogin")
            .iter()
            .filter(|l| l["IsFrozen"] == true)
            .map(|l| l["UserId"].as_str().unwrap())
            .collect();
        assert_eq!(frozen.len(), 2);
        assert_eq!(org.records("UserLogin").len(), 300);

        // Every user has exactly one profile-owned assignment labelled with the profile.
        let mut profile_owned: HashMap<&str, usize> = HashMap::new();
        for a in org.records("PermissionSetAssignment") {
            if a["PermissionSet"]["IsOwnedByProfile"] == true {
                assert_eq!(a["PermissionSet"]["Type"], "Profile");
                assert!(s(&a["PermissionSet"], "Name").starts_with("X00e"));
                *profile_owned.entry(a["AssigneeId"].as_str().unwrap()).or_default() += 1;
            }
        }
        assert_eq!(profile_owned.len(), 300);
        assert!(profile_owned.values().all(|&n| n == 1));

        // The neutral group: assignments carry the group id and its aggregate set.
        let group =
            org.records("PermissionSetGroup").iter().find(|g| g["DeveloperName"] == "Project_Delivery").unwrap();
        let via_group: Vec<&Record> = org
            .records("PermissionSetAssignment")
            .iter()
            .filter(|a| a["PermissionSetGroupId"] == group["Id"])
            .collect();
        assert_eq!(via_group.len(), 20 + 2 + 4, "services, leavers, new joiners");
        for a in via_group {
            let ps = &a["PermissionSet"];
            assert_eq!(ps["Type"], "Group");
            assert_eq!(ps["NamespacePrefix"], Value::Null);
            assert_eq!(ps["PermissionSetGroupId"], group["Id"]);
            assert_eq!(ps["Label"], "Project Delivery");
        }
        assert!(
            org.records("PermissionSetGroup")
                .iter()
                .any(|g| { g["MasterLabel"] == "Certinia - PSA - Resource" && g["NamespacePrefix"] == "pse" })
        );

        // Package licence namespaces, Certinia and not.
        let ns: HashSet<&str> =
            org.records("UserPackageLicense").iter().map(|l| s(&l["PackageLicense"], "NamespacePrefix")).collect();
        assert_eq!(ns, HashSet::from(["c2g", "fferpcore", "pse", "SBQQ", "dlrs"]));

        // Portal users with PSA-named sets.
        let portal_with_psa = users
            .iter()
            .filter(|u| u["UserType"] == "PowerCustomerSuccess" || u["UserType"] == "CspLitePortal")
            .filter(|u| {
                org.records("PermissionSetAssignment")
                    .iter()
                    .any(|a| a["AssigneeId"] == u["Id"] && s(&a["PermissionSet"], "Label").contains("PSA"))
            })
            .count();
        assert_eq!(portal_with_psa, 3);
    }

    #[test]
    fn demo_org_has_hostile_text() {
        let org = demo_org();
        let text: Vec<String> = org
            .records("User")
            .iter()
            .flat_map(|u| ["Name", "Title", "Department", "Email"].map(|k| u[k].as_str().unwrap_or("").to_string()))
            .collect();
        let has = |needle: &str| text.iter().any(|t| t.contains(needle));
        for needle in [
            "=HYPERLINK(\"http://evil.example\",\"click\")",
            "+1 (555) 0100",
            "-2+3",
            "@SUM(A1)",
            "\tTabitha",
            "<script>alert('x')</script>",
            "<img src=x onerror=alert(1)>",
            "\"Quotes\" & 'apostrophes'",
            "Break\nInjected",
            "\u{202E}",
            "👩‍💼",
            "Zoë Ångström-Núñez",
        ] {
            assert!(has(needle), "{needle:?}");
        }
        assert!(text.iter().any(|t| t.chars().count() == 255));
        assert!(text.iter().any(|t| t.starts_with('=')));
        for u in org.records("User") {
            let username = u["Username"].as_str().unwrap();
            assert!(username.bytes().all(|b| b.is_ascii_alphanumeric() || b"@.-".contains(&b)), "{username}");
        }
    }
}
