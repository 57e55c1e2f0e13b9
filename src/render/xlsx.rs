//! `access-review.xlsx`: the workbook reviewers fill in and keep as the review record.
//!
//! Sheets, in order: `Summary` (org, as-of, rows per report, each report's name
//! linking to its sheet, and the population counts), one sheet per report
//! present ([`ReportKind::sheet_name`]), the other applications' sheets
//! ([`apps`]), and `Run` (everything needed to
//! reproduce the run: org, rules, roster and snapshot hashes, the SOQL of each
//! query).
//!
//! Each report sheet is one Excel table (filter buttons, banded rows) over the
//! report's columns plus three reviewer columns, `Decision` (a Keep / Revoke /
//! Investigate drop-down on every row), `Reviewer` and `Comment`; the header
//! row is frozen. Values keep their types: dates are date cells
//! (`yyyy-mm-dd hh:mm`, UTC), booleans are booleans, counts are numbers. Text
//! is always written as a string, never through `write()` or as a formula, and
//! text that Excel would read as a formula if someone re-enters the cell also
//! gets the quote-prefix style. The `Id` cell links to the user's page on the
//! org's own instance, and only when the instance URL is `https`/`http` and the
//! Id is a real 15/18-character Id.
//!
//! Org text has its control characters shown as visible symbols
//! ([`crate::text::visible`], the same in every format).
//!
//! Excel limits, handled rather than hit: a cell holds 32,767 characters (longer
//! text is cut on a character boundary and ends in a visible mark,
//! `… [cut: N characters]`, N being how many were cut; the CSV keeps the whole
//! text), dates exist from 1900 to 9999 (a date outside, which Excel would show
//! as `####`, is written as its RFC 3339 text instead), a sheet 1,048,576 rows
//! (a bigger report fails with [`RenderError::TooManyRows`] before anything is
//! written) and 65,530 hyperlinks (Ids past that are plain text). Report sheets
//! use rust_xlsxwriter's constant-memory mode, so 100k rows stay cheap.

mod apps;

use std::borrow::Cow;

use rust_xlsxwriter::{
    Color, DataValidation, DocProperties, Format, FormatAlign, Table, TableColumn, TableStyle, Url, Workbook,
    Worksheet, XlsxError,
};

use super::{RenderError, RenderedFile, Renderer, each_row, explanation};
use crate::model::{Audit, Cell, Column, ColumnType, Report, ReportKind};
use crate::text::visible;

pub const FILE_NAME: &str = "access-review.xlsx";
pub const SUMMARY_SHEET: &str = "Summary";
pub const RUN_SHEET: &str = "Run";
/// Rows in an Excel sheet, the header row included.
pub const MAX_SHEET_ROWS: usize = 1_048_576;
/// Characters (UTF-16 code units) in an Excel cell.
pub const MAX_CELL_TEXT: usize = 32_767;
/// Hyperlinks Excel accepts in one sheet.
pub const MAX_LINKS: usize = 65_530;
/// The reviewer columns after every report's own columns.
pub const REVIEW_COLUMNS: [&str; 3] = ["Decision", "Reviewer", "Comment"];
/// The choices of the `Decision` drop-down.
pub const DECISIONS: [&str; 3] = ["Keep", "Revoke", "Investigate"];

const DATETIME_FORMAT: &str = "yyyy-mm-dd hh:mm";

/// Writes `access-review.xlsx`.
pub struct XlsxRenderer;

impl Renderer for XlsxRenderer {
    fn name(&self) -> &'static str {
        "xlsx"
    }

    fn render(&self, audit: &Audit) -> Result<Vec<RenderedFile>, RenderError> {
        for report in &audit.reports {
            check_rows(report.kind, report.rows.len())?;
        }
        apps::check_rows(audit)?;
        let bytes = workbook(audit).map_err(|source| RenderError::Xlsx { file: FILE_NAME.to_string(), source })?;
        Ok(vec![RenderedFile { name: FILE_NAME.to_string(), bytes }])
    }
}

/// Fails when a report cannot fit in one sheet under its header row.
pub fn check_rows(kind: ReportKind, rows: usize) -> Result<(), RenderError> {
    if rows >= MAX_SHEET_ROWS {
        return Err(RenderError::TooManyRows {
            report: kind.title(),
            slug: kind.slug(),
            rows,
            max: MAX_SHEET_ROWS - 1,
        });
    }
    Ok(())
}

