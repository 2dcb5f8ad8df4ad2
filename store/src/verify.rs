//! Full-chain verification: recompute every `event_hash` and `hash`, check every `prev_hash`
//! link and that seqs have no gap, and name the first record where any of it fails.
//!
//! A redacted record (`record-format.md`, "Redacted records") is checked as the contract says:
//! its links and `hash` as usual, its `event_hash` not recomputed, and record K of its marker
//! must exist, be a `Redacted` event, and name this seq and these fields.
//!
//! A check of the whole log also recomputes the Merkle tiles from the records' hashes and
//! compares them with the stored ones (`docs/merkle.md`).
//!
//! Records verify independently of each other (the links are compared, not recomputed), so
//! blocks are decoded and hashed on all cores; only the link check walks in order.

use rayon::prelude::*;

use crate::error::StoreError;
use crate::hash::Hash32;
use std::collections::BTreeMap;

use crate::log::Log;
use crate::merkle::leaf_hash;
use crate::record::{check_marker, redaction_matches, Record, Redaction};
use crate::tiles::{check_stored, TILE_HEIGHT};

/// Blocks read before the parallel check runs over them.
const VERIFY_BLOCKS_PER_ROUND: usize = 256;

/// The result of a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Every record in the range checked out.
    Intact {
        checked: u64,
        /// The last record checked: `(seq, hash)`; `None` when nothing was in range.
        head: Option<(u64, Hash32)>,
    },
    /// The first damaged record, and what is wrong with it.
    Damaged { first_bad_seq: u64, reason: String },
}

impl Verification {
    pub fn is_intact(&self) -> bool {
        matches!(self, Verification::Intact { .. })
    }
}

/// Verifies records `from..=to` (the whole log by default). The link of `from` to the record
/// before it is checked too, so a range check is as strong as a full one for that range.
pub fn verify_log(log: &Log, from: u64, to: Option<u64>) -> Result<Verification, StoreError> {
    let mut walker = ChainWalker::new(from, to);
    if from > 0 {
        match previous_hash(log, from)? {
            Ok(hash) => walker.prev_hash = Some(hash),
            Err(damage) => return Ok(damage),
        }
    }
    let leaves = walker.leaves.is_some();
    let mut blocks = log.blocks_from(from).peekable();
    while blocks.peek().is_some() {
        let mut round = Vec::with_capacity(VERIFY_BLOCKS_PER_ROUND);
        for block in blocks.by_ref().take(VERIFY_BLOCKS_PER_ROUND) {
            match block {
                Ok(block) => round.push(block),
                // The database cannot read further: what was checked so far is good.
                Err(StoreError::Damaged { reason }) if round.is_empty() => {
                    return Ok(Verification::Damaged {
                        first_bad_seq: walker.next_seq,
                        reason: format!("the database cannot read on from here: {reason}"),
                    })
                }
                Err(StoreError::Damaged { .. }) => break,
                Err(error) => return Err(error),
            }
        }
        let checked: Vec<BlockCheck> = round
            .par_iter()
            .map(|(first, bytes)| check_block(log, *first, bytes, from, walker.to, leaves))
            .collect();
        for block in checked {
            if let Some(damage) = walker.take(block) {
                return Ok(damage);
            }
        }
        if walker.done() {
            break;
        }
    }
    walker.finish(log)
}

/// The hash of the record before `from`, or the damage that stops us reading it.
fn previous_hash(log: &Log, from: u64) -> Result<Result<Hash32, Verification>, StoreError> {
    match log.record(from - 1) {
        Ok(record) => Ok(Ok(record.hash)),
        Err(damage @ StoreError::Corrupt { .. }) => Ok(Err(damage_of(damage))),
        Err(other) => Err(other),
    }
}

