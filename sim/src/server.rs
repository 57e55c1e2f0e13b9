//! HTTP routing and the data API: `/services/data/vNN.0/query`, the
//! `nextRecordsUrl` pages, `/limits`, `/sobjects` (the objects the
//! integration user sees), the Bulk API 2.0 query jobs (in `bulk.rs`), and the
//! test-only `/__sim/stats`.
//!
//! Every request enters through [`dispatch`], which classifies it into a
//! [`Route`] once and applies the injected latency. Data requests are then
//! decided under the state lock by [`decide`] (version and path check,
//! method, bearer token and its expiry, the API limit, fault rules, query
//! parsing, cursor bookkeeping, counting; see `faults.rs` for the order) and
//! the page itself is projected after the lock is released, from the
//! cursor's shared snapshot; a dropped connection or truncated body is made
//! from that real answer last. Errors are Salesforce's JSON arrays
//! `[{"message", "errorCode"}]`; every `/services/data` response carries
//! `Sforce-Limit-Info: api-usage=used/max`, except the injected HTML
//! maintenance page.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde_json::{Map, Value, json};

use crate::faults::{BadText, Endpoint, Injected, Malformed};
use crate::http::{ApiError, JSON_CONTENT_TYPE, insufficient_access, json_response, malformed, sf_error};
use crate::{Cursor, CursorEntry, Shared, SimState, bulk, oauth, org, soql};

/// Lowest and highest API versions served (`v20.0` .. `v66.0`).
pub const MIN_VERSION: u32 = 20;
pub const MAX_VERSION: u32 = 66;
/// `/limits` exists from this version on.
pub const LIMITS_SINCE: u32 = 29;
/// Query page sizes (`Sforce-Query-Options: batchSize`): default and bounds.
pub const DEFAULT_BATCH_SIZE: usize = 2000;
pub const MIN_BATCH_SIZE: usize = 200;
pub const MAX_BATCH_SIZE: usize = 2000;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(dispatch).with_state(shared)
}

/// What a request is for, decided from its path alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// `/services/oauth2/token`
    Token,
    /// Anything under `/services/data`.
    Data(DataRoute),
    /// `/__sim/stats` (test-only, not counted).
    SimStats,
    /// Under `/services/scim/v2`: the org's SCIM endpoint, with the path after it.
    Scim(String),
    /// Any other path.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DataRoute {
    Query {
        version: u32,
    },
    QueryMore {
        version: u32,
        locator: String,
    },
    Limits {
        version: u32,
    },
    /// `/sobjects`: the org's objects, as the integration user sees them.
    SObjects {
        version: u32,
    },
    /// `/jobs/query`: create a Bulk query job (POST), or list them (GET).
    BulkJobs {
        version: u32,
    },
    /// `/jobs/query/<id>`: a job's state (GET), or its deletion (DELETE).
    BulkJob {
        version: u32,
        id: String,
    },
    /// `/jobs/query/<id>/results`
    BulkResults {
        version: u32,
        id: String,
    },
    /// A `/services/data` path the simulator does not serve (bad version,
    /// unknown resource): 404, but still counted as API usage.
    NotFound,
}

impl Route {
    pub(crate) fn classify(path: &str) -> Route {
        match path {
            "/services/oauth2/token" => return Route::Token,
            "/__sim/stats" => return Route::SimStats,
            _ => {}
        }
        if let Some(rest) = path
            .strip_prefix(crate::scim::salesforce::SALESFORCE_SCIM_PATH)
            .filter(|r| r.is_empty() || r.starts_with('/'))
        {
            return Route::Scim(rest.to_string());
        }
        let Some(rest) = path.strip_prefix("/services/data").filter(|r| r.is_empty() || r.starts_with('/')) else {
            return Route::Other;
        };
        let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
        let Some(version) = segments.first().and_then(|v| parse_version(v)) else {
            return Route::Data(DataRoute::NotFound);
        };
        Route::Data(match segments[1..] {
            ["query"] => DataRoute::Query { version },
            ["query", locator] if !locator.is_empty() => DataRoute::QueryMore { version, locator: locator.to_string() },
            ["limits"] if version >= LIMITS_SINCE => DataRoute::Limits { version },
            ["sobjects"] => DataRoute::SObjects { version },
            ["jobs", "query"] if version >= bulk::SINCE => DataRoute::BulkJobs { version },
            ["jobs", "query", id] if version >= bulk::SINCE && !id.is_empty() => {
                DataRoute::BulkJob { version, id: id.to_string() }
            }
            ["jobs", "query", id, "results"] if version >= bulk::SINCE && !id.is_empty() => {
                DataRoute::BulkResults { version, id: id.to_string() }
            }
            _ => DataRoute::NotFound,
        })
    }
}

