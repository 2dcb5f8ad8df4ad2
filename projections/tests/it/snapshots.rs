//! Snapshots are a cache: a damaged, stale or foreign one is detected, discarded and the
//! models rebuilt from the log; a good one spares the replay.

use std::path::Path;

use govrec_projections::snapshot::{self, SnapshotStore};
use govrec_projections::{HostConfig, ModelHost};
use serde_json::json;

use crate::scenario;
use crate::support::{id, models_of, store_with, LogBuilder};

fn config() -> HostConfig {
    HostConfig {
        snapshot_interval_records: 25,
        ..HostConfig::default()
    }
}

/// Rewrites the newest snapshot of the current generation with `damage` applied.
fn damage_newest(dir: &Path, damage: impl FnOnce(&mut Vec<u8>)) {
    let snapshots = SnapshotStore::open(dir).expect("open snapshots");
    let tree = snapshots.snapshots_tree();
    let (last_key, _) = tree.last().expect("read").expect("a snapshot");
    let first_chunk = [&last_key[..16], &0u32.to_be_bytes()].concat();
    let mut bytes = tree.get(&first_chunk).expect("read").expect("chunk 0").to_vec();
    damage(&mut bytes);
    tree.insert(first_chunk, bytes).expect("write");
    tree.flush().expect("flush");
}

#[test]
fn a_good_snapshot_spares_the_replay() {
    let log = scenario::build();
    let (dir, store) = store_with(log.records());
    let snapshots = dir.path().join("models");
    drop(ModelHost::open(&store, Some(&snapshots), config()).expect("first open"));
    let (host, opened) = ModelHost::open(&store, Some(&snapshots), config()).expect("second open");
    assert_eq!(opened.snapshot_records, log.records().len() as u64, "{opened:?}");
    assert_eq!((opened.records_replayed, opened.snapshots_discarded), (0, 0));
    assert_eq!(
        snapshot::encode(&host.models()),
        snapshot::encode(&models_of(log.records()))
    );
}

#[test]
fn a_corrupted_snapshot_is_discarded_and_rebuilt() {
    let log = scenario::build();
    let (dir, store) = store_with(log.records());
    let snapshots = dir.path().join("models");
    drop(ModelHost::open(&store, Some(&snapshots), config()).expect("first open"));
    damage_newest(&snapshots, |bytes| {
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x40;
    });
    let (host, opened) = ModelHost::open(&store, Some(&snapshots), config()).expect("reopen");
    assert_eq!(opened.snapshots_discarded, 1);
    assert_eq!(
        opened.snapshot_records, 75,
        "falls back to the snapshot point at 75 records"
    );
    assert_eq!(opened.records_replayed, log.records().len() as u64 - 75);
    assert_eq!(
        snapshot::encode(&host.models()),
        snapshot::encode(&models_of(log.records()))
    );
}

#[test]
fn a_snapshot_of_another_format_version_is_discarded() {
    let log = scenario::build();
    let (dir, store) = store_with(log.records());
    let snapshots = dir.path().join("models");
    drop(ModelHost::open(&store, Some(&snapshots), config()).expect("first open"));
    damage_newest(&snapshots, |bytes| {
        bytes[4..8].copy_from_slice(&99u32.to_be_bytes())
    });
    let (_, opened) = ModelHost::open(&store, Some(&snapshots), config()).expect("reopen");
    assert_eq!(opened.snapshots_discarded, 1);
    assert!(snapshot::decode(&snapshot::encode(&models_of(log.records()))).is_ok());
}

/// Snapshots made from one log are not trusted for another whose record at the watermark has
/// a different hash (a restore from another backup, a log rebuilt elsewhere).
#[test]
fn a_stale_snapshot_from_another_log_is_discarded_and_rebuilt() {
    let log = scenario::build();
    let models_dir = tempfile::tempdir().expect("temp dir");
    {
        let (_dir, store) = store_with(log.records());
        drop(ModelHost::open(&store, Some(models_dir.path()), config()).expect("open"));
    }
    let mut other = LogBuilder::new();
    other.push(json!({"type": "AreaRegistered", "area_id": id("X"), "kind": "county", "name": "另一个县"}));
    for n in 0..99 {
        other.push(
            json!({"type": "AreaRegistered", "area_id": id(&format!("X{n}")), "kind": "town",
            "name": format!("镇{n}"), "parent_id": id("X")}),
        );
    }
    let (_dir, store) = store_with(other.records());
    let (host, opened) = ModelHost::open(&store, Some(models_dir.path()), config()).expect("reopen");
    assert!(opened.snapshots_discarded >= 1);
    assert_eq!(opened.snapshot_records, 0);
    assert_eq!(opened.records_replayed, 100);
    assert_eq!(
        snapshot::encode(&host.models()),
        snapshot::encode(&models_of(other.records()))
    );
}

