//! The batch decision: what a batch of inbound events does, given the orders and
//! appointments they name as the store read (and locked) them. Pure: state and events in,
//! effects out as values, for the store to write in one transaction.
//!
//! The submit path (`hotline_dispatcher::submit`) runs it as claim → load → decide →
//! write: the store claims the batch's idempotency keys ([`freshness`] turns the claim
//! into which deliveries are new), loads what [`wanted`] names, [`decide`] runs every
//! fresh event in delivery order against a working copy, and the store writes the
//! [`Decided`] effects.

mod incoming;
mod merge;
mod preview;
mod receive;
mod record;

pub use incoming::Incoming;
pub use merge::{MergeCandidate, MergeKey, MergeTargets};
pub use preview::{Preview, preview};
pub use receive::{Placement, place};
pub use record::{DispatchReturn, NewDispatch, RejectedEvent, ReturnReview, TimelineEntry};

use crate::appointment::{self, Appointment};
use crate::lifecycle::{self, DispatchPurpose, Effect};
use crate::observation::Observation;
use crate::order::{LiveTimer, Order};
use crate::outbox::OutboxMessage;
use crate::rules::Rules;
use chrono::{DateTime, Utc};
use hotline_schema::body::EventBody;
use hotline_schema::event::{EventType, InboundEvent};
use hotline_schema::rejection::{RejectCode, Rejection};
use std::collections::{HashMap, HashSet};

/// What became of one delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Applied, with what the process should count once the batch is committed.
    Applied(Vec<Observation>),
    /// Its idempotency key had been processed before: no second effect.
    Duplicate,
    Rejected(Rejection),
}

/// Which deliveries of a batch are new, given the idempotency keys the store could claim:
/// a key claimed before, or seen earlier in the same batch, is a duplicate; a delivery
/// without a key is always new.
pub fn freshness(batch: &[Incoming], claimed: &HashSet<String>) -> Vec<bool> {
    let mut seen = HashSet::new();
    batch
        .iter()
        .map(|i| match &i.idempotency_key {
            None => true,
            Some(k) => claimed.contains(k) && seen.insert(k.as_str()),
        })
        .collect()
}

/// What the store must load (and lock) for the fresh events of a batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Wanted {
    /// Orders named by work-order events, sorted (locks are taken in this order).
    pub order_nos: Vec<String>,
    /// Appointments named by hall events, sorted.
    pub appointment_nos: Vec<String>,
    /// The duplicate keys of new complaints (routed under `rules` as of `now`, as
    /// [`decide`] will route them): the first open order of each within the window may
    /// take the report. One key per complaint, whatever the caller's history.
    pub merge_keys: Vec<MergeKey>,
}

pub fn wanted(rules: &Rules, batch: &[Incoming], fresh: &[bool], now: DateTime<Utc>) -> Wanted {
    let mut wanted = Wanted::default();
    for event in fresh_events(batch, fresh) {
        let order_no = event.envelope.order_no.as_str().to_owned();
        if event.event_type().is_appointment() {
            wanted.appointment_nos.push(order_no);
        } else {
            wanted.order_nos.push(order_no);
        }
        if let EventBody::ComplaintReceived(c) = &event.body
            && let Ok(at) = effective_instant(event, now)
            && let Some(key) = receive::merge_key(rules, c, at, now)
        {
            wanted.merge_keys.push(key);
        }
    }
    for list in [&mut wanted.order_nos, &mut wanted.appointment_nos] {
        list.sort_unstable();
        list.dedup();
    }
    let mut seen = HashSet::new();
    wanted.merge_keys.retain(|k| seen.insert(k.clone()));
    wanted
}

fn fresh_events<'a>(
    batch: &'a [Incoming],
    fresh: &'a [bool],
) -> impl Iterator<Item = &'a InboundEvent> {
    batch
        .iter()
        .zip(fresh)
        .filter(|(_, fresh)| **fresh)
        .filter_map(|(i, _)| i.parsed.as_ref().ok())
}

/// What the store read for a batch: the orders and appointments it names (locked), and the
/// open orders duplicate reports may merge into.
#[derive(Default)]
pub struct Loaded {
    pub orders: Vec<Order>,
    pub appointments: Vec<Appointment>,
    pub merge_candidates: Vec<MergeCandidate>,
}

/// Everything a batch writes, in one transaction.
#[derive(Default)]
pub struct Decided {
    /// One per delivery, in delivery order.
    pub outcomes: Vec<Outcome>,
    /// Every order the batch changed or created, once each, in first-touch order, with
    /// whether it existed before the batch.
    pub orders: Vec<(Order, Existed)>,
    pub appointments: Vec<(Appointment, Existed)>,
    pub timeline: Vec<TimelineEntry>,
    pub dispatches: Vec<NewDispatch>,
    pub returns: Vec<DispatchReturn>,
    /// Returns put before review, or decided.
    pub return_reviews: Vec<ReturnReview>,
    pub rejected: Vec<RejectedEvent>,
    pub outbox: Vec<OutboxMessage>,
    /// The live timers of every order in `orders`, in its order: they replace the ones
    /// those orders had.
    pub timers: Vec<LiveTimer>,
}

