//! The review workbook a reviewer works in, read back from the real binary's output: each
//! report's own drop-down, protection with only the reviewer cells unlocked, print setup, frozen
//! panes, widths that never show `###`, the manager columns, and one workbook per manager.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use calamine::{Data, Reader, Xlsx};

use crate::common::*;

/// The decisions of REPORTS.md ("The review cycle"), by sheet.
const DECISIONS: [(&str, &str); 5] = [
    ("Inactive", "Deactivate,Freeze,Keep,Investigate"),
    ("Never logged in", "Deactivate,Keep,Investigate"),
    ("Certinia retained", "Remove access,Keep (justified),Investigate"),
    ("Certinia lacking", "Grant access,Not needed,Investigate"),
    ("Access matrix", "Certify,Remove access,Investigate"),
];
const REVIEWER_COLUMNS: [&str; 5] = ["Decision", "Reviewer", "DecidedOn", "Ticket", "Comment"];

/// `report` of the demo snapshot into `work/out` (with extra arguments); the workbook's path.
fn demo_workbook(work: &Path, extra: &[&str]) -> PathBuf {
    report_demo(work, extra);
    work.join("out/access-review.xlsx")
}

/// An attribute of an element's text (the text after its name: `a="1" b="2"…`).
fn attr<'a>(element: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("{name}=\"");
    let start = if element.starts_with(&key) {
        Some(key.len())
    } else {
        element.find(&format!(" {key}")).map(|i| i + key.len() + 1)
    }?;
    element[start..].split('"').next()
}

/// Every cell element of a sheet: (reference, style index, type, value).
fn cells(xml: &str) -> Vec<(String, usize, String, String)> {
    xml.split("<c r=\"")
        .skip(1)
        .map(|c| {
            let open = &c[..c.find('>').unwrap()];
            let reference: String = open.chars().take_while(|ch| ch.is_ascii_alphanumeric()).collect();
            let style = attr(open, "s").map_or(0, |s| s.parse().unwrap());
            let ty = attr(open, "t").unwrap_or("n").to_string();
            let value = c.split("<v>").nth(1).and_then(|v| v.split("</v>").next()).unwrap_or("").to_string();
            (reference, style, ty, value)
        })
        .collect()
}

/// `(row, column)`, both 1-based, of a cell reference.
fn position(reference: &str) -> (u32, usize) {
    let letters: String = reference.chars().take_while(|c| c.is_ascii_uppercase()).collect();
    let col = letters.bytes().fold(0usize, |n, b| n * 26 + (b - b'A' + 1) as usize);
    (reference[letters.len()..].parse().unwrap(), col)
}

/// Column widths (1-based column → width in characters) from the sheet's `<cols>`.
fn widths(xml: &str) -> BTreeMap<usize, f64> {
    let mut out = BTreeMap::new();
    for col in xml.split("<col ").skip(1) {
        let col = &col[..col.find("/>").unwrap()];
        let (min, max): (usize, usize) =
            (attr(col, "min").unwrap().parse().unwrap(), attr(col, "max").unwrap().parse().unwrap());
        let width: f64 = attr(col, "width").unwrap().parse().unwrap();
        for c in min..=max {
            out.insert(c, width);
        }
    }
    out
}

