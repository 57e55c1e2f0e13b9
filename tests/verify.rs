//! `verify` re-checks a snapshot against its manifest and catches any change.

use crate::common::*;

fn pulled() -> (sf_sim::Sim, tempfile::TempDir, std::path::PathBuf) {
    let sim = sim(small_org());
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("snapshot");
    pull_jwt(work.path(), &sim, &out).assert().success();
    (sim, work, out)
}

#[test]
fn an_untouched_snapshot_verifies() {
    let (_sim, work, out) = pulled();
    let output = bin(work.path()).arg("verify").arg(&out).output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let text = stdout_of(&output);
    assert!(text.starts_with("ok: 10 files"), "{text}");
    assert!(text.contains("manifest SHA-256"), "{text}");
}

#[test]
fn one_changed_byte_is_caught_and_named() {
    let (_sim, work, out) = pulled();
    let path = out.join("User.ndjson");
    let mut bytes = std::fs::read(&path).unwrap();
    // Flip one character in the middle of a record: same length, same line count.
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
    std::fs::write(&path, bytes).unwrap();
    let output = bin(work.path()).arg("verify").arg(&out).output().unwrap();
    assert_eq!(output.status.code(), Some(4));
    let err = stderr_of(&output);
    assert!(err.contains("User.ndjson: SHA-256"), "{err}");
    assert!(err.contains("changed after the pull"), "{err}");
}

#[test]
fn removed_rows_missing_files_and_extra_files_are_caught() {
    let (_sim, work, out) = pulled();
    let path = out.join("UserLogin.ndjson");
    let text = std::fs::read_to_string(&path).unwrap();
    let fewer: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, fewer).unwrap();
    std::fs::remove_file(out.join("UserPackageLicense.ndjson")).unwrap();
    std::fs::write(out.join("Extra.ndjson"), "{}\n").unwrap();
    let output = bin(work.path()).arg("verify").arg(&out).output().unwrap();
    assert_eq!(output.status.code(), Some(4));
    let err = stderr_of(&output);
    assert!(err.contains("UserLogin.ndjson"), "{err}");
    assert!(err.contains("rows, the manifest says"), "{err}");
    assert!(err.contains("UserPackageLicense.ndjson: cannot read it"), "{err}");
    assert!(err.contains("Extra.ndjson: not part of the snapshot"), "{err}");
}

#[test]
fn a_folder_without_a_manifest_is_not_a_snapshot() {
    let work = tempfile::tempdir().unwrap();
    let output = bin(work.path()).args(["verify", "."]).output().unwrap();
    assert_eq!(output.status.code(), Some(4));
    assert!(stderr_of(&output).contains("manifest.json"));
}
