//! A decoder of the current block format's records (`Vec<StoredRecord>` in postcard), for
//! replays and log reads: it reads the same bytes as postcard's serde decoding, field by
//! field, about twice as fast. postcard's own decoding goes through serde's visitors, which
//! for a record means one call per byte of each of its three hashes (`[u8; 32]` is a tuple to
//! serde) and a visitor per field; this reads the fixed parts as slices. The rare optional
//! parts (a redaction marker, the personal values' reference) are left to postcard.
//!
//! The wire format is postcard's (`https://postcard.jamesmunns.com/wire-format`): unsigned
//! integers as LEB128 varints (at most 10 bytes for a `u64`, 5 for a `u32`, the last one
//! limited to the bits left), signed ones zigzag-encoded first, byte strings and `String`s as
//! a varint length then the bytes, a `Uuid` as a byte string of 16, a tuple or array as its
//! elements in order (a `u8` is one byte), an `Option` as a byte 0 or 1 then the value. A
//! property test checks that this decoder and postcard's agree on every record, and refuse
//! the same damaged bytes.

use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::record::StoredRecord;

/// Why bytes do not decode.
pub(crate) type WireError = String;

/// A cursor over postcard bytes.
struct Wire<'a> {
    bytes: &'a [u8],
}

impl<'a> Wire<'a> {
    fn byte(&mut self) -> Result<u8, WireError> {
        let (&first, rest) = self.bytes.split_first().ok_or("unexpected end of the bytes")?;
        self.bytes = rest;
        Ok(first)
    }

    fn take(&mut self, count: usize) -> Result<&'a [u8], WireError> {
        let (taken, rest) = self
            .bytes
            .split_at_checked(count)
            .ok_or("unexpected end of the bytes")?;
        self.bytes = rest;
        Ok(taken)
    }

    /// A LEB128 varint of at most `max_bytes`, whose last byte may be at most `max_last`.
    fn varint(&mut self, max_bytes: u32, max_last: u8) -> Result<u64, WireError> {
        let mut value = 0u64;
        for index in 0..max_bytes {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7F) << (7 * index);
            if byte & 0x80 == 0 {
                if index == max_bytes - 1 && byte > max_last {
                    break;
                }
                return Ok(value);
            }
        }
        Err("a bad varint".to_owned())
    }

    fn u64(&mut self) -> Result<u64, WireError> {
        self.varint(10, 0x01)
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        self.varint(5, 0x0F).map(|value| value as u32)
    }

    fn i64(&mut self) -> Result<i64, WireError> {
        let zigzag = self.u64()?;
        Ok((zigzag >> 1) as i64 ^ -((zigzag & 1) as i64))
    }

    /// A byte string: its varint length, then the bytes.
    fn byte_string(&mut self) -> Result<&'a [u8], WireError> {
        let length = self.u64()?;
        self.take(usize::try_from(length).map_err(|_| "a length beyond memory")?)
    }

    fn string(&mut self) -> Result<String, WireError> {
        let bytes = self.byte_string()?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| "a string that is not UTF-8".to_owned())
    }

    fn uuid(&mut self) -> Result<Uuid, WireError> {
        Uuid::from_slice(self.byte_string()?).map_err(|_| "a uuid that is not 16 bytes".to_owned())
    }

    fn array32(&mut self) -> Result<[u8; 32], WireError> {
        Ok(self.take(32)?.try_into().expect("32 bytes"))
    }

    /// An `Option` whose value postcard decodes (the rare parts); `None` is one byte 0.
    fn option<T: DeserializeOwned>(&mut self) -> Result<Option<T>, WireError> {
        if let Some((0, rest)) = self.bytes.split_first() {
            self.bytes = rest;
            return Ok(None);
        }
        let (value, rest) = postcard::take_from_bytes(self.bytes).map_err(|error| error.to_string())?;
        self.bytes = rest;
        Ok(value)
    }

    fn record(&mut self) -> Result<StoredRecord, WireError> {
        Ok(StoredRecord {
            seq: self.u64()?,
            id: self.uuid()?,
            recorded_at: self.i64()?,
            occurred_on: self.u32()?,
            actor: self.string()?,
            event: self.byte_string()?.to_vec(),
            event_hash: self.array32()?,
            prev_hash: self.array32()?,
            hash: self.array32()?,
            redaction: self.option()?,
            personal: self.option()?,
        })
    }
}

