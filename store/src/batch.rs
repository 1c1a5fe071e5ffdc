//! One batch of inbound events in one transaction: claim the idempotency keys, load and
//! lock what the events name, then write every effect the core decided with a handful of
//! set-based statements (`jsonb_to_recordset`, `UNNEST`), outbox rows included. One
//! transaction and one round trip per statement kind per batch is what lets the intake
//! approach the broker's own ceiling (see `../shared/services.md`).

use crate::rows::{AppointmentRow, ORDER_COLUMNS, OrderRow, appointment_from_row, order_from_row};
use crate::{StoreError, outbox};
use chrono::{DateTime, Utc};
use hotline_core::decide::{Decided, Existed, Loaded, MergeCandidate, Wanted};
use hotline_schema::event::EventType;
use serde::Serialize;
use sqlx::{PgPool, Postgres, Row, Transaction};
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use uuid::Uuid;

/// The transaction of one batch, and the versions of the rows it read.
pub struct BatchTx {
    tx: Transaction<'static, Postgres>,
    now: DateTime<Utc>,
    order_versions: HashMap<String, i32>,
    appointment_versions: HashMap<String, i32>,
}

impl BatchTx {
    /// Begins the transaction and reads the database's clock: the `now` every decision
    /// of the batch is made at.
    pub async fn begin(pool: &PgPool) -> Result<BatchTx, StoreError> {
        let mut tx = crate::begin(pool).await?;
        let now: DateTime<Utc> = sqlx::query_scalar("SELECT now()")
            .fetch_one(&mut *tx)
            .await?;
        Ok(BatchTx {
            tx,
            now,
            order_versions: HashMap::new(),
            appointment_versions: HashMap::new(),
        })
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Takes the idempotency keys not taken before; returns those this batch took. A key
    /// and the effects of its event commit together or not at all.
    pub async fn claim(&mut self, keys: &[&str]) -> Result<HashSet<String>, StoreError> {
        let claimed: Vec<String> = sqlx::query_scalar(
            "INSERT INTO processed_events (idempotency_key)
             SELECT DISTINCT k FROM UNNEST($1::text[]) AS k
             ON CONFLICT DO NOTHING RETURNING idempotency_key",
        )
        .bind(keys)
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(claimed.into_iter().collect())
    }

    /// Locks and reads the orders and appointments `wanted` names (in key order, so that
    /// concurrent batches never deadlock), and for each of its duplicate keys the first
    /// open order received within `duplicate_window`.
    pub async fn load(
        &mut self,
        wanted: &Wanted,
        duplicate_window: Duration,
    ) -> Result<Loaded, StoreError> {
        let mut loaded = Loaded::default();
        if !wanted.order_nos.is_empty() {
            let rows = sqlx::query(
                "SELECT * FROM orders WHERE order_no = ANY($1) ORDER BY order_no FOR UPDATE",
            )
            .bind(&wanted.order_nos)
            .fetch_all(&mut *self.tx)
            .await?;
            for row in &rows {
                let (order, version) = order_from_row(row)?;
                self.order_versions.insert(order.order_no.clone(), version);
                loaded.orders.push(order);
            }
        }
        if !wanted.appointment_nos.is_empty() {
            let rows = sqlx::query(
                "SELECT * FROM appointments WHERE order_no = ANY($1) ORDER BY order_no FOR UPDATE",
            )
            .bind(&wanted.appointment_nos)
            .fetch_all(&mut *self.tx)
            .await?;
            for row in &rows {
                let (appointment, version) = appointment_from_row(row)?;
                self.appointment_versions
                    .insert(appointment.order_no.clone(), version);
                loaded.appointments.push(appointment);
            }
        }
        if !wanted.merge_keys.is_empty() {
            // The first open order of each duplicate key within the window: one probe of
            // `orders_duplicate_key` per key, whatever the caller's history.
            let since =
                self.now - chrono::TimeDelta::from_std(duplicate_window).unwrap_or_default();
            let keys: Vec<Vec<u8>> = wanted
                .merge_keys
                .iter()
                .map(|k| k.digest().to_vec())
                .collect();
            let rows = sqlx::query(
                "SELECT c.order_no, c.matter_code, c.address, c.citizen_phone, c.received_at
                 FROM UNNEST($1::bytea[]) AS k(key)
                 CROSS JOIN LATERAL (
                     SELECT order_no, matter_code, address, citizen_phone, received_at
                     FROM orders
                     WHERE duplicate_key = k.key AND received_at >= $2
                       AND state NOT IN ('closed', 'merged')
                     ORDER BY received_at
                     LIMIT 1) AS c",
            )
            .bind(&keys)
            .bind(since)
            .fetch_all(&mut *self.tx)
            .await?;
            for row in &rows {
                loaded.merge_candidates.push(MergeCandidate {
                    order_no: row.try_get("order_no")?,
                    matter_code: row.try_get("matter_code")?,
                    address: row.try_get("address")?,
                    phone: row.try_get("citizen_phone")?,
                    received_at: row.try_get("received_at")?,
                });
            }
        }
        Ok(loaded)
    }

    /// Writes everything the batch decided.
    pub async fn write(&mut self, decided: &Decided) -> Result<(), StoreError> {
        self.write_orders(decided).await?;
        self.write_appointments(decided).await?;
        self.write_timers(decided).await?;
        let tx = &mut *self.tx;
        let timeline: Vec<TimelineRow> = decided
            .timeline
            .iter()
            .map(|e| TimelineRow {
                order_no: &e.order_no,
                event_id: e.event_id,
                event_type: e.event_type,
                actor: e.actor.as_deref(),
                occurred_at: e.occurred_at,
                detail: &e.detail,
            })
            .collect();
        write_json(
            tx,
            "INSERT INTO order_events (order_no, event_id, event_type, actor, occurred_at, detail)
             SELECT order_no, event_id, event_type, actor, occurred_at, detail
             FROM jsonb_to_recordset($1) AS r(order_no text, event_id uuid, event_type text,
                  actor text, occurred_at timestamptz, detail jsonb)",
            &timeline,
        )
        .await?;
        let returns: Vec<ReturnRow> = decided
            .returns
            .iter()
            .map(|r| ReturnRow {
                order_no: &r.order_no,
                dispatch_no: r.dispatch_no,
                returned_at: r.returned_at,
                reason: &r.reason,
            })
            .collect();
        write_json(
            tx,
            "UPDATE dispatches d SET returned_at = r.returned_at, return_reason = r.reason
             FROM jsonb_to_recordset($1) AS r(order_no text, dispatch_no int,
                  returned_at timestamptz, reason text)
             WHERE d.order_no = r.order_no AND d.dispatch_no = r.dispatch_no",
            &returns,
        )
        .await?;
        let dispatches: Vec<DispatchRow> = decided
            .dispatches
            .iter()
            .map(|d| DispatchRow {
                task_id: d.task_id,
                order_no: &d.order_no,
                dispatch_no: d.dispatch_no,
                department: &d.department,
                rule: &d.rule,
                rule_version: d.rule_version,
                dispatched_at: d.dispatched_at,
                purpose: d.purpose.as_str(),
            })
            .collect();
        write_json(
            tx,
            "INSERT INTO dispatches (task_id, order_no, dispatch_no, department, rule,
                                     rule_version, dispatched_at, purpose)
             SELECT task_id, order_no, dispatch_no, department, rule, rule_version,
                    dispatched_at, purpose
             FROM jsonb_to_recordset($1) AS r(task_id uuid, order_no text, dispatch_no int,
                  department text, rule text, rule_version int, dispatched_at timestamptz,
                  purpose text)",
            &dispatches,
        )
        .await?;
        // One row per dispatch, its last outcome (an UPDATE … FROM with two source rows for
        // one target would apply either): a return put to review and decided in one batch.
        let mut reviews: Vec<ReviewRow> = Vec::new();
        for r in &decided.return_reviews {
            reviews.retain(|w| !(w.order_no == r.order_no && w.dispatch_no == r.dispatch_no));
            reviews.push(ReviewRow {
                order_no: &r.order_no,
                dispatch_no: r.dispatch_no,
                outcome: r.outcome.as_str(),
            });
        }
        write_json(
            tx,
            "UPDATE dispatches d SET return_outcome = r.outcome
             FROM jsonb_to_recordset($1) AS r(order_no text, dispatch_no int, outcome text)
             WHERE d.order_no = r.order_no AND d.dispatch_no = r.dispatch_no",
            &reviews,
        )
        .await?;
        self.write_rejected(decided).await?;
        outbox::enqueue(&mut self.tx, &decided.outbox).await
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }

    /// Upserts every order the batch touched, each at the version after the one it read.
    /// Fewer rows written than sent means another transaction got there first.
    async fn write_orders(&mut self, decided: &Decided) -> Result<(), StoreError> {
        if decided.orders.is_empty() {
            return Ok(());
        }
        let rows: Vec<OrderRow<'_>> = decided
            .orders
            .iter()
            .map(|(order, existed)| {
                OrderRow::new(
                    order,
                    next_version(&self.order_versions, &order.order_no, *existed),
                    self.now,
                )
            })
            .collect();
        // The columns named: `INSERT … SELECT *` would also write the generated ones.
        let sql = format!(
            "INSERT INTO orders ({ORDER_COLUMNS})
             SELECT {ORDER_COLUMNS} FROM jsonb_populate_recordset(NULL::orders, $1)
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
                duplicate_key = EXCLUDED.duplicate_key,
                rule_version = EXCLUDED.rule_version, calendar_version = EXCLUDED.calendar_version,
                dispatched_at = EXCLUDED.dispatched_at, co_handlers = EXCLUDED.co_handlers,
                pending_return = EXCLUDED.pending_return, urge_level = EXCLUDED.urge_level,
                callback = EXCLUDED.callback,
                version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
             WHERE orders.version = EXCLUDED.version - 1
             RETURNING order_no"
        );
        let written: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(sqlx::types::Json(&rows))
            .fetch_all(&mut *self.tx)
            .await?;
        if written.len() != rows.len() {
            let written: HashSet<String> = written.into_iter().collect();
            let lost: Vec<&str> = decided
                .orders
                .iter()
                .map(|(o, _)| o.order_no.as_str())
                .filter(|no| !written.contains(*no))
                .collect();
            return Err(StoreError::Conflict(format!(
                "order(s) {} changed by another writer",
                lost.join(", ")
            )));
        }
        Ok(())
    }

