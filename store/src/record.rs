//! A record of the log: an event with its place (seq), times, actor and hash chain, in the
//! JSON form of `api.md` / `record-format.md` and in the compact form stored on disk.

use govrec_core::personal::{erase_fields, fill_omitted_in_json, omit_fields_in_json};
use govrec_core::stored::decode_event;
use govrec_core::{event_from_json, event_to_json, Event, EventType};
use jiff::civil::Date;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::error::StoreError;
use crate::hash::{event_hash, Hash32, Header};

/// The limit on an actor's name, in bytes.
pub const ACTOR_BYTES_MAX: usize = 128;

/// Server time of a record, in microseconds since the Unix epoch (UTC). Shown in RFC 3339 with
/// exactly six fractional digits and `Z`, as `record-format.md` requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RecordedAt(i64);

impl RecordedAt {
    /// The time `micros` microseconds after the Unix epoch.
    pub const fn from_micros(micros: i64) -> RecordedAt {
        RecordedAt(micros)
    }

    /// Microseconds since the Unix epoch.
    pub const fn micros(self) -> i64 {
        self.0
    }

    /// The time a stored record holds, if it is one a record can have: in the years 0..=9999
    /// that its RFC 3339 form can write (a damaged block can hold any number).
    pub fn from_stored(micros: i64) -> Option<RecordedAt> {
        let (year, _, _) = civil_from_days(micros.div_euclid(86_400_000_000));
        (0..=9999).contains(&year).then_some(RecordedAt(micros))
    }

    pub fn now() -> RecordedAt {
        RecordedAt(Timestamp::now().as_microsecond())
    }

    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, written digit by digit: it is formatted for every record
    /// hashed, verified, exported or shown, and going through a time zone conversion and
    /// `format!` was about 7% of a full-chain verify.
    pub fn to_rfc3339(self) -> String {
        const MICROS_PER_DAY: i64 = 86_400_000_000;
        let days = self.0.div_euclid(MICROS_PER_DAY);
        let micros = self.0.rem_euclid(MICROS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        if !(0..=9999).contains(&year) {
            return self.to_rfc3339_by_jiff();
        }
        let mut text = [0u8; 27];
        put_digits(&mut text[0..4], year as u64);
        text[4] = b'-';
        put_digits(&mut text[5..7], u64::from(month));
        text[7] = b'-';
        put_digits(&mut text[8..10], u64::from(day));
        text[10] = b'T';
        put_digits(&mut text[11..13], (micros / 3_600_000_000) as u64);
        text[13] = b':';
        put_digits(&mut text[14..16], (micros / 60_000_000 % 60) as u64);
        text[16] = b':';
        put_digits(&mut text[17..19], (micros / 1_000_000 % 60) as u64);
        text[19] = b'.';
        put_digits(&mut text[20..26], (micros % 1_000_000) as u64);
        text[26] = b'Z';
        String::from_utf8(text.to_vec()).expect("digits and separators are ASCII")
    }

    /// [`RecordedAt::to_rfc3339`] through jiff, for years outside 0..=9999 (and as the
    /// reference the fast path is tested against).
    #[doc(hidden)]
    pub fn to_rfc3339_by_jiff(self) -> String {
        let timestamp = Timestamp::from_microsecond(self.0).expect("stored times are in jiff's range");
        let dt = timestamp.to_zoned(jiff::tz::TimeZone::UTC).datetime();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            dt.year(),
            dt.month(),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second(),
            dt.subsec_nanosecond() / 1000
        )
    }

    /// Parses the exact form records use: `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    pub fn parse_rfc3339(text: &str) -> Option<RecordedAt> {
        let bytes = text.as_bytes();
        if bytes.len() != 27 || bytes[19] != b'.' || bytes[26] != b'Z' {
            return None;
        }
        let timestamp: Timestamp = text.parse().ok()?;
        let parsed = RecordedAt(timestamp.as_microsecond());
        (parsed.to_rfc3339() == text).then_some(parsed)
    }
}

/// A business date (`occurred_on`), stored as the number `yyyymmdd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BusinessDate(u32);

impl BusinessDate {
    /// The years a business date may have.
    pub const BUSINESS_YEARS: std::ops::RangeInclusive<u32> = 1900..=2200;

