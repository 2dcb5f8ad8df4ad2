//! The rules an append must pass (`domain.md`, "Rules an append must pass"): the one place
//! that decides whether an event may join the log. Each event is checked against a read-only
//! [`State`] that already includes the batch's earlier events; nothing here changes state.
//! Event ids (idempotency), `occurred_on` and who may append what are checked by the store and
//! the server, not here.
//!
//! # Codes
//! - A referenced id that names nothing is `unknown_reference`; one that names another kind of
//!   entity (a town where a community is needed, a member where a work unit is) is
//!   `wrong_kind`; one that names a retired area, dissolved organisation, removed member,
//!   ended pairing or retracted evaluation is `inactive_reference`. This includes the entity
//!   an event updates: `MemberUpdated` of a removed member, `EvaluationAmended` of a retracted
//!   evaluation, `PartyOrgCoverageChanged` of a dissolved organisation.
//! - Ending something a second time (`AreaRetired`, `PartyOrgDissolved`, `MemberRemoved`,
//!   `PairingEnded`, `EvaluationRetracted`), relieving someone who holds no office,
//!   withdrawing a report that does not exist, and every complaint event in the wrong status
//!   are `invalid_transition` (409), with no field.
//! - An id that creates an entity and is already used by an entity of *any* kind is
//!   `duplicate_id` (409): entity ids share one namespace, so a history lookup by id is never
//!   ambiguous.
//! - A second appointment of the same officer, a second secretary, a second report to the same
//!   place, a unit reporting outside its county and a field redacted twice are
//!   `rule_violation`. Everything about one field's value (range, format, presence, duplicates
//!   inside a list) is `invalid_field` with that field.
//!
//! # Decisions where `domain.md` is silent
//! - Areas: retiring an area retires everything below it, so nothing new may reference a
//!   building of a retired compound; retiring an area inside a retired one is
//!   `invalid_transition`. The compound extras are allowed only on a compound; `units` is
//!   required on a building and forbidden elsewhere. Sibling names are not required to be
//!   unique.
//! - Organisations: a community committee covers ≥ 1 communities, a compound branch exactly one
//!   compound, a grid branch ≥ 1 compounds, a building group ≥ 1 buildings (at most
//!   [`AREA_IDS_MAX`] areas, no duplicates); a work-unit organisation names a work unit and no
//!   `area_ids`, every other kind the reverse. A compound may be covered by more than one
//!   branch (a new branch is often founded before the old one is dissolved). The parent
//!   organisation must be live; its kind is not constrained. Dissolving an organisation does
//!   not dissolve its children.
//! - Officers: one appointment per (organisation, member) at a time, and at most one secretary
//!   per organisation (党支部设书记一人); a change of role is a relief and a new appointment.
//! - Ending a relation (`OfficerRelieved`, `ReportWithdrawn`, `PairingEnded`) needs the relation
//!   to be current but not its parties to be live, so a record can be tidied after a member is
//!   removed or an organisation dissolved.
//! - Venues, service mechanisms, emergency plans, complaints and resident evaluations belong
//!   to a compound or a community (a compound may share its community's venue); services may
//!   be rendered in an area of any level. A compound may establish several mechanisms.
//! - Members: the home area is a compound; an in-service member needs a work unit, at
//!   enrolment and after any update (an update cannot clear a work unit). Work units have no
//!   end event, so a registered work unit is always live.
//! - Dual registration: any live member may report (not only in-service ones), to any live
//!   compound, once per compound; a work unit reports once per community, and only to a
//!   community of the county it is registered in.
//! - Pairings: a cadre cannot mentor themselves; a building-unit pairing names `unit_no` in
//!   `1..=units`; a unit-compound pairing names no `unit_no`. Repeated identical pairings are
//!   not refused.
//! - Complaints: dispatching again before acceptance (改派, reassigning) is allowed; a
//!   complaint may be reopened from resolved or rated, goes back to dispatched with its
//!   assignee (who may be changed by dispatching again), and may be rated once per resolution,
//!   so a reopened complaint that is resolved again may be rated again. `due_on` is a real
//!   calendar date.
//! - Periods and dates use years [`YEAR_MIN`]`..=`[`YEAR_MAX`].
//! - Text: names, reasons and pseudonyms are non-empty after trimming (spaces and invisible
//!   characters such as U+200B do not count) and at most [`NAME_CHARS_MAX`] characters, with no
//!   control character; summaries, comments, resolutions and notes at most [`TEXT_CHARS_MAX`],
//!   with no control character but line feed, carriage return and tab. An optional text, when
//!   present, must be non-empty too.
//! - Ids: a new entity's id is not the nil or the max UUID. Ids in JSON may be written in any
//!   form the `uuid` crate reads (upper case, braces, `urn:uuid:`, no hyphens); they are
//!   stored as 16 bytes and always written back lower-case and hyphenated.
//! - Plausibility: a building has at most [`BUILDING_UNITS_MAX`] units, a compound at most
//!   [`HOUSEHOLDS_MAX`] households, a service record at most [`SERVICE_MINUTES_MAX`] minutes and
//!   [`BENEFICIARIES_MAX`] beneficiaries.
//! - Redactions: the target is an earlier record (or an earlier event of the batch) that is not
//!   itself a redaction (else `wrong_kind`); each field is a personal field of the target's
//!   type, listed once; a record already redacted is not redacted again (`rule_violation` on
//!   `target_seq`: its marker names one redaction, `record-format.md`). Whether the target actually carries an optional field is not known
//!   here (the state keeps only record types), so redacting an absent `comment` is accepted.

