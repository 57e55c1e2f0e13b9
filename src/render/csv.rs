//! One CSV file per report: `<slug>.csv`, for scripts and for anyone without Excel; for each
//! other application read over SCIM, `<app>-<slug>.csv` per report (`stensul-app-orphans.csv`),
//! for Salesforce's own SCIM endpoint `scim-crosscheck.csv`, and `seats.csv` (the Seats report).
//!
//! RFC 4180: comma-separated, fields quoted only when needed, CRLF line ends,
//! UTF-8 without a byte-order mark. The header row is [`Column::header`] in the
//! report's column order, then one line per row in the order the analysis
//! sorted them. Values are [`Cell::to_plain`]: ISO 8601 UTC datetimes
//! (`2024-01-15T10:20:30Z`), `true`/`false`, empty for no value.
//!
//! Text from the org never becomes a formula when the file is opened in a
//! spreadsheet: a text value starting with `=`, `+`, `-`, `@`, a tab or a
//! carriage return gets a leading `'` (OWASP's advice on CSV injection). Its
//! control characters other than tab, CR and LF are shown as visible symbols
//! ([`crate::text::visible`], as in every format). Otherwise the text is whole:
//! no cut, however long. Typed values (numbers, dates, booleans) are ours, not
//! the org's, and stay as they are.
//!
//! [`Column::header`]: crate::model::Column::header

use std::borrow::Cow;
use std::io::Write;

use super::{RenderError, RenderedFile, Renderer, each_row};
use crate::model::apps::{AppReport, CROSSCHECK_CSV, CrosscheckColumn, CrosscheckRow};
use crate::model::{Audit, Cell, List, Report, Seats};
use crate::text::visible;

/// Writes `<slug>.csv` for every report in the audit.
pub struct CsvRenderer;

impl Renderer for CsvRenderer {
    fn name(&self) -> &'static str {
        "csv"
    }

    fn render(&self, audit: &Audit) -> Result<Vec<RenderedFile>, RenderError> {
        let mut files = Vec::with_capacity(audit.reports.len());
        for report in &audit.reports {
            let name = file_name(report);
            let bytes =
                write_report(report, Vec::new()).map_err(|source| RenderError::Csv { file: name.clone(), source })?;
            files.push(RenderedFile { name, bytes });
        }
        let name = Seats::CSV.to_string();
        let bytes =
            write_seats(&audit.seats, Vec::new()).map_err(|source| RenderError::Csv { file: name.clone(), source })?;
        files.push(RenderedFile { name, bytes });
        for list in audit.lists() {
            let name = format!("{}.csv", list.slug);
            let bytes =
                write_list(&list, Vec::new()).map_err(|source| RenderError::Csv { file: name.clone(), source })?;
            files.push(RenderedFile { name, bytes });
        }
        for app in &audit.apps {
            for report in &app.reports {
                let name = app.csv_name(report.kind);
                let bytes = write_app_report(report, Vec::new())
                    .map_err(|source| RenderError::Csv { file: name.clone(), source })?;
                files.push(RenderedFile { name, bytes });
            }
            if let Some(rows) = &app.crosscheck {
                let bytes = write_crosscheck(rows, Vec::new())
                    .map_err(|source| RenderError::Csv { file: CROSSCHECK_CSV.to_string(), source })?;
                files.push(RenderedFile { name: CROSSCHECK_CSV.to_string(), bytes });
            }
        }
        Ok(files)
    }
}

/// Writes a list beside the reports (resolved, not done, exclusions) as CSV into `out`.
pub fn write_list<W: Write>(list: &List, out: W) -> Result<W, ::csv::Error> {
    write_rows(list.headers, list.rows.iter(), out)
}

/// The one CSV dialect of every file: RFC 4180, CRLF, quotes only where needed.
fn writer<W: Write>(out: W) -> ::csv::Writer<W> {
    ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .quote_style(::csv::QuoteStyle::Necessary)
        .from_writer(out)
}

/// Writes a header and rows of cells (each made safe by [`field`]), and hands `out` back.
fn write_rows<W: Write, R: AsRef<[Cell]>>(
    headers: &[&str],
    rows: impl Iterator<Item = R>,
    out: W,
) -> Result<W, ::csv::Error> {
    let mut writer = writer(out);
    writer.write_record(headers)?;
    for cells in rows {
        writer.write_record(cells.as_ref().iter().map(|c| field(c).into_owned()))?;
    }
    writer.into_inner().map_err(|e| ::csv::Error::from(e.into_error()))
}

/// `seats.csv`: one row per package licence and permission set licence (REPORTS.md's columns).
pub fn write_seats<W: Write>(seats: &Seats, out: W) -> Result<W, ::csv::Error> {
    write_rows(&seats.headers(), seats.rows.iter().map(|r| r.cells(seats.with_costs)), out)
}

