//! The Merkle tree on disk (`docs/merkle.md`, `docs/storage.md`): the hashes of its complete
//! perfect subtrees, packed into tiles of [`TILE_WIDTH`] hashes in the sled tree `merkle`.
//!
//! Tile `(t, i)` holds the hashes of the nodes at level `8t` with indices `256i ..` that are
//! complete (a full tile has 256, the last tile of a level fewer); a node at level `8t + k`
//! (k < 8) is computed from `2^k` entries of one tile. The writer appends leaves and writes
//! the tiles that changed; complete nodes never change, so a reader can use any tile for any
//! tree size up to what was written.
//!
//! The unfinished tile of level 0 (the newest < 256 leaf hashes) is **not** written: it would
//! be rewritten by every commit, several kilobytes for a one-record commit, and it is cheap to
//! rebuild from the records. It lives in memory ([`PartialLeaves`]); readers take a copy of it
//! beside the stored tiles, and on open the writer recomputes it from the records after the
//! stored `size` (a multiple of 256). Unfinished tiles of the higher levels change only when a
//! leaf tile completes, and are written then.

use std::collections::{BTreeMap, HashMap};

use crate::backend::{Bytes, Keyspace, LogBackend};
use crate::error::StoreError;
use crate::hash::Hash32;
use crate::merkle::{perfect_root, NodeSource};

/// Levels per tile.
pub const TILE_HEIGHT: u32 = 8;
/// Hashes in a full tile.
pub const TILE_WIDTH: usize = 1 << TILE_HEIGHT;
/// Key of the number of leaves the tiles cover (`u64` big-endian).
const SIZE_KEY: &[u8] = b"size";

/// The key of tile `(tile_level, index)`: one byte, then the index as `u64` big-endian.
fn tile_key(tile_level: u8, index: u64) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = tile_level;
    key[1..].copy_from_slice(&index.to_be_bytes());
    key
}

fn corrupt(reason: String) -> StoreError {
    StoreError::Corrupt { seq: 0, reason }
}

/// The number of leaves the stored tiles cover.
pub(crate) fn stored_size(backend: &dyn LogBackend) -> Result<u64, StoreError> {
    match backend.get(Keyspace::Tiles, SIZE_KEY)? {
        None => Ok(0),
        Some(bytes) => Ok(u64::from_be_bytes(
            bytes
                .as_ref()
                .try_into()
                .map_err(|_| corrupt("merkle/size is not a u64".to_owned()))?,
        )),
    }
}

/// The unfinished leaf tile (tile level 0), which is kept in memory only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PartialLeaves {
    /// Its tile index: the leaves before it are in complete, stored tiles.
    pub(crate) index: u64,
    /// The leaf hashes it holds so far (fewer than [`TILE_WIDTH`]).
    pub(crate) hashes: Vec<Hash32>,
}

/// The writer's side: the unfinished tile of every tile level, and the size.
#[derive(Debug, Default)]
pub(crate) struct TileWriter {
    size: u64,
    /// `partial[t]`: the entries of the last, unfinished tile at tile level `t`.
    partial: Vec<Vec<Hash32>>,
}

/// The tiles one append changes, ready for one sled batch.
#[derive(Debug, Default)]
pub(crate) struct TileWrites {
    tiles: BTreeMap<[u8; 9], Vec<u8>>,
    size: u64,
}

impl TileWrites {
    /// True when the append completed no tile: nothing to write.
    pub(crate) fn is_empty(&self) -> bool {
        self.tiles.is_empty()
    }

    /// Adds the writes of a later append (its tiles replace the same tiles of this one).
    pub(crate) fn merge(&mut self, later: TileWrites) {
        self.tiles.extend(later.tiles);
        self.size = self.size.max(later.size);
    }

    /// The entries to write: the tiles, and the tree size they make up.
    pub(crate) fn entries(self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut entries: Vec<(Vec<u8>, Vec<u8>)> = self
            .tiles
            .into_iter()
            .map(|(key, value)| (key.to_vec(), value))
            .collect();
        entries.push((SIZE_KEY.to_vec(), self.size.to_be_bytes().to_vec()));
        entries
    }
}