/// The records of a current-format block body (`postcard(Vec<StoredRecord>)`, all of it).
pub(crate) fn decode_records(body: &[u8]) -> Result<Vec<StoredRecord>, WireError> {
    let mut wire = Wire { bytes: body };
    let count = wire.u64()?;
    // Every record takes more than 100 bytes, so a count beyond that is damage, refused before
    // anything is reserved for it.
    let count = usize::try_from(count)
        .ok()
        .filter(|count| *count <= body.len() / 100 + 1)
        .ok_or("a record count longer than the block")?;
    let mut records = Vec::with_capacity(count);
    for _ in 0..count {
        records.push(wire.record()?);
    }
    if !wire.bytes.is_empty() {
        return Err(format!("{} trailing bytes", wire.bytes.len()));
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::record::{PersonalRef, Redaction};

    fn postcard_decode(body: &[u8]) -> Result<Vec<StoredRecord>, String> {
        govrec_core::stored::decode_exact::<Vec<StoredRecord>>(body).map_err(|error| error.to_string())
    }

    fn record() -> impl Strategy<Value = StoredRecord> {
        (
            (any::<u64>(), any::<u128>(), any::<i64>(), any::<u32>(), ".{0,12}"),
            (
                proptest::collection::vec(any::<u8>(), 0..300),
                any::<[u8; 32]>(),
                any::<[u8; 32]>(),
                any::<[u8; 32]>(),
            ),
            (
                proptest::option::of((any::<u64>(), proptest::collection::vec(".{0,8}", 0..3))),
                proptest::option::of((any::<u64>(), proptest::collection::vec(any::<u32>(), 0..4))),
            ),
        )
            .prop_map(
                |(
                    (seq, id, recorded_at, occurred_on, actor),
                    (event, event_hash, prev_hash, hash),
                    (redaction, personal),
                )| {
                    StoredRecord {
                        seq,
                        id: Uuid::from_u128(id),
                        recorded_at,
                        occurred_on,
                        actor,
                        event,
                        event_hash,
                        prev_hash,
                        hash,
                        redaction: redaction.map(|(by_seq, fields)| Redaction { by_seq, fields }),
                        personal: personal.map(|(offset, lens)| PersonalRef { offset, lens }),
                    }
                },
            )
    }

    proptest! {
        /// Any records decode to themselves, as with postcard.
        #[test]
        fn decodes_what_postcard_encodes(records in proptest::collection::vec(record(), 0..6)) {
            let body = postcard::to_stdvec(&records).unwrap();
            prop_assert_eq!(decode_records(&body), Ok(records));
        }

        /// Damaged bytes: where postcard decodes records this decodes the same ones, and where
        /// postcard refuses the bytes this does too (cut short, a byte changed, bytes added).
        #[test]
        fn agrees_with_postcard_on_damaged_bytes(
            records in proptest::collection::vec(record(), 1..4),
            at in any::<proptest::sample::Index>(),
            byte in any::<u8>(),
            damage in 0..3u8,
        ) {
            let mut body = postcard::to_stdvec(&records).unwrap();
            let at = at.index(body.len());
            match damage {
                0 => body.truncate(at),
                1 => body[at] = byte,
                _ => body.insert(at, byte),
            }
            let ours = decode_records(&body);
            let theirs = postcard_decode(&body);
            prop_assert_eq!(ours.is_ok(), theirs.is_ok(), "ours {:?}, postcard {:?}", ours, theirs);
            if let (Ok(ours), Ok(theirs)) = (ours, theirs) {
                prop_assert_eq!(ours, theirs);
            }
        }
    }

    /// Varints at their limits: the longest `u64` and `u32` decode, one bit more is refused.
    #[test]
    fn varints_at_their_limits() {
        let longest_u64 = postcard::to_stdvec(&u64::MAX).unwrap();
        assert_eq!(Wire { bytes: &longest_u64 }.u64(), Ok(u64::MAX));
        let mut too_long = longest_u64.clone();
        *too_long.last_mut().unwrap() = 0x02;
        assert!(Wire { bytes: &too_long }.u64().is_err());
        let longest_u32 = postcard::to_stdvec(&u32::MAX).unwrap();
        assert_eq!(Wire { bytes: &longest_u32 }.u32(), Ok(u32::MAX));
        let mut too_long = longest_u32.clone();
        *too_long.last_mut().unwrap() = 0x10;
        assert!(Wire { bytes: &too_long }.u32().is_err());
        for value in [i64::MIN, -1, 0, 1, i64::MAX] {
            let bytes = postcard::to_stdvec(&value).unwrap();
            assert_eq!(Wire { bytes: &bytes }.i64(), Ok(value));
        }
    }
}
