//! The hashes of `record-format.md`: BLAKE3 in derive-key mode over RFC 8785 canonical JSON.

use std::fmt;

use govrec_core::{event_canonical_json, Event};

/// The derive-key context of `event_hash`.
pub const EVENT_HASH_CONTEXT: &str = "govrec event v1";
/// The derive-key context of a record's `hash`.
pub const RECORD_HASH_CONTEXT: &str = "govrec record v1";

/// A BLAKE3 hash; shown and parsed as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct Hash32(pub [u8; 32]);

impl Hash32 {
    /// The `prev_hash` of record 0.
    pub const ZERO: Hash32 = Hash32([0; 32]);

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 lowercase hex digits (uppercase is refused: the contract says lowercase).
    pub fn from_hex(text: &str) -> Option<Hash32> {
        if text.len() != 64 || text.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Hash32(bytes))
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash32({})", self.to_hex())
    }
}

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// `event_hash = BLAKE3-derive-key("govrec event v1", JCS(event))`.
pub fn event_hash(event: &Event) -> Hash32 {
    Hash32(blake3::derive_key(EVENT_HASH_CONTEXT, event_canonical_json(event).as_bytes()))
}

/// The fields of a record's header, the values `hash` covers.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    pub seq: u64,
    pub id: &'a uuid::Uuid,
    pub recorded_at: &'a str,
    pub occurred_on: &'a str,
    pub actor: &'a str,
    pub event_hash: &'a Hash32,
    pub prev_hash: &'a Hash32,
}

impl Header<'_> {
    /// JCS of the header object. Keys are written in sorted order; strings other than the
    /// actor are ASCII by construction (hex, uuid, dates), and the actor is escaped by
    /// serde_json, whose string escaping is the one JCS prescribes.
    pub fn canonical_json(&self) -> String {
        let actor = serde_json::to_string(self.actor).expect("a string always serialises");
        format!(
            "{{\"actor\":{actor},\"event_hash\":\"{}\",\"id\":\"{}\",\"occurred_on\":\"{}\",\"prev_hash\":\"{}\",\"recorded_at\":\"{}\",\"seq\":{}}}",
            self.event_hash,
            self.id.hyphenated(),
            self.occurred_on,
            self.prev_hash,
            self.recorded_at,
            self.seq
        )
    }

    /// `hash = BLAKE3-derive-key("govrec record v1", JCS(header))`.
    pub fn hash(&self) -> Hash32 {
        Hash32(blake3::derive_key(RECORD_HASH_CONTEXT, self.canonical_json().as_bytes()))
    }
}
