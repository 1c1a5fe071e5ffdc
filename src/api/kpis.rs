//! `GET /api/kpis?from=&to=&department=`: what supervisors are measured on, per
//! department and period, per service point of the hall, and per routing rule.
//!
//! Every figure is counted from the timeline (the events that happened in the period), so
//! a period's numbers do not change when orders move on later:
//! - 满意率 `satisfaction_rate` = satisfied ÷ rated callbacks ("basically satisfied" counts
//!   when `kpi.basically_satisfied_counts`);
//! - 解决率 `resolution_rate` = callbacks saying resolved ÷ rated callbacks;
//! - 响应率/及时签收率 `response_rate` = acceptances before the sign deadline ÷ dispatches;
//! - 按时办结率 `on_time_rate` = replies before the committed deadline ÷ replies;
//! - 回退率 `return_rate` = dispatches returned ÷ dispatches;
//! - 重办率 `reopen_rate` = callbacks that reopened the order ÷ rated callbacks;
//! - the hall: average waiting (checked in → called) and handling (called → completed)
//!   time, and the share of visits handled within 30 minutes, by completion time;
//! - per rule: dispatches, how many were returned, and the working time the departments
//!   that returned them held them (charged to the routing, not to the citizen).

use super::tokens::Caller;
use super::{Api, ApiError};
use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, Default, Deserialize)]
pub struct KpiQuery {
    /// Start of the period (inclusive): RFC 3339, or a date (midnight, business time).
    pub from: Option<String>,
    /// End of the period (exclusive); default now.
    pub to: Option<String>,
    pub department: Option<String>,
}

/// `2026-10-01` (midnight Asia/Shanghai) or an RFC 3339 instant.
fn instant(raw: &str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|d| hotline_schema::BUSINESS_TZ.from_local_datetime(&d).single())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "{raw:?}: use a date (2026-10-01) or RFC 3339 (2026-10-01T00:00:00+08:00)"
            ))
        })
}

fn ratio(numerator: i64, denominator: i64) -> Value {
    if denominator == 0 {
        Value::Null
    } else {
        json!(numerator as f64 / denominator as f64)
    }
}

#[derive(sqlx::FromRow)]
struct CallbackRow {
    department: String,
    rated: i64,
    satisfied: i64,
    resolved: i64,
    reopened: i64,
}

#[derive(sqlx::FromRow)]
struct CountRow {
    department: String,
    total: i64,
    on_time: i64,
}

