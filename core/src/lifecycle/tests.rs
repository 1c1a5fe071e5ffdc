use super::test_support::{at, event, events, order, rules, rules_without_review};
use super::*;
use crate::order::{Appeal, CoHandler};
use hotline_schema::event::EventType;
use hotline_schema::values::{Rating, UrgeLevel};
use serde_json::json;
use uuid::Uuid;

/// What an event does in a state: leads to a state, is refused as not allowed in the
/// state (the standard `invalid_state` reason naming it), or another exact rejection.
#[derive(Debug, Clone, Copy)]
enum Want {
    To(OrderState),
    NotAllowed,
    Refused(RejectCode, &'static str),
}

/// The order a row of the table starts from: `order(state)`, with what the event needs
/// to be meaningful (an extension asked, a co-handler, a callback, an appeal).
fn fixture(name: &str, state: OrderState) -> Order {
    let mut o = order(state);
    let then = at("2026-11-25T10:00:00+08:00");
    match name {
        "extension_decided" => o.extension_requested_days = Some(3),
        "co_accepted" | "co_replied" => {
            o.co_handlers.push(CoHandler {
                department: "ZFYJJ".into(),
                task_id: Uuid::nil(),
                dispatched_at: then,
                sign_due_at: at("2026-11-26T10:00:00+08:00"),
                co_reply_due_at: at("2026-11-26T16:00:00+08:00"),
                accepted_at: (name == "co_replied").then_some(then),
                handler: None,
                replied_at: None,
                on_time: None,
                revision: 1,
            });
        }
        "rating_appealed" | "appeal_decided" => {
            o.callback = Some(Callback {
                event_id: Uuid::nil(),
                at: then,
                rating: Rating::Dissatisfied,
                department: "SCJGJ".into(),
                appeal: (name == "appeal_decided").then(|| Appeal {
                    department: "SCJGJ".into(),
                    reason: "r".into(),
                    appealed_at: then,
                    decision: None,
                }),
            });
        }
        _ => {}
    }
    o
}

#[test]
fn every_state_and_event_pair_is_allowed_or_rejected_exactly() {
    use OrderState::*;
    use Want::*;
    let rules = rules();
    let duplicate = Refused(RejectCode::DuplicateOrder, "order PT1 already exists");
    let not_hall = Refused(
        RejectCode::InvalidState,
        "PT1 is a work order, not an appointment",
    );
    let states = [
        Dispatched,
        Accepted,
        Suspended,
        Replied,
        Closed,
        Merged,
        ReturnPending,
    ];
    // For each event, what it does from each state, in the order of `states`.
    let table: [(&str, [Want; 7]); 18] = [
        (
            "accepted",
            [
                To(Accepted),
                NotAllowed,
                NotAllowed,
                NotAllowed,
                NotAllowed,
                NotAllowed,
                NotAllowed,
            ],
        ),
        (
            "returned",
            [
                To(ReturnPending),
                To(ReturnPending),
                NotAllowed,
                NotAllowed,
                NotAllowed,
                NotAllowed,
                NotAllowed,
            ],
        ),
        (
            "dispatched",
            [
                To(Dispatched),
                NotAllowed,
                NotAllowed,
                NotAllowed,
                NotAllowed,
                NotAllowed,
                NotAllowed,
            ],
        ),
        (
            "extension_requested",
            [
                NotAllowed,
                To(Accepted),
                NotAllowed,
                NotAllowed,
                NotAllowed,
                NotAllowed,
                NotAllowed,
            ],
        ),
        (
            "extension_decided",
            [
                NotAllowed,
                To(Accepted),
                NotAllowed,
                NotAllowed,
                NotAllowed,
                NotAllowed,
                NotAllowed,
            ],
        ),
        (
            "suspended",
            [
                To(Suspended),
                To(Suspended),
                NotAllowed,
                NotAllowed,
                NotAllowed,
                NotAllowed,
                NotAllowed,
            ],
        ),
        (
            "resumed",
            [
                NotAllowed,
                NotAllowed,
                To(Accepted),
                NotAllowed,
                NotAllowed,
                NotAllowed,
                NotAllowed,
            ],
        ),
        (
            "replied",
            [
                NotAllowed,
                To(Replied),
                NotAllowed,
                NotAllowed,
                NotAllowed,
                NotAllowed,
                NotAllowed,
            ],
        ),
        (
            "urged",
            [
                To(Dispatched),
                To(Accepted),
                To(Suspended),
                NotAllowed,
                NotAllowed,
                NotAllowed,
                To(ReturnPending),
            ],
        ),
        (
            "feedback",
            [
                NotAllowed,
                NotAllowed,
                NotAllowed,
                To(Closed),
                NotAllowed,
                NotAllowed,
                NotAllowed,
            ],
        ),
        (
            "co_accepted",
            [
                To(Dispatched),
                To(Accepted),
                To(Suspended),
                NotAllowed,
                NotAllowed,
                NotAllowed,
                To(ReturnPending),
            ],
        ),
        (
            "co_replied",
            [
                To(Dispatched),
                To(Accepted),
                To(Suspended),
                NotAllowed,
                NotAllowed,
                NotAllowed,
                To(ReturnPending),
            ],
        ),
        (
            "return_approved",
            [
                NotAllowed,
                NotAllowed,
                NotAllowed,
                NotAllowed,
                NotAllowed,
                NotAllowed,
                To(Dispatched),
            ],
        ),
        (
            "return_rejected",
            [
                NotAllowed,
                NotAllowed,
                NotAllowed,
                NotAllowed,
                NotAllowed,
                NotAllowed,
                // Back as it was when returned (accepted, in the fixture).
                To(Accepted),
            ],
        ),
        (
            "rating_appealed",
            [
                To(Dispatched),
                To(Accepted),
                To(Suspended),
                To(Replied),
                To(Closed),
                NotAllowed,
                To(ReturnPending),
            ],
        ),
        (
            "appeal_decided",
            [
                To(Dispatched),
                To(Accepted),
                To(Suspended),
                To(Replied),
                To(Closed),
                NotAllowed,
                To(ReturnPending),
            ],
        ),
        ("complaint", [duplicate; 7]),
        ("checked_in", [not_hall; 7]),
    ];
    let events = events();
    // Every event type of a work order is in the table.
    for event_type in EventType::ALL {
        assert!(
            events.iter().any(|(_, e)| e.event_type() == *event_type)
                || event_type.is_appointment(),
            "{event_type} has a row"
        );
    }
    assert_eq!(events.len(), table.len());
    for (name, expected) in table {
        let (_, event) = events.iter().find(|(n, _)| *n == name).unwrap();
        for (from, want) in states.iter().zip(expected) {
            let mut o = fixture(name, *from);
            let before = o.clone();
            let result = apply(&mut o, event, at("2026-11-26T09:00:00+08:00"), &rules);
            let (code, detail) = match want {
                To(to) => {
                    assert!(result.is_ok(), "{name} from {from}: {:?}", result.err());
                    assert_eq!(o.state, to, "{name} from {from}");
                    continue;
                }
                NotAllowed => (
                    RejectCode::InvalidState,
                    format!(
                        "order PT1 is {from}: {} is not allowed in that state",
                        event.event_type()
                    ),
                ),
                Refused(code, detail) => (code, detail.to_owned()),
            };
            let rejection = result.expect_err(&format!("{name} from {from} must be rejected"));
            assert_eq!(
                (rejection.code, rejection.detail.as_str()),
                (code, detail.as_str()),
                "{name} from {from}"
            );
            assert!(o == before, "{name} from {from}: nothing half-applied");
        }
    }
}

#[test]
fn departments_that_do_not_hold_the_order_are_turned_away() {
    let rules = rules();
    for (from, e) in [
        (
            OrderState::Dispatched,
            event(EventType::OrderAccepted, json!({"department": "ZFYJJ"})),
        ),
        (
            OrderState::Dispatched,
            event(
                EventType::OrderReturned,
                json!({"department": "ZFYJJ", "reason": "r"}),
            ),
        ),
        (
            OrderState::Accepted,
            event(
                EventType::OrderReplied,
                json!({"department": "ZFYJJ", "reply": "r", "resolved": true}),
            ),
        ),
        (
            OrderState::Accepted,
            event(
                EventType::ExtensionRequested,
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
fn clocks_stop_while_suspended_and_extensions_move_both_deadlines() {
    let rules = rules();
    let mut o = order(OrderState::Accepted);
    let suspend = event(EventType::OrderSuspended, json!({}));
    let resume = event(EventType::OrderResumed, json!({}));
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
        EventType::ExtensionRequested,
        json!({"department": "SCJGJ", "extra_working_days": 3, "reason": "需现场核查"}),
    );
    let grant = event(EventType::ExtensionDecided, json!({"approved": true}));
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
            EventType::OrderFeedback,
            json!({"rating": rating, "resolved": resolved}),
        );
        let effects = apply(&mut o, &feedback, at("2026-11-30T09:00:00+08:00"), &rules).unwrap();
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
    let rules = rules_without_review();
    let by_scjgj = event(
        EventType::OrderReturned,
        json!({"department": "SCJGJ", "reason": "非本单位"}),
    );
    // The keyword 无证 sends the first return to ZFYJJ, which returns it in turn.
    let by_zfyjj = event(
        EventType::OrderReturned,
        json!({"department": "ZFYJJ", "reason": "也不是我们"}),
    );
    let urged = event(EventType::OrderUrged, json!({"note": "n"}));
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
            EventType::ExtensionRequested,
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
        EventType::OrderReplied,
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
            EventType::OrderDispatched,
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

#[test]
fn an_orders_supervision_level_only_rises() {
    let rules = rules();
    let urged = |level: Option<&str>| {
        let fields = match level {
            Some(l) => json!({"note": "n", "level": l}),
            None => json!({"note": "n"}),
        };
        event(EventType::OrderUrged, fields)
    };
    // (levels urged in order, the order's level after them)
    let cases: [(&[Option<&str>], Option<UrgeLevel>); 5] = [
        (&[], None),
        (&[None], Some(UrgeLevel::Reminder)),
        (&[Some("supervision")], Some(UrgeLevel::Supervision)),
        (
            &[Some("listed"), Some("supervision"), None],
            Some(UrgeLevel::Listed),
        ),
        (&[None, Some("supervision")], Some(UrgeLevel::Supervision)),
    ];
    for (levels, want) in cases {
        let mut o = order(OrderState::Accepted);
        for level in levels {
            apply(
                &mut o,
                &urged(*level),
                at("2026-11-26T09:00:00+08:00"),
                &rules,
            )
            .unwrap();
        }
        assert_eq!(o.urge_level, want, "{levels:?}");
        assert_eq!(o.urge_count as usize, levels.len());
    }
}
