//! The state an append is validated against: every entity the log has created, reduced to the
//! few facts the rules need (kind, place in the hierarchy, lifecycle), and the type of every
//! record.
//!
//! One place decides and one place applies. [`crate::rules`] checks an event against a
//! read-only `State`; `State::apply` changes the state and knows no rules, and is used both
//! for new batches and for replaying the log. A new batch is checked and applied one event at
//! a time, so each event sees the batch's earlier events. Every change notes what it replaced in
//! a journal, so a batch that fails half-way is undone at the cost of what it touched, never a
//! copy of the whole state.
//!
//! Memory: an entity costs its 16-byte id, a 4-byte `Entity` and its 4-byte county number in one
//! map; only areas, of which a county has thousands, not millions, keep more. A record costs one
//! byte (its type, for redactions).

use std::collections::BTreeSet;
use std::hash::Hash;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::entity::{EntityKind, LookupError};
use crate::event::{
    AreaKind, AreaRegistered, CountyAnchor, Event, EventType, MemberCategory, OfficerAppointed,
    OfficerRelieved, OfficerRole, OrgKind, PersonalField, Redacted, ReportWithdrawn,
};
use crate::personal::personal_field;
use crate::rules;
use crate::violation::{ApplyError, CannotApply, Violation};
use crate::{IdMap, IdSet};

/// The levels of the area hierarchy (county > town > community > compound > building): no walk
/// up from an area takes more steps, even over a damaged log.
const AREA_LEVELS: usize = 5;

/// Everything the rules of an append need to know about the log so far.
///
/// Two states are equal when they hold the same entities, relations and record types; a
/// state that refused some batches equals one that never saw them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct State {
    /// Every entity ever created, whatever its kind (entity ids share one namespace), and the
    /// county it belongs to.
    entities: IdMap<Uuid, Placed>,
    /// Every county registered, in log order; an entity's county is an index into it.
    counties: Vec<Uuid>,
    /// The index of each county in `counties`.
    county_numbers: IdMap<Uuid, CountyNumber>,
    /// Where each area sits in the hierarchy; its id is also in `entities`.
    areas: IdMap<Uuid, AreaFacts>,
    /// Current officers: (organisation, member) and the role held.
    officers: IdMap<(Uuid, Uuid), OfficerRole>,
    /// Current dual registrations: (member or work unit, the compound or community reported
    /// to). Member and work-unit ids never collide, so one set holds both kinds.
    reports: IdSet<(Uuid, Uuid)>,
    /// Fields erased so far: (target seq, field name).
    redactions: IdSet<(u64, PersonalField)>,
    /// The type of the record at each seq; its length is the next seq.
    record_types: Vec<EventType>,
    /// What the batch being applied changed, oldest first, to undo it if the batch fails.
    /// Empty between calls.
    journal: Vec<Change>,
}

/// A county's index in `State::counties`: four bytes per entity instead of a 16-byte id.
type CountyNumber = u32;

/// The county number of an entity no county places (an area whose chain does not reach a
/// county, on a log replayed without the rules).
const NO_COUNTY: CountyNumber = CountyNumber::MAX;

/// An entity and the county it belongs to.
///
/// This is the one answer to "which county is this entity in", for office scopes: an entity
/// belongs to the county of its creating event's home anchor (the first of its
/// [`crate::event::EventFacts::county_anchors`]): an area to its parent's county (a county to
/// itself), a complaint to its compound's, an evaluation to its subject's. A member alone
/// moves: they belong to the county of their current home.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Placed {
    entity: Entity,
    county: CountyNumber,
}

/// Which counties a principal may append in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CountyScope {
    /// Every county (an admin, or a recorder with no scope).
    Everywhere,
    /// Only these counties.
    Only(BTreeSet<Uuid>),
}

impl CountyScope {
    fn allows(&self, county: &Uuid) -> bool {
        match self {
            CountyScope::Everywhere => true,
            CountyScope::Only(counties) => counties.contains(county),
        }
    }
}

