//! `durable-head`: how far the log was known durable, so that an open can tell a log that
//! lost records from one that never had them, after a crash as after a clean stop.
//!
//! The saved open state (`open_state`) tells the same only after a clean stop, and only to a
//! build that reads its version. This file's format never changes: two 64-byte slots, each
//! `"GVDH"`, the number of records (u64, little-endian), the last record's hash, and the first
//! 20 bytes of the BLAKE3 of those 44 bytes. The syncer writes the slots in turn, each followed
//! by an `fdatasync`, after a sync has made the records durable: at most once a second while
//! appends go on, once more when they pause, and at a stop. A torn write spoils one slot; the
//! other still holds the previous mark. The mark is a lower bound: records acknowledged in its
//! last second may be beyond it.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::hash::Hash32;
use crate::head::Head;

pub const DURABLE_MARK_FILE: &str = "durable-head";
const MAGIC: &[u8; 4] = b"GVDH";
const SLOT_BYTES: usize = 64;
const CHECKED_BYTES: usize = 4 + 8 + 32;
const CHECKSUM_BYTES: usize = 20;
/// How often, at most, the syncer writes the mark while appends go on.
pub(crate) const MARK_INTERVAL: Duration = Duration::from_secs(1);

/// How far the log was durable, by the mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurableMark {
    /// The number of records (the next seq).
    pub records: u64,
    /// The hash of record `records - 1`.
    pub hash: Hash32,
}

/// The syncer's writer of the mark.
pub(crate) struct MarkWriter {
    file: File,
    next_slot: u64,
    written: Option<u64>,
    pending: Option<Head>,
    last_write: Instant,
}

impl MarkWriter {
    /// Opens the file in `dir`, creating it (two empty slots, synced with its directory) when
    /// missing.
    pub(crate) fn open(dir: &Path) -> std::io::Result<MarkWriter> {
        let path = dir.join(DURABLE_MARK_FILE);
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        if !existed {
            file.set_len(2 * SLOT_BYTES as u64)?;
            file.sync_all()?;
            crate::log::sync_directory(dir).map_err(std::io::Error::other)?;
        }
        // Write over the older slot first, so the newer one survives a torn write.
        let slots = read_slots(&file);
        let next_slot = match (slots[0], slots[1]) {
            (Some(first), Some(second)) if first.records > second.records => 1,
            (Some(_), None) => 1,
            _ => 0,
        };
        Ok(MarkWriter {
            file,
            next_slot,
            written: slots.iter().flatten().map(|mark| mark.records).max(),
            pending: None,
            last_write: Instant::now() - MARK_INTERVAL,
        })
    }

