//! Frames from the snapshot: every object the rules read, one polars frame each.
//!
//! Takes a verified [`Loaded`] snapshot and hands on [`Frames`]. No record is ever held as JSON:
//! each line of a snapshot file is parsed into a typed record whose strings point into the line
//! (`Text`), its fields are appended to the frame's column builders, and the line is dropped.
//! So an object of a million rows costs its columns, not a million maps.
//!
//! Users are the one object read whole (every field the report rows show), with what each row
//! needs besides its fields: the population rule (`Audited`), the account class, the dates as
//! microseconds since the epoch, and the user's data warnings. Every other object keeps only the
//! columns the joins use.
//!
//! Permission sets are not an object of the snapshot: assignments and group components carry them
//! as `PermissionSet.*` relationship fields. Each distinct permission set is named once by a small
//! key (`PsKey`) and classified once ([`PermissionSets`]), instead of running the name patterns
//! over a million assignments; the joins carry the answer to every assignment.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use polars::prelude::*;
use serde::Deserialize;

use super::AnalysisError;
use super::classify::{Classifier, display};
use crate::model::{AccountClass, DataWarning};
use crate::snapshot::{Loaded, SnapshotError, parse_datetime};

/// Column names shared by the frames, the joins, the rules and the rows.
pub mod col_name {
    /// The user's position in the users frame (and in [`super::Users::warnings`]).
    pub const ROW: &str = "Row";
    pub const ID: &str = "Id";
    pub const AUDITED: &str = "Audited";
    pub const IS_ACTIVE: &str = "IsActive";
    /// Microseconds since the epoch, UTC.
    pub const CREATED: &str = "CreatedUs";
    /// Microseconds since the epoch, UTC; null for a user who never logged in.
    pub const LAST_LOGIN: &str = "LastLoginUs";
    pub const ACCOUNT_CLASS: &str = "AccountClass";
    pub const PS_KEY: &str = "PsKey";
    pub const GROUP_ID: &str = "GroupId";
    pub const SEAT_ID: &str = "SeatId";
    pub const SEAT_KIND: &str = "SeatKind";
    pub const SEAT_NAME: &str = "SeatName";
    pub const SEAT_DEVELOPER_NAME: &str = "SeatDeveloperName";
    pub const SEAT_CERTINIA: &str = "SeatCertinia";
    pub const SEAT_ALLOWED: &str = "SeatAllowed";
    pub const SEAT_USED: &str = "SeatUsed";
    /// Days since the epoch.
    pub const SEAT_EXPIRATION: &str = "SeatExpiration";
    pub const SEAT_STATUS: &str = "SeatStatus";
    pub const SEAT_USER: &str = "SeatUser";
    /// The user holding a package licence (`UserPackageLicense.UserId`).
    pub const LICENSE_USER: &str = "LicenseUser";
    pub const CONTROL_USER: &str = "ControlUser";
    /// Days since the epoch; null for a control without end date.
    pub const CONTROL_END: &str = "ControlEnd";
    pub const CONTROL_SCOPE: &str = "ControlScope";
    pub const RESOURCE_USER: &str = "ResourceUser";
    pub const IS_RESOURCE: &str = "IsResource";
    pub const IS_RESOURCE_ACTIVE: &str = "IsResourceActive";
    pub const COMPANY_USER: &str = "CompanyUser";
    pub const COMPANY_NAME: &str = "CompanyName";
}
use col_name::*;

/// Every frame the analysis reads.
pub struct Frames {
    pub users: Users,
    /// One row per distinct permission set: `PsKey`, `PsCertinia`, `PsOwned`, `PsDisplay`.
    pub permission_sets: DataFrame,
    /// `PsaId`, `AssigneeId`, `PsKey`, `GroupId` (null for a direct assignment).
    pub assignments: DataFrame,
    /// `GroupId`, `GroupDisplay`, `GroupNameMatch`.
    pub groups: DataFrame,
    /// `GroupId`, `PsKey`.
    pub components: DataFrame,
    /// `LicenseId`, `LicenseUser`, `Namespace`, `LicenseCertinia`.
    pub licences: DataFrame,
    /// `LoginId`, `LoginUser`, `IsFrozen`.
    pub logins: DataFrame,
    /// The seats' licences (REPORTS.md, "Certinia beyond permission sets"): one row per
    /// `PackageLicense` and per `PermissionSetLicense`, see [`read_seat_licences`].
    pub seat_licences: DataFrame,
    /// `SeatId`, `SeatUser`: who holds each seat (`UserPackageLicense` and
    /// `PermissionSetLicenseAssign` rows, one per assignment).
    pub seat_holders: DataFrame,
    /// `ControlUser`, `ControlEnd` (days since the epoch; null without end date), `ControlScope`.
    pub controls: DataFrame,
    /// `ResourceUser`, `IsResource`, `IsResourceActive`.
    pub resources: DataFrame,
    /// `CompanyUser`, `CompanyName` (the company's Id when the snapshot has no name).
    pub companies: DataFrame,
}