#[derive(sqlx::FromRow)]
struct DispatchRow {
    department: String,
    rule: String,
    dispatched_at: DateTime<Utc>,
    returned_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct HallRow {
    service_point: String,
    completed: i64,
    avg_waiting_seconds: Option<f64>,
    avg_handling_seconds: Option<f64>,
    within_30m: i64,
}

/// Per department, the counts behind the rates.
#[derive(Default)]
struct Tally {
    dispatched: i64,
    returned: i64,
    accepted: i64,
    accepted_on_time: i64,
    replied: i64,
    replied_on_time: i64,
    rated: i64,
    satisfied: i64,
    resolved: i64,
    reopened: i64,
}

/// `GET /api/kpis`.
pub async fn get_kpis(
    State(api): State<Arc<Api>>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<KpiQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let mut department = query.department.filter(|d| !d.trim().is_empty());
    if let Some(own) = caller.role.department() {
        match &department {
            Some(asked) if asked != own => {
                return Err(ApiError::forbidden(format!(
                    "a handler of {own} sees only its own department's figures"
                )));
            }
            _ => department = Some(own.to_owned()),
        }
    }
    let to = match &query.to {
        Some(raw) => instant(raw)?,
        None => Utc::now(),
    };
    let from = match &query.from {
        Some(raw) => instant(raw)?,
        None => to - chrono::TimeDelta::days(30),
    };
    if from >= to {
        return Err(ApiError::bad_request("from must be before to"));
    }
    let db = |e: sqlx::Error| ApiError::database(&e);
    let pool = &api.pool;

    let callbacks: Vec<CallbackRow> = sqlx::query_as(
        "SELECT detail->'effect'->>'department' AS department, count(*) AS rated,
                count(*) FILTER (WHERE detail->>'rating' IN ('very_satisfied', 'satisfied')
                                    OR (detail->>'rating' = 'basically_satisfied' AND $3))
                    AS satisfied,
                count(*) FILTER (WHERE (detail->>'resolved')::boolean) AS resolved,
                count(*) FILTER (WHERE (detail->'effect'->>'reopened')::boolean) AS reopened
         FROM order_events
         WHERE event_type = 'order.feedback' AND occurred_at >= $1 AND occurred_at < $2
           AND ($4::text IS NULL OR detail->'effect'->>'department' = $4)
         GROUP BY 1",
    )
    .bind(from)
    .bind(to)
    .bind(api.kpi.basically_satisfied_counts)
    .bind(&department)
    .fetch_all(pool)
    .await
    .map_err(db)?;
    let timely = |event_type: &'static str| {
        sqlx::query_as::<_, CountRow>(
            "SELECT detail->'effect'->>'department' AS department, count(*) AS total,
                    count(*) FILTER (WHERE (detail->'effect'->>'on_time')::boolean) AS on_time
             FROM order_events
             WHERE event_type = $1 AND occurred_at >= $2 AND occurred_at < $3
               AND ($4::text IS NULL OR detail->'effect'->>'department' = $4)
             GROUP BY 1",
        )
        .bind(event_type)
        .bind(from)
        .bind(to)
        .bind(&department)
        .fetch_all(pool)
    };
    let accepts = timely("order.accepted").await.map_err(db)?;
    let replies = timely("order.replied").await.map_err(db)?;
    let dispatches: Vec<DispatchRow> = sqlx::query_as(
        "SELECT department, rule, dispatched_at, returned_at FROM dispatches
         WHERE dispatched_at >= $1 AND dispatched_at < $2
           AND ($3::text IS NULL OR department = $3)",
    )
    .bind(from)
    .bind(to)
    .bind(&department)
    .fetch_all(pool)
    .await
    .map_err(db)?;
    let hall: Vec<HallRow> = sqlx::query_as(
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
    .await
    .map_err(db)?;

    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for c in callbacks {
        let t = tallies.entry(c.department).or_default();
        (t.rated, t.satisfied, t.resolved, t.reopened) =
            (c.rated, c.satisfied, c.resolved, c.reopened);
    }
    for a in accepts {
        let t = tallies.entry(a.department).or_default();
        (t.accepted, t.accepted_on_time) = (a.total, a.on_time);
    }
    for r in replies {
        let t = tallies.entry(r.department).or_default();
        (t.replied, t.replied_on_time) = (r.total, r.on_time);
    }
    let calendar = api.dispatcher.current().clock.calendar.clone();
    let mut rules: BTreeMap<String, (i64, i64, f64)> = BTreeMap::new();
    for d in &dispatches {
        let t = tallies.entry(d.department.clone()).or_default();
        t.dispatched += 1;
        let rule = rules.entry(d.rule.clone()).or_default();
        rule.0 += 1;
        if let Some(returned_at) = d.returned_at {
            t.returned += 1;
            rule.1 += 1;
            rule.2 += calendar
                .working_time_between(d.dispatched_at, returned_at)
                .as_secs_f64();
        }
    }

    let departments: Vec<Value> = tallies
        .into_iter()
        .map(|(department, t)| {
            json!({
                "department": department,
                "dispatched": t.dispatched,
                "accepted": t.accepted,
                "accepted_on_time": t.accepted_on_time,
                "response_rate": ratio(t.accepted_on_time, t.dispatched),
                "replied": t.replied,
                "replied_on_time": t.replied_on_time,
                "on_time_rate": ratio(t.replied_on_time, t.replied),
                "rated": t.rated,
                "satisfied": t.satisfied,
                "satisfaction_rate": ratio(t.satisfied, t.rated),
                "resolved": t.resolved,
                "resolution_rate": ratio(t.resolved, t.rated),
                "returned": t.returned,
                "return_rate": ratio(t.returned, t.dispatched),
                "reopened": t.reopened,
                "reopen_rate": ratio(t.reopened, t.rated),
            })
        })
        .collect();
    let service_points: Vec<Value> = hall
        .into_iter()
        .map(|h| {
            json!({
                "service_point": h.service_point,
                "completed": h.completed,
                "avg_waiting_seconds": h.avg_waiting_seconds,
                "avg_handling_seconds": h.avg_handling_seconds,
                "within_30m": h.within_30m,
                "within_30m_share": ratio(h.within_30m, h.completed),
            })
        })
        .collect();
    let rules: Vec<Value> = rules
        .into_iter()
        .map(|(rule, (dispatched, returned, lost))| {
            json!({
                "rule": rule,
                "dispatched": dispatched,
                "returned": returned,
                "return_rate": ratio(returned, dispatched),
                "lost_working_seconds": lost,
            })
        })
        .collect();
    Ok(axum::Json(json!({
        "from": hotline_schema::business_time(from),
        "to": hotline_schema::business_time(to),
        "basically_satisfied_counts": api.kpi.basically_satisfied_counts,
        "departments": departments,
        "service_points": service_points,
        "rules": rules,
    }))
    .into_response())
}
