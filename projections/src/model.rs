//! The data every read model is computed from, and how one record changes it.
//!
//! Entities live in `Vec`s in the order the log created them and refer to each other by
//! index, so the whole thing serialises deterministically (no hash-map order reaches a
//! snapshot or an answer) and copies cheaply. The id → index lookup is a hash map that is
//! never serialised: it is rebuilt after a snapshot is decoded ([`Models::reindex`]), or shared
//! with later models of the same log. Entities are only ever appended and keep their index, so
//! the lookup of a later point answers for an earlier one too, once each hit is checked against
//! this point's `Vec` lengths ([`Models::holds`]).
//!
//! Applying checks no business rule (the store did that before the record was written). It
//! fails only when a record cannot apply at all: an id it needs is unknown or of another kind,
//! or a relation it ends does not exist. Every handler looks everything up before it changes
//! anything, so a failed apply leaves the models as they were.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use compact_str::CompactString;
use govrec_core::entity::{lookup, EntityKind};
use govrec_core::event::{
    AreaKind, AreaRegistered, Channel, ComplaintCategory, EvaluationRecorded, Evaluator, MemberCategory,
    MemberEnrolled, MemberUpdated, OfficerRole, OrgKind, PairingEstablished, PairingKind, PairingTarget,
    PartyOrgFounded, PartyRef, ReportWithdrawn, ServicePost, ServiceProvider, ServiceRendered,
};
use govrec_core::{ComplaintStatus, Event};
use govrec_store::{BusinessDate, Hash32, Record, RecordedAt};
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use uuid::Uuid;

use crate::error::ProjectionError;
use govrec_core::CannotApply;

/// Position of an entity in its `Vec`.
pub(crate) type Index = u32;
/// A list of entity positions; most are short and live inline, with no heap allocation.
///
/// The inline types below keep the models' allocations few: a snapshot decode, an `as_of`
/// answer and dropping one cost about one `malloc`/`free` per heap allocation, and at 1M
/// events there were ~900k of them with plain `Vec`s and `String`s. They serialise exactly as
/// `Vec` and `String` do, so the snapshot bytes are the same.
pub(crate) type Indices = SmallVec<[Index; 4]>;
/// A name: stored inline up to 24 bytes (a Chinese name of up to 8 characters).
pub(crate) type Name = CompactString;

/// Position of a period string in [`Models::periods`].
pub(crate) type PeriodIndex = u16;

/// Most distinct period strings: years 2000..=2100 with their halves and quarters.
const PERIODS_MAX: usize = 101 * 7;

/// The record the models reflect: its seq, hash and server time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    pub seq: u64,
    pub hash: Hash32,
    pub recorded_at: RecordedAt,
}

/// When something happened: the record's seq, server time and business date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Stamp {
    pub seq: u64,
    pub recorded_at: RecordedAt,
    pub occurred_on: BusinessDate,
}

