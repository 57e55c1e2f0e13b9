//! Analysis: from a verified snapshot to the findings of REPORTS.md.
//!
//! Takes the snapshot's records, the [`Rules`], an optional roster and one
//! `as_of` instant, and hands on an [`Audit`] for the renderers.
//!
//! Classification (is this permission set, group or licence Certinia?) runs in
//! Rust over the small permission-set tables; the set logic runs in polars:
//! Certinia components grouped per group, assignments joined to groups and
//! grouped per user, licences and frozen logins grouped per user, and everything
//! LEFT-joined onto the audited users, so that a user with no assignment is kept
//! (the access matrix must never be an inner join). Each report is then a
//! filter over that one matrix. Every date rule is computed against `as_of`,
//! so the same snapshot and `as_of` always give the same audit.
//!
//! Exclusions (REPORTS.md, "Exclusions", and excluded account classes) are
//! applied last: an excluded user leaves every finding report, never the access
//! matrix, and the Exclusions list says who was kept out of which report and why.
//! Each user row also carries the Ids of the records behind its Certinia access
//! and logins, which a review's remediation files name.

pub mod apps;

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use polars::prelude::*;
use serde_json::{Map, Value};

use crate::config::Rules;
use crate::exclusions::{Exclusions, ExclusionsError};
use crate::model::{
    AccountClass, Audit, DataWarning, ExclusionRow, ExclusionStatus, ExclusionsUsed, Notes, Report, ReportKind,
    RosterRow, RosterUsed, Rows, RulesUsed, RunMeta, SourceFile, Summary, UserRow,
};
use crate::roster::{self, Roster, UserKeys};
use crate::snapshot::{Loaded, lookup, parse_datetime};

#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error(
        "{object} record {id}: field {field} is {value:?}, not a Salesforce datetime such as 2024-01-15T10:20:30.000+0000"
    )]
    BadDateTime { object: &'static str, id: String, field: &'static str, value: String },
    #[error(
        "internal error in the analysis ({0}); this is a bug of access-audit, not a fault of the data: please report it with the command line used"
    )]
    Polars(#[from] PolarsError),
    #[error(transparent)]
    Snapshot(#[from] crate::snapshot::SnapshotError),
    #[error(
        "no user to audit: {}, or pass --allow-empty to write empty reports anyway",
        if *users_in_org == 0 {
            "the snapshot holds no User record at all: check the integration user's access".to_string()
        } else {
            format!(
                "none of the snapshot's {users_in_org} users has an audited user type ({user_types}): \
                 check --user-types"
            )
        }
    )]
    NoAuditedUsers { users_in_org: u64, user_types: String },
    #[error(transparent)]
    Exclusions(#[from] ExclusionsError),
}

/// Decides what is Certinia, by REPORTS.md's rules.
pub struct Classifier<'a> {
    rules: &'a Rules,
}

impl<'a> Classifier<'a> {
    pub fn new(rules: &'a Rules) -> Self {
        Classifier { rules }
    }

    pub fn namespace(&self, ns: Option<&str>) -> bool {
        ns.is_some_and(|n| {
            let n = n.trim().to_ascii_lowercase();
            self.rules.namespaces.contains(&n)
        })
    }

    pub fn name(&self, text: Option<&str>) -> bool {
        text.is_some_and(|t| self.rules.name_patterns.iter().any(|re| re.is_match(t)))
    }

    /// A Certinia permission set: Certinia namespace, or name or label matching; never profile-owned.
    pub fn permission_set(
        &self,
        ns: Option<&str>,
        name: Option<&str>,
        label: Option<&str>,
        owned_by_profile: bool,
    ) -> bool {
        !owned_by_profile && (self.namespace(ns) || self.name(name) || self.name(label))
    }
}

fn text<'r>(record: &'r Map<String, Value>, path: &str) -> Option<&'r str> {
    lookup(record, path).ok().flatten().and_then(Value::as_str)
}

fn flag(record: &Map<String, Value>, path: &str) -> bool {
    lookup(record, path).ok().flatten().and_then(Value::as_bool).unwrap_or(false)
}

/// `Label [ns__Name]`, or just the label when it is the API name.
fn display(label: Option<&str>, ns: Option<&str>, name: Option<&str>) -> String {
    let api = match (ns.filter(|n| !n.is_empty()), name) {
        (Some(ns), Some(name)) => Some(format!("{ns}__{name}")),
        (None, Some(name)) => Some(name.to_string()),
        (_, None) => None,
    };
    match (label, api) {
        (Some(l), Some(a)) if l == a => l.to_string(),
        (Some(l), Some(a)) => format!("{l} [{a}]"),
        (Some(l), None) => l.to_string(),
        (None, Some(a)) => a,
        (None, None) => "(unnamed)".to_string(),
    }
}

