//! The rules an append must pass, as given events / when a batch / then accepted or refused
//! with a code, the index of the offending event and the field at fault: mostly as case tables,
//! one per part of the domain, each row a case and each table one test that names every failing
//! row.

use govrec_core::event::*;
use govrec_core::{State, Violation, ViolationCode};
use uuid::Uuid;

use ViolationCode::{
    DuplicateId, InactiveReference, InvalidField, InvalidTransition, RuleViolation, UnknownReference,
    WrongKind,
};

const fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

const COUNTY: Uuid = id(0x101);
const TOWN: Uuid = id(0x102);
const COMMUNITY: Uuid = id(0x103);
const COMPOUND: Uuid = id(0x104);
/// A building of `COMPOUND` with units 1 to 4.
const BUILDING: Uuid = id(0x105);
const COMPOUND_2: Uuid = id(0x106);
const OTHER_COUNTY: Uuid = id(0x201);
const OTHER_TOWN: Uuid = id(0x202);
const OTHER_COMMUNITY: Uuid = id(0x203);
const WORK_UNIT: Uuid = id(0x301);
const OTHER_WORK_UNIT: Uuid = id(0x302);
const RESIDENT: Uuid = id(0x401);
/// An in-service member of `WORK_UNIT`.
const WORKER: Uuid = id(0x402);
const COMMITTEE: Uuid = id(0x501);
const BRANCH: Uuid = id(0x502);
const NEW: Uuid = id(0x901);
const NEW_2: Uuid = id(0x902);
const UNKNOWN: Uuid = id(0xdead);

// Given / when / then.

/// What a batch should come to: accepted, or refused with a code, the index of the offending
/// event and the field at fault.
#[derive(Debug, Clone, Copy)]
enum Then {
    Accepted,
    Refused(ViolationCode, usize, Option<&'static str>),
}

use Then::{Accepted, Refused};

/// The state after `events`, each appended alone, or which of them was refused.
fn state_after(events: impl IntoIterator<Item = Event>) -> Result<State, String> {
    let mut state = State::new();
    for (index, event) in events.into_iter().enumerate() {
        let seq = state.next_seq();
        if let Err(violation) = state.check_and_apply(seq, std::slice::from_ref(&event)) {
            return Err(format!("given event {index} was refused: {violation}"));
        }
    }
    Ok(state)
}

/// Whether a batch came to what `then` says: `result` is what appending it to `before` gave,
/// leaving `after`. A refused batch must have a message and leave the state as it was.
fn judge(then: Then, result: &Result<(), Violation>, before: &State, after: &State) -> Result<(), String> {
    match (then, result) {
        (Accepted, Ok(())) => Ok(()),
        (Accepted, Err(violation)) => Err(format!(
            "got refused {:?} ({}), expected accepted",
            (violation.code, violation.index, violation.field.as_deref()),
            violation.message
        )),
        (Refused(code, index, field), Ok(())) => Err(format!(
            "got accepted, expected refused {:?}",
            (code, index, field)
        )),
        (Refused(code, index, field), Err(violation)) => {
            let got = (violation.code, violation.index, violation.field.as_deref());
            if got != (code, index, field) {
                Err(format!(
                    "got refused {got:?} ({}), expected refused {:?}",
                    violation.message,
                    (code, index, field)
                ))
            } else if violation.message.is_empty() {
                Err(format!("refused {got:?} with an empty message"))
            } else if after != before {
                Err("a refused batch changed the state".to_owned())
            } else {
                Ok(())
            }
        }
    }
}

/// The state after `events`, each of which must pass.
fn given(events: impl IntoIterator<Item = Event>) -> Given {
    Given(state_after(events).unwrap_or_else(|why| panic!("{why}")))
}

struct Given(State);

struct When {
    before: State,
    after: State,
    result: Result<(), Violation>,
}

impl Given {
    fn when(self, batch: impl IntoIterator<Item = Event>) -> When {
        let batch: Vec<Event> = batch.into_iter().collect();
        let before = self.0.clone();
        let mut after = self.0;
        let result = after.check_and_apply(after.next_seq(), &batch);
        When {
            before,
            after,
            result,
        }
    }
}

impl When {
    fn then(&self, then: Then) {
        if let Err(why) = judge(then, &self.result, &self.before, &self.after) {
            panic!("{why}");
        }
    }

    fn then_accepted(self) -> State {
        self.then(Accepted);
        self.after
    }

    fn then_refused(self, code: ViolationCode, index: usize, field: Option<&'static str>) -> Violation {
        self.then(Refused(code, index, field));
        self.result.unwrap_err()
    }
}

// Case tables.

/// One row of a case table: given the state after `given`, when `when` is appended as one
/// batch, then it comes to `then`.
struct Case {
    name: String,
    given: Vec<Event>,
    when: Vec<Event>,
    then: Then,
}

/// A case given the [`world`].
fn case(name: impl Into<String>, when: impl IntoIterator<Item = Event>, then: Then) -> Case {
    case_given(name, world(), when, then)
}

fn case_given(
    name: impl Into<String>,
    given: impl IntoIterator<Item = Event>,
    when: impl IntoIterator<Item = Event>,
    then: Then,
) -> Case {
    Case {
        name: name.into(),
        given: given.into_iter().collect(),
        when: when.into_iter().collect(),
        then,
    }
}

impl Case {
    fn check(&self) -> Result<(), String> {
        let before = state_after(self.given.iter().cloned())?;
        let mut after = before.clone();
        let result = after.check_and_apply(after.next_seq(), &self.when);
        judge(self.then, &result, &before, &after)
    }
}

/// Checks every case of a table, and then fails naming each case that failed, with what it
/// got and what was expected.
fn run(cases: Vec<Case>) {
    let mut names = std::collections::HashSet::new();
    for case in &cases {
        assert!(names.insert(&case.name), "two cases are named {:?}", case.name);
    }
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| case.check().err().map(|why| format!("{}: {why}", case.name)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n  {}",
        failures.len(),
        cases.len(),
        failures.join("\n  ")
    );
}

// Events.

fn area(area_id: Uuid, kind: AreaKind, parent_id: Option<Uuid>) -> AreaRegistered {
    AreaRegistered {
        area_id,
        kind,
        name: "灵丘县".to_owned(),
        parent_id,
        households: None,
        compound_kind: None,
        has_property_management: None,
        units: (kind == AreaKind::Building).then_some(4),
    }
}

fn county(area_id: Uuid) -> Event {
    area(area_id, AreaKind::County, None).into()
}

fn child(area_id: Uuid, kind: AreaKind, parent_id: Uuid) -> Event {
    area(area_id, kind, Some(parent_id)).into()
}

fn retire(area_id: Uuid) -> Event {
    AreaRetired {
        area_id,
        reason: "合并".to_owned(),
    }
    .into()
}

fn org(org_id: Uuid, kind: OrgKind, area_ids: &[Uuid]) -> PartyOrgFounded {
    PartyOrgFounded {
        org_id,
        kind,
        name: "小区党支部".to_owned(),
        parent_org_id: None,
        area_ids: Some(area_ids.to_vec()),
        work_unit_id: None,
    }
}

fn work_unit_org(org_id: Uuid, work_unit_id: Uuid) -> PartyOrgFounded {
    PartyOrgFounded {
        area_ids: None,
        work_unit_id: Some(work_unit_id),
        ..org(org_id, OrgKind::WorkUnitOrg, &[])
    }
}

fn dissolve(org_id: Uuid) -> Event {
    PartyOrgDissolved {
        org_id,
        reason: "撤并".to_owned(),
    }
    .into()
}

fn appoint(org_id: Uuid, member_id: Uuid, role: OfficerRole) -> Event {
    OfficerAppointed {
        org_id,
        member_id,
        role,
    }
    .into()
}

fn relieve(org_id: Uuid, member_id: Uuid) -> Event {
    OfficerRelieved { org_id, member_id }.into()
}

fn work_unit(work_unit_id: Uuid, county_id: Uuid) -> Event {
    WorkUnitRegistered {
        work_unit_id,
        name: "县教育局".to_owned(),
        county_id,
    }
    .into()
}

fn enrol(member_id: Uuid, category: MemberCategory, work_unit_id: Option<Uuid>) -> MemberEnrolled {
    MemberEnrolled {
        member_id,
        name: "张三".to_owned(),
        category,
        home_area_id: COMPOUND,
        work_unit_id,
    }
}

fn resident(member_id: Uuid) -> Event {
    enrol(member_id, MemberCategory::Resident, None).into()
}

fn update(member_id: Uuid) -> MemberUpdated {
    MemberUpdated {
        member_id,
        category: None,
        home_area_id: None,
        work_unit_id: None,
    }
}

fn remove(member_id: Uuid) -> Event {
    MemberRemoved {
        member_id,
        reason: "迁出".to_owned(),
    }
    .into()
}

/// Valid whenever `COMPOUND` is live, any number of times: pads a batch so the event under
/// test is not the first.
fn filler() -> Event {
    ServiceMechanismEstablished {
        area_id: COMPOUND,
        mechanism: Mechanism::Hotline,
        note: None,
    }
    .into()
}

fn member_reported(member_id: Uuid, compound_id: Uuid) -> Event {
    MemberReported {
        member_id,
        compound_id,
        post: ServicePost::Volunteer,
    }
    .into()
}

fn unit_reported(work_unit_id: Uuid, community_id: Uuid) -> Event {
    UnitReported {
        work_unit_id,
        community_id,
    }
    .into()
}

fn withdrawn(member_id: Option<Uuid>, work_unit_id: Option<Uuid>, area_id: Uuid) -> Event {
    ReportWithdrawn {
        member_id,
        work_unit_id,
        area_id,
    }
    .into()
}

fn service(service_id: Uuid, by: ServiceProvider, area_id: Uuid, minutes: u32) -> Event {
    ServiceRendered {
        service_id,
        by,
        area_id,
        kind: ServiceKind::Repair,
        minutes,
        beneficiaries: Some(3),
    }
    .into()
}

fn pairing(pairing_id: Uuid, kind: PairingKind, from_id: Uuid, to: PairingTarget) -> Event {
    PairingEstablished {
        pairing_id,
        kind,
        from_id,
        to,
    }
    .into()
}

fn unit_of(area_id: Uuid, unit_no: Option<u32>) -> PairingTarget {
    PairingTarget::Area { area_id, unit_no }
}

fn end_pairing(pairing_id: Uuid) -> Event {
    PairingEnded {
        pairing_id,
        reason: "任务完成".to_owned(),
    }
    .into()
}

fn evaluation(evaluation_id: Uuid, subject: PartyRef, score: u32) -> EvaluationRecorded {
    EvaluationRecorded {
        evaluation_id,
        subject,
        evaluator: Evaluator::Organization,
        evaluator_ref: BRANCH,
        period: "2026-H1".to_owned(),
        score,
        comment: None,
    }
}

fn amend(evaluation_id: Uuid, score: u32) -> Event {
    EvaluationAmended {
        evaluation_id,
        score,
        reason: "复核".to_owned(),
    }
    .into()
}

fn retract(evaluation_id: Uuid) -> Event {
    EvaluationRetracted {
        evaluation_id,
        reason: "重复录入".to_owned(),
    }
    .into()
}

fn complaint(complaint_id: Uuid) -> ComplaintFiled {
    ComplaintFiled {
        complaint_id,
        area_id: COMPOUND,
        category: ComplaintCategory::Repair,
        summary: "楼道灯坏了".to_owned(),
        channel: Channel::App,
        resident_ref: "居民-17".to_owned(),
    }
}

fn file(complaint_id: Uuid) -> Event {
    complaint(complaint_id).into()
}

fn dispatch(complaint_id: Uuid, assignee: PartyRef, due_on: Option<&str>) -> Event {
    ComplaintDispatched {
        complaint_id,
        assignee,
        due_on: due_on.map(str::to_owned),
    }
    .into()
}

fn dispatch_to_worker(complaint_id: Uuid) -> Event {
    dispatch(complaint_id, PartyRef::MemberId(WORKER), Some("2026-12-01"))
}

fn accept(complaint_id: Uuid) -> Event {
    ComplaintAccepted { complaint_id }.into()
}

fn resolve(complaint_id: Uuid) -> Event {
    ComplaintResolved {
        complaint_id,
        resolution: "已更换灯泡".to_owned(),
    }
    .into()
}

fn rate(complaint_id: Uuid, satisfaction: u32) -> Event {
    ComplaintRated {
        complaint_id,
        satisfaction,
    }
    .into()
}

fn reopen(complaint_id: Uuid) -> Event {
    ComplaintReopened {
        complaint_id,
        reason: "灯又坏了".to_owned(),
    }
    .into()
}

fn redact(target_seq: u64, fields: &[&str]) -> Event {
    let fields = fields.iter().map(|field| field.to_string()).collect();
    Redacted {
        target_seq,
        fields,
        reason: "居民申请删除个人信息".to_owned(),
    }
    .into()
}

/// Two counties with their hierarchies, two work units, two members and two organisations.
fn world() -> Vec<Event> {
    vec![
        county(COUNTY),
        child(TOWN, AreaKind::Town, COUNTY),
        child(COMMUNITY, AreaKind::Community, TOWN),
        AreaRegistered {
            households: Some(102),
            compound_kind: Some(CompoundKind::Old),
            has_property_management: Some(false),
            ..area(COMPOUND, AreaKind::Compound, Some(COMMUNITY))
        }
        .into(),
        child(BUILDING, AreaKind::Building, COMPOUND),
        child(COMPOUND_2, AreaKind::Compound, COMMUNITY),
        county(OTHER_COUNTY),
        child(OTHER_TOWN, AreaKind::Town, OTHER_COUNTY),
        child(OTHER_COMMUNITY, AreaKind::Community, OTHER_TOWN),
        work_unit(WORK_UNIT, COUNTY),
        work_unit(OTHER_WORK_UNIT, OTHER_COUNTY),
        resident(RESIDENT),
        enrol(WORKER, MemberCategory::InService, Some(WORK_UNIT)).into(),
        org(COMMITTEE, OrgKind::CommunityCommittee, &[COMMUNITY]).into(),
        PartyOrgFounded {
            parent_org_id: Some(COMMITTEE),
            ..org(BRANCH, OrgKind::CompoundBranch, &[COMPOUND])
        }
        .into(),
    ]
}

fn world_and(more: impl IntoIterator<Item = Event>) -> Vec<Event> {
    let mut events = world();
    events.extend(more);
    events
}

mod areas {
    use super::*;

