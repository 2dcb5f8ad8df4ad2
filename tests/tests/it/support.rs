//! Helpers shared by the integration test modules.

use std::path::Path;

use govrec_store::{verify_log, Store, StoreConfig, Verification};
use tempfile::TempDir;

pub use govrec_tests::*;

/// A store in a fresh temporary directory (removed when the `TempDir` drops).
pub fn temp_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    (dir, store)
}

pub fn open(path: &Path) -> Store {
    Store::open(path, StoreConfig::default()).expect("open store")
}

/// The log head seq, for "nothing was stored" checks.
pub fn next_seq(store: &Store) -> u64 {
    store.head().next_seq
}

/// Verifies the whole chain and checks that it holds exactly `records` records.
pub fn assert_chain_intact(store: &Store, records: u64) {
    match verify_log(store.log(), 0, None).unwrap() {
        Verification::Intact { checked, .. } => assert_eq!(checked, records),
        damaged => panic!("{damaged:?}"),
    }
}
