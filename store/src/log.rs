//! The bytes on disk: records packed into blocks in one sled tree, written durably.
//!
//! Layout (documented in `docs/storage.md`):
//! - tree `log`: key = the first seq of a block, `u64` big-endian; value = a block:
//!   `[BLOCK_FORMAT_VERSION] ++ postcard(Vec<StoredRecord>)` with consecutive seqs.
//!   One group commit writes one or more blocks in one `apply_batch`, so a commit is
//!   atomic on a crash, and sled pays its per-key cost once per block instead of once per
//!   record.
//! - tree `meta`: `format` → the store format version (`u64` big-endian).
//! - tree `merkle`: the Merkle tree's tiles (`tiles.rs`), derived from the log.
//! - tree `checkpoints`: tree size (`u64` big-endian) → the signed checkpoint issued for it.
//! - file `personal.dat` beside sled's files: the personal values of events (`record.rs`,
//!   `PersonalRef`), never written into sled, so a redaction can overwrite them in place.
//!
//! This module never interprets an event: it moves records and bytes.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::backend::{Bytes, Keyspace, LogBackend};
use crate::error::StoreError;
use crate::record::{Record, StoredRecord, StoredRecordV1};
use crate::sled_backend::SledBackend;
use crate::tiles::TileWrites;

/// The file of personal values in the data directory.
pub const PERSONAL_FILE: &str = "personal.dat";
/// How much `personal.dat` is extended (with zeros) at a time.
pub const PERSONAL_EXTEND_BYTES: u64 = 4 * 1024 * 1024;

/// sled's segment size, fixed when a store is created (sled refuses to reopen with another).
/// sled writes any page larger than a quarter of a segment as a separate blob file, and
/// **does not fsync blob files**; our commit fsyncs only sled's main file. So no page may
/// ever reach that size: a leaf holds at most 17 values (it splits past 16), and blocks are
/// limited to [`BLOCK_BYTES_LIMIT`], well below `SLED_SEGMENT_BYTES / 4 / 17`.
pub const SLED_SEGMENT_BYTES: usize = 8 * 1024 * 1024;
/// The most a block may hold (one record alone may not exceed it either).
pub const BLOCK_BYTES_LIMIT: usize = SLED_SEGMENT_BYTES / 4 / 17 / 2;

/// The store format this build writes and reads (2: personal values in `personal.dat`;
/// a version-1 store is read and upgraded in place when opened).
pub const STORE_FORMAT_VERSION: u64 = 2;
/// The version byte in front of every block this build writes. Version-1 blocks (records
/// without `personal`) are still read.
pub const BLOCK_FORMAT_VERSION: u8 = 2;

/// sled settings that decide memory use and the background fsync cadence.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// sled's page cache; RSS can be a few times this (sled#1309).
    pub cache_capacity_bytes: u64,
    /// sled's background flusher tick. Our own commits fsync explicitly; this bounds what an
    /// unacknowledged write can linger in memory.
    pub flush_every_ms: u64,
    /// How long `open` waits for another holder of the data directory's lock to let go.
    pub lock_wait_ms: u64,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            cache_capacity_bytes: 64 * 1024 * 1024,
            flush_every_ms: 200,
            lock_wait_ms: 3000,
        }
    }
}

/// A place where a commit's I/O can fail. With the `fault-injection` feature (tests only), a
/// test arms one with [`Log::inject_fault`] and the next I/O there fails, so the store's
/// behaviour after an I/O error (it refuses writes until reopened) can be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPoint {
    /// The writer's write of a commit's personal values to `personal.dat`.
    WritePersonal,
    /// The applier's `fdatasync` of `personal.dat`, before it applies the blocks.
    SyncPersonal,
    /// The applier's apply of a commit's blocks to sled.
    Apply,
    /// The syncer's sled flush and fsync.
    Sync,
    /// The syncer's zeroing of the personal values a durable redaction erases.
    ErasePersonal,
    /// A read of a block's records ([`Log::decode_records_in`], as `Store::read_range` does).
    Read,
}

