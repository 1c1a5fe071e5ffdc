//! The AMQP topology of the contract, and its idempotent declaration.
//!
//! Every role declares the whole topology when it (re)connects: declarations are
//! idempotent, and a fresh broker then needs no manual set-up.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Channel, ExchangeKind};

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
/// A durable queue that keeps every alert until the supervision office's systems take
/// them (an addition to the contract: without a bound queue the broker drops alerts).
pub const SUPERVISION_QUEUE: &str = "hotline.alerts.supervision";

/// The queue a department's handlers consume.
pub fn task_queue(department: &str) -> String {
    format!("{TASKS_EXCHANGE}.{department}")
}

/// Connects to `amqp_url`, declares the whole topology, and disconnects.
pub async fn declare_at(amqp_url: &str, departments: &[String]) -> lapin::Result<()> {
    let connection =
        lapin::Connection::connect(amqp_url, lapin::ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    declare(&channel, departments).await?;
    connection.close(200, "declared".into()).await
}

/// Declares every exchange and queue of the contract, plus one task queue per department.
pub async fn declare(channel: &Channel, departments: &[String]) -> lapin::Result<()> {
    let durable_exchange = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    let durable_queue = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    for (name, kind) in [
        (EVENTS_EXCHANGE, ExchangeKind::Topic),
        (TASKS_EXCHANGE, ExchangeKind::Direct),
        (ALERTS_EXCHANGE, ExchangeKind::Topic),
        (DEAD_LETTER_EXCHANGE, ExchangeKind::Fanout),
    ] {
        channel
            .exchange_declare(name.into(), kind, durable_exchange, FieldTable::default())
            .await?;
    }
    let mut queues: Vec<(String, &str, String)> = vec![
        (INTAKE_QUEUE.into(), EVENTS_EXCHANGE, "#".into()),
        (REJECTED_QUEUE.into(), DEAD_LETTER_EXCHANGE, String::new()),
        (SUPERVISION_QUEUE.into(), ALERTS_EXCHANGE, "#".into()),
    ];
    for department in departments {
        queues.push((task_queue(department), TASKS_EXCHANGE, department.clone()));
    }
    for (queue, exchange, key) in queues {
        channel
            .queue_declare(queue.as_str().into(), durable_queue, FieldTable::default())
            .await?;
        channel
            .queue_bind(
                queue.as_str().into(),
                exchange.into(),
                key.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}
