//! The other applications' reports, as the renderers see them: one [`AppAudit`] per application
//! read over SCIM 2.0, with its reports of accounts and, for Salesforce's own SCIM endpoint, the
//! SCIM cross-check.
//!
//! The rules are REPORTS.md's "Other applications over SCIM 2.0"; `analysis::apps` applies them.
//! Rows name the account by its SCIM `id` (column `AccountId`), `userName`, display name, primary
//! email, `active`, groups, and the matched Salesforce users' `Id`, `Username` and `IsActive`.
//! The column lists live here, once, so that every format shows the same columns in the same
//! order.

use serde::Serialize;

use super::{Cell, Decision};

/// The reports of one application, in the order they are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum AppReportKind {
    AppOrphans,
    AppAccessRetained,
    AppUnexpectedAccess,
    AppAccessMatrix,
}

impl AppReportKind {
    pub const ALL: [AppReportKind; 4] = [
        AppReportKind::AppOrphans,
        AppReportKind::AppAccessRetained,
        AppReportKind::AppUnexpectedAccess,
        AppReportKind::AppAccessMatrix,
    ];

    /// `app-orphans`: the CSV is `NAME-app-orphans.csv`, the key in summary.json `app-orphans`.
    pub fn slug(self) -> &'static str {
        match self {
            AppReportKind::AppOrphans => "app-orphans",
            AppReportKind::AppAccessRetained => "app-access-retained",
            AppReportKind::AppUnexpectedAccess => "app-unexpected-access",
            AppReportKind::AppAccessMatrix => "app-access-matrix",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            AppReportKind::AppOrphans => "App orphans",
            AppReportKind::AppAccessRetained => "App access retained",
            AppReportKind::AppUnexpectedAccess => "App unexpected access",
            AppReportKind::AppAccessMatrix => "App access matrix",
        }
    }

    /// Whether a row in it is a finding to act on (the access matrix is an inventory).
    pub fn is_finding(self) -> bool {
        self != AppReportKind::AppAccessMatrix
    }

    /// The decisions a reviewer picks from, for every report of an application.
    pub const DECISION_CHOICES: [Decision; 3] =
        [Decision::DisableAccount, Decision::KeepJustified, Decision::Investigate];

    /// Their labels, as the drop-down offers them.
    pub const DECISIONS: [&'static str; 3] =
        [Self::DECISION_CHOICES[0].label(), Self::DECISION_CHOICES[1].label(), Self::DECISION_CHOICES[2].label()];

    /// `stensul-app-orphans`: the stem of its CSV for the application `app`.
    pub fn csv_stem(self, app: &str) -> String {
        format!("{app}-{}", self.slug())
    }

    /// The workbook sheet: `stensul orphans`, at most 31 characters (names have at most 20).
    pub fn sheet_name(self, app: &str) -> String {
        let word = match self {
            AppReportKind::AppOrphans => "orphans",
            AppReportKind::AppAccessRetained => "retained",
            AppReportKind::AppUnexpectedAccess => "unexpected",
            AppReportKind::AppAccessMatrix => "matrix",
        };
        format!("{app} {word}")
    }

    pub fn columns(self) -> &'static [AppColumn] {
        use AppColumn::*;
        match self {
            AppReportKind::AppOrphans => {
                &[AccountId, UserName, DisplayName, Email, Active, Groups, Id, Username, IsActive, MatchedBy, Reason]
            }
            _ => &[AccountId, UserName, DisplayName, Email, Active, Groups, Id, Username, IsActive, MatchedBy],
        }
    }
}

/// One column of an application report. The header is the CSV header; the README documents each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AppColumn {
    AccountId,
    UserName,
    DisplayName,
    Email,
    Active,
    Groups,
    Id,
    Username,
    IsActive,
    MatchedBy,
    Reason,
}

impl AppColumn {
    pub fn header(self) -> &'static str {
        match self {
            AppColumn::AccountId => "AccountId",
            AppColumn::UserName => "AccountUserName",
            AppColumn::DisplayName => "DisplayName",
            AppColumn::Email => "Email",
            AppColumn::Active => "Active",
            AppColumn::Groups => "Groups",
            AppColumn::Id => "Id",
            AppColumn::Username => "Username",
            AppColumn::IsActive => "IsActive",
            AppColumn::MatchedBy => "MatchedBy",
            AppColumn::Reason => "Reason",
        }
    }
}

/// A Salesforce user an account matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchedUser {
    pub id: String,
    pub username: String,
    pub is_active: bool,
}

