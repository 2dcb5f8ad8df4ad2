//! The store: the durable log plus the single writer that validates, chains and group-commits
//! appends, and the in-memory indexes (event id → seq, entity id → seqs) rebuilt from the log
//! when it opens.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use govrec_core::state::State;
use govrec_core::Event;
use govrec_core::IdMap;
use uuid::Uuid;

use crate::checkpoint::CheckpointSigner;
use crate::entity_index::EntityIndex;
use crate::error::StoreError;
use crate::hash::{event_hash, Hash32};
use crate::log::{decode_block, encode_block, Log, LogConfig, PersonalScan, BLOCK_BYTES_LIMIT};
use crate::merkle::{self, leaf_hash};
use crate::open_state;
use crate::record::{
    encode_stripped, redaction_matches, validate_actor, BusinessDate, PersonalBlob, PersonalRef, Record,
    RecordedAt, Redaction, StoredRecord, StoredRecordRef,
};
use crate::tiles::{PartialLeaves, TileReader, TileWriter, TileWrites};

/// The most one event may take in stored form. The rules of `govrec_core` keep real events
/// far below it (texts of at most 2,000 characters, at most 1,000 area ids).
pub const EVENT_BYTES_MAX: usize = 32 * 1024;

/// Limits and settings of a store. Every limit is named with its unit last.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub log: LogConfig,
    /// Events in one append request.
    pub batch_events_max: usize,
    /// Events the writer gathers into one group commit.
    pub group_events_max: usize,
    /// Target size of one stored block; a block holds at least one record. Capped at
    /// [`crate::log::BLOCK_BYTES_LIMIT`] (see there why).
    pub block_bytes_max: usize,
    /// Records at the end of the log whose hashes are recomputed when the store opens (every
    /// record's seq and `prev_hash` link is checked regardless).
    pub tail_check_records: u64,
    /// Requests waiting for the writer before `append` blocks (back-pressure).
    pub queue_requests_max: usize,
    /// The longest the syncer waits for the clients of its previous sync to resubmit before
    /// it syncs (never more than half the previous sync took; a lone client never waits).
    pub sync_wait_max_us: u64,
    /// The log's name (checkpoint origin) used when the signing key is created; ignored once
    /// the key exists. `None`: `govrec/` and 16 hex digits derived from the new key.
    pub checkpoint_origin: Option<String>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            log: LogConfig::default(),
            batch_events_max: 1000,
            group_events_max: 4096,
            block_bytes_max: 32 * 1024,
            tail_check_records: 1000,
            queue_requests_max: 4096,
            sync_wait_max_us: 500,
            checkpoint_origin: None,
        }
    }
}

/// An event offered for appending, as a client sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The client's event id (idempotency key); a fresh UUIDv7 when absent.
    pub id: Option<Uuid>,
    /// The business date; the recording date (UTC) when absent.
    pub occurred_on: Option<BusinessDate>,
    pub event: Event,
}

impl NewEvent {
    pub fn new(event: impl Into<Event>) -> NewEvent {
        NewEvent {
            id: None,
            occurred_on: None,
            event: event.into(),
        }
    }

    pub fn with_id(mut self, id: Uuid) -> NewEvent {
        self.id = Some(id);
        self
    }
}

/// Where one appended event landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    pub seq: u64,
    pub id: Uuid,
    pub hash: Hash32,
}

/// The position of the log's last durable record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// The seq the next record will get (= the number of records).
    pub next_seq: u64,
    /// The hash of the last record (zeros for an empty log).
    pub hash: Hash32,
    pub recorded_at: Option<RecordedAt>,
}

impl Head {
    pub const EMPTY: Head = Head {
        next_seq: 0,
        hash: Hash32::ZERO,
        recorded_at: None,
    };

    /// The seq of the last record, if any.
    pub fn last_seq(&self) -> Option<u64> {
        self.next_seq.checked_sub(1)
    }
}

/// The outcome of an append: the receipts of its events and the head after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub receipts: Vec<Receipt>,
    pub head: Head,
    /// True when every event was already recorded with identical content (an idempotent
    /// retry); nothing new was written.
    pub replayed: bool,
}

/// Shared between the writer and the readers.
struct Shared {
    log: Log,
    /// Durable head; readers never see a record past it.
    head: RwLock<Head>,
    event_ids: RwLock<IdMap<Uuid, u64>>,
    entities: RwLock<EntityIndex>,
    poisoned: AtomicBool,
    /// Signs checkpoints (`checkpoint.rs`).
    signer: CheckpointSigner,
    /// Time the writer spent maintaining the Merkle tree, in nanoseconds (for benchmarks).
    merkle_nanos: std::sync::atomic::AtomicU64,
    /// The Merkle tree's unfinished leaf tile, which is not stored (`tiles.rs`); the applier
    /// moves it on once it has applied the tiles a commit completed.
    merkle_partial: RwLock<PartialLeaves>,
    /// The end (next seq) of the records whose blocks the applier has applied to sled. The
    /// writer waits on it before it reads back a record it wrote itself (`wait_applied`).
    applied_end: Mutex<u64>,
    applied_changed: Condvar,
    /// Tells subscribers (live feeds, read models) that the durable head moved.
    head_changes: tokio::sync::watch::Sender<Head>,
    /// Redactions promised by restored records whose `Redacted` record has not been restored
    /// yet: by seq K → (the redacted record's seq, its marker's fields). Empty except during
    /// an import (or after one that stopped half-way).
    promises: Mutex<BTreeMap<u64, (u64, Vec<String>)>>,
}

impl Shared {
    /// Makes committed records visible: indexes first, then the head readers go by.
    fn publish(&self, groups: &[Applied], head: Head) {
        {
            let mut event_ids = self.event_ids.write().expect("index lock");
            for &(id, seq) in groups.iter().flat_map(|group| &group.ids) {
                event_ids.insert(id, seq);
            }
        }
        {
            let mut entities = self.entities.write().expect("index lock");
            for &(entity, seq) in groups.iter().flat_map(|group| &group.entities) {
                entities.push(entity, seq);
            }
        }
        *self.head.write().expect("head lock") = head;
        self.head_changes.send_replace(head);
    }

    /// Marks the store as refusing writes after a failed write or sync.
    fn poison(&self, error: &StoreError) {
        self.poisoned.store(true, Ordering::Release);
        self.applied_changed.notify_all();
        eprintln!("govrec-store: a commit failed, refusing further writes until reopened: {error}");
    }
}

enum Command {
    Append(AppendRequest),
    Restore(RestoreRequest),
}

struct AppendRequest {
    actor: Arc<str>,
    /// The events, apart from what was prepared for them, so the rules can take the slice.
    events: Vec<Event>,
    prepared: Vec<PreparedEvent>,
    reply: oneshot::Sender<Result<Appended, StoreError>>,
}

struct RestoreRequest {
    records: Vec<Record>,
    reply: oneshot::Sender<Result<Head, StoreError>>,
}

/// An event with the work that needs no log state done by the caller's thread (hashing,
/// encoding), so the single writer does only what must be serial.
struct PreparedEvent {
    id: Option<Uuid>,
    occurred_on: Option<BusinessDate>,
    event_hash: Hash32,
    /// The stored form without personal values, which are in `personal`.
    stored: Vec<u8>,
    personal: Option<PersonalBlob>,
}

/// What idempotency needs of a written record with a client-chosen id: enough to tell an
/// identical retry from a conflicting reuse, and to answer the retry.
#[derive(Debug, Clone)]
struct Landed {
    seq: u64,
    event_hash: Hash32,
    occurred_on: BusinessDate,
    actor: Arc<str>,
    hash: Hash32,
}

/// The event store. Cheap to share behind an `Arc`; all methods take `&self`.
pub struct Store {
    shared: Arc<Shared>,
    /// `None` once the store is shutting down.
    commands: RwLock<Option<Sender<Command>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    config: StoreConfig,
}

/// What `Store::open` found.
#[derive(Debug, Clone)]
pub struct OpenReport {
    pub records: u64,
    pub blocks: u64,
    pub tail_checked: u64,
    /// Records the saved open state reflected, so were not replayed (0: none was used).
    pub saved_records: u64,
    /// Why a saved open state was there but not used (the whole log was replayed).
    pub saved_state_ignored: Option<String>,
}

impl Store {
    /// Opens the store in `dir` (created if missing): checks that seqs have no gap and every
    /// `prev_hash` links, recomputes the hashes of the tail, rebuilds the in-memory indexes
    /// and the validation state from the log, and starts the writer.
    pub fn open(dir: &Path, config: StoreConfig) -> Result<Store, StoreError> {
        Self::open_with_report(dir, config).map(|(store, _)| store)
    }

