//! Applying a batch of inbound deliveries to the database in one transaction.
//!
//! The shape is load → decide → write: claim the batch's idempotency keys, lock the
//! orders it names, decide every event in memory (pure), then write all effects with a
//! handful of set-based statements (`jsonb_to_recordset`), including the outbox rows the
//! relay will publish. One transaction and one round trip per statement kind per batch is
//! what lets the intake approach the broker's own ceiling (see `../shared/services.md`).

use crate::appointment::{self, Appointment};
use crate::lifecycle::{self, Effect, Observation, Rules};
use crate::order::{NewCase, Order, state};
use crate::routing::{Case, Router};
use chrono::{DateTime, Utc};
use hotline_schema::config::Config;
use hotline_schema::event::{ComplaintReceived, EventBody, InboundEvent, RejectCode, Rejection};
use hotline_schema::message::{Task, TaskCitizen};
use hotline_schema::outbox::{self, OutboxMessage};
use hotline_schema::sla::SlaClock;
use hotline_schema::{TIMERS_NOTIFY_CHANNEL, topology};
use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// One inbound message as the intake hands it over.
pub struct Incoming {
    /// `event_id` if one could be read, else the AMQP `message_id`; `None` for a body with
    /// neither (it is processed every time it is delivered).
    pub idempotency_key: Option<String>,
    pub body: Vec<u8>,
    /// When the intake consumed it (for dispatch latency).
    pub consumed_at: DateTime<Utc>,
    pub parsed: Result<InboundEvent, Rejection>,
    /// The contract `type` for metrics, `invalid` when none could be read.
    pub type_label: &'static str,
}

/// What became of one delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Applied, with what the process should count once the batch is committed.
    Applied(Vec<Observation>),
    /// Its idempotency key had been processed before: no second effect.
    Duplicate,
    Rejected(Rejection),
}

/// Why a batch could not be committed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Another transaction changed an order this batch read; the batch is retried whole.
    #[error("concurrent change to order(s) {0}; retrying")]
    Conflict(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl ApplyError {
    /// Whether retrying the same batch may succeed without any change to its input.
    pub fn is_transient(&self) -> bool {
        match self {
            ApplyError::Conflict(_) => true,
            ApplyError::Database(sqlx::Error::Database(db)) => {
                // Serialization failure, deadlock, unique race, or the server going away.
                matches!(
                    db.code().as_deref(),
                    Some("40001" | "40P01" | "23505" | "57P01" | "57P02" | "57P03")
                )
            }
            ApplyError::Database(_) => true,
        }
    }
}

/// The rules the decisions need: routing table, SLA clock and limits.
pub struct Dispatcher {
    pub router: Router,
    pub clock: SlaClock,
    pub max_extension_days: u32,
    pub duplicate_window: std::time::Duration,
}

impl Dispatcher {
    pub fn from_config(config: &Config) -> anyhow::Result<Dispatcher> {
        Ok(Dispatcher {
            router: Router::new(config),
            clock: SlaClock::from_config(config)?,
            max_extension_days: config.sla.max_extension_days,
            duplicate_window: config.routing.duplicate_window,
        })
    }

    fn rules(&self) -> Rules<'_> {
        Rules {
            router: &self.router,
            clock: &self.clock,
            max_extension_days: self.max_extension_days,
        }
    }
}

/// Everything a batch will write, accumulated while deciding.
#[derive(Default)]
struct Effects {
    orders: HashMap<String, Order>,
    /// Orders written by this batch, in first-touch order.
    touched: Vec<String>,
    appointments: HashMap<String, Appointment>,
    touched_appointments: Vec<String>,
    merge_targets: MergeTargets,
    timeline: Vec<TimelineRow>,
    dispatches: Vec<DispatchRow>,
    returns: Vec<ReturnRow>,
    outbox: Vec<OutboxMessage>,
    rejected: Vec<RejectedRow>,
}

#[derive(Serialize)]
struct TimelineRow {
    order_no: String,
    event_id: Uuid,
    event_type: &'static str,
    actor: Option<String>,
    occurred_at: DateTime<Utc>,
    detail: serde_json::Value,
}

