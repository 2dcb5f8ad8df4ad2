//! The county office web page (`GET /`): server-rendered HTML (maud) with SVG charts
//! (plotters), Chinese first with an English switch, no JavaScript. A clerk signs in with a
//! token, which is kept in an HttpOnly, SameSite=Strict cookie (never in a URL), and sees,
//! for the token's scope: coverage per area as charts and a table, the 双评价 ranking of a
//! period, complaints by status with the overdue ones listed, and the audit state of the
//! chain. Every table downloads as CSV (the same rows as the API's `format=csv`).
//!
//! The page reads the same read models as the `/v1` routes, with the same role and scope
//! rules: a county outside the token's scope is refused (403).

mod chart;
mod page;
pub mod session;
mod text;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use govrec_projections::{ComplaintsView, Models, Page, ProjectionError, SubjectKind};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::app::SharedState;
use crate::auth::{Principal, Role};
use crate::error::AppError;
use crate::routes::models::{model_scope, models_for, respond, Format};
use text::Lang;

/// The cookie that holds the session id (`session.rs`).
pub const SESSION_COOKIE: &str = "govrec_session";
/// The cookie in which govrec before 2026-12 kept the API token itself: dropped when seen.
const OLD_TOKEN_COOKIE: &str = "govrec_token";
/// The cookie that remembers the chosen language.
pub const LANG_COOKIE: &str = "govrec_lang";
/// How long a sign-in lasts, in seconds (a working day and a half).
pub const SESSION_SECONDS: i64 = 12 * 60 * 60;
/// The longest token the sign-in form accepts.
pub const TOKEN_CHARS_MAX: usize = 512;

/// Roles that may read the page (the roles that read the models).
const READERS: &[Role] = &[Role::Admin, Role::Office, Role::Auditor];

/// The routes of the page.
pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/", get(dashboard))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/download/{table}", get(download))
        .route("/static/app.css", get(stylesheet))
}

/// The query of the page and of its downloads.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub area: Option<String>,
    pub period: Option<String>,
    pub subject_kind: Option<String>,
    pub lang: Option<String>,
    /// Downloads of complaints: `overdue` (default, the table shown) or `all`.
    pub view: Option<String>,
}

/// The page's current choices, to build links that keep them.
#[derive(Debug, Clone, Default)]
pub struct Link {
    pub area: Option<Uuid>,
    pub period: String,
    pub subject_kind: Option<SubjectKind>,
}

#[derive(Serialize)]
struct LinkQuery<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    area: Option<Uuid>,
    #[serde(skip_serializing_if = "str::is_empty")]
    period: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject_kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lang: Option<&'static str>,
}

pub fn subject_kind_str(kind: SubjectKind) -> &'static str {
    match kind {
        SubjectKind::Member => "member",
        SubjectKind::WorkUnit => "work_unit",
        SubjectKind::Org => "org",
    }
}

impl Link {
    fn url(&self, path: &str, area: Option<Uuid>, lang: Option<Lang>) -> String {
        let query = serde_urlencoded::to_string(LinkQuery {
            area,
            period: &self.period,
            subject_kind: self.subject_kind.map(subject_kind_str),
            lang: lang.map(Lang::code),
        })
        .expect("plain values encode");
        if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{query}")
        }
    }

    pub fn with_lang(&self, lang: Lang) -> String {
        self.url("/", self.area, Some(lang))
    }

    pub fn with_area(&self, area: Option<Uuid>) -> String {
        self.url("/", area, None)
    }

    pub fn download(&self, table: &str) -> String {
        self.url(&format!("/download/{table}.csv"), self.area, None)
    }
}

/// A failure shown as a page.
struct WebError {
    lang: Lang,
    status: StatusCode,
    detail: String,
}

