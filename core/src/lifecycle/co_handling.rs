//! Co-handling (主办/协办): the lead department holds the order and replies; co-handlers
//! each get a task of their own, accept it and co-reply by their own deadline. A file of
//! its own because it is the one workflow in which departments that do not hold an open
//! order act on it, each on a clock of its own.

use super::{Effect, invalid_state, quoted};
use crate::calendar::business_time;
use crate::order::{CoHandler, Order};
use crate::rules::Rules;
use chrono::{DateTime, Utc};
use hotline_schema::body::{OrderAccepted, OrderCoReplied};
use hotline_schema::rejection::{RejectCode, Rejection};
use hotline_schema::values::OrderState;
use uuid::Uuid;

/// The states in which co-handlers work: the order is open and the lead has not replied.
pub(super) fn co_open(state: OrderState) -> bool {
    match state {
        OrderState::Dispatched
        | OrderState::Accepted
        | OrderState::Suspended
        | OrderState::ReturnPending => true,
        OrderState::Merged | OrderState::Replied | OrderState::Closed => false,
    }
}

/// Which co-handler `department` is, if it is one; the lead never is, so its events keep
/// the lead's meaning.
pub(super) fn position(order: &Order, department: &str) -> Option<usize> {
    if department == order.department {
        return None;
    }
    order
        .co_handlers
        .iter()
        .position(|c| c.department == department)
}

/// The co-handler at `index` signs for its own task.
pub(super) fn accepted(
    order: &mut Order,
    index: usize,
    e: &OrderAccepted,
    at: DateTime<Utc>,
) -> Result<Vec<Effect>, Rejection> {
    let co = &mut order.co_handlers[index];
    if co.accepted_at.is_some() {
        return Err(invalid_state(format!(
            "co-handler {} has already accepted order {}",
            co.department, order.order_no
        )));
    }
    co.accepted_at = Some(at);
    co.handler = e.handler.clone();
    Ok(vec![])
}

pub(super) fn co_replied(
    order: &mut Order,
    e: &OrderCoReplied,
    at: DateTime<Utc>,
    rules: &Rules,
) -> Result<Vec<Effect>, Rejection> {
    let order_no = order.order_no.clone();
    let Some(co) = order
        .co_handlers
        .iter_mut()
        .find(|c| c.department == e.department)
    else {
        let sender = quoted(&e.department, rules);
        return Err(Rejection::new(
            RejectCode::WrongDepartment,
            format!("order {order_no} is not co-handled by {sender}"),
        ));
    };
    if co.accepted_at.is_none() {
        return Err(invalid_state(format!(
            "co-handler {} has not accepted order {order_no}",
            co.department
        )));
    }
    if co.replied_at.is_some() {
        return Err(invalid_state(format!(
            "co-handler {} has already co-replied on order {order_no}",
            co.department
        )));
    }
    co.replied_at = Some(at);
    co.on_time = Some(at <= co.co_reply_due_at);
    Ok(vec![])
}

/// Refuses a reply from a co-handler before the holder check would: told only that the
/// order is held elsewhere, it would not learn that it co-replies instead.
pub(super) fn not_in_the_leads_place(order: &Order, department: &str) -> Result<(), Rejection> {
    if department != order.department && order.co_handler(department).is_some() {
        return Err(Rejection::new(
            RejectCode::WrongDepartment,
            format!(
                "{} co-handles order {}: only the lead department {} replies (a co-handler sends order.co_replied)",
                department, order.order_no, order.department
            ),
        ));
    }
    Ok(())
}

/// The lead's reply waits for every co-handler that has not co-replied, until its co-reply
/// deadline passes: a late co-handler must not hold the citizen's answer back for ever.
pub(super) fn none_due(order: &Order, at: DateTime<Utc>) -> Result<(), Rejection> {
    if let Some(due) = order.co_handlers.iter().find(|c| c.is_due(at)) {
        return Err(invalid_state(format!(
            "order {}: co-handler {} has not co-replied and its co-reply deadline {} has not passed",
            order.order_no,
            due.department,
            business_time(due.co_reply_due_at)
        )));
    }
    Ok(())
}

