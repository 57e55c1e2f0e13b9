//! Deterministic fault injection: what a client of a real org may meet, on
//! demand and reproducibly, for access-audit's fault-matrix tests.
//!
//! A [`Faults`] value (in [`crate::SimConfig::faults`], changeable at run time
//! through [`crate::SimState::faults`] or [`crate::Sim::set_faults`]) combines:
//!
//! - **latency** before every `/services/data` answer and **token latency**
//!   before every token endpoint answer;
//! - **rules** ([`FaultRule`]): inject one [`Injected`] fault on some
//!   matching requests: "let `after` matching requests through, then inject
//!   on the next `times`". A request matches a rule when it is an authorised
//!   `GET` of `/query`, `/query/<locator>` or `/limits`, of the rule's object
//!   (if any: the object of the SOQL for a first page, of the cursor for a
//!   follow-up page; `/limits` belongs to no object), and a follow-up page if
//!   the rule says `follow_ups_only`. Every rule counts every request that
//!   matches it, whether or not it (or another rule) injects; when several
//!   rules would inject on the same request, the first in the list wins;
//! - **token expiry** after N data requests per token
//!   ([`Faults::expire_tokens_after`]);
//! - **data faults** that change the answers without failing them: a wrong
//!   `totalSize`, a malformed record, bad text in one record
//!   ([`Faults::bad_text`]: a lone surrogate escape or a byte that is not UTF-8,
//!   or a raw control character that makes the page invalid JSON; no
//!   `serde_json::Value` can hold them, so they are written into the serialised
//!   page), short pages.
//!
//! The order in which a `/services/data` request is handled is: latency;
//! unknown path or method (404/405, no faults); bearer token (401
//! `INVALID_SESSION_ID`, also once a token has expired; such requests match
//! no rule and do not count as API usage); the org's API limit (403
//! `REQUEST_LIMIT_EXCEEDED` once `api_used >= api_max`; no usage is added
//! and no rule counts the request); the fault rules; the real answer.
//!
//! Every request answered by an injected fault counts as API usage (it reached
//! Salesforce), `DropConnection` and `TruncatedBody` included, and is counted in
//! [`crate::StatsSnapshot::injected_faults`] (and by kind), never in
//! `query_pages`, `query_errors` or `limits_requests`. `DropConnection` and
//! `TruncatedBody` are made from the real answer, so their side effects happen
//! (a first page opens its cursor, whose locator the client never sees).
//!
//! # Command line (`sf-sim --fault SPEC`, repeatable)
//!
//! `SPEC` = `KIND[:OBJECT][:followups|:bulk-create|:bulk-poll|:bulk-results|:bulk-delete][@AFTER][xTIMES]`, parsed by
//! [`FaultRule::from_str`](std::str::FromStr):
//!
//! | KIND | [`Injected`] | answer |
//! |---|---|---|
//! | `503` | `Unavailable` | 503, `[{"errorCode":"SERVER_UNAVAILABLE",...}]` |
//! | `503html` | `MaintenanceHtml` | 503, HTML maintenance page |
//! | `500` | `InternalError` | 500, `UNKNOWN_EXCEPTION` |
//! | `drop` | `DropConnection` | headers and part of the body, then the connection is cut |
//! | `cut` | `TruncatedBody` | complete 200 whose JSON stops half way |
//! | `limit` | `RequestLimitExceeded` | 403, `REQUEST_LIMIT_EXCEEDED` |
//! | `locator` | `InvalidQueryLocator` | 400, `INVALID_QUERY_LOCATOR`, cursor dropped |
//! | `endless` | `EndlessBody` | 200 JSON that never ends (chunked, until the client hangs up) |
//! | `portal` | `CaptivePortal` | 200, a captive portal's HTML sign-in page (text/html) |
//! | `302` | `Redirect` | 302 to `https://login.salesforce.com/?ec=302&startURL=…` |
//! | `silent` | `Silent` | the request is read and never answered |
//!
//! `OBJECT` is a queryable object (`User`, `PermissionSetAssignment`, ...),
//! `followups` restricts the rule to `nextRecordsUrl` pages, `AFTER` (default
//! 0) is how many matching requests pass first, `TIMES` (default: forever)
//! how many are then failed. Examples: `503@2x3` (requests 3 to 5 get 503),
//! `locator:User:followups@0x1` (the first User follow-up page fails and
//! its cursor is gone), `drop:PermissionSetAssignment` (every assignment page
//! is cut off).

