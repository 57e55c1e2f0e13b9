//! The Seats report (REPORTS.md, "Certinia beyond permission sets, and the seats it costs").
//!
//! Takes the collected matrix (each user's population, state and report membership), the seat
//! licences and their holders from the frames, and the seat costs of the rules; hands on one
//! [`SeatRow`] per `PackageLicense` and per `PermissionSetLicense`, Certinia ones first, then by
//! name. `Assigned` counts the assignment rows pulled for a licence (every user's, audited or
//! not); the four holder counts and `Reclaimable` count distinct **audited** users, from the same
//! membership columns the user reports are decided by, so a seat's counts can never disagree with
//! the reports. The holders are joined and grouped in one polars plan.

use chrono::NaiveDate;
use polars::prelude::*;

use super::frames::Frames;
use super::frames::col_name::*;
use super::joins::col_name::IS_FROZEN;
use super::rules::IN_GRACE_PERIOD;
use crate::config::SeatCosts;
use crate::model::{ReportKind, SeatKind, SeatRow};

const DEACTIVATED: &str = "Deactivated";
const FROZEN: &str = "Frozen";
const INACTIVE: &str = "Inactive";
const NEVER_LOGGED_IN: &str = "NeverLoggedIn";
const RECLAIMABLE: &str = "Reclaimable";
const ASSIGNED: &str = "Assigned";

/// A deactivated audited user.
pub fn deactivated_holder() -> Expr {
    col(AUDITED).and(col(IS_ACTIVE).not())
}

/// An active audited user who is frozen.
pub fn frozen_holder() -> Expr {
    col(AUDITED).and(col(IS_ACTIVE)).and(col(IS_FROZEN))
}

/// A user in the inactive-users report.
pub fn inactive_holder() -> Expr {
    col(ReportKind::InactiveUsers.slug())
}

/// A user in the never-logged-in report, past the grace period.
pub fn never_logged_in_holder() -> Expr {
    col(ReportKind::NeverLoggedIn.slug()).and(col(IN_GRACE_PERIOD).not())
}

/// The four groups of holders whose seats could be reclaimed, and whether a user is in any.
fn holder_flags() -> Vec<Expr> {
    let groups = [
        (DEACTIVATED, deactivated_holder()),
        (FROZEN, frozen_holder()),
        (INACTIVE, inactive_holder()),
        (NEVER_LOGGED_IN, never_logged_in_holder()),
    ];
    let any = groups.iter().map(|(_, e)| e.clone()).reduce(Expr::or).expect("four groups");
    groups
        .into_iter()
        .map(|(name, e)| e.fill_null(lit(false)).alias(name))
        .chain([any.fill_null(lit(false)).alias(RECLAIMABLE)])
        .collect()
}

/// Per licence (`SeatId`): `Assigned` (holder rows) and the distinct holders of each group.
pub fn counts(holders: LazyFrame, users: LazyFrame) -> LazyFrame {
    let flags = users.select([col(ID)].into_iter().chain(holder_flags()).collect::<Vec<_>>());
    let distinct = |flag: &str| col(SEAT_USER).filter(col(flag).fill_null(lit(false))).n_unique().alias(flag);
    holders.left_join(flags, col(SEAT_USER), col(ID)).group_by([col(SEAT_ID)]).agg([
        len().alias(ASSIGNED),
        distinct(DEACTIVATED),
        distinct(FROZEN),
        distinct(INACTIVE),
        distinct(NEVER_LOGGED_IN),
        distinct(RECLAIMABLE),
    ])
}

