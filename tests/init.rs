//! `access-audit init` on a pseudo-terminal (it asks) and off one (it asks nothing), and
//! `access-audit config`, whose output is TOML that, fed back with `--config`, gives the same
//! effective configuration.

#[cfg(target_os = "linux")]
use std::io::{Read, Write};
use std::path::Path;
#[cfg(target_os = "linux")]
use std::time::{Duration, Instant};

use access_audit::cli::AuthFlow;
use access_audit::config::FileConfig;

use crate::common::*;

/// The starter file, parsed as the tool parses its configuration.
fn parsed(path: &Path) -> FileConfig {
    let text = std::fs::read_to_string(path).unwrap();
    toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn off_a_terminal_init_asks_nothing_and_writes_placeholders() {
    let work = tempfile::tempdir().unwrap();
    // assert_cmd's standard input is not a terminal (it is empty).
    let output = bin(work.path()).arg("init").output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert_eq!(stderr_of(&output), "", "no question");
    let said = stdout_of(&output);
    assert!(said.contains("nothing was asked"), "{said}");
    assert!(said.contains("Fill in the lines marked FILL IN: client_id, username, jwt_key_file."), "{said}");
    assert!(said.contains("openssl req -x509 -newkey rsa:2048 -nodes -keyout access-audit.key"), "{said}");
    let path = work.path().join("access-audit.toml");
    let config = parsed(&path);
    assert_eq!(config.salesforce.login_url.as_deref(), Some("https://login.salesforce.com"));
    assert_eq!(config.salesforce.auth_flow, Some(AuthFlow::Jwt));
    assert_eq!(config.salesforce.client_id, None, "a placeholder, commented out");
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.matches("# FILL IN: ").count(), 3, "{text}");
    // It is a configuration the tool reads: `config` says what is still missing.
    let output = bin(work.path()).arg("config").output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(
        stdout_of(&output).contains("not usable yet: the JWT bearer flow needs --client-id"),
        "{}",
        stdout_of(&output)
    );
    // Never over an existing file.
    let output = bin(work.path()).arg("init").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr_of(&output).contains("init never replaces a configuration file"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);

    // The answers as flags, into --config's file; a secret is never written, only its file.
    let output = bin(work.path())
        .args(["--json", "--config", "etc/aa.toml", "init", "--login-url", "https://acme.my.salesforce.com/"])
        .args(["--auth-flow", "client-credentials"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "etc/ does not exist: {}", stderr_of(&output));
    std::fs::create_dir(work.path().join("etc")).unwrap();
    let output = bin(work.path())
        .args(["--json", "--config", "etc/aa.toml", "init", "--login-url", "https://acme.my.salesforce.com/"])
        .args(["--auth-flow", "client-credentials"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let object: serde_json::Value = serde_json::from_str(stdout_of(&output).trim()).unwrap();
    assert_eq!(object["result"]["init"]["fill_in"], serde_json::json!(["client_id", "client_secret_file"]));
    assert_eq!(object["result"]["init"]["openssl"], serde_json::Value::Null);
    let config = parsed(&work.path().join("etc/aa.toml"));
    assert_eq!(config.salesforce.login_url.as_deref(), Some("https://acme.my.salesforce.com"));
    assert_eq!(config.salesforce.auth_flow, Some(AuthFlow::ClientCredentials));
}

/// A pseudo-terminal: the child's standard input, output and error are its terminal side.
#[cfg(target_os = "linux")]
struct Pty {
    master: std::fs::File,
    terminal: std::fs::File,
}

#[cfg(target_os = "linux")]
impl Pty {
    fn open() -> Pty {
        use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("a pseudo-terminal");
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let name = ptsname(&master, Vec::new()).unwrap();
        let terminal =
            std::fs::OpenOptions::new().read(true).write(true).open(name.to_str().unwrap()).expect("the terminal side");
        Pty { master: std::fs::File::from(master), terminal }
    }
}

/// What the child wrote to its terminal, as it comes.
#[cfg(target_os = "linux")]
struct Screen {
    chunks: std::sync::mpsc::Receiver<Vec<u8>>,
    seen: String,
}

#[cfg(target_os = "linux")]
impl Screen {
    fn watch(master: &std::fs::File) -> Screen {
        let mut reader = master.try_clone().unwrap();
        let (send, chunks) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends with an error (EIO) once the child has closed its terminal.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || send.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Screen { chunks, seen: String::new() }
    }

    /// Waits (up to 30 s) until the screen shows `text` after what was already waited for.
    fn wait_for(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.seen.contains(text) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => self.seen.push_str(&String::from_utf8_lossy(&chunk)),
                Err(_) => panic!("{text:?} never appeared; the screen:\n{}", self.seen),
            }
        }
        let at = self.seen.find(text).unwrap() + text.len();
        self.seen.drain(..at);
    }
}

#[cfg(target_os = "linux")]
#[test]
fn on_a_terminal_init_asks_for_the_login_url_and_the_flow() {
    let work = tempfile::tempdir().unwrap();
    let pty = Pty::open();
    let mut child = {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("access-audit"));
        cmd.env_remove("ACCESS_AUDIT_CONFIG");
        cmd.current_dir(work.path())
            .arg("init")
            .stdin(pty.terminal.try_clone().unwrap())
            .stdout(pty.terminal.try_clone().unwrap())
            .stderr(pty.terminal.try_clone().unwrap());
        cmd.spawn().unwrap()
        // The command (and its copies of the terminal) is dropped here.
    };
    drop(pty.terminal);
    let mut screen = Screen::watch(&pty.master);
    let mut keyboard = pty.master;
    screen.wait_for("Where does the integration user log in?");
    screen.wait_for("Login URL [1]: ");
    // Not a login URL: asked again.
    keyboard.write_all(b"ftp://example.com\n").unwrap();
    screen.wait_for("type 1, 2 or an https:// URL");
    screen.wait_for("Login URL [1]: ");
    keyboard.write_all(b"2\n").unwrap();
    screen.wait_for("How does access-audit log in?");
    screen.wait_for("Login flow [1]: ");
    keyboard.write_all(b"refresh-token\n").unwrap();
    screen.wait_for("Fill in the lines marked FILL IN: client_id, refresh_token_file.");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "init did not end");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    let config = parsed(&work.path().join("access-audit.toml"));
    assert_eq!(config.salesforce.login_url.as_deref(), Some("https://test.salesforce.com"));
    assert_eq!(config.salesforce.auth_flow, Some(AuthFlow::RefreshToken));
    let text = std::fs::read_to_string(work.path().join("access-audit.toml")).unwrap();
    assert!(text.contains("# refresh_token_file = \"/etc/access-audit/refresh-token\""), "{text}");
    assert!(!text.contains("openssl"), "the openssl line is for the JWT flow");
}

