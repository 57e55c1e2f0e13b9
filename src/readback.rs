//! Reading a review workbook back: the report sheets as a spreadsheet program saved them.
//!
//! Takes the path of an `access-review.xlsx` (ours, or one a reviewer saved from Excel or
//! LibreOffice) and hands on, per report sheet, the header and every non-empty row as typed
//! values, with the Run sheet's keys and values. It interprets nothing beyond that but what every
//! reader of a review needs: which finding a row is ([`Sheet::key`]), and what the reviewer wrote
//! ([`Sheet::review`]). Two readers use it: the comparison with the previous review (its
//! decisions) and `review` (the sign-off).
//!
//! Why a module of its own: a workbook that went through a spreadsheet program is not the bytes
//! we wrote. Strings become shared strings, a date may be a serial number with a date style or
//! text typed by hand, a number may come back as a float. Everything here reads values, never
//! layout, so sorting, filtering and re-saving a workbook change nothing that is read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use calamine::{Data, Reader, Xlsx};
use chrono::{NaiveDate, NaiveDateTime};

use crate::model::{DecidedOn, FindingKey, ReportKind, ReviewedReport};
use crate::render::xlsx::{REVIEW_COLUMNS, RUN_SHEET};

#[derive(Debug, thiserror::Error)]
pub enum ReadbackError {
    #[error("cannot read the workbook {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a workbook access-audit can read ({detail}); save it as .xlsx (Excel 2007 or later)")]
    NotXlsx { path: PathBuf, detail: String },
}

/// A cell's value as the saved workbook holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Empty,
    Text(String),
    Number(f64),
    Bool(bool),
    /// A number with a date or time style.
    DateTime(NaiveDateTime),
    /// An error value such as `#N/A`.
    Error(String),
}

impl Value {
    fn from_data(data: &Data) -> Value {
        match data {
            Data::Empty => Value::Empty,
            Data::String(s) if s.is_empty() => Value::Empty,
            Data::String(s) => Value::Text(s.clone()),
            Data::Int(i) => Value::Number(*i as f64),
            Data::Float(f) => Value::Number(*f),
            Data::Bool(b) => Value::Bool(*b),
            Data::DateTime(d) => serial_datetime(d.as_f64()).map_or(Value::Number(d.as_f64()), Value::DateTime),
            Data::DateTimeIso(s) => NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .or_else(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
                .map_or_else(|| Value::Text(s.clone()), Value::DateTime),
            Data::DurationIso(s) => Value::Text(s.clone()),
            Data::Error(e) => Value::Error(e.to_string()),
        }
    }

    /// The value as text, for a cell that holds text (a name, a decision, a key).
    pub fn text(&self) -> Option<String> {
        match self {
            Value::Empty => None,
            Value::Text(s) => Some(s.clone()),
            Value::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => Some(format!("{}", *n as i64)),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::DateTime(d) => Some(d.format("%Y-%m-%d %H:%M:%S").to_string()),
            Value::Error(e) => Some(e.clone()),
        }
    }

    /// The value as text with the blanks around it removed; none when that leaves nothing.
    pub fn trimmed(&self) -> Option<String> {
        self.text().map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
    }
}

/// An Excel serial date-time (days since 1899-12-30, with Excel's fictitious 1900-02-29 as day 60)
/// as a date and time, to the second; none outside Excel's calendar (1900 to 9999).
pub fn serial_datetime(serial: f64) -> Option<NaiveDateTime> {
    if !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let epoch =
        if serial < 61.0 { NaiveDate::from_ymd_opt(1899, 12, 31) } else { NaiveDate::from_ymd_opt(1899, 12, 30) };
    let seconds = (serial * 86_400.0).round() as i64;
    epoch?.and_hms_opt(0, 0, 0)?.checked_add_signed(chrono::Duration::seconds(seconds))
}

/// What a reviewer wrote in the reviewer columns of one row (each part trimmed; none when empty).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Review {
    pub decision: Option<String>,
    pub reviewer: Option<String>,
    /// A date, or the text found where a date belongs.
    pub decided_on: Option<DecidedOn>,
    pub ticket: Option<String>,
    pub comment: Option<String>,
}