use uuid::Uuid;

use crate::entity::{lookup, without_article, EntityKind, LookupError};
use crate::event::{
    AreaKind, AreaRegistered, AreaRetired, ComplaintDispatched, ComplaintFiled, ComplaintRated,
    EmergencyDrillHeld, EmergencyPlanFiled, EvaluationAmended, EvaluationRecorded, EvaluationRetracted,
    Evaluator, Event, EventType, MemberCategory, MemberEnrolled, MemberReported, MemberUpdated,
    OfficerAppointed, OfficerRelieved, OfficerRole, OrgKind, PairingEstablished, PairingKind, PairingTarget,
    PartyOrgFounded, PartyRef, Redacted, ReportWithdrawn, ServiceProvider, ServiceRendered, UnitReported,
    VenueEstablished, WorkUnitRegistered,
};
use crate::personal::personal_field;
use crate::state::{AreaFacts, ComplaintStatus, Entity, MemberFacts, OrgFacts, State};
use crate::violation::{Violation, ViolationCode};

/// Most characters in a name, a reason or a pseudonym.
pub const NAME_CHARS_MAX: usize = 200;
/// Most characters in a summary, a comment, a resolution or a note.
pub const TEXT_CHARS_MAX: usize = 2000;
/// Most areas one party organisation covers.
pub const AREA_IDS_MAX: usize = 1000;
/// Highest evaluation score.
pub const SCORE_MAX: u32 = 100;
/// Lowest and highest complaint satisfaction.
pub const SATISFACTION_MIN: u32 = 1;
pub const SATISFACTION_MAX: u32 = 5;
/// Most 单元 (entrance units) in one building.
pub const BUILDING_UNITS_MAX: u32 = 64;
/// Most households in one compound.
pub const HOUSEHOLDS_MAX: u32 = 50_000;
/// Most minutes one service record may claim (a day).
pub const SERVICE_MINUTES_MAX: u32 = 24 * 60;
/// Most beneficiaries one service record may claim.
pub const BENEFICIARIES_MAX: u32 = 100_000;
/// The years a period or a date may name.
pub const YEAR_MIN: u32 = 2000;
pub const YEAR_MAX: u32 = 2100;

/// A broken rule, before it knows its position in the batch.
#[derive(Debug)]
pub(crate) struct Fault {
    code: ViolationCode,
    field: Option<&'static str>,
    message: String,
}

impl Fault {
    fn new(code: ViolationCode, field: &'static str, message: String) -> Fault {
        Fault {
            code,
            field: Some(field),
            message,
        }
    }

    fn transition(message: String) -> Fault {
        Fault {
            code: ViolationCode::InvalidTransition,
            field: None,
            message,
        }
    }

    pub(crate) fn at(self, index: usize) -> Violation {
        Violation {
            code: self.code,
            index,
            field: self.field.map(str::to_owned),
            message: self.message,
        }
    }
}

type Checked<T = ()> = Result<T, Fault>;

/// Checks one event against the state before it; the only place that decides.
pub(crate) fn check(state: &State, event: &Event) -> Checked {
    match event {
        Event::AreaRegistered(e) => area_registered(state, e),
        Event::AreaRetired(e) => area_retired(state, e),
        Event::PartyOrgFounded(e) => party_org_founded(state, e),
        Event::PartyOrgCoverageChanged(e) => {
            let org = live_org(state, "org_id", e.org_id)?;
            coverage(state, org.kind, Some(&e.area_ids))
        }
        Event::PartyOrgDissolved(e) => {
            if org(state, "org_id", e.org_id)?.dissolved {
                return Err(Fault::transition(format!(
                    "party organisation {} is already dissolved",
                    e.org_id
                )));
            }
            text("reason", &e.reason, NAME_CHARS_MAX)
        }
        Event::OfficerAppointed(e) => officer_appointed(state, e),
        Event::OfficerRelieved(e) => officer_relieved(state, e),
        Event::VenueEstablished(e) => venue_established(state, e),
        Event::ServiceMechanismEstablished(e) => {
            live_area(
                state,
                "area_id",
                e.area_id,
                &[AreaKind::Compound, AreaKind::Community],
            )?;
            optional_text("note", e.note.as_deref(), TEXT_CHARS_MAX)
        }
        Event::EmergencyPlanFiled(e) => emergency_plan_filed(state, e),
        Event::EmergencyDrillHeld(e) => emergency_drill_held(state, e),
        Event::WorkUnitRegistered(e) => work_unit_registered(state, e),
        Event::MemberEnrolled(e) => member_enrolled(state, e),
        Event::MemberUpdated(e) => member_updated(state, e),
        Event::MemberRemoved(e) => {
            if member(state, "member_id", e.member_id)?.removed {
                return Err(Fault::transition(format!(
                    "member {} is already removed",
                    e.member_id
                )));
            }
            text("reason", &e.reason, NAME_CHARS_MAX)
        }
        Event::UnitReported(e) => unit_reported(state, e),
        Event::MemberReported(e) => member_reported(state, e),
        Event::ReportWithdrawn(e) => report_withdrawn(state, e),
        Event::ServiceRendered(e) => service_rendered(state, e),
        Event::PairingEstablished(e) => pairing_established(state, e),
        Event::PairingEnded(e) => {
            if pairing_ended(state, e.pairing_id)? {
                return Err(Fault::transition(format!(
                    "pairing {} has already ended",
                    e.pairing_id
                )));
            }
            text("reason", &e.reason, NAME_CHARS_MAX)
        }
        Event::EvaluationRecorded(e) => evaluation_recorded(state, e),
        Event::EvaluationAmended(e) => evaluation_amended(state, e),
        Event::EvaluationRetracted(e) => evaluation_retracted(state, e),
        Event::ComplaintFiled(e) => complaint_filed(state, e),
        Event::ComplaintDispatched(e) => complaint_dispatched(state, e),
        Event::ComplaintAccepted(e) => {
            complaint_in(state, e.complaint_id, &[ComplaintStatus::Dispatched], "accepted")
        }
        Event::ComplaintResolved(e) => {
            complaint_in(state, e.complaint_id, &[ComplaintStatus::Accepted], "resolved")?;
            text("resolution", &e.resolution, TEXT_CHARS_MAX)
        }
        Event::ComplaintRated(e) => complaint_rated(state, e),
        Event::ComplaintReopened(e) => {
            let from = [ComplaintStatus::Resolved, ComplaintStatus::Rated];
            complaint_in(state, e.complaint_id, &from, "reopened")?;
            text("reason", &e.reason, NAME_CHARS_MAX)
        }
        Event::Redacted(e) => redacted(state, e),
    }
}