    #[test]
    fn a_whole_hierarchy_in_one_batch_is_validated_against_its_own_earlier_events() {
        let state = given([])
            .when([
                county(NEW),
                child(TOWN, AreaKind::Town, NEW),
                child(COMMUNITY, AreaKind::Community, TOWN),
                child(COMPOUND, AreaKind::Compound, COMMUNITY),
                child(BUILDING, AreaKind::Building, COMPOUND),
            ])
            .then_accepted();
        assert_eq!(state.next_seq(), 5);
        assert_eq!(state.county_of(BUILDING), Some(NEW));
    }

    fn filler_in(area_id: Uuid) -> Event {
        ServiceMechanismEstablished {
            area_id,
            mechanism: Mechanism::Other,
            note: None,
        }
        .into()
    }

    #[test]
    fn cases() {
        let new = |kind, parent_id| area(NEW, kind, parent_id);
        run(vec![
            case(
                "a_parent_must_exist",
                [filler(), child(NEW, AreaKind::Compound, UNKNOWN)],
                Refused(UnknownReference, 1, Some("parent_id")),
            ),
            case(
                "a_parent_must_be_the_level_above: a compound under a town",
                [filler(), filler(), child(NEW, AreaKind::Compound, TOWN)],
                Refused(WrongKind, 2, Some("parent_id")),
            ),
            case(
                "a_parent_must_be_the_level_above: a town under a town",
                [child(NEW, AreaKind::Town, TOWN)],
                Refused(WrongKind, 0, Some("parent_id")),
            ),
            case(
                "a_parent_that_is_not_an_area_is_the_wrong_kind",
                [filler(), child(NEW, AreaKind::Compound, RESIDENT)],
                Refused(WrongKind, 1, Some("parent_id")),
            ),
            case_given(
                "a_parent_must_be_live: a retired community",
                world_and([retire(COMMUNITY)]),
                [
                    filler_in(OTHER_COMMUNITY),
                    child(NEW, AreaKind::Compound, COMMUNITY),
                ],
                Refused(InactiveReference, 1, Some("parent_id")),
            ),
            case_given(
                "a_parent_must_be_live: a retired compound",
                world_and([retire(COMPOUND_2)]),
                [filler(), child(NEW, AreaKind::Building, COMPOUND_2)],
                Refused(InactiveReference, 1, Some("parent_id")),
            ),
            case_given(
                "retiring_an_area_retires_everything_below_it: a venue under a retired town",
                world_and([retire(TOWN)]),
                [VenueEstablished {
                    venue_id: NEW,
                    area_id: COMPOUND,
                    name: "党群服务站".to_owned(),
                    area_m2: 80,
                    source: VenueSource::Built,
                }
                .into()],
                Refused(InactiveReference, 0, Some("area_id")),
            ),
            case_given(
                "retiring_an_area_retires_everything_below_it: the building of a retired compound",
                world_and([retire(COMPOUND)]),
                [retire(BUILDING)],
                Refused(InvalidTransition, 0, None),
            ),
            case(
                "only_a_county_has_no_parent: a county with a parent",
                [filler(), new(AreaKind::County, Some(OTHER_COUNTY)).into()],
                Refused(InvalidField, 1, Some("parent_id")),
            ),
            case(
                "only_a_county_has_no_parent: a town without one",
                [filler(), new(AreaKind::Town, None).into()],
                Refused(InvalidField, 1, Some("parent_id")),
            ),
            case(
                "compound_extras_are_for_compounds_only: households of a community",
                [
                    filler(),
                    AreaRegistered {
                        households: Some(10),
                        ..new(AreaKind::Community, Some(TOWN))
                    }
                    .into(),
                ],
                Refused(InvalidField, 1, Some("households")),
            ),
            case(
                "compound_extras_are_for_compounds_only: the compound kind of a building",
                [
                    filler(),
                    AreaRegistered {
                        compound_kind: Some(CompoundKind::WorkUnit),
                        ..new(AreaKind::Building, Some(COMPOUND))
                    }
                    .into(),
                ],
                Refused(InvalidField, 1, Some("compound_kind")),
            ),
            case(
                "compound_extras_are_for_compounds_only: property management of a town",
                [AreaRegistered {
                    has_property_management: Some(true),
                    ..new(AreaKind::Town, Some(COUNTY))
                }
                .into()],
                Refused(InvalidField, 0, Some("has_property_management")),
            ),
            case(
                "a_building_needs_at_least_one_unit_and_nothing_else_has_units: a building without",
                [
                    filler(),
                    AreaRegistered {
                        units: None,
                        ..new(AreaKind::Building, Some(COMPOUND))
                    }
                    .into(),
                ],
                Refused(InvalidField, 1, Some("units")),
            ),
            case(
                "a_building_needs_at_least_one_unit_and_nothing_else_has_units: a building with 0",
                [
                    filler(),
                    filler(),
                    AreaRegistered {
                        units: Some(0),
                        ..new(AreaKind::Building, Some(COMPOUND))
                    }
                    .into(),
                ],
                Refused(InvalidField, 2, Some("units")),
            ),
            case(
                "a_building_needs_at_least_one_unit_and_nothing_else_has_units: a compound with 3",
                [
                    filler(),
                    AreaRegistered {
                        units: Some(3),
                        ..new(AreaKind::Compound, Some(COMMUNITY))
                    }
                    .into(),
                ],
                Refused(InvalidField, 1, Some("units")),
            ),
            case(
                "a_building_needs_at_least_one_unit_and_nothing_else_has_units: a building with 1",
                [AreaRegistered {
                    units: Some(1),
                    ..new(AreaKind::Building, Some(COMPOUND))
                }
                .into()],
                Accepted,
            ),
            case(
                "a_name_is_not_blank_and_at_most_200_characters: blank",
                [
                    filler(),
                    AreaRegistered {
                        name: " \t".to_owned(),
                        ..new(AreaKind::County, None)
                    }
                    .into(),
                ],
                Refused(InvalidField, 1, Some("name")),
            ),
            case(
                "a_name_is_not_blank_and_at_most_200_characters: 201 characters",
                [
                    filler(),
                    AreaRegistered {
                        name: "县".repeat(201),
                        ..new(AreaKind::County, None)
                    }
                    .into(),
                ],
                Refused(InvalidField, 1, Some("name")),
            ),
            case(
                "a_name_is_not_blank_and_at_most_200_characters: 200 characters",
                [AreaRegistered {
                    name: "县".repeat(200),
                    ..new(AreaKind::County, None)
                }
                .into()],
                Accepted,
            ),
            case(
                "retiring_needs_a_live_known_area_and_a_reason: an unknown area",
                [filler(), retire(UNKNOWN)],
                Refused(UnknownReference, 1, Some("area_id")),
            ),
            case(
                "retiring_needs_a_live_known_area_and_a_reason: a member",
                [filler(), retire(WORKER)],
                Refused(WrongKind, 1, Some("area_id")),
            ),
            case(
                "retiring_needs_a_live_known_area_and_a_reason: twice",
                [retire(COMPOUND_2), retire(COMPOUND_2)],
                Refused(InvalidTransition, 1, None),
            ),
            case(
                "retiring_needs_a_live_known_area_and_a_reason: no reason",
                [
                    filler(),
                    AreaRetired {
                        area_id: COMPOUND_2,
                        reason: String::new(),
                    }
                    .into(),
                ],
                Refused(InvalidField, 1, Some("reason")),
            ),
        ]);
    }

    #[test]
    fn county_of_walks_up_the_parents() {
        let state = given(world()).0;
        assert_eq!(state.county_of(BUILDING), Some(COUNTY));
        assert_eq!(state.county_of(COUNTY), Some(COUNTY));
        assert_eq!(state.county_of(OTHER_COMMUNITY), Some(OTHER_COUNTY));
        assert_eq!(state.county_of(UNKNOWN), None);
        assert_eq!(
            state.county_of(RESIDENT),
            Some(COUNTY),
            "a member: their home's county"
        );
    }
}

mod organisations {
    use super::*;

    fn change(org_id: Uuid, area_ids: &[Uuid]) -> Event {
        PartyOrgCoverageChanged {
            org_id,
            area_ids: area_ids.to_vec(),
        }
        .into()
    }

