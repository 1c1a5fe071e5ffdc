//! The intake role: consumes `hotline.intake`, batches deliveries, applies each batch in
//! one transaction, then acknowledges the whole batch with one multiple-ack.
//!
//! Invariant: a delivery is acknowledged only after its effects are committed. If the
//! process dies in between, the broker redelivers, and the idempotency ledger makes the
//! second pass a no-op. A connection that dies is rebuilt by [`run`]'s supervisor loop.

use crate::apply::{DispatcherHandle, Incoming, Outcome};
use crate::appointment::HallObservation;
use crate::lifecycle::Observation;
use chrono::Utc;
use futures::StreamExt;
use hotline_schema::config::IntakeSettings;
use hotline_schema::event::{InboundEvent, sniff};
use hotline_schema::metrics::metrics;
use hotline_schema::supervise::supervise;
use hotline_schema::topology;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use sqlx::PgPool;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What the intake needs to run.
pub struct Intake {
    pub amqp_url: String,
    pub pool: PgPool,
    /// Swapped by configuration reloads; read once per batch.
    pub dispatcher: DispatcherHandle,
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
        let connection = Connection::connect(
            &self.amqp_url,
            ConnectionProperties::default().with_connection_name("hotline-intake".into()),
        )
        .await?;
        let channel = connection.create_channel().await?;
        topology::declare(&channel, &self.departments).await?;
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
        }
        // Unacknowledged prefetched deliveries return to the queue when the channel closes.
        let _ = channel.close(200, "shutting down".into()).await;
        let _ = connection.close(200, "shutting down".into()).await;
        Ok(())
    }

    /// Commits then acknowledges one batch. Returns `false` if shutdown interrupted a retry
    /// (nothing was acknowledged: the broker will redeliver).
    async fn handle(
        &self,
        batch: Vec<Delivery>,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<bool> {
        let consumed_at = Utc::now();
        let incoming: Vec<Incoming> = batch
            .iter()
            .map(|delivery| to_incoming(delivery, consumed_at, self.settings.max_body_bytes))
            .collect();
        let mut pause = Duration::from_millis(100);
        let outcomes = loop {
            match self.dispatcher.current().apply(&self.pool, &incoming).await {
                Ok(outcomes) => break outcomes,
                Err(err) if err.is_transient() => {
                    tracing::warn!(error = %err, size = incoming.len(), "batch not committed; retrying");
                }
                Err(err) => {
                    // Not a passing fault: isolate the delivery that causes it.
                    tracing::error!(error = %err, size = incoming.len(), "batch failed; applying one by one");
                    break self.apply_one_by_one(&incoming, shutdown).await?;
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(false),
                _ = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(Duration::from_secs(5));
        };
        let last = batch.last().expect("a batch has at least one delivery");
        last.acker.ack(BasicAckOptions { multiple: true }).await?;
        record_metrics(&incoming, &outcomes);
        Ok(true)
    }

    /// The fallback for a batch that fails for a reason other than a passing fault: each
    /// delivery alone, and one that still fails is dead-lettered as `unprocessable` so that
    /// it cannot block the queue.
    async fn apply_one_by_one(
        &self,
        incoming: &[Incoming],
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Vec<Outcome>> {
        let mut outcomes = Vec::with_capacity(incoming.len());
        for item in incoming {
            let single = std::slice::from_ref(item);
            let outcome = loop {
                match self.dispatcher.current().apply(&self.pool, single).await {
                    Ok(mut o) => break o.remove(0),
                    Err(err) if err.is_transient() => {
                        if shutdown.is_cancelled() {
                            anyhow::bail!("shutdown while retrying: {err}");
                        }
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Err(err) => {
                        let rejection = hotline_schema::event::Rejection::new(
                            hotline_schema::event::RejectCode::Unprocessable,
                            format!("the database refused it: {err}"),
                        );
                        let dead = Incoming {
                            idempotency_key: item.idempotency_key.clone(),
                            body: item.body.clone(),
                            consumed_at: item.consumed_at,
                            parsed: Err(rejection),
                            type_label: item.type_label,
                        };
                        let mut o = self
                            .dispatcher
                            .current()
                            .apply(&self.pool, std::slice::from_ref(&dead))
                            .await?;
                        break o.remove(0);
                    }
                }
            };
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }
}

/// Reads what the batch needs from a delivery: its idempotency key and parsed event.
pub fn to_incoming(
    delivery: &Delivery,
    consumed_at: chrono::DateTime<Utc>,
    max_body_bytes: usize,
) -> Incoming {
    incoming_from_bytes(
        delivery.data.clone(),
        delivery
            .properties
            .message_id()
            .as_ref()
            .map(|m| m.as_str()),
        consumed_at,
        max_body_bytes,
    )
}

/// The transport-neutral half of [`to_incoming`]: a body and, if the transport has one, a
/// message id (AMQP `message_id`, or the HTTP API's `Idempotency-Key` header), used as the
/// idempotency key when the body has no readable `event_id`.
pub fn incoming_from_bytes(
    body: Vec<u8>,
    message_id: Option<&str>,
    consumed_at: chrono::DateTime<Utc>,
    max_body_bytes: usize,
) -> Incoming {
    let parsed = InboundEvent::parse(&body, max_body_bytes);
    let (event_id, type_label) = match &parsed {
        Ok(event) => (Some(event.envelope.event_id), event.type_name()),
        Err(_) if body.len() <= max_body_bytes => sniff(&body),
        Err(_) => (None, "invalid"),
    };
    let idempotency_key = event_id
        .map(|id| id.to_string())
        .or_else(|| message_id.map(|m| format!("message:{m}")));
    Incoming {
        idempotency_key,
        body,
        consumed_at,
        parsed,
        type_label,
    }
}

fn record_metrics(incoming: &[Incoming], outcomes: &[Outcome]) {
    metrics().intake_batch_size.observe(incoming.len() as f64);
    record_outcomes(incoming, outcomes);
}

/// Counts what became of inbound events (received, duplicate, rejected by reason), for
/// every transport that feeds the dispatcher: the AMQP intake and the HTTP API.
pub fn record_outcomes(incoming: &[Incoming], outcomes: &[Outcome]) {
    let m = metrics();
    for (item, outcome) in incoming.iter().zip(outcomes) {
        let type_label = item.type_label;
        m.events_received.with_label_values(&[type_label]).inc();
        match outcome {
            Outcome::Applied(observations) => observations.iter().for_each(observe),
            Outcome::Duplicate => m.events_duplicate.with_label_values(&[type_label]).inc(),
            Outcome::Rejected(rejection) => {
                tracing::info!(reason = %rejection, r#type = type_label, "event rejected");
                m.events_rejected
                    .with_label_values(&[rejection.code.as_str()])
                    .inc();
            }
        }
    }
}

/// Feeds the contract's business metrics from what a committed event did.
fn observe(observation: &Observation) {
    let m = metrics();
    match observation {
        Observation::Replied {
            department,
            seconds,
        } => m
            .resolution_time
            .with_label_values(&[department])
            .observe(*seconds),
        Observation::Closed {
            department,
            on_time,
        } => m
            .orders_closed
            .with_label_values(&[department.as_str(), if *on_time { "true" } else { "false" }])
            .inc(),
        Observation::Feedback { department, rating } => m
            .feedback
            .with_label_values(&[department, rating.as_str()])
            .inc(),
        Observation::Hall(HallObservation::Waiting {
            service_point,
            seconds,
        }) => m
            .waiting_time
            .with_label_values(&[service_point])
            .observe(*seconds),
        Observation::Hall(HallObservation::Handling {
            service_point,
            seconds,
        }) => m
            .handling_time
            .with_label_values(&[service_point])
            .observe(*seconds),
    }
}
