//! The workbook's sheets of the other applications: one per report of each application read over
//! SCIM (`stensul orphans`, `stensul retained`, …), and `SCIM cross-check` for Salesforce's own
//! endpoint. The Summary and Instructions sheets list them beside the org's reports
//! ([`summary_lines`]).
//!
//! Each is laid out as the org's report sheets are ([`super::tables`]): one Excel table with
//! filter buttons, widths from the values, the header and the account's columns frozen, text
//! wrapped, the sheet protected but for the reviewer columns, which are the org's
//! ([`REVIEW_COLUMNS`]: Decision, Reviewer, DecidedOn, Ticket, Comment). The `Decision` drop-down
//! offers the application's choices, `Disable account`, `Keep (justified)` and `Investigate`
//! ([`AppReportKind::DECISIONS`]); the cross-check's are the org's for access that should not be
//! there, `Remove access`, `Keep (justified)`, `Investigate`. A matched Salesforce user's Id links
//! to its page when there is exactly one. These sheets are in the main workbook only: an account
//! of another application has no manager to split it by.

use rust_xlsxwriter::{Table, TableStyle, Url, Workbook, Worksheet, XlsxError};

use super::tables::{fit_height, reviewer_cells, reviewer_validations, table_columns, write_cell};
use super::{Formats, HEADER_HEIGHT, LinkPolicy, MAX_LINKS, MAX_SHEET_ROWS, PageSetup, REVIEW_COLUMNS, Widths};
use crate::model::apps::{AppColumn, AppReportKind, CrosscheckColumn};
use crate::model::{Audit, Cell};
use crate::render::{RenderError, apps};

/// The choices of the cross-check's `Decision` drop-down.
pub const CROSSCHECK_DECISIONS: [&str; 3] = ["Remove access", "Keep (justified)", "Investigate"];

/// Fails when an application's report cannot fit in one sheet under its header row.
pub(super) fn check_rows(audit: &Audit) -> Result<(), RenderError> {
    for report in audit.apps.iter().flat_map(|a| &a.reports) {
        if report.rows.len() >= MAX_SHEET_ROWS {
            return Err(RenderError::TooManyRows {
                report: report.kind.title(),
                slug: report.kind.slug(),
                rows: report.rows.len(),
                max: MAX_SHEET_ROWS - 1,
            });
        }
    }
    Ok(())
}

/// One sheet: its name, table name, title and explanation, columns with their width caps, the
/// columns frozen beside the header, and the decisions offered.
struct Sheet<'a> {
    name: String,
    table: String,
    title: String,
    explanation: String,
    columns: Vec<(&'static str, usize)>,
    frozen: u16,
    decisions: &'a [&'a str],
}

/// A row of a sheet: its cells and, for one of them (by position), the link it carries.
type SheetRow = (Vec<Cell>, Option<(usize, String)>);

/// Writes a sheet's table, validations and rows, as the org's report sheets are written.
fn write_sheet(
    ws: &mut Worksheet,
    audit: &Audit,
    sheet: &Sheet<'_>,
    rows: &[SheetRow],
    f: &Formats,
) -> Result<(), XlsxError> {
    let headers: Vec<&str> = sheet.columns.iter().map(|(h, _)| *h).chain(REVIEW_COLUMNS).collect();
    let mut caps: Vec<usize> = sheet.columns.iter().map(|(_, cap)| *cap).collect();
    let longest = sheet.decisions.iter().map(|d| d.len()).max().unwrap_or(8);
    caps.extend([longest + 5, 18, 12, 14, 36]);
    let mut widths = Widths::new(&headers, caps, true);
    for (cells, _) in rows {
        for (i, cell) in cells.iter().enumerate() {
            widths.cell(i, cell);
        }
    }
    let decision = sheet.columns.len() as u16;
    for d in sheet.decisions {
        widths.text(decision as usize, d.len() + 2);
    }
    widths.value(decision as usize + 2, super::DATE_FORMAT.len());
    widths.apply(ws)?;
    ws.set_freeze_panes(1, sheet.frozen)?;
    ws.set_repeat_rows(0, 0)?;
    ws.set_row_height(0, HEADER_HEIGHT)?;
    // A table needs one data row: an empty report gets one blank row under its header.
    let last_row = rows.len().max(1) as u32;
    let table = Table::new()
        .set_name(&sheet.table)
        .set_columns(&table_columns(&headers, f))
        .set_style(TableStyle::Medium2)
        .set_autofilter(true)
        .set_alt_text_title(&sheet.title)
        .set_alt_text(&sheet.explanation);
    ws.add_table(0, 0, last_row, headers.len() as u16 - 1, &table)?;
    reviewer_validations(ws, decision, last_row, sheet.decisions, audit)?;
    let mut linked = 0;
    for (i, (cells, link)) in rows.iter().enumerate() {
        let row = i as u32 + 1;
        fit_height(ws, row, cells, &widths)?;
        for (c, cell) in cells.iter().enumerate() {
            match (cell, link) {
                (Cell::Text(text), Some((at, url))) if *at == c && linked < MAX_LINKS => {
                    ws.write_url_with_text(row, c as u16, Url::new(url), text.as_str())?;
                    linked += 1;
                }
                (cell, _) => write_cell(ws, row, c as u16, cell, &widths, f)?,
            }
        }
        reviewer_cells(ws, row, decision, f)?;
    }
    Ok(())
}