use std::str::FromStr;
use std::time::Duration;

use serde_json::Value;

use crate::org;

/// The faults a simulator injects (none by default).
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Added before answering every /services/data request.
    pub latency: Duration,
    /// Added before answering every token request (a slow token endpoint).
    pub token_latency: Duration,
    pub rules: Vec<FaultRule>,
    /// Every issued or pre-issued access token stops working after it has
    /// been used for this many /services/data requests (then 401
    /// INVALID_SESSION_ID, as an expired session). A new login gives a fresh
    /// token. Uses are counted per token from the simulator's start (or from
    /// [`crate::SimState::forget_token_uses`]), also while this is `None`.
    pub expire_tokens_after: Option<u64>,
    /// (object, delta): the first page's and every page's `totalSize` for
    /// queries of `object` is off by delta from the rows actually delivered
    /// (rows delivered are unchanged), and so is a Bulk job's
    /// `numberRecordsProcessed`. Never below 0.
    pub total_size_delta: Option<(String, i64)>,
    /// Replace field `field` (top-level name) of the record at index `index`
    /// (file order) of `object` by `value` in query answers (a malformed
    /// record: e.g. IsActive = "yes", LastLoginDate = "yesterday"). Only
    /// when the query selects that field.
    pub malformed: Option<Malformed>,
    /// Pages sometimes hold fewer rows than the batch size (deterministic:
    /// every odd page holds half), as Salesforce may. Fixed per query when
    /// it starts.
    pub short_pages: bool,
    /// Put bad text at the start of one text field of one record in query
    /// answers (see [`BadTextKind`]).
    pub bad_text: Option<BadText>,
    /// How long a Bulk query job takes from its creation to `JobComplete`
    /// (polls before then see `InProgress`).
    pub bulk_processing: Duration,
    /// The next N Bulk query jobs created end `Failed` (with an `errorMessage`).
    pub bulk_failed_jobs: u64,
    /// The next N Bulk query jobs created end `Aborted`.
    pub bulk_aborted_jobs: u64,
    /// At most this many rows per Bulk results chunk, whatever `maxRecords`
    /// asks (Salesforce may send fewer); 0: as many as asked.
    pub bulk_chunk_rows: usize,
    /// (object, delta): `SELECT COUNT()` of `object` answers off by delta.
    pub count_delta: Option<(String, i64)>,
}

impl Faults {
    /// No faults at all.
    pub fn none() -> Faults {
        Faults::default()
    }

    /// Whether nothing is injected.
    pub fn is_empty(&self) -> bool {
        self.latency.is_zero()
            && self.token_latency.is_zero()
            && self.rules.is_empty()
            && self.expire_tokens_after.is_none()
            && self.total_size_delta.is_none()
            && self.malformed.is_none()
            && !self.short_pages
            && self.bad_text.is_none()
            && self.bulk_processing.is_zero()
            && self.bulk_failed_jobs == 0
            && self.bulk_aborted_jobs == 0
            && self.bulk_chunk_rows == 0
            && self.count_delta.is_none()
    }
}

/// A malformed value in one record's query answers.
#[derive(Debug, Clone)]
pub struct Malformed {
    pub object: String,
    pub index: usize,
    pub field: String,
    pub value: Value,
}

