//! Read-model benchmark: generates a province's worth of realistic events (every event kind)
//! into a store, then measures full replay against a decode-only scan of the same store, the
//! rebuild with snapshot points, a restart from a snapshot, a county coverage query, `as_of`
//! queries and peak RSS. Prints figures; asserts nothing.
//!
//! `cargo run --release -p govrec-bench --bin replay-bench -- [EVENTS [DATA_DIR]]`
//! (default 1,000,000). The store and snapshots live in a temporary directory under the current
//! one, or in DATA_DIR, laid out as `govrec serve --data DATA_DIR` expects and kept, to measure
//! the server on it. When DATA_DIR exists already (a kept run), nothing is generated: the
//! decode-only scan against a full replay, and the serving phase (restart from its snapshot,
//! queries, `as_of`, peak RSS), are measured again on it; `replay-bench EVENTS DATA_DIR as-of
//! [REPEATS] [cold]` only repeats the worst `as_of` of the last two intervals (to profile it;
//! `cold` leaves out the warm-up a server does after a start).

use std::time::{Duration, Instant};

use govrec_projections::{replay_all, AsOfPoint, HostConfig, ModelHost, Page, ReadScope};
use govrec_store::{Store, StoreConfig};
use uuid::Uuid;

mod generator;

const COVERAGE_QUERIES: usize = 200;
const AS_OF_QUERIES: usize = 5;

govrec_alloc::use_jemalloc!();

fn main() {
    let events: u64 = std::env::args()
        .nth(1)
        .map_or(1_000_000, |n| n.parse().expect("EVENTS is a number"));
    let scratch = tempfile::tempdir_in(".").expect("scratch dir");
    let data = match std::env::args().nth(2) {
        Some(dir) => std::path::PathBuf::from(dir),
        None => scratch.path().join("log"),
    };
    let kept = data.exists();
    let store = Store::open(&data, StoreConfig::default()).expect("open store");
    println!(
        "govrec read-model benchmark ({} cores, load average {}), {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_average(),
        if kept {
            format!("the kept store in {} again", data.display())
        } else {
            format!("{events} events")
        }
    );
    if kept && std::env::args().nth(3).as_deref() == Some("as-of") {
        let repeats = std::env::args()
            .nth(4)
            .map_or(20, |n| n.parse().expect("REPEATS is a number"));
        let cold = std::env::args().nth(5).as_deref() == Some("cold");
        as_of_repeated(&store, &data.join("models"), repeats, cold);
        return;
    }
    if kept {
        let generated = store.head().next_seq;
        replay_against_scan(&store);
        start_serving_phase();
        serve(&store, &data.join("models"), generated, None);
        return;
    }

    let started = Instant::now();
    let province = fill(&store, events);
    let generated = store.head().next_seq;
    println!(
        "generated {generated} events ({} counties, {} areas) into the store in {:.1} s",
        province.counties.len(),
        province.areas,
        started.elapsed().as_secs_f64()
    );
    println!("RSS with the store open: {} MiB", rss_kib("VmRSS:") / 1024);

    let models = replay_against_scan(&store);
    println!(
        "RSS with the store and one set of models: {} MiB",
        rss_kib("VmRSS:") / 1024
    );
    snapshot_costs(&models);
    drop(models);
    phases(&store, generated);

    let snapshots = data.join("models");
    let config = HostConfig::default();
    let started = Instant::now();
    let (host, _) = ModelHost::open(&store, Some(&snapshots), config.clone()).expect("first open");
    println!(
        "replay with a snapshot point every {} records (first start, no snapshot): {:.3} s",
        config.snapshot_interval_records,
        started.elapsed().as_secs_f64()
    );
    drop(host);
    let setup_peak = rss_kib("VmHWM:");
    start_serving_phase();
    println!(
        "peak RSS of the setup (generation, three full replays, snapshot points): {} MiB; now {} MiB after trimming",
        setup_peak / 1024,
        rss_kib("VmRSS:") / 1024
    );
    serve(&store, &snapshots, generated, Some(&province.counties));
}

/// A decode-only scan of the store, then a full replay into every model, in the same run.
fn replay_against_scan(store: &Store) -> govrec_projections::Models {
    let records = store.head().next_seq;
    let raw = time(|| store.for_each_record(|_| Ok(())).expect("scan"));
    let raw_rate = records as f64 / raw.as_secs_f64();
    println!(
        "decode-only scan of the store:        {:>8.3} s = {raw_rate:>10.0} events/s",
        raw.as_secs_f64()
    );
    let (models, report) = replay_all(store, |_| {}).expect("replay");
    println!(
        "full replay into all models:         {:>8.3} s = {:>10.0} events/s ({:.0}% of the scan)",
        report.seconds,
        report.events_per_second,
        100.0 * report.events_per_second / raw_rate
    );
    println!("  {report}");
    models
}

