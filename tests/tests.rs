//! Integration tests: the real `access-audit` binary against the Salesforce simulator on 127.0.0.1.
//!
//! One test binary (polars makes every link slow), one module per concern.

mod common;

/// The four login flows, and what a refused login looks like.
mod auth;
/// Killed mid-pull or mid-write: the previous outputs stay intact.
mod crash;
/// The fault matrix: recovered byte for byte, or failed loudly with nothing half-written.
mod faults;
/// Golden outputs of the demo org: summary.json, a CSV and the HTML summary, reviewed once.
mod golden;
/// `--help` of every command: complete and stable.
mod help;
/// Property tests of the parsers of outside input: no panics, exact round trips, precise errors.
mod props;
/// Pulling a whole org: paging, completeness, relationship fields, API versions.
mod pull;
/// The API quota guard at, above and below the floor.
mod quota;
/// The reports of the demo org: reproducible, readable, safe.
mod reports;
/// Every rule of REPORTS.md, with the exact set of users in each report.
mod rules;
/// No secret in any output, log or file.
mod secrets;
/// Configuration precedence and one-line errors.
mod settings;
/// TLS verification and the custom CA file.
mod tls;
/// The declared `rust-version` is the newest any dependency needs.
mod toolchain;
/// `verify` catches any change to a snapshot.
mod verify;