impl Stamp {
    fn of(record: &Record) -> Stamp {
        Stamp {
            seq: record.seq,
            recorded_at: record.recorded_at,
            occurred_on: record.occurred_on,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Area {
    pub id: Uuid,
    pub kind: AreaKind,
    pub name: Name,
    pub parent: Option<Index>,
    pub children: Indices,
    pub retired: bool,
    /// Building units (单元); 0 for anything but a building.
    pub units: u32,
    pub venues: u32,
    pub service_mechanisms: u32,
    pub emergency_plans: u32,
    /// Organisations whose current `area_ids` include this area, dissolved or not.
    pub covering_orgs: Indices,
    /// Members whose home is this compound and who are not removed.
    pub residents: Indices,
    /// `member_building_unit` pairings to this building, ended or not.
    pub unit_pairings: Indices,
    /// Complaints filed here.
    pub complaints: Indices,
    pub services: u64,
    pub service_minutes: u64,
    /// Work units currently reported to this community.
    pub units_reported: Indices,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Org {
    pub id: Uuid,
    pub kind: OrgKind,
    pub name: Name,
    pub areas: Indices,
    pub work_unit: Option<Index>,
    pub dissolved: bool,
    pub officers: SmallVec<[(Index, OfficerRole); 2]>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WorkUnit {
    pub id: Uuid,
    pub name: Name,
    pub county: Index,
    /// Communities it currently reports to, with when it reported.
    pub reported_to: Vec<(Index, Stamp)>,
    pub services: u64,
    pub service_minutes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Report {
    pub compound: Index,
    pub post: ServicePost,
    pub reported: Stamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Member {
    pub id: Uuid,
    /// `None` once a `Redacted` record erased it.
    pub name: Option<Name>,
    pub category: MemberCategory,
    pub home: Index,
    pub work_unit: Option<Index>,
    pub removed: bool,
    pub enrolled: Stamp,
    /// Current dual registrations.
    pub reports: SmallVec<[Report; 1]>,
    /// Pairings from this member, ended or not.
    pub pairings: Indices,
    pub services: u64,
    pub service_minutes: u64,
}

/// Who a pairing comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Pairer {
    Member(Index),
    WorkUnit(Index),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum PairedWith {
    Area {
        area: Index,
        unit_no: Option<u32>,
    },
    Member(Index),
    /// A household in need; its pseudonym is personal data and is not kept here.
    Household,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Pairing {
    pub id: Uuid,
    pub kind: PairingKind,
    pub from: Pairer,
    pub to: PairedWith,
    pub established: Stamp,
    pub ended: Option<Stamp>,
}

/// What one record did to an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvaluationAction {
    Recorded,
    Amended,
    Retracted,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EvaluationStep {
    pub action: EvaluationAction,
    /// The score set by this step (none for a retraction).
    pub score: Option<u32>,
    pub reason: Option<String>,
    /// Index into [`Models::actors`].
    pub actor: u32,
    pub at: Stamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Evaluation {
    pub id: Uuid,
    pub subject: PartyRef,
    pub evaluator: Evaluator,
    pub evaluator_ref: Uuid,
    pub period: PeriodIndex,
    /// The current score: the last amendment's, else the recorded one.
    pub score: u32,
    pub retracted: bool,
    pub history: SmallVec<[EvaluationStep; 1]>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Complaint {
    pub id: Uuid,
    pub area: Index,
    pub category: ComplaintCategory,
    pub channel: Channel,
    pub status: ComplaintStatus,
    pub assignee: Option<PartyRef>,
    pub due_on: Option<BusinessDate>,
    pub filed: Stamp,
    /// The steps of the current round (a reopening clears acceptance, resolution and rating).
    pub dispatched: Option<Stamp>,
    pub accepted: Option<Stamp>,
    /// Who accepted the current round: the assignee when `ComplaintAccepted` was recorded.
    pub accepted_by: Option<PartyRef>,
    pub resolved: Option<Stamp>,
    pub rated: Option<Stamp>,
    pub rating: Option<u8>,
    pub reopened: u32,
}

/// One complaint rating counted in a subject's resident score.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ComplaintRating {
    pub complaint: Index,
    pub satisfaction: u8,
    /// The business date of the acceptance the rating is about (it decides the periods).
    pub accepted_on: BusinessDate,
    pub rated: Stamp,
    pub actor: u32,
}

/// Everything behind one subject's score in one period.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ScoreSheet {
    /// Evaluations of the subject for the period, by either evaluator, retracted or not.
    pub evaluations: Indices,
    pub complaint_ratings: Vec<ComplaintRating>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EmergencyPlan {
    pub id: Uuid,
    pub area: Index,
    pub drills: u32,
}

/// What an id names, and where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entity {
    Area(Index),
    Org(Index),
    WorkUnit(Index),
    Member(Index),
    Pairing(Index),
    Evaluation(Index),
    Complaint(Index),
    EmergencyPlan(Index),
}

impl Entity {
    fn kind(self) -> EntityKind {
        match self {
            Entity::Area(_) => EntityKind::Area,
            Entity::Org(_) => EntityKind::Org,
            Entity::WorkUnit(_) => EntityKind::WorkUnit,
            Entity::Member(_) => EntityKind::Member,
            Entity::Pairing(_) => EntityKind::Pairing,
            Entity::Evaluation(_) => EntityKind::Evaluation,
            Entity::Complaint(_) => EntityKind::Complaint,
            Entity::EmergencyPlan(_) => EntityKind::EmergencyPlan,
        }
    }

    fn index(self) -> Index {
        match self {
            Entity::Area(index)
            | Entity::Org(index)
            | Entity::WorkUnit(index)
            | Entity::Member(index)
            | Entity::Pairing(index)
            | Entity::Evaluation(index)
            | Entity::Complaint(index)
            | Entity::EmergencyPlan(index) => index,
        }
    }
}

/// Every entity id of a log and where it is.
pub(crate) type EntityMap = govrec_core::IdMap<Uuid, Entity>;

/// Lookups rebuilt from the entity `Vec`s; never serialised.
#[derive(Debug, Clone, Default)]
pub(crate) struct Lookup {
    /// Shared copy-on-write with earlier models of the same log (see the module doc).
    pub entities: Arc<EntityMap>,
    pub actors: HashMap<String, u32>,
    pub periods: HashMap<String, PeriodIndex>,
}

/// Every read model of govrec, as of one position of the log: a pure function of the records
/// `0..=watermark.seq`, fed in order through [`Models::apply`].
///
/// Snapshots store it in two sections (`snapshot::encode`); it has no serde form of its own.
#[derive(Debug, Clone, Default)]
pub struct Models {
    pub(crate) watermark: Option<Watermark>,
    pub(crate) areas: Vec<Area>,
    pub(crate) orgs: Vec<Org>,
    pub(crate) work_units: Vec<WorkUnit>,
    pub(crate) members: Vec<Member>,
    pub(crate) pairings: Vec<Pairing>,
    pub(crate) evaluations: Vec<Evaluation>,
    pub(crate) complaints: Vec<Complaint>,
    pub(crate) emergency_plans: Vec<EmergencyPlan>,
    pub(crate) services: u64,
    /// Every actor named in an evaluation's or rating's history, interned.
    pub(crate) actors: Vec<String>,
    /// Every period string seen, interned.
    pub(crate) periods: Vec<String>,
    pub(crate) score_sheets: BTreeMap<(PeriodIndex, PartyRef), ScoreSheet>,
    pub(crate) lookup: Lookup,
}

/// What applying one event may fail with, before the seq is known.
type ApplyResult = Result<(), CannotApply>;

impl Models {
    pub fn new() -> Models {
        Models::default()
    }

    /// The record these models reflect; `None` before the first record.
    pub fn watermark(&self) -> Option<Watermark> {
        self.watermark
    }

    /// The number of records applied: the seq of the next one.
    pub fn next_seq(&self) -> u64 {
        self.watermark.map_or(0, |watermark| watermark.seq + 1)
    }

    /// Applies the next record of the log. Checks no business rule; fails when the record is
    /// not the next one or cannot apply (an unknown id), and then the models are unchanged.
    pub fn apply(&mut self, record: &Record) -> Result<(), ProjectionError> {
        let expected = self.next_seq();
        if record.seq != expected {
            return Err(ProjectionError::OutOfOrder {
                seq: record.seq,
                expected,
            });
        }
        if let Some(last) = self.watermark {
            assert!(
                record.recorded_at >= last.recorded_at,
                "recorded_at never decreases along seq (record {})",
                record.seq
            );
        }
        self.apply_event(record)
            .map_err(|reason| ProjectionError::CannotApply {
                seq: record.seq,
                reason,
            })?;
        self.watermark = Some(Watermark {
            seq: record.seq,
            hash: record.hash,
            recorded_at: record.recorded_at,
        });
        Ok(())
    }

    /// Rebuilds the id lookups from the entity `Vec`s (after decoding a snapshot).
    pub(crate) fn reindex(&mut self) {
        self.reindex_names();
        self.lookup.entities = Arc::new(self.entity_index());
    }

    /// Uses `entities`, the index of these models' log at this point or a later one, instead
    /// of building one; rebuilds only the small name lookups.
    pub(crate) fn share_index(&mut self, entities: Arc<EntityMap>) {
        self.reindex_names();
        self.lookup.entities = entities;
    }

    /// The index of the entity `Vec`s, built from scratch.
    fn entity_index(&self) -> EntityMap {
        let mut entities = EntityMap::default();
        let total = self.areas.len()
            + self.orgs.len()
            + self.work_units.len()
            + self.members.len()
            + self.pairings.len()
            + self.evaluations.len()
            + self.complaints.len()
            + self.emergency_plans.len();
        entities.reserve(total);
        let mut put = |id: Uuid, entity: Entity| {
            entities.insert(id, entity);
        };
        for (index, area) in self.areas.iter().enumerate() {
            put(area.id, Entity::Area(index as Index));
        }
        for (index, org) in self.orgs.iter().enumerate() {
            put(org.id, Entity::Org(index as Index));
        }
        for (index, unit) in self.work_units.iter().enumerate() {
            put(unit.id, Entity::WorkUnit(index as Index));
        }
        for (index, member) in self.members.iter().enumerate() {
            put(member.id, Entity::Member(index as Index));
        }
        for (index, pairing) in self.pairings.iter().enumerate() {
            put(pairing.id, Entity::Pairing(index as Index));
        }
        for (index, evaluation) in self.evaluations.iter().enumerate() {
            put(evaluation.id, Entity::Evaluation(index as Index));
        }
        for (index, complaint) in self.complaints.iter().enumerate() {
            put(complaint.id, Entity::Complaint(index as Index));
        }
        for (index, plan) in self.emergency_plans.iter().enumerate() {
            put(plan.id, Entity::EmergencyPlan(index as Index));
        }
        entities
    }

    fn reindex_names(&mut self) {
        self.lookup.actors = self
            .actors
            .iter()
            .enumerate()
            .map(|(index, actor)| (actor.clone(), index as u32))
            .collect();
        self.lookup.periods = self
            .periods
            .iter()
            .enumerate()
            .map(|(index, period)| (period.clone(), index as PeriodIndex))
            .collect();
    }

    /// Whether these models hold `entity`: a shared index may name entities created later.
    fn holds(&self, entity: Entity) -> bool {
        let (index, len) = match entity {
            Entity::Area(index) => (index, self.areas.len()),
            Entity::Org(index) => (index, self.orgs.len()),
            Entity::WorkUnit(index) => (index, self.work_units.len()),
            Entity::Member(index) => (index, self.members.len()),
            Entity::Pairing(index) => (index, self.pairings.len()),
            Entity::Evaluation(index) => (index, self.evaluations.len()),
            Entity::Complaint(index) => (index, self.complaints.len()),
            Entity::EmergencyPlan(index) => (index, self.emergency_plans.len()),
        };
        (index as usize) < len
    }

    fn apply_event(&mut self, record: &Record) -> ApplyResult {
        let stamp = Stamp::of(record);
        match &record.event {
            Event::AreaRegistered(e) => self.area_registered(e),
            Event::AreaRetired(e) => {
                let area = self.area(e.area_id)?;
                self.areas[area as usize].retired = true;
                Ok(())
            }
            Event::PartyOrgFounded(e) => self.party_org_founded(e),
            Event::PartyOrgCoverageChanged(e) => self.party_org_coverage_changed(e.org_id, &e.area_ids),
            Event::PartyOrgDissolved(e) => {
                let org = self.org(e.org_id)?;
                self.orgs[org as usize].dissolved = true;
                Ok(())
            }
            Event::OfficerAppointed(e) => {
                let org = self.org(e.org_id)?;
                let member = self.member(e.member_id)?;
                self.orgs[org as usize].officers.push((member, e.role));
                Ok(())
            }
            Event::OfficerRelieved(e) => self.officer_relieved(e.org_id, e.member_id),
            Event::VenueEstablished(e) => {
                let area = self.area(e.area_id)?;
                self.areas[area as usize].venues += 1;
                Ok(())
            }
            Event::ServiceMechanismEstablished(e) => {
                let area = self.area(e.area_id)?;
                self.areas[area as usize].service_mechanisms += 1;
                Ok(())
            }
            Event::EmergencyPlanFiled(e) => {
                let area = self.area(e.area_id)?;
                let plan = EmergencyPlan {
                    id: e.plan_id,
                    area,
                    drills: 0,
                };
                self.create(
                    e.plan_id,
                    Entity::EmergencyPlan(self.emergency_plans.len() as Index),
                )?;
                self.emergency_plans.push(plan);
                self.areas[area as usize].emergency_plans += 1;
                Ok(())
            }
            Event::EmergencyDrillHeld(e) => {
                let plan = self.index_of(e.plan_id, EntityKind::EmergencyPlan)?;
                self.emergency_plans[plan as usize].drills += 1;
                Ok(())
            }
            Event::WorkUnitRegistered(e) => {
                let county = self.area(e.county_id)?;
                let unit = WorkUnit {
                    id: e.work_unit_id,
                    name: Name::from(e.name.as_str()),
                    county,
                    reported_to: Vec::new(),
                    services: 0,
                    service_minutes: 0,
                };
                self.create(e.work_unit_id, Entity::WorkUnit(self.work_units.len() as Index))?;
                self.work_units.push(unit);
                Ok(())
            }
            Event::MemberEnrolled(e) => self.member_enrolled(e, stamp),
            Event::MemberUpdated(e) => self.member_updated(e),
            Event::MemberRemoved(e) => {
                let member = self.member(e.member_id)?;
                self.set_residence(member, false);
                self.members[member as usize].removed = true;
                Ok(())
            }
            Event::UnitReported(e) => {
                let unit = self.work_unit(e.work_unit_id)?;
                let community = self.area(e.community_id)?;
                self.work_units[unit as usize]
                    .reported_to
                    .push((community, stamp));
                self.areas[community as usize].units_reported.push(unit);
                Ok(())
            }
            Event::MemberReported(e) => {
                let member = self.member(e.member_id)?;
                let compound = self.area(e.compound_id)?;
                let report = Report {
                    compound,
                    post: e.post,
                    reported: stamp,
                };
                self.members[member as usize].reports.push(report);
                Ok(())
            }
            Event::ReportWithdrawn(e) => self.report_withdrawn(e),
            Event::ServiceRendered(e) => self.service_rendered(e),
            Event::PairingEstablished(e) => self.pairing_established(e, stamp),
            Event::PairingEnded(e) => {
                let pairing = self.pairing(e.pairing_id)?;
                let pairing = &mut self.pairings[pairing as usize];
                if pairing.ended.is_some() {
                    return Err(CannotApply::PairingEnded(e.pairing_id));
                }
                pairing.ended = Some(stamp);
                Ok(())
            }
            Event::EvaluationRecorded(e) => self.evaluation_recorded(e, record),
            Event::EvaluationAmended(e) => {
                let step = self.step(EvaluationAction::Amended, Some(e.score), Some(&e.reason), record);
                let index = self.evaluation(e.evaluation_id)? as usize;
                let evaluation = &mut self.evaluations[index];
                evaluation.score = e.score;
                evaluation.history.push(step);
                Ok(())
            }
            Event::EvaluationRetracted(e) => {
                let step = self.step(EvaluationAction::Retracted, None, Some(&e.reason), record);
                let index = self.evaluation(e.evaluation_id)? as usize;
                let evaluation = &mut self.evaluations[index];
                evaluation.retracted = true;
                evaluation.history.push(step);
                Ok(())
            }
            Event::ComplaintFiled(e) => {
                let area = self.area(e.area_id)?;
                let index = self.complaints.len() as Index;
                self.create(e.complaint_id, Entity::Complaint(index))?;
                self.complaints.push(Complaint {
                    id: e.complaint_id,
                    area,
                    category: e.category,
                    channel: e.channel,
                    status: ComplaintStatus::Filed,
                    assignee: None,
                    due_on: None,
                    filed: stamp,
                    dispatched: None,
                    accepted: None,
                    accepted_by: None,
                    resolved: None,
                    rated: None,
                    rating: None,
                    reopened: 0,
                });
                self.areas[area as usize].complaints.push(index);
                Ok(())
            }
            Event::ComplaintDispatched(e) => {
                let complaint = self.complaint(e.complaint_id)?;
                self.party(e.assignee)?;
                let due_on = match e.due_on.as_deref() {
                    Some(text) => Some(
                        BusinessDate::parse(text).ok_or_else(|| CannotApply::NotADate(text.to_owned()))?,
                    ),
                    None => None,
                };
                let complaint = &mut self.complaints[complaint as usize];
                complaint.status = ComplaintStatus::Dispatched;
                complaint.assignee = Some(e.assignee);
                complaint.due_on = due_on;
                complaint.dispatched = Some(stamp);
                Ok(())
            }
            Event::ComplaintAccepted(e) => {
                let index = self.complaint(e.complaint_id)? as usize;
                let complaint = &mut self.complaints[index];
                let assignee = complaint
                    .assignee
                    .ok_or(CannotApply::NeverDispatched(e.complaint_id))?;
                complaint.status = ComplaintStatus::Accepted;
                complaint.accepted = Some(stamp);
                complaint.accepted_by = Some(assignee);
                Ok(())
            }
            Event::ComplaintResolved(e) => {
                let index = self.complaint(e.complaint_id)? as usize;
                let complaint = &mut self.complaints[index];
                complaint.status = ComplaintStatus::Resolved;
                complaint.resolved = Some(stamp);
                Ok(())
            }
            Event::ComplaintRated(e) => self.complaint_rated(e.complaint_id, e.satisfaction, record),
            Event::ComplaintReopened(e) => {
                let index = self.complaint(e.complaint_id)? as usize;
                let complaint = &mut self.complaints[index];
                complaint.status = ComplaintStatus::Dispatched;
                complaint.accepted = None;
                complaint.accepted_by = None;
                complaint.resolved = None;
                complaint.rated = None;
                complaint.rating = None;
                complaint.reopened += 1;
                Ok(())
            }
            Event::Redacted(e) => self.redacted(record.seq, e.target_seq, &e.fields),
        }
    }

    // Lookups: the index of the entity an id names, or why it cannot apply.

    /// What `id` names in these models.
    pub(crate) fn entity(&self, id: Uuid) -> Option<Entity> {
        let entity = self.lookup.entities.get(&id).copied()?;
        self.holds(entity).then_some(entity)
    }

    /// The index of the entity of kind `wanted` that `id` names.
    fn index_of(&self, id: Uuid, wanted: EntityKind) -> Result<Index, CannotApply> {
        lookup(
            id,
            wanted,
            |id| self.entity(id),
            Entity::kind,
            |entity| (entity.kind() == wanted).then(|| entity.index()),
        )
        .map_err(CannotApply::from)
    }

    pub(crate) fn area(&self, id: Uuid) -> Result<Index, CannotApply> {
        self.index_of(id, EntityKind::Area)
    }

    fn org(&self, id: Uuid) -> Result<Index, CannotApply> {
        self.index_of(id, EntityKind::Org)
    }

    fn work_unit(&self, id: Uuid) -> Result<Index, CannotApply> {
        self.index_of(id, EntityKind::WorkUnit)
    }

    fn member(&self, id: Uuid) -> Result<Index, CannotApply> {
        self.index_of(id, EntityKind::Member)
    }

    fn pairing(&self, id: Uuid) -> Result<Index, CannotApply> {
        self.index_of(id, EntityKind::Pairing)
    }

    fn evaluation(&self, id: Uuid) -> Result<Index, CannotApply> {
        self.index_of(id, EntityKind::Evaluation)
    }

    fn complaint(&self, id: Uuid) -> Result<Index, CannotApply> {
        self.index_of(id, EntityKind::Complaint)
    }

    /// A member, work unit or organisation exists.
    fn party(&self, party: PartyRef) -> ApplyResult {
        match party {
            PartyRef::MemberId(id) => self.member(id).map(drop),
            PartyRef::WorkUnitId(id) => self.work_unit(id).map(drop),
            PartyRef::OrgId(id) => self.org(id).map(drop),
        }
    }

    fn create(&mut self, id: Uuid, entity: Entity) -> ApplyResult {
        match self.lookup.entities.get(&id).copied() {
            Some(existing) if self.holds(existing) => Err(CannotApply::Exists(id)),
            // A shared index of a later point already has it, where this record puts it.
            Some(existing) if existing == entity => Ok(()),
            Some(_) => Err(CannotApply::IndexedElsewhere(id)),
            None => {
                Arc::make_mut(&mut self.lookup.entities).insert(id, entity);
                Ok(())
            }
        }
    }

    // Areas and organisations.

    fn area_registered(&mut self, event: &AreaRegistered) -> ApplyResult {
        let parent = event.parent_id.map(|id| self.area(id)).transpose()?;
        let index = self.areas.len() as Index;
        self.create(event.area_id, Entity::Area(index))?;
        self.areas.push(Area {
            id: event.area_id,
            kind: event.kind,
            name: Name::from(event.name.as_str()),
            parent,
            children: SmallVec::new(),
            retired: false,
            units: event.units.unwrap_or(0),
            venues: 0,
            service_mechanisms: 0,
            emergency_plans: 0,
            covering_orgs: SmallVec::new(),
            residents: SmallVec::new(),
            unit_pairings: SmallVec::new(),
            complaints: SmallVec::new(),
            services: 0,
            service_minutes: 0,
            units_reported: SmallVec::new(),
        });
        if let Some(parent) = parent {
            self.areas[parent as usize].children.push(index);
        }
        Ok(())
    }

    fn areas_of(&self, ids: &[Uuid]) -> Result<Vec<Index>, CannotApply> {
        ids.iter().map(|&id| self.area(id)).collect()
    }

    fn party_org_founded(&mut self, event: &PartyOrgFounded) -> ApplyResult {
        let areas = self.areas_of(event.area_ids.as_deref().unwrap_or_default())?;
        let work_unit = event.work_unit_id.map(|id| self.work_unit(id)).transpose()?;
        if let Some(parent) = event.parent_org_id {
            self.org(parent)?;
        }
        let index = self.orgs.len() as Index;
        self.create(event.org_id, Entity::Org(index))?;
        for &area in &areas {
            self.areas[area as usize].covering_orgs.push(index);
        }
        self.orgs.push(Org {
            id: event.org_id,
            kind: event.kind,
            name: Name::from(event.name.as_str()),
            areas: areas.into(),
            work_unit,
            dissolved: false,
            officers: SmallVec::new(),
        });
        Ok(())
    }

    fn party_org_coverage_changed(&mut self, org_id: Uuid, area_ids: &[Uuid]) -> ApplyResult {
        let org = self.org(org_id)?;
        let areas = self.areas_of(area_ids)?;
        let old = std::mem::replace(&mut self.orgs[org as usize].areas, Indices::from_slice(&areas));
        for area in old {
            self.areas[area as usize]
                .covering_orgs
                .retain(|covering| *covering != org);
        }
        for area in areas {
            self.areas[area as usize].covering_orgs.push(org);
        }
        Ok(())
    }

    fn officer_relieved(&mut self, org_id: Uuid, member_id: Uuid) -> ApplyResult {
        let org = self.org(org_id)?;
        let member = self.member(member_id)?;
        let officers = &mut self.orgs[org as usize].officers;
        let position = officers
            .iter()
            .position(|&(officer, _)| officer == member)
            .ok_or(CannotApply::NotAnOfficer { member_id, org_id })?;
        officers.remove(position);
        Ok(())
    }

    // Members and registrations.

    fn member_enrolled(&mut self, event: &MemberEnrolled, stamp: Stamp) -> ApplyResult {
        let home = self.area(event.home_area_id)?;
        let work_unit = event.work_unit_id.map(|id| self.work_unit(id)).transpose()?;
        let index = self.members.len() as Index;
        self.create(event.member_id, Entity::Member(index))?;
        self.members.push(Member {
            id: event.member_id,
            // A redacted record serves its name empty (the rules never accept an empty name).
            name: (!event.name.is_empty()).then(|| Name::from(event.name.as_str())),
            category: event.category,
            home,
            work_unit,
            removed: false,
            enrolled: stamp,
            reports: SmallVec::new(),
            pairings: SmallVec::new(),
            services: 0,
            service_minutes: 0,
        });
        self.areas[home as usize].residents.push(index);
        Ok(())
    }

    fn member_updated(&mut self, event: &MemberUpdated) -> ApplyResult {
        let member = self.member(event.member_id)?;
        let home = event.home_area_id.map(|id| self.area(id)).transpose()?;
        let work_unit = event.work_unit_id.map(|id| self.work_unit(id)).transpose()?;
        if let Some(home) = home {
            self.set_residence(member, false);
            self.members[member as usize].home = home;
            self.set_residence(member, true);
        }
        let entry = &mut self.members[member as usize];
        entry.category = event.category.unwrap_or(entry.category);
        entry.work_unit = work_unit.or(entry.work_unit);
        Ok(())
    }

    /// Lists or unlists a live member among the residents of their home.
    fn set_residence(&mut self, member: Index, resident: bool) {
        let entry = &self.members[member as usize];
        if entry.removed {
            return;
        }
        let residents = &mut self.areas[entry.home as usize].residents;
        residents.retain(|other| *other != member);
        if resident {
            residents.push(member);
        }
    }

    fn report_withdrawn(&mut self, event: &ReportWithdrawn) -> ApplyResult {
        let area = self.area(event.area_id)?;
        match (event.member_id, event.work_unit_id) {
            (Some(member_id), None) => {
                let member = self.member(member_id)?;
                let reports = &mut self.members[member as usize].reports;
                let position = reports.iter().position(|report| report.compound == area).ok_or(
                    CannotApply::NoReport {
                        reporter_id: member_id,
                        area_id: event.area_id,
                    },
                )?;
                reports.remove(position);
                Ok(())
            }
            (None, Some(work_unit_id)) => {
                let unit = self.work_unit(work_unit_id)?;
                let reported_to = &mut self.work_units[unit as usize].reported_to;
                let position = reported_to
                    .iter()
                    .position(|&(community, _)| community == area)
                    .ok_or(CannotApply::NoReport {
                        reporter_id: work_unit_id,
                        area_id: event.area_id,
                    })?;
                reported_to.remove(position);
                self.areas[area as usize]
                    .units_reported
                    .retain(|other| *other != unit);
                Ok(())
            }
            _ => Err(CannotApply::WithdrawalParties),
        }
    }

    // Services and pairings.

    fn service_rendered(&mut self, event: &ServiceRendered) -> ApplyResult {
        let area = self.area(event.area_id)?;
        let minutes = u64::from(event.minutes);
        match event.by {
            ServiceProvider::MemberId(id) => {
                let index = self.member(id)? as usize;
                let member = &mut self.members[index];
                member.services += 1;
                member.service_minutes += minutes;
            }
            ServiceProvider::WorkUnitId(id) => {
                let index = self.work_unit(id)? as usize;
                let unit = &mut self.work_units[index];
                unit.services += 1;
                unit.service_minutes += minutes;
            }
        }
        let area = &mut self.areas[area as usize];
        area.services += 1;
        area.service_minutes += minutes;
        self.services += 1;
        Ok(())
    }

    fn pairing_established(&mut self, event: &PairingEstablished, stamp: Stamp) -> ApplyResult {
        let from = match event.kind {
            PairingKind::UnitCompound => Pairer::WorkUnit(self.work_unit(event.from_id)?),
            _ => Pairer::Member(self.member(event.from_id)?),
        };
        let to = match &event.to {
            PairingTarget::Area { area_id, unit_no } => {
                let area = self.area(*area_id)?;
                if let Some(unit_no) = unit_no {
                    let units = self.areas[area as usize].units;
                    if !(1..=units).contains(unit_no) {
                        return Err(CannotApply::NoSuchUnit {
                            building_id: *area_id,
                            unit_no: *unit_no,
                        });
                    }
                }
                PairedWith::Area {
                    area,
                    unit_no: *unit_no,
                }
            }
            PairingTarget::Member { member_id } => PairedWith::Member(self.member(*member_id)?),
            PairingTarget::Household { .. } => PairedWith::Household,
        };
        let index = self.pairings.len() as Index;
        self.create(event.pairing_id, Entity::Pairing(index))?;
        if let Pairer::Member(member) = from {
            self.members[member as usize].pairings.push(index);
        }
        if let (PairingKind::MemberBuildingUnit, PairedWith::Area { area, .. }) = (event.kind, to) {
            self.areas[area as usize].unit_pairings.push(index);
        }
        self.pairings.push(Pairing {
            id: event.pairing_id,
            kind: event.kind,
            from,
            to,
            established: stamp,
            ended: None,
        });
        Ok(())
    }

    // Evaluations and complaint ratings.

    fn evaluation_recorded(&mut self, event: &EvaluationRecorded, record: &Record) -> ApplyResult {
        self.party(event.subject)?;
        let step = self.step(EvaluationAction::Recorded, Some(event.score), None, record);
        let period = self.period(&event.period)?;
        let index = self.evaluations.len() as Index;
        self.create(event.evaluation_id, Entity::Evaluation(index))?;
        self.evaluations.push(Evaluation {
            id: event.evaluation_id,
            subject: event.subject,
            evaluator: event.evaluator,
            evaluator_ref: event.evaluator_ref,
            period,
            score: event.score,
            retracted: false,
            history: smallvec::smallvec![step],
        });
        let sheet = self.score_sheets.entry((period, event.subject)).or_default();
        sheet.evaluations.push(index);
        Ok(())
    }

    fn step(
        &mut self,
        action: EvaluationAction,
        score: Option<u32>,
        reason: Option<&str>,
        record: &Record,
    ) -> EvaluationStep {
        EvaluationStep {
            action,
            score,
            reason: reason.map(str::to_owned),
            actor: self.actor(&record.actor),
            at: Stamp::of(record),
        }
    }

    /// The interned index of an actor name. An unused interned name is harmless, so a failed
    /// apply may leave one behind without changing any answer.
    fn actor(&mut self, actor: &str) -> u32 {
        if let Some(&index) = self.lookup.actors.get(actor) {
            return index;
        }
        let index = self.actors.len() as u32;
        self.actors.push(actor.to_owned());
        self.lookup.actors.insert(actor.to_owned(), index);
        index
    }

    /// The interned index of a period string.
    fn period(&mut self, period: &str) -> Result<PeriodIndex, CannotApply> {
        if let Some(&index) = self.lookup.periods.get(period) {
            return Ok(index);
        }
        if self.periods.len() >= PERIODS_MAX {
            return Err(CannotApply::TooManyPeriods { max: PERIODS_MAX });
        }
        let index = self.periods.len() as PeriodIndex;
        self.periods.push(period.to_owned());
        self.lookup.periods.insert(period.to_owned(), index);
        Ok(index)
    }

    /// A rating counts toward the subject that accepted the round it rates, in every period
    /// (year, half, quarter) that contains the acceptance's business date.
    fn complaint_rated(&mut self, complaint_id: Uuid, satisfaction: u32, record: &Record) -> ApplyResult {
        let index = self.complaint(complaint_id)?;
        let complaint = &self.complaints[index as usize];
        let (Some(subject), Some(accepted)) = (complaint.accepted_by, complaint.accepted) else {
            return Err(CannotApply::NeverAccepted(complaint_id));
        };
        let satisfaction = u8::try_from(satisfaction)
            .ok()
            .filter(|value| (1..=5).contains(value))
            .ok_or(CannotApply::Satisfaction(satisfaction))?;
        let mut periods = Vec::with_capacity(3);
        for period in periods_containing(accepted.occurred_on) {
            periods.push(self.period(&period)?);
        }
        let rating = ComplaintRating {
            complaint: index,
            satisfaction,
            accepted_on: accepted.occurred_on,
            rated: Stamp::of(record),
            actor: self.actor(&record.actor),
        };
        for period in periods {
            let sheet = self.score_sheets.entry((period, subject)).or_default();
            sheet.complaint_ratings.push(rating.clone());
        }
        let complaint = &mut self.complaints[index as usize];
        complaint.status = ComplaintStatus::Rated;
        complaint.rated = Some(rating.rated);
        complaint.rating = Some(satisfaction);
        Ok(())
    }

    // Administration.

    /// Erases the personal data the models copied from record `target_seq`: only a member's
    /// name is kept here (complaint texts, pseudonyms, comments and reasons of removal are
    /// never copied into the models).
    fn redacted(&mut self, seq: u64, target_seq: u64, fields: &[String]) -> ApplyResult {
        if target_seq >= seq {
            return Err(CannotApply::TargetNotEarlier(target_seq));
        }
        if !fields.iter().any(|field| field == "name") {
            return Ok(());
        }
        let found = self
            .members
            .binary_search_by_key(&target_seq, |member| member.enrolled.seq);
        if let Ok(member) = found {
            self.members[member].name = None;
        }
        Ok(())
    }
}

/// The year, half and quarter that contain `date`: `["2026", "2026-H2", "2026-Q3"]`.
pub(crate) fn periods_containing(date: BusinessDate) -> [String; 3] {
    let year = date.yyyymmdd() / 10_000;
    let month = date.yyyymmdd() / 100 % 100;
    let half = if month <= 6 { 1 } else { 2 };
    let quarter = (month.clamp(1, 12) - 1) / 3 + 1;
    [
        format!("{year:04}"),
        format!("{year:04}-H{half}"),
        format!("{year:04}-Q{quarter}"),
    ]
}