impl Review {
    /// Whether the reviewer wrote anything at all in this row.
    pub fn is_empty(&self) -> bool {
        self.decision.is_none()
            && self.reviewer.is_none()
            && self.decided_on.is_none()
            && self.ticket.is_none()
            && self.comment.is_none()
    }
}

/// A `DecidedOn` cell as a date: a date cell, a serial number, or text written `YYYY-MM-DD` (a
/// date typed into a cell formatted as text); anything else is kept as the text it is.
pub fn decided_on(value: &Value) -> Option<DecidedOn> {
    match value {
        Value::Empty => None,
        Value::DateTime(d) => Some(DecidedOn::Date(d.date())),
        Value::Number(n) => match serial_datetime(*n) {
            Some(d) => Some(DecidedOn::Date(d.date())),
            None => Some(DecidedOn::Text(value.text().unwrap_or_default())),
        },
        other => {
            let text = other.trimmed()?;
            Some(match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
                Ok(d) => DecidedOn::Date(d),
                Err(_) => DecidedOn::Text(text),
            })
        }
    }
}

/// One report sheet, read back.
#[derive(Debug, Clone)]
pub struct Sheet {
    pub kind: ReviewedReport,
    pub headers: Vec<String>,
    /// Every row under the header that holds anything, in sheet order.
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone)]
pub struct Row {
    /// The row's number as the spreadsheet shows it (the header is row 1).
    pub number: u32,
    pub cells: Vec<Value>,
}

impl Sheet {
    /// The index of the column headed `header`.
    pub fn column(&self, header: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == header)
    }

    /// The value of `row` in the column headed `header` (empty when the sheet has no such column).
    pub fn value<'a>(&self, row: &'a Row, header: &str) -> &'a Value {
        self.column(header).and_then(|i| row.cells.get(i)).unwrap_or(&Value::Empty)
    }

    /// Which finding the row is: its `Id`, an application's account its `AccountId`, or a roster
    /// entry its `federation_id`, `username` and `email`; none when the row names nothing.
    pub fn key(&self, row: &Row) -> Option<FindingKey> {
        if let ReviewedReport::App { .. } = self.kind {
            self.value(row, "AccountId").trimmed().map(FindingKey::Account)
        } else if self.kind.is_roster_entries() {
            let part = |h: &str| self.value(row, h).trimmed().unwrap_or_default();
            let key = FindingKey::roster(&part("federation_id"), &part("username"), &part("email"));
            (key != FindingKey::roster("", "", "")).then_some(key)
        } else {
            self.value(row, "Id").trimmed().map(FindingKey::User)
        }
    }

    /// What the reviewer wrote in the row.
    pub fn review(&self, row: &Row) -> Review {
        let [decision, reviewer, date, ticket, comment] = REVIEW_COLUMNS;
        Review {
            decision: self.value(row, decision).trimmed(),
            reviewer: self.value(row, reviewer).trimmed(),
            decided_on: decided_on(self.value(row, date)),
            ticket: self.value(row, ticket).trimmed(),
            comment: self.value(row, comment).trimmed(),
        }
    }
}

/// A review workbook, read back.
#[derive(Debug, Clone)]
pub struct Workbook {
    pub path: PathBuf,
    /// The report sheets present, in workbook order.
    pub sheets: Vec<Sheet>,
    /// The Run sheet's keys (column A) and values (column B, as text).
    pub run: BTreeMap<String, String>,
    /// SHA-256 of the bytes read.
    pub sha256: String,
}

impl Workbook {
    pub fn sheet(&self, kind: &ReviewedReport) -> Option<&Sheet> {
        self.sheets.iter().find(|s| s.kind == *kind)
    }
}

