//! The SLA scheduler: turns due timers into alerts, exactly once.
//!
//! The dispatcher keeps each order's live timers in `timers` (one row per order and level,
//! rewritten in the same transaction as every change of the order) and NOTIFYs
//! [`TIMERS_NOTIFY_CHANNEL`]. The scheduler, in one short transaction per batch:
//!
//! 1. claims the due timers, `due_at <= now()` on the database's clock, oldest first,
//!    `FOR UPDATE SKIP LOCKED` (any number of schedulers split the work, none waits);
//! 2. inserts one `alerts` row per timer, `ON CONFLICT DO NOTHING` on
//!    `(order_no, level, due_at)`: a deadline already alerted (by another process, or
//!    before a repair re-armed its timer) raises nothing again;
//! 3. writes one outbox row per new alert (`hotline.alerts`, routing key
//!    `<level>.<DEPT>`, `message_id` = `alert_id`, `origin_at` = the deadline, so the relay
//!    can measure the lag), deletes the claimed timers, NOTIFYs the relay, commits.
//!
//! Then it sleeps until the next deadline (`min(due_at)`, one probe of the `timers_due`
//! index) or until a NOTIFY says timers were written, whichever is first, and never more
//! than [`Scheduler::max_sleep`]: the safety net for a lost notification. It never scans
//! the orders.

use chrono::{DateTime, Utc};
use hotline_schema::message::Alert;
use hotline_schema::outbox::{self, OutboxMessage};
use hotline_schema::supervise::supervise;
use hotline_schema::{TIMERS_NOTIFY_CHANNEL, business_time, topology};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The AMQP header that carries an alert's level (an addition to the contract: consumers
/// and the relay read it without parsing the routing key).
pub const LEVEL_HEADER: &str = "x-hotline-level";

/// The claim: due timers, oldest first, skipping those another scheduler holds. Served by
/// the `timers_due` index (see `hotline bench-alerts` for its plan on a million orders).
pub const CLAIM_SQL: &str = "SELECT order_no, level, due_at, department FROM timers
     WHERE due_at <= now()
     ORDER BY due_at
     LIMIT $1
     FOR UPDATE SKIP LOCKED";

/// Seconds from the database's clock to the earliest live timer (negative when one is
/// due), NULL when there is none.
const NEXT_DUE_SQL: &str =
    "SELECT EXTRACT(EPOCH FROM (min(due_at) - clock_timestamp()))::float8 FROM timers";

pub struct Scheduler {
    pub pool: PgPool,
    /// Timers claimed per transaction.
    pub batch_size: i64,
    /// The longest sleep between two claims, whatever the timers say.
    pub max_sleep: Duration,
    /// The exchange alerts are published on ([`topology::ALERTS_EXCHANGE`]; the benchmark
    /// uses a private one).
    pub exchange: String,
}

#[derive(sqlx::FromRow)]
struct Claimed {
    order_no: String,
    level: String,
    due_at: DateTime<Utc>,
    department: String,
}

/// A new alert as the database recorded it, with the order's deadlines.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct Fired {
    pub alert_id: Uuid,
    pub order_no: String,
    pub department: String,
    pub level: String,
    pub due_at: DateTime<Utc>,
    pub fired_at: DateTime<Utc>,
    pub committed_due_at: Option<DateTime<Utc>>,
    pub statutory_due_at: Option<DateTime<Utc>>,
}

impl Fired {
    /// The contract's alert message.
    pub fn message(&self) -> Alert {
        Alert {
            alert_id: self.alert_id,
            order_no: self.order_no.clone(),
            department: self.department.clone(),
            level: self.level.clone(),
            due_at: business_time(self.due_at),
            fired_at: business_time(self.fired_at),
            committed_due_at: self.committed_due_at.map(business_time),
            statutory_due_at: self.statutory_due_at.map(business_time),
        }
    }
}

/// The routing key of an alert on `hotline.alerts`.
pub fn alert_routing_key(level: &str, department: &str) -> String {
    format!("{level}.{department}")
}

