//! The dispatcher: turns inbound events into work orders placed with exactly one
//! department. `routing` decides (pure), `apply` writes a batch in one transaction,
//! `intake` feeds it from RabbitMQ.

pub mod apply;
pub mod appointment;
pub mod intake;
pub mod lifecycle;
pub mod order;
pub mod routing;
