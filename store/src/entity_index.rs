//! Entity id → the seqs of the records that name it, for history queries.
//!
//! Rebuilt from the log on open and kept in memory (`docs/storage.md`), so it is laid out for
//! size: one hash-map entry per entity pointing at its newest node, and one 12-byte node per
//! (record, entity) pair linking back to the entity's previous node. A map of `Vec`s took about
//! four times the memory at 1M records: a 40-byte entry and a heap allocation per entity, plus
//! the `Vec`s' spare capacity.

use std::collections::HashMap;

use uuid::Uuid;

/// A node with no previous node.
const NONE: u32 = u32::MAX;

#[derive(Debug, Default)]
pub(crate) struct EntityIndex {
    /// Entity → its newest node.
    newest: HashMap<Uuid, u32>,
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
    }
}