/// `v62.0` → 62, for the supported versions only.
fn parse_version(segment: &str) -> Option<u32> {
    let major = segment.strip_prefix('v')?.strip_suffix(".0")?;
    if major.is_empty() || !major.bytes().all(|b| b.is_ascii_digit()) || major.starts_with('0') {
        return None;
    }
    major.parse().ok().filter(|v| (MIN_VERSION..=MAX_VERSION).contains(v))
}

fn not_found() -> Response {
    sf_error(StatusCode::NOT_FOUND, "NOT_FOUND", "The requested resource does not exist")
}

fn invalid_locator(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "INVALID_QUERY_LOCATOR", message)
}

/// The one entry point of every request: classification and latency.
async fn dispatch(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let route = Route::classify(parts.uri.path());
    match route {
        Route::Token => {
            let delay = shared.lock().faults.token_latency;
            sleep(delay).await;
            oauth::token(&shared, &parts, body).await
        }
        Route::SimStats => {
            json_response(StatusCode::OK, &serde_json::to_value(shared.lock().stats()).expect("stats serialize"))
        }
        Route::Data(data) => {
            let delay = shared.lock().faults.latency;
            sleep(delay).await;
            let body = if parts.method == Method::POST {
                match crate::http::read_body(body).await {
                    Ok(b) => b,
                    Err(e) => return sf_error(StatusCode::BAD_REQUEST, "JSON_PARSER_ERROR", &e),
                }
            } else {
                axum::body::Bytes::new()
            };
            data_request(&shared, &parts, data, &body).await
        }
        Route::Scim(rest) => {
            let delay = shared.lock().faults.latency;
            sleep(delay).await;
            let mut st = shared.lock();
            let authorized = authorize(&mut st, &parts.headers);
            crate::scim::salesforce::handle(&mut st, &parts, &rest, authorized)
        }
        Route::Other => {
            shared.lock().stats.other_requests += 1;
            not_found()
        }
    }
}

async fn sleep(delay: Duration) {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
}

/// Data faults applied while rendering one page.
#[derive(Debug, Default)]
struct PageFaults {
    /// Added to `totalSize`.
    total_delta: i64,
    /// A field replaced in one row.
    malformed: Option<Malformed>,
    /// Text that is not valid Unicode in one row.
    bad_text: Option<BadText>,
}

/// What [`decide`] settled under the lock.
enum Reply {
    Ready(Response),
    /// Never answered ([`Injected::Silent`]).
    Silent,
    Page {
        cursor: Arc<Cursor>,
        offset: usize,
        next_records_url: Option<String>,
        faults: PageFaults,
    },
}

/// A decided data request: the answer, and what to do to it on the way out.
struct Decision {
    reply: Reply,
    /// `DropConnection` or `TruncatedBody`, applied to the rendered answer.
    mangle: Option<Injected>,
    limit_header: bool,
}

impl From<Reply> for Decision {
    fn from(reply: Reply) -> Self {
        Decision { reply, mangle: None, limit_header: true }
    }
}

async fn data_request(shared: &Shared, parts: &Parts, route: DataRoute, body: &[u8]) -> Response {
    let (decision, used, max) = {
        let mut st = shared.lock();
        let decision = decide(&mut st, parts, route, body);
        (decision, st.api_used, st.api_max)
    };
    let mut response = match decision.reply {
        Reply::Ready(response) => response,
        // The client hangs up in the end; hyper then drops this future.
        Reply::Silent => std::future::pending().await,
        Reply::Page { cursor, offset, next_records_url, faults } => {
            render_page(&cursor, offset, next_records_url, &faults)
        }
    };
    if decision.limit_header {
        let limit_info =
            HeaderValue::from_str(&format!("api-usage={used}/{max}")).expect("digits and '/' are a valid header value");
        response.headers_mut().insert("Sforce-Limit-Info", limit_info);
    }
    match decision.mangle {
        Some(Injected::DropConnection) => drop_mid_body(response).await,
        Some(Injected::TruncatedBody) => truncate_body(response).await,
        _ => response,
    }
}

