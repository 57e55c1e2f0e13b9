//! The finished audit, as the renderers see it: reports of rows, and the run's metadata.
//!
//! `analysis` builds a [`Audit`] from a snapshot; `render` turns it into HTML,
//! CSV, XLSX and JSON without ever looking at raw Salesforce JSON again. The
//! column lists live here, once, so every format shows the same columns in the
//! same order (REPORTS.md: every row names the user by Id, Username, Name,
//! Email, profile, licence, IsActive, LastLoginDate, days since last login,
//! frozen state, Certinia access, and in the Certinia reports what grants it;
//! every user row also carries the account class and the user's manager).
//!
//! The review cycle's vocabulary lives here too, because every stage after the
//! analysis speaks it: each report's [`Decision`]s, the [`FindingKey`] that
//! names a finding across runs, the [`Change`] a finding carries against the
//! previous review, the exclusions list, and the run id ([`RunMeta::run_id`]).

pub mod apps;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

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

    /// The decisions a reviewer can record for a row of this report (REPORTS.md, "The review
    /// cycle"), in the order the drop-down offers them.
    pub fn decisions(self) -> &'static [Decision] {
        use Decision::*;
        match self {
            ReportKind::InactiveUsers => &[Deactivate, Freeze, Keep, Investigate],
            ReportKind::NeverLoggedIn => &[Deactivate, Keep, Investigate],
            ReportKind::CertiniaAccessRetained => &[RemoveAccess, KeepJustified, Investigate],
            ReportKind::CertiniaAccessLacking => &[GrantAccess, NotNeeded, Investigate],
            ReportKind::UnexpectedAccess => &[RemoveAccess, AddToRoster, Investigate],
            ReportKind::NotProvisioned => &[Provision, RemoveFromRoster, Investigate],
            ReportKind::AccessMatrix => &[Certify, RemoveAccess, Investigate],
        }
    }

    /// The report whose CSV is `<slug>.csv`.
    pub fn from_slug(slug: &str) -> Option<ReportKind> {
        ReportKind::ALL.into_iter().find(|k| k.slug() == slug)
    }

    /// The report shown on the sheet `name`.
    pub fn from_sheet_name(name: &str) -> Option<ReportKind> {
        ReportKind::ALL.into_iter().find(|k| k.sheet_name() == name)
    }

    /// The columns of the report, in order (CSV header, XLSX table, HTML table), without the
    /// columns of a comparison with a previous review ([`Report::columns`] adds those).
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
                AccountClass,
                ManagerName,
                ManagerEmail,
                ManagerId,
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
                AccountClass,
                ManagerName,
                ManagerEmail,
                ManagerId,
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
            ReportKind::CertiniaAccessLacking => &[
                Id,
                Username,
                Name,
                Email,
                Profile,
                UserLicense,
                UserRole,
                Department,
                Title,
                AccountClass,
                ManagerName,
                ManagerEmail,
                ManagerId,
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
            ],
            ReportKind::CertiniaAccessRetained => &[
                Id,
                Username,
                Name,
                Email,
                Profile,
                UserLicense,
                UserRole,
                Department,
                Title,
                AccountClass,
                ManagerName,
                ManagerEmail,
                ManagerId,
                Status,
                IsActive,
                IsFrozen,
                LastLoginDate,
                DaysSinceLogin,
                CertiniaAccess,
                CertiniaPermissionSets,
                CertiniaPermissionSetGroups,
                CertiniaLicenses,
                CertiniaPermissionSetLicenses,
                PermissionControls,
                UserCompanies,
                ActiveResource,
                DataWarnings,
            ],
            ReportKind::UnexpectedAccess | ReportKind::AccessMatrix => &[
                Id,
                Username,
                Name,
                Email,
                Profile,
                UserLicense,
                UserRole,
                Department,
                Title,
                AccountClass,
                ManagerName,
                ManagerEmail,
                ManagerId,
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
            ],
            ReportKind::NotProvisioned => {
                &[RosterLine, RosterFederationId, RosterUsername, RosterEmail, MatchedBy, MatchedUserIds, Reason]
            }
        }
    }

    /// How many leading columns name the row (the user's Id, Username and Name; the roster
    /// entry's line and keys): the workbook keeps them in view while scrolling right.
    pub fn identity_columns(self) -> u16 {
        if self.is_roster_entries() { 4 } else { 3 }
    }
}

/// A reviewer's decision about one row (REPORTS.md, "The review cycle").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Decision {
    Deactivate,
    Freeze,
    Keep,
    #[serde(rename = "Keep (justified)")]
    KeepJustified,
    Investigate,
    #[serde(rename = "Remove access")]
    RemoveAccess,
    #[serde(rename = "Grant access")]
    GrantAccess,
    #[serde(rename = "Not needed")]
    NotNeeded,
    #[serde(rename = "Add to roster")]
    AddToRoster,
    Provision,
    #[serde(rename = "Remove from roster")]
    RemoveFromRoster,
    Certify,
    /// An application's account (REPORTS.md, "Other applications over SCIM 2.0"): not one of
    /// [`Decision::ALL`], the org's, and offered on the applications' sheets only.
    #[serde(rename = "Disable account")]
    DisableAccount,
}

impl Decision {
    pub const ALL: [Decision; 12] = [
        Decision::Deactivate,
        Decision::Freeze,
        Decision::Keep,
        Decision::KeepJustified,
        Decision::Investigate,
        Decision::RemoveAccess,
        Decision::GrantAccess,
        Decision::NotNeeded,
        Decision::AddToRoster,
        Decision::Provision,
        Decision::RemoveFromRoster,
        Decision::Certify,
    ];

