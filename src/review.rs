//! `access-audit review DIR`: the sign-off read back (REPORTS.md, "The review cycle").
//!
//! Takes a report folder ([`Folder`]: its file list, summary.json and CSVs, each still the bytes
//! the tool wrote), the completed workbook(s) in it (`access-review.xlsx`, and with
//! `--split-by manager` every `by-manager/` workbook), and what each audited user holds in the
//! folder's own snapshot ([`Holdings`]); hands on the [`Record`]: whether the workbooks belong to
//! the run, whether the review is complete, and the files of `DIR/review/`:
//!
//! - `decisions.csv`: one row per row of every report sheet, its decision as recorded;
//! - `signoff.json`: counts per report and decision, reviewers, completeness, every deviation, and
//!   the SHA-256 of each workbook read and of the snapshot manifest;
//! - `remediation/`: one CSV per action an admin loads into Data Loader or `sf data … bulk`
//!   (`PermissionSetAssignment-delete.csv`, `UserPackageLicense-delete.csv`, `User-deactivate.csv`,
//!   `UserLogin-freeze.csv`), from the complete action decisions, Id by Id from the snapshot;
//!   and per application `<app>-disable.csv`, the accounts decided `Disable account`.
//!
//! The other applications' report sheets ([`ReviewedReport::App`], in the main workbook only) are
//! read exactly as the org's: rows matched by `AccountId` against the application's report CSVs,
//! decisions from the application's list. (The SCIM cross-check's sheet is not read back.)
//!
//! **Belongs to the run**: each workbook's Run sheet carries the run id and manifest SHA-256 of
//! summary.json; each report sheet holds exactly the findings of the report's CSV (by the
//! manager's rows, for a per-manager workbook), each once; and every evidence cell still shows
//! what the CSV holds (compared by finding, so sorting and filtering change nothing). Each
//! deviation is reported.
//!
//! **Complete**: every finding (not the access matrix, not a never-logged-in user in the grace
//! period) has a decision from its report's list, a reviewer and a date (on or after the as-of
//! date). Rows that are not findings may be decided; what is written there must be complete too.
//! A row decided in two workbooks must be decided alike.
//!
//! The tool never writes to the org: the remediation files are for an admin, after the sign-off
//! is accepted (the review exits 0).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;

use chrono::NaiveDate;
use serde::Serialize;

use crate::model::{Audit, Column, ColumnType, DecidedOn, Decision, FindingKey, ReportKind, ReviewedReport, Rows};
use crate::readback::{self, ReadbackError, Review, Value};
use crate::render::csv::neutralise;
use crate::render::xlsx::{MANIFEST_KEY, REVIEW_COLUMNS, RUN_ID_KEY, uncut};
use crate::report_folder::{CsvReport, CsvRow, Folder, FolderError};
use crate::text::visible;

/// The marker of `signoff.json`.
pub const SIGNOFF_FORMAT: &str = "access-audit-signoff/1";
/// The Run sheet's key naming a per-manager workbook's manager.
const MANAGER_KEY: &str = "Manager Id";
/// Deviations kept one by one; beyond that, counted (a wrong workbook differs everywhere).
const DEVIATIONS_LISTED: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("review: {0}")]
    Folder(#[from] FolderError),
    #[error("review: {dir} has no review workbook (access-review.xlsx) that access-audit wrote there")]
    NoWorkbook { dir: PathBuf },
    #[error("review: {file}: {source}")]
    Workbook {
        file: String,
        #[source]
        source: ReadbackError,
    },
    #[error(
        "review: the snapshot in {dir} has the manifest SHA-256 {found}, but the run's summary.json names {expected}: \
         the evidence is not the run's"
    )]
    OtherSnapshot { dir: PathBuf, found: String, expected: String },
}

/// What each audited user holds, for the remediation files: from the report folder's own
/// snapshot, analysed again with the run's rules ([`Holdings::from_audit`]).
#[derive(Debug, Default)]
pub struct Holdings {
    users: HashMap<String, Held>,
}

#[derive(Debug, Default, Clone)]
struct Held {
    assignments: Vec<String>,
    licences: Vec<String>,
    logins: Vec<String>,
}

impl Holdings {
    /// The Ids behind each audited user's Certinia access and logins, from the access matrix.
    pub fn from_audit(audit: &Audit) -> Holdings {
        let mut users = HashMap::new();
        if let Some(Rows::Users(rows)) = audit.report(ReportKind::AccessMatrix).map(|r| &r.rows) {
            for u in rows {
                users.insert(
                    u.id.clone(),
                    Held {
                        assignments: u.certinia_assignment_ids.clone(),
                        licences: u.certinia_license_ids.clone(),
                        logins: u.login_ids.clone(),
                    },
                );
            }
        }
        Holdings { users }
    }
}

