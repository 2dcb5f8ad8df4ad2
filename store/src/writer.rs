//! The single writer thread: it validates each request against the state, assigns seqs and
//! times, chains the records, answers idempotent retries and hands whole groups to the
//! pipeline.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};
use govrec_core::state::{CountyScope, Refusal, State};
use govrec_core::Event;
use uuid::Uuid;

use crate::config::StoreConfig;
use crate::error::StoreError;
use crate::hash::Hash32;
use crate::head::{Appended, Head, Receipt};
use crate::log::encode_block;
use crate::merkle::leaf_hash;
use crate::open::{apply_or_corrupt, check_continues};
use crate::pipeline::{Pending, Ticket, Written};
use crate::record::{
    encode_stripped, BusinessDate, PersonalBlob, PersonalRef, Record, RecordedAt, StoredRecordRef,
};
use crate::redaction::check_promises;
use crate::shared::Shared;
use crate::staged::{landed, Landed, Staged};
use crate::tiles::TileWriter;
use crate::{open_state, redaction};

pub(crate) enum Command {
    Append(AppendRequest),
    Restore(RestoreRequest),
}

impl Command {
    pub(crate) fn len(&self) -> usize {
        match self {
            Command::Append(request) => request.events.len(),
            Command::Restore(request) => request.records.len(),
        }
    }

