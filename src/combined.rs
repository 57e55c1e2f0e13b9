//! Several orgs in one run: what each org came to, and the people found in more than one.
//!
//! Takes, per org of a run of several, either its finished [`Audit`] (reduced at once to an
//! [`OrgDigest`]: the counts, the seats, and who its audited users are) or its one-line
//! failure, plus what that org's previous report said ([`Previous`]), and hands on the
//! [`Combined`] summary that `render::combined` writes beside the orgs' folders:
//!
//! - **per org**: rows and findings per report, the change in findings since its previous
//!   report, the Certinia package licence seats its audited users hold (and how many of them
//!   deactivated users hold), or, for an org that failed, its exit code and one-line error;
//! - **the cross-org list**: a person present in several orgs is shown once, with their state in
//!   each. Users of different orgs are the same person when they have the same federation id
//!   (compared without case); a user without one is matched by email instead (without case, and
//!   without the `.invalid` Salesforce appends to every email when it creates or refreshes a
//!   sandbox). An email shared by users with different federation ids matches none of them: it
//!   cannot tell which person it is. A person deactivated in one org and active (not frozen) in
//!   another is flagged [`CrossOrgPerson::still_active_elsewhere`]: the leaver still active in
//!   a sandbox, listed first.
//!
//! Why a digest and not the audits: a run of several holds every org's users at once, and only
//! these few fields of each are needed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::model::{Audit, ReportKind, Rows, UserStatus};

/// One audited user of one org, as the cross-org list shows them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrgUser {
    pub id: String,
    pub username: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub federation_id: Option<String>,
    pub status: UserStatus,
    /// Holds a Certinia permission set or group.
    pub certinia_access: bool,
}

/// A report's count in one org.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportCount {
    pub kind: ReportKind,
    pub rows: usize,
    pub findings: usize,
    /// The rows the org's previous report had, when there was one holding this report.
    pub previous_rows: Option<u64>,
}

/// Certinia package licence seats held by an org's audited users.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Seats {
    /// Licences assigned (one per user and Certinia package).
    pub held: u64,
    /// Of these, held by deactivated users: seats paid for and not used.
    pub on_deactivated: u64,
}

/// What an org's previous report said (its `summary.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Previous {
    pub folder: PathBuf,
    pub as_of: String,
    pub findings: u64,
    /// Rows per report, by slug.
    pub reports: BTreeMap<String, u64>,
}

impl Previous {
    /// The summary of the report folder `dir`, if it holds a readable one.
    pub fn read(dir: &Path) -> Option<Previous> {
        let bytes = crate::files::read_member(&dir.join(crate::render::json::FILE_NAME), crate::files::MARKER).ok()?;
        let v: Value = serde_json::from_slice(&bytes).ok()?;
        let reports =
            v["reports"].as_object()?.iter().filter_map(|(slug, rows)| Some((slug.clone(), rows.as_u64()?))).collect();
        Some(Previous {
            folder: dir.to_path_buf(),
            as_of: v["as_of"].as_str()?.to_string(),
            findings: v["findings"].as_u64()?,
            reports,
        })
    }
}

/// A reported org, reduced to what the combined summary shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrgDigest {
    /// Its name in the run (its folder's name).
    pub name: String,
    pub org_id: String,
    pub org_name: Option<String>,
    pub is_sandbox: bool,
    pub instance_url: String,
    /// Its report folder.
    pub folder: PathBuf,
    pub reports: Vec<ReportCount>,
    pub findings: usize,
    pub audited_users: u64,
    pub seats: Seats,
    pub previous: Option<Previous>,
    /// Its audited users (the access matrix), for the cross-org list.
    #[serde(skip)]
    pub users: Vec<OrgUser>,
}

