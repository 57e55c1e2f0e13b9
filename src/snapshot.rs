//! The snapshot: everything the findings need, pulled whole, checked, and kept as evidence.
//!
//! Takes a logged-in [`Client`] and hands on a folder: one NDJSON file per object
//! (`User.ndjson`, …), each line one record exactly as the REST API returned it
//! minus `attributes`, relationship fields kept as nested objects, lines sorted
//! by `Id`; and `manifest.json` with the org, API version, time, the exact SOQL
//! of each query, row counts, the API requests spent and a SHA-256 per file.
//!
//! The queries are fixed here (REPORTS.md's input table) and run concurrently.
//! Every record is checked against the field types below as it arrives, so a
//! malformed record fails the pull naming object, record and field, instead of
//! turning into a silent null three stages later.
//!
//! A snapshot checks itself, not only its hashes: [`verify`] (the `verify`
//! command) and [`load`] (every report) run the same one check, because a file
//! and its hash can be fixed up together. Every file must be a regular file (no
//! link is followed, no FIFO read), every line a valid record ending in a
//! newline, Ids unique and in order, the rows equal to the manifest's count and
//! to Salesforce's `totalSize`; references that do not resolve are reported.
//!
//! Other applications audited over SCIM 2.0 (`--app`) are part of the same snapshot, under
//! `apps/NAME/` and in the same manifest, held to the same checks: see [`apps`].

mod check;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub mod apps;

use crate::deliver::{FolderKind, OutputError, folders, io_err};
use crate::files;
pub use crate::model::DataWarning;
use crate::salesforce::{ApiFailure, ApiUsage, Limit, SalesforceError, json_kind};
use crate::scim::{ResourceType, ScimError};

mod keyspace;
mod probe;
pub mod progress;
mod pull;
mod record;
mod runs;

pub use probe::{Probe, Probes, probe};
pub use pull::{PUSHDOWN, PullOptions, base_soql, estimate_requests, pull, pull_into};

pub const FORMAT: &str = "access-audit-snapshot/1";
pub const MANIFEST: &str = "manifest.json";
pub const KIND: &str = "a snapshot";

/// What a field must hold. `Id`s are 15 or 18 letters and digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Id,
    Text,
    Bool,
    DateTime,
    /// A date, `YYYY-MM-DD` (`pse__End_Date__c`, `PermissionSetLicense.ExpirationDate`).
    Date,
    /// A whole number (`TotalLicenses`; `-1` is a site licence), a JSON integer in the snapshot.
    Integer,
}

impl FieldType {
    /// What a value of this type looks like, for messages.
    pub fn expected(self) -> &'static str {
        match self {
            FieldType::Id => "a 15- or 18-character Salesforce Id",
            FieldType::Text => "text",
            FieldType::Bool => "true or false",
            FieldType::DateTime => "a Salesforce datetime such as 2024-01-15T10:20:30.000+0000",
            FieldType::Date => "a date such as 2024-01-15",
            FieldType::Integer => "a whole number such as 25 or -1",
        }
    }
}

/// Parses a Salesforce date, `YYYY-MM-DD`, strictly (four-digit year, two-digit month and day).
pub fn parse_date(s: &str) -> Option<chrono::NaiveDate> {
    let b = s.as_bytes();
    let shaped = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| if i == 4 || i == 7 { *c == b'-' } else { c.is_ascii_digit() });
    if !shaped {
        return None;
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// Parses a whole number as Salesforce writes it in a Bulk CSV (`25`, `-1`; no sign `+`, no
/// fraction, no blanks).
pub fn parse_integer(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    /// Dotted path as written in the SOQL, e.g. `Profile.UserLicense.Name`.
    pub path: &'static str,
    pub ty: FieldType,
    /// A null here is a malformed record (a null *lookup* on the way is still allowed).
    pub required: bool,
    /// Added to the query after snapshots were first written: a record of an older snapshot, whose
    /// query did not ask for it, may lack it and reads it as null. A pull always asks for it.
    pub added: bool,
}

const fn f(path: &'static str, ty: FieldType, required: bool) -> FieldSpec {
    FieldSpec { path, ty, required, added: false }
}

/// A field added after snapshots were first written (see [`FieldSpec::added`]).
const fn added(path: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec { path, ty, required: false, added: true }
}

/// A Certinia managed package whose objects the audit reads when the org has it installed.
#[derive(Debug, PartialEq, Eq)]
pub struct Package {
    /// Its namespace prefix (`pse`, `c2g`).
    pub namespace: &'static str,
    /// Its product name, for messages.
    pub product: &'static str,
    /// The one-line note of a pull from an org that does not have it (log and manifest `notes`).
    pub note: &'static str,
}

/// Certinia PSA (Professional Services Automation).
pub const PSA: Package = Package {
    namespace: "pse",
    product: "PSA",
    note: "PSA not installed: permission controls and resources not audited",
};

/// Certinia Accounting.
pub const ACCOUNTING: Package =
    Package { namespace: "c2g", product: "Accounting", note: "Accounting not installed: user companies not audited" };

/// Why an object is pulled, and what its absence means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Every org has it: it is queried, and a failure is an error (as it always was).
    Core,
    /// Every org has it, and the integration user must see it in the org's list of objects
    /// (`GET /sobjects`); not seeing it is an error naming the permission to grant.
    Listed,
    /// For the report header only: a pull goes on without it when the org does not offer it.
    IfOffered,
    /// An object of a managed package: pulled when the org has the package (its namespace in the
    /// list of objects), otherwise the package's note; hidden from the integration user while
    /// the package's permission sets exist, an error naming the permission.
    Package(&'static Package),
}

#[derive(Debug)]
pub struct ObjectSpec {
    pub name: &'static str,
    pub fields: &'static [FieldSpec],
    /// A snapshot may lack it: not in the first snapshots' input table, or of an org that does
    /// not offer it (see [`Source`]).
    pub optional: bool,
    pub source: Source,
    /// A condition every query of it carries (`Contact`: only the PSA resources' contacts).
    pub filter: Option<&'static str>,
    /// What the integration user needs to read it (shown when it cannot).
    pub permission: &'static str,
}

impl ObjectSpec {
    /// `SELECT <fields> FROM <object>`, without any condition (see [`base_soql`]).
    pub fn soql(&self) -> String {
        let fields: Vec<&str> = self.fields.iter().map(|f| f.path).collect();
        format!("SELECT {} FROM {}", fields.join(", "), self.name)
    }

    /// The package it belongs to, if any.
    pub fn package(&self) -> Option<&'static Package> {
        match self.source {
            Source::Package(p) => Some(p),
            _ => None,
        }
    }

    pub fn file_name(&self) -> String {
        format!("{}.ndjson", self.name)
    }
}

use FieldType::{Bool, Date, DateTime as Dt, Id, Integer as Int, Text};

/// Read access to setup data (users, permission sets, licences).
const SETUP: &str = "the system permission View Setup and Configuration";

