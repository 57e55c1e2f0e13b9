//! The HTTP pieces every endpoint uses: a JSON answer with Salesforce's content type, the REST
//! API's error answers, and a request body read whole up to a bound.
//!
//! A leaf: the token endpoint (`oauth`), the data API (`server`) and the Bulk API (`bulk`) all
//! take from it, so that none has to take from another.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The content type of every JSON answer Salesforce sends.
pub(crate) const JSON_CONTENT_TYPE: &str = "application/json;charset=UTF-8";

/// A JSON response with Salesforce's content type.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).expect("JSON values serialize");
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE))], bytes).into_response()
}

/// Reads a whole request body (bounded), for the token endpoint.
pub(crate) async fn read_body(body: Body) -> Result<axum::body::Bytes, String> {
    axum::body::to_bytes(body, 1 << 20).await.map_err(|e| format!("cannot read the request body: {e}"))
}

/// A REST error: `[{"message": ..., "errorCode": ...}]`.
pub(crate) fn sf_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(status, &json!([{"message": message, "errorCode": code}]))
}

/// A REST error not yet rendered (kept small so `Result`s stay cheap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into() }
    }

    pub(crate) fn into_response(self) -> Response {
        sf_error(self.status, self.code, &self.message)
    }
}

/// 403 `INSUFFICIENT_ACCESS`: a query of an object the integration user sees but may not read.
pub(crate) fn insufficient_access(object: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "INSUFFICIENT_ACCESS",
        format!("insufficient access rights on object {object}"),
    )
}

pub(crate) fn malformed(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "MALFORMED_QUERY", message)
}
