//! The Bulk API 2.0 query client: one job per object, its CSV results streamed into a sink.
//!
//! Takes the logged-in [`Client`] (every request goes through its `call`: the same retries,
//! session renewal, body caps and error kinds as the REST pages) and a SOQL query, and hands on
//! the rows of the job's CSV results, one at a time, to a [`CsvSink`] (the snapshot stage turns
//! them into the same records the REST path writes). The steps (SALESFORCE.md §5): create the
//! job (`POST jobs/query`); poll it with a short first pause that doubles up to 2 s (a job of a
//! few thousand rows is done in well under a second, a million rows take longer); read the
//! results in chunks of [`MAX_RECORDS`] rows following `Sforce-Locator` until it is the literal
//! `null`; check that the rows received equal the job's `numberRecordsProcessed`; delete the job.
//!
//! A results chunk is streamed: its bytes go through a CSV parser as they arrive and only the
//! current row is held. A chunk that breaks off (a dropped connection, or a 200 whose CSV stops
//! early: fewer rows than its `Sforce-NumberOfRecords`, or no final newline) is rolled back in
//! the sink and read again from the same locator (locators stay valid for the job's life). A job
//! that ends `Failed` is created again, up to `--retries` times; an `Aborted` job (someone
//! aborted it) ends the pull. A create call refused because the user may not use the Bulk API
//! (403 `API_DISABLED_FOR_ORG`, `INSUFFICIENT_ACCESS`, …, or 404 for an org without it) is
//! [`SalesforceError::BulkNotAllowed`], which `--api auto` answers by falling back to REST.
//! [`Client::bulk_access`] asks the same question without a job (for `access-audit doctor`).
//!
//! Creating a job is a POST: a retry after a connection dropped mid-answer may leave a second
//! job behind, which Salesforce deletes after seven days.

use std::borrow::Cow;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use url::Url;

use super::error::{SalesforceError, Transient};
use super::rest::{Checkpoints, Client, Failure, ReplacedText};
use super::tally::Tally;
use crate::http::{self, BodyLimit, TransportError};

/// The first API version with Bulk API 2.0 query jobs.
pub const BULK_MIN_VERSION: u32 = 47;

/// Rows asked for per results chunk: a million rows take four requests. A chunk is streamed, so
/// this costs no memory; its body cap is the REST cap times [`CHUNK_CAP_FACTOR`].
pub const MAX_RECORDS: u64 = 250_000;

/// A results chunk may be this many times `--max-body-mb` (64 MB by default: 1 GB, room for
/// 250,000 rows of 4 KB each).
pub const CHUNK_CAP_FACTOR: u64 = 16;

/// Pauses between polls of a job: the first, and the longest.
const FIRST_POLL: Duration = Duration::from_millis(100);
const LONGEST_POLL: Duration = Duration::from_secs(2);

/// Error codes of a create call that mean "this user or org may not use the Bulk API".
const NOT_ALLOWED: &[&str] = &[
    "API_DISABLED_FOR_ORG",
    "INSUFFICIENT_ACCESS",
    "INSUFFICIENT_ACCESS_OR_READONLY",
    "FUNCTIONALITY_NOT_ENABLED",
    "NOT_FOUND",
];

/// A refusal that means "this user or org may not use the Bulk API" as
/// [`SalesforceError::BulkNotAllowed`]; any other error as it is.
fn not_allowed(e: SalesforceError) -> SalesforceError {
    match e {
        SalesforceError::Api { what, status, failure }
            if (status == 403 || status == 404) && NOT_ALLOWED.contains(&failure.code.as_str()) =>
        {
            SalesforceError::BulkNotAllowed { what, status, failure }
        }
        e => e,
    }
}

/// Where a job's rows go, one at a time (rolled back when a chunk is read again, restarted
/// when a job is created again: see [`Checkpoints`]).
pub trait CsvSink: Checkpoints {
    type Error: From<SalesforceError>;
    /// The header row (every chunk repeats it; this is called once per job).
    fn header(&mut self, columns: &[&str]) -> Result<(), Self::Error>;
    /// One row, its fields in header order, and the columns whose text had to be repaired.
    fn row(&mut self, fields: &[&str], replaced: Vec<ReplacedText>) -> Result<(), Self::Error>;
}

