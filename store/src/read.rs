//! What the HTTP API reads: one order with everything hanging off it, and recent alerts.

use crate::StoreError;
use crate::rows::order_from_row;
use crate::sla_sql::{SLA_AT_SQL, SLA_STATE_SQL};
use chrono::{DateTime, Utc};
use hotline_core::order::{Callback, CoHandler, Order, PendingReturn};
use hotline_schema::values::{OrderState, SlaState};
use sqlx::{PgPool, Row};
use std::collections::HashSet;
use uuid::Uuid;

/// An order as stored, read in one consistent snapshot with its dispatches, timeline and
/// alerts, its SLA state and the database clock it was judged by.
pub struct OrderSnapshot {
    pub order: Order,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sla_state: SlaState,
    pub as_of: DateTime<Utc>,
    pub dispatches: Vec<DispatchRecord>,
    pub timeline: Vec<TimelineRecord>,
    pub alerts: Vec<AlertRecord>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DispatchRecord {
    pub task_id: Uuid,
    pub dispatch_no: i32,
    pub department: String,
    pub rule: String,
    pub rule_version: i32,
    pub dispatched_at: DateTime<Utc>,
    pub returned_at: Option<DateTime<Utc>>,
    pub return_reason: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TimelineRecord {
    /// The entry's position in the order's timeline.
    pub id: i64,
    pub event_id: Uuid,
    pub event_type: String,
    pub actor: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AlertRecord {
    pub alert_id: Uuid,
    pub order_no: String,
    pub department: String,
    pub level: String,
    pub due_at: DateTime<Utc>,
    pub fired_at: DateTime<Utc>,
}

/// The order `order_no` and everything hanging off it, or `None` if there is none.
pub async fn order_snapshot(
    pool: &PgPool,
    order_no: &str,
) -> Result<Option<OrderSnapshot>, StoreError> {
    let mut tx = crate::begin(pool).await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let sql = format!(
        "SELECT orders.*, {SLA_STATE_SQL} AS sla_state, now() AS as_of
         FROM orders {SLA_AT_SQL}
         WHERE order_no = $1"
    );
    let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(order_no)
        .fetch_optional(&mut *tx)
        .await?
    else {
        return Ok(None);
    };
    let (order, version) = order_from_row(&row)?;
    let sla_state: String = row.try_get("sla_state")?;
    let dispatches = sqlx::query_as(
        "SELECT task_id, dispatch_no, department, rule, rule_version, dispatched_at,
                returned_at, return_reason
         FROM dispatches WHERE order_no = $1 ORDER BY dispatch_no",
    )
    .bind(order_no)
    .fetch_all(&mut *tx)
    .await?;
    let timeline = sqlx::query_as(
        "SELECT id, event_id, event_type, actor, occurred_at, recorded_at, detail
         FROM order_events WHERE order_no = $1 ORDER BY id",
    )
    .bind(order_no)
    .fetch_all(&mut *tx)
    .await?;
    let alerts = sqlx::query_as(
        "SELECT alert_id, order_no, department, level, due_at, fired_at
         FROM alerts WHERE order_no = $1 ORDER BY fired_at, alert_id",
    )
    .bind(order_no)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(OrderSnapshot {
        version,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        sla_state: sla_state
            .parse()
            .map_err(|e| StoreError::Defect(format!("sla_state: {e}")))?,
        as_of: row.try_get("as_of")?,
        order,
        dispatches,
        timeline,
        alerts,
    }))
}

/// Which alerts to list.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub department: Option<String>,
    pub level: Option<String>,
    pub order_no: Option<String>,
    /// Fired at or after this instant.
    pub since: Option<DateTime<Utc>>,
    pub limit: i64,
}

/// Alerts matching `filter`, newest first.
pub async fn alerts(pool: &PgPool, filter: &AlertFilter) -> Result<Vec<AlertRecord>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT alert_id, order_no, department, level, due_at, fired_at
         FROM alerts
         WHERE ($1::text IS NULL OR department = $1)
           AND ($2::text IS NULL OR level = $2)
           AND ($3::text IS NULL OR order_no = $3)
           AND ($4::timestamptz IS NULL OR fired_at >= $4)
         ORDER BY fired_at DESC, alert_id DESC
         LIMIT $5",
    )
    .bind(&filter.department)
    .bind(&filter.level)
    .bind(&filter.order_no)
    .bind(filter.since)
    .bind(filter.limit)
    .fetch_all(pool)
    .await?)
}

