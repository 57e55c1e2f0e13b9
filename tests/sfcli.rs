//! `--target-org ALIAS` through the Salesforce CLI's stored login: a fake `sf` on PATH answers
//! `sf org display --target-org ALIAS --json` in the CLI's documented shape (and, for a newer
//! CLI that redacts the token there, `sf org auth show-access-token`). The run uses its token
//! against the simulator; the token appears in no output, log or file; each way the lookup can
//! fail is one line that says what to do.

use std::path::{Path, PathBuf};

use sf_sim::Sim;

use crate::common::*;

const AS_OF: &str = "2026-10-01T00:00:00Z";

/// A fake `sf` in `dir` that logs each command line to `dir/sf.log` and answers for the aliases:
/// `my-sandbox` (connected), `new-cli` (a newer CLI: the token redacted, shown by its own
/// command), `stale` (a session the CLI cannot refresh), `revoked` (the refresh token refused),
/// any other (`NamedOrgNotFoundError`), and `garbage` (no JSON).
fn fake_sf(dir: &Path, sim: &Sim) -> PathBuf {
    let connected = |token: &str| {
        format!(
            r#"{{"status": 0, "result": {{"id": "00DSIM000000001AAA", "accessToken": "{token}", "instanceUrl": "{}", "username": "admin@acme.com.sandbox", "alias": "x", "clientId": "PlatformCLI", "connectedStatus": "Connected"}}, "warnings": []}}"#,
            sim.base_url()
        )
    };
    let script = format!(
        r#"#!/bin/sh
# A stand-in for the Salesforce CLI (tests only).
echo "$*" >> "{log}"
case "$*" in
  "org display --target-org my-sandbox --json")
    cat <<'EOF'
{connected}
EOF
    ;;
  "org display --target-org new-cli --json")
    cat <<'EOF'
{redacted}
EOF
    ;;
  "org auth show-access-token --target-org new-cli --json")
    echo 'Warning: the access token is shown: keep it secret.' >&2
    cat <<'EOF'
{{"status": 0, "result": {{"accessToken": "{token}"}}, "warnings": []}}
EOF
    ;;
  "org display --target-org stale --json")
    cat <<'EOF'
{{"status": 0, "result": {{"id": "00DSIM000000001AAA", "accessToken": "{token}", "instanceUrl": "{url}", "username": "a@b.c", "connectedStatus": "Unable to refresh session due to: Error authenticating with the refresh token due to: expired access/refresh token"}}}}
EOF
    ;;
  "org display --target-org revoked --json")
    cat <<'EOF'
{{"status": 1, "name": "RefreshTokenAuthError", "message": "Error authenticating with the refresh token due to: expired access/refresh token", "exitCode": 1}}
EOF
    exit 1
    ;;
  "org display --target-org garbage --json")
    echo 'Segmentation fault (pretend)' >&2
    exit 139
    ;;
  *)
    cat <<'EOF'
{{"status": 1, "name": "NamedOrgNotFoundError", "message": "No authorization information found for nobody.", "exitCode": 1}}
EOF
    exit 1
    ;;
esac
"#,
        log = dir.join("sf.log").display(),
        connected = connected(ACCESS_TOKEN),
        redacted = connected("[REDACTED] Use 'sf org auth show-access-token' to view"),
        token = ACCESS_TOKEN,
        url = sim.base_url(),
    );
    let path = dir.join("sf");
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The binary with the fake `sf` first on PATH.
fn with_sf(work: &Path, bin_dir: &Path) -> assert_cmd::Command {
    let mut cmd = bin(work);
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin_dir.to_path_buf()];
    dirs.extend(std::env::split_paths(&path));
    cmd.env("PATH", std::env::join_paths(dirs).unwrap());
    cmd
}

/// Every file under `dir`, as text.
fn everything_written(dir: &Path) -> String {
    tree(dir).into_values().map(|b| String::from_utf8_lossy(&b).into_owned()).collect()
}