/// The queries of REPORTS.md's input tables, plus `Organization` (optional) for the report header.
/// Each object lands in `<name>.ndjson` (`pse__Permission_Control__c.ndjson`, `Contact.ndjson`
/// holding only the contacts linked to a user, `c2g__codaUserCompany__c.ndjson`, ...).
pub const OBJECTS: &[ObjectSpec] = &[
    ObjectSpec {
        name: "Organization",
        source: Source::IfOffered,
        filter: None,
        permission: SETUP,
        optional: true,
        fields: &[
            f("Id", Id, true),
            f("Name", Text, false),
            f("InstanceName", Text, false),
            f("IsSandbox", Bool, true),
            f("OrganizationType", Text, false),
        ],
    },
    ObjectSpec {
        name: "User",
        source: Source::Core,
        filter: None,
        permission: SETUP,
        optional: false,
        fields: &[
            f("Id", Id, true),
            f("Username", Text, true),
            f("Name", Text, false),
            f("Email", Text, false),
            f("IsActive", Bool, true),
            f("UserType", Text, true),
            f("Profile.Name", Text, false),
            f("Profile.UserLicense.Name", Text, false),
            f("UserRole.Name", Text, false),
            f("Department", Text, false),
            f("Title", Text, false),
            f("FederationIdentifier", Text, false),
            f("CreatedDate", Dt, true),
            f("LastLoginDate", Dt, false),
            added("ManagerId", Id),
            added("Manager.Name", Text),
            added("Manager.Email", Text),
        ],
    },
    ObjectSpec {
        name: "PermissionSetAssignment",
        source: Source::Core,
        filter: None,
        permission: SETUP,
        optional: false,
        fields: &[
            f("Id", Id, true),
            f("AssigneeId", Id, true),
            f("PermissionSetId", Id, true),
            f("PermissionSet.Name", Text, false),
            f("PermissionSet.Label", Text, false),
            f("PermissionSet.NamespacePrefix", Text, false),
            f("PermissionSet.IsOwnedByProfile", Bool, false),
            f("PermissionSet.Type", Text, false),
            f("PermissionSetGroupId", Id, false),
            f("ExpirationDate", Dt, false),
        ],
    },
    ObjectSpec {
        name: "PermissionSetGroup",
        source: Source::Core,
        filter: None,
        permission: SETUP,
        optional: false,
        fields: &[
            f("Id", Id, true),
            f("DeveloperName", Text, false),
            f("MasterLabel", Text, false),
            f("NamespacePrefix", Text, false),
        ],
    },
    ObjectSpec {
        name: "PermissionSetGroupComponent",
        source: Source::Core,
        filter: None,
        permission: SETUP,
        optional: false,
        fields: &[
            f("Id", Id, true),
            f("PermissionSetGroupId", Id, true),
            f("PermissionSetId", Id, true),
            f("PermissionSet.Name", Text, false),
            f("PermissionSet.Label", Text, false),
            f("PermissionSet.NamespacePrefix", Text, false),
            f("PermissionSet.IsOwnedByProfile", Bool, false),
        ],
    },
    ObjectSpec {
        name: "UserPackageLicense",
        source: Source::Core,
        filter: None,
        permission: SETUP,
        optional: false,
        fields: &[
            f("Id", Id, true),
            f("UserId", Id, true),
            f("PackageLicenseId", Id, true),
            f("PackageLicense.NamespacePrefix", Text, false),
        ],
    },
    ObjectSpec {
        name: "UserLogin",
        source: Source::Core,
        filter: None,
        permission: "the system permission Manage Users",
        optional: false,
        fields: &[f("Id", Id, true), f("UserId", Id, true), f("IsFrozen", Bool, true)],
    },
    ObjectSpec {
        name: "PermissionSetLicense",
        optional: true,
        source: Source::Listed,
        filter: None,
        permission: SETUP,
        fields: &[
            f("Id", Id, true),
            f("DeveloperName", Text, false),
            f("MasterLabel", Text, false),
            f("TotalLicenses", Int, true),
            f("UsedLicenses", Int, true),
            f("ExpirationDate", Date, false),
            f("Status", Text, false),
        ],
    },
    ObjectSpec {
        name: "PermissionSetLicenseAssign",
        optional: true,
        source: Source::Listed,
        filter: None,
        permission: SETUP,
        fields: &[f("Id", Id, true), f("AssigneeId", Id, true), f("PermissionSetLicenseId", Id, true)],
    },
    ObjectSpec {
        name: "PackageLicense",
        optional: true,
        source: Source::Listed,
        filter: None,
        permission: SETUP,
        fields: &[
            f("Id", Id, true),
            f("NamespacePrefix", Text, false),
            f("AllowedLicenses", Int, true),
            f("UsedLicenses", Int, true),
            f("ExpirationDate", Dt, false),
            f("Status", Text, false),
        ],
    },
    ObjectSpec {
        name: "pse__Permission_Control__c",
        optional: true,
        source: Source::Package(&PSA),
        filter: None,
        permission: "Read on the object pse__Permission_Control__c and its fields (e.g. the PSA permission set \"PSA - Permission Controls - Read\" or a permission set of your own)",
        fields: &[
            f("Id", Id, true),
            f("pse__User__c", Id, false),
            f("pse__Start_Date__c", Date, false),
            f("pse__End_Date__c", Date, false),
            f("pse__Cascading_Permission__c", Bool, false),
            f("pse__Resource__c", Id, false),
            f("pse__Resource__r.Name", Text, false),
            f("pse__Region__c", Id, false),
            f("pse__Region__r.Name", Text, false),
            f("pse__Practice__c", Id, false),
            f("pse__Practice__r.Name", Text, false),
            f("pse__Group__c", Id, false),
            f("pse__Group__r.Name", Text, false),
            f("pse__Project__c", Id, false),
            f("pse__Project__r.Name", Text, false),
            f("pse__Opportunity__c", Id, false),
            f("pse__Opportunity__r.Name", Text, false),
        ],
    },
    ObjectSpec {
        name: "Contact",
        optional: true,
        source: Source::Package(&PSA),
        filter: Some("pse__Salesforce_User__c != null"),
        permission: "Read on Contact, with field-level Read on pse__Salesforce_User__c, pse__Is_Resource__c and pse__Is_Resource_Active__c",
        fields: &[
            f("Id", Id, true),
            f("Name", Text, false),
            f("pse__Salesforce_User__c", Id, true),
            f("pse__Is_Resource__c", Bool, true),
            f("pse__Is_Resource_Active__c", Bool, true),
        ],
    },
    ObjectSpec {
        name: "c2g__codaUserCompany__c",
        optional: true,
        source: Source::Package(&ACCOUNTING),
        filter: None,
        permission: "Read on the objects c2g__codaUserCompany__c and c2g__codaCompany__c and their fields (e.g. the Accounting permission set \"Accounting - Read Only\")",
        fields: &[
            f("Id", Id, true),
            f("c2g__User__c", Id, true),
            f("c2g__Company__c", Id, true),
            f("c2g__Company__r.Name", Text, false),
        ],
    },
];

