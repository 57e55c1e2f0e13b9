//! SCIM 2.0 service providers for access-audit's tests: a standalone server (generic and Stensul
//! modes) and Salesforce's own SCIM endpoint, served by the Salesforce simulator from its org.
//!
//! A [`ScimSim`] serves one application's users and groups on `127.0.0.1`: an OAuth 2.0 token
//! endpoint for the client credentials grant (`POST /oauth/token`, form fields or HTTP Basic),
//! and under `/scim/v2` the `ServiceProviderConfig`, `ResourceTypes`, `Schemas`, `Users` and
//! `Groups`, listed as RFC 7644 §3.4.2.4 says: `startIndex` 1-based, at most the server's own
//! maximum per page whatever `count` asks (so a client gets fewer than it asked), `totalResults`
//! over the whole listing, `Resources` absent from an empty page, errors as SCIM Error messages.
//!
//! [`ScimMode::Stensul`] behaves as SCIM.md describes Stensul: soft-deleted users appear in no
//! GET, groups are roles and read-only (any write answers 501), users do not carry `groups` (so
//! membership comes from `/Groups`), and a caller whose address is not on the API connection's
//! allowlist gets 403, a configuration error. [`ScimMode::Generic`] lists users with their
//! `groups`. Salesforce's mode lives in [`salesforce`], part of the Salesforce simulator, so that
//! its users are the org's: same Ids, usernames, active flags and permission set assignments.
//!
//! Faults ([`ScimFaults`]) are deterministic: a page limit the server does not advertise, a
//! `totalResults` above what it delivers, the first requests answered 429 with `Retry-After` or
//! 503, tokens that expire after some uses, an error for one endpoint. Every request is logged
//! ([`ScimRequest`]) so that tests can see what the client asked and when.

pub(crate) mod protocol;
pub mod salesforce;
mod server;

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};

use crate::serving::Serving;
pub use salesforce::ScimDrift;

/// Where the SCIM resources live on a [`ScimSim`].
pub const SCIM_BASE_PATH: &str = "/scim/v2";
/// The token endpoint of a [`ScimSim`].
pub const TOKEN_PATH: &str = "/oauth/token";

/// Which service provider a [`ScimSim`] plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimMode {
    /// A plain RFC 7643/7644 service provider; users carry their `groups`.
    Generic,
    /// Stensul (see the module documentation).
    Stensul,
}

/// A user account of the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimUser {
    pub id: String,
    pub user_name: String,
    pub external_id: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// Work emails; the first is primary.
    pub emails: Vec<String>,
    pub active: bool,
    /// Soft-deleted (Stensul): in no GET at all.
    pub deleted: bool,
}

impl ScimUser {
    /// An active account `id` with `user_name` as its only email.
    pub fn new(id: &str, user_name: &str) -> ScimUser {
        ScimUser {
            id: id.to_string(),
            user_name: user_name.to_string(),
            external_id: None,
            given_name: None,
            family_name: None,
            emails: vec![user_name.to_string()],
            active: true,
            deleted: false,
        }
    }
}

/// A group of the application (in Stensul, a role).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimGroup {
    pub id: String,
    pub display_name: String,
    /// Ids of the member users.
    pub members: Vec<String>,
}

/// Faults a [`ScimSim`] injects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScimFaults {
    /// At most this many resources per page, below the advertised maximum and any `count`
    /// (a server that returns fewer than asked without saying so).
    pub page_limit: Option<usize>,
    /// Added to the `totalResults` of `Users` listings: resources announced, never delivered.
    pub users_surplus: u64,
    /// The first this-many SCIM requests are answered 429 with `Retry-After: retry_after_secs`.
    pub rate_limited: u64,
    pub retry_after_secs: u64,
    /// The next this-many SCIM requests (after the rate-limited ones) are answered 503.
    pub unavailable: u64,
    /// A token is refused (401) once it has been used this many times.
    pub expire_tokens_after: Option<u64>,
    /// `(endpoint, status, scimType, detail)`: every request to `endpoint` (`Users`, `Groups`,
    /// `ServiceProviderConfig`) is answered with this SCIM error.
    pub error: Option<(String, u16, Option<String>, String)>,
}

/// What a [`ScimSim`] starts with.
#[derive(Debug, Clone)]
pub struct ScimConfig {
    pub mode: ScimMode,
    pub users: Vec<ScimUser>,
    pub groups: Vec<ScimGroup>,
    /// The API connection's client id and secret (client credentials grant).
    pub client_id: String,
    pub client_secret: String,
    /// Bearer tokens valid from the start.
    pub tokens: Vec<String>,
    /// The server's page maximum, stated as `filter.maxResults` in its ServiceProviderConfig.
    pub max_results: usize,
    /// Whether the ServiceProviderConfig states `maxResults` (else the client learns nothing).
    pub advertise_max_results: bool,
    /// Whether user resources carry `groups` (default: generic yes, Stensul no).
    pub users_carry_groups: bool,
    /// Addresses the API connection accepts; `None`: any (Stensul's egress allowlist).
    pub allowed_ips: Option<Vec<IpAddr>>,
    pub faults: ScimFaults,
}

impl ScimConfig {
    /// Defaults for `mode`: client `scim-client-id` / `scim-client-secret`, 100 per page, advertised.
    pub fn new(mode: ScimMode, users: Vec<ScimUser>, groups: Vec<ScimGroup>) -> ScimConfig {
        ScimConfig {
            mode,
            users,
            groups,
            client_id: "scim-client-id".into(),
            client_secret: "scim-client-secret".into(),
            tokens: Vec::new(),
            max_results: 100,
            advertise_max_results: true,
            users_carry_groups: mode == ScimMode::Generic,
            allowed_ips: None,
            faults: ScimFaults::default(),
        }
    }
}