    /// The text in the drop-down, in the workbook and in every output.
    pub const fn label(self) -> &'static str {
        match self {
            Decision::Deactivate => "Deactivate",
            Decision::Freeze => "Freeze",
            Decision::Keep => "Keep",
            Decision::KeepJustified => "Keep (justified)",
            Decision::Investigate => "Investigate",
            Decision::RemoveAccess => "Remove access",
            Decision::GrantAccess => "Grant access",
            Decision::NotNeeded => "Not needed",
            Decision::AddToRoster => "Add to roster",
            Decision::Provision => "Provision",
            Decision::RemoveFromRoster => "Remove from roster",
            Decision::Certify => "Certify",
            Decision::DisableAccount => "Disable account",
        }
    }

    /// The decision a cell's text names: the exact label, ignoring case and surrounding blanks
    /// (a spreadsheet's autocomplete may change the case; nothing else is guessed).
    pub fn from_label(text: &str) -> Option<Decision> {
        let text = text.trim();
        Decision::ALL.into_iter().chain([Decision::DisableAccount]).find(|d| d.label().eq_ignore_ascii_case(text))
    }

    /// An action asks an admin to change the org: `Deactivate`, `Freeze`, `Remove access`,
    /// `Grant access`.
    pub fn is_action(self) -> bool {
        matches!(self, Decision::Deactivate | Decision::Freeze | Decision::RemoveAccess | Decision::GrantAccess)
    }

    /// What choosing it means, for the workbook's Instructions sheet.
    pub fn meaning(self) -> &'static str {
        match self {
            Decision::Deactivate => "Action: an admin deactivates the user (IsActive = false).",
            Decision::Freeze => {
                "Action: an admin freezes the user's login (UserLogin.IsFrozen = true); the account and its data stay."
            }
            Decision::Keep => "The account stays as it is; say why in Comment.",
            Decision::KeepJustified => {
                "The deactivated user keeps the Certinia access or seat for a reason given in Comment (e.g. a licence reassignment in progress)."
            }
            Decision::Investigate => "Not decided yet: someone has to find out; name the ticket.",
            Decision::RemoveAccess => {
                "Action: an admin removes the user's Certinia permission set and group assignments and Certinia package licences (never a profile's own permission set)."
            }
            Decision::GrantAccess => {
                "Action: an admin grants the Certinia access the user needs; name the permission set or group in Comment or Ticket."
            }
            Decision::NotNeeded => {
                "The user does not need Certinia access (the licence or roster entry is the mistake)."
            }
            Decision::AddToRoster => "The access is right: the roster is updated to list the user.",
            Decision::Provision => "The person on the roster needs a user: an admin creates or reactivates one.",
            Decision::RemoveFromRoster => "The roster entry is wrong or outdated and is removed from the roster.",
            Decision::Certify => "The reviewer confirms the user's Certinia access is right.",
            Decision::DisableAccount => {
                "Action: the application's administrator disables the account (the tool never changes an application)."
            }
        }
    }
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
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
    CertiniaPermissionSetLicenses,
    PermissionControls,
    UserCompanies,
    ActiveResource,
    RosterLine,
    RosterFederationId,
    RosterUsername,
    RosterEmail,
    MatchedBy,
    MatchedUserIds,
    Reason,
    DataWarnings,
    AccountClass,
    ManagerId,
    ManagerName,
    ManagerEmail,
    Change,
    PreviousDecision,
    PreviousReviewer,
    PreviousDecidedOn,
}

