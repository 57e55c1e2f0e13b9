//! The sign-off read back: a generated workbook filled in the way a spreadsheet program saves it
//! (shared strings, dates as serial numbers with a date style, a date typed as text), then
//! `access-audit review` through the real binary: its report, exit code, decisions.csv,
//! signoff.json and every remediation CSV, Id by Id, against the snapshot.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::NaiveDate;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::common::*;

const AS_OF: &str = DEMO_AS_OF;
/// REPORTS.md's default Certinia namespaces that occur in the demo org's licences.
const CERTINIA_LICENCES: [&str; 3] = ["c2g", "fferpcore", "pse"];

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn review(work: &Path, dir: &str) -> std::process::Output {
    bin(work).args(["review", dir]).output().unwrap()
}

/// The snapshot's records of `object`, each as a JSON map.
fn records(object: &str) -> Vec<Map<String, Value>> {
    snapshot_records(&demo_org(), object).into_values().collect()
}

/// A user's non-profile permission set assignments, if every one of them is a Certinia grant by
/// namespace (`pse` or `c2g`, both Certinia namespaces in REPORTS.md); none otherwise.
fn certinia_only_assignments(user: &str) -> Option<BTreeSet<String>> {
    let mine: Vec<Map<String, Value>> =
        records("PermissionSetAssignment").into_iter().filter(|a| a["AssigneeId"] == user).collect();
    let own: Vec<&Map<String, Value>> =
        mine.iter().filter(|a| a["PermissionSet"]["IsOwnedByProfile"] != true).collect();
    let certinia = |a: &&Map<String, Value>| {
        a["PermissionSetGroupId"].is_null()
            && matches!(a["PermissionSet"]["NamespacePrefix"].as_str(), Some("pse" | "c2g"))
    };
    (!own.is_empty() && own.iter().all(certinia))
        .then(|| own.iter().map(|a| a["Id"].as_str().unwrap().to_string()).collect())
}

/// The user's profile-owned assignment (every demo user has one).
fn profile_assignment(user: &str) -> String {
    records("PermissionSetAssignment")
        .into_iter()
        .find(|a| a["AssigneeId"] == user && a["PermissionSet"]["IsOwnedByProfile"] == true)
        .map(|a| a["Id"].as_str().unwrap().to_string())
        .unwrap()
}

/// The user's Certinia package licences (by REPORTS.md's namespaces).
fn certinia_licences(user: &str) -> BTreeSet<String> {
    records("UserPackageLicense")
        .into_iter()
        .filter(|l| {
            l["UserId"] == user && CERTINIA_LICENCES.contains(&l["PackageLicense"]["NamespacePrefix"].as_str().unwrap())
        })
        .map(|l| l["Id"].as_str().unwrap().to_string())
        .collect()
}

/// The lines of a remediation CSV after its header.
fn remediation(out: &Path, file: &str) -> (String, Vec<String>) {
    let text =
        std::fs::read_to_string(out.join("review/remediation").join(file)).unwrap_or_else(|_| panic!("no {file}"));
    assert!(!text.contains('\r'), "{file}: LF line ends");
    let mut lines = text.lines().map(str::to_string);
    (lines.next().unwrap(), lines.collect())
}

/// The tool's files in the folder, but review/ (what `review` must never touch).
fn evidence(out: &Path) -> BTreeMap<std::path::PathBuf, Vec<u8>> {
    tree(out).into_iter().filter(|(p, _)| !p.starts_with("review")).collect()
}

