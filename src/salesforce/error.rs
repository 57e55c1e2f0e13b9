//! What can go wrong talking to Salesforce, each kind keeping its cause.
//!
//! Takes the failures of the HTTP layer (`http::TransportError`), the login (`AuthError`)
//! and Salesforce's own error bodies, and hands on [`SalesforceError`]: one line for the user,
//! the cause kept as `source()` for `--verbose`, and a kind that `lib.rs` maps to one exit code
//! (3 for Salesforce and the network, 4 for data that cannot be trusted).

use serde::Deserialize;

use crate::auth::AuthError;
use crate::http::TransportError;

#[derive(Debug, thiserror::Error)]
pub enum SalesforceError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("{what}: {source}")]
    Transport {
        what: String,
        #[source]
        source: TransportError,
    },
    #[error(
        "{what}: gave up after {attempts} attempts; the last: {last}. Salesforce may be down or in maintenance: try again later (--retries, --timeout-secs)"
    )]
    GaveUp {
        what: String,
        attempts: u32,
        #[source]
        last: Transient,
    },
    #[error("{what}: Salesforce answered HTTP {status} {}: {}", .failure.code, .failure.message)]
    Api { what: String, status: u16, failure: ApiFailure },
    #[error(
        "{what}: the org's daily API request limit is used up (HTTP 403 REQUEST_LIMIT_EXCEEDED: {message}); stopped at once rather than retry against a shared quota. Run again when the rolling 24-hour limit allows"
    )]
    RequestLimit { what: String, message: String },
    #[error(
        "not starting: the org has {remaining} of {max} daily API requests left, this run needs about {needed}, and it must leave at least {floor} (--min-api-remaining {setting}). Run later, or lower --min-api-remaining"
    )]
    QuotaTooLow { remaining: u64, max: u64, needed: u64, floor: u64, setting: String },
    #[error(
        "{what}: the session was rejected (HTTP 401 INVALID_SESSION_ID){}",
        if *renewable { " again right after logging in anew; check the integration user's session settings and IP restrictions" } else { "; the access token is expired or revoked: get a new one (e.g. `sf org display`)" }
    )]
    SessionRejected { what: String, renewable: bool },
    #[error(
        "{what}: redirected (HTTP {status}) to {location}; the REST API does not redirect, so this is not the org's API: is --instance-url (or --login-url) the org's My Domain URL, https://<mydomain>.my.salesforce.com?"
    )]
    Redirected { what: String, status: u16, location: String },
    #[error(
        "{what}: the answer is not a Salesforce API response (HTTP {status}, {}): a captive portal, a proxy's page or a wrong --instance-url? Check the URL and the network path",
        if media_type.is_empty() { "no content type" } else { media_type }
    )]
    NotApi { what: String, status: u16, media_type: String },
    #[error("{what}: the answer arrived whole but is not valid JSON ({source}{}); no snapshot was written", near_record.as_ref().map(|id| format!(", in or after record {id}")).unwrap_or_default())]
    MalformedJson {
        what: String,
        near_record: Option<String>,
        #[source]
        source: serde_json::Error,
    },
    #[error("{what}: Salesforce's answer is not what the REST API returns: {detail}")]
    BadResponse { what: String, detail: String },
    #[error("{object}: the query result is inconsistent: {detail}; no snapshot was written")]
    Inconsistent { object: String, detail: String },
    #[error(
        "{object}: Salesforce announced {expected} rows (totalSize) but {received} arrived; the pull is incomplete and no snapshot was written"
    )]
    Incomplete { object: String, expected: u64, received: u64 },
    #[error(
        "the run passed its time limit of {secs} s (--max-run-secs) while waiting for Salesforce; stopped, and nothing was written"
    )]
    Deadline { secs: u64 },
    #[error(
        "{what}: the integration user cannot use the Bulk API (HTTP {status} {}: {}); give it the API Enabled permission and Bulk API access, or pull with --api rest",
        .failure.code, .failure.message
    )]
    BulkNotAllowed { what: String, status: u16, failure: ApiFailure },
    #[error(
        "{what}: Bulk API job {job} failed {attempts} times; the last: {message}. Try again later, or pull with --api rest"
    )]
    BulkJobFailed { what: String, job: String, attempts: u32, message: String },
    #[error(
        "{what}: Bulk API job {job} was aborted (by someone in Setup, or by Salesforce); nothing was written. Run again, or pull with --api rest"
    )]
    BulkJobAborted { what: String, job: String },
}

