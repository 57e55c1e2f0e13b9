//! `access-audit review` of the other applications' sheets, through the real binary: a run of a
//! small org with one SCIM application (the simulator in Stensul mode), decisions typed into the
//! application's sheets as a spreadsheet program saves them, then the read-back: its exit code,
//! decisions.csv, signoff.json and the application's remediation file.
//!
//! The org: `ana` (active) and `bo` (deactivated), usernames `KEY@example.com`. The application:
//!
//! | account | active | userName | roles | in which reports (REPORTS.md's rules) |
//! |---|---|---|---|---|
//! | st-ana | yes | ana@example.com | Editor | matrix (matches active ana) |
//! | st-bo | yes | bo@example.com | | orphans (deactivated in Salesforce), matrix |
//! | st-zed | yes | zed@contractor.example | Editor | orphans (no Salesforce user), matrix |
//! | st-old | no | old@example.org | Admin | retained (disabled, still a member), matrix |
//!
//! No roster, so no app unexpected access report.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde_json::Value;
use sf_sim::scim::{ScimGroup, ScimMode, ScimUser};

use crate::common::*;

const AS_OF: &str = "2026-10-01T00:00:00Z";
const SECRET_ENV: &str = "ACCESS_AUDIT_APP_STENSUL_SECRET";
const ORPHANS: &str = "stensul orphans";
const RETAINED: &str = "stensul retained";
const MATRIX: &str = "stensul matrix";

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 10, d).unwrap()
}

fn account(id: &str, active: bool, user_name: &str) -> ScimUser {
    let mut u = ScimUser::new(id, user_name);
    u.active = active;
    u
}

/// `run --app stensul` of the org; the report folder `out`.
fn audit() -> (tempfile::TempDir, PathBuf) {
    let mut org = OrgBuilder::new("Apps Review Co");
    org.user("ana", person());
    org.user("bo", person().deactivated());
    let sim = sim(org.build());
    let accounts = vec![
        account("st-ana", true, "ana@example.com"),
        account("st-bo", true, "bo@example.com"),
        account("st-zed", true, "zed@contractor.example"),
        account("st-old", false, "old@example.org"),
    ];
    let role = |id: &str, name: &str, members: &[&str]| ScimGroup {
        id: id.into(),
        display_name: name.into(),
        members: members.iter().map(|m| m.to_string()).collect(),
    };
    let roles = vec![role("r-editor", "Editor", &["st-ana", "st-zed"]), role("r-admin", "Admin", &["st-old"])];
    let scim = scim_sim(ScimMode::Stensul, accounts, roles, |_| {});
    let work = tempfile::tempdir().unwrap();
    let output = run_apps(work.path(), &sim, &app_table("stensul", "stensul", &scim), "out", AS_OF)
        .args(["--app", "stensul"])
        .env(SECRET_ENV, APP_CLIENT_SECRET)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let out = work.path().join("out");
    (work, out)
}

fn review(work: &Path) -> std::process::Output {
    bin(work).args(["review", "out"]).output().unwrap()
}

fn signoff(out: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(out.join("review/signoff.json")).unwrap()).unwrap()
}

/// decisions.csv's rows of the application's reports, as `[Report, Id, Decision, Reviewer,
/// DecidedOn, Ticket]`, sorted; the columns of a roster entry must be empty for an account.
fn app_decisions(out: &Path) -> Vec<[String; 6]> {
    let mut rows: Vec<[String; 6]> = csv_list(&out.join("review/decisions.csv"))
        .into_iter()
        .filter(|r| r["Report"].starts_with("stensul-"))
        .map(|r| {
            assert_eq!((r["federation_id"].as_str(), r["username"].as_str(), r["email"].as_str()), ("", "", ""));
            ["Report", "Id", "Decision", "Reviewer", "DecidedOn", "Ticket"].map(|c| r[c].clone())
        })
        .collect();
    rows.sort();
    rows
}

fn row(report: &str, id: &str, decision: &str, reviewer: &str, on: &str, ticket: &str) -> [String; 6] {
    [report, id, decision, reviewer, on, ticket].map(str::to_string)
}

