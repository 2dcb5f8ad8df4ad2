//! The commit pipeline behind the writer: the applier thread makes a commit's personal values
//! durable and applies its blocks and tiles to the log; the syncer thread makes them durable,
//! publishes them to readers and acknowledges the requests, while the applier works on the
//! next commit.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use uuid::Uuid;

use crate::durable_mark::{MarkWriter, DURABLE_MARK_FILE, MARK_INTERVAL};
use crate::error::StoreError;
use crate::head::{Appended, Head, Receipt};
use crate::record::Record;
use crate::shared::Shared;
use crate::tiles::{PartialLeaves, TileWrites};

/// A written group on its way to durability: its records and the requests to acknowledge.
pub(crate) struct Ticket {
    pub(crate) records: Vec<Record>,
    pub(crate) written: Written,
    pub(crate) pending: Vec<Pending>,
    /// Ranges of `personal.dat` redactions of this group erase once it is durable.
    pub(crate) erase: Vec<(u64, u64)>,
}

/// The first stage after the writer. For every ticket waiting for it, it makes their personal
/// values durable with one `fdatasync` of `personal.dat`, applies their blocks to sled in one
/// batch and their Merkle tiles in a second (not durable yet: the syncer's sync makes them so),
/// and reduces their records to what publishing needs; then it hands them on, in order, to the
/// syncer.
///
/// A block never reaches sled before the personal values it references are durable. Splitting
/// this from the syncer lets consecutive commits overlap: this stage syncs and applies one
/// commit while the syncer flushes and fsyncs the one before. (One thread doing all of it in
/// turn was the busiest stage for batches, 80% of the time: `docs/performance.md`.)
pub(crate) fn run_applier(shared: Arc<Shared>, tickets: Receiver<Ticket>, syncer: Sender<Applied>) {
    while let Ok(first) = tickets.recv() {
        let mut batch = vec![first];
        batch.extend(tickets.try_iter());
        if shared.poisoned.load(Ordering::Acquire) {
            fail_tickets(batch, || StoreError::Poisoned);
            continue;
        }
        let started = Instant::now();
        if let Err(error) = apply_tickets(&shared, &mut batch) {
            shared.poison(&error);
            fail_tickets(batch, || StoreError::Poisoned);
            continue;
        }
        for ticket in batch {
            let applied = Applied::new(ticket, started);
            if let Err(crossbeam_channel::SendError(applied)) = syncer.send(applied) {
                fail_pending(applied.pending, || StoreError::ShuttingDown);
            }
        }
    }
}

/// A group whose blocks are applied to sled, on its way to the syncer: what publishing it
/// needs (its records themselves are dropped by the applier, off the syncer's thread).
pub(crate) struct Applied {
    /// (event id, seq) of each record.
    pub(crate) ids: Vec<(Uuid, u64)>,
    /// (entity, seq) for each entity each record names, in log order.
    pub(crate) entities: Vec<(Uuid, u64)>,
    /// The head after the group, if it has records.
    pub(crate) head: Option<Head>,
    pub(crate) pending: Vec<Pending>,
    /// Ranges of `personal.dat` redactions of this group erase once it is durable.
    pub(crate) erase: Vec<(u64, u64)>,
    /// When the applier began on it (the commit-latency metric runs from there).
    pub(crate) started: Instant,
}

impl Applied {
    pub(crate) fn new(ticket: Ticket, started: Instant) -> Applied {
        let records = &ticket.records;
        let mut entities = Vec::with_capacity(records.len() * 2);
        for record in records {
            entities.extend(
                record
                    .event
                    .entity_ids()
                    .into_iter()
                    .map(|entity| (entity, record.seq)),
            );
        }
        Applied {
            ids: records.iter().map(|record| (record.id, record.seq)).collect(),
            entities,
            head: records.last().map(|last| Head {
                next_seq: last.seq + 1,
                hash: last.hash,
                recorded_at: Some(last.recorded_at),
            }),
            pending: ticket.pending,
            erase: ticket.erase,
            started,
        }
    }
}

