//! The snapshot database: snapshots of the models (their format is the parent module's) in
//! their own sled database (a directory the caller chooses, e.g.
//! `DATA/models`; the log's database is locked by the store). A snapshot is a cache: anything
//! wrong with one — it does not decode, its checksum fails, it was written by another format
//! version, or the log's record at its watermark seq has another hash — gets it deleted and
//! the models are rebuilt from the log instead, never trusted.
//!
//! Layout:
//! - tree `snapshots`: key = generation (`u64` BE) ++ position (`u64` BE, the number of
//!   records the snapshot reflects) ++ chunk number (`u32` BE); the plaintexts of one
//!   snapshot's chunks, in order, are `SNAPSHOT_MAGIC` ++ format version (`u32` BE) ++ BLAKE3
//!   of the body (32 bytes) ++ body (two sections, see [`encode`]), and each chunk is stored
//!   sealed (below). Chunks of [`SNAPSHOT_CHUNK_BYTES`] keep every
//!   sled page far below a quarter of a segment, so sled never writes a separate blob file
//!   (slow to write, read and recover, and not fsynced; `docs/storage.md`).
//! - tree `meta`: `generation` → the generation (`u64` BE) readers use.
//!
//! A rebuild writes its snapshots under the next generation and switches `meta/generation`
//! when it swaps the models in, so snapshots of the old models (perhaps built by buggy code)
//! keep serving `as_of` until then and are deleted after.
//!
//! Every snapshot is sealed with a key of its own, made afresh each time it is written and
//! kept outside sled in `DIR/snapshot-keys/GENERATION-POSITION` (mode 0600): each chunk is
//! XChaCha20-Poly1305 with a random 24-byte nonce and the chunk's sled key as associated data
//! (a chunk moved to another place fails to open), stored as nonce ++ ciphertext ++ tag.
//! Snapshots hold members' names, and deleting a sled key does not remove its bytes from
//! sled's files, so a snapshot is removed by deleting its key first (crypto-shredding): what
//! is left of it in sled's files can no longer be read by anyone. A key never outlives its
//! snapshot and never seals a second one: a rewrite, a new rebuild attempt, a snapshot that
//! does not match the log, the other generations after a switch — each destroys the keys of
//! what it replaces, and `open` destroys every key that no live snapshot of the current
//! generation uses (what a crash or a failed rebuild left). A snapshot whose key is gone, or
//! whose chunks do not open, is unusable and discarded like any other damaged snapshot.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chacha20poly1305::aead::{AeadCore, AeadInPlace, KeyInit, OsRng};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
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