/// Text that is not valid Unicode in one record's field, written into the
/// serialised answer in front of the field's text.
#[derive(Debug, Clone)]
pub struct BadText {
    pub object: String,
    /// Record number (0-based, file order).
    pub index: usize,
    /// A top-level text field (null is taken as empty text).
    pub field: String,
    pub kind: BadTextKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadTextKind {
    /// The JSON escape `\ud800`: a UTF-16 high surrogate without its low half
    /// (valid JSON syntax, not a Unicode character).
    LoneSurrogate,
    /// The byte 0xFF, which never occurs in UTF-8.
    InvalidUtf8,
    /// A raw control character (0x01) inside the string: not valid JSON at all
    /// (JSON strings must escape it), as a broken proxy or encoder might send.
    RawControl,
}

impl BadTextKind {
    /// The bytes written into the answer.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            BadTextKind::LoneSurrogate => br"\ud800",
            BadTextKind::InvalidUtf8 => b"\xff",
            BadTextKind::RawControl => b"\x01",
        }
    }
}

/// Inject `fault` on some of the requests matching `object` /
/// `follow_ups_only`: the first `after` pass, the next `times` fail.
#[derive(Debug, Clone)]
pub struct FaultRule {
    pub fault: Injected,
    /// Only requests that belong to this object's query (first page or
    /// follow-up page), compared case-insensitively. None: any
    /// /services/data request (query, follow-up, limits).
    pub object: Option<String>,
    /// Only follow-up pages (`/query/<locator>`).
    pub follow_ups_only: bool,
    /// Only requests of this Bulk API step.
    pub endpoint: Option<Endpoint>,
    /// Let the first `after` matching requests through, then inject on the
    /// next `times` matching requests (u64::MAX = forever).
    pub after: u64,
    pub times: u64,
}

impl FaultRule {
    /// `fault` on every data request, forever.
    pub fn always(fault: Injected) -> FaultRule {
        FaultRule { fault, object: None, follow_ups_only: false, endpoint: None, after: 0, times: u64::MAX }
    }

    /// Only requests of this Bulk API step.
    pub fn on(mut self, endpoint: Endpoint) -> FaultRule {
        self.endpoint = Some(endpoint);
        self
    }

    /// Only requests of `object`'s queries.
    pub fn object(mut self, object: &str) -> FaultRule {
        self.object = Some(object.to_string());
        self
    }

    /// Only follow-up pages.
    pub fn follow_ups(mut self) -> FaultRule {
        self.follow_ups_only = true;
        self
    }

    /// Let `after` matching requests through, then fail `times`.
    pub fn window(mut self, after: u64, times: u64) -> FaultRule {
        self.after = after;
        self.times = times;
        self
    }

    /// Whether the `n`-th matching request (0-based) gets the fault.
    pub(crate) fn fires_at(&self, n: u64) -> bool {
        n >= self.after && n - self.after < self.times
    }

    /// Whether a request (of `object`, if known; a follow-up page or not; of
    /// a Bulk API step or not) matches.
    pub(crate) fn matches(&self, object: Option<&str>, follow_up: bool, endpoint: Option<Endpoint>) -> bool {
        if self.follow_ups_only && !follow_up {
            return false;
        }
        if self.endpoint.is_some() && self.endpoint != endpoint {
            return false;
        }
        match (&self.object, object) {
            (None, _) => true,
            (Some(want), Some(have)) => want.eq_ignore_ascii_case(have),
            (Some(_), None) => false,
        }
    }
}

/// A step of a Bulk API 2.0 query job, for fault rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /jobs/query`
    BulkCreate,
    /// `GET /jobs/query/<id>`
    BulkPoll,
    /// `GET /jobs/query/<id>/results`
    BulkResults,
    /// `DELETE /jobs/query/<id>`
    BulkDelete,
}

impl Endpoint {
    pub const ALL: [Endpoint; 4] =
        [Endpoint::BulkCreate, Endpoint::BulkPoll, Endpoint::BulkResults, Endpoint::BulkDelete];