/// What kind of value a column holds, so XLSX can write real dates, numbers and booleans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// The 18-character user Id: linked to the user's page in the org.
    UserId,
    Text,
    Bool,
    DateTime,
    /// A calendar date (a decision's date).
    Date,
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
            Column::CertiniaPermissionSetLicenses => "CertiniaPermissionSetLicenses",
            Column::PermissionControls => "PermissionControls",
            Column::UserCompanies => "UserCompanies",
            Column::ActiveResource => "ActiveResource",
            Column::RosterLine => "RosterLine",
            Column::RosterFederationId => "federation_id",
            Column::RosterUsername => "username",
            Column::RosterEmail => "email",
            Column::MatchedBy => "MatchedBy",
            Column::MatchedUserIds => "MatchedUserIds",
            Column::Reason => "Reason",
            Column::DataWarnings => "DataWarnings",
            Column::AccountClass => "AccountClass",
            Column::ManagerId => "ManagerId",
            Column::ManagerName => "ManagerName",
            Column::ManagerEmail => "ManagerEmail",
            Column::Change => "Change",
            Column::PreviousDecision => "PreviousDecision",
            Column::PreviousReviewer => "PreviousReviewer",
            Column::PreviousDecidedOn => "PreviousDecidedOn",
        }
    }

    /// Every column, for looking one up by its header.
    pub const ALL: [Column; 42] = [
        Column::Id,
        Column::Username,
        Column::Name,
        Column::Email,
        Column::Profile,
        Column::UserLicense,
        Column::UserRole,
        Column::Department,
        Column::Title,
        Column::Status,
        Column::IsActive,
        Column::IsFrozen,
        Column::CreatedDate,
        Column::DaysSinceCreated,
        Column::InGracePeriod,
        Column::LastLoginDate,
        Column::DaysSinceLogin,
        Column::CertiniaAccess,
        Column::ExpectedBy,
        Column::CertiniaPermissionSets,
        Column::CertiniaPermissionSetGroups,
        Column::CertiniaLicenses,
        Column::CertiniaPermissionSetLicenses,
        Column::PermissionControls,
        Column::UserCompanies,
        Column::ActiveResource,
        Column::RosterLine,
        Column::RosterFederationId,
        Column::RosterUsername,
        Column::RosterEmail,
        Column::MatchedBy,
        Column::MatchedUserIds,
        Column::Reason,
        Column::DataWarnings,
        Column::AccountClass,
        Column::ManagerId,
        Column::ManagerName,
        Column::ManagerEmail,
        Column::Change,
        Column::PreviousDecision,
        Column::PreviousReviewer,
        Column::PreviousDecidedOn,
    ];

    /// The column whose header is `header`.
    pub fn from_header(header: &str) -> Option<Column> {
        Column::ALL.into_iter().find(|c| c.header() == header)
    }

    pub fn column_type(self) -> ColumnType {
        match self {
            Column::Id => ColumnType::UserId,
            Column::IsActive
            | Column::IsFrozen
            | Column::InGracePeriod
            | Column::CertiniaAccess
            | Column::ActiveResource => ColumnType::Bool,
            Column::CreatedDate | Column::LastLoginDate => ColumnType::DateTime,
            Column::PreviousDecidedOn => ColumnType::Date,
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
    Date(NaiveDate),
    Integer(i64),
    /// A sum of money (a seat's yearly cost), shown with two decimals.
    Amount(f64),
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
            Cell::Date(d) => d.format("%Y-%m-%d").to_string(),
            Cell::Integer(i) => i.to_string(),
            Cell::Amount(a) => format!("{a:.2}"),
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

/// What kind of account a user is (REPORTS.md, "Account class"): a person, an integration, or
/// an account Salesforce runs itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum AccountClass {
    Human,
    Integration,
    Automated,
}

impl AccountClass {
    pub const ALL: [AccountClass; 3] = [AccountClass::Human, AccountClass::Integration, AccountClass::Automated];

    pub fn label(self) -> &'static str {
        match self {
            AccountClass::Human => "Human",
            AccountClass::Integration => "Integration",
            AccountClass::Automated => "Automated",
        }
    }

    /// The class named `text`, in any case.
    pub fn from_label(text: &str) -> Option<AccountClass> {
        AccountClass::ALL.into_iter().find(|c| c.label().eq_ignore_ascii_case(text.trim()))
    }

    /// The licences of integration users (REPORTS.md).
    pub const INTEGRATION_LICENCES: [&'static str; 2] =
        ["Salesforce Integration", "Salesforce API Only System Integrations"];

    /// The class of a user: `Automated` for the user types Salesforce runs itself
    /// (`AutomatedProcess`, `CloudIntegrationUser`); `Integration` for an integration licence or an
    /// API-only integration profile (its name says "API Only", as Salesforce's own "Minimum Access
    /// - API Only Integrations" does); else `Human`.
    pub fn of(user_type: &str, licence: Option<&str>, profile: Option<&str>) -> AccountClass {
        let automated = ["AutomatedProcess", "CloudIntegrationUser"];
        if automated.iter().any(|t| t.eq_ignore_ascii_case(user_type)) {
            return AccountClass::Automated;
        }
        let integration_licence =
            licence.is_some_and(|l| Self::INTEGRATION_LICENCES.iter().any(|i| i.eq_ignore_ascii_case(l.trim())));
        if integration_licence || profile.is_some_and(is_api_only_profile) {
            return AccountClass::Integration;
        }
        AccountClass::Human
    }
}

/// Whether a profile name says it is an API-only integration profile: the words "API only"
/// (any case, separated by a space, `-` or `_`).
fn is_api_only_profile(name: &str) -> bool {
    let words: Vec<String> =
        name.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(|w| w.to_lowercase()).collect();
    words.windows(2).any(|w| w[0] == "api" && w[1] == "only")
}

/// How a finding is named across runs (REPORTS.md, "What counts as a finding"): its report and
/// the user's `Id`, or for a roster entry its federation_id, username and email, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(untagged)]
pub enum FindingKey {
    User(String),
    /// An application's account, by its SCIM `id` (`AccountId`).
    Account(String),
    RosterEntry {
        federation_id: String,
        username: String,
        email: String,
    },
}

impl FindingKey {
    /// A roster entry's key, its three values trimmed and lower-cased.
    pub fn roster(federation_id: &str, username: &str, email: &str) -> FindingKey {
        let key = |s: &str| s.trim().to_lowercase();
        FindingKey::RosterEntry { federation_id: key(federation_id), username: key(username), email: key(email) }
    }

    /// The user Id, for a user's finding.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            FindingKey::User(id) => Some(id),
            FindingKey::Account(_) | FindingKey::RosterEntry { .. } => None,
        }
    }

    /// The columns `Id`, `federation_id`, `username`, `email` of resolved.csv, not-done.csv and
    /// decisions.csv.
    pub fn parts(&self) -> [&str; 4] {
        match self {
            FindingKey::User(id) | FindingKey::Account(id) => [id, "", "", ""],
            FindingKey::RosterEntry { federation_id, username, email } => ["", federation_id, username, email],
        }
    }
}

impl std::fmt::Display for FindingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FindingKey::User(id) => write!(f, "Id {id}"),
            FindingKey::Account(id) => write!(f, "AccountId {id}"),
            FindingKey::RosterEntry { federation_id, username, email } => {
                write!(f, "roster entry ({federation_id}, {username}, {email})")
            }
        }
    }
}

/// A report whose rows reviewers decide on a workbook sheet: one of the org's, or one of an
/// application's (`stensul` and its app orphans). `review` reads both alike.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReviewedReport {
    Org(ReportKind),
    App { app: String, kind: apps::AppReportKind },
}

impl ReviewedReport {
    /// The CSV's stem, and the `Report` column of decisions.csv: `inactive-users`,
    /// `stensul-app-orphans`.
    pub fn slug(&self) -> String {
        match self {
            ReviewedReport::Org(kind) => kind.slug().to_string(),
            ReviewedReport::App { app, kind } => kind.csv_stem(app),
        }
    }

