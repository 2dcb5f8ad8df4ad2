//! The 台账 ledgers of the hand-built county (`scenario.rs` explains every figure).

use govrec_projections::{ComplaintsView, Page, ReadScope};
use govrec_store::BusinessDate;
use serde_json::{json, Value};

use crate::scenario;
use crate::support::{id, json, models_of, seq_where, stamp};

fn area(name: &str, kind: &str) -> Value {
    json!({"id": id(name), "name": name, "kind": kind})
}

fn enrolled(log: &crate::support::LogBuilder, name: &str) -> Value {
    stamp(
        log,
        seq_where(log, "MemberEnrolled", "member_id", json!(id(name))),
    )
}

/// P1's members with every column: reports and posts, active pairings, service hours.
#[test]
fn members_ledger_of_a_compound() {
    let log = scenario::build();
    let models = models_of(log.records());
    let ledger = models
        .members_ledger(Some(id("P1")), &ReadScope::AllCounties, &Page::default())
        .expect("ledger");
    let reported = stamp(
        &log,
        seq_where(&log, "MemberReported", "member_id", json!(id("A"))),
    );
    let expected = json!({
        "as_of": json(&ledger.as_of),
        "counts": {"resident": 0, "in_service": 2, "retired": 0, "floating": 0, "total": 2},
        "members": [
            {"member_id": id("A"), "name": "A", "category": "in_service", "home_compound": area("P1", "compound"),
             "work_unit": {"work_unit_id": id("W1"), "name": "W1"},
             "reports": [{"compound": area("P1", "compound"), "post": "policy_outreach", "reported": reported}],
             "active_pairings": [{"pairing_id": id("pA"), "kind": "member_building_unit"},
                                 {"pairing_id": id("pM"), "kind": "cadre_secretary"}],
             "services": 1, "service_hours": 1.0, "enrolled": enrolled(&log, "A")},
            {"member_id": id("B"), "name": "B", "category": "in_service", "home_compound": area("P1", "compound"),
             "work_unit": {"work_unit_id": id("W2"), "name": "W2"}, "reports": [],
             "active_pairings": [{"pairing_id": id("pB"), "kind": "member_building_unit"}],
             "services": 1, "service_hours": 0.5, "enrolled": enrolled(&log, "B")},
        ],
        "next": null,
    });
    assert_eq!(json(&ledger), expected);
}

/// The county's current members are A B C_ D E F (G was removed; F's compound is retired but
/// the ledger is a register and keeps listing F). Pages of 4 then 2, in enrolment order.
#[test]
fn members_ledger_pages_in_enrolment_order() {
    let models = models_of(scenario::build().records());
    let first = models
        .members_ledger(Some(id("C")), &ReadScope::AllCounties, &Page::first(4))
        .expect("ledger");
    assert_eq!(
        json(&first.counts),
        json!({"resident": 1, "in_service": 4, "retired": 1, "floating": 0, "total": 6})
    );
    let names: Vec<_> = first.members.iter().map(|row| row.member_id).collect();
    assert_eq!(names, vec![id("A"), id("B"), id("C_"), id("D")]);
    let next = Page {
        limit: Some(4),
        after: first.next.clone(),
    };
    let second = models
        .members_ledger(Some(id("C")), &ReadScope::AllCounties, &next)
        .expect("ledger");
    let rest: Vec<_> = second
        .members
        .iter()
        .map(|row| (row.member_id, row.name.clone()))
        .collect();
    assert_eq!(rest, vec![(id("E"), None), (id("F"), Some("F".to_owned()))]);
    assert_eq!(second.next, None);
    let bad = Page {
        limit: None,
        after: Some("not a cursor".to_owned()),
    };
    assert!(models
        .members_ledger(None, &ReadScope::AllCounties, &bad)
        .is_err());
}

/// Current reports: A→P1, F→P3, W1→M1, W2→M2 (D and W2→M1 were withdrawn).
#[test]
fn registrations_ledger() {
    let log = scenario::build();
    let models = models_of(log.records());
    let ledger = models
        .registrations_ledger(Some(id("C")), &ReadScope::AllCounties, &Page::default())
        .expect("ledger");
    let member_report = |name: &str, compound: &str| {
        json!({"reporter": {"member_id": id(name), "name": name}, "area": area(compound, "compound"),
            "post": "policy_outreach", "reported": stamp(&log, seq_where(&log, "MemberReported", "member_id", json!(id(name))))})
    };
    let unit_report = |unit: &str, community: &str| {
        let seq = log
            .records()
            .iter()
            .find(|record| {
                let event = govrec_core::event_to_json(&record.event);
                event["type"] == "UnitReported"
                    && event["work_unit_id"] == json!(id(unit))
                    && event["community_id"] == json!(id(community))
            })
            .expect("reported")
            .seq;
        json!({"reporter": {"work_unit_id": id(unit), "name": unit}, "area": area(community, "community"),
            "post": null, "reported": stamp(&log, seq)})
    };
    let unit = |name: &str| json!({"work_unit_id": id(name), "name": name});
    let expected = json!({
        "as_of": json(&ledger.as_of),
        "by_community": [
            {"area": area("M1", "community"), "work_units_reported": 1, "work_units": [unit("W1")]},
            {"area": area("M2", "community"), "work_units_reported": 1, "work_units": [unit("W2")]},
        ],
        "by_compound": [
            {"area": area("P1", "compound"), "in_service_members": 2, "in_service_reported": 1, "members_reported_here": 1},
            {"area": area("P2", "compound"), "in_service_members": 1, "in_service_reported": 0, "members_reported_here": 0},
            {"area": area("P4", "compound"), "in_service_members": 0, "in_service_reported": 0, "members_reported_here": 0},
        ],
        "by_work_unit": [
            {"work_unit": unit("W1"), "in_service_members": 2, "in_service_reported": 1},
            {"work_unit": unit("W2"), "in_service_members": 2, "in_service_reported": 1},
        ],
        "registrations": [member_report("A", "P1"), member_report("F", "P3"), unit_report("W1", "M1"), unit_report("W2", "M2")],
        "next": null,
    });
    assert_eq!(json(&ledger), expected);
}