impl WebError {
    fn from_app(lang: Lang, error: AppError) -> WebError {
        WebError {
            lang,
            status: error.status(),
            detail: error.0.detail.clone(),
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let t = self.lang.text();
        let heading = match self.status {
            StatusCode::FORBIDDEN => t.forbidden,
            StatusCode::NOT_FOUND => t.not_found,
            status if status.is_client_error() => t.bad_request,
            _ => t.unavailable,
        };
        html_response(self.status, page::problem(self.lang, heading, &self.detail))
    }
}

fn html_response(status: StatusCode, markup: maud::Markup) -> Response {
    let mut response = (status, markup).into_response();
    let headers = response.headers_mut();
    // The page's data is the caller's: never cached by the browser or a proxy.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    secure_headers(headers);
    response
}

/// No scripts at all, styles and images only from this origin (charts are inline SVG),
/// forms only to this origin, never framed.
fn secure_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// The language: the query's `lang` (remembered in a cookie), else the cookie's, else Chinese.
fn language(jar: &CookieJar, query: Option<&str>) -> (Lang, Option<Cookie<'static>>) {
    if let Some(lang) = query.and_then(Lang::parse) {
        let cookie = Cookie::build((LANG_COOKIE, lang.code()))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Strict)
            .max_age(time::Duration::days(365))
            .build();
        return (lang, Some(cookie));
    }
    let lang = jar
        .get(LANG_COOKIE)
        .and_then(|cookie| Lang::parse(cookie.value()))
        .unwrap_or(Lang::Zh);
    (lang, None)
}

fn session(state: &SharedState, jar: &CookieJar) -> Option<Principal> {
    let id = jar.get(SESSION_COOKIE)?;
    state.sessions.principal(id.value(), &state.tokens)
}

fn expire(name: &'static str) -> Cookie<'static> {
    Cookie::build((name, ""))
        .path("/")
        .max_age(time::Duration::ZERO)
        .build()
}

/// Reads the page's choices; a bad value is a 400 page. The period defaults to the year of
/// the models' last record (this year for an empty log).
fn choices(lang: Lang, query: &PageQuery, models: &Models) -> Result<Link, WebError> {
    let bad = |detail: &str| WebError {
        lang,
        status: StatusCode::BAD_REQUEST,
        detail: detail.to_owned(),
    };
    let area = match query.area.as_deref().filter(|text| !text.is_empty()) {
        Some(text) => Some(Uuid::parse_str(text).map_err(|_| bad("area must be a UUID"))?),
        None => None,
    };
    let subject_kind = match query.subject_kind.as_deref().filter(|text| !text.is_empty()) {
        Some(text) => Some(
            SubjectKind::parse(text).ok_or_else(|| bad("subject_kind must be member, work_unit or org"))?,
        ),
        None => None,
    };
    let period = query
        .period
        .clone()
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| {
            models
                .watermark()
                .map(|watermark| watermark.recorded_at.to_rfc3339()[..4].to_owned())
                .unwrap_or_else(|| jiff::Zoned::now().year().to_string())
        });
    Ok(Link {
        area,
        period,
        subject_kind,
    })
}

fn projection_error(lang: Lang, error: ProjectionError) -> WebError {
    WebError::from_app(lang, error.into())
}

/// Runs model work off the async workers.
async fn blocking<T: Send + 'static>(
    lang: Lang,
    work: impl FnOnce() -> Result<T, WebError> + Send + 'static,
) -> Result<T, WebError> {
    tokio::task::spawn_blocking(work).await.map_err(|error| {
        tracing::error!(%error, "a page task failed");
        WebError {
            lang,
            status: StatusCode::INTERNAL_SERVER_ERROR,
            detail: "internal error".to_owned(),
        }
    })?
}

/// `GET /`: the sign-in form, or the dashboard of the signed-in caller's scope.
async fn dashboard(
    State(state): State<SharedState>,
    jar: CookieJar,
    Query(query): Query<PageQuery>,
) -> Response {
    let (lang, lang_cookie) = language(&jar, query.lang.as_deref());
    let jar = match lang_cookie {
        Some(cookie) => jar.add(cookie),
        None => jar,
    };
    let Some(principal) = session(&state, &jar) else {
        // A cookie that no longer names a token (revoked, or the file changed) is dropped.
        let signed_out = jar.get(SESSION_COOKIE).is_some();
        let jar = if signed_out {
            jar.add(expire(SESSION_COOKIE))
        } else {
            jar
        };
        let jar = if jar.get(OLD_TOKEN_COOKIE).is_some() {
            jar.add(expire(OLD_TOKEN_COOKIE))
        } else {
            jar
        };
        let status = if signed_out {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        };
        return (jar, html_response(status, page::sign_in(lang, signed_out))).into_response();
    };
    let rendered = render_dashboard(state, principal, lang, query).await;
    (jar, rendered.unwrap_or_else(IntoResponse::into_response)).into_response()
}