/// One workbook read.
#[derive(Debug, Serialize)]
pub struct WorkbookRead {
    pub file: String,
    pub sha256: String,
    /// Whether its bytes are still the ones the tool wrote (nobody saved it).
    pub as_written: bool,
    pub run_id: String,
}

/// A finding (or another row) whose decision is not complete, and why.
#[derive(Debug, Serialize)]
pub struct Missing {
    pub report: String,
    pub sheet: String,
    pub id: String,
    pub federation_id: String,
    pub username: String,
    pub email: String,
    /// Who the row names, for people: the user's Username, the roster entry's username/email, or
    /// the application account's userName.
    pub who: String,
    pub finding: bool,
    pub reviewer: Option<String>,
    /// Where the row was read: workbook and row number (none when no workbook decided it).
    pub workbook: Option<String>,
    pub row: Option<u32>,
    pub problems: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct ReportCounts {
    pub rows: usize,
    pub findings: usize,
    /// Findings with a complete decision.
    pub decided: usize,
    pub incomplete: usize,
    /// Complete decisions per choice, every row (findings or not), in label order.
    pub decisions: BTreeMap<&'static str, usize>,
}

#[derive(Debug, Default, Serialize)]
pub struct ReviewerCounts {
    pub reviewer: String,
    pub decided: usize,
    pub incomplete: usize,
}

#[derive(Debug, Serialize)]
pub struct ManualAction {
    pub report: String,
    pub id: String,
    pub decision: &'static str,
    pub reviewer: String,
    pub ticket: Option<String>,
    pub comment: Option<String>,
    pub why: &'static str,
}

#[derive(Debug, Serialize)]
pub struct RemediationFile {
    pub file: String,
    pub rows: usize,
}

/// The sign-off, read back: what `signoff.json` holds.
#[derive(Debug, Serialize)]
pub struct SignOff {
    pub format: &'static str,
    pub run_id: String,
    pub org_id: String,
    pub as_of: String,
    pub manifest_sha256: String,
    pub workbooks: Vec<WorkbookRead>,
    /// Workbooks the run wrote that are no longer in the folder.
    pub missing_workbooks: Vec<String>,
    pub belongs: bool,
    pub complete: bool,
    pub deviations: Vec<String>,
    pub reports: BTreeMap<String, ReportCounts>,
    pub reviewers: Vec<ReviewerCounts>,
    pub missing: Vec<Missing>,
    pub remediation: Vec<RemediationFile>,
    /// Actions no file can carry out (Grant access: which access is the reviewer's call; Freeze of
    /// a user without a UserLogin record).
    pub manual_actions: Vec<ManualAction>,
}

/// The outcome of a review: the sign-off, the files of `review/`, and the text for the terminal.
#[derive(Debug)]
pub struct Record {
    pub signoff: SignOff,
    /// `(name relative to review/, bytes)`.
    pub files: Vec<(String, Vec<u8>)>,
    pub text: String,
}

/// A row's decision as merged from the workbooks: where it was read, and what it says.
#[derive(Debug, Clone)]
struct Decided {
    file: String,
    row: u32,
    review: Review,
}

/// The CSV field a workbook cell corresponds to, for comparing evidence: what the CSV renderer
/// writes for the same value (text neutralised, dates in RFC 3339, booleans `true`/`false`).
fn as_csv_field(value: &Value, column: Option<Column>) -> String {
    let ty = column.map_or(ColumnType::Text, Column::column_type);
    match (value, ty) {
        (Value::Empty, _) => String::new(),
        (Value::DateTime(d), ColumnType::Date) => d.format("%Y-%m-%d").to_string(),
        (Value::DateTime(d), _) => d.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        (Value::Number(n), ColumnType::DateTime) => readback::serial_datetime(*n)
            .map(|d| d.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_else(|| n.to_string()),
        (Value::Number(n), ColumnType::Bool) => (*n != 0.0).to_string(),
        (Value::Bool(b), _) => b.to_string(),
        (Value::Text(t), ColumnType::Bool) if t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false") => {
            t.to_ascii_lowercase()
        }
        (Value::Text(t), _) => neutralise(t).into_owned(),
        (other, _) => other.text().unwrap_or_default(),
    }
}

/// Whether a workbook cell still shows the CSV's field.
fn same_evidence(value: &Value, column: Option<Column>, csv_field: &str) -> bool {
    if let Value::Text(text) = value
        && let Some((kept, cut)) = uncut(text)
    {
        // A cell cut to Excel's limit: what it kept begins the CSV's text, which is that long.
        let whole = crate::report_folder::unneutralised(csv_field);
        return whole.starts_with(kept) && whole[kept.len()..].chars().count() == cut;
    }
    as_csv_field(value, column) == csv_field
}

/// Reads the completed workbooks of `folder` and makes the record.
pub fn check(folder: &Folder, holdings: &Holdings) -> Result<Record, ReviewError> {
    let mut reports = folder.reports()?;
    reports.extend(folder.app_reports()?);
    let app_sheets: Vec<ReviewedReport> =
        reports.iter().filter(|r| matches!(r.kind, ReviewedReport::App { .. })).map(|r| r.kind.clone()).collect();
    let run_id = folder.run_id();
    let manifest = folder.manifest_sha256();
    let as_of = folder.summary_text(&["as_of"]);
    let as_of_date = chrono::DateTime::parse_from_rfc3339(&as_of).map(|d| d.date_naive()).ok();
    let books = folder.workbooks();
    if books.first().map(String::as_str) != Some(crate::render::xlsx::FILE_NAME) {
        return Err(ReviewError::NoWorkbook { dir: folder.dir.clone() });
    }
    let hashes = folder.hashes();

    // Each report's rows by their manager, for the per-manager workbooks.
    let by_manager: Vec<HashMap<&str, Vec<&CsvRow>>> = reports
        .iter()
        .map(|report| {
            let mut rows: HashMap<&str, Vec<&CsvRow>> = HashMap::new();
            if let ReviewedReport::Org(kind) = report.kind
                && !kind.is_roster_entries()
            {
                for row in &report.rows {
                    rows.entry(report.text(row, "ManagerId")).or_default().push(row);
                }
            }
            rows
        })
        .collect();

    let mut deviations = Deviations::default();
    let mut workbooks = Vec::new();
    let mut missing_workbooks = Vec::new();
    // (report, key) → the decisions read, in workbook order.
    let mut decided: HashMap<(ReviewedReport, FindingKey), Vec<Decided>> = HashMap::new();
    for file in &books {
        let path = folder.dir.join(file);
        if !path.exists() {
            if file == crate::render::xlsx::FILE_NAME {
                return Err(ReviewError::NoWorkbook { dir: folder.dir.clone() });
            }
            missing_workbooks.push(file.clone());
            continue;
        }
        let book = readback::read_with_apps(&path, &app_sheets)
            .map_err(|source| ReviewError::Workbook { file: file.clone(), source })?;
        let found_run = book.run.get(RUN_ID_KEY).cloned().unwrap_or_default();
        if found_run != run_id {
            deviations
                .push(format!("{file}: its Run sheet names the run {found_run:?}, this folder's run is {run_id}"));
        }
        let found_manifest = book.run.get(MANIFEST_KEY).cloned().unwrap_or_default();
        if found_manifest != manifest {
            deviations.push(format!(
                "{file}: its Run sheet names the snapshot manifest {found_manifest:?}, this run's is {manifest}"
            ));
        }
        // A per-manager workbook holds its manager's rows only.
        let manager = book.run.get(MANAGER_KEY).map(|m| if m == "(none)" { String::new() } else { m.clone() });
        for (report, managed) in reports.iter().zip(&by_manager) {
            let expected: Vec<&CsvRow> = match (&manager, &report.kind) {
                (None, _) => report.rows.iter().collect(),
                // An application's accounts have no manager: their sheets are in the main workbook only.
                (Some(_), ReviewedReport::App { .. }) => continue,
                (Some(m), ReviewedReport::Org(_)) => managed.get(m.as_str()).cloned().unwrap_or_default(),
            };
            match book.sheet(&report.kind) {
                Some(sheet) => check_sheet(file, sheet, report, &expected, &mut deviations, &mut decided),
                None => deviations.push(format!("{file}: the sheet {} is missing", report.kind.sheet_name())),
            }
        }
        workbooks.push(WorkbookRead {
            as_written: hashes.get(file.as_str()) == Some(&book.sha256.as_str()),
            file: file.clone(),
            sha256: book.sha256,
            run_id: found_run,
        });
    }

    // Each row's decision, its completeness, and the files.
    let mut tally = Tally::new(holdings, as_of_date);
    for report in &reports {
        for row in &report.rows {
            let reads = decided.get(&(report.kind.clone(), row.key.clone())).map(Vec::as_slice).unwrap_or_default();
            if let [first, rest @ ..] = reads {
                for other in rest.iter().filter(|o| !same_decision(&o.review, &first.review)) {
                    deviations.push(format!(
                        "{}: decided differently in {} (row {}) and {} (row {})",
                        shown(&row.key.to_string()),
                        first.file,
                        first.row,
                        other.file,
                        other.row
                    ));
                }
            }
            tally.row(report, row, reads.first());
        }
    }
    let Tally { counts, reviewers, missing, manual, remediation, decisions: decisions_csv, .. } = tally;

    let mut files = vec![("decisions.csv".to_string(), decisions_csv.into_inner().expect("in memory"))];
    let remediation_files = remediation.files();
    let written: Vec<RemediationFile> =
        remediation_files.iter().map(|(name, rows, _)| RemediationFile { file: name.clone(), rows: *rows }).collect();
    let belongs = deviations.is_empty();
    let signoff = SignOff {
        format: SIGNOFF_FORMAT,
        run_id,
        org_id: folder.org_id(),
        as_of,
        manifest_sha256: manifest,
        workbooks,
        missing_workbooks,
        belongs,
        complete: missing.is_empty(),
        deviations: deviations.into_list(),
        reports: counts,
        reviewers: reviewers.into_values().collect(),
        missing,
        remediation: written,
        manual_actions: manual,
    };
    let mut json = serde_json::to_vec_pretty(&signoff).expect("the sign-off always serialises");
    json.push(b'\n');
    files.push(("signoff.json".to_string(), json));
    files.extend(remediation_files.into_iter().map(|(name, _, bytes)| (name, bytes)));
    let text = describe(&signoff, folder, &files);
    Ok(Record { signoff, files, text })
}

/// Checks one report sheet of a workbook against the report's CSV rows it must hold (`expected`):
/// its columns, its findings (each once, none added or removed) and every evidence cell; collects
/// what the reviewers wrote in its rows.
fn check_sheet(
    file: &str,
    sheet: &readback::Sheet,
    report: &CsvReport,
    expected: &[&CsvRow],
    deviations: &mut Deviations,
    decided: &mut HashMap<(ReviewedReport, FindingKey), Vec<Decided>>,
) {
    let kind = &report.kind;
    let name = kind.sheet_name();
    // Each evidence column: its header, type, place in the sheet and place in the CSV.
    let mut columns = Vec::new();
    for (field, header) in report.headers.iter().enumerate() {
        match sheet.column(header) {
            Some(i) => columns.push((header.as_str(), Column::from_header(header), i, field)),
            None => deviations.push(format!("{file}: sheet {name}: the column {header} is missing")),
        }
    }
    for header in REVIEW_COLUMNS {
        if sheet.column(header).is_none() {
            deviations.push(format!("{file}: sheet {name}: the reviewer column {header} is missing"));
        }
    }
    let by_key: HashMap<&FindingKey, &CsvRow> = expected.iter().map(|r| (&r.key, *r)).collect();
    let mut seen: HashMap<FindingKey, u32> = HashMap::new();
    for row in &sheet.rows {
        let Some(key) = sheet.key(row) else {
            deviations.push(format!("{file}: sheet {name} row {}: names no finding (no Id)", row.number));
            continue;
        };
        if let Some(first) = seen.insert(key.clone(), row.number) {
            deviations.push(format!(
                "{file}: sheet {name} rows {first} and {}: {} appears twice",
                row.number,
                shown(&key.to_string())
            ));
            continue;
        }
        let Some(csv_row) = by_key.get(&key) else {
            deviations.push(format!(
                "{file}: sheet {name} row {}: {} is not a row of {}.csv (added)",
                row.number,
                shown(&key.to_string()),
                kind.slug()
            ));
            continue;
        };
        for (header, column, i, field) in &columns {
            let value = row.cells.get(*i).unwrap_or(&Value::Empty);
            let field = csv_row.fields.get(*field).map(String::as_str).unwrap_or_default();
            if !same_evidence(value, *column, field) {
                deviations.push(format!(
                    "{file}: sheet {name} row {} ({}): {header} is \"{}\", the run wrote \"{}\"",
                    row.number,
                    shown(&key.to_string()),
                    shown(&as_csv_field(value, *column)),
                    shown(field)
                ));
            }
        }
        let review = sheet.review(row);
        if !review.is_empty() {
            decided.entry((kind.clone(), key)).or_default().push(Decided {
                file: file.to_string(),
                row: row.number,
                review,
            });
        }
    }
    for row in expected.iter().filter(|r| !seen.contains_key(&r.key)) {
        deviations.push(format!("{file}: sheet {name}: {} is missing (removed)", shown(&row.key.to_string())));
    }
}

/// Org and reviewer text as the terminal shows it: control characters made visible.
fn shown(text: &str) -> String {
    visible(text).into_owned()
}

fn decided_text(d: &DecidedOn) -> String {
    match d {
        DecidedOn::Date(d) => d.format("%Y-%m-%d").to_string(),
        DecidedOn::Text(t) => t.clone(),
    }
}

/// Two reviews that record the same decision (choice, reviewer and date).
fn same_decision(a: &Review, b: &Review) -> bool {
    let choice = |r: &Review| {
        r.decision.as_deref().map(|d| Decision::from_label(d).map_or(d.to_string(), |c| c.label().to_string()))
    };
    choice(a) == choice(b) && a.reviewer == b.reviewer && a.decided_on == b.decided_on
}

/// The decision a row records, if it is one of its report's, and what keeps it from being
/// complete (empty: complete).
fn assess(choices: &[Decision], review: &Review, as_of: Option<NaiveDate>) -> (Option<Decision>, Vec<String>) {
    let mut problems = Vec::new();
    let choice = match review.decision.as_deref() {
        None => {
            problems.push("no decision".to_string());
            None
        }
        Some(text) => match Decision::from_label(text).filter(|d| choices.contains(d)) {
            Some(d) => Some(d),
            None => {
                let offered: Vec<&str> = choices.iter().map(|d| d.label()).collect();
                problems.push(format!("\"{}\" is not a decision of this report ({})", shown(text), offered.join(", ")));
                None
            }
        },
    };
    if review.reviewer.is_none() {
        problems.push("no reviewer".to_string());
    }
    match &review.decided_on {
        None => problems.push("no date (DecidedOn)".to_string()),
        Some(DecidedOn::Text(t)) => problems.push(format!("DecidedOn \"{}\" is not a date (YYYY-MM-DD)", shown(t))),
        Some(DecidedOn::Date(d)) if as_of.is_some_and(|a| *d < a) => {
            problems.push(format!("DecidedOn {} is before the as-of date", d.format("%Y-%m-%d")));
        }
        Some(DecidedOn::Date(_)) => {}
    }
    (choice, problems)
}

/// What the rows' decisions add up to, row by row: counts per report and per reviewer, what is
/// missing, `decisions.csv` and the remediation.
struct Tally<'h> {
    holdings: &'h Holdings,
    as_of: Option<NaiveDate>,
    counts: BTreeMap<String, ReportCounts>,
    reviewers: BTreeMap<String, ReviewerCounts>,
    missing: Vec<Missing>,
    manual: Vec<ManualAction>,
    remediation: Remediation,
    decisions: csv::Writer<Vec<u8>>,
}

