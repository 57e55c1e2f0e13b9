//! One record as a snapshot line: the same bytes whichever API it came through.
//!
//! Takes an object's field list ([`ObjectSpec`]) and hands on a [`Shape`]: the record's keys in
//! the order of the SOQL's SELECT, each relationship one nested object at the place of its first
//! field (as the REST API returns it). A REST record (validated by `snapshot::validate`) is
//! written in that order, whatever order the server sent its keys in; a Bulk API CSV row is typed
//! by the field list (empty is null, `true`/`false` are booleans, Bulk's `…Z` datetimes become
//! the REST form `….000+0000`, a relationship whose columns are all empty is `null`, as REST
//! sends an empty lookup) and written the same way. So a pull through REST and one through Bulk
//! write byte-identical files. Strings are escaped by serde_json, as before.

use serde_json::{Map, Value};

use super::{FieldSpec, FieldType, ObjectSpec, SnapshotError, parse_date, parse_datetime, parse_integer, valid_id};

/// One key of a record: a field, or a relationship holding more keys.
#[derive(Debug)]
enum Node {
    Leaf { key: &'static str, leaf: usize },
    Relationship { key: &'static str, children: Vec<Node> },
}

/// The order and nesting of an object's fields (see the module documentation).
#[derive(Debug)]
pub struct Shape {
    spec: &'static ObjectSpec,
    nodes: Vec<Node>,
}

/// A typed value of a CSV cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    Text(&'a str),
    Owned(String),
    Bool(bool),
    Int(i64),
}

impl Shape {
    pub fn new(spec: &'static ObjectSpec) -> Shape {
        let mut nodes = Vec::new();
        for (leaf, field) in spec.fields.iter().enumerate() {
            let parts: Vec<&'static str> = field.path.split('.').collect();
            insert(&mut nodes, &parts, leaf);
        }
        Shape { spec, nodes }
    }

    pub fn spec(&self) -> &'static ObjectSpec {
        self.spec
    }

    /// Writes a validated REST record as one line (without the newline).
    pub fn line_from_map(&self, record: &Map<String, Value>, out: &mut Vec<u8>) {
        write_map(&self.nodes, record, out);
    }

    /// Writes typed CSV values, one per field of the spec, as one line (without the newline).
    pub fn line_from_cells(&self, cells: &[Option<Cell<'_>>], out: &mut Vec<u8>) {
        write_cells(&self.nodes, cells, out);
    }

    /// Types one CSV row (`columns[i]`: the CSV column of field `i`): the record's Id and its
    /// cells, or the first field that is not what its type allows, named as a REST record's would be.
    pub fn cells<'a>(
        &self,
        row: &[&'a str],
        columns: &[usize],
    ) -> Result<(String, Vec<Option<Cell<'a>>>), SnapshotError> {
        let id_text = row[columns[0]];
        let id = if valid_id(id_text) {
            id_text.to_string()
        } else {
            return Err(SnapshotError::Malformed {
                object: self.spec.name.to_string(),
                id: "(no Id)".to_string(),
                field: "Id".to_string(),
                detail: format!("is {}, not a 15- or 18-character Salesforce Id", shown(id_text)),
            });
        };
        let mut cells = Vec::with_capacity(self.spec.fields.len());
        for (field, &column) in self.spec.fields.iter().zip(columns) {
            let text = row[column];
            let cell = cell(field, text).map_err(|expected| SnapshotError::Malformed {
                object: self.spec.name.to_string(),
                id: id.clone(),
                field: field.path.to_string(),
                detail: match expected {
                    None => "is null but Salesforce always sets it".to_string(),
                    Some(expected) => format!("is {}, not {expected}", shown(text)),
                },
            })?;
            cells.push(cell);
        }
        Ok((id, cells))
    }
}

/// A CSV value typed by its field: `Err(None)` for a required field left empty, `Err(Some(what
/// it should be))` for a value of the wrong form.
fn cell<'a>(field: &FieldSpec, text: &'a str) -> Result<Option<Cell<'a>>, Option<&'static str>> {
    if text.is_empty() {
        return if field.required && !field.path.contains('.') { Err(None) } else { Ok(None) };
    }
    match field.ty {
        FieldType::Id if valid_id(text) => Ok(Some(Cell::Text(text))),
        FieldType::Id => Err(Some("a 15- or 18-character Salesforce Id")),
        FieldType::Text => Ok(Some(Cell::Text(text))),
        FieldType::Bool => match text {
            "true" => Ok(Some(Cell::Bool(true))),
            "false" => Ok(Some(Cell::Bool(false))),
            _ => Err(Some("true or false")),
        },
        FieldType::DateTime => {
            let expected = Some("a Salesforce datetime such as 2024-01-15T10:20:30.000+0000");
            if parse_datetime(text).is_none() {
                return Err(expected);
            }
            // Bulk writes UTC as `Z`; the REST API (and so the snapshot) as `+0000`.
            Ok(Some(match text.strip_suffix('Z') {
                Some(stem) => Cell::Owned(format!("{stem}+0000")),
                None => Cell::Text(text),
            }))
        }
        FieldType::Date if parse_date(text).is_some() => Ok(Some(Cell::Text(text))),
        FieldType::Integer => parse_integer(text).map(|n| Some(Cell::Int(n))).ok_or(Some(field.ty.expected())),
        FieldType::Date => Err(Some(field.ty.expected())),
    }
}