/// What a complete Bulk query cost and returned.
#[derive(Debug, Clone)]
pub struct BulkStats {
    /// The job's `numberRecordsProcessed`, equal to the rows received.
    pub rows: u64,
    /// Results chunks read (re-reads included).
    pub chunks: u64,
    /// Jobs created (more than one when a job failed).
    pub jobs: u32,
}

#[derive(Debug, Deserialize)]
struct JobInfo {
    id: String,
    state: String,
    #[serde(rename = "numberRecordsProcessed", default)]
    processed: Option<u64>,
    #[serde(rename = "errorMessage", default)]
    error_message: Option<String>,
}

/// How a job ended, when not with its results.
enum JobEnd {
    Failed(String),
    Aborted,
    Error(SalesforceError),
}

impl From<SalesforceError> for JobEnd {
    fn from(e: SalesforceError) -> Self {
        JobEnd::Error(e)
    }
}

impl Client {
    /// Runs `soql` as a Bulk API 2.0 query job and hands every row to `sink`.
    pub async fn bulk_query<S: CsvSink>(
        &self,
        object: &str,
        soql: &str,
        tally: &Tally,
        sink: &mut S,
    ) -> Result<BulkStats, S::Error> {
        let what = format!("Bulk query of {object}");
        let mut jobs = 0;
        loop {
            jobs += 1;
            let job = self.create_job(&what, soql, tally).await?;
            tracing::debug!(object, job = job.as_str(), "Bulk job created");
            let outcome = self.run_job(&what, &job, tally, sink).await;
            self.delete_job(&what, &job, tally).await;
            match outcome {
                Ok(Ok(mut stats)) => {
                    stats.jobs = jobs;
                    return Ok(stats);
                }
                Ok(Err(refused)) => return Err(refused),
                Err(JobEnd::Failed(message)) if jobs <= self.retry_policy().retries => {
                    tracing::warn!(
                        "{what}: job {job} failed ({message}); creating it again ({jobs} of {})",
                        self.retry_policy().retries
                    );
                    sink.restart();
                }
                Err(JobEnd::Failed(message)) => {
                    return Err(SalesforceError::BulkJobFailed { what, job, attempts: jobs, message }.into());
                }
                Err(JobEnd::Aborted) => return Err(SalesforceError::BulkJobAborted { what, job }.into()),
                Err(JobEnd::Error(e)) => return Err(e.into()),
            }
        }
    }

    fn job_url(&self, base: &Url, job: &str, tail: &str) -> Url {
        self.data_url(base, &format!("jobs/query/{job}{tail}"))
    }

    async fn create_job(&self, what: &str, soql: &str, tally: &Tally) -> Result<String, SalesforceError> {
        let body = json!({
            "operation": "query",
            "query": soql,
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        });
        let created = self
            .call(
                what,
                Some(tally),
                |http, base| http.post(self.data_url(base, "jobs/query")).json(&body),
                async |response, media_type| self.job_answer(what, response, &media_type).await,
            )
            .await;
        created.map(|info| info.id).map_err(not_allowed)
    }

    /// Whether the integration user may use the Bulk API 2.0, asked the cheapest way: one
    /// `GET jobs/query` (the list of query jobs), which creates nothing. A refusal is
    /// [`SalesforceError::BulkNotAllowed`], as a refused job's creation is.
    pub async fn bulk_access(&self) -> Result<(), SalesforceError> {
        let what = "Bulk API 2.0 (the list of query jobs)";
        self.call(
            what,
            None,
            |http, base| http.get(self.data_url(base, "jobs/query")),
            async |response, media_type| self.json_answer(what, response, &media_type).await.map(|_| ()),
        )
        .await
        .map_err(not_allowed)
    }

