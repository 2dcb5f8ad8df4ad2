//! Office scopes on appends: a principal limited to some counties may append a batch exactly
//! when every county the batch touches — through any entity any of its events references,
//! before and after the event, the batch's own earlier events applied — is in its scope.
//!
//! The oracle here does not ask the state: it knows by construction which county every entity
//! of its two-county world lies in, and follows the members a batch creates or moves.

use std::collections::{BTreeSet, HashMap};

use govrec_core::event::*;
use govrec_core::state::{CountyScope, Refusal};
use govrec_core::State;
use proptest::prelude::*;
use uuid::Uuid;

/// The two counties: 广灵县 (G) is in scope, 浑源县 (H) is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum County {
    G,
    H,
}

impl County {
    fn base(self) -> u128 {
        match self {
            County::G => 0x1000,
            County::H => 0x2000,
        }
    }

    fn id(self) -> Uuid {
        Uuid::from_u128(self.base())
    }
    fn town(self) -> Uuid {
        Uuid::from_u128(self.base() + 1)
    }
    fn community(self) -> Uuid {
        Uuid::from_u128(self.base() + 2)
    }
    fn compound(self) -> Uuid {
        Uuid::from_u128(self.base() + 3)
    }
    fn work_unit(self) -> Uuid {
        Uuid::from_u128(self.base() + 4)
    }
    fn resident(self) -> Uuid {
        Uuid::from_u128(self.base() + 5)
    }
    fn org(self) -> Uuid {
        Uuid::from_u128(self.base() + 6)
    }
    fn complaint(self) -> Uuid {
        Uuid::from_u128(self.base() + 7)
    }
}

fn area(area_id: Uuid, kind: AreaKind, parent_id: Option<Uuid>) -> Event {
    AreaRegistered {
        area_id,
        kind,
        name: "广灵县".to_owned(),
        parent_id,
        households: None,
        compound_kind: None,
        has_property_management: None,
        units: None,
    }
    .into()
}

fn enrol(member_id: Uuid, home: Uuid, work_unit_id: Option<Uuid>) -> Event {
    MemberEnrolled {
        member_id,
        name: "张三".to_owned(),
        category: MemberCategory::Resident,
        home_area_id: home,
        work_unit_id,
    }
    .into()
}

/// Each county: its area chain, a work unit, a resident, a compound branch and a complaint.
fn world() -> Vec<Event> {
    let mut events = Vec::new();
    for county in [County::G, County::H] {
        events.extend([
            area(county.id(), AreaKind::County, None),
            area(county.town(), AreaKind::Town, Some(county.id())),
            area(county.community(), AreaKind::Community, Some(county.town())),
            area(county.compound(), AreaKind::Compound, Some(county.community())),
            WorkUnitRegistered {
                work_unit_id: county.work_unit(),
                name: "县教育局".to_owned(),
                county_id: county.id(),
            }
            .into(),
            enrol(county.resident(), county.compound(), None),
            PartyOrgFounded {
                org_id: county.org(),
                kind: OrgKind::CompoundBranch,
                name: "小区党支部".to_owned(),
                parent_org_id: None,
                area_ids: Some(vec![county.compound()]),
                work_unit_id: None,
            }
            .into(),
            ComplaintFiled {
                complaint_id: county.complaint(),
                area_id: county.compound(),
                category: ComplaintCategory::Repair,
                summary: "楼道灯坏了".to_owned(),
                channel: Channel::App,
                resident_ref: "居民-17".to_owned(),
            }
            .into(),
        ]);
    }
    events
}

/// A member a step refers to: a resident of the world, or one created earlier in the batch.
#[derive(Debug, Clone, Copy)]
enum Who {
    Resident(County),
    /// The n-th member created by the batch (wrapping; the world's G resident if none yet).
    New(usize),
}

/// One event of a generated batch, with the county of each place it references.
#[derive(Debug, Clone)]
enum Step {
    Enrol { home: County, work_unit: Option<County> },
    Report { who: Who, compound: County },
    Move { who: Who, home: County },
    Remove { who: Who },
    Appoint { org: County, who: Who },
    Evaluate { subject: Who, evaluator: County },
    Dispatch { complaint: County, assignee: County },
    Pair { from: Who, to: Who },
    File { compound: County },
    Redact,
}