    /// The name in a `--fault` spec.
    pub fn cli_name(self) -> &'static str {
        match self {
            Endpoint::BulkCreate => "bulk-create",
            Endpoint::BulkPoll => "bulk-poll",
            Endpoint::BulkResults => "bulk-results",
            Endpoint::BulkDelete => "bulk-delete",
        }
    }
}

/// What an injected fault does to the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    /// 503 with a JSON error array [{"message":"...","errorCode":"SERVER_UNAVAILABLE"}]
    Unavailable,
    /// 503 with Salesforce's HTML maintenance page (Content-Type text/html)
    MaintenanceHtml,
    /// 500 [{"errorCode":"UNKNOWN_EXCEPTION","message":"An unexpected error occurred..."}]
    InternalError,
    /// The connection is dropped after the headers and part of the body (the
    /// client sees a transport error mid-body).
    DropConnection,
    /// A complete HTTP 200 response whose JSON body is cut in the middle
    /// (Content-Length matches the cut body).
    TruncatedBody,
    /// 403 [{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]
    RequestLimitExceeded,
    /// 400 [{"errorCode":"INVALID_QUERY_LOCATOR","message":"invalid query
    /// locator"}] AND the cursor is dropped (as when it expired), so the same
    /// locator keeps failing; the client must restart the query. On a first
    /// page or `/limits` there is no cursor to drop: only the error is sent.
    InvalidQueryLocator,
    /// HTTP 200 `application/json` whose chunked body starts like a query
    /// page and never ends (a hostile or broken server): the stream goes on
    /// until the client hangs up.
    EndlessBody,
    /// HTTP 200 `text/html`: a captive portal's sign-in page in place of the
    /// API (hotel Wi-Fi, a proxy that wants a login).
    CaptivePortal,
    /// HTTP 302 with `Location: https://login.salesforce.com/?ec=302&startURL=…`,
    /// as Salesforce's front end answers a request for a host that is not the
    /// org's API (no `Sforce-Limit-Info`).
    Redirect,
    /// The request is read and never answered (the connection stays open
    /// until the client gives up).
    Silent,
}

impl Injected {
    pub const ALL: [Injected; 11] = [
        Injected::Unavailable,
        Injected::MaintenanceHtml,
        Injected::InternalError,
        Injected::DropConnection,
        Injected::TruncatedBody,
        Injected::RequestLimitExceeded,
        Injected::InvalidQueryLocator,
        Injected::EndlessBody,
        Injected::CaptivePortal,
        Injected::Redirect,
        Injected::Silent,
    ];

    /// The variant name, as used as key of
    /// [`crate::StatsSnapshot::injected_faults_by_kind`].
    pub fn name(self) -> &'static str {
        match self {
            Injected::Unavailable => "Unavailable",
            Injected::MaintenanceHtml => "MaintenanceHtml",
            Injected::InternalError => "InternalError",
            Injected::DropConnection => "DropConnection",
            Injected::TruncatedBody => "TruncatedBody",
            Injected::RequestLimitExceeded => "RequestLimitExceeded",
            Injected::InvalidQueryLocator => "InvalidQueryLocator",
            Injected::EndlessBody => "EndlessBody",
            Injected::CaptivePortal => "CaptivePortal",
            Injected::Redirect => "Redirect",
            Injected::Silent => "Silent",
        }
    }

    /// The `KIND` of a `--fault` spec.
    pub fn cli_name(self) -> &'static str {
        match self {
            Injected::Unavailable => "503",
            Injected::MaintenanceHtml => "503html",
            Injected::InternalError => "500",
            Injected::DropConnection => "drop",
            Injected::TruncatedBody => "cut",
            Injected::RequestLimitExceeded => "limit",
            Injected::InvalidQueryLocator => "locator",
            Injected::EndlessBody => "endless",
            Injected::CaptivePortal => "portal",
            Injected::Redirect => "302",
            Injected::Silent => "silent",
        }
    }
}

