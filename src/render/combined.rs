//! The combined summary of a run of several orgs, as the files of its own report folder.
//!
//! Takes the [`Combined`] summary and hands on, like every renderer, files as bytes:
//!
//! - `summary.html`: per org its counts per report, findings, the change since its previous
//!   report and its Certinia seats, or its failure with the one-line error; then the people found
//!   in several orgs (the first [`PAGE_PEOPLE`]), those deactivated in one org and still active in
//!   another first;
//! - `access-review.xlsx`: an `Orgs` sheet and a `Cross-org` sheet, every row;
//! - `orgs.csv` and `cross-org.csv`: the same two tables (formula-neutralised, as every CSV);
//! - `email.html` and `email.txt`: the run's one email, bounded like the single org's digest
//!   (the first [`EMAIL_ORGS`] orgs and [`EMAIL_PEOPLE`] people, every text clipped), with the
//!   same placeholders for where the folder is and what is attached;
//! - `summary.json`: the counts, per org, for scripts (format [`FORMAT`]).
//!
//! The cross-org table has, per org of the run, three columns: `ORG:Status` (`Active`, `Frozen`,
//! `Deactivated`; several users joined with `; `; empty when the person is not in that org),
//! `ORG:Username` and `ORG:CertiniaAccess`.

use chrono::SecondsFormat;
use rust_xlsxwriter::{Color, DocProperties, Format, Workbook, Worksheet, XlsxError};
use serde::Serialize;
use serde_json::{Value, json};

use super::email::{ATTACHMENTS_ALL, LOCATION_PLACEHOLDER};
use super::html::thousands;
use super::{RenderError, RenderedFile, clip};
use crate::combined::{Combined, CrossOrgPerson, OrgDigest, OrgOutcome};
use crate::model::{Cell, ReportKind};
use crate::text::visible;

/// `format` of the combined `summary.json`.
pub const FORMAT: &str = "access-audit-combined/1";
pub const HTML_FILE: &str = "summary.html";
pub const ORGS_CSV: &str = "orgs.csv";
pub const CROSS_ORG_CSV: &str = "cross-org.csv";
pub const ORGS_SHEET: &str = "Orgs";
pub const CROSS_ORG_SHEET: &str = "Cross-org";
/// People shown in `summary.html`; the workbook and the CSV hold every one.
pub const PAGE_PEOPLE: usize = 500;
/// Orgs and people shown in the email.
pub const EMAIL_ORGS: usize = 50;
pub const EMAIL_PEOPLE: usize = 25;

const HTML_TEMPLATE: &str = include_str!("../../templates/combined.html");
const TEXT_TEMPLATE: &str = include_str!("../../templates/combined.txt");

/// Every file of the combined summary's folder.
pub fn render(combined: &Combined) -> Result<Vec<RenderedFile>, RenderError> {
    let orgs = orgs_table(combined);
    let people = people_table(combined);
    let csv = |name: &str, table: &Table| -> Result<RenderedFile, RenderError> {
        Ok(RenderedFile {
            name: name.to_string(),
            bytes: table.csv().map_err(|source| RenderError::Csv { file: name.to_string(), source })?,
        })
    };
    let workbook = workbook(combined, &orgs, &people)
        .map_err(|source| RenderError::Xlsx { file: super::xlsx::FILE_NAME.to_string(), source })?;
    let page = View::new(combined, usize::MAX, PAGE_PEOPLE, 1100);
    let mail = View::new(combined, EMAIL_ORGS, EMAIL_PEOPLE, 640);
    let summary = serde_json::to_vec_pretty(&summary_json(combined))
        .map_err(|source| RenderError::Json { file: super::json::FILE_NAME.to_string(), source })?;
    Ok(vec![
        csv(ORGS_CSV, &orgs)?,
        csv(CROSS_ORG_CSV, &people)?,
        RenderedFile { name: super::xlsx::FILE_NAME.to_string(), bytes: workbook },
        RenderedFile { name: HTML_FILE.to_string(), bytes: template(HTML_FILE, &page)?.into_bytes() },
        RenderedFile { name: super::email::HTML_FILE.to_string(), bytes: template(HTML_FILE, &mail)?.into_bytes() },
        RenderedFile {
            name: super::email::TEXT_FILE.to_string(),
            bytes: template("combined.txt", &mail)?.into_bytes(),
        },
        RenderedFile { name: super::json::FILE_NAME.to_string(), bytes: [summary, b"\n".to_vec()].concat() },
    ])
}

