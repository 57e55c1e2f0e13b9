//! The finished audit, as the renderers see it: reports of rows, and the run's metadata.
//!
//! `analysis` builds a [`Audit`] from a snapshot; `render` turns it into HTML,
//! CSV, XLSX and JSON without ever looking at raw Salesforce JSON again. The
//! column lists live here, once, so every format shows the same columns in the
//! same order (REPORTS.md: every row names the user by Id, Username, Name,
//! Email, profile, licence, IsActive, LastLoginDate, days since last login,
//! frozen state, Certinia access, and in the Certinia reports what grants it).

pub mod apps;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The reports of REPORTS.md, in the order they are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum ReportKind {
    InactiveUsers,
    NeverLoggedIn,
    CertiniaAccessRetained,
    CertiniaAccessLacking,
    NotProvisioned,
    UnexpectedAccess,
    AccessMatrix,
}

impl ReportKind {
    pub const ALL: [ReportKind; 7] = [
        ReportKind::InactiveUsers,
        ReportKind::NeverLoggedIn,
        ReportKind::CertiniaAccessRetained,
        ReportKind::CertiniaAccessLacking,
        ReportKind::NotProvisioned,
        ReportKind::UnexpectedAccess,
        ReportKind::AccessMatrix,
    ];

    /// File stem of the CSV and key in summary.json: `inactive-users`.
    pub fn slug(self) -> &'static str {
        match self {
            ReportKind::InactiveUsers => "inactive-users",
            ReportKind::NeverLoggedIn => "never-logged-in",
            ReportKind::CertiniaAccessRetained => "certinia-access-retained",
            ReportKind::CertiniaAccessLacking => "certinia-access-lacking",
            ReportKind::NotProvisioned => "not-provisioned",
            ReportKind::UnexpectedAccess => "unexpected-access",
            ReportKind::AccessMatrix => "access-matrix",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            ReportKind::InactiveUsers => "Inactive users",
            ReportKind::NeverLoggedIn => "Never logged in",
            ReportKind::CertiniaAccessRetained => "Certinia access retained",
            ReportKind::CertiniaAccessLacking => "Certinia access lacking",
            ReportKind::NotProvisioned => "Roster: not provisioned",
            ReportKind::UnexpectedAccess => "Roster: unexpected access",
            ReportKind::AccessMatrix => "Access matrix",
        }
    }

    /// XLSX sheet name (31 characters at most, no `[]:*?/\`).
    pub fn sheet_name(self) -> &'static str {
        match self {
            ReportKind::InactiveUsers => "Inactive",
            ReportKind::NeverLoggedIn => "Never logged in",
            ReportKind::CertiniaAccessRetained => "Certinia retained",
            ReportKind::CertiniaAccessLacking => "Certinia lacking",
            ReportKind::NotProvisioned => "Not provisioned",
            ReportKind::UnexpectedAccess => "Unexpected access",
            ReportKind::AccessMatrix => "Access matrix",
        }
    }

    /// Whether the rows are roster entries rather than users.
    pub fn is_roster_entries(self) -> bool {
        self == ReportKind::NotProvisioned
    }

    /// Whether a row in it is a finding to act on (the access matrix is an inventory).
    pub fn is_finding(self) -> bool {
        self != ReportKind::AccessMatrix
    }

    /// The columns of the report, in order (CSV header, XLSX table, HTML table).
    pub fn columns(self) -> &'static [Column] {
        use Column::*;
        match self {
            ReportKind::InactiveUsers => &[
                Id,
                Username,
                Name,
                Email,
                Profile,
                UserLicense,
                UserRole,
                Department,
                Title,
                Status,
                IsActive,
                IsFrozen,
                CreatedDate,
                LastLoginDate,
                DaysSinceLogin,
                CertiniaAccess,
                DataWarnings,
            ],
            ReportKind::NeverLoggedIn => &[
                Id,
                Username,
                Name,
                Email,
                Profile,
                UserLicense,
                UserRole,
                Department,
                Title,
                Status,
                IsActive,
                IsFrozen,
                CreatedDate,
                DaysSinceCreated,
                InGracePeriod,
                LastLoginDate,
                DaysSinceLogin,
                CertiniaAccess,
                DataWarnings,
            ],
            ReportKind::CertiniaAccessRetained
            | ReportKind::CertiniaAccessLacking
            | ReportKind::UnexpectedAccess
            | ReportKind::AccessMatrix => {
                if self == ReportKind::CertiniaAccessLacking {
                    &[
                        Id,
                        Username,
                        Name,
                        Email,
                        Profile,
                        UserLicense,
                        UserRole,
                        Department,
                        Title,
                        Status,
                        IsActive,
                        IsFrozen,
                        LastLoginDate,
                        DaysSinceLogin,
                        CertiniaAccess,
                        ExpectedBy,
                        CertiniaPermissionSets,
                        CertiniaPermissionSetGroups,
                        CertiniaLicenses,
                        DataWarnings,
                    ]
                } else {
                    &[
                        Id,
                        Username,
                        Name,
                        Email,
                        Profile,
                        UserLicense,
                        UserRole,
                        Department,
                        Title,
                        Status,
                        IsActive,
                        IsFrozen,
                        LastLoginDate,
                        DaysSinceLogin,
                        CertiniaAccess,
                        CertiniaPermissionSets,
                        CertiniaPermissionSetGroups,
                        CertiniaLicenses,
                        DataWarnings,
                    ]
                }
            }
            ReportKind::NotProvisioned => {
                &[RosterLine, RosterFederationId, RosterUsername, RosterEmail, MatchedBy, MatchedUserIds, Reason]
            }
        }
    }
}

