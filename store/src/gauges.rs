//! The gauges that describe the whole system — open orders by department and SLA state,
//! satisfaction per department, the outbox backlog — computed from the database.
//!
//! Recomputing them scans every open order, so it is done at most once per
//! [`SNAPSHOT_MAX_AGE`] by whichever process gets the advisory lock first, into
//! `gauge_snapshot`; every process serving `/metrics` reads the snapshot. With several
//! engine processes each exports the same values: aggregate them with `max`, not `sum`.

use crate::StoreError;
use crate::sla_sql::{SLA_AT_SQL, SLA_STATE_SQL};
use hotline_core::config::KpiSettings;
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::time::Duration;

/// How stale the snapshot may be before a scrape recomputes it.
pub const SNAPSHOT_MAX_AGE: Duration = Duration::from_secs(10);

/// The advisory lock key that elects the one process recomputing the snapshot.
const SNAPSHOT_LOCK: i64 = 0x686f_746c_696e_6501;

/// One gauge sample of the snapshot.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct GaugeSample {
    /// The metric's name, e.g. `hotline_orders_open`.
    pub name: String,
    pub labels: sqlx::types::Json<BTreeMap<String, String>>,
    pub value: f64,
}

/// Recomputes the snapshot if it is stale (and no other process is at it), then returns it.
pub async fn snapshot(pool: &PgPool, kpi: &KpiSettings) -> Result<Vec<GaugeSample>, StoreError> {
    let mut tx = crate::begin(pool).await?;
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
            recompute(&mut tx, kpi).await?;
            department_scores(pool, &mut tx, kpi).await?;
        }
    }
    tx.commit().await?;
    Ok(
        sqlx::query_as("SELECT name, labels, value FROM gauge_snapshot")
            .fetch_all(pool)
            .await?,
    )
}

/// `hotline_department_score{department}`: each department's league-table score over the
/// last 30 days (`hotline_core::ranking`), counted as `GET /api/ranking?period=last30`.
async fn department_scores(
    pool: &PgPool,
    tx: &mut sqlx::PgConnection,
    kpi: &KpiSettings,
) -> Result<(), StoreError> {
    let now: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut *tx)
        .await?;
    let counts = crate::kpi::period_counts(
        pool,
        now - chrono::TimeDelta::days(30),
        now,
        None,
        kpi.basically_satisfied_counts,
    )
    .await?;
    // The calendar only weighs the routing rules' lost time, which no score uses.
    let report = hotline_core::kpi::report(
        counts,
        &hotline_core::calendar::BusinessCalendar::china_default(),
    );
    let table = hotline_core::ranking::table(&kpi.ranking, &report.departments);
    let (departments, scores): (Vec<&str>, Vec<f64>) = table
        .iter()
        .filter_map(|s| s.score.map(|score| (s.department.as_str(), score)))
        .unzip();
    sqlx::query(
        "INSERT INTO gauge_snapshot (name, labels, value)
         SELECT 'hotline_department_score', jsonb_build_object('department', d), score
         FROM UNNEST($1::text[], $2::float8[]) AS r(d, score)",
    )
    .bind(&departments)
    .bind(&scores)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn recompute(tx: &mut sqlx::PgConnection, kpi: &KpiSettings) -> Result<(), StoreError> {
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
           -- A rating an upheld appeal (评价复核) removed counts in no 满意率.
           AND NOT coalesce((callback->'appeal'->'decision'->>'upheld')::boolean, false)
         GROUP BY department",
    )
    .bind(kpi.basically_satisfied_counts)
    .bind(kpi.satisfaction_window_days as i32)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO gauge_snapshot (name, labels, value)
         SELECT 'hotline_outbox_pending', jsonb_build_object('kind', kinds.kind),
                count(outbox.id)
         FROM (SELECT unnest($1::text[]) AS kind) kinds
         LEFT JOIN outbox ON outbox.kind = kinds.kind AND outbox.published_at IS NULL
                          AND outbox.failed_at IS NULL
         GROUP BY kinds.kind",
    )
    .bind(hotline_core::outbox::OutboxKind::NAMES)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO gauge_snapshot (name, labels, value)
         SELECT 'hotline_outbox_set_aside', jsonb_build_object('kind', kinds.kind),
                count(outbox.id)
         FROM (SELECT unnest($1::text[]) AS kind) kinds
         LEFT JOIN outbox ON outbox.kind = kinds.kind AND outbox.failed_at IS NOT NULL
         GROUP BY kinds.kind",
    )
    .bind(hotline_core::outbox::OutboxKind::NAMES)
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
