//! The durable-head mark (`store/src/durable_mark.rs`): a log that holds fewer records than
//! its directory knew were durable, or another log than the directory held, is refused as
//! damaged even when no saved open state tells (after a crash, or after a change of the open
//! state's version).

use govrec_store::{
    forget_open_state, read_durable_mark, NewEvent, Store, StoreConfig, StoreError, DURABLE_MARK_FILE,
};

use crate::support::*;

fn appended(store: &Store, first: u64, count: u64) {
    for n in first..first + count {
        store
            .append(
                "recorder",
                vec![NewEvent::new(complaint(
                    uuid_of(1000 + n),
                    uuid_of(3),
                    &format!("楼道灯坏了 {n}"),
                    "居民-1",
                ))],
            )
            .unwrap();
    }
}

fn damaged(dir: &std::path::Path) -> String {
    match Store::open(dir, StoreConfig::default()) {
        Err(StoreError::Damaged { reason }) => reason,
        Err(other) => panic!("another error: {other}"),
        Ok(store) => panic!("opened with {} records", store.head().next_seq),
    }
}

#[test]
fn a_shorter_log_is_refused_without_a_saved_open_state() {
    let dir = tempfile::tempdir().unwrap();
    let older = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
        store.append("recorder", hierarchy(0)).unwrap();
        appended(&store, 0, 5);
    }
    copy_dir(dir.path(), older.path());
    let (records, hash) = {
        let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
        appended(&store, 5, 5);
        let head = store.head();
        (head.next_seq, head.hash)
    };
    let mark = read_durable_mark(dir.path()).expect("a mark after a stop");
    assert_eq!((mark.records, mark.hash), (records, hash));

    // The older log's files with the newer mark, and no open state (as after a crash, or a
    // build that reads another open-state version): before the mark, this opened as a log
    // of 15 records and nobody knew 5 were lost.
    std::fs::copy(
        dir.path().join(DURABLE_MARK_FILE),
        older.path().join(DURABLE_MARK_FILE),
    )
    .unwrap();
    forget_open_state(older.path()).unwrap();
    let reason = damaged(older.path());
    assert!(
        reason.contains(&format!("but {records} were durable by the durable-head mark")),
        "{reason}"
    );
    assert!(reason.contains(DURABLE_MARK_FILE), "{reason}");

    // Deleting the mark, as the message says, opens the older copy on purpose.
    std::fs::remove_file(older.path().join(DURABLE_MARK_FILE)).unwrap();
    let store = Store::open(older.path(), StoreConfig::default()).unwrap();
    assert_eq!(store.head().next_seq, records - 5);
}

#[test]
fn another_log_of_the_same_length_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    for (path, first) in [(dir.path(), 0), (other.path(), 100)] {
        let store = Store::open(path, StoreConfig::default()).unwrap();
        store.append("recorder", hierarchy(0)).unwrap();
        appended(&store, first, 3);
    }
    std::fs::copy(
        other.path().join(DURABLE_MARK_FILE),
        dir.path().join(DURABLE_MARK_FILE),
    )
    .unwrap();
    forget_open_state(dir.path()).unwrap();
    let reason = damaged(dir.path());
    assert!(reason.contains("is not the log this directory held"), "{reason}");
}

#[test]
fn the_mark_follows_appends_while_the_store_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    store.append("recorder", hierarchy(0)).unwrap();
    appended(&store, 0, 3);
    // Written at most once a second while appends go on, and once more when they pause.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mark = read_durable_mark(dir.path());
        if mark.is_some_and(|mark| mark.records == store.head().next_seq) {
            assert_eq!(mark.unwrap().hash, store.head().hash);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the mark stayed at {mark:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
