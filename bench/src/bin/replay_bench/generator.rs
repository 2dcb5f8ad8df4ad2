//! A province's worth of realistic, valid events: per county a hierarchy of towns,
//! communities, compounds and buildings, work units, party organisations, the five haves,
//! members and their registrations, services, pairings, evaluations with amendments and
//! retractions, complaints through every step (some reopened, some overdue), and at the end
//! removals, dissolutions, a retired building and redactions. Valid by construction (the store
//! validates every batch and the benchmark stops on a rejection). Deterministic: a fixed seed.

use govrec_core::event::*;
use govrec_core::Event;
use govrec_store::{BusinessDate, NewEvent};
use uuid::Uuid;

/// About how many events one county takes; the number of counties is `events / this`.
const EVENTS_PER_COUNTY: u64 = 10_000;
const TOWNS: usize = 8;
const COMMUNITIES_PER_TOWN: usize = 5;
const COMPOUNDS_PER_COMMUNITY: usize = 6;
const BUILDINGS_PER_COMPOUND: usize = 3;
const WORK_UNITS: usize = 40;
const MEMBERS: usize = 1500;
const SERVICES: usize = 2000;
const MEMBER_UNIT_PAIRINGS: usize = 700;
const EVALUATIONS: usize = 1000;
const COMPLAINTS: usize = 300;
const BATCH_EVENTS: usize = 1000;
const PERIODS: [&str; 7] = [
    "2026", "2026-H1", "2026-H2", "2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4",
];

/// What the benchmark needs to know about the generated province.
pub struct Province {
    pub counties: Vec<Uuid>,
    pub areas: u64,
}

/// SplitMix64: small, fast, deterministic.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Hands the events on in batches of [`BATCH_EVENTS`] and knows each event's seq.
struct Writer<'a> {
    sink: &'a mut dyn FnMut(Vec<NewEvent>),
    batch: Vec<NewEvent>,
    next_seq: u64,
    ids: u64,
    random: Random,
    areas: u64,
}

impl Writer<'_> {
    fn push(&mut self, event: impl Into<Event>) -> u64 {
        let day = self.random.next();
        self.batch.push(dated(event, day));
        self.next_seq += 1;
        if self.batch.len() == BATCH_EVENTS {
            self.flush();
        }
        self.next_seq - 1
    }

    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.batch);
        (self.sink)(batch);
    }

    fn id(&mut self) -> Uuid {
        self.ids += 1;
        Uuid::from_u64_pair(0x0193_0000_0000_7000 | (self.ids >> 48), self.ids)
    }
}

/// The province's events, handed to `sink` in batches, for a log whose next seq is `next_seq`
/// (the redactions name seqs).
pub fn generate(events: u64, next_seq: u64, sink: &mut dyn FnMut(Vec<NewEvent>)) -> Province {
    let counties = (events / EVENTS_PER_COUNTY).max(1);
    let mut writer = Writer {
        sink,
        batch: Vec::with_capacity(BATCH_EVENTS),
        next_seq,
        ids: 0,
        random: Random(2026),
        areas: 0,
    };
    let mut province = Province {
        counties: Vec::new(),
        areas: 0,
    };
    for number in 0..counties {
        province.counties.push(County::generate(&mut writer, number));
    }
    writer.flush();
    province.areas = writer.areas;
    province
}

/// What one county's generation keeps track of.
#[derive(Default)]
struct County {
    id: Uuid,
    communities: Vec<Uuid>,
    compounds: Vec<Uuid>,
    buildings: Vec<(Uuid, u32)>,
    work_units: Vec<Uuid>,
    branches: Vec<Uuid>,
    committees: Vec<Uuid>,
    /// (member, home compound index, enrolment seq, in service)
    members: Vec<(Uuid, usize, u64, bool)>,
    residents: Vec<Vec<usize>>,
    evaluations: Vec<Uuid>,
}

fn area(id: Uuid, kind: AreaKind, name: String, parent: Option<Uuid>, units: Option<u32>) -> AreaRegistered {
    AreaRegistered {
        area_id: id,
        kind,
        name,
        parent_id: parent,
        households: (kind == AreaKind::Compound).then_some(300),
        compound_kind: (kind == AreaKind::Compound).then_some(CompoundKind::Old),
        has_property_management: (kind == AreaKind::Compound).then_some(false),
        units,
    }
}

