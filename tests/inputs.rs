//! Inputs that used to pass silently (issue 13, items 6, 7, 8 and part of 13; issue 7, part of 6):
//! an empty Certinia definition, user types nobody has, impossible dates, an empty org, a large
//! roster, rosters named the way Salesforce and HR name them, control characters, Excel's limits,
//! and configuration messages. Each test reproduces the original failure through the real binary.
//!
//! Expected values come from the rules (README, REPORTS.md) and from the demo org's own records
//! (`fixtures/demo-org/User.ndjson`), never from the tool's outputs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use calamine::{Data, Reader, Xlsx};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};
use sf_sim::{Org, Record};

use crate::common::*;

const AS_OF: &str = "2026-11-20T09:00:00Z";
/// The demo org's inactive cutoff at [`AS_OF`]: 90 days before it.
const INACTIVE_CUTOFF: &str = "2026-08-22T09:00:00Z";

fn demo() -> PathBuf {
    fixtures().join("demo-org")
}

fn instant(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

/// A Salesforce datetime field as the org stores it, read as an instant.
fn sf_instant(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str().map(|s| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.3f%z").unwrap().to_utc())
}

fn is_standard(u: &Map<String, Value>) -> bool {
    u["UserType"] == "Standard"
}

fn is_active(u: &Map<String, Value>) -> bool {
    u["IsActive"] == true
}

/// The demo users in the inactive report at [`AS_OF`], by the rule: active, audited, last login
/// before the cutoff.
fn inactive_by_the_rule(users: &[Map<String, Value>]) -> BTreeSet<String> {
    users
        .iter()
        .filter(|u| is_standard(u) && is_active(u))
        .filter(|u| sf_instant(&u["LastLoginDate"]).is_some_and(|t| t < instant(INACTIVE_CUTOFF)))
        .map(|u| u["Id"].as_str().unwrap().to_string())
        .collect()
}

/// `report` on the demo snapshot into `work/<out>`, with extra arguments and environment.
fn report(work: &Path, out: &str, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = bin(work);
    cmd.args(["report", "--snapshot"]).arg(demo()).args(["--out", out]).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// `run` against `sim` into `work/<out>` at [`AS_OF`].
fn run(work: &Path, sim: &sf_sim::Sim, out: &str, args: &[&str]) -> std::process::Output {
    bin(work)
        .args(["run", "--out", out, "--as-of", AS_OF, "--instance-url", &sim.base_url()])
        .args(args)
        .env("SF_ACCESS_TOKEN", ACCESS_TOKEN)
        .output()
        .unwrap()
}

/// The demo org, changed by `change`, served by a simulator.
fn demo_sim(change: impl FnOnce(&mut BTreeMap<String, Vec<Record>>)) -> sf_sim::Sim {
    let mut org = Org::load_dir(&demo()).unwrap();
    change(org.objects_mut());
    sim(org)
}

fn user_mut<'a>(objects: &'a mut BTreeMap<String, Vec<Record>>, id: &str) -> &'a mut Record {
    objects.get_mut("User").unwrap().iter_mut().find(|u| u["Id"] == id).unwrap()
}

fn summary(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap()
}

/// A failed run: the exit code, one line of message, and no output folder.
fn assert_refused(work: &Path, out: &str, output: &std::process::Output, code: i32, needles: &[&str]) -> String {
    let err = stderr_of(output);
    assert_eq!(output.status.code(), Some(code), "{err}");
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} not in: {err}");
    }
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(!work.join(out).exists(), "nothing written");
    err
}

// ---------------------------------------------------------------------------------------------
// Item 6: an empty Certinia definition, and user types
// ---------------------------------------------------------------------------------------------

