//! Exclusions (REPORTS.md, "Exclusions", and excluded account classes).
//!
//! Takes the exclusions file's entries with the user each one matched, the users frame and the
//! excluded account classes, and hands on the Exclusions list: the file's entries in line order
//! (active, expired, unmatched), then the audited users of excluded classes by username. The Ids
//! it keeps out ([`kept_out`]) become the matrix's `Excluded` flag; an excluded user leaves every
//! finding report, never the access matrix, and its row of the list names the finding reports it
//! was kept out of ([`name_reports`]), once the membership is known.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use super::frames::UserColumns;
use crate::config::Rules;
use crate::exclusions::Exclusions;
use crate::model::{ExclusionRow, ExclusionStatus, ReportKind};

/// The Exclusions list, before the reports each user was kept out of are known.
pub fn list(
    file: Option<(&Exclusions, &[Option<String>])>,
    users: &UserColumns<'_>,
    index: &HashMap<&str, usize>,
    rules: &Rules,
    as_of: DateTime<Utc>,
) -> Vec<ExclusionRow> {
    let as_of_date = as_of.date_naive();
    let username = |row: usize| users.username.get(row).map(str::to_string);
    let name = |row: usize| users.name.get(row).map(str::to_string);
    let mut rows = Vec::new();
    if let Some((file, matches)) = file {
        for (entry, user) in file.entries.iter().zip(matches) {
            let status = match user {
                None => ExclusionStatus::Unmatched,
                Some(_) if entry.expired(as_of_date) => ExclusionStatus::Expired,
                Some(_) => ExclusionStatus::Active,
            };
            let row = user.as_deref().and_then(|id| index.get(id).copied());
            rows.push(ExclusionRow {
                status,
                line: Some(entry.line),
                user: entry.user.clone(),
                reason: entry.reason.clone(),
                approved_by: entry.approved_by.clone(),
                expires: entry.expires,
                id: user.clone(),
                username: row.and_then(username),
                name: row.and_then(name),
                excluded_from: Vec::new(),
            });
        }
    }
    let mut by_class: Vec<usize> = (0..users.id.len())
        .filter(|&r| users.audited.get(r).unwrap_or(false) && rules.excluded_classes.contains(&users.class(r)))
        .collect();
    by_class.sort_by_cached_key(|&r| {
        (users.username.get(r).unwrap_or_default().to_lowercase(), users.id.get(r).unwrap_or_default())
    });
    for r in by_class {
        let class = users.class(r);
        rows.push(ExclusionRow {
            status: ExclusionStatus::Class,
            line: None,
            user: class.label().to_string(),
            reason: format!("the account class {} is excluded (exclude_classes)", class.label()),
            approved_by: String::new(),
            expires: None,
            id: users.id.get(r).map(str::to_string),
            username: username(r),
            name: name(r),
            excluded_from: Vec::new(),
        });
    }
    rows
}

fn excludes(row: &ExclusionRow) -> bool {
    matches!(row.status, ExclusionStatus::Active | ExclusionStatus::Class)
}

/// The Ids the list keeps out of the finding reports: those of unexpired entries and classes.
pub fn kept_out(rows: &[ExclusionRow]) -> BTreeSet<String> {
    rows.iter().filter(|r| excludes(r)).filter_map(|r| r.id.clone()).collect()
}

/// Names, on each row that excludes a user, the finding reports `reports_of` says the user would
/// have been in.
pub fn name_reports(rows: &mut [ExclusionRow], mut reports_of: impl FnMut(&str) -> Vec<ReportKind>) {
    for row in rows.iter_mut().filter(|r| excludes(r)) {
        row.excluded_from = row.id.as_deref().map(&mut reports_of).unwrap_or_default();
    }
}
