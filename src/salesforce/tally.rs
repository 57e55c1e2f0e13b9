//! What one object's pull has cost and received so far, counted as it happens.
//!
//! The pull gives each object a [`Tally`]; every request the client sends on the object's behalf
//! (a query page, a count, a Bulk job's create, poll, result chunk or delete) and every row it
//! hands on is counted in it. The progress bars read it while the pull runs; the manifest
//! records the requests per object when it is done. Plain atomics: many requests of one object
//! run at once.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Tally {
    requests: AtomicU64,
    rows: AtomicU64,
    announced: AtomicU64,
}

impl Tally {
    pub fn new() -> Tally {
        Tally::default()
    }

    /// Requests sent for this object so far (retries included).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Rows received so far. A page that is read again after a fault, or a query that starts
    /// over, counts its rows again: this is progress, not the snapshot's row count.
    pub fn rows(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }

    /// Rows Salesforce announced (each query's `totalSize`, each Bulk job's
    /// `numberRecordsProcessed`), added up.
    pub fn announced(&self) -> u64 {
        self.announced.load(Ordering::Relaxed)
    }

    pub(crate) fn announce(&self, n: u64) {
        self.announced.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_rows(&self, n: u64) {
        self.rows.fetch_add(n, Ordering::Relaxed);
    }
}
