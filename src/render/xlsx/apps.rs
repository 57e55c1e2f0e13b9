//! The workbook's sheets of the other applications: one per report of each application read over
//! SCIM (`stensul orphans`, `stensul retained`, …), and `SCIM cross-check` for Salesforce's own
//! endpoint, each listed on the Summary sheet.
//!
//! Each is one Excel table over the report's columns plus the same reviewer columns as the org's
//! sheets ([`REVIEW_COLUMNS`]), the `Decision` drop-down offering the application's choices,
//! `Disable account`, `Keep (justified)` and `Investigate` ([`AppReportKind::DECISIONS`]); the
//! cross-check's are the org's for access that should not be there, `Remove access`,
//! `Keep (justified)`, `Investigate`. Cells keep their types and text is written as the org's
//! sheets write it ([`write_text`]: never a formula, controls visible, cut to Excel's limit);
//! a matched Salesforce user's Id links to its page when there is exactly one.

use rust_xlsxwriter::{DataValidation, Table, TableColumn, TableStyle, Url, Workbook, Worksheet, XlsxError};

use super::{Formats, LinkPolicy, MAX_LINKS, MAX_SHEET_ROWS, REVIEW_COLUMNS, excel_can_date, write_text};
use crate::model::apps::{AppColumn, AppReportKind, CrosscheckColumn};
use crate::model::{Audit, Cell};
use crate::render::{RenderError, apps, rfc3339};

/// The choices of the cross-check's `Decision` drop-down.
pub const CROSSCHECK_DECISIONS: [&str; 3] = ["Remove access", "Keep (justified)", "Investigate"];

/// Fails when an application's report cannot fit in one sheet under its header row.
pub(super) fn check_rows(audit: &Audit) -> Result<(), RenderError> {
    for app in &audit.apps {
        for report in &app.reports {
            if report.rows.len() >= MAX_SHEET_ROWS {
                return Err(RenderError::TooManyRows {
                    report: report.kind.title(),
                    slug: report.kind.slug(),
                    rows: report.rows.len(),
                    max: MAX_SHEET_ROWS - 1,
                });
            }
        }
    }
    Ok(())
}

/// One sheet: its name, table name, title and explanation, columns with their widths, decisions.
struct Sheet<'a> {
    name: String,
    table: String,
    title: String,
    explanation: String,
    columns: Vec<(&'static str, f64)>,
    decisions: &'a [&'a str],
}

/// Writes a sheet's table and rows; each row is its cells and, for one of them, a link.
fn write_sheet(
    ws: &mut Worksheet,
    sheet: &Sheet<'_>,
    rows: impl ExactSizeIterator<Item = (Vec<Cell>, Option<(usize, String)>)>,
    f: &Formats,
) -> Result<(), XlsxError> {
    ws.set_name(&sheet.name)?;
    for (i, (_, width)) in sheet.columns.iter().enumerate() {
        ws.set_column_width(i as u16, *width)?;
    }
    let decision = sheet.columns.len() as u16;
    for (offset, width) in [14.0, 20.0, 60.0].iter().enumerate() {
        let col = decision + offset as u16;
        ws.set_column_width(col, *width)?;
        ws.set_column_format(col, &f.reviewer)?;
    }
    ws.set_freeze_panes(1, 0)?;
    // A table needs one data row: an empty report gets one blank row under its header.
    let last_row = rows.len().max(1) as u32;
    let last_col = decision + REVIEW_COLUMNS.len() as u16 - 1;
    let headers: Vec<TableColumn> =
        sheet.columns.iter().map(|(h, _)| *h).chain(REVIEW_COLUMNS).map(|h| TableColumn::new().set_header(h)).collect();
    let table = Table::new()
        .set_name(&sheet.table)
        .set_columns(&headers)
        .set_style(TableStyle::Medium2)
        .set_autofilter(true)
        .set_alt_text_title(&sheet.title)
        .set_alt_text(&sheet.explanation);
    ws.add_table(0, 0, last_row, last_col, &table)?;
    let choices = DataValidation::new()
        .allow_list_strings(sheet.decisions)?
        .set_input_title("Decision")?
        .set_input_message(sheet.decisions.join(", "))?;
    ws.add_data_validation(1, decision, last_row, decision, &choices)?;
    let mut linked = 0;
    for (i, (cells, link)) in rows.enumerate() {
        let row = i as u32 + 1;
        for (c, cell) in cells.iter().enumerate() {
            let col = c as u16;
            match (cell, &link) {
                (Cell::Text(text), Some((at, url))) if *at == c && linked < MAX_LINKS => {
                    ws.write_url_with_text(row, col, Url::new(url), text.as_str())?;
                    linked += 1;
                }
                (Cell::Empty, _) => {}
                (Cell::Text(text), _) => write_text(ws, row, col, text, f)?,
                (Cell::Bool(b), _) => {
                    ws.write_boolean(row, col, *b)?;
                }
                (Cell::DateTime(t), _) if excel_can_date(t) => {
                    ws.write_datetime_with_format(row, col, t.naive_utc(), &f.datetime)?;
                }
                (Cell::DateTime(t), _) => write_text(ws, row, col, &rfc3339(*t), f)?,
                (Cell::Integer(n), _) => {
                    ws.write_number(row, col, *n as f64)?;
                }
            }
        }
    }
    Ok(())
}

