//! The snapshot database: snapshots of the models (their format is the parent module's) in
//! their own sled database (a directory the caller chooses, e.g.
//! `DATA/models`; the log's database is locked by the store). A snapshot is a cache: anything
//! wrong with one — it does not decode, its checksum fails, it was written by another format
//! version, or the log's record at its watermark seq has another hash — gets it deleted and
//! the models are rebuilt from the log instead, never trusted.
//!
//! Layout:
//! - tree `snapshots`: key = generation (`u64` BE) ++ position (`u64` BE, the number of
//!   records the snapshot reflects) ++ chunk number (`u32` BE); the values of one snapshot's
//!   chunks, in order, are `SNAPSHOT_MAGIC` ++ format version (`u32` BE) ++ BLAKE3 of the body
//!   (32 bytes) ++ body (two sections, see [`encode`]). Chunks of [`SNAPSHOT_CHUNK_BYTES`] keep every
//!   sled page far below a quarter of a segment, so sled never writes a separate blob file
//!   (slow to write, read and recover, and not fsynced; `docs/storage.md`).
//! - tree `meta`: `generation` → the generation (`u64` BE) readers use.
//!
//! A rebuild writes its snapshots under the next generation and switches `meta/generation`
//! when it swaps the models in, so snapshots of the old models (perhaps built by buggy code)
//! keep serving `as_of` until then and are deleted after.
//!
//! Every stored snapshot is encrypted (ChaCha20) with a key of its generation, kept outside
//! sled in `DIR/snapshot-keys/GENERATION` (mode 0600). Snapshots hold members' names; deleting
//! a sled key does not remove its bytes from sled's files, so when the models are rebuilt after
//! a redaction, `switch_to` deletes the old generation's key file: what is left of its
//! snapshots in sled's files can no longer be read by anyone (crypto-shredding). A snapshot
//! whose key is gone is unusable and discarded like any other damaged snapshot.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use govrec_store::Store;

use super::{decode_with_index, encode, SnapshotUnusable};
use crate::error::ProjectionError;
use crate::model::{EntityMap, Models};

/// The bytes of one sled value of a snapshot (a leaf holds up to 17 values: 544 KiB, a
/// fifteenth of a segment).
pub const SNAPSHOT_CHUNK_BYTES: usize = 32 * 1024;

/// sled's segment size for the snapshot database (fixed when it is created).
const SEGMENT_BYTES: usize = 8 * 1024 * 1024;

/// How long `open` waits for sled's lock (a previous holder in this process letting go).
const LOCK_WAIT_MS: u64 = 3000;

/// The folder, inside the snapshot directory, of the generations' keys.
pub const SNAPSHOT_KEYS_DIR: &str = "snapshot-keys";

/// A file in the snapshot directory, present from just before a redaction is appended until a
/// rebuild that began after it has switched generations: while it exists the snapshots may
/// hold erased values, so a start ignores them and replays the log into a new generation.
pub const REDACTION_PENDING: &str = "redaction-pending";

/// The snapshot database.
pub struct SnapshotStore {
    db: sled::Db,
    snapshots: sled::Tree,
    meta: sled::Tree,
    /// The snapshot directory (the database, the keys' folder, [`REDACTION_PENDING`]).
    dir: std::path::PathBuf,
    keys_dir: std::path::PathBuf,
    /// Kept between loads (one load at a time uses them; another makes its own).
    buffers: std::sync::Mutex<Buffers>,
}

/// The memory a snapshot load works in: the stored bytes and the two decompressed sections.
/// Kept between loads, so an `as_of` answer reads and decompresses into pages already mapped
/// rather than ~50 MiB of fresh ones at 1M events, which the kernel must fault in and zero
/// (~13k page faults an answer). Costs that much resident memory once a snapshot was loaded.
#[derive(Default)]
pub(crate) struct Buffers {
    stored: Vec<u8>,
    sections: [Vec<u8>; 2],
}

