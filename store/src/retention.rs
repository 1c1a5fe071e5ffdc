//! Retention: what the engine keeps, and for how long (`[retention]`). Published outbox
//! rows, spent idempotency keys and rejected bodies are deleted once old enough; the
//! citizen's name and phone are erased from orders and appointments finished long ago when
//! `citizen_data_days` is set. Each kind goes in batches of [`BATCH`] rows, one short
//! transaction each, so a sweep never holds locks the intake waits on. Outbox rows set
//! aside (refused by the broker) and unpublished ones are never deleted.

use crate::StoreError;
use hotline_core::config::RetentionSettings;
use sqlx::PgPool;

/// Rows removed or erased per transaction.
pub const BATCH: i64 = 5_000;

/// What a sweep removed, per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub outbox: u64,
    pub processed_keys: u64,
    pub rejected_events: u64,
    pub citizen_data: u64,
    /// Attachments removed with the citizen's data (their files are the caller's to
    /// remove: the store knows no storage).
    pub attachments: u64,
}

/// Runs `sql` (which binds the age in days as `$1` and the batch size as `$2`) until it
/// affects fewer rows than a batch.
async fn in_batches(pool: &PgPool, sql: &'static str, days: u32) -> Result<u64, StoreError> {
    let mut total = 0;
    loop {
        let affected = sqlx::query(sql)
            .bind(days as i32)
            .bind(BATCH)
            .execute(pool)
            .await?
            .rows_affected();
        total += affected;
        if affected < BATCH as u64 {
            return Ok(total);
        }
    }
}

pub async fn sweep(pool: &PgPool, settings: &RetentionSettings) -> Result<Swept, StoreError> {
    let mut swept = Swept {
        outbox: in_batches(
            pool,
            "DELETE FROM outbox WHERE ctid = ANY(ARRAY(
                 SELECT ctid FROM outbox
                 WHERE created_at < now() - make_interval(days => $1)
                   AND published_at < now() - make_interval(days => $1)
                 LIMIT $2))",
            settings.published_outbox_days,
        )
        .await?,
        processed_keys: in_batches(
            pool,
            "DELETE FROM processed_events WHERE ctid = ANY(ARRAY(
                 SELECT ctid FROM processed_events
                 WHERE processed_at < now() - make_interval(days => $1) LIMIT $2))",
            settings.processed_keys_days,
        )
        .await?,
        rejected_events: in_batches(
            pool,
            "DELETE FROM rejected_events WHERE ctid = ANY(ARRAY(
                 SELECT ctid FROM rejected_events
                 WHERE rejected_at < now() - make_interval(days => $1) LIMIT $2))",
            settings.rejected_events_days,
        )
        .await?,
        citizen_data: 0,
        attachments: 0,
    };
    if let Some(days) = settings.citizen_data_days {
        // Notes may name the citizen: they go with the name and the phone (not counted
        // apart: they are the same erasure).
        in_batches(
            pool,
            "DELETE FROM order_notes WHERE ctid = ANY(ARRAY(
                 SELECT n.ctid FROM order_notes n JOIN orders o USING (order_no)
                 WHERE o.state IN ('closed', 'merged')
                   AND coalesce(o.closed_at, o.updated_at) < now() - make_interval(days => $1)
                 LIMIT $2))",
            days,
        )
        .await?;
        swept.citizen_data = in_batches(
            pool,
            "UPDATE orders SET citizen_name = NULL, citizen_phone = NULL, duplicate_key = NULL,
                               version = version + 1, updated_at = now()
             WHERE order_no = ANY(ARRAY(
                 SELECT order_no FROM orders
                 WHERE state IN ('closed', 'merged')
                   AND coalesce(closed_at, updated_at) < now() - make_interval(days => $1)
                   AND (citizen_name IS NOT NULL OR citizen_phone IS NOT NULL)
                 LIMIT $2 FOR UPDATE SKIP LOCKED))",
            days,
        )
        .await?
            + in_batches(
                pool,
                "UPDATE appointments SET citizen_name = NULL, citizen_phone = NULL,
                                         version = version + 1, updated_at = now()
                 WHERE order_no = ANY(ARRAY(
                     SELECT order_no FROM appointments
                     WHERE state IN ('completed', 'no_show')
                       AND updated_at < now() - make_interval(days => $1)
                       AND (citizen_name IS NOT NULL OR citizen_phone IS NOT NULL)
                     LIMIT $2 FOR UPDATE SKIP LOCKED))",
                days,
            )
            .await?;
    }
    Ok(swept)
}
