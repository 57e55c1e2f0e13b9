//! The standalone SCIM server's routes: the token endpoint and the resources under `/scim/v2`.
//!
//! Every SCIM request goes through the same gate, in Stensul's order: the caller's address
//! against the allowlist (403), the bearer token and its expiry (401), then the injected 429 and
//! 503, then the resource. Writes are refused: Stensul's groups are read-only, and the simulator
//! serves an audit, which only reads.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};

use super::protocol::{self, scim_error, scim_response};
use super::{SCIM_BASE_PATH, ScimMode, ScimRequest, ScimShared, ScimState, TOKEN_PATH};
use crate::http::{json_response, read_body};

pub(crate) fn router(shared: Arc<ScimShared>) -> Router {
    Router::new().fallback(dispatch).with_state(shared)
}

async fn dispatch(State(shared): State<Arc<ScimShared>>, request: Request) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    if path == TOKEN_PATH {
        let body = read_body(body).await;
        return token(&mut shared.lock(), &parts, body);
    }
    let mut st = shared.lock();
    let response = match path.strip_prefix(SCIM_BASE_PATH).filter(|r| r.is_empty() || r.starts_with('/')) {
        Some(rest) => scim(&mut st, &parts, peer, rest.trim_start_matches('/')),
        None => scim_error(StatusCode::NOT_FOUND, None, "no such resource"),
    };
    let paging = protocol::paging(parts.uri.query()).ok();
    let at = st.started.elapsed();
    st.requests.push(ScimRequest {
        method: parts.method.to_string(),
        path,
        start_index: paging
            .filter(|_| parts.uri.query().is_some_and(|q| q.contains("startIndex")))
            .map(|p| p.start_index),
        count: paging.and_then(|p| p.count),
        status: response.status().as_u16(),
        at,
    });
    response
}

/// The client credentials grant: form fields or HTTP Basic; a new token per request.
fn token(st: &mut ScimState, parts: &Parts, body: Result<axum::body::Bytes, String>) -> Response {
    st.token_requests += 1;
    let error = |status: StatusCode, error: &str, description: &str| {
        json_response(status, &json!({"error": error, "error_description": description}))
    };
    if parts.method != Method::POST {
        return error(StatusCode::METHOD_NOT_ALLOWED, "invalid_request", "use POST");
    }
    let Ok(body) = body else {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "cannot read the body");
    };
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let field = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    if field("grant_type").as_deref() != Some("client_credentials") {
        return error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "only client_credentials is supported");
    }
    let (id, secret) = match basic_auth(&parts.headers) {
        Some(pair) => pair,
        None => (field("client_id").unwrap_or_default(), field("client_secret").unwrap_or_default()),
    };
    if id != st.config.client_id || secret != st.config.client_secret {
        return error(StatusCode::UNAUTHORIZED, "invalid_client", "client authentication failed");
    }
    let token: String = rand::rng().sample_iter(&Alphanumeric).take(40).map(char::from).collect();
    let token = format!("scim-{token}");
    st.tokens.insert(token.clone());
    st.issued_tokens.push(token.clone());
    json_response(StatusCode::OK, &json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600}))
}

