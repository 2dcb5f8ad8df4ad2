//! The saved open state (`store/src/open_state.rs`): a clean shutdown saves the derived
//! state, the next open reads it and replays only the records after it, and a store opened
//! that way behaves exactly like one that replayed the whole log. A damaged, foreign or
//! too-new file is ignored; a stale one is caught up.

use std::path::Path;

use govrec_core::violation::ViolationCode;
use govrec_store::{
    forget_open_state, NewEvent, OpenReport, Store, StoreConfig, StoreError, OPEN_STATE_FILE,
};

use crate::support::*;

fn config(tail_check_records: u64) -> StoreConfig {
    StoreConfig {
        tail_check_records,
        ..StoreConfig::default()
    }
}

fn open_reporting(path: &Path, tail_check_records: u64) -> (Store, OpenReport) {
    Store::open_with_report(path, config(tail_check_records)).expect("open store")
}

/// Two counties with their towns (seqs 0..10), complaints and members with personal values.
fn world(store: &Store) {
    store.append("recorder", hierarchy(0)).unwrap();
    store.append("recorder", hierarchy(100)).unwrap();
    let compound = uuid_of(3);
    let events = (0..20)
        .map(|n| {
            NewEvent::new(complaint(
                uuid_of(1000 + n),
                compound,
                &format!("楼道灯坏了 {n}"),
                "居民-1",
            ))
            .with_id(uuid_of(5000 + n))
        })
        .collect();
    store.append("recorder", events).unwrap();
    store
        .append(
            "recorder",
            vec![NewEvent::new(resident_member(uuid_of(2000), "王秀英", compound))],
        )
        .unwrap();
}

/// What a store derives from its log, as far as its API shows it.
fn assert_same_derived_state(left: &Store, right: &Store) {
    assert_eq!(left.head(), right.head());
    for n in 0..20 {
        assert_eq!(
            left.seq_of_event(&uuid_of(5000 + n)),
            right.seq_of_event(&uuid_of(5000 + n))
        );
    }
    for id in [1, 2, 3, 101, 1000, 1019, 2000, 3000] {
        assert_eq!(
            left.entity_seqs(&uuid_of(id)),
            right.entity_seqs(&uuid_of(id)),
            "entity {id}"
        );
    }
    // The validation state: an existing id is refused by both, a follow-up accepted by both.
    for store in [left, right] {
        let error = store
            .append("recorder", vec![hierarchy(0).remove(0)])
            .unwrap_err();
        assert!(
            matches!(error, StoreError::Rejected(ref v) if v.code == ViolationCode::DuplicateId),
            "{error:?}"
        );
    }
    let appended: Vec<u64> = [left, right]
        .iter()
        .map(|store| {
            store
                .append(
                    "recorder",
                    vec![NewEvent::new(complaint(
                        uuid_of(3000),
                        uuid_of(3),
                        "电梯异响",
                        "居民-2",
                    ))],
                )
                .unwrap()
                .receipts[0]
                .seq
        })
        .collect();
    assert_eq!(appended[0], appended[1]);
}

#[test]
fn a_clean_shutdown_saves_the_state_and_the_next_open_replays_only_what_follows() {
    let dir = tempfile::tempdir().unwrap();
    let records = {
        let store = open(dir.path());
        world(&store);
        store.head().next_seq
    };
    assert!(dir.path().join(OPEN_STATE_FILE).exists());
    let (store, report) = open_reporting(dir.path(), 1000);
    assert_eq!(report.saved_records, records);
    assert_eq!(report.saved_state_ignored, None);
    assert_eq!(report.records, records);
    assert_eq!(report.tail_checked, records, "the tail is checked all the same");

    // Catch up from a stale file: more records after it, then the old file put back.
    let stale = std::fs::read(dir.path().join(OPEN_STATE_FILE)).unwrap();
    store.append("recorder", hierarchy(200)).unwrap();
    let retried = store
        .append(
            "recorder",
            vec![
                NewEvent::new(complaint(uuid_of(1000), uuid_of(3), "楼道灯坏了 0", "居民-1"))
                    .with_id(uuid_of(5000)),
            ],
        )
        .unwrap();
    assert!(
        retried.idempotent_retry,
        "an event id from before the saved state is known"
    );
    drop(store);
    std::fs::write(dir.path().join(OPEN_STATE_FILE), stale).unwrap();

    let full = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), full.path());
    forget_open_state(full.path()).unwrap();

    let (caught_up, report) = open_reporting(dir.path(), 2);
    assert_eq!(report.saved_records, records);
    assert_eq!(report.tail_checked, 2);
    let (replayed, report) = open_reporting(full.path(), 2);
    assert_eq!(report.saved_records, 0);
    assert_eq!(report.saved_state_ignored, None);
    assert_same_derived_state(&caught_up, &replayed);
    assert_eq!(caught_up.entity_seqs(&uuid_of(201)), vec![records + 1]);
}

