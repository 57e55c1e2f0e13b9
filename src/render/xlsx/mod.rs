//! `access-review.xlsx`: the workbook reviewers work in, and that becomes the review record.
//!
//! Sheets, in order: `Summary` (org, as-of, run id, rows and findings per report,
//! with the comparison with the previous review when there is one, each report's
//! name linking to its sheet, and the population), `Instructions` (what each
//! report and each decision means, how to hand the workbook back), `Managers`
//! (with `--split-by manager`: the index of the per-manager workbooks), one sheet
//! per report present ([`ReportKind::sheet_name`]), the lists beside the reports
//! (`Resolved`, `Not done`, `Exclusions`, when present), the other applications'
//! sheets ([`apps`]: one per report of each application read over SCIM, and the
//! SCIM cross-check), and `Run` (everything
//! needed to reproduce the run, and the run id and manifest SHA-256 that `review`
//! checks).
//!
//! **Report sheets** ([`tables`]): one Excel table (filter buttons) over the
//! report's columns, then the reviewer columns [`REVIEW_COLUMNS`]: `Decision`
//! (a drop-down of that report's own choices, [`ReportKind::decisions`]),
//! `Reviewer`, `DecidedOn` (a date cell, validated as a date on or after the as-of
//! date), `Ticket` and `Comment`.
//!
//! **Protection**: every sheet is protected without a password, so that nothing is
//! changed by accident; only the reviewer cells are unlocked. Filters, sorting
//! (where the spreadsheet allows it on a protected sheet), column widths and row
//! heights stay usable. `review` checks the evidence anyway: protection without a
//! password prevents accidents, not intent.
//!
//! **Print**: landscape, one page wide, the header row repeated on every page, a
//! header with the org, the sheet and the as-of date, a footer with the run id and
//! "Page N of M".
//!
//! **Layout**: the header row and the columns naming the row (Id, Username, Name)
//! are frozen, so they stay in view while scrolling to the reviewer columns.
//! Column widths are computed from the formatted values (dates included) within
//! caps; text longer than its column wraps. A number, date or boolean never
//! shows `###`: its column is always wider than its formatted value.
//!
//! Values keep their types: dates are date cells (`yyyy-mm-dd hh:mm`, UTC),
//! booleans are booleans, counts are numbers. Text is always written as a string,
//! never through `write()` or as a formula, and text that Excel would read as a
//! formula if someone re-enters the cell also gets the quote-prefix style. The `Id`
//! cell links to the user's page on the org's own instance, and only when the
//! instance URL is `https`/`http` and the Id is a real 15/18-character Id.
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
//!
//! With `--split-by manager` ([`split`]), the same workbook is also written once
//! per manager under `by-manager/`, each with only the rows of that manager's
//! reports.

mod apps;
mod sheets;
pub mod split;
mod tables;

use std::borrow::Cow;

use rust_xlsxwriter::{Color, DocProperties, Format, FormatAlign, ProtectionOptions, Workbook, Worksheet, XlsxError};

use super::{RenderError, RenderedFile, Renderer};
use crate::model::{Audit, ReportKind, Seats};
use crate::text::visible;

pub use split::Manager;

pub const FILE_NAME: &str = "access-review.xlsx";
pub const SUMMARY_SHEET: &str = "Summary";
pub const INSTRUCTIONS_SHEET: &str = "Instructions";
pub const MANAGERS_SHEET: &str = "Managers";
pub const RUN_SHEET: &str = "Run";
/// The Run sheet's row holding the run id, and the one holding the manifest's SHA-256.
pub const RUN_ID_KEY: &str = "Run id";
pub const MANIFEST_KEY: &str = "Snapshot manifest SHA-256";
/// Rows in an Excel sheet, the header row included.
pub const MAX_SHEET_ROWS: usize = 1_048_576;
/// Characters (UTF-16 code units) in an Excel cell.
pub const MAX_CELL_TEXT: usize = 32_767;
/// Hyperlinks Excel accepts in one sheet.
pub const MAX_LINKS: usize = 65_530;
/// The reviewer columns after every report's own columns.
pub const REVIEW_COLUMNS: [&str; 5] = ["Decision", "Reviewer", "DecidedOn", "Ticket", "Comment"];

