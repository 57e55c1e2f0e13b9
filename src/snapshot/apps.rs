//! The applications' part of a snapshot: `apps/NAME/Users.ndjson` and `apps/NAME/Groups.ndjson`.
//!
//! Takes the applications a run audits (their [`AppConfig`]s) and the SCIM client's shared
//! pieces, and hands on what the snapshot stage writes beside the org's objects: each
//! application's users and groups, one resource per line exactly as the service provider sent
//! it, lines sorted by `id`, ids unique; and a [`ManifestApp`] entry per application in the
//! manifest, with each file's rows, the `totalResults` announced, pages, requests and SHA-256.
//!
//! The same rules as the org's objects hold, checked by the same [`super::verify`]: every file a
//! regular file (and the `apps` folders real folders, never links), every line a valid resource
//! ending in a newline, ids unique and in order, rows equal to the manifest and to
//! `totalResults`, nothing in `apps/` the manifest does not list. Group members and user groups
//! that name no resource of the snapshot are reported, like the org's unresolved references.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{SnapshotError, agrees, scan};
use crate::config::apps::{self, AppConfig, Dialect};
use crate::deliver::{OutputError, io_err};
use crate::scim::{self, ResourceType, ScimError};

/// The folder of the applications inside a snapshot.
pub const APPS_DIR: &str = "apps";

/// One application in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManifestApp {
    /// `[apps.NAME]`: names the folder `apps/NAME/` and the reports.
    pub name: String,
    pub dialect: Dialect,
    /// The SCIM base the resources were read from.
    pub base_url: String,
    /// Resources asked for per page (`count`): the configured page size, lowered to the
    /// provider's `filter.maxResults`.
    pub count: u32,
    /// `filter.maxResults` from the provider's ServiceProviderConfig, when it stated one.
    pub max_results: Option<u64>,
    /// Requests sent to the service provider (for the Salesforce dialect they count against the
    /// org's daily API requests).
    pub requests: u64,
    pub resources: Vec<ManifestResource>,
}

/// One listing of an application: `Users` or `Groups`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManifestResource {
    pub resource: String,
    /// `apps/NAME/Users.ndjson`.
    pub file: String,
    pub rows: u64,
    /// What the provider announced (`totalResults`).
    pub total_results: u64,
    pub pages: u64,
    pub sha256: String,
}

/// `apps/NAME/Users.ndjson`: the only place a resource of `app` may be stored.
pub fn member_file(app: &str, resource: ResourceType) -> String {
    format!("{APPS_DIR}/{app}/{}", resource.file_name())
}

/// One listing as pulled: (id, NDJSON line), sorted when written.
struct PulledListing {
    resource: ResourceType,
    lines: Vec<(String, String)>,
    listed: scim::Listed,
}

/// One application as pulled, held until the snapshot is written.
pub(super) struct PulledApp {
    entry: ManifestApp,
    listings: Vec<PulledListing>,
}

/// The applications one pull reads (none: an empty slice), and what their clients share.
#[derive(Clone, Copy)]
pub struct AppPull<'a> {
    pub apps: &'a [AppConfig],
    pub shared: scim::Shared<'a>,
}

/// Pulls every application concurrently (each one's users and groups concurrently too).
pub(super) async fn pull(pull: AppPull<'_>) -> Result<Vec<PulledApp>, SnapshotError> {
    futures::future::try_join_all(pull.apps.iter().map(|app| pull_one(app, pull.shared))).await
}

async fn pull_one(app: &AppConfig, shared: scim::Shared<'_>) -> Result<PulledApp, SnapshotError> {
    let client = scim::Client::connect(app, shared).await?;
    let capabilities = client.capabilities().await?;
    let max_results = capabilities.as_ref().and_then(scim::ServiceProviderConfig::max_results);
    let count = match max_results {
        Some(max) if max < u64::from(app.page_size) => max as u32,
        _ => app.page_size,
    };
    let listing = |resource: ResourceType| {
        let client = &client;
        async move {
            let mut lines = Vec::new();
            let listed = client
                .list(resource, count, |record| {
                    let id = scim::validate(resource, &record).map_err(|detail| {
                        let id = record.get("id").and_then(Value::as_str).unwrap_or("(no id)");
                        ScimError::BadResponse {
                            app: app.name.clone(),
                            what: format!("GET {}", resource.endpoint()),
                            detail: format!("resource {id}: {detail}"),
                        }
                    })?;
                    lines.push((id, serde_json::to_string(&record).expect("a JSON map always serialises")));
                    Ok::<(), ScimError>(())
                })
                .await?;
            tracing::info!(
                "app {}: pulled {}: {} in {} page(s)",
                app.name,
                resource.endpoint(),
                listed.total_results,
                listed.pages
            );
            Ok::<PulledListing, ScimError>(PulledListing { resource, lines, listed })
        }
    };
    let (users, groups) =
        futures::future::try_join(listing(ResourceType::Users), listing(ResourceType::Groups)).await?;
    let entry = ManifestApp {
        name: app.name.clone(),
        dialect: app.dialect,
        base_url: client.base().await.as_str().trim_end_matches('/').to_string(),
        count,
        max_results,
        requests: client.requests(),
        resources: Vec::new(),
    };
    Ok(PulledApp { entry, listings: vec![users, groups] })
}

