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
        let mut lines = Lines::new(bytes);
        lines.advance(e.valid_up_to());
        (lines.line, format!("is not UTF-8 text (save {what} as CSV UTF-8)"))
    })?;
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| (1, problem(&e)))?.clone();
    let mut lines = Lines::new(text.as_bytes());
    let mut physical_line =
        |position: Option<&csv::Position>| position.map(|p| lines.record_at(p.byte() as usize)).unwrap_or(0);
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

/// Physical line numbers by byte offset, counted as a text editor shows them: a line ends at `\n`,
/// `\r\n` or a lone `\r` (the csv crate ends records at all three, but its own line count knows
/// only `\n`). Records are asked for in file order, so each byte is looked at once: linear.
struct Lines<'a> {
    text: &'a [u8],
    /// The byte up to which line ends are counted, and the line it is on (1-based).
    at: usize,
    line: u64,
}

impl<'a> Lines<'a> {
    fn new(text: &'a [u8]) -> Lines<'a> {
        Lines { text, at: 0, line: 1 }
    }

    fn ends_line(&self, i: usize) -> bool {
        match self.text[i] {
            b'\n' => true,
            b'\r' => self.text.get(i + 1) != Some(&b'\n'),
            _ => false,
        }
    }

    /// Counts the line ends before byte `to`.
    fn advance(&mut self, to: usize) {
        let to = to.min(self.text.len());
        if to < self.at {
            (self.at, self.line) = (0, 1);
        }
        while self.at < to {
            self.line += u64::from(self.ends_line(self.at));
            self.at += 1;
        }
    }

    /// The line where the record the reader began at byte `start` starts: the reader's position is
    /// before any blank lines that precede the record (it skips them inside the record's read).
    fn record_at(&mut self, start: usize) -> u64 {
        self.advance(start);
        let blank = self.text[self.at..].iter().take_while(|&&b| matches!(b, b'\n' | b'\r')).count();
        self.advance(self.at + blank);
        self.line
    }
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
