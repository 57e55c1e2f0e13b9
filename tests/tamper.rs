//! Snapshots changed after the pull with their hashes fixed up, and files that are not regular
//! files: `verify` and `report` refuse them alike (one check), and a report never counts wrong.
//! Reproductions from issue 13 (items 5 and 10) through the real binary, then a property test.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::*;

const AS_OF: &str = "2026-11-20T09:00:00Z";

/// A copy of the demo snapshot in `work/snap`.
fn demo_copy(work: &Path) -> PathBuf {
    let snap = work.join("snap");
    copy_snapshot(&demo_org(), &snap);
    snap
}

fn file_of(object: &str) -> String {
    format!("{object}.ndjson")
}

/// Rewrites one object's file as a careful tamperer would: new bytes, the manifest's SHA-256 fixed
/// up, and the row count and `totalSize` set when given.
fn tamper(snap: &Path, object: &str, bytes: &[u8], rows: Option<u64>) {
    std::fs::write(snap.join(file_of(object)), bytes).unwrap();
    edit_manifest(snap, object, |entry| {
        entry["sha256"] = hex::encode(Sha256::digest(bytes)).into();
        if let Some(rows) = rows {
            entry["rows"] = rows.into();
            entry["total_size"] = rows.into();
        }
    });
}

fn edit_manifest(snap: &Path, object: &str, edit: impl FnOnce(&mut Value)) {
    let path = snap.join("manifest.json");
    let mut manifest: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let entry = manifest["objects"].as_array_mut().unwrap().iter_mut().find(|o| o["object"] == object).unwrap();
    edit(entry);
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
}

fn lines(snap: &Path, object: &str) -> Vec<String> {
    std::fs::read_to_string(snap.join(file_of(object))).unwrap().lines().map(str::to_string).collect()
}