impl TileWriter {
    /// Loads the unfinished tiles of the tree stored in `tree`.
    pub(crate) fn load(backend: &dyn LogBackend) -> Result<TileWriter, StoreError> {
        let size = stored_size(backend)?;
        let mut partial = Vec::new();
        let mut tile_level = 0u32;
        loop {
            let shift = TILE_HEIGHT * tile_level;
            let nodes = if shift >= 64 { 0 } else { size >> shift };
            if nodes == 0 && tile_level > 0 {
                break;
            }
            let in_partial = (nodes % TILE_WIDTH as u64) as usize;
            let mut entries = Vec::with_capacity(TILE_WIDTH);
            if in_partial > 0 {
                let key = tile_key(tile_level as u8, nodes / TILE_WIDTH as u64);
                let tile = backend
                    .get(Keyspace::Tiles, &key)?
                    .ok_or_else(|| corrupt(format!("merkle tile ({tile_level}, …) is missing")))?;
                let hashes = decode_tile(&tile)?;
                if hashes.len() < in_partial {
                    return Err(corrupt(format!("merkle tile at level {tile_level} is short")));
                }
                entries.extend_from_slice(&hashes[..in_partial]);
            }
            partial.push(entries);
            tile_level += 1;
            if nodes < TILE_WIDTH as u64 {
                break;
            }
        }
        Ok(TileWriter { size, partial })
    }

    /// The number of leaves appended so far.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// The unfinished leaf tile, which is not stored.
    pub(crate) fn partial_leaves(&self) -> PartialLeaves {
        PartialLeaves {
            index: self.size / TILE_WIDTH as u64,
            hashes: self.partial.first().cloned().unwrap_or_default(),
        }
    }

    /// Appends leaf hashes and returns the tiles to write: the tiles completed, and the
    /// unfinished tiles of levels above 0 that changed (with the size they cover, a multiple of
    /// 256). Empty when no leaf tile completed.
    pub(crate) fn append(&mut self, leaves: impl IntoIterator<Item = Hash32>) -> TileWrites {
        let mut writes = TileWrites::default();
        let mut dirty: Vec<bool> = Vec::new();
        for leaf in leaves {
            let mut node = leaf;
            let mut tile_level = 0usize;
            loop {
                if self.partial.len() <= tile_level {
                    self.partial.push(Vec::with_capacity(TILE_WIDTH));
                }
                if dirty.len() <= tile_level {
                    dirty.resize(tile_level + 1, false);
                }
                // Index of the tile `node` lands in: nodes of this level before it / width.
                let nodes_before = (self.size >> (TILE_HEIGHT as usize * tile_level)) as usize;
                let tile = &mut self.partial[tile_level];
                tile.push(node);
                dirty[tile_level] = true;
                if tile.len() < TILE_WIDTH {
                    break;
                }
                // The tile is full: store it for good and carry its root one tile level up.
                let index = (nodes_before / TILE_WIDTH) as u64;
                writes
                    .tiles
                    .insert(tile_key(tile_level as u8, index), encode_tile(tile));
                node = perfect_root(tile);
                tile.clear();
                dirty[tile_level] = false;
                tile_level += 1;
            }
            self.size += 1;
        }
        for (tile_level, tile) in self.partial.iter().enumerate().skip(1) {
            if dirty.get(tile_level).copied().unwrap_or(false) && !tile.is_empty() {
                let nodes = self.size >> (TILE_HEIGHT as usize * tile_level);
                writes.tiles.insert(
                    tile_key(tile_level as u8, nodes / TILE_WIDTH as u64),
                    encode_tile(tile),
                );
            }
        }
        writes.size = self.size - self.size % TILE_WIDTH as u64;
        writes
    }
}

/// A stored tile that is not what the records make of it: `(tile level, index)`.
pub(crate) type TileMismatch = (u8, u64);

