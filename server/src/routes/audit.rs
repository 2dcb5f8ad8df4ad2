//! `/v1/audit`: recompute the chain; Merkle inclusion and consistency proofs, signed
//! checkpoints and the key that verifies them (`docs/merkle.md`).

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use govrec_store::{merkle, Hash32, StoreError, Verification};
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
    let verification = blocking(move || state.store.verify(from, Some(to))).await?;
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

/// The roles that may read proofs, checkpoints and the key.
const AUDIT_ROLES: &[Role] = &[Role::Admin, Role::Auditor];

/// Parses an optional non-negative integer query parameter.
fn number(text: Option<&str>, field: &str) -> Result<Option<u64>, AppError> {
    text.map(|t| t.parse::<u64>()).transpose().map_err(|_| {
        AppError::bad_request("invalid_field", format!("{field} must be a non-negative integer"))
            .at(None, Some(field.to_owned()))
    })
}

/// A required non-negative integer query parameter.
fn required(text: Option<&str>, field: &str) -> Result<u64, AppError> {
    number(text, field)?.ok_or_else(|| {
        AppError::bad_request("missing_field", format!("{field} is required"))
            .at(None, Some(field.to_owned()))
    })
}

/// 404 `unknown_tree_size` for a tree larger than the log.
fn within_head(size: u64, head: u64, field: &str) -> Result<(), AppError> {
    if size > head {
        return Err(AppError::new(
            StatusCode::NOT_FOUND,
            "unknown_tree_size",
            format!("{field} {size} is beyond the log, which has {head} records"),
        )
        .at(None, Some(field.to_owned())));
    }
    Ok(())
}

fn hex_all(hashes: &[Hash32]) -> Vec<String> {
    hashes.iter().map(Hash32::to_hex).collect()
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    /// The record's seq (its leaf index).
    pub seq: Option<String>,
    /// The tree size the proof is for (default: the head); greater than `seq`.
    pub size: Option<String>,
}

/// An inclusion proof (RFC 9162 §2.1.3) of one record; hashes are lowercase hex.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InclusionResponse {
    /// The leaf index, = the record's seq.
    pub leaf_index: u64,
    pub tree_size: u64,
    /// The record's `hash`.
    pub record_hash: String,
    /// BLAKE3(0x00 ‖ record hash).
    pub leaf_hash: String,
    /// The root of the tree of `tree_size` records.
    pub root: String,
    /// The audit path, leaf side first.
    pub proof: Vec<String>,
}