// Areas and organisations.

fn area_registered(state: &State, event: &AreaRegistered) -> Checked {
    new_id(state, "area_id", event.area_id)?;
    text("name", &event.name, NAME_CHARS_MAX)?;
    area_extras(event)?;
    match (event.kind.parent_kind(), event.parent_id) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(invalid("parent_id", "a county has no parent area".to_owned())),
        (Some(parent_kind), None) => Err(invalid(
            "parent_id",
            format!(
                "{} needs a parent_id naming {}",
                area_noun(event.kind),
                area_noun(parent_kind)
            ),
        )),
        (Some(parent_kind), Some(parent_id)) => {
            live_area(state, "parent_id", parent_id, &[parent_kind]).map(drop)
        }
    }
}

/// The compound extras only on a compound; `units` (≥ 1) on a building and nowhere else.
fn area_extras(event: &AreaRegistered) -> Checked {
    if let Some(households) = event.households.filter(|&households| households > HOUSEHOLDS_MAX) {
        return Err(invalid(
            "households",
            format!("a compound has at most {HOUSEHOLDS_MAX} households, not {households}"),
        ));
    }
    if event.kind != AreaKind::Compound {
        let compound_only = [
            ("households", event.households.is_some()),
            ("compound_kind", event.compound_kind.is_some()),
            ("has_property_management", event.has_property_management.is_some()),
        ];
        if let Some((field, _)) = compound_only.into_iter().find(|(_, present)| *present) {
            return Err(invalid(
                field,
                format!("only a compound has {field}, not {}", area_noun(event.kind)),
            ));
        }
    }
    match (event.kind, event.units) {
        (AreaKind::Building, None) => Err(invalid(
            "units",
            "a building needs units (its number of 单元)".to_owned(),
        )),
        (AreaKind::Building, Some(0)) => Err(invalid("units", "a building has at least 1 unit".to_owned())),
        (AreaKind::Building, Some(units)) if units > BUILDING_UNITS_MAX => Err(invalid(
            "units",
            format!("a building has at most {BUILDING_UNITS_MAX} units, not {units}"),
        )),
        (AreaKind::Building, Some(_)) | (_, None) => Ok(()),
        (kind, Some(_)) => Err(invalid(
            "units",
            format!("only a building has units, not {}", area_noun(kind)),
        )),
    }
}

fn area_retired(state: &State, event: &AreaRetired) -> Checked {
    area(state, "area_id", event.area_id)?;
    if let Some(retired_id) = state.retired_area_around(event.area_id) {
        let message = if retired_id == event.area_id {
            format!("area {retired_id} is already retired")
        } else {
            format!("area {} lies within retired area {retired_id}", event.area_id)
        };
        return Err(Fault::transition(message));
    }
    text("reason", &event.reason, NAME_CHARS_MAX)
}

fn party_org_founded(state: &State, event: &PartyOrgFounded) -> Checked {
    new_id(state, "org_id", event.org_id)?;
    text("name", &event.name, NAME_CHARS_MAX)?;
    if let Some(parent_org_id) = event.parent_org_id {
        live_org(state, "parent_org_id", parent_org_id)?;
    }
    match (event.kind, event.work_unit_id) {
        (OrgKind::WorkUnitOrg, Some(work_unit_id)) => {
            work_unit(state, "work_unit_id", work_unit_id).map(drop)?
        }
        (OrgKind::WorkUnitOrg, None) => {
            return Err(invalid(
                "work_unit_id",
                "a work-unit organisation needs a work_unit_id".to_owned(),
            ))
        }
        (_, Some(_)) => {
            return Err(invalid(
                "work_unit_id",
                "only a work-unit organisation names a work unit".to_owned(),
            ))
        }
        (_, None) => {}
    }
    coverage(state, event.kind, event.area_ids.as_deref())
}

