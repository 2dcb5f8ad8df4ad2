//! Redaction of personal data (issue 6): after a `Redacted` record, the named fields of its
//! target are gone from every read, every export and every file of the data directory, while
//! the chain, verification, Merkle proofs, checkpoints, replay and re-import still hold.

use std::io::Cursor;
use std::path::Path;

use govrec_projections::{replay_all, Page, ReadScope};
use govrec_store::merkle::{leaf_hash, verify_consistency, verify_inclusion};
use govrec_store::{export_jsonl, import_jsonl, verify_log, NewEvent, Redaction, Store};

use crate::record_format::verify_export_independently;
use crate::support::*;

/// Distinctive texts, so finding (or not finding) their bytes on disk means something.
const SUMMARY: &str = "三号楼漏水-REDACT-SUMMARY-7f3a91";
const RESIDENT: &str = "居民-REDACT-RESIDENT-c0ffee";
const NAME: &str = "王秀英-REDACT-NAME-5e1d";
const KEPT: &str = "二号楼电梯异响-KEPT-SUMMARY-42b8";

const COMPLAINT_SEQ: u64 = 5;
const MEMBER_SEQ: u64 = 6;
const KEPT_SEQ: u64 = 7;

/// A hierarchy (seqs 0..5), a complaint, a member and a second complaint (5, 6, 7).
fn world(store: &Store) {
    store.append("recorder", hierarchy(0)).unwrap();
    let compound = uuid_of(3);
    store
        .append(
            "recorder",
            vec![
                NewEvent::new(complaint(uuid_of(100), compound, SUMMARY, RESIDENT)),
                NewEvent::new(resident_member(uuid_of(101), NAME, compound)),
                NewEvent::new(complaint(uuid_of(102), compound, KEPT, "居民-kept")),
            ],
        )
        .unwrap();
}

/// Redacts the complaint's summary and pseudonym (seq 8) and the member's name (seq 9).
fn redact(store: &Store) {
    let first = store
        .append(
            "admin",
            vec![NewEvent::new(redaction(
                COMPLAINT_SEQ,
                &["summary", "resident_ref"],
            ))],
        )
        .unwrap();
    assert_eq!(first.receipts[0].seq, 8);
    let second = store
        .append("admin", vec![NewEvent::new(redaction(MEMBER_SEQ, &["name"]))])
        .unwrap();
    assert_eq!(second.receipts[0].seq, 9);
}