impl OrgDigest {
    pub fn new(name: &str, folder: &Path, audit: &Audit, previous: Option<Previous>) -> OrgDigest {
        let reports = audit
            .reports
            .iter()
            .map(|r| ReportCount {
                kind: r.kind,
                rows: r.rows.len(),
                findings: r.findings(),
                previous_rows: previous.as_ref().and_then(|p| p.reports.get(r.kind.slug()).copied()),
            })
            .collect();
        let mut seats = Seats::default();
        let mut users = Vec::new();
        if let Some(Rows::Users(matrix)) = audit.report(ReportKind::AccessMatrix).map(|r| &r.rows) {
            for u in matrix {
                let held = u.certinia_licenses.len() as u64;
                seats.held += held;
                if u.status() == UserStatus::Deactivated {
                    seats.on_deactivated += held;
                }
                users.push(OrgUser {
                    id: u.id.clone(),
                    username: u.username.clone(),
                    name: u.name.clone(),
                    email: u.email.clone(),
                    federation_id: u.federation_id.clone(),
                    status: u.status(),
                    certinia_access: u.has_certinia_grant(),
                });
            }
        }
        OrgDigest {
            name: name.to_string(),
            org_id: audit.meta.org_id.clone(),
            org_name: audit.meta.org_name.clone(),
            is_sandbox: audit.meta.is_sandbox,
            instance_url: audit.meta.instance_url.clone(),
            folder: folder.to_path_buf(),
            reports,
            findings: audit.findings(),
            audited_users: audit.summary.audited_users,
            seats,
            previous,
            users,
        }
    }

    /// Findings now less findings in the previous report, when there was one.
    pub fn change(&self) -> Option<i64> {
        self.previous.as_ref().map(|p| self.findings as i64 - p.findings as i64)
    }
}

/// How one org of the run ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum OrgOutcome {
    Reported(OrgDigest),
    Failed {
        name: String,
        /// The exit code the org's run alone would have ended with, and its name.
        exit_code: i32,
        exit_name: &'static str,
        /// The one-line error.
        error: String,
        /// Its last good report, if any.
        previous: Option<Previous>,
    },
}

impl OrgOutcome {
    pub fn name(&self) -> &str {
        match self {
            OrgOutcome::Reported(d) => &d.name,
            OrgOutcome::Failed { name, .. } => name,
        }
    }
}

/// One person found in several orgs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrossOrgPerson {
    pub federation_id: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    /// Per org of [`Combined::orgs`], in that order: the person's users there (none: not there).
    pub in_orgs: Vec<Vec<OrgUser>>,
    /// Deactivated in one org and active (not frozen) in another.
    pub still_active_elsewhere: bool,
}

