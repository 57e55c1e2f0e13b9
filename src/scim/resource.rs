//! SCIM 2.0 resources as the audit reads them (RFC 7643), and the protocol's messages (RFC 7644):
//! ListResponse, Error, ServiceProviderConfig.
//!
//! Takes JSON as a service provider sent it and hands on two things: [`validate`], the check
//! every stored resource passes (when pulled, and again whenever a snapshot is verified or read),
//! which names the resource and the field that is wrong; and [`Account`] / [`Group`], the few
//! attributes the reports use, read from a resource that passed it. A resource is stored exactly
//! as received: attributes the audit does not read stay in the evidence.

use serde::Deserialize;
use serde_json::{Map, Value};

/// The resource types the audit lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceType {
    Users,
    Groups,
}

impl ResourceType {
    pub const ALL: [ResourceType; 2] = [ResourceType::Users, ResourceType::Groups];

    /// The endpoint under the base URL, and the name used in the snapshot.
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceType::Users => "Users",
            ResourceType::Groups => "Groups",
        }
    }

    pub fn from_endpoint(name: &str) -> Option<ResourceType> {
        ResourceType::ALL.into_iter().find(|r| r.endpoint() == name)
    }

    /// `Users.ndjson`.
    pub fn file_name(self) -> String {
        format!("{}.ndjson", self.endpoint())
    }
}

/// A page of a listing (RFC 7644 §3.4.2). `Resources` may be absent when a page is empty.
#[derive(Debug, Deserialize)]
pub struct ListResponse {
    #[serde(rename = "totalResults")]
    pub total_results: u64,
    #[serde(rename = "startIndex", default)]
    pub start_index: Option<u64>,
    #[serde(rename = "Resources", default)]
    pub resources: Vec<Value>,
}

/// An error body (RFC 7644 §3.12); `status` is a string by the RFC, a number for some servers.
#[derive(Debug, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(rename = "scimType", default)]
    pub scim_type: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
}

impl ErrorBody {
    /// The body's `scimType` and `detail`, on one line; what the body was instead when it is not
    /// a SCIM error.
    pub fn read(media_type: &str, body: &[u8]) -> (Option<String>, String) {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(e) if e.detail.is_some() || e.scim_type.is_some() => {
                (e.scim_type.map(|t| one_line(&t)), e.detail.map(|d| one_line(&d)).unwrap_or_default())
            }
            _ => (
                None,
                format!(
                    "the body is not a SCIM error ({})",
                    if media_type.is_empty() { "no content type" } else { media_type }
                ),
            ),
        }
    }
}

/// What the audit reads of a ServiceProviderConfig: the most resources one page may hold.
#[derive(Debug, Default, Deserialize)]
pub struct ServiceProviderConfig {
    #[serde(default)]
    pub filter: Option<FilterConfig>,
}

#[derive(Debug, Default, Deserialize)]
pub struct FilterConfig {
    #[serde(rename = "maxResults", default)]
    pub max_results: Option<u64>,
}

impl ServiceProviderConfig {
    /// `filter.maxResults`, when the provider states a positive one.
    pub fn max_results(&self) -> Option<u64> {
        self.filter.as_ref().and_then(|f| f.max_results).filter(|n| *n > 0)
    }
}

/// Text from a service provider on one line, at most 400 characters, no control character.
pub fn one_line(s: &str) -> String {
    let joined = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let shown = crate::text::visible(&joined).into_owned();
    if shown.chars().count() > 400 { format!("{}…", shown.chars().take(400).collect::<String>()) } else { shown }
}

/// What a JSON value is, for messages.
fn kind(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 60 { format!("{}…", text.chars().take(60).collect::<String>()) } else { text }
}