fn county() -> impl Strategy<Value = County> {
    prop_oneof![Just(County::G), Just(County::H)]
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![county().prop_map(Who::Resident), (0usize..3).prop_map(Who::New)]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (county(), proptest::option::of(county()))
            .prop_map(|(home, work_unit)| Step::Enrol { home, work_unit }),
        (who(), county()).prop_map(|(who, compound)| Step::Report { who, compound }),
        (who(), county()).prop_map(|(who, home)| Step::Move { who, home }),
        who().prop_map(|who| Step::Remove { who }),
        (county(), who()).prop_map(|(org, who)| Step::Appoint { org, who }),
        (who(), county()).prop_map(|(subject, evaluator)| Step::Evaluate { subject, evaluator }),
        (county(), county()).prop_map(|(complaint, assignee)| Step::Dispatch { complaint, assignee }),
        (who(), who()).prop_map(|(from, to)| Step::Pair { from, to }),
        county().prop_map(|compound| Step::File { compound }),
        Just(Step::Redact),
    ]
}

/// Turns steps into events, and works out, independently of the state, the counties the
/// batch touches (`None` for a redaction, which a scoped principal may not append).
struct Oracle {
    /// The current county of every member, the world's and the batch's.
    member_county: HashMap<Uuid, County>,
    created: Vec<Uuid>,
    next_id: u128,
}

impl Oracle {
    fn new() -> Oracle {
        let member_county = [County::G, County::H]
            .into_iter()
            .map(|county| (county.resident(), county))
            .collect();
        Oracle {
            member_county,
            created: Vec::new(),
            next_id: 0x9000,
        }
    }

    fn fresh(&mut self) -> Uuid {
        self.next_id += 1;
        Uuid::from_u128(self.next_id)
    }

    fn member(&self, who: Who) -> Uuid {
        match who {
            Who::Resident(county) => county.resident(),
            Who::New(n) if !self.created.is_empty() => self.created[n % self.created.len()],
            Who::New(_) => County::G.resident(),
        }
    }

    fn county_of(&self, member: Uuid) -> County {
        self.member_county[&member]
    }

    /// The event of `step` and the counties it touches.
    fn event(&mut self, step: &Step) -> (Event, Option<BTreeSet<County>>) {
        let touched = |counties: &[County]| Some(counties.iter().copied().collect::<BTreeSet<_>>());
        match *step {
            Step::Enrol { home, work_unit } => {
                let id = self.fresh();
                self.created.push(id);
                self.member_county.insert(id, home);
                let counties: Vec<County> = std::iter::once(home).chain(work_unit).collect();
                (
                    enrol(id, home.compound(), work_unit.map(County::work_unit)),
                    touched(&counties),
                )
            }
            Step::Report { who, compound } => {
                let member_id = self.member(who);
                let event = MemberReported {
                    member_id,
                    compound_id: compound.compound(),
                    post: ServicePost::Volunteer,
                };
                (event.into(), touched(&[self.county_of(member_id), compound]))
            }
            Step::Move { who, home } => {
                let member_id = self.member(who);
                let before = self.county_of(member_id);
                self.member_county.insert(member_id, home);
                let event = MemberUpdated {
                    member_id,
                    category: None,
                    home_area_id: Some(home.compound()),
                    work_unit_id: None,
                };
                (event.into(), touched(&[before, home]))
            }
            Step::Remove { who } => {
                let member_id = self.member(who);
                let event = MemberRemoved {
                    member_id,
                    reason: "迁出".to_owned(),
                };
                (event.into(), touched(&[self.county_of(member_id)]))
            }
            Step::Appoint { org, who } => {
                let member_id = self.member(who);
                let event = OfficerAppointed {
                    org_id: org.org(),
                    member_id,
                    role: OfficerRole::CommitteeMember,
                };
                (event.into(), touched(&[org, self.county_of(member_id)]))
            }
            Step::Evaluate { subject, evaluator } => {
                let member_id = self.member(subject);
                let event = EvaluationRecorded {
                    evaluation_id: self.fresh(),
                    subject: PartyRef::MemberId(member_id),
                    evaluator: Evaluator::Organization,
                    evaluator_ref: evaluator.org(),
                    period: "2026-H1".to_owned(),
                    score: 0,
                    comment: None,
                };
                (event.into(), touched(&[self.county_of(member_id), evaluator]))
            }
            Step::Dispatch { complaint, assignee } => {
                let event = ComplaintDispatched {
                    complaint_id: complaint.complaint(),
                    assignee: PartyRef::WorkUnitId(assignee.work_unit()),
                    due_on: None,
                };
                (event.into(), touched(&[complaint, assignee]))
            }
            Step::Pair { from, to } => {
                let (from_id, to_id) = (self.member(from), self.member(to));
                let event = PairingEstablished {
                    pairing_id: self.fresh(),
                    kind: PairingKind::CadreSecretary,
                    from_id,
                    to: PairingTarget::Member { member_id: to_id },
                };
                (
                    event.into(),
                    touched(&[self.county_of(from_id), self.county_of(to_id)]),
                )
            }
            Step::File { compound } => {
                let event = ComplaintFiled {
                    complaint_id: self.fresh(),
                    area_id: compound.compound(),
                    category: ComplaintCategory::Repair,
                    summary: "路灯不亮".to_owned(),
                    channel: Channel::Hotline,
                    resident_ref: "居民-3".to_owned(),
                };
                (event.into(), touched(&[compound]))
            }
            Step::Redact => {
                let event = Redacted {
                    target_seq: 5,
                    fields: vec!["name".to_owned()],
                    reason: "居民申请删除个人信息".to_owned(),
                };
                (event.into(), None)
            }
        }
    }
}