/// Whether a written row was read (and locked) before the batch, or is new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existed {
    Yes,
    No,
}

/// The working copy a batch decides against, and the effects so far.
struct Batch<'r> {
    rules: &'r Rules,
    now: DateTime<Utc>,
    orders: HashMap<String, Order>,
    appointments: HashMap<String, Appointment>,
    existed: HashSet<String>,
    existed_appointments: HashSet<String>,
    touched: Vec<String>,
    touched_appointments: Vec<String>,
    merge_targets: MergeTargets,
    out: Decided,
}

/// Decides every delivery of `batch` in order. `fresh` comes from [`freshness`], `now` is
/// the database's clock at the start of the transaction.
pub fn decide(
    rules: &Rules,
    batch: &[Incoming],
    fresh: &[bool],
    loaded: Loaded,
    now: DateTime<Utc>,
) -> Decided {
    let mut working = Batch {
        rules,
        now,
        existed: loaded.orders.iter().map(|o| o.order_no.clone()).collect(),
        existed_appointments: loaded
            .appointments
            .iter()
            .map(|a| a.order_no.clone())
            .collect(),
        orders: loaded
            .orders
            .into_iter()
            .map(|o| (o.order_no.clone(), o))
            .collect(),
        appointments: loaded
            .appointments
            .into_iter()
            .map(|a| (a.order_no.clone(), a))
            .collect(),
        touched: Vec::new(),
        touched_appointments: Vec::new(),
        merge_targets: MergeTargets::new(loaded.merge_candidates, rules.duplicate_window),
        out: Decided::default(),
    };
    for (incoming, fresh) in batch.iter().zip(fresh) {
        if !fresh {
            working.out.outcomes.push(Outcome::Duplicate);
            continue;
        }
        let recorded = working.out.timeline.len();
        let decision = match &incoming.parsed {
            Err(rejection) => Err(rejection.clone()),
            Ok(event) => working.event(event, incoming.consumed_at),
        };
        if let (Ok(_), Some(sender)) = (&decision, &incoming.sender) {
            // Who sent it is what the transport authenticated, never what the body says.
            for entry in &mut working.out.timeline[recorded..] {
                entry.actor = Some(sender.clone());
            }
        }
        let outcome = match decision {
            Ok(observations) => Outcome::Applied(observations),
            Err(rejection) => {
                working.out.reject(incoming, &rejection);
                Outcome::Rejected(rejection)
            }
        };
        working.out.outcomes.push(outcome);
    }
    working.finish()
}

