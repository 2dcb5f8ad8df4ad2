//! Personal fields of events: taking their values out (so a store can keep them apart from the
//! log and erase them), putting them back, and the JSON form of a redacted event
//! (`record-format.md`, "Redacted records": the erased fields are omitted).
//!
//! Which fields are personal, and where each value lives in its event, is declared once per
//! event type ([`crate::event::EventFacts`]); this module only works from that table.

use serde_json::{Map, Value};

use crate::event::{Event, EventType, PersonalField};

/// True when the event carries any non-empty personal value (the common case of none costs
/// a match on the type and nothing else).
pub fn has_personal_values(event: &Event) -> bool {
    event
        .event_type()
        .personal_fields()
        .iter()
        .any(|&field| event.personal_value(field).is_some_and(|value| !value.is_empty()))
}

/// Takes the personal values out of `event` (leaving empty strings) and returns them in the
/// order of [`EventType::personal_fields`]; a field the event does not carry gives `None`.
pub fn take_personal(event: &mut Event) -> Vec<Option<String>> {
    let fields = event.event_type().personal_fields();
    fields
        .iter()
        .map(|&field| event.personal_value_mut(field).map(std::mem::take))
        .collect()
}

/// Puts values taken by [`take_personal`] back (`None` entries are skipped).
pub fn put_personal(event: &mut Event, values: Vec<Option<String>>) {
    let fields = event.event_type().personal_fields();
    for (&field, value) in fields.iter().zip(values) {
        if let (Some(value), Some(slot)) = (value, event.personal_value_mut(field)) {
            *slot = value;
        }
    }
}

/// The personal field of `event_type` that `name` (a name in `Redacted.fields`) names, if any.
pub fn personal_field(event_type: EventType, name: &str) -> Option<PersonalField> {
    event_type
        .personal_fields()
        .iter()
        .copied()
        .find(|field| field.name() == name)
}

/// Empties the named personal fields of `event` (names that are not personal fields of its
/// type are ignored).
pub fn erase_fields(event: &mut Event, fields: &[String]) {
    let event_type = event.event_type();
    for name in fields {
        if let Some(slot) = personal_field(event_type, name).and_then(|field| event.personal_value_mut(field))
        {
            slot.clear();
        }
    }
}

/// Removes the named fields from an event's JSON form (`event_to_json`): the form a redacted
/// record is served and exported in. `household_ref` lives inside `to`.
pub fn omit_fields_in_json(event: &mut Value, fields: &[String]) {
    let Some(object) = event.as_object_mut() else {
        return;
    };
    for name in fields {
        let parent = PersonalField::from_name(name).and_then(PersonalField::json_parent);
        if let Some(parent) = parent {
            if let Some(Value::Object(inner)) = object.get_mut(parent) {
                inner.remove(name.as_str());
            }
        } else if name != "type" {
            object.remove(name.as_str());
        }
    }
}

/// The inverse of [`omit_fields_in_json`] for reading a redacted record back: puts an empty
/// string where an erased field was omitted, so the event parses (its hash is not recomputed
/// for a redacted record, and the field stays erased). Only personal fields of the event's
/// type are filled.
pub fn fill_omitted_in_json(event: &mut Value, fields: &[String]) {
    let Some(object) = event.as_object_mut() else {
        return;
    };
    let Some(event_type) = object
        .get("type")
        .and_then(Value::as_str)
        .and_then(EventType::from_name)
    else {
        return;
    };
    for name in fields {
        let Some(field) = personal_field(event_type, name) else {
            continue;
        };
        if let Some(parent) = field.json_parent() {
            if let Some(Value::Object(inner)) = object.get_mut(parent) {
                if inner.is_empty() {
                    inner.insert(name.clone(), Value::String(String::new()));
                }
            } else if !object.contains_key(parent) {
                let mut inner = Map::new();
                inner.insert(name.clone(), Value::String(String::new()));
                object.insert(parent.to_owned(), Value::Object(inner));
            }
        } else if !object.contains_key(name.as_str()) {
            object.insert(name.clone(), Value::String(String::new()));
        }
    }
}
