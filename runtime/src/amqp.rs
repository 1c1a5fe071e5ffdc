//! RabbitMQ: connecting, and declaring the contract's topology idempotently.
//!
//! Every role declares the whole topology when it (re)connects: declarations are
//! idempotent, and a fresh broker then needs no manual set-up.

use hotline_schema::topology::{
    ALERTS_EXCHANGE, DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE, INTAKE_QUEUE, REJECTED_QUEUE,
    SUPERVISION_QUEUE, TASKS_EXCHANGE, task_queue,
};
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};

/// A connection named `name` (as the broker's management UI shows it).
pub async fn connect(url: &str, name: &str) -> lapin::Result<Connection> {
    Connection::connect(
        url,
        ConnectionProperties::default().with_connection_name(name.into()),
    )
    .await
}

/// Connects to `amqp_url`, declares the whole topology, and disconnects.
pub async fn declare_at(amqp_url: &str, departments: &[String]) -> lapin::Result<()> {
    let connection = connect(amqp_url, "hotline-declare").await?;
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
