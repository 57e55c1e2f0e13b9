//! The reports an auditor receives, from the shipped demo snapshot, through the real binary:
//! reproducible, readable by a real XLSX reader, and never executing the org's text.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use calamine::{Data, Reader, Xlsx};
use serde_json::{Map, Value};

use crate::common::*;

const AS_OF: &str = "2026-11-20T09:00:00Z";

fn demo() -> PathBuf {
    fixtures().join("demo-org")
}

/// `report` on the demo snapshot into `work/out`.
fn report(work: &Path, out: &str, extra: &[&str]) -> std::process::Output {
    bin(work)
        .args(["report", "--snapshot"])
        .arg(demo())
        .args(["--out", out, "--as-of", AS_OF])
        .args(extra)
        .output()
        .unwrap()
}

fn demo_users() -> Vec<Map<String, Value>> {
    std::fs::read_to_string(demo().join("User.ndjson"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_readme_first_command_writes_every_report() {
    let work = tempfile::tempdir().unwrap();
    let output = report(work.path(), "reports", &[]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let out = work.path().join("reports");
    for file in [
        "report.html",
        "access-review.xlsx",
        "summary.json",
        "inactive-users.csv",
        "never-logged-in.csv",
        "certinia-access-retained.csv",
        "certinia-access-lacking.csv",
        "access-matrix.csv",
    ] {
        assert!(out.join(file).is_file(), "{file}");
    }
    // The evidence travels with the reports, and still verifies.
    access_audit::snapshot::verify(&out.join("snapshot")).unwrap();
    // summary.json counts are the CSV row counts.
    let summary: Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    for (slug, count) in summary["reports"].as_object().unwrap() {
        let rows = csv::Reader::from_path(out.join(format!("{slug}.csv"))).unwrap().records().count();
        assert_eq!(count.as_u64().unwrap(), rows as u64, "{slug}");
        assert!(rows > 0, "the demo org exercises {slug}");
    }
    assert_eq!(summary["as_of"], "2026-11-20T09:00:00Z");
}

#[test]
fn the_same_snapshot_and_as_of_give_byte_identical_outputs() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("roster.csv"), "federation_id,username,email\n,nobody@example.com,\n").unwrap();
    for out in ["a", "b"] {
        let output = report(work.path(), out, &["--roster", "roster.csv"]);
        assert!(output.status.success(), "{}", stderr_of(&output));
    }
    let mut compared = 0;
    for entry in std::fs::read_dir(work.path().join("a")).unwrap() {
        let name = entry.unwrap().file_name();
        let a = work.path().join("a").join(&name);
        if a.is_dir() {
            continue;
        }
        let b = std::fs::read(work.path().join("b").join(&name)).unwrap();
        assert!(std::fs::read(&a).unwrap() == b, "{name:?} differs between two runs");
        compared += 1;
    }
    assert_eq!(
        compared, 14,
        "seven CSVs and seats.csv, summary.json, report.html, email.html, email.txt, the workbook and access-audit-files.json"
    );
}

#[test]
fn the_workbook_reads_back_with_sheets_tables_dates_and_dropdowns() {
    let work = tempfile::tempdir().unwrap();
    assert!(report(work.path(), "out", &[]).status.success());
    let path = work.path().join("out/access-review.xlsx");
    let mut book: Xlsx<_> = calamine::open_workbook(&path).unwrap();
    assert_eq!(
        book.sheet_names(),
        [
            "Summary",
            "Instructions",
            "Seats",
            "Inactive",
            "Never logged in",
            "Certinia retained",
            "Certinia lacking",
            "Access matrix",
            "Run"
        ]
    );
    let sheet = book.worksheet_range("Inactive").unwrap();
    let header: Vec<String> = sheet.rows().next().unwrap().iter().map(|c| c.to_string()).collect();
    assert_eq!(header[0], "Id");
    assert_eq!(&header[header.len() - 5..], ["Decision", "Reviewer", "DecidedOn", "Ticket", "Comment"]);
    let last_login = header.iter().position(|h| h == "LastLoginDate").unwrap();
    let row = sheet.rows().nth(1).unwrap();
    assert!(matches!(row[last_login], Data::DateTime(_)), "a real date cell: {:?}", row[last_login]);
    let days = header.iter().position(|h| h == "DaysSinceLogin").unwrap();
    assert!(matches!(row[days], Data::Float(_) | Data::Int(_)), "a number: {:?}", row[days]);
    let run = book.worksheet_range("Run").unwrap();
    let text: Vec<String> = run.rows().flat_map(|r| r.iter().map(|c| c.to_string())).collect();
    assert!(text.iter().any(|t| t.starts_with("SELECT Id, Username")), "the SOQL is on the Run sheet");
    let as_of = run.rows().find(|r| r[0] == Data::String("As of (UTC)".into())).expect("an As of row");
    match &as_of[1] {
        Data::DateTime(d) => {
            // Excel counts days from 1899-12-30.
            let epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30).unwrap().and_hms_opt(0, 0, 0).unwrap();
            let expected = chrono::DateTime::parse_from_rfc3339(AS_OF).unwrap().naive_utc() - epoch;
            assert!((d.as_f64() - expected.num_seconds() as f64 / 86_400.0).abs() < 1e-6, "{d:?}");
        }
        other => panic!("as-of is not a date cell: {other:?}"),
    }

    // What calamine does not expose, the XML shows: the drop-down, the tables' filters, the frozen header.
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
    let mut xml = |name: &str| {
        let mut s = String::new();
        zip.by_name(name).unwrap_or_else(|_| panic!("{name}")).read_to_string(&mut s).unwrap();
        s
    };
    let inactive = xml("xl/worksheets/sheet4.xml"); // after Summary, Instructions and Seats
    assert!(inactive.contains(r#"type="list""#), "a list validation");
    assert!(inactive.contains("Deactivate,Freeze,Keep,Investigate"), "the Decision drop-down");
    assert!(inactive.contains(r#"ySplit="1""#) && inactive.contains("frozen"), "a frozen header");
    assert!(inactive.contains("<tableParts"), "an Excel table");
    assert!(xml("xl/tables/table1.xml").contains("<autoFilter"), "with filters");
}

const HOSTILE_FIELDS: [&str; 3] = ["Name", "Title", "Department"];

/// The org's hostile texts: (user Id, field, text).
fn hostile_texts() -> Vec<(String, &'static str, String)> {
    let mut found = Vec::new();
    for u in demo_users() {
        for field in HOSTILE_FIELDS {
            let Some(text) = u[field].as_str() else { continue };
            if text.starts_with(['=', '+', '-', '@', '\t', '\r']) || text.contains(['<', '>', '"', '\n', '\u{202E}']) {
                found.push((u["Id"].as_str().unwrap().to_string(), field, text.to_string()));
            }
        }
    }
    found
}

#[test]
fn hostile_names_round_trip_and_never_execute() {
    let hostile = hostile_texts();
    assert!(hostile.len() >= 8, "the demo org carries hostile text: {hostile:?}");
    assert!(hostile.iter().any(|(_, _, t)| t.contains("<script>")));
    assert!(hostile.iter().any(|(_, _, t)| t.starts_with('=')));
    let work = tempfile::tempdir().unwrap();
    assert!(report(work.path(), "out", &[]).status.success());
    let out = work.path().join("out");

    // CSV: the same text, with a leading ' where a spreadsheet would see a formula.
    let mut reader = csv::Reader::from_path(out.join("access-matrix.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = |field: &str| headers.iter().position(|h| h == field).unwrap();
    let csv_rows: BTreeMap<String, csv::StringRecord> =
        reader.records().map(|r| r.unwrap()).map(|r| (r[0].to_string(), r)).collect();
    assert!(csv_rows.len() > 200);
    let mut checked = 0;
    for (id, field, text) in &hostile {
        let Some(row) = csv_rows.get(id) else { continue };
        let expected =
            if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.clone() };
        assert_eq!(&row[column(field)], expected.as_str(), "CSV {field} of {id}");
        checked += 1;
    }
    assert!(checked >= 6, "hostile text reached the CSV ({checked})");

    // XLSX: the exact text, as a string cell, never a formula.
    let mut book: Xlsx<_> = calamine::open_workbook(out.join("access-review.xlsx")).unwrap();
    let sheet = book.worksheet_range("Access matrix").unwrap();
    let formulas = book.worksheet_formula("Access matrix").unwrap();
    assert!(formulas.used_cells().all(|(_, _, f)| f.is_empty()), "no formula anywhere");
    let xlsx_rows: BTreeMap<String, Vec<Data>> = sheet.rows().skip(1).map(|r| (r[0].to_string(), r.to_vec())).collect();
    let mut checked = 0;
    for (id, field, text) in &hostile {
        if let Some(row) = xlsx_rows.get(id) {
            assert_eq!(row[column(field)], Data::String(text.clone()), "XLSX {field} of {id}");
            checked += 1;
        }
    }
    assert!(checked >= 6, "hostile text reached the workbook ({checked})");

    // HTML: escaped, and nothing that runs.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let lower = html.to_lowercase();
    assert!(!lower.contains("<script"), "no script in the page");
    assert!(!lower.contains("<img"), "org text cannot become an element");
    assert!(!lower.contains("javascript:"));
    // Escaped org text may read `src=x`; a real attribute has a quoted value (quotes in text become &quot;).
    for asset in ["<link", "@import", " src=\"", "url("] {
        assert!(!lower.contains(asset), "no external asset: {asset}");
    }
    // The only links out of the page are to the users' own pages in the org.
    for link in html.split(" href=\"").skip(1).map(|rest| &rest[..rest.find('"').unwrap()]) {
        assert!(
            link.starts_with('#')
                || (link.starts_with("https://northwind-consulting.my.salesforce.com/lightning/r/User/005")
                    && link.ends_with("/view")),
            "{link}"
        );
    }
    // (The demo's hostile texts are a Title and a Department: in the CSV and the workbook, checked
    // above; the page shows the deciding columns only, and escapes whatever it shows.)
    assert!(!html.contains("<script>alert") && !html.contains("<img src=x"), "never raw");
}

/// One user of a hand-built org: audited (`Standard`), created in 2020, never frozen.
struct Person {
    username: &'static str,
    active: bool,
    /// `YYYY-MM-DDTHH:MM:SS` UTC; `None`: never logged in.
    last_login: Option<&'static str>,
    /// The namespace of a permission set assigned directly (a Certinia grant when Certinia).
    grant: Option<&'static str>,
    /// The namespace of a package licence held.
    licence: Option<&'static str>,
}

const fn person(username: &'static str, last_login: Option<&'static str>) -> Person {
    Person { username, active: true, last_login, grant: Some("pse"), licence: None }
}

/// Recent (within 90 days of AS_OF), active, each with a Certinia grant, and every Certinia
/// licence matched by a grant: by REPORTS.md, in no finding report.
const NO_FINDINGS: [Person; 3] = [
    person("ada@example.com", Some("2026-11-19T09:00:00")),
    Person { grant: Some("c2g"), licence: Some("c2g"), ..person("ben@example.com", Some("2026-11-01T12:00:00")) },
    Person { licence: Some("pse"), ..person("cy@example.com", Some("2026-08-22T09:00:01")) },
];

/// One user for each finding report (REPORTS.md, as of AS_OF).
const ONE_FINDING_EACH: [Person; 4] = [
    // Inactive: last login 203 days before.
    person("ivy@example.com", Some("2026-05-01T00:00:00")),
    // Never logged in, created in 2020: past the grace period.
    person("ned@example.com", None),
    // Deactivated and still holding a Certinia grant: access retained.
    Person { active: false, ..person("rex@example.com", Some("2026-11-10T00:00:00")) },
    // A Certinia licence and no grant: access lacking.
    Person { grant: None, licence: Some("c2g"), ..person("liv@example.com", Some("2026-11-18T00:00:00")) },
];

fn hand_built_org(people: &[Person]) -> sf_sim::Org {
    use serde_json::json;
    use sf_sim::generate::sf_id;
    let mut objects: BTreeMap<String, Vec<Map<String, Value>>> = BTreeMap::new();
    let mut add = |object: &str, record: Value| {
        let Value::Object(record) = record else { unreachable!() };
        objects.entry(object.to_string()).or_default().push(record);
    };
    let dt = |s: &str| format!("{s}.000+0000");
    add(
        "Organization",
        json!({"Id": sf_id("00D", 1), "Name": "Hand-built", "InstanceName": "SIM1", "IsSandbox": false, "OrganizationType": "Enterprise Edition"}),
    );
    for (n, p) in (1..).zip(people) {
        let id = sf_id("005", n);
        add(
            "User",
            json!({"Id": id, "Username": p.username, "Name": p.username, "Email": p.username, "IsActive": p.active,
                   "UserType": "Standard", "Profile": {"Name": "Standard User", "UserLicense": {"Name": "Salesforce"}},
                   "UserRole": null, "Department": null, "Title": null, "FederationIdentifier": null,
                   "CreatedDate": dt("2020-01-01T00:00:00"), "LastLoginDate": p.last_login.map(dt)}),
        );
        add("UserLogin", json!({"Id": sf_id("060", n), "UserId": id, "IsFrozen": false}));
        if let Some(ns) = p.grant {
            add(
                "PermissionSetAssignment",
                json!({"Id": sf_id("0Pa", n), "AssigneeId": id, "PermissionSetId": sf_id("0PS", n),
                       "PermissionSet": {"Name": "Access", "Label": "Access", "NamespacePrefix": ns,
                                         "IsOwnedByProfile": false, "Type": "Regular"},
                       "PermissionSetGroupId": null, "ExpirationDate": null}),
            );
        }
        if let Some(ns) = p.licence {
            add(
                "UserPackageLicense",
                json!({"Id": sf_id("051", n), "UserId": id, "PackageLicenseId": sf_id("050", n),
                       "PackageLicense": {"NamespacePrefix": ns}}),
            );
        }
    }
    sf_sim::Org::from_objects(objects).expect("a valid org")
}

/// `run --fail-on-findings` against the org; the exit code and summary.json.
fn run_failing_on_findings(work: &Path, people: &[Person]) -> (Option<i32>, Value) {
    let sim = sim(hand_built_org(people));
    let output = bin(work)
        .args(["run", "--out", "out", "--as-of", AS_OF, "--fail-on-findings", "--instance-url", &sim.base_url()])
        .env("SF_ACCESS_TOKEN", ACCESS_TOKEN)
        .output()
        .unwrap();
    let summary =
        std::fs::read(work.join("out/summary.json")).unwrap_or_else(|e| panic!("{e}: {}", stderr_of(&output)));
    (output.status.code(), serde_json::from_slice(&summary).unwrap())
}

#[test]
fn fail_on_findings_exits_1_and_still_writes_the_reports() {
    let clean = tempfile::tempdir().unwrap();
    let (code, summary) = run_failing_on_findings(clean.path(), &NO_FINDINGS);
    assert_eq!(summary["findings"], 0, "{summary:#}");
    assert_eq!(code, Some(0), "no finding, no failure");
    assert_eq!(summary["reports"]["access-matrix"], 3, "the inventory is not a finding");

    let work = tempfile::tempdir().unwrap();
    let people: Vec<Person> = NO_FINDINGS.into_iter().chain(ONE_FINDING_EACH).collect();
    let (code, summary) = run_failing_on_findings(work.path(), &people);
    assert_eq!(code, Some(1), "findings present and asked to be told");
    assert_eq!(summary["findings"], 4, "{summary:#}");
    for slug in ["inactive-users", "never-logged-in", "certinia-access-retained", "certinia-access-lacking"] {
        assert_eq!(summary["reports"][slug], 1, "{slug}");
        let rows = csv::Reader::from_path(work.path().join(format!("out/{slug}.csv"))).unwrap().records().count();
        assert_eq!(rows, 1, "{slug}.csv is written all the same");
    }
    assert!(work.path().join("out/report.html").is_file() && work.path().join("out/access-review.xlsx").is_file());
}

#[test]
fn a_malformed_roster_names_its_line_and_leaves_the_previous_reports() {
    let work = tempfile::tempdir().unwrap();
    assert!(report(work.path(), "out", &[]).status.success());
    let before = std::fs::read(work.path().join("out/summary.json")).unwrap();
    std::fs::write(work.path().join("roster.csv"), "federation_id,username,email\na,b,c\nd,\"e\n").unwrap();
    let output = report(work.path(), "out", &["--roster", "roster.csv"]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr_of(&output);
    assert!(err.contains("roster.csv line 3"), "{err}");
    assert_eq!(std::fs::read(work.path().join("out/summary.json")).unwrap(), before);
}

#[test]
fn a_changed_snapshot_is_refused_before_anything_is_written() {
    let work = tempfile::tempdir().unwrap();
    let copy = work.path().join("snap");
    std::fs::create_dir(&copy).unwrap();
    for entry in std::fs::read_dir(demo()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, copy.join(path.file_name().unwrap())).unwrap();
    }
    let users = copy.join("User.ndjson");
    let text = std::fs::read_to_string(&users).unwrap().replacen("\"IsActive\":false", "\"IsActive\":true", 1);
    std::fs::write(&users, text).unwrap();
    let output =
        bin(work.path()).args(["report", "--snapshot", "snap", "--out", "out", "--as-of", AS_OF]).output().unwrap();
    assert_eq!(output.status.code(), Some(4));
    assert!(stderr_of(&output).contains("User.ndjson: SHA-256"), "{}", stderr_of(&output));
    assert!(!work.path().join("out").exists());
}
