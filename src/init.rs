//! `access-audit init`: the admin's first step, a commented starter configuration file.
//!
//! Takes where to write (`--config FILE`, else `./access-audit.toml`), the answers given as flags
//! (`--login-url`, `--auth-flow`) and, when standard input is a terminal, a way to ask for the
//! others; hands on the file, written once, and what is left to fill in ([`Written`]).
//!
//! - **Asks nothing off a terminal** (cron, CI, a pipe): the defaults (production login, the
//!   JWT bearer flow) or the flags' answers, and placeholders for the rest.
//! - **Never a secret**: it asks for none and writes none. Each setting still to give is a
//!   commented line marked `FILL IN`, secrets as the file that will hold them
//!   (`client_secret_file`), never their value; for the JWT flow it prints the `openssl` line
//!   that makes the key and the certificate to upload.
//! - **Never over a file**: an existing file is left as it is (exit 2); the new one appears whole
//!   (written beside it and linked into place only if the name is still free).
//!
//! An org the Salesforce CLI is already logged in to needs none of this: `--target-org ALIAS`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use crate::cli::AuthFlow;
use crate::endpoint::{DEFAULT_LOGIN_URL, SANDBOX_LOGIN_URL, endpoint_url};

/// The command that makes the JWT bearer flow's key and certificate.
pub const OPENSSL: &str = "openssl req -x509 -newkey rsa:2048 -nodes -keyout access-audit.key -out access-audit.crt \
                           -days 730 -subj \"/CN=access-audit\"";
/// Wrong answers to one question before `init` gives up.
const TRIES: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(
        "{path} exists: init never replaces a configuration file; move it away, or name another file with --config"
    )]
    Exists { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("--login-url {given:?}: {reason}")]
    LoginUrl { given: String, reason: String },
    #[error("{question}: no answer ({reason}); nothing was written")]
    NoAnswer { question: &'static str, reason: String },
}

/// What `init` wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Written {
    pub file: PathBuf,
    pub login_url: String,
    pub auth_flow: AuthFlow,
    /// Whether it asked (standard input was a terminal).
    pub asked: bool,
    /// The settings marked `FILL IN`.
    pub fill_in: Vec<&'static str>,
    /// The `openssl` line, for the JWT bearer flow.
    pub openssl: Option<&'static str>,
}

/// The questions' channel: answers read from `input`, questions written to `output`.
pub struct Terminal<'a> {
    pub input: &'a mut dyn BufRead,
    pub output: &'a mut dyn Write,
}

/// Writes the starter file at `path`: the flags' answers, else the terminal's, else the defaults.
pub fn init(
    path: &Path,
    login_url: Option<&str>,
    flow: Option<AuthFlow>,
    terminal: Option<Terminal<'_>>,
) -> Result<Written, InitError> {
    if std::fs::symlink_metadata(path).is_ok() {
        return Err(InitError::Exists { path: path.to_path_buf() });
    }
    let login_url = login_url
        .map(|given| check_url(given).map_err(|reason| InitError::LoginUrl { given: given.to_string(), reason }))
        .transpose()?;
    let asked = terminal.is_some();
    let (login_url, flow) = match terminal {
        Some(mut t) => {
            let _ = writeln!(
                t.output,
                "access-audit init: a starter {} (nothing secret is asked or written).",
                path.display()
            );
            let url = match login_url {
                Some(url) => url,
                None => ask_login_url(&mut t)?,
            };
            let flow = match flow {
                Some(flow) => flow,
                None => ask_flow(&mut t)?,
            };
            (url, flow)
        }
        None => (login_url.unwrap_or_else(|| DEFAULT_LOGIN_URL.to_string()), flow.unwrap_or(AuthFlow::Jwt)),
    };
    let (text, fill_in) = starter(&login_url, flow);
    write_new(path, &text)?;
    Ok(Written {
        file: path.to_path_buf(),
        login_url,
        auth_flow: flow,
        asked,
        fill_in,
        openssl: (flow == AuthFlow::Jwt).then_some(OPENSSL),
    })
}

