//! [`ModelHost`]: the models a server answers from, kept up to date with the log, restored
//! from snapshots on start, rebuilt without downtime, and able to answer `as_of` a past point.
//!
//! - Reads take an `Arc<Models>` ([`ModelHost::models`]) and never wait for a replay.
//! - [`ModelHost::catch_up`] applies the records appended since; it decodes them outside any
//!   lock and holds the write lock only to apply them (microseconds per record). If a reader
//!   still holds the previous `Arc`, the models are copied once (copy-on-write).
//! - [`ModelHost::rebuild`] replays the whole log into fresh models while the old ones keep
//!   answering (and keep catching up), then catches the fresh ones up under the lock and swaps.
//! - Snapshots: every `snapshot_interval_records` records (and on
//!   [`ModelHost::save_snapshot`]) the models are saved to the snapshot database. On open the
//!   newest snapshot that matches the log is loaded and only the records after it replayed.
//! - `as_of`: the models at seq k are the newest snapshot point at or before k, plus a replay of
//!   the records up to k: at most one snapshot decode plus `snapshot_interval_records`
//!   records. A time maps to the last record with `recorded_at` ≤ that time, by binary search
//!   over the log (`recorded_at` never decreases along seq). Recent answers are cached.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use govrec_store::{RecordedAt, Store};

use crate::error::ProjectionError;
use crate::model::Models;
use crate::replay::{
    replay_until, report, ReplayProgress, ReplayReport, SnapshotPoints, REPLAY_BATCH_RECORDS,
};
use crate::snapshot::SnapshotStore;

/// Settings of a [`ModelHost`]; every limit is named with its unit last.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Records between two snapshot points: the bound on the replay an `as_of` answer or a
    /// restart needs.
    pub snapshot_interval_records: u64,
    /// Snapshot points kept per generation; older ones are deleted (an `as_of` before the oldest
    /// kept then replays from the start of the log).
    pub snapshot_points_max: usize,
    /// Past models kept in memory for repeated `as_of` reads (paging through an old ledger).
    /// Each costs about as much memory as the current models.
    pub as_of_cache_entries: usize,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            snapshot_interval_records: 50_000,
            snapshot_points_max: 512,
            as_of_cache_entries: 1,
        }
    }
}

/// A point of the log an answer may be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOfPoint {
    /// The models after record `seq`.
    Seq(u64),
    /// The models after the last record recorded at or before this time (empty models when
    /// the log starts later).
    Time(RecordedAt),
}

impl AsOfPoint {
    /// Parses `api.md`'s `as_of`: a log position (`1234`) or an RFC 3339 time.
    pub fn parse(text: &str) -> Option<AsOfPoint> {
        if let Ok(seq) = text.parse::<u64>() {
            return Some(AsOfPoint::Seq(seq));
        }
        let timestamp: jiff::Timestamp = text.parse().ok()?;
        Some(AsOfPoint::Time(RecordedAt::from_micros(
            timestamp.as_microsecond(),
        )))
    }
}

/// What [`ModelHost::open`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostOpened {
    /// The number of records the snapshot it started from reflected (0: none usable).
    pub snapshot_records: u64,
    /// Snapshots found unusable (damaged, stale, another format) and deleted.
    pub snapshots_discarded: u64,
    /// Records replayed after the snapshot.
    pub records_replayed: u64,
    /// A redaction's rebuild had not finished when the service last stopped: the snapshots
    /// were set aside and the log replayed into a new generation.
    pub redaction_pending: bool,
}

/// The live models and the machinery that keeps them current.
pub struct ModelHost {
    current: RwLock<Arc<Models>>,
    snapshots: Option<SnapshotStore>,
    /// Held while changing `current` (catch-up, the end of a rebuild).
    maintenance: Mutex<()>,
    /// Held for a whole rebuild: one at a time.
    rebuilding: Mutex<()>,
    /// A [`ModelHost::rebuild_coalesced`] waits for `rebuilding` and has not begun yet.
    rebuild_waiting: AtomicBool,
    redactions: Mutex<Redactions>,
    as_of_cache: Mutex<AsOfCache>,
    config: HostConfig,
}

/// The redactions reported by [`ModelHost::forget_past_answers`] and what the snapshots
/// reflect of them, under one lock so that a report is never seen half made.
#[derive(Debug)]
struct Redactions {
    /// Reported since the start.
    reported: u64,
    /// How many of them the snapshots' generation reflects (the count when the rebuild that
    /// made it began). While it is behind, snapshot points may hold erased values.
    in_snapshots: u64,
    /// While snapshot points may hold erased values: the lowest seq a reported redaction erases
    /// from. A snapshot point at a position at or below it reflects only records before it, so it
    /// never held the erased values and `as_of` may still start from it. `u64::MAX` once the
    /// snapshots reflect every redaction reported.
    floor: u64,
}

