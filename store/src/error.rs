//! The store's one error enum.

use govrec_core::violation::Violation;

/// What can go wrong in the store. Each variant says how a caller should handle it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A rule of `domain.md` was broken by the event at `index` of the batch. Nothing of the
    /// batch was stored. Show the violation to the client (422, or 409 for its code).
    #[error(transparent)]
    Rejected(#[from] Violation),

    /// The request itself is malformed (empty batch, too many events, bad actor, bad
    /// `occurred_on`, an id repeated within the batch). Nothing was stored. `index` names the
    /// event where one is at fault.
    #[error("{message}")]
    BadRequest {
        code: &'static str,
        index: Option<usize>,
        field: Option<String>,
        message: String,
    },

    /// An event id was seen before with different content, or a retried batch does not match
    /// the original one. Nothing was stored (409 `idempotency_conflict`).
    #[error("event {index}: id {id} was already used for a different event (seq {seq})")]
    IdempotencyConflict { index: usize, id: uuid::Uuid, seq: u64 },

    /// The store hit an I/O error earlier and refuses to write until it is reopened; the log
    /// is as it was at the last acknowledged append. Restart the process (503).
    #[error("the store stopped accepting writes after an I/O error; restart it")]
    Poisoned,

    /// The store is shutting down; retry against the restarted service (503).
    #[error("the store is shutting down")]
    ShuttingDown,

    /// A stored record does not decode or breaks the chain: the files were damaged or changed
    /// behind the store's back. Stop and run `govrec verify`; restore from an export.
    #[error("record {seq} is damaged: {reason}")]
    Corrupt { seq: u64, reason: String },

    /// A record offered for import (or read from JSON) is malformed or does not fit the chain.
    #[error("record {seq}: {reason}")]
    InvalidRecord { seq: u64, reason: String },

    /// The data directory holds a log written by a newer govrec.
    #[error("the store's format version {found} is newer than this build's {supported}")]
    UnsupportedFormat { found: u64, supported: u64 },

    /// The embedded database failed. Fatal for writes: the store poisons itself.
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),

    /// A file operation failed (fsync, export file, lock).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    pub(crate) fn bad_request(
        code: &'static str,
        index: Option<usize>,
        field: Option<&str>,
        message: impl Into<String>,
    ) -> StoreError {
        StoreError::BadRequest {
            code,
            index,
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }
}
