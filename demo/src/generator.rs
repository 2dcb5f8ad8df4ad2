//! The generator: the calendar of 2026 and the events of the four counties, day by day.

use fake::faker::name::zh_cn::Name;
use fake::Fake;
use govrec_core::event::{
    AreaKind, AreaRegistered, AreaRetired, Channel, ComplaintAccepted, ComplaintDispatched, ComplaintFiled,
    ComplaintRated, ComplaintReopened, ComplaintResolved, CompoundKind, EmergencyDrillHeld,
    EmergencyPlanFiled, EvaluationAmended, EvaluationRecorded, EvaluationRetracted, Evaluator, Hazard,
    Mechanism, MemberCategory, MemberEnrolled, MemberRemoved, MemberReported, MemberUpdated,
    OfficerAppointed, OfficerRelieved, OfficerRole, OrgKind, PairingEnded, PairingEstablished, PairingKind,
    PairingTarget, PartyOrgCoverageChanged, PartyOrgDissolved, PartyOrgFounded, PartyRef, ReportWithdrawn,
    ServiceKind, ServiceMechanismEstablished, ServicePost, ServiceProvider, ServiceRendered, UnitReported,
    VenueEstablished, VenueSource, WorkUnitRegistered,
};
use govrec_core::Event;
use govrec_store::{BusinessDate, NewEvent};
use rand::distr::weighted::WeightedIndex;
use rand::distr::Distribution;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use uuid::Uuid;

use crate::counties::{Plan, PLANS};
use crate::words::{
    COMMERCIAL_SUFFIXES, COMMUNITY_WORDS, COMPLAINTS, EVALUATION_COMMENTS, HOUSEHOLD_KINDS, NAME_CHARS,
    ORGANISATION_DEPARTMENT, PAIRING_END_REASONS, REMOVAL_REASONS, REOPEN_REASONS, STREETS, WORK_UNITS,
    WORK_UNIT_COMPOUND_SUFFIXES, WORK_UNIT_SHORT_NAMES,
};
use crate::{DemoCounty, DEMO_SEED, GUANGLING, HUNYUAN, LINGQIU, TIANHE_YIJU, ZUOYUN};

// The calendar of 2026.

/// A day of 2026; 0 is 1 January (2026 is not a leap year).
type Day = u16;

const YEAR: u32 = 2026;
const MONTH_STARTS: [Day; 13] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];

const fn day(month: usize, day_of_month: Day) -> Day {
    MONTH_STARTS[month - 1] + day_of_month - 1
}

/// Areas are registered on this day, the rest follows.
const AREAS_DAY: Day = day(1, 5);
/// The last day of the year's activity; the closing tidy-ups follow it.
const LAST_ACTIVITY_DAY: Day = day(11, 13);
const CLOSING_FIRST_DAY: Day = day(11, 16);
const LAST_DAY: Day = day(11, 20);

fn business_date(day: Day) -> BusinessDate {
    assert!(day < MONTH_STARTS[12], "day {day} lies outside 2026");
    let month = MONTH_STARTS
        .iter()
        .rposition(|&start| start <= day)
        .expect("the year starts at day 0");
    let day_of_month = u32::from(day - MONTH_STARTS[month]) + 1;
    BusinessDate::from_yyyymmdd(YEAR * 10_000 + (month as u32 + 1) * 100 + day_of_month)
        .expect("a calendar date")
}

// The generator.

/// The demo's events in log order, and what the summary reports.
pub(crate) struct Demo {
    pub(crate) events: Vec<NewEvent>,
    pub(crate) counties: Vec<DemoCounty>,
    pub(crate) tianhe_yiju: Uuid,
}

/// Builds the demo: pure, no I/O; the same output on every call.
pub(crate) fn build_demo() -> Demo {
    let mut generator = Generator {
        choices: ChaCha8Rng::seed_from_u64(DEMO_SEED),
        ids: ChaCha8Rng::seed_from_u64(DEMO_SEED ^ 0x6964_7300),
        timeline: Vec::new(),
    };
    let mut counties = Vec::new();
    let mut tianhe_yiju = None;
    for plan in PLANS {
        let county = generator.county(plan);
        if let Some(compound) = county
            .compounds
            .iter()
            .find(|compound| compound.name == TIANHE_YIJU)
        {
            tianhe_yiju = Some(compound.id);
        }
        counties.push(county.summary());
    }
    // Stable: events of one day keep the order they were made in, which puts every event after
    // the events it depends on (each is dated no earlier than what it references).
    let mut timeline = std::mem::take(&mut generator.timeline);
    timeline.sort_by_key(|(day, _)| *day);
    let events = timeline
        .into_iter()
        .map(|(day, event)| NewEvent {
            id: Some(generator.id()),
            occurred_on: Some(business_date(day)),
            event,
        })
        .collect();
    Demo {
        events,
        counties,
        tianhe_yiju: tianhe_yiju.expect("灵丘县 has 天和逸居小区"),
    }
}

struct Generator {
    /// Every choice of content.
    choices: ChaCha8Rng,
    /// Entity and event ids, apart so they are UUIDs of their own stream.
    ids: ChaCha8Rng,
    timeline: Vec<(Day, Event)>,
}

/// One county as the generator builds it; indexes point into its own vectors.
struct County {
    plan: &'static Plan,
    id: Uuid,
    communities: Vec<Community>,
    compounds: Vec<Compound>,
    branches: Vec<Branch>,
    work_units: Vec<WorkUnit>,
    members: Vec<Member>,
    pairings: Vec<Pairing>,
    evaluations: Vec<(Uuid, Day)>,
    complaints: usize,
}

struct Community {
    id: Uuid,
    name: String,
    committee: Uuid,
}

struct Compound {
    id: Uuid,
    name: String,
    community: usize,
    households: u32,
    kind: CompoundKind,
    /// One of the `compound_branches` largest, with a branch of its own.
    large: bool,
    buildings: Vec<Building>,
    /// The branch covering it (index into `branches`).
    branch: usize,
    /// Members whose home it is (indexes into `members`).
    residents: Vec<usize>,
    /// Its members are fixed by the article: none moves in or out.
    fixed_members: bool,
    paired_unit: Option<usize>,
}

struct Building {
    id: Uuid,
    units: u32,
}

struct Branch {
    id: Uuid,
    community: usize,
    compounds: Vec<usize>,
    founded: Day,
    secretary: Option<usize>,
}

struct WorkUnit {
    id: Uuid,
    community: usize,
    /// The day it reported to its community, if it did.
    reported: Option<Day>,
}

struct Member {
    id: Uuid,
    category: MemberCategory,
    home: usize,
    work_unit: Option<usize>,
    enrolled: Day,
    /// The compound it reported to, and when.
    report: Option<(usize, Day)>,
    /// Part of a figure of the article: never removed, changed or withdrawn.
    pinned: bool,
    officer: bool,
}

struct Pairing {
    id: Uuid,
    from_member: Option<usize>,
    established: Day,
    ended: bool,
}

/// Who a pairing is from: a member or a work unit (indexes into the county's vectors).
#[derive(Clone, Copy)]
enum PairingFrom {
    Member(usize),
    WorkUnit(usize),
}

/// How a complaint's story ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    Filed,
    Dispatched,
    Accepted,
    Resolved,
    Rated,
    ReopenedOpen,
    ReopenedRated,
}

const FATES: [(Fate, u32); 7] = [
    (Fate::Filed, 3),
    (Fate::Dispatched, 5),
    (Fate::Accepted, 6),
    (Fate::Resolved, 12),
    (Fate::Rated, 66),
    (Fate::ReopenedOpen, 3),
    (Fate::ReopenedRated, 5),
];

impl Generator {
    fn id(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(self.ids.random()).into_uuid()
    }

    fn push(&mut self, day: Day, event: impl Into<Event>) {
        assert!(day <= LAST_DAY, "day {day} lies after the demo's last day");
        self.timeline.push((day, event.into()));
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.choices.random_range(0..100) < percent
    }

