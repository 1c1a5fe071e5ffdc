//! Background workers: the outbox relay, the SLA scheduler and its periodic jobs.

pub mod bench;
pub mod periodic;
pub mod relay;
pub mod scheduler;