#[test]
fn a_filled_in_workbook_is_read_back_checked_and_turned_into_remediation_files() {
    let work = tempfile::tempdir().unwrap();
    report_demo(work.path(), &[]);
    let out = work.path().join("out");
    let path = out.join("access-review.xlsx");
    let ids = |report: &str| -> Vec<String> {
        csv_list(&out.join(format!("{report}.csv"))).into_iter().map(|r| r["Id"].clone()).collect()
    };
    let (inactive, retained, lacking) =
        (ids("inactive-users"), ids("certinia-access-retained"), ids("certinia-access-lacking"));
    let never: Vec<String> = csv_list(&out.join("never-logged-in.csv"))
        .into_iter()
        .filter(|r| r["InGracePeriod"] == "false")
        .map(|r| r["Id"].clone())
        .collect();
    // Leavers whose every grant is a Certinia permission set: their Ids can be told from the snapshot.
    let removed: Vec<String> =
        retained.iter().filter(|id| certinia_only_assignments(id).is_some()).take(3).cloned().collect();
    assert_eq!(removed.len(), 3);
    // An active user in the access matrix, every grant of them a Certinia permission set.
    let matrix = csv_list(&out.join("access-matrix.csv"));
    let certified_away = matrix
        .iter()
        .find(|r| {
            r["IsActive"] == "true"
                && certinia_only_assignments(&r["Id"]).is_some()
                && !certinia_licences(&r["Id"]).is_empty()
        })
        .map(|r| r["Id"].clone())
        .unwrap();

    // The reviewers' work, as a spreadsheet program saves it.
    let mut book = XlsxFile::open(&path);
    let sheets = ["Inactive", "Never logged in", "Certinia retained", "Certinia lacking", "Access matrix"];
    for sheet in sheets {
        book.share_inline_strings(sheet);
    }
    let rows = |sheet: &str| SheetRows::read(&path, sheet);
    let (ana, bo) = ("Ana Auditor", "Bo Reviewer");
    let r = rows("Inactive");
    let undecided = inactive.last().unwrap().clone();
    for (i, id) in inactive.iter().enumerate() {
        let choice = match i {
            0 => "Deactivate",
            1 => "Freeze",
            _ => "Keep",
        };
        if *id != undecided {
            decide(&mut book, &r, "Inactive", id, choice, ana, day(24));
        }
    }
    let r = rows("Never logged in");
    for (i, id) in never.iter().enumerate() {
        decide(&mut book, &r, "Never logged in", id, if i == 0 { "Deactivate" } else { "Investigate" }, ana, day(24));
    }
    let r = rows("Certinia retained");
    for id in &retained {
        decide(
            &mut book,
            &r,
            "Certinia retained",
            id,
            if removed.contains(id) { "Remove access" } else { "Keep (justified)" },
            bo,
            day(25),
        );
    }
    book.type_into("Certinia retained", &r.cell(&removed[0], "Ticket"), Typed::Text("CHG-00042"));
    // One evidence cell edited by hand.
    let edited = retained.iter().find(|id| !removed.contains(id)).unwrap().clone();
    let title_cell = r.cell(&edited, "Title");
    let title_before = r.value(&edited, "Title").to_string();
    book.overwrite("Certinia retained", &title_cell, "Edited by hand");
    let r = rows("Certinia lacking");
    for (i, id) in lacking.iter().enumerate() {
        book.type_into(
            "Certinia lacking",
            &r.cell(id, "Decision"),
            Typed::Text(if i == 0 { "Grant access" } else { "Not needed" }),
        );
        book.type_into("Certinia lacking", &r.cell(id, "Reviewer"), Typed::Text(bo));
        // A date typed into a cell formatted as text.
        book.type_into("Certinia lacking", &r.cell(id, "DecidedOn"), Typed::DateAsText("2026-11-25"));
    }
    let r = rows("Access matrix");
    decide(&mut book, &r, "Access matrix", &certified_away, "Remove access", bo, day(26));
    book.save(&path);
    let before = evidence(&out);

    // Read back: one deviation (the edited cell) and one undecided finding.
    let output = review(work.path(), "out");
    assert_eq!(output.status.code(), Some(9), "does not belong: {}", stdout_of(&output));
    let text = stdout_of(&output);
    let title_row = title_cell.trim_start_matches(|c: char| c.is_ascii_uppercase());
    assert!(
        text.contains(&format!(
            "access-review.xlsx: sheet Certinia retained row {title_row} (Id {edited}): Title is \"Edited by hand\", the run wrote \"{title_before}\""
        )),
        "{text}"
    );
    let undecided_user = &csv_rows(&out.join("inactive-users.csv"))[&undecided]["Username"];
    assert!(
        text.contains(&format!("{undecided} {undecided_user}: no decision; no reviewer; no date (DecidedOn)")),
        "{text}"
    );
    assert!(text.contains("belongs to the run: NO, 1 deviation(s)"), "{text}");
    assert!(text.contains("complete: NO, 1 of 52 findings"), "{text}");
    assert!(text.contains("by hand: Grant access"), "{text}");
    assert_eq!(evidence(&out), before, "review writes only under review/");

    // decisions.csv: every row of every report sheet, as decided.
    let decisions = csv_list(&out.join("review/decisions.csv"));
    let total: usize =
        ["inactive-users", "never-logged-in", "certinia-access-retained", "certinia-access-lacking", "access-matrix"]
            .iter()
            .map(|r| csv_list(&out.join(format!("{r}.csv"))).len())
            .sum();
    assert_eq!(decisions.len(), total);
    let decided =
        |report: &str, id: &str| decisions.iter().find(|d| d["Report"] == report && d["Id"] == id).unwrap().clone();
    let first = decided("inactive-users", &inactive[0]);
    assert_eq!(
        (first["Decision"].as_str(), first["Reviewer"].as_str(), first["DecidedOn"].as_str()),
        ("Deactivate", ana, "2026-11-24")
    );
    assert_eq!(decided("inactive-users", &undecided)["Decision"], "");
    assert_eq!(decided("certinia-access-retained", &removed[0])["Ticket"], "CHG-00042");
    assert_eq!(decided("certinia-access-lacking", &lacking[0])["DecidedOn"], "2026-11-25", "the date typed as text");
    assert_eq!(decided("access-matrix", &certified_away)["Decision"], "Remove access");

    // signoff.json.
    let signoff: Value = serde_json::from_slice(&std::fs::read(out.join("review/signoff.json")).unwrap()).unwrap();
    let summary: Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(signoff["format"], "access-audit-signoff/1");
    assert_eq!(signoff["run_id"], summary["run_id"]);
    assert_eq!(signoff["manifest_sha256"], summary["snapshot"]["manifest_sha256"]);
    assert_eq!((signoff["belongs"].clone(), signoff["complete"].clone()), (Value::Bool(false), Value::Bool(false)));
    let workbook = &signoff["workbooks"][0];
    assert_eq!(workbook["file"], "access-review.xlsx");
    assert_eq!(workbook["sha256"], hex::encode(Sha256::digest(std::fs::read(&path).unwrap())));
    assert_eq!(workbook["as_written"], false);
    assert_eq!(signoff["deviations"].as_array().unwrap().len(), 1);
    let counts = &signoff["reports"]["inactive-users"];
    assert_eq!(
        (counts["findings"].clone(), counts["decided"].clone(), counts["incomplete"].clone()),
        (21.into(), 20.into(), 1.into())
    );
    assert_eq!(counts["decisions"], serde_json::json!({"Deactivate": 1, "Freeze": 1, "Keep": 18}));
    assert_eq!(
        signoff["reports"]["certinia-access-retained"]["decisions"],
        serde_json::json!({"Keep (justified)": 14, "Remove access": 3})
    );
    assert_eq!(
        signoff["reports"]["never-logged-in"]["findings"], 8,
        "the 5 users in their grace period are not findings"
    );
    let reviewers: Vec<(String, u64, u64)> = signoff["reviewers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["reviewer"].as_str().unwrap().to_string(),
                r["decided"].as_u64().unwrap(),
                r["incomplete"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(reviewers, [("".to_string(), 0, 1), (ana.to_string(), 28, 0), (bo.to_string(), 24, 0)]);
    assert_eq!(signoff["missing"][0]["id"], undecided.as_str());

    // Remediation, Id by Id from the snapshot.
    let (header, lines) = remediation(&out, "User-deactivate.csv");
    assert_eq!(header, "Id,IsActive");
    let mut want = vec![format!("{},false", inactive[0]), format!("{},false", never[0])];
    want.sort();
    assert_eq!(lines, want);
    let (header, lines) = remediation(&out, "UserLogin-freeze.csv");
    assert_eq!(header, "Id,IsFrozen");
    let login = records("UserLogin").into_iter().find(|l| l["UserId"] == inactive[1].as_str()).unwrap();
    assert_eq!(lines, [format!("{},true", login["Id"].as_str().unwrap())]);
    let (header, lines) = remediation(&out, "PermissionSetAssignment-delete.csv");
    assert_eq!(header, "Id");
    let mut psa: BTreeSet<String> = BTreeSet::new();
    let mut upl: BTreeSet<String> = BTreeSet::new();
    for user in removed.iter().chain([&certified_away]) {
        psa.extend(certinia_only_assignments(user).unwrap());
        upl.extend(certinia_licences(user));
        assert!(!lines.contains(&profile_assignment(user)), "never a profile-owned assignment");
    }
    assert_eq!(lines, psa.into_iter().collect::<Vec<_>>());
    let (header, lines) = remediation(&out, "UserPackageLicense-delete.csv");
    assert_eq!(header, "Id");
    assert_eq!(lines, upl.into_iter().collect::<Vec<_>>());
    assert!(!out.join("review/remediation/Grant-access.csv").exists(), "granting is by hand");

    // The edited cell put back: the workbook belongs to the run, one finding is undecided.
    let mut book = XlsxFile::open(&path);
    book.overwrite("Certinia retained", &title_cell, &title_before);
    book.save(&path);
    let output = review(work.path(), "out");
    assert_eq!(output.status.code(), Some(8), "incomplete: {}", stdout_of(&output));
    assert!(stdout_of(&output).contains("belongs to the run: yes"));

    // The last decision: complete, and review/ is replaced (it is the tool's).
    let mut book = XlsxFile::open(&path);
    decide(&mut book, &SheetRows::read(&path, "Inactive"), "Inactive", &undecided, "Keep", ana, day(27));
    book.save(&path);
    let output = review(work.path(), "out");
    assert_eq!(output.status.code(), Some(0), "complete: {}", stdout_of(&output));
    assert!(stdout_of(&output).contains("complete: yes, every one of the 52 findings"), "{}", stdout_of(&output));
    let signoff: Value = serde_json::from_slice(&std::fs::read(out.join("review/signoff.json")).unwrap()).unwrap();
    assert_eq!((signoff["belongs"].clone(), signoff["complete"].clone()), (Value::Bool(true), Value::Bool(true)));
}

#[test]
fn review_folders_are_recognised_as_the_tools_or_a_reviewers() {
    let work = tempfile::tempdir().unwrap();
    report_demo(work.path(), &[]);
    let out = work.path().join("out");
    assert_eq!(review(work.path(), "out").status.code(), Some(8), "nothing decided yet");
    assert!(out.join("review/access-audit-files.json").is_file(), "the record is marked as the tool's");
    // A later run must not replace the folder that holds the sign-off.
    let again = bin(work.path())
        .args(["report", "--snapshot"])
        .arg(demo_org())
        .args(["--out", "out", "--as-of", AS_OF])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(5));
    assert!(stderr_of(&again).contains("it holds review/, the read-back of its sign-off"), "{}", stderr_of(&again));
    // The tool replaces its own review/ ...
    assert_eq!(review(work.path(), "out").status.code(), Some(8));
    // ... but not one a reviewer added to.
    std::fs::write(out.join("review/my-notes.txt"), "kept").unwrap();
    let refused = review(work.path(), "out");
    assert_eq!(refused.status.code(), Some(5), "{}", stderr_of(&refused));
    assert!(
        stderr_of(&refused).contains("it holds my-notes.txt, which access-audit did not write"),
        "{}",
        stderr_of(&refused)
    );
    assert_eq!(std::fs::read_to_string(out.join("review/my-notes.txt")).unwrap(), "kept");
    // A review/ that is not the tool's at all is not replaced either, nor the report folder.
    std::fs::remove_file(out.join("review/access-audit-files.json")).unwrap();
    assert_eq!(review(work.path(), "out").status.code(), Some(5));
    let again = bin(work.path())
        .args(["report", "--snapshot"])
        .arg(demo_org())
        .args(["--out", "out", "--as-of", AS_OF])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(5));
    assert!(stderr_of(&again).contains("which access-audit did not write"), "{}", stderr_of(&again));
}

