//! The SCIM client: a bearer token, the service provider's capabilities, and complete listings.
//!
//! Takes an [`AppConfig`] and the run's shared HTTP pieces ([`Shared`]: the `reqwest::Client`
//! of `http::client`, the retry policy, the body cap, and for the Salesforce dialect the org's
//! REST client, whose session it borrows), and hands on every resource of a listing, one at a
//! time, to the caller (the snapshot stage).
//!
//! Paging follows RFC 7644 §3.4.2.4 and what the server actually does: `startIndex` is 1-based,
//! the next page starts after the resources *received* (a server may send fewer than `count`),
//! and the listing ends when `totalResults` have arrived. A page that announces another
//! `totalResults`, starts elsewhere than asked, or is empty before the end fails the listing;
//! so does a total that does not add up. Index paging is not a snapshot, so a count that does not
//! add up is reported, never papered over.
//!
//! Every answer is read whole up to the body cap and sorted by kind, as the Salesforce client
//! does: a dropped connection, a timeout, a 5xx, a 429 or a body cut mid-JSON are retried with
//! the shared backoff, waiting what `Retry-After` asks when the server says; a rejected token is
//! renewed (client credentials, the org's session; at most [`MAX_RENEWALS`] times for one
//! request, as other requests may use a fresh session up before this one gets to it), a fixed
//! bearer token is not; a redirect,
//! an HTML page, a 403 or a SCIM error fail at once, in one line.

use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::sync::RwLock;
use url::Url;

use super::error::{ScimError, Transient};
use super::resource::{ErrorBody, ListResponse, ResourceType, ServiceProviderConfig};
use crate::config::apps::{AppAuth, AppConfig, Dialect};
use crate::http::{self, BodyLimit, RetryPolicy, TransportError};
use crate::salesforce;

/// A token response is a few hundred bytes; anything near this is not one.
const TOKEN_BODY_LIMIT: BodyLimit = BodyLimit { bytes: BodyLimit::MIB, setting: "the token endpoint's fixed cap" };
/// Where Salesforce serves SCIM on an org's My Domain.
pub const SALESFORCE_SCIM_PATH: &str = "/services/scim/v2";
/// How many times one request may get a new token after a rejection: a session can expire again
/// (used up by the run's other requests) between its renewal and this request's next try; a
/// token rejected this often is not going to work.
const MAX_RENEWALS: u32 = 3;
/// The media types asked for: SCIM's own, and plain JSON, which servers also answer.
const ACCEPT: &str = "application/scim+json, application/json";

/// What every application client of a run shares.
#[derive(Clone, Copy)]
pub struct Shared<'a> {
    pub http: &'a reqwest::Client,
    pub retry: RetryPolicy,
    pub max_body: BodyLimit,
    /// The org's client, whose session the Salesforce dialect uses.
    pub salesforce: &'a salesforce::Client,
}

/// Where the bearer token comes from.
enum Tokens<'a> {
    Fixed(SecretString),
    ClientCredentials(Box<Grant>),
    Salesforce(&'a salesforce::Client),
}

/// The OAuth 2.0 client credentials grant of an application, and the token it gave last.
struct Grant {
    token_url: Url,
    client_id: String,
    client_secret: SecretString,
    scope: Option<String>,
    /// The current token and how many were issued before it.
    current: RwLock<(SecretString, u64)>,
}

/// One application's SCIM service provider.
pub struct Client<'a> {
    app: String,
    dialect: Dialect,
    /// The base URL (for the Salesforce dialect, read from the session at each request).
    base: Option<Url>,
    shared: Shared<'a>,
    tokens: Tokens<'a>,
    requests: AtomicU64,
}

/// One request's fate.
enum Outcome {
    Done(Value),
    Unauthorized,
    /// Worth another try, after the pause the server asked for, if any.
    Transient(Transient, Option<std::time::Duration>),
    /// The resource does not exist here (a 404): for the capabilities endpoint, not fatal.
    NotFound(ScimError),
    Fatal(ScimError),
}

