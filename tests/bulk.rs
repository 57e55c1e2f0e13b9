//! Bulk API 2.0, sequential REST and parallel REST cursors: the same org gives the same bytes.

use std::path::Path;

use access_audit::snapshot;
use sf_sim::{Faults, Sim};

use crate::common::*;

const AS_OF: &str = "2026-10-01T00:00:00Z";

/// Large enough that assignments are split into Id ranges (more than 20,000 rows after the
/// pushdown filter), small enough for a test.
fn org() -> sf_sim::Org {
    sf_sim::generate::synthetic_org(5, 3_000, 30_000)
}

/// `run` with a pre-issued token and the given pull options.
fn run(work: &Path, sim: &Sim, out: &str, options: &[&str]) -> std::process::Output {
    bin(work)
        .args(["run", "--out", out, "--as-of", AS_OF, "--instance-url", &sim.base_url(), "--retry-delay-ms", "5"])
        .args(options)
        .env("SF_ACCESS_TOKEN", ACCESS_TOKEN)
        .output()
        .unwrap()
}

fn manifest(work: &Path, out: &str) -> snapshot::Manifest {
    snapshot::read_manifest(&work.join(out).join("snapshot")).unwrap()
}

#[test]
fn bulk_sequential_rest_and_parallel_rest_give_byte_identical_snapshots_and_reports() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let strategies: [(&str, &[&str]); 4] = [
        ("sequential", &["--api", "rest", "--max-cursors", "1"]),
        ("parallel", &["--api", "rest"]),
        ("bulk", &["--api", "bulk"]),
        ("auto", &["--api", "auto", "--bulk-threshold", "2500"]),
    ];
    for (out, options) in strategies {
        // Chunks of 7,000 rows at most: the assignments take several, followed by their locators.
        let sim = sim(org());
        sim.with_state(|s| s.faults = Faults { bulk_chunk_rows: 7_000, ..Faults::none() });
        let output = run(w, &sim, out, options);
        assert!(output.status.success(), "{out}: {}", stderr_of(&output));
        let stats = sim.stats();
        let m = manifest(w, out);
        let psa = m.object("PermissionSetAssignment").unwrap();
        match out {
            "sequential" => {
                assert!(m.objects.iter().all(|o| o.api.as_deref() == Some("rest") && o.queries.is_empty()));
                assert_eq!(stats.max_open_cursors, 1, "{stats:?}");
                // Only whether PSA and Accounting, not in the list of objects, are licensed.
                assert_eq!(stats.count_queries, 2, "one cursor and REST only: nothing to decide");
            }
            "parallel" => {
                assert!(psa.queries.len() >= 2, "assignments in Id ranges: {:?}", psa.queries);
                assert!(
                    psa.queries.iter().all(|q| q.contains("ORDER BY Id") && q.contains("IsOwnedByProfile = false"))
                );
                assert!(stats.max_open_cursors > 1, "{stats:?}");
            }
            "bulk" => {
                for o in &m.objects {
                    let want = if o.object == "Organization" { "rest" } else { "bulk" };
                    assert_eq!(o.api.as_deref(), Some(want), "{}", o.object);
                }
                assert!(psa.pages >= 4, "several result chunks: {}", psa.pages);
                // Every object pulled but the Organization: the 6 of the first input table and the 3
                // licence objects (PSA and Accounting are not installed here).
                assert_eq!(stats.bulk_jobs_created, 9, "{stats:?}");
                assert_eq!(stats.bulk_jobs_open, 0, "every job deleted: {stats:?}");
                assert_eq!(stats.requests_by_kind.get("bulk-delete"), Some(&9));
            }
            "auto" => {
                // Users, assignments and logins are above 2,500 rows; the rest are not.
                for o in &m.objects {
                    let bulk = matches!(o.object.as_str(), "User" | "PermissionSetAssignment" | "UserLogin");
                    assert_eq!(o.api.as_deref(), Some(if bulk { "bulk" } else { "rest" }), "{}", o.object);
                }
                assert_eq!(stats.bulk_jobs_open, 0);
            }
            _ => unreachable!(),
        }
        // The manifest's requests are what the simulator answered.
        let answered: u64 = stats.requests_by_kind.values().sum();
        assert_eq!(m.api.requests, answered, "{out}: {stats:?}");
        let per_object: u64 = m.objects.iter().map(|o| o.requests.unwrap()).sum();
        // Besides: one /limits, one /sobjects and a licence count per package noted as not installed.
        let besides = 1 + 1 + m.notes.len() as u64;
        assert_eq!(per_object + besides, answered, "{out}: the objects' requests, /limits, /sobjects, licence counts");
    }
    for other in ["parallel", "bulk", "auto"] {
        assert_same_reports(&w.join("sequential"), &w.join(other));
    }
}