    /// A job's state, as JSON.
    async fn job_answer(&self, what: &str, response: reqwest::Response, media_type: &str) -> Result<JobInfo, Failure> {
        let status = response.status().as_u16();
        let path = response.url().path().to_string();
        let body = http::read_body(response, self.max_body(), &path).await.map_err(|e| Failure::transport(what, e))?;
        match serde_json::from_slice::<JobInfo>(&body) {
            Ok(info) => Ok(info),
            Err(source) if source.classify() == serde_json::error::Category::Eof && is_json(media_type) => {
                Err(Failure::Transient(Transient::CutJson { source }))
            }
            Err(_) if !is_json(media_type) => Err(Failure::Fatal(SalesforceError::NotApi {
                what: what.to_string(),
                status,
                media_type: media_type.to_string(),
            })),
            Err(e) => Err(Failure::Fatal(SalesforceError::BadResponse {
                what: what.to_string(),
                detail: format!("not a Bulk API job ({e})"),
            })),
        }
    }

    /// Polls the job until it is done, then reads its results into `sink`.
    async fn run_job<S: CsvSink>(
        &self,
        what: &str,
        job: &str,
        tally: &Tally,
        sink: &mut S,
    ) -> Result<Result<BulkStats, S::Error>, JobEnd> {
        let mut pause = FIRST_POLL;
        let processed = loop {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(LONGEST_POLL);
            let info = self
                .call(
                    what,
                    Some(tally),
                    |http, base| http.get(self.job_url(base, job, "")),
                    async |response, media_type| self.job_answer(what, response, &media_type).await,
                )
                .await?;
            match info.state.as_str() {
                "JobComplete" => {
                    break info.processed.ok_or_else(|| SalesforceError::BadResponse {
                        what: what.to_string(),
                        detail: format!("job {job} is complete but has no numberRecordsProcessed"),
                    })?;
                }
                "Failed" => return Err(JobEnd::Failed(info.error_message.unwrap_or_else(|| "no errorMessage".into()))),
                "Aborted" => return Err(JobEnd::Aborted),
                "UploadComplete" | "InProgress" | "Open" => {}
                other => {
                    return Err(JobEnd::Error(SalesforceError::BadResponse {
                        what: what.to_string(),
                        detail: format!("job {job} is in an unknown state {other:?}"),
                    }));
                }
            }
        };
        tally.announce(processed);
        let mut locator: Option<String> = None;
        let mut rows = 0;
        let mut chunks = 0;
        let mut header: Option<Vec<String>> = None;
        loop {
            chunks += 1;
            let chunk = self
                .call(
                    what,
                    Some(tally),
                    |http, base| {
                        let mut url = self.job_url(base, job, "/results");
                        url.query_pairs_mut().append_pair("maxRecords", &MAX_RECORDS.to_string());
                        if let Some(l) = &locator {
                            url.query_pairs_mut().append_pair("locator", l);
                        }
                        http.get(url).header(reqwest::header::ACCEPT, "text/csv")
                    },
                    async |response, media_type| self.read_chunk(what, response, &media_type, &mut header, sink).await,
                )
                .await?;
            let (received, next) = match chunk {
                Ok(c) => c,
                Err(refused) => return Ok(Err(refused)),
            };
            rows += received;
            tally.add_rows(received);
            match next {
                Some(next) => locator = Some(next),
                None => break,
            }
        }
        if rows != processed {
            return Err(JobEnd::Error(SalesforceError::Incomplete {
                object: what.trim_start_matches("Bulk query of ").to_string(),
                expected: processed,
                received: rows,
            }));
        }
        Ok(Ok(BulkStats { rows, chunks, jobs: 1 }))
    }