#[test]
fn a_workbook_with_rows_added_and_removed_or_of_another_run_does_not_belong() {
    let work = tempfile::tempdir().unwrap();
    report_demo(work.path(), &[]);
    let out = work.path().join("out");
    let path = out.join("access-review.xlsx");
    // One finding's Id changed in the sheet: a row that is no finding added, the finding removed.
    let rows = SheetRows::read(&path, "Inactive");
    let (id, (row, _)) = rows.rows.iter().next().unwrap();
    let mut book = XlsxFile::open(&path);
    book.overwrite("Inactive", &rows.cell(id, "Id"), "005000000000000AAA");
    book.save(&path);
    let output = review(work.path(), "out");
    assert_eq!(output.status.code(), Some(9));
    let text = stdout_of(&output);
    assert!(
        text.contains(&format!(
            "sheet Inactive row {row}: Id 005000000000000AAA is not a row of inactive-users.csv (added)"
        )),
        "{text}"
    );
    assert!(text.contains(&format!("sheet Inactive: Id {id} is missing (removed)")), "{text}");

    // Another run's workbook (another inactivity threshold) in this run's folder.
    let other = tempfile::tempdir().unwrap();
    report_demo(other.path(), &["--inactive-days", "10"]);
    std::fs::copy(other.path().join("out/access-review.xlsx"), &path).unwrap();
    let output = review(work.path(), "out");
    assert_eq!(output.status.code(), Some(9));
    let text = stdout_of(&output);
    let summary: Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let run = summary["run_id"].as_str().unwrap();
    assert!(
        text.contains("its Run sheet names the run") && text.contains(&format!("this folder's run is {run}")),
        "{text}"
    );
    assert!(
        text.contains("is not a row of inactive-users.csv (added)"),
        "more users are inactive after 10 days: {text}"
    );
}

