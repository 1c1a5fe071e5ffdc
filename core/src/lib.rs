//! The domain, pure: the configuration model, the business calendar and SLA clock,
//! routing, the state machines of a work order and an appointment, and the batch decision
//! (loaded state + events → effects as values). Everything here takes values and returns
//! values; it is tested by tables and properties, without a broker or a database.
//!
//! Architecture invariant: this crate knows nothing of PostgreSQL, RabbitMQ, tokio,
//! Prometheus or HTTP (`scripts/check-architecture` fails if `cargo tree` lists sqlx,
//! lapin, tokio, prometheus or axum among its dependencies). It reads no clock: the
//! instant a decision is made at is an argument.

pub mod alert;
pub mod appointment;
pub mod attachment;
pub mod calendar;
pub mod config;
pub mod decide;
pub mod digest;
pub mod explain;
pub mod kpi;
pub mod lifecycle;
pub mod note;
pub mod observation;
pub mod order;
pub mod order_list;
pub mod outbox;
pub mod privacy;
pub mod ranking;
pub mod replay;
pub mod routing;
pub mod rules;
pub mod sla;