impl County {
    fn generate(writer: &mut Writer, number: u64) -> Uuid {
        let mut county = County::default();
        county.areas(writer, number);
        county.organisations(writer);
        county.five_haves(writer);
        county.members(writer);
        county.registrations(writer);
        county.services(writer);
        county.pairings(writer);
        county.evaluations(writer);
        county.complaints(writer);
        county.endings(writer);
        county.id
    }

    fn areas(&mut self, writer: &mut Writer, number: u64) {
        self.id = writer.id();
        writer.push(area(
            self.id,
            AreaKind::County,
            format!("第{number}县"),
            None,
            None,
        ));
        for town_no in 0..TOWNS {
            let town = writer.id();
            writer.push(area(
                town,
                AreaKind::Town,
                format!("{town_no}镇"),
                Some(self.id),
                None,
            ));
            for community_no in 0..COMMUNITIES_PER_TOWN {
                let community = writer.id();
                writer.push(area(
                    community,
                    AreaKind::Community,
                    format!("{community_no}社区"),
                    Some(town),
                    None,
                ));
                self.communities.push(community);
                for compound_no in 0..COMPOUNDS_PER_COMMUNITY {
                    let compound = writer.id();
                    writer.push(area(
                        compound,
                        AreaKind::Compound,
                        format!("{compound_no}小区"),
                        Some(community),
                        None,
                    ));
                    self.compounds.push(compound);
                    for building_no in 0..BUILDINGS_PER_COMPOUND {
                        let building = writer.id();
                        let units = 2 + writer.random.below(5) as u32;
                        writer.push(area(
                            building,
                            AreaKind::Building,
                            format!("{building_no}号楼"),
                            Some(compound),
                            Some(units),
                        ));
                        self.buildings.push((building, units));
                    }
                }
            }
        }
        writer.areas += 1
            + (TOWNS * COMMUNITIES_PER_TOWN * (1 + COMPOUNDS_PER_COMMUNITY * (1 + BUILDINGS_PER_COMPOUND))
                + TOWNS) as u64;
        self.residents = vec![Vec::new(); self.compounds.len()];
        for unit_no in 0..WORK_UNITS {
            let unit = writer.id();
            writer.push(WorkUnitRegistered {
                work_unit_id: unit,
                name: format!("县直单位{unit_no}"),
                county_id: self.id,
            });
            self.work_units.push(unit);
        }
    }

    fn organisations(&mut self, writer: &mut Writer) {
        for &community in &self.communities.clone() {
            let org = writer.id();
            writer.push(org_founded(
                org,
                OrgKind::CommunityCommittee,
                vec![community],
                None,
            ));
            self.committees.push(org);
        }
        let compounds = self.compounds.clone();
        let mut index = 0;
        while index < compounds.len() {
            let org = writer.id();
            if writer.random.chance(15) && index + 1 < compounds.len() {
                writer.push(org_founded(
                    org,
                    OrgKind::GridBranch,
                    compounds[index..index + 2].to_vec(),
                    None,
                ));
                if writer.random.chance(20) {
                    let coverage = PartyOrgCoverageChanged {
                        org_id: org,
                        area_ids: vec![compounds[index]],
                    };
                    writer.push(coverage);
                }
                index += 2;
            } else {
                writer.push(org_founded(
                    org,
                    OrgKind::CompoundBranch,
                    vec![compounds[index]],
                    None,
                ));
                index += 1;
            }
            self.branches.push(org);
        }
        for &unit in &self.work_units.clone() {
            let org = writer.id();
            writer.push(org_founded(org, OrgKind::WorkUnitOrg, Vec::new(), Some(unit)));
        }
    }

