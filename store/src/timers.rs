//! SLA timers: one row per open order (and per co-handler owing a co-reply), armed for
//! its next level and carrying the levels that follow; rewritten with the order; the
//! scheduler's claim that turns due ones into alerts, exactly once.
//!
//! In one short transaction per batch [`fire_due`]:
//! 1. claims the due timers, `due_at <= now()` on the database's clock, oldest first,
//!    `FOR UPDATE SKIP LOCKED` (any number of schedulers split the work, none waits);
//! 2. inserts one `alerts` row per timer, `ON CONFLICT DO NOTHING` on
//!    `(order_no, level, due_at)`: a deadline already alerted (by another process, or
//!    before a repair re-armed its timer) raises nothing again;
//! 3. moves each claimed timer on to its next level (deletes it after its last), writes
//!    one outbox row per new alert, NOTIFYs the relay.
//!
//! Why a chain and not a row per level: most orders are replied before their first
//! deadline, so the levels after the first are never fired; writing them as rows of their
//! own cost three rows and six index entries per new complaint (migration 0050).

use crate::{StoreError, outbox};
use chrono::{DateTime, Utc};
use hotline_core::alert::RaisedAlert;
use hotline_core::order::LiveTimer;
use sqlx::{PgPool, Row};
use uuid::Uuid;

/// The claim: due timers, oldest first, skipping those another scheduler holds. Served by
/// the `timers_due` index (see `hotline bench-alerts` for its plan on a million orders).
pub const CLAIM_SQL: &str = "SELECT order_no, level, due_at, department FROM timers
     WHERE due_at <= now()
     ORDER BY due_at
     LIMIT $1
     FOR UPDATE SKIP LOCKED";

/// The deadlines to arm, one entry per level, as the columns `UNNEST` reads them; the
/// database folds them into one chain per order and department ([`arm_sql`]).
#[derive(Default)]
pub(crate) struct TimerColumns<'a> {
    pub order_nos: Vec<&'a str>,
    pub levels: Vec<&'static str>,
    pub due: Vec<DateTime<Utc>>,
    pub departments: Vec<&'a str>,
}