#[test]
fn the_cli_login_is_used_against_the_simulator_and_its_token_is_never_shown() {
    let sim = sim(small_org());
    let (work, fake) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    fake_sf(fake.path(), &sim);
    let output = with_sf(work.path(), fake.path())
        .args(["--verbose", "run", "-o", "my-sandbox", "--reviews", "reviews", "--as-of", AS_OF])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    // The exact command of the CLI's documented interface, once.
    let log = std::fs::read_to_string(fake.path().join("sf.log")).unwrap();
    assert_eq!(log, "org display --target-org my-sandbox --json\n");
    // Its token got the data: every query was accepted, and the reports are under the alias.
    let stats = sim.stats();
    assert!(stats.total_query_pages() >= 7, "{stats:?}");
    assert_eq!(stats.unauthorized_requests, 0);
    let run = std::fs::canonicalize(work.path().join("reviews/my-sandbox/latest")).unwrap();
    assert!(run.join("access-review.xlsx").is_file());
    assert!(
        stderr_of(&output).contains("the Salesforce CLI's login of admin@acme.com.sandbox"),
        "{}",
        stderr_of(&output)
    );
    // The token: not in what the run printed (with --verbose), not in anything it wrote.
    let printed = format!("{}{}", stdout_of(&output), stderr_of(&output));
    assert!(!printed.contains(ACCESS_TOKEN));
    assert!(!everything_written(work.path()).contains(ACCESS_TOKEN));

    // `config` shows the login it would use, never the token.
    let output = with_sf(work.path(), fake.path()).args(["config", "--target-org", "my-sandbox"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let text = stdout_of(&output);
    assert!(text.contains(&format!("instance_url: {}", sim.base_url())), "{text}");
    assert!(text.contains("admin@acme.com.sandbox") && !text.contains(ACCESS_TOKEN), "{text}");
    toml::from_str::<toml::Value>(&text).expect("still TOML");
}

#[test]
fn a_newer_cli_that_redacts_the_token_is_asked_with_show_access_token() {
    let sim = sim(small_org());
    let (work, fake) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let sf = fake_sf(fake.path(), &sim);
    // Through --sf-bin this time.
    let output = bin(work.path())
        .args(["run", "--target-org", "new-cli", "--out", "out", "--as-of", AS_OF, "--sf-bin"])
        .arg(&sf)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let log = std::fs::read_to_string(fake.path().join("sf.log")).unwrap();
    assert_eq!(
        log,
        "org display --target-org new-cli --json\norg auth show-access-token --target-org new-cli --json\n"
    );
    assert_eq!(sim.stats().unauthorized_requests, 0);
    let printed = format!("{}{}", stdout_of(&output), stderr_of(&output));
    assert!(!printed.contains(ACCESS_TOKEN) && !printed.contains("keep it secret"));
    assert!(!everything_written(work.path()).contains(ACCESS_TOKEN));
}

#[test]
fn each_failure_is_one_line_that_says_what_to_do() {
    let sim = sim(small_org());
    let (work, fake) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    fake_sf(fake.path(), &sim);
    let fails = |cmd: &mut assert_cmd::Command, code: i32, needles: &[&str]| {
        let output = cmd.output().unwrap();
        let err = stderr_of(&output);
        assert_eq!(output.status.code(), Some(code), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        for needle in needles {
            assert!(err.contains(needle), "{needle:?} in {err}");
        }
        assert!(!format!("{}{err}", stdout_of(&output)).contains(ACCESS_TOKEN), "the token in {err}");
        assert!(!work.path().join("out").exists(), "nothing written");
    };
    let run = |alias: &str| {
        let mut cmd = with_sf(work.path(), fake.path());
        cmd.args(["run", "-o", alias, "--out", "out", "--as-of", AS_OF]);
        cmd
    };
    // No sf at all: on PATH, or where --sf-bin says.
    let mut cmd = bin(work.path());
    cmd.env("PATH", fake.path().join("empty")).args(["run", "-o", "my-sandbox", "--out", "out"]);
    fails(
        &mut cmd,
        2,
        &[
            "\"my-sandbox\" is not an org of the configuration file",
            "Salesforce CLI (sf) is not installed or not on PATH",
            "--sf-bin",
        ],
    );
    let mut cmd = bin(work.path());
    cmd.args(["run", "-o", "my-sandbox", "--out", "out", "--sf-bin", "/nonexistent/sf"]);
    fails(&mut cmd, 2, &["/nonexistent/sf", "not installed"]);
    // An alias the CLI does not know.
    fails(&mut run("nobody"), 2, &["NamedOrgNotFoundError", "sf org login web --alias nobody", "[orgs.nobody]"]);
    // A session the CLI cannot refresh, said either way the CLI says it.
    fails(&mut run("stale"), 3, &["session for stale has expired", "sf org login web --alias stale"]);
    fails(&mut run("revoked"), 3, &["RefreshTokenAuthError", "sf org login web --alias revoked"]);
    // Not the CLI's answer.
    fails(&mut run("garbage"), 2, &["printed no answer", "exit status 139", "Segmentation fault (pretend)"]);
    // A login's own flag would replace the CLI's login.
    fails(run("my-sandbox").args(["--instance-url", &sim.base_url()]), 2, &["--instance-url", "leave it out"]);
    assert_eq!(sim.stats().total_query_pages(), 0, "no failed lookup reached Salesforce");
    // The same with --json: one object, the message the same line.
    let output = run("stale").arg("--json").output().unwrap();
    let object: serde_json::Value = serde_json::from_str(stdout_of(&output).trim()).unwrap();
    assert_eq!(object["status"], 3);
    assert!(object["message"].as_str().unwrap().contains("sf org login web --alias stale"));
}