impl Redactions {
    /// Whether the snapshot points reflect every redaction reported.
    fn current(&self) -> bool {
        self.in_snapshots >= self.reported
    }

    /// The latest position from which snapshot points may serve an answer at `position`.
    fn snapshot_points_usable_to(&self, position: u64) -> u64 {
        if self.current() {
            position
        } else {
            position.min(self.floor)
        }
    }
}

/// Past models kept for `as_of`, newest first, and how many times the cache was emptied
/// because the log's content changed (a rebuild after a redaction): an answer built from
/// before the last emptying is handed out, but never cached.
#[derive(Default)]
struct AsOfCache {
    answers: VecDeque<Arc<Models>>,
    epoch: u64,
}

impl ModelHost {
    /// Restores the models of `store`'s log: from the newest usable snapshot in
    /// `snapshot_dir` (none: from the start), then catches up with the log.
    pub fn open(
        store: &Store,
        snapshot_dir: Option<&Path>,
        config: HostConfig,
    ) -> Result<(ModelHost, HostOpened), ProjectionError> {
        let snapshots = snapshot_dir.map(SnapshotStore::open).transpose()?;
        let redaction_pending = snapshots.as_ref().is_some_and(SnapshotStore::redaction_pending);
        let mut opened = HostOpened {
            snapshot_records: 0,
            snapshots_discarded: 0,
            records_replayed: 0,
            redaction_pending,
        };
        let mut models = Models::new();
        if let Some(snapshots) = snapshots.as_ref().filter(|_| !redaction_pending) {
            let loaded = snapshots.load_at_or_before(store, store.head().next_seq)?;
            opened.snapshots_discarded = loaded.discarded;
            if let Some(loaded) = loaded.models {
                models = loaded;
            }
        }
        opened.snapshot_records = models.next_seq();
        if let Some(snapshots) = &snapshots {
            // After a redaction whose rebuild did not finish (a crash), the snapshots may hold
            // erased values: replay into a new generation, which destroys the old one's key.
            let generation = snapshots.generation()? + u64::from(redaction_pending);
            if redaction_pending {
                snapshots.begin_generation(generation)?;
            }
            let snapshot_points = SnapshotPoints {
                snapshots,
                generation,
                interval: config.snapshot_interval_records.max(1),
            };
            replay_until(
                &mut models,
                store,
                store.head().next_seq,
                Some(snapshot_points),
                &mut |_| {},
            )?;
            if redaction_pending {
                // The final snapshot follows below, as after any replay at a start.
                snapshots.switch_to(generation)?;
                snapshots.clear_redaction_pending()?;
            }
        } else {
            replay_until(&mut models, store, store.head().next_seq, None, &mut |_| {})?;
        }
        let host = ModelHost {
            current: RwLock::new(Arc::new(models)),
            snapshots,
            maintenance: Mutex::new(()),
            rebuilding: Mutex::new(()),
            rebuild_waiting: AtomicBool::new(false),
            redactions: Mutex::new(Redactions {
                reported: 0,
                in_snapshots: 0,
                floor: u64::MAX,
            }),
            as_of_cache: Mutex::new(AsOfCache::default()),
            config,
        };
        host.catch_up(store)?;
        opened.records_replayed = host.models().next_seq() - opened.snapshot_records;
        if opened.records_replayed > 0 {
            host.save_snapshot()?;
        }
        Ok((host, opened))
    }

    /// The current models. Cheap; hold the `Arc` for as long as one answer takes.
    pub fn models(&self) -> Arc<Models> {
        self.current.read().expect("models lock").clone()
    }

    /// Applies the records appended since the models were last brought up to date, saving
    /// snapshot points on the way. Returns how many records it applied.
    pub fn catch_up(&self, store: &Store) -> Result<u64, ProjectionError> {
        let _maintenance = self.maintenance.lock().expect("maintenance lock");
        let start = self.models().next_seq();
        let end = store.head().next_seq;
        let mut next = start;
        while next < end {
            let stop = self.chunk_end(next, end);
            let records = store.read_range(next, (stop - next) as usize)?;
            {
                let mut slot = self.current.write().expect("models lock");
                let models = Arc::make_mut(&mut slot);
                for record in &records {
                    models.apply(record)?;
                }
            }
            next += records.len() as u64;
            if records.is_empty() {
                break;
            }
            if is_boundary(next, self.interval()) {
                self.save_snapshot_point(&self.models())?;
            }
        }
        Ok(next - start)
    }