/// The folder, inside the snapshot directory, of the snapshots' keys.
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
        let store = SnapshotStore {
            snapshots: db.open_tree("snapshots")?,
            meta: db.open_tree("meta")?,
            db,
            keys_dir,
            dir: dir.to_path_buf(),
            buffers: Default::default(),
        };
        store.destroy_unused_keys()?;
        Ok(store)
    }

    /// Destroys every key no live snapshot of the current generation uses: those of a rebuild
    /// that a crash or an error cut short, of snapshots whose removal was cut short, and of
    /// the earlier scheme (one key per generation).
    fn destroy_unused_keys(&self) -> Result<(), ProjectionError> {
        let generation = self.generation()?;
        let live = self.positions(generation)?;
        self.destroy_keys_where(
            |named| !matches!(named, Some((g, p)) if g == generation && live.binary_search(&p).is_ok()),
        )
    }

    fn key_path(&self, generation: u64, position: u64) -> std::path::PathBuf {
        self.keys_dir.join(format!("{generation}-{position}"))
    }

    /// The key of one snapshot, if it still exists.
    fn key(&self, generation: u64, position: u64) -> Result<Option<Key>, ProjectionError> {
        match std::fs::read(self.key_path(generation, position)) {
            Ok(bytes) => Ok(<[u8; 32]>::try_from(bytes.as_slice()).ok().map(Key::from)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(ProjectionError::Snapshots(error.into())),
        }
    }

    /// A fresh key for a snapshot about to be written (0600, synced). The caller has removed
    /// whatever was at that place, key first (`remove`), so the file is new.
    fn new_key(&self, generation: u64, position: u64) -> Result<Key, ProjectionError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let io = |error: std::io::Error| ProjectionError::Snapshots(error.into());
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(self.key_path(generation, position))
            .map_err(io)?;
        file.write_all(key.as_slice()).map_err(io)?;
        file.sync_all().map_err(io)?;
        sync_directory(&self.keys_dir).map_err(io)?;
        Ok(key)
    }

    /// Deletes one snapshot's key, durably.
    fn destroy_key(&self, generation: u64, position: u64) -> Result<(), ProjectionError> {
        let io = |error: std::io::Error| ProjectionError::Snapshots(error.into());
        match std::fs::remove_file(self.key_path(generation, position)) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            removed => {
                removed.map_err(io)?;
                sync_directory(&self.keys_dir).map_err(io)
            }
        }
    }

    /// Deletes, durably, every key file for which `doomed` says yes, given the (generation,
    /// position) its name holds (`None` for a name of another shape).
    fn destroy_keys_where(&self, doomed: impl Fn(Option<(u64, u64)>) -> bool) -> Result<(), ProjectionError> {
        let io = |error: std::io::Error| ProjectionError::Snapshots(error.into());
        let mut destroyed = false;
        for entry in std::fs::read_dir(&self.keys_dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let named = entry.file_name().to_str().and_then(|name| {
                let (generation, position) = name.split_once('-')?;
                Some((generation.parse().ok()?, position.parse().ok()?))
            });
            if doomed(named) {
                std::fs::remove_file(entry.path()).map_err(io)?;
                destroyed = true;
            }
        }
        if destroyed {
            sync_directory(&self.keys_dir).map_err(io)?;
        }
        Ok(())
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
        // A snapshot already at this place (written by an earlier attempt) goes first, key and
        // all: its key must not seal the new one, and none of its chunks may outlive it.
        self.remove(generation, position)?;
        let cipher = XChaCha20Poly1305::new(&self.new_key(generation, position)?);
        let bytes = encode(models);
        let mut batch = sled::Batch::default();
        for (chunk, plain) in bytes.chunks(SNAPSHOT_CHUNK_BYTES).enumerate() {
            let place = chunk_key(generation, position, chunk as u32);
            batch.insert(&place, seal(&cipher, &place, plain));
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
        let Some(secret) = self.key(generation, position)? else {
            return Ok(());
        };
        let cipher = XChaCha20Poly1305::new(&secret);
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
                scope.spawn(|| self.read_chunks(generation, position, half..chunks, &cipher, second));
            let first = self.read_chunks(generation, position, 0..half, &cipher, first);
            (first, second.join().expect("reading never panics"))
        });
        let (first, second) = (first?, second?);
        match (first, second) {
            (Some(first), Some(second)) if first == first_bytes => stored.truncate(first + second),
            _ => stored.clear(),
        }
        Ok(())
    }

    /// Chunks `range` of a snapshot, opened, into `out` (which starts at the first chunk of
    /// `range`); the bytes written, or `None` when a chunk is missing, does not fit where it
    /// belongs or does not open (damaged, moved, or sealed with another key).
    fn read_chunks(
        &self,
        generation: u64,
        position: u64,
        range: std::ops::Range<u32>,
        cipher: &XChaCha20Poly1305,
        out: &mut [u8],
    ) -> Result<Option<usize>, ProjectionError> {
        let from = chunk_key(generation, position, range.start);
        let to = chunk_key(generation, position, range.end);
        let mut written = 0;
        for (index, entry) in self.snapshots.range(from..to).enumerate() {
            let (place, value) = entry?;
            let expected = chunk_key(generation, position, range.start + index as u32);
            let plain_len = value.len().saturating_sub(SEAL_OVERHEAD);
            let is_last = index + 1 == range.len();
            let end = written + plain_len;
            let fits = place.as_ref() == expected.as_slice()
                && value.len() >= SEAL_OVERHEAD
                && (is_last || plain_len == SNAPSHOT_CHUNK_BYTES);
            let Some(into) = out.get_mut(written..end).filter(|_| fits) else {
                return Ok(None);
            };
            if !open(cipher, &expected, &value, into) {
                return Ok(None);
            }
            written = end;
        }
        Ok(Some(written))
    }

    /// Removes one snapshot: its key first (so its bytes, wherever sled keeps them, cannot be
    /// read from then on), then its chunks.
    fn remove(&self, generation: u64, position: u64) -> Result<(), ProjectionError> {
        self.destroy_key(generation, position)?;
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
        self.destroy_keys_where(|named| !matches!(named, Some((g, _)) if g == generation))
    }

    /// Readies `generation` for a rebuild: removes whatever an earlier attempt left in it, keys
    /// first. A generation that readers use cannot be begun again.
    pub fn begin_generation(&self, generation: u64) -> Result<(), ProjectionError> {
        assert_ne!(
            generation,
            self.generation()?,
            "a rebuild writes a new generation"
        );
        self.destroy_keys_where(|named| matches!(named, Some((g, _)) if g == generation))?;
        let left: Vec<sled::IVec> = self
            .snapshots
            .scan_prefix(generation.to_be_bytes())
            .keys()
            .collect::<Result<_, _>>()?;
        for key in left {
            self.snapshots.remove(key)?;
        }
        self.db.flush()?;
        Ok(())
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

/// What sealing adds to a chunk: the nonce before it, the tag after it.
const SEAL_OVERHEAD: usize = NONCE_BYTES + TAG_BYTES;
const NONCE_BYTES: usize = 24;
const TAG_BYTES: usize = 16;

/// A chunk sealed at `place` (its sled key, the associated data): nonce ++ ciphertext ++ tag.
fn seal(cipher: &XChaCha20Poly1305, place: &[u8], plain: &[u8]) -> Vec<u8> {
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let mut sealed = Vec::with_capacity(plain.len() + SEAL_OVERHEAD);
    sealed.extend_from_slice(nonce.as_slice());
    sealed.extend_from_slice(plain);
    let tag = cipher
        .encrypt_in_place_detached(&nonce, place, &mut sealed[NONCE_BYTES..])
        .expect("a chunk is far below the cipher's length limit");
    sealed.extend_from_slice(tag.as_slice());
    sealed
}

/// Opens a chunk sealed at `place` into `into` (exactly its plaintext's length); false when
/// it does not open.
fn open(cipher: &XChaCha20Poly1305, place: &[u8], sealed: &[u8], into: &mut [u8]) -> bool {
    let (nonce, rest) = sealed.split_at(NONCE_BYTES);
    let (ciphertext, tag) = rest.split_at(rest.len() - TAG_BYTES);
    into.copy_from_slice(ciphertext);
    cipher
        .decrypt_in_place_detached(XNonce::from_slice(nonce), place, into, Tag::from_slice(tag))
        .is_ok()
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
