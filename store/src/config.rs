//! A store's limits and settings.

use crate::log::LogConfig;

/// The most one event may take in stored form. The rules of `govrec_core` keep real events
/// far below it (texts of at most 2,000 characters, at most 1,000 area ids).
pub const EVENT_BYTES_MAX: usize = 32 * 1024;

/// Limits and settings of a store. Every limit is named with its unit last.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub log: LogConfig,
    /// Events in one append request.
    pub batch_events_max: usize,
    /// Events the writer gathers into one group commit.
    pub group_events_max: usize,
    /// Target size of one stored block; a block holds at least one record. Capped at
    /// [`crate::log::BLOCK_BYTES_LIMIT`] (see there why).
    pub block_bytes_max: usize,
    /// Records at the end of the log whose hashes are recomputed when the store opens (every
    /// record's seq and `prev_hash` link is checked regardless).
    pub tail_check_records: u64,
    /// Requests waiting for the writer before `append` blocks (back-pressure).
    pub queue_requests_max: usize,
    /// The longest the syncer waits for the clients of its previous sync to resubmit before
    /// it syncs (never more than half the previous sync took; a lone client never waits).
    pub sync_wait_max_us: u64,
    /// The log's name (checkpoint origin) used when the signing key is created; ignored once
    /// the key exists. `None`: `govrec/` and 16 hex digits derived from the new key.
    pub checkpoint_origin: Option<String>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            log: LogConfig::default(),
            batch_events_max: 1000,
            group_events_max: 4096,
            block_bytes_max: 32 * 1024,
            tail_check_records: 1000,
            queue_requests_max: 4096,
            sync_wait_max_us: 500,
            checkpoint_origin: None,
        }
    }
}
