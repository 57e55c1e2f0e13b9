//! The OAuth 2.0 token endpoint, `POST /services/oauth2/token`.
//!
//! Takes a form-encoded body and answers as Salesforce does: a JSON object
//! with `access_token`, `instance_url` (the simulator's own base URL), `id`,
//! `token_type`, `scope` (plus `issued_at` and `signature` for the client
//! credentials and refresh token flows), or HTTP 400 with
//! `{"error", "error_description"}`. Three grants are implemented: JWT bearer
//! (RS256 assertion verified with the configured public key; `iss`, `aud`,
//! `exp`, `sub`/`prn` checked), client credentials (form fields or HTTP
//! Basic), and refresh token. Each issued token joins the set of valid access
//! tokens. Parameters the simulator does not understand are refused with
//! `invalid_request` rather than ignored.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::http::{json_response, read_body};
use crate::{GRANT_CLIENT_CREDENTIALS, GRANT_JWT_BEARER, GRANT_MISSING, GRANT_REFRESH_TOKEN, Shared, SimState};

/// Audiences the JWT bearer flow accepts.
pub const JWT_AUDIENCES: &[&str] = &["https://login.salesforce.com", "https://test.salesforce.com"];
/// How far in the future a JWT `exp` may be (Salesforce documents 3 minutes;
/// clients commonly use up to 5).
pub const JWT_MAX_LIFETIME_SECS: f64 = 300.0;

/// A token endpoint error: HTTP 400 `{"error", "error_description"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OAuthError {
    error: &'static str,
    description: String,
}

fn oauth_error(error: &'static str, description: impl Into<String>) -> OAuthError {
    OAuthError { error, description: description.into() }
}

fn invalid_request(description: impl Into<String>) -> OAuthError {
    oauth_error("invalid_request", description)
}

fn invalid_grant(description: impl Into<String>) -> OAuthError {
    oauth_error("invalid_grant", description)
}

/// Handles one token request, counting it.
pub(crate) async fn token(shared: &Shared, parts: &Parts, body: Body) -> Response {
    let body = read_body(body).await;
    let mut st = shared.lock();
    st.stats.token_requests += 1;
    let (grant, result) = match parse_form(parts, body) {
        Ok(form) => {
            let grant =
                form.get("grant_type").and_then(Value::as_str).map_or(GRANT_MISSING.to_string(), str::to_string);
            let result = grant_token(&mut st, &parts.headers, &grant, &form);
            (grant, result)
        }
        Err(e) => (GRANT_MISSING.to_string(), Err(e)),
    };
    *st.stats.token_requests_by_grant.entry(grant).or_default() += 1;
    match result {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(e) => {
            st.stats.token_errors += 1;
            json_response(StatusCode::BAD_REQUEST, &json!({"error": e.error, "error_description": e.description}))
        }
    }
}

/// The form fields of a POST with an `application/x-www-form-urlencoded` body.
fn parse_form(parts: &Parts, body: Result<axum::body::Bytes, String>) -> Result<Map<String, Value>, OAuthError> {
    if parts.method != Method::POST {
        return Err(invalid_request("must use HTTP POST"));
    }
    if parts.uri.query().is_some() {
        return Err(invalid_request("sf-sim: token parameters must be in the form body, not the URL"));
    }
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(invalid_request(format!(
            "sf-sim: the body must be application/x-www-form-urlencoded, got '{content_type}'"
        )));
    }
    let body = body.map_err(invalid_request)?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|e| invalid_request(format!("sf-sim: cannot decode the form body: {e}")))?;
    let mut form = Map::new();
    for (key, value) in pairs {
        if form.contains_key(&key) {
            return Err(invalid_request(format!("duplicate parameter: {key}")));
        }
        form.insert(key, Value::String(value));
    }
    Ok(form)
}

fn grant_token(
    st: &mut SimState,
    headers: &HeaderMap,
    grant: &str,
    form: &Map<String, Value>,
) -> Result<Value, OAuthError> {
    let allowed: &[&str] = match grant {
        GRANT_JWT_BEARER => &["grant_type", "assertion"],
        GRANT_CLIENT_CREDENTIALS => &["grant_type", "client_id", "client_secret"],
        GRANT_REFRESH_TOKEN => &["grant_type", "refresh_token", "client_id", "client_secret"],
        _ => {
            return Err(oauth_error("unsupported_grant_type", "grant type not supported"));
        }
    };
    if let Some(key) = form.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(invalid_request(format!("sf-sim does not implement the parameter '{key}' for grant_type {grant}")));
    }
    let field = |name: &str| form.get(name).and_then(Value::as_str);
    match grant {
        GRANT_JWT_BEARER => {
            let username = verify_assertion(st, field("assertion").unwrap_or(""))?;
            check_user_active(st, &username)?;
            Ok(issue(st, &username, false))
        }
        GRANT_CLIENT_CREDENTIALS => {
            let basic = basic_credentials(headers)?;
            let (id, secret) = match (basic, field("client_id"), field("client_secret")) {
                (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                    return Err(invalid_request(
                        "sf-sim: client credentials given both in the body and in HTTP Basic auth",
                    ));
                }
                (Some((id, secret)), None, None) => (id, secret),
                (None, id, secret) => (id.unwrap_or("").to_string(), secret.unwrap_or("").to_string()),
            };
            if id != st.client_id || secret != st.client_secret {
                return Err(oauth_error("invalid_client", "invalid client credentials"));
            }
            let username = run_as_user(st);
            check_user_active(st, &username)?;
            Ok(issue(st, &username, true))
        }
        GRANT_REFRESH_TOKEN => {
            if field("client_id") != Some(st.client_id.as_str()) {
                return Err(oauth_error("invalid_client_id", "client identifier invalid"));
            }
            if let Some(secret) = field("client_secret")
                && secret != st.client_secret
            {
                return Err(oauth_error("invalid_client", "invalid client credentials"));
            }
            let token = field("refresh_token").unwrap_or("");
            if !st.refresh_tokens.iter().any(|t| t == token) {
                return Err(invalid_grant("expired access/refresh token"));
            }
            let username = run_as_user(st);
            check_user_active(st, &username)?;
            Ok(issue(st, &username, true))
        }
        _ => unreachable!("grant checked above"),
    }
}