    fn between(&mut self, low: Day, high: Day) -> Day {
        self.choices.random_range(low..=high)
    }

    /// A day `gap_min..=gap_max` days after `from`, at most [`LAST_ACTIVITY_DAY`].
    fn after(&mut self, from: Day, gap_min: Day, gap_max: Day) -> Day {
        (from + self.between(gap_min, gap_max)).min(LAST_ACTIVITY_DAY.max(from))
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        items.choose(&mut self.choices).expect("a non-empty list")
    }

    fn person_name(&mut self) -> String {
        Name().fake_with_rng(&mut self.choices)
    }

    fn score(&mut self) -> u32 {
        if self.chance(6) {
            self.choices.random_range(45..70)
        } else {
            self.choices.random_range(72..=100)
        }
    }

    fn county(&mut self, plan: &'static Plan) -> County {
        let mut county = County {
            plan,
            id: self.id(),
            communities: Vec::new(),
            compounds: Vec::new(),
            branches: Vec::new(),
            work_units: Vec::new(),
            members: Vec::new(),
            pairings: Vec::new(),
            evaluations: Vec::new(),
            complaints: 0,
        };
        self.areas(&mut county);
        self.organisations(&mut county);
        self.work_units(&mut county);
        self.members(&mut county);
        self.officers(&mut county);
        self.building_groups(&mut county);
        self.five_haves(&mut county);
        self.reports(&mut county);
        self.services(&mut county);
        self.pairings(&mut county);
        self.evaluations(&mut county);
        self.complaints(&mut county);
        self.member_updates(&mut county);
        self.closing(&mut county);
        county
    }

    // Areas.

    fn areas(&mut self, county: &mut County) {
        let plan = county.plan;
        self.push(AREAS_DAY, area(county.id, AreaKind::County, plan.name, None));
        let town = self.id();
        self.push(AREAS_DAY, area(town, AreaKind::Town, plan.town, Some(county.id)));
        let mut community_names: Vec<String> = plan.named_communities.iter().map(|&n| n.to_owned()).collect();
        let mut words: Vec<&str> = COMMUNITY_WORDS.to_vec();
        words.shuffle(&mut self.choices);
        for word in words {
            let name = format!("{word}社区");
            if community_names.len() < plan.communities && !community_names.contains(&name) {
                community_names.push(name);
            }
        }
        for name in community_names {
            let id = self.id();
            self.push(AREAS_DAY, area(id, AreaKind::Community, &name, Some(town)));
            county.communities.push(Community {
                id,
                name,
                committee: Uuid::nil(),
            });
        }
        county.compounds = self.compound_layout(plan);
        for community in 0..county.communities.len() {
            for index in 0..county.compounds.len() {
                if county.compounds[index].community == community {
                    self.register_compound(county, index);
                }
            }
        }
    }

    /// The compounds of a county before registration: size, kind, community and buildings.
    fn compound_layout(&mut self, plan: &Plan) -> Vec<Compound> {
        let mut households: Vec<u32> = (0..plan.compounds)
            .map(
                |index| match plan.named_compounds.get(index).and_then(|named| named.households) {
                    Some(fixed) => fixed,
                    None if index < plan.compound_branches => self.choices.random_range(150..=900),
                    None => self.choices.random_range(16..=110),
                },
            )
            .collect();
        if let Some(total) = plan.households_total {
            scale_to_total(&mut households, total);
        }
        let mut community_order: Vec<usize> = (0..plan.communities).collect();
        community_order.shuffle(&mut self.choices);
        let mut names = Vec::new();
        let mut compounds = Vec::with_capacity(plan.compounds);
        for (index, &households) in households.iter().enumerate() {
            let large = index < plan.compound_branches;
            let named = plan.named_compounds.get(index);
            let community = if large {
                community_order[index % plan.communities]
            } else {
                self.choices.random_range(0..plan.communities)
            };
            let kind = match named {
                Some(named) => named.kind,
                None => self.compound_kind(large),
            };
            let name = match named {
                Some(named) => named.name.to_owned(),
                None => self.compound_name(kind, &names),
            };
            names.push(name.clone());
            let buildings = match named {
                Some(named) if !named.building_units.is_empty() => named.building_units.to_vec(),
                _ => self.buildings_for(households, large),
            };
            compounds.push(Compound {
                id: Uuid::nil(),
                name,
                community,
                households,
                kind,
                large,
                buildings: buildings
                    .into_iter()
                    .map(|units| Building {
                        id: Uuid::nil(),
                        units,
                    })
                    .collect(),
                branch: usize::MAX,
                residents: Vec::new(),
                fixed_members: named.is_some_and(|named| named.members.is_some()),
                paired_unit: None,
            });
        }
        compounds
    }

    fn compound_kind(&mut self, large: bool) -> CompoundKind {
        let roll = self.choices.random_range(0..100);
        match (large, roll) {
            (true, 0..=74) => CompoundKind::Commercial,
            (true, _) => CompoundKind::Old,
            (false, 0..=44) => CompoundKind::WorkUnit,
            (false, _) => CompoundKind::Old,
        }
    }

    /// A name no other compound of the county has.
    fn compound_name(&mut self, kind: CompoundKind, taken: &[String]) -> String {
        for _ in 0..100 {
            let name = match kind {
                CompoundKind::Commercial => {
                    let first = *self.pick(NAME_CHARS);
                    let second = *self.pick(NAME_CHARS);
                    if first == second {
                        continue;
                    }
                    format!("{first}{second}{}", self.pick(COMMERCIAL_SUFFIXES))
                }
                CompoundKind::WorkUnit => format!(
                    "{}{}",
                    self.pick(WORK_UNIT_SHORT_NAMES),
                    self.pick(WORK_UNIT_COMPOUND_SUFFIXES)
                ),
                CompoundKind::Old => {
                    format!("{}{}号院", self.pick(STREETS), self.choices.random_range(1..=120))
                }
            };
            if !taken.contains(&name) {
                return name;
            }
        }
        format!("第{}小区", taken.len() + 1)
    }

    /// Units of each building for a compound of that many households; a small compound is one
    /// to three buildings (单片楼、单位自建楼).
    fn buildings_for(&mut self, households: u32, large: bool) -> Vec<u32> {
        let units_per_building = if large {
            self.choices.random_range(2..=4)
        } else {
            self.choices.random_range(1..=3)
        };
        let households_per_unit = *self.pick(&[12u32, 18, 22, 33]);
        let buildings_max = if large { 24 } else { 3 };
        let buildings = (households / (units_per_building * households_per_unit)).clamp(1, buildings_max);
        (0..buildings)
            .map(|_| {
                let varied = units_per_building as i32 + self.choices.random_range(-1..=1);
                varied.max(1) as u32
            })
            .collect()
    }

    fn register_compound(&mut self, county: &mut County, index: usize) {
        let compound_id = self.id();
        let has_property_management = match county.compounds[index].kind {
            CompoundKind::Commercial => true,
            CompoundKind::WorkUnit => self.chance(50),
            CompoundKind::Old => self.chance(20),
        };
        let compound = &mut county.compounds[index];
        compound.id = compound_id;
        let community_id = county.communities[compound.community].id;
        self.push(
            AREAS_DAY,
            AreaRegistered {
                area_id: compound_id,
                kind: AreaKind::Compound,
                name: compound.name.clone(),
                parent_id: Some(community_id),
                households: Some(compound.households),
                compound_kind: Some(compound.kind),
                has_property_management: Some(has_property_management),
                units: None,
            },
        );
        for (number, building) in compound.buildings.iter_mut().enumerate() {
            building.id = self.id();
            let event = AreaRegistered {
                area_id: building.id,
                kind: AreaKind::Building,
                name: format!("{}号楼", number + 1),
                parent_id: Some(compound_id),
                households: None,
                compound_kind: None,
                has_property_management: None,
                units: Some(building.units),
            };
            self.push(AREAS_DAY, event);
        }
    }

    // Organisations.