/// Why a batch was refused by [`State::check_and_apply_within`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// An event broke a rule.
    #[error(transparent)]
    Broken(#[from] Violation),
    /// An event touches a county outside the scope, before or after it applies (`county`), or
    /// is a redaction (`None`), which only an unscoped principal may append.
    #[error("{}", out_of_scope_message(*.index, .county))]
    OutOfScope { index: usize, county: Option<Uuid> },
}

fn out_of_scope_message(index: usize, county: &Option<Uuid>) -> String {
    match county {
        Some(county) => format!("event {index} touches county {county}, outside this scope"),
        None => format!("event {index} is a redaction, which only an unscoped principal may append"),
    }
}

/// What the rules know about one entity. Kept to a few bytes: a log holds millions of
/// services, evaluations and complaints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Entity {
    /// Its place in the hierarchy is in `State::areas`.
    Area,
    Org(OrgFacts),
    /// Its county is the one it is placed in (its `county_id`). Work units are never retired.
    WorkUnit,
    Member(MemberFacts),
    Venue,
    EmergencyPlan,
    Service,
    Pairing {
        ended: bool,
    },
    Evaluation {
        retracted: bool,
    },
    Complaint(ComplaintStatus),
}

const _: () = assert!(
    std::mem::size_of::<Entity>() <= 4,
    "an Entity must stay small: there are millions"
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OrgFacts {
    pub kind: OrgKind,
    pub dissolved: bool,
    pub has_secretary: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MemberFacts {
    pub category: MemberCategory,
    pub has_work_unit: bool,
    pub removed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AreaFacts {
    pub kind: AreaKind,
    pub parent: Option<Uuid>,
    /// Building units (单元); 0 for anything but a building.
    pub units: u32,
    pub retired: bool,
}

/// Where a complaint is in filed → dispatched → accepted → resolved → rated; reopening sends it
/// back to dispatched. The validation state and the read models share this one definition.
///
/// Serialised by variant index in the open-state file and the read models' snapshots: new
/// statuses go at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplaintStatus {
    Filed,
    Dispatched,
    Accepted,
    Resolved,
    /// Resolved, and rated since.
    Rated,
}

impl ComplaintStatus {
    /// Every status, in workflow order.
    pub const ALL: &'static [ComplaintStatus] = &[
        ComplaintStatus::Filed,
        ComplaintStatus::Dispatched,
        ComplaintStatus::Accepted,
        ComplaintStatus::Resolved,
        ComplaintStatus::Rated,
    ];

    /// The snake_case word of the API and CSV.
    pub fn name(self) -> &'static str {
        match self {
            ComplaintStatus::Filed => "filed",
            ComplaintStatus::Dispatched => "dispatched",
            ComplaintStatus::Accepted => "accepted",
            ComplaintStatus::Resolved => "resolved",
            ComplaintStatus::Rated => "rated",
        }
    }

    /// Resolved (rated or not) and not reopened since.
    pub fn is_resolved(self) -> bool {
        matches!(self, ComplaintStatus::Resolved | ComplaintStatus::Rated)
    }
}

impl Entity {
    /// The kind of entity this is.
    pub(crate) fn kind(self) -> EntityKind {
        match self {
            Entity::Area => EntityKind::Area,
            Entity::Org(_) => EntityKind::Org,
            Entity::WorkUnit => EntityKind::WorkUnit,
            Entity::Member(_) => EntityKind::Member,
            Entity::Venue => EntityKind::Venue,
            Entity::EmergencyPlan => EntityKind::EmergencyPlan,
            Entity::Service => EntityKind::Service,
            Entity::Pairing { .. } => EntityKind::Pairing,
            Entity::Evaluation { .. } => EntityKind::Evaluation,
            Entity::Complaint(_) => EntityKind::Complaint,
        }
    }

    /// "a member", "an area": for messages.
    pub(crate) fn noun(self) -> &'static str {
        self.kind().noun()
    }
}

