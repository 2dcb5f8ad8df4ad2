//! govrec's event log: durable, gapless and hash-chained (`shared/record-format.md`), on sled.
//!
//! - [`Log`] is the bytes on disk: records packed into blocks, committed with an fsync.
//! - [`Store`] puts a single writer in front of it that validates batches with
//!   `govrec_core`'s rules, chains and group-commits them, and acknowledges an append only
//!   once it is durable; it keeps the event-id and entity indexes, rebuilt from the log on
//!   open.
//! - [`verify_log`] recomputes the chain; [`export_jsonl`] / [`import_jsonl`] move the log
//!   in and out as JSON Lines.
//!
//! The store never interprets an event beyond what `govrec_core` tells it (the ids an event
//! touches); it knows nothing of HTTP or read models.

mod backend;
mod checkpoint;
mod config;
mod durable_mark;
mod entity_index;
mod error;
mod hash;
mod head;
mod log;
pub mod merkle;
mod open;
mod open_state;
mod pipeline;
mod record;
mod redaction;
mod shared;
mod sled_backend;
mod sled_open;
mod staged;
mod store;
mod tiles;
mod transfer;
mod verify;
mod wire;
mod writer;

pub use backend::{Bytes, Keyspace, LogBackend};
pub use checkpoint::{
    Checkpoint, CheckpointError, CheckpointSigner, NoteVerifier, NOTE_BYTES_MAX, SIGNING_KEY_FILE,
};
pub use config::{StoreConfig, EVENT_BYTES_MAX};
pub use durable_mark::{read_durable_mark, DurableMark, DURABLE_MARK_FILE};
pub use error::{BadRequestCode, StoreError};
pub use govrec_core::state::CountyScope;
pub use hash::{event_hash, Hash32, Header, EVENT_HASH_CONTEXT, RECORD_HASH_CONTEXT};
pub use head::{Appended, Head, Receipt};
pub use log::{
    decode_block_detached, FaultPoint, Log, LogConfig, BLOCK_BYTES_LIMIT, BLOCK_FORMAT_VERSION,
    SLED_SEGMENT_BYTES, STORE_FORMAT_VERSION,
};
pub use open_state::{forget_open_state, OPEN_STATE_FILE};
pub use record::{
    check_marker, redaction_matches, validate_actor, BusinessDate, Record, RecordJson, RecordedAt, Redaction,
    ACTOR_BYTES_MAX,
};
pub use sled_backend::SledBackend;
pub use sled_open::{open_sled, remove_uncommitted_snapshots};
pub use store::{check_known_durable, NewEvent, OpenReport, Store};
pub use transfer::{
    export_jsonl, import_jsonl, new_event_from_json, new_event_to_json, parse_import_line, ImportError,
    ImportKind, ImportLine, ImportReport, IMPORT_CHUNK_LINES, IMPORT_LINE_BYTES_MAX,
};
pub use verify::{verify_log, Verification};
