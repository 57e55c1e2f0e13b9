//! The exclusions file: accounts reviewed elsewhere (service and integration accounts,
//! break-glass admins), kept out of the finding reports on purpose and on the record.
//!
//! Takes a CSV file with the columns `user`, `reason`, `approved_by` and `expires` (any case,
//! any order; other columns are ignored; `expires` may be left out) and hands on its entries with
//! their line numbers; then finds the user each entry names, exactly as REPORTS.md says: by `Id`,
//! `Username` or `Email`, case-insensitively, an email shared by several users being an error,
//! not a guess. Which entries still exclude (not expired) is decided against the as-of date; the
//! analysis applies them (`analysis`), and the Exclusions list shows every entry with its outcome.
//!
//! A file that cannot be trusted stops the run before anything is written: a missing column, an
//! empty `user`, `reason` or `approved_by`, an `expires` that is not a `YYYY-MM-DD` date, or an
//! ambiguous email is one line naming the file and the line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use crate::roster::{UserKeys, fold};

#[derive(Debug, thiserror::Error)]
pub enum ExclusionsError {
    #[error("cannot read the exclusions file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("exclusions file {path} line {line}: {detail}")]
    Malformed { path: PathBuf, line: u64, detail: String },
}

/// One line of the exclusions file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExclusionEntry {
    /// Line in the file where the record starts (the header is line 1).
    pub line: u64,
    /// The user's Id, Username or Email, as written (trimmed).
    pub user: String,
    pub reason: String,
    pub approved_by: String,
    /// The last day the exclusion holds; none for one that does not expire.
    pub expires: Option<NaiveDate>,
}

impl ExclusionEntry {
    /// Whether the entry has expired by `as_of_date`: its `expires` day lies before it (the
    /// exclusion still holds on the day it expires).
    pub fn expired(&self, as_of_date: NaiveDate) -> bool {
        self.expires.is_some_and(|d| d < as_of_date)
    }
}

/// The exclusions file, read and checked.
#[derive(Debug, Clone)]
pub struct Exclusions {
    pub path: PathBuf,
    pub sha256: String,
    pub entries: Vec<ExclusionEntry>,
}

/// The columns, by the name the file must use.
const COLUMNS: [&str; 4] = ["user", "reason", "approved_by", "expires"];

impl Exclusions {
    pub fn load(path: &Path) -> Result<Exclusions, ExclusionsError> {
        let bytes = crate::files::read(path, crate::files::EXCLUSIONS)
            .map_err(|source| ExclusionsError::Read { path: path.to_path_buf(), source })?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let entries = parse(&bytes).map_err(|(line, detail)| ExclusionsError::Malformed {
            path: path.to_path_buf(),
            line,
            detail,
        })?;
        Ok(Exclusions { path: path.to_path_buf(), sha256, entries })
    }

    /// The user each entry names (`None`: no user), or the line of the first entry whose email
    /// several users share.
    pub fn match_users(&self, users: &[UserKeys<'_>]) -> Result<Vec<Option<String>>, ExclusionsError> {
        match_entries(&self.entries, users).map_err(|(line, detail)| ExclusionsError::Malformed {
            path: self.path.clone(),
            line,
            detail,
        })
    }
}

/// Parses exclusions CSV bytes; an error carries the line number.
pub fn parse(bytes: &[u8]) -> Result<Vec<ExclusionEntry>, (u64, String)> {
    let input = crate::csv_input::read(bytes, "the exclusions file")?;
    let mut index = [None; 4];
    for (i, header) in input.headers.iter().enumerate() {
        let name = header.trim().to_ascii_lowercase();
        if let Some(k) = COLUMNS.iter().position(|c| *c == name) {
            if index[k].is_some() {
                return Err((1, format!("column {} appears twice", COLUMNS[k])));
            }
            index[k] = Some(i);
        }
    }
    let missing: Vec<&str> = COLUMNS[..3].iter().zip(index).filter(|(_, i)| i.is_none()).map(|(c, _)| *c).collect();
    if !missing.is_empty() {
        return Err((
            1,
            format!(
                "the header lacks the column{} {}: an exclusions file has the columns user, reason, approved_by \
                 and (optionally) expires",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", ")
            ),
        ));
    }
    let mut entries = Vec::with_capacity(input.records.len());
    for (line, record) in &input.records {
        let get = |k: usize| index[k].and_then(|i| record.get(i)).unwrap_or("").trim().to_string();
        let (user, reason, approved_by, expires) = (get(0), get(1), get(2), get(3));
        for (value, column, why) in [
            (&user, "user", "name the user by Id, Username or Email"),
            (&reason, "reason", "say why the account is reviewed elsewhere"),
            (&approved_by, "approved_by", "name who approved the exclusion"),
        ] {
            if value.is_empty() {
                return Err((*line, format!("{column} is empty: {why}")));
            }
        }
        let expires = if expires.is_empty() {
            None
        } else {
            Some(NaiveDate::parse_from_str(&expires, "%Y-%m-%d").map_err(|_| {
                (*line, format!("expires {expires:?} is not a date written YYYY-MM-DD (e.g. 2027-03-31)"))
            })?)
        };
        entries.push(ExclusionEntry { line: *line, user, reason, approved_by, expires });
    }
    Ok(entries)
}