/// One report of an application (`<app>-app-orphans.csv`), `AccountId` first.
pub fn write_app_report<W: Write>(report: &AppReport, out: W) -> Result<W, ::csv::Error> {
    let columns = report.kind.columns();
    let headers: Vec<&str> = columns.iter().map(|c| c.header()).collect();
    write_rows(&headers, report.rows.iter().map(|r| columns.iter().map(|c| r.cell(*c)).collect::<Vec<_>>()), out)
}

/// `scim-crosscheck.csv`: the users whose Certinia permission sets or active state differ between
/// Salesforce's SCIM endpoint and SOQL.
pub fn write_crosscheck<W: Write>(rows: &[CrosscheckRow], out: W) -> Result<W, ::csv::Error> {
    let headers: Vec<&str> = CrosscheckColumn::ALL.iter().map(|c| c.header()).collect();
    write_rows(&headers, rows.iter().map(|r| CrosscheckColumn::ALL.iter().map(|c| r.cell(*c)).collect::<Vec<_>>()), out)
}

/// `inactive-users.csv`.
pub fn file_name(report: &Report) -> String {
    format!("{}.csv", report.kind.slug())
}

/// Writes one report as CSV into `out` (a `Vec<u8>` for the renderer), and hands `out` back.
pub fn write_report<W: Write>(report: &Report, out: W) -> Result<W, ::csv::Error> {
    let mut writer = writer(out);
    let columns = report.columns();
    writer.write_record(columns.iter().map(|c| c.header()))?;
    let mut record = ::csv::ByteRecord::new();
    each_row(&report.rows, &columns, |cells| {
        record.clear();
        for cell in cells {
            record.push_field(field(cell).as_bytes());
        }
        writer.write_byte_record(&record)
    })?;
    writer.into_inner().map_err(|e| ::csv::Error::from(e.into_error()))
}

/// The CSV text of a cell: [`Cell::to_plain`], with org text made visible and neutralised.
pub fn field(cell: &Cell) -> Cow<'_, str> {
    match cell {
        Cell::Empty => Cow::Borrowed(""),
        Cell::Text(s) => match visible(s) {
            Cow::Borrowed(s) => neutralise(s),
            Cow::Owned(s) => Cow::Owned(neutralise(&s).into_owned()),
        },
        typed => Cow::Owned(typed.to_plain()),
    }
}

