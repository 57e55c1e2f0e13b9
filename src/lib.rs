//! access-audit: who can reach the Certinia apps in a Salesforce org.
//!
//! The pipeline, one module per stage:
//! `cli` → `config` → `auth` → `salesforce` (client) and `scim` (other applications)
//! → `snapshot` → `analysis` (with `roster` and `exclusions`) → `changes` (against the
//! previous review) → `model` → `render` → `deliver` (atomic folders, dated runs, email).
//! The review cycle's way back: `review` reads the completed workbooks (`readback`) of a
//! report folder (`report_folder`) and writes the sign-off record.
//! Two leaves under them: `endpoint` (where credentials may be sent) and `http` (the
//! HTTP client, body caps and transport errors every Salesforce client shares).
//! Before `auth`, `orgs` says which org (or orgs) a run audits and how to reach each, through
//! `config` or the Salesforce CLI's stored login (`sfcli`); a run of several ends with
//! `combined`, the summary across orgs (rendered by `render::combined`); `init` writes a starter
//! configuration file; `doctor` checks, before a run needs it, that the login can read what
//! the `snapshot` stage reads.
//! `app` strings the stages together for each subcommand; `main.rs` only turns
//! the outcome into a message and an exit code ([`exit::ExitCode`]), or, with `--json`, into
//! one JSON object on stdout ([`envelope`]).
//! Beside the pipeline: `files` reads every file given from outside (regular
//! files only, size-capped), `signals` ends an interrupted run cleanly, and
//! `text` makes outside text safe to show (every stage may use it), and
//! `csv_input` reads the CSV files users give (roster, exclusions) alike.

pub mod analysis;
pub mod app;
pub mod auth;
pub mod changes;
pub mod cli;
pub mod combined;
pub mod config;
pub mod csv_input;
pub mod deliver;
pub mod doctor;
pub mod endpoint;
pub mod envelope;
pub mod exclusions;
pub mod exit;
pub mod files;
pub mod http;
pub mod init;
pub mod model;
pub mod orgs;
pub mod readback;
pub mod render;
pub mod report_folder;
pub mod review;
pub mod roster;
pub mod salesforce;
pub mod scim;
pub mod sfcli;
pub mod signals;
pub mod snapshot;
pub mod text;

use exit::ExitCode;