/// One user's attributes, from the snapshot record.
struct UserRecord<'r> {
    record: &'r Map<String, Value>,
    id: &'r str,
    created: DateTime<Utc>,
    last_login: Option<DateTime<Utc>>,
    audited: bool,
    active: bool,
    user_type: &'r str,
    class: AccountClass,
    /// Dates after the as-of instant, which no day count or grace period can use.
    warnings: Vec<DataWarning>,
}

/// A user date after the as-of instant cannot be measured against it. The audit never lets such a
/// date keep a user out of a finding: a login after the as-of instant is not a recent login (the
/// user is inactive if active), a creation after it gives no grace period. Days are left empty.
fn after_as_of(id: &str, field: &'static str, at: DateTime<Utc>, as_of: DateTime<Utc>) -> Option<DataWarning> {
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

fn datetime(
    record: &Map<String, Value>,
    id: &str,
    field: &'static str,
) -> Result<Option<DateTime<Utc>>, AnalysisError> {
    match text(record, field) {
        None => Ok(None),
        Some(s) => parse_datetime(s).map(Some).ok_or_else(|| AnalysisError::BadDateTime {
            object: "User",
            id: id.to_string(),
            field,
            value: s.to_string(),
        }),
    }
}

fn str_column(name: &str, values: Vec<Option<String>>) -> Column {
    Column::new(name.into(), values)
}

/// Everything needed besides the snapshot.
pub struct Inputs<'a> {
    pub rules: &'a Rules,
    pub roster: Option<&'a Roster>,
    pub as_of: DateTime<Utc>,
    /// Whether an audit of no user at all is acceptable (`--allow-empty`).
    pub allow_empty: bool,
    /// Accounts reviewed elsewhere (`--exclusions`).
    pub exclusions: Option<&'a Exclusions>,
}

/// Per-user results of the polars joins.
#[derive(Default)]
struct Joined {
    permission_sets: Vec<String>,
    groups: Vec<String>,
    licenses: Vec<String>,
    frozen: bool,
    roster_matched: bool,
    /// Ids of the Certinia grant assignments (direct and through groups), licences and logins.
    assignment_ids: Vec<String>,
    license_ids: Vec<String>,
    login_ids: Vec<String>,
}

fn list_values(column: &polars::prelude::Column, row: usize) -> PolarsResult<Vec<String>> {
    let list = column.as_materialized_series().list()?;
    let Some(series) = list.get_as_series(row) else {
        return Ok(Vec::new());
    };
    let values = series.str()?;
    let set: BTreeSet<String> = (0..values.len()).filter_map(|i| values.get(i)).map(str::to_string).collect();
    Ok(set.into_iter().collect())
}

fn ids_of(frame: DataFrame) -> PolarsResult<Vec<String>> {
    let ids = frame.column("Id")?.as_materialized_series().str()?;
    Ok((0..ids.len()).filter_map(|i| ids.get(i)).map(str::to_string).collect())
}

