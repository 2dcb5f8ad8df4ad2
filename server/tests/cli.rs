//! The `govrec` binary's verify, export and import commands, with api.md's exit codes
//! (0 success, 1 a failed check, 2 bad usage).

use std::path::Path;
use std::process::Command;

use govrec_store::{Log, LogConfig, Store, StoreConfig};
use govrec_tests::hierarchy;

mod support;
use support::{export, govrec, text};

fn populate(data: &Path) {
    let store = Store::open(data, StoreConfig::default()).unwrap();
    store.append("recorder-guangling", hierarchy(0)).unwrap();
    store.append("recorder-guangling", hierarchy(10)).unwrap();
    store.close().unwrap();
}

/// A damaged database file — cut short, or a byte flipped — is never a panic and never a
/// silently shorter log: `govrec verify` either finds every record intact or says DAMAGED
/// (exit 1), and `govrec serve` refuses to start with a message rather than exit 101.
#[test]
fn a_damaged_database_file_is_reported_never_a_panic_or_a_shorter_log() {
    let dir = tempfile::tempdir().unwrap();
    let pristine = dir.path().join("pristine");
    let store = Store::open(&pristine, StoreConfig::default()).unwrap();
    for batch in 0..40u64 {
        store.append("recorder", hierarchy(batch * 10)).unwrap();
    }
    store.close().unwrap();
    let records = 40 * 5;
    let size = std::fs::metadata(pristine.join("db")).unwrap().len();
    type Damage = Box<dyn Fn(&Path)>;
    let mut damages: Vec<(String, Damage)> = Vec::new();
    for eighths in [2u64, 4, 6, 7] {
        let cut = size * eighths / 8;
        damages.push((
            format!("cut to {eighths}/8"),
            Box::new(move |db: &Path| {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(db)
                    .unwrap()
                    .set_len(cut)
                    .unwrap()
            }),
        ));
    }
    for sixteenths in [3u64, 8, 13] {
        let at = size * sixteenths / 16;
        damages.push((
            format!("a byte flipped at {sixteenths}/16"),
            Box::new(move |db: &Path| {
                let mut bytes = std::fs::read(db).unwrap();
                bytes[at as usize] ^= 0xFF;
                std::fs::write(db, bytes).unwrap();
            }),
        ));
    }
    for (name, damage) in damages {
        let data = dir.path().join(name.replace([' ', '/'], "-"));
        let copied = Command::new("cp")
            .args(["-r"])
            .arg(&pristine)
            .arg(&data)
            .status()
            .unwrap();
        assert!(copied.success());
        damage(&data.join("db"));
        let verify = govrec(&["verify", "--data", data.to_str().unwrap()]);
        let said = text(&verify);
        println!(
            "{name}: exit {:?}: {}",
            verify.status.code(),
            said.lines().next().unwrap_or("")
        );
        assert!(!said.contains("panicked"), "{name}: {said}");
        match verify.status.code() {
            Some(0) => assert!(
                said.contains(&format!("ok: {records} records intact")),
                "{name}: {said}"
            ),
            Some(1) => assert!(said.contains("DAMAGED"), "{name}: {said}"),
            other => panic!("{name}: exit {other:?}: {said}"),
        }
        if verify.status.code() == Some(1) {
            let export = govrec(&["export", "--data", data.to_str().unwrap(), "--out", "/dev/null"]);
            assert_ne!(export.status.code(), Some(101), "{name}: {}", text(&export));
            assert!(!text(&export).contains("panicked"), "{name}: {}", text(&export));
        }
    }
}

#[test]
fn verify_passes_on_an_intact_store_and_names_the_damaged_seq() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    populate(&data);
    let data_arg = data.to_str().unwrap();
    let ok = govrec(&["verify", "--data", data_arg]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    assert!(text(&ok).contains("10 records intact"), "{}", text(&ok));

    {
        // Change the name of the community registered at seq 7, behind the store's back.
        let log = Log::open(&data, &LogConfig::default()).unwrap();
        let tree = log.blocks_tree();
        for entry in tree.iter() {
            let (key, value) = entry.unwrap();
            let (from, to) = ("城东社区".as_bytes(), "城西社区".as_bytes());
            let positions: Vec<usize> = value
                .windows(from.len())
                .enumerate()
                .filter(|(_, w)| *w == from)
                .map(|(i, _)| i)
                .collect();
            if u64::from_be_bytes(key.as_ref().try_into().unwrap()) == 5 {
                let mut changed = value.to_vec();
                changed[positions[0]..positions[0] + to.len()].copy_from_slice(to);
                tree.insert(key, changed).unwrap();
            }
        }
        log.sync().unwrap();
    }
    let damaged = govrec(&["verify", "--data", data_arg]);
    assert_eq!(damaged.status.code(), Some(1), "{}", text(&damaged));
    assert!(text(&damaged).contains("first bad seq 7"), "{}", text(&damaged));
}