    fn five_haves(&mut self, writer: &mut Writer) {
        for &compound in &self.compounds.clone() {
            if writer.random.chance(80) {
                let venue = writer.id();
                let source = if writer.random.chance(25) {
                    VenueSource::Shared
                } else {
                    VenueSource::Built
                };
                writer.push(VenueEstablished {
                    venue_id: venue,
                    area_id: compound,
                    name: "党群服务站".to_owned(),
                    area_m2: 80,
                    source,
                });
            }
            if writer.random.chance(80) {
                writer.push(ServiceMechanismEstablished {
                    area_id: compound,
                    mechanism: Mechanism::DeliberationHall,
                    note: None,
                });
            }
            if writer.random.chance(60) {
                let plan = writer.id();
                writer.push(EmergencyPlanFiled {
                    plan_id: plan,
                    area_id: compound,
                    hazards: vec![Hazard::Fire, Hazard::Flood],
                });
                if writer.random.chance(33) {
                    writer.push(EmergencyDrillHeld {
                        plan_id: plan,
                        participants: 30,
                    });
                }
            }
        }
    }

    fn members(&mut self, writer: &mut Writer) {
        for member_no in 0..MEMBERS {
            let member = writer.id();
            let home = writer.random.below(self.compounds.len());
            let roll = writer.random.below(100);
            let category = match roll {
                0..=49 => MemberCategory::InService,
                50..=79 => MemberCategory::Resident,
                80..=94 => MemberCategory::Retired,
                _ => MemberCategory::Floating,
            };
            let in_service = category == MemberCategory::InService;
            let work_unit = in_service.then(|| self.work_units[writer.random.below(WORK_UNITS)]);
            let seq = writer.push(MemberEnrolled {
                member_id: member,
                name: format!("党员{member_no}"),
                category,
                home_area_id: self.compounds[home],
                work_unit_id: work_unit,
            });
            self.residents[home].push(self.members.len());
            self.members.push((member, home, seq, in_service));
        }
        for (branch_no, &branch) in self.branches.clone().iter().enumerate() {
            let Some(&resident) = self
                .residents
                .get(branch_no)
                .and_then(|residents| residents.first())
            else {
                continue;
            };
            let member = self.members[resident].0;
            writer.push(OfficerAppointed {
                org_id: branch,
                member_id: member,
                role: OfficerRole::Secretary,
            });
            if writer.random.chance(3) {
                writer.push(OfficerRelieved {
                    org_id: branch,
                    member_id: member,
                });
            }
        }
        for index in 0..50 {
            let (member, _, _, in_service) = self.members[index * 7];
            let category = if in_service {
                MemberCategory::Retired
            } else {
                MemberCategory::Floating
            };
            writer.push(MemberUpdated {
                member_id: member,
                category: Some(category),
                home_area_id: None,
                work_unit_id: None,
            });
        }
    }

    fn registrations(&mut self, writer: &mut Writer) {
        let posts = [
            ServicePost::PolicyOutreach,
            ServicePost::DisputeMediation,
            ServicePost::Civility,
            ServicePost::Volunteer,
            ServicePost::Other,
        ];
        for &(member, home, _, in_service) in &self.members.clone() {
            if in_service && writer.random.chance(70) {
                let compound = self.compounds[home];
                let post = posts[writer.random.below(posts.len())];
                writer.push(MemberReported {
                    member_id: member,
                    compound_id: compound,
                    post,
                });
                if writer.random.chance(3) {
                    writer.push(ReportWithdrawn {
                        member_id: Some(member),
                        work_unit_id: None,
                        area_id: compound,
                    });
                }
            }
        }
        for (unit_no, &unit) in self.work_units.clone().iter().enumerate() {
            let community = self.communities[unit_no % self.communities.len()];
            writer.push(UnitReported {
                work_unit_id: unit,
                community_id: community,
            });
            if unit_no % 10 == 0 {
                writer.push(ReportWithdrawn {
                    member_id: None,
                    work_unit_id: Some(unit),
                    area_id: community,
                });
            }
        }
    }

    fn services(&mut self, writer: &mut Writer) {
        let kinds = [
            ServiceKind::PolicyTalk,
            ServiceKind::Volunteering,
            ServiceKind::Repair,
            ServiceKind::Visit,
        ];
        for _ in 0..SERVICES {
            let service = writer.id();
            let (by, area_id) = if writer.random.chance(80) {
                let (member, home, _, _) = self.members[writer.random.below(self.members.len())];
                (ServiceProvider::MemberId(member), self.compounds[home])
            } else {
                let unit = self.work_units[writer.random.below(WORK_UNITS)];
                (
                    ServiceProvider::WorkUnitId(unit),
                    self.communities[writer.random.below(self.communities.len())],
                )
            };
            let kind = kinds[writer.random.below(kinds.len())];
            let minutes = 30 + writer.random.below(210) as u32;
            writer.push(ServiceRendered {
                service_id: service,
                by,
                area_id,
                kind,
                minutes,
                beneficiaries: Some(12),
            });
        }
    }

