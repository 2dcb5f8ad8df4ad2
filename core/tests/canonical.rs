//! The canonical JSON written straight from the event types is the text of the JSON value
//! path (`event_to_json`, written compactly), which the store's tests check against an
//! independent RFC 8785 implementation.

use govrec_core::event::{PairingEstablished, PairingKind, PairingTarget};
use govrec_core::json::{event_canonical_json_via_value, event_from_json_str};
use govrec_core::{event_canonical_json, Event};
use proptest::prelude::*;
use uuid::Uuid;

const FIXTURE_JSON: &str = include_str!("fixtures/stored-v1.jsonl");

#[test]
fn every_event_of_the_fixture_writes_as_the_value_path_does() {
    let mut checked = 0;
    for line in FIXTURE_JSON.lines() {
        let event = event_from_json_str(line).expect("fixture line is a valid event");
        assert_eq!(
            event_canonical_json(&event),
            event_canonical_json_via_value(&event),
            "{line}"
        );
        checked += 1;
    }
    assert!(checked >= govrec_core::EventType::ALL.len());
}

#[test]
fn a_pairing_target_is_written_untagged() {
    let targets = [
        PairingTarget::Area {
            area_id: Uuid::from_u128(2),
            unit_no: Some(3),
        },
        PairingTarget::Area {
            area_id: Uuid::from_u128(2),
            unit_no: None,
        },
        PairingTarget::Member {
            member_id: Uuid::from_u128(4),
        },
        PairingTarget::Household {
            household_ref: "户\"5\"\n".to_owned(),
        },
    ];
    for to in targets {
        let event = Event::PairingEstablished(PairingEstablished {
            pairing_id: Uuid::from_u128(1),
            kind: PairingKind::MemberHousehold,
            from_id: Uuid::from_u128(9),
            to,
        });
        let text = event_canonical_json(&event);
        assert_eq!(text, event_canonical_json_via_value(&event));
        assert!(
            !text.contains("Area") && !text.contains("Member\"") && !text.contains("null"),
            "{text}"
        );
    }
}

proptest! {
    /// Any text a recorder may type, control characters, quotes and astral-plane characters
    /// included, in a required and an optional field.
    #[test]
    fn any_text_writes_as_the_value_path_does(
        name in proptest::collection::vec(any::<char>(), 0..24),
        note in proptest::option::of(proptest::collection::vec(any::<char>(), 0..24)),
    ) {
        let name: String = name.into_iter().collect();
        let note: Option<String> = note.map(|chars| chars.into_iter().collect());
        let events = [
            Event::AreaRegistered(govrec_core::event::AreaRegistered {
                area_id: Uuid::from_u128(1),
                kind: govrec_core::event::AreaKind::Compound,
                name: name.clone(),
                parent_id: Some(Uuid::from_u128(2)),
                households: Some(120),
                compound_kind: None,
                has_property_management: Some(false),
                units: None,
            }),
            Event::ServiceMechanismEstablished(govrec_core::event::ServiceMechanismEstablished {
                area_id: Uuid::from_u128(3),
                mechanism: govrec_core::event::Mechanism::Hotline,
                note,
            }),
        ];
        for event in events {
            prop_assert_eq!(event_canonical_json(&event), event_canonical_json_via_value(&event));
        }
    }
}