impl FromStr for Injected {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Injected::ALL.into_iter().find(|k| k.cli_name().eq_ignore_ascii_case(s)).ok_or_else(|| {
            let kinds: Vec<&str> = Injected::ALL.iter().map(|k| k.cli_name()).collect();
            format!("unknown fault kind '{s}' (one of: {})", kinds.join(", "))
        })
    }
}

/// The canonical name of a queryable object, or an error listing them.
fn object_name(name: &str) -> Result<String, String> {
    match org::object_ci(name) {
        Some(def) if def.queryable => Ok(def.name.to_string()),
        _ => {
            let known: Vec<&str> = org::queryable_objects().collect();
            Err(format!("'{name}' is not an object the simulator serves (one of: {})", known.join(", ")))
        }
    }
}

fn number(text: &str, what: &str) -> Result<u64, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} must be a whole number, got '{text}'"));
    }
    text.parse().map_err(|_| format!("{what} is too large: '{text}'"))
}

/// Splits a trailing `x<digits>` off `text` (for `TIMES`).
fn split_times(text: &str) -> (&str, Option<&str>) {
    match text.rfind(['x', 'X']) {
        Some(i) if i + 1 < text.len() && text[i + 1..].bytes().all(|b| b.is_ascii_digit()) => {
            (&text[..i], Some(&text[i + 1..]))
        }
        _ => (text, None),
    }
}

impl FromStr for FaultRule {
    type Err = String;

    /// `KIND[:OBJECT][:followups][@AFTER][xTIMES]` (see the module documentation).
    fn from_str(spec: &str) -> Result<Self, String> {
        let context = |e: String| format!("--fault '{spec}': {e}");
        let (head, after, times) = match spec.rsplit_once('@') {
            Some((head, tail)) => {
                let (after, times) = split_times(tail);
                (head, Some(after), times)
            }
            None => {
                let (head, times) = split_times(spec);
                (head, None, times)
            }
        };
        let mut parts = head.split(':');
        let kind: Injected = parts.next().unwrap_or("").parse().map_err(context)?;
        let mut rule = FaultRule::always(kind);
        for part in parts {
            if let Some(endpoint) = Endpoint::ALL.into_iter().find(|e| e.cli_name().eq_ignore_ascii_case(part)) {
                if rule.endpoint.is_some() {
                    return Err(context(format!("'{part}': one Bulk step per rule")));
                }
                rule.endpoint = Some(endpoint);
            } else if part.eq_ignore_ascii_case("followups") || part.eq_ignore_ascii_case("followup") {
                if rule.follow_ups_only {
                    return Err(context("'followups' is given twice".into()));
                }
                rule.follow_ups_only = true;
            } else if rule.object.is_some() || rule.follow_ups_only || rule.endpoint.is_some() {
                return Err(context(format!(
                    "unexpected '{part}' (the form is KIND[:OBJECT][:followups][@AFTER][xTIMES])"
                )));
            } else {
                rule.object = Some(object_name(part).map_err(context)?);
            }
        }
        if let Some(after) = after {
            rule.after = number(after, "AFTER (after '@')").map_err(context)?;
        }
        if let Some(times) = times {
            rule.times = number(times, "TIMES (after 'x')").map_err(context)?;
        }
        Ok(rule)
    }
}

/// `OBJECT:DELTA` (`User:+3`, `User:-1`) for [`Faults::total_size_delta`].
pub fn parse_total_size_delta(spec: &str) -> Result<(String, i64), String> {
    let context = |e: String| format!("--total-size-delta '{spec}': {e}");
    let (object, delta) = spec.rsplit_once(':').ok_or_else(|| context("expected OBJECT:DELTA, e.g. User:+3".into()))?;
    let object = object_name(object).map_err(context)?;
    let delta: i64 = delta
        .strip_prefix('+')
        .unwrap_or(delta)
        .parse()
        .map_err(|_| context(format!("DELTA must be a whole number like +3 or -1, got '{delta}'")))?;
    Ok((object, delta))
}

