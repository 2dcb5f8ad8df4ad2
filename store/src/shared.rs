//! The state the writer, the pipeline threads and the readers share: the log, the durable head
//! and the indexes published with it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, RwLock};
use std::time::Duration;

use govrec_core::{IdMap, State};
use uuid::Uuid;

use crate::checkpoint::CheckpointSigner;
use crate::entity_index::EntityIndex;
use crate::error::StoreError;
use crate::head::Head;
use crate::log::Log;
use crate::tiles::PartialLeaves;

/// Shared between the writer and the readers.
pub(crate) struct Shared {
    pub(crate) log: Log,
    /// The validation state, owned by the writer (which takes the write lock to check and
    /// apply a request) and read by the readers for one fact: the county of an entity, for
    /// office scopes. It may run ahead of the durable head by the group being committed.
    pub(crate) state: RwLock<State>,
    /// Durable head; readers never see a record past it.
    pub(crate) head: RwLock<Head>,
    pub(crate) event_ids: RwLock<IdMap<Uuid, u64>>,
    pub(crate) entities: RwLock<EntityIndex>,
    pub(crate) poisoned: AtomicBool,
    /// The first damage a read met since the store opened (`Store::damage`).
    pub(crate) damage: Mutex<Option<String>>,
    /// Signs checkpoints (`checkpoint.rs`).
    pub(crate) signer: CheckpointSigner,
    /// Time the writer spent maintaining the Merkle tree, in nanoseconds (for benchmarks).
    pub(crate) merkle_nanos: std::sync::atomic::AtomicU64,
    /// The Merkle tree's unfinished leaf tile, which is not stored (`tiles.rs`); the applier
    /// moves it on once it has applied the tiles a commit completed.
    pub(crate) merkle_partial: RwLock<PartialLeaves>,
    /// The end (next seq) of the records whose blocks the applier has applied to sled. The
    /// writer waits on it before it reads back a record it wrote itself (`wait_applied`).
    pub(crate) applied_end: Mutex<u64>,
    pub(crate) applied_changed: Condvar,
    /// Tells subscribers (live feeds, read models) that the durable head moved.
    pub(crate) head_changes: tokio::sync::watch::Sender<Head>,
    /// Redactions promised by restored records whose `Redacted` record has not been restored
    /// yet: by seq K → (the redacted record's seq, its marker's fields). Empty except during
    /// an import (or after one that stopped half-way).
    pub(crate) promises: Mutex<BTreeMap<u64, (u64, Vec<String>)>>,
}

impl Shared {
    /// Marks the store as refusing writes after a failed write or sync.
    pub(crate) fn poison(&self, error: &StoreError) {
        self.poisoned.store(true, Ordering::Release);
        self.applied_changed.notify_all();
        eprintln!("govrec-store: a commit failed, refusing further writes until reopened: {error}");
    }

    /// Waits until the applier has applied the blocks of every record before `end`, so the
    /// writer can read back what it wrote (redaction targets, markers, a state rebuild).
    pub(crate) fn wait_applied(&self, end: u64) -> Result<(), StoreError> {
        let mut applied = self.applied_end.lock().expect("applied lock");
        while *applied < end {
            if self.poisoned.load(Ordering::Acquire) {
                return Err(StoreError::Poisoned);
            }
            applied = self
                .applied_changed
                .wait_timeout(applied, Duration::from_millis(10))
                .expect("applied lock")
                .0;
        }
        Ok(())
    }
}