/// Prefixes `'` to text a spreadsheet would read as a formula (OWASP CSV injection).
pub fn neutralise(text: &str) -> Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DataWarning, ReportKind, Rows, UserRow};
    use crate::render::tests::{CONTROLS, CONTROLS_SHOWN, EVIL_LINK, SCRIPT, SLUGS, sample_audit, user};

    fn render(report: &Report) -> Vec<u8> {
        write_report(report, Vec::new()).unwrap()
    }

    fn read(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
        let mut reader = ::csv::ReaderBuilder::new().from_reader(bytes);
        let headers = reader.headers().unwrap().iter().map(String::from).collect();
        let rows = reader.records().map(|r| r.unwrap().iter().map(String::from).collect()).collect();
        (headers, rows)
    }

    #[test]
    fn neutralises_formula_starts_only() {
        for (input, expected) in [
            ("=1+1", "'=1+1"),
            ("+SUM(1)", "'+SUM(1)"),
            ("-2+3", "'-2+3"),
            ("@cmd", "'@cmd"),
            ("\tTab", "'\tTab"),
            ("\rCR", "'\rCR"),
            ("-\0", "'-\0"),
            ("plain", "plain"),
            ("a=b", "a=b"),
            ("", ""),
            (" =x", " =x"),
        ] {
            assert_eq!(neutralise(input), expected, "{input:?}");
        }
    }

    #[test]
    fn typed_values_are_not_prefixed() {
        assert_eq!(field(&Cell::Integer(-3)), "-3");
        assert_eq!(field(&Cell::Bool(true)), "true");
        assert_eq!(field(&Cell::Empty), "");
        let t = chrono::DateTime::parse_from_rfc3339("2024-01-15T10:20:30Z").unwrap().to_utc();
        assert_eq!(field(&Cell::DateTime(t)), "2024-01-15T10:20:30Z");
        assert_eq!(field(&Cell::Text("-3".into())), "'-3", "text from the org is prefixed even when numeric");
        assert_eq!(field(&Cell::Text(CONTROLS.into())), CONTROLS_SHOWN);
        assert_eq!(field(&Cell::Text("=\u{1b}x".into())), "'=\u{241B}x", "made visible, then neutralised");
    }

    #[test]
    fn header_follows_the_report_columns_with_id_first() {
        let audit = sample_audit();
        for report in &audit.reports {
            let (headers, rows) = read(&render(report));
            let expected: Vec<&str> = report.kind.columns().iter().map(|c| c.header()).collect();
            assert_eq!(headers, expected, "{}", report.kind.slug());
            assert_eq!(rows.len(), report.rows.len(), "{}", report.kind.slug());
            if report.kind != ReportKind::NotProvisioned {
                assert_eq!(headers[0], "Id");
            }
        }
    }

    /// Three users written out field by field, in an order the CSV must keep (not sorted).
    fn hand_built_matrix() -> Report {
        let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        // render::tests::user gives no role or title, no Certinia access, active and not frozen.
        let row = |id: &str, username: &str| UserRow {
            id: id.to_string(),
            username: username.to_string(),
            name: None,
            email: None,
            profile: None,
            user_license: None,
            department: None,
            last_login: None,
            days_since_login: None,
            ..user(0)
        };
        let zoe = UserRow {
            name: Some(EVIL_LINK.to_string()),
            email: Some("zoe@example.com".to_string()),
            profile: Some("Standard User".to_string()),
            user_license: Some("Salesforce".to_string()),
            role: Some("CFO".to_string()),
            department: Some("-3".to_string()),
            title: Some("line one\nline two".to_string()),
            last_login: Some(at("2024-06-20T12:20:30Z")),
            days_since_login: Some(10),
            certinia_permission_sets: vec!["PSA Resource [pse__Resource]".to_string(), "Certinia Admin".to_string()],
            certinia_groups: vec!["FF Accounting".to_string()],
            certinia_licenses: vec!["pse".to_string(), "c2g".to_string()],
            ..row("005000000000001AAA", "zoe@example.com")
        };
        let adam = UserRow {
            name: Some("\tTab".to_string()),
            email: Some("@cmd".to_string()),
            profile: Some("\rCR".to_string()),
            is_frozen: true,
            certinia_licenses: vec!["c2g".to_string()],
            ..row("005000000000002AAA", "adam@example.com")
        };
        let bob = UserRow {
            name: Some("+SUM(1)".to_string()),
            profile: Some(SCRIPT.to_string()),
            title: Some("\"quoted\" & 'apos'".to_string()),
            is_active: false,
            last_login: Some(at("2024-07-03T12:20:30Z")),
            days_since_login: None,
            data_warnings: vec![DataWarning {
                object: "User".to_string(),
                id: "005000000000003AAA".to_string(),
                field: "LastLoginDate".to_string(),
                detail: "2024-07-03T12:20:30Z is after the as-of instant 2024-06-30T12:20:30Z".to_string(),
            }],
            ..row("005000000000003AAA", "bob@example.com")
        };
        Report::new(ReportKind::AccessMatrix, Rows::Users(vec![zoe, adam, bob]))
    }

    #[test]
    fn rows_keep_their_order_and_round_trip_neutralised() {
        let text = String::from_utf8(render(&hand_built_matrix())).unwrap();
        // README, "Columns" (access-matrix) and "Outputs": CRLF, ISO 8601 UTC, true/false, lists
        // joined with "; ", org text starting with = + - @ tab CR prefixed with ', typed values not;
        // a login after the as-of instant counts no days and says why in DataWarnings.
        let expected = [
            "Id,Username,Name,Email,Profile,UserLicense,UserRole,Department,Title,AccountClass,ManagerName,\
             ManagerEmail,ManagerId,Status,IsActive,IsFrozen,LastLoginDate,DaysSinceLogin,CertiniaAccess,CertiniaPermissionSets,CertiniaPermissionSetGroups,\
             CertiniaLicenses,DataWarnings\r\n",
            "005000000000001AAA,zoe@example.com,\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",zoe@example.com,\
             Standard User,Salesforce,CFO,'-3,\"line one\nline two\",Human,Maria Manager,maria@example.com,005000000000900AAA,Active,true,false,2024-06-20T12:20:30Z,10,true,\
             PSA Resource [pse__Resource]; Certinia Admin,FF Accounting,pse; c2g,\r\n",
            "005000000000002AAA,adam@example.com,'\tTab,'@cmd,\"'\rCR\",,,,,Human,Maria Manager,maria@example.com,005000000000900AAA,Frozen,true,true,,,false,,,c2g,\r\n",
            "005000000000003AAA,bob@example.com,'+SUM(1),,<script>alert(1)</script>,,,,\"\"\"quoted\"\" & 'apos'\",Human,Maria Manager,maria@example.com,005000000000900AAA,Deactivated,false,false,\
             2024-07-03T12:20:30Z,,false,,,,LastLoginDate: 2024-07-03T12:20:30Z is after the as-of instant 2024-06-30T12:20:30Z\r\n",
        ]
        .concat();
        assert_eq!(text, expected);
    }

    #[test]
    fn hostile_names_are_neutralised_and_control_characters_shown() {
        let audit = sample_audit();
        let report = audit.report(ReportKind::AccessMatrix).unwrap();
        let columns = report.kind.columns();
        let (_, rows) = read(&render(report));
        let name = columns.iter().position(|c| c.header() == "Name").unwrap();
        let names: Vec<&str> = rows.iter().map(|r| r[name].as_str()).collect();
        assert_eq!(names[0], format!("'{EVIL_LINK}"));
        for expected in
            ["'+SUM(1)", "'-2+3", "'@cmd", "'\tTab", "'\rCR", SCRIPT, "\"quoted\" & 'apos'", "line one\nline two"]
        {
            assert!(names.contains(&expected), "{expected:?}");
        }
        assert!(names.contains(&"\u{202E}evil RTL \u{1F600} emoji"));
        assert!(names.iter().any(|n| n.len() == 5000));
        assert!(names.contains(&CONTROLS_SHOWN), "control characters are shown as symbols");
        assert!(!rows.iter().flatten().any(|f| f.chars().any(|c| c.is_control() && !"\t\r\n".contains(c))));
    }

    #[test]
    fn bytes_are_rfc4180_and_stable() {
        let audit = sample_audit();
        let report = audit.report(ReportKind::NeverLoggedIn).unwrap();
        let bytes = render(report);
        assert_eq!(bytes, render(report), "same input, same bytes");
        assert!(!bytes.starts_with(b"\xEF\xBB\xBF"), "no BOM");
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with(
            "Id,Username,Name,Email,Profile,UserLicense,UserRole,Department,Title,AccountClass,ManagerName,\
             ManagerEmail,ManagerId,Status,"
        ));
        assert!(text.ends_with("\r\n"));
        assert_eq!(text.matches('\n').count(), text.matches("\r\n").count(), "every line ends in CRLF");
        // The user whose department is "-3" (org text) gets the prefix.
        assert!(text.contains(",'-3,"), "{text}");
        // The never-logged-in rows have an empty LastLoginDate, DaysSinceLogin and DataWarnings.
        assert!(text.contains(",2024-06-27T12:20:30Z,3,true,,,false,\r\n"), "{text}");
    }

    #[test]
    fn quotes_and_newlines_are_quoted() {
        let audit = sample_audit();
        let report = audit.report(ReportKind::AccessMatrix).unwrap();
        let text = String::from_utf8(render(report)).unwrap();
        assert!(text.contains("\"\"\"quoted\"\" & 'apos'\""));
        assert!(text.contains("\"line one\nline two\""));
        assert!(text.contains("\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\""));
    }

    #[test]
    fn empty_report_has_just_the_header() {
        let report = Report::new(ReportKind::UnexpectedAccess, Rows::Users(vec![]));
        let text = String::from_utf8(render(&report)).unwrap();
        assert_eq!(text.matches("\r\n").count(), 1);
        assert!(text.starts_with("Id,Username,"));
    }

    #[test]
    fn seats_keep_reports_md_columns_and_neutralise_org_text() {
        let audit = sample_audit();
        let text = String::from_utf8(write_seats(&audit.seats, Vec::new()).unwrap()).unwrap();
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "Id,Kind,Name,DeveloperName,Certinia,Allowed,Used,Assigned,UsedMismatch,Expiration,Status,Deactivated,\
             Frozen,Inactive,NeverLoggedIn,Reclaimable,YearlySeatCost,ReclaimableYearlyCost"
        );
        assert_eq!(
            lines[1],
            "050000000000001AAA,PackageLicense,pse,,true,10,7,6,true,2025-03-31,Active,2,1,1,0,3,1200.00,3600.00"
        );
        assert!(lines[2].starts_with("0PL000000000001AAA,PermissionSetLicense,\"'=HYPERLINK"), "{}", lines[2]);
        assert!(lines[2].ends_with(",Other_PSL,false,-1,1,1,false,,Active,2,1,1,0,3,,"), "{}", lines[2]);
        let without = crate::model::Seats { with_costs: false, ..audit.seats.clone() };
        let text = String::from_utf8(write_seats(&without, Vec::new()).unwrap()).unwrap();
        assert!(text.starts_with("Id,Kind,Name,DeveloperName,Certinia,Allowed,Used,Assigned,UsedMismatch,Expiration,Status,Deactivated,Frozen,Inactive,NeverLoggedIn,Reclaimable\r\n"));
    }

    #[test]
    fn renderer_returns_one_file_per_report() {
        let audit = sample_audit();
        let files = CsvRenderer.render(&audit).unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        let mut expected: Vec<String> = SLUGS.iter().map(|s| format!("{s}.csv")).collect();
        expected.push("seats.csv".to_string());
        assert_eq!(names, expected);
        assert_eq!(files[0].bytes, render(&audit.reports[0]));
    }
}