/// Whether `s` has the shape of a Salesforce Id: 15 or 18 letters and digits.
fn looks_like_id(s: &str) -> bool {
    matches!(s.len(), 15 | 18) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Finds the user each entry names: an `Id` (18 characters, or its first 15), else a `Username`,
/// else an `Email`, all case-insensitively. An email that several users share is an error naming
/// the entry's line; a value that finds nobody is `None`.
pub fn match_entries(entries: &[ExclusionEntry], users: &[UserKeys<'_>]) -> Result<Vec<Option<String>>, (u64, String)> {
    let mut by_id: HashMap<String, &str> = HashMap::with_capacity(users.len() * 2);
    let mut by_username: HashMap<String, &str> = HashMap::with_capacity(users.len());
    let mut by_email: HashMap<String, Vec<&str>> = HashMap::with_capacity(users.len());
    for u in users {
        by_id.insert(u.id.to_ascii_lowercase(), u.id);
        if u.id.len() == 18 {
            by_id.insert(u.id[..15].to_ascii_lowercase(), u.id);
        }
        by_username.insert(fold(u.username.trim()), u.id);
        if let Some(email) = u.email.map(str::trim).filter(|e| !e.is_empty()) {
            by_email.entry(fold(email)).or_default().push(u.id);
        }
    }
    entries
        .iter()
        .map(|e| {
            if looks_like_id(&e.user)
                && let Some(id) = by_id.get(&e.user.to_ascii_lowercase())
            {
                return Ok(Some(id.to_string()));
            }
            let key = fold(&e.user);
            if let Some(id) = by_username.get(&key) {
                return Ok(Some(id.to_string()));
            }
            match by_email.get(&key).map(Vec::as_slice) {
                None | Some([]) => Ok(None),
                Some([one]) => Ok(Some(one.to_string())),
                Some(many) => {
                    let mut ids: Vec<&str> = many.to_vec();
                    ids.sort_unstable();
                    Err((
                        e.line,
                        format!(
                            "the email {} is shared by {} users ({}): name the user by Id or Username instead",
                            e.user,
                            ids.len(),
                            ids.join(", ")
                        ),
                    ))
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Vec<UserKeys<'static>> {
        vec![
            UserKeys {
                id: "005000000000001AAA",
                federation_id: None,
                username: "svc@acme.com",
                email: Some("it@acme.com"),
            },
            UserKeys {
                id: "005000000000002AAA",
                federation_id: None,
                username: "ana@acme.com",
                email: Some("IT@acme.com"),
            },
            UserKeys {
                id: "005000000000003AAA",
                federation_id: None,
                username: "bo@acme.com",
                email: Some("bo@acme.com"),
            },
        ]
    }

    fn entry(user: &str) -> ExclusionEntry {
        ExclusionEntry { line: 7, user: user.into(), reason: "r".into(), approved_by: "a".into(), expires: None }
    }

    #[test]
    fn ids_usernames_and_emails_match_case_insensitively() {
        let got = match_entries(
            &[
                entry("005000000000003aaa"),
                entry("005000000000003"),
                entry("SVC@ACME.COM"),
                entry("Bo@Acme.com"),
                entry("nobody@acme.com"),
            ],
            &users(),
        )
        .unwrap();
        assert_eq!(
            got,
            [
                Some("005000000000003AAA".to_string()),
                Some("005000000000003AAA".to_string()),
                Some("005000000000001AAA".to_string()),
                Some("005000000000003AAA".to_string()),
                None
            ]
        );
    }

    #[test]
    fn a_shared_email_is_an_error_naming_the_line() {
        let (line, detail) = match_entries(&[entry("it@ACME.com")], &users()).unwrap_err();
        assert_eq!(line, 7);
        assert!(detail.contains("shared by 2 users (005000000000001AAA, 005000000000002AAA)"), "{detail}");
    }

    #[test]
    fn parses_any_column_order_and_checks_every_field() {
        let entries = parse(b"Expires,User,reason,approved_by,notes\n2027-01-31,svc@acme.com,integration,CISO,x\n\n,bo,break-glass,CISO,\n").unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].expires, NaiveDate::from_ymd_opt(2027, 1, 31));
        assert_eq!((entries[1].line, entries[1].expires), (4, None));
        assert_eq!(parse(b"user,reason\nx,y\n").unwrap_err().0, 1);
        let (line, detail) = parse(b"user,reason,approved_by\nx,y,z\nw,,z\n").unwrap_err();
        assert_eq!((line, detail.as_str()), (3, "reason is empty: say why the account is reviewed elsewhere"));
        let (line, detail) = parse(b"user,reason,approved_by,expires\nx,y,z,31/12/2026\n").unwrap_err();
        assert_eq!(line, 2);
        assert!(detail.contains("\"31/12/2026\" is not a date written YYYY-MM-DD"), "{detail}");
        assert_eq!(parse(b"user,reason,approved_by\nx,y\n").unwrap_err().0, 2);
    }

    #[test]
    fn an_exclusion_holds_through_the_day_it_expires() {
        let mut e = entry("x");
        e.expires = NaiveDate::from_ymd_opt(2026, 11, 20);
        assert!(!e.expired(NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()));
        assert!(e.expired(NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()));
        assert!(!entry("x").expired(NaiveDate::MAX));
    }
}
