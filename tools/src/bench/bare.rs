//! The bare pipelines `hotline bench-intake` measures the engine against ([`super::intake`]):
//! the consume → insert → multiple-ack ceiling and the same-shape pipeline, with the AMQP
//! helpers they share with the engine's run.

use super::intake::{CEILING_QUEUE, SHAPED_IN_QUEUE, SHAPED_OUT_QUEUE};
use crate::simulate::MAX_UNCONFIRMED;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use hotline_core::config::IntakeSettings;
use hotline_runtime::amqp::ConfirmWindow;
use hotline_schema::event::InboundEvent;
use hotline_schema::topology;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection};
use sqlx::PgPool;
use std::collections::HashMap;
use std::time::Duration;

pub(super) async fn declare_durable(channel: &Channel, queue: &str) -> anyhow::Result<()> {
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

pub(super) fn persistent() -> BasicProperties {
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
}

/// Publishes every body with up to [`MAX_UNCONFIRMED`] confirms outstanding.
pub(super) async fn publish_all(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    bodies: impl Iterator<Item = Vec<u8>>,
) -> anyhow::Result<()> {
    let mut window = ConfirmWindow::new(channel, MAX_UNCONFIRMED);
    for body in bodies {
        window
            .publish(exchange, routing_key, &body, persistent())
            .await?;
    }
    window.finish().await
}

/// Publishes `events` at `rate` per second; returns the rate achieved and when each order
/// was published.
pub(super) async fn publish_paced(
    channel: &Channel,
    events: &[InboundEvent],
    rate: f64,
) -> anyhow::Result<(f64, HashMap<String, DateTime<Utc>>)> {
    let mut window = ConfirmWindow::new(channel, MAX_UNCONFIRMED);
    let mut published = HashMap::with_capacity(events.len());
    let started = tokio::time::Instant::now();
    for (i, event) in events.iter().enumerate() {
        let due = started + Duration::from_secs_f64(i as f64 / rate.max(1.0));
        tokio::time::sleep_until(due).await;
        let body = event.to_bytes();
        published.insert(event.envelope.order_no.as_str().to_owned(), Utc::now());
        window
            .publish(
                topology::EVENTS_EXCHANGE,
                event.event_type().as_str(),
                &body,
                persistent(),
            )
            .await?;
    }
    window.finish().await?;
    let offered = events.len() as f64 / started.elapsed().as_secs_f64();
    Ok((offered, published))
}

/// The next batch of deliveries: at least one, at most `batch_size`, waiting at most the
/// batch window for more (the engine's rule).
pub(super) async fn next_batch(
    consumer: &mut lapin::Consumer,
    settings: &IntakeSettings,
) -> anyhow::Result<Vec<lapin::message::Delivery>> {
    let Some(first) = consumer.next().await else {
        anyhow::bail!("consumer cancelled")
    };
    let mut batch = vec![first?];
    let window = tokio::time::Instant::now() + settings.batch_window;
    while batch.len() < settings.batch_size {
        match tokio::time::timeout_at(window, consumer.next()).await {
            Ok(Some(delivery)) => batch.push(delivery?),
            _ => break,
        }
    }
    Ok(batch)
}

pub(super) async fn consumer_on(
    connection: &Connection,
    queue: &str,
    settings: &IntakeSettings,
) -> anyhow::Result<(Channel, lapin::Consumer)> {
    let channel = connection.create_channel().await?;
    channel
        .basic_qos(settings.prefetch, BasicQosOptions::default())
        .await?;
    let consumer = channel
        .basic_consume(
            queue.into(),
            "bench".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok((channel, consumer))
}

/// (a) The bare ceiling: one INSERT and one multiple-ack per batch.
pub(super) async fn consume_and_store(
    connection: &Connection,
    pool: &PgPool,
    n: u64,
    settings: &IntakeSettings,
) -> anyhow::Result<()> {
    let (channel, mut consumer) = consumer_on(connection, CEILING_QUEUE, settings).await?;
    let mut taken = 0;
    while taken < n {
        let batch = next_batch(&mut consumer, settings).await?;
        let bodies: Vec<&[u8]> = batch.iter().map(|d| d.data.as_slice()).collect();
        sqlx::query("INSERT INTO bench_ceiling (body) SELECT * FROM UNNEST($1::bytea[])")
            .bind(&bodies)
            .execute(pool)
            .await?;
        batch
            .last()
            .expect("non-empty")
            .acker
            .ack(BasicAckOptions { multiple: true })
            .await?;
        taken += batch.len() as u64;
    }
    channel.close(200, "ceiling done".into()).await?;
    Ok(())
}

/// (b) The bare same-shape pipeline, one batch at a time: INSERT and commit, publish
/// every row with confirms, mark them sent, ack multiple.
pub(super) async fn same_shape(
    connection: &Connection,
    pool: &PgPool,
    n: u64,
    settings: &IntakeSettings,
) -> anyhow::Result<()> {
    let (channel, mut consumer) = consumer_on(connection, SHAPED_IN_QUEUE, settings).await?;
    let publisher = connection.create_channel().await?;
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let mut taken = 0;
    while taken < n {
        let batch = next_batch(&mut consumer, settings).await?;
        let bodies: Vec<&[u8]> = batch.iter().map(|d| d.data.as_slice()).collect();
        let mut tx = pool.begin().await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "INSERT INTO bench_shaped (body) SELECT * FROM UNNEST($1::bytea[]) RETURNING id",
        )
        .bind(&bodies)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut confirms = Vec::with_capacity(bodies.len());
        for body in &bodies {
            confirms.push(
                publisher
                    .basic_publish(
                        "".into(),
                        SHAPED_OUT_QUEUE.into(),
                        lapin::options::BasicPublishOptions::default(),
                        body,
                        persistent(),
                    )
                    .await?,
            );
        }
        for confirm in confirms {
            anyhow::ensure!(confirm.await?.is_ack(), "the broker refused a message");
        }
        sqlx::query("UPDATE bench_shaped SET sent_at = now() WHERE id = ANY($1)")
            .bind(&ids)
            .execute(pool)
            .await?;
        batch
            .last()
            .expect("non-empty")
            .acker
            .ack(BasicAckOptions { multiple: true })
            .await?;
        taken += batch.len() as u64;
    }
    publisher.close(200, "same shape done".into()).await?;
    channel.close(200, "same shape done".into()).await?;
    Ok(())
}
