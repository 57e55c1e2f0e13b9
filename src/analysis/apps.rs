//! The other applications' reports: REPORTS.md's "Other applications over SCIM 2.0", per
//! application in the snapshot.
//!
//! Takes the verified snapshot (the org's users, logins and assignments, and each application's
//! accounts and groups), the rules and the optional roster, and hands on one [`AppAudit`] per
//! application. Every account is matched to the org's users (all of them, audited or not) by the
//! roster's rule, [`UserIndex`]: `externalId` against FederationIdentifier, else `userName`
//! against Username, else its emails against Email, case-insensitively, the first key that finds
//! any user deciding. An account's groups are those its resource lists and those whose members
//! name it: a provider that leaves `groups` off its users (Stensul) still has its memberships
//! seen. The rules are plain set logic over a few thousand accounts, so they run here in Rust,
//! each a small function with its own test.
//!
//! For Salesforce's own SCIM endpoint, the cross-check compares each audited user's Certinia
//! permission sets among its SCIM entitlements with those SOQL found directly assigned, and its
//! `active` with IsActive; permission sets are compared by Id (the 15-character form), and a SCIM
//! entitlement is classified with SOQL's knowledge of that permission set when SOQL has any, else
//! by its display name (and a `ns__` prefix in it).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::{Map, Value};

use super::{AnalysisError, Classifier, Inputs, display, flag, text};
use crate::config::apps::Dialect;
use crate::model::apps::{AppAccountRow, AppAudit, AppReport, AppReportKind, CrosscheckRow, MatchedUser};
use crate::roster::{Key, RosterKeys, UserIndex, UserKeys};
use crate::scim::{Account, Group, ResourceType};
use crate::snapshot::Loaded;
use crate::snapshot::apps::ManifestApp;

/// What the application rules need to know of one user of the org.
#[derive(Debug, Clone)]
pub(super) struct OrgUser {
    pub id: String,
    pub username: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub federation_id: Option<String>,
    pub is_active: bool,
    pub is_frozen: bool,
    /// Its UserType is audited.
    pub audited: bool,
}

impl OrgUser {
    /// Active, not frozen and audited: a person who may use the application.
    fn in_good_standing(&self) -> bool {
        self.audited && self.is_active && !self.is_frozen
    }
}

/// The key of a Salesforce Id for comparisons: its first 15 characters (the 18-character form
/// only adds a case checksum).
fn id_key(id: &str) -> String {
    id.chars().take(15).collect()
}

/// The org's users, with frozen logins and the population rule applied.
fn org_users(snapshot: &Loaded, inputs: &Inputs<'_>) -> Result<Vec<OrgUser>, AnalysisError> {
    let mut frozen = HashSet::new();
    snapshot.each("UserLogin", |r| {
        if flag(&r, "IsFrozen") {
            frozen.insert(text(&r, "UserId").unwrap_or_default().to_string());
        }
        Ok::<(), AnalysisError>(())
    })?;
    let audited: Vec<String> = inputs.rules.user_types.iter().map(|t| t.to_ascii_lowercase()).collect();
    let mut users = Vec::new();
    snapshot.each("User", |r| {
        let owned = |f: &str| text(&r, f).map(str::to_string);
        let id = owned("Id").unwrap_or_default();
        users.push(OrgUser {
            is_frozen: frozen.contains(&id),
            id,
            username: owned("Username").unwrap_or_default(),
            name: owned("Name"),
            email: owned("Email"),
            federation_id: owned("FederationIdentifier"),
            is_active: flag(&r, "IsActive"),
            audited: audited.contains(&text(&r, "UserType").unwrap_or_default().to_ascii_lowercase()),
        });
        Ok::<(), AnalysisError>(())
    })?;
    Ok(users)
}

/// Builds the reports of every application in the snapshot, in name order.
pub fn analyse_apps(snapshot: &Loaded, inputs: &Inputs<'_>) -> Result<Vec<AppAudit>, AnalysisError> {
    let mut apps: Vec<&ManifestApp> = snapshot.verified.manifest.apps.iter().collect();
    if apps.is_empty() {
        return Ok(Vec::new());
    }
    apps.sort_by(|a, b| a.name.cmp(&b.name));
    let users = org_users(snapshot, inputs)?;
    let roster = inputs.roster.map(|r| RosterKeys::new(&r.entries));
    let mut audits = Vec::new();
    for app in apps {
        let mut accounts = Vec::new();
        snapshot.each_app(&app.name, ResourceType::Users, |r| {
            accounts.push(Account::read(&r));
            Ok::<(), AnalysisError>(())
        })?;
        let mut groups = Vec::new();
        snapshot.each_app(&app.name, ResourceType::Groups, |r| {
            groups.push(Group::read(&r));
            Ok::<(), AnalysisError>(())
        })?;
        let mut audit = audit_app(app, &accounts, &groups, &users, roster.as_ref());
        if app.dialect == Dialect::Salesforce {
            audit.crosscheck = Some(crosscheck(snapshot, inputs, &accounts, &users)?);
        }
        audits.push(audit);
    }
    Ok(audits)
}