pub fn spec(name: &str) -> Option<&'static ObjectSpec> {
    OBJECTS.iter().find(|o| o.name == name)
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Salesforce(#[from] SalesforceError),
    /// Boxed: an application's errors are large, and every stage's results carry this type.
    #[error(transparent)]
    App(Box<ScimError>),
    #[error("{object} record {id}: field {field} {detail}")]
    Malformed { object: String, id: String, field: String, detail: String },
    #[error("the org has no field {field} on {object} at API v{api_version} (Salesforce: {message}); {advice}")]
    MissingField { object: String, field: String, api_version: String, message: String, advice: String },
    #[error("the org does not offer the object {object} at API v{api_version} (Salesforce: {message}); {advice}")]
    MissingObject { object: String, api_version: String, message: String, advice: String },
    #[error("the integration user cannot read {object} ({why}): grant it {permission}")]
    NoAccess { object: String, why: String, permission: String },
    #[error("{object}: record {id} arrived twice; two cursors were stitched together or the org changed mid-pull")]
    Duplicate { object: String, id: String },
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("snapshot {dir}: {detail}")]
    Invalid { dir: PathBuf, detail: String },
    #[error("snapshot {dir}: {detail}")]
    Missing { dir: PathBuf, detail: String },
    #[error("{dir} is a report folder, not a snapshot: its evidence is {snapshot} (access-audit verify {snapshot})")]
    ReportFolder { dir: PathBuf, snapshot: PathBuf },
    #[error("snapshot {dir} failed verification:\n{}", problems.join("\n"))]
    Tampered { dir: PathBuf, problems: Vec<String> },
}

impl From<ScimError> for SnapshotError {
    fn from(e: ScimError) -> Self {
        SnapshotError::App(Box::new(e))
    }
}

/// Parses Salesforce's datetime form, `2024-01-15T10:20:30.000+0000`.
///
/// The shape is checked strictly (two-digit fields, no blanks, seconds below 60); the fraction
/// is optional and the offset is read generically (`+0000`, `+00:00`, `-0500`, `Z`).
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let shape = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[17] < b'6';
    if !shape {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &fraction[n..];
    }
    let offset_ok = rest == "Z" || {
        let o = rest.as_bytes();
        matches!(o.first(), Some(b'+' | b'-'))
            && ((o.len() == 5 && o[1..].iter().all(u8::is_ascii_digit))
                || (o.len() == 6 && o[3] == b':' && o[1..3].iter().chain(&o[4..]).all(u8::is_ascii_digit)))
    };
    if !offset_ok {
        return None;
    }
    let normalized = match s.strip_suffix('Z') {
        Some(stripped) => format!("{stripped}+0000"),
        None => s.to_string(),
    };
    DateTime::parse_from_str(&normalized, "%Y-%m-%dT%H:%M:%S%.f%z").ok().map(|d| d.with_timezone(&Utc))
}

pub(crate) fn valid_id(s: &str) -> bool {
    (s.len() == 15 || s.len() == 18) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Looks a dotted path up in a record: `Ok(None)` for null (or a null lookup on the way).
pub fn lookup<'a>(record: &'a Map<String, Value>, path: &str) -> Result<Option<&'a Value>, String> {
    let mut parts = path.split('.').peekable();
    let mut current = record;
    while let Some(part) = parts.next() {
        let value = current.get(part).ok_or_else(|| format!("{part} is missing from the record"))?;
        if parts.peek().is_none() {
            return Ok(if value.is_null() { None } else { Some(value) });
        }
        match value {
            Value::Null => return Ok(None),
            Value::Object(inner) => current = inner,
            other => {
                return Err(format!("{part} should be a relationship object but is {}", json_kind(other)));
            }
        }
    }
    Ok(None)
}

/// Checks one record against its object's fields; returns its Id.
pub fn validate(spec: &ObjectSpec, record: &Map<String, Value>) -> Result<String, SnapshotError> {
    let id = match record.get("Id") {
        Some(Value::String(s)) if valid_id(s) => s.clone(),
        other => {
            return Err(SnapshotError::Malformed {
                object: spec.name.to_string(),
                id: "(no Id)".to_string(),
                field: "Id".to_string(),
                detail: format!(
                    "is {}, not a 15- or 18-character Salesforce Id",
                    other.map(short).unwrap_or_else(|| "missing".into())
                ),
            });
        }
    };
    let bad = |field: &str, detail: String| SnapshotError::Malformed {
        object: spec.name.to_string(),
        id: id.clone(),
        field: field.to_string(),
        detail,
    };
    for field in spec.fields {
        let root = field.path.split('.').next().unwrap_or(field.path);
        if field.added && !record.contains_key(root) {
            continue; // an older snapshot's query did not ask for it
        }
        let value = lookup(record, field.path).map_err(|e| bad(field.path, e))?;
        let Some(value) = value else {
            if field.required && !field.path.contains('.') {
                return Err(bad(field.path, "is null but Salesforce always sets it".into()));
            }
            continue;
        };
        let ok = match (field.ty, value) {
            (FieldType::Id, Value::String(s)) => valid_id(s),
            (FieldType::Text, Value::String(_)) => true,
            (FieldType::Bool, Value::Bool(_)) => true,
            (FieldType::DateTime, Value::String(s)) => parse_datetime(s).is_some(),
            (FieldType::Date, Value::String(s)) => parse_date(s).is_some(),
            (FieldType::Integer, Value::Number(n)) => n.is_i64(),
            _ => false,
        };
        if !ok {
            return Err(bad(field.path, format!("is {}, not {}", short(value), field.ty.expected())));
        }
    }
    // A field the query did not ask for means the answer is not for this query.
    for key in record.keys() {
        if !spec.fields.iter().any(|f| f.path.split('.').next() == Some(key.as_str())) {
            return Err(bad(key, "was not asked for by the query".into()));
        }
    }
    Ok(id)
}

