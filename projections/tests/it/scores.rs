//! 双评价 scores of the hand-built county (`scenario.rs` explains every figure).

use govrec_projections::{ReadScope, SubjectKind};
use serde_json::{json, Value};

use crate::scenario;
use crate::support::{id, json, models_of, seq_where, stamp};

#[allow(clippy::too_many_arguments)]
fn row(
    kind: &str,
    subject: &str,
    name: Value,
    period: &str,
    scores: [Value; 3],
    grade: [&str; 2],
    counts: [u64; 4],
) -> Value {
    json!({
        "subject_kind": kind, "subject_id": id(subject), "name": name, "period": period,
        "org_score": scores[0], "resident_score": scores[1], "combined": scores[2],
        "grade": grade[0], "grade_label": grade[1],
        "org_count": counts[0], "resident_count": counts[1],
        "complaint_rating_count": counts[2], "retracted_count": counts[3],
    })
}

/// A: organisation 90 (80 amended) and 70 → 80, the retracted 50 left out; residents 85 and
/// K1's rating 5 → 100 → 92.5; combined 86.25 合格. O1 accepted K2 twice (both acceptances in
/// 2026): ratings 2 → 25 and 4 → 75 → 50, 不合格. Members sort before organisations.
#[test]
fn year_scores_use_amended_values_without_retracted_ones_and_with_complaint_ratings() {
    let models = models_of(scenario::build().records());
    let answer = models
        .scores("2026", None, None, &ReadScope::AllCounties)
        .expect("scores");
    let scores: Vec<Value> = answer.scores.iter().map(json).collect();
    assert_eq!(
        scores,
        vec![
            row(
                "member",
                "A",
                json!("A"),
                "2026",
                [json!(80.0), json!(92.5), json!(86.25)],
                ["qualified", "合格"],
                [2, 2, 1, 1]
            ),
            row(
                "org",
                "O1",
                json!("O1"),
                "2026",
                [Value::Null, json!(50.0), json!(50.0)],
                ["unqualified", "不合格"],
                [0, 2, 2, 0]
            ),
        ]
    );
}

/// A rating counts in the periods of its acceptance's business date: K2's first round was
/// accepted on 2026-03-01 (Q1), its second on 2026-04-02 (Q2).
#[test]
fn complaint_ratings_count_in_the_quarter_of_their_acceptance() {
    let models = models_of(scenario::build().records());
    let q1 = models.score(id("O1"), "2026-Q1").expect("score");
    let q2 = models.score(id("O1"), "2026-Q2").expect("score");
    let h1 = models.score(id("O1"), "2026-H1").expect("score");
    assert_eq!(
        (q1.score.resident_score, q1.score.grade_label),
        (Some(25.0), Some("不合格"))
    );
    assert_eq!(
        (q2.score.resident_score, q2.score.grade_label),
        (Some(75.0), Some("合格"))
    );
    assert_eq!(
        (h1.score.resident_score, h1.score.resident_count),
        (Some(50.0), 2)
    );
    let a_q1 = models.score(id("A"), "2026-Q1").expect("score");
    assert_eq!(
        (a_q1.score.combined, a_q1.score.grade_label),
        (Some(100.0), Some("优秀"))
    );
}

/// One organisation evaluation each at the grade edges 59, 60, 69, 70, 89 and 90; E's name was
/// redacted.
#[test]
fn grade_edges() {
    let models = models_of(scenario::build().records());
    let answer = models
        .scores("2026-Q4", None, None, &ReadScope::AllCounties)
        .expect("scores");
    let expected = [
        ("member", "B", json!("B"), 59.0, ["unqualified", "不合格"]),
        (
            "member",
            "C_",
            json!("C_"),
            60.0,
            ["basically_qualified", "基本合格"],
        ),
        (
            "member",
            "D",
            json!("D"),
            69.0,
            ["basically_qualified", "基本合格"],
        ),
        ("member", "E", Value::Null, 70.0, ["qualified", "合格"]),
        ("work_unit", "W1", json!("W1"), 89.0, ["qualified", "合格"]),
        ("work_unit", "W2", json!("W2"), 90.0, ["excellent", "优秀"]),
    ];
    let mut expected: Vec<(String, uuid::Uuid, Value)> = expected
        .into_iter()
        .map(|(kind, subject, name, score, grade)| {
            let value = row(
                kind,
                subject,
                name,
                "2026-Q4",
                [json!(score), Value::Null, json!(score)],
                grade,
                [1, 0, 0, 0],
            );
            (kind.to_owned(), id(subject), value)
        })
        .collect();
    expected.sort_by_key(|(kind, subject, _)| (kind.clone(), *subject));
    let expected: Vec<Value> = expected.into_iter().map(|(_, _, value)| value).collect();
    assert_eq!(answer.scores.iter().map(json).collect::<Vec<_>>(), expected);
}

