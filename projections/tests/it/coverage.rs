//! Coverage statistics of the hand-built county (`scenario.rs` explains every figure).

use govrec_projections::{ProjectionError, ReadScope};
use serde_json::{json, Value};

use crate::scenario;
use crate::support::{id, json, models_of};

fn area(name: &str, kind: &str) -> Value {
    json!({"id": id(name), "name": name, "kind": kind})
}

#[allow(clippy::too_many_arguments)]
fn stats(
    compounds: u64,
    five: [u64; 6],
    in_service: [u64; 2],
    work_units_reported: u64,
    units: [u64; 2],
    complaints: [u64; 2],
    mean_satisfaction: Value,
    median_hours: Value,
    services: u64,
    service_hours: f64,
) -> Value {
    let rate = |numerator: u64, denominator: u64| {
        if denominator == 0 {
            Value::Null
        } else {
            json!(numerator as f64 / denominator as f64)
        }
    };
    json!({
        "compounds": compounds,
        "compounds_with_party_org": five[0],
        "party_org_coverage": rate(five[0], compounds),
        "five_haves": {"party_org": five[0], "venue": five[1], "member_ledger": five[2],
            "service_mechanism": five[3], "emergency_plan": five[4], "all_five": five[5]},
        "in_service_members": in_service[0],
        "in_service_reported": in_service[1],
        "report_rate": rate(in_service[1], in_service[0]),
        "work_units_reported": work_units_reported,
        "building_units": units[0],
        "building_units_paired": units[1],
        "pairing_coverage": rate(units[1], units[0]),
        "complaints_filed": complaints[0],
        "complaints_resolved": complaints[1],
        "resolution_rate": rate(complaints[1], complaints[0]),
        "mean_satisfaction": mean_satisfaction,
        "median_hours_to_resolve": median_hours,
        "services": services,
        "service_hours": service_hours,
    })
}

/// County: live compounds P1, P2, P4 (P3 retired). Party org: P1 (O1), P2 (O2); P4's O3 was
/// dissolved. In-service A, B (P1), D (P2); only A has a report (D withdrew; F lives in
/// retired P3). Work units reported: W1 (M1), W2 (M2). Units: B1 4 + B2 2 + B4 1 = 7; paired
/// B1#1 and B2#2 (C's B1#3 ended). Complaints K1 K2 K3 K4 K6 (K5 is in P3), resolved K1, K2,
/// K4 in 10, 30 and 6 hours; current ratings 5 and 4. Services S1, S2, S4 = 180 minutes.
fn county_stats() -> Value {
    stats(
        3,
        [2, 2, 3, 2, 2, 1],
        [3, 1],
        2,
        [7, 2],
        [5, 3],
        json!(4.5),
        json!(10.0),
        3,
        3.0,
    )
}

/// The town: as the county, without S4 (rendered at county level).
fn town_stats() -> Value {
    stats(
        3,
        [2, 2, 3, 2, 2, 1],
        [3, 1],
        2,
        [7, 2],
        [5, 3],
        json!(4.5),
        json!(10.0),
        2,
        2.5,
    )
}

#[test]
fn county_answer_has_every_stats_key_and_its_children() {
    let log = scenario::build();
    let models = models_of(log.records());
    let answer = models
        .coverage(Some(id("C")), &ReadScope::AllCounties)
        .expect("coverage");
    let last = log.records().last().expect("records");
    let expected = json!({
        "as_of": {"seq": last.seq, "hash": last.hash.to_hex(), "recorded_at": last.recorded_at.to_rfc3339()},
        "area": area("C", "county"),
        "stats": county_stats(),
        "children": [{"area": area("T", "town"), "stats": town_stats()}],
    });
    assert_eq!(json(&answer), expected);
}

/// M1: P1, P2 live; complaints K1 K2 K3 and K4 (filed at community level). M2: P4 only, with
/// nothing but a resident (E), a mechanism, B4's unpaired unit and K6.
#[test]
fn town_children_are_its_communities() {
    let models = models_of(scenario::build().records());
    let answer = models
        .coverage(Some(id("T")), &ReadScope::AllCounties)
        .expect("coverage");
    let m1 = stats(
        2,
        [2, 2, 2, 1, 2, 1],
        [3, 1],
        1,
        [6, 2],
        [4, 3],
        json!(4.5),
        json!(10.0),
        2,
        2.5,
    );
    let m2 = stats(
        1,
        [0, 0, 1, 1, 0, 0],
        [0, 0],
        1,
        [1, 0],
        [1, 0],
        Value::Null,
        Value::Null,
        0,
        0.0,
    );
    assert_eq!(json(&answer.stats), town_stats());
    let children: Vec<Value> = answer.children.iter().map(json).collect();
    assert_eq!(
        children,
        vec![
            json!({"area": area("M1", "community"), "stats": m1}),
            json!({"area": area("M2", "community"), "stats": m2})
        ]
    );
}

/// P1 has all five haves; P2 lacks a mechanism; retired P3 is not listed.
#[test]
fn community_children_are_its_live_compounds() {
    let models = models_of(scenario::build().records());
    let answer = models
        .coverage(Some(id("M1")), &ReadScope::AllCounties)
        .expect("coverage");
    let p1 = stats(
        1,
        [1, 1, 1, 1, 1, 1],
        [2, 1],
        0,
        [4, 1],
        [2, 2],
        json!(4.5),
        json!(20.0),
        1,
        1.0,
    );
    let p2 = stats(
        1,
        [1, 1, 1, 0, 1, 0],
        [1, 0],
        0,
        [2, 1],
        [1, 0],
        Value::Null,
        Value::Null,
        0,
        0.0,
    );
    let children: Vec<Value> = answer.children.iter().map(json).collect();
    assert_eq!(
        children,
        vec![
            json!({"area": area("P1", "compound"), "stats": p1}),
            json!({"area": area("P2", "compound"), "stats": p2})
        ]
    );
}

#[test]
fn whole_scope_lists_counties_as_children() {
    let models = models_of(scenario::build().records());
    let answer = models
        .coverage(None, &ReadScope::Counties(vec![id("C")]))
        .expect("coverage");
    assert_eq!(answer.area, None);
    assert_eq!(json(&answer.stats), county_stats());
    assert_eq!(answer.children.len(), 1);
    assert_eq!(json(&answer.children[0].area), area("C", "county"));
}

#[test]
fn a_retired_area_counts_nothing() {
    let models = models_of(scenario::build().records());
    let answer = models
        .coverage(Some(id("P3")), &ReadScope::AllCounties)
        .expect("coverage");
    let nothing = stats(
        0,
        [0; 6],
        [0, 0],
        0,
        [0, 0],
        [0, 0],
        Value::Null,
        Value::Null,
        0,
        0.0,
    );
    assert_eq!(json(&answer.stats), nothing);
    assert!(answer.children.is_empty());
}

#[test]
fn unknown_and_out_of_scope_areas_are_refused() {
    let models = models_of(scenario::build().records());
    let unknown = models.coverage(Some(id("nowhere")), &ReadScope::AllCounties);
    assert!(matches!(unknown, Err(ProjectionError::UnknownArea(area)) if area == id("nowhere")));
    let elsewhere = models.coverage(Some(id("M1")), &ReadScope::Counties(vec![id("another county")]));
    assert!(matches!(elsewhere, Err(ProjectionError::OutOfScope(area)) if area == id("M1")));
}
