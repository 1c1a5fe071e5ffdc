//! The intake role: consumes `hotline.intake`, batches deliveries, hands each batch to the
//! submit path, then acknowledges the whole batch with one multiple-ack.
//!
//! Invariant: a delivery is acknowledged only after its effects are committed. If the
//! process dies in between, the broker redelivers, and the idempotency ledger makes the
//! second pass a no-op. A connection that dies is rebuilt by [`Intake::run`]'s supervisor.

use crate::submit::{Patience, SubmitError, Submitter};
use chrono::Utc;
use futures::StreamExt;
use hotline_core::config::IntakeSettings;
use hotline_core::decide::Incoming;
use hotline_runtime::amqp;
use hotline_runtime::health;
use hotline_runtime::metrics::metrics;
use hotline_runtime::supervise::supervise;
use hotline_schema::topology;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What the intake needs to run.
pub struct Intake {
    pub amqp_url: String,
    pub submitter: Submitter,
    pub settings: IntakeSettings,
    /// Department codes, for declaring their task queues.
    pub departments: Vec<String>,
}

impl Intake {
    /// Runs until `shutdown` is cancelled, rebuilding the AMQP connection whenever it dies.
    pub async fn run(self, shutdown: CancellationToken) {
        let (this, stop) = (&self, &shutdown);
        supervise("intake", &shutdown, || this.consume(stop)).await;
    }

    async fn consume(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let connection = amqp::connect(&self.amqp_url, "hotline-intake").await?;
        let channel = connection.create_channel().await?;
        amqp::declare(&channel, &self.departments).await?;
        channel
            .basic_qos(self.settings.prefetch, BasicQosOptions::default())
            .await?;
        let mut consumer = channel
            .basic_consume(
                topology::INTAKE_QUEUE.into(),
                "hotline-intake".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        tracing::info!(
            prefetch = self.settings.prefetch,
            batch = self.settings.batch_size,
            "intake consuming"
        );

        loop {
            let first = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                next = consumer.next() => next,
            };
            let Some(first) = first else {
                anyhow::bail!("the broker cancelled the intake consumer");
            };
            let in_hand = health::Holding::new("intake");
            let mut batch = vec![first?];
            let window_ends = Instant::now() + self.settings.batch_window;
            while batch.len() < self.settings.batch_size {
                match tokio::time::timeout_at(window_ends, consumer.next()).await {
                    Ok(Some(delivery)) => batch.push(delivery?),
                    Ok(None) | Err(_) => break,
                }
            }
            if !self.handle(batch, shutdown).await? {
                break;
            }
            drop(in_hand);
            health::progress("intake");
        }
        // Unacknowledged prefetched deliveries return to the queue when the channel closes.
        let _ = channel.close(200, "shutting down".into()).await;
        let _ = connection.close(200, "shutting down".into()).await;
        Ok(())
    }

    /// Commits then acknowledges one batch. Returns `false` if shutdown came first
    /// (nothing was acknowledged: the broker will redeliver).
    async fn handle(
        &self,
        batch: Vec<Delivery>,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<bool> {
        let consumed_at = Utc::now();
        let incoming: Vec<Incoming> = batch
            .iter()
            .map(|delivery| {
                let message_id = delivery
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|m| m.as_str());
                Incoming::from_bytes(
                    delivery.data.clone(),
                    message_id,
                    consumed_at,
                    self.settings.max_body_bytes,
                )
            })
            .collect();
        let outcomes = match self
            .submitter
            .submit(&incoming, Patience::UntilShutdown(shutdown))
            .await
        {
            Ok(outcomes) => outcomes,
            Err(SubmitError::NotCommitted(err)) if shutdown.is_cancelled() => {
                tracing::info!(error = %err, size = incoming.len(), "shutting down with a batch not committed; the broker keeps it");
                return Ok(false);
            }
            Err(err) => return Err(err.into()),
        };
        let last = batch.last().expect("a batch has at least one delivery");
        last.acker.ack(BasicAckOptions { multiple: true }).await?;
        let m = metrics();
        m.intake_batch_size.observe(incoming.len() as f64);
        m.record_outcomes(&incoming, &outcomes);
        Ok(true)
    }
}