/// Checks one resource as the audit needs it; returns its `id`, or what is wrong (`field … is …`).
///
/// Users: `id` and `userName` are text; `active`, when present, true or false; `externalId` and
/// `displayName` text; `emails`, `groups`, `entitlements` lists of objects whose `value` is text.
/// Groups: `id` text, `displayName` text, `members` a list of objects whose `value` is text.
pub fn validate(resource: ResourceType, record: &Map<String, Value>) -> Result<String, String> {
    let id = match record.get("id") {
        Some(Value::String(s)) if !s.trim().is_empty() && !s.chars().any(char::is_control) => s.clone(),
        Some(other) => return Err(format!("field id is {}, not the resource's id (text)", kind(other))),
        None => return Err("field id is missing".to_string()),
    };
    let text = |field: &str, required: bool| -> Result<(), String> {
        match record.get(field) {
            None | Some(Value::Null) if !required => Ok(()),
            None => Err(format!("field {field} is missing")),
            Some(Value::String(_)) => Ok(()),
            Some(other) => Err(format!("field {field} is {}, not text", kind(other))),
        }
    };
    let list = |field: &str| -> Result<(), String> {
        let items = match record.get(field) {
            None | Some(Value::Null) => return Ok(()),
            Some(Value::Array(items)) => items,
            Some(other) => return Err(format!("field {field} is {}, not a list", kind(other))),
        };
        for (i, item) in items.iter().enumerate() {
            match item.get("value") {
                _ if !item.is_object() => return Err(format!("field {field}[{i}] is {}, not an object", kind(item))),
                Some(Value::String(_)) => {}
                // An email without a value carries nothing to match; any other list needs the value.
                None | Some(Value::Null) if field == "emails" => {}
                Some(other) => return Err(format!("field {field}[{i}].value is {}, not text", kind(other))),
                None => return Err(format!("field {field}[{i}].value is missing")),
            }
        }
        Ok(())
    };
    match resource {
        ResourceType::Users => {
            text("userName", true)?;
            text("externalId", false)?;
            text("displayName", false)?;
            match record.get("active") {
                None | Some(Value::Null) | Some(Value::Bool(_)) => {}
                Some(other) => return Err(format!("field active is {}, not true or false", kind(other))),
            }
            list("emails")?;
            list("groups")?;
            list("entitlements")?;
        }
        ResourceType::Groups => {
            text("displayName", false)?;
            list("members")?;
        }
    }
    Ok(id)
}

fn str_of<'a>(record: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    record.get(field).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// The `value`s of a list attribute, in order.
fn values(record: &Map<String, Value>, field: &str) -> Vec<String> {
    record
        .get(field)
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(|i| i.get("value")?.as_str()).map(str::to_string).collect())
        .unwrap_or_default()
}

/// An entitlement of a user: for Salesforce, a profile or a permission set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entitlement {
    pub value: String,
    pub display: Option<String>,
    /// `type` as the provider sent it.
    pub kind: Option<String>,
}

/// A user account of an application, as the reports use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub user_name: String,
    pub external_id: Option<String>,
    /// `displayName`, else `name.formatted`, else given and family name.
    pub display_name: Option<String>,
    /// Every email, in order.
    pub emails: Vec<String>,
    /// The email marked primary, else the first.
    pub primary_email: Option<String>,
    /// `active`; an account that does not say counts as active (RFC 7643 gives no default, and
    /// counting it as disabled could hide an orphan).
    pub active: bool,
    /// Ids of the groups the user resource lists (`groups[].value`).
    pub group_ids: Vec<String>,
    pub entitlements: Vec<Entitlement>,
}

