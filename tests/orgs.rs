//! Several orgs in one run, through the real binary: three simulated orgs on 127.0.0.1 (a
//! production org, its full-copy sandbox, and an acquired org whose API quota is spent), each
//! org's own folder, the combined summary's counts and cross-org rows, the exit code, and the
//! run's one email through the real STARTTLS+AUTH SMTP server.
//!
//! As of T = 2026-10-01T00:00:00Z. prod keeps the default rules (inactive: last login before
//! T − 90 days = 2026-07-03); fullsb overrides `inactive_days = 30` in `[orgs.fullsb.rules]`
//! (inactive: last login before 2026-09-01). Every expected value below follows from those rules
//! and the users built here, never from the tool's own output.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use mail_parser::{MessageParser, MimeHeaders};
use serde_json::{Map, Value, json};
use sf_sim::generate::sf_id;
use sf_sim::{FaultRule, Faults, Injected, Org, Sim};

use crate::common::*;

const AS_OF: &str = "2026-10-01T00:00:00Z";

fn dt(day: &str) -> Value {
    json!(format!("{day}T12:00:00.000+0000"))
}

/// One user of a test org.
struct Person {
    key: &'static str,
    federation: Option<&'static str>,
    email: &'static str,
    active: bool,
    frozen: bool,
    last_login: Option<&'static str>,
    /// A Certinia package licence (namespace pse).
    licence: bool,
    /// A Certinia permission set (namespace pse).
    grant: bool,
}

fn person(key: &'static str, email: &'static str) -> Person {
    Person {
        key,
        federation: None,
        email,
        active: true,
        frozen: false,
        last_login: Some("2026-09-29"),
        licence: false,
        grant: false,
    }
}

/// An org of `people`: its Organization record, users, logins, licences and grants.
fn org(n: u64, name: &str, sandbox: bool, people: &[Person]) -> Org {
    let mut objects: BTreeMap<String, Vec<Map<String, Value>>> = BTreeMap::new();
    let mut push = |object: &str, v: Value| {
        let Value::Object(m) = v else { unreachable!() };
        objects.entry(object.to_string()).or_default().push(m);
    };
    push(
        "Organization",
        json!({"Id": sf_id("00D", n), "Name": name, "InstanceName": "SIM1", "IsSandbox": sandbox, "OrganizationType": "Enterprise Edition"}),
    );
    for (i, p) in people.iter().enumerate() {
        let i = i as u64 + 1;
        let id = sf_id("005", i);
        push(
            "User",
            json!({
                "Id": id, "Username": format!("{}@acme.com{}", p.key, if sandbox { ".fullsb" } else { "" }),
                "Name": format!("User {}", p.key), "Email": p.email, "IsActive": p.active, "UserType": "Standard",
                "Profile": {"Name": "Standard User", "UserLicense": {"Name": "Salesforce"}}, "UserRole": null,
                "Department": null, "Title": null, "FederationIdentifier": p.federation,
                "CreatedDate": dt("2025-01-01"), "LastLoginDate": p.last_login.map(dt),
            }),
        );
        push("UserLogin", json!({"Id": sf_id("060", i), "UserId": id, "IsFrozen": p.frozen}));
        if p.licence {
            push(
                "UserPackageLicense",
                json!({"Id": sf_id("051", i), "UserId": id, "PackageLicenseId": sf_id("050", 1), "PackageLicense": {"NamespacePrefix": "pse"}}),
            );
        }
        if p.grant {
            push(
                "PermissionSetAssignment",
                json!({"Id": sf_id("0Pa", i), "AssigneeId": id, "PermissionSetId": sf_id("0PS", 1),
                       "PermissionSet": {"Name": "PSACreateProjects", "Label": "PSA - Create Projects", "NamespacePrefix": "pse", "IsOwnedByProfile": false, "Type": "Regular"},
                       "PermissionSetGroupId": null, "ExpirationDate": null}),
            );
        }
    }
    Org::from_objects(objects).expect("a valid org")
}

