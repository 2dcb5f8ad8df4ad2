//! The hand-built county of the snapshot tests. Every figure the tests expect is worked out
//! in the comments here.
//!
//! 测试县 C > 城关镇 T > communities M1, M2.
//! - M1: compounds P1 (building B1, 4 units), P2 (B2, 2 units), P3 (B3, 3 units; retired at
//!   the end, so P3 and everything in it stops counting in coverage).
//! - M2: compound P4 (B4, 1 unit).
//! - Organisations: O1 compound branch of P1; O2 grid branch of P2 and P3; O3 compound branch
//!   of P4, dissolved; O4 work-unit org of W1; O5 community committee of M1.
//! - Five haves: venues P1, P2; mechanisms P1, P4; plans P1, P2.
//! - Members: A in-service (P1, W1, reports to P1); B in-service (P1, W2, no report);
//!   C resident (P2); D in-service (P2, W1, reports to P2 then withdraws); E resident (P4),
//!   updated to retired, name redacted; F in-service (P3, W2, reports to P3);
//!   G floating (P4), removed.
//! - Work units: W1 reports to M1; W2 reports to M1 (withdrawn) and M2.
//! - Pairings: A→B1#1, B→B1#1, C→B1#3 (ended), D→B2#2, F→B3#1, E→household, W1→P1,
//!   A mentors B.
//! - Services: A at P1 60 min; W1 at M1 90 min; B at P3 30 min; E at C (county) 30 min.
//! - Complaints (hours after 2026-03-01T00:00Z):
//!   K1 P1: filed h0, to A (due 03-20), accepted h1 (on 2026-03-01), resolved h10, rated 5.
//!   K2 P1: filed h1, to O1, accepted h2 (2026-03-01), resolved h5, rated 2, reopened h6,
//!   accepted again h24 (on 2026-04-02), resolved h31, rated 4.
//!   K3 P2: filed h2, to A due 2026-03-05, never accepted: overdue on 2026-03-10.
//!   K4 M1: filed h2, to W1, accepted h3, resolved h8, not rated.
//!   K5 P3: filed h3 (P3 is retired later). K6 P4: filed h3, nothing else.
//! - Evaluations (period 2026 unless said): A by O5 80 amended to 90; A by O5 70; A by O1 50
//!   retracted; A by residents of P1 85. Grade edges in 2026-Q4, one organisation
//!   evaluation each: B 59, C 60, D 69, E 70, W1 89, W2 90.
//! - The last record is at h216 (2026-03-10).

use serde_json::json;
use uuid::Uuid;

use crate::support::{id, LogBuilder};

fn area(builder: &mut LogBuilder, name: &str, kind: &str, parent: Option<&str>) {
    let mut event = json!({"type": "AreaRegistered", "area_id": id(name), "kind": kind, "name": name});
    if let Some(parent) = parent {
        event["parent_id"] = json!(id(parent));
    }
    if kind == "building" {
        let units = match name {
            "B1" => 4,
            "B2" => 2,
            "B3" => 3,
            _ => 1,
        };
        event["units"] = json!(units);
    }
    builder.push(event);
}

fn member(builder: &mut LogBuilder, name: &str, category: &str, home: &str, work_unit: Option<&str>) {
    let mut event = json!({"type": "MemberEnrolled", "member_id": id(name), "name": name,
        "category": category, "home_area_id": id(home)});
    if let Some(unit) = work_unit {
        event["work_unit_id"] = json!(id(unit));
    }
    builder.push(event);
}

fn pairing(builder: &mut LogBuilder, name: &str, kind: &str, from: &str, to: serde_json::Value) {
    builder.push(
        json!({"type": "PairingEstablished", "pairing_id": id(name), "kind": kind,
        "from_id": id(from), "to": to}),
    );
}

fn evaluation(
    builder: &mut LogBuilder,
    name: &str,
    subject: (&str, &str),
    evaluator: (&str, &str),
    period: &str,
    score: u32,
) {
    builder.push(json!({"type": "EvaluationRecorded", "evaluation_id": id(name),
        "subject": {subject.0: id(subject.1)}, "evaluator": evaluator.0, "evaluator_ref": id(evaluator.1),
        "period": period, "score": score}));
}

fn complaint(builder: &mut LogBuilder, step: &str, name: &str, extra: serde_json::Value) {
    let mut event = json!({"type": step, "complaint_id": id(name)});
    for (key, value) in extra.as_object().expect("an object") {
        event[key] = value.clone();
    }
    builder.push(event);
}

/// The scenario's log.
pub fn build() -> LogBuilder {
    let mut log = LogBuilder::new();
    areas(&mut log);
    organisations(&mut log);
    members_and_registrations(&mut log);
    pairings_and_services(&mut log);
    complaints(&mut log);
    evaluations(&mut log);
    endings(&mut log);
    log
}

