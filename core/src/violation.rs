//! Why an append was refused ([`Violation`]) and why a recorded event cannot be replayed
//! ([`ApplyError`]).

/// Which kind of rule an event broke: a stable snake_case word for the problem's `code`.
///
/// Every code means "the client sent something the record cannot accept"; nothing of the batch
/// was stored, and the client should correct the event named by [`Violation::index`] and
/// resend the whole batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViolationCode {
    /// A referenced id names nothing in the log, nor earlier in the batch. The client probably
    /// sent events out of order or mistyped an id.
    UnknownReference,
    /// A referenced id names an entity of another kind: a town where a community is needed, a
    /// member where a work unit is needed.
    WrongKind,
    /// A referenced entity exists but was retired, dissolved, removed, ended or retracted.
    InactiveReference,
    /// A field is malformed, out of range, missing where it is required or present where it is
    /// not allowed. [`Violation::field`] names it.
    InvalidField,
    /// The entity is not in a state that allows this event: a complaint accepted before it was
    /// dispatched, a pairing ended twice. The client should reload the entity's history.
    InvalidTransition,
    /// An event that creates an entity uses an id some entity already has. Entity ids are
    /// chosen by the client; it should pick a fresh one (or it is resending a batch under new
    /// event ids).
    DuplicateId,
    /// Any other rule of `domain.md`: a second report to the same place, a second secretary,
    /// a field redacted twice.
    RuleViolation,
}

impl ViolationCode {
    /// The stable snake_case word clients match on.
    pub fn as_str(self) -> &'static str {
        match self {
            ViolationCode::UnknownReference => "unknown_reference",
            ViolationCode::WrongKind => "wrong_kind",
            ViolationCode::InactiveReference => "inactive_reference",
            ViolationCode::InvalidField => "invalid_field",
            ViolationCode::InvalidTransition => "invalid_transition",
            ViolationCode::DuplicateId => "duplicate_id",
            ViolationCode::RuleViolation => "rule_violation",
        }
    }
}

/// An event of a batch broke a rule of `domain.md`; the batch was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {index}: {message}")]
pub struct Violation {
    pub code: ViolationCode,
    /// Position of the offending event in the batch, from 0.
    pub index: usize,
    /// The JSON field at fault (`parent_id`, `to.unit_no`, `score`), where one field is.
    pub field: Option<String>,
    /// One English sentence naming the id involved.
    pub message: String,
}

/// A recorded event cannot be applied during replay (it updates an unknown id, say). The rules
/// admitted it when it was appended, so the log is damaged or this build is wrong: the caller
/// must stop opening the store and report the seq.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record {seq} cannot be applied: {message}")]
pub struct ApplyError {
    pub seq: u64,
    pub message: String,
}
