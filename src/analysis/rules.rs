//! The rules of REPORTS.md, one polars expression per report.
//!
//! Takes the as-of instant and the thresholds ([`Thresholds`]) and hands on, for each report of
//! users, the expression that is true for exactly the users in it, over the columns of the matrix
//! ([`super::joins::matrix`]). Each rule is a plain function, so that it reads like its line in
//! REPORTS.md and is tested on a small hand-built frame below; [`membership`] puts all of them
//! into one plan, so that the membership of every report is computed in one pass.
//!
//! Dates are microseconds since the epoch (UTC). A login after the as-of instant is not a recent
//! login, and a creation after it gives no grace period (the row says so in `DataWarnings`).

use chrono::{DateTime, Duration, Utc};
use polars::prelude::*;

use super::frames::col_name::*;
use super::joins::col_name::*;
use crate::config::Rules;
use crate::model::ReportKind;

/// Name of the column that says whether a never-logged-in user is still in the grace period.
pub const IN_GRACE_PERIOD: &str = "InGracePeriod";

/// The instants the date rules compare with, in microseconds since the epoch.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    pub as_of: i64,
    /// `as_of − inactive_days`: an earlier last login makes an active user inactive.
    pub inactive_cutoff: i64,
    /// `as_of − grace_days`: a never-logged-in user created since is in the grace period.
    pub grace_cutoff: i64,
    /// The as-of instant's UTC date, in days since the epoch: what a date field (a permission
    /// control's end date) is compared with.
    pub as_of_day: i32,
}

impl Thresholds {
    pub fn new(rules: &Rules, as_of: DateTime<Utc>) -> Thresholds {
        Thresholds {
            as_of: as_of.timestamp_micros(),
            inactive_cutoff: (as_of - Duration::days(i64::from(rules.inactive_days))).timestamp_micros(),
            grace_cutoff: (as_of - Duration::days(i64::from(rules.grace_days))).timestamp_micros(),
            as_of_day: (as_of.date_naive() - chrono::NaiveDate::default()).num_days() as i32,
        }
    }
}

/// The population (REPORTS.md, "Population"): the user's type is audited. Every report's rule
/// starts with it.
pub fn audited() -> Expr {
    col(AUDITED)
}

/// Inactive users: `IsActive = true` and `LastLoginDate < T − inactive days` (or after T).
pub fn inactive_users(t: &Thresholds) -> Expr {
    let login = || col(LAST_LOGIN);
    audited().and(col(IS_ACTIVE)).and(login().lt(lit(t.inactive_cutoff)).or(login().gt(lit(t.as_of))))
}

/// Never logged in: `IsActive = true` and `LastLoginDate` is null.
pub fn never_logged_in() -> Expr {
    audited().and(col(IS_ACTIVE)).and(col(LAST_LOGIN).is_null())
}

/// Of a never-logged-in user: created within the grace period (`CreatedDate ≥ T − grace days`),
/// and not after T.
pub fn in_grace_period(t: &Thresholds) -> Expr {
    col(LAST_LOGIN).is_null().and(col(CREATED).gt_eq(lit(t.grace_cutoff))).and(col(CREATED).lt_eq(lit(t.as_of)))
}

/// Certinia access retained: `IsActive = false` and at least one Certinia grant, Certinia
/// licence, Certinia permission set licence, live permission control, Accounting user company, or
/// an active resource whose Salesforce user it is.
pub fn certinia_access_retained() -> Expr {
    let holds = col(HAS_GRANT)
        .or(col(HAS_LICENSE))
        .or(col(HAS_PERMISSION_SET_LICENSE))
        .or(col(HAS_LIVE_CONTROL))
        .or(col(HAS_USER_COMPANY))
        .or(col(ACTIVE_RESOURCE));
    audited().and(col(IS_ACTIVE).not()).and(holds)
}

/// Of a PSA permission control (`ControlEnd`, days since the epoch): live when it has no end date
/// or ends on or after the as-of instant's UTC date.
pub fn live_permission_control(t: &Thresholds) -> Expr {
    col(CONTROL_END).is_null().or(col(CONTROL_END).gt_eq(lit(t.as_of_day)))
}