/// The users: every field the rows show, as columns, and each user's data warnings.
pub struct Users {
    pub frame: DataFrame,
    /// By `Row`: dates after the as-of instant and text the pull repaired, in that user's record.
    pub warnings: Vec<Vec<DataWarning>>,
}

/// What reading the users needs besides the snapshot.
pub struct UserRules<'a> {
    /// The audited user types, compared case-insensitively.
    pub audited_types: &'a [String],
    pub as_of: DateTime<Utc>,
}

/// Reads every other frame, beside the users.
pub fn read(snapshot: &Loaded, classify: &Classifier<'_>, users: Users) -> Result<Frames, AnalysisError> {
    let mut permission_sets = PermissionSets::default();
    let assignments = read_assignments(snapshot, classify, &mut permission_sets)?;
    let components = read_components(snapshot, classify, &mut permission_sets)?;
    let licences = read_licences(snapshot, classify)?;
    let seat_holders = read_seat_holders(snapshot, &licences)?;
    Ok(Frames {
        users,
        permission_sets: permission_sets.into_frame()?,
        assignments,
        groups: read_groups(snapshot, classify)?,
        components,
        licences,
        logins: read_logins(snapshot)?,
        seat_licences: read_seat_licences(snapshot, classify)?,
        seat_holders,
        controls: read_controls(snapshot)?,
        resources: read_resources(snapshot)?,
        companies: read_companies(snapshot)?,
    })
}

/// A JSON string of a record, borrowed from the line unless it holds an escape.
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

/// The text of an optional field.
fn s<'t>(text: &'t Option<Text<'_>>) -> Option<&'t str> {
    text.as_ref().map(|t| t.0.as_ref())
}

#[derive(Deserialize)]
struct Named<'a> {
    #[serde(borrow, rename = "Name")]
    name: Option<Text<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProfileRef<'a> {
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow)]
    user_license: Option<Named<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManagerRef<'a> {
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow)]
    email: Option<Text<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UserLine<'a> {
    #[serde(borrow)]
    id: Text<'a>,
    #[serde(borrow)]
    username: Option<Text<'a>>,
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow)]
    email: Option<Text<'a>>,
    is_active: Option<bool>,
    #[serde(borrow)]
    user_type: Option<Text<'a>>,
    #[serde(borrow)]
    profile: Option<ProfileRef<'a>>,
    #[serde(borrow)]
    user_role: Option<Named<'a>>,
    #[serde(borrow)]
    department: Option<Text<'a>>,
    #[serde(borrow)]
    title: Option<Text<'a>>,
    #[serde(borrow)]
    federation_identifier: Option<Text<'a>>,
    #[serde(borrow)]
    created_date: Option<Text<'a>>,
    #[serde(borrow)]
    last_login_date: Option<Text<'a>>,
    #[serde(borrow)]
    manager_id: Option<Text<'a>>,
    #[serde(borrow)]
    manager: Option<ManagerRef<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PermissionSetRef<'a> {
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow)]
    label: Option<Text<'a>>,
    #[serde(borrow)]
    namespace_prefix: Option<Text<'a>>,
    is_owned_by_profile: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssignmentLine<'a> {
    #[serde(borrow)]
    id: Text<'a>,
    #[serde(borrow)]
    assignee_id: Option<Text<'a>>,
    #[serde(borrow)]
    permission_set: Option<PermissionSetRef<'a>>,
    #[serde(borrow)]
    permission_set_group_id: Option<Text<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GroupLine<'a> {
    #[serde(borrow)]
    id: Text<'a>,
    #[serde(borrow)]
    developer_name: Option<Text<'a>>,
    #[serde(borrow)]
    master_label: Option<Text<'a>>,
    #[serde(borrow)]
    namespace_prefix: Option<Text<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ComponentLine<'a> {
    #[serde(borrow)]
    permission_set_group_id: Option<Text<'a>>,
    #[serde(borrow)]
    permission_set: Option<PermissionSetRef<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NamespaceRef<'a> {
    #[serde(borrow)]
    namespace_prefix: Option<Text<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LicenceLine<'a> {
    #[serde(borrow)]
    id: Text<'a>,
    #[serde(borrow)]
    user_id: Option<Text<'a>>,
    #[serde(borrow)]
    package_license_id: Option<Text<'a>>,
    #[serde(borrow)]
    package_license: Option<NamespaceRef<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PackageLicenseLine<'a> {
    #[serde(borrow)]
    id: Text<'a>,
    #[serde(borrow)]
    namespace_prefix: Option<Text<'a>>,
    allowed_licenses: Option<i64>,
    used_licenses: Option<i64>,
    #[serde(borrow)]
    expiration_date: Option<Text<'a>>,
    #[serde(borrow)]
    status: Option<Text<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PermissionSetLicenseLine<'a> {
    #[serde(borrow)]
    id: Text<'a>,
    #[serde(borrow)]
    developer_name: Option<Text<'a>>,
    #[serde(borrow)]
    master_label: Option<Text<'a>>,
    total_licenses: Option<i64>,
    used_licenses: Option<i64>,
    #[serde(borrow)]
    expiration_date: Option<Text<'a>>,
    #[serde(borrow)]
    status: Option<Text<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LicenceAssignLine<'a> {
    #[serde(borrow)]
    assignee_id: Option<Text<'a>>,
    #[serde(borrow)]
    permission_set_license_id: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct ControlLine<'a> {
    #[serde(borrow, rename = "pse__User__c")]
    user: Option<Text<'a>>,
    #[serde(borrow, rename = "pse__End_Date__c")]
    end: Option<Text<'a>>,
    #[serde(borrow, rename = "pse__Resource__r")]
    resource: Option<Named<'a>>,
    #[serde(borrow, rename = "pse__Region__r")]
    region: Option<Named<'a>>,
    #[serde(borrow, rename = "pse__Practice__r")]
    practice: Option<Named<'a>>,
    #[serde(borrow, rename = "pse__Group__r")]
    group: Option<Named<'a>>,
    #[serde(borrow, rename = "pse__Project__r")]
    project: Option<Named<'a>>,
    #[serde(borrow, rename = "pse__Opportunity__r")]
    opportunity: Option<Named<'a>>,
}

