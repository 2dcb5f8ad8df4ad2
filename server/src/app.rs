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
    /// A request body not wholly received in this time is answered 408 `body_timeout`; bodies
    /// are read before a request counts against `concurrent_requests_max`.
    pub body_read_timeout_ms: u64,
    /// Connections open at once (also kept below the open-file limit); more wait to be
    /// accepted.
    pub connections_max: usize,
    /// A connection that sends no complete request head for this long (a new one, or one idle
    /// between requests) is closed.
    pub header_read_timeout_ms: u64,
    /// Live feeds (`/v1/subscribe`) open at once, in all and per token; more are answered 429
    /// `too_many_feeds`. Each holds at most `SUBSCRIBE_QUEUE_EVENTS` + `SUBSCRIBE_CHUNK_RECORDS`
    /// records in memory.
    pub live_feeds_max: usize,
    pub live_feeds_per_token_max: usize,
    /// Mark the web page's session cookie `Secure` (sent over HTTPS only): for a deployment
    /// behind a TLS proxy (`govrec serve --secure-cookies`).
    pub secure_cookies: bool,
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
            body_read_timeout_ms: 10_000,
            connections_max: 16_384,
            header_read_timeout_ms: 10_000,
            live_feeds_max: 256,
            live_feeds_per_token_max: 8,
            secure_cookies: false,
        }
    }
}

/// Everything a handler needs.
pub struct AppState {
    pub store: Arc<Store>,
    /// The read models, kept up to date with the log.
    pub models: govrec_projections::ModelHost,
    pub tokens: TokenRegistry,
    /// The web page's sign-in sessions (`web/session.rs`).
    pub sessions: crate::web::session::Sessions,
    /// The live feeds open now (`routes/subscribe.rs`).
    pub feeds: crate::routes::subscribe::FeedSlots,
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