/// The formats, made once.
struct Formats {
    title: Format,
    bold: Format,
    header: Format,
    datetime: Format,
    /// For text Excel would take for a formula if the cell were edited.
    guarded: Format,
    wrap: Format,
    reviewer: Format,
    note: Format,
}

impl Formats {
    fn new() -> Formats {
        Formats {
            title: Format::new().set_bold().set_font_size(16),
            bold: Format::new().set_bold(),
            header: Format::new().set_bold().set_background_color(Color::RGB(0xEEF1F4)),
            datetime: Format::new().set_num_format(DATETIME_FORMAT).set_align(FormatAlign::Left),
            guarded: Format::new().set_quote_prefix(),
            wrap: Format::new().set_text_wrap().set_align(FormatAlign::Top),
            reviewer: Format::new().set_unlocked(),
            note: Format::new().set_italic().set_font_color(Color::RGB(0x424A53)),
        }
    }
}

/// The workbook's bytes (report sheets in constant-memory mode: rows go to temporary files
/// as they are written, and only the compressed workbook is held in memory).
fn workbook(audit: &Audit) -> Result<Vec<u8>, XlsxError> {
    let formats = Formats::new();
    let links = LinkPolicy::new(&audit.meta.instance_url);
    let mut workbook = Workbook::new();
    // The document date is the as-of instant, not the wall clock: same audit, same file.
    workbook.set_properties(
        &DocProperties::new()
            .set_title("Certinia access review")
            .set_author("access-audit")
            .set_comment(format!("access-audit {}", audit.meta.tool_version))
            .set_creation_datetime(&audit.meta.as_of),
    );
    summary_sheet(workbook.add_worksheet(), audit, &formats)?;
    for report in &audit.reports {
        report_sheet(workbook.add_worksheet_with_constant_memory()?, audit, report, &formats, &links)?;
    }
    apps::sheets(&mut workbook, audit, &formats, &links)?;
    run_sheet(workbook.add_worksheet(), audit, &formats)?;
    workbook.save_to_buffer()
}

/// The mark that ends a cut cell: `… [cut: 1234 characters]`.
fn cut_mark(cut: usize) -> String {
    format!("… [cut: {cut} characters]")
}

/// Cuts text to Excel's cell limit on a character boundary, ending in [`cut_mark`] when cut.
pub fn cell_text(text: &str) -> Cow<'_, str> {
    // Fast path: a UTF-8 string of at most MAX_CELL_TEXT bytes has at most as many UTF-16 units.
    if text.len() <= MAX_CELL_TEXT || text.encode_utf16().count() <= MAX_CELL_TEXT {
        return Cow::Borrowed(text);
    }
    // Room for the mark at its longest: no more characters can be cut than the text has.
    let total = text.chars().count();
    let budget = MAX_CELL_TEXT - cut_mark(total).encode_utf16().count();
    let mut units = 0;
    let mut end = 0;
    let mut kept = 0;
    for (i, ch) in text.char_indices() {
        if units + ch.len_utf16() > budget {
            break;
        }
        units += ch.len_utf16();
        end = i + ch.len_utf8();
        kept += 1;
    }
    Cow::Owned(format!("{}{}", &text[..end], cut_mark(total - kept)))
}

/// Whether Excel can show `t` as a date: its calendar runs from 1900-01-01 to 9999-12-31.
fn excel_can_date(t: &chrono::DateTime<chrono::Utc>) -> bool {
    use chrono::Datelike;
    (1900..=9999).contains(&t.year())
}

/// Whether Excel would turn the text into a formula if the cell were re-entered.
fn looks_like_formula(text: &str) -> bool {
    text.starts_with(['=', '+', '-', '@'])
}

/// Writes org text as a string cell, whatever it looks like: controls made visible, cut to fit.
fn write_text(ws: &mut Worksheet, row: u32, col: u16, text: &str, f: &Formats) -> Result<(), XlsxError> {
    let shown = visible(text);
    let text = cell_text(&shown);
    if looks_like_formula(&text) {
        ws.write_string_with_format(row, col, text.as_ref(), &f.guarded)?;
    } else {
        ws.write_string(row, col, text.as_ref())?;
    }
    Ok(())
}

/// Which Ids get a link to the user's page: only on the org's own http(s) instance.
struct LinkPolicy {
    base: Option<String>,
}