fn short(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 60 { format!("{}…", text.chars().take(60).collect::<String>()) } else { text }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrgInfo {
    pub id: String,
    pub name: Option<String>,
    pub instance_url: String,
    pub instance_name: Option<String>,
    pub is_sandbox: bool,
    pub organization_type: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManifestObject {
    pub object: String,
    pub file: String,
    pub soql: String,
    /// Rows in the file (equal to `total_size`, or the pull would have failed).
    pub rows: u64,
    /// What Salesforce announced on the first page.
    pub total_size: u64,
    pub pages: u64,
    pub sha256: String,
    /// The API it came through: `rest` or `bulk` (absent in snapshots of earlier versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    /// The exact SOQL of each query sent when the object was pulled in Id ranges (`soql` is then
    /// what they add up to); empty when `soql` is the one query.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queries: Vec<String>,
    /// API requests spent on it: counts, probes, pages, Bulk job calls, retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiCost {
    /// REST requests this pull sent (each counts against the org's daily allocation).
    pub requests: u64,
    /// OAuth logins (they do not count against the allocation).
    pub logins: u64,
    /// The org's `DailyApiRequests` from `/limits` before the pull (when the quota was checked).
    pub org_daily_limit_before: Option<Limit>,
    /// The org's daily usage after the pull, from `Sforce-Limit-Info`.
    pub org_usage_after: Option<ApiUsage>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: String,
    pub tool: String,
    pub org: OrgInfo,
    pub api_version: String,
    pub pulled_at: String,
    pub objects: Vec<ManifestObject>,
    pub api: ApiCost,
    /// Records kept with a repaired field (text that was not valid Unicode, replaced with
    /// U+FFFD), sorted by object, Id and field. Empty when every answer was clean; absent in
    /// snapshots of earlier versions.
    #[serde(default)]
    pub data_warnings: Vec<DataWarning>,
    /// Other applications pulled over SCIM 2.0, in name order; absent when none was.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apps: Vec<apps::ManifestApp>,
    /// One line per thing the pull could not audit and why, e.g. a Certinia package the org does
    /// not have ("PSA not installed: permission controls and resources not audited", see
    /// [`Package::note`]). Absent when there is none (and in snapshots of earlier versions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Manifest {
    pub fn object(&self, name: &str) -> Option<&ManifestObject> {
        self.objects.iter().find(|o| o.object == name)
    }

    pub fn app(&self, name: &str) -> Option<&apps::ManifestApp> {
        self.apps.iter().find(|a| a.name == name)
    }

    /// Every data file of the snapshot (the manifest aside) with its SHA-256: the org's objects,
    /// then each application's listings (`apps/NAME/Users.ndjson`).
    pub fn member_files(&self) -> Vec<(&str, &str)> {
        let objects = self.objects.iter().map(|o| (o.file.as_str(), o.sha256.as_str()));
        let apps = self.apps.iter().flat_map(|a| a.resources.iter()).map(|r| (r.file.as_str(), r.sha256.as_str()));
        objects.chain(apps).collect()
    }
}

/// Explains INVALID_FIELD, INVALID_TYPE and INSUFFICIENT_ACCESS in the audit's own words.
fn explain(err: SnapshotError, spec: &ObjectSpec, api_version: &str) -> SnapshotError {
    let (code, message) = match &err {
        SnapshotError::Salesforce(SalesforceError::Api { failure: ApiFailure { code, message }, .. }) => {
            (code.as_str(), message.clone())
        }
        _ => return err,
    };
    let major: u32 = api_version.split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    let advice = |needs: Option<u32>| match needs {
        Some(v) if major < v => format!("it needs API {v}.0 or later: set --api-version {v}.0 or newer"),
        _ => format!("check that the org has it, and grant the integration user {}", spec.permission),
    };
    match code {
        "INVALID_FIELD" => {
            let field = column_name(&message).unwrap_or_else(|| "(unnamed)".into());
            let needs = field_version(spec.name, &field);
            SnapshotError::MissingField {
                object: spec.name.to_string(),
                field,
                api_version: api_version.to_string(),
                message,
                advice: advice(needs),
            }
        }
        "INVALID_TYPE" => SnapshotError::MissingObject {
            object: spec.name.to_string(),
            api_version: api_version.to_string(),
            message,
            advice: advice(object_version(spec.name)),
        },
        "INSUFFICIENT_ACCESS" | "INSUFFICIENT_ACCESS_OR_READONLY" => SnapshotError::NoAccess {
            object: spec.name.to_string(),
            why: format!("Salesforce: {code}: {message}"),
            permission: spec.permission.to_string(),
        },
        _ => err,
    }
}

/// `No such column 'Foo' on entity 'User'` → `Foo`.
fn column_name(message: &str) -> Option<String> {
    let start = message.find("column '")? + "column '".len();
    let end = message[start..].find('\'')? + start;
    Some(message[start..end].to_string())
}

/// The API version that introduced an object (SALESFORCE.md §6).
fn object_version(object: &str) -> Option<u32> {
    match object {
        "PermissionSetAssignment" => Some(22),
        "PermissionSetGroup" | "PermissionSetGroupComponent" => Some(45),
        "UserPackageLicense" => Some(31),
        "UserLogin" => Some(29),
        _ => None,
    }
}

/// The API version that introduced a field (SALESFORCE.md §6).
fn field_version(object: &str, field: &str) -> Option<u32> {
    let leaf = field.rsplit('.').next().unwrap_or(field);
    match (object, leaf) {
        (_, "PermissionSetGroupId") => Some(45),
        (_, "ExpirationDate") => Some(52),
        (_, "NamespacePrefix") if object != "PermissionSetGroup" => Some(23),
        (_, "IsOwnedByProfile") => Some(25),
        _ => object_version(object),
    }
}

/// SHA-256 (hex) of a file, and its number of lines.
pub fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    hash_reader(BufReader::new(File::open(path)?))
}

fn hash_reader(mut reader: impl BufRead) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut lines = 0u64;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        lines += buf.iter().filter(|&&b| b == b'\n').count() as u64;
        hasher.update(buf);
        let n = buf.len();
        reader.consume(n);
    }
    Ok((hex::encode(hasher.finalize()), lines))
}

pub fn read_manifest(dir: &Path) -> Result<Manifest, SnapshotError> {
    manifest_of(dir, dir)
}

/// Reads `dir`'s manifest (a regular file, never through a link), naming `shown` in errors.
fn manifest_of(dir: &Path, shown: &Path) -> Result<Manifest, SnapshotError> {
    let invalid = |detail: String| SnapshotError::Invalid { dir: shown.to_path_buf(), detail };
    let bytes = files::read_member(&dir.join(MANIFEST), files::MARKER)
        .map_err(|e| invalid(format!("cannot read {MANIFEST}: {e}")))?;
    let manifest: Manifest =
        serde_json::from_slice(&bytes).map_err(|e| invalid(format!("{MANIFEST} is not a snapshot manifest: {e}")))?;
    if manifest.format != FORMAT {
        return Err(invalid(format!("format {:?} is not {FORMAT:?}", manifest.format)));
    }
    if !folders::is_tool(&manifest.tool) {
        return Err(invalid(format!("{MANIFEST} was written by {:?}, not by access-audit", manifest.tool)));
    }
    Ok(manifest)
}

/// A snapshot folder, as [`Staging`] needs to know it: ours when its manifest is an access-audit
/// snapshot manifest, holding the files that manifest lists.
pub struct SnapshotFolder;

impl FolderKind for SnapshotFolder {
    fn what(&self) -> &'static str {
        KIND
    }

    fn listed_files(&self, dir: &Path) -> Result<BTreeSet<String>, String> {
        let manifest = read_manifest(dir).map_err(|e| match e {
            SnapshotError::Invalid { detail, .. } => detail,
            other => other.to_string(),
        })?;
        let files = manifest.member_files().into_iter().map(|(file, _)| file.to_string());
        Ok(files.chain([MANIFEST.to_string()]).collect())
    }
}