#[derive(Deserialize)]
struct ResourceLine<'a> {
    #[serde(borrow, rename = "pse__Salesforce_User__c")]
    user: Option<Text<'a>>,
    #[serde(rename = "pse__Is_Resource__c")]
    is_resource: Option<bool>,
    #[serde(rename = "pse__Is_Resource_Active__c")]
    is_active: Option<bool>,
}

#[derive(Deserialize)]
struct UserCompanyLine<'a> {
    #[serde(borrow, rename = "c2g__User__c")]
    user: Option<Text<'a>>,
    #[serde(borrow, rename = "c2g__Company__c")]
    company: Option<Text<'a>>,
    #[serde(borrow, rename = "c2g__Company__r")]
    company_ref: Option<Named<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LoginLine<'a> {
    #[serde(borrow)]
    id: Text<'a>,
    #[serde(borrow)]
    user_id: Option<Text<'a>>,
    is_frozen: Option<bool>,
}

/// Parses line `n` of `object`'s file as a typed record.
fn parse<'l, T: Deserialize<'l>>(
    snapshot: &Loaded,
    object: &str,
    n: usize,
    line: &'l [u8],
) -> Result<T, SnapshotError> {
    serde_json::from_slice(line).map_err(|e| snapshot.unreadable(object, n, &format!("not a {object} record ({e})")))
}

fn text_builder(name: &str, capacity: usize) -> StringChunkedBuilder {
    StringChunkedBuilder::new(name.into(), capacity)
}

fn bool_builder(name: &str, capacity: usize) -> BooleanChunkedBuilder {
    BooleanChunkedBuilder::new(name.into(), capacity)
}

/// A user's datetime field, in microseconds since the epoch.
fn micros(id: &str, field: &'static str, value: Option<&str>) -> Result<Option<i64>, AnalysisError> {
    value
        .map(|v| {
            parse_datetime(v).map(|d| d.timestamp_micros()).ok_or_else(|| AnalysisError::BadDateTime {
                object: "User",
                id: id.to_string(),
                field,
                value: v.to_string(),
            })
        })
        .transpose()
}

/// A date after the as-of instant cannot be measured against it. The audit never lets such a
/// date keep a user out of a finding: a login after the as-of instant is not a recent login (the
/// user is inactive if active), a creation after it gives no grace period. Days are left empty.
pub fn after_as_of(id: &str, field: &'static str, at: DateTime<Utc>, as_of: DateTime<Utc>) -> Option<DataWarning> {
    (at > as_of).then(|| {
        let consequence = match field {
            "LastLoginDate" => "no days are counted, and it does not count as a recent login",
            _ => "no days are counted, and no grace period applies",
        };
        DataWarning {
            object: "User".to_string(),
            id: id.to_string(),
            field: field.to_string(),
            detail: format!(
                "{} is after the as-of instant {}: {consequence}",
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                as_of.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        }
    })
}

/// The datetime of a microsecond column's value.
pub fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).expect("a microsecond count read from a Salesforce datetime")
}

/// The users' text columns, in the order [`UserColumns`] reads them.
const USER_TEXT: [&str; 14] = [
    "Username",
    "Name",
    "Email",
    "UserType",
    "Profile",
    "UserLicense",
    "UserRole",
    "Department",
    "Title",
    "FederationIdentifier",
    "ManagerId",
    "ManagerName",
    "ManagerEmail",
    ACCOUNT_CLASS,
];

