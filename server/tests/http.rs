//! The HTTP API through `tower::ServiceExt::oneshot`: success shapes, scopes, and tables of
//! requests (the role × route matrix, bad appends, bad reads), each row named and checked for
//! status, `code`, and that the log head did not move; a table reports every failing row.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use govrec_server::auth::{create_token, Role, Scope};
use govrec_store::{Store, StoreConfig};
use serde_json::{json, Value};
use tower::ServiceExt;

const LINGQIU: &str = "0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e01";
const GUANGLING: &str = "0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e02";

fn id(n: u32) -> String {
    format!("0193a1b2-c3d4-7e5f-8a9b-{n:012x}")
}

struct Api {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    state: govrec_server::SharedState,
    router: axum::Router,
    admin: String,
    recorder: String,
    lingqiu_recorder: String,
    office: String,
    lingqiu_office: String,
    auditor: String,
}

impl Api {
    async fn new() -> Api {
        let dir = tempfile::tempdir().unwrap();
        let token = |role, scope: &str, name| {
            create_token(dir.path(), role, Scope::parse(scope).unwrap(), name).unwrap()
        };
        let (admin, recorder, office, auditor) = (
            token(Role::Admin, "*", "admin"),
            token(Role::Recorder, "*", "recorder"),
            token(Role::Office, "*", "office"),
            token(Role::Auditor, "*", "auditor"),
        );
        let lingqiu_recorder = token(Role::Recorder, LINGQIU, "recorder-lingqiu");
        let lingqiu_office = token(Role::Office, LINGQIU, "office-lingqiu");
        let store = Arc::new(Store::open(&dir.path().join("log"), StoreConfig::default()).unwrap());
        let state =
            govrec_server::state_for(store.clone(), dir.path(), govrec_server::Limits::default()).unwrap();
        let api = Api {
            router: govrec_server::router(state.clone()),
            state,
            store,
            _dir: dir,
            admin,
            recorder,
            lingqiu_recorder,
            office,
            lingqiu_office,
            auditor,
        };
        // Two counties, each with a town, community and compound.
        for (county, name, base) in [(LINGQIU, "灵丘县", 10), (GUANGLING, "广灵县", 20)] {
            let events = json!({"events": [
                {"type": "AreaRegistered", "area_id": county, "kind": "county", "name": name},
                {"type": "AreaRegistered", "area_id": id(base), "kind": "town", "name": "镇", "parent_id": county},
                {"type": "AreaRegistered", "area_id": id(base + 1), "kind": "community", "name": "社区", "parent_id": id(base)},
                {"type": "AreaRegistered", "area_id": id(base + 2), "kind": "compound", "name": "小区", "parent_id": id(base + 1)},
            ]});
            let (status, _) = api
                .call(Method::POST, "/v1/events", Some(&api.admin), Some(events))
                .await;
            assert_eq!(status, StatusCode::CREATED);
        }
        api
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.raw(
            method,
            uri,
            token,
            body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
        )
        .await
    }

    async fn raw(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let (status, is_problem, bytes) = self.send(method, uri, token, body).await;
        if !status.is_success() {
            assert!(
                is_problem,
                "{status}: every failure is a problem: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// The status of the answer to a request, whether it is a problem (by its content type),
    /// and its body.
    async fn send(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, bool, Vec<u8>) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let is_problem = response
            .headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap().starts_with("application/problem+json"));
        let bytes = axum::body::to_bytes(response.into_body(), 16 << 20)
            .await
            .unwrap();
        (status, is_problem, bytes.to_vec())
    }

    /// Sends each case's request in turn, then fails naming every case whose answer was not
    /// the expected one. Besides its own expectations, a case answered with a failure must be
    /// answered with a problem whose `status` is the response's, and leave the log head where
    /// it was.
    async fn check(&self, cases: Vec<Case<'_>>) {
        let mut names = std::collections::HashSet::new();
        for case in &cases {
            assert!(names.insert(&case.name), "two cases are named {:?}", case.name);
        }
        let mut failures = Vec::new();
        for case in &cases {
            let head = self.store.head();
            let (status, is_problem, bytes) = self
                .send(case.method.clone(), &case.uri, case.token, case.body.clone())
                .await;
            let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let mut wrong = Vec::new();
            if status != case.status {
                wrong.push(format!("status {status}, expected {}", case.status));
            }
            for (field, expected) in case.problem.as_object().expect("a case's problem is an object") {
                if answer[field] != *expected {
                    wrong.push(format!("{field} {}, expected {expected}", answer[field]));
                }
            }
            if !status.is_success() {
                if !is_problem {
                    wrong.push("not a problem".to_owned());
                }
                if answer["status"] != status.as_u16() {
                    wrong.push(format!("problem status {}", answer["status"]));
                }
                if self.store.head() != head {
                    wrong.push("the log head moved".to_owned());
                }
            }
            if !wrong.is_empty() {
                let text: String = String::from_utf8_lossy(&bytes).chars().take(300).collect();
                failures.push(format!("{}: {}; answer: {text}", case.name, wrong.join(", ")));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} cases failed:\n  {}",
            failures.len(),
            cases.len(),
            failures.join("\n  ")
        );
    }

    /// `/readyz`'s status and body (a `Health`, not a problem, when it is 503).
    /// A CSV answer (which must be 200): its content type and bytes.
    async fn csv(&self, uri: &str, token: &str) -> (String, axum::body::Bytes) {
        let response = self
            .router
            .clone()
            .oneshot(
                Request::get(uri)
                    .header("authorization", format!("Bearer {token}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
        (
            content_type,
            axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap(),
        )
    }

    async fn readyz(&self) -> (StatusCode, String) {
        let response = self
            .router
            .clone()
            .oneshot(Request::get("/readyz").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 4096).await.unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

/// One row of a request table: a request, and the status and problem fields (a JSON object,
/// `{"code": "forbidden", "index": 0}`, maybe empty) it is to be answered with. Run by
/// [`Api::check`].
struct Case<'a> {
    name: String,
    method: Method,
    uri: String,
    token: Option<&'a str>,
    body: Vec<u8>,
    status: StatusCode,
    problem: Value,
}

fn request<'a>(
    name: impl Into<String>,
    method: Method,
    token: Option<&'a str>,
    uri: impl Into<String>,
    body: impl Into<Vec<u8>>,
) -> Case<'a> {
    Case {
        name: name.into(),
        method,
        uri: uri.into(),
        token,
        body: body.into(),
        status: StatusCode::OK,
        problem: json!({}),
    }
}

fn get<'a>(name: impl Into<String>, token: Option<&'a str>, uri: impl Into<String>) -> Case<'a> {
    request(name, Method::GET, token, uri, Vec::new())
}

/// A `POST /v1/events` of `body`.
fn append<'a>(name: impl Into<String>, token: Option<&'a str>, body: impl Into<Vec<u8>>) -> Case<'a> {
    request(name, Method::POST, token, "/v1/events", body)
}

