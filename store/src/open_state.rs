//! The store's derived state, saved when the writer stops cleanly, so that the next open
//! reads it and replays only the records after it instead of the whole log.
//!
//! The file `open-state` beside sled's holds the head it reflects (seq and hash), the
//! validation state, the event-id index, the entity index and what the open scan learns of
//! `personal.dat`. It is a cache and is never trusted on its own: the open still reads the
//! records after it and the last `tail_check_records` (checking seqs, `prev_hash` links and
//! the tail's hashes), and the record just before the saved head must carry the saved hash.
//! A file that fails its checksum, has another version or does not fit the log is ignored
//! and the whole log is replayed, as without it. See `docs/storage.md`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;

use govrec_core::state::{State, StateDecodeError};
use govrec_core::IdMap;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::entity_index::EntityIndex;
use crate::error::StoreError;
use crate::hash::Hash32;
use crate::head::Head;
use crate::log::{sync_directory, PersonalScan};
use crate::record::RecordedAt;

pub const OPEN_STATE_FILE: &str = "open-state";
const MAGIC: &[u8; 4] = b"GVOS";
/// Bump whenever what is saved, or the validation state's shape, changes.
const VERSION: u32 = 3;
const HEADER_BYTES: usize = 4 + 4 + 32;

/// What the file holds.
pub(crate) struct Saved {
    pub head: Head,
    pub blocks: u64,
    pub state: State,
    pub event_ids: IdMap<Uuid, u64>,
    pub entities: EntityIndex,
    pub personal_end: u64,
    pub promises: BTreeMap<u64, (u64, Vec<String>)>,
}

/// The small fields, postcard-encoded.
#[derive(Serialize, Deserialize)]
struct Summary {
    next_seq: u64,
    hash: Hash32,
    recorded_at: Option<RecordedAt>,
    blocks: u64,
    personal_end: u64,
    promises: Vec<(u64, (u64, Vec<String>))>,
}

/// The parts of a [`Saved`] the writer holds by reference when it stops.
pub(crate) struct SavedRef<'a> {
    pub head: Head,
    pub blocks: u64,
    pub state: &'a State,
    pub event_ids: &'a IdMap<Uuid, u64>,
    pub entities: &'a EntityIndex,
    pub personal_end: u64,
    pub promises: &'a BTreeMap<u64, (u64, Vec<String>)>,
}

/// Writes the file atomically (a temporary file, fsynced, renamed over the old one, and the
/// directory fsynced).
pub(crate) fn save(dir: &Path, saved: &SavedRef<'_>) -> Result<(), StoreError> {
    let summary = Summary {
        next_seq: saved.head.next_seq,
        hash: saved.head.hash,
        recorded_at: saved.head.recorded_at,
        blocks: saved.blocks,
        personal_end: saved.personal_end,
        promises: saved.promises.iter().map(|(k, v)| (*k, v.clone())).collect(),
    };
    let sections = [
        postcard::to_stdvec(&summary).expect("a summary always serialises"),
        saved.state.to_bytes(),
        event_ids_to_bytes(saved.event_ids),
        saved.entities.to_bytes(),
    ];
    // The body is the sections, each after its length; hashed and written piece by piece
    // rather than copied into one buffer first.
    let lengths = sections
        .each_ref()
        .map(|section| (section.len() as u64).to_le_bytes());
    let mut hasher = blake3::Hasher::new();
    for (length, section) in lengths.iter().zip(&sections) {
        hasher.update(length);
        hasher.update(section);
    }
    let temporary = dir.join(format!("{OPEN_STATE_FILE}.tmp"));
    let mut file = File::create(&temporary)?;
    file.write_all(MAGIC)?;
    file.write_all(&VERSION.to_be_bytes())?;
    file.write_all(hasher.finalize().as_bytes())?;
    for (length, section) in lengths.iter().zip(&sections) {
        file.write_all(length)?;
        file.write_all(section)?;
    }
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, dir.join(OPEN_STATE_FILE))?;
    sync_directory(dir)
}

