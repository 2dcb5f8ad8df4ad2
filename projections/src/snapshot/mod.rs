//! The snapshot format of the read models: [`encode`] writes a [`Models`] as a versioned,
//! checksummed, compressed body of two sections, and [`decode`] reads it back (in place, into
//! models whose memory is reused). Pure: no I/O here. Where snapshots are kept — a sled
//! database with generations and encryption keys — is `database.rs`.

mod database;

pub use database::{Loaded, SnapshotStore, REDACTION_PENDING, SNAPSHOT_CHUNK_BYTES, SNAPSHOT_KEYS_DIR};

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use govrec_core::event::PartyRef;
use serde::de::{DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::model::{
    Area, Complaint, EmergencyPlan, EntityMap, Evaluation, Member, Models, Org, Pairing, PeriodIndex,
    ScoreSheet, Watermark, WorkUnit,
};

/// Bumped whenever the models' layout or meaning changes, so older snapshots are discarded.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 4;
const SNAPSHOT_MAGIC: &[u8; 4] = b"GRMS";
const HEADER_BYTES: usize = 4 + 4 + 32;
/// Decodes `T` into `place`, reusing what `place` owns: a `Vec`'s buffer and the elements
/// serde decodes in place (`Deserialize::deserialize_in_place`). Into an empty `Vec` it is a
/// plain decode.
struct InPlace<'a, T>(&'a mut T);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for InPlace<'_, T> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        T::deserialize_in_place(deserializer, self.0)
    }
}

/// The score sheets, decoded into `place`: postcard writes a map as its length and its pairs in
/// key order, the bytes of a `Vec` of pairs. Into an empty map the pairs are collected and the
/// map built from them at once (linear; inserting one by one was 3% of an `as_of` answer).
/// Into the sheets of other models (an earlier `as_of` answer whose memory is reused) the pairs
/// are merged along the map in key order: a sheet whose key is there already is decoded in
/// place, keeping its buffers, and only the keys that differ are removed or inserted, instead of
/// building a map of fresh sheets and dropping the old one (a tenth of an answer at 1M events).
struct ScoreSheetsInto<'a>(&'a mut BTreeMap<(PeriodIndex, PartyRef), ScoreSheet>);

type SheetKey = (PeriodIndex, PartyRef);

impl<'de> DeserializeSeed<'de> for ScoreSheetsInto<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.0.is_empty() {
            let pairs = Vec::<(SheetKey, ScoreSheet)>::deserialize(deserializer)?;
            // The same rule as the merge below, so both paths accept the same bytes.
            if pairs.windows(2).any(|pair| pair[0].0 >= pair[1].0) {
                return Err(serde::de::Error::custom("score sheets out of key order"));
            }
            *self.0 = pairs.into_iter().collect();
            return Ok(());
        }
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ScoreSheetsInto<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("score sheets in key order")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut merge = SheetMerge {
            old: self.0.iter_mut().peekable(),
            stale: Vec::new(),
            added: Vec::new(),
            last: None,
        };
        while seq.next_element_seed(SheetInto(&mut merge))?.is_some() {}
        merge.stale.extend(merge.old.map(|(key, _)| *key));
        let (stale, added) = (merge.stale, merge.added);
        for key in stale {
            self.0.remove(&key);
        }
        self.0.extend(added);
        Ok(())
    }
}

/// The state of a merge of decoded sheets into a map: the map's entries not yet passed, the
/// keys to remove and the sheets to insert once the walk is done.
struct SheetMerge<'m> {
    old: std::iter::Peekable<std::collections::btree_map::IterMut<'m, SheetKey, ScoreSheet>>,
    stale: Vec<SheetKey>,
    added: Vec<(SheetKey, ScoreSheet)>,
    /// The previous key decoded: keys must ascend, or the merge would misplace sheets.
    last: Option<SheetKey>,
}

/// One pair of the merge.
struct SheetInto<'s, 'm>(&'s mut SheetMerge<'m>);

