//! What every lifecycle test starts from: an order of the test catalog in any state, and
//! events for it. In one place so that the state table and the workflows' tests all mean
//! the same order by `order(state)`.

use crate::config::{Config, Limit};
use crate::order::{Order, PendingReturn, Report};
use crate::rules::Rules;
use crate::sla::Deadlines;
use chrono::{DateTime, Utc};
use hotline_schema::event::{EventType, InboundEvent};
use hotline_schema::values::OrderState;
use serde_json::json;

pub(super) fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub(super) fn order(state: OrderState) -> Order {
    let received = at("2026-11-25T10:00:00+08:00");
    let report = Report {
        title: "无证摊贩卖过期食品".into(),
        ..Report::example(received)
    };
    let deadlines = Deadlines {
        statutory: at("2026-12-02T10:00:00+08:00"),
        committed: at("2026-11-27T16:00:00+08:00"),
        sign: at("2026-11-26T10:00:00+08:00"),
        warning: at("2026-11-27T08:30:00+08:00"),
    };
    let mut order = Order::new(
        "PT1".into(),
        report,
        Limit::WorkingDays(5),
        deadlines,
        "SCJGJ".into(),
        "catalog:SC-0101".into(),
    );
    order.state = state;
    order.dispatched_at = Some(received);
    if state == OrderState::Suspended {
        order.paused_at = Some(received);
        order.resume_state = Some(OrderState::Accepted);
    }
    if state == OrderState::ReturnPending {
        order.pending_return = Some(PendingReturn {
            department: "SCJGJ".into(),
            dispatch_no: 1,
            reason: "非本单位".into(),
            returned_at: received,
            state: OrderState::Accepted,
            rule: "catalog:SC-0101".into(),
            rule_version: 1,
            accepted_at: Some(received),
            handler: Some("h".into()),
            sign_due_at: order.deadlines.sign,
            dispatched_at: Some(received),
        });
        order.department = "MANUAL".into();
        order.rule = "return-review".into();
        order.dispatch_count = 2;
    }
    order
}

/// The rules of the test catalog with returns re-dispatched at once (no review).
pub(super) fn rules_without_review() -> Rules {
    let mut rules = rules();
    rules.return_review = false;
    rules
}

pub(super) fn rules() -> Rules {
    Rules::new(&Config::test_catalog())
}

pub(super) fn event(event_type: EventType, fields: serde_json::Value) -> InboundEvent {
    let mut v = json!({
        "event_id": uuid::Uuid::new_v4(), "type": event_type.as_str(),
        "occurred_at": "2026-11-26T09:00:00+08:00", "order_no": "PT1",
    });
    for (k, val) in fields.as_object().unwrap() {
        v[k] = val.clone();
    }
    InboundEvent::parse(v.to_string().as_bytes(), 1 << 16).unwrap()
}

pub(super) fn events() -> Vec<(&'static str, InboundEvent)> {
    vec![
        (
            "accepted",
            event(
                EventType::OrderAccepted,
                json!({"department": "SCJGJ", "handler": "h"}),
            ),
        ),
        (
            "returned",
            event(
                EventType::OrderReturned,
                json!({"department": "SCJGJ", "reason": "非本单位"}),
            ),
        ),
        (
            "dispatched",
            event(
                EventType::OrderDispatched,
                json!({"department": "ZFYJJ", "operator": "op"}),
            ),
        ),
        (
            "extension_requested",
            event(
                EventType::ExtensionRequested,
                json!({"department": "SCJGJ", "extra_working_days": 3, "reason": "r"}),
            ),
        ),
        (
            "extension_decided",
            event(EventType::ExtensionDecided, json!({"approved": true})),
        ),
        (
            "suspended",
            event(EventType::OrderSuspended, json!({"reason": "r"})),
        ),
        ("resumed", event(EventType::OrderResumed, json!({}))),
        (
            "replied",
            event(
                EventType::OrderReplied,
                json!({"department": "SCJGJ", "reply": "已处理", "resolved": true}),
            ),
        ),
        ("urged", event(EventType::OrderUrged, json!({"note": "n"}))),
        (
            "feedback",
            event(
                EventType::OrderFeedback,
                json!({"rating": "satisfied", "resolved": true}),
            ),
        ),
        (
            "co_accepted",
            event(
                EventType::OrderAccepted,
                json!({"department": "ZFYJJ", "handler": "z"}),
            ),
        ),
        (
            "co_replied",
            event(
                EventType::OrderCoReplied,
                json!({"department": "ZFYJJ", "reply": "已配合核查"}),
            ),
        ),
        (
            "return_approved",
            event(
                EventType::ReturnDecided,
                json!({"approved": true, "note": "确非本单位"}),
            ),
        ),
        (
            "return_rejected",
            event(
                EventType::ReturnDecided,
                json!({"approved": false, "note": "属本单位职责"}),
            ),
        ),
        (
            "rating_appealed",
            event(
                EventType::RatingAppealed,
                json!({"department": "SCJGJ", "reason": "市民诉求超出职责"}),
            ),
        ),
        (
            "appeal_decided",
            event(
                EventType::AppealDecided,
                json!({"upheld": true, "note": "属实"}),
            ),
        ),
        (
            "complaint",
            event(
                EventType::ComplaintReceived,
                json!({"kind": "complaint", "channel": "phone", "category": "SC-0101",
                       "title": "t", "content": "c"}),
            ),
        ),
        (
            "checked_in",
            event(
                EventType::AppointmentCheckedIn,
                json!({"service_point": "ZX"}),
            ),
        ),
    ]
}
