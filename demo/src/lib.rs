//! The demo data set of `govrec demo` and `govrec serve --demo`: a year (2026) of records of
//! the four Datong counties of `shared/domain.md`, built from a fixed seed and appended through
//! [`Store::append`], so every event passes the same rules as any append, and every load writes
//! the same events with the same event ids, entity ids and business dates (only the server
//! times, and the record hashes over them, differ). Determinism holds for the crate versions in
//! `Cargo.lock` (`rand_chacha`'s stream and `fake`'s name lists are part of it).
//!
//! Queried through the coverage read model it reproduces the figures of the source article
//! (`domain.md`, "Figures from the source article"). Where the article is inconsistent it is
//! read as follows, and the generator builds exactly that:
//!
//! - 广灵县: 6 communities, 77 compounds, 53,000 residents (20,385 households at 2.6 persons a
//!   household). It founds "14个小区党支部" and also claims "实现党的组织全覆盖"; a compound branch
//!   covers one compound, so the 14 are the branches of the 14 largest compounds and the other
//!   63 compounds are covered by 12 grid branches (a number the article does not give): 77 of
//!   77 covered, 14 compound branches. All 77 county work units report to a community (and each
//!   pairs with one compound), and 1,830 of their in-service members, living in the county,
//!   report to their compound (64 more have not reported yet). The 5,000 yuan a year per branch
//!   has no event in the catalogue and is not recorded.
//! - 浑源县: 96 compounds and 65 compound/grid branches with full coverage. The article's "42个
//!   小区党支部" next to 12 grid branches does not add up to 65; read as 65 − 12 = 53 compound
//!   branches for 53 of the 54 larger compounds, and 12 grid branches covering the 42 small
//!   compounds plus the 54th larger one (临近联建): 53 + 43 = 96. 65 secretaries (three of them
//!   replaced during the year, "及时作出调整"). Every compound has a venue: 35 transferred
//!   (清理移交社区服务用房35处), 39 built, and 22 shared with the community's service centre
//!   (35 + 39 + 22 = 96). Every compound is paired with a county work unit.
//! - 左云县: 52 compounds, each with a compound branch and a building group (楼栋党小组) per
//!   building; 51 compound service stations (venues, "50余个"); 1,582 in-service members
//!   reported; 520 resident or retired members reported with the post `volunteer` ("500余名志愿
//!   者"); 256 outreach activities (services of kind `policy_talk`, `legal_class` or
//!   `performance`, "250余场次") and 124 other activities (kind `visit`, `volunteering` or
//!   `other`, "120余次"). No other service in the county has an outreach kind.
//! - 灵丘县: 48 grid branches and 50 compound branches with full coverage, read as one branch per
//!   compound: 50 larger compounds with their own branch and 48 small ones each covered by its
//!   grid's branch, so 98 compounds. Every compound has all five haves (小区全部成立党群服务站,
//!   应急预案, 议事平台). Two members pair with every building unit of the county ("每2名党员包联1
//!   个单元"). 天和逸居小区 (the article's spelling) has 102 households and 64 members living
//!   there (22 in-service, all reported there, 26 retired, 16 resident), in 3 buildings of 3
//!   units each.
//!
//! Where the article is silent the data are invented but plausible: people's names come from
//! the `fake` crate's zh_CN locale; community and compound names are composed from word lists;
//! the year runs from registrations in January to [`DEMO_LAST_DATE`], with reports, services,
//! pairings, quarterly and half-year evaluations (some amended, some retracted), member updates,
//! and complaints in every state (filed, dispatched, accepted, resolved, rated, reopened), some
//! of them overdue; the last days remove a few members, withdraw reports, end pairings and
//! retire a demolished building. Complaint times to resolve come from the records' server
//! times, so in a freshly loaded demo they are seconds, not the days the business dates show.

use std::collections::BTreeMap;
use std::fmt;

use govrec_core::{Event, State, Violation};
use govrec_store::{NewEvent, Store, StoreError};
use uuid::Uuid;

use generator::build_demo;

mod counties;
mod generator;
mod words;

/// The seed of the demo: the same seed (and the same `Cargo.lock`), the same log.
pub const DEMO_SEED: u64 = 20_260_101;
/// The actor the CLI records the demo's events under.
pub const DEMO_ACTOR: &str = "govrec-demo";
/// Events per append: the store's default batch limit.
pub const DEMO_BATCH_EVENTS_MAX: usize = 1000;
/// The business date of the demo's last records.
pub const DEMO_LAST_DATE: &str = "2026-11-20";

