//! What a calendar replay reads and writes: the calendar last applied, the open orders a
//! change may concern (locked, in key order, like the intake's), and per order its new
//! deadlines, timers, timeline entry and revised task, in one transaction per batch.

use crate::StoreError;
use crate::rows::order_from_row;
use chrono::{DateTime, Utc};
use hotline_core::calendar::CalendarRecord;
use hotline_core::order::Order;
use hotline_core::replay::{RECOMPUTED, Replayed};
use sqlx::{PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

/// The advisory lock that elects the one process replaying.
const REPLAY_LOCK: i64 = 0x686f_746c_696e_6502;

/// The calendar the engine last applied: its version and its record.
pub async fn applied(pool: &PgPool) -> Result<Option<(String, CalendarRecord)>, StoreError> {
    let row: Option<(String, sqlx::types::Json<CalendarRecord>)> =
        sqlx::query_as("SELECT version, calendar FROM calendar_state")
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(version, record)| (version, record.0)))
}

/// Records `version` (and its record) as the calendar applied.
pub async fn record_applied(
    pool: &PgPool,
    version: &str,
    record: &CalendarRecord,
) -> Result<(), StoreError> {
    let record = sqlx::types::Json(record);
    sqlx::query(
        "INSERT INTO calendar_state (version, calendar) VALUES ($1, $2)
         ON CONFLICT (singleton) DO UPDATE
             SET version = EXCLUDED.version, calendar = EXCLUDED.calendar, applied_at = now()",
    )
    .bind(version)
    .bind(record)
    .execute(pool)
    .await?;
    Ok(())
}

/// The election: held by one process at a time, for as long as it keeps the connection.
/// Dropped without [`ReplayLock::release`] (its holder cancelled, or failed on the way),
/// the connection is closed rather than lent on by the pool still holding the lock,
/// which would stop every process's replays until it was recycled.
pub struct ReplayLock(Option<sqlx::pool::PoolConnection<Postgres>>);

impl ReplayLock {
    /// The lock, unless another process holds it.
    pub async fn try_take(pool: &PgPool) -> Result<Option<ReplayLock>, StoreError> {
        // Taken under the guard: a caller cancelled while the answer is in flight drops a
        // lock that may have been granted.
        let mut lock = ReplayLock(Some(pool.acquire().await?));
        let connection = lock.0.as_mut().expect("held until released");
        let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(REPLAY_LOCK)
            .fetch_one(&mut **connection)
            .await?;
        if !taken {
            // Not granted: nothing to undo, the connection goes back as it came.
            drop(lock.0.take());
            return Ok(None);
        }
        Ok(Some(lock))
    }

    pub async fn release(mut self) -> Result<(), StoreError> {
        let connection = self.0.as_mut().expect("held until released");
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(REPLAY_LOCK)
            .execute(&mut **connection)
            .await?;
        drop(self.0.take());
        Ok(())
    }
}

impl Drop for ReplayLock {
    fn drop(&mut self) {
        if let Some(connection) = self.0.take() {
            // Out of the pool and dropped: the session ends, and its lock with it.
            drop(connection.detach());
        }
    }
}

/// An open order a change may concern, with its current task (id and revision).
pub struct Candidate {
    pub order: Order,
    pub task: Option<(Uuid, u32)>,
}

/// One batch's transaction: candidates locked, then written.
pub struct ReplayTx {
    tx: Transaction<'static, Postgres>,
    pub now: DateTime<Utc>,
}

impl ReplayTx {
    pub async fn begin(pool: &PgPool) -> Result<ReplayTx, StoreError> {
        let mut tx = crate::begin(pool).await?;
        let now = sqlx::query_scalar("SELECT now()")
            .fetch_one(&mut *tx)
            .await?;
        Ok(ReplayTx { tx, now })
    }