/// The methods a data route answers.
fn allowed(route: &DataRoute) -> &'static [Method] {
    match route {
        DataRoute::BulkJobs { .. } => &[Method::POST, Method::GET],
        DataRoute::BulkJob { .. } => &[Method::GET, Method::DELETE],
        _ => &[Method::GET],
    }
}

/// The Bulk API step of a request, for fault rules.
fn endpoint(route: &DataRoute, method: &Method) -> Option<Endpoint> {
    match route {
        DataRoute::BulkJobs { .. } if method == Method::GET => None,
        DataRoute::BulkJobs { .. } => Some(Endpoint::BulkCreate),
        DataRoute::BulkJob { .. } if method == Method::DELETE => Some(Endpoint::BulkDelete),
        DataRoute::BulkJob { .. } => Some(Endpoint::BulkPoll),
        DataRoute::BulkResults { .. } => Some(Endpoint::BulkResults),
        _ => None,
    }
}

/// Decides a data request under the state lock, counting it.
fn decide(st: &mut SimState, parts: &Parts, route: DataRoute, body: &[u8]) -> Decision {
    if route == DataRoute::NotFound {
        st.api_used += 1;
        st.stats.other_requests += 1;
        return Reply::Ready(not_found()).into();
    }
    let methods = allowed(&route);
    if !methods.contains(&parts.method) {
        st.api_used += 1;
        st.stats.other_requests += 1;
        let names: Vec<&str> = methods.iter().map(Method::as_str).collect();
        return Reply::Ready(sf_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            &format!("HTTP Method '{}' not allowed. Allowed are {}", parts.method, names.join(",")),
        ))
        .into();
    }
    let count_refusal = |st: &mut SimState| match route {
        DataRoute::Limits { .. } => st.stats.limits_requests += 1,
        _ => st.stats.query_errors += 1,
    };
    if !authorize(st, &parts.headers) {
        st.stats.unauthorized_requests += 1;
        count_refusal(st);
        return Reply::Ready(sf_error(StatusCode::UNAUTHORIZED, "INVALID_SESSION_ID", "Session expired or invalid"))
            .into();
    }
    if st.api_used >= st.api_max {
        st.stats.request_limit_exceeded += 1;
        count_refusal(st);
        return Reply::Ready(fault_response(Injected::RequestLimitExceeded)).into();
    }
    let injected = injected_fault(st, parts, &route, body);
    st.api_used += 1;
    if let Some(kind) = injected {
        st.stats.injected_faults += 1;
        *st.stats.injected_faults_by_kind.entry(kind.name().to_string()).or_default() += 1;
        match kind {
            Injected::DropConnection | Injected::TruncatedBody => {}
            Injected::Silent => return Decision { reply: Reply::Silent, mangle: None, limit_header: false },
            _ => {
                if kind == Injected::InvalidQueryLocator
                    && let DataRoute::QueryMore { locator, .. } = &route
                {
                    let id = locator.rsplit_once('-').map_or(locator.as_str(), |p| p.0);
                    if st.cursors.remove(id).is_some_and(|e| e.open) {
                        st.cursor_opened(false);
                    }
                }
                // Pages that Salesforce's API did not send carry no Sforce-Limit-Info.
                let from_api =
                    !matches!(kind, Injected::MaintenanceHtml | Injected::CaptivePortal | Injected::Redirect);
                return Decision { reply: Reply::Ready(fault_response(kind)), mangle: None, limit_header: from_api };
            }
        }
    }
    let result = match route {
        DataRoute::Limits { .. } => {
            if injected.is_none() {
                st.stats.limits_requests += 1;
            }
            st.served("limits");
            Ok(Reply::Ready(json_response(StatusCode::OK, &limits_body(st))))
        }
        DataRoute::SObjects { version } => {
            st.served("sobjects");
            Ok(Reply::Ready(json_response(StatusCode::OK, &sobjects_body(st, version))))
        }
        DataRoute::Query { version } => first_page(st, parts, version),
        DataRoute::QueryMore { version, locator } => next_page(st, parts, version, &locator),
        DataRoute::BulkJobs { .. } if parts.method == Method::GET => bulk::list(st).map(Reply::Ready),
        DataRoute::BulkJobs { version } => bulk::create(st, version, body).map(Reply::Ready),
        DataRoute::BulkJob { id, .. } if parts.method == Method::DELETE => bulk::delete(st, &id).map(Reply::Ready),
        DataRoute::BulkJob { id, .. } => bulk::info(st, &id).map(Reply::Ready),
        DataRoute::BulkResults { version, id } => bulk::results(st, parts, version, &id).map(Reply::Ready),
        DataRoute::NotFound => unreachable!("handled above"),
    };
    let reply = match result {
        Ok(Reply::Page { cursor, offset, next_records_url, .. }) => {
            let object = cursor.plan.object.name;
            if injected.is_none() {
                *st.stats.query_pages.entry(object.to_string()).or_default() += 1;
            }
            let total_delta = match &st.faults.total_size_delta {
                Some((o, delta)) if o.eq_ignore_ascii_case(object) => *delta,
                _ => 0,
            };
            let malformed = st.faults.malformed.as_ref().filter(|m| m.object.eq_ignore_ascii_case(object)).cloned();
            let bad_text = st.faults.bad_text.as_ref().filter(|b| b.object.eq_ignore_ascii_case(object)).cloned();
            Reply::Page { cursor, offset, next_records_url, faults: PageFaults { total_delta, malformed, bad_text } }
        }
        Ok(ready) => ready,
        Err(error) => {
            if injected.is_none() {
                st.stats.query_errors += 1;
            }
            Reply::Ready(error.into_response())
        }
    };
    Decision { reply, mangle: injected, limit_header: true }
}

