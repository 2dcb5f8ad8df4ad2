//! Writes seed inputs for every fuzz target into `fuzz/corpus/TARGET/` from a real log: the
//! demo's events appended in small batches (so blocks stay small), one redaction, and what the
//! store answers about them. libFuzzer starts from these and keeps what finds new paths.
//!
//! `cargo run -p govrec-fuzz --example seed_corpus` (again after a change of a format).

use std::path::Path;

use govrec_core::event::{EventType, Redacted};
use govrec_core::Event;
use govrec_store::{NewEvent, Store, StoreConfig};

fn main() -> anyhow::Result<()> {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let demo_dir = tempfile::tempdir()?;
    let demo = Store::open(demo_dir.path(), StoreConfig::default())?;
    govrec_demo::load_demo(&demo, "seed")?;
    let records = demo.read_range(0, demo.head().next_seq as usize)?;

    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), StoreConfig::default())?;
    let mut seen_types = std::collections::BTreeSet::new();
    let mut at = 0;
    let mut batch_len = 1;
    while at < records.len() {
        let batch: Vec<NewEvent> = records[at..(at + batch_len).min(records.len())]
            .iter()
            .map(|record| NewEvent {
                id: Some(record.id),
                occurred_on: Some(record.occurred_on),
                event: record.event.clone(),
            })
            .collect();
        at += batch.len();
        batch_len = batch_len % 4 + 1;
        let new_types = batch.iter().any(|new| seen_types.insert(new.event.event_type()));
        let body = serde_json::json!({ "events": batch.iter().map(govrec_store::new_event_to_json).collect::<Vec<_>>() });
        if new_types || at % 97 == 0 {
            write(&corpus, "append_body", body.to_string().as_bytes())?;
            for new in &batch {
                write(
                    &corpus,
                    "import_line",
                    govrec_store::new_event_to_json(new).to_string().as_bytes(),
                )?;
            }
        }
        store.append("seed", batch)?;
    }
    // A redaction, so that blocks and records carry a marker.
    let complaint = store
        .read_range(0, records.len())?
        .into_iter()
        .find(|record| record.event.event_type() == EventType::ComplaintFiled)
        .expect("the demo files complaints");
    store.append(
        "seed",
        vec![NewEvent::new(Event::Redacted(Redacted {
            target_seq: complaint.seq,
            fields: vec!["summary".to_owned(), "resident_ref".to_owned()],
            reason: "居民申请删除个人信息".to_owned(),
        }))],
    )?;

    let personal = std::fs::read(dir.path().join("personal.dat"))?;
    let head = store.head().next_seq;
    let mut block_types = std::collections::BTreeSet::new();
    for block in store.log().blocks_from(0) {
        let (first_seq, bytes) = block?;
        let decoded = govrec_store::decode_block_detached(first_seq, &bytes, 0, &personal)?;
        let new_type = decoded
            .iter()
            .any(|record| block_types.insert(record.event.event_type()));
        let holds_marker = decoded
            .iter()
            .any(|record| record.seq == complaint.seq || record.redaction.is_some());
        if !(new_type || holds_marker || first_seq % 500 == 0 || first_seq + 2 >= head) {
            continue;
        }
        // The smallest window of personal.dat the block decodes with: its end, then its start.
        let decodes = |base: usize, end: usize| {
            govrec_store::decode_block_detached(first_seq, &bytes, base as u64, &personal[base..end]).is_ok()
        };
        let (mut short, mut long) = (0, personal.len());
        while short < long {
            let middle = (short + long) / 2;
            if decodes(0, middle) {
                long = middle;
            } else {
                short = middle + 1;
            }
        }
        let end = long;
        let (mut low, mut high) = (0, end);
        while low < high {
            let middle = (low + high).div_ceil(2);
            if decodes(middle, end) {
                low = middle;
            } else {
                high = middle - 1;
            }
        }
        let input = govrec_fuzz::block_input(first_seq, low as u64, &personal[low..end], &bytes);
        write(&corpus, "block", &input)?;
    }
    for record in store
        .read_range(0, 60)?
        .iter()
        .chain(&store.read_range(complaint.seq, 1)?)
    {
        write(&corpus, "import_line", record.to_json_line().as_bytes())?;
    }
    let last = store.read_range(head - 1, 1)?;
    write(&corpus, "import_line", last[0].to_json_line().as_bytes())?;

    for size in [1u64, 2, 3, 7, 8, 64, 255] {
        let mut input = vec![0u8; 24];
        input.push(3);
        input.extend_from_slice(&[0u8; 96]);
        input.extend_from_slice(&((size as u32) - 1).to_le_bytes());
        input.extend_from_slice(&(size as u32 / 2).to_le_bytes());
        input.extend_from_slice(&(size as u32 / 3).to_le_bytes());
        input.extend_from_slice(&[size as u8, 1, 9]);
        write(&corpus, "proofs", &input)?;
    }
    let (size, note) = store.checkpoint_latest()?;
    let root = store.merkle_root(size)?;
    let mut signed = vec![3u8];
    signed.extend_from_slice(&size.to_le_bytes());
    signed.extend_from_slice(&root.to_bytes());
    write(&corpus, "checkpoint_note", &signed)?;
    let body_end = note.find("\n\n").expect("a note has a blank line") + 1;
    for (mode, text) in [
        (0u8, &note[..body_end]),
        (1, store.verifier_key().as_str()),
        (2, note.as_str()),
    ] {
        let mut input = vec![mode];
        input.extend_from_slice(text.as_bytes());
        write(&corpus, "checkpoint_note", &input)?;
    }
    println!("seeds written under {}", corpus.display());
    Ok(())
}

/// Writes one seed, named by its hash as libFuzzer names its own.
fn write(corpus: &Path, target: &str, input: &[u8]) -> anyhow::Result<()> {
    let dir = corpus.join(target);
    std::fs::create_dir_all(&dir)?;
    let name = blake3::hash(input).to_hex();
    std::fs::write(dir.join(&name[..40]), input)?;
    Ok(())
}