    fn organisations(&mut self, county: &mut County) {
        let plan = county.plan;
        let committee_name = if plan.name == LINGQIU {
            "党委"
        } else {
            "党总支"
        };
        for community in &mut county.communities {
            community.committee = self.id();
            self.push(
                day(1, 6),
                PartyOrgFounded {
                    org_id: community.committee,
                    kind: OrgKind::CommunityCommittee,
                    name: format!("{}{committee_name}", community.name),
                    parent_org_id: None,
                    area_ids: Some(vec![community.id]),
                    work_unit_id: None,
                },
            );
        }
        let mut small_by_community: Vec<Vec<usize>> = vec![Vec::new(); county.communities.len()];
        for index in 0..county.compounds.len() {
            let compound = &county.compounds[index];
            if compound.large {
                let name = format!("{}党支部", compound.name);
                self.found_branch(county, OrgKind::CompoundBranch, name, vec![index]);
            } else {
                small_by_community[compound.community].push(index);
            }
        }
        let grids = grid_groups(&small_by_community, plan.grid_branches);
        for (community, groups) in grids.into_iter().enumerate() {
            for (number, compounds) in groups.into_iter().enumerate() {
                let name = format!("{}第{}网格党支部", county.communities[community].name, number + 1);
                self.found_branch(county, OrgKind::GridBranch, name, compounds);
            }
        }
        let live_branches = county.branches.len();
        assert_eq!(live_branches, plan.compound_branches + plan.grid_branches);
    }

    fn found_branch(&mut self, county: &mut County, kind: OrgKind, name: String, compounds: Vec<usize>) {
        let id = self.id();
        let founded = self.between(day(1, 7), day(1, 31));
        let community = county.compounds[compounds[0]].community;
        let index = county.branches.len();
        for &compound in &compounds {
            county.compounds[compound].branch = index;
        }
        self.push(
            founded,
            PartyOrgFounded {
                org_id: id,
                kind,
                name,
                parent_org_id: Some(county.communities[community].committee),
                area_ids: Some(compounds.iter().map(|&c| county.compounds[c].id).collect()),
                work_unit_id: None,
            },
        );
        county.branches.push(Branch {
            id,
            community,
            compounds,
            founded,
            secretary: None,
        });
    }

    fn building_groups(&mut self, county: &mut County) {
        for branch in &county.branches {
            for &compound in &branch.compounds {
                let compound = &county.compounds[compound];
                for (number, building) in compound.buildings.iter().enumerate() {
                    if !county.plan.building_group_every_building && !self.chance(20) {
                        continue;
                    }
                    let founded = self.after(branch.founded, 5, 40);
                    let org_id = self.id();
                    self.push(
                        founded,
                        PartyOrgFounded {
                            org_id,
                            kind: OrgKind::BuildingGroup,
                            name: format!("{}{}号楼党小组", compound.name, number + 1),
                            parent_org_id: Some(branch.id),
                            area_ids: Some(vec![building.id]),
                            work_unit_id: None,
                        },
                    );
                }
            }
        }
    }

    // Work units and members.

    fn work_units(&mut self, county: &mut County) {
        let plan = county.plan;
        assert!(plan.work_units <= WORK_UNITS.len());
        for (index, template) in WORK_UNITS.iter().take(plan.work_units).enumerate() {
            let id = self.id();
            let name = template.replace("{}", plan.name);
            let registered = day(1, 6);
            self.push(
                registered,
                WorkUnitRegistered {
                    work_unit_id: id,
                    name: name.clone(),
                    county_id: county.id,
                },
            );
            let founded = self.between(day(1, 8), day(1, 20));
            let org_id = self.id();
            self.push(
                founded,
                PartyOrgFounded {
                    org_id,
                    kind: OrgKind::WorkUnitOrg,
                    name: format!("{name}党支部"),
                    parent_org_id: None,
                    area_ids: None,
                    work_unit_id: Some(id),
                },
            );
            let community = self.choices.random_range(0..county.communities.len());
            let reported = (index < plan.work_units_reporting).then(|| self.between(day(2, 1), day(3, 31)));
            if let Some(reported) = reported {
                self.push(
                    reported,
                    UnitReported {
                        work_unit_id: id,
                        community_id: county.communities[community].id,
                    },
                );
            }
            county.work_units.push(WorkUnit {
                id,
                community,
                reported,
            });
        }
    }

    fn members(&mut self, county: &mut County) {
        let plan = county.plan;
        for (index, named) in plan.named_compounds.iter().enumerate() {
            let Some((in_service, retired, resident)) = named.members else {
                continue;
            };
            let mix = [
                (MemberCategory::InService, in_service),
                (MemberCategory::Retired, retired),
                (MemberCategory::Resident, resident),
            ];
            for (category, count) in mix {
                for _ in 0..count {
                    let reports = category == MemberCategory::InService;
                    self.enrol(county, category, index, reports, true);
                }
            }
        }
        let mut categories: Vec<(MemberCategory, bool)> = Vec::new();
        let counts = [
            (MemberCategory::InService, true, plan.in_service_reported),
            (MemberCategory::InService, false, plan.in_service_unreported),
            (MemberCategory::Resident, false, plan.residents),
            (MemberCategory::Retired, false, plan.retired),
            (MemberCategory::Floating, false, plan.floating),
        ];
        for (category, reports, count) in counts {
            categories.resize(categories.len() + count, (category, reports));
        }
        categories.shuffle(&mut self.choices);
        let open: Vec<usize> = (0..county.compounds.len())
            .filter(|&index| !county.compounds[index].fixed_members)
            .collect();
        let weights = WeightedIndex::new(open.iter().map(|&index| county.compounds[index].households))
            .expect("compounds have households");
        for (number, (category, reports)) in categories.into_iter().enumerate() {
            // Two members in every compound first, so every member ledger has someone.
            let home = if number < 2 * open.len() {
                open[number % open.len()]
            } else {
                open[weights.sample(&mut self.choices)]
            };
            let pinned = reports && plan.reports_are_figures;
            self.enrol(county, category, home, reports, pinned);
        }
    }

    fn enrol(
        &mut self,
        county: &mut County,
        category: MemberCategory,
        home: usize,
        reports: bool,
        pinned: bool,
    ) {
        let id = self.id();
        let enrolled = if self.chance(92) {
            self.between(day(1, 12), day(3, 15))
        } else {
            self.between(day(3, 16), day(10, 15))
        };
        let work_unit = (category == MemberCategory::InService).then(|| {
            let in_service_so_far = county
                .members
                .iter()
                .filter(|member| member.category == MemberCategory::InService)
                .count();
            if in_service_so_far < county.work_units.len() {
                in_service_so_far
            } else {
                self.work_unit_of_many(county.work_units.len())
            }
        });
        let name = self.person_name();
        self.push(
            enrolled,
            MemberEnrolled {
                member_id: id,
                name,
                category,
                home_area_id: county.compounds[home].id,
                work_unit_id: work_unit.map(|unit| county.work_units[unit].id),
            },
        );
        let index = county.members.len();
        county.compounds[home].residents.push(index);
        let report = reports.then(|| (home, self.after(enrolled, 2, 45)));
        county.members.push(Member {
            id,
            category,
            home,
            work_unit,
            enrolled,
            report,
            pinned,
            officer: false,
        });
    }

    /// A work unit for an in-service member: the lower-numbered units (county offices,
    /// schools, the hospital) employ more members.
    fn work_unit_of_many(&mut self, units: usize) -> usize {
        let first = self.choices.random_range(0..units);
        let second = self.choices.random_range(0..units);
        first.min(second)
    }