impl Case<'_> {
    fn then(self, status: StatusCode, problem: Value) -> Self {
        Case {
            status,
            problem,
            ..self
        }
    }

    /// Answered with `status` and a problem of this `code`.
    fn refused(self, status: StatusCode, code: &str) -> Self {
        self.then(status, json!({ "code": code }))
    }
}

#[tokio::test]
async fn append_returns_seqs_hashes_and_head_and_a_retry_returns_the_same() {
    let api = Api::new().await;
    let body = json!({"events": [{"type": "ComplaintFiled", "id": id(900), "complaint_id": id(100), "area_id": id(12),
        "category": "repair", "summary": "楼道灯坏了", "channel": "hotline", "resident_ref": "居民-1"}]});
    let (status, first) = api
        .call(
            Method::POST,
            "/v1/events",
            Some(&api.recorder),
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(first["records"][0]["seq"], 8);
    assert_eq!(first["records"][0]["id"], id(900));
    assert_eq!(first["head"]["seq"], 8);
    assert_eq!(first["head"]["hash"], first["records"][0]["hash"]);
    let (status, retry) = api
        .call(Method::POST, "/v1/events", Some(&api.recorder), Some(body))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(retry["records"], first["records"]);

    let (status, record) = api
        .call(Method::GET, "/v1/events/8", Some(&api.auditor), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(record["actor"], "recorder");
    assert_eq!(record["event"]["summary"], "楼道灯坏了");
    let (status, page) = api
        .call(
            Method::GET,
            "/v1/events?after=5&limit=2",
            Some(&api.auditor),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["records"].as_array().unwrap().len(), 2);
    assert_eq!(page["records"][0]["seq"], 6);
    assert_eq!(page["next"], "7");
    let (_, last) = api
        .call(Method::GET, "/v1/events?after=7", Some(&api.auditor), None)
        .await;
    assert_eq!(last["records"].as_array().unwrap().len(), 1);
    assert!(last.get("next").is_none());
    for (entity, expected) in [(id(12), vec![3u64]), (id(100), vec![8])] {
        let (status, history) = api
            .call(
                Method::GET,
                &format!("/v1/entities/{entity}/history"),
                Some(&api.admin),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let seqs: Vec<u64> = history["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, expected, "history of {entity}");
    }
    let (status, verify) = api
        .call(Method::GET, "/v1/audit/verify", Some(&api.auditor), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(verify, json!({"ok": true, "checked": 9, "head": first["head"]}));
}

#[tokio::test]
async fn every_role_against_every_route() {
    let api = Api::new().await;
    let new_county = || {
        json!({"events": [{"type": "AreaRegistered", "area_id": id(500 + rand_n()), "kind": "county", "name": "新县"}]})
            .to_string()
    };
    let routes: Vec<(Method, String)> = vec![
        (Method::POST, "/v1/events".to_owned()),
        (Method::GET, "/v1/events".to_owned()),
        (Method::GET, "/v1/events/0".to_owned()),
        (Method::GET, format!("/v1/entities/{LINGQIU}/history")),
        (Method::GET, "/v1/audit/verify".to_owned()),
        (Method::GET, "/v1/coverage".to_owned()),
        (Method::GET, "/v1/ledgers/members".to_owned()),
        (Method::GET, "/v1/ledgers/registrations".to_owned()),
        (Method::GET, "/v1/ledgers/pairings".to_owned()),
        (Method::GET, "/v1/ledgers/complaints".to_owned()),
        (Method::GET, "/v1/scores?period=2026".to_owned()),
        (Method::GET, format!("/v1/scores/{}?period=2026", id(700))),
        (Method::POST, "/v1/admin/rebuild".to_owned()),
    ];
    let enrol = json!({"events": [{"type": "MemberEnrolled", "member_id": id(700), "name": "王芳", "category": "resident", "home_area_id": id(12)}]});
    assert_eq!(
        api.call(Method::POST, "/v1/events", Some(&api.admin), Some(enrol))
            .await
            .0,
        StatusCode::CREATED
    );
    // Expected success per role, in the order of `routes`.
    let matrix = [
        (
            "admin",
            &api.admin,
            [
                true, true, true, true, true, true, true, true, true, true, true, true, true,
            ],
        ),
        (
            "recorder",
            &api.recorder,
            [
                true, true, true, true, false, false, false, false, false, false, false, false, false,
            ],
        ),
        (
            "office",
            &api.office,
            [
                false, false, false, false, false, true, true, true, true, true, true, true, false,
            ],
        ),
        (
            "auditor",
            &api.auditor,
            [
                false, true, true, true, true, true, true, true, true, true, true, true, false,
            ],
        ),
    ];
    let mut cases = Vec::new();
    for (role, token, allowed) in matrix {
        for ((method, uri), ok) in routes.iter().zip(allowed) {
            let appends = *method == Method::POST && uri == "/v1/events";
            let body = if appends { new_county() } else { String::new() };
            let case = request(
                format!("{role} {method} {uri}"),
                method.clone(),
                Some(token.as_str()),
                uri,
                body,
            );
            cases.push(match (ok, appends) {
                (true, true) => case.then(StatusCode::CREATED, json!({})),
                (true, false) => case.then(StatusCode::OK, json!({})),
                (false, _) => case.then(StatusCode::FORBIDDEN, json!({"code": "forbidden"})),
            });
        }
    }
    for uri in ["/v1/events", "/v1/events/0", "/v1/audit/verify"] {
        cases.push(
            get(format!("no token GET {uri}"), None, uri)
                .then(StatusCode::UNAUTHORIZED, json!({"code": "unauthorized"})),
        );
        cases.push(
            get(format!("a bad token GET {uri}"), Some("gvr_not-a-token"), uri)
                .then(StatusCode::UNAUTHORIZED, json!({"code": "unauthorized"})),
        );
    }
    for uri in ["/healthz", "/readyz", "/openapi.json"] {
        cases.push(get(format!("no token GET {uri}"), None, uri).then(StatusCode::OK, json!({})));
    }
    cases.push(
        get("no token GET /metrics", None, "/metrics")
            .then(StatusCode::UNAUTHORIZED, json!({"code": "unauthorized"})),
    );
    cases.push(
        get("an office GET /metrics", Some(&api.office), "/metrics").then(StatusCode::FORBIDDEN, json!({})),
    );
    cases
        .push(get("an auditor GET /metrics", Some(&api.auditor), "/metrics").then(StatusCode::OK, json!({})));
    api.check(cases).await;
}

/// A record damaged behind the store's back: verification reports it (never a 500), and from
/// then on `/readyz` says the log is damaged.
#[tokio::test]
async fn a_damaged_record_is_a_503_and_makes_the_service_not_ready() {
    let api = Api::new().await;
    let (status, _) = api.readyz().await;
    assert_eq!(status, StatusCode::OK);
    {
        // The county's name, changed behind the store's back: the record still decodes, but
        // its hash no longer matches.
        let tree = api.store.log().blocks_tree();
        let (key, value) = tree.first().unwrap().unwrap();
        let (from, to) = ("灵丘县".as_bytes(), "广灵县".as_bytes());
        let at = value
            .windows(from.len())
            .position(|window| window == from)
            .expect("the name");
        let mut damaged = value.to_vec();
        damaged[at..at + to.len()].copy_from_slice(to);
        tree.insert(key, damaged).unwrap();
    }
    let (status, report) = api
        .call(Method::GET, "/v1/audit/verify", Some(&api.auditor), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (report["ok"].clone(), report["first_bad_seq"].clone()),
        (json!(false), json!(0)),
        "{report}"
    );
    let (status, health) = api.readyz().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(health.contains("damaged"), "{health}");
}

/// After an I/O error the service refuses writes with 503 `unavailable` (the error's details
/// stay in the log), `/readyz` says so, the head stays where it was, and reads go on.
#[tokio::test]
async fn after_an_io_error_writes_are_refused_with_503_and_reads_go_on() {
    let api = Api::new().await;
    let head = api.store.head().next_seq;
    api.store.log().inject_fault(govrec_store::FaultPoint::Sync);
    let complaint = json!({"events": [{"type": "ComplaintFiled", "complaint_id": id(900), "area_id": id(12),
        "category": "repair", "summary": "漏水", "channel": "visit", "resident_ref": "居民-9"}]});
    for _ in 0..2 {
        let (status, problem) = api
            .call(
                Method::POST,
                "/v1/events",
                Some(&api.recorder),
                Some(complaint.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{problem}");
        assert_eq!(problem["code"], "unavailable");
        assert!(!problem.to_string().contains("injected"), "{problem}");
    }
    assert_eq!(api.store.head().next_seq, head);
    let (status, health) = api.readyz().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(health.contains("I/O error"), "{health}");
    let (status, page) = api
        .call(Method::GET, "/v1/events", Some(&api.auditor), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["records"].as_array().unwrap().len() as u64, head, "{page}");
}

/// `/readyz` answers 503 while the read models' last attempt to follow the log failed, and 200
/// again once they have caught up: a second later, or at the next commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_while_the_models_cannot_follow_the_log() {
    use govrec_tests::{county_and_town, uuid_of};
    let api = Api::new().await;
    let (store, state) = (&api.store, &api.state);
    // The models take in what `Api::new` appended, so the follower's first pass has nothing
    // to read.
    state.models.catch_up(store).unwrap();
    let follower = govrec_server::spawn_model_follower(state.clone());
    let append = |n: u64| {
        let store = store.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                store
                    .append("admin", county_and_town(uuid_of(n), uuid_of(n + 1), "县"))
                    .unwrap()
            })
            .await
            .unwrap()
        }
    };
    let wait_for = |wanted: StatusCode| {
        let api = &api;
        async move {
            for _ in 0..500 {
                if api.readyz().await.0 == wanted {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            panic!("/readyz never answered {wanted}");
        }
    };
    assert_eq!(api.readyz().await.0, StatusCode::OK);
    // The follower's next two reads of the log fail. Two: if its first pass is still under way
    // when the commit below lands, it fails there and tries again at once for that commit,
    // and only the second failure leaves it waiting (one fault made the test flaky).
    store.log().inject_fault(govrec_store::FaultPoint::Read);
    store.log().inject_fault(govrec_store::FaultPoint::Read);
    append(100).await;
    wait_for(StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(state.models.models().next_seq() < store.head().next_seq);
    // The follower tries again a second later (twice, if needed), without a new commit, and
    // catches up.
    wait_for(StatusCode::OK).await;
    assert_eq!(state.models.models().next_seq(), store.head().next_seq);
    // Again, and this time the next commit wakes it.
    store.log().inject_fault(govrec_store::FaultPoint::Read);
    append(110).await;
    wait_for(StatusCode::SERVICE_UNAVAILABLE).await;
    append(120).await;
    wait_for(StatusCode::OK).await;
    assert_eq!(state.models.models().next_seq(), store.head().next_seq);
    follower.abort();
}

fn rand_n() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[tokio::test]
async fn a_scoped_recorder_writes_and_sees_only_its_counties() {
    let api = Api::new().await;
    let token = api.lingqiu_recorder.clone();
    let complaint = |complaint: u32, area: u32| {
        json!({"events": [{"type": "ComplaintFiled", "complaint_id": id(complaint), "area_id": id(area),
            "category": "repair", "summary": "漏水", "channel": "visit", "resident_ref": "居民-2"}]})
    };
    let (status, _) = api
        .call(Method::POST, "/v1/events", Some(&token), Some(complaint(300, 12)))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let head = api.store.head();
    let (status, problem) = api
        .call(Method::POST, "/v1/events", Some(&token), Some(complaint(301, 22)))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(problem["index"], 0);
    assert_eq!(api.store.head(), head);
    // A batch that creates an area in scope, then uses it, passes.
    let batch = json!({"events": [
        {"type": "AreaRegistered", "area_id": id(13), "kind": "compound", "name": "新小区", "parent_id": id(11)},
        {"type": "ComplaintFiled", "complaint_id": id(302), "area_id": id(13), "category": "safety", "summary": "消防通道堵塞", "channel": "app", "resident_ref": "居民-3"},
    ]});
    let (status, _) = api
        .call(Method::POST, "/v1/events", Some(&token), Some(batch))
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let (_, page) = api
        .call(Method::GET, "/v1/events?limit=1000", Some(&token), None)
        .await;
    let seqs: Vec<u64> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![0, 1, 2, 3, 8, 9, 10], "only Lingqiu's records");
    api.check(vec![
        get("Guangling's county is not visible", Some(&token), "/v1/events/4")
            .then(StatusCode::NOT_FOUND, json!({})),
        get(
            "Guangling's history is not visible",
            Some(&token),
            format!("/v1/entities/{GUANGLING}/history"),
        )
        .then(StatusCode::NOT_FOUND, json!({})),
        get(
            "Lingqiu's history is visible",
            Some(&token),
            format!("/v1/entities/{LINGQIU}/history"),
        )
        .then(StatusCode::OK, json!({})),
    ])
    .await;
}

/// The batches of the attack report: each reached into Guangling through an event the old
/// check did not look at, or through the batch's own earlier event.
#[tokio::test]
async fn a_scoped_recorder_cannot_write_into_another_county_through_a_batch() {
    let api = Api::new().await;
    let guangling_member = id(600);
    let enrolled = json!({"events": [
        {"type": "MemberEnrolled", "member_id": guangling_member, "name": "王五", "category": "resident", "home_area_id": id(22)},
        {"type": "PartyOrgFounded", "org_id": id(601), "kind": "compound_branch", "name": "支部", "area_ids": [id(22)]},
    ]});
    let (status, _) = api
        .call(Method::POST, "/v1/events", Some(&api.admin), Some(enrolled))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let head = api.store.head();
    let token = Some(api.lingqiu_recorder.as_str());
    let reported = json!({"type": "MemberReported", "member_id": guangling_member, "compound_id": id(12), "post": "volunteer"});
    api.check(vec![
        append("report a Guangling member here, then remove them", token, json!({"events": [
            reported,
            {"type": "MemberRemoved", "member_id": guangling_member, "reason": "迁出"}]}).to_string())
            .then(StatusCode::FORBIDDEN, json!({"index": 0})),
        append("move a Guangling member here", token, json!({"events": [
            {"type": "MemberUpdated", "member_id": guangling_member, "home_area_id": id(12)}]}).to_string())
            .then(StatusCode::FORBIDDEN, json!({"index": 0})),
        append("score a Guangling member", token, json!({"events": [
            {"type": "EvaluationRecorded", "evaluation_id": id(602), "subject": {"member_id": guangling_member},
             "evaluator": "residents", "evaluator_ref": id(12), "period": "2026", "score": 0}]}).to_string())
            .then(StatusCode::FORBIDDEN, json!({"index": 0})),
        append("enrol a member here, then appoint them in a Guangling org", token, json!({"events": [
            {"type": "MemberEnrolled", "member_id": id(603), "name": "赵六", "category": "resident", "home_area_id": id(12)},
            {"type": "OfficerAppointed", "org_id": id(601), "member_id": id(603), "role": "committee_member"}]}).to_string())
            .then(StatusCode::FORBIDDEN, json!({"index": 1})),
    ])
    .await;
    assert_eq!(api.store.head(), head, "nothing of a refused batch is stored");
    let (status, _) = api
        .call(
            Method::GET,
            &format!("/v1/entities/{guangling_member}/history"),
            Some(&api.lingqiu_recorder),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the Guangling member's history stays hidden"
    );
}

/// Live feeds are capped per token and in all (finding 8 of the December 2026 attack: 1,000
/// stalled subscribers took the server from 89 MB to 1.2 GB), and a place is given back when
/// its client goes away.
#[tokio::test]
async fn live_feeds_are_capped_per_token_and_in_all() {
    let dir = tempfile::tempdir().unwrap();
    let token = |name| create_token(dir.path(), Role::Auditor, Scope::All, name).unwrap();
    let (first, second) = (token("auditor-1"), token("auditor-2"));
    let store = Arc::new(Store::open(&dir.path().join("log"), StoreConfig::default()).unwrap());
    let limits = govrec_server::Limits {
        live_feeds_max: 3,
        live_feeds_per_token_max: 2,
        ..govrec_server::Limits::default()
    };
    let router = govrec_server::router(govrec_server::state_for(store, dir.path(), limits).unwrap());
    let subscribe = |token: &str| {
        let request = Request::get("/v1/subscribe")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        router.clone().oneshot(request)
    };
    let mut open = Vec::new();
    for token in [&first, &first] {
        let response = subscribe(token).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        open.push(response);
    }
    let refused = subscribe(&first).await.unwrap();
    assert_eq!(
        refused.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "a third feed of one token"
    );
    let body = axum::body::to_bytes(refused.into_body(), 1 << 16).await.unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["code"],
        "too_many_feeds"
    );
    let response = subscribe(&second).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "another token's first feed");
    open.push(response);
    assert_eq!(
        subscribe(&second).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS,
        "a fourth feed in all"
    );
    // A client that goes away gives its place back.
    drop(open.remove(0));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let response = subscribe(&second).await.unwrap();
        if response.status() == StatusCode::OK {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the place was not given back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Names that a spreadsheet would run as formulas come out of every CSV inert (a leading `'`).
#[tokio::test]
async fn a_csv_cell_never_starts_a_formula() {
    let api = Api::new().await;
    let names = [
        "=HYPERLINK(\"http://x\",\"y\")",
        "+cmd|' /C calc'!A0",
        "@SUM(1+1)",
        "-2+3",
    ];
    let members: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(n, name)| json!({"type": "MemberEnrolled", "member_id": id(700 + n as u32), "name": name, "category": "resident", "home_area_id": id(12)}))
        .collect();
    let (status, _) = api
        .call(
            Method::POST,
            "/v1/events",
            Some(&api.admin),
            Some(json!({"events": members})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, bytes) = api.csv("/v1/ledgers/members?format=csv", &api.office).await;
    let mut reader = csv::Reader::from_reader(&bytes[3..]);
    let column = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "name")
        .expect("a name column");
    let mut seen = Vec::new();
    for row in reader.records() {
        let cell = row.unwrap()[column].to_owned();
        assert!(
            !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "a live formula: {cell:?}"
        );
        seen.push(cell);
    }
    for name in names {
        assert!(
            seen.contains(&format!("'{name}")),
            "{name:?} missing from {seen:?}"
        );
    }
}

#[test]
fn an_auditor_takes_no_county_scope() {
    let dir = tempfile::tempdir().unwrap();
    let scoped = create_token(
        dir.path(),
        Role::Auditor,
        Scope::parse(LINGQIU).unwrap(),
        "auditor-lingqiu",
    );
    assert!(
        matches!(scoped, Err(govrec_server::auth::TokenError::ScopeNotAllowed(_))),
        "{scoped:?}"
    );
    assert!(create_token(dir.path(), Role::Auditor, Scope::All, "auditor").is_ok());
}

#[tokio::test]
async fn bad_appends_are_refused_with_their_code_and_store_nothing() {
    let api = Api::new().await;
    let filed = json!({"events": [
        {"type": "ComplaintFiled", "complaint_id": id(400), "area_id": id(12), "category": "repair", "summary": "x", "channel": "app", "resident_ref": "r"},
        {"type": "MemberEnrolled", "member_id": id(401), "name": "李明", "category": "resident", "home_area_id": id(12)},
    ]});
    assert_eq!(
        api.call(Method::POST, "/v1/events", Some(&api.admin), Some(filed))
            .await
            .0,
        StatusCode::CREATED
    );
    let area = |fields: Value| {
        let mut event = json!({"type": "AreaRegistered", "area_id": id(450), "kind": "town", "name": "镇", "parent_id": LINGQIU});
        for (k, v) in fields.as_object().unwrap() {
            event[k] = v.clone();
        }
        json!({"events": [event]}).to_string()
    };
    let too_many: Vec<Value> = (0..1001)
        .map(|n| json!({"type": "AreaRegistered", "area_id": id(5000 + n), "kind": "county", "name": "县"}))
        .collect();
    let admin = Some(api.admin.as_str());
    api.check(vec![
        append("malformed JSON", admin, "{\"events\": [").refused(StatusCode::BAD_REQUEST, "malformed_json"),
        append("no events field", admin, "{}").refused(StatusCode::BAD_REQUEST, "malformed_json"),
        append("unknown top-level field", admin, json!({"events": [], "x": 1}).to_string()).refused(StatusCode::BAD_REQUEST, "invalid_field"),
        append("empty batch", admin, json!({"events": []}).to_string()).refused(StatusCode::BAD_REQUEST, "empty_batch"),
        append("a key twice in an event", admin, format!(r#"{{"events": [{{"type": "ComplaintFiled", "type": "AreaRetired", "area_id": "{}", "reason": "x"}}]}}"#, id(12)))
            .refused(StatusCode::BAD_REQUEST, "malformed_json"),
        append("a field twice in an event", admin, format!(r#"{{"events": [{{"type": "AreaRetired", "area_id": "{}", "area_id": "{}", "reason": "x"}}]}}"#, id(12), id(22)))
            .refused(StatusCode::BAD_REQUEST, "malformed_json"),
        append("events twice", admin, r#"{"events": [], "events": []}"#).refused(StatusCode::BAD_REQUEST, "malformed_json"),
        append("unknown type", admin, json!({"events": [{"type": "Nope"}]}).to_string()).refused(StatusCode::BAD_REQUEST, "unknown_event_type"),
        append("unknown field", admin, area(json!({"colour": "red"}))).refused(StatusCode::BAD_REQUEST, "invalid_field"),
        append("wrong type", admin, area(json!({"name": 7}))).refused(StatusCode::BAD_REQUEST, "invalid_field"),
        append("null optional", admin, area(json!({"households": null}))).refused(StatusCode::BAD_REQUEST, "invalid_field"),
        append("float", admin, json!({"events": [{"type": "ComplaintRated", "complaint_id": id(400), "satisfaction": 4.5}]}).to_string()).refused(StatusCode::BAD_REQUEST, "invalid_field"),
        append("bad event id", admin, area(json!({"id": "nope"}))).refused(StatusCode::BAD_REQUEST, "invalid_field"),
        append("bad occurred_on", admin, area(json!({"occurred_on": "2026-02-30"}))).refused(StatusCode::BAD_REQUEST, "invalid_field"),
        append("out of range", admin, json!({"events": [{"type": "EvaluationRecorded", "evaluation_id": id(460), "subject": {"member_id": id(401)}, "evaluator": "residents", "evaluator_ref": id(12), "period": "2026", "score": 101}]}).to_string()).refused(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        append("unknown reference", admin, area(json!({"parent_id": id(999)}))).refused(StatusCode::UNPROCESSABLE_ENTITY, "unknown_reference"),
        append("wrong kind of parent", admin, area(json!({"parent_id": id(12)}))).refused(StatusCode::UNPROCESSABLE_ENTITY, "wrong_kind"),
        append("wrong transition", admin, json!({"events": [{"type": "ComplaintAccepted", "complaint_id": id(400)}]}).to_string()).refused(StatusCode::CONFLICT, "invalid_transition"),
        append("duplicate entity id", admin, area(json!({"area_id": id(10)}))).refused(StatusCode::CONFLICT, "duplicate_id"),
        append("duplicate event id in batch", admin, json!({"events": [
            {"type": "AreaRegistered", "id": id(470), "area_id": id(471), "kind": "county", "name": "甲"},
            {"type": "AreaRegistered", "id": id(470), "area_id": id(472), "kind": "county", "name": "乙"}]}).to_string()).refused(StatusCode::CONFLICT, "duplicate_id"),
        append("too many events", admin, json!({"events": too_many}).to_string()).refused(StatusCode::PAYLOAD_TOO_LARGE, "too_many_events"),
        append("oversize body", admin, vec![b' '; 5 * 1024 * 1024]).refused(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        // The index of the offending event, and its field, are reported.
        append("a bad second event", admin, json!({"events": [
            {"type": "AreaRegistered", "area_id": id(490), "kind": "county", "name": "丙"},
            {"type": "AreaRetired", "area_id": id(491), "reason": "x"}]}).to_string())
            .then(StatusCode::UNPROCESSABLE_ENTITY, json!({"index": 1, "field": "area_id"})),
        // Only an admin may append a redaction.
        append("a redaction by a recorder", Some(&api.recorder), json!({"events": [{"type": "Redacted", "target_seq": 0, "fields": ["name"], "reason": "test"}]}).to_string())
            .then(StatusCode::FORBIDDEN, json!({"index": 0})),
    ])
    .await;
}

#[tokio::test]
async fn an_event_id_reused_with_other_content_is_a_conflict() {
    let api = Api::new().await;
    let first = json!({"events": [{"type": "AreaRegistered", "id": id(480), "area_id": id(481), "kind": "county", "name": "甲"}]});
    assert_eq!(
        api.call(Method::POST, "/v1/events", Some(&api.admin), Some(first))
            .await
            .0,
        StatusCode::CREATED
    );
    let changed = json!({"events": [{"type": "AreaRegistered", "id": id(480), "area_id": id(482), "kind": "county", "name": "乙"}]});
    let (status, problem) = api
        .call(Method::POST, "/v1/events", Some(&api.admin), Some(changed))
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::CONFLICT, Some("idempotency_conflict"))
    );
}

#[tokio::test]
async fn bad_reads_are_refused_with_their_status_and_code() {
    let api = Api::new().await;
    let admin = Some(api.admin.as_str());
    let office = Some(api.office.as_str());
    let lingqiu_office = Some(api.lingqiu_office.as_str());
    api.check(vec![
        get("a cursor that is not a seq", admin, "/v1/events?after=x")
            .refused(StatusCode::BAD_REQUEST, "invalid_cursor"),
        get("a limit of 0", admin, "/v1/events?limit=0").refused(StatusCode::BAD_REQUEST, "invalid_field"),
        get("a limit of 1001", admin, "/v1/events?limit=1001")
            .refused(StatusCode::BAD_REQUEST, "invalid_field"),
        get("an unknown parameter", admin, "/v1/events?bogus=1")
            .refused(StatusCode::BAD_REQUEST, "invalid_request"),
        get("a seq that is not a number", admin, "/v1/events/abc")
            .refused(StatusCode::BAD_REQUEST, "invalid_field"),
        get(
            "an entity id that is not a uuid",
            admin,
            "/v1/entities/not-a-uuid/history",
        )
        .refused(StatusCode::BAD_REQUEST, "invalid_field"),
        get(
            "a verify from that is not a seq",
            admin,
            "/v1/audit/verify?from=z",
        )
        .refused(StatusCode::BAD_REQUEST, "invalid_field"),
        get("a record past the head", admin, "/v1/events/999").then(StatusCode::NOT_FOUND, json!({})),
        get("a route that does not exist", admin, "/v1/nowhere").then(StatusCode::NOT_FOUND, json!({})),
        // The read models.
        get(
            "coverage of Guangling for Lingqiu's office",
            lingqiu_office,
            format!("/v1/coverage?area={GUANGLING}"),
        )
        .then(StatusCode::FORBIDDEN, json!({})),
        get(
            "coverage of Guangling as of 6 for Lingqiu's office",
            lingqiu_office,
            format!("/v1/coverage?area={GUANGLING}&as_of=6"),
        )
        .then(StatusCode::FORBIDDEN, json!({})),
        get("coverage for a recorder", Some(&api.recorder), "/v1/coverage")
            .then(StatusCode::FORBIDDEN, json!({})),
        get("scores without a period", office, "/v1/scores")
            .then(StatusCode::BAD_REQUEST, json!({"field": "period"})),
        get(
            "coverage of an unknown area",
            office,
            format!("/v1/coverage?area={}", id(999)),
        )
        .then(StatusCode::NOT_FOUND, json!({})),
        get("coverage as of a word", office, "/v1/coverage?as_of=yesterday")
            .then(StatusCode::BAD_REQUEST, json!({})),
        get(
            "coverage as of a seq past the head",
            office,
            "/v1/coverage?as_of=999",
        )
        .then(StatusCode::NOT_FOUND, json!({})),
        request(
            "a rebuild by an office",
            Method::POST,
            office,
            "/v1/admin/rebuild",
            Vec::new(),
        )
        .then(StatusCode::FORBIDDEN, json!({})),
    ])
    .await;
}

#[tokio::test]
async fn the_openapi_description_names_every_route() {
    let api = Api::new().await;
    let (status, spec) = api.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/v1/events",
        "/v1/events/{seq}",
        "/v1/entities/{id}/history",
        "/v1/audit/verify",
        "/healthz",
        "/metrics",
    ] {
        assert!(
            spec["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI description"
        );
    }
}

#[tokio::test]
async fn read_models_answer_with_as_of_scope_csv_and_rebuild() {
    let api = Api::new().await;
    let activity = json!({"events": [
        {"type": "PartyOrgFounded", "org_id": id(600), "kind": "compound_branch", "name": "小区党支部", "area_ids": [id(12)]},
        {"type": "ComplaintFiled", "complaint_id": id(601), "area_id": id(12), "category": "repair", "summary": "x", "channel": "app", "resident_ref": "r"},
    ]});
    assert_eq!(
        api.call(Method::POST, "/v1/events", Some(&api.recorder), Some(activity))
            .await
            .0,
        StatusCode::CREATED
    );

    let (status, all) = api
        .call(Method::GET, "/v1/coverage", Some(&api.office), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all["as_of"]["seq"], 9);
    assert_eq!(all["area"], Value::Null);
    assert_eq!(all["children"].as_array().unwrap().len(), 2, "both counties");
    let (status, lingqiu) = api
        .call(
            Method::GET,
            &format!("/v1/coverage?area={LINGQIU}"),
            Some(&api.lingqiu_office),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{lingqiu}");
    assert_eq!(lingqiu["stats"]["compounds"], 1);
    assert_eq!(lingqiu["stats"]["compounds_with_party_org"], 1);
    assert_eq!(lingqiu["stats"]["party_org_coverage"], 1.0);
    assert_eq!(lingqiu["stats"]["complaints_filed"], 1);
    // Before the branch was founded (as_of = seq 7), Lingqiu had no covered compound.
    let (_, before) = api
        .call(
            Method::GET,
            &format!("/v1/coverage?area={LINGQIU}&as_of=7"),
            Some(&api.lingqiu_office),
            None,
        )
        .await;
    assert_eq!(before["as_of"]["seq"], 7);
    assert_eq!(before["stats"]["compounds_with_party_org"], 0);
    // Scope: the whole view holds Lingqiu only. (That Guangling is refused, also via as_of, is
    // in `bad_reads_are_refused_with_their_status_and_code`.)
    let (_, scoped) = api
        .call(Method::GET, "/v1/coverage", Some(&api.lingqiu_office), None)
        .await;
    assert_eq!(scoped["children"].as_array().unwrap().len(), 1);

    let (status, complaints) = api
        .call(Method::GET, "/v1/ledgers/complaints", Some(&api.office), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(complaints["complaints"].as_array().unwrap().len(), 1);
    for ledger in ["members", "registrations", "pairings"] {
        let (status, answer) = api
            .call(
                Method::GET,
                &format!("/v1/ledgers/{ledger}?limit=10"),
                Some(&api.office),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{ledger}: {answer}");
        assert!(answer["as_of"]["hash"].is_string(), "{ledger}");
    }
    let (content_type, bytes) = api.csv("/v1/ledgers/complaints?format=csv", &api.office).await;
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]), "UTF-8 BOM first");
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    assert_eq!(text.lines().count(), 2, "a header and one complaint: {text}");

    let (status, scores) = api
        .call(
            Method::GET,
            "/v1/scores?period=2026&subject_kind=org",
            Some(&api.office),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{scores}");
    assert!(scores["scores"].is_array());
    let (status, one) = api
        .call(
            Method::GET,
            &format!("/v1/scores/{}?period=2026", id(600)),
            Some(&api.office),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    let (status, report) = api
        .call(Method::POST, "/v1/admin/rebuild", Some(&api.admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["records"], 10);
    let (_, after) = api
        .call(Method::GET, "/v1/coverage", Some(&api.office), None)
        .await;
    assert_eq!(after, all, "a rebuild answers exactly as before");

    // Answers are cached per log position and scope: a new record changes the answer to the
    // same URL, and a scoped caller never gets an unscoped caller's answer.
    let uri = format!("/v1/coverage?area={LINGQIU}");
    let (_, first) = api.call(Method::GET, &uri, Some(&api.lingqiu_office), None).await;
    let another = json!({"events": [{"type": "ComplaintFiled", "complaint_id": id(602), "area_id": id(12),
        "category": "safety", "summary": "y", "channel": "visit", "resident_ref": "r2"}]});
    assert_eq!(
        api.call(Method::POST, "/v1/events", Some(&api.recorder), Some(another))
            .await
            .0,
        StatusCode::CREATED
    );
    let (_, again) = api.call(Method::GET, &uri, Some(&api.lingqiu_office), None).await;
    assert_eq!(first["stats"]["complaints_filed"], 1);
    assert_eq!(again["stats"]["complaints_filed"], 2);
    assert_eq!(again["as_of"]["seq"], 10);
    let (_, everyone) = api
        .call(Method::GET, "/v1/coverage", Some(&api.office), None)
        .await;
    let (_, lingqiu_only) = api
        .call(Method::GET, "/v1/coverage", Some(&api.lingqiu_office), None)
        .await;
    assert_eq!(everyone["children"].as_array().unwrap().len(), 2);
    assert_eq!(lingqiu_only["children"].as_array().unwrap().len(), 1);
}