#[derive(Serialize)]
struct DispatchRow {
    task_id: Uuid,
    order_no: String,
    dispatch_no: i32,
    department: String,
    rule: String,
    rule_version: i32,
    dispatched_at: DateTime<Utc>,
}

#[derive(Serialize)]
struct ReturnRow {
    order_no: String,
    dispatch_no: i32,
    returned_at: DateTime<Utc>,
    reason: String,
}

struct RejectedRow {
    idempotency_key: Option<String>,
    reason_code: &'static str,
    reason: String,
    body: Vec<u8>,
}

/// Open orders a duplicate report may be merged into, by [`MergeKey`]: the first order's
/// number and when it was received.
type MergeTargets = HashMap<MergeKey, (String, DateTime<Utc>)>;

/// The key under which duplicate reports are recognised: (matter, address, phone).
type MergeKey = (String, String, String);

/// Same matter, same address (ignoring spaces), same phone.
fn merge_key(matter: Option<&str>, address: Option<&str>, phone: Option<&str>) -> Option<MergeKey> {
    let address: String = address?.chars().filter(|c| !c.is_whitespace()).collect();
    if address.is_empty() {
        return None;
    }
    Some((matter?.to_owned(), address, phone?.trim().to_owned()))
}

impl Dispatcher {
    /// Applies `batch` in one transaction and returns one outcome per delivery, in order.
    pub async fn apply(
        &self,
        pool: &PgPool,
        batch: &[Incoming],
    ) -> Result<Vec<Outcome>, ApplyError> {
        let mut tx = pool.begin().await?;
        let now: DateTime<Utc> = sqlx::query_scalar("SELECT now()")
            .fetch_one(&mut *tx)
            .await?;

        // 1. Claim idempotency keys. A key seen before (or twice in this batch) is a duplicate.
        let keys: Vec<&str> = batch
            .iter()
            .filter_map(|i| i.idempotency_key.as_deref())
            .collect();
        let claimed: HashSet<String> = sqlx::query_scalar(
            "INSERT INTO processed_events (idempotency_key)
             SELECT DISTINCT k FROM UNNEST($1::text[]) AS k
             ON CONFLICT DO NOTHING RETURNING idempotency_key",
        )
        .bind(&keys)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        let mut seen_in_batch = HashSet::new();
        let fresh: Vec<bool> = batch
            .iter()
            .map(|i| match &i.idempotency_key {
                None => true,
                Some(k) => claimed.contains(k) && seen_in_batch.insert(k.as_str()),
            })
            .collect();
        let events: Vec<&InboundEvent> = batch
            .iter()
            .zip(&fresh)
            .filter(|(_, fresh)| **fresh)
            .filter_map(|(i, _)| i.parsed.as_ref().ok())
            .collect();

        // 2. Lock the orders and appointments the fresh events name, in a fixed order to
        //    avoid deadlocks, and find open orders duplicate reports may merge into.
        let mut order_nos: Vec<&str> = events
            .iter()
            .filter(|e| !is_appointment_event(e))
            .map(|e| e.envelope.order_no.as_str())
            .collect();
        order_nos.sort_unstable();
        order_nos.dedup();
        let existing: Vec<Order> = sqlx::query_as(
            "SELECT * FROM orders WHERE order_no = ANY($1) ORDER BY order_no FOR UPDATE",
        )
        .bind(&order_nos)
        .fetch_all(&mut *tx)
        .await?;
        let mut appointment_nos: Vec<&str> = events
            .iter()
            .filter(|e| is_appointment_event(e))
            .map(|e| e.envelope.order_no.as_str())
            .collect();
        appointment_nos.sort_unstable();
        appointment_nos.dedup();
        let appointments: Vec<Appointment> = if appointment_nos.is_empty() {
            Vec::new()
        } else {
            sqlx::query_as(
                "SELECT * FROM appointments WHERE order_no = ANY($1) ORDER BY order_no FOR UPDATE",
            )
            .bind(&appointment_nos)
            .fetch_all(&mut *tx)
            .await?
        };
        let phones: Vec<&str> = events
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::ComplaintReceived(c) => c.citizen.phone.as_deref(),
                _ => None,
            })
            .collect();
        let merge_targets = self.merge_targets(&mut tx, &phones, now).await?;

        let versions_read: HashMap<String, i32> = existing
            .iter()
            .map(|o| (o.order_no.clone(), o.version))
            .chain(
                appointments
                    .iter()
                    .map(|a| (format!("appointment:{}", a.order_no), a.version)),
            )
            .collect();
        let mut effects = Effects {
            orders: existing
                .into_iter()
                .map(|o| (o.order_no.clone(), o))
                .collect(),
            appointments: appointments
                .into_iter()
                .map(|a| (a.order_no.clone(), a))
                .collect(),
            merge_targets,
            ..Effects::default()
        };

        // 3. Decide, in delivery order.
        let mut outcomes = Vec::with_capacity(batch.len());
        for (incoming, fresh) in batch.iter().zip(fresh) {
            if !fresh {
                outcomes.push(Outcome::Duplicate);
                continue;
            }
            let decision = match &incoming.parsed {
                Err(rejection) => Err(rejection.clone()),
                Ok(event) => self.decide(event, incoming.consumed_at, now, &mut effects),
            };
            match decision {
                Ok(observations) => outcomes.push(Outcome::Applied(observations)),
                Err(rejection) => {
                    effects.reject(incoming, &rejection);
                    outcomes.push(Outcome::Rejected(rejection));
                }
            }
        }

        // 4. Write.
        write_orders(&mut tx, &effects, &versions_read).await?;
        write_appointments(&mut tx, &effects, &versions_read).await?;
        write_timers(&mut tx, &effects, &versions_read).await?;
        write_rows(
            &mut tx,
            "INSERT INTO order_events (order_no, event_id, event_type, actor, occurred_at, detail)
             SELECT order_no, event_id, event_type, actor, occurred_at, detail
             FROM jsonb_to_recordset($1) AS r(order_no text, event_id uuid, event_type text,
                  actor text, occurred_at timestamptz, detail jsonb)",
            &effects.timeline,
        )
        .await?;
        write_rows(
            &mut tx,
            "UPDATE dispatches d SET returned_at = r.returned_at, return_reason = r.reason
             FROM jsonb_to_recordset($1) AS r(order_no text, dispatch_no int,
                  returned_at timestamptz, reason text)
             WHERE d.order_no = r.order_no AND d.dispatch_no = r.dispatch_no",
            &effects.returns,
        )
        .await?;
        write_rows(
            &mut tx,
            "INSERT INTO dispatches (task_id, order_no, dispatch_no, department, rule,
                                     rule_version, dispatched_at)
             SELECT task_id, order_no, dispatch_no, department, rule, rule_version, dispatched_at
             FROM jsonb_to_recordset($1) AS r(task_id uuid, order_no text, dispatch_no int,
                  department text, rule text, rule_version int, dispatched_at timestamptz)",
            &effects.dispatches,
        )
        .await?;
        write_rejected(&mut tx, &effects.rejected).await?;
        outbox::enqueue(&mut tx, &effects.outbox).await?;
        tx.commit().await?;
        Ok(outcomes)
    }

    /// Open, unmerged orders of these phones received within the duplicate window.
    async fn merge_targets(
        &self,
        tx: &mut sqlx::PgConnection,
        phones: &[&str],
        now: DateTime<Utc>,
    ) -> Result<MergeTargets, sqlx::Error> {
        if phones.is_empty() {
            return Ok(HashMap::new());
        }
        let since = now - chrono::TimeDelta::from_std(self.duplicate_window).unwrap_or_default();
        #[derive(sqlx::FromRow)]
        struct Candidate {
            order_no: String,
            matter_code: Option<String>,
            address: Option<String>,
            citizen_phone: Option<String>,
            received_at: DateTime<Utc>,
        }
        let rows: Vec<Candidate> = sqlx::query_as(
            "SELECT order_no, matter_code, address, citizen_phone, received_at FROM orders
                 WHERE citizen_phone = ANY($1) AND received_at >= $2
                   AND state NOT IN ('closed', 'merged')
                 ORDER BY received_at",
        )
        .bind(phones)
        .bind(since)
        .fetch_all(&mut *tx)
        .await?;
        let mut targets = HashMap::new();
        for c in rows {
            let key = merge_key(
                c.matter_code.as_deref(),
                c.address.as_deref(),
                c.citizen_phone.as_deref(),
            );
            if let Some(key) = key {
                targets.entry(key).or_insert((c.order_no, c.received_at));
            }
        }
        Ok(targets)
    }

    fn decide(
        &self,
        event: &InboundEvent,
        consumed_at: DateTime<Utc>,
        now: DateTime<Utc>,
        effects: &mut Effects,
    ) -> Result<Vec<Observation>, Rejection> {
        let order_no = event.envelope.order_no.as_str();
        // When it happened upstream, but never in the future: a late event is clocked
        // from when it happened, so its deadlines may already have passed.
        let at = event.envelope.occurred_at.with_timezone(&Utc).min(now);
        if let EventBody::ComplaintReceived(complaint) = &event.body {
            if effects.orders.contains_key(order_no) || effects.appointments.contains_key(order_no)
            {
                return Err(Rejection::new(
                    RejectCode::DuplicateOrder,
                    format!("order {order_no} already exists"),
                ));
            }
            return Ok(self.receive(event, complaint, at, consumed_at, now, effects));
        }
        if is_appointment_event(event) {
            return self.hall(event, at, now, effects);
        }
        let Some(order) = effects.orders.get(order_no) else {
            return Err(Rejection::new(
                RejectCode::UnknownOrder,
                format!("no order {order_no}"),
            ));
        };
        let mut order = order.clone();
        let results = lifecycle::apply(&mut order, event, at, &self.rules())?;
        let mut observations = Vec::new();
        for effect in results {
            match effect {
                Effect::Dispatch => effects.dispatch(&order, consumed_at, now),
                Effect::Returned {
                    dispatch_no,
                    reason,
                } => effects.returns.push(ReturnRow {
                    order_no: order.order_no.clone(),
                    dispatch_no,
                    returned_at: at,
                    reason,
                }),
                Effect::Observe(observation) => observations.push(observation),
            }
        }
        effects.record(event, actor_of(event), effect_of(event, &order, at));
        order.updated_at = now;
        effects.put(order);
        Ok(observations)
    }

    /// A new work order: routed, clocked, and dispatched — or merged into the open order
    /// of the same matter, place and phone, or closed at once when answered on the call.
    fn receive(
        &self,
        event: &InboundEvent,
        complaint: &ComplaintReceived,
        received_at: DateTime<Utc>,
        consumed_at: DateTime<Utc>,
        now: DateTime<Utc>,
        effects: &mut Effects,
    ) -> Vec<Observation> {
        let route = self.router.route(
            Case {
                kind: complaint.kind.as_str(),
                category: &complaint.category,
                district: complaint.district.as_deref(),
                title: &complaint.title,
                content: &complaint.content,
            },
            now,
        );
        let deadlines = self.clock.deadlines(received_at, route.statutory_limit);
        let mut order = Order::new(
            NewCase {
                order_no: event.envelope.order_no.as_str().to_owned(),
                kind: complaint.kind.as_str().to_owned(),
                channel: complaint.channel.as_str().to_owned(),
                category: complaint.category.clone(),
                district: complaint.district.clone(),
                address: complaint.address.clone(),
                urgency: complaint.urgency.as_str().to_owned(),
                title: complaint.title.clone(),
                content: complaint.content.clone(),
                citizen_name: complaint.citizen.name.clone(),
                citizen_phone: complaint.citizen.phone.clone(),
                received_at,
            },
            route.department,
            route.rule,
            now,
        );
        order.matter_code = route.matter_code;
        order.matter_name = route.matter_name;
        order.rule_version = route.rule_version;
        order.statutory_limit = Some(route.statutory_limit.to_string());
        order.statutory_due_at = Some(deadlines.statutory);
        order.committed_due_at = Some(deadlines.committed);
        order.sign_due_at = Some(deadlines.sign);
        order.warning_due_at = Some(deadlines.warning);
        let key = merge_key(
            order.matter_code.as_deref(),
            order.address.as_deref(),
            order.citizen_phone.as_deref(),
        );
        let window = chrono::TimeDelta::from_std(self.duplicate_window).unwrap_or_default();
        let first = key
            .as_ref()
            .and_then(|k| effects.merge_targets.get(k))
            .filter(|(_, first_at)| received_at - *first_at <= window)
            .map(|(first, _)| first.clone());
        let mut observations = Vec::new();
        let effect = if let Some(first) = first {
            // 重复件: linked to the first order; its department already has the task.
            order.state = state::MERGED.into();
            order.department = effects
                .orders
                .get(&first)
                .map_or(order.department.clone(), |f| f.department.clone());
            order.rule = format!("duplicate-of:{first}");
            order.dispatch_count = 0;
            order.duplicate_of = Some(first.clone());
            json!({"merged_into": first})
        } else if let Some(answer) = complaint.answer.as_ref().filter(|a| a.resolved) {
            // Answered on the call (咨询即时办结): closed without a task.
            order.department = self.router.manual_department().to_owned();
            order.rule = "answered-at-intake".into();
            order.dispatch_count = 0;
            order.state = state::CLOSED.into();
            order.replied_at = Some(received_at);
            order.closed_at = Some(received_at);
            order.resolved = Some(true);
            order.on_time = Some(true);
            observations.push(Observation::Closed {
                department: order.department.clone(),
                on_time: true,
            });
            json!({"answered_at_intake": answer.reply})
        } else {
            if let Some(key) = key {
                effects
                    .merge_targets
                    .entry(key)
                    .or_insert((order.order_no.clone(), received_at));
            }
            effects.dispatch(&order, consumed_at, now);
            json!({"department": order.department, "rule": order.rule})
        };
        effects.record(event, None, effect);
        effects.put(order);
        observations
    }

    /// Appointment events: booking and the service hall's queue.
    fn hall(
        &self,
        event: &InboundEvent,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
        effects: &mut Effects,
    ) -> Result<Vec<Observation>, Rejection> {
        let order_no = event.envelope.order_no.as_str();
        let (appointment, observations) = match effects.appointments.get(order_no) {
            None => {
                if effects.orders.contains_key(order_no) {
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
                appointment.updated_at = now;
                (appointment, observations)
            }
        };
        effects.record(event, None, json!({"state": appointment.state}));
        if !effects.touched_appointments.contains(&appointment.order_no) {
            effects
                .touched_appointments
                .push(appointment.order_no.clone());
        }
        effects
            .appointments
            .insert(appointment.order_no.clone(), appointment);
        Ok(observations)
    }
}