/// Makes applied groups durable (sled flush + fsync), publishes them to readers and
/// acknowledges them. Every group waiting when a sync starts is covered by it.
pub(crate) fn run_syncer(shared: Arc<Shared>, groups: Receiver<Applied>, sync_wait_max: Duration) {
    // Requests acknowledged by the previous sync: with that many clients waiting in a closed
    // loop, it pays to let them resubmit before syncing, so one fsync serves all of them.
    let mut expected_requests = 0;
    let mut last_sync = Duration::ZERO;
    let mut mark = match MarkWriter::open(shared.log.path()) {
        Ok(mark) => Some(mark),
        Err(error) => {
            tracing::warn!(%error, "cannot write {DURABLE_MARK_FILE}: a later open cannot tell lost records");
            None
        }
    };
    let write_mark = |mark: &mut Option<MarkWriter>, head: Option<Head>| {
        if let Some(writer) = mark {
            let written = match head {
                Some(head) => writer.note(head),
                None => writer.flush(),
            };
            if let Err(error) = written {
                tracing::warn!(%error, "cannot write {DURABLE_MARK_FILE}");
            }
        }
    };
    loop {
        let first = match groups.recv_timeout(MARK_INTERVAL) {
            Ok(group) => group,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                // Appends paused: write the mark they left pending.
                write_mark(&mut mark, None);
                continue;
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        };
        let mut batch = vec![first];
        batch.extend(groups.try_iter());
        let wait_until = Instant::now() + sync_wait_max.min(last_sync / 2);
        while batch.iter().map(|group| group.pending.len()).sum::<usize>() < expected_requests {
            match groups.recv_deadline(wait_until) {
                Ok(group) => batch.push(group),
                Err(_) => break,
            }
        }
        expected_requests = batch.iter().map(|group| group.pending.len()).sum();
        let fail = |batch: Vec<Applied>| {
            for group in batch {
                fail_pending(group.pending, || StoreError::Poisoned);
            }
        };
        if shared.poisoned.load(Ordering::Acquire) {
            fail(batch);
            continue;
        }
        let sync_started = Instant::now();
        if let Err(error) = shared.log.sync() {
            shared.poison(&error);
            fail(batch);
            continue;
        }
        // The markers are durable: now overwrite what they erase (re-done on open if a crash
        // comes between).
        let erase: Vec<(u64, u64)> = batch
            .iter()
            .flat_map(|group| group.erase.iter().copied())
            .collect();
        if let Err(error) = shared.log.erase_personal(&erase) {
            shared.poison(&error);
            fail(batch);
            continue;
        }
        last_sync = sync_started.elapsed();
        let applying_started = batch
            .iter()
            .map(|group| group.started)
            .min()
            .unwrap_or(sync_started);
        metrics::histogram!("govrec_commit_seconds").record(applying_started.elapsed().as_secs_f64());
        metrics::histogram!("govrec_commit_records")
            .record(batch.iter().map(|group| group.ids.len()).sum::<usize>() as f64);
        let head = batch
            .iter()
            .rev()
            .find_map(|group| group.head)
            .unwrap_or_else(|| *shared.head.read().expect("head lock"));
        publish(&shared, &batch, head);
        for group in batch {
            for waiting in group.pending {
                waiting.succeed(head);
            }
        }
        write_mark(&mut mark, Some(head));
    }
    // Every head noted was durable, poisoned store or not.
    write_mark(&mut mark, None);
}

