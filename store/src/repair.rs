//! The repair sweep: timers re-armed on open orders that lost them, and appointments never
//! checked in marked as no-shows. Both are idempotent and safe with many processes.

use crate::rows::order_from_row;
use crate::timers::TimerColumns;
use crate::{StoreError, TIMERS_NOTIFY_CHANNEL};
use sqlx::PgPool;
use std::collections::HashSet;

/// Orders examined per repair transaction.
const REPAIR_BATCH: i64 = 500;

/// What a repair sweep re-armed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Repaired {
    pub orders: usize,
    pub timers: usize,
}

/// Open orders that lost timers, in `order_no` order after `$1`: those with no live timer
/// although some deadline of theirs was never alerted, and those with a co-handler (协办)
/// that owes its co-reply, has no `co_overdue` timer and was never alerted for it (a lost
/// co-reply timer leaves the order's other timers in place). Locked, skipping any a
/// dispatcher is writing (it rewrites their timers itself). The orders without timers are
/// found first (one anti-join of orders and timers: about 2.5 s for a million open
/// orders), and only those are checked against `alerts`; the co-handled ones come from
/// the partial index on `co_handlers`. The deadline tests here only narrow the search; the
/// timers come from `Order::timers` and `Order::co_timers`, the dispatcher's own rule.
const REPAIR_CANDIDATES_SQL: &str = "WITH bare AS MATERIALIZED (
         SELECT o.order_no FROM orders o
         WHERE o.state IN ('dispatched', 'accepted', 'return_pending') AND o.paused_at IS NULL
           AND o.order_no > $1
           AND NOT EXISTS (SELECT 1 FROM timers t WHERE t.order_no = o.order_no)),
     needy AS (
         SELECT o.order_no FROM orders o JOIN bare USING (order_no)
         WHERE EXISTS (
             SELECT 1 FROM (VALUES
                 ('sign_overdue', CASE WHEN o.state = 'dispatched' THEN o.sign_due_at END),
                 ('warning', o.warning_due_at),
                 ('overdue', o.committed_due_at),
                 ('statutory_overdue', o.statutory_due_at)) AS d(level, due_at)
             WHERE d.due_at IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.order_no = o.order_no
                                   AND a.level = d.level AND a.due_at = d.due_at))
         UNION
         SELECT o.order_no FROM orders o, jsonb_array_elements(o.co_handlers) c
         WHERE o.co_handlers <> '[]'::jsonb
           AND o.state IN ('dispatched', 'accepted', 'return_pending') AND o.paused_at IS NULL
           AND o.order_no > $1
           AND c->'replied_at' = 'null'::jsonb
           AND NOT EXISTS (SELECT 1 FROM timers t WHERE t.order_no = o.order_no
                               AND t.level = 'co_overdue' AND t.department = c->>'department')
           AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.order_no = o.order_no
                               AND a.level = 'co_overdue' AND a.department = c->>'department'
                               AND a.due_at = (c->>'co_reply_due_at')::timestamptz))
     SELECT o.* FROM orders o JOIN needy USING (order_no)
     WHERE o.state IN ('dispatched', 'accepted', 'return_pending') AND o.paused_at IS NULL
     ORDER BY o.order_no
     LIMIT $2
     FOR UPDATE OF o SKIP LOCKED";

/// The repair's arming: alerted deadlines stay alerted (a co-handler's per department),
/// and a chain still there, or one another sweep re-armed meanwhile, is left as it is.
const REPAIR_ARM_SQL: &str = crate::timers::arm_sql!(
    "WHERE NOT EXISTS (SELECT 1 FROM alerts a WHERE a.order_no = r.order_no
                           AND a.level = r.level AND a.due_at = r.due_at
                           AND (r.level <> 'co_overdue' OR a.department = r.department))",
    "WHERE NOT EXISTS (SELECT 1 FROM timers t WHERE t.order_no = c.order_no
                           AND t.department = c.department AND (t.level = 'co_overdue') = c.co)",
    "ON CONFLICT DO NOTHING RETURNING order_no, 1 + cardinality(then_levels)"
);

/// One repair sweep over every open order, a batch per transaction.
pub async fn repair_timers(pool: &PgPool) -> Result<Repaired, StoreError> {
    let mut total = Repaired::default();
    let mut cursor = String::new();
    loop {
        let mut tx = crate::begin(pool).await?;
        // A sweep is one big scan: compiling it (JIT) costs more than it saves.
        sqlx::query("SET LOCAL jit = off").execute(&mut *tx).await?;
        let rows = sqlx::query(REPAIR_CANDIDATES_SQL)
            .bind(&cursor)
            .bind(REPAIR_BATCH)
            .fetch_all(&mut *tx)
            .await?;
        let orders = rows
            .iter()
            .map(|row| order_from_row(row).map(|(order, _)| order))
            .collect::<Result<Vec<_>, _>>()?;
        let Some(last) = orders.last() else {
            tx.rollback().await?;
            break;
        };
        cursor = last.order_no.clone();
        let live: Vec<_> = orders.iter().flat_map(|o| o.live_timers()).collect();
        let timers = TimerColumns::of(&live);
        let armed: Vec<(String, i32)> = sqlx::query_as(REPAIR_ARM_SQL)
            .bind(&timers.order_nos)
            .bind(&timers.levels)
            .bind(&timers.due)
            .bind(&timers.departments)
            .fetch_all(&mut *tx)
            .await?;
        if !armed.is_empty() {
            crate::notify(&mut tx, TIMERS_NOTIFY_CHANNEL).await?;
        }
        tx.commit().await?;
        total.orders += armed.iter().map(|(o, _)| o).collect::<HashSet<_>>().len();
        total.timers += armed
            .iter()
            .map(|(_, levels)| *levels as usize)
            .sum::<usize>();
        if orders.len() < REPAIR_BATCH as usize {
            break;
        }
    }
    Ok(total)
}

/// Marks every appointment still only booked after its slot's day (business time) ended
/// as a no-show, with a timeline entry; returns how many. Idempotent: a marked
/// appointment is no longer `booked`. A late check-in is still accepted afterwards.
pub async fn mark_no_shows(pool: &PgPool) -> Result<u64, StoreError> {
    let marked: i64 = sqlx::query_scalar(
        "WITH marked AS (
             UPDATE appointments
             SET state = 'no_show', version = version + 1, updated_at = now()
             WHERE state = 'booked'
               AND slot_start < (date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai')
                                 AT TIME ZONE 'Asia/Shanghai')
             RETURNING order_no, slot_start),
         recorded AS (
             INSERT INTO order_events (order_no, event_id, event_type, actor, occurred_at, detail)
             SELECT order_no, gen_random_uuid(), 'appointment.no_show', 'engine', now(),
                    jsonb_build_object('slot_start', slot_start,
                                       'effect', jsonb_build_object('state', 'no_show'))
             FROM marked
             RETURNING 1)
         SELECT count(*) FROM recorded",
    )
    .fetch_one(pool)
    .await?;
    Ok(marked as u64)
}