/// The token of `Authorization: Bearer <token>` (Salesforce also takes
/// `OAuth <token>`).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    (scheme.eq_ignore_ascii_case("Bearer") || scheme.eq_ignore_ascii_case("OAuth")).then(|| token.trim())
}

/// Whether the request carries a currently valid access token, counting one
/// use of it. A token used up under `expire_tokens_after` is removed from the
/// valid ones (it has expired) and the request is refused.
fn authorize(st: &mut SimState, headers: &HeaderMap) -> bool {
    let Some(token) = bearer_token(headers) else {
        return false;
    };
    if !st.access_tokens.contains(token) {
        return false;
    }
    let uses = st.token_uses.entry(token.to_string()).or_default();
    if let Some(limit) = st.faults.expire_tokens_after
        && *uses >= limit
    {
        st.access_tokens.remove(token);
        st.stats.expired_sessions += 1;
        return false;
    }
    *uses += 1;
    true
}

/// The object a data request belongs to, for fault rules scoped to one:
/// the SOQL's object for a first page (if the SOQL parses), the cursor's for
/// a follow-up page (if the locator is known), none for `/limits`.
fn request_object(st: &SimState, parts: &Parts, route: &DataRoute, body: &[u8]) -> Option<&'static str> {
    match route {
        DataRoute::BulkJobs { .. } => bulk::object_of_create(body),
        DataRoute::BulkJob { id, .. } | DataRoute::BulkResults { id, .. } => st.bulk_jobs.get(id).map(|j| j.object()),
        DataRoute::Query { .. } => {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_str(parts.uri.query().unwrap_or("")).ok()?;
            let (_, text) = pairs.into_iter().find(|(k, _)| k == "q")?;
            let query = soql::parse(&text).ok()?;
            org::object_ci(&query.object).filter(|def| def.queryable).map(|def| def.name)
        }
        DataRoute::QueryMore { locator, .. } => {
            let id = locator.rsplit_once('-').map_or(locator.as_str(), |p| p.0);
            st.cursors.get(id).map(|e| e.cursor.plan.object.name)
        }
        DataRoute::Limits { .. } | DataRoute::SObjects { .. } | DataRoute::NotFound => None,
    }
}

