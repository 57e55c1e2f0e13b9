//! HTTP routing and the data API: `/services/data/vNN.0/query`, the
//! `nextRecordsUrl` pages, `/limits`, and the test-only `/__sim/stats`.
//!
//! Every request enters through [`dispatch`], which classifies it into a
//! [`Route`] once; that is the single place where requests are counted and
//! where fault injection (latency, 5xx, dropped connections, forced token
//! expiry...) will intercept them. Data requests are then decided under the
//! state lock by [`decide`] (version and path check, method, bearer token,
//! API usage, query parsing, cursor bookkeeping) and the page itself is
//! projected after the lock is released, from the cursor's shared snapshot.
//! Errors are Salesforce's JSON arrays `[{"message", "errorCode"}]`; every
//! `/services/data` response carries `Sforce-Limit-Info: api-usage=used/max`.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde_json::{Map, Value, json};

use crate::{Cursor, CursorEntry, Shared, SimState, oauth, soql};

/// Lowest and highest API versions served (`v20.0` .. `v66.0`).
pub const MIN_VERSION: u32 = 20;
pub const MAX_VERSION: u32 = 66;
/// `/limits` exists from this version on.
pub const LIMITS_SINCE: u32 = 29;
/// Query page sizes (`Sforce-Query-Options: batchSize`): default and bounds.
pub const DEFAULT_BATCH_SIZE: usize = 2000;
pub const MIN_BATCH_SIZE: usize = 200;
pub const MAX_BATCH_SIZE: usize = 2000;

const JSON_CONTENT_TYPE: &str = "application/json;charset=UTF-8";

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
        let Some(rest) = path
            .strip_prefix("/services/data")
            .filter(|r| r.is_empty() || r.starts_with('/'))
        else {
            return Route::Other;
        };
        let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
        let Some(version) = segments.first().and_then(|v| parse_version(v)) else {
            return Route::Data(DataRoute::NotFound);
        };
        Route::Data(match segments[1..] {
            ["query"] => DataRoute::Query { version },
            ["query", locator] if !locator.is_empty() => DataRoute::QueryMore {
                version,
                locator: locator.to_string(),
            },
            ["limits"] if version >= LIMITS_SINCE => DataRoute::Limits { version },
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
    major
        .parse()
        .ok()
        .filter(|v| (MIN_VERSION..=MAX_VERSION).contains(v))
}

/// A JSON response with Salesforce's content type.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).expect("JSON values serialize");
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(JSON_CONTENT_TYPE),
        )],
        bytes,
    )
        .into_response()
}

/// A REST error: `[{"message": ..., "errorCode": ...}]`.
pub(crate) fn sf_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(status, &json!([{"message": message, "errorCode": code}]))
}

fn not_found() -> Response {
    sf_error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "The requested resource does not exist",
    )
}

/// A REST error not yet rendered (kept small so `Result`s stay cheap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    fn into_response(self) -> Response {
        sf_error(self.status, self.code, &self.message)
    }
}

fn malformed(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "MALFORMED_QUERY", message)
}

fn invalid_locator(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "INVALID_QUERY_LOCATOR", message)
}

/// The one entry point of every request.
async fn dispatch(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let route = Route::classify(parts.uri.path());
    // Fault injection hooks in here: it sees every request once, with its
    // route, before any state changes.
    match route {
        Route::Token => oauth::token(&shared, &parts, body).await,
        Route::SimStats => json_response(
            StatusCode::OK,
            &serde_json::to_value(shared.lock().stats()).expect("stats serialize"),
        ),
        Route::Data(data) => data_request(&shared, &parts, data),
        Route::Other => {
            shared.lock().stats.other_requests += 1;
            not_found()
        }
    }
}

/// What [`decide`] settled under the lock.
enum Reply {
    Ready(Response),
    Page {
        cursor: Arc<Cursor>,
        offset: usize,
        next_records_url: Option<String>,
    },
}

