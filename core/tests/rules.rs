//! The rules an append must pass, as given events / when a batch / then accepted or refused
//! with a code, the index of the offending event and the field at fault.

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

/// The state after `events`, each of which must pass.
fn given(events: impl IntoIterator<Item = Event>) -> Given {
    let mut state = State::new();
    for (index, event) in events.into_iter().enumerate() {
        let seq = state.next_seq();
        if let Err(violation) = state.check_and_apply(seq, std::slice::from_ref(&event)) {
            panic!("given event {index} was refused: {violation}");
        }
    }
    Given(state)
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
    fn then_accepted(self) -> State {
        if let Err(violation) = self.result {
            panic!("the batch was refused: {violation:?}");
        }
        self.after
    }

    fn then_refused(self, code: ViolationCode, index: usize, field: Option<&str>) -> Violation {
        let violation = self.result.expect_err("the batch should be refused");
        let got = (violation.code, violation.index, violation.field.as_deref());
        assert_eq!(got, (code, index, field), "{}", violation.message);
        assert!(!violation.message.is_empty());
        assert_eq!(
            self.after, self.before,
            "a refused batch leaves the state as it was"
        );
        violation
    }
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

    #[test]
    fn a_parent_must_exist() {
        given(world())
            .when([filler(), child(NEW, AreaKind::Compound, UNKNOWN)])
            .then_refused(UnknownReference, 1, Some("parent_id"));
    }

    #[test]
    fn a_parent_must_be_the_level_above() {
        given(world())
            .when([filler(), filler(), child(NEW, AreaKind::Compound, TOWN)])
            .then_refused(WrongKind, 2, Some("parent_id"));
        given(world())
            .when([child(NEW, AreaKind::Town, TOWN)])
            .then_refused(WrongKind, 0, Some("parent_id"));
    }

    #[test]
    fn a_parent_that_is_not_an_area_is_the_wrong_kind() {
        given(world())
            .when([filler(), child(NEW, AreaKind::Compound, RESIDENT)])
            .then_refused(WrongKind, 1, Some("parent_id"));
    }

    #[test]
    fn a_parent_must_be_live() {
        given(world_and([retire(COMMUNITY)]))
            .when([
                filler_in(OTHER_COMMUNITY),
                child(NEW, AreaKind::Compound, COMMUNITY),
            ])
            .then_refused(InactiveReference, 1, Some("parent_id"));
        given(world_and([retire(COMPOUND_2)]))
            .when([filler(), child(NEW, AreaKind::Building, COMPOUND_2)])
            .then_refused(InactiveReference, 1, Some("parent_id"));
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
    fn retiring_an_area_retires_everything_below_it() {
        given(world_and([retire(TOWN)]))
            .when([VenueEstablished {
                venue_id: NEW,
                area_id: COMPOUND,
                name: "党群服务站".to_owned(),
                area_m2: 80,
                source: VenueSource::Built,
            }
            .into()])
            .then_refused(InactiveReference, 0, Some("area_id"));
        given(world_and([retire(COMPOUND)]))
            .when([retire(BUILDING)])
            .then_refused(InvalidTransition, 0, None);
    }

    #[test]
    fn only_a_county_has_no_parent() {
        given(world())
            .when([filler(), area(NEW, AreaKind::County, Some(OTHER_COUNTY)).into()])
            .then_refused(InvalidField, 1, Some("parent_id"));
        given(world())
            .when([filler(), area(NEW, AreaKind::Town, None).into()])
            .then_refused(InvalidField, 1, Some("parent_id"));
    }

    #[test]
    fn compound_extras_are_for_compounds_only() {
        let with_households = AreaRegistered {
            households: Some(10),
            ..area(NEW, AreaKind::Community, Some(TOWN))
        };
        given(world())
            .when([filler(), with_households.into()])
            .then_refused(InvalidField, 1, Some("households"));
        let with_kind = AreaRegistered {
            compound_kind: Some(CompoundKind::WorkUnit),
            ..area(NEW, AreaKind::Building, Some(COMPOUND))
        };
        given(world()).when([filler(), with_kind.into()]).then_refused(
            InvalidField,
            1,
            Some("compound_kind"),
        );
        let with_management = AreaRegistered {
            has_property_management: Some(true),
            ..area(NEW, AreaKind::Town, Some(COUNTY))
        };
        given(world()).when([with_management.into()]).then_refused(
            InvalidField,
            0,
            Some("has_property_management"),
        );
    }

    #[test]
    fn a_building_needs_at_least_one_unit_and_nothing_else_has_units() {
        let without = AreaRegistered {
            units: None,
            ..area(NEW, AreaKind::Building, Some(COMPOUND))
        };
        given(world())
            .when([filler(), without.into()])
            .then_refused(InvalidField, 1, Some("units"));
        let zero = AreaRegistered {
            units: Some(0),
            ..area(NEW, AreaKind::Building, Some(COMPOUND))
        };
        given(world())
            .when([filler(), filler(), zero.into()])
            .then_refused(InvalidField, 2, Some("units"));
        let compound = AreaRegistered {
            units: Some(3),
            ..area(NEW, AreaKind::Compound, Some(COMMUNITY))
        };
        given(world())
            .when([filler(), compound.into()])
            .then_refused(InvalidField, 1, Some("units"));
        let one = AreaRegistered {
            units: Some(1),
            ..area(NEW, AreaKind::Building, Some(COMPOUND))
        };
        given(world()).when([one.into()]).then_accepted();
    }

    #[test]
    fn a_name_is_not_blank_and_at_most_200_characters() {
        let blank = AreaRegistered {
            name: " \t".to_owned(),
            ..area(NEW, AreaKind::County, None)
        };
        given(world())
            .when([filler(), blank.into()])
            .then_refused(InvalidField, 1, Some("name"));
        let long = AreaRegistered {
            name: "县".repeat(201),
            ..area(NEW, AreaKind::County, None)
        };
        given(world())
            .when([filler(), long.into()])
            .then_refused(InvalidField, 1, Some("name"));
        let longest = AreaRegistered {
            name: "县".repeat(200),
            ..area(NEW, AreaKind::County, None)
        };
        given(world()).when([longest.into()]).then_accepted();
    }

    #[test]
    fn retiring_needs_a_live_known_area_and_a_reason() {
        given(world())
            .when([filler(), retire(UNKNOWN)])
            .then_refused(UnknownReference, 1, Some("area_id"));
        given(world())
            .when([filler(), retire(WORKER)])
            .then_refused(WrongKind, 1, Some("area_id"));
        given(world())
            .when([retire(COMPOUND_2), retire(COMPOUND_2)])
            .then_refused(InvalidTransition, 1, None);
        let no_reason = AreaRetired {
            area_id: COMPOUND_2,
            reason: String::new(),
        };
        given(world())
            .when([filler(), no_reason.into()])
            .then_refused(InvalidField, 1, Some("reason"));
    }

    #[test]
    fn county_of_walks_up_the_parents() {
        let state = given(world()).0;
        assert_eq!(state.county_of(BUILDING), Some(COUNTY));
        assert_eq!(state.county_of(COUNTY), Some(COUNTY));
        assert_eq!(state.county_of(OTHER_COMMUNITY), Some(OTHER_COUNTY));
        assert_eq!(state.county_of(UNKNOWN), None);
        assert_eq!(state.county_of(RESIDENT), None);
    }
}

mod organisations {
    use super::*;

    #[test]
    fn each_kind_covers_its_own_level() {
        given(world())
            .when([
                org(NEW, OrgKind::GridBranch, &[COMPOUND, COMPOUND_2]).into(),
                org(NEW_2, OrgKind::BuildingGroup, &[BUILDING]).into(),
                work_unit_org(id(0x903), WORK_UNIT).into(),
            ])
            .then_accepted();
        given(world())
            .when([
                filler(),
                org(NEW, OrgKind::CommunityCommittee, &[COMPOUND]).into(),
            ])
            .then_refused(WrongKind, 1, Some("area_ids"));
        given(world())
            .when([
                filler(),
                org(NEW, OrgKind::GridBranch, &[COMPOUND, BUILDING]).into(),
            ])
            .then_refused(WrongKind, 1, Some("area_ids"));
        given(world())
            .when([filler(), org(NEW, OrgKind::BuildingGroup, &[COMPOUND]).into()])
            .then_refused(WrongKind, 1, Some("area_ids"));
    }

    #[test]
    fn a_compound_branch_covers_exactly_one_compound() {
        given(world())
            .when([
                filler(),
                org(NEW, OrgKind::CompoundBranch, &[COMPOUND, COMPOUND_2]).into(),
            ])
            .then_refused(InvalidField, 1, Some("area_ids"));
        given(world())
            .when([filler(), filler(), org(NEW, OrgKind::CompoundBranch, &[]).into()])
            .then_refused(InvalidField, 2, Some("area_ids"));
    }

    #[test]
    fn grid_branches_committees_and_groups_cover_at_least_one_area() {
        for kind in [
            OrgKind::GridBranch,
            OrgKind::CommunityCommittee,
            OrgKind::BuildingGroup,
        ] {
            given(world())
                .when([filler(), org(NEW, kind, &[]).into()])
                .then_refused(InvalidField, 1, Some("area_ids"));
            let absent = PartyOrgFounded {
                area_ids: None,
                ..org(NEW, kind, &[])
            };
            given(world())
                .when([filler(), absent.into()])
                .then_refused(InvalidField, 1, Some("area_ids"));
        }
    }

    #[test]
    fn covered_areas_exist_are_live_and_are_listed_once() {
        given(world())
            .when([
                filler(),
                org(NEW, OrgKind::GridBranch, &[COMPOUND, UNKNOWN]).into(),
            ])
            .then_refused(UnknownReference, 1, Some("area_ids"));
        given(world_and([retire(COMPOUND_2)]))
            .when([
                filler(),
                org(NEW, OrgKind::GridBranch, &[COMPOUND, COMPOUND_2]).into(),
            ])
            .then_refused(InactiveReference, 1, Some("area_ids"));
        given(world())
            .when([
                filler(),
                org(NEW, OrgKind::GridBranch, &[COMPOUND, COMPOUND]).into(),
            ])
            .then_refused(InvalidField, 1, Some("area_ids"));
    }

    #[test]
    fn a_work_unit_org_names_a_live_work_unit_and_no_areas() {
        let without = PartyOrgFounded {
            work_unit_id: None,
            ..work_unit_org(NEW, WORK_UNIT)
        };
        given(world())
            .when([filler(), without.into()])
            .then_refused(InvalidField, 1, Some("work_unit_id"));
        let with_areas = PartyOrgFounded {
            area_ids: Some(vec![COMPOUND]),
            ..work_unit_org(NEW, WORK_UNIT)
        };
        given(world())
            .when([filler(), with_areas.into()])
            .then_refused(InvalidField, 1, Some("area_ids"));
        given(world())
            .when([filler(), work_unit_org(NEW, UNKNOWN).into()])
            .then_refused(UnknownReference, 1, Some("work_unit_id"));
        given(world())
            .when([filler(), work_unit_org(NEW, WORKER).into()])
            .then_refused(WrongKind, 1, Some("work_unit_id"));
    }

    #[test]
    fn only_a_work_unit_org_names_a_work_unit() {
        let branch = PartyOrgFounded {
            work_unit_id: Some(WORK_UNIT),
            ..org(NEW, OrgKind::CompoundBranch, &[COMPOUND_2])
        };
        given(world())
            .when([filler(), branch.into()])
            .then_refused(InvalidField, 1, Some("work_unit_id"));
    }

    #[test]
    fn a_parent_organisation_is_a_live_organisation() {
        let with_parent = |parent| PartyOrgFounded {
            parent_org_id: Some(parent),
            ..org(NEW, OrgKind::CompoundBranch, &[COMPOUND_2])
        };
        given(world())
            .when([with_parent(COMMITTEE).into()])
            .then_accepted();
        given(world())
            .when([filler(), with_parent(UNKNOWN).into()])
            .then_refused(UnknownReference, 1, Some("parent_org_id"));
        given(world())
            .when([filler(), with_parent(COMMUNITY).into()])
            .then_refused(WrongKind, 1, Some("parent_org_id"));
        given(world())
            .when([dissolve(COMMITTEE), with_parent(COMMITTEE).into()])
            .then_refused(InactiveReference, 1, Some("parent_org_id"));
    }

    #[test]
    fn coverage_changes_follow_the_same_rules() {
        let change = |org_id, area_ids: &[Uuid]| -> Event {
            PartyOrgCoverageChanged {
                org_id,
                area_ids: area_ids.to_vec(),
            }
            .into()
        };
        given(world())
            .when([change(BRANCH, &[COMPOUND_2])])
            .then_accepted();
        given(world())
            .when([filler(), change(BRANCH, &[COMPOUND, COMPOUND_2])])
            .then_refused(InvalidField, 1, Some("area_ids"));
        given(world())
            .when([filler(), change(COMMITTEE, &[COMPOUND])])
            .then_refused(WrongKind, 1, Some("area_ids"));
        given(world())
            .when([filler(), change(UNKNOWN, &[COMPOUND])])
            .then_refused(UnknownReference, 1, Some("org_id"));
        given(world())
            .when([dissolve(BRANCH), change(BRANCH, &[COMPOUND])])
            .then_refused(InactiveReference, 1, Some("org_id"));
        given(world_and([work_unit_org(NEW, WORK_UNIT).into()]))
            .when([filler(), change(NEW, &[COMPOUND])])
            .then_refused(InvalidField, 1, Some("area_ids"));
    }

    #[test]
    fn an_organisation_is_dissolved_once() {
        given(world())
            .when([filler(), dissolve(BRANCH), dissolve(BRANCH)])
            .then_refused(InvalidTransition, 2, None);
        given(world())
            .when([filler(), dissolve(COMPOUND)])
            .then_refused(WrongKind, 1, Some("org_id"));
    }
}

mod officers {
    use super::*;

    #[test]
    fn a_live_member_is_appointed_to_a_live_organisation() {
        given(world())
            .when([appoint(BRANCH, RESIDENT, OfficerRole::Secretary)])
            .then_accepted();
        given(world())
            .when([
                dissolve(BRANCH),
                appoint(BRANCH, RESIDENT, OfficerRole::Secretary),
            ])
            .then_refused(InactiveReference, 1, Some("org_id"));
        given(world())
            .when([
                remove(RESIDENT),
                appoint(BRANCH, RESIDENT, OfficerRole::Secretary),
            ])
            .then_refused(InactiveReference, 1, Some("member_id"));
        given(world())
            .when([filler(), appoint(BRANCH, WORK_UNIT, OfficerRole::CommitteeMember)])
            .then_refused(WrongKind, 1, Some("member_id"));
        given(world())
            .when([filler(), appoint(UNKNOWN, RESIDENT, OfficerRole::CommitteeMember)])
            .then_refused(UnknownReference, 1, Some("org_id"));
    }

    #[test]
    fn a_member_holds_one_office_per_organisation() {
        given(world())
            .when([
                appoint(BRANCH, RESIDENT, OfficerRole::DeputySecretary),
                appoint(BRANCH, RESIDENT, OfficerRole::CommitteeMember),
            ])
            .then_refused(RuleViolation, 1, Some("member_id"));
        given(world())
            .when([
                appoint(BRANCH, RESIDENT, OfficerRole::CommitteeMember),
                appoint(COMMITTEE, RESIDENT, OfficerRole::CommitteeMember),
            ])
            .then_accepted();
    }

    #[test]
    fn an_organisation_has_one_secretary_at_a_time() {
        given(world())
            .when([
                appoint(BRANCH, RESIDENT, OfficerRole::Secretary),
                appoint(BRANCH, WORKER, OfficerRole::Secretary),
            ])
            .then_refused(RuleViolation, 1, Some("role"));
        given(world())
            .when([
                appoint(BRANCH, RESIDENT, OfficerRole::Secretary),
                relieve(BRANCH, RESIDENT),
                appoint(BRANCH, WORKER, OfficerRole::Secretary),
            ])
            .then_accepted();
    }

    #[test]
    fn only_a_current_officer_is_relieved() {
        given(world())
            .when([filler(), relieve(BRANCH, RESIDENT)])
            .then_refused(InvalidTransition, 1, None);
        given(world_and([appoint(BRANCH, RESIDENT, OfficerRole::Secretary)]))
            .when([relieve(BRANCH, RESIDENT), relieve(BRANCH, RESIDENT)])
            .then_refused(InvalidTransition, 1, None);
        given(world())
            .when([filler(), relieve(BRANCH, UNKNOWN)])
            .then_refused(UnknownReference, 1, Some("member_id"));
    }

    #[test]
    fn an_officer_can_be_relieved_after_the_member_is_removed() {
        given(world_and([
            appoint(BRANCH, RESIDENT, OfficerRole::Secretary),
            remove(RESIDENT),
        ]))
        .when([relieve(BRANCH, RESIDENT)])
        .then_accepted();
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
    fn a_venue_is_in_a_live_compound_or_community_and_has_an_area() {
        given(world()).when([venue(COMPOUND, 80)]).then_accepted();
        given(world()).when([venue(COMMUNITY, 300)]).then_accepted();
        given(world())
            .when([filler(), venue(BUILDING, 80)])
            .then_refused(WrongKind, 1, Some("area_id"));
        given(world())
            .when([filler(), venue(COMPOUND, 0)])
            .then_refused(InvalidField, 1, Some("area_m2"));
        given(world()).when([filler(), venue(UNKNOWN, 80)]).then_refused(
            UnknownReference,
            1,
            Some("area_id"),
        );
    }

    #[test]
    fn a_service_mechanism_is_in_a_live_compound_or_community() {
        let mechanism = |area_id, note: Option<&str>| -> Event {
            ServiceMechanismEstablished {
                area_id,
                mechanism: Mechanism::DeliberationHall,
                note: note.map(str::to_owned),
            }
            .into()
        };
        given(world())
            .when([mechanism(COMMUNITY, Some("每月15日")), mechanism(COMMUNITY, None)])
            .then_accepted();
        given(world())
            .when([filler(), mechanism(TOWN, None)])
            .then_refused(WrongKind, 1, Some("area_id"));
        given(world())
            .when([retire(COMPOUND_2), mechanism(COMPOUND_2, None)])
            .then_refused(InactiveReference, 1, Some("area_id"));
        given(world())
            .when([filler(), mechanism(COMPOUND, Some(" "))])
            .then_refused(InvalidField, 1, Some("note"));
        let long = "记".repeat(2001);
        given(world())
            .when([filler(), mechanism(COMPOUND, Some(long.as_str()))])
            .then_refused(InvalidField, 1, Some("note"));
    }

    #[test]
    fn an_emergency_plan_names_hazards_once_each() {
        given(world())
            .when([plan(NEW, COMPOUND, &[Hazard::Fire, Hazard::Flood])])
            .then_accepted();
        given(world())
            .when([filler(), plan(NEW, COMPOUND, &[])])
            .then_refused(InvalidField, 1, Some("hazards"));
        given(world())
            .when([filler(), plan(NEW, COMPOUND, &[Hazard::Fire, Hazard::Fire])])
            .then_refused(InvalidField, 1, Some("hazards"));
        given(world())
            .when([filler(), plan(NEW, BUILDING, &[Hazard::Fire])])
            .then_refused(WrongKind, 1, Some("area_id"));
    }

    #[test]
    fn a_drill_follows_a_known_plan_and_has_participants() {
        given(world())
            .when([plan(NEW, COMPOUND, &[Hazard::Earthquake]), drill(NEW, 40)])
            .then_accepted();
        given(world()).when([filler(), drill(UNKNOWN, 40)]).then_refused(
            UnknownReference,
            1,
            Some("plan_id"),
        );
        given(world())
            .when([filler(), drill(COMPOUND, 40)])
            .then_refused(WrongKind, 1, Some("plan_id"));
        given(world())
            .when([plan(NEW, COMPOUND, &[Hazard::Other]), drill(NEW, 0)])
            .then_refused(InvalidField, 1, Some("participants"));
    }
}

mod members {
    use super::*;

    #[test]
    fn a_work_unit_is_registered_in_a_live_county() {
        given(world())
            .when([filler(), work_unit(NEW, TOWN)])
            .then_refused(WrongKind, 1, Some("county_id"));
        given(world())
            .when([filler(), work_unit(NEW, UNKNOWN)])
            .then_refused(UnknownReference, 1, Some("county_id"));
        given(world())
            .when([retire(OTHER_COUNTY), work_unit(NEW, OTHER_COUNTY)])
            .then_refused(InactiveReference, 1, Some("county_id"));
        let blank = WorkUnitRegistered {
            work_unit_id: NEW,
            name: String::new(),
            county_id: COUNTY,
        };
        given(world())
            .when([filler(), blank.into()])
            .then_refused(InvalidField, 1, Some("name"));
    }

    #[test]
    fn a_member_lives_in_a_live_compound() {
        let at = |home_area_id| -> Event {
            MemberEnrolled {
                home_area_id,
                ..enrol(NEW, MemberCategory::Retired, None)
            }
            .into()
        };
        given(world()).when([at(COMPOUND_2)]).then_accepted();
        given(world())
            .when([filler(), at(BUILDING)])
            .then_refused(WrongKind, 1, Some("home_area_id"));
        given(world())
            .when([retire(COMPOUND_2), at(COMPOUND_2)])
            .then_refused(InactiveReference, 1, Some("home_area_id"));
    }

    #[test]
    fn an_in_service_member_needs_a_known_work_unit() {
        given(world())
            .when([filler(), enrol(NEW, MemberCategory::InService, None).into()])
            .then_refused(InvalidField, 1, Some("work_unit_id"));
        given(world())
            .when([
                filler(),
                enrol(NEW, MemberCategory::InService, Some(UNKNOWN)).into(),
            ])
            .then_refused(UnknownReference, 1, Some("work_unit_id"));
        given(world())
            .when([
                filler(),
                enrol(NEW, MemberCategory::Floating, Some(COMPOUND)).into(),
            ])
            .then_refused(WrongKind, 1, Some("work_unit_id"));
        let blank = MemberEnrolled {
            name: "".to_owned(),
            ..enrol(NEW, MemberCategory::Resident, None)
        };
        given(world())
            .when([filler(), blank.into()])
            .then_refused(InvalidField, 1, Some("name"));
    }

    #[test]
    fn an_update_changes_something_of_a_live_member() {
        given(world())
            .when([filler(), update(RESIDENT).into()])
            .then_refused(InvalidField, 1, None);
        let retire_member = MemberUpdated {
            category: Some(MemberCategory::Retired),
            ..update(RESIDENT)
        };
        given(world())
            .when([filler(), remove(RESIDENT), retire_member.clone().into()])
            .then_refused(InactiveReference, 2, Some("member_id"));
        given(world()).when([retire_member.into()]).then_accepted();
        let moved = MemberUpdated {
            home_area_id: Some(COMMUNITY),
            ..update(RESIDENT)
        };
        given(world())
            .when([filler(), moved.into()])
            .then_refused(WrongKind, 1, Some("home_area_id"));
    }

    #[test]
    fn an_updated_in_service_member_has_a_work_unit() {
        let to_in_service = MemberUpdated {
            category: Some(MemberCategory::InService),
            ..update(RESIDENT)
        };
        given(world())
            .when([filler(), to_in_service.clone().into()])
            .then_refused(InvalidField, 1, Some("work_unit_id"));
        let with_unit = MemberUpdated {
            work_unit_id: Some(WORK_UNIT),
            ..to_in_service
        };
        given(world()).when([with_unit.into()]).then_accepted();
        let two_steps = [
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
        ];
        given(world()).when(two_steps).then_accepted();
        let worker_moves = MemberUpdated {
            work_unit_id: Some(UNKNOWN),
            ..update(WORKER)
        };
        given(world()).when([filler(), worker_moves.into()]).then_refused(
            UnknownReference,
            1,
            Some("work_unit_id"),
        );
    }

    #[test]
    fn a_member_is_removed_once_and_with_a_reason() {
        given(world())
            .when([remove(RESIDENT), remove(RESIDENT)])
            .then_refused(InvalidTransition, 1, None);
        given(world())
            .when([filler(), remove(UNKNOWN)])
            .then_refused(UnknownReference, 1, Some("member_id"));
        let no_reason = MemberRemoved {
            member_id: RESIDENT,
            reason: "  ".to_owned(),
        };
        given(world())
            .when([filler(), no_reason.into()])
            .then_refused(InvalidField, 1, Some("reason"));
    }
}

mod dual_registration {
    use super::*;

    #[test]
    fn a_work_unit_reports_only_to_a_community() {
        given(world())
            .when([unit_reported(WORK_UNIT, COMMUNITY)])
            .then_accepted();
        given(world())
            .when([filler(), unit_reported(WORK_UNIT, COMPOUND)])
            .then_refused(WrongKind, 1, Some("community_id"));
        given(world())
            .when([filler(), unit_reported(RESIDENT, COMMUNITY)])
            .then_refused(WrongKind, 1, Some("work_unit_id"));
    }

    #[test]
    fn a_work_unit_reports_once_to_a_community_of_its_county() {
        given(world())
            .when([
                unit_reported(WORK_UNIT, COMMUNITY),
                unit_reported(WORK_UNIT, COMMUNITY),
            ])
            .then_refused(RuleViolation, 1, Some("community_id"));
        given(world())
            .when([filler(), unit_reported(WORK_UNIT, OTHER_COMMUNITY)])
            .then_refused(RuleViolation, 1, Some("community_id"));
        given(world())
            .when([unit_reported(OTHER_WORK_UNIT, OTHER_COMMUNITY)])
            .then_accepted();
    }

    #[test]
    fn a_member_reports_only_to_a_live_compound() {
        given(world())
            .when([member_reported(WORKER, COMPOUND)])
            .then_accepted();
        given(world())
            .when([filler(), member_reported(WORKER, COMMUNITY)])
            .then_refused(WrongKind, 1, Some("compound_id"));
        given(world())
            .when([retire(COMPOUND_2), member_reported(WORKER, COMPOUND_2)])
            .then_refused(InactiveReference, 1, Some("compound_id"));
        given(world())
            .when([remove(WORKER), member_reported(WORKER, COMPOUND)])
            .then_refused(InactiveReference, 1, Some("member_id"));
    }

    #[test]
    fn a_member_reports_once_to_a_compound() {
        given(world())
            .when([
                member_reported(WORKER, COMPOUND),
                filler(),
                member_reported(WORKER, COMPOUND),
            ])
            .then_refused(RuleViolation, 2, Some("compound_id"));
    }

    #[test]
    fn a_withdrawal_names_exactly_one_reporter() {
        given(world_and([
            member_reported(WORKER, COMPOUND),
            unit_reported(WORK_UNIT, COMMUNITY),
        ]))
        .when([filler(), withdrawn(Some(WORKER), Some(WORK_UNIT), COMPOUND)])
        .then_refused(InvalidField, 1, None);
        given(world())
            .when([filler(), withdrawn(None, None, COMPOUND)])
            .then_refused(InvalidField, 1, None);
    }

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
        given(world())
            .when([filler(), withdrawn(Some(WORKER), None, UNKNOWN)])
            .then_refused(UnknownReference, 1, Some("area_id"));
        given(world())
            .when([filler(), withdrawn(None, Some(WORKER), COMPOUND)])
            .then_refused(WrongKind, 1, Some("work_unit_id"));
    }
}

mod dual_service {
    use super::*;

    #[test]
    fn a_live_provider_serves_a_live_area_for_some_minutes() {
        given(world())
            .when([
                service(NEW, ServiceProvider::MemberId(WORKER), COMPOUND, 90),
                service(NEW_2, ServiceProvider::WorkUnitId(WORK_UNIT), COUNTY, 120),
            ])
            .then_accepted();
        given(world())
            .when([
                filler(),
                service(NEW, ServiceProvider::MemberId(WORKER), COMPOUND, 0),
            ])
            .then_refused(InvalidField, 1, Some("minutes"));
        given(world())
            .when([
                filler(),
                service(NEW, ServiceProvider::MemberId(UNKNOWN), COMPOUND, 30),
            ])
            .then_refused(UnknownReference, 1, Some("by.member_id"));
        given(world())
            .when([
                filler(),
                service(NEW, ServiceProvider::WorkUnitId(WORKER), COMPOUND, 30),
            ])
            .then_refused(WrongKind, 1, Some("by.work_unit_id"));
        given(world())
            .when([
                remove(WORKER),
                service(NEW, ServiceProvider::MemberId(WORKER), COMPOUND, 30),
            ])
            .then_refused(InactiveReference, 1, Some("by.member_id"));
        given(world())
            .when([
                retire(COMPOUND_2),
                service(NEW, ServiceProvider::MemberId(WORKER), COMPOUND_2, 30),
            ])
            .then_refused(InactiveReference, 1, Some("area_id"));
    }
}

mod dual_pairing {
    use super::*;

    #[test]
    fn a_work_unit_pairs_with_a_whole_live_compound() {
        given(world())
            .when([pairing(
                NEW,
                PairingKind::UnitCompound,
                WORK_UNIT,
                unit_of(COMPOUND, None),
            )])
            .then_accepted();
        given(world())
            .when([
                filler(),
                pairing(
                    NEW,
                    PairingKind::UnitCompound,
                    WORK_UNIT,
                    unit_of(COMPOUND, Some(1)),
                ),
            ])
            .then_refused(InvalidField, 1, Some("to.unit_no"));
        given(world())
            .when([
                filler(),
                pairing(NEW, PairingKind::UnitCompound, WORKER, unit_of(COMPOUND, None)),
            ])
            .then_refused(WrongKind, 1, Some("from_id"));
        given(world())
            .when([
                filler(),
                pairing(NEW, PairingKind::UnitCompound, WORK_UNIT, unit_of(BUILDING, None)),
            ])
            .then_refused(WrongKind, 1, Some("to.area_id"));
        given(world())
            .when([
                filler(),
                pairing(
                    NEW,
                    PairingKind::UnitCompound,
                    WORK_UNIT,
                    PairingTarget::Member { member_id: WORKER },
                ),
            ])
            .then_refused(InvalidField, 1, Some("to"));
    }

    #[test]
    fn a_cadre_mentors_another_live_member() {
        let mentor = |to| {
            pairing(
                NEW,
                PairingKind::CadreSecretary,
                WORKER,
                PairingTarget::Member { member_id: to },
            )
        };
        given(world()).when([mentor(RESIDENT)]).then_accepted();
        given(world())
            .when([filler(), mentor(WORKER)])
            .then_refused(InvalidField, 1, Some("to.member_id"));
        given(world()).when([filler(), mentor(UNKNOWN)]).then_refused(
            UnknownReference,
            1,
            Some("to.member_id"),
        );
        given(world())
            .when([remove(RESIDENT), mentor(RESIDENT)])
            .then_refused(InactiveReference, 1, Some("to.member_id"));
    }

    #[test]
    fn a_member_pairs_with_a_unit_the_building_has() {
        let with_unit = |unit_no| {
            pairing(
                NEW,
                PairingKind::MemberBuildingUnit,
                RESIDENT,
                unit_of(BUILDING, unit_no),
            )
        };
        given(world()).when([with_unit(Some(4))]).then_accepted();
        given(world()).when([with_unit(Some(1))]).then_accepted();
        given(world())
            .when([filler(), with_unit(Some(5))])
            .then_refused(InvalidField, 1, Some("to.unit_no"));
        given(world())
            .when([filler(), with_unit(Some(0))])
            .then_refused(InvalidField, 1, Some("to.unit_no"));
        given(world())
            .when([filler(), with_unit(None)])
            .then_refused(InvalidField, 1, Some("to.unit_no"));
        given(world())
            .when([
                filler(),
                pairing(
                    NEW,
                    PairingKind::MemberBuildingUnit,
                    RESIDENT,
                    unit_of(COMPOUND, Some(1)),
                ),
            ])
            .then_refused(WrongKind, 1, Some("to.area_id"));
        given(world())
            .when([remove(RESIDENT), with_unit(Some(1))])
            .then_refused(InactiveReference, 1, Some("from_id"));
    }

    #[test]
    fn a_member_pairs_with_a_household_by_its_pseudonym() {
        let household = |household_ref: &str| PairingTarget::Household {
            household_ref: household_ref.to_owned(),
        };
        given(world())
            .when([pairing(
                NEW,
                PairingKind::MemberHousehold,
                RESIDENT,
                household("户-17"),
            )])
            .then_accepted();
        given(world())
            .when([
                filler(),
                pairing(NEW, PairingKind::MemberHousehold, RESIDENT, household("")),
            ])
            .then_refused(InvalidField, 1, Some("to.household_ref"));
        given(world())
            .when([
                filler(),
                pairing(
                    NEW,
                    PairingKind::MemberHousehold,
                    RESIDENT,
                    unit_of(BUILDING, Some(1)),
                ),
            ])
            .then_refused(InvalidField, 1, Some("to"));
        given(world())
            .when([
                filler(),
                pairing(NEW, PairingKind::MemberHousehold, UNKNOWN, household("户-17")),
            ])
            .then_refused(UnknownReference, 1, Some("from_id"));
    }

    #[test]
    fn a_pairing_ends_once() {
        let established = pairing(NEW, PairingKind::UnitCompound, WORK_UNIT, unit_of(COMPOUND, None));
        given(world_and([established.clone()]))
            .when([end_pairing(NEW)])
            .then_accepted();
        given(world_and([established]))
            .when([end_pairing(NEW), end_pairing(NEW)])
            .then_refused(InvalidTransition, 1, None);
        given(world())
            .when([filler(), end_pairing(UNKNOWN)])
            .then_refused(UnknownReference, 1, Some("pairing_id"));
        given(world())
            .when([filler(), end_pairing(WORK_UNIT)])
            .then_refused(WrongKind, 1, Some("pairing_id"));
    }
}

mod dual_evaluation {
    use super::*;

    #[test]
    fn a_live_subject_is_scored_by_a_live_organisation_or_by_residents() {
        let by_residents = |evaluator_ref| EvaluationRecorded {
            evaluator: Evaluator::Residents,
            evaluator_ref,
            comment: Some("服务热情".to_owned()),
            ..evaluation(NEW_2, PartyRef::WorkUnitId(WORK_UNIT), 88)
        };
        given(world())
            .when([
                evaluation(NEW, PartyRef::MemberId(WORKER), 95).into(),
                by_residents(COMPOUND).into(),
            ])
            .then_accepted();
        given(world())
            .when([filler(), by_residents(BUILDING).into()])
            .then_refused(WrongKind, 1, Some("evaluator_ref"));
        given(world())
            .when([
                dissolve(BRANCH),
                evaluation(NEW, PartyRef::OrgId(COMMITTEE), 90).into(),
            ])
            .then_refused(InactiveReference, 1, Some("evaluator_ref"));
        given(world())
            .when([
                filler(),
                evaluation(NEW, PartyRef::MemberId(WORK_UNIT), 90).into(),
            ])
            .then_refused(WrongKind, 1, Some("subject.member_id"));
        given(world())
            .when([
                remove(WORKER),
                evaluation(NEW, PartyRef::MemberId(WORKER), 90).into(),
            ])
            .then_refused(InactiveReference, 1, Some("subject.member_id"));
        given(world())
            .when([filler(), evaluation(NEW, PartyRef::OrgId(UNKNOWN), 90).into()])
            .then_refused(UnknownReference, 1, Some("subject.org_id"));
    }

    #[test]
    fn a_score_is_0_to_100() {
        given(world())
            .when([evaluation(NEW, PartyRef::OrgId(BRANCH), 100).into()])
            .then_accepted();
        given(world())
            .when([evaluation(NEW, PartyRef::OrgId(BRANCH), 0).into()])
            .then_accepted();
        given(world())
            .when([filler(), evaluation(NEW, PartyRef::OrgId(BRANCH), 101).into()])
            .then_refused(InvalidField, 1, Some("score"));
    }

    #[test]
    fn a_period_is_a_year_a_half_or_a_quarter() {
        for period in [
            "2026", "2026-H1", "2026-H2", "2026-Q1", "2026-Q4", "2000", "2100-Q2",
        ] {
            let event = EvaluationRecorded {
                period: period.to_owned(),
                ..evaluation(NEW, PartyRef::OrgId(BRANCH), 80)
            };
            given(world()).when([event.into()]).then_accepted();
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
            let event = EvaluationRecorded {
                period: period.to_owned(),
                ..evaluation(NEW, PartyRef::OrgId(BRANCH), 80)
            };
            given(world())
                .when([filler(), event.into()])
                .then_refused(InvalidField, 1, Some("period"));
        }
    }

    #[test]
    fn an_amendment_scores_a_live_evaluation_0_to_100() {
        let recorded: Event = evaluation(NEW, PartyRef::MemberId(WORKER), 70).into();
        given(world_and([recorded.clone()]))
            .when([amend(NEW, 100)])
            .then_accepted();
        given(world_and([recorded.clone()]))
            .when([filler(), amend(NEW, 101)])
            .then_refused(InvalidField, 1, Some("score"));
        given(world_and([recorded]))
            .when([retract(NEW), amend(NEW, 80)])
            .then_refused(InactiveReference, 1, Some("evaluation_id"));
        given(world()).when([filler(), amend(UNKNOWN, 80)]).then_refused(
            UnknownReference,
            1,
            Some("evaluation_id"),
        );
        given(world())
            .when([filler(), amend(BRANCH, 80)])
            .then_refused(WrongKind, 1, Some("evaluation_id"));
    }

    #[test]
    fn an_evaluation_is_retracted_once() {
        given(world_and(
            [evaluation(NEW, PartyRef::MemberId(WORKER), 70).into()],
        ))
        .when([retract(NEW), retract(NEW)])
        .then_refused(InvalidTransition, 1, None);
    }
}

mod complaints {
    use super::*;

    #[test]
    fn the_whole_life_of_a_complaint_with_a_reassignment_and_a_reopening() {
        given(world())
            .when([
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
            ])
            .then_accepted();
    }

    #[test]
    fn a_complaint_is_filed_in_a_live_compound_or_community() {
        given(world())
            .when([ComplaintFiled {
                area_id: COMMUNITY,
                ..complaint(NEW)
            }
            .into()])
            .then_accepted();
        given(world())
            .when([
                filler(),
                ComplaintFiled {
                    area_id: BUILDING,
                    ..complaint(NEW)
                }
                .into(),
            ])
            .then_refused(WrongKind, 1, Some("area_id"));
        given(world())
            .when([
                retire(COMPOUND_2),
                ComplaintFiled {
                    area_id: COMPOUND_2,
                    ..complaint(NEW)
                }
                .into(),
            ])
            .then_refused(InactiveReference, 1, Some("area_id"));
    }

    #[test]
    fn a_complaint_has_a_summary_and_a_resident_pseudonym() {
        given(world())
            .when([
                filler(),
                ComplaintFiled {
                    summary: "".to_owned(),
                    ..complaint(NEW)
                }
                .into(),
            ])
            .then_refused(InvalidField, 1, Some("summary"));
        given(world())
            .when([
                filler(),
                ComplaintFiled {
                    summary: "字".repeat(2001),
                    ..complaint(NEW)
                }
                .into(),
            ])
            .then_refused(InvalidField, 1, Some("summary"));
        given(world())
            .when([ComplaintFiled {
                summary: "字".repeat(2000),
                ..complaint(NEW)
            }
            .into()])
            .then_accepted();
        given(world())
            .when([
                filler(),
                ComplaintFiled {
                    resident_ref: " ".to_owned(),
                    ..complaint(NEW)
                }
                .into(),
            ])
            .then_refused(InvalidField, 1, Some("resident_ref"));
    }

    #[test]
    fn a_complaint_is_dispatched_to_a_live_assignee() {
        given(world_and([file(NEW)]))
            .when([filler(), dispatch(NEW, PartyRef::OrgId(UNKNOWN), None)])
            .then_refused(UnknownReference, 1, Some("assignee.org_id"));
        given(world_and([file(NEW)]))
            .when([remove(WORKER), dispatch_to_worker(NEW)])
            .then_refused(InactiveReference, 1, Some("assignee.member_id"));
        given(world_and([file(NEW)]))
            .when([filler(), dispatch(NEW, PartyRef::WorkUnitId(BRANCH), None)])
            .then_refused(WrongKind, 1, Some("assignee.work_unit_id"));
    }

    #[test]
    fn a_due_date_is_a_real_calendar_date() {
        for due_on in ["2028-02-29", "2026-12-31", "2026-01-01"] {
            given(world_and([file(NEW)]))
                .when([dispatch(NEW, PartyRef::OrgId(BRANCH), Some(due_on))])
                .then_accepted();
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
            given(world_and([file(NEW)]))
                .when([filler(), dispatch(NEW, PartyRef::OrgId(BRANCH), Some(due_on))])
                .then_refused(InvalidField, 1, Some("due_on"));
        }
    }

    #[test]
    fn every_step_happens_only_in_its_turn() {
        let filed = || world_and([file(NEW)]);
        let dispatched = || world_and([file(NEW), dispatch_to_worker(NEW)]);
        let accepted = || world_and([file(NEW), dispatch_to_worker(NEW), accept(NEW)]);
        let resolved = || world_and([file(NEW), dispatch_to_worker(NEW), accept(NEW), resolve(NEW)]);
        given(filed())
            .when([filler(), accept(NEW)])
            .then_refused(InvalidTransition, 1, None);
        given(filed())
            .when([filler(), resolve(NEW)])
            .then_refused(InvalidTransition, 1, None);
        given(filed())
            .when([filler(), reopen(NEW)])
            .then_refused(InvalidTransition, 1, None);
        given(dispatched())
            .when([filler(), resolve(NEW)])
            .then_refused(InvalidTransition, 1, None);
        given(dispatched())
            .when([filler(), rate(NEW, 5)])
            .then_refused(InvalidTransition, 1, None);
        given(accepted())
            .when([filler(), dispatch_to_worker(NEW)])
            .then_refused(InvalidTransition, 1, None);
        given(accepted())
            .when([filler(), accept(NEW)])
            .then_refused(InvalidTransition, 1, None);
        given(accepted())
            .when([filler(), rate(NEW, 5)])
            .then_refused(InvalidTransition, 1, None);
        given(accepted())
            .when([filler(), reopen(NEW)])
            .then_refused(InvalidTransition, 1, None);
        given(resolved())
            .when([filler(), resolve(NEW)])
            .then_refused(InvalidTransition, 1, None);
        given(resolved())
            .when([filler(), dispatch_to_worker(NEW)])
            .then_refused(InvalidTransition, 1, None);
    }

    #[test]
    fn a_rating_comes_after_a_resolution_once() {
        let resolved = || world_and([file(NEW), dispatch_to_worker(NEW), accept(NEW), resolve(NEW)]);
        given(resolved())
            .when([rate(NEW, 4), rate(NEW, 5)])
            .then_refused(InvalidTransition, 1, None);
        given(resolved())
            .when([rate(NEW, 4), reopen(NEW), rate(NEW, 5)])
            .then_refused(InvalidTransition, 2, None);
    }

    #[test]
    fn satisfaction_is_1_to_5() {
        let resolved = || world_and([file(NEW), dispatch_to_worker(NEW), accept(NEW), resolve(NEW)]);
        given(resolved()).when([rate(NEW, 1)]).then_accepted();
        given(resolved()).when([rate(NEW, 5)]).then_accepted();
        given(resolved())
            .when([filler(), rate(NEW, 0)])
            .then_refused(InvalidField, 1, Some("satisfaction"));
        given(resolved())
            .when([filler(), rate(NEW, 6)])
            .then_refused(InvalidField, 1, Some("satisfaction"));
    }

    #[test]
    fn a_resolution_and_a_reopening_say_why() {
        let accepted = world_and([file(NEW), dispatch_to_worker(NEW), accept(NEW)]);
        given(accepted)
            .when([
                filler(),
                ComplaintResolved {
                    complaint_id: NEW,
                    resolution: "".to_owned(),
                }
                .into(),
            ])
            .then_refused(InvalidField, 1, Some("resolution"));
        let resolved = world_and([file(NEW), dispatch_to_worker(NEW), accept(NEW), resolve(NEW)]);
        given(resolved)
            .when([
                filler(),
                ComplaintReopened {
                    complaint_id: NEW,
                    reason: "".to_owned(),
                }
                .into(),
            ])
            .then_refused(InvalidField, 1, Some("reason"));
    }

    #[test]
    fn a_complaint_event_names_a_known_complaint() {
        given(world()).when([filler(), accept(UNKNOWN)]).then_refused(
            UnknownReference,
            1,
            Some("complaint_id"),
        );
        given(world())
            .when([filler(), accept(WORKER)])
            .then_refused(WrongKind, 1, Some("complaint_id"));
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
    fn personal_fields_of_an_earlier_record_are_redacted() {
        let (events, seq) = with_complaint();
        given(events)
            .when([redact(seq, &["summary", "resident_ref"])])
            .then_accepted();
        let enrolment_seq = 11;
        assert!(matches!(&world()[enrolment_seq], Event::MemberEnrolled(_)));
        given(world())
            .when([redact(enrolment_seq as u64, &["name"])])
            .then_accepted();
    }

    #[test]
    fn a_record_earlier_in_the_same_batch_may_be_redacted() {
        let state = given(world()).0;
        let seq = state.next_seq();
        Given(state)
            .when([file(NEW), redact(seq, &["summary"])])
            .then_accepted();
    }

    #[test]
    fn the_target_is_an_earlier_record() {
        let (events, seq) = with_complaint();
        given(events.clone())
            .when([filler(), redact(seq + 2, &["summary"])])
            .then_refused(UnknownReference, 1, Some("target_seq"));
        given(events)
            .when([file(NEW_2), redact(seq + 1, &["summary"])])
            .then_accepted();
        given(world())
            .when([filler(), redact(u64::MAX, &["summary"])])
            .then_refused(UnknownReference, 1, Some("target_seq"));
    }

    #[test]
    fn a_redaction_is_never_redacted() {
        let (events, seq) = with_complaint();
        given(events)
            .when([redact(seq, &["summary"]), redact(seq + 1, &["reason"])])
            .then_refused(WrongKind, 1, Some("target_seq"));
    }

    #[test]
    fn only_personal_fields_are_redacted_each_once() {
        let (events, seq) = with_complaint();
        given(events.clone())
            .when([filler(), redact(seq, &[])])
            .then_refused(InvalidField, 1, Some("fields"));
        given(events.clone())
            .when([filler(), redact(seq, &["area_id"])])
            .then_refused(InvalidField, 1, Some("fields"));
        given(events.clone())
            .when([filler(), redact(seq, &["resolution"])])
            .then_refused(InvalidField, 1, Some("fields"));
        given(events.clone())
            .when([filler(), redact(seq, &["summary", "summary"])])
            .then_refused(InvalidField, 1, Some("fields"));
        given(events.clone())
            .when([
                redact(seq, &["summary"]),
                redact(seq, &["resident_ref", "summary"]),
            ])
            .then_refused(RuleViolation, 1, Some("target_seq"));
        // A record is redacted once (its marker names one redaction), naming every field.
        given(events.clone())
            .when([redact(seq, &["summary"]), redact(seq, &["resident_ref"])])
            .then_refused(RuleViolation, 1, Some("target_seq"));
        given(events)
            .when([redact(seq, &["summary", "resident_ref"])])
            .then_accepted();
        given(world())
            .when([filler(), redact(0, &["name"])])
            .then_refused(InvalidField, 1, Some("fields"));
    }
}

mod entity_ids {
    use super::*;

    #[test]
    fn an_id_that_creates_an_entity_is_new_across_all_kinds() {
        given(world())
            .when([filler(), county(COUNTY)])
            .then_refused(DuplicateId, 1, Some("area_id"));
        given(world())
            .when([filler(), county(RESIDENT)])
            .then_refused(DuplicateId, 1, Some("area_id"));
        given(world())
            .when([filler(), resident(COMPOUND)])
            .then_refused(DuplicateId, 1, Some("member_id"));
        given(world())
            .when([filler(), work_unit(BRANCH, COUNTY)])
            .then_refused(DuplicateId, 1, Some("work_unit_id"));
        given(world())
            .when([
                filler(),
                org(WORKER, OrgKind::CompoundBranch, &[COMPOUND_2]).into(),
            ])
            .then_refused(DuplicateId, 1, Some("org_id"));
        given(world())
            .when([
                filler(),
                service(WORK_UNIT, ServiceProvider::MemberId(WORKER), COMPOUND, 30),
            ])
            .then_refused(DuplicateId, 1, Some("service_id"));
        given(world())
            .when([
                filler(),
                pairing(
                    COUNTY,
                    PairingKind::UnitCompound,
                    WORK_UNIT,
                    unit_of(COMPOUND, None),
                ),
            ])
            .then_refused(DuplicateId, 1, Some("pairing_id"));
        given(world())
            .when([filler(), evaluation(TOWN, PartyRef::MemberId(WORKER), 80).into()])
            .then_refused(DuplicateId, 1, Some("evaluation_id"));
        given(world())
            .when([filler(), file(COMMUNITY)])
            .then_refused(DuplicateId, 1, Some("complaint_id"));
    }

    #[test]
    fn an_id_created_earlier_in_the_batch_is_taken() {
        given(world())
            .when([file(NEW), filler(), resident(NEW)])
            .then_refused(DuplicateId, 2, Some("member_id"));
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
        given(world())
            .when([venue(NEW), venue(NEW)])
            .then_refused(DuplicateId, 1, Some("venue_id"));
        let plan = EmergencyPlanFiled {
            plan_id: NEW,
            area_id: COMPOUND,
            hazards: vec![Hazard::Fire],
        };
        given(world())
            .when([venue(NEW), plan.into()])
            .then_refused(DuplicateId, 1, Some("plan_id"));
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