/// The areas an organisation of `kind` covers: their number, their kind, and that they live.
fn coverage(state: &State, kind: OrgKind, area_ids: Option<&[Uuid]>) -> Checked {
    let (covered, exactly_one) = match kind {
        OrgKind::CommunityCommittee => (AreaKind::Community, false),
        OrgKind::CompoundBranch => (AreaKind::Compound, true),
        OrgKind::GridBranch => (AreaKind::Compound, false),
        OrgKind::BuildingGroup => (AreaKind::Building, false),
        OrgKind::WorkUnitOrg if area_ids.is_none() => return Ok(()),
        OrgKind::WorkUnitOrg => {
            return Err(invalid(
                "area_ids",
                "a work-unit organisation covers no areas".to_owned(),
            ));
        }
    };
    let area_ids = area_ids.unwrap_or_default();
    let wanted = if exactly_one {
        "exactly one"
    } else {
        "at least one"
    };
    if area_ids.is_empty() || (exactly_one && area_ids.len() > 1) {
        let message = format!(
            "{} covers {wanted} {}, not {}",
            org_noun(kind),
            without_article(area_noun(covered)),
            area_ids.len()
        );
        return Err(invalid("area_ids", message));
    }
    if area_ids.len() > AREA_IDS_MAX {
        return Err(invalid(
            "area_ids",
            format!("an organisation covers at most {AREA_IDS_MAX} areas"),
        ));
    }
    no_duplicates("area_ids", area_ids)?;
    area_ids
        .iter()
        .try_for_each(|&id| live_area(state, "area_ids", id, &[covered]).map(drop))
}

fn officer_appointed(state: &State, event: &OfficerAppointed) -> Checked {
    let org = live_org(state, "org_id", event.org_id)?;
    live_member(state, "member_id", event.member_id)?;
    if let Some(role) = state.officer_role(event.org_id, event.member_id) {
        let message = format!(
            "member {} is already an officer ({}) of organisation {}",
            event.member_id,
            role_name(role),
            event.org_id
        );
        return Err(Fault::new(ViolationCode::RuleViolation, "member_id", message));
    }
    if event.role == OfficerRole::Secretary && org.has_secretary {
        let message = format!(
            "organisation {} already has a secretary; relieve them first",
            event.org_id
        );
        return Err(Fault::new(ViolationCode::RuleViolation, "role", message));
    }
    Ok(())
}

fn officer_relieved(state: &State, event: &OfficerRelieved) -> Checked {
    org(state, "org_id", event.org_id)?;
    member(state, "member_id", event.member_id)?;
    if state.officer_role(event.org_id, event.member_id).is_none() {
        let message = format!(
            "member {} is not an officer of organisation {}",
            event.member_id, event.org_id
        );
        return Err(Fault::transition(message));
    }
    Ok(())
}

// Five haves.

fn venue_established(state: &State, event: &VenueEstablished) -> Checked {
    new_id(state, "venue_id", event.venue_id)?;
    text("name", &event.name, NAME_CHARS_MAX)?;
    live_area(
        state,
        "area_id",
        event.area_id,
        &[AreaKind::Compound, AreaKind::Community],
    )?;
    positive("area_m2", event.area_m2)
}

fn emergency_plan_filed(state: &State, event: &EmergencyPlanFiled) -> Checked {
    new_id(state, "plan_id", event.plan_id)?;
    live_area(
        state,
        "area_id",
        event.area_id,
        &[AreaKind::Compound, AreaKind::Community],
    )?;
    if event.hazards.is_empty() {
        return Err(invalid(
            "hazards",
            "an emergency plan names at least one hazard".to_owned(),
        ));
    }
    no_duplicates("hazards", &event.hazards)
}

fn emergency_drill_held(state: &State, event: &EmergencyDrillHeld) -> Checked {
    let is_plan = |entity| (entity == Entity::EmergencyPlan).then_some(());
    entity_of(
        state,
        "plan_id",
        event.plan_id,
        EntityKind::EmergencyPlan,
        is_plan,
    )?;
    positive("participants", event.participants)
}

// Members and work units.

fn work_unit_registered(state: &State, event: &WorkUnitRegistered) -> Checked {
    new_id(state, "work_unit_id", event.work_unit_id)?;
    text("name", &event.name, NAME_CHARS_MAX)?;
    live_area(state, "county_id", event.county_id, &[AreaKind::County]).map(drop)
}

fn member_enrolled(state: &State, event: &MemberEnrolled) -> Checked {
    new_id(state, "member_id", event.member_id)?;
    text("name", &event.name, NAME_CHARS_MAX)?;
    live_area(state, "home_area_id", event.home_area_id, &[AreaKind::Compound])?;
    if let Some(work_unit_id) = event.work_unit_id {
        work_unit(state, "work_unit_id", work_unit_id)?;
    }
    in_service_has_work_unit(event.member_id, event.category, event.work_unit_id.is_some())
}

fn member_updated(state: &State, event: &MemberUpdated) -> Checked {
    let current = live_member(state, "member_id", event.member_id)?;
    if event.category.is_none() && event.home_area_id.is_none() && event.work_unit_id.is_none() {
        let message = format!("an update of member {} changes nothing", event.member_id);
        return Err(Fault {
            code: ViolationCode::InvalidField,
            field: None,
            message,
        });
    }
    if let Some(home_area_id) = event.home_area_id {
        live_area(state, "home_area_id", home_area_id, &[AreaKind::Compound])?;
    }
    if let Some(work_unit_id) = event.work_unit_id {
        work_unit(state, "work_unit_id", work_unit_id)?;
    }
    let category = event.category.unwrap_or(current.category);
    in_service_has_work_unit(
        event.member_id,
        category,
        current.has_work_unit || event.work_unit_id.is_some(),
    )
}

fn in_service_has_work_unit(member_id: Uuid, category: MemberCategory, has_work_unit: bool) -> Checked {
    if category == MemberCategory::InService && !has_work_unit {
        let message = format!("in-service member {member_id} needs a work_unit_id");
        return Err(invalid("work_unit_id", message));
    }
    Ok(())
}