/// `config`'s output, checked to be TOML.
fn config(work: &Path, args: &[&str]) -> (String, toml::Value) {
    let output = bin(work).arg("config").args(args).env("SF_CLIENT_SECRET", CLIENT_SECRET).output().unwrap();
    assert!(output.status.success(), "{args:?}: {}", stderr_of(&output));
    let text = stdout_of(&output);
    let value = toml::from_str::<toml::Value>(&text).unwrap_or_else(|e| panic!("not TOML: {e}\n{text}"));
    toml::from_str::<FileConfig>(&text).unwrap_or_else(|e| panic!("not a configuration: {e}\n{text}"));
    assert!(!text.contains(CLIENT_SECRET), "no secret");
    (text, value)
}

#[test]
fn config_prints_toml_that_round_trips() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("etc");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("token"), ACCESS_TOKEN).unwrap();
    std::fs::write(
        dir.join("access-audit.toml"),
        r#"
[salesforce]
instance_url = "https://acme.my.salesforce.com"
client_id = "3MVG9.client"
api_version = "60.0"
min_api_remaining = 2000

[rules]
inactive_days = 60
namespaces = ["PSE", "c2g"]
name_patterns = ['(?i)\bpsa\b', "FinancialForce"]
roster = "roster.csv"

[orgs.prod]
login_url = "https://login.salesforce.com"
username = "audit@acme.com"
jwt_key_file = "keys/prod.key"

[orgs.fullsb]
instance_url = "https://acme--fullsb.sandbox.my.salesforce.com"
access_token_file = "token"
timeout_secs = 30

[orgs.fullsb.rules]
inactive_days = 30
roster = "sandbox-roster.csv"

[run]
orgs = ["prod", "fullsb", "a-cli-alias"]
org_concurrency = 3

[output]
reviews_dir = "reviews"
keep = 4

[email]
to = ["it-sec@acme.com"]
from = "audit@acme.com"
smtp_host = "smtp.acme.com"
smtp_password_file = "smtp-password"

[seat_costs]
pse = 1200
"FinancialForce_Accounting" = 950.5
"#,
    )
    .unwrap();
    let (text, first) = config(work.path(), &["--config", "etc/access-audit.toml"]);
    // Where each value came from, in a comment.
    let line = |key: &str, section_start: &str| {
        let from = text.find(section_start).unwrap_or_else(|| panic!("{section_start} in {text}"));
        text[from..]
            .lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("{key}"))
            .to_string()
    };
    assert!(line("inactive_days", "[rules]").contains("# inactive_days in etc/access-audit.toml"), "{text}");
    assert!(line("grace_days", "[rules]").contains("# default"), "{text}");
    assert!(
        line("inactive_days", "[orgs.fullsb.rules]").contains("under [orgs.fullsb.rules] in etc/access-audit.toml")
    );
    assert!(line("timeout_secs", "[orgs.fullsb]").contains("timeout_secs under [orgs.fullsb]"));
    assert!(text.contains("# client secret: environment variable SF_CLIENT_SECRET"), "{text}");
    assert!(text.contains("# jwt_audience: follows login_url"), "an unset setting is a comment: {text}");
    // Paths are absolute: the output means the same wherever it is saved.
    let roster = dir.join("roster.csv");
    assert_eq!(first["rules"]["roster"].as_str(), Some(roster.to_str().unwrap()));
    assert_eq!(
        first["orgs"]["fullsb"]["rules"]["roster"].as_str(),
        Some(dir.join("sandbox-roster.csv").to_str().unwrap())
    );
    assert_eq!(first["rules"]["namespaces"], toml::Value::Array(vec!["pse".into(), "c2g".into()]));
    assert_eq!(first["run"]["org_concurrency"].as_integer(), Some(3));
    assert_eq!(first["seat_costs"]["pse"].as_float(), Some(1200.0), "{text}");
    assert_eq!(first["seat_costs"]["financialforce_accounting"].as_float(), Some(950.5), "{text}");
    assert!(line("pse", "[seat_costs]").contains("# pse under [seat_costs] in etc/access-audit.toml"), "{text}");

    // Fed back from elsewhere, it gives the same effective configuration.
    let copy = work.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    std::fs::write(copy.join("printed.toml"), &text).unwrap();
    let (again, second) = config(work.path(), &["--config", "copy/printed.toml"]);
    assert_eq!(first, second, "first:\n{text}\nsecond:\n{again}");

    // A flag is applied where a run would apply it, and said so.
    let (text, value) = config(work.path(), &["--config", "etc/access-audit.toml", "--grace-days", "3", "-o", "prod"]);
    assert_eq!(value["rules"]["grace_days"].as_integer(), Some(3));
    assert!(text.lines().any(|l| l.starts_with("grace_days = 3") && l.contains("# --grace-days")), "{text}");
    assert_eq!(value["salesforce"]["api_version"].as_str(), Some("60.0"));

    // A --seat-cost flag over the file's key, and one of its own.
    let (text, value) =
        config(work.path(), &["--config", "etc/access-audit.toml", "--seat-cost", "PSE=1300", "--seat-cost", "c2g=99"]);
    assert_eq!(value["seat_costs"]["pse"].as_float(), Some(1300.0), "{text}");
    assert_eq!(value["seat_costs"]["c2g"].as_float(), Some(99.0), "{text}");
    assert!(text.lines().any(|l| l.starts_with("pse = 1300") && l.contains("# --seat-cost")), "{text}");
}

#[test]
fn init_help() {
    let work = tempfile::tempdir().unwrap();
    let output = bin(work.path()).args(["init", "--help"]).env("COLUMNS", "100").output().unwrap();
    assert!(output.status.success());
    insta::assert_snapshot!("help-init", stdout_of(&output));
}