/// The raw, durable log of blocks.
pub struct Log {
    /// The blocks, the Merkle tree's tiles (derived from the blocks, written after them), the
    /// signed checkpoints issued and the format version (`backend.rs` has the contract).
    backend: Box<dyn LogBackend>,
    /// `personal.dat`: personal values, appended by the writer, overwritten by redactions.
    personal: File,
    /// How far `personal.dat` has been extended with zeros (≥ what records reference): the
    /// writer extends it [`PERSONAL_EXTEND_BYTES`] at a time, so most commits overwrite
    /// already allocated, already durable blocks and their `fdatasync` commits no metadata.
    personal_allocated: std::sync::atomic::AtomicU64,
    /// Held for reading while a reader reads personal values, for writing while a redaction
    /// zeroes them: a reader that fetched a target's block just before its rewrite must not
    /// read the zeros as values (it refetches the block instead, see `hydrate`).
    erasing: std::sync::RwLock<()>,
    path: PathBuf,
    /// Faults armed by a test, each firing once (feature `fault-injection`).
    #[cfg(feature = "fault-injection")]
    armed_faults: std::sync::Mutex<Vec<FaultPoint>>,
}

impl Log {
    /// Opens (creating if missing) the log in `dir`. Damage met on the way is
    /// [`StoreError::Damaged`], naming how many records were known durable, when the
    /// durable-head mark or the saved open state tells.
    pub fn open(dir: &Path, config: &LogConfig) -> Result<Log, StoreError> {
        Log::open_unnoted(dir, config).map_err(|error| match error {
            StoreError::Damaged { reason } => StoreError::Damaged {
                reason: match crate::open_state::known_durable(dir) {
                    Some(records) => format!(
                        "{reason}; {records} records (seq 0 to {}) were known durable",
                        records.saturating_sub(1)
                    ),
                    None => reason,
                },
            },
            other => other,
        })
    }

    fn open_unnoted(dir: &Path, config: &LogConfig) -> Result<Log, StoreError> {
        let created = !dir.exists();
        std::fs::create_dir_all(dir)?;
        let backend = open_sled(dir, config)?;
        match backend.get(Keyspace::Meta, b"format")? {
            Some(bytes) => {
                let found =
                    u64::from_be_bytes(bytes.as_ref().try_into().map_err(|_| StoreError::Corrupt {
                        seq: 0,
                        reason: "meta/format is not a u64".to_owned(),
                    })?);
                if found > STORE_FORMAT_VERSION {
                    return Err(StoreError::UnsupportedFormat {
                        found,
                        supported: STORE_FORMAT_VERSION,
                    });
                }
                if found < STORE_FORMAT_VERSION {
                    // Version 1, whose blocks this build still reads: new blocks are version
                    // 2, which an older build must refuse.
                    backend.put_batch(
                        Keyspace::Meta,
                        &[(b"format", &STORE_FORMAT_VERSION.to_be_bytes())],
                    )?;
                }
            }
            None => {
                backend.put_batch(
                    Keyspace::Meta,
                    &[(b"format", &STORE_FORMAT_VERSION.to_be_bytes())],
                )?;
            }
        }
        let personal_path = dir.join(PERSONAL_FILE);
        let personal_created = !personal_path.exists();
        let personal = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&personal_path)?;
        let log = Log {
            backend: Box::new(backend),
            personal_allocated: std::sync::atomic::AtomicU64::new(personal.metadata()?.len()),
            personal,
            erasing: std::sync::RwLock::new(()),
            path: dir.to_owned(),
            #[cfg(feature = "fault-injection")]
            armed_faults: std::sync::Mutex::new(Vec::new()),
        };
        log.sync()?;
        if personal_created {
            log.personal.sync_all()?;
            sync_directory(dir)?;
        }
        if created {
            sync_directory(dir)?;
            if let Some(parent) = dir.parent() {
                sync_directory(parent)?;
            }
        }
        Ok(log)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes the next I/O at `point` fail with an I/O error (once).
    #[cfg(feature = "fault-injection")]
    pub fn inject_fault(&self, point: FaultPoint) {
        self.armed_faults.lock().expect("faults lock").push(point);
    }

