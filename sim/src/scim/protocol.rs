//! The parts of SCIM 2.0 (RFC 7644) both SCIM servers of the simulator answer with: listings paged
//! by `startIndex`/`count`, the Error message, and the ServiceProviderConfig.
//!
//! A leaf: the standalone SCIM server (`server`, generic and Stensul modes) and Salesforce's own
//! SCIM endpoint (`salesforce`, served by the Salesforce simulator) both take from it.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const SERVICE_PROVIDER_CONFIG: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// SCIM's media type (RFC 7644 §3.1).
pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// A SCIM JSON answer.
pub fn scim_response(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).expect("JSON values serialize");
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_CONTENT_TYPE))], bytes).into_response()
}

/// An Error message (RFC 7644 §3.12): `status` is a string.
pub fn scim_error(status: StatusCode, scim_type: Option<&str>, detail: &str) -> Response {
    let mut body = json!({"schemas": [ERROR], "status": status.as_u16().to_string(), "detail": detail});
    if let Some(t) = scim_type {
        body["scimType"] = json!(t);
    }
    scim_response(status, &body)
}

/// What a listing request asks for (RFC 7644 §3.4.2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// 1-based; a value below 1 is read as 1.
    pub start_index: usize,
    /// Resources asked for; a negative value is read as 0; absent: the server's maximum.
    pub count: Option<usize>,
}

/// Reads `startIndex` and `count` from a query string. `filter`, `sortBy` and the other listing
/// parameters are refused (what [`invalid_value`] answers), so that a client relying on them
/// learns it here. The error is the `detail`.
pub fn paging(query: Option<&str>) -> Result<Paging, String> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.unwrap_or("")).map_err(|e| format!("bad query string: {e}"))?;
    let mut paging = Paging { start_index: 1, count: None };
    for (key, value) in pairs {
        let number = || value.trim().parse::<i64>().map_err(|_| format!("{key} must be an integer"));
        match key.as_str() {
            "startIndex" => paging.start_index = number()?.max(1) as usize,
            "count" => paging.count = Some(number()?.max(0) as usize),
            other => {
                return Err(format!(
                    "sf-sim's SCIM server does not implement the parameter '{other}' (only startIndex and count)"
                ));
            }
        }
    }
    Ok(paging)
}

/// 400 `invalidValue` with `detail`: a request parameter the server cannot take.
pub fn invalid_value(detail: &str) -> Response {
    scim_error(StatusCode::BAD_REQUEST, Some("invalidValue"), detail)
}

/// The ListResponse of one page of `items`: at most `max` per page (the server's own limit,
/// below any `count` asked), `totalResults` the number of items plus `surplus` (a fault: a total
/// the server never delivers). `Resources` is left out of an empty page, as RFC 7644 allows.
pub fn list_response(items: &[Value], paging: Paging, max: usize, surplus: u64) -> Value {
    let count = paging.count.unwrap_or(max).min(max);
    let from = (paging.start_index - 1).min(items.len());
    let to = (from + count).min(items.len());
    let page = &items[from..to];
    let mut body = json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": items.len() as u64 + surplus,
        "startIndex": paging.start_index,
        "itemsPerPage": page.len(),
    });
    if !page.is_empty() {
        body["Resources"] = Value::Array(page.to_vec());
    }
    body
}

/// A ServiceProviderConfig stating `maxResults` (when `Some`), read-only, no bulk, no sort.
pub fn service_provider_config(max_results: Option<usize>, location: &str) -> Value {
    let mut filter = json!({"supported": max_results.is_some()});
    if let Some(max) = max_results {
        filter["maxResults"] = json!(max);
    }
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG],
        "patch": {"supported": false},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": filter,
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with an OAuth 2.0 bearer token"
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": location}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: usize) -> Vec<Value> {
        (1..=n).map(|i| json!({"id": format!("u{i}")})).collect()
    }

    #[test]
    fn pages_are_one_based_and_capped_by_the_server() {
        let all = items(5);
        let page = list_response(&all, Paging { start_index: 1, count: Some(2) }, 10, 0);
        assert_eq!(page["totalResults"], 5);
        assert_eq!(page["itemsPerPage"], 2);
        assert_eq!(page["Resources"][0]["id"], "u1");
        // The server's own maximum wins over a larger count.
        let page = list_response(&all, Paging { start_index: 2, count: Some(100) }, 3, 0);
        assert_eq!(page["Resources"].as_array().unwrap().len(), 3);
        assert_eq!(page["Resources"][0]["id"], "u2");
        // Past the end: an empty page without Resources.
        let page = list_response(&all, Paging { start_index: 6, count: None }, 3, 2);
        assert_eq!((page["totalResults"].as_u64(), page.get("Resources")), (Some(7), None));
    }

    #[test]
    fn paging_parameters_follow_the_rfc() {
        assert_eq!(paging(Some("startIndex=0&count=-5")).ok(), Some(Paging { start_index: 1, count: Some(0) }));
        assert_eq!(paging(None).ok(), Some(Paging { start_index: 1, count: None }));
        assert!(paging(Some("filter=userName%20eq%20%22a%22")).is_err());
        assert!(paging(Some("count=ten")).is_err());
    }
}
