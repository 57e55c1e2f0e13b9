//! What changed since the previous review, through the real binary: two snapshots of one org a
//! quarter apart (users who joined, left, gained and lost Certinia access; actions decided last
//! quarter and not carried out), the first review filled in, the second run with `--previous`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::NaiveDate;
use serde_json::Value;
use sf_sim::Org;
use sha2::{Digest, Sha256};

use crate::common::*;

const Q1: &str = "2026-08-01T00:00:00Z";
const Q2: &str = "2026-11-01T00:00:00Z";
const DECIDED: &str = "2026-08-05";

/// A user's state in one quarter.
fn active(last_login: &str) -> UserSpec {
    person().login(Some(last_login))
}

/// The org in the first quarter (`q2 = false`) or the second. Each user's key says its story.
fn org(q2: bool) -> Org {
    let recent = if q2 { "2026-10-30T10:00:00" } else { "2026-07-30T10:00:00" };
    let mut b = OrgBuilder::new("Changes Test");
    b.user("boss", active(recent));
    // Inactive both quarters; decided Keep, and Deactivate (not carried out).
    b.user("dormant_keep", active("2026-03-01T00:00:00"));
    b.user("dormant_deact", active("2026-03-01T00:00:00"));
    // Inactive, decided Deactivate, and deactivated since.
    b.user(
        "dormant_done",
        if q2 { active("2026-03-01T00:00:00").deactivated() } else { active("2026-03-01T00:00:00") },
    );
    // Inactive, decided Investigate, and back since.
    b.user("returned", active(if q2 { recent } else { "2026-02-01T00:00:00" }));
    // Joined after the first review, never logged in: past the grace period, and within it.
    if q2 {
        b.user("joiner", person().created("2026-09-01T00:00:00").login(None));
        b.user("fresh", person().created("2026-10-25T00:00:00").login(None));
    }
    // Left before the first review keeping Certinia access: decided Remove access, still there.
    b.user("leaver_kept", active("2026-01-10T00:00:00").deactivated());
    b.psa("leaver_kept");
    b.licence("leaver_kept", "pse");
    // Left before the first review keeping access: decided Remove access, and it was removed.
    b.user("leaver_cleaned", active("2026-01-10T00:00:00").deactivated());
    if !q2 {
        b.psa("leaver_cleaned");
        b.licence("leaver_cleaned", "pse");
    }
    // Left between the reviews, keeping the grant.
    b.user("leaver_new", if q2 { active("2026-07-30T10:00:00").deactivated() } else { active(recent) });
    b.psa("leaver_new");
    // A seat without access: decided Grant access, and granted since.
    b.user("gainer", active(recent));
    b.licence("gainer", "pse");
    if q2 {
        b.psa("gainer");
    }
    // Access taken away, the seat kept.
    b.user("loser", active(recent));
    b.licence("loser", "c2g");
    if !q2 {
        b.psa("loser");
    }
    // A seat without access both quarters: decided Grant access, not granted.
    b.user("still_lacking", active(recent));
    b.licence("still_lacking", "pse");
    b.sales("still_lacking");
    b.build()
}

/// The roster: the people expected to use Certinia, and one nobody provisioned.
const ROSTER: &str = "username,email\ngainer@example.com,\nloser@example.com,\nleaver_new@example.com,\nstill_lacking@example.com,\n,ghost@example.com\n";

fn id(key: &str) -> String {
    stable_id("005", key)
}

/// A row's `Change`, `PreviousDecision`, `PreviousReviewer` and `PreviousDecidedOn`.
type ChangeCells = (String, String, String, String);

/// Each CSV row's `Change` and previous decision, by Id (or RosterLine).
fn changes_of(path: &Path) -> BTreeMap<String, ChangeCells> {
    csv_rows(path)
        .into_iter()
        .map(|(k, r)| {
            let get = |c: &str| r.get(c).cloned().unwrap_or_else(|| panic!("{}: no column {c}", path.display()));
            (k, (get("Change"), get("PreviousDecision"), get("PreviousReviewer"), get("PreviousDecidedOn")))
        })
        .collect()
}

fn persisting(decision: &str) -> ChangeCells {
    ("persisting".into(), decision.into(), "Quinn Reviewer".into(), DECIDED.into())
}

fn new() -> ChangeCells {
    ("new".into(), String::new(), String::new(), String::new())
}

fn run_quarter(work: &Path, q2: bool, out: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["--roster", "roster.csv"];
    args.extend(extra);
    run_org(work, org(q2), out, if q2 { Q2 } else { Q1 }, &args)
}

