//! The transactional outbox: the one way anything leaves the engine. [`enqueue`] adds
//! messages in the caller's transaction, beside the change that causes them; the relay
//! claims pending rows with [`PendingBatch::claim`], publishes them, and marks them
//! published only after the broker confirmed every one.

use crate::{OUTBOX_NOTIFY_CHANNEL, StoreError};
use chrono::{DateTime, Utc};
use hotline_core::outbox::{OutboxKind, OutboxMessage};
use sqlx::{PgPool, Postgres, Row, Transaction};
use std::collections::BTreeMap;

/// Adds `messages` to the outbox within the caller's transaction, and wakes the relays
/// (PostgreSQL delivers the notification at commit, once per transaction).
pub async fn enqueue(
    tx: &mut sqlx::PgConnection,
    messages: &[OutboxMessage],
) -> Result<(), StoreError> {
    if messages.is_empty() {
        return Ok(());
    }
    let exchanges: Vec<&str> = messages.iter().map(|m| m.exchange).collect();
    let keys: Vec<&str> = messages.iter().map(|m| m.routing_key.as_str()).collect();
    let ids: Vec<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
    let kinds: Vec<&str> = messages.iter().map(|m| m.kind.as_str()).collect();
    let headers: Vec<String> = messages
        .iter()
        .map(|m| serde_json::to_string(&m.headers).expect("string headers"))
        .collect();
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
    .bind(&exchanges)
    .bind(&keys)
    .bind(&ids)
    .bind(&kinds)
    .bind(&headers)
    .bind(&bodies)
    .bind(&origins)
    .bind(&departments)
    .execute(&mut *tx)
    .await?;
    crate::notify(tx, OUTBOX_NOTIFY_CHANNEL).await
}

/// An outbox row waiting to be published.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: i64,
    pub exchange: String,
    pub routing_key: String,
    pub message_id: String,
    pub kind: OutboxKind,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    pub origin_at: Option<DateTime<Utc>>,
    pub department: Option<String>,
    /// Publications of this row that were tried one by one and may have failed.
    pub attempts: i32,
}

/// Pending rows claimed by one relay (`FOR UPDATE SKIP LOCKED`: any number of relays run
/// side by side without publishing a row twice at once), held until marked published.
pub struct PendingBatch {
    tx: Transaction<'static, Postgres>,
    pub rows: Vec<Pending>,
}

impl PendingBatch {
    /// Claims up to `limit` pending rows, oldest first (rows set aside are skipped),
    /// locked until they are marked published.
    pub async fn claim(pool: &PgPool, limit: i64) -> Result<PendingBatch, StoreError> {
        let mut tx = crate::begin(pool).await?;
        let rows = sqlx::query(
            "SELECT id, exchange, routing_key, message_id, kind, headers, body, origin_at,
                    department, attempts
             FROM outbox WHERE published_at IS NULL AND failed_at IS NULL
             ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        Self::read(tx, &rows)
    }

    /// Claims the oldest pending row and counts an attempt to publish it, committed
    /// before the attempt is made: if publishing it kills the connection, the attempt
    /// still counts. (The row is not locked while it is published, so another relay may
    /// publish it too: consumers dedupe on `message_id`.)
    pub async fn claim_one_counted(pool: &PgPool) -> Result<PendingBatch, StoreError> {
        let mut tx = crate::begin(pool).await?;
        let rows = sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1
             WHERE id = (SELECT id FROM outbox
                         WHERE published_at IS NULL AND failed_at IS NULL
                         ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING id, exchange, routing_key, message_id, kind, headers, body, origin_at,
                       department, attempts - 1 AS attempts",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Self::read(crate::begin(pool).await?, &rows)
    }

    fn read(
        tx: Transaction<'static, Postgres>,
        rows: &[sqlx::postgres::PgRow],
    ) -> Result<PendingBatch, StoreError> {
        let rows = rows
            .iter()
            .map(|row| {
                let kind: String = row.try_get("kind")?;
                let headers: sqlx::types::Json<BTreeMap<String, String>> =
                    row.try_get("headers")?;
                Ok(Pending {
                    id: row.try_get("id")?,
                    exchange: row.try_get("exchange")?,
                    routing_key: row.try_get("routing_key")?,
                    message_id: row.try_get("message_id")?,
                    kind: kind
                        .parse()
                        .map_err(|e| StoreError::Defect(format!("outbox kind: {e}")))?,
                    headers: headers.0,
                    body: row.try_get("body")?,
                    origin_at: row.try_get("origin_at")?,
                    department: row.try_get("department")?,
                    attempts: row.try_get("attempts")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(PendingBatch { tx, rows })
    }

    /// Sets the claimed row `id` aside: it is kept, with `reason`, and never tried again.
    pub async fn set_aside(&mut self, id: i64, reason: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET failed_at = now(), last_error = $2 WHERE id = $1")
            .bind(id)
            .bind(reason)
            .execute(&mut *self.tx)
            .await?;
        self.rows.retain(|row| row.id != id);
        Ok(())
    }

    /// Marks every claimed row published and commits (with the rows set aside); hands the
    /// rows back with when the database says they were published (`statement_timestamp()`:
    /// the clock alert deadlines are kept on, taken after the broker confirmed them).
    pub async fn mark_published(
        mut self,
    ) -> Result<(Vec<Pending>, Option<DateTime<Utc>>), StoreError> {
        if self.rows.is_empty() {
            // Nothing to mark, but rows of this claim may have been set aside: keep that
            // (a rollback would hand the row back, to be claimed and refused for ever).
            self.tx.commit().await?;
            return Ok((self.rows, None));
        }
        let ids: Vec<i64> = self.rows.iter().map(|r| r.id).collect();
        let published_at: Vec<DateTime<Utc>> = sqlx::query_scalar(
            "UPDATE outbox SET published_at = statement_timestamp() WHERE id = ANY($1)
             RETURNING published_at",
        )
        .bind(&ids)
        .fetch_all(&mut *self.tx)
        .await?;
        self.tx.commit().await?;
        Ok((self.rows, published_at.first().copied()))
    }
}

/// Seconds the oldest message waiting to be published has waited, if one waits.
pub async fn oldest_pending_seconds(pool: &PgPool) -> Result<Option<f64>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM now() - created_at)::float8 FROM outbox
         WHERE published_at IS NULL AND failed_at IS NULL ORDER BY id LIMIT 1",
    )
    .fetch_optional(pool)
    .await?)
}
