//! Random valid logs for property tests: every step proposes an event built from the
//! entities created so far, and the real rules decide whether it joins the log.

use govrec_core::Event;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{id, LogBuilder};

/// One random step: what to try and three numbers to pick its references with.
pub type Step = (u8, u16, u16, u8);

#[derive(Default)]
struct Pools {
    compounds: Vec<Uuid>,
    communities: Vec<Uuid>,
    buildings: Vec<(Uuid, u32)>,
    areas: Vec<Uuid>,
    orgs: Vec<Uuid>,
    members: Vec<Uuid>,
    member_enrolments: Vec<u64>,
    pairings: Vec<Uuid>,
    evaluations: Vec<Uuid>,
    complaints: Vec<Uuid>,
    created: u64,
}

fn pick<T: Copy>(pool: &[T], index: u16) -> Option<T> {
    (!pool.is_empty()).then(|| pool[index as usize % pool.len()])
}

/// A small fixed hierarchy, then one proposal per step.
pub fn random_log(steps: &[Step]) -> LogBuilder {
    let mut log = LogBuilder::new();
    let mut pools = Pools::default();
    skeleton(&mut log, &mut pools);
    for &step in steps {
        log.advance_minutes(i64::from(step.3 % 7) * 45);
        if let Some((event, created)) = proposal(&mut pools, step) {
            let seq = log.next_seq();
            let event: Event = govrec_core::event_from_json(event).expect("well-formed proposal");
            if log.try_push_event(event) {
                remember(&mut pools, created, seq);
            }
        }
    }
    log
}

fn skeleton(log: &mut LogBuilder, pools: &mut Pools) {
    let area = |name: &str, kind: &str, parent: Option<&str>, units: Option<u32>| {
        let mut event = json!({"type": "AreaRegistered", "area_id": id(name), "kind": kind, "name": name});
        if let Some(parent) = parent {
            event["parent_id"] = json!(id(parent));
        }
        if let Some(units) = units {
            event["units"] = json!(units);
        }
        event
    };
    log.push(area("rC", "county", None, None));
    log.push(area("rT", "town", Some("rC"), None));
    for (community, compounds) in [("rM1", ["rP1", "rP2"]), ("rM2", ["rP3", "rP4"])] {
        log.push(area(community, "community", Some("rT"), None));
        pools.communities.push(id(community));
        for compound in compounds {
            log.push(area(compound, "compound", Some(community), None));
            let building = format!("{compound}-B");
            log.push(area(&building, "building", Some(compound), Some(3)));
            pools.compounds.push(id(compound));
            pools.buildings.push((id(&building), 3));
        }
    }
    pools.areas = [
        &pools.compounds[..],
        &pools.communities[..],
        &[id("rT"), id("rC")],
    ]
    .concat();
    log.push(
        json!({"type": "WorkUnitRegistered", "work_unit_id": id("rW"), "name": "rW", "county_id": id("rC")}),
    );
    log.push(
        json!({"type": "PartyOrgFounded", "org_id": id("rO1"), "kind": "grid_branch", "name": "rO1",
        "area_ids": [id("rP1"), id("rP2")]}),
    );
    log.push(
        json!({"type": "PartyOrgFounded", "org_id": id("rO2"), "kind": "compound_branch", "name": "rO2",
        "area_ids": [id("rP3")]}),
    );
    pools.orgs = vec![id("rO1"), id("rO2")];
}

/// What a proposal creates, so the pools learn it once the rules accept it.
enum Created {
    Nothing,
    Member(Uuid),
    Pairing(Uuid),
    Evaluation(Uuid),
    Complaint(Uuid),
}

fn remember(pools: &mut Pools, created: Created, seq: u64) {
    match created {
        Created::Nothing => {}
        Created::Member(member) => {
            pools.members.push(member);
            pools.member_enrolments.push(seq);
        }
        Created::Pairing(pairing) => pools.pairings.push(pairing),
        Created::Evaluation(evaluation) => pools.evaluations.push(evaluation),
        Created::Complaint(complaint) => pools.complaints.push(complaint),
    }
}

fn fresh(pools: &mut Pools) -> Uuid {
    pools.created += 1;
    id(&format!("random-{}", pools.created))
}

