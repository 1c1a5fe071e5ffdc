//! `GET /api/orders/{order_no}`: one work order, its SLA state, dispatches, timeline and
//! alerts, read in one consistent snapshot.

use super::tokens::{Caller, Role};
use super::{Api, ApiError};
use axum::Extension;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use hotline_dispatcher::order::Order;
use hotline_schema::business_time;
use hotline_schema::event::OrderNo;
use serde::Serialize;
use std::sync::Arc;
use uuid::Uuid;

pub use hotline_schema::sla::{SLA_AT_SQL, SLA_STATE_SQL};

/// The order as stored, with its SLA state and the clock it was judged by.
#[derive(sqlx::FromRow)]
struct OrderRow {
    #[sqlx(flatten)]
    order: Order,
    sla_state: String,
    as_of: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct DispatchRow {
    task_id: Uuid,
    dispatch_no: i32,
    department: String,
    rule: String,
    rule_version: i32,
    dispatched_at: DateTime<Utc>,
    returned_at: Option<DateTime<Utc>>,
    return_reason: Option<String>,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    event_id: Uuid,
    event_type: String,
    actor: Option<String>,
    occurred_at: DateTime<Utc>,
    recorded_at: DateTime<Utc>,
    detail: serde_json::Value,
}

#[derive(sqlx::FromRow)]
struct AlertRow {
    alert_id: Uuid,
    department: String,
    level: String,
    due_at: DateTime<Utc>,
    fired_at: DateTime<Utc>,
}

#[derive(Serialize)]
struct Citizen {
    name: Option<String>,
    phone: Option<String>,
}

#[derive(Serialize)]
struct OrderView {
    order_no: String,
    kind: String,
    channel: String,
    category: String,
    matter_code: Option<String>,
    matter_name: Option<String>,
    district: Option<String>,
    address: Option<String>,
    urgency: String,
    title: String,
    content: String,
    citizen: Citizen,
    state: String,
    department: String,
    rule: String,
    rule_version: i32,
    dispatch_count: i32,
    sla_state: String,
    received_at: String,
    statutory_limit: Option<String>,
    sign_due_at: Option<String>,
    warning_due_at: Option<String>,
    committed_due_at: Option<String>,
    statutory_due_at: Option<String>,
    accepted_at: Option<String>,
    replied_at: Option<String>,
    closed_at: Option<String>,
    paused_at: Option<String>,
    handler: Option<String>,
    resolved: Option<bool>,
    on_time: Option<bool>,
    rating: Option<String>,
    extension_requested_days: Option<i32>,
    extension_days: i32,
    return_count: i32,
    reopen_count: i32,
    urge_count: i32,
    duplicate_of: Option<String>,
    returned_by: Vec<String>,
    version: i32,
    created_at: String,
    updated_at: String,
    /// The database's clock when this was read: what `sla_state` was judged against.
    as_of: String,
    dispatches: Vec<serde_json::Value>,
    timeline: Vec<serde_json::Value>,
    alerts: Vec<serde_json::Value>,
}

/// Whether `role` may see an order held by `department` at all. Whoever may see an order
/// sees its citizen too: the holding department has to call the citizen back.
pub fn may_see_order(role: &Role, department: &str) -> bool {
    match role {
        Role::Operator | Role::Supervisor => true,
        Role::Handler { department: own } => own == department,
    }
}

fn time(at: Option<DateTime<Utc>>) -> Option<String> {
    at.map(business_time)
}

/// `GET /api/orders/{order_no}`. A handler of another department gets the same 404 as for
/// an unknown order: it learns nothing about orders it does not hold.
pub async fn get_order(
    State(api): State<Arc<Api>>,
    Extension(caller): Extension<Caller>,
    Path(order_no): Path<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found(format!("no order {order_no}"));
    let Ok(order_no_checked) = OrderNo::parse(&order_no) else {
        return Err(not_found());
    };
    let key = order_no_checked.as_str();
    let db = |err: sqlx::Error| ApiError::database(&err);

    // One snapshot for the order and everything hanging off it.
    let mut tx = api.pool.begin().await.map_err(db)?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    let sql = format!(
        "SELECT orders.*, {SLA_STATE_SQL} AS sla_state, now() AS as_of
         FROM orders {SLA_AT_SQL}
         WHERE order_no = $1"
    );
    let order: Option<OrderRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
    let Some(OrderRow {
        order,
        sla_state,
        as_of,
    }) = order
    else {
        return Err(not_found());
    };
    if !may_see_order(&caller.role, &order.department) {
        return Err(not_found());
    }
    let dispatches: Vec<DispatchRow> = sqlx::query_as(
        "SELECT task_id, dispatch_no, department, rule, rule_version, dispatched_at,
                returned_at, return_reason
         FROM dispatches WHERE order_no = $1 ORDER BY dispatch_no",
    )
    .bind(key)
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?;
    let events: Vec<EventRow> = sqlx::query_as(
        "SELECT id, event_id, event_type, actor, occurred_at, recorded_at, detail
         FROM order_events WHERE order_no = $1 ORDER BY id",
    )
    .bind(key)
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?;
    let alerts: Vec<AlertRow> = sqlx::query_as(
        "SELECT alert_id, department, level, due_at, fired_at
         FROM alerts WHERE order_no = $1 ORDER BY fired_at, alert_id",
    )
    .bind(key)
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;

    let citizen = Citizen {
        name: order.citizen_name,
        phone: order.citizen_phone,
    };
    let view = OrderView {
        order_no: order.order_no,
        kind: order.kind,
        channel: order.channel,
        category: order.category,
        matter_code: order.matter_code,
        matter_name: order.matter_name,
        district: order.district,
        address: order.address,
        urgency: order.urgency,
        title: order.title,
        content: order.content,
        citizen,
        state: order.state,
        department: order.department,
        rule: order.rule,
        rule_version: order.rule_version,
        dispatch_count: order.dispatch_count,
        sla_state,
        received_at: business_time(order.received_at),
        statutory_limit: order.statutory_limit,
        sign_due_at: time(order.sign_due_at),
        warning_due_at: time(order.warning_due_at),
        committed_due_at: time(order.committed_due_at),
        statutory_due_at: time(order.statutory_due_at),
        accepted_at: time(order.accepted_at),
        replied_at: time(order.replied_at),
        closed_at: time(order.closed_at),
        paused_at: time(order.paused_at),
        handler: order.handler,
        resolved: order.resolved,
        on_time: order.on_time,
        rating: order.rating,
        extension_requested_days: order.extension_requested_days,
        extension_days: order.extension_days,
        return_count: order.return_count,
        reopen_count: order.reopen_count,
        urge_count: order.urge_count,
        duplicate_of: order.duplicate_of,
        returned_by: order.returned_by,
        version: order.version,
        created_at: business_time(order.created_at),
        updated_at: business_time(order.updated_at),
        as_of: business_time(as_of),
        dispatches: dispatches
            .into_iter()
            .map(|d| {
                serde_json::json!({
                    "task_id": d.task_id,
                    "dispatch_no": d.dispatch_no,
                    "department": d.department,
                    "rule": d.rule,
                    "rule_version": d.rule_version,
                    "dispatched_at": business_time(d.dispatched_at),
                    "returned_at": time(d.returned_at),
                    "return_reason": d.return_reason,
                })
            })
            .collect(),
        timeline: events
            .into_iter()
            .map(|e| {
                serde_json::json!({
                    "seq": e.id,
                    "event_id": e.event_id,
                    "type": e.event_type,
                    "actor": e.actor,
                    "occurred_at": business_time(e.occurred_at),
                    "recorded_at": business_time(e.recorded_at),
                    "detail": e.detail,
                })
            })
            .collect(),
        alerts: alerts
            .into_iter()
            .map(|a| {
                serde_json::json!({
                    "alert_id": a.alert_id,
                    "department": a.department,
                    "level": a.level,
                    "due_at": business_time(a.due_at),
                    "fired_at": business_time(a.fired_at),
                })
            })
            .collect(),
    };
    Ok(axum::Json(view).into_response())
}
