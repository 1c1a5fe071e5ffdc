//! `GET /api/orders/{order_no}`: one work order, its SLA state, dispatches, timeline and
//! alerts, read in one consistent snapshot.

use super::alerts::{AlertView, alert_view};
use super::openapi::{ErrorBody, Unauthorized, Unavailable, wire};
use super::sla::{self, SlaView};
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
    Channel, Citizen, OrderState, Rating, RequestKind, SlaState, UrgeLevel, Urgency,
};
use hotline_store::read::{self, DispatchRecord, OrderSnapshot, TimelineRecord};
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

/// The citizen as a caller sees it: in full, or masked (`张*`, `138****5678`), and which.
#[derive(Serialize, ToSchema)]
#[schema(as = Citizen)]
pub struct CitizenView {
    #[schema(example = "张*")]
    pub name: Option<String>,
    #[schema(example = "138****5678")]
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
#[derive(Serialize, ToSchema)]
#[schema(as = Order)]
pub struct OrderView {
    order_no: String,
    #[schema(value_type = wire::RequestKind)]
    kind: RequestKind,
    #[schema(value_type = wire::Channel)]
    channel: Channel,
    /// The category as received (a catalog matter code, or free text).
    category: String,
    /// The catalog matter the order was recognised as.
    matter_code: Option<String>,
    matter_name: Option<String>,
    district: Option<String>,
    address: Option<String>,
    #[schema(value_type = wire::Urgency)]
    urgency: Urgency,
    title: String,
    content: String,
    citizen: CitizenView,
    /// 保密件: the citizen is shown in full to the holding department's handlers only.
    confidential: bool,
    #[schema(value_type = wire::OrderState)]
    state: OrderState,
    /// The one department holding the order now.
    department: String,
    /// The routing rule that chose the department.
    rule: String,
    rule_version: i32,
    dispatch_count: i32,
    #[schema(value_type = wire::SlaState)]
    sla_state: SlaState,
    #[schema(format = DateTime)]
    received_at: String,
    /// `5wd` (working days), `24h`, `30m` (natural hours, minutes).
    #[schema(example = "5wd")]
    statutory_limit: String,
    #[schema(format = DateTime)]
    sign_due_at: String,
    #[schema(format = DateTime)]
    warning_due_at: String,
    #[schema(format = DateTime)]
    committed_due_at: String,
    #[schema(format = DateTime)]
    statutory_due_at: String,
    #[schema(format = DateTime)]
    accepted_at: Option<String>,
    #[schema(format = DateTime)]
    replied_at: Option<String>,
    #[schema(format = DateTime)]
    closed_at: Option<String>,
    /// Set while suspended: every clock is stopped.
    #[schema(format = DateTime)]
    paused_at: Option<String>,
    handler: Option<String>,
    resolved: Option<bool>,
    on_time: Option<bool>,
    #[schema(value_type = Option<wire::Rating>)]
    rating: Option<Rating>,
    extension_requested_days: Option<u32>,
    extension_days: u32,
    return_count: u32,
    reopen_count: u32,
    urge_count: u32,
    /// The order this one was merged into, as a duplicate.
    duplicate_of: Option<String>,
    /// The departments that returned it (退单).
    returned_by: Vec<String>,
    version: i32,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    /// The database's clock when this was read: what `sla_state` was judged against.
    #[schema(format = DateTime)]
    as_of: String,
    /// Every dispatch, oldest first, with the returns recorded against them.
    dispatches: Vec<DispatchView>,
    /// Every accepted event of the order, in the order it was applied; no personal data.
    timeline: Vec<TimelineEntry>,
    /// The SLA alerts raised for the order, oldest first.
    alerts: Vec<AlertView>,
    /// A deadline lies past the days the calendar declares (see `sla.provisional`).
    provisional: bool,
    /// Why the deadlines are what they are.
    sla: SlaView,
    /// The co-handling departments (协办), in the order they were named.
    co_handlers: Vec<CoHandlerView>,
    /// While `state` is `return_pending`: who returned it, from which state.
    pending_return: Option<PendingReturnView>,
    /// The highest level the order was urged or raised at.
    #[schema(value_type = Option<wire::UrgeLevel>)]
    urge_level: Option<UrgeLevel>,
    /// The latest callback, with any appeal of its rating.
    callback: Option<CallbackView>,
}

/// One dispatch of an order to a department.
#[derive(Serialize, ToSchema)]
#[schema(as = Dispatch)]
pub struct DispatchView {
    task_id: uuid::Uuid,
    dispatch_no: i32,
    department: String,
    rule: String,
    rule_version: i32,
    #[schema(format = DateTime)]
    dispatched_at: String,
    /// When the department returned it (退单), if it did.
    #[schema(format = DateTime)]
    returned_at: Option<String>,
    return_reason: Option<String>,
}

impl From<DispatchRecord> for DispatchView {
    fn from(d: DispatchRecord) -> DispatchView {
        DispatchView {
            task_id: d.task_id,
            dispatch_no: d.dispatch_no,
            department: d.department,
            rule: d.rule,
            rule_version: d.rule_version,
            dispatched_at: business_time(d.dispatched_at),
            returned_at: time(d.returned_at),
            return_reason: d.return_reason,
        }
    }
}

/// One entry of an order's timeline.
#[derive(Serialize, ToSchema)]
pub struct TimelineEntry {
    /// The entry's place in the order's timeline.
    seq: i64,
    event_id: uuid::Uuid,
    #[serde(rename = "type")]
    #[schema(value_type = wire::TimelineType)]
    event_type: String,
    /// The token's name for events posted over HTTP; what the body gives for AMQP.
    actor: Option<String>,
    #[schema(format = DateTime)]
    occurred_at: String,
    #[schema(format = DateTime)]
    recorded_at: String,
    /// The event as received, without the citizen, plus its effect.
    #[schema(value_type = Object)]
    detail: serde_json::Value,
}

impl From<TimelineRecord> for TimelineEntry {
    fn from(e: TimelineRecord) -> TimelineEntry {
        TimelineEntry {
            seq: e.id,
            event_id: e.event_id,
            event_type: e.event_type,
            actor: e.actor,
            occurred_at: business_time(e.occurred_at),
            recorded_at: business_time(e.recorded_at),
            detail: e.detail,
        }
    }
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

/// The order `order_no` if `role` may see it; `None` for a number that is none, an order
/// that does not exist and one the role may not see alike (each answered 404).
pub async fn visible_order(
    api: &super::Api,
    role: &Role,
    order_no: &str,
) -> Result<Option<hotline_core::order::Order>, hotline_store::StoreError> {
    let Ok(key) = OrderNo::parse(order_no) else {
        return Ok(None);
    };
    let snapshot = read::order_snapshot(&api.pool, key.as_str()).await?;
    Ok(snapshot
        .map(|snapshot| snapshot.order)
        .filter(|order| may_see(role, order)))
}

fn time(at: Option<DateTime<Utc>>) -> Option<String> {
    at.map(business_time)
}

impl OrderView {
    /// The order as `role` sees it.
    fn of(snapshot: OrderSnapshot, role: &Role, sla: SlaView) -> OrderView {
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
        let rating_excluded = order.rating_excluded();
        let (co_handlers, pending_return, urge_level, callback) = (
            order.co_handlers,
            order.pending_return,
            order.urge_level,
            order.callback,
        );
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
            dispatches: dispatches.into_iter().map(DispatchView::from).collect(),
            timeline: timeline.into_iter().map(TimelineEntry::from).collect(),
            alerts: alerts.iter().map(alert_view).collect(),
            provisional: sla.provisional(),
            sla,
            co_handlers: co_handlers.iter().map(CoHandlerView::from).collect(),
            pending_return: pending_return.map(|p| PendingReturnView {
                department: p.department,
                dispatch_no: p.dispatch_no,
                reason: p.reason,
                returned_at: business_time(p.returned_at),
                state: p.state,
            }),
            urge_level,
            callback: callback
                .as_ref()
                .map(|c| CallbackView::of(c, rating_excluded)),
        }
    }
}

/// The co-handlers (协办) as the order view shows them: department, deadlines, acceptance
/// and co-reply, times in business time.
/// A co-handling department (协办) of the order.
#[derive(Serialize, ToSchema)]
pub struct CoHandlerView {
    department: String,
    /// Its own task's id.
    task_id: uuid::Uuid,
    #[schema(format = DateTime)]
    dispatched_at: String,
    #[schema(format = DateTime)]
    sign_due_at: String,
    /// Co-reply (`order.co_replied`) before this.
    #[schema(format = DateTime)]
    co_reply_due_at: String,
    #[schema(format = DateTime)]
    accepted_at: Option<String>,
    handler: Option<String>,
    #[schema(format = DateTime)]
    co_replied_at: Option<String>,
    /// Co-replied by its deadline.
    on_time: Option<bool>,
}

impl From<&hotline_core::order::CoHandler> for CoHandlerView {
    fn from(c: &hotline_core::order::CoHandler) -> CoHandlerView {
        CoHandlerView {
            department: c.department.clone(),
            task_id: c.task_id,
            dispatched_at: business_time(c.dispatched_at),
            sign_due_at: business_time(c.sign_due_at),
            co_reply_due_at: business_time(c.co_reply_due_at),
            accepted_at: time(c.accepted_at),
            handler: c.handler.clone(),
            co_replied_at: time(c.replied_at),
            on_time: c.on_time,
        }
    }
}

/// A return (退单) waiting for the manual desk's review.
#[derive(Serialize, ToSchema)]
pub struct PendingReturnView {
    /// The department that returned it.
    department: String,
    /// The dispatch that was returned.
    dispatch_no: i32,
    reason: String,
    #[schema(format = DateTime)]
    returned_at: String,
    /// Where the order stood when it was returned.
    #[schema(value_type = wire::OrderState)]
    state: OrderState,
}

/// The latest callback (回访) and any appeal of its rating.
#[derive(Serialize, ToSchema)]
pub struct CallbackView {
    event_id: uuid::Uuid,
    #[schema(format = DateTime)]
    at: String,
    #[schema(value_type = wire::Rating)]
    rating: Rating,
    /// The department rated (the one that replied).
    department: String,
    /// An upheld appeal took the rating out of 满意率 (`rating` stays as rated).
    excluded: bool,
    appeal: Option<AppealView>,
}

/// An appeal of a rating (评价复核).
#[derive(Serialize, ToSchema)]
pub struct AppealView {
    department: String,
    reason: String,
    #[schema(format = DateTime)]
    appealed_at: String,
    decision: Option<AppealDecisionView>,
}

#[derive(Serialize, ToSchema)]
pub struct AppealDecisionView {
    upheld: bool,
    note: String,
    #[schema(format = DateTime)]
    decided_at: String,
}

impl CallbackView {
    fn of(c: &hotline_core::order::Callback, excluded: bool) -> CallbackView {
        CallbackView {
            event_id: c.event_id,
            at: business_time(c.at),
            rating: c.rating,
            department: c.department.clone(),
            excluded,
            appeal: c.appeal.as_ref().map(|a| AppealView {
                department: a.department.clone(),
                reason: a.reason.clone(),
                appealed_at: business_time(a.appealed_at),
                decision: a.decision.as_ref().map(|d| AppealDecisionView {
                    upheld: d.upheld,
                    note: d.note.clone(),
                    decided_at: business_time(d.decided_at),
                }),
            }),
        }
    }
}

/// `GET /api/orders/{order_no}`. A handler of another department gets the same 404 as for
/// an unknown order: it learns nothing about orders it does not hold.
#[utoipa::path(
    get,
    path = "/orders/{order_no}",
    tag = "orders",
    summary = "One work order",
    description = "The order, its department, state, SLA state, both deadlines, its \
        dispatches, timeline and alerts, read in one consistent snapshot; the citizen in \
        full or masked by the caller's role.",
    params(("order_no" = String, Path, description = "The order's number")),
    responses(
        (status = 200, description = "The order", body = OrderView),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such order, or one the handler's department does \
            not hold (`not_found`)", body = ErrorBody),
        (status = 503, response = Unavailable),
    ),
)]
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
            let rules = api.rules();
            let explanation = sla::explanation(&rules, &snapshot);
            let sla = SlaView::of(&explanation, snapshot.order.calendar_version.as_deref());
            Ok(axum::Json(OrderView::of(snapshot, &caller.role, sla)).into_response())
        }
        _ => Err(not_found()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use hotline_core::config::Limit;
    use hotline_core::order::{Callback, CoHandler, Order, Report};
    use hotline_core::sla::Deadlines;

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T10:00:00+08:00")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn handler(department: &str) -> Role {
        Role::Handler {
            department: department.into(),
        }
    }

    /// An order held by SCJGJ, co-handled by YSBZX, whose callback rated ZJJ.
    pub(crate) fn order() -> Order {
        let at = at();
        let mut order = Order::new(
            "PT1".into(),
            Report::example(at),
            Limit::parse("5wd").unwrap(),
            Deadlines {
                statutory: at,
                committed: at,
                sign: at,
                warning: at,
            },
            "SCJGJ".into(),
            "catalog:SC-0101".into(),
        );
        order.co_handlers.push(CoHandler {
            department: "YSBZX".into(),
            task_id: uuid::Uuid::nil(),
            dispatched_at: at,
            sign_due_at: at,
            co_reply_due_at: at,
            accepted_at: None,
            handler: None,
            replied_at: None,
            on_time: None,
            revision: 1,
        });
        order.callback = Some(Callback {
            event_id: uuid::Uuid::nil(),
            at,
            rating: Rating::Dissatisfied,
            department: "ZJJ".into(),
            appeal: None,
        });
        order
    }

    #[test]
    fn a_handler_sees_the_orders_its_department_holds_co_handles_or_was_rated_on() {
        let order = order();
        // (role, sees this order, sees an order SCJGJ holds with no one else involved)
        let cases = [
            (Role::Operator, true, true),
            (Role::Supervisor, true, true),
            (handler("SCJGJ"), true, true),
            (handler("YSBZX"), true, false),
            (handler("ZJJ"), true, false),
            (handler("GAJ"), false, false),
        ];
        for (role, sees, sees_held) in cases {
            assert_eq!(may_see(&role, &order), sees, "{role}");
            assert_eq!(may_see_order(&role, "SCJGJ"), sees_held, "{role}");
        }
    }

    #[test]
    fn a_citizen_is_shown_in_full_as_the_privacy_rule_says_and_flagged_when_masked() {
        let citizen = Citizen {
            name: Some("张三".into()),
            phone: Some("13812345678".into()),
        };
        let full = (Some("张三"), Some("13812345678"), false);
        let masked = (Some("张*"), Some("138****5678"), true);
        // (role, confidential, purpose, (name, phone, masked)) for an order SCJGJ holds
        let cases = [
            (Role::Operator, false, Purpose::View, full),
            (Role::Operator, false, Purpose::Export, full),
            (Role::Operator, true, Purpose::View, masked),
            (Role::Supervisor, false, Purpose::View, masked),
            (handler("SCJGJ"), true, Purpose::View, full),
            (handler("SCJGJ"), true, Purpose::Export, masked),
            (handler("YSBZX"), false, Purpose::View, masked),
        ];
        for (role, confidential, purpose, (name, phone, is_masked)) in cases {
            let view = CitizenView::of(&citizen, &role, "SCJGJ", confidential, purpose);
            assert_eq!(
                (view.name.as_deref(), view.phone.as_deref(), view.masked),
                (name, phone, is_masked),
                "{role} {confidential} {purpose:?}"
            );
        }
    }
}
