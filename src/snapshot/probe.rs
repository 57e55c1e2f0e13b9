//! The pull's reads, each tried on one row: what `access-audit doctor` checks.
//!
//! Takes a logged-in [`Client`] and hands on, for every object a pull would read, whether the
//! integration user can read it, decided exactly as the pull decides: the org's own list of
//! objects first (`GET /sobjects`, [`super::pull::survey`]: which packages are installed, which
//! objects the user cannot see), then each object's own query (its real field list and
//! condition, see [`base_soql`]) with `LIMIT 1`, its refusal explained as the pull explains it
//! (the object, the field, the permission to grant). Nothing is written.

use super::pull::{base_soql, not_offered, survey};
use super::{OBJECTS, ObjectSpec, SnapshotError, Source, explain};
use crate::salesforce::{Client, Tally};

/// One object a pull would read, and whether the integration user can.
#[derive(Debug)]
pub struct Probe {
    pub spec: &'static ObjectSpec,
    /// `Err`: why it cannot, naming what to grant ([`SnapshotError::NoAccess`],
    /// [`SnapshotError::MissingField`], [`SnapshotError::MissingObject`]), or why the org does
    /// not offer an object a pull goes on without (see `goes_on`).
    pub result: Result<(), SnapshotError>,
    /// It cannot be read, and a pull goes on without it: an object only the report header
    /// uses ([`Source::IfOffered`]) that the org does not offer.
    pub goes_on: bool,
}

/// Every object a pull would read, in the snapshot's order, and the notes of the packages the
/// org does not have (they are not read).
#[derive(Debug)]
pub struct Probes {
    pub objects: Vec<Probe>,
    pub notes: Vec<String>,
}

/// Tries every read of a pull (`pushdown`: with the pull's filters) on one row each. Fails only
/// when Salesforce or the network does (as a pull would); an object the integration user
/// cannot read is a [`Probe`] saying so.
pub async fn probe(client: &Client, pushdown: bool) -> Result<Probes, SnapshotError> {
    let mut offered = survey(client).await?;
    let mut objects = Vec::new();
    for spec in OBJECTS.iter().filter(|spec| !offered.absent.contains(spec.name)) {
        let result = match offered.denied.iter().position(|(denied, _)| denied.name == spec.name) {
            Some(i) => Err(offered.denied.swap_remove(i).1),
            None => read_one(client, spec, pushdown).await,
        };
        let goes_on = matches!(&result, Err(e) if spec.source == Source::IfOffered && not_offered(e));
        match result {
            Err(
                SnapshotError::NoAccess { .. }
                | SnapshotError::MissingField { .. }
                | SnapshotError::MissingObject { .. },
            )
            | Ok(()) => {}
            Err(_) if goes_on => {}
            Err(e) => return Err(e),
        }
        objects.push(Probe { spec, result, goes_on });
    }
    Ok(Probes { objects, notes: offered.notes })
}

/// The object's query, as the pull sends it, for one row.
async fn read_one(client: &Client, spec: &'static ObjectSpec, pushdown: bool) -> Result<(), SnapshotError> {
    let soql = format!("{} LIMIT 1", base_soql(spec, pushdown));
    client
        .first_id(spec.name, &soql, &Tally::default())
        .await
        .map(|_| ())
        .map_err(|e| explain(e.into(), spec, client.api_version().as_str()))
}
