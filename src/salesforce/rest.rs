//! The REST client: paged SOQL, `/limits`, sessions, retries.
//!
//! Takes a [`SalesforceConfig`] and a shared `reqwest::Client` (`http::client`) and hands
//! on whole query results, one record at a time, to a [`RecordSink`] (the snapshot stage),
//! so that a million assignments never sit in memory twice. Paging follows `nextRecordsUrl`
//! until `done`, never OFFSET, and the rows counted must equal the `totalSize` of the first
//! page.
//!
//! Every answer is read whole up to the REST page cap (`--max-body-mb`) and sorted by kind:
//! a dropped connection, a timeout, a 5xx or a body that stops mid-JSON is retried with
//! backoff; an expired session is renewed once through the configured flow; a redirect, a
//! page that is not the API's (a captive portal's HTML), JSON that is malformed although it
//! arrived whole, an unknown host or an untrusted certificate fail at once, each saying so.
//! Text that is not valid Unicode is repaired (see `body`) and the fields are handed on with
//! the record so that the snapshot can flag them.
//!
//! Every request is counted (the manifest reports what the run cost the org's shared API
//! quota) and the org's own count is read from `Sforce-Limit-Info`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use tokio::sync::RwLock;
use url::Url;

use super::body::{self, PageError, PageHead, Repairs, json_kind};
use super::error::{ApiFailure, SalesforceError, Transient};
use super::limits::{ApiUsage, Limit};
use super::tally::Tally;
use crate::auth::{Credentials, Session};
use crate::config::{ApiFloor, ApiVersion, RetryPolicy, SalesforceConfig};
use crate::http::{self, BodyLimit, TransportError};

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

/// A text field of a record whose invalid Unicode was replaced with U+FFFD on the way in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplacedText {
    /// Dotted path, e.g. `Name` or `Profile.Name`.
    pub field: String,
    /// What was replaced.
    pub detail: &'static str,
}

/// What a sink of records keeps when an answer breaks off or a query starts over.
///
/// An answer can break off after some of its records were handed on (a cut body is read again),
/// and a query can start over (a lost cursor, a Bulk job created again): the sink keeps what came
/// before the last [`Checkpoints::checkpoint`] and drops the rest on [`Checkpoints::rollback`], or
/// everything on [`Checkpoints::restart`], so that two reads of one answer, or two cursors, are
/// never stitched together.
pub trait Checkpoints {
    /// The records handed on so far came in answers that arrived whole: keep them.
    fn checkpoint(&mut self);
    /// Drop the records handed on since the last checkpoint: their answer broke off.
    fn rollback(&mut self);
    /// Drop every record: the query starts over.
    fn restart(&mut self);
}

/// Where a REST query's records go, one at a time.
pub trait RecordSink: Checkpoints {
    type Error: From<SalesforceError>;
    /// One record without `attributes`, and the text fields that were repaired in it.
    fn record(&mut self, record: Map<String, Value>, replaced: Vec<ReplacedText>) -> Result<(), Self::Error>;
}

/// How many times one query may start over after INVALID_QUERY_LOCATOR.
const MAX_RESTARTS: u32 = 3;

struct SessionSlot {
    session: Session,
    generation: u64,
}

