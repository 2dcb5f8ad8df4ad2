//! Export of the log as JSON Lines (one `RECORD` a line, in seq order), and import of either
//! kind of line: exported records restored exactly, or bare events appended as new records
//! through the same validation as any append.

use std::io::{BufRead, Write};

use serde_json::Value;

use crate::error::{BadRequestCode, StoreError};
use crate::head::Head;
use crate::log::Log;
use crate::record::{BusinessDate, Record, RecordJson};
use crate::store::{NewEvent, Store};

/// Lines handed to the writer in one commit during an import.
pub const IMPORT_CHUNK_LINES: usize = 1000;
/// The longest line an import accepts.
pub const IMPORT_LINE_BYTES_MAX: usize = 1024 * 1024;

/// Writes the records `0..end` (the whole log when `end` is `None`), one JSON object a
/// line. Returns the number of records. A running store passes its durable head as `end`.
pub fn export_jsonl(log: &Log, end: Option<u64>, out: &mut impl Write) -> Result<u64, StoreError> {
    let count = log.for_each_record(end, |record| {
        out.write_all(record.to_json_line().as_bytes())?;
        out.write_all(b"\n")?;
        Ok(())
    })?;
    out.flush()?;
    Ok(count)
}

/// What kind of lines an import file holds (decided by its first line; kinds are not mixed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    /// Exported `RECORD`s, restored exactly.
    Records,
    /// Bare events (catalogue JSON, with optional `id` and `occurred_on`), appended anew.
    Events,
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportReport {
    pub kind: Option<ImportKind>,
    pub lines: u64,
    pub head: Head,
}

/// An import stopped at a line. Lines before `stored_before_line` were committed (in chunks
/// of [`IMPORT_CHUNK_LINES`]); the failing chunk and everything after it were not.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {error}")]
pub struct ImportError {
    pub line: u64,
    pub stored_lines: u64,
    #[source]
    pub error: StoreError,
}

/// Imports a JSON Lines file. `actor` is recorded for bare events (exported records keep
/// their own). Blank lines are skipped.
pub fn import_jsonl(store: &Store, input: impl BufRead, actor: &str) -> Result<ImportReport, ImportError> {
    let mut importer = Importer {
        store,
        actor,
        kind: None,
        chunk: Vec::with_capacity(IMPORT_CHUNK_LINES),
        lines: 0,
        stored_lines: 0,
        last_line: 0,
    };
    for (index, line) in input.lines().enumerate() {
        let line_no = index as u64 + 1;
        let text = line.map_err(|error| importer.fail(line_no, StoreError::Io(error)))?;
        if text.trim().is_empty() {
            continue;
        }
        importer.last_line = line_no;
        importer.push(line_no, &text)?;
    }
    importer.flush()?;
    if importer.kind == Some(ImportKind::Records) {
        // A marker promises its Redacted record K; a file that ends before K is incomplete
        // (or forged), and says so rather than leave a log that verify rejects silently.
        if let Some((seq, by_seq)) = store.unresolved_redactions().first().copied() {
            return Err(ImportError {
                line: importer.last_line,
                stored_lines: importer.stored_lines,
                error: StoreError::InvalidRecord {
                    seq,
                    reason: format!(
                        "the record is marked redacted by record {by_seq}, which the file does not hold"
                    ),
                },
            });
        }
    }
    Ok(ImportReport {
        kind: importer.kind,
        lines: importer.lines,
        head: store.head(),
    })
}

/// One line of an import file, parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportLine {
    /// An exported record (its shape checked; its hashes are checked when it is restored).
    Record(Record),
    /// A bare event, to append anew.
    Event(NewEvent),
}

impl ImportLine {
    pub fn kind(&self) -> ImportKind {
        match self {
            ImportLine::Record(_) => ImportKind::Records,
            ImportLine::Event(_) => ImportKind::Events,
        }
    }
}

/// Parses one line of an import file: a record when it has `hash` and `seq`, else a bare
/// event. Nothing is stored; the line's place in the file is the caller's.
pub fn parse_import_line(text: &str) -> Result<ImportLine, StoreError> {
    if text.len() > IMPORT_LINE_BYTES_MAX {
        return Err(invalid_line(format!("longer than {IMPORT_LINE_BYTES_MAX} bytes")));
    }
    let value: Value = govrec_core::json::value_from_slice(text.as_bytes())
        .map_err(|error| invalid_line(format!("not JSON: {error}")))?;
    if value.get("hash").is_some() && value.get("seq").is_some() {
        let json: RecordJson =
            serde_json::from_value(value).map_err(|error| invalid_line(format!("not a record: {error}")))?;
        Ok(ImportLine::Record(Record::from_json(json)?))
    } else {
        Ok(ImportLine::Event(new_event_from_json(value)?))
    }
}

struct Importer<'a> {
    store: &'a Store,
    actor: &'a str,
    kind: Option<ImportKind>,
    chunk: Vec<(u64, ImportLine)>,
    lines: u64,
    stored_lines: u64,
    /// The number of the last line read.
    last_line: u64,
}

