//! `POST /v1/admin/redact`: erase personal fields of a record (PIPL, the resident's right to
//! erasure) by appending a `Redacted` event; a convenience over `POST /v1/events`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use govrec_store::new_event_from_json;
use serde_json::Value;

use crate::app::{Caller, SharedState};
use crate::auth::Role;
use crate::error::AppError;
use crate::routes::events::{append_checked, AppendResponse};

/// The body of a redaction request: the `Redacted` event's fields, plus an optional event
/// `id` (the idempotency key, as in `POST /v1/events`).
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[allow(dead_code)] // documents the body; it is parsed as an event
pub struct RedactRequest {
    /// The seq of the record whose personal fields are erased.
    pub target_seq: u64,
    /// Personal fields of that record's event type (a complaint's `summary`, `resident_ref`;
    /// a member's `name`; see `docs/api.md`), each once. A record is redacted once.
    pub fields: Vec<String>,
    /// Why (kept in the log; never personal data itself).
    pub reason: String,
    /// Optional event id (UUID) for idempotent retries.
    pub id: Option<uuid::Uuid>,
}

/// Erase personal fields of a record: appends `Redacted {target_seq, fields, reason}`. From
/// then on the record is served, exported and stored without those fields and with
/// `"redaction": {"by_seq", "fields"}`; its hashes, the chain and every proof are unchanged.
#[utoipa::path(post, path = "/v1/admin/redact", tag = "admin",
    request_body(content = RedactRequest, description = "{\"target_seq\", \"fields\", \"reason\"} (and an optional \"id\")"),
    responses(
        (status = 201, body = AppendResponse, description = "The Redacted record was stored, durably, and the fields are erased"),
        (status = 200, body = AppendResponse, description = "An identical retry: the original record"),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 413, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn admin_redact(
    State(state): State<SharedState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<AppendResponse>), AppError> {
    let principal = caller.require(&[Role::Admin], "redacting personal data")?;
    let value: Value = govrec_core::json::value_from_slice(&body)
        .map_err(|error| AppError::bad_request("malformed_json", format!("the body is not JSON: {error}")))?;
    let Value::Object(mut object) = value else {
        return Err(AppError::bad_request(
            "malformed_json",
            "the body must be {\"target_seq\", \"fields\", \"reason\"}",
        ));
    };
    for reserved in ["type", "occurred_on"] {
        if object.contains_key(reserved) {
            return Err(
                AppError::bad_request("invalid_field", format!("unknown field {reserved:?}"))
                    .at(None, Some(reserved.to_owned())),
            );
        }
    }
    object.insert("type".to_owned(), Value::String("Redacted".to_owned()));
    let event = new_event_from_json(Value::Object(object)).map_err(AppError::from)?;
    append_checked(&state, principal, vec![event]).await
}
