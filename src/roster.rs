//! The expected-users roster: who should have Certinia access, according to HR or the app owner.
//!
//! Takes a CSV file (any of the columns `federation_id`, `username`, `email`, or
//! Salesforce's `FederationIdentifier`, `Username`, `Email`; values may be empty,
//! other columns are ignored) and hands on entries with their line numbers;
//! then matches each entry to users exactly as REPORTS.md says: case-insensitively,
//! `federation_id` against `FederationIdentifier` first, then `username` against
//! `Username`, then `email` against `Email`; the first key that finds any user
//! decides, and an email shared by several users matches them all. The accounts of other
//! applications (read over SCIM) are matched to users by the same rule ([`UserIndex`]) and
//! looked up on the roster by any of their keys ([`RosterKeys`]).

use std::collections::{HashMap, HashSet};
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

/// The three key columns, by the name the outputs use.
const COLUMNS: [&str; 3] = ["federation_id", "username", "email"];

/// The key column a header names, if any: ours (`federation_id`) or Salesforce's own
/// (`FederationIdentifier`, `Federation ID`, `Username`, `Email`), compared ignoring case,
/// spaces, `_` and `-`, so `User Name` and `E-mail` are understood too.
fn key_column(header: &str) -> Option<usize> {
    let name: String = header.chars().filter(|c| !matches!(c, ' ' | '_' | '-')).flat_map(char::to_lowercase).collect();
    match name.as_str() {
        "federationid" | "federationidentifier" => Some(0),
        "username" => Some(1),
        "email" => Some(2),
        _ => None,
    }
}

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
///
/// Any subset of the three key columns will do (an HR export often has only email); a missing
/// column is an empty value on every row. Line numbers come from [`crate::csv_input`].
pub fn parse(bytes: &[u8]) -> Result<Vec<RosterEntry>, (u64, String)> {
    let input = crate::csv_input::read(bytes, "the roster")?;
    let headers = &input.headers;
    let mut index = [None; 3];
    for (i, h) in headers.iter().enumerate() {
        if let Some(k) = key_column(h) {
            if let Some(first) = index[k] {
                return Err((
                    1,
                    format!(
                        "column {} appears twice ({:?} and {:?})",
                        COLUMNS[k],
                        headers.get(first).unwrap_or_default(),
                        h
                    ),
                ));
            }
            index[k] = Some(i);
        }
    }
    let present: Vec<&str> = COLUMNS.iter().zip(index).filter(|(_, i)| i.is_some()).map(|(c, _)| *c).collect();
    if present.is_empty() {
        return Err((
            1,
            "the header names none of the columns federation_id (or FederationIdentifier, Federation ID), \
             username (or Username) and email (or Email); at least one is needed"
                .to_string(),
        ));
    }
    let all_empty = match present.as_slice() {
        [one] => format!("{one} is empty"),
        [a, b] => format!("{a} and {b} are both empty"),
        _ => "federation_id, username and email are all empty".to_string(),
    };
    let mut entries = Vec::with_capacity(input.records.len());
    for (line, record) in &input.records {
        let get = |k: usize| index[k].and_then(|i| record.get(i)).unwrap_or("").trim().to_string();
        let entry = RosterEntry { line: *line, federation_id: get(0), username: get(1), email: get(2) };
        if entry.federation_id.is_empty() && entry.username.is_empty() && entry.email.is_empty() {
            return Err((*line, all_empty));
        }
        entries.push(entry);
    }
    Ok(entries)
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
pub(crate) fn fold(s: &str) -> String {
    s.to_uppercase().to_lowercase()
}

/// Every user under each of its three keys, case-folded: what roster entries and the accounts of
/// other applications are matched against (REPORTS.md: the same rule for both).
pub struct UserIndex<'a> {
    by_federation: HashMap<String, Vec<&'a str>>,
    by_username: HashMap<String, Vec<&'a str>>,
    by_email: HashMap<String, Vec<&'a str>>,
}

/// Which of the three keys found the users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    FederationId,
    Username,
    Email,
}

