//! Mail: the last stage of a scheduled run, the one people see.
//!
//! Takes a committed report folder (or, after a failed run, the error and where the last good
//! report is) and the validated [`EmailConfig`], and hands the message to an SMTP server:
//!
//! - [`message::digest`]: `multipart/mixed` holding a `multipart/alternative` (the folder's
//!   `email.txt`, then its `email.html`) and the attachments: the workbook and the CSVs in one
//!   zip. Above `--email-max-bytes` only the workbook is attached (or nothing, if even that is too
//!   large), and the body says where the full report is. Everything sent is read from the
//!   folder, and checked against the SHA-256 the folder's file list recorded at write time, so
//!   `send DIR` mails exactly what the run wrote (the workbook may hold reviewer decisions since,
//!   and is sent as it is).
//! - [`message::failure_notice`]: a short plain-text notice of a failed run: the org, the one-line
//!   error, the exit code, and where the last good report is; never that report's findings.
//! - [`send`]: over SMTP with lettre and rustls: STARTTLS (required when chosen, never silently
//!   skipped), implicit TLS, or none for a server on this machine only; certificates always
//!   verified (the platform's roots plus `--smtp-ca-file`); AUTH PLAIN or LOGIN when a login is
//!   configured. The password never appears in a message or a log.
//!
//! Why after the commit: a failed send must never cost the reports. A run whose email fails
//! exits with its own code ([`crate::exit::ExitCode::Mail`]) and its reports stay on disk.

pub mod message;

use std::path::PathBuf;
use std::time::Duration;

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{SmtpTransport, Transport};
use secrecy::ExposeSecret;

use crate::cli::SmtpTls;
use crate::config::{EmailConfig, SmtpConfig};

/// How long one SMTP command may take (connecting included).
const SMTP_TIMEOUT: Duration = Duration::from_secs(60);

/// Everything that can go wrong while building or sending an email.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("{path} is not a report folder of access-audit ({reason}); give a folder written by `run` or `report`")]
    NotReportFolder { path: PathBuf, reason: String },
    #[error(
        "{path}: {file} is not the file access-audit wrote (its SHA-256 differs from the folder's file list); \
         not sending a changed report: run the report again"
    )]
    Changed { path: PathBuf, file: String },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {detail}")]
    Summary { path: PathBuf, detail: String },
    #[error("internal error while building the email ({0}); please report it")]
    Build(String),
    #[error("the email could not be sent through {server}: {reason} ({source}){}", written(.reports))]
    Send {
        server: String,
        reason: &'static str,
        /// The report folder, committed before the send.
        reports: Option<PathBuf>,
        #[source]
        source: lettre::transport::smtp::Error,
    },
}

fn written(reports: &Option<PathBuf>) -> String {
    match reports {
        Some(dir) => format!("; the reports are written in {}", dir.display()),
        None => String::new(),
    }
}

impl MailError {
    /// A folder that is not one of ours was named: a mistake in the command line.
    pub fn is_usage(&self) -> bool {
        matches!(self, MailError::NotReportFolder { .. })
    }

    /// A report folder whose files changed after they were written: the data cannot be trusted.
    pub fn is_data(&self) -> bool {
        matches!(self, MailError::Changed { .. } | MailError::Summary { .. })
    }

    /// Something the tool got wrong, not the server, the folder or the data.
    pub fn is_internal(&self) -> bool {
        matches!(self, MailError::Build(_))
    }

    /// Names the report folder a failed send leaves behind, for its message.
    pub fn with_reports(mut self, dir: PathBuf) -> MailError {
        if let MailError::Send { reports, .. } = &mut self {
            *reports = Some(dir);
        }
        self
    }
}

/// What was sent, for the log and `--json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sent {
    pub to: Vec<String>,
    pub subject: String,
    pub bytes: usize,
    pub attachments: Vec<String>,
    pub server: String,
}

/// Sends `outgoing` through the configured server.
pub fn send(config: &EmailConfig, outgoing: message::Outgoing) -> Result<Sent, MailError> {
    let smtp = &config.smtp;
    let server = format!("{}:{}", smtp.host, smtp.port);
    let fail = |reason: &'static str| {
        let server = server.clone();
        move |source| MailError::Send { server, reason, reports: None, source }
    };
    let transport = transport(smtp).map_err(fail("its TLS settings cannot be used"))?;
    transport.send(&outgoing.message).map_err(|e| {
        let reason = reason(&e);
        fail(reason)(e)
    })?;
    tracing::info!(
        "emailed {} ({} bytes, {}) to {} through {server}",
        outgoing.subject,
        outgoing.bytes,
        if outgoing.attachments.is_empty() { "no attachment".to_string() } else { outgoing.attachments.join(", ") },
        outgoing.to.join(", ")
    );
    Ok(Sent {
        to: outgoing.to,
        subject: outgoing.subject,
        bytes: outgoing.bytes,
        attachments: outgoing.attachments,
        server,
    })
}

/// A failed send in plain words, from the kind of error (never from its wording).
fn reason(e: &lettre::transport::smtp::Error) -> &'static str {
    let code = e.status().map(|c| c.to_string());
    // A certificate refused during the handshake shows as a network error whose cause is rustls's.
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    let mut tls = e.is_tls();
    while let Some(c) = cause {
        tls |= c.is::<rustls::Error>()
            || c.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()).is_some_and(|i| i.is::<rustls::Error>());
        cause = c.source();
    }
    if tls {
        "the TLS connection failed (an untrusted certificate? see --smtp-ca-file)"
    } else if e.is_timeout() {
        "the server did not answer in time"
    } else if code.as_deref().is_some_and(|c| c == "535" || c == "534" || c == "530" || c == "538") {
        "the server refused the login (check --smtp-username and the password)"
    } else if e.is_permanent() {
        "the server refused the message"
    } else if e.is_transient() {
        "the server refused the message for now (a temporary error): try again later"
    } else if e.is_client() {
        "the server does not offer what this connection needs (STARTTLS, or a login mechanism)"
    } else {
        "cannot talk to the server (is --smtp-host/--smtp-port right, and is it reachable?)"
    }
}

/// The SMTP transport: TLS as configured, certificates verified, the login if any.
fn transport(smtp: &SmtpConfig) -> Result<SmtpTransport, lettre::transport::smtp::Error> {
    let mut builder = SmtpTransport::builder_dangerous(smtp.host.as_str()).port(smtp.port).timeout(Some(SMTP_TIMEOUT));
    let parameters = || {
        let mut tls = TlsParameters::builder(smtp.host.clone());
        if let Some((_, pem)) = &smtp.ca_pem {
            tls = tls.add_root_certificate(Certificate::from_pem(pem)?);
        }
        tls.build_rustls()
    };
    builder = match smtp.tls {
        SmtpTls::Starttls => builder.tls(Tls::Required(parameters()?)),
        SmtpTls::Implicit => builder.tls(Tls::Wrapper(parameters()?)),
        SmtpTls::None => builder.tls(Tls::None),
    };
    if let Some((user, password, _)) = &smtp.login {
        builder = builder
            .credentials(Credentials::new(user.clone(), password.expose_secret().to_string()))
            .authentication(vec![Mechanism::Plain, Mechanism::Login]);
    }
    Ok(builder.build())
}