/// A CSV value for a message: as JSON text, at most 60 characters.
fn shown(text: &str) -> String {
    let json = Value::String(text.to_string()).to_string();
    if json.chars().count() > 60 { format!("{}…", json.chars().take(60).collect::<String>()) } else { json }
}

fn insert(nodes: &mut Vec<Node>, parts: &[&'static str], leaf: usize) {
    match parts {
        [key] => nodes.push(Node::Leaf { key, leaf }),
        [key, rest @ ..] => {
            let existing = nodes.iter_mut().find_map(|n| match n {
                Node::Relationship { key: k, children } if k == key => Some(children),
                _ => None,
            });
            match existing {
                Some(children) => insert(children, rest, leaf),
                None => {
                    let mut children = Vec::new();
                    insert(&mut children, rest, leaf);
                    nodes.push(Node::Relationship { key, children });
                }
            }
        }
        [] => unreachable!("a field path has at least one part"),
    }
}

fn key(out: &mut Vec<u8>, first: &mut bool, key: &str) {
    out.push(if *first { b'{' } else { b',' });
    *first = false;
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

fn write_map(nodes: &[Node], record: &Map<String, Value>, out: &mut Vec<u8>) {
    let mut first = true;
    for node in nodes {
        match node {
            Node::Leaf { key: k, .. } => {
                key(out, &mut first, k);
                serde_json::to_writer(&mut *out, record.get(*k).unwrap_or(&Value::Null)).expect("writing to memory");
            }
            Node::Relationship { key: k, children } => {
                key(out, &mut first, k);
                match record.get(*k) {
                    Some(Value::Object(inner)) => write_map(children, inner, out),
                    _ => out.extend_from_slice(b"null"),
                }
            }
        }
    }
    out.extend_from_slice(if first { b"{}" } else { b"}" });
}

fn all_empty(nodes: &[Node], cells: &[Option<Cell<'_>>]) -> bool {
    nodes.iter().all(|n| match n {
        Node::Leaf { leaf, .. } => cells[*leaf].is_none(),
        Node::Relationship { children, .. } => all_empty(children, cells),
    })
}

fn write_cells(nodes: &[Node], cells: &[Option<Cell<'_>>], out: &mut Vec<u8>) {
    let mut first = true;
    for node in nodes {
        match node {
            Node::Leaf { key: k, leaf } => {
                key(out, &mut first, k);
                match &cells[*leaf] {
                    None => out.extend_from_slice(b"null"),
                    Some(Cell::Bool(b)) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
                    Some(Cell::Int(n)) => out.extend_from_slice(n.to_string().as_bytes()),
                    Some(Cell::Text(s)) => serde_json::to_writer(&mut *out, s).expect("writing to memory"),
                    Some(Cell::Owned(s)) => serde_json::to_writer(&mut *out, s).expect("writing to memory"),
                }
            }
            Node::Relationship { key: k, children } => {
                key(out, &mut first, k);
                if all_empty(children, cells) {
                    out.extend_from_slice(b"null");
                } else {
                    write_cells(children, cells, out);
                }
            }
        }
    }
    out.extend_from_slice(if first { b"{}" } else { b"}" });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::spec;

    fn line_of_map(object: &str, json: &str) -> String {
        let shape = Shape::new(spec(object).unwrap());
        let record: Map<String, Value> = serde_json::from_str(json).unwrap();
        let mut out = Vec::new();
        shape.line_from_map(&record, &mut out);
        String::from_utf8(out).unwrap()
    }

    fn line_of_csv(object: &str, header: &[&str], row: &[&str]) -> Result<String, SnapshotError> {
        let shape = Shape::new(spec(object).unwrap());
        let columns: Vec<usize> =
            shape.spec().fields.iter().map(|f| header.iter().position(|h| *h == f.path).unwrap()).collect();
        let (_, cells) = shape.cells(row, &columns)?;
        let mut out = Vec::new();
        shape.line_from_cells(&cells, &mut out);
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn rest_records_are_written_in_select_order_whatever_order_they_came_in() {
        let got = line_of_map(
            "UserPackageLicense",
            r#"{"PackageLicense":{"NamespacePrefix":"pse"},"UserId":"005000000000001AAA","PackageLicenseId":"050000000000001AAA","Id":"0510000000000001AA"}"#,
        );
        assert_eq!(
            got,
            r#"{"Id":"0510000000000001AA","UserId":"005000000000001AAA","PackageLicenseId":"050000000000001AAA","PackageLicense":{"NamespacePrefix":"pse"}}"#
        );
    }

    #[test]
    fn a_bulk_row_becomes_the_rest_record() {
        let header = [
            "Id",
            "AssigneeId",
            "PermissionSetId",
            "PermissionSet.Name",
            "PermissionSet.Label",
            "PermissionSet.NamespacePrefix",
            "PermissionSet.IsOwnedByProfile",
            "PermissionSet.Type",
            "PermissionSetGroupId",
            "ExpirationDate",
        ];
        let row = [
            "0Pa000000000001AAA",
            "005000000000001AAA",
            "0PS000000000001AAA",
            "PSA \"Lead\"",
            "PSA",
            "",
            "false",
            "Regular",
            "",
            "2027-01-15T10:20:30.000Z",
        ];
        let rest = r#"{"Id":"0Pa000000000001AAA","AssigneeId":"005000000000001AAA","PermissionSetId":"0PS000000000001AAA","PermissionSet":{"Name":"PSA \"Lead\"","Label":"PSA","NamespacePrefix":null,"IsOwnedByProfile":false,"Type":"Regular"},"PermissionSetGroupId":null,"ExpirationDate":"2027-01-15T10:20:30.000+0000"}"#;
        assert_eq!(line_of_csv("PermissionSetAssignment", &header, &row).unwrap(), rest);
        assert_eq!(line_of_map("PermissionSetAssignment", rest), rest);
    }

    #[test]
    fn an_empty_relationship_is_null_and_nested_ones_too() {
        let shape = Shape::new(spec("User").unwrap());
        let header: Vec<&str> = shape.spec().fields.iter().map(|f| f.path).collect();
        let mut row: Vec<&str> = header.iter().map(|_| "").collect();
        let set = |row: &mut Vec<&str>, path: &str, v: &'static str| {
            let i = header.iter().position(|h| *h == path).unwrap();
            row[i] = v;
        };
        set(&mut row, "Id", "005000000000001AAA");
        set(&mut row, "Username", "a@x");
        set(&mut row, "IsActive", "true");
        set(&mut row, "UserType", "Standard");
        set(&mut row, "CreatedDate", "2024-01-15T10:20:30.000Z");
        set(&mut row, "Profile.Name", "P");
        let line = line_of_csv("User", &header, &row).unwrap();
        assert!(line.contains(r#""Profile":{"Name":"P","UserLicense":null}"#), "{line}");
        assert!(line.contains(r#""UserRole":null"#), "{line}");
        assert!(line.contains(r#""CreatedDate":"2024-01-15T10:20:30.000+0000""#), "{line}");
    }

    #[test]
    fn bad_bulk_values_are_named_like_bad_rest_values() {
        let header = ["Id", "UserId", "IsFrozen"];
        let e = line_of_csv("UserLogin", &header, &["06000000000000AAAA", "005000000000001AAA", "yes"]).unwrap_err();
        assert_eq!(e.to_string(), r#"UserLogin record 06000000000000AAAA: field IsFrozen is "yes", not true or false"#);
        let e = line_of_csv("UserLogin", &header, &["06000000000000AAAA", "", "true"]).unwrap_err();
        assert!(e.to_string().contains("field UserId is null but Salesforce always sets it"), "{e}");
        let e = line_of_csv("UserLogin", &header, &["nope", "005000000000001AAA", "true"]).unwrap_err();
        assert!(e.to_string().contains("(no Id)"), "{e}");
    }
}
