//! The store's public face: opening a store, appending, restoring and reading records, the
//! Merkle proofs and signed checkpoints over them. The work behind it lives in its own rooms:
//! `open` (the open-time rebuild), `writer` (staging and idempotency), `redaction`, `pipeline`
//! (the applier and syncer threads) and `head` (what a commit returns).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::Sender;
use govrec_core::state::CountyScope;
use govrec_core::Event;
use uuid::Uuid;

use crate::backend::Keyspace;
use crate::checkpoint::CheckpointSigner;
use crate::config::{StoreConfig, EVENT_BYTES_MAX};
use crate::error::{BadRequestCode, StoreError};
use crate::hash::{event_hash, Hash32};
use crate::head::{Appended, Head};
use crate::log::{Log, BLOCK_BYTES_LIMIT};
use crate::open::{catch_up_tiles, Rebuilt};
use crate::pipeline::{run_applier, run_syncer};
use crate::record::{encode_stripped, validate_actor, BusinessDate, Record};
use crate::shared::Shared;
use crate::tiles::TileReader;
use crate::writer::{AppendRequest, Command, PreparedEvent, RestoreRequest, Writer};
use crate::{merkle, open_state};

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

/// The event store. Cheap to share behind an `Arc`; all methods take `&self`.
pub struct Store {
    pub(crate) shared: Arc<Shared>,
    /// `None` once the store is shutting down.
    pub(crate) commands: RwLock<Option<Sender<Command>>>,
    pub(crate) writer: Mutex<Option<JoinHandle<()>>>,
    pub(crate) config: StoreConfig,
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
        let mut durable_when_closed = None;
        let (mut rebuilt, saved_state_ignored) = match open_state::load(dir) {
            Ok(None) => (None, None),
            Ok(Some(saved)) => {
                durable_when_closed = Some(saved.head.next_seq);
                let mut rebuilt = Rebuilt::from_saved(saved);
                match rebuilt.scan(&log, config.tail_check_records) {
                    Ok(()) => (Some(rebuilt), None),
                    Err(error) => (None, Some(error.to_string())),
                }
            }
            Err(reason) => (None, Some(reason.to_string())),
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
        // Checked before anything is settled or trimmed: the files stay as they were found.
        check_known_durable_with(dir, &log, rebuilt.head.next_seq, durable_when_closed)?;
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
            state: RwLock::new(rebuilt.state),
            head: RwLock::new(rebuilt.head),
            event_ids: RwLock::new(rebuilt.event_ids),
            entities: RwLock::new(rebuilt.entities),
            poisoned: AtomicBool::new(false),
            damage: Mutex::new(None),
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
        self.append_within(actor, CountyScope::Everywhere, events)
    }

    /// `append` for a principal limited to some counties: every event must also touch only
    /// counties in `scope`, judged against the state with the batch's earlier events applied,
    /// or the batch is refused with [`StoreError::OutOfScope`] and nothing is stored.
    pub fn append_within(
        &self,
        actor: &str,
        scope: CountyScope,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        let (request, reply) = self.prepare(actor, scope, events)?;
        self.send(Command::Append(request))?;
        reply.recv().map_err(|_| StoreError::ShuttingDown)?
    }

    /// `append` for async callers: the work is done by the writer thread and the caller's
    /// task is parked on a channel, not a thread.
    pub fn append_nonblocking(
        &self,
        actor: &str,
        scope: CountyScope,
        events: Vec<NewEvent>,
    ) -> Result<oneshot::Receiver<Result<Appended, StoreError>>, StoreError> {
        let (request, reply) = self.prepare(actor, scope, events)?;
        self.send(Command::Append(request))?;
        Ok(reply)
    }

