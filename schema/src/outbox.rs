//! The transactional outbox: the one way anything leaves the engine. A writer adds
//! messages in the same transaction as the change that causes them; the relay publishes
//! them after the commit (see `workers/src/relay.rs`).

use crate::OUTBOX_NOTIFY_CHANNEL;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// One message to publish.
#[derive(Debug, Clone)]
pub struct OutboxMessage {
    pub exchange: String,
    pub routing_key: String,
    /// The AMQP `message_id`: stable across republishing, consumers dedupe on it.
    pub message_id: String,
    /// `task`, `alert`, `rejected` or `digest`: what the relay counts it as.
    pub kind: &'static str,
    /// Extra AMQP headers (string values).
    pub headers: BTreeMap<&'static str, String>,
    pub body: Vec<u8>,
    /// The instant latency is measured from: the consumption of the event that caused a
    /// task, or the deadline of an alert.
    pub origin_at: Option<DateTime<Utc>>,
    /// The department the message concerns, for per-department counters.
    pub department: Option<String>,
}

/// Adds `messages` to the outbox within the caller's transaction, and wakes the relays
/// (PostgreSQL delivers the notification at commit, once per transaction).
pub async fn enqueue(
    tx: &mut sqlx::PgConnection,
    messages: &[OutboxMessage],
) -> Result<(), sqlx::Error> {
    if messages.is_empty() {
        return Ok(());
    }
    let column = |f: fn(&OutboxMessage) -> String| messages.iter().map(f).collect::<Vec<_>>();
    let headers = column(|m| serde_json::to_string(&m.headers).expect("string headers"));
    let bodies: Vec<&[u8]> = messages.iter().map(|m| m.body.as_slice()).collect();
    let origins: Vec<Option<DateTime<Utc>>> = messages.iter().map(|m| m.origin_at).collect();
    let departments: Vec<Option<&str>> = messages.iter().map(|m| m.department.as_deref()).collect();
    sqlx::query(
        "INSERT INTO outbox (exchange, routing_key, message_id, kind, headers, body, origin_at,
                             department)
         SELECT exchange, routing_key, message_id, kind, headers::jsonb, body, origin_at,
                department
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[],
                     $7::timestamptz[], $8::text[])
             AS r(exchange, routing_key, message_id, kind, headers, body, origin_at, department)",
    )
    .bind(column(|m| m.exchange.clone()))
    .bind(column(|m| m.routing_key.clone()))
    .bind(column(|m| m.message_id.clone()))
    .bind(column(|m| m.kind.to_owned()))
    .bind(&headers)
    .bind(&bodies)
    .bind(&origins)
    .bind(&departments)
    .execute(&mut *tx)
    .await?;
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(OUTBOX_NOTIFY_CHANNEL)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