fn data_request(shared: &Shared, parts: &Parts, route: DataRoute) -> Response {
    let (reply, used, max) = {
        let mut st = shared.lock();
        let reply = decide(&mut st, parts, route);
        (reply, st.api_used, st.api_max)
    };
    let mut response = match reply {
        Reply::Ready(response) => response,
        Reply::Page {
            cursor,
            offset,
            next_records_url,
        } => render_page(&cursor, offset, next_records_url),
    };
    let limit_info = HeaderValue::from_str(&format!("api-usage={used}/{max}"))
        .expect("digits and '/' are a valid header value");
    response
        .headers_mut()
        .insert("Sforce-Limit-Info", limit_info);
    response
}

/// Decides a data request under the state lock, counting it.
fn decide(st: &mut SimState, parts: &Parts, route: DataRoute) -> Reply {
    if route == DataRoute::NotFound {
        st.api_used += 1;
        st.stats.other_requests += 1;
        return Reply::Ready(not_found());
    }
    if parts.method != Method::GET {
        st.api_used += 1;
        st.stats.other_requests += 1;
        return Reply::Ready(sf_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            &format!(
                "HTTP Method '{}' not allowed. Allowed are GET",
                parts.method
            ),
        ));
    }
    if !authorized(st, &parts.headers) {
        st.stats.unauthorized_requests += 1;
        match route {
            DataRoute::Limits { .. } => st.stats.limits_requests += 1,
            _ => st.stats.query_errors += 1,
        }
        return Reply::Ready(sf_error(
            StatusCode::UNAUTHORIZED,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
        ));
    }
    st.api_used += 1;
    let result = match route {
        DataRoute::Limits { .. } => {
            st.stats.limits_requests += 1;
            return Reply::Ready(json_response(StatusCode::OK, &limits_body(st)));
        }
        DataRoute::Query { version } => first_page(st, parts, version),
        DataRoute::QueryMore { version, locator } => next_page(st, parts, version, &locator),
        DataRoute::NotFound => unreachable!("handled above"),
    };
    match result {
        Ok(reply) => {
            if let Reply::Page { cursor, .. } = &reply {
                *st.stats
                    .query_pages
                    .entry(cursor.plan.object.name.to_string())
                    .or_default() += 1;
            }
            reply
        }
        Err(error) => {
            st.stats.query_errors += 1;
            Reply::Ready(error.into_response())
        }
    }
}

/// Whether the request carries a currently valid access token
/// (`Authorization: Bearer <token>`; Salesforce also takes `OAuth <token>`).
fn authorized(st: &SimState, headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, token)) = value.trim().split_once(' ') else {
        return false;
    };
    (scheme.eq_ignore_ascii_case("Bearer") || scheme.eq_ignore_ascii_case("OAuth"))
        && st.access_tokens.contains(token.trim())
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
    let text = value
        .to_str()
        .map_err(|_| malformed("sf-sim: the Sforce-Query-Options header is not ASCII"))?;
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
                return Err(malformed(format!(
                    "sf-sim does not implement the query parameter '{other}' (only q)"
                )));
            }
        }
    }
    let Some(soql_text) = soql_text else {
        return Err(malformed(
            "A query string has to be specified (the q parameter is missing)",
        ));
    };
    let page_size = batch_size(&parts.headers)?;
    let plan = soql::parse(&soql_text)
        .and_then(|q| soql::plan(&q, version))
        .map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                e.code.as_str(),
                e.message(&soql_text),
            )
        })?;
    let rows = st.snapshot(plan.object.name);
    let total = rows.len();
    let cursor = Arc::new(Cursor {
        plan,
        rows,
        page_size,
    });
    let next_records_url = if total > page_size {
        let id = new_cursor_id(st);
        st.cursors.insert(
            id.clone(),
            CursorEntry {
                cursor: cursor.clone(),
                issued: [page_size].into(),
            },
        );
        Some(format!(
            "/services/data/v{version}.0/query/{id}-{page_size}"
        ))
    } else {
        None
    };
    Ok(Reply::Page {
        cursor,
        offset: 0,
        next_records_url,
    })
}