// Dual registration.

fn unit_reported(state: &State, event: &UnitReported) -> Checked {
    let county_id = work_unit(state, "work_unit_id", event.work_unit_id)?;
    live_area(state, "community_id", event.community_id, &[AreaKind::Community])?;
    if state.county_of(event.community_id) != Some(county_id) {
        let message = format!(
            "work unit {} is registered in county {county_id}; community {} lies in another county",
            event.work_unit_id, event.community_id
        );
        return Err(Fault::new(ViolationCode::RuleViolation, "community_id", message));
    }
    already_reported(state, event.work_unit_id, event.community_id, "community_id")
}

fn member_reported(state: &State, event: &MemberReported) -> Checked {
    live_member(state, "member_id", event.member_id)?;
    live_area(state, "compound_id", event.compound_id, &[AreaKind::Compound])?;
    already_reported(state, event.member_id, event.compound_id, "compound_id")
}

fn already_reported(state: &State, reporter_id: Uuid, area_id: Uuid, field: &'static str) -> Checked {
    if state.has_report(reporter_id, area_id) {
        let message = format!("{reporter_id} has already reported to area {area_id}");
        return Err(Fault::new(ViolationCode::RuleViolation, field, message));
    }
    Ok(())
}

fn report_withdrawn(state: &State, event: &ReportWithdrawn) -> Checked {
    let reporter_id = match (event.member_id, event.work_unit_id) {
        (Some(member_id), None) => member(state, "member_id", member_id).map(|_| member_id)?,
        (None, Some(work_unit_id)) => work_unit(state, "work_unit_id", work_unit_id).map(|_| work_unit_id)?,
        _ => {
            let message = "a withdrawal names exactly one of member_id and work_unit_id".to_owned();
            return Err(Fault {
                code: ViolationCode::InvalidField,
                field: None,
                message,
            });
        }
    };
    area(state, "area_id", event.area_id)?;
    if !state.has_report(reporter_id, event.area_id) {
        return Err(Fault::transition(format!(
            "{reporter_id} has no report to area {} to withdraw",
            event.area_id
        )));
    }
    Ok(())
}

// Dual service and dual pairing.

fn service_rendered(state: &State, event: &ServiceRendered) -> Checked {
    new_id(state, "service_id", event.service_id)?;
    match event.by {
        ServiceProvider::MemberId(id) => live_member(state, "by.member_id", id).map(drop)?,
        ServiceProvider::WorkUnitId(id) => work_unit(state, "by.work_unit_id", id).map(drop)?,
    }
    let any_level = [
        AreaKind::County,
        AreaKind::Town,
        AreaKind::Community,
        AreaKind::Compound,
        AreaKind::Building,
    ];
    live_area(state, "area_id", event.area_id, &any_level)?;
    positive("minutes", event.minutes)?;
    at_most("minutes", event.minutes, SERVICE_MINUTES_MAX)?;
    match event.beneficiaries {
        Some(beneficiaries) => at_most("beneficiaries", beneficiaries, BENEFICIARIES_MAX),
        None => Ok(()),
    }
}

fn pairing_established(state: &State, event: &PairingEstablished) -> Checked {
    new_id(state, "pairing_id", event.pairing_id)?;
    match event.kind {
        PairingKind::UnitCompound => work_unit(state, "from_id", event.from_id).map(drop)?,
        _ => live_member(state, "from_id", event.from_id).map(drop)?,
    }
    match (event.kind, &event.to) {
        (PairingKind::UnitCompound, PairingTarget::Area { area_id, unit_no }) => {
            if unit_no.is_some() {
                return Err(invalid(
                    "to.unit_no",
                    "a unit_compound pairing names a whole compound".to_owned(),
                ));
            }
            live_area(state, "to.area_id", *area_id, &[AreaKind::Compound]).map(drop)
        }
        (PairingKind::MemberBuildingUnit, PairingTarget::Area { area_id, unit_no }) => {
            let building = live_area(state, "to.area_id", *area_id, &[AreaKind::Building])?;
            building_unit(*area_id, building, *unit_no)
        }
        (PairingKind::CadreSecretary, PairingTarget::Member { member_id }) => {
            if *member_id == event.from_id {
                return Err(invalid(
                    "to.member_id",
                    format!("member {member_id} cannot mentor themselves"),
                ));
            }
            live_member(state, "to.member_id", *member_id).map(drop)
        }
        (PairingKind::MemberHousehold, PairingTarget::Household { household_ref }) => {
            text("to.household_ref", household_ref, NAME_CHARS_MAX)
        }
        (kind, _) => Err(invalid(
            "to",
            format!(
                "a {} pairing points at {}",
                pairing_kind_name(kind),
                pairing_target_shape(kind)
            ),
        )),
    }
}

fn building_unit(building_id: Uuid, building: AreaFacts, unit_no: Option<u32>) -> Checked {
    let Some(unit_no) = unit_no else {
        return Err(invalid(
            "to.unit_no",
            "a member_building_unit pairing needs a unit_no".to_owned(),
        ));
    };
    if !(1..=building.units).contains(&unit_no) {
        let message = format!(
            "building {building_id} has units 1 to {}, not {unit_no}",
            building.units
        );
        return Err(invalid("to.unit_no", message));
    }
    Ok(())
}

fn pairing_ended(state: &State, pairing_id: Uuid) -> Checked<bool> {
    let pick = |entity| match entity {
        Entity::Pairing { ended } => Some(ended),
        _ => None,
    };
    entity_of(state, "pairing_id", pairing_id, EntityKind::Pairing, pick)
}