/// Prove that a record is in the tree of a given size.
#[utoipa::path(get, path = "/v1/audit/proof/inclusion", tag = "audit", params(InclusionQuery),
    responses((status = 200, body = InclusionResponse), (status = 400, body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, body = crate::error::Problem, content_type = "application/problem+json"), (status = 404, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn audit_proof_inclusion(
    State(state): State<SharedState>,
    caller: Caller,
    Query(query): Query<InclusionQuery>,
) -> Result<Json<InclusionResponse>, AppError> {
    caller.require(AUDIT_ROLES, "reading proofs")?;
    let seq = required(query.seq.as_deref(), "seq")?;
    let head = state.store.head().next_seq;
    let size = number(query.size.as_deref(), "size")?.unwrap_or(head);
    within_head(size, head, "size")?;
    if seq >= size {
        return Err(AppError::bad_request(
            "invalid_leaf_index",
            format!("seq {seq} is not in a tree of {size} records"),
        )
        .at(None, Some("seq".to_owned())));
    }
    let response = blocking(move || {
        let store = &state.store;
        let record = store.get(seq)?.ok_or_else(|| StoreError::Corrupt {
            seq,
            reason: "record missing below the head".to_owned(),
        })?;
        Ok(InclusionResponse {
            leaf_index: seq,
            tree_size: size,
            record_hash: record.hash.to_hex(),
            leaf_hash: merkle::leaf_hash(&record.hash).to_hex(),
            root: store.merkle_root(size)?.to_hex(),
            proof: hex_all(&store.inclusion_proof(seq, size)?),
        })
    })
    .await?;
    Ok(Json(response))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// The older tree size.
    pub from_size: Option<String>,
    /// The newer tree size (default: the head); at least `from_size`.
    pub to_size: Option<String>,
}

/// A consistency proof (RFC 9162 §2.1.4) between two tree sizes; hashes are lowercase hex.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConsistencyResponse {
    pub from_size: u64,
    pub to_size: u64,
    pub from_root: String,
    pub to_root: String,
    pub proof: Vec<String>,
}

/// Prove that the tree of one size is a prefix of the tree of a larger size.
#[utoipa::path(get, path = "/v1/audit/proof/consistency", tag = "audit", params(ConsistencyQuery),
    responses((status = 200, body = ConsistencyResponse), (status = 400, body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, body = crate::error::Problem, content_type = "application/problem+json"), (status = 404, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn audit_proof_consistency(
    State(state): State<SharedState>,
    caller: Caller,
    Query(query): Query<ConsistencyQuery>,
) -> Result<Json<ConsistencyResponse>, AppError> {
    caller.require(AUDIT_ROLES, "reading proofs")?;
    let from_size = required(query.from_size.as_deref(), "from_size")?;
    let head = state.store.head().next_seq;
    let to_size = number(query.to_size.as_deref(), "to_size")?.unwrap_or(head);
    within_head(to_size, head, "to_size")?;
    if from_size > to_size {
        return Err(AppError::bad_request(
            "invalid_tree_size",
            format!("from_size {from_size} is larger than to_size {to_size}"),
        )
        .at(None, Some("from_size".to_owned())));
    }
    let response = blocking(move || {
        let store = &state.store;
        Ok(ConsistencyResponse {
            from_size,
            to_size,
            from_root: store.merkle_root(from_size)?.to_hex(),
            to_root: store.merkle_root(to_size)?.to_hex(),
            proof: hex_all(&store.consistency_proof(from_size, to_size)?),
        })
    })
    .await?;
    Ok(Json(response))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CheckpointQuery {
    /// A past tree size whose issued checkpoint to serve again (default: a checkpoint of the
    /// head, issued now if none was).
    pub size: Option<String>,
}

/// The signed checkpoint (C2SP tlog-checkpoint in a signed note) as `text/plain`.
#[utoipa::path(get, path = "/v1/audit/checkpoint", tag = "audit", params(CheckpointQuery),
    responses((status = 200, body = String, content_type = "text/plain", description = "a C2SP signed note: origin, tree size, base64 root, a blank line, signature lines"), (status = 400, body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, body = crate::error::Problem, content_type = "application/problem+json"), (status = 404, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn audit_checkpoint(
    State(state): State<SharedState>,
    caller: Caller,
    Query(query): Query<CheckpointQuery>,
) -> Result<Response, AppError> {
    caller.require(AUDIT_ROLES, "reading checkpoints")?;
    let size = number(query.size.as_deref(), "size")?;
    let note = blocking(move || match size {
        None => state.store.checkpoint_latest().map(|(_, note)| Some(note)),
        Some(size) => state.store.checkpoint_at(size),
    })
    .await?
    .ok_or_else(|| {
        AppError::new(
            StatusCode::NOT_FOUND,
            "unknown_checkpoint",
            "no checkpoint was issued for this tree size",
        )
        .at(None, Some("size".to_owned()))
    })?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response())
}

/// The log's name and the key that verifies its checkpoints.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyResponse {
    /// The log's name: every checkpoint's origin line and the key's name.
    pub origin: String,
    /// `name+<key id hex>+<base64(0x01 ‖ Ed25519 public key)>` (C2SP signed-note verifier key).
    pub verifier_key: String,
}

/// The verifier key of the log's checkpoints.
#[utoipa::path(get, path = "/v1/audit/key", tag = "audit",
    responses((status = 200, body = KeyResponse), (status = 401, body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn audit_key(
    State(state): State<SharedState>,
    caller: Caller,
) -> Result<Json<KeyResponse>, AppError> {
    caller.require(AUDIT_ROLES, "reading the checkpoint key")?;
    Ok(Json(KeyResponse {
        origin: state.store.origin().to_owned(),
        verifier_key: state.store.verifier_key(),
    }))
}
