//! Shared fixtures for govrec's integration, crash and end-to-end tests: a small valid
//! area hierarchy and helpers that build events for it.

use govrec_core::event::{AreaKind, AreaRegistered};
use govrec_core::Event;
use govrec_store::NewEvent;
use uuid::Uuid;

/// A deterministic UUID from a number, so tests name their entities.
pub fn uuid_of(n: u64) -> Uuid {
    Uuid::from_u64_pair(0x0193_a1b2_c3d4_7e5f, 0x8a9b_0000_0000_0000 | n)
}

/// An `AreaRegistered` event for an area of `kind` under `parent`.
pub fn area(id: Uuid, kind: AreaKind, name: &str, parent: Option<Uuid>) -> Event {
    Event::AreaRegistered(AreaRegistered {
        area_id: id,
        kind,
        name: name.to_owned(),
        parent_id: parent,
        households: None,
        compound_kind: None,
        has_property_management: None,
        units: (kind == AreaKind::Building).then_some(4),
    })
}

/// A county with a town under it: always valid as long as the ids are new.
pub fn county_and_town(county: Uuid, town: Uuid, label: &str) -> Vec<NewEvent> {
    vec![
        NewEvent::new(area(county, AreaKind::County, &format!("{label}县"), None)),
        NewEvent::new(area(town, AreaKind::Town, &format!("{label}镇"), Some(county))),
    ]
}

/// A county > town > community > compound > building chain, ids `base..base+5`.
pub fn hierarchy(base: u64) -> Vec<NewEvent> {
    let kinds = [
        AreaKind::County,
        AreaKind::Town,
        AreaKind::Community,
        AreaKind::Compound,
        AreaKind::Building,
    ];
    let names = ["灵丘县", "武灵镇", "城东社区", "天河颐居", "1号楼"];
    kinds
        .iter()
        .zip(names)
        .enumerate()
        .map(|(level, (kind, name))| {
            let parent = (level > 0).then(|| uuid_of(base + level as u64 - 1));
            NewEvent::new(area(uuid_of(base + level as u64), *kind, name, parent))
        })
        .collect()
}

/// The body of an HTTP/1.1 response sent with `Transfer-Encoding: chunked`, for tests that
/// speak HTTP over a raw socket.
pub fn http_chunked_body(mut text: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = text.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        text = &rest[size + 2..];
    }
    out
}

/// A loopback port that was free a moment ago (for servers started by tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something listens on the loopback `port`; panics after `seconds`.
pub fn wait_for_port(port: u16, seconds: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing listens on port {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Starts `BINARY serve --data DATA --addr 127.0.0.1:PORT` (output discarded) and returns it
/// once it listens; panics after `seconds`.
pub fn serve(
    binary: &std::path::Path,
    data: &std::path::Path,
    port: u16,
    seconds: u64,
) -> std::process::Child {
    let child = std::process::Command::new(binary)
        .args([
            "serve",
            "--data",
            data.to_str().expect("a UTF-8 path"),
            "--addr",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the server");
    wait_for_port(port, seconds);
    child
}

/// Sends SIGTERM to a child and waits (at most 20 s) for it to exit.
pub fn sigterm(mut child: std::process::Child) -> std::process::ExitStatus {
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM)
        .unwrap_or_else(|error| panic!("SIGTERM to {pid}: {error}"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the process did not stop after SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// One HTTP/1.1 request on loopback with `Connection: close`, a bearer token and a JSON body;
/// returns the status and the JSON body (null when the body is not JSON).
pub fn http_json(
    port: u16,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&serde_json::Value>,
) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let body = body.map(serde_json::Value::to_string).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response);
    let status = text[9..12].parse().unwrap();
    let (head, payload) = text.split_once("\r\n\r\n").unwrap();
    let payload = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        http_chunked_body(payload)
    } else {
        payload.to_owned()
    };
    (
        status,
        serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
    )
}

/// A `ComplaintFiled` in area `area_id` with a summary and a resident pseudonym (personal
/// fields: erasable by a redaction).
pub fn complaint(complaint_id: Uuid, area_id: Uuid, summary: &str, resident_ref: &str) -> Event {
    use govrec_core::event::{Channel, ComplaintCategory, ComplaintFiled};
    Event::ComplaintFiled(ComplaintFiled {
        complaint_id,
        area_id,
        category: ComplaintCategory::Repair,
        summary: summary.to_owned(),
        channel: Channel::Hotline,
        resident_ref: resident_ref.to_owned(),
    })
}

/// A resident member living in compound `home_area_id` (the name is a personal field).
pub fn resident_member(member_id: Uuid, name: &str, home_area_id: Uuid) -> Event {
    use govrec_core::event::{MemberCategory, MemberEnrolled};
    Event::MemberEnrolled(MemberEnrolled {
        member_id,
        name: name.to_owned(),
        category: MemberCategory::Resident,
        home_area_id,
        work_unit_id: None,
    })
}

/// A `Redacted` event erasing `fields` of record `target_seq`.
pub fn redaction(target_seq: u64, fields: &[&str]) -> Event {
    Event::Redacted(govrec_core::event::Redacted {
        target_seq,
        fields: fields.iter().map(|field| field.to_string()).collect(),
        reason: "居民申请删除个人信息".to_owned(),
    })
}

/// Copies a directory tree (a data directory: sled's files, `personal.dat`, keys, models).
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Every file under `dir` (recursively), read whole: for "is this text anywhere on disk".
pub fn read_all_files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read file");
                files.push((path, bytes));
            }
        }
    }
    files
}

/// The files under `dir` whose bytes contain `text` (UTF-8).
pub fn files_containing(dir: &std::path::Path, text: &str) -> Vec<std::path::PathBuf> {
    let needle = text.as_bytes();
    read_all_files(dir)
        .into_iter()
        .filter(|(_, bytes)| bytes.windows(needle.len()).any(|window| window == needle))
        .map(|(path, _)| path)
        .collect()
}