#[test]
fn each_report_sheet_offers_its_own_decisions_and_a_date_for_decided_on() {
    let work = tempfile::tempdir().unwrap();
    let path = demo_workbook(work.path(), &[]);
    let book = XlsxFile::open(&path);
    for (sheet, choices) in DECISIONS {
        let rows = SheetRows::read(&path, sheet);
        assert_eq!(rows.header[rows.header.len() - 5..], REVIEWER_COLUMNS, "{sheet}");
        let last = rows.rows.len() as u32 + 1;
        let xml = book.sheet_xml(sheet);
        let validations: Vec<&str> = xml.split("<dataValidation ").skip(1).collect();
        let decision = column_letters(rows.column("Decision"));
        let list = validations
            .iter()
            .find(|v| attr(v, "type") == Some("list"))
            .unwrap_or_else(|| panic!("{sheet}: no drop-down"));
        assert_eq!(attr(list, "sqref"), Some(format!("{decision}2:{decision}{last}").as_str()), "{sheet}");
        assert!(list.contains(&format!("<formula1>\"{choices}\"</formula1>")), "{sheet}: {list}");
        let date = column_letters(rows.column("DecidedOn"));
        let dates = validations.iter().find(|v| attr(v, "type") == Some("date")).expect("a date validation");
        assert_eq!(attr(dates, "sqref"), Some(format!("{date}2:{date}{last}").as_str()));
        assert_eq!(attr(dates, "operator"), Some("greaterThanOrEqual"));
        // 2026-11-20, the as-of date, is serial 46346: no decision predates the data.
        assert!(dates.contains("<formula1>46346</formula1>"), "{dates}");
    }
}