/// A record with the result of checking its own hashes, and its Merkle leaf hash when the
/// tiles are checked too.
type CheckedRecord = (Record, Result<(), &'static str>, Option<Hash32>);

/// One block after its records were checked on their own.
struct BlockCheck {
    first_seq: u64,
    /// The records in range with the result of their self-check, or the decode failure.
    records: Result<Vec<CheckedRecord>, Verification>,
}

fn check_block(
    log: &Log,
    first_seq: u64,
    bytes: &[u8],
    from: u64,
    to: Option<u64>,
    leaves: bool,
) -> BlockCheck {
    let records = log
        .decode_records(first_seq, bytes)
        .map_err(damage_of)
        .map(|records| {
            records
                .into_iter()
                .filter(|record| record.seq >= from && to.is_none_or(|to| record.seq <= to))
                .map(|record| {
                    let check = record.self_check();
                    let leaf = leaves.then(|| leaf_hash(&record.hash));
                    (record, check, leaf)
                })
                .collect()
        });
    BlockCheck { first_seq, records }
}

fn damage_of(error: StoreError) -> Verification {
    match error {
        StoreError::Corrupt { seq, reason } => Verification::Damaged {
            first_bad_seq: seq,
            reason,
        },
        other => Verification::Damaged {
            first_bad_seq: 0,
            reason: other.to_string(),
        },
    }
}

/// Walks checked blocks in order, checking seq continuity and `prev_hash` links.
struct ChainWalker {
    next_seq: u64,
    to: Option<u64>,
    prev_hash: Option<Hash32>,
    checked: u64,
    last: Option<(u64, Hash32)>,
    /// Markers seen whose record K is still ahead: K → (redacted seq, marker).
    promised: BTreeMap<u64, (u64, Redaction)>,
    /// The leaf hashes of the records, when the whole log is checked (and with it the stored
    /// Merkle tiles).
    leaves: Option<Vec<Hash32>>,
}

impl ChainWalker {
    fn new(from: u64, to: Option<u64>) -> ChainWalker {
        ChainWalker {
            next_seq: from,
            to,
            prev_hash: (from == 0).then_some(Hash32::ZERO),
            checked: 0,
            last: None,
            promised: BTreeMap::new(),
            leaves: (from == 0 && to.is_none()).then(Vec::new),
        }
    }

    fn done(&self) -> bool {
        self.to.is_some_and(|to| self.next_seq > to)
    }

    fn take(&mut self, block: BlockCheck) -> Option<Verification> {
        if self.done() {
            return None;
        }
        let records = match block.records {
            Ok(records) => records,
            Err(damage) => return Some(damage),
        };
        if block.first_seq > self.next_seq {
            return Some(Verification::Damaged {
                first_bad_seq: self.next_seq,
                reason: format!("record missing: the next block starts at seq {}", block.first_seq),
            });
        }
        for (record, self_check, leaf) in records {
            if let Some(damage) = self.take_record(&record, self_check, leaf) {
                return Some(damage);
            }
        }
        None
    }

    fn take_record(
        &mut self,
        record: &Record,
        self_check: Result<(), &'static str>,
        leaf: Option<Hash32>,
    ) -> Option<Verification> {
        let damaged = |reason: &str| {
            Some(Verification::Damaged {
                first_bad_seq: record.seq,
                reason: reason.to_owned(),
            })
        };
        if record.seq != self.next_seq {
            return damaged("seq out of order");
        }
        if let Err(reason) = self_check {
            return damaged(reason);
        }
        if self.prev_hash.is_some_and(|prev| prev != record.prev_hash) {
            return damaged("prev_hash does not match the previous record's hash");
        }
        if let Some((target, marker)) = self.promised.remove(&record.seq) {
            if !redaction_matches(&record.event, target, &marker) {
                return Some(broken_promise(target, &marker));
            }
        }
        if let Some(redaction) = &record.redaction {
            if let Err(reason) = check_marker(record.seq, record.event.event_type(), redaction) {
                return damaged(&reason);
            }
            if self.promised.contains_key(&redaction.by_seq) {
                return damaged("another record's redaction marker names the same record");
            }
            self.promised
                .insert(redaction.by_seq, (record.seq, redaction.clone()));
        }
        if let (Some(leaves), Some(leaf)) = (&mut self.leaves, leaf) {
            leaves.push(leaf);
        }
        self.prev_hash = Some(record.hash);
        self.next_seq += 1;
        self.checked += 1;
        self.last = Some((record.seq, record.hash));
        None
    }

    /// The result once every record in range is taken: markers whose record K lies past the
    /// range are checked against the log (K missing, or not the matching `Redacted` event,
    /// is damage at the redacted record).
    fn finish(self, log: &Log) -> Result<Verification, StoreError> {
        let mut broken = None;
        for (by_seq, (target, marker)) in &self.promised {
            let fulfilled = match log.record(*by_seq) {
                Ok(record) => redaction_matches(&record.event, *target, marker),
                Err(StoreError::Corrupt { .. }) => false,
                Err(other) => return Err(other),
            };
            if !fulfilled && broken.is_none_or(|(seq, _)| *target < seq) {
                broken = Some((*target, marker));
            }
        }
        if let Some((target, marker)) = broken {
            return Ok(broken_promise(target, marker));
        }
        if let Some(leaves) = &self.leaves {
            if let Some((tile_level, index)) = check_stored(log.backend(), leaves)? {
                // Tile (t, i) starts at leaf i × 256^(t+1).
                let shift = TILE_HEIGHT * (u32::from(tile_level) + 1);
                let first_leaf = index.checked_shl(shift).unwrap_or(u64::MAX);
                return Ok(Verification::Damaged {
                    first_bad_seq: first_leaf.min(self.last.map_or(0, |(seq, _)| seq)),
                    reason: format!(
                        "the stored Merkle tile at tile level {tile_level}, index {index} does not \
                         match the records' hashes: checkpoints and proofs served from it would \
                         be wrong (the tiles are derived from the log)"
                    ),
                });
            }
        }
        Ok(Verification::Intact {
            checked: self.checked,
            head: self.last,
        })
    }
}

fn broken_promise(target: u64, marker: &Redaction) -> Verification {
    Verification::Damaged {
        first_bad_seq: target,
        reason: format!(
            "redaction marker names record {} with fields {:?}, which is not a Redacted event \
             naming this record and these fields",
            marker.by_seq, marker.fields
        ),
    }
}
