//! The SOQL subset the simulator understands, and the projection of stored
//! records into REST query rows.
//!
//! Exactly what access-audit sends is accepted, keywords in any case, any
//! whitespace:
//!
//! ```text
//! SELECT <field path>, ... | COUNT()  FROM <object>
//!   [WHERE <condition> [AND <condition>]...]  [ORDER BY Id [ASC|DESC]]  [LIMIT <n>]
//! condition:  Id >= '<id>'  |  Id < '<id>'  |  <boolean field path> = true|false
//!          |  <text field path> = '<text>'  |  <field path> = null  |  <field path> != null
//! ```
//!
//! Everything else real SOQL allows (OR, NOT, other operators and fields in
//! WHERE, ORDER BY another field, OFFSET, GROUP BY, other functions, aliases,
//! subqueries, TYPEOF, ...) is rejected with a `MALFORMED_QUERY` whose message
//! says the simulator does not implement it, so a client can never pass a test
//! by relying on a clause the simulator silently ignored.
//! `parse` checks syntax only; `plan_in` resolves the paths against the schema
//! of `org.rs` at one API version, as one user of one org sees it (its
//! installed packages, the objects and fields its permissions hide:
//! [`org::View`]) (`INVALID_TYPE`, `INVALID_FIELD`, `DUPLICATE_FIELD`) and
//! yields a [`Plan`] whose `project` turns one stored record into the JSON row
//! Salesforce would send, `attributes` included. Text compares without regard
//! to case, as SOQL's `=` does.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::org::{self, FieldType, ObjectDef, Record, View};

/// A position in the SOQL text, 1-based, as Salesforce reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub row: usize,
    pub col: usize,
}

/// The REST `errorCode` of a rejected query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoqlErrorCode {
    MalformedQuery,
    InvalidType,
    InvalidField,
    DuplicateField,
}

impl SoqlErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            SoqlErrorCode::MalformedQuery => "MALFORMED_QUERY",
            SoqlErrorCode::InvalidType => "INVALID_TYPE",
            SoqlErrorCode::InvalidField => "INVALID_FIELD",
            SoqlErrorCode::DuplicateField => "DUPLICATE_FIELD",
        }
    }
}

/// Why a query was rejected, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoqlError {
    pub code: SoqlErrorCode,
    pub pos: Option<Pos>,
    pub text: String,
}

impl SoqlError {
    fn new(code: SoqlErrorCode, pos: Option<Pos>, text: impl Into<String>) -> Self {
        SoqlError { code, pos, text: text.into() }
    }

    fn malformed(pos: Option<Pos>, text: impl Into<String>) -> Self {
        Self::new(SoqlErrorCode::MalformedQuery, pos, text)
    }

    fn not_implemented(pos: Pos, what: &str) -> Self {
        Self::malformed(
            Some(pos),
            format!(
                "sf-sim does not implement {what}: the simulator accepts only \
                 SELECT <field>, <field>, ... FROM <object>"
            ),
        )
    }

    /// The REST error message, in Salesforce's layout: the offending SOQL
    /// line, a caret under the column, the position, then the text.
    pub fn message(&self, soql: &str) -> String {
        match self.pos {
            Some(Pos { row, col }) => {
                let line = soql.split('\n').nth(row - 1).unwrap_or("");
                let line = line.strip_suffix('\r').unwrap_or(line);
                format!(
                    "\n{line}\n{caret:>col$}\nERROR at Row:{row}:Column:{col}\n{text}",
                    caret = "^",
                    text = self.text
                )
            }
            None => self.text.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// Identifier-like run: letters, digits, `_` and `.` (field paths).
    Word(String),
    Comma,
    LParen,
    RParen,
    /// A quoted string literal (its text, escapes resolved).
    Str(String),
    Other(char),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    pos: Pos,
}

impl Token {
    fn text(&self) -> String {
        match &self.tok {
            Tok::Word(w) => w.clone(),
            Tok::Comma => ",".into(),
            Tok::LParen => "(".into(),
            Tok::RParen => ")".into(),
            Tok::Str(text) => format!("'{text}'"),
            Tok::Other(c) => c.to_string(),
        }
    }

    fn is_keyword(&self, kw: &str) -> bool {
        matches!(&self.tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }
}

fn tokenize(soql: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let (mut row, mut col) = (1usize, 1usize);
    let mut chars = soql.chars().peekable();
    while let Some(c) = chars.next() {
        let pos = Pos { row, col };
        let advance = |ch: char, row: &mut usize, col: &mut usize| {
            if ch == '\n' {
                *row += 1;
                *col = 1;
            } else {
                *col += 1;
            }
        };
        advance(c, &mut row, &mut col);
        let tok = match c {
            c if c.is_whitespace() => continue,
            c if c.is_ascii_alphanumeric() || c == '_' || c == '.' => {
                let mut word = c.to_string();
                while let Some(&n) = chars.peek() {
                    if n.is_ascii_alphanumeric() || n == '_' || n == '.' {
                        word.push(n);
                        advance(n, &mut row, &mut col);
                        chars.next();
                    } else {
                        break;
                    }
                }
                Tok::Word(word)
            }
            ',' => Tok::Comma,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '\'' => {
                let mut escaped = false;
                let mut text = String::new();
                for n in chars.by_ref() {
                    advance(n, &mut row, &mut col);
                    match n {
                        '\\' if !escaped => escaped = true,
                        '\'' if !escaped => break,
                        other => {
                            escaped = false;
                            text.push(other);
                        }
                    }
                }
                Tok::Str(text)
            }
            other => Tok::Other(other),
        };
        out.push(Token { tok, pos });
    }
    out
}

/// One selected field path as written, e.g. `Profile.UserLicense.Name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRef {
    pub path: Vec<String>,
    pub pos: Pos,
}

/// A syntactically valid query of the supported subset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectQuery {
    /// Empty for `SELECT COUNT()`.
    pub fields: Vec<FieldRef>,
    /// `SELECT COUNT()`: only the number of matching rows is answered.
    pub count: bool,
    pub object: String,
    pub object_pos: Pos,
    /// Conditions joined by AND.
    pub conditions: Vec<Condition>,
    /// `ORDER BY Id`: `Some(true)` for DESC.
    pub order_by_id_desc: Option<bool>,
    pub limit: Option<usize>,
}

/// One condition of the WHERE clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `Id >= 'x'`
    IdAtLeast(String),
    /// `Id < 'x'`
    IdBelow(String),
    /// `<boolean field path> = true|false`
    BoolEquals { field: FieldRef, value: bool },
    /// `<text or id field path> = '<text>'`
    TextEquals { field: FieldRef, value: String },
    /// `<field path> = null` (`is_null`) or `!= null`
    Null { field: FieldRef, is_null: bool },
}