/// Production: ann left (deactivated, still holding her PSA seat), cat has not logged in since
/// May, dan never logged in; bob and eve are fine.
fn prod() -> Org {
    org(
        1,
        "Acme Production",
        false,
        &[
            Person {
                federation: Some("FED-ANN"),
                active: false,
                last_login: Some("2026-08-01"),
                licence: true,
                ..person("ann", "ann@acme.com")
            },
            Person { federation: Some("FED-BOB"), licence: true, grant: true, ..person("bob", "bob@acme.com") },
            Person { last_login: Some("2026-05-01"), ..person("cat", "cat@acme.com") },
            Person { federation: Some("FED-DAN"), last_login: None, ..person("dan", "dan@acme.com") },
            person("eve", "eve@acme.com"),
        ],
    )
}

/// The full-copy sandbox, refreshed before ann left: she is still active here (her federation id
/// in another case, the sandbox's `.invalid` email). bob last logged in on 2026-08-17 (inactive
/// under fullsb's 30 days, not under 90); cat (no federation id: matched by email) is frozen.
fn fullsb() -> Org {
    org(
        2,
        "Acme Full Sandbox",
        true,
        &[
            Person {
                federation: Some("fed-ann"),
                last_login: Some("2026-09-20"),
                ..person("ann", "ann@acme.com.invalid")
            },
            Person {
                federation: Some("FED-BOB"),
                last_login: Some("2026-08-17"),
                ..person("bob", "bob@acme.com.invalid")
            },
            Person { frozen: true, last_login: Some("2026-09-25"), ..person("cat", "CAT@acme.com.invalid") },
            person("fay", "fay@acme.com.invalid"),
        ],
    )
}

/// The acquired org: its daily API quota is spent, so every run of it fails (exit 3).
fn acq() -> Sim {
    let sim = sim(org(3, "Acquired Co", false, &[person("gus", "gus@acquired.example")]));
    sim.set_faults(Faults { rules: vec![FaultRule::always(Injected::RequestLimitExceeded)], ..Faults::none() });
    sim
}

/// The configuration file: one `[orgs.NAME]` per simulator, each with its own token file.
fn config(work: &Path, sims: &[(&str, &Sim)], extra: &str) {
    let mut text = String::new();
    for (name, sim) in sims {
        std::fs::write(work.join(format!("{name}.token")), ACCESS_TOKEN).unwrap();
        text.push_str(&format!(
            "[orgs.{name}]\ninstance_url = \"{}\"\nauth_flow = \"access-token\"\naccess_token_file = \"{name}.token\"\n\n",
            sim.base_url()
        ));
    }
    text.push_str("[orgs.fullsb.rules]\ninactive_days = 30\n");
    text.push_str(extra);
    std::fs::write(work.join("access-audit.toml"), text).unwrap();
}

/// The Ids (first column) of a CSV.
fn ids(path: &Path) -> BTreeSet<String> {
    csv_rows(path).into_keys().collect()
}

fn user_ids(keys: &[u64]) -> BTreeSet<String> {
    keys.iter().map(|n| sf_id("005", *n)).collect()
}

fn json_of(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// A CSV's rows, each as header → value, in file order.
fn rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| headers.iter().zip(r.unwrap().iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect())
        .collect()
}

