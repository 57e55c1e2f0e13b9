//! Authentication: from credentials to a Salesforce session.
//!
//! Takes the [`Credentials`] that `config` assembled and hands on a [`Session`]
//! (instance URL and access token). Four flows: the OAuth 2.0 JWT bearer flow
//! (server to server, the one Salesforce recommends for unattended jobs), the
//! client credentials flow (My Domain only), the refresh token flow, and an access
//! token the user already has. The same credentials log in again when a session
//! expires mid-run.
//!
//! Secrets live in `SecretString` (their Debug prints `[REDACTED]`) and are only
//! exposed at the moment they are put into a request body or header. Errors
//! carry Salesforce's `error` and `error_description`, never the request.

use std::path::{Path, PathBuf};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::endpoint::{EndpointError, endpoint_url};
use crate::http::{self, BodyLimit, TransportError};

/// A token response is a few hundred bytes; anything near this is not one.
const TOKEN_BODY_LIMIT: BodyLimit = BodyLimit { bytes: BodyLimit::MIB, setting: "the token endpoint's fixed cap" };

/// An RS256 private key, checked by signing once when loaded.
pub struct JwtKey {
    key: EncodingKey,
    path: PathBuf,
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JwtKey({}, [REDACTED])", self.path.display())
    }
}

impl JwtKey {
    pub fn load(path: &Path) -> Result<JwtKey, AuthError> {
        let pem = crate::files::read(path, crate::files::PRIVATE_KEY)
            .map_err(|source| AuthError::KeyRead { path: path.to_path_buf(), source })?;
        let bad = || AuthError::KeyParse { path: path.to_path_buf() };
        let key = EncodingKey::from_rsa_pem(&pem).map_err(|_| bad())?;
        // A certificate PEM is accepted by from_rsa_pem and only fails when signing: sign once now.
        let probe = Claims { iss: "probe".into(), sub: "probe".into(), aud: "probe".into(), exp: 0 };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &probe, &key).map_err(|_| bad())?;
        Ok(JwtKey { key, path: path.to_path_buf() })
    }
}

#[derive(Serialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
}

/// How to log in; built by `config`, used here.
#[derive(Debug)]
pub enum Credentials {
    Jwt { login_url: Url, audience: String, client_id: String, username: String, key: JwtKey },
    ClientCredentials { my_domain: Url, client_id: String, client_secret: SecretString },
    RefreshToken { login_url: Url, client_id: String, client_secret: Option<SecretString>, refresh_token: SecretString },
    AccessToken { instance_url: Url, access_token: SecretString },
}

impl Credentials {
    pub fn flow_name(&self) -> &'static str {
        match self {
            Credentials::Jwt { .. } => "jwt",
            Credentials::ClientCredentials { .. } => "client-credentials",
            Credentials::RefreshToken { .. } => "refresh-token",
            Credentials::AccessToken { .. } => "access-token",
        }
    }

    fn flow_title(&self) -> &'static str {
        match self {
            Credentials::Jwt { .. } => "JWT bearer",
            Credentials::ClientCredentials { .. } => "client credentials",
            Credentials::RefreshToken { .. } => "refresh token",
            Credentials::AccessToken { .. } => "access token",
        }
    }

    /// Whether a rejected session can be renewed by logging in again.
    pub fn can_renew(&self) -> bool {
        !matches!(self, Credentials::AccessToken { .. })
    }

    /// Logs in (or, for a given access token, just wraps it).
    pub async fn login(&self, http: &reqwest::Client) -> Result<Session, AuthError> {
        let (token_host, form): (&Url, Vec<(&str, String)>) = match self {
            Credentials::AccessToken { instance_url, access_token } => {
                return Ok(Session {
                    instance_url: instance_url.clone(),
                    access_token: access_token.clone(),
                    identity_url: None,
                });
            }
            Credentials::Jwt { login_url, audience, client_id, username, key } => {
                let claims = Claims {
                    iss: client_id.clone(),
                    sub: username.clone(),
                    aud: audience.clone(),
                    // Salesforce wants an expiry within three minutes.
                    exp: chrono::Utc::now().timestamp() + 170,
                };
                let assertion = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key.key)
                    .map_err(|_| AuthError::KeyParse { path: key.path.clone() })?;
                (
                    login_url,
                    vec![
                        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer".to_string()),
                        ("assertion", assertion),
                    ],
                )
            }
            Credentials::ClientCredentials { my_domain, client_id, client_secret } => (
                my_domain,
                vec![
                    ("grant_type", "client_credentials".to_string()),
                    ("client_id", client_id.clone()),
                    ("client_secret", client_secret.expose_secret().to_string()),
                ],
            ),
            Credentials::RefreshToken { login_url, client_id, client_secret, refresh_token } => {
                let mut form = vec![
                    ("grant_type", "refresh_token".to_string()),
                    ("refresh_token", refresh_token.expose_secret().to_string()),
                    ("client_id", client_id.clone()),
                ];
                if let Some(s) = client_secret {
                    form.push(("client_secret", s.expose_secret().to_string()));
                }
                (login_url, form)
            }
        };
        let flow = self.flow_title();
        let mut url = token_host.clone();
        url.set_path("/services/oauth2/token");
        tracing::debug!(flow, url = %url, "requesting an access token");
        let transport = |source: TransportError| AuthError::Transport { flow, url: url.to_string(), source };
        let response =
            http.post(url.clone()).form(&form).send().await.map_err(|e| transport(TransportError::from_reqwest(e)))?;
        let status = response.status();
        if let Some(location) = http::redirect_target(&response) {
            return Err(AuthError::Redirected { flow, url: url.to_string(), status: status.as_u16(), location });
        }
        let body = http::read_body(response, TOKEN_BODY_LIMIT, url.path()).await.map_err(transport)?;
        if !status.is_success() {
            return Err(match serde_json::from_slice::<TokenError>(&body) {
                Ok(e) => AuthError::Refused {
                    flow,
                    hint: hint(self, &e.error, e.error_description.as_deref().unwrap_or("")),
                    error: e.error,
                    description: e.error_description.unwrap_or_default(),
                },
                // Never echo the body: a confused proxy could reflect the form, secrets included.
                Err(_) => AuthError::Unexpected { flow, url: url.to_string(), status: status.as_u16() },
            });
        }
        let ok: TokenResponse = serde_json::from_slice(&body).map_err(|_| AuthError::Unexpected {
            flow,
            url: url.to_string(),
            status: status.as_u16(),
        })?;
        // Salesforce always names the instance; a token endpoint that does not is the instance itself.
        let instance_url = match &ok.instance_url {
            Some(u) => endpoint_url("the instance_url returned by the token endpoint", u)
                .map_err(|source| AuthError::BadInstance { source })?,
            None => token_host.clone(),
        };
        tracing::debug!(flow, instance = %instance_url, "logged in");
        Ok(Session { instance_url, access_token: SecretString::from(ok.access_token), identity_url: ok.id })
    }
}

