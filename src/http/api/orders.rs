//! `GET /api/orders/{order_no}`: one work order, its SLA state, dispatches, timeline and
//! alerts, read in one consistent snapshot.

use super::alerts::alert_view;
use super::tokens::{Caller, Role};
use super::{Api, ApiError};
use axum::Extension;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use hotline_core::calendar::business_time;
use hotline_core::privacy::{self, Disclosure, Purpose, Reader};
use hotline_schema::values::OrderNo;
use hotline_schema::values::{
    Channel, Citizen, OrderState, Rating, RequestKind, SlaState, Urgency,
};
use hotline_store::read::{self, OrderSnapshot};
use serde::Serialize;
use std::sync::Arc;

/// The citizen as a caller sees it: in full, or masked (`张*`, `138****5678`), and which.
#[derive(Serialize)]
pub struct CitizenView {
    pub name: Option<String>,
    pub phone: Option<String>,
    /// Whether `name` and `phone` are masked for this caller.
    pub masked: bool,
}

impl CitizenView {
    /// `citizen` as `role` may see it, for an order held by `department`.
    pub fn of(
        citizen: &Citizen,
        role: &Role,
        department: &str,
        confidential: bool,
        purpose: Purpose,
    ) -> CitizenView {
        let disclosure = privacy::disclosure(reader(role), department, confidential, purpose);
        let shown = privacy::shown(citizen, disclosure);
        CitizenView {
            name: shown.name,
            phone: shown.phone,
            masked: disclosure == Disclosure::Masked,
        }
    }
}

/// A token's role in the terms of the core's privacy rule.
pub fn reader(role: &Role) -> Reader<'_> {
    match role {
        Role::Operator => Reader::Operator,
        Role::Handler { department } => Reader::Handler { department },
        Role::Supervisor => Reader::Supervisor,
    }
}