/// A login URL as the configuration will take it.
fn check_url(given: &str) -> Result<String, String> {
    endpoint_url("--login-url", given.trim())
        .map(|u| u.as_str().trim_end_matches('/').to_string())
        .map_err(|e| e.to_string())
}

fn read_answer(t: &mut Terminal<'_>, question: &'static str) -> Result<String, InitError> {
    let _ = t.output.flush();
    let mut line = String::new();
    match t.input.read_line(&mut line) {
        Ok(0) => Err(InitError::NoAnswer { question, reason: "the input ended".into() }),
        Ok(_) => Ok(line.trim().to_string()),
        Err(e) => Err(InitError::NoAnswer { question, reason: e.to_string() }),
    }
}

fn ask_login_url(t: &mut Terminal<'_>) -> Result<String, InitError> {
    const QUESTION: &str = "Login URL";
    let _ = writeln!(
        t.output,
        "\nWhere does the integration user log in?\n  1) {DEFAULT_LOGIN_URL}  (production, Developer Edition)\n  \
         2) {SANDBOX_LOGIN_URL}   (a sandbox)\n  or type the org's My Domain URL, e.g. https://acme.my.salesforce.com"
    );
    for _ in 0..TRIES {
        let _ = write!(t.output, "{QUESTION} [1]: ");
        let answer = read_answer(t, QUESTION)?;
        let url = match answer.as_str() {
            "" | "1" => Ok(DEFAULT_LOGIN_URL.to_string()),
            "2" => Ok(SANDBOX_LOGIN_URL.to_string()),
            other => check_url(other),
        };
        match url {
            Ok(url) => return Ok(url),
            Err(reason) => {
                let _ = writeln!(t.output, "  {}: type 1, 2 or an https:// URL", crate::text::visible(&reason));
            }
        }
    }
    Err(InitError::NoAnswer { question: QUESTION, reason: format!("{TRIES} answers that are not a login URL") })
}

const FLOWS: [(AuthFlow, &str, &str); 4] = [
    (AuthFlow::Jwt, "jwt", "JWT bearer: a certificate on the app, no secret to rotate (recommended for cron)"),
    (AuthFlow::ClientCredentials, "client-credentials", "the app's consumer key and secret, at the org's My Domain"),
    (AuthFlow::RefreshToken, "refresh-token", "a refresh token you already have"),
    (AuthFlow::AccessToken, "access-token", "an access token you already have (or --target-org with the sf CLI)"),
];

fn ask_flow(t: &mut Terminal<'_>) -> Result<AuthFlow, InitError> {
    const QUESTION: &str = "Login flow";
    let _ = writeln!(t.output, "\nHow does access-audit log in?");
    for (i, (_, name, what)) in FLOWS.iter().enumerate() {
        let _ = writeln!(t.output, "  {}) {name:<20} {what}", i + 1);
    }
    for _ in 0..TRIES {
        let _ = write!(t.output, "{QUESTION} [1]: ");
        let answer = read_answer(t, QUESTION)?;
        let found = FLOWS.iter().enumerate().find(|(i, (_, name, _))| {
            answer.is_empty() && *i == 0 || answer == (i + 1).to_string() || answer.eq_ignore_ascii_case(name)
        });
        match found {
            Some((_, (flow, _, _))) => return Ok(*flow),
            None => {
                let _ = writeln!(t.output, "  type a number from 1 to {}, or a flow's name", FLOWS.len());
            }
        }
    }
    Err(InitError::NoAnswer { question: QUESTION, reason: format!("{TRIES} answers that are not a login flow") })
}

