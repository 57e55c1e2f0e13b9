//! Salesforce's own SCIM endpoint, `/services/scim/v2/`, served by the Salesforce simulator from
//! its org, so that SCIM and SOQL describe the same users.
//!
//! A user's resource is its `User` record: `id` the User Id, `userName` the Username, `active`
//! IsActive, `externalId` the FederationIdentifier, `emails` the Email; its `entitlements` are its
//! profile (`ProfileId`, type `Profile`) and every permission set assigned to it directly
//! (`PermissionSetAssignment` rows that are not profile-owned and not through a permission set
//! group; type `Permission Set`, `display` the label). The capabilities are at
//! `ServiceProviderConfigs` (plural, as Salesforce spells it) and state `maxResults` 200, which
//! is also the most one page holds. `Groups` (public groups) is empty: the simulated org has none.
//! Requests need a valid access token of the org, count against its API usage, and are counted
//! in [`crate::StatsSnapshot::scim_requests`].
//!
//! [`ScimDrift`] makes SCIM's view differ from SOQL's on purpose (a deactivation or an
//! assignment that one API shows and the other not yet), for tests of the cross-check.

use std::collections::{BTreeMap, BTreeSet};

use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::protocol::{self, scim_error, scim_response};
use crate::SimState;
use crate::org::Record;

/// Where Salesforce serves SCIM on the org's My Domain.
pub const SALESFORCE_SCIM_PATH: &str = "/services/scim/v2";
/// The most resources one page holds (and `filter.maxResults`).
pub const SALESFORCE_MAX_RESULTS: usize = 200;

/// Differences between what SCIM shows and what the org's records say, by User Id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScimDrift {
    /// `active` as SCIM shows it, where it differs from IsActive.
    pub active: BTreeMap<String, bool>,
    /// Entitlements SCIM shows beyond the org's assignments: (permission set Id, label).
    pub extra_entitlements: BTreeMap<String, Vec<(String, String)>>,
    /// Permission set Ids assigned in the org that SCIM does not show.
    pub hidden_entitlements: BTreeMap<String, Vec<String>>,
}

fn text<'a>(record: &'a Record, field: &str) -> Option<&'a str> {
    record.get(field).and_then(Value::as_str)
}

/// Direct, non-profile-owned assignments by assignee: (permission set Id, label or name).
fn direct_assignments(st: &SimState) -> BTreeMap<String, Vec<(String, String)>> {
    let mut by_user: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for psa in st.records("PermissionSetAssignment") {
        let ps = psa.get("PermissionSet").and_then(Value::as_object);
        let owned = ps.and_then(|p| p.get("IsOwnedByProfile")).and_then(Value::as_bool) == Some(true);
        let via_group = psa.get("PermissionSetGroupId").is_some_and(|v| !v.is_null());
        let (Some(user), Some(ps_id)) = (text(psa, "AssigneeId"), text(psa, "PermissionSetId")) else { continue };
        if owned || via_group {
            continue;
        }
        let label = ps
            .and_then(|p| p.get("Label").or_else(|| p.get("Name")))
            .and_then(Value::as_str)
            .unwrap_or(ps_id)
            .to_string();
        by_user.entry(user.to_string()).or_default().push((ps_id.to_string(), label));
    }
    by_user
}

