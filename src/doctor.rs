//! `access-audit doctor`: the login behind the data, checked before a run needs it.
//!
//! Takes a logged-in [`Client`] and the run's settings (the quota floor, the API choice, the
//! pushdown), and hands on one [`Check`] per thing a run needs from the org: the daily API
//! requests left (`/limits`), every object a pull would read, tried on one row with its real
//! query ([`snapshot::probe`], decided from the org's list of objects exactly as the pull
//! decides), and Bulk API 2.0 access ([`Client::bulk_access`], which creates no job). A failed
//! check says what to grant; a Certinia package the org does not have is information, not a
//! failure. Why a command of its own: a pull stops at the first refusal, after the quota check
//! and the counts, while the person who sets up the integration user wants every missing
//! permission at once, before the first scheduled run.
//!
//! Fails (instead of reporting a check) only when Salesforce or the network does, as a pull
//! would: the login, `/sobjects`, a transient error that outlasts the retries.

use serde::Serialize;

use crate::cli::ApiChoice;
use crate::config::{ApiFloor, PullSettings};
use crate::salesforce::{BULK_MIN_VERSION, Client, Limit, SalesforceError};
use crate::snapshot::{self, Probe, SnapshotError};

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// The integration user (or the org) lacks it: the detail says what to grant.
    Missing,
    /// Not a failure: something not checked, or a package the org does not have.
    Info,
}

/// One line of the doctor's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub status: Status,
    /// What was checked: `login`, `API requests`, `read User`, `Bulk API 2.0`, ...
    pub check: String,
    /// What to grant (missing), what was found (ok), or the note (info).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Check {
    fn new(status: Status, check: impl Into<String>, detail: Option<String>) -> Check {
        Check { status, check: check.into(), detail }
    }

    /// `ok  <check>`, `missing  <check>: <what to grant>`, `info  <check>: <note>`.
    pub fn line(&self) -> String {
        let status = match self.status {
            Status::Ok => "ok",
            Status::Missing => "missing",
            Status::Info => "info",
        };
        match &self.detail {
            Some(detail) => format!("{status}  {}: {detail}", self.check),
            None => format!("{status}  {}", self.check),
        }
    }
}

/// Every check, in the order they ran.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
    /// `DailyApiRequests` as `/limits` gave it, when it did.
    pub api_requests: Option<Limit>,
}

impl Report {
    /// The checks that failed.
    pub fn missing(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == Status::Missing)
    }
}

/// What of the run's settings the checks follow.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// `--min-api-remaining`: what a run must leave the org.
    pub floor: ApiFloor,
    pub pull: PullSettings,
}

/// Runs every check against the org `client` is logged in to.
pub async fn doctor(client: &Client, settings: Settings) -> Result<Report, SnapshotError> {
    let instance = client.instance_url().await;
    let mut checks = vec![Check::new(Status::Ok, "login", Some(instance.as_str().trim_end_matches('/').to_string()))];
    let (quota, api_requests) = quota(client, settings.floor).await?;
    checks.push(quota);
    let probes = snapshot::probe(client, settings.pull.pushdown).await?;
    checks.extend(probes.objects.iter().map(object));
    checks.extend(probes.notes.iter().map(|note| {
        let (package, rest) = note.split_once(": ").unwrap_or((note, ""));
        Check::new(Status::Info, package, Some(rest.to_string()).filter(|r| !r.is_empty()))
    }));
    checks.push(bulk(client, settings.pull.api).await?);
    Ok(Report { checks, api_requests })
}

