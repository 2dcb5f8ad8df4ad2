//! Coverage statistics (`STATS` of `api.md`) per county, town and community: computed on
//! demand by walking the area's subtree once, which for a county is a few thousand areas and
//! takes well under a millisecond. Only live areas count: a retired area and everything below it is
//! left out, complaints and services recorded there included.

use govrec_core::event::{AreaKind, MemberCategory, OrgKind};
use rayon::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use crate::answer::{AreaRef, AsOf, ReadScope};
use crate::error::ProjectionError;
use crate::model::{Index, Models, PairedWith};

/// `GET /v1/coverage`: the statistics of one area (or of every county in scope) and of its
/// direct children.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoverageAnswer {
    pub as_of: AsOf,
    /// Null when the question covers every county in scope.
    pub area: Option<AreaRef>,
    pub stats: Stats,
    pub children: Vec<ChildCoverage>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChildCoverage {
    pub area: AreaRef,
    pub stats: Stats,
}

/// Compounds that have each of the five haves, and all five.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FiveHaves {
    pub party_org: u64,
    pub venue: u64,
    pub member_ledger: u64,
    pub service_mechanism: u64,
    pub emergency_plan: u64,
    pub all_five: u64,
}

/// `STATS` of `api.md`. Rates are fractions 0..=1, null when their denominator is 0.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub compounds: u64,
    pub compounds_with_party_org: u64,
    pub party_org_coverage: Option<f64>,
    pub five_haves: FiveHaves,
    pub in_service_members: u64,
    pub in_service_reported: u64,
    pub report_rate: Option<f64>,
    pub work_units_reported: u64,
    pub building_units: u64,
    pub building_units_paired: u64,
    pub pairing_coverage: Option<f64>,
    pub complaints_filed: u64,
    pub complaints_resolved: u64,
    pub resolution_rate: Option<f64>,
    pub mean_satisfaction: Option<f64>,
    pub median_hours_to_resolve: Option<f64>,
    pub services: u64,
    pub service_hours: f64,
}

/// The sums a subtree walk gathers before they become [`Stats`].
#[derive(Debug, Default)]
struct Tally {
    compounds: u64,
    five_haves: FiveHaves,
    in_service_members: u64,
    in_service_reported: u64,
    work_units_reported: Vec<Index>,
    building_units: u64,
    building_units_paired: u64,
    complaints_filed: u64,
    complaints_resolved: u64,
    satisfaction_sum: u64,
    ratings: u64,
    hours_to_resolve: Vec<f64>,
    services: u64,
    service_minutes: u64,
}

const MICROSECONDS_PER_HOUR: f64 = 3_600_000_000.0;

impl Models {
    /// Coverage of `area` (with its children), or of every county in `scope` when `area` is
    /// `None` (then `area` is null and the counties are the children).
    ///
    /// Each live child's subtree is walked once, and the area's own figures are those of its
    /// own node plus its children's: every sum in a [`Tally`] adds up, and the lists behind
    /// the work units (deduplicated) and the median are joined before they are reduced. So
    /// the whole province is walked once, not twice. Without `area` (every county, ~100k
    /// areas at a province's size) the counties are walked on all cores.
    pub fn coverage(&self, area: Option<Uuid>, scope: &ReadScope) -> Result<CoverageAnswer, ProjectionError> {
        let filter = self.area_filter(area, scope)?;
        let area = filter.area();
        let children: Vec<Index> = match area {
            Some(area) => self.areas[area as usize].children.to_vec(),
            None => filter.counties(self).collect(),
        };
        let children: Vec<Index> = children
            .into_iter()
            .filter(|&child| !self.is_retired(child))
            .collect();
        let tally_of = |&child: &Index| {
            let mut tally = Tally::default();
            self.tally_subtree(child, &mut tally);
            tally
        };
        let tallies: Vec<Tally> = match area {
            Some(_) => children.iter().map(tally_of).collect(),
            None => children.par_iter().map(tally_of).collect(),
        };
        let mut total = Tally::default();
        if let Some(area) = area.filter(|&area| !self.is_retired(area)) {
            self.tally_node(area, &mut total);
        }
        for tally in &tallies {
            total.add(tally);
        }
        let children = children
            .into_iter()
            .zip(tallies)
            .map(|(child, tally)| ChildCoverage {
                area: self.area_ref(child),
                stats: tally.into_stats(),
            })
            .collect();
        Ok(CoverageAnswer {
            as_of: AsOf::of(self.watermark),
            area: area.map(|area| self.area_ref(area)),
            stats: total.into_stats(),
            children,
        })
    }

    /// Tallies the live areas of `top`'s subtree (none when `top` itself is retired).
    fn tally_subtree(&self, top: Index, tally: &mut Tally) {
        let mut pending = vec![top];
        while let Some(index) = pending.pop() {
            let area = &self.areas[index as usize];
            if area.retired {
                continue;
            }
            self.tally_node(index, tally);
            pending.extend(&area.children);
        }
    }

    /// Tallies one area's own figures, not its children's.
    fn tally_node(&self, index: Index, tally: &mut Tally) {
        let area = &self.areas[index as usize];
        match area.kind {
            AreaKind::Compound => self.tally_compound(index, tally),
            AreaKind::Building => self.tally_building(index, tally),
            AreaKind::Community => tally.work_units_reported.extend(&area.units_reported),
            AreaKind::County | AreaKind::Town => {}
        }
        self.tally_complaints(index, tally);
        tally.services += area.services;
        tally.service_minutes += area.service_minutes;
    }

