//! What the server's integration tests share. For the oneshot route tests of `audit.rs` and
//! `redact.rs`: an empty store in a temporary directory, the router over it, one all-counties
//! token per role, and sending a request through it. For the CLI tests of `cli.rs` and
//! `audit_cli.rs`: running the `govrec` binary.

// Each test binary uses part of this.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use govrec_server::auth::{create_token, Role, Scope};
use govrec_store::{Store, StoreConfig};
use tower::ServiceExt;

pub struct Api {
    pub dir: tempfile::TempDir,
    pub state: govrec_server::SharedState,
    pub store: Arc<Store>,
    pub router: axum::Router,
    pub tokens: Vec<(Role, String)>,
}

impl Api {
    /// An empty store, the router over it, and a token named after each role.
    pub fn new() -> Api {
        let dir = tempfile::tempdir().unwrap();
        let tokens = [Role::Admin, Role::Auditor, Role::Recorder, Role::Office]
            .into_iter()
            .map(|role| {
                let token =
                    create_token(dir.path(), role, Scope::parse("*").unwrap(), role.as_str()).unwrap();
                (role, token)
            })
            .collect();
        let store = Arc::new(Store::open(&dir.path().join("log"), StoreConfig::default()).unwrap());
        let state =
            govrec_server::state_for(store.clone(), dir.path(), govrec_server::Limits::default()).unwrap();
        Api {
            router: govrec_server::router(state.clone()),
            state,
            store,
            dir,
            tokens,
        }
    }

    pub fn token(&self, role: Role) -> &str {
        &self.tokens.iter().find(|(r, _)| *r == role).unwrap().1
    }

    /// Sends `request` through the router: status, content type and body text.
    pub async fn send(&self, request: Request<Body>) -> (StatusCode, String, String) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, content_type, String::from_utf8(bytes.to_vec()).unwrap())
    }
}

/// Runs the `govrec` binary with `args`.
pub fn govrec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_govrec"))
        .args(args)
        .output()
        .expect("run govrec")
}

/// What a run printed: stdout, then stderr.
pub fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// `govrec export --data DATA --out OUT`, which must exit 0.
pub fn export(data: &Path, out: &Path) {
    let exported = govrec(&[
        "export",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(exported.status.code(), Some(0), "{}", text(&exported));
}