    pub fn sheet_name(&self) -> String {
        match self {
            ReviewedReport::Org(kind) => kind.sheet_name().to_string(),
            ReviewedReport::App { app, kind } => kind.sheet_name(app),
        }
    }

    /// The choices of its `Decision` drop-down.
    pub fn decisions(&self) -> &'static [Decision] {
        match self {
            ReviewedReport::Org(kind) => kind.decisions(),
            ReviewedReport::App { .. } => &apps::AppReportKind::DECISION_CHOICES,
        }
    }

    pub fn is_finding(&self) -> bool {
        match self {
            ReviewedReport::Org(kind) => kind.is_finding(),
            ReviewedReport::App { kind, .. } => kind.is_finding(),
        }
    }

    pub fn is_roster_entries(&self) -> bool {
        matches!(self, ReviewedReport::Org(kind) if kind.is_roster_entries())
    }

    /// The column that names a row's person: the user's `Username`, the account's `AccountUserName`.
    pub fn who_column(&self) -> &'static str {
        match self {
            ReviewedReport::Org(_) => "Username",
            ReviewedReport::App { .. } => "AccountUserName",
        }
    }
}

/// A decision's date as a previous workbook held it: a date, or text that is not one (kept as
/// written, so that nothing the reviewer wrote is lost).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum DecidedOn {
    Date(NaiveDate),
    Text(String),
}

impl DecidedOn {
    pub fn cell(&self) -> Cell {
        match self {
            DecidedOn::Date(d) => Cell::Date(*d),
            DecidedOn::Text(t) => Cell::Text(t.clone()),
        }
    }
}

/// The decision a previous review recorded for a finding (each part empty when it had none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PreviousDecision {
    /// The Decision cell as written (it may be a choice of an older workbook).
    pub decision: Option<String>,
    pub reviewer: Option<String>,
    pub decided_on: Option<DecidedOn>,
}

impl PreviousDecision {
    /// Whether the previous decision was an action (so that a persisting finding is not done).
    pub fn is_action(&self) -> bool {
        self.decision.as_deref().and_then(Decision::from_label).is_some_and(Decision::is_action)
    }

    fn cell(&self, column: Column) -> Cell {
        match column {
            Column::PreviousDecision => Cell::text(&self.decision),
            Column::PreviousReviewer => Cell::text(&self.reviewer),
            Column::PreviousDecidedOn => self.decided_on.as_ref().map(DecidedOn::cell).unwrap_or(Cell::Empty),
            _ => Cell::Empty,
        }
    }
}

/// Whether a finding was one in the previous review too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeState {
    New,
    Persisting,
}

impl ChangeState {
    pub fn label(self) -> &'static str {
        match self {
            ChangeState::New => "new",
            ChangeState::Persisting => "persisting",
        }
    }
}

/// A finding against the previous review: new, or persisting with the previous decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub state: ChangeState,
    /// Empty for a new finding.
    pub previous: PreviousDecision,
}

