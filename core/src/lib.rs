//! govrec's domain: the event catalogue of `shared/domain.md`, the JSON form clients and
//! auditors see, the versioned stored form, and the rules an append must pass.
//!
//! This crate does no I/O and reads no clock: time, sequence numbers and ids come in as data,
//! so everything here is deterministic and testable without a store.

pub mod canonical;
pub mod date;
pub mod entity;
pub mod event;
pub mod json;
pub mod personal;
pub mod rules;
pub mod state;
pub mod stored;
pub mod violation;

pub use event::{Event, EventType};
pub use json::{event_canonical_json, event_from_json, event_to_json, JsonEventError};
pub use state::{ComplaintStatus, CountyScope, Refusal, State, StateDecodeError};
pub use violation::{ApplyError, CannotApply, Violation, ViolationCode};

/// A hash map keyed by ids (UUIDs, seqs): foldhash instead of std's SipHash, several times
/// faster on 16-byte keys, which matters for maps of a million entries rebuilt on open and
/// probed on every append. Each map gets its own random seed, so a client choosing ids cannot
/// aim collisions at a seed it knows.
pub type IdMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// A hash set keyed by ids; see [`IdMap`].
pub type IdSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