const DATETIME_FORMAT: &str = "yyyy-mm-dd hh:mm";
const DATE_FORMAT: &str = "yyyy-mm-dd";

/// Writes `access-review.xlsx`, and with `--split-by manager` one workbook per manager.
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
        let managers = audit.meta.split_by_manager.then(|| split::by_manager(audit));
        let index = managers.as_ref().map(|m| m.iter().map(|(manager, _)| manager.clone()).collect::<Vec<_>>());
        let xlsx_err = |file: &str| {
            let file = file.to_string();
            move |source| RenderError::Xlsx { file, source }
        };
        let bytes = workbook(audit, &Scope::Whole { managers: index.as_deref() }).map_err(xlsx_err(FILE_NAME))?;
        let mut files = vec![RenderedFile { name: FILE_NAME.to_string(), bytes }];
        for (manager, part) in managers.iter().flatten() {
            let bytes = workbook(part, &Scope::Manager(manager)).map_err(xlsx_err(&manager.file))?;
            files.push(RenderedFile { name: manager.file.clone(), bytes });
        }
        Ok(files)
    }
}

/// Which workbook is being written: the whole review, or one manager's part of it.
pub(crate) enum Scope<'a> {
    /// The main workbook; with `--split-by manager`, the managers of its index sheet.
    Whole {
        managers: Option<&'a [Manager]>,
    },
    Manager(&'a Manager),
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

/// The formats, made once. Every format leaves cells locked, except the reviewer ones.
pub(crate) struct Formats {
    pub title: Format,
    pub bold: Format,
    pub header: Format,
    pub datetime: Format,
    pub date: Format,
    /// Booleans. LibreOffice reads an XLSX boolean as the number 1 or 0 (from `=TRUE()`) and may
    /// show it so; this number format shows TRUE or FALSE there too (Excel shows booleans as such
    /// whatever the format).
    pub boolean: Format,
    /// For text Excel would take for a formula if the cell were edited.
    pub guarded: Format,
    pub wrap: Format,
    pub guarded_wrap: Format,
    pub note: Format,
    /// The reviewer cells: unlocked.
    pub reviewer: Format,
    pub reviewer_wrap: Format,
    pub reviewer_date: Format,
    /// A table's header cells: wrapped, so that long column names take two lines.
    pub table_header: Format,
    /// A sum of money (a seat's yearly cost): two decimals.
    pub amount: Format,
}

impl Formats {
    pub(crate) fn new() -> Formats {
        let wrap = Format::new().set_text_wrap();
        Formats {
            amount: Format::new().set_num_format("#,##0.00"),
            title: Format::new().set_bold().set_font_size(16),
            bold: Format::new().set_bold(),
            header: Format::new().set_bold().set_background_color(Color::RGB(0xEEF1F4)),
            datetime: Format::new().set_num_format(DATETIME_FORMAT).set_align(FormatAlign::Left),
            date: Format::new().set_num_format(DATE_FORMAT).set_align(FormatAlign::Left),
            boolean: Format::new().set_num_format("\"TRUE\";\"TRUE\";\"FALSE\"").set_align(FormatAlign::Center),
            guarded: Format::new().set_quote_prefix(),
            guarded_wrap: wrap.clone().set_quote_prefix(),
            wrap,
            note: Format::new().set_italic().set_font_color(Color::RGB(0x424A53)),
            reviewer: Format::new().set_unlocked().set_background_color(Color::RGB(0xFFF8E1)),
            reviewer_wrap: Format::new().set_unlocked().set_text_wrap().set_background_color(Color::RGB(0xFFF8E1)),
            reviewer_date: Format::new()
                .set_unlocked()
                .set_num_format(DATE_FORMAT)
                .set_align(FormatAlign::Left)
                .set_background_color(Color::RGB(0xFFF8E1)),
            table_header: Format::new().set_bold().set_text_wrap().set_align(FormatAlign::Top),
        }
    }
}

/// The workbook's bytes (report sheets in constant-memory mode: rows go to temporary files
/// as they are written, and only the compressed workbook is held in memory).
fn workbook(audit: &Audit, scope: &Scope<'_>) -> Result<Vec<u8>, XlsxError> {
    let f = Formats::new();
    let links = LinkPolicy::new(&audit.meta.instance_url);
    let page = PageSetup::new(audit);
    let mut workbook = Workbook::new();
    // The document date is the as-of instant, not the wall clock: same audit, same file.
    workbook.set_properties(
        &DocProperties::new()
            .set_title("Certinia access review")
            .set_author("access-audit")
            .set_comment(format!("access-audit {}, run {}", audit.meta.tool_version, audit.meta.run_id))
            .set_creation_datetime(&audit.meta.as_of),
    );
    sheets::summary(page.apply(workbook.add_worksheet(), SUMMARY_SHEET)?, audit, scope, &f)?;
    sheets::instructions(page.apply(workbook.add_worksheet(), INSTRUCTIONS_SHEET)?, audit, &f)?;
    if let Scope::Whole { managers: Some(managers) } = scope {
        sheets::managers(page.apply(workbook.add_worksheet(), MANAGERS_SHEET)?, managers, &f)?;
    }
    if let Scope::Whole { .. } = scope {
        tables::seats_sheet(page.apply(workbook.add_worksheet(), Seats::SHEET)?, &audit.seats, &f)?;
    }
    for report in &audit.reports {
        let ws = page.apply(workbook.add_worksheet_with_constant_memory()?, report.kind.sheet_name())?;
        tables::report_sheet(ws, audit, report, &f, &links)?;
    }
    if let Scope::Whole { .. } = scope {
        apps::sheets(&mut workbook, audit, &page, &f, &links)?;
        for list in audit.lists() {
            tables::list_sheet(page.apply(workbook.add_worksheet(), list.sheet)?, &list, &f)?;
        }
    }
    sheets::run(page.apply(workbook.add_worksheet(), RUN_SHEET)?, audit, scope, &f)?;
    workbook.save_to_buffer()
}

/// Print setup, header, footer and protection, the same on every sheet.
struct PageSetup {
    header: String,
    footer: String,
}

impl PageSetup {
    fn new(audit: &Audit) -> PageSetup {
        let org = header_text(audit.meta.org_name.as_deref().unwrap_or(&audit.meta.org_id), 60);
        let as_of = audit.meta.as_of.format("%Y-%m-%d %H:%M UTC");
        PageSetup {
            header: format!("&L{org}&C&A&Ras of {as_of}"),
            footer: format!("&Laccess-audit run {}&CPage &P of &N", audit.meta.run_id),
        }
    }

    /// Names the sheet, protects it (reviewer cells stay editable, filters and sorting allowed),
    /// and sets it up for printing: landscape, one page wide, header and footer.
    fn apply<'w>(&self, ws: &'w mut Worksheet, name: &str) -> Result<&'w mut Worksheet, XlsxError> {
        ws.set_name(name)?;
        ws.protect_with_options(&ProtectionOptions {
            select_locked_cells: true,
            select_unlocked_cells: true,
            format_columns: true,
            format_rows: true,
            sort: true,
            use_autofilter: true,
            ..ProtectionOptions::default()
        });
        ws.set_landscape();
        ws.set_print_fit_to_pages(1, 0);
        ws.set_header(&self.header);
        ws.set_footer(&self.footer);
        Ok(ws)
    }
}