/// One account of an application, with everything its reports show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppAccountRow {
    /// The SCIM `id`.
    pub account_id: String,
    pub user_name: String,
    pub display_name: Option<String>,
    /// The primary email (else the first).
    pub email: Option<String>,
    pub active: bool,
    /// The groups (in Stensul, roles) it is a member of: display names, else ids.
    pub groups: Vec<String>,
    /// The Salesforce users it matched (several when an email is shared), by Id.
    pub matches: Vec<MatchedUser>,
    /// The key that found them: `externalId`, `userName` or `emails`; none when nothing matched.
    pub matched_by: Option<String>,
    /// Why it is an orphan (app orphans only).
    pub reason: Option<String>,
}

impl AppAccountRow {
    pub fn cell(&self, column: AppColumn) -> Cell {
        let text = |s: &Option<String>| s.as_ref().map(|s| Cell::Text(s.clone())).unwrap_or(Cell::Empty);
        let joined = |items: Vec<String>| if items.is_empty() { Cell::Empty } else { Cell::Text(items.join("; ")) };
        match column {
            AppColumn::AccountId => Cell::Text(self.account_id.clone()),
            AppColumn::UserName => Cell::Text(self.user_name.clone()),
            AppColumn::DisplayName => text(&self.display_name),
            AppColumn::Email => text(&self.email),
            AppColumn::Active => Cell::Bool(self.active),
            AppColumn::Groups => joined(self.groups.clone()),
            AppColumn::Id => joined(self.matches.iter().map(|m| m.id.clone()).collect()),
            AppColumn::Username => joined(self.matches.iter().map(|m| m.username.clone()).collect()),
            AppColumn::IsActive => match self.matches.as_slice() {
                [] => Cell::Empty,
                [one] => Cell::Bool(one.is_active),
                many => joined(many.iter().map(|m| m.is_active.to_string()).collect()),
            },
            AppColumn::MatchedBy => text(&self.matched_by),
            AppColumn::Reason => text(&self.reason),
        }
    }
}

/// The rows of one application report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppReport {
    pub kind: AppReportKind,
    pub rows: Vec<AppAccountRow>,
}

/// A user whose Certinia permission sets or active state differ between Salesforce's SCIM
/// endpoint and SOQL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrosscheckRow {
    /// The User Id (the SCIM `id`).
    pub id: String,
    pub username: String,
    pub name: Option<String>,
    /// `IsActive` from SOQL; none when SOQL has no such user.
    pub is_active: Option<bool>,
    /// `active` from SCIM; none when SCIM has no such user.
    pub scim_active: Option<bool>,
    /// Certinia permission sets assigned directly, as SOQL found them.
    pub soql_permission_sets: Vec<String>,
    /// Certinia permission sets among the SCIM entitlements.
    pub scim_permission_sets: Vec<String>,
    /// What differs, in words: `active`, `permission sets`, `not in SCIM`, `not in SOQL`.
    pub differences: Vec<String>,
}

/// The columns of `scim-crosscheck.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CrosscheckColumn {
    Id,
    Username,
    Name,
    IsActive,
    ScimActive,
    SoqlCertiniaPermissionSets,
    ScimCertiniaPermissionSets,
    OnlyInSoql,
    OnlyInScim,
    Differences,
}

impl CrosscheckColumn {
    pub const ALL: [CrosscheckColumn; 10] = [
        CrosscheckColumn::Id,
        CrosscheckColumn::Username,
        CrosscheckColumn::Name,
        CrosscheckColumn::IsActive,
        CrosscheckColumn::ScimActive,
        CrosscheckColumn::SoqlCertiniaPermissionSets,
        CrosscheckColumn::ScimCertiniaPermissionSets,
        CrosscheckColumn::OnlyInSoql,
        CrosscheckColumn::OnlyInScim,
        CrosscheckColumn::Differences,
    ];

    pub fn header(self) -> &'static str {
        match self {
            CrosscheckColumn::Id => "Id",
            CrosscheckColumn::Username => "Username",
            CrosscheckColumn::Name => "Name",
            CrosscheckColumn::IsActive => "IsActive",
            CrosscheckColumn::ScimActive => "ScimActive",
            CrosscheckColumn::SoqlCertiniaPermissionSets => "SoqlCertiniaPermissionSets",
            CrosscheckColumn::ScimCertiniaPermissionSets => "ScimCertiniaPermissionSets",
            CrosscheckColumn::OnlyInSoql => "OnlyInSoql",
            CrosscheckColumn::OnlyInScim => "OnlyInScim",
            CrosscheckColumn::Differences => "Differences",
        }
    }
}

impl CrosscheckRow {
    /// The sets' difference one way: what `a` has that `b` has not.
    fn only(a: &[String], b: &[String]) -> Vec<String> {
        a.iter().filter(|x| !b.contains(x)).cloned().collect()
    }

