//! An I/O error in a commit (injected with `Log::inject_fault`, feature `fault-injection`).
//! The commit fails, and the store then refuses every write until it is reopened. Readers see
//! nothing of the failed commit. A reopened store is whole: the chain verifies, and retrying
//! the failed events with their ids records each of them exactly once.

use std::path::Path;

use govrec_store::{FaultPoint, NewEvent, Store, StoreError};

use crate::support::*;

const SUMMARY: &str = "楼顶漏水-FAULT-SUMMARY-3b9d";
const RESIDENT: &str = "居民-FAULT-RESIDENT-77e1";

/// Three complaints with fixed event ids (so they can be retried), each with personal values.
fn complaints() -> Vec<NewEvent> {
    (0..3)
        .map(|n| {
            NewEvent::new(complaint(uuid_of(500 + n), uuid_of(3), SUMMARY, RESIDENT))
                .with_id(uuid_of(600 + n))
        })
        .collect()
}

fn assert_refused(result: Result<govrec_store::Appended, StoreError>) {
    match result {
        Err(StoreError::Poisoned) => {}
        other => panic!("expected the store to refuse the write, got {other:?}"),
    }
}

/// Arms `point`, appends the complaints (which must fail), and checks what the failed store
/// shows. Returns the head seq from before the failed append.
fn fail_an_append(store: &Store, point: FaultPoint) -> u64 {
    store.append("recorder", hierarchy(0)).unwrap();
    let head = next_seq(store);
    store.log().inject_fault(point);
    assert_refused(store.append("recorder", complaints()));
    assert!(store.is_poisoned());
    assert_eq!(next_seq(store), head, "a failed commit must not move the head");
    assert!(store.get(head).unwrap().is_none() || point == FaultPoint::Sync);
    // Every later write is refused, even one that would have passed.
    assert_refused(store.append("recorder", county_and_town(uuid_of(90), uuid_of(91), "其他")));
    assert_eq!(next_seq(store), head);
    // Reads go on.
    assert_eq!(store.read_range(0, 100).unwrap().len() as u64, head);
    head
}

/// Reopens `dir` and checks the chain, the retry of the complaints, and that each of them
/// is in the log exactly once.
fn reopen_and_retry(dir: &Path, head: u64, failed_commit_may_survive: bool) {
    let store = open(dir);
    assert!(!store.is_poisoned());
    let reopened = next_seq(&store);
    if failed_commit_may_survive {
        assert!(
            reopened == head || reopened == head + 3,
            "head {reopened} after reopen"
        );
    } else {
        assert_eq!(reopened, head, "records of a commit that never reached sled");
    }
    let retried = store.append("recorder", complaints()).unwrap();
    assert_eq!(retried.idempotent_retry, reopened == head + 3);
    assert_eq!(next_seq(&store), head + 3);
    let records = store.read_range(head, 10).unwrap();
    let ids: Vec<_> = records.iter().map(|record| record.id).collect();
    assert_eq!(ids, vec![uuid_of(600), uuid_of(601), uuid_of(602)]);
    assert!(records.iter().all(|record| match &record.event {
        govrec_core::event::Event::ComplaintFiled(filed) => filed.summary == SUMMARY,
        _ => false,
    }));
    assert_chain_intact(&store, head + 3);
    // And the store takes new writes again.
    store
        .append("recorder", county_and_town(uuid_of(90), uuid_of(91), "其他"))
        .unwrap();
}

/// A store that fails an append at `point`, reopened.
fn fail_and_reopen(point: FaultPoint, failed_commit_may_survive: bool) {
    let (dir, store) = temp_store();
    let head = fail_an_append(&store, point);
    drop(store);
    reopen_and_retry(dir.path(), head, failed_commit_may_survive);
}

#[test]
fn a_failed_write_of_personal_values_fails_the_commit_and_stores_nothing() {
    fail_and_reopen(FaultPoint::WritePersonal, false);
}

#[test]
fn a_failed_sync_of_personal_values_keeps_the_blocks_out_of_sled() {
    fail_and_reopen(FaultPoint::SyncPersonal, false);
}

#[test]
fn a_failed_apply_to_sled_fails_the_commit_and_stores_nothing() {
    fail_and_reopen(FaultPoint::Apply, false);
}

#[test]
fn a_failed_sled_sync_is_never_acknowledged_and_a_retry_records_each_event_once() {
    fail_and_reopen(FaultPoint::Sync, true);
}

/// The redaction's marker is durable when the erasure fails: the client is told the write
/// failed, the reopened store has the redaction and erases the values it names, and the
/// client's retry is answered as a replay.
#[test]
fn a_failed_erasure_is_done_when_the_store_reopens() {
    let (dir, store) = temp_store();
    store.append("recorder", hierarchy(0)).unwrap();
    let target = store
        .append(
            "recorder",
            vec![NewEvent::new(complaint(
                uuid_of(500),
                uuid_of(3),
                SUMMARY,
                RESIDENT,
            ))],
        )
        .unwrap()
        .receipts[0]
        .seq;
    let head = next_seq(&store);
    assert!(!files_containing(dir.path(), SUMMARY).is_empty());
    let redact =
        || vec![NewEvent::new(redaction(target, &["summary", "resident_ref"])).with_id(uuid_of(700))];
    store.log().inject_fault(FaultPoint::ErasePersonal);
    assert_refused(store.append("admin", redact()));
    assert!(store.is_poisoned());
    assert_eq!(next_seq(&store), head, "the failed commit is not published");
    drop(store);

    let store = open(dir.path());
    assert_eq!(
        next_seq(&store),
        head + 1,
        "the redaction was durable before the erasure"
    );
    for text in [SUMMARY, RESIDENT] {
        assert_eq!(
            files_containing(dir.path(), text),
            Vec::<std::path::PathBuf>::new(),
            "{text}"
        );
    }
    let retried = store.append("admin", redact()).unwrap();
    assert!(retried.idempotent_retry);
    assert_eq!(retried.receipts[0].seq, head);
    assert_chain_intact(&store, head + 1);
}