/// Checks the stored tiles against the tiles the leaf hashes `leaves` (of records `0..`, in
/// order) make, level by level from the layout in the module doc rather than through the
/// [`TileWriter`] that wrote them, and on all cores.
///
/// Only what those leaves determine is checked: with a writer adding records meanwhile, the
/// stored tree may already be larger, and a stored unfinished tile of a higher level may then
/// hold more entries, of which the ones checked must come first.
pub(crate) fn check_stored(
    backend: &dyn LogBackend,
    leaves: &[Hash32],
) -> Result<Option<TileMismatch>, StoreError> {
    use rayon::prelude::*;
    let stored = stored_size(backend)?;
    let whole_tiles = leaves.len() - leaves.len() % TILE_WIDTH;
    let covered = (stored.min(whole_tiles as u64)) as usize;
    let exact = stored == covered as u64;
    // The entries of the current level: the leaves themselves, then the roots below.
    let mut entries: std::borrow::Cow<[Hash32]> = std::borrow::Cow::Borrowed(&leaves[..covered]);
    let mut tile_level = 0u8;
    loop {
        let full = entries.len() / TILE_WIDTH;
        // Full tiles: equal to their entries; their roots are the next level's entries.
        let checked: Result<Vec<Result<Hash32, TileMismatch>>, StoreError> = entries
            .par_chunks_exact(TILE_WIDTH)
            .enumerate()
            .map(|(index, tile)| {
                let found = backend.get(Keyspace::Tiles, &tile_key(tile_level, index as u64))?;
                Ok(match found {
                    Some(found) if found.as_ref() == encode_tile(tile).as_slice() => Ok(perfect_root(tile)),
                    _ => Err((tile_level, index as u64)),
                })
            })
            .collect();
        let mut roots = Vec::with_capacity(full);
        for checked in checked? {
            match checked {
                Ok(root) => roots.push(root),
                Err(mismatch) => return Ok(Some(mismatch)),
            }
        }
        // The unfinished tile of a level above the leaves (the leaves' own is not stored).
        let rest = &entries[full * TILE_WIDTH..];
        let mut expected_tiles = full as u64;
        if !rest.is_empty() {
            let key = tile_key(tile_level, full as u64);
            let wanted = encode_tile(rest);
            let matches = match backend.get(Keyspace::Tiles, &key)? {
                Some(found) if exact => found.as_ref() == wanted.as_slice(),
                Some(found) => found.get(..wanted.len()) == Some(wanted.as_slice()),
                None => false,
            };
            if !matches {
                return Ok(Some((tile_level, full as u64)));
            }
            expected_tiles += 1;
        }
        // Nothing stored past them at this level, when the stored tree is exactly this one.
        if exact {
            let past = backend
                .range(
                    Keyspace::Tiles,
                    &tile_key(tile_level, expected_tiles),
                    Some(&tile_key(tile_level + 1, 0)),
                )
                .next()
                .transpose()?
                .map(|(key, _)| key);
            if let Some(key) = past {
                return Ok(Some((tile_level, tile_index(&key))));
            }
        }
        if roots.is_empty() {
            break;
        }
        entries = std::borrow::Cow::Owned(roots);
        tile_level += 1;
    }
    if exact {
        // No tile of a level above the last (tile keys start with their level, below `size`).
        let above = backend
            .range(Keyspace::Tiles, &tile_key(tile_level + 1, 0), Some(SIZE_KEY))
            .next()
            .transpose()?
            .map(|(key, _)| key);
        if let Some(key) = above {
            return Ok(Some((key[0], tile_index(&key))));
        }
    }
    Ok(None)
}

/// The index of a tile key.
fn tile_index(key: &[u8]) -> u64 {
    key.get(1..9)
        .and_then(|bytes| bytes.try_into().ok())
        .map_or(0, u64::from_be_bytes)
}

fn encode_tile(hashes: &[Hash32]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(hashes.len() * 32);
    for hash in hashes {
        bytes.extend_from_slice(&hash.to_bytes());
    }
    bytes
}

fn decode_tile(bytes: &[u8]) -> Result<Vec<Hash32>, StoreError> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(32) || bytes.len() > 32 * TILE_WIDTH {
        return Err(corrupt(format!("a merkle tile has {} bytes", bytes.len())));
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|chunk| Hash32::from_bytes(chunk.try_into().expect("32-byte chunk")))
        .collect())
}

/// Reads perfect-subtree hashes from the stored tiles and a copy of the unfinished leaf tile,
/// caching the tiles it read (one proof reads a handful of tiles several times).
///
/// The copy must be taken after the reader learnt the tree size it will ask for: the writer
/// stores a completed tile before it moves its copy on, so every leaf below that size is
/// either in the copy or in a stored tile.
pub(crate) struct TileReader<'a> {
    backend: &'a dyn LogBackend,
    partial: PartialLeaves,
    cache: HashMap<[u8; 9], Bytes>,
}

impl<'a> TileReader<'a> {
    pub(crate) fn new(backend: &'a dyn LogBackend, partial: PartialLeaves) -> TileReader<'a> {
        TileReader {
            backend,
            partial,
            cache: HashMap::new(),
        }
    }
}

impl NodeSource for TileReader<'_> {
    type Error = StoreError;

