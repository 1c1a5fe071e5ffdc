//! The outbox relay: the only publisher of tasks, alerts and dead letters.
//!
//! It claims pending outbox rows with `FOR UPDATE SKIP LOCKED` (so any number of relays
//! can run side by side without publishing a row twice at once), publishes them with
//! publisher confirms, and marks them published only after the broker confirmed every one.
//! A crash between the confirm and the commit republishes the rows: consumers dedupe on the
//! stable AMQP `message_id`, as the contract tells them to.

use chrono::{DateTime, Utc};
use hotline_schema::metrics::metrics;
use hotline_schema::supervise::supervise;
use hotline_schema::{OUTBOX_NOTIFY_CHANNEL, topology};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
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

#[derive(sqlx::FromRow)]
struct PendingRow {
    id: i64,
    exchange: String,
    routing_key: String,
    message_id: String,
    kind: String,
    headers: sqlx::types::Json<BTreeMap<String, String>>,
    body: Vec<u8>,
    origin_at: Option<DateTime<Utc>>,
    department: Option<String>,
}

impl Relay {
    /// Runs until `shutdown` is cancelled, rebuilding the AMQP connection whenever it dies.
    pub async fn run(self, shutdown: CancellationToken) {
        let (this, stop) = (&self, &shutdown);
        supervise("relay", &shutdown, || this.relay(stop)).await;
    }

    async fn relay(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let connection = Connection::connect(
            &self.amqp_url,
            ConnectionProperties::default().with_connection_name("hotline-relay".into()),
        )
        .await?;
        let channel = connection.create_channel().await?;
        topology::declare(&channel, &self.departments).await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(OUTBOX_NOTIFY_CHANNEL).await?;
        tracing::info!("relay publishing");

        loop {
            // Drain everything pending; a full batch means there may be more.
            while self.publish_batch(&channel).await? == self.batch_size as usize {}
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                notification = listener.recv() => { notification?; }
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
        let mut tx = self.pool.begin().await?;
        let rows: Vec<PendingRow> = sqlx::query_as(
            "SELECT id, exchange, routing_key, message_id, kind, headers, body, origin_at,
                    department
             FROM outbox WHERE published_at IS NULL
             ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(self.batch_size)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut confirms = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut headers = FieldTable::default();
            for (key, value) in row.headers.iter() {
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
        for (confirm, row) in confirms.into_iter().zip(&rows) {
            let confirmation = confirm.await?;
            if !confirmation.is_ack() {
                anyhow::bail!("the broker refused outbox message {}", row.id);
            }
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        // `published_at` is when the broker had confirmed everything, on the database's
        // clock (the clock alert deadlines are kept on), not when this transaction began.
        let published_at: Vec<DateTime<Utc>> = sqlx::query_scalar(
            "UPDATE outbox SET published_at = statement_timestamp() WHERE id = ANY($1)
             RETURNING published_at",
        )
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;

        let confirmed_at = Utc::now();
        let confirmed_at_db = published_at.first().copied().unwrap_or(confirmed_at);
        let m = metrics();
        for row in &rows {
            m.relay_published.with_label_values(&[&row.kind]).inc();
            match row.kind.as_str() {
                "task" => {
                    if let Some(department) = &row.department {
                        m.orders_dispatched.with_label_values(&[department]).inc();
                    }
                    if let Some(origin) = row.origin_at {
                        let latency = (confirmed_at - origin).to_std().unwrap_or_default();
                        m.dispatch_latency.observe(latency.as_secs_f64());
                    }
                }
                "alert" => {
                    let department = row.department.as_deref().unwrap_or_default();
                    let level = alert_level(&row.headers, &row.routing_key);
                    m.sla_alerts.with_label_values(&[department, level]).inc();
                    // Alert published − its deadline (`origin_at`), both on the database's clock.
                    if let Some(deadline) = row.origin_at {
                        let lag = (confirmed_at_db - deadline).to_std().unwrap_or_default();
                        m.alert_lag.observe(lag.as_secs_f64());
                    }
                }
                _ => {}
            }
        }
        Ok(rows.len())
    }
}

/// An alert's level: its `x-hotline-level` header, else the routing key's first word
/// (`<level>.<DEPT>`).
fn alert_level<'a>(headers: &'a BTreeMap<String, String>, routing_key: &'a str) -> &'a str {
    headers
        .get(crate::scheduler::LEVEL_HEADER)
        .map(String::as_str)
        .unwrap_or_else(|| routing_key.split('.').next().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alert_level_comes_from_the_header_or_the_routing_key() {
        let mut headers = BTreeMap::new();
        assert_eq!(alert_level(&headers, "warning.SCJGJ"), "warning");
        assert_eq!(alert_level(&headers, "overdue"), "overdue");
        headers.insert("x-hotline-level".to_owned(), "sign_overdue".to_owned());
        assert_eq!(alert_level(&headers, "whatever.SCJGJ"), "sign_overdue");
    }
}