/// `Authorization: Basic base64(client_id:client_secret)`, if present.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || oauth_error("invalid_client", "invalid client credentials");
    let value = value.to_str().map_err(|_| bad())?;
    let (scheme, encoded) = value.trim().split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("Basic") {
        return Err(invalid_request(format!(
            "sf-sim: unexpected Authorization scheme '{scheme}' on the token endpoint"
        )));
    }
    let decoded = BASE64.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    Ok(Some((id.to_string(), secret.to_string())))
}

/// The user of the client credentials and refresh token flows: the first
/// configured integration username (empty if none is configured).
fn run_as_user(st: &SimState) -> String {
    st.usernames.first().cloned().unwrap_or_default()
}

/// A user whose `User` record says `IsActive: false` cannot get a token.
fn check_user_active(st: &SimState, username: &str) -> Result<(), OAuthError> {
    let inactive = st.user(username).and_then(|u| u.get("IsActive")).and_then(Value::as_bool) == Some(false);
    if inactive {
        return Err(oauth_error("inactive_user", "user is inactive"));
    }
    Ok(())
}

fn now_secs() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// The verification key from an RSA public key or certificate PEM. A private
/// key is refused: jsonwebtoken would accept it here and then fail every
/// verification, which would look like a client bug.
pub(crate) fn check_public_key(pem: &str) -> anyhow::Result<DecodingKey> {
    if pem.contains("PRIVATE KEY-----") {
        anyhow::bail!("the JWT verification key is a private key; give the public key or the certificate");
    }
    DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| {
        anyhow::anyhow!("the JWT verification key is not an RSA public key or certificate in PEM form: {e}")
    })
}

/// Verifies a JWT bearer assertion; returns the username it is for.
fn verify_assertion(st: &SimState, assertion: &str) -> Result<String, OAuthError> {
    let invalid_assertion = || invalid_grant("invalid assertion");
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| invalid_assertion())?;
    if header.alg != Algorithm::RS256 {
        return Err(invalid_assertion());
    }
    let Some(pem) = &st.jwt_public_key_pem else {
        return Err(invalid_grant(
            "invalid assertion (sf-sim: no JWT public key is configured; start it with --jwt-public-key)",
        ));
    };
    let key = check_public_key(pem).map_err(|e| {
        invalid_grant(format!("invalid assertion (sf-sim: the configured JWT public key is unusable: {e:#})"))
    })?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Map<String, Value>>(assertion, &key, &validation)
        .map_err(|_| invalid_assertion())?
        .claims;

    if claims.get("iss").and_then(Value::as_str) != Some(st.client_id.as_str()) {
        return Err(oauth_error("invalid_client_id", "client identifier invalid"));
    }
    let aud = claims.get("aud").and_then(Value::as_str).unwrap_or("");
    if !JWT_AUDIENCES.contains(&aud) {
        return Err(invalid_grant("audience is invalid"));
    }
    let Some(exp) = claims.get("exp").and_then(Value::as_f64) else {
        return Err(invalid_assertion());
    };
    let now = now_secs();
    if exp <= now {
        return Err(invalid_grant("expired authorization code"));
    }
    if exp > now + JWT_MAX_LIFETIME_SECS + 1.0 {
        return Err(invalid_grant("invalid assertion (sf-sim: exp is more than 5 minutes ahead)"));
    }
    // `prn` is the legacy name of `sub`; if both are present, `prn` wins.
    let username = claims.get("prn").or_else(|| claims.get("sub")).and_then(Value::as_str).unwrap_or("");
    if !st.usernames.iter().any(|u| u.eq_ignore_ascii_case(username)) {
        return Err(invalid_grant("user hasn't approved this consumer"));
    }
    Ok(username.to_string())
}

/// Issues (and registers) an access token for `username`.
fn issue(st: &mut SimState, username: &str, with_signature: bool) -> Value {
    let org15: String = st.org_id.chars().take(15).collect();
    let random: String = rand::rng().sample_iter(&Alphanumeric).take(96).map(char::from).collect();
    let access_token = format!("{org15}!AQ{random}");
    st.access_tokens.insert(access_token.clone());
    st.issued_tokens.push(access_token.clone());
    let id = format!("{}/id/{}/{}", st.base_url, st.org_id, st.user_id(username));
    let mut body = Map::new();
    body.insert("access_token".into(), json!(access_token));
    body.insert("instance_url".into(), json!(st.base_url));
    body.insert("id".into(), json!(id));
    body.insert("token_type".into(), json!("Bearer"));
    body.insert("scope".into(), json!("api"));
    if with_signature {
        let issued_at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis()).to_string();
        // As Salesforce: HMAC-SHA256 of id + issued_at keyed with the secret.
        let mac = hmac_sha256(st.client_secret.as_bytes(), format!("{id}{issued_at}").as_bytes());
        body.insert("issued_at".into(), json!(issued_at));
        body.insert("signature".into(), json!(BASE64.encode(mac)));
    }
    Value::Object(body)
}

/// HMAC-SHA256 (RFC 2104).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn hmac_long_key_is_hashed_first() {
        // RFC 4231 case 6: 131-byte key.
        let mac = hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    }
}