    /// Fails if a test armed a fault at `point` (which it disarms); without the
    /// `fault-injection` feature, nothing.
    #[cfg(feature = "fault-injection")]
    fn fault(&self, point: FaultPoint) -> Result<(), StoreError> {
        let mut armed = self.armed_faults.lock().expect("faults lock");
        match armed.iter().position(|&armed| armed == point) {
            Some(found) => {
                armed.remove(found);
                Err(std::io::Error::other(format!("injected fault at {point:?}")).into())
            }
            None => Ok(()),
        }
    }

    #[cfg(not(feature = "fault-injection"))]
    #[inline(always)]
    fn fault(&self, _point: FaultPoint) -> Result<(), StoreError> {
        Ok(())
    }

    /// Makes everything written so far durable: sled's flush, then a real fsync of its file.
    pub fn sync(&self) -> Result<(), StoreError> {
        self.fault(FaultPoint::Sync)?;
        self.backend.sync()
    }

    /// Writes the personal values of a commit at `offset` (the end of what records reference),
    /// **without** making them durable: the store's applier calls [`Log::sync_personal`] before it
    /// applies any block that references them. Once applied, sled may write a block to disk at
    /// any moment (its background flusher), and a block must never reference bytes a crash
    /// could lose; blocks are applied only after that `fdatasync`.
    pub(crate) fn write_personal(&self, offset: u64, bytes: &[u8]) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        self.fault(FaultPoint::WritePersonal)?;
        let needed = offset + bytes.len() as u64;
        let allocated = self.personal_allocated.load(Ordering::Acquire);
        if needed > allocated {
            // Extend with zeros well past what this commit needs; the next `sync_personal`
            // makes the extension durable (the one commit in many that pays for metadata).
            let target =
                needed.div_ceil(PERSONAL_EXTEND_BYTES) * PERSONAL_EXTEND_BYTES + PERSONAL_EXTEND_BYTES;
            self.personal
                .write_all_at(&vec![0; (target - allocated) as usize], allocated)?;
            self.personal_allocated.store(target, Ordering::Release);
        }
        self.personal.write_all_at(bytes, offset)?;
        Ok(())
    }

    /// Makes every personal value written so far durable (`fdatasync` of `personal.dat`).
    pub(crate) fn sync_personal(&self) -> Result<(), StoreError> {
        self.fault(FaultPoint::SyncPersonal)?;
        self.personal.sync_data()?;
        Ok(())
    }

    /// Overwrites ranges `(offset, len)` of `personal.dat` with zeros and makes that durable:
    /// the erasure of a redaction, done after the commit holding its marker is durable.
    pub(crate) fn erase_personal(&self, ranges: &[(u64, u64)]) -> Result<(), StoreError> {
        if ranges.is_empty() {
            return Ok(());
        }
        self.fault(FaultPoint::ErasePersonal)?;
        let _erasing = self.erasing.write().expect("erasing lock");
        for &(offset, len) in ranges {
            self.personal.write_all_at(&vec![0; len as usize], offset)?;
        }
        self.personal.sync_data()?;
        Ok(())
    }

    /// On open: erases what redactions named but a crash left unerased (ranges not all zeros)
    /// and cuts `personal.dat` at `end`, the end of what records reference (bytes after it
    /// were written for a commit that never reached the log).
    pub(crate) fn settle_personal(&self, end: u64, erased: &[(u64, u64)]) -> Result<(), StoreError> {
        let length = self.personal.metadata()?.len();
        if length < end {
            return Err(StoreError::Corrupt {
                seq: 0,
                reason: format!("{PERSONAL_FILE} has {length} bytes, records reference {end}"),
            });
        }
        let mut dirty = false;
        let mut unerased = Vec::new();
        for &(offset, len) in erased {
            let mut bytes = vec![0; len as usize];
            self.personal.read_exact_at(&mut bytes, offset)?;
            if bytes.iter().any(|byte| *byte != 0) {
                unerased.push((offset, len));
            }
        }
        if !unerased.is_empty() {
            for &(offset, len) in &unerased {
                self.personal.write_all_at(&vec![0; len as usize], offset)?;
            }
            dirty = true;
        }
        if length > end {
            // Bytes of commits that never reached the log, and the zeros of the extension.
            self.personal.set_len(end)?;
            self.personal_allocated
                .store(end, std::sync::atomic::Ordering::Release);
            dirty = true;
        }
        if dirty {
            self.personal.sync_all()?;
        }
        Ok(())
    }

    /// Decodes a block into full records, reading the personal values of all its records
    /// with one read.
    pub fn decode_records(&self, first_seq: u64, bytes: &[u8]) -> Result<Vec<Record>, StoreError> {
        let stored = decode_block(first_seq, bytes)?;
        self.hydrate(stored, None)
    }

    /// The records of a block whose seqs fall in `range`, decoded; the others are parsed
    /// (the block is checked whole) but not hydrated: a page of the log usually wants part of
    /// its first and last blocks, and hydrating (the event's stored form, its personal values)
    /// is most of a record's decoding.
    pub fn decode_records_in(
        &self,
        first_seq: u64,
        bytes: &[u8],
        range: std::ops::Range<u64>,
    ) -> Result<Vec<Record>, StoreError> {
        self.fault(FaultPoint::Read)?;
        let mut stored = decode_block(first_seq, bytes)?;
        stored.retain(|record| range.contains(&record.seq));
        if stored.is_empty() {
            return Ok(Vec::new());
        }
        self.hydrate(stored, None)
    }

    /// [`Log::decode_records`] for the scan on open, which also learns the end of the personal
    /// values referenced and the ranges redactions erased.
    pub(crate) fn decode_records_scanning(
        &self,
        first_seq: u64,
        bytes: &[u8],
        scan: &mut PersonalScan,
    ) -> Result<Vec<Record>, StoreError> {
        let stored = decode_block(first_seq, bytes)?;
        self.hydrate(stored, Some(scan))
    }

    fn hydrate(
        &self,
        stored: Vec<StoredRecord>,
        mut scan: Option<&mut PersonalScan>,
    ) -> Result<Vec<Record>, StoreError> {
        let allocated = self.personal_allocated.load(std::sync::atomic::Ordering::Acquire);
        let span = personal_span(&stored, allocated)?;
        let _erasing = self.erasing.read().expect("erasing lock");
        let mut values = Vec::new();
        if let Some(span) = &span {
            values = vec![0; (span.end - span.start) as usize];
            self.personal
                .read_exact_at(&mut values, span.start)
                .map_err(|error| StoreError::Corrupt {
                    seq: stored[0].seq,
                    reason: format!(
                        "personal values unreadable (offsets {}..{}): {error}",
                        span.start, span.end
                    ),
                })?;
        }
        let start = span.map_or(0, |span| span.start);
        stored
            .into_iter()
            .map(|record| {
                let bytes = values_of(&record, &values, start);
                if let (Some(bytes), Some(reference), None) = (bytes, &record.personal, &record.redaction) {
                    if erased_under_us(bytes, &reference.lens) {
                        // The block was fetched before a redaction rewrote it and the values
                        // were zeroed since: read the record again (now with its marker).
                        return self.refetch(record.seq);
                    }
                }
                if let (Some(scan), Some(reference)) = (scan.as_deref_mut(), &record.personal) {
                    if let Some(end) = reference.end() {
                        scan.end = scan.end.max(end);
                    }
                    if let Some(redaction) = &record.redaction {
                        // The event type is needed to place the fields; decode it first.
                        if let Ok(event) = govrec_core::stored::decode_event(&record.event) {
                            scan.erased
                                .extend(reference.ranges_of(event.event_type(), &redaction.fields));
                        }
                    }
                }
                record.into_record(bytes)
            })
            .collect()
    }

    /// Writes blocks atomically (all or none survive a crash), **not yet durably**: they are
    /// durable once a later [`Log::sync`] returns.
    pub fn apply(&self, blocks: &[(u64, Vec<u8>)]) -> Result<(), StoreError> {
        self.fault(FaultPoint::Apply)?;
        let keys: Vec<[u8; 8]> = blocks
            .iter()
            .map(|(first_seq, _)| first_seq.to_be_bytes())
            .collect();
        let entries: Vec<(&[u8], &[u8])> = keys
            .iter()
            .zip(blocks)
            .map(|(key, (_, bytes))| (key.as_slice(), bytes.as_slice()))
            .collect();
        self.backend.put_batch(Keyspace::Blocks, &entries)
    }

    /// Writes the Merkle tiles of records already applied, in their own atomic batch;
    /// durable with the same [`Log::sync`] as the records. A crash between the two batches
    /// leaves the tiles behind the log, which `Store::open` repairs.
    pub(crate) fn apply_tiles(&self, tiles: TileWrites) -> Result<(), StoreError> {
        let entries = tiles.entries();
        let borrowed: Vec<(&[u8], &[u8])> = entries
            .iter()
            .map(|(key, value)| (key.as_slice(), value.as_slice()))
            .collect();
        self.backend.put_batch(Keyspace::Tiles, &borrowed)
    }

    /// The stored bytes behind the log (the Merkle tiles and checkpoints are read through it).
    pub(crate) fn backend(&self) -> &dyn LogBackend {
        self.backend.as_ref()
    }

    /// The block holding `seq`, if any: `(first seq, block bytes)`.
    pub fn block_containing(&self, seq: u64) -> Result<Option<(u64, Bytes)>, StoreError> {
        match self
            .backend
            .last_at_or_below(Keyspace::Blocks, &seq.to_be_bytes())?
        {
            Some((key, value)) => Ok(Some((block_key(&key)?, value))),
            None => Ok(None),
        }
    }

    /// The record at `seq`, decoding only its own event. A seq no block holds, or that its
    /// block ends before, is reported as damage at that seq (callers ask only for seqs the
    /// log should have).
    pub fn record(&self, seq: u64) -> Result<Record, StoreError> {
        let missing = || StoreError::Corrupt {
            seq,
            reason: "record missing".to_owned(),
        };
        let (first, bytes) = self.block_containing(seq)?.ok_or_else(missing)?;
        let stored = decode_block(first, &bytes)?
            .into_iter()
            .nth((seq - first) as usize)
            .ok_or_else(missing)?;
        let mut records = self.hydrate(vec![stored], None)?;
        Ok(records.pop().expect("one record in, one out"))
    }

    /// Record `seq` read again from its current block (the caller holds `erasing`).
    fn refetch(&self, seq: u64) -> Result<Record, StoreError> {
        let (first, records) = self.stored_block_containing(seq)?;
        let record = records
            .into_iter()
            .nth((seq - first) as usize)
            .expect("stored_block_containing checks the seq");
        let mut values = Vec::new();
        if let Some(reference) = &record.personal {
            values = vec![0; reference.len() as usize];
            self.personal.read_exact_at(&mut values, reference.offset)?;
        }
        let bytes = record.personal.as_ref().map(|_| values.as_slice());
        record.into_record(bytes)
    }

    /// The stored form of record `seq` and its block: `(first seq, every record of the block)`,
    /// for rewriting the block (a redaction).
    pub(crate) fn stored_block_containing(&self, seq: u64) -> Result<(u64, Vec<StoredRecord>), StoreError> {
        let missing = || StoreError::Corrupt {
            seq,
            reason: "record missing".to_owned(),
        };
        let (first, bytes) = self.block_containing(seq)?.ok_or_else(missing)?;
        let records = decode_block(first, &bytes)?;
        if seq - first >= records.len() as u64 {
            return Err(missing());
        }
        Ok((first, records))
    }

    /// Blocks in seq order, starting with the one that holds `from_seq`.
    pub fn blocks_from(&self, from_seq: u64) -> impl Iterator<Item = Result<(u64, Bytes), StoreError>> + '_ {
        let start = match self.block_containing(from_seq) {
            Ok(Some((first, _))) => first,
            _ => from_seq,
        };
        self.backend
            .range(Keyspace::Blocks, &start.to_be_bytes(), None)
            .map(|entry| {
                let (key, value) = entry?;
                Ok((block_key(&key)?, value))
            })
    }

    /// The last block, if the log is not empty.
    pub fn last_block(&self) -> Result<Option<(u64, Bytes)>, StoreError> {
        match self.backend.last(Keyspace::Blocks)? {
            Some((key, value)) => Ok(Some((block_key(&key)?, value))),
            None => Ok(None),
        }
    }

    /// Calls `visit` with the records `0..end` (all when `end` is `None`) in order, checking
    /// that blocks follow each other without a gap. Returns the number visited.
    pub fn for_each_record(
        &self,
        end: Option<u64>,
        mut visit: impl FnMut(Record) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        let end = end.unwrap_or(u64::MAX);
        let mut next = 0;
        for block in self.blocks_from(0) {
            let (first, bytes) = block?;
            if first >= end {
                break;
            }
            if first != next {
                return Err(StoreError::Corrupt {
                    seq: next,
                    reason: format!("gap: the next block starts at seq {first}"),
                });
            }
            for record in self.decode_records(first, &bytes)? {
                if record.seq >= end {
                    break;
                }
                next = record.seq + 1;
                visit(record)?;
            }
        }
        Ok(next)
    }

    /// Direct access to the sled tree of blocks, for tests that damage the store behind its
    /// back (tamper tests). Panics on another backend.
    #[doc(hidden)]
    pub fn blocks_tree(&self) -> &sled::Tree {
        self.backend
            .as_any()
            .downcast_ref::<SledBackend>()
            .expect("a sled log")
            .blocks_tree()
    }

    /// Bytes sled occupies on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.backend.size_on_disk()
    }
}