    #[test]
    fn cases() {
        let with_parent = |parent| -> Event {
            PartyOrgFounded {
                parent_org_id: Some(parent),
                ..org(NEW, OrgKind::CompoundBranch, &[COMPOUND_2])
            }
            .into()
        };
        let mut cases = vec![
            case(
                "each_kind_covers_its_own_level: at its level",
                [
                    org(NEW, OrgKind::GridBranch, &[COMPOUND, COMPOUND_2]).into(),
                    org(NEW_2, OrgKind::BuildingGroup, &[BUILDING]).into(),
                    work_unit_org(id(0x903), WORK_UNIT).into(),
                ],
                Accepted,
            ),
            case(
                "each_kind_covers_its_own_level: a committee over a compound",
                [
                    filler(),
                    org(NEW, OrgKind::CommunityCommittee, &[COMPOUND]).into(),
                ],
                Refused(WrongKind, 1, Some("area_ids")),
            ),
            case(
                "each_kind_covers_its_own_level: a grid branch over a building",
                [
                    filler(),
                    org(NEW, OrgKind::GridBranch, &[COMPOUND, BUILDING]).into(),
                ],
                Refused(WrongKind, 1, Some("area_ids")),
            ),
            case(
                "each_kind_covers_its_own_level: a building group over a compound",
                [filler(), org(NEW, OrgKind::BuildingGroup, &[COMPOUND]).into()],
                Refused(WrongKind, 1, Some("area_ids")),
            ),
            case(
                "a_compound_branch_covers_exactly_one_compound: two",
                [
                    filler(),
                    org(NEW, OrgKind::CompoundBranch, &[COMPOUND, COMPOUND_2]).into(),
                ],
                Refused(InvalidField, 1, Some("area_ids")),
            ),
            case(
                "a_compound_branch_covers_exactly_one_compound: none",
                [filler(), filler(), org(NEW, OrgKind::CompoundBranch, &[]).into()],
                Refused(InvalidField, 2, Some("area_ids")),
            ),
            case(
                "covered_areas_exist_are_live_and_are_listed_once: an unknown area",
                [
                    filler(),
                    org(NEW, OrgKind::GridBranch, &[COMPOUND, UNKNOWN]).into(),
                ],
                Refused(UnknownReference, 1, Some("area_ids")),
            ),
            case_given(
                "covered_areas_exist_are_live_and_are_listed_once: a retired area",
                world_and([retire(COMPOUND_2)]),
                [
                    filler(),
                    org(NEW, OrgKind::GridBranch, &[COMPOUND, COMPOUND_2]).into(),
                ],
                Refused(InactiveReference, 1, Some("area_ids")),
            ),
            case(
                "covered_areas_exist_are_live_and_are_listed_once: an area twice",
                [
                    filler(),
                    org(NEW, OrgKind::GridBranch, &[COMPOUND, COMPOUND]).into(),
                ],
                Refused(InvalidField, 1, Some("area_ids")),
            ),
            case(
                "a_work_unit_org_names_a_live_work_unit_and_no_areas: no work unit",
                [
                    filler(),
                    PartyOrgFounded {
                        work_unit_id: None,
                        ..work_unit_org(NEW, WORK_UNIT)
                    }
                    .into(),
                ],
                Refused(InvalidField, 1, Some("work_unit_id")),
            ),
            case(
                "a_work_unit_org_names_a_live_work_unit_and_no_areas: with areas",
                [
                    filler(),
                    PartyOrgFounded {
                        area_ids: Some(vec![COMPOUND]),
                        ..work_unit_org(NEW, WORK_UNIT)
                    }
                    .into(),
                ],
                Refused(InvalidField, 1, Some("area_ids")),
            ),
            case(
                "a_work_unit_org_names_a_live_work_unit_and_no_areas: an unknown work unit",
                [filler(), work_unit_org(NEW, UNKNOWN).into()],
                Refused(UnknownReference, 1, Some("work_unit_id")),
            ),
            case(
                "a_work_unit_org_names_a_live_work_unit_and_no_areas: a member as work unit",
                [filler(), work_unit_org(NEW, WORKER).into()],
                Refused(WrongKind, 1, Some("work_unit_id")),
            ),
            case(
                "only_a_work_unit_org_names_a_work_unit",
                [
                    filler(),
                    PartyOrgFounded {
                        work_unit_id: Some(WORK_UNIT),
                        ..org(NEW, OrgKind::CompoundBranch, &[COMPOUND_2])
                    }
                    .into(),
                ],
                Refused(InvalidField, 1, Some("work_unit_id")),
            ),
            case(
                "a_parent_organisation_is_a_live_organisation: a live one",
                [with_parent(COMMITTEE)],
                Accepted,
            ),
            case(
                "a_parent_organisation_is_a_live_organisation: an unknown one",
                [filler(), with_parent(UNKNOWN)],
                Refused(UnknownReference, 1, Some("parent_org_id")),
            ),
            case(
                "a_parent_organisation_is_a_live_organisation: an area",
                [filler(), with_parent(COMMUNITY)],
                Refused(WrongKind, 1, Some("parent_org_id")),
            ),
            case(
                "a_parent_organisation_is_a_live_organisation: a dissolved one",
                [dissolve(COMMITTEE), with_parent(COMMITTEE)],
                Refused(InactiveReference, 1, Some("parent_org_id")),
            ),
            case(
                "coverage_changes_follow_the_same_rules: to another compound",
                [change(BRANCH, &[COMPOUND_2])],
                Accepted,
            ),
            case(
                "coverage_changes_follow_the_same_rules: a branch to two compounds",
                [filler(), change(BRANCH, &[COMPOUND, COMPOUND_2])],
                Refused(InvalidField, 1, Some("area_ids")),
            ),
            case(
                "coverage_changes_follow_the_same_rules: a committee to a compound",
                [filler(), change(COMMITTEE, &[COMPOUND])],
                Refused(WrongKind, 1, Some("area_ids")),
            ),
            case(
                "coverage_changes_follow_the_same_rules: an unknown organisation",
                [filler(), change(UNKNOWN, &[COMPOUND])],
                Refused(UnknownReference, 1, Some("org_id")),
            ),
            case(
                "coverage_changes_follow_the_same_rules: a dissolved organisation",
                [dissolve(BRANCH), change(BRANCH, &[COMPOUND])],
                Refused(InactiveReference, 1, Some("org_id")),
            ),
            case_given(
                "coverage_changes_follow_the_same_rules: a work unit org to a compound",
                world_and([work_unit_org(NEW, WORK_UNIT).into()]),
                [filler(), change(NEW, &[COMPOUND])],
                Refused(InvalidField, 1, Some("area_ids")),
            ),
            case(
                "an_organisation_is_dissolved_once: twice",
                [filler(), dissolve(BRANCH), dissolve(BRANCH)],
                Refused(InvalidTransition, 2, None),
            ),
            case(
                "an_organisation_is_dissolved_once: an area",
                [filler(), dissolve(COMPOUND)],
                Refused(WrongKind, 1, Some("org_id")),
            ),
        ];
        for kind in [
            OrgKind::GridBranch,
            OrgKind::CommunityCommittee,
            OrgKind::BuildingGroup,
        ] {
            let name = "grid_branches_committees_and_groups_cover_at_least_one_area";
            cases.push(case(
                format!("{name}: {kind:?} with no areas"),
                [filler(), org(NEW, kind, &[]).into()],
                Refused(InvalidField, 1, Some("area_ids")),
            ));
            cases.push(case(
                format!("{name}: {kind:?} without area_ids"),
                [
                    filler(),
                    PartyOrgFounded {
                        area_ids: None,
                        ..org(NEW, kind, &[])
                    }
                    .into(),
                ],
                Refused(InvalidField, 1, Some("area_ids")),
            ));
        }
        run(cases);
    }
}

mod officers {
    use super::*;

    #[test]
    fn cases() {
        run(vec![
            case(
                "a_live_member_is_appointed_to_a_live_organisation: both live",
                [appoint(BRANCH, RESIDENT, OfficerRole::Secretary)],
                Accepted,
            ),
            case(
                "a_live_member_is_appointed_to_a_live_organisation: a dissolved organisation",
                [
                    dissolve(BRANCH),
                    appoint(BRANCH, RESIDENT, OfficerRole::Secretary),
                ],
                Refused(InactiveReference, 1, Some("org_id")),
            ),
            case(
                "a_live_member_is_appointed_to_a_live_organisation: a removed member",
                [
                    remove(RESIDENT),
                    appoint(BRANCH, RESIDENT, OfficerRole::Secretary),
                ],
                Refused(InactiveReference, 1, Some("member_id")),
            ),
            case(
                "a_live_member_is_appointed_to_a_live_organisation: a work unit as member",
                [filler(), appoint(BRANCH, WORK_UNIT, OfficerRole::CommitteeMember)],
                Refused(WrongKind, 1, Some("member_id")),
            ),
            case(
                "a_live_member_is_appointed_to_a_live_organisation: an unknown organisation",
                [filler(), appoint(UNKNOWN, RESIDENT, OfficerRole::CommitteeMember)],
                Refused(UnknownReference, 1, Some("org_id")),
            ),
            case(
                "a_member_holds_one_office_per_organisation: two in one",
                [
                    appoint(BRANCH, RESIDENT, OfficerRole::DeputySecretary),
                    appoint(BRANCH, RESIDENT, OfficerRole::CommitteeMember),
                ],
                Refused(RuleViolation, 1, Some("member_id")),
            ),
            case(
                "a_member_holds_one_office_per_organisation: one in each of two",
                [
                    appoint(BRANCH, RESIDENT, OfficerRole::CommitteeMember),
                    appoint(COMMITTEE, RESIDENT, OfficerRole::CommitteeMember),
                ],
                Accepted,
            ),
            case(
                "an_organisation_has_one_secretary_at_a_time: a second",
                [
                    appoint(BRANCH, RESIDENT, OfficerRole::Secretary),
                    appoint(BRANCH, WORKER, OfficerRole::Secretary),
                ],
                Refused(RuleViolation, 1, Some("role")),
            ),
            case(
                "an_organisation_has_one_secretary_at_a_time: after the first is relieved",
                [
                    appoint(BRANCH, RESIDENT, OfficerRole::Secretary),
                    relieve(BRANCH, RESIDENT),
                    appoint(BRANCH, WORKER, OfficerRole::Secretary),
                ],
                Accepted,
            ),
            case(
                "only_a_current_officer_is_relieved: never appointed",
                [filler(), relieve(BRANCH, RESIDENT)],
                Refused(InvalidTransition, 1, None),
            ),
            case_given(
                "only_a_current_officer_is_relieved: twice",
                world_and([appoint(BRANCH, RESIDENT, OfficerRole::Secretary)]),
                [relieve(BRANCH, RESIDENT), relieve(BRANCH, RESIDENT)],
                Refused(InvalidTransition, 1, None),
            ),
            case(
                "only_a_current_officer_is_relieved: an unknown member",
                [filler(), relieve(BRANCH, UNKNOWN)],
                Refused(UnknownReference, 1, Some("member_id")),
            ),
            case_given(
                "an_officer_can_be_relieved_after_the_member_is_removed",
                world_and([
                    appoint(BRANCH, RESIDENT, OfficerRole::Secretary),
                    remove(RESIDENT),
                ]),
                [relieve(BRANCH, RESIDENT)],
                Accepted,
            ),
        ]);
    }
}

mod five_haves {
    use super::*;

    fn venue(area_id: Uuid, area_m2: u32) -> Event {
        VenueEstablished {
            venue_id: NEW,
            area_id,
            name: "党群服务站".to_owned(),
            area_m2,
            source: VenueSource::Shared,
        }
        .into()
    }

    fn mechanism(area_id: Uuid, note: Option<&str>) -> Event {
        ServiceMechanismEstablished {
            area_id,
            mechanism: Mechanism::DeliberationHall,
            note: note.map(str::to_owned),
        }
        .into()
    }

    fn plan(plan_id: Uuid, area_id: Uuid, hazards: &[Hazard]) -> Event {
        EmergencyPlanFiled {
            plan_id,
            area_id,
            hazards: hazards.to_vec(),
        }
        .into()
    }

    fn drill(plan_id: Uuid, participants: u32) -> Event {
        EmergencyDrillHeld {
            plan_id,
            participants,
        }
        .into()
    }