/// The first quarter's review, run and decided.
fn first_review(work: &Path) {
    std::fs::write(work.join("roster.csv"), ROSTER).unwrap();
    let output = run_quarter(work, false, "q1", &[]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let path = work.join("q1/access-review.xlsx");
    let mut book = XlsxFile::open(&path);
    let on = NaiveDate::parse_from_str(DECIDED, "%Y-%m-%d").unwrap();
    let decisions = [
        ("Inactive", id("dormant_keep"), "Keep"),
        ("Inactive", id("dormant_deact"), "Deactivate"),
        ("Inactive", id("dormant_done"), "Deactivate"),
        ("Inactive", id("returned"), "Investigate"),
        ("Certinia retained", id("leaver_kept"), "Remove access"),
        ("Certinia retained", id("leaver_cleaned"), "Remove access"),
        ("Certinia lacking", id("gainer"), "Grant access"),
        ("Certinia lacking", id("still_lacking"), "Grant access"),
        // The roster sheet is keyed by the entry's line: ghost is line 6.
        ("Not provisioned", "6".to_string(), "Provision"),
    ];
    for (sheet, key, decision) in decisions {
        let rows = SheetRows::read(&path, sheet);
        decide(&mut book, &rows, sheet, &key, decision, "Quinn Reviewer", on);
    }
    book.save(&path);
}

#[test]
fn every_finding_is_new_or_persisting_and_the_previous_decisions_travel() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    first_review(w);
    // The first review's findings, as REPORTS.md defines them for the first quarter's org.
    let q1 = |report: &str| csv_rows(&w.join(format!("q1/{report}.csv"))).into_keys().collect::<BTreeSet<_>>();
    let ids = |keys: &[&str]| keys.iter().map(|k| id(k)).collect::<BTreeSet<_>>();
    assert_eq!(q1("inactive-users"), ids(&["dormant_deact", "dormant_done", "dormant_keep", "returned"]));
    assert_eq!(q1("certinia-access-retained"), ids(&["leaver_kept", "leaver_cleaned"]));
    assert_eq!(q1("certinia-access-lacking"), ids(&["gainer", "still_lacking"]));
    let output = run_quarter(w, true, "q2", &["--previous", "q1"]);
    assert!(output.status.success(), "{}", stderr_of(&output));

    let changes = |report: &str| changes_of(&w.join(format!("q2/{report}.csv")));
    let expect = |rows: &[(&str, ChangeCells)]| -> BTreeMap<String, ChangeCells> {
        rows.iter().map(|(k, c)| (id(k), c.clone())).collect()
    };
    assert_eq!(
        changes("inactive-users"),
        expect(&[("dormant_keep", persisting("Keep")), ("dormant_deact", persisting("Deactivate"))])
    );
    let empty = || (String::new(), String::new(), String::new(), String::new());
    assert_eq!(
        changes("never-logged-in"),
        expect(&[("joiner", new()), ("fresh", empty())]),
        "the grace period is no finding"
    );
    assert_eq!(
        changes("certinia-access-retained"),
        expect(&[("leaver_kept", persisting("Remove access")), ("leaver_new", new())])
    );
    assert_eq!(
        changes("certinia-access-lacking"),
        expect(&[("loser", new()), ("still_lacking", persisting("Grant access"))])
    );
    // Roster entries by line: leaver_new's entry (line 4) now names a deactivated user; ghost (6) persists.
    let mut roster = BTreeMap::new();
    roster.insert("4".to_string(), new());
    roster.insert("6".to_string(), persisting("Provision"));
    assert_eq!(changes("not-provisioned"), roster);
    assert!(csv_rows(&w.join("q2/unexpected-access.csv")).is_empty());
    let matrix = std::fs::read_to_string(w.join("q2/access-matrix.csv")).unwrap();
    assert!(!matrix.lines().next().unwrap().contains("Change"), "the access matrix is no finding");

    // Resolved: previous findings no longer findings of the same report.
    let resolved: Vec<(String, String, String, String)> = csv_list(&w.join("q2/resolved.csv"))
        .into_iter()
        .map(|r| (r["Report"].clone(), r["Id"].clone(), r["PreviousDecision"].clone(), r["Username"].clone()))
        .collect();
    let row = |report: &str, key: &str, decision: &str| {
        (report.to_string(), id(key), decision.to_string(), format!("{key}@example.com"))
    };
    let mut want = vec![
        row("inactive-users", "dormant_done", "Deactivate"),
        row("inactive-users", "returned", "Investigate"),
        row("certinia-access-retained", "leaver_cleaned", "Remove access"),
        row("certinia-access-lacking", "gainer", "Grant access"),
    ];
    want.sort();
    let mut got = resolved.clone();
    got.sort();
    assert_eq!(got, want);
    // Not done: persisting findings whose previous decision was an action (Provision is not one).
    let not_done: Vec<(String, String, String, String)> = csv_list(&w.join("q2/not-done.csv"))
        .into_iter()
        .map(|r| (r["Report"].clone(), r["Id"].clone(), r["PreviousDecision"].clone(), r["Username"].clone()))
        .collect();
    assert_eq!(
        not_done,
        [
            row("inactive-users", "dormant_deact", "Deactivate"),
            row("certinia-access-retained", "leaver_kept", "Remove access"),
            row("certinia-access-lacking", "still_lacking", "Grant access"),
        ]
    );
    let header = std::fs::read_to_string(w.join("q2/not-done.csv")).unwrap();
    assert!(header.starts_with(
        "Report,Id,federation_id,username,email,Username,Name,PreviousDecision,PreviousReviewer,PreviousDecidedOn\r\n"
    ));
    let full = csv_list(&w.join("q2/not-done.csv"));
    assert_eq!(
        (full[0]["PreviousReviewer"].as_str(), full[0]["PreviousDecidedOn"].as_str()),
        ("Quinn Reviewer", DECIDED)
    );

    // The counts, in summary.json, the workbook and the HTML report.
    let summary: Value = serde_json::from_slice(&std::fs::read(w.join("q2/summary.json")).unwrap()).unwrap();
    let previous: Value = serde_json::from_slice(&std::fs::read(w.join("q1/summary.json")).unwrap()).unwrap();
    let counts = |new, persisting, resolved, not_done| serde_json::json!({"new": new, "persisting": persisting, "resolved": resolved, "not_done": not_done});
    assert_eq!(
        summary["changes"]["reports"],
        serde_json::json!({
            "inactive-users": counts(0, 2, 2, 1),
            "never-logged-in": counts(1, 0, 0, 0),
            "certinia-access-retained": counts(1, 1, 1, 1),
            "certinia-access-lacking": counts(1, 1, 1, 1),
            "not-provisioned": counts(1, 1, 0, 0),
            "unexpected-access": counts(0, 0, 0, 0),
        })
    );
    assert_eq!(summary["changes"]["total"], counts(4, 5, 4, 3));
    assert_eq!(summary["changes"]["previous"]["run_id"], previous["run_id"]);
    let q1_workbook = hex::encode(Sha256::digest(std::fs::read(w.join("q1/access-review.xlsx")).unwrap()));
    assert_eq!(summary["changes"]["previous"]["workbook_sha256"], q1_workbook.as_str());
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(w.join("q2/access-review.xlsx")).unwrap();
    for (sheet, rows) in [("Resolved", 4), ("Not done", 3)] {
        use calamine::Reader;
        let range = book.worksheet_range(sheet).unwrap();
        let filled = range.rows().skip(1).filter(|r| r.iter().any(|c| *c != calamine::Data::Empty)).count();
        assert_eq!(filled, rows, "{sheet}");
    }
    let inactive = SheetRows::read(&w.join("q2/access-review.xlsx"), "Inactive");
    assert_eq!(inactive.value(&id("dormant_deact"), "PreviousDecision"), calamine::Data::String("Deactivate".into()));
    assert!(matches!(inactive.value(&id("dormant_deact"), "PreviousDecidedOn"), calamine::Data::DateTime(_)));
    assert_eq!(inactive.value(&id("dormant_deact"), "Decision"), calamine::Data::Empty, "each review decides anew");
    let html = std::fs::read_to_string(w.join("q2/report.html")).unwrap();
    assert!(html.contains("Since the previous review"), "the HTML report counts them");
    assert!(html.contains(&format!("run {}", previous["run_id"].as_str().unwrap())));
}

