//! The JSON form of events (`{"type": "<Name>", ...fields}`), exactly as `domain.md` and
//! `record-format.md` define it: absent optionals omitted (never `null`), integers only,
//! unknown fields and unknown types rejected.
//!
//! The event types derive serde in postcard's externally tagged shape; this module maps that
//! shape to and from the public one, so each event is defined once.

use serde_json::{Map, Value};

use crate::event::{Event, EventType};

/// Why a JSON value is not a valid event. The server maps `UnknownType` to 400 and the
/// others to 400 as well (malformed input); `field` names the offending field where one is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonEventError {
    /// The value is not a JSON object.
    #[error("an event must be a JSON object")]
    NotAnObject,
    /// `type` is missing or not a string.
    #[error("an event needs a string field \"type\"")]
    MissingType,
    /// `type` names no event of the catalogue.
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    /// A field is `null`; absent optionals are omitted instead.
    #[error("field {field:?} is null; omit an absent optional field instead")]
    NullField { field: String },
    /// A field is unknown, missing, or of the wrong type or value.
    #[error("invalid event {event_type}: {message}")]
    Invalid {
        event_type: &'static str,
        field: Option<String>,
        message: String,
    },
}

impl JsonEventError {
    /// The field at fault, where one is known.
    pub fn field(&self) -> Option<&str> {
        match self {
            JsonEventError::NullField { field } => Some(field),
            JsonEventError::Invalid { field, .. } => field.as_deref(),
            JsonEventError::MissingType => Some("type"),
            JsonEventError::UnknownType(_) => Some("type"),
            JsonEventError::NotAnObject => None,
        }
    }

    /// A stable snake_case code for problem responses.
    pub fn code(&self) -> &'static str {
        match self {
            JsonEventError::UnknownType(_) => "unknown_event_type",
            JsonEventError::NotAnObject | JsonEventError::MissingType => "malformed_event",
            JsonEventError::NullField { .. } | JsonEventError::Invalid { .. } => "invalid_field",
        }
    }
}

/// Parses an event from its JSON form.
pub fn event_from_json(value: Value) -> Result<Event, JsonEventError> {
    let Value::Object(mut object) = value else {
        return Err(JsonEventError::NotAnObject);
    };
    let type_name = match object.remove("type") {
        Some(Value::String(name)) => name,
        _ => return Err(JsonEventError::MissingType),
    };
    let event_type = EventType::from_name(&type_name).ok_or(JsonEventError::UnknownType(type_name))?;
    if let Some(field) = first_null_field(&object, "") {
        return Err(JsonEventError::NullField { field });
    }
    if event_type == EventType::PairingEstablished {
        tag_pairing_target(&mut object, event_type)?;
    }
    let mut outer = Map::with_capacity(1);
    outer.insert(event_type.name().to_owned(), Value::Object(object));
    serde_json::from_value(Value::Object(outer)).map_err(|error| {
        let message = error.to_string();
        JsonEventError::Invalid {
            event_type: event_type.name(),
            field: field_named_in(&message),
            message,
        }
    })
}

/// JSON text as a `Value`, refusing an object that names a key twice. serde_json keeps the
/// last of two equal keys, so `{"type": "ComplaintFiled", "type": "AreaRetired", …}` would be
/// read as whichever came last; every client body and import line is read with this instead.
pub fn value_from_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let UniqueKeys(value) = serde::Deserialize::deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// A JSON value whose objects have unique keys (see [`value_from_slice`]).
struct UniqueKeys(Value);

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<UniqueKeys, D::Error> {
        deserializer.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(Value::Bool(value)))
    }

    fn visit_i64<E>(self, value: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(Value::from(value)))
    }

    fn visit_u64<E>(self, value: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(Value::from(value)))
    }

    fn visit_f64<E>(self, value: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(
            serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number),
        ))
    }

    fn visit_str<E>(self, value: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(Value::String(value.to_owned())))
    }

    fn visit_string<E>(self, value: String) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(Value::String(value)))
    }

    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(Value::Null))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        let mut items = Vec::new();
        while let Some(UniqueKeys(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(UniqueKeys(Value::Array(items)))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "the key {key:?} appears twice in one object"
                )));
            }
            let UniqueKeys(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(UniqueKeys(Value::Object(object)))
    }
}

