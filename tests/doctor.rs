//! `access-audit doctor`: the login behind the data, one line per check, against the simulator.
//!
//! Every expected line is written out here from what the simulator's org is given (the packages
//! it has, what the integration user may not read, its API quota) and the permissions the
//! README's setup section lists, never read back from the tool.

use serde_json::{Value, json};
use sf_sim::{Sim, generate};

use crate::common::*;

const PSA_PERMISSION: &str = "Read on the object pse__Permission_Control__c and its fields (e.g. the PSA permission \
                              set \"PSA - Permission Controls - Read\" or a permission set of your own)";
const CONTACT_PERMISSION: &str = "Read on Contact, with field-level Read on pse__Salesforce_User__c, \
                                  pse__Is_Resource__c and pse__Is_Resource_Active__c";

/// `doctor` with the JWT bearer flow against `sim`, and any extra arguments.
fn doctor(sim: &Sim, extra: &[&str]) -> std::process::Output {
    let work = tempfile::tempdir().unwrap();
    let mut cmd = bin(work.path());
    cmd.args(["doctor", "--login-url", &sim.base_url(), "--client-id", CLIENT_ID, "--username", USERNAME])
        .arg("--jwt-key-file")
        .arg(private_key())
        .args(extra);
    cmd.output().unwrap()
}

/// A simulator of `org` whose org has used 20 of its 15000 daily API requests: `/limits`, the
/// first data request, then finds 15000 - 21 left.
fn sim_with_quota(org: sf_sim::Org) -> Sim {
    let sim = sim(org);
    sim.with_state(|st| {
        st.api_max = 15_000;
        st.api_used = 20;
    });
    sim
}

/// The lines of a healthy login to an org with PSA and Accounting, `changed` replacing some.
fn expected(sim: &Sim, changed: &[(&str, &str)]) -> Vec<String> {
    let mut lines =
        vec![format!("ok  login: {}", sim.base_url()), "ok  API requests: 14979 of 15000 left today".to_string()];
    for object in OBJECT_NAMES {
        lines.push(format!("ok  read {object}"));
    }
    lines.push("ok  Bulk API 2.0".to_string());
    for (from, to) in changed {
        let at = lines.iter().position(|l| l == from).unwrap_or_else(|| panic!("no line {from:?}"));
        lines[at] = to.to_string();
    }
    lines
}

fn lines(output: &std::process::Output) -> Vec<String> {
    stdout_of(output).lines().map(str::to_string).collect()
}

