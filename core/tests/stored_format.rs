//! The stored (postcard) form keeps decoding what earlier versions wrote.
//!
//! `fixtures/stored-v1.jsonl` holds one or more events of every type in JSON form, and
//! `fixtures/stored-v1.bin` the bytes format version 1 stored for them (each prefixed by its
//! length as a u32 big-endian). The bytes are checked in: if a change to the event types
//! alters the stored layout, these tests fail, and the change needs a new format version
//! with an upcast (see `govrec_core::stored`).

use govrec_core::stored::{
    decode_event, decode_exact, encode_event, StoredEventError, STORED_FORMAT_VERSION,
};
use govrec_core::{json::event_from_json_str, EventType};

fn parse(line: &str) -> govrec_core::Event {
    event_from_json_str(line).expect("fixture line is a valid event")
}

const FIXTURE_JSON: &str = include_str!("fixtures/stored-v1.jsonl");
const FIXTURE_BYTES: &[u8] = include_bytes!("fixtures/stored-v1.bin");

fn stored_entries() -> Vec<&'static [u8]> {
    let mut entries = Vec::new();
    let mut rest = FIXTURE_BYTES;
    while !rest.is_empty() {
        let (len, tail) = rest.split_at(4);
        let len = u32::from_be_bytes(len.try_into().unwrap()) as usize;
        let (entry, tail) = tail.split_at(len);
        entries.push(entry);
        rest = tail;
    }
    entries
}

#[test]
fn every_event_type_is_in_the_fixture() {
    let types: std::collections::BTreeSet<EventType> = FIXTURE_JSON
        .lines()
        .map(|line| parse(line).event_type())
        .collect();
    assert_eq!(types.len(), EventType::ALL.len());
}

#[test]
fn version_1_bytes_decode_to_the_same_events() {
    let entries = stored_entries();
    let lines: Vec<&str> = FIXTURE_JSON.lines().collect();
    assert_eq!(entries.len(), lines.len());
    for (bytes, line) in entries.iter().zip(lines) {
        assert_eq!(bytes[0], 1, "fixture entries are format version 1");
        assert_eq!(decode_event(bytes).unwrap(), parse(line), "{line}");
    }
}

#[test]
fn the_current_encoding_is_still_version_1_byte_for_byte() {
    // When this fails on purpose (a new format version), keep the old fixture, add one for
    // the new version, and make version_1_bytes_decode_to_the_same_events upcast.
    assert_eq!(STORED_FORMAT_VERSION, 1);
    for (bytes, line) in stored_entries().iter().zip(FIXTURE_JSON.lines()) {
        assert_eq!(encode_event(&parse(line)).as_slice(), *bytes, "{line}");
    }
}

#[test]
fn unknown_versions_and_damaged_bytes_are_errors_not_panics() {
    let entry = stored_entries()[0].to_vec();
    let mut newer = entry.clone();
    newer[0] = 2;
    assert_eq!(decode_event(&newer), Err(StoredEventError::UnknownVersion(2)));
    assert_eq!(decode_event(&[]), Err(StoredEventError::Empty));
    assert!(matches!(
        decode_event(&entry[..entry.len() - 3]),
        Err(StoredEventError::Corrupt(_))
    ));
    let mut longer = entry.clone();
    longer.push(0);
    assert!(matches!(decode_event(&longer), Err(StoredEventError::Corrupt(_))));
}

/// The upcasting path, exercised on real version-1 bytes: a later version in which
/// `EmergencyDrillHeld` gains an optional field reads the version-1 struct with the frozen
/// type and converts it. This is the recipe `govrec_core::stored` documents.
#[test]
fn an_event_that_gains_a_field_still_reads_old_bytes_through_an_upcast() {
    #[derive(serde::Deserialize)]
    struct DrillV1 {
        plan_id: uuid::Uuid,
        participants: u32,
    }
    #[derive(Debug, PartialEq)]
    struct DrillV2 {
        plan_id: uuid::Uuid,
        participants: u32,
        duration_minutes: Option<u32>,
    }
    impl From<DrillV1> for DrillV2 {
        fn from(old: DrillV1) -> DrillV2 {
            DrillV2 {
                plan_id: old.plan_id,
                participants: old.participants,
                duration_minutes: None,
            }
        }
    }
    let line = FIXTURE_JSON
        .lines()
        .find(|l| l.contains("EmergencyDrillHeld"))
        .unwrap();
    let index = FIXTURE_JSON.lines().position(|l| l == line).unwrap();
    let bytes = stored_entries()[index];
    // Version byte, then the enum variant index (a varint), then the struct.
    let variant = EventType::ALL
        .iter()
        .position(|t| *t == EventType::EmergencyDrillHeld)
        .unwrap();
    assert_eq!(bytes[1] as usize, variant);
    let old: DrillV1 = decode_exact(&bytes[2..]).unwrap();
    let upcast = DrillV2::from(old);
    assert_eq!(upcast.participants, 64);
    assert_eq!(upcast.duration_minutes, None);
}
