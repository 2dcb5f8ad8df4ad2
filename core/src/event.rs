//! The event catalogue of `shared/domain.md`: one Rust type per event, in past tense.
//!
//! These types derive serde in the plain, externally tagged shape that postcard (the stored
//! encoding) understands. The JSON form clients and auditors see (`{"type": ..., fields}`,
//! absent optionals omitted) is produced and parsed by [`crate::json`], from these same types,
//! so there is one definition of every event.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The personal-field part of an [`EventFacts`] impl whose personal fields are plain `String`
/// members: `plain_personal_fields!(Summary => summary, ResidentRef => resident_ref)` declares
/// them in that (stored) order and gives both accessors.
macro_rules! plain_personal_fields {
    ($($field:ident => $member:ident),+ $(,)?) => {
        const PERSONAL_FIELDS: &'static [PersonalField] = &[$(PersonalField::$field),+];

        fn personal_value(&self, field: PersonalField) -> Option<&str> {
            match field {
                $(PersonalField::$field => Some(self.$member.as_str()),)+
                _ => None,
            }
        }

        fn personal_value_mut(&mut self, field: PersonalField) -> Option<&mut String> {
            match field {
                $(PersonalField::$field => Some(&mut self.$member),)+
                _ => None,
            }
        }
    };
}

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

impl EventFacts for AreaRegistered {
    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.area_id]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        match self.kind {
            AreaKind::County => vec![CountyAnchor::IsCounty(self.area_id)],
            _ => self.parent_id.map(CountyAnchor::Entity).into_iter().collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaRetired {
    pub area_id: Uuid,
    pub reason: String,
}

impl EventFacts for AreaRetired {
    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.area_id]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        vec![CountyAnchor::Entity(self.area_id)]
    }
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

impl EventFacts for PartyOrgFounded {
    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.org_id]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        self.area_ids
            .iter()
            .flatten()
            .copied()
            .chain(self.work_unit_id)
            .chain(self.parent_org_id)
            .map(CountyAnchor::Entity)
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartyOrgCoverageChanged {
    pub org_id: Uuid,
    pub area_ids: Vec<Uuid>,
}

impl EventFacts for PartyOrgCoverageChanged {
    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.org_id]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        std::iter::once(self.org_id)
            .chain(self.area_ids.iter().copied())
            .map(CountyAnchor::Entity)
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartyOrgDissolved {
    pub org_id: Uuid,
    pub reason: String,
}

impl EventFacts for PartyOrgDissolved {
    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.org_id]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        vec![CountyAnchor::Entity(self.org_id)]
    }
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

impl EventFacts for OfficerAppointed {
    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.org_id, self.member_id]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        vec![
            CountyAnchor::Entity(self.org_id),
            CountyAnchor::Entity(self.member_id),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficerRelieved {
    pub org_id: Uuid,
    pub member_id: Uuid,
}

impl EventFacts for OfficerRelieved {
    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.org_id, self.member_id]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        vec![
            CountyAnchor::Entity(self.org_id),
            CountyAnchor::Entity(self.member_id),
        ]
    }
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

impl EventFacts for VenueEstablished {
    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.venue_id, self.area_id]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        vec![CountyAnchor::Entity(self.area_id)]
    }
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

impl EventFacts for ServiceMechanismEstablished {
    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.area_id]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        vec![CountyAnchor::Entity(self.area_id)]
    }
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

impl EventFacts for EmergencyPlanFiled {
    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.plan_id, self.area_id]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        vec![CountyAnchor::Entity(self.area_id)]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmergencyDrillHeld {
    pub plan_id: Uuid,
    pub participants: u32,
}

impl EventFacts for EmergencyDrillHeld {
    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.plan_id]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        vec![CountyAnchor::Entity(self.plan_id)]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkUnitRegistered {
    pub work_unit_id: Uuid,
    pub name: String,
    pub county_id: Uuid,
}

impl EventFacts for WorkUnitRegistered {
    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.work_unit_id]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        vec![CountyAnchor::IsCounty(self.county_id)]
    }
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