#[test]
fn every_check_passes_for_a_login_that_can_read_everything() {
    let sim = sim_with_quota(generate::demo_org());
    let out = doctor(&sim, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(lines(&out), expected(&sim, &[]));
    // One list of objects, one Bulk question, and no job created, no secret shown.
    let stats = sim.stats();
    assert_eq!(stats.requests_by_kind.get("sobjects"), Some(&1));
    assert_eq!(stats.requests_by_kind.get("bulk-list"), Some(&1));
    assert_eq!(stats.bulk_jobs_created, 0);
    let all = format!("{}{}", stdout_of(&out), stderr_of(&out));
    for token in sim.with_state(|st| st.issued_tokens.clone()) {
        assert!(!all.contains(&token), "a token in the output");
    }
}

#[test]
fn an_object_the_integration_user_cannot_read_says_what_to_grant() {
    let sim = sim_with_quota(generate::demo_org());
    sim.with_state(|st| {
        st.access.refused_objects.insert("pse__Permission_Control__c".into());
        st.access.hidden_fields.insert(("Contact".into(), "pse__Is_Resource__c".into()));
    });
    let out = doctor(&sim, &[]);
    assert_eq!(out.status.code(), Some(11), "{}", stderr_of(&out));
    let got = lines(&out);
    let want = expected(
        &sim,
        &[
            (
                "ok  read pse__Permission_Control__c",
                &format!(
                    "missing  read pse__Permission_Control__c: grant the integration user {PSA_PERMISSION} \
                     (Salesforce: INSUFFICIENT_ACCESS: insufficient access rights on object pse__Permission_Control__c)"
                ),
            ),
            ("ok  read Contact", "CONTACT"),
        ],
    );
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for (g, w) in got.iter().zip(&want) {
        if w == "CONTACT" {
            // The field, the object and the permission; Salesforce's own words after them.
            let head = format!(
                "missing  read Contact.pse__Is_Resource__c: check that the org has it, and grant the integration \
                 user {CONTACT_PERMISSION} (Salesforce: "
            );
            assert!(g.starts_with(&head), "{g}");
        } else {
            assert_eq!(g, w);
        }
    }
    assert!(
        stderr_of(&out)
            .contains("2 of 16 checks failed: read pse__Permission_Control__c, read Contact.pse__Is_Resource__c")
    );

    // Not in its list of objects: the user company is the only Accounting object the list would
    // name, so what tells that Accounting is installed is the demo org's c2g package licence.
    let sim = sim_with_quota(generate::demo_org());
    sim.with_state(|st| {
        st.access.hidden_objects.insert("c2g__codaUserCompany__c".into());
        st.access.hidden_objects.insert("PermissionSetLicense".into());
    });
    let out = doctor(&sim, &[]);
    assert_eq!(out.status.code(), Some(11), "{}", stderr_of(&out));
    assert_eq!(
        lines(&out),
        expected(
            &sim,
            &[
                (
                    "ok  read PermissionSetLicense",
                    "missing  read PermissionSetLicense: grant the integration user the system permission View Setup \
                     and Configuration (it is not in its list of objects)"
                ),
                (
                    "ok  read c2g__codaUserCompany__c",
                    "missing  read c2g__codaUserCompany__c: grant the integration user Read on the objects \
                     c2g__codaUserCompany__c and c2g__codaCompany__c and their fields (e.g. the Accounting permission \
                     set \"Accounting - Read Only\") (no object of Accounting (c2g__) is in its list of objects, while the \
                     org holds a c2g licence)"
                ),
            ]
        )
    );
}

#[test]
fn a_login_without_bulk_api_access_fails_that_check_only() {
    let sim = sim_with_quota(generate::demo_org());
    sim.with_state(|st| st.bulk_api = false);
    let out = doctor(&sim, &[]);
    assert_eq!(out.status.code(), Some(11), "{}", stderr_of(&out));
    assert_eq!(
        lines(&out),
        expected(
            &sim,
            &[(
                "ok  Bulk API 2.0",
                "missing  Bulk API 2.0: give the integration user the API Enabled permission and Bulk API access, or \
                 pull with --api rest (HTTP 403 API_DISABLED_FOR_ORG: Bulk API is not enabled for this user: the \
                 profile or a permission set must grant API Enabled and Bulk API access)"
            )]
        )
    );
    // A run that pulls with REST only does not need it.
    let sim = sim_with_quota(generate::demo_org());
    sim.with_state(|st| st.bulk_api = false);
    let out = doctor(&sim, &["--api", "rest"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(
        lines(&out),
        expected(&sim, &[("ok  Bulk API 2.0", "info  Bulk API 2.0: not checked: --api rest pulls without it")])
    );
}

#[test]
fn a_package_the_org_does_not_have_is_a_note_not_a_failure() {
    let sim = sim_with_quota(small_org());
    let out = doctor(&sim, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let mut want = expected(&sim, &[]);
    want.retain(|l| {
        !["pse__Permission_Control__c", "Contact", "c2g__codaUserCompany__c"].iter().any(|o| l.ends_with(o))
    });
    let bulk = want.pop().unwrap();
    want.push("info  PSA not installed: permission controls and resources not audited".into());
    want.push("info  Accounting not installed: user companies not audited".into());
    want.push(bulk);
    assert_eq!(lines(&out), want);
}

#[test]
fn too_few_api_requests_left_for_a_run_is_a_failed_check() {
    let sim = sim(generate::demo_org());
    sim.with_state(|st| {
        st.api_max = 10_000;
        st.api_used = 9_700;
    });
    let out = doctor(&sim, &[]);
    assert_eq!(out.status.code(), Some(11), "{}", stderr_of(&out));
    assert_eq!(
        lines(&out)[1],
        "missing  API requests: 299 of 10000 left today, and a run must leave 500 (--min-api-remaining 5%): run \
         later, or lower --min-api-remaining"
    );
    let out = doctor(&sim, &["--min-api-remaining", "0"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
}

#[test]
fn json_gives_every_check_and_the_failure_by_name() {
    let sim = sim_with_quota(small_org());
    let out = doctor(&sim, &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let envelope: Value = serde_json::from_str(&stdout_of(&out)).expect("one JSON object on stdout");
    assert_eq!(envelope["status"], 0);
    let result = &envelope["result"];
    assert_eq!(result["command"], "doctor");
    assert_eq!(result["missing"], 0);
    assert_eq!(result["api_requests"], json!({"remaining": 14979, "max": 15000}));
    assert_eq!(result["checks"][0], json!({"status": "ok", "check": "login", "detail": sim.base_url()}));
    assert_eq!(result["checks"][2], json!({"status": "ok", "check": "read Organization"}));
    assert_eq!(
        result["checks"][12],
        json!({"status": "info", "check": "PSA not installed", "detail": "permission controls and resources not audited"})
    );
    assert_eq!(result["checks"].as_array().unwrap().len(), 15);
    assert!(result["api_requests_spent"].as_u64().unwrap() > 0);

    sim.with_state(|st| st.bulk_api = false);
    let out = doctor(&sim, &["--json"]);
    assert_eq!(out.status.code(), Some(11));
    let envelope: Value = serde_json::from_str(&stdout_of(&out)).expect("one JSON object on stdout");
    assert_eq!(envelope["status"], 11);
    assert_eq!(envelope["name"], "ChecksFailed");
    assert_eq!(envelope["message"], "1 of 15 checks failed: Bulk API 2.0");
    assert_eq!(envelope["result"]["missing"], 1);
    let last = &envelope["result"]["checks"][14];
    assert_eq!(last["status"], "missing");
    assert_eq!(last["check"], "Bulk API 2.0");
}

#[test]
fn a_refused_login_keeps_its_exit_code() {
    let sim = sim(small_org());
    let work = tempfile::tempdir().unwrap();
    let out = bin(work.path())
        .args(["doctor", "--instance-url", &sim.base_url(), "--auth-flow", "access-token"])
        .env("SF_ACCESS_TOKEN", "00DSIM000000001!not-a-valid-SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert!(stdout_of(&out).is_empty());
    assert!(!stderr_of(&out).contains("not-a-valid-SECRET"));
}

#[test]
fn an_organization_record_a_run_goes_on_without_is_a_note() {
    let sim = sim_with_quota(generate::demo_org());
    sim.with_state(|st| {
        st.access.hidden_objects.insert("Organization".into());
    });
    let out = doctor(&sim, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let got = lines(&out);
    assert_eq!(got.len(), 16, "{got:#?}");
    assert!(
        got[2].starts_with("info  read Organization: the org does not offer the object Organization at API v62.0")
            && got[2].ends_with("; a run goes on without it"),
        "{}",
        got[2]
    );
    let mut want = expected(&sim, &[]);
    want.remove(2);
    got.iter().enumerate().filter(|(i, _)| *i != 2).map(|(_, l)| l).zip(&want).for_each(|(g, w)| assert_eq!(g, w));

    // Refused outright, a run stops on it: a failed check.
    let sim = sim_with_quota(generate::demo_org());
    sim.with_state(|st| {
        st.access.refused_objects.insert("Organization".into());
    });
    let out = doctor(&sim, &[]);
    assert_eq!(out.status.code(), Some(11), "{}", stderr_of(&out));
    assert!(
        lines(&out)[2].starts_with(
            "missing  read Organization: grant the integration user the system permission View Setup and \
             Configuration (Salesforce: INSUFFICIENT_ACCESS"
        ),
        "{}",
        lines(&out)[2]
    );
}
