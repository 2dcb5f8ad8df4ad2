//! The demo data set: loaded through the real store, the read models reproduce the source
//! article's figures (`domain.md`, "Figures from the source article"); two loads write the same
//! events; it goes only into an empty store; `govrec demo` and `govrec serve --demo` load it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use govrec_core::event::{
    AreaKind, MemberCategory, OrgKind, PairingKind, PairingTarget, ServiceKind, ServicePost, VenueSource,
};
use govrec_core::Event;
use govrec_demo::{
    load_demo, DemoError, DemoSummary, DEMO_ACTOR, DEMO_LAST_DATE, GUANGLING, HUNYUAN, LINGQIU, ZUOYUN,
};
use govrec_projections::{ComplaintsView, Models, Page, ReadScope, Stats};
use govrec_store::{BusinessDate, Record, Store, StoreConfig};
use uuid::Uuid;

fn load(dir: &Path) -> (Store, DemoSummary) {
    let store = Store::open(dir, StoreConfig::default()).unwrap();
    let summary = load_demo(&store, DEMO_ACTOR).unwrap();
    (store, summary)
}

fn records(store: &Store) -> Vec<Record> {
    let mut records = Vec::new();
    store
        .for_each_record(|record| {
            records.push(record);
            Ok(())
        })
        .unwrap();
    records
}

/// What the tests read straight from the log, to check what the read models do not show.
struct Log {
    events: Vec<Event>,
    /// Every area's parent.
    parents: HashMap<Uuid, Uuid>,
    kinds: HashMap<Uuid, AreaKind>,
}

impl Log {
    fn of(records: &[Record]) -> Log {
        let mut log = Log {
            events: records.iter().map(|record| record.event.clone()).collect(),
            parents: HashMap::new(),
            kinds: HashMap::new(),
        };
        for event in &log.events {
            if let Event::AreaRegistered(area) = event {
                log.kinds.insert(area.area_id, area.kind);
                if let Some(parent) = area.parent_id {
                    log.parents.insert(area.area_id, parent);
                }
            }
        }
        log
    }

    fn within(&self, area: Uuid, top: Uuid) -> bool {
        let mut current = Some(area);
        while let Some(id) = current {
            if id == top {
                return true;
            }
            current = self.parents.get(&id).copied();
        }
        false
    }

    /// Live compound and grid branches whose areas lie in the county, by kind.
    fn live_branches(&self, county: Uuid) -> BTreeMap<&'static str, Vec<(Uuid, Vec<Uuid>)>> {
        let mut coverage: HashMap<Uuid, (OrgKind, Vec<Uuid>)> = HashMap::new();
        for event in &self.events {
            match event {
                Event::PartyOrgFounded(org)
                    if matches!(org.kind, OrgKind::CompoundBranch | OrgKind::GridBranch) =>
                {
                    let areas = org.area_ids.clone().unwrap();
                    if self.within(areas[0], county) {
                        coverage.insert(org.org_id, (org.kind, areas));
                    }
                }
                Event::PartyOrgCoverageChanged(changed) => {
                    if let Some((_, areas)) = coverage.get_mut(&changed.org_id) {
                        *areas = changed.area_ids.clone();
                    }
                }
                Event::PartyOrgDissolved(dissolved) => {
                    coverage.remove(&dissolved.org_id);
                }
                _ => {}
            }
        }
        let mut by_kind: BTreeMap<&'static str, Vec<(Uuid, Vec<Uuid>)>> = BTreeMap::new();
        for (org, (kind, areas)) in coverage {
            let kind = if kind == OrgKind::CompoundBranch {
                "compound"
            } else {
                "grid"
            };
            by_kind.entry(kind).or_default().push((org, areas));
        }
        by_kind
    }

    fn households(&self, top: Uuid) -> u64 {
        self.events
            .iter()
            .filter_map(|event| match event {
                Event::AreaRegistered(area)
                    if area.kind == AreaKind::Compound && self.within(area.area_id, top) =>
                {
                    area.households.map(u64::from)
                }
                _ => None,
            })
            .sum()
    }
}

fn stats_of(models: &Models, area: Uuid) -> Stats {
    models
        .coverage(Some(area), &ReadScope::AllCounties)
        .unwrap()
        .stats
}

fn communities(models: &Models, county: Uuid) -> usize {
    let answer = models.coverage(Some(county), &ReadScope::AllCounties).unwrap();
    answer
        .children
        .iter()
        .map(|town| {
            models
                .coverage(Some(town.area.id), &ReadScope::AllCounties)
                .unwrap()
                .children
                .len()
        })
        .sum()
}