    pub fn open_with_report(dir: &Path, mut config: StoreConfig) -> Result<(Store, OpenReport), StoreError> {
        config.block_bytes_max = config.block_bytes_max.min(BLOCK_BYTES_LIMIT);
        let log = Log::open(dir, &config.log)?;
        let (mut rebuilt, saved_state_ignored) = match open_state::load(dir) {
            Ok(None) => (None, None),
            Ok(Some(saved)) => {
                let mut rebuilt = Rebuilt::from_saved(saved);
                match rebuilt.scan(&log, config.tail_check_records) {
                    Ok(()) => (Some(rebuilt), None),
                    Err(error) => (None, Some(error.to_string())),
                }
            }
            Err(reason) => (None, Some(reason)),
        };
        if let Some(reason) = &saved_state_ignored {
            tracing::warn!(%reason, "the saved open state is not used: replaying the whole log");
        }
        let mut rebuilt = match rebuilt.take() {
            Some(rebuilt) => rebuilt,
            None => {
                let mut rebuilt = Rebuilt::default();
                rebuilt.scan(&log, config.tail_check_records)?;
                rebuilt
            }
        };
        log.settle_personal(rebuilt.personal.end, &rebuilt.personal.erased)?;
        let tiles = catch_up_tiles(&log, rebuilt.head.next_seq)?;
        let signer = CheckpointSigner::load_or_create(dir, config.checkpoint_origin.as_deref())?;
        let report = OpenReport {
            records: rebuilt.head.next_seq,
            blocks: rebuilt.blocks,
            tail_checked: rebuilt.tail_checked,
            saved_records: rebuilt.saved_records,
            saved_state_ignored,
        };
        let shared = Arc::new(Shared {
            log,
            head: RwLock::new(rebuilt.head),
            event_ids: RwLock::new(rebuilt.event_ids),
            entities: RwLock::new(rebuilt.entities),
            poisoned: AtomicBool::new(false),
            signer,
            merkle_nanos: std::sync::atomic::AtomicU64::new(0),
            merkle_partial: RwLock::new(tiles.partial_leaves()),
            applied_end: Mutex::new(rebuilt.head.next_seq),
            applied_changed: Condvar::new(),
            head_changes: tokio::sync::watch::channel(rebuilt.head).0,
            promises: Mutex::new(std::mem::take(&mut rebuilt.promises)),
        });
        let (sender, receiver) = crossbeam_channel::bounded(config.queue_requests_max);
        let (to_applier, applier_tickets) = crossbeam_channel::unbounded();
        let (to_syncer, tickets) = crossbeam_channel::unbounded();
        let sync_wait_max = Duration::from_micros(config.sync_wait_max_us);
        let syncer_shared = shared.clone();
        let syncer_thread = std::thread::Builder::new()
            .name("govrec-syncer".to_owned())
            .spawn(move || run_syncer(syncer_shared, tickets, sync_wait_max))?;
        let applier_shared = shared.clone();
        let applier_thread = std::thread::Builder::new()
            .name("govrec-applier".to_owned())
            .spawn(move || run_applier(applier_shared, applier_tickets, to_syncer))?;
        let writer = Writer {
            shared: shared.clone(),
            state: rebuilt.state,
            head: rebuilt.head,
            tiles,
            personal_end: rebuilt.personal.end,
            blocks: rebuilt.blocks,
            config: config.clone(),
            inflight_ids: HashMap::new(),
            inflight_order: VecDeque::new(),
            syncer: to_applier,
            // Joined in this order: each stops once the one before it has.
            syncer_threads: vec![applier_thread, syncer_thread],
        };
        let handle = std::thread::Builder::new()
            .name("govrec-writer".to_owned())
            .spawn(move || writer.run(receiver))?;
        Ok((
            Store {
                shared,
                commands: RwLock::new(Some(sender)),
                writer: Mutex::new(Some(handle)),
                config,
            },
            report,
        ))
    }

    /// Appends a batch atomically and durably: every event passes the rules (validated against
    /// the state including the batch's earlier events) and is on disk, or nothing is stored.
    /// Blocks until the group commit that holds it has been fsynced.
    pub fn append(&self, actor: &str, events: Vec<NewEvent>) -> Result<Appended, StoreError> {
        let (request, reply) = self.prepare(actor, events)?;
        self.send(Command::Append(request))?;
        reply.recv().map_err(|_| StoreError::ShuttingDown)?
    }

    /// `append` for async callers: the work is done by the writer thread and the caller's
    /// task is parked on a channel, not a thread.
    pub fn append_nonblocking(
        &self,
        actor: &str,
        events: Vec<NewEvent>,
    ) -> Result<oneshot::Receiver<Result<Appended, StoreError>>, StoreError> {
        let (request, reply) = self.prepare(actor, events)?;
        self.send(Command::Append(request))?;
        Ok(reply)
    }

    fn prepare(
        &self,
        actor: &str,
        events: Vec<NewEvent>,
    ) -> Result<(AppendRequest, oneshot::Receiver<Result<Appended, StoreError>>), StoreError> {
        if events.is_empty() {
            return Err(StoreError::bad_request(
                "empty_batch",
                None,
                Some("events"),
                "a batch needs at least one event",
            ));
        }
        if events.len() > self.config.batch_events_max {
            return Err(StoreError::bad_request(
                "too_many_events",
                None,
                Some("events"),
                format!(
                    "a batch holds at most {} events, this one has {}",
                    self.config.batch_events_max,
                    events.len()
                ),
            ));
        }
        validate_actor(actor)
            .map_err(|message| StoreError::bad_request("invalid_actor", None, None, message))?;
        let mut seen = HashMap::with_capacity(events.len());
        for (index, event) in events.iter().enumerate() {
            if let Some(id) = event.id {
                if let Some(first) = seen.insert(id, index) {
                    return Err(StoreError::bad_request(
                        "duplicate_id",
                        Some(index),
                        Some("id"),
                        format!("event id {id} is used twice in this batch (events {first} and {index})"),
                    ));
                }
            }
        }
        let mut prepared = Vec::with_capacity(events.len());
        let mut bare_events = Vec::with_capacity(events.len());
        for (index, mut new) in events.into_iter().enumerate() {
            let mut stored = Vec::with_capacity(128);
            let personal = encode_stripped(&mut new.event, &mut stored);
            let size = stored.len() + personal.as_ref().map_or(0, |blob| blob.bytes.len());
            if size > EVENT_BYTES_MAX {
                return Err(StoreError::bad_request(
                    "payload_too_large",
                    Some(index),
                    None,
                    format!("event {index} takes {size} bytes stored, at most {EVENT_BYTES_MAX}"),
                ));
            }
            prepared.push(PreparedEvent {
                id: new.id,
                occurred_on: new.occurred_on,
                event_hash: event_hash(&new.event),
                stored,
                personal,
            });
            bare_events.push(new.event);
        }
        let (reply, receiver) = oneshot::channel();
        Ok((
            AppendRequest {
                actor: Arc::from(actor),
                events: bare_events,
                prepared,
                reply,
            },
            receiver,
        ))
    }

    fn send(&self, command: Command) -> Result<(), StoreError> {
        if self.shared.poisoned.load(Ordering::Acquire) {
            return Err(StoreError::Poisoned);
        }
        let commands = self.commands.read().expect("commands lock");
        let commands = commands.as_ref().ok_or(StoreError::ShuttingDown)?;
        commands.send(command).map_err(|_| StoreError::ShuttingDown)
    }

    /// Restores exported records exactly (same seq, times, actor, hashes). Each record must
    /// continue the chain: seq = head, `prev_hash` = head hash, its own hashes recompute, time
    /// not before the head's, event id new. Applied to the state without business rules, as
    /// replay does. The records are written in one atomic, durable commit.
    pub fn restore(&self, records: Vec<Record>) -> Result<Head, StoreError> {
        let (reply, receiver) = oneshot::channel();
        self.send(Command::Restore(RestoreRequest { records, reply }))?;
        receiver.recv().map_err(|_| StoreError::ShuttingDown)?
    }

    /// A receiver that sees every change of the durable head (new records are readable once
    /// it changes); for live feeds and read models that follow the log.
    pub fn watch_head(&self) -> tokio::sync::watch::Receiver<Head> {
        self.shared.head_changes.subscribe()
    }

    /// The durable head.
    pub fn head(&self) -> Head {
        *self.shared.head.read().expect("head lock")
    }

    /// One record, if it is committed.
    pub fn get(&self, seq: u64) -> Result<Option<Record>, StoreError> {
        if seq >= self.head().next_seq {
            return Ok(None);
        }
        self.shared.log.record(seq).map(Some)
    }

