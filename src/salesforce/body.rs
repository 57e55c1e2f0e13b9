//! A whole answer's bytes into JSON, repairing text that is not valid Unicode.
//!
//! Takes the body of an answer that arrived whole (the HTTP layer checked its length) and
//! hands on a `serde_json::Value` plus what had to be repaired. One bad string in one record
//! must not fail an audit of a whole org, nor be taken for a cut connection: a UTF-16
//! surrogate escape without its pair (`"\ud800"`) and bytes that are not UTF-8 are replaced
//! with U+FFFD, and the fields that now hold U+FFFD are named so that the snapshot can flag
//! them. Anything else that does not parse is reported by the caller by its kind: JSON that
//! stops early is a cut answer (worth another try), anything else is malformed.

use std::borrow::Cow;

use serde_json::{Map, Value};

/// What [`decode_json`] had to replace with U+FFFD.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Repairs {
    /// `\uD800`–`\uDFFF` escapes without their other half.
    pub lone_surrogates: usize,
    /// Byte sequences that are not UTF-8.
    pub invalid_utf8: bool,
}

impl Repairs {
    pub fn any(self) -> bool {
        self.lone_surrogates > 0 || self.invalid_utf8
    }

    /// What was replaced, for a data warning.
    pub fn detail(self) -> &'static str {
        match (self.lone_surrogates > 0, self.invalid_utf8) {
            (true, false) => "a lone UTF-16 surrogate escape (\\ud800-\\udfff) was replaced with U+FFFD",
            (false, true) => "bytes that are not UTF-8 were replaced with U+FFFD",
            _ => {
                "text that is not valid Unicode (a lone surrogate escape or bytes that are not UTF-8) was replaced with U+FFFD"
            }
        }
    }
}

/// Parses a whole body as JSON after replacing invalid Unicode with U+FFFD.
pub fn decode_json(body: &[u8]) -> Result<(Value, Repairs), serde_json::Error> {
    let (bytes, repairs) = repair(body);
    Ok((serde_json::from_slice(&bytes)?, repairs))
}

/// A body's bytes with invalid Unicode replaced by U+FFFD (borrowed when nothing had to change).
pub fn repair(body: &[u8]) -> (Cow<'_, [u8]>, Repairs) {
    let mut repairs = Repairs::default();
    let text = match std::str::from_utf8(body) {
        Ok(t) => Cow::Borrowed(t),
        Err(_) => {
            repairs.invalid_utf8 = true;
            String::from_utf8_lossy(body)
        }
    };
    let lone = lone_surrogate_escapes(text.as_bytes());
    repairs.lone_surrogates = lone.len();
    if lone.is_empty() {
        return (
            match text {
                Cow::Borrowed(t) => Cow::Borrowed(t.as_bytes()),
                Cow::Owned(t) => Cow::Owned(t.into_bytes()),
            },
            repairs,
        );
    }
    // `\uFFFD` is as long as the escape it replaces: the positions stay valid.
    let mut bytes = text.into_owned().into_bytes();
    for at in lone {
        bytes[at..at + 6].copy_from_slice(br"\uFFFD");
    }
    (Cow::Owned(bytes), repairs)
}

/// The parts of a query result page besides its records.
#[derive(Debug, Default)]
pub struct PageHead {
    pub total_size: Option<u64>,
    pub done: Option<bool>,
    pub next_records_url: Option<String>,
    /// Records handed on.
    pub records: u64,
}

/// Why [`stream_page`] stopped.
#[derive(Debug)]
pub enum PageError {
    /// The bytes are not a query result page (see the error's category: `Eof` is a cut answer).
    Json(serde_json::Error),
    /// The receiver refused a record; its own error says why.
    Refused,
}

/// Reads a query result page, handing each record to `on_record` as soon as it is parsed, so
/// that no whole page is ever held as JSON values; returns the rest of the page.
pub fn stream_page(bytes: &[u8], on_record: &mut dyn FnMut(Value) -> Result<(), ()>) -> Result<PageHead, PageError> {
    use serde::de::{DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};

    struct Page<'a> {
        on_record: &'a mut dyn FnMut(Value) -> Result<(), ()>,
        refused: &'a mut bool,
    }
    struct Records<'a, 'b> {
        page: &'b mut Page<'a>,
        count: &'b mut u64,
    }
    impl<'de> Visitor<'de> for Page<'_> {
        type Value = PageHead;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a query result page (an object with totalSize, done and records)")
        }
        fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<PageHead, A::Error> {
            let mut head = PageHead::default();
            while let Some(key) = map.next_key::<String>()? {
                match key.as_str() {
                    "totalSize" => head.total_size = Some(map.next_value()?),
                    "done" => head.done = Some(map.next_value()?),
                    "nextRecordsUrl" => head.next_records_url = map.next_value()?,
                    "records" => {
                        let mut count = 0;
                        map.next_value_seed(Records { page: &mut self, count: &mut count })?;
                        head.records = count;
                    }
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(head)
        }
    }
    impl<'de> DeserializeSeed<'de> for Records<'_, '_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }
    impl<'de> Visitor<'de> for Records<'_, '_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of records")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(record) = seq.next_element::<Value>()? {
                *self.count += 1;
                if (self.page.on_record)(record).is_err() {
                    *self.page.refused = true;
                    return Err(A::Error::custom("record refused"));
                }
            }
            Ok(())
        }
    }

    let mut refused = false;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result =
        (&mut de).deserialize_map(Page { on_record, refused: &mut refused }).and_then(|head| de.end().map(|()| head));
    match result {
        Ok(head) => Ok(head),
        Err(_) if refused => Err(PageError::Refused),
        Err(e) => Err(PageError::Json(e)),
    }
}

