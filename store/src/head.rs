//! What a commit moves and returns: the durable head and an append's receipts.

use uuid::Uuid;

use crate::hash::Hash32;
use crate::record::RecordedAt;

/// Where one appended event landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    pub seq: u64,
    pub id: Uuid,
    pub hash: Hash32,
}

/// The position of the log's last durable record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// The seq the next record will get (= the number of records).
    pub next_seq: u64,
    /// The hash of the last record (zeros for an empty log).
    pub hash: Hash32,
    pub recorded_at: Option<RecordedAt>,
}

impl Head {
    pub const EMPTY: Head = Head {
        next_seq: 0,
        hash: Hash32::ZERO,
        recorded_at: None,
    };

    /// The seq of the last record, if any.
    pub fn last_seq(&self) -> Option<u64> {
        self.next_seq.checked_sub(1)
    }
}

impl Default for Head {
    fn default() -> Self {
        Head::EMPTY
    }
}

/// The outcome of an append: the receipts of its events and the head after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub receipts: Vec<Receipt>,
    pub head: Head,
    /// True when every event was already recorded with identical content (an idempotent
    /// retry); nothing new was written.
    pub idempotent_retry: bool,
}