const RESERVED: &[&str] = &[
    "SELECT", "FROM", "WHERE", "ORDER", "GROUP", "HAVING", "LIMIT", "OFFSET", "WITH", "FOR", "USING", "TYPEOF", "AND",
    "OR", "NOT", "NULL", "TRUE", "FALSE", "LIKE", "IN", "INCLUDES", "EXCLUDES", "ASC", "DESC", "NULLS", "FIRST",
    "LAST", "ROLLUP", "CUBE", "UPDATE", "ALL", "ROWS",
];

fn unexpected(t: &Token) -> SoqlError {
    SoqlError::malformed(Some(t.pos), format!("unexpected token: '{}'", t.text()))
}

fn unexpected_end(soql: &str, expected: &str) -> SoqlError {
    let row = soql.split('\n').count();
    let col = soql.split('\n').next_back().unwrap_or("").chars().count() + 1;
    SoqlError::malformed(Some(Pos { row, col }), format!("unexpected end of query: expected {expected}"))
}

/// Checks a word is a well-formed identifier path (`A`, `A.B.C`).
fn path_of(t: &Token, word: &str) -> Result<Vec<String>, SoqlError> {
    let segments: Vec<String> = word.split('.').map(str::to_string).collect();
    let ok = segments
        .iter()
        .all(|s| s.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) && !s.ends_with('_') && !s.contains("___"));
    if ok { Ok(segments) } else { Err(unexpected(t)) }
}

/// Parses the supported subset; rejects everything else as MALFORMED_QUERY.
pub fn parse(soql: &str) -> Result<SelectQuery, SoqlError> {
    let tokens = tokenize(soql);
    let mut it = tokens.iter().peekable();
    match it.next() {
        None => {
            return Err(SoqlError::malformed(None, "unexpected end of query: the query is empty"));
        }
        Some(t) if t.is_keyword("SELECT") => {}
        Some(t) if t.is_keyword("FIND") => {
            return Err(SoqlError::not_implemented(t.pos, "SOSL searches (FIND)"));
        }
        Some(t) => return Err(unexpected(t)),
    }

    let mut fields = Vec::new();
    let mut count = false;
    loop {
        let Some(t) = it.next() else {
            return Err(unexpected_end(soql, "a field name"));
        };
        match &t.tok {
            Tok::Word(w) if w.eq_ignore_ascii_case("TYPEOF") => {
                return Err(SoqlError::not_implemented(t.pos, "TYPEOF"));
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("FROM") => return Err(unexpected(t)),
            Tok::Word(w)
                if w.eq_ignore_ascii_case("COUNT")
                    && fields.is_empty()
                    && matches!(it.peek(), Some(n) if n.tok == Tok::LParen) =>
            {
                it.next();
                match (it.next(), it.next()) {
                    (Some(r), Some(f)) if r.tok == Tok::RParen && f.is_keyword("FROM") => {
                        count = true;
                        break;
                    }
                    _ => {
                        return Err(SoqlError::not_implemented(t.pos, "COUNT(<field>) and COUNT() among other fields"));
                    }
                }
            }
            Tok::Word(w) => {
                let next = it.peek();
                if matches!(next, Some(n) if n.tok == Tok::LParen) {
                    return Err(SoqlError::not_implemented(
                        t.pos,
                        &format!("functions and aggregates such as {w}(...)"),
                    ));
                }
                let path = path_of(t, w)?;
                fields.push(FieldRef { path, pos: t.pos });
                match it.next() {
                    None => return Err(unexpected_end(soql, "FROM")),
                    Some(n) if n.tok == Tok::Comma => continue,
                    Some(n) if n.is_keyword("FROM") => break,
                    Some(n @ Token { tok: Tok::Word(_), .. }) => {
                        return Err(SoqlError::not_implemented(n.pos, &format!("field aliases ('{w} {}')", n.text())));
                    }
                    Some(n) => return Err(unexpected(n)),
                }
            }
            Tok::LParen => return Err(SoqlError::not_implemented(t.pos, "subqueries")),
            Tok::Other('*') => {
                return Err(SoqlError::malformed(
                    Some(t.pos),
                    "unexpected token: '*' (SOQL has no SELECT *; list the fields)",
                ));
            }
            _ => return Err(unexpected(t)),
        }
    }

    let Some(obj) = it.next() else {
        return Err(unexpected_end(soql, "an object name after FROM"));
    };
    let object = match &obj.tok {
        Tok::Word(w) if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(w)) => {
            return Err(unexpected(obj));
        }
        Tok::Word(w) if w.contains('.') => {
            return Err(SoqlError::not_implemented(obj.pos, "relationship queries in FROM"));
        }
        Tok::Word(w) if path_of(obj, w).is_ok() => w.clone(),
        _ => return Err(unexpected(obj)),
    };

    let mut query = SelectQuery {
        fields,
        count,
        object,
        object_pos: obj.pos,
        conditions: Vec::new(),
        order_by_id_desc: None,
        limit: None,
    };
    let mut next = it.next();
    if let Some(t) = next.filter(|t| t.is_keyword("WHERE")) {
        loop {
            query.conditions.push(condition(soql, t, &mut it)?);
            next = it.next();
            match next {
                Some(n) if n.is_keyword("AND") => continue,
                Some(n) if n.is_keyword("OR") => {
                    return Err(SoqlError::not_implemented(n.pos, "OR (only AND joins conditions)"));
                }
                _ => break,
            }
        }
    }
    if let Some(t) = next.filter(|t| t.is_keyword("ORDER")) {
        let by = it.next().filter(|n| n.is_keyword("BY")).ok_or_else(|| unexpected_end(soql, "BY"))?;
        match it.next() {
            Some(f) if f.is_keyword("Id") => {}
            Some(f) => return Err(SoqlError::not_implemented(f.pos, "ORDER BY a field other than Id")),
            None => return Err(unexpected_end(soql, "Id after ORDER BY")),
        }
        let _ = (t, by);
        next = it.next();
        query.order_by_id_desc = Some(false);
        match next {
            Some(d) if d.is_keyword("ASC") => next = it.next(),
            Some(d) if d.is_keyword("DESC") => {
                query.order_by_id_desc = Some(true);
                next = it.next();
            }
            _ => {}
        }
    }
    if let Some(t) = next.filter(|t| t.is_keyword("LIMIT")) {
        match it.next() {
            Some(Token { tok: Tok::Word(n), .. }) if n.bytes().all(|b| b.is_ascii_digit()) => {
                query.limit = Some(n.parse().map_err(|_| SoqlError::malformed(Some(t.pos), "LIMIT is too large"))?);
            }
            Some(n) => return Err(unexpected(n)),
            None => return Err(unexpected_end(soql, "a number after LIMIT")),
        }
        next = it.next();
    }

    if let Some(t) = next {
        let what = match &t.tok {
            Tok::Word(w) => match w.to_ascii_uppercase().as_str() {
                "WHERE" => "WHERE after ORDER BY or LIMIT",
                "ORDER" => "ORDER BY after LIMIT",
                "GROUP" => "GROUP BY",
                "HAVING" => "HAVING",
                "LIMIT" => "LIMIT twice",
                "OFFSET" => "OFFSET",
                "WITH" => "WITH clauses",
                "FOR" => "FOR VIEW / FOR REFERENCE / FOR UPDATE",
                "USING" => "USING SCOPE",
                "ALL" => "ALL ROWS",
                "UPDATE" => "UPDATE TRACKING / UPDATE VIEWSTAT",
                "NULLS" => "NULLS FIRST / NULLS LAST",
                _ => "object aliases",
            },
            Tok::Comma => "several objects in FROM",
            Tok::Other(';') => {
                return Err(SoqlError::malformed(
                    Some(t.pos),
                    "unexpected token: ';' (SOQL takes no trailing semicolon)",
                ));
            }
            _ => return Err(unexpected(t)),
        };
        return Err(SoqlError::not_implemented(t.pos, what));
    }
    Ok(query)
}

