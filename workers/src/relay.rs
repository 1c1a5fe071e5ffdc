//! The outbox relay: the only publisher of tasks, alerts, digests and dead letters.
//!
//! It claims pending outbox rows (any number of relays run side by side without
//! publishing a row twice at once), publishes them with publisher confirms, and marks them
//! published only after the broker confirmed every one. A crash between the confirm and
//! the commit republishes the rows: consumers dedupe on the stable AMQP `message_id`, as
//! the contract tells them to.

use chrono::Utc;
use hotline_core::outbox::OutboxKind;
use hotline_runtime::amqp;
use hotline_runtime::metrics::metrics;
use hotline_runtime::supervise::supervise;
use hotline_schema::topology::LEVEL_HEADER;
use hotline_store::outbox::{Pending, PendingBatch};
use hotline_store::{OUTBOX_NOTIFY_CHANNEL, PgPool, Wakeups};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub struct Relay {
    pub amqp_url: String,
    pub pool: PgPool,
    /// Rows claimed and published per transaction.
    pub batch_size: i64,
    /// Department codes, for declaring their task queues.
    pub departments: Vec<String>,
}

impl Relay {
    /// Runs until `shutdown` is cancelled, rebuilding the AMQP connection whenever it dies.
    pub async fn run(self, shutdown: CancellationToken) {
        let (this, stop) = (&self, &shutdown);
        supervise("relay", &shutdown, || this.relay(stop)).await;
    }

    async fn relay(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let connection = amqp::connect(&self.amqp_url, "hotline-relay").await?;
        let channel = connection.create_channel().await?;
        amqp::declare(&channel, &self.departments).await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let mut wakeups = Wakeups::listen(&self.pool, OUTBOX_NOTIFY_CHANNEL).await?;
        tracing::info!("relay publishing");

        loop {
            // Drain everything pending; a full batch means there may be more.
            while self.publish_batch(&channel).await? == self.batch_size as usize {}
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                woken = wakeups.next() => { woken?; }
                // Rows written by a process that could not notify, or left by a crash.
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
        // Publish what was committed before the shutdown signal, then stop.
        while self.publish_batch(&channel).await? == self.batch_size as usize {}
        let _ = channel.close(200, "shutting down".into()).await;
        let _ = connection.close(200, "shutting down".into()).await;
        Ok(())
    }

    /// Publishes one batch of pending rows; returns how many.
    pub async fn publish_batch(&self, channel: &Channel) -> anyhow::Result<usize> {
        let claim = PendingBatch::claim(&self.pool, self.batch_size).await?;
        if claim.rows.is_empty() {
            claim.mark_published().await?;
            return Ok(0);
        }
        let mut confirms = Vec::with_capacity(claim.rows.len());
        for row in &claim.rows {
            let mut headers = FieldTable::default();
            for (key, value) in &row.headers {
                headers.insert(
                    ShortString::from(key.as_str()),
                    AMQPValue::LongString(value.as_str().into()),
                );
            }
            let properties = BasicProperties::default()
                .with_delivery_mode(2)
                .with_content_type("application/json".into())
                .with_message_id(row.message_id.as_str().into())
                .with_timestamp(Utc::now().timestamp() as u64)
                .with_app_id("hotline".into())
                .with_headers(headers);
            let confirm = channel
                .basic_publish(
                    row.exchange.as_str().into(),
                    row.routing_key.as_str().into(),
                    BasicPublishOptions::default(),
                    &row.body,
                    properties,
                )
                .await?;
            confirms.push(confirm);
        }
        for (confirm, row) in confirms.into_iter().zip(&claim.rows) {
            let confirmation = confirm.await?;
            if !confirmation.is_ack() {
                anyhow::bail!("the broker refused outbox message {}", row.id);
            }
        }
        let confirmed_at = Utc::now();
        // The database's clock when the broker had confirmed everything: the clock alert
        // deadlines are kept on.
        let (rows, published_at) = claim.mark_published().await?;
        let confirmed_at_db = published_at.unwrap_or(confirmed_at);
        let m = metrics();
        for row in &rows {
            m.relay_published
                .with_label_values(&[row.kind.as_str()])
                .inc();
            match row.kind {
                OutboxKind::Task => {
                    if let Some(department) = &row.department {
                        m.orders_dispatched.with_label_values(&[department]).inc();
                    }
                    if let Some(origin) = row.origin_at {
                        let latency = (confirmed_at - origin).to_std().unwrap_or_default();
                        m.dispatch_latency.observe(latency.as_secs_f64());
                    }
                }
                OutboxKind::Alert => {
                    let department = row.department.as_deref().unwrap_or_default();
                    m.sla_alerts
                        .with_label_values(&[department, alert_level(row)])
                        .inc();
                    // Alert published − its deadline (`origin_at`), both on the database's clock.
                    if let Some(deadline) = row.origin_at {
                        let lag = (confirmed_at_db - deadline).to_std().unwrap_or_default();
                        m.alert_lag.observe(lag.as_secs_f64());
                    }
                }
                OutboxKind::Rejected | OutboxKind::Digest => {}
            }
        }
        Ok(rows.len())
    }
}

/// An alert's level: its `x-hotline-level` header, else the routing key's first word
/// (`<level>.<DEPT>`).
fn alert_level(row: &Pending) -> &str {
    level_of(&row.headers, &row.routing_key)
}

fn level_of<'a>(headers: &'a BTreeMap<String, String>, routing_key: &'a str) -> &'a str {
    headers
        .get(LEVEL_HEADER)
        .map(String::as_str)
        .unwrap_or_else(|| routing_key.split('.').next().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alert_level_comes_from_the_header_or_the_routing_key() {
        let mut headers = BTreeMap::new();
        assert_eq!(level_of(&headers, "warning.SCJGJ"), "warning");
        assert_eq!(level_of(&headers, "overdue"), "overdue");
        headers.insert("x-hotline-level".to_owned(), "sign_overdue".to_owned());
        assert_eq!(level_of(&headers, "whatever.SCJGJ"), "sign_overdue");
    }
}
