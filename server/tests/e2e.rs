//! End-to-end: the real `govrec` binary on a loopback port. Append, query, SIGTERM (graceful:
//! exit 0), restart, and the data is intact.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use govrec_tests::{free_port, sigterm};
use serde_json::{json, Value};

fn govrec() -> Command {
    Command::new(env!("CARGO_BIN_EXE_govrec"))
}

/// Runs `govrec token create`; stdout holds the token.
fn create_token(data: &Path, role: &str, name: &str) -> std::process::Output {
    govrec()
        .args([
            "token",
            "create",
            "--role",
            role,
            "--name",
            name,
            "--data",
            data.to_str().unwrap(),
        ])
        .output()
        .unwrap()
}

fn http(port: u16, method: &str, path: &str, token: &str, body: Option<&Value>) -> (u16, Value) {
    govrec_tests::http_json(port, method, path, token, body)
}

fn start(data: &Path, port: u16) -> Child {
    govrec_tests::serve(Path::new(env!("CARGO_BIN_EXE_govrec")), data, port, 20)
}

#[test]
fn append_query_sigterm_restart_and_the_data_is_intact() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let output = create_token(&data, "admin", "e2e-admin");
    assert!(output.status.success());
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("gvr_"));
    assert!(
        !std::fs::read_to_string(data.join("tokens.json"))
            .unwrap()
            .contains(&token),
        "only the hash is stored"
    );

    let port = free_port();
    let server = start(&data, port);
    let batch = json!({"events": [
        {"type": "AreaRegistered", "area_id": "0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e01", "kind": "county", "name": "灵丘县"},
        {"type": "AreaRegistered", "area_id": "5d1f0c3a-8e2b-4a7d-b6c9-0e4f2a1b3c02", "kind": "town", "name": "武灵镇", "parent_id": "0b7e6a52-3f1c-4c0e-9d4e-2f8a1c6b9e01"},
    ]});
    let (status, appended) = http(port, "POST", "/v1/events", &token, Some(&batch));
    assert_eq!(status, 201, "{appended}");
    let (status, page) = http(port, "GET", "/v1/events", &token, None);
    assert_eq!(status, 200);
    assert_eq!(page["records"].as_array().unwrap().len(), 2);
    assert_eq!(page["records"][1]["actor"], "e2e-admin");
    let status = sigterm(server);
    assert!(status.success(), "graceful shutdown exits 0, got {status}");

    let server = start(&data, port);
    let (status, verify) = http(port, "GET", "/v1/audit/verify", &token, None);
    assert_eq!(status, 200);
    assert_eq!(verify["ok"], true);
    assert_eq!(verify["checked"], 2);
    assert_eq!(verify["head"], appended["head"]);
    let (_, again) = http(port, "GET", "/v1/events", &token, None);
    assert_eq!(again, page);
    assert!(sigterm(server).success());
}

/// A Server-Sent Events client over a raw socket: reads `record` events and returns their ids.
struct Feed {
    stream: TcpStream,
    raw: Vec<u8>,
    body: Vec<u8>,
    headers_done: bool,
}

impl Feed {
    fn open(port: u16, token: &str, last_event_id: Option<u64>) -> Feed {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let resume = last_event_id
            .map(|id| format!("Last-Event-ID: {id}\r\n"))
            .unwrap_or_default();
        write!(stream, "GET /v1/subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n{resume}Accept: text/event-stream\r\n\r\n").unwrap();
        Feed {
            stream,
            raw: Vec::new(),
            body: Vec::new(),
            headers_done: false,
        }
    }

    /// Reads until `count` record events arrived; returns their ids (seqs).
    fn next_ids(&mut self, count: usize) -> Vec<u64> {
        let mut ids = Vec::new();
        while ids.len() < count {
            ids.extend(self.take_events());
            if ids.len() >= count {
                break;
            }
            let mut buffer = [0u8; 4096];
            let read = self.stream.read(&mut buffer).expect("the feed stalled");
            assert!(read > 0, "the feed closed");
            self.raw.extend_from_slice(&buffer[..read]);
            self.dechunk();
        }
        ids
    }

    fn dechunk(&mut self) {
        if !self.headers_done {
            let Some(end) = self.raw.windows(4).position(|w| w == b"\r\n\r\n") else {
                return;
            };
            assert!(
                self.raw.starts_with(b"HTTP/1.1 200"),
                "{}",
                String::from_utf8_lossy(&self.raw)
            );
            self.raw.drain(..end + 4);
            self.headers_done = true;
        }
        loop {
            let Some(line_end) = self.raw.windows(2).position(|w| w == b"\r\n") else {
                return;
            };
            let size = usize::from_str_radix(std::str::from_utf8(&self.raw[..line_end]).unwrap().trim(), 16)
                .unwrap();
            if self.raw.len() < line_end + 2 + size + 2 {
                return;
            }
            self.body
                .extend_from_slice(&self.raw[line_end + 2..line_end + 2 + size]);
            self.raw.drain(..line_end + 2 + size + 2);
        }
    }

    fn take_events(&mut self) -> Vec<u64> {
        let mut ids = Vec::new();
        while let Some(end) = self.body.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = self.body.drain(..end + 2).collect();
            let text = String::from_utf8(event).unwrap();
            if text.lines().any(|line| line == "event: record") {
                let id = text
                    .lines()
                    .find_map(|line| line.strip_prefix("id: "))
                    .expect("an id");
                ids.push(id.parse().unwrap());
            }
        }
        ids
    }
}

#[test]
fn the_live_feed_delivers_every_record_exactly_once_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let output = create_token(&data, "auditor", "feed");
    let auditor = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let output = create_token(&data, "recorder", "rec");
    let recorder = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let county = |n: u32| json!({"events": [{"type": "AreaRegistered", "area_id": format!("0b7e6a52-3f1c-4c0e-9d4e-{n:012x}"), "kind": "county", "name": format!("第{n}县")}]});

    let port = free_port();
    let server = start(&data, port);
    assert_eq!(
        http(port, "POST", "/v1/events", &recorder, Some(&county(1))).0,
        201
    );
    assert_eq!(
        http(port, "POST", "/v1/events", &recorder, Some(&county(2))).0,
        201
    );
    let mut feed = Feed::open(port, &auditor, None);
    let mut seen = feed.next_ids(2);
    // Live: records appended after the feed caught up arrive as they commit.
    assert_eq!(
        http(port, "POST", "/v1/events", &recorder, Some(&county(3))).0,
        201
    );
    seen.extend(feed.next_ids(1));
    drop(feed);
    assert!(sigterm(server).success());

    let server = start(&data, port);
    assert_eq!(
        http(port, "POST", "/v1/events", &recorder, Some(&county(4))).0,
        201
    );
    let mut resumed = Feed::open(port, &auditor, seen.last().copied());
    seen.extend(resumed.next_ids(1));
    assert_eq!(
        http(port, "POST", "/v1/events", &recorder, Some(&county(5))).0,
        201
    );
    seen.extend(resumed.next_ids(1));
    assert_eq!(seen, vec![0, 1, 2, 3, 4], "every record exactly once, in order");
    assert!(sigterm(server).success());
}