impl Importer<'_> {
    fn fail(&self, line: u64, error: StoreError) -> ImportError {
        ImportError {
            line,
            stored_lines: self.stored_lines,
            error,
        }
    }

    fn push(&mut self, line_no: u64, text: &str) -> Result<(), ImportError> {
        let line = parse_import_line(text).map_err(|error| self.fail(line_no, error))?;
        let kind = line.kind();
        match self.kind {
            None => self.kind = Some(kind),
            Some(expected) if expected != kind => {
                return Err(self.fail(
                    line_no,
                    invalid_line("a file holds either exported records or bare events, not both".to_owned()),
                ));
            }
            Some(_) => {}
        }
        self.chunk.push((line_no, line));
        self.lines += 1;
        if self.chunk.len() >= IMPORT_CHUNK_LINES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ImportError> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::take(&mut self.chunk);
        let line_numbers: Vec<u64> = chunk.iter().map(|(line, _)| *line).collect();
        let first_line = line_numbers[0];
        let result = match self.kind {
            Some(ImportKind::Records) => {
                let records: Vec<Record> = chunk
                    .into_iter()
                    .filter_map(|(_, line)| match line {
                        ImportLine::Record(record) => Some(record),
                        ImportLine::Event(_) => None,
                    })
                    .collect();
                let seqs: Vec<u64> = records.iter().map(|record| record.seq).collect();
                self.store.restore(records).map(|_| ()).map_err(|error| {
                    let line = match &error {
                        StoreError::InvalidRecord { seq, .. } | StoreError::Corrupt { seq, .. } => seqs
                            .iter()
                            .position(|candidate| candidate == seq)
                            .map_or(first_line, |position| line_numbers[position]),
                        _ => first_line,
                    };
                    (line, error)
                })
            }
            _ => {
                let events = chunk
                    .into_iter()
                    .filter_map(|(_, line)| match line {
                        ImportLine::Event(event) => Some(event),
                        ImportLine::Record(_) => None,
                    })
                    .collect();
                self.store
                    .append(self.actor, events)
                    .map(|_| ())
                    .map_err(|error| {
                        let index = match &error {
                            StoreError::Rejected(violation) => Some(violation.index),
                            StoreError::BadRequest { index, .. } => *index,
                            StoreError::IdempotencyConflict { index, .. } => Some(*index),
                            _ => None,
                        };
                        let line = index
                            .and_then(|index| line_numbers.get(index).copied())
                            .unwrap_or(first_line);
                        (line, error)
                    })
            }
        };
        match result {
            Ok(()) => {
                self.stored_lines += line_numbers.len() as u64;
                Ok(())
            }
            Err((line, error)) => Err(self.fail(line, error)),
        }
    }
}

fn invalid_line(reason: String) -> StoreError {
    StoreError::bad_request(BadRequestCode::InvalidLine, None, None, reason)
}

/// Writes an event as clients send it, the inverse of [`new_event_from_json`]: the catalogue
/// event in JSON form, with `id` and `occurred_on` when set.
pub fn new_event_to_json(new: &NewEvent) -> Value {
    let mut json = govrec_core::json::event_to_json(&new.event);
    if let Some(object) = json.as_object_mut() {
        if let Some(id) = new.id {
            object.insert("id".to_owned(), id.to_string().into());
        }
        if let Some(date) = new.occurred_on {
            object.insert("occurred_on".to_owned(), date.to_iso().into());
        }
    }
    json
}

/// Reads an event as clients send it: a catalogue event in JSON form plus optional `id`
/// (UUID, the idempotency key) and `occurred_on` (`YYYY-MM-DD`).
pub fn new_event_from_json(mut value: Value) -> Result<NewEvent, StoreError> {
    let Some(object) = value.as_object_mut() else {
        return Err(StoreError::bad_request(
            BadRequestCode::MalformedEvent,
            None,
            None,
            "an event must be a JSON object",
        ));
    };
    let id = match object.remove("id") {
        None => None,
        Some(Value::String(text)) => Some(uuid::Uuid::parse_str(&text).map_err(|_| {
            StoreError::bad_request(
                BadRequestCode::InvalidField,
                None,
                Some("id"),
                "id must be a UUID string",
            )
        })?),
        Some(_) => {
            return Err(StoreError::bad_request(
                BadRequestCode::InvalidField,
                None,
                Some("id"),
                "id must be a UUID string",
            ))
        }
    };
    let occurred_on = match object.remove("occurred_on") {
        None => None,
        Some(Value::String(text)) => Some(BusinessDate::parse(&text).ok_or_else(|| {
            StoreError::bad_request(
                BadRequestCode::InvalidField,
                None,
                Some("occurred_on"),
                "occurred_on must be a date YYYY-MM-DD",
            )
        })?),
        Some(_) => {
            return Err(StoreError::bad_request(
                BadRequestCode::InvalidField,
                None,
                Some("occurred_on"),
                "occurred_on must be a date YYYY-MM-DD",
            ))
        }
    };
    let event = govrec_core::event_from_json(value).map_err(|error| StoreError::BadRequest {
        code: BadRequestCode::of_json_error(&error),
        index: None,
        field: error.field().map(str::to_owned),
        message: error.to_string(),
    })?;
    Ok(NewEvent {
        id,
        occurred_on,
        event,
    })
}