    /// Notes a durable head; writes it if the last write is a [`MARK_INTERVAL`] ago.
    pub(crate) fn note(&mut self, head: Head) -> std::io::Result<()> {
        self.pending = Some(head);
        if self.last_write.elapsed() >= MARK_INTERVAL {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the last noted head, if it is not written yet.
    pub(crate) fn flush(&mut self) -> std::io::Result<()> {
        let Some(head) = self.pending.take() else {
            return Ok(());
        };
        if self.written.is_some_and(|written| written >= head.next_seq) {
            return Ok(());
        }
        let mut slot = [0u8; SLOT_BYTES];
        slot[..4].copy_from_slice(MAGIC);
        slot[4..12].copy_from_slice(&head.next_seq.to_le_bytes());
        slot[12..CHECKED_BYTES].copy_from_slice(&head.hash.to_bytes());
        let checksum = blake3::hash(&slot[..CHECKED_BYTES]);
        slot[CHECKED_BYTES..CHECKED_BYTES + CHECKSUM_BYTES]
            .copy_from_slice(&checksum.as_bytes()[..CHECKSUM_BYTES]);
        self.file
            .write_all_at(&slot, self.next_slot * SLOT_BYTES as u64)?;
        self.file.sync_data()?;
        self.next_slot = 1 - self.next_slot;
        self.written = Some(head.next_seq);
        self.last_write = Instant::now();
        Ok(())
    }
}

/// The mark in `dir`: the further of its two slots that is whole; `None` without the file or
/// a whole slot.
pub fn read_durable_mark(dir: &Path) -> Option<DurableMark> {
    let file = File::open(dir.join(DURABLE_MARK_FILE)).ok()?;
    read_slots(&file)
        .into_iter()
        .flatten()
        .max_by_key(|mark| mark.records)
}

fn read_slots(file: &File) -> [Option<DurableMark>; 2] {
    let mut bytes = [0u8; 2 * SLOT_BYTES];
    let read = file.read_at(&mut bytes, 0).unwrap_or(0);
    let slot = |index: usize| {
        let slot = bytes.get(index * SLOT_BYTES..(index + 1) * SLOT_BYTES)?;
        if index * SLOT_BYTES + SLOT_BYTES > read || &slot[..4] != MAGIC {
            return None;
        }
        let checksum = blake3::hash(&slot[..CHECKED_BYTES]);
        if slot[CHECKED_BYTES..CHECKED_BYTES + CHECKSUM_BYTES] != checksum.as_bytes()[..CHECKSUM_BYTES] {
            return None;
        }
        Some(DurableMark {
            records: u64::from_le_bytes(slot[4..12].try_into().expect("8 bytes")),
            hash: Hash32::from_bytes(slot[12..CHECKED_BYTES].try_into().expect("32 bytes")),
        })
    };
    [slot(0), slot(1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(next_seq: u64) -> Head {
        Head {
            next_seq,
            hash: Hash32::from_bytes([next_seq as u8; 32]),
            recorded_at: None,
        }
    }

    #[test]
    fn the_further_whole_slot_is_the_mark() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_durable_mark(dir.path()), None);
        let mut writer = MarkWriter::open(dir.path()).unwrap();
        assert_eq!(read_durable_mark(dir.path()), None, "a new file holds no mark");
        for records in [3, 7, 9] {
            writer.note(head(records)).unwrap();
            writer.flush().unwrap();
            assert_eq!(read_durable_mark(dir.path()).unwrap().records, records);
        }
        // A torn write of the newer slot (slot 0 holds 9): the older mark remains.
        let file = OpenOptions::new()
            .write(true)
            .open(dir.path().join(DURABLE_MARK_FILE))
            .unwrap();
        file.write_all_at(&[0xAB; 10], 20).unwrap();
        let mark = read_durable_mark(dir.path()).unwrap();
        assert_eq!((mark.records, mark.hash), (7, head(7).hash));
        // Reopened, the writer writes over the spoilt slot first.
        let mut writer = MarkWriter::open(dir.path()).unwrap();
        writer.note(head(12)).unwrap();
        writer.flush().unwrap();
        assert_eq!(read_durable_mark(dir.path()).unwrap().records, 12);
        writer.note(head(13)).unwrap();
        writer.flush().unwrap();
        assert_eq!(read_durable_mark(dir.path()).unwrap().records, 13);
    }

    #[test]
    fn notes_are_written_at_most_once_an_interval_and_never_backwards() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = MarkWriter::open(dir.path()).unwrap();
        writer.note(head(1)).unwrap();
        assert_eq!(
            read_durable_mark(dir.path()).unwrap().records,
            1,
            "the first note is written"
        );
        writer.note(head(2)).unwrap();
        assert_eq!(
            read_durable_mark(dir.path()).unwrap().records,
            1,
            "within the interval: pending"
        );
        writer.flush().unwrap();
        assert_eq!(read_durable_mark(dir.path()).unwrap().records, 2);
        writer.note(head(1)).unwrap();
        writer.flush().unwrap();
        assert_eq!(
            read_durable_mark(dir.path()).unwrap().records,
            2,
            "a mark never goes back"
        );
    }
}
