//! Operations: liveness, readiness, Prometheus metrics, the OpenAPI description.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;

use crate::app::SharedState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: the store accepts writes and the read models follow the log. The server listens
/// only once the models have caught up with the log; it is not ready after an I/O error, or
/// while the models' last attempt to catch up with a new commit failed.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn readyz(State(state): State<SharedState>) -> (StatusCode, Json<Health>) {
    let not_ready = |status| (StatusCode::SERVICE_UNAVAILABLE, Json(Health { status }));
    if state.store.is_poisoned() {
        not_ready("store refuses writes after an I/O error")
    } else if state.store.damage().is_some() {
        not_ready("the log is damaged: stop, run govrec verify, restore from a backup")
    } else if state.models_failing.load(std::sync::atomic::Ordering::Acquire) {
        not_ready("the read models cannot catch up with the log")
    } else {
        (StatusCode::OK, Json(Health { status: "ready" }))
    }
}

/// Prometheus text metrics.
///
/// Needs an admin or auditor token: the counters tell the log's size and activity by route.
/// (Prometheus sends one with `authorization: {credentials_file: ...}`.)
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain", body = String),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn metrics_get(
    State(state): State<SharedState>,
    caller: crate::app::Caller,
) -> Result<impl IntoResponse, crate::error::AppError> {
    caller.require(
        &[crate::auth::Role::Admin, crate::auth::Role::Auditor],
        "reading the metrics",
    )?;
    let head = state.store.head();
    metrics::gauge!("govrec_log_head_seq").set(head.last_seq().map_or(-1.0, |seq| seq as f64));
    let lag = head.next_seq.saturating_sub(state.models.models().next_seq());
    metrics::gauge!("govrec_model_lag_records").set(lag as f64);
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    ))
}

/// The OpenAPI 3.1 description of this API, generated from the code.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, body = Object)))]
pub async fn openapi_get() -> impl IntoResponse {
    Json(crate::openapi())
}