fn proposal(pools: &mut Pools, (kind, a, b, c): Step) -> Option<(Value, Created)> {
    let member = pick(&pools.members, a);
    let compound = pick(&pools.compounds, b)?;
    let complaint = pick(&pools.complaints, a);
    let periods = ["2026", "2026-H1", "2026-Q3"];
    let proposal = match kind % 22 {
        0 | 1 => {
            let new = fresh(pools);
            let category = ["resident", "in_service", "retired", "floating"][c as usize % 4];
            let mut event = json!({"type": "MemberEnrolled", "member_id": new, "name": "党员", "category": category,
                "home_area_id": compound});
            if category == "in_service" {
                event["work_unit_id"] = json!(id("rW"));
            }
            return Some((event, Created::Member(new)));
        }
        2 => json!({"type": "MemberUpdated", "member_id": member?, "home_area_id": compound}),
        3 => json!({"type": "MemberRemoved", "member_id": member?, "reason": "转出"}),
        4 => {
            json!({"type": "MemberReported", "member_id": member?, "compound_id": compound, "post": "volunteer"})
        }
        5 => json!({"type": "ReportWithdrawn", "member_id": member?, "area_id": compound}),
        6 => {
            json!({"type": "UnitReported", "work_unit_id": id("rW"), "community_id": pick(&pools.communities, b)?})
        }
        7 => json!({"type": "ServiceRendered", "service_id": fresh(pools), "by": {"member_id": member?},
            "area_id": pick(&pools.areas, b)?, "kind": "repair", "minutes": c as u32 + 1}),
        8 => {
            let new = fresh(pools);
            let (building, units) = pick(&pools.buildings, b)?;
            let event = json!({"type": "PairingEstablished", "pairing_id": new, "kind": "member_building_unit",
                "from_id": member?, "to": {"area_id": building, "unit_no": u32::from(c) % units + 1}});
            return Some((event, Created::Pairing(new)));
        }
        9 => json!({"type": "PairingEnded", "pairing_id": pick(&pools.pairings, b)?, "reason": "结束"}),
        10 | 11 => {
            let new = fresh(pools);
            let subject = if c % 3 == 0 {
                json!({"org_id": pick(&pools.orgs, a)?})
            } else {
                json!({"member_id": member?})
            };
            let (evaluator, by) = if c % 2 == 0 {
                ("organization", pick(&pools.orgs, b)?)
            } else {
                ("residents", compound)
            };
            let event = json!({"type": "EvaluationRecorded", "evaluation_id": new, "subject": subject,
                "evaluator": evaluator, "evaluator_ref": by, "period": periods[c as usize % 3], "score": b % 101});
            return Some((event, Created::Evaluation(new)));
        }
        12 => {
            json!({"type": "EvaluationAmended", "evaluation_id": pick(&pools.evaluations, a)?, "score": b % 101,
            "reason": "复核"})
        }
        13 => {
            json!({"type": "EvaluationRetracted", "evaluation_id": pick(&pools.evaluations, a)?, "reason": "撤回"})
        }
        14 | 15 => {
            let new = fresh(pools);
            let event = json!({"type": "ComplaintFiled", "complaint_id": new, "area_id": compound,
                "category": "repair", "summary": "漏水", "channel": "app", "resident_ref": "居民"});
            return Some((event, Created::Complaint(new)));
        }
        16 => {
            let assignee = if c % 2 == 0 {
                json!({"member_id": member?})
            } else {
                json!({"work_unit_id": id("rW")})
            };
            json!({"type": "ComplaintDispatched", "complaint_id": complaint?, "assignee": assignee, "due_on": "2026-03-02"})
        }
        17 => json!({"type": "ComplaintAccepted", "complaint_id": complaint?}),
        18 => json!({"type": "ComplaintResolved", "complaint_id": complaint?, "resolution": "已修"}),
        19 => match c % 2 {
            0 => json!({"type": "ComplaintRated", "complaint_id": complaint?, "satisfaction": b % 5 + 1}),
            _ => json!({"type": "ComplaintReopened", "complaint_id": complaint?, "reason": "未修好"}),
        },
        20 => match c % 5 {
            0 => {
                json!({"type": "VenueEstablished", "venue_id": fresh(pools), "area_id": compound, "name": "活动室",
                "area_m2": 50, "source": "shared"})
            }
            1 => json!({"type": "ServiceMechanismEstablished", "area_id": compound, "mechanism": "hotline"}),
            2 => {
                json!({"type": "EmergencyPlanFiled", "plan_id": fresh(pools), "area_id": compound, "hazards": ["flood"]})
            }
            3 => json!({"type": "PartyOrgDissolved", "org_id": pick(&pools.orgs, a)?, "reason": "调整"}),
            _ => json!({"type": "AreaRetired", "area_id": pick(&pools.buildings, a)?.0, "reason": "拆除"}),
        },
        _ => json!({"type": "Redacted", "target_seq": pick(&pools.member_enrolments, a)?, "fields": ["name"],
            "reason": "申请"}),
    };
    Some((proposal, Created::Nothing))
}

/// The generator is worth its name: over a long run, the rules accept every kind it proposes.
#[test]
fn random_logs_hold_every_kind_of_change() {
    let steps: Vec<Step> = (0..3000u32)
        .map(|n| {
            let mix = n.wrapping_mul(2_654_435_761);
            (
                (n % 22) as u8,
                (mix >> 7) as u16,
                (mix >> 13) as u16,
                (mix >> 3) as u8,
            )
        })
        .collect();
    let log = random_log(&steps);
    let mut types = std::collections::BTreeMap::new();
    for record in log.records() {
        *types.entry(record.event.event_type().name()).or_insert(0) += 1;
    }
    let wanted = [
        "MemberEnrolled",
        "MemberUpdated",
        "MemberRemoved",
        "MemberReported",
        "ReportWithdrawn",
        "UnitReported",
        "ServiceRendered",
        "PairingEstablished",
        "PairingEnded",
        "EvaluationRecorded",
        "EvaluationAmended",
        "EvaluationRetracted",
        "ComplaintFiled",
        "ComplaintDispatched",
        "ComplaintAccepted",
        "ComplaintResolved",
        "ComplaintRated",
        "ComplaintReopened",
        "VenueEstablished",
        "AreaRetired",
        "Redacted",
    ];
    for name in wanted {
        assert!(
            types.get(name).copied().unwrap_or(0) > 0,
            "no {name} in {types:?}"
        );
    }
}