    /// Streams one results chunk into `sink`: (rows, the next locator). A chunk that breaks off
    /// is rolled back and reported as transient.
    async fn read_chunk<S: CsvSink>(
        &self,
        what: &str,
        mut response: reqwest::Response,
        media_type: &str,
        header: &mut Option<Vec<String>>,
        sink: &mut S,
    ) -> Result<Result<(u64, Option<String>), S::Error>, Failure> {
        let status = response.status().as_u16();
        if !(media_type.is_empty() || media_type == "text/csv") {
            return Err(Failure::Fatal(SalesforceError::NotApi {
                what: what.to_string(),
                status,
                media_type: media_type.to_string(),
            }));
        }
        let headers = response.headers();
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).map(str::to_string);
        let next = match text("sforce-locator") {
            Some(l) if l == "null" => None,
            Some(l) if !l.is_empty() => Some(l),
            _ => {
                return Err(Failure::Fatal(SalesforceError::BadResponse {
                    what: what.to_string(),
                    detail: "a results chunk has no Sforce-Locator header".into(),
                }));
            }
        };
        let announced = text("sforce-numberofrecords").and_then(|n| n.parse::<u64>().ok());
        let path = response.url().path().to_string();
        let limit = BodyLimit {
            bytes: self.max_body().bytes.saturating_mul(CHUNK_CAP_FACTOR),
            setting: "--max-body-mb, times 16 for a Bulk results chunk",
        };
        let mut parser = CsvStream::new(header.clone());
        let mut bytes: u64 = 0;
        loop {
            let piece = match response.chunk().await {
                Ok(Some(piece)) => piece,
                Ok(None) => break,
                Err(e) => {
                    sink.rollback();
                    return Err(Failure::transport(what, TransportError::from_reqwest(e)));
                }
            };
            bytes += piece.len() as u64;
            if bytes > limit.bytes {
                sink.rollback();
                return Err(Failure::transport(what, TransportError::BodyTooLarge { path, limit }));
            }
            if let Err(stop) = parser.feed(&piece, sink) {
                return stop.into_result(what, sink);
            }
        }
        let rows = match parser.finish(sink) {
            Ok(rows) => rows,
            Err(stop) => return stop.into_result(what, sink),
        };
        if let Some(announced) = announced
            && announced != rows
        {
            sink.rollback();
            return Err(Failure::Transient(Transient::CutCsv {
                detail: format!("{rows} rows arrived where Sforce-NumberOfRecords announced {announced}"),
            }));
        }
        if header.is_none() {
            *header = parser.header.take();
        }
        sink.checkpoint();
        Ok(Ok((rows, next)))
    }
}

/// Whether a media type says JSON (or says nothing).
fn is_json(media_type: &str) -> bool {
    media_type.is_empty() || media_type == "application/json" || media_type.ends_with("+json")
}

/// Why [`CsvStream`] stopped.
enum Stop<E> {
    /// The sink refused a row.
    Refused(E),
    /// The CSV broke off: worth reading the chunk again.
    Cut(String),
    /// The CSV is not what a results chunk holds.
    Malformed(String),
}

impl<E> Stop<E> {
    fn into_result<T, S: CsvSink<Error = E>>(self, what: &str, sink: &mut S) -> Result<Result<T, E>, Failure> {
        match self {
            Stop::Refused(e) => Ok(Err(e)),
            Stop::Cut(detail) => {
                sink.rollback();
                Err(Failure::Transient(Transient::CutCsv { detail }))
            }
            Stop::Malformed(detail) => Err(Failure::Fatal(SalesforceError::BadResponse {
                what: what.to_string(),
                detail: format!("the CSV results are malformed: {detail}"),
            })),
        }
    }
}

/// A CSV parser fed with the bytes of one results chunk as they arrive.
struct CsvStream {
    reader: csv_core::Reader,
    /// The current record's field bytes, and where each field ends.
    out: Vec<u8>,
    out_len: usize,
    ends: Vec<usize>,
    ends_len: usize,
    /// The job's header row, once known (from an earlier chunk or this one's first row).
    header: Option<Vec<String>>,
    /// Whether this chunk's own header row was read.
    own_header: bool,
    rows: u64,
    /// Bytes were fed (an empty chunk has no header row).
    fed: bool,
    /// The body ended: a row the parser still hands on had no final newline, so the body was cut.
    at_end: bool,
    /// Fields of the last row, when it had the wrong number of them (only the last may: a cut).
    short_row: Option<usize>,
}

impl CsvStream {
    fn new(header: Option<Vec<String>>) -> CsvStream {
        CsvStream {
            reader: csv_core::ReaderBuilder::new().build(),
            out: vec![0; 64 * 1024],
            out_len: 0,
            ends: vec![0; 64],
            ends_len: 0,
            header,
            own_header: false,
            rows: 0,
            fed: false,
            at_end: false,
            short_row: None,
        }
    }

