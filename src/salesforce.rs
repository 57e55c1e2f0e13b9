//! The Salesforce REST client: paged SOQL, `/limits`, errors, sessions.
//!
//! Takes a [`SalesforceConfig`] and hands on whole query results, one record at a
//! time, to a callback (the snapshot stage), so that a million assignments never
//! sit in memory twice. Paging follows `nextRecordsUrl` until `done`, never
//! OFFSET, and the rows counted must equal the `totalSize` of the first page.
//!
//! Every request is counted (the manifest reports what the run cost the org's
//! shared API quota) and the org's own count is read from `Sforce-Limit-Info`.
//! An expired session is renewed once through the configured flow.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::RwLock;
use url::Url;

use crate::auth::{AuthError, Credentials, Session};
use crate::config::{ApiFloor, ApiVersion, RetryPolicy, SalesforceConfig};

/// `Sforce-Limit-Info: api-usage=18/5000`: the org's daily API requests used and allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiUsage {
    pub used: u64,
    pub max: u64,
}

impl ApiUsage {
    /// Parses the header's `key=value; key=value` list, ignoring unknown keys.
    pub fn from_header(value: &str) -> Option<ApiUsage> {
        value.split(';').find_map(|part| {
            let (k, v) = part.trim().split_once('=')?;
            if k.trim() != "api-usage" {
                return None;
            }
            let (used, max) = v.trim().split_once('/')?;
            Some(ApiUsage { used: used.trim().parse().ok()?, max: max.trim().parse().ok()? })
        })
    }
}

/// One entry of `/limits`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
pub struct Limit {
    #[serde(rename = "Max")]
    pub max: i64,
    #[serde(rename = "Remaining")]
    pub remaining: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum SalesforceError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("{what}: cannot reach Salesforce: {message}")]
    Transport { what: String, message: String },
    #[error(
        "{what}: gave up after {attempts} attempts; the last: {last}. Salesforce may be down or in maintenance: try again later (--retries, --timeout-secs)"
    )]
    GaveUp { what: String, attempts: u32, last: String },
    #[error("{what}: Salesforce answered HTTP {status} {code}: {message}")]
    Api { what: String, status: u16, code: String, message: String },
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
    #[error("{what}: Salesforce's answer is not what the REST API returns: {detail}")]
    BadResponse { what: String, detail: String },
    #[error("{object}: the query result is inconsistent: {detail}; no snapshot was written")]
    Inconsistent { object: String, detail: String },
    #[error(
        "{object}: Salesforce announced {expected} rows (totalSize) but {received} arrived; the pull is incomplete and no snapshot was written"
    )]
    Incomplete { object: String, expected: u64, received: u64 },
}

impl SalesforceError {
    /// Salesforce's `errorCode`, when it sent one.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            SalesforceError::Api { code, .. } => Some(code),
            SalesforceError::RequestLimit { .. } => Some("REQUEST_LIMIT_EXCEEDED"),
            _ => None,
        }
    }
}

/// A reqwest error with its whole cause chain on one line (TLS causes hide deep in it).
pub fn describe_reqwest(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p: &String| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    let joined = parts.join(": ");
    if e.is_timeout() { format!("timed out ({joined})") } else { joined }
}

/// A certificate that does not verify is not going to verify on a retry.
pub fn is_certificate_failure(e: &reqwest::Error) -> bool {
    let text = describe_reqwest(e).to_ascii_lowercase();
    text.contains("certificate") || text.contains("unknownissuer") || text.contains("handshake")
}

/// The first page and every follow-up page share this shape.
#[derive(Deserialize)]
struct QueryPage {
    #[serde(rename = "totalSize")]
    total_size: u64,
    done: bool,
    #[serde(rename = "nextRecordsUrl")]
    next_records_url: Option<String>,
    records: Vec<Value>,
}

/// What a complete query cost and returned.
#[derive(Debug, Clone, Copy)]
pub struct QueryStats {
    pub total_size: u64,
    pub rows: u64,
    /// Pages received, restarts included.
    pub pages: u64,
    /// Times the query was started again after an invalid query locator.
    pub restarts: u32,
}

/// Where a query's records go. A restart throws away what the sink holds, so two
/// cursors are never stitched together.
pub trait RecordSink {
    type Error: From<SalesforceError>;
    fn record(&mut self, record: Map<String, Value>) -> Result<(), Self::Error>;
    fn restart(&mut self);
}