/// One column of a report. The header text is the CSV header, and the README documents each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Column {
    Id,
    Username,
    Name,
    Email,
    Profile,
    UserLicense,
    UserRole,
    Department,
    Title,
    Status,
    IsActive,
    IsFrozen,
    CreatedDate,
    DaysSinceCreated,
    InGracePeriod,
    LastLoginDate,
    DaysSinceLogin,
    CertiniaAccess,
    ExpectedBy,
    CertiniaPermissionSets,
    CertiniaPermissionSetGroups,
    CertiniaLicenses,
    RosterLine,
    RosterFederationId,
    RosterUsername,
    RosterEmail,
    MatchedBy,
    MatchedUserIds,
    Reason,
    DataWarnings,
}

/// What kind of value a column holds, so XLSX can write real dates, numbers and booleans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// The 18-character user Id: linked to the user's page in the org.
    UserId,
    Text,
    Bool,
    DateTime,
    Integer,
}

impl Column {
    pub fn header(self) -> &'static str {
        match self {
            Column::Id => "Id",
            Column::Username => "Username",
            Column::Name => "Name",
            Column::Email => "Email",
            Column::Profile => "Profile",
            Column::UserLicense => "UserLicense",
            Column::UserRole => "UserRole",
            Column::Department => "Department",
            Column::Title => "Title",
            Column::Status => "Status",
            Column::IsActive => "IsActive",
            Column::IsFrozen => "IsFrozen",
            Column::CreatedDate => "CreatedDate",
            Column::DaysSinceCreated => "DaysSinceCreated",
            Column::InGracePeriod => "InGracePeriod",
            Column::LastLoginDate => "LastLoginDate",
            Column::DaysSinceLogin => "DaysSinceLogin",
            Column::CertiniaAccess => "CertiniaAccess",
            Column::ExpectedBy => "ExpectedBy",
            Column::CertiniaPermissionSets => "CertiniaPermissionSets",
            Column::CertiniaPermissionSetGroups => "CertiniaPermissionSetGroups",
            Column::CertiniaLicenses => "CertiniaLicenses",
            Column::RosterLine => "RosterLine",
            Column::RosterFederationId => "federation_id",
            Column::RosterUsername => "username",
            Column::RosterEmail => "email",
            Column::MatchedBy => "MatchedBy",
            Column::MatchedUserIds => "MatchedUserIds",
            Column::Reason => "Reason",
            Column::DataWarnings => "DataWarnings",
        }
    }

    pub fn column_type(self) -> ColumnType {
        match self {
            Column::Id => ColumnType::UserId,
            Column::IsActive | Column::IsFrozen | Column::InGracePeriod | Column::CertiniaAccess => ColumnType::Bool,
            Column::CreatedDate | Column::LastLoginDate => ColumnType::DateTime,
            Column::DaysSinceCreated | Column::DaysSinceLogin | Column::RosterLine => ColumnType::Integer,
            _ => ColumnType::Text,
        }
    }
}