impl CrossOrgPerson {
    /// The person's state in one org: `Active`, `Frozen`, `Deactivated` (several users joined with
    /// `; `), `+ Certinia` when one of them holds Certinia access; empty when not there.
    pub fn state_in(&self, org: usize) -> String {
        self.in_orgs[org]
            .iter()
            .map(|u| format!("{}{}", u.status.label(), if u.certinia_access { " + Certinia" } else { "" }))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The whole run of several orgs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Combined {
    pub tool_version: String,
    pub as_of: DateTime<Utc>,
    pub orgs: Vec<OrgOutcome>,
    pub people: Vec<CrossOrgPerson>,
}

impl Combined {
    pub fn new(as_of: DateTime<Utc>, orgs: Vec<OrgOutcome>) -> Combined {
        let people = cross_org(&orgs);
        Combined { tool_version: env!("CARGO_PKG_VERSION").to_string(), as_of, orgs, people }
    }

    /// Findings across the orgs that reported.
    pub fn findings(&self) -> usize {
        self.reported().map(|d| d.findings).sum()
    }

    pub fn reported(&self) -> impl Iterator<Item = &OrgDigest> {
        self.orgs.iter().filter_map(|o| match o {
            OrgOutcome::Reported(d) => Some(d),
            OrgOutcome::Failed { .. } => None,
        })
    }

    pub fn failed(&self) -> usize {
        self.orgs.iter().filter(|o| matches!(o, OrgOutcome::Failed { .. })).count()
    }

    pub fn still_active_elsewhere(&self) -> usize {
        self.people.iter().filter(|p| p.still_active_elsewhere).count()
    }

    /// `3 orgs (prod, fullsb, acq)`: the run's name in a subject line.
    pub fn label(&self) -> String {
        label(&self.orgs.iter().map(|o| o.name().to_string()).collect::<Vec<_>>())
    }
}

/// `3 orgs (prod, fullsb, acq)`: a run of several's name, from its orgs' names.
pub fn label(names: &[String]) -> String {
    let many = if names.len() == 1 { "org" } else { "orgs" };
    format!("{} {many} ({})", names.len(), crate::render::clip(&names.join(", "), 120))
}

/// A federation id as compared: trimmed, without case; None when empty.
fn federation_key(id: Option<&str>) -> Option<String> {
    id.map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty())
}

/// An email as compared: trimmed, without case, without the `.invalid` a sandbox appends.
fn email_key(email: Option<&str>) -> Option<String> {
    let lower = email?.trim().to_lowercase();
    let bare = lower.strip_suffix(".invalid").unwrap_or(&lower);
    (!bare.is_empty()).then(|| bare.to_string())
}

/// The people present in at least two orgs (see the module documentation for how users match),
/// flagged ones first, then by email or federation id.
fn cross_org(orgs: &[OrgOutcome]) -> Vec<CrossOrgPerson> {
    let entries: Vec<(usize, &OrgUser)> = orgs
        .iter()
        .enumerate()
        .filter_map(|(i, o)| match o {
            OrgOutcome::Reported(d) => Some(d.users.iter().map(move |u| (i, u))),
            OrgOutcome::Failed { .. } => None,
        })
        .flatten()
        .collect();
    let mut sets = DisjointSets::new(entries.len());
    let mut by_federation: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_email: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (n, (_, u)) in entries.iter().enumerate() {
        if let Some(key) = federation_key(u.federation_id.as_deref()) {
            let first = *by_federation.entry(key).or_insert(n);
            sets.join(first, n);
        }
        if let Some(key) = email_key(u.email.as_deref()) {
            by_email.entry(key).or_default().push(n);
        }
    }
    for members in by_email.values() {
        let ids: BTreeSet<String> =
            members.iter().filter_map(|n| federation_key(entries[*n].1.federation_id.as_deref())).collect();
        // Two federation ids behind one email: it cannot say who a user without one is.
        if ids.len() <= 1 {
            for n in &members[1..] {
                sets.join(members[0], *n);
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for n in 0..entries.len() {
        groups.entry(sets.root(n)).or_default().push(n);
    }
    let mut people: Vec<CrossOrgPerson> = groups
        .into_values()
        .filter(|members| members.iter().map(|n| entries[*n].0).collect::<BTreeSet<_>>().len() >= 2)
        .map(|members| {
            let mut in_orgs = vec![Vec::new(); orgs.len()];
            for n in &members {
                let (org, user) = entries[*n];
                in_orgs[org].push(user.clone());
            }
            let users = || members.iter().map(|n| entries[*n].1);
            let first = |f: fn(&OrgUser) -> Option<&String>| {
                users().find_map(|u| f(u).filter(|s| !s.trim().is_empty()).cloned())
            };
            let deactivated: BTreeSet<usize> = members
                .iter()
                .filter(|n| entries[**n].1.status == UserStatus::Deactivated)
                .map(|n| entries[*n].0)
                .collect();
            let active: BTreeSet<usize> =
                members.iter().filter(|n| entries[**n].1.status == UserStatus::Active).map(|n| entries[*n].0).collect();
            let still_active_elsewhere = deactivated.iter().any(|d| active.iter().any(|a| a != d));
            CrossOrgPerson {
                federation_id: first(|u| u.federation_id.as_ref()),
                email: first(|u| u.email.as_ref()),
                name: first(|u| u.name.as_ref()),
                in_orgs,
                still_active_elsewhere,
            }
        })
        .collect();
    let sort_key = |p: &CrossOrgPerson| {
        let key =
            email_key(p.email.as_deref()).or_else(|| federation_key(p.federation_id.as_deref())).unwrap_or_default();
        (!p.still_active_elsewhere, key)
    };
    people.sort_by_key(sort_key);
    people
}

/// Union-find over entry indices (path halving, union by index).
struct DisjointSets {
    parent: Vec<usize>,
}

impl DisjointSets {
    fn new(n: usize) -> DisjointSets {
        DisjointSets { parent: (0..n).collect() }
    }

    fn root(&mut self, mut n: usize) -> usize {
        while self.parent[n] != n {
            self.parent[n] = self.parent[self.parent[n]];
            n = self.parent[n];
        }
        n
    }

    fn join(&mut self, a: usize, b: usize) {
        let (a, b) = (self.root(a), self.root(b));
        if a != b {
            self.parent[a.max(b)] = a.min(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, fed: Option<&str>, email: Option<&str>, status: UserStatus) -> OrgUser {
        OrgUser {
            id: id.into(),
            username: format!("{id}@x"),
            name: Some(format!("User {id}")),
            email: email.map(Into::into),
            federation_id: fed.map(Into::into),
            status,
            certinia_access: false,
        }
    }

    fn org(name: &str, users: Vec<OrgUser>) -> OrgOutcome {
        OrgOutcome::Reported(OrgDigest {
            name: name.into(),
            org_id: "00D000000000001EAA".into(),
            org_name: None,
            is_sandbox: false,
            instance_url: String::new(),
            folder: PathBuf::from(name),
            reports: vec![],
            findings: 0,
            audited_users: users.len() as u64,
            seats: Seats::default(),
            previous: None,
            users,
        })
    }

    use UserStatus::{Active, Deactivated, Frozen};

    #[test]
    fn people_match_by_federation_id_else_by_email() {
        let prod = org(
            "prod",
            vec![
                user("a1", Some("FED-1"), Some("ann@acme.com"), Deactivated),
                user("b1", None, Some("Bob@Acme.com"), Active),
                user("c1", Some("fed-3"), Some("shared@acme.com"), Active),
                user("d1", Some("fed-4"), Some("shared@acme.com"), Active),
                user("e1", None, Some("only@acme.com"), Active),
            ],
        );
        let sandbox = org(
            "fullsb",
            vec![
                // Another email, the same federation id: the same person.
                user("a2", Some("fed-1"), Some("ann.old@acme.com.invalid"), Active),
                // A sandbox's email, no federation id: the same person as b1.
                user("b2", None, Some("bob@acme.com.invalid"), Frozen),
                // One email, two federation ids in prod: no match by email.
                user("s2", None, Some("shared@acme.com"), Active),
            ],
        );
        let combined = Combined::new(Utc::now(), vec![prod, sandbox]);
        let found: Vec<(Vec<String>, bool)> = combined
            .people
            .iter()
            .map(|p| (p.in_orgs.iter().flatten().map(|u| u.id.clone()).collect(), p.still_active_elsewhere))
            .collect();
        assert_eq!(found, [(vec!["a1".into(), "a2".into()], true), (vec!["b1".into(), "b2".into()], false)]);
        let ann = &combined.people[0];
        assert_eq!(ann.state_in(0), "Deactivated");
        assert_eq!(ann.state_in(1), "Active");
        assert_eq!(ann.federation_id.as_deref(), Some("FED-1"));
        assert_eq!(combined.people[1].state_in(1), "Frozen", "frozen elsewhere is not flagged");
    }

    #[test]
    fn a_person_in_one_org_only_is_not_listed() {
        let combined = Combined::new(
            Utc::now(),
            vec![
                org("a", vec![user("x1", Some("f"), None, Active), user("x2", Some("F"), None, Deactivated)]),
                org("b", vec![]),
                OrgOutcome::Failed {
                    name: "c".into(),
                    exit_code: 3,
                    exit_name: "SalesforceError",
                    error: "x".into(),
                    previous: None,
                },
            ],
        );
        assert!(combined.people.is_empty(), "two users of one org are not several orgs");
        assert_eq!(combined.failed(), 1);
        assert_eq!(combined.label(), "3 orgs (a, b, c)");
    }
}