#[test]
fn an_empty_namespace_list_in_the_environment_is_refused_not_silently_applied() {
    let work = tempfile::tempdir().unwrap();
    // It used to turn namespace detection off: exit 0, "retained" 17 → 6 and "lacking" 6 → 0.
    let output = report(work.path(), "out", &["--as-of", AS_OF], &[("ACCESS_AUDIT_NAMESPACES", "")]);
    let err = assert_refused(work.path(), "out", &output, 2, &["ACCESS_AUDIT_NAMESPACES is empty"]);
    assert!(!err.contains("--namespaces"), "names the variable that was set: {err}");
    // The same run without it works: the refusal is about the empty list only.
    let output = report(work.path(), "out", &["--as-of", AS_OF], &[]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(summary(&work.path().join("out"))["reports"]["certinia-access-retained"].as_u64().unwrap() > 0);
}

#[test]
fn every_other_way_to_switch_certinia_detection_off_is_refused() {
    /// Arguments, environment, the config file's text, and what the message must say.
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], Option<&'a str>, &'a [&'a str]);
    let cases: [Case<'_>; 9] = [
        (&["--name-pattern", ""], &[], None, &["--name-pattern", "empty pattern"]),
        (&[], &[("ACCESS_AUDIT_NAME_PATTERN", "")], None, &["ACCESS_AUDIT_NAME_PATTERN", "empty pattern"]),
        (&["--name-pattern", "x?"], &[], None, &["--name-pattern", "matches the empty text"]),
        (&["--name-pattern", "psa", "--name-pattern", "(?i)ffa|"], &[], None, &["matches the empty text"]),
        (&["--namespaces", " , "], &[], None, &["--namespaces is empty"]),
        (&["--namespaces", "pse c2g"], &[], None, &["\"pse c2g\" is not a namespace prefix"]),
        (&[], &[], Some("[rules]\nnamespaces = []\n"), &["namespaces in access-audit.toml is empty"]),
        (&[], &[], Some("[rules]\nname_patterns = []\n"), &["name_patterns in access-audit.toml is empty"]),
        (&[], &[], Some("[rules]\nname_patterns = ['.*']\n"), &["name_patterns in access-audit.toml", "\".*\""]),
    ];
    for (args, env, file, needles) in cases {
        let work = tempfile::tempdir().unwrap();
        if let Some(text) = file {
            std::fs::write(work.path().join("access-audit.toml"), text).unwrap();
        }
        let mut all = vec!["--as-of", AS_OF];
        all.extend_from_slice(args);
        let output = report(work.path(), "out", &all, env);
        assert_refused(work.path(), "out", &output, 2, needles);
    }
}

#[test]
fn user_types_are_the_values_salesforce_documents_in_any_case() {
    let work = tempfile::tempdir().unwrap();
    // `Bogus` used to give an empty access matrix with exit 0.
    let output = report(work.path(), "out", &["--as-of", AS_OF, "--user-types", "Bogus"], &[]);
    assert_refused(
        work.path(),
        "out",
        &output,
        2,
        &[
            "\"Bogus\" is not a Salesforce UserType",
            "Standard, PowerPartner, CspLitePortal, CustomerSuccess, PowerCustomerSuccess, CsnOnly, Guest, \
             AutomatedProcess, CloudIntegrationUser, SelfService",
        ],
    );
    // Any case names the documented type, and audits exactly its users.
    let output = report(work.path(), "out", &["--as-of", AS_OF, "--user-types", "standard"], &[]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let s = summary(&work.path().join("out"));
    assert_eq!(s["rules"]["user_types"], json!(["Standard"]));
    let standard = demo_users().iter().filter(|u| is_standard(u)).count() as u64;
    assert_eq!(s["reports"]["access-matrix"], standard);
}

#[test]
fn an_audited_user_type_that_no_user_has_is_a_warning_in_the_notes() {
    let users = demo_users();
    assert!(!users.iter().any(|u| u["UserType"] == "PowerPartner"), "the demo org has no partner user");
    let work = tempfile::tempdir().unwrap();
    let output = report(work.path(), "out", &["--as-of", AS_OF, "--user-types", "Standard,PowerPartner"], &[]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let warning = stderr_of(&output)
        .lines()
        .find(|l| l.contains("WARN") && l.contains("PowerPartner"))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no warning about PowerPartner: {}", stderr_of(&output)));
    assert!(warning.contains("matches no user"), "{warning}");
    let s = summary(&work.path().join("out"));
    let notes: Vec<&str> = s["notes"]["run"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("PowerPartner") && notes[0].contains("matches no user"), "{notes:?}");
    assert_eq!(s["notes"]["data_warnings"], json!([]));
    // Standard is used, so it gets no note, and the population is its users.
    assert_eq!(s["reports"]["access-matrix"], users.iter().filter(|u| is_standard(u)).count() as u64);
    let html = std::fs::read_to_string(work.path().join("out/report.html")).unwrap();
    assert!(html.contains("<ul class=\"notes\">") && html.contains(notes[0]), "the HTML shows the note");
}

// ---------------------------------------------------------------------------------------------
// Item 7: impossible dates, and an org with nobody to audit
// ---------------------------------------------------------------------------------------------

#[test]
fn as_of_must_lie_between_2000_and_a_day_after_now() {
    let work = tempfile::tempdir().unwrap();
    // 0001-01-01 used to give DaysSinceCreated -739,428.
    let output = report(work.path(), "out", &["--as-of", "0001-01-01"], &[]);
    assert_refused(work.path(), "out", &output, 2, &["--as-of 0001-01-01T00:00:00Z is before 2000-01-01"]);
    let output = report(work.path(), "out", &[], &[("ACCESS_AUDIT_AS_OF", "1999-12-31T23:59:59Z")]);
    assert_refused(work.path(), "out", &output, 2, &["ACCESS_AUDIT_AS_OF 1999-12-31T23:59:59Z is before 2000-01-01"]);
    // The lower bound holds with --allow-future-as-of too.
    let output = report(work.path(), "out", &["--as-of", "1970-01-01", "--allow-future-as-of"], &[]);
    assert_refused(work.path(), "out", &output, 2, &["before 2000-01-01"]);

    let future = (Utc::now() + Duration::days(3)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let output = report(work.path(), "out", &["--as-of", &future], &[]);
    assert_refused(work.path(), "out", &output, 2, &["more than one day after now", "--allow-future-as-of"]);
    let output = report(work.path(), "out", &["--as-of", &future, "--allow-future-as-of"], &[]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert_eq!(summary(&work.path().join("out"))["as_of"], future.as_str());

    // The earliest as-of is accepted, and no day count anywhere is negative: every demo user was
    // created after it, so every DaysSinceCreated is empty and every row says why.
    let output = report(work.path(), "early", &["--as-of", "2000-01-01"], &[]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let never = csv_rows(&work.path().join("early/never-logged-in.csv"));
    assert!(!never.is_empty());
    for row in never.values() {
        assert_eq!(row["DaysSinceCreated"], "", "{row:?}");
        assert!(row["DataWarnings"].starts_with("CreatedDate: "), "{row:?}");
        assert_eq!(row["InGracePeriod"], "false", "a creation after the as-of instant gives no grace: {row:?}");
    }
    for entry in std::fs::read_dir(work.path().join("early")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "csv") {
            for row in csv_rows(&path).values() {
                for column in ["DaysSinceLogin", "DaysSinceCreated"] {
                    assert!(!row.get(column).is_some_and(|d| d.starts_with('-')), "{path:?}: {row:?}");
                }
            }
        }
    }
}

#[test]
fn a_date_after_the_as_of_instant_is_a_data_warning_and_never_hides_a_finding() {
    let users = demo_users();
    let inactive = inactive_by_the_rule(&users);
    // Two active Standard users who logged in recently, so in no finding report at AS_OF.
    let recent: Vec<String> = users
        .iter()
        .filter(|u| is_standard(u) && is_active(u))
        .filter(|u| sf_instant(&u["LastLoginDate"]).is_some_and(|t| t >= instant(INACTIVE_CUTOFF)))
        .map(|u| u["Id"].as_str().unwrap().to_string())
        .take(2)
        .collect();
    let (late_login, late_creation) = (recent[0].clone(), recent[1].clone());
    let sim = demo_sim(|objects| {
        user_mut(objects, &late_login).insert("LastLoginDate".into(), json!("9999-12-31T23:59:59.000+0000"));
        let user = user_mut(objects, &late_creation);
        user.insert("LastLoginDate".into(), Value::Null);
        user.insert("CreatedDate".into(), json!("2026-11-25T00:00:00.000+0000"));
    });
    let work = tempfile::tempdir().unwrap();
    let output = run(work.path(), &sim, "out", &[]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let out = work.path().join("out");

    // The login in 9999 used to keep the user out of the inactive report, DaysSinceLogin -2,912,628.
    let rows = csv_rows(&out.join("inactive-users.csv"));
    let mut expected = inactive.clone();
    expected.insert(late_login.clone());
    assert_eq!(rows.keys().cloned().collect::<BTreeSet<_>>(), expected);
    let row = &rows[&late_login];
    assert_eq!(row["LastLoginDate"], "9999-12-31T23:59:59Z");
    assert_eq!(row["DaysSinceLogin"], "");
    assert_eq!(
        row["DataWarnings"],
        "LastLoginDate: 9999-12-31T23:59:59Z is after the as-of instant 2026-11-20T09:00:00Z: no days are counted, \
         and it does not count as a recent login"
    );
    for other in inactive.iter().map(|id| &rows[id]) {
        assert_eq!(other["DataWarnings"], "", "{other:?}");
    }

    // Created after the as-of instant and never logged in: listed, no grace period, no days.
    let never = csv_rows(&out.join("never-logged-in.csv"));
    let row = &never[&late_creation];
    assert_eq!(row["InGracePeriod"], "false");
    assert_eq!(row["DaysSinceCreated"], "");
    assert!(row["DataWarnings"].starts_with("CreatedDate: 2026-11-25T00:00:00Z is after the as-of instant"), "{row:?}");
    // The access matrix carries the warnings too, and no negative count anywhere.
    let matrix = csv_rows(&out.join("access-matrix.csv"));
    assert!(matrix[&late_login]["DataWarnings"].starts_with("LastLoginDate: "));
    assert!(matrix.values().all(|r| !r["DaysSinceLogin"].starts_with('-')));

    // summary.json counts them: one note, one data warning per date.
    let s = summary(&out);
    let warnings = s["notes"]["data_warnings"].as_array().unwrap();
    let keys: BTreeSet<(String, String, String)> = warnings
        .iter()
        .map(|w| {
            (
                w["object"].as_str().unwrap().into(),
                w["id"].as_str().unwrap().into(),
                w["field"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            ("User".to_string(), late_login.clone(), "LastLoginDate".to_string()),
            ("User".to_string(), late_creation.clone(), "CreatedDate".to_string()),
        ])
    );
    assert!(warnings.iter().all(|w| w["detail"].as_str().unwrap().contains("after the as-of instant")));
    let notes = s["notes"]["run"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| n.as_str().unwrap().starts_with("2 dates in 2 audited user records are after")),
        "{notes:?}"
    );
    assert!(stderr_of(&output).contains("2 dates in 2 audited user records"), "logged");
}

#[test]
fn an_org_with_no_user_to_audit_is_an_error_unless_allowed() {
    // An org that returns no user at all used to give exit 0 and empty reports.
    let organization = Org::load_dir(&demo()).unwrap().records("Organization").to_vec();
    let empty = Org::from_objects(BTreeMap::from([("Organization".to_string(), organization)])).unwrap();
    let sim = sim(empty);
    let work = tempfile::tempdir().unwrap();
    // A previous review stays as it was.
    assert!(report(work.path(), "out", &["--as-of", AS_OF], &[]).status.success());
    let before = tree(&work.path().join("out"));
    let output = run(work.path(), &sim, "out", &[]);
    let err = stderr_of(&output);
    assert_eq!(output.status.code(), Some(4), "{err}");
    assert!(
        err.contains("no user to audit: the snapshot holds no User record") && err.contains("--allow-empty"),
        "{err}"
    );
    assert_eq!(tree(&work.path().join("out")), before, "the previous reports are untouched");

    let output = run(work.path(), &sim, "empty", &["--allow-empty"]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let s = summary(&work.path().join("empty"));
    assert_eq!(s["summary"]["users_in_org"], 0);
    assert_eq!(s["summary"]["audited_users"], 0);
    assert_eq!(s["findings"], 0);
    let notes = s["notes"]["run"].as_array().unwrap();
    assert!(notes.iter().any(|n| n.as_str().unwrap().starts_with("no user is audited")), "{notes:?}");

    // Users, but none of the audited type: the same rule, and the message points at --user-types.
    let output = report(work.path(), "partners", &["--as-of", AS_OF, "--user-types", "PowerPartner"], &[]);
    assert_refused(work.path(), "partners", &output, 4, &["none of the snapshot's 300 users", "--user-types"]);
}

// ---------------------------------------------------------------------------------------------
// Item 8 and issue 7 item 6: rosters
// ---------------------------------------------------------------------------------------------

#[test]
fn a_roster_of_200k_rows_loads_and_counts_right() {
    // Reading it used to take time quadratic in its size (hours for this one).
    let users = demo_users();
    let provisioned: Vec<&str> =
        users.iter().filter(|u| is_standard(u) && is_active(u)).map(|u| u["Username"].as_str().unwrap()).collect();
    let mut text = String::from("federation_id,username,email\n");
    let mut line = 1u64;
    let mut ghosts = BTreeSet::new();
    for i in 0..200_000usize {
        if i % 50_000 == 49_999 {
            text.push_str("\n\n"); // blank lines, as spreadsheets leave
            line += 2;
        }
        line += 1;
        // Some ghosts: one right after blank lines, whose line the reader's position alone misses.
        if i % 40_000 == 12_345 || i == 149_999 {
            text.push_str(&format!(",,\"ghost {i}\n@example.com\"\n")); // a quoted line break
            ghosts.insert(line.to_string());
            line += 1;
        } else {
            // Every active audited user, many times over, in changing case.
            let username = provisioned[i % provisioned.len()];
            let username = if i % 2 == 0 { username.to_uppercase() } else { username.to_string() };
            text.push_str(&format!(",{username},\n"));
        }
    }
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("big.csv"), &text).unwrap();
    let mut cmd = bin(work.path());
    cmd.args(["report", "--snapshot"])
        .arg(demo())
        .args(["--out", "out", "--as-of", AS_OF, "--roster", "big.csv"])
        .timeout(std::time::Duration::from_secs(600)); // a guard against hanging, not a time check
    let output = cmd.output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let out = work.path().join("out");
    let s = summary(&out);
    assert_eq!(s["rules"]["roster"]["entries"], 200_000);
    assert_eq!(s["reports"]["not-provisioned"], ghosts.len() as u64);
    assert_eq!(s["reports"]["unexpected-access"], 0, "every active audited user is on the roster");
    let lines: BTreeSet<String> = csv_rows(&out.join("not-provisioned.csv")).into_keys().collect();
    assert_eq!(lines, ghosts, "the ghosts' physical lines");
}

#[test]
fn a_roster_with_salesforce_or_hr_column_names_and_any_subset_of_them() {
    let users = demo_users();
    let active: Vec<&Map<String, Value>> = users
        .iter()
        .filter(|u| is_standard(u) && is_active(u) && u["FederationIdentifier"].is_string())
        .take(3)
        .collect();
    let field = |u: &Map<String, Value>, f: &str| u[f].as_str().unwrap().to_string();
    let work = tempfile::tempdir().unwrap();

    // An HR export: only an email column, named as Salesforce names it. It used to be refused for
    // missing federation_id and username.
    let mut hr = String::from("Name,Email\n");
    for (n, u) in active.iter().enumerate() {
        hr.push_str(&format!("Person {n},{}\n", field(u, "Email").to_uppercase()));
    }
    hr.push_str("Nobody,nobody@nowhere.example\n");
    std::fs::write(work.path().join("hr.csv"), hr).unwrap();
    let output = report(work.path(), "hr", &["--as-of", AS_OF, "--roster", "hr.csv"], &[]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let s = summary(&work.path().join("hr"));
    assert_eq!(s["rules"]["roster"]["entries"], 4);
    let missing = csv_rows(&work.path().join("hr/not-provisioned.csv"));
    assert_eq!(missing.keys().collect::<Vec<_>>(), ["5"], "only the unknown address, on line 5");
    assert_eq!(missing["5"]["email"], "nobody@nowhere.example");

    // A Salesforce export: FederationIdentifier and Username, and the spaced form of the first.
    for header in ["FederationIdentifier,Username", "Federation ID,USERNAME"] {
        let mut sf = format!("{header}\n");
        for u in &active {
            sf.push_str(&format!("{},\n", field(u, "FederationIdentifier")));
        }
        sf.push_str(",ghost@example.com\n");
        std::fs::write(work.path().join("sf.csv"), sf).unwrap();
        let output = report(work.path(), "sf", &["--as-of", AS_OF, "--roster", "sf.csv"], &[]);
        assert!(output.status.success(), "{header}: {}", stderr_of(&output));
        let missing = csv_rows(&work.path().join("sf/not-provisioned.csv"));
        assert_eq!(missing.keys().collect::<Vec<_>>(), ["5"], "{header}");
        assert_eq!(missing["5"]["username"], "ghost@example.com");
    }

    // No recognised column at all: one line naming the columns expected.
    std::fs::write(work.path().join("bad.csv"), "Name,Department\nAna,Finance\n").unwrap();
    let output = report(work.path(), "bad", &["--as-of", AS_OF, "--roster", "bad.csv"], &[]);
    assert_refused(
        work.path(),
        "bad",
        &output,
        2,
        &[
            "bad.csv line 1",
            "federation_id (or FederationIdentifier, Federation ID)",
            "username (or Username)",
            "email (or Email)",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Item 13 (part): control characters, Excel's limits, configuration messages; issue 7 item 6 help
// ---------------------------------------------------------------------------------------------

/// Raw NUL, ESC (a colour sequence), BEL, DEL and a C1 control, and how every format shows them.
const CONTROLS: &str = "Eve\u{0}\u{1b}[31mRed\u{7}\u{7f}\u{9b}";
const CONTROLS_SHOWN: &str = "Eve\u{2400}\u{241B}[31mRed\u{2407}\u{2421}\u{FFFD}";

fn has_hidden_control(s: &str) -> bool {
    s.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n'))
}

#[test]
fn control_characters_long_text_and_old_dates_are_safe_and_visible_in_every_format() {
    let users = demo_users();
    let id =
        users.iter().find(|u| is_standard(u) && is_active(u)).map(|u| u["Id"].as_str().unwrap().to_string()).unwrap();
    let title = format!("{}END", "t".repeat(40_000));
    let sim = demo_sim(|objects| {
        let user = user_mut(objects, &id);
        user.insert("Name".into(), json!(CONTROLS));
        user.insert("Title".into(), json!(title));
        user.insert("CreatedDate".into(), json!("1850-01-01T00:00:00.000+0000"));
        user.insert("LastLoginDate".into(), json!("1850-06-01T12:00:00.000+0000"));
    });
    let work = tempfile::tempdir().unwrap();
    let output = run(work.path(), &sim, "out", &[]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let out = work.path().join("out");

    // CSV: the symbols, no raw control byte, and the whole long text (no cut).
    for entry in std::fs::read_dir(&out).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "csv") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(!has_hidden_control(&text), "{path:?}");
        }
    }
    let inactive = csv_rows(&out.join("inactive-users.csv"));
    let row = &inactive[&id];
    assert_eq!(row["Name"], CONTROLS_SHOWN);
    assert_eq!(row["Title"], title, "the CSV keeps the whole text");
    assert_eq!(row["CreatedDate"], "1850-01-01T00:00:00Z");

    // HTML: the same symbols, no raw control character.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(!has_hidden_control(&html));
    assert!(html.contains(CONTROLS_SHOWN));

    // XLSX: the same symbols; the long text cut with its mark; the 1850 dates as text, not ####.
    // 40,003 characters; the mark at its longest (`… [cut: 40003 characters]`) is 25 of the
    // 32,767, so 32,742 are kept and 7,261 cut.
    let mut book: Xlsx<_> = calamine::open_workbook(out.join("access-review.xlsx")).unwrap();
    let sheet = book.worksheet_range("Inactive").unwrap();
    let header: Vec<String> = sheet.rows().next().unwrap().iter().map(|c| c.to_string()).collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let cells = sheet.rows().find(|r| r[0] == Data::String(id.clone())).unwrap();
    assert_eq!(cells[col("Name")], Data::String(CONTROLS_SHOWN.into()));
    assert_eq!(cells[col("Title")], Data::String(format!("{}… [cut: 7261 characters]", "t".repeat(32_742))));
    assert_eq!(cells[col("CreatedDate")], Data::String("1850-01-01T00:00:00Z".into()));
    assert_eq!(cells[col("LastLoginDate")], Data::String("1850-06-01T12:00:00Z".into()));
    for sheet_name in book.sheet_names() {
        let range = book.worksheet_range(&sheet_name).unwrap();
        for cell in range.used_cells() {
            if let (_, _, Data::String(s)) = cell {
                assert!(!has_hidden_control(s), "{sheet_name}");
            }
            assert!(!matches!(cell.2, Data::DateTime(d) if d.as_f64() < 0.0), "{sheet_name}: a negative serial");
        }
    }
}

#[test]
fn a_config_file_with_control_characters_is_reported_visibly() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("access-audit.toml"), "[rules]\ninactive_days = \"\0\u{1b}[2J\"\n").unwrap();
    let output = bin(work.path()).arg("config").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    // It used to print the raw NUL (and the ESC that clears a terminal).
    assert!(!output.stderr.contains(&0) && !output.stderr.contains(&0x1b), "{:?}", output.stderr);
    let err = stderr_of(&output);
    assert!(err.contains("access-audit.toml") && err.contains("\u{2400}\u{241B}[2J"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn a_bad_setting_is_named_where_it_was_set() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("access-audit.toml"), "[rules]\ninactive_days = 0\n").unwrap();
    // It used to say --inactive-days, a flag nobody had given.
    let output = report(work.path(), "out", &["--as-of", AS_OF], &[]);
    let err = assert_refused(work.path(), "out", &output, 2, &["inactive_days in access-audit.toml"]);
    assert!(!err.contains("--inactive-days"), "{err}");
    let output = report(work.path(), "out", &["--as-of", AS_OF], &[("ACCESS_AUDIT_INACTIVE_DAYS", "0")]);
    assert_refused(work.path(), "out", &output, 2, &["ACCESS_AUDIT_INACTIVE_DAYS must be between 1 and 36500"]);
    let output = report(work.path(), "out", &["--as-of", AS_OF, "--inactive-days", "0"], &[]);
    assert_refused(work.path(), "out", &output, 2, &["--inactive-days must be between 1 and 36500"]);
}

#[test]
fn the_namespaces_help_describes_the_list_itself() {
    let work = tempfile::tempdir().unwrap();
    let output = bin(work.path()).args(["report", "--help"]).output().unwrap();
    let help = stdout_of(&output);
    let start = help.find("--namespaces").unwrap();
    let text = &help[start..start + help[start..].find("--name-pattern").unwrap()];
    assert!(!text.contains("REPORTS.md"), "no file users do not have: {text}");
    let words: BTreeSet<&str> = text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).collect();
    // The default list of the README and REPORTS.md.
    for prefix in [
        "pse",
        "c2g",
        "fferpcore",
        "ffrr",
        "ffbc",
        "bcws",
        "ffpsai",
        "scmc",
        "ffcash",
        "ffbf",
        "ffvat",
        "ffps_po",
        "ffc_statex",
        "ffirule",
        "ffaci",
        "scmffa",
    ] {
        assert!(words.contains(prefix), "{prefix} missing from: {text}");
    }
}
