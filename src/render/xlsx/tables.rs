//! The data sheets: one per report (with the reviewer columns) and one per list beside the
//! reports (resolved, not done, exclusions), each one Excel table.

use rust_xlsxwriter::{DataValidation, DataValidationRule, Table, TableColumn, TableStyle, Url, Worksheet, XlsxError};

use super::{
    DATE_FORMAT, Formats, HEADER_HEIGHT, LINE_HEIGHT, LinkPolicy, MAX_LINES, MAX_LINKS, REVIEW_COLUMNS, Widths,
    excel_can_date, longest_line, write_text, write_text_as,
};
use crate::model::{Audit, Cell, Column, ColumnType, List, Report, ReportKind, Seats};
use crate::render::{each_row, explanation, rfc3339};

/// The widest a column of text gets before its text wraps, in characters: narrow enough that a
/// report prints one page wide at a readable size.
fn cap(column: Column) -> usize {
    match column {
        Column::Id | Column::ManagerId | Column::MatchedUserIds => 20,
        Column::Username | Column::Email | Column::ManagerEmail | Column::RosterUsername | Column::RosterEmail => 30,
        Column::CertiniaPermissionSets
        | Column::CertiniaPermissionSetGroups
        | Column::Reason
        | Column::DataWarnings
        | Column::PreviousDecision => 32,
        _ => 22,
    }
}

/// The reviewer columns' caps: Decision fits its longest choice (and the drop-down button).
fn reviewer_caps(kind: ReportKind) -> [usize; 5] {
    let longest = kind.decisions().iter().map(|d| d.label().len()).max().unwrap_or(8);
    [longest + 5, 18, 12, 14, 36]
}

/// The table's columns, their headers wrapped onto two lines where long.
pub(super) fn table_columns(headers: &[&str], f: &Formats) -> Vec<TableColumn> {
    headers.iter().map(|h| TableColumn::new().set_header(*h).set_header_format(&f.table_header)).collect()
}

/// `inactive_users`: a valid, unique Excel table name.
pub(crate) fn table_name(slug: &str) -> String {
    slug.replace('-', "_")
}

pub(super) fn report_sheet(
    ws: &mut Worksheet,
    audit: &Audit,
    report: &Report,
    f: &Formats,
    links: &LinkPolicy,
) -> Result<(), XlsxError> {
    let kind = report.kind;
    let columns = report.columns();
    let headers: Vec<&str> = columns.iter().map(|c| c.header()).chain(REVIEW_COLUMNS).collect();

    // Widths first: constant-memory sheets are written row by row.
    let mut caps: Vec<usize> = columns.iter().map(|c| cap(*c)).collect();
    caps.extend(reviewer_caps(kind));
    let mut widths = Widths::new(&headers, caps, true);
    each_row(&report.rows, &columns, |cells| {
        for (i, cell) in cells.iter().enumerate() {
            widths.cell(i, cell);
        }
        Ok::<(), XlsxError>(())
    })?;
    let decision = columns.len() as u16;
    for d in kind.decisions() {
        widths.text(decision as usize, d.label().len() + 2);
    }
    widths.value(decision as usize + 2, DATE_FORMAT.len());
    widths.apply(ws)?;
    ws.set_freeze_panes(1, kind.identity_columns())?;
    ws.set_repeat_rows(0, 0)?;
    ws.set_row_height(0, HEADER_HEIGHT)?;

    // A table needs one data row: an empty report gets one blank row under its header.
    let last_row = report.rows.len().max(1) as u32;
    let last_col = headers.len() as u16 - 1;
    let table = Table::new()
        .set_name(table_name(kind.slug()))
        .set_columns(&table_columns(&headers, f))
        .set_style(TableStyle::Medium2)
        .set_autofilter(true)
        .set_alt_text_title(kind.title())
        .set_alt_text(explanation(kind, audit));
    ws.add_table(0, 0, last_row, last_col, &table)?;
    let labels: Vec<&str> = kind.decisions().iter().map(|d| d.label()).collect();
    reviewer_validations(ws, decision, last_row, &labels, audit)?;

    let mut row = 0u32;
    let mut linked = 0usize;
    each_row(&report.rows, &columns, |cells| {
        row += 1;
        fit_height(ws, row, cells, &widths)?;
        for (i, (cell, column)) in cells.iter().zip(&columns).enumerate() {
            let col = i as u16;
            match cell {
                Cell::Text(id) if column.column_type() == ColumnType::UserId && linked < MAX_LINKS => {
                    match links.url(id) {
                        Some(url) => {
                            ws.write_url_with_text(row, col, Url::new(url), id.as_str())?;
                            linked += 1;
                        }
                        None => write_text(ws, row, col, id, f)?,
                    }
                }
                cell => write_cell(ws, row, col, cell, &widths, f)?,
            }
        }
        reviewer_cells(ws, row, decision, f)
    })?;
    Ok(())
}