/// What one claim transaction did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Batch {
    /// Timers claimed (and deleted).
    pub claimed: usize,
    /// Alerts raised: fewer than claimed when a deadline had been alerted already.
    pub alerted: usize,
}

impl Scheduler {
    pub fn new(pool: PgPool) -> Scheduler {
        Scheduler {
            pool,
            batch_size: 500,
            max_sleep: Duration::from_secs(5),
            exchange: topology::ALERTS_EXCHANGE.to_owned(),
        }
    }

    /// Runs until `shutdown` is cancelled, reconnecting with backoff on database errors.
    pub async fn run(self, shutdown: CancellationToken) {
        let (this, stop) = (&self, &shutdown);
        supervise("scheduler", &shutdown, || this.schedule(stop)).await;
    }

    async fn schedule(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(TIMERS_NOTIFY_CHANNEL).await?;
        tracing::info!("scheduler watching timers");
        loop {
            // Fire everything due; a full batch means there may be more.
            let mut last = self.fire_batch().await?;
            while last.claimed == self.batch_size as usize && !shutdown.is_cancelled() {
                last = self.fire_batch().await?;
            }
            let next_due: Option<f64> = sqlx::query_scalar(NEXT_DUE_SQL)
                .fetch_one(&self.pool)
                .await?;
            let wait = sleep_for(next_due, last.claimed, self.max_sleep);
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Ok(()),
                // A notification, or `None` for a lost (and re-established) connection,
                // whose notifications may be lost: either way, look again.
                notification = listener.try_recv() => {
                    notification?;
                    // One look serves every notification already queued.
                    while listener.next_buffered().is_some() {}
                }
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Claims one batch of due timers and raises their alerts, in one transaction.
    pub async fn fire_batch(&self) -> Result<Batch, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let claimed: Vec<Claimed> = sqlx::query_as(CLAIM_SQL)
            .bind(self.batch_size)
            .fetch_all(&mut *tx)
            .await?;
        if claimed.is_empty() {
            tx.rollback().await?;
            return Ok(Batch::default());
        }
        let mut order_nos = Vec::with_capacity(claimed.len());
        let mut levels = Vec::with_capacity(claimed.len());
        let mut due = Vec::with_capacity(claimed.len());
        let mut departments = Vec::with_capacity(claimed.len());
        let mut ids = Vec::with_capacity(claimed.len());
        for timer in &claimed {
            order_nos.push(timer.order_no.as_str());
            levels.push(timer.level.as_str());
            due.push(timer.due_at);
            departments.push(timer.department.as_str());
            ids.push(Uuid::now_v7());
        }
        // Delete the claimed timers (exactly those: same deadline) and record their alerts;
        // a deadline alerted before returns nothing and raises nothing.
        let fired: Vec<Fired> = sqlx::query_as(
            "WITH claimed AS (
                 SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::timestamptz[],
                                      $5::text[])
                     AS c(alert_id, order_no, level, due_at, department)
             ), removed AS (
                 DELETE FROM timers t USING claimed c
                 WHERE t.order_no = c.order_no AND t.level = c.level AND t.due_at = c.due_at
             ), raised AS (
                 INSERT INTO alerts (alert_id, order_no, department, level, due_at, fired_at)
                 SELECT alert_id, order_no, department, level, due_at, now() FROM claimed
                 ON CONFLICT DO NOTHING
                 RETURNING alert_id, order_no, department, level, due_at, fired_at
             )
             SELECT r.alert_id, r.order_no, r.department, r.level, r.due_at, r.fired_at,
                    o.committed_due_at, o.statutory_due_at
             FROM raised r LEFT JOIN orders o USING (order_no)
             ORDER BY r.due_at",
        )
        .bind(&ids)
        .bind(&order_nos)
        .bind(&levels)
        .bind(&due)
        .bind(&departments)
        .fetch_all(&mut *tx)
        .await?;
        if !fired.is_empty() {
            write_alert_outbox(&mut tx, &self.exchange, &fired).await?;
        }
        tx.commit().await?;
        if fired.len() < claimed.len() {
            tracing::debug!(
                claimed = claimed.len(),
                alerted = fired.len(),
                "some claimed deadlines had been alerted already"
            );
        }
        Ok(Batch {
            claimed: claimed.len(),
            alerted: fired.len(),
        })
    }
}