fn is_appointment_event(event: &InboundEvent) -> bool {
    matches!(
        event.body,
        EventBody::AppointmentBooked(_)
            | EventBody::AppointmentCheckedIn(_)
            | EventBody::AppointmentCalled(_)
            | EventBody::AppointmentCompleted
    )
}

/// What an event did to its order, kept in the timeline: the state and department after
/// it, and for the events KPIs count, whether it was in time (签收 before the sign
/// deadline, 办结 before the committed one) and what the callback concluded.
fn effect_of(event: &InboundEvent, order: &Order, at: DateTime<Utc>) -> serde_json::Value {
    let mut effect = json!({"state": order.state, "department": order.department});
    let before = |due: Option<DateTime<Utc>>| due.is_none_or(|due| at <= due);
    match &event.body {
        EventBody::OrderAccepted(_) => effect["on_time"] = json!(before(order.sign_due_at)),
        EventBody::OrderReplied(e) => {
            effect["on_time"] = json!(order.on_time);
            effect["resolved"] = json!(e.resolved);
        }
        EventBody::OrderFeedback(e) => {
            effect["rating"] = json!(e.rating.as_str());
            effect["resolved"] = json!(e.resolved);
            effect["reopened"] = json!(order.state == state::DISPATCHED);
        }
        _ => {}
    }
    effect
}

