//! An independent check of `record-format.md`: hashes recomputed from an export with only
//! `blake3` and an RFC 8785 implementation (serde_json_canonicalizer), not the store's code.

use std::io::Cursor;

use govrec_store::{export_jsonl, import_jsonl};
use serde_json::{json, Value};

use crate::support::*;

fn jcs(value: &Value) -> Vec<u8> {
    serde_json_canonicalizer::to_vec(value).expect("canonical JSON")
}

fn hex_hash(context: &str, bytes: &[u8]) -> String {
    hex::encode(blake3::derive_key(context, bytes))
}

/// Checks an export line by line exactly as the contract tells an auditor to, including the
/// rule for redacted records: links and `hash` as usual, `event_hash` not recomputed, and
/// record K of the marker is the `Redacted` event naming this seq and these fields.
pub(crate) fn verify_export_independently(text: &str) -> usize {
    let records: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let mut prev_hash = "0".repeat(64);
    let mut count = 0;
    for (expected_seq, record) in records.iter().enumerate() {
        assert_eq!(record["seq"], json!(expected_seq));
        if let Some(redaction) = record.get("redaction") {
            let by_seq = redaction["by_seq"].as_u64().expect("by_seq is a number") as usize;
            let ordering = &records.get(by_seq).expect("record K exists")["event"];
            assert_eq!(
                ordering["type"],
                json!("Redacted"),
                "record {by_seq} is a Redacted event"
            );
            assert_eq!(
                ordering["target_seq"],
                json!(expected_seq),
                "record {by_seq} names seq {expected_seq}"
            );
            assert_eq!(
                ordering["fields"], redaction["fields"],
                "record {by_seq} names these fields"
            );
            for field in redaction["fields"].as_array().unwrap() {
                let field = field.as_str().unwrap();
                assert!(record["event"].get(field).is_none(), "erased {field} is omitted");
            }
        } else {
            let event_hash = hex_hash("govrec event v1", &jcs(&record["event"]));
            assert_eq!(
                record["event_hash"],
                json!(event_hash),
                "event_hash of seq {expected_seq}"
            );
        }
        assert_eq!(
            record["prev_hash"],
            json!(prev_hash),
            "prev_hash of seq {expected_seq}"
        );
        let header = json!({
            "actor": record["actor"], "event_hash": record["event_hash"], "id": record["id"],
            "occurred_on": record["occurred_on"], "prev_hash": record["prev_hash"],
            "recorded_at": record["recorded_at"], "seq": record["seq"],
        });
        let hash = hex_hash("govrec record v1", &jcs(&header));
        assert_eq!(record["hash"], json!(hash), "hash of seq {expected_seq}");
        let recorded_at = record["recorded_at"].as_str().unwrap();
        assert_eq!(
            recorded_at.len(),
            27,
            "six fractional digits and Z: {recorded_at}"
        );
        prev_hash = hash;
        count += 1;
    }
    count
}

#[test]
fn an_export_verifies_with_blake3_and_jcs_alone() {
    let (_dir, store) = temp_store();
    store.append("recorder-灵丘", hierarchy(0)).unwrap();
    store
        .append("recorder \"quoted\" \\ name", hierarchy(10))
        .unwrap();
    let mut out = Vec::new();
    export_jsonl(store.log(), None, &mut out).unwrap();
    assert_eq!(
        verify_export_independently(std::str::from_utf8(&out).unwrap()),
        10
    );
}

/// The two records of the contract's test vectors.
const VECTOR_RECORDS: [&str; 2] = [
    r#"{"seq":0,"id":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a01","recorded_at":"2026-11-27T04:38:06.123456Z","occurred_on":"2026-11-27","actor":"recorder-lingqiu","event":{"type":"AreaRegistered","area_id":"0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e01","kind":"county","name":"灵丘县"},"event_hash":"b3e3ee96ae74d4c30e7805886f949a2c115229d835de23c9d76e611232d361f8","prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","hash":"8b15c6693027d8c43406383339e5649ad49dddcd70fcdf2aa63ce32724746643"}"#,
    r#"{"seq":1,"id":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a02","recorded_at":"2026-11-27T04:38:06.123457Z","occurred_on":"2026-11-27","actor":"recorder-lingqiu","event":{"type":"AreaRegistered","area_id":"5d1f0c3a-8e2b-4a7d-b6c9-0e4f2a1b3c02","kind":"town","name":"武灵镇","parent_id":"0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e01"},"event_hash":"7d614bf56f77e0202276285558f85f0b746c2235170b7d33f33edb52c7da694d","prev_hash":"8b15c6693027d8c43406383339e5649ad49dddcd70fcdf2aa63ce32724746643","hash":"b05d9f912103397296bc2016858d51aaa9176d1a3ca8d1a2b207053f9ccea40b"}"#,
];

#[test]
fn the_contract_test_vectors_verify_independently() {
    assert_eq!(verify_export_independently(&VECTOR_RECORDS.join("\n")), 2);
}