    #[test]
    fn cases() {
        let long_note = "记".repeat(2001);
        run(vec![
            case(
                "a_venue_is_in_a_live_compound_or_community_and_has_an_area: in a compound",
                [venue(COMPOUND, 80)],
                Accepted,
            ),
            case(
                "a_venue_is_in_a_live_compound_or_community_and_has_an_area: in a community",
                [venue(COMMUNITY, 300)],
                Accepted,
            ),
            case(
                "a_venue_is_in_a_live_compound_or_community_and_has_an_area: in a building",
                [filler(), venue(BUILDING, 80)],
                Refused(WrongKind, 1, Some("area_id")),
            ),
            case(
                "a_venue_is_in_a_live_compound_or_community_and_has_an_area: of 0 m²",
                [filler(), venue(COMPOUND, 0)],
                Refused(InvalidField, 1, Some("area_m2")),
            ),
            case(
                "a_venue_is_in_a_live_compound_or_community_and_has_an_area: in an unknown area",
                [filler(), venue(UNKNOWN, 80)],
                Refused(UnknownReference, 1, Some("area_id")),
            ),
            case(
                "a_service_mechanism_is_in_a_live_compound_or_community: in a community",
                [mechanism(COMMUNITY, Some("每月15日")), mechanism(COMMUNITY, None)],
                Accepted,
            ),
            case(
                "a_service_mechanism_is_in_a_live_compound_or_community: in a town",
                [filler(), mechanism(TOWN, None)],
                Refused(WrongKind, 1, Some("area_id")),
            ),
            case(
                "a_service_mechanism_is_in_a_live_compound_or_community: in a retired compound",
                [retire(COMPOUND_2), mechanism(COMPOUND_2, None)],
                Refused(InactiveReference, 1, Some("area_id")),
            ),
            case(
                "a_service_mechanism_is_in_a_live_compound_or_community: a blank note",
                [filler(), mechanism(COMPOUND, Some(" "))],
                Refused(InvalidField, 1, Some("note")),
            ),
            case(
                "a_service_mechanism_is_in_a_live_compound_or_community: a 2001-character note",
                [filler(), mechanism(COMPOUND, Some(long_note.as_str()))],
                Refused(InvalidField, 1, Some("note")),
            ),
            case(
                "an_emergency_plan_names_hazards_once_each: two hazards",
                [plan(NEW, COMPOUND, &[Hazard::Fire, Hazard::Flood])],
                Accepted,
            ),
            case(
                "an_emergency_plan_names_hazards_once_each: none",
                [filler(), plan(NEW, COMPOUND, &[])],
                Refused(InvalidField, 1, Some("hazards")),
            ),
            case(
                "an_emergency_plan_names_hazards_once_each: one twice",
                [filler(), plan(NEW, COMPOUND, &[Hazard::Fire, Hazard::Fire])],
                Refused(InvalidField, 1, Some("hazards")),
            ),
            case(
                "an_emergency_plan_names_hazards_once_each: in a building",
                [filler(), plan(NEW, BUILDING, &[Hazard::Fire])],
                Refused(WrongKind, 1, Some("area_id")),
            ),
            case(
                "a_drill_follows_a_known_plan_and_has_participants: after its plan",
                [plan(NEW, COMPOUND, &[Hazard::Earthquake]), drill(NEW, 40)],
                Accepted,
            ),
            case(
                "a_drill_follows_a_known_plan_and_has_participants: an unknown plan",
                [filler(), drill(UNKNOWN, 40)],
                Refused(UnknownReference, 1, Some("plan_id")),
            ),
            case(
                "a_drill_follows_a_known_plan_and_has_participants: an area as plan",
                [filler(), drill(COMPOUND, 40)],
                Refused(WrongKind, 1, Some("plan_id")),
            ),
            case(
                "a_drill_follows_a_known_plan_and_has_participants: no participants",
                [plan(NEW, COMPOUND, &[Hazard::Other]), drill(NEW, 0)],
                Refused(InvalidField, 1, Some("participants")),
            ),
        ]);
    }
}

mod members {
    use super::*;

    #[test]
    fn cases() {
        let at = |home_area_id| -> Event {
            MemberEnrolled {
                home_area_id,
                ..enrol(NEW, MemberCategory::Retired, None)
            }
            .into()
        };
        let retire_member = || -> Event {
            MemberUpdated {
                category: Some(MemberCategory::Retired),
                ..update(RESIDENT)
            }
            .into()
        };
        let to_in_service = MemberUpdated {
            category: Some(MemberCategory::InService),
            ..update(RESIDENT)
        };
        run(vec![
            case(
                "a_work_unit_is_registered_in_a_live_county: in a town",
                [filler(), work_unit(NEW, TOWN)],
                Refused(WrongKind, 1, Some("county_id")),
            ),
            case(
                "a_work_unit_is_registered_in_a_live_county: in an unknown county",
                [filler(), work_unit(NEW, UNKNOWN)],
                Refused(UnknownReference, 1, Some("county_id")),
            ),
            case(
                "a_work_unit_is_registered_in_a_live_county: in a retired county",
                [retire(OTHER_COUNTY), work_unit(NEW, OTHER_COUNTY)],
                Refused(InactiveReference, 1, Some("county_id")),
            ),
            case(
                "a_work_unit_is_registered_in_a_live_county: without a name",
                [
                    filler(),
                    WorkUnitRegistered {
                        work_unit_id: NEW,
                        name: String::new(),
                        county_id: COUNTY,
                    }
                    .into(),
                ],
                Refused(InvalidField, 1, Some("name")),
            ),
            case(
                "a_member_lives_in_a_live_compound: a compound",
                [at(COMPOUND_2)],
                Accepted,
            ),
            case(
                "a_member_lives_in_a_live_compound: a building",
                [filler(), at(BUILDING)],
                Refused(WrongKind, 1, Some("home_area_id")),
            ),
            case(
                "a_member_lives_in_a_live_compound: a retired compound",
                [retire(COMPOUND_2), at(COMPOUND_2)],
                Refused(InactiveReference, 1, Some("home_area_id")),
            ),
            case(
                "an_in_service_member_needs_a_known_work_unit: none",
                [filler(), enrol(NEW, MemberCategory::InService, None).into()],
                Refused(InvalidField, 1, Some("work_unit_id")),
            ),
            case(
                "an_in_service_member_needs_a_known_work_unit: an unknown one",
                [
                    filler(),
                    enrol(NEW, MemberCategory::InService, Some(UNKNOWN)).into(),
                ],
                Refused(UnknownReference, 1, Some("work_unit_id")),
            ),
            case(
                "an_in_service_member_needs_a_known_work_unit: an area as work unit",
                [
                    filler(),
                    enrol(NEW, MemberCategory::Floating, Some(COMPOUND)).into(),
                ],
                Refused(WrongKind, 1, Some("work_unit_id")),
            ),
            case(
                "an_in_service_member_needs_a_known_work_unit: a blank name",
                [
                    filler(),
                    MemberEnrolled {
                        name: "".to_owned(),
                        ..enrol(NEW, MemberCategory::Resident, None)
                    }
                    .into(),
                ],
                Refused(InvalidField, 1, Some("name")),
            ),
            case(
                "an_update_changes_something_of_a_live_member: no change",
                [filler(), update(RESIDENT).into()],
                Refused(InvalidField, 1, None),
            ),
            case(
                "an_update_changes_something_of_a_live_member: a removed member",
                [filler(), remove(RESIDENT), retire_member()],
                Refused(InactiveReference, 2, Some("member_id")),
            ),
            case(
                "an_update_changes_something_of_a_live_member: a live member",
                [retire_member()],
                Accepted,
            ),
            case(
                "an_update_changes_something_of_a_live_member: home to a community",
                [
                    filler(),
                    MemberUpdated {
                        home_area_id: Some(COMMUNITY),
                        ..update(RESIDENT)
                    }
                    .into(),
                ],
                Refused(WrongKind, 1, Some("home_area_id")),
            ),
            case(
                "an_updated_in_service_member_has_a_work_unit: none",
                [filler(), to_in_service.clone().into()],
                Refused(InvalidField, 1, Some("work_unit_id")),
            ),
            case(
                "an_updated_in_service_member_has_a_work_unit: in the same update",
                [MemberUpdated {
                    work_unit_id: Some(WORK_UNIT),
                    ..to_in_service
                }
                .into()],
                Accepted,
            ),
            case(
                "an_updated_in_service_member_has_a_work_unit: in an earlier update",
                [
                    MemberUpdated {
                        work_unit_id: Some(WORK_UNIT),
                        ..update(RESIDENT)
                    }
                    .into(),
                    MemberUpdated {
                        category: Some(MemberCategory::InService),
                        ..update(RESIDENT)
                    }
                    .into(),
                ],
                Accepted,
            ),
            case(
                "an_updated_in_service_member_has_a_work_unit: a worker moves to an unknown one",
                [
                    filler(),
                    MemberUpdated {
                        work_unit_id: Some(UNKNOWN),
                        ..update(WORKER)
                    }
                    .into(),
                ],
                Refused(UnknownReference, 1, Some("work_unit_id")),
            ),
            case(
                "a_member_is_removed_once_and_with_a_reason: twice",
                [remove(RESIDENT), remove(RESIDENT)],
                Refused(InvalidTransition, 1, None),
            ),
            case(
                "a_member_is_removed_once_and_with_a_reason: an unknown member",
                [filler(), remove(UNKNOWN)],
                Refused(UnknownReference, 1, Some("member_id")),
            ),
            case(
                "a_member_is_removed_once_and_with_a_reason: a blank reason",
                [
                    filler(),
                    MemberRemoved {
                        member_id: RESIDENT,
                        reason: "  ".to_owned(),
                    }
                    .into(),
                ],
                Refused(InvalidField, 1, Some("reason")),
            ),
        ]);
    }
}

mod dual_registration {
    use super::*;

    #[test]
    fn cases() {
        let both_reported = || {
            world_and([
                member_reported(WORKER, COMPOUND),
                unit_reported(WORK_UNIT, COMMUNITY),
            ])
        };
        run(vec![
            case(
                "a_work_unit_reports_only_to_a_community: a community",
                [unit_reported(WORK_UNIT, COMMUNITY)],
                Accepted,
            ),
            case(
                "a_work_unit_reports_only_to_a_community: a compound",
                [filler(), unit_reported(WORK_UNIT, COMPOUND)],
                Refused(WrongKind, 1, Some("community_id")),
            ),
            case(
                "a_work_unit_reports_only_to_a_community: a member as work unit",
                [filler(), unit_reported(RESIDENT, COMMUNITY)],
                Refused(WrongKind, 1, Some("work_unit_id")),
            ),
            case(
                "a_work_unit_reports_once_to_a_community_of_its_county: twice",
                [
                    unit_reported(WORK_UNIT, COMMUNITY),
                    unit_reported(WORK_UNIT, COMMUNITY),
                ],
                Refused(RuleViolation, 1, Some("community_id")),
            ),
            case(
                "a_work_unit_reports_once_to_a_community_of_its_county: of another county",
                [filler(), unit_reported(WORK_UNIT, OTHER_COMMUNITY)],
                Refused(RuleViolation, 1, Some("community_id")),
            ),
            case(
                "a_work_unit_reports_once_to_a_community_of_its_county: of its county",
                [unit_reported(OTHER_WORK_UNIT, OTHER_COMMUNITY)],
                Accepted,
            ),
            case(
                "a_member_reports_only_to_a_live_compound: a compound",
                [member_reported(WORKER, COMPOUND)],
                Accepted,
            ),
            case(
                "a_member_reports_only_to_a_live_compound: a community",
                [filler(), member_reported(WORKER, COMMUNITY)],
                Refused(WrongKind, 1, Some("compound_id")),
            ),
            case(
                "a_member_reports_only_to_a_live_compound: a retired compound",
                [retire(COMPOUND_2), member_reported(WORKER, COMPOUND_2)],
                Refused(InactiveReference, 1, Some("compound_id")),
            ),
            case(
                "a_member_reports_only_to_a_live_compound: a removed member",
                [remove(WORKER), member_reported(WORKER, COMPOUND)],
                Refused(InactiveReference, 1, Some("member_id")),
            ),
            case(
                "a_member_reports_once_to_a_compound",
                [
                    member_reported(WORKER, COMPOUND),
                    filler(),
                    member_reported(WORKER, COMPOUND),
                ],
                Refused(RuleViolation, 2, Some("compound_id")),
            ),
            case_given(
                "a_withdrawal_names_exactly_one_reporter: two",
                both_reported(),
                [filler(), withdrawn(Some(WORKER), Some(WORK_UNIT), COMPOUND)],
                Refused(InvalidField, 1, None),
            ),
            case(
                "a_withdrawal_names_exactly_one_reporter: none",
                [filler(), withdrawn(None, None, COMPOUND)],
                Refused(InvalidField, 1, None),
            ),
            case(
                "only_a_current_report_is_withdrawn: an unknown area",
                [filler(), withdrawn(Some(WORKER), None, UNKNOWN)],
                Refused(UnknownReference, 1, Some("area_id")),
            ),
            case(
                "only_a_current_report_is_withdrawn: a member as work unit",
                [filler(), withdrawn(None, Some(WORKER), COMPOUND)],
                Refused(WrongKind, 1, Some("work_unit_id")),
            ),
        ]);
    }

