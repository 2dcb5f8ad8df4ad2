//! `POST /v1/admin/redact` through `tower::ServiceExt::oneshot`: an admin erases personal
//! fields, the record is served with its marker and without the text, the chain still
//! verifies, and no file of the data directory holds the erased text (the read models'
//! snapshots included); every other caller and every malformed body gets a problem, never a 5xx.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use govrec_projections::snapshot::REDACTION_PENDING;
use govrec_server::auth::Role;
use govrec_store::NewEvent;
use govrec_tests::{complaint, hierarchy, resident_member, uuid_of};
use serde_json::{json, Value};

const SUMMARY: &str = "楼道灯坏了-REDACT-HTTP-91ac";
const NAME: &str = "李桂兰-REDACT-HTTP-NAME";

mod support;

use support::Api;

/// The API over a store holding a hierarchy, a complaint (seq 5) and a member (seq 6).
fn api() -> Api {
    let api = Api::new();
    api.store.append("recorder", hierarchy(0)).unwrap();
    api.store
        .append(
            "recorder",
            vec![
                NewEvent::new(complaint(uuid_of(100), uuid_of(3), SUMMARY, "居民-甲")),
                NewEvent::new(resident_member(uuid_of(101), NAME, uuid_of(3))),
            ],
        )
        .unwrap();
    api.state.models.catch_up(&api.store).unwrap();
    api
}

impl Api {
    async fn redact(&self, body: &str, role: Option<Role>) -> (StatusCode, String, String) {
        let mut request = Request::post("/v1/admin/redact").header("content-type", "application/json");
        if let Some(role) = role {
            request = request.header("authorization", format!("Bearer {}", self.token(role)));
        }
        self.send(request.body(Body::from(body.to_owned())).unwrap())
            .await
    }

    async fn get(&self, uri: &str) -> Value {
        let request = Request::get(uri)
            .header("authorization", format!("Bearer {}", self.token(Role::Admin)))
            .body(Body::empty())
            .unwrap();
        let (status, _, body) = self.send(request).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        serde_json::from_str(&body).unwrap()
    }
}