/// Writes each application's files into `dir/apps/NAME/` (folders created here, inside the
/// existing `dir`) and returns the manifest entries. Two resources with one id fail the pull.
pub(super) fn write(dir: &Path, pulled: Vec<PulledApp>) -> Result<Vec<ManifestApp>, SnapshotError> {
    if pulled.is_empty() {
        return Ok(Vec::new());
    }
    let root = dir.join(APPS_DIR);
    std::fs::create_dir(&root).map_err(io_err(&root))?;
    let mut entries = Vec::new();
    for PulledApp { mut entry, listings } in pulled {
        let folder = root.join(&entry.name);
        std::fs::create_dir(&folder).map_err(io_err(&folder))?;
        for mut listing in listings {
            let endpoint = listing.resource.endpoint();
            listing.lines.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            if let Some(w) = listing.lines.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(ScimError::Inconsistent {
                    app: entry.name.clone(),
                    resource: endpoint.to_string(),
                    detail: format!(
                        "resource {} arrived twice: index paging shifted (resources were created or deleted \
                         during the listing); run again",
                        w[0].0
                    ),
                }
                .into());
            }
            let file = member_file(&entry.name, listing.resource);
            let sha256 = write_lines(&dir.join(&file), listing.lines.iter().map(|(_, l)| l.as_str()))?;
            entry.resources.push(ManifestResource {
                resource: endpoint.to_string(),
                file,
                rows: listing.lines.len() as u64,
                total_results: listing.listed.total_results,
                pages: listing.listed.pages,
                sha256,
            });
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// What [`check`] found besides problems.
#[derive(Default)]
pub(super) struct Checked {
    pub rows: u64,
    /// Group members and user groups that name no resource of the snapshot, one line each.
    pub unresolved: Vec<String>,
}

/// Checks the applications' part of a snapshot in `dir`, adding every problem to `problems`.
pub(super) fn check(dir: &Path, listed: &[ManifestApp], problems: &mut Vec<String>) -> Checked {
    let mut checked = Checked::default();
    let root = dir.join(APPS_DIR);
    match std::fs::symlink_metadata(&root) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !listed.is_empty() {
                problems.push(format!("{APPS_DIR}/: missing, but the manifest lists applications"));
            }
            return checked;
        }
        Err(e) => {
            problems.push(format!("{APPS_DIR}/: cannot read it: {e}"));
            return checked;
        }
        Ok(m) if !m.is_dir() => {
            problems.push(format!("{APPS_DIR}: is not a folder (a link is never followed here)"));
            return checked;
        }
        Ok(_) => {}
    }
    if listed.is_empty() {
        problems.push(format!("{APPS_DIR}/: not part of the snapshot (the manifest lists no application)"));
        return checked;
    }
    let mut names = HashSet::new();
    for app in listed {
        if !apps::valid_name(&app.name) {
            problems.push(format!("{APPS_DIR}: application name {:?} is not a plain lower-case name", app.name));
            continue;
        }
        if !names.insert(app.name.as_str()) {
            problems.push(format!("{APPS_DIR}/{}: listed twice in the manifest", app.name));
            continue;
        }
        check_app(dir, app, problems, &mut checked);
    }
    // Nothing in apps/ or apps/NAME/ that the manifest does not list.
    for entry in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !names.contains(name.as_str()) {
            problems.push(format!("{APPS_DIR}/{name}: not part of the snapshot (not in the manifest)"));
        }
    }
    checked
}

