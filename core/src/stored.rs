//! The stored (postcard) form of events, versioned so the catalogue can evolve.
//!
//! Stored bytes are `[format version byte] ++ postcard(event as of that version)`. postcard is
//! not self-describing: a struct that gains a field can no longer read its old bytes. So every
//! format version keeps a frozen copy of the types it was written with, and decoding an old
//! version *upcasts* its events into today's types. How to add a field:
//!
//! 1. copy today's changed type into `mod v<N>` (frozen; never edit it again),
//! 2. add the field to today's type, bump [`STORED_FORMAT_VERSION`],
//! 3. teach [`decode_event`] to read version N with the frozen type and convert it
//!    (`From<v<N>::X> for X`, the new field `None`).
//!
//! `tests/fixtures/stored-v1.bin` (checked in) holds version-1 bytes of every event type; the
//! fixture test must keep decoding them forever, which is what catches an accidental change
//! to the stored layout.

use crate::event::Event;

/// The format version new records are written with.
pub const STORED_FORMAT_VERSION: u8 = 1;

/// Why stored bytes do not decode. Either the bytes were damaged behind the store's back or
/// they come from a newer govrec; either way the caller must stop and say which record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoredEventError {
    /// The input is empty.
    #[error("stored event is empty")]
    Empty,
    /// Written by a format version this build does not know (a newer govrec).
    #[error("stored event has format version {0}, this build reads 1..={STORED_FORMAT_VERSION}")]
    UnknownVersion(u8),
    /// The postcard bytes do not decode as that version's event.
    #[error("stored event does not decode: {0}")]
    Corrupt(String),
}

/// Format version 1: the catalogue of `domain.md` as first released. Today's types are still
/// version 1, so this module only re-exports them; the first change to a stored type moves
/// a frozen copy of it here.
pub mod v1 {
    pub use crate::event::Event;
}

/// Encodes an event in the current stored format.
pub fn encode_event(event: &Event) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(128);
    bytes.push(STORED_FORMAT_VERSION);
    postcard::to_io(event, &mut bytes).expect("writing postcard to a Vec cannot fail");
    bytes
}

/// Appends an event in the current stored format to `out` (avoids an allocation per event).
pub fn encode_event_into(event: &Event, out: &mut Vec<u8>) {
    out.push(STORED_FORMAT_VERSION);
    postcard::to_io(event, out).expect("writing postcard to a Vec cannot fail");
}

/// Decodes stored bytes of any known format version into today's event types.
pub fn decode_event(bytes: &[u8]) -> Result<Event, StoredEventError> {
    let (&version, body) = bytes.split_first().ok_or(StoredEventError::Empty)?;
    match version {
        1 => decode_exact::<v1::Event>(body),
        other => Err(StoredEventError::UnknownVersion(other)),
    }
}

/// Decodes a postcard body, requiring that every byte is used: trailing bytes would mean the
/// record was written by a different layout than the one we read it with.
pub fn decode_exact<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, StoredEventError> {
    let (value, rest) =
        postcard::take_from_bytes::<T>(body).map_err(|error| StoredEventError::Corrupt(error.to_string()))?;
    if !rest.is_empty() {
        return Err(StoredEventError::Corrupt(format!(
            "{} trailing bytes",
            rest.len()
        )));
    }
    Ok(value)
}
