//! The Salesforce CLI's stored login: an org the `sf` CLI is logged in to needs no configuration.
//!
//! Takes an alias or username (`--target-org NAME` for a name the config file does not hold)
//! and the `sf` program (on `PATH`, or `--sf-bin`), runs `sf org display --target-org NAME
//! --json`, and hands on the org's instance URL and an access token ([`SfLogin`]), which the
//! `access-token` flow then uses as it would a token given by hand. The CLI's own answer shape
//! is `{"status": 0, "result": {"accessToken", "instanceUrl", "username", "id",
//! "connectedStatus", ...}}`, or a non-zero `status` with `name` and `message`
//! (`NamedOrgNotFoundError` for an unknown alias).
//!
//! - **The token stays in memory**: it is read from the CLI's standard output into a
//!   [`SecretString`] and nothing else; the output is never logged, stored or quoted in a message
//!   (a message quotes only the CLI's error `name` and `message`, never what it printed).
//! - **Newer CLIs redact the token** in `org display` (`[REDACTED] Use 'sf org auth
//!   show-access-token' to view`): the token is then read with `sf org auth show-access-token
//!   --target-org NAME --json`, which answers `{"status": 0, "result": {"accessToken": ...}}`.
//! - **One line for each way it fails**: `sf` not installed (exit 2), an unknown alias (exit 2),
//!   a session the CLI cannot refresh any more (exit 3, "renew it with `sf org login web
//!   --alias NAME`"), an answer that is not the CLI's JSON (exit 2), a CLI that does not answer
//!   within [`SF_TIMEOUT`] (exit 3).
//!
//! Why a subprocess rather than reading the CLI's files: they are the CLI's private, encrypted
//! store; its JSON output is its documented interface.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde_json::Value;
use url::Url;

use crate::endpoint::{EndpointError, endpoint_url};
use crate::text::visible;

/// The program run when `--sf-bin` is not given: `sf` on `PATH`.
pub const DEFAULT_SF: &str = "sf";
/// How long one `sf` command may take (it starts Node.js, and may refresh the session online).
pub const SF_TIMEOUT: Duration = Duration::from_secs(120);
/// The most the CLI's answer may hold: a few kilobytes of JSON.
const MAX_OUTPUT: u64 = 1024 * 1024;
/// How `org display` shows a token it will not print (newer CLIs).
const REDACTED: &str = "[REDACTED]";

/// An org's login, from the Salesforce CLI.
#[derive(Debug)]
pub struct SfLogin {
    /// The alias or username it was looked up by.
    pub target: String,
    pub instance_url: Url,
    pub access_token: SecretString,
    pub username: Option<String>,
    /// The org's Id, as the CLI knows it.
    pub org_id: Option<String>,
}

/// Why the CLI's login could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SfCliError {
    #[error(
        "{target:?} is not an org of the configuration file, and the Salesforce CLI ({program}) is not installed or \
         not on PATH ({source}): install it, pass --sf-bin, or add [orgs.{target}] to the configuration file"
    )]
    Missing {
        target: String,
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot run the Salesforce CLI ({program}): {source}")]
    Run {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{target:?} is neither an org of the configuration file nor an alias or username the Salesforce CLI is \
         logged in to ({name}): log in with `sf org login web --alias {target}`, or add [orgs.{target}] to the \
         configuration file"
    )]
    UnknownOrg { target: String, name: String },
    #[error(
        "the Salesforce CLI's session for {target} has expired and cannot be refreshed ({detail}): renew it with \
         `sf org login web --alias {target}`"
    )]
    Expired { target: String, detail: String },
    #[error("`{command}` failed ({detail}); check it with `sf org display --target-org {target}`")]
    Failed { command: String, target: String, detail: String },
    #[error("`{command}` did not answer within {secs} s and was stopped")]
    Timeout { command: String, secs: u64 },
    #[error("`{command}` printed no answer this tool can read ({detail}); is {program} the Salesforce CLI?")]
    Unreadable { command: String, program: String, detail: String },
    #[error("{target:?} cannot be looked up in the Salesforce CLI: {reason}")]
    BadTarget { target: String, reason: &'static str },
    #[error("the Salesforce CLI's instance URL for {target}: {source}")]
    InstanceUrl {
        target: String,
        #[source]
        source: EndpointError,
    },
}