/// Who acted: the department (and handler) for department actions, else the role.
fn actor_of(event: &InboundEvent) -> Option<String> {
    match &event.body {
        EventBody::OrderAccepted(e) => Some(match &e.handler {
            Some(h) => format!("{}/{h}", e.department),
            None => e.department.clone(),
        }),
        EventBody::OrderReturned(e) => Some(e.department.clone()),
        EventBody::ExtensionRequested(e) => Some(e.department.clone()),
        EventBody::OrderReplied(e) => Some(e.department.clone()),
        EventBody::OrderDispatched(e) => Some(format!(
            "operator/{}",
            e.operator.as_deref().unwrap_or("unnamed")
        )),
        EventBody::ExtensionDecided(_)
        | EventBody::OrderSuspended(_)
        | EventBody::OrderResumed(_)
        | EventBody::OrderUrged(_) => Some("supervisor".into()),
        EventBody::OrderFeedback(_) => Some("callback".into()),
        _ => None,
    }
}

impl Effects {
    fn put(&mut self, order: Order) {
        if !self.touched.contains(&order.order_no) {
            self.touched.push(order.order_no.clone());
        }
        self.orders.insert(order.order_no.clone(), order);
    }

    fn record(&mut self, event: &InboundEvent, actor: Option<String>, extra: serde_json::Value) {
        let mut detail = event.raw.clone();
        if let Some(object) = detail.as_object_mut() {
            // The citizen's personal data lives on the order, not in the timeline.
            object.remove("citizen");
            object.insert("effect".into(), extra);
        }
        self.timeline.push(TimelineRow {
            order_no: event.envelope.order_no.as_str().to_owned(),
            event_id: event.envelope.event_id,
            event_type: event.type_name(),
            actor,
            occurred_at: event.envelope.occurred_at.with_timezone(&Utc),
            detail,
        });
    }

