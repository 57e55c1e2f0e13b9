//! The joins: from the frames to one row per user with everything the rules ask about them.
//!
//! Takes the [`Frames`], the Ids the roster matched and the Ids the exclusions keep out, and hands
//! on the *matrix*, a lazy frame of every user of the snapshot, in the users frame's order
//! (audited or not: the population is a rule like the others, [`super::rules::audited`]), with:
//!
//! - the lists behind the user's Certinia access: `CertiniaPermissionSets` (direct Certinia
//!   grants), `CertiniaGroups` (grants through a Certinia group), `CertiniaLicenses`, and the Ids of
//!   their records (`DirectAssignmentIds`, `GroupAssignmentIds`, `CertiniaLicenseIds`,
//!   `LoginIds`);
//! - the flags the rules read: `HasGrant`, `HasLicense`, `IsFrozen`, `RosterMatched`, `Excluded`.
//!
//! Every per-user aggregate is grouped first and then LEFT-joined onto the users, so that a user
//! with no assignment is kept (the access matrix must never be an inner join) and no user row is
//! ever repeated. Nothing is collected here: the rules are added as columns and the whole plan is
//! collected once ([`super::membership`]).

use std::collections::BTreeSet;

use polars::prelude::*;

use super::frames::Frames;
use super::frames::col_name::*;

/// Column names of the matrix that the rules and the rows read.
pub mod col_name {
    pub const HAS_GRANT: &str = "HasGrant";
    pub const HAS_LICENSE: &str = "HasLicense";
    pub const IS_FROZEN: &str = "IsFrozen";
    pub const ROSTER_MATCHED: &str = "RosterMatched";
    pub const EXCLUDED: &str = "Excluded";
    pub const PERMISSION_SETS: &str = "CertiniaPermissionSets";
    pub const GROUPS: &str = "CertiniaGroups";
    pub const LICENSES: &str = "CertiniaLicenses";
    pub const DIRECT_ASSIGNMENT_IDS: &str = "DirectAssignmentIds";
    pub const GROUP_ASSIGNMENT_IDS: &str = "GroupAssignmentIds";
    pub const LICENSE_IDS: &str = "CertiniaLicenseIds";
    pub const LOGIN_IDS: &str = "LoginIds";
    pub const HAS_PERMISSION_SET_LICENSE: &str = "HasCertiniaPermissionSetLicense";
    pub const HAS_LIVE_CONTROL: &str = "HasLivePermissionControl";
    pub const HAS_USER_COMPANY: &str = "HasUserCompany";
    pub const ACTIVE_RESOURCE: &str = "ActiveResource";
    pub const PERMISSION_SET_LICENSES: &str = "CertiniaPermissionSetLicenses";
    pub const LIVE_CONTROLS: &str = "LivePermissionControls";
    pub const USER_COMPANIES: &str = "UserCompanies";
}
use col_name::*;

/// Groups whose name or label matches the patterns, or that hold a Certinia permission set, with
/// how each is shown: `GroupId`, `GroupDisplay`, `GroupCertinia`.
fn groups(frames: &Frames) -> LazyFrame {
    let certinia_components = frames
        .components
        .clone()
        .lazy()
        .left_join(frames.permission_sets.clone().lazy(), col(PS_KEY), col(PS_KEY))
        .filter(col("PsCertinia"))
        .group_by([col(GROUP_ID)])
        .agg([col("PsCertinia").count().alias("CertiniaComponents")]);
    frames.groups.clone().lazy().left_join(certinia_components, col(GROUP_ID), col(GROUP_ID)).with_columns([col(
        "GroupNameMatch",
    )
    .or(col("CertiniaComponents").is_not_null())
    .alias("GroupCertinia")])
}

/// Every assignment that is a Certinia grant (REPORTS.md): its permission set is a Certinia one,
/// or its group is a Certinia group; never a profile-owned permission set's.
fn grants(frames: &Frames) -> LazyFrame {
    frames
        .assignments
        .clone()
        .lazy()
        .left_join(frames.permission_sets.clone().lazy(), col(PS_KEY), col(PS_KEY))
        .left_join(groups(frames), col(GROUP_ID), col(GROUP_ID))
        // A group the snapshot does not hold is no Certinia group, and is shown by its Id.
        .with_columns([col("GroupCertinia").fill_null(lit(false)), col("GroupDisplay").fill_null(col(GROUP_ID))])
        .filter(col("PsOwned").not().and(col("PsCertinia").or(col("GroupCertinia"))))
}

/// A frame of one boolean column `flag`, true for each of `ids` (column `key`).
fn id_set(key: &str, flag: &str, ids: &BTreeSet<String>) -> PolarsResult<LazyFrame> {
    let frame = DataFrame::new(
        ids.len(),
        vec![
            Column::new(key.into(), ids.iter().map(String::as_str).collect::<Vec<_>>()),
            Column::new(flag.into(), vec![true; ids.len()]),
        ],
    )?;
    Ok(frame.lazy())
}

