//! The live models of a server: catch-up with appends, rebuild without downtime, `as_of`.

use govrec_core::event::{AreaKind, AreaRegistered};
use govrec_projections::snapshot;
use govrec_projections::{AsOfPoint, HostConfig, ModelHost, ProjectionError, ReadScope};
use govrec_store::NewEvent;

use crate::scenario;
use crate::support::{id, models_of, store_with};

fn compound(name: &str, community: &str) -> NewEvent {
    NewEvent::new(AreaRegistered {
        area_id: id(name),
        kind: AreaKind::Compound,
        name: name.to_owned(),
        parent_id: Some(id(community)),
        households: None,
        compound_kind: None,
        has_property_management: None,
        units: None,
    })
}

fn compounds_of_m2(host: &ModelHost) -> u64 {
    host.models()
        .coverage(Some(id("M2")), &ReadScope::AllCounties)
        .expect("coverage")
        .stats
        .compounds
}

#[test]
fn catch_up_applies_what_was_appended() {
    let log = scenario::build();
    let (dir, store) = store_with(log.records());
    let (host, _) =
        ModelHost::open(&store, Some(&dir.path().join("models")), HostConfig::default()).expect("open");
    let held = host.models();
    store
        .append("recorder-1", vec![compound("P5", "M2"), compound("P6", "M2")])
        .expect("append");
    assert_eq!(compounds_of_m2(&host), 1, "not yet caught up");
    assert_eq!(host.catch_up(&store).expect("catch up"), 2);
    assert_eq!(compounds_of_m2(&host), 3);
    assert_eq!(
        held.next_seq(),
        log.records().len() as u64,
        "a reader's models never change under it"
    );
    assert_eq!(host.catch_up(&store).expect("nothing new"), 0);
}

#[test]
fn rebuild_replays_into_fresh_models_and_swaps_them_in() {
    let log = scenario::build();
    let (dir, store) = store_with(log.records());
    let config = HostConfig {
        snapshot_interval_records: 20,
        ..HostConfig::default()
    };
    let (host, _) = ModelHost::open(&store, Some(&dir.path().join("models")), config).expect("open");
    let before = host.models();
    store
        .append("recorder-1", vec![compound("P5", "M2")])
        .expect("append");
    let report = host.rebuild(&store, |_| {}).expect("rebuild");
    assert_eq!(report.records, log.records().len() as u64 + 1);
    assert_eq!(compounds_of_m2(&host), 2, "the rebuild caught up with the append");
    assert_eq!(
        before.next_seq(),
        log.records().len() as u64,
        "the old models kept answering as they were"
    );
    let as_of = host
        .models_as_of(&store, AsOfPoint::Seq(30))
        .expect("as_of after rebuild");
    assert_eq!(
        snapshot::encode(&as_of),
        snapshot::encode(&models_of(&log.records()[..31]))
    );
}

#[test]
fn as_of_beyond_the_head_is_refused_and_before_the_log_is_empty() {
    let log = scenario::build();
    let (_dir, store) = store_with(log.records());
    let (host, _) = ModelHost::open(&store, None, HostConfig::default()).expect("open");
    let beyond = host.models_as_of(&store, AsOfPoint::Seq(10_000));
    assert!(matches!(
        beyond,
        Err(ProjectionError::AsOfBeyondHead { seq: 10_000, .. })
    ));
    let before = AsOfPoint::parse("2020-01-01T00:00:00Z").expect("a time");
    assert_eq!(host.models_as_of(&store, before).expect("as_of").next_seq(), 0);
    assert_eq!(AsOfPoint::parse("1234"), Some(AsOfPoint::Seq(1234)));
    assert_eq!(AsOfPoint::parse("yesterday"), None);
}

/// An `as_of` answer shares the current models' id index, which goes on growing: it must
/// still know only the entities of its own point, before and after the live models catch up.
#[test]
fn as_of_models_never_see_later_entities() {
    let log = scenario::build();
    let (dir, store) = store_with(log.records());
    let config = HostConfig {
        snapshot_interval_records: 20,
        ..HostConfig::default()
    };
    let (host, _) = ModelHost::open(&store, Some(&dir.path().join("models")), config).expect("open");
    let early = host.models_as_of(&store, AsOfPoint::Seq(5)).expect("as_of");
    assert!(
        early.coverage(Some(id("P2")), &ReadScope::AllCounties).is_ok(),
        "P2 is record 5"
    );
    assert!(matches!(
        early.coverage(Some(id("P4")), &ReadScope::AllCounties),
        Err(ProjectionError::UnknownArea(_))
    ));
    store
        .append("recorder-1", vec![compound("P5", "M2")])
        .expect("append");
    host.catch_up(&store).expect("catch up");
    assert!(early.coverage(Some(id("P5")), &ReadScope::AllCounties).is_err());
    assert_eq!(
        snapshot::encode(&early),
        snapshot::encode(&models_of(&log.records()[..6]))
    );
    assert_eq!(compounds_of_m2(&host), 2);
    let later = host.models_as_of(&store, AsOfPoint::Seq(40)).expect("as_of");
    assert_eq!(
        snapshot::encode(&later),
        snapshot::encode(&models_of(&log.records()[..41]))
    );
}