#[test]
fn the_demo_org_through_bulk_is_the_demo_org_through_rest() {
    // Names with quotes, commas, accents and line breaks go through CSV and back.
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    for (out, options) in [("rest", ["--api", "rest"]), ("bulk", ["--api", "bulk"])] {
        let sim = sim(sf_sim::generate::demo_org());
        let output = bin(w)
            .args(["run", "--out", out, "--as-of", sf_sim::generate::DEMO_AS_OF, "--instance-url", &sim.base_url()])
            .args(options)
            .env("SF_ACCESS_TOKEN", ACCESS_TOKEN)
            .output()
            .unwrap();
        assert!(output.status.success(), "{out}: {}", stderr_of(&output));
    }
    assert_same_reports(&w.join("rest"), &w.join("bulk"));
}

#[test]
fn without_pushdown_the_snapshot_has_more_rows_and_the_reports_are_the_same() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let org = sf_sim::generate::synthetic_org(8, 400, 2_000);
    let owned = org
        .records("PermissionSetAssignment")
        .iter()
        .filter(|r| r["PermissionSet"]["IsOwnedByProfile"] == serde_json::Value::Bool(true))
        .count();
    assert!(owned > 0, "the org has profile-owned assignments");
    for (out, options) in [("pushed", &[][..]), ("all", &["--no-pushdown"][..])] {
        let sim = sim(org.clone());
        let output = run(w, &sim, out, options);
        assert!(output.status.success(), "{out}: {}", stderr_of(&output));
    }
    let (pushed, all) = (manifest(w, "pushed"), manifest(w, "all"));
    let (p, a) = (pushed.object("PermissionSetAssignment").unwrap(), all.object("PermissionSetAssignment").unwrap());
    assert_eq!(a.rows - p.rows, owned as u64, "exactly the profile-owned rows are left out");
    assert!(p.soql.ends_with(" WHERE PermissionSet.IsOwnedByProfile = false"), "{}", p.soql);
    assert!(!a.soql.contains("WHERE"), "{}", a.soql);
    // The reports do not change: every CSV, and the summary's counts.
    let csvs = |dir: &Path| -> Vec<(std::path::PathBuf, Vec<u8>)> {
        data_files(dir).into_iter().filter(|(p, _)| p.extension().unwrap() == "csv").collect()
    };
    let (x, y) = (csvs(&w.join("pushed")), csvs(&w.join("all")));
    assert!(x.len() >= 5);
    assert!(x == y, "the CSV reports differ with and without pushdown");
    assert_eq!(summary_without_pull(&w.join("pushed")), summary_without_pull(&w.join("all")));
}

