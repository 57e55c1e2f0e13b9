//! Shared test helpers: the binary with a clean environment, and simulators with known credentials.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use sf_sim::{Org, Sim, SimConfig};

pub const CLIENT_ID: &str = "3MVG9test.client.id";
pub const CLIENT_SECRET: &str = "cs-8c1f0e4a7d2b-SECRET";
pub const REFRESH_TOKEN: &str = "5Aep861-refresh-SECRET-token";
pub const ACCESS_TOKEN: &str = "00DSIM000000001!AQ-preissued-SECRET-token";
pub const USERNAME: &str = "integration@acme.example";

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

pub fn private_key() -> PathBuf {
    fixtures().join("keys/test-only-private.pem")
}

/// The built binary, run in an empty folder, with no inherited Salesforce or tool settings.
pub fn bin(cwd: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("access-audit").expect("binary built");
    cmd.current_dir(cwd);
    for (key, _) in std::env::vars() {
        if key.starts_with("SF_") || key.starts_with("ACCESS_AUDIT_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// A simulator that knows every test credential, over HTTPS with the test-only CA's certificate.
pub fn sim_tls(org: Org) -> Sim {
    let read = |f: &str| std::fs::read_to_string(fixtures().join("tls").join(f)).expect("test TLS material");
    Sim::start_tls(config(org), &read("test-only-server.pem"), &read("test-only-server.key")).expect("TLS simulator")
}

/// A simulator that knows every test credential.
pub fn sim(org: Org) -> Sim {
    Sim::start(config(org)).expect("simulator starts")
}

fn config(org: Org) -> SimConfig {
    let mut config = SimConfig::new(org);
    config.client_id = CLIENT_ID.into();
    config.client_secret = CLIENT_SECRET.into();
    config.jwt_public_key_pem =
        Some(std::fs::read_to_string(fixtures().join("keys/test-only-public.pem")).expect("public key"));
    config.usernames = vec![USERNAME.into()];
    config.refresh_tokens = vec![REFRESH_TOKEN.into()];
    config.access_tokens = vec![ACCESS_TOKEN.into()];
    config
}

pub fn small_org() -> Org {
    sf_sim::generate::synthetic_org(7, 60, 200)
}

/// `pull` with the JWT bearer flow against `sim`.
pub fn pull_jwt(cwd: &Path, sim: &Sim, out: &Path) -> assert_cmd::Command {
    let mut cmd = bin(cwd);
    cmd.args(["pull", "--out"])
        .arg(out)
        .args(["--login-url", &sim.base_url(), "--client-id", CLIENT_ID, "--username", USERNAME])
        .arg("--jwt-key-file")
        .arg(private_key());
    cmd
}

/// The records of one snapshot file, by Id.
pub fn snapshot_records(dir: &Path, object: &str) -> BTreeMap<String, Map<String, Value>> {
    let text = std::fs::read_to_string(dir.join(format!("{object}.ndjson"))).expect("snapshot file");
    text.lines()
        .map(|l| {
            let m: Map<String, Value> = serde_json::from_str(l).expect("json line");
            (m["Id"].as_str().expect("Id").to_string(), m)
        })
        .collect()
}

pub fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file under `dir` (relative path) with its bytes.
pub fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.insert(path.strip_prefix(dir).unwrap().to_path_buf(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// The demo org's users, as its snapshot file holds them.
pub fn demo_users() -> Vec<Map<String, Value>> {
    std::fs::read_to_string(fixtures().join("demo-org/User.ndjson"))
        .expect("the demo org")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

/// A CSV report's rows keyed by their first column (`Id`, or `RosterLine`), each as header → value.
pub fn csv_rows(path: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).expect("a CSV report");
    let headers = reader.headers().expect("a header").clone();
    reader
        .records()
        .map(|r| {
            let r = r.expect("a CSV record");
            let row: BTreeMap<String, String> =
                headers.iter().zip(r.iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect();
            (r[0].to_string(), row)
        })
        .collect()
}

/// The shipped demo snapshot.
pub fn demo_org() -> PathBuf {
    fixtures().join("demo-org")
}

/// Copies the files of a flat folder (a snapshot) into `to`, which is created.
pub fn copy_snapshot(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// Names in `dir` that belong to a staging folder of the output `name` (`.NAME.access-audit-…`).
pub fn staging_leftovers(dir: &Path, name: &str) -> Vec<String> {
    let prefix = format!(".{name}.access-audit-");
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    found.sort();
    found
}

/// `run --out NAME` against `sim` with a pre-issued access token, as a plain process (to signal or kill).
pub fn run_process(cwd: &Path, sim: &Sim, out: &str, as_of: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("access-audit"));
    cmd.current_dir(cwd)
        .args(["--quiet", "run", "--out", out, "--as-of", as_of])
        .args(["--instance-url", &sim.base_url()])
        .env("SF_ACCESS_TOKEN", ACCESS_TOKEN);
    for (key, _) in std::env::vars() {
        if key.starts_with("SF_") || key.starts_with("ACCESS_AUDIT_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.env("SF_ACCESS_TOKEN", ACCESS_TOKEN);
    cmd
}

/// Waits (up to 30 s) until `dir` holds a staging folder of the output `name`.
pub fn wait_for_staging(dir: &Path, name: &str) -> PathBuf {
    let prefix = format!(".{name}.access-audit-tmp-");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                return entry.path();
            }
        }
        assert!(std::time::Instant::now() < deadline, "no staging folder appeared");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// The SMTP login the test server accepts.
pub const SMTP_USER: &str = "mailer@acme.example";
pub const SMTP_PASSWORD: &str = "smtp-PASSWORD-secret-9f3e";

/// One message an [`SmtpServer`] received: the envelope and the raw bytes.
#[derive(Debug, Clone, Default)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

/// A real SMTP server on 127.0.0.1 (mailin-embedded, rustls): it offers STARTTLS with the
/// test-only certificate, accepts AUTH PLAIN and LOGIN only after STARTTLS, and a message only
/// after a login with [`SMTP_USER`] and [`SMTP_PASSWORD`]. It runs until the test process ends.
pub struct SmtpServer {
    pub port: u16,
    received: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
    logins: std::sync::Arc<std::sync::Mutex<Vec<(String, bool)>>>,
}

#[derive(Clone)]
struct SmtpHandler {
    received: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
    logins: std::sync::Arc<std::sync::Mutex<Vec<(String, bool)>>>,
    current: Received,
}

impl SmtpHandler {
    fn login(&mut self, user: &str, password: &str) -> mailin_embedded::Response {
        let ok = user == SMTP_USER && password == SMTP_PASSWORD;
        self.logins.lock().unwrap().push((user.to_string(), ok));
        if ok { mailin_embedded::response::AUTH_OK } else { mailin_embedded::response::INVALID_CREDENTIALS }
    }
}

impl mailin_embedded::Handler for SmtpHandler {
    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> mailin_embedded::Response {
        self.current = Received { from: from.to_string(), to: to.to_vec(), data: Vec::new() };
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        self.received.lock().unwrap().push(std::mem::take(&mut self.current));
        mailin_embedded::response::OK
    }

    fn auth_plain(&mut self, _authz: &str, user: &str, password: &str) -> mailin_embedded::Response {
        self.login(user, password)
    }

    fn auth_login(&mut self, user: &str, password: &str) -> mailin_embedded::Response {
        self.login(user, password)
    }
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        // mailin-embedded builds its rustls configuration with the process's default provider.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port for SMTP");
        let port = listener.local_addr().unwrap().port();
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let logins = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let handler = SmtpHandler { received: received.clone(), logins: logins.clone(), current: Received::default() };
        let tls = fixtures().join("tls");
        let mut server = mailin_embedded::Server::new(handler);
        server
            .with_name("smtp.test")
            .with_ssl(mailin_embedded::SslConfig::SelfSigned {
                cert_path: tls.join("test-only-server.pem").display().to_string(),
                key_path: tls.join("test-only-server.key").display().to_string(),
            })
            .expect("the test-only certificate")
            .with_auth(mailin_embedded::AuthMechanism::Plain)
            .with_auth(mailin_embedded::AuthMechanism::Login)
            .with_num_threads(2)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        SmtpServer { port, received, logins }
    }

    /// The messages received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The logins tried so far: user, and whether it was accepted.
    pub fn logins(&self) -> Vec<(String, bool)> {
        self.logins.lock().unwrap().clone()
    }

    /// The flags that send through this server, trusting the test-only CA, and the password.
    pub fn args(&self, cmd: &mut assert_cmd::Command) {
        cmd.args(["--smtp-host", "127.0.0.1", "--smtp-port", &self.port.to_string()])
            .args(["--smtp-username", SMTP_USER, "--email-from", "access-audit@acme.example"])
            .arg("--smtp-ca-file")
            .arg(fixtures().join("tls/test-only-ca.pem"))
            .env("ACCESS_AUDIT_SMTP_PASSWORD", SMTP_PASSWORD);
    }
}

/// The SCIM test application's API connection (client credentials) and a pre-issued bearer token.
pub const APP_CLIENT_ID: &str = "stensul-api-connection-7f3e";
pub const APP_CLIENT_SECRET: &str = "st-9b1d2c-APP-SECRET-e41";
pub const APP_TOKEN: &str = "st-preissued-APP-TOKEN-44aa19";

/// A SCIM simulator in `mode` that knows the test application's credentials.
pub fn scim_sim(
    mode: sf_sim::scim::ScimMode,
    users: Vec<sf_sim::scim::ScimUser>,
    groups: Vec<sf_sim::scim::ScimGroup>,
    edit: impl FnOnce(&mut sf_sim::scim::ScimConfig),
) -> sf_sim::scim::ScimSim {
    let mut config = sf_sim::scim::ScimConfig::new(mode, users, groups);
    config.client_id = APP_CLIENT_ID.into();
    config.client_secret = APP_CLIENT_SECRET.into();
    config.tokens = vec![APP_TOKEN.into()];
    edit(&mut config);
    sf_sim::scim::ScimSim::start(config).expect("SCIM simulator starts")
}

/// An `[apps.NAME]` table for `scim` with OAuth client credentials, in `dialect`.
pub fn app_table(name: &str, dialect: &str, scim: &sf_sim::scim::ScimSim) -> String {
    format!(
        "[apps.{name}]\nkind = \"scim\"\ndialect = \"{dialect}\"\nbase_url = \"{}\"\ntoken_url = \"{}\"\nclient_id = \"{APP_CLIENT_ID}\"\n",
        scim.scim_url(),
        scim.token_url()
    )
}

/// `run` against the org `sim` (a pre-issued access token) with `access-audit.toml` holding
/// `config`, the application secret of `app` in its environment variable, and quick retries.
pub fn run_apps(cwd: &Path, sim: &Sim, config: &str, out: &str, as_of: &str) -> assert_cmd::Command {
    std::fs::write(cwd.join("access-audit.toml"), config).expect("config written");
    let mut cmd = bin(cwd);
    cmd.args(["run", "--out", out, "--as-of", as_of, "--retry-delay-ms", "5"])
        .args(["--instance-url", &sim.base_url()])
        .env("SF_ACCESS_TOKEN", ACCESS_TOKEN);
    cmd
}