/// The outcome of [`verify`]: the manifest, and the SHA-256 of the manifest itself.
#[derive(Debug)]
pub struct Verified {
    pub manifest: Manifest,
    pub manifest_sha256: String,
    pub rows: u64,
    /// References that do not resolve (an assignment whose user is not in `User.ndjson`), one
    /// line each. Reported, not fatal: objects are queried one after another, so a user created
    /// during the pull can be assigned before it could be listed. The analysis ignores them.
    pub unresolved: Vec<String>,
}

/// A field that holds the Id of a record of another object in the snapshot.
struct Reference {
    object: &'static str,
    field: &'static str,
    target: &'static str,
}

/// The references that must resolve for the findings to be right.
const REFERENCES: &[Reference] = &[
    Reference { object: "PermissionSetAssignment", field: "AssigneeId", target: "User" },
    Reference { object: "PermissionSetAssignment", field: "PermissionSetGroupId", target: "PermissionSetGroup" },
    Reference { object: "PermissionSetGroupComponent", field: "PermissionSetGroupId", target: "PermissionSetGroup" },
    Reference { object: "UserPackageLicense", field: "UserId", target: "User" },
    Reference { object: "UserLogin", field: "UserId", target: "User" },
    Reference { object: "UserPackageLicense", field: "PackageLicenseId", target: "PackageLicense" },
    Reference { object: "PermissionSetLicenseAssign", field: "AssigneeId", target: "User" },
    Reference { object: "PermissionSetLicenseAssign", field: "PermissionSetLicenseId", target: "PermissionSetLicense" },
    Reference { object: "pse__Permission_Control__c", field: "pse__User__c", target: "User" },
    Reference { object: "Contact", field: "pse__Salesforce_User__c", target: "User" },
    Reference { object: "c2g__codaUserCompany__c", field: "c2g__User__c", target: "User" },
];

/// Unresolved references listed one by one; beyond that, counted.
const UNRESOLVED_LISTED: usize = 20;

/// Re-checks a snapshot: the manifest is ours, every file it lists is a regular file with the
/// SHA-256, row count and `totalSize` it records, every line ends with a newline and is a valid
/// record, Ids are unique and in order, and nothing else is in the folder. Every problem is
/// listed, not just the first. References that do not resolve are reported in
/// [`Verified::unresolved`].
///
/// `verify` and `report` run exactly this; `report` reads only what passed it.
pub fn verify(dir: &Path) -> Result<Verified, SnapshotError> {
    check(dir, dir)
}

/// [`verify`] of the snapshot in `dir`, naming `shown` (the user's path) in every message.
fn check(dir: &Path, shown: &Path) -> Result<Verified, SnapshotError> {
    let missing = |detail: &str| SnapshotError::Missing { dir: shown.to_path_buf(), detail: detail.to_string() };
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(missing("no such folder")),
        Err(e) => return Err(SnapshotError::Invalid { dir: shown.to_path_buf(), detail: e.to_string() }),
        Ok(m) if !m.is_dir() => return Err(missing("not a folder")),
        Ok(_) => {}
    }
    if std::fs::symlink_metadata(dir.join(MANIFEST)).is_err() && is_report_folder(dir) {
        return Err(SnapshotError::ReportFolder { dir: shown.to_path_buf(), snapshot: shown.join(REPORT_SNAPSHOT) });
    }
    let manifest = manifest_of(dir, shown)?;
    let mut problems = Vec::new();
    for spec in OBJECTS.iter().filter(|o| !o.optional) {
        if manifest.object(spec.name).is_none() {
            problems.push(format!("{}: missing from the manifest", spec.name));
        }
    }
    // Ids of the objects others refer to, filled as their file is read.
    let mut targets: HashMap<&'static str, HashSet<String>> = HashMap::new();
    // References to an object whose file comes later in the manifest: resolved at the end.
    let mut pending: BTreeMap<(&'static str, String), String> = BTreeMap::new();
    // Ids that do not resolve, each with the first record that names it.
    let mut dangling: BTreeMap<(&'static str, String), String> = BTreeMap::new();
    let mut rows = 0;
    let mut seen = HashSet::new();
    for object in &manifest.objects {
        if object.file.contains(['/', '\\']) || object.file.starts_with('.') || object.file == MANIFEST {
            problems.push(format!("{}: file name {:?} is not a plain file name", object.object, object.file));
            continue;
        }
        let Some(spec) = spec(&object.object) else {
            problems.push(format!("{}: not an object access-audit pulls", object.object));
            continue;
        };
        if !seen.insert(spec.name) || manifest.objects.iter().filter(|o| o.file == object.file).count() > 1 {
            problems.push(format!("{}: listed twice in the manifest", object.object));
            continue;
        }
        let is_target = REFERENCES.iter().any(|r| r.target == spec.name);
        if is_target {
            // From here on, references to this object are checked as they are read.
            targets.entry(spec.name).or_default();
        }
        // A reference to an object the snapshot does not hold (a snapshot from before it was
        // pulled) cannot be checked.
        let references: Vec<&Reference> =
            REFERENCES.iter().filter(|r| r.object == spec.name && manifest.object(r.target).is_some()).collect();
        let check = |record: &Map<String, Value>| validate(spec, record).map_err(|e| e.to_string());
        let shape = check::Shape::of(spec);
        let scanned = scan(&dir.join(&object.file), &object.file, Some(&shape), check, |id, record| {
            if is_target {
                targets.entry(spec.name).or_default().insert(id.to_string());
            }
            for r in &references {
                let Some(to) = record.id_field(r.field) else { continue };
                let bucket = match targets.get(r.target) {
                    Some(known) if known.contains(to) => continue,
                    Some(_) => &mut dangling,
                    None => &mut pending,
                };
                bucket
                    .entry((r.target, to.to_string()))
                    .or_insert_with(|| format!("{} {id}: {} {to}", r.object, r.field));
            }
        });
        let Some(scanned) =
            agrees(scanned, &object.file, &object.sha256, object.rows, (object.total_size, "totalSize"), &mut problems)
        else {
            continue;
        };
        rows += scanned.lines;
    }
    for entry in std::fs::read_dir(dir)
        .map_err(|e| SnapshotError::Invalid { dir: shown.to_path_buf(), detail: e.to_string() })?
    {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != MANIFEST && name != apps::APPS_DIR && !manifest.objects.iter().any(|o| o.file == name) {
            problems.push(format!("{name}: not part of the snapshot (not in the manifest)"));
        }
    }
    let app_check = apps::check(dir, &manifest.apps, &mut problems);
    rows += app_check.rows;
    if !problems.is_empty() {
        problems.sort();
        problems.dedup();
        return Err(SnapshotError::Tampered { dir: shown.to_path_buf(), problems });
    }
    for (key, referrer) in pending {
        if !targets.get(key.0).is_some_and(|known| known.contains(&key.1)) {
            dangling.entry(key).or_insert(referrer);
        }
    }
    let mut unresolved: Vec<String> =
        dangling.iter().map(|((target, _), referrer)| format!("{referrer} is not in {target}.ndjson")).collect();
    unresolved.extend(app_check.unresolved);
    unresolved.sort();
    if unresolved.len() > UNRESOLVED_LISTED {
        let more = unresolved.len() - UNRESOLVED_LISTED;
        unresolved.truncate(UNRESOLVED_LISTED);
        unresolved.push(format!("… and {more} more references that do not resolve"));
    }
    let manifest_sha256 = files::open_member(&dir.join(MANIFEST))
        .and_then(|f| hash_reader(BufReader::new(f)))
        .map(|(sha, _)| sha)
        .map_err(|e| SnapshotError::Invalid { dir: shown.to_path_buf(), detail: format!("{MANIFEST}: {e}") })?;
    Ok(Verified { manifest, manifest_sha256, rows, unresolved })
}

/// Where the evidence sits inside a report folder.
pub const REPORT_SNAPSHOT: &str = "snapshot";

/// A report folder rather than a snapshot: it holds a `snapshot/` with a manifest.
fn is_report_folder(dir: &Path) -> bool {
    dir.join(REPORT_SNAPSHOT).join(MANIFEST).is_file()
}

/// Adds to `problems` where a scanned file (or the failure to read it) disagrees with what the
/// manifest records of it: its SHA-256, its rows, and the total the server announced (named
/// `totalSize` or `totalResults`), which a pull never writes different from the rows. The scan,
/// when the file could be read.
fn agrees(
    scanned: std::io::Result<Scanned>,
    file: &str,
    sha256: &str,
    rows: u64,
    (total, total_name): (u64, &str),
    problems: &mut Vec<String>,
) -> Option<Scanned> {
    let scanned = match scanned {
        Ok(s) => s,
        Err(e) => {
            problems.push(format!("{file}: cannot read it: {e}"));
            return None;
        }
    };
    problems.extend(scanned.problems.iter().cloned());
    if scanned.sha256 != sha256 {
        problems.push(format!(
            "{file}: SHA-256 is {}, the manifest says {sha256}: the file was changed after the pull",
            scanned.sha256
        ));
    }
    if scanned.lines != rows {
        problems.push(format!("{file}: {} rows, the manifest says {rows}", scanned.lines));
    }
    if rows != total {
        problems.push(format!(
            "{file}: the manifest says {rows} rows but a {total_name} of {total}: a pull never writes that"
        ));
    }
    Some(scanned)
}

/// What [`scan`] found in one file.
struct Scanned {
    sha256: String,
    lines: u64,
    problems: Vec<String>,
}

/// A good line of a snapshot file, as its check read it.
enum Good<'l> {
    /// Checked as it was parsed ([`check::Shape`]): its Id and top-level Id fields.
    Fast(check::Checked<'l>),
    /// Parsed into a map and checked whole: its Id and the record.
    Map(String, Map<String, Value>),
}

impl Good<'_> {
    fn id(&self) -> &str {
        match self {
            Good::Fast(checked) => checked.id.as_ref(),
            Good::Map(id, _) => id,
        }
    }

    /// The text of the top-level Id field `field`, unless null.
    fn id_field(&self, field: &str) -> Option<&str> {
        match self {
            Good::Fast(checked) => checked.id_field(field),
            Good::Map(_, record) => record.get(field).and_then(Value::as_str),
        }
    }

    /// The whole record, when it was read as a map (always, for a file scanned without a fast check).
    fn record(&self) -> Option<&Map<String, Value>> {
        match self {
            Good::Fast(_) => None,
            Good::Map(_, record) => Some(record),
        }
    }
}