/// Of a PSA resource (a Contact linked to a user): active when `pse__Is_Resource__c` and
/// `pse__Is_Resource_Active__c` are both true.
pub fn active_resource() -> Expr {
    col(IS_RESOURCE).and(col(IS_RESOURCE_ACTIVE))
}

/// Certinia access lacking: `IsActive = true`, expected to have Certinia access (a Certinia
/// licence, or a roster entry matches the user), and no Certinia grant.
pub fn certinia_access_lacking() -> Expr {
    audited().and(col(IS_ACTIVE)).and(col(HAS_LICENSE).or(col(ROSTER_MATCHED))).and(col(HAS_GRANT).not())
}

/// Unexpected access (with a roster): active users holding a Certinia grant whom no roster entry
/// matches.
pub fn unexpected_access() -> Expr {
    audited().and(col(IS_ACTIVE)).and(col(HAS_GRANT)).and(col(ROSTER_MATCHED).not())
}

/// The access matrix: every audited user.
pub fn access_matrix() -> Expr {
    audited()
}

/// The rule of a report of users; none for roster entries (not provisioned), which are not users.
pub fn rule(kind: ReportKind, t: &Thresholds) -> Option<Expr> {
    match kind {
        ReportKind::InactiveUsers => Some(inactive_users(t)),
        ReportKind::NeverLoggedIn => Some(never_logged_in()),
        ReportKind::CertiniaAccessRetained => Some(certinia_access_retained()),
        ReportKind::CertiniaAccessLacking => Some(certinia_access_lacking()),
        ReportKind::UnexpectedAccess => Some(unexpected_access()),
        ReportKind::AccessMatrix => Some(access_matrix()),
        ReportKind::NotProvisioned => None,
    }
}