impl Account {
    /// Reads an account from a user resource that passed [`validate`].
    pub fn read(record: &Map<String, Value>) -> Account {
        let name = record.get("name").and_then(Value::as_object);
        let display_name = str_of(record, "displayName")
            .map(str::to_string)
            .or_else(|| name.and_then(|n| str_of(n, "formatted")).map(str::to_string))
            .or_else(|| {
                let parts: Vec<&str> =
                    name.map(|n| ["givenName", "familyName"].iter().filter_map(|k| str_of(n, k)).collect())?;
                (!parts.is_empty()).then(|| parts.join(" "))
            });
        let email_items: Vec<&Map<String, Value>> = record
            .get("emails")
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(Value::as_object).collect())
            .unwrap_or_default();
        let emails: Vec<String> = email_items.iter().filter_map(|e| str_of(e, "value")).map(str::to_string).collect();
        let primary_email = email_items
            .iter()
            .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
            .and_then(|e| str_of(e, "value"))
            .map(str::to_string)
            .or_else(|| emails.first().cloned());
        let entitlements = record
            .get("entitlements")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_object)
                    .filter_map(|e| {
                        Some(Entitlement {
                            value: str_of(e, "value")?.to_string(),
                            display: str_of(e, "display").map(str::to_string),
                            kind: str_of(e, "type").map(str::to_string),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Account {
            id: str_of(record, "id").unwrap_or_default().to_string(),
            user_name: record.get("userName").and_then(Value::as_str).unwrap_or_default().to_string(),
            external_id: str_of(record, "externalId").map(str::to_string),
            display_name,
            emails,
            primary_email,
            active: record.get("active").and_then(Value::as_bool).unwrap_or(true),
            group_ids: values(record, "groups"),
            entitlements,
        }
    }
}

/// A group of an application (in Stensul, a role), as the reports use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: String,
    pub display_name: Option<String>,
    /// Ids of the member resources (`members[].value`).
    pub member_ids: Vec<String>,
}

impl Group {
    /// Reads a group from a resource that passed [`validate`].
    pub fn read(record: &Map<String, Value>) -> Group {
        Group {
            id: str_of(record, "id").unwrap_or_default().to_string(),
            display_name: str_of(record, "displayName").map(str::to_string),
            member_ids: values(record, "members"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn validation_names_the_field() {
        let ok = rec(r#"{"id":"u1","userName":"ana@x","active":false,"emails":[{"value":"a@x"},{"type":"work"}]}"#);
        assert_eq!(validate(ResourceType::Users, &ok).unwrap(), "u1");
        for (json, problem) in [
            (r#"{"userName":"a"}"#, "field id is missing"),
            (r#"{"id":7,"userName":"a"}"#, "field id is 7, not the resource's id (text)"),
            (r#"{"id":"u1"}"#, "field userName is missing"),
            (r#"{"id":"u1","userName":"a","active":"yes"}"#, "field active is \"yes\", not true or false"),
            (r#"{"id":"u1","userName":"a","groups":[{"display":"x"}]}"#, "field groups[0].value is missing"),
            (r#"{"id":"u1","userName":"a","emails":"a@x"}"#, "field emails is \"a@x\", not a list"),
            (r#"{"id":"u1","userName":"a","entitlements":[3]}"#, "field entitlements[0] is 3, not an object"),
        ] {
            assert_eq!(validate(ResourceType::Users, &rec(json)).unwrap_err(), problem, "{json}");
        }
        let e = validate(ResourceType::Groups, &rec(r#"{"id":"g","members":[{"value":5}]}"#)).unwrap_err();
        assert_eq!(e, "field members[0].value is 5, not text");
    }

    #[test]
    fn accounts_read_names_emails_and_state() {
        let a = Account::read(&rec(
            r#"{"id":"u1","userName":"Ana@X.com","name":{"givenName":"Ana","familyName":"Lee"},
                "emails":[{"value":"other@x.com"},{"value":"ana@x.com","primary":true}],
                "groups":[{"value":"g1"}],"entitlements":[{"value":"0PS1","display":"PSA","type":"Permission Set"}]}"#,
        ));
        assert_eq!(a.display_name.as_deref(), Some("Ana Lee"));
        assert_eq!(a.primary_email.as_deref(), Some("ana@x.com"));
        assert_eq!(a.emails, ["other@x.com", "ana@x.com"]);
        assert!(a.active, "no active attribute: counted as active");
        assert_eq!(a.group_ids, ["g1"]);
        assert_eq!(a.entitlements[0].kind.as_deref(), Some("Permission Set"));
        let g = Group::read(&rec(r#"{"id":"g1","displayName":"Admin","members":[{"value":"u1"}]}"#));
        assert_eq!(g.member_ids, ["u1"]);
    }

    #[test]
    fn error_bodies_and_capabilities() {
        let body = br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400","scimType":"invalidFilter","detail":"no\nway"}"#;
        assert_eq!(ErrorBody::read("application/scim+json", body), (Some("invalidFilter".into()), "no way".into()));
        let (t, d) = ErrorBody::read("text/html", b"<html>");
        assert_eq!((t, d.as_str()), (None, "the body is not a SCIM error (text/html)"));
        let spc: ServiceProviderConfig =
            serde_json::from_str(r#"{"filter":{"supported":true,"maxResults":200}}"#).unwrap();
        assert_eq!(spc.max_results(), Some(200));
        let spc: ServiceProviderConfig =
            serde_json::from_str(r#"{"filter":{"supported":false,"maxResults":0}}"#).unwrap();
        assert_eq!(spc.max_results(), None);
    }
}
