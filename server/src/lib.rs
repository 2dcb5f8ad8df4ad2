//! govrec's HTTP service: the routes of `shared/api.md` on axum, with bearer-token roles and
//! county scopes, RFC 9457 problems, named limits, metrics and an OpenAPI description
//! generated from the code. The only crate that knows HTTP.

pub mod app;
pub mod auth;
pub mod cache;
pub mod chain_watch;
pub mod envelope;
pub mod error;
pub mod file_modes;
pub mod listen;
pub mod redaction;
pub mod routes;
pub mod web;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use tower::ServiceBuilder;
use utoipa::OpenApi;

pub use app::{AppState, Limits, SharedState};

use crate::routes::{audit, events, models, ops, redact, subscribe};

#[derive(OpenApi)]
#[openapi(
    info(title = "govrec", description = "The append-only, hash-chained record of party-building-led community governance."),
    paths(
        events::events_append, events::events_list, events::events_get, events::entities_history,
        subscribe::subscribe, models::ledgers_members, models::ledgers_registrations, models::ledgers_pairings,
        models::ledgers_complaints, models::scores_list, models::scores_get, models::coverage_get, models::admin_rebuild,
        redact::admin_redact,
        audit::audit_verify, audit::audit_proof_inclusion, audit::audit_proof_consistency,
        audit::audit_checkpoint, audit::audit_key, ops::healthz, ops::readyz, ops::metrics_get, ops::openapi_get,
    ),
    components(schemas(error::Problem)),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI description.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The process-wide Prometheus recorder (installed once; tests build many routers).
pub fn metrics_handle() -> metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: OnceLock<metrics_exporter_prometheus::PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
                .set_buckets(&[0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0, 5.0])
                .expect("static buckets are valid")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may exist in an embedding program; then ours only renders.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// The whole HTTP API.
pub fn router(state: SharedState) -> Router {
    let limits = state.limits.clone();
    let routes = Router::new()
        .route("/v1/events", post(events::events_append).get(events::events_list))
        .route("/v1/events/{seq}", get(events::events_get))
        .route("/v1/entities/{id}/history", get(events::entities_history))
        .route("/v1/subscribe", get(subscribe::subscribe))
        .route("/v1/ledgers/members", get(models::ledgers_members))
        .route("/v1/ledgers/registrations", get(models::ledgers_registrations))
        .route("/v1/ledgers/pairings", get(models::ledgers_pairings))
        .route("/v1/ledgers/complaints", get(models::ledgers_complaints))
        .route("/v1/scores", get(models::scores_list))
        .route("/v1/scores/{subject_id}", get(models::scores_get))
        .route("/v1/coverage", get(models::coverage_get))
        .route("/v1/admin/rebuild", post(models::admin_rebuild))
        .route("/v1/admin/redact", post(redact::admin_redact))
        .route("/v1/audit/verify", get(audit::audit_verify))
        .route("/v1/audit/proof/inclusion", get(audit::audit_proof_inclusion))
        .route("/v1/audit/proof/consistency", get(audit::audit_proof_consistency))
        .route("/v1/audit/checkpoint", get(audit::audit_checkpoint))
        .route("/v1/audit/key", get(audit::audit_key))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics_get))
        .route("/openapi.json", get(ops::openapi_get))
        .merge(web::routes())
        .fallback(|| async { error::AppError::not_found("no such route") })
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .layer(
            ServiceBuilder::new()
                .layer(axum::error_handling::HandleErrorLayer::new(
                    |_: tower::BoxError| async {
                        error::AppError::new(
                            axum::http::StatusCode::SERVICE_UNAVAILABLE,
                            "timeout",
                            "the request took too long",
                        )
                    },
                ))
                .timeout(Duration::from_millis(limits.request_timeout_ms)),
        )
        .layer(DefaultBodyLimit::max(limits.body_bytes_max))
        .with_state(state);
    // Around the routes, not per route: the body is read first (within its time limit), then
    // the request counts against one limit of requests handled at once, for all routes.
    let whole = ServiceBuilder::new()
        .layer(axum::middleware::from_fn_with_state(limits.clone(), read_body))
        .concurrency_limit(limits.concurrent_requests_max)
        .service(routes);
    Router::new().fallback_service(whole)
}

/// Reads the request body whole, within `body_read_timeout_ms` (408 `body_timeout`) and
/// `body_bytes_max` (413 `payload_too_large`), before the request goes on. A slow body then
/// holds its connection, never a place among the requests handled at once.
async fn read_body(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    use axum::response::IntoResponse;
    use tokio_stream::StreamExt;
    let (parts, body) = request.into_parts();
    let max = limits.body_bytes_max;
    let reading = async move {
        let mut chunks: Vec<axum::body::Bytes> = Vec::new();
        let mut total = 0usize;
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| {
                error::AppError::bad_request("invalid_request", "the request body was cut off")
            })?;
            total += chunk.len();
            if total > max {
                return Err(error::AppError::new(
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("the request body is over {max} bytes"),
                ));
            }
            chunks.push(chunk);
        }
        Ok(match chunks.len() {
            0 => Body::empty(),
            1 => Body::from(chunks.pop().expect("one chunk")),
            _ => Body::from(chunks.concat()),
        })
    };
    let timeout = Duration::from_millis(limits.body_read_timeout_ms);
    match tokio::time::timeout(timeout, reading).await {
        Ok(Ok(body)) => next.run(Request::from_parts(parts, body)).await,
        Ok(Err(problem)) => problem.into_response(),
        Err(_) => error::AppError::new(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            format!("the request body did not arrive within {} s", timeout.as_secs()),
        )
        .into_response(),
    }
}

