//! The life of a work order as a state machine. Pure: an order and an event in, the
//! changed order and the effects out, or a rejection that names the state.
//!
//! ```text
//! dispatched ──accepted──▶ accepted ──replied──▶ replied ──feedback──▶ closed
//!     ▲  │ returned / dispatched (operator)  │                 │ unsatisfied and
//!     │  └──────────▶ dispatched (elsewhere) │                 │ not resolved
//!     └──────────────────────────────────────┴── reopened ◀───┘ (same department)
//! dispatched | accepted ──suspended──▶ suspended ──resumed──▶ (back, clocks restarted)
//! accepted ──extension_requested──▶ accepted (pending) ──extension_decided──▶ accepted
//! urged: recorded in any open state, never changes it.
//! ```

use crate::config::Limit;
use crate::observation::Observation;
use crate::order::Order;
use crate::rules::Rules;
use chrono::{DateTime, Utc};
use hotline_schema::body::EventBody;
use hotline_schema::event::{EventType, InboundEvent};
use hotline_schema::rejection::{RejectCode, Rejection};
use hotline_schema::values::OrderState;

/// What deciding an event asks the batch to do besides writing the order.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Send a task for the order's current department (a new dispatch).
    Dispatch,
    /// The department's dispatch number `dispatch_no` ended with a return (退单); the time
    /// it held the order is charged to the rule that sent it there.
    Returned { dispatch_no: i32, reason: String },
    /// Something the process counts in its metrics once the batch is committed.
    Observe(Observation),
}

fn not_allowed(order: &Order, event: EventType) -> Rejection {
    Rejection::new(
        RejectCode::InvalidState,
        format!(
            "order {} is {}: {event} is not allowed in that state",
            order.order_no, order.state
        ),
    )
}

/// Refuses an action by a department that does not hold the order. The reason names the
/// sender's department only if it is one of the catalog's: it is input, not a label.
fn held_by(order: &Order, department: &str, rules: &Rules) -> Result<(), Rejection> {
    if order.department == department {
        return Ok(());
    }
    let sender = if rules.router.knows_department(department) {
        department
    } else {
        "a department outside the catalog"
    };
    Err(Rejection::new(
        RejectCode::WrongDepartment,
        format!(
            "order {} is held by {}, not {sender}",
            order.order_no, order.department
        ),
    ))
}

/// Applies `event` (already known to name `order`) at instant `at`. On a rejection the
/// order is unchanged: nothing is half-applied.
pub fn apply(
    order: &mut Order,
    event: &InboundEvent,
    at: DateTime<Utc>,
    rules: &Rules,
) -> Result<Vec<Effect>, Rejection> {
    let mut next = order.clone();
    let effects = decide(&mut next, event, at, rules)?;
    *order = next;
    Ok(effects)
}

