//! The counts behind the KPIs of a period, from the timeline, the dispatches and the hall
//! (the rates themselves are `hotline_core::kpi`).

use crate::StoreError;
use chrono::{DateTime, Utc};
use hotline_core::kpi::{
    CallbackCounts, DispatchCounts, HallFigures, PeriodCounts, ReturnSpan, TimelyCounts, UrgeCounts,
};
use hotline_schema::event::EventType;
use sqlx::{PgPool, Row};

/// Counts events of `[from, to)`, for one department or all.
pub async fn period_counts(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    department: Option<&str>,
    basically_satisfied_counts: bool,
) -> Result<PeriodCounts, StoreError> {
    let callbacks = sqlx::query(
        "SELECT detail->'effect'->>'department' AS department, count(*) AS rated,
                count(*) FILTER (WHERE detail->>'rating' IN ('very_satisfied', 'satisfied')
                                    OR (detail->>'rating' = 'basically_satisfied' AND $3))
                    AS satisfied,
                count(*) FILTER (WHERE (detail->>'resolved')::boolean) AS resolved,
                count(*) FILTER (WHERE (detail->'effect'->>'reopened')::boolean) AS reopened,
                count(*) FILTER (WHERE EXISTS (
                    SELECT 1 FROM order_events a
                    WHERE a.order_no = f.order_no AND a.event_type = 'order.appeal_decided'
                      AND (a.detail->'effect'->>'upheld')::boolean
                      AND a.detail->'effect'->>'callback_event_id' = f.event_id::text))
                    AS excluded
         FROM order_events f
         WHERE event_type = 'order.feedback' AND occurred_at >= $1 AND occurred_at < $2
           AND ($4::text IS NULL OR detail->'effect'->>'department' = $4)
         GROUP BY 1",
    )
    .bind(from)
    .bind(to)
    .bind(basically_satisfied_counts)
    .bind(department)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| {
        Ok(CallbackCounts {
            department: r.try_get("department")?,
            rated: r.try_get("rated")?,
            satisfied: r.try_get("satisfied")?,
            resolved: r.try_get("resolved")?,
            reopened: r.try_get("reopened")?,
            excluded: r.try_get("excluded")?,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    // `who`: the effect's key naming the department counted (`department`, the lead; or
    // `co_handler`); entries of co-handlers are counted apart from the lead's.
    let timely =
        async |event_type: EventType, who: &'static str| -> Result<Vec<TimelyCounts>, StoreError> {
            let rows = sqlx::query(
                "SELECT detail->'effect'->>$5 AS department, count(*) AS total,
                    count(*) FILTER (WHERE (detail->'effect'->>'on_time')::boolean) AS on_time
             FROM order_events
             WHERE event_type = $1 AND occurred_at >= $2 AND occurred_at < $3
               AND ($4::text IS NULL OR detail->'effect'->>$5 = $4)
               AND (detail->'effect' ? 'co_handler') = ($5 = 'co_handler')
             GROUP BY 1",
            )
            .bind(event_type.as_str())
            .bind(from)
            .bind(to)
            .bind(department)
            .bind(who)
            .fetch_all(pool)
            .await?;
            Ok(rows
                .iter()
                .map(|r| {
                    Ok(TimelyCounts {
                        department: r.try_get("department")?,
                        total: r.try_get("total")?,
                        on_time: r.try_get("on_time")?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()?)
        };
    let accepts = timely(EventType::OrderAccepted, "department").await?;
    let replies = timely(EventType::OrderReplied, "department").await?;
    let co_replies = timely(EventType::OrderCoReplied, "co_handler").await?;
    // Counted in the database: a month of dispatches is hundreds of thousands of rows, and
    // only the returned ones are needed one by one (for the working time they cost).
    let dispatches = sqlx::query(
        "SELECT department, rule, count(*) AS dispatched, count(returned_at) AS returned,
                count(*) FILTER (WHERE return_outcome = 'approved') AS returns_approved,
                count(*) FILTER (WHERE return_outcome = 'rejected') AS returns_rejected
         FROM dispatches
         WHERE dispatched_at >= $1 AND dispatched_at < $2 AND purpose = 'handle'
           AND ($3::text IS NULL OR department = $3)
         GROUP BY 1, 2",
    )
    .bind(from)
    .bind(to)
    .bind(department)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| {
        Ok(DispatchCounts {
            department: r.try_get("department")?,
            rule: r.try_get("rule")?,
            dispatched: r.try_get("dispatched")?,
            returned: r.try_get("returned")?,
            returns_approved: r.try_get("returns_approved")?,
            returns_rejected: r.try_get("returns_rejected")?,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let returns = sqlx::query(
        "SELECT rule, dispatched_at, returned_at FROM dispatches
         WHERE dispatched_at >= $1 AND dispatched_at < $2 AND returned_at IS NOT NULL
           AND purpose = 'handle' AND return_outcome IS DISTINCT FROM 'rejected'
           AND ($3::text IS NULL OR department = $3)",
    )
    .bind(from)
    .bind(to)
    .bind(department)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| {
        Ok(ReturnSpan {
            rule: r.try_get("rule")?,
            dispatched_at: r.try_get("dispatched_at")?,
            returned_at: r.try_get("returned_at")?,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let hall = sqlx::query(
        "SELECT service_point, count(*) AS completed,
                avg(extract(epoch FROM called_at - checked_in_at))::float8 AS avg_waiting_seconds,
                avg(extract(epoch FROM completed_at - called_at))::float8 AS avg_handling_seconds,
                count(*) FILTER (WHERE completed_at - called_at <= interval '30 minutes')
                    AS within_30m
         FROM appointments
         WHERE state = 'completed' AND completed_at >= $1 AND completed_at < $2
         GROUP BY 1 ORDER BY 1",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| {
        Ok(HallFigures {
            service_point: r.try_get("service_point")?,
            completed: r.try_get("completed")?,
            avg_waiting_seconds: r.try_get("avg_waiting_seconds")?,
            avg_handling_seconds: r.try_get("avg_handling_seconds")?,
            within_30m: r.try_get("within_30m")?,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    // Orders urged per level (催办/督办/挂牌督办), each order once per level; a raise to 督办
    // at the statutory deadline counts as `supervision`.
    let urges = sqlx::query(
        "SELECT detail->'effect'->>'department' AS department,
                coalesce(detail->>'level', 'reminder') AS level,
                count(DISTINCT order_no) AS orders
         FROM order_events
         WHERE event_type IN ('order.urged', 'order.escalated')
           AND occurred_at >= $1 AND occurred_at < $2
           AND ($3::text IS NULL OR detail->'effect'->>'department' = $3)
         GROUP BY 1, 2",
    )
    .bind(from)
    .bind(to)
    .bind(department)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| {
        let level: String = r.try_get("level")?;
        Ok(UrgeCounts {
            department: r.try_get("department")?,
            level: level
                .parse()
                .map_err(|e| StoreError::Defect(format!("urge level: {e}")))?,
            orders: r.try_get("orders")?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(PeriodCounts {
        co_replies,
        urges,
        callbacks,
        accepts,
        replies,
        dispatches,
        returns,
        hall,
    })
}