impl SalesforceError {
    /// Salesforce's `errorCode`, when it sent one.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            SalesforceError::Api { failure, .. } => Some(&failure.code),
            SalesforceError::RequestLimit { .. } => Some("REQUEST_LIMIT_EXCEEDED"),
            _ => None,
        }
    }

    /// Whether the data received so far cannot be trusted (exit 4), rather than Salesforce or
    /// the network having failed (exit 3).
    pub fn is_data_fault(&self) -> bool {
        matches!(
            self,
            SalesforceError::Incomplete { .. }
                | SalesforceError::Inconsistent { .. }
                | SalesforceError::BadResponse { .. }
                | SalesforceError::MalformedJson { .. }
        )
    }
}

/// A failure worth another try, kept as the last one when the tries run out.
#[derive(Debug, thiserror::Error)]
pub enum Transient {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("HTTP {status} {}: {}", .failure.code, .failure.message)]
    Status { status: u16, failure: ApiFailure },
    #[error("the answer stops mid-JSON ({source})")]
    CutJson {
        #[source]
        source: serde_json::Error,
    },
    #[error("the CSV answer is cut short: {detail}")]
    CutCsv { detail: String },
    #[error(transparent)]
    Login(Box<AuthError>),
}

/// Salesforce's error body, `[{"message", "errorCode"}]`, in parts; or what the body was instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    /// `errorCode`, `UNKNOWN` when the body had none, `(no error code)` when it was not JSON.
    pub code: String,
    /// `message` on one line (at most 400 characters), or what the body was instead.
    pub message: String,
}

#[derive(Deserialize)]
struct ApiErrorBody {
    message: Option<String>,
    #[serde(rename = "errorCode")]
    error_code: Option<String>,
}

impl ApiFailure {
    /// Reads an error body: Salesforce's array, a single object, or anything else (an HTML page
    /// from a proxy or the maintenance front end), named by its media type.
    pub fn from_body(media_type: &str, body: &[u8]) -> ApiFailure {
        let parsed = serde_json::from_slice::<Vec<ApiErrorBody>>(body)
            .ok()
            .and_then(|v| v.into_iter().next())
            .or_else(|| serde_json::from_slice::<ApiErrorBody>(body).ok());
        match parsed {
            Some(e) => ApiFailure {
                code: e.error_code.unwrap_or_else(|| "UNKNOWN".into()),
                message: e.message.map(|m| one_line(&m)).unwrap_or_default(),
            },
            None => ApiFailure {
                code: "(no error code)".into(),
                message: format!(
                    "the body is not Salesforce's JSON error ({})",
                    if media_type.is_empty() { "no content type" } else { media_type }
                ),
            },
        }
    }
}

fn one_line(s: &str) -> String {
    let joined = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() > 400 {
        let cut: String = joined.chars().take(400).collect();
        format!("{cut}…")
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_arrays_single_objects_and_html_bodies() {
        let f = ApiFailure::from_body(
            "application/json",
            br#"[{"message":"No such column 'Foo' on entity 'User'.","errorCode":"INVALID_FIELD"}]"#,
        );
        assert_eq!(
            f,
            ApiFailure { code: "INVALID_FIELD".into(), message: "No such column 'Foo' on entity 'User'.".into() }
        );
        let f = ApiFailure::from_body("application/json", br#"{"message":"a\n  b","errorCode":"X"}"#);
        assert_eq!((f.code.as_str(), f.message.as_str()), ("X", "a b"));
        let f = ApiFailure::from_body("text/html", b"<html>maintenance</html>");
        assert_eq!(f.code, "(no error code)");
        assert_eq!(f.message, "the body is not Salesforce's JSON error (text/html)");
        let e = SalesforceError::Api { what: "query of User".into(), status: 503, failure: f };
        assert_eq!(
            e.to_string(),
            "query of User: Salesforce answered HTTP 503 (no error code): the body is not Salesforce's JSON error (text/html)"
        );
    }

    #[test]
    fn long_messages_are_cut() {
        let long = format!(r#"[{{"message":"{}","errorCode":"X"}}]"#, "a".repeat(500));
        let f = ApiFailure::from_body("application/json", long.as_bytes());
        assert_eq!(f.message.chars().count(), 401);
        assert!(f.message.ends_with('…'));
    }
}
