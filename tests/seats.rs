//! The Seats report (REPORTS.md, "Certinia beyond permission sets, and the seats it costs"),
//! through the real binary against the simulator: the exact rows of seats.csv for the org of
//! [`crate::certinia`] (a `UsedMismatch` row, a site licence, a non-Certinia permission set
//! licence), the Seats sheet before the user reports, the HTML section, summary.json's counts,
//! and the yearly cost of the reclaimable seats from `--seat-cost` and `[seat_costs]`.
//!
//! Every expected row is written from the rule and the org, not from the tool's output.

use std::path::Path;

use serde_json::{Value, json};

use crate::certinia::{AS_OF, org, package_id, psl_id};
use crate::common::*;

const HEADER: [&str; 16] = [
    "Id",
    "Kind",
    "Name",
    "DeveloperName",
    "Certinia",
    "Allowed",
    "Used",
    "Assigned",
    "UsedMismatch",
    "Expiration",
    "Status",
    "Deactivated",
    "Frozen",
    "Inactive",
    "NeverLoggedIn",
    "Reclaimable",
];

/// seats.csv as lines of fields, the header first.
fn seats_csv(out: &Path) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_path(out.join("seats.csv")).unwrap();
    reader.records().map(|r| r.unwrap().iter().map(str::to_string).collect()).collect()
}

fn line(fields: &[&str]) -> Vec<String> {
    fields.iter().map(|f| f.to_string()).collect()
}

/// The rows of the org, Certinia first then by name:
/// - c2g: one assignment pulled (a_busy, active) against UsedLicenses 2: UsedMismatch;
/// - PSA User (Certinia by its name): d_psl_cert (deactivated), a_frozen (frozen), a_never (never
///   logged in past the grace period), a_all and a_grace (neither): 3 reclaimable;
/// - pse: d_lic (deactivated), a_inactive (inactive), a_busy: 2 reclaimable;
/// - acme: a site licence nobody holds; Sales Console User: d_psl_other (deactivated).
fn expected_rows() -> Vec<Vec<String>> {
    let (c2g, pse, acme) = (package_id("c2g"), package_id("pse"), package_id("acme"));
    let (psa, console) = (psl_id("PSA_User"), psl_id("SalesConsoleUser"));
    vec![
        line(&[
            &c2g,
            "PackageLicense",
            "c2g",
            "",
            "true",
            "5",
            "2",
            "1",
            "true",
            "2027-01-31",
            "Active",
            "0",
            "0",
            "0",
            "0",
            "0",
        ]),
        line(&[
            &psa,
            "PermissionSetLicense",
            "PSA User",
            "PSA_User",
            "true",
            "20",
            "5",
            "5",
            "false",
            "2027-03-31",
            "Active",
            "1",
            "1",
            "0",
            "1",
            "3",
        ]),
        line(&[
            &pse,
            "PackageLicense",
            "pse",
            "",
            "true",
            "10",
            "3",
            "3",
            "false",
            "2027-01-31",
            "Active",
            "1",
            "0",
            "1",
            "0",
            "2",
        ]),
        line(&[
            &acme,
            "PackageLicense",
            "acme",
            "",
            "false",
            "-1",
            "0",
            "0",
            "false",
            "2027-01-31",
            "Active",
            "0",
            "0",
            "0",
            "0",
            "0",
        ]),
        line(&[
            &console,
            "PermissionSetLicense",
            "Sales Console User",
            "SalesConsoleUser",
            "false",
            "50",
            "1",
            "1",
            "false",
            "2027-03-31",
            "Active",
            "1",
            "0",
            "0",
            "0",
            "1",
        ]),
    ]
}