/// Counts the request against every fault rule it matches; returns the
/// fault of the first rule whose window covers it.
fn injected_fault(st: &mut SimState, parts: &Parts, route: &DataRoute, body: &[u8]) -> Option<Injected> {
    if st.faults.rules.is_empty() {
        return None;
    }
    let follow_up = matches!(route, DataRoute::QueryMore { .. });
    let step = endpoint(route, &parts.method);
    let object =
        if st.faults.rules.iter().any(|r| r.object.is_some()) { request_object(st, parts, route, body) } else { None };
    st.fault_matches.resize(st.faults.rules.len(), 0);
    let mut fired = None;
    for (rule, seen) in st.faults.rules.iter().zip(st.fault_matches.iter_mut()) {
        if !rule.matches(object, follow_up, step) {
            continue;
        }
        if fired.is_none() && rule.fires_at(*seen) {
            fired = Some(rule.fault);
        }
        *seen = seen.saturating_add(1);
    }
    fired
}

/// Salesforce's maintenance page (served by its front end, not the API).
const MAINTENANCE_HTML: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Salesforce - Maintenance</title></head>\n<body><h1>Down for Maintenance</h1>\n\
<p>Salesforce is temporarily unavailable while we perform scheduled maintenance. \
We apologize for the inconvenience. Please check back soon.</p>\n\
<p>For more information, visit <a href=\"https://status.salesforce.com\">Salesforce Trust</a>.</p>\n\
</body></html>\n";

/// The answer of a fault that replaces the real one.
fn fault_response(kind: Injected) -> Response {
    match kind {
        Injected::Unavailable => sf_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVER_UNAVAILABLE",
            "The server is temporarily unable to service your request due to maintenance \
             downtime or capacity problems. Please try again later.",
        ),
        Injected::MaintenanceHtml => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, HeaderValue::from_static("text/html;charset=UTF-8"))],
            MAINTENANCE_HTML,
        )
            .into_response(),
        Injected::InternalError => sf_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN_EXCEPTION",
            "An unexpected error occurred. Please include this ErrorId if you contact \
             support: 1871623493-98127 (-1208743925)",
        ),
        Injected::RequestLimitExceeded => {
            sf_error(StatusCode::FORBIDDEN, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        }
        Injected::InvalidQueryLocator => invalid_locator("invalid query locator").into_response(),
        Injected::EndlessBody => endless_body(),
        Injected::CaptivePortal => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))],
            CAPTIVE_PORTAL_HTML,
        )
            .into_response(),
        Injected::Redirect => {
            (StatusCode::FOUND, [(header::LOCATION, HeaderValue::from_static(REDIRECT_LOCATION))], "").into_response()
        }
        Injected::DropConnection | Injected::TruncatedBody | Injected::Silent => {
            unreachable!("made from the real answer, or never answered")
        }
    }
}

/// A hotel's or a proxy's sign-in page, served in place of the API.
const CAPTIVE_PORTAL_HTML: &str = "<!DOCTYPE html>\n<html><head><title>Sign in to Guest Wi-Fi</title></head>\n\
<body><h1>Welcome</h1><p>Accept the terms of use to continue.</p>\n\
<form method=\"post\" action=\"/login\"><button>Connect</button></form></body></html>\n";

/// Where Salesforce's front end sends a request that is not for the org's API.
const REDIRECT_LOCATION: &str = "https://login.salesforce.com/?ec=302&startURL=%2Fservices%2Fdata";

/// 200 JSON that starts like a query page and never ends.
fn endless_body() -> Response {
    let head = axum::body::Bytes::from_static(
        br#"{"totalSize":1,"done":true,"records":[{"attributes":{"type":"User"},"Name":""#,
    );
    let filler = axum::body::Bytes::from(vec![b'x'; 64 * 1024]);
    let chunks = std::iter::once(head).chain(std::iter::repeat(filler)).map(Ok::<_, std::io::Error>);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE))],
        Body::from_stream(futures_util::stream::iter(chunks)),
    )
        .into_response()
}