/// A snapshot beyond the log's end (the log was restored from an older backup) is not used.
#[test]
fn a_snapshot_ahead_of_the_log_is_not_used() {
    let log = scenario::build();
    let models_dir = tempfile::tempdir().expect("temp dir");
    {
        let (_dir, store) = store_with(log.records());
        drop(ModelHost::open(&store, Some(models_dir.path()), config()).expect("open"));
    }
    let (_dir, store) = store_with(&log.records()[..60]);
    let (host, opened) = ModelHost::open(&store, Some(models_dir.path()), config()).expect("reopen");
    assert_eq!(opened.snapshot_records, 50);
    assert_eq!(
        snapshot::encode(&host.models()),
        snapshot::encode(&models_of(&log.records()[..60]))
    );
}

#[test]
fn garbage_never_decodes() {
    assert!(snapshot::decode(b"").is_err());
    assert!(snapshot::decode(b"GRMS\0\0\0\x01 too short").is_err());
    let mut truncated = snapshot::encode(&models_of(scenario::build().records()));
    truncated.truncate(truncated.len() - 1);
    assert!(snapshot::decode(&truncated).is_err());
}

/// A snapshot larger than one sled value (compressed) is split into chunks and read back whole.
#[test]
fn a_snapshot_of_several_chunks_round_trips() {
    let mut log = LogBuilder::new();
    log.push(json!({"type": "AreaRegistered", "area_id": id("Y"), "kind": "county", "name": "大县"}));
    for n in 0..12_000 {
        log.push(
            json!({"type": "AreaRegistered", "area_id": id(&format!("Y{n}")), "kind": "town",
            "name": format!("第{n}个镇"), "parent_id": id("Y")}),
        );
    }
    let encoded = snapshot::encode(&models_of(log.records()));
    assert!(
        encoded.len() > 3 * snapshot::SNAPSHOT_CHUNK_BYTES,
        "{} bytes",
        encoded.len()
    );
    let (dir, store) = store_with(log.records());
    let snapshots = dir.path().join("models");
    drop(ModelHost::open(&store, Some(&snapshots), config()).expect("first open"));
    let (host, opened) = ModelHost::open(&store, Some(&snapshots), config()).expect("second open");
    assert_eq!((opened.snapshot_records, opened.snapshots_discarded), (12_001, 0));
    assert_eq!(snapshot::encode(&host.models()), encoded);
    drop(host);

    // A chunk cut short, then one missing: each snapshot is discarded, and the models rebuilt.
    for damage in ["short", "missing"] {
        let snapshots_db = SnapshotStore::open(&snapshots).expect("open snapshots");
        let tree = snapshots_db.snapshots_tree();
        let (last_key, _) = tree.last().expect("read").expect("a snapshot");
        let second_chunk = [&last_key[..16], &1u32.to_be_bytes()].concat();
        match damage {
            "short" => {
                let bytes = tree.get(&second_chunk).expect("read").expect("chunk 1");
                tree.insert(&second_chunk, &bytes[..bytes.len() - 1])
                    .expect("write");
            }
            _ => {
                tree.remove(&second_chunk).expect("remove");
            }
        }
        tree.flush().expect("flush");
        drop(snapshots_db);
        let (host, opened) = ModelHost::open(&store, Some(&snapshots), config()).expect("reopen");
        assert!(opened.snapshots_discarded >= 1, "{damage}: {opened:?}");
        assert_eq!(snapshot::encode(&host.models()), encoded, "{damage}");
    }
}

/// `govrec replay` rebuilds the snapshots from the log: a damaged one is simply replaced, and
/// a later start restores from the fresh snapshot without replaying.
#[test]
fn replay_into_snapshots_replaces_every_snapshot() {
    let log = scenario::build();
    let (dir, store) = store_with(log.records());
    let snapshots = dir.path().join("models");
    drop(ModelHost::open(&store, Some(&snapshots), config()).expect("first open"));
    damage_newest(&snapshots, |bytes| bytes[50] ^= 1);
    let mut last_progress = None;
    let report = govrec_projections::replay_into_snapshots(&store, &snapshots, &config(), |progress| {
        last_progress = Some(progress)
    })
    .expect("replay");
    assert_eq!(report.records, log.records().len() as u64);
    let progress = last_progress.expect("progress reported");
    assert_eq!(progress.records_done, progress.records_total);
    let (host, opened) = ModelHost::open(&store, Some(&snapshots), config()).expect("open");
    assert_eq!(
        (
            opened.snapshot_records,
            opened.records_replayed,
            opened.snapshots_discarded
        ),
        (95, 0, 0)
    );
    assert_eq!(
        snapshot::encode(&host.models()),
        snapshot::encode(&models_of(log.records()))
    );
}