/// A value in a report cell, typed so each format writes it properly.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Cell {
    Empty,
    Text(String),
    Bool(bool),
    DateTime(DateTime<Utc>),
    Integer(i64),
}

impl Cell {
    fn text(s: &Option<String>) -> Cell {
        match s {
            Some(s) => Cell::Text(s.clone()),
            None => Cell::Empty,
        }
    }

    fn list(items: &[String]) -> Cell {
        if items.is_empty() { Cell::Empty } else { Cell::Text(items.join("; ")) }
    }

    /// The plain-text form used by CSV and HTML: ISO 8601 UTC for datetimes, `true`/`false`.
    pub fn to_plain(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => s.clone(),
            Cell::Bool(b) => b.to_string(),
            Cell::DateTime(d) => d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            Cell::Integer(i) => i.to_string(),
        }
    }
}

/// The user's state: frozen users are active users who cannot log in, shown as their own state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum UserStatus {
    Active,
    Frozen,
    Deactivated,
}

impl UserStatus {
    pub fn label(self) -> &'static str {
        match self {
            UserStatus::Active => "Active",
            UserStatus::Frozen => "Frozen",
            UserStatus::Deactivated => "Deactivated",
        }
    }
}

/// One audited user, with everything any report shows about them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub user_type: String,
    pub profile: Option<String>,
    pub user_license: Option<String>,
    pub role: Option<String>,
    pub department: Option<String>,
    pub title: Option<String>,
    pub federation_id: Option<String>,
    pub is_active: bool,
    pub is_frozen: bool,
    pub created: DateTime<Utc>,
    pub last_login: Option<DateTime<Utc>>,
    /// Whole days from the last login to the as-of instant; none when never logged in, or when
    /// the login is after the as-of instant (a data warning says so).
    pub days_since_login: Option<i64>,
    /// Whole days from the creation to the as-of instant; none when created after it.
    pub days_since_created: Option<i64>,
    /// Never logged in, and created within the grace period.
    pub in_grace_period: bool,
    /// Labels (API names in brackets) of the Certinia permission sets assigned directly.
    pub certinia_permission_sets: Vec<String>,
    /// Labels of the Certinia permission set groups assigned.
    pub certinia_groups: Vec<String>,
    /// Namespaces of the Certinia package licences held.
    pub certinia_licenses: Vec<String>,
    /// Why Certinia access is expected: `licence`, `roster`, or both.
    pub expected_by: Vec<String>,
    /// What is wrong with this user's record (a date after the as-of instant, …).
    pub data_warnings: Vec<DataWarning>,
}

impl UserRow {
    pub fn status(&self) -> UserStatus {
        match (self.is_active, self.is_frozen) {
            (false, _) => UserStatus::Deactivated,
            (true, true) => UserStatus::Frozen,
            (true, false) => UserStatus::Active,
        }
    }

    /// Holds at least one Certinia grant (permission set or group).
    pub fn has_certinia_grant(&self) -> bool {
        !self.certinia_permission_sets.is_empty() || !self.certinia_groups.is_empty()
    }

