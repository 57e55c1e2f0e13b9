//! Integration tests: the real `access-audit` binary against the Salesforce simulator on 127.0.0.1.
//!
//! One test binary (polars makes every link slow), one module per concern.

mod common;

/// The four login flows, and what a refused login looks like.
mod auth;
/// Bulk API 2.0, sequential and parallel REST: the same bytes; pushdown; no Bulk access; progress bars.
mod bulk;
/// The Bulk API fault matrix: alone and combined with REST faults.
mod bulk_faults;
/// Certinia beyond permission sets: permission set licences, PSA permission controls and resources, Accounting companies.
mod certinia;
/// What grants Certinia beyond permission sets: licences, PSA permission controls and resources, user companies.
mod certinia_pull;
/// What changed since the previous review: two quarters of one org, the first review decided.
mod changes;
/// The HTTP client against hostile answers: unknown hosts, endless and silent servers, bad text, redirects.
mod client;
/// Killed mid-pull or mid-write: the previous outputs stay intact.
mod crash;
/// Parallel REST cursors: the limit across all objects, ranges that must add up.
mod cursors;
/// `doctor`: one line per check of the login, what to grant when one fails, exit 11.
mod doctor;
/// The email from cron: the digest over STARTTLS and a login, the failure notice, a refused login.
mod email;
/// Exclusions (active, expired, unmatched, ambiguous) and account classes.
mod exclusions;
/// The fault matrix: recovered byte for byte, or failed loudly with nothing half-written.
mod faults;
/// Output folders: only ours are replaced, added files never deleted, live runs left alone, signals.
mod folders;
/// Golden outputs of the demo org: summary.json, a CSV and the HTML summary, reviewed once.
mod golden;
/// `--help` of every command: complete and stable.
mod help;
/// `init` on a pseudo-terminal and off one; `config` prints TOML that round-trips.
mod init;
/// Inputs that used to pass silently: empty rule lists, impossible dates, big and foreign rosters, control characters.
mod inputs;
/// `--json`: one object on stdout for every command and every exit code.
mod json;
/// Several orgs in one run: each org's folder, the combined summary, the cross-org rows, one email.
mod orgs;
/// Property tests of the parsers of outside input: no panics, exact round trips, precise errors.
mod props;
/// Pulling a whole org: paging, completeness, relationship fields, API versions.
mod pull;
/// The API quota guard at, above and below the floor.
mod quota;
/// The reports of the demo org: reproducible, readable, safe.
mod reports;
/// `review` of the other applications' sheets: decisions checked, counted, written down; exit 8 and 9.
mod review_apps;
/// Dated runs: history kept, `latest`, `--keep`, edited workbooks never replaced, one writer per org.
mod reviews;
/// Every rule of REPORTS.md, with the exact set of users in each report.
mod rules;
/// Other applications over SCIM 2.0: the pull into apps/NAME/, paging, completeness, retries, dialects.
mod scim;
/// The applications' reports: every rule of REPORTS.md with its cases, the exact accounts in each, the SCIM cross-check.
mod scim_reports;
/// The Seats report: one row per licence, reclaimable seats, UsedMismatch, --seat-cost and [seat_costs].
mod seats;
/// No secret in any output, log or file.
mod secrets;
/// Configuration precedence and one-line errors.
mod settings;
/// `--target-org` through the Salesforce CLI's stored login (a fake `sf` on PATH): its token used, never shown.
#[cfg(unix)]
mod sfcli;
/// The sign-off read back: a filled-in workbook, `review`'s report, exit codes, decisions and remediation.
mod signoff;
/// Snapshots fixed up after tampering, and files that are not regular files: refused, everywhere alike.
mod tamper;
/// TLS verification and the custom CA file.
mod tls;
/// The declared `rust-version` is the newest any dependency needs.
mod toolchain;
/// `verify` catches any change to a snapshot.
mod verify;
/// The review workbook: each report's decisions, protection, print setup, panes, widths, managers.
mod workbook;