/// Why saved state bytes ([`State::to_bytes`]) cannot be read back. The state is derived: a
/// caller that gets this rebuilds it from the log.
#[derive(Debug, thiserror::Error)]
pub enum StateDecodeError {
    /// The bytes are not a saved state of this version.
    #[error("{0}")]
    Malformed(#[from] postcard::Error),
    /// A saved redaction names a field that is not personal in its record's type.
    #[error("redaction of {name:?} at seq {seq} names no personal field")]
    NotAPersonalField { seq: u64, name: String },
}

/// One change to the state and what was there before, so it can be undone.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Change {
    Entity(Uuid, Option<Placed>),
    /// A county was pushed to `counties`.
    County,
    Area(Uuid, Option<AreaFacts>),
    Officer((Uuid, Uuid), Option<OfficerRole>),
    ReportAdded((Uuid, Uuid)),
    ReportWithdrawn((Uuid, Uuid)),
    /// The redaction was added.
    Redaction(u64, PersonalField),
    /// A record's type was pushed.
    Record,
}

/// [`State`] as stored by [`State::to_bytes`]: maps as lists of pairs (rebuilt with their
/// exact capacity), a redaction's field by name.
#[derive(Serialize, Deserialize)]
struct SavedState {
    entities: Vec<(Uuid, Placed)>,
    counties: Vec<Uuid>,
    areas: Vec<(Uuid, AreaFacts)>,
    officers: Vec<((Uuid, Uuid), OfficerRole)>,
    reports: Vec<(Uuid, Uuid)>,
    redactions: Vec<(u64, String)>,
    record_types: Vec<EventType>,
}

fn pairs<K: Copy, V: Copy>(map: &IdMap<K, V>) -> Vec<(K, V)> {
    map.iter().map(|(key, value)| (*key, *value)).collect()
}

fn map_of<K: Eq + Hash, V>(pairs: Vec<(K, V)>) -> IdMap<K, V> {
    let mut map = IdMap::with_capacity_and_hasher(pairs.len(), Default::default());
    map.extend(pairs);
    map
}

impl State {
    pub fn new() -> State {
        State::default()
    }

    /// The state as bytes (postcard), for a store that saves it to open faster; read back
    /// with [`State::from_bytes`]. Not a stable format: a reader checks its own version.
    pub fn to_bytes(&self) -> Vec<u8> {
        assert!(
            self.journal.is_empty(),
            "the journal is emptied after every batch"
        );
        let saved = SavedState {
            entities: pairs(&self.entities),
            counties: self.counties.clone(),
            areas: pairs(&self.areas),
            officers: pairs(&self.officers),
            reports: self.reports.iter().copied().collect(),
            redactions: self
                .redactions
                .iter()
                .map(|(seq, field)| (*seq, field.name().to_owned()))
                .collect(),
            record_types: self.record_types.clone(),
        };
        postcard::to_stdvec(&saved).expect("a state always serialises")
    }

    /// Reads what [`State::to_bytes`] wrote.
    pub fn from_bytes(bytes: &[u8]) -> Result<State, StateDecodeError> {
        let saved: SavedState = postcard::from_bytes(bytes)?;
        let mut redactions = IdSet::with_capacity_and_hasher(saved.redactions.len(), Default::default());
        for (seq, name) in saved.redactions {
            let field = saved
                .record_types
                .get(seq as usize)
                .and_then(|&target| personal_field(target, &name))
                .ok_or(StateDecodeError::NotAPersonalField {
                    seq,
                    name: name.clone(),
                })?;
            redactions.insert((seq, field));
        }
        let mut reports = IdSet::with_capacity_and_hasher(saved.reports.len(), Default::default());
        reports.extend(saved.reports);
        let county_numbers = (0..)
            .zip(&saved.counties)
            .map(|(number, county)| (*county, number))
            .collect::<Vec<_>>();
        Ok(State {
            entities: map_of(saved.entities),
            counties: saved.counties,
            county_numbers: map_of(county_numbers),
            areas: map_of(saved.areas),
            officers: map_of(saved.officers),
            reports,
            redactions,
            record_types: saved.record_types,
            journal: Vec::new(),
        })
    }