/// The names of the snapshot keys (one per generation) in `keys`.
/// The generations whose snapshots have keys (a key file is named GENERATION-POSITION).
fn key_generations(keys: &std::path::Path) -> Vec<String> {
    let mut generations: Vec<String> = match std::fs::read_dir(keys) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .map(|name| name.split('-').next().unwrap().to_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    generations.sort();
    generations.dedup();
    generations
}

/// Waits (30 s at most) until the rebuilds a redaction started have removed the snapshot
/// directory's redaction-pending mark.
async fn wait_for_the_mark_to_go(data: &std::path::Path, why: &str) {
    let pending = data.join("models").join(REDACTION_PENDING);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while pending.exists() {
        assert!(std::time::Instant::now() < deadline, "{why}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Waits until the rebuild a redaction started in the background has switched to a new
/// generation: keys of one generation, not one of `before`. Its keys exist while it runs,
/// beside the old ones.
async fn wait_for_new_generation(keys: &std::path::Path, before: &[String]) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let now = key_generations(keys);
        if now.len() == 1 && !before.contains(&now[0]) {
            return now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no rebuild after the redaction: {now:?}, before {before:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_admin_redacts_and_the_record_is_served_with_its_marker() {
    let api = api();
    let keys = api.dir.path().join("models").join("snapshot-keys");
    let keys_at_start = key_generations(&keys);
    let body = json!({"target_seq": 5, "fields": ["summary", "resident_ref"], "reason": "居民申请删除"});
    let (status, _, text) = api.redact(&body.to_string(), Some(Role::Admin)).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["records"][0]["seq"], json!(7));

    let record = api.get("/v1/events/5").await;
    assert_eq!(
        record["redaction"],
        json!({"by_seq": 7, "fields": ["summary", "resident_ref"]})
    );
    assert!(record["event"].get("summary").is_none());
    assert!(!record.to_string().contains(SUMMARY));
    let redacted = api.get("/v1/events/7").await;
    assert_eq!(redacted["event"]["type"], json!("Redacted"));
    let history = api.get(&format!("/v1/entities/{}/history", uuid_of(100))).await;
    assert!(!history.to_string().contains(SUMMARY));
    let verify = api.get("/v1/audit/verify").await;
    assert_eq!(verify["ok"], json!(true), "{verify}");

    // The member's name, by the same route; the members ledger then shows it as null. A
    // snapshot of the read models holding the name exists first (encrypted with its
    // generation's key).
    // (Once the first redaction's rebuild is done: it runs in the background.)
    let keys_before = wait_for_new_generation(&keys, &keys_at_start).await;
    api.state.models.catch_up(&api.store).unwrap();
    api.state.models.save_snapshot().unwrap();
    assert_eq!(key_generations(&keys), keys_before, "one generation's keys");
    let body = json!({"target_seq": 6, "fields": ["name"], "reason": "本人申请"});
    let (status, _, text) = api.redact(&body.to_string(), Some(Role::Admin)).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let page = api.get("/v1/events?limit=100").await;
    assert!(!page.to_string().contains(NAME) && !page.to_string().contains(SUMMARY));

    // A record is redacted once.
    let body = json!({"target_seq": 5, "fields": ["summary"], "reason": "again"});
    let (status, content_type, text) = api.redact(&body.to_string(), Some(Role::Admin)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    assert_eq!(content_type, "application/problem+json");

    // The redaction rebuilt the read models into a new generation and destroyed the old
    // generation's key: the snapshot holding the name can no longer be read.
    wait_for_new_generation(&keys, &keys_before).await;
    wait_for_the_mark_to_go(api.dir.path(), "the rebuild left the mark").await;
    let members = api.get("/v1/ledgers/members").await;
    assert!(!members.to_string().contains(NAME), "{members}");

    // Nothing of the erased texts in any file of the data directory: the log's (values live
    // outside sled, erased in place) and the read models' snapshots (encrypted, old keys gone).
    api.store.shutdown().unwrap();
    for text in [SUMMARY, NAME, "居民-甲"] {
        let found = govrec_tests::files_containing(api.dir.path(), text);
        assert!(found.is_empty(), "{text}: {found:?}");
    }
}

#[tokio::test]
async fn only_admins_redact_and_bad_bodies_are_problems() {
    let api = api();
    let body = json!({"target_seq": 5, "fields": ["summary"], "reason": "r"}).to_string();
    let (status, _, _) = api.redact(&body, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for role in [Role::Recorder, Role::Auditor, Role::Office] {
        let (status, content_type, _) = api.redact(&body, Some(role)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role:?}");
        assert_eq!(content_type, "application/problem+json");
    }
    let cases: &[(&str, StatusCode)] = &[
        ("not json", StatusCode::BAD_REQUEST),
        ("[]", StatusCode::BAD_REQUEST),
        (
            r#"{"target_seq": -1, "fields": ["summary"], "reason": "r"}"#,
            StatusCode::BAD_REQUEST,
        ),
        (
            r#"{"target_seq": 1.5, "fields": ["summary"], "reason": "r"}"#,
            StatusCode::BAD_REQUEST,
        ),
        (
            r#"{"target_seq": 5, "fields": "summary", "reason": "r"}"#,
            StatusCode::BAD_REQUEST,
        ),
        (
            r#"{"target_seq": 5, "fields": ["summary"]}"#,
            StatusCode::BAD_REQUEST,
        ),
        (
            r#"{"target_seq": 5, "fields": ["summary"], "reason": "r", "extra": 1}"#,
            StatusCode::BAD_REQUEST,
        ),
        (
            r#"{"type": "AreaRetired", "target_seq": 5, "fields": ["summary"], "reason": "r"}"#,
            StatusCode::BAD_REQUEST,
        ),
        (
            r#"{"target_seq": 5, "fields": ["area_id"], "reason": "r"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"{"target_seq": 5, "fields": [], "reason": "r"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"{"target_seq": 5, "fields": ["summary"], "reason": ""}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"{"target_seq": 0, "fields": ["name"], "reason": "r"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (body, expected) in cases {
        let (status, content_type, text) = api.redact(body, Some(Role::Admin)).await;
        assert_eq!(status, *expected, "{body}: {text}");
        assert_eq!(content_type, "application/problem+json", "{body}");
    }
    let (status, _, text) = api
        .redact(
            r#"{"target_seq": 18446744073709551615, "fields": ["summary"], "reason": "r"}"#,
            Some(Role::Admin),
        )
        .await;
    assert!(status.is_client_error(), "{status}: {text}");
    assert_eq!(api.store.head().next_seq, 7, "nothing was stored");
    // The refused redactions marked the snapshots as possibly stale before trying; the
    // rebuilds they started remove the mark again.
    wait_for_the_mark_to_go(api.dir.path(), "the mark stayed").await;

    // The route is described in the OpenAPI document.
    let request = Request::get("/openapi.json").body(Body::empty()).unwrap();
    let (status, _, text) = api.send(request).await;
    assert_eq!(status, StatusCode::OK);
    let openapi: Value = serde_json::from_str(&text).unwrap();
    assert!(openapi["paths"]["/v1/admin/redact"]["post"].is_object());
}
