//! Bulk API 2.0 query jobs: create, poll, read the CSV results in chunks, delete.
//!
//! `POST /services/data/vNN.0/jobs/query` with `{"operation": "query", "query": "<SOQL>"}`
//! creates a job over a snapshot of the object's rows (the same SOQL subset as REST, but no
//! `COUNT()`); the job is `UploadComplete`, then `InProgress` until
//! [`crate::Faults::bulk_processing`] has passed, then `JobComplete` (or `Failed` / `Aborted`
//! for the jobs [`crate::Faults::bulk_failed_jobs`] and `bulk_aborted_jobs` pick).
//! `GET …/jobs/query/<id>/results?maxRecords=N&locator=L` answers `text/csv`: a header row of
//! the selected paths, then up to N rows, every value quoted, null as `""`, datetimes as
//! `…000Z`; `Sforce-NumberOfRecords` says how many rows, `Sforce-Locator` where the next chunk
//! starts (the literal `null` after the last; chunks may hold fewer rows than asked, see
//! [`crate::Faults::bulk_chunk_rows`]). Rows come in no particular order (a fixed
//! scramble of the query's order), as Salesforce's do. A locator can be read again. `DELETE`
//! removes the job (204). `GET …/jobs/query` lists the jobs (`{"done", "records",
//! "nextRecordsUrl"}`, all on one page). A user without the Bulk API
//! ([`crate::SimState::bulk_api`] false) gets 403 `API_DISABLED_FOR_ORG` when creating a job or
//! listing them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::http::{ApiError, insufficient_access, json_response, malformed};
use crate::org::Record;
use crate::{SimState, soql};

/// Bulk API 2.0 query jobs exist from this API version on.
pub const SINCE: u32 = 47;

/// Rows rendered per piece of a streamed results chunk.
const ROWS_PER_PIECE: usize = 2_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Complete,
    Failed,
    Aborted,
}

/// One query job.
#[derive(Debug)]
pub(crate) struct Job {
    id: String,
    version: u32,
    plan: Arc<soql::Plan>,
    rows: Arc<Vec<Record>>,
    /// Indexes into `rows`, in the order the results give them.
    order: Arc<Vec<u32>>,
    created: Instant,
    created_date: String,
    ready_at: Instant,
    end: End,
}

impl Job {
    pub(crate) fn object(&self) -> &'static str {
        self.plan.object.name
    }

    fn state(&self) -> &'static str {
        if Instant::now() < self.ready_at {
            return if self.created.elapsed() < Duration::from_millis(1) { "UploadComplete" } else { "InProgress" };
        }
        match self.end {
            End::Complete => "JobComplete",
            End::Failed => "Failed",
            End::Aborted => "Aborted",
        }
    }

    fn info(&self, delta: i64) -> Value {
        let state = self.state();
        let processed = i64::try_from(self.order.len()).unwrap_or(i64::MAX).saturating_add(delta).max(0);
        let mut info = json!({
            "id": self.id,
            "operation": "query",
            "object": self.object(),
            "createdById": "005SIM000000001AAA",
            "createdDate": self.created_date,
            "systemModstamp": self.created_date,
            "state": state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": f64::from(self.version),
            "jobType": "V2Query",
            "lineEnding": "LF",
            "columnDelimiter": "COMMA",
            "numberRecordsProcessed": if state == "JobComplete" { processed } else { 0 },
            "retries": 0,
            "totalProcessingTime": 0,
        });
        if state == "Failed" {
            info["errorMessage"] = json!("InternalServerError : sf-sim: the job failed (an injected fault)");
        }
        info
    }
}

fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(status, code, message)
}

fn unknown_job(id: &str) -> ApiError {
    error(StatusCode::NOT_FOUND, "NOT_FOUND", format!("The requested resource does not exist (no job {id})"))
}

/// The object of a create request's SOQL, for fault rules scoped to an object.
pub(crate) fn object_of_create(body: &[u8]) -> Option<&'static str> {
    let request: Value = serde_json::from_slice(body).ok()?;
    let query = soql::parse(request.get("query")?.as_str()?).ok()?;
    crate::org::object_ci(&query.object).filter(|d| d.queryable).map(|d| d.name)
}