fn width(column: AppColumn) -> f64 {
    let base: f64 = match column {
        AppColumn::AccountId | AppColumn::Id => 21.0,
        AppColumn::UserName | AppColumn::Email | AppColumn::Username => 30.0,
        AppColumn::DisplayName | AppColumn::Groups | AppColumn::Reason => 28.0,
        AppColumn::Active | AppColumn::IsActive | AppColumn::MatchedBy => 12.0,
    };
    base.max(column.header().len() as f64 + 4.0)
}

/// Adds every application's sheets, after the org's.
pub(super) fn sheets(workbook: &mut Workbook, audit: &Audit, f: &Formats, links: &LinkPolicy) -> Result<(), XlsxError> {
    for app in &audit.apps {
        for report in &app.reports {
            let kind = report.kind;
            let columns = kind.columns();
            let id_at = columns.iter().position(|c| *c == AppColumn::Id);
            let sheet = Sheet {
                name: apps::sheet_name(app, kind),
                table: format!("{}_{}", app.name, kind.slug().replace('-', "_")),
                title: apps::report_title(app, kind),
                explanation: apps::explanation(kind, audit),
                columns: columns.iter().map(|c| (c.header(), width(*c))).collect(),
                decisions: &AppReportKind::DECISIONS,
            };
            let rows = report.rows.iter().map(|r| {
                let link = match (id_at, r.matches.as_slice()) {
                    (Some(at), [one]) => links.url(&one.id).map(|url| (at, url)),
                    _ => None,
                };
                (columns.iter().map(|c| r.cell(*c)).collect(), link)
            });
            write_sheet(workbook.add_worksheet_with_constant_memory()?, &sheet, rows, f)?;
        }
        if let Some(crosscheck) = &app.crosscheck {
            let sheet = Sheet {
                name: apps::CROSSCHECK_SHEET.to_string(),
                table: "scim_crosscheck".to_string(),
                title: apps::CROSSCHECK_TITLE.to_string(),
                explanation: apps::crosscheck_explanation().to_string(),
                columns: CrosscheckColumn::ALL
                    .iter()
                    .map(|c| {
                        (
                            c.header(),
                            if matches!(c, CrosscheckColumn::IsActive | CrosscheckColumn::ScimActive) {
                                12.0
                            } else {
                                30.0
                            },
                        )
                    })
                    .collect(),
                decisions: &CROSSCHECK_DECISIONS,
            };
            let rows = crosscheck.iter().map(|r| {
                let link = links.url(&r.id).map(|url| (0, url));
                (CrosscheckColumn::ALL.iter().map(|c| r.cell(*c)).collect(), link)
            });
            write_sheet(workbook.add_worksheet_with_constant_memory()?, &sheet, rows, f)?;
        }
    }
    Ok(())
}

/// The Summary sheet's lines for the applications' reports, from `row` on; the next free row.
pub(super) fn summary_rows(ws: &mut Worksheet, mut row: u32, audit: &Audit, f: &Formats) -> Result<u32, XlsxError> {
    let mut line = |ws: &mut Worksheet, sheet: String, title: String, rows: usize, finding: bool, who: String| {
        let link = Url::new(format!("internal:'{sheet}'!A1")).set_text(title);
        ws.write_url(row, 0, link)?;
        ws.write_number(row, 1, rows as f64)?;
        ws.write_string(row, 2, if finding { "finding" } else { "inventory" })?;
        ws.write_string_with_format(row, 3, who, &f.wrap)?;
        row += 1;
        Ok::<(), XlsxError>(())
    };
    for app in &audit.apps {
        for report in &app.reports {
            let kind = report.kind;
            let (sheet, title) = (apps::sheet_name(app, kind), apps::report_title(app, kind));
            line(ws, sheet, title, report.rows.len(), kind.is_finding(), apps::explanation(kind, audit))?;
        }
        if let Some(crosscheck) = &app.crosscheck {
            let who = apps::crosscheck_explanation().to_string();
            let (sheet, title) = (apps::CROSSCHECK_SHEET.to_string(), apps::CROSSCHECK_TITLE.to_string());
            line(ws, sheet, title, crosscheck.len(), true, who)?;
        }
    }
    Ok(row)
}