    fn perfect(&mut self, level: u32, index: u64) -> Result<Hash32, StoreError> {
        let tile_level = level / TILE_HEIGHT;
        let height_in_tile = level % TILE_HEIGHT;
        let first = index << height_in_tile;
        let offset = (first % TILE_WIDTH as u64) as usize;
        let count = 1usize << height_in_tile;
        if tile_level == 0 && first / TILE_WIDTH as u64 == self.partial.index {
            let hashes = self.partial.hashes.get(offset..offset + count).ok_or_else(|| {
                corrupt(format!(
                    "merkle node ({level}, {index}) is past the unfinished leaf tile"
                ))
            })?;
            return Ok(perfect_root(hashes));
        }
        let key = tile_key(tile_level as u8, first / TILE_WIDTH as u64);
        let tile = match self.cache.get(&key) {
            Some(tile) => tile.clone(),
            None => {
                let tile = self
                    .backend
                    .get(Keyspace::Tiles, &key)?
                    .ok_or_else(|| corrupt(format!("merkle node ({level}, {index}): its tile is missing")))?;
                self.cache.insert(key, tile.clone());
                tile
            }
        };
        if !tile.len().is_multiple_of(32) || tile.len() < (offset + count) * 32 {
            return Err(corrupt(format!(
                "merkle node ({level}, {index}): its tile is too short"
            )));
        }
        if count == 1 {
            return Ok(Hash32::from_bytes(
                tile[offset * 32..offset * 32 + 32].try_into().expect("32 bytes"),
            ));
        }
        let hashes: Vec<Hash32> = tile[offset * 32..(offset + count) * 32]
            .chunks_exact(32)
            .map(|chunk| Hash32::from_bytes(chunk.try_into().expect("32-byte chunk")))
            .collect();
        Ok(perfect_root(&hashes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{self, LeavesInMemory};
    use crate::sled_backend::SledBackend;

    fn leaf(i: u64) -> Hash32 {
        merkle::leaf_hash(&Hash32::from_bytes(*blake3::hash(&i.to_le_bytes()).as_bytes()))
    }

    /// Tiles over 70,000 leaves (three tile levels), appended in uneven chunks with the writer
    /// reloaded from sled in between (and caught up from the leaves, as the store does from
    /// its records), give the roots and proofs of the tree in memory.
    #[test]
    fn tiles_over_three_tile_levels_match_the_tree_in_memory() {
        let backend = SledBackend::temporary();
        let leaves: Vec<Hash32> = (0..70_000).map(leaf).collect();
        let mut writer = TileWriter::load(&backend).unwrap();
        let mut at = 0usize;
        let mut chunk = 1usize;
        while at < leaves.len() {
            let end = (at + chunk).min(leaves.len());
            let writes = writer.append(leaves[at..end].iter().copied());
            assert_eq!(writes.is_empty(), end / TILE_WIDTH == at / TILE_WIDTH);
            if !writes.is_empty() {
                let entries = writes.entries();
                let borrowed: Vec<(&[u8], &[u8])> = entries
                    .iter()
                    .map(|(key, value)| (key.as_slice(), value.as_slice()))
                    .collect();
                backend.put_batch(Keyspace::Tiles, &borrowed).unwrap();
            }
            at = end;
            chunk = chunk * 7 % 9_973 + 1;
            if chunk.is_multiple_of(3) {
                writer = TileWriter::load(&backend).unwrap();
                let stored = writer.size() as usize;
                assert_eq!(stored, at - at % TILE_WIDTH, "only whole leaf tiles are stored");
                let writes = writer.append(leaves[stored..at].iter().copied());
                assert!(writes.is_empty());
            }
            assert_eq!(writer.size(), at as u64);
        }
        let mut reader = TileReader::new(&backend, writer.partial_leaves());
        for size in [1u64, 255, 256, 257, 65_535, 65_536, 65_537, 69_999, 70_000] {
            let memory = &leaves[..size as usize];
            let expected = merkle::root_of_leaves(memory);
            assert_eq!(
                merkle::root(&mut reader, size).unwrap(),
                expected,
                "root of {size}"
            );
            for index in [0, size / 3, size - 1] {
                let proof = merkle::inclusion_proof(&mut reader, index, size).unwrap();
                let in_memory = merkle::inclusion_proof(&mut LeavesInMemory(memory), index, size).unwrap();
                assert_eq!(proof, in_memory, "PATH({index}, {size})");
            }
            for old in [1, size / 2, size - 1] {
                let proof = merkle::consistency_proof(&mut reader, old, size).unwrap();
                let in_memory = merkle::consistency_proof(&mut LeavesInMemory(memory), old, size).unwrap();
                assert_eq!(proof, in_memory, "PROOF({old}, {size})");
            }
        }
    }
}