impl<'a> UserIndex<'a> {
    pub fn new(users: &[UserKeys<'a>]) -> UserIndex<'a> {
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
        UserIndex {
            by_federation: index(users, |u| u.federation_id),
            by_username: index(users, |u| Some(u.username)),
            by_email: index(users, |u| u.email),
        }
    }

    /// The users found by the first key that finds any: `federation_id` against
    /// `FederationIdentifier`, else `username` against `Username`, else the `emails` (all of them,
    /// together) against `Email`. Empty values never match. Ids sorted, each once.
    pub fn find(&self, federation_id: &str, username: &str, emails: &[&str]) -> Option<(Key, Vec<String>)> {
        fn lookup<'m, 'a>(map: &'m HashMap<String, Vec<&'a str>>, value: &str) -> Option<&'m Vec<&'a str>> {
            let value = value.trim();
            if value.is_empty() { None } else { map.get(&fold(value)) }
        }
        let found = |ids: Vec<&str>| {
            let mut ids: Vec<String> = ids.into_iter().map(str::to_string).collect();
            ids.sort();
            ids.dedup();
            ids
        };
        if let Some(ids) = lookup(&self.by_federation, federation_id) {
            return Some((Key::FederationId, found(ids.clone())));
        }
        if let Some(ids) = lookup(&self.by_username, username) {
            return Some((Key::Username, found(ids.clone())));
        }
        let by_email: Vec<&str> = emails.iter().filter_map(|e| lookup(&self.by_email, e)).flatten().copied().collect();
        (!by_email.is_empty()).then(|| (Key::Email, found(by_email)))
    }
}

/// Matches every entry, one at a time, against all users.
pub fn match_entries(entries: &[RosterEntry], users: &[UserKeys<'_>]) -> Vec<RosterMatch> {
    let index = UserIndex::new(users);
    entries
        .iter()
        .map(|e| match index.find(&e.federation_id, &e.username, &[e.email.as_str()]) {
            Some((key, user_ids)) => {
                let name = match key {
                    Key::FederationId => "federation_id",
                    Key::Username => "username",
                    Key::Email => "email",
                };
                RosterMatch { matched_by: Some(name), user_ids }
            }
            None => RosterMatch { matched_by: None, user_ids: Vec::new() },
        })
        .collect()
}

/// The roster's values of each key, case-folded: whether an application account is on the roster.
pub struct RosterKeys {
    federation_ids: HashSet<String>,
    usernames: HashSet<String>,
    emails: HashSet<String>,
}

impl RosterKeys {
    pub fn new(entries: &[RosterEntry]) -> RosterKeys {
        let set = |key: fn(&RosterEntry) -> &str| -> HashSet<String> {
            entries.iter().map(key).map(str::trim).filter(|v| !v.is_empty()).map(fold).collect()
        };
        RosterKeys {
            federation_ids: set(|e| &e.federation_id),
            usernames: set(|e| &e.username),
            emails: set(|e| &e.email),
        }
    }

    /// Whether any entry has `federation_id` as its federation_id, `username` as its username, or
    /// one of `emails` as its email (case-insensitively; empty values never match).
    pub fn lists(&self, federation_id: &str, username: &str, emails: &[&str]) -> bool {
        let has = |set: &HashSet<String>, v: &str| !v.trim().is_empty() && set.contains(&fold(v.trim()));
        has(&self.federation_ids, federation_id)
            || has(&self.usernames, username)
            || emails.iter().any(|e| has(&self.emails, e))
    }
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
    fn accounts_are_on_the_roster_by_any_key_and_emails_match_together() {
        let index = UserIndex::new(&users());
        // Several emails: every user any of them finds.
        let (key, ids) = index.find("", "nobody", &["ana@acme.com", "SHARED@acme.com"]).unwrap();
        assert_eq!((key, ids), (Key::Email, vec!["A".to_string(), "B".to_string(), "C".to_string()]));
        assert_eq!(index.find(" ", "", &["", " "]), None, "empty values never match");
        let keys = RosterKeys::new(&[entry("E7", "", ""), entry("", "Bo@Acme.com", ""), entry("", "", "x@y.z")]);
        assert!(keys.lists("e7", "", &[]));
        assert!(keys.lists("", "bo@acme.com", &[]));
        assert!(keys.lists("", "", &["a@b.c", "X@Y.Z"]));
        assert!(!keys.lists("", "", &[""]));
        assert!(!keys.lists("E8", "x@y.z", &["bo@acme.com"]), "each key against its own column");
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
    fn salesforce_column_names_and_any_subset_of_the_keys() {
        let entries = parse(b"Name,Email\nAna,ana@acme.com\n").unwrap();
        assert_eq!(
            entries,
            [RosterEntry { line: 2, federation_id: "".into(), username: "".into(), email: "ana@acme.com".into() }]
        );
        let entries = parse(b"FederationIdentifier,USERNAME\nE1,u@x\n").unwrap();
        assert_eq!((entries[0].federation_id.as_str(), entries[0].username.as_str()), ("E1", "u@x"));
        let entries = parse(b"Federation ID,User Name,E-mail\nE2,v@x,w@x\n").unwrap();
        assert_eq!(
            entries[0],
            RosterEntry { line: 2, federation_id: "E2".into(), username: "v@x".into(), email: "w@x".into() }
        );
        // Two spellings of one column are ambiguous.
        let (line, detail) = parse(b"email,Email\na,b\n").unwrap_err();
        assert_eq!(line, 1);
        assert!(detail.contains("appears twice"), "{detail}");
        // No key column at all: one line naming what is expected.
        let (line, detail) = parse(b"name,department\nAna,Finance\n").unwrap_err();
        assert_eq!(line, 1);
        for name in ["federation_id", "FederationIdentifier", "username", "Username", "email", "Email"] {
            assert!(detail.contains(name), "{detail}");
        }
        // An email-only roster with an empty email names just that column.
        let (line, detail) = parse(b"Email,Name\n,Ana\n").unwrap_err();
        assert_eq!((line, detail.as_str()), (2, "email is empty"));
    }

    #[test]
    fn line_numbers_count_blank_lines_quoted_newlines_crlf_and_lone_cr() {
        let text = "username\r\n\r\na\r\n\"multi\nline\"\r\n\n\n\rb\r\nc";
        let lines: Vec<(u64, String)> =
            parse(text.as_bytes()).unwrap().into_iter().map(|e| (e.line, e.username)).collect();
        assert_eq!(
            lines,
            [(3, "a".to_string()), (4, "multi\nline".to_string()), (9, "b".to_string()), (10, "c".to_string())]
        );
        // A lone CR ends a line too, as text editors show it (old Mac files; the csv reader ends a
        // record there as well): the second record is on line 2, not line 1.
        let lone: Vec<u64> = parse(b"federation_id\rfed-1\rfed-2").unwrap().into_iter().map(|e| e.line).collect();
        assert_eq!(lone, [2, 3]);
    }

    #[test]
    fn malformed_rosters_name_the_line() {
        assert_eq!(parse(b"name,dept\nx,y\n").unwrap_err().0, 1);
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
