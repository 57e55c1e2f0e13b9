//! Property tests of every parser of outside input: Salesforce datetimes and records, the
//! `Sforce-Limit-Info` header, the roster CSV, the configuration file and settings, and the CSV
//! report cells.
//!
//! One `proptest!` block per parser. Each block checks that the parser never panics, whatever the
//! input, and that generated valid input comes back exactly as written, with errors that say
//! where the input was wrong. Nothing is written into the repository
//! (`failure_persistence: None`); a failure prints its shrunk input instead.

use access_audit::cli::RuleArgs;
use access_audit::config::{self, ApiFloor, ApiVersion, FileConfig, LoadedFile, Rules};
use access_audit::endpoint;
use access_audit::model::{Report, ReportKind, RosterRow, Rows};
use access_audit::render::csv::{neutralise, write_report};
use access_audit::roster::{self, RosterEntry, RosterMatch, UserKeys};
use access_audit::salesforce::ApiUsage;
use access_audit::snapshot::{self, FieldSpec, FieldType, OBJECTS, ObjectSpec};
use chrono::{DateTime, Datelike, Duration, NaiveDate, SubsecRound, Timelike, Utc};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use serde_json::{Map, Value};

/// Enough cases to find the edges, few enough that the file runs in seconds in a debug build.
fn config() -> ProptestConfig {
    ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
}

/// The form Salesforce writes datetimes in.
const SF_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3f+0000";

/// The characters a spreadsheet reads as the start of a formula (README, "Outputs").
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

// ---------------------------------------------------------------------------------------------
// Salesforce datetimes: `snapshot::parse_datetime`
// ---------------------------------------------------------------------------------------------

/// A UTC instant in whole milliseconds, a day away from the ends of the 4-digit years so any
/// offset keeps the local time in them too.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    let millis = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
    let (lo, hi) = (millis(1000, 1, 2).timestamp_millis(), millis(9999, 12, 30).timestamp_millis());
    (lo..hi).prop_map(|ms| DateTime::from_timestamp_millis(ms).unwrap())
}

/// A UTC offset in minutes, as far as `%z` goes (±23:59).
fn offset_minutes() -> impl Strategy<Value = i32> {
    -(23 * 60 + 59)..=(23 * 60 + 59)
}

/// `t` written as the local time at `minutes` east of UTC with that offset, `+HH:MM` or `+HHMM`.
fn with_offset(t: DateTime<Utc>, minutes: i32, colon: bool, millis: bool) -> String {
    let local = t.naive_utc() + Duration::minutes(minutes.into());
    let sign = if minutes < 0 { '-' } else { '+' };
    let (h, m) = (minutes.abs() / 60, minutes.abs() % 60);
    let colon = if colon { ":" } else { "" };
    let time = local.format(if millis { "%Y-%m-%dT%H:%M:%S%.3f" } else { "%Y-%m-%dT%H:%M:%S" });
    format!("{time}{sign}{h:02}{colon}{m:02}")
}

/// Strings near the date-time shape, where a parser's edge cases live.
fn datetime_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "\\PC{18,32}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[0-9.:+Z -]{0,12}",
        "[0-9T:.Z+ -]{0,30}",
    ]
}

/// What a string that is not a full date-time looks like: a part of one, or its pieces rearranged.
fn not_a_datetime(t: DateTime<Utc>, shape: usize, cut: Index) -> String {
    let full = t.format(SF_FORMAT).to_string();
    match shape {
        0 => t.format("%Y-%m-%d").to_string(),
        1 => t.format("%Y-%m-%d %H:%M:%S%.3f+0000").to_string(),
        2 => t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string(),
        3 => t.format("%H:%M:%S%.3f+0000").to_string(),
        4 => t.format("%Y%m%dT%H%M%S%.3f+0000").to_string(),
        5 => t.format("%Y-%m-%dT%H:%M+0000").to_string(),
        // Any strict prefix (the string is ASCII).
        _ => full[..cut.index(full.len())].to_string(),
    }
}

/// `t` in the Salesforce form with some fields not zero-padded, or with a `+` before the year;
/// and whether that is still the full shape (only when no field lost a digit).
fn padded(t: DateTime<Utc>, pad: [bool; 4], plus: bool) -> (String, bool) {
    let field = |n: u32, pad: bool| if pad { format!("{n:02}") } else { n.to_string() };
    let (month, day, hour, minute) =
        (field(t.month(), pad[0]), field(t.day(), pad[1]), field(t.hour(), pad[2]), field(t.minute(), pad[3]));
    let s = format!(
        "{}{}-{month}-{day}T{hour}:{minute}:{}+0000",
        if plus { "+" } else { "" },
        t.year(),
        t.format("%S%.3f")
    );
    let full = !plus && [&month, &day, &hour, &minute].iter().all(|f| f.len() == 2);
    (s, full)
}

/// Shapes that only differ from the Salesforce form after the minutes: one-digit seconds,
/// blanks before the offset, a blank inside it.
fn loose_tail(t: DateTime<Utc>, shape: usize) -> String {
    let minutes = t.format("%Y-%m-%dT%H:%M");
    match shape {
        0 => format!("{minutes}:{}{}+0000", t.second() % 10, t.format("%.3f")),
        1 => format!("{} +0000", t.format("%Y-%m-%dT%H:%M:%S%.3f")),
        2 => format!("{}\t+00:00", t.format("%Y-%m-%dT%H:%M:%S")),
        _ => format!("{}+00 00", t.format("%Y-%m-%dT%H:%M:%S%.3f")),
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn datetime_never_panics(s in datetime_like()) {
        if snapshot::parse_datetime(&s).is_some() {
            let b = s.as_bytes();
            let shaped = b.len() >= 20
                && (b[4], b[7], b[10], b[13], b[16]) == (b'-', b'-', b'T', b':', b':')
                && (b.len() >= 24 || s.ends_with('Z'));
            prop_assert!(shaped, "{s:?} parsed but is not date-time shaped");
        }
    }

    #[test]
    fn datetime_salesforce_form_is_exact(t in instant()) {
        let s = t.format(SF_FORMAT).to_string();
        prop_assert_eq!(snapshot::parse_datetime(&s), Some(t), "{}", s);
    }

    #[test]
    fn datetime_zulu_is_utc(t in instant(), millis in any::<bool>()) {
        let s = t.format(if millis { "%Y-%m-%dT%H:%M:%S%.3fZ" } else { "%Y-%m-%dT%H:%M:%SZ" }).to_string();
        let want = if millis { t } else { t.trunc_subsecs(0) };
        prop_assert_eq!(snapshot::parse_datetime(&s), Some(want), "{}", s);
    }

    #[test]
    fn datetime_offsets_shift_the_instant(
        t in instant(),
        minutes in offset_minutes(),
        colon in any::<bool>(),
        millis in any::<bool>(),
    ) {
        let s = with_offset(t, minutes, colon, millis);
        let want = if millis { t } else { t.trunc_subsecs(0) };
        prop_assert_eq!(snapshot::parse_datetime(&s), Some(want), "{}", s);
    }

    #[test]
    fn datetime_partial_shapes_are_refused(t in instant(), shape in 0usize..7, cut in any::<Index>()) {
        let s = not_a_datetime(t, shape, cut);
        prop_assert_eq!(snapshot::parse_datetime(&s), None, "{:?}", s);
    }

    #[test]
    fn datetime_needs_every_field_padded(t in instant(), pad in any::<[bool; 4]>(), plus in any::<bool>()) {
        let (s, full) = padded(t, pad, plus);
        prop_assert_eq!(snapshot::parse_datetime(&s), full.then_some(t), "{:?}", s);
    }

    /// chrono alone reads `%S` as one or two digits and skips blanks before `%z`: the strict
    /// shape check must refuse such lenient tails.
    #[test]
    fn datetime_loose_tails_are_refused(t in instant(), shape in 0usize..4) {
        let s = loose_tail(t, shape);
        prop_assert_eq!(snapshot::parse_datetime(&s), None, "{:?}", s);
    }
}

// ---------------------------------------------------------------------------------------------
// The roster CSV: `roster::parse`
// ---------------------------------------------------------------------------------------------

/// A roster cell: printable unicode, or the characters that need quoting, or nothing.
fn roster_cell() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "\\PC{0,12}",
        1 => "[ ,\"\r\n\ta]{0,4}",
        1 => Just(String::new()),
    ]
}