#[test]
fn without_bulk_access_auto_falls_back_to_rest_with_one_warning_and_bulk_fails() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let org = sf_sim::generate::synthetic_org(9, 600, 3_000);
    let base = sim(org.clone());
    assert!(run(w, &base, "base", &["--api", "rest"]).status.success());

    let refused = sim(org.clone());
    refused.with_state(|s| s.bulk_api = false);
    let output = run(w, &refused, "auto", &["--api", "auto", "--bulk-threshold", "100"]);
    let err = stderr_of(&output);
    assert!(output.status.success(), "{err}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("cannot use the Bulk API")).collect();
    assert_eq!(warnings.len(), 1, "one warning: {err}");
    assert!(warnings[0].contains("API_DISABLED_FOR_ORG") && warnings[0].contains("pulling with REST instead"), "{err}");
    assert_eq!(refused.stats().bulk_jobs_created, 0);
    assert!(manifest(w, "auto").objects.iter().all(|o| o.api.as_deref() == Some("rest")));
    assert_same_reports(&w.join("base"), &w.join("auto"));

    let refused = sim(org);
    refused.with_state(|s| s.bulk_api = false);
    let output = run(w, &refused, "bulk", &["--api", "bulk"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr_of(&output));
    let last = stderr_of(&output).trim().lines().last().unwrap_or_default().to_string();
    assert!(last.contains("cannot use the Bulk API") && last.contains("--api rest"), "{last}");
    assert!(!w.join("bulk").exists());
}

#[test]
fn bulk_needs_api_47_and_a_cursor_limit_within_salesforces() {
    let work = tempfile::tempdir().unwrap();
    let sim = sim(small_org());
    for (options, needle) in [
        (&["--api", "bulk", "--api-version", "46.0"][..], "47.0"),
        (&["--max-cursors", "11"][..], "--max-cursors must be between 1 and 10"),
        (&["--max-cursors", "0"][..], "--max-cursors must be between 1 and 10"),
    ] {
        let output = run(work.path(), &sim, "out", options);
        assert_eq!(output.status.code(), Some(2), "{options:?}");
        assert!(stderr_of(&output).contains(needle), "{}", stderr_of(&output));
    }
}

#[test]
fn progress_bars_only_on_a_terminal_and_never_with_quiet() {
    let work = tempfile::tempdir().unwrap();
    let sim = sim(small_org());
    // stderr is a pipe here: no bar, no carriage return.
    let output = run(work.path(), &sim, "piped", &[]);
    assert!(output.status.success());
    let err = stderr_of(&output);
    assert!(!err.contains('\r') && !err.contains(" rows  ") && !err.contains("requests ·"), "{err}");
    // On a terminal (script(1) gives the binary a pseudo-terminal), one bar per object.
    let binary = assert_cmd::cargo::cargo_bin("access-audit");
    let command = |quiet: &str, out: &str| {
        format!(
            "{} {quiet} pull --out {} --instance-url {}",
            binary.display(),
            work.path().join(out).display(),
            sim.base_url()
        )
    };
    let on_terminal = |quiet: &str, out: &str| -> String {
        let output = std::process::Command::new("script")
            .args(["-qec", &command(quiet, out), "/dev/null"])
            .env("SF_ACCESS_TOKEN", ACCESS_TOKEN)
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let shown = on_terminal("", "tty");
    for object in ["User", "PermissionSetAssignment", "UserLogin"] {
        assert!(shown.contains(object), "a bar for {object}: {shown}");
    }
    assert!(shown.contains("requests · REST"), "{shown}");
    assert!(shown.contains(" rows "), "{shown}");
    let quiet = on_terminal("--quiet", "tty-quiet");
    assert!(!quiet.contains("requests ·") && !quiet.contains(" rows "), "{quiet}");
}

#[test]
fn a_large_org_with_psa_and_accounting_is_the_same_through_every_api() {
    // The six objects of PSA, Accounting and the licences, at scale, through one cursor, Id ranges
    // in parallel, and Bulk: every row pulled, the same bytes, the same reports.
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let mut org = sf_sim::generate::synthetic_org(6, 3_000, 30_000);
    let as_of = chrono::DateTime::parse_from_rfc3339(AS_OF).unwrap().timestamp();
    sf_sim::generate::add_certinia(&mut org, as_of);
    let objects = [
        "PackageLicense",
        "PermissionSetLicense",
        "PermissionSetLicenseAssign",
        "pse__Permission_Control__c",
        "Contact",
        "c2g__codaUserCompany__c",
    ];
    let served: Vec<usize> = objects.iter().map(|o| org.records(o).len()).collect();
    assert!(served.iter().all(|&n| n > 0), "{served:?}");
    for (out, options) in [
        ("sequential", &["--api", "rest", "--max-cursors", "1"][..]),
        ("parallel", &["--api", "rest"][..]),
        ("bulk", &["--api", "bulk"][..]),
    ] {
        let sim = sim(org.clone());
        let output = run(w, &sim, out, options);
        assert!(output.status.success(), "{out}: {}", stderr_of(&output));
        let m = manifest(w, out);
        assert!(m.notes.is_empty(), "PSA and Accounting are installed: {:?}", m.notes);
        for (object, rows) in objects.iter().zip(&served) {
            let pulled = m.object(object).unwrap_or_else(|| panic!("{out}: {object} pulled"));
            assert_eq!(pulled.rows, *rows as u64, "{out}: every {object} row");
            if out == "bulk" {
                assert_eq!(pulled.api.as_deref(), Some("bulk"), "{out}: {object}");
            }
        }
    }
    for other in ["parallel", "bulk"] {
        assert_same_reports(&w.join("sequential"), &w.join(other));
    }
    // The seats are those of the org: one row per licence.
    let seats = std::fs::read_to_string(w.join("sequential/seats.csv")).unwrap();
    assert_eq!(seats.lines().count() - 1, served[0] + served[1], "{seats}");
}
