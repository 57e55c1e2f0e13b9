//! Checking a snapshot line without building it.
//!
//! [`super::validate`] checks a record held as a JSON map: every key and value becomes an
//! allocation, which for a million assignments is most of the time `verify` and `report` spend.
//! [`Shape::check`] runs the same checks while serde_json reads the line, with every key and
//! string borrowed from the line: the object's fields as a tree of keys ([`Shape::of`]), each
//! value checked against its field's type as it is met, nested relationship objects walked the
//! same way, then the fields that must be there.
//!
//! It only ever says yes to a line [`super::validate`] accepts, and hands on the same Id and
//! reference values. When it cannot say yes (a malformed record, or something it does not decide
//! alone, such as a key given twice), the caller runs [`super::validate`] on the parsed map, which
//! decides and words the problem exactly as before.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};

use super::{FieldType, ObjectSpec, parse_datetime, valid_id};

/// An object's fields as a tree of keys.
pub struct Shape {
    root: Node,
}

#[derive(Default)]
struct Node {
    entries: Vec<Entry>,
}

struct Entry {
    key: &'static str,
    kind: Kind,
    /// Every field under this top-level key was added after snapshots were first written: an
    /// older snapshot's record may lack the key.
    may_be_absent: bool,
}

enum Kind {
    Leaf { ty: FieldType, required: bool },
    Nested(Node),
}

impl Node {
    /// Adds the field at `path` under this node; false when it clashes with another.
    fn insert(&mut self, path: &[&'static str], ty: FieldType, required: bool, added: bool) -> bool {
        let (key, rest) = (path[0], &path[1..]);
        let at = match self.entries.iter().position(|e| e.key == key) {
            Some(_) if rest.is_empty() => return false,
            Some(at) => at,
            None => {
                let kind = if rest.is_empty() { Kind::Leaf { ty, required } } else { Kind::Nested(Node::default()) };
                self.entries.push(Entry { key, kind, may_be_absent: added });
                self.entries.len() - 1
            }
        };
        let entry = &mut self.entries[at];
        entry.may_be_absent &= added;
        match &mut entry.kind {
            Kind::Nested(child) => child.insert(rest, ty, required, added),
            Kind::Leaf { .. } => rest.is_empty(),
        }
    }
}

/// What a valid line holds that the callers need: its Id, and its top-level Id fields' values
/// (the references to other objects), borrowed from the line where it holds no escape.
pub struct Checked<'l> {
    pub id: Cow<'l, str>,
    ids: Vec<(&'static str, Cow<'l, str>)>,
}

impl Checked<'_> {
    /// The value of the top-level Id field `field`, unless null.
    pub fn id_field(&self, field: &str) -> Option<&str> {
        self.ids.iter().find(|(f, _)| *f == field).map(|(_, v)| v.as_ref())
    }
}

impl Shape {
    pub fn of(spec: &ObjectSpec) -> Shape {
        let mut root = Node::default();
        for field in spec.fields {
            let parts: Vec<&'static str> = field.path.split('.').collect();
            if !root.insert(&parts, field.ty, field.required && parts.len() == 1, field.added) {
                // A key both a field and a relationship, or a field twice: no spec has one, and
                // then every line goes to the full check.
                return Shape { root: Node::default() };
            }
        }
        Shape { root }
    }

    /// The line's Id and references when it is a valid record of the object; `None` when it is not
    /// or this check cannot tell (then the full check decides, and says why).
    pub fn check<'l>(&self, line: &'l [u8]) -> Option<Checked<'l>> {
        if self.root.entries.is_empty() || self.root.entries.len() > 64 {
            return None;
        }
        let mut ids = Vec::new();
        let mut de = serde_json::Deserializer::from_slice(line);
        let seed = Level { node: &self.root, top: true, ids: &mut ids };
        seed.deserialize(&mut de).ok()?;
        de.end().ok()?;
        let id = ids.iter().position(|(f, _)| *f == "Id").map(|at| ids[at].1.clone())?;
        Some(Checked { id, ids })
    }
}

/// Gives up on the line: the full check will say why.
fn give_up<E: de::Error>() -> E {
    E::custom("not decided by the fast check")
}

/// One JSON object of the record: the top level, or a relationship.
struct Level<'s, 'v, 'l> {
    node: &'s Node,
    top: bool,
    /// The top level's Id fields (nested levels keep none).
    ids: &'v mut Vec<(&'static str, Cow<'l, str>)>,
}