    /// Where a catch-up chunk starting at `next` stops: at most a batch, never across a
    /// snapshot point boundary (so a snapshot point is taken exactly there).
    fn chunk_end(&self, next: u64, end: u64) -> u64 {
        let boundary = (next / self.interval() + 1) * self.interval();
        end.min(boundary).min(next + REPLAY_BATCH_RECORDS as u64)
    }

    fn interval(&self) -> u64 {
        self.config.snapshot_interval_records.max(1)
    }

    /// Replays the whole log into fresh models while the current ones keep answering, writes
    /// the fresh models' snapshot points under a new snapshot generation, catches them up with
    /// whatever was appended meanwhile, and swaps them in. Old snapshots are deleted after the
    /// swap. `POST /v1/admin/rebuild` and `govrec replay`.
    pub fn rebuild(
        &self,
        store: &Store,
        progress: impl FnMut(ReplayProgress),
    ) -> Result<ReplayReport, ProjectionError> {
        let _rebuilding = self.rebuilding.lock().expect("rebuild lock");
        self.rebuild_locked(store, progress)
    }

    /// [`ModelHost::rebuild`] for a change of the log's content (a redaction), coalesced: when
    /// another caller's rebuild is already waiting and has not begun reading the log, that one
    /// will see this change too, so this returns `Ok(None)` at once. A burst of redactions
    /// therefore costs the rebuild that is running plus one more, not one rebuild each.
    pub fn rebuild_coalesced(&self, store: &Store) -> Result<Option<ReplayReport>, ProjectionError> {
        if self.rebuild_waiting.swap(true, Ordering::SeqCst) {
            return Ok(None);
        }
        let _rebuilding = self.rebuilding.lock().expect("rebuild lock");
        // From here on, a new request waits for a rebuild of its own: this one may already
        // have read past its change.
        self.rebuild_waiting.store(false, Ordering::SeqCst);
        self.rebuild_locked(store, |_| {}).map(Some)
    }

    fn rebuild_locked(
        &self,
        store: &Store,
        mut progress: impl FnMut(ReplayProgress),
    ) -> Result<ReplayReport, ProjectionError> {
        let started = Instant::now();
        // Every redaction reported before this point is in the log this rebuild reads.
        let redactions = self.redactions.lock().expect("redactions lock").reported;
        let generation = match &self.snapshots {
            Some(snapshots) => {
                let generation = snapshots.generation()? + 1;
                snapshots.begin_generation(generation)?;
                generation
            }
            None => 0,
        };
        let snapshot_points = self.snapshots.as_ref().map(|snapshots| SnapshotPoints {
            snapshots,
            generation,
            interval: self.interval(),
        });
        let mut fresh = Models::new();
        replay_until(
            &mut fresh,
            store,
            store.head().next_seq,
            snapshot_points,
            &mut progress,
        )?;
        let _maintenance = self.maintenance.lock().expect("maintenance lock");
        replay_until(
            &mut fresh,
            store,
            store.head().next_seq,
            snapshot_points,
            &mut |_| {},
        )?;
        let report = report(&fresh, fresh.next_seq(), started);
        if let Some(snapshots) = &self.snapshots {
            snapshots.save(generation, &fresh)?;
            snapshots.switch_to(generation)?;
        }
        *self.current.write().expect("models lock") = Arc::new(fresh);
        {
            let mut state = self.redactions.lock().expect("redactions lock");
            state.in_snapshots = state.in_snapshots.max(redactions);
            if state.current() {
                state.floor = u64::MAX;
                if let Some(snapshots) = &self.snapshots {
                    snapshots.clear_redaction_pending()?;
                }
            }
        }
        self.empty_as_of_cache();
        Ok(report)
    }