impl<'h> Tally<'h> {
    fn new(holdings: &'h Holdings, as_of: Option<NaiveDate>) -> Tally<'h> {
        let mut decisions = csv_writer();
        decisions
            .write_record([
                "Report",
                "Id",
                "federation_id",
                "username",
                "email",
                "Decision",
                "Reviewer",
                "DecidedOn",
                "Ticket",
                "Comment",
            ])
            .expect("writing to memory");
        Tally {
            holdings,
            as_of,
            counts: BTreeMap::new(),
            reviewers: BTreeMap::new(),
            missing: Vec::new(),
            manual: Vec::new(),
            remediation: Remediation::default(),
            decisions,
        }
    }

    /// Counts one row of `report`, with the decision read for it (none: undecided).
    fn row(&mut self, report: &CsvReport, row: &CsvRow, read: Option<&Decided>) {
        let kind = &report.kind;
        let slug = kind.slug();
        let count = self.counts.entry(slug.clone()).or_default();
        count.rows += 1;
        count.findings += usize::from(row.finding);
        let review = read.map(|d| d.review.clone()).unwrap_or_default();
        let (choice, problems) = assess(kind.decisions(), &review, self.as_of);
        let [id, federation_id, username, email] = row.key.parts();
        self.decisions
            .write_record(
                [
                    slug.as_str(),
                    id,
                    federation_id,
                    username,
                    email,
                    &choice.map_or_else(|| review.decision.clone().unwrap_or_default(), |c| c.label().to_string()),
                    review.reviewer.as_deref().unwrap_or_default(),
                    &review.decided_on.as_ref().map(decided_text).unwrap_or_default(),
                    review.ticket.as_deref().unwrap_or_default(),
                    review.comment.as_deref().unwrap_or_default(),
                ]
                .map(|f| neutralise(f).into_owned()),
            )
            .expect("writing to memory");
        let complete = problems.is_empty();
        // A finding must be decided; another row only when someone wrote in it.
        let needs = row.finding || !review.is_empty();
        if needs && (review.reviewer.is_some() || !complete) {
            let name = review.reviewer.clone().unwrap_or_default();
            let r = self
                .reviewers
                .entry(name.clone())
                .or_insert_with(|| ReviewerCounts { reviewer: name, ..Default::default() });
            if complete { r.decided += 1 } else { r.incomplete += 1 }
        }
        if complete && let Some(choice) = choice {
            *count.decisions.entry(choice.label()).or_default() += 1;
            count.decided += usize::from(row.finding);
            match (kind, &row.key) {
                (ReviewedReport::Org(kind), FindingKey::User(user)) => {
                    self.remediation.add(*kind, user, choice, &review, self.holdings, &mut self.manual)
                }
                (ReviewedReport::App { app, .. }, FindingKey::Account(account))
                    if choice == Decision::DisableAccount =>
                {
                    self.remediation.disable(app, account, report.text(row, "AccountUserName"))
                }
                _ => {}
            }
        } else if needs {
            count.incomplete += usize::from(row.finding);
            let who = match kind.is_roster_entries() {
                true if username.is_empty() => email.to_string(),
                true => username.to_string(),
                false => report.text(row, kind.who_column()).to_string(),
            };
            self.missing.push(Missing {
                report: slug,
                sheet: kind.sheet_name(),
                id: id.to_string(),
                federation_id: federation_id.to_string(),
                username: username.to_string(),
                email: email.to_string(),
                who,
                finding: row.finding,
                reviewer: review.reviewer.clone(),
                workbook: read.map(|d| d.file.clone()),
                row: read.map(|d| d.row),
                problems,
            });
        }
    }
}

/// Deviations, listed up to [`DEVIATIONS_LISTED`], counted beyond.
#[derive(Default)]
struct Deviations {
    listed: Vec<String>,
    more: usize,
}

impl Deviations {
    fn push(&mut self, line: String) {
        if self.listed.len() < DEVIATIONS_LISTED {
            self.listed.push(line);
        } else {
            self.more += 1;
        }
    }