    pub fn cell(&self, column: CrosscheckColumn) -> Cell {
        let joined = |items: Vec<String>| if items.is_empty() { Cell::Empty } else { Cell::Text(items.join("; ")) };
        let flag = |b: Option<bool>| b.map(Cell::Bool).unwrap_or(Cell::Empty);
        match column {
            CrosscheckColumn::Id => Cell::Text(self.id.clone()),
            CrosscheckColumn::Username => Cell::Text(self.username.clone()),
            CrosscheckColumn::Name => self.name.clone().map(Cell::Text).unwrap_or(Cell::Empty),
            CrosscheckColumn::IsActive => flag(self.is_active),
            CrosscheckColumn::ScimActive => flag(self.scim_active),
            CrosscheckColumn::SoqlCertiniaPermissionSets => joined(self.soql_permission_sets.clone()),
            CrosscheckColumn::ScimCertiniaPermissionSets => joined(self.scim_permission_sets.clone()),
            CrosscheckColumn::OnlyInSoql => joined(Self::only(&self.soql_permission_sets, &self.scim_permission_sets)),
            CrosscheckColumn::OnlyInScim => joined(Self::only(&self.scim_permission_sets, &self.soql_permission_sets)),
            CrosscheckColumn::Differences => joined(self.differences.clone()),
        }
    }
}

/// One application's audit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppAudit {
    /// `[apps.NAME]`.
    pub name: String,
    /// `generic`, `stensul` or `salesforce`.
    pub dialect: String,
    pub base_url: String,
    /// Accounts and groups listed.
    pub accounts: u64,
    pub groups: u64,
    /// In [`AppReportKind::ALL`] order; unexpected access only with a roster.
    pub reports: Vec<AppReport>,
    /// The SCIM cross-check (Salesforce's own SCIM endpoint only).
    pub crosscheck: Option<Vec<CrosscheckRow>>,
    /// What a reader must know about this application's reports (accounts it hides).
    pub notes: Vec<String>,
}

impl AppAudit {
    pub fn report(&self, kind: AppReportKind) -> Option<&AppReport> {
        self.reports.iter().find(|r| r.kind == kind)
    }

    /// Rows in this application's finding reports, and in the SCIM cross-check: a difference
    /// between two views of the org is for a reviewer to explain, never reconciled silently.
    pub fn findings(&self) -> usize {
        let reports: usize = self.reports.iter().filter(|r| r.kind.is_finding()).map(|r| r.rows.len()).sum();
        reports + self.crosscheck.as_ref().map_or(0, Vec::len)
    }

    /// `stensul-app-orphans.csv`.
    pub fn csv_name(&self, kind: AppReportKind) -> String {
        format!("{}.csv", kind.csv_stem(&self.name))
    }
}

/// The cross-check's file name.
pub const CROSSCHECK_CSV: &str = "scim-crosscheck.csv";

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> AppAccountRow {
        AppAccountRow {
            account_id: "st-1".into(),
            user_name: "ana@acme.example".into(),
            display_name: None,
            email: Some("ana@acme.example".into()),
            active: true,
            groups: vec!["Admin".into(), "Editor".into()],
            matches: Vec::new(),
            matched_by: None,
            reason: Some("no Salesforce user".into()),
        }
    }

    #[test]
    fn cells_of_an_account_with_none_one_and_several_matches() {
        let mut r = row();
        assert_eq!(r.cell(AppColumn::Groups), Cell::Text("Admin; Editor".into()));
        assert_eq!((r.cell(AppColumn::Id), r.cell(AppColumn::IsActive)), (Cell::Empty, Cell::Empty));
        r.matches.push(MatchedUser { id: "005A".into(), username: "ana@x".into(), is_active: false });
        assert_eq!(r.cell(AppColumn::IsActive), Cell::Bool(false));
        r.matches.push(MatchedUser { id: "005B".into(), username: "bo@x".into(), is_active: true });
        assert_eq!(r.cell(AppColumn::Id), Cell::Text("005A; 005B".into()));
        assert_eq!(r.cell(AppColumn::IsActive), Cell::Text("false; true".into()));
        assert_eq!(AppReportKind::AppOrphans.columns().last(), Some(&AppColumn::Reason));
    }

    #[test]
    fn crosscheck_cells_name_each_sides_sets() {
        let r = CrosscheckRow {
            id: "005A".into(),
            username: "ana@x".into(),
            name: None,
            is_active: Some(true),
            scim_active: Some(false),
            soql_permission_sets: vec!["PSA User".into(), "FFA Admin".into()],
            scim_permission_sets: vec!["FFA Admin".into(), "Certinia Billing".into()],
            differences: vec!["active".into(), "permission sets".into()],
        };
        assert_eq!(r.cell(CrosscheckColumn::OnlyInSoql), Cell::Text("PSA User".into()));
        assert_eq!(r.cell(CrosscheckColumn::OnlyInScim), Cell::Text("Certinia Billing".into()));
        assert_eq!(r.cell(CrosscheckColumn::ScimActive), Cell::Bool(false));
    }
}