impl LinkPolicy {
    fn new(instance_url: &str) -> LinkPolicy {
        let base = url::Url::parse(instance_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some())
            .filter(|u| u.query().is_none() && u.fragment().is_none())
            .map(|_| instance_url.trim_end_matches('/').to_string());
        LinkPolicy { base }
    }

    /// The user's page, for a well-formed Salesforce Id ([`crate::model::user_url`]).
    fn url(&self, id: &str) -> Option<String> {
        crate::model::user_url(self.base.as_ref()?, id)
    }
}

/// Column width in characters, wide enough for the header and its filter button.
fn width(column: Column) -> f64 {
    let base: f64 = match column {
        Column::Id => 21.0,
        Column::Username | Column::Email | Column::RosterUsername | Column::RosterEmail => 30.0,
        Column::Name | Column::Profile | Column::Title | Column::RosterFederationId => 24.0,
        Column::UserLicense | Column::UserRole | Column::Department => 20.0,
        Column::Status | Column::ExpectedBy | Column::MatchedBy => 13.0,
        Column::CreatedDate | Column::LastLoginDate => 17.0,
        Column::CertiniaPermissionSets | Column::MatchedUserIds | Column::Reason | Column::DataWarnings => 40.0,
        Column::CertiniaPermissionSetGroups => 36.0,
        Column::CertiniaLicenses => 24.0,
        _ => 10.0,
    };
    base.max(column.header().len() as f64 + 4.0)
}

/// `inactive_users`: a valid, unique Excel table name.
fn table_name(kind: ReportKind) -> String {
    kind.slug().replace('-', "_")
}

fn report_sheet(
    ws: &mut Worksheet,
    audit: &Audit,
    report: &Report,
    f: &Formats,
    links: &LinkPolicy,
) -> Result<(), XlsxError> {
    let kind = report.kind;
    let columns = kind.columns();
    ws.set_name(kind.sheet_name())?;

    // Widths first: constant-memory sheets are written row by row.
    for (i, column) in columns.iter().enumerate() {
        ws.set_column_width(i as u16, width(*column))?;
    }
    let decision = columns.len() as u16;
    let widths = [14.0, 20.0, 60.0];
    for (offset, w) in widths.iter().enumerate() {
        let col = decision + offset as u16;
        ws.set_column_width(col, *w)?;
        ws.set_column_format(col, &f.reviewer)?;
    }
    ws.set_freeze_panes(1, 0)?;

    // A table needs one data row: an empty report gets one blank row under its header.
    let last_row = report.rows.len().max(1) as u32;
    let last_col = decision + REVIEW_COLUMNS.len() as u16 - 1;
    let headers: Vec<TableColumn> =
        columns.iter().map(|c| c.header()).chain(REVIEW_COLUMNS).map(|h| TableColumn::new().set_header(h)).collect();
    let table = Table::new()
        .set_name(table_name(kind))
        .set_columns(&headers)
        .set_style(TableStyle::Medium2)
        .set_autofilter(true)
        .set_alt_text_title(kind.title())
        .set_alt_text(explanation(kind, audit));
    ws.add_table(0, 0, last_row, last_col, &table)?;
    let choices = DataValidation::new()
        .allow_list_strings(&DECISIONS)?
        .set_input_title("Decision")?
        .set_input_message("Keep, Revoke or Investigate")?;
    ws.add_data_validation(1, decision, last_row, decision, &choices)?;

    let mut row = 0u32;
    let mut linked = 0usize;
    each_row(&report.rows, columns, |cells| {
        row += 1;
        for (i, (cell, column)) in cells.iter().zip(columns).enumerate() {
            let col = i as u16;
            match cell {
                Cell::Empty => {}
                Cell::Text(id) if column.column_type() == ColumnType::UserId && linked < MAX_LINKS => {
                    match links.url(id) {
                        Some(url) => {
                            ws.write_url_with_text(row, col, Url::new(url), id.as_str())?;
                            linked += 1;
                        }
                        None => write_text(ws, row, col, id, f)?,
                    }
                }
                Cell::Text(text) => write_text(ws, row, col, text, f)?,
                Cell::Bool(b) => {
                    ws.write_boolean(row, col, *b)?;
                }
                Cell::DateTime(t) if excel_can_date(t) => {
                    ws.write_datetime_with_format(row, col, t.naive_utc(), &f.datetime)?;
                }
                Cell::DateTime(t) => write_text(ws, row, col, &super::rfc3339(*t), f)?,
                Cell::Integer(n) => {
                    ws.write_number(row, col, *n as f64)?;
                }
            }
        }
        Ok::<(), XlsxError>(())
    })?;
    Ok(())
}