impl<'de> DeserializeSeed<'de> for Level<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Level<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = 0u64;
        while let Some(key) = map.next_key_seed(Key)? {
            let Some(at) = self.node.entries.iter().position(|e| e.key == key.as_ref()) else {
                // A key the query did not ask for: wrong at the top level, ignored in a relationship.
                if self.top {
                    return Err(give_up());
                }
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            if seen & (1 << at) != 0 {
                return Err(give_up()); // a key twice: the map keeps the last one
            }
            seen |= 1 << at;
            let entry = &self.node.entries[at];
            match &entry.kind {
                Kind::Leaf { ty, required } => match map.next_value_seed(LeafSeed(*ty))? {
                    Value::Null if *required => return Err(give_up()),
                    Value::Id(value) if self.top => self.ids.push((entry.key, value)),
                    _ => {}
                },
                Kind::Nested(child) => map.next_value_seed(Relationship(child))?,
            }
        }
        // Every field must be there (a relationship that is null holds none), except those an
        // older snapshot's query did not ask for.
        let missing =
            self.node.entries.iter().enumerate().any(|(at, e)| seen & (1 << at) == 0 && !(self.top && e.may_be_absent));
        if missing { Err(give_up()) } else { Ok(()) }
    }
}

/// A key, borrowed from the line unless it holds an escape.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }
}

/// A relationship's value: null, or an object walked like the record.
struct Relationship<'s>(&'s Node);

impl<'de> DeserializeSeed<'de> for Relationship<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Relationship<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a relationship object or null")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let mut none = Vec::new();
        Level { node: self.0, top: false, ids: &mut none }.visit_map(map)
    }
}

/// A field's value, once its type is right.
enum Value<'l> {
    Null,
    Present,
    /// An Id field's value.
    Id(Cow<'l, str>),
}

struct LeafSeed(FieldType);

impl<'de> DeserializeSeed<'de> for LeafSeed {
    type Value = Value<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl LeafSeed {
    fn text<'de, E: de::Error>(&self, v: &str, owned: impl FnOnce() -> Cow<'de, str>) -> Result<Value<'de>, E> {
        match self.0 {
            FieldType::Id if valid_id(v) => Ok(Value::Id(owned())),
            FieldType::Text => Ok(Value::Present),
            FieldType::DateTime if parse_datetime(v).is_some() => Ok(Value::Present),
            _ => Err(give_up()),
        }
    }
}

impl<'de> Visitor<'de> for LeafSeed {
    type Value = Value<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field's value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        if self.0 == FieldType::Bool { Ok(Value::Present) } else { Err(give_up()) }
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        self.text(v, || Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.text(v, || Cow::Owned(v.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{OBJECTS, spec, validate};
    use super::*;

    impl Checked<'_> {
        /// A record built from a JSON map that [`super::validate`] accepted.
        fn from_map<'m>(
            spec: &ObjectSpec,
            id: String,
            record: &'m serde_json::Map<String, serde_json::Value>,
        ) -> Checked<'m> {
            let ids = spec
                .fields
                .iter()
                .filter(|f| f.ty == FieldType::Id && !f.path.contains('.'))
                .filter_map(|f| record.get(f.path).and_then(|v| v.as_str()).map(|v| (f.path, Cow::Borrowed(v))))
                .collect();
            Checked { id: Cow::Owned(id), ids }
        }
    }