    /// Call just before a redaction is appended and again once it is recorded (then rebuild):
    /// past answers may hold the erased values. `erased_from` is the lowest seq whose values
    /// it erases (its `target_seq`; 0 when unknown). The `as_of` cache is emptied (answers
    /// being built are kept out of it); until a rebuild that began after the last call has
    /// swapped in, `as_of` starts only from snapshot points at or below `erased_from` (they were
    /// written before that record was applied) or from the start of the log, never from
    /// snapshot points that may hold the value; and the snapshot directory is marked
    /// ([`crate::snapshot::REDACTION_PENDING`], durably) so that a start before that rebuild
    /// finishes does not trust them either. Calling it before the append as well covers a
    /// rebuild that starts between the two.
    pub fn forget_past_answers(&self, erased_from: u64) -> Result<(), ProjectionError> {
        {
            let mut state = self.redactions.lock().expect("redactions lock");
            state.floor = state.floor.min(erased_from);
            state.reported += 1;
        }
        self.empty_as_of_cache();
        match &self.snapshots {
            Some(snapshots) => snapshots.mark_redaction_pending(),
            None => Ok(()),
        }
    }

    /// The latest position from which snapshot points may serve an answer at `position`: all of
    /// them but those after a pending redaction's floor.
    fn snapshot_points_usable_to(&self, position: u64) -> u64 {
        self.redactions
            .lock()
            .expect("redactions lock")
            .snapshot_points_usable_to(position)
    }

    /// The position an `as_of` answer at `position` would start from with the snapshots as
    /// they are (the newest usable snapshot point at or before it, 0 for the start of the log),
    /// leaving the cache out (for tests of which snapshot points are trusted).
    #[doc(hidden)]
    pub fn as_of_snapshot_point_for(&self, position: u64) -> Result<u64, ProjectionError> {
        match &self.snapshots {
            Some(snapshots) => Ok(snapshots
                .newest_at_or_before(self.snapshot_points_usable_to(position))?
                .unwrap_or(0)),
            None => Ok(0),
        }
    }

    fn empty_as_of_cache(&self) {
        let mut cache = self.as_of_cache.lock().expect("cache lock");
        cache.answers.clear();
        cache.epoch += 1;
    }

    /// Saves the current models as the snapshot a restart starts from (call it on shutdown;
    /// snapshot points are saved anyway every `snapshot_interval_records`).
    pub fn save_snapshot(&self) -> Result<(), ProjectionError> {
        let models = self.models();
        self.save_snapshot_point(&models)
    }

    fn save_snapshot_point(&self, models: &Models) -> Result<(), ProjectionError> {
        let Some(snapshots) = &self.snapshots else {
            return Ok(());
        };
        let generation = snapshots.generation()?;
        snapshots.save(generation, models)?;
        snapshots.prune(generation, self.interval(), self.config.snapshot_points_max)
    }

    /// The models as they were at `point` of the log: the current ones when that is where they
    /// are, else the newest snapshot point at or before it plus a replay of at most
    /// `snapshot_interval_records` records.
    pub fn models_as_of(&self, store: &Store, point: AsOfPoint) -> Result<Arc<Models>, ProjectionError> {
        let Some(seq) = resolve(store, point)? else {
            return Ok(Arc::new(Models::new()));
        };
        let current = self.models();
        if current.watermark().is_some_and(|watermark| watermark.seq == seq) {
            return Ok(current);
        }
        let position = seq + 1;
        let epoch = self.cache_epoch();
        let cached = self.cached_at_or_before(position);
        if let Some(models) = cached.as_ref().filter(|models| models.next_seq() == position) {
            return Ok(models.clone());
        }
        let mut models = self.start_for(store, position, cached)?;
        // Make room first, so at most `as_of_cache_entries` past models plus the one being
        // built are ever in memory.
        self.cache_evict(self.config.as_of_cache_entries.saturating_sub(1));
        replay_until(&mut models, store, position, None, &mut |_| {})?;
        let models = Arc::new(models);
        self.cache_insert(models.clone(), epoch);
        Ok(models)
    }

    /// Decodes the newest snapshot point before the current models into the `as_of` cache, as the
    /// answer for that point. Call it in the background after a start or a rebuild: the first
    /// `as_of` then finds a start point (an answer in the last interval replays from it) or
    /// memory to decode into (any other answer reuses it), instead of faulting in the models'
    /// worth of fresh pages. It costs one snapshot decode, and while idle the memory of one
    /// past model, which a served `as_of` occupies anyway. Returns whether it cached an answer:
    /// not without snapshots, a cache, an earlier snapshot point, when the cache is not empty, or
    /// while a redaction's rebuild is pending.
    pub fn warm_as_of(&self, store: &Store) -> Result<bool, ProjectionError> {
        let Some(snapshots) = &self.snapshots else {
            return Ok(false);
        };
        let current = self.models();
        let epoch = self.cache_epoch();
        if self.config.as_of_cache_entries == 0
            || !self.redactions.lock().expect("redactions lock").current()
            || !self.as_of_cache.lock().expect("cache lock").answers.is_empty()
        {
            return Ok(false);
        }
        let Some(position) = current
            .next_seq()
            .checked_sub(1)
            .map(|before| snapshots.newest_at_or_before(before))
            .transpose()?
            .flatten()
            .filter(|&position| position > 0)
        else {
            return Ok(false);
        };
        let loaded = snapshots.load_sharing(store, position, Some(&current.lookup.entities), None)?;
        let Some(models) = loaded.models else {
            return Ok(false);
        };
        let mut cache = self.as_of_cache.lock().expect("cache lock");
        if cache.epoch != epoch || !cache.answers.is_empty() {
            return Ok(false);
        }
        cache.answers.push_front(Arc::new(models));
        Ok(true)
    }

