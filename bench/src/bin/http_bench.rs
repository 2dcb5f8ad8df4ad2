//! HTTP load benchmark: the release server (router + store, in this process) on a loopback
//! port, and a load generator of keep-alive HTTP/1.1 connections sharing the same 2 cores.
//! Prints throughput and p50/p99 latency per scenario, and the store's own durable rate
//! measured in the same run. Asserts nothing.
//!
//! `cargo run --release -p govrec-bench --bin http-bench -- [SECONDS_PER_SCENARIO [ONLY]]`
//!
//! ONLY (`reads`, `singles`, `batches` or `store`) runs one group of scenarios, e.g. under a
//! profiler.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use govrec_server::auth::{create_token, Role, Scope};
use govrec_store::{NewEvent, Store, StoreConfig};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

govrec_alloc::use_jemalloc!();

fn main() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .map_or(5, |s| s.parse().expect("SECONDS is a number"));
    let only = std::env::args().nth(2);
    if let Some(only) = &only {
        assert!(
            ["reads", "singles", "batches", "store"].contains(&only.as_str()),
            "ONLY is reads, singles, batches or store"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(Duration::from_secs(seconds), only));
}

async fn run(duration: Duration, only: Option<String>) {
    let runs = |group: &str| only.as_deref().is_none_or(|only| only == group);
    let dir = tempfile::tempdir_in(".").expect("scratch dir");
    let token = create_token(dir.path(), Role::Admin, Scope::All, "bench").expect("token");
    let store = Arc::new(Store::open(&dir.path().join("log"), StoreConfig::default()).expect("store"));
    let demo = govrec_demo::load_demo(&store, "demo").expect("the demo data set loads");
    let county = demo
        .counties
        .iter()
        .find(|c| c.name == "灵丘县")
        .map_or(demo.counties[0].id, |c| c.id);
    let compound = demo.tianhe_yiju;
    let state =
        govrec_server::state_for(store.clone(), dir.path(), govrec_server::Limits::default()).expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move { axum::serve(listener, govrec_server::router(state)).await });
    println!(
        "govrec HTTP benchmark on the demo data set ({} records); server and load generator share {} cores",
        demo.records,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    // Reads first, on the demo data as loaded.
    let head = store.head().next_seq;
    let reads: [(&str, String); 7] = [
        // The ceiling: what HTTP alone costs on this machine (hyper, the kernel's loopback, the
        // load generator), against which every other figure is to be read.
        (
            "ceiling: /healthz (no work behind it), 64 clients",
            "/healthz".to_owned(),
        ),
        (
            "county coverage reads, 64 clients",
            format!("/v1/coverage?area={county}"),
        ),
        (
            "member ledger pages (limit 100), 64 clients",
            format!("/v1/ledgers/members?area={county}&limit=100"),
        ),
        (
            "complaint ledger pages (limit 100), 64 clients",
            format!("/v1/ledgers/complaints?area={county}&limit=100"),
        ),
        (
            "score reads (a county, 2026), 64 clients",
            format!("/v1/scores?period=2026&area={county}"),
        ),
        (
            "log pages (limit 100), 64 clients",
            format!("/v1/events?after={}&limit=100", head / 2),
        ),
        ("one-record reads, 64 clients", format!("/v1/events/{}", head / 3)),
    ];
    for (name, path) in reads.into_iter().filter(|_| runs("reads")) {
        let outcome = scenario(port, &token, 64, duration, "GET", move || {
            (path.clone(), String::new())
        })
        .await;
        report(name, 1, outcome);
    }

    let counter = Arc::new(AtomicU64::new(0));
    let single = {
        let counter = counter.clone();
        move || ("/v1/events".to_owned(), complaints(&counter, compound, 1))
    };
    if runs("singles") {
        report(
            "single-event appends, 64 clients",
            1,
            scenario(port, &token, 64, duration, "POST", single).await,
        );
    }
    let batch = {
        let counter = counter.clone();
        move || ("/v1/events".to_owned(), complaints(&counter, compound, 100))
    };
    if runs("batches") {
        // 16 clients wait on the disk (a sync carries 6–7 batches); 64 keep both cores busy.
        for clients in [16, 64] {
            report(
                &format!("appends in batches of 100, {clients} clients"),
                100,
                scenario(port, &token, clients, duration, "POST", batch.clone()).await,
            );
        }
    }

    if runs("store") {
        let rate = store_direct(&store, &counter, compound, duration).await;
        println!("store alone, 64 concurrent single-event appenders (same run): {rate:.0} events/s");
    }
}

