//! Opening a store: the rebuild of the head, the indexes and the validation state from the log
//! (or from the saved open state, checked against the log), and the Merkle tiles' catch-up.

use std::collections::BTreeMap;

use crossbeam_channel::{Receiver, Sender};
use govrec_core::state::State;
use govrec_core::{Event, IdMap};
use uuid::Uuid;

use crate::backend::Keyspace;
use crate::entity_index::EntityIndex;
use crate::error::StoreError;
use crate::hash::Hash32;
use crate::head::Head;
use crate::log::{decode_block, Log, PersonalScan};
use crate::merkle::leaf_hash;
use crate::open_state;
use crate::record::Record;
use crate::tiles::{TileWriter, TileWrites};

/// What a scan of the log rebuilds when the store opens: from nothing, or from a saved open
/// state (`open_state.rs`) whose records it then only checks.
#[derive(Default)]
pub(crate) struct Rebuilt {
    pub(crate) head: Head,
    pub(crate) state: State,
    pub(crate) event_ids: IdMap<Uuid, u64>,
    pub(crate) entities: EntityIndex,
    pub(crate) blocks: u64,
    pub(crate) tail_checked: u64,
    pub(crate) personal: PersonalScan,
    pub(crate) promises: BTreeMap<u64, (u64, Vec<String>)>,
    /// Records the saved open state already reflected (0: none).
    pub(crate) saved_records: u64,
    /// Seqs that `Redacted` records after the saved state target (their blocks' erasures
    /// are learnt again on open).
    pub(crate) redacted_targets: Vec<u64>,
}

impl Rebuilt {
    pub(crate) fn from_saved(saved: open_state::Saved) -> Rebuilt {
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
    pub(crate) fn scan(&mut self, log: &Log, tail_check_records: u64) -> Result<(), StoreError> {
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

    pub(crate) fn apply_blocks(
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
    pub(crate) fn take(&mut self, record: Record) -> Result<(), StoreError> {
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

pub(crate) fn saved_state_mismatch(seq: u64) -> StoreError {
    StoreError::Corrupt {
        seq,
        reason: "the saved open state does not match the log's record before it".to_owned(),
    }
}

/// Reads and decodes the blocks from the one holding `from` in order into `out`, indexing
/// the event ids of records from `index_from` on (so that work runs beside the replay into
/// the validation state), stopping at the first failure (sent on) or when the receiver hangs
/// up.
pub(crate) fn decode_blocks(
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

pub(crate) fn index_records(records: &[Record], event_ids: &mut IdMap<Uuid, u64>) -> Result<(), StoreError> {
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

/// Loads the Merkle tiles and brings them level with the log (`head` records): the unfinished
/// leaf tile, never stored, and tiles behind the log (a crash between the two batches of a
/// commit, or a store written before the tree existed) are completed from the records; tiles
/// ahead of it cannot come from a commit and are rebuilt from scratch.
pub(crate) fn catch_up_tiles(log: &Log, head: u64) -> Result<TileWriter, StoreError> {
    let mut tiles = TileWriter::load(log.backend())?;
    if tiles.size() > head {
        log.backend().clear(Keyspace::Tiles)?;
        tiles = TileWriter::load(log.backend())?;
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
            log.apply_tiles(writes)?;
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
                leaves.push(leaf_hash(&Hash32::from_bytes(record.hash)));
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

pub(crate) fn apply_or_corrupt(state: &mut State, record: &Record) -> Result<(), StoreError> {
    state
        .apply_recorded(record.seq, &record.event)
        .map_err(|error| StoreError::Corrupt {
            seq: record.seq,
            reason: error.to_string(),
        })
}

/// Checks that `record` is a valid next record after `head`.
pub(crate) fn check_continues(head: &Head, record: &Record) -> Result<(), StoreError> {
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