/// Reads one snapshot file once: hashes every byte, counts the lines, and checks each line (ends
/// with a newline, is a valid record as `check` says, its Id above the previous one), handing each
/// good record to `each`. After the first bad record the rest are only hashed and counted.
///
/// With a `fast` check, each line is first checked as it is parsed ([`check::Shape`]), without
/// building it as a JSON map; only a line that it cannot accept is parsed into a map and given to
/// `check`, which decides and words the problem.
fn scan(
    path: &Path,
    file: &str,
    fast: Option<&check::Shape>,
    check: impl Fn(&Map<String, Value>) -> Result<String, String>,
    mut each: impl FnMut(&str, &Good<'_>),
) -> std::io::Result<Scanned> {
    let mut reader = BufReader::with_capacity(256 * 1024, files::open_member(path)?);
    let mut hasher = Sha256::new();
    let mut problems = Vec::new();
    let mut line = Vec::new();
    let mut lines = 0u64;
    // The previous good line's Id (the buffer is reused).
    let mut previous: Option<String> = None;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        hasher.update(&line);
        lines += 1;
        if !problems.is_empty() {
            continue;
        }
        let at = |detail: String| format!("{file} line {lines}: {detail}");
        let Some(text) = line.strip_suffix(b"\n") else {
            problems.push(at("the last line does not end with a newline (a pull always ends every line)".into()));
            continue;
        };
        if text.is_empty() {
            problems.push(at("is blank".into()));
            continue;
        }
        let good = match fast.and_then(|shape| shape.check(text)) {
            Some(checked) => Good::Fast(checked),
            None => {
                let record: Map<String, Value> = match serde_json::from_slice(text) {
                    Ok(r) => r,
                    Err(e) => {
                        problems.push(at(format!("not a JSON record ({e})")));
                        continue;
                    }
                };
                match check(&record) {
                    Ok(id) => Good::Map(id, record),
                    Err(e) => {
                        problems.push(at(e));
                        continue;
                    }
                }
            }
        };
        let id = good.id();
        match previous.as_deref().map(|p| id.cmp(p)) {
            Some(std::cmp::Ordering::Equal) => {
                problems.push(at(format!("record {id} appears twice")));
                continue;
            }
            Some(std::cmp::Ordering::Less) => {
                problems.push(at(format!("record {id} is out of order (a pull sorts the lines by Id)")));
                continue;
            }
            _ => {}
        }
        each(id, &good);
        match &mut previous {
            Some(p) => {
                p.clear();
                p.push_str(id);
            }
            None => previous = Some(id.to_string()),
        }
    }
    Ok(Scanned { sha256: hex::encode(hasher.finalize()), lines, problems })
}