    fn pairings(&mut self, writer: &mut Writer) {
        let mut pairings = Vec::new();
        for _ in 0..MEMBER_UNIT_PAIRINGS {
            let building_index = writer.random.below(self.buildings.len());
            let (building, units) = self.buildings[building_index];
            let residents = &self.residents[building_index / BUILDINGS_PER_COMPOUND];
            let member = match residents.len() {
                0 => self.members[writer.random.below(self.members.len())].0,
                n => self.members[residents[writer.random.below(n)]].0,
            };
            let target = PairingTarget::Area {
                area_id: building,
                unit_no: Some(1 + writer.random.below(units as usize) as u32),
            };
            pairings.push(self.pairing(writer, PairingKind::MemberBuildingUnit, member, target));
        }
        for household_no in 0..150 {
            let member = self.members[writer.random.below(self.members.len())].0;
            let target = PairingTarget::Household {
                household_ref: format!("困难户{household_no}"),
            };
            pairings.push(self.pairing(writer, PairingKind::MemberHousehold, member, target));
        }
        for cadre_no in 0..50 {
            let (from, to) = (self.members[cadre_no * 2].0, self.members[cadre_no * 2 + 1].0);
            let target = PairingTarget::Member { member_id: to };
            pairings.push(self.pairing(writer, PairingKind::CadreSecretary, from, target));
        }
        for &unit in &self.work_units.clone() {
            let target = PairingTarget::Area {
                area_id: self.compounds[writer.random.below(self.compounds.len())],
                unit_no: None,
            };
            pairings.push(self.pairing(writer, PairingKind::UnitCompound, unit, target));
        }
        for pairing in pairings.into_iter().step_by(10) {
            writer.push(PairingEnded {
                pairing_id: pairing,
                reason: "调整包联".to_owned(),
            });
        }
    }

    fn pairing(&self, writer: &mut Writer, kind: PairingKind, from: Uuid, to: PairingTarget) -> Uuid {
        let pairing = writer.id();
        writer.push(PairingEstablished {
            pairing_id: pairing,
            kind,
            from_id: from,
            to,
        });
        pairing
    }

    fn evaluations(&mut self, writer: &mut Writer) {
        for _ in 0..EVALUATIONS {
            let evaluation = writer.id();
            let roll = writer.random.below(100);
            let (subject, compound) = match roll {
                0..=69 => {
                    let (member, home, _, _) = self.members[writer.random.below(self.members.len())];
                    (PartyRef::MemberId(member), home)
                }
                70..=84 => (
                    PartyRef::WorkUnitId(self.work_units[writer.random.below(WORK_UNITS)]),
                    0,
                ),
                _ => (
                    PartyRef::OrgId(self.branches[writer.random.below(self.branches.len())]),
                    0,
                ),
            };
            let (evaluator, evaluator_ref) = if writer.random.chance(50) {
                (
                    Evaluator::Organization,
                    self.committees[writer.random.below(self.committees.len())],
                )
            } else {
                (Evaluator::Residents, self.compounds[compound])
            };
            let period = PERIODS[writer.random.below(PERIODS.len())].to_owned();
            let score = 50 + writer.random.below(51) as u32;
            writer.push(EvaluationRecorded {
                evaluation_id: evaluation,
                subject,
                evaluator,
                evaluator_ref,
                period,
                score,
                comment: None,
            });
            self.evaluations.push(evaluation);
        }
        for index in (0..self.evaluations.len()).step_by(10) {
            let score = 60 + writer.random.below(41) as u32;
            writer.push(EvaluationAmended {
                evaluation_id: self.evaluations[index],
                score,
                reason: "复核更正".to_owned(),
            });
        }
        for index in (5..self.evaluations.len()).step_by(20) {
            writer.push(EvaluationRetracted {
                evaluation_id: self.evaluations[index],
                reason: "重复录入".to_owned(),
            });
        }
    }

