//! The hashes of `record-format.md`: BLAKE3 in derive-key mode over RFC 8785 canonical JSON.

use std::fmt;

use govrec_core::{event_canonical_json, Event};

/// The derive-key context of `event_hash`.
pub const EVENT_HASH_CONTEXT: &str = "govrec event v1";
/// The derive-key context of a record's `hash`.
pub const RECORD_HASH_CONTEXT: &str = "govrec record v1";

/// A BLAKE3 hash; shown and parsed as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct Hash32([u8; 32]);

impl Hash32 {
    /// The `prev_hash` of record 0.
    pub const ZERO: Hash32 = Hash32([0; 32]);

    /// The hash whose bytes are `bytes`.
    pub const fn from_bytes(bytes: [u8; 32]) -> Hash32 {
        Hash32(bytes)
    }

    /// The hash's 32 bytes.
    pub const fn to_bytes(self) -> [u8; 32] {
        self.0
    }

    /// 64 lowercase hex digits. (Not `hex::encode`, which collects one `char` at a time: it
    /// was 2% of the CPU of an append of 100 events, whose receipts carry their hashes.)
    pub fn to_hex(&self) -> String {
        let mut out = String::with_capacity(64);
        push_hex(&mut out, self);
        out
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

/// The two contexts, hashed once: `blake3::derive_key` hashes its context string on every
/// call, one compression of the seven or so a record's hash takes.
static EVENT_CONTEXT_KEY: std::sync::LazyLock<blake3::hazmat::ContextKey> =
    std::sync::LazyLock::new(|| blake3::hazmat::hash_derive_key_context(EVENT_HASH_CONTEXT));
static RECORD_CONTEXT_KEY: std::sync::LazyLock<blake3::hazmat::ContextKey> =
    std::sync::LazyLock::new(|| blake3::hazmat::hash_derive_key_context(RECORD_HASH_CONTEXT));

/// `blake3::derive_key` with the context already hashed.
fn derive_key(context_key: &blake3::hazmat::ContextKey, material: &[u8]) -> Hash32 {
    use blake3::hazmat::HasherExt;
    let mut hasher = blake3::Hasher::new_from_context_key(context_key);
    hasher.update(material);
    Hash32(*hasher.finalize().as_bytes())
}

/// `event_hash = BLAKE3-derive-key("govrec event v1", JCS(event))`.
pub fn event_hash(event: &Event) -> Hash32 {
    derive_key(&EVENT_CONTEXT_KEY, event_canonical_json(event).as_bytes())
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
        let mut out = String::with_capacity(330 + self.actor.len());
        out.push_str("{\"actor\":");
        govrec_core::canonical::push_json_string(&mut out, self.actor);
        out.push_str(",\"event_hash\":\"");
        push_hex(&mut out, self.event_hash);
        out.push_str("\",\"id\":\"");
        out.push_str(
            self.id
                .hyphenated()
                .encode_lower(&mut uuid::Uuid::encode_buffer()),
        );
        out.push_str("\",\"occurred_on\":\"");
        out.push_str(self.occurred_on);
        out.push_str("\",\"prev_hash\":\"");
        push_hex(&mut out, self.prev_hash);
        out.push_str("\",\"recorded_at\":\"");
        out.push_str(self.recorded_at);
        out.push_str("\",\"seq\":");
        out.push_str(itoa::Buffer::new().format(self.seq));
        out.push('}');
        out
    }

    /// `hash = BLAKE3-derive-key("govrec record v1", JCS(header))`.
    pub fn hash(&self) -> Hash32 {
        derive_key(&RECORD_CONTEXT_KEY, self.canonical_json().as_bytes())
    }
}

pub(crate) fn push_hex(out: &mut String, hash: &Hash32) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buffer = [0u8; 64];
    for (i, byte) in hash.0.iter().enumerate() {
        buffer[2 * i] = DIGITS[(byte >> 4) as usize];
        buffer[2 * i + 1] = DIGITS[(byte & 0xf) as usize];
    }
    out.push_str(std::str::from_utf8(&buffer).expect("hex digits are ASCII"));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte value, as `hex` writes it, and back.
    #[test]
    fn hex_is_lowercase_and_round_trips() {
        for start in [0u8, 32, 64, 96, 128, 160, 192, 224] {
            let hash = Hash32(std::array::from_fn(|i| start.wrapping_add(i as u8)));
            let text = hash.to_hex();
            assert_eq!(text, hex::encode(hash.0));
            assert_eq!(Hash32::from_hex(&text), Some(hash));
        }
    }
}
