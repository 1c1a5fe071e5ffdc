//! What every role runs on: the process settings (where the broker, the database and the
//! configuration are), the metrics registry (the one place Prometheus is named), the AMQP
//! connection and the contract's topology, and the supervisor that starts a role again
//! when it fails.
//!
//! Architecture invariant: the runtime knows no SQL and no business rule; it turns the
//! core's observations into metrics and keeps roles alive.

pub mod amqp;
pub mod attachments;
pub mod health;
pub mod metrics;
pub mod settings;
pub mod supervise;