fn summary_sheet(ws: &mut Worksheet, audit: &Audit, f: &Formats) -> Result<(), XlsxError> {
    let meta = &audit.meta;
    ws.set_name(SUMMARY_SHEET)?;
    ws.set_column_width(0, 32)?;
    ws.set_column_width(1, 12)?;
    ws.set_column_width(2, 12)?;
    ws.set_column_width(3, 110)?;

    ws.write_string_with_format(0, 0, "Certinia access review", &f.title)?;
    let mut row = 2;
    let org_name = meta.org_name.as_deref().unwrap_or("(unnamed org)");
    for (key, value) in [
        ("Org", org_name),
        ("Org Id", meta.org_id.as_str()),
        ("Instance", meta.instance_url.as_str()),
        ("Environment", if meta.is_sandbox { "Sandbox" } else { "Production" }),
    ] {
        ws.write_string_with_format(row, 0, key, &f.bold)?;
        write_text(ws, row, 1, value, f)?;
        row += 1;
    }
    ws.write_string_with_format(row, 0, "As of (UTC)", &f.bold)?;
    ws.write_datetime_with_format(row, 1, meta.as_of.naive_utc(), &f.datetime)?;
    row += 1;
    ws.write_string_with_format(row, 0, "Pulled at", &f.bold)?;
    write_text(ws, row, 1, &meta.pulled_at, f)?;
    row += 1;
    ws.write_string_with_format(row, 0, "Tool", &f.bold)?;
    ws.write_string(row, 1, format!("access-audit {}", meta.tool_version))?;
    row += 2;

    for (col, header) in ["Report", "Rows", "Type", "Who is in it"].iter().enumerate() {
        ws.write_string_with_format(row, col as u16, *header, &f.header)?;
    }
    row += 1;
    for report in &audit.reports {
        let kind = report.kind;
        // The report's name links to its sheet; the count stays a number.
        let link = Url::new(format!("internal:'{}'!A1", kind.sheet_name())).set_text(kind.title());
        ws.write_url(row, 0, link)?;
        ws.write_number(row, 1, report.rows.len() as f64)?;
        ws.write_string(row, 2, if kind.is_finding() { "finding" } else { "inventory" })?;
        ws.write_string_with_format(row, 3, explanation(kind, audit), &f.wrap)?;
        row += 1;
    }
    row = apps::summary_rows(ws, row, audit, f)?;
    ws.write_string_with_format(row, 0, "Findings to review (grace-period users not counted)", &f.bold)?;
    ws.write_number_with_format(row, 1, audit.findings() as f64, &f.bold)?;
    row += 2;

    let s = &audit.summary;
    ws.write_string_with_format(row, 0, "Population", &f.header)?;
    ws.write_string_with_format(row, 1, "Users", &f.header)?;
    row += 1;
    for (label, n) in [
        ("Users in the org", s.users_in_org),
        ("Audited users", s.audited_users),
        ("Active (not frozen)", s.active),
        ("Frozen", s.frozen),
        ("Deactivated", s.deactivated),
        ("With a Certinia grant", s.with_certinia_grant),
        ("With a Certinia licence", s.with_certinia_license),
    ] {
        ws.write_string(row, 0, label)?;
        ws.write_number(row, 1, n as f64)?;
        row += 1;
    }
    row += 1;
    if !audit.notes.run.is_empty() {
        ws.write_string_with_format(row, 0, "Notes", &f.header)?;
        row += 1;
        for note in &audit.notes.run {
            write_text(ws, row, 0, note, f)?;
            row += 1;
        }
        row += 1;
    }
    ws.write_string_with_format(
        row,
        0,
        "All dates and times are UTC. Record each review in the Decision, Reviewer and Comment columns of the \
         report sheets. The Run sheet says how this workbook was made.",
        &f.note,
    )?;
    Ok(())
}

