//! Personal fields of events: where their values live in an event, taking them out (so a store
//! can keep them apart from the log and erase them), putting them back, and the JSON form of a
//! redacted event (`record-format.md`, "Redacted records": the erased fields are omitted).
//!
//! Which fields are personal is [`EventType::personal_fields`]; every one is a string (or an
//! optional string), so an event with its personal values taken out is the same event with
//! those strings empty, and keeps encoding in the stored form of its version.

use serde_json::{Map, Value};

use crate::event::{Event, EventType, PairingTarget};

/// The string holding personal field `field` of `event`, if the event has that field and it is
/// present (an absent optional comment, or a pairing that points at no household, has none).
pub fn personal_slot_mut<'a>(event: &'a mut Event, field: &str) -> Option<&'a mut String> {
    match (event, field) {
        (Event::ComplaintFiled(e), "summary") => Some(&mut e.summary),
        (Event::ComplaintFiled(e), "resident_ref") => Some(&mut e.resident_ref),
        (Event::ComplaintResolved(e), "resolution") => Some(&mut e.resolution),
        (Event::ComplaintReopened(e), "reason") => Some(&mut e.reason),
        (Event::MemberEnrolled(e), "name") => Some(&mut e.name),
        (Event::MemberRemoved(e), "reason") => Some(&mut e.reason),
        (Event::PairingEstablished(e), "household_ref") => match &mut e.to {
            PairingTarget::Household { household_ref } => Some(household_ref),
            _ => None,
        },
        (Event::EvaluationRecorded(e), "comment") => e.comment.as_mut(),
        _ => None,
    }
}

/// True when the event carries any non-empty personal value (the common case of none costs
/// a match on the type and nothing else).
pub fn has_personal_values(event: &Event) -> bool {
    let fields = event.event_type().personal_fields();
    if fields.is_empty() {
        return false;
    }
    // The slots are only reachable mutably; this clone-free check reads through a match.
    match event {
        Event::ComplaintFiled(e) => !e.summary.is_empty() || !e.resident_ref.is_empty(),
        Event::ComplaintResolved(e) => !e.resolution.is_empty(),
        Event::ComplaintReopened(e) => !e.reason.is_empty(),
        Event::MemberEnrolled(e) => !e.name.is_empty(),
        Event::MemberRemoved(e) => !e.reason.is_empty(),
        Event::PairingEstablished(e) => {
            matches!(&e.to, PairingTarget::Household { household_ref } if !household_ref.is_empty())
        }
        Event::EvaluationRecorded(e) => e.comment.as_ref().is_some_and(|c| !c.is_empty()),
        _ => false,
    }
}

/// Takes the personal values out of `event` (leaving empty strings) and returns them in the
/// order of [`EventType::personal_fields`]; a field the event does not carry gives `None`.
pub fn take_personal(event: &mut Event) -> Vec<Option<String>> {
    let fields = event.event_type().personal_fields();
    fields
        .iter()
        .map(|field| personal_slot_mut(event, field).map(std::mem::take))
        .collect()
}

/// Puts values taken by [`take_personal`] back (`None` entries are skipped).
pub fn put_personal(event: &mut Event, values: Vec<Option<String>>) {
    let fields = event.event_type().personal_fields();
    for (field, value) in fields.iter().zip(values) {
        if let (Some(value), Some(slot)) = (value, personal_slot_mut(event, field)) {
            *slot = value;
        }
    }
}

/// Empties the named personal fields of `event` (unknown names are ignored).
pub fn erase_fields(event: &mut Event, fields: &[String]) {
    for field in fields {
        if let Some(slot) = personal_slot_mut(event, field) {
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
    for field in fields {
        if field == "household_ref" {
            if let Some(Value::Object(to)) = object.get_mut("to") {
                to.remove("household_ref");
            }
        } else if field != "type" {
            object.remove(field.as_str());
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
    let personal = event_type.personal_fields();
    for field in fields {
        if !personal.contains(&field.as_str()) {
            continue;
        }
        if field == "household_ref" {
            if let Some(Value::Object(to)) = object.get_mut("to") {
                if to.is_empty() {
                    to.insert(field.clone(), Value::String(String::new()));
                }
            } else if !object.contains_key("to") {
                let mut to = Map::new();
                to.insert(field.clone(), Value::String(String::new()));
                object.insert("to".to_owned(), Value::Object(to));
            }
        } else if !object.contains_key(field.as_str()) {
            object.insert(field.clone(), Value::String(String::new()));
        }
    }
}
