//! govrec's fuzz targets: for each parser that reads bytes an outsider or a damaged disk can
//! hand us, the checks every input must pass. Each target takes arbitrary bytes, must never
//! panic, and asserts what must hold of what it accepts:
//!
//! - [`block`]: a block as stored in the log, with the bytes of `personal.dat` it points into.
//!   What decodes must survive the export format unchanged (export, then import's parser).
//! - [`append_body`]: the body of `POST /v1/events`. The fast path must never accept what the
//!   explaining path refuses, nor read it otherwise.
//! - [`proofs`]: the RFC 9162 proof verifiers. Genuine proofs over a tree the input shapes must
//!   verify; the same proofs with one thing changed must not; arbitrary ones must not panic.
//! - [`checkpoint_note`]: checkpoint bodies, verifier keys and signed notes. A body that parses
//!   must read back the same after writing; a signed note changed anywhere must either fail or
//!   still say exactly what was signed.
//! - [`import_line`]: a line of an import file. What parses must read back the same after
//!   writing it out again.
//!
//! `libfuzzer/` runs them under libFuzzer (nightly); `tests/corpus.rs` replays the committed
//! corpus (`corpus/TARGET/`) through them on stable with `cargo test`. docs/testing.md says
//! how to run a campaign.

use std::sync::OnceLock;

use govrec_store::merkle::{
    consistency_proof, inclusion_proof, leaf_hash, root_of_leaves, verify_consistency, verify_inclusion,
    LeavesInMemory,
};
use govrec_store::{
    decode_block_detached, parse_import_line, Checkpoint, CheckpointSigner, Hash32, ImportLine, NoteVerifier,
};

/// Reads a fuzzer's bytes as a sequence of small values; past the end, zeros.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> u8 {
        let Some((&first, rest)) = self.0.split_first() else {
            return 0;
        };
        self.0 = rest;
        first
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }

    fn take(&mut self, count: usize) -> &'a [u8] {
        let (taken, rest) = self.0.split_at(count.min(self.0.len()));
        self.0 = rest;
        taken
    }

    fn rest(&mut self) -> &'a [u8] {
        self.take(self.0.len())
    }

    fn hash(&mut self) -> Hash32 {
        let mut bytes = [0; 32];
        let taken = self.take(32);
        bytes[..taken.len()].copy_from_slice(taken);
        Hash32::from_bytes(bytes)
    }
}

/// The layout of a [`block`] input: the block's key (its first seq), the offset in
/// `personal.dat` of the bytes given, their length, those bytes, then the block.
pub fn block_input(first_seq: u64, base: u64, personal: &[u8], block: &[u8]) -> Vec<u8> {
    let mut input = first_seq.to_le_bytes().to_vec();
    input.extend_from_slice(&base.to_le_bytes());
    input.extend_from_slice(&(personal.len() as u32).to_le_bytes());
    input.extend_from_slice(personal);
    input.extend_from_slice(block);
    input
}

/// A stored block and the personal values it points to.
pub fn block(data: &[u8]) {
    let mut input = Input(data);
    let first_seq = input.u64();
    let base = input.u64();
    let personal_len = input.u32() as usize;
    let personal = input.take(personal_len);
    let bytes = input.rest();
    let Ok(records) = decode_block_detached(first_seq, bytes, base, personal) else {
        return;
    };
    for (offset, record) in records.iter().enumerate() {
        assert_eq!(
            record.seq,
            first_seq + offset as u64,
            "a block's seqs follow its key"
        );
        let line = record.to_json_line();
        match parse_import_line(&line) {
            Ok(ImportLine::Record(again)) => {
                assert_eq!(
                    &again, record,
                    "the export of a decoded record reads back the same: {line}"
                )
            }
            Ok(ImportLine::Event(_)) => panic!("an exported record reads back as a bare event: {line}"),
            Err(error) => panic!("an exported record does not read back ({error}): {line}"),
        }
    }
}