/// What loading the nearest snapshot found.
#[derive(Debug, Default)]
pub struct Loaded {
    pub models: Option<Models>,
    /// Snapshots found unusable and deleted on the way.
    pub discarded: u64,
}

impl SnapshotStore {
    /// Opens (creating if missing) the snapshot database in `dir`.
    ///
    /// A database sled finds damaged (`Corruption`) is removed with its keys and created
    /// anew: it is only a cache of the log, and refusing to start over it would take the
    /// service down for nothing. The models are then rebuilt from the log.
    pub fn open(dir: &Path) -> Result<SnapshotStore, ProjectionError> {
        let io = |error: std::io::Error| ProjectionError::Snapshots(error.into());
        std::fs::create_dir_all(dir).map_err(io)?;
        let config = sled::Config::new()
            .path(dir)
            .segment_size(SEGMENT_BYTES)
            .cache_capacity(16 * 1024 * 1024);
        let lock_wait = Duration::from_millis(LOCK_WAIT_MS);
        let db = match govrec_store::open_sled(&config, dir, lock_wait) {
            Err(sled::Error::Corruption { .. }) => {
                tracing::error!(
                    dir = %dir.display(),
                    "the models' snapshot database is damaged: removing it (it is a cache of the \
                     log) and rebuilding the models from the log"
                );
                std::fs::remove_dir_all(dir).map_err(io)?;
                std::fs::create_dir_all(dir).map_err(io)?;
                govrec_store::open_sled(&config, dir, lock_wait)?
            }
            opened => opened?,
        };
        let keys_dir = dir.join(SNAPSHOT_KEYS_DIR);
        std::fs::create_dir_all(&keys_dir).map_err(io)?;
        Ok(SnapshotStore {
            snapshots: db.open_tree("snapshots")?,
            meta: db.open_tree("meta")?,
            db,
            keys_dir,
            dir: dir.to_path_buf(),
            buffers: Default::default(),
        })
    }

    fn key_path(&self, generation: u64) -> std::path::PathBuf {
        self.keys_dir.join(generation.to_string())
    }