    fn feed<S: CsvSink>(&mut self, mut input: &[u8], sink: &mut S) -> Result<(), Stop<S::Error>> {
        self.fed |= !input.is_empty();
        loop {
            let (result, read, written, ended) =
                self.reader.read_record(input, &mut self.out[self.out_len..], &mut self.ends[self.ends_len..]);
            input = &input[read..];
            self.out_len += written;
            self.ends_len += ended;
            match result {
                csv_core::ReadRecordResult::InputEmpty => return Ok(()),
                csv_core::ReadRecordResult::OutputFull => {
                    let grown = self.out.len() * 2;
                    self.out.resize(grown, 0);
                }
                csv_core::ReadRecordResult::OutputEndsFull => {
                    let grown = self.ends.len() * 2;
                    self.ends.resize(grown, 0);
                }
                csv_core::ReadRecordResult::Record => {
                    let outcome = self.record(sink);
                    self.out_len = 0;
                    self.ends_len = 0;
                    outcome?;
                }
                csv_core::ReadRecordResult::End => return Ok(()),
            }
        }
    }

    /// Ends the chunk. Every row of a results chunk ends with a newline; a row the parser only
    /// completes now (the body stopped inside it, maybe inside a quoted field) means the body was
    /// cut, and that row is not handed on.
    fn finish<S: CsvSink>(&mut self, sink: &mut S) -> Result<u64, Stop<S::Error>> {
        self.at_end = true;
        self.feed(&[], sink)?;
        if let Some(fields) = self.short_row {
            return Err(Stop::Cut(format!("the last row has {fields} fields, not the header's")));
        }
        if !self.own_header && self.fed {
            return Err(Stop::Malformed("the chunk has no header row".into()));
        }
        Ok(self.rows)
    }

    fn record<S: CsvSink>(&mut self, sink: &mut S) -> Result<(), Stop<S::Error>> {
        if self.at_end {
            return Err(Stop::Cut("the last row has no final newline".into()));
        }
        if let Some(fields) = self.short_row {
            // A row with the wrong number of fields that is not the last one.
            return Err(Stop::Malformed(format!("row {} has {fields} fields, not the header's", self.rows)));
        }
        let ends = &self.ends[..self.ends_len];
        let mut start = 0;
        let mut fields: Vec<Cow<'_, str>> = Vec::with_capacity(ends.len());
        let mut bad_utf8 = Vec::new();
        for (i, &end) in ends.iter().enumerate() {
            let bytes = &self.out[start..end];
            start = end;
            fields.push(match std::str::from_utf8(bytes) {
                Ok(s) => Cow::Borrowed(s),
                Err(_) => {
                    bad_utf8.push(i);
                    String::from_utf8_lossy(bytes)
                }
            });
        }
        if !self.own_header {
            self.own_header = true;
            let columns: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
            match &self.header {
                Some(known) if *known != columns => {
                    return Err(Stop::Malformed(format!(
                        "a chunk's header row {columns:?} differs from the first chunk's {known:?}"
                    )));
                }
                Some(_) => {}
                None => {
                    let names: Vec<&str> = columns.iter().map(String::as_str).collect();
                    sink.header(&names).map_err(Stop::Refused)?;
                    self.header = Some(columns);
                }
            }
            return Ok(());
        }
        let header = self.header.as_ref().expect("read above");
        if fields.len() != header.len() {
            self.short_row = Some(fields.len());
            return Ok(());
        }
        let replaced = bad_utf8
            .into_iter()
            .map(|i| ReplacedText {
                field: header[i].clone(),
                detail: "bytes that are not UTF-8 were replaced with U+FFFD",
            })
            .collect();
        let values: Vec<&str> = fields.iter().map(|f| f.as_ref()).collect();
        self.rows += 1;
        sink.row(&values, replaced).map_err(Stop::Refused)
    }
}

