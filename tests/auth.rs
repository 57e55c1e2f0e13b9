//! Each login flow against the simulator's token endpoint, and refusals as one clear line.

use crate::common::*;

fn assert_pulled(sim: &sf_sim::Sim, out: &std::path::Path, logins: u64) {
    assert!(out.join("manifest.json").is_file());
    access_audit::snapshot::verify(out).expect("a complete snapshot");
    assert_eq!(sim.stats().token_requests, logins);
}

#[test]
fn jwt_bearer_flow() {
    let sim = sim(small_org());
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("s");
    pull_jwt(work.path(), &sim, &out).assert().success();
    assert_pulled(&sim, &out, 1);
    assert_eq!(sim.stats().token_requests_by_grant.get("urn:ietf:params:oauth:grant-type:jwt-bearer"), Some(&1));
}

#[test]
fn jwt_bearer_flow_from_the_config_file() {
    let sim = sim(small_org());
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("access-audit.toml"),
        format!(
            "[salesforce]\nlogin_url = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nusername = \"{USERNAME}\"\njwt_key_file = {:?}\n",
            sim.base_url(),
            private_key().display().to_string()
        ),
    )
    .unwrap();
    bin(work.path()).args(["pull", "--out", "s"]).assert().success();
    assert_pulled(&sim, &work.path().join("s"), 1);
}

#[test]
fn client_credentials_flow() {
    let sim = sim(small_org());
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("s");
    bin(work.path())
        .args(["pull", "--out", "s", "--instance-url", &sim.base_url(), "--client-id", CLIENT_ID])
        .env("SF_CLIENT_SECRET", CLIENT_SECRET)
        .assert()
        .success();
    assert_pulled(&sim, &out, 1);
    assert_eq!(sim.stats().token_requests_by_grant.get("client_credentials"), Some(&1));
}

#[test]
fn client_credentials_flow_with_the_secret_in_a_file() {
    let sim = sim(small_org());
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("secret"), format!("{CLIENT_SECRET}\n")).unwrap();
    bin(work.path())
        .args(["pull", "--out", "s", "--instance-url", &sim.base_url(), "--client-id", CLIENT_ID])
        .args(["--client-secret-file", "secret"])
        .assert()
        .success();
    assert_pulled(&sim, &work.path().join("s"), 1);
}

#[test]
fn refresh_token_flow() {
    let sim = sim(small_org());
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("s");
    bin(work.path())
        .args(["pull", "--out", "s", "--login-url", &sim.base_url(), "--client-id", CLIENT_ID])
        .env("SF_REFRESH_TOKEN", REFRESH_TOKEN)
        .env("SF_CLIENT_SECRET", CLIENT_SECRET)
        .assert()
        .success();
    assert_pulled(&sim, &out, 1);
    assert_eq!(sim.stats().token_requests_by_grant.get("refresh_token"), Some(&1));
}

#[test]
fn access_token_flow() {
    let sim = sim(small_org());
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("s");
    bin(work.path())
        .args(["pull", "--out", "s", "--instance-url", &sim.base_url()])
        .env("SF_ACCESS_TOKEN", ACCESS_TOKEN)
        .assert()
        .success();
    assert_pulled(&sim, &out, 0);
}

#[test]
fn a_refused_login_is_one_line_with_salesforces_reason_and_exit_3() {
    let sim = sim(small_org());
    let work = tempfile::tempdir().unwrap();
    let output = bin(work.path())
        .args(["pull", "--out", "s", "--instance-url", &sim.base_url(), "--client-id", CLIENT_ID])
        .env("SF_CLIENT_SECRET", "wrong-secret")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let err = stderr_of(&output);
    assert!(err.contains("invalid_client"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!work.path().join("s").exists());

    let output = bin(work.path())
        .args(["pull", "--out", "s", "--login-url", &sim.base_url(), "--client-id", CLIENT_ID])
        .args(["--username", "somebody.else@acme.example", "--jwt-key-file"])
        .arg(private_key())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let err = stderr_of(&output);
    assert!(err.contains("invalid_grant"), "{err}");
}

#[test]
fn a_rejected_access_token_says_to_get_a_new_one() {
    let sim = sim(small_org());
    let work = tempfile::tempdir().unwrap();
    let output = bin(work.path())
        .args(["pull", "--out", "s", "--instance-url", &sim.base_url()])
        .env("SF_ACCESS_TOKEN", "00Dnot-a-valid-token")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let err = stderr_of(&output);
    assert!(err.contains("INVALID_SESSION_ID"), "{err}");
    assert!(err.contains("get a new one"), "{err}");
}

#[test]
fn client_credentials_need_my_domain_not_the_shared_login_host() {
    let work = tempfile::tempdir().unwrap();
    let output = bin(work.path())
        .args(["pull", "--out", "s", "--auth-flow", "client-credentials", "--client-id", CLIENT_ID])
        .args(["--login-url", "https://login.salesforce.com"])
        .env("SF_CLIENT_SECRET", CLIENT_SECRET)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr_of(&output).contains("My Domain"), "{}", stderr_of(&output));
}

#[test]
fn plain_http_is_refused_except_on_loopback() {
    let work = tempfile::tempdir().unwrap();
    let output = bin(work.path())
        .args(["pull", "--out", "s", "--instance-url", "http://acme.my.salesforce.com"])
        .env("SF_ACCESS_TOKEN", ACCESS_TOKEN)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr_of(&output).contains("https://"), "{}", stderr_of(&output));
}

#[test]
fn a_certificate_given_as_the_jwt_key_is_explained() {
    let work = tempfile::tempdir().unwrap();
    let output = bin(work.path())
        .args(["pull", "--out", "s", "--client-id", CLIENT_ID, "--username", USERNAME])
        .arg("--jwt-key-file")
        .arg(fixtures().join("keys/test-only-cert.pem"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = stderr_of(&output);
    assert!(err.contains("not an RSA private key"), "{err}");
    assert!(!err.contains("BEGIN CERTIFICATE"), "{err}");
}

#[test]
fn no_credentials_at_all_says_what_to_give() {
    let work = tempfile::tempdir().unwrap();
    let output = bin(work.path()).args(["pull", "--out", "s"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = stderr_of(&output);
    assert!(err.contains("no Salesforce credentials"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
