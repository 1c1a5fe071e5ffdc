//! The outbox relay: the only publisher of tasks, alerts, digests and dead letters.
//!
//! It claims pending outbox rows (any number of relays run side by side without
//! publishing a row twice at once), publishes them with publisher confirms, and marks them
//! published only after the broker confirmed every one. A crash between the confirm and
//! the commit republishes the rows: consumers dedupe on the stable AMQP `message_id`, as
//! the contract tells them to.
//!
//! No row can stop it. A row that AMQP could not carry (a property or header past the
//! protocol's limits) is set aside before it reaches the broker. When a batch fails
//! anyway, the relay reconnects and goes on one row at a time ("suspect" mode), counting
//! each row's attempt before making it: a row the broker refuses [`MAX_ATTEMPTS`] times is
//! set aside, kept with its error, and counted in `hotline_outbox_failed_total`; the rest
//! are published. After [`CLEARED_AFTER`] rows in a row go through, batches resume.

use chrono::Utc;
use hotline_core::outbox::OutboxKind;
use hotline_runtime::amqp;
use hotline_runtime::health;
use hotline_runtime::metrics::metrics;
use hotline_runtime::supervise::supervise;
use hotline_schema::topology::LEVEL_HEADER;
use hotline_store::outbox::{Pending, PendingBatch};
use hotline_store::{OUTBOX_NOTIFY_CHANNEL, PgPool, Wakeups};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often a row may fail on its own before it is set aside.
pub const MAX_ATTEMPTS: i32 = 3;
/// How many rows must go through one by one before the relay trusts batches again.
const CLEARED_AFTER: u32 = 16;
/// The most an AMQP short string (a `message_id`, a routing key, a header name) holds.
const SHORT_STRING: usize = 255;
/// What the properties and headers of one message may take: well inside RabbitMQ's
/// default `frame_max` of 131,072 bytes, past which it closes the connection.
const HEADER_BUDGET: usize = 64 * 1024;

pub struct Relay {
    pub amqp_url: String,
    pub pool: PgPool,
    /// Rows claimed and published per transaction.
    pub batch_size: i64,
    /// Department codes, for declaring their task queues.
    pub departments: Vec<String>,
    /// Rows still to go through one by one before batches resume (0: batches).
    pub suspect: AtomicU32,
}

impl Relay {
    pub fn new(amqp_url: String, pool: PgPool, departments: Vec<String>) -> Relay {
        Relay {
            amqp_url,
            pool,
            batch_size: 512,
            departments,
            suspect: AtomicU32::new(0),
        }
    }
}