/// How many times one query may start over after INVALID_QUERY_LOCATOR.
const MAX_RESTARTS: u32 = 3;

struct SessionSlot {
    session: Session,
    generation: u64,
}

pub struct Client {
    http: reqwest::Client,
    credentials: Credentials,
    api_version: ApiVersion,
    batch_size: u32,
    retry: RetryPolicy,
    slot: RwLock<SessionSlot>,
    /// The newest session generation that some request succeeded with.
    proven_generation: AtomicU64,
    api_requests: AtomicU64,
    logins: AtomicU64,
    usage: Mutex<Option<ApiUsage>>,
}

/// Logins one run may make: sessions that expire over and over are a configuration problem.
const MAX_LOGINS: u64 = 20;

/// The HTTP client every stage shares: rustls, certificates always verified, extra CAs merged in.
pub fn http_client(config: &SalesforceConfig) -> Result<reqwest::Client, SalesforceError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("access-audit/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(15).min(config.retry.timeout))
        .timeout(config.retry.timeout)
        .redirect(reqwest::redirect::Policy::none());
    if let Some((path, pem)) = &config.ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| SalesforceError::Transport {
            what: format!("--ca-file {}", path.display()),
            message: describe_reqwest(&e),
        })?;
        builder = builder.tls_certs_merge(certs);
    }
    builder
        .build()
        .map_err(|e| SalesforceError::Transport { what: "HTTP client".into(), message: describe_reqwest(&e) })
}

/// One request's fate.
enum Outcome {
    Done(Value),
    Unauthorized,
    /// Worth another try: 5xx, a dropped connection, a timeout, a cut body.
    Transient(String),
    Fatal(SalesforceError),
}

impl Client {
    /// Logs in (retrying transient failures) and returns a client bound to the org.
    pub async fn connect(config: SalesforceConfig, http: reqwest::Client) -> Result<Client, SalesforceError> {
        let session = login_with_retry(&config.credentials, &http, &config.retry).await?;
        let logins = AtomicU64::new(u64::from(config.credentials.can_renew()));
        Ok(Client {
            http,
            credentials: config.credentials,
            api_version: config.api_version,
            batch_size: config.batch_size,
            retry: config.retry,
            slot: RwLock::new(SessionSlot { session, generation: 0 }),
            proven_generation: AtomicU64::new(0),
            api_requests: AtomicU64::new(0),
            logins,
            usage: Mutex::new(None),
        })
    }

    pub fn api_version(&self) -> &ApiVersion {
        &self.api_version
    }

    /// The org's Id as the login names it: the identity URL's `/id/<orgId>/<userId>`, or the
    /// access token's prefix (Salesforce tokens begin with the org Id and `!`).
    pub async fn org_id_hint(&self) -> Option<String> {
        let slot = self.slot.read().await;
        let from_identity = slot.session.identity_url.as_deref().and_then(|u| {
            let mut parts = u.trim_end_matches('/').rsplit('/');
            let _user = parts.next()?;
            parts.next().filter(|id| id.starts_with("00D")).map(str::to_string)
        });
        from_identity.or_else(|| {
            let token = slot.session.access_token.expose_secret();
            let (prefix, _) = token.split_once('!')?;
            (prefix.starts_with("00D")
                && (prefix.len() == 15 || prefix.len() == 18)
                && prefix.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| prefix.to_string())
        })
    }

    pub async fn instance_url(&self) -> Url {
        self.slot.read().await.session.instance_url.clone()
    }

    /// REST requests sent to the org so far (they count against its daily API allocation).
    pub fn api_requests(&self) -> u64 {
        self.api_requests.load(Ordering::Relaxed)
    }

    /// OAuth token requests that succeeded so far (they do not count against the API allocation).
    pub fn logins(&self) -> u64 {
        self.logins.load(Ordering::Relaxed)
    }