/// Every failure of a run, by stage; each maps to one documented exit code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Salesforce(#[from] salesforce::SalesforceError),
    #[error(transparent)]
    Snapshot(#[from] snapshot::SnapshotError),
    #[error(transparent)]
    Output(#[from] deliver::OutputError),
    #[error(transparent)]
    Roster(#[from] roster::RosterError),
    #[error(transparent)]
    Exclusions(#[from] exclusions::ExclusionsError),
    #[error(transparent)]
    Changes(#[from] changes::ChangesError),
    #[error(transparent)]
    Review(#[from] review::ReviewError),
    #[error(transparent)]
    Analysis(#[from] analysis::AnalysisError),
    #[error(transparent)]
    Render(#[from] render::RenderError),
    #[error(transparent)]
    Http(#[from] http::HttpSetupError),
    #[error(transparent)]
    Mail(#[from] deliver::email::MailError),
    #[error(transparent)]
    SfCli(#[from] sfcli::SfCliError),
    #[error(transparent)]
    Init(#[from] init::InitError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        use snapshot::SnapshotError as N;
        match self {
            Error::Config(_) | Error::Roster(_) | Error::Exclusions(_) | Error::Http(_) => ExitCode::Usage,
            // A polars error is a bug of this tool, not a fault of the data.
            Error::Analysis(analysis::AnalysisError::Polars(_)) => ExitCode::Internal,
            // A file the user gave that cannot be trusted.
            Error::Analysis(analysis::AnalysisError::Exclusions(_)) => ExitCode::Usage,
            Error::Analysis(_) => ExitCode::Incomplete,
            Error::Render(_) => ExitCode::Io,
            Error::Changes(e) if e.is_usage() => ExitCode::Usage,
            // A previous review that cannot be trusted: its files changed, or cannot be read.
            Error::Changes(_) => ExitCode::Incomplete,
            Error::Review(e) => match e {
                review::ReviewError::Folder(f) if f.is_usage() => ExitCode::Usage,
                review::ReviewError::NoWorkbook { .. } => ExitCode::Usage,
                // A file that cannot be read as a workbook is not the run's workbook.
                review::ReviewError::Workbook { .. } => ExitCode::ReviewMismatch,
                review::ReviewError::Folder(_) | review::ReviewError::OtherSnapshot { .. } => ExitCode::Incomplete,
            },
            Error::Salesforce(e) | Error::Snapshot(N::Salesforce(e)) => {
                if e.is_data_fault() {
                    ExitCode::Incomplete
                } else {
                    ExitCode::Salesforce
                }
            }
            Error::Snapshot(e) => match e {
                N::Salesforce(_) => unreachable!("matched above"),
                // An application that refuses this caller (an allowlist, a permission) needs its
                // configuration changed; its incomplete listings are data that cannot be trusted.
                N::App(e) if e.is_configuration() => ExitCode::Usage,
                N::App(e) if e.is_data_fault() => ExitCode::Incomplete,
                N::App(_) => ExitCode::Salesforce,
                N::MissingField { .. } | N::MissingObject { .. } | N::NoAccess { .. } => ExitCode::Salesforce,
                N::Malformed { .. } | N::Duplicate { .. } => ExitCode::Incomplete,
                N::Invalid { .. } | N::Tampered { .. } => ExitCode::Incomplete,
                // A path that is not a snapshot at all is a mistake in the command line.
                N::Missing { .. } | N::ReportFolder { .. } => ExitCode::Usage,
                N::Output(e) if e.is_usage() => ExitCode::Usage,
                N::Output(_) => ExitCode::Io,
            },
            Error::Output(e) if e.is_usage() => ExitCode::Usage,
            Error::Output(_) | Error::Runtime(_) => ExitCode::Io,
            Error::Mail(e) if e.is_usage() => ExitCode::Usage,
            Error::Mail(e) if e.is_data() => ExitCode::Incomplete,
            Error::Mail(e) if e.is_internal() => ExitCode::Internal,
            Error::Mail(_) => ExitCode::Mail,
            Error::SfCli(e) if e.is_login_refused() => ExitCode::Salesforce,
            Error::SfCli(_) | Error::Init(_) => ExitCode::Usage,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_polars_error_is_an_internal_error_not_incomplete_data() {
        let e = Error::Analysis(analysis::AnalysisError::Polars(polars::prelude::PolarsError::ComputeError(
            "lengths differ".into(),
        )));
        assert_eq!(e.exit_code(), ExitCode::Internal);
        assert!(e.to_string().contains("please report it"), "{e}");
        let e = Error::Analysis(analysis::AnalysisError::BadDateTime {
            object: "User",
            id: "005000000000001AAA".into(),
            field: "CreatedDate",
            value: "x".into(),
        });
        assert_eq!(e.exit_code(), ExitCode::Incomplete);
    }

    #[test]
    fn salesforce_errors_map_by_kind() {
        use salesforce::SalesforceError as S;
        let json_error = serde_json::from_str::<serde_json::Value>("{\"a\":\u{1}}").unwrap_err();
        let data = [
            S::Incomplete { object: "User".into(), expected: 2, received: 1 },
            S::Inconsistent { object: "User".into(), detail: "x".into() },
            S::BadResponse { what: "q".into(), detail: "x".into() },
            S::MalformedJson { what: "q".into(), near_record: None, source: json_error },
        ];
        for e in data {
            assert_eq!(Error::Salesforce(e).exit_code(), ExitCode::Incomplete);
        }
        let network = [
            S::Deadline { secs: 5 },
            S::NotApi { what: "q".into(), status: 200, media_type: "text/html".into() },
            S::Redirected { what: "q".into(), status: 302, location: "https://x/".into() },
            S::SessionRejected { what: "q".into(), renewable: false },
        ];
        for e in network {
            let e = Error::Snapshot(snapshot::SnapshotError::Salesforce(e));
            assert_eq!(e.exit_code(), ExitCode::Salesforce);
        }
    }
}