    fn is_empty(&self) -> bool {
        self.listed.is_empty()
    }

    fn into_list(mut self) -> Vec<String> {
        if self.more > 0 {
            self.listed.push(format!("… and {} more deviations", self.more));
        }
        self.listed
    }
}

/// The records each complete action asks an admin to change.
#[derive(Default)]
struct Remediation {
    psa_delete: Vec<String>,
    upl_delete: Vec<String>,
    deactivate: Vec<String>,
    freeze: Vec<String>,
    /// Per application, the accounts decided `Disable account`: `(AccountId, userName)`.
    disable: BTreeMap<String, Vec<(String, String)>>,
}

impl Remediation {
    fn add(
        &mut self,
        kind: ReportKind,
        user: &str,
        decision: Decision,
        review: &Review,
        holdings: &Holdings,
        manual: &mut Vec<ManualAction>,
    ) {
        let held = holdings.users.get(user).cloned().unwrap_or_default();
        let mut note = |why: &'static str| {
            manual.push(ManualAction {
                report: kind.slug().to_string(),
                id: user.to_string(),
                decision: decision.label(),
                reviewer: review.reviewer.clone().unwrap_or_default(),
                ticket: review.ticket.clone(),
                comment: review.comment.clone(),
                why,
            })
        };
        match decision {
            Decision::Deactivate => self.deactivate.push(user.to_string()),
            Decision::Freeze if held.logins.is_empty() => note("the user has no UserLogin record to freeze"),
            Decision::Freeze => self.freeze.extend(held.logins),
            Decision::RemoveAccess => {
                self.psa_delete.extend(held.assignments);
                self.upl_delete.extend(held.licences);
            }
            Decision::GrantAccess => note("which access to grant is the reviewer's call: see Ticket and Comment"),
            _ => {}
        }
    }