impl<'a> TimerColumns<'a> {
    /// The columns of `timers`, as the core gave them ([`Order::live_timers`]).
    pub fn of(timers: &'a [LiveTimer]) -> TimerColumns<'a> {
        let mut columns = TimerColumns::default();
        for timer in timers {
            columns.order_nos.push(&timer.order_no);
            columns.levels.push(timer.level.as_str());
            columns.due.push(timer.due_at);
            columns.departments.push(&timer.department);
        }
        columns
    }

    pub fn is_empty(&self) -> bool {
        self.order_nos.is_empty()
    }
}

/// Replaces the live timers of the orders of `existing` with `live` (a new order has none
/// to delete), and wakes the schedulers.
pub(crate) async fn replace_live(
    tx: &mut sqlx::PgConnection,
    live: &[LiveTimer],
    existing: &[&str],
) -> Result<(), StoreError> {
    let timers = TimerColumns::of(live);
    if !existing.is_empty() {
        sqlx::query("DELETE FROM timers WHERE order_no = ANY($1)")
            .bind(existing)
            .execute(&mut *tx)
            .await?;
    }
    if !timers.is_empty() {
        sqlx::query(ARM_SQL)
            .bind(&timers.order_nos)
            .bind(&timers.levels)
            .bind(&timers.due)
            .bind(&timers.departments)
            .execute(&mut *tx)
            .await?;
        crate::notify(&mut *tx, crate::TIMERS_NOTIFY_CHANNEL).await?;
    }
    Ok(())
}

/// The chains' insert, from [`TimerColumns`] (`$1`–`$4`) filtered by `$wanted` (a
/// `WHERE` on `r`, each level given): per order, department and kind (the lead's levels,
/// or a co-handler's `co_overdue`), the earliest deadline armed and the rest after it,
/// earliest first, ties in the order the columns list them (the order of
/// `Order::timers`). `$chains` filters the chains (a `WHERE` on `c`), `$tail` ends the
/// statement.
macro_rules! arm_sql {
    ($wanted:literal, $chains:literal, $tail:literal) => {
        concat!(
            "INSERT INTO timers (order_no, level, due_at, department, then_levels, then_due)
             SELECT order_no, levels[1], due[1], department, levels[2:], due[2:]
             FROM (SELECT order_no, department, level = 'co_overdue' AS co,
                          array_agg(level ORDER BY due_at, n) AS levels,
                          array_agg(due_at ORDER BY due_at, n) AS due
                   FROM UNNEST($1::text[], $2::text[], $3::timestamptz[], $4::text[])
                            WITH ORDINALITY AS r(order_no, level, due_at, department, n) ",
            $wanted,
            " GROUP BY order_no, department, level = 'co_overdue') c ",
            $chains,
            " ",
            $tail
        )
    };
}
pub(crate) use arm_sql;

/// Arms every deadline given: what a dispatcher writes for the orders it holds (and
/// whose timers it has just deleted).
const ARM_SQL: &str = arm_sql!("", "", "");

/// What one claim transaction did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fired {
    /// Timers claimed (and moved on to their next level, or deleted after their last).
    pub claimed: usize,
    /// Alerts raised: fewer than claimed when a deadline had been alerted already.
    pub alerted: usize,
}

/// Claims up to `limit` due timers and raises their alerts, in one transaction. Alert
/// messages go to `exchange` (`hotline.alerts`; the benchmark uses a private one).
pub async fn fire_due(
    pool: &PgPool,
    limit: i64,
    exchange: &'static str,
) -> Result<Fired, StoreError> {
    let mut tx = crate::begin(pool).await?;
    let claimed = sqlx::query(CLAIM_SQL)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
    if claimed.is_empty() {
        tx.rollback().await?;
        return Ok(Fired::default());
    }
    let mut order_nos = Vec::with_capacity(claimed.len());
    let mut levels = Vec::with_capacity(claimed.len());
    let mut due = Vec::with_capacity(claimed.len());
    let mut departments = Vec::with_capacity(claimed.len());
    let mut ids = Vec::with_capacity(claimed.len());
    for timer in &claimed {
        order_nos.push(timer.try_get::<String, _>("order_no")?);
        levels.push(timer.try_get::<String, _>("level")?);
        due.push(timer.try_get::<DateTime<Utc>, _>("due_at")?);
        departments.push(timer.try_get::<String, _>("department")?);
        ids.push(Uuid::now_v7());
    }
    // Move the claimed timers (exactly those: same deadline) on to their next level, or
    // delete those at their last, and record their alerts; a deadline alerted before
    // returns nothing and raises nothing. A next level already due is claimed by the
    // next round, oldest first like every other.
    let raised = sqlx::query(
        "WITH claimed AS (
             SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::timestamptz[],
                                  $5::text[])
                 AS c(alert_id, order_no, level, due_at, department)
         ), advanced AS (
             UPDATE timers t
             SET level = t.then_levels[1], due_at = t.then_due[1],
                 then_levels = t.then_levels[2:], then_due = t.then_due[2:]
             FROM claimed c
             WHERE t.order_no = c.order_no AND t.level = c.level AND t.due_at = c.due_at
               AND t.department = c.department AND cardinality(t.then_levels) > 0
         ), removed AS (
             DELETE FROM timers t USING claimed c
             WHERE t.order_no = c.order_no AND t.level = c.level AND t.due_at = c.due_at
               AND t.department = c.department AND cardinality(t.then_levels) = 0
         ), raised AS (
             INSERT INTO alerts (alert_id, order_no, department, level, due_at, fired_at)
             SELECT alert_id, order_no, department, level, due_at, now() FROM claimed
             ON CONFLICT DO NOTHING
             RETURNING alert_id, order_no, department, level, due_at, fired_at
         )
         SELECT r.alert_id, r.order_no, r.department, r.level, r.due_at, r.fired_at,
                o.committed_due_at, o.statutory_due_at
         FROM raised r LEFT JOIN orders o USING (order_no)
         ORDER BY r.due_at",
    )
    .bind(&ids)
    .bind(&order_nos)
    .bind(&levels)
    .bind(&due)
    .bind(&departments)
    .fetch_all(&mut *tx)
    .await?;
    let mut messages = Vec::with_capacity(raised.len());
    let mut escalated = Vec::new();
    for row in &raised {
        let level: String = row.try_get("level")?;
        let alert = RaisedAlert {
            alert_id: row.try_get("alert_id")?,
            order_no: row.try_get("order_no")?,
            department: row.try_get("department")?,
            level: level
                .parse()
                .map_err(|e| StoreError::Defect(format!("timer level: {e}")))?,
            due_at: row.try_get("due_at")?,
            fired_at: row.try_get("fired_at")?,
            committed_due_at: row.try_get("committed_due_at")?,
            statutory_due_at: row.try_get("statutory_due_at")?,
        };
        let mut message = alert.outbox_message();
        message.exchange = exchange;
        messages.push(message);
        if let Some(raised_to) = alert.escalation(Uuid::now_v7()) {
            escalated.push(raised_to);
        }
    }
    messages.extend(escalate(&mut tx, &escalated, exchange).await?);
    outbox::enqueue(&mut tx, &messages).await?;
    tx.commit().await?;
    Ok(Fired {
        claimed: claimed.len(),
        alerted: raised.len(),
    })
}

