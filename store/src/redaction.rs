//! Redaction in the store: a `Redacted` event's target is rewritten without the erased
//! personal values in the same commit, and a restore checks that every redaction a record
//! promises (its marker) is kept by the `Redacted` record that follows.

use std::collections::BTreeMap;

use govrec_core::Event;

use crate::error::StoreError;
use crate::record::{redaction_matches, PersonalBlob, Record, Redaction, StoredRecord};
use crate::shared::Shared;
use crate::staged::Staged;

/// A block written before the group, holding the target of a redaction in it.
pub(crate) struct Target {
    pub(crate) first: u64,
    pub(crate) records: Vec<StoredRecord>,
}

/// `blob` without the values of `fields` (their lengths become 0).
pub(crate) fn blob_without(
    blob: &PersonalBlob,
    event_type: govrec_core::EventType,
    fields: &[String],
) -> Option<PersonalBlob> {
    let mut kept = PersonalBlob {
        lens: Vec::with_capacity(blob.lens.len()),
        bytes: Vec::new(),
    };
    let mut at = 0usize;
    for (field, len) in event_type.personal_fields().iter().zip(&blob.lens) {
        let value = &blob.bytes[at..at + *len as usize];
        at += *len as usize;
        if fields.iter().any(|name| name == field.name()) {
            kept.lens.push(0);
        } else {
            kept.lens.push(*len);
            kept.bytes.extend_from_slice(value);
        }
    }
    (!kept.bytes.is_empty()).then_some(kept)
}

/// Checks a restored record against the redactions promised so far and records its own:
/// a record with a marker promises that record K (later) is the `Redacted` event naming it
/// and those fields. Returns true for a `Redacted` record no marker promised (to be applied
/// to its target, as an append would).
pub(crate) fn check_promises(
    promises: &mut BTreeMap<u64, (u64, Vec<String>)>,
    record: &Record,
) -> Result<bool, StoreError> {
    let invalid = |reason: String| StoreError::InvalidRecord {
        seq: record.seq,
        reason,
    };
    let mut unpromised = false;
    match (promises.remove(&record.seq), &record.event) {
        (Some((target, fields)), event) => {
            let marker = Redaction {
                by_seq: record.seq,
                fields,
            };
            if !redaction_matches(event, target, &marker) {
                return Err(invalid(format!(
                    "record {target} is marked redacted by record {} with fields {:?}, but this \
                     record is not that Redacted event",
                    record.seq, marker.fields
                )));
            }
        }
        (None, Event::Redacted(_)) => unpromised = true,
        (None, _) => {}
    }
    if let Some(redaction) = &record.redaction {
        crate::record::check_marker(record.seq, record.event.event_type(), redaction).map_err(invalid)?;
        if promises.contains_key(&redaction.by_seq) {
            return Err(invalid(format!(
                "record {} is promised as the redaction of two records",
                redaction.by_seq
            )));
        }
        promises.insert(redaction.by_seq, (record.seq, redaction.fields.clone()));
    }
    Ok(unpromised)
}

/// The stored blocks (and decoded events) of the records written before this group that
/// the request's `Redacted` events name, read before the request changes anything, so
/// staging the redaction cannot fail half-way. Targets that do not exist are left to the
/// rules.
pub(crate) fn load_targets(
    shared: &Shared,
    next_seq: u64,
    events: &[Event],
    staged: &Staged,
) -> Result<Vec<Target>, StoreError> {
    let group_start = staged.records.first().map_or(next_seq, |record| record.seq);
    let mut targets = Vec::new();
    for event in events {
        let Event::Redacted(redacted) = event else {
            continue;
        };
        let seq = redacted.target_seq;
        if seq >= group_start {
            continue;
        }
        let rewritten = staged
            .rewritten
            .range(..=seq)
            .next_back()
            .is_some_and(|(first, records)| seq < first + records.len() as u64);
        if rewritten {
            continue;
        }
        shared.wait_applied(seq + 1)?;
        let (first, records) = shared.log.stored_block_containing(seq)?;
        govrec_core::stored::decode_event(&records[(seq - first) as usize].event).map_err(|error| {
            StoreError::Corrupt {
                seq,
                reason: format!("event: {error}"),
            }
        })?;
        targets.push(Target { first, records });
    }
    Ok(targets)
}

/// Applies an accepted `Redacted` record (seq `by_seq`) to its target: the target gets its
/// marker and loses the named personal values. A target in this group simply never has
/// them written; a target written before has its block rewritten in this group's batch and
/// its values in `personal.dat` erased once the group is durable.
pub(crate) fn stage_redaction(
    by_seq: u64,
    redacted: govrec_core::event::Redacted,
    targets: &mut Vec<Target>,
    staged: &mut Staged,
) {
    let seq = redacted.target_seq;
    let marker = Redaction {
        by_seq,
        fields: redacted.fields,
    };
    let group_start = staged.records[0].seq;
    if seq >= group_start {
        let index = (seq - group_start) as usize;
        let record = &mut staged.records[index];
        govrec_core::personal::erase_fields(&mut record.event, &marker.fields);
        if let Some(blob) = staged.personal[index].take() {
            staged.personal[index] = blob_without(&blob, record.event.event_type(), &marker.fields);
        }
        record.redaction = Some(marker);
        return;
    }
    if let Some(position) = targets
        .iter()
        .position(|target| seq >= target.first && seq < target.first + target.records.len() as u64)
    {
        let target = targets.swap_remove(position);
        staged.rewritten.entry(target.first).or_insert(target.records);
    }
    let Some((&first, records)) = staged.rewritten.range_mut(..=seq).next_back() else {
        return;
    };
    let index = (seq - first) as usize;
    let Some(stored) = records.get_mut(index) else {
        return;
    };
    let Ok(mut event) = govrec_core::stored::decode_event(&stored.event) else {
        return;
    };
    if let Some(reference) = &stored.personal {
        staged
            .erase
            .extend(reference.ranges_of(event.event_type(), &marker.fields));
    }
    // A version-1 block kept personal values in the event bytes: empty them there too.
    govrec_core::personal::erase_fields(&mut event, &marker.fields);
    stored.event = govrec_core::stored::encode_event(&event);
    stored.redaction = Some(marker);
}

/// The redaction marker record `seq` carries: in `request` (being restored), staged in
/// this group, or written before.
pub(crate) fn marker_of(
    shared: &Shared,
    next_seq: u64,
    seq: u64,
    request: &[Record],
    staged: &Staged,
) -> Result<Option<Redaction>, StoreError> {
    let in_list = |records: &[Record]| {
        let first = records.first()?.seq;
        let index = usize::try_from(seq.checked_sub(first)?).ok()?;
        records.get(index).map(|record| record.redaction.clone())
    };
    if let Some(marker) = in_list(request).or_else(|| in_list(&staged.records)) {
        return Ok(marker);
    }
    if let Some((first, records)) = staged.rewritten.range(..=seq).next_back() {
        if let Some(record) = records.get((seq - first) as usize) {
            return Ok(record.redaction.clone());
        }
    }
    if seq >= next_seq {
        return Ok(None);
    }
    shared.wait_applied(seq + 1)?;
    let (first, records) = shared.log.stored_block_containing(seq)?;
    Ok(records[(seq - first) as usize].redaction.clone())
}