/// `OBJECT:INDEX:FIELD=JSON` (`User:3:IsActive="yes"`) for [`Faults::malformed`].
pub fn parse_malformed(spec: &str) -> Result<Malformed, String> {
    let context = |e: String| format!("--malformed '{spec}': {e}");
    let form = || context("expected OBJECT:INDEX:FIELD=JSON, e.g. User:3:IsActive=\"yes\"".into());
    let (target, json) = spec.split_once('=').ok_or_else(form)?;
    let (object, index, field) = record_field(target).map_err(|e| e.map(context).unwrap_or_else(form))?;
    let value: Value = serde_json::from_str(json)
        .map_err(|e| context(format!("the value is not JSON ({e}); quote strings, e.g. FIELD='\"yes\"' in a shell")))?;
    Ok(Malformed { object, index, field, value })
}

/// `OBJECT:INDEX:FIELD` of the record faults: a queryable object, a record number and a
/// top-level field. `Err(None)`: not of that form at all.
fn record_field(target: &str) -> Result<(String, usize, String), Option<String>> {
    let mut parts = target.split(':');
    let (Some(object), Some(index), Some(field), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(None);
    };
    let object = object_name(object)?;
    let index = usize::try_from(number(index, "INDEX")?).map_err(|_| "INDEX is too large".to_string())?;
    if field.is_empty() || field.contains('.') {
        return Err(Some(format!("FIELD must be a top-level field name, got '{field}'")));
    }
    Ok((object, index, field.to_string()))
}

