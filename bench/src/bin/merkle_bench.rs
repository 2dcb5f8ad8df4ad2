//! Merkle benchmark: what maintaining the tree costs bulk appends, and how long roots,
//! inclusion and consistency proofs take at the head of a large log. Prints figures; asserts
//! nothing.
//!
//! `cargo run --release -p govrec-bench --bin merkle-bench -- [RECORDS [DATA_DIR]]` (default
//! 1,000,000; with DATA_DIR the store is kept there, for `govrec serve --data DATA_DIR`).

use std::time::{Duration, Instant};

use govrec_core::event::{Channel, ComplaintCategory, ComplaintFiled};
use govrec_store::merkle::{leaf_hash, verify_consistency, verify_inclusion};
use govrec_store::{NewEvent, Store, StoreConfig};
use govrec_tests::{hierarchy, uuid_of};
use uuid::Uuid;

const BATCH: u64 = 1000;
const QUERIES: usize = 10_000;

fn main() {
    let records: u64 = std::env::args()
        .nth(1)
        .map_or(1_000_000, |n| n.parse().expect("RECORDS is a number"));
    // An optional second argument keeps the store in that data directory (then
    // `govrec serve --data DIR` serves it, for measuring proofs over HTTP).
    let scratch = tempfile::tempdir_in(".").expect("scratch dir");
    let data = std::env::args()
        .nth(2)
        .map_or_else(|| scratch.path().join("log"), std::path::PathBuf::from);
    let store = Store::open(&data, StoreConfig::default()).expect("store");
    store.append("bench", hierarchy(0)).expect("hierarchy");
    let started = Instant::now();
    let mut next = 1_000_000u64;
    while store.head().next_seq < records {
        let events = (0..BATCH)
            .map(|i| complaint(uuid_of(next + i)))
            .collect::<Vec<_>>();
        next += BATCH;
        store.append("bench", events).expect("append");
    }
    let wall = started.elapsed().as_secs_f64();
    let tree = store.merkle_maintenance_seconds();
    println!(
        "fill: {} records in batches of {BATCH}: {:.0} events/s; Merkle maintenance {:.2} s of {:.2} s ({:.1}% of the time)",
        store.head().next_seq,
        store.head().next_seq as f64 / wall,
        tree,
        wall,
        100.0 * tree / wall
    );

    let size = store.head().next_seq;
    let mut random = 0x9e37_79b9_7f4a_7c15u64;
    let mut next_random = move || {
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        random
    };
    let mut inclusion = Vec::with_capacity(QUERIES);
    let root = store.merkle_root(size).expect("root");
    for _ in 0..QUERIES {
        let seq = next_random() % size;
        let started = Instant::now();
        let record = store.get(seq).expect("get").expect("record");
        let proof = store.inclusion_proof(seq, size).expect("proof");
        let root_now = store.merkle_root(size).expect("root");
        inclusion.push(started.elapsed());
        verify_inclusion(seq, size, &leaf_hash(&record.hash), &proof, &root_now).expect("verifies");
    }
    report("inclusion proof (record + proof + root)", &mut inclusion);
    let mut proof_only = Vec::with_capacity(QUERIES);
    for _ in 0..QUERIES {
        let seq = next_random() % size;
        let started = Instant::now();
        store.inclusion_proof(seq, size).expect("proof");
        proof_only.push(started.elapsed());
    }
    report("inclusion proof alone", &mut proof_only);
    let mut consistency = Vec::with_capacity(QUERIES);
    for _ in 0..QUERIES {
        let old = next_random() % size + 1;
        let started = Instant::now();
        let old_root = store.merkle_root(old).expect("old root");
        let proof = store.consistency_proof(old, size).expect("proof");
        consistency.push(started.elapsed());
        verify_consistency(old, size, &old_root, &root, &proof).expect("verifies");
    }
    report("consistency proof (old root + proof)", &mut consistency);
    let mut checkpoints = Vec::with_capacity(100);
    for _ in 0..100 {
        let started = Instant::now();
        store.checkpoint_latest().expect("checkpoint");
        checkpoints.push(started.elapsed());
    }
    report("latest checkpoint (already issued)", &mut checkpoints);
}

fn report(what: &str, samples: &mut [Duration]) {
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    let p99 = samples[samples.len() * 99 / 100];
    println!(
        "{what}: mean {:.1} µs, p99 {:.1} µs, max {:.1} µs over {} queries",
        mean.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6,
        samples[samples.len() - 1].as_secs_f64() * 1e6,
        samples.len()
    );
}

fn complaint(id: Uuid) -> NewEvent {
    NewEvent::new(ComplaintFiled {
        complaint_id: id,
        area_id: uuid_of(3),
        category: ComplaintCategory::Repair,
        summary: "3号楼2单元楼道灯损坏已一周，老人夜间上下楼不便，请尽快维修。".to_owned(),
        channel: Channel::Hotline,
        resident_ref: "居民-2026-0417".to_owned(),
    })
}