/// One condition after WHERE or AND: `Id >= 'x'`, `Id < 'x'` or `<path> = true|false`.
fn condition<'a>(
    soql: &str,
    after: &Token,
    it: &mut std::iter::Peekable<std::slice::Iter<'a, Token>>,
) -> Result<Condition, SoqlError> {
    let what = "conditions other than Id >= '<id>', Id < '<id>', <boolean field> = true|false, \
                <text field> = '<text>' and <field> = null or != null";
    let Some(field) = it.next() else {
        return Err(unexpected_end(soql, "a condition"));
    };
    let Tok::Word(path) = &field.tok else {
        if field.tok == Tok::LParen {
            return Err(SoqlError::not_implemented(field.pos, "parentheses in WHERE"));
        }
        if field.is_keyword("NOT") {
            return Err(SoqlError::not_implemented(field.pos, "NOT"));
        }
        return Err(unexpected(field));
    };
    if path.eq_ignore_ascii_case("NOT") {
        return Err(SoqlError::not_implemented(field.pos, "NOT"));
    }
    let op: String = {
        let mut op = String::new();
        while let Some(Token { tok: Tok::Other(c @ ('<' | '>' | '=' | '!')), .. }) = it.peek() {
            op.push(*c);
            it.next();
        }
        op
    };
    let value = it.next();
    let _ = after;
    if path.eq_ignore_ascii_case("Id") {
        return match (op.as_str(), value) {
            (">=", Some(Token { tok: Tok::Str(v), .. })) => Ok(Condition::IdAtLeast(v.clone())),
            ("<", Some(Token { tok: Tok::Str(v), .. })) => Ok(Condition::IdBelow(v.clone())),
            _ => Err(SoqlError::not_implemented(field.pos, what)),
        };
    }
    let field_ref = || Ok::<_, SoqlError>(FieldRef { path: path_of(field, path)?, pos: field.pos });
    match (op.as_str(), value) {
        ("=", Some(Token { tok: Tok::Word(v), .. }))
            if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false") =>
        {
            Ok(Condition::BoolEquals { field: field_ref()?, value: v.eq_ignore_ascii_case("true") })
        }
        ("=", Some(Token { tok: Tok::Str(v), .. })) => {
            Ok(Condition::TextEquals { field: field_ref()?, value: v.clone() })
        }
        (op @ ("=" | "!="), Some(Token { tok: Tok::Word(v), .. })) if v.eq_ignore_ascii_case("null") => {
            Ok(Condition::Null { field: field_ref()?, is_null: op == "=" })
        }
        _ => Err(SoqlError::not_implemented(field.pos, what)),
    }
}

