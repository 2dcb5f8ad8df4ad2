//! Verification finds any change made behind the store's back and names the first bad seq.

use std::path::Path;

use govrec_core::event::AreaKind;
use govrec_store::{verify_log, Log, LogConfig, NewEvent, Store, StoreError, Verification};

use crate::support::*;

/// Ten records, each appended alone by actor `actor-00N`, so each sits at a known seq.
fn ten_records(path: &Path) {
    let store = open(path);
    for n in 0..10u64 {
        let event = area(uuid_of(n), AreaKind::County, &format!("第{n}县"), None);
        store
            .append(&format!("actor-{n:03}"), vec![NewEvent::new(event)])
            .unwrap();
    }
    store.close().unwrap();
}

/// Replaces `from` by `to` (same length) in whichever stored block holds it.
fn tamper(path: &Path, from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let log = Log::open(path, &LogConfig::default()).unwrap();
    let tree = log.blocks_tree();
    let mut done = false;
    for entry in tree.iter() {
        let (key, value) = entry.unwrap();
        if let Some(at) = value.windows(from.len()).position(|w| w == from) {
            let mut changed = value.to_vec();
            changed[at..at + to.len()].copy_from_slice(to);
            tree.insert(key, changed).unwrap();
            done = true;
            break;
        }
    }
    assert!(done, "pattern not found in the stored blocks");
    log.sync().unwrap();
}

fn verify(path: &Path) -> Verification {
    let log = Log::open(path, &LogConfig::default()).unwrap();
    verify_log(&log, 0, None).unwrap()
}

fn assert_damaged_at(verification: Verification, seq: u64) {
    match verification {
        Verification::Damaged { first_bad_seq, .. } => assert_eq!(first_bad_seq, seq),
        intact => panic!("expected damage at seq {seq}, got {intact:?}"),
    }
}

#[test]
fn an_intact_log_verifies_in_full_and_in_ranges() {
    let dir = tempfile::tempdir().unwrap();
    ten_records(dir.path());
    assert!(matches!(
        verify(dir.path()),
        Verification::Intact {
            checked: 10,
            head: Some((9, _))
        }
    ));
    let log = Log::open(dir.path(), &LogConfig::default()).unwrap();
    assert!(matches!(
        verify_log(&log, 3, Some(6)).unwrap(),
        Verification::Intact {
            checked: 4,
            head: Some((6, _))
        }
    ));
}

#[test]
fn a_changed_actor_is_found_at_its_seq() {
    let dir = tempfile::tempdir().unwrap();
    ten_records(dir.path());
    tamper(dir.path(), b"actor-007", b"actor-00x");
    assert_damaged_at(verify(dir.path()), 7);
}

#[test]
fn a_changed_event_is_found_at_its_seq() {
    let dir = tempfile::tempdir().unwrap();
    ten_records(dir.path());
    tamper(dir.path(), "第4县".as_bytes(), "第9县".as_bytes());
    assert_damaged_at(verify(dir.path()), 4);
}

#[test]
fn a_removed_block_is_found_as_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    ten_records(dir.path());
    {
        let log = Log::open(dir.path(), &LogConfig::default()).unwrap();
        log.blocks_tree()
            .remove(5u64.to_be_bytes())
            .unwrap()
            .expect("each append is its own block");
        log.sync().unwrap();
    }
    assert_damaged_at(verify(dir.path()), 5);
}

#[test]
fn undecodable_bytes_are_found_at_their_block() {
    let dir = tempfile::tempdir().unwrap();
    ten_records(dir.path());
    {
        let log = Log::open(dir.path(), &LogConfig::default()).unwrap();
        let tree = log.blocks_tree();
        let value = tree.get(2u64.to_be_bytes()).unwrap().unwrap();
        tree.insert(2u64.to_be_bytes(), &value[..value.len() / 2])
            .unwrap();
        log.sync().unwrap();
    }
    assert_damaged_at(verify(dir.path()), 2);
}

#[test]
fn the_store_refuses_to_open_on_a_damaged_tail() {
    let dir = tempfile::tempdir().unwrap();
    ten_records(dir.path());
    tamper(dir.path(), b"actor-009", b"actor-00y");
    match Store::open(dir.path(), govrec_store::StoreConfig::default()) {
        Err(StoreError::Corrupt { seq, .. }) => assert_eq!(seq, 9),
        Err(other) => panic!("expected Corrupt at seq 9, got {other}"),
        Ok(_) => panic!("a damaged store opened"),
    }
}
