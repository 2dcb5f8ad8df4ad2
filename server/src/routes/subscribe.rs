//! `GET /v1/subscribe`: a live feed of records as Server-Sent Events. It catches up from the
//! cursor, then streams each record as it becomes durable, in seq order, with no gap and no
//! duplicate; resumable with `Last-Event-ID` (the seq of the last record received).

use std::convert::Infallible;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use serde::Deserialize;
use tokio_stream::wrappers::ReceiverStream;

use crate::app::{Caller, SharedState};
use crate::auth::{Principal, Role};
use crate::error::AppError;

/// Records read from the store per round while catching up.
const SUBSCRIBE_CHUNK_RECORDS: usize = 256;
/// SSE events buffered per subscriber before the feed waits for the client.
const SUBSCRIBE_QUEUE_EVENTS: usize = 64;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SubscribeQuery {
    /// Start after this seq (exclusive); from the start when absent. `Last-Event-ID` wins.
    pub after: Option<String>,
}

/// A live feed of the log (text/event-stream): one `record` event per RECORD, `id` = seq.
#[utoipa::path(get, path = "/v1/subscribe", tag = "log", params(SubscribeQuery),
    responses((status = 200, content_type = "text/event-stream", body = String), (status = 400, body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn subscribe(
    State(state): State<SharedState>,
    caller: Caller,
    headers: HeaderMap,
    Query(query): Query<SubscribeQuery>,
) -> Result<impl axum::response::IntoResponse, AppError> {
    let principal = caller
        .require(
            &[Role::Admin, Role::Recorder, Role::Auditor],
            "subscribing to the log",
        )?
        .clone();
    let last_event_id = headers
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or("?").to_owned());
    let cursor = match last_event_id.or(query.after) {
        None => 0,
        Some(text) => text
            .parse::<u64>()
            .map_err(|_| {
                AppError::bad_request("invalid_cursor", "after / Last-Event-ID must be a seq")
                    .at(None, Some("after".to_owned()))
            })?
            .saturating_add(1),
    };
    let slot = FeedSlot::take(&state, &principal.name)?;
    let (sender, receiver) = tokio::sync::mpsc::channel(SUBSCRIBE_QUEUE_EVENTS);
    tokio::spawn(async move {
        let _slot = slot;
        feed(state, principal, cursor, sender).await;
    });
    Ok(Sse::new(ReceiverStream::new(receiver)).keep_alive(KeepAlive::default()))
}

/// The live feeds open, in all and per token name.
#[derive(Default)]
pub struct FeedSlots {
    open: std::sync::Mutex<(usize, std::collections::HashMap<String, usize>)>,
}

/// One open feed's place among [`FeedSlots`], given back when the feed ends.
struct FeedSlot {
    state: SharedState,
    name: String,
}

impl FeedSlot {
    /// A place for a feed of token `name`, or 429 `too_many_feeds` when the server's or the
    /// token's feeds are at their limit.
    fn take(state: &SharedState, name: &str) -> Result<FeedSlot, AppError> {
        let limits = &state.limits;
        let mut open = state.feeds.open.lock().expect("feeds lock");
        let of_token = open.1.get(name).copied().unwrap_or(0);
        if open.0 >= limits.live_feeds_max || of_token >= limits.live_feeds_per_token_max {
            let detail = format!(
                "at most {} live feeds at once ({} per token); close one first",
                limits.live_feeds_max, limits.live_feeds_per_token_max
            );
            return Err(AppError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "too_many_feeds",
                detail,
            ));
        }
        open.0 += 1;
        open.1.insert(name.to_owned(), of_token + 1);
        Ok(FeedSlot {
            state: state.clone(),
            name: name.to_owned(),
        })
    }
}

impl Drop for FeedSlot {
    fn drop(&mut self) {
        let mut open = self.state.feeds.open.lock().expect("feeds lock");
        open.0 = open.0.saturating_sub(1);
        if let Some(count) = open.1.get_mut(&self.name) {
            *count -= 1;
            if *count == 0 {
                open.1.remove(&self.name);
            }
        }
    }
}

/// Sends every record from `cursor` on, then waits for the head to move, until the client
/// goes away.
async fn feed(
    state: SharedState,
    principal: Principal,
    mut cursor: u64,
    sender: tokio::sync::mpsc::Sender<Result<SseEvent, Infallible>>,
) {
    let mut head_changes = state.store.watch_head();
    let mut shutting_down = state.shutting_down.subscribe();
    loop {
        if *shutting_down.borrow_and_update() {
            return;
        }
        let head = head_changes.borrow_and_update().next_seq;
        while cursor < head {
            let reader = state.clone();
            let scope = principal.scope.clone();
            let everything = principal.role != Role::Recorder;
            let from = cursor;
            let chunk = tokio::task::spawn_blocking(move || {
                let records = reader.store.read_range(from, SUBSCRIBE_CHUNK_RECORDS)?;
                let mut visible = Vec::with_capacity(records.len());
                for record in records {
                    let seq = record.seq;
                    let shown = everything || crate::routes::events::visible_in(&reader, &scope, &record)?;
                    visible.push((seq, shown.then(|| record.to_json_line())));
                }
                Ok::<_, govrec_store::StoreError>(visible)
            })
            .await;
            let Ok(Ok(chunk)) = chunk else {
                tracing::error!("subscribe feed stopped: reading the log failed");
                return;
            };
            if chunk.is_empty() {
                break;
            }
            for (seq, line) in chunk {
                cursor = seq + 1;
                if let Some(line) = line {
                    let event = SseEvent::default().id(seq.to_string()).event("record").data(line);
                    if sender.send(Ok(event)).await.is_err() {
                        return;
                    }
                }
            }
        }
        tokio::select! {
            changed = head_changes.changed() => if changed.is_err() { return },
            () = sender.closed() => return,
            _ = shutting_down.changed() => {
                tracing::debug!(cursor, "live feed ends: the server is shutting down");
                return;
            }
        }
    }
}
