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

use crate::order::{Order, state};
use crate::routing::{Case, Router};
use chrono::{DateTime, Utc};
use hotline_schema::config::Limit;
use hotline_schema::event::{EventBody, InboundEvent, Rating, RejectCode, Rejection};
use hotline_schema::sla::SlaClock;

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

/// Facts for per-process counters and histograms (no personal data).
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    Replied { department: String, seconds: f64 },
    Closed { department: String, on_time: bool },
    Feedback { department: String, rating: Rating },
    Hall(crate::appointment::HallObservation),
}

/// The rules a decision needs.
pub struct Rules<'a> {
    pub router: &'a Router,
    pub clock: &'a SlaClock,
    pub max_extension_days: u32,
}

fn limit_of(order: &Order) -> Limit {
    order
        .statutory_limit
        .as_deref()
        .and_then(|l| Limit::parse(l).ok())
        .unwrap_or(Limit::WorkingDays(15))
}

fn not_allowed(order: &Order, event: &str) -> Rejection {
    Rejection::new(
        RejectCode::InvalidState,
        format!(
            "order {} is {}: {event} is not allowed in that state",
            order.order_no, order.state
        ),
    )
}

fn held_by(order: &Order, department: &str) -> Result<(), Rejection> {
    if order.department == department {
        Ok(())
    } else {
        Err(Rejection::new(
            RejectCode::WrongDepartment,
            format!(
                "order {} is held by {}, not {department}",
                order.order_no, order.department
            ),
        ))
    }
}

