//! The expected-users roster: who should have Certinia access, according to HR or the app owner.
//!
//! Takes a CSV file (columns `federation_id`, `username`, `email`, any of them
//! empty, other columns ignored) and hands on entries with their line numbers;
//! then matches each entry to users exactly as REPORTS.md says: case-insensitively,
//! `federation_id` against `FederationIdentifier` first, then `username` against
//! `Username`, then `email` against `Email`; the first key that finds any user
//! decides, and an email shared by several users matches them all.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    #[error("cannot read the roster {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("roster {path} line {line}: {detail}")]
    Malformed { path: PathBuf, line: u64, detail: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterEntry {
    /// Line in the file where the record starts (the header is line 1).
    pub line: u64,
    pub federation_id: String,
    pub username: String,
    pub email: String,
}

#[derive(Debug, Clone)]
pub struct Roster {
    pub path: PathBuf,
    pub sha256: String,
    pub entries: Vec<RosterEntry>,
}

const COLUMNS: [&str; 3] = ["federation_id", "username", "email"];

impl Roster {
    pub fn load(path: &Path) -> Result<Roster, RosterError> {
        let bytes = crate::files::read(path, crate::files::ROSTER)
            .map_err(|source| RosterError::Read { path: path.to_path_buf(), source })?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let entries = parse(&bytes).map_err(|(line, detail)| RosterError::Malformed {
            path: path.to_path_buf(),
            line,
            detail,
        })?;
        Ok(Roster { path: path.to_path_buf(), sha256, entries })
    }
}

/// Parses roster CSV bytes; an error carries the line number.
pub fn parse(bytes: &[u8]) -> Result<Vec<RosterEntry>, (u64, String)> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes); // Excel's UTF-8 BOM
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() as u64;
        (line, "is not UTF-8 text (save the roster as CSV UTF-8)".to_string())
    })?;
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| (1, csv_problem(&e)))?.clone();
    let mut index = [usize::MAX; 3];
    for (i, h) in headers.iter().enumerate() {
        let name = h.trim().to_ascii_lowercase();
        if let Some(k) = COLUMNS.iter().position(|c| *c == name) {
            if index[k] != usize::MAX {
                return Err((1, format!("column {} appears twice", COLUMNS[k])));
            }
            index[k] = i;
        }
    }
    let missing: Vec<&str> = COLUMNS.iter().zip(index).filter(|(_, i)| *i == usize::MAX).map(|(c, _)| *c).collect();
    if !missing.is_empty() {
        return Err((
            1,
            format!(
                "the header must name the columns federation_id, username and email (missing: {})",
                missing.join(", ")
            ),
        ));
    }
    // The csv crate does not count blank lines: take the physical line from the byte offset.
    let line_at = |byte: u64| {
        let bytes = text.as_bytes();
        let mut at = (byte as usize).min(bytes.len());
        // A record's position can point at blank lines before it.
        while at < bytes.len() && matches!(bytes[at], b'\n' | b'\r') {
            at += 1;
        }
        1 + bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64
    };
    let mut entries = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| (e.position().map(|p| line_at(p.byte())).unwrap_or(0), csv_problem(&e)))?;
        let line = record.position().map(|p| line_at(p.byte())).unwrap_or(0);
        let get = |k: usize| record.get(index[k]).unwrap_or("").trim().to_string();
        let entry = RosterEntry { line, federation_id: get(0), username: get(1), email: get(2) };
        if record.iter().all(|f| f.trim().is_empty()) {
            continue; // a blank line, as spreadsheets leave at the end
        }
        if entry.federation_id.is_empty() && entry.username.is_empty() && entry.email.is_empty() {
            return Err((line, "federation_id, username and email are all empty".into()));
        }
        entries.push(entry);
    }
    Ok(entries)
}

fn csv_problem(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("has {len} fields where the header has {expected_len} (a stray comma or quote?)")
        }
        csv::ErrorKind::Utf8 { .. } => "is not UTF-8 text".into(),
        _ => e.to_string(),
    }
}

/// The keys of one user that a roster entry can match.
#[derive(Debug, Clone)]
pub struct UserKeys<'a> {
    pub id: &'a str,
    pub federation_id: Option<&'a str>,
    pub username: &'a str,
    pub email: Option<&'a str>,
}

/// Which key matched, and the users it found (empty when none did).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterMatch {
    pub matched_by: Option<&'static str>,
    pub user_ids: Vec<String>,
}