fn decide(
    order: &mut Order,
    event: &InboundEvent,
    at: DateTime<Utc>,
    rules: &Rules,
) -> Result<Vec<Effect>, Rejection> {
    let name = event.event_type();
    let current = order.state;
    let open = current.clocks_run();
    match &event.body {
        EventBody::OrderAccepted(e) => {
            if current != OrderState::Dispatched {
                return Err(not_allowed(order, name));
            }
            held_by(order, &e.department, rules)?;
            order.state = OrderState::Accepted;
            order.accepted_at = Some(at);
            order.handler = e.handler.clone();
            Ok(vec![])
        }
        EventBody::OrderReturned(e) => {
            if !open {
                return Err(not_allowed(order, name));
            }
            held_by(order, &e.department, rules)?;
            let returned = order.dispatch_count;
            if !order.returned_by.contains(&e.department) {
                order.returned_by.push(e.department.clone());
            }
            let route = rules
                .router
                .route_avoiding(order.report.case(), at, &order.returned_by);
            order.return_count += 1;
            // The citizen's deadlines stand; the new department gets its own sign time.
            redispatch(
                order,
                route.department,
                route.rule,
                route.rule_version,
                at,
                rules,
            );
            Ok(vec![
                Effect::Returned {
                    dispatch_no: returned,
                    reason: e.reason.clone(),
                },
                Effect::Dispatch,
            ])
        }
        EventBody::OrderDispatched(e) => {
            if current != OrderState::Dispatched {
                return Err(not_allowed(order, name));
            }
            if !rules.router.knows_department(&e.department) {
                return Err(Rejection::new(
                    RejectCode::InvalidField,
                    "department: not a department of the catalog",
                ));
            }
            let previous = order.dispatch_count;
            let rule = format!("operator:{}", e.operator.as_deref().unwrap_or("unnamed"));
            redispatch(order, e.department.clone(), rule, 1, at, rules);
            Ok(vec![
                Effect::Returned {
                    dispatch_no: previous,
                    reason: "re-dispatched by an operator".into(),
                },
                Effect::Dispatch,
            ])
        }
        EventBody::ExtensionRequested(e) => {
            if current != OrderState::Accepted {
                return Err(not_allowed(order, name));
            }
            held_by(order, &e.department, rules)?;
            if order.extension_requested_days.is_some() {
                return Err(Rejection::new(
                    RejectCode::InvalidState,
                    format!("order {} already has an extension pending", order.order_no),
                ));
            }
            if at >= order.deadlines.committed {
                return Err(Rejection::new(
                    RejectCode::InvalidState,
                    format!(
                        "order {} is past its committed deadline: extensions are asked before it",
                        order.order_no
                    ),
                ));
            }
            if e.extra_working_days > rules.max_extension_days {
                return Err(Rejection::new(
                    RejectCode::InvalidField,
                    format!(
                        "extra_working_days: more than the {} an extension may grant",
                        rules.max_extension_days
                    ),
                ));
            }
            order.extension_requested_days = Some(e.extra_working_days);
            Ok(vec![])
        }
        EventBody::ExtensionDecided(e) => {
            let Some(requested) = order.extension_requested_days else {
                return Err(Rejection::new(
                    RejectCode::InvalidState,
                    format!(
                        "order {} is {} with no extension pending",
                        order.order_no, order.state
                    ),
                ));
            };
            if current != OrderState::Accepted {
                return Err(not_allowed(order, name));
            }
            order.extension_requested_days = None;
            if e.approved {
                let days = e
                    .extra_working_days
                    .unwrap_or(requested)
                    .min(rules.max_extension_days);
                let limit = order.statutory_limit;
                let d = &mut order.deadlines;
                for deadline in [&mut d.committed, &mut d.statutory, &mut d.warning] {
                    *deadline = rules.clock.extend(limit, *deadline, days);
                }
                order.extension_days += days;
            }
            Ok(vec![])
        }
        EventBody::OrderSuspended(_) => {
            if !open {
                return Err(not_allowed(order, name));
            }
            order.resume_state = Some(order.state);
            order.state = OrderState::Suspended;
            order.paused_at = Some(at);
            Ok(vec![])
        }
        EventBody::OrderResumed(_) => {
            if current != OrderState::Suspended {
                return Err(not_allowed(order, name));
            }
            let paused_at = order.paused_at.unwrap_or(at);
            let limit = order.statutory_limit;
            let sign_limit: Limit = rules.clock.settings.sign_limit;
            let resume = |d: DateTime<Utc>, l| rules.clock.resume(l, d, paused_at, at);
            let d = &mut order.deadlines;
            d.statutory = resume(d.statutory, limit);
            d.committed = resume(d.committed, limit);
            d.warning = resume(d.warning, limit);
            d.sign = resume(d.sign, sign_limit);
            order.state = order.resume_state.take().unwrap_or(OrderState::Accepted);
            order.paused_at = None;
            Ok(vec![])
        }
        EventBody::OrderReplied(e) => {
            if current != OrderState::Accepted {
                return Err(not_allowed(order, name));
            }
            held_by(order, &e.department, rules)?;
            order.state = OrderState::Replied;
            order.replied_at = Some(at);
            order.resolved = Some(e.resolved);
            order.extension_requested_days = None;
            order.on_time = Some(at <= order.deadlines.committed);
            let seconds = (at - order.report.received_at).num_milliseconds().max(0) as f64 / 1000.0;
            Ok(vec![Effect::Observe(Observation::Replied {
                department: order.department.clone(),
                seconds,
            })])
        }
        EventBody::OrderUrged(_) => {
            if !(open || current == OrderState::Suspended) {
                return Err(not_allowed(order, name));
            }
            order.urge_count += 1;
            Ok(vec![])
        }
        EventBody::OrderFeedback(e) => {
            if current != OrderState::Replied {
                return Err(not_allowed(order, name));
            }
            order.rating = Some(e.rating);
            let department = order.department.clone();
            let mut effects = vec![Effect::Observe(Observation::Feedback {
                department: department.clone(),
                rating: e.rating,
            })];
            if e.rating.is_unsatisfied() && !e.resolved {
                // 重办: back to the same department with a new committed deadline.
                order.reopen_count += 1;
                order.replied_at = None;
                order.resolved = None;
                order.on_time = None;
                let fresh = rules.clock.deadlines(at, order.statutory_limit);
                order.deadlines.statutory = fresh.statutory;
                order.deadlines.committed = fresh.committed;
                order.deadlines.warning = fresh.warning;
                let (rule, version) = (order.rule.clone(), order.rule_version);
                redispatch(order, department, rule, version, at, rules);
                effects.push(Effect::Dispatch);
            } else {
                order.state = OrderState::Closed;
                order.closed_at = Some(at);
                effects.push(Effect::Observe(Observation::Closed {
                    department,
                    on_time: order.on_time.unwrap_or(false),
                }));
            }
            Ok(effects)
        }
        EventBody::ComplaintReceived(_) => Err(Rejection::new(
            RejectCode::DuplicateOrder,
            format!("order {} already exists", order.order_no),
        )),
        EventBody::AppointmentBooked(_)
        | EventBody::AppointmentCheckedIn(_)
        | EventBody::AppointmentCalled(_)
        | EventBody::AppointmentCompleted => Err(Rejection::new(
            RejectCode::InvalidState,
            format!("{} is a work order, not an appointment", order.order_no),
        )),
    }
}