impl Client {
    /// Deletes a job; a failure is only a warning (the rows are complete, and Salesforce deletes
    /// jobs after seven days).
    async fn delete_job(&self, what: &str, job: &str, tally: &Tally) {
        let deleted = self
            .call(
                what,
                Some(tally),
                |http, base| http.delete(self.job_url(base, job, "")),
                async |_response, _media_type| Ok(()),
            )
            .await;
        if let Err(e) = deleted {
            tracing::warn!("{what}: could not delete job {job} ({e}); Salesforce deletes it after seven days");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects rows as strings; counts checkpoints and rollbacks.
    #[derive(Default)]
    struct Rows {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
        kept: usize,
        replaced: Vec<String>,
    }

    impl CsvSink for Rows {
        type Error = SalesforceError;
        fn header(&mut self, columns: &[&str]) -> Result<(), SalesforceError> {
            self.header = columns.iter().map(|c| c.to_string()).collect();
            Ok(())
        }
        fn row(&mut self, fields: &[&str], replaced: Vec<ReplacedText>) -> Result<(), SalesforceError> {
            self.rows.push(fields.iter().map(|f| f.to_string()).collect());
            self.replaced.extend(replaced.into_iter().map(|r| r.field));
            Ok(())
        }
    }

    impl Checkpoints for Rows {
        fn checkpoint(&mut self) {
            self.kept = self.rows.len();
        }
        fn rollback(&mut self) {
            self.rows.truncate(self.kept);
        }
        fn restart(&mut self) {
            self.rows.clear();
            self.kept = 0;
        }
    }

    fn parse_in_pieces(csv: &[u8], piece: usize) -> (Rows, Result<u64, String>) {
        let mut sink = Rows::default();
        let mut stream = CsvStream::new(None);
        for chunk in csv.chunks(piece.max(1)) {
            if let Err(e) = stream.feed(chunk, &mut sink) {
                return (sink, Err(describe(e)));
            }
        }
        let result = stream.finish(&mut sink).map_err(describe);
        (sink, result)
    }

    fn describe(stop: Stop<SalesforceError>) -> String {
        match stop {
            Stop::Refused(e) => format!("refused: {e}"),
            Stop::Cut(d) => format!("cut: {d}"),
            Stop::Malformed(d) => format!("malformed: {d}"),
        }
    }

    const CSV: &[u8] = b"\"Id\",\"Name\",\"Profile.Name\"\n\"005A\",\"Ana \"\"the\"\" Lee\",\"\"\n\"005B\",\"Line\nbreak, comma\",\"P\"\n";

    #[test]
    fn rows_are_read_whatever_the_pieces_they_arrive_in() {
        for piece in [1, 2, 3, 7, 64, 4096] {
            let (sink, rows) = parse_in_pieces(CSV, piece);
            assert_eq!(rows, Ok(2), "piece {piece}");
            assert_eq!(sink.header, ["Id", "Name", "Profile.Name"]);
            assert_eq!(sink.rows[0], ["005A", "Ana \"the\" Lee", ""]);
            assert_eq!(sink.rows[1], ["005B", "Line\nbreak, comma", "P"]);
        }
    }

    #[test]
    fn a_chunk_cut_short_is_told_from_a_malformed_one() {
        // Cut inside the last row: no final newline.
        let (_, rows) = parse_in_pieces(&CSV[..CSV.len() - 10], 5);
        assert!(rows.unwrap_err().starts_with("cut: "));
        // Cut right after a newline inside a quoted field, the last one or not: never handed on.
        for cut in [&b"\"Id\",\"Name\",\"Profile.Name\"\n\"005B\",\"Line\n"[..], b"\"Id\",\"Name\"\n\"005B\",\"Line\n"]
        {
            let (sink, rows) = parse_in_pieces(cut, 3);
            assert!(rows.unwrap_err().starts_with("cut: "), "an unterminated quote");
            assert!(sink.rows.is_empty());
        }
        // A short row in the middle is malformed, not cut.
        let bad = b"\"Id\",\"Name\"\n\"005A\"\n\"005B\",\"B\"\n";
        let (_, rows) = parse_in_pieces(bad, 4);
        assert!(rows.unwrap_err().starts_with("malformed: "));
        // An empty chunk (no rows, no header) is allowed; rows without a header are not.
        assert_eq!(parse_in_pieces(b"", 4).1, Ok(0));
    }

    #[test]
    fn bytes_that_are_not_utf8_are_replaced_and_named() {
        let csv = b"\"Id\",\"Name\"\n\"005A\",\"\xffAna\"\n";
        let (sink, rows) = parse_in_pieces(csv, 3);
        assert_eq!(rows, Ok(1));
        assert_eq!(sink.rows[0][1], "\u{FFFD}Ana");
        assert_eq!(sink.replaced, ["Name"]);
    }
}