/// Case folding good enough for names and addresses: upper then lower case, so that `ς`, `σ` and
/// `Σ` meet, and `ß` meets `SS` (plain `to_lowercase` keeps them apart).
fn fold(s: &str) -> String {
    s.to_uppercase().to_lowercase()
}

/// Matches every entry, one at a time, against all users.
pub fn match_entries(entries: &[RosterEntry], users: &[UserKeys<'_>]) -> Vec<RosterMatch> {
    fn index<'a>(
        users: &[UserKeys<'a>],
        key: impl Fn(&UserKeys<'a>) -> Option<&'a str>,
    ) -> HashMap<String, Vec<&'a str>> {
        let mut map: HashMap<String, Vec<&'a str>> = HashMap::new();
        for u in users {
            if let Some(k) = key(u).map(str::trim).filter(|k| !k.is_empty()) {
                map.entry(fold(k)).or_default().push(u.id);
            }
        }
        map
    }
    type Index<'a> = HashMap<String, Vec<&'a str>>;
    let by_federation = index(users, |u| u.federation_id);
    let by_username = index(users, |u| Some(u.username));
    let by_email = index(users, |u| u.email);
    entries
        .iter()
        .map(|e| {
            let tries: [(&'static str, &str, &Index<'_>); 3] = [
                ("federation_id", &e.federation_id, &by_federation),
                ("username", &e.username, &by_username),
                ("email", &e.email, &by_email),
            ];
            for (name, value, map) in tries {
                if value.is_empty() {
                    continue;
                }
                if let Some(ids) = map.get(&fold(value)) {
                    let mut ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
                    ids.sort();
                    return RosterMatch { matched_by: Some(name), user_ids: ids };
                }
            }
            RosterMatch { matched_by: None, user_ids: Vec::new() }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Vec<UserKeys<'static>> {
        vec![
            UserKeys { id: "A", federation_id: Some("E100"), username: "ana@acme.com", email: Some("ana@acme.com") },
            UserKeys { id: "B", federation_id: None, username: "bo@acme.com", email: Some("shared@acme.com") },
            UserKeys { id: "C", federation_id: Some(""), username: "cy@acme.com", email: Some("SHARED@acme.com") },
        ]
    }

    fn entry(f: &str, u: &str, e: &str) -> RosterEntry {
        RosterEntry { line: 2, federation_id: f.into(), username: u.into(), email: e.into() }
    }

    #[test]
    fn first_key_that_finds_a_user_decides() {
        let got = match_entries(
            &[
                entry("e100", "bo@acme.com", ""),      // federation id wins over username
                entry("E999", "BO@ACME.COM", ""),      // no federation match: username
                entry("", "", "Shared@Acme.com"),      // a shared email matches both
                entry("", "nobody@acme.com", "x@y.z"), // nothing
            ],
            &users(),
        );
        assert_eq!(got[0], RosterMatch { matched_by: Some("federation_id"), user_ids: vec!["A".into()] });
        assert_eq!(got[1], RosterMatch { matched_by: Some("username"), user_ids: vec!["B".into()] });
        assert_eq!(got[2], RosterMatch { matched_by: Some("email"), user_ids: vec!["B".into(), "C".into()] });
        assert_eq!(got[3], RosterMatch { matched_by: None, user_ids: vec![] });
    }

    #[test]
    fn parses_with_bom_any_column_order_and_extra_columns() {
        let text = "\u{feff}email,Name,USERNAME,federation_id\nana@acme.com,Ana,,E100\n\n\"b,o@acme.com\",Bo,bo,\n";
        let entries = parse(text.as_bytes()).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[0],
            RosterEntry { line: 2, federation_id: "E100".into(), username: "".into(), email: "ana@acme.com".into() }
        );
        assert_eq!(entries[1].email, "b,o@acme.com");
        assert_eq!(entries[1].line, 4);
    }

    #[test]
    fn malformed_rosters_name_the_line() {
        assert_eq!(parse(b"name,email\nx,y\n").unwrap_err().0, 1);
        let (line, detail) = parse(b"federation_id,username,email\na,b,c\nd,e\n").unwrap_err();
        assert_eq!(line, 3, "{detail}");
        assert!(detail.contains("2 fields"), "{detail}");
        // Rows that are blank in every field are skipped (spreadsheets leave them).
        let entries = parse(b"federation_id,username,email\n , ,\"\"\nx,,\n , , \n").unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].line, 3);
        let (line, _) = parse(b"federation_id,username,email\nok,,\n\xff,,\n").unwrap_err();
        assert_eq!(line, 3);
    }
}