/// A member belongs to its home compound, a work unit to its county and the communities it
/// reports to (W2 withdrew from M1), an organisation to the areas it covers.
#[test]
fn area_and_kind_filters() {
    let models = models_of(scenario::build().records());
    let subjects = |period: &str, area: &str, kind: Option<SubjectKind>| -> Vec<uuid::Uuid> {
        let answer = models
            .scores(period, Some(id(area)), kind, &ReadScope::AllCounties)
            .expect("scores");
        answer.scores.iter().map(|row| row.subject_id).collect()
    };
    assert_eq!(subjects("2026", "P1", None), vec![id("A"), id("O1")]);
    assert_eq!(subjects("2026", "P1", Some(SubjectKind::Org)), vec![id("O1")]);
    assert!(subjects("2026", "M2", None).is_empty());
    assert_eq!(
        subjects("2026-Q4", "M1", Some(SubjectKind::WorkUnit)),
        vec![id("W1")]
    );
    assert_eq!(
        subjects("2026-Q4", "M2", Some(SubjectKind::WorkUnit)),
        vec![id("W2")]
    );
}

/// The whole history behind A's 2026 score: who recorded, amended and retracted what, when.
#[test]
fn score_detail_has_every_evaluation_and_its_history() {
    let log = scenario::build();
    let models = models_of(log.records());
    let detail = models.score(id("A"), "2026").expect("score");
    let step = |action: &str, score: Value, reason: Value, actor: &str, seq: u64| {
        let at = stamp(&log, seq);
        json!({"action": action, "score": score, "reason": reason, "actor": actor, "seq": seq,
            "recorded_at": at["recorded_at"], "occurred_on": at["occurred_on"]})
    };
    let recorded = |name: &str| seq_where(&log, "EvaluationRecorded", "evaluation_id", json!(id(name)));
    let amended = seq_where(&log, "EvaluationAmended", "evaluation_id", json!(id("e1")));
    let retracted = seq_where(&log, "EvaluationRetracted", "evaluation_id", json!(id("e3")));
    let evaluation = |name: &str,
                      evaluator: &str,
                      by: &str,
                      score: u32,
                      retracted: bool,
                      history: Vec<Value>| {
        json!({"evaluation_id": id(name), "evaluator": evaluator, "evaluator_ref": id(by), "period": "2026",
            "score": score, "retracted": retracted, "history": history})
    };
    let rated = log
        .records()
        .iter()
        .position(|record| govrec_core::event_to_json(&record.event)["satisfaction"] == json!(5))
        .expect("K1 rated") as u64;
    let last = log.records().last().expect("records");
    let expected = json!({
        "as_of": {"seq": last.seq, "hash": last.hash.to_hex(), "recorded_at": last.recorded_at.to_rfc3339()},
        "subject_kind": "member", "subject_id": id("A"), "name": "A", "period": "2026",
        "org_score": 80.0, "resident_score": 92.5, "combined": 86.25, "grade": "qualified", "grade_label": "合格",
        "org_count": 2, "resident_count": 2, "complaint_rating_count": 1, "retracted_count": 1,
        "evaluations": [
            evaluation("e1", "organization", "O5", 90, false, vec![
                step("recorded", json!(80), Value::Null, "office-1", recorded("e1")),
                step("amended", json!(90), json!("复核"), "office-2", amended),
            ]),
            evaluation("e2", "organization", "O5", 70, false, vec![
                step("recorded", json!(70), Value::Null, "office-1", recorded("e2")),
            ]),
            evaluation("e3", "organization", "O1", 50, true, vec![
                step("recorded", json!(50), Value::Null, "office-1", recorded("e3")),
                step("retracted", Value::Null, json!("录入错误"), "office-2", retracted),
            ]),
            evaluation("r1", "residents", "P1", 85, false, vec![
                step("recorded", json!(85), Value::Null, "office-1", recorded("r1")),
            ]),
        ],
        "complaint_ratings": [{"complaint_id": id("K1"), "satisfaction": 5, "mapped_score": 100,
            "accepted_on": "2026-03-01", "actor": "recorder-1", "rated": stamp(&log, rated)}],
    });
    assert_eq!(json(&detail), expected);
}

#[test]
fn unknown_subjects_and_malformed_periods_are_refused() {
    let models = models_of(scenario::build().records());
    assert!(matches!(
        models.score(id("nobody"), "2026"),
        Err(govrec_projections::ProjectionError::UnknownSubject(_))
    ));
    assert!(matches!(
        models.scores("2026-Q5", None, None, &ReadScope::AllCounties),
        Err(govrec_projections::ProjectionError::InvalidQuery(_))
    ));
    let nothing = models.score(id("G"), "2026").expect("a known subject");
    assert_eq!((nothing.score.combined, nothing.evaluations.len()), (None, 0));
}