#[test]
fn the_store_accepts_the_test_vectors_and_exports_them_unchanged() {
    let (_dir, store) = temp_store();
    let text = VECTOR_RECORDS.join("\n") + "\n";
    import_jsonl(&store, Cursor::new(&text), "x").unwrap();
    let mut out = Vec::new();
    export_jsonl(store.log(), None, &mut out).unwrap();
    let exported: Vec<Value> = std::str::from_utf8(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let original: Vec<Value> = VECTOR_RECORDS
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(exported, original);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Our canonical JSON is RFC 8785's for any text a recorder may type.
    #[test]
    fn canonical_json_equals_rfc8785_for_any_text(name in "\\PC*", note in proptest::option::of(any_text())) {
        use govrec_core::event::{Mechanism, ServiceMechanismEstablished};
        let area_event = area(uuid_of(1), govrec_core::event::AreaKind::County, &name, None);
        let mechanism = govrec_core::Event::ServiceMechanismEstablished(ServiceMechanismEstablished {
            area_id: uuid_of(2),
            mechanism: Mechanism::Hotline,
            note,
        });
        for event in [area_event, mechanism] {
            let ours = govrec_core::event_canonical_json(&event);
            let reference = serde_json_canonicalizer::to_string(&govrec_core::event_to_json(&event)).unwrap();
            proptest::prop_assert_eq!(ours, reference);
        }
    }
}

/// Any string, control characters, quotes, backslashes and astral-plane characters included.
fn any_text() -> impl proptest::strategy::Strategy<Value = String> {
    proptest::collection::vec(proptest::char::any(), 0..24).prop_map(|chars| chars.into_iter().collect())
}

use proptest::strategy::Strategy as _;

proptest::proptest! {
    /// `recorded_at` is written digit by digit; it must be jiff's RFC 3339 text for every
    /// time jiff can hold (years -9999..=9999), and parse back to the same time.
    #[test]
    fn recorded_at_text_is_jiffs_and_parses_back(micros in -377_705_023_201_000_000i64..=253_402_207_200_000_000) {
        let at = govrec_store::RecordedAt::from_micros(micros);
        proptest::prop_assert_eq!(at.to_rfc3339(), at.to_rfc3339_by_jiff());
        if micros >= 0 {
            proptest::prop_assert_eq!(govrec_store::RecordedAt::parse_rfc3339(&at.to_rfc3339()), Some(at));
        }
    }

    /// `occurred_on` text is `YYYY-MM-DD` and parses back.
    #[test]
    fn occurred_on_text_parses_back(year in 1900u32..=2200, month in 1u32..=12, day in 1u32..=28) {
        let date = govrec_store::BusinessDate::from_yyyymmdd(year * 10_000 + month * 100 + day).expect("a calendar date");
        proptest::prop_assert_eq!(date.to_iso(), format!("{year:04}-{month:02}-{day:02}"));
        proptest::prop_assert_eq!(govrec_store::BusinessDate::parse(&date.to_iso()), Some(date));
    }
}

#[test]
fn recorded_at_text_at_the_edges() {
    for (micros, text) in [
        (0, "1970-01-01T00:00:00.000000Z"),
        (-1, "1969-12-31T23:59:59.999999Z"),
        (951_782_400_000_000, "2000-02-29T00:00:00.000000Z"),
        (1_798_761_599_999_999, "2026-12-31T23:59:59.999999Z"),
        (253_402_207_200_000_000, "9999-12-30T22:00:00.000000Z"),
        (-62_167_219_200_000_000, "0000-01-01T00:00:00.000000Z"),
    ] {
        let at = govrec_store::RecordedAt::from_micros(micros);
        assert_eq!(at.to_rfc3339(), text);
        assert_eq!(at.to_rfc3339_by_jiff(), text);
    }
}

/// A record of `event` with made-up header values.
fn record_of(seq: u64, event: govrec_core::Event, actor: &str) -> govrec_store::Record {
    let mut record = govrec_store::Record {
        seq,
        id: uuid_of(seq + 100),
        recorded_at: govrec_store::RecordedAt::from_micros(1_772_323_200_123_456 + seq as i64),
        occurred_on: govrec_store::BusinessDate::from_yyyymmdd(20_260_301).expect("a calendar date"),
        actor: actor.to_owned(),
        event_hash: govrec_store::event_hash(&event),
        event,
        prev_hash: govrec_store::Hash32::from_bytes([seq as u8; 32]),
        hash: govrec_store::Hash32::ZERO,
        redaction: None,
    };
    record.hash = record.computed_hash();
    record
}

/// A record's JSON line is written directly; it must be the text of its `RecordJson` value,
/// for every event type of the stored-format fixture.
#[test]
fn a_json_line_is_the_record_json_value_written_for_every_event_type() {
    let fixture = include_str!("../../../core/tests/fixtures/stored-v1.jsonl");
    let mut types = std::collections::BTreeSet::new();
    for (seq, line) in fixture.lines().enumerate() {
        let event = govrec_core::json::event_from_json_str(line).expect("fixture event");
        types.insert(event.event_type());
        let record = record_of(seq as u64, event, "县民政局-张三");
        assert_eq!(record.to_json_line(), record.to_json_line_via_value(), "{line}");
    }
    assert_eq!(types.len(), govrec_core::EventType::ALL.len());
}

proptest::proptest! {
    /// Any actor name and any text in the event.
    #[test]
    fn a_json_line_is_the_record_json_value_written_for_any_text(actor in any_text(), name in any_text()) {
        let record = record_of(7, area(uuid_of(1), govrec_core::event::AreaKind::County, &name, None), &actor);
        proptest::prop_assert_eq!(record.to_json_line(), record.to_json_line_via_value());
    }
}
