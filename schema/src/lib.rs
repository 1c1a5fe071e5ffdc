//! The engine's public contract as types: what other systems send it and what it sends
//! them. Inbound events parse into an [`event::InboundEvent`] or a
//! [`rejection::Rejection`] with a closed set of reason codes; outbound tasks, alerts and
//! digests are [`message`]s; [`topology`] holds the AMQP names.
//!
//! Architecture invariant: this crate knows the wire and nothing behind it. It depends on
//! serde, uuid and chrono only: no database, broker, runtime or business rule. A name an
//! integrator sees is defined here once.

pub mod body;
pub mod event;
pub mod message;
pub mod names;
pub mod rejection;
pub mod text;
pub mod topology;
pub mod values;

#[doc(hidden)]
pub use serde;