/// Raises orders whose statutory deadline passed to 督办 (`urge_level` = `supervision`,
/// never lowering `listed`), records it on their timeline and the `supervision` alerts
/// (once per order and deadline, like every alert); returns the alerts' messages.
async fn escalate(
    tx: &mut sqlx::PgConnection,
    alerts: &[RaisedAlert],
    exchange: &'static str,
) -> Result<Vec<hotline_core::outbox::OutboxMessage>, StoreError> {
    if alerts.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = alerts.iter().map(|a| a.alert_id).collect();
    let order_nos: Vec<&str> = alerts.iter().map(|a| a.order_no.as_str()).collect();
    let departments: Vec<&str> = alerts.iter().map(|a| a.department.as_str()).collect();
    let due: Vec<DateTime<Utc>> = alerts.iter().map(|a| a.due_at).collect();
    let inserted: Vec<Uuid> = sqlx::query_scalar(
        "WITH raised AS (
             INSERT INTO alerts (alert_id, order_no, department, level, due_at, fired_at)
             SELECT alert_id, order_no, department, 'supervision', due_at, now()
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::timestamptz[])
                 AS c(alert_id, order_no, department, due_at)
             ON CONFLICT DO NOTHING
             RETURNING alert_id, order_no, due_at
         ), levelled AS (
             UPDATE orders o SET urge_level = 'supervision', version = o.version + 1,
                    updated_at = now()
             FROM raised r
             WHERE o.order_no = r.order_no AND o.urge_level IS DISTINCT FROM 'listed'
             RETURNING o.order_no, o.state, o.department
         ), recorded AS (
             INSERT INTO order_events (order_no, event_id, event_type, actor, occurred_at, detail)
             SELECT l.order_no, gen_random_uuid(), 'order.escalated', 'engine', now(),
                    jsonb_build_object('level', 'supervision', 'reason', 'statutory_overdue',
                        'effect', jsonb_build_object('state', l.state,
                            'department', l.department, 'urge_level', 'supervision'))
             FROM levelled l
         )
         SELECT alert_id FROM raised",
    )
    .bind(&ids)
    .bind(&order_nos)
    .bind(&departments)
    .bind(&due)
    .fetch_all(&mut *tx)
    .await?;
    Ok(alerts
        .iter()
        .filter(|a| inserted.contains(&a.alert_id))
        .map(|a| {
            let mut message = a.outbox_message();
            message.exchange = exchange;
            message
        })
        .collect())
}

/// Seconds from the database's clock to the earliest live timer (negative when one is
/// due), `None` when there is none: one probe of the `timers_due` index.
pub async fn seconds_to_next(pool: &PgPool) -> Result<Option<f64>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM (min(due_at) - clock_timestamp()))::float8 FROM timers",
    )
    .fetch_one(pool)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_schema::values::AlertLevel;

    #[test]
    fn live_timers_become_one_column_per_field_in_their_order() {
        let at = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&Utc)
        };
        let timers = [
            LiveTimer {
                order_no: "PT1".into(),
                level: AlertLevel::Warning,
                due_at: at("2026-11-25T10:00:00+08:00"),
                department: "SCJGJ".into(),
            },
            LiveTimer {
                order_no: "PT2".into(),
                level: AlertLevel::StatutoryOverdue,
                due_at: at("2026-11-26T09:30:00+08:00"),
                department: "YSBZX".into(),
            },
        ];
        let columns = TimerColumns::of(&timers);
        assert_eq!(columns.order_nos, ["PT1", "PT2"]);
        assert_eq!(columns.levels, ["warning", "statutory_overdue"]);
        assert_eq!(
            columns.due,
            [
                at("2026-11-25T10:00:00+08:00"),
                at("2026-11-26T09:30:00+08:00")
            ]
        );
        assert_eq!(columns.departments, ["SCJGJ", "YSBZX"]);
        assert!(!columns.is_empty());
        assert!(TimerColumns::of(&[]).is_empty());
    }
}