impl Change {
    fn cell(change: &Option<Change>, column: Column) -> Cell {
        match (change, column) {
            (None, _) => Cell::Empty,
            (Some(c), Column::Change) => Cell::Text(c.state.label().to_string()),
            (Some(c), column) => c.previous.cell(column),
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
    pub account_class: AccountClass,
    pub manager_id: Option<String>,
    pub manager_name: Option<String>,
    pub manager_email: Option<String>,
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
    /// Labels of the Certinia permission set licences assigned (REPORTS.md, "Certinia beyond
    /// permission sets").
    pub certinia_permission_set_licenses: Vec<String>,
    /// One entry per live PSA permission control of the user: its scopes' names (`Region: EMEA`),
    /// empty when the snapshot names none.
    pub permission_controls: Vec<String>,
    /// Names of the Accounting companies the user has a user company record for.
    pub user_companies: Vec<String>,
    /// The user is the Salesforce user of an active PSA resource.
    pub active_resource: bool,
    /// Why Certinia access is expected: `licence`, `roster`, or both.
    pub expected_by: Vec<String>,
    /// What is wrong with this user's record (a date after the as-of instant, …).
    pub data_warnings: Vec<DataWarning>,
    /// The records behind the user's Certinia access and state, for the remediation files of a
    /// review (not shown as columns): the Ids of the `PermissionSetAssignment`s that are Certinia
    /// grants (never a profile-owned one), of the Certinia `UserPackageLicense`s, and of the
    /// user's `UserLogin`s. Sorted.
    pub certinia_assignment_ids: Vec<String>,
    pub certinia_license_ids: Vec<String>,
    pub login_ids: Vec<String>,
    /// Against the previous review, when one was given (finding rows only).
    pub change: Option<Change>,
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

    pub fn key(&self) -> FindingKey {
        FindingKey::User(self.id.clone())
    }

    /// Whether the row is a finding in `kind` (REPORTS.md, "What counts as a finding"): every row
    /// of a finding report, except a never-logged-in user still in the grace period.
    pub fn is_finding_in(&self, kind: ReportKind) -> bool {
        kind.is_finding() && !(kind == ReportKind::NeverLoggedIn && self.in_grace_period)
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
            Column::AccountClass => Cell::Text(self.account_class.label().to_string()),
            Column::ManagerId => Cell::text(&self.manager_id),
            Column::ManagerName => Cell::text(&self.manager_name),
            Column::ManagerEmail => Cell::text(&self.manager_email),
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
            Column::CertiniaPermissionSetLicenses => Cell::list(&self.certinia_permission_set_licenses),
            Column::PermissionControls => permission_controls_cell(&self.permission_controls),
            Column::UserCompanies => Cell::list(&self.user_companies),
            Column::ActiveResource => Cell::Bool(self.active_resource),
            Column::DataWarnings => {
                Cell::list(&self.data_warnings.iter().map(DataWarning::to_string).collect::<Vec<_>>())
            }
            Column::Change | Column::PreviousDecision | Column::PreviousReviewer | Column::PreviousDecidedOn => {
                Change::cell(&self.change, column)
            }
            _ => Cell::Empty,
        }
    }
}

/// The `PermissionControls` cell: how many live permission controls, and the names of their
/// scopes where the snapshot has them (`2 (Region: EMEA; Project: Apollo)`); empty for none.
fn permission_controls_cell(controls: &[String]) -> Cell {
    if controls.is_empty() {
        return Cell::Empty;
    }
    let names: Vec<&str> = controls.iter().map(String::as_str).filter(|s| !s.is_empty()).collect();
    if names.is_empty() {
        Cell::Text(controls.len().to_string())
    } else {
        Cell::Text(format!("{} ({})", controls.len(), names.join("; ")))
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
    /// Against the previous review, when one was given.
    pub change: Option<Change>,
}

impl RosterRow {
    pub fn key(&self) -> FindingKey {
        FindingKey::roster(&self.federation_id, &self.username, &self.email)
    }

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
            Column::Change | Column::PreviousDecision | Column::PreviousReviewer | Column::PreviousDecidedOn => {
                Change::cell(&self.change, column)
            }
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
    /// Whether the rows carry the comparison with a previous review (finding reports, when
    /// `--previous` was given): then [`Report::columns`] ends in `Change` and the previous decision.
    pub with_changes: bool,
}

/// The columns a comparison with the previous review adds to every finding report.
pub const CHANGE_COLUMNS: [Column; 4] =
    [Column::Change, Column::PreviousDecision, Column::PreviousReviewer, Column::PreviousDecidedOn];

impl Report {
    pub fn new(kind: ReportKind, rows: Rows) -> Report {
        Report { kind, rows, with_changes: false }
    }

    /// The columns every format shows for this report, in order.
    pub fn columns(&self) -> Vec<Column> {
        let mut columns = self.kind.columns().to_vec();
        if self.with_changes {
            columns.extend(CHANGE_COLUMNS);
        }
        columns
    }

    /// The rows that are findings (REPORTS.md): none in the access matrix, and no never-logged-in
    /// user still in the grace period.
    pub fn findings(&self) -> usize {
        match &self.rows {
            Rows::Users(users) => users.iter().filter(|u| u.is_finding_in(self.kind)).count(),
            Rows::Roster(entries) if self.kind.is_finding() => entries.len(),
            Rows::Roster(_) => 0,
        }
    }

    /// Rows listed in a finding report that are not findings (users in their grace period).
    pub fn listed_not_findings(&self) -> usize {
        if self.kind.is_finding() { self.rows.len() - self.findings() } else { 0 }
    }

    /// Each row's finding key, in row order.
    pub fn keys(&self) -> Vec<FindingKey> {
        match &self.rows {
            Rows::Users(users) => users.iter().map(UserRow::key).collect(),
            Rows::Roster(entries) => entries.iter().map(RosterRow::key).collect(),
        }
    }
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
    /// The exclusions file's name and SHA-256, when one was given.
    pub exclusions: Option<ExclusionsUsed>,
    /// Account classes kept out of the finding reports (`exclude_classes`), in
    /// [`AccountClass::ALL`] order.
    pub excluded_classes: Vec<AccountClass>,
    /// The yearly cost of one seat by licence key (`--seat-cost`, `[seat_costs]`); absent from
    /// summary.json (and from the run id's inputs) when none was given.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub seat_costs: std::collections::BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExclusionsUsed {
    pub file: String,
    pub sha256: String,
    pub entries: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RosterUsed {
    pub file: String,
    pub sha256: String,
    pub entries: u64,
}

/// The previous review a run was compared with (`--previous`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreviousUsed {
    /// The folder as given.
    pub folder: String,
    /// Its run id (empty for a folder written before run ids).
    pub run_id: String,
    pub as_of: String,
    pub manifest_sha256: String,
    /// The SHA-256 of the previous workbook the decisions were read from (none when it had none).
    pub workbook_sha256: Option<String>,
}

/// Who, what and when: everything an auditor needs to reproduce the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunMeta {
    /// Names this run's outputs; see [`RunMeta::compute_run_id`].
    pub run_id: String,
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
    /// The previous review this one was compared with.
    pub previous: Option<PreviousUsed>,
    /// Whether one workbook per manager is written too (`--split-by manager`).
    pub split_by_manager: bool,
}

impl RunMeta {
    /// The user's page in the org (`{instance}/lightning/r/User/{Id}/view`), for every link to a
    /// user: the workbook's, report.html's and the email digest's. None unless the instance is
    /// an http(s) URL with a host (no query, no fragment) and the Id a well-formed Salesforce Id,
    /// so that a link never leads anywhere but the org's own user page.
    pub fn user_url(&self, id: &str) -> Option<String> {
        user_url(&self.instance_url, id)
    }

