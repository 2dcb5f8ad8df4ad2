//! The event catalogue of `shared/domain.md`: one Rust type per event, in past tense.
//!
//! These types derive serde in the plain, externally tagged shape that postcard (the stored
//! encoding) understands. The JSON form clients and auditors see (`{"type": ..., fields}`,
//! absent optionals omitted) is produced and parsed by [`crate::json`], from these same types,
//! so there is one definition of every event.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Level of an area in the hierarchy county > town > community > compound > building.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AreaKind {
    County,
    Town,
    Community,
    Compound,
    Building,
}

impl AreaKind {
    /// The kind a parent of this kind must have; `None` for a county (it has no parent).
    pub fn parent_kind(self) -> Option<AreaKind> {
        match self {
            AreaKind::County => None,
            AreaKind::Town => Some(AreaKind::County),
            AreaKind::Community => Some(AreaKind::Town),
            AreaKind::Compound => Some(AreaKind::Community),
            AreaKind::Building => Some(AreaKind::Compound),
        }
    }
}

/// 单位小区 / 商住小区 / 老旧小区.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompoundKind {
    WorkUnit,
    Commercial,
    Old,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaRegistered {
    pub area_id: Uuid,
    pub kind: AreaKind,
    pub name: String,
    pub parent_id: Option<Uuid>,
    /// Compound only.
    pub households: Option<u32>,
    /// Compound only.
    pub compound_kind: Option<CompoundKind>,
    /// Compound only.
    pub has_property_management: Option<bool>,
    /// Building only, and required there (number of 单元, at least 1).
    pub units: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaRetired {
    pub area_id: Uuid,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    CommunityCommittee,
    CompoundBranch,
    GridBranch,
    BuildingGroup,
    WorkUnitOrg,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartyOrgFounded {
    pub org_id: Uuid,
    pub kind: OrgKind,
    pub name: String,
    pub parent_org_id: Option<Uuid>,
    /// The areas the organisation covers (compounds for a compound or grid branch). Absent for a
    /// work-unit org, which names `work_unit_id` instead.
    pub area_ids: Option<Vec<Uuid>>,
    /// Work-unit org only.
    pub work_unit_id: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartyOrgCoverageChanged {
    pub org_id: Uuid,
    pub area_ids: Vec<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartyOrgDissolved {
    pub org_id: Uuid,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfficerRole {
    Secretary,
    DeputySecretary,
    CommitteeMember,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficerAppointed {
    pub org_id: Uuid,
    pub member_id: Uuid,
    pub role: OfficerRole,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficerRelieved {
    pub org_id: Uuid,
    pub member_id: Uuid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VenueSource {
    Built,
    Transferred,
    Shared,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenueEstablished {
    pub venue_id: Uuid,
    pub area_id: Uuid,
    pub name: String,
    pub area_m2: u32,
    pub source: VenueSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mechanism {
    DeliberationHall,
    ResidentsMeeting,
    ReceptionDay,
    Hotline,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceMechanismEstablished {
    pub area_id: Uuid,
    pub mechanism: Mechanism,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hazard {
    Fire,
    Flood,
    Earthquake,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmergencyPlanFiled {
    pub plan_id: Uuid,
    pub area_id: Uuid,
    pub hazards: Vec<Hazard>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmergencyDrillHeld {
    pub plan_id: Uuid,
    pub participants: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkUnitRegistered {
    pub work_unit_id: Uuid,
    pub name: String,
    pub county_id: Uuid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberCategory {
    Resident,
    InService,
    Retired,
    Floating,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberEnrolled {
    pub member_id: Uuid,
    pub name: String,
    pub category: MemberCategory,
    pub home_area_id: Uuid,
    pub work_unit_id: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberUpdated {
    pub member_id: Uuid,
    pub category: Option<MemberCategory>,
    pub home_area_id: Option<Uuid>,
    pub work_unit_id: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberRemoved {
    pub member_id: Uuid,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitReported {
    pub work_unit_id: Uuid,
    pub community_id: Uuid,
}

/// The service post an in-service member claims when reporting (政策宣传岗, 纠纷调解岗 …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServicePost {
    PolicyOutreach,
    DisputeMediation,
    Civility,
    Volunteer,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberReported {
    pub member_id: Uuid,
    pub compound_id: Uuid,
    pub post: ServicePost,
}

/// Withdraws a member's or a work unit's report (exactly one of the two ids is given).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportWithdrawn {
    pub member_id: Option<Uuid>,
    pub work_unit_id: Option<Uuid>,
    pub area_id: Uuid,
}

/// Who rendered a service: `{"member_id": ..}` or `{"work_unit_id": ..}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceProvider {
    MemberId(Uuid),
    WorkUnitId(Uuid),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    PolicyTalk,
    LegalClass,
    Performance,
    Volunteering,
    Repair,
    Visit,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceRendered {
    pub service_id: Uuid,
    pub by: ServiceProvider,
    pub area_id: Uuid,
    pub kind: ServiceKind,
    pub minutes: u32,
    pub beneficiaries: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairingKind {
    UnitCompound,
    CadreSecretary,
    MemberBuildingUnit,
    MemberHousehold,
}

/// What a pairing points at: `{"area_id", "unit_no"?}`, `{"member_id"}` or `{"household_ref"}`.
///
/// Stored as a plain enum; [`crate::json`] maps it to and from the untagged JSON objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PairingTarget {
    Area { area_id: Uuid, unit_no: Option<u32> },
    Member { member_id: Uuid },
    Household { household_ref: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairingEstablished {
    pub pairing_id: Uuid,
    pub kind: PairingKind,
    pub from_id: Uuid,
    pub to: PairingTarget,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairingEnded {
    pub pairing_id: Uuid,
    pub reason: String,
}

/// A member, a work unit or a party organisation: the subject of an evaluation, or the assignee
/// of a complaint. JSON: `{"member_id": ..}`, `{"work_unit_id": ..}` or `{"org_id": ..}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum PartyRef {
    MemberId(Uuid),
    WorkUnitId(Uuid),
    OrgId(Uuid),
}

impl PartyRef {
    pub fn id(&self) -> Uuid {
        match *self {
            PartyRef::MemberId(id) | PartyRef::WorkUnitId(id) | PartyRef::OrgId(id) => id,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evaluator {
    Organization,
    Residents,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationRecorded {
    pub evaluation_id: Uuid,
    pub subject: PartyRef,
    pub evaluator: Evaluator,
    /// The evaluating organisation for `organization`; the compound or community whose
    /// residents scored for `residents`.
    pub evaluator_ref: Uuid,
    /// `2026`, `2026-H1` or `2026-Q3`.
    pub period: String,
    pub score: u32,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationAmended {
    pub evaluation_id: Uuid,
    pub score: u32,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationRetracted {
    pub evaluation_id: Uuid,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplaintCategory {
    Dispute,
    Repair,
    Sanitation,
    Safety,
    Policy,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    App,
    Hotline,
    Visit,
    Meeting,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplaintFiled {
    pub complaint_id: Uuid,
    pub area_id: Uuid,
    pub category: ComplaintCategory,
    pub summary: String,
    pub channel: Channel,
    /// A pseudonym chosen by the recorder, never a name or a phone number.
    pub resident_ref: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplaintDispatched {
    pub complaint_id: Uuid,
    pub assignee: PartyRef,
    /// `YYYY-MM-DD`.
    pub due_on: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplaintAccepted {
    pub complaint_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplaintResolved {
    pub complaint_id: Uuid,
    pub resolution: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplaintRated {
    pub complaint_id: Uuid,
    pub satisfaction: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplaintReopened {
    pub complaint_id: Uuid,
    pub reason: String,
}

/// Erases personal fields of an earlier record (admin only); see `record-format.md`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redacted {
    pub target_seq: u64,
    pub fields: Vec<String>,
    pub reason: String,
}

macro_rules! event_enum {
    ($($name:ident),+ $(,)?) => {
        /// Every event of the catalogue. The variant name is the JSON `type`.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        pub enum Event {
            $($name($name),)+
        }

        /// The `type` of an event, without its content.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum EventType {
            $($name,)+
        }

        impl EventType {
            /// Every event type, in catalogue order.
            pub const ALL: &'static [EventType] = &[$(EventType::$name,)+];

            /// The JSON `type` string.
            pub fn name(self) -> &'static str {
                match self {
                    $(EventType::$name => stringify!($name),)+
                }
            }

            /// The type named by a JSON `type` string.
            pub fn from_name(name: &str) -> Option<EventType> {
                match name {
                    $(stringify!($name) => Some(EventType::$name),)+
                    _ => None,
                }
            }
        }

        impl Event {
            pub fn event_type(&self) -> EventType {
                match self {
                    $(Event::$name(_) => EventType::$name,)+
                }
            }
        }

        $(
            impl From<$name> for Event {
                fn from(event: $name) -> Event {
                    Event::$name(event)
                }
            }
        )+
    };
}

event_enum!(
    AreaRegistered,
    AreaRetired,
    PartyOrgFounded,
    PartyOrgCoverageChanged,
    PartyOrgDissolved,
    OfficerAppointed,
    OfficerRelieved,
    VenueEstablished,
    ServiceMechanismEstablished,
    EmergencyPlanFiled,
    EmergencyDrillHeld,
    WorkUnitRegistered,
    MemberEnrolled,
    MemberUpdated,
    MemberRemoved,
    UnitReported,
    MemberReported,
    ReportWithdrawn,
    ServiceRendered,
    PairingEstablished,
    PairingEnded,
    EvaluationRecorded,
    EvaluationAmended,
    EvaluationRetracted,
    ComplaintFiled,
    ComplaintDispatched,
    ComplaintAccepted,
    ComplaintResolved,
    ComplaintRated,
    ComplaintReopened,
    Redacted,
);

impl EventType {
    /// The fields of this event type that hold personal data and may be erased by a
    /// `Redacted` event. Structural fields (ids, kinds, numbers) are never redactable, so
    /// replay and every count are unchanged by a redaction.
    pub fn personal_fields(self) -> &'static [&'static str] {
        match self {
            EventType::ComplaintFiled => &["summary", "resident_ref"],
            EventType::ComplaintResolved => &["resolution"],
            EventType::ComplaintReopened => &["reason"],
            EventType::MemberEnrolled => &["name"],
            EventType::MemberRemoved => &["reason"],
            EventType::PairingEstablished => &["household_ref"],
            EventType::EvaluationRecorded => &["comment"],
            _ => &[],
        }
    }
}

impl Event {
    /// The ids of every entity this event creates or changes, for the entity-history index.
    /// The first one is the entity the event is mainly about.
    pub fn entity_ids(&self) -> Vec<Uuid> {
        match self {
            Event::AreaRegistered(e) => vec![e.area_id],
            Event::AreaRetired(e) => vec![e.area_id],
            Event::PartyOrgFounded(e) => vec![e.org_id],
            Event::PartyOrgCoverageChanged(e) => vec![e.org_id],
            Event::PartyOrgDissolved(e) => vec![e.org_id],
            Event::OfficerAppointed(e) => vec![e.org_id, e.member_id],
            Event::OfficerRelieved(e) => vec![e.org_id, e.member_id],
            Event::VenueEstablished(e) => vec![e.venue_id, e.area_id],
            Event::ServiceMechanismEstablished(e) => vec![e.area_id],
            Event::EmergencyPlanFiled(e) => vec![e.plan_id, e.area_id],
            Event::EmergencyDrillHeld(e) => vec![e.plan_id],
            Event::WorkUnitRegistered(e) => vec![e.work_unit_id],
            Event::MemberEnrolled(e) => vec![e.member_id],
            Event::MemberUpdated(e) => vec![e.member_id],
            Event::MemberRemoved(e) => vec![e.member_id],
            Event::UnitReported(e) => vec![e.work_unit_id],
            Event::MemberReported(e) => vec![e.member_id],
            Event::ReportWithdrawn(e) => e.member_id.into_iter().chain(e.work_unit_id).collect(),
            Event::ServiceRendered(e) => vec![e.service_id],
            Event::PairingEstablished(e) => vec![e.pairing_id],
            Event::PairingEnded(e) => vec![e.pairing_id],
            Event::EvaluationRecorded(e) => vec![e.evaluation_id, e.subject.id()],
            Event::EvaluationAmended(e) => vec![e.evaluation_id],
            Event::EvaluationRetracted(e) => vec![e.evaluation_id],
            Event::ComplaintFiled(e) => vec![e.complaint_id],
            Event::ComplaintDispatched(e) => vec![e.complaint_id],
            Event::ComplaintAccepted(e) => vec![e.complaint_id],
            Event::ComplaintResolved(e) => vec![e.complaint_id],
            Event::ComplaintRated(e) => vec![e.complaint_id],
            Event::ComplaintReopened(e) => vec![e.complaint_id],
            Event::Redacted(_) => vec![],
        }
    }
}