fn areas(log: &mut LogBuilder) {
    area(log, "C", "county", None);
    area(log, "T", "town", Some("C"));
    area(log, "M1", "community", Some("T"));
    area(log, "M2", "community", Some("T"));
    for (compound, community) in [("P1", "M1"), ("P2", "M1"), ("P3", "M1"), ("P4", "M2")] {
        area(log, compound, "compound", Some(community));
    }
    for (building, compound) in [("B1", "P1"), ("B2", "P2"), ("B3", "P3"), ("B4", "P4")] {
        area(log, building, "building", Some(compound));
    }
    for unit in ["W1", "W2"] {
        log.push(json!({"type": "WorkUnitRegistered", "work_unit_id": id(unit), "name": unit, "county_id": id("C")}));
    }
}

fn organisations(log: &mut LogBuilder) {
    let branches = [
        ("O1", "compound_branch", vec!["P1"]),
        ("O2", "grid_branch", vec!["P2", "P3"]),
        ("O3", "compound_branch", vec!["P4"]),
        ("O5", "community_committee", vec!["M1"]),
    ];
    for (org, kind, areas) in branches {
        let area_ids: Vec<Uuid> = areas.iter().map(|area| id(area)).collect();
        log.push(json!({"type": "PartyOrgFounded", "org_id": id(org), "kind": kind, "name": org, "area_ids": area_ids}));
    }
    log.push(
        json!({"type": "PartyOrgFounded", "org_id": id("O4"), "kind": "work_unit_org", "name": "O4",
        "work_unit_id": id("W1")}),
    );
    for (venue, area) in [("V1", "P1"), ("V2", "P2")] {
        log.push(
            json!({"type": "VenueEstablished", "venue_id": id(venue), "area_id": id(area), "name": venue,
            "area_m2": 120, "source": "built"}),
        );
    }
    for area in ["P1", "P4"] {
        log.push(json!({"type": "ServiceMechanismEstablished", "area_id": id(area), "mechanism": "deliberation_hall"}));
    }
    for (plan, area) in [("EP1", "P1"), ("EP2", "P2")] {
        log.push(json!({"type": "EmergencyPlanFiled", "plan_id": id(plan), "area_id": id(area), "hazards": ["fire"]}));
    }
    log.push(json!({"type": "EmergencyDrillHeld", "plan_id": id("EP1"), "participants": 40}));
}

fn members_and_registrations(log: &mut LogBuilder) {
    member(log, "A", "in_service", "P1", Some("W1"));
    member(log, "B", "in_service", "P1", Some("W2"));
    member(log, "C_", "resident", "P2", None);
    member(log, "D", "in_service", "P2", Some("W1"));
    member(log, "E", "resident", "P4", None);
    member(log, "F", "in_service", "P3", Some("W2"));
    member(log, "G", "floating", "P4", None);
    log.push(json!({"type": "MemberUpdated", "member_id": id("E"), "category": "retired"}));
    log.push(
        json!({"type": "OfficerAppointed", "org_id": id("O1"), "member_id": id("A"), "role": "secretary"}),
    );
    for (who, compound) in [("A", "P1"), ("D", "P2"), ("F", "P3")] {
        log.push(
            json!({"type": "MemberReported", "member_id": id(who), "compound_id": id(compound),
            "post": "policy_outreach"}),
        );
    }
    for (unit, community) in [("W1", "M1"), ("W2", "M1"), ("W2", "M2")] {
        log.push(json!({"type": "UnitReported", "work_unit_id": id(unit), "community_id": id(community)}));
    }
    log.push(json!({"type": "ReportWithdrawn", "member_id": id("D"), "area_id": id("P2")}));
    log.push(json!({"type": "ReportWithdrawn", "work_unit_id": id("W2"), "area_id": id("M1")}));
}

fn pairings_and_services(log: &mut LogBuilder) {
    let unit = |building: &str, unit_no: u32| json!({"area_id": id(building), "unit_no": unit_no});
    pairing(log, "pA", "member_building_unit", "A", unit("B1", 1));
    pairing(log, "pB", "member_building_unit", "B", unit("B1", 1));
    pairing(log, "pC", "member_building_unit", "C_", unit("B1", 3));
    pairing(log, "pD", "member_building_unit", "D", unit("B2", 2));
    pairing(log, "pF", "member_building_unit", "F", unit("B3", 1));
    pairing(
        log,
        "pE",
        "member_household",
        "E",
        json!({"household_ref": "户-01"}),
    );
    pairing(log, "pW", "unit_compound", "W1", json!({"area_id": id("P1")}));
    pairing(log, "pM", "cadre_secretary", "A", json!({"member_id": id("B")}));
    log.push(json!({"type": "PairingEnded", "pairing_id": id("pC"), "reason": "moved"}));
    let services = [
        ("S1", json!({"member_id": id("A")}), "P1", 60),
        ("S2", json!({"work_unit_id": id("W1")}), "M1", 90),
        ("S3", json!({"member_id": id("B")}), "P3", 30),
        ("S4", json!({"member_id": id("E")}), "C", 30),
    ];
    for (service, by, area, minutes) in services {
        log.push(
            json!({"type": "ServiceRendered", "service_id": id(service), "by": by, "area_id": id(area),
            "kind": "volunteering", "minutes": minutes}),
        );
    }
}