/// Names `departments` (but the lead and those already named) as co-handlers from `at`:
/// each gets a task with its own sign deadline and a co-reply deadline of
/// `co_reply_ratio` of the committed time, no later than the lead's committed deadline.
pub fn add_co_handlers(
    order: &mut Order,
    departments: &[String],
    at: DateTime<Utc>,
    rules: &Rules,
) -> Vec<Effect> {
    let settings = &rules.clock.settings;
    let mut effects = Vec::new();
    for department in departments {
        if *department == order.department || order.co_handler(department).is_some() {
            continue;
        }
        let share = settings.commitment_ratio * settings.co_reply_ratio;
        let co_reply_due_at = rules
            .clock
            .after(at, order.statutory_limit, share)
            .min(order.deadlines.committed.max(at));
        order.co_handlers.push(CoHandler {
            department: department.clone(),
            task_id: Uuid::now_v7(),
            dispatched_at: at,
            sign_due_at: rules
                .clock
                .sign_deadline(at, rules.sign_limit_of(order), co_reply_due_at),
            co_reply_due_at,
            accepted_at: None,
            handler: None,
            replied_at: None,
            on_time: None,
            revision: 1,
        });
        effects.push(Effect::CoDispatch {
            department: department.clone(),
        });
    }
    effects
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::apply;
    use crate::lifecycle::test_support::{at, event, order, rules};
    use hotline_schema::event::EventType;
    use hotline_schema::values::{AlertLevel, TaskRole};
    use serde_json::json;

    fn co_handler(accepted: bool) -> CoHandler {
        CoHandler {
            department: "ZFYJJ".into(),
            task_id: Uuid::nil(),
            dispatched_at: at("2026-11-25T10:00:00+08:00"),
            sign_due_at: at("2026-11-26T10:00:00+08:00"),
            co_reply_due_at: at("2026-11-26T16:00:00+08:00"),
            accepted_at: accepted.then(|| at("2026-11-25T11:00:00+08:00")),
            handler: None,
            replied_at: None,
            on_time: None,
            revision: 1,
        }
    }

    #[test]
    fn co_handlers_get_their_own_deadlines_and_a_timer_until_they_co_reply() {
        let rules = rules();
        let mut o = order(OrderState::Dispatched);
        // Received and dispatched Wed 2026-11-25 10:00, 5wd: committed time 2.5 working
        // days (1050 min); 0.6 of it is 630 working minutes, Thu 16:00.
        let effects = add_co_handlers(
            &mut o,
            &["ZFYJJ".into(), "SCJGJ".into(), "ZFYJJ".into()],
            at("2026-11-25T10:00:00+08:00"),
            &rules,
        );
        assert_eq!(
            effects,
            vec![Effect::CoDispatch {
                department: "ZFYJJ".into()
            }],
            "the lead and a repeated code are no co-handlers"
        );
        let co = &o.co_handlers[0];
        assert_eq!(co.sign_due_at, at("2026-11-26T10:00:00+08:00"));
        assert_eq!(co.co_reply_due_at, at("2026-11-26T16:00:00+08:00"));
        assert_eq!(
            o.co_timers(),
            vec![(
                AlertLevel::CoOverdue,
                at("2026-11-26T16:00:00+08:00"),
                "ZFYJJ"
            )]
        );
        // What the store arms: the lead's levels for the lead, then the co-reply deadline
        // for the co-handler.
        let live: Vec<(AlertLevel, &str)> = o
            .live_timers()
            .iter()
            .map(|t| {
                (
                    t.level,
                    if t.department == "SCJGJ" {
                        "lead"
                    } else {
                        "co"
                    },
                )
            })
            .collect();
        let lead: Vec<(AlertLevel, &str)> = o
            .timers()
            .iter()
            .map(|(level, _)| (*level, "lead"))
            .collect();
        assert_eq!(live, [lead, vec![(AlertLevel::CoOverdue, "co")]].concat());
        assert_eq!(
            o.live_timers()
                .last()
                .map(|t| (t.due_at, t.department.as_str())),
            Some((at("2026-11-26T16:00:00+08:00"), "ZFYJJ"))
        );
        let task = o.co_task(co);
        assert_eq!(
            (
                task.department.as_str(),
                task.role,
                task.lead_department.as_deref(),
                task.co_reply_due_at.as_deref(),
                task.sign_due_at.as_deref()
            ),
            (
                "ZFYJJ",
                TaskRole::Co,
                Some("SCJGJ"),
                Some("2026-11-26T16:00:00+08:00"),
                Some("2026-11-26T10:00:00+08:00")
            )
        );
        assert_eq!(
            o.task(Uuid::nil()).co_departments,
            vec!["ZFYJJ".to_string()]
        );
        // Suspended: no timer; resumed a working day later: the deadline moves with it.
        let suspend = event(EventType::OrderSuspended, json!({}));
        let resume = event(EventType::OrderResumed, json!({}));
        apply(&mut o, &suspend, at("2026-11-26T09:00:00+08:00"), &rules).unwrap();
        assert!(o.co_timers().is_empty());
        apply(&mut o, &resume, at("2026-11-27T09:00:00+08:00"), &rules).unwrap();
        assert_eq!(
            o.co_handlers[0].co_reply_due_at,
            at("2026-11-27T16:00:00+08:00")
        );
        // Accepted and co-replied: no timer any more, and it was on time.
        let accept = event(EventType::OrderAccepted, json!({"department": "ZFYJJ"}));
        let co_reply = event(
            EventType::OrderCoReplied,
            json!({"department": "ZFYJJ", "reply": "已配合核查"}),
        );
        apply(&mut o, &accept, at("2026-11-27T10:00:00+08:00"), &rules).unwrap();
        assert_eq!(o.state, OrderState::Dispatched, "the lead has not accepted");
        apply(&mut o, &co_reply, at("2026-11-27T16:00:00+08:00"), &rules).unwrap();
        assert_eq!(o.co_handlers[0].on_time, Some(true));
        assert!(o.co_timers().is_empty());
    }

    #[test]
    fn an_operator_dispatch_names_co_handlers_of_the_catalog_and_a_new_lead_is_none_of_them() {
        let rules = rules();
        let with_co_handlers = || {
            let mut o = order(OrderState::Dispatched);
            for department in ["ZFYJJ", "YSBZX"] {
                o.co_handlers.push(CoHandler {
                    department: department.into(),
                    ..co_handler(false)
                });
            }
            o
        };
        let dispatch = |department: &str, co: &[&str]| {
            event(
                EventType::OrderDispatched,
                json!({"department": department, "operator": "op7", "co_departments": co}),
            )
        };
        let then = at("2026-11-26T09:00:00+08:00");
        // (what, lead, co_departments, the co-handlers after)
        let cases: [(&str, &str, &[&str], &[&str]); 3] = [
            ("to another", "JJPQ", &[], &["ZFYJJ", "YSBZX"]),
            ("to a co-handler", "ZFYJJ", &[], &["YSBZX"]),
            ("with one more", "ZFYJJ", &["HTPQ"], &["YSBZX", "HTPQ"]),
        ];
        for (what, lead, co, after) in cases {
            let mut o = with_co_handlers();
            apply(&mut o, &dispatch(lead, co), then, &rules).unwrap();
            let departments: Vec<&str> = o
                .co_handlers
                .iter()
                .map(|c| c.department.as_str())
                .collect();
            assert_eq!(
                (o.department.as_str(), departments.as_slice()),
                (lead, after),
                "{what}"
            );
        }
        // A co-department outside the catalog: refused, and the order is as it was.
        let mut o = with_co_handlers();
        let before = o.clone();
        let refused =
            apply(&mut o, &dispatch("JJPQ", &["HTPQ", "NOPE"]), then, &rules).unwrap_err();
        assert_eq!(refused.code, RejectCode::InvalidField);
        assert_eq!(
            refused.detail,
            "co_departments: not a department of the catalog"
        );
        assert!(o == before, "nothing half-applied");
    }

    #[test]
    fn the_lead_replies_once_every_co_handler_co_replied_or_is_past_its_deadline() {
        let rules = rules();
        let reply = event(
            EventType::OrderReplied,
            json!({"department": "SCJGJ", "reply": "已办结", "resolved": true}),
        );
        let co_reply = event(
            EventType::OrderCoReplied,
            json!({"department": "ZFYJJ", "reply": "已配合核查"}),
        );
        let refused = "order PT1: co-handler ZFYJJ has not co-replied and its co-reply deadline 2026-11-26T16:00:00+08:00 has not passed";
        // (co-replied first?, lead replies at, refusal)
        let cases = [
            (false, "2026-11-26T09:00:00+08:00", Some(refused)),
            (false, "2026-11-26T15:59:59+08:00", Some(refused)),
            (false, "2026-11-26T16:00:00+08:00", None),
            (true, "2026-11-26T09:00:00+08:00", None),
        ];
        for (co_replied, when, refusal) in cases {
            let mut o = order(OrderState::Accepted);
            o.co_handlers.push(co_handler(true));
            if co_replied {
                apply(&mut o, &co_reply, at("2026-11-26T08:30:00+08:00"), &rules).unwrap();
            }
            let result = apply(&mut o, &reply, at(when), &rules);
            match refusal {
                Some(detail) => {
                    let r = result.unwrap_err();
                    assert_eq!(
                        (r.code, r.detail.as_str()),
                        (RejectCode::InvalidState, detail)
                    );
                    assert_eq!(o.state, OrderState::Accepted);
                }
                None => {
                    assert!(result.is_ok(), "{when}: {:?}", result.err());
                    assert_eq!(o.state, OrderState::Replied);
                }
            }
        }
    }

    #[test]
    fn a_co_handler_cannot_reply_for_the_lead_and_co_replies_once_after_accepting() {
        let rules = rules();
        let now = at("2026-11-26T09:00:00+08:00");
        // (co-handler accepted?, event, rejection)
        let cases = [
            (
                true,
                event(
                    EventType::OrderReplied,
                    json!({"department": "ZFYJJ", "reply": "r", "resolved": true}),
                ),
                (
                    RejectCode::WrongDepartment,
                    "ZFYJJ co-handles order PT1: only the lead department SCJGJ replies (a co-handler sends order.co_replied)",
                ),
            ),
            (
                true,
                event(
                    EventType::OrderCoReplied,
                    json!({"department": "SCJGJ", "reply": "r"}),
                ),
                (
                    RejectCode::WrongDepartment,
                    "order PT1 is not co-handled by SCJGJ",
                ),
            ),
            (
                false,
                event(
                    EventType::OrderCoReplied,
                    json!({"department": "ZFYJJ", "reply": "r"}),
                ),
                (
                    RejectCode::InvalidState,
                    "co-handler ZFYJJ has not accepted order PT1",
                ),
            ),
            (
                true,
                event(EventType::OrderAccepted, json!({"department": "ZFYJJ"})),
                (
                    RejectCode::InvalidState,
                    "co-handler ZFYJJ has already accepted order PT1",
                ),
            ),
            (
                true,
                event(
                    EventType::OrderReturned,
                    json!({"department": "ZFYJJ", "reason": "r"}),
                ),
                (
                    RejectCode::WrongDepartment,
                    "order PT1 is held by SCJGJ, not ZFYJJ",
                ),
            ),
        ];
        for (accepted, e, (code, detail)) in cases {
            let mut o = order(OrderState::Accepted);
            o.co_handlers.push(co_handler(accepted));
            let before = o.clone();
            let r = apply(&mut o, &e, now, &rules).unwrap_err();
            assert_eq!(
                (r.code, r.detail.as_str()),
                (code, detail),
                "{}",
                e.event_type()
            );
            assert!(o == before);
        }
        // Twice: the second co-reply is refused.
        let mut o = order(OrderState::Accepted);
        o.co_handlers.push(co_handler(true));
        let co_reply = event(
            EventType::OrderCoReplied,
            json!({"department": "ZFYJJ", "reply": "r"}),
        );
        apply(&mut o, &co_reply, now, &rules).unwrap();
        let r = apply(&mut o, &co_reply, now, &rules).unwrap_err();
        assert_eq!(
            r.detail,
            "co-handler ZFYJJ has already co-replied on order PT1"
        );
        // Late: recorded, not on time.
        let mut o = order(OrderState::Accepted);
        o.co_handlers.push(co_handler(true));
        apply(&mut o, &co_reply, at("2026-11-26T16:00:01+08:00"), &rules).unwrap();
        assert_eq!(o.co_handlers[0].on_time, Some(false));
    }
}