/// A key column's header as a person would type it: any ASCII case, spaces around.
fn key_header(key: &'static str) -> impl Strategy<Value = String> {
    (vec(any::<bool>(), key.len()), " {0,2}", " {0,2}").prop_map(move |(upper, before, after)| {
        let name: String = key.chars().zip(upper).map(|(c, up)| if up { c.to_ascii_uppercase() } else { c }).collect();
        format!("{before}{name}{after}")
    })
}

/// The names a key column goes by, once case, spaces, `_` and `-` are ignored (README, roster).
const ROSTER_KEY_NAMES: [&str; 4] = ["federationid", "federationidentifier", "username", "email"];

/// The header of a column the roster ignores.
fn extra_header() -> impl Strategy<Value = String> {
    roster_cell().prop_filter("not a key column", |h| {
        let name: String = h.chars().filter(|c| !matches!(c, ' ' | '_' | '-')).flat_map(char::to_lowercase).collect();
        !ROSTER_KEY_NAMES.contains(&name.as_str())
    })
}

/// A roster as a person or a spreadsheet writes it.
#[derive(Debug, Clone)]
struct RosterFile {
    /// `order[p]` is the column at position `p`: 0..3 the keys, 3.. the extra columns.
    order: Vec<usize>,
    header: Vec<String>,
    /// Blank lines before the row, and its fields by position.
    rows: Vec<(usize, Vec<String>)>,
    bom: bool,
    crlf: bool,
    final_newline: bool,
    leading_blank_lines: usize,
}

fn roster_file() -> impl Strategy<Value = RosterFile> {
    (0usize..3)
        .prop_flat_map(|extras| {
            let width = 3 + extras;
            (
                Just((0..width).collect::<Vec<_>>()).prop_shuffle(),
                (key_header("federation_id"), key_header("username"), key_header("email")),
                vec(extra_header(), extras),
                vec((0usize..3, vec(roster_cell(), width)), 0..8),
                (any::<bool>(), any::<bool>(), any::<bool>(), 0usize..2),
            )
        })
        .prop_map(|(order, (f, u, e), extras, rows, (bom, crlf, final_newline, leading_blank_lines))| {
            let keys = [f, u, e];
            let header = order.iter().map(|&c| if c < 3 { keys[c].clone() } else { extras[c - 3].clone() }).collect();
            RosterFile { order, header, rows, bom, crlf, final_newline, leading_blank_lines }
        })
}

/// One CSV record written by the `csv` crate, so the quoting is right.
fn csv_record(fields: &[String], crlf: bool) -> Vec<u8> {
    let terminator = if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') };
    let mut writer = csv::WriterBuilder::new().terminator(terminator).from_writer(Vec::new());
    writer.write_record(fields).unwrap();
    writer.into_inner().unwrap()
}

impl RosterFile {
    /// The file's bytes, and what `parse` must make of them: the entries, or the line of the
    /// first row that has values but none in the key columns.
    fn render(&self) -> (Vec<u8>, Result<Vec<RosterEntry>, u64>) {
        let newline: &[u8] = if self.crlf { b"\r\n" } else { b"\n" };
        let mut bytes = Vec::new();
        if self.bom {
            bytes.extend_from_slice(b"\xEF\xBB\xBF");
        }
        for _ in 0..self.leading_blank_lines {
            bytes.extend_from_slice(newline);
        }
        bytes.extend(csv_record(&self.header, self.crlf));
        let mut expected = Ok(Vec::new());
        for (blank_lines, fields) in &self.rows {
            for _ in 0..*blank_lines {
                bytes.extend_from_slice(newline);
            }
            let line = 1 + line_ends(&bytes);
            bytes.extend(csv_record(fields, self.crlf));
            let key = |k: usize| fields[self.order.iter().position(|&c| c == k).unwrap()].trim().to_string();
            let entry = RosterEntry { line, federation_id: key(0), username: key(1), email: key(2) };
            if let Ok(entries) = &mut expected {
                if fields.iter().all(|f| f.trim().is_empty()) {
                    continue;
                }
                if entry.federation_id.is_empty() && entry.username.is_empty() && entry.email.is_empty() {
                    expected = Err(line);
                } else {
                    entries.push(entry);
                }
            }
        }
        if !self.final_newline && bytes.ends_with(newline) {
            bytes.truncate(bytes.len() - newline.len());
        }
        (bytes, expected)
    }
}

/// Bytes that look like a roster more often than random bytes do, invalid UTF-8 included.
fn roster_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece: &[&[u8]] = &[
        b"federation_id",
        b"username",
        b"email",
        b"x",
        b" ",
        b",",
        b"\"",
        b"\n",
        b"\r",
        b"\r\n",
        b"\xEF\xBB\xBF",
        b"\xc3\xa9",
        b"\xff",
        b"\xc3",
    ];
    (any::<bool>(), vec(select(piece.to_vec()), 0..40)).prop_map(|(header, pieces)| {
        let mut bytes = if header { b"federation_id,username,email\n".to_vec() } else { Vec::new() };
        pieces.iter().for_each(|p| bytes.extend_from_slice(p));
        bytes
    })
}

