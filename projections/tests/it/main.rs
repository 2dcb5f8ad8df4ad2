//! govrec-projections' tests, one module per behaviour.

mod as_of_property;
mod coverage;
mod host;
mod ledgers;
mod random_log;
mod replay_determinism;
mod scenario;
mod scores;
mod snapshots;
mod support;