/// What a server does once the log exists: restart from the snapshot, queries, `as_of`.
/// `counties`: the generated ones; `None` reads them from the models.
fn serve(store: &Store, snapshots: &std::path::Path, generated: u64, counties: Option<&[Uuid]>) {
    let config = HostConfig::default();
    let started = Instant::now();
    let snapshot_store =
        govrec_projections::snapshot::SnapshotStore::open(snapshots).expect("open snapshots");
    let opening = started.elapsed();
    let loaded = snapshot_store.load_at_or_before(store, generated).expect("load");
    println!(
        "  restart parts: open the snapshot database {:.0} ms, read + check + decode the snapshot {:.0} ms",
        opening.as_secs_f64() * 1e3,
        (started.elapsed() - opening).as_secs_f64() * 1e3
    );
    drop((loaded, snapshot_store));
    let started = Instant::now();
    let (host, opened) = ModelHost::open(store, Some(snapshots), config.clone()).expect("restart");
    println!(
        "restart from the snapshot ({} records in it, {} replayed): {:.3} s",
        opened.snapshot_records,
        opened.records_replayed,
        started.elapsed().as_secs_f64()
    );
    warm(&host, store);

    let counties: Vec<Uuid> = match counties {
        Some(counties) => counties.to_vec(),
        None => {
            let province = host
                .models()
                .coverage(None, &ReadScope::AllCounties)
                .expect("coverage");
            province.children.iter().map(|child| child.area.id).collect()
        }
    };
    coverage_queries(&host, &counties);
    as_of_queries(
        &host,
        store,
        generated,
        config.snapshot_interval_records,
        &counties,
    );
    ledger_queries(&host, &counties);
    println!(
        "peak RSS while serving (store open, restart from the snapshot, queries, as_of): {} MiB",
        rss_kib("VmHWM:") / 1024
    );
    println!("load average at the end: {}", load_average());
}

/// Returns freed memory to the system and resets the peak RSS, so the serving phase (what a
/// server process does) is measured apart from the benchmark's own setup, whose freed
/// replays the allocator would otherwise keep counting.
fn start_serving_phase() {
    govrec_alloc::release_freed_memory();
    // "5" resets VmHWM to the current RSS (proc(5), /proc/pid/clear_refs).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The 1-minute load average: figures taken on a busy machine are not comparable.
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().next().unwrap_or("?").to_owned()
}

/// Decoding and applying measured apart, on one thread: where replay time goes.
fn phases(store: &Store, generated: u64) {
    let mut models = govrec_projections::Models::new();
    let (mut decoding, mut applying) = (Duration::ZERO, Duration::ZERO);
    let mut next = 0;
    while next < generated {
        let started = Instant::now();
        let records = store.read_range(next, 4096).expect("read");
        decoding += started.elapsed();
        let started = Instant::now();
        for record in &records {
            models.apply(record).expect("apply");
        }
        applying += started.elapsed();
        next += records.len() as u64;
    }
    println!(
        "  one thread, measured apart: decoding {:.3} s, applying {:.3} s ({:.0} events/s)",
        decoding.as_secs_f64(),
        applying.as_secs_f64(),
        generated as f64 / applying.as_secs_f64()
    );
}

fn snapshot_costs(models: &govrec_projections::Models) {
    let started = Instant::now();
    let bytes = govrec_projections::snapshot::encode(models);
    let encoding = started.elapsed();
    let started = Instant::now();
    let (decoded, parts) = govrec_projections::snapshot::decode_timed(&bytes).expect("decode");
    let decoding = started.elapsed();
    drop(decoded);
    println!(
        "snapshot of the models: {:.1} MiB, encode {:.0} ms, decode {:.0} ms (checksum {:.0}, postcard {:.0}, index {:.0})",
        bytes.len() as f64 / 1048576.0,
        encoding.as_secs_f64() * 1e3,
        decoding.as_secs_f64() * 1e3,
        parts[0].as_secs_f64() * 1e3,
        parts[1].as_secs_f64() * 1e3,
        parts[2].as_secs_f64() * 1e3
    );
}

fn time<T>(work: impl FnOnce() -> T) -> Duration {
    let started = Instant::now();
    std::hint::black_box(work());
    started.elapsed()
}

fn coverage_queries(host: &ModelHost, counties: &[Uuid]) {
    let models = host.models();
    let mut slowest = Duration::ZERO;
    let started = Instant::now();
    for n in 0..COVERAGE_QUERIES {
        let county = counties[n % counties.len()];
        let one = time(|| {
            models
                .coverage(Some(county), &ReadScope::AllCounties)
                .expect("coverage")
        });
        slowest = slowest.max(one);
    }
    let mean = started.elapsed() / COVERAGE_QUERIES as u32;
    println!(
        "county coverage query (with children): mean {:.3} ms, slowest {:.3} ms over {COVERAGE_QUERIES}",
        mean.as_secs_f64() * 1e3,
        slowest.as_secs_f64() * 1e3
    );
    let whole = time(|| models.coverage(None, &ReadScope::AllCounties).expect("coverage"));
    println!(
        "whole-province coverage query: {:.3} ms",
        whole.as_secs_f64() * 1e3
    );
}