#[test]
fn a_completed_review_of_the_application_sheets_is_counted_and_written_down() {
    let (work, out) = audit();
    let path = out.join("access-review.xlsx");
    let mut book = XlsxFile::open(&path);
    let orphans = SheetRows::read(&path, ORPHANS);
    assert_eq!(orphans.rows.keys().collect::<Vec<_>>(), ["st-bo", "st-zed"], "the rule's orphans");
    decide(&mut book, &orphans, ORPHANS, "st-bo", "Disable account", "Ana Auditor", day(2));
    decide(&mut book, &orphans, ORPHANS, "st-zed", "Keep (justified)", "Ana Auditor", day(2));
    book.type_into(ORPHANS, &orphans.cell("st-zed", "Ticket"), Typed::Text("CHG-7"));
    let retained = SheetRows::read(&path, RETAINED);
    decide(&mut book, &retained, RETAINED, "st-old", "investigate", "Bo Reviewer", day(3));
    // A row of the inventory may be decided too.
    let matrix = SheetRows::read(&path, MATRIX);
    decide(&mut book, &matrix, MATRIX, "st-ana", "Keep (justified)", "Bo Reviewer", day(3));
    book.save(&path);

    let output = review(work.path());
    assert_eq!(output.status.code(), Some(0), "{}", stdout_of(&output));
    let text = stdout_of(&output);
    assert!(text.contains("belongs to the run: yes"), "{text}");
    assert!(text.contains("review/remediation/stensul-disable.csv (1 rows)"), "{text}");

    // One row per row of every application sheet, decided or not; the choice as the list spells it.
    let (orphans, retained, matrix) =
        ("stensul-app-orphans", "stensul-app-access-retained", "stensul-app-access-matrix");
    assert_eq!(
        app_decisions(&out),
        [
            row(matrix, "st-ana", "Keep (justified)", "Bo Reviewer", "2026-10-03", ""),
            row(matrix, "st-bo", "", "", "", ""),
            row(matrix, "st-old", "", "", "", ""),
            row(matrix, "st-zed", "", "", "", ""),
            row(retained, "st-old", "Investigate", "Bo Reviewer", "2026-10-03", ""),
            row(orphans, "st-bo", "Disable account", "Ana Auditor", "2026-10-02", ""),
            row(orphans, "st-zed", "Keep (justified)", "Ana Auditor", "2026-10-02", "CHG-7"),
        ]
    );
    let signoff = signoff(&out);
    assert_eq!((signoff["belongs"].as_bool(), signoff["complete"].as_bool()), (Some(true), Some(true)));
    assert_eq!(
        signoff["reports"][orphans],
        serde_json::json!({"rows": 2, "findings": 2, "decided": 2, "incomplete": 0,
                           "decisions": {"Disable account": 1, "Keep (justified)": 1}})
    );
    assert_eq!(
        signoff["reports"][retained],
        serde_json::json!({"rows": 1, "findings": 1, "decided": 1, "incomplete": 0, "decisions": {"Investigate": 1}})
    );
    assert_eq!(
        signoff["reports"][matrix],
        serde_json::json!({"rows": 4, "findings": 0, "decided": 0, "incomplete": 0, "decisions": {"Keep (justified)": 1}})
    );
    assert!(signoff["reports"].get("stensul-app-unexpected-access").is_none(), "no roster, no report");
    let reviewers: Vec<(&str, u64)> = signoff["reviewers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["reviewer"].as_str().unwrap(), r["decided"].as_u64().unwrap()))
        .collect();
    assert_eq!(reviewers, [("Ana Auditor", 2), ("Bo Reviewer", 2)]);
    // The account to disable, for the application's administrator.
    assert_eq!(
        std::fs::read_to_string(out.join("review/remediation/stensul-disable.csv")).unwrap(),
        "AccountId,userName\nst-bo,bo@example.com\n"
    );
    assert_eq!(signoff["remediation"], serde_json::json!([{"file": "remediation/stensul-disable.csv", "rows": 1}]));
}

#[test]
fn an_undecided_application_finding_leaves_the_review_incomplete() {
    let (work, out) = audit();
    let path = out.join("access-review.xlsx");
    let mut book = XlsxFile::open(&path);
    let orphans = SheetRows::read(&path, ORPHANS);
    decide(&mut book, &orphans, ORPHANS, "st-bo", "Disable account", "Ana Auditor", day(2));
    let retained = SheetRows::read(&path, RETAINED);
    decide(&mut book, &retained, RETAINED, "st-old", "Investigate", "Ana Auditor", day(2));
    book.save(&path);

    let output = review(work.path());
    assert_eq!(output.status.code(), Some(8), "{}", stdout_of(&output));
    let text = stdout_of(&output);
    assert!(text.contains("complete: NO, 1 of 3 findings"), "{text}");
    assert!(text.contains("  sheet stensul orphans: 1\n"), "{text}");
    assert!(
        text.contains("    st-zed zed@contractor.example: no decision; no reviewer; no date (DecidedOn)"),
        "{text}"
    );
    let signoff = signoff(&out);
    assert_eq!(signoff["complete"], false);
    let missing = signoff["missing"].as_array().unwrap();
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert_eq!(
        (&missing[0]["report"], &missing[0]["sheet"], &missing[0]["id"], &missing[0]["who"]),
        (
            &Value::from("stensul-app-orphans"),
            &Value::from(ORPHANS),
            &Value::from("st-zed"),
            &Value::from("zed@contractor.example")
        )
    );
    assert_eq!(signoff["reports"]["stensul-app-orphans"]["incomplete"], 1);
    // Only complete decisions make files: the decided one does.
    assert!(out.join("review/remediation/stensul-disable.csv").is_file());
}

#[test]
fn a_decision_of_another_list_is_incomplete_and_edited_evidence_does_not_belong() {
    let (work, out) = audit();
    let path = out.join("access-review.xlsx");
    let original = std::fs::read(&path).unwrap();
    let orphans = SheetRows::read(&path, ORPHANS);
    let retained = SheetRows::read(&path, RETAINED);

    // `Deactivate` is the org's choice, not the application's: the finding stays undecided.
    let mut book = XlsxFile::open(&path);
    decide(&mut book, &orphans, ORPHANS, "st-bo", "Deactivate", "Ana Auditor", day(2));
    decide(&mut book, &orphans, ORPHANS, "st-zed", "Keep (justified)", "Ana Auditor", day(2));
    decide(&mut book, &retained, RETAINED, "st-old", "Investigate", "Ana Auditor", day(2));
    book.save(&path);
    let output = review(work.path());
    assert_eq!(output.status.code(), Some(8), "{}", stdout_of(&output));
    let (row, _) = orphans.rows["st-bo"];
    assert!(
        stdout_of(&output).contains(&format!(
            "    row {row}, st-bo bo@example.com: \"Deactivate\" is not a decision of this report (Disable account, Keep (justified), Investigate)"
        )),
        "{}",
        stdout_of(&output)
    );

    // Evidence edited by hand in a decided workbook: it does not belong to the run.
    let mut book = XlsxFile::open(&path);
    decide(&mut book, &orphans, ORPHANS, "st-bo", "Disable account", "Ana Auditor", day(2));
    book.overwrite(ORPHANS, &orphans.cell("st-zed", "Reason"), "left the company");
    book.save(&path);
    let output = review(work.path());
    assert_eq!(output.status.code(), Some(9), "{}", stdout_of(&output));
    let (zed, _) = orphans.rows["st-zed"];
    assert!(
        stdout_of(&output).contains(&format!(
            "access-review.xlsx: sheet stensul orphans row {zed} (AccountId st-zed): Reason is \"left the company\", the run wrote \"no Salesforce user\""
        )),
        "{}",
        stdout_of(&output)
    );

    // A row's account changed: one added that is not in the CSV, the finding removed.
    std::fs::write(&path, &original).unwrap();
    let mut book = XlsxFile::open(&path);
    book.overwrite(RETAINED, &retained.cell("st-old", "AccountId"), "st-new");
    book.save(&path);
    let output = review(work.path());
    assert_eq!(output.status.code(), Some(9), "{}", stdout_of(&output));
    let text = stdout_of(&output);
    let (old, _) = retained.rows["st-old"];
    assert!(
        text.contains(&format!(
            "sheet stensul retained row {old}: AccountId st-new is not a row of stensul-app-access-retained.csv (added)"
        )),
        "{text}"
    );
    assert!(text.contains("sheet stensul retained: AccountId st-old is missing (removed)"), "{text}");
}
