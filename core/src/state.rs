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
//! Memory: an entity costs its 16-byte id and a 4-byte `Entity` in one map; only areas and
//! work units, of which a county has thousands, not millions, keep more. A record costs one
//! byte (its type, for redactions).

use std::hash::Hash;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::entity::EntityKind;
use crate::event::{
    AreaKind, AreaRegistered, Event, EventType, MemberCategory, OfficerAppointed, OfficerRelieved,
    OfficerRole, OrgKind, PersonalField, Redacted, ReportWithdrawn,
};
use crate::personal::personal_field;
use crate::rules;
use crate::violation::{ApplyError, Violation};
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
    /// Every entity ever created, whatever its kind: entity ids share one namespace.
    entities: IdMap<Uuid, Entity>,
    /// Where each area sits in the hierarchy; its id is also in `entities`.
    areas: IdMap<Uuid, AreaFacts>,
    /// The county each work unit is registered in.
    work_unit_counties: IdMap<Uuid, Uuid>,
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

/// What the rules know about one entity. Kept to a few bytes: a log holds millions of
/// services, evaluations and complaints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Entity {
    /// Its place in the hierarchy is in `State::areas`.
    Area,
    Org(OrgFacts),
    /// Its county is in `State::work_unit_counties`. Work units are never retired.
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
    Entity(Uuid, Option<Entity>),
    Area(Uuid, Option<AreaFacts>),
    WorkUnitCounty(Uuid, Option<Uuid>),
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
    entities: Vec<(Uuid, Entity)>,
    areas: Vec<(Uuid, AreaFacts)>,
    work_unit_counties: Vec<(Uuid, Uuid)>,
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
            areas: pairs(&self.areas),
            work_unit_counties: pairs(&self.work_unit_counties),
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
        Ok(State {
            entities: map_of(saved.entities),
            areas: map_of(saved.areas),
            work_unit_counties: map_of(saved.work_unit_counties),
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
            if let Err(fault) = rules::check(self, event) {
                self.roll_back();
                return Err(fault.at(index));
            }
            if let Err(message) = self.apply(event) {
                self.roll_back();
                panic!("event {index} passed every rule but cannot apply: {message}");
            }
        }
        self.journal.clear();
        Ok(())
    }

    /// Applies an already-recorded event without the business rules (replay when the store
    /// opens). Fails only when the event cannot apply at all: it updates an id that does not
    /// exist, creates one that does, or `seq` is not the next one. The state is then unchanged.
    pub fn apply_recorded(&mut self, seq: u64, event: &Event) -> Result<(), ApplyError> {
        if seq != self.next_seq() {
            let message = format!("the next record should have seq {}", self.next_seq());
            return Err(ApplyError { seq, message });
        }
        if let Err(message) = self.apply(event) {
            self.roll_back();
            return Err(ApplyError { seq, message });
        }
        self.journal.clear();
        Ok(())
    }

    /// The county an area belongs to (itself for a county); `None` for an unknown area.
    pub fn county_of(&self, area_id: Uuid) -> Option<Uuid> {
        let (top_id, top) = self.lineage(area_id).last()?;
        (top.kind == AreaKind::County).then_some(top_id)
    }

    /// The number of records applied so far: the seq the next record gets.
    pub fn next_seq(&self) -> u64 {
        self.record_types.len() as u64
    }

    pub(crate) fn entity(&self, id: Uuid) -> Option<Entity> {
        self.entities.get(&id).copied()
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

    pub(crate) fn work_unit_county(&self, work_unit_id: Uuid) -> Option<Uuid> {
        self.work_unit_counties.get(&work_unit_id).copied()
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
    fn apply(&mut self, event: &Event) -> Result<(), String> {
        use ComplaintStatus::{Accepted, Dispatched, Filed, Rated, Resolved};
        match event {
            Event::AreaRegistered(e) => self.register_area(e),
            Event::AreaRetired(e) => self.retire_area(e.area_id),
            Event::PartyOrgFounded(e) => {
                let org = OrgFacts {
                    kind: e.kind,
                    dissolved: false,
                    has_secretary: false,
                };
                self.create(e.org_id, Entity::Org(org))
            }
            Event::PartyOrgCoverageChanged(e) => self.update_org(e.org_id, |_| {}),
            Event::PartyOrgDissolved(e) => self.update_org(e.org_id, |org| org.dissolved = true),
            Event::OfficerAppointed(e) => self.appoint_officer(e),
            Event::OfficerRelieved(e) => self.relieve_officer(e),
            Event::VenueEstablished(e) => self.create(e.venue_id, Entity::Venue),
            Event::ServiceMechanismEstablished(e) => self.require_area(e.area_id),
            Event::EmergencyPlanFiled(e) => self.create(e.plan_id, Entity::EmergencyPlan),
            Event::EmergencyDrillHeld(e) => self.update(e.plan_id, |entity| {
                (entity == Entity::EmergencyPlan).then_some(entity)
            }),
            Event::WorkUnitRegistered(e) => {
                self.create(e.work_unit_id, Entity::WorkUnit)?;
                let before = self.work_unit_counties.insert(e.work_unit_id, e.county_id);
                self.journal.push(Change::WorkUnitCounty(e.work_unit_id, before));
                Ok(())
            }
            Event::MemberEnrolled(e) => {
                let member = MemberFacts {
                    category: e.category,
                    has_work_unit: e.work_unit_id.is_some(),
                    removed: false,
                };
                self.create(e.member_id, Entity::Member(member))
            }
            Event::MemberUpdated(e) => self.update_member(e.member_id, |member| {
                member.category = e.category.unwrap_or(member.category);
                member.has_work_unit |= e.work_unit_id.is_some();
            }),
            Event::MemberRemoved(e) => self.update_member(e.member_id, |member| member.removed = true),
            Event::UnitReported(e) => self.add_report((e.work_unit_id, e.community_id)),
            Event::MemberReported(e) => self.add_report((e.member_id, e.compound_id)),
            Event::ReportWithdrawn(e) => self.withdraw_report(e),
            Event::ServiceRendered(e) => self.create(e.service_id, Entity::Service),
            Event::PairingEstablished(e) => self.create(e.pairing_id, Entity::Pairing { ended: false }),
            Event::PairingEnded(e) => self.update(e.pairing_id, |entity| {
                matches!(entity, Entity::Pairing { .. }).then_some(Entity::Pairing { ended: true })
            }),
            Event::EvaluationRecorded(e) => {
                self.create(e.evaluation_id, Entity::Evaluation { retracted: false })
            }
            Event::EvaluationAmended(e) => self.update(e.evaluation_id, |entity| {
                matches!(entity, Entity::Evaluation { .. }).then_some(entity)
            }),
            Event::EvaluationRetracted(e) => self.update(e.evaluation_id, |entity| {
                matches!(entity, Entity::Evaluation { .. }).then_some(Entity::Evaluation { retracted: true })
            }),
            Event::ComplaintFiled(e) => self.create(e.complaint_id, Entity::Complaint(Filed)),
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

    fn create(&mut self, id: Uuid, entity: Entity) -> Result<(), String> {
        if let Some(existing) = self.entity(id) {
            return Err(format!("{id} already names {}", existing.noun()));
        }
        self.entities.insert(id, entity);
        self.journal.push(Change::Entity(id, None));
        Ok(())
    }

    /// Replaces entity `id` by `change(entity)`; `change` returns `None` when the entity is of
    /// a kind the event cannot apply to.
    fn update(&mut self, id: Uuid, change: impl FnOnce(Entity) -> Option<Entity>) -> Result<(), String> {
        let current = self.entity(id).ok_or_else(|| format!("{id} names no entity"))?;
        let changed = change(current)
            .ok_or_else(|| format!("{id} names {}, which this event cannot change", current.noun()))?;
        if changed != current {
            self.entities.insert(id, changed);
            self.journal.push(Change::Entity(id, Some(current)));
        }
        Ok(())
    }

    fn update_org(&mut self, id: Uuid, change: impl FnOnce(&mut OrgFacts)) -> Result<(), String> {
        self.update(id, |entity| match entity {
            Entity::Org(mut org) => {
                change(&mut org);
                Some(Entity::Org(org))
            }
            _ => None,
        })
    }

    fn update_member(&mut self, id: Uuid, change: impl FnOnce(&mut MemberFacts)) -> Result<(), String> {
        self.update(id, |entity| match entity {
            Entity::Member(mut member) => {
                change(&mut member);
                Some(Entity::Member(member))
            }
            _ => None,
        })
    }

    fn move_complaint(&mut self, id: Uuid, status: ComplaintStatus) -> Result<(), String> {
        self.update(id, |entity| {
            matches!(entity, Entity::Complaint(_)).then_some(Entity::Complaint(status))
        })
    }

    fn register_area(&mut self, event: &AreaRegistered) -> Result<(), String> {
        self.create(event.area_id, Entity::Area)?;
        let area = AreaFacts {
            kind: event.kind,
            parent: event.parent_id,
            units: event.units.unwrap_or(0),
            retired: false,
        };
        self.put_area(event.area_id, area);
        Ok(())
    }

    fn retire_area(&mut self, area_id: Uuid) -> Result<(), String> {
        let area = self
            .area(area_id)
            .ok_or_else(|| format!("{area_id} names no area"))?;
        self.put_area(
            area_id,
            AreaFacts {
                retired: true,
                ..area
            },
        );
        Ok(())
    }

    fn require_area(&self, area_id: Uuid) -> Result<(), String> {
        match self.area(area_id) {
            Some(_) => Ok(()),
            None => Err(format!("{area_id} names no area")),
        }
    }

    fn put_area(&mut self, area_id: Uuid, area: AreaFacts) {
        let before = self.areas.insert(area_id, area);
        self.journal.push(Change::Area(area_id, before));
    }

    fn appoint_officer(&mut self, event: &OfficerAppointed) -> Result<(), String> {
        let is_secretary = event.role == OfficerRole::Secretary;
        self.update_org(event.org_id, |org| org.has_secretary |= is_secretary)?;
        let key = (event.org_id, event.member_id);
        let before = self.officers.insert(key, event.role);
        self.journal.push(Change::Officer(key, before));
        Ok(())
    }

    fn relieve_officer(&mut self, event: &OfficerRelieved) -> Result<(), String> {
        let key = (event.org_id, event.member_id);
        let role = self
            .officers
            .remove(&key)
            .ok_or_else(|| format!("{} is no officer of {}", event.member_id, event.org_id))?;
        self.journal.push(Change::Officer(key, Some(role)));
        if role == OfficerRole::Secretary {
            self.update_org(event.org_id, |org| org.has_secretary = false)?;
        }
        Ok(())
    }

    fn add_report(&mut self, key: (Uuid, Uuid)) -> Result<(), String> {
        if self.reports.insert(key) {
            self.journal.push(Change::ReportAdded(key));
        }
        Ok(())
    }

    fn withdraw_report(&mut self, event: &ReportWithdrawn) -> Result<(), String> {
        let reporter_id = match (event.member_id, event.work_unit_id) {
            (Some(id), None) | (None, Some(id)) => id,
            _ => return Err("a withdrawal names exactly one of member_id and work_unit_id".to_owned()),
        };
        let key = (reporter_id, event.area_id);
        if !self.reports.remove(&key) {
            return Err(format!("{reporter_id} has no report to {}", event.area_id));
        }
        self.journal.push(Change::ReportWithdrawn(key));
        Ok(())
    }

    fn redact(&mut self, event: &Redacted) -> Result<(), String> {
        let target = self
            .record_type(event.target_seq)
            .ok_or_else(|| format!("target_seq {} names no earlier record", event.target_seq))?;
        for name in &event.fields {
            let field = personal_field(target, name)
                .ok_or_else(|| format!("{name:?} is not a personal field of {}", target.name()))?;
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
                Change::Area(id, before) => restore(&mut self.areas, id, before),
                Change::WorkUnitCounty(id, before) => restore(&mut self.work_unit_counties, id, before),
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
