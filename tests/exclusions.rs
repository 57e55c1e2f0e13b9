//! Exclusions and account classes (REPORTS.md, "Exclusions" and "Account class"), through the real
//! binary: active, expired and unmatched entries, an ambiguous email, a malformed file, and
//! account classes shown everywhere and excluded only when the configuration says so.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;
use sf_sim::Org;

use crate::common::*;

const AS_OF: &str = "2026-11-01T00:00:00Z";
const DORMANT: &str = "2026-03-01T00:00:00";

fn id(key: &str) -> String {
    stable_id("005", key)
}

fn org() -> Org {
    let mut b = OrgBuilder::new("Exclusions Test");
    // Integration accounts: by licence, and by an API-only profile.
    b.user("svc_int", person().login(Some(DORMANT)).profile("Integration User", "Salesforce Integration"));
    b.user("api_only", person().login(None).profile("Minimum Access - API Only Integrations", "Salesforce"));
    b.user(
        "autoproc",
        person().login(Some(DORMANT)).kind("AutomatedProcess").profile("Automated Process", "Automated Process"),
    );
    // People.
    for key in ["alice", "bob", "carol"] {
        b.user(key, person().login(Some(DORMANT)));
    }
    b.user("dave", person().login(Some(DORMANT)).deactivated().email("dave.legal@example.com"));
    b.psa("dave");
    b.user("erin", person().email("shared@example.com"));
    b.user("frank", person().email("shared@example.com"));
    b.user("gina", person());
    b.build()
}

/// The exclusions file (line 1 is the header).
fn exclusions(extra: &str) -> String {
    format!(
        "user,reason,approved_by,expires\n\
         {},break-glass admin,CISO,\n\
         Bob@Example.com,contractor until October,IT Director,2026-10-31\n\
         CAROL@example.com,reviewed by the finance system owner,CFO,2026-11-01\n\
         Dave.Legal@example.com,legal hold,General Counsel,\n\
         nobody@example.com,left long ago,CISO,\n{extra}",
        id("alice").to_lowercase()
    )
}

fn run(work: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["--user-types", "Standard,AutomatedProcess"];
    args.extend(extra);
    run_org(work, org(), "out", AS_OF, &args)
}

fn ids(path: &Path) -> BTreeSet<String> {
    csv_rows(path).into_keys().collect()
}

fn keys(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|k| id(k)).collect()
}

/// exclusions.csv, line by line, as maps.
fn exclusion_rows(out: &Path) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(out.join("exclusions.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        ["Status", "Line", "user", "reason", "approved_by", "expires", "Id", "Username", "Name", "ExcludedFrom"]
    );
    reader
        .records()
        .map(|r| headers.iter().zip(r.unwrap().iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect())
        .collect()
}

#[test]
fn excluded_users_leave_the_findings_never_the_matrix_and_every_entry_is_listed() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    std::fs::write(w.join("exclusions.csv"), exclusions("")).unwrap();
    let output = run(w, &["--exclusions", "exclusions.csv"]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let out = w.join("out");
    // alice (by Id) and carol (expiring on the as-of date: the exclusion holds that day) are
    // excluded; bob's exclusion expired; the others never had one.
    assert_eq!(ids(&out.join("inactive-users.csv")), keys(&["svc_int", "autoproc", "bob"]));
    assert_eq!(ids(&out.join("never-logged-in.csv")), keys(&["api_only"]));
    assert!(ids(&out.join("certinia-access-retained.csv")).is_empty(), "dave is excluded by email");
    assert_eq!(
        ids(&out.join("access-matrix.csv")),
        keys(&["svc_int", "api_only", "autoproc", "alice", "bob", "carol", "dave", "erin", "frank", "gina"]),
        "exclusions never change the access matrix"
    );
    let rows = exclusion_rows(&out);
    let line = |r: &BTreeMap<String, String>| {
        (r["Status"].clone(), r["Line"].clone(), r["Id"].clone(), r["expires"].clone(), r["ExcludedFrom"].clone())
    };
    let s = |x: &str| x.to_string();
    assert_eq!(
        rows.iter().map(line).collect::<Vec<_>>(),
        [
            (s("active"), s("2"), id("alice"), s(""), s("inactive-users")),
            (s("expired"), s("3"), id("bob"), s("2026-10-31"), s("")),
            (s("active"), s("4"), id("carol"), s("2026-11-01"), s("inactive-users")),
            (s("active"), s("5"), id("dave"), s(""), s("certinia-access-retained")),
            (s("unmatched"), s("6"), s(""), s(""), s("")),
        ]
    );
    assert_eq!((rows[0]["reason"].as_str(), rows[0]["approved_by"].as_str()), ("break-glass admin", "CISO"));
    assert_eq!((rows[1]["user"].as_str(), rows[1]["Username"].as_str()), ("Bob@Example.com", "bob@example.com"));
    assert_eq!(rows[4]["user"], "nobody@example.com");
    let summary: Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["exclusions"], serde_json::json!({"active": 3, "expired": 1, "unmatched": 1, "class": 0}));
    assert_eq!(summary["rules"]["exclusions"]["entries"], 5);
    let sheet = SheetRows::read(&out.join("access-review.xlsx"), "Exclusions");
    assert_eq!(sheet.header[0], "Status");
    let run = SheetRows::read(&out.join("access-review.xlsx"), "Run");
    assert_eq!(run.header[0], "Run id");
}