    pub fn cell(&self, column: Column) -> Cell {
        match column {
            Column::Id => Cell::Text(self.id.clone()),
            Column::Username => Cell::Text(self.username.clone()),
            Column::Name => Cell::text(&self.name),
            Column::Email => Cell::text(&self.email),
            Column::Profile => Cell::text(&self.profile),
            Column::UserLicense => Cell::text(&self.user_license),
            Column::UserRole => Cell::text(&self.role),
            Column::Department => Cell::text(&self.department),
            Column::Title => Cell::text(&self.title),
            Column::Status => Cell::Text(self.status().label().to_string()),
            Column::IsActive => Cell::Bool(self.is_active),
            Column::IsFrozen => Cell::Bool(self.is_frozen),
            Column::CreatedDate => Cell::DateTime(self.created),
            Column::DaysSinceCreated => self.days_since_created.map(Cell::Integer).unwrap_or(Cell::Empty),
            Column::InGracePeriod => Cell::Bool(self.in_grace_period),
            Column::LastLoginDate => self.last_login.map(Cell::DateTime).unwrap_or(Cell::Empty),
            Column::DaysSinceLogin => self.days_since_login.map(Cell::Integer).unwrap_or(Cell::Empty),
            Column::CertiniaAccess => Cell::Bool(self.has_certinia_grant()),
            Column::ExpectedBy => Cell::list(&self.expected_by),
            Column::CertiniaPermissionSets => Cell::list(&self.certinia_permission_sets),
            Column::CertiniaPermissionSetGroups => Cell::list(&self.certinia_groups),
            Column::CertiniaLicenses => Cell::list(&self.certinia_licenses),
            Column::DataWarnings => {
                Cell::list(&self.data_warnings.iter().map(DataWarning::to_string).collect::<Vec<_>>())
            }
            _ => Cell::Empty,
        }
    }
}

/// One questionable value in one record: what the row's `DataWarnings` shows, and an entry of
/// summary.json's `notes.data_warnings`. The snapshot manifest's `data_warnings` (text repaired
/// while pulling) are of this type too, so warnings found while pulling and while analysing join
/// into one list.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub struct DataWarning {
    /// The Salesforce object, e.g. `User`.
    pub object: String,
    /// The record's Id.
    pub id: String,
    /// The field, a dotted path as in the SOQL, e.g. `LastLoginDate` or `Profile.Name`.
    pub field: String,
    /// What is wrong and what the audit did about it.
    pub detail: String,
}

impl std::fmt::Display for DataWarning {
    /// `LastLoginDate: 9999-12-31T00:00:00Z is after …`: the form shown in a row.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.detail)
    }
}

/// What a reader of the outputs must know about the run besides the reports (summary.json
/// `notes`, the log, and the HTML and workbook summaries).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Notes {
    /// Warnings about the run in plain words, e.g. an audited user type that no user has.
    pub run: Vec<String>,
    /// Every questionable value found in the audited users' records.
    pub data_warnings: Vec<DataWarning>,
}

/// A roster entry that matches no active audited user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RosterRow {
    /// Line number in the roster file (the header is line 1).
    pub line: u64,
    pub federation_id: String,
    pub username: String,
    pub email: String,
    /// The key that found users (`federation_id`, `username`, `email`), if any did.
    pub matched_by: Option<String>,
    pub matched_user_ids: Vec<String>,
    pub reason: String,
}

impl RosterRow {
    pub fn cell(&self, column: Column) -> Cell {
        let text = |s: &str| {
            if s.is_empty() { Cell::Empty } else { Cell::Text(s.to_string()) }
        };
        match column {
            Column::RosterLine => Cell::Integer(self.line as i64),
            Column::RosterFederationId => text(&self.federation_id),
            Column::RosterUsername => text(&self.username),
            Column::RosterEmail => text(&self.email),
            Column::MatchedBy => self.matched_by.as_deref().map(text).unwrap_or(Cell::Empty),
            Column::MatchedUserIds => Cell::list(&self.matched_user_ids),
            Column::Reason => Cell::Text(self.reason.clone()),
            _ => Cell::Empty,
        }
    }
}

/// The rows of one report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Rows {
    Users(Vec<UserRow>),
    Roster(Vec<RosterRow>),
}