/// Copies a verified snapshot's files and manifest from `from` into the existing folder `to`,
/// checking each copy's SHA-256 against the manifest, so that a file changed after verification
/// is not copied unnoticed. Returns each copied file's name, size and SHA-256.
pub fn copy_verified(verified: &Verified, from: &Path, to: &Path) -> Result<Vec<(String, u64, String)>, SnapshotError> {
    let mut copied = Vec::new();
    let entries = verified.manifest.member_files().into_iter().chain([(MANIFEST, verified.manifest_sha256.as_str())]);
    for (name, expected) in entries {
        let source = from.join(name);
        let target = to.join(name);
        if let Some(parent) = target.parent().filter(|p| *p != to) {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        let mut reader = files::open_member(&source)
            .map_err(|e| SnapshotError::Invalid { dir: from.to_path_buf(), detail: format!("{name}: {e}") })?;
        let mut writer = File::create_new(&target).map_err(io_err(&target))?;
        let mut hasher = Sha256::new();
        let mut bytes = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = std::io::Read::read(&mut reader, &mut buf)
                .map_err(|e| SnapshotError::Invalid { dir: from.to_path_buf(), detail: format!("{name}: {e}") })?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            writer.write_all(&buf[..n]).map_err(io_err(&target))?;
            bytes += n as u64;
        }
        let sha = hex::encode(hasher.finalize());
        if sha != expected {
            return Err(SnapshotError::Tampered {
                dir: from.to_path_buf(),
                problems: vec![format!("{name}: changed while it was being copied (SHA-256 {sha})")],
            });
        }
        copied.push((name.to_string(), bytes, sha));
    }
    Ok(copied)
}

/// A verified snapshot, read one object at a time so that no more than one record is held as JSON.
pub struct Loaded {
    pub verified: Verified,
    dir: PathBuf,
    /// The path the user knows the snapshot by, for messages.
    shown: PathBuf,
}

/// Verifies a snapshot, ready to be read.
pub fn load(dir: &Path) -> Result<Loaded, SnapshotError> {
    load_as(dir, dir)
}

/// [`load`] of the snapshot in `dir` (a staging folder), naming `shown` (where the user will find
/// it) in every message.
pub fn load_as(dir: &Path, shown: &Path) -> Result<Loaded, SnapshotError> {
    let verified = check(dir, shown)?;
    Ok(Loaded { verified, dir: dir.to_path_buf(), shown: shown.to_path_buf() })
}

/// A snapshot that [`copy_verified`] copied into `dir` (a staging folder): it passed [`verify`]
/// as `shown`, and every copied byte was checked against it.
pub fn load_copy(verified: Verified, dir: &Path, shown: &Path) -> Loaded {
    Loaded { verified, dir: dir.to_path_buf(), shown: shown.to_path_buf() }
}

impl Loaded {
    /// Hands every record of `object` to `each`, in file order, each validated again as it is read.
    /// An optional object the snapshot does not hold has no records.
    pub fn each<E: From<SnapshotError>>(
        &self,
        object: &str,
        mut each: impl FnMut(Map<String, Value>) -> Result<(), E>,
    ) -> Result<(), E> {
        let spec = spec(object).expect("a snapshot object");
        self.each_line(object, |n, line| {
            let record: Map<String, Value> = serde_json::from_slice(line)
                .map_err(|e| self.unreadable(object, n, &format!("not a JSON record ({e})")))?;
            validate(spec, &record)?;
            each(record)
        })
    }