/// The Seats report's rows, sorted: Certinia ones first, then by name.
pub fn seats(matrix: &DataFrame, frames: &Frames, costs: &SeatCosts) -> PolarsResult<Vec<SeatRow>> {
    let counted = counts(frames.seat_holders.clone().lazy(), matrix.clone().lazy());
    let zero = |name: &str| col(name).fill_null(lit(0u32)).cast(DataType::UInt64);
    let frame = frames
        .seat_licences
        .clone()
        .lazy()
        .left_join(counted, col(SEAT_ID), col(SEAT_ID))
        .with_columns([
            zero(ASSIGNED),
            zero(DEACTIVATED),
            zero(FROZEN),
            zero(INACTIVE),
            zero(NEVER_LOGGED_IN),
            zero(RECLAIMABLE),
        ])
        .collect()?;
    let text = |name: &str| frame.column(name).and_then(Column::str);
    let number = |name: &str| frame.column(name).and_then(Column::u64);
    let (id, kind, name, developer, status) =
        (text(SEAT_ID)?, text(SEAT_KIND)?, text(SEAT_NAME)?, text(SEAT_DEVELOPER_NAME)?, text(SEAT_STATUS)?);
    let certinia = frame.column(SEAT_CERTINIA)?.bool()?;
    let (allowed, used) = (frame.column(SEAT_ALLOWED)?.i64()?, frame.column(SEAT_USED)?.i64()?);
    let expiration = frame.column(SEAT_EXPIRATION)?.i32()?;
    let [assigned, deactivated, frozen, inactive, never, reclaimable] =
        [ASSIGNED, DEACTIVATED, FROZEN, INACTIVE, NEVER_LOGGED_IN, RECLAIMABLE].map(number);
    let (assigned, deactivated, frozen, inactive, never, reclaimable) =
        (assigned?, deactivated?, frozen?, inactive?, never?, reclaimable?);
    let mut rows = Vec::with_capacity(frame.height());
    for i in 0..frame.height() {
        let kind = if kind.get(i) == Some("PackageLicense") {
            SeatKind::PackageLicense
        } else {
            SeatKind::PermissionSetLicense
        };
        let id = id.get(i).unwrap_or_default().to_string();
        let name = name.get(i).unwrap_or_default().to_string();
        let developer_name = developer.get(i).map(str::to_string);
        let key = match kind {
            SeatKind::PackageLicense => Some(name.as_str()),
            SeatKind::PermissionSetLicense => developer_name.as_deref(),
        };
        let seat_cost = costs.of(key, &id);
        rows.push(SeatRow {
            seat_cost,
            id,
            kind,
            name,
            developer_name,
            certinia: certinia.get(i).unwrap_or(false),
            allowed: allowed.get(i),
            used: used.get(i),
            assigned: assigned.get(i).unwrap_or(0),
            expiration: expiration.get(i).map(|d| NaiveDate::default() + chrono::Duration::days(i64::from(d))),
            status: status.get(i).map(str::to_string),
            deactivated: deactivated.get(i).unwrap_or(0),
            frozen: frozen.get(i).unwrap_or(0),
            inactive: inactive.get(i).unwrap_or(0),
            never_logged_in: never.get(i).unwrap_or(0),
            reclaimable: reclaimable.get(i).unwrap_or(0),
        });
    }
    sort(&mut rows);
    Ok(rows)
}