/// Opens the log's sled database (see [`crate::open_sled`]).
fn open_sled(dir: &Path, config: &LogConfig) -> Result<SledBackend, StoreError> {
    let sled_config = sled::Config::new()
        .path(dir)
        .mode(sled::Mode::LowSpace)
        .segment_size(SLED_SEGMENT_BYTES)
        .cache_capacity(config.cache_capacity_bytes)
        .flush_every_ms(Some(config.flush_every_ms));
    let lock_wait = std::time::Duration::from_millis(config.lock_wait_ms);
    SledBackend::open(dir, &sled_config, lock_wait)
}

fn block_key(key: &[u8]) -> Result<u64, StoreError> {
    let bytes: [u8; 8] = key.try_into().map_err(|_| StoreError::Corrupt {
        seq: 0,
        reason: format!("a block key has {} bytes instead of 8", key.len()),
    })?;
    Ok(u64::from_be_bytes(bytes))
}

pub(crate) fn sync_directory(dir: &Path) -> Result<(), StoreError> {
    // `Path::parent` of a bare relative name (`--data mydata`) is "", the current directory.
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// True when some non-empty value of `bytes` (split by `lens`) is all zeros: erased by a
/// redaction whose marker this (stale) copy of the record does not carry yet.
fn erased_under_us(bytes: &[u8], lens: &[u32]) -> bool {
    let mut at = 0usize;
    lens.iter().any(|len| {
        let value = &bytes[at..at + *len as usize];
        at += *len as usize;
        !value.is_empty() && value.iter().all(|byte| *byte == 0)
    })
}

/// The bytes of `personal.dat` that `stored` reference, checked against the file's `length`
/// before anything is allocated: a damaged block can name any offset.
fn personal_span(stored: &[StoredRecord], length: u64) -> Result<Option<std::ops::Range<u64>>, StoreError> {
    let mut span: Option<std::ops::Range<u64>> = None;
    for record in stored {
        let Some(reference) = &record.personal else {
            continue;
        };
        let end = reference.end().filter(|end| *end <= length).ok_or_else(|| StoreError::Corrupt {
            seq: record.seq,
            reason: format!(
                "personal values at offset {} with lengths {:?} lie beyond the {length} bytes of {PERSONAL_FILE}",
                reference.offset, reference.lens
            ),
        })?;
        span = Some(match span {
            None => reference.offset..end,
            Some(span) => span.start.min(reference.offset)..span.end.max(end),
        });
    }
    Ok(span.filter(|span| !span.is_empty()))
}

/// A record's personal values within `values`, which hold `personal.dat` from `start` on and
/// cover [`personal_span`].
fn values_of<'v>(record: &StoredRecord, values: &'v [u8], start: u64) -> Option<&'v [u8]> {
    record.personal.as_ref().map(|reference| {
        let from = reference.offset.saturating_sub(start);
        from.checked_add(reference.len())
            .and_then(|end| values.get(from as usize..end as usize))
            .unwrap_or_default()
    })
}