impl<'de> DeserializeSeed<'de> for SheetInto<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_tuple(2, self)
    }
}

impl<'de> Visitor<'de> for SheetInto<'_, '_> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a score sheet and its key")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let merge = self.0;
        let key: SheetKey = seq
            .next_element()?
            .ok_or_else(|| serde::de::Error::invalid_length(0, &"a key and a sheet"))?;
        if merge.last.is_some_and(|last| last >= key) {
            return Err(serde::de::Error::custom("score sheets out of key order"));
        }
        merge.last = Some(key);
        while let Some((old, _)) = merge.old.next_if(|(old, _)| **old < key) {
            merge.stale.push(*old);
        }
        let missing = || serde::de::Error::invalid_length(1, &"a key and a sheet");
        match merge.old.next_if(|(old, _)| **old == key) {
            Some((_, sheet)) => seq.next_element_seed(InPlace(sheet))?.ok_or_else(missing)?,
            None => {
                let sheet: ScoreSheet = seq.next_element()?.ok_or_else(missing)?;
                merge.added.push((key, sheet));
            }
        }
        Ok(())
    }
}

/// The two sections of a snapshot body, each field named once, in its order on disk:
///
/// - `$section`, the fields borrowed for encoding (`Serialize`; a struct is a tuple of its
///   fields to postcard);
/// - `$into`, the fields as places to decode into, with the seed and visitor that read what
///   `$section` wrote (each field names the seed that decodes it in place);
/// - `sections_of` and `sections_into`, which split a `Models` into the two, every field of
///   `Models` but the rebuilt `lookup` in one of them (the destructuring is exhaustive).
macro_rules! sections {
    ($(
        $(#[$doc:meta])*
        $section:ident / $into:ident, $expecting:literal {
            $($field:ident: $type:ty => $seed:ident),+ $(,)?
        }
    )+) => {
        $(
            $(#[$doc])*
            #[derive(Serialize)]
            struct $section<'a> {
                $($field: &'a $type,)+
            }

            /// The places of the fields of the section of the same name.
            struct $into<'a> {
                $($field: &'a mut $type,)+
            }

            impl<'de> DeserializeSeed<'de> for $into<'_> {
                type Value = ();

                fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
                    deserializer.deserialize_tuple([$(stringify!($field)),+].len(), self)
                }
            }

            impl<'de> Visitor<'de> for $into<'_> {
                type Value = ();

                fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                    formatter.write_str($expecting)
                }

                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
                    let mut decoded = 0;
                    $(
                        seq.next_element_seed($seed(self.$field))?
                            .ok_or_else(|| serde::de::Error::invalid_length(decoded, &$expecting))?;
                        decoded += 1;
                    )+
                    debug_assert_eq!(decoded, [$(stringify!($field)),+].len());
                    Ok(())
                }
            }
        )+

        /// The sections of `models`, to encode.
        fn sections_of(models: &Models) -> ($($section<'_>,)+) {
            ($($section { $($field: &models.$field,)+ },)+)
        }

        /// The places of `models`' fields, section by section, to decode into.
        fn sections_into(models: &mut Models) -> ($($into<'_>,)+) {
            let Models { $($($field,)+)+ lookup: _ } = models;
            ($($into { $($field,)+ },)+)
        }
    };
}

sections! {
    /// The first section of a snapshot body: the area tree, organisations, members.
    FirstSection / FirstSectionInto, "the first section of a snapshot" {
        watermark: Option<Watermark> => InPlace,
        areas: Vec<Area> => InPlace,
        orgs: Vec<Org> => InPlace,
        work_units: Vec<WorkUnit> => InPlace,
        members: Vec<Member> => InPlace,
        emergency_plans: Vec<EmergencyPlan> => InPlace,
        services: u64 => InPlace,
    }
    /// The second section: pairings, evaluations, complaints, score sheets.
    SecondSection / SecondSectionInto, "the second section of a snapshot" {
        pairings: Vec<Pairing> => InPlace,
        evaluations: Vec<Evaluation> => InPlace,
        complaints: Vec<Complaint> => InPlace,
        actors: Vec<String> => InPlace,
        periods: Vec<String> => InPlace,
        score_sheets: BTreeMap<(PeriodIndex, PartyRef), ScoreSheet> => ScoreSheetsInto,
    }
}