#[test]
fn sheets_are_protected_without_a_password_and_only_reviewer_cells_are_unlocked() {
    let work = tempfile::tempdir().unwrap();
    let path = demo_workbook(work.path(), &[]);
    let book = XlsxFile::open(&path);
    let formats = book.cell_formats();
    let unlocked = |style: usize| formats[style].contains(r#"locked="0""#);
    for sheet in book.sheet_names() {
        let xml = book.sheet_xml(&sheet);
        let protection = xml.split("<sheetProtection ").nth(1).unwrap_or_else(|| panic!("{sheet} is not protected"));
        let protection = &protection[..protection.find("/>").unwrap()];
        assert_eq!(attr(protection, "password"), None, "{sheet}: no password");
        assert_eq!(attr(protection, "sheet"), Some("1"));
        // "0" = not protected: filters and sorting stay usable.
        assert_eq!(attr(protection, "autoFilter"), Some("0"), "{sheet}");
        assert_eq!(attr(protection, "sort"), Some("0"), "{sheet}");
        let report = DECISIONS.iter().any(|(s, _)| *s == sheet);
        let header = if report { SheetRows::read(&path, &sheet).header } else { Vec::new() };
        let mut reviewer_cells = 0;
        for (reference, style, _, _) in cells(&xml) {
            let (row, col) = position(&reference);
            let reviewer = report && row > 1 && REVIEWER_COLUMNS.contains(&header[col - 1].as_str());
            assert_eq!(unlocked(style), reviewer, "{sheet}!{reference}");
            reviewer_cells += usize::from(reviewer);
        }
        if report {
            let rows = SheetRows::read(&path, &sheet).rows.len();
            assert_eq!(reviewer_cells, 5 * rows, "{sheet}: every row's five reviewer cells");
        }
    }
}

#[test]
fn sheets_print_landscape_one_page_wide_with_the_header_on_every_page() {
    let work = tempfile::tempdir().unwrap();
    let path = demo_workbook(work.path(), &[]);
    let book = XlsxFile::open(&path);
    let workbook = book.text("xl/workbook.xml");
    for sheet in book.sheet_names() {
        let xml = book.sheet_xml(&sheet);
        let setup = xml.split("<pageSetup ").nth(1).unwrap_or_else(|| panic!("{sheet}: no page setup"));
        assert_eq!(attr(setup, "orientation"), Some("landscape"), "{sheet}");
        assert_eq!(attr(setup, "fitToWidth"), None, "1 page wide is the default of fitToWidth");
        assert_eq!(attr(setup, "fitToHeight"), Some("0"), "{sheet}: as many pages tall as needed");
        assert!(xml.contains(r#"<pageSetUpPr fitToPage="1"/>"#), "{sheet}");
        let header = xml.split("<oddHeader>").nth(1).unwrap().split("</oddHeader>").next().unwrap();
        assert_eq!(header, "&amp;LNorthwind Consulting&amp;C&amp;A&amp;Ras of 2026-11-20 09:00 UTC", "{sheet}");
        let footer = xml.split("<oddFooter>").nth(1).unwrap().split("</oddFooter>").next().unwrap();
        assert!(
            footer.starts_with("&amp;Laccess-audit run ") && footer.ends_with("&amp;CPage &amp;P of &amp;N"),
            "{footer}"
        );
    }
    for (sheet, _) in DECISIONS {
        let quoted = if sheet.contains(' ') { format!("'{sheet}'") } else { sheet.to_string() };
        assert!(workbook.contains(&format!(">{quoted}!$1:$1</definedName>")), "{sheet}: the header row repeats");
    }
}

#[test]
fn the_header_and_the_users_name_stay_in_view_while_scrolling_right() {
    let work = tempfile::tempdir().unwrap();
    let path = demo_workbook(work.path(), &[]);
    let book = XlsxFile::open(&path);
    for (sheet, _) in DECISIONS {
        let rows = SheetRows::read(&path, sheet);
        assert_eq!(rows.header[..3], ["Id", "Username", "Name"]);
        let xml = book.sheet_xml(sheet);
        let pane = xml.split("<pane ").nth(1).unwrap();
        assert_eq!(attr(pane, "xSplit"), Some("3"), "{sheet}: Id, Username and Name frozen");
        assert_eq!(attr(pane, "ySplit"), Some("1"), "{sheet}: the header frozen");
        assert_eq!(attr(pane, "topLeftCell"), Some("D2"));
        assert_eq!(attr(pane, "state"), Some("frozen"));
    }
}

/// The characters a number, date or boolean cell shows, by its number format.
fn shown_length(book: &XlsxFile, style: usize, ty: &str, value: &str) -> usize {
    if ty == "b" {
        return "FALSE".len();
    }
    match book.number_format(style).as_str() {
        "General" => {
            let n: f64 = value.parse().unwrap();
            format!("{}", n).len()
        }
        date if date.contains("yyyy") => date.len(),
        other => panic!("an unexpected number format {other}"),
    }
}

#[test]
fn no_number_date_or_boolean_cell_is_narrower_than_its_formatted_value() {
    let work = tempfile::tempdir().unwrap();
    let path = demo_workbook(work.path(), &[]);
    let book = XlsxFile::open(&path);
    let mut dates = 0;
    for sheet in book.sheet_names() {
        let xml = book.sheet_xml(&sheet);
        let widths = widths(&xml);
        for (reference, style, ty, value) in cells(&xml) {
            if !matches!(ty.as_str(), "n" | "b") || value.is_empty() {
                continue;
            }
            let (_, col) = position(&reference);
            let shown = shown_length(&book, style, &ty, &value);
            dates += usize::from(book.number_format(style).contains("yyyy"));
            // Excel's default width is 8.43; a value needs its characters and a margin.
            let width = widths.get(&col).copied().unwrap_or(8.43);
            assert!(
                width >= shown as f64 + 1.0,
                "{sheet}!{reference}: {value} shows {shown} characters in width {width}"
            );
        }
    }
    // At least the access matrix's 280 LastLoginDate or other dates, and the as-of date of the
    // Summary and Run sheets.
    assert!(dates >= 282, "the dates were checked ({dates})");
}

#[test]
fn every_user_report_shows_the_manager_and_the_account_class() {
    let work = tempfile::tempdir().unwrap();
    let path = demo_workbook(work.path(), &[]);
    let users: BTreeMap<String, serde_json::Map<String, serde_json::Value>> =
        demo_users().into_iter().map(|u| (u["Id"].as_str().unwrap().to_string(), u)).collect();
    let text = |v: &serde_json::Value| v.as_str().map(|s| Data::String(s.to_string())).unwrap_or(Data::Empty);
    for (sheet, _) in DECISIONS {
        let rows = SheetRows::read(&path, sheet);
        for id in rows.rows.keys() {
            let user = &users[id];
            assert_eq!(rows.value(id, "ManagerId"), text(&user["ManagerId"]), "{sheet} {id}");
            let manager = &user["Manager"];
            assert_eq!(rows.value(id, "ManagerName"), text(&manager["Name"]), "{sheet} {id}");
            assert_eq!(rows.value(id, "ManagerEmail"), text(&manager["Email"]), "{sheet} {id}");
        }
    }
    // The demo org's API user has the Salesforce Integration licence; everyone else audited is a person.
    let matrix = SheetRows::read(&path, "Access matrix");
    for id in matrix.rows.keys() {
        let licence = users[id]["Profile"]["UserLicense"]["Name"].as_str().unwrap();
        let want = if licence == "Salesforce Integration" { "Integration" } else { "Human" };
        assert_eq!(matrix.value(id, "AccountClass"), Data::String(want.into()), "{id}");
    }
}

#[test]
fn the_instructions_say_what_each_report_and_decision_means() {
    let work = tempfile::tempdir().unwrap();
    let path = demo_workbook(work.path(), &[]);
    let mut book: Xlsx<_> = calamine::open_workbook(&path).unwrap();
    assert_eq!(book.sheet_names()[..2], ["Summary", "Instructions"]);
    let range = book.worksheet_range("Instructions").unwrap();
    let text: Vec<String> = range.rows().flat_map(|r| r.iter().map(|c| c.to_string())).collect();
    for (_, choices) in DECISIONS {
        assert!(text.contains(&choices.replace(',', ", ")), "{choices}");
    }
    for decision in ["Deactivate", "Freeze", "Remove access", "Grant access", "Keep (justified)", "Certify"] {
        let row = range.rows().find(|r| r[0] == Data::String(decision.into())).unwrap_or_else(|| panic!("{decision}"));
        assert!(!row[1].to_string().is_empty());
    }
    assert!(text.iter().any(|t| t.contains("access-audit review")), "how to hand it back");
}

#[test]
fn split_by_manager_writes_one_workbook_per_manager_with_only_their_rows() {
    let work = tempfile::tempdir().unwrap();
    let path = demo_workbook(work.path(), &["--split-by", "manager"]);
    let out = work.path().join("out");
    let matrix = SheetRows::read(&path, "Access matrix");
    let managers: BTreeSet<String> =
        matrix.rows.values().map(|(_, r)| r[matrix.column("ManagerId")].to_string()).collect();
    let index = SheetRows::read(&path, "Managers");
    let files: Vec<PathBuf> = std::fs::read_dir(out.join("by-manager")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), managers.len(), "one per manager, and one for the users without");
    assert_eq!(index.rows.len(), managers.len());
    let mut seen = BTreeSet::new();
    for file in &files {
        let name = format!("by-manager/{}", file.file_name().unwrap().to_string_lossy());
        let (_, entry) =
            index.rows.values().find(|(_, r)| r[index.column("Workbook")] == Data::String(name.clone())).unwrap();
        let manager = entry[index.column("ManagerId")].to_string();
        // The same sheets and columns as the main workbook, each with the manager's rows only.
        for (sheet, _) in DECISIONS {
            let main = SheetRows::read(&path, sheet);
            let part = SheetRows::read(file, sheet);
            assert_eq!(part.header, main.header, "{name} {sheet}");
            let want: BTreeSet<&String> = main
                .rows
                .iter()
                .filter(|(_, (_, r))| r[main.column("ManagerId")].to_string() == manager)
                .map(|(id, _)| id)
                .collect();
            assert_eq!(part.rows.keys().collect::<BTreeSet<_>>(), want, "{name} {sheet}");
            seen.extend(part.rows.keys().filter(|_| sheet == "Access matrix").cloned());
        }
        let run = SheetRows::read(file, "Run");
        assert_eq!(run.header[0], "Run id", "{name}: the run id is on its Run sheet");
    }
    assert_eq!(seen, matrix.rows.keys().cloned().collect(), "every user is in exactly one manager's workbook");
    // The file list of the folder names them, so that a later run recognises them as the tool's.
    let list = std::fs::read_to_string(out.join("access-audit-files.json")).unwrap();
    assert_eq!(list.matches("\"by-manager/").count(), files.len());
}
