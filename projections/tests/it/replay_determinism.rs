//! Replay is a pure function of the log: the same records give byte-identical models and
//! answers, and a record that cannot apply is an error naming its seq.

use govrec_projections::{snapshot, Models, ProjectionError, ReadScope};
use govrec_store::{Hash32, Record};
use serde_json::json;

use crate::scenario;
use crate::support::{id, json, models_of, store_with};

#[test]
fn replaying_twice_gives_byte_identical_models_and_answers() {
    let log = scenario::build();
    let first = models_of(log.records());
    let second = models_of(log.records());
    assert_eq!(snapshot::encode(&first), snapshot::encode(&second));
    let answers = |models: &Models| {
        serde_json::to_vec(&(
            models.coverage(None, &ReadScope::AllCounties).expect("coverage"),
            models
                .scores("2026", None, None, &ReadScope::AllCounties)
                .expect("scores"),
            models
                .members_ledger(None, &ReadScope::AllCounties, &Default::default())
                .expect("members"),
        ))
        .expect("json")
    };
    assert_eq!(answers(&first), answers(&second));
}

/// Through a real store: `replay_all` equals applying the records one by one.
#[test]
fn replay_all_from_a_store_equals_applying_records() {
    let log = scenario::build();
    let (_dir, store) = store_with(log.records());
    let mut progress_calls = 0;
    let (models, report) = govrec_projections::replay_all(&store, |_| progress_calls += 1).expect("replay");
    assert_eq!(
        snapshot::encode(&models),
        snapshot::encode(&models_of(log.records()))
    );
    assert_eq!(report.records, log.records().len() as u64);
    assert_eq!(report.counts.members, 7);
    assert_eq!(report.as_of.seq, Some(log.records().len() as u64 - 1));
    assert!(progress_calls >= 1);
    assert!(report
        .to_string()
        .starts_with(&format!("replayed {} records in ", report.records)));
}

fn record_with(seq: u64, event: serde_json::Value) -> Record {
    let event = govrec_core::event_from_json(event).expect("event");
    Record {
        seq,
        id: uuid::Uuid::from_u64_pair(9, seq),
        recorded_at: govrec_store::RecordedAt::from_micros(0),
        occurred_on: govrec_store::BusinessDate::from_yyyymmdd(20260301).expect("a calendar date"),
        actor: "test".to_owned(),
        event_hash: govrec_store::event_hash(&event),
        event,
        prev_hash: Hash32::ZERO,
        hash: Hash32::ZERO,
        redaction: None,
    }
}

/// Nothing re-checks rules, but an unknown id is never skipped: the error names the seq and
/// the models are unchanged.
#[test]
fn an_event_that_cannot_apply_is_an_error_naming_its_seq() {
    let mut models = Models::new();
    let county = json!({"type": "AreaRegistered", "area_id": id("C"), "kind": "county", "name": "县"});
    models.apply(&record_with(0, county)).expect("a county applies");
    let before = snapshot::encode(&models);
    let orphan = json!({"type": "MemberEnrolled", "member_id": id("A"), "name": "A", "category": "resident",
        "home_area_id": id("nowhere")});
    let error = models.apply(&record_with(1, orphan)).expect_err("unknown home");
    assert!(
        matches!(&error, ProjectionError::CannotApply { seq: 1, reason } if reason.to_string().contains(&id("nowhere").to_string()))
    );
    assert_eq!(snapshot::encode(&models), before);
    let gap = json!({"type": "AreaRetired", "area_id": id("C"), "reason": "x"});
    let error = models.apply(&record_with(5, gap)).expect_err("out of order");
    assert!(matches!(
        error,
        ProjectionError::OutOfOrder { seq: 5, expected: 1 }
    ));
}

/// No business rule is re-checked: retiring an already retired area applies.
#[test]
fn apply_checks_no_business_rule() {
    let mut models = Models::new();
    let county = json!({"type": "AreaRegistered", "area_id": id("C"), "kind": "county", "name": "县"});
    models.apply(&record_with(0, county)).expect("applies");
    for seq in 1..3 {
        let retire = json!({"type": "AreaRetired", "area_id": id("C"), "reason": "x"});
        models.apply(&record_with(seq, retire)).expect("applies twice");
    }
    assert_eq!(
        json(
            &models
                .coverage(Some(id("C")), &ReadScope::AllCounties)
                .expect("coverage")
                .stats
        )["compounds"],
        0
    );
}
