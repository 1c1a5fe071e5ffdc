//! The life of a work order as a state machine. Pure: an order and an event in, the
//! changed order and the effects out, or a rejection that names the state.
//!
//! ```text
//! dispatched ──accepted──▶ accepted ──replied──▶ replied ──feedback──▶ closed
//!     ▲  │ returned / dispatched (operator)  │                 │ unsatisfied and
//!     │  └──────────▶ dispatched (elsewhere) │                 │ not resolved
//!     └──────────────────────────────────────┴── reopened ◀───┘ (same department)
//! dispatched | accepted ──returned (review on)──▶ return_pending (the manual desk)
//! return_pending ──return_decided──▶ approved: dispatched elsewhere
//!                                  ▶ rejected: back as it was, with the returning department
//! dispatched | accepted ──suspended──▶ suspended ──resumed──▶ (back, clocks restarted)
//! accepted ──extension_requested──▶ accepted (pending) ──extension_decided──▶ accepted
//! urged: recorded in any open state, never changes it (its level only rises).
//! co-handlers (协办): accepted, co_replied in any open state before the lead's reply;
//! the lead replies once every co-handler co-replied or its co-reply deadline passed.
//! rating_appealed, appeal_decided: on the latest callback, in any state but merged.
//! ```

use crate::calendar::business_time;
use crate::config::Limit;
use crate::observation::Observation;
use crate::order::{Appeal, AppealDecision, Callback, CoHandler, Order, PendingReturn};
use crate::rules::Rules;
use chrono::{DateTime, Utc};
use hotline_schema::body::EventBody;
use hotline_schema::event::{EventType, InboundEvent};
use hotline_schema::named_enum;
use hotline_schema::rejection::{RejectCode, Rejection};
use hotline_schema::values::OrderState;
use uuid::Uuid;

named_enum! {
    /// Why a dispatch row was written: to have the department handle the order, to put a
    /// return before the manual desk's review, or to send a rejected return back.
    pub enum DispatchPurpose("dispatch purpose") {
        Handle = "handle",
        ReturnReview = "return_review",
        ReturnRejected = "return_rejected",
    }
}

named_enum! {
    /// What became of a return (退单) that waited for review.
    pub enum ReturnOutcome("return outcome") {
        Pending = "pending",
        Approved = "approved",
        /// 回退驳回: the department has to handle it after all.
        Rejected = "rejected",
    }
}

/// What deciding an event asks the batch to do besides writing the order.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Send a task for the order's current department (a new dispatch).
    Dispatch,
    /// A new dispatch written for another purpose than handling (a review, a send-back).
    DispatchAs(DispatchPurpose),
    /// Send a co-handling task to `department` (no dispatch row: the lead holds it).
    CoDispatch { department: String },
    /// The department's dispatch number `dispatch_no` ended with a return (退单); the time
    /// it held the order is charged to the rule that sent it there.
    Returned { dispatch_no: i32, reason: String },
    /// The return of dispatch `dispatch_no` waits for review, or was decided.
    ReturnReviewed {
        dispatch_no: i32,
        outcome: ReturnOutcome,
    },
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

fn invalid_state(detail: String) -> Rejection {
    Rejection::new(RejectCode::InvalidState, detail)
}

/// A department code as a reason may quote it: catalog codes only (it is input).
fn quoted<'a>(department: &'a str, rules: &Rules) -> &'a str {
    if rules.router.knows_department(department) {
        department
    } else {
        "a department outside the catalog"
    }
}

/// Refuses an action by a department that does not hold the order. The reason names the
/// sender's department only if it is one of the catalog's: it is input, not a label.
fn held_by(order: &Order, department: &str, rules: &Rules) -> Result<(), Rejection> {
    if order.department == department {
        return Ok(());
    }
    let sender = quoted(department, rules);
    Err(Rejection::new(
        RejectCode::WrongDepartment,
        format!(
            "order {} is held by {}, not {sender}",
            order.order_no, order.department
        ),
    ))
}