/// Reads the users, first: without any audited user there is nothing else to read.
pub fn read_users(snapshot: &Loaded, rules: &UserRules<'_>) -> Result<Users, AnalysisError> {
    const OBJECT: &str = "User";
    let n = snapshot.rows(OBJECT);
    // Text the pull repaired (not valid Unicode, replaced with U+FFFD) travels with its user's row.
    let mut repaired: HashMap<&str, Vec<DataWarning>> = HashMap::new();
    for w in snapshot.verified.manifest.data_warnings.iter().filter(|w| w.object == OBJECT) {
        repaired.entry(w.id.as_str()).or_default().push(w.clone());
    }
    let mut row = PrimitiveChunkedBuilder::<UInt32Type>::new(ROW.into(), n);
    let mut id = text_builder(ID, n);
    let mut texts: Vec<StringChunkedBuilder> = USER_TEXT.iter().map(|c| text_builder(c, n)).collect();
    let mut active = bool_builder(IS_ACTIVE, n);
    let mut audited = bool_builder(AUDITED, n);
    let mut created = PrimitiveChunkedBuilder::<Int64Type>::new(CREATED.into(), n);
    let mut last_login = PrimitiveChunkedBuilder::<Int64Type>::new(LAST_LOGIN.into(), n);
    let mut warnings = Vec::with_capacity(n);
    let mut count: u32 = 0;
    snapshot.each_line(OBJECT, |line_no, line| {
        let u: UserLine<'_> = parse(snapshot, OBJECT, line_no, line)?;
        let user_id = u.id.0.as_ref();
        let user_type = s(&u.user_type).unwrap_or_default();
        let profile = u.profile.as_ref().and_then(|p| s(&p.name));
        let licence = u.profile.as_ref().and_then(|p| p.user_license.as_ref()).and_then(|l| s(&l.name));
        let created_at =
            micros(user_id, "CreatedDate", s(&u.created_date))?.ok_or_else(|| AnalysisError::BadDateTime {
                object: OBJECT,
                id: user_id.to_string(),
                field: "CreatedDate",
                value: String::new(),
            })?;
        let login_at = micros(user_id, "LastLoginDate", s(&u.last_login_date))?;
        let class = AccountClass::of(user_type, licence, profile);
        let values: [Option<&str>; 14] = [
            Some(s(&u.username).unwrap_or_default()),
            s(&u.name),
            s(&u.email),
            Some(user_type),
            profile,
            licence,
            u.user_role.as_ref().and_then(|r| s(&r.name)),
            s(&u.department),
            s(&u.title),
            s(&u.federation_identifier),
            s(&u.manager_id),
            u.manager.as_ref().and_then(|m| s(&m.name)),
            u.manager.as_ref().and_then(|m| s(&m.email)),
            Some(class.label()),
        ];
        for (builder, value) in texts.iter_mut().zip(values) {
            builder.append_option(value);
        }
        row.append_value(count);
        count += 1;
        id.append_value(user_id);
        active.append_value(u.is_active.unwrap_or(false));
        audited.append_value(rules.audited_types.iter().any(|t| t.eq_ignore_ascii_case(user_type)));
        created.append_value(created_at);
        last_login.append_option(login_at);
        warnings.push(
            repaired
                .remove(user_id)
                .unwrap_or_default()
                .into_iter()
                .chain(
                    [
                        login_at.and_then(|t| after_as_of(user_id, "LastLoginDate", from_micros(t), rules.as_of)),
                        after_as_of(user_id, "CreatedDate", from_micros(created_at), rules.as_of),
                    ]
                    .into_iter()
                    .flatten(),
                )
                .collect(),
        );
        Ok::<(), AnalysisError>(())
    })?;
    let mut columns = vec![row.finish().into_column(), id.finish().into_column()];
    columns.extend(texts.into_iter().map(|b| b.finish().into_column()));
    columns.extend([
        active.finish().into_column(),
        audited.finish().into_column(),
        created.finish().into_column(),
        last_login.finish().into_column(),
    ]);
    Ok(Users { frame: DataFrame::new(warnings.len(), columns)?, warnings })
}

/// The users frame's columns, typed, for reading rows by position.
pub struct UserColumns<'f> {
    pub id: &'f StringChunked,
    pub username: &'f StringChunked,
    pub name: &'f StringChunked,
    pub email: &'f StringChunked,
    pub user_type: &'f StringChunked,
    pub profile: &'f StringChunked,
    pub user_license: &'f StringChunked,
    pub role: &'f StringChunked,
    pub department: &'f StringChunked,
    pub title: &'f StringChunked,
    pub federation_id: &'f StringChunked,
    pub manager_id: &'f StringChunked,
    pub manager_name: &'f StringChunked,
    pub manager_email: &'f StringChunked,
    pub account_class: &'f StringChunked,
    pub is_active: &'f BooleanChunked,
    pub audited: &'f BooleanChunked,
    pub created: &'f Int64Chunked,
    pub last_login: &'f Int64Chunked,
}

impl Users {
    pub fn len(&self) -> usize {
        self.frame.height()
    }

