//! The AMQP names of the contract: exchanges, queues, routing keys and headers. Declaring
//! them on a broker is the runtime's job (`hotline_runtime::amqp`).

use crate::values::AlertLevel;

/// Every inbound event; routing key = the event's `type`.
pub const EVENTS_EXCHANGE: &str = "hotline.events";
/// Consumed by the intake role; bound to [`EVENTS_EXCHANGE`] with `#`.
pub const INTAKE_QUEUE: &str = "hotline.intake";
/// Work orders for departments; routing key = department code.
pub const TASKS_EXCHANGE: &str = "hotline.tasks";
/// SLA alerts; routing key = `<level>.<DEPT>`.
pub const ALERTS_EXCHANGE: &str = "hotline.alerts";
/// Dead letters.
pub const DEAD_LETTER_EXCHANGE: &str = "hotline.dlx";
/// Every event that could not be accepted, with header [`REASON_HEADER`].
pub const REJECTED_QUEUE: &str = "hotline.rejected";
/// Why an event was rejected: `"<code>: <detail>"`.
pub const REASON_HEADER: &str = "x-hotline-reason";
/// The reason code alone, for consumers that route on it (an addition to the contract).
pub const REASON_CODE_HEADER: &str = "x-hotline-reason-code";
/// On a dead letter whose body was too large to keep whole: the original body's size in
/// bytes (its body is then the first [`KEPT_PREFIX_BYTES`] bytes only; an addition).
pub const BODY_BYTES_HEADER: &str = "x-hotline-body-bytes";
/// … and the original body's SHA-256, in lowercase hex.
pub const BODY_SHA256_HEADER: &str = "x-hotline-body-sha256";
/// … and `"true"`, so that a consumer cannot take the prefix for the whole.
pub const BODY_TRUNCATED_HEADER: &str = "x-hotline-body-truncated";
/// How much of a body rejected as `too_large` is kept and dead-lettered.
pub const KEPT_PREFIX_BYTES: usize = 4096;
/// The level of an alert, so that consumers need not parse the routing key (an addition).
pub const LEVEL_HEADER: &str = "x-hotline-level";
/// A durable queue that keeps every alert until the supervision office's systems take
/// them (an addition to the contract: without a bound queue the broker drops alerts).
pub const SUPERVISION_QUEUE: &str = "hotline.alerts.supervision";

/// The queue a department's handlers consume.
pub fn task_queue(department: &str) -> String {
    format!("{TASKS_EXCHANGE}.{department}")
}

/// The routing key of an alert on [`ALERTS_EXCHANGE`]: `<level>.<DEPT>`.
pub fn alert_routing_key(level: AlertLevel, department: &str) -> String {
    format!("{level}.{department}")
}

/// The routing key of a department's daily digest on [`ALERTS_EXCHANGE`] (an addition).
pub fn digest_routing_key(department: &str) -> String {
    format!("digest.{department}")
}
