//! Request bodies: a size bound, JSON that must be one object without duplicate keys, and typed
//! field access whose errors name the field (`VALIDATION_FAILED`, `details.field`).

use crate::error::ApiError;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// JSON bodies larger than this answer 413.
pub const MAX_JSON_BODY_BYTES: usize = 64 * 1024;
/// Nesting deeper than this is refused as invalid JSON (no request needs it; it costs stack).
pub const MAX_JSON_DEPTH: usize = 32;

/// A JSON value parsed strictly: duplicate object keys and excessive nesting are errors.
struct StrictValue(Value);

struct StrictVisitor {
    depth: usize,
}

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = StrictValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<StrictValue, E> {
        Ok(StrictValue(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)))
    }
    fn visit_str<E>(self, v: &str) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::String(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::String(v)))
    }
    fn visit_unit<E>(self) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrictValue, A::Error> {
        if self.depth >= MAX_JSON_DEPTH {
            return Err(de::Error::custom("nesting too deep"));
        }
        let mut items = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element_seed(StrictSeed { depth: self.depth + 1 })? {
            items.push(v);
        }
        Ok(StrictValue(Value::Array(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrictValue, A::Error> {
        if self.depth >= MAX_JSON_DEPTH {
            return Err(de::Error::custom("nesting too deep"));
        }
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let StrictValue(v) = map.next_value_seed(StrictSeed { depth: self.depth + 1 })?;
            if out.insert(key.clone(), v).is_some() {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
        }
        Ok(StrictValue(Value::Object(out)))
    }
}

struct StrictSeed {
    depth: usize,
}

impl<'de> de::DeserializeSeed<'de> for StrictSeed {
    type Value = StrictValue;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<StrictValue, D::Error> {
        d.deserialize_any(StrictVisitor { depth: self.depth })
    }
}

/// Parses a request body as one JSON object (bounded, strict). An empty body is `{}` only
/// when `empty_is_object` says so (for routes whose body is optional).
pub fn parse_object(body: &[u8], empty_is_object: bool) -> Result<JsonObject, ApiError> {
    if body.len() > MAX_JSON_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge { limit: MAX_JSON_BODY_BYTES });
    }
    if empty_is_object && body.iter().all(u8::is_ascii_whitespace) {
        return Ok(JsonObject { fields: Map::new(), prefix: String::new() });
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let StrictValue(value) =
        de::DeserializeSeed::deserialize(StrictSeed { depth: 0 }, &mut de).map_err(|_| ApiError::InvalidJson)?;
    de.end().map_err(|_| ApiError::InvalidJson)?;
    match value {
        Value::Object(fields) => Ok(JsonObject { fields, prefix: String::new() }),
        _ => Err(ApiError::InvalidJson),
    }
}

/// A JSON object being read field by field. Every accessor removes the field it reads, so
/// `finish` can refuse whatever is left (unknown fields are a client mistake worth naming).
#[derive(Debug)]
pub struct JsonObject {
    fields: Map<String, Value>,
    prefix: String,
}

impl JsonObject {
    fn path(&self, field: &str) -> String {
        format!("{}{field}", self.prefix)
    }

    fn take(&mut self, field: &str) -> Option<Value> {
        match self.fields.remove(field) {
            Some(Value::Null) | None => None,
            Some(v) => Some(v),
        }
    }

    pub fn has(&self, field: &str) -> bool {
        self.fields.contains_key(field)
    }

    pub fn required<T>(
        &mut self,
        field: &str,
        read: impl FnOnce(&str, Value) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let path = self.path(field);
        match self.take(field) {
            Some(v) => read(&path, v),
            None => Err(ApiError::validation(path, "is required")),
        }
    }

    pub fn optional<T>(
        &mut self,
        field: &str,
        read: impl FnOnce(&str, Value) -> Result<T, ApiError>,
    ) -> Result<Option<T>, ApiError> {
        let path = self.path(field);
        self.take(field).map(|v| read(&path, v)).transpose()
    }

    /// Refuses any field no accessor asked for.
    pub fn finish(self) -> Result<(), ApiError> {
        match self.fields.keys().next() {
            Some(unknown) => Err(ApiError::validation(self.path(unknown), "is not a known field")),
            None => Ok(()),
        }
    }
}

/// Field readers for `JsonObject::required` / `optional`.
pub mod read {
    use super::*;

    pub fn string(field: &str, v: Value) -> Result<String, ApiError> {
        match v {
            Value::String(s) => Ok(s),
            _ => Err(ApiError::validation(field, "must be a string")),
        }
    }

    /// JSON has one number type: `60`, `60.0` and `6e1` are the same integer (as JSON Schema's
    /// `integer` says). Fractions, and floats beyond exact integer range, are not.
    pub fn integer(field: &str, v: Value) -> Result<i64, ApiError> {
        const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
        v.as_i64()
            .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0 && f.abs() <= EXACT).map(|f| f as i64))
            .ok_or_else(|| ApiError::validation(field, "must be an integer"))
    }

    /// Characters that change how text around them reads without being seen: bidirectional
    /// embeddings, overrides, isolates and marks, and zero-width characters. A name carrying them
    /// can pass for another (`admin` spelled backwards, an invisible suffix).
    pub fn is_deceptive(c: char) -> bool {
        matches!(c, '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}')
            || matches!(c, '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
    }

    /// A display name or title (keys, members, and every later name): at most 100 characters,
    /// no control, bidirectional-control or zero-width characters, not only whitespace; returned
    /// trimmed. openapi.yaml's `Name` pattern states the same rule.
    pub fn name(field: &str, v: Value) -> Result<String, ApiError> {
        let s = string(field, v)?;
        if s.chars().count() > 100 || s.chars().any(|c| c.is_control() || is_deceptive(c)) || s.trim().is_empty() {
            return Err(ApiError::validation(
                field,
                "must be 1..100 characters, without control, bidirectional-control or zero-width characters",
            ));
        }
        Ok(s.trim().to_string())
    }

    /// `local@domain.tld`: one `@`, two or more non-empty dot-separated domain labels, no
    /// whitespace or control characters, at most 254 characters (openapi.yaml's `Email`).
    pub fn email(field: &str, v: Value) -> Result<String, ApiError> {
        let s = string(field, v)?;
        let plain = |c: char| !c.is_whitespace() && !c.is_control() && c != '@';
        let valid = s.chars().count() <= 254
            && s.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && local.chars().all(plain)
                    && domain.split('.').count() >= 2
                    && domain.split('.').all(|label| !label.is_empty() && label.chars().all(plain))
            });
        if valid {
            Ok(s)
        } else {
            Err(ApiError::validation(field, "must be an email address"))
        }
    }

    pub fn boolean(field: &str, v: Value) -> Result<bool, ApiError> {
        v.as_bool().ok_or_else(|| ApiError::validation(field, "must be a boolean"))
    }

    pub fn object(field: &str, v: Value) -> Result<Map<String, Value>, ApiError> {
        match v {
            Value::Object(m) => Ok(m),
            _ => Err(ApiError::validation(field, "must be an object")),
        }
    }

    /// A nested object, read field by field like the body: errors name `field.inner`
    /// (`destination.value`), and its `finish` refuses unknown inner fields.
    pub fn nested(field: &str, v: Value) -> Result<JsonObject, ApiError> {
        Ok(JsonObject { fields: object(field, v)?, prefix: format!("{field}.") })
    }

    pub fn any(_field: &str, v: Value) -> Result<Value, ApiError> {
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn code(r: Result<JsonObject, ApiError>) -> &'static str {
        r.map(|_| "OK").unwrap_or_else(|e| e.status_and_code().1)
    }

    #[test]
    fn non_objects_and_garbage_are_invalid_json() {
        for body in [&b"[1,2]"[..], b"\"x\"", b"12", b"{", b"{} {}", b"\xff\xfe", b"", b"null"] {
            assert_eq!(code(parse_object(body, false)), "INVALID_JSON", "{body:?}");
        }
    }

    #[test]
    fn integers_may_be_written_as_whole_floats() {
        for (text, want) in [("60", Some(60)), ("60.0", Some(60)), ("6e1", Some(60)), ("-0.0", Some(0))] {
            let v: Value = serde_json::from_str(text).unwrap();
            assert_eq!(read::integer("n", v).ok(), want, "{text}");
        }
        for text in ["60.5", "1e300", "\"60\"", "true", "null"] {
            let v: Value = serde_json::from_str(text).unwrap();
            assert!(read::integer("n", v).is_err(), "{text}");
        }
    }

    #[test]
    fn names_and_emails_follow_the_published_rules() {
        let name = |s: &str| read::name("name", json!(s)).ok();
        assert_eq!(name("  Ada  ").as_deref(), Some("Ada"));
        assert_eq!(name(&"x".repeat(100)).map(|s| s.len()), Some(100));
        let deceptive =
            ["ad\u{202E}nim", "a\u{2066}b\u{2069}", "admin\u{200B}", "\u{FEFF}x", "a\u{200D}b", "a\u{061C}"];
        for bad in ["", "   ", "\u{3000}", &"x".repeat(101), "a\u{7}b", "a\nb", "a\u{85}"].into_iter().chain(deceptive)
        {
            assert_eq!(name(bad), None, "{bad:?}");
        }
        let email = |s: &str| read::email("email", json!(s)).ok();
        assert!(email("ada@example.com").is_some() && email("a.b@c.d.e").is_some());
        for bad in ["ada", "ada@", "@x.io", "a@b", "a@b.", "a@.b", "a@@b.c", "a@b@c.d", "a b@c.d", " a@b.c", "a@b.c\t"]
        {
            assert_eq!(email(bad), None, "{bad:?}");
        }
    }

    /// openapi.yaml's `Name` and `Email` patterns spell "whitespace or control" as explicit
    /// ranges (regex engines disagree on `\s`): they must be exactly Rust's character classes.
    #[test]
    fn the_published_whitespace_and_control_ranges_match_rust() {
        let published = |c: char| {
            matches!(c, '\u{0}'..='\u{20}' | '\u{7f}'..='\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}')
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}')
        };
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            assert_eq!(published(c), c.is_whitespace() || c.is_control(), "U+{:04X}", c as u32);
        }
        let spec = include_str!("../../../openapi.yaml");
        assert!(spec.contains(r"\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"));
        assert!(spec.contains(r"\u0000-\u001F\u007F-\u009F"));
        // The deceptive characters, as the `Name` pattern refuses them.
        let published_deceptive = r"\u061C\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF";
        assert!(spec.contains(published_deceptive));
        let ranges = [(0x061C, 0x061C), (0x180E, 0x180E), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x2064)];
        let ranges = ranges.into_iter().chain([(0x2066, 0x2069), (0xFEFF, 0xFEFF)]);
        let listed: Vec<u32> = ranges.flat_map(|(a, b)| a..=b).collect();
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            assert_eq!(listed.contains(&(c as u32)), read::is_deceptive(c), "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        assert_eq!(code(parse_object(br#"{"a":1,"a":2}"#, false)), "INVALID_JSON");
        assert_eq!(code(parse_object(br#"{"p":{"x":1,"x":1}}"#, false)), "INVALID_JSON");
        assert_eq!(code(parse_object(br#"{"a":1,"b":{"a":2}}"#, false)), "OK");
    }

    #[test]
    fn deep_nesting_is_refused_without_blowing_the_stack() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(5000), "]".repeat(5000));
        assert_eq!(code(parse_object(deep.as_bytes(), false)), "INVALID_JSON");
    }

    #[test]
    fn oversize_bodies_are_413_before_parsing() {
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_JSON_BODY_BYTES));
        assert_eq!(code(parse_object(big.as_bytes(), false)), "PAYLOAD_TOO_LARGE");
    }

    #[test]
    fn empty_body_is_an_empty_object_only_where_allowed() {
        assert_eq!(code(parse_object(b"  ", true)), "OK");
        assert_eq!(code(parse_object(b"", false)), "INVALID_JSON");
    }

    #[test]
    fn field_errors_name_the_field_and_unknown_fields_are_refused() {
        let mut obj = parse_object(br#"{"name": 5, "extra": true}"#, false).unwrap();
        let err = obj.required("name", read::string).unwrap_err();
        assert!(matches!(err, ApiError::Validation { ref field, .. } if field == "name"));
        let err = obj.finish().unwrap_err();
        assert!(
            matches!(err, ApiError::Validation { ref field, ref reason } if field == "extra" && reason.contains("not a known"))
        );
        let mut obj = parse_object(br#"{"title": null}"#, false).unwrap();
        assert!(obj.optional("title", read::string).unwrap().is_none());
        assert!(obj.required("name", read::string).is_err());
    }

    #[test]
    fn nested_objects_name_their_fields_by_path() {
        let mut obj = parse_object(br#"{"destination": {"type": "link", "value": 5, "extra": 1}}"#, false).unwrap();
        let mut destination = obj.required("destination", read::nested).unwrap();
        assert_eq!(destination.required("type", read::string).unwrap(), "link");
        let err = destination.required("value", read::string).unwrap_err();
        assert!(matches!(err, ApiError::Validation { ref field, .. } if field == "destination.value"));
        let err = destination.finish().unwrap_err();
        assert!(matches!(err, ApiError::Validation { ref field, .. } if field == "destination.extra"));
        let mut not_object = parse_object(br#"{"destination": "x"}"#, false).unwrap();
        let err = not_object.required("destination", read::nested).unwrap_err();
        assert!(matches!(err, ApiError::Validation { ref field, .. } if field == "destination"));
    }
}
