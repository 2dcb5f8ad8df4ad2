//! `govrec backup`: an online, incremental and verified copy of the log, taken over HTTP while
//! the server runs (sled locks the data directory, so `govrec export` needs it stopped).
//!
//! The file is an export: one RECORD a line in seq order, byte-identical to what
//! `govrec export` writes, so `govrec import FILE --data NEW_DIR` restores it and `govrec
//! audit verify-export` checks it. Each run:
//!
//! 1. reads the file's last record (a line torn by an interrupted run is cut off first);
//! 2. pages `GET /v1/events` after it and checks every record as an auditor would: the next
//!    seq, the link to the record before, its own hashes, and each redaction marker against
//!    its `Redacted` record. A server whose log does not extend the file (a rollback or a
//!    fork) fails the run with exit 1 and nothing of its answer is written;
//! 3. appends the records, syncing after each page;
//! 4. rewrites, with the server's redacted text, every earlier line a `Redacted` record of
//!    this run erased, so that a backup does not keep personal values the log no longer has.
//!    The redacted line keeps its `hash` (redaction never changes it), which is checked.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::Context;
use govrec_core::Event;
use govrec_store::{Hash32, Record, RecordJson, Redaction};
use serde::Deserialize;

use crate::audit_client::{AuditFailure, Promises, Server};

/// Records asked for per page (the API's maximum).
const PAGE_RECORDS: u32 = 1000;

/// What a run did.
#[derive(Debug)]
pub struct BackupReport {
    /// Records appended to the file.
    pub appended: u64,
    /// Earlier lines rewritten because a record of this run redacted them.
    pub redacted: u64,
    /// Bytes of a torn last line cut off before starting.
    pub torn_bytes: u64,
    /// The file's last record: `(seq, hash)`.
    pub head: Option<(u64, Hash32)>,
}

#[derive(Deserialize)]
struct Page {
    records: Vec<RecordJson>,
    next: Option<String>,
}

fn fail<T>(message: impl Into<String>) -> anyhow::Result<T> {
    Err(AuditFailure(message.into()).into())
}

/// Brings `path` up to the server's head (see the module doc).
pub fn backup(server: &Server, path: &Path) -> anyhow::Result<BackupReport> {
    let mut file = File::options()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    if file.try_lock().is_err() {
        anyhow::bail!("{} is in use by another backup", path.display());
    }
    let torn_bytes = cut_torn_tail(&mut file).with_context(|| format!("reading {}", path.display()))?;
    let last = last_record(&mut file, path)?;
    if let Some(last) = &last {
        same_record_on_the_server(server, last)?;
    }
    let first_new = last.as_ref().map_or(0, |record| record.seq + 1);
    let mut prev_hash = last.as_ref().map_or(Hash32::ZERO, |record| record.hash);
    let mut expected = first_new;
    // Markers met in this run, until the `Redacted` record they name arrives.
    let mut promised = Promises::default();
    // Lines to take again from the server, redacted: `Redacted` records of this run name
    // them. Those this run wrote after their redaction are in that form already and stay.
    let mut to_redact: BTreeMap<u64, (u64, Redaction)> = BTreeMap::new();
    let mut appended = 0;
    loop {
        let after = expected
            .checked_sub(1)
            .map(|seq| format!("&after={seq}"))
            .unwrap_or_default();
        let page: Page = server.get_json(&format!("/v1/events?limit={PAGE_RECORDS}{after}"))?;
        let mut lines = String::new();
        let empty = page.records.is_empty();
        for json in page.records {
            let record = Record::from_json(json)
                .map_err(|error| AuditFailure(format!("the server's record: {error}")))?;
            check_next(&record, expected, prev_hash)?;
            if let Err(reason) = promised.take(&record) {
                return fail(format!("record {}: {reason}", record.seq));
            }
            if let Event::Redacted(redacted) = &record.event {
                let marker = Redaction {
                    by_seq: record.seq,
                    fields: redacted.fields.clone(),
                };
                to_redact.insert(redacted.target_seq, (record.seq, marker));
            }
            lines.push_str(&record.to_json_line());
            lines.push('\n');
            prev_hash = record.hash;
            expected += 1;
            appended += 1;
        }
        file.write_all(lines.as_bytes())
            .and_then(|()| file.sync_data())
            .with_context(|| format!("writing {}", path.display()))?;
        if page.next.is_none() || empty {
            break;
        }
    }
    if let Some((target, by_seq)) = promised.unkept() {
        return fail(format!(
            "record {target} is marked redacted by record {by_seq}, which the server did not send"
        ));
    }
    let redacted = redact_lines(server, path, &mut file, to_redact)?;
    Ok(BackupReport {
        appended,
        redacted,
        torn_bytes,
        head: expected.checked_sub(1).map(|seq| (seq, prev_hash)),
    })
}

/// The server still has the file's last record, with the same hash: its log neither ends
/// before it (a rollback) nor differs there (a fork). A longer fork fails the link check of
/// the next record anyway; this catches the ones that are not longer.
fn same_record_on_the_server(server: &Server, last: &Record) -> anyhow::Result<()> {
    let seq = last.seq;
    match server.get_json::<RecordJson>(&format!("/v1/events/{seq}")) {
        Ok(json) if Hash32::from_hex(&json.hash) == Some(last.hash) => Ok(()),
        Ok(_) => fail(format!(
            "FORK: the server's record {seq} has another hash than this backup's last record"
        )),
        Err(error)
            if matches!(
                error.downcast_ref::<ureq::Error>(),
                Some(ureq::Error::StatusCode(404))
            ) =>
        {
            fail(format!(
                "ROLLBACK: the server's log ends before record {seq}, this backup's last record"
            ))
        }
        Err(error) => Err(error),
    }
}

