//! Why an append was refused ([`Violation`]) and why a recorded event cannot be replayed
//! ([`ApplyError`]).

use uuid::Uuid;

use crate::entity::{EntityKind, LookupError};
use crate::event::EventType;

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
#[error("record {seq} cannot be applied: {reason}")]
pub struct ApplyError {
    pub seq: u64,
    pub reason: CannotApply,
}

/// Why a recorded event cannot apply, to the validation state ([`ApplyError`]) or to the read
/// models: it names an id that is not there (or is of another kind), creates one that is, or a
/// relation that does not exist. Every such record passed the rules when it was appended, so
/// each of these means a damaged log or a wrong build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CannotApply {
    /// The record is not the next one.
    #[error("the next record should have seq {expected}")]
    OutOfOrder { expected: u64 },
    /// A referenced id names nothing, or an entity of another kind.
    #[error(transparent)]
    Reference(#[from] LookupError),
    /// An event changes an entity that does not exist.
    #[error("{0} names no entity")]
    NoEntity(Uuid),
    /// An event changes an entity this kind of event cannot change.
    #[error("{id} names {}, which this event cannot change", kind.noun())]
    CannotChange { id: Uuid, kind: EntityKind },
    /// An event creates an entity whose id is taken.
    #[error("{0} already names an entity")]
    Exists(Uuid),
    /// The read models' shared index of a later point of the log puts this id elsewhere.
    #[error("{0} is indexed elsewhere by a later point of the log")]
    IndexedElsewhere(Uuid),
    #[error("pairing {0} has already ended")]
    PairingEnded(Uuid),
    #[error("due_on {0:?} is not a date")]
    NotADate(String),
    #[error("complaint {0} was accepted before any dispatch")]
    NeverDispatched(Uuid),
    #[error("complaint {0} is rated but was never accepted")]
    NeverAccepted(Uuid),
    #[error("member {member_id} is no officer of {org_id}")]
    NotAnOfficer { member_id: Uuid, org_id: Uuid },
    #[error("{reporter_id} has no report to {area_id}")]
    NoReport { reporter_id: Uuid, area_id: Uuid },
    #[error("a withdrawal names exactly one of member_id and work_unit_id")]
    WithdrawalParties,
    #[error("building {building_id} has no unit {unit_no}")]
    NoSuchUnit { building_id: Uuid, unit_no: u32 },
    /// The read models intern periods in a small table.
    #[error("more than {max} distinct periods")]
    TooManyPeriods { max: usize },
    /// The validation state numbers counties with 32 bits.
    #[error("no more counties can be registered")]
    TooManyCounties,
    #[error("satisfaction {0} is not 1..=5")]
    Satisfaction(u32),
    #[error("target_seq {0} names no earlier record")]
    TargetNotEarlier(u64),
    #[error("{name:?} is not a personal field of {}", event_type.name())]
    NotAPersonalField { name: String, event_type: EventType },
}