/// Makes the personal values of the tickets durable (one `fdatasync` for all of them, if any
/// wrote some), then applies the blocks of all of them to sled in one batch and their Merkle
/// tiles in a second, and lets readers of the tree and the writer see them.
pub(crate) fn apply_tickets(shared: &Shared, batch: &mut [Ticket]) -> Result<(), StoreError> {
    if batch.iter().any(|ticket| ticket.written.personal) {
        shared.log.sync_personal()?;
    }
    let mut blocks = Vec::new();
    let mut tiles: Option<TileWrites> = None;
    let mut partial = None;
    let mut applied_end = None;
    for ticket in batch.iter_mut() {
        let written = std::mem::take(&mut ticket.written);
        if written.blocks.is_empty() {
            continue;
        }
        // In order: a block a later group's redaction rewrote replaces the earlier version.
        blocks.extend(written.blocks);
        if let Some(more) = written.tiles {
            match &mut tiles {
                Some(tiles) => tiles.merge(more),
                None => tiles = Some(more),
            }
        }
        partial = Some(written.partial);
        applied_end = ticket.records.last().map(|record| record.seq + 1);
    }
    if blocks.is_empty() {
        return Ok(());
    }
    shared.log.apply(&blocks)?;
    if let Some(tiles) = tiles {
        shared.log.apply_tiles(tiles)?;
    }
    if let Some(partial) = partial {
        *shared.merkle_partial.write().expect("merkle lock") = partial;
    }
    if let Some(end) = applied_end {
        *shared.applied_end.lock().expect("applied lock") = end;
        shared.applied_changed.notify_all();
    }
    Ok(())
}

pub(crate) fn fail_tickets(tickets: Vec<Ticket>, error: impl Fn() -> StoreError) {
    for ticket in tickets {
        fail_pending(ticket.pending, &error);
    }
}

/// A request of the group that passed, waiting for the commit.
pub(crate) enum Pending {
    Append {
        reply: oneshot::Sender<Result<Appended, StoreError>>,
        receipts: Vec<Receipt>,
        idempotent_retry: bool,
    },
    Restore {
        reply: oneshot::Sender<Result<Head, StoreError>>,
    },
}

impl Pending {
    pub(crate) fn succeed(self, head: Head) {
        match self {
            Pending::Append {
                reply,
                receipts,
                idempotent_retry,
            } => {
                let _ = reply.send(Ok(Appended {
                    receipts,
                    head,
                    idempotent_retry,
                }));
            }
            Pending::Restore { reply } => {
                let _ = reply.send(Ok(head));
            }
        }
    }

    pub(crate) fn fail(self, error: StoreError) {
        match self {
            Pending::Append { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            Pending::Restore { reply } => {
                let _ = reply.send(Err(error));
            }
        }
    }
}

pub(crate) fn fail_pending(pending: Vec<Pending>, error: impl Fn() -> StoreError) {
    for waiting in pending {
        waiting.fail(error());
    }
}

/// What the writer prepared of a group for the applier to apply.
#[derive(Default)]
pub(crate) struct Written {
    /// The group wrote personal values, to be made durable before its blocks are applied.
    pub(crate) personal: bool,
    /// Blocks (first seq, bytes): the group's records, and blocks its redactions rewrote.
    pub(crate) blocks: Vec<(u64, Vec<u8>)>,
    /// The Merkle tiles the group completed.
    pub(crate) tiles: Option<TileWrites>,
    /// The unfinished Merkle leaf tile after the group.
    pub(crate) partial: PartialLeaves,
}

/// Makes committed records visible: indexes first, then the head readers go by.
fn publish(shared: &Shared, groups: &[Applied], head: Head) {
    {
        let mut event_ids = shared.event_ids.write().expect("index lock");
        for &(id, seq) in groups.iter().flat_map(|group| &group.ids) {
            event_ids.insert(id, seq);
        }
    }
    {
        let mut entities = shared.entities.write().expect("index lock");
        for &(entity, seq) in groups.iter().flat_map(|group| &group.entities) {
            entities.push(entity, seq);
        }
    }
    *shared.head.write().expect("head lock") = head;
    shared.head_changes.send_replace(head);
}
