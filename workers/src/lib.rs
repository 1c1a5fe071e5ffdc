//! Background workers: the outbox relay (and, as it lands, the SLA scheduler).

pub mod relay;