/// Why a row could never be published, if it could not: checked before the broker sees it.
pub fn unpublishable(row: &Pending) -> Option<String> {
    if row.message_id.len() > SHORT_STRING {
        return Some(format!(
            "message_id of {} bytes, more than AMQP carries",
            row.message_id.len()
        ));
    }
    if row.routing_key.len() > SHORT_STRING || row.exchange.len() > SHORT_STRING {
        return Some("a routing key or exchange name longer than AMQP carries".into());
    }
    if let Some(name) = row.headers.keys().find(|k| k.len() > SHORT_STRING) {
        return Some(format!(
            "a header name of {} bytes, more than AMQP carries",
            name.len()
        ));
    }
    let header_bytes: usize = row.headers.iter().map(|(k, v)| k.len() + v.len() + 8).sum();
    if header_bytes + row.message_id.len() > HEADER_BUDGET {
        return Some(format!(
            "headers of {header_bytes} bytes, more than one AMQP frame holds"
        ));
    }
    None
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
            while self.publish_batch(&channel).await? {}
            health::progress("relay");
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                woken = wakeups.next() => { woken?; }
                // Rows written by a process that could not notify, or left by a crash.
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
        // Publish what was committed before the shutdown signal, then stop.
        while self.publish_batch(&channel).await? {}
        let _ = channel.close(200, "shutting down".into()).await;
        let _ = connection.close(200, "shutting down".into()).await;
        Ok(())
    }

    /// Publishes one batch of pending rows (one row while suspect); returns whether the
    /// claim was full, so that there may be more.
    pub async fn publish_batch(&self, channel: &Channel) -> anyhow::Result<bool> {
        let suspect = self.suspect.load(Ordering::Relaxed);
        let (limit, mut claim) = if suspect > 0 {
            (1, PendingBatch::claim_one_counted(&self.pool).await?)
        } else {
            let claim = PendingBatch::claim(&self.pool, self.batch_size).await?;
            (self.batch_size, claim)
        };
        let claimed = claim.rows.len();
        let m = metrics();
        for row in claim.rows.clone() {
            let reason = match unpublishable(&row) {
                Some(reason) => Some(format!("cannot be published: {reason}")),
                None if row.attempts >= MAX_ATTEMPTS => Some(format!(
                    "refused by the broker {} times; set aside",
                    row.attempts
                )),
                None => None,
            };
            if let Some(reason) = reason {
                tracing::error!(id = row.id, kind = %row.kind, %reason, "outbox message set aside");
                claim.set_aside(row.id, &reason).await?;
                m.outbox_failed
                    .with_label_values(&[row.kind.as_str()])
                    .inc();
            }
        }
        let full = claimed as i64 == limit;
        if claim.rows.is_empty() {
            claim.mark_published().await?;
            return Ok(full);
        }
        match self.publish_rows(channel, &claim.rows).await {
            Ok(()) => {}
            Err(err) => {
                // Which row? Reconnect and find out one at a time.
                self.suspect.store(CLEARED_AFTER, Ordering::Relaxed);
                return Err(err);
            }
        }
        if suspect > 0 {
            self.suspect.store(suspect - 1, Ordering::Relaxed);
        }
        let confirmed_at = Utc::now();
        // The database's clock when the broker had confirmed everything: the clock alert
        // deadlines are kept on.
        let (rows, published_at) = claim.mark_published().await?;
        let confirmed_at_db = published_at.unwrap_or(confirmed_at);
        self.count_published(&rows, confirmed_at, confirmed_at_db);
        Ok(full)
    }

    /// Publishes `rows` and waits until the broker confirmed every one.
    async fn publish_rows(&self, channel: &Channel, rows: &[Pending]) -> anyhow::Result<()> {
        let mut confirms = Vec::with_capacity(rows.len());
        for row in rows {
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
        for (confirm, row) in confirms.into_iter().zip(rows) {
            let confirmation = confirm.await?;
            if !confirmation.is_ack() {
                anyhow::bail!("the broker refused outbox message {}", row.id);
            }
        }
        Ok(())
    }

    fn count_published(
        &self,
        rows: &[Pending],
        confirmed_at: chrono::DateTime<Utc>,
        confirmed_at_db: chrono::DateTime<Utc>,
    ) {
        let m = metrics();
        for row in rows {
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

    fn row(message_id: &str, headers: &[(&str, &str)]) -> Pending {
        Pending {
            id: 1,
            exchange: "hotline.dlx".into(),
            routing_key: String::new(),
            message_id: message_id.into(),
            kind: OutboxKind::Rejected,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: b"{}".to_vec(),
            origin_at: None,
            department: None,
            attempts: 0,
        }
    }

    #[test]
    fn rows_amqp_cannot_carry_are_found_before_the_broker_sees_them() {
        let long_name = "h".repeat(256);
        let huge = "x".repeat(70_000);
        // (row, publishable)
        let cases = [
            (
                row("m-1", &[("x-hotline-reason", "not_json: body is not JSON")]),
                true,
            ),
            (row(&"m".repeat(255), &[]), true),
            (row(&"m".repeat(256), &[]), false),
            (row("m-2", &[(long_name.as_str(), "v")]), false),
            (row("m-3", &[("x-hotline-reason", huge.as_str())]), false),
        ];
        for (row, publishable) in cases {
            assert_eq!(
                unpublishable(&row).is_none(),
                publishable,
                "{} bytes of message_id: {:?}",
                row.message_id.len(),
                unpublishable(&row)
            );
        }
    }

    #[test]
    fn the_alert_level_comes_from_the_header_or_the_routing_key() {
        let mut headers = BTreeMap::new();
        assert_eq!(level_of(&headers, "warning.SCJGJ"), "warning");
        assert_eq!(level_of(&headers, "overdue"), "overdue");
        headers.insert("x-hotline-level".to_owned(), "sign_overdue".to_owned());
        assert_eq!(level_of(&headers, "whatever.SCJGJ"), "sign_overdue");
    }
}