    fn officers(&mut self, county: &mut County) {
        for community in 0..county.communities.len() {
            let homes: Vec<usize> = (0..county.compounds.len())
                .filter(|&compound| county.compounds[compound].community == community)
                .collect();
            let committee = county.communities[community].committee;
            let candidates = self.officer_candidates(county, &homes, 4);
            for (number, &member) in candidates.iter().enumerate() {
                let role = if number == 0 {
                    OfficerRole::Secretary
                } else {
                    OfficerRole::CommitteeMember
                };
                self.appoint(county, committee, member, role, day(1, 6));
            }
        }
        let guangling = county.plan.name == GUANGLING;
        for branch in 0..county.branches.len() {
            let homes = county.branches[branch].compounds.clone();
            let (org, founded) = (county.branches[branch].id, county.branches[branch].founded);
            let mut candidates = self.officer_candidates(county, &homes, 2);
            if candidates.is_empty() {
                let community = county.branches[branch].community;
                let neighbours: Vec<usize> = (0..county.compounds.len())
                    .filter(|&compound| county.compounds[compound].community == community)
                    .collect();
                candidates = self.officer_candidates(county, &neighbours, 1);
            }
            let Some(&secretary) = candidates.first() else {
                continue;
            };
            self.appoint(county, org, secretary, OfficerRole::Secretary, founded);
            county.branches[branch].secretary = Some(secretary);
            let is_compound_branch = homes.len() == 1 && county.compounds[homes[0]].large;
            if guangling && is_compound_branch {
                // 小区党支部书记全部由社区党总支委员兼任; 副书记全部由业主担任.
                let committee = county.communities[county.branches[branch].community].committee;
                self.appoint(
                    county,
                    committee,
                    secretary,
                    OfficerRole::CommitteeMember,
                    founded,
                );
            }
            if let Some(&deputy) = candidates.get(1) {
                if guangling || self.chance(30) {
                    self.appoint(county, org, deputy, OfficerRole::DeputySecretary, founded);
                }
            }
        }
        let mut branches: Vec<usize> = (0..county.branches.len()).collect();
        branches.shuffle(&mut self.choices);
        for &branch in branches.iter().take(county.plan.secretaries_replaced) {
            self.replace_secretary(county, branch);
        }
    }

    /// Up to `count` distinct members living in `homes` who hold no office yet, those enrolled
    /// before March first.
    fn officer_candidates(&mut self, county: &County, homes: &[usize], count: usize) -> Vec<usize> {
        let mut candidates: Vec<usize> = homes
            .iter()
            .flat_map(|&home| county.compounds[home].residents.iter().copied())
            .filter(|&member| !county.members[member].officer)
            .collect();
        candidates.shuffle(&mut self.choices);
        candidates.sort_by_key(|&member| county.members[member].enrolled >= day(3, 1));
        candidates.truncate(count);
        candidates
    }

    fn appoint(&mut self, county: &mut County, org_id: Uuid, member: usize, role: OfficerRole, from: Day) {
        let appointed = self.after(from.max(county.members[member].enrolled), 1, 10);
        county.members[member].officer = true;
        self.push(
            appointed,
            OfficerAppointed {
                org_id,
                member_id: county.members[member].id,
                role,
            },
        );
    }

    /// 将不能发挥实质性作用的党组织书记及时作出调整: a secretary relieved and another appointed.
    fn replace_secretary(&mut self, county: &mut County, branch: usize) {
        let Some(old) = county.branches[branch].secretary else {
            return;
        };
        let homes = county.branches[branch].compounds.clone();
        let Some(&new) = self.officer_candidates(county, &homes, 1).first() else {
            return;
        };
        let org_id = county.branches[branch].id;
        let earliest = county.members[new].enrolled.max(day(6, 1));
        let changed = self.after(earliest, 0, 120);
        self.push(
            changed,
            OfficerRelieved {
                org_id,
                member_id: county.members[old].id,
            },
        );
        county.members[new].officer = true;
        self.push(
            changed,
            OfficerAppointed {
                org_id,
                member_id: county.members[new].id,
                role: OfficerRole::Secretary,
            },
        );
        county.branches[branch].secretary = Some(new);
    }

    // Five haves.

    fn five_haves(&mut self, county: &mut County) {
        let plan = county.plan;
        let mut order: Vec<usize> = (0..county.compounds.len()).collect();
        order.shuffle(&mut self.choices);
        let venues = &plan.venues;
        let mut sources = Vec::with_capacity(county.compounds.len());
        for (source, count) in [
            (VenueSource::Transferred, venues.transferred),
            (VenueSource::Built, venues.built),
            (VenueSource::Shared, venues.shared),
        ] {
            sources.resize(sources.len() + count, source);
        }
        assert!(
            sources.len() <= county.compounds.len(),
            "more venues than compounds"
        );
        let mut community_centres = vec![false; county.communities.len()];
        for (&compound, source) in order.iter().zip(sources) {
            let community = county.compounds[compound].community;
            if source == VenueSource::Shared && !community_centres[community] {
                community_centres[community] = true;
                let venue_id = self.id();
                let area_m2 = self.choices.random_range(300..=900);
                self.push(
                    day(1, 8),
                    VenueEstablished {
                        venue_id,
                        area_id: county.communities[community].id,
                        name: format!("{}党群服务中心", county.communities[community].name),
                        area_m2,
                        source: VenueSource::Built,
                    },
                );
            }
            let name = match source {
                VenueSource::Shared => format!("{}党群服务中心（共用）", county.communities[community].name),
                _ if plan.name == ZUOYUN || plan.name == LINGQIU => {
                    format!("{}党群服务站", county.compounds[compound].name)
                }
                _ => format!("{}党建活动室", county.compounds[compound].name),
            };
            let established = self.between(day(1, 10), day(6, 30));
            let venue_id = self.id();
            let area_m2 = self.choices.random_range(30..=240);
            self.push(
                established,
                VenueEstablished {
                    venue_id,
                    area_id: county.compounds[compound].id,
                    name,
                    area_m2,
                    source,
                },
            );
        }
        for compound in 0..county.compounds.len() {
            if self.chance(plan.mechanism_percent) {
                self.mechanisms(county, compound);
            }
            if self.chance(plan.emergency_plan_percent) {
                self.emergency_plan(county, compound);
            }
        }
    }

    fn mechanisms(&mut self, county: &County, compound: usize) {
        let (first, second) = if county.plan.name == LINGQIU {
            // 业主恳谈会、物业经理接待日、小区共建议事会.
            (Mechanism::ResidentsMeeting, Some(Mechanism::ReceptionDay))
        } else {
            let first = *self.pick(&[
                Mechanism::DeliberationHall,
                Mechanism::ResidentsMeeting,
                Mechanism::Hotline,
            ]);
            (first, self.chance(30).then_some(Mechanism::ReceptionDay))
        };
        for mechanism in std::iter::once(first).chain(second) {
            let note = match mechanism {
                Mechanism::DeliberationHall => Some("小区群众议事厅"),
                Mechanism::ResidentsMeeting => Some("业主恳谈会，每月一次"),
                Mechanism::ReceptionDay => Some("物业经理接待日"),
                Mechanism::Hotline => Some("公示网格员、居委会、物业便民服务热线"),
                Mechanism::Other => None,
            };
            let established = self.between(day(1, 15), day(8, 31));
            self.push(
                established,
                ServiceMechanismEstablished {
                    area_id: county.compounds[compound].id,
                    mechanism,
                    note: note.map(str::to_owned),
                },
            );
        }
    }

    fn emergency_plan(&mut self, county: &County, compound: usize) {
        let hazards = if county.plan.name == LINGQIU {
            vec![Hazard::Fire, Hazard::Flood, Hazard::Earthquake]
        } else if self.chance(50) {
            vec![Hazard::Fire]
        } else {
            vec![Hazard::Fire, Hazard::Flood]
        };
        let plan_id = self.id();
        let filed = self.between(day(2, 1), day(6, 30));
        self.push(
            filed,
            EmergencyPlanFiled {
                plan_id,
                area_id: county.compounds[compound].id,
                hazards,
            },
        );
        let drills = if county.plan.name == LINGQIU {
            2
        } else {
            u32::from(self.chance(40))
        };
        let mut last = filed;
        for _ in 0..drills {
            last = self.after(last, 20, 120);
            let participants = self.choices.random_range(15..=120);
            self.push(
                last,
                EmergencyDrillHeld {
                    plan_id,
                    participants,
                },
            );
        }
    }

    // Dual registration and dual service.