    /// A new task for the order's current department, in the outbox.
    fn dispatch(&mut self, order: &Order, consumed_at: DateTime<Utc>, now: DateTime<Utc>) {
        let task = Task {
            task_id: Uuid::new_v4(),
            order_no: order.order_no.clone(),
            department: order.department.clone(),
            kind: order.kind.clone(),
            category: order.category.clone(),
            urgency: order.urgency.clone(),
            title: order.title.clone(),
            content: order.content.clone(),
            district: order.district.clone(),
            address: order.address.clone(),
            citizen: TaskCitizen {
                name: order.citizen_name.clone(),
                phone: order.citizen_phone.clone(),
            },
            received_at: hotline_schema::business_time(order.received_at),
            committed_due_at: order.committed_due_at.map(hotline_schema::business_time),
            statutory_due_at: order.statutory_due_at.map(hotline_schema::business_time),
            rule: order.rule.clone(),
            dispatch_count: order.dispatch_count,
            matter_name: order.matter_name.clone(),
            sign_due_at: order.sign_due_at.map(hotline_schema::business_time),
        };
        self.dispatches.push(DispatchRow {
            task_id: task.task_id,
            order_no: order.order_no.clone(),
            dispatch_no: order.dispatch_count,
            department: order.department.clone(),
            rule: order.rule.clone(),
            rule_version: order.rule_version,
            dispatched_at: now,
        });
        self.outbox.push(OutboxMessage {
            exchange: topology::TASKS_EXCHANGE.into(),
            routing_key: order.department.clone(),
            message_id: task.task_id.to_string(),
            kind: "task",
            headers: Default::default(),
            body: serde_json::to_vec(&task).expect("a task serializes"),
            origin_at: Some(consumed_at),
            department: Some(order.department.clone()),
        });
    }