#[test]
fn a_damaged_foreign_or_too_new_open_state_is_ignored_and_the_whole_log_replayed() {
    let dir = tempfile::tempdir().unwrap();
    drop({
        let store = open(dir.path());
        world(&store);
        store
    });
    let older = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), older.path());
    let saved = dir.path().join(OPEN_STATE_FILE);

    // Damaged: one flipped byte fails the checksum.
    let good = std::fs::read(&saved).unwrap();
    let mut damaged = good.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x40;
    std::fs::write(&saved, &damaged).unwrap();
    let (store, report) = open_reporting(dir.path(), 1000);
    assert_eq!(report.saved_records, 0);
    assert!(report.saved_state_ignored.unwrap().contains("checksum"));
    // Closing saved a good one again.
    store.append("recorder", hierarchy(200)).unwrap();
    drop(store);
    let (_, report) = open_reporting(dir.path(), 1000);
    assert!(report.saved_records > 0);

    // Too new: the state of a longer log, put beside the older copy of it. That is what a
    // database that lost records looks like, so the store refuses to open until the saved
    // state is deleted (the message says so), and then replays the whole log.
    std::fs::copy(&saved, older.path().join(OPEN_STATE_FILE)).unwrap();
    match Store::open_with_report(older.path(), config(1000)) {
        Err(govrec_store::StoreError::Damaged { reason }) => {
            assert!(
                reason.contains("were durable when the store last closed"),
                "{reason}"
            );
            assert!(reason.contains(OPEN_STATE_FILE), "{reason}");
        }
        other => panic!(
            "a log shorter than its saved state opened: {:?}",
            other.map(|(_, report)| report)
        ),
    }
    forget_open_state(older.path()).unwrap();
    let (store, report) = open_reporting(older.path(), 1000);
    assert_eq!(report.saved_records, 0);
    drop(store);

    // Foreign: the state of another log of the same length, with other hashes.
    let other = tempfile::tempdir().unwrap();
    drop({
        let store = open(other.path());
        world(&store);
        store
    });
    std::fs::copy(
        other.path().join(OPEN_STATE_FILE),
        older.path().join(OPEN_STATE_FILE),
    )
    .unwrap();
    // With no tail check at all, the saved head's own record is still read and compared.
    let (store, report) = open_reporting(older.path(), 0);
    assert_eq!(report.saved_records, 0);
    assert!(
        report
            .saved_state_ignored
            .as_deref()
            .is_some_and(|reason| reason.contains("does not match")),
        "{report:?}"
    );
    let full = tempfile::tempdir().unwrap();
    copy_dir(older.path(), full.path());
    drop(store);
    forget_open_state(full.path()).unwrap();
    let (store, _) = open_reporting(older.path(), 1000);
    let (replayed, _) = open_reporting(full.path(), 1000);
    assert_same_derived_state(&store, &replayed);
}

/// A redaction after the saved state rewrote a block before it. If a crash came between the
/// redaction's commit and the erasure of the values, the open must still erase them, though
/// it does not read that block for itself (`tail_check_records` 1).
#[test]
fn an_erasure_interrupted_after_the_saved_state_is_redone_on_open() {
    const SECRET: &str = "王秀英-OPEN-STATE-SECRET-91c2";
    let dir = tempfile::tempdir().unwrap();
    let member_seq = {
        let store = open(dir.path());
        world(&store);
        store
            .append(
                "recorder",
                vec![NewEvent::new(resident_member(uuid_of(2001), SECRET, uuid_of(3)))],
            )
            .unwrap()
            .receipts[0]
            .seq
    };
    let stale = std::fs::read(dir.path().join(OPEN_STATE_FILE)).unwrap();
    let personal_path = dir.path().join("personal.dat");
    let personal_before = std::fs::read(&personal_path).unwrap();
    {
        let store = open(dir.path());
        store
            .append("admin", vec![NewEvent::new(redaction(member_seq, &["name"]))])
            .unwrap();
    }
    assert!(files_containing(dir.path(), SECRET).is_empty());
    // The crash: the redaction is in the log, the erasure never happened, and the saved
    // state is the one from before the redaction.
    std::fs::write(&personal_path, &personal_before).unwrap();
    std::fs::write(dir.path().join(OPEN_STATE_FILE), stale).unwrap();
    assert!(!files_containing(dir.path(), SECRET).is_empty());

    let (store, report) = open_reporting(dir.path(), 1);
    assert_eq!(report.saved_records, member_seq + 1);
    assert!(
        files_containing(dir.path(), SECRET).is_empty(),
        "the open erased the value again"
    );
    // And the state knows the field is redacted: a second redaction of it is refused.
    let error = store
        .append("admin", vec![NewEvent::new(redaction(member_seq, &["name"]))])
        .unwrap_err();
    assert!(matches!(error, StoreError::Rejected(_)), "{error:?}");
}
