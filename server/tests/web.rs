//! The county office web page through the router (`tower::ServiceExt::oneshot`), on the demo
//! data set: sign-in and its cookie, the dashboard's numbers against the API's, scopes and
//! roles, the CSV downloads, and bad input. The real browser test is `browser.rs`.

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use govrec_demo::{load_demo, DemoSummary, DEMO_ACTOR, HUNYUAN, LINGQIU};
use govrec_server::auth::{create_token, Role, Scope};
use govrec_store::{Store, StoreConfig};
use serde_json::Value;
use tower::ServiceExt;

struct Site {
    router: axum::Router,
    summary: DemoSummary,
    admin: String,
    lingqiu_office: String,
    recorder: String,
    auditor: String,
    _dir: tempfile::TempDir,
}

/// One demo store for the whole file (loading it is the slow part).
fn site() -> &'static Site {
    static SITE: OnceLock<Site> = OnceLock::new();
    SITE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("log"), StoreConfig::default()).unwrap());
        let summary = load_demo(&store, DEMO_ACTOR).unwrap();
        let lingqiu = summary.county(LINGQIU).unwrap().id.to_string();
        let token = |role, scope: &str, name| {
            create_token(dir.path(), role, Scope::parse(scope).unwrap(), name).unwrap()
        };
        let admin = token(Role::Admin, "*", "admin");
        let lingqiu_office = token(Role::Office, &lingqiu, "灵丘县办公室");
        let recorder = token(Role::Recorder, "*", "recorder");
        let auditor = token(Role::Auditor, "*", "auditor");
        let state = govrec_server::state_for(store, dir.path(), govrec_server::Limits::default()).unwrap();
        Site {
            router: govrec_server::router(state),
            summary,
            admin,
            lingqiu_office,
            recorder,
            auditor,
            _dir: dir,
        }
    })
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }

    fn header(&self, name: &str) -> String {
        self.headers
            .get_all(name)
            .iter()
            .map(|value| value.to_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

async fn send(request: Request<Body>) -> Reply {
    let response = site().router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 64 << 20)
        .await
        .unwrap()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

/// The page at `uri`, signed in with `token` (through `/login`) when given.
async fn page(uri: &str, token: Option<&str>) -> Reply {
    match token {
        Some(token) => {
            let session = session_of(&login(token, None).await);
            page_with_cookie(uri, &format!("govrec_session={session}")).await
        }
        None => send(Request::get(uri).body(Body::empty()).unwrap()).await,
    }
}

async fn page_with_cookie(uri: &str, cookie: &str) -> Reply {
    send(
        Request::get(uri)
            .header("cookie", cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

/// The session id a sign-in set.
fn session_of(reply: &Reply) -> String {
    let cookies = reply.header("set-cookie");
    cookies
        .lines()
        .find_map(|line| line.strip_prefix("govrec_session="))
        .map(|rest| rest.split(';').next().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no session cookie in {cookies:?}"))
}

async fn api(uri: &str, token: &str) -> Reply {
    send(
        Request::get(uri)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

async fn login(token: &str, origin: Option<&str>) -> Reply {
    let mut request = Request::post("/login")
        .header("host", "127.0.0.1:8080")
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    let body = serde_urlencoded::to_string([("token", token)]).unwrap();
    send(request.body(Body::from(body)).unwrap()).await
}

/// The cells of the table with `table_id`: (row's data attribute value, data-key, data-value).
fn cells(html: &str, table_id: &str, row_attribute: &str) -> Vec<(String, String, String)> {
    let start = html
        .find(&format!("id=\"{table_id}\""))
        .expect("the table is on the page");
    let table = &html[start..start + html[start..].find("</table>").unwrap()];
    let mut found = Vec::new();
    for row in table.split("<tr").skip(1) {
        let Some(key_at) = row.find(&format!("{row_attribute}=\"")) else {
            continue;
        };
        let row_key = attribute_value(&row[key_at..]);
        for cell in row.split("<td").skip(1) {
            if let Some(at) = cell.find("data-key=\"") {
                let value_at = cell.find("data-value=\"").unwrap();
                found.push((
                    row_key.clone(),
                    attribute_value(&cell[at..]),
                    attribute_value(&cell[value_at..]).replace("&quot;", "\""),
                ));
            }
        }
    }
    found
}

fn attribute_value(text: &str) -> String {
    let open = text.find('"').unwrap() + 1;
    let close = open + text[open..].find('"').unwrap();
    text[open..close].to_owned()
}

fn stat<'a>(stats: &'a Value, key: &str) -> &'a Value {
    key.split('.').fold(stats, |value, part| &value[part])
}

#[tokio::test]
async fn without_a_session_the_page_is_the_sign_in_form_in_chinese() {
    let reply = page("/", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.header("content-type").starts_with("text/html"));
    let html = reply.text();
    assert!(html.contains("<html lang=\"zh-CN\">"), "{html}");
    assert!(
        html.contains("访问令牌") && html.contains("action=\"/login\""),
        "{html}"
    );
    assert!(html.contains("type=\"password\""), "the token field is masked");
    assert!(reply
        .header("content-security-policy")
        .contains("default-src 'none'"));
    assert_eq!(reply.header("cache-control"), "no-store");

    let english = page("/?lang=en", None).await;
    assert!(english.text().contains("<html lang=\"en\">"));
    assert!(english.text().contains("Access token"));
    assert!(english.header("set-cookie").contains("govrec_lang=en"));
}

#[tokio::test]
async fn signing_in_keeps_a_session_id_in_an_http_only_strict_cookie_never_the_token() {
    let token = &site().lingqiu_office;
    let reply = login(token, Some("http://127.0.0.1:8080")).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/");
    let cookie = reply.header("set-cookie");
    assert!(cookie.starts_with("govrec_session=gvs_"), "{cookie}");
    assert!(
        !cookie.contains(token.as_str()),
        "the cookie never holds the token: {cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "Secure only when configured: {cookie}"
    );
    let session = session_of(&reply);
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(cookie.contains("Path=/"), "{cookie}");

    let dashboard = page_with_cookie("/", &format!("govrec_session={session}")).await;
    assert_eq!(dashboard.status, StatusCode::OK);
    assert!(
        !dashboard.text().contains(token.as_str()),
        "the token is never written into the page"
    );

    let logout = send(
        Request::post("/logout")
            .header("cookie", format!("govrec_session={session}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(logout.status, StatusCode::SEE_OTHER);
    assert!(logout.header("set-cookie").contains("govrec_session=;"));
    assert!(logout.header("set-cookie").contains("Max-Age=0"));
    let after = page_with_cookie("/", &format!("govrec_session={session}")).await;
    assert_eq!(
        after.status,
        StatusCode::UNAUTHORIZED,
        "a session ended by signing out is gone"
    );
}

#[tokio::test]
async fn a_wrong_token_or_a_foreign_form_is_refused_and_sets_no_cookie() {
    let wrong = login("gvr_not-a-token", None).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.header("set-cookie").is_empty());
    assert!(wrong.text().contains("令牌无效"));

    let foreign = login(&site().admin, Some("https://evil.example")).await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    assert!(foreign.header("set-cookie").is_empty());
    let cross_site = send(
        Request::post("/login")
            .header("sec-fetch-site", "cross-site")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!("token={}", site().admin)))
            .unwrap(),
    )
    .await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    assert!(cross_site.header("set-cookie").is_empty());

    // A cookie naming no session: the sign-in form again, and the cookie is dropped.
    let stale = page_with_cookie("/", "govrec_session=gvs_0123").await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED);
    assert!(stale.text().contains("id=\"sign-in\""));
    assert!(stale.header("set-cookie").contains("Max-Age=0"));
    // The cookie of govrec before 2026-12 held the token itself: it signs nobody in, and is
    // dropped.
    let old = page_with_cookie("/", &format!("govrec_token={}", site().admin)).await;
    assert!(old.text().contains("id=\"sign-in\""));
    assert!(
        old.header("set-cookie").contains("govrec_token=;"),
        "{}",
        old.header("set-cookie")
    );
}

#[tokio::test]
async fn the_dashboard_shows_the_numbers_of_the_coverage_api_for_the_tokens_scope() {
    let token = &site().lingqiu_office;
    let lingqiu = site().summary.county(LINGQIU).unwrap().id;
    // A token of one county opens on that county, its towns as the breakdown.
    let html = page("/", Some(token)).await.text();
    let coverage: Value =
        serde_json::from_slice(&api(&format!("/v1/coverage?area={lingqiu}"), token).await.body).unwrap();
    let children = coverage["children"].as_array().unwrap();
    assert!(!children.is_empty(), "Lingqiu's towns");
    let found = cells(&html, "coverage-table", "data-area");
    assert_eq!(
        found.len(),
        (children.len() + 1) * 13,
        "13 numbers per town and for the total"
    );
    for (area, key, value) in &found {
        let stats = if area == "total" {
            &coverage["stats"]
        } else {
            &children
                .iter()
                .find(|child| child["area"]["id"] == area.as_str())
                .unwrap_or_else(|| panic!("{area} is a town of Lingqiu"))["stats"]
        };
        let expected = stat(stats, key);
        let shown: Value = serde_json::from_str(value).unwrap();
        assert_eq!(&shown, expected, "{area} {key}");
    }
    let first_town = children[0]["area"]["name"].as_str().unwrap();
    assert!(
        html.contains(&format!(">{first_town}<")),
        "the charts label the towns in Chinese"
    );
    assert!(html.contains(LINGQIU));
    assert!(!html.contains(HUNYUAN), "nothing of another county");
    // Lingqiu has full party-organisation coverage (the article).
    assert!(html.contains(
        "<tr class=\"total\" data-area=\"total\"><th scope=\"row\">合计</th><td data-key=\"compounds\""
    ));
    let total_coverage = cells(&html, "coverage-table", "data-area")
        .into_iter()
        .find(|(area, key, _)| area == "total" && key == "party_org_coverage")
        .unwrap();
    assert_eq!(total_coverage.2, "1.0");
    assert!(html.contains("data-value=\"1.0\">100.0%<"));
    // The audit state names the head the API names.
    let head: Value = serde_json::from_slice(&api("/v1/audit/verify", &site().auditor).await.body).unwrap();
    assert!(
        html.contains(&format!("data-seq=\"{}\"", head["head"]["seq"])),
        "{head}"
    );
    assert!(html.contains(head["head"]["hash"].as_str().unwrap()));
}

#[tokio::test]
async fn the_ranking_and_the_complaints_agree_with_the_api() {
    let token = &site().admin;
    let html = page("/?period=2026", Some(token)).await.text();
    let scores: Value = serde_json::from_slice(&api("/v1/scores?period=2026", token).await.body).unwrap();
    let mut combined: Vec<f64> = scores["scores"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|row| row["combined"].as_f64())
        .collect();
    combined.sort_by(|a, b| b.total_cmp(a));
    let shown: Vec<f64> = cells(&html, "ranking-table", "data-subject")
        .into_iter()
        .filter(|(_, key, _)| key == "combined")
        .map(|(_, _, value)| value.parse().unwrap())
        .collect();
    assert_eq!(shown.len(), 20, "the top 20");
    assert_eq!(
        shown,
        combined[..20],
        "ranked by combined score, as the API scores them"
    );

    let ledger: Value = serde_json::from_slice(
        &api("/v1/ledgers/complaints?view=overdue&limit=1", token)
            .await
            .body,
    )
    .unwrap();
    let counts = &ledger["counts"];
    assert!(
        counts["overdue"].as_u64().unwrap() > 0,
        "the demo has overdue complaints"
    );
    for (_, key, value) in cells(&html, "complaint-counts", "data-status") {
        assert_eq!(value, counts[&key].to_string(), "{key}");
    }
    let overdue_rows = html.matches("<tr class=\"overdue\"").count();
    assert_eq!(
        overdue_rows as u64,
        counts["overdue"].as_u64().unwrap().min(50),
        "overdue complaints are listed and highlighted"
    );
}

#[tokio::test]
async fn a_county_outside_the_scope_is_refused_and_so_is_a_role_without_models() {
    let hunyuan = site().summary.county(HUNYUAN).unwrap().id;
    let refused = page(&format!("/?area={hunyuan}"), Some(&site().lingqiu_office)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.header("content-type").starts_with("text/html"));
    assert!(refused.text().contains("无权查看"));
    assert!(!refused.text().contains(HUNYUAN));

    let download = page(
        &format!("/download/coverage.csv?area={hunyuan}"),
        Some(&site().lingqiu_office),
    )
    .await;
    assert_eq!(download.status, StatusCode::FORBIDDEN);

    let recorder = page("/", Some(&site().recorder)).await;
    assert_eq!(recorder.status, StatusCode::FORBIDDEN);

    let admin = page(&format!("/?area={hunyuan}"), Some(&site().admin)).await;
    assert_eq!(admin.status, StatusCode::OK);
    assert!(admin.text().contains(HUNYUAN));
}

#[tokio::test]
async fn bad_choices_are_a_400_page_and_unknown_areas_a_404_page() {
    let token = &site().admin;
    for (uri, status) in [
        ("/?area=not-a-uuid", StatusCode::BAD_REQUEST),
        ("/?subject_kind=cat", StatusCode::BAD_REQUEST),
        ("/?period=someday", StatusCode::BAD_REQUEST),
        (
            "/?area=00000000-0000-0000-0000-000000000000",
            StatusCode::NOT_FOUND,
        ),
        ("/download/everything.csv", StatusCode::NOT_FOUND),
        ("/download/complaints.csv?view=some", StatusCode::BAD_REQUEST),
    ] {
        let reply = page(uri, Some(token)).await;
        assert_eq!(reply.status, status, "{uri}: {}", reply.text());
        assert!(reply.header("content-type").starts_with("text/html"), "{uri}");
    }
}

#[tokio::test]
async fn every_table_downloads_as_the_csv_the_api_gives() {
    let token = &site().lingqiu_office;
    let lingqiu = site().summary.county(LINGQIU).unwrap().id;
    let download = page(&format!("/download/coverage.csv?area={lingqiu}"), Some(token)).await;
    assert_eq!(download.status, StatusCode::OK);
    assert!(download.header("content-type").starts_with("text/csv"));
    assert!(download.body.starts_with(&[0xEF, 0xBB, 0xBF]), "UTF-8 with BOM");
    let from_api = api(&format!("/v1/coverage?area={lingqiu}&format=csv"), token).await;
    assert_eq!(download.body, from_api.body);

    let scores = page("/download/scores.csv?period=2026", Some(token)).await;
    assert_eq!(scores.status, StatusCode::OK);
    assert!(scores.text().lines().count() > 1);

    let overdue = page("/download/complaints.csv", Some(token)).await;
    let all = page("/download/complaints.csv?view=all", Some(token)).await;
    let ledger: Value =
        serde_json::from_slice(&api("/v1/ledgers/complaints?limit=1", token).await.body).unwrap();
    assert_eq!(
        overdue.text().lines().count() as u64,
        ledger["counts"]["overdue"].as_u64().unwrap() + 1
    );
    assert_eq!(
        all.text().lines().count() as u64,
        ledger["counts"]["total"].as_u64().unwrap() + 1,
        "every complaint, past the page size"
    );

    let signed_out = page("/download/coverage.csv", None).await;
    assert_eq!(signed_out.status, StatusCode::UNAUTHORIZED);
}