    /// Up to `limit` committed records from `from_seq` on, in order.
    pub fn read_range(&self, from_seq: u64, limit: usize) -> Result<Vec<Record>, StoreError> {
        let end = self.head().next_seq.min(from_seq.saturating_add(limit as u64));
        let mut out = Vec::with_capacity(limit.min(4096));
        if from_seq >= end {
            return Ok(out);
        }
        for block in self.shared.log.blocks_from(from_seq) {
            let (first, bytes) = block?;
            if first >= end {
                break;
            }
            out.extend(self.shared.log.decode_records_in(first, &bytes, from_seq..end)?);
        }
        Ok(out)
    }

    /// Restored records whose marker promises a `Redacted` record not restored yet:
    /// `(redacted seq, promised seq K)`, in order. Empty unless an import is under way or
    /// stopped half-way; an import that ends with any is incomplete.
    pub fn unresolved_redactions(&self) -> Vec<(u64, u64)> {
        self.shared
            .promises
            .lock()
            .expect("promises lock")
            .iter()
            .map(|(by_seq, (seq, _))| (*seq, *by_seq))
            .collect()
    }

    /// Calls `visit` with every committed record in order (an export, a replay).
    pub fn for_each_record(
        &self,
        visit: impl FnMut(Record) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        self.shared.log.for_each_record(Some(self.head().next_seq), visit)
    }

    /// The seq of the record with this event id, if any.
    pub fn seq_of_event(&self, id: &Uuid) -> Option<u64> {
        self.shared.event_ids.read().expect("index lock").get(id).copied()
    }

    /// The seqs of every record that created or changed entity `id`, in log order.
    pub fn entity_seqs(&self, id: &Uuid) -> Vec<u64> {
        self.shared.entities.read().expect("index lock").seqs(id)
    }

    /// Every record that created or changed entity `id`, in log order.
    pub fn entity_history(&self, id: &Uuid) -> Result<Vec<Record>, StoreError> {
        let mut records = Vec::new();
        for seq in self.entity_seqs(id) {
            if let Some(record) = self.get(seq)? {
                records.push(record);
            }
        }
        Ok(records)
    }

    /// The root of the Merkle tree of the first `size` records (`docs/merkle.md`).
    pub fn merkle_root(&self, size: u64) -> Result<Hash32, StoreError> {
        self.check_tree_size(size)?;
        merkle::root(&mut self.tile_reader(), size)
    }

    /// The inclusion proof of record `seq` in the tree of the first `size` records
    /// (RFC 9162 §2.1.3), leaf side first.
    pub fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<Hash32>, StoreError> {
        self.check_tree_size(size)?;
        if seq >= size {
            return Err(StoreError::bad_request(
                "invalid_leaf_index",
                None,
                Some("seq"),
                format!("seq {seq} is not in a tree of {size} records"),
            ));
        }
        merkle::inclusion_proof(&mut self.tile_reader(), seq, size)
    }

    /// The consistency proof from the tree of `old_size` records to that of `new_size`
    /// (RFC 9162 §2.1.4).
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash32>, StoreError> {
        self.check_tree_size(new_size)?;
        if old_size > new_size {
            return Err(StoreError::bad_request(
                "invalid_tree_size",
                None,
                Some("from_size"),
                format!("from_size {old_size} is larger than to_size {new_size}"),
            ));
        }
        merkle::consistency_proof(&mut self.tile_reader(), old_size, new_size)
    }

