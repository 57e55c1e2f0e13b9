//! Integration tests: the real `access-audit` binary against the Salesforce simulator on 127.0.0.1.
//!
//! One test binary (polars makes every link slow), one module per concern.

mod common;

/// The four login flows, and what a refused login looks like.
mod auth;
/// The fault matrix: recovered byte for byte, or failed loudly with nothing half-written.
mod faults;
/// `--help` of every command: complete and stable.
mod help;
/// Pulling a whole org: paging, completeness, relationship fields, API versions.
mod pull;
/// The reports of the demo org: reproducible, readable, safe.
mod reports;
/// Every rule of REPORTS.md, with the exact set of users in each report.
mod rules;
/// No secret in any output, log or file.
mod secrets;
/// Configuration precedence and one-line errors.
mod settings;
/// `verify` catches any change to a snapshot.
mod verify;