impl Rows {
    pub fn len(&self) -> usize {
        match self {
            Rows::Users(v) => v.len(),
            Rows::Roster(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub kind: ReportKind,
    pub rows: Rows,
}

/// Counts for the summary: audited population and each report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub users_in_org: u64,
    pub audited_users: u64,
    pub active: u64,
    pub frozen: u64,
    pub deactivated: u64,
    pub with_certinia_grant: u64,
    pub with_certinia_license: u64,
}

/// One snapshot file, as the manifest recorded it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceFile {
    pub object: String,
    pub file: String,
    pub soql: String,
    pub rows: u64,
    pub sha256: String,
}

/// The rules the run applied (REPORTS.md's knobs), as text for the outputs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RulesUsed {
    pub inactive_days: u32,
    pub grace_days: u32,
    pub user_types: Vec<String>,
    pub namespaces: Vec<String>,
    pub name_patterns: Vec<String>,
    /// The roster file's name and SHA-256, when one was given.
    pub roster: Option<RosterUsed>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RosterUsed {
    pub file: String,
    pub sha256: String,
    pub entries: u64,
}

/// Who, what and when: everything an auditor needs to reproduce the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunMeta {
    pub tool_version: String,
    pub org_id: String,
    pub org_name: Option<String>,
    pub instance_url: String,
    pub is_sandbox: bool,
    pub api_version: String,
    pub pulled_at: String,
    pub as_of: DateTime<Utc>,
    pub rules: RulesUsed,
    pub manifest_sha256: String,
    pub sources: Vec<SourceFile>,
}

impl RunMeta {
    /// The user's page in the org (`{instance}/lightning/r/User/{Id}/view`), for every link to a
    /// user: the workbook's, report.html's and the email digest's. None unless the instance is
    /// an http(s) URL with a host (no query, no fragment) and the Id a well-formed Salesforce Id,
    /// so that a link never leads anywhere but the org's own user page.
    pub fn user_url(&self, id: &str) -> Option<String> {
        user_url(&self.instance_url, id)
    }
}

/// [`RunMeta::user_url`] for an instance URL.
pub fn user_url(instance_url: &str, id: &str) -> Option<String> {
    let base = url::Url::parse(instance_url)
        .ok()
        .filter(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some())
        .filter(|u| u.query().is_none() && u.fragment().is_none())?;
    let is_id = matches!(id.len(), 15 | 18) && id.bytes().all(|b| b.is_ascii_alphanumeric());
    let base = base.as_str().trim_end_matches('/');
    is_id.then(|| format!("{base}/lightning/r/User/{id}/view"))
}

/// The whole audit: what every renderer takes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Audit {
    pub meta: RunMeta,
    pub summary: Summary,
    /// In [`ReportKind::ALL`] order; roster reports only when a roster was given.
    pub reports: Vec<Report>,
    pub notes: Notes,
    /// Other applications read over SCIM 2.0, in name order (none unless the snapshot has any).
    pub apps: Vec<apps::AppAudit>,
}

impl Audit {
    pub fn report(&self, kind: ReportKind) -> Option<&Report> {
        self.reports.iter().find(|r| r.kind == kind)
    }

    /// Findings across the reports: rows of the finding reports (not the access matrix), less the
    /// never-logged-in users still in their grace period, which are listed but are not findings
    /// (REPORTS.md, "What counts as a finding"). What every headline total and
    /// `--fail-on-findings` count.
    pub fn findings(&self) -> usize {
        self.reports.iter().map(Report::findings).sum::<usize>() + self.app_findings()
    }

    /// Findings in the other applications' reports (app orphans, access retained, unexpected
    /// access); they count in [`Audit::findings`] too.
    pub fn app_findings(&self) -> usize {
        self.apps.iter().map(apps::AppAudit::findings).sum()
    }
}

impl Report {
    /// The findings in this report: every row of a finding report, except a never-logged-in user
    /// still in the grace period; none in the access matrix (an inventory).
    pub fn findings(&self) -> usize {
        match (&self.rows, self.kind) {
            (_, kind) if !kind.is_finding() => 0,
            (Rows::Users(users), ReportKind::NeverLoggedIn) => users.iter().filter(|u| !u.in_grace_period).count(),
            (rows, _) => rows.len(),
        }
    }

    /// Rows listed in a finding report that are not findings (users in their grace period).
    pub fn listed_not_findings(&self) -> usize {
        if self.kind.is_finding() { self.rows.len() - self.findings() } else { 0 }
    }
}