#[test]
fn three_orgs_one_failing_in_one_all_orgs_run() {
    let work = tempfile::tempdir().unwrap();
    let (prod, fullsb, acq) = (sim(prod()), sim(fullsb()), acq());
    config(work.path(), &[("prod", &prod), ("fullsb", &fullsb), ("acq", &acq)], "");
    let smtp = SmtpServer::start();
    let mut cmd = bin(work.path());
    cmd.args(["--json", "run", "--all-orgs", "--reviews", "reviews", "--as-of", AS_OF]);
    cmd.args(["--email-to", "it-sec@acme.example", "--email-on-failure"]);
    smtp.args(&mut cmd);
    let output = cmd.output().unwrap();
    let err = stderr_of(&output);

    // The exit code says an org failed; the others reported.
    assert_eq!(output.status.code(), Some(10), "{err}");
    let envelope: Value = serde_json::from_str(stdout_of(&output).trim()).unwrap();
    assert_eq!(envelope["status"], 10);
    assert_eq!(envelope["name"], "OrgsFailed");
    assert!(envelope["message"].as_str().unwrap().contains("1 of 3 orgs failed: acq (exit 3)"), "{envelope}");
    let statuses: Vec<(&str, &str)> = envelope["result"]["orgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["name"].as_str().unwrap(), o["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses, [("acq", "failed"), ("fullsb", "reported"), ("prod", "reported")]);

    // Each org in its own folder, with its own rules.
    let reviews = work.path().join("reviews");
    let prod_run = std::fs::canonicalize(reviews.join("prod/latest")).unwrap();
    assert_eq!(ids(&prod_run.join("inactive-users.csv")), user_ids(&[3]), "cat: last login 2026-05-01");
    assert_eq!(ids(&prod_run.join("never-logged-in.csv")), user_ids(&[4]), "dan");
    assert_eq!(ids(&prod_run.join("certinia-access-retained.csv")), user_ids(&[1]), "ann keeps her PSA seat");
    assert_eq!(ids(&prod_run.join("access-matrix.csv")).len(), 5);
    let fullsb_run = std::fs::canonicalize(reviews.join("fullsb/latest")).unwrap();
    assert_eq!(ids(&fullsb_run.join("inactive-users.csv")), user_ids(&[2]), "bob: 45 days, over fullsb's 30");
    assert_eq!(json_of(&fullsb_run.join("summary.json"))["rules"]["inactive_days"], 30);
    assert_eq!(json_of(&prod_run.join("summary.json"))["rules"]["inactive_days"], 90);
    // The failed org wrote no run, and nothing points at one.
    assert!(deliver_runs(&reviews.join("acq")).is_empty());
    assert!(std::fs::symlink_metadata(reviews.join("acq/latest")).is_err());

    // The combined summary beside them: a dated run of its own, `latest` pointing at it.
    let combined = std::fs::canonicalize(reviews.join("all-orgs/latest")).unwrap();
    let summary = json_of(&combined.join("summary.json"));
    assert_eq!(summary["format"], "access-audit-combined/1");
    assert_eq!(summary["as_of"], AS_OF);
    assert_eq!(summary["findings"], 4, "prod 3 (cat, dan, ann) + fullsb 1 (bob)");
    assert_eq!(summary["failed"], 1);
    assert_eq!(summary["reported"], 2);
    let by_name: BTreeMap<&str, &Value> =
        summary["orgs"].as_array().unwrap().iter().map(|o| (o["name"].as_str().unwrap(), o)).collect();
    let p = by_name["prod"];
    assert_eq!(p["status"], "reported");
    assert_eq!(p["findings"], 3);
    assert_eq!(p["reports"]["inactive-users"], 1);
    assert_eq!(p["reports"]["never-logged-in"], 1);
    assert_eq!(p["reports"]["certinia-access-retained"], 1);
    assert_eq!(p["reports"]["certinia-access-lacking"], 0);
    assert_eq!(p["reports"]["access-matrix"], 5);
    assert_eq!(p["seats"], json!({"held": 2, "on_deactivated": 1}), "ann's and bob's PSA seats; ann's unused");
    assert_eq!(p["org"]["is_sandbox"], false);
    assert_eq!(p["change"], Value::Null, "a first run has no change to show");
    let f = by_name["fullsb"];
    assert_eq!((f["findings"].as_u64(), f["reports"]["inactive-users"].as_u64()), (Some(1), Some(1)));
    assert_eq!(f["org"]["is_sandbox"], true);
    let a = by_name["acq"];
    assert_eq!(a["status"], "failed");
    assert_eq!(a["exit_code"], 3);
    assert!(a["error"].as_str().unwrap().contains("REQUEST_LIMIT_EXCEEDED"), "{a}");
    assert!(!a["error"].as_str().unwrap().contains('\n'));

    // The cross-org rows: ann (federation id, any case), bob (federation id), cat (email, the
    // sandbox's `.invalid` dropped); ann is deactivated in prod and active in fullsb: first.
    assert_eq!(summary["cross_org"]["people"], 3);
    assert_eq!(summary["cross_org"]["still_active_elsewhere"], 1);
    assert!(summary["cross_org"]["flagged"][0]["federation_id"].as_str().unwrap().eq_ignore_ascii_case("fed-ann"));
    let people = rows(&combined.join("cross-org.csv"));
    let row = |i: usize, col: &str| people[i][col].clone();
    assert_eq!(people.len(), 3);
    assert_eq!(
        (row(0, "Name"), row(0, "StillActiveElsewhere"), row(0, "prod:Status"), row(0, "fullsb:Status")),
        ("User ann".into(), "true".into(), "Deactivated".into(), "Active".into())
    );
    assert_eq!(row(0, "acq:Status"), "", "the failed org holds nobody");
    assert_eq!(row(0, "fullsb:Username"), "ann@acme.com.fullsb");
    assert_eq!(
        (row(1, "Name"), row(1, "StillActiveElsewhere"), row(1, "prod:Status"), row(1, "fullsb:Status")),
        ("User bob".into(), "false".into(), "Active".into(), "Active".into())
    );
    assert_eq!(row(1, "prod:CertiniaAccess"), "true");
    assert_eq!(row(1, "fullsb:CertiniaAccess"), "false");
    assert_eq!(
        (row(2, "Name"), row(2, "StillActiveElsewhere"), row(2, "prod:Status"), row(2, "fullsb:Status")),
        ("User cat".into(), "false".into(), "Active".into(), "Frozen".into()),
        "frozen elsewhere cannot log in: not flagged"
    );
    let orgs = rows(&combined.join("orgs.csv"));
    let orgs_by_name: BTreeMap<String, &BTreeMap<String, String>> =
        orgs.iter().map(|r| (r["Org"].clone(), r)).collect();
    assert_eq!(orgs_by_name["acq"]["Status"], "failed");
    assert_eq!(orgs_by_name["acq"]["ExitCode"], "3");
    assert_eq!(orgs_by_name["prod"]["Findings"], "3");
    assert_eq!(orgs_by_name["prod"]["SeatsOnDeactivated"], "1");

    // The workbook holds both sheets, every row.
    use calamine::Reader;
    let mut workbook: calamine::Xlsx<_> = calamine::open_workbook(combined.join("access-review.xlsx")).unwrap();
    assert_eq!(workbook.sheet_names(), ["Orgs", "Cross-org"]);
    assert_eq!(workbook.worksheet_range("Orgs").unwrap().height(), 4);
    assert_eq!(workbook.worksheet_range("Cross-org").unwrap().height(), 4);
    let html = std::fs::read_to_string(combined.join("summary.html")).unwrap();
    assert!(html.contains("FAILED") && html.contains("REQUEST_LIMIT_EXCEEDED"), "the failed org says why");
    assert!(html.contains("Still active elsewhere"));

    // One email for the whole run: the combined digest, its workbook and CSVs attached.
    let received = smtp.received();
    assert_eq!(received.len(), 1, "one email, no notice of its own for the failed org");
    let message = MessageParser::default().parse(&received[0].data).unwrap();
    assert_eq!(
        message.subject(),
        Some("Certinia access review 3 orgs (acq, fullsb, prod): 4 findings as of 2026-10-01 00:00 UTC")
    );
    let text = message.body_text(0).unwrap().replace("\r\n", "\n");
    assert!(text.contains("acq: FAILED (exit 3)"), "{text}");
    assert!(text.contains("[Still active elsewhere] User ann"), "{text}");
    assert!(
        text.contains(&format!("Full report: reviews/all-orgs/{}", combined.file_name().unwrap().to_string_lossy())),
        "{text}"
    );
    let attached: BTreeSet<String> = message.attachments().map(|a| a.attachment_name().unwrap().to_string()).collect();
    assert_eq!(attached, BTreeSet::from(["access-review.xlsx".to_string(), "reports-csv.zip".to_string()]));

    // Nothing secret anywhere.
    let printed = format!("{}{err}", stdout_of(&output));
    assert!(!printed.contains(ACCESS_TOKEN) && !printed.contains(SMTP_PASSWORD));
}

