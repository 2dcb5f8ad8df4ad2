//! `/v1/audit`: recompute the chain.

use axum::extract::{Query, State};
use axum::Json;
use govrec_store::{verify_log, Verification};
use serde::{Deserialize, Serialize};

use crate::app::{Caller, SharedState};
use crate::auth::Role;
use crate::error::AppError;
use crate::routes::events::{blocking, Position};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct VerifyQuery {
    /// First seq to check (default 0); its link to the record before it is checked too.
    pub from: Option<String>,
    /// Last seq to check (default: the head).
    pub to: Option<String>,
}

/// `{"ok": true, "checked", "head"}` or `{"ok": false, "first_bad_seq", "reason"}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum VerifyResponse {
    Intact {
        ok: bool,
        checked: u64,
        head: Position,
    },
    Damaged {
        ok: bool,
        first_bad_seq: u64,
        reason: String,
    },
}

/// Recompute the hash chain over a range of the log.
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit", params(VerifyQuery),
    responses((status = 200, body = VerifyResponse), (status = 400, body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn audit_verify(
    State(state): State<SharedState>,
    caller: Caller,
    Query(query): Query<VerifyQuery>,
) -> Result<Json<VerifyResponse>, AppError> {
    caller.require(&[Role::Admin, Role::Auditor], "verifying the chain")?;
    let seq = |text: Option<&str>, field: &str| -> Result<Option<u64>, AppError> {
        text.map(|t| t.parse::<u64>()).transpose().map_err(|_| {
            AppError::bad_request("invalid_field", format!("{field} must be a seq"))
                .at(None, Some(field.to_owned()))
        })
    };
    let from = seq(query.from.as_deref(), "from")?.unwrap_or(0);
    let head = state.store.head();
    let Some(last) = head.last_seq() else {
        return Ok(Json(VerifyResponse::Intact {
            ok: true,
            checked: 0,
            head: Position {
                seq: None,
                hash: head.hash.to_hex(),
            },
        }));
    };
    let to = seq(query.to.as_deref(), "to")?.unwrap_or(last).min(last);
    if from > to {
        return Err(
            AppError::bad_request("invalid_field", format!("from must be at most {to}"))
                .at(None, Some("from".to_owned())),
        );
    }
    let verification = blocking(move || verify_log(state.store.log(), from, Some(to))).await?;
    Ok(Json(match verification {
        Verification::Intact { checked, head } => VerifyResponse::Intact {
            ok: true,
            checked,
            head: Position {
                seq: head.map(|(seq, _)| seq),
                hash: head.map(|(_, hash)| hash.to_hex()).unwrap_or_default(),
            },
        },
        Verification::Damaged {
            first_bad_seq,
            reason,
        } => VerifyResponse::Damaged {
            ok: false,
            first_bad_seq,
            reason,
        },
    }))
}
