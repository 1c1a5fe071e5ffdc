//! From events to work orders: the submit path every transport shares, and the AMQP
//! intake role that feeds it.
//!
//! Architecture invariant: no SQL and no business rule here. The submit path orchestrates
//! the store (claim, load, write) around the core's decision, and owns the one retry and
//! isolation policy; the intake owns batching and acknowledgements.

pub mod intake;
pub mod rules;
pub mod submit;