#[test]
fn managers_decide_in_their_own_workbooks_and_a_row_decided_twice_must_agree() {
    let work = tempfile::tempdir().unwrap();
    report_demo(work.path(), &["--split-by", "manager"]);
    let out = work.path().join("out");
    let main = out.join("access-review.xlsx");
    let index = SheetRows::read(&main, "Managers");
    let sheets = ["Inactive", "Never logged in", "Certinia retained", "Certinia lacking"];
    // Every manager decides every finding of their people in their own workbook.
    let mut conflict = None;
    for (_, entry) in index.rows.values() {
        let file = out.join(entry[index.column("Workbook")].to_string());
        let mut book = XlsxFile::open(&file);
        for sheet in sheets {
            book.share_inline_strings(sheet);
            let rows = SheetRows::read(&file, sheet);
            let first = SheetRows::read(&file, sheet).header.iter().position(|h| h == "InGracePeriod");
            for (id, (_, cells)) in &rows.rows {
                if first.is_some_and(|g| cells[g] == calamine::Data::Bool(true)) {
                    continue; // in the grace period: not a finding
                }
                let choice = if sheet == "Certinia retained" { "Remove access" } else { "Investigate" };
                decide(&mut book, &rows, sheet, id, choice, "A Manager", day(23));
                conflict.get_or_insert_with(|| (sheet, id.clone()));
            }
        }
        book.save(&file);
    }
    let output = review(work.path(), "out");
    assert_eq!(output.status.code(), Some(0), "decided across the managers' workbooks: {}", stdout_of(&output));
    let signoff: Value = serde_json::from_slice(&std::fs::read(out.join("review/signoff.json")).unwrap()).unwrap();
    assert_eq!(signoff["workbooks"].as_array().unwrap().len(), 1 + index.rows.len());
    // The main workbook decides one of those rows otherwise: a deviation.
    let (sheet, id) = conflict.unwrap();
    let mut book = XlsxFile::open(&main);
    let rows = SheetRows::read(&main, sheet);
    decide(&mut book, &rows, sheet, &id, "Keep", "Someone Else", day(24));
    book.save(&main);
    let output = review(work.path(), "out");
    assert_eq!(output.status.code(), Some(9));
    assert!(
        stdout_of(&output).contains(&format!("Id {id}: decided differently in access-review.xlsx")),
        "{}",
        stdout_of(&output)
    );
}