/// Active: pA pB pD pF pE pW pM (pC ended). Live building units 7; unpaired B1#2 #3 #4, B2#1,
/// B4#1 (B3 is in retired P3).
#[test]
fn pairings_ledger() {
    let log = scenario::build();
    let models = models_of(log.records());
    let ledger = models
        .pairings_ledger(Some(id("C")), &ReadScope::AllCounties, &Page::first(2))
        .expect("ledger");
    assert_eq!(
        json(&ledger.counts),
        json!({"unit_compound": 1, "cadre_secretary": 1, "member_building_unit": 4, "member_household": 1, "total": 7})
    );
    assert_eq!(
        (ledger.building_units, ledger.unpaired_building_units_total),
        (7, 5)
    );
    let unpaired: Vec<Value> = ledger.unpaired_building_units.iter().map(json).collect();
    let unit =
        |building: &str, unit_no: u32| json!({"building": area(building, "building"), "unit_no": unit_no});
    assert_eq!(
        unpaired,
        vec![
            unit("B1", 2),
            unit("B1", 3),
            unit("B1", 4),
            unit("B2", 1),
            unit("B4", 1)
        ]
    );
    let established = seq_where(&log, "PairingEstablished", "pairing_id", json!(id("pA")));
    assert_eq!(
        json(&ledger.pairings[0]),
        json!({"pairing_id": id("pA"), "kind": "member_building_unit", "from": {"member_id": id("A"), "name": "A"},
            "to": {"area": {"area": area("B1", "building"), "unit_no": 1}}, "established": stamp(&log, established)})
    );
    assert_eq!(ledger.pairings.len(), 2);
    assert!(ledger.next.is_some());
    let household = models
        .pairings_ledger(Some(id("P4")), &ReadScope::AllCounties, &Page::default())
        .expect("ledger");
    let kinds: Vec<Value> = household.pairings.iter().map(|row| json(&row.to)).collect();
    assert_eq!(kinds, vec![json!("household")]);
}

/// K1 and K2 rated, K4 resolved, K3 dispatched and overdue (due 03-05, judged on 03-10, the
/// date of the last record), K5 and K6 only filed. K2 was reopened once and resolved again
/// 30 hours after filing.
#[test]
fn complaints_ledger_with_overdue_ones() {
    let log = scenario::build();
    let models = models_of(log.records());
    let all = models
        .complaints_ledger(
            Some(id("C")),
            &ReadScope::AllCounties,
            ComplaintsView::All,
            None,
            &Page::default(),
        )
        .expect("ledger");
    assert_eq!(all.overdue_on, "2026-03-10");
    assert_eq!(
        json(&all.counts),
        json!({"filed": 2, "dispatched": 1, "accepted": 0, "resolved": 1, "rated": 2, "overdue": 1, "total": 6})
    );
    let k2 = all
        .complaints
        .iter()
        .find(|row| row.complaint_id == id("K2"))
        .expect("K2");
    let step = |event_type: &str, nth: usize| {
        let seqs: Vec<u64> = log
            .records()
            .iter()
            .filter(|record| {
                let event = govrec_core::event_to_json(&record.event);
                event["type"] == event_type && event["complaint_id"] == json!(id("K2"))
            })
            .map(|record| record.seq)
            .collect();
        stamp(&log, seqs[nth])
    };
    let expected = json!({
        "complaint_id": id("K2"), "area": area("P1", "compound"), "category": "repair", "channel": "app",
        "status": "rated", "assignee": {"org_id": id("O1"), "name": "O1"}, "due_on": null, "overdue": false,
        "filed": step("ComplaintFiled", 0), "dispatched": step("ComplaintDispatched", 0),
        "accepted": step("ComplaintAccepted", 1), "resolved": step("ComplaintResolved", 1),
        "hours_to_resolve": 30.0, "rating": 4, "rated": step("ComplaintRated", 1), "reopened": 1,
    });
    assert_eq!(json(k2), expected);
    let overdue = models
        .complaints_ledger(
            None,
            &ReadScope::AllCounties,
            ComplaintsView::Overdue,
            None,
            &Page::default(),
        )
        .expect("ledger");
    let ids: Vec<_> = overdue.complaints.iter().map(|row| row.complaint_id).collect();
    assert_eq!(ids, vec![id("K3")]);
    let earlier = BusinessDate::parse("2026-03-05");
    let not_yet = models
        .complaints_ledger(
            None,
            &ReadScope::AllCounties,
            ComplaintsView::Overdue,
            earlier,
            &Page::default(),
        )
        .expect("ledger");
    assert!(not_yet.complaints.is_empty());
}