fn template(name: &str, view: &View) -> Result<String, RenderError> {
    let fail = |source| RenderError::Template { file: name.to_string(), source };
    let mut tera = tera::Tera::new();
    tera.add_raw_templates([(HTML_FILE, HTML_TEMPLATE), ("combined.txt", TEXT_TEMPLATE)]).map_err(fail)?;
    let context = tera::Context::from_serialize(view).map_err(fail)?;
    tera.render(name, &context).map_err(fail)
}

/// A table of typed cells, written as CSV and as a sheet.
struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<Cell>>,
    /// Rows to mark (a person still active elsewhere).
    marked: Vec<bool>,
}

impl Table {
    fn csv(&self) -> Result<Vec<u8>, ::csv::Error> {
        let mut writer = ::csv::WriterBuilder::new()
            .terminator(::csv::Terminator::CRLF)
            .quote_style(::csv::QuoteStyle::Necessary)
            .from_writer(Vec::new());
        writer.write_record(self.headers.iter().map(|h| super::csv::neutralise(&visible(h)).into_owned()))?;
        for row in &self.rows {
            writer.write_record(row.iter().map(|c| super::csv::field(c).into_owned()))?;
        }
        writer.into_inner().map_err(|e| ::csv::Error::from(e.into_error()))
    }
}

fn text(s: &str) -> Cell {
    if s.is_empty() { Cell::Empty } else { Cell::Text(s.to_string()) }
}