/// One outbox message per alert (the relay reads the level from its header).
async fn write_alert_outbox(
    tx: &mut sqlx::PgConnection,
    exchange: &str,
    fired: &[Fired],
) -> Result<(), sqlx::Error> {
    let messages: Vec<OutboxMessage> = fired
        .iter()
        .map(|alert| OutboxMessage {
            exchange: exchange.to_owned(),
            routing_key: alert_routing_key(&alert.level, &alert.department),
            message_id: alert.alert_id.to_string(),
            kind: "alert",
            headers: [(LEVEL_HEADER, alert.level.clone())].into(),
            body: serde_json::to_vec(&alert.message()).expect("an alert serializes"),
            origin_at: Some(alert.due_at),
            department: Some(alert.department.clone()),
        })
        .collect();
    outbox::enqueue(tx, &messages).await
}

/// How long to sleep after a round of claims.
///
/// `next_due` is the seconds from now to the earliest live timer (negative if it is due
/// already, `None` if there is none); `claimed` what the last claim took. A due timer
/// the last claim did not take is held by another scheduler: wait a little for it to
/// commit rather than spin on it.
pub fn sleep_for(next_due: Option<f64>, claimed: usize, cap: Duration) -> Duration {
    const HELD_ELSEWHERE: Duration = Duration::from_millis(50);
    let Some(seconds) = next_due.filter(|s| s.is_finite()) else {
        return cap;
    };
    if seconds <= 0.0 {
        return if claimed == 0 {
            HELD_ELSEWHERE
        } else {
            Duration::ZERO
        };
    }
    // A millisecond past the deadline, so the claim finds it due on the database's clock.
    Duration::from_secs_f64(seconds.min(cap.as_secs_f64()))
        .saturating_add(Duration::from_millis(1))
        .min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn sleeps_until_the_next_deadline_within_the_cap() {
        let cap = Duration::from_secs(5);
        // (seconds to the next timer, claimed last round, expected sleep)
        let cases = [
            (None, 0, cap),
            (None, 3, cap),
            (Some(f64::NAN), 0, cap),
            (Some(0.25), 0, Duration::from_millis(251)),
            (Some(2.0), 7, Duration::from_millis(2001)),
            (Some(4.9995), 0, Duration::from_secs(5)),
            (Some(3600.0), 0, cap),
            // Due now and nothing claimed: another scheduler holds it.
            (Some(-0.5), 0, Duration::from_millis(50)),
            (Some(0.0), 0, Duration::from_millis(50)),
            // Due now after a partial batch: a timer written meanwhile; look again at once.
            (Some(-0.5), 2, Duration::ZERO),
        ];
        for (next, claimed, expected) in cases {
            assert_eq!(
                sleep_for(next, claimed, cap),
                expected,
                "{next:?} {claimed}"
            );
        }
    }

    #[test]
    fn the_alert_message_is_in_business_time() {
        let utc = |h, m| Utc.with_ymd_and_hms(2026, 11, 25, h, m, 0).unwrap();
        let fired = Fired {
            alert_id: Uuid::nil(),
            order_no: "PT1".into(),
            department: "SCJGJ".into(),
            level: "overdue".into(),
            due_at: utc(8, 20),
            fired_at: utc(8, 21),
            committed_due_at: Some(utc(8, 20)),
            statutory_due_at: None,
        };
        let message = serde_json::to_value(fired.message()).unwrap();
        assert_eq!(
            message,
            serde_json::json!({
                "alert_id": "00000000-0000-0000-0000-000000000000",
                "order_no": "PT1",
                "department": "SCJGJ",
                "level": "overdue",
                "due_at": "2026-11-25T16:20:00+08:00",
                "fired_at": "2026-11-25T16:21:00+08:00",
                "committed_due_at": "2026-11-25T16:20:00+08:00",
                "statutory_due_at": null,
            })
        );
        assert_eq!(
            alert_routing_key(&fired.level, &fired.department),
            "overdue.SCJGJ"
        );
    }
}