/// The states in which co-handlers work: the order is open and the lead has not replied.
fn co_open(state: OrderState) -> bool {
    match state {
        OrderState::Dispatched
        | OrderState::Accepted
        | OrderState::Suspended
        | OrderState::ReturnPending => true,
        OrderState::Merged | OrderState::Replied | OrderState::Closed => false,
    }
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
    let handled = matches!(current, OrderState::Dispatched | OrderState::Accepted);
    match &event.body {
        EventBody::OrderAccepted(e) => {
            if e.department != order.department
                && let Some(index) = order
                    .co_handlers
                    .iter()
                    .position(|c| c.department == e.department)
            {
                // A co-handler signs for its own task.
                if !co_open(current) {
                    return Err(not_allowed(order, name));
                }
                let co = &mut order.co_handlers[index];
                if co.accepted_at.is_some() {
                    return Err(invalid_state(format!(
                        "co-handler {} has already accepted order {}",
                        co.department, order.order_no
                    )));
                }
                co.accepted_at = Some(at);
                co.handler = e.handler.clone();
                return Ok(vec![]);
            }
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
            if !handled {
                return Err(not_allowed(order, name));
            }
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
        EventBody::ReturnDecided(e) => {
            if current != OrderState::ReturnPending {
                return Err(not_allowed(order, name));
            }
            let Some(pending) = order.pending_return.clone() else {
                return Err(not_allowed(order, name));
            };
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
                        let route = rules.router.route_avoiding(
                            order.report.case(),
                            at,
                            &order.returned_by,
                        );
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
            if e.co_departments
                .iter()
                .any(|d| !rules.router.knows_department(d))
            {
                return Err(Rejection::new(
                    RejectCode::InvalidField,
                    "co_departments: not a department of the catalog",
                ));
            }
            let previous = order.dispatch_count;
            let rule = format!("operator:{}", e.operator.as_deref().unwrap_or("unnamed"));
            redispatch(order, e.department.clone(), rule, 1, at, rules);
            let mut effects = vec![
                Effect::Returned {
                    dispatch_no: previous,
                    reason: "re-dispatched by an operator".into(),
                },
                Effect::Dispatch,
            ];
            effects.extend(add_co_handlers(order, &e.co_departments, at, rules));
            Ok(effects)
        }
        EventBody::ExtensionRequested(e) => {
            if current != OrderState::Accepted {
                return Err(not_allowed(order, name));
            }
            held_by(order, &e.department, rules)?;
            if order.extension_requested_days.is_some() {
                return Err(invalid_state(format!(
                    "order {} already has an extension pending",
                    order.order_no
                )));
            }
            if at >= order.deadlines.committed {
                return Err(invalid_state(format!(
                    "order {} is past its committed deadline: extensions are asked before it",
                    order.order_no
                )));
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
                return Err(invalid_state(format!(
                    "order {} is {} with no extension pending",
                    order.order_no, order.state
                )));
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
            if !handled {
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
            for co in &mut order.co_handlers {
                if co.replied_at.is_none() {
                    co.co_reply_due_at = resume(co.co_reply_due_at, limit);
                }
            }
            order.state = order.resume_state.take().unwrap_or(OrderState::Accepted);
            order.paused_at = None;
            Ok(vec![])
        }
        EventBody::OrderReplied(e) => {
            if current != OrderState::Accepted {
                return Err(not_allowed(order, name));
            }
            if e.department != order.department && order.co_handler(&e.department).is_some() {
                return Err(Rejection::new(
                    RejectCode::WrongDepartment,
                    format!(
                        "{} co-handles order {}: only the lead department {} replies (a co-handler sends order.co_replied)",
                        e.department, order.order_no, order.department
                    ),
                ));
            }
            held_by(order, &e.department, rules)?;
            if let Some(due) = order.co_handlers.iter().find(|c| c.is_due(at)) {
                return Err(invalid_state(format!(
                    "order {}: co-handler {} has not co-replied and its co-reply deadline {} has not passed",
                    order.order_no,
                    due.department,
                    business_time(due.co_reply_due_at)
                )));
            }
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
        EventBody::OrderCoReplied(e) => {
            if !co_open(current) {
                return Err(not_allowed(order, name));
            }
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
        EventBody::OrderUrged(e) => {
            if !(handled
                || current == OrderState::Suspended
                || current == OrderState::ReturnPending)
            {
                return Err(not_allowed(order, name));
            }
            order.urge_count += 1;
            order.urge_level = Some(order.urge_level.map_or(e.level, |l| l.max(e.level)));
            Ok(vec![])
        }
        EventBody::OrderFeedback(e) => {
            if current != OrderState::Replied {
                return Err(not_allowed(order, name));
            }
            order.rating = Some(e.rating);
            let department = order.department.clone();
            order.callback = Some(Callback {
                event_id: event.envelope.event_id,
                at,
                rating: e.rating,
                department: department.clone(),
                appeal: None,
            });
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
        EventBody::RatingAppealed(e) => {
            if current == OrderState::Merged {
                return Err(not_allowed(order, name));
            }
            let order_no = order.order_no.clone();
            let Some(callback) = order.callback.as_mut() else {
                return Err(invalid_state(format!(
                    "order {order_no} has no callback to appeal"
                )));
            };
            if !callback.rating.is_unsatisfied() {
                return Err(invalid_state(format!(
                    "order {order_no} was rated {}: only dissatisfied and very dissatisfied ratings may be appealed",
                    callback.rating
                )));
            }
            if callback.department != e.department {
                let sender = quoted(&e.department, rules);
                return Err(Rejection::new(
                    RejectCode::WrongDepartment,
                    format!(
                        "the rating of order {order_no} is {}'s, not {sender}'s",
                        callback.department
                    ),
                ));
            }
            if callback.appeal.is_some() {
                return Err(invalid_state(format!(
                    "the rating of order {order_no} was appealed already: one appeal per callback"
                )));
            }
            let until = rules.clock.after(callback.at, rules.appeal_window, 1.0);
            if at > until {
                return Err(invalid_state(format!(
                    "order {order_no} was rated at {}: an appeal is accepted within {} of the callback (until {})",
                    business_time(callback.at),
                    rules.appeal_window,
                    business_time(until)
                )));
            }
            callback.appeal = Some(Appeal {
                department: e.department.clone(),
                reason: e.reason.clone(),
                appealed_at: at,
                decision: None,
            });
            Ok(vec![])
        }
        EventBody::AppealDecided(e) => {
            if current == OrderState::Merged {
                return Err(not_allowed(order, name));
            }
            let order_no = order.order_no.clone();
            let pending = order
                .callback
                .as_mut()
                .filter(|c| c.appeal.as_ref().is_some_and(|a| a.decision.is_none()));
            let Some(callback) = pending else {
                return Err(invalid_state(format!(
                    "order {order_no} has no appeal of a rating pending"
                )));
            };
            let (department, rating) = (callback.department.clone(), callback.rating);
            if let Some(appeal) = callback.appeal.as_mut() {
                appeal.decision = Some(AppealDecision {
                    upheld: e.upheld,
                    note: e.note.clone(),
                    decided_at: at,
                });
            }
            Ok(if e.upheld {
                vec![Effect::Observe(Observation::FeedbackExcluded {
                    department,
                    rating,
                })]
            } else {
                vec![]
            })
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
    order.dispatched_at = Some(at);
    order.deadlines.sign = rules.clock.after(at, rules.clock.settings.sign_limit, 1.0);
    // A co-handler that becomes the lead is a co-handler no more.
    let lead = order.department.clone();
    order.co_handlers.retain(|c| c.department != lead);
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
            task_id: Uuid::new_v4(),
            dispatched_at: at,
            sign_due_at: rules.clock.after(at, settings.sign_limit, 1.0),
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
    use crate::config::Config;
    use crate::order::Report;
    use crate::sla::Deadlines;
    use hotline_schema::values::{AlertLevel, Rating, TaskRole, UrgeLevel};
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
    fn rules_without_review() -> Rules {
        let mut rules = rules();
        rules.return_review = false;
        rules
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
            (
                "co_accepted",
                event(
                    "order.accepted",
                    json!({"department": "ZFYJJ", "handler": "z"}),
                ),
            ),
            (
                "co_replied",
                event(
                    "order.co_replied",
                    json!({"department": "ZFYJJ", "reply": "已配合核查"}),
                ),
            ),
            (
                "return_approved",
                event(
                    "order.return_decided",
                    json!({"approved": true, "note": "确非本单位"}),
                ),
            ),
            (
                "return_rejected",
                event(
                    "order.return_decided",
                    json!({"approved": false, "note": "属本单位职责"}),
                ),
            ),
            (
                "rating_appealed",
                event(
                    "order.rating_appealed",
                    json!({"department": "SCJGJ", "reason": "市民诉求超出职责"}),
                ),
            ),
            (
                "appeal_decided",
                event(
                    "order.appeal_decided",
                    json!({"upheld": true, "note": "属实"}),
                ),
            ),
            (
                "complaint",
                event(
                    "complaint.received",
                    json!({"kind": "complaint", "channel": "phone", "category": "SC-0101",
                           "title": "t", "content": "c"}),
                ),
            ),
            (
                "checked_in",
                event("appointment.checked_in", json!({"service_point": "ZX"})),
            ),
        ]
    }

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
        let rules = rules_without_review();
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
        let suspend = event("order.suspended", json!({}));
        let resume = event("order.resumed", json!({}));
        apply(&mut o, &suspend, at("2026-11-26T09:00:00+08:00"), &rules).unwrap();
        assert!(o.co_timers().is_empty());
        apply(&mut o, &resume, at("2026-11-27T09:00:00+08:00"), &rules).unwrap();
        assert_eq!(
            o.co_handlers[0].co_reply_due_at,
            at("2026-11-27T16:00:00+08:00")
        );
        // Accepted and co-replied: no timer any more, and it was on time.
        let accept = event("order.accepted", json!({"department": "ZFYJJ"}));
        let co_reply = event(
            "order.co_replied",
            json!({"department": "ZFYJJ", "reply": "已配合核查"}),
        );
        apply(&mut o, &accept, at("2026-11-27T10:00:00+08:00"), &rules).unwrap();
        assert_eq!(o.state, OrderState::Dispatched, "the lead has not accepted");
        apply(&mut o, &co_reply, at("2026-11-27T16:00:00+08:00"), &rules).unwrap();
        assert_eq!(o.co_handlers[0].on_time, Some(true));
        assert!(o.co_timers().is_empty());
    }

    #[test]
    fn the_lead_replies_once_every_co_handler_co_replied_or_is_past_its_deadline() {
        let rules = rules();
        let reply = event(
            "order.replied",
            json!({"department": "SCJGJ", "reply": "已办结", "resolved": true}),
        );
        let co_reply = event(
            "order.co_replied",
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
                    "order.replied",
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
                    "order.co_replied",
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
                    "order.co_replied",
                    json!({"department": "ZFYJJ", "reply": "r"}),
                ),
                (
                    RejectCode::InvalidState,
                    "co-handler ZFYJJ has not accepted order PT1",
                ),
            ),
            (
                true,
                event("order.accepted", json!({"department": "ZFYJJ"})),
                (
                    RejectCode::InvalidState,
                    "co-handler ZFYJJ has already accepted order PT1",
                ),
            ),
            (
                true,
                event(
                    "order.returned",
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
            "order.co_replied",
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

    #[test]
    fn a_reviewed_return_waits_at_the_manual_desk_then_goes_elsewhere_when_approved() {
        let rules = rules();
        let returned = event(
            "order.returned",
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
            "order.return_decided",
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
                "order.return_decided",
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
            "order.returned",
            json!({"department": "SCJGJ", "reason": "非本单位"}),
        );
        let reject = event(
            "order.return_decided",
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
            "order.returned",
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

    #[test]
    fn one_appeal_per_dissatisfied_callback_within_its_window_by_the_rated_department() {
        let rules = rules();
        let rated_at = at("2026-11-26T09:00:00+08:00");
        let rated = |rating: &str| {
            let mut o = order(OrderState::Replied);
            let feedback = event(
                "order.feedback",
                json!({"rating": rating, "resolved": true}),
            );
            apply(&mut o, &feedback, rated_at, &rules).unwrap();
            o
        };
        let appeal = |department: &str| {
            event(
                "order.rating_appealed",
                json!({"department": department, "reason": "诉求超出职责范围"}),
            )
        };
        // Rated Thu 11-26 09:00: 5 working days later is Thu 12-03 09:00.
        let late = "order PT1 was rated at 2026-11-26T09:00:00+08:00: an appeal is accepted within 5wd of the callback (until 2026-12-03T09:00:00+08:00)";
        // (rating, appealing department, when, rejection)
        type Case<'a> = (&'a str, &'a str, &'a str, Option<(RejectCode, &'a str)>);
        let cases: [Case; 6] = [
            ("dissatisfied", "SCJGJ", "2026-12-03T09:00:00+08:00", None),
            (
                "very_dissatisfied",
                "SCJGJ",
                "2026-11-26T10:00:00+08:00",
                None,
            ),
            (
                "dissatisfied",
                "SCJGJ",
                "2026-12-03T09:00:01+08:00",
                Some((RejectCode::InvalidState, late)),
            ),
            (
                "basically_satisfied",
                "SCJGJ",
                "2026-11-26T10:00:00+08:00",
                Some((
                    RejectCode::InvalidState,
                    "order PT1 was rated basically_satisfied: only dissatisfied and very dissatisfied ratings may be appealed",
                )),
            ),
            (
                "dissatisfied",
                "YSBZX",
                "2026-11-26T10:00:00+08:00",
                Some((
                    RejectCode::WrongDepartment,
                    "the rating of order PT1 is SCJGJ's, not YSBZX's",
                )),
            ),
            (
                "dissatisfied",
                "NOPE",
                "2026-11-26T10:00:00+08:00",
                Some((
                    RejectCode::WrongDepartment,
                    "the rating of order PT1 is SCJGJ's, not a department outside the catalog's",
                )),
            ),
        ];
        for (rating, department, when, refusal) in cases {
            let mut o = rated(rating);
            let result = apply(&mut o, &appeal(department), at(when), &rules);
            match refusal {
                None => {
                    assert!(result.is_ok(), "{rating} {when}: {:?}", result.err());
                    let again = apply(&mut o, &appeal(department), at(when), &rules).unwrap_err();
                    assert_eq!(
                        again.detail,
                        "the rating of order PT1 was appealed already: one appeal per callback"
                    );
                }
                Some((code, detail)) => {
                    let r = result.unwrap_err();
                    assert_eq!(
                        (r.code, r.detail.as_str()),
                        (code, detail),
                        "{rating} {when}"
                    );
                }
            }
        }
        // Without a callback there is nothing to appeal.
        let mut o = order(OrderState::Replied);
        let r = apply(&mut o, &appeal("SCJGJ"), rated_at, &rules).unwrap_err();
        assert_eq!(r.detail, "order PT1 has no callback to appeal");
    }

    #[test]
    fn an_upheld_appeal_excludes_the_rating_and_a_rejected_one_changes_nothing() {
        let rules = rules();
        let feedback = event(
            "order.feedback",
            json!({"rating": "very_dissatisfied", "resolved": true}),
        );
        let appeal = event(
            "order.rating_appealed",
            json!({"department": "SCJGJ", "reason": "r"}),
        );
        for upheld in [true, false] {
            let mut o = order(OrderState::Replied);
            apply(&mut o, &feedback, at("2026-11-26T09:00:00+08:00"), &rules).unwrap();
            apply(&mut o, &appeal, at("2026-11-26T10:00:00+08:00"), &rules).unwrap();
            let decide = event(
                "order.appeal_decided",
                json!({"upheld": upheld, "note": "n"}),
            );
            let effects = apply(&mut o, &decide, at("2026-11-26T11:00:00+08:00"), &rules).unwrap();
            assert_eq!(o.rating_excluded(), upheld);
            assert_eq!(o.rating, Some(Rating::VeryDissatisfied), "the rating stays");
            assert_eq!(o.state, OrderState::Closed);
            let excluded = Effect::Observe(Observation::FeedbackExcluded {
                department: "SCJGJ".into(),
                rating: Rating::VeryDissatisfied,
            });
            assert_eq!(effects, if upheld { vec![excluded] } else { vec![] });
            let r = apply(&mut o, &decide, at("2026-11-26T12:00:00+08:00"), &rules).unwrap_err();
            assert_eq!(r.detail, "order PT1 has no appeal of a rating pending");
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
            event("order.urged", fields)
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
}