/// The whole body of an in-memory response.
async fn body_bytes(body: Body) -> axum::body::Bytes {
    axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default()
}

/// `response` with its headers (Content-Length of the whole body) and the
/// first half of its body, then a connection abort.
async fn drop_mid_body(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = body_bytes(body).await;
    parts.headers.insert(header::CONTENT_LENGTH, bytes.len().into());
    let first = bytes.slice(..bytes.len() / 2);
    // States: the first part to send, then the abort, then the end.
    let stream = futures_util::stream::unfold(Some(Some(first)), |state| async move {
        match state? {
            Some(first) => Some((Ok(first), Some(None))),
            None => {
                // Let the first part reach the client before the abort.
                tokio::time::sleep(Duration::from_millis(20)).await;
                let error = std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "sf-sim: injected fault: connection dropped mid-body",
                );
                Some((Err(error), None))
            }
        }
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

/// `response` with the first half of its body, as a complete response.
async fn truncate_body(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = body_bytes(body).await;
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes.slice(..bytes.len() / 2)))
}

/// `GET /sobjects`: every object the integration user sees at `version` (its org's packages,
/// minus what its permissions hide), in the shape of Salesforce's describe-global answer.
fn sobjects_body(st: &SimState, version: u32) -> Value {
    let view = st.view();
    let objects: Vec<Value> = org::SCHEMA
        .iter()
        .filter(|def| def.queryable && def.since <= version && view.sees_object(def))
        .map(|def| {
            json!({
                "name": def.name,
                "label": def.name,
                "custom": def.name.ends_with("__c"),
                "queryable": true,
                "retrieveable": true,
                "searchable": false,
                "createable": false,
                "updateable": false,
                "deletable": false,
                "urls": {
                    "sobject": format!("/services/data/v{version}.0/sobjects/{}", def.name),
                    "describe": format!("/services/data/v{version}.0/sobjects/{}/describe", def.name),
                },
            })
        })
        .collect();
    json!({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": objects})
}

fn limits_body(st: &SimState) -> Value {
    let entry = |max: u64, remaining: u64| json!({"Max": max, "Remaining": remaining});
    json!({
        "DailyApiRequests": entry(st.api_max, st.api_max.saturating_sub(st.api_used)),
        "DailyBulkApiRequests": entry(10_000, 10_000),
        "DailyBulkV2QueryJobs": entry(10_000, 10_000),
        "DailyBulkV2QueryFileStorageMB": entry(976_562, 976_562),
    })
}

/// Page size from `Sforce-Query-Options: batchSize=N` (clamped to 200..=2000).
/// Options other than `batchSize` are refused rather than ignored.
fn batch_size(headers: &HeaderMap) -> Result<usize, ApiError> {
    let Some(value) = headers.get("Sforce-Query-Options") else {
        return Ok(DEFAULT_BATCH_SIZE);
    };
    let text = value.to_str().map_err(|_| malformed("sf-sim: the Sforce-Query-Options header is not ASCII"))?;
    let mut size = DEFAULT_BATCH_SIZE;
    for option in text.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        match option.split_once('=') {
            Some((key, value)) if key.trim().eq_ignore_ascii_case("batchSize") => {
                let n: usize = value.trim().parse().map_err(|_| {
                    malformed(format!(
                        "sf-sim: batchSize in Sforce-Query-Options must be a whole number, got '{}'",
                        value.trim()
                    ))
                })?;
                size = n.clamp(MIN_BATCH_SIZE, MAX_BATCH_SIZE);
            }
            _ => {
                return Err(malformed(format!(
                    "sf-sim does not implement the Sforce-Query-Options option '{option}' \
                     (only batchSize=N)"
                )));
            }
        }
    }
    Ok(size)
}

fn first_page(st: &mut SimState, parts: &Parts, version: u32) -> Result<Reply, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(parts.uri.query().unwrap_or(""))
        .map_err(|e| malformed(format!("sf-sim: cannot decode the query string: {e}")))?;
    let mut soql_text = None;
    for (key, value) in pairs {
        match key.as_str() {
            "q" if soql_text.is_none() => soql_text = Some(value),
            "q" => return Err(malformed("sf-sim: the q parameter is given more than once")),
            other => {
                return Err(malformed(format!("sf-sim does not implement the query parameter '{other}' (only q)")));
            }
        }
    }
    let Some(soql_text) = soql_text else {
        return Err(malformed("A query string has to be specified (the q parameter is missing)"));
    };
    let page_size = batch_size(&parts.headers)?;
    let plan = soql::parse(&soql_text)
        .and_then(|q| soql::plan_in(&q, version, &st.view()))
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.code.as_str(), e.message(&soql_text)))?;
    if st.access.refused_objects.contains(plan.object.name) {
        return Err(insufficient_access(plan.object.name));
    }
    let rows = st.snapshot(plan.object.name);
    let selection = plan.select(&rows);
    let total = selection.len();
    if plan.count {
        st.stats.count_queries += 1;
        st.served("count");
        let delta = match &st.faults.count_delta {
            Some((o, delta)) if o.eq_ignore_ascii_case(plan.object.name) => *delta,
            _ => 0,
        };
        let reported = i64::try_from(total).unwrap_or(i64::MAX).saturating_add(delta).max(0);
        return Ok(Reply::Ready(json_response(
            StatusCode::OK,
            &json!({"totalSize": reported, "done": true, "records": []}),
        )));
    }
    st.served("query");
    let cursor = Arc::new(Cursor { plan, rows, selection, page_size, short_pages: st.faults.short_pages });
    let next_records_url = if total > page_size {
        let id = new_cursor_id(st);
        st.cursors.insert(id.clone(), CursorEntry { cursor: cursor.clone(), issued: [page_size].into(), open: true });
        st.cursor_opened(true);
        Some(format!("/services/data/v{version}.0/query/{id}-{page_size}"))
    } else {
        None
    };
    Ok(Reply::Page { cursor, offset: 0, next_records_url, faults: PageFaults::default() })
}

