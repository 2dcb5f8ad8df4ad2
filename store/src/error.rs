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
        code: BadRequestCode,
        index: Option<usize>,
        field: Option<String>,
        message: String,
    },

    /// An event touches a county outside the appending principal's scope (`county`), or is a
    /// redaction (`None`), which only an unscoped principal may append. Nothing of the batch
    /// was stored (403).
    #[error("{}", match county {
        Some(county) => format!("event {index} touches county {county}, outside this token's scope"),
        None => format!("event {index} is a redaction, which only an unscoped token may append"),
    })]
    OutOfScope {
        index: usize,
        county: Option<uuid::Uuid>,
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

    /// The log's files are damaged beyond one record: the database fails reading them, or it
    /// holds fewer records than were known durable, or another log than its directory held.
    /// Stop, run `govrec verify`, and restore from a backup (503 `log_damaged`).
    #[error("the log is damaged: {reason}. Stop the service, run `govrec verify` and restore from a backup (docs/storage.md, \"Backup and restore\")")]
    Damaged { reason: String },

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
        code: BadRequestCode,
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

/// Why a request is malformed ([`StoreError::BadRequest`]); [`BadRequestCode::as_str`] is the
/// stable word a client matches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BadRequestCode {
    /// A batch with no events.
    EmptyBatch,
    /// A batch over the limit of events (413).
    TooManyEvents,
    /// An event id repeated within one batch (409).
    DuplicateId,
    /// An event over `EVENT_BYTES_MAX` in stored form (413).
    PayloadTooLarge,
    /// The actor name is empty, too long or not printable.
    InvalidActor,
    /// A field of the request is malformed; `field` names it.
    InvalidField,
    /// A line of an import is not a record or an event.
    InvalidLine,
    /// An event is not a JSON object with a `type`.
    MalformedEvent,
    /// An event names a `type` the catalogue does not have.
    UnknownEventType,
    /// A checkpoint origin that is not a printable line.
    InvalidOrigin,
    /// A proof asks for a record beyond the tree it names.
    InvalidLeafIndex,
    /// A proof names tree sizes out of order or zero.
    InvalidTreeSize,
    /// A proof or checkpoint names a tree larger than the log.
    TreeSizeBeyondHead,
}

impl BadRequestCode {
    /// The stable snake_case word of the problem's `code`.
    pub fn as_str(self) -> &'static str {
        match self {
            BadRequestCode::EmptyBatch => "empty_batch",
            BadRequestCode::TooManyEvents => "too_many_events",
            BadRequestCode::DuplicateId => "duplicate_id",
            BadRequestCode::PayloadTooLarge => "payload_too_large",
            BadRequestCode::InvalidActor => "invalid_actor",
            BadRequestCode::InvalidField => "invalid_field",
            BadRequestCode::InvalidLine => "invalid_line",
            BadRequestCode::MalformedEvent => "malformed_event",
            BadRequestCode::UnknownEventType => "unknown_event_type",
            BadRequestCode::InvalidOrigin => "invalid_origin",
            BadRequestCode::InvalidLeafIndex => "invalid_leaf_index",
            BadRequestCode::InvalidTreeSize => "invalid_tree_size",
            BadRequestCode::TreeSizeBeyondHead => "tree_size_beyond_head",
        }
    }

    /// The code of an event's JSON form that does not parse.
    pub fn of_json_error(error: &govrec_core::JsonEventError) -> BadRequestCode {
        use govrec_core::JsonEventError;
        match error {
            JsonEventError::UnknownType(_) => BadRequestCode::UnknownEventType,
            JsonEventError::NotAnObject | JsonEventError::MissingType => BadRequestCode::MalformedEvent,
            JsonEventError::NullField { .. } | JsonEventError::Invalid { .. } => BadRequestCode::InvalidField,
        }
    }
}
