//! `/v1/events`: append atomically, read the log in order, one record; and entity history.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use govrec_store::{new_event_from_json, NewEvent, Record, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::app::{Caller, SharedState};
use crate::auth::{Role, Scope};
use crate::error::AppError;

/// `{"seq", "hash"}` of a log position.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Position {
    pub seq: Option<u64>,
    pub hash: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AppendedRecord {
    pub seq: u64,
    pub id: Uuid,
    pub hash: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AppendResponse {
    pub records: Vec<AppendedRecord>,
    pub head: Position,
}

/// A page of the log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecordPage {
    /// `RECORD`s, each written by `Record::to_json_line` (the text of its `RecordJson`).
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<Box<serde_json::value::RawValue>>,
    /// The cursor for the next page (`after=`), absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Records after this seq (exclusive); from the start when absent.
    pub after: Option<String>,
    /// Page size, default 100, at most 1000.
    pub limit: Option<String>,
}

/// Append a batch of events atomically.
#[utoipa::path(post, path = "/v1/events", tag = "log",
    request_body(content = Object, description = "{\"events\": [EVENT, ...]}; each EVENT a catalogue event with optional id and occurred_on"),
    responses(
        (status = 201, body = AppendResponse, description = "Every event was stored, durably"),
        (status = 200, body = AppendResponse, description = "An identical retry: the original records"),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 413, body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn events_append(
    State(state): State<SharedState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<AppendResponse>), AppError> {
    let principal = caller.require(&[Role::Admin, Role::Recorder], "appending events")?;
    let events = parse_batch(&body)?;
    append_checked(&state, principal, events).await
}

/// Appends events for `principal` after the role and scope checks every append passes
/// (shared by `POST /v1/events` and `POST /v1/admin/redact`).
pub(crate) async fn append_checked(
    state: &SharedState,
    principal: &crate::auth::Principal,
    events: Vec<NewEvent>,
) -> Result<(StatusCode, Json<AppendResponse>), AppError> {
    if principal.role != Role::Admin {
        if let Some(index) = events
            .iter()
            .position(|e| matches!(e.event, govrec_core::Event::Redacted(_)))
        {
            return Err(AppError::forbidden("only an admin may append Redacted")
                .at(Some(index), Some("type".to_owned())));
        }
    }
    let redaction = match crate::redaction::erased_from(events.iter().map(|new| &new.event)) {
        Some(erased_from) => Some(crate::redaction::forget_past_answers(state, erased_from).await?),
        None => None,
    };
    // The store decides the scope, against the state with the batch's earlier events applied.
    let appended = match state
        .store
        .append_nonblocking(&principal.name, principal.append_scope(), events)
    {
        Ok(pending) => pending
            .await
            .map_err(|_| AppError::from(StoreError::ShuttingDown))
            .and_then(|appended| appended.map_err(AppError::from)),
        Err(error) => Err(error.into()),
    };
    if let Some(redaction) = redaction {
        redaction.finish().await;
    }
    let appended = appended?;
    metrics::counter!("govrec_appended_events_total").increment(appended.receipts.len() as u64);
    metrics::histogram!("govrec_append_batch_events").record(appended.receipts.len() as f64);
    let status = if appended.idempotent_retry {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(AppendResponse {
            records: appended
                .receipts
                .iter()
                .map(|r| AppendedRecord {
                    seq: r.seq,
                    id: r.id,
                    hash: r.hash.to_hex(),
                })
                .collect(),
            head: Position {
                seq: appended.head.last_seq(),
                hash: appended.head.hash.to_hex(),
            },
        }),
    ))
}

/// Parses `{"events": [...]}` (400 on malformed JSON, unknown types, wrong shapes).
pub fn parse_batch(body: &[u8]) -> Result<Vec<NewEvent>, AppError> {
    // Straight into the typed events when the body is certainly valid; otherwise the general
    // path, which explains what is wrong.
    match crate::envelope::new_events_from_batch(body) {
        Some(events) => Ok(events),
        None => parse_batch_explaining(body),
    }
}

/// [`parse_batch`]'s general path: through a `serde_json::Value`, naming the field and the rule
/// of what is wrong. Public for the fuzzer (`fuzz/`), which checks that the fast path never
/// answers otherwise.
pub fn parse_batch_explaining(body: &[u8]) -> Result<Vec<NewEvent>, AppError> {
    let value: Value = govrec_core::json::value_from_slice(body)
        .map_err(|error| AppError::bad_request("malformed_json", format!("the body is not JSON: {error}")))?;
    let Value::Object(mut object) = value else {
        return Err(AppError::bad_request(
            "malformed_json",
            "the body must be {\"events\": [...]}",
        ));
    };
    let events = match object.remove("events") {
        Some(Value::Array(events)) => events,
        _ => {
            return Err(
                AppError::bad_request("malformed_json", "the body must be {\"events\": [...]}")
                    .at(None, Some("events".to_owned())),
            )
        }
    };
    if let Some(unknown) = object.keys().next() {
        return Err(
            AppError::bad_request("invalid_field", format!("unknown field {unknown:?}"))
                .at(None, Some(unknown.clone())),
        );
    }
    events
        .into_iter()
        .enumerate()
        .map(|(index, value)| {
            new_event_from_json(value).map_err(|error| {
                let mut problem = AppError::from(error);
                problem.0.index = Some(index);
                problem
            })
        })
        .collect()
}