impl EventFacts for MemberEnrolled {
    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.member_id]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        std::iter::once(self.home_area_id)
            .chain(self.work_unit_id)
            .map(CountyAnchor::Entity)
            .collect()
    }

    plain_personal_fields!(Name => name);
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberUpdated {
    pub member_id: Uuid,
    pub category: Option<MemberCategory>,
    pub home_area_id: Option<Uuid>,
    pub work_unit_id: Option<Uuid>,
}

impl EventFacts for MemberUpdated {
    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.member_id]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        std::iter::once(self.member_id)
            .chain(self.home_area_id)
            .chain(self.work_unit_id)
            .map(CountyAnchor::Entity)
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberRemoved {
    pub member_id: Uuid,
    pub reason: String,
}

impl EventFacts for MemberRemoved {
    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.member_id]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        vec![CountyAnchor::Entity(self.member_id)]
    }

    plain_personal_fields!(Reason => reason);
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitReported {
    pub work_unit_id: Uuid,
    pub community_id: Uuid,
}

impl EventFacts for UnitReported {
    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.work_unit_id]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        vec![
            CountyAnchor::Entity(self.community_id),
            CountyAnchor::Entity(self.work_unit_id),
        ]
    }
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

impl EventFacts for MemberReported {
    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.member_id]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        vec![
            CountyAnchor::Entity(self.compound_id),
            CountyAnchor::Entity(self.member_id),
        ]
    }
}

/// Withdraws a member's or a work unit's report (exactly one of the two ids is given).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportWithdrawn {
    pub member_id: Option<Uuid>,
    pub work_unit_id: Option<Uuid>,
    pub area_id: Uuid,
}

impl EventFacts for ReportWithdrawn {
    fn entity_ids(&self) -> Vec<Uuid> {
        self.member_id.into_iter().chain(self.work_unit_id).collect()
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        std::iter::once(self.area_id)
            .chain(self.member_id)
            .chain(self.work_unit_id)
            .map(CountyAnchor::Entity)
            .collect()
    }
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

impl EventFacts for ServiceRendered {
    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.service_id]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        let by = match self.by {
            ServiceProvider::MemberId(id) | ServiceProvider::WorkUnitId(id) => id,
        };
        vec![CountyAnchor::Entity(self.area_id), CountyAnchor::Entity(by)]
    }
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

impl EventFacts for PairingEstablished {
    const PERSONAL_FIELDS: &'static [PersonalField] = &[PersonalField::HouseholdRef];

    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.pairing_id]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        match &self.to {
            PairingTarget::Area { area_id, .. } => {
                vec![CountyAnchor::Entity(self.from_id), CountyAnchor::Entity(*area_id)]
            }
            PairingTarget::Member { member_id } => {
                vec![
                    CountyAnchor::Entity(self.from_id),
                    CountyAnchor::Entity(*member_id),
                ]
            }
            PairingTarget::Household { .. } => vec![CountyAnchor::Entity(self.from_id)],
        }
    }

    fn personal_value(&self, field: PersonalField) -> Option<&str> {
        match field {
            PersonalField::HouseholdRef => match &self.to {
                PairingTarget::Household { household_ref } => Some(household_ref.as_str()),
                _ => None,
            },
            _ => None,
        }
    }

    fn personal_value_mut(&mut self, field: PersonalField) -> Option<&mut String> {
        match field {
            PersonalField::HouseholdRef => match &mut self.to {
                PairingTarget::Household { household_ref } => Some(household_ref),
                _ => None,
            },
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairingEnded {
    pub pairing_id: Uuid,
    pub reason: String,
}

impl EventFacts for PairingEnded {
    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.pairing_id]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        vec![CountyAnchor::Entity(self.pairing_id)]
    }
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

impl EventFacts for EvaluationRecorded {
    const PERSONAL_FIELDS: &'static [PersonalField] = &[PersonalField::Comment];

    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.evaluation_id, self.subject.id()]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        vec![
            CountyAnchor::Entity(self.subject.id()),
            CountyAnchor::Entity(self.evaluator_ref),
        ]
    }

    fn personal_value(&self, field: PersonalField) -> Option<&str> {
        match field {
            PersonalField::Comment => self.comment.as_deref(),
            _ => None,
        }
    }

    fn personal_value_mut(&mut self, field: PersonalField) -> Option<&mut String> {
        match field {
            PersonalField::Comment => self.comment.as_mut(),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationAmended {
    pub evaluation_id: Uuid,
    pub score: u32,
    pub reason: String,
}

impl EventFacts for EvaluationAmended {
    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.evaluation_id]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        vec![CountyAnchor::Entity(self.evaluation_id)]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationRetracted {
    pub evaluation_id: Uuid,
    pub reason: String,
}

impl EventFacts for EvaluationRetracted {
    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.evaluation_id]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        vec![CountyAnchor::Entity(self.evaluation_id)]
    }
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

impl EventFacts for ComplaintFiled {
    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.complaint_id]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        vec![CountyAnchor::Entity(self.area_id)]
    }

    plain_personal_fields!(Summary => summary, ResidentRef => resident_ref);
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplaintDispatched {
    pub complaint_id: Uuid,
    pub assignee: PartyRef,
    /// `YYYY-MM-DD`.
    pub due_on: Option<String>,
}