    fn reports(&mut self, county: &mut County) {
        let plan = county.plan;
        let mut candidates: Vec<usize> = (0..county.members.len())
            .filter(|&member| {
                let member = &county.members[member];
                matches!(
                    member.category,
                    MemberCategory::Resident | MemberCategory::Retired
                ) && !county.compounds[member.home].fixed_members
            })
            .collect();
        candidates.shuffle(&mut self.choices);
        for &volunteer in candidates.iter().take(plan.volunteers) {
            let member = &mut county.members[volunteer];
            let reported = (member.enrolled + 5).min(LAST_ACTIVITY_DAY);
            member.report = Some((member.home, reported));
            member.pinned |= plan.reports_are_figures;
        }
        for member in &county.members {
            let Some((compound, reported)) = member.report else {
                continue;
            };
            let post = if member.category == MemberCategory::InService {
                *self.pick(&[
                    ServicePost::PolicyOutreach,
                    ServicePost::PolicyOutreach,
                    ServicePost::DisputeMediation,
                    ServicePost::Civility,
                    ServicePost::Civility,
                    ServicePost::Volunteer,
                    ServicePost::Other,
                ])
            } else {
                ServicePost::Volunteer
            };
            self.push(
                reported,
                MemberReported {
                    member_id: member.id,
                    compound_id: county.compounds[compound].id,
                    post,
                },
            );
        }
    }

    fn services(&mut self, county: &mut County) {
        let counted = county.plan.counted_activities.is_some();
        let everyday_kinds: &[ServiceKind] = if counted {
            &[
                ServiceKind::Volunteering,
                ServiceKind::Repair,
                ServiceKind::Visit,
                ServiceKind::Other,
            ]
        } else {
            &[
                ServiceKind::PolicyTalk,
                ServiceKind::Volunteering,
                ServiceKind::Volunteering,
                ServiceKind::Repair,
                ServiceKind::Visit,
                ServiceKind::LegalClass,
                ServiceKind::Other,
            ]
        };
        for member in 0..county.members.len() {
            let Some((compound, reported)) = county.members[member].report else {
                continue;
            };
            let services = *self.pick(&[0, 0, 1, 1, 1, 2]);
            for _ in 0..services {
                let by = ServiceProvider::MemberId(county.members[member].id);
                let kind = *self.pick(everyday_kinds);
                let on = self.after(reported, 1, 300);
                self.service(on, by, county.compounds[compound].id, kind);
            }
        }
        for unit in 0..county.work_units.len() {
            let Some(reported) = county.work_units[unit].reported else {
                continue;
            };
            for _ in 0..self.choices.random_range(2..=5) {
                let area_id = self.place_in_community(county, county.work_units[unit].community);
                let kind = *self.pick(everyday_kinds);
                let on = self.after(reported, 3, 300);
                self.service(
                    on,
                    ServiceProvider::WorkUnitId(county.work_units[unit].id),
                    area_id,
                    kind,
                );
            }
        }
        if let Some((outreach, other_activities)) = county.plan.counted_activities {
            let outreach_kinds = [
                ServiceKind::PolicyTalk,
                ServiceKind::LegalClass,
                ServiceKind::Performance,
            ];
            let other_kinds = [ServiceKind::Visit, ServiceKind::Volunteering, ServiceKind::Other];
            for number in 0..outreach + other_activities {
                let kinds: &[ServiceKind] = if number < outreach {
                    &outreach_kinds
                } else {
                    &other_kinds
                };
                let kind = *self.pick(kinds);
                self.activity(county, kind);
            }
        }
    }

    /// One counted activity, by a reported work unit or a reported member.
    fn activity(&mut self, county: &County, kind: ServiceKind) {
        let reported_units: Vec<usize> = (0..county.work_units.len())
            .filter(|&unit| county.work_units[unit].reported.is_some())
            .collect();
        if self.chance(60) {
            let unit = *self.pick(&reported_units);
            let area_id = self.place_in_community(county, county.work_units[unit].community);
            let reported = county.work_units[unit].reported.expect("a reported unit");
            let on = self.after(reported, 3, 300);
            self.service(
                on,
                ServiceProvider::WorkUnitId(county.work_units[unit].id),
                area_id,
                kind,
            );
        } else {
            loop {
                let member = &county.members[self.choices.random_range(0..county.members.len())];
                if let Some((compound, reported)) = member.report {
                    let on = self.after(reported, 1, 300);
                    let by = ServiceProvider::MemberId(member.id);
                    self.service(on, by, county.compounds[compound].id, kind);
                    return;
                }
            }
        }
    }

    /// The community itself or one of its compounds.
    fn place_in_community(&mut self, county: &County, community: usize) -> Uuid {
        let compounds: Vec<usize> = (0..county.compounds.len())
            .filter(|&compound| county.compounds[compound].community == community)
            .collect();
        if self.chance(40) {
            county.communities[community].id
        } else {
            county.compounds[*self.pick(&compounds)].id
        }
    }

    fn service(&mut self, on: Day, by: ServiceProvider, area_id: Uuid, kind: ServiceKind) {
        let minutes = 30 * self.choices.random_range(1..=8);
        let beneficiaries = self.chance(70).then(|| self.choices.random_range(1..=80));
        let service_id = self.id();
        self.push(
            on,
            ServiceRendered {
                service_id,
                by,
                area_id,
                kind,
                minutes,
                beneficiaries,
            },
        );
    }

    // Dual pairing.

    fn pairings(&mut self, county: &mut County) {
        self.unit_compound_pairings(county);
        self.cadre_pairings(county);
        self.building_unit_pairings(county);
        self.household_pairings(county);
        for pairing in 0..county.pairings.len() {
            let ends = county.pairings[pairing]
                .from_member
                .is_some_and(|member| !county.members[member].pinned);
            if ends && self.chance(3) {
                let ended = self.after(county.pairings[pairing].established, 30, 150);
                let reason = *self.pick(PAIRING_END_REASONS);
                self.end_pairing(county, pairing, ended, reason);
            }
        }
    }

    fn establish(
        &mut self,
        county: &mut County,
        on: Day,
        kind: PairingKind,
        from: PairingFrom,
        to: PairingTarget,
    ) {
        let pairing_id = self.id();
        let (from_id, from_member) = match from {
            PairingFrom::Member(member) => (county.members[member].id, Some(member)),
            PairingFrom::WorkUnit(unit) => (county.work_units[unit].id, None),
        };
        self.push(
            on,
            PairingEstablished {
                pairing_id,
                kind,
                from_id,
                to,
            },
        );
        county.pairings.push(Pairing {
            id: pairing_id,
            from_member,
            established: on,
            ended: false,
        });
    }

    fn end_pairing(&mut self, county: &mut County, pairing: usize, on: Day, reason: &str) {
        county.pairings[pairing].ended = true;
        self.push(
            on,
            PairingEnded {
                pairing_id: county.pairings[pairing].id,
                reason: reason.to_owned(),
            },
        );
    }

    fn unit_compound_pairings(&mut self, county: &mut County) {
        let mut compounds: Vec<usize> = (0..county.compounds.len()).collect();
        compounds.shuffle(&mut self.choices);
        let mut units: Vec<usize> = (0..county.work_units.len()).collect();
        units.shuffle(&mut self.choices);
        for (number, &compound) in compounds
            .iter()
            .take(county.plan.unit_paired_compounds)
            .enumerate()
        {
            let unit = units[number % units.len()];
            county.compounds[compound].paired_unit = Some(unit);
            let on = self.between(day(2, 1), day(4, 30));
            let to = PairingTarget::Area {
                area_id: county.compounds[compound].id,
                unit_no: None,
            };
            self.establish(
                county,
                on,
                PairingKind::UnitCompound,
                PairingFrom::WorkUnit(unit),
                to,
            );
        }
    }