#[test]
fn seats_csv_has_one_exact_row_per_licence_certinia_first_and_every_output_shows_it() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let output = run_org(w, org(), "out", AS_OF, &[]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let out = w.join("out");
    let lines = seats_csv(&out);
    assert_eq!(lines[0], line(&HEADER), "REPORTS.md's columns, in order; no cost columns without seat costs");
    assert_eq!(lines[1..], expected_rows());

    // The Seats sheet comes before the user reports and holds the same rows.
    let book = XlsxFile::open(&out.join("access-review.xlsx"));
    let sheets = book.sheet_names();
    let seats = sheets.iter().position(|s| s == "Seats").expect("a Seats sheet");
    let first_report = sheets.iter().position(|s| s == "Inactive").unwrap();
    assert!(seats < first_report, "{sheets:?}");
    let sheet = SheetRows::read(&out.join("access-review.xlsx"), "Seats");
    assert_eq!(sheet.header, HEADER);
    assert_eq!(sheet.value(&package_id("c2g"), "UsedMismatch").to_string(), "true");
    assert_eq!(sheet.value(&psl_id("PSA_User"), "Reclaimable").to_string(), "3");

    // The page: a bar per licence, the reclaimable part marked.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<section id=\"seats\">"));
    assert_eq!(html.matches("reclaimable</text>").count(), 5, "one bar label per licence");
    assert!(html.contains("3 / 10, 2 reclaimable") && html.contains("0 / site licence, 0 reclaimable"));

    // summary.json: per-licence counts, in the same order.
    let summary: Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let licences = summary["seats"]["licences"].as_array().unwrap();
    let names: Vec<&str> = licences.iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["c2g", "PSA User", "pse", "acme", "Sales Console User"]);
    assert_eq!(licences[0]["used_mismatch"], json!(true));
    assert_eq!(
        [
            &licences[1]["deactivated"],
            &licences[1]["frozen"],
            &licences[1]["inactive"],
            &licences[1]["never_logged_in"]
        ],
        [&json!(1), &json!(1), &json!(0), &json!(1)]
    );
    assert_eq!(summary["seats"]["reclaimable_yearly_cost"], Value::Null);
}

#[test]
fn seat_costs_price_the_reclaimable_seats_per_licence_and_in_total() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    // The file prices pse and PSA_User; the flag overrides pse (keys in any case).
    std::fs::write(w.join("access-audit.toml"), "[seat_costs]\npse = 999\nPSA_User = 300\n").unwrap();
    let output = run_org(w, org(), "out", AS_OF, &["--seat-cost", "PSE=1200", "--seat-cost", "SalesConsoleUser=10.5"]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let out = w.join("out");
    let lines = seats_csv(&out);
    let mut header = line(&HEADER);
    header.extend(line(&["YearlySeatCost", "ReclaimableYearlyCost"]));
    assert_eq!(lines[0], header);
    let costs: Vec<(String, String)> = lines[1..].iter().map(|l| (l[16].clone(), l[17].clone())).collect();
    // c2g and acme: no cost given. PSA User: 3 × 300; pse: 2 × 1200; Sales Console User: 1 × 10.5.
    assert_eq!(
        costs,
        [
            ("".into(), "".into()),
            ("300.00".into(), "900.00".into()),
            ("1200.00".into(), "2400.00".into()),
            ("".into(), "".into()),
            ("10.50".into(), "10.50".into()),
        ]
    );
    let summary: Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["seats"]["reclaimable_yearly_cost"], json!(3310.5));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Yearly cost of the reclaimable seats: 3310.50."));
    // The prices are part of the run's rules: in summary.json, on the Run sheet, in the run id.
    assert_eq!(summary["rules"]["seat_costs"], json!({"psa_user": 300.0, "pse": 1200.0, "salesconsoleuser": 10.5}));
    let run = SheetRows::read(&out.join("access-review.xlsx"), "Run");
    let (_, row) = run.rows.get("Yearly seat costs").expect("a Yearly seat costs row on the Run sheet");
    assert_eq!(row[1].to_string(), "psa_user=300, pse=1200, salesconsoleuser=10.5");
    std::fs::remove_file(w.join("access-audit.toml")).unwrap();
    let output = run_org(w, org(), "unpriced", AS_OF, &[]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let unpriced: Value = serde_json::from_slice(&std::fs::read(w.join("unpriced/summary.json")).unwrap()).unwrap();
    assert_eq!(unpriced["rules"].get("seat_costs"), None, "no prices, no key");
    assert_ne!(unpriced["run_id"], summary["run_id"], "the prices change the run id");
}

#[test]
fn a_malformed_seat_cost_is_one_line_and_writes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    for bad in ["pse", "pse=twelve", "=5", "pse=-1"] {
        let output = run_org(w, org(), "out", AS_OF, &["--seat-cost", bad]);
        assert!(!output.status.success(), "{bad}");
        let stderr = stderr_of(&output);
        assert!(stderr.contains("--seat-cost"), "{bad}: {stderr}");
        assert!(!w.join("out").exists(), "{bad}: nothing written");
    }
}