    pub fn columns(&self) -> PolarsResult<UserColumns<'_>> {
        let f = &self.frame;
        let t = |name: &str| f.column(name).and_then(Column::str);
        let [
            username,
            name,
            email,
            user_type,
            profile,
            user_license,
            role,
            department,
            title,
            federation_id,
            manager_id,
            manager_name,
            manager_email,
            account_class,
        ] = USER_TEXT;
        Ok(UserColumns {
            id: t(ID)?,
            username: t(username)?,
            name: t(name)?,
            email: t(email)?,
            user_type: t(user_type)?,
            profile: t(profile)?,
            user_license: t(user_license)?,
            role: t(role)?,
            department: t(department)?,
            title: t(title)?,
            federation_id: t(federation_id)?,
            manager_id: t(manager_id)?,
            manager_name: t(manager_name)?,
            manager_email: t(manager_email)?,
            account_class: t(account_class)?,
            is_active: f.column(IS_ACTIVE)?.bool()?,
            audited: f.column(AUDITED)?.bool()?,
            created: f.column(CREATED)?.i64()?,
            last_login: f.column(LAST_LOGIN)?.i64()?,
        })
    }
}

impl UserColumns<'_> {
    pub fn class(&self, row: usize) -> AccountClass {
        self.account_class.get(row).and_then(AccountClass::from_label).unwrap_or(AccountClass::Human)
    }

    /// Each user's row, by Id.
    pub fn index(&self) -> HashMap<&str, usize> {
        self.id.iter().enumerate().filter_map(|(row, id)| id.map(|id| (id, row))).collect()
    }
}

/// The permission sets named by assignments and group components, each once, classified once.
#[derive(Default)]
struct PermissionSets {
    /// The relationship fields (namespace, name, label, profile-owned) of each, as one string.
    keys: HashMap<String, u32>,
    /// Scratch space for the key of the record being read.
    scratch: String,
    certinia: Vec<bool>,
    owned: Vec<bool>,
    display: Vec<String>,
}

impl PermissionSets {
    /// The key of the permission set a record names through its `PermissionSet.*` fields.
    fn key(&mut self, classify: &Classifier<'_>, ps: Option<&PermissionSetRef<'_>>) -> u32 {
        let ns = ps.and_then(|p| s(&p.namespace_prefix));
        let name = ps.and_then(|p| s(&p.name));
        let label = ps.and_then(|p| s(&p.label));
        let owned = ps.and_then(|p| p.is_owned_by_profile).unwrap_or(false);
        self.scratch.clear();
        for part in [ns, name, label] {
            // A null and an empty text are different permission sets to the classifier's eyes.
            match part {
                None => self.scratch.push('\u{0}'),
                Some(v) => {
                    self.scratch.push('\u{1}');
                    self.scratch.push_str(v);
                }
            }
            self.scratch.push('\u{1f}');
        }
        self.scratch.push(if owned { '1' } else { '0' });
        if let Some(key) = self.keys.get(self.scratch.as_str()) {
            return *key;
        }
        let key = self.certinia.len() as u32;
        self.keys.insert(self.scratch.clone(), key);
        self.certinia.push(classify.permission_set(ns, name, label, owned));
        self.owned.push(owned);
        self.display.push(display(label, ns, name));
        key
    }

    fn into_frame(self) -> PolarsResult<DataFrame> {
        let n = self.certinia.len();
        DataFrame::new(
            n,
            vec![
                Column::new(PS_KEY.into(), (0..n as u32).collect::<Vec<_>>()),
                Column::new("PsCertinia".into(), self.certinia),
                Column::new("PsOwned".into(), self.owned),
                Column::new("PsDisplay".into(), self.display),
            ],
        )
    }
}

fn read_assignments(
    snapshot: &Loaded,
    classify: &Classifier<'_>,
    sets: &mut PermissionSets,
) -> Result<DataFrame, AnalysisError> {
    const OBJECT: &str = "PermissionSetAssignment";
    let n = snapshot.rows(OBJECT);
    let mut id = text_builder("PsaId", n);
    let mut assignee = text_builder("AssigneeId", n);
    let mut key = PrimitiveChunkedBuilder::<UInt32Type>::new(PS_KEY.into(), n);
    let mut group = text_builder(GROUP_ID, n);
    snapshot.each_line(OBJECT, |line_no, line| {
        let r: AssignmentLine<'_> = parse(snapshot, OBJECT, line_no, line)?;
        id.append_value(r.id.0.as_ref());
        assignee.append_option(s(&r.assignee_id));
        key.append_value(sets.key(classify, r.permission_set.as_ref()));
        group.append_option(s(&r.permission_set_group_id));
        Ok::<(), AnalysisError>(())
    })?;
    let columns = vec![
        id.finish().into_column(),
        assignee.finish().into_column(),
        key.finish().into_column(),
        group.finish().into_column(),
    ];
    Ok(DataFrame::new(columns[0].len(), columns)?)
}

