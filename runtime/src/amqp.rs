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

/// How many messages wait in `queue` (a passive declare: the queue is not created).
pub async fn queue_depth(connection: &Connection, queue: &str) -> lapin::Result<u32> {
    let channel = connection.create_channel().await?;
    let declared = channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    let _ = channel.close(200, "done".into()).await;
    Ok(declared.message_count())
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

/// Publishes with publisher confirms, keeping at most `window` messages unconfirmed: the
/// broker's throughput without waiting on each confirm (`../shared/services.md`: 8–11k/s
/// with 1024 in flight, against about 1k/s confirming one at a time).
pub struct ConfirmWindow<'c> {
    channel: &'c Channel,
    window: usize,
    in_flight: std::collections::VecDeque<lapin::PublisherConfirm>,
}

impl<'c> ConfirmWindow<'c> {
    /// `channel` must be in confirm mode (`confirm_select`).
    pub fn new(channel: &'c Channel, window: usize) -> ConfirmWindow<'c> {
        ConfirmWindow {
            channel,
            window: window.max(1),
            in_flight: std::collections::VecDeque::with_capacity(window),
        }
    }

    /// Publishes one message, first waiting for the oldest confirm if the window is full.
    pub async fn publish(
        &mut self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: lapin::BasicProperties,
    ) -> anyhow::Result<()> {
        if self.in_flight.len() >= self.window {
            let oldest = self.in_flight.pop_front().expect("a full window");
            acked(oldest.await?)?;
        }
        let confirm = self
            .channel
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                lapin::options::BasicPublishOptions::default(),
                body,
                properties,
            )
            .await?;
        self.in_flight.push_back(confirm);
        Ok(())
    }

    /// Waits for every outstanding confirm.
    pub async fn finish(self) -> anyhow::Result<()> {
        for confirm in self.in_flight {
            acked(confirm.await?)?;
        }
        Ok(())
    }
}

fn acked(confirmation: lapin::Confirmation) -> anyhow::Result<()> {
    anyhow::ensure!(confirmation.is_ack(), "the broker refused a message");
    Ok(())
}