impl SfCliError {
    /// Salesforce refused (a session that cannot be refreshed) or did not answer, rather than a
    /// mistake in the setup: the exit code of a refused login.
    pub fn is_login_refused(&self) -> bool {
        matches!(self, SfCliError::Expired { .. } | SfCliError::Timeout { .. })
    }
}

/// Looks `target` up in the Salesforce CLI `program` (None: `sf` on `PATH`).
pub fn login(target: &str, program: Option<&Path>) -> Result<SfLogin, SfCliError> {
    check_target(target)?;
    let program = program.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(DEFAULT_SF));
    let display = run(&program, &["org", "display", "--target-org", target, "--json"], target)?;
    let result = &display["result"];
    if let Some(status) = result["connectedStatus"].as_str()
        && status != "Connected"
    {
        return Err(not_connected(target, status));
    }
    let instance =
        result["instanceUrl"].as_str().filter(|u| !u.trim().is_empty()).ok_or_else(|| SfCliError::Unreadable {
            command: command_line(&program, &["org", "display", "--target-org", target, "--json"]),
            program: program.display().to_string(),
            detail: "its result has no instanceUrl".into(),
        })?;
    let instance_url = endpoint_url("the Salesforce CLI's instanceUrl", instance.trim())
        .map_err(|source| SfCliError::InstanceUrl { target: target.to_string(), source })?;
    let token = match result["accessToken"].as_str().map(str::trim) {
        Some(t) if !t.is_empty() && !t.starts_with(REDACTED) => t.to_string(),
        // Newer CLIs print the token only through a command of its own.
        _ => {
            let args = ["org", "auth", "show-access-token", "--target-org", target, "--json"];
            let shown = run(&program, &args, target)?;
            shown["result"]["accessToken"]
                .as_str()
                .map(str::trim)
                .filter(|t| !t.is_empty() && !t.starts_with(REDACTED))
                .map(str::to_string)
                .ok_or_else(|| SfCliError::Unreadable {
                    command: command_line(&program, &args),
                    program: program.display().to_string(),
                    detail: "its result has no accessToken".into(),
                })?
        }
    };
    // The token goes into an HTTP header: it must be one plain line.
    if token.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(SfCliError::Unreadable {
            command: command_line(&program, &["org", "display", "--target-org", target, "--json"]),
            program: program.display().to_string(),
            detail: "its accessToken is not a token (it holds spaces or control characters)".into(),
        });
    }
    let text = |key: &str| result[key].as_str().map(|s| visible(s).into_owned());
    Ok(SfLogin {
        target: target.to_string(),
        instance_url,
        access_token: SecretString::from(token),
        username: text("username"),
        org_id: text("id"),
    })
}

/// A name that can only be an alias or a username: not a flag, one plain line.
fn check_target(target: &str) -> Result<(), SfCliError> {
    let bad = |reason| Err(SfCliError::BadTarget { target: visible(target).into_owned(), reason });
    if target.trim().is_empty() {
        return bad("it is empty");
    }
    if target.starts_with('-') {
        return bad("it starts with '-'");
    }
    if target.chars().any(char::is_control) || target.len() > 255 {
        return bad("it is not one line of at most 255 bytes");
    }
    Ok(())
}

/// A session the CLI reports as anything but `Connected`.
fn not_connected(target: &str, status: &str) -> SfCliError {
    let detail = one_line(status);
    if is_expiry(&detail) {
        SfCliError::Expired { target: target.to_string(), detail }
    } else {
        SfCliError::Failed {
            command: format!("sf org display --target-org {target}"),
            target: target.to_string(),
            detail: format!("its connection status is {detail:?}"),
        }
    }
}

/// Whether the CLI's words (an error's name or message, or a connection status) say the stored
/// session is over: Salesforce's `invalid_grant` ("expired access/refresh token"), the CLI's
/// `RefreshTokenAuthError`, an `INVALID_SESSION_ID`.
fn is_expiry(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    ["expired", "refresh", "invalid_grant", "invalid_session_id", "unable to refresh"].iter().any(|w| lower.contains(w))
}