#[test]
fn the_demo_reproduces_the_articles_figures() {
    let dir = tempfile::tempdir().unwrap();
    let (store, summary) = load(dir.path());
    let (models, _) = govrec_projections::replay_all(&store, |_| {}).unwrap();
    let records = records(&store);
    let log = Log::of(&records);
    let county = |name: &str| summary.county(name).unwrap().id;

    guangling(&models, &log, county(GUANGLING));
    hunyuan(&models, &log, county(HUNYUAN));
    zuoyun(&models, &log, county(ZUOYUN));
    lingqiu(&models, &log, county(LINGQIU), summary.tianhe_yiju);
}

/// 6 communities, 77 compounds, 14 compound branches (grid branches cover the rest), 53,000
/// residents, 1,830 members of 77 county work units reported.
fn guangling(models: &Models, log: &Log, county: Uuid) {
    let stats = stats_of(models, county);
    assert_eq!(communities(models, county), 6);
    assert_eq!(stats.compounds, 77);
    let branches = log.live_branches(county);
    assert_eq!(branches["compound"].len(), 14);
    assert_eq!(stats.compounds_with_party_org, 77);
    assert_eq!(stats.party_org_coverage, Some(1.0));
    assert_eq!(stats.work_units_reported, 77);
    assert_eq!(stats.in_service_reported, 1830);
    assert!(stats.in_service_members > 1830, "some have not reported yet");
    assert_eq!(
        log.households(county),
        20_385,
        "53,000 residents at 2.6 a household"
    );
}

/// 96 compounds, 65 compound/grid branches (12 grid branches for the small compounds), full
/// coverage; venues: 39 built, 35 transferred, 22 shared with the community.
fn hunyuan(models: &Models, log: &Log, county: Uuid) {
    let stats = stats_of(models, county);
    assert_eq!(stats.compounds, 96);
    assert_eq!(stats.party_org_coverage, Some(1.0));
    let branches = log.live_branches(county);
    assert_eq!(branches["compound"].len(), 53);
    assert_eq!(branches["grid"].len(), 12);
    let grid_covered: usize = branches["grid"].iter().map(|(_, areas)| areas.len()).sum();
    assert_eq!(
        grid_covered, 43,
        "the 42 small compounds and one joined to a neighbour"
    );

    let mut sources: BTreeMap<&str, usize> = BTreeMap::new();
    for event in &log.events {
        if let Event::VenueEstablished(venue) = event {
            if log.kinds[&venue.area_id] == AreaKind::Compound && log.within(venue.area_id, county) {
                let source = match venue.source {
                    VenueSource::Built => "built",
                    VenueSource::Transferred => "transferred",
                    VenueSource::Shared => "shared",
                };
                *sources.entry(source).or_default() += 1;
            }
        }
    }
    assert_eq!(
        sources,
        BTreeMap::from([("built", 39), ("shared", 22), ("transferred", 35)])
    );
    assert_eq!(stats.five_haves.venue, 96);

    let mut secretaries: HashMap<Uuid, Uuid> = HashMap::new();
    for event in &log.events {
        match event {
            Event::OfficerAppointed(appointed)
                if appointed.role == govrec_core::event::OfficerRole::Secretary =>
            {
                secretaries.insert(appointed.org_id, appointed.member_id);
            }
            Event::OfficerRelieved(relieved)
                if secretaries.get(&relieved.org_id) == Some(&relieved.member_id) =>
            {
                secretaries.remove(&relieved.org_id);
            }
            _ => {}
        }
    }
    let with_secretary = branches
        .values()
        .flatten()
        .filter(|(org, _)| secretaries.contains_key(org))
        .count();
    assert_eq!(with_secretary, 65, "共配备小区（网格）党组织书记65人");
}

/// 52 compounds, 50+ service stations, 1,582 in-service members and 500+ volunteers reported,
/// 250+ outreach activities.
fn zuoyun(models: &Models, log: &Log, county: Uuid) {
    let stats = stats_of(models, county);
    assert_eq!(stats.compounds, 52);
    assert_eq!(stats.party_org_coverage, Some(1.0));
    assert_eq!(stats.five_haves.venue, 51);
    assert_eq!(stats.in_service_reported, 1582);

    let mut categories = HashMap::new();
    let mut volunteers = 0;
    let mut outreach = 0;
    for event in &log.events {
        match event {
            Event::MemberEnrolled(member) => {
                categories.insert(member.member_id, member.category);
            }
            Event::MemberReported(report)
                if report.post == ServicePost::Volunteer
                    && categories[&report.member_id] != MemberCategory::InService
                    && log.within(report.compound_id, county) =>
            {
                volunteers += 1;
            }
            Event::ServiceRendered(service)
                if matches!(
                    service.kind,
                    ServiceKind::PolicyTalk | ServiceKind::LegalClass | ServiceKind::Performance
                ) && log.within(service.area_id, county) =>
            {
                outreach += 1;
            }
            _ => {}
        }
    }
    assert_eq!(volunteers, 520);
    assert_eq!(outreach, 256);
}