/// Reads a review workbook: every report sheet of the org and the Run sheet.
pub fn read(path: &Path) -> Result<Workbook, ReadbackError> {
    read_with_apps(path, &[])
}

/// Reads a review workbook: every report sheet of the org, the sheets of `apps` (the
/// applications' reports the run wrote) and the Run sheet.
pub fn read_with_apps(path: &Path, apps: &[ReviewedReport]) -> Result<Workbook, ReadbackError> {
    use sha2::{Digest, Sha256};
    let bytes = crate::files::read(path, crate::files::WORKBOOK)
        .map_err(|source| ReadbackError::Read { path: path.to_path_buf(), source })?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let not_xlsx = |detail: String| ReadbackError::NotXlsx { path: path.to_path_buf(), detail };
    let mut book = Xlsx::new(std::io::Cursor::new(bytes)).map_err(|e| not_xlsx(e.to_string()))?;
    let mut sheets = Vec::new();
    let mut run = BTreeMap::new();
    for name in book.sheet_names() {
        let kind = ReportKind::from_sheet_name(&name)
            .map(ReviewedReport::Org)
            .or_else(|| apps.iter().find(|a| a.sheet_name() == name).cloned());
        if kind.is_none() && name != RUN_SHEET {
            continue;
        }
        let range = book.worksheet_range(&name).map_err(|e| not_xlsx(format!("sheet {name}: {e}")))?;
        // Positions are the sheet's own: a range starts at its first used cell.
        let (top, left) = range.start().unwrap_or((0, 0));
        let width = range.end().map_or(0, |(_, c)| c as usize + 1);
        let at = |r: u32, c: usize| -> Value {
            match (r.checked_sub(top), (c as u32).checked_sub(left)) {
                (Some(r), Some(c)) => range.get((r as usize, c as usize)).map_or(Value::Empty, Value::from_data),
                _ => Value::Empty,
            }
        };
        let height = range.end().map_or(0, |(r, _)| r + 1);
        match kind {
            None => {
                for r in 0..height {
                    if let (Some(key), Some(value)) = (at(r, 0).trimmed(), at(r, 1).text()) {
                        run.entry(key).or_insert(value);
                    }
                }
            }
            Some(kind) => {
                let headers: Vec<String> = (0..width).map(|c| at(0, c).text().unwrap_or_default()).collect();
                let rows = (1..height)
                    .map(|r| Row { number: r + 1, cells: (0..width).map(|c| at(r, c)).collect() })
                    .filter(|row| row.cells.iter().any(|v| *v != Value::Empty))
                    .collect();
                sheets.push(Sheet { kind, headers, rows });
            }
        }
    }
    Ok(Workbook { path: path.to_path_buf(), sheets, run, sha256 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_dates_follow_excel() {
        let d = |s: f64| serial_datetime(s).unwrap().format("%Y-%m-%d %H:%M:%S").to_string();
        assert_eq!(d(1.0), "1900-01-01 00:00:00");
        assert_eq!(d(59.0), "1900-02-28 00:00:00");
        assert_eq!(d(61.0), "1900-03-01 00:00:00");
        assert_eq!(d(46346.375), "2026-11-20 09:00:00");
        assert_eq!(serial_datetime(0.0), None);
        assert_eq!(serial_datetime(-3.0), None);
    }

    #[test]
    fn decided_on_takes_dates_serials_and_iso_text() {
        let date = |y, m, d| Some(DecidedOn::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap()));
        assert_eq!(decided_on(&Value::Number(46351.0)), date(2026, 11, 25));
        assert_eq!(decided_on(&Value::Text(" 2026-11-25 ".into())), date(2026, 11, 25));
        assert_eq!(decided_on(&Value::Text("25/11/2026".into())), Some(DecidedOn::Text("25/11/2026".into())));
        assert_eq!(decided_on(&Value::Empty), None);
        assert_eq!(decided_on(&Value::Text("  ".into())), None);
    }
}