/// `Authorization: Basic base64(id:secret)`.
fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(BASE64.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// The bearer token of a request, if it is a valid one, counting one use of it.
fn authorized(st: &mut ScimState, headers: &HeaderMap) -> bool {
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
    else {
        return false;
    };
    if !st.tokens.contains(token) {
        return false;
    }
    let uses = st.token_uses.entry(token.to_string()).or_default();
    if st.config.faults.expire_tokens_after.is_some_and(|limit| *uses >= limit) {
        st.tokens.remove(token);
        return false;
    }
    *uses += 1;
    true
}

fn scim(st: &mut ScimState, parts: &Parts, peer: Option<SocketAddr>, rest: &str) -> Response {
    if let Some(allowed) = &st.config.allowed_ips {
        let ip = peer.map(|p| p.ip());
        if !ip.is_some_and(|ip| allowed.contains(&ip)) {
            let shown = ip.map(|ip| ip.to_string()).unwrap_or_else(|| "(unknown)".into());
            return scim_error(
                StatusCode::FORBIDDEN,
                None,
                &format!("Access denied: the IP address {shown} is not on this API connection's allowlist"),
            );
        }
    }
    if !authorized(st, &parts.headers) {
        let mut response =
            scim_error(StatusCode::UNAUTHORIZED, None, "Authorization failure: invalid or expired token");
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    st.seen += 1;
    let faults = &st.config.faults;
    if st.seen <= faults.rate_limited {
        let mut response = scim_error(StatusCode::TOO_MANY_REQUESTS, None, "Too many requests");
        let after = HeaderValue::from_str(&faults.retry_after_secs.to_string()).expect("digits");
        response.headers_mut().insert(header::RETRY_AFTER, after);
        return response;
    }
    if st.seen <= faults.rate_limited + faults.unavailable {
        return scim_error(StatusCode::SERVICE_UNAVAILABLE, None, "Service temporarily unavailable");
    }
    let segments: Vec<&str> = rest.split('/').collect();
    if let Some((endpoint, status, scim_type, detail)) = &faults.error
        && segments.first() == Some(&endpoint.as_str())
    {
        let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return scim_error(status, scim_type.as_deref(), detail);
    }
    if parts.method != Method::GET {
        let detail = match (st.config.mode, segments.first()) {
            (ScimMode::Stensul, Some(&"Groups")) => "Groups (roles) are read-only through the API",
            _ => "sf-sim's SCIM server is read-only",
        };
        return scim_error(StatusCode::NOT_IMPLEMENTED, None, detail);
    }
    let base = format!("{}{SCIM_BASE_PATH}", st.base_url);
    match segments.as_slice() {
        ["ServiceProviderConfig"] => {
            let max = st.config.advertise_max_results.then_some(st.config.max_results);
            scim_response(
                StatusCode::OK,
                &protocol::service_provider_config(max, &format!("{base}/ServiceProviderConfig")),
            )
        }
        ["ResourceTypes"] => scim_response(StatusCode::OK, &resource_types(&base)),
        ["Schemas"] => scim_response(
            StatusCode::OK,
            &json!({"schemas": [protocol::LIST_RESPONSE], "totalResults": 2, "itemsPerPage": 2, "startIndex": 1,
                    "Resources": [{"id": protocol::USER_SCHEMA, "name": "User"}, {"id": protocol::GROUP_SCHEMA, "name": "Group"}]}),
        ),
        ["Users"] => {
            let items: Vec<Value> = st.visible_users().map(|u| st.user_resource(u)).collect();
            list(st, parts, &items, st.config.faults.users_surplus)
        }
        ["Groups"] => {
            let items: Vec<Value> = st.config.groups.iter().map(|g| st.group_resource(g)).collect();
            list(st, parts, &items, 0)
        }
        ["Users", id] => match st.visible_users().find(|u| u.id == *id) {
            Some(u) => scim_response(StatusCode::OK, &st.user_resource(u)),
            None => scim_error(StatusCode::NOT_FOUND, None, &format!("Resource {id} not found")),
        },
        ["Groups", id] => match st.config.groups.iter().find(|g| g.id == *id) {
            Some(g) => scim_response(StatusCode::OK, &st.group_resource(g)),
            None => scim_error(StatusCode::NOT_FOUND, None, &format!("Resource {id} not found")),
        },
        _ => scim_error(StatusCode::NOT_FOUND, None, "no such resource"),
    }
}

/// A page of `items`, at most the server's maximum (and the fault's page limit) per page.
fn list(st: &ScimState, parts: &Parts, items: &[Value], surplus: u64) -> Response {
    let paging = match protocol::paging(parts.uri.query()) {
        Ok(p) => p,
        Err(detail) => return protocol::invalid_value(&detail),
    };
    let max = match st.config.faults.page_limit {
        Some(limit) => limit.min(st.config.max_results),
        None => st.config.max_results,
    };
    scim_response(StatusCode::OK, &protocol::list_response(items, paging, max, surplus))
}

fn resource_types(base: &str) -> Value {
    json!({
        "schemas": [protocol::LIST_RESPONSE], "totalResults": 2, "itemsPerPage": 2, "startIndex": 1,
        "Resources": [
            {"id": "User", "name": "User", "endpoint": "/Users", "schema": protocol::USER_SCHEMA,
             "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")}},
            {"id": "Group", "name": "Group", "endpoint": "/Groups", "schema": protocol::GROUP_SCHEMA,
             "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")}}
        ]
    })
}