/// Parses an event from JSON text.
pub fn event_from_json_str(text: &str) -> Result<Event, JsonEventError> {
    let value: Value = value_from_slice(text.as_bytes()).map_err(|error| JsonEventError::Invalid {
        event_type: "?",
        field: None,
        message: error.to_string(),
    })?;
    event_from_json(value)
}

/// The JSON form of an event: `type` plus its fields, absent optionals omitted.
pub fn event_to_json(event: &Event) -> Value {
    let tagged = serde_json::to_value(event).expect("events always serialise to JSON");
    let Value::Object(outer) = tagged else {
        unreachable!("an externally tagged newtype variant serialises to an object")
    };
    let (name, inner) = outer.into_iter().next().expect("one variant key");
    let Value::Object(mut fields) = inner else {
        unreachable!("every event is a struct")
    };
    strip_nulls(&mut fields);
    if let Some(Value::Object(to)) = fields.get_mut("to") {
        untag_pairing_target(to);
    }
    fields.insert("type".to_owned(), Value::String(name));
    Value::Object(fields)
}

/// The RFC 8785 (JCS) canonical text of an event's JSON form: the bytes that `event_hash`
/// covers. Written straight from the event ([`crate::canonical`]); the same text as
/// [`event_canonical_json_via_value`], which the tests check on every event type, and the
/// store's tests check against an independent JCS implementation.
pub fn event_canonical_json(event: &Event) -> String {
    crate::canonical::to_canonical_json(event).expect("every event writes as canonical JSON")
}

/// [`event_canonical_json`] the slow way: the JSON value of [`event_to_json`], written
/// compactly. Our events hold only strings, booleans, integers, arrays and objects with ASCII
/// keys, and serde_json's default map is ordered by key and escapes strings as JCS does, so
/// this is the canonical form too. Kept as the reference the fast one is tested against.
#[doc(hidden)]
pub fn event_canonical_json_via_value(event: &Event) -> String {
    serde_json::to_string(&event_to_json(event)).expect("a JSON value always serialises")
}

fn strip_nulls(object: &mut Map<String, Value>) {
    object.retain(|_, value| !value.is_null());
    for value in object.values_mut() {
        match value {
            Value::Object(inner) => strip_nulls(inner),
            Value::Array(items) => {
                for item in items {
                    if let Value::Object(inner) = item {
                        strip_nulls(inner);
                    }
                }
            }
            _ => {}
        }
    }
}

fn first_null_field(object: &Map<String, Value>, prefix: &str) -> Option<String> {
    for (key, value) in object {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            Value::Null => return Some(path),
            Value::Object(inner) => {
                if let Some(found) = first_null_field(inner, &path) {
                    return Some(found);
                }
            }
            _ => {}
        }
    }
    None
}

/// `PairingTarget` is externally tagged when stored; in JSON it is one of three untagged
/// objects, told apart by their keys.
fn tag_pairing_target(object: &mut Map<String, Value>, event_type: EventType) -> Result<(), JsonEventError> {
    let Some(Value::Object(to)) = object.remove("to") else {
        if object.contains_key("to") {
            return Err(invalid_to(event_type, "\"to\" must be an object"));
        }
        // Let serde report the missing field.
        return Ok(());
    };
    let variant = if to.contains_key("area_id") {
        "Area"
    } else if to.contains_key("member_id") {
        "Member"
    } else if to.contains_key("household_ref") {
        "Household"
    } else {
        return Err(invalid_to(
            event_type,
            "\"to\" must be {\"area_id\", \"unit_no\"?}, {\"member_id\"} or {\"household_ref\"}",
        ));
    };
    let allowed: &[&str] = match variant {
        "Area" => &["area_id", "unit_no"],
        "Member" => &["member_id"],
        _ => &["household_ref"],
    };
    if let Some(unknown) = to.keys().find(|key| !allowed.contains(&key.as_str())) {
        return Err(JsonEventError::Invalid {
            event_type: event_type.name(),
            field: Some(format!("to.{unknown}")),
            message: format!("unknown field `{unknown}` in \"to\""),
        });
    }
    let mut tagged = Map::with_capacity(1);
    tagged.insert(variant.to_owned(), Value::Object(to));
    object.insert("to".to_owned(), Value::Object(tagged));
    Ok(())
}

