//! An erased name stays erased through a kill at any point of the rebuild a redaction starts.
//!
//! Each round a child process (this test binary, re-run as `child`) enrols a member with a
//! name of the round, saves a snapshot of the read models that holds it, redacts the name over
//! `POST /v1/admin/redact` and is killed (SIGKILL) a random 0–60 ms after the answer, while the
//! read models are rebuilt in the background. A second child then opens the data directory
//! (which finishes the redaction's rebuild) and stops cleanly. After every round the parent
//! checks, for every name erased so far:
//! - no file of the data directory holds it in the clear;
//! - every snapshot key that survives belongs to a live snapshot of the current generation, so
//!   no key is left that could open old bytes in sled's files;
//! - every live snapshot, opened with its key, holds none of the names.
//!
//! Rounds: `GOVREC_REDACTION_CRASH_ROUNDS` (default 30).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use govrec_projections::snapshot::{SnapshotStore, REDACTION_PENDING, SNAPSHOT_KEYS_DIR};
use govrec_projections::{HostConfig, Page, ReadScope, PAGE_ROWS_MAX};
use govrec_server::auth::{create_token, Role, Scope};
use govrec_store::{NewEvent, Store, StoreConfig};
use govrec_tests::{hierarchy, resident_member, uuid_of};
use tower::ServiceExt;

/// Members enrolled before the first round, so a rebuild takes a while.
const MEMBERS_AT_START: u64 = 1_500;
const KILL_DELAY_MAX_MS: u64 = 60;

fn host_config() -> HostConfig {
    HostConfig {
        snapshot_interval_records: 40,
        ..HostConfig::default()
    }
}

fn erased_name(round: u64) -> String {
    format!("抹除之名-{round}-e7c1")
}

fn open_store(data: &Path) -> Arc<Store> {
    Arc::new(Store::open(&data.join("log"), StoreConfig::default()).expect("open store"))
}

/// The child's side: `mode` is `redact` (one round, then wait to be killed) or `recover`.
#[test]
fn child() {
    let Ok(spec) = std::env::var("GOVREC_REDACTION_CHILD") else {
        return; // Run by the harness, not by the parent: nothing to do.
    };
    let mut parts = spec.splitn(3, ':');
    let (mode, round, data) = (
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().parse::<u64>().unwrap(),
        PathBuf::from(parts.next().unwrap()),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let store = open_store(&data);
        let state = govrec_server::state_with_host(
            store.clone(),
            &data,
            govrec_server::Limits::default(),
            host_config(),
        )
        .expect("state");
        if mode == "recover" {
            // Opening finished any rebuild a kill cut short; leave a snapshot and stop.
            state.models.catch_up(&store).unwrap();
            state.models.save_snapshot().unwrap();
            store.shutdown().unwrap();
            return;
        }
        if store.head().next_seq == 0 {
            store.append("setup", hierarchy(0)).unwrap();
            for batch in 0..MEMBERS_AT_START / 100 {
                let members = (0..100)
                    .map(|n| {
                        let k = 10_000 + batch * 100 + n;
                        NewEvent::new(resident_member(uuid_of(k), &format!("居民{k}"), uuid_of(3)))
                    })
                    .collect();
                store.append("setup", members).unwrap();
            }
        }
        let member = uuid_of(1_000_000 + round);
        let appended = store
            .append(
                "setup",
                vec![NewEvent::new(resident_member(
                    member,
                    &erased_name(round),
                    uuid_of(3),
                ))],
            )
            .unwrap();
        let target_seq = appended.receipts[0].seq;
        // A snapshot that holds the name, as a server that ran a while would have.
        state.models.catch_up(&store).unwrap();
        state.models.save_snapshot().unwrap();
        let token = create_token(&data, Role::Admin, Scope::All, &format!("admin-{round}")).unwrap();
        let body =
            serde_json::json!({"target_seq": target_seq, "fields": ["name"], "reason": "本人申请删除"});
        let request = Request::post("/v1/admin/redact")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = govrec_server::router(state.clone())
            .oneshot(request)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        println!("REDACTED");
        use std::io::Write;
        std::io::stdout().flush().unwrap();
        // The rebuild runs in the background; the parent kills this process.
        tokio::time::sleep(Duration::from_secs(120)).await;
    });
}