#[test]
fn every_user_row_says_its_account_class_and_excluding_a_class_is_a_choice() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let output = run(w, &[]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let out = w.join("out");
    let class = |report: &str| -> BTreeMap<String, String> {
        csv_rows(&out.join(format!("{report}.csv"))).into_iter().map(|(k, r)| (k, r["AccountClass"].clone())).collect()
    };
    let matrix = class("access-matrix");
    assert_eq!(matrix[&id("svc_int")], "Integration", "the Salesforce Integration licence");
    assert_eq!(matrix[&id("api_only")], "Integration", "an API-only integration profile");
    assert_eq!(matrix[&id("autoproc")], "Automated", "UserType AutomatedProcess");
    assert_eq!(matrix[&id("alice")], "Human");
    assert_eq!(class("inactive-users")[&id("svc_int")], "Integration", "shown in every user report");
    assert!(!out.join("exclusions.csv").exists(), "no exclusions list without exclusions");
    assert_eq!(ids(&out.join("inactive-users.csv")), keys(&["svc_int", "autoproc", "alice", "bob", "carol"]));

    // Excluding a class, from the configuration file (with an exclusions file beside it).
    std::fs::create_dir(w.join("etc")).unwrap();
    std::fs::write(
        w.join("etc/access-audit.toml"),
        "[rules]\nexclude_classes = [\"integration\"]\nexclusions = \"exclusions.csv\"\n",
    )
    .unwrap();
    std::fs::write(w.join("etc/exclusions.csv"), exclusions("")).unwrap();
    let output = run(w, &["--config", "etc/access-audit.toml"]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert_eq!(ids(&out.join("inactive-users.csv")), keys(&["autoproc", "bob"]));
    assert!(ids(&out.join("never-logged-in.csv")).is_empty());
    let classes: Vec<(String, String, String)> = exclusion_rows(&out)
        .into_iter()
        .filter(|r| r["Status"] == "class")
        .map(|r| (r["user"].clone(), r["Id"].clone(), r["ExcludedFrom"].clone()))
        .collect();
    assert_eq!(
        classes,
        [
            ("Integration".to_string(), id("api_only"), "never-logged-in".to_string()),
            ("Integration".to_string(), id("svc_int"), "inactive-users".to_string()),
        ]
    );
    let summary: Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["rules"]["excluded_classes"], serde_json::json!(["Integration"]));
    assert_eq!(summary["exclusions"]["class"], 2);
    // An unknown class is a configuration error naming the flag.
    let output = run(w, &["--exclude-class", "Robots"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr_of(&output).contains("--exclude-class: \"Robots\" is not an account class"),
        "{}",
        stderr_of(&output)
    );
}

#[test]
fn an_ambiguous_email_or_a_malformed_file_is_one_line_with_its_line_number() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let refused = |content: &str| -> String {
        std::fs::write(w.join("exclusions.csv"), content).unwrap();
        let output = run(w, &["--exclusions", "exclusions.csv"]);
        assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
        assert!(!w.join("out").exists(), "nothing is written");
        let err = stderr_of(&output);
        let errors: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
        assert_eq!(errors.len(), 1, "one line: {err}");
        errors[0].to_string()
    };
    let mut shared = [id("erin"), id("frank")];
    shared.sort();
    let err = refused(&exclusions("Shared@Example.com,shared mailbox,CISO,\n"));
    assert!(
        err.contains(&format!(
            "exclusions file exclusions.csv line 7: the email Shared@Example.com is shared by 2 users ({}, {}): name the user by Id or Username instead",
            shared[0], shared[1]
        )),
        "{err}"
    );
    let err = refused("user,reason,approved_by\nalice@example.com,admin,\n");
    assert!(err.contains("exclusions file exclusions.csv line 2: approved_by is empty"), "{err}");
    let err = refused("user,reason,approved_by,expires\nalice@example.com,admin,CISO,31/12/2026\n");
    assert!(err.contains("line 2: expires \"31/12/2026\" is not a date written YYYY-MM-DD"), "{err}");
    let err = refused("user,why\nalice@example.com,admin\n");
    assert!(err.contains("line 1: the header lacks the columns reason, approved_by"), "{err}");
}