    /// Up to `limit` open, running orders after `after` (by order number) whose clock
    /// spans `[first, last)` and that the calendar `version` has not been applied to,
    /// locked for this transaction if `lock` (a dry run reads without locking).
    pub async fn candidates(
        &mut self,
        first: DateTime<Utc>,
        last: DateTime<Utc>,
        version: &str,
        after: &str,
        limit: i64,
        lock: bool,
    ) -> Result<Vec<Candidate>, StoreError> {
        const SELECT: &str = "SELECT o.*, d.task_id, d.revision
             FROM orders o
             LEFT JOIN dispatches d ON d.order_no = o.order_no AND d.dispatch_no = o.dispatch_count
             WHERE o.state IN ('dispatched', 'accepted') AND o.paused_at IS NULL
               AND o.statutory_due_at >= $1 AND o.received_at < $2
               AND o.calendar_version IS DISTINCT FROM $3
               AND o.order_no > $4
             ORDER BY o.order_no
             LIMIT $5";
        let query = if lock {
            format!("{SELECT} FOR UPDATE OF o")
        } else {
            SELECT.to_owned()
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(query))
            .bind(first)
            .bind(last)
            .bind(version)
            .bind(after)
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|row| {
                let (order, _) = order_from_row(row)?;
                let task_id: Option<Uuid> = row.try_get("task_id")?;
                let revision: Option<i32> = row.try_get("revision")?;
                Ok(Candidate {
                    order,
                    task: task_id.map(|id| (id, revision.unwrap_or(1).max(1) as u32)),
                })
            })
            .collect()
    }

    /// Writes the moved orders (deadlines, the co-handlers' deadlines, version, timers,
    /// timeline, revised tasks) and stamps the unmoved ones with `version`, then commits.
    pub async fn finish(
        mut self,
        moved: &[Replayed],
        unmoved: &[&str],
        version: &str,
    ) -> Result<(), StoreError> {
        if !unmoved.is_empty() {
            sqlx::query(
                "UPDATE orders SET calendar_version = $2, version = version + 1
                 WHERE order_no = ANY($1)",
            )
            .bind(unmoved)
            .bind(version)
            .execute(&mut *self.tx)
            .await?;
        }
        for r in moved {
            let (o, d) = (&r.order, &r.order.deadlines);
            sqlx::query(
                "UPDATE orders SET sign_due_at = $2, warning_due_at = $3, committed_due_at = $4,
                        statutory_due_at = $5, calendar_version = $6, co_handlers = $7,
                        version = version + 1, updated_at = now()
                 WHERE order_no = $1",
            )
            .bind(&o.order_no)
            .bind(d.sign)
            .bind(d.warning)
            .bind(d.committed)
            .bind(d.statutory)
            .bind(version)
            .bind(sqlx::types::Json(&o.co_handlers))
            .execute(&mut *self.tx)
            .await?;
            sqlx::query(
                "INSERT INTO order_events (order_no, event_id, event_type, actor, occurred_at, detail)
                 VALUES ($1, $2, $3, 'engine/calendar', now(), $4)",
            )
            .bind(&o.order_no)
            .bind(Uuid::new_v4())
            .bind(RECOMPUTED)
            .bind(&r.detail)
            .execute(&mut *self.tx)
            .await?;
            sqlx::query(
                "UPDATE dispatches SET revision = $3 WHERE order_no = $1 AND dispatch_no = $2",
            )
            .bind(&o.order_no)
            .bind(o.dispatch_count)
            .bind(r.revision as i32)
            .execute(&mut *self.tx)
            .await?;
        }
        let numbers: Vec<&str> = moved.iter().map(|r| r.order.order_no.as_str()).collect();
        let live: Vec<_> = moved.iter().flat_map(|r| r.order.live_timers()).collect();
        crate::timers::replace_live(&mut self.tx, &live, &numbers).await?;
        let tasks: Vec<_> = moved
            .iter()
            .flat_map(|r| r.task.iter().chain(&r.co_tasks).cloned())
            .collect();
        crate::outbox::enqueue(&mut self.tx, &tasks).await?;
        self.tx.commit().await?;
        Ok(())
    }
}
