//! The incremental chain check behind the office page's audit state: how far the chain has
//! been verified, kept between checks so that each one verifies only the records appended
//! since the last (and the link to the record before them).

use std::sync::Mutex;

use govrec_store::{Store, StoreError, Verification};

/// How far the chain has been verified, kept between page loads so that each load checks
/// only the records appended since the last one.
#[derive(Default)]
pub struct ChainWatch {
    state: Mutex<Watched>,
}

#[derive(Default)]
struct Watched {
    next_seq: u64,
    last: Option<(u64, String)>,
    damaged: Option<(u64, String)>,
}

/// The audit state the page shows.
#[derive(Debug, Clone)]
pub enum AuditState {
    Empty,
    Intact { last_seq: u64, head_hash: String },
    Damaged { first_bad_seq: u64, reason: String },
}

impl ChainWatch {
    /// Verifies the records appended since the last check (their link to the record before
    /// included) and returns the state; damage, once found, is reported until restart.
    pub fn check(&self, store: &Store) -> Result<AuditState, StoreError> {
        let mut watched = self.state.lock().expect("chain watch lock");
        if watched.damaged.is_none() {
            let head = store.head();
            if let Some(last) = head.last_seq().filter(|last| *last >= watched.next_seq) {
                match store.verify(watched.next_seq, Some(last))? {
                    Verification::Intact { head, .. } => {
                        if let Some((seq, hash)) = head {
                            watched.next_seq = seq + 1;
                            watched.last = Some((seq, hash.to_hex()));
                        }
                    }
                    Verification::Damaged {
                        first_bad_seq,
                        reason,
                    } => watched.damaged = Some((first_bad_seq, reason)),
                }
            }
        }
        Ok(match (&watched.damaged, &watched.last) {
            (Some((first_bad_seq, reason)), _) => AuditState::Damaged {
                first_bad_seq: *first_bad_seq,
                reason: reason.clone(),
            },
            (None, Some((last_seq, head_hash))) => AuditState::Intact {
                last_seq: *last_seq,
                head_hash: head_hash.clone(),
            },
            (None, None) => AuditState::Empty,
        })
    }
}