/// The stored bytes of a snapshot: magic, version, checksum, then the body: the first
/// section's stored length (`u64` BE), `lz4(postcard(first section))`,
/// `lz4(postcard(second section))`, each in LZ4's block format with its decompressed length
/// in front (`u32` LE). Two sections of about equal size are compressed, and decompressed and
/// decoded, on two threads at once.
///
/// LZ4 stores the models in about 40% of their size (36 MiB → 15 MiB at 1M events): less for
/// sled to write and read, the cipher to run over and the checksum to hash, and a fraction of
/// the disk the snapshot points took (they are full snapshots, so their sum grows with the
/// square of the log).
pub fn encode(models: &Models) -> Vec<u8> {
    let (first, second) = sections_of(models);
    let compress = |section: Vec<u8>| lz4_flex::block::compress_prepend_size(&section);
    let (first, second) = std::thread::scope(|scope| {
        let second = scope.spawn(|| compress(postcard::to_stdvec(&second).expect("models always serialise")));
        let first = compress(postcard::to_stdvec(&first).expect("models always serialise"));
        (first, second.join().expect("encoding never panics"))
    });
    let mut body = Vec::with_capacity(8 + first.len() + second.len());
    body.extend_from_slice(&(first.len() as u64).to_be_bytes());
    body.extend_from_slice(&first);
    body.extend_from_slice(&second);
    let mut bytes = Vec::with_capacity(HEADER_BYTES + body.len());
    bytes.extend_from_slice(SNAPSHOT_MAGIC);
    bytes.extend_from_slice(&SNAPSHOT_FORMAT_VERSION.to_be_bytes());
    bytes.extend_from_slice(blake3::hash(&body).as_bytes());
    bytes.extend_from_slice(&body);
    bytes
}

