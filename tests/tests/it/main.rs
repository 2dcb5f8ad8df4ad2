//! govrec's integration tests: one binary, one module per behaviour.

mod support;

mod appends;
mod chain_verification;
mod crash_recovery;
mod durable_mark;
mod export_import;
mod faults;
mod merkle;
mod open_state;
mod power_loss;
mod record_format;
mod redaction;
mod reference_model;