/// Request metrics by route, and a problem body for axum's own rejections.
async fn observe(State(_state): State<SharedState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!("govrec_request_seconds", "route" => route.clone(), "method" => method.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("govrec_requests_total", "route" => route, "method" => method, "status" => status)
        .increment(1);
    problem_for_rejection(response).await
}

/// axum answers some failures itself (body too large, bad query string) in plain text; turn
/// those into problems so every failure has the same shape.
async fn problem_for_rejection(response: Response) -> Response {
    use axum::response::IntoResponse;
    // Problems are already problems; HTML pages (the web page's refusals) stay pages.
    let shaped = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|value| {
            let value = value.as_bytes();
            value.starts_with(b"application/problem+json") || value.starts_with(b"text/html")
        });
    let status = response.status();
    if shaped || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let detail = String::from_utf8_lossy(&body).into_owned();
    let code = match status {
        axum::http::StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        axum::http::StatusCode::BAD_REQUEST => "invalid_request",
        axum::http::StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        _ => "error",
    };
    error::AppError::new(status, code, detail).into_response()
}

/// The folder, inside the data directory, of the read models' snapshots.
pub const MODELS_DIR: &str = "models";

/// Builds the shared state for a store in `data_dir`: restores the read models (from their
/// newest usable snapshot, then the log) and loads the tokens.
pub fn state_for(
    store: Arc<govrec_store::Store>,
    data_dir: &std::path::Path,
    limits: Limits,
) -> anyhow::Result<SharedState> {
    state_with_host(store, data_dir, limits, govrec_projections::HostConfig::default())
}

/// [`state_for`] with the read models' snapshot settings chosen (tests take snapshot points
/// every few records).
pub fn state_with_host(
    store: Arc<govrec_store::Store>,
    data_dir: &std::path::Path,
    limits: Limits,
    host: govrec_projections::HostConfig,
) -> anyhow::Result<SharedState> {
    let (models, opened) =
        govrec_projections::ModelHost::open(&store, Some(&data_dir.join(MODELS_DIR)), host)?;
    tracing::info!(?opened, "read models restored");
    Ok(Arc::new(AppState {
        models,
        tokens: auth::TokenRegistry::open(data_dir)?,
        feeds: Default::default(),
        sessions: Default::default(),
        store,
        limits,
        metrics: metrics_handle(),
        shutting_down: tokio::sync::watch::channel(false).0,
        answers: cache::AnswerCache::default(),
        chain_watch: chain_watch::ChainWatch::default(),
        models_failing: std::sync::atomic::AtomicBool::new(false),
    }))
}

/// Prepares the first `as_of` answer's start point and memory in the background, after a
/// start or a rebuild (`ModelHost::warm_as_of`).
pub fn spawn_as_of_warmup(state: SharedState) {
    tokio::task::spawn_blocking(move || warm_as_of(&state));
}

pub(crate) fn warm_as_of(state: &AppState) {
    match state.models.warm_as_of(&state.store) {
        Ok(warmed) => tracing::debug!(warmed, "as_of answers warmed"),
        Err(error) => {
            tracing::warn!(%error, "warming the as_of answers failed; the first one will be slower")
        }
    }
}

/// How long the model follower waits before it tries again after a failed catch-up (if no
/// commit wakes it sooner).
const MODEL_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// Keeps the read models caught up with the log in the background (reads also catch up on
/// demand), until the server shuts down.
pub fn spawn_model_follower(state: SharedState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut head_changes = state.store.watch_head();
        let mut shutting_down = state.shutting_down.subscribe();
        loop {
            let follower = state.clone();
            let caught_up =
                tokio::task::spawn_blocking(move || follower.models.catch_up(&follower.store)).await;
            let failing = match caught_up {
                Ok(Ok(_)) => false,
                Ok(Err(error)) => {
                    tracing::error!(%error, "the read models cannot catch up with the log");
                    true
                }
                Err(error) => {
                    tracing::error!(%error, "the read-model follower panicked");
                    true
                }
            };
            // Tried again at the next commit, or after a second; `/readyz` says "not ready"
            // meanwhile.
            state
                .models_failing
                .store(failing, std::sync::atomic::Ordering::Release);
            tokio::select! {
                changed = head_changes.changed() => if changed.is_err() { return },
                _ = shutting_down.changed() => return,
                () = tokio::time::sleep(MODEL_RETRY), if failing => {}
            }
        }
    })
}