fn run_sheet(ws: &mut Worksheet, audit: &Audit, f: &Formats) -> Result<(), XlsxError> {
    let meta = &audit.meta;
    let rules = &meta.rules;
    ws.set_name(RUN_SHEET)?;
    for (col, w) in [28.0, 40.0, 10.0, 68.0, 110.0].iter().enumerate() {
        ws.set_column_width(col as u16, *w)?;
    }
    let join = |items: &[String]| {
        if items.is_empty() { "(none)".to_string() } else { items.join(", ") }
    };
    let roster = rules.roster.as_ref();
    let mut row = 0;
    let texts: [(&str, String); 8] = [
        ("Org Id", meta.org_id.clone()),
        ("Org name", meta.org_name.clone().unwrap_or_default()),
        ("Instance", meta.instance_url.clone()),
        ("Sandbox", meta.is_sandbox.to_string()),
        ("Pulled at", meta.pulled_at.clone()),
        ("Tool version", meta.tool_version.clone()),
        ("API version", meta.api_version.clone()),
        ("Audited user types", join(&rules.user_types)),
    ];
    for (key, value) in &texts {
        ws.write_string_with_format(row, 0, *key, &f.bold)?;
        write_text(ws, row, 1, value, f)?;
        row += 1;
    }
    ws.write_string_with_format(row, 0, "As of (UTC)", &f.bold)?;
    ws.write_datetime_with_format(row, 1, meta.as_of.naive_utc(), &f.datetime)?;
    row += 1;
    for (key, n) in [("Inactive after (days)", rules.inactive_days), ("Grace period (days)", rules.grace_days)] {
        ws.write_string_with_format(row, 0, key, &f.bold)?;
        ws.write_number(row, 1, f64::from(n))?;
        row += 1;
    }
    let more: [(&str, String); 5] = [
        ("Certinia namespaces", join(&rules.namespaces)),
        (
            "Name patterns",
            if rules.name_patterns.is_empty() { "(none)".into() } else { rules.name_patterns.join("\n") },
        ),
        ("Roster file", roster.map(|r| r.file.clone()).unwrap_or_else(|| "(none)".into())),
        ("Roster SHA-256", roster.map(|r| r.sha256.clone()).unwrap_or_default()),
        ("Snapshot manifest SHA-256", meta.manifest_sha256.clone()),
    ];
    for (key, value) in &more {
        ws.write_string_with_format(row, 0, *key, &f.bold)?;
        write_text(ws, row, 1, value, f)?;
        row += 1;
    }
    if let Some(r) = roster {
        ws.write_string_with_format(row, 0, "Roster entries", &f.bold)?;
        ws.write_number(row, 1, r.entries as f64)?;
        row += 1;
    }

    row += 1;
    ws.write_string_with_format(row, 0, "Snapshot files", &f.title)?;
    row += 1;
    let headers = ["Object", "File", "Rows", "SHA-256", "SOQL"];
    if meta.sources.is_empty() {
        ws.write_string_with_format(row, 0, "(none recorded)", &f.note)?;
        return Ok(());
    }
    let columns: Vec<TableColumn> = headers.iter().map(|h| TableColumn::new().set_header(*h)).collect();
    let first = row;
    let last = first + meta.sources.len() as u32;
    ws.add_table(
        first,
        0,
        last,
        headers.len() as u16 - 1,
        &Table::new().set_name("snapshot_files").set_columns(&columns).set_style(TableStyle::Light9),
    )?;
    for (i, source) in meta.sources.iter().enumerate() {
        let r = first + 1 + i as u32;
        write_text(ws, r, 0, &source.object, f)?;
        write_text(ws, r, 1, &source.file, f)?;
        ws.write_number(r, 2, source.rows as f64)?;
        write_text(ws, r, 3, &source.sha256, f)?;
        write_text(ws, r, 4, &source.soql, f)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Rows;
    use crate::render::tests::{CONTROLS, CONTROLS_SHOWN, EVIL_LINK, SCRIPT, hostile, sample_audit};
    use calamine::{Data, Reader, Xlsx};

    fn render(audit: &Audit) -> Vec<u8> {
        let mut files = XlsxRenderer.render(audit).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].name, FILE_NAME);
        files.remove(0).bytes
    }

    fn open(bytes: &[u8]) -> Xlsx<std::io::Cursor<Vec<u8>>> {
        Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap()
    }

    fn header(range: &calamine::Range<Data>) -> Vec<String> {
        range.rows().next().unwrap().iter().map(|c| c.to_string()).collect()
    }

    fn column(range: &calamine::Range<Data>, name: &str) -> usize {
        header(range).iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"))
    }

    #[test]
    fn sheets_are_summary_reports_run() {
        let audit = sample_audit();
        let bytes = render(&audit);
        let book = open(&bytes);
        let mut expected = vec![SUMMARY_SHEET.to_string()];
        expected.extend(audit.reports.iter().map(|r| r.kind.sheet_name().to_string()));
        expected.push(RUN_SHEET.to_string());
        assert_eq!(book.sheet_names(), expected);
    }

    #[test]
    fn report_sheets_have_headers_reviewer_columns_and_tables() {
        let audit = sample_audit();
        let bytes = render(&audit);
        let mut book = open(&bytes);
        book.load_tables().unwrap();
        for report in &audit.reports {
            let range = book.worksheet_range(report.kind.sheet_name()).unwrap();
            let mut expected: Vec<String> = report.kind.columns().iter().map(|c| c.header().to_string()).collect();
            expected.extend(REVIEW_COLUMNS.iter().map(|s| s.to_string()));
            assert_eq!(header(&range), expected, "{}", report.kind.sheet_name());
            let data_rows = range.rows().skip(1).filter(|r| r.iter().any(|c| *c != Data::Empty)).count();
            assert_eq!(data_rows, report.rows.len(), "{}", report.kind.sheet_name());
            let tables = book.table_names_in_sheet(report.kind.sheet_name());
            assert_eq!(tables, [&table_name(report.kind)], "{}", report.kind.sheet_name());
        }
        // The empty report still has a valid table: its header and one blank row.
        let empty = book.table_by_name("unexpected_access").unwrap();
        assert_eq!(empty.columns().last().map(String::as_str), Some("Comment"));
    }

    #[test]
    fn values_keep_their_types() {
        let audit = sample_audit();
        let bytes = render(&audit);
        let mut book = open(&bytes);
        let range = book.worksheet_range(ReportKind::InactiveUsers.sheet_name()).unwrap();
        let first = range.rows().nth(1).unwrap();
        assert!(matches!(first[column(&range, "LastLoginDate")], Data::DateTime(_)), "{first:?}");
        assert!(matches!(first[column(&range, "CreatedDate")], Data::DateTime(_)));
        assert_eq!(first[column(&range, "IsActive")], Data::Bool(true));
        assert!(matches!(first[column(&range, "DaysSinceLogin")], Data::Float(d) if d == 120.0), "{first:?}");
        assert_eq!(first[column(&range, "Id")], Data::String("005000000000003AAA".into()));

        // The date is the exact instant: 2024-06-30 12:20:30 UTC minus 120 days.
        let Data::DateTime(dt) = &first[column(&range, "LastLoginDate")] else { unreachable!() };
        let expected = audit.meta.as_of - chrono::Duration::days(120);
        let epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30).unwrap().and_hms_opt(0, 0, 0).unwrap();
        let serial = (expected.naive_utc() - epoch).num_milliseconds() as f64 / 86_400_000.0;
        assert!((dt.as_f64() - serial).abs() < 1e-6, "{} vs {serial}", dt.as_f64());

        // A login after the as-of instant: no count, a warning.
        let matrix = book.worksheet_range(ReportKind::AccessMatrix.sheet_name()).unwrap();
        let (id, days, warnings) =
            (column(&matrix, "Id"), column(&matrix, "DaysSinceLogin"), column(&matrix, "DataWarnings"));
        let future = matrix.rows().find(|r| r[id] == Data::String("005000000000054AAA".into())).unwrap();
        assert_eq!(future[days], Data::Empty);
        assert_eq!(
            future[warnings],
            Data::String("LastLoginDate: 2024-07-03T12:20:30Z is after the as-of instant 2024-06-30T12:20:30Z".into())
        );
        assert!(matrix.rows().skip(1).all(|r| !matches!(r[days], Data::Float(d) if d < 0.0)));
    }

    #[test]
    fn dates_excel_cannot_show_are_text() {
        let mut audit = sample_audit();
        let old = chrono::DateTime::parse_from_rfc3339("1850-03-01T10:00:00Z").unwrap().to_utc();
        let first_excel_day = chrono::DateTime::parse_from_rfc3339("1900-01-01T00:00:00Z").unwrap().to_utc();
        if let Some(Report { rows: Rows::Users(users), .. }) =
            audit.reports.iter_mut().find(|r| r.kind == ReportKind::NeverLoggedIn)
        {
            users[0].created = first_excel_day;
            users[1].created = old;
        }
        let bytes = render(&audit);
        let mut book = open(&bytes);
        let range = book.worksheet_range(ReportKind::NeverLoggedIn.sheet_name()).unwrap();
        let created = column(&range, "CreatedDate");
        let cells: Vec<&Data> = range.rows().skip(1).map(|r| &r[created]).collect();
        assert!(matches!(cells[0], Data::DateTime(d) if d.as_f64() == 1.0), "{:?}", cells[0]);
        assert_eq!(cells[1], &Data::String("1850-03-01T10:00:00Z".into()), "no negative serial (####)");
    }

    #[test]
    fn hostile_text_comes_back_as_strings_not_formulas() {
        let audit = sample_audit();
        let bytes = render(&audit);
        let mut book = open(&bytes);
        let sheet = ReportKind::AccessMatrix.sheet_name();
        let range = book.worksheet_range(sheet).unwrap();
        let name = column(&range, "Name");
        let names: Vec<&Data> = range.rows().skip(1).map(|r| &r[name]).collect();
        for text in hostile() {
            let shown = if text == CONTROLS { CONTROLS_SHOWN.to_string() } else { text.clone() };
            assert!(names.contains(&&Data::String(shown)), "{:?} not found", &text[..text.len().min(40)]);
        }
        let formulas = book.worksheet_formula(sheet).unwrap();
        assert!(formulas.used_cells().all(|(_, _, f)| f.is_empty()), "no formula cells");
        let retained = book.worksheet_range(ReportKind::CertiniaAccessRetained.sheet_name()).unwrap();
        let sets = column(&retained, "CertiniaPermissionSets");
        assert_eq!(
            retained.rows().nth(1).unwrap()[sets],
            Data::String(format!("PSA Resource [pse__Resource]; {EVIL_LINK}"))
        );
        let roster = book.worksheet_range(ReportKind::NotProvisioned.sheet_name()).unwrap();
        let row = roster.rows().nth(1).unwrap();
        assert_eq!(row[column(&roster, "federation_id")], Data::String(EVIL_LINK.into()));
        assert_eq!(row[column(&roster, "email")], Data::String(SCRIPT.into()));
        assert_eq!(row[column(&roster, "RosterLine")], Data::Float(2.0));
    }

    #[test]
    fn ids_link_to_the_org_and_summary_links_to_sheets() {
        let audit = sample_audit();
        let bytes = render(&audit);
        let mut book = open(&bytes);
        let links = book.hyperlinks_by_sheet_name(ReportKind::AccessMatrix.sheet_name()).unwrap();
        let rows = audit.report(ReportKind::AccessMatrix).unwrap().rows.len();
        assert_eq!(links.len(), rows);
        let targets: Vec<String> = links.iter().filter_map(|l| l.target.clone()).collect();
        let page = "https://acme.my.salesforce.com/lightning/r/User/005000000000000AAA/view";
        assert!(targets.contains(&page.to_string()), "{targets:?}");
        assert!(targets.iter().all(|t| t.starts_with("https://acme.my.salesforce.com/lightning/r/User/005")));

        let summary = book.hyperlinks_by_sheet_name(SUMMARY_SHEET).unwrap();
        assert_eq!(summary.len(), audit.reports.len());
        assert!(summary.iter().all(|l| l.target.is_none()), "internal links only");
        let range = book.worksheet_range(SUMMARY_SHEET).unwrap();
        let cells: Vec<String> = range.rows().map(|r| r[0].to_string()).collect();
        assert!(cells.contains(&"Inactive users".to_string()));
        let org = range.rows().find(|r| r[0] == Data::String("Org".into())).unwrap();
        assert_eq!(org[1], Data::String("Acme <script>alert(1)</script> & \"Co\"".into()));
        let as_of = range.rows().find(|r| r[0] == Data::String("As of (UTC)".into())).unwrap();
        assert!(matches!(as_of[1], Data::DateTime(_)));
    }

    #[test]
    fn run_sheet_records_rules_and_snapshot() {
        let audit = sample_audit();
        let bytes = render(&audit);
        let mut book = open(&bytes);
        let range = book.worksheet_range(RUN_SHEET).unwrap();
        let value = |key: &str| {
            range
                .rows()
                .find(|r| r[0] == Data::String(key.into()))
                .map(|r| r[1].clone())
                .unwrap_or_else(|| panic!("no {key}"))
        };
        assert_eq!(value("Org Id"), Data::String("00D000000000001EAA".into()));
        assert_eq!(value("Inactive after (days)"), Data::Float(90.0));
        assert_eq!(value("Grace period (days)"), Data::Float(14.0));
        assert_eq!(value("Roster file"), Data::String("roster <b>.csv".into()));
        assert_eq!(value("Snapshot manifest SHA-256"), Data::String("cd".repeat(32)));
        assert!(matches!(value("As of (UTC)"), Data::DateTime(_)));
        let soql = range.rows().find(|r| r[0] == Data::String("User".into())).unwrap();
        assert_eq!(soql[4], Data::String("SELECT Id, Username FROM User".into()));
        assert_eq!(soql[2], Data::Float(audit.meta.sources[0].rows as f64));
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        let short = "x".repeat(MAX_CELL_TEXT);
        assert!(matches!(cell_text(&short), Cow::Borrowed(_)));
        // Emoji are two UTF-16 units: the cut must not split one.
        // The mark at its longest here, `… [cut: 32767 characters]`, is 25 units: 32,742 are left
        // for the text, 16,371 emoji; 16,396 are cut.
        let long = "\u{1F600}".repeat(MAX_CELL_TEXT);
        let cut = cell_text(&long);
        let expected_long = format!("{}… [cut: 16396 characters]", "\u{1F600}".repeat(16_371));
        assert_eq!(cut, expected_long);
        assert_eq!(cut.encode_utf16().count(), MAX_CELL_TEXT);
        // 40,001 characters of one unit each: 32,742 kept, 7,259 cut (a shorter mark: 32,766 in all).
        let mixed = format!("a{}", "é".repeat(40_000));
        let cut = cell_text(&mixed);
        assert_eq!(cut, format!("a{}… [cut: 7259 characters]", "é".repeat(32_741)));
        assert!(cut.encode_utf16().count() <= MAX_CELL_TEXT);

        let mut audit = sample_audit();
        if let Some(Report { rows: Rows::Users(users), .. }) =
            audit.reports.iter_mut().find(|r| r.kind == ReportKind::AccessMatrix)
        {
            users[0].title = Some(long.clone());
        }
        let bytes = render(&audit);
        let mut book = open(&bytes);
        let range = book.worksheet_range(ReportKind::AccessMatrix.sheet_name()).unwrap();
        let title = column(&range, "Title");
        let Data::String(got) = &range.rows().nth(1).unwrap()[title] else { panic!("not a string") };
        assert_eq!(got, &expected_long);
    }

    #[test]
    fn too_many_rows_is_a_clear_error() {
        assert!(check_rows(ReportKind::AccessMatrix, MAX_SHEET_ROWS - 1).is_ok());
        let err = check_rows(ReportKind::AccessMatrix, MAX_SHEET_ROWS).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("Access matrix"), "{text}");
        assert!(text.contains("1048575"), "{text}");
        assert!(text.contains("access-matrix.csv"), "{text}");
    }

    #[test]
    fn links_only_for_real_ids_on_http_instances() {
        let policy = LinkPolicy::new("https://acme.my.salesforce.com/");
        assert_eq!(
            policy.url("005000000000001AAA").as_deref(),
            Some("https://acme.my.salesforce.com/lightning/r/User/005000000000001AAA/view")
        );
        assert_eq!(
            policy.url("005000000000001").as_deref(),
            Some("https://acme.my.salesforce.com/lightning/r/User/005000000000001/view")
        );
        assert_eq!(policy.url("../../evil"), None);
        assert_eq!(policy.url("005000000000001AA/"), None);
        assert_eq!(LinkPolicy::new("javascript:alert(1)").url("005000000000001AAA"), None);
        assert_eq!(LinkPolicy::new("file:///etc/passwd").url("005000000000001AAA"), None);
        assert_eq!(LinkPolicy::new("not a url").url("005000000000001AAA"), None);
    }

    #[test]
    fn same_audit_same_bytes() {
        let audit = sample_audit();
        assert_eq!(render(&audit), render(&audit));
    }
}
