//! The daily supervision digest: exactly once per department and working day across any
//! number of engines (the `digests` primary key decides who sends), in one transaction.

use crate::sla_sql::{SLA_AT_SQL, SLA_STATE_SQL};
use crate::{StoreError, outbox};
use chrono::{DateTime, NaiveDate, Utc};
use hotline_core::calendar::BusinessCalendar;
use hotline_core::digest::{self, DigestCounts, DigestExtras, DigestLine};
use hotline_core::outbox::OutboxMessage;
use hotline_schema::message::{Digest, UrgeLevelCounts};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use std::collections::HashMap;
use uuid::Uuid;

/// What a digest run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestOutcome {
    NotAWorkingDay,
    /// Digests sent by this run (0 when another process had sent them).
    Sent(usize),
}

/// Per department of `$1`: its counts on every row, and its open orders worst first, at
/// most `$2` of them (the first row is there even when nothing needs chasing).
fn digest_sql() -> String {
    format!(
        "WITH open AS (
             SELECT department, order_no, state, matter_name, received_at, committed_due_at,
                    statutory_due_at, urge_count, urge_level, {SLA_STATE_SQL} AS sla_state,
                    COALESCE(state = 'dispatched' AND sign_due_at <= now(), false)
                        AS sign_overdue
             FROM orders {SLA_AT_SQL}
             WHERE state IN ('dispatched', 'accepted') AND paused_at IS NULL
               AND department = ANY($1)
         ), ranked AS (
             SELECT *,
                    count(*) OVER w AS open,
                    count(*) FILTER (WHERE sla_state <> 'on_track' OR sign_overdue) OVER w
                        AS flagged_count,
                    count(*) FILTER (WHERE sign_overdue) OVER w AS sign_overdue_count,
                    count(*) FILTER (WHERE sla_state = 'warning') OVER w AS warning_count,
                    count(*) FILTER (WHERE sla_state = 'overdue') OVER w AS overdue_count,
                    count(*) FILTER (WHERE sla_state = 'statutory_overdue') OVER w
                        AS statutory_overdue_count,
                    row_number() OVER (PARTITION BY department ORDER BY
                        CASE sla_state WHEN 'statutory_overdue' THEN 0 WHEN 'overdue' THEN 1
                                       WHEN 'warning' THEN 2 ELSE 3 END,
                        sign_overdue DESC, committed_due_at, order_no) AS rank
             FROM open
             WINDOW w AS (PARTITION BY department)
         )
         SELECT department, order_no, state, sla_state, sign_overdue, matter_name, received_at,
                committed_due_at, statutory_due_at, urge_count, urge_level, open, flagged_count,
                sign_overdue_count, warning_count, overdue_count, statutory_overdue_count
         FROM ranked WHERE rank <= $2
         ORDER BY department, rank"
    )
}

fn digest_line(row: &PgRow) -> Result<DigestLine, StoreError> {
    let state: String = row.try_get("state")?;
    let sla_state: String = row.try_get("sla_state")?;
    let defect = |e: hotline_schema::names::UnknownName| StoreError::Defect(e.to_string());
    Ok(DigestLine {
        department: row.try_get("department")?,
        order_no: row.try_get("order_no")?,
        state: state.parse().map_err(defect)?,
        sla_state: sla_state.parse().map_err(defect)?,
        sign_overdue: row.try_get("sign_overdue")?,
        matter_name: row.try_get("matter_name")?,
        received_at: row.try_get("received_at")?,
        committed_due_at: row.try_get("committed_due_at")?,
        statutory_due_at: row.try_get("statutory_due_at")?,
        urge_count: row.try_get("urge_count")?,
        urge_level: row
            .try_get::<Option<String>, _>("urge_level")?
            .map(|l| l.parse())
            .transpose()
            .map_err(defect)?,
        counts: DigestCounts {
            open: row.try_get("open")?,
            flagged: row.try_get("flagged_count")?,
            sign_overdue: row.try_get("sign_overdue_count")?,
            warning: row.try_get("warning_count")?,
            overdue: row.try_get("overdue_count")?,
            statutory_overdue: row.try_get("statutory_overdue_count")?,
        },
    })
}