    /// Earlier than every date: nothing is due before it (the overdue date of empty models).
    pub const BEFORE_ALL: BusinessDate = BusinessDate(0);

    /// The date as the number `yyyymmdd` (2026-03-15 is 20260315).
    pub const fn yyyymmdd(self) -> u32 {
        self.0
    }

    /// The date whose number `yyyymmdd` is `value`, if it is a real calendar date in the
    /// years [`BusinessDate::parse`] accepts.
    pub fn from_yyyymmdd(value: u32) -> Option<BusinessDate> {
        let (year, month, day) = (value / 10_000, value / 100 % 100, value % 100);
        let date = Date::new(
            i16::try_from(year).ok()?,
            i8::try_from(month).ok()?,
            i8::try_from(day).ok()?,
        )
        .ok()?;
        (1900..=2200)
            .contains(&date.year())
            .then(|| BusinessDate::from_date(date))
    }

    pub fn from_date(date: Date) -> BusinessDate {
        BusinessDate(date.year() as u32 * 10_000 + date.month() as u32 * 100 + date.day() as u32)
    }

    /// Parses `YYYY-MM-DD`, a real calendar date in years [`BUSINESS_YEARS`](Self::BUSINESS_YEARS)
    /// (`govrec_core::date`, the one date parser).
    pub fn parse(text: &str) -> Option<BusinessDate> {
        let (year, month, day) = govrec_core::date::parse_date(text, BusinessDate::BUSINESS_YEARS)?;
        Some(BusinessDate(year * 10_000 + month * 100 + day))
    }

    /// The UTC calendar date of a server time (the default `occurred_on`).
    pub fn of(recorded_at: RecordedAt) -> BusinessDate {
        let timestamp = Timestamp::from_microsecond(recorded_at.0).expect("stored times are in range");
        BusinessDate::from_date(timestamp.to_zoned(jiff::tz::TimeZone::UTC).date())
    }

    pub fn to_iso(self) -> String {
        let year = self.0 / 10_000;
        if year > 9999 {
            return format!("{year}-{:02}-{:02}", self.0 / 100 % 100, self.0 % 100);
        }
        let mut text = [0u8; 10];
        put_digits(&mut text[0..4], u64::from(year));
        text[4] = b'-';
        put_digits(&mut text[5..7], u64::from(self.0 / 100 % 100));
        text[7] = b'-';
        put_digits(&mut text[8..10], u64::from(self.0 % 100));
        String::from_utf8(text.to_vec()).expect("digits and dashes are ASCII")
    }
}

/// Writes `value` in decimal into all of `out`, zero-padded on the left (the caller makes it
/// fit).
fn put_digits(out: &mut [u8], mut value: u64) {
    for digit in out.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// The proleptic Gregorian (year, month, day) of a day count since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The marker of a record whose personal fields were erased by a later `Redacted` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redaction {
    pub by_seq: u64,
    pub fields: Vec<String>,
}

/// One record of the log, as committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub seq: u64,
    pub id: Uuid,
    pub recorded_at: RecordedAt,
    pub occurred_on: BusinessDate,
    pub actor: String,
    pub event: Event,
    pub event_hash: Hash32,
    pub prev_hash: Hash32,
    pub hash: Hash32,
    pub redaction: Option<Redaction>,
}

impl Record {
    /// Recomputes the record's `hash` from its header values.
    pub fn computed_hash(&self) -> Hash32 {
        self.computed_hash_with(&self.recorded_at.to_rfc3339(), &self.occurred_on.to_iso())
    }

    /// `computed_hash` with the two time texts already formatted (the writer formats them
    /// once per group commit rather than once per record).
    pub fn computed_hash_with(&self, recorded_at: &str, occurred_on: &str) -> Hash32 {
        Header {
            seq: self.seq,
            id: &self.id,
            recorded_at,
            occurred_on,
            actor: &self.actor,
            event_hash: &self.event_hash,
            prev_hash: &self.prev_hash,
        }
        .hash()
    }

