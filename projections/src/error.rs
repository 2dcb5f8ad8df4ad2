//! The one error enum of the read models.

use govrec_core::CannotApply;
use govrec_store::StoreError;
use uuid::Uuid;

/// What can go wrong while building, restoring or querying read models. Each variant says how
/// a caller should handle it.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// A recorded event cannot apply to the models: it names an id the models do not know (or
    /// one of another kind), or a relation that does not exist. The log passed the rules when
    /// it was written, so this means the log or this code is wrong. Stop and report the seq;
    /// never skip the record.
    #[error("record {seq} cannot apply to the read models: {reason}")]
    CannotApply { seq: u64, reason: CannotApply },

    /// Records were offered out of order (the models hold `expected` records; record `seq`
    /// came next). A bug in the caller: replay feeds records in seq order.
    #[error("record {seq} offered where record {expected} belongs")]
    OutOfOrder { seq: u64, expected: u64 },

    /// An `as_of` position beyond the log's head. Answer 404 or 422: that point does not exist.
    #[error("as_of seq {seq} is beyond the log, whose last seq is {last:?}")]
    AsOfBeyondHead { seq: u64, last: Option<u64> },

    /// A query names an area the models do not know (404).
    #[error("no area has id {0}")]
    UnknownArea(Uuid),

    /// A query names a member, work unit or organisation the models do not know (404).
    #[error("no member, work unit or party organisation has id {0}")]
    UnknownSubject(Uuid),

    /// A query names an area outside the caller's scope of counties (403).
    #[error("area {0} lies outside the caller's scope")]
    OutOfScope(Uuid),

    /// A query parameter is malformed: a paging cursor that is not one this crate returned, a
    /// period that is not `2026`, `2026-H1` or `2026-Q3` (400).
    #[error("invalid query: {0}")]
    InvalidQuery(String),

    /// Reading the log failed (damage, I/O). Handle as the store's error says; the models
    /// are unchanged.
    #[error(transparent)]
    Store(#[from] StoreError),

    /// The snapshot database failed (I/O, sled). Snapshots are a cache: the caller may go on
    /// without them (replay from zero) and should log this.
    #[error("snapshot storage error: {0}")]
    Snapshots(#[from] sled::Error),
}