/// Per department of `departments`: its open orders by supervision level, the orders it
/// co-handles without having co-replied (and of those, past the co-reply deadline), the
/// returns it holds for review, and its appeals of ratings not decided yet.
const DIGEST_EXTRAS_SQL: &str = "WITH d AS (SELECT unnest($1::text[]) AS department)
     SELECT d.department,
            (SELECT count(*) FROM orders o WHERE o.department = d.department
                 AND o.state NOT IN ('closed', 'merged') AND o.urge_level = 'reminder') AS reminder,
            (SELECT count(*) FROM orders o WHERE o.department = d.department
                 AND o.state NOT IN ('closed', 'merged') AND o.urge_level = 'supervision')
                AS supervision,
            (SELECT count(*) FROM orders o WHERE o.department = d.department
                 AND o.state NOT IN ('closed', 'merged') AND o.urge_level = 'listed') AS listed,
            (SELECT count(*) FROM orders o, jsonb_array_elements(o.co_handlers) c
             WHERE o.state IN ('dispatched', 'accepted', 'suspended', 'return_pending')
               AND c->>'department' = d.department AND c->'replied_at' = 'null')
                AS co_handling,
            (SELECT count(*) FROM orders o, jsonb_array_elements(o.co_handlers) c
             WHERE o.state IN ('dispatched', 'accepted', 'return_pending')
               AND c->>'department' = d.department AND c->'replied_at' = 'null'
               AND (c->>'co_reply_due_at')::timestamptz <= now()) AS co_overdue,
            (SELECT count(*) FROM orders o WHERE o.department = d.department
                 AND o.state = 'return_pending') AS return_pending,
            (SELECT count(*) FROM orders o WHERE o.callback->>'department' = d.department
                 AND o.callback->'appeal' <> 'null'
                 AND o.callback->'appeal'->'decision' = 'null') AS appeals_pending
     FROM d";

async fn digest_extras(
    tx: &mut sqlx::PgConnection,
    departments: &[&str],
) -> Result<HashMap<String, DigestExtras>, StoreError> {
    let rows = sqlx::query(DIGEST_EXTRAS_SQL)
        .bind(departments)
        .fetch_all(&mut *tx)
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("department")?,
                DigestExtras {
                    urge_levels: UrgeLevelCounts {
                        reminder: r.try_get("reminder")?,
                        supervision: r.try_get("supervision")?,
                        listed: r.try_get("listed")?,
                    },
                    co_handling: r.try_get("co_handling")?,
                    co_overdue: r.try_get("co_overdue")?,
                    return_pending: r.try_get("return_pending")?,
                    appeals_pending: r.try_get("appeals_pending")?,
                },
            ))
        })
        .collect()
}

/// Sends the supervision digest of `day` for each of `departments` that has not had it
/// yet, in one transaction. Skipped on days off.
pub async fn send_digests(
    pool: &PgPool,
    calendar: &BusinessCalendar,
    departments: &[String],
    day: NaiveDate,
    scheduled_at: DateTime<Utc>,
) -> Result<DigestOutcome, StoreError> {
    if !calendar.is_working_day(day) {
        return Ok(DigestOutcome::NotAWorkingDay);
    }
    let mut tx = crate::begin(pool).await?;
    // Claim first: a second process blocks here until the first commits, then finds
    // every department taken and sends nothing.
    let ids: Vec<Uuid> = departments.iter().map(|_| Uuid::now_v7()).collect();
    let claimed: Vec<(String, Uuid)> = sqlx::query_as(
        "INSERT INTO digests (department, day, digest_id)
         SELECT d, $2, id FROM UNNEST($1::text[], $3::uuid[]) AS r(d, id)
         ON CONFLICT DO NOTHING
         RETURNING department, digest_id",
    )
    .bind(departments)
    .bind(day)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    if claimed.is_empty() {
        tx.rollback().await?;
        return Ok(DigestOutcome::Sent(0));
    }
    let claimed_departments: Vec<&str> = claimed.iter().map(|(d, _)| d.as_str()).collect();
    let rows = sqlx::query(sqlx::AssertSqlSafe(digest_sql()))
        .bind(&claimed_departments)
        .bind(Digest::MAX_ORDERS as i64)
        .fetch_all(&mut *tx)
        .await?;
    let lines = rows
        .iter()
        .map(digest_line)
        .collect::<Result<Vec<_>, _>>()?;
    let generated_at: DateTime<Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut *tx)
        .await?;
    let extras = digest_extras(&mut tx, &claimed_departments).await?;
    let digests = digest::build(&claimed, day, generated_at, &lines, &extras);
    let messages: Vec<OutboxMessage> = digests
        .iter()
        .map(|d| OutboxMessage::digest(d, scheduled_at))
        .collect();
    outbox::enqueue(&mut tx, &messages).await?;
    tx.commit().await?;
    Ok(DigestOutcome::Sent(digests.len()))
}