/// Org text as a header or footer may hold it: control characters dropped, `&` doubled (it starts
/// a control code there), at most `max` characters.
fn header_text(text: &str, max: usize) -> String {
    let clean: String = text.chars().filter(|c| !c.is_control()).take(max).collect();
    clean.replace('&', "&&")
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

/// The text a workbook cell cut by [`cell_text`] kept, and how many characters were cut; `None`
/// for a cell that was not cut.
pub fn uncut(cell: &str) -> Option<(&str, usize)> {
    let start = cell.rfind("… [cut: ")?;
    let count = cell[start..].strip_prefix("… [cut: ")?.strip_suffix(" characters]")?;
    Some((&cell[..start], count.parse().ok()?))
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

/// Writes org text as a string cell, whatever it looks like: controls made visible, cut to fit;
/// wrapped when `wrap`.
fn write_text_as(ws: &mut Worksheet, row: u32, col: u16, text: &str, wrap: bool, f: &Formats) -> Result<(), XlsxError> {
    let shown = visible(text);
    let text = cell_text(&shown);
    let format = match (looks_like_formula(&text), wrap) {
        (true, true) => Some(&f.guarded_wrap),
        (true, false) => Some(&f.guarded),
        (false, true) => Some(&f.wrap),
        (false, false) => None,
    };
    match format {
        Some(format) => ws.write_string_with_format(row, col, text.as_ref(), format)?,
        None => ws.write_string(row, col, text.as_ref())?,
    };
    Ok(())
}

/// [`write_text_as`], unwrapped.
pub(crate) fn write_text(ws: &mut Worksheet, row: u32, col: u16, text: &str, f: &Formats) -> Result<(), XlsxError> {
    write_text_as(ws, row, col, text, false, f)
}

/// Which Ids get a link to the user's page: only on the org's own http(s) instance.
pub(crate) struct LinkPolicy {
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

    /// The user's page, for a well-formed Salesforce Id.
    fn url(&self, id: &str) -> Option<String> {
        crate::model::user_url(self.base.as_ref()?, id)
    }
}

/// Column widths from the widest formatted value, in Excel's character units.
///
/// A column is as wide as its widest value plus two characters of padding (at least as wide as
/// its header plus room for the filter button), and no wider than `cap`; but a number, date or
/// boolean is never cut by the cap (Excel would show `###`), so the cap applies to text only.
#[derive(Debug, Clone)]
pub(crate) struct Widths {
    /// Widest text (longest line, in characters) and widest non-text value per column.
    text: Vec<usize>,
    value: Vec<usize>,
    caps: Vec<usize>,
}

/// Characters of padding beside a value, and room for a filter button beside a header.
const PADDING: usize = 2;
const FILTER_BUTTON: usize = 3;
/// The height of a header row whose long names wrap onto two lines, in points.
pub(crate) const HEADER_HEIGHT: f64 = 30.0;
/// The height of one line of text in a row, in points (Excel's default row), and the most lines a
/// row is given (Excel's row height limit is 409 points).
pub(crate) const LINE_HEIGHT: f64 = 15.0;
pub(crate) const MAX_LINES: usize = 27;

impl Widths {
    /// Starts from the headers (`filter`: a table header, with a filter button) and per-column caps.
    /// A table header may wrap onto two lines ([`HEADER_HEIGHT`]), so that a long column name does
    /// not widen a column of short values: it needs half its length (and its filter button).
    pub(crate) fn new(headers: &[&str], caps: Vec<usize>, filter: bool) -> Widths {
        let need = |h: &&str| {
            let len = h.chars().count();
            if filter { (len.div_ceil(2) + FILTER_BUTTON).max(8).min(len + FILTER_BUTTON) - PADDING } else { len }
        };
        Widths { text: headers.iter().map(need).collect(), value: vec![0; headers.len()], caps }
    }

    /// Counts text of `chars` characters (its longest line) in column `col`.
    pub(crate) fn text(&mut self, col: usize, chars: usize) {
        self.text[col] = self.text[col].max(chars);
    }

    /// Counts a number, date or boolean shown as `chars` characters in column `col`.
    pub(crate) fn value(&mut self, col: usize, chars: usize) {
        self.value[col] = self.value[col].max(chars);
    }

    /// Counts one typed cell.
    pub(crate) fn cell(&mut self, col: usize, cell: &crate::model::Cell) {
        use crate::model::Cell;
        match cell {
            Cell::Empty => {}
            Cell::Text(t) => self.text(col, longest_line(t)),
            Cell::Bool(_) => self.value(col, "FALSE".len()),
            Cell::DateTime(t) if excel_can_date(t) => self.value(col, DATETIME_FORMAT.len()),
            Cell::DateTime(t) => self.text(col, super::rfc3339(*t).len()),
            Cell::Date(_) => self.value(col, DATE_FORMAT.len()),
            Cell::Integer(n) => self.value(col, n.to_string().len()),
            Cell::Amount(a) => self.value(col, format!("{a:.2}").len()),
        }
    }

    /// Whether text of `chars` characters wraps in column `col` (it is wider than the column).
    pub(crate) fn wraps(&self, col: usize, chars: usize) -> bool {
        chars + PADDING > self.width(col) as usize
    }

    /// The lines text takes in column `col` when it wraps, estimated generously (a spreadsheet
    /// program without the workbook's font uses a wider one): a row is made that tall, because
    /// LibreOffice does not grow a row for wrapped text on opening a workbook.
    pub(crate) fn lines(&self, col: usize, text: &str) -> usize {
        let usable = (self.width(col) as usize).saturating_sub(PADDING).max(1) as f64;
        text.lines().map(|l| ((l.chars().count() as f64 * 1.2) / usable).ceil().max(1.0) as usize).sum::<usize>().max(1)
    }

    pub(crate) fn width(&self, col: usize) -> f64 {
        let text = (self.text[col] + PADDING).min(self.caps[col]);
        let value = if self.value[col] == 0 { 0 } else { self.value[col] + PADDING };
        text.max(value).max(4) as f64
    }

    pub(crate) fn apply(&self, ws: &mut Worksheet) -> Result<(), XlsxError> {
        for col in 0..self.text.len() {
            ws.set_column_width(col as u16, self.width(col))?;
        }
        Ok(())
    }

    /// Fixed widths (a sheet of prose), for estimating the lines of its wrapped text.
    pub(crate) fn fixed(widths: &[usize]) -> Widths {
        Widths {
            text: widths.iter().map(|w| w - PADDING).collect(),
            value: vec![0; widths.len()],
            caps: widths.to_vec(),
        }
    }
}

/// The wrapped cells of a sheet written in memory, to make their rows tall enough once the column
/// widths are known.
#[derive(Default)]
pub(crate) struct Wrapped(Vec<(u32, usize, String)>);

impl Wrapped {
    pub(crate) fn add(&mut self, row: u32, col: usize, text: &str) {
        self.0.push((row, col, text.to_string()));
    }

    pub(crate) fn fit(&self, ws: &mut Worksheet, widths: &Widths) -> Result<(), XlsxError> {
        let mut lines: std::collections::BTreeMap<u32, usize> = std::collections::BTreeMap::new();
        for (row, col, text) in &self.0 {
            let n = widths.lines(*col, text).min(MAX_LINES);
            let entry = lines.entry(*row).or_insert(1);
            *entry = (*entry).max(n);
        }
        for (row, n) in lines.into_iter().filter(|(_, n)| *n > 1) {
            ws.set_row_height(row, LINE_HEIGHT * n as f64)?;
        }
        Ok(())
    }
}

/// The longest line of a text, in characters, as the cell will show it.
pub(crate) fn longest_line(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0).min(MAX_CELL_TEXT)
}

#[cfg(test)]
mod tests;