// Dual evaluation.

fn evaluation_recorded(state: &State, event: &EvaluationRecorded) -> Checked {
    new_id(state, "evaluation_id", event.evaluation_id)?;
    live_party(
        state,
        event.subject,
        ["subject.member_id", "subject.work_unit_id", "subject.org_id"],
    )?;
    match event.evaluator {
        Evaluator::Organization => live_org(state, "evaluator_ref", event.evaluator_ref).map(drop)?,
        Evaluator::Residents => {
            let kinds = [AreaKind::Compound, AreaKind::Community];
            live_area(state, "evaluator_ref", event.evaluator_ref, &kinds).map(drop)?
        }
    }
    if !is_period(&event.period) {
        let message = format!(
            "period {:?} is not a year (2026), a half (2026-H1) or a quarter (2026-Q3)",
            event.period
        );
        return Err(invalid("period", message));
    }
    score(event.score)?;
    optional_text("comment", event.comment.as_deref(), TEXT_CHARS_MAX)
}

fn evaluation_amended(state: &State, event: &EvaluationAmended) -> Checked {
    if evaluation_retracted_yet(state, event.evaluation_id)? {
        let message = format!("evaluation {} was retracted", event.evaluation_id);
        return Err(Fault::new(
            ViolationCode::InactiveReference,
            "evaluation_id",
            message,
        ));
    }
    score(event.score)?;
    text("reason", &event.reason, NAME_CHARS_MAX)
}

fn evaluation_retracted(state: &State, event: &EvaluationRetracted) -> Checked {
    if evaluation_retracted_yet(state, event.evaluation_id)? {
        return Err(Fault::transition(format!(
            "evaluation {} is already retracted",
            event.evaluation_id
        )));
    }
    text("reason", &event.reason, NAME_CHARS_MAX)
}

fn evaluation_retracted_yet(state: &State, evaluation_id: Uuid) -> Checked<bool> {
    let pick = |entity| match entity {
        Entity::Evaluation { retracted } => Some(retracted),
        _ => None,
    };
    entity_of(
        state,
        "evaluation_id",
        evaluation_id,
        EntityKind::Evaluation,
        pick,
    )
}

fn score(score: u32) -> Checked {
    if score > SCORE_MAX {
        return Err(invalid(
            "score",
            format!("a score is 0 to {SCORE_MAX}, not {score}"),
        ));
    }
    Ok(())
}

// Complaints.

fn complaint_filed(state: &State, event: &ComplaintFiled) -> Checked {
    new_id(state, "complaint_id", event.complaint_id)?;
    live_area(
        state,
        "area_id",
        event.area_id,
        &[AreaKind::Compound, AreaKind::Community],
    )?;
    text("summary", &event.summary, TEXT_CHARS_MAX)?;
    text("resident_ref", &event.resident_ref, NAME_CHARS_MAX)
}

fn complaint_dispatched(state: &State, event: &ComplaintDispatched) -> Checked {
    let from = [ComplaintStatus::Filed, ComplaintStatus::Dispatched];
    complaint_in(state, event.complaint_id, &from, "dispatched")?;
    live_party(
        state,
        event.assignee,
        ["assignee.member_id", "assignee.work_unit_id", "assignee.org_id"],
    )?;
    match event.due_on.as_deref() {
        Some(due_on) if !is_date(due_on) => Err(invalid(
            "due_on",
            format!("due_on {due_on:?} is not a calendar date YYYY-MM-DD"),
        )),
        _ => Ok(()),
    }
}

fn complaint_rated(state: &State, event: &ComplaintRated) -> Checked {
    complaint_in(state, event.complaint_id, &[ComplaintStatus::Resolved], "rated")?;
    if !(SATISFACTION_MIN..=SATISFACTION_MAX).contains(&event.satisfaction) {
        let message = format!(
            "satisfaction is {SATISFACTION_MIN} to {SATISFACTION_MAX}, not {}",
            event.satisfaction
        );
        return Err(invalid("satisfaction", message));
    }
    Ok(())
}

/// The complaint exists and is in one of the `from` statuses.
fn complaint_in(state: &State, complaint_id: Uuid, from: &[ComplaintStatus], becoming: &str) -> Checked {
    let pick = |entity| match entity {
        Entity::Complaint(status) => Some(status),
        _ => None,
    };
    let status = entity_of(state, "complaint_id", complaint_id, EntityKind::Complaint, pick)?;
    if from.contains(&status) {
        return Ok(());
    }
    let allowed: Vec<&str> = from.iter().map(|status| status.name()).collect();
    let message = format!(
        "complaint {complaint_id} is {}; it can be {becoming} only when {}",
        status.name(),
        allowed.join(" or ")
    );
    Err(Fault::transition(message))
}

// Administration.