fn deliver_runs(org_dir: &Path) -> Vec<std::path::PathBuf> {
    access_audit::deliver::runs(org_dir)
}

#[test]
fn run_orgs_audit_each_into_its_folder_and_a_second_run_shows_the_change() {
    let work = tempfile::tempdir().unwrap();
    let (prod, fullsb) = (sim(prod()), sim(fullsb()));
    // `orgs` under [run]: a plain `run` audits these, one at a time.
    config(
        work.path(),
        &[("prod", &prod), ("fullsb", &fullsb)],
        "\n[run]\norgs = [\"prod\", \"fullsb\"]\norg_concurrency = 1\n",
    );
    let run = |as_of: &str| {
        let output = bin(work.path()).args(["run", "--out", "out", "--as-of", as_of]).output().unwrap();
        assert!(output.status.success(), "{}", stderr_of(&output));
        output
    };
    run(AS_OF);
    let out = work.path().join("out");
    for org in ["prod", "fullsb", "all-orgs"] {
        assert!(out.join(org).join("access-audit-files.json").is_file(), "{org} is a report folder of its own");
    }
    assert!(out.join("prod/snapshot/manifest.json").is_file());

    // A month later: prod is unchanged (cat, dan, ann); in fullsb everyone's last login is now
    // over 30 days old: ann (09-20), bob (08-17), cat (frozen, 09-25) and fay (09-29).
    run("2026-11-01T00:00:00Z");
    let summary = json_of(&out.join("all-orgs/summary.json"));
    let by_name: BTreeMap<&str, &Value> =
        summary["orgs"].as_array().unwrap().iter().map(|o| (o["name"].as_str().unwrap(), o)).collect();
    assert_eq!(summary["orgs"][0]["name"], "prod", "the order of [run]'s list");
    assert_eq!((by_name["prod"]["findings"].as_u64(), by_name["prod"]["change"].as_i64()), (Some(3), Some(0)));
    assert_eq!((by_name["fullsb"]["findings"].as_u64(), by_name["fullsb"]["change"].as_i64()), (Some(4), Some(3)));
    assert_eq!(by_name["fullsb"]["previous"]["findings"], 1);
    assert_eq!(ids(&out.join("fullsb/inactive-users.csv")), user_ids(&[1, 2, 3, 4]));
    let html = std::fs::read_to_string(out.join("all-orgs/summary.html")).unwrap();
    assert!(html.contains("+3") && html.contains("±0"), "the change since the last run is shown");
}