    fn prepare(
        &self,
        actor: &str,
        scope: CountyScope,
        events: Vec<NewEvent>,
    ) -> Result<(AppendRequest, oneshot::Receiver<Result<Appended, StoreError>>), StoreError> {
        if events.is_empty() {
            return Err(StoreError::bad_request(
                BadRequestCode::EmptyBatch,
                None,
                Some("events"),
                "a batch needs at least one event",
            ));
        }
        if events.len() > self.config.batch_events_max {
            return Err(StoreError::bad_request(
                BadRequestCode::TooManyEvents,
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
            .map_err(|message| StoreError::bad_request(BadRequestCode::InvalidActor, None, None, message))?;
        let mut seen = HashMap::with_capacity(events.len());
        for (index, event) in events.iter().enumerate() {
            if let Some(id) = event.id {
                if let Some(first) = seen.insert(id, index) {
                    return Err(StoreError::bad_request(
                        BadRequestCode::DuplicateId,
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
                    BadRequestCode::PayloadTooLarge,
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
                scope,
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
        self.noting_damage(self.shared.log.record(seq).map(Some))
    }

    /// Why reading the log failed on damage since the store opened (a record that does not
    /// decode or breaks the chain, a database that fails reading its files), if it did: the
    /// service is then not ready (`/readyz`), though it goes on answering what it can read.
    pub fn damage(&self) -> Option<String> {
        self.shared.damage.lock().expect("damage lock").clone()
    }

    /// Recomputes the chain over records `from..=to` (see [`crate::verify_log`]); damage found
    /// is remembered (see [`Store::damage`]).
    pub fn verify(&self, from: u64, to: Option<u64>) -> Result<crate::Verification, StoreError> {
        let verification = self.noting_damage(crate::verify_log(&self.shared.log, from, to))?;
        if let crate::Verification::Damaged {
            first_bad_seq,
            reason,
        } = &verification
        {
            self.note_damage(format!("record {first_bad_seq} is damaged: {reason}"));
        }
        Ok(verification)
    }

    /// Passes `result` on, remembering the first damage it reports (see [`Store::damage`]).
    fn noting_damage<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(error @ (StoreError::Corrupt { .. } | StoreError::Damaged { .. })) = &result {
            self.note_damage(error.to_string());
        }
        result
    }

    /// Remembers `damage` unless some was found before.
    fn note_damage(&self, damage: String) {
        let mut first = self.shared.damage.lock().expect("damage lock");
        if first.is_none() {
            tracing::error!(%damage, "the log is damaged");
            *first = Some(damage);
        }
    }

    /// Up to `limit` committed records from `from_seq` on, in order.
    pub fn read_range(&self, from_seq: u64, limit: usize) -> Result<Vec<Record>, StoreError> {
        self.noting_damage(self.read_range_unnoted(from_seq, limit))
    }

    fn read_range_unnoted(&self, from_seq: u64, limit: usize) -> Result<Vec<Record>, StoreError> {
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
        self.noting_damage(self.shared.log.for_each_record(Some(self.head().next_seq), visit))
    }

    /// The seq of the record with this event id, if any.
    pub fn seq_of_event(&self, id: &Uuid) -> Option<u64> {
        self.shared.event_ids.read().expect("index lock").get(id).copied()
    }

    /// The seqs of every record that created or changed entity `id`, in log order.
    pub fn entity_seqs(&self, id: &Uuid) -> Vec<u64> {
        self.shared.entities.read().expect("index lock").seqs(id)
    }

    /// The county an entity belongs to, for office scopes: a member's current home county,
    /// the county anything else was created in (see `govrec_core::State::county_of`). It may
    /// already reflect the group of appends being committed.
    pub fn county_of(&self, id: &Uuid) -> Option<Uuid> {
        self.shared.state.read().expect("state lock").county_of(*id)
    }

    /// The counties a record touches, for office scopes: those of every entity its event
    /// references, and for a redaction those of its target.
    pub fn counties_of(&self, record: &Record) -> Result<BTreeSet<Uuid>, StoreError> {
        let target;
        let event = match &record.event {
            Event::Redacted(redacted) => match self.get(redacted.target_seq)? {
                Some(found) => {
                    target = found;
                    &target.event
                }
                None => return Ok(BTreeSet::new()),
            },
            event => event,
        };
        Ok(self
            .shared
            .state
            .read()
            .expect("state lock")
            .counties_touched(event))
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
                BadRequestCode::InvalidLeafIndex,
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
                BadRequestCode::InvalidTreeSize,
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
        TileReader::new(self.shared.log.backend(), partial)
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
            .backend()
            .put_batch(Keyspace::Checkpoints, &[(&size.to_be_bytes(), note.as_bytes())])?;
        Ok((size, note))
    }

    /// The checkpoint issued earlier for tree size `size`, if one was.
    pub fn checkpoint_at(&self, size: u64) -> Result<Option<String>, StoreError> {
        match self
            .shared
            .log
            .backend()
            .get(Keyspace::Checkpoints, &size.to_be_bytes())?
        {
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
                BadRequestCode::TreeSizeBeyondHead,
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

/// Refuses (as [`StoreError::Damaged`]) a log of `records` records that holds fewer than the
/// directory knows were durable (its durable-head mark, kept while the store runs, or its
/// saved open state, kept at a clean stop), or whose record at the mark has another hash:
/// records were lost, or another log was put in this directory. `Store::open` checks this;
/// `govrec verify` asks it of the log it verified.
pub fn check_known_durable(dir: &Path, log: &Log, records: u64) -> Result<(), StoreError> {
    check_known_durable_with(dir, log, records, open_state::saved_records(dir))
}

fn check_known_durable_with(
    dir: &Path,
    log: &Log,
    records: u64,
    durable_when_closed: Option<u64>,
) -> Result<(), StoreError> {
    let mark = crate::durable_mark::read_durable_mark(dir);
    let last_good = records
        .checked_sub(1)
        .map_or_else(|| "none".to_owned(), |seq| seq.to_string());
    let known = [
        (
            durable_when_closed,
            open_state::OPEN_STATE_FILE,
            "when the store last closed",
        ),
        (
            mark.map(|mark| mark.records),
            crate::durable_mark::DURABLE_MARK_FILE,
            "by the durable-head mark",
        ),
    ];
    for (known, file, how) in known {
        if let Some(known) = known.filter(|&known| records < known) {
            return Err(StoreError::Damaged {
                reason: format!(
                    "it holds {records} records, but {known} were durable {how} (the last good record is \
                     seq {last_good}); if an older copy of the log was put here on purpose, delete {} first",
                    dir.join(file).display()
                ),
            });
        }
    }
    if let Some(mark) = mark.filter(|mark| mark.records > 0 && mark.records <= records) {
        let seq = mark.records - 1;
        let record = log.record(seq)?;
        if record.hash != mark.hash {
            return Err(StoreError::Damaged {
                reason: format!(
                    "record {seq} has hash {}, but the durable-head mark says {}: this is not the log \
                     this directory held; if it was put here on purpose, delete {} first",
                    record.hash,
                    mark.hash,
                    dir.join(crate::durable_mark::DURABLE_MARK_FILE).display()
                ),
            });
        }
    }
    Ok(())
}