/// A request body of `count` complaints filed in `compound`, each with a fresh id. Written
/// from a template rather than built as a JSON value: the load generator shares the two cores
/// with the server, and building 100 events through `json!` took a fifth of all CPU in the
/// batch scenario (profile of 2026-11-27).
fn complaints(counter: &AtomicU64, compound: uuid::Uuid, count: u64) -> String {
    let mut body = String::with_capacity(64 + count as usize * 400);
    body.push_str("{\"events\":[");
    for i in 0..count {
        let n = counter.fetch_add(1, Ordering::Relaxed);
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            "{{\"type\":\"ComplaintFiled\",\"complaint_id\":\"0193a1b2-c3d4-7e5f-9a9b-{n:012x}\",\"area_id\":\"{compound}\",\
             \"category\":\"repair\",\"summary\":\"3号楼2单元楼道灯损坏已一周，老人夜间上下楼不便，请尽快维修。\",\
             \"channel\":\"hotline\",\"resident_ref\":\"居民-2026-0417\"}}"
        ));
    }
    body.push_str("]}");
    body
}

struct Outcome {
    latencies: Vec<Duration>,
    elapsed: Duration,
    failures: u64,
}

async fn scenario(
    port: u16,
    token: &str,
    clients: usize,
    duration: Duration,
    method: &'static str,
    make: impl Fn() -> (String, String) + Send + Sync + Clone + 'static,
) -> Outcome {
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let token = token.to_owned();
            let make = make.clone();
            tokio::spawn(async move {
                let mut connection = Connection::open(port).await;
                let mut latencies = Vec::new();
                let mut failures = 0;
                while Instant::now() < deadline {
                    let (path, body) = make();
                    let one = Instant::now();
                    let (status, _) = connection.request(method, &path, &token, &body).await;
                    latencies.push(one.elapsed());
                    if !(200..300).contains(&status) {
                        failures += 1;
                    }
                }
                (latencies, failures)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut failures = 0;
    for task in tasks {
        let (l, f) = task.await.expect("client");
        latencies.extend(l);
        failures += f;
    }
    Outcome {
        latencies,
        elapsed: started.elapsed(),
        failures,
    }
}

fn report(name: &str, events_per_request: u64, mut outcome: Outcome) {
    outcome.latencies.sort();
    let n = outcome.latencies.len();
    let percentile = |p: f64| outcome.latencies[((n as f64 * p) as usize).min(n - 1)].as_secs_f64() * 1e3;
    let rate = n as f64 / outcome.elapsed.as_secs_f64();
    let events = if events_per_request > 1 {
        format!(" = {:.0} events/s", rate * events_per_request as f64)
    } else {
        String::new()
    };
    println!(
        "{name}: {rate:.0} requests/s{events}  p50 {:.2} ms  p99 {:.2} ms  ({} requests, {} failed)",
        percentile(0.5),
        percentile(0.99),
        n,
        outcome.failures
    );
}

async fn store_direct(
    store: &Arc<Store>,
    counter: &Arc<AtomicU64>,
    compound: uuid::Uuid,
    duration: Duration,
) -> f64 {
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let store = store.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut done = 0u64;
                while Instant::now() < deadline {
                    let text = complaints(&counter, compound, 1);
                    let value: serde_json::Value = serde_json::from_str(&text).expect("json");
                    let event = govrec_store::new_event_from_json(value["events"][0].clone()).expect("event");
                    let pending = store
                        .append_nonblocking(
                            "bench",
                            govrec_store::CountyScope::Everywhere,
                            vec![NewEvent { ..event }],
                        )
                        .expect("queue");
                    pending.await.expect("writer").expect("append");
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.expect("task");
    }
    total as f64 / started.elapsed().as_secs_f64()
}

/// A keep-alive HTTP/1.1 connection.
struct Connection {
    reader: BufReader<TcpStream>,
}

impl Connection {
    async fn open(port: u16) -> Connection {
        let stream = TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Connection {
            reader: BufReader::new(stream),
        }
    }

    async fn request(&mut self, method: &str, path: &str, token: &str, body: &str) -> (u16, Vec<u8>) {
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.reader
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .expect("write");
        let mut status_line = String::new();
        self.reader.read_line(&mut status_line).await.expect("status");
        let status: u16 = status_line
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let mut length = 0;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).await.expect("header");
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().expect("content-length");
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).await.expect("body");
        (status, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The template writes the same JSON the benchmark used to build as a value.
    #[test]
    fn the_complaint_template_is_the_json_it_stands_for() {
        let compound = uuid::Uuid::from_u128(7);
        let body: serde_json::Value =
            serde_json::from_str(&complaints(&AtomicU64::new(5), compound, 2)).expect("valid JSON");
        let event = |n: u64| {
            serde_json::json!({"type": "ComplaintFiled", "complaint_id": format!("0193a1b2-c3d4-7e5f-9a9b-{n:012x}"),
                "area_id": compound, "category": "repair",
                "summary": "3号楼2单元楼道灯损坏已一周，老人夜间上下楼不便，请尽快维修。", "channel": "hotline",
                "resident_ref": "居民-2026-0417"})
        };
        assert_eq!(body, serde_json::json!({"events": [event(5), event(6)]}));
    }
}