/// One boolean column per report of `kinds`, named by its slug, true for the users in it (a null
/// comparison counts as false), and the grace-period column: everything added to the matrix in one
/// `with_columns`, so that a single `collect` decides every report.
pub fn membership(kinds: &[ReportKind], t: &Thresholds) -> Vec<Expr> {
    kinds
        .iter()
        .filter_map(|kind| rule(*kind, t).map(|r| r.fill_null(lit(false)).alias(kind.slug())))
        .chain([in_grace_period(t).fill_null(lit(false)).alias(IN_GRACE_PERIOD)])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000_000;
    const SECOND: i64 = 1_000_000;
    /// 2026-10-01T00:00:00Z.
    const T: i64 = 1_790_812_800 * SECOND;

    fn thresholds() -> Thresholds {
        let as_of = DateTime::from_timestamp_micros(T).unwrap();
        let rules =
            crate::config::Rules::from_sources(&crate::cli::RuleArgs::default(), &crate::config::LoadedFile::default())
                .unwrap();
        Thresholds::new(&rules, as_of)
    }

    /// One user of the hand-built frame; every flag off unless set.
    #[derive(Clone, Copy)]
    struct U {
        id: &'static str,
        audited: bool,
        active: bool,
        created: i64,
        login: Option<i64>,
        grant: bool,
        licence: bool,
        roster: bool,
        psl: bool,
        control: bool,
        company: bool,
        resource: bool,
    }

    const fn u(id: &'static str) -> U {
        U {
            id,
            audited: true,
            active: true,
            created: T - 400 * DAY,
            login: Some(T - DAY),
            grant: false,
            licence: false,
            roster: false,
            psl: false,
            control: false,
            company: false,
            resource: false,
        }
    }

    fn frame(users: &[U]) -> DataFrame {
        let n = users.len();
        let c = |name: &str, f: fn(&U) -> bool| Column::new(name.into(), users.iter().map(f).collect::<Vec<_>>());
        DataFrame::new(
            n,
            vec![
                Column::new(ID.into(), users.iter().map(|u| u.id).collect::<Vec<_>>()),
                c(AUDITED, |u| u.audited),
                c(IS_ACTIVE, |u| u.active),
                Column::new(CREATED.into(), users.iter().map(|u| u.created).collect::<Vec<_>>()),
                Column::new(LAST_LOGIN.into(), users.iter().map(|u| u.login).collect::<Vec<_>>()),
                c(HAS_GRANT, |u| u.grant),
                c(HAS_LICENSE, |u| u.licence),
                c(ROSTER_MATCHED, |u| u.roster),
                c(HAS_PERMISSION_SET_LICENSE, |u| u.psl),
                c(HAS_LIVE_CONTROL, |u| u.control),
                c(HAS_USER_COMPANY, |u| u.company),
                c(ACTIVE_RESOURCE, |u| u.resource),
            ],
        )
        .unwrap()
    }

    /// The Ids the rule keeps, in frame order.
    fn members(users: &[U], rule: Expr) -> Vec<String> {
        let out = frame(users).lazy().filter(rule).select([col(ID)]).collect().unwrap();
        out.column(ID).unwrap().str().unwrap().iter().map(|s| s.unwrap().to_string()).collect()
    }

    #[test]
    fn inactive_users_logged_in_before_the_cutoff_or_after_the_as_of_instant() {
        let t = thresholds();
        let cutoff = T - 90 * DAY;
        let users = [
            U { login: Some(cutoff - SECOND), ..u("before") },
            U { login: Some(cutoff), ..u("at") },
            U { login: Some(cutoff + SECOND), ..u("after") },
            U { login: Some(T + SECOND), ..u("future") },
            U { login: None, ..u("never") },
            U { login: Some(cutoff - SECOND), active: false, ..u("deactivated") },
            U { login: Some(cutoff - SECOND), audited: false, ..u("portal") },
        ];
        assert_eq!(members(&users, inactive_users(&t)), ["before", "future"]);
    }

    #[test]
    fn never_logged_in_active_audited_users_without_a_login() {
        let users = [
            U { login: None, ..u("never") },
            U { login: Some(T - 400 * DAY), ..u("once") },
            U { login: None, active: false, ..u("deactivated") },
            U { login: None, audited: false, ..u("guest") },
        ];
        assert_eq!(members(&users, never_logged_in()), ["never"]);
    }

    #[test]
    fn grace_period_from_the_grace_cutoff_to_the_as_of_instant() {
        let t = thresholds();
        let cutoff = T - 14 * DAY;
        let users = [
            U { login: None, created: cutoff - SECOND, ..u("old") },
            U { login: None, created: cutoff, ..u("at-cutoff") },
            U { login: None, created: T, ..u("at-as-of") },
            U { login: None, created: T + SECOND, ..u("future") },
            U { login: Some(T - DAY), created: cutoff + SECOND, ..u("logged-in") },
        ];
        assert_eq!(members(&users, in_grace_period(&t)), ["at-cutoff", "at-as-of"]);
    }

    #[test]
    fn retained_deactivated_users_with_a_grant_or_a_licence() {
        let users = [
            U { active: false, grant: true, ..u("grant") },
            U { active: false, licence: true, ..u("licence") },
            U { active: false, ..u("nothing") },
            U { grant: true, licence: true, ..u("active") },
            U { active: false, grant: true, audited: false, ..u("portal") },
        ];
        assert_eq!(members(&users, certinia_access_retained()), ["grant", "licence"]);
    }

    #[test]
    fn retained_grows_by_licences_controls_companies_and_resources() {
        let all = U { psl: true, control: true, company: true, resource: true, ..u("x") };
        let users = [
            U { active: false, psl: true, ..u("psl") },
            U { active: false, control: true, ..u("control") },
            U { active: false, company: true, ..u("company") },
            U { active: false, resource: true, ..u("resource") },
            U { active: false, ..all },
            U { id: "active-all", ..all },
            U { id: "portal-all", active: false, audited: false, ..all },
            U { active: false, ..u("none") },
        ];
        assert_eq!(members(&users, certinia_access_retained()), ["psl", "control", "company", "resource", "x"]);
    }

    /// The Ids of the records a per-record rule keeps, over one column of values.
    fn kept(ids: &[&str], columns: Vec<Column>, rule: Expr) -> Vec<String> {
        let mut all = vec![Column::new("Id".into(), ids.to_vec())];
        all.extend(columns);
        let out = DataFrame::new(ids.len(), all).unwrap().lazy().filter(rule).select([col("Id")]).collect().unwrap();
        out.column("Id").unwrap().str().unwrap().iter().map(|s| s.unwrap().to_string()).collect()
    }

    #[test]
    fn a_permission_control_is_live_without_end_date_or_ending_on_or_after_the_as_of_date() {
        let t = thresholds();
        // T is 2026-10-01T00:00:00Z: day 20727 since the epoch. A later instant the same day has
        // the same UTC date.
        assert_eq!(t.as_of_day, 20_727);
        let ends = Column::new(CONTROL_END.into(), [Some(20_726), Some(20_727), Some(20_728), None]);
        let ids = ["yesterday", "today", "tomorrow", "none"];
        assert_eq!(kept(&ids, vec![ends], live_permission_control(&t)), ["today", "tomorrow", "none"]);
        let late = Thresholds::new(&rules_default(), DateTime::from_timestamp_micros(T + DAY - SECOND).unwrap());
        assert_eq!(late.as_of_day, 20_727, "23:59:59 UTC is still the same date");
    }

    fn rules_default() -> crate::config::Rules {
        crate::config::Rules::from_sources(&crate::cli::RuleArgs::default(), &crate::config::LoadedFile::default())
            .unwrap()
    }

    #[test]
    fn a_resource_is_active_only_when_both_flags_are_true() {
        let ids = ["both", "resource-only", "active-only", "neither"];
        let columns = vec![
            Column::new(IS_RESOURCE.into(), [true, true, false, false]),
            Column::new(IS_RESOURCE_ACTIVE.into(), [true, false, true, false]),
        ];
        assert_eq!(kept(&ids, columns, active_resource()), ["both"]);
    }

    #[test]
    fn lacking_active_users_expected_by_licence_or_roster_without_a_grant() {
        let users = [
            U { licence: true, ..u("licence") },
            U { roster: true, ..u("roster") },
            U { licence: true, roster: true, grant: true, ..u("granted") },
            U { ..u("not-expected") },
            U { licence: true, active: false, ..u("deactivated") },
            U { licence: true, audited: false, ..u("portal") },
        ];
        assert_eq!(members(&users, certinia_access_lacking()), ["licence", "roster"]);
    }

    #[test]
    fn unexpected_active_grant_holders_no_roster_entry_matches() {
        let users = [
            U { grant: true, ..u("unlisted") },
            U { grant: true, roster: true, ..u("listed") },
            U { grant: true, active: false, ..u("deactivated") },
            U { ..u("no-grant") },
            U { grant: true, audited: false, ..u("portal") },
        ];
        assert_eq!(members(&users, unexpected_access()), ["unlisted"]);
    }

    #[test]
    fn access_matrix_every_audited_user_with_or_without_access() {
        let users = [
            U { grant: true, ..u("grant") },
            U { active: false, login: None, ..u("nothing") },
            U { audited: false, grant: true, ..u("portal") },
        ];
        assert_eq!(members(&users, access_matrix()), ["grant", "nothing"]);
    }

    #[test]
    fn membership_is_one_column_per_report_of_users_and_null_is_false() {
        let t = thresholds();
        let kinds = ReportKind::ALL;
        let users = [U { login: None, ..u("never") }, U { grant: true, ..u("grant") }];
        let out = frame(&users).lazy().with_columns(membership(&kinds, &t)).collect().unwrap();
        let column = |name: &str| out.column(name).unwrap().bool().unwrap().iter().collect::<Vec<_>>();
        assert!(out.column(ReportKind::NotProvisioned.slug()).is_err(), "roster entries are not users");
        assert_eq!(column("inactive-users"), [Some(false), Some(false)], "a null login is not inactive");
        assert_eq!(column("never-logged-in"), [Some(true), Some(false)]);
        assert_eq!(column("access-matrix"), [Some(true), Some(true)]);
        assert_eq!(column(IN_GRACE_PERIOD), [Some(false), Some(false)]);
    }
}
