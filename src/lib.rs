//! access-audit: who can reach the Certinia apps in a Salesforce org.
//!
//! The pipeline, one module per stage:
//! `cli` → `config` → `auth` → `salesforce` (client) → `snapshot` → `analysis`
//! (with `roster`) → `model` → `render` → `deliver` (atomic folders).
//! `app` strings the stages together for each subcommand; `main.rs` only turns
//! the outcome into a message and an exit code ([`exit::ExitCode`]).
//! Beside the pipeline: `files` reads every file given from outside (regular
//! files only, size-capped), `signals` ends an interrupted run cleanly, and
//! `text` makes outside text safe to show (every stage may use it).

pub mod analysis;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod deliver;
pub mod exit;
pub mod files;
pub mod model;
pub mod render;
pub mod roster;
pub mod salesforce;
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
    Analysis(#[from] analysis::AnalysisError),
    #[error(transparent)]
    Render(#[from] render::RenderError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        use salesforce::SalesforceError as S;
        use snapshot::SnapshotError as N;
        match self {
            Error::Config(_) | Error::Roster(_) => ExitCode::Usage,
            Error::Analysis(_) => ExitCode::Incomplete,
            Error::Render(_) => ExitCode::Io,
            Error::Salesforce(e) | Error::Snapshot(N::Salesforce(e)) => match e {
                S::Incomplete { .. } | S::Inconsistent { .. } => ExitCode::Incomplete,
                S::BadResponse { .. } => ExitCode::Incomplete,
                _ => ExitCode::Salesforce,
            },
            Error::Snapshot(e) => match e {
                N::Salesforce(_) => unreachable!("matched above"),
                N::MissingField { .. } | N::MissingObject { .. } => ExitCode::Salesforce,
                N::Malformed { .. } | N::Duplicate { .. } => ExitCode::Incomplete,
                N::Invalid { .. } | N::Tampered { .. } => ExitCode::Incomplete,
                // A path that is not a snapshot at all is a mistake in the command line.
                N::Missing { .. } | N::ReportFolder { .. } => ExitCode::Usage,
                N::Output(e) if e.is_usage() => ExitCode::Usage,
                N::Output(_) => ExitCode::Io,
            },
            Error::Output(e) if e.is_usage() => ExitCode::Usage,
            Error::Output(_) | Error::Runtime(_) => ExitCode::Io,
        }
    }
}