/// The department holding `order_no`, if there is such an order.
pub async fn holder(pool: &PgPool, order_no: &str) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT department FROM orders WHERE order_no = $1")
            .bind(order_no)
            .fetch_optional(pool)
            .await?,
    )
}

/// The departments that know of `order_no`: its holder, its co-handlers (协办) and the
/// department rated on its callback; empty if there is no such order.
pub async fn involved(pool: &PgPool, order_no: &str) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT d FROM orders o,
             LATERAL (SELECT o.department AS d
                      UNION SELECT c->>'department' FROM jsonb_array_elements(o.co_handlers) c
                      UNION SELECT o.callback->>'department') ds
         WHERE o.order_no = $1 AND d IS NOT NULL",
    )
    .bind(order_no)
    .fetch_all(pool)
    .await?)
}

/// A place in the alert feed: the inserting transaction's id and the alert's sequence
/// number within the table (see migration 0008).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FeedPosition {
    pub xact: i64,
    pub seq: i64,
}

impl FeedPosition {
    /// The last place in a transaction's share of the feed: the largest number the
    /// documented id pattern admits (18 digits, so that every place handed out, such as
    /// the one a board page resumes from, is one a client may send back). The sequence
    /// that numbers alerts (`feed_seq`) will not come near it.
    const LAST_SEQ: i64 = 999_999_999_999_999_999;

    /// Behind every alert a transaction older than `horizon` could have written.
    fn settled_before(horizon: i64) -> FeedPosition {
        FeedPosition {
            xact: horizon - 1,
            seq: FeedPosition::LAST_SEQ,
        }
    }
}

/// What one read of the feed found: the alerts after the position asked for, in feed
/// order, and the position to read from next (past the last alert, or past everything
/// settled if fewer than the limit were found).
pub struct FeedPage {
    pub alerts: Vec<(FeedPosition, AlertRecord)>,
    pub next: FeedPosition,
}

/// Where a reader starting "now" begins: a position, and the alerts past it that were
/// already committed when it was taken (a transaction older than them was still running,
/// so the position cannot pass them without passing that transaction's alerts too).
pub struct FeedHead {
    pub position: FeedPosition,
    pub already_committed: HashSet<Uuid>,
}

