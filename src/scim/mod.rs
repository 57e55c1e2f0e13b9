//! Other applications over SCIM 2.0 (RFC 7643/7644): Stensul, Salesforce's own SCIM endpoint,
//! any service provider.
//!
//! Takes the [`AppConfig`](crate::config::apps::AppConfig) of each application the run audits
//! and hands on its users and groups, every one of them, to the snapshot stage. `client` is the
//! protocol (a bearer token, `ServiceProviderConfig` first, complete paged listings, retries);
//! `resource` the shapes of what is read (the check every stored resource passes, and the few
//! attributes the reports use); `error` the failures, by kind.
//!
//! This file only names the parts; each part imports its siblings directly.

mod client;
mod error;
mod resource;

pub use client::{Client, Listed, SALESFORCE_SCIM_PATH, Shared};
pub use error::{ScimError, Transient};
pub use resource::{Account, Entitlement, Group, ResourceType, ServiceProviderConfig, validate};