/// `OBJECT:INDEX:FIELD=surrogate|utf8|control` (`User:3:Name=surrogate`) for [`Faults::bad_text`].
pub fn parse_bad_text(spec: &str) -> Result<BadText, String> {
    let context = |e: String| format!("--bad-text '{spec}': {e}");
    let form = || context("expected OBJECT:INDEX:FIELD=surrogate|utf8|control, e.g. User:3:Name=surrogate".into());
    let (target, kind) = spec.split_once('=').ok_or_else(form)?;
    let kind = match kind {
        "surrogate" => BadTextKind::LoneSurrogate,
        "utf8" => BadTextKind::InvalidUtf8,
        "control" => BadTextKind::RawControl,
        _ => return Err(form()),
    };
    let (object, index, field) = record_field(target).map_err(|e| e.map(context).unwrap_or_else(form))?;
    Ok(BadText { object, index, field, kind })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(spec: &str) -> FaultRule {
        spec.parse().unwrap_or_else(|e| panic!("{spec}: {e}"))
    }

    #[test]
    fn parses_fault_specs() {
        let r = rule("503@2x3");
        assert_eq!(r.fault, Injected::Unavailable);
        assert_eq!((r.object.as_deref(), r.follow_ups_only), (None, false));
        assert_eq!((r.after, r.times), (2, 3));

        let r = rule("locator:User:followups@0x1");
        assert_eq!(r.fault, Injected::InvalidQueryLocator);
        assert_eq!(r.object.as_deref(), Some("User"));
        assert!(r.follow_ups_only);
        assert_eq!((r.after, r.times), (0, 1));

        let r = rule("drop:permissionsetassignment");
        assert_eq!(r.fault, Injected::DropConnection);
        assert_eq!(r.object.as_deref(), Some("PermissionSetAssignment"));
        assert_eq!((r.after, r.times), (0, u64::MAX));

        let r = rule("cut:followups");
        assert_eq!(r.fault, Injected::TruncatedBody);
        assert!(r.follow_ups_only && r.object.is_none());

        let r = rule("500x2");
        assert_eq!((r.fault, r.after, r.times), (Injected::InternalError, 0, 2));
        let r = rule("limit@5");
        assert_eq!((r.after, r.times), (5, u64::MAX));
        assert_eq!(rule("503html:UserLogin").fault, Injected::MaintenanceHtml);
        assert_eq!(rule("302:User").fault, Injected::Redirect);
        assert_eq!((rule("302x1").fault, rule("302x1").times), (Injected::Redirect, 1));
        assert_eq!(rule("silent@2").fault, Injected::Silent);

        for kind in Injected::ALL {
            assert_eq!(rule(kind.cli_name()).fault, kind);
        }
        for bad in [
            "",
            "404",
            "503:Account",
            "503:User:Profile",
            "503:followups:User",
            "503@",
            "503@x2",
            "503@1x",
            "503@-1",
            "503:User:followups:followups",
        ] {
            assert!(bad.parse::<FaultRule>().is_err(), "{bad}");
        }
    }

    #[test]
    fn window_counting() {
        let r = rule("503@2x3");
        let fired: Vec<u64> = (0..10).filter(|&n| r.fires_at(n)).collect();
        assert_eq!(fired, [2, 3, 4]);
        let forever = rule("503@1");
        assert!(!forever.fires_at(0) && forever.fires_at(1) && forever.fires_at(u64::MAX));
        assert!(!rule("503x0").fires_at(0));
    }

    #[test]
    fn matching() {
        let r = rule("503:User:followups");
        assert!(r.matches(Some("User"), true, None));
        assert!(r.matches(Some("user"), true, None));
        assert!(!r.matches(Some("User"), false, None));
        assert!(!r.matches(Some("UserLogin"), true, None));
        assert!(!r.matches(None, true, None));
        assert!(rule("503").matches(None, false, None));
        assert!(rule("503").matches(None, false, Some(Endpoint::BulkPoll)));
        let r = rule("cut:PermissionSetAssignment:bulk-results@1x1");
        assert_eq!(r.endpoint, Some(Endpoint::BulkResults));
        assert!(r.matches(Some("PermissionSetAssignment"), false, Some(Endpoint::BulkResults)));
        assert!(!r.matches(Some("PermissionSetAssignment"), false, None));
        assert!(!r.matches(Some("PermissionSetAssignment"), false, Some(Endpoint::BulkPoll)));
    }

    #[test]
    fn parses_data_faults() {
        assert_eq!(parse_total_size_delta("User:+3").unwrap(), ("User".into(), 3));
        assert_eq!(parse_total_size_delta("userlogin:-1").unwrap(), ("UserLogin".into(), -1));
        assert!(parse_total_size_delta("User").is_err());
        assert!(parse_total_size_delta("Nope:1").is_err());
        assert!(parse_total_size_delta("User:x").is_err());

        let m = parse_malformed("User:3:IsActive=\"yes\"").unwrap();
        assert_eq!((m.object.as_str(), m.index), ("User", 3));
        assert_eq!((m.field.as_str(), &m.value), ("IsActive", &Value::from("yes")));
        let m = parse_malformed("PermissionSetAssignment:0:PermissionSet={\"Name\":1}").unwrap();
        assert_eq!(m.value["Name"], 1);
        let b = parse_bad_text("user:3:Name=surrogate").unwrap();
        assert_eq!(
            (b.object.as_str(), b.index, b.field.as_str(), b.kind),
            ("User", 3, "Name", BadTextKind::LoneSurrogate)
        );
        assert_eq!(parse_bad_text("User:0:Email=utf8").unwrap().kind, BadTextKind::InvalidUtf8);
        assert_eq!(parse_bad_text("User:0:Email=control").unwrap().kind, BadTextKind::RawControl);
        for bad in ["User:3:Name", "User:3:Name=other", "User:x:Name=utf8", "User:1:Profile.Name=utf8", "Nope:1:A=utf8"]
        {
            assert!(parse_bad_text(bad).is_err(), "{bad}");
        }
        for bad in [
            "User:3:IsActive=yes",
            "User:3=1",
            "User:x:IsActive=1",
            "Nope:1:A=1",
            "User:1:Profile.Name=1",
            "User:1:A:B=1",
        ] {
            assert!(parse_malformed(bad).is_err(), "{bad}");
        }
    }
}