    fn cache_epoch(&self) -> u64 {
        self.as_of_cache.lock().expect("cache lock").epoch
    }

    /// Caches a new answer, unless the cache was emptied since it was begun (at `epoch`): the
    /// log's content changed meanwhile, so the answer may hold values erased since.
    fn cache_insert(&self, models: Arc<Models>, epoch: u64) {
        let mut cache = self.as_of_cache.lock().expect("cache lock");
        if cache.epoch != epoch {
            return;
        }
        cache.answers.push_front(models);
        cache.answers.truncate(self.config.as_of_cache_entries);
    }

    /// Drops cached past models until at most `keep` remain, oldest first.
    fn cache_evict(&self, keep: usize) {
        let mut cache = self.as_of_cache.lock().expect("cache lock");
        cache.answers.truncate(keep);
    }

    /// The closest models at or before `position` to replay from: a cached answer or a
    /// snapshot point, whichever is later; empty models when neither exists.
    fn start_for(
        &self,
        store: &Store,
        position: u64,
        cached: Option<Arc<Models>>,
    ) -> Result<Models, ProjectionError> {
        // The current models' index serves any earlier point of the same log.
        let current = self.models();
        let shared_index = (current.next_seq() >= position).then_some(&current.lookup.entities);
        let Some(snapshots) = self.snapshots.as_ref() else {
            return Ok(cached.map_or_else(Models::default, |cached| self.take_or_copy(cached)));
        };
        let usable = self.snapshot_points_usable_to(position);
        let snapshot_point_position = snapshots.newest_at_or_before(usable)?.unwrap_or(0);
        if let Some(cached) = cached.filter(|cached| cached.next_seq() > snapshot_point_position) {
            return Ok(self.take_or_copy(cached));
        }
        if snapshot_point_position == 0 {
            return Ok(Models::default());
        }
        let loaded = snapshots.load_sharing(store, usable, shared_index, self.take_spare())?;
        Ok(loaded.models.unwrap_or_default())
    }

    /// A cached answer to replay further from: taken out of the cache when this answer would
    /// evict it anyway and no request holds it (no copy), else copied.
    fn take_or_copy(&self, cached: Arc<Models>) -> Models {
        let evicted = {
            let mut cache = self.as_of_cache.lock().expect("cache lock");
            let keep = self.config.as_of_cache_entries.saturating_sub(1);
            match cache
                .answers
                .iter()
                .position(|answer| Arc::ptr_eq(answer, &cached))
            {
                Some(index) if index >= keep => cache.answers.remove(index),
                _ => None,
            }
        };
        drop(evicted);
        Arc::try_unwrap(cached).unwrap_or_else(|shared| (*shared).clone())
    }

    /// The past model this answer evicts from the cache, when no request still holds it: the
    /// snapshot point is decoded into it, reusing its memory (see `snapshot::decode_sections`).
    fn take_spare(&self) -> Option<Models> {
        let evicted = {
            let mut cache = self.as_of_cache.lock().expect("cache lock");
            let keep = self.config.as_of_cache_entries.saturating_sub(1);
            (cache.answers.len() > keep)
                .then(|| cache.answers.pop_back())
                .flatten()
        };
        evicted.and_then(|models| Arc::try_unwrap(models).ok())
    }

    fn cached_at_or_before(&self, position: u64) -> Option<Arc<Models>> {
        let cache = self.as_of_cache.lock().expect("cache lock");
        cache
            .answers
            .iter()
            .filter(|models| models.next_seq() <= position)
            .max_by_key(|models| models.next_seq())
            .cloned()
    }
}

