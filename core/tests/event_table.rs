//! The per-event table (`govrec_core::event::EventFacts`): every event type declares its
//! entity ids, county anchors and personal fields once, and what it declares agrees with the
//! event's JSON form.

use govrec_core::event::{CountyAnchor, PersonalField};
use govrec_core::json::event_from_json_str;
use govrec_core::personal::{omit_fields_in_json, put_personal, take_personal};
use govrec_core::{event_to_json, Event, EventType};
use serde_json::Value;

const FIXTURE_JSON: &str = include_str!("fixtures/stored-v1.jsonl");

fn fixture_events() -> Vec<Event> {
    FIXTURE_JSON
        .lines()
        .map(|line| event_from_json_str(line).expect("fixture line is a valid event"))
        .collect()
}

/// The stored variant index of an event is its place in this list. Appending a type is fine;
/// reordering or removing one makes every stored record of the types after it decode as
/// another type.
#[test]
fn the_catalogue_order_is_the_stored_variant_index() {
    let names: Vec<&str> = EventType::ALL
        .iter()
        .map(|event_type| event_type.name())
        .collect();
    let stored_order = [
        "AreaRegistered",
        "AreaRetired",
        "PartyOrgFounded",
        "PartyOrgCoverageChanged",
        "PartyOrgDissolved",
        "OfficerAppointed",
        "OfficerRelieved",
        "VenueEstablished",
        "ServiceMechanismEstablished",
        "EmergencyPlanFiled",
        "EmergencyDrillHeld",
        "WorkUnitRegistered",
        "MemberEnrolled",
        "MemberUpdated",
        "MemberRemoved",
        "UnitReported",
        "MemberReported",
        "ReportWithdrawn",
        "ServiceRendered",
        "PairingEstablished",
        "PairingEnded",
        "EvaluationRecorded",
        "EvaluationAmended",
        "EvaluationRetracted",
        "ComplaintFiled",
        "ComplaintDispatched",
        "ComplaintAccepted",
        "ComplaintResolved",
        "ComplaintRated",
        "ComplaintReopened",
        "Redacted",
    ];
    assert_eq!(names, stored_order);
    for (index, event) in fixture_events().iter().enumerate() {
        let bytes = postcard::to_stdvec(event).expect("encodes");
        let variant = EventType::ALL
            .iter()
            .position(|&t| t == event.event_type())
            .expect("listed");
        assert_eq!(usize::from(bytes[0]), variant, "fixture line {index}");
    }
}

/// Every personal field a type declares is a string of its JSON form (at the top level, or in
/// the object `json_parent` names), and no other string field of the JSON form is missed by a
/// take-out: after `take_personal` the JSON form differs only in the declared fields.
#[test]
fn declared_personal_fields_are_the_strings_take_personal_empties() {
    for event in fixture_events() {
        let event_type = event.event_type();
        let json = event_to_json(&event);
        for &field in event_type.personal_fields() {
            let holder = match field.json_parent() {
                Some(parent) => json.get(parent),
                None => Some(&json),
            };
            let value = holder.and_then(|holder| holder.get(field.name()));
            match (value, event.personal_value(field)) {
                (Some(Value::String(text)), Some(slot)) => assert_eq!(text, slot, "{event_type:?}.{field}"),
                (None, None) => {}
                other => panic!("{event_type:?}.{field}: JSON and table disagree: {other:?}"),
            }
        }
        let mut taken = event.clone();
        let values = take_personal(&mut taken);
        assert_eq!(values.len(), event_type.personal_fields().len(), "{event_type:?}");
        let mut without = event_to_json(&event);
        let names: Vec<String> = event_type
            .personal_fields()
            .iter()
            .filter(|field| event.personal_value(**field).is_some())
            .map(|field| field.name().to_owned())
            .collect();
        omit_fields_in_json(&mut without, &names);
        let mut taken_json = event_to_json(&taken);
        omit_fields_in_json(&mut taken_json, &names);
        assert_eq!(
            taken_json, without,
            "{event_type:?}: only the declared fields were emptied"
        );
        put_personal(&mut taken, values);
        assert_eq!(taken, event, "{event_type:?}: put_personal restores the event");
    }
}

/// A field name is personal for a type exactly when the type declares it; every declared field
/// is one of the catalogue's personal fields and is named once.
#[test]
fn personal_field_names_are_known_and_distinct() {
    for &event_type in EventType::ALL {
        let fields = event_type.personal_fields();
        for (index, field) in fields.iter().enumerate() {
            assert_eq!(PersonalField::from_name(field.name()), Some(*field));
            assert!(
                !fields[..index].contains(field),
                "{event_type:?} names {field} twice"
            );
        }
    }
}

/// Every event but a redaction is placed in a county by at least one anchor, and every event
/// but a redaction touches at least one entity; every anchor is an id the event carries.
#[test]
fn every_event_has_entities_and_anchors_from_its_own_fields() {
    for event in fixture_events() {
        let event_type = event.event_type();
        let json = event_to_json(&event).to_string();
        if event_type == EventType::Redacted {
            assert!(event.entity_ids().is_empty());
            assert!(event.county_anchors().is_empty());
            continue;
        }
        assert!(!event.entity_ids().is_empty(), "{event_type:?} has no entity");
        assert!(!event.county_anchors().is_empty(), "{event_type:?} has no anchor");
        for anchor in event.county_anchors() {
            let (CountyAnchor::IsCounty(id) | CountyAnchor::Entity(id)) = anchor;
            assert!(
                json.contains(&id.to_string()),
                "{event_type:?}: anchor {id} is not in {json}"
            );
        }
        for id in event.entity_ids() {
            assert!(
                json.contains(&id.to_string()),
                "{event_type:?}: entity {id} is not in {json}"
            );
        }
    }
}