    /// What the fast and the full check say of a line: the fast one never accepts what the full
    /// one refuses, and when both accept, they agree on the Id and the references.
    fn both(object: &str, line: &str) -> (bool, bool) {
        let spec = spec(object).unwrap();
        let refs = |c: &Checked<'_>| {
            let ids: Vec<(String, String)> = c.ids.iter().map(|(f, v)| (f.to_string(), v.to_string())).collect();
            (c.id.to_string(), ids)
        };
        let fast = Shape::of(spec).check(line.as_bytes()).map(|c| refs(&c));
        let map = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(line).ok();
        let full = map.as_ref().and_then(|m| validate(spec, m).ok().map(|id| refs(&Checked::from_map(spec, id, m))));
        match (&fast, &full) {
            (Some(fast), Some(full)) => assert_eq!(fast, full, "{line}"),
            (Some(_), None) => panic!("the fast check accepts what the full check refuses: {line}"),
            _ => {}
        }
        (fast.is_some(), full.is_some())
    }

    fn agree(object: &str, line: &str) -> bool {
        both(object, line) == (true, true)
    }

    const USER: &str = r#"{"Id":"005000000000001AAA","Username":"a@x","Name":"A","Email":null,"IsActive":true,"UserType":"Standard","Profile":{"Name":"P","UserLicense":{"Name":"Salesforce"}},"UserRole":null,"Department":null,"Title":null,"FederationIdentifier":null,"CreatedDate":"2024-01-15T10:20:30.000+0000","LastLoginDate":null,"ManagerId":null,"Manager":null}"#;

    #[test]
    fn valid_records_pass_with_their_id_and_references() {
        assert!(agree("User", USER));
        let psa = r#"{"Id":"0Pa000000000001AAA","AssigneeId":"005000000000001AAA","PermissionSetId":"0PS000000000001AAA","PermissionSet":{"Name":"X","Label":"Y","NamespacePrefix":null,"IsOwnedByProfile":false,"Type":"Regular"},"PermissionSetGroupId":null,"ExpirationDate":null}"#;
        assert!(agree("PermissionSetAssignment", psa));
        let spec = spec("PermissionSetAssignment").unwrap();
        let checked = Shape::of(spec).check(psa.as_bytes()).unwrap();
        assert_eq!(checked.id, "0Pa000000000001AAA");
        assert_eq!(checked.id_field("AssigneeId"), Some("005000000000001AAA"));
        assert_eq!(checked.id_field("PermissionSetGroupId"), None);
        // Escaped text is still text; an older snapshot's user has no manager fields.
        assert!(agree("User", &USER.replace(r#""Name":"A""#, r#""Name":"A\u00e9\n""#)));
        assert!(agree("User", &USER.replace(r#","ManagerId":null,"Manager":null"#, "")));
        assert!(agree("User", &USER.replace(r#""Manager":null"#, r#""Manager":{"Name":"M","Email":"m@x","Extra":1}"#)));
    }

    #[test]
    fn anything_the_full_check_refuses_is_refused() {
        let bad = [
            USER.replace(r#""IsActive":true"#, r#""IsActive":"yes""#),
            USER.replace(r#""IsActive":true"#, r#""IsActive":null"#),
            USER.replace(r#""Id":"005000000000001AAA""#, r#""Id":"005-bad""#),
            USER.replace(r#""Id":"005000000000001AAA","#, ""),
            USER.replace(r#""CreatedDate":"2024-01-15T10:20:30.000+0000""#, r#""CreatedDate":"yesterday""#),
            USER.replace(r#""Email":null"#, r#""Email":3"#),
            USER.replace(r#""Title":null,"#, ""),
            USER.replace(r#""Title":null"#, r#""Title":null,"Extra":null"#),
            USER.replace(r#""Profile":{"Name":"P","UserLicense":{"Name":"Salesforce"}}"#, r#""Profile":"P""#),
            USER.replace(r#""UserLicense":{"Name":"Salesforce"}"#, r#""UserLicense":{}"#),
            USER.replace(r#""Manager":null"#, r#""Manager":{"Name":"M"}"#),
            USER.replace('}', "} trailing"),
            "[1,2]".to_string(),
            String::new(),
        ];
        for line in &bad {
            assert_eq!(both("User", line), (false, false), "{line}");
        }
    }

    #[test]
    fn a_key_given_twice_is_left_to_the_full_check() {
        let twice = USER.replace(r#""Title":null"#, r#""Title":null,"Title":"T""#);
        assert_eq!(both("User", &twice), (false, true), "the map keeps the last value, and accepts it");
    }

    #[test]
    fn every_object_has_a_shape() {
        for spec in OBJECTS {
            assert!(!Shape::of(spec).root.entries.is_empty(), "{}", spec.name);
        }
    }

    proptest::proptest! {
        /// Records with any field removed, added, or given another value of any type: the fast
        /// check never accepts what the full check refuses, and agrees with it when both accept.
        #[test]
        fn the_fast_check_never_disagrees_with_the_full_check(
            edits in proptest::collection::vec((0usize..20, 0usize..12, 0usize..4), 0..4),
        ) {
            let mut record: serde_json::Map<String, serde_json::Value> = serde_json::from_str(USER).unwrap();
            let keys: Vec<String> = record.keys().cloned().chain(["Extra".to_string()]).collect();
            let values = [
                serde_json::json!(null),
                serde_json::json!(true),
                serde_json::json!(7),
                serde_json::json!("005000000000002AAA"),
                serde_json::json!("0050000000000"),
                serde_json::json!("2024-01-15T10:20:30.000+0000"),
                serde_json::json!("2024-01-15"),
                serde_json::json!("t\u{e9}xt\n"),
                serde_json::json!({"Name": "N", "UserLicense": {"Name": "L"}}),
                serde_json::json!({"Name": "N"}),
                serde_json::json!({}),
                serde_json::json!(["x"]),
            ];
            for (key, value, how) in edits {
                let key = &keys[key % keys.len()];
                match how {
                    0 => {
                        record.shift_remove(key);
                    }
                    _ => {
                        record.insert(key.clone(), values[value].clone());
                    }
                }
            }
            let line = serde_json::to_string(&record).unwrap();
            both("User", &line);
            both("PermissionSetAssignment", &line);
        }
    }
}