    /// Keeps the rejected body and dead-letters it unchanged through the outbox.
    fn reject(&mut self, incoming: &Incoming, rejection: &Rejection) {
        self.rejected.push(RejectedRow {
            idempotency_key: incoming.idempotency_key.clone(),
            reason_code: rejection.code.as_str(),
            reason: rejection.to_string(),
            body: incoming.body.clone(),
        });
        self.outbox.push(OutboxMessage {
            exchange: topology::DEAD_LETTER_EXCHANGE.into(),
            routing_key: String::new(),
            message_id: incoming
                .idempotency_key
                .clone()
                .unwrap_or_else(|| Uuid::new_v4().to_string()),
            kind: "rejected",
            headers: [
                (topology::REASON_HEADER, rejection.to_string()),
                (
                    topology::REASON_CODE_HEADER,
                    rejection.code.as_str().to_owned(),
                ),
            ]
            .into(),
            body: incoming.body.clone(),
            origin_at: Some(incoming.consumed_at),
            department: None,
        });
    }
}

/// Upserts every appointment the batch touched, at the version after the one it read.
async fn write_appointments(
    tx: &mut sqlx::PgConnection,
    effects: &Effects,
    versions_read: &HashMap<String, i32>,
) -> Result<(), ApplyError> {
    if effects.touched_appointments.is_empty() {
        return Ok(());
    }
    let rows: Vec<Appointment> = effects
        .touched_appointments
        .iter()
        .map(|no| {
            let mut a = effects.appointments[no].clone();
            a.version = versions_read
                .get(&format!("appointment:{no}"))
                .map_or(1, |v| v + 1);
            a
        })
        .collect();
    let written: Vec<String> = sqlx::query_scalar(
        "INSERT INTO appointments SELECT * FROM jsonb_populate_recordset(NULL::appointments, $1)
         ON CONFLICT (order_no) DO UPDATE SET
            state = EXCLUDED.state, service_point = EXCLUDED.service_point,
            checked_in_at = EXCLUDED.checked_in_at, called_at = EXCLUDED.called_at,
            completed_at = EXCLUDED.completed_at, service_window = EXCLUDED.service_window,
            version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
         WHERE appointments.version = EXCLUDED.version - 1
         RETURNING order_no",
    )
    .bind(sqlx::types::Json(&rows))
    .fetch_all(&mut *tx)
    .await?;
    if written.len() != rows.len() {
        return Err(ApplyError::Conflict("appointments".into()));
    }
    Ok(())
}