fn one_line(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    crate::render::clip(&visible(&line), 300)
}

fn command_line(program: &Path, args: &[&str]) -> String {
    let name = program.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| DEFAULT_SF.into());
    format!("{} {}", visible(&name), args.iter().map(|a| visible(a).into_owned()).collect::<Vec<_>>().join(" "))
}

/// Runs one CLI command and returns its `{"status": 0, ...}` answer; a non-zero status is the
/// error it names.
fn run(program: &Path, args: &[&str], target: &str) -> Result<Value, SfCliError> {
    let command = command_line(program, args);
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => SfCliError::Missing {
                target: visible(target).into_owned(),
                program: program.display().to_string(),
                source,
            },
            _ => SfCliError::Run { program: program.display().to_string(), source },
        })?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = (&mut stdout).take(MAX_OUTPUT).read_to_end(&mut bytes);
        // Whatever is left is drained, so that the CLI never blocks on a full pipe.
        let _ = std::io::copy(&mut stdout, &mut std::io::sink());
        bytes
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = (&mut stderr).take(MAX_OUTPUT).read_to_end(&mut bytes);
        let _ = std::io::copy(&mut stderr, &mut std::io::sink());
        bytes
    });
    let deadline = Instant::now() + SF_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(SfCliError::Timeout { command, secs: SF_TIMEOUT.as_secs() });
            }
            Err(source) => return Err(SfCliError::Run { program: program.display().to_string(), source }),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    let unreadable = |detail: String| SfCliError::Unreadable {
        command: command.clone(),
        program: program.display().to_string(),
        detail,
    };
    // The answer is one JSON object; a line of text before it (an update notice) is skipped. What
    // the CLI printed is never quoted: it can hold the token.
    let text = String::from_utf8_lossy(&stdout);
    let json = text.find('{').map(|at| &text[at..]).unwrap_or_default();
    let answer: Value = match serde_json::from_str::<Value>(json.trim()) {
        Ok(v) if v.is_object() => v,
        _ => {
            let said = String::from_utf8_lossy(&stderr);
            let said = said.lines().map(str::trim).find(|l| !l.is_empty()).map(one_line);
            return Err(unreadable(match said {
                Some(line) => format!("exit status {}; it said: {line}", status.code().unwrap_or(-1)),
                None => format!("exit status {}, no JSON on its standard output", status.code().unwrap_or(-1)),
            }));
        }
    };
    match answer["status"].as_i64() {
        Some(0) => Ok(answer),
        Some(_) => {
            let name = answer["name"].as_str().map(one_line).unwrap_or_else(|| "an error".into());
            let message = answer["message"].as_str().map(one_line).unwrap_or_default();
            if matches!(
                name.as_str(),
                "NamedOrgNotFoundError" | "NamedOrgNotFound" | "NoAuthInfoFound" | "AuthInfoNotFound"
            ) {
                return Err(SfCliError::UnknownOrg { target: target.to_string(), name });
            }
            let detail = if message.is_empty() { name.clone() } else { format!("{name}: {message}") };
            if is_expiry(&detail) {
                return Err(SfCliError::Expired { target: target.to_string(), detail });
            }
            Err(SfCliError::Failed { command, target: target.to_string(), detail })
        }
        None => Err(unreadable("its JSON has no status".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_of_an_ended_session_are_told_from_other_failures() {
        for expired in [
            "expired access/refresh token",
            "RefreshTokenAuthError",
            "Unable to refresh session due to: Error authenticating with the refresh token due to: expired access/refresh token",
            "INVALID_SESSION_ID: Session expired or invalid",
        ] {
            assert!(is_expiry(expired), "{expired}");
        }
        for other in ["DomainNotFoundError", "NamedOrgNotFoundError", "ENOTFOUND"] {
            assert!(!is_expiry(other), "{other}");
        }
    }

    #[test]
    fn a_target_that_could_be_a_flag_is_refused() {
        for bad in ["", " ", "--json", "-o", "a\nb", "a\u{1b}b"] {
            assert!(check_target(bad).is_err(), "{bad:?}");
        }
        for good in ["prod", "jane@acme.com.fullsb", "my sandbox"] {
            check_target(good).unwrap();
        }
    }
}
