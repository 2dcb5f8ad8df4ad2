//! govrec-projections' tests, one module per behaviour.

mod coverage;
mod ledgers;
mod scenario;
mod scores;
mod support;
