//! govrec's read models: the ledgers (台账), 双评价 scores and coverage statistics county
//! offices read (`domain.md`, "Read models"), built by replaying the log and nothing else.
//!
//! - [`Models`] holds every read model as of one record of the log; [`Models::apply`] feeds
//!   it the next record and the query methods (`coverage`, `scores`, `score`, the ledgers)
//!   return plain serde structs whose field names are `api.md`'s.
//! - [`replay_all`] rebuilds them from a store (`govrec replay`).
//! - [`ModelHost`] keeps the live models for a server: catch-up, snapshots, `as_of`, and
//!   rebuilds without downtime.
//!
//! This crate never writes to the log and checks no business rule: a record that cannot apply
//! is an error naming its seq. See `docs/read-models.md`.

mod answer;
mod coverage;
mod error;
mod host;
mod ledgers;
mod model;
mod replay;
mod scores;
pub mod snapshot;

pub use answer::{AreaRef, AsOf, Page, PartyJson, ReadScope, StampJson, PAGE_ROWS_DEFAULT, PAGE_ROWS_MAX};
pub use coverage::{ChildCoverage, CoverageAnswer, FiveHaves, Stats};
pub use error::ProjectionError;
pub use govrec_core::ComplaintStatus;
pub use host::{replay_into_snapshots, AsOfPoint, HostConfig, HostOpened, ModelHost};
pub use ledgers::{
    BuildingUnitJson, CommunityRegistrations, ComplaintCounts, ComplaintRow, ComplaintsLedger,
    ComplaintsView, CompoundRegistrations, MemberCounts, MemberRow, MembersLedger, PairingBrief,
    PairingCounts, PairingRow, PairingTargetJson, PairingsLedger, RegistrationRow, RegistrationsLedger,
    ReportJson, WorkUnitRegistrations, UNPAIRED_UNITS_LISTED_MAX,
};
pub use model::{EvaluationAction, Models, Watermark};
pub use replay::{
    replay_all, ModelCounts, ReplayProgress, ReplayReport, PROGRESS_EVERY_RECORDS, REPLAY_BATCH_RECORDS,
};
pub use scores::{
    mapped_satisfaction, ComplaintRatingJson, EvaluationJson, EvaluationStepJson, Grade, ScoreDetail,
    ScoreRow, ScoresAnswer, SubjectKind,
};