    /// Withdrawn reports, then a second withdrawal and new reports on the state that left.
    #[test]
    fn only_a_current_report_is_withdrawn() {
        let state = given(world_and([
            member_reported(WORKER, COMPOUND),
            unit_reported(WORK_UNIT, COMMUNITY),
        ]))
        .when([
            withdrawn(Some(WORKER), None, COMPOUND),
            withdrawn(None, Some(WORK_UNIT), COMMUNITY),
        ])
        .then_accepted();
        Given(state.clone())
            .when([filler(), withdrawn(Some(WORKER), None, COMPOUND)])
            .then_refused(InvalidTransition, 1, None);
        Given(state)
            .when([
                member_reported(WORKER, COMPOUND),
                unit_reported(WORK_UNIT, COMMUNITY),
            ])
            .then_accepted();
    }
}

/// Text without control characters or only invisible ones, ids that are not reserved, and
/// counts a county office could really record.
mod input_hygiene {
    use super::*;

    fn named(member_id: Uuid, name: &str) -> Event {
        MemberEnrolled {
            name: name.to_owned(),
            ..enrol(member_id, MemberCategory::Resident, None)
        }
        .into()
    }

    fn filed_with(summary: &str) -> Event {
        ComplaintFiled {
            summary: summary.to_owned(),
            ..complaint(NEW)
        }
        .into()
    }

    fn building(units: u32) -> Event {
        AreaRegistered {
            units: Some(units),
            ..area(NEW, AreaKind::Building, Some(COMPOUND))
        }
        .into()
    }

    fn compound(households: u32) -> Event {
        AreaRegistered {
            households: Some(households),
            ..area(NEW, AreaKind::Compound, Some(COMMUNITY))
        }
        .into()
    }

    fn serving(minutes: u32, beneficiaries: u32) -> Event {
        ServiceRendered {
            service_id: NEW,
            by: ServiceProvider::MemberId(WORKER),
            area_id: COMPOUND,
            kind: ServiceKind::Repair,
            minutes,
            beneficiaries: Some(beneficiaries),
        }
        .into()
    }

    #[test]
    fn cases() {
        use govrec_core::rules::{
            BENEFICIARIES_MAX, BUILDING_UNITS_MAX, HOUSEHOLDS_MAX, SERVICE_MINUTES_MAX,
        };
        let refused = |field| Refused(InvalidField, 0, Some(field));
        run(vec![
            case("a plain name", [named(NEW, "王小明")], Accepted),
            case("a NUL in a name", [named(NEW, "王\0小明")], refused("name")),
            case("a tab in a name", [named(NEW, "王\t小明")], refused("name")),
            case(
                "a line break in a name",
                [named(NEW, "王\n小明")],
                refused("name"),
            ),
            case(
                "an escape in a name",
                [named(NEW, "\u{1b}[31m王")],
                refused("name"),
            ),
            case(
                "a name of zero-width spaces",
                [named(NEW, "\u{200B}\u{200B}")],
                refused("name"),
            ),
            case(
                "a name of a byte-order mark and spaces",
                [named(NEW, " \u{FEFF} ")],
                refused("name"),
            ),
            case(
                "line breaks and a tab in a summary",
                [filed_with("楼道灯坏了\n三楼\t东侧")],
                Accepted,
            ),
            case(
                "a NUL in a summary",
                [filed_with("楼道灯\0坏了")],
                refused("summary"),
            ),
            case(
                "a nil member id",
                [named(Uuid::nil(), "王小明")],
                refused("member_id"),
            ),
            case(
                "the max member id",
                [named(Uuid::max(), "王小明")],
                refused("member_id"),
            ),
            case(
                "a building of the most units",
                [building(BUILDING_UNITS_MAX)],
                Accepted,
            ),
            case(
                "a building of too many units",
                [building(BUILDING_UNITS_MAX + 1)],
                refused("units"),
            ),
            case(
                "a building of u32::MAX units",
                [building(u32::MAX)],
                refused("units"),
            ),
            case(
                "a compound of the most households",
                [compound(HOUSEHOLDS_MAX)],
                Accepted,
            ),
            case(
                "a compound of too many households",
                [compound(HOUSEHOLDS_MAX + 1)],
                refused("households"),
            ),
            case(
                "a service of a whole day",
                [serving(SERVICE_MINUTES_MAX, 3)],
                Accepted,
            ),
            case(
                "a service of more than a day",
                [serving(SERVICE_MINUTES_MAX + 1, 3)],
                refused("minutes"),
            ),
            case(
                "a service for too many",
                [serving(60, BENEFICIARIES_MAX + 1)],
                refused("beneficiaries"),
            ),
        ]);
    }
}

mod dual_service {
    use super::*;

    #[test]
    fn cases() {
        let name = "a_live_provider_serves_a_live_area_for_some_minutes";
        let by_worker = ServiceProvider::MemberId(WORKER);
        run(vec![
            case(
                format!("{name}: a member and a work unit"),
                [
                    service(NEW, by_worker, COMPOUND, 90),
                    service(NEW_2, ServiceProvider::WorkUnitId(WORK_UNIT), COUNTY, 120),
                ],
                Accepted,
            ),
            case(
                format!("{name}: 0 minutes"),
                [filler(), service(NEW, by_worker, COMPOUND, 0)],
                Refused(InvalidField, 1, Some("minutes")),
            ),
            case(
                format!("{name}: an unknown member"),
                [
                    filler(),
                    service(NEW, ServiceProvider::MemberId(UNKNOWN), COMPOUND, 30),
                ],
                Refused(UnknownReference, 1, Some("by.member_id")),
            ),
            case(
                format!("{name}: a member as work unit"),
                [
                    filler(),
                    service(NEW, ServiceProvider::WorkUnitId(WORKER), COMPOUND, 30),
                ],
                Refused(WrongKind, 1, Some("by.work_unit_id")),
            ),
            case(
                format!("{name}: a removed member"),
                [remove(WORKER), service(NEW, by_worker, COMPOUND, 30)],
                Refused(InactiveReference, 1, Some("by.member_id")),
            ),
            case(
                format!("{name}: a retired compound"),
                [retire(COMPOUND_2), service(NEW, by_worker, COMPOUND_2, 30)],
                Refused(InactiveReference, 1, Some("area_id")),
            ),
        ]);
    }
}

mod dual_pairing {
    use super::*;

    fn household(household_ref: &str) -> PairingTarget {
        PairingTarget::Household {
            household_ref: household_ref.to_owned(),
        }
    }

    #[test]
    fn cases() {
        let mentor = |to| {
            pairing(
                NEW,
                PairingKind::CadreSecretary,
                WORKER,
                PairingTarget::Member { member_id: to },
            )
        };
        let with_unit = |unit_no| {
            pairing(
                NEW,
                PairingKind::MemberBuildingUnit,
                RESIDENT,
                unit_of(BUILDING, unit_no),
            )
        };
        let established = || pairing(NEW, PairingKind::UnitCompound, WORK_UNIT, unit_of(COMPOUND, None));
        run(vec![
            case(
                "a_work_unit_pairs_with_a_whole_live_compound: a whole compound",
                [pairing(
                    NEW,
                    PairingKind::UnitCompound,
                    WORK_UNIT,
                    unit_of(COMPOUND, None),
                )],
                Accepted,
            ),
            case(
                "a_work_unit_pairs_with_a_whole_live_compound: a unit of it",
                [
                    filler(),
                    pairing(
                        NEW,
                        PairingKind::UnitCompound,
                        WORK_UNIT,
                        unit_of(COMPOUND, Some(1)),
                    ),
                ],
                Refused(InvalidField, 1, Some("to.unit_no")),
            ),
            case(
                "a_work_unit_pairs_with_a_whole_live_compound: a member for the work unit",
                [
                    filler(),
                    pairing(NEW, PairingKind::UnitCompound, WORKER, unit_of(COMPOUND, None)),
                ],
                Refused(WrongKind, 1, Some("from_id")),
            ),
            case(
                "a_work_unit_pairs_with_a_whole_live_compound: a building",
                [
                    filler(),
                    pairing(NEW, PairingKind::UnitCompound, WORK_UNIT, unit_of(BUILDING, None)),
                ],
                Refused(WrongKind, 1, Some("to.area_id")),
            ),
            case(
                "a_work_unit_pairs_with_a_whole_live_compound: a member",
                [
                    filler(),
                    pairing(
                        NEW,
                        PairingKind::UnitCompound,
                        WORK_UNIT,
                        PairingTarget::Member { member_id: WORKER },
                    ),
                ],
                Refused(InvalidField, 1, Some("to")),
            ),
            case(
                "a_cadre_mentors_another_live_member: another",
                [mentor(RESIDENT)],
                Accepted,
            ),
            case(
                "a_cadre_mentors_another_live_member: themself",
                [filler(), mentor(WORKER)],
                Refused(InvalidField, 1, Some("to.member_id")),
            ),
            case(
                "a_cadre_mentors_another_live_member: an unknown member",
                [filler(), mentor(UNKNOWN)],
                Refused(UnknownReference, 1, Some("to.member_id")),
            ),
            case(
                "a_cadre_mentors_another_live_member: a removed member",
                [remove(RESIDENT), mentor(RESIDENT)],
                Refused(InactiveReference, 1, Some("to.member_id")),
            ),
            case(
                "a_member_pairs_with_a_unit_the_building_has: its last",
                [with_unit(Some(4))],
                Accepted,
            ),
            case(
                "a_member_pairs_with_a_unit_the_building_has: its first",
                [with_unit(Some(1))],
                Accepted,
            ),
            case(
                "a_member_pairs_with_a_unit_the_building_has: one past its last",
                [filler(), with_unit(Some(5))],
                Refused(InvalidField, 1, Some("to.unit_no")),
            ),
            case(
                "a_member_pairs_with_a_unit_the_building_has: unit 0",
                [filler(), with_unit(Some(0))],
                Refused(InvalidField, 1, Some("to.unit_no")),
            ),
            case(
                "a_member_pairs_with_a_unit_the_building_has: no unit",
                [filler(), with_unit(None)],
                Refused(InvalidField, 1, Some("to.unit_no")),
            ),
            case(
                "a_member_pairs_with_a_unit_the_building_has: a unit of a compound",
                [
                    filler(),
                    pairing(
                        NEW,
                        PairingKind::MemberBuildingUnit,
                        RESIDENT,
                        unit_of(COMPOUND, Some(1)),
                    ),
                ],
                Refused(WrongKind, 1, Some("to.area_id")),
            ),
            case(
                "a_member_pairs_with_a_unit_the_building_has: a removed member",
                [remove(RESIDENT), with_unit(Some(1))],
                Refused(InactiveReference, 1, Some("from_id")),
            ),
            case(
                "a_member_pairs_with_a_household_by_its_pseudonym: a pseudonym",
                [pairing(
                    NEW,
                    PairingKind::MemberHousehold,
                    RESIDENT,
                    household("户-17"),
                )],
                Accepted,
            ),
            case(
                "a_member_pairs_with_a_household_by_its_pseudonym: a blank pseudonym",
                [
                    filler(),
                    pairing(NEW, PairingKind::MemberHousehold, RESIDENT, household("")),
                ],
                Refused(InvalidField, 1, Some("to.household_ref")),
            ),
            case(
                "a_member_pairs_with_a_household_by_its_pseudonym: a building unit",
                [
                    filler(),
                    pairing(
                        NEW,
                        PairingKind::MemberHousehold,
                        RESIDENT,
                        unit_of(BUILDING, Some(1)),
                    ),
                ],
                Refused(InvalidField, 1, Some("to")),
            ),
            case(
                "a_member_pairs_with_a_household_by_its_pseudonym: an unknown member",
                [
                    filler(),
                    pairing(NEW, PairingKind::MemberHousehold, UNKNOWN, household("户-17")),
                ],
                Refused(UnknownReference, 1, Some("from_id")),
            ),
            case_given(
                "a_pairing_ends_once: once",
                world_and([established()]),
                [end_pairing(NEW)],
                Accepted,
            ),
            case_given(
                "a_pairing_ends_once: twice",
                world_and([established()]),
                [end_pairing(NEW), end_pairing(NEW)],
                Refused(InvalidTransition, 1, None),
            ),
            case(
                "a_pairing_ends_once: an unknown pairing",
                [filler(), end_pairing(UNKNOWN)],
                Refused(UnknownReference, 1, Some("pairing_id")),
            ),
            case(
                "a_pairing_ends_once: a work unit as pairing",
                [filler(), end_pairing(WORK_UNIT)],
                Refused(WrongKind, 1, Some("pairing_id")),
            ),
        ]);
    }
}

mod dual_evaluation {
    use super::*;