/// The body of `POST /v1/events`.
pub fn append_body(data: &[u8]) {
    let fast = govrec_server::envelope::new_events_from_batch(data);
    let explaining = govrec_server::routes::events::parse_batch_explaining(data);
    if let Some(fast) = fast {
        match explaining {
            Ok(events) => assert_eq!(fast, events, "both paths read a body alike"),
            Err(error) => panic!(
                "the fast path accepts a body the explaining path refuses ({}): {}",
                error.0.detail,
                String::from_utf8_lossy(data)
            ),
        }
    }
}

/// The proof verifiers, on genuine proofs, on genuine proofs changed once, and on arbitrary
/// input.
pub fn proofs(data: &[u8]) {
    let mut input = Input(data);
    // Arbitrary sizes, indices and hashes: any answer but a panic.
    let (index, size, old_size) = (input.u64(), input.u64(), input.u64());
    let count = usize::from(input.byte() % 70);
    let arbitrary: Vec<Hash32> = (0..count).map(|_| input.hash()).collect();
    let (leaf, root) = (input.hash(), input.hash());
    let _ = verify_inclusion(index, size, &leaf, &arbitrary, &root);
    let _ = verify_consistency(old_size, size, &leaf, &root, &arbitrary);

    // A real tree of up to 300 leaves.
    let size = 1 + u64::from(input.u32() % 300);
    let leaves: Vec<Hash32> = (0..size)
        .map(|n| leaf_hash(&Hash32::from_bytes(*blake3::hash(&n.to_le_bytes()).as_bytes())))
        .collect();
    let index = u64::from(input.u32()) % size;
    let old_size = u64::from(input.u32()) % (size + 1);
    let root = root_of_leaves(&leaves);
    let old_root = root_of_leaves(&leaves[..old_size as usize]);
    let source = &mut LeavesInMemory(&leaves);
    let Ok(inclusion) = inclusion_proof(source, index, size);
    let Ok(consistency) = consistency_proof(source, old_size, size);
    let leaf = leaves[index as usize];
    assert_eq!(verify_inclusion(index, size, &leaf, &inclusion, &root), Ok(()));
    assert_eq!(
        verify_consistency(old_size, size, &old_root, &root, &consistency),
        Ok(())
    );

    // One change; a changed proof must not verify.
    let which = input.byte();
    let at = usize::from(input.byte());
    let bit = input.byte();
    let extra = input.hash();
    let mut changed_inclusion = inclusion.clone();
    let mut changed_consistency = consistency.clone();
    let (mut leaf2, mut root2, mut old_root2, mut index2) = (leaf, root, old_root, index);
    match which % 8 {
        0 => flip(changed_inclusion.get_mut(at % inclusion.len().max(1)), bit),
        1 => flip(changed_consistency.get_mut(at % consistency.len().max(1)), bit),
        2 => flip(Some(&mut leaf2), bit),
        3 => flip(Some(&mut root2), bit),
        4 => flip(Some(&mut old_root2), bit),
        5 => {
            changed_inclusion.insert(at % (inclusion.len() + 1), extra);
            changed_consistency.insert(at % (consistency.len() + 1), extra);
        }
        6 => {
            if !inclusion.is_empty() {
                changed_inclusion.remove(at % inclusion.len());
            }
            if !consistency.is_empty() {
                changed_consistency.remove(at % consistency.len());
            }
        }
        _ => index2 = u64::from(input.u32()) % size,
    }
    if (&changed_inclusion, leaf2, root2, index2) != (&inclusion, leaf, root, index) {
        // A leaf that equals another is the same leaf: only the index differs then.
        if !(index2 != index && leaves[index2 as usize] == leaf2) {
            assert!(
                verify_inclusion(index2, size, &leaf2, &changed_inclusion, &root2).is_err(),
                "a changed inclusion proof verifies (size {size}, index {index} → {index2}, change {which})"
            );
        }
    }
    // The empty tree is a prefix of every tree: with an old size of 0 the new root is not
    // checked, and only a changed old root or a proof that is no longer empty must fail.
    let consistency_changed = if old_size == 0 {
        (&changed_consistency, old_root2) != (&consistency, old_root)
    } else {
        (&changed_consistency, old_root2, root2) != (&consistency, old_root, root)
    };
    if consistency_changed {
        assert!(
            verify_consistency(old_size, size, &old_root2, &root2, &changed_consistency).is_err(),
            "a changed consistency proof verifies (sizes {old_size} → {size}, change {which})"
        );
    }
}