fn untag_pairing_target(to: &mut Map<String, Value>) {
    if let Some((_, Value::Object(inner))) = to.iter().next().map(|(k, v)| (k.clone(), v.clone())) {
        *to = inner;
    }
}

fn invalid_to(event_type: EventType, message: &str) -> JsonEventError {
    JsonEventError::Invalid {
        event_type: event_type.name(),
        field: Some("to".to_owned()),
        message: message.to_owned(),
    }
}

/// serde_json names the field in messages such as "missing field `name`" or
/// "unknown field `foo`, expected one of ..."; pull it out for the `field` of a problem.
fn field_named_in(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    let name = &message[start..end];
    let is_field_message = message.contains("field");
    (is_field_message && !name.is_empty()).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(value: Value) {
        let event = event_from_json(value.clone()).expect("valid event");
        assert_eq!(event_to_json(&event), value);
    }

    #[test]
    fn area_registered_round_trips_without_absent_optionals() {
        round_trip(
            json!({"type": "AreaRegistered", "area_id": "0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e01", "kind": "county", "name": "灵丘县"}),
        );
        round_trip(
            json!({"type": "AreaRegistered", "area_id": "0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e01", "kind": "building", "name": "1号楼", "parent_id": "0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e02", "units": 3}),
        );
    }

    #[test]
    fn pairing_targets_round_trip_in_all_three_shapes() {
        let base = |to: Value| json!({"type": "PairingEstablished", "pairing_id": "0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e01", "kind": "member_building_unit", "from_id": "0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e02", "to": to});
        round_trip(base(
            json!({"area_id": "0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e03", "unit_no": 2}),
        ));
        round_trip(base(json!({"area_id": "0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e03"})));
        round_trip(base(json!({"member_id": "0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e03"})));
        round_trip(base(json!({"household_ref": "户-17"})));
        let error = event_from_json(base(
            json!({"area_id": "0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e03", "extra": 1}),
        ))
        .unwrap_err();
        assert_eq!(error.field(), Some("to.extra"));
    }

    #[test]
    fn subjects_and_providers_are_single_key_objects() {
        round_trip(
            json!({"type": "EvaluationRecorded", "evaluation_id": "0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e01", "subject": {"work_unit_id": "0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e02"}, "evaluator": "residents", "evaluator_ref": "0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e03", "period": "2026-H1", "score": 88}),
        );
        round_trip(
            json!({"type": "ServiceRendered", "service_id": "0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e01", "by": {"member_id": "0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e02"}, "area_id": "0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e03", "kind": "repair", "minutes": 90}),
        );
    }

    #[test]
    fn rejects_unknown_type_unknown_field_null_and_float() {
        assert!(matches!(
            event_from_json(json!({"type": "Nope"})),
            Err(JsonEventError::UnknownType(_))
        ));
        let unknown = event_from_json(json!({"type": "AreaRetired", "area_id": "0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e01", "reason": "x", "colour": "red"})).unwrap_err();
        assert_eq!(unknown.field(), Some("colour"));
        let null = event_from_json(json!({"type": "AreaRegistered", "area_id": "0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e01", "kind": "county", "name": "x", "parent_id": null})).unwrap_err();
        assert_eq!(null.field(), Some("parent_id"));
        let float = event_from_json(json!({"type": "EmergencyDrillHeld", "plan_id": "0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e01", "participants": 1.5})).unwrap_err();
        assert_eq!(float.code(), "invalid_field");
        let missing = event_from_json(
            json!({"type": "AreaRetired", "area_id": "0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e01"}),
        )
        .unwrap_err();
        assert_eq!(missing.field(), Some("reason"));
    }

    #[test]
    fn canonical_json_matches_the_record_format_test_vector() {
        let event = event_from_json(json!({"type": "AreaRegistered", "area_id": "0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e01", "kind": "county", "name": "灵丘县"})).unwrap();
        assert_eq!(
            event_canonical_json(&event),
            r#"{"area_id":"0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e01","kind":"county","name":"灵丘县","type":"AreaRegistered"}"#
        );
    }
}