    #[test]
    fn cases() {
        let by_residents = |evaluator_ref| -> Event {
            EvaluationRecorded {
                evaluator: Evaluator::Residents,
                evaluator_ref,
                comment: Some("服务热情".to_owned()),
                ..evaluation(NEW_2, PartyRef::WorkUnitId(WORK_UNIT), 88)
            }
            .into()
        };
        let recorded = || -> Event { evaluation(NEW, PartyRef::MemberId(WORKER), 70).into() };
        let mut cases = vec![
            case(
                "a_live_subject_is_scored_by_a_live_organisation_or_by_residents: both",
                [
                    evaluation(NEW, PartyRef::MemberId(WORKER), 95).into(),
                    by_residents(COMPOUND),
                ],
                Accepted,
            ),
            case(
                "a_live_subject_is_scored_by_a_live_organisation_or_by_residents: of a building",
                [filler(), by_residents(BUILDING)],
                Refused(WrongKind, 1, Some("evaluator_ref")),
            ),
            case(
                "a_live_subject_is_scored_by_a_live_organisation_or_by_residents: \
                 by a dissolved organisation",
                [
                    dissolve(BRANCH),
                    evaluation(NEW, PartyRef::OrgId(COMMITTEE), 90).into(),
                ],
                Refused(InactiveReference, 1, Some("evaluator_ref")),
            ),
            case(
                "a_live_subject_is_scored_by_a_live_organisation_or_by_residents: \
                 a work unit as member",
                [
                    filler(),
                    evaluation(NEW, PartyRef::MemberId(WORK_UNIT), 90).into(),
                ],
                Refused(WrongKind, 1, Some("subject.member_id")),
            ),
            case(
                "a_live_subject_is_scored_by_a_live_organisation_or_by_residents: a removed member",
                [
                    remove(WORKER),
                    evaluation(NEW, PartyRef::MemberId(WORKER), 90).into(),
                ],
                Refused(InactiveReference, 1, Some("subject.member_id")),
            ),
            case(
                "a_live_subject_is_scored_by_a_live_organisation_or_by_residents: \
                 an unknown organisation",
                [filler(), evaluation(NEW, PartyRef::OrgId(UNKNOWN), 90).into()],
                Refused(UnknownReference, 1, Some("subject.org_id")),
            ),
            case(
                "a_score_is_0_to_100: 100",
                [evaluation(NEW, PartyRef::OrgId(BRANCH), 100).into()],
                Accepted,
            ),
            case(
                "a_score_is_0_to_100: 0",
                [evaluation(NEW, PartyRef::OrgId(BRANCH), 0).into()],
                Accepted,
            ),
            case(
                "a_score_is_0_to_100: 101",
                [filler(), evaluation(NEW, PartyRef::OrgId(BRANCH), 101).into()],
                Refused(InvalidField, 1, Some("score")),
            ),
            case_given(
                "an_amendment_scores_a_live_evaluation_0_to_100: 100",
                world_and([recorded()]),
                [amend(NEW, 100)],
                Accepted,
            ),
            case_given(
                "an_amendment_scores_a_live_evaluation_0_to_100: 101",
                world_and([recorded()]),
                [filler(), amend(NEW, 101)],
                Refused(InvalidField, 1, Some("score")),
            ),
            case_given(
                "an_amendment_scores_a_live_evaluation_0_to_100: a retracted evaluation",
                world_and([recorded()]),
                [retract(NEW), amend(NEW, 80)],
                Refused(InactiveReference, 1, Some("evaluation_id")),
            ),
            case(
                "an_amendment_scores_a_live_evaluation_0_to_100: an unknown evaluation",
                [filler(), amend(UNKNOWN, 80)],
                Refused(UnknownReference, 1, Some("evaluation_id")),
            ),
            case(
                "an_amendment_scores_a_live_evaluation_0_to_100: an organisation as evaluation",
                [filler(), amend(BRANCH, 80)],
                Refused(WrongKind, 1, Some("evaluation_id")),
            ),
            case_given(
                "an_evaluation_is_retracted_once",
                world_and([recorded()]),
                [retract(NEW), retract(NEW)],
                Refused(InvalidTransition, 1, None),
            ),
        ];
        let in_period = |period: &str| -> Event {
            EvaluationRecorded {
                period: period.to_owned(),
                ..evaluation(NEW, PartyRef::OrgId(BRANCH), 80)
            }
            .into()
        };
        let name = "a_period_is_a_year_a_half_or_a_quarter";
        for period in [
            "2026", "2026-H1", "2026-H2", "2026-Q1", "2026-Q4", "2000", "2100-Q2",
        ] {
            cases.push(case(format!("{name}: {period:?}"), [in_period(period)], Accepted));
        }
        for period in [
            "",
            "26",
            "2026-",
            "2026-H3",
            "2026-Q5",
            "2026-Q0",
            "2026-q1",
            "1999",
            "2101",
            "+202",
            "2026-Q12",
            "二〇二六",
        ] {
            cases.push(case(
                format!("{name}: {period:?}"),
                [filler(), in_period(period)],
                Refused(InvalidField, 1, Some("period")),
            ));
        }
        run(cases);
    }
}

mod complaints {
    use super::*;

    /// The world and complaint `NEW` at each step of its life.
    fn filed() -> Vec<Event> {
        world_and([file(NEW)])
    }

    fn dispatched() -> Vec<Event> {
        world_and([file(NEW), dispatch_to_worker(NEW)])
    }

    fn accepted() -> Vec<Event> {
        world_and([file(NEW), dispatch_to_worker(NEW), accept(NEW)])
    }

    fn resolved() -> Vec<Event> {
        world_and([file(NEW), dispatch_to_worker(NEW), accept(NEW), resolve(NEW)])
    }

    #[test]
    fn cases() {
        let filed_as = |complaint: ComplaintFiled| -> Event { complaint.into() };
        let mut cases = vec![
            case(
                "the_whole_life_of_a_complaint_with_a_reassignment_and_a_reopening",
                [
                    file(NEW),
                    dispatch(NEW, PartyRef::OrgId(BRANCH), None),
                    dispatch_to_worker(NEW),
                    accept(NEW),
                    resolve(NEW),
                    rate(NEW, 2),
                    reopen(NEW),
                    accept(NEW),
                    resolve(NEW),
                    reopen(NEW),
                    dispatch(NEW, PartyRef::WorkUnitId(WORK_UNIT), Some("2027-01-15")),
                    accept(NEW),
                    resolve(NEW),
                    rate(NEW, 5),
                ],
                Accepted,
            ),
            case(
                "a_complaint_is_filed_in_a_live_compound_or_community: a community",
                [filed_as(ComplaintFiled {
                    area_id: COMMUNITY,
                    ..complaint(NEW)
                })],
                Accepted,
            ),
            case(
                "a_complaint_is_filed_in_a_live_compound_or_community: a building",
                [
                    filler(),
                    filed_as(ComplaintFiled {
                        area_id: BUILDING,
                        ..complaint(NEW)
                    }),
                ],
                Refused(WrongKind, 1, Some("area_id")),
            ),
            case(
                "a_complaint_is_filed_in_a_live_compound_or_community: a retired compound",
                [
                    retire(COMPOUND_2),
                    filed_as(ComplaintFiled {
                        area_id: COMPOUND_2,
                        ..complaint(NEW)
                    }),
                ],
                Refused(InactiveReference, 1, Some("area_id")),
            ),
            case(
                "a_complaint_has_a_summary_and_a_resident_pseudonym: an empty summary",
                [
                    filler(),
                    filed_as(ComplaintFiled {
                        summary: "".to_owned(),
                        ..complaint(NEW)
                    }),
                ],
                Refused(InvalidField, 1, Some("summary")),
            ),
            case(
                "a_complaint_has_a_summary_and_a_resident_pseudonym: a 2001-character summary",
                [
                    filler(),
                    filed_as(ComplaintFiled {
                        summary: "字".repeat(2001),
                        ..complaint(NEW)
                    }),
                ],
                Refused(InvalidField, 1, Some("summary")),
            ),
            case(
                "a_complaint_has_a_summary_and_a_resident_pseudonym: a 2000-character summary",
                [filed_as(ComplaintFiled {
                    summary: "字".repeat(2000),
                    ..complaint(NEW)
                })],
                Accepted,
            ),
            case(
                "a_complaint_has_a_summary_and_a_resident_pseudonym: a blank pseudonym",
                [
                    filler(),
                    filed_as(ComplaintFiled {
                        resident_ref: " ".to_owned(),
                        ..complaint(NEW)
                    }),
                ],
                Refused(InvalidField, 1, Some("resident_ref")),
            ),
            case_given(
                "a_complaint_is_dispatched_to_a_live_assignee: an unknown organisation",
                filed(),
                [filler(), dispatch(NEW, PartyRef::OrgId(UNKNOWN), None)],
                Refused(UnknownReference, 1, Some("assignee.org_id")),
            ),
            case_given(
                "a_complaint_is_dispatched_to_a_live_assignee: a removed member",
                filed(),
                [remove(WORKER), dispatch_to_worker(NEW)],
                Refused(InactiveReference, 1, Some("assignee.member_id")),
            ),
            case_given(
                "a_complaint_is_dispatched_to_a_live_assignee: an organisation as work unit",
                filed(),
                [filler(), dispatch(NEW, PartyRef::WorkUnitId(BRANCH), None)],
                Refused(WrongKind, 1, Some("assignee.work_unit_id")),
            ),
            case_given(
                "every_step_happens_only_in_its_turn: accepted when filed",
                filed(),
                [filler(), accept(NEW)],
                Refused(InvalidTransition, 1, None),
            ),
            case_given(
                "every_step_happens_only_in_its_turn: resolved when filed",
                filed(),
                [filler(), resolve(NEW)],
                Refused(InvalidTransition, 1, None),
            ),
            case_given(
                "every_step_happens_only_in_its_turn: reopened when filed",
                filed(),
                [filler(), reopen(NEW)],
                Refused(InvalidTransition, 1, None),
            ),
            case_given(
                "every_step_happens_only_in_its_turn: resolved when dispatched",
                dispatched(),
                [filler(), resolve(NEW)],
                Refused(InvalidTransition, 1, None),
            ),
            case_given(
                "every_step_happens_only_in_its_turn: rated when dispatched",
                dispatched(),
                [filler(), rate(NEW, 5)],
                Refused(InvalidTransition, 1, None),
            ),
            case_given(
                "every_step_happens_only_in_its_turn: dispatched when accepted",
                accepted(),
                [filler(), dispatch_to_worker(NEW)],
                Refused(InvalidTransition, 1, None),
            ),
            case_given(
                "every_step_happens_only_in_its_turn: accepted when accepted",
                accepted(),
                [filler(), accept(NEW)],
                Refused(InvalidTransition, 1, None),
            ),
            case_given(
                "every_step_happens_only_in_its_turn: rated when accepted",
                accepted(),
                [filler(), rate(NEW, 5)],
                Refused(InvalidTransition, 1, None),
            ),
            case_given(
                "every_step_happens_only_in_its_turn: reopened when accepted",
                accepted(),
                [filler(), reopen(NEW)],
                Refused(InvalidTransition, 1, None),
            ),
            case_given(
                "every_step_happens_only_in_its_turn: resolved when resolved",
                resolved(),
                [filler(), resolve(NEW)],
                Refused(InvalidTransition, 1, None),
            ),
            case_given(
                "every_step_happens_only_in_its_turn: dispatched when resolved",
                resolved(),
                [filler(), dispatch_to_worker(NEW)],
                Refused(InvalidTransition, 1, None),
            ),
            case_given(
                "a_rating_comes_after_a_resolution_once: twice",
                resolved(),
                [rate(NEW, 4), rate(NEW, 5)],
                Refused(InvalidTransition, 1, None),
            ),
            case_given(
                "a_rating_comes_after_a_resolution_once: after a reopening",
                resolved(),
                [rate(NEW, 4), reopen(NEW), rate(NEW, 5)],
                Refused(InvalidTransition, 2, None),
            ),
            case_given("satisfaction_is_1_to_5: 1", resolved(), [rate(NEW, 1)], Accepted),
            case_given("satisfaction_is_1_to_5: 5", resolved(), [rate(NEW, 5)], Accepted),
            case_given(
                "satisfaction_is_1_to_5: 0",
                resolved(),
                [filler(), rate(NEW, 0)],
                Refused(InvalidField, 1, Some("satisfaction")),
            ),
            case_given(
                "satisfaction_is_1_to_5: 6",
                resolved(),
                [filler(), rate(NEW, 6)],
                Refused(InvalidField, 1, Some("satisfaction")),
            ),
            case_given(
                "a_resolution_and_a_reopening_say_why: a resolution",
                accepted(),
                [
                    filler(),
                    ComplaintResolved {
                        complaint_id: NEW,
                        resolution: "".to_owned(),
                    }
                    .into(),
                ],
                Refused(InvalidField, 1, Some("resolution")),
            ),
            case_given(
                "a_resolution_and_a_reopening_say_why: a reopening",
                resolved(),
                [
                    filler(),
                    ComplaintReopened {
                        complaint_id: NEW,
                        reason: "".to_owned(),
                    }
                    .into(),
                ],
                Refused(InvalidField, 1, Some("reason")),
            ),
            case(
                "a_complaint_event_names_a_known_complaint: an unknown one",
                [filler(), accept(UNKNOWN)],
                Refused(UnknownReference, 1, Some("complaint_id")),
            ),
            case(
                "a_complaint_event_names_a_known_complaint: a member",
                [filler(), accept(WORKER)],
                Refused(WrongKind, 1, Some("complaint_id")),
            ),
        ];
        let name = "a_due_date_is_a_real_calendar_date";
        for due_on in ["2028-02-29", "2026-12-31", "2026-01-01"] {
            cases.push(case_given(
                format!("{name}: {due_on:?}"),
                filed(),
                [dispatch(NEW, PartyRef::OrgId(BRANCH), Some(due_on))],
                Accepted,
            ));
        }
        for due_on in [
            "2026-02-29",
            "2100-02-29",
            "2026-04-31",
            "2026-13-01",
            "2026-00-10",
            "2026-01-00",
            "26-01-01",
            "2026/01/01",
            "2026-1-1",
            "",
            "2026-01-01T00:00",
        ] {
            cases.push(case_given(
                format!("{name}: {due_on:?}"),
                filed(),
                [filler(), dispatch(NEW, PartyRef::OrgId(BRANCH), Some(due_on))],
                Refused(InvalidField, 1, Some("due_on")),
            ));
        }
        run(cases);
    }
}

mod redactions {
    use super::*;