fn spawn_child(mode: &str, round: u64, data: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(
            "GOVREC_REDACTION_CHILD",
            format!("{mode}:{round}:{}", data.display()),
        )
        .env("GOVREC_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child")
}

/// Waits for the child's `REDACTED` line (60 s at most).
fn wait_for_redaction(child: &mut Child) {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("piped");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.trim_end().ends_with("REDACTED") {
                let _ = sender.send(());
            }
        }
    });
    if receiver.recv_timeout(Duration::from_secs(60)).is_err() {
        let _ = child.kill();
        panic!("the child never redacted");
    }
}

/// A small deterministic generator for the kill delays (no clock in the test's outcome).
fn delay_ms(round: u64) -> u64 {
    let mut x = round.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 27;
    x % (KILL_DELAY_MAX_MS + 1)
}

#[test]
fn an_erased_name_survives_no_kill_during_the_redaction_rebuild() {
    if std::env::var("GOVREC_REDACTION_CHILD").is_ok() {
        return;
    }
    let rounds: u64 = std::env::var("GOVREC_REDACTION_CRASH_ROUNDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(30);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let started = Instant::now();
    let mut cut_short = 0;
    for round in 0..rounds {
        let mut child = spawn_child("redact", round, data);
        wait_for_redaction(&mut child);
        std::thread::sleep(Duration::from_millis(delay_ms(round)));
        child.kill().expect("kill the child");
        child.wait().expect("reap the child");
        if data.join("models").join(REDACTION_PENDING).exists() {
            cut_short += 1;
        }
        let status = spawn_child("recover", round, data).wait().expect("recover");
        assert!(status.success(), "round {round}: the recovery failed");
        let erased: Vec<String> = (0..=round).map(erased_name).collect();
        check_nothing_erased_is_readable(data, &erased, round);
    }
    println!(
        "{rounds} rounds, {cut_short} killed before the rebuild finished, {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn check_nothing_erased_is_readable(data: &Path, erased: &[String], round: u64) {
    for name in erased {
        let found = govrec_tests::files_containing(data, name);
        assert!(
            found.is_empty(),
            "round {round}: {name} in the clear in {found:?}"
        );
    }
    let store = open_store(data);
    let snapshots = SnapshotStore::open(&data.join("models")).expect("open snapshots");
    let generation = snapshots.generation().unwrap();
    let live = snapshots.positions(generation).unwrap();
    assert!(!live.is_empty(), "round {round}: no snapshot");
    let mut keys: Vec<String> = std::fs::read_dir(data.join("models").join(SNAPSHOT_KEYS_DIR))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    keys.sort();
    let mut expected: Vec<String> = live.iter().map(|p| format!("{generation}-{p}")).collect();
    expected.sort();
    assert_eq!(keys, expected, "round {round}: a key outlived its snapshot");
    for &position in &live {
        let loaded = snapshots.load_at_or_before(&store, position).unwrap();
        let models = loaded
            .models
            .unwrap_or_else(|| panic!("round {round}: snapshot {position} unusable"));
        assert_eq!(models.next_seq(), position, "round {round}");
        let mut page = Page::first(PAGE_ROWS_MAX);
        loop {
            let ledger = models
                .members_ledger(None, &ReadScope::AllCounties, &page)
                .unwrap();
            let text = serde_json::to_string(&ledger.members).unwrap();
            for name in erased {
                assert!(
                    !text.contains(name.as_str()),
                    "round {round}: {name} in snapshot {position}"
                );
            }
            match ledger.next {
                Some(after) => page.after = Some(after),
                None => break,
            }
        }
    }
    drop(snapshots);
    store.shutdown().unwrap();
}
