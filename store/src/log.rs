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
//!
//! This module never interprets an event: it moves records and bytes.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::StoreError;
use crate::record::{Record, StoredRecord, StoredRecordRef};

/// sled's segment size, fixed when a store is created (sled refuses to reopen with another).
/// sled writes any page larger than a quarter of a segment as a separate blob file, and
/// **does not fsync blob files**; our commit fsyncs only sled's main file. So no page may
/// ever reach that size: a leaf holds at most 17 values (it splits past 16), and blocks are
/// limited to [`BLOCK_BYTES_LIMIT`], well below `SLED_SEGMENT_BYTES / 4 / 17`.
pub const SLED_SEGMENT_BYTES: usize = 8 * 1024 * 1024;
/// The most a block may hold (one record alone may not exceed it either).
pub const BLOCK_BYTES_LIMIT: usize = SLED_SEGMENT_BYTES / 4 / 17 / 2;

/// The store format this build writes and reads.
pub const STORE_FORMAT_VERSION: u64 = 1;
/// The version byte in front of every block.
pub const BLOCK_FORMAT_VERSION: u8 = 1;

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

/// The raw, durable log of blocks.
pub struct Log {
    db: sled::Db,
    blocks: sled::Tree,
    /// The Merkle tree's tiles (`tiles.rs`): derived from `blocks`, written after them.
    merkle: sled::Tree,
    /// Signed checkpoints issued so far (`checkpoint.rs`): tree size → note.
    checkpoints: sled::Tree,
    /// sled's data file, opened by us so a commit can `fsync` it: sled 0.34's `flush()` on
    /// Linux only calls `sync_file_range`, which is not a durability barrier
    /// (`shared/notes/sled-durability.md` §2.4).
    data_file: File,
    path: PathBuf,
}

impl Log {
    /// Opens (creating if missing) the log in `dir`.
    pub fn open(dir: &Path, config: &LogConfig) -> Result<Log, StoreError> {
        let created = !dir.exists();
        std::fs::create_dir_all(dir)?;
        let db = open_sled(dir, config)?;
        let meta = db.open_tree("meta")?;
        match meta.get("format")? {
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
            }
            None => {
                meta.insert("format", &STORE_FORMAT_VERSION.to_be_bytes())?;
            }
        }
        let blocks = db.open_tree("log")?;
        let merkle = db.open_tree("merkle")?;
        let checkpoints = db.open_tree("checkpoints")?;
        let data_file = File::options().read(true).write(true).open(dir.join("db"))?;
        let log = Log {
            db,
            blocks,
            merkle,
            checkpoints,
            data_file,
            path: dir.to_owned(),
        };
        log.sync()?;
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

    /// Makes everything written so far durable: sled's flush, then a real fsync of its file.
    pub fn sync(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        self.data_file.sync_data()?;
        Ok(())
    }

    /// Writes blocks atomically (all or none survive a crash), **not yet durably**: they are
    /// durable once a later [`Log::sync`] returns.
    pub fn apply(&self, blocks: &[(u64, Vec<u8>)]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (first_seq, bytes) in blocks {
            batch.insert(&first_seq.to_be_bytes(), bytes.as_slice());
        }
        self.blocks.apply_batch(batch)?;
        Ok(())
    }

    /// Writes the Merkle tiles of records already applied, in their own atomic batch (sled
    /// batches cover one tree); durable with the same [`Log::sync`] as the records. A crash
    /// between the two batches leaves the tiles behind the log, which `Store::open` repairs.
    pub(crate) fn apply_tiles(&self, batch: sled::Batch) -> Result<(), StoreError> {
        self.merkle.apply_batch(batch)?;
        Ok(())
    }

    /// The sled tree of Merkle tiles.
    pub(crate) fn merkle_tree(&self) -> &sled::Tree {
        &self.merkle
    }

    /// The sled tree of issued checkpoints.
    pub(crate) fn checkpoints_tree(&self) -> &sled::Tree {
        &self.checkpoints
    }

    /// The block holding `seq`, if any: `(first seq, block bytes)`.
    pub fn block_containing(&self, seq: u64) -> Result<Option<(u64, sled::IVec)>, StoreError> {
        match self.blocks.range(..=seq.to_be_bytes()).next_back() {
            Some(entry) => {
                let (key, value) = entry?;
                Ok(Some((block_key(&key)?, value)))
            }
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
        stored.into_record()
    }

    /// Blocks in seq order, starting with the one that holds `from_seq`.
    pub fn blocks_from(
        &self,
        from_seq: u64,
    ) -> impl Iterator<Item = Result<(u64, sled::IVec), StoreError>> + '_ {
        let start = match self.block_containing(from_seq) {
            Ok(Some((first, _))) => first,
            _ => from_seq,
        };
        self.blocks.range(start.to_be_bytes()..).map(|entry| {
            let (key, value) = entry?;
            Ok((block_key(&key)?, value))
        })
    }

    /// The last block, if the log is not empty.
    pub fn last_block(&self) -> Result<Option<(u64, sled::IVec)>, StoreError> {
        match self.blocks.last()? {
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
            for record in decode_block_records(first, &bytes)? {
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
    /// back (tamper tests).
    #[doc(hidden)]
    pub fn blocks_tree(&self) -> &sled::Tree {
        &self.blocks
    }

    /// Bytes sled occupies on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }
}

/// Opens sled, waiting up to `lock_wait_ms` for its file lock: after a `Db` is dropped,
/// sled's background threads can hold the lock for a moment (sled's own tests block on it
/// for the same reason), so an immediate reopen in the same process would fail spuriously.
fn open_sled(dir: &Path, config: &LogConfig) -> Result<sled::Db, StoreError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(config.lock_wait_ms);
    loop {
        let opened = sled::Config::new()
            .path(dir)
            .mode(sled::Mode::LowSpace)
            .segment_size(SLED_SEGMENT_BYTES)
            .cache_capacity(config.cache_capacity_bytes)
            .flush_every_ms(Some(config.flush_every_ms))
            .open();
        match opened {
            Err(sled::Error::Io(error))
                if error.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return Ok(other?),
        }
    }
}

fn block_key(key: &[u8]) -> Result<u64, StoreError> {
    let bytes: [u8; 8] = key.try_into().map_err(|_| StoreError::Corrupt {
        seq: 0,
        reason: format!("a block key has {} bytes instead of 8", key.len()),
    })?;
    Ok(u64::from_be_bytes(bytes))
}

fn sync_directory(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// Encodes records (consecutive seqs) as one block.
pub(crate) fn encode_block(records: &[StoredRecordRef]) -> Vec<u8> {
    let estimate: usize = records.iter().map(StoredRecordRef::size_estimate).sum();
    let mut bytes = Vec::with_capacity(64 + estimate);
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
    if version != BLOCK_FORMAT_VERSION {
        return Err(corrupt(format!("unknown block format {version}")));
    }
    let records: Vec<StoredRecord> = govrec_core::stored::decode_exact(body)
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

/// Decodes a block into full records.
pub(crate) fn decode_block_records(first_seq: u64, bytes: &[u8]) -> Result<Vec<Record>, StoreError> {
    decode_block(first_seq, bytes)?
        .into_iter()
        .map(StoredRecord::into_record)
        .collect()
}