/// Upserts every order the batch touched, each at the version after the one it read.
/// Fewer rows written than sent means another transaction got there first.
async fn write_orders(
    tx: &mut sqlx::PgConnection,
    effects: &Effects,
    versions_read: &HashMap<String, i32>,
) -> Result<(), ApplyError> {
    if effects.touched.is_empty() {
        return Ok(());
    }
    let rows: Vec<Order> = effects
        .touched
        .iter()
        .map(|no| {
            let mut order = effects.orders[no].clone();
            order.version = versions_read.get(no).map_or(1, |v| v + 1);
            order
        })
        .collect();
    let written: Vec<String> = sqlx::query_scalar(
        "INSERT INTO orders SELECT * FROM jsonb_populate_recordset(NULL::orders, $1)
         ON CONFLICT (order_no) DO UPDATE SET
            state = EXCLUDED.state, department = EXCLUDED.department, rule = EXCLUDED.rule,
            dispatch_count = EXCLUDED.dispatch_count,
            matter_code = EXCLUDED.matter_code, matter_name = EXCLUDED.matter_name,
            statutory_limit = EXCLUDED.statutory_limit,
            statutory_due_at = EXCLUDED.statutory_due_at,
            committed_due_at = EXCLUDED.committed_due_at, sign_due_at = EXCLUDED.sign_due_at,
            warning_due_at = EXCLUDED.warning_due_at, accepted_at = EXCLUDED.accepted_at,
            replied_at = EXCLUDED.replied_at, closed_at = EXCLUDED.closed_at,
            paused_at = EXCLUDED.paused_at, resume_state = EXCLUDED.resume_state,
            handler = EXCLUDED.handler, resolved = EXCLUDED.resolved,
            on_time = EXCLUDED.on_time, rating = EXCLUDED.rating,
            extension_requested_days = EXCLUDED.extension_requested_days,
            extension_days = EXCLUDED.extension_days, return_count = EXCLUDED.return_count,
            reopen_count = EXCLUDED.reopen_count, urge_count = EXCLUDED.urge_count,
            duplicate_of = EXCLUDED.duplicate_of, returned_by = EXCLUDED.returned_by,
            rule_version = EXCLUDED.rule_version,
            version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
         WHERE orders.version = EXCLUDED.version - 1
         RETURNING order_no",
    )
    .bind(sqlx::types::Json(&rows))
    .fetch_all(&mut *tx)
    .await?;
    if written.len() != rows.len() {
        let written: HashSet<String> = written.into_iter().collect();
        let lost: Vec<&str> = rows
            .iter()
            .map(|o| o.order_no.as_str())
            .filter(|no| !written.contains(*no))
            .collect();
        return Err(ApplyError::Conflict(lost.join(", ")));
    }
    Ok(())
}