    pub(crate) fn fail(self, error: StoreError) {
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

pub(crate) struct AppendRequest {
    pub(crate) actor: Arc<str>,
    /// The counties the principal may touch.
    pub(crate) scope: CountyScope,
    /// The events, apart from what was prepared for them, so the rules can take the slice.
    pub(crate) events: Vec<Event>,
    pub(crate) prepared: Vec<PreparedEvent>,
    pub(crate) reply: oneshot::Sender<Result<Appended, StoreError>>,
}

pub(crate) struct RestoreRequest {
    pub(crate) records: Vec<Record>,
    pub(crate) reply: oneshot::Sender<Result<Head, StoreError>>,
}

/// An event with the work that needs no log state done by the caller's thread (hashing,
/// encoding), so the single writer does only what must be serial.
pub(crate) struct PreparedEvent {
    pub(crate) id: Option<Uuid>,
    pub(crate) occurred_on: Option<BusinessDate>,
    pub(crate) event_hash: Hash32,
    /// The stored form without personal values, which are in `personal`.
    pub(crate) stored: Vec<u8>,
    pub(crate) personal: Option<PersonalBlob>,
}

/// The single writer: owns the validation state and the head while it prepares a group.
pub(crate) struct Writer {
    pub(crate) shared: Arc<Shared>,
    /// The head including records handed to the syncer but not yet durable.
    pub(crate) head: Head,
    /// The Merkle tree's unfinished tiles (up to `head`).
    pub(crate) tiles: TileWriter,
    /// The end of `personal.dat` (what records written so far reference).
    pub(crate) personal_end: u64,
    /// Blocks in the log (kept for the saved open state).
    pub(crate) blocks: u64,
    pub(crate) config: StoreConfig,
    /// Records with client-chosen ids handed to the syncer, not yet
    /// durable (so not yet in the shared index): by id, and in seq order for pruning.
    pub(crate) inflight_ids: HashMap<Uuid, Landed>,
    pub(crate) inflight_order: VecDeque<(u64, Uuid)>,
    /// The first stage of the way to durability (`run_applier`).
    pub(crate) syncer: Sender<Ticket>,
    /// The applier, then the syncer.
    pub(crate) syncer_threads: Vec<JoinHandle<()>>,
}

impl Writer {
    pub(crate) fn run(mut self, commands: Receiver<Command>) {
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
    pub(crate) fn save_open_state(&self) {
        if self.shared.poisoned.load(Ordering::Acquire) {
            return;
        }
        let event_ids = self.shared.event_ids.read().expect("index lock");
        let entities = self.shared.entities.read().expect("index lock");
        let promises = self.shared.promises.lock().expect("promises lock");
        let state = self.shared.state.read().expect("state lock");
        let saved = open_state::SavedRef {
            head: self.head,
            blocks: self.blocks,
            state: &state,
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
    pub(crate) fn commit_group(&mut self, group: Vec<Command>) {
        if self.shared.poisoned.load(Ordering::Acquire) {
            for command in group {
                command.fail(StoreError::Poisoned);
            }
            return;
        }
        self.prune_inflight();
        let now = RecordedAt::now().max(self.head.recorded_at.unwrap_or(RecordedAt::from_micros(i64::MIN)));
        let mut staged = Staged::default();
        let mut pending = Vec::with_capacity(group.len());
        for command in group {
            match command {
                Command::Append(AppendRequest {
                    actor,
                    scope,
                    events,
                    prepared,
                    reply,
                }) => match self.stage_append(&actor, &scope, events, prepared, now, &mut staged) {
                    Ok((receipts, idempotent_retry)) => pending.push(Pending::Append {
                        reply,
                        receipts,
                        idempotent_retry,
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
    pub(crate) fn prune_inflight(&mut self) {
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
    pub(crate) fn stage_append(
        &mut self,
        actor: &Arc<str>,
        scope: &CountyScope,
        events: Vec<Event>,
        prepared: Vec<PreparedEvent>,
        now: RecordedAt,
        staged: &mut Staged,
    ) -> Result<(Vec<Receipt>, bool), StoreError> {
        if let Some(receipts) = self.idempotent_retry(actor, &prepared, staged)? {
            return Ok((receipts, true));
        }
        let targets = redaction::load_targets(&self.shared, self.head.next_seq, &events, staged)?;
        self.shared
            .state
            .write()
            .expect("state lock")
            .check_and_apply_within(self.head.next_seq, &events, scope)
            .map_err(|refusal| match refusal {
                Refusal::Broken(violation) => StoreError::Rejected(violation),
                Refusal::OutOfScope { index, county } => StoreError::OutOfScope { index, county },
            })?;
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
            redaction::stage_redaction(by_seq, redacted, &mut targets, staged);
        }
        Ok((receipts, false))
    }

    /// If the request's events were all recorded before with identical content, their
    /// original receipts; a conflict if some ids are known with other content or the batch
    /// mixes known and new ids; `None` when no id is known.
    pub(crate) fn idempotent_retry(
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
    pub(crate) fn find_landed(&self, id: &Uuid, staged: &Staged) -> Result<Option<Landed>, StoreError> {
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

    pub(crate) fn read_committed(&self, seq: u64) -> Result<Record, StoreError> {
        self.shared.log.record(seq)
    }

    pub(crate) fn stage_restore(
        &mut self,
        records: Vec<Record>,
        staged: &mut Staged,
    ) -> Result<(), StoreError> {
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
                        if redaction::marker_of(&self.shared, self.head.next_seq, target, &records, staged)?
                            .is_some()
                        {
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
        for (index, record) in records.iter().enumerate() {
            let applied = self
                .shared
                .state
                .write()
                .expect("state lock")
                .apply_recorded(record.seq, &record.event);
            if let Err(error) = applied {
                // The state now holds part of this request; rebuild it from what is really
                // committed and staged (a rare path: exports come from a valid log).
                self.rebuild_state(&staged.records)?;
                return Err(StoreError::InvalidRecord {
                    seq: records[index].seq,
                    reason: error.to_string(),
                });
            }
        }
        let events: Vec<Event> = to_apply
            .iter()
            .map(|(_, redacted)| Event::Redacted(redacted.clone()))
            .collect();
        let mut targets = match redaction::load_targets(&self.shared, self.head.next_seq, &events, staged) {
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
            redaction::stage_redaction(by_seq, redacted, &mut targets, staged);
        }
        Ok(())
    }

    /// Rebuilds the validation state from the committed log plus the group's staged records.
    pub(crate) fn rebuild_state(&mut self, staged: &[Record]) -> Result<(), StoreError> {
        let mut state = State::new();
        // Everything before the group's staged records is in sled (durable or in flight).
        let written_end = staged.first().map_or(self.head.next_seq, |record| record.seq);
        self.shared.wait_applied(written_end)?;
        self.shared
            .log
            .for_each_record(Some(written_end), |record| apply_or_corrupt(&mut state, &record))?;
        for record in staged {
            apply_or_corrupt(&mut state, record)?;
        }
        *self.shared.state.write().expect("state lock") = state;
        Ok(())
    }

    pub(crate) fn advance(&mut self, record: &Record) {
        self.head = Head {
            next_seq: record.seq + 1,
            hash: record.hash,
            recorded_at: Some(record.recorded_at),
        };
    }

    /// Writes the group's personal values to `personal.dat`, packs its records into blocks
    /// and computes the Merkle tiles they complete. The applier makes the personal values
    /// durable, then applies the blocks and tiles; the syncer makes those durable.
    pub(crate) fn write(&mut self, staged: &Staged) -> Result<Written, StoreError> {
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
}
