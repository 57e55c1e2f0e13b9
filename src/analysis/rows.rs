//! Rows for the renderers, taken from the frames.
//!
//! Takes the collected matrix (one row per user, with the membership column of every report,
//! [`super::rules::membership`]) and the users frame, and hands on each report's [`UserRow`]s in
//! the order REPORTS.md's outputs show them: inactive users by last login (longest unused first),
//! every other report by username. A user's row is built once, from its position in the frames,
//! and copied into each report it is in; nothing is looked up by Id again.

use chrono::{DateTime, Utc};
use polars::prelude::*;

use super::frames::col_name::*;
use super::frames::{Users, from_micros};
use super::joins::col_name::*;
use super::rules::IN_GRACE_PERIOD;
use crate::model::{ReportKind, UserRow};

/// The collected matrix: one row per user of the snapshot, in the users frame's order (row `i` of
/// either is the same user), each report's membership as a column.
pub struct Matrix {
    frame: DataFrame,
}

impl Matrix {
    /// The collected matrix of `users`, checked to be in their order.
    pub fn new(frame: DataFrame, users: &Users) -> PolarsResult<Matrix> {
        let rows = frame.column(ROW)?.u32()?;
        let in_order = frame.height() == users.len() && rows.iter().enumerate().all(|(i, r)| r == Some(i as u32));
        polars_ensure!(in_order, ComputeError: "the matrix is not in the users' order");
        Ok(Matrix { frame })
    }

    pub fn frame(&self) -> &DataFrame {
        &self.frame
    }

    pub fn height(&self) -> usize {
        self.frame.height()
    }

    pub fn flag(&self, name: &str) -> PolarsResult<&BooleanChunked> {
        self.frame.column(name)?.bool()
    }

    /// Which users are in report `kind` (before exclusions).
    pub fn member(&self, kind: ReportKind) -> PolarsResult<&BooleanChunked> {
        self.flag(kind.slug())
    }

    /// How many users the flags `set` are all true for and the flags `unset` all false.
    pub fn count(&self, set: &[&str], unset: &[&str]) -> PolarsResult<u64> {
        let flags = |names: &[&str]| names.iter().map(|n| self.flag(n)).collect::<PolarsResult<Vec<_>>>();
        let (set, unset) = (flags(set)?, flags(unset)?);
        let on = |f: &&BooleanChunked, i: usize| f.get(i).unwrap_or(false);
        Ok((0..self.height()).filter(|&i| set.iter().all(|f| on(f, i)) && !unset.iter().any(|f| on(f, i))).count()
            as u64)
    }

    /// The values of a list column, each list sorted and without repeats.
    fn lists(&self, name: &str) -> PolarsResult<Vec<Vec<String>>> {
        let mut out = self.lists_with_repeats(name)?;
        for values in &mut out {
            values.dedup();
        }
        Ok(out)
    }

    /// The values of a list column, each list sorted, repeats kept (one per record).
    fn lists_with_repeats(&self, name: &str) -> PolarsResult<Vec<Vec<String>>> {
        let mut out = Vec::with_capacity(self.height());
        for item in self.frame.column(name)?.list()?.amortized_iter() {
            let mut values = match item {
                None => Vec::new(),
                Some(series) => series.as_ref().str()?.iter().flatten().map(str::to_string).collect::<Vec<_>>(),
            };
            values.sort();
            out.push(values);
        }
        Ok(out)
    }
}