    /// Checks the record on its own: its `event_hash` (unless redacted) and its `hash`.
    /// Chain links (seq order, `prev_hash`) are the caller's to check.
    pub fn self_check(&self) -> Result<(), &'static str> {
        if self.redaction.is_none() && event_hash(&self.event) != self.event_hash {
            return Err("event_hash does not match the event");
        }
        if self.computed_hash() != self.hash {
            return Err("hash does not match the record header");
        }
        Ok(())
    }

    /// The JSON form (`RECORD` in `api.md`), keys in the documented order.
    pub fn to_json(&self) -> RecordJson {
        let mut event = event_to_json(&self.event);
        if let Some(redaction) = &self.redaction {
            omit_fields_in_json(&mut event, &redaction.fields);
        }
        RecordJson {
            seq: self.seq,
            id: self.id,
            recorded_at: self.recorded_at.to_rfc3339(),
            occurred_on: self.occurred_on.to_iso(),
            actor: self.actor.clone(),
            event,
            event_hash: self.event_hash.to_hex(),
            prev_hash: self.prev_hash.to_hex(),
            hash: self.hash.to_hex(),
            redaction: self.redaction.clone(),
        }
    }

    /// One JSON Lines line of an export (no trailing newline): [`Record::to_json`], written.
    ///
    /// Written directly for a record without redaction: its event's JSON object is the
    /// canonical text (`event_to_json` is a map ordered by key with no nulls, written compactly,
    /// which is what `event_canonical_json` writes without building it), and the other members
    /// come in `RecordJson`'s order. The same text as [`Record::to_json_line_via_value`], which
    /// the tests check; a redacted record goes that way.
    pub fn to_json_line(&self) -> String {
        if self.redaction.is_some() {
            return self.to_json_line_via_value();
        }
        let event = govrec_core::event_canonical_json(&self.event);
        let mut out = String::with_capacity(event.len() + self.actor.len() + 400);
        out.push_str("{\"seq\":");
        out.push_str(itoa::Buffer::new().format(self.seq));
        out.push_str(",\"id\":\"");
        out.push_str(
            self.id
                .hyphenated()
                .encode_lower(&mut uuid::Uuid::encode_buffer()),
        );
        out.push_str("\",\"recorded_at\":\"");
        out.push_str(&self.recorded_at.to_rfc3339());
        out.push_str("\",\"occurred_on\":\"");
        out.push_str(&self.occurred_on.to_iso());
        out.push_str("\",\"actor\":");
        govrec_core::canonical::push_json_string(&mut out, &self.actor);
        out.push_str(",\"event\":");
        out.push_str(&event);
        for (name, hash) in [
            ("event_hash", &self.event_hash),
            ("prev_hash", &self.prev_hash),
            ("hash", &self.hash),
        ] {
            out.push_str(",\"");
            out.push_str(name);
            out.push_str("\":\"");
            crate::hash::push_hex(&mut out, hash);
            out.push('"');
        }
        out.push('}');
        out
    }

    /// [`Record::to_json_line`] through the [`RecordJson`] value: the reference the direct
    /// writer is tested against, and the way for redacted records.
    #[doc(hidden)]
    pub fn to_json_line_via_value(&self) -> String {
        serde_json::to_string(&self.to_json()).expect("a record always serialises")
    }

    /// Reads a record from its JSON form, checking the shape of every field (not the hashes).
    pub fn from_json(json: RecordJson) -> Result<Record, StoreError> {
        let bad = |what: &str| StoreError::InvalidRecord {
            seq: json.seq,
            reason: what.to_owned(),
        };
        let recorded_at = RecordedAt::parse_rfc3339(&json.recorded_at)
            .ok_or_else(|| bad("recorded_at is not RFC 3339 UTC with six fractional digits"))?;
        let occurred_on =
            BusinessDate::parse(&json.occurred_on).ok_or_else(|| bad("occurred_on is not a date"))?;
        validate_actor(&json.actor).map_err(|reason| bad(&reason))?;
        let hash = |text: &str, name: &str| {
            Hash32::from_hex(text).ok_or_else(|| bad(&format!("{name} is not 64 lowercase hex digits")))
        };
        let event_hash = hash(&json.event_hash, "event_hash")?;
        let prev_hash = hash(&json.prev_hash, "prev_hash")?;
        let record_hash = hash(&json.hash, "hash")?;
        let mut event_json = json.event;
        if let Some(redaction) = &json.redaction {
            fill_omitted_in_json(&mut event_json, &redaction.fields);
        }
        let mut event = event_from_json(event_json).map_err(|error| bad(&format!("event: {error}")))?;
        if let Some(redaction) = &json.redaction {
            check_marker(json.seq, event.event_type(), redaction).map_err(|reason| bad(&reason))?;
            erase_fields(&mut event, &redaction.fields);
        }
        Ok(Record {
            seq: json.seq,
            id: json.id,
            recorded_at,
            occurred_on,
            actor: json.actor,
            event,
            event_hash,
            prev_hash,
            hash: record_hash,
            redaction: json.redaction,
        })
    }
}