impl EventFacts for ComplaintDispatched {
    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.complaint_id]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        vec![
            CountyAnchor::Entity(self.complaint_id),
            CountyAnchor::Entity(self.assignee.id()),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplaintAccepted {
    pub complaint_id: Uuid,
}

impl EventFacts for ComplaintAccepted {
    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.complaint_id]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        vec![CountyAnchor::Entity(self.complaint_id)]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplaintResolved {
    pub complaint_id: Uuid,
    pub resolution: String,
}

impl EventFacts for ComplaintResolved {
    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.complaint_id]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        vec![CountyAnchor::Entity(self.complaint_id)]
    }

    plain_personal_fields!(Resolution => resolution);
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplaintRated {
    pub complaint_id: Uuid,
    pub satisfaction: u32,
}

impl EventFacts for ComplaintRated {
    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.complaint_id]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        vec![CountyAnchor::Entity(self.complaint_id)]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplaintReopened {
    pub complaint_id: Uuid,
    pub reason: String,
}

impl EventFacts for ComplaintReopened {
    fn entity_ids(&self) -> Vec<Uuid> {
        vec![self.complaint_id]
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        vec![CountyAnchor::Entity(self.complaint_id)]
    }

    plain_personal_fields!(Reason => reason);
}

/// Erases personal fields of an earlier record (admin only); see `record-format.md`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redacted {
    pub target_seq: u64,
    pub fields: Vec<String>,
    pub reason: String,
}

impl EventFacts for Redacted {
    fn entity_ids(&self) -> Vec<Uuid> {
        Vec::new()
    }

    fn county_anchors(&self) -> Vec<CountyAnchor> {
        Vec::new()
    }
}

/// A field of an event that holds personal data and may be erased by a [`Redacted`] event.
///
/// Every personal field is a string (or an optional string), so an event with its personal
/// values taken out is the same event with those strings empty, and keeps encoding in the
/// stored form of its version. Structural fields (ids, kinds, numbers) are never personal, so
/// replay and every count are unchanged by a redaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PersonalField {
    Summary,
    ResidentRef,
    Resolution,
    Reason,
    Name,
    HouseholdRef,
    Comment,
}

impl PersonalField {
    /// Every personal field of the catalogue.
    pub const ALL: &'static [PersonalField] = &[
        PersonalField::Summary,
        PersonalField::ResidentRef,
        PersonalField::Resolution,
        PersonalField::Reason,
        PersonalField::Name,
        PersonalField::HouseholdRef,
        PersonalField::Comment,
    ];

    /// The field's name in the JSON form and in `Redacted.fields`.
    pub const fn name(self) -> &'static str {
        match self {
            PersonalField::Summary => "summary",
            PersonalField::ResidentRef => "resident_ref",
            PersonalField::Resolution => "resolution",
            PersonalField::Reason => "reason",
            PersonalField::Name => "name",
            PersonalField::HouseholdRef => "household_ref",
            PersonalField::Comment => "comment",
        }
    }

    /// The field a name in `Redacted.fields` names, of any event type.
    pub fn from_name(name: &str) -> Option<PersonalField> {
        PersonalField::ALL
            .iter()
            .copied()
            .find(|field| field.name() == name)
    }

    /// The JSON object the field lives in, when it is not at the event's top level:
    /// `household_ref` lives inside a pairing's `to`.
    pub const fn json_parent(self) -> Option<&'static str> {
        match self {
            PersonalField::HouseholdRef => Some("to"),
            _ => None,
        }
    }
}