    /// Cadres of the organisation department mentor branch secretaries (三方包联帮带).
    fn cadre_pairings(&mut self, county: &mut County) {
        let cadres: Vec<usize> = (0..county.members.len())
            .filter(|&member| county.members[member].work_unit == Some(ORGANISATION_DEPARTMENT))
            .collect();
        assert!(!cadres.is_empty(), "the organisation department employs members");
        let mut branches: Vec<usize> = (0..county.branches.len()).collect();
        if county.plan.name != GUANGLING {
            branches.shuffle(&mut self.choices);
        }
        let mut paired = 0;
        for branch in branches {
            if paired == county.plan.cadre_pairings {
                break;
            }
            let Some(secretary) = county.branches[branch].secretary else {
                continue;
            };
            let Some(cadre) = (0..cadres.len())
                .map(|offset| cadres[(paired + offset) % cadres.len()])
                .find(|&cadre| cadre != secretary)
            else {
                continue;
            };
            let enrolled = county.members[cadre]
                .enrolled
                .max(county.members[secretary].enrolled);
            let on = self.after(enrolled.max(day(3, 1)), 0, 30);
            let to = PairingTarget::Member {
                member_id: county.members[secretary].id,
            };
            self.establish(
                county,
                on,
                PairingKind::CadreSecretary,
                PairingFrom::Member(cadre),
                to,
            );
            paired += 1;
        }
    }

    fn building_unit_pairings(&mut self, county: &mut County) {
        for compound in 0..county.compounds.len() {
            let community = county.compounds[compound].community;
            let mut pool: Vec<usize> = county.compounds[compound].residents.clone();
            if pool.len() < 2 {
                pool.extend(
                    (0..county.members.len()).filter(|&member| {
                        county.compounds[county.members[member].home].community == community
                    }),
                );
                pool.sort_unstable();
                pool.dedup();
            }
            pool.shuffle(&mut self.choices);
            let mut next = 0;
            for building in 0..county.compounds[compound].buildings.len() {
                let (building_id, units) = {
                    let building = &county.compounds[compound].buildings[building];
                    (building.id, building.units)
                };
                for unit_no in 1..=units {
                    let pair = match county.plan.unit_pairing_percent {
                        None => 2,
                        Some(percent) if self.chance(percent) => self.choices.random_range(1..=2),
                        Some(_) => 0,
                    };
                    for _ in 0..pair {
                        let member = pool[next % pool.len()];
                        next += 1;
                        if county.plan.unit_pairing_percent.is_none() {
                            county.members[member].pinned = true;
                        }
                        let on = self.after(county.members[member].enrolled.max(day(3, 1)), 0, 30);
                        let to = PairingTarget::Area {
                            area_id: building_id,
                            unit_no: Some(unit_no),
                        };
                        let from = PairingFrom::Member(member);
                        self.establish(county, on, PairingKind::MemberBuildingUnit, from, to);
                    }
                }
            }
        }
    }

    /// Reported in-service members pair with households in need (包联小区特殊群体).
    fn household_pairings(&mut self, county: &mut County) {
        let reported: Vec<usize> = (0..county.members.len())
            .filter(|&member| {
                county.members[member].category == MemberCategory::InService
                    && county.members[member].report.is_some()
            })
            .collect();
        for number in 0..county.plan.household_pairings {
            let member = *self.pick(&reported);
            let (_, reported_on) = county.members[member].report.expect("a reported member");
            let on = self.after(reported_on, 3, 60);
            let household_ref = format!("{}-{:04}", self.pick(HOUSEHOLD_KINDS), number + 1);
            let to = PairingTarget::Household { household_ref };
            self.establish(
                county,
                on,
                PairingKind::MemberHousehold,
                PairingFrom::Member(member),
                to,
            );
        }
    }

    // Dual evaluation.

    fn evaluations(&mut self, county: &mut County) {
        let half_year = (day(7, 1), day(7, 25));
        let third_quarter = (day(10, 8), day(10, 28));
        for member in 0..county.members.len() {
            let Some((compound, reported)) = county.members[member].report else {
                continue;
            };
            if county.members[member].category != MemberCategory::InService || !self.chance(30) {
                continue;
            }
            let subject = PartyRef::MemberId(county.members[member].id);
            let branch = county.branches[county.compounds[compound].branch].id;
            let compound_id = county.compounds[compound].id;
            let (period, window) = match reported {
                reported if reported < day(6, 1) => ("2026-H1", half_year),
                reported if reported < day(9, 30) => ("2026-Q3", third_quarter),
                _ => continue,
            };
            self.evaluate(county, subject, Evaluator::Organization, branch, period, window);
            if self.chance(60) {
                self.evaluate(county, subject, Evaluator::Residents, compound_id, period, window);
            }
        }
        for unit in 0..county.work_units.len() {
            if county.work_units[unit].reported.is_none() {
                continue;
            }
            let subject = PartyRef::WorkUnitId(county.work_units[unit].id);
            let community = &county.communities[county.work_units[unit].community];
            let (committee, community_id) = (community.committee, community.id);
            let first_quarter = (day(4, 2), day(4, 25));
            self.evaluate(
                county,
                subject,
                Evaluator::Organization,
                committee,
                "2026-Q1",
                first_quarter,
            );
            self.evaluate(
                county,
                subject,
                Evaluator::Residents,
                community_id,
                "2026-H1",
                half_year,
            );
            self.evaluate(
                county,
                subject,
                Evaluator::Organization,
                committee,
                "2026-Q3",
                third_quarter,
            );
        }
        for branch in 0..county.branches.len() {
            let subject = PartyRef::OrgId(county.branches[branch].id);
            let committee = county.communities[county.branches[branch].community].committee;
            let compound_id = county.compounds[county.branches[branch].compounds[0]].id;
            self.evaluate(
                county,
                subject,
                Evaluator::Organization,
                committee,
                "2026-H1",
                half_year,
            );
            self.evaluate(
                county,
                subject,
                Evaluator::Residents,
                compound_id,
                "2026-H1",
                half_year,
            );
        }
        self.corrections(county);
    }

    fn evaluate(
        &mut self,
        county: &mut County,
        subject: PartyRef,
        evaluator: Evaluator,
        evaluator_ref: Uuid,
        period: &str,
        (from, to): (Day, Day),
    ) {
        let evaluation_id = self.id();
        let on = self.between(from, to);
        let score = self.score();
        let comment = self
            .chance(40)
            .then(|| (*self.pick(EVALUATION_COMMENTS)).to_owned());
        self.push(
            on,
            EvaluationRecorded {
                evaluation_id,
                subject,
                evaluator,
                evaluator_ref,
                period: period.to_owned(),
                score,
                comment,
            },
        );
        county.evaluations.push((evaluation_id, on));
    }

    /// Some evaluations are amended (a few twice), some retracted.
    fn corrections(&mut self, county: &County) {
        for &(evaluation_id, recorded) in &county.evaluations {
            let roll = self.choices.random_range(0..1000);
            if roll < 15 {
                let reason = *self.pick(&["重复录入", "评价对象有误"]);
                let on = self.after(recorded, 2, 20);
                self.push(
                    on,
                    EvaluationRetracted {
                        evaluation_id,
                        reason: reason.to_owned(),
                    },
                );
            } else if roll < 55 {
                let amendments = if roll < 20 { 2 } else { 1 };
                let mut on = recorded;
                for _ in 0..amendments {
                    on = self.after(on, 2, 20);
                    let score = self.score();
                    self.push(
                        on,
                        EvaluationAmended {
                            evaluation_id,
                            score,
                            reason: "复核后更正分数".to_owned(),
                        },
                    );
                }
            }
        }
    }

    // Complaints: 居民点单、社区派单、党员接单.

    fn complaints(&mut self, county: &mut County) {
        let fates = WeightedIndex::new(FATES.iter().map(|(_, weight)| *weight)).expect("positive weights");
        for _ in 0..county.plan.complaints {
            let fate = FATES[fates.sample(&mut self.choices)].0;
            self.complaint(county, fate);
        }
        county.complaints = county.plan.complaints;
    }