    /// Checks every rule for a batch whose first event will get seq `first_seq` (the events get
    /// `first_seq`, `first_seq + 1`, ...), each event against the state that includes the
    /// batch's earlier events, and applies the whole batch when all pass. On `Err` the state
    /// is exactly as before.
    ///
    /// # Panics
    /// When `first_seq` is not [`State::next_seq`] (the caller lost track of the log), or when
    /// an event passed every rule but cannot apply (the rules and `apply` disagree): both are
    /// bugs, not bad input.
    pub fn check_and_apply(&mut self, first_seq: u64, events: &[Event]) -> Result<(), Violation> {
        match self.check_and_apply_within(first_seq, events, &CountyScope::Everywhere) {
            Ok(()) => Ok(()),
            Err(Refusal::Broken(violation)) => Err(violation),
            Err(Refusal::OutOfScope { .. }) => unreachable!("every county is in scope"),
        }
    }

    /// [`State::check_and_apply`] for a principal limited to `scope`: each event must also
    /// touch only counties in scope, both in the state before it (where its references lie
    /// now) and after it (where they lie once it applies: a member moved, an entity created
    /// earlier in the batch). The scope is checked before the rules, so a reference into
    /// another county is refused as such. On `Err` the state is exactly as before.
    ///
    /// # Panics
    /// As [`State::check_and_apply`].
    pub fn check_and_apply_within(
        &mut self,
        first_seq: u64,
        events: &[Event],
        scope: &CountyScope,
    ) -> Result<(), Refusal> {
        assert_eq!(
            first_seq,
            self.next_seq(),
            "a batch must start at the state's next seq"
        );
        assert!(
            self.journal.is_empty(),
            "the journal is emptied after every batch"
        );
        for (index, event) in events.iter().enumerate() {
            if let Err(refusal) = self.check_scope(index, event, scope) {
                self.roll_back();
                return Err(refusal);
            }
            if let Err(fault) = rules::check(self, event) {
                self.roll_back();
                return Err(fault.at(index).into());
            }
            if let Err(message) = self.apply(event) {
                self.roll_back();
                panic!("event {index} passed every rule but cannot apply: {message}");
            }
            if let Err(refusal) = self.check_scope(index, event, scope) {
                self.roll_back();
                return Err(refusal);
            }
        }
        self.journal.clear();
        Ok(())
    }

    /// Whether every county `event` touches in the current state is in `scope`.
    fn check_scope(&self, index: usize, event: &Event, scope: &CountyScope) -> Result<(), Refusal> {
        if *scope == CountyScope::Everywhere {
            return Ok(());
        }
        if let Event::Redacted(_) = event {
            return Err(Refusal::OutOfScope { index, county: None });
        }
        match self
            .counties_touched(event)
            .into_iter()
            .find(|county| !scope.allows(county))
        {
            Some(county) => Err(Refusal::OutOfScope {
                index,
                county: Some(county),
            }),
            None => Ok(()),
        }
    }

    /// Applies an already-recorded event without the business rules (replay when the store
    /// opens). Fails only when the event cannot apply at all: it updates an id that does not
    /// exist, creates one that does, or `seq` is not the next one. The state is then unchanged.
    pub fn apply_recorded(&mut self, seq: u64, event: &Event) -> Result<(), ApplyError> {
        if seq != self.next_seq() {
            let reason = CannotApply::OutOfOrder {
                expected: self.next_seq(),
            };
            return Err(ApplyError { seq, reason });
        }
        if let Err(reason) = self.apply(event) {
            self.roll_back();
            return Err(ApplyError { seq, reason });
        }
        self.journal.clear();
        Ok(())
    }

    /// The county an entity belongs to (see [`Placed`]): an area's county (itself for a
    /// county), a member's current home county, the county where anything else was created.
    /// `None` for an unknown id, or an entity no county places.
    pub fn county_of(&self, id: Uuid) -> Option<Uuid> {
        self.county_by_number(self.entities.get(&id)?.county)
    }