/// Decodes a block stored under key `first_seq` on its own, with `personal` standing for the
/// bytes of `personal.dat` from offset `base` on: what a read through the log checks, for
/// tools that hold a block outside a store (and for the fuzzer, `fuzz/`).
pub fn decode_block_detached(
    first_seq: u64,
    bytes: &[u8],
    base: u64,
    personal: &[u8],
) -> Result<Vec<Record>, StoreError> {
    let stored = decode_block(first_seq, bytes)?;
    let length = base.saturating_add(personal.len() as u64);
    let span = personal_span(&stored, length)?;
    let (start, values) = match span {
        Some(span) if span.start >= base => (
            span.start,
            &personal[(span.start - base) as usize..(span.end - base) as usize],
        ),
        Some(span) => {
            return Err(StoreError::Corrupt {
                seq: first_seq,
                reason: format!("personal values from offset {} are not at hand", span.start),
            })
        }
        None => (0, &personal[..0]),
    };
    stored
        .into_iter()
        .map(|record| {
            let bytes = values_of(&record, values, start);
            record.into_record(bytes)
        })
        .collect()
}

/// What the scan on open learns about `personal.dat`.
#[derive(Debug, Default)]
pub(crate) struct PersonalScan {
    /// The end of the personal values records reference.
    pub end: u64,
    /// The ranges redactions erased (to re-erase after a crash between commit and erasure).
    pub erased: Vec<(u64, u64)>,
}

