//! Entity id → the seqs of the records that name it, for history queries.
//!
//! Rebuilt from the log on open and kept in memory (`docs/storage.md`), so it is laid out for
//! size: one hash-map entry per entity pointing at its newest node, and one 12-byte node per
//! (record, entity) pair linking back to the entity's previous node. A map of `Vec`s took about
//! four times the memory at 1M records: a 40-byte entry and a heap allocation per entity, plus
//! the `Vec`s' spare capacity.

use govrec_core::IdMap;
use uuid::Uuid;

/// A node with no previous node.
const NONE: u32 = u32::MAX;

#[derive(Debug, Default)]
pub(crate) struct EntityIndex {
    /// Entity → its newest node.
    newest: IdMap<Uuid, u32>,
    /// Node → the seq of its record.
    seqs: Vec<u64>,
    /// Node → the entity's previous node, or [`NONE`].
    previous: Vec<u32>,
}

impl EntityIndex {
    /// Room for `nodes` (record, entity) pairs without reallocating.
    pub(crate) fn reserve_nodes(&mut self, nodes: usize) {
        self.seqs.reserve(nodes);
        self.previous.reserve(nodes);
    }

    /// Records that the record at `seq` names `entity`. Seqs of one entity arrive in log order.
    pub(crate) fn push(&mut self, entity: Uuid, seq: u64) {
        let node = u32::try_from(self.seqs.len())
            .ok()
            .filter(|&node| node != NONE)
            .expect("the entity index holds fewer than 2^32 - 1 (record, entity) pairs");
        let previous = self.newest.insert(entity, node).unwrap_or(NONE);
        self.seqs.push(seq);
        self.previous.push(previous);
    }

    /// The index as bytes, for the store's saved open state: fixed-size little-endian
    /// fields, so reading it back is a copy rather than a parse.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let nodes = self.seqs.len();
        let mut bytes = Vec::with_capacity(16 + nodes * 12 + self.newest.len() * 20);
        bytes.extend_from_slice(&(nodes as u64).to_le_bytes());
        for seq in &self.seqs {
            bytes.extend_from_slice(&seq.to_le_bytes());
        }
        for previous in &self.previous {
            bytes.extend_from_slice(&previous.to_le_bytes());
        }
        bytes.extend_from_slice(&(self.newest.len() as u64).to_le_bytes());
        for (entity, node) in &self.newest {
            bytes.extend_from_slice(entity.as_bytes());
            bytes.extend_from_slice(&node.to_le_bytes());
        }
        bytes
    }

    /// Reads what [`EntityIndex::to_bytes`] wrote; `None` when the bytes do not hold one.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<EntityIndex> {
        let (nodes, rest) = take_u64(bytes)?;
        let nodes = usize::try_from(nodes).ok()?;
        let (seqs, rest) = rest.split_at_checked(nodes.checked_mul(8)?)?;
        let (previous, rest) = rest.split_at_checked(nodes.checked_mul(4)?)?;
        let (entities, rest) = take_u64(rest)?;
        let entities = usize::try_from(entities).ok()?;
        if rest.len() != entities.checked_mul(20)? {
            return None;
        }
        let seqs: Vec<u64> = seqs
            .chunks_exact(8)
            .map(|chunk| u64::from_le_bytes(chunk.try_into().expect("8 bytes")))
            .collect();
        let previous: Vec<u32> = previous
            .chunks_exact(4)
            .map(|chunk| u32::from_le_bytes(chunk.try_into().expect("4 bytes")))
            .collect();
        let mut newest = IdMap::with_capacity_and_hasher(entities, Default::default());
        for entry in rest.chunks_exact(20) {
            let node = u32::from_le_bytes(entry[16..].try_into().expect("4 bytes"));
            if node as usize >= nodes {
                return None;
            }
            newest.insert(Uuid::from_bytes(entry[..16].try_into().expect("16 bytes")), node);
        }
        if previous
            .iter()
            .any(|&node| node != NONE && node as usize >= nodes)
        {
            return None;
        }
        Some(EntityIndex {
            newest,
            seqs,
            previous,
        })
    }

    /// The seqs of every record that names `entity`, in log order.
    pub(crate) fn seqs(&self, entity: &Uuid) -> Vec<u64> {
        let mut seqs = Vec::new();
        let mut node = self.newest.get(entity).copied().unwrap_or(NONE);
        while node != NONE {
            seqs.push(self.seqs[node as usize]);
            node = self.previous[node as usize];
        }
        seqs.reverse();
        seqs
    }
}

fn take_u64(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let (head, rest) = bytes.split_at_checked(8)?;
    Some((u64::from_le_bytes(head.try_into().ok()?), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seqs_come_back_in_log_order_per_entity() {
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let mut index = EntityIndex::default();
        index.push(a, 0);
        index.push(b, 0);
        index.push(a, 3);
        index.push(b, 5);
        index.push(a, 7);
        assert_eq!(index.seqs(&a), vec![0, 3, 7]);
        assert_eq!(index.seqs(&b), vec![0, 5]);
        assert_eq!(index.seqs(&c), Vec::<u64>::new());
        let restored = EntityIndex::from_bytes(&index.to_bytes()).expect("round trip");
        assert_eq!(restored.seqs(&a), vec![0, 3, 7]);
        assert_eq!(restored.seqs(&b), vec![0, 5]);
        let bytes = index.to_bytes();
        assert!(EntityIndex::from_bytes(&bytes[..bytes.len() - 1]).is_none());
    }
}