    /// The counties an event touches: those of every entity it references (its
    /// [`CountyAnchor`]s) that is known, and any county it names. Empty for a redaction, which
    /// its target places.
    pub fn counties_touched(&self, event: &Event) -> BTreeSet<Uuid> {
        event
            .county_anchors()
            .into_iter()
            .filter_map(|anchor| match anchor {
                CountyAnchor::IsCounty(county) => Some(county),
                CountyAnchor::Entity(id) => self.county_of(id),
            })
            .collect()
    }

    /// The county number of entity `id` (`NO_COUNTY` for an unknown id).
    fn county_number_of(&self, id: Uuid) -> CountyNumber {
        self.entities.get(&id).map_or(NO_COUNTY, |placed| placed.county)
    }

    fn county_by_number(&self, number: CountyNumber) -> Option<Uuid> {
        self.counties.get(usize::try_from(number).ok()?).copied()
    }

    /// The county number of an event's home anchor, in the state before it applies.
    fn home_county(&self, event: &Event) -> CountyNumber {
        match event.county_anchors().first() {
            Some(CountyAnchor::IsCounty(county)) => {
                self.county_numbers.get(county).copied().unwrap_or(NO_COUNTY)
            }
            Some(CountyAnchor::Entity(id)) => self.county_number_of(*id),
            None => NO_COUNTY,
        }
    }

    /// The number of records applied so far: the seq the next record gets.
    pub fn next_seq(&self) -> u64 {
        self.record_types.len() as u64
    }

    pub(crate) fn entity(&self, id: Uuid) -> Option<Entity> {
        self.entities.get(&id).map(|placed| placed.entity)
    }

    pub(crate) fn area(&self, id: Uuid) -> Option<AreaFacts> {
        self.areas.get(&id).copied()
    }

    /// The first retired area among `area_id` and its ancestors: retiring an area retires
    /// everything below it.
    pub(crate) fn retired_area_around(&self, area_id: Uuid) -> Option<Uuid> {
        self.lineage(area_id)
            .find(|(_, area)| area.retired)
            .map(|(id, _)| id)
    }

    /// The county a work unit is registered in (its `county_id`, placed like any entity).
    pub(crate) fn work_unit_county(&self, work_unit_id: Uuid) -> Option<Uuid> {
        self.county_of(work_unit_id)
    }

    pub(crate) fn officer_role(&self, org_id: Uuid, member_id: Uuid) -> Option<OfficerRole> {
        self.officers.get(&(org_id, member_id)).copied()
    }

    /// Whether a member or work unit has a current report to an area.
    pub(crate) fn has_report(&self, reporter_id: Uuid, area_id: Uuid) -> bool {
        self.reports.contains(&(reporter_id, area_id))
    }

    pub(crate) fn is_redacted(&self, seq: u64, field: PersonalField) -> bool {
        self.redactions.contains(&(seq, field))
    }

    pub(crate) fn record_type(&self, seq: u64) -> Option<EventType> {
        let index = usize::try_from(seq).ok()?;
        self.record_types.get(index).copied()
    }