    /// A reader of the Merkle tree for sizes up to the durable head as read before this call.
    fn tile_reader(&self) -> TileReader<'_> {
        let partial = self.shared.merkle_partial.read().expect("merkle lock").clone();
        TileReader::new(self.shared.log.merkle_tree(), partial)
    }

    /// Seconds the writer has spent maintaining the Merkle tree since the store opened
    /// (hashing leaves, folding tiles, writing them): what the tree costs appends.
    pub fn merkle_maintenance_seconds(&self) -> f64 {
        self.shared.merkle_nanos.load(Ordering::Relaxed) as f64 / 1e9
    }

    /// The log's name: the origin of its checkpoints and the name of its key.
    pub fn origin(&self) -> &str {
        self.shared.signer.origin()
    }

    /// The verifier key of the log's checkpoints (`name+keyid+base64key`).
    pub fn verifier_key(&self) -> String {
        self.shared.signer.verifier_key()
    }

    /// The signed checkpoint of the durable head: the one issued before for this size, or a
    /// new one, recorded in the history. Returns the size and the note.
    pub fn checkpoint_latest(&self) -> Result<(u64, String), StoreError> {
        let size = self.head().next_seq;
        if let Some(note) = self.checkpoint_at(size)? {
            return Ok((size, note));
        }
        let note = self.shared.signer.sign(size, self.merkle_root(size)?);
        // Ed25519 signatures are deterministic: two readers racing here store the same note.
        self.shared
            .log
            .checkpoints_tree()
            .insert(size.to_be_bytes(), note.as_bytes())?;
        Ok((size, note))
    }

    /// The checkpoint issued earlier for tree size `size`, if one was.
    pub fn checkpoint_at(&self, size: u64) -> Result<Option<String>, StoreError> {
        match self.shared.log.checkpoints_tree().get(size.to_be_bytes())? {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes.to_vec())
                .map(Some)
                .map_err(|_| StoreError::Corrupt {
                    seq: 0,
                    reason: format!("the checkpoint of size {size} is not UTF-8"),
                }),
        }
    }

    fn check_tree_size(&self, size: u64) -> Result<(), StoreError> {
        let head = self.head().next_seq;
        if size > head {
            return Err(StoreError::bad_request(
                "tree_size_beyond_head",
                None,
                Some("size"),
                format!("the log has {head} records, fewer than {size}"),
            ));
        }
        Ok(())
    }

    /// The raw log, for verification and export.
    pub fn log(&self) -> &Log {
        &self.shared.log
    }

    /// True once a write failed; the store then refuses every append until reopened.
    pub fn is_poisoned(&self) -> bool {
        self.shared.poisoned.load(Ordering::Acquire)
    }

    /// Stops the writer after the requests already queued, and syncs. Also done on drop.
    pub fn close(self) -> Result<(), StoreError> {
        self.shutdown()
    }

    /// Refuses new appends (`ShuttingDown`), lets the writer, applier and syncer finish every request
    /// already queued (each is acknowledged once durable), and syncs. Reads keep working.
    /// For a store shared behind an `Arc` (a server's graceful shutdown).
    pub fn shutdown(&self) -> Result<(), StoreError> {
        drop(self.commands.write().expect("commands lock").take());
        let writer = self.writer.lock().expect("writer lock").take();
        if let Some(handle) = writer {
            let _ = handle.join();
        }
        if self.is_poisoned() {
            return Ok(());
        }
        self.shared.log.sync()
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// What a scan of the log rebuilds when the store opens: from nothing, or from a saved open
/// state (`open_state.rs`) whose records it then only checks.
#[derive(Default)]
struct Rebuilt {
    head: Head,
    state: State,
    event_ids: IdMap<Uuid, u64>,
    entities: EntityIndex,
    blocks: u64,
    tail_checked: u64,
    personal: PersonalScan,
    promises: BTreeMap<u64, (u64, Vec<String>)>,
    /// Records the saved open state already reflected (0: none).
    saved_records: u64,
    /// Seqs that `Redacted` records after the saved state target (their blocks' erasures
    /// are learnt again on open).
    redacted_targets: Vec<u64>,
}

impl Default for Head {
    fn default() -> Self {
        Head::EMPTY
    }
}

impl Rebuilt {
    fn from_saved(saved: open_state::Saved) -> Rebuilt {
        Rebuilt {
            personal: saved.personal(),
            head: saved.head,
            state: saved.state,
            event_ids: saved.event_ids,
            entities: saved.entities,
            blocks: saved.blocks,
            tail_checked: 0,
            promises: saved.promises,
            saved_records: saved.head.next_seq,
            redacted_targets: Vec::new(),
        }
    }

    /// Reads the log from where `self` stands (the start, or a saved state's head) and the
    /// last `tail_check_records` records, whichever comes first: checks that seqs have no gap
    /// and that every `prev_hash` links, recomputes the tail's hashes, and applies the records
    /// `self` does not reflect yet.
    fn scan(&mut self, log: &Log, tail_check_records: u64) -> Result<(), StoreError> {
        let applied_from = self.head.next_seq;
        let end = match log.last_block()? {
            Some((first, bytes)) => first + decode_block(first, &bytes)?.len() as u64,
            None if applied_from == 0 => return Ok(()),
            None => {
                return Err(StoreError::Corrupt {
                    seq: 0,
                    reason: "the saved open state is ahead of an empty log".to_owned(),
                })
            }
        };
        if applied_from > end {
            return Err(StoreError::Corrupt {
                seq: end,
                reason: format!("the saved open state reflects {applied_from} records, the log holds {end}"),
            });
        }
        let tail_start = end.saturating_sub(tail_check_records);
        // From a saved state, read at least its last record, whose hash must be the saved one.
        let from = applied_from.min(tail_start).min(applied_from.saturating_sub(1));
        let mut event_ids = std::mem::take(&mut self.event_ids);
        event_ids.reserve((end - applied_from) as usize);
        // Most records name one or two entities.
        self.entities.reserve_nodes(2 * (end - applied_from) as usize);
        let mut personal = std::mem::take(&mut self.personal);
        // One thread reads, decodes and indexes blocks while this one replays them into the
        // validation state, in order.
        std::thread::scope(|scope| {
            let (decoded, to_apply) = crossbeam_channel::bounded::<Result<Vec<Record>, StoreError>>(64);
            let decoder = std::thread::Builder::new()
                .name("govrec-open-decoder".to_owned())
                .spawn_scoped(scope, move || {
                    decode_blocks(log, from, applied_from, decoded, &mut event_ids, &mut personal);
                    (event_ids, personal)
                })
                .map_err(StoreError::Io)?;
            let applied = self.apply_blocks(to_apply, from, tail_start, end);
            (self.event_ids, self.personal) = decoder.join().expect("the decoder thread does not panic");
            applied
        })?;
        // A redaction after the saved state rewrote a block before it: learn that block's
        // erasures again, in case a crash came between the redaction and its erasure.
        let mut targets = std::mem::take(&mut self.redacted_targets);
        targets.retain(|&target| target < from);
        targets.sort_unstable();
        let mut last_block = None;
        for target in targets {
            let Some((first, bytes)) = log.block_containing(target)? else {
                continue;
            };
            if last_block != Some(first) {
                log.decode_records_scanning(first, &bytes, &mut self.personal)?;
                last_block = Some(first);
            }
        }
        Ok(())
    }

    fn apply_blocks(
        &mut self,
        blocks: Receiver<Result<Vec<Record>, StoreError>>,
        from: u64,
        tail_start: u64,
        end: u64,
    ) -> Result<(), StoreError> {
        let applied_from = self.head.next_seq;
        // The record before the next one read: its seq and hash. When the tail check starts
        // before the saved state, the first record read supplies the hash it links to.
        let mut cursor = (from, (from == applied_from).then_some(self.head.hash));
        for block in blocks {
            let records = block?;
            if records[0].seq >= applied_from {
                self.blocks += 1;
            }
            for record in records {
                if record.seq < from {
                    continue;
                }
                let seq = record.seq;
                if seq != cursor.0 {
                    return Err(StoreError::Corrupt {
                        seq: cursor.0,
                        reason: format!("gap: the next block starts at seq {seq}"),
                    });
                }
                if record.prev_hash != *cursor.1.get_or_insert(record.prev_hash) {
                    return Err(StoreError::Corrupt {
                        seq,
                        reason: "prev_hash does not match the previous record's hash".to_owned(),
                    });
                }
                if seq == applied_from && cursor.1 != Some(self.head.hash) {
                    return Err(saved_state_mismatch(seq));
                }
                if seq >= tail_start {
                    record.self_check().map_err(|reason| StoreError::Corrupt {
                        seq,
                        reason: reason.to_owned(),
                    })?;
                    self.tail_checked += 1;
                }
                cursor = (seq + 1, Some(record.hash));
                if seq >= applied_from {
                    self.take(record)?;
                }
            }
        }
        if cursor.0 != end {
            return Err(StoreError::Corrupt {
                seq: cursor.0,
                reason: format!("the log ends at seq {} where its last block said {end}", cursor.0),
            });
        }
        if applied_from == end && applied_from > from && cursor.1 != Some(self.head.hash) {
            return Err(saved_state_mismatch(end));
        }
        Ok(())
    }

    /// Applies a record the rebuilt state does not reflect yet.
    fn take(&mut self, record: Record) -> Result<(), StoreError> {
        let seq = record.seq;
        apply_or_corrupt(&mut self.state, &record)?;
        for entity in record.event.entity_ids() {
            self.entities.push(entity, seq);
        }
        if self.saved_records > 0 {
            if let Event::Redacted(redacted) = &record.event {
                self.redacted_targets.push(redacted.target_seq);
            }
        }
        self.promises.remove(&seq);
        if let Some(redaction) = record.redaction {
            self.promises.insert(redaction.by_seq, (seq, redaction.fields));
        }
        self.head = Head {
            next_seq: seq + 1,
            hash: record.hash,
            recorded_at: Some(record.recorded_at),
        };
        Ok(())
    }
}

fn saved_state_mismatch(seq: u64) -> StoreError {
    StoreError::Corrupt {
        seq,
        reason: "the saved open state does not match the log's record before it".to_owned(),
    }
}

/// Reads and decodes the blocks from the one holding `from` in order into `out`, indexing
/// the event ids of records from `index_from` on (so that work runs beside the replay into
/// the validation state), stopping at the first failure (sent on) or when the receiver hangs
/// up.
fn decode_blocks(
    log: &Log,
    from: u64,
    index_from: u64,
    out: Sender<Result<Vec<Record>, StoreError>>,
    event_ids: &mut IdMap<Uuid, u64>,
    scan: &mut PersonalScan,
) {
    for block in log.blocks_from(from) {
        let decoded = block
            .and_then(|(first, bytes)| log.decode_records_scanning(first, &bytes, scan))
            .and_then(|records| {
                let new = records.partition_point(|record| record.seq < index_from);
                index_records(&records[new..], event_ids).map(|()| records)
            });
        let failed = decoded.is_err();
        if out.send(decoded).is_err() || failed {
            break;
        }
    }
}

fn index_records(records: &[Record], event_ids: &mut IdMap<Uuid, u64>) -> Result<(), StoreError> {
    for record in records {
        if event_ids.insert(record.id, record.seq).is_some() {
            return Err(StoreError::Corrupt {
                seq: record.seq,
                reason: format!("event id {} is recorded twice", record.id),
            });
        }
    }
    Ok(())
}

/// The single writer: owns the validation state and the head while it prepares a group.
struct Writer {
    shared: Arc<Shared>,
    state: State,
    /// The head including records handed to the syncer but not yet durable.
    head: Head,
    /// The Merkle tree's unfinished tiles (up to `head`).
    tiles: TileWriter,
    /// The end of `personal.dat` (what records written so far reference).
    personal_end: u64,
    /// Blocks in the log (kept for the saved open state).
    blocks: u64,
    config: StoreConfig,
    /// Records with client-chosen ids handed to the syncer, not yet
    /// durable (so not yet in the shared index): by id, and in seq order for pruning.
    inflight_ids: HashMap<Uuid, Landed>,
    inflight_order: VecDeque<(u64, Uuid)>,
    /// The first stage of the way to durability (`run_applier`).
    syncer: Sender<Ticket>,
    /// The applier, then the syncer.
    syncer_threads: Vec<JoinHandle<()>>,
}

/// A written group on its way to durability: its records and the requests to acknowledge.
struct Ticket {
    records: Vec<Record>,
    written: Written,
    pending: Vec<Pending>,
    /// Ranges of `personal.dat` redactions of this group erase once it is durable.
    erase: Vec<(u64, u64)>,
}

/// The first stage after the writer. For every ticket waiting for it, it makes their personal
/// values durable with one `fdatasync` of `personal.dat`, applies their blocks to sled in one
/// batch and their Merkle tiles in a second (not durable yet: the syncer's sync makes them so),
/// and reduces their records to what publishing needs; then it hands them on, in order, to the
/// syncer.
///
/// A block never reaches sled before the personal values it references are durable. Splitting
/// this from the syncer lets consecutive commits overlap: this stage syncs and applies one
/// commit while the syncer flushes and fsyncs the one before. (One thread doing all of it in
/// turn was the busiest stage for batches, 80% of the time: `docs/performance.md`.)
fn run_applier(shared: Arc<Shared>, tickets: Receiver<Ticket>, syncer: Sender<Applied>) {
    while let Ok(first) = tickets.recv() {
        let mut batch = vec![first];
        batch.extend(tickets.try_iter());
        if shared.poisoned.load(Ordering::Acquire) {
            fail_tickets(batch, || StoreError::Poisoned);
            continue;
        }
        let started = Instant::now();
        if let Err(error) = apply_tickets(&shared, &mut batch) {
            shared.poison(&error);
            fail_tickets(batch, || StoreError::Poisoned);
            continue;
        }
        for ticket in batch {
            let applied = Applied::new(ticket, started);
            if let Err(crossbeam_channel::SendError(applied)) = syncer.send(applied) {
                fail_pending(applied.pending, || StoreError::ShuttingDown);
            }
        }
    }
}

/// A group whose blocks are applied to sled, on its way to the syncer: what publishing it
/// needs (its records themselves are dropped by the applier, off the syncer's thread).
struct Applied {
    /// (event id, seq) of each record.
    ids: Vec<(Uuid, u64)>,
    /// (entity, seq) for each entity each record names, in log order.
    entities: Vec<(Uuid, u64)>,
    /// The head after the group, if it has records.
    head: Option<Head>,
    pending: Vec<Pending>,
    /// Ranges of `personal.dat` redactions of this group erase once it is durable.
    erase: Vec<(u64, u64)>,
    /// When the applier began on it (the commit-latency metric runs from there).
    started: Instant,
}

impl Applied {
    fn new(ticket: Ticket, started: Instant) -> Applied {
        let records = &ticket.records;
        let mut entities = Vec::with_capacity(records.len() * 2);
        for record in records {
            entities.extend(
                record
                    .event
                    .entity_ids()
                    .into_iter()
                    .map(|entity| (entity, record.seq)),
            );
        }
        Applied {
            ids: records.iter().map(|record| (record.id, record.seq)).collect(),
            entities,
            head: records.last().map(|last| Head {
                next_seq: last.seq + 1,
                hash: last.hash,
                recorded_at: Some(last.recorded_at),
            }),
            pending: ticket.pending,
            erase: ticket.erase,
            started,
        }
    }
}

/// Makes applied groups durable (sled flush + fsync), publishes them to readers and
/// acknowledges them. Every group waiting when a sync starts is covered by it.
fn run_syncer(shared: Arc<Shared>, groups: Receiver<Applied>, sync_wait_max: Duration) {
    // Requests acknowledged by the previous sync: with that many clients waiting in a closed
    // loop, it pays to let them resubmit before syncing, so one fsync serves all of them.
    let mut expected_requests = 0;
    let mut last_sync = Duration::ZERO;
    while let Ok(first) = groups.recv() {
        let mut batch = vec![first];
        batch.extend(groups.try_iter());
        let wait_until = Instant::now() + sync_wait_max.min(last_sync / 2);
        while batch.iter().map(|group| group.pending.len()).sum::<usize>() < expected_requests {
            match groups.recv_deadline(wait_until) {
                Ok(group) => batch.push(group),
                Err(_) => break,
            }
        }
        expected_requests = batch.iter().map(|group| group.pending.len()).sum();
        let fail = |batch: Vec<Applied>| {
            for group in batch {
                fail_pending(group.pending, || StoreError::Poisoned);
            }
        };
        if shared.poisoned.load(Ordering::Acquire) {
            fail(batch);
            continue;
        }
        let sync_started = Instant::now();
        if let Err(error) = shared.log.sync() {
            shared.poison(&error);
            fail(batch);
            continue;
        }
        // The markers are durable: now overwrite what they erase (re-done on open if a crash
        // comes between).
        let erase: Vec<(u64, u64)> = batch
            .iter()
            .flat_map(|group| group.erase.iter().copied())
            .collect();
        if let Err(error) = shared.log.erase_personal(&erase) {
            shared.poison(&error);
            fail(batch);
            continue;
        }
        last_sync = sync_started.elapsed();
        let applying_started = batch
            .iter()
            .map(|group| group.started)
            .min()
            .unwrap_or(sync_started);
        metrics::histogram!("govrec_commit_seconds").record(applying_started.elapsed().as_secs_f64());
        metrics::histogram!("govrec_commit_records")
            .record(batch.iter().map(|group| group.ids.len()).sum::<usize>() as f64);
        let head = batch
            .iter()
            .rev()
            .find_map(|group| group.head)
            .unwrap_or_else(|| *shared.head.read().expect("head lock"));
        shared.publish(&batch, head);
        for group in batch {
            for waiting in group.pending {
                waiting.succeed(head);
            }
        }
    }
}

/// Makes the personal values of the tickets durable (one `fdatasync` for all of them, if any
/// wrote some), then applies the blocks of all of them to sled in one batch and their Merkle
/// tiles in a second, and lets readers of the tree and the writer see them.
fn apply_tickets(shared: &Shared, batch: &mut [Ticket]) -> Result<(), StoreError> {
    if batch.iter().any(|ticket| ticket.written.personal) {
        shared.log.sync_personal()?;
    }
    let mut blocks = Vec::new();
    let mut tiles: Option<TileWrites> = None;
    let mut partial = None;
    let mut applied_end = None;
    for ticket in batch.iter_mut() {
        let written = std::mem::take(&mut ticket.written);
        if written.blocks.is_empty() {
            continue;
        }
        // In order: a block a later group's redaction rewrote replaces the earlier version.
        blocks.extend(written.blocks);
        if let Some(more) = written.tiles {
            match &mut tiles {
                Some(tiles) => tiles.merge(more),
                None => tiles = Some(more),
            }
        }
        partial = Some(written.partial);
        applied_end = ticket.records.last().map(|record| record.seq + 1);
    }
    if blocks.is_empty() {
        return Ok(());
    }
    shared.log.apply(&blocks)?;
    if let Some(tiles) = tiles {
        shared.log.apply_tiles(tiles.into_batch())?;
    }
    if let Some(partial) = partial {
        *shared.merkle_partial.write().expect("merkle lock") = partial;
    }
    if let Some(end) = applied_end {
        *shared.applied_end.lock().expect("applied lock") = end;
        shared.applied_changed.notify_all();
    }
    Ok(())
}

fn fail_tickets(tickets: Vec<Ticket>, error: impl Fn() -> StoreError) {
    for ticket in tickets {
        fail_pending(ticket.pending, &error);
    }
}

fn fail_pending(pending: Vec<Pending>, error: impl Fn() -> StoreError) {
    for waiting in pending {
        waiting.fail(error());
    }
}

/// What the writer prepared of a group for the applier to apply.
#[derive(Default)]
struct Written {
    /// The group wrote personal values, to be made durable before its blocks are applied.
    personal: bool,
    /// Blocks (first seq, bytes): the group's records, and blocks its redactions rewrote.
    blocks: Vec<(u64, Vec<u8>)>,
    /// The Merkle tiles the group completed.
    tiles: Option<TileWrites>,
    /// The unfinished Merkle leaf tile after the group.
    partial: PartialLeaves,
}

/// The records a group commit will write, with their events already in stored form.
#[derive(Default)]
struct Staged {
    records: Vec<Record>,
    encoded: Vec<Vec<u8>>,
    /// The personal values of each record (beside `encoded`).
    personal: Vec<Option<PersonalBlob>>,
    /// Blocks written before this group that redactions of this group rewrite (markers set,
    /// personal values emptied): first seq → records.
    rewritten: BTreeMap<u64, Vec<StoredRecord>>,
    /// Ranges of `personal.dat` to erase once the group is durable.
    erase: Vec<(u64, u64)>,
    /// Records of this group with client-chosen ids (for idempotent retries within a group).
    client_ids: HashMap<Uuid, Landed>,
}

fn landed(record: &Record, actor: &Arc<str>) -> Landed {
    Landed {
        seq: record.seq,
        event_hash: record.event_hash,
        occurred_on: record.occurred_on,
        actor: actor.clone(),
        hash: record.hash,
    }
}

/// A block written before the group, holding the target of a redaction in it.
struct Target {
    first: u64,
    records: Vec<StoredRecord>,
}

/// `blob` without the values of `fields` (their lengths become 0).
fn blob_without(
    blob: &PersonalBlob,
    event_type: govrec_core::EventType,
    fields: &[String],
) -> Option<PersonalBlob> {
    let mut kept = PersonalBlob {
        lens: Vec::with_capacity(blob.lens.len()),
        bytes: Vec::new(),
    };
    let mut at = 0usize;
    for (field, len) in event_type.personal_fields().iter().zip(&blob.lens) {
        let value = &blob.bytes[at..at + *len as usize];
        at += *len as usize;
        if fields.iter().any(|name| name == field) {
            kept.lens.push(0);
        } else {
            kept.lens.push(*len);
            kept.bytes.extend_from_slice(value);
        }
    }
    (!kept.bytes.is_empty()).then_some(kept)
}

/// A request of the group that passed, waiting for the commit.
enum Pending {
    Append {
        reply: oneshot::Sender<Result<Appended, StoreError>>,
        receipts: Vec<Receipt>,
        replayed: bool,
    },
    Restore {
        reply: oneshot::Sender<Result<Head, StoreError>>,
    },
}

impl Writer {
    fn run(mut self, commands: Receiver<Command>) {
        while let Ok(first) = commands.recv() {
            let mut group = vec![first];
            let mut events = group[0].len();
            while events < self.config.group_events_max {
                match commands.try_recv() {
                    Ok(command) => {
                        events += command.len();
                        group.push(command);
                    }
                    Err(_) => break,
                }
            }
            self.commit_group(group);
        }
        // Let the syncers finish what is in flight, then stop them.
        let (closed, _) = crossbeam_channel::bounded(1);
        drop(std::mem::replace(&mut self.syncer, closed));
        for thread in self.syncer_threads.drain(..) {
            let _ = thread.join();
        }
        self.save_open_state();
    }

    /// Saves what the next open would otherwise rebuild from the whole log. Everything
    /// written is durable and published by now; after a failure nothing is saved, and a
    /// failed save only makes the next open slower.
    fn save_open_state(&self) {
        if self.shared.poisoned.load(Ordering::Acquire) {
            return;
        }
        let event_ids = self.shared.event_ids.read().expect("index lock");
        let entities = self.shared.entities.read().expect("index lock");
        let promises = self.shared.promises.lock().expect("promises lock");
        let saved = open_state::SavedRef {
            head: self.head,
            blocks: self.blocks,
            state: &self.state,
            event_ids: &event_ids,
            entities: &entities,
            personal_end: self.personal_end,
            promises: &promises,
        };
        if let Err(error) = open_state::save(self.shared.log.path(), &saved) {
            tracing::warn!(%error, "could not save the open state; the next open replays the whole log");
        }
    }

    /// Stages a group, writes its personal values and encodes its blocks, then hands it to
    /// the applier, which applies it to sled, and on to the syncer, which acknowledges it once
    /// an fsync covers it. The
    /// writer does no I/O wait and goes on with the next group meanwhile, so CPU work on one
    /// group overlaps the fsyncs of the one before.
    fn commit_group(&mut self, group: Vec<Command>) {
        if self.shared.poisoned.load(Ordering::Acquire) {
            for command in group {
                command.fail(StoreError::Poisoned);
            }
            return;
        }
        self.prune_inflight();
        let now = RecordedAt::now().max(self.head.recorded_at.unwrap_or(RecordedAt(i64::MIN)));
        let mut staged = Staged::default();
        let mut pending = Vec::with_capacity(group.len());
        for command in group {
            match command {
                Command::Append(AppendRequest {
                    actor,
                    events,
                    prepared,
                    reply,
                }) => match self.stage_append(&actor, events, prepared, now, &mut staged) {
                    Ok((receipts, replayed)) => pending.push(Pending::Append {
                        reply,
                        receipts,
                        replayed,
                    }),
                    Err(error) => {
                        let _ = reply.send(Err(error));
                    }
                },
                Command::Restore(request) => {
                    let reply = request.reply;
                    match self.stage_restore(request.records, &mut staged) {
                        Ok(()) => pending.push(Pending::Restore { reply }),
                        Err(error) => {
                            let _ = reply.send(Err(error));
                        }
                    }
                }
            }
        }
        if pending.is_empty() {
            return;
        }
        let mut written = Written::default();
        if !staged.records.is_empty() {
            written = match self.write(&staged) {
                Ok(written) => written,
                Err(error) => {
                    self.shared.poison(&error);
                    for waiting in pending {
                        waiting.fail(StoreError::Poisoned);
                    }
                    return;
                }
            };
            let mut landed: Vec<(Uuid, Landed)> = staged.client_ids.drain().collect();
            landed.sort_by_key(|(_, landed)| landed.seq);
            for (id, landed) in landed {
                self.inflight_order.push_back((landed.seq, id));
                self.inflight_ids.insert(id, landed);
            }
        }
        // Even a group of pure idempotent retries goes through the syncer: what it replays
        // may still be waiting for its fsync.
        let ticket = Ticket {
            records: staged.records,
            written,
            pending,
            erase: staged.erase,
        };
        if let Err(crossbeam_channel::SendError(ticket)) = self.syncer.send(ticket) {
            for waiting in ticket.pending {
                waiting.fail(StoreError::ShuttingDown);
            }
        }
    }

    /// Forgets in-flight records the syncer has made durable (they are in the shared indexes).
    fn prune_inflight(&mut self) {
        let durable_end = self.shared.head.read().expect("head lock").next_seq;
        while self
            .inflight_order
            .front()
            .is_some_and(|(seq, _)| *seq < durable_end)
        {
            let (_, id) = self.inflight_order.pop_front().expect("front exists");
            self.inflight_ids.remove(&id);
        }
    }

    /// Validates one request against the state (including the group's earlier requests) and
    /// stages its records. On error nothing of it is staged and the state is unchanged.
    fn stage_append(
        &mut self,
        actor: &Arc<str>,
        events: Vec<Event>,
        prepared: Vec<PreparedEvent>,
        now: RecordedAt,
        staged: &mut Staged,
    ) -> Result<(Vec<Receipt>, bool), StoreError> {
        if let Some(receipts) = self.idempotent_retry(actor, &prepared, staged)? {
            return Ok((receipts, true));
        }
        let targets = self.load_targets(&events, staged)?;
        self.state.check_and_apply(self.head.next_seq, &events)?;
        let today = BusinessDate::of(now);
        let now_text = now.to_rfc3339();
        let today_text = today.to_iso();
        let mut receipts = Vec::with_capacity(events.len());
        for (event, prepared) in events.into_iter().zip(prepared) {
            let record = Record {
                seq: self.head.next_seq,
                id: prepared.id.unwrap_or_else(Uuid::now_v7),
                recorded_at: now,
                occurred_on: prepared.occurred_on.unwrap_or(today),
                actor: actor.to_string(),
                event,
                event_hash: prepared.event_hash,
                prev_hash: self.head.hash,
                hash: Hash32::ZERO,
                redaction: None,
            };
            let hash = if record.occurred_on == today {
                record.computed_hash_with(&now_text, &today_text)
            } else {
                record.computed_hash_with(&now_text, &record.occurred_on.to_iso())
            };
            let record = Record { hash, ..record };
            receipts.push(Receipt {
                seq: record.seq,
                id: record.id,
                hash: record.hash,
            });
            self.advance(&record);
            if prepared.id.is_some() {
                staged.client_ids.insert(record.id, landed(&record, actor));
            }
            staged.encoded.push(prepared.stored);
            staged.personal.push(prepared.personal);
            staged.records.push(record);
        }
        let first_new = staged.records.len() - receipts.len();
        let redactions: Vec<(u64, govrec_core::event::Redacted)> = staged.records[first_new..]
            .iter()
            .filter_map(|record| match &record.event {
                Event::Redacted(redacted) => Some((record.seq, redacted.clone())),
                _ => None,
            })
            .collect();
        let mut targets = targets;
        for (by_seq, redacted) in redactions {
            self.stage_redaction(by_seq, redacted, &mut targets, staged);
        }
        Ok((receipts, false))
    }

    /// The stored blocks (and decoded events) of the records written before this group that
    /// the request's `Redacted` events name, read before the request changes anything, so
    /// staging the redaction cannot fail half-way. Targets that do not exist are left to the
    /// rules.
    fn load_targets(&self, events: &[Event], staged: &Staged) -> Result<Vec<Target>, StoreError> {
        let group_start = staged
            .records
            .first()
            .map_or(self.head.next_seq, |record| record.seq);
        let mut targets = Vec::new();
        for event in events {
            let Event::Redacted(redacted) = event else {
                continue;
            };
            let seq = redacted.target_seq;
            if seq >= group_start {
                continue;
            }
            let rewritten = staged
                .rewritten
                .range(..=seq)
                .next_back()
                .is_some_and(|(first, records)| seq < first + records.len() as u64);
            if rewritten {
                continue;
            }
            self.wait_applied(seq + 1)?;
            let (first, records) = self.shared.log.stored_block_containing(seq)?;
            govrec_core::stored::decode_event(&records[(seq - first) as usize].event).map_err(|error| {
                StoreError::Corrupt {
                    seq,
                    reason: format!("event: {error}"),
                }
            })?;
            targets.push(Target { first, records });
        }
        Ok(targets)
    }

    /// Applies an accepted `Redacted` record (seq `by_seq`) to its target: the target gets its
    /// marker and loses the named personal values. A target in this group simply never has
    /// them written; a target written before has its block rewritten in this group's batch and
    /// its values in `personal.dat` erased once the group is durable.
    fn stage_redaction(
        &mut self,
        by_seq: u64,
        redacted: govrec_core::event::Redacted,
        targets: &mut Vec<Target>,
        staged: &mut Staged,
    ) {
        let seq = redacted.target_seq;
        let marker = Redaction {
            by_seq,
            fields: redacted.fields,
        };
        let group_start = staged.records[0].seq;
        if seq >= group_start {
            let index = (seq - group_start) as usize;
            let record = &mut staged.records[index];
            govrec_core::personal::erase_fields(&mut record.event, &marker.fields);
            if let Some(blob) = staged.personal[index].take() {
                staged.personal[index] = blob_without(&blob, record.event.event_type(), &marker.fields);
            }
            record.redaction = Some(marker);
            return;
        }
        if let Some(position) = targets
            .iter()
            .position(|target| seq >= target.first && seq < target.first + target.records.len() as u64)
        {
            let target = targets.swap_remove(position);
            staged.rewritten.entry(target.first).or_insert(target.records);
        }
        let Some((&first, records)) = staged.rewritten.range_mut(..=seq).next_back() else {
            return;
        };
        let index = (seq - first) as usize;
        let Some(stored) = records.get_mut(index) else {
            return;
        };
        let Ok(mut event) = govrec_core::stored::decode_event(&stored.event) else {
            return;
        };
        if let Some(reference) = &stored.personal {
            staged
                .erase
                .extend(reference.ranges_of(event.event_type(), &marker.fields));
        }
        // A version-1 block kept personal values in the event bytes: empty them there too.
        govrec_core::personal::erase_fields(&mut event, &marker.fields);
        stored.event = govrec_core::stored::encode_event(&event);
        stored.redaction = Some(marker);
    }

    /// If the request's events were all recorded before with identical content, their
    /// original receipts; a conflict if some ids are known with other content or the batch
    /// mixes known and new ids; `None` when no id is known.
    fn idempotent_retry(
        &self,
        actor: &Arc<str>,
        events: &[PreparedEvent],
        staged: &Staged,
    ) -> Result<Option<Vec<Receipt>>, StoreError> {
        if events.iter().all(|event| event.id.is_none()) {
            return Ok(None);
        }
        let mut known = Vec::new();
        for (index, event) in events.iter().enumerate() {
            let Some(id) = event.id else { continue };
            if let Some(original) = self.find_landed(&id, staged)? {
                known.push((index, id, original));
            }
        }
        if known.is_empty() {
            return Ok(None);
        }
        if known.len() != events.len() {
            let (index, id, original) = &known[0];
            return Err(StoreError::IdempotencyConflict {
                index: *index,
                id: *id,
                seq: original.seq,
            });
        }
        let mut receipts = Vec::with_capacity(known.len());
        for (index, id, original) in known {
            let prepared = &events[index];
            let same_date = prepared
                .occurred_on
                .is_none_or(|date| date == original.occurred_on);
            if original.event_hash != prepared.event_hash || !same_date || *original.actor != **actor {
                return Err(StoreError::IdempotencyConflict {
                    index,
                    id,
                    seq: original.seq,
                });
            }
            receipts.push(Receipt {
                seq: original.seq,
                id,
                hash: original.hash,
            });
        }
        Ok(Some(receipts))
    }

    /// The record that carries event id `id`, wherever it is: staged in this group, written
    /// and waiting for its fsync, or committed.
    fn find_landed(&self, id: &Uuid, staged: &Staged) -> Result<Option<Landed>, StoreError> {
        if let Some(landed) = staged.client_ids.get(id).or_else(|| self.inflight_ids.get(id)) {
            return Ok(Some(landed.clone()));
        }
        let committed = self.shared.event_ids.read().expect("index lock").get(id).copied();
        match committed {
            Some(seq) => {
                let record = self.read_committed(seq)?;
                Ok(Some(landed(&record, &Arc::from(record.actor.as_str()))))
            }
            None => Ok(None),
        }
    }

    fn read_committed(&self, seq: u64) -> Result<Record, StoreError> {
        self.shared.log.record(seq)
    }

    fn stage_restore(&mut self, records: Vec<Record>, staged: &mut Staged) -> Result<(), StoreError> {
        // Check everything before touching the state so a bad record stages nothing.
        let mut expected = self.head;
        let mut batch_ids = HashMap::with_capacity(records.len());
        let mut promises = self.shared.promises.lock().expect("promises lock").clone();
        // `Redacted` records no marker promised (records restored from a source that keeps
        // the targets whole, as a replay of events would): applied to their targets as an
        // append applies them.
        let mut to_apply = Vec::new();
        {
            let event_ids = self.shared.event_ids.read().expect("index lock");
            for record in &records {
                check_continues(&expected, record)?;
                if check_promises(&mut promises, record)? {
                    if let Event::Redacted(redacted) = &record.event {
                        let target = redacted.target_seq;
                        if self.marker_of(target, &records, staged)?.is_some() {
                            return Err(StoreError::InvalidRecord {
                                seq: record.seq,
                                reason: format!(
                                    "this Redacted record names record {target}, which another \
                                     redaction already marks"
                                ),
                            });
                        }
                        to_apply.push((record.seq, redacted.clone()));
                    }
                }
                let id_taken = event_ids.contains_key(&record.id)
                    || staged.client_ids.contains_key(&record.id)
                    || self.inflight_ids.contains_key(&record.id);
                if id_taken || batch_ids.insert(record.id, record.seq).is_some() {
                    return Err(StoreError::InvalidRecord {
                        seq: record.seq,
                        reason: format!("event id {} is already in the log", record.id),
                    });
                }
                expected = Head {
                    next_seq: record.seq + 1,
                    hash: record.hash,
                    recorded_at: Some(record.recorded_at),
                };
            }
        }
        for (applied, record) in records.iter().enumerate() {
            if let Err(error) = self.state.apply_recorded(record.seq, &record.event) {
                // The state now holds part of this request; rebuild it from what is really
                // committed and staged (a rare path: exports come from a valid log).
                self.rebuild_state(&staged.records)?;
                return Err(StoreError::InvalidRecord {
                    seq: records[applied].seq,
                    reason: error.to_string(),
                });
            }
        }
        let events: Vec<Event> = to_apply
            .iter()
            .map(|(_, redacted)| Event::Redacted(redacted.clone()))
            .collect();
        let mut targets = match self.load_targets(&events, staged) {
            Ok(targets) => targets,
            Err(error) => {
                self.rebuild_state(&staged.records)?;
                return Err(error);
            }
        };
        *self.shared.promises.lock().expect("promises lock") = promises;
        for mut record in records {
            self.advance(&record);
            staged
                .client_ids
                .insert(record.id, landed(&record, &Arc::from(record.actor.as_str())));
            let mut event = Vec::with_capacity(96);
            let personal = encode_stripped(&mut record.event, &mut event);
            staged.encoded.push(event);
            staged.personal.push(personal);
            staged.records.push(record);
        }
        for (by_seq, redacted) in to_apply {
            self.stage_redaction(by_seq, redacted, &mut targets, staged);
        }
        Ok(())
    }

    /// The redaction marker record `seq` carries: in `request` (being restored), staged in
    /// this group, or written before.
    fn marker_of(
        &self,
        seq: u64,
        request: &[Record],
        staged: &Staged,
    ) -> Result<Option<Redaction>, StoreError> {
        let in_list = |records: &[Record]| {
            let first = records.first()?.seq;
            let index = usize::try_from(seq.checked_sub(first)?).ok()?;
            records.get(index).map(|record| record.redaction.clone())
        };
        if let Some(marker) = in_list(request).or_else(|| in_list(&staged.records)) {
            return Ok(marker);
        }
        if let Some((first, records)) = staged.rewritten.range(..=seq).next_back() {
            if let Some(record) = records.get((seq - first) as usize) {
                return Ok(record.redaction.clone());
            }
        }
        if seq >= self.head.next_seq {
            return Ok(None);
        }
        self.wait_applied(seq + 1)?;
        let (first, records) = self.shared.log.stored_block_containing(seq)?;
        Ok(records[(seq - first) as usize].redaction.clone())
    }

    /// Rebuilds the validation state from the committed log plus the group's staged records.
    fn rebuild_state(&mut self, staged: &[Record]) -> Result<(), StoreError> {
        let mut state = State::new();
        // Everything before the group's staged records is in sled (durable or in flight).
        let written_end = staged.first().map_or(self.head.next_seq, |record| record.seq);
        self.wait_applied(written_end)?;
        self.shared
            .log
            .for_each_record(Some(written_end), |record| apply_or_corrupt(&mut state, &record))?;
        for record in staged {
            apply_or_corrupt(&mut state, record)?;
        }
        self.state = state;
        Ok(())
    }

    fn advance(&mut self, record: &Record) {
        self.head = Head {
            next_seq: record.seq + 1,
            hash: record.hash,
            recorded_at: Some(record.recorded_at),
        };
    }

    /// Writes the group's personal values to `personal.dat`, packs its records into blocks
    /// and computes the Merkle tiles they complete. The applier makes the personal values
    /// durable, then applies the blocks and tiles; the syncer makes those durable.
    fn write(&mut self, staged: &Staged) -> Result<Written, StoreError> {
        let mut personal_bytes = Vec::new();
        let mut references = Vec::with_capacity(staged.records.len());
        for blob in &staged.personal {
            references.push(blob.as_ref().map(|blob| {
                let offset = self.personal_end + personal_bytes.len() as u64;
                personal_bytes.extend_from_slice(&blob.bytes);
                PersonalRef {
                    offset,
                    lens: blob.lens.clone(),
                }
            }));
        }
        if !personal_bytes.is_empty() {
            self.shared
                .log
                .write_personal(self.personal_end, &personal_bytes)?;
            self.personal_end += personal_bytes.len() as u64;
        }
        let mut blocks = Vec::new();
        let mut current: Vec<StoredRecordRef> = Vec::new();
        let mut current_bytes = 0;
        for ((record, event), personal) in staged.records.iter().zip(&staged.encoded).zip(&references) {
            let stored = StoredRecordRef::new(record, event, personal.as_ref());
            let size = stored.size_estimate();
            if !current.is_empty() && current_bytes + size > self.config.block_bytes_max {
                blocks.push((current[0].seq, encode_block(&current, current_bytes)));
                current.clear();
                current_bytes = 0;
            }
            current_bytes += size;
            current.push(stored);
        }
        blocks.push((current[0].seq, encode_block(&current, current_bytes)));
        for (first, records) in &staged.rewritten {
            blocks.push((*first, encode_block(records, self.config.block_bytes_max)));
        }
        self.blocks += (blocks.len() - staged.rewritten.len()) as u64;
        assert_eq!(self.tiles.size(), staged.records[0].seq, "tiles follow the log");
        let started = Instant::now();
        let tiles = self
            .tiles
            .append(staged.records.iter().map(|record| leaf_hash(&record.hash)));
        let written = Written {
            personal: !personal_bytes.is_empty(),
            blocks,
            tiles: (!tiles.is_empty()).then_some(tiles),
            partial: self.tiles.partial_leaves(),
        };
        self.shared
            .merkle_nanos
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        Ok(written)
    }

    /// Waits until the applier has applied the blocks of every record before `end`, so the
    /// writer can read back what it wrote (redaction targets, markers, a state rebuild).
    fn wait_applied(&self, end: u64) -> Result<(), StoreError> {
        let mut applied = self.shared.applied_end.lock().expect("applied lock");
        while *applied < end {
            if self.shared.poisoned.load(Ordering::Acquire) {
                return Err(StoreError::Poisoned);
            }
            applied = self
                .shared
                .applied_changed
                .wait_timeout(applied, Duration::from_millis(10))
                .expect("applied lock")
                .0;
        }
        Ok(())
    }
}

/// Loads the Merkle tiles and brings them level with the log (`head` records): the unfinished
/// leaf tile, never stored, and tiles behind the log (a crash between the two batches of a
/// commit, or a store written before the tree existed) are completed from the records; tiles
/// ahead of it cannot come from a commit and are rebuilt from scratch.
fn catch_up_tiles(log: &Log, head: u64) -> Result<TileWriter, StoreError> {
    let mut tiles = TileWriter::load(log.merkle_tree())?;
    if tiles.size() > head {
        log.merkle_tree().clear()?;
        tiles = TileWriter::load(log.merkle_tree())?;
    }
    if tiles.size() == head {
        return Ok(tiles);
    }
    const LEAVES_PER_BATCH: usize = 64 * 1024;
    let from = tiles.size();
    let mut leaves = Vec::with_capacity(LEAVES_PER_BATCH);
    let mut wrote = false;
    let mut write = |writes: TileWrites| -> Result<(), StoreError> {
        if !writes.is_empty() {
            wrote = true;
            log.apply_tiles(writes.into_batch())?;
        }
        Ok(())
    };
    for block in log.blocks_from(from) {
        let (first, bytes) = block?;
        if first >= head {
            break;
        }
        for record in decode_block(first, &bytes)? {
            if record.seq >= from && record.seq < head {
                leaves.push(leaf_hash(&Hash32(record.hash)));
            }
        }
        if leaves.len() >= LEAVES_PER_BATCH {
            write(tiles.append(leaves.drain(..)))?;
        }
    }
    write(tiles.append(leaves.drain(..)))?;
    if tiles.size() != head {
        return Err(StoreError::Corrupt {
            seq: tiles.size(),
            reason: "the Merkle tree could not be rebuilt up to the head".to_owned(),
        });
    }
    if wrote {
        log.sync()?;
    }
    Ok(tiles)
}

fn apply_or_corrupt(state: &mut State, record: &Record) -> Result<(), StoreError> {
    state
        .apply_recorded(record.seq, &record.event)
        .map_err(|error| StoreError::Corrupt {
            seq: record.seq,
            reason: error.to_string(),
        })
}

/// Checks a restored record against the redactions promised so far and records its own:
/// a record with a marker promises that record K (later) is the `Redacted` event naming it
/// and those fields. Returns true for a `Redacted` record no marker promised (to be applied
/// to its target, as an append would).
fn check_promises(
    promises: &mut BTreeMap<u64, (u64, Vec<String>)>,
    record: &Record,
) -> Result<bool, StoreError> {
    let invalid = |reason: String| StoreError::InvalidRecord {
        seq: record.seq,
        reason,
    };
    let mut unpromised = false;
    match (promises.remove(&record.seq), &record.event) {
        (Some((target, fields)), event) => {
            let marker = Redaction {
                by_seq: record.seq,
                fields,
            };
            if !redaction_matches(event, target, &marker) {
                return Err(invalid(format!(
                    "record {target} is marked redacted by record {} with fields {:?}, but this \
                     record is not that Redacted event",
                    record.seq, marker.fields
                )));
            }
        }
        (None, Event::Redacted(_)) => unpromised = true,
        (None, _) => {}
    }
    if let Some(redaction) = &record.redaction {
        crate::record::check_marker(record.seq, record.event.event_type(), redaction).map_err(invalid)?;
        if promises.contains_key(&redaction.by_seq) {
            return Err(invalid(format!(
                "record {} is promised as the redaction of two records",
                redaction.by_seq
            )));
        }
        promises.insert(redaction.by_seq, (record.seq, redaction.fields.clone()));
    }
    Ok(unpromised)
}

/// Checks that `record` is a valid next record after `head`.
fn check_continues(head: &Head, record: &Record) -> Result<(), StoreError> {
    let invalid = |reason: String| StoreError::InvalidRecord {
        seq: record.seq,
        reason,
    };
    if record.seq != head.next_seq {
        return Err(invalid(format!(
            "seq {} does not continue the log at {}",
            record.seq, head.next_seq
        )));
    }
    if record.prev_hash != head.hash {
        return Err(invalid(
            "prev_hash is not the hash of the previous record".to_owned(),
        ));
    }
    if head.recorded_at.is_some_and(|last| record.recorded_at < last) {
        return Err(invalid("recorded_at is before the previous record's".to_owned()));
    }
    record.self_check().map_err(|reason| invalid(reason.to_owned()))
}

impl Command {
    fn len(&self) -> usize {
        match self {
            Command::Append(request) => request.events.len(),
            Command::Restore(request) => request.records.len(),
        }
    }

    fn fail(self, error: StoreError) {
        match self {
            Command::Append(request) => {
                let _ = request.reply.send(Err(error));
            }
            Command::Restore(request) => {
                let _ = request.reply.send(Err(error));
            }
        }
    }
}

impl Pending {
    fn succeed(self, head: Head) {
        match self {
            Pending::Append {
                reply,
                receipts,
                replayed,
            } => {
                let _ = reply.send(Ok(Appended {
                    receipts,
                    head,
                    replayed,
                }));
            }
            Pending::Restore { reply } => {
                let _ = reply.send(Ok(head));
            }
        }
    }

    fn fail(self, error: StoreError) {
        match self {
            Pending::Append { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            Pending::Restore { reply } => {
                let _ = reply.send(Err(error));
            }
        }
    }
}