/// A permutation of `0..n` that is no order at all, the same every time.
fn scramble(selection: Vec<u32>) -> Vec<u32> {
    let n = selection.len();
    if n < 3 {
        return selection;
    }
    let stride = [7_919usize, 7_907, 7_901, 7_883, 104_729].into_iter().find(|p| !n.is_multiple_of(*p)).unwrap_or(1);
    (0..n).map(|i| selection[(i * stride) % n]).collect()
}

/// 403 `API_DISABLED_FOR_ORG`: what a user without the Bulk API gets from every job resource.
fn disabled() -> ApiError {
    error(
        StatusCode::FORBIDDEN,
        "API_DISABLED_FOR_ORG",
        "Bulk API is not enabled for this user: the profile or a permission set must grant API Enabled and Bulk API access",
    )
}

/// `GET /jobs/query`: every query job, on one page (Salesforce: "Get Information About All
/// Query Jobs").
pub(crate) fn list(st: &mut SimState) -> Result<Response, ApiError> {
    if !st.bulk_api {
        return Err(disabled());
    }
    let mut jobs: Vec<&Job> = st.bulk_jobs.values().collect();
    jobs.sort_by(|a, b| a.id.cmp(&b.id));
    let records: Vec<Value> = jobs.into_iter().map(|j| j.info(0)).collect();
    st.served("bulk-list");
    Ok(json_response(StatusCode::OK, &json!({"done": true, "records": records, "nextRecordsUrl": null})))
}

/// `POST /jobs/query`
pub(crate) fn create(st: &mut SimState, version: u32, body: &[u8]) -> Result<Response, ApiError> {
    if !st.bulk_api {
        return Err(disabled());
    }
    let request: Value = serde_json::from_slice(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, "JSON_PARSER_ERROR", format!("the body is not JSON: {e}")))?;
    let operation = request.get("operation").and_then(Value::as_str);
    if operation != Some("query") {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "INVALIDJOB",
            format!("sf-sim implements only the operation \"query\", got {:?}", request.get("operation")),
        ));
    }
    for (key, allowed) in [("contentType", "CSV"), ("columnDelimiter", "COMMA"), ("lineEnding", "LF")] {
        if let Some(v) = request.get(key)
            && v.as_str() != Some(allowed)
        {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "INVALIDJOB",
                format!("sf-sim implements only {key} {allowed}, got {v}"),
            ));
        }
    }
    let Some(text) = request.get("query").and_then(Value::as_str) else {
        return Err(error(StatusCode::BAD_REQUEST, "INVALIDJOB", "the job has no query"));
    };
    let plan = soql::parse(text)
        .and_then(|q| soql::plan_in(&q, version, &st.view()))
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.code.as_str(), e.message(text)))?;
    if st.access.refused_objects.contains(plan.object.name) {
        return Err(insufficient_access(plan.object.name));
    }
    if plan.count {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "INVALIDJOB",
            "Bulk API query jobs do not support aggregate queries (COUNT())",
        ));
    }
    let rows = st.snapshot(plan.object.name);
    let order = scramble(plan.select(&rows));
    st.jobs_created += 1;
    st.stats.bulk_jobs_created += 1;
    let id = crate::generate::sf_id("750", st.jobs_created);
    let end = if st.faults.bulk_failed_jobs > 0 {
        st.faults.bulk_failed_jobs -= 1;
        End::Failed
    } else if st.faults.bulk_aborted_jobs > 0 {
        st.faults.bulk_aborted_jobs -= 1;
        End::Aborted
    } else {
        End::Complete
    };
    let now = Instant::now();
    let job = Job {
        id: id.clone(),
        version,
        plan: Arc::new(plan),
        rows,
        order: Arc::new(order),
        created: now,
        created_date: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string(),
        ready_at: now + st.faults.bulk_processing,
        end,
    };
    let mut info = job.info(0);
    info["state"] = json!("UploadComplete");
    st.bulk_jobs.insert(id, job);
    st.served("bulk-create");
    Ok(json_response(StatusCode::OK, &info))
}