    /// The area and its ancestors, nearest first.
    fn lineage(&self, area_id: Uuid) -> impl Iterator<Item = (Uuid, AreaFacts)> + '_ {
        let first = self.area(area_id).map(|area| (area_id, area));
        let parent_of = |(_, area): &(Uuid, AreaFacts)| {
            let parent_id = area.parent?;
            self.area(parent_id).map(|parent| (parent_id, parent))
        };
        std::iter::successors(first, parent_of).take(AREA_LEVELS)
    }

    /// Applies one event with no rules; the only errors are events that cannot apply at all.
    fn apply(&mut self, event: &Event) -> Result<(), CannotApply> {
        use ComplaintStatus::{Accepted, Dispatched, Filed, Rated, Resolved};
        match event {
            Event::AreaRegistered(e) => {
                let home = self.home_county(event);
                self.register_area(e, home)
            }
            Event::AreaRetired(e) => self.retire_area(e.area_id),
            Event::PartyOrgFounded(e) => {
                let org = OrgFacts {
                    kind: e.kind,
                    dissolved: false,
                    has_secretary: false,
                };
                self.create(e.org_id, Entity::Org(org), self.home_county(event))
            }
            Event::PartyOrgCoverageChanged(e) => self.update_org(e.org_id, |_| {}),
            Event::PartyOrgDissolved(e) => self.update_org(e.org_id, |org| org.dissolved = true),
            Event::OfficerAppointed(e) => self.appoint_officer(e),
            Event::OfficerRelieved(e) => self.relieve_officer(e),
            Event::VenueEstablished(e) => self.create(e.venue_id, Entity::Venue, self.home_county(event)),
            Event::ServiceMechanismEstablished(e) => self.require_area(e.area_id),
            Event::EmergencyPlanFiled(e) => {
                self.create(e.plan_id, Entity::EmergencyPlan, self.home_county(event))
            }
            Event::EmergencyDrillHeld(e) => self.update(e.plan_id, |entity| {
                (entity == Entity::EmergencyPlan).then_some(entity)
            }),
            Event::WorkUnitRegistered(e) => {
                self.create(e.work_unit_id, Entity::WorkUnit, self.home_county(event))
            }
            Event::MemberEnrolled(e) => {
                let member = MemberFacts {
                    category: e.category,
                    has_work_unit: e.work_unit_id.is_some(),
                    removed: false,
                };
                self.create(e.member_id, Entity::Member(member), self.home_county(event))
            }
            Event::MemberUpdated(e) => {
                self.update_member(e.member_id, |member| {
                    member.category = e.category.unwrap_or(member.category);
                    member.has_work_unit |= e.work_unit_id.is_some();
                })?;
                match e.home_area_id {
                    Some(home_area_id) => self.move_member(e.member_id, home_area_id),
                    None => Ok(()),
                }
            }
            Event::MemberRemoved(e) => self.update_member(e.member_id, |member| member.removed = true),
            Event::UnitReported(e) => self.add_report((e.work_unit_id, e.community_id)),
            Event::MemberReported(e) => self.add_report((e.member_id, e.compound_id)),
            Event::ReportWithdrawn(e) => self.withdraw_report(e),
            Event::ServiceRendered(e) => self.create(e.service_id, Entity::Service, self.home_county(event)),
            Event::PairingEstablished(e) => self.create(
                e.pairing_id,
                Entity::Pairing { ended: false },
                self.home_county(event),
            ),
            Event::PairingEnded(e) => self.update(e.pairing_id, |entity| {
                matches!(entity, Entity::Pairing { .. }).then_some(Entity::Pairing { ended: true })
            }),
            Event::EvaluationRecorded(e) => self.create(
                e.evaluation_id,
                Entity::Evaluation { retracted: false },
                self.home_county(event),
            ),
            Event::EvaluationAmended(e) => self.update(e.evaluation_id, |entity| {
                matches!(entity, Entity::Evaluation { .. }).then_some(entity)
            }),
            Event::EvaluationRetracted(e) => self.update(e.evaluation_id, |entity| {
                matches!(entity, Entity::Evaluation { .. }).then_some(Entity::Evaluation { retracted: true })
            }),
            Event::ComplaintFiled(e) => {
                self.create(e.complaint_id, Entity::Complaint(Filed), self.home_county(event))
            }
            Event::ComplaintDispatched(e) => self.move_complaint(e.complaint_id, Dispatched),
            Event::ComplaintAccepted(e) => self.move_complaint(e.complaint_id, Accepted),
            Event::ComplaintResolved(e) => self.move_complaint(e.complaint_id, Resolved),
            Event::ComplaintRated(e) => self.move_complaint(e.complaint_id, Rated),
            Event::ComplaintReopened(e) => self.move_complaint(e.complaint_id, Dispatched),
            Event::Redacted(e) => self.redact(e),
        }?;
        self.record_types.push(event.event_type());
        self.journal.push(Change::Record);
        Ok(())
    }

    fn create(&mut self, id: Uuid, entity: Entity, county: CountyNumber) -> Result<(), CannotApply> {
        if self.entity(id).is_some() {
            return Err(CannotApply::Exists(id));
        }
        self.entities.insert(id, Placed { entity, county });
        self.journal.push(Change::Entity(id, None));
        Ok(())
    }

    /// Places a member in the county of their new home area.
    fn move_member(&mut self, id: Uuid, home_area_id: Uuid) -> Result<(), CannotApply> {
        let county = self.county_number_of(home_area_id);
        let before = *self.entities.get(&id).ok_or(CannotApply::NoEntity(id))?;
        if before.county != county {
            self.entities.insert(id, Placed { county, ..before });
            self.journal.push(Change::Entity(id, Some(before)));
        }
        Ok(())
    }

    /// Registers a new county: it gets the next county number.
    fn add_county(&mut self, county_id: Uuid) -> Result<CountyNumber, CannotApply> {
        let number = CountyNumber::try_from(self.counties.len())
            .ok()
            .filter(|&number| number != NO_COUNTY)
            .ok_or(CannotApply::TooManyCounties)?;
        if self.county_numbers.contains_key(&county_id) {
            return Err(CannotApply::Exists(county_id));
        }
        self.counties.push(county_id);
        self.county_numbers.insert(county_id, number);
        self.journal.push(Change::County);
        Ok(number)
    }

    /// Replaces entity `id` by `change(entity)`; `change` returns `None` when the entity is of
    /// a kind the event cannot apply to.
    fn update(&mut self, id: Uuid, change: impl FnOnce(Entity) -> Option<Entity>) -> Result<(), CannotApply> {
        let placed = *self.entities.get(&id).ok_or(CannotApply::NoEntity(id))?;
        let current = placed.entity;
        let changed = change(current).ok_or(CannotApply::CannotChange {
            id,
            kind: current.kind(),
        })?;
        if changed != current {
            self.entities.insert(
                id,
                Placed {
                    entity: changed,
                    ..placed
                },
            );
            self.journal.push(Change::Entity(id, Some(placed)));
        }
        Ok(())
    }

    fn update_org(&mut self, id: Uuid, change: impl FnOnce(&mut OrgFacts)) -> Result<(), CannotApply> {
        self.update(id, |entity| match entity {
            Entity::Org(mut org) => {
                change(&mut org);
                Some(Entity::Org(org))
            }
            _ => None,
        })
    }

    fn update_member(&mut self, id: Uuid, change: impl FnOnce(&mut MemberFacts)) -> Result<(), CannotApply> {
        self.update(id, |entity| match entity {
            Entity::Member(mut member) => {
                change(&mut member);
                Some(Entity::Member(member))
            }
            _ => None,
        })
    }

    fn move_complaint(&mut self, id: Uuid, status: ComplaintStatus) -> Result<(), CannotApply> {
        self.update(id, |entity| {
            matches!(entity, Entity::Complaint(_)).then_some(Entity::Complaint(status))
        })
    }

    fn register_area(&mut self, event: &AreaRegistered, home: CountyNumber) -> Result<(), CannotApply> {
        // A county gets the next county number; on an id already taken, `create` fails and the
        // journal takes the number back.
        let county = match event.kind {
            AreaKind::County => self.add_county(event.area_id)?,
            _ => home,
        };
        self.create(event.area_id, Entity::Area, county)?;
        let area = AreaFacts {
            kind: event.kind,
            parent: event.parent_id,
            units: event.units.unwrap_or(0),
            retired: false,
        };
        self.put_area(event.area_id, area);
        Ok(())
    }

    fn retire_area(&mut self, area_id: Uuid) -> Result<(), CannotApply> {
        let area = self.area(area_id).ok_or(LookupError::Unknown {
            id: area_id,
            wanted: EntityKind::Area,
        })?;
        self.put_area(
            area_id,
            AreaFacts {
                retired: true,
                ..area
            },
        );
        Ok(())
    }

    fn require_area(&self, area_id: Uuid) -> Result<(), CannotApply> {
        match self.area(area_id) {
            Some(_) => Ok(()),
            None => Err(LookupError::Unknown {
                id: area_id,
                wanted: EntityKind::Area,
            }
            .into()),
        }
    }

    fn put_area(&mut self, area_id: Uuid, area: AreaFacts) {
        let before = self.areas.insert(area_id, area);
        self.journal.push(Change::Area(area_id, before));
    }

    fn appoint_officer(&mut self, event: &OfficerAppointed) -> Result<(), CannotApply> {
        let is_secretary = event.role == OfficerRole::Secretary;
        self.update_org(event.org_id, |org| org.has_secretary |= is_secretary)?;
        let key = (event.org_id, event.member_id);
        let before = self.officers.insert(key, event.role);
        self.journal.push(Change::Officer(key, before));
        Ok(())
    }

    fn relieve_officer(&mut self, event: &OfficerRelieved) -> Result<(), CannotApply> {
        let key = (event.org_id, event.member_id);
        let role = self.officers.remove(&key).ok_or(CannotApply::NotAnOfficer {
            member_id: event.member_id,
            org_id: event.org_id,
        })?;
        self.journal.push(Change::Officer(key, Some(role)));
        if role == OfficerRole::Secretary {
            self.update_org(event.org_id, |org| org.has_secretary = false)?;
        }
        Ok(())
    }

    fn add_report(&mut self, key: (Uuid, Uuid)) -> Result<(), CannotApply> {
        if self.reports.insert(key) {
            self.journal.push(Change::ReportAdded(key));
        }
        Ok(())
    }

    fn withdraw_report(&mut self, event: &ReportWithdrawn) -> Result<(), CannotApply> {
        let reporter_id = match (event.member_id, event.work_unit_id) {
            (Some(id), None) | (None, Some(id)) => id,
            _ => return Err(CannotApply::WithdrawalParties),
        };
        let key = (reporter_id, event.area_id);
        if !self.reports.remove(&key) {
            return Err(CannotApply::NoReport {
                reporter_id,
                area_id: event.area_id,
            });
        }
        self.journal.push(Change::ReportWithdrawn(key));
        Ok(())
    }

    fn redact(&mut self, event: &Redacted) -> Result<(), CannotApply> {
        let target = self
            .record_type(event.target_seq)
            .ok_or(CannotApply::TargetNotEarlier(event.target_seq))?;
        for name in &event.fields {
            let field = personal_field(target, name).ok_or_else(|| CannotApply::NotAPersonalField {
                name: name.clone(),
                event_type: target,
            })?;
            if self.redactions.insert((event.target_seq, field)) {
                self.journal.push(Change::Redaction(event.target_seq, field));
            }
        }
        Ok(())
    }

    /// Undoes the journal, newest change first.
    fn roll_back(&mut self) {
        while let Some(change) = self.journal.pop() {
            match change {
                Change::Entity(id, before) => restore(&mut self.entities, id, before),
                Change::County => {
                    if let Some(county) = self.counties.pop() {
                        self.county_numbers.remove(&county);
                    }
                }
                Change::Area(id, before) => restore(&mut self.areas, id, before),
                Change::Officer(key, before) => restore(&mut self.officers, key, before),
                Change::ReportAdded(key) => {
                    self.reports.remove(&key);
                }
                Change::ReportWithdrawn(key) => {
                    self.reports.insert(key);
                }
                Change::Redaction(seq, field) => {
                    self.redactions.remove(&(seq, field));
                }
                Change::Record => {
                    self.record_types.pop();
                }
            }
        }
    }
}

fn restore<K: Hash + Eq, V>(map: &mut IdMap<K, V>, key: K, before: Option<V>) {
    match before {
        Some(value) => map.insert(key, value),
        None => map.remove(&key),
    };
}
