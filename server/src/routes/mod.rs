//! The HTTP routes, one module per resource.

pub mod audit;
pub mod events;
pub mod models;
pub mod ops;
pub mod redact;
pub mod subscribe;
