//! `AppError`: every failure of the HTTP API as an RFC 9457 problem (`application/problem+json`)
//! with a stable `code`. Internal detail is logged, never sent to the client.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use govrec_core::ViolationCode;
use govrec_store::{BadRequestCode, StoreError};
use serde::Serialize;

/// A problem response.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// A stable snake_case word clients can match on.
    pub code: String,
    /// For a rejected event: its position in the batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// Where one field is at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AppError(pub Box<Problem>);

impl AppError {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> AppError {
        AppError(Box::new(Problem {
            problem_type: format!("https://govrec.example/problems/{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_owned(),
            index: None,
            field: None,
        }))
    }

    pub fn at(mut self, index: Option<usize>, field: Option<String>) -> AppError {
        self.0.index = index;
        self.0.field = field;
        self
    }

    pub fn unauthorized(detail: &str) -> AppError {
        AppError::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> AppError {
        AppError::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> AppError {
        AppError::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    pub fn bad_request(code: &str, detail: impl Into<String>) -> AppError {
        AppError::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// An internal failure: logged in full, reported to the client without detail.
    pub fn internal(error: &dyn std::fmt::Display) -> AppError {
        tracing::error!(%error, "internal error");
        AppError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "an internal error occurred; it was logged",
        )
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::to_vec(&*self.0).expect("a problem serialises");
        (status, [(header::CONTENT_TYPE, "application/problem+json")], body).into_response()
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> AppError {
        match error {
            StoreError::Rejected(violation) => {
                let status = violation_status(violation.code);
                AppError::new(status, violation.code.as_str(), violation.message)
                    .at(Some(violation.index), violation.field)
            }
            StoreError::BadRequest {
                code,
                index,
                field,
                message,
            } => {
                let status = match code {
                    BadRequestCode::DuplicateId => StatusCode::CONFLICT,
                    BadRequestCode::TooManyEvents | BadRequestCode::PayloadTooLarge => {
                        StatusCode::PAYLOAD_TOO_LARGE
                    }
                    _ => StatusCode::BAD_REQUEST,
                };
                AppError::new(status, code.as_str(), message).at(index, field)
            }
            StoreError::OutOfScope { index, .. } => {
                AppError::forbidden(error.to_string()).at(Some(index), None)
            }
            StoreError::IdempotencyConflict { index, .. } => {
                AppError::new(StatusCode::CONFLICT, "idempotency_conflict", error.to_string())
                    .at(Some(index), Some("id".to_owned()))
            }
            StoreError::Corrupt { .. } | StoreError::Damaged { .. } => {
                tracing::error!(%error, "answering 503: the log is damaged");
                AppError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "log_damaged",
                    "the log is damaged; an administrator must run govrec verify and restore it",
                )
            }
            StoreError::Poisoned | StoreError::ShuttingDown => {
                AppError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", error.to_string())
            }
            other => AppError::internal(&other),
        }
    }
}

/// The HTTP status of a broken rule (`docs/api.md`, "Conventions"): a conflict with what the
/// log already holds is 409, any other broken rule 422.
pub fn violation_status(code: ViolationCode) -> StatusCode {
    match code {
        ViolationCode::DuplicateId | ViolationCode::InvalidTransition => StatusCode::CONFLICT,
        ViolationCode::UnknownReference
        | ViolationCode::WrongKind
        | ViolationCode::InactiveReference
        | ViolationCode::InvalidField
        | ViolationCode::RuleViolation => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conflict_with_the_log_is_409_and_any_other_broken_rule_422() {
        use ViolationCode::*;
        let expected = [
            (UnknownReference, 422),
            (WrongKind, 422),
            (InactiveReference, 422),
            (InvalidField, 422),
            (InvalidTransition, 409),
            (DuplicateId, 409),
            (RuleViolation, 422),
        ];
        for (code, status) in expected {
            assert_eq!(violation_status(code).as_u16(), status, "{code:?}");
        }
    }
}
