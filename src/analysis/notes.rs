//! The run's notes: what a reader of the outputs must know besides the reports.
//!
//! Takes the users frame (with each user's data warnings) and the warnings the pull recorded, and
//! hands on [`Notes`]: audited user types that no user has, the audited users' dates after the
//! as-of instant, and the text the pull repaired in any object's records.

use chrono::{DateTime, Utc};
use polars::prelude::PolarsResult;

use super::frames::Users;
use crate::config::Rules;
use crate::model::{DataWarning, Notes};

pub fn notes(users: &Users, repaired: &[DataWarning], rules: &Rules, as_of: DateTime<Utc>) -> PolarsResult<Notes> {
    let columns = users.columns()?;
    let audited: Vec<usize> = (0..users.len()).filter(|&r| columns.audited.get(r).unwrap_or(false)).collect();
    let mut run = Vec::new();
    if audited.is_empty() {
        run.push(format!(
            "no user is audited ({} users in the snapshot, audited user types {}): every report is empty",
            users.len(),
            rules.user_types.join(", ")
        ));
    }
    for wanted in &rules.user_types {
        if !columns.user_type.iter().any(|t| t.is_some_and(|t| t.eq_ignore_ascii_case(wanted))) {
            run.push(format!("the audited user type {wanted} matches no user in the snapshot: check --user-types"));
        }
    }
    let flagged: Vec<&[DataWarning]> =
        audited.iter().map(|&r| users.warnings[r].as_slice()).filter(|w| !w.is_empty()).collect();
    let mut data_warnings: Vec<DataWarning> = flagged.iter().flat_map(|w| w.iter().cloned()).collect();
    let repaired_in_users = data_warnings.iter().filter(|w| repaired.contains(w)).count();
    let repaired_elsewhere: Vec<DataWarning> = repaired.iter().filter(|w| w.object != "User").cloned().collect();
    let repairs = repaired_in_users + repaired_elsewhere.len();
    if repairs > 0 {
        run.push(format!(
            "{} field{} held text that is not valid Unicode and {} kept with U+FFFD in its place (see data_warnings)",
            repairs,
            if repairs == 1 { "" } else { "s" },
            if repairs == 1 { "was" } else { "were" },
        ));
    }
    let after = data_warnings.len() - repaired_in_users;
    let dated_users = flagged.iter().filter(|w| w.iter().any(|w| !repaired.contains(w))).count();
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
    Ok(Notes { run, data_warnings })
}
