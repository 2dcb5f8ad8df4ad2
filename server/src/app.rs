//! The application state shared by every handler, the limits, and the extractor that
//! authenticates a request.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use govrec_store::Store;

use crate::auth::{Principal, Role, TokenRegistry};
use crate::error::AppError;

/// Named limits of the HTTP service, each with its unit last. Defaults in [`Limits::default`].
#[derive(Debug, Clone)]
pub struct Limits {
    /// The largest request body accepted (413 `payload_too_large` past it).
    pub body_bytes_max: usize,
    /// The default and the largest page of a list.
    pub page_default: usize,
    pub page_max: usize,
    /// A request that takes longer is answered 503 and abandoned (a commit already under way
    /// still completes: the writer does not look at the request).
    pub request_timeout_ms: u64,
    /// Requests handled at once; more wait.
    pub concurrent_requests_max: usize,
    /// Records a scoped log read may skip over to fill one page before it returns a shorter
    /// page with a `next` cursor.
    pub scoped_scan_records_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_bytes_max: 4 * 1024 * 1024,
            page_default: 100,
            page_max: 1000,
            request_timeout_ms: 30_000,
            concurrent_requests_max: 1024,
            scoped_scan_records_max: 100_000,
        }
    }
}

/// Everything a handler needs.
pub struct AppState {
    pub store: Arc<Store>,
    /// The read models, kept up to date with the log.
    pub models: govrec_projections::ModelHost,
    pub tokens: TokenRegistry,
    pub limits: Limits,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// Set to true when the server shuts down, so long-lived responses (live feeds) end and
    /// the graceful shutdown can complete.
    pub shutting_down: tokio::sync::watch::Sender<bool>,
    /// Recent read-model answers, keyed by route, query, scope and log position.
    pub answers: crate::cache::AnswerCache,
    /// How far the chain has been verified (the office page's audit state).
    pub chain_watch: crate::chain_watch::ChainWatch,
    /// True while the model follower's last attempt to catch up with the log failed (an I/O
    /// error, a record it cannot read): `/readyz` then answers 503.
    pub models_failing: std::sync::atomic::AtomicBool,
}

pub type SharedState = Arc<AppState>;

/// The authenticated caller of a request (401 without a valid bearer token).
pub struct Caller(pub Principal);

impl FromRequestParts<SharedState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Caller, AppError> {
        let header_value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| AppError::unauthorized("an Authorization: Bearer <token> header is required"))?;
        let text = header_value
            .to_str()
            .map_err(|_| AppError::unauthorized("the Authorization header is not text"))?;
        let token = text
            .strip_prefix("Bearer ")
            .ok_or_else(|| AppError::unauthorized("the Authorization header must be Bearer <token>"))?;
        state
            .tokens
            .authenticate(token.trim())
            .map(Caller)
            .ok_or_else(|| AppError::unauthorized("the token is not valid"))
    }
}

impl Caller {
    /// 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role], what: &str) -> Result<&Principal, AppError> {
        if roles.contains(&self.0.role) {
            Ok(&self.0)
        } else {
            let allowed: Vec<&str> = roles.iter().map(|role| role.as_str()).collect();
            Err(AppError::forbidden(format!(
                "{what} needs the role {}; this token is {}",
                allowed.join(" or "),
                self.0.role.as_str()
            )))
        }
    }
}
