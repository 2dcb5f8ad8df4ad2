//! The read models over HTTP: ledgers (台账), 双评价 scores, coverage statistics, each with
//! `area`, `as_of` and (lists) paging and `format=csv`; and the admin rebuild.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::Json;
use govrec_projections::{AsOfPoint, ComplaintsView, Models, Page, ProjectionError, SubjectKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::app::{Caller, SharedState};
use crate::auth::{Principal, Role, Scope};
use crate::cache::Answer;
use crate::error::AppError;

const READERS: &[Role] = &[Role::Admin, Role::Office, Role::Auditor];

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LedgerQuery {
    /// An area id: the area and everything below it (default: the caller's whole scope).
    pub area: Option<String>,
    /// A log position (`1234`) or an RFC 3339 time: the answer the model gave then.
    pub as_of: Option<String>,
    /// Page size, default 100, at most 1000.
    pub limit: Option<String>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// `json` (default) or `csv` (UTF-8 with BOM).
    pub format: Option<String>,
    /// Complaints only: `all` (default) or `overdue`.
    pub view: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ScoresQuery {
    /// `2026`, `2026-H1` or `2026-Q3`.
    pub period: Option<String>,
    pub area: Option<String>,
    /// `member`, `work_unit` or `org`.
    pub subject_kind: Option<String>,
    pub as_of: Option<String>,
    pub format: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ScoreQuery {
    pub period: Option<String>,
    pub as_of: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CoverageQuery {
    pub area: Option<String>,
    pub as_of: Option<String>,
    pub format: Option<String>,
}

impl From<ProjectionError> for AppError {
    fn from(error: ProjectionError) -> AppError {
        use axum::http::StatusCode;
        match error {
            ProjectionError::UnknownArea(_) | ProjectionError::UnknownSubject(_) => {
                AppError::not_found(error.to_string())
            }
            ProjectionError::AsOfBeyondHead { .. } => {
                AppError::new(StatusCode::NOT_FOUND, "unknown_position", error.to_string())
                    .at(None, Some("as_of".to_owned()))
            }
            ProjectionError::OutOfScope(_) => {
                AppError::forbidden(error.to_string()).at(None, Some("area".to_owned()))
            }
            ProjectionError::InvalidQuery(message) => AppError::bad_request("invalid_field", message),
            ProjectionError::Store(store) => store.into(),
            other => AppError::internal(&other),
        }
    }
}

pub(crate) fn model_scope(principal: &Principal) -> govrec_projections::ReadScope {
    match (&principal.role, &principal.scope) {
        (Role::Admin, _) | (_, Scope::All) => govrec_projections::ReadScope::AllCounties,
        (_, Scope::Counties(counties)) => {
            govrec_projections::ReadScope::Counties(counties.iter().copied().collect())
        }
    }
}

fn parse_uuid(text: Option<&str>, field: &str) -> Result<Option<Uuid>, AppError> {
    text.map(|t| {
        Uuid::parse_str(t).map_err(|_| {
            AppError::bad_request("invalid_field", format!("{field} must be a UUID"))
                .at(None, Some(field.to_owned()))
        })
    })
    .transpose()
}

fn parse_limit(text: Option<&str>) -> Result<Option<usize>, AppError> {
    text.map(|t| match t.parse::<usize>() {
        Ok(limit) if (1..=govrec_projections::PAGE_ROWS_MAX).contains(&limit) => Ok(limit),
        _ => Err(
            AppError::bad_request("invalid_field", "limit must be a whole number from 1 to 1000")
                .at(None, Some("limit".to_owned())),
        ),
    })
    .transpose()
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Csv,
}

fn parse_format(text: Option<&str>) -> Result<Format, AppError> {
    match text {
        None | Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some(_) => Err(
            AppError::bad_request("invalid_field", "format must be json or csv")
                .at(None, Some("format".to_owned())),
        ),
    }
}

/// The models to answer from: as of a past point, or the current ones caught up with every
/// durable record (so a reader sees its own writes).
pub(crate) fn models_for(state: &SharedState, as_of: Option<&str>) -> Result<Arc<Models>, AppError> {
    match as_of {
        Some(text) => {
            let point = AsOfPoint::parse(text).ok_or_else(|| {
                AppError::bad_request("invalid_field", "as_of must be a seq or an RFC 3339 time")
                    .at(None, Some("as_of".to_owned()))
            })?;
            Ok(state.models.models_as_of(&state.store, point)?)
        }
        None => {
            if state.models.models().next_seq() < state.store.head().next_seq {
                state.models.catch_up(&state.store)?;
            }
            Ok(state.models.models())
        }
    }
}

/// Runs model work off the async workers.
pub(crate) async fn on_models<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| AppError::internal(&error))?
}

/// JSON, or the rows under `rows_key` as CSV (UTF-8 with BOM; nested objects flattened to
/// dotted columns, lists as JSON text).
pub(crate) fn respond<T: Serialize>(
    answer: &T,
    format: Format,
    rows_key: &str,
    file_name: &str,
) -> Result<Answer, AppError> {
    if format == Format::Json {
        let body = serde_json::to_vec(answer).map_err(|error| AppError::internal(&error))?;
        return Ok(Answer {
            content_type: "application/json",
            disposition: None,
            body: body.into(),
        });
    }
    let value = serde_json::to_value(answer).map_err(|error| AppError::internal(&error))?;
    let rows = value
        .get(rows_key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let flat: Vec<Vec<(String, String)>> = rows.iter().map(|row| flatten(row, "")).collect();
    let mut columns: Vec<String> = Vec::new();
    for row in &flat {
        for (column, _) in row {
            if !columns.contains(column) {
                columns.push(column.clone());
            }
        }
    }
    let mut writer = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    writer
        .write_record(&columns)
        .map_err(|error| AppError::internal(&error))?;
    for row in flat {
        let cells: Vec<&str> = columns
            .iter()
            .map(|column| {
                row.iter()
                    .find(|(name, _)| name == column)
                    .map_or("", |(_, cell)| cell.as_str())
            })
            .collect();
        writer
            .write_record(cells)
            .map_err(|error| AppError::internal(&error))?;
    }
    let bytes = writer.into_inner().map_err(|error| AppError::internal(&error))?;
    Ok(Answer {
        content_type: "text/csv; charset=utf-8",
        disposition: Some(format!("attachment; filename=\"{file_name}.csv\"")),
        body: bytes.into(),
    })
}

/// The answer as JSON with its `as_of` completed by `tree_size` (= `seq + 1`, 0 for an empty
/// log) and `root`, the Merkle root at that size: an auditor holding a checkpoint can check
/// with one consistency proof that the statistic was computed from the log they verified.
pub(crate) fn tied_to_proof<T: Serialize>(state: &SharedState, answer: &T) -> Result<Value, AppError> {
    let mut value = serde_json::to_value(answer).map_err(|error| AppError::internal(&error))?;
    if let Some(Value::Object(as_of)) = value.get_mut("as_of") {
        let tree_size = as_of.get("seq").and_then(Value::as_u64).map_or(0, |seq| seq + 1);
        let root = state.store.merkle_root(tree_size)?;
        as_of.insert("tree_size".to_owned(), tree_size.into());
        as_of.insert("root".to_owned(), root.to_hex().into());
    }
    Ok(value)
}

/// The cache key of a read-model answer: route and query, the caller's scope, and the log
/// position (every new record changes it, so cached answers never go stale).
fn cache_key(uri: &Uri, principal: &Principal, state: &SharedState) -> String {
    let scope = match (&principal.role, &principal.scope) {
        (Role::Admin, _) | (_, Scope::All) => "*".to_owned(),
        (_, Scope::Counties(counties)) => counties.iter().map(Uuid::to_string).collect::<Vec<_>>().join(","),
    };
    format!(
        "{}?{}|{}|{}",
        uri.path(),
        uri.query().unwrap_or(""),
        scope,
        state.store.head().next_seq
    )
}

/// Answers from the cache, or computes (off the async workers) and keeps the answer.
async fn cached(
    state: &SharedState,
    key: String,
    compute: impl FnOnce() -> Result<Answer, AppError> + Send + 'static,
) -> Result<Response, AppError> {
    if let Some(answer) = state.answers.get(&key) {
        return Ok(answer.into_response());
    }
    let answer = on_models(compute).await?;
    state.answers.put(key, answer.clone());
    Ok(answer.into_response())
}

/// A text cell a spreadsheet will not run: one that begins with `=`, `+`, `-`, `@`, a tab or a
/// carriage return (which Excel and WPS read as the start of a formula) gets a leading `'`, as
/// OWASP advises against CSV injection. Only text is touched: numbers are written by
/// `flatten` from JSON numbers and never pass here.
fn inert_cell(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_owned(),
    }
}

fn flatten(value: &Value, prefix: &str) -> Vec<(String, String)> {
    match value {
        Value::Object(object) => object
            .iter()
            .flat_map(|(key, inner)| {
                let name = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(inner, &name)
            })
            .collect(),
        Value::Null => vec![(prefix.to_owned(), String::new())],
        Value::String(text) => vec![(prefix.to_owned(), inert_cell(text))],
        Value::Array(_) => vec![(prefix.to_owned(), value.to_string())],
        other => vec![(prefix.to_owned(), other.to_string())],
    }
}

macro_rules! ledger_route {
    ($name:ident, $path:literal, $rows:literal, $doc:literal, |$models:ident, $area:ident, $scope:ident, $page:ident, $query:ident| $call:expr) => {
        #[doc = $doc]
        #[utoipa::path(get, path = $path, tag = "read models", params(LedgerQuery),
            responses((status = 200, body = Object, description = "JSON, or CSV with format=csv"),
                (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
                (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
                (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
                (status = 404, body = crate::error::Problem, content_type = "application/problem+json")),
            security(("bearer" = [])))]
        pub async fn $name(
            State(state): State<SharedState>,
            caller: Caller,
            uri: Uri,
            Query($query): Query<LedgerQuery>,
        ) -> Result<Response, AppError> {
            let principal = caller.require(READERS, "reading ledgers")?.clone();
            let key = cache_key(&uri, &principal, &state);
            let $area = parse_uuid($query.area.as_deref(), "area")?;
            let format = parse_format($query.format.as_deref())?;
            let $page = Page {
                limit: parse_limit($query.limit.as_deref())?,
                after: $query.after.clone(),
            };
            let shared = state.clone();
            cached(&state, key, move || {
                let $models = models_for(&shared, $query.as_of.as_deref())?;
                let $scope = model_scope(&principal);
                let answer = $call?;
                respond(&tied_to_proof(&shared, &answer)?, format, $rows, $rows)
            })
            .await
        }
    };
}

ledger_route!(
    ledgers_members,
    "/v1/ledgers/members",
    "members",
    "The member ledger (党员信息台账).",
    |models, area, scope, page, query| models.members_ledger(area, &scope, &page)
);
ledger_route!(
    ledgers_registrations,
    "/v1/ledgers/registrations",
    "registrations",
    "The dual-registration ledger (双报到).",
    |models, area, scope, page, query| models.registrations_ledger(area, &scope, &page)
);
ledger_route!(
    ledgers_pairings,
    "/v1/ledgers/pairings",
    "pairings",
    "The pairing ledger (双包联).",
    |models, area, scope, page, query| models.pairings_ledger(area, &scope, &page)
);
ledger_route!(
    ledgers_complaints,
    "/v1/ledgers/complaints",
    "complaints",
    "The complaint ledger (群众诉求); view=overdue for overdue ones.",
    |models, area, scope, page, query| {
        let view = match query.view.as_deref() {
            None | Some("all") => ComplaintsView::All,
            Some("overdue") => ComplaintsView::Overdue,
            Some(_) => {
                return Err(
                    AppError::bad_request("invalid_field", "view must be all or overdue")
                        .at(None, Some("view".to_owned())),
                )
            }
        };
        models.complaints_ledger(area, &scope, view, None, &page)
    }
);

/// 双评价 scores per subject for a period.
#[utoipa::path(get, path = "/v1/scores", tag = "read models", params(ScoresQuery),
    responses((status = 200, body = Object), (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn scores_list(
    State(state): State<SharedState>,
    caller: Caller,
    uri: Uri,
    Query(query): Query<ScoresQuery>,
) -> Result<Response, AppError> {
    let principal = caller.require(READERS, "reading scores")?.clone();
    let key = cache_key(&uri, &principal, &state);
    let period = required_period(query.period.as_deref())?;
    let area = parse_uuid(query.area.as_deref(), "area")?;
    let kind = query
        .subject_kind
        .as_deref()
        .map(|text| {
            SubjectKind::parse(text).ok_or_else(|| {
                AppError::bad_request("invalid_field", "subject_kind must be member, work_unit or org")
                    .at(None, Some("subject_kind".to_owned()))
            })
        })
        .transpose()?;
    let format = parse_format(query.format.as_deref())?;
    let shared = state.clone();
    cached(&state, key, move || {
        let models = models_for(&shared, query.as_of.as_deref())?;
        let answer = models.scores(&period, area, kind, &model_scope(&principal))?;
        respond(&tied_to_proof(&shared, &answer)?, format, "scores", "scores")
    })
    .await
}

fn required_period(text: Option<&str>) -> Result<String, AppError> {
    text.map(str::to_owned).ok_or_else(|| {
        AppError::bad_request("invalid_field", "period is required (2026, 2026-H1, 2026-Q3)")
            .at(None, Some("period".to_owned()))
    })
}

/// One subject's score with every evaluation behind it and each evaluation's history.
#[utoipa::path(get, path = "/v1/scores/{subject_id}", tag = "read models", params(("subject_id" = Uuid, Path, description = "a member, work unit or organisation"), ScoreQuery),
    responses((status = 200, body = Object), (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn scores_get(
    State(state): State<SharedState>,
    caller: Caller,
    Path(subject): Path<String>,
    Query(query): Query<ScoreQuery>,
) -> Result<Response, AppError> {
    let principal = caller.require(READERS, "reading scores")?.clone();
    let subject = parse_uuid(Some(&subject), "subject_id")?.expect("given");
    let period = required_period(query.period.as_deref())?;
    on_models(move || {
        if !principal.scope.is_all() && principal.role != Role::Admin {
            let county = state.store.county_of(&subject);
            if !county.is_some_and(|county| principal.scope.allows(&county)) {
                return Err(AppError::not_found(format!(
                    "no subject {subject} in this token's scope"
                )));
            }
        }
        let models = models_for(&state, query.as_of.as_deref())?;
        Ok(Json(tied_to_proof(&state, &models.score(subject, &period)?)?).into_response())
    })
    .await
}

/// Coverage statistics (党组织全覆盖, 五有, 报到率, 包联覆盖率, complaints, services).
#[utoipa::path(get, path = "/v1/coverage", tag = "read models", params(CoverageQuery),
    responses((status = 200, body = Object), (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn coverage_get(
    State(state): State<SharedState>,
    caller: Caller,
    uri: Uri,
    Query(query): Query<CoverageQuery>,
) -> Result<Response, AppError> {
    let principal = caller.require(READERS, "reading coverage")?.clone();
    let key = cache_key(&uri, &principal, &state);
    let area = parse_uuid(query.area.as_deref(), "area")?;
    let format = parse_format(query.format.as_deref())?;
    let shared = state.clone();
    cached(&state, key, move || {
        let models = models_for(&shared, query.as_of.as_deref())?;
        let answer = models.coverage(area, &model_scope(&principal))?;
        respond(&tied_to_proof(&shared, &answer)?, format, "children", "coverage")
    })
    .await
}

/// Replays the log into fresh read models while the old ones keep answering, then swaps.
#[utoipa::path(post, path = "/v1/admin/rebuild", tag = "admin",
    responses((status = 200, body = Object, description = "records, seconds, events_per_second, counts, as_of"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn admin_rebuild(State(state): State<SharedState>, caller: Caller) -> Result<Response, AppError> {
    caller.require(&[Role::Admin], "rebuilding read models")?;
    on_models(move || {
        let report = state.models.rebuild(&state.store, |_| {})?;
        crate::spawn_as_of_warmup(state);
        Ok(Json(report).into_response())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::inert_cell;

    #[test]
    fn a_cell_that_would_start_a_formula_is_made_inert() {
        let cases = [
            (
                "=HYPERLINK(\"http://x\",\"y\")",
                "'=HYPERLINK(\"http://x\",\"y\")",
            ),
            ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
            ("-2+3", "'-2+3"),
            ("@SUM(1+1)", "'@SUM(1+1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("张三", "张三"),
            ("a=1", "a=1"),
            ("", ""),
        ];
        let wrong: Vec<_> = cases
            .iter()
            .filter(|(text, inert)| inert_cell(text) != *inert)
            .map(|(text, inert)| format!("{text:?}: {:?}, want {inert:?}", inert_cell(text)))
            .collect();
        assert!(wrong.is_empty(), "{wrong:#?}");
    }
}