    /// The org's API usage from the newest `Sforce-Limit-Info` header seen.
    pub fn last_usage(&self) -> Option<ApiUsage> {
        *self.usage.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn data_url(&self, instance: &Url, rest: &str) -> Url {
        let mut url = instance.clone();
        url.set_path(&format!("/services/data/v{}/{rest}", self.api_version));
        url
    }

    /// One GET, classified.
    async fn send_once(&self, what: &str, url: Url, token: &SecretString, query_options: bool) -> Outcome {
        let mut request = self.http.get(url.clone()).bearer_auth(token.expose_secret());
        if query_options {
            request = request.header("Sforce-Query-Options", format!("batchSize={}", self.batch_size));
        }
        tracing::debug!(what, path = url.path(), "GET");
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) if is_certificate_failure(&e) => {
                return Outcome::Fatal(SalesforceError::Transport {
                    what: what.to_string(),
                    message: format!(
                        "{} (TLS certificates are always verified; behind a TLS-inspecting proxy, give its CA with --ca-file)",
                        describe_reqwest(&e)
                    ),
                });
            }
            Err(e) => return Outcome::Transient(describe_reqwest(&e)),
        };
        self.api_requests.fetch_add(1, Ordering::Relaxed);
        if let Some(usage) =
            response.headers().get("sforce-limit-info").and_then(|v| v.to_str().ok()).and_then(ApiUsage::from_header)
        {
            *self.usage.lock().unwrap_or_else(|p| p.into_inner()) = Some(usage);
        }
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) => {
                return Outcome::Transient(format!(
                    "the connection broke while reading the answer: {}",
                    describe_reqwest(&e)
                ));
            }
        };
        if status == StatusCode::UNAUTHORIZED {
            return Outcome::Unauthorized;
        }
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            let SalesforceError::Api { code, message, .. } = api_error(what, status, &content_type, &body) else {
                unreachable!("api_error builds Api")
            };
            return Outcome::Transient(format!("HTTP {} {code}: {message}", status.as_u16()));
        }
        if !status.is_success() {
            return Outcome::Fatal(match api_error(what, status, &content_type, &body) {
                SalesforceError::Api { code, message, .. } if code == "REQUEST_LIMIT_EXCEEDED" => {
                    SalesforceError::RequestLimit { what: what.to_string(), message }
                }
                other => other,
            });
        }
        match serde_json::from_slice(&body) {
            Ok(v) => Outcome::Done(v),
            // A 200 whose JSON is cut short: the connection was cut, the data is fine on the server.
            Err(e) => Outcome::Transient(format!("the answer is not complete JSON ({e})")),
        }
    }

    /// GET a REST resource as JSON: transient failures are retried with backoff, a
    /// rejected session is renewed once, everything else fails at once.
    async fn get_json(
        &self,
        what: &str,
        build: impl Fn(&Url) -> Url,
        query_options: bool,
    ) -> Result<Value, SalesforceError> {
        let mut renewed = false;
        let mut attempt: u32 = 0;
        loop {
            let (url, token, generation) = {
                let slot = self.slot.read().await;
                (build(&slot.session.instance_url), slot.session.access_token.clone(), slot.generation)
            };
            match self.send_once(what, url, &token, query_options).await {
                Outcome::Done(v) => {
                    self.proven_generation.fetch_max(generation, Ordering::Relaxed);
                    return Ok(v);
                }
                Outcome::Fatal(e) => return Err(e),
                Outcome::Unauthorized => {
                    // Renew once; renew again only if the new session had worked for some request
                    // (it expired since) - a session rejected as soon as it is issued is fatal.
                    let mut fresh_and_rejected = renewed && self.proven_generation.load(Ordering::Relaxed) < generation;
                    if fresh_and_rejected {
                        // Requests that succeeded with this session may still be reading their answers.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        fresh_and_rejected = self.proven_generation.load(Ordering::Relaxed) < generation;
                    }
                    if !self.credentials.can_renew() || fresh_and_rejected || self.logins() >= MAX_LOGINS {
                        return Err(SalesforceError::SessionRejected {
                            what: what.to_string(),
                            renewable: self.credentials.can_renew(),
                        });
                    }
                    self.renew(generation).await?;
                    renewed = true;
                }
                Outcome::Transient(reason) => {
                    attempt += 1;
                    if attempt > self.retry.retries {
                        return Err(SalesforceError::GaveUp {
                            what: what.to_string(),
                            attempts: attempt,
                            last: reason,
                        });
                    }
                    let pause = self.retry.delay(attempt);
                    tracing::warn!(
                        "{what}: {reason}; retry {attempt} of {} in {:.1} s",
                        self.retry.retries,
                        pause.as_secs_f64()
                    );
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    /// Logs in again, once for all the requests that saw the same rejected session.
    async fn renew(&self, seen_generation: u64) -> Result<(), SalesforceError> {
        let mut slot = self.slot.write().await;
        if slot.generation == seen_generation {
            tracing::info!("the session expired; logging in again");
            let session = login_with_retry(&self.credentials, &self.http, &self.retry).await?;
            self.logins.fetch_add(1, Ordering::Relaxed);
            slot.session = session;
            slot.generation += 1;
        }
        Ok(())
    }

    /// `GET /limits`.
    pub async fn limits(&self) -> Result<Map<String, Value>, SalesforceError> {
        let value = self.get_json("limits", |base| self.data_url(base, "limits"), false).await?;
        match value {
            Value::Object(map) => Ok(map),
            _ => Err(SalesforceError::BadResponse { what: "limits".into(), detail: "not a JSON object".into() }),
        }
    }

    /// Reads `DailyApiRequests` from `/limits` and refuses to go on when the run, needing about
    /// `needed` requests, would leave the org fewer than `floor`. Returns the limit read.
    pub async fn check_quota(&self, floor: ApiFloor, needed: u64) -> Result<Option<Limit>, SalesforceError> {
        if floor.is_off() {
            return Ok(None);
        }
        let limits = match self.limits().await {
            Ok(l) => l,
            Err(SalesforceError::Api { status: 404, .. }) => {
                tracing::warn!("this org offers no /limits resource: the API quota cannot be checked before the pull");
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let Some(daily) = limits.get("DailyApiRequests").cloned().and_then(|v| serde_json::from_value::<Limit>(v).ok())
        else {
            tracing::warn!(
                "/limits has no DailyApiRequests {{Max, Remaining}}: the API quota cannot be checked before the pull"
            );
            return Ok(None);
        };
        let (max, remaining) = (daily.max.max(0) as u64, daily.remaining.max(0) as u64);
        let floor_requests = floor.requests(max);
        tracing::info!("the org has {remaining} of {max} daily API requests left; this run needs about {needed}");
        if remaining < floor_requests.saturating_add(needed) {
            return Err(SalesforceError::QuotaTooLow {
                remaining,
                max,
                needed,
                floor: floor_requests,
                setting: floor.to_string(),
            });
        }
        Ok(Some(daily))
    }

    /// Runs `soql` to the end, handing each record (without `attributes`) to `sink`.
    ///
    /// Fails when the rows that arrived differ from the `totalSize` of the first page, or when a
    /// page announces another `totalSize`. An invalid query locator restarts the query from the
    /// beginning (the sink is told to drop what it has), at most three times.
    pub async fn query_all<S: RecordSink>(
        &self,
        object: &str,
        soql: &str,
        sink: &mut S,
    ) -> Result<QueryStats, S::Error> {
        let mut restarts = 0;
        let mut pages_before = 0;
        loop {
            match self.query_once(object, soql, sink).await {
                Ok(mut stats) => {
                    stats.pages += pages_before;
                    stats.restarts = restarts;
                    return Ok(stats);
                }
                Err(QueryFailure::LocatorLost { pages, message }) if restarts < MAX_RESTARTS => {
                    restarts += 1;
                    pages_before += pages;
                    tracing::warn!(
                        "{object}: Salesforce no longer knows the query's cursor (INVALID_QUERY_LOCATOR: {message}); starting the query again ({restarts} of {MAX_RESTARTS})"
                    );
                    sink.restart();
                }
                Err(QueryFailure::LocatorLost { message, .. }) => {
                    return Err(SalesforceError::Api {
                        what: format!("query of {object}"),
                        status: 400,
                        code: "INVALID_QUERY_LOCATOR".into(),
                        message: format!("{message} (the cursor was lost {} times; giving up)", MAX_RESTARTS + 1),
                    }
                    .into());
                }
                Err(QueryFailure::Other(e)) => return Err(e),
            }
        }
    }

    async fn query_once<S: RecordSink>(
        &self,
        object: &str,
        soql: &str,
        sink: &mut S,
    ) -> Result<QueryStats, QueryFailure<S::Error>> {
        let what = format!("query of {object}");
        let first = self
            .get_json(
                &what,
                |base| {
                    let mut url = self.data_url(base, "query");
                    url.query_pairs_mut().append_pair("q", soql);
                    url
                },
                true,
            )
            .await
            .map_err(QueryFailure::from_sf)?;
        let mut page = parse_page(&what, first).map_err(QueryFailure::from_sf)?;
        let expected = page.total_size;
        let mut rows: u64 = 0;
        let mut pages: u64 = 1;
        loop {
            for record in std::mem::take(&mut page.records) {
                rows += 1;
                sink.record(clean_record(&what, record).map_err(QueryFailure::from_sf)?)
                    .map_err(QueryFailure::Other)?;
            }
            if page.done {
                break;
            }
            let next = page.next_records_url.take().ok_or_else(|| {
                QueryFailure::from_sf(SalesforceError::BadResponse {
                    what: what.clone(),
                    detail: "a page says done: false but has no nextRecordsUrl".into(),
                })
            })?;
            // The locator is opaque, but it must stay on this org: never send the token elsewhere.
            let instance = self.instance_url().await;
            let next = match same_org_path(&instance, &next) {
                Some(path) => path,
                None => {
                    return Err(QueryFailure::from_sf(SalesforceError::BadResponse {
                        what: what.clone(),
                        detail: format!("nextRecordsUrl is not a path on this org: {next:?}"),
                    }));
                }
            };
            let value = self
                .get_json(
                    &what,
                    |base| {
                        let mut url = base.clone();
                        url.set_path(&next);
                        url
                    },
                    true,
                )
                .await;
            let value = match value {
                Err(SalesforceError::Api { code, message, .. }) if code == "INVALID_QUERY_LOCATOR" => {
                    return Err(QueryFailure::LocatorLost { pages, message });
                }
                other => other.map_err(QueryFailure::from_sf)?,
            };
            page = parse_page(&what, value).map_err(QueryFailure::from_sf)?;
            pages += 1;
            if page.total_size != expected {
                return Err(QueryFailure::from_sf(SalesforceError::Inconsistent {
                    object: object.to_string(),
                    detail: format!(
                        "page {pages} announces totalSize {} where the first page announced {expected}",
                        page.total_size
                    ),
                }));
            }
            tracing::debug!(object, pages, rows, "page received");
        }
        if rows != expected {
            return Err(QueryFailure::from_sf(SalesforceError::Incomplete {
                object: object.to_string(),
                expected,
                received: rows,
            }));
        }
        Ok(QueryStats { total_size: expected, rows, pages, restarts: 0 })
    }
}

/// The path of a `nextRecordsUrl`: a path under /services/data/ (as Salesforce sends it), or
/// an absolute URL on the instance's own origin (as some proxies and simulators do); else None.
fn same_org_path(instance: &Url, next: &str) -> Option<String> {
    let path = if next.starts_with('/') && !next.starts_with("//") {
        next.to_string()
    } else {
        let url = Url::parse(next).ok()?;
        if url.origin() != instance.origin() || url.query().is_some() {
            return None;
        }
        url.path().to_string()
    };
    (path.starts_with("/services/data/") && !path.contains('?') && !path.contains("://")).then_some(path)
}

enum QueryFailure<E> {
    LocatorLost { pages: u64, message: String },
    Other(E),
}

impl<E: From<SalesforceError>> QueryFailure<E> {
    fn from_sf(e: SalesforceError) -> Self {
        QueryFailure::Other(e.into())
    }
}

/// Logs in, retrying what is transient (the token endpoint unreachable, slow or failing with 5xx).
pub async fn login_with_retry(
    credentials: &Credentials,
    http: &reqwest::Client,
    retry: &RetryPolicy,
) -> Result<Session, SalesforceError> {
    let mut attempt = 0;
    loop {
        match credentials.login(http).await {
            Ok(s) => return Ok(s),
            Err(e) if e.is_transient() && attempt < retry.retries => {
                attempt += 1;
                let pause = retry.delay(attempt);
                tracing::warn!("{e}; retry {attempt} of {} in {:.1} s", retry.retries, pause.as_secs_f64());
                tokio::time::sleep(pause).await;
            }
            Err(e) if e.is_transient() => {
                return Err(SalesforceError::GaveUp {
                    what: "login".into(),
                    attempts: attempt + 1,
                    last: e.to_string(),
                });
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn parse_page(what: &str, value: Value) -> Result<QueryPage, SalesforceError> {
    serde_json::from_value(value).map_err(|e| SalesforceError::BadResponse {
        what: what.to_string(),
        detail: format!("not a query result page ({e})"),
    })
}

/// Drops `attributes` (metadata, not data) at every level; the record must be an object.
fn clean_record(what: &str, record: Value) -> Result<Map<String, Value>, SalesforceError> {
    fn strip(map: &mut Map<String, Value>) {
        map.shift_remove("attributes");
        for v in map.values_mut() {
            if let Value::Object(inner) = v {
                strip(inner);
            }
        }
    }
    match record {
        Value::Object(mut map) => {
            strip(&mut map);
            Ok(map)
        }
        other => Err(SalesforceError::BadResponse {
            what: what.to_string(),
            detail: format!("a record is not a JSON object but {}", json_kind(&other)),
        }),
    }
}

pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[derive(Deserialize)]
struct ApiErrorBody {
    message: Option<String>,
    #[serde(rename = "errorCode")]
    error_code: Option<String>,
}

fn api_error(what: &str, status: StatusCode, content_type: &str, body: &[u8]) -> SalesforceError {
    let parsed = serde_json::from_slice::<Vec<ApiErrorBody>>(body)
        .ok()
        .and_then(|v| v.into_iter().next())
        .or_else(|| serde_json::from_slice::<ApiErrorBody>(body).ok());
    let (code, message) = match parsed {
        Some(e) => {
            (e.error_code.unwrap_or_else(|| "UNKNOWN".into()), e.message.map(|m| one_line(&m)).unwrap_or_default())
        }
        None => (
            "(no error code)".into(),
            format!(
                "the body is not Salesforce's JSON error ({})",
                if content_type.is_empty() { "no content type" } else { content_type }
            ),
        ),
    };
    SalesforceError::Api { what: what.to_string(), status: status.as_u16(), code, message }
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
    fn next_records_urls_stay_on_the_org() {
        let instance = Url::parse("https://acme.my.salesforce.com").unwrap();
        let ok = "/services/data/v62.0/query/01gXX-2000";
        assert_eq!(same_org_path(&instance, ok).as_deref(), Some(ok));
        assert_eq!(
            same_org_path(&instance, "https://acme.my.salesforce.com/services/data/v62.0/query/01gXX-2000").as_deref(),
            Some(ok)
        );
        for bad in [
            "https://evil.example/services/data/v62.0/query/x",
            "http://acme.my.salesforce.com/services/data/v62.0/query/x",
            "/services/data/v62.0/query/x?y=1",
            "/other/path",
            "//evil.example/services/data/x",
        ] {
            assert_eq!(same_org_path(&instance, bad), None, "{bad}");
        }
    }

    #[test]
    fn limit_info_header() {
        assert_eq!(ApiUsage::from_header("api-usage=18/5000"), Some(ApiUsage { used: 18, max: 5000 }));
        assert_eq!(
            ApiUsage::from_header("api-bursts=1/750; api-usage=25/15000; per-app-api-usage=2/100(appName=x)"),
            Some(ApiUsage { used: 25, max: 15000 })
        );
        assert_eq!(ApiUsage::from_header("api-bursts=1/750"), None);
        assert_eq!(ApiUsage::from_header("api-usage=x/1"), None);
    }

    #[test]
    fn error_arrays_and_html_bodies() {
        let e = api_error(
            "query of User",
            StatusCode::BAD_REQUEST,
            "application/json",
            br#"[{"message":"No such column 'Foo' on entity 'User'.","errorCode":"INVALID_FIELD"}]"#,
        );
        assert_eq!(e.error_code(), Some("INVALID_FIELD"));
        assert!(e.to_string().contains("No such column 'Foo'"));
        let e = api_error("query of User", StatusCode::SERVICE_UNAVAILABLE, "text/html", b"<html>maintenance</html>");
        assert!(e.to_string().contains("503"), "{e}");
        assert!(e.to_string().contains("text/html"), "{e}");
    }

    #[test]
    fn attributes_are_dropped_at_every_level() {
        let v: Value = serde_json::from_str(
            r#"{"attributes":{"type":"User"},"Id":"005","Profile":{"attributes":{"type":"Profile"},"Name":"P","UserLicense":{"attributes":{},"Name":"S"}},"UserRole":null}"#,
        )
        .unwrap();
        let m = clean_record("q", v).unwrap();
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"Id":"005","Profile":{"Name":"P","UserLicense":{"Name":"S"}},"UserRole":null}"#
        );
        assert!(clean_record("q", Value::Null).is_err());
    }
}