/// 48 grid branches and 50 compound branches, full coverage; 天和逸居 has 102 households and
/// 64 members; two members pair with each building unit.
fn lingqiu(models: &Models, log: &Log, county: Uuid, tianhe_yiju: Uuid) {
    let stats = stats_of(models, county);
    assert_eq!(stats.compounds, 98);
    assert_eq!(stats.party_org_coverage, Some(1.0));
    let branches = log.live_branches(county);
    assert_eq!(branches["compound"].len(), 50);
    assert_eq!(branches["grid"].len(), 48);
    assert_eq!(stats.five_haves.all_five, 98);
    assert!(stats.building_units > 0);
    assert_eq!(stats.building_units_paired, stats.building_units);
    assert_eq!(stats.pairing_coverage, Some(1.0));

    let mut pairers: HashMap<(Uuid, u32), HashSet<Uuid>> = HashMap::new();
    let mut ended = HashSet::new();
    for event in &log.events {
        if let Event::PairingEnded(end) = event {
            ended.insert(end.pairing_id);
        }
    }
    for event in &log.events {
        if let Event::PairingEstablished(pairing) = event {
            if let (PairingKind::MemberBuildingUnit, PairingTarget::Area { area_id, unit_no }) =
                (pairing.kind, &pairing.to)
            {
                if log.within(*area_id, county) && !ended.contains(&pairing.pairing_id) {
                    pairers
                        .entry((*area_id, unit_no.unwrap()))
                        .or_default()
                        .insert(pairing.from_id);
                }
            }
        }
    }
    assert_eq!(pairers.len() as u64, stats.building_units);
    assert!(
        pairers.values().all(|members| members.len() == 2),
        "每2名党员包联1个单元"
    );

    assert_eq!(log.households(tianhe_yiju), 102);
    let members = models
        .members_ledger(Some(tianhe_yiju), &ReadScope::AllCounties, &Page::default())
        .unwrap();
    assert_eq!(members.counts.total, 64);
    let tianhe = stats_of(models, tianhe_yiju);
    assert_eq!(tianhe.building_units, 9);
    assert_eq!(tianhe.building_units_paired, 9);
}

#[test]
fn the_demo_has_a_year_of_every_kind_of_record() {
    let dir = tempfile::tempdir().unwrap();
    let (store, summary) = load(dir.path());
    assert!(
        (20_000..=60_000).contains(&summary.records),
        "{} records",
        summary.records
    );
    assert_eq!(summary.records, store.head().next_seq);
    for kind in [
        "MemberUpdated",
        "MemberRemoved",
        "ReportWithdrawn",
        "PairingEnded",
        "EvaluationAmended",
        "EvaluationRetracted",
        "OfficerRelieved",
        "AreaRetired",
        "PartyOrgCoverageChanged",
        "PartyOrgDissolved",
        "EmergencyDrillHeld",
        "ComplaintReopened",
    ] {
        assert!(
            summary.events_by_type.get(kind).is_some_and(|&count| count > 0),
            "no {kind}"
        );
    }
    let records = records(&store);
    let first = BusinessDate::parse("2026-01-01").unwrap();
    let last = BusinessDate::parse(DEMO_LAST_DATE).unwrap();
    assert!(records
        .iter()
        .all(|record| (first..=last).contains(&record.occurred_on)));
    assert_eq!(records.last().unwrap().occurred_on, last);
    assert!(records.iter().all(|record| record.actor == DEMO_ACTOR));

    let (models, _) = govrec_projections::replay_all(&store, |_| {}).unwrap();
    let page = Page {
        limit: Some(1000),
        after: None,
    };
    let mut reopened_and_open = 0;
    let mut open_not_overdue = 0;
    for county in &summary.counties {
        let ledger = models
            .complaints_ledger(
                Some(county.id),
                &ReadScope::AllCounties,
                ComplaintsView::All,
                Some(last),
                &page,
            )
            .unwrap();
        let counts = &ledger.counts;
        assert_eq!(counts.total, county.complaints);
        for (state, count) in [
            ("filed", counts.filed),
            ("dispatched", counts.dispatched),
            ("accepted", counts.accepted),
            ("resolved", counts.resolved),
            ("rated", counts.rated),
            ("overdue", counts.overdue),
        ] {
            assert!(count > 0, "{}: no complaint {state}", county.name);
        }
        assert!(ledger.next.is_none());
        reopened_and_open += ledger
            .complaints
            .iter()
            .filter(|row| row.reopened > 0 && !row.status.is_resolved())
            .count();
        open_not_overdue += ledger
            .complaints
            .iter()
            .filter(|row| !row.status.is_resolved() && !row.overdue)
            .count();
    }
    assert!(reopened_and_open > 0);
    assert!(open_not_overdue > 0);
}