/// The names of the four counties, as the demo registers them.
pub const GUANGLING: &str = "广灵县";
pub const HUNYUAN: &str = "浑源县";
pub const ZUOYUN: &str = "左云县";
pub const LINGQIU: &str = "灵丘县";
/// The model compound of 灵丘县 the article describes.
pub const TIANHE_YIJU: &str = "天和逸居小区";

/// Why the demo could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The store already holds records; the demo only goes into an empty store. Use another
    /// data directory.
    #[error("the store is not empty (it holds {records} records); the demo loads only into an empty store")]
    NotEmpty { records: u64 },
    /// The generator made an event the rules refuse: a defect of this module. Checked before
    /// anything is appended, so the store is still empty.
    #[error("the demo generator made an invalid event (seq {}): {violation}", first_seq + violation.index as u64)]
    Invalid { first_seq: u64, violation: Violation },
    /// The store refused or failed an append (I/O, shutdown). The events before `first_seq`
    /// are stored; start again with an empty data directory.
    #[error("appending the demo's events from seq {first_seq} failed: {source}")]
    Append {
        first_seq: u64,
        #[source]
        source: StoreError,
    },
}

/// What [`load_demo`] loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    pub records: u64,
    /// The hash of the last record (lowercase hex).
    pub head_hash: String,
    /// Events per type (the JSON `type`).
    pub events_by_type: BTreeMap<&'static str, u64>,
    pub counties: Vec<DemoCounty>,
    /// The area id of 天和逸居小区.
    pub tianhe_yiju: Uuid,
}

/// One county of the demo, with what was registered there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoCounty {
    pub name: &'static str,
    pub id: Uuid,
    pub communities: u64,
    pub compounds: u64,
    pub buildings: u64,
    pub households: u64,
    pub work_units: u64,
    pub members: u64,
    pub complaints: u64,
}

impl DemoSummary {
    /// The county of that name ([`GUANGLING`], [`HUNYUAN`], [`ZUOYUN`], [`LINGQIU`]).
    pub fn county(&self, name: &str) -> Option<&DemoCounty> {
        self.counties.iter().find(|county| county.name == name)
    }
}

impl fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "loaded the demo: {} records, head seq {} hash {}",
            self.records,
            self.records.saturating_sub(1),
            self.head_hash
        )?;
        for county in &self.counties {
            writeln!(
                f,
                "  {} {}: {} communities, {} compounds, {} buildings, {} households, {} work units, \
                 {} members, {} complaints",
                county.name,
                county.id,
                county.communities,
                county.compounds,
                county.buildings,
                county.households,
                county.work_units,
                county.members,
                county.complaints
            )?;
        }
        write!(f, "  {TIANHE_YIJU} {}", self.tianhe_yiju)
    }
}

/// Loads the demo into an empty store, in batches of [`DEMO_BATCH_EVENTS_MAX`], recorded under
/// `actor`. The whole log is checked against the rules before the first append, so a defect of
/// the generator leaves the store empty.
pub fn load_demo(store: &Store, actor: &str) -> Result<DemoSummary, DemoError> {
    let records = store.head().next_seq;
    if records > 0 {
        return Err(DemoError::NotEmpty { records });
    }
    let demo = build_demo();
    let mut state = State::new();
    for (number, batch) in demo.events.chunks(DEMO_BATCH_EVENTS_MAX).enumerate() {
        let events: Vec<Event> = batch.iter().map(|new| new.event.clone()).collect();
        let first_seq = (number * DEMO_BATCH_EVENTS_MAX) as u64;
        state
            .check_and_apply(first_seq, &events)
            .map_err(|violation| DemoError::Invalid { first_seq, violation })?;
    }
    let mut events_by_type = BTreeMap::new();
    for new in &demo.events {
        *events_by_type.entry(new.event.event_type().name()).or_insert(0) += 1;
    }
    let mut remaining = demo.events.into_iter().peekable();
    while remaining.peek().is_some() {
        let batch: Vec<NewEvent> = remaining.by_ref().take(DEMO_BATCH_EVENTS_MAX).collect();
        let first_seq = store.head().next_seq;
        store
            .append(actor, batch)
            .map_err(|source| DemoError::Append { first_seq, source })?;
    }
    let head = store.head();
    Ok(DemoSummary {
        records: head.next_seq,
        head_hash: head.hash.to_string(),
        events_by_type,
        counties: demo.counties,
        tianhe_yiju: demo.tianhe_yiju,
    })
}