/// The warm-up a server runs after a start caches the newest snapshot point as an answer; later
/// answers start from it (taken, or copied while a request holds it) or decode into its
/// memory, and each equals a fresh replay.
#[test]
fn warmed_as_of_answers_equal_fresh_replays() {
    let log = scenario::build();
    let records = log.records();
    let (dir, store) = store_with(records);
    let config = HostConfig {
        snapshot_interval_records: 20,
        ..HostConfig::default()
    };
    let (host, _) = ModelHost::open(&store, Some(&dir.path().join("models")), config).expect("open");
    let length = records.len() as u64;
    assert!(length > 45, "the scenario spans more than two intervals");
    let snapshot_point = (length - 1) / 20 * 20;
    let replayed = |seq: u64| snapshot::encode(&models_of(&records[..=seq as usize]));
    assert!(
        host.warm_as_of(&store).expect("warm"),
        "a snapshot point before the head is cached"
    );
    assert!(
        !host.warm_as_of(&store).expect("warm again"),
        "the cache is not empty"
    );

    let warmed = host
        .models_as_of(&store, AsOfPoint::Seq(snapshot_point - 1))
        .expect("as_of");
    assert_eq!(snapshot::encode(&warmed), replayed(snapshot_point - 1));
    // Later in the last interval: starts from the warmed answer, which a request still holds,
    // so it is copied, never changed under that request.
    let later = host
        .models_as_of(&store, AsOfPoint::Seq(length - 2))
        .expect("as_of");
    assert_eq!(snapshot::encode(&later), replayed(length - 2));
    assert_eq!(snapshot::encode(&warmed), replayed(snapshot_point - 1));
    drop((warmed, later));
    // An earlier interval: the snapshot point is decoded into the evicted answer's memory.
    let earlier = host
        .models_as_of(&store, AsOfPoint::Seq(snapshot_point - 3))
        .expect("as_of");
    assert_eq!(snapshot::encode(&earlier), replayed(snapshot_point - 3));
    drop(earlier);
    // Held by no request: the cached answer is taken and replayed further.
    let further = host
        .models_as_of(&store, AsOfPoint::Seq(snapshot_point - 2))
        .expect("as_of");
    assert_eq!(snapshot::encode(&further), replayed(snapshot_point - 2));

    let (_, store_without) = store_with(records);
    let (bare, _) = ModelHost::open(&store_without, None, HostConfig::default()).expect("open");
    assert!(
        !bare.warm_as_of(&store_without).expect("warm"),
        "no snapshots, nothing to warm"
    );
}

/// What [`log_of_compounds_and_members`] appends after the community.
enum Entry<'a> {
    /// A compound `Qn` of the community `M`.
    Compound(u32),
    /// A member (id key, name) living in `Q0`.
    Member(&'a str, &'a str),
}

/// A log of a county, a town and a community `M`, then `entries` in order.
fn log_of_compounds_and_members(entries: &[Entry]) -> crate::support::LogBuilder {
    use serde_json::json;
    let mut log = crate::support::LogBuilder::new();
    log.push(json!({"type": "AreaRegistered", "area_id": id("C"), "kind": "county", "name": "C"}));
    log.push(json!({"type": "AreaRegistered", "area_id": id("T"), "kind": "town", "name": "T", "parent_id": id("C")}));
    log.push(json!({"type": "AreaRegistered", "area_id": id("M"), "kind": "community", "name": "M", "parent_id": id("T")}));
    for entry in entries {
        log.push(match entry {
            Entry::Compound(n) => {
                json!({"type": "AreaRegistered", "area_id": id(&format!("Q{n}")), "kind": "compound",
                "name": format!("Q{n}"), "parent_id": id("M")})
            }
            Entry::Member(member, name) => {
                json!({"type": "MemberEnrolled", "member_id": id(member), "name": name,
                "category": "retired", "home_area_id": id("Q0")})
            }
        });
    }
    log
}

/// Whether the member ledger at `seq` shows `name`.
fn ledger_shows(host: &ModelHost, store: &govrec_store::Store, seq: u64, name: &str) -> bool {
    let models = host.models_as_of(store, AsOfPoint::Seq(seq)).expect("as_of");
    let page = models
        .members_ledger(None, &ReadScope::AllCounties, &Default::default())
        .expect("ledger");
    serde_json::to_string(&page).expect("json").contains(name)
}

/// Redacts the `name` of record `target_seq` as the server does: past answers forgotten just
/// before the append and again after it.
fn redact_name(host: &ModelHost, store: &govrec_store::Store, target_seq: u64) {
    host.forget_past_answers(target_seq).expect("forget");
    let redaction = govrec_core::event::Redacted {
        target_seq,
        fields: vec!["name".to_owned()],
        reason: "本人申请".to_owned(),
    };
    store
        .append("admin-1", vec![NewEvent::new(redaction)])
        .expect("redact");
    host.forget_past_answers(target_seq).expect("forget");
}