/// The file's text for a login URL and flow, and the settings it marks `FILL IN`.
pub fn starter(login_url: &str, flow: AuthFlow) -> (String, Vec<&'static str>) {
    let q = |s: &str| toml::Value::String(s.to_string()).to_string();
    let flow_name = FLOWS.iter().find(|(f, _, _)| *f == flow).map(|(_, n, _)| *n).unwrap_or("jwt");
    let shared_login = [DEFAULT_LOGIN_URL, SANDBOX_LOGIN_URL].contains(&login_url);
    let mut fill: Vec<(&'static str, String, &'static str)> = Vec::new();
    match flow {
        AuthFlow::Jwt => {
            fill.push((
                "client_id",
                q("3MVG9...the consumer key..."),
                "the consumer key of the External Client App (Setup → External Client App Manager)",
            ));
            fill.push(("username", q("access-audit@acme.com"), "the integration user's username"));
            fill.push((
                "jwt_key_file",
                q("/etc/access-audit/access-audit.key"),
                "the RS256 private key whose certificate is uploaded to the app (init printed the openssl line)",
            ));
        }
        AuthFlow::ClientCredentials => {
            fill.push(("client_id", q("3MVG9...the consumer key..."), "the consumer key of the External Client App"));
            if shared_login {
                fill.push((
                    "instance_url",
                    q("https://acme.my.salesforce.com"),
                    "the org's My Domain URL (this flow is refused at the shared login hosts)",
                ));
            }
            fill.push((
                "client_secret_file",
                q("/etc/access-audit/client-secret"),
                "the file holding the consumer secret (chmod 600), or set SF_CLIENT_SECRET instead",
            ));
        }
        AuthFlow::RefreshToken => {
            fill.push((
                "client_id",
                q("3MVG9...the consumer key..."),
                "the consumer key of the app the refresh token was issued to",
            ));
            fill.push((
                "refresh_token_file",
                q("/etc/access-audit/refresh-token"),
                "the file holding the refresh token (chmod 600), or set SF_REFRESH_TOKEN instead",
            ));
        }
        AuthFlow::AccessToken => {
            fill.push(("instance_url", q("https://acme.my.salesforce.com"), "the org the token was issued for"));
            fill.push(("access_token_file", q("/etc/access-audit/access-token"), "the file holding the token, or set SF_ACCESS_TOKEN instead (an org the Salesforce CLI is logged in to needs neither: --target-org ALIAS)"));
        }
    }
    let mut s = String::new();
    s.push_str("# access-audit configuration, written by `access-audit init`.\n");
    s.push_str("# Fill in each line marked FILL IN (remove its leading '#'), then check it: access-audit config\n");
    s.push_str(
        "# No secret belongs in this file: secrets come from environment variables or from the files named here.\n",
    );
    s.push_str("# Every key is in the README: \"Connect to your org\", \"Commands\", \"Several orgs in one run\".\n\n");
    s.push_str("[salesforce]\n");
    s.push_str(&format!(
        "login_url = {}{}\n",
        q(login_url),
        if shared_login { "      # https://test.salesforce.com for a sandbox" } else { "" }
    ));
    s.push_str(&format!("auth_flow = {}\n", q(flow_name)));
    for (key, value, what) in &fill {
        s.push_str(&format!("# FILL IN: {what}.\n# {key} = {value}\n"));
    }
    s.push_str(
        "# api_version = \"62.0\"\n\
         # min_api_remaining = \"5%\"                      # or a count, e.g. 2000\n\
         # max_run_secs = 14400                          # the most a run may wait on Salesforce\n\
         # ca_file = \"/etc/ssl/corp-proxy-ca.pem\"        # a TLS-inspecting proxy's CA\n\n\
         [rules]\n\
         # inactive_days = 90\n\
         # grace_days = 14\n\
         # user_types = [\"Standard\"]\n\
         # roster = \"certinia-users.csv\"                 # expected users, relative to this file\n\n\
         # Several orgs: one [orgs.NAME] table each, with the keys of [salesforce] (nothing is inherited from it),\n\
         # and rules of its own in [orgs.NAME.rules]. `run --all-orgs` audits them all; a name the file does not\n\
         # hold is looked up in the Salesforce CLI (sf org display).\n\
         # [orgs.fullsb]\n\
         # login_url = \"https://test.salesforce.com\"\n\
         # client_id = \"3MVG9...\"\n\
         # username = \"access-audit@acme.com.fullsb\"\n\
         # jwt_key_file = \"/etc/access-audit/access-audit.key\"\n\
         # [orgs.fullsb.rules]\n\
         # inactive_days = 30\n\
         # [run]\n\
         # orgs = [\"fullsb\", \"prod\"]                    # what `run` audits; default: --all-orgs, every [orgs.NAME]\n\
         # org_concurrency = 2\n\n\
         # [output]\n\
         # reviews_dir = \"/srv/access-audit/reviews\"     # a dated folder per run, DIR/<org>/<YYYY-MM-DDTHHMMZ>/\n\
         # keep = 8\n\n\
         # [email]\n\
         # to = [\"it-sec@example.com\"]\n\
         # from = \"access-audit@example.com\"\n\
         # smtp_host = \"smtp.example.com\"\n\
         # smtp_username = \"access-audit@example.com\"\n\
         # smtp_password_file = \"/etc/access-audit/smtp-password\"\n\
         # on_failure = true\n",
    );
    (s, fill.iter().map(|(k, _, _)| *k).collect())
}