/// Checks the shape of a redaction marker on record `seq` of type `event_type`: it names a
/// later record, and one or more distinct personal fields of the type. (That the named record
/// is the matching `Redacted` event is checked when it is read: verify, restore.)
pub fn check_marker(seq: u64, event_type: EventType, redaction: &Redaction) -> Result<(), String> {
    if redaction.by_seq <= seq {
        return Err(format!(
            "redaction.by_seq {} is not a later record than {seq}",
            redaction.by_seq
        ));
    }
    if event_type == EventType::Redacted {
        return Err("a Redacted record is never redacted".to_owned());
    }
    if redaction.fields.is_empty() {
        return Err("redaction.fields is empty".to_owned());
    }
    let personal = event_type.personal_fields();
    for (index, field) in redaction.fields.iter().enumerate() {
        if !personal.iter().any(|personal| personal.name() == field) {
            return Err(format!(
                "redaction.fields names {field:?}, not a personal field of {}",
                event_type.name()
            ));
        }
        if redaction.fields[..index].contains(field) {
            return Err(format!("redaction.fields names {field:?} twice"));
        }
    }
    Ok(())
}

/// True when `event` is the `Redacted` event a marker `redaction` on record `target_seq`
/// promises: it names that seq and exactly those fields.
pub fn redaction_matches(event: &Event, target_seq: u64, redaction: &Redaction) -> bool {
    matches!(event, Event::Redacted(e) if e.target_seq == target_seq && e.fields == redaction.fields)
}

/// Checks an actor name: 1..=128 bytes, no control characters.
pub fn validate_actor(actor: &str) -> Result<(), String> {
    if actor.is_empty() || actor.len() > ACTOR_BYTES_MAX {
        return Err(format!("actor must be 1..={ACTOR_BYTES_MAX} bytes"));
    }
    if actor.chars().any(char::is_control) {
        return Err("actor must not contain control characters".to_owned());
    }
    Ok(())
}

/// The JSON form of a record (`RECORD` in `api.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordJson {
    pub seq: u64,
    pub id: Uuid,
    pub recorded_at: String,
    pub occurred_on: String,
    pub actor: String,
    pub event: Value,
    pub event_hash: String,
    pub prev_hash: String,
    pub hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redaction: Option<Redaction>,
}

/// Where a record's personal values are kept in the data directory's `personal.dat`: from
/// `offset`, the values of the event type's personal fields (in the order of
/// `EventType::personal_fields`) one after the other, `lens[i]` bytes of UTF-8 each (0 for a
/// field the event does not carry). The log itself never holds them (`docs/storage.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PersonalRef {
    pub offset: u64,
    pub lens: Vec<u32>,
}

impl PersonalRef {
    /// The bytes all values take.
    pub fn len(&self) -> u64 {
        self.lens.iter().map(|len| u64::from(*len)).sum()
    }

    /// Where the values end, if that is a position a file can have.
    pub fn end(&self) -> Option<u64> {
        self.offset.checked_add(self.len())
    }

    /// The ranges `(offset, len)` in `personal.dat` of the named fields' values.
    pub fn ranges_of(&self, event_type: EventType, fields: &[String]) -> Vec<(u64, u64)> {
        let mut ranges = Vec::new();
        let mut at = self.offset;
        for (field, len) in event_type.personal_fields().iter().zip(&self.lens) {
            if *len > 0 && fields.iter().any(|name| name == field.name()) {
                ranges.push((at, u64::from(*len)));
            }
            at += u64::from(*len);
        }
        ranges
    }
}