fn read_groups(snapshot: &Loaded, classify: &Classifier<'_>) -> Result<DataFrame, AnalysisError> {
    const OBJECT: &str = "PermissionSetGroup";
    let n = snapshot.rows(OBJECT);
    let mut id = text_builder(GROUP_ID, n);
    let mut shown = text_builder("GroupDisplay", n);
    let mut name_match = bool_builder("GroupNameMatch", n);
    snapshot.each_line(OBJECT, |line_no, line| {
        let r: GroupLine<'_> = parse(snapshot, OBJECT, line_no, line)?;
        let (name, label) = (s(&r.developer_name), s(&r.master_label));
        id.append_value(r.id.0.as_ref());
        shown.append_value(display(label, s(&r.namespace_prefix), name));
        name_match.append_value(classify.name(name) || classify.name(label));
        Ok::<(), AnalysisError>(())
    })?;
    let columns = vec![id.finish().into_column(), shown.finish().into_column(), name_match.finish().into_column()];
    Ok(DataFrame::new(columns[0].len(), columns)?)
}

fn read_components(
    snapshot: &Loaded,
    classify: &Classifier<'_>,
    sets: &mut PermissionSets,
) -> Result<DataFrame, AnalysisError> {
    const OBJECT: &str = "PermissionSetGroupComponent";
    let n = snapshot.rows(OBJECT);
    let mut group = text_builder(GROUP_ID, n);
    let mut key = PrimitiveChunkedBuilder::<UInt32Type>::new(PS_KEY.into(), n);
    snapshot.each_line(OBJECT, |line_no, line| {
        let r: ComponentLine<'_> = parse(snapshot, OBJECT, line_no, line)?;
        group.append_option(s(&r.permission_set_group_id));
        key.append_value(sets.key(classify, r.permission_set.as_ref()));
        Ok::<(), AnalysisError>(())
    })?;
    let columns = vec![group.finish().into_column(), key.finish().into_column()];
    Ok(DataFrame::new(columns[0].len(), columns)?)
}

fn read_licences(snapshot: &Loaded, classify: &Classifier<'_>) -> Result<DataFrame, AnalysisError> {
    const OBJECT: &str = "UserPackageLicense";
    let n = snapshot.rows(OBJECT);
    let mut id = text_builder("LicenseId", n);
    let mut user = text_builder(LICENSE_USER, n);
    let mut namespace = text_builder("Namespace", n);
    let mut certinia = bool_builder("LicenseCertinia", n);
    let mut package = text_builder(SEAT_ID, n);
    snapshot.each_line(OBJECT, |line_no, line| {
        let r: LicenceLine<'_> = parse(snapshot, OBJECT, line_no, line)?;
        let ns = r.package_license.as_ref().and_then(|p| s(&p.namespace_prefix));
        id.append_value(r.id.0.as_ref());
        user.append_option(s(&r.user_id));
        package.append_option(s(&r.package_license_id));
        namespace.append_option(ns);
        certinia.append_value(classify.namespace(ns));
        Ok::<(), AnalysisError>(())
    })?;
    let columns = vec![
        id.finish().into_column(),
        user.finish().into_column(),
        namespace.finish().into_column(),
        certinia.finish().into_column(),
        package.finish().into_column(),
    ];
    Ok(DataFrame::new(columns[0].len(), columns)?)
}

fn read_logins(snapshot: &Loaded) -> Result<DataFrame, AnalysisError> {
    const OBJECT: &str = "UserLogin";
    let n = snapshot.rows(OBJECT);
    let mut id = text_builder("LoginId", n);
    let mut user = text_builder("LoginUser", n);
    let mut frozen = bool_builder("IsFrozen", n);
    snapshot.each_line(OBJECT, |line_no, line| {
        let r: LoginLine<'_> = parse(snapshot, OBJECT, line_no, line)?;
        id.append_value(r.id.0.as_ref());
        user.append_option(s(&r.user_id));
        frozen.append_value(r.is_frozen.unwrap_or(false));
        Ok::<(), AnalysisError>(())
    })?;
    let columns = vec![id.finish().into_column(), user.finish().into_column(), frozen.finish().into_column()];
    Ok(DataFrame::new(columns[0].len(), columns)?)
}

/// A Salesforce date (`2026-10-01`) or the date of a datetime, as days since the epoch.
fn epoch_days(value: &str) -> Option<i32> {
    let date = crate::snapshot::parse_date(value.get(..10)?)?;
    Some((date - chrono::NaiveDate::default()).num_days() as i32)
}

