//! The rows a decision adds beside the orders: the timeline, dispatches and returns, the
//! rejected bodies, and the outbox messages that go with them.

use super::{Decided, Incoming};
use crate::lifecycle::{DispatchPurpose, ReturnOutcome};
use crate::order::Order;
use crate::outbox::OutboxMessage;
use chrono::{DateTime, Utc};
use hotline_schema::body::EventBody;
use hotline_schema::event::{EventType, InboundEvent};
use hotline_schema::rejection::{RejectCode, Rejection};
use hotline_schema::values::OrderState;
use serde_json::json;
use uuid::Uuid;

/// One accepted event on its order's timeline. No personal data: the citizen is dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    pub order_no: String,
    pub event_id: Uuid,
    pub event_type: EventType,
    pub actor: Option<String>,
    /// The instant the engine counted the event from (see `effective_instant`); the
    /// sender's own `occurred_at` stays in `detail`.
    pub occurred_at: DateTime<Utc>,
    /// The event as sent (without `citizen`), with what it did under `effect`.
    pub detail: serde_json::Value,
}

/// A new dispatch: one task message to `department`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDispatch {
    pub task_id: Uuid,
    pub order_no: String,
    pub dispatch_no: i32,
    pub department: String,
    pub rule: String,
    pub rule_version: i32,
    pub dispatched_at: DateTime<Utc>,
    /// Why it was written: only `handle` dispatches count in the KPIs.
    pub purpose: DispatchPurpose,
}

/// A return (退单) put before the manual desk's review, or decided: the outcome recorded on
/// the returned dispatch.
#[derive(Debug, Clone, PartialEq)]
pub struct ReturnReview {
    pub order_no: String,
    pub dispatch_no: i32,
    pub outcome: ReturnOutcome,
}

/// A dispatch that ended with a return (退单) or an operator's re-dispatch.
#[derive(Debug, Clone, PartialEq)]
pub struct DispatchReturn {
    pub order_no: String,
    pub dispatch_no: i32,
    pub returned_at: DateTime<Utc>,
    pub reason: String,
}

/// A body the engine could not accept, kept with its reason (nothing a citizen sent is
/// dropped).
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedEvent {
    pub idempotency_key: Option<String>,
    pub code: RejectCode,
    pub reason: String,
    /// The body, or for one too large to keep, its first bytes (see `truncated`).
    pub body: Vec<u8>,
    pub truncated: Option<hotline_schema::rejection::TruncatedBody>,
}

impl Decided {
    pub(super) fn record(
        &mut self,
        event: &InboundEvent,
        at: DateTime<Utc>,
        actor: Option<String>,
        effect: serde_json::Value,
    ) {
        let mut detail = event.raw.clone();
        if let Some(object) = detail.as_object_mut() {
            // The citizen's personal data lives on the order, not in the timeline.
            object.remove("citizen");
            object.insert("effect".into(), effect);
        }
        self.timeline.push(TimelineEntry {
            order_no: event.envelope.order_no.as_str().to_owned(),
            event_id: event.envelope.event_id,
            event_type: event.event_type(),
            actor,
            occurred_at: at,
            detail,
        });
    }

    /// A new task for the order's current department, in the outbox. `provisional`: its
    /// statutory deadline lies past the calendar's declared days.
    pub(super) fn dispatch(
        &mut self,
        order: &Order,
        purpose: DispatchPurpose,
        consumed_at: DateTime<Utc>,
        now: DateTime<Utc>,
        provisional: bool,
    ) {
        // Time-ordered: the task id is the dispatches' primary key, and a random one would
        // land on a random leaf of an index that grows by ten million a year.
        let mut task = order.task(Uuid::now_v7());
        task.provisional = provisional;
        self.dispatches.push(NewDispatch {
            task_id: task.task_id,
            order_no: order.order_no.clone(),
            dispatch_no: order.dispatch_count,
            department: order.department.clone(),
            rule: order.rule.clone(),
            rule_version: order.rule_version,
            dispatched_at: now,
            purpose,
        });
        self.outbox.push(OutboxMessage::task(&task, consumed_at));
    }

    /// A co-handling task for `department`, in the outbox (the lead keeps the order).
    pub(super) fn co_dispatch(
        &mut self,
        order: &Order,
        department: &str,
        consumed_at: DateTime<Utc>,
    ) {
        if let Some(co) = order.co_handler(department) {
            let task = order.co_task(co);
            self.outbox.push(OutboxMessage::task(&task, consumed_at));
        }
    }

    /// Keeps the rejected body and dead-letters it unchanged through the outbox (a body
    /// too large to keep, as its prefix with its size and digest).
    pub(super) fn reject(&mut self, incoming: &Incoming, rejection: &Rejection) {
        self.rejected.push(RejectedEvent {
            idempotency_key: incoming.idempotency_key.clone(),
            code: rejection.code,
            reason: rejection.to_string(),
            body: incoming.body.clone(),
            truncated: incoming.truncated.clone(),
        });
        let message_id = incoming
            .idempotency_key
            .clone()
            .unwrap_or_else(|| Uuid::new_v4().to_string());
        self.outbox.push(OutboxMessage::dead_letter(
            message_id,
            incoming.body.clone(),
            incoming.truncated.as_ref(),
            rejection,
            incoming.consumed_at,
        ));
    }
}