#[test]
fn a_previous_review_must_be_a_report_folder_of_the_same_org_as_the_tool_wrote_it() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    first_review(w);
    // Not a report folder.
    std::fs::create_dir(w.join("empty")).unwrap();
    let output = run_quarter(w, true, "q2", &["--previous", "empty"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert!(
        stderr_of(&output).contains("--previous empty is not a report folder of access-audit"),
        "{}",
        stderr_of(&output)
    );
    // Another org's review.
    let other = tempfile::tempdir().unwrap();
    let output = bin(other.path())
        .args(["report", "--snapshot"])
        .arg(demo_org())
        .args(["--out", "demo", "--as-of", "2026-11-20T09:00:00Z"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let demo = other.path().join("demo");
    let output = run_quarter(w, true, "q2", &["--previous", demo.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert!(
        stderr_of(&output).contains("is a review of the org 00D5g000000DBGqEAO, not of this org"),
        "{}",
        stderr_of(&output)
    );
    // A report the tool wrote, changed since: the comparison cannot be trusted.
    let csv = w.join("q1/inactive-users.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    std::fs::write(&csv, text.replacen("dormant_keep", "dormant_kept", 1)).unwrap();
    let output = run_quarter(w, true, "q2", &["--previous", "q1"]);
    assert_eq!(output.status.code(), Some(4), "{}", stderr_of(&output));
    assert!(
        stderr_of(&output).contains("inactive-users.csv is not the file access-audit wrote"),
        "{}",
        stderr_of(&output)
    );
    assert!(!w.join("q2").exists(), "nothing was written");
    // --previous and --no-previous contradict each other.
    let output = run_quarter(w, true, "q2", &["--previous", "q1", "--no-previous"]);
    assert_eq!(output.status.code(), Some(2));
    // Without a previous review there is no Change column and neither list.
    let output = run_quarter(w, true, "q2", &["--no-previous"]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(!std::fs::read_to_string(w.join("q2/inactive-users.csv")).unwrap().contains("Change"));
    assert!(!w.join("q2/resolved.csv").exists() && !w.join("q2/not-done.csv").exists());
}