fn next_page(st: &mut SimState, parts: &Parts, version: u32, locator: &str) -> Result<Reply, ApiError> {
    if parts.uri.query().is_some() {
        return Err(malformed("sf-sim: a nextRecordsUrl takes no query parameters; request it exactly as returned"));
    }
    let unknown = || invalid_locator("invalid query locator");
    let (id, offset) = locator.rsplit_once('-').ok_or_else(unknown)?;
    let offset: usize = offset.parse().map_err(|_| unknown())?;
    let entry = st.cursors.get_mut(id).ok_or_else(unknown)?;
    if !entry.issued.contains(&offset) {
        return Err(unknown());
    }
    let cursor = entry.cursor.clone();
    if cursor.plan.version != version {
        return Err(invalid_locator(format!(
            "invalid query locator (sf-sim: this locator was issued by API v{}.0, \
             requested with v{version}.0; request nextRecordsUrl exactly)",
            cursor.plan.version
        )));
    }
    let next = offset + cursor.page_len(offset);
    let next_records_url = (next < cursor.selection.len()).then(|| {
        entry.issued.insert(next);
        format!("/services/data/v{version}.0/query/{id}-{next}")
    });
    let finished = next_records_url.is_none() && entry.open;
    if finished {
        entry.open = false;
        st.cursor_opened(false);
    }
    st.served("query-more");
    Ok(Reply::Page { cursor, offset, next_records_url, faults: PageFaults::default() })
}

/// `01gSIM` + 12 upper-case alphanumerics, unused so far.
fn new_cursor_id(st: &SimState) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    loop {
        let suffix: String = (0..12).map(|_| CHARS[rng.random_range(0..CHARS.len())] as char).collect();
        let id = format!("01gSIM{suffix}");
        if !st.cursors.contains_key(&id) {
            return id;
        }
    }
}

