//! The HTTP layer every client shares: the Salesforce REST client, and the SCIM client of
//! other applications (the Bulk client too, when it comes).
//!
//! Takes [`HttpSettings`] (timeouts, extra trusted CAs) and hands on a `reqwest::Client`
//! (rustls, certificates always verified, no redirects followed: a redirect is reported,
//! never followed with a token), [`read_body`] (an answer read whole, up to a cap each
//! client chooses for itself), and [`TransportError`]: why a request failed before a whole
//! answer arrived, decided from the error's *kind* (reqwest's own flags, and a rustls error
//! found by walking the cause chain), never from its message. A kind says whether trying
//! again can help: a dropped connection or a timeout can, an unknown host name or a
//! certificate that does not verify cannot. The retry policy lives here too
//! ([`RetryPolicy`]: capped exponential backoff with jitter, and a server's own
//! `Retry-After` when it sends one, [`retry_after`]), so that every client retries alike.
//!
//! It knows nothing of Salesforce, configuration or flags beyond the names in its messages.

use std::error::Error as StdError;
use std::path::PathBuf;
use std::time::Duration;

/// How every HTTP client of a run connects.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Time limit of one request, from sending it to the last byte of its answer.
    pub timeout: Duration,
    /// Extra trusted CA certificates (PEM) and the file they came from.
    pub ca_pem: Option<(PathBuf, Vec<u8>)>,
}

/// The HTTP client could not be built (the CA file did not load).
#[derive(Debug, thiserror::Error)]
#[error("{what}: {}", describe(.source))]
pub struct HttpSetupError {
    what: String,
    #[source]
    source: reqwest::Error,
}

/// The client every stage shares: rustls, certificates always verified, extra CAs merged in,
/// redirects not followed (a token is never sent where Salesforce did not say).
pub fn client(settings: &HttpSettings) -> Result<reqwest::Client, HttpSetupError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("access-audit/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(15).min(settings.timeout))
        .timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::none());
    if let Some((path, pem)) = &settings.ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|source| HttpSetupError { what: format!("--ca-file {}", path.display()), source })?;
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(|source| HttpSetupError { what: "HTTP client".into(), source })
}

/// How transient failures are retried: capped exponential backoff with full jitter.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub retries: u32,
    pub first_delay: std::time::Duration,
    pub max_delay: std::time::Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 4,
            first_delay: std::time::Duration::from_millis(500),
            max_delay: std::time::Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The pause before retry number `attempt` (1-based): a random time up to min(max, first × 2^(attempt−1)).
    pub fn delay(&self, attempt: u32) -> std::time::Duration {
        let exp = self.first_delay.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let cap = exp.min(self.max_delay);
        let millis = cap.as_millis() as u64;
        std::time::Duration::from_millis(if millis == 0 { 0 } else { rand::random_range(millis / 2..=millis) })
    }
}

/// The longest `Retry-After` a client waits for: a server asking for more is treated as failing
/// (its pause would outlast most runs' patience); [`RetryPolicy::pause`] caps it here.
pub const MAX_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(300);

impl RetryPolicy {
    /// The pause before retry number `attempt`: the server's `Retry-After` when it sent one
    /// (at most [`MAX_RETRY_AFTER`]), else the policy's own backoff.
    pub fn pause(&self, attempt: u32, retry_after: Option<std::time::Duration>) -> std::time::Duration {
        match retry_after {
            Some(wait) => wait.min(MAX_RETRY_AFTER),
            None => self.delay(attempt),
        }
    }
}

/// The pause an answer asks for in `Retry-After` (RFC 9110 §10.2.3): a number of seconds, or an
/// HTTP date (then the time from `now` until it, zero when it has passed). `None` when the header
/// is absent or is neither form.
pub fn retry_after(response: &reqwest::Response, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, now)
}

fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?.to_utc();
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// The most bytes one answer may have: each client sets its own (a REST page is small, a
/// Bulk result chunk is large), and names the setting that raises it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit {
    pub bytes: u64,
    /// The flag that sets it, for the message, e.g. `--max-body-mb`.
    pub setting: &'static str,
}

impl BodyLimit {
    pub const MIB: u64 = 1 << 20;
}

/// Why a request failed before a whole answer arrived.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot resolve host {host}: check --instance-url / --login-url")]
    UnresolvedHost {
        host: String,
        #[source]
        source: reqwest::Error,
    },
    #[error(
        "{} (TLS certificates are always verified; behind a TLS-inspecting proxy, give its CA with --ca-file)",
        describe(.source)
    )]
    Tls {
        #[source]
        source: reqwest::Error,
    },
    #[error("timed out ({})", describe(.source))]
    Timeout {
        #[source]
        source: reqwest::Error,
    },
    #[error("{}", describe(.source))]
    Connection {
        #[source]
        source: reqwest::Error,
    },
    #[error("the connection broke while reading the answer: {}", describe(.source))]
    BodyCut {
        #[source]
        source: reqwest::Error,
    },
    #[error(
        "the answer of {path} is larger than {} MB ({}); stopped reading it",
        .limit.bytes / BodyLimit::MIB, .limit.setting
    )]
    BodyTooLarge { path: String, limit: BodyLimit },
    #[error("{}", describe(.source))]
    Other {
        #[source]
        source: reqwest::Error,
    },
}