/// The head of the feed: a reader starting here sees the alerts committed from now on,
/// and none committed before.
pub async fn feed_head(pool: &PgPool) -> Result<FeedHead, StoreError> {
    let mut tx = crate::begin(pool).await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let horizon: i64 =
        sqlx::query_scalar("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            .fetch_one(&mut *tx)
            .await?;
    let already_committed: Vec<Uuid> =
        sqlx::query_scalar("SELECT alert_id FROM alerts WHERE feed_xact >= $1")
            .bind(horizon)
            .fetch_all(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(FeedHead {
        position: FeedPosition::settled_before(horizon),
        already_committed: already_committed.into_iter().collect(),
    })
}

/// Alerts after `after` (of `department`, if given, and of `level`, if given), at most
/// `limit`. Only alerts of transactions older than every transaction still running are
/// read, so an alert never appears later behind a position already passed.
pub async fn alert_feed(
    pool: &PgPool,
    after: FeedPosition,
    department: Option<&str>,
    level: Option<&str>,
    limit: i64,
) -> Result<FeedPage, StoreError> {
    let mut tx = crate::begin(pool).await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let horizon: i64 =
        sqlx::query_scalar("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            .fetch_one(&mut *tx)
            .await?;
    let rows = sqlx::query(
        "SELECT feed_xact, feed_seq, alert_id, order_no, department, level, due_at, fired_at
         FROM alerts
         WHERE (feed_xact, feed_seq) > ($1, $2) AND feed_xact < $3
           AND ($4::text IS NULL OR department = $4)
           AND ($5::text IS NULL OR level = $5)
         ORDER BY feed_xact, feed_seq
         LIMIT $6",
    )
    .bind(after.xact)
    .bind(after.seq)
    .bind(horizon)
    .bind(department)
    .bind(level)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut alerts = Vec::with_capacity(rows.len());
    for row in &rows {
        let position = FeedPosition {
            xact: row.try_get("feed_xact")?,
            seq: row.try_get("feed_seq")?,
        };
        alerts.push((position, sqlx::FromRow::from_row(row)?));
    }
    let next = match alerts.last() {
        Some((last, _)) if alerts.len() as i64 >= limit => *last,
        _ => after.max(FeedPosition::settled_before(horizon)),
    };
    Ok(FeedPage { alerts, next })
}

/// An order in a work queue of the pages.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QueueRow {
    pub order_no: String,
    pub title: String,
    pub department: String,
    #[sqlx(try_from = "String")]
    pub state: OrderState,
    pub urgency: String,
    pub received_at: DateTime<Utc>,
    pub sign_due_at: DateTime<Utc>,
    pub committed_due_at: DateTime<Utc>,
    pub statutory_due_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub extension_requested_days: Option<i32>,
    pub paused_at: Option<DateTime<Utc>>,
    pub statutory_limit: Option<String>,
    /// The catalog matter it was recognised as, if any (its sign limit may be its own).
    pub matter_code: Option<String>,
    /// The highest supervision level it was urged at (`reminder`, `supervision`, `listed`).
    pub urge_level: Option<String>,
    /// Its co-handling departments (协办), and how many of them have co-replied.
    pub co_total: i32,
    pub co_replied: i32,
}

/// The columns of a [`QueueRow`], for the queues' statements.
const QUEUE_COLUMNS: &str = "order_no, title, department, state, urgency, received_at, sign_due_at,
    committed_due_at, statutory_due_at, accepted_at, extension_requested_days, paused_at,
    statutory_limit, matter_code, urge_level, jsonb_array_length(co_handlers)::int4 AS co_total,
    (SELECT count(*)::int4 FROM jsonb_array_elements(co_handlers) e
     WHERE e->>'replied_at' IS NOT NULL) AS co_replied";

/// Which orders a work queue of the pages shows.
#[derive(Debug, Clone, Default)]
pub struct QueueFilter<'a> {
    pub department: Option<&'a str>,
    pub states: &'a [OrderState],
    /// `Some(true)`: only orders with an extension asked and not decided yet.
    pub extension_asked: Option<bool>,
    /// Only orders past their warning point (warning, overdue, statutory overdue), whose
    /// clock runs.
    pub warned: bool,
    pub limit: i64,
}

/// The orders `filter` names, the nearest deadline first (`next_due_at`, the order list's
/// key: the sooner of the sign and committed deadlines while not accepted, the committed
/// one while handled; orders without a running clock last).
pub async fn queue(pool: &PgPool, filter: &QueueFilter<'_>) -> Result<Vec<QueueRow>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {QUEUE_COLUMNS}
         FROM orders
         WHERE state = ANY($1) AND ($2::text IS NULL OR department = $2)
           AND ($3::boolean IS NULL OR (extension_requested_days IS NOT NULL) = $3)
           AND (NOT $4 OR (warning_due_at <= now() AND paused_at IS NULL))
         ORDER BY next_due_at, order_no COLLATE \"C\"
         LIMIT $5"
    )))
    .bind(
        filter
            .states
            .iter()
            .map(|state| state.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(filter.department)
    .bind(filter.extension_asked)
    .bind(filter.warned)
    .bind(filter.limit)
    .fetch_all(pool)
    .await?)
}

/// An order a department co-handles (协办), with that department's part of it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CoQueueRow {
    #[sqlx(flatten)]
    pub order: QueueRow,
    pub co_handler: sqlx::types::Json<CoHandler>,
}

/// The open orders `department` co-handles (the lead has not replied: its co-reply may
/// still be sent), those it has not co-replied to first, then by co-reply deadline.
pub async fn co_queue(
    pool: &PgPool,
    department: &str,
    limit: i64,
) -> Result<Vec<CoQueueRow>, StoreError> {
    let wanted = serde_json::json!([{ "department": department }]);
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {QUEUE_COLUMNS}, c.co_handler
         FROM orders,
              LATERAL (SELECT e AS co_handler FROM jsonb_array_elements(co_handlers) e
                       WHERE e->>'department' = $1 LIMIT 1) c
         WHERE co_handlers <> '[]'::jsonb AND co_handlers @> $2
           AND state IN ('dispatched', 'accepted', 'suspended', 'return_pending')
         ORDER BY c.co_handler->'replied_at' <> 'null'::jsonb,
                  c.co_handler->>'co_reply_due_at', order_no COLLATE \"C\"
         LIMIT $3"
    )))
    .bind(department)
    .bind(wanted)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// A return waiting for the operators' review (退单审核).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReturnQueueRow {
    #[sqlx(flatten)]
    pub order: QueueRow,
    pub pending_return: sqlx::types::Json<PendingReturn>,
}