/// Line ends as a text editor counts them (README: a roster's line numbers): LF, CRLF, or a lone
/// CR, inside quoted fields too.
fn line_ends(bytes: &[u8]) -> u64 {
    let lone_cr = bytes.iter().enumerate().filter(|&(i, &b)| b == b'\r' && bytes.get(i + 1) != Some(&b'\n')).count();
    (bytes.iter().filter(|&&b| b == b'\n').count() + lone_cr) as u64
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn roster_never_panics(bytes in prop_oneof![vec(any::<u8>(), 0..256), roster_like_bytes()]) {
        let lines = 1 + line_ends(&bytes);
        match roster::parse(&bytes) {
            Err((line, message)) => {
                prop_assert!((1..=lines).contains(&line), "line {line} of {lines}: {message}");
                prop_assert!(!message.trim().is_empty());
                prop_assert!(!message.contains(['\n', '\r']), "{message:?}");
            }
            Ok(entries) => {
                for pair in entries.windows(2) {
                    prop_assert!(pair[0].line < pair[1].line, "{entries:?}");
                }
                for e in &entries {
                    prop_assert!((2..=lines).contains(&e.line), "{e:?}");
                    prop_assert!(!(e.federation_id.is_empty() && e.username.is_empty() && e.email.is_empty()));
                    for key in [&e.federation_id, &e.username, &e.email] {
                        prop_assert_eq!(key.trim(), key.as_str());
                    }
                }
            }
        }
    }

    #[test]
    fn roster_reads_back_what_was_written(file in roster_file()) {
        let (bytes, expected) = file.render();
        let text = String::from_utf8_lossy(&bytes);
        match (roster::parse(&bytes), expected) {
            (Ok(got), Ok(want)) => prop_assert_eq!(got, want, "{:?}", text),
            (Err((got, message)), Err(want)) => {
                prop_assert_eq!(got, want, "{:?}", text);
                prop_assert!(message.contains("all empty"), "{}", message);
            }
            (got, want) => prop_assert!(false, "got {got:?}, want {want:?} for {text:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Roster matching: `roster::match_entries`
// ---------------------------------------------------------------------------------------------

/// A user's keys, owned (the `UserKeys` borrow them).
#[derive(Debug, Clone)]
struct User {
    id: String,
    federation_id: Option<String>,
    username: String,
    email: Option<String>,
}

impl User {
    fn keys(&self) -> UserKeys<'_> {
        UserKeys {
            id: &self.id,
            federation_id: self.federation_id.as_deref(),
            username: &self.username,
            email: self.email.as_deref(),
        }
    }
}

/// A key from a tiny alphabet, so entries and users collide often. The letters are ones whose
/// lower and upper case map one to one (`ß` and `Σ` do not: see `match_case_insensitive_beyond_one_to_one_letters`).
fn match_key() -> impl Strategy<Value = String> {
    prop_oneof![6 => "[aAbB]{0,2}", 1 => "[éÉ1@]"]
}

/// A user's key as the org holds it: maybe with spaces around.
fn user_key() -> impl Strategy<Value = String> {
    prop_oneof![4 => match_key(), 1 => " [aAbB]{1,2} ?"]
}

fn users() -> impl Strategy<Value = Vec<User>> {
    vec((prop::option::of(user_key()), user_key(), prop::option::of(user_key())), 0..6).prop_map(|keys| {
        keys.into_iter()
            .enumerate()
            .map(|(i, (federation_id, username, email))| User { id: format!("U{i}"), federation_id, username, email })
            .collect()
    })
}

/// Entries as `roster::parse` makes them: trimmed, at least one key.
fn entries() -> impl Strategy<Value = Vec<RosterEntry>> {
    vec((match_key(), match_key(), match_key()), 1..6).prop_map(|keys| {
        keys.into_iter()
            .enumerate()
            .map(|(i, (federation_id, username, email))| RosterEntry {
                line: i as u64 + 2,
                federation_id,
                username,
                email,
            })
            .collect()
    })
}

/// A key of an entry, and of a user.
type EntryKey = fn(&RosterEntry) -> &str;
type UserKey = fn(&User) -> Option<&str>;

/// The keys in the order REPORTS.md tries them: entry side and user side.
const MATCH_ORDER: [(&str, EntryKey, UserKey); 3] = [
    ("federation_id", |e| &e.federation_id, |u| u.federation_id.as_deref()),
    ("username", |e| &e.username, |u| Some(u.username.as_str())),
    ("email", |e| &e.email, |u| u.email.as_deref()),
];

/// The users whose `key_of` equals `value`, ignoring case and the user's surrounding spaces.
fn users_with(users: &[User], key_of: UserKey, value: &str) -> Vec<String> {
    let mut ids: Vec<String> = users
        .iter()
        .filter(|u| key_of(u).map(str::trim).is_some_and(|k| !k.is_empty() && k.to_lowercase() == value.to_lowercase()))
        .map(|u| u.id.clone())
        .collect();
    ids.sort();
    ids
}

fn run_match(entries: &[RosterEntry], users: &[User]) -> Vec<RosterMatch> {
    let keys: Vec<UserKeys<'_>> = users.iter().map(User::keys).collect();
    roster::match_entries(entries, &keys)
}

fn recase(entries: &[RosterEntry], f: fn(&str) -> String) -> Vec<RosterEntry> {
    entries
        .iter()
        .map(|e| RosterEntry {
            line: e.line,
            federation_id: f(&e.federation_id),
            username: f(&e.username),
            email: f(&e.email),
        })
        .collect()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn match_case_insensitive(entries in entries(), users in users()) {
        let got = run_match(&entries, &users);
        prop_assert_eq!(&run_match(&recase(&entries, str::to_uppercase), &users), &got);
        prop_assert_eq!(&run_match(&recase(&entries, str::to_lowercase), &users), &got);
    }

    /// Beyond one-to-one letters: `Σ` lowercases to `ς` at a word's end and `ß` uppercases to
    /// `SS`, so "ΟΔΥΣΣΕΥΣ" must meet "οδυσσευσ", and "STRASSE" meet "straße".
    #[test]
    fn match_case_insensitive_beyond_one_to_one_letters(
        entries in vec(("[aσςΣßS]{0,3}", "[aσςΣßS]{0,3}", "[aσςΣßS]{0,3}"), 1..4).prop_map(|keys| {
            keys.into_iter()
                .map(|(federation_id, username, email)| RosterEntry { line: 2, federation_id, username, email })
                .collect::<Vec<_>>()
        }),
        users in vec(("[aσςΣßs]{1,3}", "[aσςΣßs]{1,3}"), 0..4).prop_map(|keys| {
            keys.into_iter()
                .enumerate()
                .map(|(i, (username, email))| User { id: format!("U{i}"), federation_id: None, username, email: Some(email) })
                .collect::<Vec<_>>()
        }),
    ) {
        let got = run_match(&entries, &users);
        prop_assert_eq!(&run_match(&recase(&entries, str::to_uppercase), &users), &got);
        prop_assert_eq!(&run_match(&recase(&entries, str::to_lowercase), &users), &got);
    }

    #[test]
    fn match_first_key_that_finds_a_user_decides(entries in entries(), users in users()) {
        let got = run_match(&entries, &users);
        prop_assert_eq!(got.len(), entries.len());
        for (entry, m) in entries.iter().zip(&got) {
            // The first non-empty key with any user decides, and finds all of that key's users.
            let want = MATCH_ORDER
                .iter()
                .filter(|(_, of_entry, _)| !of_entry(entry).is_empty())
                .map(|(name, of_entry, of_user)| (*name, users_with(&users, *of_user, of_entry(entry))))
                .find(|(_, ids)| !ids.is_empty());
            match want {
                Some((name, ids)) => {
                    prop_assert_eq!(m, &RosterMatch { matched_by: Some(name), user_ids: ids }, "{:?}", entry)
                }
                None => prop_assert_eq!(m, &RosterMatch { matched_by: None, user_ids: vec![] }, "{:?}", entry),
            }
        }
    }

    #[test]
    fn match_never_finds_a_user_whose_key_differs(entries in entries(), users in users()) {
        for (entry, m) in entries.iter().zip(run_match(&entries, &users)) {
            prop_assert_eq!(m.matched_by.is_none(), m.user_ids.is_empty());
            let Some(name) = m.matched_by else { continue };
            let (_, of_entry, of_user) = MATCH_ORDER.iter().find(|(n, _, _)| *n == name).unwrap();
            let value = of_entry(entry).to_lowercase();
            for id in &m.user_ids {
                let user = users.iter().find(|u| &u.id == id).unwrap();
                let key = of_user(user).map(|k| k.trim().to_lowercase());
                prop_assert_eq!(key.as_deref(), Some(value.as_str()), "{:?} matched {:?} by {}", entry, user, name);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The configuration: `FileConfig`, `ApiVersion`, `ApiFloor`, `as_of`, `endpoint_url`, `Rules`
// ---------------------------------------------------------------------------------------------

fn toml_text() -> BoxedStrategy<toml::Value> {
    "\\PC{0,12}".prop_map(toml::Value::String).boxed()
}

fn toml_path() -> BoxedStrategy<toml::Value> {
    "[A-Za-z0-9_ ./-]{1,16}".prop_map(toml::Value::String).boxed()
}

fn toml_int(max: i64) -> BoxedStrategy<toml::Value> {
    (0..=max).prop_map(toml::Value::Integer).boxed()
}

fn toml_list() -> BoxedStrategy<toml::Value> {
    vec(toml_text(), 0..4).prop_map(toml::Value::Array).boxed()
}

/// Every key of a section with a value of its type.
fn section_keys(section: &str) -> Vec<(&'static str, BoxedStrategy<toml::Value>)> {
    let u32_max = i64::from(u32::MAX);
    match section {
        "salesforce" => vec![
            ("instance_url", toml_text()),
            ("login_url", toml_text()),
            (
                "auth_flow",
                select(vec!["jwt", "client-credentials", "refresh-token", "access-token"])
                    .prop_map(|f| toml::Value::String(f.into()))
                    .boxed(),
            ),
            ("client_id", toml_text()),
            ("username", toml_text()),
            ("jwt_key_file", toml_path()),
            ("jwt_audience", toml_text()),
            ("client_secret_file", toml_path()),
            ("refresh_token_file", toml_path()),
            ("access_token_file", toml_path()),
            ("api_version", toml_text()),
            ("batch_size", toml_int(u32_max)),
            ("min_api_remaining", prop_oneof![toml_text(), toml_int(i64::MAX)].boxed()),
            ("retries", toml_int(u32_max)),
            ("retry_delay_ms", toml_int(i64::MAX)),
            ("timeout_secs", toml_int(i64::MAX)),
            ("ca_file", toml_path()),
        ],
        "rules" => vec![
            ("inactive_days", toml_int(u32_max)),
            ("grace_days", toml_int(u32_max)),
            ("user_types", toml_list()),
            ("namespaces", toml_list()),
            ("name_patterns", toml_list()),
            ("roster", toml_path()),
        ],
        _ => unreachable!("{section}"),
    }
}

/// A section holding a random subset of its keys, each with a valid value.
fn section(name: &'static str) -> impl Strategy<Value = toml::Table> {
    let (keys, values): (Vec<_>, Vec<_>) =
        section_keys(name).into_iter().map(|(k, v)| (k, prop::option::of(v))).unzip();
    values.prop_map(move |values| {
        keys.iter().zip(values).filter_map(|(k, v)| Some((k.to_string(), v?))).collect::<toml::Table>()
    })
}

/// A whole valid configuration file, as a TOML table.
fn file_config() -> impl Strategy<Value = toml::Table> {
    (section("salesforce"), section("rules")).prop_map(|(salesforce, rules)| {
        toml::Table::from_iter([
            ("salesforce".to_string(), toml::Value::Table(salesforce)),
            ("rules".to_string(), toml::Value::Table(rules)),
        ])
    })
}

/// A key that `section` does not have: bare or needing quotes.
fn unknown_key(section: &'static str) -> impl Strategy<Value = String> {
    let known: Vec<&str> = section_keys(section).into_iter().map(|(k, _)| k).collect();
    prop_oneof!["[a-z][a-z0-9_-]{0,15}", "\\PC{1,10}"]
        .prop_filter("an unknown key", move |k| !known.contains(&k.as_str()))
}

/// Text shaped like this file's TOML, with wrong types, odd syntax and deep nesting mixed in.
fn toml_like() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        select(vec!["[salesforce]", "[rules]", "[rules.x]", "[[rules]]", "[other]", "salesforce = 1", ""])
            .prop_map(String::from),
        (
            prop_oneof![
                select(section_keys("salesforce").into_iter().map(|(k, _)| k).collect::<Vec<_>>()),
                select(section_keys("rules").into_iter().map(|(k, _)| k).collect::<Vec<_>>()),
            ],
            select(vec![
                "1",
                "-1",
                "4294967296",
                "99999999999999999999",
                "1.5",
                "nan",
                "-inf",
                "true",
                "\"5%\"",
                "'x'",
                "\"\"\"a\nb\"\"\"",
                "[]",
                "[1, \"a\"]",
                "[\"a\", \"b\"]",
                "{ a = 1 }",
                "1979-05-27T07:32:00Z",
                "\"jwt\"",
                "\"JWT\"",
                "\"\\u0000\"",
                "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
            ]),
        )
            .prop_map(|(k, v)| format!("{k} = {v}")),
        "\\PC{0,20}",
    ];
    vec(line, 0..10).prop_map(|lines| lines.join("\n"))
}

/// A URL an admin might give, built from parts whose meaning is known here.
#[derive(Debug, Clone)]
struct UrlParts {
    pad: (&'static str, &'static str),
    scheme: &'static str,
    userinfo: &'static str,
    host: (&'static str, bool),
    port: &'static str,
    rest: &'static str,
}

/// Hosts, and whether each is the loopback interface.
const HOSTS: &[(&str, bool)] = &[
    ("127.0.0.1", true),
    ("127.0.0.2", true),
    ("127.1", true),
    ("2130706433", true),
    ("0x7f.0.0.1", true),
    ("localhost", true),
    ("LocalHost", true),
    ("[::1]", true),
    ("[0:0:0:0:0:0:0:1]", true),
    ("acme.my.salesforce.com", false),
    ("login.salesforce.com", false),
    ("10.0.0.1", false),
    ("0.0.0.0", false),
    ("[::]", false),
    ("[::ffff:127.0.0.1]", false),
    ("localhost.evil.com", false),
    ("127.0.0.1.evil.com", false),
    ("localhost.", false),
];

fn url_parts() -> impl Strategy<Value = UrlParts> {
    (
        select(vec![("", ""), (" ", ""), ("", "\n"), ("\t", " ")]),
        select(vec!["https", "http", "HTTPS", "Http", "ftp", "file", "ws", "javascript"]),
        select(vec!["", "", "user@", "user:pw@", ":pw@", "@"]),
        select(HOSTS.to_vec()),
        select(vec!["", ":443", ":8080", ":0"]),
        select(vec!["", "/", "/services/oauth2/token", "/?x=1", "#frag", "/a/../b", "\\@evil.com", "#@evil.com"]),
    )
        .prop_map(|(pad, scheme, userinfo, host, port, rest)| UrlParts { pad, scheme, userinfo, host, port, rest })
}

impl UrlParts {
    fn text(&self) -> String {
        let (before, after) = self.pad;
        format!("{before}{}://{}{}{}{}{after}", self.scheme, self.userinfo, self.host.0, self.port, self.rest)
    }

    /// Credentials may go to it: https anywhere, http only to loopback, never with a user or password.
    fn acceptable(&self) -> bool {
        let scheme = self.scheme.to_ascii_lowercase();
        let userinfo = !matches!(self.userinfo, "" | "@");
        !userinfo && (scheme == "https" || (scheme == "http" && self.host.1))
    }
}

/// Settings of `RuleArgs`, from the command line or the environment.
fn rule_args() -> impl Strategy<Value = RuleArgs> {
    let days = || {
        prop_oneof![
            Just(None),
            select(vec![0u32, 1, 36_500, 36_501]).prop_map(Some),
            (0u32..40_000).prop_map(Some),
            any::<u32>().prop_map(Some),
        ]
    };
    let list = |item: BoxedStrategy<String>| prop::option::of(vec(item, 0..3));
    // A documented user type in any case, or something else.
    let user_type = prop_oneof![
        (select(DOCUMENTED_USER_TYPES.to_vec()), any::<bool>(), " {0,1}")
            .prop_map(|(t, upper, pad)| format!("{pad}{}", if upper { t.to_uppercase() } else { t.to_string() })),
        "[ A-Za-z]{0,8}",
    ]
    .boxed();
    (
        days(),
        days(),
        list(user_type),
        list("[ A-Za-z0-9_]{0,17}".boxed()),
        prop::option::of(vec(prop_oneof!["[ a-z()|*+?.{}0-9,^$\\[\\]\\\\]{0,10}", "\\PC{0,8}"], 0..3)),
    )
        .prop_map(|(inactive_days, grace_days, user_types, namespaces, name_patterns)| RuleArgs {
            inactive_days,
            grace_days,
            user_types,
            namespaces,
            name_patterns,
            roster: None,
            exclusions: None,
            exclude_classes: None,
            from_env: Default::default(),
        })
}

/// The values of `User.UserType` that Salesforce documents (SALESFORCE.md, the README).
const DOCUMENTED_USER_TYPES: [&str; 10] = [
    "Standard",
    "PowerPartner",
    "CspLitePortal",
    "CustomerSuccess",
    "PowerCustomerSuccess",
    "CsnOnly",
    "Guest",
    "AutomatedProcess",
    "CloudIntegrationUser",
    "SelfService",
];

/// Salesforce's rule for a namespace prefix: a letter first, then letters, digits and single
/// underscores, not ending in one, 15 characters at most.
fn is_prefix(s: &str) -> bool {
    let shape = regex::Regex::new("^[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*$").unwrap();
    s.len() <= 15 && shape.is_match(s)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn config_file_never_panics(text in prop_oneof![any::<String>(), toml_like()]) {
        if let Err(e) = toml::from_str::<FileConfig>(&text) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn config_file_reads_back_what_was_written(table in file_config()) {
        let text = toml::to_string(&table).unwrap();
        let parsed = toml::from_str::<FileConfig>(&text);
        prop_assert!(parsed.is_ok(), "{:?}: {}", text, parsed.unwrap_err());
        let back = toml::Value::try_from(parsed.unwrap()).unwrap();
        prop_assert_eq!(back, toml::Value::Table(table), "{}", text);
    }

    #[test]
    fn config_file_unknown_keys_are_rejected(
        table in file_config(),
        (section, key) in select(vec!["salesforce", "rules"]).prop_flat_map(|s| (Just(s), unknown_key(s))),
        value in prop_oneof![toml_text(), toml_int(10)],
    ) {
        let mut table = table;
        table.get_mut(section).and_then(toml::Value::as_table_mut).unwrap().insert(key.clone(), value);
        let text = toml::to_string(&table).unwrap();
        match toml::from_str::<FileConfig>(&text) {
            Ok(c) => prop_assert!(false, "[{section}] {key:?} was accepted: {c:?}\n{text}"),
            Err(e) => prop_assert!(e.to_string().contains(&key), "{e}"),
        }
    }

    #[test]
    fn config_file_unknown_sections_are_rejected(table in file_config(), name in unknown_key("rules")) {
        prop_assume!(name != "salesforce" && name != "rules");
        let mut table = table;
        table.insert(name.clone(), toml::Value::Table(toml::Table::new()));
        let text = toml::to_string(&table).unwrap();
        prop_assert!(toml::from_str::<FileConfig>(&text).is_err(), "[{name}] was accepted: {text}");
    }

    #[test]
    fn api_version_never_panics(s in prop_oneof![any::<String>(), "[ vV+-]{0,2}[0-9]{0,4}(\\.[0-9]{0,2})?[ ]?"]) {
        if let Ok(v) = ApiVersion::parse(&s) {
            let major: u32 = v.as_str().strip_suffix(".0").unwrap().parse().unwrap();
            prop_assert!((20..=99).contains(&major), "{s:?} -> {v}");
        }
    }

    #[test]
    fn api_version_forms(n in prop_oneof![0u32..200, select(vec![19u32, 20, 99, 100])], form in 0usize..4) {
        let s = match form {
            0 => format!("{n}.0"),
            1 => format!("v{n}.0"),
            2 => format!("V{n}"),
            _ => format!(" {n} "),
        };
        match ApiVersion::parse(&s) {
            Ok(v) => {
                prop_assert!((20..=99).contains(&n), "{:?} accepted", s);
                prop_assert_eq!(v.as_str(), format!("{n}.0"));
            }
            Err(e) => {
                prop_assert!(!(20..=99).contains(&n), "{:?}: {}", s, e);
                prop_assert!(!e.to_string().contains('\n'));
            }
        }
    }

    #[test]
    fn api_floor_never_panics(s in prop_oneof![any::<String>(), "[ 0-9.eE+-]{0,8}%?", "(NaN|inf|-inf|1e400|-0)%?"]) {
        match ApiFloor::parse(&s) {
            Ok(ApiFloor::Percent(p)) => prop_assert!(p.is_finite() && (0.0..=100.0).contains(&p), "{s:?} -> {p}"),
            Ok(ApiFloor::Requests(_)) => {}
            Err(e) => prop_assert!(!e.to_string().contains('\n')),
        }
    }

    #[test]
    fn api_floor_forms(n in any::<u64>(), p in 0.0f64..=100.0, over in 100.0f64..1e9) {
        prop_assert_eq!(ApiFloor::parse(&n.to_string()).unwrap(), ApiFloor::Requests(n));
        prop_assert_eq!(ApiFloor::parse(&format!("{p}%")).unwrap(), ApiFloor::Percent(p));
        prop_assert_eq!(ApiFloor::parse(&format!(" {p} % ")).unwrap(), ApiFloor::Percent(p));
        // What is displayed (in `access-audit config`) reads back as the same floor.
        for floor in [ApiFloor::Requests(n), ApiFloor::Percent(p)] {
            prop_assert_eq!(ApiFloor::parse(&floor.to_string()).unwrap(), floor);
        }
        let too_much = format!("{over}%");
        prop_assert!(over == 100.0 || ApiFloor::parse(&too_much).is_err(), "{}", too_much);
        let negative = format!("-{}%", p.max(f64::MIN_POSITIVE));
        prop_assert!(ApiFloor::parse(&negative).is_err(), "{}", negative);
    }

    #[test]
    fn as_of_never_panics(s in datetime_like()) {
        if let Err(e) = config::as_of(Some(&s)) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn as_of_reads_rfc3339_and_dates(t in instant(), minutes in offset_minutes(), zulu in any::<bool>()) {
        let t = t.trunc_subsecs(0);
        let s = if zulu { t.format("%Y-%m-%dT%H:%M:%SZ").to_string() } else { with_offset(t, minutes, true, false) };
        prop_assert_eq!(config::as_of(Some(&format!(" {s} "))).ok(), Some(t), "{}", s);
        let midnight = t.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
        prop_assert_eq!(config::as_of(Some(&t.format("%Y-%m-%d").to_string())).ok(), Some(midnight));
    }

    #[test]
    fn endpoint_url_never_panics(s in prop_oneof![any::<String>(), "\\PC{0,30}"]) {
        if let Ok(url) = endpoint::endpoint_url("--instance-url", &s) {
            let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && endpoint::is_loopback(&url));
            prop_assert!(scheme_ok, "{s:?} -> {url}");
            prop_assert!(url.username().is_empty() && url.password().is_none(), "{s:?} -> {url}");
        }
    }

    #[test]
    fn endpoint_url_only_https_or_loopback_http(parts in url_parts()) {
        let text = parts.text();
        match endpoint::endpoint_url("--login-url", &text) {
            Ok(url) => {
                prop_assert!(parts.acceptable(), "{:?} accepted as {}", text, url);
                prop_assert!(matches!(url.scheme(), "https" | "http"));
                prop_assert_eq!(url.path(), "/");
                prop_assert_eq!(url.query(), None);
                prop_assert_eq!(url.fragment(), None);
            }
            Err(e) => {
                prop_assert!(!parts.acceptable(), "{:?} refused: {}", text, e);
                prop_assert!(e.to_string().starts_with("--login-url"), "{}", e);
            }
        }
    }

    #[test]
    fn rules_are_valid_or_one_line_errors(args in rule_args()) {
        let cleaned = |v: &Option<Vec<String>>| {
            v.as_ref().map(|v| v.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect::<Vec<_>>())
        };
        let inactive = args.inactive_days.unwrap_or(90);
        let grace = args.grace_days.unwrap_or(14);
        // Given lists: blank items dropped, never empty; types documented ones, namespaces prefixes.
        let types = cleaned(&args.user_types);
        let types_ok = types.as_ref().is_none_or(|t| {
            !t.is_empty() && t.iter().all(|t| DOCUMENTED_USER_TYPES.iter().any(|d| d.eq_ignore_ascii_case(t)))
        });
        let namespaces = cleaned(&args.namespaces);
        let namespaces_ok = namespaces.as_ref().is_none_or(|n| !n.is_empty() && n.iter().all(|n| is_prefix(n)));
        // Patterns: none blank, at least one, each valid and needing a character to match.
        let patterns: Option<Vec<String>> =
            args.name_patterns.as_ref().map(|v| v.iter().map(|p| p.trim().to_string()).collect());
        let patterns_ok = patterns.as_ref().is_none_or(|p| {
            !p.is_empty()
                && p.iter().all(|p| !p.is_empty() && regex::Regex::new(p).is_ok_and(|re| re.find("").is_none()))
        });
        let want_ok = (1..=36_500).contains(&inactive)
            && grace <= 36_500
            && types_ok
            && namespaces_ok
            && patterns_ok;
        match Rules::from_sources(&args, &LoadedFile::default()) {
            Ok(rules) => {
                prop_assert!(want_ok, "{:?} accepted", args);
                prop_assert_eq!(rules.inactive_days, inactive);
                prop_assert_eq!(rules.grace_days, grace);
                prop_assert!(!rules.user_types.is_empty());
                prop_assert!(rules.user_types.iter().all(|t| DOCUMENTED_USER_TYPES.contains(&t.as_str())), "{:?}", rules.user_types);
                prop_assert!(rules.namespaces.iter().all(|n| !n.is_empty() && *n == n.to_ascii_lowercase()));
                if let Some(p) = patterns {
                    let got: Vec<&str> = rules.name_patterns.iter().map(|r| r.as_str()).collect();
                    prop_assert_eq!(got, p.iter().map(String::as_str).collect::<Vec<_>>());
                }
            }
            Err(e) => {
                prop_assert!(!want_ok, "{:?} refused: {}", args, e);
                prop_assert!(!e.to_string().contains('\n'), "{e}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Salesforce records: `snapshot::validate`, and the `Sforce-Limit-Info` header
// ---------------------------------------------------------------------------------------------

/// A Salesforce Id: 15 or 18 letters and digits.
fn sf_id() -> impl Strategy<Value = String> {
    prop_oneof!["[A-Za-z0-9]{15}", "[A-Za-z0-9]{18}"]
}

/// Not a Salesforce Id: the wrong length, or a character that is not a letter or digit.
fn not_sf_id() -> impl Strategy<Value = String> {
    prop_oneof!["[A-Za-z0-9]{0,14}", "[A-Za-z0-9]{16,17}", "[A-Za-z0-9]{19,24}", "[A-Za-z0-9]{14}[^A-Za-z0-9]"]
}

fn good_value(ty: FieldType) -> BoxedStrategy<Value> {
    match ty {
        FieldType::Id => sf_id().prop_map(Value::String).boxed(),
        FieldType::Text => "\\PC{0,20}".prop_map(Value::String).boxed(),
        FieldType::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        FieldType::DateTime => instant().prop_map(|t| Value::String(t.format(SF_FORMAT).to_string())).boxed(),
        FieldType::Date => instant().prop_map(|t| Value::String(t.format("%Y-%m-%d").to_string())).boxed(),
        FieldType::Integer => any::<i64>().prop_map(Value::from).boxed(),
    }
}

/// A value the field's type does not allow (never null: null is allowed or missing, not wrong).
fn wrong_value(ty: FieldType) -> BoxedStrategy<Value> {
    let number = prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
    ];
    let container = prop_oneof![
        vec(any::<bool>().prop_map(Value::Bool), 0..3).prop_map(Value::Array),
        Just(Value::Object(Map::new())),
    ];
    let boolean = any::<bool>().prop_map(Value::Bool);
    match ty {
        FieldType::Id => prop_oneof![number, container, boolean, not_sf_id().prop_map(Value::String)].boxed(),
        FieldType::Text => prop_oneof![number, container, boolean].boxed(),
        FieldType::Bool => prop_oneof![number, container, "\\PC{0,10}".prop_map(Value::String)].boxed(),
        // Shorter than any date-time, and without the `Z` that would lengthen it.
        FieldType::DateTime => {
            prop_oneof![number, container, boolean, "[0-9a-z :.+-]{0,23}".prop_map(Value::String)].boxed()
        }
        // Not ten characters, or a month or day out of range.
        FieldType::Date => prop_oneof![
            number,
            container,
            boolean,
            "[0-9-]{0,9}".prop_map(Value::String),
            "20[0-9]{2}-1[3-9]-[0-2][0-9]".prop_map(Value::String),
        ]
        .boxed(),
        FieldType::Integer => prop_oneof![
            container,
            boolean,
            "\\PC{0,10}".prop_map(Value::String),
            (-1e9f64..1e9).prop_filter_map("a fraction", |f| {
                (f.fract() != 0.0).then(|| serde_json::Number::from_f64(f).map(Value::Number)).flatten()
            }),
        ]
        .boxed(),
    }
}

fn field_value(field: &FieldSpec) -> BoxedStrategy<Value> {
    if field.required && !field.path.contains('.') {
        good_value(field.ty)
    } else {
        prop_oneof![1 => Just(Value::Null), 3 => good_value(field.ty)].boxed()
    }
}

/// The relationship paths of an object, outer first: `Profile`, `Profile.UserLicense`.
fn relationships(spec: &ObjectSpec) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for field in spec.fields {
        let parts: Vec<&str> = field.path.split('.').collect();
        for n in 1..parts.len() {
            let prefix = parts[..n].join(".");
            if !out.contains(&prefix) {
                out.push(prefix);
            }
        }
    }
    out
}

/// Every name that appears in an object's field paths.
fn field_names(spec: &ObjectSpec) -> Vec<String> {
    let mut names: Vec<String> = spec.fields.iter().flat_map(|f| f.path.split('.')).map(String::from).collect();
    names.sort();
    names.dedup();
    names
}

/// Puts `value` at a dotted path, making (or replacing with) objects on the way.
fn set_path(record: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            record.insert(path.to_string(), value);
        }
        Some((head, rest)) => {
            let slot = record.entry(head).or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Value::Object(inner) = slot {
                set_path(inner, rest, value);
            }
        }
    }
}

/// Makes a relationship null, unless it already sits under a null one.
fn null_path(record: &mut Map<String, Value>, path: &str) {
    match path.split_once('.') {
        None => {
            record.insert(path.to_string(), Value::Null);
        }
        Some((head, rest)) => {
            if let Some(Value::Object(inner)) = record.get_mut(head) {
                null_path(inner, rest);
            }
        }
    }
}

/// A record as Salesforce returns it for `spec`'s query; with `null_lookups`, some relationships
/// are null (a user without a role).
fn valid_record(spec: &'static ObjectSpec, null_lookups: bool) -> impl Strategy<Value = Map<String, Value>> {
    let values: Vec<BoxedStrategy<Value>> = spec.fields.iter().map(field_value).collect();
    let relationships = relationships(spec);
    let nulls = vec(prop::bool::weighted(if null_lookups { 0.25 } else { 0.0 }), relationships.len());
    (values, nulls).prop_map(move |(values, nulls)| {
        let mut record = Map::new();
        for (field, value) in spec.fields.iter().zip(values) {
            set_path(&mut record, field.path, value);
        }
        for (path, null) in relationships.iter().zip(nulls) {
            if null {
                null_path(&mut record, path);
            }
        }
        record
    })
}

fn any_object() -> impl Strategy<Value = &'static ObjectSpec> {
    select(OBJECTS.iter().collect::<Vec<_>>())
}

/// Any JSON value, with object keys from `keys`.
fn json_value(keys: BoxedStrategy<String>) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        "\\PC{0,12}".prop_map(Value::String),
        sf_id().prop_map(Value::String),
        instant().prop_map(|t| Value::String(t.format(SF_FORMAT).to_string())),
    ];
    leaf.prop_recursive(3, 32, 4, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map(keys.clone(), inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Any JSON object keyed mostly by the object's real field names, often with a good Id; or a
/// valid record with some paths overwritten by any value.
fn arbitrary_record() -> impl Strategy<Value = (&'static ObjectSpec, Map<String, Value>)> {
    any_object().prop_flat_map(|spec| {
        let names = field_names(spec);
        let keys = prop_oneof![3 => select(names), 1 => "[A-Za-z.]{0,8}"].boxed();
        let mut paths: Vec<String> = spec.fields.iter().map(|f| f.path.to_string()).collect();
        paths.extend(relationships(spec));
        let random = (prop::option::of(sf_id()), btree_map(keys.clone(), json_value(keys.clone()), 0..12)).prop_map(
            |(id, fields)| {
                let mut record: Map<String, Value> = fields.into_iter().collect();
                if let Some(id) = id {
                    record.insert("Id".into(), Value::String(id));
                }
                record
            },
        );
        let mutated = (valid_record(spec, true), vec((select(paths), json_value(keys)), 1..3)).prop_map(
            |(mut record, changes)| {
                for (path, value) in changes {
                    set_path(&mut record, &path, value);
                }
                record
            },
        );
        (Just(spec), prop_oneof![random, mutated])
    })
}

/// A valid record (no null lookups) and one of its fields with a value of the wrong type.
fn wrong_field() -> impl Strategy<Value = (&'static ObjectSpec, Map<String, Value>, usize, Value)> {
    any_object().prop_flat_map(|spec| {
        let field = (0..spec.fields.len()).prop_flat_map(move |i| (Just(i), wrong_value(spec.fields[i].ty)));
        (Just(spec), valid_record(spec, false), field).prop_map(|(spec, record, (i, wrong))| (spec, record, i, wrong))
    })
}

/// A valid record (no null lookups) and one of its relationships.
fn record_with_relationship() -> impl Strategy<Value = (&'static ObjectSpec, Map<String, Value>, String)> {
    let pairs: Vec<(&'static ObjectSpec, String)> =
        OBJECTS.iter().flat_map(|spec| relationships(spec).into_iter().map(move |r| (spec, r))).collect();
    select(pairs).prop_flat_map(|(spec, path)| (Just(spec), valid_record(spec, false), Just(path)))
}

/// The Id a record's errors name.
fn record_id(record: &Map<String, Value>) -> &str {
    record["Id"].as_str().unwrap()
}

/// The first field of `spec` whose path starts with `prefix` (a top-level name or a relationship).
fn first_field_under(spec: &ObjectSpec, prefix: &str) -> &'static str {
    spec.fields
        .iter()
        .find(|f| f.path == prefix || f.path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('.')))
        .unwrap()
        .path
}

/// A `key=value` part of `Sforce-Limit-Info` other than `api-usage`.
fn limit_info_part() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z-]{1,18}=[0-9a-zA-Z/()= -]{0,16}".prop_filter("not api-usage", |p| !p.trim().starts_with("api-usage=")),
        "per-app-api-usage=[0-9]{1,4}/[0-9]{1,4}\\(appName=[a-z-]{1,8}\\)",
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn record_validation_never_panics((spec, record) in arbitrary_record()) {
        match snapshot::validate(spec, &record) {
            Ok(id) => {
                prop_assert_eq!(record.get("Id"), Some(&Value::String(id)));
                for field in spec.fields {
                    prop_assert!(snapshot::lookup(&record, field.path).is_ok(), "{} accepted", field.path);
                }
            }
            Err(e) => {
                let message = e.to_string();
                prop_assert!(message.starts_with(&format!("{} record ", spec.name)), "{}", message);
                prop_assert!(message.contains(": field "), "{}", message);
            }
        }
    }

    #[test]
    fn record_valid_is_accepted(
        (spec, record) in any_object().prop_flat_map(|spec| (Just(spec), valid_record(spec, true)))
    ) {
        let id = snapshot::validate(spec, &record);
        prop_assert!(id.is_ok(), "{}: {}", serde_json::to_string(&record).unwrap(), id.unwrap_err());
        prop_assert_eq!(id.unwrap(), record_id(&record));
    }

    #[test]
    fn record_wrong_type_names_object_record_and_field((spec, record, i, wrong) in wrong_field()) {
        let path = spec.fields[i].path;
        let id = if path == "Id" { "(no Id)".to_string() } else { record_id(&record).to_string() };
        let mut record = record;
        set_path(&mut record, path, wrong);
        let json = serde_json::to_string(&record).unwrap();
        let message = snapshot::validate(spec, &record).map_err(|e| e.to_string());
        let want = format!("{} record {id}: field {path} is ", spec.name);
        prop_assert!(message.as_ref().is_err_and(|m| m.starts_with(&want)), "{json}: {message:?}, want {want}…");
        prop_assert!(message.unwrap_err().contains("not "));
    }

    #[test]
    fn record_relationship_of_the_wrong_shape_names_its_field(
        (spec, record, path) in record_with_relationship(),
        wrong in prop_oneof![
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            "\\PC{0,8}".prop_map(Value::String),
            Just(Value::Array(vec![])),
        ],
    ) {
        let mut record = record;
        set_path(&mut record, &path, wrong);
        let message = snapshot::validate(spec, &record).map_err(|e| e.to_string());
        let field = first_field_under(spec, &path);
        let want = format!("{} record {}: field {field} ", spec.name, record_id(&record));
        prop_assert!(
            message.as_ref().is_err_and(|m| m.starts_with(&want) && m.contains("should be a relationship object")),
            "{message:?}, want {want}…"
        );
    }

    #[test]
    fn record_missing_or_extra_keys_are_named(
        (spec, record) in any_object().prop_flat_map(|spec| (Just(spec), valid_record(spec, true))),
        pick in any::<Index>(),
        extra in "[A-Za-z][A-Za-z0-9_]{0,12}",
    ) {
        // A key the query did not ask for.
        let mut with_extra = record.clone();
        let top_level: Vec<&str> = spec.fields.iter().map(|f| f.path.split('.').next().unwrap()).collect();
        if !top_level.contains(&extra.as_str()) {
            with_extra.insert(extra.clone(), Value::from(1));
            let message = snapshot::validate(spec, &with_extra).map_err(|e| e.to_string());
            let want = format!("{} record {}: field {extra} was not asked for", spec.name, record_id(&record));
            prop_assert!(message.as_ref().is_err_and(|m| m.starts_with(&want)), "{message:?}, want {want}");
        }
        // A key the query asked for, missing.
        let key = record.keys().nth(pick.index(record.len())).unwrap().clone();
        let mut without = record.clone();
        without.remove(&key);
        let message = snapshot::validate(spec, &without).map_err(|e| e.to_string());
        // A field added to the query later may be missing: an older snapshot did not ask for it.
        if spec.fields.iter().any(|f| f.added && f.path.split('.').next() == Some(key.as_str())) {
            prop_assert!(message.is_ok(), "{key}: {message:?}");
            return Ok(());
        }
        let want = if key == "Id" {
            format!("{} record (no Id): field Id is missing", spec.name)
        } else {
            format!("{} record {}: field {} {key} is missing", spec.name, record_id(&record), first_field_under(spec, &key))
        };
        prop_assert!(message.as_ref().is_err_and(|m| m.starts_with(&want)), "{message:?}, want {want}");
    }

    #[test]
    fn limit_info_never_panics(
        s in prop_oneof![any::<String>(), "[a-z -]{0,12}=[ 0-9/;=]{0,16}", "[ ;]{0,2}api-usage ?=[ 0-9a-z/;=+-]{0,14}"]
    ) {
        if let Some(usage) = ApiUsage::from_header(&s) {
            prop_assert!(s.contains("api-usage"), "{s:?} -> {usage:?}");
        }
    }

    #[test]
    fn limit_info_finds_api_usage(
        before in vec(limit_info_part(), 0..3),
        after in vec(limit_info_part(), 0..3),
        used in any::<u64>(),
        max in any::<u64>(),
        spaces in (" {0,2}", " {0,2}", " {0,2}"),
    ) {
        let (a, b, c) = spaces;
        let usage = format!("{a}api-usage{b}={c}{used}/{max}{a}");
        let header = before.iter().chain([&usage]).chain(&after).cloned().collect::<Vec<_>>().join(";");
        prop_assert_eq!(ApiUsage::from_header(&header), Some(ApiUsage { used, max }), "{}", header);
        let without = before.iter().chain(&after).cloned().collect::<Vec<_>>().join("; ");
        prop_assert_eq!(ApiUsage::from_header(&without), None, "{}", without);
    }
}

// ---------------------------------------------------------------------------------------------
// CSV output: `render::csv::neutralise` and `write_report`
// ---------------------------------------------------------------------------------------------

/// Text from the org: anything, often starting like a formula or holding control characters.
fn org_text() -> impl Strategy<Value = String> {
    let controls =
        vec!['\0', '\u{1b}', '\u{7}', '\u{1f}', '\u{7f}', '\u{85}', '\u{9b}', '\t', '\r', '\n', '=', '-', 'a'];
    prop_oneof![
        any::<String>(),
        "[=+@\t\r'-]\\PC{0,10}",
        "[=+@ \t\r\n\",'-]{0,6}",
        vec(select(controls), 0..8).prop_map(String::from_iter),
    ]
}

/// The README's rule for org text in a CSV cell: each control character other than tab, CR and
/// LF becomes a visible symbol (U+2400 + its code below U+0020, U+2421 for DEL, U+FFFD for
/// U+0080–U+009F); then text starting like a formula gets a leading `'`.
fn csv_cell_by_the_rule(text: &str) -> String {
    let shown: String = text
        .chars()
        .map(|c| match c as u32 {
            0x09 | 0x0A | 0x0D => c,
            code @ 0x00..=0x1F => char::from_u32(0x2400 + code).unwrap(),
            0x7F => '\u{2421}',
            0x80..=0x9F => '\u{FFFD}',
            _ => c,
        })
        .collect();
    if shown.starts_with(FORMULA_STARTS) { format!("'{shown}") } else { shown }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn csv_neutralised_text_is_never_a_formula(s in org_text()) {
        let n = neutralise(&s);
        prop_assert!(!n.starts_with(FORMULA_STARTS), "{:?} -> {:?}", s, n);
        // Only formula starts are touched, and only by the prefix.
        if s.starts_with(FORMULA_STARTS) {
            prop_assert_eq!(n.as_ref(), format!("'{s}"));
        } else {
            prop_assert_eq!(n.as_ref(), s.as_str());
        }
    }

    #[test]
    fn csv_text_cells_read_back_neutralised(
        federation_id in org_text(),
        username in org_text(),
        email in org_text(),
        reason in org_text(),
    ) {
        let row = RosterRow {
            line: 2,
            federation_id: federation_id.clone(),
            username: username.clone(),
            email: email.clone(),
            matched_by: None,
            matched_user_ids: vec![],
            reason: reason.clone(),
            change: None,
        };
        let report = Report::new(ReportKind::NotProvisioned, Rows::Roster(vec![row]));
        let bytes = write_report(&report, Vec::new()).unwrap();
        let mut reader = csv::ReaderBuilder::new().from_reader(bytes.as_slice());
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        // README, "Columns": the not-provisioned report's columns, in order.
        prop_assert_eq!(header, ["RosterLine", "federation_id", "username", "email", "MatchedBy", "MatchedUserIds", "Reason"]);
        let records: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(records.len(), 1);
        let got: Vec<&str> = records[0].iter().collect();
        let want = [
            "2".to_string(),
            csv_cell_by_the_rule(&federation_id),
            csv_cell_by_the_rule(&username),
            csv_cell_by_the_rule(&email),
            String::new(),
            String::new(),
            csv_cell_by_the_rule(&reason),
        ];
        prop_assert_eq!(got, want.iter().map(String::as_str).collect::<Vec<_>>());
    }
}
