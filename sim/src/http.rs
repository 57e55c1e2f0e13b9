//! The HTTP pieces both endpoints use: a JSON answer with Salesforce's content type, and a
//! request body read whole up to a bound.
//!
//! A leaf: the token endpoint (`oauth`) and the data API (`server`) both take from it, so
//! neither has to take from the other.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

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