/// A record as stored inside a block (postcard, block format 2). The event is kept in its own
/// versioned stored form (see `govrec_core::stored`) **with its personal values emptied**;
/// the values are in `personal.dat` where `personal` points. Events can evolve
/// independently of the block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredRecord {
    pub seq: u64,
    pub id: Uuid,
    pub recorded_at: i64,
    pub occurred_on: u32,
    pub actor: String,
    #[serde(with = "serde_bytes")]
    pub event: Vec<u8>,
    pub event_hash: [u8; 32],
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
    pub redaction: Option<Redaction>,
    pub personal: Option<PersonalRef>,
}

/// Block format 1 (frozen, never edit): personal values inside the event bytes, no
/// `personal`. Still read; upcast with `personal: None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredRecordV1 {
    pub seq: u64,
    pub id: Uuid,
    pub recorded_at: i64,
    pub occurred_on: u32,
    pub actor: String,
    #[serde(with = "serde_bytes")]
    pub event: Vec<u8>,
    pub event_hash: [u8; 32],
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
    pub redaction: Option<Redaction>,
}

impl From<StoredRecordV1> for StoredRecord {
    fn from(v1: StoredRecordV1) -> StoredRecord {
        StoredRecord {
            seq: v1.seq,
            id: v1.id,
            recorded_at: v1.recorded_at,
            occurred_on: v1.occurred_on,
            actor: v1.actor,
            event: v1.event,
            event_hash: v1.event_hash,
            prev_hash: v1.prev_hash,
            hash: v1.hash,
            redaction: v1.redaction,
            personal: None,
        }
    }
}

/// [`StoredRecord`] borrowing from a [`Record`], for writing without copying strings. Same
/// fields in the same order, so postcard writes exactly the bytes `StoredRecord` reads.
#[derive(Debug, Serialize)]
pub(crate) struct StoredRecordRef<'a> {
    pub seq: u64,
    pub id: Uuid,
    pub recorded_at: i64,
    pub occurred_on: u32,
    pub actor: &'a str,
    #[serde(with = "serde_bytes")]
    pub event: &'a [u8],
    pub event_hash: [u8; 32],
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
    pub redaction: Option<&'a Redaction>,
    pub personal: Option<&'a PersonalRef>,
}

impl<'a> StoredRecordRef<'a> {
    /// The stored form of a record whose event is already encoded without its personal
    /// values (`encode_stripped`), which are at `personal`.
    pub fn new(
        record: &'a Record,
        event: &'a [u8],
        personal: Option<&'a PersonalRef>,
    ) -> StoredRecordRef<'a> {
        StoredRecordRef {
            seq: record.seq,
            id: record.id,
            recorded_at: record.recorded_at.0,
            occurred_on: record.occurred_on.0,
            actor: &record.actor,
            event,
            event_hash: record.event_hash.to_bytes(),
            prev_hash: record.prev_hash.to_bytes(),
            hash: record.hash.to_bytes(),
            redaction: record.redaction.as_ref(),
            personal,
        }
    }

    /// Roughly the bytes it takes stored.
    pub fn size_estimate(&self) -> usize {
        self.event.len() + self.actor.len() + 150 + self.personal.map_or(0, |p| 4 * p.lens.len())
    }
}

/// An event's personal values, taken out for `personal.dat`: the bytes of each field's value
/// one after the other and their lengths (see [`PersonalRef`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PersonalBlob {
    pub lens: Vec<u32>,
    pub bytes: Vec<u8>,
}

/// Encodes an event in the stored form with its personal values emptied, and returns those
/// values apart (`None` when it carries none: no cost for the many events without). The
/// event is left as it was.
pub(crate) fn encode_stripped(event: &mut Event, out: &mut Vec<u8>) -> Option<PersonalBlob> {
    if !govrec_core::personal::has_personal_values(event) {
        govrec_core::stored::encode_event_into(event, out);
        return None;
    }
    let values = govrec_core::personal::take_personal(event);
    govrec_core::stored::encode_event_into(event, out);
    let mut blob = PersonalBlob {
        lens: Vec::with_capacity(values.len()),
        bytes: Vec::new(),
    };
    for value in &values {
        let value = value.as_deref().unwrap_or("");
        blob.lens.push(value.len() as u32);
        blob.bytes.extend_from_slice(value.as_bytes());
    }
    govrec_core::personal::put_personal(event, values);
    Some(blob)
}