    fn tally_compound(&self, compound: Index, tally: &mut Tally) {
        let area = &self.areas[compound as usize];
        let haves = [
            self.has_live_branch(compound),
            area.venues > 0,
            !area.residents.is_empty(),
            area.service_mechanisms > 0,
            area.emergency_plans > 0,
        ];
        let five = &mut tally.five_haves;
        for (count, has) in [
            &mut five.party_org,
            &mut five.venue,
            &mut five.member_ledger,
            &mut five.service_mechanism,
            &mut five.emergency_plan,
        ]
        .into_iter()
        .zip(haves)
        {
            *count += u64::from(has);
        }
        five.all_five += u64::from(haves.iter().all(|&has| has));
        tally.compounds += 1;
        for &resident in &area.residents {
            let member = &self.members[resident as usize];
            if member.category == MemberCategory::InService {
                tally.in_service_members += 1;
                tally.in_service_reported += u64::from(!member.reports.is_empty());
            }
        }
    }

    /// A live compound branch or grid branch covers the compound (党组织全覆盖).
    pub(crate) fn has_live_branch(&self, compound: Index) -> bool {
        self.areas[compound as usize].covering_orgs.iter().any(|&org| {
            let org = &self.orgs[org as usize];
            !org.dissolved && matches!(org.kind, OrgKind::CompoundBranch | OrgKind::GridBranch)
        })
    }

    fn tally_building(&self, building: Index, tally: &mut Tally) {
        let units = self.areas[building as usize].units;
        tally.building_units += u64::from(units);
        tally.building_units_paired += self.paired_units(building).len() as u64;
    }

    /// The building's unit numbers with at least one active member pairing, ascending.
    pub(crate) fn paired_units(&self, building: Index) -> Vec<u32> {
        let mut paired: Vec<u32> = self.areas[building as usize]
            .unit_pairings
            .iter()
            .map(|&pairing| &self.pairings[pairing as usize])
            .filter(|pairing| pairing.ended.is_none())
            .filter_map(|pairing| match pairing.to {
                PairedWith::Area { unit_no, .. } => unit_no,
                _ => None,
            })
            .collect();
        paired.sort_unstable();
        paired.dedup();
        paired
    }

    fn tally_complaints(&self, area: Index, tally: &mut Tally) {
        for &complaint in &self.areas[area as usize].complaints {
            let complaint = &self.complaints[complaint as usize];
            tally.complaints_filed += 1;
            if let Some(hours) = self.hours_to_resolve(complaint) {
                tally.complaints_resolved += 1;
                tally.hours_to_resolve.push(hours);
            }
            if let Some(rating) = complaint.rating {
                tally.satisfaction_sum += u64::from(rating);
                tally.ratings += 1;
            }
        }
    }

    /// Hours from filing to the current resolution, by the records' server times; `None`
    /// unless the complaint is resolved now (not reopened since).
    pub(crate) fn hours_to_resolve(&self, complaint: &crate::model::Complaint) -> Option<f64> {
        if !complaint.status.is_resolved() {
            return None;
        }
        let resolved = complaint.resolved?;
        let microseconds = resolved.recorded_at.micros() - complaint.filed.recorded_at.micros();
        Some(microseconds as f64 / MICROSECONDS_PER_HOUR)
    }
}

impl FiveHaves {
    fn add(&mut self, other: &FiveHaves) {
        self.party_org += other.party_org;
        self.venue += other.venue;
        self.member_ledger += other.member_ledger;
        self.service_mechanism += other.service_mechanism;
        self.emergency_plan += other.emergency_plan;
        self.all_five += other.all_five;
    }
}

impl Tally {
    /// Adds the tally of a disjoint set of areas.
    fn add(&mut self, other: &Tally) {
        self.compounds += other.compounds;
        self.five_haves.add(&other.five_haves);
        self.in_service_members += other.in_service_members;
        self.in_service_reported += other.in_service_reported;
        self.work_units_reported.extend(&other.work_units_reported);
        self.building_units += other.building_units;
        self.building_units_paired += other.building_units_paired;
        self.complaints_filed += other.complaints_filed;
        self.complaints_resolved += other.complaints_resolved;
        self.satisfaction_sum += other.satisfaction_sum;
        self.ratings += other.ratings;
        self.hours_to_resolve.extend(&other.hours_to_resolve);
        self.services += other.services;
        self.service_minutes += other.service_minutes;
    }

    fn into_stats(mut self) -> Stats {
        self.work_units_reported.sort_unstable();
        self.work_units_reported.dedup();
        let party_org = self.five_haves.party_org;
        Stats {
            compounds: self.compounds,
            compounds_with_party_org: party_org,
            party_org_coverage: rate(party_org, self.compounds),
            in_service_members: self.in_service_members,
            in_service_reported: self.in_service_reported,
            report_rate: rate(self.in_service_reported, self.in_service_members),
            work_units_reported: self.work_units_reported.len() as u64,
            building_units: self.building_units,
            building_units_paired: self.building_units_paired,
            pairing_coverage: rate(self.building_units_paired, self.building_units),
            complaints_filed: self.complaints_filed,
            complaints_resolved: self.complaints_resolved,
            resolution_rate: rate(self.complaints_resolved, self.complaints_filed),
            mean_satisfaction: rate(self.satisfaction_sum, self.ratings),
            median_hours_to_resolve: median(&mut self.hours_to_resolve),
            services: self.services,
            service_hours: self.service_minutes as f64 / 60.0,
            five_haves: self.five_haves,
        }
    }
}

/// `numerator / denominator`, or `None` when the denominator is 0.
pub(crate) fn rate(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

/// The median (the mean of the two middle values for an even count); `None` when empty.
fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 1 {
        Some(values[middle])
    } else {
        Some((values[middle - 1] + values[middle]) / 2.0)
    }
}
