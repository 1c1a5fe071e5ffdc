//! Applying a batch of inbound deliveries to the database in one transaction.
//!
//! The shape is load → decide → write: claim the batch's idempotency keys, lock the
//! orders it names, decide every event in memory (pure), then write all effects with a
//! handful of set-based statements (`jsonb_to_recordset`), including the outbox rows the
//! relay will publish. One transaction and one round trip per statement kind per batch is
//! what lets the intake approach the broker's own ceiling (see `../shared/services.md`).

use crate::order::{Order, state};
use crate::routing::{Case, Router};
use chrono::{DateTime, Utc};
use hotline_schema::event::{EventBody, InboundEvent, RejectCode, Rejection};
use hotline_schema::message::{Task, TaskCitizen};
use hotline_schema::sla::SlaClock;
use hotline_schema::{OUTBOX_NOTIFY_CHANNEL, TIMERS_NOTIFY_CHANNEL, topology};
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
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

/// The state the decisions need: routing table and SLA clock.
pub struct Dispatcher {
    pub router: Router,
    pub clock: SlaClock,
}

/// Everything a batch will write, accumulated while deciding.
#[derive(Default)]
struct Effects {
    orders: HashMap<String, Order>,
    /// Orders written by this batch, in first-touch order.
    touched: Vec<String>,
    timeline: Vec<TimelineRow>,
    dispatches: Vec<DispatchRow>,
    outbox: Vec<OutboxRow>,
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
}

#[derive(Serialize)]
struct OutboxRow {
    exchange: &'static str,
    routing_key: String,
    message_id: String,
    kind: &'static str,
    headers: serde_json::Value,
    body_hex: String,
    origin_at: Option<DateTime<Utc>>,
    department: Option<String>,
}

#[derive(Serialize)]
struct RejectedRow {
    idempotency_key: Option<String>,
    reason_code: &'static str,
    reason: String,
    body_hex: String,
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