#[test]
fn export_then_import_restores_the_same_log() {
    let dir = tempfile::tempdir().unwrap();
    let (data, copy) = (dir.path().join("data"), dir.path().join("copy"));
    populate(&data);
    let (first, second) = (dir.path().join("first.jsonl"), dir.path().join("second.jsonl"));
    export(&data, &first);
    let import = govrec(&[
        "import",
        first.to_str().unwrap(),
        "--data",
        copy.to_str().unwrap(),
    ]);
    assert_eq!(import.status.code(), Some(0), "{}", text(&import));
    export(&copy, &second);
    assert_eq!(std::fs::read(&first).unwrap(), std::fs::read(&second).unwrap());
}

/// `--data NAME` with a bare relative name: its parent is the current directory ("" to
/// `Path::parent`), which the first open syncs after creating the store.
#[test]
fn a_store_is_created_at_a_bare_relative_name() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    populate(&data);
    let first = dir.path().join("first.jsonl");
    export(&data, &first);
    let import = std::process::Command::new(env!("CARGO_BIN_EXE_govrec"))
        .current_dir(dir.path())
        .args(["import", "first.jsonl", "--data", "restored"])
        .output()
        .unwrap();
    assert_eq!(import.status.code(), Some(0), "{}", text(&import));
    let second = dir.path().join("second.jsonl");
    export(&dir.path().join("restored"), &second);
    assert_eq!(std::fs::read(&first).unwrap(), std::fs::read(&second).unwrap());
}

#[test]
fn an_edited_export_is_rejected_with_exit_1_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    populate(&data);
    let file = dir.path().join("log.jsonl");
    export(&data, &file);
    let edited =
        std::fs::read_to_string(&file)
            .unwrap()
            .replacen("recorder-guangling", "recorder-guanglinG", 4);
    std::fs::write(&file, edited).unwrap();
    let copy = dir.path().join("copy");
    let import = govrec(&["import", file.to_str().unwrap(), "--data", copy.to_str().unwrap()]);
    assert_eq!(import.status.code(), Some(1), "{}", text(&import));
    assert!(text(&import).contains("line 1:"), "{}", text(&import));
}

#[test]
fn bad_usage_exits_2() {
    assert_eq!(govrec(&["verify", "--no-such-flag"]).status.code(), Some(2));
    assert_eq!(govrec(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(govrec(&[]).status.code(), Some(2));
}

#[test]
fn verify_of_a_missing_store_fails_without_creating_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("absent");
    let output = govrec(&["verify", "--data", data.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(!data.exists());
}

/// Every mode under `dir` that lets the group or others in.
fn open_to_others(dir: &std::path::Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(path) = stack.pop() {
        let metadata = std::fs::symlink_metadata(&path).unwrap();
        if metadata.permissions().mode() & 0o077 != 0 {
            found.push(format!(
                "{} {:o}",
                path.display(),
                metadata.permissions().mode() & 0o777
            ));
        }
        if metadata.is_dir() {
            stack.extend(
                std::fs::read_dir(&path)
                    .unwrap()
                    .map(|entry| entry.unwrap().path()),
            );
        }
    }
    found
}

/// Whatever the umask, the data directory is 0700 and its files 0600; a directory an older
/// govrec left readable by others is made private, with a warning.
#[test]
fn the_data_directory_is_private_to_its_user() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let events = dir.path().join("events.jsonl");
    std::fs::write(
        &events,
        format!(
            "{}\n",
            serde_json::json!({"type": "AreaRegistered", "area_id": uuid::Uuid::now_v7(), "kind": "county", "name": "灵丘县"})
        ),
    )
    .unwrap();
    let output = govrec(&[
        "import",
        events.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let output = govrec(&[
        "token",
        "create",
        "--role",
        "admin",
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let output = govrec(&["replay", "--data", data.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(data.join("tokens.json").exists() && data.join("models").exists());
    assert_eq!(open_to_others(&data), Vec::<String>::new());

    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(data.join("tokens.json"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = govrec(&["replay", "--data", data.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("made them private"), "{}", text(&output));
    assert_eq!(open_to_others(&data), Vec::<String>::new());
}

#[test]
fn replay_rebuilds_the_models_and_reports_counts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    populate(&data);
    let output = govrec(&["replay", "--data", data.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).contains("replayed 10 records"), "{}", text(&output));
    assert!(
        data.join("models").exists(),
        "the snapshot the server starts from"
    );
}