/// Why a stored snapshot is not used: the caller discards it and starts from an earlier one
/// (or from the log), since snapshots are a cache.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotUnusable {
    #[error("not a snapshot")]
    NotSnapshot,
    #[error("snapshot format {found}, this build reads {SNAPSHOT_FORMAT_VERSION}")]
    Version { found: u32 },
    #[error("snapshot checksum does not match")]
    Checksum,
    /// The body's sections do not frame.
    #[error("{0}")]
    Framing(&'static str),
    /// A section does not decompress or decode.
    #[error("{section} section: {problem}")]
    Section { section: &'static str, problem: String },
    #[error("a snapshot of no records")]
    NoRecords,
    #[error("the log ends before the snapshot's watermark")]
    BeyondLog,
    #[error("the log's record {0} has another hash")]
    OtherHash(u64),
    #[error("{0}")]
    Store(#[from] govrec_store::StoreError),
}

/// Decodes a snapshot, checking magic, version and checksum; rebuilds the id lookups.
pub fn decode(bytes: &[u8]) -> Result<Models, SnapshotUnusable> {
    decode_timed(bytes).map(|(models, _)| models)
}

/// [`decode`] into `into`, reusing its memory; equals a decode into empty models.
pub fn decode_into(bytes: &[u8], into: Models) -> Result<Models, SnapshotUnusable> {
    decode_with_index(bytes, None, into, &mut Default::default()).map(|(models, _)| models)
}

/// [`decode`], with the time taken by its checksum, decoding and indexing steps (for the
/// benchmark).
#[doc(hidden)]
pub fn decode_timed(bytes: &[u8]) -> Result<(Models, [Duration; 3]), SnapshotUnusable> {
    decode_with_index(bytes, None, Models::default(), &mut Default::default())
}

/// [`decode_timed`] into `into`, whatever it holds: models no longer needed lend their memory
/// (see [`decode_sections`]); the answer equals a decode into empty models. With
/// `shared_index` (the index of the same log at this point or later) the entity index is
/// shared instead of built.
pub(crate) fn decode_with_index(
    bytes: &[u8],
    shared_index: Option<Arc<EntityMap>>,
    into: Models,
    sections: &mut [Vec<u8>; 2],
) -> Result<(Models, [Duration; 3]), SnapshotUnusable> {
    let started = Instant::now();
    if bytes.len() < HEADER_BYTES || &bytes[..4] != SNAPSHOT_MAGIC {
        return Err(SnapshotUnusable::NotSnapshot);
    }
    let version = u32::from_be_bytes(bytes[4..8].try_into().expect("4 bytes"));
    if version != SNAPSHOT_FORMAT_VERSION {
        return Err(SnapshotUnusable::Version { found: version });
    }
    let body = &bytes[HEADER_BYTES..];
    let expected = &bytes[8..HEADER_BYTES];
    // The checksum runs beside the decode: a body that fails it is discarded all the same, and
    // decoding unchecked bytes is safe (postcard fails on them; every length is bounded by the
    // input).
    let ((checksum_ok, checksum), decoded) = std::thread::scope(|scope| {
        let checksum = scope.spawn(|| {
            let started = Instant::now();
            (blake3::hash(body).as_bytes() == expected, started.elapsed())
        });
        let decoded = decode_sections(body, into, sections);
        (checksum.join().expect("hashing never panics"), decoded)
    });
    if !checksum_ok {
        return Err(SnapshotUnusable::Checksum);
    }
    let mut models = decoded?;
    let decoding = started.elapsed();
    let started = Instant::now();
    match shared_index {
        Some(index) => models.share_index(index),
        None => models.reindex(),
    }
    Ok((models, [checksum, decoding, started.elapsed()]))
}

/// Decodes the two sections of a body on two threads, into `models`.
///
/// Every field is overwritten (the lookups are rebuilt by the caller). Decoding into the
/// models of an earlier `as_of` answer reuses their `Vec` buffers and the memory their entities
/// free as they are replaced, instead of fresh pages: at 1M events those cost ~37k page faults
/// per answer, a quarter of its CPU, the kernel faulting in and zeroing each page.
fn decode_sections(
    body: &[u8],
    mut models: Models,
    sections: &mut [Vec<u8>; 2],
) -> Result<Models, SnapshotUnusable> {
    let length = body
        .get(..8)
        .map(|bytes| u64::from_be_bytes(bytes.try_into().expect("8 bytes")))
        .ok_or(SnapshotUnusable::Framing(
            "a snapshot body without its first section's length",
        ))?;
    let (first, second) = usize::try_from(length)
        .ok()
        .and_then(|length| body[8..].split_at_checked(length))
        .ok_or(SnapshotUnusable::Framing(
            "a snapshot body shorter than its first section",
        ))?;
    let (first_into, second_into) = sections_into(&mut models);
    let [first_buffer, second_buffer] = sections;
    let (first, second) = std::thread::scope(|scope| {
        let second = scope.spawn(|| decode_section(second, "second", second_into, second_buffer));
        let first = decode_section(first, "first", first_into, first_buffer);
        (first, second.join().expect("decoding never panics"))
    });
    first?;
    second?;
    Ok(models)
}

/// The most a section may grow when decompressed: LZ4's block format cannot shrink data by
/// more than 255:1 (ours shrinks by about 2.5:1), so a larger length is damage, refused before
/// anything is reserved for it (the checksum runs beside the decode).
const DECOMPRESSED_PER_STORED_MAX: usize = 255;

/// Decompresses one section into `buffer` and decodes it into its places.
fn decode_section<S>(
    stored: &[u8],
    name: &'static str,
    into: S,
    buffer: &mut Vec<u8>,
) -> Result<(), SnapshotUnusable>
where
    S: for<'de> DeserializeSeed<'de, Value = ()>,
{
    let problem = |problem: String| SnapshotUnusable::Section {
        section: name,
        problem,
    };
    let length = stored
        .get(..4)
        .map(|bytes| u32::from_le_bytes(bytes.try_into().expect("4 bytes")) as usize)
        .ok_or_else(|| problem("shorter than its length".to_owned()))?;
    if length > stored.len().saturating_mul(DECOMPRESSED_PER_STORED_MAX) {
        return Err(problem(format!(
            "{length} bytes cannot come from {}",
            stored.len()
        )));
    }
    // Only what the buffer never held is zeroed: LZ4 writes the rest.
    if buffer.len() < length {
        buffer.resize(length, 0);
    }
    let written = lz4_flex::block::decompress_into(&stored[4..], &mut buffer[..length])
        .map_err(|error| problem(error.to_string()))?;
    if written != length {
        return Err(problem(format!("{written} bytes where {length} were stored")));
    }
    into.deserialize(&mut postcard::Deserializer::from_bytes(&buffer[..length]))
        .map_err(|error| problem(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Sheets = BTreeMap<SheetKey, ScoreSheet>;

    /// Sheets for the keys `(period, member n)` with `n` in `numbers`, each telling its key
    /// apart by its contents (`salt` makes equal keys hold different sheets).
    fn sheets(numbers: impl IntoIterator<Item = u16>, salt: u32) -> Sheets {
        numbers
            .into_iter()
            .map(|n| {
                let key = (n % 3, PartyRef::MemberId(uuid::Uuid::from_u128(u128::from(n))));
                let sheet = ScoreSheet {
                    evaluations: (0..u32::from(n % 7)).map(|i| i + salt).collect(),
                    complaint_ratings: Vec::new(),
                };
                (key, sheet)
            })
            .collect()
    }

    fn decode_into_map(bytes: &[u8], into: &mut Sheets) -> postcard::Result<()> {
        ScoreSheetsInto(into).deserialize(&mut postcard::Deserializer::from_bytes(bytes))
    }

    /// Whatever the map held (nothing, other keys, interleaved keys, the same keys with other
    /// sheets), decoding into it leaves exactly the stored sheets.
    #[test]
    fn score_sheets_merged_into_any_map_equal_the_stored_ones() {
        let odd = || (1..40).step_by(2);
        let even = || (0..40).step_by(2);
        let stored_sets = [
            sheets(odd(), 0),
            sheets(0..40, 0),
            sheets(0..0, 0),
            sheets([5, 6, 39], 0),
        ];
        for stored in &stored_sets {
            let bytes = postcard::to_stdvec(stored).unwrap();
            let places = [
                sheets(0..0, 9),
                sheets(even(), 9),
                sheets(odd(), 9),
                sheets(0..40, 9),
                sheets(10..20, 9),
                sheets(30..60, 9),
            ];
            for mut place in places {
                decode_into_map(&bytes, &mut place).unwrap();
                assert_eq!(postcard::to_stdvec(&place).unwrap(), bytes);
            }
        }
    }

    /// Keys out of order are damage: a merge along the map would misplace sheets. They are
    /// refused whether the map was empty or not.
    #[test]
    fn score_sheets_out_of_key_order_are_refused() {
        let stored = sheets([1, 2, 4], 0);
        let mut pairs: Vec<(SheetKey, ScoreSheet)> = stored.into_iter().collect();
        pairs.swap(0, 2);
        let bytes = postcard::to_stdvec(&pairs).unwrap();
        for mut place in [sheets([1, 2, 4], 9), Sheets::new()] {
            assert!(decode_into_map(&bytes, &mut place).is_err());
        }
        // A key twice is out of order too (a map would keep only one of the sheets).
        let mut pairs: Vec<(SheetKey, ScoreSheet)> = sheets([1, 2], 0).into_iter().collect();
        pairs[1].0 = pairs[0].0;
        let bytes = postcard::to_stdvec(&pairs).unwrap();
        for mut place in [sheets([1, 2], 9), Sheets::new()] {
            assert!(decode_into_map(&bytes, &mut place).is_err());
        }
    }
}
