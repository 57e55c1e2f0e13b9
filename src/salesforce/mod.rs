//! Salesforce's APIs: one module per client, sharing errors, limits and body decoding.
//!
//! Takes a [`crate::config::SalesforceConfig`] and a `reqwest::Client` from `http`, and hands
//! on records to the snapshot stage. `rest` is the REST client (paged SOQL, `/limits`,
//! sessions and retries); `error` the failures each client reports, by kind; `limits` the
//! org's API quota as Salesforce reports it; `body` the decoding of a whole answer into JSON,
//! repairing invalid Unicode. A Bulk API client joins them as a sibling of `rest`.
//!
//! This file only names the parts; each part imports its siblings directly.

mod body;
mod error;
mod limits;
mod rest;

pub use body::json_kind;
pub use error::{ApiFailure, SalesforceError, Transient};
pub use limits::{ApiUsage, Limit};
pub use rest::{Client, QueryStats, RecordSink, ReplacedText, login_with_retry};