fn world_state() -> State {
    let mut state = State::new();
    state.check_and_apply(0, &world()).expect("the world is valid");
    state
}

fn only_g() -> CountyScope {
    CountyScope::Only(BTreeSet::from([County::G.id()]))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// A batch passes under the scope {G} exactly when it passes with no scope and everything
    /// it touches lies in G; when it is refused for its scope, nothing is applied.
    #[test]
    fn a_scoped_batch_is_accepted_exactly_when_it_stays_in_scope(steps in proptest::collection::vec(step(), 1..5)) {
        let mut oracle = Oracle::new();
        let mut events = Vec::new();
        let mut inside = true;
        for step in &steps {
            let (event, touched) = oracle.event(step);
            inside &= touched.is_some_and(|counties| counties.iter().all(|county| *county == County::G));
            events.push(event);
        }
        let world = world_state();
        let seq = world.next_seq();

        let mut unscoped = world.clone();
        let valid = unscoped.check_and_apply(seq, &events).is_ok();
        let mut scoped = world.clone();
        let result = scoped.check_and_apply_within(seq, &events, &only_g());

        prop_assert_eq!(result.is_ok(), valid && inside, "{:?}: {:?}", steps, result);
        if result.is_err() {
            prop_assert_eq!(&scoped, &world, "a refused batch leaves the state as it was");
        }
        if valid && !inside {
            prop_assert!(matches!(result, Err(Refusal::OutOfScope { .. })), "{:?}", result);
        }
    }
}

/// The batches of the attack report: each crossed into 浑源县 through a batch's earlier event.
#[test]
fn the_batches_of_the_attack_report_are_refused() {
    let h_member = County::H.resident();
    let batches: Vec<(&str, Vec<Event>)> = vec![
        (
            "report an H member to a G compound, then remove them",
            vec![
                MemberReported {
                    member_id: h_member,
                    compound_id: County::G.compound(),
                    post: ServicePost::Volunteer,
                }
                .into(),
                MemberRemoved {
                    member_id: h_member,
                    reason: "迁出".to_owned(),
                }
                .into(),
            ],
        ),
        (
            "move an H member into a G compound",
            vec![MemberUpdated {
                member_id: h_member,
                category: None,
                home_area_id: Some(County::G.compound()),
                work_unit_id: None,
            }
            .into()],
        ),
        (
            "score an H member",
            vec![EvaluationRecorded {
                evaluation_id: Uuid::from_u128(0x9999),
                subject: PartyRef::MemberId(h_member),
                evaluator: Evaluator::Organization,
                evaluator_ref: County::G.org(),
                period: "2026".to_owned(),
                score: 0,
                comment: None,
            }
            .into()],
        ),
    ];
    let mut failures = Vec::new();
    for (name, batch) in batches {
        let mut state = world_state();
        let seq = state.next_seq();
        match state.check_and_apply_within(seq, &batch, &only_g()) {
            Err(Refusal::OutOfScope {
                index: 0,
                county: Some(county),
            }) if county == County::H.id() => {}
            other => failures.push(format!("{name}: {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn a_member_belongs_to_the_county_of_their_current_home() {
    let mut state = world_state();
    let member = County::G.resident();
    assert_eq!(state.county_of(member), Some(County::G.id()));
    let seq = state.next_seq();
    let moved = MemberUpdated {
        member_id: member,
        category: None,
        home_area_id: Some(County::H.compound()),
        work_unit_id: None,
    };
    state.check_and_apply(seq, &[moved.into()]).unwrap();
    assert_eq!(state.county_of(member), Some(County::H.id()));
    assert_eq!(state.county_of(County::G.complaint()), Some(County::G.id()));
    assert_eq!(state.county_of(County::H.work_unit()), Some(County::H.id()));
    let saved = State::from_bytes(&state.to_bytes()).unwrap();
    assert_eq!(saved, state, "the counties survive the saved state");
}