    /// The run id: the first 16 hex digits of the SHA-256 of everything that decides the outputs,
    /// as JSON: the tool version, the org, the snapshot manifest's SHA-256 (which names every
    /// record), the as-of instant, the rules (roster and exclusions by their SHA-256), the previous
    /// review (its run id, manifest and the SHA-256 of the workbook its decisions came from) and
    /// the split. The same inputs always give the same id, and so byte-identical outputs; any
    /// change of input gives another id. A workbook's Run sheet carries it, so that `review` can
    /// tell the workbook of this run from any other.
    pub fn compute_run_id(&self) -> String {
        #[derive(Serialize)]
        struct Inputs<'a> {
            tool_version: &'a str,
            org_id: &'a str,
            manifest_sha256: &'a str,
            as_of: String,
            rules: &'a RulesUsed,
            previous: Option<&'a PreviousUsed>,
            split_by_manager: bool,
        }
        // The previous review by content, not by where it was found.
        let previous = self.previous.as_ref().map(|p| PreviousUsed { folder: String::new(), ..p.clone() });
        let inputs = Inputs {
            tool_version: &self.tool_version,
            org_id: &self.org_id,
            manifest_sha256: &self.manifest_sha256,
            as_of: self.as_of.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            rules: &self.rules,
            previous: previous.as_ref(),
            split_by_manager: self.split_by_manager,
        };
        let json = serde_json::to_vec(&inputs).expect("run inputs always serialise");
        hex::encode(Sha256::digest(json))[..16].to_string()
    }
}

/// Why an exclusion is listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExclusionStatus {
    /// The entry matched a user and has not expired: the user is kept out of the finding reports.
    Active,
    /// The entry's `expires` date is before the as-of date: it no longer excludes.
    Expired,
    /// The entry names no user of the snapshot.
    Unmatched,
    /// The user's account class is excluded by the configuration.
    Class,
}

impl ExclusionStatus {
    pub fn label(self) -> &'static str {
        match self {
            ExclusionStatus::Active => "active",
            ExclusionStatus::Expired => "expired",
            ExclusionStatus::Unmatched => "unmatched",
            ExclusionStatus::Class => "class",
        }
    }
}

/// One line of the Exclusions list: an entry of the exclusions file, or a user whose account class
/// is excluded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExclusionRow {
    pub status: ExclusionStatus,
    /// The entry's line in the exclusions file (the header is line 1); none for a class.
    pub line: Option<u64>,
    /// The entry's `user` as written; for a class, the account class.
    pub user: String,
    pub reason: String,
    pub approved_by: String,
    pub expires: Option<NaiveDate>,
    /// The user the entry matched.
    pub id: Option<String>,
    pub username: Option<String>,
    pub name: Option<String>,
    /// The finding reports the user was kept out of (empty for an expired or unmatched entry).
    pub excluded_from: Vec<ReportKind>,
}

/// One finding of the previous review that is resolved, or persisting and not done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeRow {
    pub report: ReportKind,
    pub key: FindingKey,
    pub username: Option<String>,
    pub name: Option<String>,
    pub previous: PreviousDecision,
}

/// Counts of one report against the previous review.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ChangeCounts {
    pub new: u64,
    pub persisting: u64,
    pub resolved: u64,
    pub not_done: u64,
}

/// What changed since the previous review (REPORTS.md, "What changed since the previous review").
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Changes {
    /// Previous findings that are not current findings of the same report.
    pub resolved: Vec<ChangeRow>,
    /// Persisting findings whose previous decision was an action.
    pub not_done: Vec<ChangeRow>,
    /// Per finding report present, in [`ReportKind::ALL`] order.
    pub counts: Vec<(ReportKind, ChangeCounts)>,
}

impl Changes {
    pub fn counts(&self, kind: ReportKind) -> ChangeCounts {
        self.counts.iter().find(|(k, _)| *k == kind).map(|(_, c)| *c).unwrap_or_default()
    }

    pub fn total(&self) -> ChangeCounts {
        self.counts.iter().fold(ChangeCounts::default(), |t, (_, c)| ChangeCounts {
            new: t.new + c.new,
            persisting: t.persisting + c.persisting,
            resolved: t.resolved + c.resolved,
            not_done: t.not_done + c.not_done,
        })
    }
}

/// A list beside the reports (resolved, not done, exclusions): its file, sheet, columns and rows,
/// so that every format shows it alike.
#[derive(Debug, Clone, PartialEq)]
pub struct List {
    /// `resolved`: the CSV is `resolved.csv`.
    pub slug: &'static str,
    pub sheet: &'static str,
    pub title: &'static str,
    pub explanation: &'static str,
    pub headers: &'static [&'static str],
    pub rows: Vec<Vec<Cell>>,
}

/// The columns of resolved.csv and not-done.csv (REPORTS.md).
pub const CHANGE_LIST_HEADERS: [&str; 10] = [
    "Report",
    "Id",
    "federation_id",
    "username",
    "email",
    "Username",
    "Name",
    "PreviousDecision",
    "PreviousReviewer",
    "PreviousDecidedOn",
];

/// The columns of exclusions.csv.
pub const EXCLUSION_LIST_HEADERS: [&str; 10] =
    ["Status", "Line", "user", "reason", "approved_by", "expires", "Id", "Username", "Name", "ExcludedFrom"];

impl ChangeRow {
    fn cells(&self) -> Vec<Cell> {
        let text = |s: &str| if s.is_empty() { Cell::Empty } else { Cell::Text(s.to_string()) };
        let [id, federation_id, username, email] = self.key.parts();
        vec![
            Cell::Text(self.report.slug().to_string()),
            text(id),
            text(federation_id),
            text(username),
            text(email),
            Cell::text(&self.username),
            Cell::text(&self.name),
            self.previous.cell(Column::PreviousDecision),
            self.previous.cell(Column::PreviousReviewer),
            self.previous.cell(Column::PreviousDecidedOn),
        ]
    }
}