#[test]
fn two_loads_write_the_same_events() {
    let (first, second) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (first, _) = load(first.path());
    let (second, _) = load(second.path());
    // Server times, and the hashes over them, differ; everything else is the same.
    let comparable = |store: &Store| -> Vec<serde_json::Value> {
        records(store)
            .iter()
            .map(|record| {
                let mut json = serde_json::to_value(record.to_json()).unwrap();
                let object = json.as_object_mut().unwrap();
                for field in ["recorded_at", "prev_hash", "hash"] {
                    object.remove(field).unwrap();
                }
                json
            })
            .collect()
    };
    let (first, second) = (comparable(&first), comparable(&second));
    assert_eq!(first.len(), second.len());
    assert!(first == second, "the two loads differ");
}

#[test]
fn the_demo_loads_only_into_an_empty_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    store
        .append(
            "recorder",
            govrec_tests::county_and_town(Uuid::new_v4(), Uuid::new_v4(), "大同"),
        )
        .unwrap();
    match load_demo(&store, DEMO_ACTOR) {
        Err(DemoError::NotEmpty { records: 2 }) => {}
        other => panic!("expected NotEmpty, got {other:?}"),
    }
    assert_eq!(store.head().next_seq, 2, "nothing was appended");
}

fn govrec() -> Command {
    Command::new(env!("CARGO_BIN_EXE_govrec"))
}

#[test]
fn govrec_demo_loads_an_empty_data_directory_and_refuses_a_second_load() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let first = govrec().args(["demo", "--data", data_arg]).output().unwrap();
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        stdout.contains("广灵县") && stdout.contains("天和逸居小区"),
        "{stdout}"
    );

    let second = govrec().args(["demo", "--data", data_arg]).output().unwrap();
    assert_eq!(second.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&second.stderr).contains("not empty"));

    let verify = govrec().args(["verify", "--data", data_arg]).output().unwrap();
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

/// `serve --demo` on a fresh directory: loads, prints the URL and an admin token on stdout, and
/// the coverage route answers with the demo's figures.
#[test]
fn serve_demo_loads_prints_a_token_and_serves_the_figures() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut child = govrec()
        .args([
            "serve",
            "--demo",
            "--addr",
            "127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Logs go to stdout too: find the two lines, then keep draining so the server never
    // blocks on a full pipe.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next_line = |prefix: &str| loop {
        let line = lines.next().expect("stdout ended early").unwrap();
        if let Some(rest) = line.strip_prefix(prefix) {
            return rest.to_owned();
        }
    };
    let address = next_line("demo: http://").trim_end_matches('/').to_owned();
    let token = next_line("admin token (shown only now): ");
    assert!(token.starts_with("gvr_"), "{token}");
    std::thread::spawn(move || lines.for_each(drop));

    let coverage = get_json(&address, "/v1/coverage", &token);
    let guangling = coverage["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|child| child["area"]["name"] == GUANGLING)
        .unwrap_or_else(|| panic!("no 广灵县 in {coverage}"));
    assert_eq!(guangling["stats"]["compounds"], 77);
    assert_eq!(guangling["stats"]["in_service_reported"], 1830);

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
}

/// GET with a bearer token; the read models may still be catching up, so retry until the
/// answer reflects the whole demo.
fn get_json(address: &str, path: &str, token: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut stream = TcpStream::connect(address).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
            govrec_tests::http_chunked_body(body)
        } else {
            body.to_owned()
        };
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        if json["children"]
            .as_array()
            .is_some_and(|children| children.len() == 4)
        {
            return json;
        }
        assert!(
            Instant::now() < deadline,
            "the coverage never showed four counties: {json}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