/// The licences that cost seats: every `PackageLicense` and `PermissionSetLicense`, with
/// `SeatId`, `SeatKind`, `SeatName` (the namespace of a package licence, the `MasterLabel` of a
/// permission set licence), `SeatDeveloperName`, `SeatCertinia`, `SeatAllowed`, `SeatUsed`,
/// `SeatExpiration` (days since the epoch), `SeatStatus`. A permission set licence is Certinia
/// when its `DeveloperName` or `MasterLabel` matches the name patterns; a package licence when
/// its namespace is a Certinia namespace.
fn read_seat_licences(snapshot: &Loaded, classify: &Classifier<'_>) -> Result<DataFrame, AnalysisError> {
    let n = snapshot.rows("PackageLicense") + snapshot.rows("PermissionSetLicense");
    let mut id = text_builder(SEAT_ID, n);
    let mut kind = text_builder(SEAT_KIND, n);
    let mut name = text_builder(SEAT_NAME, n);
    let mut developer = text_builder(SEAT_DEVELOPER_NAME, n);
    let mut certinia = bool_builder(SEAT_CERTINIA, n);
    let mut allowed = PrimitiveChunkedBuilder::<Int64Type>::new(SEAT_ALLOWED.into(), n);
    let mut used = PrimitiveChunkedBuilder::<Int64Type>::new(SEAT_USED.into(), n);
    let mut expiration = PrimitiveChunkedBuilder::<Int32Type>::new(SEAT_EXPIRATION.into(), n);
    let mut status = text_builder(SEAT_STATUS, n);
    snapshot.each_line("PackageLicense", |line_no, line| {
        let r: PackageLicenseLine<'_> = parse(snapshot, "PackageLicense", line_no, line)?;
        let ns = s(&r.namespace_prefix);
        id.append_value(r.id.0.as_ref());
        kind.append_value("PackageLicense");
        name.append_value(ns.unwrap_or_default());
        developer.append_null();
        certinia.append_value(classify.namespace(ns));
        allowed.append_option(r.allowed_licenses);
        used.append_option(r.used_licenses);
        expiration.append_option(s(&r.expiration_date).and_then(epoch_days));
        status.append_option(s(&r.status));
        Ok::<(), AnalysisError>(())
    })?;
    snapshot.each_line("PermissionSetLicense", |line_no, line| {
        let r: PermissionSetLicenseLine<'_> = parse(snapshot, "PermissionSetLicense", line_no, line)?;
        let (dev, label) = (s(&r.developer_name), s(&r.master_label));
        id.append_value(r.id.0.as_ref());
        kind.append_value("PermissionSetLicense");
        name.append_value(label.or(dev).unwrap_or_default());
        developer.append_option(dev);
        certinia.append_value(classify.name(dev) || classify.name(label));
        allowed.append_option(r.total_licenses);
        used.append_option(r.used_licenses);
        expiration.append_option(s(&r.expiration_date).and_then(epoch_days));
        status.append_option(s(&r.status));
        Ok::<(), AnalysisError>(())
    })?;
    let columns = vec![
        id.finish().into_column(),
        kind.finish().into_column(),
        name.finish().into_column(),
        developer.finish().into_column(),
        certinia.finish().into_column(),
        allowed.finish().into_column(),
        used.finish().into_column(),
        expiration.finish().into_column(),
        status.finish().into_column(),
    ];
    Ok(DataFrame::new(columns[0].len(), columns)?)
}

/// Who holds each seat: `SeatId`, `SeatUser`, one row per `UserPackageLicense` (taken from
/// `licences`, already read) and per `PermissionSetLicenseAssign`.
fn read_seat_holders(snapshot: &Loaded, licences: &DataFrame) -> Result<DataFrame, AnalysisError> {
    const OBJECT: &str = "PermissionSetLicenseAssign";
    let n = snapshot.rows(OBJECT);
    let mut seat = text_builder(SEAT_ID, n);
    let mut user = text_builder(SEAT_USER, n);
    snapshot.each_line(OBJECT, |line_no, line| {
        let r: LicenceAssignLine<'_> = parse(snapshot, OBJECT, line_no, line)?;
        seat.append_option(s(&r.permission_set_license_id));
        user.append_option(s(&r.assignee_id));
        Ok::<(), AnalysisError>(())
    })?;
    let columns = vec![seat.finish().into_column(), user.finish().into_column()];
    let assigned = DataFrame::new(columns[0].len(), columns)?;
    let mut packages = licences.select([SEAT_ID, LICENSE_USER])?;
    packages.rename(LICENSE_USER, SEAT_USER.into())?;
    Ok(packages.vstack(&assigned)?)
}

/// PSA permission controls: `ControlUser`, `ControlEnd`, `ControlScope` (each named scope as
/// `Region: EMEA`, joined with `, `; empty when the snapshot names none).
fn read_controls(snapshot: &Loaded) -> Result<DataFrame, AnalysisError> {
    const OBJECT: &str = "pse__Permission_Control__c";
    let n = snapshot.rows(OBJECT);
    let mut user = text_builder(CONTROL_USER, n);
    let mut end = PrimitiveChunkedBuilder::<Int32Type>::new(CONTROL_END.into(), n);
    let mut scope = text_builder(CONTROL_SCOPE, n);
    snapshot.each_line(OBJECT, |line_no, line| {
        let r: ControlLine<'_> = parse(snapshot, OBJECT, line_no, line)?;
        user.append_option(s(&r.user));
        end.append_option(s(&r.end).and_then(epoch_days));
        let scopes = [
            ("Resource", &r.resource),
            ("Region", &r.region),
            ("Practice", &r.practice),
            ("Group", &r.group),
            ("Project", &r.project),
            ("Opportunity", &r.opportunity),
        ];
        let named: Vec<String> = scopes
            .iter()
            .filter_map(|(kind, r)| r.as_ref().and_then(|r| s(&r.name)).map(|name| format!("{kind}: {name}")))
            .collect();
        scope.append_value(named.join(", "));
        Ok::<(), AnalysisError>(())
    })?;
    let columns = vec![user.finish().into_column(), end.finish().into_column(), scope.finish().into_column()];
    Ok(DataFrame::new(columns[0].len(), columns)?)
}

