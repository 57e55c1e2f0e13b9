//! `--split-by manager`: the review cut into one workbook per manager, for reviews where each
//! manager attests their own people.
//!
//! A user row belongs to the manager its `ManagerId` names; users with no manager make one more
//! workbook, `by-manager/no-manager.xlsx`. Each part is the same workbook (the same sheets and
//! columns, the same run id on its Run sheet) with only that manager's rows. Roster entries have
//! no manager: the not-provisioned sheet of every part is empty, and those entries are reviewed
//! in the main workbook, as are the lists (resolved, not done, exclusions).

use std::collections::BTreeMap;

use crate::model::{Audit, Report, Rows, UserRow};

/// The folder of the per-manager workbooks, in the report folder.
pub const FOLDER: &str = "by-manager";

/// One manager's workbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manager {
    /// The manager's user Id; none for the users without a manager.
    pub id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    /// `by-manager/<name>-<Id>.xlsx`, relative to the report folder.
    pub file: String,
    /// Finding rows and users (access matrix rows) in the manager's workbook.
    pub findings: u64,
    pub users: u64,
}

impl Manager {
    /// The manager as a person reads it: the name, else the Id.
    pub fn label(&self) -> &str {
        match (&self.name, &self.id) {
            (Some(name), _) => name,
            (None, Some(id)) => id,
            (None, None) => "(no manager)",
        }
    }
}

/// `ana-lopez`: a file-name part from org text, ASCII letters and digits only, at most 40.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 40 {
            break;
        }
    }
    out.trim_end_matches('-').to_string()
}

/// The workbook's path for a manager: `by-manager/<name>-<Id>.xlsx`, or `by-manager/no-manager.xlsx`
/// for the users without one. The Id makes it unique; a snapshot only holds well-formed Ids (letters
/// and digits), and nothing else is ever used in a path.
fn file_for(id: Option<&str>, name: Option<&str>) -> String {
    let id = id.filter(|id| !id.is_empty() && id.len() <= 18 && id.bytes().all(|b| b.is_ascii_alphanumeric()));
    let stem = match (id, name.map(slug).filter(|s| !s.is_empty())) {
        (Some(id), Some(name)) => format!("{name}-{id}"),
        (Some(id), None) => id.to_string(),
        (None, _) => "no-manager".to_string(),
    };
    format!("{FOLDER}/{stem}.xlsx")
}

/// The review cut by manager, in the order of the managers' Ids (no manager last): each manager
/// with the audit holding only that manager's rows.
pub fn by_manager(audit: &Audit) -> Vec<(Manager, Audit)> {
    // Manager Id → per report, that manager's rows.
    let mut parts: BTreeMap<Option<String>, Vec<Vec<UserRow>>> = BTreeMap::new();
    let mut people: BTreeMap<Option<String>, (Option<String>, Option<String>)> = BTreeMap::new();
    for (i, report) in audit.reports.iter().enumerate() {
        let Rows::Users(users) = &report.rows else { continue };
        for user in users {
            let key = user.manager_id.clone().filter(|id| !id.is_empty());
            parts.entry(key.clone()).or_insert_with(|| vec![Vec::new(); audit.reports.len()])[i].push(user.clone());
            let who = people.entry(key).or_default();
            if who.0.is_none() {
                *who = (user.manager_name.clone(), user.manager_email.clone());
            }
        }
    }
    // No manager last.
    let mut ordered: Vec<(Option<String>, Vec<Vec<UserRow>>)> = parts.into_iter().collect();
    ordered.sort_by_key(|(id, _)| id.is_none());
    ordered
        .into_iter()
        .map(|(id, rows)| {
            let (name, email) = people.remove(&id).unwrap_or_default();
            let file = file_for(id.as_deref(), name.as_deref());
            let reports: Vec<Report> = audit
                .reports
                .iter()
                .zip(rows)
                .map(|(report, users)| Report {
                    kind: report.kind,
                    rows: match report.rows {
                        Rows::Users(_) => Rows::Users(users),
                        Rows::Roster(_) => Rows::Roster(Vec::new()),
                    },
                    with_changes: report.with_changes,
                })
                .collect();
            let part = Audit {
                meta: audit.meta.clone(),
                summary: audit.summary.clone(),
                reports,
                notes: audit.notes.clone(),
                changes: None,
                exclusions: None,
                // An account of another application has no manager: those sheets stay in the main workbook.
                apps: Vec::new(),
                // The seats are the org's, not a manager's: they stay in the main workbook.
                seats: crate::model::Seats::default(),
            };
            let manager = Manager {
                id,
                name,
                email,
                file,
                findings: part.findings() as u64,
                users: part.report(crate::model::ReportKind::AccessMatrix).map_or(0, |r| r.rows.len() as u64),
            };
            (manager, part)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe_and_unique_by_id() {
        assert_eq!(
            file_for(Some("005A00000000001AAA"), Some("Ana López")),
            "by-manager/ana-l-pez-005A00000000001AAA.xlsx"
        );
        assert_eq!(file_for(Some("005A00000000001AAA"), Some("../../etc")), "by-manager/etc-005A00000000001AAA.xlsx");
        assert_eq!(file_for(Some("../x"), Some("Bo")), "by-manager/no-manager.xlsx");
        assert_eq!(file_for(None, None), "by-manager/no-manager.xlsx");
        assert_eq!(file_for(Some("005A00000000001AAA"), Some("=1+1")), "by-manager/1-1-005A00000000001AAA.xlsx");
        assert_eq!(slug(&"x".repeat(100)).len(), 40);
    }
}