/// Read the log in order.
#[utoipa::path(get, path = "/v1/events", tag = "log", params(PageQuery),
    responses((status = 200, body = RecordPage), (status = 400, body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn events_list(
    State(state): State<SharedState>,
    caller: Caller,
    Query(query): Query<PageQuery>,
) -> Result<Json<RecordPage>, AppError> {
    let principal = caller
        .require(&[Role::Admin, Role::Recorder, Role::Auditor], "reading the log")?
        .clone();
    let limit = page_limit(query.limit.as_deref(), &state)?;
    let from = match query.after.as_deref() {
        None => 0,
        Some(text) => text
            .parse::<u64>()
            .map_err(|_| {
                AppError::bad_request("invalid_cursor", "after must be a seq (a whole number)")
                    .at(None, Some("after".to_owned()))
            })?
            .saturating_add(1),
    };
    let scan_max = state.limits.scoped_scan_records_max;
    tokio::task::spawn_blocking(move || {
        let head = state.store.head().next_seq;
        let scope = principal.scope.clone();
        let everything = principal.role != Role::Recorder || scope.is_all();
        let mut records = Vec::with_capacity(limit);
        let mut cursor = from;
        while records.len() < limit && cursor < head && cursor - from < scan_max as u64 {
            let chunk = state.store.read_range(cursor, (limit - records.len()).max(64))?;
            if chunk.is_empty() {
                break;
            }
            for record in chunk {
                cursor = record.seq + 1;
                if everything || visible_in(&state, &scope, &record)? {
                    records.push(record_json(&record));
                    if records.len() == limit {
                        break;
                    }
                }
            }
        }
        let next = (cursor < head).then(|| (cursor - 1).to_string());
        Ok::<_, StoreError>(RecordPage { records, next })
    })
    .await
    .map_err(|error| AppError::internal(&error))?
    .map(Json)
    .map_err(AppError::from)
}

fn page_limit(text: Option<&str>, state: &SharedState) -> Result<usize, AppError> {
    let Some(text) = text else {
        return Ok(state.limits.page_default);
    };
    match text.parse::<usize>() {
        Ok(limit) if (1..=state.limits.page_max).contains(&limit) => Ok(limit),
        _ => Err(AppError::bad_request(
            "invalid_field",
            format!("limit must be a whole number from 1 to {}", state.limits.page_max),
        )
        .at(None, Some("limit".to_owned()))),
    }
}

/// One record of the log.
#[utoipa::path(get, path = "/v1/events/{seq}", tag = "log", params(("seq" = u64, Path, description = "the record's seq")),
    responses((status = 400, body = crate::error::Problem, content_type = "application/problem+json"), (status = 200, body = Object), (status = 404, body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn events_get(
    State(state): State<SharedState>,
    caller: Caller,
    Path(seq): Path<String>,
) -> Result<Json<Box<serde_json::value::RawValue>>, AppError> {
    let principal = caller
        .require(&[Role::Admin, Role::Recorder, Role::Auditor], "reading the log")?
        .clone();
    let seq: u64 = seq.parse().map_err(|_| {
        AppError::bad_request("invalid_field", "seq must be a whole number").at(None, Some("seq".to_owned()))
    })?;
    let record = blocking(move || {
        let record = state.store.get(seq)?;
        match record {
            Some(record) if visible_to(&state, &principal, &record)? => Ok(Some(record)),
            _ => Ok(None),
        }
    })
    .await?;
    record
        .map(|r| Json(record_json(&r)))
        .ok_or_else(|| AppError::not_found(format!("no record {seq}")))
}

/// Every record that created or changed an entity, in log order.
#[utoipa::path(get, path = "/v1/entities/{id}/history", tag = "log", params(("id" = Uuid, Path, description = "an entity id")),
    responses((status = 400, body = crate::error::Problem, content_type = "application/problem+json"), (status = 200, body = RecordPage), (status = 404, body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn entities_history(
    State(state): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RecordPage>, AppError> {
    let principal = caller
        .require(&[Role::Admin, Role::Recorder, Role::Auditor], "reading history")?
        .clone();
    let id = Uuid::parse_str(&id).map_err(|_| {
        AppError::bad_request("invalid_field", "id must be a UUID").at(None, Some("id".to_owned()))
    })?;
    let records = blocking(move || {
        if principal.role == Role::Recorder && !principal.scope.is_all() {
            let county = state.store.county_of(&id);
            if !county.is_some_and(|county| principal.scope.allows(&county)) {
                return Ok(Vec::new());
            }
        }
        state.store.entity_history(&id)
    })
    .await?;
    if records.is_empty() {
        return Err(AppError::not_found(format!("no entity {id}")));
    }
    Ok(Json(RecordPage {
        records: records.iter().map(record_json).collect(),
        next: None,
    }))
}

/// A record's JSON, written once as text: building a `RecordJson` value and serialising it
/// was most of a log page's cost.
fn record_json(record: &Record) -> Box<serde_json::value::RawValue> {
    serde_json::value::RawValue::from_string(record.to_json_line()).expect("a record's JSON line is JSON")
}

fn visible_to(
    state: &SharedState,
    principal: &crate::auth::Principal,
    record: &Record,
) -> Result<bool, StoreError> {
    if principal.role != Role::Recorder {
        return Ok(true);
    }
    visible_in(state, &principal.scope, record)
}

/// Whether a record touches a county of `scope` (every record does for `*`).
pub(crate) fn visible_in(state: &SharedState, scope: &Scope, record: &Record) -> Result<bool, StoreError> {
    if scope.is_all() {
        return Ok(true);
    }
    Ok(state
        .store
        .counties_of(record)?
        .iter()
        .any(|county| scope.allows(county)))
}

/// Runs store reads off the async workers.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| AppError::internal(&error))?
        .map_err(AppError::from)
}