    /// Upserts every appointment the batch touched, at the version after the one it read.
    async fn write_appointments(&mut self, decided: &Decided) -> Result<(), StoreError> {
        if decided.appointments.is_empty() {
            return Ok(());
        }
        let rows: Vec<AppointmentRow<'_>> = decided
            .appointments
            .iter()
            .map(|(a, existed)| {
                let version = next_version(&self.appointment_versions, &a.order_no, *existed);
                AppointmentRow::new(a, version, self.now)
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
        .fetch_all(&mut *self.tx)
        .await?;
        if written.len() != rows.len() {
            return Err(StoreError::Conflict(
                "appointment(s) changed by another writer".into(),
            ));
        }
        Ok(())
    }

    /// Replaces the live timers of every order the batch touched with the ones its new
    /// state calls for, and wakes the schedulers.
    async fn write_timers(&mut self, decided: &Decided) -> Result<(), StoreError> {
        // A new order has no timers yet: only orders that existed lose theirs.
        let existing: Vec<&str> = decided
            .orders
            .iter()
            .filter(|(_, existed)| *existed == Existed::Yes)
            .map(|(o, _)| o.order_no.as_str())
            .collect();
        crate::timers::replace_live(&mut self.tx, &decided.timers, &existing).await
    }

    /// Keeps every rejected body with its reason (nothing a citizen sent is dropped).
    async fn write_rejected(&mut self, decided: &Decided) -> Result<(), StoreError> {
        let rows = &decided.rejected;
        if rows.is_empty() {
            return Ok(());
        }
        let keys: Vec<Option<&str>> = rows.iter().map(|r| r.idempotency_key.as_deref()).collect();
        let codes: Vec<&str> = rows.iter().map(|r| r.code.as_str()).collect();
        let reasons: Vec<&str> = rows.iter().map(|r| r.reason.as_str()).collect();
        let bodies: Vec<&[u8]> = rows.iter().map(|r| r.body.as_slice()).collect();
        let original_bytes: Vec<Option<i64>> = rows
            .iter()
            .map(|r| r.truncated.as_ref().map(|t| t.bytes as i64))
            .collect();
        let original_digests: Vec<Option<&str>> = rows
            .iter()
            .map(|r| r.truncated.as_ref().map(|t| t.sha256.as_str()))
            .collect();
        sqlx::query(
            "INSERT INTO rejected_events
                 (idempotency_key, reason_code, reason, body, original_bytes, original_sha256)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bytea[], $5::int8[],
                                  $6::text[])",
        )
        .bind(&keys)
        .bind(&codes)
        .bind(&reasons)
        .bind(&bodies)
        .bind(&original_bytes)
        .bind(&original_digests)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}

#[derive(Serialize)]
struct TimelineRow<'a> {
    order_no: &'a str,
    event_id: Uuid,
    event_type: EventType,
    actor: Option<&'a str>,
    occurred_at: DateTime<Utc>,
    detail: &'a serde_json::Value,
}

#[derive(Serialize)]
struct DispatchRow<'a> {
    task_id: Uuid,
    order_no: &'a str,
    dispatch_no: i32,
    department: &'a str,
    rule: &'a str,
    rule_version: i32,
    dispatched_at: DateTime<Utc>,
    purpose: &'static str,
}

