//! A request's top-level fields, read without copying.
//!
//! A request has a handful of fields, so a list searched in order is
//! cheaper than a map: one allocation per request, and names and string
//! values borrowed from the frame unless they hold an escape.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// The fields of one JSON object, each value as its raw text. A name given
/// twice keeps its last value, as `JSON.parse` does.
#[derive(Debug)]
pub(crate) struct Fields<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> Fields<'a> {
    /// The raw value of field `name`, if present (`null` included).
    pub(crate) fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.0.iter().find(|(field, _)| field == name).map(|(_, value)| *value)
    }

    /// Every field's name.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(name, _)| name.as_ref())
    }
}

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Fields<'de>, M::Error> {
                let mut fields: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::with_capacity(8);
                while let Some(Text(name)) = map.next_key()? {
                    let value: &'de RawValue = map.next_value()?;
                    match fields.iter_mut().find(|(field, _)| *field == name) {
                        Some(field) => field.1 = value,
                        None => fields.push((name, value)),
                    }
                }
                Ok(Fields(fields))
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

/// A JSON string, borrowed from the input unless it holds an escape.
pub(crate) struct Text<'a>(pub(crate) Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }
            fn visit_str<E>(self, text: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }
            fn visit_string<E>(self, text: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text)))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

/// The string in raw JSON `value`, borrowed when it has no escape; `None`
/// when the value is not a string.
pub(crate) fn text(value: &RawValue) -> Option<Cow<'_, str>> {
    serde_json::from_str::<Text<'_>>(value.get()).ok().map(|Text(text)| text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(json: &str) -> Fields<'_> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn fields_are_found_by_name_and_the_last_of_two_wins() {
        let parsed = fields(r#"{"type":"ping","tid":1,"type":"room_leave","x\"y":null}"#);
        assert_eq!(parsed.get("type").map(RawValue::get), Some(r#""room_leave""#));
        assert_eq!(parsed.get("tid").map(RawValue::get), Some("1"));
        assert_eq!(parsed.get("x\"y").map(RawValue::get), Some("null"));
        assert!(parsed.get("room").is_none());
        assert_eq!(parsed.names().collect::<Vec<_>>(), ["type", "tid", "x\"y"]);
    }

    #[test]
    fn strings_are_borrowed_unless_escaped() {
        let raw = |json: &str| serde_json::from_str::<Box<RawValue>>(json).unwrap();
        let plain = raw(r#""room 1""#);
        assert!(matches!(text(&plain), Some(Cow::Borrowed("room 1"))));
        let escaped = raw(r#""a\"b""#);
        assert_eq!(text(&escaped).as_deref(), Some("a\"b"));
        assert_eq!(text(&raw("5")), None);
    }

    #[test]
    fn non_objects_are_refused_as_data_errors() {
        let error = serde_json::from_str::<Fields<'_>>("[1]").unwrap_err();
        assert!(error.is_data());
        assert!(serde_json::from_str::<Fields<'_>>("{").unwrap_err().is_eof());
    }
}
