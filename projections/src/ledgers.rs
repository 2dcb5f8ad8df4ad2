//! The 台账 ledgers: members, registrations, pairings and complaints. Rows are ordered by the
//! seq of the record that created them (enrolment, report, pairing, filing), and a page's
//! `next` cursor is the last row's seq, so paging is stable while the log grows.
//!
//! A ledger is a register, so it lists what exists whether or not its area was retired since;
//! only coverage statistics leave retired areas out.

use std::collections::BTreeMap;

use govrec_core::event::{
    AreaKind, Channel, ComplaintCategory, MemberCategory, PairingKind, PartyRef, ServicePost,
};
use govrec_store::BusinessDate;
use serde::Serialize;
use uuid::Uuid;

use crate::answer::{AreaFilter, AreaRef, AsOf, Page, PartyJson, ReadScope, StampJson};
use crate::error::ProjectionError;
use crate::model::{Index, Models, Name, PairedWith, Pairer, Stamp};
use govrec_core::ComplaintStatus;

/// The most unpaired building units one pairings answer lists (their total is always given).
pub const UNPAIRED_UNITS_LISTED_MAX: usize = 1000;

/// `GET /v1/ledgers/members`: current (not removed) members living in the area.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MembersLedger {
    pub as_of: AsOf,
    pub counts: MemberCounts,
    pub members: Vec<MemberRow>,
    pub next: Option<String>,
}