fn count(n: u64) -> Cell {
    Cell::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

/// The report kinds any reported org has, in the reports' order.
fn kinds(combined: &Combined) -> Vec<ReportKind> {
    ReportKind::ALL
        .into_iter()
        .filter(|k| combined.reported().any(|d| d.reports.iter().any(|r| r.kind == *k)))
        .collect()
}

/// `orgs.csv`, the `Orgs` sheet: one row per org of the run.
fn orgs_table(combined: &Combined) -> Table {
    let kinds = kinds(combined);
    let mut headers: Vec<String> = ["Org", "Status", "OrgId", "OrgName", "Sandbox"].map(String::from).to_vec();
    headers.extend(kinds.iter().map(|k| k.slug().to_string()));
    headers.extend(
        ["Findings", "PreviousFindings", "Change", "SeatsHeld", "SeatsOnDeactivated", "Folder", "ExitCode", "Error"]
            .map(String::from),
    );
    let rows = combined
        .orgs
        .iter()
        .map(|o| match o {
            OrgOutcome::Reported(d) => {
                let mut row = vec![text(&d.name), text("reported"), text(&d.org_id)];
                row.push(d.org_name.as_deref().map(text).unwrap_or(Cell::Empty));
                row.push(Cell::Bool(d.is_sandbox));
                row.extend(kinds.iter().map(|k| {
                    d.reports.iter().find(|r| r.kind == *k).map(|r| count(r.rows as u64)).unwrap_or(Cell::Empty)
                }));
                row.push(count(d.findings as u64));
                row.push(d.previous.as_ref().map(|p| count(p.findings)).unwrap_or(Cell::Empty));
                row.push(d.change().map(Cell::Integer).unwrap_or(Cell::Empty));
                row.push(count(d.seats.held));
                row.push(count(d.seats.on_deactivated));
                row.push(text(&d.folder.display().to_string()));
                row.extend([Cell::Empty, Cell::Empty]);
                row
            }
            OrgOutcome::Failed { name, exit_code, error, previous, .. } => {
                let mut row = vec![text(name), text("failed")];
                row.extend(std::iter::repeat_n(Cell::Empty, 3 + kinds.len() + 1));
                row.push(previous.as_ref().map(|p| count(p.findings)).unwrap_or(Cell::Empty));
                row.extend(std::iter::repeat_n(Cell::Empty, 3));
                row.push(previous.as_ref().map(|p| text(&p.folder.display().to_string())).unwrap_or(Cell::Empty));
                row.push(Cell::Integer(i64::from(*exit_code)));
                row.push(text(error));
                row
            }
        })
        .collect::<Vec<_>>();
    let marked = vec![false; rows.len()];
    Table { headers, rows, marked }
}

/// `cross-org.csv`, the `Cross-org` sheet: one row per person found in several orgs.
fn people_table(combined: &Combined) -> Table {
    let mut headers: Vec<String> = ["FederationId", "Email", "Name", "StillActiveElsewhere"].map(String::from).to_vec();
    for o in &combined.orgs {
        for column in ["Status", "Username", "CertiniaAccess"] {
            headers.push(format!("{}:{column}", o.name()));
        }
    }
    let join = |p: &CrossOrgPerson, org: usize, f: &dyn Fn(&crate::combined::OrgUser) -> String| {
        p.in_orgs[org].iter().map(f).collect::<Vec<_>>().join("; ")
    };
    let rows = combined
        .people
        .iter()
        .map(|p| {
            let mut row = vec![
                p.federation_id.as_deref().map(text).unwrap_or(Cell::Empty),
                p.email.as_deref().map(text).unwrap_or(Cell::Empty),
                p.name.as_deref().map(text).unwrap_or(Cell::Empty),
                Cell::Bool(p.still_active_elsewhere),
            ];
            for org in 0..combined.orgs.len() {
                if p.in_orgs[org].is_empty() {
                    row.extend([Cell::Empty, Cell::Empty, Cell::Empty]);
                    continue;
                }
                row.push(text(&join(p, org, &|u| u.status.label().to_string())));
                row.push(text(&join(p, org, &|u| u.username.clone())));
                row.push(match p.in_orgs[org].as_slice() {
                    [one] => Cell::Bool(one.certinia_access),
                    _ => text(&join(p, org, &|u| u.certinia_access.to_string())),
                });
            }
            row
        })
        .collect();
    let marked = combined.people.iter().map(|p| p.still_active_elsewhere).collect();
    Table { headers, rows, marked }
}

fn workbook(combined: &Combined, orgs: &Table, people: &Table) -> Result<Vec<u8>, XlsxError> {
    let formats = super::xlsx::Formats::new();
    let marked = Format::new().set_bold().set_font_color(Color::RGB(0xA3271B));
    let mut workbook = Workbook::new();
    workbook.set_properties(
        &DocProperties::new()
            .set_title("Certinia access review: several orgs")
            .set_author("access-audit")
            .set_comment(format!("access-audit {}", combined.tool_version))
            .set_creation_datetime(&combined.as_of),
    );
    for (name, table) in [(ORGS_SHEET, orgs), (CROSS_ORG_SHEET, people)] {
        let ws = workbook.add_worksheet();
        ws.set_name(name)?;
        sheet(ws, table, &formats, &marked)?;
    }
    workbook.save_to_buffer()
}

fn sheet(ws: &mut Worksheet, table: &Table, f: &super::xlsx::Formats, marked: &Format) -> Result<(), XlsxError> {
    for (col, header) in table.headers.iter().enumerate() {
        let col = u16::try_from(col).unwrap_or(u16::MAX);
        super::xlsx::write_text(ws, 0, col, header, f)?;
        ws.set_cell_format(0, col, &f.header)?;
        ws.set_column_width(col, (header.chars().count() as f64 + 2.0).clamp(10.0, 40.0))?;
    }
    for (i, row) in table.rows.iter().enumerate() {
        let r = u32::try_from(i + 1).unwrap_or(u32::MAX);
        for (col, cell) in row.iter().enumerate() {
            let col = u16::try_from(col).unwrap_or(u16::MAX);
            match cell {
                Cell::Empty => {}
                Cell::Text(s) => super::xlsx::write_text(ws, r, col, s, f)?,
                Cell::Integer(n) => {
                    ws.write_number(r, col, *n as f64)?;
                }
                Cell::Amount(a) => {
                    ws.write_number(r, col, *a)?;
                }
                Cell::Bool(b) if *b && table.marked[i] => {
                    ws.write_boolean_with_format(r, col, *b, marked)?;
                }
                Cell::Bool(b) => {
                    ws.write_boolean(r, col, *b)?;
                }
                Cell::DateTime(t) => super::xlsx::write_text(ws, r, col, &super::rfc3339(*t), f)?,
                Cell::Date(d) => super::xlsx::write_text(ws, r, col, &d.format("%Y-%m-%d").to_string(), f)?,
            }
        }
    }
    let last_col = u16::try_from(table.headers.len().saturating_sub(1)).unwrap_or(u16::MAX);
    let last_row = u32::try_from(table.rows.len()).unwrap_or(u32::MAX);
    ws.autofilter(0, 0, last_row, last_col)?;
    ws.set_freeze_panes(1, 0)?;
    Ok(())
}

/// Rows per report of one org, by slug, in the reports' order.
fn report_rows(d: &OrgDigest) -> serde_json::Map<String, Value> {
    d.reports.iter().map(|r| (r.kind.slug().to_string(), json!(r.rows))).collect()
}

/// The summary for scripts: counts per org, and the people flagged across orgs.
fn summary_json(combined: &Combined) -> Value {
    let previous = |p: &Option<crate::combined::Previous>| {
        p.as_ref().map(|p| json!({ "folder": p.folder, "as_of": p.as_of, "findings": p.findings }))
    };
    let orgs: Vec<Value> = combined
        .orgs
        .iter()
        .map(|o| match o {
            OrgOutcome::Reported(d) => json!({
                "name": d.name,
                "status": "reported",
                "org": { "id": d.org_id, "name": d.org_name, "instance_url": d.instance_url, "is_sandbox": d.is_sandbox },
                "folder": d.folder,
                "reports": report_rows(d),
                "findings": d.findings,
                "audited_users": d.audited_users,
                "previous": previous(&d.previous),
                "change": d.change(),
                "seats": d.seats,
            }),
            OrgOutcome::Failed { name, exit_code, exit_name, error, previous: p } => json!({
                "name": name,
                "status": "failed",
                "exit_code": exit_code,
                "exit_name": exit_name,
                "error": error,
                "previous": previous(p),
            }),
        })
        .collect();
    let flagged: Vec<Value> = combined
        .people
        .iter()
        .filter(|p| p.still_active_elsewhere)
        .map(|p| {
            let in_orgs: serde_json::Map<String, Value> = combined
                .orgs
                .iter()
                .enumerate()
                .filter(|(i, _)| !p.in_orgs[*i].is_empty())
                .map(|(i, o)| {
                    let users = p.in_orgs[i]
                        .iter()
                        .map(|u| {
                            json!({
                                "id": u.id,
                                "username": u.username,
                                "status": u.status.label(),
                                "certinia_access": u.certinia_access,
                            })
                        })
                        .collect::<Vec<_>>();
                    (o.name().to_string(), Value::Array(users))
                })
                .collect();
            json!({ "federation_id": p.federation_id, "email": p.email, "name": p.name, "orgs": in_orgs })
        })
        .collect();
    json!({
        "format": FORMAT,
        "tool_version": combined.tool_version,
        "label": combined.label(),
        "as_of": combined.as_of.to_rfc3339_opts(SecondsFormat::Secs, true),
        "orgs": orgs,
        "reported": combined.reported().count(),
        "failed": combined.failed(),
        "findings": combined.findings(),
        "cross_org": {
            "people": combined.people.len(),
            "still_active_elsewhere": combined.still_active_elsewhere(),
            "flagged": flagged,
        },
    })
}

/// What the templates show, every org text clipped and made visible.
#[derive(Serialize)]
struct View {
    label: String,
    as_of: String,
    tool_version: String,
    width: u32,
    findings: String,
    findings_n: usize,
    findings_word: &'static str,
    reported: usize,
    reported_word: &'static str,
    failed: usize,
    failed_word: &'static str,
    flagged: usize,
    flagged_word: &'static str,
    report_titles: Vec<&'static str>,
    failed_span: usize,
    orgs: Vec<OrgView>,
    orgs_more: usize,
    people: Vec<PersonView>,
    people_total: usize,
    people_more: usize,
    location: &'static str,
    attachments: &'static str,
}

#[derive(Serialize)]
struct OrgView {
    name: String,
    detail: String,
    failed: bool,
    exit_code: i32,
    error: String,
    last_good: String,
    counts: Vec<String>,
    counts_line: String,
    findings: String,
    findings_n: usize,
    change: String,
    /// The change in words: `+3 since the last run`, `the first report`.
    change_line: String,
    seats: String,
    /// `12 Certinia seats, 3 of them on deactivated users`.
    seats_line: String,
}

#[derive(Serialize)]
struct PersonView {
    name: String,
    key: String,
    flagged: bool,
    states: String,
}

fn shown(s: &str, max: usize) -> String {
    clip(&visible(&s.split_whitespace().collect::<Vec<_>>().join(" ")), max)
}

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

impl View {
    fn new(combined: &Combined, max_orgs: usize, max_people: usize, width: u32) -> View {
        let kinds = kinds(combined);
        let findings = combined.findings();
        let reported = combined.reported().count();
        let failed = combined.failed();
        let flagged = combined.still_active_elsewhere();
        let orgs = combined.orgs.iter().take(max_orgs).map(|o| OrgView::new(o, &kinds)).collect();
        let people = combined
            .people
            .iter()
            .take(max_people)
            .map(|p| PersonView {
                name: shown(p.name.as_deref().unwrap_or("(no name)"), 60),
                key: shown(p.email.as_deref().or(p.federation_id.as_deref()).unwrap_or_default(), 80),
                flagged: p.still_active_elsewhere,
                states: shown(
                    &combined
                        .orgs
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| !p.in_orgs[*i].is_empty())
                        .map(|(i, o)| format!("{}: {}", o.name(), p.state_in(i)))
                        .collect::<Vec<_>>()
                        .join(" · "),
                    300,
                ),
            })
            .collect();
        View {
            label: shown(&combined.label(), 140),
            as_of: combined.as_of.format("%Y-%m-%d %H:%M UTC").to_string(),
            tool_version: combined.tool_version.clone(),
            width,
            findings: thousands(findings as u64),
            findings_n: findings,
            findings_word: plural(findings, "finding", "findings"),
            reported,
            reported_word: plural(reported, "org", "orgs"),
            failed,
            failed_word: plural(failed, "org", "orgs"),
            flagged,
            flagged_word: plural(flagged, "person", "people"),
            report_titles: kinds.iter().map(|k| k.title()).collect(),
            failed_span: kinds.len() + 3,
            orgs,
            orgs_more: combined.orgs.len().saturating_sub(max_orgs),
            people,
            people_total: combined.people.len(),
            people_more: combined.people.len().saturating_sub(max_people),
            location: LOCATION_PLACEHOLDER,
            attachments: ATTACHMENTS_ALL,
        }
    }
}