/// Applies `event` (already known to name `order`) at instant `at`. On a rejection the
/// order is unchanged: nothing is half-applied.
pub fn apply(
    order: &mut Order,
    event: &InboundEvent,
    at: DateTime<Utc>,
    rules: &Rules<'_>,
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
    rules: &Rules<'_>,
) -> Result<Vec<Effect>, Rejection> {
    let name = event.type_name();
    let current = order.state.as_str();
    let open = matches!(current, state::DISPATCHED | state::ACCEPTED);
    match &event.body {
        EventBody::OrderAccepted(e) => {
            if current != state::DISPATCHED {
                return Err(not_allowed(order, name));
            }
            held_by(order, &e.department)?;
            order.state = state::ACCEPTED.into();
            order.accepted_at = Some(at);
            order.handler = e.handler.clone();
            Ok(vec![])
        }
        EventBody::OrderReturned(e) => {
            if !open {
                return Err(not_allowed(order, name));
            }
            held_by(order, &e.department)?;
            let returned = order.dispatch_count;
            if !order.returned_by.contains(&e.department) {
                order.returned_by.push(e.department.clone());
            }
            let route = rules.router.route_avoiding(
                Case {
                    kind: &order.kind,
                    category: &order.category,
                    district: order.district.as_deref(),
                    title: &order.title,
                    content: &order.content,
                },
                at,
                &order.returned_by,
            );
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
            if current != state::DISPATCHED {
                return Err(not_allowed(order, name));
            }
            if !rules.router.knows_department(&e.department) {
                return Err(Rejection::new(
                    RejectCode::InvalidField,
                    format!("unknown department {:?}", e.department),
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
            if current != state::ACCEPTED {
                return Err(not_allowed(order, name));
            }
            held_by(order, &e.department)?;
            if order.extension_requested_days.is_some() {
                return Err(Rejection::new(
                    RejectCode::InvalidState,
                    format!("order {} already has an extension pending", order.order_no),
                ));
            }
            if order.committed_due_at.is_some_and(|due| at >= due) {
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
                        "extra_working_days {} exceeds the limit of {}",
                        e.extra_working_days, rules.max_extension_days
                    ),
                ));
            }
            order.extension_requested_days = Some(e.extra_working_days as i32);
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
            if current != state::ACCEPTED {
                return Err(not_allowed(order, name));
            }
            order.extension_requested_days = None;
            if e.approved {
                let days = e
                    .extra_working_days
                    .unwrap_or(requested as u32)
                    .min(rules.max_extension_days);
                let limit = limit_of(order);
                for deadline in [
                    &mut order.committed_due_at,
                    &mut order.statutory_due_at,
                    &mut order.warning_due_at,
                ] {
                    *deadline = deadline.map(|d| rules.clock.extend(limit, d, days));
                }
                order.extension_days += days as i32;
            }
            Ok(vec![])
        }
        EventBody::OrderSuspended(_) => {
            if !open {
                return Err(not_allowed(order, name));
            }
            order.resume_state = Some(order.state.clone());
            order.state = state::SUSPENDED.into();
            order.paused_at = Some(at);
            Ok(vec![])
        }
        EventBody::OrderResumed(_) => {
            if current != state::SUSPENDED {
                return Err(not_allowed(order, name));
            }
            let paused_at = order.paused_at.unwrap_or(at);
            let limit = limit_of(order);
            let sign_limit = rules.clock.settings.sign_limit;
            let resume =
                |d: Option<DateTime<Utc>>, l| d.map(|d| rules.clock.resume(l, d, paused_at, at));
            order.statutory_due_at = resume(order.statutory_due_at, limit);
            order.committed_due_at = resume(order.committed_due_at, limit);
            order.warning_due_at = resume(order.warning_due_at, limit);
            order.sign_due_at = resume(order.sign_due_at, sign_limit);
            order.state = order
                .resume_state
                .take()
                .unwrap_or_else(|| state::ACCEPTED.into());
            order.paused_at = None;
            Ok(vec![])
        }
        EventBody::OrderReplied(e) => {
            if current != state::ACCEPTED {
                return Err(not_allowed(order, name));
            }
            held_by(order, &e.department)?;
            order.state = state::REPLIED.into();
            order.replied_at = Some(at);
            order.resolved = Some(e.resolved);
            order.extension_requested_days = None;
            order.on_time = Some(order.committed_due_at.is_none_or(|due| at <= due));
            let seconds = (at - order.received_at).num_milliseconds().max(0) as f64 / 1000.0;
            Ok(vec![Effect::Observe(Observation::Replied {
                department: order.department.clone(),
                seconds,
            })])
        }
        EventBody::OrderUrged(_) => {
            if !(open || current == state::SUSPENDED) {
                return Err(not_allowed(order, name));
            }
            order.urge_count += 1;
            Ok(vec![])
        }
        EventBody::OrderFeedback(e) => {
            if current != state::REPLIED {
                return Err(not_allowed(order, name));
            }
            order.rating = Some(e.rating.as_str().into());
            let department = order.department.clone();
            let mut effects = vec![Effect::Observe(Observation::Feedback {
                department: department.clone(),
                rating: e.rating,
            })];
            let unsatisfied = matches!(e.rating, Rating::Dissatisfied | Rating::VeryDissatisfied);
            if unsatisfied && !e.resolved {
                // 重办: back to the same department with a new committed deadline.
                order.reopen_count += 1;
                order.replied_at = None;
                order.resolved = None;
                order.on_time = None;
                let deadlines = rules.clock.deadlines(at, limit_of(order));
                order.statutory_due_at = Some(deadlines.statutory);
                order.committed_due_at = Some(deadlines.committed);
                order.warning_due_at = Some(deadlines.warning);
                let (rule, version) = (order.rule.clone(), order.rule_version);
                redispatch(order, department, rule, version, at, rules);
                effects.push(Effect::Dispatch);
            } else {
                order.state = state::CLOSED.into();
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
    rules: &Rules<'_>,
) {
    order.department = department;
    order.rule = rule;
    order.rule_version = rule_version;
    order.dispatch_count += 1;
    order.state = state::DISPATCHED.into();
    order.accepted_at = None;
    order.handler = None;
    order.extension_requested_days = None;
    order.sign_due_at = Some(rules.clock.after(at, rules.clock.settings.sign_limit, 1.0));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::NewCase;
    use hotline_schema::config::Config;
    use serde_json::json;

    const CONFIG: &str = r#"
[routing]
manual_department = "MANUAL"
[[department]]
code = "SCJGJ"
name = "市场监督管理局"
[[department]]
code = "ZFYJJ"
name = "执法应急局"
[[department]]
code = "MANUAL"
name = "人工派单"
kind = "manual"
[[matter]]
code = "SC-0101"
name = "食品安全投诉"
department = "SCJGJ"
statutory_limit = "5wd"
keywords = ["过期"]
[[matter]]
code = "ZF-0001"
name = "违法经营"
department = "ZFYJJ"
statutory_limit = "10wd"
keywords = ["无证"]
"#;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn order(state: &str) -> Order {
        let received = at("2026-11-25T10:00:00+08:00");
        let case = NewCase {
            order_no: "PT1".into(),
            kind: "complaint".into(),
            channel: "phone".into(),
            category: "SC-0101".into(),
            district: None,
            address: None,
            urgency: "normal".into(),
            title: "无证摊贩卖过期食品".into(),
            content: "c".into(),
            citizen_name: None,
            citizen_phone: None,
            received_at: received,
        };
        let mut order = Order::new(case, "SCJGJ".into(), "catalog:SC-0101".into(), received);
        order.state = state.into();
        order.matter_code = Some("SC-0101".into());
        order.statutory_limit = Some("5wd".into());
        order.statutory_due_at = Some(at("2026-12-02T10:00:00+08:00"));
        order.committed_due_at = Some(at("2026-11-27T16:00:00+08:00"));
        order.sign_due_at = Some(at("2026-11-26T10:00:00+08:00"));
        order.warning_due_at = Some(at("2026-11-27T08:30:00+08:00"));
        if state == state::SUSPENDED {
            order.paused_at = Some(received);
            order.resume_state = Some(state::ACCEPTED.into());
        }
        order.version = 1;
        order
    }

    /// The routing table and clock of [`CONFIG`], lending [`Rules`].
    struct Fixture {
        router: Router,
        clock: SlaClock,
    }

    impl Fixture {
        fn new() -> Fixture {
            let config = Config::parse(CONFIG, "t").unwrap();
            Fixture {
                router: Router::new(&config),
                clock: SlaClock::from_config(&config).unwrap(),
            }
        }

        fn rules(&self) -> Rules<'_> {
            Rules {
                router: &self.router,
                clock: &self.clock,
                max_extension_days: 10,
            }
        }
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
        let fixture = Fixture::new();
        let rules = fixture.rules();
        // For each event, the state it leads to from each state; None = rejected.
        use state::*;
        let table: [(&str, [Option<&str>; 6]); 10] = [
            //                     dispatched        accepted          suspended         replied           closed  merged
            ("accepted", [Some(ACCEPTED), None, None, None, None, None]),
            (
                "returned",
                [Some(DISPATCHED), Some(DISPATCHED), None, None, None, None],
            ),
            (
                "dispatched",
                [Some(DISPATCHED), None, None, None, None, None],
            ),
            (
                "extension_requested",
                [None, Some(ACCEPTED), None, None, None, None],
            ),
            (
                "extension_decided",
                [None, Some(ACCEPTED), None, None, None, None],
            ),
            (
                "suspended",
                [Some(SUSPENDED), Some(SUSPENDED), None, None, None, None],
            ),
            ("resumed", [None, None, Some(ACCEPTED), None, None, None]),
            ("replied", [None, Some(REPLIED), None, None, None, None]),
            (
                "urged",
                [
                    Some(DISPATCHED),
                    Some(ACCEPTED),
                    Some(SUSPENDED),
                    None,
                    None,
                    None,
                ],
            ),
            ("feedback", [None, None, None, Some(CLOSED), None, None]),
        ];
        let states = [DISPATCHED, ACCEPTED, SUSPENDED, REPLIED, CLOSED, MERGED];
        let events = events();
        for (name, expected) in table {
            let (_, event) = events.iter().find(|(n, _)| *n == name).unwrap();
            for (from, want) in states.iter().zip(expected) {
                let mut o = order(from);
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
                        assert_eq!(o.state, before.state, "nothing half-applied");
                        assert_eq!(o.version, before.version);
                    }
                }
            }
        }
    }

    #[test]
    fn departments_that_do_not_hold_the_order_are_turned_away() {
        let fixture = Fixture::new();
        let rules = fixture.rules();
        for (from, e) in [
            (
                state::DISPATCHED,
                event("order.accepted", json!({"department": "ZFYJJ"})),
            ),
            (
                state::DISPATCHED,
                event(
                    "order.returned",
                    json!({"department": "ZFYJJ", "reason": "r"}),
                ),
            ),
            (
                state::ACCEPTED,
                event(
                    "order.replied",
                    json!({"department": "ZFYJJ", "reply": "r", "resolved": true}),
                ),
            ),
            (
                state::ACCEPTED,
                event(
                    "order.extension_requested",
                    json!({"department": "ZFYJJ", "extra_working_days": 2, "reason": "r"}),
                ),
            ),
        ] {
            let mut o = order(from);
            let r = apply(&mut o, &e, at("2026-11-26T09:00:00+08:00"), &rules).unwrap_err();
            assert_eq!(r.code, RejectCode::WrongDepartment, "{}", e.type_name());
            assert!(r.detail.contains("held by SCJGJ"));
        }
    }

    #[test]
    fn a_return_goes_elsewhere_and_keeps_the_citizens_deadlines() {
        let fixture = Fixture::new();
        let rules = fixture.rules();
        let mut o = order(state::ACCEPTED);
        let committed = o.committed_due_at;
        let events = events();
        let returned = &events.iter().find(|(n, _)| *n == "returned").unwrap().1;
        let effects = apply(&mut o, returned, at("2026-11-26T09:00:00+08:00"), &rules).unwrap();
        assert_eq!(
            o.department, "ZFYJJ",
            "the keyword 无证 places it elsewhere"
        );
        assert_eq!(o.dispatch_count, 2);
        assert_eq!(o.committed_due_at, committed);
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
        let fixture = Fixture::new();
        let rules = fixture.rules();
        let mut o = order(state::ACCEPTED);
        let suspend = event("order.suspended", json!({}));
        let resume = event("order.resumed", json!({}));
        // Suspended Thu 2026-11-26 09:00, resumed Mon 11-30 09:00: two working days paused.
        apply(&mut o, &suspend, at("2026-11-26T09:00:00+08:00"), &rules).unwrap();
        assert!(o.timers().is_empty(), "a paused order has no live timers");
        apply(&mut o, &resume, at("2026-11-30T09:00:00+08:00"), &rules).unwrap();
        assert_eq!(o.state, state::ACCEPTED);
        assert_eq!(o.committed_due_at, Some(at("2026-12-01T16:00:00+08:00")));
        assert_eq!(o.statutory_due_at, Some(at("2026-12-04T10:00:00+08:00")));

        let ask = event(
            "order.extension_requested",
            json!({"department": "SCJGJ", "extra_working_days": 3, "reason": "需现场核查"}),
        );
        let grant = event("order.extension_decided", json!({"approved": true}));
        apply(&mut o, &ask, at("2026-11-30T10:00:00+08:00"), &rules).unwrap();
        apply(&mut o, &grant, at("2026-11-30T11:00:00+08:00"), &rules).unwrap();
        assert_eq!(o.committed_due_at, Some(at("2026-12-04T16:00:00+08:00")));
        assert_eq!(o.statutory_due_at, Some(at("2026-12-09T10:00:00+08:00")));
        assert_eq!(o.extension_days, 3);
        // Too late to ask once the committed deadline has passed.
        let late = apply(&mut o, &ask, at("2026-12-05T10:00:00+08:00"), &rules).unwrap_err();
        assert_eq!(late.code, RejectCode::InvalidState);
    }

    #[test]
    fn unsatisfied_unresolved_feedback_reopens_with_the_same_department() {
        let fixture = Fixture::new();
        let rules = fixture.rules();
        // (rating, resolved, reopened?)
        let cases = [
            ("very_satisfied", true, false),
            ("basically_satisfied", false, false),
            ("dissatisfied", true, false),
            ("dissatisfied", false, true),
            ("very_dissatisfied", false, true),
        ];
        for (rating, resolved, reopened) in cases {
            let mut o = order(state::REPLIED);
            let feedback = event(
                "order.feedback",
                json!({"rating": rating, "resolved": resolved}),
            );
            let effects =
                apply(&mut o, &feedback, at("2026-11-30T09:00:00+08:00"), &rules).unwrap();
            if reopened {
                assert_eq!(o.state, state::DISPATCHED, "{rating}");
                assert_eq!(o.department, "SCJGJ");
                assert_eq!(o.reopen_count, 1);
                assert!(
                    o.committed_due_at > Some(at("2026-11-30T09:00:00+08:00")),
                    "a new committed deadline"
                );
                assert!(effects.contains(&Effect::Dispatch));
            } else {
                assert_eq!(o.state, state::CLOSED, "{rating}");
                assert!(!effects.contains(&Effect::Dispatch));
            }
        }
    }
}