/// Each account's groups: those its resource lists and those whose members name it, by display
/// name (the id when the group has none or is not in the listing), sorted.
fn memberships(accounts: &[Account], groups: &[Group]) -> HashMap<String, Vec<String>> {
    let names: HashMap<&str, &str> =
        groups.iter().map(|g| (g.id.as_str(), g.display_name.as_deref().unwrap_or(g.id.as_str()))).collect();
    let mut of: HashMap<String, BTreeSet<String>> = HashMap::new();
    for account in accounts {
        let mine = of.entry(account.id.clone()).or_default();
        for g in &account.group_ids {
            mine.insert(names.get(g.as_str()).copied().unwrap_or(g).to_string());
        }
    }
    for group in groups {
        let name = names[group.id.as_str()];
        for member in &group.member_ids {
            if let Some(mine) = of.get_mut(member) {
                mine.insert(name.to_string());
            }
        }
    }
    of.into_iter().map(|(id, set)| (id, set.into_iter().collect())).collect()
}

/// Why an active account whose matches hold no active, unfrozen, audited user is an orphan: the
/// first reason of REPORTS.md that applies to any of its matches.
fn orphan_reason(matches: &[&OrgUser]) -> Option<&'static str> {
    if matches.iter().any(|u| u.in_good_standing()) {
        return None;
    }
    Some(if matches.iter().any(|u| u.audited && u.is_active && u.is_frozen) {
        "frozen in Salesforce"
    } else if matches.iter().any(|u| u.audited) {
        "deactivated in Salesforce"
    } else if !matches.is_empty() {
        "outside the audited population"
    } else {
        "no Salesforce user"
    })
}

fn audit_app(
    app: &ManifestApp,
    accounts: &[Account],
    groups: &[Group],
    users: &[OrgUser],
    roster: Option<&RosterKeys>,
) -> AppAudit {
    let keys: Vec<UserKeys<'_>> = users
        .iter()
        .map(|u| UserKeys {
            id: &u.id,
            federation_id: u.federation_id.as_deref(),
            username: &u.username,
            email: u.email.as_deref(),
        })
        .collect();
    let index = UserIndex::new(&keys);
    let by_id: HashMap<&str, &OrgUser> = users.iter().map(|u| (u.id.as_str(), u)).collect();
    let member_of = memberships(accounts, groups);
    let mut reports: BTreeMap<AppReportKind, Vec<AppAccountRow>> = BTreeMap::new();
    for account in accounts {
        let emails: Vec<&str> = account.emails.iter().map(String::as_str).collect();
        let found = index.find(account.external_id.as_deref().unwrap_or_default(), &account.user_name, &emails);
        let (matched_by, ids) = match found {
            Some((key, ids)) => (Some(key), ids),
            None => (None, Vec::new()),
        };
        let matches: Vec<&OrgUser> = ids.iter().filter_map(|id| by_id.get(id.as_str()).copied()).collect();
        let groups = member_of.get(&account.id).cloned().unwrap_or_default();
        let row = AppAccountRow {
            account_id: account.id.clone(),
            user_name: account.user_name.clone(),
            display_name: account.display_name.clone(),
            email: account.primary_email.clone(),
            active: account.active,
            groups,
            matches: matches
                .iter()
                .map(|u| MatchedUser { id: u.id.clone(), username: u.username.clone(), is_active: u.is_active })
                .collect(),
            matched_by: matched_by.map(|k| {
                match k {
                    Key::FederationId => "externalId",
                    Key::Username => "userName",
                    Key::Email => "emails",
                }
                .to_string()
            }),
            reason: None,
        };
        if account.active
            && let Some(reason) = orphan_reason(&matches)
        {
            let mut orphan = row.clone();
            orphan.reason = Some(reason.to_string());
            reports.entry(AppReportKind::AppOrphans).or_default().push(orphan);
        }
        if !account.active && !row.groups.is_empty() {
            reports.entry(AppReportKind::AppAccessRetained).or_default().push(row.clone());
        }
        if let Some(roster) = roster
            && account.active
            && !row.groups.is_empty()
            && !roster.lists(account.external_id.as_deref().unwrap_or_default(), &account.user_name, &emails)
        {
            reports.entry(AppReportKind::AppUnexpectedAccess).or_default().push(row.clone());
        }
        reports.entry(AppReportKind::AppAccessMatrix).or_default().push(row);
    }
    let reports = AppReportKind::ALL
        .into_iter()
        .filter(|k| *k != AppReportKind::AppUnexpectedAccess || roster.is_some())
        .map(|kind| {
            let mut rows = reports.remove(&kind).unwrap_or_default();
            rows.sort_by(|a, b| {
                a.user_name
                    .to_lowercase()
                    .cmp(&b.user_name.to_lowercase())
                    .then_with(|| a.account_id.cmp(&b.account_id))
            });
            AppReport { kind, rows }
        })
        .collect();
    let mut notes = Vec::new();
    if app.dialect == Dialect::Stensul {
        notes.push(format!(
            "{}: Stensul hides soft-deleted users from every GET /Users, so an account deleted in Stensul is not \
             seen by this audit, whatever it could do before",
            app.name
        ));
    }
    AppAudit {
        name: app.name.clone(),
        dialect: app.dialect.as_str().to_string(),
        base_url: app.base_url.clone(),
        accounts: accounts.len() as u64,
        groups: groups.len() as u64,
        reports,
        crosscheck: None,
        notes,
    }
}

