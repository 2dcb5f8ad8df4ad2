//! Appending: receipts, atomic batches, idempotency, limits, history, concurrency.

use std::sync::Arc;

use govrec_core::event::{AreaKind, AreaRetired};
use govrec_core::violation::ViolationCode;
use govrec_store::{BadRequestCode, NewEvent, RecordedAt, StoreError, Verification};

use crate::support::*;

#[test]
fn a_batch_gets_consecutive_seqs_chained_hashes_and_is_readable() {
    let (_dir, store) = temp_store();
    let appended = store.append("recorder-lingqiu", hierarchy(0)).unwrap();
    let seqs: Vec<u64> = appended.receipts.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, vec![0, 1, 2, 3, 4]);
    assert_eq!(appended.head.next_seq, 5);
    assert_eq!(appended.head.hash, appended.receipts[4].hash);
    let first = store.get(0).unwrap().unwrap();
    assert_eq!(first.prev_hash, govrec_store::Hash32::ZERO);
    assert_eq!(first.actor, "recorder-lingqiu");
    let second = store.get(1).unwrap().unwrap();
    assert_eq!(second.prev_hash, first.hash);
    assert!(second.recorded_at >= first.recorded_at);
    assert_eq!(store.get(5).unwrap(), None);
    assert_eq!(store.read_range(2, 10).unwrap().len(), 3);
}

#[test]
fn a_batch_with_one_bad_event_stores_nothing() {
    let (_dir, store) = temp_store();
    let mut batch = hierarchy(0);
    // Event 3 names a parent that does not exist.
    batch[3] = NewEvent::new(area(
        uuid_of(3),
        AreaKind::Compound,
        "天河颐居",
        Some(uuid_of(99)),
    ));
    let error = store.append("recorder", batch).unwrap_err();
    let StoreError::Rejected(violation) = error else {
        panic!("expected a rule violation, got {error:?}")
    };
    assert_eq!(violation.code, ViolationCode::UnknownReference);
    assert_eq!(violation.index, 3);
    assert_eq!(next_seq(&store), 0);
    // The ids of the rejected batch are still free: nothing of it reached the state either.
    store.append("recorder", hierarchy(0)).unwrap();
    assert_eq!(next_seq(&store), 5);
}

#[test]
fn a_retried_batch_returns_the_original_receipts_and_a_changed_one_conflicts() {
    let (_dir, store) = temp_store();
    let with_ids = |batch: Vec<NewEvent>| -> Vec<NewEvent> {
        batch
            .into_iter()
            .enumerate()
            .map(|(i, e)| e.with_id(uuid_of(1000 + i as u64)))
            .collect()
    };
    let original = store.append("recorder", with_ids(hierarchy(0))).unwrap();
    assert!(!original.idempotent_retry);
    let retried = store.append("recorder", with_ids(hierarchy(0))).unwrap();
    assert!(retried.idempotent_retry);
    assert_eq!(retried.receipts, original.receipts);
    assert_eq!(next_seq(&store), 5);

    let mut changed = with_ids(hierarchy(0));
    changed[2] = NewEvent::new(area(
        uuid_of(2),
        AreaKind::Community,
        "改名社区",
        Some(uuid_of(1)),
    ))
    .with_id(uuid_of(1002));
    let error = store.append("recorder", changed).unwrap_err();
    assert!(
        matches!(error, StoreError::IdempotencyConflict { index: 2, seq: 2, .. }),
        "{error:?}"
    );

    let mixed = vec![
        NewEvent::new(area(uuid_of(50), AreaKind::County, "新县", None)).with_id(uuid_of(2000)),
        hierarchy(0).remove(0).with_id(uuid_of(1000)),
    ];
    let error = store.append("recorder", mixed).unwrap_err();
    assert!(
        matches!(error, StoreError::IdempotencyConflict { index: 1, .. }),
        "{error:?}"
    );
    assert_eq!(next_seq(&store), 5);
}

#[test]
fn malformed_batches_are_refused_before_validation() {
    let (_dir, store) = temp_store();
    let error = store.append("recorder", vec![]).unwrap_err();
    assert!(matches!(
        error,
        StoreError::BadRequest {
            code: BadRequestCode::EmptyBatch,
            ..
        }
    ));
    let too_many: Vec<NewEvent> = (0..1001)
        .map(|n| NewEvent::new(area(uuid_of(n), AreaKind::County, "县", None)))
        .collect();
    let error = store.append("recorder", too_many).unwrap_err();
    assert!(matches!(
        error,
        StoreError::BadRequest {
            code: BadRequestCode::TooManyEvents,
            ..
        }
    ));
    let twice = vec![
        NewEvent::new(area(uuid_of(1), AreaKind::County, "甲县", None)).with_id(uuid_of(7)),
        NewEvent::new(area(uuid_of(2), AreaKind::County, "乙县", None)).with_id(uuid_of(7)),
    ];
    let error = store.append("recorder", twice).unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::BadRequest {
                code: BadRequestCode::DuplicateId,
                index: Some(1),
                ..
            }
        ),
        "{error:?}"
    );
    let error = store.append("", hierarchy(0)).unwrap_err();
    assert!(matches!(
        error,
        StoreError::BadRequest {
            code: BadRequestCode::InvalidActor,
            ..
        }
    ));
    assert_eq!(next_seq(&store), 0);
}