    /// Hands every line of `object`'s file to `each` as bytes, without its newline, with its line
    /// number (from 1), in file order: for a reader that parses each record straight into its own
    /// typed fields, which is several times faster than a JSON map. The snapshot passed [`verify`]
    /// (or is a byte-checked copy of one), so every line is a valid record of its object; a line
    /// the reader still cannot read is reported with [`Loaded::unreadable`]. An optional object
    /// the snapshot does not hold has no lines.
    pub fn each_line<E: From<SnapshotError>>(
        &self,
        object: &str,
        mut each: impl FnMut(usize, &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let spec = spec(object).expect("a snapshot object");
        let Some(entry) = self.verified.manifest.object(spec.name) else {
            return Ok(()); // only an optional object can be missing: verify checked the others
        };
        let invalid = |detail: String| SnapshotError::Invalid { dir: self.shown.clone(), detail };
        let path = self.dir.join(&entry.file);
        let mut reader = BufReader::with_capacity(
            256 * 1024,
            files::open_member(&path).map_err(|e| invalid(format!("{}: {e}", entry.file)))?,
        );
        let mut line = Vec::new();
        for n in 1.. {
            line.clear();
            let read =
                reader.read_until(b'\n', &mut line).map_err(|e| invalid(format!("{} line {n}: {e}", entry.file)))?;
            if read == 0 {
                break;
            }
            each(n, line.strip_suffix(b"\n").unwrap_or(&line))?;
        }
        Ok(())
    }

    /// The error for line `n` of `object`'s file, which a reader could not read as a record.
    pub fn unreadable(&self, object: &str, n: usize, detail: &str) -> SnapshotError {
        let file = self.verified.manifest.object(object).map_or_else(|| format!("{object}.ndjson"), |o| o.file.clone());
        SnapshotError::Invalid { dir: self.shown.clone(), detail: format!("{file} line {n}: {detail}") }
    }

    /// Hands every resource of one application's listing to `each`, in file order (by `id`), each
    /// checked again as it is read.
    pub fn each_app<E: From<SnapshotError>>(
        &self,
        app: &str,
        resource: ResourceType,
        mut each: impl FnMut(Map<String, Value>) -> Result<(), E>,
    ) -> Result<(), E> {
        let invalid = |detail: String| SnapshotError::Invalid { dir: self.shown.clone(), detail };
        let file = apps::member_file(app, resource);
        if !self.verified.manifest.member_files().iter().any(|(f, _)| *f == file) {
            return Err(invalid(format!("{file}: not in the manifest")).into());
        }
        let reader =
            BufReader::new(files::open_member(&self.dir.join(&file)).map_err(|e| invalid(format!("{file}: {e}")))?);
        for (n, line) in reader.lines().enumerate() {
            let line = line.map_err(|e| invalid(format!("{file} line {}: {e}", n + 1)))?;
            let record: Map<String, Value> = serde_json::from_str(&line)
                .map_err(|e| invalid(format!("{file} line {}: not a JSON record ({e})", n + 1)))?;
            crate::scim::validate(resource, &record).map_err(|e| invalid(format!("{file} line {}: {e}", n + 1)))?;
            each(record)?;
        }
        Ok(())
    }

    /// Rows of `object` as the manifest counts them.
    pub fn rows(&self, object: &str) -> usize {
        self.verified.manifest.object(object).map_or(0, |o| o.rows as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn salesforce_datetimes() {
        let want = Utc.with_ymd_and_hms(2024, 1, 15, 10, 20, 30).unwrap();
        assert_eq!(parse_datetime("2024-01-15T10:20:30.000+0000"), Some(want));
        assert_eq!(parse_datetime("2024-01-15T10:20:30.000Z"), Some(want));
        assert_eq!(parse_datetime("2024-01-15T12:20:30.000+0200"), Some(want));
        assert_eq!(parse_datetime("2024-01-15T10:20:30+0000"), Some(want));
        for bad in [
            "2024-01-15",
            "yesterday",
            "2024-01-15 10:20:30",
            "2024-13-15T10:20:30.000+0000",
            "",
            "1970-01-01T00:00:0.000+0000",
            "2024-01-15T10:20:30.000 +0000",
            "2024-01-15T10:20:30\t+00:00",
            "2024-01-15T10:20:30.000+00 00",
            "2024-01-15T10:20:60.000+0000",
            "2024-01-15T10:20:30.+0000",
            "2024-01-15T10:20:30.000",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }

    #[test]
    fn soql_is_the_input_table() {
        assert_eq!(
            spec("UserPackageLicense").unwrap().soql(),
            "SELECT Id, UserId, PackageLicenseId, PackageLicense.NamespacePrefix FROM UserPackageLicense"
        );
        assert!(spec("User").unwrap().soql().contains("Profile.UserLicense.Name"));
    }

    fn rec(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn validation_names_object_record_and_field() {
        let s = spec("UserLogin").unwrap();
        assert_eq!(
            validate(s, &rec(r#"{"Id":"06000000000000AAAA","UserId":"005000000000001AAA","IsFrozen":false}"#)).unwrap(),
            "06000000000000AAAA"
        );
        let e = validate(s, &rec(r#"{"Id":"06000000000000AAAA","UserId":"005000000000001AAA","IsFrozen":"no"}"#))
            .unwrap_err()
            .to_string();
        assert_eq!(e, r#"UserLogin record 06000000000000AAAA: field IsFrozen is "no", not true or false"#);
        let e = validate(s, &rec(r#"{"Id":"06000000000000AAAA","UserId":"005000000000001AAA"}"#)).unwrap_err();
        assert!(e.to_string().contains("IsFrozen is missing"), "{e}");
        let e = validate(s, &rec(r#"{"Id":7}"#)).unwrap_err();
        assert!(e.to_string().contains("(no Id)"), "{e}");
    }

    #[test]
    fn null_lookups_are_allowed_wrong_shapes_are_not() {
        let s = spec("User").unwrap();
        let base = r#""Id":"005000000000001AAA","Username":"a@x","Name":"A","Email":null,"IsActive":true,"UserType":"Standard","UserRole":null,"Department":null,"Title":null,"FederationIdentifier":null,"CreatedDate":"2024-01-15T10:20:30.000+0000","LastLoginDate":null"#;
        assert!(validate(s, &rec(&format!(r#"{{{base},"Profile":null}}"#))).is_ok());
        assert!(validate(s, &rec(&format!(r#"{{{base},"Profile":{{"Name":"P","UserLicense":null}}}}"#))).is_ok());
        let e = validate(s, &rec(&format!(r#"{{{base},"Profile":"P"}}"#))).unwrap_err();
        assert!(e.to_string().contains("field Profile.Name"), "{e}");
        let e = validate(s, &rec(&format!(r#"{{{base},"Profile":null,"Extra":1}}"#))).unwrap_err();
        assert!(e.to_string().contains("Extra was not asked for"), "{e}");
    }

    #[test]
    fn an_older_snapshot_without_the_manager_fields_still_reads() {
        let s = spec("User").unwrap();
        let base = r#""Id":"005000000000001AAA","Username":"a@x","Name":"A","Email":null,"IsActive":true,"UserType":"Standard","Profile":null,"UserRole":null,"Department":null,"Title":null,"FederationIdentifier":null,"CreatedDate":"2024-01-15T10:20:30.000+0000","LastLoginDate":null"#;
        assert!(validate(s, &rec(&format!("{{{base}}}"))).is_ok(), "pulled before ManagerId was asked for");
        let with = format!(r#"{{{base},"ManagerId":"005000000000002AAA","Manager":{{"Name":"M","Email":null}}}}"#);
        assert!(validate(s, &rec(&with)).is_ok());
        let e = validate(s, &rec(&format!(r#"{{{base},"ManagerId":"x","Manager":null}}"#))).unwrap_err();
        assert!(e.to_string().contains("field ManagerId"), "{e}");
        let e = validate(s, &rec(&format!(r#"{{{base},"ManagerId":null,"Manager":"M"}}"#))).unwrap_err();
        assert!(e.to_string().contains("field Manager.Name"), "{e}");
    }

    /// A copy of the demo snapshot in which `object` holds no records (manifest fixed up).
    fn demo_without(object: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo-org");
        for entry in std::fs::read_dir(&demo).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
        }
        std::fs::write(dir.path().join(format!("{object}.ndjson")), "").unwrap();
        let path = dir.path().join(MANIFEST);
        let mut manifest: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        for o in manifest["objects"].as_array_mut().unwrap().iter_mut().filter(|o| o["object"] == object) {
            o["rows"] = 0.into();
            o["total_size"] = 0.into();
            // SHA-256 of no bytes.
            o["sha256"] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into();
        }
        std::fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
        dir
    }

    #[test]
    fn references_to_records_not_in_the_snapshot_are_listed_once_per_id() {
        // The demo org has 4 permission set groups; assignments (read before the groups) and
        // group components (read after) both refer to them.
        let dir = demo_without("PermissionSetGroup");
        let verified = verify(dir.path()).unwrap();
        assert_eq!(verified.unresolved.len(), 4, "{:?}", verified.unresolved);
        for line in &verified.unresolved {
            assert!(line.contains(": PermissionSetGroupId 0PG"), "{line}");
            assert!(line.ends_with(" is not in PermissionSetGroup.ndjson"), "{line}");
        }
    }

    #[test]
    fn many_unresolved_references_are_counted_beyond_the_first_twenty() {
        // 300 users, each referred to by a login and most by assignments: 300 distinct Ids.
        let dir = demo_without("User");
        let unresolved = verify(dir.path()).unwrap().unresolved;
        assert_eq!(unresolved.len(), UNRESOLVED_LISTED + 1);
        assert_eq!(unresolved.last().unwrap(), "… and 280 more references that do not resolve");
    }

    #[test]
    fn the_demo_snapshot_is_consistent() {
        let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo-org");
        let verified = verify(&demo).unwrap();
        assert_eq!(verified.unresolved, Vec::<String>::new());
        // The first input table, then PSL 4, PSL assignments 127, package licences 5, permission
        // controls 34, resources 37, user companies 75.
        assert_eq!(verified.rows, 1 + 300 + 756 + 4 + 10 + 263 + 300 + 4 + 127 + 5 + 34 + 37 + 75);
    }

    #[test]
    fn invalid_field_is_explained_with_the_version() {
        let err = SalesforceError::Api {
            what: "query of PermissionSetAssignment".into(),
            status: 400,
            failure: ApiFailure {
                code: "INVALID_FIELD".into(),
                message: "No such column 'PermissionSetGroupId' on entity 'PermissionSetAssignment'.".into(),
            },
        };
        let e = explain(err.into(), spec("PermissionSetAssignment").unwrap(), "44.0").to_string();
        assert!(e.contains("no field PermissionSetGroupId on PermissionSetAssignment at API v44.0"), "{e}");
        assert!(e.contains("--api-version 45.0"), "{e}");
    }
}