    /// The key of `generation`'s snapshots; created (0600, synced) when `create` and missing.
    fn key(&self, generation: u64, create: bool) -> Result<Option<[u8; 32]>, ProjectionError> {
        let path = self.key_path(generation);
        let io = |error: std::io::Error| ProjectionError::Snapshots(error.into());
        match std::fs::read(&path) {
            Ok(bytes) => Ok(bytes.as_slice().try_into().ok()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && create => {
                use std::io::Write;
                use std::os::unix::fs::OpenOptionsExt;
                let key: [u8; 32] = rand::random();
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                    .map_err(io)?;
                file.write_all(&key).map_err(io)?;
                file.sync_all().map_err(io)?;
                sync_directory(&self.keys_dir).map_err(io)?;
                Ok(Some(key))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(io(error)),
        }
    }

    /// Deletes the keys of every generation but `keep`, so their snapshots' bytes, wherever
    /// sled left them, cannot be read any more.
    fn destroy_keys_except(&self, keep: u64) -> Result<(), ProjectionError> {
        let io = |error: std::io::Error| ProjectionError::Snapshots(error.into());
        for entry in std::fs::read_dir(&self.keys_dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            if entry.file_name().to_str() != Some(keep.to_string().as_str()) {
                std::fs::remove_file(entry.path()).map_err(io)?;
            }
        }
        sync_directory(&self.keys_dir).map_err(io)
    }

    /// Records, durably, that a redaction is about to be appended ([`REDACTION_PENDING`]).
    pub fn mark_redaction_pending(&self) -> Result<(), ProjectionError> {
        let io = |error: std::io::Error| ProjectionError::Snapshots(error.into());
        std::fs::File::create(self.dir.join(REDACTION_PENDING))
            .and_then(|file| file.sync_all())
            .map_err(io)?;
        sync_directory(&self.dir).map_err(io)
    }

    /// Whether a redaction may be missing from the snapshots ([`REDACTION_PENDING`]).
    pub fn redaction_pending(&self) -> bool {
        self.dir.join(REDACTION_PENDING).exists()
    }

    /// Removes [`REDACTION_PENDING`], durably: the current generation reflects every
    /// redaction.
    pub fn clear_redaction_pending(&self) -> Result<(), ProjectionError> {
        let io = |error: std::io::Error| ProjectionError::Snapshots(error.into());
        match std::fs::remove_file(self.dir.join(REDACTION_PENDING)) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            removed => removed.map_err(io)?,
        }
        sync_directory(&self.dir).map_err(io)
    }

    /// The generation whose snapshots readers use.
    pub fn generation(&self) -> Result<u64, ProjectionError> {
        Ok(self
            .meta
            .get("generation")?
            .and_then(|bytes| bytes.as_ref().try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(0))
    }

    /// Saves `models` under `generation`, durably. Models of an empty log are not saved.
    pub fn save(&self, generation: u64, models: &Models) -> Result<(), ProjectionError> {
        let position = models.next_seq();
        if position == 0 {
            return Ok(());
        }
        let key = self.key(generation, true)?.expect("created when missing");
        let mut bytes = encode(models);
        cipher_at(&key, position, 0, &mut bytes);
        let mut batch = sled::Batch::default();
        for (chunk, bytes) in bytes.chunks(SNAPSHOT_CHUNK_BYTES).enumerate() {
            batch.insert(&chunk_key(generation, position, chunk as u32), bytes);
        }
        self.snapshots.apply_batch(batch)?;
        self.db.flush()?;
        Ok(())
    }

    /// Deletes snapshots of `generation` other than the ones at multiples of `interval`,
    /// except the newest: one "latest" snapshot for restarts, snapshot points for `as_of`.
    pub fn prune(
        &self,
        generation: u64,
        interval: u64,
        snapshot_points_max: usize,
    ) -> Result<(), ProjectionError> {
        let positions = self.positions(generation)?;
        let Some((_newest, older)) = positions.split_last() else {
            return Ok(());
        };
        let mut snapshot_points: Vec<u64> = Vec::new();
        for &position in older {
            if crate::host::is_boundary(position, interval) {
                snapshot_points.push(position);
            } else {
                self.remove(generation, position)?;
            }
        }
        let excess = snapshot_points.len().saturating_sub(snapshot_points_max);
        for &position in &snapshot_points[..excess] {
            self.remove(generation, position)?;
        }
        Ok(())
    }

    /// The positions of `generation`'s snapshots, ascending.
    ///
    /// One seek per snapshot rather than a scan of every chunk key: sled loads the nodes a
    /// scan passes, values and all, so listing ten snapshots by scanning read all of their
    /// hundreds of MiB through its page cache, which then held well over its capacity.
    pub fn positions(&self, generation: u64) -> Result<Vec<u64>, ProjectionError> {
        let mut positions: Vec<u64> = Vec::new();
        let mut from = 0;
        while let Some(found) = self.snapshots.range(key(generation, from)..).keys().next() {
            let found = found?;
            if !found.starts_with(&generation.to_be_bytes()) {
                break;
            }
            let position = position_of(&found);
            positions.push(position);
            let Some(next) = position.checked_add(1) else {
                break;
            };
            from = next;
        }
        Ok(positions)
    }

    /// The position of the current generation's newest snapshot at or before `position`.
    pub(crate) fn newest_at_or_before(&self, position: u64) -> Result<Option<u64>, ProjectionError> {
        self.newest_below(self.generation()?, position.saturating_add(1))
    }

    /// The position of `generation`'s newest snapshot before `below`.
    fn newest_below(&self, generation: u64, below: u64) -> Result<Option<u64>, ProjectionError> {
        let last = self
            .snapshots
            .range(key(generation, 0)..key(generation, below))
            .keys()
            .next_back()
            .transpose()?;
        Ok(last.map(|key| position_of(&key)))
    }

    /// The bytes of one snapshot into `stored`: its chunks, concatenated and decrypted; empty
    /// (so unusable) when its generation's key is gone or a chunk is missing or of the wrong
    /// size. Two threads each read and decrypt half of the chunks, in place (reading is mostly
    /// sled decoding its nodes, so it is CPU work).
    fn read(&self, generation: u64, position: u64, stored: &mut Vec<u8>) -> Result<(), ProjectionError> {
        stored.clear();
        let Some(secret) = self.key(generation, false)? else {
            return Ok(());
        };
        let Some(last) = self
            .snapshots
            .scan_prefix(key(generation, position))
            .keys()
            .next_back()
            .transpose()?
        else {
            return Ok(());
        };
        let chunks = chunk_of(&last).saturating_add(1);
        let half = chunks / 2;
        // Every chunk but the last is full, so chunk c is at byte c × SNAPSHOT_CHUNK_BYTES.
        let first_bytes = half as usize * SNAPSHOT_CHUNK_BYTES;
        stored.resize(chunks as usize * SNAPSHOT_CHUNK_BYTES, 0);
        let (first, second) = stored.split_at_mut(first_bytes);
        let (first, second) = std::thread::scope(|scope| {
            let second =
                scope.spawn(|| self.read_chunks(generation, position, half..chunks, &secret, second));
            let first = self.read_chunks(generation, position, 0..half, &secret, first);
            (first, second.join().expect("reading never panics"))
        });
        let (first, second) = (first?, second?);
        match (first, second) {
            (Some(first), Some(second)) if first == first_bytes => stored.truncate(first + second),
            _ => stored.clear(),
        }
        Ok(())
    }

    /// Chunks `range` of a snapshot, decrypted, into `out` (which starts at the first chunk of
    /// `range`); the bytes written, or `None` when a chunk does not fit where it belongs.
    fn read_chunks(
        &self,
        generation: u64,
        position: u64,
        range: std::ops::Range<u32>,
        secret: &[u8; 32],
        out: &mut [u8],
    ) -> Result<Option<usize>, ProjectionError> {
        let from = chunk_key(generation, position, range.start);
        let to = chunk_key(generation, position, range.end);
        let mut written = 0;
        for (index, value) in self.snapshots.range(from..to).values().enumerate() {
            let value = value?;
            let end = written + value.len();
            let is_last = index + 1 == range.len();
            match out.get_mut(written..end) {
                Some(place) if is_last || value.len() == SNAPSHOT_CHUNK_BYTES => {
                    place.copy_from_slice(&value)
                }
                _ => return Ok(None),
            }
            written = end;
        }
        cipher_at(
            secret,
            position,
            u64::from(range.start) * SNAPSHOT_CHUNK_BYTES as u64,
            &mut out[..written],
        );
        Ok(Some(written))
    }

    fn remove(&self, generation: u64, position: u64) -> Result<(), ProjectionError> {
        let mut batch = sled::Batch::default();
        for key in self.snapshots.scan_prefix(key(generation, position)).keys() {
            batch.remove(key?);
        }
        self.snapshots.apply_batch(batch)?;
        Ok(())
    }

    /// The newest usable snapshot of the current generation reflecting at most `position_max`
    /// records of `store`'s log. Unusable ones met on the way are deleted.
    pub fn load_at_or_before(&self, store: &Store, position_max: u64) -> Result<Loaded, ProjectionError> {
        self.load_sharing(store, position_max, None, None)
    }

    /// [`SnapshotStore::load_at_or_before`], sharing `shared_index` (the entity index of the
    /// same log at `position_max` or later) instead of building one, and decoding into
    /// `spare` (models no longer needed, whose memory is reused) when given.
    pub(crate) fn load_sharing(
        &self,
        store: &Store,
        position_max: u64,
        shared_index: Option<&Arc<EntityMap>>,
        mut spare: Option<Models>,
    ) -> Result<Loaded, ProjectionError> {
        let generation = self.generation()?;
        let mut loaded = Loaded::default();
        let mut own_buffers = Buffers::default();
        let mut kept_buffers = self.buffers.try_lock().ok();
        let buffers = kept_buffers.as_deref_mut().unwrap_or(&mut own_buffers);
        let mut below = position_max.checked_add(1);
        // The newest snapshot at or before `position_max`, found by one seek rather than a scan
        // of every chunk key (an `as_of` asks this each time).
        while let Some(position) = below.and_then(|below| self.newest_below(generation, below).transpose()) {
            let position = position?;
            self.read(generation, position, &mut buffers.stored)?;
            let into = spare.take().unwrap_or_default();
            let decoded = decode_with_index(
                &buffers.stored,
                shared_index.cloned(),
                into,
                &mut buffers.sections,
            )
            .map(|(models, _)| models);
            match decoded.and_then(|models| matches_log(models, store)) {
                Ok(models) => {
                    loaded.models = Some(models);
                    return Ok(loaded);
                }
                Err(_) => {
                    self.remove(generation, position)?;
                    loaded.discarded += 1;
                    below = Some(position);
                }
            }
        }
        self.db.flush()?;
        Ok(loaded)
    }

    /// Makes `generation` the one readers use and deletes every other generation's snapshots.
    pub fn switch_to(&self, generation: u64) -> Result<(), ProjectionError> {
        self.meta.insert("generation", &generation.to_be_bytes())?;
        let stale: Vec<sled::IVec> = self
            .snapshots
            .iter()
            .keys()
            .filter_map(Result::ok)
            .filter(|key| !key.starts_with(&generation.to_be_bytes()))
            .collect();
        for key in stale {
            self.snapshots.remove(key)?;
        }
        self.db.flush()?;
        self.destroy_keys_except(generation)
    }

    /// Direct access to the snapshot tree, for tests that damage snapshots.
    #[doc(hidden)]
    pub fn snapshots_tree(&self) -> &sled::Tree {
        &self.snapshots
    }
}

/// Makes the creation and removal of files in `dir` durable.
fn sync_directory(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Encrypts or decrypts (the same operation) a snapshot's bytes with its generation's key;
/// the nonce is the snapshot's position, and a position's snapshot is the same bytes whenever
/// it is written again, so no keystream ever covers two different texts. `offset`: where
/// `bytes` start in the snapshot (a multiple of 64, the cipher's block).
fn cipher_at(key: &[u8; 32], position: u64, offset: u64, bytes: &mut [u8]) {
    use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&position.to_be_bytes());
    let mut cipher = chacha20::ChaCha20::new(key.into(), &nonce.into());
    cipher.seek(offset);
    cipher.apply_keystream(bytes);
}

/// The key prefix of one snapshot.
fn key(generation: u64, position: u64) -> [u8; 16] {
    let mut key = [0; 16];
    key[..8].copy_from_slice(&generation.to_be_bytes());
    key[8..].copy_from_slice(&position.to_be_bytes());
    key
}

fn chunk_key(generation: u64, position: u64, chunk: u32) -> [u8; 20] {
    let mut full = [0; 20];
    full[..16].copy_from_slice(&key(generation, position));
    full[16..].copy_from_slice(&chunk.to_be_bytes());
    full
}

fn chunk_of(key: &[u8]) -> u32 {
    key.get(16..20)
        .and_then(|bytes| bytes.try_into().ok())
        .map_or(0, u32::from_be_bytes)
}

fn position_of(key: &[u8]) -> u64 {
    key.get(8..16)
        .and_then(|bytes| bytes.try_into().ok())
        .map_or(0, u64::from_be_bytes)
}

/// The snapshot's watermark names a record of the log with the same hash.
fn matches_log(models: Models, store: &Store) -> Result<Models, SnapshotUnusable> {
    let watermark = models.watermark().ok_or(SnapshotUnusable::NoRecords)?;
    let record = store.get(watermark.seq)?.ok_or(SnapshotUnusable::BeyondLog)?;
    if record.hash != watermark.hash {
        return Err(SnapshotUnusable::OtherHash(watermark.seq));
    }
    Ok(models)
}