async fn render_dashboard(
    state: SharedState,
    principal: Principal,
    lang: Lang,
    query: PageQuery,
) -> Result<Response, WebError> {
    if !READERS.contains(&principal.role) {
        return Err(WebError {
            lang,
            status: StatusCode::FORBIDDEN,
            detail: format!(
                "the page shows read models, which the role {} may not read",
                principal.role.as_str()
            ),
        });
    }
    let markup = blocking(lang, move || {
        let models = models_for(&state, None).map_err(|error| WebError::from_app(lang, error))?;
        let mut link = choices(lang, &query, &models)?;
        // A token of one county opens on that county, with its towns as the breakdown.
        if let (None, crate::auth::Scope::Counties(counties)) = (link.area, &principal.scope) {
            if counties.len() == 1 && principal.role != Role::Admin {
                link.area = counties.iter().next().copied();
            }
        }
        let scope = model_scope(&principal);
        let coverage = models
            .coverage(link.area, &scope)
            .map_err(|error| projection_error(lang, error))?;
        let mut scores = models
            .scores(&link.period, link.area, link.subject_kind, &scope)
            .map_err(|error| projection_error(lang, error))?;
        page::rank(&mut scores.scores);
        let complaints = models
            .complaints_ledger(
                link.area,
                &scope,
                ComplaintsView::Overdue,
                None,
                &Page {
                    limit: Some(page::OVERDUE_ROWS),
                    after: None,
                },
            )
            .map_err(|error| projection_error(lang, error))?;
        let audit = state
            .chain_watch
            .check(&state.store)
            .map_err(|error| WebError::from_app(lang, error.into()))?;
        Ok(page::dashboard(&page::Dashboard {
            lang,
            principal: &principal,
            link,
            coverage: &coverage,
            scores: &scores,
            complaints: &complaints,
            audit: &audit,
        }))
    })
    .await?;
    Ok(html_response(StatusCode::OK, markup))
}

#[derive(Deserialize)]
struct SignIn {
    token: String,
}

/// `POST /login`: checks the token and keeps it in an HttpOnly, SameSite=Strict cookie.
async fn login(
    State(state): State<SharedState>,
    jar: CookieJar,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Response {
    let (lang, _) = language(&jar, None);
    if !same_origin(&headers) {
        return WebError {
            lang,
            status: StatusCode::FORBIDDEN,
            detail: "sign-in is accepted only from this site's own form".to_owned(),
        }
        .into_response();
    }
    let token = form.token.trim();
    let valid = token.len() <= TOKEN_CHARS_MAX && state.tokens.authenticate(token).is_some();
    if !valid {
        return html_response(StatusCode::UNAUTHORIZED, page::sign_in(lang, true));
    }
    let lifetime = std::time::Duration::from_secs(SESSION_SECONDS.unsigned_abs());
    let id = state.sessions.open(token, lifetime);
    let cookie = Cookie::build((SESSION_COOKIE, id))
        .path("/")
        .http_only(true)
        .secure(state.limits.secure_cookies)
        .same_site(SameSite::Strict)
        .max_age(time::Duration::seconds(SESSION_SECONDS))
        .build();
    let jar = if jar.get(OLD_TOKEN_COOKIE).is_some() {
        jar.add(expire(OLD_TOKEN_COOKIE))
    } else {
        jar
    };
    (jar.add(cookie), Redirect::to("/")).into_response()
}

/// A form post from this site: when the browser sends Fetch Metadata (`Sec-Fetch-Site`), it
/// must say `same-origin` (or `none`: typed by the user); otherwise an `Origin`, when sent,
/// must name the host the request was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name| {
        headers
            .get(name)
            .and_then(|value: &HeaderValue| value.to_str().ok())
    };
    if let Some(site) = text(HeaderName::from_static("sec-fetch-site")) {
        return site == "same-origin" || site == "none";
    }
    match (text(header::ORIGIN), text(header::HOST)) {
        (None, _) => true,
        (Some(origin), Some(host)) => {
            origin == format!("http://{host}") || origin == format!("https://{host}")
        }
        (Some(_), None) => false,
    }
}

