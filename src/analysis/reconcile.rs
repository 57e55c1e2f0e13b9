//! The roster's reconciliation (REPORTS.md): roster entries that match no active audited user.
//!
//! Takes the roster, what each entry matched ([`crate::roster::match_entries`], against all
//! users) and the users frame, and hands on the "not provisioned" rows, each saying why: no user
//! matches it, or the matching users are deactivated or outside the audited user types. (The
//! other list of the reconciliation, unexpected access, is a rule over the matrix:
//! [`super::rules::unexpected_access`].)

use std::collections::{BTreeSet, HashMap};

use super::frames::UserColumns;
use crate::model::RosterRow;
use crate::roster::{Roster, RosterMatch};

pub fn not_provisioned(
    roster: &Roster,
    matches: &[RosterMatch],
    users: &UserColumns<'_>,
    index: &HashMap<&str, usize>,
) -> Vec<RosterRow> {
    let rows_of = |found: &RosterMatch| -> Vec<usize> {
        found.user_ids.iter().filter_map(|id| index.get(id.as_str()).copied()).collect()
    };
    let audited = |r: usize| users.audited.get(r).unwrap_or(false);
    let mut rows = Vec::new();
    for (entry, found) in roster.entries.iter().zip(matches) {
        if rows_of(found).into_iter().any(|r| audited(r) && users.is_active.get(r).unwrap_or(false)) {
            continue;
        }
        let reason = if found.user_ids.is_empty() {
            "no user matches its federation_id, username or email".to_string()
        } else {
            let why: BTreeSet<String> = rows_of(found)
                .into_iter()
                .map(|r| {
                    if !audited(r) {
                        format!("outside the audited user types ({})", users.user_type.get(r).unwrap_or_default())
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
    rows
}