    fn complaint(&mut self, county: &County, fate: Fate) {
        let compound = self.choices.random_range(0..county.compounds.len());
        let area_id = if self.chance(90) {
            county.compounds[compound].id
        } else {
            county.communities[county.compounds[compound].community].id
        };
        let (category, summaries, resolutions) = *self.pick(COMPLAINTS);
        let complaint_id = self.id();
        let filed = match fate {
            Fate::Filed => self.between(LAST_ACTIVITY_DAY - 6, LAST_ACTIVITY_DAY),
            Fate::Dispatched | Fate::Accepted | Fate::ReopenedOpen => self.between(day(8, 1), day(11, 6)),
            _ => self.between(day(2, 1), day(10, 31)),
        };
        let channel = *self.pick(&[
            Channel::App,
            Channel::App,
            Channel::Hotline,
            Channel::Visit,
            Channel::Meeting,
        ]);
        let summary = (*self.pick(summaries)).to_owned();
        let resident_ref = format!("居民{:05}", self.choices.random_range(1..100_000));
        self.push(
            filed,
            ComplaintFiled {
                complaint_id,
                area_id,
                category,
                summary,
                channel,
                resident_ref,
            },
        );
        if fate == Fate::Filed {
            return;
        }
        let mut on = self.dispatch(county, compound, complaint_id, filed);
        if fate == Fate::Dispatched {
            return;
        }
        on = self.accept(complaint_id, on);
        if fate == Fate::Accepted {
            return;
        }
        on = self.resolve(complaint_id, on, resolutions);
        if fate == Fate::Resolved {
            return;
        }
        if fate != Fate::ReopenedOpen {
            on = self.rate(complaint_id, on);
        }
        if fate == Fate::Rated {
            return;
        }
        on = self.after(on, 1, 10);
        let reason = (*self.pick(REOPEN_REASONS)).to_owned();
        self.push(on, ComplaintReopened { complaint_id, reason });
        if fate == Fate::ReopenedOpen {
            if self.chance(50) {
                self.dispatch(county, compound, complaint_id, on);
            }
            return;
        }
        on = self.accept(complaint_id, on);
        on = self.resolve(complaint_id, on, resolutions);
        self.rate(complaint_id, on);
    }

    /// Dispatches to a member reported to the compound, its branch or its paired work unit;
    /// most with a due date.
    fn dispatch(&mut self, county: &County, compound: usize, complaint_id: Uuid, from: Day) -> Day {
        let on = self.after(from, 0, 2);
        let reported_here: Vec<&Member> = county.compounds[compound]
            .residents
            .iter()
            .map(|&member| &county.members[member])
            .filter(|member| member.report.is_some_and(|(_, reported)| reported <= on))
            .collect();
        let roll = self.choices.random_range(0..100);
        let assignee = match (roll, county.compounds[compound].paired_unit) {
            (0..=44, _) if !reported_here.is_empty() => PartyRef::MemberId(self.pick(&reported_here).id),
            (45..=64, Some(unit)) => PartyRef::WorkUnitId(county.work_units[unit].id),
            _ => PartyRef::OrgId(county.branches[county.compounds[compound].branch].id),
        };
        let due_on = self.chance(80).then(|| {
            let due = on + self.between(7, 20);
            business_date(due.min(MONTH_STARTS[12] - 1)).to_iso()
        });
        self.push(
            on,
            ComplaintDispatched {
                complaint_id,
                assignee,
                due_on,
            },
        );
        on
    }

    fn accept(&mut self, complaint_id: Uuid, from: Day) -> Day {
        let on = self.after(from, 0, 3);
        self.push(on, ComplaintAccepted { complaint_id });
        on
    }

    fn resolve(&mut self, complaint_id: Uuid, from: Day, resolutions: &[&str]) -> Day {
        let on = self.after(from, 1, 14);
        let resolution = (*self.pick(resolutions)).to_owned();
        self.push(
            on,
            ComplaintResolved {
                complaint_id,
                resolution,
            },
        );
        on
    }

    fn rate(&mut self, complaint_id: Uuid, from: Day) -> Day {
        let on = self.after(from, 0, 5);
        let satisfaction = *self.pick(&[3, 4, 4, 5, 5, 5, 5, 2]);
        self.push(
            on,
            ComplaintRated {
                complaint_id,
                satisfaction,
            },
        );
        on
    }

    // Changes during the year, and the closing days.

    /// Residents retire, members move within the county, in-service members change employer.
    fn member_updates(&mut self, county: &mut County) {
        let movable = |county: &County, member: usize| {
            let member = &county.members[member];
            !member.pinned && !member.officer && !county.compounds[member.home].fixed_members
        };
        for member in 0..county.members.len() {
            if !movable(county, member) {
                continue;
            }
            let on = self.after(county.members[member].enrolled.max(day(4, 1)), 0, 180);
            let member_id = county.members[member].id;
            let category = county.members[member].category;
            let roll = self.choices.random_range(0..1000);
            if category == MemberCategory::Resident && roll < 20 {
                county.members[member].category = MemberCategory::Retired;
                self.push(
                    on,
                    member_update(member_id, Some(MemberCategory::Retired), None, None),
                );
            } else if roll >= 980 && county.plan.name != LINGQIU && county.members[member].report.is_none() {
                self.move_home(county, member, on);
            } else if category == MemberCategory::InService && (20..30).contains(&roll) {
                let unit = self.choices.random_range(0..county.work_units.len());
                if county.members[member].work_unit != Some(unit) {
                    county.members[member].work_unit = Some(unit);
                    let unit_id = county.work_units[unit].id;
                    self.push(on, member_update(member_id, None, None, Some(unit_id)));
                }
            }
        }
    }

    fn move_home(&mut self, county: &mut County, member: usize, on: Day) {
        let from = county.members[member].home;
        let to = self.choices.random_range(0..county.compounds.len());
        if to == from || county.compounds[to].fixed_members || county.compounds[from].residents.len() < 4 {
            return;
        }
        county.compounds[from]
            .residents
            .retain(|&resident| resident != member);
        county.compounds[to].residents.push(member);
        county.members[member].home = to;
        let member_id = county.members[member].id;
        self.push(
            on,
            member_update(member_id, None, Some(county.compounds[to].id), None),
        );
    }

    /// The last days: a few members leave (their reports withdrawn and pairings ended
    /// first), some reports are withdrawn, a demolished building is retired, grid coverage is
    /// rearranged.
    fn closing(&mut self, county: &mut County) {
        let candidates: Vec<usize> = (0..county.members.len())
            .filter(|&member| {
                let member = &county.members[member];
                !member.pinned && !member.officer && !county.compounds[member.home].fixed_members
            })
            .collect();
        for member in candidates {
            let roll = self.choices.random_range(0..1000);
            if roll < 10 && county.compounds[county.members[member].home].residents.len() > 2 {
                self.remove_member(county, member);
            } else if roll < 30 && county.members[member].category == MemberCategory::InService {
                if let Some((compound, _)) = county.members[member].report.take() {
                    let on = self.between(CLOSING_FIRST_DAY, LAST_DAY);
                    self.push(
                        on,
                        withdrawal(county.members[member].id, county.compounds[compound].id),
                    );
                }
            }
        }
        if county.plan.name == HUNYUAN {
            self.retire_building(county);
        }
        if county.plan.name == GUANGLING {
            self.rearrange_grids(county);
        }
        if county.plan.name == ZUOYUN {
            self.merge_building_group(county);
        }
    }

    fn remove_member(&mut self, county: &mut County, member: usize) {
        let on = self.between(CLOSING_FIRST_DAY, LAST_DAY - 1);
        let member_id = county.members[member].id;
        if let Some((compound, _)) = county.members[member].report.take() {
            self.push(on, withdrawal(member_id, county.compounds[compound].id));
        }
        for pairing in 0..county.pairings.len() {
            if county.pairings[pairing].from_member == Some(member) && !county.pairings[pairing].ended {
                self.end_pairing(county, pairing, on, "包联党员组织关系转出");
            }
        }
        let home = county.members[member].home;
        county.compounds[home]
            .residents
            .retain(|&resident| resident != member);
        let reason = (*self.pick(REMOVAL_REASONS)).to_owned();
        self.push(on + 1, MemberRemoved { member_id, reason });
    }