impl ExclusionRow {
    fn cells(&self) -> Vec<Cell> {
        vec![
            Cell::Text(self.status.label().to_string()),
            self.line.map(|l| Cell::Integer(l as i64)).unwrap_or(Cell::Empty),
            Cell::Text(self.user.clone()),
            Cell::Text(self.reason.clone()),
            if self.approved_by.is_empty() { Cell::Empty } else { Cell::Text(self.approved_by.clone()) },
            self.expires.map(Cell::Date).unwrap_or(Cell::Empty),
            Cell::text(&self.id),
            Cell::text(&self.username),
            Cell::text(&self.name),
            Cell::list(&self.excluded_from.iter().map(|k| k.slug().to_string()).collect::<Vec<_>>()),
        ]
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
    /// The comparison with the previous review, when one was given.
    pub changes: Option<Changes>,
    /// The Exclusions list, when an exclusions file was given or account classes are excluded.
    pub exclusions: Option<Vec<ExclusionRow>>,
    /// Other applications read over SCIM 2.0, in name order (none unless the snapshot has any).
    pub apps: Vec<apps::AppAudit>,
    /// The Seats report (REPORTS.md, "Certinia beyond permission sets, and the seats it costs").
    pub seats: Seats,
}

impl Audit {
    pub fn report(&self, kind: ReportKind) -> Option<&Report> {
        self.reports.iter().find(|r| r.kind == kind)
    }

    /// Findings across the reports (REPORTS.md, "What counts as a finding"): not the access matrix,
    /// and not a never-logged-in user still in the grace period.
    pub fn findings(&self) -> usize {
        self.reports.iter().map(Report::findings).sum::<usize>() + self.app_findings()
    }

    /// Findings in the other applications' reports (app orphans, access retained, unexpected
    /// access); they count in [`Audit::findings`] too.
    pub fn app_findings(&self) -> usize {
        self.apps.iter().map(apps::AppAudit::findings).sum()
    }

    /// Fixes the run id from the metadata (call it once every input is in [`RunMeta`]).
    pub fn seal(&mut self) {
        self.meta.run_id = self.meta.compute_run_id();
    }

    /// The lists beside the reports, in the order every format shows them: resolved and not done
    /// (with a previous review), then exclusions.
    pub fn lists(&self) -> Vec<List> {
        let mut lists = Vec::new();
        if let Some(changes) = &self.changes {
            lists.push(List {
                slug: "resolved",
                sheet: "Resolved",
                title: "Resolved since the previous review",
                explanation: "Findings of the previous review that are not findings of the same report now, \
                              with the previous decision.",
                headers: &CHANGE_LIST_HEADERS,
                rows: changes.resolved.iter().map(ChangeRow::cells).collect(),
            });
            lists.push(List {
                slug: "not-done",
                sheet: "Not done",
                title: "Not done: decided actions the org does not show",
                explanation: "Findings that persist although the previous review decided an action \
                              (Deactivate, Freeze, Remove access, Grant access) for them.",
                headers: &CHANGE_LIST_HEADERS,
                rows: changes.not_done.iter().map(ChangeRow::cells).collect(),
            });
        }
        if let Some(exclusions) = &self.exclusions {
            lists.push(List {
                slug: "exclusions",
                sheet: "Exclusions",
                title: "Exclusions",
                explanation: "Accounts reviewed elsewhere: every entry of the exclusions file (active, expired \
                              or matching no user) and every user of an excluded account class, with the \
                              finding reports it was kept out of. Exclusions never change the access matrix.",
                headers: &EXCLUSION_LIST_HEADERS,
                rows: exclusions.iter().map(ExclusionRow::cells).collect(),
            });
        }
        lists
    }
}

/// Which kind of licence a seat row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SeatKind {
    PackageLicense,
    PermissionSetLicense,
}

impl SeatKind {
    pub fn label(self) -> &'static str {
        match self {
            SeatKind::PackageLicense => "PackageLicense",
            SeatKind::PermissionSetLicense => "PermissionSetLicense",
        }
    }
}

/// One package licence or permission set licence, with what it costs and who holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeatRow {
    /// The `PackageLicense` or `PermissionSetLicense` Id.
    pub id: String,
    pub kind: SeatKind,
    /// The namespace of a package licence, the `MasterLabel` of a permission set licence.
    pub name: String,
    /// Permission set licences only.
    pub developer_name: Option<String>,
    pub certinia: bool,
    /// `AllowedLicenses` or `TotalLicenses`; `-1` is a site licence.
    pub allowed: Option<i64>,
    /// `UsedLicenses`.
    pub used: Option<i64>,
    /// The assignments pulled for it (`UserPackageLicense` or `PermissionSetLicenseAssign` rows).
    pub assigned: u64,
    pub expiration: Option<NaiveDate>,
    pub status: Option<String>,
    /// Audited holders: deactivated; active and frozen; in the inactive-users rule; never logged
    /// in past the grace period; and the distinct holders in any of those four.
    pub deactivated: u64,
    pub frozen: u64,
    pub inactive: u64,
    pub never_logged_in: u64,
    pub reclaimable: u64,
    /// The yearly cost of one seat, when `--seat-cost` (or `[seat_costs]`) names this licence.
    pub seat_cost: Option<f64>,
}

impl SeatRow {
    /// `Assigned` differs from `Used`: shown, never silently corrected.
    pub fn used_mismatch(&self) -> bool {
        self.used != Some(self.assigned as i64)
    }

    /// The yearly cost of its reclaimable seats, when its seat cost is known.
    pub fn reclaimable_cost(&self) -> Option<f64> {
        self.seat_cost.map(|c| c * self.reclaimable as f64)
    }