/// The widest a column of text gets before it wraps.
fn cap(column: AppColumn) -> usize {
    match column {
        AppColumn::AccountId | AppColumn::Id => 20,
        AppColumn::UserName | AppColumn::Email | AppColumn::Username => 30,
        AppColumn::Groups | AppColumn::Reason => 32,
        _ => 22,
    }
}

/// Adds every application's sheets, after the org's.
pub(super) fn sheets(
    workbook: &mut Workbook,
    audit: &Audit,
    page: &PageSetup,
    f: &Formats,
    links: &LinkPolicy,
) -> Result<(), XlsxError> {
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
                columns: columns.iter().map(|c| (c.header(), cap(*c))).collect(),
                // AccountId and AccountUserName name the row.
                frozen: 2,
                decisions: &AppReportKind::DECISIONS,
            };
            let rows: Vec<SheetRow> = report
                .rows
                .iter()
                .map(|r| {
                    let link = match (id_at, r.matches.as_slice()) {
                        (Some(at), [one]) => links.url(&one.id).map(|url| (at, url)),
                        _ => None,
                    };
                    (columns.iter().map(|c| r.cell(*c)).collect(), link)
                })
                .collect();
            let ws = page.apply(workbook.add_worksheet(), &sheet.name)?;
            write_sheet(ws, audit, &sheet, &rows, f)?;
        }
        if let Some(crosscheck) = &app.crosscheck {
            let sheet = Sheet {
                name: apps::CROSSCHECK_SHEET.to_string(),
                table: "scim_crosscheck".to_string(),
                title: apps::CROSSCHECK_TITLE.to_string(),
                explanation: apps::crosscheck_explanation().to_string(),
                columns: CrosscheckColumn::ALL.iter().map(|c| (c.header(), 32)).collect(),
                frozen: 2,
                decisions: &CROSSCHECK_DECISIONS,
            };
            let rows: Vec<SheetRow> = crosscheck
                .iter()
                .map(|r| (CrosscheckColumn::ALL.iter().map(|c| r.cell(*c)).collect(), links.url(&r.id).map(|u| (0, u))))
                .collect();
            let ws = page.apply(workbook.add_worksheet(), &sheet.name)?;
            write_sheet(ws, audit, &sheet, &rows, f)?;
        }
    }
    Ok(())
}

/// One line per application report for the Summary and Instructions sheets: the sheet, the
/// report's title, its rows, its findings (none for the inventory), who is in it, and the
/// decisions its sheet offers.
pub(super) struct SummaryLine {
    pub sheet: String,
    pub title: String,
    pub rows: usize,
    pub findings: Option<usize>,
    pub who: String,
    pub decisions: &'static [&'static str],
}

pub(super) fn summary_lines(audit: &Audit) -> Vec<SummaryLine> {
    let mut lines = Vec::new();
    for app in &audit.apps {
        for report in &app.reports {
            let kind = report.kind;
            lines.push(SummaryLine {
                sheet: apps::sheet_name(app, kind),
                title: apps::report_title(app, kind),
                rows: report.rows.len(),
                findings: kind.is_finding().then_some(report.rows.len()),
                who: apps::explanation(kind, audit),
                decisions: &AppReportKind::DECISIONS,
            });
        }
        if let Some(rows) = &app.crosscheck {
            lines.push(SummaryLine {
                sheet: apps::CROSSCHECK_SHEET.to_string(),
                title: apps::CROSSCHECK_TITLE.to_string(),
                rows: rows.len(),
                findings: Some(rows.len()),
                who: apps::crosscheck_explanation().to_string(),
                decisions: &CROSSCHECK_DECISIONS,
            });
        }
    }
    lines
}