/// One request the server received, as tests read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimRequest {
    pub method: String,
    /// The path without the query, e.g. `/scim/v2/Users`.
    pub path: String,
    pub start_index: Option<usize>,
    pub count: Option<usize>,
    pub status: u16,
    /// When it arrived, from the server's start.
    pub at: Duration,
}

/// The live state of a [`ScimSim`].
#[derive(Debug)]
pub struct ScimState {
    pub config: ScimConfig,
    /// Valid bearer tokens: the configured ones plus every token issued.
    pub tokens: HashSet<String>,
    /// Every token the token endpoint issued, in order.
    pub issued_tokens: Vec<String>,
    pub token_requests: u64,
    pub requests: Vec<ScimRequest>,
    pub(crate) token_uses: std::collections::HashMap<String, u64>,
    /// SCIM requests seen (for the rate-limited and unavailable faults).
    pub(crate) seen: u64,
    pub(crate) started: Instant,
    pub(crate) base_url: String,
}

impl ScimState {
    /// The users a GET shows: soft-deleted ones left out.
    pub(crate) fn visible_users(&self) -> impl Iterator<Item = &ScimUser> {
        self.config.users.iter().filter(|u| !u.deleted)
    }

    /// A user as its resource.
    pub(crate) fn user_resource(&self, user: &ScimUser) -> Value {
        let base = format!("{}{SCIM_BASE_PATH}", self.base_url);
        let formatted = [&user.given_name, &user.family_name].iter().filter_map(|s| s.as_deref()).collect::<Vec<_>>();
        let mut resource = json!({
            "schemas": [protocol::USER_SCHEMA],
            "id": user.id,
            "userName": user.user_name,
            "active": user.active,
            "emails": user.emails.iter().enumerate()
                .map(|(i, e)| json!({"value": e, "type": "work", "primary": i == 0}))
                .collect::<Vec<_>>(),
            "meta": {"resourceType": "User", "location": format!("{base}/Users/{}", user.id)},
        });
        if let Some(x) = &user.external_id {
            resource["externalId"] = json!(x);
        }
        if !formatted.is_empty() {
            resource["name"] = json!({
                "formatted": formatted.join(" "),
                "givenName": user.given_name,
                "familyName": user.family_name,
            });
            resource["displayName"] = json!(formatted.join(" "));
        }
        if self.config.users_carry_groups {
            let groups: Vec<Value> = self
                .config
                .groups
                .iter()
                .filter(|g| g.members.contains(&user.id))
                .map(|g| json!({"value": g.id, "display": g.display_name, "$ref": format!("{base}/Groups/{}", g.id)}))
                .collect();
            resource["groups"] = Value::Array(groups);
        }
        resource
    }

    /// A group as its resource; soft-deleted members are not shown.
    pub(crate) fn group_resource(&self, group: &ScimGroup) -> Value {
        let base = format!("{}{SCIM_BASE_PATH}", self.base_url);
        let hidden: HashSet<&str> = self.config.users.iter().filter(|u| u.deleted).map(|u| u.id.as_str()).collect();
        let members: Vec<Value> = group
            .members
            .iter()
            .filter(|m| !hidden.contains(m.as_str()))
            .map(|m| json!({"value": m, "$ref": format!("{base}/Users/{m}"), "type": "User"}))
            .collect();
        json!({
            "schemas": [protocol::GROUP_SCHEMA],
            "id": group.id,
            "displayName": group.display_name,
            "members": members,
            "meta": {"resourceType": "Group", "location": format!("{base}/Groups/{}", group.id)},
        })
    }
}

pub(crate) struct ScimShared {
    state: Mutex<ScimState>,
}

impl ScimShared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, ScimState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running SCIM server; it stops when dropped.
pub struct ScimSim {
    shared: Arc<ScimShared>,
    base_url: String,
    _serving: Serving,
}

impl ScimSim {
    /// Starts a SCIM server on `127.0.0.1` at a free port.
    pub fn start(config: ScimConfig) -> anyhow::Result<ScimSim> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .context("binding 127.0.0.1 for sf-sim SCIM")?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let state = ScimState {
            tokens: config.tokens.iter().cloned().collect(),
            config,
            issued_tokens: Vec::new(),
            token_requests: 0,
            requests: Vec::new(),
            token_uses: Default::default(),
            seen: 0,
            started: Instant::now(),
            base_url: base_url.clone(),
        };
        let shared = Arc::new(ScimShared { state: Mutex::new(state) });
        let app = server::router(shared.clone());
        let serving = Serving::spawn("sf-sim-scim", listener, move |listener| async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
        })?;
        Ok(ScimSim { shared, base_url, _serving: serving })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The SCIM base, `http://127.0.0.1:PORT/scim/v2`.
    pub fn scim_url(&self) -> String {
        format!("{}{SCIM_BASE_PATH}", self.base_url)
    }

    /// The token endpoint, `http://127.0.0.1:PORT/oauth/token`.
    pub fn token_url(&self) -> String {
        format!("{}{TOKEN_PATH}", self.base_url)
    }

    /// Every request so far, in order (token requests not included).
    pub fn requests(&self) -> Vec<ScimRequest> {
        self.shared.lock().requests.clone()
    }

    /// Every token issued so far.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared.lock().issued_tokens.clone()
    }

    /// Runs `f` on the live state under the server's lock: keep it short.
    pub fn with_state<R>(&self, f: impl FnOnce(&mut ScimState) -> R) -> R {
        f(&mut self.shared.lock())
    }
}

impl std::fmt::Debug for ScimSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScimSim").field("base_url", &self.base_url).finish()
    }
}