    /// The row's cells under [`Seats::headers`], in order.
    pub fn cells(&self, with_costs: bool) -> Vec<Cell> {
        let int = |v: Option<i64>| v.map(Cell::Integer).unwrap_or(Cell::Empty);
        let count = |v: u64| Cell::Integer(v as i64);
        let mut cells = vec![
            Cell::Text(self.id.clone()),
            Cell::Text(self.kind.label().to_string()),
            Cell::Text(self.name.clone()),
            Cell::text(&self.developer_name),
            Cell::Bool(self.certinia),
            int(self.allowed),
            int(self.used),
            count(self.assigned),
            Cell::Bool(self.used_mismatch()),
            self.expiration.map(Cell::Date).unwrap_or(Cell::Empty),
            Cell::text(&self.status),
            count(self.deactivated),
            count(self.frozen),
            count(self.inactive),
            count(self.never_logged_in),
            count(self.reclaimable),
        ];
        if with_costs {
            cells.push(self.seat_cost.map(Cell::Amount).unwrap_or(Cell::Empty));
            cells.push(self.reclaimable_cost().map(Cell::Amount).unwrap_or(Cell::Empty));
        }
        cells
    }
}

/// The Seats report: one row per package licence and per permission set licence, Certinia ones
/// first, then by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Seats {
    pub rows: Vec<SeatRow>,
    /// Whether seat costs were given (`--seat-cost`, `[seat_costs]`): the cost columns are shown.
    pub with_costs: bool,
}

impl Seats {
    /// The CSV file of the report.
    pub const CSV: &'static str = "seats.csv";
    /// The workbook sheet of the report.
    pub const SHEET: &'static str = "Seats";

    /// The columns, in REPORTS.md's order; with costs, `YearlySeatCost` and
    /// `ReclaimableYearlyCost` after them.
    pub fn headers(&self) -> Vec<&'static str> {
        let mut headers = vec![
            "Id",
            "Kind",
            "Name",
            "DeveloperName",
            "Certinia",
            "Allowed",
            "Used",
            "Assigned",
            "UsedMismatch",
            "Expiration",
            "Status",
            "Deactivated",
            "Frozen",
            "Inactive",
            "NeverLoggedIn",
            "Reclaimable",
        ];
        if self.with_costs {
            headers.extend(["YearlySeatCost", "ReclaimableYearlyCost"]);
        }
        headers
    }

    /// The yearly cost of every reclaimable seat whose cost is known; none without costs.
    pub fn reclaimable_cost(&self) -> Option<f64> {
        self.with_costs.then(|| self.rows.iter().filter_map(SeatRow::reclaimable_cost).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_report_offers_its_own_decisions_and_actions_are_the_four() {
        let labels = |k: ReportKind| k.decisions().iter().map(|d| d.label()).collect::<Vec<_>>();
        assert_eq!(labels(ReportKind::InactiveUsers), ["Deactivate", "Freeze", "Keep", "Investigate"]);
        assert_eq!(labels(ReportKind::NeverLoggedIn), ["Deactivate", "Keep", "Investigate"]);
        assert_eq!(labels(ReportKind::CertiniaAccessRetained), ["Remove access", "Keep (justified)", "Investigate"]);
        assert_eq!(labels(ReportKind::CertiniaAccessLacking), ["Grant access", "Not needed", "Investigate"]);
        assert_eq!(labels(ReportKind::UnexpectedAccess), ["Remove access", "Add to roster", "Investigate"]);
        assert_eq!(labels(ReportKind::NotProvisioned), ["Provision", "Remove from roster", "Investigate"]);
        assert_eq!(labels(ReportKind::AccessMatrix), ["Certify", "Remove access", "Investigate"]);
        let actions: Vec<&str> = Decision::ALL.iter().filter(|d| d.is_action()).map(|d| d.label()).collect();
        assert_eq!(actions, ["Deactivate", "Freeze", "Remove access", "Grant access"]);
        assert_eq!(Decision::from_label(" remove ACCESS "), Some(Decision::RemoveAccess));
        assert_eq!(Decision::from_label("Revoke"), None);
        for d in Decision::ALL {
            assert_eq!(serde_json::to_value(d).unwrap(), d.label());
        }
    }

    #[test]
    fn account_classes_follow_reports_md() {
        use AccountClass::*;
        assert_eq!(AccountClass::of("AutomatedProcess", Some("Salesforce"), None), Automated);
        assert_eq!(AccountClass::of("CloudIntegrationUser", None, None), Automated);
        assert_eq!(AccountClass::of("Standard", Some("Salesforce Integration"), Some("Custom")), Integration);
        assert_eq!(AccountClass::of("Standard", Some("Salesforce API Only System Integrations"), None), Integration);
        assert_eq!(
            AccountClass::of("Standard", Some("Salesforce"), Some("Minimum Access - API Only Integrations")),
            Integration
        );
        assert_eq!(AccountClass::of("Standard", Some("Salesforce"), Some("Custom_API-only_profile")), Integration);
        assert_eq!(AccountClass::of("Standard", Some("Salesforce"), Some("Rapid API Onlyfans")), Human);
        assert_eq!(AccountClass::of("Standard", Some("Salesforce"), Some("Capi Only")), Human);
        assert_eq!(AccountClass::of("Standard", Some("Salesforce"), Some("System Administrator")), Human);
        assert_eq!(AccountClass::of("Standard", None, None), Human);
    }

    #[test]
    fn roster_keys_are_lower_cased_and_users_keyed_by_id() {
        assert_eq!(
            FindingKey::roster(" FED-1 ", "Ana@X.com", ""),
            FindingKey::RosterEntry { federation_id: "fed-1".into(), username: "ana@x.com".into(), email: "".into() }
        );
        assert_eq!(FindingKey::User("005A".into()).parts(), ["005A", "", "", ""]);
    }

    #[test]
    fn permission_controls_show_their_count_and_the_scopes_named() {
        let v = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(permission_controls_cell(&[]), Cell::Empty);
        assert_eq!(permission_controls_cell(&v(&["", ""])), Cell::Text("2".into()));
        assert_eq!(
            permission_controls_cell(&v(&["", "Project: Apollo", "Region: EMEA"])),
            Cell::Text("3 (Project: Apollo; Region: EMEA)".into())
        );
    }
}