/// After a redaction, until the rebuild that follows it has swapped in, an `as_of` must not
/// come from a snapshot point written before the redaction: those still hold the erased value.
#[test]
fn as_of_after_a_redaction_never_shows_the_erased_value() {
    const NAME: &str = "王秀英";
    // Seq 4: the member whose name is redacted.
    let mut entries = vec![Entry::Compound(0), Entry::Member("W", NAME)];
    entries.extend((1..31).map(Entry::Compound));
    let log = log_of_compounds_and_members(&entries);
    let (dir, store) = store_with(log.records());
    let config = HostConfig {
        snapshot_interval_records: 10,
        ..HostConfig::default()
    };
    let (host, _) = ModelHost::open(&store, Some(&dir.path().join("models")), config).expect("open");
    let shows_name = |seq: u64| ledger_shows(&host, &store, seq, NAME);
    assert!(shows_name(25), "before the redaction the name is there");
    redact_name(&host, &store, 4);
    assert!(
        !host.warm_as_of(&store).expect("warm"),
        "no warm-up from old snapshot points"
    );
    assert!(
        !shows_name(25),
        "not from the cache nor from a snapshot point of before the redaction"
    );
    assert!(!shows_name(15));
    let pending = dir.path().join("models").join(snapshot::REDACTION_PENDING);
    assert!(pending.exists(), "marked durably until the rebuild");
    host.rebuild(&store, |_| {}).expect("rebuild");
    assert!(!pending.exists(), "the rebuild covered the redaction");
    assert!(!shows_name(25), "nor from the rebuilt snapshot points");
}

/// Until the rebuild after a redaction is done, `as_of` still starts from the snapshot points
/// written before the redacted record (they never held its values), not from the start of the
/// log; later snapshot points are not trusted, and a second redaction of an earlier record lowers
/// that bound. After the rebuild every snapshot point serves again.
#[test]
fn as_of_after_a_redaction_starts_from_snapshot_points_before_the_redacted_record() {
    const NAME: &str = "李桂兰";
    // Seq 4: a member a second redaction erases; seq 27: the one redacted first.
    let mut entries = vec![Entry::Compound(0), Entry::Member("V", "张建国")];
    entries.extend((1..23).map(Entry::Compound));
    entries.push(Entry::Member("W", NAME));
    entries.extend((23..39).map(Entry::Compound));
    let log = log_of_compounds_and_members(&entries);
    let (dir, store) = store_with(log.records());
    assert!(matches!(
        store.get(27).expect("get").expect("seq 27").event,
        govrec_core::Event::MemberEnrolled(_)
    ));
    let config = HostConfig {
        snapshot_interval_records: 10,
        ..HostConfig::default()
    };
    let (host, _) = ModelHost::open(&store, Some(&dir.path().join("models")), config).expect("open");
    let shows_name = |seq: u64| ledger_shows(&host, &store, seq, NAME);
    assert_eq!(host.as_of_snapshot_point_for(41).expect("start"), 40);
    assert!(shows_name(40));
    redact_name(&host, &store, 27);
    assert_eq!(
        host.as_of_snapshot_point_for(41).expect("start"),
        20,
        "the newest snapshot point written before record 27"
    );
    assert_eq!(host.as_of_snapshot_point_for(15).expect("start"), 10);
    assert!(!shows_name(40));
    assert!(!shows_name(35));
    redact_name(&host, &store, 4);
    assert_eq!(
        host.as_of_snapshot_point_for(41).expect("start"),
        0,
        "the floor only goes down"
    );
    host.rebuild(&store, |_| {}).expect("rebuild");
    assert_eq!(host.as_of_snapshot_point_for(41).expect("start"), 40);
    assert!(!shows_name(40), "nor from the rebuilt snapshot points");
}

/// A stop between a redaction and the end of its rebuild (a crash): the next start does not
/// trust the snapshots, which may hold the erased value, and replays into a new generation.
#[test]
fn a_start_after_an_unfinished_redaction_rebuild_sets_the_snapshots_aside() {
    let log = scenario::build();
    let records = log.records();
    let (dir, store) = store_with(records);
    let models_dir = dir.path().join("models");
    let config = HostConfig {
        snapshot_interval_records: 20,
        ..HostConfig::default()
    };
    {
        let (host, opened) = ModelHost::open(&store, Some(&models_dir), config.clone()).expect("open");
        assert!(!opened.redaction_pending);
        host.forget_past_answers(0).expect("forget");
    }
    let (host, opened) = ModelHost::open(&store, Some(&models_dir), config.clone()).expect("reopen");
    assert!(opened.redaction_pending);
    assert_eq!(opened.snapshot_records, 0, "no snapshot trusted");
    assert!(!models_dir.join(snapshot::REDACTION_PENDING).exists());
    let as_of = host.models_as_of(&store, AsOfPoint::Seq(30)).expect("as_of");
    assert_eq!(
        snapshot::encode(&as_of),
        snapshot::encode(&models_of(&records[..31]))
    );
    drop(host);
    let (_, opened) = ModelHost::open(&store, Some(&models_dir), config).expect("third open");
    assert!(!opened.redaction_pending);
    assert_eq!(
        opened.snapshot_records,
        records.len() as u64,
        "the new generation is used"
    );
}
