//! What the supervisors' board (`/board`) reads: open orders by department, state and SLA
//! state; where cases came from lately (district × matter); today's cases by hour. Read
//! live on each render (not from the gauges' snapshot), so the board changes as soon as an
//! order does.

use crate::StoreError;
use crate::sla_sql::{SLA_AT_SQL, SLA_STATE_SQL};
use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// Open orders of one department in one state and SLA state.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OpenCount {
    pub department: String,
    pub state: String,
    pub sla_state: String,
    pub orders: i64,
}

/// Every open order (not closed, not merged), counted by department, state and SLA state.
pub async fn open_counts(pool: &PgPool) -> Result<Vec<OpenCount>, StoreError> {
    let mut tx = crate::begin(pool).await?;
    sqlx::query("SET LOCAL jit = off").execute(&mut *tx).await?;
    let counts = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT department, state, {SLA_STATE_SQL} AS sla_state, count(*) AS orders
         FROM orders {SLA_AT_SQL}
         WHERE state NOT IN ('closed', 'merged')
         GROUP BY 1, 2, 3
         ORDER BY 1, 2, 3"
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(counts)
}

/// Cases received since `since`, by district and matter (`None`: not given, not
/// recognised).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PlaceCount {
    pub district: Option<String>,
    pub matter: Option<String>,
    pub orders: i64,
}

pub async fn by_place(pool: &PgPool, since: DateTime<Utc>) -> Result<Vec<PlaceCount>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT district, matter_name AS matter, count(*) AS orders
         FROM orders WHERE received_at >= $1
         GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2",
    )
    .bind(since)
    .fetch_all(pool)
    .await?)
}

/// Cases received since `since`, by hour of the day in business time (0–23).
pub async fn by_hour(pool: &PgPool, since: DateTime<Utc>) -> Result<Vec<(i32, i64)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT extract(hour FROM received_at AT TIME ZONE 'Asia/Shanghai')::int, count(*)
         FROM orders WHERE received_at >= $1
         GROUP BY 1 ORDER BY 1",
    )
    .bind(since)
    .fetch_all(pool)
    .await?)
}