/// `GET /jobs/query/<id>`
pub(crate) fn info(st: &mut SimState, id: &str) -> Result<Response, ApiError> {
    let job = st.bulk_jobs.get(id).ok_or_else(|| unknown_job(id))?;
    let delta = match &st.faults.total_size_delta {
        Some((o, delta)) if o.eq_ignore_ascii_case(job.object()) => *delta,
        _ => 0,
    };
    let info = job.info(delta);
    st.served("bulk-poll");
    Ok(json_response(StatusCode::OK, &info))
}

/// `DELETE /jobs/query/<id>`
pub(crate) fn delete(st: &mut SimState, id: &str) -> Result<Response, ApiError> {
    st.bulk_jobs.remove(id).ok_or_else(|| unknown_job(id))?;
    st.served("bulk-delete");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /jobs/query/<id>/results?maxRecords=N&locator=L`
pub(crate) fn results(st: &mut SimState, parts: &Parts, version: u32, id: &str) -> Result<Response, ApiError> {
    let job = st.bulk_jobs.get(id).ok_or_else(|| unknown_job(id))?;
    if job.version != version {
        return Err(error(
            StatusCode::CONFLICT,
            "INVALIDJOBSTATE",
            format!("the job was created with API v{}.0; read its results with the same version", job.version),
        ));
    }
    if job.state() != "JobComplete" {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "INVALIDJOBSTATE",
            format!("the job is {}, not JobComplete: its results cannot be read", job.state()),
        ));
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(parts.uri.query().unwrap_or(""))
        .map_err(|e| malformed(format!("sf-sim: cannot decode the query string: {e}")))?;
    let total = job.order.len();
    let (mut max_records, mut offset) = (total.max(1), 0usize);
    for (key, value) in pairs {
        match key.as_str() {
            "maxRecords" => {
                max_records = value.parse().ok().filter(|&n: &usize| n > 0).ok_or_else(|| {
                    error(
                        StatusCode::BAD_REQUEST,
                        "INVALIDPARAMETER",
                        format!("maxRecords must be a positive number, got {value:?}"),
                    )
                })?;
            }
            "locator" => {
                offset = value.parse().ok().filter(|&n: &usize| n > 0 && n < total).ok_or_else(|| {
                    error(
                        StatusCode::BAD_REQUEST,
                        "INVALIDLOCATOR",
                        format!("the locator {value:?} is not one of this job's"),
                    )
                })?;
            }
            other => {
                return Err(malformed(format!(
                    "sf-sim does not implement the parameter '{other}' (only maxRecords, locator)"
                )));
            }
        }
    }
    if st.faults.bulk_chunk_rows > 0 {
        max_records = max_records.min(st.faults.bulk_chunk_rows);
    }
    let end = (offset + max_records).min(total);
    let next = if end < total { end.to_string() } else { "null".to_string() };
    let (plan, rows, order) = (job.plan.clone(), job.rows.clone(), job.order.clone());
    st.served("bulk-results");
    let mut head = Vec::new();
    plan.csv_header(&mut head);
    let pieces =
        std::iter::once(axum::body::Bytes::from(head)).chain((offset..end).step_by(ROWS_PER_PIECE).map(move |from| {
            let to = (from + ROWS_PER_PIECE).min(end);
            let mut out = Vec::with_capacity((to - from) * 200);
            for &i in &order[from..to] {
                plan.csv_row(&rows[i as usize], &mut out);
            }
            axum::body::Bytes::from(out)
        }));
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/csv"))],
        Body::from_stream(futures_util::stream::iter(pieces.map(Ok::<_, std::io::Error>))),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert("Sforce-Locator", HeaderValue::from_str(&next).expect("digits or null"));
    headers.insert("Sforce-NumberOfRecords", HeaderValue::from(end - offset));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scramble_is_a_permutation_in_no_order() {
        for n in [0usize, 1, 2, 3, 10, 7_919 * 2, 100_001] {
            let got = scramble((0..n as u32).collect());
            let mut sorted = got.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..n as u32).collect::<Vec<_>>(), "{n}");
            if n > 3 {
                assert!(got.windows(2).any(|w| w[0] > w[1]), "{n}");
            }
        }
    }
}
