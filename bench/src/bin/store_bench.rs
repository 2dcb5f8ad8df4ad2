//! Store benchmark: durable append throughput and latency through govrec-store, against raw
//! one-record-per-key sled measured in the same run; full-chain verify rate; open time and
//! peak RSS. Prints figures; asserts nothing.
//!
//! `cargo run --release -p govrec-bench --bin store-bench -- [RECORDS]` (default 1,000,000
//! records for the verify/open part). Durable means flushed *and* fsynced before an
//! acknowledgement, for the baseline as for the store.

use std::fs::File;
use std::sync::Arc;
use std::time::{Duration, Instant};

use govrec_core::event::{Channel, ComplaintCategory, ComplaintFiled};
use govrec_store::{verify_log, NewEvent, Store, StoreConfig, Verification};
use govrec_tests::{hierarchy, uuid_of};
use uuid::Uuid;

const CONCURRENT_APPENDERS: u64 = 64;
const APPENDS_PER_APPENDER: u64 = 1500;
const RAW_RECORDS: u64 = 100_000;
const RAW_BATCH: u64 = 1000;
const SINGLE_INSERTS: u64 = 2000;

fn main() {
    let records: u64 = std::env::args()
        .nth(1)
        .map_or(1_000_000, |n| n.parse().expect("RECORDS is a number"));
    let scratch = tempfile::tempdir_in(".").expect("scratch dir");
    println!(
        "govrec store benchmark ({} cores)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    let record_bytes = sample_record_bytes();
    println!("sample event: {record_bytes} bytes of canonical JSON");

    let raw_batched = raw_sled_batched(&scratch.path().join("raw-batched"), record_bytes);
    println!("raw sled, 1 record/key, batches of {RAW_BATCH}, flush+fsync: {raw_batched:>10.0} records/s");
    let raw_single = raw_sled_single(&scratch.path().join("raw-single"), record_bytes);
    println!("raw sled, 1 flushed+fsynced insert per record:          {raw_single:>10.0} records/s");

    let store_dir = scratch.path().join("store");
    let store = Arc::new(Store::open(&store_dir, StoreConfig::default()).expect("open"));
    store.append("bench", hierarchy(0)).expect("hierarchy");
    let cpu_before = cpu_seconds();
    let wall_before = Instant::now();
    let (concurrent_rate, p50, p99) = concurrent_appends(&store);
    let cpu_share = (cpu_seconds() - cpu_before) / wall_before.elapsed().as_secs_f64();
    println!(
        "store, {CONCURRENT_APPENDERS} concurrent single-event appenders: {concurrent_rate:>10.0} events/s  p50 {:.2} ms  p99 {:.2} ms  ({:.2}x raw batched sled)",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        concurrent_rate / raw_batched
    );
    println!("  (process CPU during that phase: {cpu_share:.2} cores busy)");
    let single_rate = single_appender(&store, |n| complaint(uuid_of(900_000_000 + n)));
    println!(
        "store, one appender alone (complaints: personal values, 2 fsyncs): {single_rate:>10.0} events/s  ({:.2}x one flushed sled insert)",
        single_rate / raw_single
    );
    let single_plain_rate = single_appender(&store, |n| {
        NewEvent::new(govrec_tests::area(
            uuid_of(800_000_000 + n),
            govrec_core::event::AreaKind::Building,
            &format!("{n}号楼"),
            Some(uuid_of(3)),
        ))
    });
    println!(
        "store, one appender alone (buildings: no personal values):  {single_plain_rate:>10.0} events/s  ({:.2}x one flushed sled insert)",
        single_plain_rate / raw_single
    );
    let bulk_rate = fill(&store, records);
    println!("store, bulk fill in batches of 1000 to {records} records: {bulk_rate:>10.0} events/s");
    let size = store.log().size_on_disk().unwrap_or(0);
    let started = Instant::now();
    drop(store);
    println!(
        "close (writer stops, saves the open state): {:.3} s",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let (store, report) = Store::open_with_report(&store_dir, StoreConfig::default()).expect("reopen");
    let open_seconds = started.elapsed().as_secs_f64();
    println!(
        "open from the saved state + tail check ({} records, {} from the saved state, tail {} rehashed): {:.3} s",
        report.records, report.saved_records, report.tail_checked, open_seconds
    );
    drop(store);
    govrec_store::forget_open_state(&store_dir).expect("forget the open state");
    let started = Instant::now();
    let (store, report) = Store::open_with_report(&store_dir, StoreConfig::default()).expect("reopen");
    let open_seconds = started.elapsed().as_secs_f64();
    println!(
        "open replaying the whole log ({} records, {} blocks, tail {} rehashed, indexes and state rebuilt): {:.3} s",
        report.records, report.blocks, report.tail_checked, open_seconds
    );
    let started = Instant::now();
    let verification = verify_log(store.log(), 0, None).expect("verify");
    let verify_seconds = started.elapsed().as_secs_f64();
    let Verification::Intact { checked, .. } = verification else {
        panic!("{verification:?}")
    };
    println!(
        "full-chain verify: {checked} records in {verify_seconds:.3} s = {:.0} records/s",
        checked as f64 / verify_seconds
    );
    println!(
        "size on disk: {:.1} MiB; peak RSS: {:.1} MiB",
        size as f64 / 1048576.0,
        peak_rss_kib() as f64 / 1024.0
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

fn sample_record_bytes() -> usize {
    let event = complaint(uuid_of(1)).event;
    govrec_core::event_canonical_json(&event).len() + 150
}

fn sync_sled(db: &sled::Db, file: &File) {
    db.flush().expect("flush");
    file.sync_all().expect("fsync");
}

fn open_raw(path: &std::path::Path) -> (sled::Db, sled::Tree, File) {
    let db = sled::Config::new()
        .path(path)
        .cache_capacity(64 << 20)
        .flush_every_ms(Some(200))
        .open()
        .expect("sled");
    let tree = db.open_tree("log").expect("tree");
    let file = File::options()
        .read(true)
        .write(true)
        .open(path.join("db"))
        .expect("db file");
    (db, tree, file)
}

fn raw_sled_batched(path: &std::path::Path, record_bytes: usize) -> f64 {
    let (db, tree, file) = open_raw(path);
    let value = vec![0x5a; record_bytes];
    let started = Instant::now();
    for batch_start in (0..RAW_RECORDS).step_by(RAW_BATCH as usize) {
        let mut batch = sled::Batch::default();
        for seq in batch_start..batch_start + RAW_BATCH {
            batch.insert(&seq.to_be_bytes(), value.as_slice());
        }
        tree.apply_batch(batch).expect("batch");
        sync_sled(&db, &file);
    }
    RAW_RECORDS as f64 / started.elapsed().as_secs_f64()
}

fn raw_sled_single(path: &std::path::Path, record_bytes: usize) -> f64 {
    let (db, tree, file) = open_raw(path);
    let value = vec![0x5a; record_bytes];
    let started = Instant::now();
    for seq in 0..SINGLE_INSERTS {
        tree.insert(seq.to_be_bytes(), value.as_slice()).expect("insert");
        sync_sled(&db, &file);
    }
    SINGLE_INSERTS as f64 / started.elapsed().as_secs_f64()
}

/// 64 concurrent appenders as the server has them: async tasks on a runtime with one worker
/// per core, each awaiting its durable acknowledgement before sending the next event.
fn concurrent_appends(store: &Arc<Store>) -> (f64, Duration, Duration) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let started = Instant::now();
    let mut latencies: Vec<Duration> = runtime.block_on(async {
        let tasks: Vec<_> = (0..CONCURRENT_APPENDERS)
            .map(|appender| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut latencies = Vec::with_capacity(APPENDS_PER_APPENDER as usize);
                    for n in 0..APPENDS_PER_APPENDER {
                        let id = uuid_of(1_000_000 + (appender << 24) + n);
                        let one = Instant::now();
                        let pending = store
                            .append_nonblocking(
                                "bench",
                                govrec_store::CountyScope::Everywhere,
                                vec![complaint(id)],
                            )
                            .expect("queue");
                        pending.await.expect("writer").expect("append");
                        latencies.push(one.elapsed());
                    }
                    latencies
                })
            })
            .collect();
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.expect("task"));
        }
        all
    });
    let rate = latencies.len() as f64 / started.elapsed().as_secs_f64();
    latencies.sort();
    let percentile = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    (rate, percentile(0.50), percentile(0.99))
}

fn single_appender(store: &Store, event: impl Fn(u64) -> NewEvent) -> f64 {
    let started = Instant::now();
    for n in 0..SINGLE_INSERTS {
        store.append("bench", vec![event(n)]).expect("append");
    }
    SINGLE_INSERTS as f64 / started.elapsed().as_secs_f64()
}

fn fill(store: &Store, records: u64) -> f64 {
    let started = Instant::now();
    let before = store.head().next_seq;
    let mut n = 0u64;
    while store.head().next_seq < records {
        let batch: Vec<NewEvent> = (0..1000)
            .map(|i| complaint(uuid_of(2_000_000_000 + n * 1000 + i)))
            .collect();
        store.append("bench", batch).expect("fill");
        n += 1;
    }
    (store.head().next_seq - before) as f64 / started.elapsed().as_secs_f64()
}

/// User + system CPU time of this process so far.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields after the command name: utime is the 12th, stime the 13th (0-based 11, 12).
    (ticks(11) + ticks(12)) / 100.0
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