/// An `as_of` whose newest snapshot point turns out damaged replays from the earlier one instead.
#[test]
fn an_as_of_whose_snapshot_point_is_damaged_replays_from_an_earlier_one() {
    let log = scenario::build();
    assert!(
        log.records().len() > 75,
        "the scenario spans three snapshot points"
    );
    let (dir, store) = store_with(log.records());
    let snapshots = dir.path().join("models");
    drop(ModelHost::open(&store, Some(&snapshots), config()).expect("open"));
    {
        let snapshots = SnapshotStore::open(&snapshots).expect("open snapshots");
        let tree = snapshots.snapshots_tree();
        let key = tree
            .iter()
            .keys()
            .map(|key| key.expect("read"))
            .find(|key| key[8..16] == 50u64.to_be_bytes() && key[16..20] == [0; 4])
            .expect("the snapshot point at 50");
        let mut bytes = tree.get(&key).expect("read").expect("chunk 0").to_vec();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x40;
        tree.insert(key, bytes).expect("write");
        tree.flush().expect("flush");
    }
    let (host, _) = ModelHost::open(&store, Some(&snapshots), config()).expect("reopen");
    let as_of = host
        .models_as_of(&store, govrec_projections::AsOfPoint::Seq(60))
        .expect("as_of");
    assert_eq!(
        snapshot::encode(&as_of),
        snapshot::encode(&models_of(&log.records()[..61]))
    );
}

/// A kill while sled wrote its own snapshot during an open leaves `snap.*.generating`, which
/// sled 0.34.7 would read back as its newest snapshot and refuse to open with `Corruption`.
#[test]
fn a_sled_snapshot_torn_by_a_kill_does_not_block_the_models_database() {
    let log = scenario::build();
    let (dir, store) = store_with(log.records());
    let snapshots = dir.path().join("models");
    drop(ModelHost::open(&store, Some(&snapshots), config()).expect("first open"));
    let torn = snapshots.join("snap.7FFFFFFFFFFFFFFF.generating");
    std::fs::write(&torn, b"the first half of a snapshot, then SIGKILL").unwrap();
    let (_host, opened) = ModelHost::open(&store, Some(&snapshots), config()).expect("second open");
    assert_eq!(opened.snapshot_records, log.records().len() as u64, "{opened:?}");
    assert_eq!((opened.records_replayed, opened.snapshots_discarded), (0, 0));
    assert!(!torn.exists());
}

/// A snapshot database sled refuses as damaged is a lost cache, not a reason to stay down:
/// it is created anew and the models rebuilt from the log.
#[test]
fn a_snapshot_database_sled_finds_damaged_is_recreated_and_the_models_rebuilt() {
    let log = scenario::build();
    let (dir, store) = store_with(log.records());
    let snapshots = dir.path().join("models");
    drop(ModelHost::open(&store, Some(&snapshots), config()).expect("first open"));
    // A committed sled snapshot (not `.generating`) that is torn: sled answers `Corruption`.
    std::fs::write(snapshots.join("snap.7FFFFFFFFFFFFFFF"), b"torn").unwrap();
    // (sled lets go of its lock from a background thread a moment after the drop: on a busy
    // machine the first attempts may find it still held.)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let opened = loop {
        let opened = sled::Config::new()
            .path(&snapshots)
            .segment_size(8 * 1024 * 1024)
            .open();
        match &opened {
            Err(sled::Error::Io(error))
                if error.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            _ => break opened,
        }
    };
    match opened {
        Err(sled::Error::Corruption { .. }) => {}
        other => panic!("sled itself should refuse it: {:?}", other.map(|_| ())),
    }
    let (host, opened) = ModelHost::open(&store, Some(&snapshots), config()).expect("second open");
    assert_eq!(opened.snapshot_records, 0, "{opened:?}");
    assert_eq!(opened.records_replayed, log.records().len() as u64);
    assert_eq!(
        snapshot::encode(&host.models()),
        snapshot::encode(&models_of(log.records()))
    );
    assert!(!snapshots.join("snap.7FFFFFFFFFFFFFFF").exists());
}

/// A snapshot point decoded into the models of an earlier `as_of` answer (to reuse their memory)
/// equals one decoded into empty models, whether those held more entities than it or fewer,
/// and answers the same.
#[test]
fn decoding_into_other_models_equals_a_fresh_decode() {
    let log = scenario::build();
    let records = log.records();
    let early = snapshot::encode(&models_of(&records[..records.len() / 3]));
    let late = snapshot::encode(&models_of(records));
    for (bytes, into) in [(&early, &late), (&late, &early), (&late, &late)] {
        let fresh = snapshot::decode(bytes).unwrap();
        let reused = snapshot::decode_into(bytes, snapshot::decode(into).unwrap()).unwrap();
        assert_eq!(snapshot::encode(&reused), snapshot::encode(&fresh));
        let scope = govrec_projections::ReadScope::AllCounties;
        assert_eq!(
            serde_json::to_value(reused.coverage(None, &scope).unwrap()).unwrap(),
            serde_json::to_value(fresh.coverage(None, &scope).unwrap()).unwrap()
        );
    }
}