    fn complaints(&mut self, writer: &mut Writer) {
        for _ in 0..COMPLAINTS {
            let complaint = writer.id();
            let compound = writer.random.below(self.compounds.len());
            let area_id = if writer.random.chance(10) {
                self.communities[compound / COMPOUNDS_PER_COMMUNITY]
            } else {
                self.compounds[compound]
            };
            writer.push(ComplaintFiled {
                complaint_id: complaint,
                area_id,
                category: ComplaintCategory::Repair,
                summary: "楼道灯坏了".to_owned(),
                channel: Channel::App,
                resident_ref: "居民甲".to_owned(),
            });
            self.complaint_rounds(writer, complaint, compound);
        }
    }

    /// Dispatch, accept, resolve, rate; sometimes reopened for a second round; some stop early.
    fn complaint_rounds(&mut self, writer: &mut Writer, complaint: Uuid, compound: usize) {
        if writer.random.chance(5) {
            return;
        }
        let assignee = match (self.residents[compound].first(), writer.random.below(3)) {
            (Some(&resident), 0 | 1) => PartyRef::MemberId(self.members[resident].0),
            (_, 2) => PartyRef::OrgId(self.branches[writer.random.below(self.branches.len())]),
            _ => PartyRef::WorkUnitId(self.work_units[writer.random.below(WORK_UNITS)]),
        };
        writer.push(ComplaintDispatched {
            complaint_id: complaint,
            assignee,
            due_on: Some("2026-06-30".to_owned()),
        });
        if writer.random.chance(10) {
            return;
        }
        let rounds = if writer.random.chance(10) { 2 } else { 1 };
        for round in 0..rounds {
            writer.push(ComplaintAccepted {
                complaint_id: complaint,
            });
            writer.push(ComplaintResolved {
                complaint_id: complaint,
                resolution: "已维修".to_owned(),
            });
            if writer.random.chance(80) {
                let satisfaction = 1 + writer.random.below(5) as u32;
                writer.push(ComplaintRated {
                    complaint_id: complaint,
                    satisfaction,
                });
            }
            if round + 1 < rounds {
                writer.push(ComplaintReopened {
                    complaint_id: complaint,
                    reason: "问题复发".to_owned(),
                });
            }
        }
    }

    fn endings(&mut self, writer: &mut Writer) {
        for index in 0..5 {
            let (_, _, seq, _) = self.members[100 + index * 13];
            writer.push(Redacted {
                target_seq: seq,
                fields: vec!["name".to_owned()],
                reason: "本人申请删除".to_owned(),
            });
        }
        for index in (0..self.members.len()).step_by(100).skip(1) {
            writer.push(MemberRemoved {
                member_id: self.members[index].0,
                reason: "组织关系转出".to_owned(),
            });
        }
        for &branch in self.branches.iter().rev().take(2) {
            writer.push(PartyOrgDissolved {
                org_id: branch,
                reason: "合并支部".to_owned(),
            });
        }
        let (building, _) = self.buildings[self.buildings.len() - 1];
        writer.push(AreaRetired {
            area_id: building,
            reason: "拆除".to_owned(),
        });
    }
}

fn org_founded(org: Uuid, kind: OrgKind, areas: Vec<Uuid>, work_unit: Option<Uuid>) -> PartyOrgFounded {
    PartyOrgFounded {
        org_id: org,
        kind,
        name: "党支部".to_owned(),
        parent_org_id: None,
        area_ids: (!areas.is_empty()).then_some(areas),
        work_unit_id: work_unit,
    }
}

/// A business date in 2026 from a day number.
fn date_of(day: u64) -> BusinessDate {
    let day = day % 336;
    BusinessDate::from_yyyymmdd(20_260_000 + (day / 28 + 1) as u32 * 100 + (day % 28 + 1) as u32)
        .expect("a calendar date")
}

/// An event with a business date.
fn dated(event: impl Into<govrec_core::Event>, day: u64) -> NewEvent {
    NewEvent {
        id: None,
        occurred_on: Some(date_of(day)),
        event: event.into(),
    }
}