/// Builds every report.
pub fn analyse(snapshot: &Loaded, inputs: &Inputs<'_>) -> Result<Audit, AnalysisError> {
    let rules = inputs.rules;
    let as_of = inputs.as_of;
    let classify = Classifier::new(rules);
    // Users are kept whole (the report rows show them); every other object is read into columns,
    // one record at a time.
    let mut user_records = Vec::with_capacity(snapshot.rows("User"));
    snapshot.each("User", |r| {
        user_records.push(r);
        Ok::<(), AnalysisError>(())
    })?;

    // Users, with the population rule applied as a column.
    let audited_types: Vec<String> = rules.user_types.iter().map(|t| t.to_ascii_lowercase()).collect();
    // Text the pull repaired (not valid Unicode, replaced with U+FFFD): a user's own repairs travel
    // with its row; every other object's are listed in the notes.
    let repaired = &snapshot.verified.manifest.data_warnings;
    let mut repaired_users: HashMap<&str, Vec<DataWarning>> = HashMap::new();
    for w in repaired.iter().filter(|w| w.object == "User") {
        repaired_users.entry(w.id.as_str()).or_default().push(w.clone());
    }
    let mut users = Vec::with_capacity(user_records.len());
    for record in &user_records {
        let id = text(record, "Id").unwrap_or_default();
        let user_type = text(record, "UserType").unwrap_or_default();
        let created = datetime(record, id, "CreatedDate")?.ok_or_else(|| AnalysisError::BadDateTime {
            object: "User",
            id: id.to_string(),
            field: "CreatedDate",
            value: String::new(),
        })?;
        let last_login = datetime(record, id, "LastLoginDate")?;
        let warnings = repaired_users
            .remove(id)
            .unwrap_or_default()
            .into_iter()
            .chain(
                [
                    last_login.and_then(|t| after_as_of(id, "LastLoginDate", t, as_of)),
                    after_as_of(id, "CreatedDate", created, as_of),
                ]
                .into_iter()
                .flatten(),
            )
            .collect();
        users.push(UserRecord {
            record,
            id,
            created,
            last_login,
            audited: audited_types.contains(&user_type.to_ascii_lowercase()),
            active: flag(record, "IsActive"),
            user_type,
            class: AccountClass::of(user_type, text(record, "Profile.UserLicense.Name"), text(record, "Profile.Name")),
            warnings,
        });
    }
    if !users.iter().any(|u| u.audited) && !inputs.allow_empty {
        return Err(AnalysisError::NoAuditedUsers {
            users_in_org: users.len() as u64,
            user_types: rules.user_types.join(", "),
        });
    }
    let users_df = DataFrame::new(
        users.len(),
        vec![
            str_column("Id", users.iter().map(|u| Some(u.id.to_string())).collect()),
            Column::new("Audited".into(), users.iter().map(|u| u.audited).collect::<Vec<_>>()),
            Column::new("IsActive".into(), users.iter().map(|u| u.active).collect::<Vec<_>>()),
            Column::new(
                "LastLoginMs".into(),
                users.iter().map(|u| u.last_login.map(|d| d.timestamp_millis())).collect::<Vec<_>>(),
            ),
        ],
    )?;

    // An assignment's or a group component's nested PermissionSet, classified.
    let certinia_set = |r: &Map<String, Value>| {
        classify.permission_set(
            text(r, "PermissionSet.NamespacePrefix"),
            text(r, "PermissionSet.Name"),
            text(r, "PermissionSet.Label"),
            flag(r, "PermissionSet.IsOwnedByProfile"),
        )
    };

    // Permission set assignments, classified.
    let (mut psa_id, mut assignee, mut ps_certinia, mut ps_owned, mut ps_display, mut ps_group) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    snapshot.each("PermissionSetAssignment", |r| {
        psa_id.push(text(&r, "Id").map(str::to_string));
        assignee.push(text(&r, "AssigneeId").map(str::to_string));
        ps_certinia.push(certinia_set(&r));
        ps_owned.push(flag(&r, "PermissionSet.IsOwnedByProfile"));
        ps_display.push(Some(display(
            text(&r, "PermissionSet.Label"),
            text(&r, "PermissionSet.NamespacePrefix"),
            text(&r, "PermissionSet.Name"),
        )));
        ps_group.push(text(&r, "PermissionSetGroupId").map(str::to_string));
        Ok::<(), AnalysisError>(())
    })?;
    let psa_df = DataFrame::new(
        assignee.len(),
        vec![
            str_column("PsaId", psa_id),
            str_column("DirectUser", assignee),
            Column::new("PsCertinia".into(), ps_certinia),
            Column::new("PsOwned".into(), ps_owned),
            str_column("PsDisplay", ps_display),
            str_column("GroupId", ps_group),
        ],
    )?;

    // Groups: Certinia by name or label, or by any Certinia component.
    let (mut group_id, mut group_display, mut group_match) = (Vec::new(), Vec::new(), Vec::new());
    snapshot.each("PermissionSetGroup", |r| {
        group_id.push(text(&r, "Id").map(str::to_string));
        group_display.push(Some(display(
            text(&r, "MasterLabel"),
            text(&r, "NamespacePrefix"),
            text(&r, "DeveloperName"),
        )));
        group_match.push(classify.name(text(&r, "DeveloperName")) || classify.name(text(&r, "MasterLabel")));
        Ok::<(), AnalysisError>(())
    })?;
    let groups_df = DataFrame::new(
        group_id.len(),
        vec![
            str_column("GroupId", group_id),
            str_column("GroupDisplay", group_display),
            Column::new("GroupNameMatch".into(), group_match),
        ],
    )?;
    let (mut component_group, mut component_certinia) = (Vec::new(), Vec::new());
    snapshot.each("PermissionSetGroupComponent", |r| {
        component_group.push(text(&r, "PermissionSetGroupId").map(str::to_string));
        component_certinia.push(certinia_set(&r));
        Ok::<(), AnalysisError>(())
    })?;
    let components_df = DataFrame::new(
        component_group.len(),
        vec![str_column("GroupId", component_group), Column::new("CompCertinia".into(), component_certinia)],
    )?;

    // Package licences and frozen logins.
    let (mut license_id, mut license_user, mut license_ns, mut license_certinia) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    snapshot.each("UserPackageLicense", |r| {
        let ns = text(&r, "PackageLicense.NamespacePrefix");
        license_id.push(text(&r, "Id").map(str::to_string));
        license_user.push(text(&r, "UserId").map(str::to_string));
        license_certinia.push(classify.namespace(ns));
        license_ns.push(ns.map(str::to_string));
        Ok::<(), AnalysisError>(())
    })?;
    let licenses_df = DataFrame::new(
        license_user.len(),
        vec![
            str_column("LicenseId", license_id),
            str_column("LicenseUser", license_user),
            str_column("Namespace", license_ns),
            Column::new("LicenseCertinia".into(), license_certinia),
        ],
    )?;
    let (mut login_id, mut login_user, mut login_frozen) = (Vec::new(), Vec::new(), Vec::new());
    snapshot.each("UserLogin", |r| {
        login_id.push(text(&r, "Id").map(str::to_string));
        login_user.push(text(&r, "UserId").map(str::to_string));
        login_frozen.push(flag(&r, "IsFrozen"));
        Ok::<(), AnalysisError>(())
    })?;
    let logins_df = DataFrame::new(
        login_user.len(),
        vec![
            str_column("LoginId", login_id),
            str_column("LoginUser", login_user),
            Column::new("IsFrozen".into(), login_frozen),
        ],
    )?;

    // The roster and the exclusions, matched against all users.
    let keys: Vec<UserKeys<'_>> = users
        .iter()
        .map(|u| UserKeys {
            id: u.id,
            federation_id: text(u.record, "FederationIdentifier"),
            username: text(u.record, "Username").unwrap_or_default(),
            email: text(u.record, "Email"),
        })
        .collect();
    let roster_matches = inputs.roster.map(|r| roster::match_entries(&r.entries, &keys));
    let excluded_by_entry = inputs.exclusions.map(|e| e.match_users(&keys)).transpose()?;
    drop(keys);
    let roster_ids: BTreeSet<String> =
        roster_matches.iter().flatten().flat_map(|m| m.user_ids.iter().cloned()).collect();
    let roster_df = DataFrame::new(
        roster_ids.len(),
        vec![
            str_column("RosterUser", roster_ids.iter().map(|s| Some(s.clone())).collect()),
            Column::new("RosterHit".into(), vec![true; roster_ids.len()]),
        ],
    )?;

    // The joins.
    let certinia_groups =
        components_df
            .lazy()
            .filter(col("CompCertinia"))
            .group_by([col("GroupId")])
            .agg([col("CompCertinia").count().alias("CertiniaComponents")]);
    let groups = groups_df.lazy().left_join(certinia_groups, col("GroupId"), col("GroupId")).with_columns([col(
        "GroupNameMatch",
    )
    .or(col("CertiniaComponents").is_not_null())
    .alias("GroupCertinia")]);
    let grants = psa_df
        .lazy()
        .left_join(groups, col("GroupId"), col("GroupId"))
        .with_columns([col("GroupCertinia").fill_null(lit(false)), col("GroupDisplay").fill_null(col("GroupId"))])
        .filter(col("PsOwned").not().and(col("PsCertinia").or(col("GroupCertinia"))));
    let direct = grants
        .clone()
        .filter(col("GroupId").is_null())
        .group_by([col("DirectUser")])
        .agg([col("PsDisplay").alias("CertiniaPermissionSets"), col("PsaId").alias("DirectAssignmentIds")]);
    let via_groups = grants
        .filter(col("GroupId").is_not_null())
        .select([col("DirectUser").alias("GroupUser"), col("GroupDisplay"), col("PsaId")])
        .group_by([col("GroupUser")])
        .agg([col("GroupDisplay").alias("CertiniaGroups"), col("PsaId").alias("GroupAssignmentIds")]);
    let certinia_licenses = licenses_df
        .lazy()
        .filter(col("LicenseCertinia"))
        .group_by([col("LicenseUser")])
        .agg([col("Namespace").alias("CertiniaLicenses"), col("LicenseId").alias("CertiniaLicenseIds")]);
    let frozen = logins_df
        .clone()
        .lazy()
        .filter(col("IsFrozen"))
        .group_by([col("LoginUser")])
        .agg([col("IsFrozen").count().alias("FrozenLogins")]);
    let logins = logins_df
        .lazy()
        .select([col("LoginUser").alias("LoginOwner"), col("LoginId")])
        .group_by([col("LoginOwner")])
        .agg([col("LoginId").alias("LoginIds")]);
    let matrix = users_df
        .lazy()
        .filter(col("Audited"))
        .left_join(direct, col("Id"), col("DirectUser"))
        .left_join(via_groups, col("Id"), col("GroupUser"))
        .left_join(certinia_licenses, col("Id"), col("LicenseUser"))
        .left_join(frozen, col("Id"), col("LoginUser"))
        .left_join(logins, col("Id"), col("LoginOwner"))
        .left_join(roster_df.lazy(), col("Id"), col("RosterUser"))
        .with_columns([
            col("CertiniaPermissionSets").is_not_null().or(col("CertiniaGroups").is_not_null()).alias("HasGrant"),
            col("CertiniaLicenses").is_not_null().alias("HasLicense"),
            col("FrozenLogins").is_not_null().alias("IsFrozen"),
            col("RosterHit").fill_null(lit(false)).alias("RosterMatched"),
        ])
        .collect()?;

    // Per-user lists out of the matrix.
    let mut joined: HashMap<String, Joined> = HashMap::with_capacity(matrix.height());
    {
        let ids = matrix.column("Id")?.as_materialized_series().str()?.clone();
        let ps = matrix.column("CertiniaPermissionSets")?;
        let gr = matrix.column("CertiniaGroups")?;
        let lic = matrix.column("CertiniaLicenses")?;
        let direct_ids = matrix.column("DirectAssignmentIds")?;
        let group_ids = matrix.column("GroupAssignmentIds")?;
        let license_ids = matrix.column("CertiniaLicenseIds")?;
        let login_ids = matrix.column("LoginIds")?;
        let frozen = matrix.column("IsFrozen")?.as_materialized_series().bool()?.clone();
        let roster_hit = matrix.column("RosterMatched")?.as_materialized_series().bool()?.clone();
        for row in 0..matrix.height() {
            let Some(id) = ids.get(row) else { continue };
            let mut assignment_ids = list_values(direct_ids, row)?;
            assignment_ids.extend(list_values(group_ids, row)?);
            assignment_ids.sort();
            assignment_ids.dedup();
            joined.insert(
                id.to_string(),
                Joined {
                    permission_sets: list_values(ps, row)?,
                    groups: list_values(gr, row)?,
                    licenses: list_values(lic, row)?,
                    frozen: frozen.get(row).unwrap_or(false),
                    roster_matched: roster_hit.get(row).unwrap_or(false),
                    assignment_ids,
                    license_ids: list_values(license_ids, row)?,
                    login_ids: list_values(login_ids, row)?,
                },
            );
        }
    }

    // Each report is a filter over the matrix.
    let inactive_cutoff = (as_of - Duration::days(i64::from(rules.inactive_days))).timestamp_millis();
    let as_of_ms = as_of.timestamp_millis();
    let m = || matrix.clone().lazy();
    let select = |lf: LazyFrame| -> PolarsResult<Vec<String>> { ids_of(lf.select([col("Id")]).collect()?) };
    let mut report_ids: Vec<(ReportKind, Vec<String>)> = vec![
        (
            ReportKind::InactiveUsers,
            // A login after the as-of instant is not a recent login (see `after_as_of`).
            select(
                m().filter(
                    col("IsActive")
                        .and(col("LastLoginMs").lt(lit(inactive_cutoff)).or(col("LastLoginMs").gt(lit(as_of_ms)))),
                ),
            )?,
        ),
        (ReportKind::NeverLoggedIn, select(m().filter(col("IsActive").and(col("LastLoginMs").is_null())))?),
        (
            ReportKind::CertiniaAccessRetained,
            select(m().filter(col("IsActive").not().and(col("HasGrant").or(col("HasLicense")))))?,
        ),
        (
            ReportKind::CertiniaAccessLacking,
            select(
                m().filter(col("IsActive").and(col("HasLicense").or(col("RosterMatched"))).and(col("HasGrant").not())),
            )?,
        ),
    ];
    if inputs.roster.is_some() {
        report_ids.push((
            ReportKind::UnexpectedAccess,
            select(m().filter(col("IsActive").and(col("HasGrant")).and(col("RosterMatched").not())))?,
        ));
    }
    report_ids.push((ReportKind::AccessMatrix, select(m())?));

    let by_id: HashMap<&str, &UserRecord<'_>> = users.iter().map(|u| (u.id, u)).collect();
    let exclusions = (inputs.exclusions.is_some() || !rules.excluded_classes.is_empty()).then(|| {
        exclude(&mut report_ids, &users, &by_id, inputs.exclusions.zip(excluded_by_entry.as_deref()), rules, as_of)
    });

    // Rows.
    let grace_cutoff = as_of - Duration::days(i64::from(rules.grace_days));
    let row_of = |id: &str, kind: ReportKind| -> UserRow {
        let u = by_id[id];
        let j = joined.get(id);
        // Whole days before the as-of instant; none for a date after it (a data warning says so).
        let days = |from: DateTime<Utc>| (from <= as_of).then(|| (as_of - from).num_seconds().div_euclid(86_400));
        let owned = |s: Option<&str>| s.map(str::to_string);
        let mut expected_by = Vec::new();
        if kind == ReportKind::CertiniaAccessLacking {
            if j.is_some_and(|j| !j.licenses.is_empty()) {
                expected_by.push("licence".to_string());
            }
            if j.is_some_and(|j| j.roster_matched) {
                expected_by.push("roster".to_string());
            }
        }
        UserRow {
            id: id.to_string(),
            username: text(u.record, "Username").unwrap_or_default().to_string(),
            name: owned(text(u.record, "Name")),
            email: owned(text(u.record, "Email")),
            user_type: u.user_type.to_string(),
            profile: owned(text(u.record, "Profile.Name")),
            user_license: owned(text(u.record, "Profile.UserLicense.Name")),
            role: owned(text(u.record, "UserRole.Name")),
            department: owned(text(u.record, "Department")),
            title: owned(text(u.record, "Title")),
            federation_id: owned(text(u.record, "FederationIdentifier")),
            account_class: u.class,
            manager_id: owned(text(u.record, "ManagerId")),
            manager_name: owned(text(u.record, "Manager.Name")),
            manager_email: owned(text(u.record, "Manager.Email")),
            is_active: u.active,
            is_frozen: j.is_some_and(|j| j.frozen),
            created: u.created,
            last_login: u.last_login,
            days_since_login: u.last_login.and_then(days),
            days_since_created: days(u.created),
            in_grace_period: u.last_login.is_none() && u.created >= grace_cutoff && u.created <= as_of,
            certinia_permission_sets: j.map(|j| j.permission_sets.clone()).unwrap_or_default(),
            certinia_groups: j.map(|j| j.groups.clone()).unwrap_or_default(),
            certinia_licenses: j.map(|j| j.licenses.clone()).unwrap_or_default(),
            expected_by,
            data_warnings: u.warnings.clone(),
            certinia_assignment_ids: j.map(|j| j.assignment_ids.clone()).unwrap_or_default(),
            certinia_license_ids: j.map(|j| j.license_ids.clone()).unwrap_or_default(),
            login_ids: j.map(|j| j.login_ids.clone()).unwrap_or_default(),
            change: None,
        }
    };
    let mut reports = Vec::new();
    for (kind, ids) in report_ids {
        let mut rows: Vec<UserRow> = ids.iter().map(|id| row_of(id, kind)).collect();
        if kind == ReportKind::InactiveUsers {
            rows.sort_by(|a, b| a.last_login.cmp(&b.last_login).then_with(|| a.id.cmp(&b.id)));
        } else {
            rows.sort_by(|a, b| {
                a.username.to_lowercase().cmp(&b.username.to_lowercase()).then_with(|| a.id.cmp(&b.id))
            });
        }
        reports.push(Report::new(kind, Rows::Users(rows)));
    }

    // Roster entries that match no active audited user.
    if let (Some(roster), Some(matches)) = (inputs.roster, &roster_matches) {
        let mut rows = Vec::new();
        for (entry, found) in roster.entries.iter().zip(matches) {
            let provisioned =
                found.user_ids.iter().any(|id| by_id.get(id.as_str()).is_some_and(|u| u.active && u.audited));
            if provisioned {
                continue;
            }
            let reason = if found.user_ids.is_empty() {
                "no user matches its federation_id, username or email".to_string()
            } else {
                let why: BTreeSet<String> = found
                    .user_ids
                    .iter()
                    .filter_map(|id| by_id.get(id.as_str()))
                    .map(|u| {
                        if !u.audited {
                            format!("outside the audited user types ({})", u.user_type)
                        } else {
                            "deactivated".to_string()
                        }
                    })
                    .collect();
                format!("matching user is {}", why.into_iter().collect::<Vec<_>>().join(", or "))
            };
            rows.push(RosterRow {
                line: entry.line,
                federation_id: entry.federation_id.clone(),
                username: entry.username.clone(),
                email: entry.email.clone(),
                matched_by: found.matched_by.map(str::to_string),
                matched_user_ids: found.user_ids.clone(),
                reason,
                change: None,
            });
        }
        reports.push(Report::new(ReportKind::NotProvisioned, Rows::Roster(rows)));
    }
    reports.sort_by_key(|r| ReportKind::ALL.iter().position(|k| *k == r.kind));

    // Summary counts over the audited population.
    let audited: Vec<&UserRecord<'_>> = users.iter().filter(|u| u.audited).collect();
    let frozen_of = |u: &UserRecord<'_>| joined.get(u.id).is_some_and(|j| j.frozen);
    let summary = Summary {
        users_in_org: users.len() as u64,
        audited_users: audited.len() as u64,
        active: audited.iter().filter(|u| u.active && !frozen_of(u)).count() as u64,
        frozen: audited.iter().filter(|u| u.active && frozen_of(u)).count() as u64,
        deactivated: audited.iter().filter(|u| !u.active).count() as u64,
        with_certinia_grant: joined.values().filter(|j| !j.permission_sets.is_empty() || !j.groups.is_empty()).count()
            as u64,
        with_certinia_license: joined.values().filter(|j| !j.licenses.is_empty()).count() as u64,
    };

    let mut notes = notes(&users, repaired, rules, as_of);
    // Other applications read over SCIM: their reports, and what their notes say.
    let app_audits = apps::analyse_apps(snapshot, inputs)?;
    notes.run.extend(app_audits.iter().flat_map(|a| a.notes.iter().cloned()));
    for note in &notes.run {
        tracing::warn!("{note}");
    }

    let manifest = &snapshot.verified.manifest;
    let mut meta = RunMeta {
        run_id: String::new(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        org_id: manifest.org.id.clone(),
        org_name: manifest.org.name.clone(),
        instance_url: manifest.org.instance_url.clone(),
        is_sandbox: manifest.org.is_sandbox,
        api_version: manifest.api_version.clone(),
        pulled_at: manifest.pulled_at.clone(),
        as_of,
        rules: RulesUsed {
            inactive_days: rules.inactive_days,
            grace_days: rules.grace_days,
            user_types: rules.user_types.clone(),
            namespaces: rules.namespaces.clone(),
            name_patterns: rules.name_patterns.iter().map(|r| r.as_str().to_string()).collect(),
            roster: inputs.roster.map(|r| RosterUsed {
                file: r.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                sha256: r.sha256.clone(),
                entries: r.entries.len() as u64,
            }),
            exclusions: inputs.exclusions.map(|e| ExclusionsUsed {
                file: e.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                sha256: e.sha256.clone(),
                entries: e.entries.len() as u64,
            }),
            excluded_classes: rules.excluded_classes.clone(),
        },
        manifest_sha256: snapshot.verified.manifest_sha256.clone(),
        sources: manifest
            .objects
            .iter()
            .map(|o| SourceFile {
                object: o.object.clone(),
                file: o.file.clone(),
                soql: o.soql.clone(),
                rows: o.rows,
                sha256: o.sha256.clone(),
            })
            .chain(manifest.apps.iter().flat_map(|a| {
                a.resources.iter().map(|r| SourceFile {
                    object: format!("{} {}", a.name, r.resource),
                    file: r.file.clone(),
                    soql: format!("SCIM GET {}/{}", a.base_url, r.resource),
                    rows: r.rows,
                    sha256: r.sha256.clone(),
                })
            }))
            .collect(),
        previous: None,
        split_by_manager: false,
    };
    meta.run_id = meta.compute_run_id();
    Ok(Audit { meta, summary, reports, notes, changes: None, exclusions, apps: app_audits })
}

/// Applies the exclusions: every user an unexpired entry matches, and every audited user of an
/// excluded account class, leaves the finding reports (never the access matrix). Returns the
/// Exclusions list: the file's entries in line order (active, expired, unmatched), then the users
/// of excluded classes by username, each saying which finding reports it was kept out of.
fn exclude(
    report_ids: &mut [(ReportKind, Vec<String>)],
    users: &[UserRecord<'_>],
    by_id: &HashMap<&str, &UserRecord<'_>>,
    file: Option<(&Exclusions, &[Option<String>])>,
    rules: &Rules,
    as_of: DateTime<Utc>,
) -> Vec<ExclusionRow> {
    let as_of_date = as_of.date_naive();
    let owned = |id: &str, field: &str| by_id.get(id).and_then(|u| text(u.record, field)).map(str::to_string);
    let mut rows = Vec::new();
    if let Some((file, matches)) = file {
        for (entry, user) in file.entries.iter().zip(matches) {
            let status = match user {
                None => ExclusionStatus::Unmatched,
                Some(_) if entry.expired(as_of_date) => ExclusionStatus::Expired,
                Some(_) => ExclusionStatus::Active,
            };
            rows.push(ExclusionRow {
                status,
                line: Some(entry.line),
                user: entry.user.clone(),
                reason: entry.reason.clone(),
                approved_by: entry.approved_by.clone(),
                expires: entry.expires,
                id: user.clone(),
                username: user.as_deref().and_then(|id| owned(id, "Username")),
                name: user.as_deref().and_then(|id| owned(id, "Name")),
                excluded_from: Vec::new(),
            });
        }
    }
    let mut by_class: Vec<&UserRecord<'_>> =
        users.iter().filter(|u| u.audited && rules.excluded_classes.contains(&u.class)).collect();
    by_class.sort_by_key(|u| (text(u.record, "Username").unwrap_or_default().to_lowercase(), u.id));
    for u in by_class {
        rows.push(ExclusionRow {
            status: ExclusionStatus::Class,
            line: None,
            user: u.class.label().to_string(),
            reason: format!("the account class {} is excluded (exclude_classes)", u.class.label()),
            approved_by: String::new(),
            expires: None,
            id: Some(u.id.to_string()),
            username: owned(u.id, "Username"),
            name: owned(u.id, "Name"),
            excluded_from: Vec::new(),
        });
    }
    let excluded: BTreeSet<&str> = rows
        .iter()
        .filter(|r| matches!(r.status, ExclusionStatus::Active | ExclusionStatus::Class))
        .filter_map(|r| r.id.as_deref())
        .collect();
    let mut kept_out: HashMap<String, Vec<ReportKind>> = HashMap::new();
    for (kind, ids) in report_ids.iter_mut().filter(|(kind, _)| kind.is_finding()) {
        ids.retain(|id| {
            let keep = !excluded.contains(id.as_str());
            if !keep {
                kept_out.entry(id.clone()).or_default().push(*kind);
            }
            keep
        });
    }
    for row in rows.iter_mut().filter(|r| matches!(r.status, ExclusionStatus::Active | ExclusionStatus::Class)) {
        row.excluded_from = row.id.as_ref().and_then(|id| kept_out.get(id)).cloned().unwrap_or_default();
    }
    rows
}

/// The run's notes: audited user types that no user has, the audited users' data warnings, and
/// the text the pull repaired in other objects' records.
fn notes(users: &[UserRecord<'_>], repaired: &[DataWarning], rules: &Rules, as_of: DateTime<Utc>) -> Notes {
    let mut run = Vec::new();
    if !users.iter().any(|u| u.audited) {
        run.push(format!(
            "no user is audited ({} users in the snapshot, audited user types {}): every report is empty",
            users.len(),
            rules.user_types.join(", ")
        ));
    }
    for audited in &rules.user_types {
        if !users.iter().any(|u| u.user_type.eq_ignore_ascii_case(audited)) {
            run.push(format!("the audited user type {audited} matches no user in the snapshot: check --user-types"));
        }
    }
    let flagged: Vec<&UserRecord<'_>> = users.iter().filter(|u| u.audited && !u.warnings.is_empty()).collect();
    let mut data_warnings: Vec<DataWarning> = flagged.iter().flat_map(|u| u.warnings.iter().cloned()).collect();
    let repaired_in_users = data_warnings.iter().filter(|w| repaired.contains(w)).count();
    let repaired_elsewhere: Vec<DataWarning> = repaired.iter().filter(|w| w.object != "User").cloned().collect();
    if repaired_in_users + repaired_elsewhere.len() > 0 {
        run.push(format!(
            "{} field{} held text that is not valid Unicode and {} kept with U+FFFD in its place (see data_warnings)",
            repaired_in_users + repaired_elsewhere.len(),
            if repaired_in_users + repaired_elsewhere.len() == 1 { "" } else { "s" },
            if repaired_in_users + repaired_elsewhere.len() == 1 { "was" } else { "were" },
        ));
    }
    let after = data_warnings.len() - repaired_in_users;
    let dated_users = flagged.iter().filter(|u| u.warnings.iter().any(|w| !repaired.contains(w))).count();
    data_warnings.extend(repaired_elsewhere);
    if after > 0 {
        run.push(format!(
            "{} date{} in {} audited user record{} {} after the as-of instant {}: those rows say so in \
             DataWarnings, count no days, and are never kept out of a finding by such a date",
            after,
            if after == 1 { "" } else { "s" },
            dated_users,
            if dated_users == 1 { "" } else { "s" },
            if after == 1 { "is" } else { "are" },
            as_of.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
    }
    Notes { run, data_warnings }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::RuleArgs;
    use crate::config::LoadedFile;

    fn rules() -> Rules {
        Rules::from_sources(&RuleArgs::default(), &LoadedFile::default()).unwrap()
    }

    #[test]
    fn certinia_permission_sets_by_namespace_name_or_label_never_profile_owned() {
        let r = rules();
        let c = Classifier::new(&r);
        assert!(c.permission_set(Some("pse"), Some("PSACreateProjects"), Some("Create Projects"), false));
        assert!(c.permission_set(Some("SCMC"), Some("X"), Some("Y"), false), "namespaces compare case-insensitively");
        assert!(c.permission_set(None, Some("PSA_Timecard_Entry"), None, false));
        assert!(c.permission_set(None, Some("Custom1"), Some("FF-PSA Full User"), false));
        assert!(!c.permission_set(None, Some("Capsacorp"), Some("Staffa"), false));
        assert!(!c.permission_set(None, Some("PSACreateProjects"), None, false), "no namespace, no whole word");
        assert!(!c.permission_set(Some("pse"), Some("PSA User"), Some("PSA User"), true), "profile-owned never counts");
        assert!(!c.permission_set(Some("ffps"), None, None, false), "ffps is not ffps_po");
        assert!(c.permission_set(Some("ffps_po"), None, None, false));
    }

    #[test]
    fn only_dates_after_the_as_of_instant_are_warnings() {
        let as_of = chrono::DateTime::parse_from_rfc3339("2026-11-20T09:00:00Z").unwrap().to_utc();
        assert_eq!(after_as_of("005", "LastLoginDate", as_of, as_of), None, "at the instant is not after it");
        let later = as_of + Duration::seconds(1);
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
    fn display_names() {
        assert_eq!(
            display(Some("PSA - Create Projects"), Some("pse"), Some("PSACreateProjects")),
            "PSA - Create Projects [pse__PSACreateProjects]"
        );
        assert_eq!(display(Some("Billing"), None, Some("Billing")), "Billing");
        assert_eq!(display(None, None, Some("X")), "X");
    }
}