fn redacted(state: &State, event: &Redacted) -> Checked {
    let target_seq = event.target_seq;
    let Some(target) = state.record_type(target_seq) else {
        let message = format!(
            "target_seq {target_seq} names no earlier record (the next is {})",
            state.next_seq()
        );
        return Err(Fault::new(ViolationCode::UnknownReference, "target_seq", message));
    };
    if target == EventType::Redacted {
        let message = format!("record {target_seq} is itself a redaction, which is never redacted");
        return Err(Fault::new(ViolationCode::WrongKind, "target_seq", message));
    }
    if event.fields.is_empty() {
        return Err(invalid(
            "fields",
            "a redaction names at least one field".to_owned(),
        ));
    }
    no_duplicates("fields", &event.fields)?;
    // A redacted record carries one marker naming one `Redacted` record and its fields
    // (`record-format.md`), so a record is redacted once, naming every field to erase.
    if let Some(field) = target
        .personal_fields()
        .iter()
        .find(|&&field| state.is_redacted(target_seq, field))
    {
        let message = format!(
            "record {target_seq} is already redacted (its {field} among others); a record is \
             redacted once, naming every field to erase"
        );
        return Err(Fault::new(ViolationCode::RuleViolation, "target_seq", message));
    }
    for name in &event.fields {
        let Some(field) = personal_field(target, name) else {
            let personal: Vec<&str> = target
                .personal_fields()
                .iter()
                .map(|field| field.name())
                .collect();
            let personal = personal.join(", ");
            let message = format!(
                "{name:?} is not a personal field of record {target_seq} ({}: {personal})",
                target.name()
            );
            return Err(invalid("fields", message));
        };
        if state.is_redacted(target_seq, field) {
            let message = format!("field {field} of record {target_seq} is already redacted");
            return Err(Fault::new(ViolationCode::RuleViolation, "fields", message));
        }
    }
    text("reason", &event.reason, NAME_CHARS_MAX)
}

// References.

/// `id` must be new: no entity of any kind has it.
fn new_id(state: &State, field: &'static str, id: Uuid) -> Checked {
    if id.is_nil() || id.is_max() {
        return Err(invalid(
            field,
            format!("{field} {id} is reserved; pick a random id"),
        ));
    }
    match state.entity(id) {
        None => Ok(()),
        Some(existing) => {
            let message = format!(
                "{field} {id} is taken: it already names {}",
                describe(state, id, existing)
            );
            Err(Fault::new(ViolationCode::DuplicateId, field, message))
        }
    }
}

/// The entity `id` names, picked by `pick` (`None` when it is of the wrong kind).
fn entity_of<T>(
    state: &State,
    field: &'static str,
    id: Uuid,
    wanted: EntityKind,
    pick: impl FnOnce(Entity) -> Option<T>,
) -> Checked<T> {
    lookup(id, wanted, |id| state.entity(id), Entity::kind, pick).map_err(|error| match error {
        LookupError::Unknown { .. } => {
            let message = format!("no {} has id {id}", wanted.bare_noun());
            Fault::new(ViolationCode::UnknownReference, field, message)
        }
        LookupError::WrongKind { .. } => {
            let found = state
                .entity(id)
                .map_or("unknown", |entity| describe(state, id, entity));
            let message = format!("{field} {id} is {found}, not {}", wanted.noun());
            Fault::new(ViolationCode::WrongKind, field, message)
        }
    })
}

fn area(state: &State, field: &'static str, id: Uuid) -> Checked<AreaFacts> {
    match state.area(id) {
        Some(area) => Ok(area),
        None => entity_of(state, field, id, EntityKind::Area, |_| None),
    }
}

/// A live area of one of `kinds`.
fn live_area(state: &State, field: &'static str, id: Uuid, kinds: &[AreaKind]) -> Checked<AreaFacts> {
    let area = area(state, field, id)?;
    if !kinds.contains(&area.kind) {
        let wanted: Vec<&str> = kinds.iter().map(|&kind| area_noun(kind)).collect();
        let message = format!(
            "{field} {id} is {}, not {}",
            area_noun(area.kind),
            wanted.join(" or ")
        );
        return Err(Fault::new(ViolationCode::WrongKind, field, message));
    }
    if let Some(retired_id) = state.retired_area_around(id) {
        let message = if retired_id == id {
            format!("area {id} is retired")
        } else {
            format!("area {id} lies within retired area {retired_id}")
        };
        return Err(Fault::new(ViolationCode::InactiveReference, field, message));
    }
    Ok(area)
}

fn org(state: &State, field: &'static str, id: Uuid) -> Checked<OrgFacts> {
    let pick = |entity| match entity {
        Entity::Org(org) => Some(org),
        _ => None,
    };
    entity_of(state, field, id, EntityKind::Org, pick)
}

fn live_org(state: &State, field: &'static str, id: Uuid) -> Checked<OrgFacts> {
    let org = org(state, field, id)?;
    if org.dissolved {
        let message = format!("party organisation {id} is dissolved");
        return Err(Fault::new(ViolationCode::InactiveReference, field, message));
    }
    Ok(org)
}

fn member(state: &State, field: &'static str, id: Uuid) -> Checked<MemberFacts> {
    let pick = |entity| match entity {
        Entity::Member(member) => Some(member),
        _ => None,
    };
    entity_of(state, field, id, EntityKind::Member, pick)
}

fn live_member(state: &State, field: &'static str, id: Uuid) -> Checked<MemberFacts> {
    let member = member(state, field, id)?;
    if member.removed {
        return Err(Fault::new(
            ViolationCode::InactiveReference,
            field,
            format!("member {id} was removed"),
        ));
    }
    Ok(member)
}

/// A work unit (they are never retired); returns its county.
fn work_unit(state: &State, field: &'static str, id: Uuid) -> Checked<Uuid> {
    let pick = |entity| {
        (entity == Entity::WorkUnit)
            .then(|| state.work_unit_county(id))
            .flatten()
    };
    entity_of(state, field, id, EntityKind::WorkUnit, pick)
}