/// Why a saved open state is not used (the store then replays the whole log: the file is a
/// cache, never trusted alone).
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenStateUnusable {
    #[error("{0}")]
    Unreadable(#[from] std::io::Error),
    #[error("not an open-state file")]
    NotOpenState,
    #[error("open-state version {found}, this build reads {VERSION}")]
    Version { found: u32 },
    #[error("open-state checksum does not match")]
    Checksum,
    /// The sections do not frame: what is wrong with them.
    #[error("{0}")]
    Sections(String),
    #[error("{0}")]
    Summary(#[from] postcard::Error),
    #[error("{0}")]
    State(#[from] StateDecodeError),
    #[error("the saved state and head disagree")]
    HeadMismatch,
    /// One of the two indexes does not decode.
    #[error("a damaged {0}")]
    DamagedIndex(&'static str),
}

/// Reads the file; `Ok(None)` when there is none, `Err` when it cannot be used.
pub(crate) fn load(dir: &Path) -> Result<Option<Saved>, OpenStateUnusable> {
    let bytes = match std::fs::read(dir.join(OPEN_STATE_FILE)) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    let (body, expected) = body_of(&bytes)?;
    let checksum_matches = || blake3::hash(body).as_bytes() == expected;
    let [summary, state, event_ids, entities] = match sections_of(body) {
        Ok(sections) => sections,
        Err(_) if !checksum_matches() => return Err(OpenStateUnusable::Checksum),
        Err(reason) => return Err(OpenStateUnusable::Sections(reason)),
    };
    // The three big parts decode at once, and the checksum beside them: decoding unchecked
    // bytes is safe (every length is bounded by the input), and they are dropped if it fails.
    let (checksum_ok, state, event_ids, entities) = std::thread::scope(|scope| {
        let checksum = scope.spawn(checksum_matches);
        let state = scope.spawn(|| State::from_bytes(state));
        let entities = scope.spawn(|| EntityIndex::from_bytes(entities));
        let event_ids = event_ids_from_bytes(event_ids);
        (
            checksum.join().expect("hashing never panics"),
            state.join().expect("decoding never panics"),
            event_ids,
            entities.join().expect("decoding never panics"),
        )
    });
    if !checksum_ok {
        return Err(OpenStateUnusable::Checksum);
    }
    let summary: Summary = postcard::from_bytes(summary)?;
    let state = state?;
    if state.next_seq() != summary.next_seq {
        return Err(OpenStateUnusable::HeadMismatch);
    }
    Ok(Some(Saved {
        head: Head {
            next_seq: summary.next_seq,
            hash: summary.hash,
            recorded_at: summary.recorded_at,
        },
        blocks: summary.blocks,
        state,
        event_ids: event_ids.ok_or(OpenStateUnusable::DamagedIndex("event-id index"))?,
        entities: entities.ok_or(OpenStateUnusable::DamagedIndex("entity index"))?,
        personal_end: summary.personal_end,
        promises: summary.promises.into_iter().collect(),
    }))
}

/// The body of the file's bytes and the checksum it must have, once the header is checked.
fn body_of(bytes: &[u8]) -> Result<(&[u8], &[u8]), OpenStateUnusable> {
    if bytes.len() < HEADER_BYTES || &bytes[..4] != MAGIC {
        return Err(OpenStateUnusable::NotOpenState);
    }
    let version = u32::from_be_bytes(bytes[4..8].try_into().expect("4 bytes"));
    if version != VERSION {
        return Err(OpenStateUnusable::Version { found: version });
    }
    Ok((&bytes[HEADER_BYTES..], &bytes[8..HEADER_BYTES]))
}

/// How many records the saved open state in `dir` reflects, read from its summary alone
/// (checked, but without decoding the state and indexes [`load`] decodes); `None` when there
/// is none or it cannot be used.
pub(crate) fn saved_records(dir: &Path) -> Option<u64> {
    let bytes = std::fs::read(dir.join(OPEN_STATE_FILE)).ok()?;
    let (body, expected) = body_of(&bytes).ok()?;
    if blake3::hash(body).as_bytes() != expected {
        return None;
    }
    let [summary, ..] = sections_of(body).ok()?;
    postcard::from_bytes::<Summary>(summary)
        .ok()
        .map(|summary| summary.next_seq)
}

/// The four length-prefixed sections of a body.
fn sections_of(body: &[u8]) -> Result<[&[u8]; 4], String> {
    let mut sections = Vec::with_capacity(4);
    let mut rest = body;
    while !rest.is_empty() {
        let (length, after) = rest.split_at_checked(8).ok_or("a truncated section length")?;
        let length = usize::try_from(u64::from_le_bytes(length.try_into().expect("8 bytes")))
            .map_err(|_| "a section length past memory")?;
        let (section, after) = after.split_at_checked(length).ok_or("a truncated section")?;
        sections.push(section);
        rest = after;
    }
    let count = sections.len();
    sections
        .try_into()
        .map_err(|_| format!("{count} sections, 4 expected"))
}

/// Deletes the file, if any (for tests and for a store that must replay everything).
pub fn forget_open_state(dir: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(dir.join(OPEN_STATE_FILE)) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error.into()),
        _ => Ok(()),
    }
}

impl Saved {
    /// What the open scan knows of `personal.dat` from before the saved head: every erasure
    /// was done before the writer stopped, so only the end matters.
    pub(crate) fn personal(&self) -> PersonalScan {
        PersonalScan {
            end: self.personal_end,
            erased: Vec::new(),
        }
    }
}

fn event_ids_to_bytes(event_ids: &IdMap<Uuid, u64>) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(event_ids.len() * 24);
    for (id, seq) in event_ids {
        bytes.extend_from_slice(id.as_bytes());
        bytes.extend_from_slice(&seq.to_le_bytes());
    }
    bytes
}

fn event_ids_from_bytes(bytes: &[u8]) -> Option<IdMap<Uuid, u64>> {
    let entries = bytes.chunks_exact(24);
    if !entries.remainder().is_empty() {
        return None;
    }
    let mut event_ids = IdMap::with_capacity_and_hasher(bytes.len() / 24, Default::default());
    for entry in entries {
        let id = Uuid::from_bytes(entry[..16].try_into().expect("16 bytes"));
        event_ids.insert(id, u64::from_le_bytes(entry[16..].try_into().expect("8 bytes")));
    }
    Some(event_ids)
}

/// How many records the store in `dir` is known to have made durable: the further of its
/// durable-head mark (`durable_mark`, kept while it runs) and its saved open state (kept at a
/// clean stop); `None` when neither can be read. A log holding fewer lost records.
pub(crate) fn known_durable(dir: &Path) -> Option<u64> {
    let marked = crate::durable_mark::read_durable_mark(dir).map(|mark| mark.records);
    saved_records(dir).max(marked)
}
