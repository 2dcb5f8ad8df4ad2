//! The server's side of a redaction, in the order it must happen, enforced by a type.
//!
//! Past `as_of` answers and the read models' snapshots may hold the values a redaction
//! erases. So before a batch with a `Redacted` event is appended, [`forget_past_answers`]
//! empties the answer cache and marks the snapshots as not to be trusted (durably); it returns
//! a [`PendingRedaction`] that must be [finished](PendingRedaction::finish) after the append,
//! whatever its outcome: that forgets again (a rebuild that started during the append must not
//! count as having seen it) and starts the rebuild that writes a new snapshot generation and
//! clears the mark. A guard dropped without `finish` (an early return, a cancelled request)
//! finishes in the background instead, so the rebuild is never skipped.

use crate::app::{AppState, SharedState};
use crate::error::AppError;

/// A redaction between "past answers forgotten" and "rebuild started". Consume it with
/// [`PendingRedaction::finish`].
#[must_use = "a redaction must be finished after its append (PendingRedaction::finish)"]
pub struct PendingRedaction {
    /// `None` once finished.
    state: Option<SharedState>,
    erased_from: u64,
}

/// Forgets past answers before a batch that erases values of records from seq `erased_from`
/// on (the lowest `target_seq` of its redactions) is appended.
pub async fn forget_past_answers(
    state: &SharedState,
    erased_from: u64,
) -> Result<PendingRedaction, AppError> {
    let marking = state.clone();
    // It fsyncs a marker file, so off the async workers.
    crate::routes::models::on_models(move || Ok(marking.models.forget_past_answers(erased_from)?)).await?;
    Ok(PendingRedaction {
        state: Some(state.clone()),
        erased_from,
    })
}

/// The lowest record a batch's redactions erase values of, if it has any.
pub fn erased_from<'a>(events: impl IntoIterator<Item = &'a govrec_core::Event>) -> Option<u64> {
    events
        .into_iter()
        .filter_map(|event| match event {
            govrec_core::Event::Redacted(redacted) => Some(redacted.target_seq),
            _ => None,
        })
        .min()
}

impl PendingRedaction {
    /// After the append (also when it failed or was a replay: the rebuild clears the mark
    /// again): forgets past answers once more and rebuilds the read models in the background
    /// into a new snapshot generation, which destroys the key of the old generation's
    /// snapshots. Rebuilds are serialised and coalesced by the model host
    /// (`ModelHost::rebuild_coalesced`: a burst of redactions costs the running rebuild plus
    /// one); the current models keep answering meanwhile.
    pub async fn finish(mut self) {
        if let Some(state) = self.state.take() {
            let erased_from = self.erased_from;
            let marking = state.clone();
            if let Err(error) = tokio::task::spawn_blocking(move || forget_again(&marking, erased_from)).await
            {
                tracing::error!(%error, "marking the snapshots as holding an erased value panicked");
            }
            tokio::task::spawn_blocking(move || rebuild(&state));
        }
    }
}

impl Drop for PendingRedaction {
    fn drop(&mut self) {
        let Some(state) = self.state.take() else {
            return;
        };
        let erased_from = self.erased_from;
        let finish = move || {
            forget_again(&state, erased_from);
            rebuild(&state);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(finish)),
            Err(_) => finish(),
        }
    }
}

/// The second forgetting, after the append (it fsyncs a marker file: call it off the async
/// workers). A failure is logged: the append has happened, and the rebuild still runs.
fn forget_again(state: &AppState, erased_from: u64) {
    if let Err(error) = state.models.forget_past_answers(erased_from) {
        tracing::error!(%error, "marking the snapshots as holding an erased value failed");
    }
}

fn rebuild(state: &AppState) {
    match state.models.rebuild_coalesced(&state.store) {
        Ok(Some(report)) => {
            tracing::info!(records = report.records, "read models rebuilt after a redaction");
            crate::warm_as_of(state);
        }
        Ok(None) => tracing::debug!("a rebuild that will cover this redaction is already waiting"),
        Err(error) => tracing::error!(%error, "rebuilding the read models after a redaction failed"),
    }
}
