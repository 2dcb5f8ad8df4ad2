//! A group commit being staged by the writer: its records in stored form, the blocks its
//! redactions rewrite, and the client ids it has landed.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use uuid::Uuid;

use crate::hash::Hash32;
use crate::record::{BusinessDate, PersonalBlob, Record, StoredRecord};

/// The records a group commit will write, with their events already in stored form.
#[derive(Default)]
pub(crate) struct Staged {
    pub(crate) records: Vec<Record>,
    pub(crate) encoded: Vec<Vec<u8>>,
    /// The personal values of each record (beside `encoded`).
    pub(crate) personal: Vec<Option<PersonalBlob>>,
    /// Blocks written before this group that redactions of this group rewrite (markers set,
    /// personal values emptied): first seq → records.
    pub(crate) rewritten: BTreeMap<u64, Vec<StoredRecord>>,
    /// Ranges of `personal.dat` to erase once the group is durable.
    pub(crate) erase: Vec<(u64, u64)>,
    /// Records of this group with client-chosen ids (for idempotent retries within a group).
    pub(crate) client_ids: HashMap<Uuid, Landed>,
}

/// What idempotency needs of a written record with a client-chosen id: enough to tell an
/// identical retry from a conflicting reuse, and to answer the retry.
#[derive(Debug, Clone)]
pub(crate) struct Landed {
    pub(crate) seq: u64,
    pub(crate) event_hash: Hash32,
    pub(crate) occurred_on: BusinessDate,
    pub(crate) actor: Arc<str>,
    pub(crate) hash: Hash32,
}

pub(crate) fn landed(record: &Record, actor: &Arc<str>) -> Landed {
    Landed {
        seq: record.seq,
        event_hash: record.event_hash,
        occurred_on: record.occurred_on,
        actor: actor.clone(),
        hash: record.hash,
    }
}
