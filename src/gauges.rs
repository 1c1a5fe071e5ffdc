//! The gauges that describe the whole system — open orders by department and SLA state,
//! satisfaction per department, the outbox backlog — computed from the database.
//!
//! Recomputing them scans every open order, so it is done at most once per
//! [`SNAPSHOT_MAX_AGE`] by whichever process gets the advisory lock first, into
//! `gauge_snapshot`; every process serving `/metrics` copies the snapshot into its gauges.
//! With several engine processes each exports the same values: aggregate them with
//! `max`, not `sum`.

use hotline_schema::metrics::metrics;
use hotline_schema::sla::{SLA_AT_SQL, SLA_STATE_SQL};
use sqlx::PgPool;
use std::time::Duration;

/// How stale the snapshot may be before a scrape recomputes it.
pub const SNAPSHOT_MAX_AGE: Duration = Duration::from_secs(10);

/// The advisory lock key that elects the one process recomputing the snapshot.
const SNAPSHOT_LOCK: i64 = 0x686f_746c_696e_6501;

/// KPI settings for the satisfaction gauge.
#[derive(Debug, Clone, Copy)]
pub struct SatisfactionRule {
    /// Whether "basically satisfied" counts as satisfied (cities differ).
    pub basically_counts: bool,
    /// Ratings of orders closed within this many days count.
    pub window_days: u32,
}

/// Recomputes the snapshot if it is stale (and no other process is at it), then loads it
/// into this process's gauges.
pub async fn refresh(pool: &PgPool, rule: SatisfactionRule) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let stale: bool = sqlx::query_scalar(
        "SELECT coalesce((SELECT taken_at < now() - make_interval(secs => $1)
                           FROM gauge_snapshot_taken), true)",
    )
    .bind(SNAPSHOT_MAX_AGE.as_secs_f64())
    .fetch_one(&mut *tx)
    .await?;
    if stale {
        let elected: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(SNAPSHOT_LOCK)
            .fetch_one(&mut *tx)
            .await?;
        if elected {
            recompute(&mut tx, rule).await?;
        }
    }
    tx.commit().await?;
    load(pool).await
}

async fn recompute(tx: &mut sqlx::PgConnection, rule: SatisfactionRule) -> Result<(), sqlx::Error> {
    // One scan of the open orders (about 0.6 s per million on these machines); compiling
    // it (JIT) costs more than it saves.
    sqlx::query("SET LOCAL jit = off").execute(&mut *tx).await?;
    sqlx::query("DELETE FROM gauge_snapshot")
        .execute(&mut *tx)
        .await?;
    // Open = not closed: replied orders waiting for the callback count, judged at their
    // reply (the same SLA state `GET /api/orders/{order_no}` shows).
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO gauge_snapshot (name, labels, value)
         SELECT 'hotline_orders_open',
                jsonb_build_object('department', department, 'sla_state', sla_state), count(*)
         FROM (SELECT department, {SLA_STATE_SQL} AS sla_state
               FROM orders {SLA_AT_SQL}
               WHERE state NOT IN ('closed', 'merged')) open
         GROUP BY department, sla_state"
    )))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO gauge_snapshot (name, labels, value)
         SELECT 'hotline_satisfaction_ratio', jsonb_build_object('department', department),
                avg(CASE WHEN rating IN ('very_satisfied', 'satisfied')
                           OR (rating = 'basically_satisfied' AND $1) THEN 1.0 ELSE 0.0 END)
         FROM orders
         WHERE rating IS NOT NULL AND closed_at >= now() - make_interval(days => $2)
         GROUP BY department",
    )
    .bind(rule.basically_counts)
    .bind(rule.window_days as i32)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO gauge_snapshot (name, labels, value)
         SELECT 'hotline_outbox_pending', jsonb_build_object('kind', kinds.kind),
                count(outbox.id)
         FROM (SELECT unnest(ARRAY['task', 'alert', 'rejected', 'digest']) AS kind) kinds
         LEFT JOIN outbox ON outbox.kind = kinds.kind AND outbox.published_at IS NULL
         GROUP BY kinds.kind",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO gauge_snapshot_taken (taken_at) VALUES (now())
         ON CONFLICT (singleton) DO UPDATE SET taken_at = EXCLUDED.taken_at",
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn load(pool: &PgPool) -> Result<(), sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Sample {
        name: String,
        labels: sqlx::types::Json<std::collections::BTreeMap<String, String>>,
        value: f64,
    }
    let rows: Vec<Sample> = sqlx::query_as("SELECT name, labels, value FROM gauge_snapshot")
        .fetch_all(pool)
        .await?;
    let m = metrics();
    m.orders_open.reset();
    m.satisfaction_ratio.reset();
    m.outbox_pending.reset();
    for Sample {
        name,
        labels,
        value,
    } in rows
    {
        let label = |key: &str| labels.get(key).map(String::as_str).unwrap_or_default();
        match name.as_str() {
            "hotline_orders_open" => m
                .orders_open
                .with_label_values(&[label("department"), label("sla_state")])
                .set(value as i64),
            "hotline_satisfaction_ratio" => m
                .satisfaction_ratio
                .with_label_values(&[label("department")])
                .set(value),
            "hotline_outbox_pending" => m
                .outbox_pending
                .with_label_values(&[label("kind")])
                .set(value as i64),
            _ => {}
        }
    }
    Ok(())
}