/// A permission set as SOQL describes it (from assignments and group components).
struct KnownSet {
    certinia: bool,
    display: String,
}

/// Whether a SCIM entitlement is a permission set: Salesforce's `type` says so, or the Id has the
/// permission set prefix (`0PS`).
fn is_permission_set(kind: Option<&str>, value: &str) -> bool {
    kind.is_some_and(|k| k.to_ascii_lowercase().replace([' ', '_'], "") == "permissionset") || value.starts_with("0PS")
}

fn crosscheck(
    snapshot: &Loaded,
    inputs: &Inputs<'_>,
    accounts: &[Account],
    users: &[OrgUser],
) -> Result<Vec<CrosscheckRow>, AnalysisError> {
    let classify = Classifier::new(inputs.rules);
    let describe = |r: &Map<String, Value>| KnownSet {
        certinia: classify.permission_set(
            text(r, "PermissionSet.NamespacePrefix"),
            text(r, "PermissionSet.Name"),
            text(r, "PermissionSet.Label"),
            flag(r, "PermissionSet.IsOwnedByProfile"),
        ),
        display: display(
            text(r, "PermissionSet.Label"),
            text(r, "PermissionSet.NamespacePrefix"),
            text(r, "PermissionSet.Name"),
        ),
    };
    let mut known: HashMap<String, KnownSet> = HashMap::new();
    // Certinia permission sets assigned directly (not through a group), by user and set.
    let mut soql: HashMap<String, BTreeMap<String, String>> = HashMap::new();
    snapshot.each("PermissionSetAssignment", |r| {
        let set = id_key(text(&r, "PermissionSetId").unwrap_or_default());
        let described = describe(&r);
        if described.certinia && text(&r, "PermissionSetGroupId").is_none() {
            let user = text(&r, "AssigneeId").unwrap_or_default().to_string();
            soql.entry(user).or_default().insert(set.clone(), described.display.clone());
        }
        known.entry(set).or_insert(described);
        Ok::<(), AnalysisError>(())
    })?;
    snapshot.each("PermissionSetGroupComponent", |r| {
        known.entry(id_key(text(&r, "PermissionSetId").unwrap_or_default())).or_insert_with(|| describe(&r));
        Ok::<(), AnalysisError>(())
    })?;
    // The Certinia permission sets among an account's entitlements, by set.
    let scim_sets = |account: &Account| -> BTreeMap<String, String> {
        let mut sets = BTreeMap::new();
        for e in account.entitlements.iter().filter(|e| is_permission_set(e.kind.as_deref(), &e.value)) {
            let key = id_key(&e.value);
            let shown = e.display.as_deref().unwrap_or(&e.value);
            let (certinia, display) = match known.get(&key) {
                Some(k) => (k.certinia, k.display.clone()),
                None => {
                    let (ns, name) = match shown.split_once("__") {
                        Some((ns, name)) => (Some(ns), name),
                        None => (None, shown),
                    };
                    (classify.permission_set(ns, Some(name), Some(shown), false), shown.to_string())
                }
            };
            if certinia {
                sets.insert(key, display);
            }
        }
        sets
    };
    let by_account: HashMap<String, &Account> = accounts.iter().map(|a| (id_key(&a.id), a)).collect();
    let in_soql: HashSet<String> = users.iter().map(|u| id_key(&u.id)).collect();
    let mut rows = Vec::new();
    for user in users.iter().filter(|u| u.audited) {
        let ours = soql.remove(&user.id).unwrap_or_default();
        let account = by_account.get(&id_key(&user.id));
        let theirs = account.map(|a| scim_sets(a)).unwrap_or_default();
        let mut differences = Vec::new();
        match account {
            None => differences.push("not in SCIM".to_string()),
            Some(a) => {
                if a.active != user.is_active {
                    differences.push("active".to_string());
                }
                if ours.keys().ne(theirs.keys()) {
                    differences.push("permission sets".to_string());
                }
            }
        }
        if !differences.is_empty() {
            rows.push(CrosscheckRow {
                id: user.id.clone(),
                username: user.username.clone(),
                name: user.name.clone(),
                is_active: Some(user.is_active),
                scim_active: account.map(|a| a.active),
                soql_permission_sets: ours.into_values().collect(),
                scim_permission_sets: theirs.into_values().collect(),
                differences,
            });
        }
    }
    for account in accounts.iter().filter(|a| !in_soql.contains(&id_key(&a.id))) {
        rows.push(CrosscheckRow {
            id: account.id.clone(),
            username: account.user_name.clone(),
            name: account.display_name.clone(),
            is_active: None,
            scim_active: Some(account.active),
            soql_permission_sets: Vec::new(),
            scim_permission_sets: scim_sets(account).into_values().collect(),
            differences: vec!["not in SOQL".to_string()],
        });
    }
    rows.sort_by(|a, b| a.username.to_lowercase().cmp(&b.username.to_lowercase()).then_with(|| a.id.cmp(&b.id)));
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, audited: bool, active: bool, frozen: bool) -> OrgUser {
        OrgUser {
            id: id.into(),
            username: format!("{id}@acme.example"),
            name: None,
            email: None,
            federation_id: None,
            is_active: active,
            is_frozen: frozen,
            audited,
        }
    }

    #[test]
    fn the_first_reason_that_applies_to_any_match() {
        let good = user("A", true, true, false);
        let frozen = user("B", true, true, true);
        let gone = user("C", true, false, false);
        let portal = user("D", false, true, false);
        assert_eq!(orphan_reason(&[&good, &frozen]), None, "one match in good standing is enough");
        assert_eq!(orphan_reason(&[&gone, &frozen, &portal]), Some("frozen in Salesforce"));
        assert_eq!(orphan_reason(&[&portal, &gone]), Some("deactivated in Salesforce"));
        assert_eq!(orphan_reason(&[&portal]), Some("outside the audited population"));
        assert_eq!(orphan_reason(&[]), Some("no Salesforce user"));
        // A frozen user outside the population is only outside the population.
        assert_eq!(orphan_reason(&[&user("E", false, true, true)]), Some("outside the audited population"));
    }

    fn account(id: &str, groups: &[&str]) -> Account {
        Account {
            id: id.into(),
            user_name: id.into(),
            external_id: None,
            display_name: None,
            emails: Vec::new(),
            primary_email: None,
            active: true,
            group_ids: groups.iter().map(|g| g.to_string()).collect(),
            entitlements: Vec::new(),
        }
    }

    #[test]
    fn memberships_join_what_users_and_groups_each_say() {
        let groups = vec![
            Group { id: "g1".into(), display_name: Some("Admin".into()), member_ids: vec!["a".into(), "zz".into()] },
            Group { id: "g2".into(), display_name: None, member_ids: vec![] },
        ];
        let of = memberships(&[account("a", &["g2"]), account("b", &["g9"]), account("c", &[])], &groups);
        assert_eq!(of["a"], ["Admin", "g2"], "named by display name, else id");
        assert_eq!(of["b"], ["g9"], "a group missing from the listing keeps its id");
        assert!(of["c"].is_empty());
        assert!(!of.contains_key("zz"), "a member that is no account is not invented");
    }

    #[test]
    fn permission_set_entitlements_by_type_or_prefix() {
        assert!(is_permission_set(Some("Permission Set"), "x"));
        assert!(is_permission_set(Some("PermissionSet"), "x"));
        assert!(is_permission_set(None, "0PS5g0000000001AAA"));
        assert!(!is_permission_set(Some("Profile"), "00e5g0000000001AAA"));
        assert_eq!(id_key("0PS5g0000000001AAA"), id_key("0PS5g0000000001"));
    }
}
