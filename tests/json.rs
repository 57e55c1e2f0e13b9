//! `--json` through the real binary: one JSON object on stdout for every command and every exit
//! code, logs on stderr. (Exit 6, an internal error, cannot be reached from any input: its object
//! is checked in `src/envelope.rs`.)

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use sf_sim::{FaultRule, Faults, Injected};

use crate::common::*;

const AS_OF: &str = "2026-11-20T09:00:00Z";

/// The one JSON object on stdout (stdout holds nothing else).
fn object(output: &std::process::Output) -> Value {
    let out = stdout_of(output);
    assert_eq!(out.lines().count(), 1, "exactly one line on stdout: {out}");
    serde_json::from_str(out.trim_end()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// A failure object: status, name and message, nothing else.
fn assert_failure(output: &std::process::Output, status: i32, name: &str, needle: &str) -> Value {
    assert_eq!(output.status.code(), Some(status), "{}", stderr_of(output));
    let v = object(output);
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["status", "name", "message"], "{v}");
    assert_eq!(v["status"], status);
    assert_eq!(v["name"], name);
    let message = v["message"].as_str().unwrap();
    assert!(message.contains(needle), "{message}");
    assert!(!message.contains('\n'), "one line: {message}");
    v
}

fn report(work: &Path, extra: &[&str]) -> std::process::Output {
    bin(work)
        .args(["--json", "report", "--snapshot"])
        .arg(demo_org())
        .args(["--out", "out", "--as-of", AS_OF])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn success_has_the_counts_paths_and_manifest_hash() {
    let work = tempfile::tempdir().unwrap();
    let output = report(work.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let v = object(&output);
    assert_eq!(v.as_object().unwrap().keys().collect::<Vec<_>>(), ["status", "result"]);
    assert_eq!(v["status"], 0);
    let r = &v["result"];
    assert_eq!(r["out"], "out");
    let summary: Value = serde_json::from_slice(&std::fs::read(work.path().join("out/summary.json")).unwrap()).unwrap();
    assert_eq!(r["reports"], summary["reports"]);
    assert_eq!(r["findings"], summary["findings"]);
    assert_eq!(r["manifest_sha256"], summary["snapshot"]["manifest_sha256"]);
    let files: Vec<&str> = r["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    for file in &files {
        assert!(work.path().join("out").join(file).is_file(), "{file}");
    }
    assert!(files.contains(&"email.html"));
    // The logs went to stderr.
    assert!(stderr_of(&output).contains("reports written to out"));

    // verify, pull, config: one object each.
    let verify = bin(work.path()).args(["--json", "verify"]).arg(demo_org()).output().unwrap();
    assert!(verify.status.success());
    let v = object(&verify);
    assert_eq!(v["status"], 0);
    assert_eq!(v["result"]["manifest_sha256"], summary["snapshot"]["manifest_sha256"]);
    let config = bin(work.path()).args(["--json", "config"]).output().unwrap();
    assert!(config.status.success());
    assert_eq!(object(&config)["result"]["config"]["rules"]["inactive_days"], 90);
    let sim = sim(small_org());
    let pull = bin(work.path())
        .args(["--json", "pull", "--out", "snap", "--instance-url", &sim.base_url()])
        .env("SF_ACCESS_TOKEN", ACCESS_TOKEN)
        .output()
        .unwrap();
    assert!(pull.status.success(), "{}", stderr_of(&pull));
    let v = object(&pull);
    let (sha, _) = access_audit::snapshot::hash_file(&work.path().join("snap/manifest.json")).unwrap();
    assert_eq!(v["result"]["manifest_sha256"], sha);
    assert_eq!(v["result"]["out"], "snap");
}

#[test]
fn exit_1_findings_present_carries_the_result_too() {
    let work = tempfile::tempdir().unwrap();
    let output = report(work.path(), &["--fail-on-findings"]);
    assert_eq!(output.status.code(), Some(1));
    let v = object(&output);
    assert_eq!(v["status"], 1);
    assert_eq!(v["name"], "FindingsPresent");
    let findings = v["result"]["findings"].as_u64().unwrap();
    assert!(findings > 0);
    assert_eq!(v["message"], format!("{findings} findings present (--fail-on-findings)"));
}

#[test]
fn exit_2_usage_errors_from_clap_and_from_the_configuration() {
    let work = tempfile::tempdir().unwrap();
    let output = bin(work.path()).args(["--json", "report", "--no-such-flag"]).output().unwrap();
    assert_failure(&output, 2, "UsageError", "--no-such-flag");
    let output = report(work.path(), &["--inactive-days", "0"]);
    assert_failure(&output, 2, "UsageError", "--inactive-days must be between 1 and 36500");
    // Neither --out nor --reviews.
    let output = bin(work.path()).args(["--json", "report", "--snapshot"]).arg(demo_org()).output().unwrap();
    assert_failure(&output, 2, "UsageError", "--reviews DIR");
}

#[test]
fn exit_3_salesforce_failure() {
    let work = tempfile::tempdir().unwrap();
    let sim = sim(small_org());
    sim.set_faults(Faults { rules: vec![FaultRule::always(Injected::RequestLimitExceeded)], ..Faults::none() });
    let output = bin(work.path())
        .args(["--json", "run", "--out", "out", "--as-of", AS_OF, "--instance-url", &sim.base_url()])
        .env("SF_ACCESS_TOKEN", ACCESS_TOKEN)
        .output()
        .unwrap();
    assert_failure(&output, 3, "SalesforceError", "REQUEST_LIMIT_EXCEEDED");
}

#[test]
fn exit_4_incomplete_data() {
    let work = tempfile::tempdir().unwrap();
    copy_snapshot(&demo_org(), &work.path().join("snap"));
    let users = work.path().join("snap/User.ndjson");
    let text = std::fs::read_to_string(&users).unwrap();
    std::fs::write(&users, text.replacen("\"IsActive\":true", "\"IsActive\":false", 1)).unwrap();
    let output = bin(work.path()).args(["--json", "verify", "snap"]).output().unwrap();
    assert_failure(&output, 4, "IncompleteData", "User.ndjson");
}

#[test]
fn exit_5_local_failure() {
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir(work.path().join("out")).unwrap();
    std::fs::write(work.path().join("out/thesis.txt"), "mine").unwrap();
    let output = report(work.path(), &[]);
    assert_failure(&output, 5, "LocalError", "refusing to replace out");
}

#[test]
fn exit_7_email_not_sent() {
    let work = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start();
    let mut cmd = bin(work.path());
    cmd.args(["--json", "report", "--snapshot"]).arg(demo_org());
    cmd.args(["--out", "out", "--as-of", AS_OF, "--email-to", "it-sec@acme.example"]);
    smtp.args(&mut cmd);
    cmd.env("ACCESS_AUDIT_SMTP_PASSWORD", "wrong");
    let output = cmd.output().unwrap();
    let v = assert_failure(&output, 7, "EmailNotSent", "the server refused the login");
    assert!(v["message"].as_str().unwrap().contains("the reports are written in out"));
    assert!(work.path().join("out/report.html").is_file());
}

/// A run stopped by `signal`: the object names the signal, with 128 + its number.
fn signalled(signal: &str, code: i32, name: &str) {
    let sim = sim(small_org());
    let work = tempfile::tempdir().unwrap();
    sim.set_faults(Faults { latency: Duration::from_secs(3), ..Faults::none() });
    let mut cmd = run_process(work.path(), &sim, "out", AS_OF);
    cmd.arg("--json").stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    wait_for_staging(work.path(), "out");
    let sent = std::process::Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status();
    assert!(sent.unwrap().success());
    let output = child.wait_with_output().unwrap();
    assert_failure(&output, code, name, &format!("stopped by SIG{signal}"));
}

#[test]
fn exit_143_129_130_signals() {
    signalled("TERM", 143, "Terminated");
    signalled("HUP", 129, "HungUp");
    signalled("INT", 130, "Interrupted");
}

#[test]
fn exits_8_and_9_review_incomplete_and_mismatch() {
    let work = tempfile::tempdir().unwrap();
    let output = report(work.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    // A review's failure carries the sign-off it wrote, as `result`.
    let review = |status: i32, name: &str| -> Value {
        let output = bin(work.path()).args(["--json", "review", "out"]).output().unwrap();
        assert_eq!(output.status.code(), Some(status), "{}", stderr_of(&output));
        let v = object(&output);
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["status", "name", "message", "result"], "{v}");
        assert_eq!((v["status"].as_i64(), v["name"].as_str()), (Some(status.into()), Some(name)));
        assert!(!v["message"].as_str().unwrap().contains('\n'), "one line");
        v["result"]["signoff"].clone()
    };
    // Nothing decided yet: incomplete, every finding missing.
    let signoff = review(8, "ReviewIncomplete");
    assert_eq!((signoff["belongs"].as_bool(), signoff["complete"].as_bool()), (Some(true), Some(false)));
    // An evidence cell edited by hand: the workbook no longer matches the run.
    let path = work.path().join("out/access-review.xlsx");
    let rows = SheetRows::read(&path, "Inactive");
    let id = rows.rows.keys().next().expect("an inactive user").clone();
    let mut book = XlsxFile::open(&path);
    book.overwrite("Inactive", &rows.cell(&id, "Title"), "Edited by hand");
    book.save(&path);
    let signoff = review(9, "ReviewMismatch");
    assert_eq!(signoff["belongs"].as_bool(), Some(false), "{signoff}");
}