/// A live member, work unit or organisation; `fields` names the field of each of the three.
fn live_party(state: &State, party: PartyRef, fields: [&'static str; 3]) -> Checked {
    match party {
        PartyRef::MemberId(id) => live_member(state, fields[0], id).map(drop),
        PartyRef::WorkUnitId(id) => work_unit(state, fields[1], id).map(drop),
        PartyRef::OrgId(id) => live_org(state, fields[2], id).map(drop),
    }
}

/// "a town", "a member": what `id` names, for messages.
fn describe(state: &State, id: Uuid, entity: Entity) -> &'static str {
    match state.area(id) {
        Some(area) => area_noun(area.kind),
        None => entity.noun(),
    }
}

// Field values.

fn invalid(field: &'static str, message: String) -> Fault {
    Fault::new(ViolationCode::InvalidField, field, message)
}

/// Non-empty after trimming, at most `chars_max` characters.
fn text(field: &'static str, value: &str, chars_max: usize) -> Checked {
    if value.chars().all(|c| c.is_whitespace() || is_invisible(c)) {
        return Err(invalid(
            field,
            format!("{field} must not be empty (nor only spaces or invisible characters)"),
        ));
    }
    // A name is one line; a longer text may hold line breaks and tabs, nothing else of the
    // control characters (NUL, escape, …), which no clerk typed and no export should carry.
    let allowed = |c: char| chars_max > NAME_CHARS_MAX && matches!(c, '\n' | '\r' | '\t');
    if let Some(c) = value.chars().find(|&c| c.is_control() && !allowed(c)) {
        return Err(invalid(
            field,
            format!("{field} holds the control character U+{:04X}", u32::from(c)),
        ));
    }
    let chars = value.chars().count();
    if chars > chars_max {
        return Err(invalid(
            field,
            format!("{field} has {chars} characters, at most {chars_max} are allowed"),
        ));
    }
    Ok(())
}

fn optional_text(field: &'static str, value: Option<&str>, chars_max: usize) -> Checked {
    value.map_or(Ok(()), |value| text(field, value, chars_max))
}

/// Characters that show nothing: zero-width spaces and joiners, direction marks and
/// overrides, the word joiner and invisible operators, the byte-order mark, the soft hyphen.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

fn at_most(field: &'static str, value: u32, max: u32) -> Checked {
    if value > max {
        return Err(invalid(field, format!("{field} is at most {max}, not {value}")));
    }
    Ok(())
}

fn positive(field: &'static str, value: u32) -> Checked {
    if value == 0 {
        return Err(invalid(field, format!("{field} must be greater than 0")));
    }
    Ok(())
}

/// No value twice in a short list (quadratic, but allocation-free; lists are bounded).
fn no_duplicates<T: PartialEq + std::fmt::Debug>(field: &'static str, values: &[T]) -> Checked {
    for (index, value) in values.iter().enumerate() {
        if values[..index].contains(value) {
            return Err(invalid(field, format!("{field} lists {value:?} twice")));
        }
    }
    Ok(())
}

/// Whether `period` is a year (`2026`), a half (`2026-H1`) or a quarter (`2026-Q3`) of a year
/// in [`YEAR_MIN`]`..=`[`YEAR_MAX`].
pub fn is_period(period: &str) -> bool {
    let (Some(year), Some(part)) = (period.get(..4), period.get(4..)) else {
        return false;
    };
    year_number(year).is_some() && matches!(part, "" | "-H1" | "-H2" | "-Q1" | "-Q2" | "-Q3" | "-Q4")
}

/// Whether `date` is a real calendar date `YYYY-MM-DD` in [`YEAR_MIN`]`..=`[`YEAR_MAX`].
pub fn is_date(date: &str) -> bool {
    crate::date::parse_date(date, YEAR_MIN..=YEAR_MAX).is_some()
}

fn year_number(text: &str) -> Option<u32> {
    crate::date::digits(text).filter(|year| (YEAR_MIN..=YEAR_MAX).contains(year))
}

// Names for messages.

fn area_noun(kind: AreaKind) -> &'static str {
    match kind {
        AreaKind::County => "a county",
        AreaKind::Town => "a town",
        AreaKind::Community => "a community",
        AreaKind::Compound => "a compound",
        AreaKind::Building => "a building",
    }
}

/// "a member" → "member".
fn role_name(role: OfficerRole) -> &'static str {
    match role {
        OfficerRole::Secretary => "secretary",
        OfficerRole::DeputySecretary => "deputy secretary",
        OfficerRole::CommitteeMember => "committee member",
    }
}

fn org_noun(kind: OrgKind) -> &'static str {
    match kind {
        OrgKind::CommunityCommittee => "a community committee",
        OrgKind::CompoundBranch => "a compound branch",
        OrgKind::GridBranch => "a grid branch",
        OrgKind::BuildingGroup => "a building group",
        OrgKind::WorkUnitOrg => "a work-unit organisation",
    }
}

fn pairing_kind_name(kind: PairingKind) -> &'static str {
    match kind {
        PairingKind::UnitCompound => "unit_compound",
        PairingKind::CadreSecretary => "cadre_secretary",
        PairingKind::MemberBuildingUnit => "member_building_unit",
        PairingKind::MemberHousehold => "member_household",
    }
}

fn pairing_target_shape(kind: PairingKind) -> &'static str {
    match kind {
        PairingKind::UnitCompound => "a compound: {\"area_id\"}",
        PairingKind::CadreSecretary => "a member: {\"member_id\"}",
        PairingKind::MemberBuildingUnit => "a building unit: {\"area_id\", \"unit_no\"}",
        PairingKind::MemberHousehold => "a household: {\"household_ref\"}",
    }
}