/// `POST /logout`: ends the session.
async fn logout(State(state): State<SharedState>, jar: CookieJar) -> Response {
    if let Some(id) = jar.get(SESSION_COOKIE) {
        state.sessions.close(id.value());
    }
    (jar.add(expire(SESSION_COOKIE)), Redirect::to("/")).into_response()
}

/// `GET /download/{coverage,scores,complaints}.csv`: the page's tables as CSV (UTF-8 with BOM),
/// for the signed-in caller, with the page's choices.
async fn download(
    State(state): State<SharedState>,
    jar: CookieJar,
    Path(table): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    let (lang, _) = language(&jar, None);
    let Some(principal) = session(&state, &jar) else {
        return html_response(StatusCode::UNAUTHORIZED, page::sign_in(lang, false));
    };
    if !READERS.contains(&principal.role) {
        return WebError {
            lang,
            status: StatusCode::FORBIDDEN,
            detail: format!("the role {} may not read the models", principal.role.as_str()),
        }
        .into_response();
    }
    let answer = blocking(lang, move || {
        let models = models_for(&state, None).map_err(|error| WebError::from_app(lang, error))?;
        let link = choices(lang, &query, &models)?;
        let scope = model_scope(&principal);
        let failed = |error: ProjectionError| projection_error(lang, error);
        let to_csv = |answer: Result<crate::cache::Answer, AppError>| {
            answer.map_err(|error| WebError::from_app(lang, error))
        };
        match table.as_str() {
            "coverage.csv" => {
                let coverage = models.coverage(link.area, &scope).map_err(failed)?;
                to_csv(respond(&coverage, Format::Csv, "children", "coverage"))
            }
            "scores.csv" => {
                let period = query.period.clone().ok_or_else(|| WebError {
                    lang,
                    status: StatusCode::BAD_REQUEST,
                    detail: "period is required".to_owned(),
                })?;
                let mut scores = models
                    .scores(&period, link.area, link.subject_kind, &scope)
                    .map_err(failed)?;
                page::rank(&mut scores.scores);
                to_csv(respond(&scores, Format::Csv, "scores", "scores"))
            }
            "complaints.csv" => {
                let view = match query.view.as_deref() {
                    None | Some("overdue") => ComplaintsView::Overdue,
                    Some("all") => ComplaintsView::All,
                    Some(_) => {
                        return Err(WebError {
                            lang,
                            status: StatusCode::BAD_REQUEST,
                            detail: "view must be overdue or all".to_owned(),
                        })
                    }
                };
                let mut rows = Vec::new();
                let mut after = None;
                loop {
                    let ledger = models
                        .complaints_ledger(
                            link.area,
                            &scope,
                            view,
                            None,
                            &Page {
                                limit: Some(govrec_projections::PAGE_ROWS_MAX),
                                after,
                            },
                        )
                        .map_err(failed)?;
                    rows.extend(ledger.complaints);
                    match ledger.next {
                        Some(next) => after = Some(next),
                        None => break,
                    }
                }
                to_csv(respond(
                    &serde_json::json!({ "complaints": rows }),
                    Format::Csv,
                    "complaints",
                    "complaints",
                ))
            }
            _ => Err(WebError {
                lang,
                status: StatusCode::NOT_FOUND,
                detail: "the downloads are coverage.csv, scores.csv and complaints.csv".to_owned(),
            }),
        }
    })
    .await;
    match answer {
        Ok(answer) => {
            let mut response = answer.into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => error.into_response(),
    }
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("app.css"),
    )
        .into_response()
}
