//! The simulator over HTTPS (`Sim::start_tls`, `sf-sim --tls-cert --tls-key`)
//! with the test-only CA of fixtures/tls: a client trusting that CA gets
//! answers; a client without it, or expecting another host name, fails the
//! handshake with a certificate error and sends no request.

use std::error::Error as _;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use serde_json::Value;
use sf_sim::{Org, Sim, SimConfig, StatsSnapshot};

const TOKEN: &str = "00DSIM000000001!pre-issued-token";
const CA: &str = include_str!("../../fixtures/tls/test-only-ca.pem");
const CERT: &str = include_str!("../../fixtures/tls/test-only-server.pem");
const KEY: &str = include_str!("../../fixtures/tls/test-only-server.key");
const CERT_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/tls/test-only-server.pem");
const KEY_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/tls/test-only-server.key");
const LIMITS: &str = "/services/data/v62.0/limits";

fn start() -> Sim {
    let mut config = SimConfig::new(Org::empty());
    config.access_tokens = vec![TOKEN.into()];
    config.usernames = vec!["integration@example.com".into()];
    Sim::start_tls(config, CERT, KEY).unwrap()
}

/// A client trusting only the test CA.
fn trusting_client() -> Client {
    let ca = reqwest::Certificate::from_pem(CA.as_bytes()).unwrap();
    Client::builder().tls_certs_only([ca]).build().unwrap()
}

fn limits(client: &Client, base: &str) -> reqwest::Result<Response> {
    client.get(format!("{base}{LIMITS}")).bearer_auth(TOKEN).send()
}

/// The error and all its sources, in one line.
fn chain(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Handshake counters are updated by the server's own tasks: wait a little
/// for `done` to hold.
fn wait_for_stats(sim: &Sim, done: impl Fn(&StatsSnapshot) -> bool) -> StatsSnapshot {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stats = sim.stats();
        if done(&stats) || Instant::now() > deadline {
            return stats;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn client_trusting_the_test_ca_reads_limits() {
    let sim = start();
    let base = sim.base_url();
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    let client = trusting_client();
    let response = limits(&client, &base).unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    assert!(response.headers().get("Sforce-Limit-Info").is_some());
    let body: Value = response.json().unwrap();
    assert_eq!(body["DailyApiRequests"]["Max"], 15_000, "{body}");
    // `localhost` is in the certificate too.
    let port = base.rsplit(':').next().unwrap();
    let response = limits(&client, &format!("https://localhost:{port}")).unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let stats = sim.stats();
    assert_eq!(stats.limits_requests, 2);
    assert!(stats.tls_handshakes >= 1, "{stats:?}");
    assert_eq!(stats.tls_handshake_failures, 0, "{stats:?}");
}

#[test]
fn issued_tokens_point_at_the_https_url() {
    let sim = start();
    let token: Value = trusting_client()
        .post(format!("{}/services/oauth2/token", sim.base_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "sim-client-id"),
            ("client_secret", "sim-client-secret"),
        ])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(token["instance_url"], sim.base_url().as_str(), "{token}");
    assert!(token["id"].as_str().unwrap().starts_with(&format!("{}/id/", sim.base_url())), "{token}");
}

#[test]
fn client_without_the_test_ca_fails_with_a_certificate_error() {
    let sim = start();
    let err = limits(&Client::new(), &sim.base_url()).unwrap_err();
    let message = chain(&err);
    assert!(err.is_connect(), "{message}");
    assert!(message.to_lowercase().contains("certificate"), "{message}");
    assert!(message.contains("UnknownIssuer"), "{message}");
    let stats = wait_for_stats(&sim, |s| s.tls_handshake_failures >= 1);
    assert!(stats.tls_handshake_failures >= 1, "{stats:?}");
    assert_eq!(stats.tls_handshakes, 0, "{stats:?}");
    assert_eq!(stats.limits_requests, 0, "no request got through: {stats:?}");
}

#[test]
fn host_name_is_verified_too() {
    let sim = start();
    let addr: SocketAddr = sim.base_url().strip_prefix("https://").unwrap().parse().unwrap();
    let ca = reqwest::Certificate::from_pem(CA.as_bytes()).unwrap();
    let client = Client::builder().tls_certs_only([ca]).resolve("sim.invalid", addr).build().unwrap();
    let err = limits(&client, &format!("https://sim.invalid:{}", addr.port())).unwrap_err();
    let message = chain(&err);
    assert!(message.to_lowercase().contains("certificate"), "{message}");
    assert!(message.contains("not valid for name \"sim.invalid\""), "{message}");
    assert_eq!(wait_for_stats(&sim, |s| s.tls_handshake_failures >= 1).limits_requests, 0);
}

#[test]
fn plain_http_to_the_https_port_gets_no_answer() {
    let sim = start();
    let plain = sim.base_url().replacen("https://", "http://", 1);
    assert!(limits(&Client::new(), &plain).is_err());
    let stats = wait_for_stats(&sim, |s| s.tls_handshake_failures >= 1);
    assert!(stats.tls_handshake_failures >= 1, "{stats:?}");
    assert_eq!((stats.tls_handshakes, stats.limits_requests), (0, 0), "{stats:?}");
    // The server still serves HTTPS afterwards.
    assert_eq!(limits(&trusting_client(), &sim.base_url()).unwrap().status(), StatusCode::OK);
}

#[test]
fn bad_tls_material_is_refused() {
    let config = || SimConfig::new(Org::empty());
    let err = Sim::start_tls(config(), "", KEY).unwrap_err();
    assert!(format!("{err:#}").contains("no CERTIFICATE"), "{err:#}");
    let err = Sim::start_tls(config(), CERT, "not a key").unwrap_err();
    assert!(format!("{err:#}").contains("private key"), "{err:#}");
    // The CA's certificate with the server's key: they do not match.
    let err = Sim::start_tls(config(), CA, KEY).unwrap_err();
    assert!(format!("{err:#}").contains("do they match"), "{err:#}");
}

#[test]
fn plain_http_sims_are_unchanged() {
    let sim = Sim::start(SimConfig::new(Org::empty())).unwrap();
    assert!(sim.base_url().starts_with("http://127.0.0.1:"));
    assert_eq!((sim.stats().tls_handshakes, sim.stats().tls_handshake_failures), (0, 0));
}

/// The binary: `--tls-cert` and `--tls-key`.
#[test]
fn binary_serves_https() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sf-sim"))
        .args([
            "--synthetic-users",
            "3",
            "--synthetic-assignments",
            "3",
            "--tls-cert",
            CERT_FILE,
            "--tls-key",
            KEY_FILE,
        ])
        .env("SIM_ACCESS_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let result = std::panic::catch_unwind(|| {
        let base = line.trim().strip_prefix("sf-sim listening on ").unwrap_or_else(|| panic!("{line}"));
        assert!(base.starts_with("https://127.0.0.1:"), "{line}");
        assert_eq!(limits(&trusting_client(), base).unwrap().status(), StatusCode::OK);
        let err = limits(&Client::new(), base).unwrap_err();
        assert!(chain(&err).to_lowercase().contains("certificate"), "{}", chain(&err));
    });
    child.kill().unwrap();
    child.wait().unwrap();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn binary_needs_both_tls_flags() {
    for args in [["--tls-cert", CERT_FILE], ["--tls-key", KEY_FILE]] {
        let output = Command::new(env!("CARGO_BIN_EXE_sf-sim")).arg("--demo").args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("--tls-"), "{stderr}");
        assert!(output.stdout.is_empty());
    }
}
