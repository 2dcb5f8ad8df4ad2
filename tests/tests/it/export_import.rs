//! Export as JSON Lines, restore of exported records, import of bare events.

use std::io::Cursor;

use govrec_core::event::AreaRetired;
use govrec_store::{export_jsonl, import_jsonl, BadRequestCode, ImportKind, NewEvent, StoreError};

use crate::support::*;

fn export(store: &govrec_store::Store) -> Vec<u8> {
    let mut out = Vec::new();
    export_jsonl(store.log(), Some(store.head().next_seq), &mut out).unwrap();
    out
}

fn populated() -> (tempfile::TempDir, govrec_store::Store) {
    let (dir, store) = temp_store();
    store.append("recorder-lingqiu", hierarchy(0)).unwrap();
    store.append("recorder-hunyuan", hierarchy(10)).unwrap();
    let retire = NewEvent::new(AreaRetired {
        area_id: uuid_of(14),
        reason: "危楼拆除".to_owned(),
    });
    store.append("recorder-hunyuan", vec![retire]).unwrap();
    (dir, store)
}

#[test]
fn export_import_export_is_byte_identical() {
    let (_dir, store) = populated();
    let first = export(&store);
    assert_eq!(first.iter().filter(|b| **b == b'\n').count(), 11);
    let (_dir2, restored) = temp_store();
    let report = import_jsonl(&restored, Cursor::new(&first), "ignored").unwrap();
    assert_eq!(report.kind, Some(ImportKind::Records));
    assert_eq!(report.lines, 11);
    assert_eq!(restored.head(), store.head());
    assert_eq!(export(&restored), first);
    // The restored store keeps working: it validates against the restored state.
    restored.append("recorder", hierarchy(20)).unwrap();
    let error = restored
        .append("recorder", vec![hierarchy(0).remove(0)])
        .unwrap_err();
    assert!(matches!(error, StoreError::Rejected(_)), "{error:?}");
}

#[test]
fn an_edited_export_is_rejected_at_the_edited_line_and_nothing_is_stored() {
    let (_dir, store) = populated();
    let text = String::from_utf8(export(&store)).unwrap();
    let edited = text.replacen("城东社区", "城西社区", 1);
    assert_ne!(edited, text);
    let (_dir2, target) = temp_store();
    let error = import_jsonl(&target, Cursor::new(edited.as_bytes()), "x").unwrap_err();
    assert_eq!(error.line, 3, "{error}");
    assert!(
        matches!(error.error, StoreError::InvalidRecord { seq: 2, .. }),
        "{error}"
    );
    assert_eq!(target.head().next_seq, 0);
}

#[test]
fn a_record_out_of_chain_order_is_rejected() {
    let (_dir, store) = populated();
    let text = String::from_utf8(export(&store)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let swapped = [lines[0], lines[2], lines[1]].join("\n");
    let (_dir2, target) = temp_store();
    let error = import_jsonl(&target, Cursor::new(swapped.as_bytes()), "x").unwrap_err();
    assert_eq!(error.line, 2);
}

#[test]
fn bare_events_are_appended_through_validation() {
    let (_dir, store) = temp_store();
    let lines = [
        r#"{"type":"AreaRegistered","area_id":"0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e01","kind":"county","name":"灵丘县","id":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a01","occurred_on":"2026-11-27"}"#,
        r#"{"type":"AreaRegistered","area_id":"5d1f0c3a-8e2b-4a7d-b6c9-0e4f2a1b3c02","kind":"town","name":"武灵镇","parent_id":"0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e01"}"#,
    ];
    let report = import_jsonl(&store, Cursor::new(lines.join("\n")), "importer").unwrap();
    assert_eq!(report.kind, Some(ImportKind::Events));
    assert_eq!(report.head.next_seq, 2);
    let first = store.get(0).unwrap().unwrap();
    assert_eq!(first.actor, "importer");
    assert_eq!(first.occurred_on.to_iso(), "2026-11-27");
    assert_eq!(first.id.to_string(), "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a01");

    let bad = [
        r#"{"type":"AreaRegistered","area_id":"0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e09","kind":"county","name":"广灵县"}"#,
        r#"{"type":"AreaRegistered","area_id":"0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e0a","kind":"town","name":"壶泉镇","parent_id":"0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9eff"}"#,
    ];
    let error = import_jsonl(&store, Cursor::new(bad.join("\n")), "importer").unwrap_err();
    assert_eq!(error.line, 2);
    assert_eq!(
        store.head().next_seq,
        2,
        "the chunk with the bad line stores nothing"
    );

    let unknown_type = r#"{"type":"Nope","x":1}"#;
    let error = import_jsonl(&store, Cursor::new(unknown_type), "importer").unwrap_err();
    assert!(
        matches!(
            error.error,
            StoreError::BadRequest {
                code: BadRequestCode::UnknownEventType,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn mixing_records_and_events_in_one_file_is_refused() {
    let (_dir, store) = populated();
    let mut text = String::from_utf8(export(&store)).unwrap();
    text.push_str(r#"{"type":"AreaRegistered","area_id":"0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e09","kind":"county","name":"广灵县"}"#);
    let (_dir2, target) = temp_store();
    let error = import_jsonl(&target, Cursor::new(text), "x").unwrap_err();
    assert_eq!(error.line, 12);
}