impl OrgView {
    fn new(outcome: &OrgOutcome, kinds: &[ReportKind]) -> OrgView {
        let last_good = |p: &Option<crate::combined::Previous>| match p {
            Some(p) => shown(&format!("Last good report: {} (as of {})", p.folder.display(), p.as_of), 200),
            None => "No earlier report of this org.".to_string(),
        };
        match outcome {
            OrgOutcome::Reported(d) => OrgView {
                name: shown(&d.name, 60),
                detail: detail(d),
                failed: false,
                exit_code: 0,
                error: String::new(),
                last_good: String::new(),
                counts: kinds
                    .iter()
                    .map(|k| {
                        d.reports.iter().find(|r| r.kind == *k).map(|r| thousands(r.rows as u64)).unwrap_or("–".into())
                    })
                    .collect(),
                counts_line: d
                    .reports
                    .iter()
                    .map(|r| format!("{} {}", r.kind.title(), thousands(r.rows as u64)))
                    .collect::<Vec<_>>()
                    .join(" · "),
                findings: thousands(d.findings as u64),
                findings_n: d.findings,
                change: change(d.change()).unwrap_or_else(|| "first report".to_string()),
                change_line: change(d.change())
                    .map(|c| format!("{c} since the last run"))
                    .unwrap_or_else(|| "the first report".to_string()),
                seats: format!("{} ({})", d.seats.held, d.seats.on_deactivated),
                seats_line: format!(
                    "{} Certinia {}, {} of them on deactivated users",
                    d.seats.held,
                    if d.seats.held == 1 { "seat" } else { "seats" },
                    d.seats.on_deactivated
                ),
            },
            OrgOutcome::Failed { name, exit_code, error, previous, .. } => OrgView {
                name: shown(name, 60),
                detail: String::new(),
                failed: true,
                exit_code: *exit_code,
                error: shown(error, 300),
                last_good: last_good(previous),
                counts: Vec::new(),
                counts_line: String::new(),
                findings: String::new(),
                findings_n: 0,
                change: String::new(),
                change_line: String::new(),
                seats: String::new(),
                seats_line: String::new(),
            },
        }
    }
}