/// The page starting at `offset`: `totalSize`, `done`, `nextRecordsUrl`
/// (only when not done) and the projected `records`, with the data faults.
fn render_page(cursor: &Cursor, offset: usize, next_records_url: Option<String>, faults: &PageFaults) -> Response {
    let total = cursor.selection.len();
    let end = (offset + cursor.page_len(offset)).min(total);
    let start = offset.min(end);
    let mut bad_text_written = None;
    let records: Vec<Value> = cursor.selection[start..end]
        .iter()
        .map(|&r| {
            let mut row = cursor.plan.project(&cursor.rows[r as usize]);
            if let Some(m) = &faults.malformed
                && m.index == r as usize
                && let Value::Object(fields) = &mut row
                && let Some((_, value)) = fields.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(&m.field))
            {
                *value = m.value.clone();
            }
            if let Some(b) = &faults.bad_text
                && b.index == r as usize
                && let Value::Object(fields) = &mut row
                && let Some((_, value)) = fields.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(&b.field))
            {
                *value = Value::String(format!("{BAD_TEXT_MARK}{}", value.as_str().unwrap_or_default()));
                bad_text_written = Some(b.kind);
            }
            row
        })
        .collect();
    let reported = i64::try_from(total).unwrap_or(i64::MAX).saturating_add(faults.total_delta).max(0);
    let mut body = Map::new();
    body.insert("totalSize".into(), json!(reported));
    body.insert("done".into(), json!(next_records_url.is_none()));
    if let Some(url) = next_records_url {
        body.insert("nextRecordsUrl".into(), Value::String(url));
    }
    body.insert("records".into(), Value::Array(records));
    let Some(kind) = bad_text_written else {
        return json_response(StatusCode::OK, &Value::Object(body));
    };
    // No JSON value holds a lone surrogate or a byte that is not UTF-8: write the page,
    // then put the bad bytes where the mark is.
    let bytes = serde_json::to_vec(&Value::Object(body)).expect("JSON values serialize");
    let mark = BAD_TEXT_MARK.as_bytes();
    let at = bytes.windows(mark.len()).position(|w| w == mark).expect("the mark was written");
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..at]);
    out.extend_from_slice(kind.bytes());
    out.extend_from_slice(&bytes[at + mark.len()..]);
    (StatusCode::OK, [(header::CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE))], out).into_response()
}

/// Stands in for the bad text until the page is serialised (private-use characters that no
/// org text holds).
const BAD_TEXT_MARK: &str = "\u{E000}sf-sim-bad-text\u{E000}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_paths() {
        assert_eq!(Route::classify("/services/data/v62.0/query"), Route::Data(DataRoute::Query { version: 62 }));
        assert_eq!(
            Route::classify("/services/data/v20.0/query/01gSIMABC-2000"),
            Route::Data(DataRoute::QueryMore { version: 20, locator: "01gSIMABC-2000".into() })
        );
        assert_eq!(Route::classify("/services/data/v29.0/limits"), Route::Data(DataRoute::Limits { version: 29 }));
        assert_eq!(Route::classify("/services/data/v62.0/sobjects"), Route::Data(DataRoute::SObjects { version: 62 }));
        for path in [
            "/services/data/v28.0/limits",
            "/services/data/v19.0/query",
            "/services/data/v67.0/query",
            "/services/data/v62.1/query",
            "/services/data/v062.0/query",
            "/services/data/62.0/query",
            "/services/data/v62.0/query/",
            "/services/data/v62.0/queryAll",
            "/services/data/v62.0",
            "/services/data/",
            "/services/data",
        ] {
            assert_eq!(Route::classify(path), Route::Data(DataRoute::NotFound), "{path}");
        }
        assert_eq!(Route::classify("/services/oauth2/token"), Route::Token);
        assert_eq!(Route::classify("/services/database"), Route::Other);
        assert_eq!(Route::classify("/"), Route::Other);
    }

    #[test]
    fn batch_size_header() {
        let mut h = HeaderMap::new();
        assert_eq!(batch_size(&h).unwrap(), 2000);
        for (value, expected) in
            [("batchSize=500", 500), ("batchSize=10", 200), ("batchSize=5000", 2000), (" batchsize = 1000 ", 1000)]
        {
            h.insert("Sforce-Query-Options", HeaderValue::from_static(value));
            assert_eq!(batch_size(&h).unwrap(), expected, "{value}");
        }
        for value in ["batchSize=abc", "foo=1", "batchSize=500, mode=x"] {
            h.insert("Sforce-Query-Options", HeaderValue::from_static(value));
            assert!(batch_size(&h).is_err(), "{value}");
        }
    }
}