        // 2. Lock the orders the fresh events name, in a fixed order to avoid deadlocks.
        let mut order_nos: Vec<&str> = batch
            .iter()
            .zip(&fresh)
            .filter(|(_, fresh)| **fresh)
            .filter_map(|(i, _)| i.parsed.as_ref().ok())
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
        let versions_read: HashMap<String, i32> = existing
            .iter()
            .map(|o| (o.order_no.clone(), o.version))
            .collect();
        let mut effects = Effects {
            orders: existing
                .into_iter()
                .map(|o| (o.order_no.clone(), o))
                .collect(),
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
                Ok(()) => outcomes.push(Outcome::Applied),
                Err(rejection) => {
                    effects.reject(incoming, &rejection);
                    outcomes.push(Outcome::Rejected(rejection));
                }
            }
        }

        // 4. Write.
        write_orders(&mut tx, &effects, &versions_read).await?;
        write_timers(&mut tx, &effects).await?;
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
            "INSERT INTO dispatches (task_id, order_no, dispatch_no, department, rule)
             SELECT task_id, order_no, dispatch_no, department, rule
             FROM jsonb_to_recordset($1) AS r(task_id uuid, order_no text, dispatch_no int,
                  department text, rule text)",
            &effects.dispatches,
        )
        .await?;
        write_rows(
            &mut tx,
            "INSERT INTO rejected_events (idempotency_key, reason_code, reason, body)
             SELECT idempotency_key, reason_code, reason, decode(body_hex, 'hex')
             FROM jsonb_to_recordset($1) AS r(idempotency_key text, reason_code text,
                  reason text, body_hex text)",
            &effects.rejected,
        )
        .await?;
        write_outbox(&mut tx, &effects.outbox).await?;
        tx.commit().await?;
        Ok(outcomes)
    }

    fn decide(
        &self,
        event: &InboundEvent,
        consumed_at: DateTime<Utc>,
        now: DateTime<Utc>,
        effects: &mut Effects,
    ) -> Result<(), Rejection> {
        let order_no = event.envelope.order_no.as_str();
        match &event.body {
            EventBody::ComplaintReceived(complaint) => {
                if effects.orders.contains_key(order_no) {
                    return Err(Rejection::new(
                        RejectCode::DuplicateOrder,
                        format!("order {order_no} already exists"),
                    ));
                }
                let route = self.router.route(Case {
                    kind: complaint.kind.as_str(),
                    category: &complaint.category,
                    district: complaint.district.as_deref(),
                    title: &complaint.title,
                    content: &complaint.content,
                });
                // Clock from when it happened upstream, but never from the future.
                let received_at = event.envelope.occurred_at.with_timezone(&Utc).min(now);
                let deadlines = self.clock.deadlines(received_at, route.statutory_limit);
                let order = Order {
                    order_no: order_no.to_owned(),
                    kind: complaint.kind.as_str().to_owned(),
                    channel: complaint.channel.as_str().to_owned(),
                    category: complaint.category.clone(),
                    matter_code: route.matter_code,
                    matter_name: route.matter_name,
                    district: complaint.district.clone(),
                    address: complaint.address.clone(),
                    urgency: complaint.urgency.as_str().to_owned(),
                    title: complaint.title.clone(),
                    content: complaint.content.clone(),
                    citizen_name: complaint.citizen.name.clone(),
                    citizen_phone: complaint.citizen.phone.clone(),
                    state: state::DISPATCHED.to_owned(),
                    department: route.department,
                    rule: route.rule,
                    dispatch_count: 1,
                    received_at,
                    statutory_limit: Some(route.statutory_limit.to_string()),
                    statutory_due_at: Some(deadlines.statutory),
                    committed_due_at: Some(deadlines.committed),
                    sign_due_at: Some(deadlines.sign),
                    warning_due_at: Some(deadlines.warning),
                    accepted_at: None,
                    replied_at: None,
                    closed_at: None,
                    paused_at: None,
                    resume_state: None,
                    handler: None,
                    resolved: None,
                    on_time: None,
                    rating: None,
                    extension_requested_days: None,
                    extension_days: 0,
                    return_count: 0,
                    reopen_count: 0,
                    urge_count: 0,
                    duplicate_of: None,
                    returned_by: Vec::new(),
                    rule_version: 1,
                    version: 0,
                    created_at: now,
                    updated_at: now,
                };
                effects.record(
                    event,
                    None,
                    json!({"department": order.department, "rule": order.rule}),
                );
                effects.dispatch(&order, consumed_at);
                effects.put(order);
                Ok(())
            }
            _ => {
                if !effects.orders.contains_key(order_no) {
                    return Err(Rejection::new(
                        RejectCode::UnknownOrder,
                        format!("no order {order_no}"),
                    ));
                }
                Err(Rejection::new(
                    RejectCode::InvalidState,
                    format!("{} is not handled yet", event.type_name()),
                ))
            }
        }
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
    fn dispatch(&mut self, order: &Order, consumed_at: DateTime<Utc>) {
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
        });
        let body = serde_json::to_vec(&task).expect("a task serializes");
        self.outbox.push(OutboxRow {
            exchange: topology::TASKS_EXCHANGE,
            routing_key: order.department.clone(),
            message_id: task.task_id.to_string(),
            kind: "task",
            headers: json!({}),
            body_hex: hex(&body),
            origin_at: Some(consumed_at),
            department: Some(order.department.clone()),
        });
    }

    /// Keeps the rejected body and dead-letters it unchanged through the outbox.
    fn reject(&mut self, incoming: &Incoming, rejection: &Rejection) {
        let body_hex = hex(&incoming.body);
        self.rejected.push(RejectedRow {
            idempotency_key: incoming.idempotency_key.clone(),
            reason_code: rejection.code.as_str(),
            reason: rejection.to_string(),
            body_hex: body_hex.clone(),
        });
        self.outbox.push(OutboxRow {
            exchange: topology::DEAD_LETTER_EXCHANGE,
            routing_key: String::new(),
            message_id: incoming
                .idempotency_key
                .clone()
                .unwrap_or_else(|| Uuid::new_v4().to_string()),
            kind: "rejected",
            headers: json!({
                topology::REASON_HEADER: rejection.to_string(),
                topology::REASON_CODE_HEADER: rejection.code.as_str(),
            }),
            body_hex,
            origin_at: Some(incoming.consumed_at),
            department: None,
        });
    }
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
async fn write_timers(tx: &mut sqlx::PgConnection, effects: &Effects) -> Result<(), sqlx::Error> {
    if effects.touched.is_empty() {
        return Ok(());
    }
    #[derive(Serialize)]
    struct TimerRow<'a> {
        order_no: &'a str,
        level: &'static str,
        due_at: DateTime<Utc>,
        department: &'a str,
    }
    let mut rows = Vec::new();
    for order_no in &effects.touched {
        let order = &effects.orders[order_no];
        for (level, due_at) in order.timers() {
            rows.push(TimerRow {
                order_no,
                level,
                due_at,
                department: &order.department,
            });
        }
    }
    sqlx::query("DELETE FROM timers WHERE order_no = ANY($1)")
        .bind(&effects.touched)
        .execute(&mut *tx)
        .await?;
    if !rows.is_empty() {
        write_rows(
            tx,
            "INSERT INTO timers (order_no, level, due_at, department)
             SELECT order_no, level, due_at, department
             FROM jsonb_to_recordset($1) AS r(order_no text, level text, due_at timestamptz,
                  department text)",
            &rows,
        )
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

async fn write_outbox(tx: &mut sqlx::PgConnection, rows: &[OutboxRow]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    write_rows(
        tx,
        "INSERT INTO outbox (exchange, routing_key, message_id, kind, headers, body,
                             origin_at, department)
         SELECT exchange, routing_key, message_id, kind, headers, decode(body_hex, 'hex'),
                origin_at, department
         FROM jsonb_to_recordset($1) AS r(exchange text, routing_key text, message_id text,
              kind text, headers jsonb, body_hex text, origin_at timestamptz, department text)",
        rows,
    )
    .await?;
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(OUTBOX_NOTIFY_CHANNEL)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}