/// The change in findings: `+3`, `±0`, `−2`; None for a first report.
fn change(n: Option<i64>) -> Option<String> {
    n.map(|n| match n {
        0 => "±0".to_string(),
        n if n > 0 => format!("+{n}"),
        n => format!("−{}", n.unsigned_abs()),
    })
}

/// `Acme Inc · sandbox · 00D…`: what the org is, under its name.
fn detail(d: &OrgDigest) -> String {
    let kind = if d.is_sandbox { "sandbox" } else { "production" };
    match &d.org_name {
        Some(name) => format!("{} · {kind} · {}", shown(name, 60), shown(&d.org_id, 18)),
        None => format!("{kind} · {}", shown(&d.org_id, 18)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::combined::{OrgUser, Seats};
    use crate::model::UserStatus;

    fn digest(name: &str, users: Vec<OrgUser>) -> OrgOutcome {
        OrgOutcome::Reported(OrgDigest {
            name: name.into(),
            org_id: "00D000000000001EAA".into(),
            org_name: Some(format!("{name} <script>alert(1)</script>")),
            is_sandbox: name.ends_with("sb"),
            instance_url: "https://acme.my.salesforce.com".into(),
            folder: std::path::PathBuf::from(format!("out/{name}")),
            reports: vec![],
            findings: 3,
            audited_users: users.len() as u64,
            seats: Seats { held: 2, on_deactivated: 1 },
            previous: None,
            users,
        })
    }

    fn person(n: usize, status: UserStatus) -> OrgUser {
        OrgUser {
            id: format!("005{n:015}"),
            username: format!("=cmd|{n}@acme.com"),
            name: Some(format!("{}<b>{n}</b>", "x".repeat(500))),
            email: Some(format!("p{n}@acme.com")),
            federation_id: None,
            status,
            certinia_access: true,
        }
    }

    #[test]
    fn the_email_stays_bounded_and_org_text_stays_data() {
        // 60 orgs with the same 300 people, deactivated in the first org and active elsewhere.
        let orgs: Vec<OrgOutcome> = (0..60)
            .map(|o| {
                let status = if o == 0 { UserStatus::Deactivated } else { UserStatus::Active };
                digest(&format!("org{o}"), (0..300).map(|n| person(n, status)).collect())
            })
            .collect();
        let combined = Combined::new(chrono::Utc::now(), orgs);
        let files = render(&combined).unwrap();
        let file = |name: &str| files.iter().find(|f| f.name == name).unwrap();
        let html = String::from_utf8(file("email.html").bytes.clone()).unwrap();
        assert!(html.len() < super::super::email::MAX_HTML_BYTES, "{} bytes", html.len());
        assert!(!html.contains("<script>") && !html.contains("<b>1</b>"), "org text is escaped");
        assert!(html.contains("and 10 more orgs") && html.contains("and 275 more"), "what was cut is said");
        // The CSV keeps every person, and no cell starts a formula.
        let csv = String::from_utf8(file("cross-org.csv").bytes.clone()).unwrap();
        assert_eq!(csv.lines().count(), 301);
        assert!(csv.contains("'=cmd|1@acme.com"), "neutralised");
        let json: Value = serde_json::from_slice(&file("summary.json").bytes).unwrap();
        assert_eq!(json["cross_org"]["still_active_elsewhere"], 300);
        assert_eq!(json["format"], FORMAT);
    }
}