pub struct Client {
    http: reqwest::Client,
    /// The most bytes one REST answer may have.
    max_body: BodyLimit,
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

/// Why one request did not give an answer to use.
pub(super) enum Failure {
    Unauthorized,
    /// Worth another try: 5xx, a dropped connection, a timeout, a cut body.
    Transient(Transient),
    Fatal(SalesforceError),
}

impl Failure {
    pub(super) fn transport(what: &str, e: TransportError) -> Failure {
        if e.is_transient() {
            Failure::Transient(Transient::Transport(e))
        } else {
            Failure::Fatal(SalesforceError::Transport { what: what.to_string(), source: e })
        }
    }
}

/// Whether a media type says JSON (or says nothing).
fn is_json(media_type: &str) -> bool {
    media_type.is_empty() || media_type == "application/json" || media_type.ends_with("+json")
}

impl Client {
    /// Logs in (retrying transient failures) and returns a client bound to the org.
    pub async fn connect(config: SalesforceConfig, http: reqwest::Client) -> Result<Client, SalesforceError> {
        let session = login_with_retry(&config.credentials, &http, &config.retry).await?;
        let logins = AtomicU64::new(u64::from(config.credentials.can_renew()));
        Ok(Client {
            http,
            max_body: config.max_body,
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

    /// The most bytes one REST answer may have (`--max-body-mb`).
    pub(super) fn max_body(&self) -> BodyLimit {
        self.max_body
    }

    pub(super) fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The org's API usage from the newest `Sforce-Limit-Info` header seen.
    pub fn last_usage(&self) -> Option<ApiUsage> {
        *self.usage.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn data_url(&self, instance: &Url, rest: &str) -> Url {
        let mut url = instance.clone();
        url.set_path(&format!("/services/data/v{}/{rest}", self.api_version));
        url
    }

    /// Sends one request and sorts its answer: a success is handed back with its media type
    /// for the caller to read; anything else is a [`Failure`] of its kind.
    async fn send_once(
        &self,
        what: &str,
        request: reqwest::RequestBuilder,
        tally: Option<&Tally>,
    ) -> Result<(reqwest::Response, String), Failure> {
        let request = request.build().map_err(|e| Failure::transport(what, TransportError::from_reqwest(e)))?;
        tracing::debug!(what, path = request.url().path(), "{}", request.method());
        let response = match self.http.execute(request).await {
            Ok(r) => r,
            Err(e) => return Err(Failure::transport(what, TransportError::from_reqwest(e))),
        };
        self.api_requests.fetch_add(1, Ordering::Relaxed);
        if let Some(tally) = tally {
            tally.add_request();
        }
        if let Some(usage) =
            response.headers().get("sforce-limit-info").and_then(|v| v.to_str().ok()).and_then(ApiUsage::from_header)
        {
            *self.usage.lock().unwrap_or_else(|p| p.into_inner()) = Some(usage);
        }
        let status = response.status();
        if status.is_redirection() {
            return Err(Failure::Fatal(SalesforceError::Redirected {
                what: what.to_string(),
                status: status.as_u16(),
                location: http::redirect_target(&response).unwrap_or_else(|| "(no Location header)".into()),
            }));
        }
        let media_type = http::media_type(&response);
        if status.is_success() {
            return Ok((response, media_type));
        }
        let path = response.url().path().to_string();
        let body = http::read_body(response, self.max_body, &path).await.map_err(|e| Failure::transport(what, e))?;
        if status == StatusCode::UNAUTHORIZED {
            return Err(Failure::Unauthorized);
        }
        let failure = ApiFailure::from_body(&media_type, &body);
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(Failure::Transient(Transient::Status { status: status.as_u16(), failure }));
        }
        Err(Failure::Fatal(if failure.code == "REQUEST_LIMIT_EXCEEDED" {
            SalesforceError::RequestLimit { what: what.to_string(), message: failure.message }
        } else {
            SalesforceError::Api { what: what.to_string(), status: status.as_u16(), failure }
        }))
    }

    /// Sends a request built by `build` (from the HTTP client and the instance URL; the token is
    /// added here) and reads a successful answer with `read`: transient failures, of the request
    /// or of reading its answer, are retried with backoff; a rejected session is renewed once;
    /// everything else fails at once. Every client of the org's APIs sends through here.
    pub(super) async fn call<T>(
        &self,
        what: &str,
        tally: Option<&Tally>,
        build: impl Fn(&reqwest::Client, &Url) -> reqwest::RequestBuilder,
        mut read: impl AsyncFnMut(reqwest::Response, String) -> Result<T, Failure>,
    ) -> Result<T, SalesforceError> {
        let mut renewed = false;
        let mut attempt: u32 = 0;
        loop {
            let (request, generation) = {
                let slot = self.slot.read().await;
                let request = build(&self.http, &slot.session.instance_url)
                    .bearer_auth(slot.session.access_token.expose_secret());
                (request, slot.generation)
            };
            let result = match self.send_once(what, request, tally).await {
                Ok((response, media_type)) => read(response, media_type).await,
                Err(failure) => Err(failure),
            };
            match result {
                Ok(v) => {
                    self.proven_generation.fetch_max(generation, Ordering::Relaxed);
                    return Ok(v);
                }
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Unauthorized) => {
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
                Err(Failure::Transient(reason)) => {
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

    /// Reads a successful answer whole (up to the REST cap) and parses it as JSON.
    pub(super) async fn json_answer(
        &self,
        what: &str,
        response: reqwest::Response,
        media_type: &str,
    ) -> Result<(Value, Repairs), Failure> {
        let status = response.status().as_u16();
        let path = response.url().path().to_string();
        let body = http::read_body(response, self.max_body, &path).await.map_err(|e| Failure::transport(what, e))?;
        // The body arrived whole (its length was met): what does not parse now will not parse
        // on a second try, unless the JSON merely stops early (a server or proxy cut it short).
        body::decode_json(&body).map_err(|source| json_failure(what, status, media_type, &body, source))
    }

    /// GET a REST resource as JSON (see [`Client::call`]).
    pub(super) async fn get_json(
        &self,
        what: &str,
        tally: Option<&Tally>,
        url: impl Fn(&Url) -> Url,
        query_options: bool,
    ) -> Result<(Value, Repairs), SalesforceError> {
        self.call(
            what,
            tally,
            |http, base| {
                let request = http.get(url(base));
                if query_options {
                    request.header("Sforce-Query-Options", format!("batchSize={}", self.batch_size))
                } else {
                    request
                }
            },
            async |response, media_type| self.json_answer(what, response, &media_type).await,
        )
        .await
    }

    /// The current session's instance URL, access token and generation, for another API of the
    /// same org that shares its login (the org's SCIM endpoint, `/services/scim/v2`).
    pub async fn session(&self) -> (Url, SecretString, u64) {
        let slot = self.slot.read().await;
        (slot.session.instance_url.clone(), slot.session.access_token.clone(), slot.generation)
    }

    /// Tells the client that a request of another API of the org succeeded with the session of
    /// `generation`: the session worked, so a later rejection of it means it expired (and may be
    /// renewed), not that a fresh session is refused.
    pub fn session_worked(&self, generation: u64) {
        self.proven_generation.fetch_max(generation, Ordering::Relaxed);
    }

    /// Logs in again after another API of the org rejected the session of `generation` (once for
    /// every request that saw it). `false` when the session cannot be renewed: a given access
    /// token, or as many logins as one run may make.
    pub async fn renew_rejected(&self, generation: u64) -> Result<bool, SalesforceError> {
        if !self.credentials.can_renew() || self.logins() >= MAX_LOGINS {
            return Ok(false);
        }
        self.renew(generation).await?;
        Ok(true)
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
        let (value, _) = self.get_json("limits", None, |base| self.data_url(base, "limits"), false).await?;
        match value {
            Value::Object(map) => Ok(map),
            _ => Err(SalesforceError::BadResponse { what: "limits".into(), detail: "not a JSON object".into() }),
        }
    }

    /// `GET /sobjects`: the names of every object the running user sees in the org (one request).
    pub async fn sobjects(&self) -> Result<Vec<String>, SalesforceError> {
        let (value, _) = self.get_json("sobjects", None, |base| self.data_url(base, "sobjects"), false).await?;
        let list = value.get("sobjects").and_then(Value::as_array).ok_or_else(|| SalesforceError::BadResponse {
            what: "sobjects".into(),
            detail: "not a list of objects (no sobjects)".into(),
        })?;
        Ok(list.iter().filter_map(|o| o.get("name").and_then(Value::as_str)).map(str::to_string).collect())
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

    /// `SELECT COUNT() FROM …`: the rows a query would return, as its `totalSize`.
    pub async fn count(&self, object: &str, soql: &str, tally: &Tally) -> Result<u64, SalesforceError> {
        let what = format!("query of {object}");
        let (value, _) = self.get_json(&what, Some(tally), |base| self.query_url(base, soql), false).await?;
        value.get("totalSize").and_then(Value::as_u64).ok_or_else(|| SalesforceError::BadResponse {
            what,
            detail: "the answer to SELECT COUNT() has no totalSize".into(),
        })
    }

    /// The `Id` of the one record a `… ORDER BY Id … LIMIT 1` query returns; `None` when no record matches.
    pub async fn first_id(&self, object: &str, soql: &str, tally: &Tally) -> Result<Option<String>, SalesforceError> {
        let what = format!("query of {object}");
        let (value, _) = self.get_json(&what, Some(tally), |base| self.query_url(base, soql), false).await?;
        let records = value.get("records").and_then(Value::as_array).ok_or_else(|| SalesforceError::BadResponse {
            what: what.clone(),
            detail: "not a query result page (no records)".into(),
        })?;
        match records.first() {
            None => Ok(None),
            Some(record) => match record.get("Id").and_then(Value::as_str) {
                Some(id) => Ok(Some(id.to_string())),
                None => Err(SalesforceError::BadResponse { what, detail: "a record has no Id".into() }),
            },
        }
    }

    fn query_url(&self, base: &Url, soql: &str) -> Url {
        let mut url = self.data_url(base, "query");
        url.query_pairs_mut().append_pair("q", soql);
        url
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
        tally: &Tally,
        sink: &mut S,
    ) -> Result<QueryStats, S::Error> {
        let mut restarts = 0;
        let mut pages_before = 0;
        loop {
            match self.query_once(object, soql, tally, sink).await {
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
                        failure: ApiFailure {
                            code: "INVALID_QUERY_LOCATOR".into(),
                            message: format!("{message} (the cursor was lost {} times; giving up)", MAX_RESTARTS + 1),
                        },
                    }
                    .into());
                }
                Err(QueryFailure::Other(e)) => return Err(e),
            }
        }
    }

    /// One page, streamed into `sink` as it is parsed; rolled back when the answer breaks off.
    async fn page<S: RecordSink>(
        &self,
        what: &str,
        url: impl Fn(&Url) -> Url,
        tally: &Tally,
        sink: &mut S,
    ) -> Result<Result<PageHead, S::Error>, SalesforceError> {
        self.call(
            what,
            Some(tally),
            |http, base| http.get(url(base)).header("Sforce-Query-Options", format!("batchSize={}", self.batch_size)),
            async |response, media_type| {
                let status = response.status().as_u16();
                let path = response.url().path().to_string();
                let raw =
                    http::read_body(response, self.max_body, &path).await.map_err(|e| Failure::transport(what, e))?;
                let (bytes, repairs) = body::repair(&raw);
                let mut refused: Option<S::Error> = None;
                let mut hand_on = |record: Value| -> Result<(), ()> {
                    let result = clean_record(what, record).map_err(S::Error::from).and_then(|record| {
                        let replaced = if repairs.any() {
                            body::fields_with_replacement(&record)
                                .into_iter()
                                .map(|field| ReplacedText { field, detail: repairs.detail() })
                                .collect()
                        } else {
                            Vec::new()
                        };
                        sink.record(record, replaced)
                    });
                    result.map_err(|e| refused = Some(e))
                };
                let parsed = body::stream_page(&bytes, &mut hand_on);
                match parsed {
                    Ok(head) => {
                        tally.add_rows(head.records);
                        sink.checkpoint();
                        Ok(Ok(head))
                    }
                    Err(PageError::Refused) => Ok(Err(refused.expect("a refusal keeps its error"))),
                    Err(PageError::Json(source)) => {
                        sink.rollback();
                        if source.classify() == serde_json::error::Category::Data {
                            return Err(Failure::Fatal(SalesforceError::BadResponse {
                                what: what.to_string(),
                                detail: format!("not a query result page ({source})"),
                            }));
                        }
                        Err(json_failure(what, status, &media_type, &bytes, source))
                    }
                }
            },
        )
        .await
    }

    async fn query_once<S: RecordSink>(
        &self,
        object: &str,
        soql: &str,
        tally: &Tally,
        sink: &mut S,
    ) -> Result<QueryStats, QueryFailure<S::Error>> {
        let what = format!("query of {object}");
        let mut page = self
            .page(&what, |base| self.query_url(base, soql), tally, sink)
            .await
            .map_err(QueryFailure::from_sf)?
            .map_err(QueryFailure::Other)?;
        let (expected, _) = page_shape(&what, &page).map_err(QueryFailure::from_sf)?;
        tally.announce(expected);
        let mut rows: u64 = page.records;
        let mut pages: u64 = 1;
        loop {
            let (_, done) = page_shape(&what, &page).map_err(QueryFailure::from_sf)?;
            if done {
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
            let answer = self
                .page(
                    &what,
                    |base| {
                        let mut url = base.clone();
                        url.set_path(&next);
                        url
                    },
                    tally,
                    sink,
                )
                .await;
            page = match answer {
                Err(SalesforceError::Api { failure, .. }) if failure.code == "INVALID_QUERY_LOCATOR" => {
                    return Err(QueryFailure::LocatorLost { pages, message: failure.message });
                }
                other => other.map_err(QueryFailure::from_sf)?.map_err(QueryFailure::Other)?,
            };
            pages += 1;
            rows += page.records;
            let (total, _) = page_shape(&what, &page).map_err(QueryFailure::from_sf)?;
            if total != expected {
                return Err(QueryFailure::from_sf(SalesforceError::Inconsistent {
                    object: object.to_string(),
                    detail: format!(
                        "page {pages} announces totalSize {total} where the first page announced {expected}"
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

/// A page's `totalSize` and `done`, which every page must have.
fn page_shape(what: &str, page: &PageHead) -> Result<(u64, bool), SalesforceError> {
    match (page.total_size, page.done) {
        (Some(total), Some(done)) => Ok((total, done)),
        _ => Err(SalesforceError::BadResponse {
            what: what.to_string(),
            detail: "not a query result page (totalSize or done is missing)".into(),
        }),
    }
}

/// What a successful answer that does not parse as JSON means: cut short (worth another try),
/// not the API's answer at all, or malformed although whole.
fn json_failure(what: &str, status: u16, media_type: &str, body: &[u8], source: serde_json::Error) -> Failure {
    if source.classify() == serde_json::error::Category::Eof && is_json(media_type) {
        return Failure::Transient(Transient::CutJson { source });
    }
    if !is_json(media_type) {
        return Failure::Fatal(SalesforceError::NotApi {
            what: what.to_string(),
            status,
            media_type: media_type.to_string(),
        });
    }
    Failure::Fatal(SalesforceError::MalformedJson {
        what: what.to_string(),
        near_record: body::record_id_before(body, body::error_offset(body, &source)),
        source,
    })
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
                    last: Transient::Login(Box::new(e)),
                });
            }
            Err(e) => return Err(e.into()),
        }
    }
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