fn check_app(dir: &Path, app: &ManifestApp, problems: &mut Vec<String>, checked: &mut Checked) {
    let folder = dir.join(APPS_DIR).join(&app.name);
    match std::fs::symlink_metadata(&folder) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            problems.push(format!("{APPS_DIR}/{}: is not a folder (a link is never followed here)", app.name));
            return;
        }
        Err(e) => {
            problems.push(format!("{APPS_DIR}/{}: cannot read it: {e}", app.name));
            return;
        }
    }
    let mut ids: BTreeMap<ResourceType, HashSet<String>> = BTreeMap::new();
    // (resource, id, what it names): resolved once both files are read.
    let mut references: Vec<(String, String, ResourceType)> = Vec::new();
    for resource in ResourceType::ALL {
        let entries: Vec<&ManifestResource> =
            app.resources.iter().filter(|r| r.resource == resource.endpoint()).collect();
        let Some(entry) = entries.first() else {
            problems.push(format!("{APPS_DIR}/{}: {} is missing from the manifest", app.name, resource.endpoint()));
            continue;
        };
        if entries.len() > 1 {
            problems.push(format!("{APPS_DIR}/{}: {} is listed twice in the manifest", app.name, resource.endpoint()));
            continue;
        }
        let expected_file = member_file(&app.name, resource);
        if entry.file != expected_file {
            problems.push(format!(
                "{APPS_DIR}/{}: {} is stored as {:?}, not {expected_file}",
                app.name,
                resource.endpoint(),
                entry.file
            ));
            continue;
        }
        let known = ids.entry(resource).or_default();
        let check = |record: &Map<String, Value>| scim::validate(resource, record);
        let scanned = scan(&dir.join(&entry.file), &entry.file, None, check, |id, good| {
            known.insert(id.to_string());
            // Without a fast check, every good line is read as a map.
            let Some(record) = good.record() else { return };
            let (field, target) = match resource {
                ResourceType::Users => ("groups", ResourceType::Groups),
                ResourceType::Groups => ("members", ResourceType::Users),
            };
            for item in record.get(field).and_then(Value::as_array).into_iter().flatten() {
                if let Some(to) = item.get("value").and_then(Value::as_str) {
                    let referrer = format!("app {} {} {id}: {field} {to}", app.name, resource.endpoint());
                    references.push((referrer, to.to_string(), target));
                }
            }
        });
        let total = (entry.total_results, "totalResults");
        let Some(scanned) = agrees(scanned, &entry.file, &entry.sha256, entry.rows, total, problems) else {
            continue;
        };
        checked.rows += scanned.lines;
    }
    for entry in app.resources.iter().filter(|r| ResourceType::from_endpoint(&r.resource).is_none()) {
        problems.push(format!("{APPS_DIR}/{}: {:?} is not a resource access-audit pulls", app.name, entry.resource));
    }
    let files: HashSet<String> = ResourceType::ALL.iter().map(|r| r.file_name()).collect();
    for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !files.contains(&name) {
            problems.push(format!("{APPS_DIR}/{}/{name}: not part of the snapshot (not in the manifest)", app.name));
        }
    }
    let empty = HashSet::new();
    for (referrer, to, target) in references {
        // A group's member may be a group (RFC 7643 §4.2): it resolves against either listing.
        let in_target = ids.get(&target).unwrap_or(&empty).contains(&to);
        let nested = target == ResourceType::Users && ids.get(&ResourceType::Groups).unwrap_or(&empty).contains(&to);
        if !in_target && !nested {
            checked.unresolved.push(format!("{referrer} is not in {}", member_file(&app.name, target)));
        }
    }
}

/// Writes one listing's lines (each followed by a newline) and returns their SHA-256 (hex).
fn write_lines<'a>(path: &Path, lines: impl Iterator<Item = &'a str>) -> Result<String, OutputError> {
    use sha2::Digest;
    use std::io::Write;
    let file = std::fs::File::create(path).map_err(io_err(path))?;
    let mut writer = std::io::BufWriter::new(file);
    let mut hasher = sha2::Sha256::new();
    for line in lines {
        writer.write_all(line.as_bytes()).map_err(io_err(path))?;
        writer.write_all(b"\n").map_err(io_err(path))?;
        hasher.update(line.as_bytes());
        hasher.update(b"\n");
    }
    writer.flush().map_err(io_err(path))?;
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pulled(users: &[&str]) -> PulledApp {
        let lines =
            users.iter().map(|id| (id.to_string(), format!("{{\"id\":\"{id}\",\"userName\":\"{id}\"}}"))).collect();
        let listed = scim::Listed { total_results: users.len() as u64, pages: 1 };
        PulledApp {
            entry: ManifestApp {
                name: "crm".into(),
                dialect: Dialect::Generic,
                base_url: "https://crm.example/scim/v2".into(),
                count: 100,
                max_results: None,
                requests: 3,
                resources: Vec::new(),
            },
            listings: vec![
                PulledListing { resource: ResourceType::Users, lines, listed },
                PulledListing {
                    resource: ResourceType::Groups,
                    lines: Vec::new(),
                    listed: scim::Listed { total_results: 0, pages: 1 },
                },
            ],
        }
    }

    #[test]
    fn resources_are_written_sorted_by_id_and_a_repeated_id_fails() {
        let dir = tempfile::tempdir().unwrap();
        let entries = write(dir.path(), vec![pulled(&["u2", "u10", "u1"])]).unwrap();
        let text = std::fs::read_to_string(dir.path().join("apps/crm/Users.ndjson")).unwrap();
        let ids: Vec<&str> = text.lines().map(|l| l.split('"').nth(3).unwrap()).collect();
        assert_eq!(ids, ["u1", "u10", "u2"], "byte order, as verify checks it");
        assert_eq!(entries[0].resources[0].file, "apps/crm/Users.ndjson");
        assert_eq!(entries[0].resources[1].rows, 0);

        let dir = tempfile::tempdir().unwrap();
        let e = write(dir.path(), vec![pulled(&["u1", "u2", "u1"])]).unwrap_err().to_string();
        assert!(e.starts_with("app crm: Users: the listing is inconsistent: resource u1 arrived twice"), "{e}");
        assert!(write(tempfile::tempdir().unwrap().path(), Vec::new()).unwrap().is_empty());
    }
}