/// The daily API requests left, against what a run must leave.
async fn quota(client: &Client, floor: ApiFloor) -> Result<(Check, Option<Limit>), SalesforceError> {
    const CHECK: &str = "API requests";
    let limits = match client.limits().await {
        Ok(limits) => limits,
        Err(SalesforceError::Api { status: 404, .. }) => {
            let detail = "this org offers no /limits resource: the quota cannot be read".to_string();
            return Ok((Check::new(Status::Info, CHECK, Some(detail)), None));
        }
        Err(e) => return Err(e),
    };
    let Some(daily) = limits.get("DailyApiRequests").cloned().and_then(|v| serde_json::from_value::<Limit>(v).ok())
    else {
        let detail = "/limits has no DailyApiRequests: the quota cannot be read".to_string();
        return Ok((Check::new(Status::Info, CHECK, Some(detail)), None));
    };
    let (max, remaining) = (daily.max.max(0) as u64, daily.remaining.max(0) as u64);
    let left = format!("{remaining} of {max} left today");
    let must_leave = floor.requests(max);
    let check = if !floor.is_off() && remaining < must_leave {
        Check::new(
            Status::Missing,
            CHECK,
            Some(format!(
                "{left}, and a run must leave {must_leave} (--min-api-remaining {floor}): run later, or lower --min-api-remaining"
            )),
        )
    } else {
        Check::new(Status::Ok, CHECK, Some(left))
    };
    Ok((check, Some(daily)))
}

/// One object's line: ok, or what to grant.
fn object(probe: &Probe) -> Check {
    let check = |name: &str| format!("read {name}");
    let Err(e) = &probe.result else {
        return Check::new(Status::Ok, check(probe.spec.name), None);
    };
    if probe.goes_on {
        let detail = format!("{e}; a run goes on without it");
        return Check::new(Status::Info, check(probe.spec.name), Some(detail));
    }
    match e {
        SnapshotError::NoAccess { object, why, permission } => {
            Check::new(Status::Missing, check(object), Some(format!("grant the integration user {permission} ({why})")))
        }
        SnapshotError::MissingField { object, field, message, advice, .. } => Check::new(
            Status::Missing,
            check(&format!("{object}.{field}")),
            Some(format!("{advice} (Salesforce: {message})")),
        ),
        SnapshotError::MissingObject { object, message, advice, .. } => {
            Check::new(Status::Missing, check(object), Some(format!("{advice} (Salesforce: {message})")))
        }
        other => Check::new(Status::Missing, check(probe.spec.name), Some(other.to_string())),
    }
}

/// Whether the integration user may use the Bulk API 2.0, when a run would.
async fn bulk(client: &Client, api: ApiChoice) -> Result<Check, SalesforceError> {
    const CHECK: &str = "Bulk API 2.0";
    if api == ApiChoice::Rest {
        return Ok(Check::new(Status::Info, CHECK, Some("not checked: --api rest pulls without it".into())));
    }
    let version = client.api_version().as_str();
    let major: u32 = version.split('.').next().and_then(|v| v.parse().ok()).unwrap_or(0);
    if major < BULK_MIN_VERSION {
        let detail = format!("not checked: API v{version} is before v{BULK_MIN_VERSION}.0, so a run pulls with REST");
        return Ok(Check::new(Status::Info, CHECK, Some(detail)));
    }
    match client.bulk_access().await {
        Ok(()) => Ok(Check::new(Status::Ok, CHECK, None)),
        Err(SalesforceError::BulkNotAllowed { status, failure, .. }) => Ok(Check::new(
            Status::Missing,
            CHECK,
            Some(format!(
                "give the integration user the API Enabled permission and Bulk API access, or pull with --api rest \
                 (HTTP {status} {}: {})",
                failure.code, failure.message
            )),
        )),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_check() {
        assert_eq!(Check::new(Status::Ok, "read User", None).line(), "ok  read User");
        assert_eq!(
            Check::new(Status::Missing, "Bulk API 2.0", Some("grant it".into())).line(),
            "missing  Bulk API 2.0: grant it"
        );
        assert_eq!(
            Check::new(Status::Info, "PSA not installed", Some("not audited".into())).line(),
            "info  PSA not installed: not audited"
        );
    }
}