#[derive(Serialize)]
struct ReviewRow<'a> {
    order_no: &'a str,
    dispatch_no: i32,
    outcome: &'static str,
}

#[derive(Serialize)]
struct ReturnRow<'a> {
    order_no: &'a str,
    dispatch_no: i32,
    returned_at: DateTime<Utc>,
    reason: &'a str,
}

async fn write_json<T: Serialize>(
    tx: &mut sqlx::PgConnection,
    sql: &'static str,
    rows: &[T],
) -> Result<(), StoreError> {
    if !rows.is_empty() {
        sqlx::query(sql)
            .bind(sqlx::types::Json(rows))
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// The version a row is written at: one more than the version the batch read it at
/// (`read`, by order number), 1 for a new row. The write only lands where the stored
/// version is still the one read (`WHERE version = EXCLUDED.version - 1`).
fn next_version(read: &HashMap<String, i32>, order_no: &str, existed: Existed) -> i32 {
    match existed {
        Existed::Yes => read.get(order_no).map_or(1, |v| v + 1),
        Existed::No => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_written_one_version_past_the_one_read_and_a_new_row_at_version_1() {
        let read = HashMap::from([("PT1".to_owned(), 4), ("PT2".to_owned(), 1)]);
        // (order number, existed, version written)
        let cases = [
            ("PT1", Existed::Yes, 5),
            ("PT2", Existed::Yes, 2),
            ("PT1", Existed::No, 1),
            ("PT3", Existed::No, 1),
        ];
        for (order_no, existed, want) in cases {
            assert_eq!(
                next_version(&read, order_no, existed),
                want,
                "{order_no} {existed:?}"
            );
        }
    }
}