/// `record` is record `expected` of a chain whose previous record hashed to `prev_hash`, and
/// matches its own hashes.
fn check_next(record: &Record, expected: u64, prev_hash: Hash32) -> anyhow::Result<()> {
    if record.seq != expected {
        return fail(format!(
            "the server sent record {} where {expected} belongs (records are missing: is the \
             token scoped to some counties? a backup needs an auditor or admin token)",
            record.seq
        ));
    }
    if record.prev_hash != prev_hash {
        return fail(format!(
            "record {expected} does not link to the record before it: the server's log does not \
             extend this backup (a rollback or a fork)"
        ));
    }
    if let Err(reason) = record.self_check() {
        return fail(format!("record {expected}: {reason}"));
    }
    Ok(())
}

/// Cuts off what follows the last newline (a line an interrupted run did not finish); the
/// bytes cut.
fn cut_torn_tail(file: &mut File) -> std::io::Result<u64> {
    let length = file.metadata()?.len();
    let mut end = length;
    let mut buffer = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(buffer.len() as u64);
        let window = &mut buffer[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(window)?;
        if let Some(newline) = window.iter().rposition(|&byte| byte == b'\n') {
            end = start + newline as u64 + 1;
            break;
        }
        end = start;
    }
    if end < length {
        file.set_len(end)?;
        file.sync_data()?;
    }
    Ok(length - end)
}

/// The record on the file's last line (which ends with a newline), checked against its own
/// hashes; `None` for an empty file.
fn last_record(file: &mut File, path: &Path) -> anyhow::Result<Option<Record>> {
    let length = file.metadata()?.len();
    if length == 0 {
        return Ok(None);
    }
    // Grow a window back from the end until it holds the whole last line.
    let mut window = 64 * 1024u64;
    let line = loop {
        let start = length.saturating_sub(window);
        let mut bytes = vec![0u8; (length - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut bytes)?;
        let body = &bytes[..bytes.len() - 1];
        match body.iter().rposition(|&byte| byte == b'\n') {
            Some(newline) => break bytes[newline + 1..bytes.len() - 1].to_vec(),
            None if start == 0 => break body.to_vec(),
            None => window *= 4,
        }
    };
    let json: RecordJson = serde_json::from_slice(&line).map_err(|error| {
        AuditFailure(format!(
            "{}: its last line is not a record: {error}",
            path.display()
        ))
    })?;
    let record = Record::from_json(json)
        .map_err(|error| AuditFailure(format!("{}: its last line: {error}", path.display())))?;
    if let Err(reason) = record.self_check() {
        return fail(format!("{}: its last record: {reason}", path.display()));
    }
    Ok(Some(record))
}

/// Replaces the lines of `targets` with the server's redacted records; the lines replaced.
fn redact_lines(
    server: &Server,
    path: &Path,
    file: &mut File,
    targets: BTreeMap<u64, (u64, Redaction)>,
) -> anyhow::Result<u64> {
    let mut replacements = BTreeMap::new();
    for (target, (by_seq, marker)) in &targets {
        let json: RecordJson = server.get_json(&format!("/v1/events/{target}"))?;
        let record = Record::from_json(json)
            .map_err(|error| AuditFailure(format!("the server's record {target}: {error}")))?;
        if record.seq != *target || record.redaction.as_ref() != Some(marker) {
            return fail(format!(
                "record {target} should carry the redaction marker of record {by_seq}, as sent"
            ));
        }
        if let Err(reason) = record.self_check() {
            return fail(format!("record {target}: {reason}"));
        }
        replacements.insert(*target, record);
    }
    let mut pending: BTreeSet<u64> = replacements.keys().copied().collect();
    let temporary = path.with_extension("redacting");
    file.seek(SeekFrom::Start(0))?;
    let reader = std::io::BufReader::new(&*file);
    let mut out = BufWriter::new(
        File::create(&temporary).with_context(|| format!("creating {}", temporary.display()))?,
    );
    let mut rewritten = 0u64;
    for (seq, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        match replacements.get(&(seq as u64)) {
            Some(record) => {
                let redacted = record.to_json_line();
                if redacted != line {
                    let json: RecordJson = serde_json::from_str(&line).map_err(|error| {
                        AuditFailure(format!(
                            "{} line {}: not a record: {error}",
                            path.display(),
                            seq + 1
                        ))
                    })?;
                    if Hash32::from_hex(&json.hash) != Some(record.hash) {
                        return fail(format!(
                            "{} line {}: its hash is not the server's record {seq}'s",
                            path.display(),
                            seq + 1
                        ));
                    }
                    rewritten += 1;
                }
                pending.remove(&(seq as u64));
                out.write_all(redacted.as_bytes())?;
            }
            None => out.write_all(line.as_bytes())?,
        }
        out.write_all(b"\n")?;
    }
    if let Some(missing) = pending.first() {
        return fail(format!("{} has no line for record {missing}", path.display()));
    }
    if rewritten == 0 {
        drop(out);
        std::fs::remove_file(&temporary)?;
        return Ok(0);
    }
    let out = out.into_inner().map_err(|error| error.into_error())?;
    out.sync_all()?;
    std::fs::rename(&temporary, path).with_context(|| format!("replacing {}", path.display()))?;
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()?;
    Ok(rewritten)
}