/// Places the order with `department` as a new dispatch, waiting to be accepted.
fn redispatch(
    order: &mut Order,
    department: String,
    rule: String,
    rule_version: i32,
    at: DateTime<Utc>,
    rules: &Rules,
) {
    order.department = department;
    order.rule = rule;
    order.rule_version = rule_version;
    order.dispatch_count += 1;
    order.state = OrderState::Dispatched;
    order.accepted_at = None;
    order.handler = None;
    order.extension_requested_days = None;
    order.deadlines.sign = rules.clock.after(at, rules.clock.settings.sign_limit, 1.0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::order::Report;
    use crate::sla::Deadlines;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn order(state: OrderState) -> Order {
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
        if state == OrderState::Suspended {
            order.paused_at = Some(received);
            order.resume_state = Some(OrderState::Accepted);
        }
        order
    }

    fn rules() -> Rules {
        Rules::new(&Config::test_catalog())
    }

    fn event(event_type: &str, fields: serde_json::Value) -> InboundEvent {
        let mut v = json!({
            "event_id": uuid::Uuid::new_v4(), "type": event_type,
            "occurred_at": "2026-11-26T09:00:00+08:00", "order_no": "PT1",
        });
        for (k, val) in fields.as_object().unwrap() {
            v[k] = val.clone();
        }
        InboundEvent::parse(v.to_string().as_bytes(), 1 << 16).unwrap()
    }

    fn events() -> Vec<(&'static str, InboundEvent)> {
        vec![
            (
                "accepted",
                event(
                    "order.accepted",
                    json!({"department": "SCJGJ", "handler": "h"}),
                ),
            ),
            (
                "returned",
                event(
                    "order.returned",
                    json!({"department": "SCJGJ", "reason": "非本单位"}),
                ),
            ),
            (
                "dispatched",
                event(
                    "order.dispatched",
                    json!({"department": "ZFYJJ", "operator": "op"}),
                ),
            ),
            (
                "extension_requested",
                event(
                    "order.extension_requested",
                    json!({"department": "SCJGJ", "extra_working_days": 3, "reason": "r"}),
                ),
            ),
            (
                "extension_decided",
                event("order.extension_decided", json!({"approved": true})),
            ),
            (
                "suspended",
                event("order.suspended", json!({"reason": "r"})),
            ),
            ("resumed", event("order.resumed", json!({}))),
            (
                "replied",
                event(
                    "order.replied",
                    json!({"department": "SCJGJ", "reply": "已处理", "resolved": true}),
                ),
            ),
            ("urged", event("order.urged", json!({"note": "n"}))),
            (
                "feedback",
                event(
                    "order.feedback",
                    json!({"rating": "satisfied", "resolved": true}),
                ),
            ),
        ]
    }

    #[test]
    fn every_state_and_event_pair_is_allowed_or_rejected_naming_the_state() {
        let rules = rules();
        // For each event, the state it leads to from each state; None = rejected.
        use OrderState::*;
        let table: [(&str, [Option<OrderState>; 6]); 10] = [
            //                     dispatched        accepted          suspended         replied           closed  merged
            ("accepted", [Some(Accepted), None, None, None, None, None]),
            (
                "returned",
                [Some(Dispatched), Some(Dispatched), None, None, None, None],
            ),
            (
                "dispatched",
                [Some(Dispatched), None, None, None, None, None],
            ),
            (
                "extension_requested",
                [None, Some(Accepted), None, None, None, None],
            ),
            (
                "extension_decided",
                [None, Some(Accepted), None, None, None, None],
            ),
            (
                "suspended",
                [Some(Suspended), Some(Suspended), None, None, None, None],
            ),
            ("resumed", [None, None, Some(Accepted), None, None, None]),
            ("replied", [None, Some(Replied), None, None, None, None]),
            (
                "urged",
                [
                    Some(Dispatched),
                    Some(Accepted),
                    Some(Suspended),
                    None,
                    None,
                    None,
                ],
            ),
            ("feedback", [None, None, None, Some(Closed), None, None]),
        ];
        let states = [Dispatched, Accepted, Suspended, Replied, Closed, Merged];
        let events = events();
        for (name, expected) in table {
            let (_, event) = events.iter().find(|(n, _)| *n == name).unwrap();
            for (from, want) in states.iter().zip(expected) {
                let mut o = order(*from);
                if name == "extension_decided" {
                    o.extension_requested_days = Some(3);
                }
                let before = o.clone();
                let result = apply(&mut o, event, at("2026-11-26T09:00:00+08:00"), &rules);
                match want {
                    Some(to) => {
                        assert!(result.is_ok(), "{name} from {from}: {:?}", result.err());
                        assert_eq!(o.state, to, "{name} from {from}");
                    }
                    None => {
                        let rejection =
                            result.expect_err(&format!("{name} from {from} must be rejected"));
                        assert_eq!(
                            rejection.code,
                            RejectCode::InvalidState,
                            "{name} from {from}: {rejection}"
                        );
                        assert!(
                            rejection.detail.contains(&format!("is {from}")),
                            "{name} from {from}: {rejection}"
                        );
                        assert!(o == before, "{name} from {from}: nothing half-applied");
                    }
                }
            }
        }
    }

    #[test]
    fn departments_that_do_not_hold_the_order_are_turned_away() {
        let rules = rules();
        for (from, e) in [
            (
                OrderState::Dispatched,
                event("order.accepted", json!({"department": "ZFYJJ"})),
            ),
            (
                OrderState::Dispatched,
                event(
                    "order.returned",
                    json!({"department": "ZFYJJ", "reason": "r"}),
                ),
            ),
            (
                OrderState::Accepted,
                event(
                    "order.replied",
                    json!({"department": "ZFYJJ", "reply": "r", "resolved": true}),
                ),
            ),
            (
                OrderState::Accepted,
                event(
                    "order.extension_requested",
                    json!({"department": "ZFYJJ", "extra_working_days": 2, "reason": "r"}),
                ),
            ),
        ] {
            let mut o = order(from);
            let r = apply(&mut o, &e, at("2026-11-26T09:00:00+08:00"), &rules).unwrap_err();
            assert_eq!(r.code, RejectCode::WrongDepartment, "{}", e.event_type());
            assert!(r.detail.contains("held by SCJGJ"));
        }
    }

    #[test]
    fn a_return_goes_elsewhere_and_keeps_the_citizens_deadlines() {
        let rules = rules();
        let mut o = order(OrderState::Accepted);
        let committed = o.deadlines.committed;
        let events = events();
        let returned = &events.iter().find(|(n, _)| *n == "returned").unwrap().1;
        let effects = apply(&mut o, returned, at("2026-11-26T09:00:00+08:00"), &rules).unwrap();
        assert_eq!(
            o.department, "ZFYJJ",
            "the keyword 无证 places it elsewhere"
        );
        assert_eq!(o.dispatch_count, 2);
        assert_eq!(o.deadlines.committed, committed);
        assert_eq!(o.returned_by, vec!["SCJGJ".to_string()]);
        assert!(effects.contains(&Effect::Dispatch));
        // The second department returns it too: nothing else fits, so the manual desk.
        let again = event(
            "order.returned",
            json!({"department": "ZFYJJ", "reason": "也不是我们"}),
        );
        apply(&mut o, &again, at("2026-11-26T10:00:00+08:00"), &rules).unwrap();
        assert_eq!(
            (o.department.as_str(), o.rule.as_str()),
            ("MANUAL", "manual")
        );
    }

    #[test]
    fn clocks_stop_while_suspended_and_extensions_move_both_deadlines() {
        let rules = rules();
        let mut o = order(OrderState::Accepted);
        let suspend = event("order.suspended", json!({}));
        let resume = event("order.resumed", json!({}));
        // Suspended Thu 2026-11-26 09:00, resumed Mon 11-30 09:00: two working days paused.
        apply(&mut o, &suspend, at("2026-11-26T09:00:00+08:00"), &rules).unwrap();
        assert!(o.timers().is_empty(), "a paused order has no live timers");
        apply(&mut o, &resume, at("2026-11-30T09:00:00+08:00"), &rules).unwrap();
        assert_eq!(o.state, OrderState::Accepted);
        assert_eq!(
            Some(o.deadlines.committed),
            Some(at("2026-12-01T16:00:00+08:00"))
        );
        assert_eq!(
            Some(o.deadlines.statutory),
            Some(at("2026-12-04T10:00:00+08:00"))
        );

        let ask = event(
            "order.extension_requested",
            json!({"department": "SCJGJ", "extra_working_days": 3, "reason": "需现场核查"}),
        );
        let grant = event("order.extension_decided", json!({"approved": true}));
        apply(&mut o, &ask, at("2026-11-30T10:00:00+08:00"), &rules).unwrap();
        apply(&mut o, &grant, at("2026-11-30T11:00:00+08:00"), &rules).unwrap();
        assert_eq!(
            Some(o.deadlines.committed),
            Some(at("2026-12-04T16:00:00+08:00"))
        );
        assert_eq!(
            Some(o.deadlines.statutory),
            Some(at("2026-12-09T10:00:00+08:00"))
        );
        assert_eq!(o.extension_days, 3);
        // Too late to ask once the committed deadline has passed.
        let late = apply(&mut o, &ask, at("2026-12-05T10:00:00+08:00"), &rules).unwrap_err();
        assert_eq!(late.code, RejectCode::InvalidState);
    }

    #[test]
    fn unsatisfied_unresolved_feedback_reopens_with_the_same_department() {
        let rules = rules();
        // (rating, resolved, reopened?)
        let cases = [
            ("very_satisfied", true, false),
            ("basically_satisfied", false, false),
            ("dissatisfied", true, false),
            ("dissatisfied", false, true),
            ("very_dissatisfied", false, true),
        ];
        for (rating, resolved, reopened) in cases {
            let mut o = order(OrderState::Replied);
            let feedback = event(
                "order.feedback",
                json!({"rating": rating, "resolved": resolved}),
            );
            let effects =
                apply(&mut o, &feedback, at("2026-11-30T09:00:00+08:00"), &rules).unwrap();
            if reopened {
                assert_eq!(o.state, OrderState::Dispatched, "{rating}");
                assert_eq!(o.department, "SCJGJ");
                assert_eq!(o.reopen_count, 1);
                assert!(
                    o.deadlines.committed > at("2026-11-30T09:00:00+08:00"),
                    "a new committed deadline"
                );
                assert!(effects.contains(&Effect::Dispatch));
            } else {
                assert_eq!(o.state, OrderState::Closed, "{rating}");
                assert!(!effects.contains(&Effect::Dispatch));
            }
        }
    }

    #[test]
    fn every_return_and_every_urge_is_counted() {
        let rules = rules();
        let by_scjgj = event(
            "order.returned",
            json!({"department": "SCJGJ", "reason": "非本单位"}),
        );
        // The keyword 无证 sends the first return to ZFYJJ, which returns it in turn.
        let by_zfyjj = event(
            "order.returned",
            json!({"department": "ZFYJJ", "reason": "也不是我们"}),
        );
        let urged = event("order.urged", json!({"note": "n"}));
        // (events applied in order from accepted, return_count, urge_count)
        let cases: [(&[&InboundEvent], u32, u32); 6] = [
            (&[], 0, 0),
            (&[&by_scjgj], 1, 0),
            (&[&by_scjgj, &by_zfyjj], 2, 0),
            (&[&urged], 0, 1),
            (&[&urged, &urged, &urged], 0, 3),
            (&[&urged, &by_scjgj, &urged], 1, 2),
        ];
        for (events, returns, urges) in cases {
            let mut o = order(OrderState::Accepted);
            for e in events {
                apply(&mut o, e, at("2026-11-26T09:00:00+08:00"), &rules).unwrap();
            }
            let names: Vec<_> = events.iter().map(|e| e.event_type()).collect();
            assert_eq!(o.return_count, returns, "returns after {names:?}");
            assert_eq!(o.urge_count, urges, "urges after {names:?}");
        }
    }

    #[test]
    fn an_extension_may_ask_for_up_to_the_limit_and_no_more() {
        let rules = rules();
        let max = rules.max_extension_days;
        // (extra working days asked, accepted?)
        let cases = [
            (1, true),
            (max - 1, true),
            (max, true),
            (max + 1, false),
            (max + 5, false),
        ];
        for (days, accepted) in cases {
            let mut o = order(OrderState::Accepted);
            let ask = event(
                "order.extension_requested",
                json!({"department": "SCJGJ", "extra_working_days": days, "reason": "r"}),
            );
            let result = apply(&mut o, &ask, at("2026-11-26T09:00:00+08:00"), &rules);
            if accepted {
                assert!(result.is_ok(), "{days} days: {:?}", result.err());
                assert_eq!(o.extension_requested_days, Some(days));
            } else {
                let rejection = result.expect_err(&format!("{days} days must be rejected"));
                assert_eq!(rejection.code, RejectCode::InvalidField, "{days} days");
                assert!(
                    rejection
                        .detail
                        .starts_with(&format!("extra_working_days: more than the {max} ")),
                    "{rejection}"
                );
                assert_eq!(o.extension_requested_days, None, "{days} days");
            }
        }
    }

    #[test]
    fn a_reply_is_on_time_up_to_the_committed_deadline_and_timed_from_receipt() {
        let rules = rules();
        let reply = event(
            "order.replied",
            json!({"department": "SCJGJ", "reply": "已处理", "resolved": false}),
        );
        // Received Wed 2026-11-25 10:00; committed deadline Fri 11-27 16:00.
        // (replied at, on time?, seconds since receipt)
        let cases = [
            ("2026-11-26T09:00:00+08:00", true, 23.0 * 3600.0),
            ("2026-11-26T09:00:00.250+08:00", true, 23.0 * 3600.0 + 0.25),
            ("2026-11-27T16:00:00+08:00", true, 54.0 * 3600.0),
            ("2026-11-27T16:00:01+08:00", false, 54.0 * 3600.0 + 1.0),
            ("2026-12-03T10:00:00+08:00", false, 8.0 * 24.0 * 3600.0),
            // A reply stamped before the receipt (clock skew upstream) counts no time.
            ("2026-11-25T09:00:00+08:00", true, 0.0),
        ];
        for (when, on_time, seconds) in cases {
            let mut o = order(OrderState::Accepted);
            let effects = apply(&mut o, &reply, at(when), &rules).unwrap();
            assert_eq!(o.state, OrderState::Replied, "{when}");
            assert_eq!(o.on_time, Some(on_time), "replied {when}");
            assert_eq!(o.replied_at, Some(at(when)));
            assert_eq!(o.resolved, Some(false));
            assert_eq!(
                effects,
                vec![Effect::Observe(Observation::Replied {
                    department: "SCJGJ".into(),
                    seconds,
                })],
                "replied {when}"
            );
        }
    }

    #[test]
    fn an_operator_dispatches_only_to_a_known_department() {
        let rules = rules();
        // (department, operator, accepted?, rule recorded)
        let cases = [
            ("ZFYJJ", Some("op7"), true, "operator:op7"),
            ("JJPQ", None, true, "operator:unnamed"),
            ("NOPE", Some("op7"), false, ""),
        ];
        for (department, operator, accepted, rule) in cases {
            let mut o = order(OrderState::Dispatched);
            let before = o.clone();
            let e = event(
                "order.dispatched",
                json!({"department": department, "operator": operator}),
            );
            let result = apply(&mut o, &e, at("2026-11-26T09:00:00+08:00"), &rules);
            if accepted {
                let effects = result.unwrap();
                assert_eq!(
                    (o.department.as_str(), o.rule.as_str(), o.dispatch_count),
                    (department, rule, 2),
                    "{department}"
                );
                assert_eq!(
                    effects,
                    vec![
                        Effect::Returned {
                            dispatch_no: 1,
                            reason: "re-dispatched by an operator".into()
                        },
                        Effect::Dispatch
                    ]
                );
            } else {
                let rejection = result.unwrap_err();
                assert_eq!(rejection.code, RejectCode::InvalidField, "{department}");
                assert!(
                    rejection.detail == "department: not a department of the catalog",
                    "{rejection}"
                );
                assert!(o == before, "{department}: nothing half-applied");
            }
        }
    }
}