    /// 棚户区改造: one building of an old compound is demolished.
    fn retire_building(&mut self, county: &County) {
        let compound = county
            .compounds
            .iter()
            .find(|compound| compound.kind == CompoundKind::Old && compound.buildings.len() >= 2)
            .expect("浑源县 has an old compound with two buildings");
        let area_id = compound.buildings.last().expect("two buildings").id;
        self.push(
            LAST_DAY,
            AreaRetired {
                area_id,
                reason: "棚户区改造拆除".to_owned(),
            },
        );
    }

    /// One compound moves from one grid branch of its community to another; coverage stays
    /// whole.
    fn rearrange_grids(&mut self, county: &mut County) {
        let grids: Vec<usize> = (0..county.branches.len())
            .filter(|&branch| county.branches[branch].compounds.len() >= 2)
            .filter(|&branch| !county.compounds[county.branches[branch].compounds[0]].large)
            .collect();
        for &from in &grids {
            let community = county.branches[from].community;
            let Some(&to) = grids
                .iter()
                .find(|&&to| to != from && county.branches[to].community == community)
            else {
                continue;
            };
            let moved = county.branches[from].compounds.pop().expect("two compounds");
            county.branches[to].compounds.push(moved);
            county.compounds[moved].branch = to;
            let on = self.between(day(9, 1), day(9, 30));
            let new_coverage = |branch: &Branch| PartyOrgCoverageChanged {
                org_id: branch.id,
                area_ids: branch
                    .compounds
                    .iter()
                    .map(|&compound| county.compounds[compound].id)
                    .collect(),
            };
            // Widen the receiving grid first, so the compound is never uncovered.
            let (widened, narrowed) = (
                new_coverage(&county.branches[to]),
                new_coverage(&county.branches[from]),
            );
            self.push(on, widened);
            self.push(on, narrowed);
            return;
        }
    }

    /// Two building groups of a compound merge: the second is dissolved.
    fn merge_building_group(&mut self, county: &County) {
        let buildings: Vec<Uuid> = county
            .compounds
            .iter()
            .find(|compound| compound.buildings.len() >= 2)
            .map(|compound| compound.buildings.iter().map(|building| building.id).collect())
            .expect("左云县 has a compound with two buildings");
        let group = self.timeline.iter().find_map(|(_, event)| match event {
            Event::PartyOrgFounded(founded)
                if founded.kind == OrgKind::BuildingGroup
                    && founded.area_ids.as_deref() == Some(&buildings[1..2]) =>
            {
                Some(founded.org_id)
            }
            _ => None,
        });
        let org_id = group.expect("every building of 左云县 has a group");
        self.push(
            LAST_DAY,
            PartyOrgDissolved {
                org_id,
                reason: "楼栋党小组合并".to_owned(),
            },
        );
    }
}

impl County {
    fn summary(&self) -> DemoCounty {
        DemoCounty {
            name: self.plan.name,
            id: self.id,
            communities: self.communities.len() as u64,
            compounds: self.compounds.len() as u64,
            buildings: self
                .compounds
                .iter()
                .map(|compound| compound.buildings.len() as u64)
                .sum(),
            households: self
                .compounds
                .iter()
                .map(|compound| u64::from(compound.households))
                .sum(),
            work_units: self.work_units.len() as u64,
            members: self.members.len() as u64,
            complaints: self.complaints as u64,
        }
    }
}

fn area(id: Uuid, kind: AreaKind, name: &str, parent_id: Option<Uuid>) -> AreaRegistered {
    AreaRegistered {
        area_id: id,
        kind,
        name: name.to_owned(),
        parent_id,
        households: None,
        compound_kind: None,
        has_property_management: None,
        units: None,
    }
}

fn member_update(
    member_id: Uuid,
    category: Option<MemberCategory>,
    home_area_id: Option<Uuid>,
    work_unit_id: Option<Uuid>,
) -> MemberUpdated {
    MemberUpdated {
        member_id,
        category,
        home_area_id,
        work_unit_id,
    }
}

fn withdrawal(member_id: Uuid, compound_id: Uuid) -> ReportWithdrawn {
    ReportWithdrawn {
        member_id: Some(member_id),
        work_unit_id: None,
        area_id: compound_id,
    }
}

/// Scales `values` so they add up to `total` exactly (largest remainders), keeping each ≥ 1.
fn scale_to_total(values: &mut [u32], total: u32) {
    let sum: u64 = values.iter().map(|&value| u64::from(value)).sum();
    let mut scaled: Vec<(u64, u64, usize)> = values
        .iter()
        .enumerate()
        .map(|(index, &value)| {
            let exact = u64::from(value) * u64::from(total);
            (exact / sum, exact % sum, index)
        })
        .collect();
    let assigned: u64 = scaled.iter().map(|(floor, _, _)| floor).sum();
    let mut missing = u64::from(total) - assigned;
    scaled.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    for (floor, _, _) in &mut scaled {
        if missing == 0 {
            break;
        }
        *floor += 1;
        missing -= 1;
    }
    for (floor, _, index) in scaled {
        values[index] = floor.max(1) as u32;
    }
}

/// Splits each community's small compounds among grid branches: `grids` in all, at least one
/// in every community that has small compounds, none with more branches than compounds, the
/// rest given to where compounds per branch are highest. Returns, per community, the
/// compounds of each of its grid branches.
fn grid_groups(small_by_community: &[Vec<usize>], grids: usize) -> Vec<Vec<Vec<usize>>> {
    let mut per_community: Vec<usize> = small_by_community
        .iter()
        .map(|small| usize::from(!small.is_empty()))
        .collect();
    let small_total: usize = small_by_community.iter().map(Vec::len).sum();
    assert!(
        per_community.iter().sum::<usize>() <= grids,
        "more communities with small compounds than grids"
    );
    assert!(grids <= small_total, "more grid branches than small compounds");
    for _ in per_community.iter().sum::<usize>()..grids {
        let community = (0..small_by_community.len())
            .filter(|&community| per_community[community] < small_by_community[community].len())
            .max_by(|&a, &b| {
                let load = |c: usize| small_by_community[c].len() as f64 / per_community[c] as f64;
                load(a).total_cmp(&load(b)).then(b.cmp(&a))
            })
            .expect("a community with room for another grid");
        per_community[community] += 1;
    }
    small_by_community
        .iter()
        .zip(per_community)
        .map(|(small, count)| {
            (0..count)
                .map(|grid| {
                    let start = grid * small.len() / count;
                    let end = (grid + 1) * small.len() / count;
                    small[start..end].to_vec()
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DEMO_LAST_DATE;

    #[test]
    fn business_dates_follow_the_calendar_of_2026() {
        assert_eq!(business_date(0).to_iso(), "2026-01-01");
        assert_eq!(business_date(day(2, 28)).to_iso(), "2026-02-28");
        assert_eq!(business_date(day(3, 1)).to_iso(), "2026-03-01");
        assert_eq!(business_date(LAST_DAY).to_iso(), DEMO_LAST_DATE);
        assert_eq!(business_date(364).to_iso(), "2026-12-31");
    }

    #[test]
    fn scaling_hits_the_total_exactly() {
        let mut values = vec![300, 17, 45, 900, 120];
        scale_to_total(&mut values, 20_385);
        assert_eq!(values.iter().sum::<u32>(), 20_385);
        assert!(values[3] > values[0] && values[0] > values[4]);
    }

    #[test]
    fn grid_groups_cover_every_small_compound_once_within_its_community() {
        let small = vec![vec![0, 1, 2, 3, 4, 5, 6], vec![], vec![7], vec![8, 9, 10]];
        let groups = grid_groups(&small, 5);
        assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), 5);
        assert!(groups[1].is_empty());
        for (community, grids) in groups.iter().enumerate() {
            let covered: Vec<usize> = grids.iter().flatten().copied().collect();
            assert_eq!(covered, small[community]);
            assert!(grids.iter().all(|grid| !grid.is_empty()));
        }
    }
}