fn hint(credentials: &Credentials, error: &str, description: &str) -> &'static str {
    let d = description.to_ascii_lowercase();
    match (credentials, error) {
        (Credentials::Jwt { .. }, "invalid_grant") if d.contains("audience") => {
            "Sandboxes log in with --login-url https://test.salesforce.com (the JWT audience follows it, or set --jwt-audience)."
        }
        (Credentials::Jwt { .. }, "invalid_grant") if d.contains("approved") => {
            "Pre-authorise the integration user: set the app's policy to \"Admin approved users are pre-authorized\" and grant it through the user's profile or a permission set."
        }
        (Credentials::Jwt { .. }, "invalid_grant") => {
            "Check --username, that the certificate uploaded to the app matches --jwt-key-file, and the machine's clock."
        }
        (_, "invalid_client_id") => "Check --client-id: it is the app's consumer key.",
        (Credentials::ClientCredentials { .. }, "invalid_client")
        | (Credentials::ClientCredentials { .. }, "invalid_grant") => {
            "Check the client id and secret, that the app enables the client credentials flow, and that it names a run-as user."
        }
        (Credentials::RefreshToken { .. }, "invalid_grant") => {
            "The refresh token is expired or revoked: authorise the app again to get a new one."
        }
        (_, "inactive_user") => "The integration user is deactivated or frozen.",
        (_, "inactive_org") => "The org is locked, deleted, or not reachable at this URL.",
        (_, "rate_limit_exceeded") => "Too many logins in a short time: wait before running again.",
        (_, "unsupported_grant_type") => "The app does not allow this flow: enable it in the app's OAuth settings.",
        _ => "Check the app's OAuth settings and the credentials given.",
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    instance_url: Option<String>,
    #[serde(default)]
    id: Option<String>,
}

#[derive(Deserialize)]
struct TokenError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// A logged-in session.
#[derive(Debug, Clone)]
pub struct Session {
    pub instance_url: Url,
    pub access_token: SecretString,
    /// The identity URL (`…/id/<orgId>/<userId>`) when the login returned one.
    pub identity_url: Option<String>,
}

impl AuthError {
    /// Worth another try: the token endpoint unreachable, timed out, or failing with 5xx.
    pub fn is_transient(&self) -> bool {
        match self {
            AuthError::Transport { source, .. } => source.is_transient(),
            AuthError::Unexpected { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot read the JWT key file {path}: {source}")]
    KeyRead { path: PathBuf, source: std::io::Error },
    #[error(
        "the JWT key file {path} is not an RSA private key in PEM form (it should begin with -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----; the certificate goes to Salesforce, the key stays here)"
    )]
    KeyParse { path: PathBuf },
    #[error("Salesforce refused the {flow} login: {error}{}. {hint}", if description.is_empty() { String::new() } else { format!(" ({description})") })]
    Refused { flow: &'static str, error: String, description: String, hint: &'static str },
    #[error("the {flow} login to {url} failed: {source}")]
    Transport {
        flow: &'static str,
        url: String,
        #[source]
        source: TransportError,
    },
    #[error("the {flow} login to {url} got an unexpected answer (HTTP {status}, not Salesforce's token response)")]
    Unexpected { flow: &'static str, url: String, status: u16 },
    #[error(
        "the {flow} login to {url} was redirected (HTTP {status}) to {location}; Salesforce's token endpoint does not redirect: is the login URL (--login-url, or --instance-url for the client credentials flow) the org's login host or My Domain URL?"
    )]
    Redirected { flow: &'static str, url: String, status: u16, location: String },
    #[error(transparent)]
    BadInstance { source: EndpointError },
}