fn export(store: &Store) -> String {
    let mut out = Vec::new();
    export_jsonl(store.log(), None, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn marker(by_seq: u64, fields: &[&str]) -> Option<Redaction> {
    Some(Redaction {
        by_seq,
        fields: fields.iter().map(|field| field.to_string()).collect(),
    })
}

/// Everything that must hold of a store holding the redacted world.
fn check_redacted(dir: &Path, store: &Store) {
    // Reads serve the marker, without the erased values.
    let complaint_record = store.get(COMPLAINT_SEQ).unwrap().unwrap();
    assert_eq!(
        complaint_record.redaction,
        marker(8, &["summary", "resident_ref"])
    );
    let json = complaint_record.to_json();
    assert!(json.event.get("summary").is_none() && json.event.get("resident_ref").is_none());
    assert_eq!(json.event["complaint_id"], serde_json::json!(uuid_of(100)));
    let member_record = store.get(MEMBER_SEQ).unwrap().unwrap();
    assert_eq!(member_record.redaction, marker(9, &["name"]));
    assert!(member_record.to_json().event.get("name").is_none());
    let kept = store.get(KEPT_SEQ).unwrap().unwrap();
    assert_eq!(kept.redaction, None);
    assert!(kept.to_json_line().contains(KEPT));
    let history = store.entity_history(&uuid_of(100)).unwrap();
    assert_eq!(history[0].redaction, complaint_record.redaction);
    let range = store.read_range(0, 100).unwrap();
    assert_eq!(range[COMPLAINT_SEQ as usize], complaint_record);

    // The export carries the markers, no erased text, and re-checks independently.
    let text = export(store);
    for erased in [SUMMARY, RESIDENT, NAME] {
        assert!(!text.contains(erased), "{erased} is in the export");
    }
    assert!(text.contains(KEPT));
    assert!(text.contains(r#""redaction":{"by_seq":8,"fields":["summary","resident_ref"]}"#));
    assert_eq!(verify_export_independently(&text), 10);

    // The chain verifies.
    assert_chain_intact(store, 10);
    assert!(verify_log(store.log(), 6, Some(7)).unwrap().is_intact());

    // Every inclusion proof, and consistency with the checkpoint from before the redactions.
    let root = store.merkle_root(10).unwrap();
    for seq in 0..10 {
        let record = store.get(seq).unwrap().unwrap();
        let proof = store.inclusion_proof(seq, 10).unwrap();
        verify_inclusion(seq, 10, &leaf_hash(&record.hash), &proof, &root).unwrap();
    }
    let verifier = govrec_store::NoteVerifier::parse(&store.verifier_key()).unwrap();
    let before = verifier
        .verify_checkpoint(&store.checkpoint_at(8).unwrap().expect("checkpoint at 8"))
        .unwrap();
    let proof = store.consistency_proof(8, 10).unwrap();
    verify_consistency(8, 10, &before.root, &root, &proof).unwrap();

    // No byte of the erased texts anywhere in the data directory; the kept text is found
    // (so the search itself works).
    for erased in [SUMMARY, RESIDENT, NAME] {
        assert_eq!(
            files_containing(dir, erased),
            Vec::<std::path::PathBuf>::new(),
            "{erased}"
        );
    }
    assert!(
        !files_containing(dir, KEPT).is_empty(),
        "the kept summary is on disk"
    );
}

#[test]
fn redacted_fields_are_gone_while_chain_proofs_replay_and_import_hold() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    world(&store);
    // Before: the texts are on disk, and models and a checkpoint to compare with later.
    assert!(!files_containing(dir.path(), SUMMARY).is_empty());
    let (models_before, _) = replay_all(&store, |_| {}).unwrap();
    let (size, _) = store.checkpoint_latest().unwrap();
    assert_eq!(size, 8);
    let hashes_before: Vec<_> = (0..8).map(|seq| store.get(seq).unwrap().unwrap().hash).collect();

    redact(&store);
    let hashes_after: Vec<_> = (0..8).map(|seq| store.get(seq).unwrap().unwrap().hash).collect();
    assert_eq!(hashes_before, hashes_after, "hashes never change");
    check_redacted(dir.path(), &store);

    // Replay: the same counts, the member's name null.
    let (models, _) = replay_all(&store, |_| {}).unwrap();
    assert_eq!(models.counts(), models_before.counts());
    let members = models
        .members_ledger(None, &ReadScope::AllCounties, &Page::first(10))
        .unwrap();
    let rows = serde_json::to_value(&members).unwrap();
    assert!(rows.to_string().contains(&uuid_of(101).to_string()));
    assert!(!rows.to_string().contains(NAME));
    assert!(!govrec_projections::snapshot::encode(&models)
        .windows(NAME.len())
        .any(|window| window == NAME.as_bytes()));

    // Restart: the same answers.
    store.close().unwrap();
    let store = open(dir.path());
    check_redacted(dir.path(), &store);
    let (models, _) = replay_all(&store, |_| {}).unwrap();
    assert_eq!(models.counts(), models_before.counts());
    let text = export(&store);

    // Import into a fresh store reproduces it byte for byte; nothing erased reaches its files.
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = open(fresh_dir.path());
    import_jsonl(&fresh, Cursor::new(&text), "importer").unwrap();
    assert_eq!(export(&fresh), text);
    assert!(verify_log(fresh.log(), 0, None).unwrap().is_intact());
    for erased in [SUMMARY, RESIDENT, NAME] {
        assert!(files_containing(fresh_dir.path(), erased).is_empty());
    }
    assert!(!files_containing(fresh_dir.path(), KEPT).is_empty());
    fresh.close().unwrap();
    let fresh = open(fresh_dir.path());
    assert_eq!(export(&fresh), text);

    // Appends go on after a redaction, and a record is redacted once.
    let again = store.append(
        "admin",
        vec![NewEvent::new(redaction(COMPLAINT_SEQ, &["summary"]))],
    );
    assert!(again.is_err(), "a redacted record is not redacted again");
    store
        .append(
            "admin",
            vec![NewEvent::new(redaction(KEPT_SEQ, &["resident_ref"]))],
        )
        .unwrap();
    assert!(store
        .get(KEPT_SEQ)
        .unwrap()
        .unwrap()
        .to_json_line()
        .contains(KEPT));
    assert!(verify_log(store.log(), 0, None).unwrap().is_intact());
}

#[test]
fn a_record_redacted_in_its_own_batch_never_reaches_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.append("recorder", hierarchy(0)).unwrap();
    store
        .append(
            "admin",
            vec![
                NewEvent::new(complaint(uuid_of(100), uuid_of(3), SUMMARY, RESIDENT)),
                NewEvent::new(redaction(5, &["summary"])),
            ],
        )
        .unwrap();
    let record = store.get(5).unwrap().unwrap();
    assert_eq!(record.redaction, marker(6, &["summary"]));
    assert!(!record.to_json_line().contains(SUMMARY));
    assert!(
        record.to_json_line().contains(RESIDENT),
        "only the named field is erased"
    );
    assert!(files_containing(dir.path(), SUMMARY).is_empty());
    assert!(!files_containing(dir.path(), RESIDENT).is_empty());
    assert_eq!(verify_export_independently(&export(&store)), 7);
    assert!(verify_log(store.log(), 0, None).unwrap().is_intact());
}

#[test]
fn forged_or_broken_markers_in_an_export_are_refused() {
    let (_dir, store) = temp_store();
    world(&store);
    redact(&store);
    let text = export(&store);
    let lines: Vec<&str> = text.lines().collect();
    let fresh = |lines: &[String]| {
        let (dir, store) = temp_store();
        let result = import_jsonl(&store, Cursor::new(lines.join("\n") + "\n"), "importer");
        (dir, store, result)
    };
    let owned: Vec<String> = lines.iter().map(|line| line.to_string()).collect();

    // K (7) is not a Redacted event: refused when K arrives, and the chunk holding it (here
    // the whole file) is not stored.
    let mut forged = owned.clone();
    forged[5] = forged[5].replace(r#""by_seq":8"#, r#""by_seq":7"#);
    let (_d, store_a, result) = fresh(&forged);
    let error = result.expect_err("a marker naming the wrong K is refused");
    assert_eq!(error.line, 8, "refused when K arrives: {error}");
    assert_eq!(store_a.head().next_seq, 0, "nothing more was stored");

    // K (9) redacts another record (and is already promised to it).
    let mut forged = owned.clone();
    forged[5] = forged[5].replace(r#""by_seq":8"#, r#""by_seq":9"#);
    let (_d, _s, result) = fresh(&forged);
    assert!(result.is_err());

    // Committed in separate chunks, the check of K still happens when K arrives.
    let (_d, store_b) = temp_store();
    import_jsonl(&store_b, Cursor::new(owned[..7].join("\n")), "importer").unwrap_err();
    assert_eq!(store_b.head().next_seq, 7, "the first part is stored, awaiting K");
    assert_eq!(store_b.unresolved_redactions(), vec![(5, 8), (6, 9)]);
    let mut wrong_k = owned[7..].to_vec();
    wrong_k[1] = wrong_k[1].replace(r#""target_seq":5"#, r#""target_seq":6"#);
    let error = import_jsonl(&store_b, Cursor::new(wrong_k.join("\n")), "importer").unwrap_err();
    assert_eq!(error.line, 2, "{error}");
    assert_eq!(store_b.head().next_seq, 7, "nothing more was stored");
    import_jsonl(&store_b, Cursor::new(owned[7..].join("\n")), "importer").unwrap();
    assert!(store_b.unresolved_redactions().is_empty());
    assert_eq!(export(&store_b), text);

    // Fields that K does not name.
    let mut forged = owned.clone();
    forged[5] = forged[5].replace(r#"["summary","resident_ref"]"#, r#"["summary"]"#);
    let (_d, _s, result) = fresh(&forged);
    assert!(result.is_err());

    // A marker whose K never comes.
    let (_d, _s, result) = fresh(&owned[..8]);
    let error = result.expect_err("a promised K that never comes is refused");
    assert!(error.to_string().contains("record 8"), "{error}");

    // The marker stripped: the record lacks its erased fields, so it is not a valid event.
    let mut stripped = owned.clone();
    stripped[5] = stripped[5].replace(
        r#","redaction":{"by_seq":8,"fields":["summary","resident_ref"]}"#,
        "",
    );
    let (_d, _s, result) = fresh(&stripped);
    assert!(result.is_err());

    // A marker on a record that claims a non-personal field.
    let mut forged = owned.clone();
    forged[5] = forged[5].replace(r#"["summary","resident_ref"]"#, r#"["area_id"]"#);
    let (_d, _s, result) = fresh(&forged);
    assert!(result.is_err());

    // Records restored whole, with a Redacted record and no marker (as from a log kept
    // elsewhere): the redaction is applied on restore, as an append applies it.
    let (_d, whole) = temp_store();
    world(&whole);
    let records: Vec<_> = (0..8).map(|seq| whole.get(seq).unwrap().unwrap()).collect();
    let (fresh_dir, restored) = temp_store();
    restored.restore(records).unwrap();
    whole
        .append(
            "admin",
            vec![NewEvent::new(redaction(COMPLAINT_SEQ, &["summary"]))],
        )
        .unwrap();
    restored.restore(vec![whole.get(8).unwrap().unwrap()]).unwrap();
    assert_eq!(export(&restored), export(&whole));
    restored.close().unwrap();
    assert!(files_containing(fresh_dir.path(), SUMMARY).is_empty());

    // The unchanged export imports fine.
    let (_d, _s, result) = fresh(&owned);
    result.unwrap();
}

/// A redaction sent right behind its target, before the target's commit is durable: either
/// both land in one group, or the writer must wait until the syncer has applied the target's
/// block before it rewrites it (`wait_applied`). The delays vary so that rounds fall on both
/// sides; every round must end with the target redacted and its value gone from disk.
#[test]
fn a_redaction_right_behind_its_target_in_flight_erases_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.append("recorder", hierarchy(0)).unwrap();
    let delays_us = [0u64, 10, 30, 60, 120, 250, 400];
    for round in 0..70u64 {
        let target = store.head().next_seq;
        let filed = store
            .append_nonblocking(
                "recorder",
                govrec_store::CountyScope::Everywhere,
                vec![NewEvent::new(complaint(
                    uuid_of(1_000 + round),
                    uuid_of(3),
                    SUMMARY,
                    RESIDENT,
                ))],
            )
            .unwrap();
        std::thread::sleep(std::time::Duration::from_micros(
            delays_us[round as usize % delays_us.len()],
        ));
        let redacted = store
            .append_nonblocking(
                "admin",
                govrec_store::CountyScope::Everywhere,
                vec![NewEvent::new(redaction(target, &["summary"]))],
            )
            .unwrap();
        assert_eq!(filed.recv().unwrap().unwrap().receipts[0].seq, target);
        assert_eq!(redacted.recv().unwrap().unwrap().receipts[0].seq, target + 1);
        let record = store.get(target).unwrap().unwrap();
        assert_eq!(
            record.redaction,
            marker(target + 1, &["summary"]),
            "round {round}"
        );
        assert!(!record.to_json_line().contains(SUMMARY));
        assert!(record.to_json_line().contains(RESIDENT));
    }
    assert!(files_containing(dir.path(), SUMMARY).is_empty());
    assert!(verify_log(store.log(), 0, None).unwrap().is_intact());
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.head().next_seq, 5 + 140);
    assert!(verify_log(store.log(), 0, None).unwrap().is_intact());
    assert_eq!(verify_export_independently(&export(&store)), 145);
}
