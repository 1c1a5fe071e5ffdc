//! Returns (退单): the department an order was sent to says it is not its matter, within
//! `[routing] return_window` of the dispatch. With `[routing] return_review` on (退单审核)
//! the manual desk holds the order until `return_decided` approves the return (dispatched
//! elsewhere) or rejects it (回退驳回: back with that department, as it was). A file of its
//! own because the review is a detour with state of its own: the dispatch it interrupted,
//! kept on the order to be restored, and the departments that returned it.

use super::{DispatchPurpose, Effect, ReturnOutcome, held_by, invalid_state, redispatch};
use crate::calendar::business_time;
use crate::order::{Order, PendingReturn};
use crate::rules::Rules;
use chrono::{DateTime, Utc};
use hotline_schema::body::{OrderReturned, ReturnDecided};
use hotline_schema::rejection::{RejectCode, Rejection};
use hotline_schema::values::OrderState;

pub(super) fn returned(
    order: &mut Order,
    e: &OrderReturned,
    at: DateTime<Utc>,
    rules: &Rules,
) -> Result<Vec<Effect>, Rejection> {
    let current = order.state;
    held_by(order, &e.department, rules)?;
    if let Some(dispatched_at) = order.dispatched_at {
        let until = rules.clock.after(dispatched_at, rules.return_window, 1.0);
        if at > until {
            return Err(invalid_state(format!(
                "order {} was dispatched to {} at {}: a return is accepted within {} of the dispatch (until {})",
                order.order_no,
                order.department,
                business_time(dispatched_at),
                rules.return_window,
                business_time(until)
            )));
        }
    }
    let returned = order.dispatch_count;
    order.return_count += 1;
    if rules.return_review {
        // 退单审核: the manual desk decides; until then it holds the order.
        order.pending_return = Some(PendingReturn {
            department: e.department.clone(),
            dispatch_no: returned,
            reason: e.reason.clone(),
            returned_at: at,
            state: current,
            rule: order.rule.clone(),
            rule_version: order.rule_version,
            accepted_at: order.accepted_at,
            handler: order.handler.clone(),
            sign_due_at: order.deadlines.sign,
            dispatched_at: order.dispatched_at,
        });
        let desk = rules.router.manual_department().to_owned();
        redispatch(order, desk, "return-review".into(), 1, at, rules);
        order.state = OrderState::ReturnPending;
        return Ok(vec![
            Effect::Returned {
                dispatch_no: returned,
                reason: e.reason.clone(),
            },
            Effect::ReturnReviewed {
                dispatch_no: returned,
                outcome: ReturnOutcome::Pending,
            },
            Effect::DispatchAs(DispatchPurpose::ReturnReview),
        ]);
    }
    if !order.returned_by.contains(&e.department) {
        order.returned_by.push(e.department.clone());
    }
    let route = rules
        .router
        .route_avoiding(order.report.case(), at, &order.returned_by);
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

/// The manual desk's decision on the `pending` return.
pub(super) fn decided(
    order: &mut Order,
    pending: PendingReturn,
    e: &ReturnDecided,
    at: DateTime<Utc>,
    rules: &Rules,
) -> Result<Vec<Effect>, Rejection> {
    if e.approved {
        if let Some(department) = &e.department {
            if !rules.router.knows_department(department) {
                return Err(Rejection::new(
                    RejectCode::InvalidField,
                    "department: not a department of the catalog",
                ));
            }
            if *department == pending.department {
                return Err(Rejection::new(
                    RejectCode::InvalidField,
                    "department: the department that returned the order; reject the return instead",
                ));
            }
        }
        order.pending_return = None;
        if !order.returned_by.contains(&pending.department) {
            order.returned_by.push(pending.department.clone());
        }
        let (department, rule, version) = match &e.department {
            Some(department) => (department.clone(), "return-review".to_owned(), 1),
            None => {
                let route =
                    rules
                        .router
                        .route_avoiding(order.report.case(), at, &order.returned_by);
                (route.department, route.rule, route.rule_version)
            }
        };
        redispatch(order, department, rule, version, at, rules);
        Ok(vec![
            Effect::ReturnReviewed {
                dispatch_no: pending.dispatch_no,
                outcome: ReturnOutcome::Approved,
            },
            Effect::Dispatch,
        ])
    } else {
        // 回退驳回: back with the department that returned it, as it was.
        order.pending_return = None;
        order.department = pending.department;
        order.rule = pending.rule;
        order.rule_version = pending.rule_version;
        order.dispatch_count += 1;
        order.state = pending.state;
        order.accepted_at = pending.accepted_at;
        order.handler = pending.handler;
        order.deadlines.sign = pending.sign_due_at;
        order.dispatched_at = pending.dispatched_at;
        Ok(vec![
            Effect::ReturnReviewed {
                dispatch_no: pending.dispatch_no,
                outcome: ReturnOutcome::Rejected,
            },
            Effect::DispatchAs(DispatchPurpose::ReturnRejected),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::apply;
    use crate::lifecycle::test_support::{at, event, events, order, rules, rules_without_review};
    use hotline_schema::event::EventType;
    use hotline_schema::values::AlertLevel;
    use serde_json::json;

    #[test]
    fn a_return_goes_elsewhere_and_keeps_the_citizens_deadlines() {
        let rules = rules_without_review();
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
            EventType::OrderReturned,
            json!({"department": "ZFYJJ", "reason": "也不是我们"}),
        );
        apply(&mut o, &again, at("2026-11-26T10:00:00+08:00"), &rules).unwrap();
        assert_eq!(
            (o.department.as_str(), o.rule.as_str()),
            ("MANUAL", "manual")
        );
    }

    #[test]
    fn a_reviewed_return_waits_at_the_manual_desk_then_goes_elsewhere_when_approved() {
        let rules = rules();
        let returned = event(
            EventType::OrderReturned,
            json!({"department": "SCJGJ", "reason": "非本单位"}),
        );
        let mut o = order(OrderState::Accepted);
        let deadlines = o.deadlines;
        let effects = apply(&mut o, &returned, at("2026-11-26T09:00:00+08:00"), &rules).unwrap();
        assert_eq!(
            effects,
            vec![
                Effect::Returned {
                    dispatch_no: 1,
                    reason: "非本单位".into()
                },
                Effect::ReturnReviewed {
                    dispatch_no: 1,
                    outcome: ReturnOutcome::Pending
                },
                Effect::DispatchAs(DispatchPurpose::ReturnReview),
            ]
        );
        assert_eq!(
            (
                o.state,
                o.department.as_str(),
                o.rule.as_str(),
                o.dispatch_count,
                o.return_count
            ),
            (OrderState::ReturnPending, "MANUAL", "return-review", 2, 1)
        );
        assert!(o.returned_by.is_empty(), "not yet: the review decides");
        let timers: Vec<AlertLevel> = o.timers().iter().map(|(l, _)| *l).collect();
        assert_eq!(
            timers,
            [
                AlertLevel::Warning,
                AlertLevel::Overdue,
                AlertLevel::StatutoryOverdue
            ],
            "the citizen's clocks run on; no sign timer at the desk"
        );
        let pending = o.clone();

        // Approved, the rules decide, avoiding the department that returned it.
        let approve = event(
            EventType::ReturnDecided,
            json!({"approved": true, "note": "确非本单位"}),
        );
        let effects = apply(&mut o, &approve, at("2026-11-26T10:00:00+08:00"), &rules).unwrap();
        assert_eq!(
            effects,
            vec![
                Effect::ReturnReviewed {
                    dispatch_no: 1,
                    outcome: ReturnOutcome::Approved
                },
                Effect::Dispatch
            ]
        );
        assert_eq!(
            (o.state, o.department.as_str(), o.dispatch_count),
            (OrderState::Dispatched, "ZFYJJ", 3)
        );
        assert_eq!(o.returned_by, vec!["SCJGJ".to_string()]);
        assert_eq!(
            (o.deadlines.committed, o.deadlines.statutory),
            (deadlines.committed, deadlines.statutory)
        );
        assert_eq!(o.deadlines.sign, at("2026-11-27T10:00:00+08:00"));
        assert!(o.pending_return.is_none());

        // Approved to a named department; never back to the one that returned it.
        // (department, result)
        let cases = [
            ("YSBZX", Ok("YSBZX")),
            (
                "SCJGJ",
                Err(
                    "department: the department that returned the order; reject the return instead",
                ),
            ),
            ("NOPE", Err("department: not a department of the catalog")),
        ];
        for (department, want) in cases {
            let mut o = pending.clone();
            let e = event(
                EventType::ReturnDecided,
                json!({"approved": true, "department": department, "note": "n"}),
            );
            match (
                apply(&mut o, &e, at("2026-11-26T10:00:00+08:00"), &rules),
                want,
            ) {
                (Ok(_), Ok(to)) => {
                    assert_eq!(
                        (o.department.as_str(), o.rule.as_str()),
                        (to, "return-review")
                    )
                }
                (Err(r), Err(detail)) => {
                    assert_eq!(
                        (r.code, r.detail.as_str()),
                        (RejectCode::InvalidField, detail)
                    );
                    assert!(o == pending);
                }
                (got, want) => panic!("{department}: {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn a_rejected_return_goes_back_to_the_department_as_it_was_with_its_deadlines() {
        let rules = rules();
        let returned = event(
            EventType::OrderReturned,
            json!({"department": "SCJGJ", "reason": "非本单位"}),
        );
        let reject = event(
            EventType::ReturnDecided,
            json!({"approved": false, "note": "属本单位职责"}),
        );
        for from in [OrderState::Dispatched, OrderState::Accepted] {
            let mut o = order(from);
            if from == OrderState::Accepted {
                o.accepted_at = Some(at("2026-11-25T11:00:00+08:00"));
                o.handler = Some("h".into());
            }
            let before = o.clone();
            apply(&mut o, &returned, at("2026-11-26T09:00:00+08:00"), &rules).unwrap();
            let effects = apply(&mut o, &reject, at("2026-11-26T10:00:00+08:00"), &rules).unwrap();
            assert_eq!(
                effects,
                vec![
                    Effect::ReturnReviewed {
                        dispatch_no: 1,
                        outcome: ReturnOutcome::Rejected
                    },
                    Effect::DispatchAs(DispatchPurpose::ReturnRejected)
                ],
                "{from}"
            );
            assert_eq!(o.state, from);
            assert_eq!(o.department, "SCJGJ");
            assert_eq!(o.rule, "catalog:SC-0101");
            assert_eq!(
                o.deadlines, before.deadlines,
                "{from}: deadlines of the dispatch"
            );
            assert_eq!(
                (o.accepted_at, &o.handler),
                (before.accepted_at, &before.handler)
            );
            assert_eq!(o.dispatched_at, before.dispatched_at);
            assert_eq!((o.dispatch_count, o.return_count), (3, 1));
            assert!(o.returned_by.is_empty() && o.pending_return.is_none());
        }
    }

    #[test]
    fn a_return_later_than_the_window_after_the_dispatch_is_refused() {
        let rules = rules();
        let returned = event(
            EventType::OrderReturned,
            json!({"department": "SCJGJ", "reason": "非本单位"}),
        );
        // Dispatched Wed 2026-11-25 10:00; 2 working days: until Fri 11-27 10:00.
        let refused = "order PT1 was dispatched to SCJGJ at 2026-11-25T10:00:00+08:00: a return is accepted within 2wd of the dispatch (until 2026-11-27T10:00:00+08:00)";
        let cases = [
            ("2026-11-27T10:00:00+08:00", None),
            ("2026-11-27T10:00:01+08:00", Some(refused)),
            ("2026-12-01T09:00:00+08:00", Some(refused)),
        ];
        for (when, refusal) in cases {
            for review in [true, false] {
                let mut rules = rules.clone();
                rules.return_review = review;
                let mut o = order(OrderState::Accepted);
                let result = apply(&mut o, &returned, at(when), &rules);
                match refusal {
                    None => assert!(result.is_ok(), "{when}"),
                    Some(detail) => {
                        let r = result.unwrap_err();
                        assert_eq!(
                            (r.code, r.detail.as_str()),
                            (RejectCode::InvalidState, detail)
                        );
                        assert_eq!(o.state, OrderState::Accepted);
                    }
                }
            }
        }
    }
}