/// Writes `text` at `path` only if nothing is there: written beside it, then linked into place
/// (a hard link fails when the name is taken), so the file appears whole or not at all.
fn write_new(path: &Path, text: &str) -> Result<(), InitError> {
    let fail = |source| InitError::Write { path: path.to_path_buf(), source };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new().prefix(".access-audit-init-").tempfile_in(dir).map_err(fail)?;
    temp.write_all(text.as_bytes()).map_err(fail)?;
    temp.as_file().sync_all().map_err(fail)?;
    match temp.persist_noclobber(path) {
        Ok(_) => Ok(()),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(InitError::Exists { path: path.to_path_buf() })
        }
        Err(e) => Err(fail(e.error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FileConfig;

    #[test]
    fn every_starter_parses_and_holds_no_secret_value() {
        for (flow, _, _) in FLOWS {
            for url in [DEFAULT_LOGIN_URL, SANDBOX_LOGIN_URL, "https://acme.my.salesforce.com"] {
                let (text, fill) = starter(url, flow);
                let parsed: FileConfig = toml::from_str(&text).unwrap_or_else(|e| panic!("{flow:?}: {e}\n{text}"));
                assert_eq!(parsed.salesforce.login_url.as_deref(), Some(url));
                assert_eq!(parsed.salesforce.auth_flow, Some(flow));
                assert!(!fill.is_empty());
                for key in fill {
                    assert!(text.contains(&format!("# {key} = ")), "{key} is a placeholder");
                }
                // Secrets only ever as a file to read.
                for key in ["client_secret =", "refresh_token =", "access_token =", "password ="] {
                    assert!(!text.contains(key), "{key}");
                }
            }
        }
    }

    #[test]
    fn answers_are_asked_again_until_they_make_sense() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access-audit.toml");
        let mut input: &[u8] = b"http://login.example.com\n2\nbogus\nrefresh-token\n";
        let mut output = Vec::new();
        let written = init(&path, None, None, Some(Terminal { input: &mut input, output: &mut output })).unwrap();
        assert_eq!(written.login_url, SANDBOX_LOGIN_URL);
        assert_eq!(written.auth_flow, AuthFlow::RefreshToken);
        assert!(written.asked && written.openssl.is_none());
        let said = String::from_utf8(output).unwrap();
        assert!(said.contains("type 1, 2 or an https:// URL"), "{said}");
        assert!(said.contains("type a number from 1 to 4"), "{said}");
        // A second init leaves the file alone.
        let before = std::fs::read(&path).unwrap();
        assert!(matches!(init(&path, None, None, None), Err(InitError::Exists { .. })));
        assert_eq!(std::fs::read(&path).unwrap(), before);
        // An input that ends writes nothing.
        let other = dir.path().join("other.toml");
        let mut input: &[u8] = b"";
        let mut output = Vec::new();
        let e = init(&other, None, None, Some(Terminal { input: &mut input, output: &mut output })).unwrap_err();
        assert!(matches!(e, InitError::NoAnswer { .. }), "{e}");
        assert!(!other.exists());
    }
}