fn flip(hash: Option<&mut Hash32>, bit: u8) {
    if let Some(hash) = hash {
        let mut bytes = hash.to_bytes();
        bytes[usize::from(bit / 8) % 32] ^= 1 << (bit % 8);
        *hash = Hash32::from_bytes(bytes);
    }
}

/// One signing key for a fuzzing process (a fresh one each process: the checks hold for any).
fn signer() -> &'static CheckpointSigner {
    static SIGNER: OnceLock<CheckpointSigner> = OnceLock::new();
    SIGNER.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        CheckpointSigner::load_or_create(dir.path(), Some("fuzz.example/log")).expect("a signing key")
    })
}

/// Checkpoint bodies, verifier keys and signed notes.
pub fn checkpoint_note(data: &[u8]) {
    let mut input = Input(data);
    let mode = input.byte();
    let signer = signer();
    let verifier = NoteVerifier::parse(&signer.verifier_key()).expect("our own key parses");
    match mode % 4 {
        0 => {
            let Ok(text) = std::str::from_utf8(input.rest()) else {
                return;
            };
            if let Ok(checkpoint) = Checkpoint::parse_body(text) {
                assert_eq!(
                    Checkpoint::parse_body(&checkpoint.body()).as_ref(),
                    Ok(&checkpoint),
                    "a parsed body reads back the same: {text:?}"
                );
            }
        }
        1 => {
            let Ok(text) = std::str::from_utf8(input.rest()) else {
                return;
            };
            if let Ok(parsed) = NoteVerifier::parse(text) {
                assert!(!parsed.name().is_empty() && !parsed.name().contains('+'));
            }
        }
        2 => {
            let Ok(text) = std::str::from_utf8(input.rest()) else {
                return;
            };
            if let Ok(checkpoint) = verifier.verify_checkpoint(text) {
                assert_eq!(checkpoint.origin, signer.origin());
                // Only our signature can have made it pass: the signed text is the note's.
                assert!(text.starts_with(&checkpoint.body()), "{text:?}");
            }
        }
        _ => {
            let (size, root) = (input.u64(), input.hash());
            let note = signer.sign(size, root);
            let mut bytes = note.clone().into_bytes();
            // Up to 8 byte edits anywhere in the note.
            for _ in 0..input.byte() % 8 {
                let at = usize::from(input.byte()) | (usize::from(input.byte()) << 8);
                let value = input.byte();
                let len = bytes.len();
                match input.byte() % 3 {
                    0 => bytes[at % len] = value,
                    1 => bytes.insert(at % (len + 1), value),
                    _ if len > 1 => {
                        bytes.remove(at % len);
                    }
                    _ => {}
                }
            }
            let Ok(changed) = String::from_utf8(bytes) else {
                return;
            };
            if let Ok(checkpoint) = verifier.verify_checkpoint(&changed) {
                assert_eq!(
                    (checkpoint.size, checkpoint.root, checkpoint.origin.as_str()),
                    (size, root, signer.origin()),
                    "a changed note verifies with other content: {changed:?}"
                );
                let split = note.find("\n\n").expect("a note has a blank line");
                assert_eq!(
                    changed.get(..split + 1),
                    note.get(..split + 1),
                    "a changed note verifies with changed signed text: {changed:?}"
                );
            }
        }
    }
}

/// A line of an import file.
pub fn import_line(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_import_line(text) {
        Ok(ImportLine::Record(record)) => {
            let line = record.to_json_line();
            match parse_import_line(&line) {
                Ok(ImportLine::Record(again)) => assert_eq!(again, record, "{line}"),
                other => panic!("a record written out does not read back ({other:?}): {line}"),
            }
        }
        Ok(ImportLine::Event(event)) => {
            let json = govrec_store::new_event_to_json(&event);
            let line = json.to_string();
            match parse_import_line(&line) {
                Ok(ImportLine::Event(again)) => assert_eq!(again, event, "{line}"),
                other => panic!("an event written out does not read back ({other:?}): {line}"),
            }
        }
        Err(_) => {}
    }
}