    /// The world and a complaint filed at the returned seq.
    fn with_complaint() -> (Vec<Event>, u64) {
        let events = world_and([file(NEW)]);
        let complaint_seq = events.len() as u64 - 1;
        (events, complaint_seq)
    }

    #[test]
    fn cases() {
        let (events, seq) = with_complaint();
        let enrolment_seq = 11;
        assert!(matches!(&world()[enrolment_seq], Event::MemberEnrolled(_)));
        let world_seq = given(world()).0.next_seq();
        run(vec![
            case_given(
                "personal_fields_of_an_earlier_record_are_redacted: of a complaint",
                events.clone(),
                [redact(seq, &["summary", "resident_ref"])],
                Accepted,
            ),
            case(
                "personal_fields_of_an_earlier_record_are_redacted: of an enrolment",
                [redact(enrolment_seq as u64, &["name"])],
                Accepted,
            ),
            case(
                "a_record_earlier_in_the_same_batch_may_be_redacted",
                [file(NEW), redact(world_seq, &["summary"])],
                Accepted,
            ),
            case_given(
                "the_target_is_an_earlier_record: one past the head",
                events.clone(),
                [filler(), redact(seq + 2, &["summary"])],
                Refused(UnknownReference, 1, Some("target_seq")),
            ),
            case_given(
                "the_target_is_an_earlier_record: earlier in the batch",
                events.clone(),
                [file(NEW_2), redact(seq + 1, &["summary"])],
                Accepted,
            ),
            case(
                "the_target_is_an_earlier_record: the largest seq",
                [filler(), redact(u64::MAX, &["summary"])],
                Refused(UnknownReference, 1, Some("target_seq")),
            ),
            case_given(
                "a_redaction_is_never_redacted",
                events.clone(),
                [redact(seq, &["summary"]), redact(seq + 1, &["reason"])],
                Refused(WrongKind, 1, Some("target_seq")),
            ),
            case_given(
                "only_personal_fields_are_redacted_each_once: no fields",
                events.clone(),
                [filler(), redact(seq, &[])],
                Refused(InvalidField, 1, Some("fields")),
            ),
            case_given(
                "only_personal_fields_are_redacted_each_once: a place",
                events.clone(),
                [filler(), redact(seq, &["area_id"])],
                Refused(InvalidField, 1, Some("fields")),
            ),
            case_given(
                "only_personal_fields_are_redacted_each_once: a field the record lacks",
                events.clone(),
                [filler(), redact(seq, &["resolution"])],
                Refused(InvalidField, 1, Some("fields")),
            ),
            case_given(
                "only_personal_fields_are_redacted_each_once: a field twice",
                events.clone(),
                [filler(), redact(seq, &["summary", "summary"])],
                Refused(InvalidField, 1, Some("fields")),
            ),
            case_given(
                "only_personal_fields_are_redacted_each_once: a field again",
                events.clone(),
                [
                    redact(seq, &["summary"]),
                    redact(seq, &["resident_ref", "summary"]),
                ],
                Refused(RuleViolation, 1, Some("target_seq")),
            ),
            // A record is redacted once (its marker names one redaction), naming every field.
            case_given(
                "only_personal_fields_are_redacted_each_once: a record again",
                events.clone(),
                [redact(seq, &["summary"]), redact(seq, &["resident_ref"])],
                Refused(RuleViolation, 1, Some("target_seq")),
            ),
            case_given(
                "only_personal_fields_are_redacted_each_once: every field at once",
                events,
                [redact(seq, &["summary", "resident_ref"])],
                Accepted,
            ),
            case(
                "only_personal_fields_are_redacted_each_once: the name of an area",
                [filler(), redact(0, &["name"])],
                Refused(InvalidField, 1, Some("fields")),
            ),
        ]);
    }
}

mod entity_ids {
    use super::*;

    #[test]
    fn cases() {
        let name = "an_id_that_creates_an_entity_is_new_across_all_kinds";
        let venue = |venue_id| -> Event {
            VenueEstablished {
                venue_id,
                area_id: COMPOUND,
                name: "活动室".to_owned(),
                area_m2: 40,
                source: VenueSource::Built,
            }
            .into()
        };
        run(vec![
            case(
                format!("{name}: a county's id for a county"),
                [filler(), county(COUNTY)],
                Refused(DuplicateId, 1, Some("area_id")),
            ),
            case(
                format!("{name}: a member's id for a county"),
                [filler(), county(RESIDENT)],
                Refused(DuplicateId, 1, Some("area_id")),
            ),
            case(
                format!("{name}: an area's id for a member"),
                [filler(), resident(COMPOUND)],
                Refused(DuplicateId, 1, Some("member_id")),
            ),
            case(
                format!("{name}: an organisation's id for a work unit"),
                [filler(), work_unit(BRANCH, COUNTY)],
                Refused(DuplicateId, 1, Some("work_unit_id")),
            ),
            case(
                format!("{name}: a member's id for an organisation"),
                [
                    filler(),
                    org(WORKER, OrgKind::CompoundBranch, &[COMPOUND_2]).into(),
                ],
                Refused(DuplicateId, 1, Some("org_id")),
            ),
            case(
                format!("{name}: a work unit's id for a service"),
                [
                    filler(),
                    service(WORK_UNIT, ServiceProvider::MemberId(WORKER), COMPOUND, 30),
                ],
                Refused(DuplicateId, 1, Some("service_id")),
            ),
            case(
                format!("{name}: a county's id for a pairing"),
                [
                    filler(),
                    pairing(
                        COUNTY,
                        PairingKind::UnitCompound,
                        WORK_UNIT,
                        unit_of(COMPOUND, None),
                    ),
                ],
                Refused(DuplicateId, 1, Some("pairing_id")),
            ),
            case(
                format!("{name}: a town's id for an evaluation"),
                [filler(), evaluation(TOWN, PartyRef::MemberId(WORKER), 80).into()],
                Refused(DuplicateId, 1, Some("evaluation_id")),
            ),
            case(
                format!("{name}: a community's id for a complaint"),
                [filler(), file(COMMUNITY)],
                Refused(DuplicateId, 1, Some("complaint_id")),
            ),
            case(
                "an_id_created_earlier_in_the_batch_is_taken: a complaint's for a member",
                [file(NEW), filler(), resident(NEW)],
                Refused(DuplicateId, 2, Some("member_id")),
            ),
            case(
                "an_id_created_earlier_in_the_batch_is_taken: a venue's for a venue",
                [venue(NEW), venue(NEW)],
                Refused(DuplicateId, 1, Some("venue_id")),
            ),
            case(
                "an_id_created_earlier_in_the_batch_is_taken: a venue's for a plan",
                [
                    venue(NEW),
                    EmergencyPlanFiled {
                        plan_id: NEW,
                        area_id: COMPOUND,
                        hazards: vec![Hazard::Fire],
                    }
                    .into(),
                ],
                Refused(DuplicateId, 1, Some("plan_id")),
            ),
        ]);
    }
}

mod batches {
    use super::*;

    #[test]
    fn a_batch_whose_third_event_is_bad_leaves_nothing_behind() {
        let mut state = given(world()).0;
        let next_seq = state.next_seq();
        let batch = [
            county(NEW),
            child(NEW_2, AreaKind::Town, NEW),
            child(id(0x903), AreaKind::Town, UNKNOWN),
        ];
        let violation = state.check_and_apply(next_seq, &batch).unwrap_err();
        assert_eq!((violation.code, violation.index), (UnknownReference, 2));
        assert_eq!(state.next_seq(), next_seq);
        // Had the first two events stayed, these ids would now be taken.
        state
            .check_and_apply(next_seq, &[county(NEW_2), county(NEW)])
            .expect("the ids are still free");
        assert_eq!(state.next_seq(), next_seq + 2);
    }

    #[test]
    fn a_refused_batch_undoes_updates_as_well_as_creations() {
        let mut state = given(world_and([
            file(NEW),
            appoint(BRANCH, RESIDENT, OfficerRole::Secretary),
        ]))
        .0;
        let next_seq = state.next_seq();
        let batch = [
            dispatch_to_worker(NEW),
            accept(NEW),
            relieve(BRANCH, RESIDENT),
            member_reported(WORKER, COMPOUND),
            retire(COMPOUND_2),
            remove(RESIDENT),
            redact(next_seq - 2, &["summary"]),
            accept(UNKNOWN),
        ];
        let violation = state.check_and_apply(next_seq, &batch).unwrap_err();
        assert_eq!((violation.code, violation.index), (UnknownReference, 7));
        assert_eq!(state.next_seq(), next_seq);
        // Each of these passes only on the state from before the batch.
        let follow_up = [
            dispatch_to_worker(NEW),
            relieve(BRANCH, RESIDENT),
            member_reported(WORKER, COMPOUND),
            retire(COMPOUND_2),
            remove(RESIDENT),
            redact(next_seq - 2, &["summary"]),
        ];
        state
            .check_and_apply(next_seq, &follow_up)
            .expect("the state is as before the refused batch");
    }