impl StoredRecord {
    /// The record, with its personal values put back from `personal` (the bytes of
    /// `self.personal` read from `personal.dat`), except the fields its marker erased.
    pub fn into_record(self, personal: Option<&[u8]>) -> Result<Record, StoreError> {
        let seq = self.seq;
        let corrupt = |reason: String| StoreError::Corrupt { seq, reason };
        let mut event = decode_event(&self.event).map_err(|error| corrupt(format!("event: {error}")))?;
        // What a record's JSON form must satisfy (`Record::from_json`), so that whatever
        // decodes can be shown, exported and imported again.
        let recorded_at = RecordedAt::from_stored(self.recorded_at).ok_or_else(|| {
            corrupt(format!(
                "recorded_at {} is not a time a record can have",
                self.recorded_at
            ))
        })?;
        let occurred_on = BusinessDate::from_yyyymmdd(self.occurred_on)
            .ok_or_else(|| corrupt(format!("occurred_on {} is not a date", self.occurred_on)))?;
        validate_actor(&self.actor).map_err(corrupt)?;
        if let Some(redaction) = &self.redaction {
            check_marker(seq, event.event_type(), redaction).map_err(corrupt)?;
        }
        if let Some(reference) = &self.personal {
            let bytes = personal.ok_or_else(|| corrupt("personal values missing".to_owned()))?;
            if bytes.len() as u64 != reference.len() {
                return Err(corrupt("personal values have the wrong length".to_owned()));
            }
            let fields = event.event_type().personal_fields();
            if fields.len() != reference.lens.len() {
                return Err(corrupt("personal values do not fit the event type".to_owned()));
            }
            let mut at = 0usize;
            for (field, len) in fields.iter().zip(&reference.lens) {
                let value = &bytes[at..at + *len as usize];
                at += *len as usize;
                let erased = self
                    .redaction
                    .as_ref()
                    .is_some_and(|redaction| redaction.fields.iter().any(|name| name == field.name()));
                if erased || value.is_empty() {
                    continue;
                }
                let slot = event
                    .personal_value_mut(*field)
                    .ok_or_else(|| corrupt(format!("personal value for absent field {field}")))?;
                *slot = String::from_utf8(value.to_vec())
                    .map_err(|_| corrupt(format!("personal value of {field} is not UTF-8")))?;
            }
        }
        Ok(Record {
            seq: self.seq,
            id: self.id,
            recorded_at,
            occurred_on,
            actor: self.actor,
            event,
            event_hash: Hash32::from_bytes(self.event_hash),
            prev_hash: Hash32::from_bytes(self.prev_hash),
            hash: Hash32::from_bytes(self.hash),
            redaction: self.redaction,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `BusinessDate::parse` did before it used `govrec_core::date`: jiff's parser.
    fn parse_by_jiff(text: &str) -> Option<BusinessDate> {
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return None;
        }
        let date: Date = text.parse().ok()?;
        (1900..=2200)
            .contains(&date.year())
            .then(|| BusinessDate::from_date(date))
    }

    proptest::proptest! {
        /// The core parser accepts and refuses exactly what jiff did, on date-shaped text.
        #[test]
        fn business_dates_parse_as_jiff_did(year in 1850u32..2250, month in 0u32..14, day in 0u32..33) {
            let text = format!("{year:04}-{month:02}-{day:02}");
            proptest::prop_assert_eq!(BusinessDate::parse(&text), parse_by_jiff(&text), "{}", text);
            if let Some(date) = BusinessDate::parse(&text) {
                proptest::prop_assert_eq!(BusinessDate::from_yyyymmdd(date.yyyymmdd()), Some(date));
            }
        }

        /// And on any short text.
        #[test]
        fn any_text_parses_as_jiff_did(text in "[0-9+ -]{8,11}") {
            proptest::prop_assert_eq!(BusinessDate::parse(&text), parse_by_jiff(&text));
        }
    }
}