fn complaints(log: &mut LogBuilder) {
    let filed = |area: &str| {
        json!({"area_id": id(area), "category": "repair", "summary": "漏水",
        "channel": "app", "resident_ref": "居民-1"})
    };
    log.hour(0).on(Some("2026-03-01"));
    complaint(log, "ComplaintFiled", "K1", filed("P1"));
    complaint(
        log,
        "ComplaintDispatched",
        "K1",
        json!({"assignee": {"member_id": id("A")}, "due_on": "2026-03-20"}),
    );
    log.hour(1);
    complaint(log, "ComplaintFiled", "K2", filed("P1"));
    complaint(log, "ComplaintAccepted", "K1", json!({}));
    complaint(
        log,
        "ComplaintDispatched",
        "K2",
        json!({"assignee": {"org_id": id("O1")}}),
    );
    log.hour(2);
    complaint(log, "ComplaintAccepted", "K2", json!({}));
    complaint(log, "ComplaintFiled", "K3", filed("P2"));
    complaint(
        log,
        "ComplaintDispatched",
        "K3",
        json!({"assignee": {"member_id": id("A")}, "due_on": "2026-03-05"}),
    );
    complaint(log, "ComplaintFiled", "K4", filed("M1"));
    complaint(
        log,
        "ComplaintDispatched",
        "K4",
        json!({"assignee": {"work_unit_id": id("W1")}}),
    );
    log.hour(3);
    complaint(log, "ComplaintAccepted", "K4", json!({}));
    complaint(log, "ComplaintFiled", "K5", filed("P3"));
    complaint(log, "ComplaintFiled", "K6", filed("P4"));
    log.hour(5);
    complaint(log, "ComplaintResolved", "K2", json!({"resolution": "修好"}));
    complaint(log, "ComplaintRated", "K2", json!({"satisfaction": 2}));
    log.hour(6);
    complaint(log, "ComplaintReopened", "K2", json!({"reason": "又漏了"}));
    log.hour(8);
    complaint(log, "ComplaintResolved", "K4", json!({"resolution": "修好"}));
    log.hour(10);
    complaint(log, "ComplaintResolved", "K1", json!({"resolution": "修好"}));
    complaint(log, "ComplaintRated", "K1", json!({"satisfaction": 5}));
    log.hour(24).on(Some("2026-04-02"));
    complaint(log, "ComplaintAccepted", "K2", json!({}));
    log.hour(31);
    complaint(log, "ComplaintResolved", "K2", json!({"resolution": "换了管子"}));
    complaint(log, "ComplaintRated", "K2", json!({"satisfaction": 4}));
    log.on(None);
}

fn evaluations(log: &mut LogBuilder) {
    log.hour(40).actor("office-1");
    evaluation(log, "e1", ("member_id", "A"), ("organization", "O5"), "2026", 80);
    evaluation(log, "e2", ("member_id", "A"), ("organization", "O5"), "2026", 70);
    evaluation(log, "e3", ("member_id", "A"), ("organization", "O1"), "2026", 50);
    evaluation(log, "r1", ("member_id", "A"), ("residents", "P1"), "2026", 85);
    log.hour(48).actor("office-2");
    log.push(json!({"type": "EvaluationAmended", "evaluation_id": id("e1"), "score": 90, "reason": "复核"}));
    log.push(json!({"type": "EvaluationRetracted", "evaluation_id": id("e3"), "reason": "录入错误"}));
    log.actor("office-1");
    let edges = [
        ("member_id", "B", 59),
        ("member_id", "C_", 60),
        ("member_id", "D", 69),
        ("member_id", "E", 70),
        ("work_unit_id", "W1", 89),
        ("work_unit_id", "W2", 90),
    ];
    for (kind, subject, score) in edges {
        evaluation(
            log,
            &format!("q4-{subject}"),
            (kind, subject),
            ("organization", "O5"),
            "2026-Q4",
            score,
        );
    }
    log.actor("recorder-1");
}

fn endings(log: &mut LogBuilder) {
    log.hour(200);
    log.push(json!({"type": "PartyOrgDissolved", "org_id": id("O3"), "reason": "合并"}));
    log.push(json!({"type": "OfficerRelieved", "org_id": id("O1"), "member_id": id("A")}));
    log.push(json!({"type": "MemberRemoved", "member_id": id("G"), "reason": "转出"}));
    log.push(json!({"type": "AreaRetired", "area_id": id("P3"), "reason": "拆迁"}));
    let enrolment_of_e = log
        .records()
        .iter()
        .find(
            |record| matches!(&record.event, govrec_core::Event::MemberEnrolled(e) if e.member_id == id("E")),
        )
        .expect("E was enrolled")
        .seq;
    log.hour(216);
    log.push(
        json!({"type": "Redacted", "target_seq": enrolment_of_e, "fields": ["name"], "reason": "本人申请"}),
    );
}