#[test]
fn entity_history_lists_every_record_that_touched_the_entity() {
    let (_dir, store) = temp_store();
    store.append("recorder", hierarchy(0)).unwrap();
    let retire = NewEvent::new(AreaRetired {
        area_id: uuid_of(4),
        reason: "拆除".to_owned(),
    });
    store.append("recorder", vec![retire]).unwrap();
    let history: Vec<u64> = store
        .entity_history(&uuid_of(4))
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(history, vec![4, 5]);
    assert!(store.entity_history(&uuid_of(77)).unwrap().is_empty());
}

#[test]
fn concurrent_appenders_get_a_gapless_verified_log() {
    let (_dir, store) = temp_store();
    let store = Arc::new(store);
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                (0..40u64)
                    .flat_map(|n| {
                        let key = (t << 20) | (n << 1);
                        store
                            .append(
                                "recorder",
                                county_and_town(uuid_of(key), uuid_of(key | 1), "并发"),
                            )
                            .unwrap()
                            .receipts
                    })
                    .map(|r| r.seq)
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seqs: Vec<u64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    seqs.sort();
    assert_eq!(seqs, (0..640).collect::<Vec<_>>());
    let verification = govrec_store::verify_log(store.log(), 0, None).unwrap();
    assert!(
        matches!(verification, Verification::Intact { checked: 640, .. }),
        "{verification:?}"
    );
}

#[test]
fn recorded_at_never_goes_back_even_when_the_clock_is_behind_the_log() {
    let (_dir, store) = temp_store();
    // Restore a record stamped in 2100, far ahead of the wall clock.
    let future = RecordedAt::parse_rfc3339("2100-01-01T00:00:00.000000Z").unwrap();
    let first = hierarchy(0).remove(0);
    let event_hash = govrec_store::event_hash(&first.event);
    let record = govrec_store::Record {
        seq: 0,
        id: uuid_of(500),
        recorded_at: future,
        occurred_on: govrec_store::BusinessDate::parse("2100-01-01").unwrap(),
        actor: "clock-test".to_owned(),
        event: first.event,
        event_hash,
        prev_hash: govrec_store::Hash32::ZERO,
        hash: govrec_store::Hash32::ZERO,
        redaction: None,
    };
    let record = govrec_store::Record {
        hash: record.computed_hash(),
        ..record
    };
    store.restore(vec![record]).unwrap();
    store.append("recorder", vec![hierarchy(0).remove(1)]).unwrap();
    let second = store.get(1).unwrap().unwrap();
    assert!(
        second.recorded_at >= future,
        "{:?} is before {:?}",
        second.recorded_at,
        future
    );
}

#[test]
fn reopening_keeps_state_indexes_and_idempotency() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<NewEvent> = hierarchy(0)
        .into_iter()
        .enumerate()
        .map(|(i, e)| e.with_id(uuid_of(900 + i as u64)))
        .collect();
    let original = {
        let store = open(dir.path());
        store.append("recorder", ids.clone()).unwrap()
    };
    let store = open(dir.path());
    assert_eq!(store.head(), original.head);
    let retried = store.append("recorder", ids).unwrap();
    assert!(retried.idempotent_retry);
    assert_eq!(store.seq_of_event(&uuid_of(903)), Some(3));
    assert_eq!(store.entity_seqs(&uuid_of(2)), vec![2]);
    // The validation state was rebuilt: a second county with an existing id is refused.
    let error = store
        .append("recorder", vec![hierarchy(0).remove(0)])
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Rejected(ref v) if v.code == ViolationCode::DuplicateId),
        "{error:?}"
    );
}

/// sled writes pages over a quarter segment as blob files it never fsyncs; the block size
/// limit must keep every page inline, even for the largest batches of the largest events.
#[test]
fn large_batches_of_large_events_never_become_unsynced_blob_files() {
    use govrec_core::event::{Channel, ComplaintCategory, ComplaintFiled};
    let (dir, store) = temp_store();
    store.append("recorder", hierarchy(0)).unwrap();
    let long_summary = "楼".repeat(govrec_core::rules::TEXT_CHARS_MAX);
    for round in 0..4u64 {
        let batch: Vec<NewEvent> = (0..1000u64)
            .map(|n| {
                NewEvent::new(ComplaintFiled {
                    complaint_id: uuid_of(10_000 + round * 1000 + n),
                    area_id: uuid_of(3),
                    category: ComplaintCategory::Repair,
                    summary: long_summary.clone(),
                    channel: Channel::Visit,
                    resident_ref: "居民-1".to_owned(),
                })
            })
            .collect();
        store.append("recorder", batch).unwrap();
    }
    store.close().unwrap();
    let blobs: Vec<_> = std::fs::read_dir(dir.path().join("blobs"))
        .map(|d| d.collect())
        .unwrap_or_default();
    assert!(blobs.is_empty(), "sled wrote blob files: {blobs:?}");
    let reopened = open(dir.path());
    assert_eq!(reopened.head().next_seq, 4005);
}
