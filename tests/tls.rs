//! TLS is always verified; a custom CA file (a corporate proxy's) is added to the trusted roots.

use crate::common::*;

fn pull(sim: &sf_sim::Sim, work: &std::path::Path, extra: &[&str]) -> std::process::Output {
    bin(work)
        .args(["pull", "--out", "s", "--instance-url", &sim.base_url()])
        .args(extra)
        .env("SF_ACCESS_TOKEN", ACCESS_TOKEN)
        .output()
        .unwrap()
}

#[test]
fn an_untrusted_certificate_is_refused() {
    let sim = sim_tls(small_org());
    assert!(sim.base_url().starts_with("https://127.0.0.1:"));
    let work = tempfile::tempdir().unwrap();
    // Not retried: a certificate that does not verify will not verify on a second try.
    let started = std::time::Instant::now();
    let output = pull(&sim, work.path(), &["--retry-delay-ms", "2000"]);
    assert!(started.elapsed() < std::time::Duration::from_millis(1500), "refused at once");
    assert_eq!(output.status.code(), Some(3));
    let err = stderr_of(&output);
    assert!(err.to_lowercase().contains("certificate"), "the cause is named: {err}");
    assert!(err.contains("--ca-file"), "and the way out: {err}");
    assert!(!work.path().join("s").exists());
    assert_eq!(sim.stats().query_pages.values().sum::<u64>(), 0, "no request got through");
}

#[test]
fn a_ca_file_makes_the_proxy_certificate_trusted() {
    let sim = sim_tls(small_org());
    let work = tempfile::tempdir().unwrap();
    let ca = fixtures().join("tls/test-only-ca.pem");
    let output = pull(&sim, work.path(), &["--ca-file", ca.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    access_audit::snapshot::verify(&work.path().join("s")).unwrap();
}

#[test]
fn a_ca_file_without_a_certificate_is_a_usage_error() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("ca.pem"), "not a certificate").unwrap();
    let output = bin(work.path())
        .args(["pull", "--out", "s", "--instance-url", "https://acme.my.salesforce.com", "--ca-file", "ca.pem"])
        .env("SF_ACCESS_TOKEN", ACCESS_TOKEN)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr_of(&output).contains("no PEM certificate"), "{}", stderr_of(&output));
}