/// The reviewer columns' validations from column `decision` on, rows 1 to `last_row`: the
/// Decision drop-down of `labels`, and DecidedOn a date on or after the as-of date.
pub(super) fn reviewer_validations(
    ws: &mut Worksheet,
    decision: u16,
    last_row: u32,
    labels: &[&str],
    audit: &Audit,
) -> Result<(), XlsxError> {
    let choices = DataValidation::new()
        .allow_list_strings(labels)?
        .set_input_title("Decision")?
        .set_input_message(labels.join(", "))?
        .set_error_title("Not a decision of this report")?
        .set_error_message(format!("Choose one of: {}.", labels.join(", ")))?;
    ws.add_data_validation(1, decision, last_row, decision, &choices)?;
    let as_of_date = audit.meta.as_of.date_naive();
    let dates = DataValidation::new()
        .allow_date(DataValidationRule::GreaterThanOrEqualTo(as_of_date))
        .set_input_title("DecidedOn")?
        .set_input_message("The date of the decision (on or after the as-of date).")?
        .set_error_title("Not a date")?
        .set_error_message(format!("Enter the decision's date, {} or later.", as_of_date.format("%Y-%m-%d")))?;
    ws.add_data_validation(1, decision + 2, last_row, decision + 2, &dates)?;
    Ok(())
}

/// The reviewer cells of `row`, from column `decision` on, unlocked, so that a protected sheet
/// still takes the decisions (a column format would unlock the header too, and a renamed header
/// loses the column).
pub(super) fn reviewer_cells(ws: &mut Worksheet, row: u32, decision: u16, f: &Formats) -> Result<(), XlsxError> {
    for (offset, format) in
        [&f.reviewer, &f.reviewer, &f.reviewer_date, &f.reviewer, &f.reviewer_wrap].iter().enumerate()
    {
        ws.write_blank(row, decision + offset as u16, format)?;
    }
    Ok(())
}

/// Makes a row tall enough for its wrapped text (before its cells are written: report sheets are
/// written row by row).
pub(super) fn fit_height(ws: &mut Worksheet, row: u32, cells: &[Cell], widths: &Widths) -> Result<(), XlsxError> {
    let lines = cells
        .iter()
        .enumerate()
        .filter_map(|(i, cell)| match cell {
            Cell::Text(text) if widths.wraps(i, longest_line(text)) || text.contains('\n') => {
                Some(widths.lines(i, text))
            }
            _ => None,
        })
        .max()
        .unwrap_or(1)
        .min(MAX_LINES);
    if lines > 1 {
        ws.set_row_height(row, LINE_HEIGHT * lines as f64)?;
    }
    Ok(())
}

/// Writes one typed cell: text wraps when wider than its column.
pub(super) fn write_cell(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    cell: &Cell,
    widths: &Widths,
    f: &Formats,
) -> Result<(), XlsxError> {
    match cell {
        Cell::Empty => {}
        Cell::Text(text) => write_text_as(ws, row, col, text, widths.wraps(col as usize, longest_line(text)), f)?,
        Cell::Bool(b) => {
            ws.write_boolean_with_format(row, col, *b, &f.boolean)?;
        }
        Cell::DateTime(t) if excel_can_date(t) => {
            ws.write_datetime_with_format(row, col, t.naive_utc(), &f.datetime)?;
        }
        Cell::DateTime(t) => write_text(ws, row, col, &rfc3339(*t), f)?,
        Cell::Date(d) => {
            ws.write_date_with_format(row, col, *d, &f.date)?;
        }
        Cell::Integer(n) => {
            ws.write_number(row, col, *n as f64)?;
        }
        Cell::Amount(a) => {
            ws.write_number_with_format(row, col, *a, &f.amount)?;
        }
    }
    Ok(())
}

/// A list beside the reports: its rows under a header with filter buttons, read-only. Not an Excel
/// table: a table's column names must differ regardless of case, and resolved.csv's columns are
/// `username` (the roster entry's) and `Username` (the user's) by contract.
pub(super) fn list_sheet(ws: &mut Worksheet, list: &List, f: &Formats) -> Result<(), XlsxError> {
    rows_sheet(ws, list.headers, &list.rows, f)
}

/// The Seats sheet (REPORTS.md's Seats report): one row per licence, read-only, like a list.
pub(super) fn seats_sheet(ws: &mut Worksheet, seats: &Seats, f: &Formats) -> Result<(), XlsxError> {
    let rows: Vec<Vec<Cell>> = seats.rows.iter().map(|r| r.cells(seats.with_costs)).collect();
    rows_sheet(ws, &seats.headers(), &rows, f)
}

/// Rows of cells under a header with filter buttons.
fn rows_sheet(ws: &mut Worksheet, headers: &[&str], rows: &[Vec<Cell>], f: &Formats) -> Result<(), XlsxError> {
    let mut widths = Widths::new(headers, vec![44; headers.len()], true);
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths.cell(i, cell);
        }
    }
    widths.apply(ws)?;
    ws.set_freeze_panes(1, 0)?;
    ws.set_repeat_rows(0, 0)?;
    ws.set_row_height(0, HEADER_HEIGHT)?;
    for (c, header) in headers.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *header, &f.table_header)?;
    }
    ws.autofilter(0, 0, rows.len().max(1) as u32, headers.len() as u16 - 1)?;
    for (r, cells) in rows.iter().enumerate() {
        fit_height(ws, r as u32 + 1, cells, &widths)?;
        for (c, cell) in cells.iter().enumerate() {
            write_cell(ws, r as u32 + 1, c as u16, cell, &widths, f)?;
        }
    }
    Ok(())
}