/// Encodes records (consecutive seqs; `StoredRecordRef` or `StoredRecord`) as one block.
pub(crate) fn encode_block<T: Serialize>(records: &[T], size_estimate: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(64 + size_estimate);
    bytes.push(BLOCK_FORMAT_VERSION);
    postcard::to_io(records, &mut bytes).expect("writing postcard to a Vec cannot fail");
    bytes
}

/// Decodes a block stored under key `first_seq`, checking that its seqs are consecutive from
/// the key. Any failure is reported as damage at the block's first seq.
pub(crate) fn decode_block(first_seq: u64, bytes: &[u8]) -> Result<Vec<StoredRecord>, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        seq: first_seq,
        reason,
    };
    let (&version, body) = bytes
        .split_first()
        .ok_or_else(|| corrupt("empty block".to_owned()))?;
    let records: Vec<StoredRecord> = match version {
        1 => govrec_core::stored::decode_exact::<Vec<StoredRecordV1>>(body)
            .map(|records| records.into_iter().map(StoredRecord::from).collect())
            .map_err(|error| error.to_string()),
        2 => crate::wire::decode_records(body),
        _ => return Err(corrupt(format!("unknown block format {version}"))),
    }
    .map_err(|error| corrupt(format!("block does not decode: {error}")))?;
    if records.is_empty() {
        return Err(corrupt("empty block".to_owned()));
    }
    for (offset, record) in records.iter().enumerate() {
        let expected = first_seq + offset as u64;
        if record.seq != expected {
            return Err(StoreError::Corrupt {
                seq: expected,
                reason: format!("block holds seq {} where {expected} belongs", record.seq),
            });
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{encode_stripped, Redaction};
    use govrec_core::event::{Channel, ComplaintCategory, ComplaintFiled};
    use govrec_core::Event;

    fn complaint() -> Event {
        Event::ComplaintFiled(ComplaintFiled {
            complaint_id: uuid::Uuid::from_u128(1),
            area_id: uuid::Uuid::from_u128(2),
            category: ComplaintCategory::Repair,
            summary: "楼道灯坏了".to_owned(),
            channel: Channel::Hotline,
            resident_ref: "居民甲".to_owned(),
        })
    }

    fn v1_record(seq: u64, event: &Event, redaction: Option<Redaction>) -> StoredRecordV1 {
        StoredRecordV1 {
            seq,
            id: uuid::Uuid::from_u128(u128::from(seq) + 10),
            recorded_at: 1_772_323_200_000_000,
            occurred_on: 20_260_301,
            actor: "recorder".to_owned(),
            event: govrec_core::stored::encode_event(event),
            event_hash: [1; 32],
            prev_hash: [2; 32],
            hash: [3; 32],
            redaction,
        }
    }

    /// Blocks written before personal values moved to `personal.dat` (format 1: values inside
    /// the event, no `personal`) still decode, whole.
    #[test]
    fn version_1_blocks_still_decode() {
        let event = complaint();
        let records = vec![v1_record(7, &event, None), v1_record(8, &event, None)];
        let mut bytes = vec![1u8];
        postcard::to_io(&records, &mut bytes).unwrap();
        let decoded = decode_block(7, &bytes).unwrap();
        assert_eq!(decoded.len(), 2);
        assert_eq!(decoded[1].personal, None);
        let record = decoded.into_iter().next().unwrap().into_record(None).unwrap();
        assert_eq!(record.event, event);
        assert_eq!(
            decode_block(7, &[9, 0]).unwrap_err().to_string(),
            "record 7 is damaged: unknown block format 9"
        );
    }

    /// Found by fuzzing (`fuzz/`, the `block` target): a record with a field its JSON form
    /// cannot hold decoded, and its export was refused by import or (a `recorded_at` beyond
    /// the year 9999) panicked. Such a record is damage at its seq; so is a block pointing
    /// past the personal values at hand, or past the largest offset a file can have.
    #[test]
    fn a_record_that_cannot_be_written_out_is_damage_and_never_a_panic() {
        let event = complaint();
        type Damage = fn(&mut StoredRecordV1);
        let damaged: [(&str, Damage); 5] = [
            ("occurred_on", |record| record.occurred_on = 242_558_238),
            ("recorded_at", |record| record.recorded_at = i64::MAX),
            ("recorded_at", |record| record.recorded_at = i64::MIN),
            ("actor", |record| record.actor = "\teed".to_owned()),
            ("redaction", |record| {
                record.redaction = Some(Redaction {
                    by_seq: 7,
                    fields: vec!["summary".to_owned()],
                })
            }),
        ];
        for (field, damage) in damaged {
            let mut record = v1_record(7, &event, None);
            damage(&mut record);
            let mut bytes = vec![1u8];
            postcard::to_io(&vec![record], &mut bytes).unwrap();
            match decode_block_detached(7, &bytes, 0, &[]) {
                Err(StoreError::Corrupt { seq: 7, reason }) => assert!(reason.contains(field), "{reason}"),
                other => panic!("{field}: {other:?}"),
            }
        }
        let mut stored: StoredRecord = v1_record(3, &event, None).into();
        for offset in [5, u64::MAX - 1] {
            stored.personal = Some(crate::record::PersonalRef {
                offset,
                lens: vec![4, 4],
            });
            let block = encode_block(std::slice::from_ref(&stored), 0);
            assert!(matches!(
                decode_block_detached(3, &block, 0, &[0; 8]),
                Err(StoreError::Corrupt { seq: 3, .. })
            ));
        }
    }

    /// Format 2 keeps no personal value in the block; they come back from the side bytes,
    /// except the fields a marker erased.
    #[test]
    fn version_2_blocks_hold_no_personal_value() {
        let mut event = complaint();
        let mut stored_event = Vec::new();
        let blob = encode_stripped(&mut event, &mut stored_event).unwrap();
        assert_eq!(event, complaint(), "the event is left whole");
        let mut stored: StoredRecord = v1_record(3, &event, None).into();
        stored.event = stored_event;
        stored.personal = Some(crate::record::PersonalRef {
            offset: 0,
            lens: blob.lens.clone(),
        });
        let block = encode_block(std::slice::from_ref(&stored), 0);
        assert!(!block.windows("楼道灯".len()).any(|w| w == "楼道灯".as_bytes()));
        let back = decode_block(3, &block).unwrap().remove(0);
        assert_eq!(
            back.clone().into_record(Some(&blob.bytes)).unwrap().event,
            complaint()
        );
        let mut redacted = back;
        redacted.redaction = Some(Redaction {
            by_seq: 9,
            fields: vec!["summary".to_owned()],
        });
        let record = redacted.into_record(Some(&blob.bytes)).unwrap();
        let Event::ComplaintFiled(filed) = record.event else {
            panic!()
        };
        assert_eq!(
            (filed.summary.as_str(), filed.resident_ref.as_str()),
            ("", "居民甲")
        );
    }
}