/// Members per category over the whole ledger (not only the page).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MemberCounts {
    pub resident: u64,
    pub in_service: u64,
    pub retired: u64,
    pub floating: u64,
    pub total: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemberRow {
    pub member_id: Uuid,
    /// Null once redacted.
    pub name: Option<String>,
    pub category: MemberCategory,
    pub home_compound: AreaRef,
    pub work_unit: Option<PartyJson>,
    pub reports: Vec<ReportJson>,
    pub active_pairings: Vec<PairingBrief>,
    pub services: u64,
    pub service_hours: f64,
    pub enrolled: StampJson,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportJson {
    pub compound: AreaRef,
    pub post: ServicePost,
    pub reported: StampJson,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairingBrief {
    pub pairing_id: Uuid,
    pub kind: PairingKind,
}

/// `GET /v1/ledgers/registrations`: current dual registrations (双报到) in the area.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegistrationsLedger {
    pub as_of: AsOf,
    /// Work units reported, per live community of the area.
    pub by_community: Vec<CommunityRegistrations>,
    /// In-service members living in each live compound, and how many have reported.
    pub by_compound: Vec<CompoundRegistrations>,
    /// In-service members (living in the area) of each work unit, and how many have reported.
    pub by_work_unit: Vec<WorkUnitRegistrations>,
    /// Every current report, paged.
    pub registrations: Vec<RegistrationRow>,
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommunityRegistrations {
    pub area: AreaRef,
    pub work_units_reported: u64,
    pub work_units: Vec<PartyJson>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompoundRegistrations {
    pub area: AreaRef,
    pub in_service_members: u64,
    pub in_service_reported: u64,
    /// Members of any category with a current report to this compound.
    pub members_reported_here: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkUnitRegistrations {
    pub work_unit: PartyJson,
    pub in_service_members: u64,
    pub in_service_reported: u64,
}

/// One current report: a member to a compound (with a post) or a work unit to a community.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegistrationRow {
    pub reporter: PartyJson,
    pub area: AreaRef,
    pub post: Option<ServicePost>,
    pub reported: StampJson,
}

/// `GET /v1/ledgers/pairings`: active (not ended) pairings in the area.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairingsLedger {
    pub as_of: AsOf,
    pub counts: PairingCounts,
    /// Units of live buildings in the area.
    pub building_units: u64,
    pub unpaired_building_units_total: u64,
    /// Building units with no active member pairing, at most [`UNPAIRED_UNITS_LISTED_MAX`].
    pub unpaired_building_units: Vec<BuildingUnitJson>,
    pub pairings: Vec<PairingRow>,
    pub next: Option<String>,
}

/// Active pairings per kind over the whole ledger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PairingCounts {
    pub unit_compound: u64,
    pub cadre_secretary: u64,
    pub member_building_unit: u64,
    pub member_household: u64,
    pub total: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BuildingUnitJson {
    pub building: AreaRef,
    pub unit_no: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairingRow {
    pub pairing_id: Uuid,
    pub kind: PairingKind,
    pub from: PartyJson,
    pub to: PairingTargetJson,
    pub established: StampJson,
}

/// What a pairing points at; a household's pseudonym is not shown (personal data).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PairingTargetJson {
    Area { area: AreaRef, unit_no: Option<u32> },
    Member(PartyJson),
    Household,
}

/// Which complaints a complaints ledger lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ComplaintsView {
    #[default]
    All,
    /// Past `due_on` and not resolved.
    Overdue,
}

/// `GET /v1/ledgers/complaints`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComplaintsLedger {
    pub as_of: AsOf,
    /// The date overdue is judged on.
    pub overdue_on: String,
    pub counts: ComplaintCounts,
    pub complaints: Vec<ComplaintRow>,
    pub next: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ComplaintCounts {
    pub filed: u64,
    pub dispatched: u64,
    pub accepted: u64,
    pub resolved: u64,
    pub rated: u64,
    pub overdue: u64,
    pub total: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComplaintRow {
    pub complaint_id: Uuid,
    pub area: AreaRef,
    pub category: ComplaintCategory,
    pub channel: Channel,
    pub status: ComplaintStatus,
    pub assignee: Option<PartyJson>,
    pub due_on: Option<String>,
    pub overdue: bool,
    pub filed: StampJson,
    pub dispatched: Option<StampJson>,
    pub accepted: Option<StampJson>,
    pub resolved: Option<StampJson>,
    pub hours_to_resolve: Option<f64>,
    pub rating: Option<u8>,
    pub rated: Option<StampJson>,
    /// How many times it was reopened; the steps above are those of the current round.
    pub reopened: u32,
}

impl Models {
    /// Current members whose home compound lies in the area, in enrolment order.
    pub fn members_ledger(
        &self,
        area: Option<Uuid>,
        scope: &ReadScope,
        page: &Page,
    ) -> Result<MembersLedger, ProjectionError> {
        let filter = self.area_filter(area, scope)?;
        let mut counts = MemberCounts::default();
        let mut selected = Vec::new();
        for (index, member) in self.members.iter().enumerate() {
            if member.removed || !filter.covers(self, member.home) {
                continue;
            }
            let count = match member.category {
                MemberCategory::Resident => &mut counts.resident,
                MemberCategory::InService => &mut counts.in_service,
                MemberCategory::Retired => &mut counts.retired,
                MemberCategory::Floating => &mut counts.floating,
            };
            *count += 1;
            counts.total += 1;
            selected.push(index as Index);
        }
        let (rows, next) = page.cut(selected, |&index| self.members[index as usize].enrolled.seq)?;
        Ok(MembersLedger {
            as_of: AsOf::of(self.watermark),
            counts,
            members: rows.into_iter().map(|index| self.member_row(index)).collect(),
            next,
        })
    }

    fn member_row(&self, index: Index) -> MemberRow {
        let member = &self.members[index as usize];
        MemberRow {
            member_id: member.id,
            name: member.name.as_ref().map(Name::to_string),
            category: member.category,
            home_compound: self.area_ref(member.home),
            work_unit: member
                .work_unit
                .map(|unit| self.party_json(PartyRef::WorkUnitId(self.work_units[unit as usize].id))),
            reports: member
                .reports
                .iter()
                .map(|report| ReportJson {
                    compound: self.area_ref(report.compound),
                    post: report.post,
                    reported: report.reported.into(),
                })
                .collect(),
            active_pairings: member
                .pairings
                .iter()
                .map(|&pairing| &self.pairings[pairing as usize])
                .filter(|pairing| pairing.ended.is_none())
                .map(|pairing| PairingBrief {
                    pairing_id: pairing.id,
                    kind: pairing.kind,
                })
                .collect(),
            services: member.services,
            service_hours: member.service_minutes as f64 / 60.0,
            enrolled: member.enrolled.into(),
        }
    }

    /// Current reports to areas inside the filter, with summaries per community, compound and
    /// work unit.
    pub fn registrations_ledger(
        &self,
        area: Option<Uuid>,
        scope: &ReadScope,
        page: &Page,
    ) -> Result<RegistrationsLedger, ProjectionError> {
        let filter = self.area_filter(area, scope)?;
        let mut rows: Vec<(Stamp, PartyRef, Index, Option<ServicePost>)> = Vec::new();
        for member in &self.members {
            for report in member
                .reports
                .iter()
                .filter(|report| filter.covers(self, report.compound))
            {
                rows.push((
                    report.reported,
                    PartyRef::MemberId(member.id),
                    report.compound,
                    Some(report.post),
                ));
            }
        }
        for unit in &self.work_units {
            for &(community, reported) in unit
                .reported_to
                .iter()
                .filter(|(area, _)| filter.covers(self, *area))
            {
                rows.push((reported, PartyRef::WorkUnitId(unit.id), community, None));
            }
        }
        rows.sort_by_key(|row| (row.0.seq, row.1));
        let (rows, next) = page.cut(rows, |row| row.0.seq)?;
        Ok(RegistrationsLedger {
            as_of: AsOf::of(self.watermark),
            by_community: self.community_registrations(&filter),
            by_compound: self.compound_registrations(&filter),
            by_work_unit: self.work_unit_registrations(&filter),
            registrations: rows
                .into_iter()
                .map(|(reported, reporter, area, post)| RegistrationRow {
                    reporter: self.party_json(reporter),
                    area: self.area_ref(area),
                    post,
                    reported: reported.into(),
                })
                .collect(),
            next,
        })
    }

    /// The live areas of `kind` inside the filter, in registration order.
    fn live_areas_of_kind(&self, filter: &AreaFilter, kind: AreaKind) -> Vec<Index> {
        (0..self.areas.len() as Index)
            .filter(|&area| self.areas[area as usize].kind == kind)
            .filter(|&area| filter.covers(self, area) && !self.is_retired(area))
            .collect()
    }

    fn community_registrations(&self, filter: &AreaFilter) -> Vec<CommunityRegistrations> {
        self.live_areas_of_kind(filter, AreaKind::Community)
            .into_iter()
            .map(|community| {
                let units = &self.areas[community as usize].units_reported;
                CommunityRegistrations {
                    area: self.area_ref(community),
                    work_units_reported: units.len() as u64,
                    work_units: units
                        .iter()
                        .map(|&unit| self.party_json(PartyRef::WorkUnitId(self.work_units[unit as usize].id)))
                        .collect(),
                }
            })
            .collect()
    }

    fn compound_registrations(&self, filter: &AreaFilter) -> Vec<CompoundRegistrations> {
        let mut reported_here: BTreeMap<Index, u64> = BTreeMap::new();
        for member in self.members.iter().filter(|member| !member.removed) {
            for report in &member.reports {
                *reported_here.entry(report.compound).or_default() += 1;
            }
        }
        self.live_areas_of_kind(filter, AreaKind::Compound)
            .into_iter()
            .map(|compound| {
                let in_service: Vec<_> = self.areas[compound as usize]
                    .residents
                    .iter()
                    .map(|&member| &self.members[member as usize])
                    .filter(|member| member.category == MemberCategory::InService)
                    .collect();
                CompoundRegistrations {
                    area: self.area_ref(compound),
                    in_service_members: in_service.len() as u64,
                    in_service_reported: in_service
                        .iter()
                        .filter(|member| !member.reports.is_empty())
                        .count() as u64,
                    members_reported_here: reported_here.get(&compound).copied().unwrap_or(0),
                }
            })
            .collect()
    }

    fn work_unit_registrations(&self, filter: &AreaFilter) -> Vec<WorkUnitRegistrations> {
        let mut per_unit: BTreeMap<Index, (u64, u64)> = BTreeMap::new();
        let in_service = self.members.iter().filter(|member| {
            !member.removed
                && member.category == MemberCategory::InService
                && filter.covers(self, member.home)
        });
        for member in in_service {
            if let Some(unit) = member.work_unit {
                let entry = per_unit.entry(unit).or_default();
                entry.0 += 1;
                entry.1 += u64::from(!member.reports.is_empty());
            }
        }
        per_unit
            .into_iter()
            .map(|(unit, (members, reported))| WorkUnitRegistrations {
                work_unit: self.party_json(PartyRef::WorkUnitId(self.work_units[unit as usize].id)),
                in_service_members: members,
                in_service_reported: reported,
            })
            .collect()
    }

    /// Active pairings whose place lies inside the filter (a building unit or compound paired
    /// with; for a mentorship or a household, the pairing member's home), and the building
    /// units with no active member pairing.
    pub fn pairings_ledger(
        &self,
        area: Option<Uuid>,
        scope: &ReadScope,
        page: &Page,
    ) -> Result<PairingsLedger, ProjectionError> {
        let filter = self.area_filter(area, scope)?;
        let mut counts = PairingCounts::default();
        let mut selected = Vec::new();
        for (index, pairing) in self.pairings.iter().enumerate() {
            if pairing.ended.is_some() || !filter.covers(self, self.pairing_place(index as Index)) {
                continue;
            }
            let count = match pairing.kind {
                PairingKind::UnitCompound => &mut counts.unit_compound,
                PairingKind::CadreSecretary => &mut counts.cadre_secretary,
                PairingKind::MemberBuildingUnit => &mut counts.member_building_unit,
                PairingKind::MemberHousehold => &mut counts.member_household,
            };
            *count += 1;
            counts.total += 1;
            selected.push(index as Index);
        }
        let (rows, next) = page.cut(selected, |&index| self.pairings[index as usize].established.seq)?;
        let (building_units, unpaired_total, unpaired) = self.unpaired_units(&filter);
        Ok(PairingsLedger {
            as_of: AsOf::of(self.watermark),
            counts,
            building_units,
            unpaired_building_units_total: unpaired_total,
            unpaired_building_units: unpaired,
            pairings: rows.into_iter().map(|index| self.pairing_row(index)).collect(),
            next,
        })
    }

    fn pairing_place(&self, index: Index) -> Index {
        let pairing = &self.pairings[index as usize];
        match (pairing.to, pairing.from) {
            (PairedWith::Area { area, .. }, _) => area,
            (_, Pairer::Member(member)) => self.members[member as usize].home,
            (_, Pairer::WorkUnit(unit)) => self.work_units[unit as usize].county,
        }
    }

    fn pairing_row(&self, index: Index) -> PairingRow {
        let pairing = &self.pairings[index as usize];
        let from = match pairing.from {
            Pairer::Member(member) => PartyRef::MemberId(self.members[member as usize].id),
            Pairer::WorkUnit(unit) => PartyRef::WorkUnitId(self.work_units[unit as usize].id),
        };
        let to = match pairing.to {
            PairedWith::Area { area, unit_no } => PairingTargetJson::Area {
                area: self.area_ref(area),
                unit_no,
            },
            PairedWith::Member(member) => PairingTargetJson::Member(
                self.party_json(PartyRef::MemberId(self.members[member as usize].id)),
            ),
            PairedWith::Household => PairingTargetJson::Household,
        };
        PairingRow {
            pairing_id: pairing.id,
            kind: pairing.kind,
            from: self.party_json(from),
            to,
            established: pairing.established.into(),
        }
    }

    /// (units of live buildings, unpaired units, the first unpaired units listed).
    fn unpaired_units(&self, filter: &AreaFilter) -> (u64, u64, Vec<BuildingUnitJson>) {
        let mut units = 0;
        let mut unpaired_total = 0;
        let mut listed = Vec::new();
        for building in self.live_areas_of_kind(filter, AreaKind::Building) {
            let paired = self.paired_units(building);
            let all = self.areas[building as usize].units;
            units += u64::from(all);
            for unit_no in (1..=all).filter(|unit_no| paired.binary_search(unit_no).is_err()) {
                unpaired_total += 1;
                if listed.len() < UNPAIRED_UNITS_LISTED_MAX {
                    listed.push(BuildingUnitJson {
                        building: self.area_ref(building),
                        unit_no,
                    });
                }
            }
        }
        (units, unpaired_total, listed)
    }

    /// Complaints filed in the area, in filing order. Overdue means past `due_on` on
    /// `overdue_on` (default: the business date of the models' last record, so an answer
    /// depends on the log alone) and not resolved.
    pub fn complaints_ledger(
        &self,
        area: Option<Uuid>,
        scope: &ReadScope,
        view: ComplaintsView,
        overdue_on: Option<BusinessDate>,
        page: &Page,
    ) -> Result<ComplaintsLedger, ProjectionError> {
        let filter = self.area_filter(area, scope)?;
        let overdue_on = overdue_on
            .or_else(|| {
                self.watermark
                    .map(|watermark| BusinessDate::of(watermark.recorded_at))
            })
            .unwrap_or(BusinessDate::BEFORE_ALL);
        let mut counts = ComplaintCounts::default();
        let mut selected = Vec::new();
        for (index, complaint) in self.complaints.iter().enumerate() {
            if !filter.covers(self, complaint.area) {
                continue;
            }
            let overdue = is_overdue(complaint.status, complaint.due_on, overdue_on);
            let count = match complaint.status {
                ComplaintStatus::Filed => &mut counts.filed,
                ComplaintStatus::Dispatched => &mut counts.dispatched,
                ComplaintStatus::Accepted => &mut counts.accepted,
                ComplaintStatus::Resolved => &mut counts.resolved,
                ComplaintStatus::Rated => &mut counts.rated,
            };
            *count += 1;
            counts.total += 1;
            counts.overdue += u64::from(overdue);
            if view == ComplaintsView::All || overdue {
                selected.push(index as Index);
            }
        }
        let (rows, next) = page.cut(selected, |&index| self.complaints[index as usize].filed.seq)?;
        Ok(ComplaintsLedger {
            as_of: AsOf::of(self.watermark),
            overdue_on: overdue_on.to_iso(),
            counts,
            complaints: rows
                .into_iter()
                .map(|index| self.complaint_row(index, overdue_on))
                .collect(),
            next,
        })
    }

    fn complaint_row(&self, index: Index, overdue_on: BusinessDate) -> ComplaintRow {
        let complaint = &self.complaints[index as usize];
        ComplaintRow {
            complaint_id: complaint.id,
            area: self.area_ref(complaint.area),
            category: complaint.category,
            channel: complaint.channel,
            status: complaint.status,
            assignee: complaint.assignee.map(|assignee| self.party_json(assignee)),
            due_on: complaint.due_on.map(BusinessDate::to_iso),
            overdue: is_overdue(complaint.status, complaint.due_on, overdue_on),
            filed: complaint.filed.into(),
            dispatched: complaint.dispatched.map(Into::into),
            accepted: complaint.accepted.map(Into::into),
            resolved: complaint.resolved.map(Into::into),
            hours_to_resolve: self.hours_to_resolve(complaint),
            rating: complaint.rating,
            rated: complaint.rated.map(Into::into),
            reopened: complaint.reopened,
        }
    }
}

fn is_overdue(status: ComplaintStatus, due_on: Option<BusinessDate>, on: BusinessDate) -> bool {
    !status.is_resolved() && due_on.is_some_and(|due_on| due_on < on)
}