fn next_page(
    st: &mut SimState,
    parts: &Parts,
    version: u32,
    locator: &str,
) -> Result<Reply, ApiError> {
    if parts.uri.query().is_some() {
        return Err(malformed(
            "sf-sim: a nextRecordsUrl takes no query parameters; request it exactly as returned",
        ));
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
    let next = offset + cursor.page_size;
    let next_records_url = (next < cursor.rows.len()).then(|| {
        entry.issued.insert(next);
        format!("/services/data/v{version}.0/query/{id}-{next}")
    });
    Ok(Reply::Page {
        cursor,
        offset,
        next_records_url,
    })
}

/// `01gSIM` + 12 upper-case alphanumerics, unused so far.
fn new_cursor_id(st: &SimState) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    loop {
        let suffix: String = (0..12)
            .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
            .collect();
        let id = format!("01gSIM{suffix}");
        if !st.cursors.contains_key(&id) {
            return id;
        }
    }
}

/// The page starting at `offset`: `totalSize`, `done`, `nextRecordsUrl`
/// (only when not done) and the projected `records`.
fn render_page(cursor: &Cursor, offset: usize, next_records_url: Option<String>) -> Response {
    let total = cursor.rows.len();
    let end = (offset + cursor.page_size).min(total);
    let records: Vec<Value> = cursor.rows[offset.min(end)..end]
        .iter()
        .map(|r| cursor.plan.project(r))
        .collect();
    let mut body = Map::new();
    body.insert("totalSize".into(), json!(total));
    body.insert("done".into(), json!(next_records_url.is_none()));
    if let Some(url) = next_records_url {
        body.insert("nextRecordsUrl".into(), Value::String(url));
    }
    body.insert("records".into(), Value::Array(records));
    json_response(StatusCode::OK, &Value::Object(body))
}

/// Reads a whole request body (bounded), for the token endpoint.
pub(crate) async fn read_body(body: Body) -> Result<axum::body::Bytes, String> {
    axum::body::to_bytes(body, 1 << 20)
        .await
        .map_err(|e| format!("cannot read the request body: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_paths() {
        assert_eq!(
            Route::classify("/services/data/v62.0/query"),
            Route::Data(DataRoute::Query { version: 62 })
        );
        assert_eq!(
            Route::classify("/services/data/v20.0/query/01gSIMABC-2000"),
            Route::Data(DataRoute::QueryMore {
                version: 20,
                locator: "01gSIMABC-2000".into()
            })
        );
        assert_eq!(
            Route::classify("/services/data/v29.0/limits"),
            Route::Data(DataRoute::Limits { version: 29 })
        );
        for path in [
            "/services/data/v28.0/limits",
            "/services/data/v19.0/query",
            "/services/data/v67.0/query",
            "/services/data/v62.1/query",
            "/services/data/v062.0/query",
            "/services/data/62.0/query",
            "/services/data/v62.0/query/",
            "/services/data/v62.0/queryAll",
            "/services/data/v62.0/sobjects",
            "/services/data/v62.0",
            "/services/data/",
            "/services/data",
        ] {
            assert_eq!(
                Route::classify(path),
                Route::Data(DataRoute::NotFound),
                "{path}"
            );
        }
        assert_eq!(Route::classify("/services/oauth2/token"), Route::Token);
        assert_eq!(Route::classify("/services/database"), Route::Other);
        assert_eq!(Route::classify("/"), Route::Other);
    }

    #[test]
    fn batch_size_header() {
        let mut h = HeaderMap::new();
        assert_eq!(batch_size(&h).unwrap(), 2000);
        for (value, expected) in [
            ("batchSize=500", 500),
            ("batchSize=10", 200),
            ("batchSize=5000", 2000),
            (" batchsize = 1000 ", 1000),
        ] {
            h.insert("Sforce-Query-Options", HeaderValue::from_static(value));
            assert_eq!(batch_size(&h).unwrap(), expected, "{value}");
        }
        for value in ["batchSize=abc", "foo=1", "batchSize=500, mode=x"] {
            h.insert("Sforce-Query-Options", HeaderValue::from_static(value));
            assert!(batch_size(&h).is_err(), "{value}");
        }
    }
}
