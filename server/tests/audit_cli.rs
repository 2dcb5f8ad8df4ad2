//! `govrec audit` against the real binary and real servers on loopback ports: the good path,
//! and a checkpoint signed by another key, a rolled-back log and a forked log, each rejected
//! with exit 1; `verify-export` offline.

use std::path::{Path, PathBuf};
use std::process::{Child, Output};

use govrec_store::{NewEvent, Store, StoreConfig, SIGNING_KEY_FILE};
use govrec_tests::{copy_dir, hierarchy};

mod support;
use support::{export, govrec, text};

/// A server on `data`, killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(data: &Path) -> Server {
        let port = govrec_tests::free_port();
        Server {
            child: govrec_tests::serve(Path::new(env!("CARGO_BIN_EXE_govrec")), data, port, 30),
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn append(data: &Path, bases: &[u64]) {
    let store = Store::open(data, StoreConfig::default()).unwrap();
    for base in bases {
        store.append("recorder", hierarchy(*base)).unwrap();
    }
    store.close().unwrap();
}

fn token(data: &Path) -> String {
    let output = govrec(&[
        "token",
        "create",
        "--role",
        "auditor",
        "--name",
        "auditor",
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn key_of(data: &Path) -> String {
    let output = govrec(&["audit", "key", "--data", data.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// `govrec export` of `data` to DIR/export.jsonl, and `note` written to DIR/checkpoint.txt.
fn export_with_checkpoint(dir: &Path, data: &Path, note: &str) -> (PathBuf, PathBuf) {
    let exported = dir.join("export.jsonl");
    let checkpoint = dir.join("checkpoint.txt");
    std::fs::write(&checkpoint, note).unwrap();
    export(data, &exported);
    (exported, checkpoint)
}

/// `govrec audit verify-export FILE --checkpoint CHECKPOINT --key KEY`.
fn verify_export(file: &Path, checkpoint: &Path, key: &str) -> Output {
    govrec(&[
        "audit",
        "verify-export",
        file.to_str().unwrap(),
        "--checkpoint",
        checkpoint.to_str().unwrap(),
        "--key",
        key,
    ])
}

fn checkpoint(server: &Server, token: &str, state: &Path, key: Option<&str>) -> Output {
    let mut args = vec![
        "audit",
        "checkpoint",
        "--url",
        &server.url,
        "--token",
        token,
        "--state",
    ];
    args.push(state.to_str().unwrap());
    if let Some(key) = key {
        args.extend(["--key", key]);
    }
    govrec(&args)
}

#[test]
fn an_auditor_trusts_a_growing_log_and_rejects_another_key_a_rollback_and_a_fork() {
    let dir = tempfile::tempdir().unwrap();
    let (main, small, fork, stranger) = (
        dir.path().join("main"),
        dir.path().join("small"),
        dir.path().join("fork"),
        dir.path().join("stranger"),
    );
    let state = dir.path().join("audit.json");
    append(&main, &[0]);
    let token = token(&main);
    let key = key_of(&main);
    // A copy of the log at 5 records (same key, same tokens), for the rollback.
    copy_dir(&main, &small);
    // Another log with the same key and tokens but other content, for the fork.
    std::fs::create_dir_all(&fork).unwrap();
    std::fs::copy(main.join(SIGNING_KEY_FILE), fork.join(SIGNING_KEY_FILE)).unwrap();
    std::fs::copy(main.join("tokens.json"), fork.join("tokens.json")).unwrap();
    append(&fork, &[100, 110]);
    assert_eq!(key_of(&fork), key);
    // A log with its own key.
    append(&stranger, &[0]);
    std::fs::copy(main.join("tokens.json"), stranger.join("tokens.json")).unwrap();

    {
        let server = Server::start(&small);
        let first = checkpoint(&server, &token, &state, Some(&key));
        assert_eq!(first.status.code(), Some(0), "{}", text(&first));
        assert!(text(&first).contains("size 5"), "{}", text(&first));
    }
    append(&main, &[10]);
    {
        let server = Server::start(&main);
        let grown = checkpoint(&server, &token, &state, None);
        assert_eq!(grown.status.code(), Some(0), "{}", text(&grown));
        assert!(text(&grown).contains("size 10"), "{}", text(&grown));
        let again = checkpoint(&server, &token, &state, None);
        assert_eq!(again.status.code(), Some(0), "{}", text(&again));
        let proved = govrec(&[
            "audit",
            "prove",
            "7",
            "--url",
            &server.url,
            "--token",
            &token,
            "--state",
            state.to_str().unwrap(),
        ]);
        assert_eq!(proved.status.code(), Some(0), "{}", text(&proved));
        assert!(text(&proved).contains("record 7"), "{}", text(&proved));
        let missing = govrec(&[
            "audit",
            "prove",
            "10",
            "--url",
            &server.url,
            "--token",
            &token,
            "--key",
            &key,
        ]);
        assert_eq!(missing.status.code(), Some(1), "{}", text(&missing));
    }
    let trusted = std::fs::read_to_string(&state).unwrap();
    {
        let server = Server::start(&small);
        let rolled_back = checkpoint(&server, &token, &state, None);
        assert_eq!(rolled_back.status.code(), Some(1), "{}", text(&rolled_back));
        assert!(text(&rolled_back).contains("ROLLBACK"), "{}", text(&rolled_back));
    }
    {
        let server = Server::start(&fork);
        let forked = checkpoint(&server, &token, &state, None);
        assert_eq!(forked.status.code(), Some(1), "{}", text(&forked));
        assert!(text(&forked).contains("FORK"), "{}", text(&forked));
    }
    append(&fork, &[120]);
    {
        let server = Server::start(&fork);
        let forked = checkpoint(&server, &token, &state, None);
        assert_eq!(forked.status.code(), Some(1), "{}", text(&forked));
        assert!(text(&forked).contains("FORK"), "{}", text(&forked));
    }
    {
        let server = Server::start(&stranger);
        let foreign = checkpoint(&server, &token, &state, None);
        assert_eq!(foreign.status.code(), Some(1), "{}", text(&foreign));
        assert!(text(&foreign).contains("BAD CHECKPOINT"), "{}", text(&foreign));
    }
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        trusted,
        "a failed check trusts nothing new"
    );
    let bad_usage = govrec(&[
        "audit",
        "prove",
        "1",
        "--url",
        "http://127.0.0.1:1",
        "--token",
        "x",
        "--state",
        "/nonexistent",
    ]);
    assert_eq!(bad_usage.status.code(), Some(2), "{}", text(&bad_usage));
}

#[test]
fn verify_export_checks_the_chain_and_the_root_against_a_signed_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    append(&data, &[0, 10]);
    let note = {
        let store = Store::open(&data, StoreConfig::default()).unwrap();
        let (size, note) = store.checkpoint_latest().unwrap();
        assert_eq!(size, 10);
        note
    };
    append(&data, &[20]);
    let key = key_of(&data);
    let (export, checkpoint) = export_with_checkpoint(dir.path(), &data, &note);
    let ok = verify_export(&export, &checkpoint, &key);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    assert!(text(&ok).contains("15 records"), "{}", text(&ok));

    // An edited record breaks the chain.
    let edited = dir.path().join("edited.jsonl");
    let original = std::fs::read_to_string(&export).unwrap();
    std::fs::write(&edited, original.replacen("城东社区", "城西社区", 1)).unwrap();
    let broken = verify_export(&edited, &checkpoint, &key);
    assert_eq!(broken.status.code(), Some(1), "{}", text(&broken));

    // A shorter export than the checkpoint (records removed at the end).
    let short = dir.path().join("short.jsonl");
    let lines: Vec<&str> = original.lines().take(8).collect();
    std::fs::write(&short, lines.join("\n") + "\n").unwrap();
    let truncated = verify_export(&short, &checkpoint, &key);
    assert_eq!(truncated.status.code(), Some(1), "{}", text(&truncated));

    // A checkpoint with a changed root does not verify.
    let forged = dir.path().join("forged.txt");
    let mut lines: Vec<String> = note.lines().map(str::to_owned).collect();
    lines[1] = "11".to_owned();
    std::fs::write(&forged, lines.join("\n") + "\n").unwrap();
    let bad = verify_export(&export, &forged, &key);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(text(&bad).contains("BAD CHECKPOINT"), "{}", text(&bad));
}

#[test]
fn verify_export_follows_the_rule_for_redacted_records() {
    use govrec_store::NewEvent;
    use govrec_tests::{complaint, redaction, uuid_of};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let note = {
        let store = Store::open(&data, StoreConfig::default()).unwrap();
        store.append("recorder", hierarchy(0)).unwrap();
        store
            .append(
                "recorder",
                vec![NewEvent::new(complaint(
                    uuid_of(100),
                    uuid_of(3),
                    "漏水-REDACT-CLI",
                    "居民-乙",
                ))],
            )
            .unwrap();
        store
            .append("admin", vec![NewEvent::new(redaction(5, &["summary"]))])
            .unwrap();
        store.checkpoint_latest().unwrap().1
    };
    let key = key_of(&data);
    let (export, checkpoint) = export_with_checkpoint(dir.path(), &data, &note);
    let original = std::fs::read_to_string(&export).unwrap();
    assert!(original.contains(r#""redaction":{"by_seq":6,"fields":["summary"]}"#));
    assert!(!original.contains("REDACT-CLI"));
    let run = |file: &Path| verify_export(file, &checkpoint, &key);
    let ok = run(&export);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    // A marker that names another record as K is refused.
    let forged = dir.path().join("forged.jsonl");
    std::fs::write(&forged, original.replacen(r#""by_seq":6"#, r#""by_seq":7"#, 1)).unwrap();
    let bad = run(&forged);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
}

fn backup(server: &Server, token: &str, out: &Path) -> Output {
    govrec(&[
        "backup",
        "--url",
        &server.url,
        "--token",
        token,
        "--out",
        out.to_str().unwrap(),
    ])
}

/// `govrec backup` against a running server: a first run equals `govrec export`; a later run
/// appends only what is new, cuts a line an interrupted run tore, and rewrites the line of a
/// complaint redacted since (its summary gone, the file still equal to an export); a log that
/// does not extend the file (a rollback, a fork) fails with exit 1 and leaves it as it was.
#[test]
fn a_backup_follows_the_log_honours_redactions_and_refuses_a_log_that_does_not_extend_it() {
    let dir = tempfile::tempdir().unwrap();
    let (main, small, fork) = (
        dir.path().join("main"),
        dir.path().join("small"),
        dir.path().join("fork"),
    );
    let (file, expected) = (dir.path().join("backup.jsonl"), dir.path().join("export.jsonl"));
    append(&main, &[0]);
    {
        let store = Store::open(&main, StoreConfig::default()).unwrap();
        let compound = govrec_tests::uuid_of(3);
        let filed = govrec_tests::complaint(
            govrec_tests::uuid_of(50),
            compound,
            "楼道灯坏了 备份摘要",
            "居民乙",
        );
        store.append("recorder", vec![NewEvent::new(filed)]).unwrap();
        store.close().unwrap();
    }
    let token = token(&main);
    copy_dir(&main, &small);
    {
        let server = Server::start(&main);
        let first = backup(&server, &token, &file);
        assert_eq!(first.status.code(), Some(0), "{}", text(&first));
        assert!(text(&first).contains("6 records appended"), "{}", text(&first));
    }
    export(&main, &expected);
    assert_eq!(std::fs::read(&file).unwrap(), std::fs::read(&expected).unwrap());

    // More records, among them the complaint's redaction; and a run interrupted mid-line.
    {
        let store = Store::open(&main, StoreConfig::default()).unwrap();
        store.append("recorder", hierarchy(10)).unwrap();
        let redact = govrec_tests::redaction(5, &["summary"]);
        store.append("admin", vec![NewEvent::new(redact)]).unwrap();
        store.close().unwrap();
    }
    export(&main, &expected);
    let exported = std::fs::read_to_string(&expected).unwrap();
    let eighth = exported.lines().nth(7).unwrap();
    let mut torn = std::fs::read_to_string(&file).unwrap();
    torn.push_str(&eighth[..eighth.len() / 2]);
    std::fs::write(&file, &torn).unwrap();
    assert!(torn.contains("备份摘要"));
    {
        let server = Server::start(&main);
        let second = backup(&server, &token, &file);
        assert_eq!(second.status.code(), Some(0), "{}", text(&second));
        let said = text(&second);
        assert!(
            said.contains("6 records appended, 1 earlier lines redacted"),
            "{said}"
        );
        assert!(said.contains("cut "), "{said}");
        // The token may come from GOVREC_TOKEN instead of the command line.
        let again = std::process::Command::new(env!("CARGO_BIN_EXE_govrec"))
            .args(["backup", "--url", &server.url, "--out", file.to_str().unwrap()])
            .env("GOVREC_TOKEN", &token)
            .output()
            .unwrap();
        assert!(
            text(&again).contains("0 records appended, 0 earlier"),
            "{}",
            text(&again)
        );
    }
    let backed_up = std::fs::read_to_string(&file).unwrap();
    assert_eq!(backed_up, exported);
    assert!(
        !backed_up.contains("备份摘要"),
        "the redacted summary is gone from the backup"
    );

    // A rolled-back log (6 records, the file has 12) and a fork of the same length.
    std::fs::create_dir_all(&fork).unwrap();
    std::fs::copy(main.join("tokens.json"), fork.join("tokens.json")).unwrap();
    append(&fork, &[100, 110]);
    append(&fork, &[120, 130]);
    for (data, what) in [(&small, "ROLLBACK"), (&fork, "FORK")] {
        let server = Server::start(data);
        let refused = backup(&server, &token, &file);
        assert_eq!(refused.status.code(), Some(1), "{what}: {}", text(&refused));
        assert!(text(&refused).contains(what), "{}", text(&refused));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), exported, "{what}");
    }
}