/// PSA resources (Contacts linked to a user): `ResourceUser`, `IsResource`, `IsResourceActive`.
fn read_resources(snapshot: &Loaded) -> Result<DataFrame, AnalysisError> {
    const OBJECT: &str = "Contact";
    let n = snapshot.rows(OBJECT);
    let mut user = text_builder(RESOURCE_USER, n);
    let mut is_resource = bool_builder(IS_RESOURCE, n);
    let mut is_active = bool_builder(IS_RESOURCE_ACTIVE, n);
    snapshot.each_line(OBJECT, |line_no, line| {
        let r: ResourceLine<'_> = parse(snapshot, OBJECT, line_no, line)?;
        user.append_option(s(&r.user));
        is_resource.append_value(r.is_resource.unwrap_or(false));
        is_active.append_value(r.is_active.unwrap_or(false));
        Ok::<(), AnalysisError>(())
    })?;
    let columns =
        vec![user.finish().into_column(), is_resource.finish().into_column(), is_active.finish().into_column()];
    Ok(DataFrame::new(columns[0].len(), columns)?)
}

/// Accounting user companies: `CompanyUser`, `CompanyName`.
fn read_companies(snapshot: &Loaded) -> Result<DataFrame, AnalysisError> {
    const OBJECT: &str = "c2g__codaUserCompany__c";
    let n = snapshot.rows(OBJECT);
    let mut user = text_builder(COMPANY_USER, n);
    let mut name = text_builder(COMPANY_NAME, n);
    snapshot.each_line(OBJECT, |line_no, line| {
        let r: UserCompanyLine<'_> = parse(snapshot, OBJECT, line_no, line)?;
        user.append_option(s(&r.user));
        name.append_option(r.company_ref.as_ref().and_then(|c| s(&c.name)).or(s(&r.company)));
        Ok::<(), AnalysisError>(())
    })?;
    let columns = vec![user.finish().into_column(), name.finish().into_column()];
    Ok(DataFrame::new(columns[0].len(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::RuleArgs;
    use crate::config::{LoadedFile, Rules};

    #[test]
    fn only_dates_after_the_as_of_instant_are_warnings() {
        let as_of = chrono::DateTime::parse_from_rfc3339("2026-11-20T09:00:00Z").unwrap().to_utc();
        assert_eq!(after_as_of("005", "LastLoginDate", as_of, as_of), None, "at the instant is not after it");
        let later = as_of + chrono::Duration::seconds(1);
        let w = after_as_of("005A", "LastLoginDate", later, as_of).unwrap();
        assert_eq!((w.object.as_str(), w.id.as_str(), w.field.as_str()), ("User", "005A", "LastLoginDate"));
        assert_eq!(
            w.detail,
            "2026-11-20T09:00:01Z is after the as-of instant 2026-11-20T09:00:00Z: no days are counted, and it \
             does not count as a recent login"
        );
        let w = after_as_of("005B", "CreatedDate", later, as_of).unwrap();
        assert!(w.detail.ends_with("no grace period applies"), "{}", w.detail);
    }

    #[test]
    fn each_permission_set_is_keyed_and_classified_once_by_its_fields() {
        let rules = Rules::from_sources(&RuleArgs::default(), &LoadedFile::default()).unwrap();
        let classify = Classifier::new(&rules);
        let mut sets = PermissionSets::default();
        let parse = |json: &'static str| serde_json::from_str::<PermissionSetRef<'static>>(json).unwrap();
        let psa = parse(r#"{"Name":"PSA_User","Label":"PSA User","NamespacePrefix":null,"IsOwnedByProfile":false}"#);
        let owned = parse(r#"{"Name":"PSA_User","Label":"PSA User","NamespacePrefix":null,"IsOwnedByProfile":true}"#);
        let escaped =
            parse(r#"{"Name":"PSA_User","Label":"PSA\u0020User","NamespacePrefix":null,"IsOwnedByProfile":false}"#);
        let empty_ns = parse(r#"{"Name":"PSA_User","Label":"PSA User","NamespacePrefix":"","IsOwnedByProfile":false}"#);
        assert_eq!(sets.key(&classify, Some(&psa)), 0);
        assert_eq!(sets.key(&classify, Some(&owned)), 1, "profile-owned is another permission set");
        assert_eq!(sets.key(&classify, Some(&escaped)), 0, "the same text, escaped or not");
        assert_eq!(sets.key(&classify, Some(&empty_ns)), 2, "an empty namespace is not a null one");
        assert_eq!(sets.key(&classify, None), 3);
        assert_eq!(sets.certinia, [true, false, true, false]);
        assert_eq!(sets.display, ["PSA User [PSA_User]", "PSA User [PSA_User]", "PSA User [PSA_User]", "(unnamed)"]);
    }
}
