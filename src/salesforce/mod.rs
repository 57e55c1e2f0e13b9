//! Salesforce's APIs: one module per client, sharing errors, limits and body decoding.
//!
//! Takes a [`crate::config::SalesforceConfig`] and a `reqwest::Client` from `http`, and hands
//! on records to the snapshot stage. `rest` is the REST client (paged SOQL, counts, `/limits`,
//! and the one place every request is sent from: sessions, retries, body caps); `bulk` the
//! Bulk API 2.0 query client, which sends through `rest`'s [`Client`]; `error` the failures each
//! client reports, by kind; `limits` the org's API quota as Salesforce reports it; `body` the
//! decoding of an answer into JSON, repairing invalid Unicode; `tally` what one object's pull
//! has cost and received so far.
//!
//! This file only names the parts; each part imports its siblings directly.

mod body;
mod bulk;
mod error;
mod limits;
mod rest;
mod tally;

pub use body::json_kind;
pub use bulk::{BULK_MIN_VERSION, BulkStats, CsvSink};
pub use error::{ApiFailure, SalesforceError, Transient};
pub use limits::{ApiUsage, Limit};
pub use rest::{Checkpoints, Client, QueryStats, RecordSink, ReplacedText, login_with_retry};
pub use tally::Tally;
