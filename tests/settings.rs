//! Configuration: flag beats environment beats file beats default, and mistakes are one line.

use crate::common::*;

fn config(work: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = bin(work);
    cmd.arg("config").args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn defaults_follow_reports_md() {
    let work = tempfile::tempdir().unwrap();
    let output = config(work.path(), &[], &[]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let text = stdout_of(&output);
    assert!(text.contains("inactive_days = 90"), "{text}");
    assert!(text.contains("grace_days = 14"), "{text}");
    assert!(text.contains("user_types = [\"Standard\"]"), "{text}");
    assert!(text.contains("\"ffps_po\""), "{text}");
    assert!(text.contains("api_version = \"62.0\""), "{text}");
    assert!(text.contains("batch_size = 2000"), "{text}");
}

#[test]
fn flag_then_environment_then_file_then_default() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("access-audit.toml"),
        "[salesforce]\napi_version = \"58.0\"\n[rules]\ninactive_days = 30\ngrace_days = 7\nuser_types = [\"Standard\", \"PowerPartner\"]\n",
    )
    .unwrap();
    let text = stdout_of(&config(work.path(), &[], &[]));
    assert!(text.contains("inactive_days = 30"), "{text}");
    assert!(text.contains("api_version = \"58.0\""), "{text}");
    assert!(text.contains("[\"Standard\", \"PowerPartner\"]"), "{text}");

    let text = stdout_of(&config(work.path(), &[], &[("ACCESS_AUDIT_INACTIVE_DAYS", "60")]));
    assert!(text.contains("inactive_days = 60"), "{text}");
    assert!(text.contains("grace_days = 7"), "{text}");

    let text = stdout_of(&config(work.path(), &["--inactive-days", "45"], &[("ACCESS_AUDIT_INACTIVE_DAYS", "60")]));
    assert!(text.contains("inactive_days = 45"), "{text}");
}

#[test]
fn an_explicit_config_file_must_exist_and_parse() {
    let work = tempfile::tempdir().unwrap();
    let output = config(work.path(), &["--config", "nope.toml"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr_of(&output).contains("nope.toml"));

    std::fs::write(work.path().join("bad.toml"), "[rules]\ninactive_dayz = 3\n").unwrap();
    let output = config(work.path(), &["--config", "bad.toml"], &[]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr_of(&output);
    assert!(err.contains("bad.toml") && err.contains("inactive_dayz"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn bad_values_say_what_to_fix() {
    let work = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (vec!["--batch-size", "5000"], "between 200 and 2000"),
        (vec!["--api-version", "sixty"], "62.0"),
        (vec!["--name-pattern", "(oops"], "not a valid regular expression"),
        (vec!["--inactive-days", "0"], "--inactive-days"),
    ] {
        let output = config(work.path(), &args, &[]);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let err = stderr_of(&output);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
}