    /// An application's account decided `Disable account`, for `<app>-disable.csv`.
    fn disable(&mut self, app: &str, account: &str, user_name: &str) {
        self.disable.entry(app.to_string()).or_default().push((account.to_string(), user_name.to_string()));
    }

    /// `(remediation/<file>, rows, bytes)` for every action with at least one record: a header of
    /// the fields, one record per line, LF line ends (as `sf data … bulk` reads by default on macOS
    /// and Linux; Data Loader reads either).
    fn files(mut self) -> Vec<(String, usize, Vec<u8>)> {
        let mut out = Vec::new();
        let sets: [(&str, &str, Option<&str>, &mut Vec<String>); 4] = [
            ("PermissionSetAssignment-delete.csv", "Id", None, &mut self.psa_delete),
            ("UserPackageLicense-delete.csv", "Id", None, &mut self.upl_delete),
            ("User-deactivate.csv", "Id,IsActive", Some("false"), &mut self.deactivate),
            ("UserLogin-freeze.csv", "Id,IsFrozen", Some("true"), &mut self.freeze),
        ];
        for (name, header, value, ids) in sets {
            ids.sort();
            ids.dedup();
            if ids.is_empty() {
                continue;
            }
            let mut text = format!("{header}\n");
            for id in ids.iter() {
                match value {
                    Some(v) => {
                        let _ = writeln!(text, "{id},{v}");
                    }
                    None => {
                        let _ = writeln!(text, "{id}");
                    }
                }
            }
            out.push((format!("remediation/{name}"), ids.len(), text.into_bytes()));
        }
        // The applications' accounts: for their administrators, one CSV per application, text
        // guarded against formulas (a userName is the application's data).
        for (app, mut accounts) in std::mem::take(&mut self.disable) {
            accounts.sort();
            accounts.dedup();
            let mut csv = csv::WriterBuilder::new().from_writer(Vec::new());
            csv.write_record(["AccountId", "userName"]).expect("writing to memory");
            for (id, user_name) in &accounts {
                csv.write_record([id, user_name].map(|f| neutralise(f).into_owned())).expect("writing to memory");
            }
            out.push((format!("remediation/{app}-disable.csv"), accounts.len(), csv.into_inner().expect("in memory")));
        }
        out
    }
}

fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new())
}

/// The review in plain words, for the terminal.
fn describe(signoff: &SignOff, folder: &Folder, files: &[(String, Vec<u8>)]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "review of {} (run {}, org {}, as of {})",
        folder.dir.display(),
        signoff.run_id,
        signoff.org_id,
        signoff.as_of
    );
    let state = |b: &WorkbookRead| if b.as_written { "as written, nothing filled in" } else { "saved since" };
    let (main, parts): (Vec<&WorkbookRead>, Vec<&WorkbookRead>) = signoff
        .workbooks
        .iter()
        .partition(|b| !b.file.starts_with(&format!("{}/", crate::render::xlsx::split::FOLDER)));
    let mut books: Vec<String> = main.iter().map(|b| format!("{} ({})", b.file, state(b))).collect();
    if !parts.is_empty() {
        let saved = parts.iter().filter(|b| !b.as_written).count();
        books.push(format!("{} per-manager workbooks in by-manager/ ({saved} saved since)", parts.len()));
    }
    let _ = writeln!(out, "workbooks read: {}", books.join(", "));
    for file in &signoff.missing_workbooks {
        let _ = writeln!(
            out,
            "  {file} is no longer in the folder: its rows count as undecided unless another workbook decides them"
        );
    }
    if signoff.belongs {
        let _ =
            writeln!(out, "belongs to the run: yes (run id, manifest, findings and evidence as the run wrote them)");
    } else {
        let _ = writeln!(out, "belongs to the run: NO, {} deviation(s):", signoff.deviations.len());
        for d in &signoff.deviations {
            let _ = writeln!(out, "  {d}");
        }
    }
    let findings: usize = signoff.reports.values().map(|c| c.findings).sum();
    let open: usize = signoff.reports.values().map(|c| c.incomplete).sum();
    if signoff.complete {
        let _ =
            writeln!(out, "complete: yes, every one of the {findings} findings has a decision, a reviewer and a date");
    } else {
        let _ = writeln!(
            out,
            "complete: NO, {open} of {findings} findings, and {} other row(s), are not completely decided:",
            signoff.missing.len() - open
        );
        let mut sheets: Vec<&str> = Vec::new();
        for m in &signoff.missing {
            if !sheets.contains(&m.sheet.as_str()) {
                sheets.push(&m.sheet);
            }
        }
        for sheet in sheets {
            let rows: Vec<&Missing> = signoff.missing.iter().filter(|m| m.sheet == sheet).collect();
            let _ = writeln!(out, "  sheet {sheet}: {}", rows.len());
            for m in rows {
                let at = m.row.map(|r| format!("row {r}, ")).unwrap_or_default();
                let id = if m.id.is_empty() { String::new() } else { format!("{} ", m.id) };
                let kind = if m.finding { "" } else { " (not a finding)" };
                let _ = writeln!(out, "    {at}{id}{}{kind}: {}", shown(&m.who), m.problems.join("; "));
            }
        }
        let _ = writeln!(out, "  per reviewer:");
        for r in &signoff.reviewers {
            let name = if r.reviewer.is_empty() { "(no reviewer)".to_string() } else { shown(&r.reviewer) };
            let _ = writeln!(out, "    {name}: {} decided, {} incomplete", r.decided, r.incomplete);
        }
    }
    let mut by_choice: BTreeMap<&str, usize> = BTreeMap::new();
    for counts in signoff.reports.values() {
        for (choice, n) in &counts.decisions {
            *by_choice.entry(choice).or_default() += n;
        }
    }
    let choices: Vec<String> = by_choice.iter().map(|(c, n)| format!("{c} {n}")).collect();
    let _ = writeln!(out, "decisions: {}", if choices.is_empty() { "none".to_string() } else { choices.join(", ") });
    for action in &signoff.manual_actions {
        let _ = writeln!(out, "  by hand: {} {} ({}): {}", action.decision, action.id, action.report, action.why);
    }
    let names: Vec<String> = files
        .iter()
        .map(|(name, _)| {
            let rows = signoff.remediation.iter().find(|r| r.file == *name).map(|r| format!(" ({} rows)", r.rows));
            format!("review/{name}{}", rows.unwrap_or_default())
        })
        .collect();
    let _ = writeln!(out, "written: {}", names.join(", "));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review(decision: &str, reviewer: &str, date: Option<DecidedOn>) -> Review {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Review { decision: some(decision), reviewer: some(reviewer), decided_on: date, ticket: None, comment: None }
    }

    #[test]
    fn a_decision_is_complete_with_a_choice_of_its_report_a_reviewer_and_a_date() {
        let as_of = NaiveDate::from_ymd_opt(2026, 11, 20);
        let day = |d| Some(DecidedOn::Date(NaiveDate::from_ymd_opt(2026, 11, d).unwrap()));
        let ok = assess(ReportKind::InactiveUsers.decisions(), &review("freeze", "Ana", day(20)), as_of);
        assert_eq!(ok, (Some(Decision::Freeze), vec![]));
        let (choice, problems) =
            assess(ReportKind::CertiniaAccessLacking.decisions(), &review("Freeze", "", day(19)), as_of);
        assert_eq!(choice, None);
        assert_eq!(
            problems,
            [
                "\"Freeze\" is not a decision of this report (Grant access, Not needed, Investigate)",
                "no reviewer",
                "DecidedOn 2026-11-19 is before the as-of date"
            ]
        );
        let (_, problems) = assess(
            ReportKind::AccessMatrix.decisions(),
            &review("", "Bo", Some(DecidedOn::Text("soon".into()))),
            as_of,
        );
        assert_eq!(problems, ["no decision", "DecidedOn \"soon\" is not a date (YYYY-MM-DD)"]);
    }

    #[test]
    fn evidence_compares_as_the_csv_wrote_it() {
        let t = chrono::NaiveDate::from_ymd_opt(2025, 10, 21).unwrap().and_hms_opt(1, 40, 47).unwrap();
        assert!(same_evidence(&Value::DateTime(t), Some(Column::LastLoginDate), "2025-10-21T01:40:47Z"));
        assert!(same_evidence(&Value::Number(395.0), Some(Column::DaysSinceLogin), "395"));
        assert!(same_evidence(&Value::Bool(false), Some(Column::IsFrozen), "false"));
        assert!(same_evidence(&Value::Text("=1+1".into()), Some(Column::Email), "'=1+1"));
        assert!(same_evidence(&Value::Empty, Some(Column::Title), ""));
        assert!(!same_evidence(&Value::Text("Ana".into()), Some(Column::Name), "Anna"));
        let long = "é".repeat(40_000);
        let cut = crate::render::xlsx::cell_text(&long).into_owned();
        assert!(same_evidence(&Value::Text(cut.clone()), Some(Column::Title), &long));
        assert!(!same_evidence(&Value::Text(cut), Some(Column::Title), &"é".repeat(39_999)));
    }

    #[test]
    fn remediation_files_are_loadable_and_never_repeat_an_id() {
        let mut holdings = Holdings::default();
        holdings.users.insert(
            "005A".into(),
            Held {
                assignments: vec!["0PaB".into(), "0PaA".into()],
                licences: vec!["051A".into()],
                logins: vec!["060A".into()],
            },
        );
        let mut r = Remediation::default();
        let mut manual = Vec::new();
        let yes = review("x", "Ana", None);
        r.add(ReportKind::CertiniaAccessRetained, "005A", Decision::RemoveAccess, &yes, &holdings, &mut manual);
        r.add(ReportKind::AccessMatrix, "005A", Decision::RemoveAccess, &yes, &holdings, &mut manual);
        r.add(ReportKind::InactiveUsers, "005A", Decision::Freeze, &yes, &holdings, &mut manual);
        r.add(ReportKind::InactiveUsers, "005B", Decision::Freeze, &yes, &holdings, &mut manual);
        r.add(ReportKind::NeverLoggedIn, "005B", Decision::Deactivate, &yes, &holdings, &mut manual);
        r.add(ReportKind::CertiniaAccessLacking, "005C", Decision::GrantAccess, &yes, &holdings, &mut manual);
        let files: BTreeMap<String, String> =
            r.files().into_iter().map(|(n, _, b)| (n, String::from_utf8(b).unwrap())).collect();
        assert_eq!(files["remediation/PermissionSetAssignment-delete.csv"], "Id\n0PaA\n0PaB\n");
        assert_eq!(files["remediation/UserPackageLicense-delete.csv"], "Id\n051A\n");
        assert_eq!(files["remediation/User-deactivate.csv"], "Id,IsActive\n005B,false\n");
        assert_eq!(files["remediation/UserLogin-freeze.csv"], "Id,IsFrozen\n060A,true\n");
        assert_eq!(
            manual.iter().map(|m| (m.id.as_str(), m.decision)).collect::<Vec<_>>(),
            [("005B", "Freeze"), ("005C", "Grant access")]
        );
    }
}
