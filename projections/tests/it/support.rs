//! Helpers shared by the test modules: a log builder that checks every event against the
//! real rules (`govrec_core::State`) and gives records chosen times, so figures that depend on
//! time (hours to resolve, periods, overdue) can be computed by hand.

use govrec_core::{event_from_json, Event, State};
use govrec_projections::Models;
use govrec_store::{event_hash, BusinessDate, Hash32, Record, RecordedAt, Store, StoreConfig};
use serde_json::Value;
use tempfile::TempDir;
use uuid::Uuid;

/// 2026-03-01T00:00:00Z in microseconds.
pub const MARCH_FIRST_2026_US: i64 = 1_772_323_200_000_000;
const HOUR_US: i64 = 3_600_000_000;

/// A deterministic id per name, so scenarios name their entities.
pub fn id(name: &str) -> Uuid {
    let digest = blake3::hash(name.as_bytes());
    Uuid::from_slice(&digest.as_bytes()[..16]).expect("16 bytes")
}

/// Builds a valid, hash-chained log with chosen times and business dates.
pub struct LogBuilder {
    state: State,
    records: Vec<Record>,
    /// Server time of the next record.
    clock_us: i64,
    /// `occurred_on` of the next record; the UTC date of the clock when `None`.
    occurred_on: Option<BusinessDate>,
    actor: String,
}

impl Default for LogBuilder {
    fn default() -> Self {
        LogBuilder {
            state: State::new(),
            records: Vec::new(),
            clock_us: MARCH_FIRST_2026_US,
            occurred_on: None,
            actor: "recorder-1".to_owned(),
        }
    }
}

impl LogBuilder {
    pub fn new() -> LogBuilder {
        LogBuilder::default()
    }

    /// Moves the clock to `hours` after 2026-03-01T00:00:00Z (never backwards).
    pub fn hour(&mut self, hours: i64) -> &mut Self {
        let clock = MARCH_FIRST_2026_US + hours * HOUR_US;
        assert!(clock >= self.clock_us, "the clock never goes back");
        self.clock_us = clock;
        self
    }

    /// Sets `occurred_on` for the following records (`None`: the clock's date).
    pub fn on(&mut self, date: Option<&str>) -> &mut Self {
        self.occurred_on = date.map(|date| BusinessDate::parse(date).expect("a date"));
        self
    }

    pub fn actor(&mut self, actor: &str) -> &mut Self {
        self.actor = actor.to_owned();
        self
    }

    /// Appends an event given in its JSON form; panics if it breaks a rule.
    pub fn push(&mut self, json: Value) -> &mut Self {
        let event = event_from_json(json.clone()).unwrap_or_else(|error| panic!("{json}: {error}"));
        self.push_event(event)
    }

    pub fn push_event(&mut self, event: Event) -> &mut Self {
        let seq = self.records.len() as u64;
        if let Err(violation) = self.state.check_and_apply(seq, std::slice::from_ref(&event)) {
            panic!("event {seq} breaks a rule: {violation:?}");
        }
        self.record(event)
    }

    /// Appends the event if it passes the rules; says whether it did.
    pub fn try_push_event(&mut self, event: Event) -> bool {
        let seq = self.records.len() as u64;
        let passed = self
            .state
            .check_and_apply(seq, std::slice::from_ref(&event))
            .is_ok();
        if passed {
            self.record(event);
        }
        passed
    }

    /// Moves the clock forward by `minutes`.
    pub fn advance_minutes(&mut self, minutes: i64) -> &mut Self {
        self.clock_us += minutes * 60_000_000;
        self
    }

    fn record(&mut self, event: Event) -> &mut Self {
        let seq = self.records.len() as u64;
        let recorded_at = RecordedAt::from_micros(self.clock_us);
        let occurred_on = self
            .occurred_on
            .unwrap_or_else(|| BusinessDate::of(RecordedAt::from_micros(self.clock_us)));
        let prev_hash = self.records.last().map_or(Hash32::ZERO, |record| record.hash);
        let mut record = Record {
            seq,
            id: Uuid::from_u64_pair(0x0193_0000_0000_7000, seq),
            recorded_at,
            occurred_on,
            actor: self.actor.clone(),
            event_hash: event_hash(&event),
            event,
            prev_hash,
            hash: Hash32::ZERO,
            redaction: None,
        };
        record.hash = record.computed_hash();
        // A redaction erases its target's fields from the log itself (as the store keeps and
        // serves it), so every view of the records, at any position, shows them erased.
        if let Event::Redacted(redacted) = &record.event {
            if let Some(target) = self.records.get_mut(redacted.target_seq as usize) {
                govrec_core::personal::erase_fields(&mut target.event, &redacted.fields);
                target.redaction = Some(govrec_store::Redaction {
                    by_seq: seq,
                    fields: redacted.fields.clone(),
                });
            }
        }
        self.records.push(record);
        self
    }

    /// The seq the next record gets.
    pub fn next_seq(&self) -> u64 {
        self.records.len() as u64
    }

    pub fn records(&self) -> &[Record] {
        &self.records
    }
}

/// The models of `records`, applied one by one.
pub fn models_of(records: &[Record]) -> Models {
    let mut models = Models::new();
    for record in records {
        models.apply(record).unwrap_or_else(|error| panic!("{error}"));
    }
    models
}

/// A store in a temporary directory holding exactly `records` (restored, times kept).
pub fn store_with(records: &[Record]) -> (TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("log"), StoreConfig::default()).expect("open store");
    for chunk in records.chunks(500) {
        store.restore(chunk.to_vec()).expect("restore");
    }
    (dir, store)
}

/// A JSON value with its keys sorted, for whole-answer comparisons.
pub fn json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("answers serialise")
}

/// The seq of the first record of `event_type` whose `field` is `value`.
pub fn seq_where(log: &LogBuilder, event_type: &str, field: &str, value: Value) -> u64 {
    log.records()
        .iter()
        .find(|record| {
            let event = govrec_core::event_to_json(&record.event);
            event["type"] == event_type && event[field] == value
        })
        .unwrap_or_else(|| panic!("no {event_type} with {field} = {value}"))
        .seq
}

/// `{"seq", "recorded_at", "occurred_on"}` of record `seq`.
pub fn stamp(log: &LogBuilder, seq: u64) -> Value {
    let record = &log.records()[seq as usize];
    serde_json::json!({"seq": seq, "recorded_at": record.recorded_at.to_rfc3339(),
        "occurred_on": record.occurred_on.to_iso()})
}
