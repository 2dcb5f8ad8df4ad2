//! A flood of idle sockets and slow request bodies does not take the service down: the real
//! `govrec` binary, capped at a few thousand connections, faces as many idle sockets as this
//! test process may open (up to 20,000) and 1,000 bodies that never finish, and `/healthz`, a
//! sign-in and an append by a normal client are all answered. Bounded: every wait has a
//! deadline and the server is stopped at the end.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use govrec_tests::{free_port, sigterm};
use serde_json::json;

const IDLE_SOCKETS_MAX: usize = 20_000;
const SLOW_BODIES: usize = 1_000;
/// The server's cap in this test, far below the sockets thrown at it.
const CONNECTIONS_MAX: usize = 4_096;

/// Raises this process's soft open-file limit to the hard one; returns the limit in force.
fn raise_fd_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(hard)) = (limit.current, limit.maximum) {
        if current < hard
            && setrlimit(
                Resource::Nofile,
                Rlimit {
                    current: Some(hard),
                    maximum: Some(hard),
                },
            )
            .is_ok()
        {
            return hard;
        }
    }
    limit.current.unwrap_or(1024)
}

fn start(data: &Path, port: u16) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_govrec"))
        .args([
            "serve",
            "--data",
            data.to_str().unwrap(),
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--connections-max",
            &CONNECTIONS_MAX.to_string(),
        ])
        .env("GOVREC_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    govrec_tests::wait_for_port(port, 30);
    child
}

/// One request on a fresh connection, with a 60 s deadline: the status, or `None` when no
/// answer came.
fn request(port: u16, raw: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    stream.write_all(raw.as_bytes()).ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

#[test]
fn idle_sockets_and_slow_bodies_do_not_starve_a_normal_client() {
    let fd_limit = raise_fd_limit();
    let idle_count = IDLE_SOCKETS_MAX.min(
        usize::try_from(fd_limit)
            .unwrap_or(usize::MAX)
            .saturating_sub(SLOW_BODIES + 512),
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let output = Command::new(env!("CARGO_BIN_EXE_govrec"))
        .args([
            "token",
            "create",
            "--role",
            "admin",
            "--name",
            "admin",
            "--data",
            data.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let port = free_port();
    let server = start(&data, port);
    let started = Instant::now();

    // Bodies announced and never finished: each holds a connection, never a request slot.
    let mut slow = Vec::with_capacity(SLOW_BODIES);
    for _ in 0..SLOW_BODIES {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .write_all(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nt")
            .unwrap();
        slow.push(stream);
    }
    // Sockets opened and left silent, far past the server's cap.
    let mut idle = Vec::with_capacity(idle_count);
    for _ in 0..idle_count {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => idle.push(stream),
            Err(error) => panic!("connect {} failed: {error}", idle.len()),
        }
    }
    let flooded = started.elapsed();

    assert_eq!(
        request(
            port,
            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        ),
        Some(200),
        "/healthz"
    );
    let body = json!({"events": [{"type": "AreaRegistered", "area_id": uuid::Uuid::now_v7(), "kind": "county", "name": "灵丘县"}]}).to_string();
    let append = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    assert_eq!(request(port, &append), Some(201), "an append");
    let form = format!("token={token}");
    let sign_in = format!(
        "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
        form.len()
    );
    let signed_in = request(port, &sign_in);
    assert!(matches!(signed_in, Some(200..=399)), "a sign-in: {signed_in:?}");
    println!(
        "{} idle sockets and {SLOW_BODIES} slow bodies against a cap of {CONNECTIONS_MAX} (opened in {:.1} s); \
         /healthz, an append and a sign-in answered after {:.1} s in all",
        idle.len(),
        flooded.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    drop(idle);
    drop(slow);
    assert!(sigterm(server).success());
}