/// What a complete listing returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listed {
    pub total_results: u64,
    pub pages: u64,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
}

#[derive(Deserialize)]
struct TokenError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Whether a media type says JSON (or says nothing).
fn is_json(media_type: &str) -> bool {
    media_type.is_empty() || media_type == "application/json" || media_type.ends_with("+json")
}

impl<'a> Client<'a> {
    /// A client for `app`; with client credentials, the first token is fetched now, so that a
    /// refused secret fails before anything else is asked.
    pub async fn connect(app: &AppConfig, shared: Shared<'a>) -> Result<Client<'a>, ScimError> {
        let tokens = match &app.auth {
            AppAuth::Bearer { token } => Tokens::Fixed(token.clone()),
            AppAuth::SalesforceSession => Tokens::Salesforce(shared.salesforce),
            AppAuth::ClientCredentials { token_url, client_id, client_secret, scope } => {
                let first =
                    fetch_token(&app.name, shared, token_url, client_id, client_secret, scope.as_deref()).await?;
                Tokens::ClientCredentials(Box::new(Grant {
                    token_url: token_url.clone(),
                    client_id: client_id.clone(),
                    client_secret: client_secret.clone(),
                    scope: scope.clone(),
                    current: RwLock::new((first, 0)),
                }))
            }
        };
        Ok(Client {
            app: app.name.clone(),
            dialect: app.dialect,
            base: app.base_url.clone(),
            shared,
            tokens,
            requests: AtomicU64::new(0),
        })
    }

    /// Requests sent to the service provider so far (token requests not included).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The SCIM base URL: the configured one, or the org's My Domain plus `/services/scim/v2`.
    pub async fn base(&self) -> Url {
        match &self.base {
            Some(base) => base.clone(),
            None => {
                let (mut url, _, _) = self.shared.salesforce.session().await;
                url.set_path(SALESFORCE_SCIM_PATH);
                url
            }
        }
    }

    /// `base/endpoint`, with query pairs.
    fn url(base: &Url, endpoint: &str, query: &[(&str, String)]) -> Url {
        let mut url = base.clone();
        let path = format!("{}/{endpoint}", base.path().trim_end_matches('/'));
        url.set_path(&path);
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        url
    }

    /// The current token and its generation.
    async fn token(&self) -> (SecretString, u64) {
        match &self.tokens {
            Tokens::Fixed(t) => (t.clone(), 0),
            Tokens::ClientCredentials(grant) => grant.current.read().await.clone(),
            Tokens::Salesforce(sf) => {
                let (_, token, generation) = sf.session().await;
                (token, generation)
            }
        }
    }

    /// Gets a new token after the one of `generation` was rejected; `false` when it cannot be.
    async fn renew(&self, generation: u64) -> Result<bool, ScimError> {
        match &self.tokens {
            Tokens::Fixed(_) => Ok(false),
            Tokens::ClientCredentials(grant) => {
                let Grant { token_url, client_id, client_secret, scope, current } = grant.as_ref();
                let mut slot = current.write().await;
                if slot.1 == generation {
                    tracing::info!("app {}: the token was rejected; asking for a new one", self.app);
                    let fresh =
                        fetch_token(&self.app, self.shared, token_url, client_id, client_secret, scope.as_deref())
                            .await?;
                    *slot = (fresh, generation + 1);
                }
                Ok(true)
            }
            Tokens::Salesforce(sf) => sf
                .renew_rejected(generation)
                .await
                .map_err(|source| ScimError::Salesforce { app: self.app.clone(), source }),
        }
    }

    /// One GET, classified.
    async fn send_once(&self, what: &str, url: Url, token: &SecretString) -> Outcome {
        tracing::debug!(app = self.app.as_str(), path = url.path(), "GET");
        let request = self.shared.http.get(url.clone()).bearer_auth(token.expose_secret()).header("Accept", ACCEPT);
        let fatal_transport = |e: TransportError| {
            if e.is_transient() {
                Outcome::Transient(Transient::Transport(e), None)
            } else {
                Outcome::Fatal(ScimError::Transport { app: self.app.clone(), what: what.to_string(), source: e })
            }
        };
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return fatal_transport(TransportError::from_reqwest(e)),
        };
        self.requests.fetch_add(1, Ordering::Relaxed);
        let status = response.status();
        if let Some(location) = http::redirect_target(&response) {
            return Outcome::Fatal(ScimError::Redirected {
                app: self.app.clone(),
                what: what.to_string(),
                status: status.as_u16(),
                location,
            });
        }
        let retry_after = http::retry_after(&response, chrono::Utc::now());
        let media_type = http::media_type(&response);
        let body = match http::read_body(response, self.shared.max_body, url.path()).await {
            Ok(b) => b,
            Err(e) => return fatal_transport(e),
        };
        if status == StatusCode::UNAUTHORIZED {
            return Outcome::Unauthorized;
        }
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            let (scim_type, detail) = ErrorBody::read(&media_type, &body);
            let detail = match scim_type {
                Some(t) => format!("{t}: {detail}"),
                None => detail,
            };
            return Outcome::Transient(Transient::Status { status: status.as_u16(), detail }, retry_after);
        }
        if !status.is_success() {
            let (scim_type, detail) = ErrorBody::read(&media_type, &body);
            let (app, what) = (self.app.clone(), what.to_string());
            if status == StatusCode::FORBIDDEN {
                return Outcome::Fatal(ScimError::Forbidden { app, what, dialect: self.dialect, scim_type, detail });
            }
            let error = ScimError::Scim { app, what, status: status.as_u16(), scim_type, detail };
            return if status == StatusCode::NOT_FOUND { Outcome::NotFound(error) } else { Outcome::Fatal(error) };
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(value) => Outcome::Done(value),
            Err(_) if !is_json(&media_type) => Outcome::Fatal(ScimError::NotScim {
                app: self.app.clone(),
                what: what.to_string(),
                status: status.as_u16(),
                media_type,
            }),
            Err(source) if source.classify() == serde_json::error::Category::Eof => {
                Outcome::Transient(Transient::CutJson { source }, None)
            }
            Err(source) => {
                Outcome::Fatal(ScimError::MalformedJson { app: self.app.clone(), what: what.to_string(), source })
            }
        }
    }

    /// GET as JSON: transient failures retried with backoff (or the server's `Retry-After`), a
    /// rejected token renewed (at most [`MAX_RENEWALS`] times), everything else fails at once. `Ok(None)` for a 404 when
    /// `missing_ok`.
    async fn get_json(
        &self,
        endpoint: &str,
        query: &[(&str, String)],
        missing_ok: bool,
    ) -> Result<Option<Value>, ScimError> {
        let mut attempt: u32 = 0;
        let mut renewals = 0;
        loop {
            let url = Self::url(&self.base().await, endpoint, query);
            let what = match query.iter().find(|(k, _)| *k == "startIndex") {
                Some((_, at)) => format!("GET {} (startIndex {at})", url.path()),
                None => format!("GET {}", url.path()),
            };
            let (token, generation) = self.token().await;
            match self.send_once(&what, url, &token).await {
                Outcome::Done(v) => {
                    if let Tokens::Salesforce(sf) = &self.tokens {
                        sf.session_worked(generation);
                    }
                    return Ok(Some(v));
                }
                Outcome::NotFound(_) if missing_ok => return Ok(None),
                Outcome::NotFound(e) | Outcome::Fatal(e) => return Err(e),
                Outcome::Unauthorized => {
                    if renewals < MAX_RENEWALS && self.renew(generation).await? {
                        renewals += 1;
                        continue;
                    }
                    return Err(self.rejected(what, renewals > 0));
                }
                Outcome::Transient(reason, retry_after) => {
                    attempt += 1;
                    if attempt > self.shared.retry.retries {
                        return Err(ScimError::GaveUp { app: self.app.clone(), what, attempts: attempt, last: reason });
                    }
                    let pause = self.shared.retry.pause(attempt, retry_after);
                    let asked = if retry_after.is_some() { " (as Retry-After asks)" } else { "" };
                    tracing::warn!(
                        "app {}: {what}: {reason}; retry {attempt} of {} in {:.1} s{asked}",
                        self.app,
                        self.shared.retry.retries,
                        pause.as_secs_f64()
                    );
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    /// The error for a token rejected when it cannot be renewed, or again right after it was.
    fn rejected(&self, what: String, renewed: bool) -> ScimError {
        match self.tokens {
            Tokens::Salesforce(_) => ScimError::Salesforce {
                app: self.app.clone(),
                source: salesforce::SalesforceError::SessionRejected { what, renewable: renewed },
            },
            _ => ScimError::Unauthorized { app: self.app.clone(), what, renewable: renewed },
        }
    }

    /// The service provider's capabilities (`ServiceProviderConfig`; Salesforce's
    /// `ServiceProviderConfigs`), read first to learn the page limit. `None`, with a warning,
    /// when the provider does not serve it: paging still follows what each page holds.
    pub async fn capabilities(&self) -> Result<Option<ServiceProviderConfig>, ScimError> {
        let endpoint =
            if self.dialect == Dialect::Salesforce { "ServiceProviderConfigs" } else { "ServiceProviderConfig" };
        let Some(value) = self.get_json(endpoint, &[], true).await? else {
            tracing::warn!(
                "app {}: no {endpoint} (HTTP 404): the page size is the configured one, and each page is taken as it comes",
                self.app
            );
            return Ok(None);
        };
        serde_json::from_value(value).map(Some).map_err(|e| ScimError::BadResponse {
            app: self.app.clone(),
            what: format!("GET {endpoint}"),
            detail: format!("not a ServiceProviderConfig ({e})"),
        })
    }

    /// Lists every resource of `resource`, `count` asked per page, handing each (a JSON object) to
    /// `each` as it arrives.
    pub async fn list<E: From<ScimError>>(
        &self,
        resource: ResourceType,
        count: u32,
        mut each: impl FnMut(Map<String, Value>) -> Result<(), E>,
    ) -> Result<Listed, E> {
        let endpoint = resource.endpoint();
        let inconsistent =
            |detail: String| ScimError::Inconsistent { app: self.app.clone(), resource: endpoint.to_string(), detail };
        let mut start: u64 = 1;
        let mut expected: Option<u64> = None;
        let mut received: u64 = 0;
        let mut pages: u64 = 0;
        loop {
            let query = [("startIndex", start.to_string()), ("count", count.to_string())];
            let value = self.get_json(endpoint, &query, false).await?.expect("a 404 is an error here");
            let page: ListResponse = serde_json::from_value(value).map_err(|e| ScimError::BadResponse {
                app: self.app.clone(),
                what: format!("GET {endpoint} (startIndex {start})"),
                detail: format!("not a ListResponse ({e})"),
            })?;
            pages += 1;
            if let Some(at) = page.start_index
                && at != start
            {
                return Err(inconsistent(format!("the page asked from startIndex {start} starts at {at}")).into());
            }
            let total = *expected.get_or_insert(page.total_results);
            if page.total_results != total {
                return Err(inconsistent(format!(
                    "page {pages} announces totalResults {} where the first page announced {total}: \
                     resources were created or deleted during the listing; run again",
                    page.total_results
                ))
                .into());
            }
            let n = page.resources.len() as u64;
            for resource in page.resources {
                let Value::Object(record) = resource else {
                    return Err(ScimError::BadResponse {
                        app: self.app.clone(),
                        what: format!("GET {endpoint} (startIndex {start})"),
                        detail: format!("a resource is not a JSON object but {}", salesforce::json_kind(&resource)),
                    }
                    .into());
                };
                each(record)?;
            }
            received += n;
            tracing::debug!(app = self.app.as_str(), endpoint, pages, received, total, "page received");
            if received == total {
                break;
            }
            // More than announced, or a server that stops delivering before the total (asking
            // again from the same place would loop forever): either way the count does not add up.
            if received > total || n == 0 {
                return Err(ScimError::Incomplete {
                    app: self.app.clone(),
                    resource: endpoint.to_string(),
                    expected: total,
                    received,
                }
                .into());
            }
            start += n;
        }
        Ok(Listed { total_results: expected.unwrap_or(0), pages })
    }
}

/// Asks the token endpoint for a token with the client credentials grant, retrying what is
/// transient (unreachable, timed out, 5xx, 429).
async fn fetch_token(
    app: &str,
    shared: Shared<'_>,
    token_url: &Url,
    client_id: &str,
    client_secret: &SecretString,
    scope: Option<&str>,
) -> Result<SecretString, ScimError> {
    let mut attempt = 0;
    loop {
        match fetch_token_once(app, shared.http, token_url, client_id, client_secret, scope).await {
            Ok(token) => return Ok(token),
            Err((e, retry_after)) if attempt < shared.retry.retries && is_transient_token_error(&e) => {
                attempt += 1;
                let pause = shared.retry.pause(attempt, retry_after);
                tracing::warn!("{e}; retry {attempt} of {} in {:.1} s", shared.retry.retries, pause.as_secs_f64());
                tokio::time::sleep(pause).await;
            }
            Err((e, _)) => return Err(e),
        }
    }
}

fn is_transient_token_error(e: &ScimError) -> bool {
    match e {
        ScimError::TokenTransport { source, .. } => source.is_transient(),
        ScimError::TokenUnexpected { status, .. } => *status >= 500 || *status == 429,
        _ => false,
    }
}

async fn fetch_token_once(
    app: &str,
    http: &reqwest::Client,
    token_url: &Url,
    client_id: &str,
    client_secret: &SecretString,
    scope: Option<&str>,
) -> Result<SecretString, (ScimError, Option<std::time::Duration>)> {
    let mut form = vec![
        ("grant_type", "client_credentials".to_string()),
        ("client_id", client_id.to_string()),
        ("client_secret", client_secret.expose_secret().to_string()),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope.to_string()));
    }
    let url = token_url.to_string();
    tracing::debug!(app, url = url.as_str(), "requesting an access token (client credentials)");
    let transport =
        |source: TransportError| (ScimError::TokenTransport { app: app.to_string(), url: url.clone(), source }, None);
    let response = http
        .post(token_url.clone())
        .header("Accept", "application/json")
        .form(&form)
        .send()
        .await
        .map_err(|e| transport(TransportError::from_reqwest(e)))?;
    let status = response.status();
    let unexpected = |status: StatusCode, retry_after| {
        (ScimError::TokenUnexpected { app: app.to_string(), url: url.clone(), status: status.as_u16() }, retry_after)
    };
    if status.is_redirection() {
        return Err(unexpected(status, None));
    }
    let retry_after = http::retry_after(&response, chrono::Utc::now());
    let body = http::read_body(response, TOKEN_BODY_LIMIT, token_url.path()).await.map_err(transport)?;
    if !status.is_success() {
        return Err(match serde_json::from_slice::<TokenError>(&body) {
            Ok(e) if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS => (
                ScimError::TokenRefused {
                    app: app.to_string(),
                    url: url.clone(),
                    error: super::resource::one_line(&e.error),
                    description: e.error_description.as_deref().map(super::resource::one_line).unwrap_or_default(),
                },
                None,
            ),
            // Never echo the body: a confused proxy could reflect the form, the secret included.
            _ => unexpected(status, retry_after),
        });
    }
    let ok: TokenResponse = serde_json::from_slice(&body).map_err(|_| unexpected(status, None))?;
    if ok.access_token.trim().is_empty() {
        return Err(unexpected(status, None));
    }
    Ok(SecretString::from(ok.access_token))
}
