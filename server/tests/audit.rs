//! The audit routes for proofs, checkpoints and the key, through `tower::ServiceExt::oneshot`:
//! answers that verify offline, the role matrix, and bad parameters as problems.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use govrec_server::auth::Role;
use govrec_store::merkle::{leaf_hash, verify_consistency, verify_inclusion};
use govrec_store::{Hash32, NoteVerifier};
use serde_json::Value;

mod support;

use support::Api;

impl Api {
    fn append(&self, base: u64) {
        self.store
            .append("recorder", govrec_tests::hierarchy(base))
            .unwrap();
    }

    /// GET `uri` with `token` (none when empty): status, content type and body text.
    async fn get(&self, uri: &str, token: &str) -> (StatusCode, String, String) {
        let mut request = Request::get(uri);
        if !token.is_empty() {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    async fn json(&self, uri: &str) -> Value {
        let (status, _, body) = self.get(uri, self.token(Role::Auditor)).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        serde_json::from_str(&body).unwrap()
    }
}

fn hash(value: &Value) -> Hash32 {
    Hash32::from_hex(value.as_str().unwrap()).unwrap()
}

fn hashes(value: &Value) -> Vec<Hash32> {
    value.as_array().unwrap().iter().map(hash).collect()
}

#[tokio::test]
async fn proofs_and_checkpoints_verify_with_the_published_key() {
    let api = Api::new();
    api.append(0);
    let key = api.json("/v1/audit/key").await;
    let verifier = NoteVerifier::parse(key["verifier_key"].as_str().unwrap()).unwrap();
    assert_eq!(key["origin"], verifier.name());

    let (status, content_type, note) = api.get("/v1/audit/checkpoint", api.token(Role::Auditor)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let old = verifier.verify_checkpoint(&note).unwrap();
    assert_eq!(old.size, 5);

    api.append(10);
    api.append(20);
    let (_, _, newer_note) = api.get("/v1/audit/checkpoint", api.token(Role::Admin)).await;
    let new = verifier.verify_checkpoint(&newer_note).unwrap();
    assert_eq!(new.size, 15);
    // The old checkpoint is served again, byte for byte.
    let (status, _, again) = api
        .get("/v1/audit/checkpoint?size=5", api.token(Role::Auditor))
        .await;
    assert_eq!((status, again.as_str()), (StatusCode::OK, note.as_str()));

    let consistency = api
        .json("/v1/audit/proof/consistency?from_size=5&to_size=15")
        .await;
    assert_eq!(hash(&consistency["from_root"]), old.root);
    assert_eq!(hash(&consistency["to_root"]), new.root);
    verify_consistency(5, 15, &old.root, &new.root, &hashes(&consistency["proof"])).unwrap();

    for seq in 0..15 {
        let inclusion = api
            .json(&format!("/v1/audit/proof/inclusion?seq={seq}&size=15"))
            .await;
        let record = api.store.get(seq).unwrap().unwrap();
        assert_eq!(hash(&inclusion["record_hash"]), record.hash);
        assert_eq!(hash(&inclusion["leaf_hash"]), leaf_hash(&record.hash));
        assert_eq!(hash(&inclusion["root"]), new.root);
        let proof = hashes(&inclusion["proof"]);
        verify_inclusion(seq, 15, &leaf_hash(&record.hash), &proof, &new.root).unwrap();
    }
    // Defaults: the head.
    let inclusion = api.json("/v1/audit/proof/inclusion?seq=3").await;
    assert_eq!(inclusion["tree_size"], 15);
    let consistency = api.json("/v1/audit/proof/consistency?from_size=0").await;
    assert_eq!(
        (
            consistency["to_size"].as_u64(),
            consistency["proof"].as_array().unwrap().len()
        ),
        (Some(15), 0)
    );
}

#[tokio::test]
async fn only_auditors_and_admins_may_read_proofs_checkpoints_and_the_key() {
    let api = Api::new();
    api.append(0);
    let routes = [
        "/v1/audit/proof/inclusion?seq=0&size=5",
        "/v1/audit/proof/consistency?from_size=1&to_size=5",
        "/v1/audit/checkpoint",
        "/v1/audit/key",
    ];
    for uri in routes {
        for (role, token) in &api.tokens {
            let (status, content_type, body) = api.get(uri, token).await;
            let expected = match role {
                Role::Admin | Role::Auditor => StatusCode::OK,
                _ => StatusCode::FORBIDDEN,
            };
            assert_eq!(status, expected, "{uri} as {}: {body}", role.as_str());
            if status == StatusCode::FORBIDDEN {
                assert_eq!(content_type, "application/problem+json");
                let problem: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(problem["code"], "forbidden");
            }
        }
        let (status, content_type, _) = api.get(uri, "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri} without a token");
        assert_eq!(content_type, "application/problem+json");
    }
}

#[tokio::test]
async fn bad_parameters_are_problems_with_stable_codes() {
    let api = Api::new();
    api.append(0);
    let cases = [
        (
            "/v1/audit/proof/inclusion",
            StatusCode::BAD_REQUEST,
            "missing_field",
        ),
        (
            "/v1/audit/proof/inclusion?seq=x",
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
        (
            "/v1/audit/proof/inclusion?seq=-1",
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
        (
            "/v1/audit/proof/inclusion?seq=0&size=6",
            StatusCode::NOT_FOUND,
            "unknown_tree_size",
        ),
        (
            "/v1/audit/proof/inclusion?seq=5&size=5",
            StatusCode::BAD_REQUEST,
            "invalid_leaf_index",
        ),
        (
            "/v1/audit/proof/inclusion?seq=0&size=0",
            StatusCode::BAD_REQUEST,
            "invalid_leaf_index",
        ),
        (
            "/v1/audit/proof/inclusion?seq=18446744073709551615&size=18446744073709551615",
            StatusCode::NOT_FOUND,
            "unknown_tree_size",
        ),
        (
            "/v1/audit/proof/consistency",
            StatusCode::BAD_REQUEST,
            "missing_field",
        ),
        (
            "/v1/audit/proof/consistency?from_size=4&to_size=3",
            StatusCode::BAD_REQUEST,
            "invalid_tree_size",
        ),
        (
            "/v1/audit/proof/consistency?from_size=4&to_size=99",
            StatusCode::NOT_FOUND,
            "unknown_tree_size",
        ),
        (
            "/v1/audit/proof/consistency?from_size=1.5",
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
        (
            "/v1/audit/checkpoint?size=3",
            StatusCode::NOT_FOUND,
            "unknown_checkpoint",
        ),
        (
            "/v1/audit/checkpoint?size=abc",
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
    ];
    for (uri, status, code) in cases {
        let (got, content_type, body) = api.get(uri, api.token(Role::Auditor)).await;
        assert_eq!(got, status, "{uri}: {body}");
        assert_eq!(content_type, "application/problem+json", "{uri}");
        let problem: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(problem["code"], code, "{uri}");
    }
}

#[tokio::test]
async fn the_openapi_description_lists_the_audit_routes() {
    let api = Api::new();
    let (status, _, body) = api.get("/openapi.json", "").await;
    assert_eq!(status, StatusCode::OK);
    let openapi: Value = serde_json::from_str(&body).unwrap();
    for path in [
        "/v1/audit/proof/inclusion",
        "/v1/audit/proof/consistency",
        "/v1/audit/checkpoint",
        "/v1/audit/key",
    ] {
        assert!(openapi["paths"][path]["get"].is_object(), "{path}");
    }
}

#[tokio::test]
async fn read_model_answers_name_the_tree_size_and_root_they_reflect() {
    let api = Api::new();
    let empty = api.json("/v1/coverage").await;
    assert_eq!(empty["as_of"]["tree_size"], 0);
    assert_eq!(hash(&empty["as_of"]["root"]), govrec_store::merkle::empty_root());
    api.append(0);
    api.append(10);
    let (_, _, note) = api.get("/v1/audit/checkpoint", api.token(Role::Auditor)).await;
    let verifier = NoteVerifier::parse(&api.store.verifier_key()).unwrap();
    let checkpoint = verifier.verify_checkpoint(&note).unwrap();
    for uri in [
        "/v1/coverage",
        "/v1/ledgers/members",
        "/v1/ledgers/complaints",
        "/v1/scores?period=2026",
    ] {
        let answer = api.json(uri).await;
        let as_of = &answer["as_of"];
        assert_eq!(as_of["seq"], 9, "{uri}");
        assert_eq!(as_of["tree_size"], 10, "{uri}");
        assert_eq!(hash(&as_of["root"]), checkpoint.root, "{uri}");
    }
    let past = api.json("/v1/coverage?as_of=2").await;
    assert_eq!(past["as_of"]["tree_size"], 3);
    assert_eq!(hash(&past["as_of"]["root"]), api.store.merkle_root(3).unwrap());
}