/// The order as the API shows it: times in business time, the citizen as the caller may
/// see it.
#[derive(Serialize)]
struct OrderView {
    order_no: String,
    kind: RequestKind,
    channel: Channel,
    category: String,
    matter_code: Option<String>,
    matter_name: Option<String>,
    district: Option<String>,
    address: Option<String>,
    urgency: Urgency,
    title: String,
    content: String,
    citizen: CitizenView,
    /// 保密件: the citizen is shown in full to the holding department's handlers only.
    confidential: bool,
    state: OrderState,
    department: String,
    rule: String,
    rule_version: i32,
    dispatch_count: i32,
    sla_state: SlaState,
    received_at: String,
    statutory_limit: String,
    sign_due_at: String,
    warning_due_at: String,
    committed_due_at: String,
    statutory_due_at: String,
    accepted_at: Option<String>,
    replied_at: Option<String>,
    closed_at: Option<String>,
    paused_at: Option<String>,
    handler: Option<String>,
    resolved: Option<bool>,
    on_time: Option<bool>,
    rating: Option<Rating>,
    extension_requested_days: Option<u32>,
    extension_days: u32,
    return_count: u32,
    reopen_count: u32,
    urge_count: u32,
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

/// Whether `role` may see an order held by `department` at all (its citizen is another
/// question: [`CitizenView::of`]).
pub fn may_see_order(role: &Role, department: &str) -> bool {
    match role {
        Role::Operator | Role::Supervisor => true,
        Role::Handler { department: own } => own == department,
    }
}

/// Whether `role` may see `order`: as [`may_see_order`] for its holder, and also a handler
/// of a department co-handling it (协办), or the department rated on its callback (which
/// may appeal the rating after a reopened order moved on).
pub fn may_see(role: &Role, order: &hotline_core::order::Order) -> bool {
    match role {
        Role::Handler { department: own } => {
            may_see_order(role, &order.department)
                || order.co_handler(own).is_some()
                || order
                    .callback
                    .as_ref()
                    .is_some_and(|c| &c.department == own)
        }
        Role::Operator | Role::Supervisor => true,
    }
}

fn time(at: Option<DateTime<Utc>>) -> Option<String> {
    at.map(business_time)
}

impl OrderView {
    /// The order as `role` sees it.
    fn of(snapshot: OrderSnapshot, role: &Role) -> OrderView {
        let OrderSnapshot {
            order,
            version,
            created_at,
            updated_at,
            sla_state,
            as_of,
            dispatches,
            timeline,
            alerts,
        } = snapshot;
        let report = order.report;
        let (matter_code, matter_name) = order.matter.map(|m| (m.code, m.name)).unzip();
        OrderView {
            order_no: order.order_no,
            kind: report.kind,
            channel: report.channel,
            category: report.category,
            matter_code,
            matter_name,
            district: report.district,
            address: report.address,
            urgency: report.urgency,
            title: report.title,
            content: report.content,
            citizen: CitizenView::of(
                &report.citizen,
                role,
                &order.department,
                report.confidential,
                Purpose::View,
            ),
            confidential: report.confidential,
            state: order.state,
            department: order.department,
            rule: order.rule,
            rule_version: order.rule_version,
            dispatch_count: order.dispatch_count,
            sla_state,
            received_at: business_time(report.received_at),
            statutory_limit: order.statutory_limit.to_string(),
            sign_due_at: business_time(order.deadlines.sign),
            warning_due_at: business_time(order.deadlines.warning),
            committed_due_at: business_time(order.deadlines.committed),
            statutory_due_at: business_time(order.deadlines.statutory),
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
            version,
            created_at: business_time(created_at),
            updated_at: business_time(updated_at),
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
            timeline: timeline
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
            alerts: alerts.iter().map(alert_view).collect(),
        }
    }
}

/// The co-handlers (协办) as the order view shows them: department, deadlines, acceptance
/// and co-reply, times in business time.
fn co_handlers_view(co: &[hotline_core::order::CoHandler]) -> serde_json::Value {
    co.iter()
        .map(|c| {
            serde_json::json!({
                "department": c.department,
                "task_id": c.task_id,
                "dispatched_at": business_time(c.dispatched_at),
                "sign_due_at": business_time(c.sign_due_at),
                "co_reply_due_at": business_time(c.co_reply_due_at),
                "accepted_at": time(c.accepted_at),
                "handler": c.handler,
                "co_replied_at": time(c.replied_at),
                "on_time": c.on_time,
            })
        })
        .collect()
}

/// `GET /api/orders/{order_no}`. A handler of another department gets the same 404 as for
/// an unknown order: it learns nothing about orders it does not hold.
pub async fn get_order(
    State(api): State<Arc<Api>>,
    Extension(caller): Extension<Caller>,
    Path(order_no): Path<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found(format!("no order {order_no}"));
    let Ok(key) = OrderNo::parse(&order_no) else {
        return Err(not_found());
    };
    let snapshot = read::order_snapshot(&api.pool, key.as_str())
        .await
        .map_err(|e| ApiError::database(&e))?;
    match snapshot {
        Some(snapshot) if may_see(&caller.role, &snapshot.order) => {
            let rules = api.submitter.rules.current();
            let explanation = super::sla::explanation(&rules.clock, &snapshot);
            let sla = super::sla::view(&explanation, snapshot.order.calendar_version.as_deref());
            let snapshot_co = snapshot.order.co_handlers.clone();
            let urge_level = snapshot.order.urge_level;
            let pending_return =
                snapshot
                    .order
                    .pending_return
                    .as_ref()
                    .map_or(serde_json::Value::Null, |p| {
                        serde_json::json!({
                            "department": p.department,
                            "dispatch_no": p.dispatch_no,
                            "reason": p.reason,
                            "returned_at": business_time(p.returned_at),
                            "state": p.state,
                        })
                    });
            let callback = snapshot
                .order
                .callback
                .as_ref()
                .map_or(serde_json::Value::Null, |c| {
                    serde_json::json!({
                        "event_id": c.event_id,
                        "at": business_time(c.at),
                        "rating": c.rating,
                        "department": c.department,
                        "excluded": snapshot.order.rating_excluded(),
                        "appeal": c.appeal.as_ref().map(|a| serde_json::json!({
                            "department": a.department,
                            "reason": a.reason,
                            "appealed_at": business_time(a.appealed_at),
                            "decision": a.decision.as_ref().map(|d| serde_json::json!({
                                "upheld": d.upheld,
                                "note": d.note,
                                "decided_at": business_time(d.decided_at),
                            })),
                        })),
                    })
                });
            let mut view = serde_json::to_value(OrderView::of(snapshot, &caller.role))
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            view["provisional"] = serde_json::json!(explanation.provisional);
            view["co_handlers"] = co_handlers_view(&snapshot_co);
            view["pending_return"] = pending_return;
            view["urge_level"] = serde_json::json!(urge_level);
            view["callback"] = callback;
            view["sla"] = sla;
            Ok(axum::Json(view).into_response())
        }
        _ => Err(not_found()),
    }
}
