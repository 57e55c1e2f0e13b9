//! Golden outputs of the shipped demo org (`fixtures/demo-org`, as of 2026-11-20T09:00:00Z):
//! `summary.json`, `certinia-access-retained.csv` and the summary section of `report.html`, each
//! reviewed once by eye against REPORTS.md. Any change to what an auditor receives shows as a diff
//! (`cargo insta review`, or `INSTA_UPDATE=always` and read `git diff`).
//!
//! Nothing is masked: the demo snapshot fixes the org, its pull time and hashes, `--as-of` fixes
//! every date rule, and the tool version is the crate's (a version bump shows here on purpose).

use std::path::Path;

use crate::common::*;

const AS_OF: &str = "2026-11-20T09:00:00Z";

/// `report` on the demo snapshot; returns the report folder's file as text.
fn demo_output(work: &Path, file: &str) -> String {
    let output = bin(work)
        .args(["report", "--snapshot"])
        .arg(fixtures().join("demo-org"))
        .args(["--out", "out", "--as-of", AS_OF])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    std::fs::read_to_string(work.join("out").join(file)).unwrap()
}

#[test]
fn demo_summary_json() {
    let work = tempfile::tempdir().unwrap();
    insta::assert_snapshot!("demo-summary.json", demo_output(work.path(), "summary.json"));
}

#[test]
fn demo_certinia_access_retained_csv() {
    let work = tempfile::tempdir().unwrap();
    // insta compares text with CRLF read as LF: the CRLF record ends are render::csv's unit tests'.
    let text = demo_output(work.path(), "certinia-access-retained.csv");
    insta::assert_snapshot!("demo-certinia-access-retained.csv", text);
}

#[test]
fn demo_html_summary_section() {
    let work = tempfile::tempdir().unwrap();
    let html = demo_output(work.path(), "report.html");
    // From the Summary heading to the first report section: counts, population, both charts.
    let start = html.find("<h2 id=\"summary\">").expect("a summary heading");
    let end = start + html[start..].find("\n<section id=").expect("report sections after the summary");
    insta::assert_snapshot!("demo-html-summary", &html[start..end]);
}