/// What an event did to its order, kept in the timeline: the state and department after
/// it, and for the events KPIs count, whether it was in time (签收 before the sign
/// deadline, 办结 before the committed one) and what the callback concluded.
pub(super) fn effect_of(
    event: &InboundEvent,
    order: &Order,
    at: DateTime<Utc>,
) -> serde_json::Value {
    let mut effect = json!({"state": order.state, "department": order.department});
    match &event.body {
        EventBody::OrderAccepted(e) if e.department == order.department => {
            effect["on_time"] = json!(at <= order.deadlines.sign)
        }
        EventBody::OrderReplied(e) => {
            effect["on_time"] = json!(order.on_time);
            effect["resolved"] = json!(e.resolved);
        }
        EventBody::OrderFeedback(e) => {
            effect["rating"] = json!(e.rating);
            effect["resolved"] = json!(e.resolved);
            effect["reopened"] = json!(order.state == OrderState::Dispatched);
        }
        EventBody::OrderAccepted(e) => {
            // Not the lead's (the arm above): a co-handler's acceptance, with its
            // department and its own sign deadline.
            if let Some(co) = order.co_handler(&e.department) {
                effect["co_handler"] = json!(co.department);
                effect["on_time"] = json!(at <= co.sign_due_at);
            }
        }
        EventBody::OrderCoReplied(e) => {
            if let Some(co) = order.co_handler(&e.department) {
                effect["co_handler"] = json!(co.department);
                effect["on_time"] = json!(co.on_time);
                effect["co_reply_due_at"] =
                    json!(crate::calendar::business_time(co.co_reply_due_at));
            }
        }
        EventBody::OrderReturned(e) => {
            effect["returned_by"] = json!(e.department);
            effect["review"] = json!(order.state == OrderState::ReturnPending);
        }
        EventBody::ReturnDecided(e) => {
            effect["approved"] = json!(e.approved);
        }
        EventBody::OrderUrged(e) => {
            effect["level"] = json!(e.level);
            effect["urge_level"] = json!(order.urge_level);
        }
        EventBody::RatingAppealed(_) | EventBody::AppealDecided(_) => {
            if let Some(callback) = &order.callback {
                effect["callback_event_id"] = json!(callback.event_id);
                effect["rated_department"] = json!(callback.department);
                effect["rating"] = json!(callback.rating);
                if let Some(decision) = callback.appeal.as_ref().and_then(|a| a.decision.as_ref()) {
                    effect["upheld"] = json!(decision.upheld);
                }
            }
        }
        EventBody::ComplaintReceived(_)
        | EventBody::AppointmentBooked(_)
        | EventBody::AppointmentCheckedIn(_)
        | EventBody::AppointmentCalled(_)
        | EventBody::AppointmentCompleted
        | EventBody::OrderDispatched(_)
        | EventBody::ExtensionRequested(_)
        | EventBody::ExtensionDecided(_)
        | EventBody::OrderSuspended(_)
        | EventBody::OrderResumed(_) => {}
    }
    if let EventBody::OrderDispatched(_) | EventBody::ComplaintReceived(_) = &event.body
        && !order.co_handlers.is_empty()
    {
        effect["co_departments"] = json!(order.co_departments());
    }
    effect
}

/// Who acted: the department (and handler) for department actions, else the role.
pub(super) fn actor_of(event: &InboundEvent) -> Option<String> {
    match &event.body {
        EventBody::OrderAccepted(e) => Some(match &e.handler {
            Some(h) => format!("{}/{h}", e.department),
            None => e.department.clone(),
        }),
        EventBody::OrderReturned(e) => Some(e.department.clone()),
        EventBody::ExtensionRequested(e) => Some(e.department.clone()),
        EventBody::OrderReplied(e) => Some(e.department.clone()),
        EventBody::OrderCoReplied(e) => Some(e.department.clone()),
        EventBody::RatingAppealed(e) => Some(e.department.clone()),
        EventBody::ReturnDecided(_) => Some("operator".into()),
        EventBody::AppealDecided(_) => Some("supervisor".into()),
        EventBody::OrderDispatched(e) => Some(format!(
            "operator/{}",
            e.operator.as_deref().unwrap_or("unnamed")
        )),
        EventBody::ExtensionDecided(_)
        | EventBody::OrderSuspended(_)
        | EventBody::OrderResumed(_)
        | EventBody::OrderUrged(_) => Some("supervisor".into()),
        EventBody::OrderFeedback(_) => Some("callback".into()),
        EventBody::ComplaintReceived(_)
        | EventBody::AppointmentBooked(_)
        | EventBody::AppointmentCheckedIn(_)
        | EventBody::AppointmentCalled(_)
        | EventBody::AppointmentCompleted => None,
    }
}
