//! Helpers shared by the integration test modules.

use std::path::Path;

use govrec_store::{Store, StoreConfig};
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
