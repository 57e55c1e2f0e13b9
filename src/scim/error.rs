//! What can go wrong reading an application over SCIM 2.0, each kind keeping its cause.
//!
//! Takes the failures of the HTTP layer (`http::TransportError`), of the token endpoint, and the
//! service provider's own error bodies (RFC 7644 §3.12: `status`, `scimType`, `detail`), and
//! hands on [`ScimError`]: one line for the user that starts with the application's name, the
//! cause kept as `source()`, and a kind that `lib.rs` maps to one exit code (2 for a refusal that
//! configuration must fix, 3 for the application or the network, 4 for data that cannot be
//! trusted). No message ever holds a token, a secret or a request body.

use crate::config::apps::Dialect;
use crate::http::TransportError;
use crate::salesforce::SalesforceError;

#[derive(Debug, thiserror::Error)]
pub enum ScimError {
    #[error("app {app}: the token request to {url} failed: {source}")]
    TokenTransport {
        app: String,
        url: String,
        #[source]
        source: TransportError,
    },
    #[error(
        "app {app}: the token endpoint {url} refused the client credentials: {error}{}. Check client_id and the secret (an API connection's client id and secret), and that the connection is enabled",
        if description.is_empty() { String::new() } else { format!(" ({description})") }
    )]
    TokenRefused { app: String, url: String, error: String, description: String },
    #[error(
        "app {app}: the token endpoint {url} answered HTTP {status} without an OAuth 2.0 token response; is token_url the application's token endpoint?"
    )]
    TokenUnexpected { app: String, url: String, status: u16 },
    #[error("app {app}: {what}: {source}")]
    Transport {
        app: String,
        what: String,
        #[source]
        source: TransportError,
    },
    #[error(
        "app {app}: {what}: gave up after {attempts} attempts; the last: {last}. The application may be down or limiting requests: try again later (--retries, --timeout-secs)"
    )]
    GaveUp {
        app: String,
        what: String,
        attempts: u32,
        #[source]
        last: Transient,
    },
    #[error("app {app}: {what}: HTTP {status}{}: {detail}", scim_type.as_ref().map(|t| format!(" {t}")).unwrap_or_default())]
    Scim { app: String, what: String, status: u16, scim_type: Option<String>, detail: String },
    #[error("app {app}: {what}: refused (HTTP 403{}): {detail}. {}", scim_type.as_ref().map(|t| format!(" {t}")).unwrap_or_default(), forbidden_advice(*dialect))]
    Forbidden { app: String, what: String, dialect: Dialect, scim_type: Option<String>, detail: String },
    #[error(
        "app {app}: {what}: the token was rejected (HTTP 401){}",
        if *renewable { " again right after a new one was issued; check that the API connection may read users and groups" } else { "; the bearer token is expired or revoked: get a new one" }
    )]
    Unauthorized { app: String, what: String, renewable: bool },
    #[error(
        "app {app}: {what}: redirected (HTTP {status}) to {location}; a SCIM service provider does not redirect: is base_url the SCIM base (e.g. https://host/scim/v2)?"
    )]
    Redirected { app: String, what: String, status: u16, location: String },
    #[error(
        "app {app}: {what}: the answer is not SCIM (HTTP {status}, {}): a proxy's page or a wrong base_url? Check the URL and the network path",
        if media_type.is_empty() { "no content type" } else { media_type }
    )]
    NotScim { app: String, what: String, status: u16, media_type: String },
    #[error("app {app}: {what}: the answer arrived whole but is not valid JSON ({source}); no snapshot was written")]
    MalformedJson {
        app: String,
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("app {app}: {what}: the answer is not what SCIM 2.0 returns: {detail}; no snapshot was written")]
    BadResponse { app: String, what: String, detail: String },
    #[error(
        "app {app}: {resource}: the service provider announced {expected} resources (totalResults) but {received} arrived; the pull is incomplete and no snapshot was written"
    )]
    Incomplete { app: String, resource: String, expected: u64, received: u64 },
    #[error("app {app}: {resource}: the listing is inconsistent: {detail}; no snapshot was written")]
    Inconsistent { app: String, resource: String, detail: String },
    #[error("app {app}: {source}")]
    Salesforce {
        app: String,
        #[source]
        source: SalesforceError,
    },
}

/// What a 403 most likely means, by dialect.
fn forbidden_advice(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Stensul => {
            "Stensul answers 403 to a caller whose egress IP address is not on the API connection's allowlist: \
             add this machine's public address to the allowlist in Stensul (a configuration error, not an outage)"
        }
        Dialect::Salesforce => {
            "The integration user needs the Manage Users permission to read users over SCIM, and the token the \
             scope api or full"
        }
        Dialect::Generic => {
            "The token may not read users and groups, or the service provider does not accept this machine's \
             address: a configuration matter on the application's side"
        }
    }
}

impl ScimError {
    /// Whether the data received cannot be trusted (exit 4), rather than the application or the
    /// network having failed (exit 3).
    pub fn is_data_fault(&self) -> bool {
        match self {
            ScimError::Incomplete { .. }
            | ScimError::Inconsistent { .. }
            | ScimError::BadResponse { .. }
            | ScimError::MalformedJson { .. } => true,
            ScimError::Salesforce { source, .. } => source.is_data_fault(),
            _ => false,
        }
    }

    /// Whether configuration must change before a run can succeed (exit 2): the application
    /// refuses this caller (an allowlist, a missing permission).
    pub fn is_configuration(&self) -> bool {
        matches!(self, ScimError::Forbidden { .. })
    }
}

/// A failure worth another try, kept as the last one when the tries run out.
#[derive(Debug, thiserror::Error)]
pub enum Transient {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("HTTP {status}{}", if detail.is_empty() { String::new() } else { format!(": {detail}") })]
    Status { status: u16, detail: String },
    #[error("the answer stops mid-JSON ({source})")]
    CutJson {
        #[source]
        source: serde_json::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line_and_say_what_to_do() {
        let e = ScimError::Forbidden {
            app: "stensul".into(),
            what: "GET /scim/v2/Users".into(),
            dialect: Dialect::Stensul,
            scim_type: None,
            detail: "IP address not allowed".into(),
        };
        let text = e.to_string();
        assert!(
            text.starts_with("app stensul: GET /scim/v2/Users: refused (HTTP 403): IP address not allowed."),
            "{text}"
        );
        assert!(text.contains("allowlist"), "{text}");
        assert!(!text.contains('\n'));
        assert!(e.is_configuration() && !e.is_data_fault());
        let e = ScimError::Scim {
            app: "crm".into(),
            what: "GET /Users".into(),
            status: 400,
            scim_type: Some("invalidFilter".into()),
            detail: "bad".into(),
        };
        assert_eq!(e.to_string(), "app crm: GET /Users: HTTP 400 invalidFilter: bad");
        let e = ScimError::Incomplete { app: "crm".into(), resource: "Users".into(), expected: 5, received: 4 };
        assert!(e.is_data_fault());
    }
}