/// Replaces the live timers of every order the batch touched with the ones its new state
/// calls for, and wakes the schedulers.
async fn write_timers(
    tx: &mut sqlx::PgConnection,
    effects: &Effects,
    versions_read: &HashMap<String, i32>,
) -> Result<(), sqlx::Error> {
    let mut order_nos = Vec::new();
    let mut levels = Vec::new();
    let mut due = Vec::new();
    let mut departments = Vec::new();
    for order_no in &effects.touched {
        let order = &effects.orders[order_no];
        for (level, due_at) in order.timers() {
            order_nos.push(order_no.as_str());
            levels.push(level);
            due.push(due_at);
            departments.push(order.department.as_str());
        }
    }
    // A new order has no timers yet: only orders that existed lose theirs.
    let existing: Vec<&str> = effects
        .touched
        .iter()
        .filter(|no| versions_read.contains_key(*no))
        .map(String::as_str)
        .collect();
    if !existing.is_empty() {
        sqlx::query("DELETE FROM timers WHERE order_no = ANY($1)")
            .bind(&existing)
            .execute(&mut *tx)
            .await?;
    }
    if !order_nos.is_empty() {
        sqlx::query(
            "INSERT INTO timers (order_no, level, due_at, department)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::timestamptz[], $4::text[])",
        )
        .bind(&order_nos)
        .bind(&levels)
        .bind(&due)
        .bind(&departments)
        .execute(&mut *tx)
        .await?;
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(TIMERS_NOTIFY_CHANNEL)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

async fn write_rows<T: Serialize>(
    tx: &mut sqlx::PgConnection,
    sql: &'static str,
    rows: &[T],
) -> Result<(), sqlx::Error> {
    if !rows.is_empty() {
        sqlx::query(sql)
            .bind(sqlx::types::Json(rows))
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Keeps every rejected body with its reason (nothing a citizen sent is dropped).
async fn write_rejected(
    tx: &mut sqlx::PgConnection,
    rows: &[RejectedRow],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let keys: Vec<Option<&str>> = rows.iter().map(|r| r.idempotency_key.as_deref()).collect();
    let codes: Vec<&str> = rows.iter().map(|r| r.reason_code).collect();
    let reasons: Vec<&str> = rows.iter().map(|r| r.reason.as_str()).collect();
    let bodies: Vec<&[u8]> = rows.iter().map(|r| r.body.as_slice()).collect();
    sqlx::query(
        "INSERT INTO rejected_events (idempotency_key, reason_code, reason, body)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bytea[])",
    )
    .bind(&keys)
    .bind(&codes)
    .bind(&reasons)
    .bind(&bodies)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The dispatcher in force, swappable while the engine runs: a configuration reload
/// (SIGHUP or a changed file) replaces it between batches, never during one.
#[derive(Clone)]
pub struct DispatcherHandle(std::sync::Arc<std::sync::RwLock<std::sync::Arc<Dispatcher>>>);

impl DispatcherHandle {
    pub fn new(dispatcher: Dispatcher) -> DispatcherHandle {
        DispatcherHandle(std::sync::Arc::new(std::sync::RwLock::new(
            std::sync::Arc::new(dispatcher),
        )))
    }

    /// The dispatcher to use for the next batch.
    pub fn current(&self) -> std::sync::Arc<Dispatcher> {
        self.0.read().expect("dispatcher lock").clone()
    }

    pub fn replace(&self, dispatcher: Dispatcher) {
        *self.0.write().expect("dispatcher lock") = std::sync::Arc::new(dispatcher);
    }
}
