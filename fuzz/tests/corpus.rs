//! Replays the committed corpus (`fuzz/corpus/TARGET/`) through every fuzz target on stable:
//! what libFuzzer found once, including the inputs that failed before a fix, is checked by
//! every `cargo test`.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    let mut inputs = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|error| panic!("{}: {error}", dir.display())) {
        let path = entry.expect("a corpus entry").path();
        let input = std::fs::read(&path).expect("a corpus file");
        let outcome = std::panic::catch_unwind(|| check(&input));
        assert!(outcome.is_ok(), "{} fails the {target} checks", path.display());
        inputs += 1;
    }
    assert!(inputs >= 10, "the {target} corpus holds only {inputs} inputs");
    println!("{target}: {inputs} inputs");
}

#[test]
fn block_corpus() {
    replay("block", govrec_fuzz::block);
}

#[test]
fn append_body_corpus() {
    replay("append_body", govrec_fuzz::append_body);
}

#[test]
fn proofs_corpus() {
    replay("proofs", govrec_fuzz::proofs);
}

#[test]
fn checkpoint_note_corpus() {
    replay("checkpoint_note", govrec_fuzz::checkpoint_note);
}

#[test]
fn import_line_corpus() {
    replay("import_line", govrec_fuzz::import_line);
}