/// Orders in `return_pending`, the oldest return first.
pub async fn return_queue(pool: &PgPool, limit: i64) -> Result<Vec<ReturnQueueRow>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {QUEUE_COLUMNS}, pending_return
         FROM orders
         WHERE state = 'return_pending' AND pending_return IS NOT NULL
           AND pending_return <> 'null'::jsonb
         ORDER BY pending_return->>'returned_at', order_no COLLATE \"C\"
         LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// An appeal of a rating waiting for a supervisor (评价复核).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AppealQueueRow {
    #[sqlx(flatten)]
    pub order: QueueRow,
    pub callback: sqlx::types::Json<Callback>,
}

/// Orders whose latest callback has an appeal not decided yet, the oldest appeal first.
pub async fn appeal_queue(pool: &PgPool, limit: i64) -> Result<Vec<AppealQueueRow>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {QUEUE_COLUMNS}, callback
         FROM orders
         WHERE callback #> '{{appeal,decision}}' = 'null'::jsonb
         ORDER BY callback #>> '{{appeal,appealed_at}}', order_no COLLATE \"C\"
         LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// The next number for an order registered at the operator's desk.
/// The reason given with each order's latest extension request (申请延期理由), for the
/// supervisor who decides it.
pub async fn extension_reasons(
    pool: &PgPool,
    order_nos: &[String],
) -> Result<std::collections::HashMap<String, String>, StoreError> {
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT DISTINCT ON (order_no) order_no, detail->>'reason' FROM order_events
         WHERE order_no = ANY($1) AND event_type = $2 ORDER BY order_no, id DESC",
    )
    .bind(order_nos)
    .bind(hotline_schema::event::EventType::ExtensionRequested.as_str())
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(order_no, reason)| Some((order_no, reason?)))
        .collect())
}

/// What the callback team needs to call a citizen back about a replied order.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CallbackDetail {
    pub order_no: String,
    pub department: String,
    pub citizen_name: Option<String>,
    pub citizen_phone: Option<String>,
    pub confidential: bool,
    /// The department's latest reply (答复), what the citizen is asked about.
    pub reply: Option<String>,
    pub resolved: Option<bool>,
}

/// [`CallbackDetail`] of each of `order_nos`.
pub async fn callback_details(
    pool: &PgPool,
    order_nos: &[String],
) -> Result<Vec<CallbackDetail>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT o.order_no, o.department, o.citizen_name, o.citizen_phone, o.confidential,
                r.detail->>'reply' AS reply, (r.detail->>'resolved')::boolean AS resolved
         FROM orders o
         LEFT JOIN LATERAL (
             SELECT e.detail FROM order_events e
             WHERE e.order_no = o.order_no AND e.event_type = $2
             ORDER BY e.id DESC LIMIT 1) r ON true
         WHERE o.order_no = ANY($1)",
    )
    .bind(order_nos)
    .bind(hotline_schema::event::EventType::OrderReplied.as_str())
    .fetch_all(pool)
    .await?)
}

/// The order an accepted event was recorded on (a registration submitted twice is
/// answered with the order the first one made).
pub async fn order_of_event(
    pool: &PgPool,
    event_id: uuid::Uuid,
) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT order_no FROM order_events WHERE event_id = $1")
            .bind(event_id)
            .fetch_optional(pool)
            .await?,
    )
}

/// Whether an order of this number exists.
pub async fn order_exists(pool: &PgPool, order_no: &str) -> Result<bool, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM orders WHERE order_no = $1)")
            .bind(order_no)
            .fetch_one(pool)
            .await?,
    )
}

pub async fn next_desk_number(pool: &PgPool) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT nextval('desk_order_numbers')")
        .fetch_one(pool)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settled_before_a_horizon_is_the_last_place_of_the_transaction_before_it() {
        // (horizon: the oldest transaction still running, the position behind it)
        let cases = [(100, 99), (2, 1), (1, 0)];
        for (horizon, xact) in cases {
            assert_eq!(
                FeedPosition::settled_before(horizon),
                FeedPosition {
                    xact,
                    seq: 999_999_999_999_999_999
                },
                "{horizon}"
            );
        }
        assert!(FeedPosition::settled_before(100) < FeedPosition { xact: 100, seq: 0 });
    }
}