/// Every audited user's row, by position (none for a user outside the population).
pub fn user_rows(matrix: &Matrix, users: &Users, as_of: DateTime<Utc>) -> PolarsResult<Vec<Option<UserRow>>> {
    let u = users.columns()?;
    let audited = matrix.flag(AUDITED)?;
    let frozen = matrix.flag(IS_FROZEN)?;
    let grace = matrix.flag(IN_GRACE_PERIOD)?;
    let mut permission_sets = matrix.lists(PERMISSION_SETS)?;
    let mut groups = matrix.lists(GROUPS)?;
    let mut licenses = matrix.lists(LICENSES)?;
    let mut direct_ids = matrix.lists(DIRECT_ASSIGNMENT_IDS)?;
    let mut group_ids = matrix.lists(GROUP_ASSIGNMENT_IDS)?;
    let mut license_ids = matrix.lists(LICENSE_IDS)?;
    let mut login_ids = matrix.lists(LOGIN_IDS)?;
    let mut permission_set_licenses = matrix.lists(PERMISSION_SET_LICENSES)?;
    let mut controls = matrix.lists_with_repeats(LIVE_CONTROLS)?;
    let mut companies = matrix.lists(USER_COMPANIES)?;
    let active_resource = matrix.flag(ACTIVE_RESOURCE)?;
    // Whole days before the as-of instant; none for a date after it (a data warning says so).
    let days = |from: DateTime<Utc>| (from <= as_of).then(|| (as_of - from).num_seconds().div_euclid(86_400));
    let owned = |s: Option<&str>| s.map(str::to_string);
    let mut rows = Vec::with_capacity(matrix.height());
    for i in 0..matrix.height() {
        if !audited.get(i).unwrap_or(false) {
            rows.push(None);
            continue;
        }
        let created = from_micros(u.created.get(i).expect("every user has a CreatedDate"));
        let last_login = u.last_login.get(i).map(from_micros);
        let mut assignment_ids = std::mem::take(&mut direct_ids[i]);
        assignment_ids.append(&mut group_ids[i]);
        assignment_ids.sort();
        assignment_ids.dedup();
        rows.push(Some(UserRow {
            id: u.id.get(i).unwrap_or_default().to_string(),
            username: u.username.get(i).unwrap_or_default().to_string(),
            name: owned(u.name.get(i)),
            email: owned(u.email.get(i)),
            user_type: u.user_type.get(i).unwrap_or_default().to_string(),
            profile: owned(u.profile.get(i)),
            user_license: owned(u.user_license.get(i)),
            role: owned(u.role.get(i)),
            department: owned(u.department.get(i)),
            title: owned(u.title.get(i)),
            federation_id: owned(u.federation_id.get(i)),
            account_class: u.class(i),
            manager_id: owned(u.manager_id.get(i)),
            manager_name: owned(u.manager_name.get(i)),
            manager_email: owned(u.manager_email.get(i)),
            is_active: u.is_active.get(i).unwrap_or(false),
            is_frozen: frozen.get(i).unwrap_or(false),
            created,
            last_login,
            days_since_login: last_login.and_then(days),
            days_since_created: days(created),
            in_grace_period: grace.get(i).unwrap_or(false),
            certinia_permission_sets: std::mem::take(&mut permission_sets[i]),
            certinia_groups: std::mem::take(&mut groups[i]),
            certinia_licenses: std::mem::take(&mut licenses[i]),
            certinia_permission_set_licenses: std::mem::take(&mut permission_set_licenses[i]),
            permission_controls: std::mem::take(&mut controls[i]),
            user_companies: std::mem::take(&mut companies[i]),
            active_resource: active_resource.get(i).unwrap_or(false),
            expected_by: Vec::new(),
            data_warnings: users.warnings[i].clone(),
            certinia_assignment_ids: assignment_ids,
            certinia_license_ids: std::mem::take(&mut license_ids[i]),
            login_ids: std::mem::take(&mut login_ids[i]),
            change: None,
        }));
    }
    Ok(rows)
}

/// Why Certinia access is expected of a user in "Certinia access lacking": `licence`, `roster`.
pub fn expected_by(matrix: &Matrix, position: usize) -> PolarsResult<Vec<String>> {
    let mut by = Vec::new();
    if matrix.flag(HAS_LICENSE)?.get(position).unwrap_or(false) {
        by.push("licence".to_string());
    }
    if matrix.flag(ROSTER_MATCHED)?.get(position).unwrap_or(false) {
        by.push("roster".to_string());
    }
    Ok(by)
}

/// Puts a report's rows in the order every output shows them: inactive users by last login, the
/// longest unused first; every other report by username, case-insensitively; ties by Id.
pub fn sort(kind: ReportKind, rows: &mut [UserRow]) {
    if kind == ReportKind::InactiveUsers {
        rows.sort_by(|a, b| a.last_login.cmp(&b.last_login).then_with(|| a.id.cmp(&b.id)));
    } else {
        rows.sort_by_cached_key(|r| (r.username.to_lowercase(), r.id.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AccountClass;

    fn row(id: &str, username: &str, login: Option<i64>) -> UserRow {
        UserRow {
            id: id.into(),
            username: username.into(),
            name: None,
            email: None,
            user_type: "Standard".into(),
            profile: None,
            user_license: None,
            role: None,
            department: None,
            title: None,
            federation_id: None,
            account_class: AccountClass::Human,
            manager_id: None,
            manager_name: None,
            manager_email: None,
            is_active: true,
            is_frozen: false,
            created: from_micros(0),
            last_login: login.map(from_micros),
            days_since_login: None,
            days_since_created: None,
            in_grace_period: false,
            certinia_permission_sets: vec![],
            certinia_groups: vec![],
            certinia_licenses: vec![],
            certinia_permission_set_licenses: vec![],
            permission_controls: vec![],
            user_companies: vec![],
            active_resource: false,
            expected_by: vec![],
            data_warnings: vec![],
            certinia_assignment_ids: vec![],
            certinia_license_ids: vec![],
            login_ids: vec![],
            change: None,
        }
    }

    #[test]
    fn inactive_users_longest_unused_first_others_by_username_any_case() {
        let ids = |rows: &[UserRow]| rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        let mut rows = vec![row("B", "b@x", Some(20)), row("A", "a@x", Some(20)), row("C", "c@x", Some(10))];
        sort(ReportKind::InactiveUsers, &mut rows);
        assert_eq!(ids(&rows), ["C", "A", "B"]);
        let mut rows = vec![row("2", "Zoe@x", None), row("1", "ana@x", None), row("0", "ANA@x", None)];
        sort(ReportKind::AccessMatrix, &mut rows);
        assert_eq!(ids(&rows), ["0", "1", "2"]);
    }
}