fn as_of_queries(host: &ModelHost, store: &Store, generated: u64, interval: u64, counties: &[Uuid]) {
    let mut times = Vec::new();
    // The worst case of each point: the record just before a snapshot point, so the answer
    // replays all but one record of an interval; spread from the first interval to the last.
    let last_interval = (generated.saturating_sub(2) / interval).saturating_sub(1);
    for n in 0..AS_OF_QUERIES as u64 {
        let snapshot_point = last_interval * n / (AS_OF_QUERIES as u64 - 1);
        let seq = ((snapshot_point + 1) * interval)
            .saturating_sub(2)
            .min(generated - 2);
        let started = Instant::now();
        let models = host.models_as_of(store, AsOfPoint::Seq(seq)).expect("as_of");
        models
            .coverage(Some(counties[0]), &ReadScope::AllCounties)
            .expect("coverage");
        times.push((seq, started.elapsed()));
    }
    let described: Vec<String> = times
        .iter()
        .map(|(seq, time)| format!("seq {seq}: {:.0} ms", time.as_secs_f64() * 1e3))
        .collect();
    println!(
        "as_of query, worst case (snapshot point + replay of all but one record of an interval + county coverage): {}",
        described.join(", ")
    );
    let last = store.get(generated / 2).expect("read").expect("a record");
    let started = Instant::now();
    host.models_as_of(store, AsOfPoint::Time(last.recorded_at))
        .expect("as_of time");
    println!(
        "as_of a time (binary search + replay): {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
}

/// What the server does after a start: [`ModelHost::warm_as_of`], timed.
fn warm(host: &ModelHost, store: &Store) {
    let started = Instant::now();
    let warmed = host.warm_as_of(store).expect("warm as_of");
    println!(
        "as_of warm-up after the start (in the background in the server): {:.0} ms, {}",
        started.elapsed().as_secs_f64() * 1e3,
        if warmed {
            "a snapshot point cached"
        } else {
            "nothing to cache"
        }
    );
}

/// The worst `as_of` of the last two intervals, `repeats` times in turn (each misses the cache
/// of one answer): for profiling, `replay-bench EVENTS DIR as-of [REPEATS] [cold]` on a kept
/// store (`cold`: without the warm-up the server does after a start).
fn as_of_repeated(store: &Store, snapshots: &std::path::Path, repeats: usize, cold: bool) {
    let config = HostConfig::default();
    let interval = config.snapshot_interval_records;
    let (host, _) = ModelHost::open(store, Some(snapshots), config).expect("restart");
    if !cold {
        warm(&host, store);
    }
    let generated = store.head().next_seq;
    let last = (generated.saturating_sub(2) / interval).max(2);
    let seqs = [last * interval - 2, (last - 1) * interval - 2];
    let mut times = Vec::new();
    for n in 0..repeats {
        let seq = seqs[n % 2];
        let started = Instant::now();
        drop(host.models_as_of(store, AsOfPoint::Seq(seq)).expect("as_of"));
        times.push(format!("{seq}: {:.0} ms", started.elapsed().as_secs_f64() * 1e3));
    }
    println!(
        "as_of, worst case of the last two intervals in turn: {}",
        times.join(", ")
    );
}

fn ledger_queries(host: &ModelHost, counties: &[Uuid]) {
    let models = host.models();
    let county = Some(counties[0]);
    let scope = ReadScope::AllCounties;
    let page = Page::default();
    let members = time(|| models.members_ledger(county, &scope, &page).expect("members"));
    let complaints = time(|| {
        let view = govrec_projections::ComplaintsView::All;
        models
            .complaints_ledger(county, &scope, view, None, &page)
            .expect("complaints")
    });
    let scores = time(|| models.scores("2026", county, None, &scope).expect("scores"));
    println!(
        "county ledgers, first page: members {:.1} ms, complaints {:.1} ms; county scores {:.1} ms",
        members.as_secs_f64() * 1e3,
        complaints.as_secs_f64() * 1e3,
        scores.as_secs_f64() * 1e3
    );
}

/// A size of this process from `/proc/self/status`, in KiB: `VmHWM:` (peak resident set) or
/// `VmRSS:` (resident now).
fn rss_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Appends the generated province to `store` (`generator::generate`), stopping on a rejection.
fn fill(store: &Store, events: u64) -> generator::Province {
    generator::generate(events, store.head().next_seq, &mut |batch| {
        if let Err(error) = store.append("bench-recorder", batch) {
            panic!("the generator made an invalid event: {error}");
        }
    })
}