/// Certinia licences first, then by name (case-insensitively), then kind and Id.
pub fn sort(rows: &mut [SeatRow]) {
    rows.sort_by_cached_key(|r| (!r.certinia, r.name.to_lowercase(), r.name.clone(), r.kind.label(), r.id.clone()));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Id, Audited, IsActive, IsFrozen, inactive-users, never-logged-in, InGracePeriod.
    type UserFlags = (&'static str, bool, bool, bool, bool, bool, bool);

    fn users() -> DataFrame {
        let rows: [UserFlags; 8] = [
            ("dead", true, false, false, false, false, false),
            ("frozen", true, true, true, false, false, false),
            ("frozen-inactive", true, true, true, true, false, false),
            ("inactive", true, true, false, true, false, false),
            ("never", true, true, false, false, true, false),
            ("grace", true, true, false, false, true, true),
            ("busy", true, true, false, false, false, false),
            ("portal-dead", false, false, false, false, false, false),
        ];
        let c =
            |name: &str, f: fn(&UserFlags) -> bool| Column::new(name.into(), rows.iter().map(f).collect::<Vec<_>>());
        DataFrame::new(
            rows.len(),
            vec![
                Column::new(ID.into(), rows.iter().map(|r| r.0).collect::<Vec<_>>()),
                c(AUDITED, |r| r.1),
                c(IS_ACTIVE, |r| r.2),
                c(IS_FROZEN, |r| r.3),
                c(ReportKind::InactiveUsers.slug(), |r| r.4),
                c(ReportKind::NeverLoggedIn.slug(), |r| r.5),
                c(IN_GRACE_PERIOD, |r| r.6),
            ],
        )
        .unwrap()
    }

    /// (SeatId, Assigned, Deactivated, Frozen, Inactive, NeverLoggedIn, Reclaimable) per licence.
    fn count(holders: &[(&str, &str)]) -> Vec<(String, u32, u32, u32, u32, u32, u32)> {
        let holders = DataFrame::new(
            holders.len(),
            vec![
                Column::new(SEAT_ID.into(), holders.iter().map(|h| h.0).collect::<Vec<_>>()),
                Column::new(SEAT_USER.into(), holders.iter().map(|h| h.1).collect::<Vec<_>>()),
            ],
        )
        .unwrap();
        let out = counts(holders.lazy(), users().lazy())
            .sort([SEAT_ID], SortMultipleOptions::default())
            .with_columns([all().exclude_cols([SEAT_ID]).as_expr().cast(DataType::UInt32)])
            .collect()
            .unwrap();
        let u = |name: &str| out.column(name).unwrap().u32().unwrap().clone();
        let ids = out.column(SEAT_ID).unwrap().str().unwrap().clone();
        let cols = [ASSIGNED, DEACTIVATED, FROZEN, INACTIVE, NEVER_LOGGED_IN, RECLAIMABLE].map(u);
        (0..out.height())
            .map(|i| {
                let v = |c: usize| cols[c].get(i).unwrap();
                (ids.get(i).unwrap().to_string(), v(0), v(1), v(2), v(3), v(4), v(5))
            })
            .collect()
    }

    #[test]
    fn each_group_counts_distinct_audited_holders_and_reclaimable_counts_each_once() {
        let holders = [
            ("A", "dead"),
            ("A", "dead"), // the same user twice: two assignments, one holder
            ("A", "frozen"),
            ("A", "frozen-inactive"),
            ("A", "inactive"),
            ("A", "never"),
            ("A", "grace"),
            ("A", "busy"),
            ("A", "portal-dead"),
            ("A", "unknown-user"),
            ("B", "busy"),
        ];
        assert_eq!(
            count(&holders),
            [("A".to_string(), 10, 1, 2, 2, 1, 5), ("B".to_string(), 1, 0, 0, 0, 0, 0)],
            "A: frozen-inactive is frozen and inactive, one reclaimable seat; grace, busy, portal and unknown are none"
        );
    }

    #[test]
    fn certinia_licences_first_then_by_name() {
        let row = |id: &str, name: &str, certinia: bool| SeatRow {
            id: id.to_string(),
            kind: SeatKind::PackageLicense,
            name: name.to_string(),
            developer_name: None,
            certinia,
            allowed: None,
            used: None,
            assigned: 0,
            expiration: None,
            status: None,
            deactivated: 0,
            frozen: 0,
            inactive: 0,
            never_logged_in: 0,
            reclaimable: 0,
            seat_cost: None,
        };
        let mut rows =
            vec![row("1", "zeta", false), row("2", "pse", true), row("3", "Alpha", false), row("4", "c2g", true)];
        sort(&mut rows);
        assert_eq!(rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["4", "2", "3", "1"]);
    }
}