/// Certinia's grants beyond permission sets, one row per user holding any (REPORTS.md, "Certinia
/// beyond permission sets"): `CertiniaPermissionSetLicenses` (labels), `LivePermissionControls`
/// (each live control's scopes), `UserCompanies` (names), `ActiveResource`, each keyed by its
/// own user column (`PslUser`, `ControlUser`, `CompanyUser`, `ResourceUser`).
fn beyond_permission_sets(frames: &Frames, rules: &RecordRules) -> [LazyFrame; 4] {
    let certinia_psls = frames
        .seat_licences
        .clone()
        .lazy()
        .filter(col(SEAT_KIND).eq(lit("PermissionSetLicense")).and(col(SEAT_CERTINIA)))
        .select([col(SEAT_ID), col(SEAT_NAME)]);
    let psls = frames
        .seat_holders
        .clone()
        .lazy()
        .join(certinia_psls, [col(SEAT_ID)], [col(SEAT_ID)], JoinArgs::new(JoinType::Inner))
        .group_by([col(SEAT_USER).alias("PslUser")])
        .agg([col(SEAT_NAME).alias(PERMISSION_SET_LICENSES)]);
    let controls = frames
        .controls
        .clone()
        .lazy()
        .filter(rules.live_permission_control.clone())
        .group_by([col(CONTROL_USER)])
        .agg([col(CONTROL_SCOPE).alias(LIVE_CONTROLS)]);
    let companies =
        frames.companies.clone().lazy().group_by([col(COMPANY_USER)]).agg([col(COMPANY_NAME).alias(USER_COMPANIES)]);
    let resources = frames
        .resources
        .clone()
        .lazy()
        .filter(rules.active_resource.clone())
        .group_by([col(RESOURCE_USER)])
        .agg([col(IS_RESOURCE).any(true).alias("ActiveResourceHit")]);
    [psls, controls, companies, resources]
}

/// The rules of single records the joins keep before grouping ([`super::rules`] writes them).
pub struct RecordRules {
    /// Of a permission control: it is live.
    pub live_permission_control: Expr,
    /// Of a resource: it is active.
    pub active_resource: Expr,
}

/// The matrix: every user, with its Certinia access, logins, and roster and exclusion flags.
pub fn matrix(
    frames: &Frames,
    roster_matched: &BTreeSet<String>,
    excluded: &BTreeSet<String>,
    rules: &RecordRules,
) -> PolarsResult<LazyFrame> {
    let [psls, controls, companies, resources] = beyond_permission_sets(frames, rules);
    let grants = grants(frames);
    let direct = grants
        .clone()
        .filter(col(GROUP_ID).is_null())
        .group_by([col("AssigneeId").alias("DirectUser")])
        .agg([col("PsDisplay").alias(PERMISSION_SETS), col("PsaId").alias(DIRECT_ASSIGNMENT_IDS)]);
    let via_groups = grants
        .filter(col(GROUP_ID).is_not_null())
        .group_by([col("AssigneeId").alias("GroupUser")])
        .agg([col("GroupDisplay").alias(GROUPS), col("PsaId").alias(GROUP_ASSIGNMENT_IDS)]);
    let licences = frames
        .licences
        .clone()
        .lazy()
        .filter(col("LicenseCertinia"))
        .group_by([col(LICENSE_USER)])
        .agg([col("Namespace").alias(LICENSES), col("LicenseId").alias(LICENSE_IDS)]);
    let logins = frames.logins.clone().lazy().group_by([col("LoginUser")]).agg([
        col("LoginId").alias(LOGIN_IDS),
        col(IS_FROZEN).cast(DataType::UInt32).sum().gt(lit(0u32)).alias("AnyFrozen"),
    ]);
    let users = frames.users.frame.clone().lazy().select([
        col(ROW),
        col(ID),
        col(AUDITED),
        col(IS_ACTIVE),
        col(CREATED),
        col(LAST_LOGIN),
        col(ACCOUNT_CLASS),
    ]);
    Ok(users
        .left_join(direct, col(ID), col("DirectUser"))
        .left_join(via_groups, col(ID), col("GroupUser"))
        .left_join(licences, col(ID), col(LICENSE_USER))
        .left_join(logins, col(ID), col("LoginUser"))
        .left_join(psls, col(ID), col("PslUser"))
        .left_join(controls, col(ID), col(CONTROL_USER))
        .left_join(companies, col(ID), col(COMPANY_USER))
        .left_join(resources, col(ID), col(RESOURCE_USER))
        .left_join(id_set("RosterUser", "RosterHit", roster_matched)?, col(ID), col("RosterUser"))
        .left_join(id_set("ExcludedUser", "ExcludedHit", excluded)?, col(ID), col("ExcludedUser"))
        .with_columns([
            col(PERMISSION_SETS).is_not_null().or(col(GROUPS).is_not_null()).alias(HAS_GRANT),
            col(LICENSES).is_not_null().alias(HAS_LICENSE),
            col("AnyFrozen").fill_null(lit(false)).alias(IS_FROZEN),
            col(PERMISSION_SET_LICENSES).is_not_null().alias(HAS_PERMISSION_SET_LICENSE),
            col(LIVE_CONTROLS).is_not_null().alias(HAS_LIVE_CONTROL),
            col(USER_COMPANIES).is_not_null().alias(HAS_USER_COMPANY),
            col("ActiveResourceHit").fill_null(lit(false)).alias(ACTIVE_RESOURCE),
            col("RosterHit").fill_null(lit(false)).alias(ROSTER_MATCHED),
            col("ExcludedHit").fill_null(lit(false)).alias(EXCLUDED),
        ])
        // Back in the users frame's order: the matrix's row i is the users frame's row i.
        .sort([ROW], SortMultipleOptions::default()))
}