/// `govrec replay`: replays the whole log into fresh models, writing their snapshot points and a
/// final snapshot to `snapshot_dir` under a new generation, and switches to it (the previous
/// snapshots are deleted). Run it while no server uses `snapshot_dir` (sled locks it).
pub fn replay_into_snapshots(
    store: &Store,
    snapshot_dir: &Path,
    config: &HostConfig,
    mut progress: impl FnMut(ReplayProgress),
) -> Result<ReplayReport, ProjectionError> {
    let started = Instant::now();
    let snapshots = SnapshotStore::open(snapshot_dir)?;
    let generation = snapshots.generation()? + 1;
    snapshots.begin_generation(generation)?;
    let snapshot_points = SnapshotPoints {
        snapshots: &snapshots,
        generation,
        interval: config.snapshot_interval_records.max(1),
    };
    let mut models = Models::new();
    replay_until(
        &mut models,
        store,
        store.head().next_seq,
        Some(snapshot_points),
        &mut progress,
    )?;
    snapshots.save(generation, &models)?;
    snapshots.switch_to(generation)?;
    Ok(report(&models, models.next_seq(), started))
}

/// The seq a point names; `None` for a time before the first record.
fn resolve(store: &Store, point: AsOfPoint) -> Result<Option<u64>, ProjectionError> {
    let head = store.head();
    match point {
        AsOfPoint::Seq(seq) if seq < head.next_seq => Ok(Some(seq)),
        AsOfPoint::Seq(seq) => Err(ProjectionError::AsOfBeyondHead {
            seq,
            last: head.last_seq(),
        }),
        AsOfPoint::Time(time) => last_recorded_at_or_before(store, time, head.next_seq),
    }
}

/// Binary search over `0..end` for the last record with `recorded_at <= time`.
fn last_recorded_at_or_before(
    store: &Store,
    time: RecordedAt,
    end: u64,
) -> Result<Option<u64>, ProjectionError> {
    let (mut low, mut high) = (0, end);
    while low < high {
        let middle = low + (high - low) / 2;
        let record = store
            .get(middle)?
            .ok_or_else(|| ProjectionError::AsOfBeyondHead {
                seq: middle,
                last: end.checked_sub(1),
            })?;
        if record.recorded_at <= time {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    Ok(low.checked_sub(1))
}

/// Whether `position` is a multiple of `interval` (`u64::is_multiple_of` needs Rust 1.87; the
/// workspace promises 1.80).
#[allow(clippy::manual_is_multiple_of)]
pub(crate) fn is_boundary(position: u64, interval: u64) -> bool {
    position % interval.max(1) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `as_of` answer begun before a rebuild emptied the cache (after a redaction) may hold
    /// erased values: it is handed to its request but never cached.
    #[test]
    fn an_answer_begun_before_the_cache_was_emptied_is_not_cached() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path(), govrec_store::StoreConfig::default()).expect("store");
        let (host, _) = ModelHost::open(&store, None, HostConfig::default()).expect("host");
        let begun = host.cache_epoch();
        host.rebuild(&store, |_| {}).expect("rebuild");
        host.cache_insert(Arc::new(Models::new()), begun);
        assert!(host.as_of_cache.lock().expect("cache lock").answers.is_empty());
        let begun = host.cache_epoch();
        host.forget_past_answers(0).expect("forget");
        host.cache_insert(Arc::new(Models::new()), begun);
        assert!(host.as_of_cache.lock().expect("cache lock").answers.is_empty());
        host.cache_insert(Arc::new(Models::new()), host.cache_epoch());
        assert_eq!(host.as_of_cache.lock().expect("cache lock").answers.len(), 1);
    }

    /// While one coalesced rebuild waits for the running one, further requests join it.
    #[test]
    fn a_waiting_rebuild_covers_later_requests() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path(), govrec_store::StoreConfig::default()).expect("store");
        let (host, _) = ModelHost::open(&store, None, HostConfig::default()).expect("host");
        let running = host.rebuilding.lock().expect("rebuild lock");
        std::thread::scope(|scope| {
            let waiting = scope.spawn(|| host.rebuild_coalesced(&store));
            while !host.rebuild_waiting.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
            assert!(
                host.rebuild_coalesced(&store).expect("joined").is_none(),
                "covered by the waiting rebuild"
            );
            drop(running);
            let report = waiting.join().expect("no panic").expect("rebuilt");
            assert!(report.is_some(), "the waiting rebuild ran");
        });
        assert!(
            host.rebuild_coalesced(&store).expect("rebuilt").is_some(),
            "nothing waits any more: a new request rebuilds"
        );
    }
}