    #[test]
    fn an_empty_batch_changes_nothing() {
        given(world()).when([]).then_accepted();
    }

    #[test]
    fn a_violation_names_its_event_and_its_code() {
        let violation = given(world())
            .when([filler(), filler(), retire(UNKNOWN)])
            .then_refused(UnknownReference, 2, Some("area_id"));
        assert!(
            violation.message.contains(&UNKNOWN.to_string()),
            "{}",
            violation.message
        );
        assert!(violation.to_string().starts_with("event 2: "), "{violation}");
    }

    #[test]
    fn codes_have_stable_words() {
        let expected = [
            (UnknownReference, "unknown_reference"),
            (WrongKind, "wrong_kind"),
            (InactiveReference, "inactive_reference"),
            (InvalidField, "invalid_field"),
            (InvalidTransition, "invalid_transition"),
            (DuplicateId, "duplicate_id"),
            (RuleViolation, "rule_violation"),
        ];
        for (code, word) in expected {
            assert_eq!(code.as_str(), word);
        }
    }
}

mod replay {
    use super::*;

    fn history() -> Vec<Event> {
        world_and([
            file(NEW),
            dispatch_to_worker(NEW),
            accept(NEW),
            resolve(NEW),
            rate(NEW, 4),
            appoint(BRANCH, RESIDENT, OfficerRole::Secretary),
            member_reported(WORKER, COMPOUND),
            unit_reported(WORK_UNIT, COMMUNITY),
            withdrawn(None, Some(WORK_UNIT), COMMUNITY),
            evaluation(NEW_2, PartyRef::MemberId(WORKER), 91).into(),
            retract(NEW_2),
            retire(COMPOUND_2),
            redact(15, &["summary"]),
        ])
    }

    #[test]
    fn replaying_the_accepted_events_rebuilds_the_same_state() {
        let checked = given(history()).0;
        let mut replayed = State::new();
        for (seq, event) in history().iter().enumerate() {
            replayed
                .apply_recorded(seq as u64, event)
                .expect("a recorded event applies");
        }
        assert_eq!(replayed, checked);
        assert_eq!(replayed.next_seq(), history().len() as u64);
    }

    #[test]
    fn replay_needs_consecutive_seqs() {
        let mut state = State::new();
        let error = state.apply_recorded(1, &county(COUNTY)).unwrap_err();
        assert_eq!(error.seq, 1);
        assert_eq!(state, State::new());
    }

    #[test]
    fn replay_refuses_an_event_that_cannot_apply_and_changes_nothing() {
        let mut state = State::new();
        state.apply_recorded(0, &county(COUNTY)).unwrap();
        let before = state.clone();
        for event in [
            retire(UNKNOWN),
            accept(COUNTY),
            county(COUNTY),
            relieve(COUNTY, RESIDENT),
            withdrawn(Some(RESIDENT), None, COUNTY),
            redact(5, &["name"]),
            redact(0, &["kind"]),
        ] {
            let error = state.apply_recorded(1, &event).unwrap_err();
            assert_eq!(error.seq, 1, "{error}");
            assert_eq!(state, before, "{event:?}");
        }
    }

    #[test]
    fn replay_applies_what_the_rules_of_today_would_refuse() {
        let mut state = State::new();
        let orphan_town = area(TOWN, AreaKind::Town, None).into();
        for (seq, event) in [county(COUNTY), orphan_town, retire(COUNTY), retire(COUNTY)]
            .iter()
            .enumerate()
        {
            state
                .apply_recorded(seq as u64, event)
                .expect("replay applies without the rules");
        }
        assert_eq!(state.next_seq(), 4);
        assert_eq!(state.county_of(TOWN), None);
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::select;

    const COMPOUNDS: [Uuid; 2] = [COMPOUND, COMPOUND_2];
    const AREAS: [Uuid; 6] = [COUNTY, TOWN, COMMUNITY, COMPOUND, BUILDING, COMPOUND_2];
    const MEMBERS: [Uuid; 2] = [RESIDENT, WORKER];
    const ORGS: [Uuid; 2] = [COMMITTEE, BRANCH];

    /// Ids the generated events create, from a small pool so that they collide and are
    /// referred to by later events.
    fn fresh() -> impl Strategy<Value = Uuid> {
        (0u128..6).prop_map(|n| id(0x7000 + n))
    }

    /// The ids of one family of created entities (complaints, say); the first
    /// `FAMILY_EXISTING` of them exist from the start, so that events following one up often
    /// find it, and the others can be created.
    fn family(base: u128) -> impl Strategy<Value = Uuid> {
        (0u128..6).prop_map(move |n| id(base + n))
    }

    const FAMILY_EXISTING: u128 = 4;

    /// The world, with an officer, reports, pairings, evaluations, and complaints at each
    /// step of their life, to follow up.
    fn start() -> Vec<Event> {
        let mut events = world_and([
            appoint(BRANCH, RESIDENT, OfficerRole::Secretary),
            member_reported(WORKER, COMPOUND),
            unit_reported(WORK_UNIT, COMMUNITY),
        ]);
        for n in 0..FAMILY_EXISTING {
            let complaint_id = id(0x7100 + n);
            let steps = [
                file(complaint_id),
                dispatch_to_worker(complaint_id),
                accept(complaint_id),
                resolve(complaint_id),
            ];
            events.extend(steps.into_iter().take(n as usize + 1));
            let unit = unit_of(BUILDING, Some(n as u32 + 1));
            events.push(pairing(
                id(0x7200 + n),
                PairingKind::MemberBuildingUnit,
                WORKER,
                unit,
            ));
            events.push(evaluation(id(0x7300 + n), PartyRef::MemberId(RESIDENT), 80).into());
        }
        events
    }

    fn complaint_id() -> impl Strategy<Value = Uuid> {
        family(0x7100)
    }

    fn pairing_id() -> impl Strategy<Value = Uuid> {
        family(0x7200)
    }

    fn evaluation_id() -> impl Strategy<Value = Uuid> {
        family(0x7300)
    }

    /// Mostly one of `ids` of the world, sometimes a fresh id (which may name anything, or
    /// nothing yet): events are often valid, and often not.
    fn known<const N: usize>(ids: [Uuid; N]) -> impl Strategy<Value = Uuid> {
        prop_oneof![6 => select(ids.to_vec()), 1 => fresh()]
    }

    fn area_kind() -> impl Strategy<Value = AreaKind> {
        select(vec![
            AreaKind::Town,
            AreaKind::Community,
            AreaKind::Compound,
            AreaKind::Building,
        ])
    }

    fn party() -> impl Strategy<Value = PartyRef> {
        prop_oneof![
            known(MEMBERS).prop_map(PartyRef::MemberId),
            known([WORK_UNIT, OTHER_WORK_UNIT]).prop_map(PartyRef::WorkUnitId),
            known(ORGS).prop_map(PartyRef::OrgId),
        ]
    }

    fn structure() -> impl Strategy<Value = Event> {
        prop_oneof![
            3 => (fresh(), area_kind(), known(AREAS)).prop_map(|(area_id, kind, parent_id)| child(area_id, kind, parent_id)),
            1 => known([COMPOUND_2, BUILDING]).prop_map(retire),
            3 => (fresh(), known(COMPOUNDS)).prop_map(|(member_id, home_area_id)| {
                MemberEnrolled { home_area_id, ..enrol(member_id, MemberCategory::Resident, None) }.into()
            }),
            1 => known([RESIDENT]).prop_map(remove),
            3 => (fresh(), known([COUNTY, OTHER_COUNTY])).prop_map(|(work_unit_id, county_id)| work_unit(work_unit_id, county_id)),
            3 => (fresh(), known(COMPOUNDS)).prop_map(|(org_id, area_id)| org(org_id, OrgKind::CompoundBranch, &[area_id]).into()),
            1 => known([COMMITTEE]).prop_map(dissolve),
            3 => (known(ORGS), known(MEMBERS), any::<bool>()).prop_map(|(org_id, member_id, secretary)| {
                let role = if secretary { OfficerRole::Secretary } else { OfficerRole::CommitteeMember };
                appoint(org_id, member_id, role)
            }),
            3 => (known(ORGS), known(MEMBERS)).prop_map(|(org_id, member_id)| relieve(org_id, member_id)),
        ]
    }

    fn activity() -> impl Strategy<Value = Event> {
        prop_oneof![
            (known(MEMBERS), known(COMPOUNDS))
                .prop_map(|(member_id, compound_id)| member_reported(member_id, compound_id)),
            (known(MEMBERS), known(COMPOUNDS)).prop_map(|(member_id, area_id)| withdrawn(
                Some(member_id),
                None,
                area_id
            )),
            (
                known([WORK_UNIT, OTHER_WORK_UNIT]),
                known([COMMUNITY, OTHER_COMMUNITY])
            )
                .prop_map(|(work_unit_id, community_id)| unit_reported(work_unit_id, community_id)),
            (pairing_id(), known(MEMBERS), 0u32..6).prop_map(|(pairing_id, from_id, unit_no)| {
                pairing(
                    pairing_id,
                    PairingKind::MemberBuildingUnit,
                    from_id,
                    unit_of(BUILDING, Some(unit_no)),
                )
            }),
            pairing_id().prop_map(end_pairing),
            (complaint_id(), known(COMPOUNDS)).prop_map(|(complaint_id, area_id)| ComplaintFiled {
                area_id,
                ..complaint(complaint_id)
            }
            .into()),
            (complaint_id(), party()).prop_map(|(complaint_id, assignee)| dispatch(
                complaint_id,
                assignee,
                None
            )),
            complaint_id().prop_map(accept),
            complaint_id().prop_map(resolve),
            (complaint_id(), 0u32..7)
                .prop_map(|(complaint_id, satisfaction)| rate(complaint_id, satisfaction)),
            complaint_id().prop_map(reopen),
            (evaluation_id(), party(), known([COMPOUND, COMMUNITY]), 90u32..110).prop_map(
                |(evaluation_id, subject, evaluator_ref, score)| EvaluationRecorded {
                    evaluator: Evaluator::Residents,
                    evaluator_ref,
                    ..evaluation(evaluation_id, subject, score)
                }
                .into()
            ),
            (evaluation_id(), 90u32..110).prop_map(|(evaluation_id, score)| amend(evaluation_id, score)),
            evaluation_id().prop_map(retract),
            (
                0u64..60,
                select(vec!["name", "summary", "resident_ref", "reason", "area_id"])
            )
                .prop_map(|(target_seq, field)| redact(target_seq, &[field])),
        ]
    }

    fn batches() -> impl Strategy<Value = Vec<Vec<Event>>> {
        let event = prop_oneof![1 => structure(), 2 => activity()];
        proptest::collection::vec(proptest::collection::vec(event, 1..4), 1..120)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// After any mix of accepted and refused batches, the state equals one that saw only
        /// the accepted batches, and one rebuilt by replaying their events.
        #[test]
        fn refused_batches_leave_no_trace(batches in batches()) {
            let start = start();
            let mut through_failures = given(start.clone()).0;
            let mut only_successes = through_failures.clone();
            let mut accepted = start;
            for batch in batches {
                let before = through_failures.clone();
                let seq = through_failures.next_seq();
                match through_failures.check_and_apply(seq, &batch) {
                    Ok(()) => {
                        prop_assert!(only_successes.check_and_apply(seq, &batch).is_ok());
                        accepted.extend(batch);
                    }
                    Err(violation) => {
                        prop_assert!(violation.index < batch.len());
                        prop_assert_eq!(&through_failures, &before);
                    }
                }
                prop_assert_eq!(&through_failures, &only_successes);
            }
            let mut replayed = State::new();
            for (seq, event) in accepted.iter().enumerate() {
                prop_assert!(replayed.apply_recorded(seq as u64, event).is_ok());
            }
            prop_assert_eq!(&replayed, &through_failures);
        }
    }
}