/// One selected item of a (possibly nested) record.
#[derive(Debug, Clone)]
enum Item {
    Scalar(&'static str),
    Relationship { name: &'static str, id_field: &'static str, target: &'static ObjectDef, items: Vec<Item> },
}

/// A resolved query: the object, the API version, the projection tree, and
/// which rows it selects in which order.
#[derive(Debug, Clone)]
pub struct Plan {
    pub object: &'static ObjectDef,
    /// API major version, e.g. 62 (for `attributes.url`).
    pub version: u32,
    /// Canonical field paths in SELECT order, e.g. `Profile.UserLicense.Name`.
    pub fields: Vec<String>,
    /// `SELECT COUNT()`.
    pub count: bool,
    items: Vec<Item>,
    /// Each selected field as (relationship hops, leaf name, type), for CSV rows.
    leaves: Vec<(Vec<&'static str>, &'static str, FieldType)>,
    id_at_least: Option<String>,
    id_below: Option<String>,
    /// (relationship hops, boolean leaf, value)
    flags: Vec<(Vec<&'static str>, &'static str, bool)>,
    /// (relationship hops, text leaf, value it equals)
    texts: Vec<(Vec<&'static str>, &'static str, String)>,
    /// (relationship hops, leaf, whether it must be null)
    nulls: Vec<(Vec<&'static str>, &'static str, bool)>,
    order_by_id_desc: Option<bool>,
    limit: Option<usize>,
}

const NO_SUCH_COLUMN_TAIL: &str = "If you are attempting to use a custom field, be sure to append \
the '__c' after the custom field name. Please reference your WSDL or the describe call for the \
appropriate names.";

const NO_SUCH_RELATIONSHIP_TAIL: &str = "If you are attempting to use a custom relationship, be \
sure to append the '__r' after the custom relationship name. Please reference your WSDL or the \
describe call for the appropriate names.";

const NO_SUCH_TYPE_TAIL: &str = "If you are attempting to use a custom object, be sure to append \
the '__c' after the entity name. Please reference your WSDL or the describe call for the \
appropriate names.";

/// Resolves a parsed query against the whole schema (PSA and Accounting installed, nothing
/// hidden) as it stands at `version`.
pub fn plan(query: &SelectQuery, version: u32) -> Result<Plan, SoqlError> {
    plan_in(query, version, &View::everything())
}

/// Resolves a parsed query against the schema as it stands at `version`, as `view` sees it: an
/// object it does not see is no object, a field it does not see no column.
pub fn plan_in(query: &SelectQuery, version: u32, view: &View) -> Result<Plan, SoqlError> {
    let object = match org::object_ci(&query.object) {
        Some(def) if def.queryable && def.since <= version && view.sees_object(def) => def,
        other => {
            let mut text = format!("sObject type '{}' is not supported. {NO_SUCH_TYPE_TAIL}", query.object);
            if let Some(def) = other.filter(|d| view.sees_object(d)) {
                let known: Vec<&str> = org::queryable_objects().collect();
                if def.since > version {
                    text.push_str(&format!(" ({} exists from API version {}.0 on.)", def.name, def.since));
                } else {
                    text.push_str(&format!(
                        " (sf-sim serves {} only as a relationship; it can query {}.)",
                        def.name,
                        known.join(", ")
                    ));
                }
            }
            return Err(SoqlError::new(SoqlErrorCode::InvalidType, Some(query.object_pos), text));
        }
    };

    let mut items = Vec::new();
    let mut fields = Vec::new();
    let mut leaves = Vec::new();
    let mut seen = HashSet::new();
    for field in &query.fields {
        let (canonical, chain, leaf) = resolve_path(object, field, version, view)?;
        if !seen.insert(canonical.clone()) {
            return Err(SoqlError::new(
                SoqlErrorCode::DuplicateField,
                Some(field.pos),
                format!("duplicate field selected: {canonical}"),
            ));
        }
        let owner = chain.last().map_or(object, |hop| hop.2);
        let ty = owner.field(leaf).expect("resolved").ty;
        leaves.push((chain.iter().map(|hop| hop.0).collect(), leaf, ty));
        insert(&mut items, &chain, leaf);
        fields.push(canonical);
    }
    let (mut id_at_least, mut id_below, mut flags, mut texts, mut nulls) =
        (None, None, Vec::new(), Vec::new(), Vec::new());
    for condition in &query.conditions {
        match condition {
            Condition::IdAtLeast(v) => id_at_least = Some(v.clone()),
            Condition::IdBelow(v) => id_below = Some(v.clone()),
            Condition::BoolEquals { field, value } => {
                let (hops, leaf) = condition_field(object, field, version, view, &[FieldType::Boolean], "a boolean")?;
                flags.push((hops, leaf, *value));
            }
            Condition::TextEquals { field, value } => {
                let types = [FieldType::Text, FieldType::Id];
                let (hops, leaf) = condition_field(object, field, version, view, &types, "a text")?;
                texts.push((hops, leaf, value.clone()));
            }
            Condition::Null { field, is_null } => {
                let (hops, leaf) = condition_field(object, field, version, view, &[], "")?;
                nulls.push((hops, leaf, *is_null));
            }
        }
    }
    Ok(Plan {
        object,
        version,
        fields,
        count: query.count,
        items,
        leaves,
        id_at_least,
        id_below,
        flags,
        texts,
        nulls,
        order_by_id_desc: query.order_by_id_desc,
        limit: query.limit,
    })
}

/// A field of a WHERE condition: its relationship hops and leaf, which must be of one of
/// `types` (any type when empty), `kind` naming them for the message.
fn condition_field(
    object: &'static ObjectDef,
    field: &FieldRef,
    version: u32,
    view: &View,
    types: &[FieldType],
    kind: &str,
) -> Result<(Vec<&'static str>, &'static str), SoqlError> {
    let (canonical, chain, leaf) = resolve_path(object, field, version, view)?;
    let owner = chain.last().map_or(object, |hop| hop.2);
    let ty = owner.field(leaf).expect("resolved").ty;
    if !types.is_empty() && !types.contains(&ty) {
        return Err(SoqlError::not_implemented(
            field.pos,
            &format!("this condition on {canonical}, which is not {kind} field"),
        ));
    }
    Ok((chain.iter().map(|hop| hop.0).collect(), leaf))
}

/// The first 15 characters of an Id (its case-sensitive key; the 3-character
/// suffix only repeats their case), for comparisons.
fn id_key(id: &str) -> &str {
    id.get(..15).unwrap_or(id)
}

fn record_id(r: &Record) -> &str {
    r.get("Id").and_then(Value::as_str).unwrap_or("")
}

/// A value down a chain of relationships (`None` for an empty lookup on the way).
fn nested<'a>(record: &'a Record, chain: &[&'static str], leaf: &str) -> Option<&'a Value> {
    let mut current = record;
    for hop in chain {
        match current.get(*hop) {
            Some(Value::Object(inner)) => current = inner,
            _ => return None,
        }
    }
    current.get(leaf).filter(|v| !v.is_null())
}

type Hop = (&'static str, &'static str, &'static ObjectDef);

/// Resolves one path to (canonical path, relationship hops, leaf field name).
fn resolve_path(
    object: &'static ObjectDef,
    field: &FieldRef,
    version: u32,
    view: &View,
) -> Result<(String, Vec<Hop>, &'static str), SoqlError> {
    let invalid = |text: String| SoqlError::new(SoqlErrorCode::InvalidField, Some(field.pos), text);
    let (hops, leaf) = field.path.split_at(field.path.len() - 1);
    if let Some(first) = hops.first()
        && first.eq_ignore_ascii_case(object.name)
        && object.field(first).is_none()
    {
        return Err(SoqlError::not_implemented(
            field.pos,
            &format!("object-qualified field names ('{}')", field.path.join(".")),
        ));
    }
    let mut current = object;
    let mut chain = Vec::new();
    let mut canonical = Vec::new();
    for hop in hops {
        match current.field_at(hop, version).filter(|def| view.sees_field(current, def)) {
            Some(def) if matches!(def.ty, FieldType::Relationship { .. }) => {
                let FieldType::Relationship { target, id_field } = def.ty else { unreachable!() };
                let target = org::object(target).expect("relationship targets exist");
                chain.push((def.name, id_field, target));
                canonical.push(def.name);
                current = target;
            }
            _ => {
                return Err(invalid(format!(
                    "Didn't understand relationship '{hop}' in field path. {NO_SUCH_RELATIONSHIP_TAIL}"
                )));
            }
        }
    }
    let leaf = &leaf[0];
    match current.field_at(leaf, version).filter(|def| view.sees_field(current, def)) {
        Some(def) if !matches!(def.ty, FieldType::Relationship { .. }) => {
            canonical.push(def.name);
            Ok((canonical.join("."), chain, def.name))
        }
        _ => Err(invalid(format!("No such column '{leaf}' on entity '{}'. {NO_SUCH_COLUMN_TAIL}", current.name))),
    }
}

/// Adds one resolved path to the projection tree, merging relationship hops
/// with those already selected (the nested object keeps the position of its
/// first selected sub-field).
fn insert(items: &mut Vec<Item>, chain: &[Hop], leaf: &'static str) {
    let Some(((name, id_field, target), rest)) = chain.split_first() else {
        items.push(Item::Scalar(leaf));
        return;
    };
    let existing = items.iter_mut().find_map(|item| match item {
        Item::Relationship { name: n, items, .. } if n == name => Some(items),
        _ => None,
    });
    match existing {
        Some(sub) => insert(sub, rest, leaf),
        None => {
            let mut sub = Vec::new();
            insert(&mut sub, rest, leaf);
            items.push(Item::Relationship { name, id_field, target, items: sub });
        }
    }
}

impl Plan {
    /// Whether `record` meets the WHERE clause.
    pub fn matches(&self, record: &Record) -> bool {
        let id = id_key(record_id(record));
        self.id_at_least.as_deref().is_none_or(|lo| id >= id_key(lo))
            && self.id_below.as_deref().is_none_or(|hi| id < id_key(hi))
            && self.flags.iter().all(|(chain, leaf, value)| nested(record, chain, leaf) == Some(&Value::Bool(*value)))
            && self.texts.iter().all(|(chain, leaf, value)| {
                nested(record, chain, leaf).and_then(Value::as_str).is_some_and(|v| v.eq_ignore_ascii_case(value))
            })
            && self.nulls.iter().all(|(chain, leaf, is_null)| nested(record, chain, leaf).is_none() == *is_null)
    }

    /// The indexes of the rows the query returns, in its order: the WHERE
    /// clause, ORDER BY Id, LIMIT. Rows already sorted by Id (as stored
    /// orgs usually are) are cut to the Id range by binary search.
    pub fn select(&self, rows: &[Record]) -> Vec<u32> {
        let sorted = rows.windows(2).all(|w| id_key(record_id(&w[0])) < id_key(record_id(&w[1])));
        let (start, end) = if sorted {
            let start =
                self.id_at_least.as_deref().map_or(0, |lo| rows.partition_point(|r| id_key(record_id(r)) < id_key(lo)));
            let end = self
                .id_below
                .as_deref()
                .map_or(rows.len(), |hi| rows.partition_point(|r| id_key(record_id(r)) < id_key(hi)));
            (start, end.max(start))
        } else {
            (0, rows.len())
        };
        let matching = |i: &usize| self.matches(&rows[*i]);
        let limit = self.limit.unwrap_or(usize::MAX);
        let mut out: Vec<u32> = match (self.order_by_id_desc, sorted) {
            (Some(true), true) => (start..end).rev().filter(matching).take(limit).map(|i| i as u32).collect(),
            (_, true) => (start..end).filter(matching).take(limit).map(|i| i as u32).collect(),
            (None, false) => (start..end).filter(matching).take(limit).map(|i| i as u32).collect(),
            (Some(desc), false) => {
                let mut all: Vec<u32> = (start..end).filter(matching).map(|i| i as u32).collect();
                all.sort_by(|a, b| id_key(record_id(&rows[*a as usize])).cmp(id_key(record_id(&rows[*b as usize]))));
                if desc {
                    all.reverse();
                }
                all.truncate(limit);
                all
            }
        };
        out.shrink_to_fit();
        out
    }

    /// The Bulk API CSV header row: the selected paths, quoted.
    pub fn csv_header(&self, out: &mut Vec<u8>) {
        for (i, field) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            csv_quoted(field, out);
        }
        out.push(b'\n');
    }

    /// One record as a Bulk API CSV row: every value quoted, null as `""`,
    /// booleans as `true`/`false`, datetimes in Bulk's form `…000Z`.
    pub fn csv_row(&self, record: &Record, out: &mut Vec<u8>) {
        for (i, (chain, leaf, ty)) in self.leaves.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match nested(record, chain, leaf) {
                None => out.extend_from_slice(b"\"\""),
                Some(Value::Bool(b)) => csv_quoted(if *b { "true" } else { "false" }, out),
                Some(Value::String(s)) if *ty == FieldType::DateTime => {
                    csv_quoted(&s.strip_suffix("+0000").map_or_else(|| s.clone(), |stem| format!("{stem}Z")), out)
                }
                Some(Value::String(s)) => csv_quoted(s, out),
                Some(other) => csv_quoted(&other.to_string(), out),
            }
        }
        out.push(b'\n');
    }

    /// The JSON row for one stored record: `attributes` first, then the
    /// selected fields in SELECT order. Missing scalars are `null`; an empty
    /// (null or absent) lookup makes the whole relationship key `null`.
    pub fn project(&self, record: &Record) -> Value {
        Value::Object(self.project_into(self.object, &self.items, record, None))
    }

    fn project_into(
        &self,
        def: &ObjectDef,
        items: &[Item],
        record: &Record,
        fallback_id: Option<&str>,
    ) -> Map<String, Value> {
        let mut out = Map::with_capacity(items.len() + 1);
        let mut attributes = Map::with_capacity(2);
        attributes.insert("type".into(), Value::String(def.name.into()));
        let id = record.get("Id").and_then(Value::as_str).or(fallback_id);
        if let Some(id) = id {
            attributes.insert(
                "url".into(),
                Value::String(format!("/services/data/v{}.0/sobjects/{}/{id}", self.version, def.name)),
            );
        }
        out.insert("attributes".into(), Value::Object(attributes));
        for item in items {
            match item {
                Item::Scalar(name) => {
                    out.insert((*name).into(), record.get(*name).cloned().unwrap_or(Value::Null));
                }
                Item::Relationship { name, id_field, target, items } => {
                    let value = match record.get(*name) {
                        Some(Value::Object(nested)) => {
                            let parent_id = record.get(*id_field).and_then(Value::as_str);
                            Value::Object(self.project_into(target, items, nested, parent_id))
                        }
                        _ => Value::Null,
                    };
                    out.insert((*name).into(), value);
                }
            }
        }
        out
    }
}

fn csv_quoted(text: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for b in text.bytes() {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(q: &str) -> Vec<String> {
        parse(q).unwrap().fields.into_iter().map(|f| f.path.join(".")).collect()
    }

    fn err(q: &str, version: u32) -> SoqlError {
        match parse(q) {
            Err(e) => e,
            Ok(parsed) => plan(&parsed, version).unwrap_err(),
        }
    }

    #[test]
    fn accepts_the_subset() {
        assert_eq!(fields("SELECT Id FROM User"), ["Id"]);
        assert_eq!(
            fields("select  Id,Username ,\n\tProfile.UserLicense.Name\nfrom   user"),
            ["Id", "Username", "Profile.UserLicense.Name"]
        );
        assert_eq!(parse("SeLeCt Id FrOm PermissionSetAssignment").unwrap().object, "PermissionSetAssignment");
        assert_eq!(fields("SELECT My_Field__c FROM User"), ["My_Field__c"]);
    }

    #[test]
    fn rejects_unimplemented_clauses_loudly() {
        let cases = [
            ("SELECT Id FROM User WHERE Name > 'x'", "conditions other than"),
            ("SELECT Id FROM User WHERE Name != 'x'", "conditions other than"),
            ("SELECT Id FROM User WHERE Id > '005000000000001AAA'", "conditions other than"),
            ("SELECT Id FROM User WHERE Id <= '005000000000001AAA'", "conditions other than"),
            ("SELECT Id FROM User WHERE Id = '005000000000001AAA'", "conditions other than"),
            ("SELECT Id FROM User WHERE IsActive = true OR IsActive = false", "OR"),
            ("SELECT Id FROM User WHERE NOT IsActive = true", "NOT"),
            ("SELECT Id FROM User WHERE (IsActive = true)", "parentheses"),
            ("SELECT Id FROM User WHERE IsActive != true", "conditions other than"),
            ("SELECT Id FROM User ORDER BY Name", "ORDER BY a field other than Id"),
            ("SELECT Id FROM User ORDER BY Id NULLS LAST", "NULLS"),
            ("SELECT Id FROM User LIMIT 10 OFFSET 10", "OFFSET"),
            ("SELECT Id FROM User LIMIT 1 ORDER BY Id", "ORDER BY after LIMIT"),
            ("SELECT Id FROM User OFFSET 10", "OFFSET"),
            ("SELECT COUNT(Id) FROM User", "COUNT(<field>)"),
            ("SELECT Id, COUNT() FROM User", "functions"),
            ("SELECT FIELDS(ALL) FROM User", "functions"),
            ("SELECT Id, (SELECT Id FROM Users) FROM Profile", "subqueries"),
            ("SELECT Id i FROM User", "field aliases"),
            ("SELECT Id FROM User u", "object aliases"),
            ("SELECT UserType, COUNT(Id) FROM User GROUP BY UserType", "functions"),
            ("SELECT Id FROM User GROUP BY Id", "GROUP BY"),
            ("SELECT Id FROM User WITH SECURITY_ENFORCED", "WITH clauses"),
            ("SELECT Id FROM User FOR VIEW", "FOR VIEW"),
            ("SELECT Id FROM User ALL ROWS", "ALL ROWS"),
            ("SELECT Id FROM User USING SCOPE mine", "USING SCOPE"),
            ("SELECT TYPEOF Owner WHEN User THEN Name END FROM Task", "TYPEOF"),
            ("SELECT Id FROM User, Account", "several objects"),
            ("FIND {x}", "SOSL"),
        ];
        for (q, needle) in cases {
            let e = parse(q).unwrap_err();
            assert_eq!(e.code, SoqlErrorCode::MalformedQuery, "{q}");
            assert!(e.text.contains("sf-sim does not implement"), "{q}: {}", e.text);
            assert!(e.text.contains(needle), "{q}: {}", e.text);
        }
    }

    #[test]
    fn accepts_what_access_audit_sends() {
        let q = parse(
            "SELECT Id FROM PermissionSetAssignment WHERE PermissionSet.IsOwnedByProfile = false \
             AND Id >= '0Pa000000000001AAA' AND Id < '0Pa000000000009AAA' ORDER BY Id DESC LIMIT 1",
        )
        .unwrap();
        assert_eq!(q.conditions.len(), 3);
        assert_eq!(q.conditions[1], Condition::IdAtLeast("0Pa000000000001AAA".into()));
        assert_eq!((q.order_by_id_desc, q.limit), (Some(true), Some(1)));
        let q = parse("select count() from User where IsActive = TRUE").unwrap();
        assert!(q.count && q.fields.is_empty());
        let e = err("SELECT Id FROM User WHERE Username = true", 62);
        assert!(e.text.contains("not a boolean field"), "{}", e.text);
    }

    #[test]
    fn selects_filters_orders_and_limits() {
        let rows: Vec<Record> = (1..=9)
            .map(|n| {
                let Value::Object(r) = json!({
                    "Id": format!("0Pa00000000000{n}AAA"),
                    "PermissionSet": {"IsOwnedByProfile": n % 3 == 0},
                }) else {
                    unreachable!()
                };
                r
            })
            .collect();
        let ids = |q: &str, rows: &[Record]| -> Vec<u32> {
            let p = plan(&parse(q).unwrap(), 62).unwrap();
            p.select(rows).into_iter().map(|i| i + 1).collect()
        };
        let q = "SELECT Id FROM PermissionSetAssignment WHERE PermissionSet.IsOwnedByProfile = false \
                 AND Id >= '0Pa000000000002AAA' AND Id < '0Pa000000000008AAA'";
        assert_eq!(ids(q, &rows), [2, 4, 5, 7]);
        assert_eq!(ids(&format!("{q} ORDER BY Id DESC LIMIT 1"), &rows), [7]);
        let mut shuffled = rows.clone();
        shuffled.reverse();
        // Unsorted rows: the same set, in ORDER BY order (indexes now count from the end).
        let got: Vec<u32> = ids(&format!("{q} ORDER BY Id"), &shuffled).into_iter().map(|i| 10 - i).collect();
        assert_eq!(got, [2, 4, 5, 7]);
    }

    #[test]
    fn bulk_csv_rows() {
        let p = plan(&parse("SELECT Id, Profile.Name, IsActive, LastLoginDate, Title FROM User").unwrap(), 62).unwrap();
        let Value::Object(r) = json!({
            "Id": "005000000000001AAA",
            "Profile": {"Name": "Say \"hi\""},
            "IsActive": true,
            "LastLoginDate": "2024-01-15T10:20:30.000+0000",
            "Title": null,
        }) else {
            unreachable!()
        };
        let mut out = Vec::new();
        p.csv_header(&mut out);
        p.csv_row(&r, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"Id\",\"Profile.Name\",\"IsActive\",\"LastLoginDate\",\"Title\"\n\
             \"005000000000001AAA\",\"Say \"\"hi\"\"\",\"true\",\"2024-01-15T10:20:30.000Z\",\"\"\n"
        );
    }

    #[test]
    fn rejects_bad_syntax() {
        for q in [
            "",
            "   ",
            "SELECT",
            "SELECT Id",
            "SELECT Id FROM",
            "SELECT FROM User",
            "SELECT Id, FROM User",
            "SELECT Id,, Name FROM User",
            "SELECT * FROM User",
            "SELECT Id FROM User;",
            "SELECT Profile..Name FROM User",
            "SELECT .Name FROM User",
            "SELECT 1Id FROM User",
            "UPDATE User",
            "SELECT Id FROM WHERE",
            "SELECT Id FROM 'User'",
        ] {
            let e = parse(q).unwrap_err();
            assert_eq!(e.code, SoqlErrorCode::MalformedQuery, "{q:?}");
        }
    }

    #[test]
    fn error_message_layout() {
        let q = "SELECT Id, Foo FROM User";
        let e = err(q, 62);
        assert_eq!(e.code, SoqlErrorCode::InvalidField);
        assert_eq!(
            e.message(q),
            format!(
                "\nSELECT Id, Foo FROM User\n           ^\nERROR at Row:1:Column:12\n\
                 No such column 'Foo' on entity 'User'. {NO_SUCH_COLUMN_TAIL}"
            )
        );
        let q = "SELECT Id\nFROM User\nOFFSET 5";
        let e = parse(q).unwrap_err();
        assert_eq!(e.pos, Some(Pos { row: 3, col: 1 }));
        assert!(e.message(q).starts_with("\nOFFSET 5\n^\nERROR at Row:3:Column:1\n"));
    }

    #[test]
    fn resolves_against_the_schema() {
        let p = plan(&parse("SELECT id, profile.userlicense.name, PROFILE.name FROM user").unwrap(), 62).unwrap();
        assert_eq!(p.object.name, "User");
        assert_eq!(p.fields, ["Id", "Profile.UserLicense.Name", "Profile.Name"]);

        let e = err("SELECT Id FROM Account", 62);
        assert_eq!(e.code, SoqlErrorCode::InvalidType);
        assert!(e.text.starts_with("sObject type 'Account' is not supported."));
        let e = err("SELECT Id FROM Profile", 62);
        assert_eq!(e.code, SoqlErrorCode::InvalidType);
        assert!(e.text.contains("only as a relationship"), "{}", e.text);

        let e = err("SELECT Profile FROM User", 62);
        assert_eq!(e.code, SoqlErrorCode::InvalidField);
        assert!(e.text.starts_with("No such column 'Profile' on entity 'User'."));
        let e = err("SELECT Profile.Foo FROM User", 62);
        assert!(e.text.starts_with("No such column 'Foo' on entity 'Profile'."));
        let e = err("SELECT Foo.Name FROM User", 62);
        assert_eq!(e.code, SoqlErrorCode::InvalidField);
        assert!(e.text.starts_with("Didn't understand relationship 'Foo' in field path."));
        let e = err("SELECT Username.Name FROM User", 62);
        assert!(e.text.starts_with("Didn't understand relationship 'Username'"));
        let e = err("SELECT User.Id FROM User", 62);
        assert_eq!(e.code, SoqlErrorCode::MalformedQuery);
        assert!(e.text.contains("object-qualified"));

        let e = err("SELECT Id, Profile.Name, ID FROM User", 62);
        assert_eq!(e.code, SoqlErrorCode::DuplicateField);
        assert_eq!(e.text, "duplicate field selected: Id");
        assert_eq!(e.pos, Some(Pos { row: 1, col: 26 }));
    }

    #[test]
    fn version_gating() {
        let q = "SELECT Id, IsActive FROM PermissionSetAssignment";
        assert!(plan(&parse(q).unwrap(), 52).is_ok());
        let e = err(q, 51);
        assert_eq!(e.code, SoqlErrorCode::InvalidField);
        assert!(e.text.starts_with("No such column 'IsActive' on entity 'PermissionSetAssignment'."));

        let e = err("SELECT Id FROM PermissionSetAssignment", 21);
        assert_eq!(e.code, SoqlErrorCode::InvalidType);
        assert!(e.text.contains("from API version 22.0"));
        assert!(err("SELECT Id FROM PermissionSetGroup", 44).code == SoqlErrorCode::InvalidType);
        assert!(plan(&parse("SELECT Id FROM PermissionSetGroup").unwrap(), 45).is_ok());

        let q = "SELECT PermissionSet.NamespacePrefix FROM PermissionSetAssignment";
        assert!(plan(&parse(q).unwrap(), 23).is_ok());
        let e = err(q, 22);
        assert!(e.text.starts_with("No such column 'NamespacePrefix' on entity 'PermissionSet'."));
        let q = "SELECT PermissionSet.PermissionSetGroupId FROM PermissionSetAssignment";
        assert_eq!(err(q, 44).code, SoqlErrorCode::InvalidField);
    }

    #[test]
    fn projects_nested_relationships_and_null_lookups() {
        let p = plan(
            &parse("SELECT Id, Profile.Name, UserRole.Name, Profile.UserLicense.Name, Email, Title FROM User").unwrap(),
            62,
        )
        .unwrap();
        let rec = json!({
            "Id": "005000000000001AAA",
            "Email": "a@example.com",
            "ProfileId": "00e000000000001AAA",
            "Profile": {"Name": "Standard User", "UserLicense": {"Name": "Salesforce"}},
            "UserRoleId": null,
            "UserRole": null
        });
        let Value::Object(rec) = rec else { unreachable!() };
        let row = p.project(&rec);
        assert_eq!(
            serde_json::to_string(&row).unwrap(),
            serde_json::to_string(&json!({
                "attributes": {"type": "User", "url": "/services/data/v62.0/sobjects/User/005000000000001AAA"},
                "Id": "005000000000001AAA",
                "Profile": {
                    "attributes": {"type": "Profile", "url": "/services/data/v62.0/sobjects/Profile/00e000000000001AAA"},
                    "Name": "Standard User",
                    "UserLicense": {"attributes": {"type": "UserLicense"}, "Name": "Salesforce"}
                },
                "UserRole": null,
                "Email": "a@example.com",
                "Title": null
            }))
            .unwrap()
        );
    }

    #[test]
    fn projects_nested_id_and_absent_lookup() {
        let p =
            plan(&parse("SELECT PermissionSet.Name, PermissionSetGroupId FROM PermissionSetAssignment").unwrap(), 45)
                .unwrap();
        let Value::Object(with_id) = json!({
            "Id": "0Pa000000000001AAA",
            "PermissionSet": {"Id": "0PS000000000001AAA", "Name": "PSA"}
        }) else {
            unreachable!()
        };
        let row = p.project(&with_id);
        assert_eq!(
            row["PermissionSet"]["attributes"]["url"],
            "/services/data/v45.0/sobjects/PermissionSet/0PS000000000001AAA"
        );
        assert_eq!(row["PermissionSetGroupId"], Value::Null);
        let Value::Object(absent) = json!({"Id": "0Pa000000000002AAA"}) else { unreachable!() };
        assert_eq!(p.project(&absent)["PermissionSet"], Value::Null);
    }

    #[test]
    fn text_and_null_conditions() {
        let rows: Vec<Record> = [
            json!({"Id": "0PS000000000001AAA", "NamespacePrefix": "pse"}),
            json!({"Id": "0PS000000000002AAA", "NamespacePrefix": "PSE"}),
            json!({"Id": "0PS000000000003AAA", "NamespacePrefix": null}),
            json!({"Id": "0PS000000000004AAA", "NamespacePrefix": "c2g"}),
        ]
        .into_iter()
        .map(|v| match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        })
        .collect();
        let ids = |q: &str| -> Vec<u32> {
            let p = plan(&parse(q).unwrap(), 62).unwrap();
            p.select(&rows).into_iter().map(|i| i + 1).collect()
        };
        assert_eq!(ids("SELECT COUNT() FROM PermissionSet WHERE NamespacePrefix = 'pse'"), [1, 2]);
        assert_eq!(ids("SELECT Id FROM PermissionSet WHERE NamespacePrefix != null"), [1, 2, 4]);
        assert_eq!(ids("SELECT Id FROM PermissionSet WHERE NamespacePrefix = NULL"), [3]);
        let e = err("SELECT Id FROM PermissionSet WHERE IsOwnedByProfile = 'x'", 62);
        assert!(e.text.contains("not a text field"), "{}", e.text);
    }

    #[test]
    fn what_a_view_does_not_see_does_not_exist() {
        let q = parse("SELECT Id, pse__Salesforce_User__c FROM Contact").unwrap();
        assert!(plan(&q, 62).is_ok());
        let no_psa = View::default();
        let e = plan_in(&q, 62, &no_psa).unwrap_err();
        assert_eq!(e.code, SoqlErrorCode::InvalidField);
        assert!(e.text.starts_with("No such column 'pse__Salesforce_User__c' on entity 'Contact'."), "{}", e.text);
        let e = plan_in(&parse("SELECT Id FROM pse__Permission_Control__c").unwrap(), 62, &no_psa).unwrap_err();
        assert_eq!(e.code, SoqlErrorCode::InvalidType);
        assert!(!e.text.contains("sf-sim"), "no hint about an object the org lacks: {}", e.text);
        let mut hidden = View::everything();
        hidden.hidden_fields.insert(("Contact".into(), "pse__Is_Resource__c".into()));
        hidden.hidden_objects.insert("c2g__codaUserCompany__c".into());
        let e = plan_in(&parse("SELECT pse__Is_Resource__c FROM Contact").unwrap(), 62, &hidden).unwrap_err();
        assert_eq!(e.code, SoqlErrorCode::InvalidField);
        let e = plan_in(&parse("SELECT Id FROM c2g__codaUserCompany__c").unwrap(), 62, &hidden).unwrap_err();
        assert_eq!(e.code, SoqlErrorCode::InvalidType);
        let q = parse("SELECT Id, c2g__Company__r.Name FROM c2g__codaUserCompany__c").unwrap();
        assert_eq!(plan_in(&q, 62, &View::everything()).unwrap().fields, ["Id", "c2g__Company__r.Name"]);
    }
}
