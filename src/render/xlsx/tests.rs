//! Unit tests of the workbook: read back with calamine, and its XML where calamine does not look.

use std::io::Read;

use super::tables::table_name;
use super::*;
use crate::model::{Report, ReportKind, Rows};
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

/// The XML of the sheet `name` (rust_xlsxwriter numbers sheet files in sheet order).
fn sheet_xml(bytes: &[u8], name: &str) -> String {
    let names = open(bytes).sheet_names();
    let n = names.iter().position(|s| s == name).unwrap_or_else(|| panic!("no sheet {name}")) + 1;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut xml = String::new();
    zip.by_name(&format!("xl/worksheets/sheet{n}.xml")).unwrap().read_to_string(&mut xml).unwrap();
    xml
}

#[test]
fn sheets_are_summary_instructions_reports_run() {
    let audit = sample_audit();
    let bytes = render(&audit);
    let book = open(&bytes);
    let mut expected = vec![SUMMARY_SHEET.to_string(), INSTRUCTIONS_SHEET.to_string(), "Seats".to_string()];
    expected.extend(audit.reports.iter().map(|r| r.kind.sheet_name().to_string()));
    expected.push(RUN_SHEET.to_string());
    assert_eq!(book.sheet_names(), expected);
}

#[test]
fn each_report_offers_its_own_decisions_and_a_date_for_decided_on() {
    let audit = sample_audit();
    let bytes = render(&audit);
    for report in &audit.reports {
        let xml = sheet_xml(&bytes, report.kind.sheet_name());
        let labels: Vec<&str> = report.kind.decisions().iter().map(|d| d.label()).collect();
        let list = format!("<formula1>\"{}\"</formula1>", labels.join(","));
        assert!(xml.contains(&list), "{}: {list} in {xml}", report.kind.sheet_name());
        assert!(xml.contains(r#"type="date""#) && xml.contains(r#"operator="greaterThanOrEqual""#), "{xml}");
        // 2024-06-30 is serial 45473.
        assert!(xml.contains("<formula1>45473</formula1>"), "the as-of date is the earliest decision date");
    }
}

#[test]
fn sheets_are_protected_without_a_password_with_only_the_reviewer_cells_unlocked() {
    let audit = sample_audit();
    let bytes = render(&audit);
    let mut book = open(&bytes);
    for name in book.sheet_names() {
        let xml = sheet_xml(&bytes, &name);
        let protection = xml.split("<sheetProtection").nth(1).unwrap_or_else(|| panic!("{name} is not protected"));
        let protection = &protection[..protection.find("/>").unwrap()];
        assert!(!protection.contains("password"), "{name}: {protection}");
        assert!(protection.contains(r#"sort="0""#) && protection.contains(r#"autoFilter="0""#), "{name}: {protection}");
    }
    // The unlocked style is used by the reviewer cells and by nothing else.
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).unwrap();
    let mut styles = String::new();
    zip.by_name("xl/styles.xml").unwrap().read_to_string(&mut styles).unwrap();
    let xfs = styles.split("<cellXfs").nth(1).unwrap().split("</cellXfs>").next().unwrap();
    let unlocked: Vec<usize> =
        xfs.split("<xf ").skip(1).enumerate().filter(|(_, xf)| xf.contains(r#"locked="0""#)).map(|(i, _)| i).collect();
    assert_eq!(unlocked.len(), 3, "text, wrapped text and date reviewer cells: {xfs}");
    let range = book.worksheet_range(ReportKind::InactiveUsers.sheet_name()).unwrap();
    let headers = header(&range);
    let xml = sheet_xml(&bytes, ReportKind::InactiveUsers.sheet_name());
    for cell in xml.split("<c r=\"").skip(1) {
        let reference: String = cell.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        let letters: String = reference.chars().take_while(|c| c.is_ascii_uppercase()).collect();
        let col = letters.bytes().fold(0usize, |n, b| n * 26 + (b - b'A' + 1) as usize) - 1;
        let style = cell.split(r#" s=""#).nth(1).and_then(|s| s.split('"').next()).map(|s| s.parse::<usize>().unwrap());
        let row: u32 = reference[letters.len()..].parse().unwrap();
        let reviewer = REVIEW_COLUMNS.contains(&headers[col].as_str()) && row > 1;
        assert_eq!(style.is_some_and(|s| unlocked.contains(&s)), reviewer, "{reference} ({})", headers[col]);
    }
}

#[test]
fn sheets_print_landscape_one_page_wide_with_header_row_and_page_numbers() {
    let audit = sample_audit();
    let bytes = render(&audit);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).unwrap();
    let mut workbook = String::new();
    zip.by_name("xl/workbook.xml").unwrap().read_to_string(&mut workbook).unwrap();
    for report in &audit.reports {
        let xml = sheet_xml(&bytes, report.kind.sheet_name());
        assert!(xml.contains(r#"orientation="landscape""#), "{xml}");
        assert!(xml.contains(r#"fitToHeight="0""#) && xml.contains(r#"<pageSetUpPr fitToPage="1"/>"#), "{xml}");
        assert!(xml.contains("<oddHeader>&amp;LAcme &lt;script&gt;alert(1)&lt;/script&gt; &amp;&amp; \"Co\"&amp;C&amp;A&amp;Ras of 2024-06-30 12:20 UTC</oddHeader>"), "{xml}");
        assert!(
            xml.contains("<oddFooter>&amp;Laccess-audit run 0123456789abcdef&amp;CPage &amp;P of &amp;N</oddFooter>"),
            "{xml}"
        );
        assert!(workbook.contains("<definedName name=\"_xlnm.Print_Titles\" localSheetId="), "{workbook}");
        let name = report.kind.sheet_name();
        let quoted = if name.contains(' ') { format!("'{name}'") } else { name.to_string() };
        assert!(workbook.contains(&format!(">{quoted}!$1:$1</definedName>")), "{workbook}");
    }
}

#[test]
fn the_header_and_the_name_stay_in_view() {
    let audit = sample_audit();
    let bytes = render(&audit);
    for report in &audit.reports {
        let xml = sheet_xml(&bytes, report.kind.sheet_name());
        let split = report.kind.identity_columns();
        assert!(xml.contains(&format!(r#"xSplit="{split}" ySplit="1""#)), "{xml}");
        assert!(xml.contains(r#"state="frozen""#));
    }
}

#[test]
fn report_sheets_have_headers_reviewer_columns_and_tables() {
    let audit = sample_audit();
    let bytes = render(&audit);
    let mut book = open(&bytes);
    book.load_tables().unwrap();
    for report in &audit.reports {
        let range = book.worksheet_range(report.kind.sheet_name()).unwrap();
        let mut expected: Vec<String> = report.columns().iter().map(|c| c.header().to_string()).collect();
        expected.extend(REVIEW_COLUMNS.iter().map(|s| s.to_string()));
        assert_eq!(header(&range), expected, "{}", report.kind.sheet_name());
        let data_rows = range.rows().skip(1).filter(|r| r.iter().any(|c| *c != Data::Empty)).count();
        assert_eq!(data_rows, report.rows.len(), "{}", report.kind.sheet_name());
        let tables = book.table_names_in_sheet(report.kind.sheet_name());
        assert_eq!(tables, [&table_name(report.kind.slug())], "{}", report.kind.sheet_name());
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