/// Byte offsets of the `\uXXXX` escapes, inside JSON strings, that are half a surrogate pair
/// without the other half.
fn lone_surrogate_escapes(b: &[u8]) -> Vec<usize> {
    let hex4 = |at: usize| -> Option<u32> {
        let digits = b.get(at..at + 4)?;
        u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    };
    let escape_at = |at: usize| -> Option<u32> {
        (b.get(at) == Some(&b'\\') && b.get(at + 1) == Some(&b'u')).then(|| hex4(at + 2)).flatten()
    };
    let high = |u: u32| (0xD800..0xDC00).contains(&u);
    let low = |u: u32| (0xDC00..0xE000).contains(&u);
    let mut found = Vec::new();
    let (mut i, mut in_string) = (0, false);
    while i < b.len() {
        match (in_string, b[i]) {
            (false, b'"') => {
                in_string = true;
                i += 1;
            }
            (false, _) => i += 1,
            (true, b'"') => {
                in_string = false;
                i += 1;
            }
            (true, b'\\') => match escape_at(i) {
                Some(u) if high(u) && escape_at(i + 6).is_some_and(low) => i += 12,
                Some(u) if high(u) || low(u) => {
                    found.push(i);
                    i += 6;
                }
                Some(_) => i += 6,
                // `\"`, `\\`, `\n`, … (or a broken escape, which the parser will report).
                None => i += 2,
            },
            (true, _) => i += 1,
        }
    }
    found
}

/// Dotted paths of the text fields of `record` that hold U+FFFD, in field order.
pub fn fields_with_replacement(record: &Map<String, Value>) -> Vec<String> {
    fn walk(map: &Map<String, Value>, prefix: &str, out: &mut Vec<String>) {
        for (key, value) in map {
            let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
            match value {
                Value::String(s) if s.contains('\u{FFFD}') => out.push(path),
                Value::Object(inner) => walk(inner, &path, out),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(record, "", &mut out);
    out
}

/// Where a parse error happened as a byte offset, from serde_json's 1-based line and column.
pub fn error_offset(body: &[u8], e: &serde_json::Error) -> usize {
    let mut line = 1;
    let mut start = 0;
    for (i, &b) in body.iter().enumerate() {
        if line == e.line() {
            break;
        }
        if b == b'\n' {
            line += 1;
            start = i + 1;
        }
    }
    (start + e.column().saturating_sub(1)).min(body.len())
}

/// The Id of the last record that begins before `offset` (`"Id":"…"`), to say where a body
/// that does not parse went wrong.
pub fn record_id_before(body: &[u8], offset: usize) -> Option<String> {
    const KEY: &[u8] = br#""Id":""#;
    let head = &body[..offset.min(body.len())];
    let at = head.windows(KEY.len()).rposition(|w| w == KEY)? + KEY.len();
    let id: Vec<u8> = body[at..].iter().take_while(|b| b.is_ascii_alphanumeric()).copied().collect();
    (id.len() == 15 || id.len() == 18).then(|| String::from_utf8(id).expect("ASCII"))
}

/// A JSON value's kind, for messages.
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(body: &[u8]) -> (String, Repairs) {
        let (v, r) = decode_json(body).unwrap();
        (v["Name"].as_str().unwrap().to_string(), r)
    }

    #[test]
    fn valid_text_is_untouched() {
        let (n, r) = name(br#"{"Name":"Zo\u00eb \ud83d\ude00 \\ud800 \"q\""}"#);
        assert_eq!(n, "Zoë 😀 \\ud800 \"q\"");
        assert_eq!(r, Repairs::default());
        assert!(!r.any());
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        let (n, r) = name(br#"{"Name":"\ud800Ana \uDC00Lee \ud800\u0041"}"#);
        assert_eq!(n, "\u{FFFD}Ana \u{FFFD}Lee \u{FFFD}A");
        assert_eq!(r, Repairs { lone_surrogates: 3, invalid_utf8: false });
        // Outside a string it is not an escape; the parser reports it.
        assert!(decode_json(br#"{"A":1} \ud800"#).is_err());
    }

    #[test]
    fn bytes_that_are_not_utf8_become_replacement_characters() {
        let (n, r) = name(b"{\"Name\":\"\xffAna\"}");
        assert_eq!(n, "\u{FFFD}Ana");
        assert_eq!(r, Repairs { lone_surrogates: 0, invalid_utf8: true });
        assert!(r.detail().contains("not UTF-8"));
    }

    #[test]
    fn a_cut_body_is_an_eof_error_and_garbage_a_syntax_error() {
        let e = decode_json(br#"{"records":[{"Id":"005000000000001AAA","Name":"A"#).unwrap_err();
        assert_eq!(e.classify(), serde_json::error::Category::Eof);
        let body = b"{\"records\":[{\"Id\":\"005000000000001AAA\",\"Name\":\"A\x01\"}]}";
        let e = decode_json(body).unwrap_err();
        assert_eq!(e.classify(), serde_json::error::Category::Syntax);
        assert_eq!(record_id_before(body, error_offset(body, &e)).as_deref(), Some("005000000000001AAA"));
        let e = decode_json(b"<html>portal</html>").unwrap_err();
        assert_eq!(e.classify(), serde_json::error::Category::Syntax);
    }

    #[test]
    fn replaced_fields_are_named_by_path() {
        let record: Map<String, Value> = serde_json::from_str(
            r#"{"Id":"x","Name":"A\uFFFD","Profile":{"Name":"\uFFFD","UserLicense":null},"T":"ok"}"#,
        )
        .unwrap();
        assert_eq!(fields_with_replacement(&record), ["Name", "Profile.Name"]);
    }
}