fn joined(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

fn verify(work: &Path) -> std::process::Output {
    bin(work).args(["verify", "snap"]).timeout(Duration::from_secs(30)).output().unwrap()
}

fn report(work: &Path) -> std::process::Output {
    bin(work)
        .args(["report", "--snapshot", "snap", "--out", "out", "--as-of", AS_OF])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap()
}

/// `verify` and `report` both refuse the snapshot with exit 4 and the same message, which holds
/// `needle`; no report folder is written.
fn both_refuse(work: &Path, needle: &str) {
    let (v, r) = (verify(work), report(work));
    assert_eq!(v.status.code(), Some(4), "verify: {}", stderr_of(&v));
    assert_eq!(r.status.code(), Some(4), "report: {}", stderr_of(&r));
    assert!(stderr_of(&v).contains(needle), "{}", stderr_of(&v));
    assert_eq!(stderr_of(&v), stderr_of(&r), "the same check, the same words");
    assert!(!work.join("out").exists());
}

// ---- item 5: a snapshot checks itself, not only its hashes -------------------------------------

#[test]
fn a_duplicated_user_line_with_a_fixed_up_manifest_is_refused() {
    // The reproduction: the user was listed twice (inactive 464 instead of 463).
    let work = tempfile::tempdir().unwrap();
    let snap = demo_copy(work.path());
    let mut users = lines(&snap, "User");
    users.insert(10, users[10].clone());
    tamper(&snap, "User", joined(&users).as_bytes(), Some(users.len() as u64));
    let id: Value = serde_json::from_str::<Value>(&users[10]).unwrap()["Id"].clone();
    both_refuse(work.path(), &format!("User.ndjson line 12: record {} appears twice", id.as_str().unwrap()));
}

#[test]
fn a_total_size_that_is_not_the_row_count_is_refused() {
    // The reproduction: a manifest `total_size` of 9,999 against 2,681 rows was accepted.
    let work = tempfile::tempdir().unwrap();
    let snap = demo_copy(work.path());
    edit_manifest(&snap, "PermissionSetAssignment", |e| e["total_size"] = 9999.into());
    both_refuse(work.path(), "PermissionSetAssignment.ndjson: the manifest says 756 rows but a totalSize of 9999");
}

#[test]
fn a_record_appended_without_a_final_newline_is_refused_by_both() {
    // The reproduction: counted by `report` but not by `verify` (12,231 against 12,230).
    let work = tempfile::tempdir().unwrap();
    let snap = demo_copy(work.path());
    let logins = lines(&snap, "UserLogin");
    let mut extra: Value = serde_json::from_str(logins.last().unwrap()).unwrap();
    extra["Id"] = "06Czzzzzzzzzzzzzzz".into();
    let bytes = format!("{}{}", joined(&logins), extra);
    // The manifest's rows still match the newline count, as they did in the reproduction.
    tamper(&snap, "UserLogin", bytes.as_bytes(), None);
    both_refuse(work.path(), "UserLogin.ndjson line 301: the last line does not end with a newline");
}

#[test]
fn an_assignment_whose_user_is_not_in_the_snapshot_is_reported_by_both() {
    let work = tempfile::tempdir().unwrap();
    let snap = demo_copy(work.path());
    // A user holding assignments, removed with a fixed-up manifest.
    let assignments = lines(&snap, "PermissionSetAssignment");
    let first: Value = serde_json::from_str(&assignments[0]).unwrap();
    let (psa, user) = (first["Id"].as_str().unwrap().to_string(), first["AssigneeId"].as_str().unwrap().to_string());
    let assigned_first = assignments
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|a| a["AssigneeId"] == user.as_str())
        .map(|a| a["Id"].as_str().unwrap().to_string())
        .min()
        .unwrap();
    assert_eq!(assigned_first, psa, "the first assignment in the file is the user's first");
    // Only the user's own record (other users name it as their manager).
    let own = format!("{{\"Id\":\"{user}\"");
    let users: Vec<String> = lines(&snap, "User").into_iter().filter(|l| !l.starts_with(&own)).collect();
    assert_eq!(users.len(), 299);
    tamper(&snap, "User", joined(&users).as_bytes(), Some(299));
    let warning = format!("PermissionSetAssignment {psa}: AssigneeId {user} is not in User.ndjson");
    let v = verify(work.path());
    assert!(v.status.success(), "{}", stderr_of(&v));
    assert!(stderr_of(&v).contains(&warning), "{}", stderr_of(&v));
    let r = report(work.path());
    assert!(r.status.success(), "{}", stderr_of(&r));
    assert!(stderr_of(&r).contains(&warning), "{}", stderr_of(&r));
    let summary: Value = serde_json::from_slice(&std::fs::read(work.path().join("out/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["summary"]["users_in_org"], 299);
}

// ---- item 10: regular files only, never followed links, size caps -------------------------------

fn mkfifo(path: &Path) {
    assert!(std::process::Command::new("mkfifo").arg(path).status().unwrap().success());
}

/// Runs `args` (a pull that never gets to the network) and expects exit 2 with `needle`, at once.
fn refused_at_once(work: &Path, args: &[&str], needle: &str) {
    let output = bin(work).args(args).timeout(Duration::from_secs(20)).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr_of(&output));
    let err = stderr_of(&output);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(needle), "{args:?}: {err}");
}

#[test]
fn secrets_keys_config_and_roster_must_be_regular_files_of_a_sensible_size() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    mkfifo(&w.join("fifo"));
    std::fs::write(w.join("huge-token"), "x".repeat(100 * 1024)).unwrap();
    let pull = ["pull", "--out", "s", "--instance-url", "http://127.0.0.1:9", "--client-id", CLIENT_ID];
    // The reproduction: `--client-secret-file /dev/zero` read 4.7 GB in 3 s.
    let with = |extra: &[&'static str]| pull.iter().copied().chain(extra.iter().copied()).collect::<Vec<_>>();
    refused_at_once(
        w,
        &with(&["--client-secret-file", "/dev/zero"]),
        "cannot read --client-secret-file /dev/zero: is a character device, not a regular file",
    );
    refused_at_once(
        w,
        &with(&["--auth-flow", "access-token", "--access-token-file", "fifo"]),
        "cannot read --access-token-file fifo: is a FIFO (named pipe), not a regular file",
    );
    refused_at_once(
        w,
        &with(&["--auth-flow", "access-token", "--access-token-file", "huge-token"]),
        "is larger than 64 KiB: too large for a secret",
    );
    refused_at_once(
        w,
        &with(&["--username", USERNAME, "--jwt-key-file", "fifo"]),
        "cannot read the JWT key file fifo: is a FIFO (named pipe), not a regular file",
    );
    refused_at_once(
        w,
        &["--config", "/dev/zero", "verify", "snap"],
        "cannot read the configuration file /dev/zero: is a character device, not a regular file",
    );
    let demo = demo_org().display().to_string();
    refused_at_once(
        w,
        &["report", "--snapshot", &demo, "--out", "r", "--as-of", AS_OF, "--roster", "fifo"],
        "cannot read the roster fifo: is a FIFO (named pipe), not a regular file",
    );
    assert!(!w.join("r").exists() && !w.join("s").exists());
}

#[cfg(unix)]
#[test]
fn verify_and_report_never_follow_a_link_inside_a_snapshot() {
    // The reproduction: a member linked to /etc/passwd with a fixed-up hash passed `verify`.
    let work = tempfile::tempdir().unwrap();
    let snap = demo_copy(work.path());
    // The same bytes, outside the snapshot: the hash still matches, only the link is wrong.
    std::fs::rename(snap.join("User.ndjson"), work.path().join("elsewhere.ndjson")).unwrap();
    std::os::unix::fs::symlink(work.path().join("elsewhere.ndjson"), snap.join("User.ndjson")).unwrap();
    both_refuse(work.path(), "User.ndjson: cannot read it: is a symbolic link, not a regular file");
}

#[cfg(unix)]
#[test]
fn a_member_that_is_a_fifo_or_a_device_is_refused_at_once() {
    // The reproduction: `verify` hung forever on a FIFO or /dev/zero.
    let work = tempfile::tempdir().unwrap();
    let snap = demo_copy(work.path());
    std::fs::remove_file(snap.join("UserLogin.ndjson")).unwrap();
    mkfifo(&snap.join("UserLogin.ndjson"));
    both_refuse(work.path(), "UserLogin.ndjson: cannot read it: is a FIFO (named pipe), not a regular file");
    std::fs::remove_file(snap.join("UserLogin.ndjson")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", snap.join("UserLogin.ndjson")).unwrap();
    both_refuse(work.path(), "UserLogin.ndjson: cannot read it: is a symbolic link");
}

// ---- the property: verify and report agree, and a report never counts wrong ---------------------

/// Ways to change a snapshot file after the pull (issue 13, item 5, and a few more).
#[derive(Debug, Clone, Copy)]
enum Change {
    Nothing,
    DuplicateLine,
    RemoveLine,
    SwapLines,
    BlankLine,
    DropFinalNewline,
    AppendWithoutNewline,
    InvalidField,
    TotalSize(i64),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        Just(Change::Nothing),
        Just(Change::DuplicateLine),
        Just(Change::RemoveLine),
        Just(Change::SwapLines),
        Just(Change::BlankLine),
        Just(Change::DropFinalNewline),
        Just(Change::AppendWithoutNewline),
        Just(Change::InvalidField),
        prop_oneof![-3i64..=-1, 1i64..=3].prop_map(Change::TotalSize),
    ]
}

/// Applies `change` to `object` at line `at`; `fix` fixes the manifest up as a tamperer would
/// (SHA-256, and rows and `totalSize` from the lines now in the file). Returns whether the
/// snapshot is still one a pull could have written (by the rules of item 5, not by the code).
fn apply(snap: &Path, object: &str, change: Change, at: Index, fix: bool) -> bool {
    let mut lines = lines(snap, object);
    let i = at.index(lines.len());
    let mut text = None;
    let consistent = match change {
        Change::Nothing => return true,
        Change::TotalSize(delta) => {
            edit_manifest(snap, object, |e| {
                e["total_size"] = (e["total_size"].as_i64().unwrap() + delta).max(0).into()
            });
            // A delta below zero on an empty file changes nothing.
            return lines.is_empty() && delta < 0;
        }
        Change::DuplicateLine => {
            lines.insert(i, lines[i].clone());
            false
        }
        Change::RemoveLine => {
            lines.remove(i);
            // A record fewer is a consistent snapshot (dangling references are reported, not fatal).
            fix
        }
        Change::SwapLines if lines.len() < 2 => return true,
        Change::SwapLines => {
            let j = if i + 1 < lines.len() { i + 1 } else { i - 1 };
            lines.swap(i, j);
            false
        }
        Change::BlankLine => {
            lines.insert(i, String::new());
            false
        }
        Change::DropFinalNewline => {
            let mut t = joined(&lines);
            t.pop();
            text = Some(t);
            false
        }
        Change::AppendWithoutNewline => {
            let mut record: Value = serde_json::from_str(&lines[i]).unwrap();
            record["Id"] = "zzzzzzzzzzzzzzzzzz".into();
            text = Some(format!("{}{record}", joined(&lines)));
            false
        }
        Change::InvalidField => {
            let mut record: Value = serde_json::from_str(&lines[i]).unwrap();
            record["Id"] = "not-an-id".into();
            lines[i] = record.to_string();
            false
        }
    };
    let bytes = text.unwrap_or_else(|| joined(&lines));
    if fix {
        let rows = bytes.lines().count() as u64;
        tamper(snap, object, bytes.as_bytes(), Some(rows));
    } else {
        std::fs::write(snap.join(file_of(object)), &bytes).unwrap();
    }
    consistent
}

/// The `report` command, in this process (fast enough for many cases): its exit code and message.
fn report_in_process(snap: &Path, out: &Path) -> Result<(), (access_audit::exit::ExitCode, String)> {
    let text = |s: &str| std::ffi::OsString::from(s);
    let cli = access_audit::cli::Cli::parse_from([
        text("access-audit"),
        text("report"),
        text("--snapshot"),
        snap.as_os_str().to_owned(),
        text("--out"),
        out.as_os_str().to_owned(),
        text("--as-of"),
        text(AS_OF),
    ]);
    access_audit::app::run(cli).map(|_| ()).map_err(|e| (e.exit_code(), e.to_string()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn verify_and_report_agree_and_never_count_wrong(
        object in select(OBJECT_NAMES.to_vec()),
        change in change(),
        at in any::<Index>(),
        fix in any::<bool>(),
    ) {
        let work = tempfile::tempdir().unwrap();
        let snap = demo_copy(work.path());
        let consistent = apply(&snap, object, change, at, fix);
        let verified = access_audit::snapshot::verify(&snap);
        let reported = report_in_process(&snap, &work.path().join("out"));
        prop_assert_eq!(verified.is_ok(), consistent, "verify: {:?}", verified.as_ref().err().map(|e| e.to_string()));
        match (verified, reported) {
            (Ok(v), Ok(())) => {
                // Counts from the files themselves, by the rules: every line is a record, every
                // user is in the org, and the access matrix lists every audited (Standard) user.
                let all: u64 = OBJECT_NAMES.iter().map(|o| lines(&snap, o).len() as u64).sum();
                prop_assert_eq!(v.rows, all);
                let users = lines(&snap, "User");
                let standard = users.iter().filter(|l| l.contains(r#""UserType":"Standard""#)).count();
                let summary: Value =
                    serde_json::from_slice(&std::fs::read(work.path().join("out/summary.json")).unwrap()).unwrap();
                prop_assert_eq!(summary["summary"]["users_in_org"].as_u64(), Some(users.len() as u64));
                prop_assert_eq!(summary["summary"]["audited_users"].as_u64(), Some(standard as u64));
                prop_assert_eq!(summary["reports"]["access-matrix"].as_u64(), Some(standard as u64));
            }
            (Err(v), Err(r)) => {
                let v = access_audit::Error::from(v);
                prop_assert_eq!((v.exit_code(), v.to_string()), r);
                prop_assert!(!work.path().join("out").exists(), "nothing written");
            }
            (v, r) => prop_assert!(false, "verify {:?} but report {:?}", v.map(|_| ()), r),
        }
    }
}