/// How far ahead of the engine's clock an `occurred_at` may be before it is refused.
pub const MAX_FUTURE_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// The instant an event counts from. A new case or a visit to the service hall counts from
/// when the front end says it happened (a back-dated complaint may be overdue on arrival),
/// but never from the future. What departments, supervisors and the callback team do to
/// an order counts from when the engine received it: their `occurred_at` is kept on the
/// timeline as the sender's claim, and no client clock can move a deadline, an on-time
/// flag or a KPI.
pub fn effective_instant(
    event: &InboundEvent,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, Rejection> {
    let claimed = event.envelope.occurred_at.with_timezone(&Utc);
    if claimed > now + MAX_FUTURE_SKEW {
        return Err(Rejection::new(
            RejectCode::InvalidField,
            format!(
                "occurred_at: more than {} minutes ahead of the engine's clock",
                MAX_FUTURE_SKEW.num_minutes()
            ),
        ));
    }
    Ok(match event.event_type() {
        EventType::ComplaintReceived
        | EventType::AppointmentBooked
        | EventType::AppointmentCheckedIn
        | EventType::AppointmentCalled
        | EventType::AppointmentCompleted => claimed.min(now),
        EventType::OrderAccepted
        | EventType::OrderDispatched
        | EventType::OrderReturned
        | EventType::ExtensionRequested
        | EventType::ExtensionDecided
        | EventType::OrderSuspended
        | EventType::OrderResumed
        | EventType::OrderReplied
        | EventType::OrderUrged
        | EventType::OrderFeedback
        | EventType::OrderCoReplied
        | EventType::ReturnDecided
        | EventType::RatingAppealed
        | EventType::AppealDecided => now,
    })
}

impl Batch<'_> {
    /// A task for `order`'s department, marked provisional when its statutory deadline
    /// lies past the days the calendar declares.
    fn dispatch(&mut self, order: &Order, purpose: DispatchPurpose, consumed_at: DateTime<Utc>) {
        let provisional = crate::explain::provisional(&self.rules.clock, order.deadlines.statutory);
        self.out
            .dispatch(order, purpose, consumed_at, self.now, provisional);
    }

    fn event(
        &mut self,
        event: &InboundEvent,
        consumed_at: DateTime<Utc>,
    ) -> Result<Vec<Observation>, Rejection> {
        let order_no = event.envelope.order_no.as_str();
        let at = effective_instant(event, self.now)?;
        if let EventBody::ComplaintReceived(complaint) = &event.body {
            if self.orders.contains_key(order_no) || self.appointments.contains_key(order_no) {
                return Err(Rejection::new(
                    RejectCode::DuplicateOrder,
                    format!("order {order_no} already exists"),
                ));
            }
            return Ok(self.receive(event, complaint, at, consumed_at));
        }
        if event.event_type().is_appointment() {
            return self.hall(event, at);
        }
        let Some(order) = self.orders.get(order_no) else {
            return Err(Rejection::new(
                RejectCode::UnknownOrder,
                format!("no order {order_no}"),
            ));
        };
        let mut order = order.clone();
        let effects = lifecycle::apply(&mut order, event, at, self.rules)?;
        let mut observations = Vec::new();
        for effect in effects {
            match effect {
                Effect::Dispatch => self.dispatch(&order, DispatchPurpose::Handle, consumed_at),
                Effect::DispatchAs(purpose) => self.dispatch(&order, purpose, consumed_at),
                Effect::CoDispatch { department } => {
                    self.out.co_dispatch(&order, &department, consumed_at)
                }
                Effect::ReturnReviewed {
                    dispatch_no,
                    outcome,
                } => self.out.return_reviews.push(ReturnReview {
                    order_no: order.order_no.clone(),
                    dispatch_no,
                    outcome,
                }),
                Effect::Returned {
                    dispatch_no,
                    reason,
                } => self.out.returns.push(DispatchReturn {
                    order_no: order.order_no.clone(),
                    dispatch_no,
                    returned_at: at,
                    reason,
                }),
                Effect::Observe(observation) => observations.push(observation),
            }
        }
        self.out.record(
            event,
            at,
            record::actor_of(event),
            record::effect_of(event, &order, at),
        );
        self.put(order);
        Ok(observations)
    }

    /// Appointment events: booking and the service hall's queue.
    fn hall(
        &mut self,
        event: &InboundEvent,
        at: DateTime<Utc>,
    ) -> Result<Vec<Observation>, Rejection> {
        let order_no = event.envelope.order_no.as_str();
        let service_point = match &event.body {
            EventBody::AppointmentBooked(e) => Some(&e.service_point),
            EventBody::AppointmentCheckedIn(e) => Some(&e.service_point),
            _ => None,
        };
        if let Some(point) = service_point
            && !self.rules.service_points.contains(point)
        {
            return Err(Rejection::new(
                RejectCode::InvalidField,
                "service_point: not a service point of the catalog",
            ));
        }
        let (appointment, observations) = match self.appointments.get(order_no) {
            None => {
                if self.orders.contains_key(order_no) {
                    return Err(Rejection::new(
                        RejectCode::InvalidState,
                        format!("{order_no} is a work order, not an appointment"),
                    ));
                }
                let appointment = appointment::book(event, at).ok_or_else(|| {
                    Rejection::new(
                        RejectCode::UnknownOrder,
                        format!("no appointment {order_no}"),
                    )
                })?;
                (appointment, Vec::new())
            }
            Some(existing) => {
                let mut appointment = existing.clone();
                let observations = appointment::apply(&mut appointment, event, at)?;
                (appointment, observations)
            }
        };
        self.out.record(
            event,
            at,
            None,
            serde_json::json!({"state": appointment.state}),
        );
        if !self.touched_appointments.contains(&appointment.order_no) {
            self.touched_appointments.push(appointment.order_no.clone());
        }
        self.appointments
            .insert(appointment.order_no.clone(), appointment);
        Ok(observations)
    }

    fn put(&mut self, order: Order) {
        if !self.touched.contains(&order.order_no) {
            self.touched.push(order.order_no.clone());
        }
        self.orders.insert(order.order_no.clone(), order);
    }

    fn finish(mut self) -> Decided {
        for order_no in &self.touched {
            let order = self
                .orders
                .remove(order_no)
                .expect("a touched order is kept");
            let existed = if self.existed.contains(order_no) {
                Existed::Yes
            } else {
                Existed::No
            };
            self.out.timers.extend(order.live_timers());
            self.out.orders.push((order, existed));
        }
        for order_no in &self.touched_appointments {
            let appointment = self
                .appointments
                .remove(order_no)
                .expect("a touched appointment is kept");
            let existed = if self.existed_appointments.contains(order_no) {
                Existed::Yes
            } else {
                Existed::No
            };
            self.out.appointments.push((appointment, existed));
        }
        self.out
    }
}

#[cfg(test)]
mod tests;
