//! The boundary between the log and the bytes it is kept in: [`LogBackend`], a handful of
//! ordered keyspaces with atomic batches and one durability barrier. The writer, the
//! pipeline, the readers, the Merkle tiles, signed checkpoints and `verify` reach the stored
//! log only through it, so a second backend (a database server) is an implementation of this
//! trait, not a rewrite. [`crate::sled_backend::SledBackend`] is the embedded one.
//!
//! The personal values of events are not in here: they live in `personal.dat` beside the
//! backend (`crate::log`), because a redaction overwrites them in place.
//!
//! # Contract
//! - **Keys** are byte strings ordered bytewise; the log's keys are big-endian integers (a
//!   block's first seq, a checkpoint's tree size) or the tile keys of `crate::tiles`.
//! - **Reads see every write** made through the same backend before them, durable or not
//!   (the writer reads back blocks it wrote a moment ago).
//! - [`LogBackend::put_batch`] is **atomic**: after a crash, either all of its entries are
//!   there or none is. It is **not durable** by itself.
//! - [`LogBackend::sync`] is the **durability barrier**: when it returns `Ok`, every write
//!   that returned before it was called survives a crash or a power loss. The store
//!   acknowledges an append only after a `sync` that followed the append's `put_batch`.
//! - Writes to different keyspaces are not ordered against each other until a `sync`: a
//!   crash may keep the tiles of a commit without its blocks' sync, or the reverse, and
//!   `Store::open` repairs the tiles from the blocks (they are derived).
//! - Any error is final for writes: the store poisons itself and is reopened.
//! - Ranges and iterators return entries in key order and end at the end of the keyspace.

use std::any::Any;

use crate::error::StoreError;

/// A stored value: a cheap, shareable byte buffer (`sled::IVec`, which any backend can build
/// from a `Vec<u8>`).
pub type Bytes = sled::IVec;

/// One entry of a keyspace.
pub type Entry = (Bytes, Bytes);

/// The keyspaces of a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Keyspace {
    /// The log itself: first seq (u64 big-endian) → a block of records.
    Blocks,
    /// The Merkle tree's tiles (`crate::tiles`), derived from the blocks.
    Tiles,
    /// Signed checkpoints issued: tree size (u64 big-endian) → the note.
    Checkpoints,
    /// The store's own facts (its format version).
    Meta,
}

/// The stored bytes of one log. See the module doc for what each call must guarantee.
pub trait LogBackend: Send + Sync {
    /// The value at `key`.
    fn get(&self, space: Keyspace, key: &[u8]) -> Result<Option<Bytes>, StoreError>;

    /// The entry with the greatest key at or below `key`.
    fn last_at_or_below(&self, space: Keyspace, key: &[u8]) -> Result<Option<Entry>, StoreError>;

    /// The entry with the greatest key.
    fn last(&self, space: Keyspace) -> Result<Option<Entry>, StoreError>;

    /// The entries from `from` (inclusive) up to `to` (exclusive; the end when `None`), in key
    /// order.
    fn range<'a>(
        &'a self,
        space: Keyspace,
        from: &[u8],
        to: Option<&[u8]>,
    ) -> Box<dyn Iterator<Item = Result<Entry, StoreError>> + 'a>;

    /// Writes `entries` to `space` atomically, not yet durably.
    fn put_batch(&self, space: Keyspace, entries: &[(&[u8], &[u8])]) -> Result<(), StoreError>;

    /// Removes every entry of `space`, not yet durably (the tiles, to rebuild them).
    fn clear(&self, space: Keyspace) -> Result<(), StoreError>;

    /// Makes every write made so far durable.
    fn sync(&self) -> Result<(), StoreError>;

    /// The bytes the backend occupies on disk.
    fn size_on_disk(&self) -> Result<u64, StoreError>;

    /// The backend as `Any`, for tests that damage one kind of backend behind the store's back.
    fn as_any(&self) -> &dyn Any;
}