/// The SCIM resource of one `User` record.
fn user_resource(st: &SimState, user: &Record, assigned: &BTreeMap<String, Vec<(String, String)>>) -> Value {
    let base = format!("{}{SALESFORCE_SCIM_PATH}", st.base_url());
    let id = text(user, "Id").unwrap_or_default();
    let drift = &st.scim_drift;
    let mut entitlements = Vec::new();
    if let Some(profile) = text(user, "ProfileId") {
        let name = user.get("Profile").and_then(|p| p.get("Name")).and_then(Value::as_str).unwrap_or(profile);
        entitlements.push(json!({"value": profile, "display": name, "type": "Profile", "primary": true}));
    }
    let hidden: BTreeSet<&String> = drift.hidden_entitlements.get(id).into_iter().flatten().collect();
    let extra = drift.extra_entitlements.get(id).into_iter().flatten();
    for (ps, label) in assigned.get(id).into_iter().flatten().filter(|(ps, _)| !hidden.contains(ps)).chain(extra) {
        entitlements.push(json!({"value": ps, "display": label, "type": "Permission Set"}));
    }
    let active = drift.active.get(id).copied().or_else(|| user.get("IsActive").and_then(Value::as_bool));
    let mut resource = Map::new();
    resource.insert("schemas".into(), json!([protocol::USER_SCHEMA, protocol::ENTERPRISE_USER]));
    resource.insert("id".into(), json!(id));
    resource.insert("userName".into(), json!(text(user, "Username")));
    if let Some(fed) = text(user, "FederationIdentifier") {
        resource.insert("externalId".into(), json!(fed));
    }
    resource.insert(
        "name".into(),
        json!({"formatted": text(user, "Name"), "givenName": text(user, "FirstName"), "familyName": text(user, "LastName")}),
    );
    resource.insert("displayName".into(), json!(text(user, "Name")));
    if let Some(email) = text(user, "Email") {
        resource.insert("emails".into(), json!([{"value": email, "type": "work", "primary": true}]));
    }
    resource.insert("active".into(), json!(active.unwrap_or(false)));
    resource.insert("entitlements".into(), Value::Array(entitlements));
    resource.insert(protocol::ENTERPRISE_USER.into(), json!({"department": text(user, "Department")}));
    resource.insert("meta".into(), json!({"resourceType": "User", "location": format!("{base}/Users/{id}")}));
    Value::Object(resource)
}

/// The org's profiles and directly assignable permission sets, as Entitlement resources.
fn entitlements(st: &SimState, assigned: &BTreeMap<String, Vec<(String, String)>>) -> Vec<Value> {
    let mut all: BTreeMap<String, Value> = BTreeMap::new();
    for user in st.records("User") {
        if let Some(profile) = text(user, "ProfileId") {
            let name = user.get("Profile").and_then(|p| p.get("Name")).and_then(Value::as_str).unwrap_or(profile);
            all.insert(profile.to_string(), json!({"id": profile, "displayName": name, "type": "Profile"}));
        }
    }
    for (ps, label) in assigned.values().flatten() {
        all.insert(ps.clone(), json!({"id": ps, "displayName": label, "type": "Permission Set"}));
    }
    all.into_values().collect()
}

/// One request under `/services/scim/v2/`, `rest` the path after it; `authorized` says whether
/// it carried a valid access token of the org (checked, and its use counted, by the data API's
/// own rule).
pub(crate) fn handle(st: &mut SimState, parts: &Parts, rest: &str, authorized: bool) -> Response {
    st.stats.scim_requests += 1;
    if !authorized {
        st.stats.unauthorized_requests += 1;
        return scim_error(StatusCode::UNAUTHORIZED, None, "Session expired or invalid");
    }
    st.api_used += 1;
    if parts.method != Method::GET {
        return scim_error(StatusCode::NOT_IMPLEMENTED, None, "sf-sim serves Salesforce's SCIM endpoint read-only");
    }
    let base = format!("{}{SALESFORCE_SCIM_PATH}", st.base_url());
    let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let page = |items: &[Value]| match protocol::paging(parts.uri.query()) {
        Ok(paging) => scim_response(StatusCode::OK, &protocol::list_response(items, paging, SALESFORCE_MAX_RESULTS, 0)),
        Err(detail) => protocol::invalid_value(&detail),
    };
    match segments.as_slice() {
        ["ServiceProviderConfigs"] => scim_response(
            StatusCode::OK,
            &protocol::service_provider_config(Some(SALESFORCE_MAX_RESULTS), &format!("{base}/ServiceProviderConfigs")),
        ),
        ["Users"] => {
            let assigned = direct_assignments(st);
            let users: Vec<Value> = st.records("User").iter().map(|u| user_resource(st, u, &assigned)).collect();
            page(&users)
        }
        ["Users", id] => {
            let assigned = direct_assignments(st);
            match st.records("User").iter().find(|u| text(u, "Id") == Some(*id)) {
                Some(u) => scim_response(StatusCode::OK, &user_resource(st, u, &assigned)),
                None => scim_error(StatusCode::NOT_FOUND, None, &format!("Resource {id} not found")),
            }
        }
        ["Groups"] => page(&[]),
        ["Entitlements"] => {
            let assigned = direct_assignments(st);
            page(&entitlements(st, &assigned))
        }
        _ => scim_error(StatusCode::NOT_FOUND, None, "The requested resource does not exist"),
    }
}
