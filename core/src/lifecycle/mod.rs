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
//!
//! `decide` keeps the whole table of which state allows which event, so that the diagram
//! above can be checked in one place; what an event of a practice workflow then does is in
//! that workflow's file, with the state it keeps on the order: `co_handling.rs` (主办/协办),
//! `returns.rs` (退单, 退单审核), `appeals.rs` (评价复核).

mod appeals;
mod co_handling;
mod returns;

pub use co_handling::add_co_handlers;

use crate::config::Limit;
use crate::observation::Observation;
use crate::order::{Callback, Order};
use crate::rules::Rules;
use chrono::{DateTime, Utc};
use hotline_schema::body::EventBody;
use hotline_schema::event::{EventType, InboundEvent};
use hotline_schema::named_enum;
use hotline_schema::rejection::{RejectCode, Rejection};
use hotline_schema::values::OrderState;

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
            if let Some(index) = co_handling::position(order, &e.department) {
                if !co_handling::co_open(current) {
                    return Err(not_allowed(order, name));
                }
                return co_handling::accepted(order, index, e, at);
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
            returns::returned(order, e, at, rules)
        }
        EventBody::ReturnDecided(e) => {
            if current != OrderState::ReturnPending {
                return Err(not_allowed(order, name));
            }
            let Some(pending) = order.pending_return.clone() else {
                return Err(not_allowed(order, name));
            };
            returns::decided(order, pending, e, at, rules)
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
            let sign_limit: Limit = rules.sign_limit_of(order);
            let resume = |d: DateTime<Utc>, l| rules.clock.resume(l, d, paused_at, at);
            let d = &mut order.deadlines;
            d.statutory = resume(d.statutory, limit);
            d.committed = resume(d.committed, limit);
            d.warning = resume(d.warning, limit);
            // Never after the committed deadline, which ran on its own clock.
            d.sign = resume(d.sign, sign_limit).min(d.committed);
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
            co_handling::not_in_the_leads_place(order, &e.department)?;
            held_by(order, &e.department, rules)?;
            co_handling::none_due(order, at)?;
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
            if !co_handling::co_open(current) {
                return Err(not_allowed(order, name));
            }
            co_handling::co_replied(order, e, at, rules)
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
                let fresh =
                    rules
                        .clock
                        .deadlines(at, order.statutory_limit, rules.sign_limit_of(order));
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
            appeals::appealed(order, e, at, rules)
        }
        EventBody::AppealDecided(e) => {
            if current == OrderState::Merged {
                return Err(not_allowed(order, name));
            }
            appeals::decided(order, e, at)
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
    order.deadlines.sign = rules.clock.sign_deadline(
        at,
        rules.sign_limit_of(order),
        order.deadlines.committed.max(at),
    );
    // A co-handler that becomes the lead is a co-handler no more.
    let lead = order.department.clone();
    order.co_handlers.retain(|c| c.department != lead);
}

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