impl TransportError {
    /// Sorts a reqwest error by its kind.
    pub fn from_reqwest(source: reqwest::Error) -> TransportError {
        if source.is_dns() {
            let host = source.url().and_then(|u| u.host_str()).unwrap_or("(unknown)").to_string();
            return TransportError::UnresolvedHost { host, source };
        }
        if causes(&source).any(|e| e.is::<rustls::Error>()) {
            return TransportError::Tls { source };
        }
        if source.is_timeout() {
            TransportError::Timeout { source }
        } else if source.is_body() || source.is_decode() {
            TransportError::BodyCut { source }
        } else if source.is_connect() || source.is_request() {
            TransportError::Connection { source }
        } else {
            TransportError::Other { source }
        }
    }

    /// Worth another try: a timeout, a refused or dropped connection, a body cut short. A host
    /// name that does not resolve, a certificate that does not verify, or an answer over the cap
    /// will be the same on the next try.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            TransportError::Timeout { .. } | TransportError::Connection { .. } | TransportError::BodyCut { .. }
        )
    }
}

/// Every error in `e`'s cause chain, `e` first. An `io::Error` that wraps another error (as
/// rustls's errors travel through tokio) is looked into: its own `source()` skips the wrapped
/// error and goes straight to that error's cause.
pub fn causes<'a>(e: &'a (dyn StdError + 'static)) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(e), |&err: &&'a (dyn StdError + 'static)| {
        match err.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => err.source(),
        }
    })
}

/// An error with its whole cause chain on one line (TLS causes hide deep in it), repeats left out.
pub fn describe(e: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in causes(e) {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

/// Reads a whole answer, at most `limit` bytes: a server that sends without end is cut off at
/// the cap (checked against Content-Length first, then as the bytes arrive). `path` names the
/// request in the message (the path only: never a query string or a token).
pub async fn read_body(
    mut response: reqwest::Response,
    limit: BodyLimit,
    path: &str,
) -> Result<Vec<u8>, TransportError> {
    let too_large = || TransportError::BodyTooLarge { path: path.to_string(), limit };
    if response.content_length().is_some_and(|n| n > limit.bytes) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(response.content_length().unwrap_or(0) as usize);
    while let Some(chunk) = response.chunk().await.map_err(TransportError::from_reqwest)? {
        if (body.len() + chunk.len()) as u64 > limit.bytes {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Where a redirect points, without its query string and fragment (they may be long or carry
/// someone's state), for messages. `None` when the answer is not a redirect with a Location.
pub fn redirect_target(response: &reqwest::Response) -> Option<String> {
    if !response.status().is_redirection() {
        return None;
    }
    let location = response.headers().get(reqwest::header::LOCATION)?.to_str().ok()?;
    let shown = match response.url().join(location) {
        Ok(mut url) => {
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        Err(_) => location.split(['?', '#']).next().unwrap_or("").to_string(),
    };
    Some(shown.chars().filter(|c| !c.is_control()).take(200).collect())
}

/// The media type of an answer (`text/html`), without parameters; empty when none was sent.
pub fn media_type(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_and_jittered() {
        let p = RetryPolicy { first_delay: std::time::Duration::from_millis(100), ..RetryPolicy::default() };
        for attempt in 1..=30 {
            let d = p.delay(attempt);
            let cap = std::time::Duration::from_millis(100 * (1u64 << (attempt - 1).min(16))).min(p.max_delay);
            assert!(d <= cap && d >= cap / 2, "{attempt}: {d:?}");
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn causes_look_inside_io_errors() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let e = Outer(std::io::Error::new(std::io::ErrorKind::InvalidData, tls));
        // io::Error::source() would skip the rustls error itself.
        assert!(causes(&e).any(|c| c.is::<rustls::Error>()));
        assert!(describe(&e).starts_with("outer: "), "{}", describe(&e));
        assert!(describe(&e).contains("UnknownIssuer"), "{}", describe(&e));
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-10-01T00:00:00Z").unwrap().to_utc();
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 120 ", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Thu, 01 Oct 2026 00:00:30 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("Wed, 30 Sep 2026 23:00:00 GMT", now), Some(Duration::ZERO), "passed");
        for bad in ["", "-1", "1.5", "soon"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad}");
        }
        let policy = RetryPolicy::default();
        assert_eq!(policy.pause(1, Some(Duration::from_secs(3))), Duration::from_secs(3));
        assert_eq!(policy.pause(1, Some(Duration::from_secs(86_400))), MAX_RETRY_AFTER);
        assert!(policy.pause(1, None) <= policy.first_delay);
    }

    #[test]
    fn the_cap_is_named_in_megabytes() {
        let e = TransportError::BodyTooLarge {
            path: "/services/data/v62.0/query".into(),
            limit: BodyLimit { bytes: 64 * BodyLimit::MIB, setting: "--max-body-mb" },
        };
        assert_eq!(
            e.to_string(),
            "the answer of /services/data/v62.0/query is larger than 64 MB (--max-body-mb); stopped reading it"
        );
        assert!(!e.is_transient());
    }
}
