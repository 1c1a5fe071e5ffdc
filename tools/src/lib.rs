//! The engine's tools: `hotline simulate` (seeded, realistic traffic over AMQP) and the
//! `hotline bench-*` commands, which measure the engine against bare baselines on scratch
//! databases and virtual hosts of their own.

pub mod bench;
pub mod simulate;