#[test]
fn a_run_of_several_refuses_what_belongs_to_one_org() {
    let work = tempfile::tempdir().unwrap();
    let prod = sim(prod());
    config(work.path(), &[("prod", &prod), ("fullsb", &prod)], "");
    let refused = |args: &[&str], needle: &str| {
        let output = bin(work.path()).args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr_of(&output));
        let err = stderr_of(&output);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(prod.stats().total_query_pages(), 0, "no request");
    };
    refused(&["run", "--all-orgs", "--out", "o", "--instance-url", &prod.base_url()], "--instance-url");
    refused(&["run", "--all-orgs", "--out", "o", "--target-org", "prod"], "cannot be used with");
    refused(
        &["run", "--all-orgs", "--out", "o", "--org-concurrency", "0"],
        "--org-concurrency must be between 1 and 16",
    );
    std::fs::write(work.path().join("bad.toml"), "[orgs.all-orgs]\nusername = \"x\"\n").unwrap();
    refused(&["--config", "bad.toml", "run", "--all-orgs", "--out", "o"], "the combined summary");
    std::fs::write(work.path().join("bad.toml"), "[orgs.prod]\ninstanse_url = \"x\"\n").unwrap();
    refused(&["--config", "bad.toml", "config"], "instanse_url");
    std::fs::write(work.path().join("none.toml"), "[salesforce]\napi_version = \"60.0\"\n").unwrap();
    refused(&["--config", "none.toml", "run", "--all-orgs", "--out", "o"], "names no org");
}

#[test]
fn target_org_picks_an_org_of_the_file_with_its_rules_and_folder() {
    let work = tempfile::tempdir().unwrap();
    let (prod, fullsb) = (sim(prod()), sim(fullsb()));
    config(work.path(), &[("prod", &prod), ("fullsb", &fullsb)], "");
    let output =
        bin(work.path()).args(["run", "-o", "fullsb", "--reviews", "reviews", "--as-of", AS_OF]).output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let run = std::fs::canonicalize(work.path().join("reviews/fullsb/latest")).unwrap();
    assert_eq!(ids(&run.join("inactive-users.csv")), user_ids(&[2]), "fullsb's own 30 days");
    assert_eq!(prod.stats().total_query_pages(), 0, "prod was not touched");
    // `report` takes the same org for its rules and folder, from a snapshot.
    let output = bin(work.path())
        .args(["report", "--target-org", "fullsb", "--snapshot"])
        .arg(run.join("snapshot"))
        .args(["--out", "again", "--as-of", AS_OF])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert_eq!(ids(&work.path().join("again/inactive-users.csv")), user_ids(&[2]));
    let output = bin(work.path())
        .args(["report", "--target-org", "nowhere", "--snapshot"])
        .arg(run.join("snapshot"))
        .args(["--out", "again2", "--as-of", AS_OF])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr_of(&output).contains("has no [orgs.nowhere]"), "{}", stderr_of(&output));
}
