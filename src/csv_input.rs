//! CSV files given from outside (the roster, the exclusions file), read the same way.
//!
//! Takes the file's bytes and hands on its header and its records, each with the physical line
//! where it starts, so that every complaint about such a file can name its line. The bytes must
//! be UTF-8 (a leading BOM, as Excel writes, is fine); every record must have as many fields as
//! the header; records blank in every field (spreadsheets leave them at the end) are skipped.

/// A CSV file's header and records.
#[derive(Debug)]
pub struct CsvInput {
    pub headers: csv::StringRecord,
    /// Each non-blank record with the physical line (1-based) where it starts.
    pub records: Vec<(u64, csv::StringRecord)>,
}

/// Reads CSV bytes; an error carries the line number and says what is wrong. `what` names the file
/// in the advice about its encoding ("the roster").
pub fn read(bytes: &[u8], what: &str) -> Result<CsvInput, (u64, String)> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes); // Excel's UTF-8 BOM
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() as u64;
        (line, format!("is not UTF-8 text (save {what} as CSV UTF-8)"))
    })?;
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| (1, problem(&e)))?.clone();
    let physical_line = |position: Option<&csv::Position>| position.map(|p| line_of(text.as_bytes(), p)).unwrap_or(0);
    let mut records = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err((physical_line(e.position()), problem(&e))),
        }
        if record.iter().all(|f| f.trim().is_empty()) {
            continue; // a blank line, as spreadsheets leave at the end
        }
        records.push((physical_line(record.position()), record.clone()));
    }
    Ok(CsvInput { headers, records })
}

/// The physical line (1-based) where the record at `position` starts.
///
/// The reader's position is where it began reading the record, which is before any blank lines
/// that precede it (the csv crate skips those inside the record's read): add the line ends of that
/// blank run. Each byte is looked at once over the whole file, so this stays linear.
fn line_of(text: &[u8], position: &csv::Position) -> u64 {
    let start = (position.byte() as usize).min(text.len());
    let blank = text[start..].iter().take_while(|&&b| matches!(b, b'\n' | b'\r')).filter(|&&b| b == b'\n').count();
    position.line() + blank as u64
}

fn problem(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("has {len} fields where the header has {expected_len} (a stray comma or quote?)")
        }
        csv::ErrorKind::Utf8 { .. } => "is not UTF-8 text".into(),
        _ => e.to_string(),
    }
}
