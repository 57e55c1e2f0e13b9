//! The run's metadata: who, what and when, for every output's header and for the run id.
//!
//! Takes the snapshot's manifest, the rules and the inputs, and hands on [`RunMeta`] with its run
//! id computed (the caller seals it again once a previous review is known).

use super::Inputs;
use crate::model::{ExclusionsUsed, RosterUsed, RulesUsed, RunMeta, SourceFile};
use crate::snapshot::Loaded;

pub fn run_meta(snapshot: &Loaded, inputs: &Inputs<'_>) -> RunMeta {
    let rules = inputs.rules;
    let manifest = &snapshot.verified.manifest;
    let file_name = |p: &std::path::Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut meta = RunMeta {
        run_id: String::new(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        org_id: manifest.org.id.clone(),
        org_name: manifest.org.name.clone(),
        instance_url: manifest.org.instance_url.clone(),
        is_sandbox: manifest.org.is_sandbox,
        api_version: manifest.api_version.clone(),
        pulled_at: manifest.pulled_at.clone(),
        as_of: inputs.as_of,
        rules: RulesUsed {
            inactive_days: rules.inactive_days,
            grace_days: rules.grace_days,
            user_types: rules.user_types.clone(),
            namespaces: rules.namespaces.clone(),
            name_patterns: rules.name_patterns.iter().map(|r| r.as_str().to_string()).collect(),
            roster: inputs.roster.map(|r| RosterUsed {
                file: file_name(&r.path),
                sha256: r.sha256.clone(),
                entries: r.entries.len() as u64,
            }),
            exclusions: inputs.exclusions.map(|e| ExclusionsUsed {
                file: file_name(&e.path),
                sha256: e.sha256.clone(),
                entries: e.entries.len() as u64,
            }),
            excluded_classes: rules.excluded_classes.clone(),
            seat_costs: rules.seat_costs.costs.clone(),
        },
        manifest_sha256: snapshot.verified.manifest_sha256.clone(),
        sources: manifest
            .objects
            .iter()
            .map(|o| SourceFile {
                object: o.object.clone(),
                file: o.file.clone(),
                soql: o.soql.clone(),
                rows: o.rows,
                sha256: o.sha256.clone(),
            })
            .chain(manifest.apps.iter().flat_map(|a| {
                a.resources.iter().map(|r| SourceFile {
                    object: format!("{} {}", a.name, r.resource),
                    file: r.file.clone(),
                    soql: format!("SCIM GET {}/{}", a.base_url, r.resource),
                    rows: r.rows,
                    sha256: r.sha256.clone(),
                })
            }))
            .collect(),
        previous: None,
        split_by_manager: false,
    };
    meta.run_id = meta.compute_run_id();
    meta
}