impl std::fmt::Display for PersonalField {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.name())
    }
}

/// How an event is placed in a county, for office scopes: each anchor is either a county
/// itself or an entity whose county places the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CountyAnchor {
    /// This id is a county (a county's own registration, a work unit's `county_id`).
    IsCounty(Uuid),
    /// The event lies in the county of this entity (an area, an org, a member, …).
    Entity(Uuid),
}

/// The facts every event type declares once, beside its struct. [`Event`] and [`EventType`]
/// dispatch to them, so the store's indexes, the office scopes and redaction read one table.
pub trait EventFacts {
    /// The fields holding personal data, in the order their values are stored in
    /// `personal.dat` (append only: the order is part of the stored form).
    const PERSONAL_FIELDS: &'static [PersonalField] = &[];

    /// The ids of every entity this event creates or changes, for the entity-history index.
    /// The first one is the entity the event is mainly about.
    fn entity_ids(&self) -> Vec<Uuid>;

    /// Every entity this event references (or the county it names), each of which places it
    /// in a county: an event touches every county its anchors resolve to. The first anchor is
    /// the event's home: an entity the event creates belongs to that anchor's county. Empty for
    /// a redaction, which is placed by its target. A reference missing here is a reference a
    /// scoped recorder could use to write into another county: list them all.
    fn county_anchors(&self) -> Vec<CountyAnchor>;

    /// The string holding personal field `field`, if the event has that field and it is
    /// present (an absent optional comment, or a pairing that points at no household, has
    /// none).
    fn personal_value(&self, _field: PersonalField) -> Option<&str> {
        None
    }

    /// The same string, to take out, put back or erase.
    fn personal_value_mut(&mut self, _field: PersonalField) -> Option<&mut String> {
        None
    }
}

macro_rules! event_enum {
    ($($name:ident),+ $(,)?) => {
        /// Every event of the catalogue. The variant name is the JSON `type`.
        ///
        /// The order of the variants is postcard's stored variant index: a new event type is
        /// added at the end, and none is ever reordered or removed.
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

            /// The fields of this event type that hold personal data (see [`PersonalField`]),
            /// in stored order.
            pub fn personal_fields(self) -> &'static [PersonalField] {
                match self {
                    $(EventType::$name => <$name as EventFacts>::PERSONAL_FIELDS,)+
                }
            }
        }

        impl Event {
            pub fn event_type(&self) -> EventType {
                match self {
                    $(Event::$name(_) => EventType::$name,)+
                }
            }

            /// See [`EventFacts::entity_ids`].
            pub fn entity_ids(&self) -> Vec<Uuid> {
                match self {
                    $(Event::$name(event) => event.entity_ids(),)+
                }
            }

            /// See [`EventFacts::county_anchors`].
            pub fn county_anchors(&self) -> Vec<CountyAnchor> {
                match self {
                    $(Event::$name(event) => event.county_anchors(),)+
                }
            }

            /// See [`EventFacts::personal_value`].
            pub fn personal_value(&self, field: PersonalField) -> Option<&str> {
                match self {
                    $(Event::$name(event) => event.personal_value(field),)+
                }
            }

            /// See [`EventFacts::personal_value_mut`].
            pub fn personal_value_mut(&mut self, field: PersonalField) -> Option<&mut String> {
                match self {
                    $(Event::$name(event) => event.personal_value_mut(field),)+
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

// The catalogue. This order is the stored variant index (see `Event`): append only.
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
