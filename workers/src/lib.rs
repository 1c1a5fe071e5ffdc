//! The background roles: the outbox relay (the only publisher), the SLA scheduler, and its
//! periodic jobs.
//!
//! Architecture invariant: no SQL and no business rule here: the statements are the
//! store's, the rules the core's. A worker owns its loop, its wake-ups and its metrics.

pub mod periodic;
pub mod relay;
pub mod replay;
pub mod scheduler;
