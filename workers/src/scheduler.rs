//! The SLA scheduler: turns due timers into alerts, exactly once.
//!
//! The intake keeps each order's live timers in `timers` (one row per order, and one per
//! co-handler owing a co-reply, armed for the earliest deadline not yet alerted and
//! carrying the levels after it; rewritten in the same transaction as every change of
//! the order) and NOTIFYs
//! [`TIMERS_NOTIFY_CHANNEL`]. The scheduler, in one short transaction per batch:
//!
//! 1. claims the due timers, `due_at <= now()` on the database's clock, oldest first,
//!    `FOR UPDATE SKIP LOCKED` (any number of schedulers split the work, none waits);
//! 2. inserts one `alerts` row per timer, `ON CONFLICT DO NOTHING` on
//!    `(order_no, level, due_at)`: a deadline already alerted (by another process, or
//!    before a repair re-armed its timer) raises nothing again;
//! 3. writes one outbox row per new alert (`hotline.alerts`, routing key
//!    `<level>.<DEPT>`, `message_id` = `alert_id`, `origin_at` = the deadline, so the relay
//!    can measure the lag), moves each claimed timer on to its next level (deletes it
//!    after the last), NOTIFYs the relay, commits. A next level already due is the next
//!    round's, so an order back from a long outage raises its levels in order.
//!
//! Then it sleeps until the next deadline (`min(due_at)`, one probe of the `timers_due`
//! index) or until a NOTIFY says timers were written, whichever is first, and never more
//! than [`Scheduler::max_sleep`]: the safety net for a lost notification. It never scans
//! the orders.

use hotline_runtime::health;
use hotline_runtime::supervise::supervise;
use hotline_schema::topology;
use hotline_store::timers::{self, Fired};
use hotline_store::{PgPool, StoreError, TIMERS_NOTIFY_CHANNEL, Wakeups};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub struct Scheduler {
    pub pool: PgPool,
    /// Timers claimed per transaction.
    pub batch_size: i64,
    /// The longest sleep between two claims, whatever the timers say.
    pub max_sleep: Duration,
    /// The exchange alerts are published on ([`topology::ALERTS_EXCHANGE`]; the benchmark
    /// uses a private one).
    pub exchange: &'static str,
}

impl Scheduler {
    pub fn new(pool: PgPool) -> Scheduler {
        Scheduler {
            pool,
            batch_size: 500,
            max_sleep: Duration::from_secs(5),
            exchange: topology::ALERTS_EXCHANGE,
        }
    }

    /// Runs until `shutdown` is cancelled, reconnecting with backoff on database errors.
    pub async fn run(self, shutdown: CancellationToken) {
        let (this, stop) = (&self, &shutdown);
        supervise("scheduler", &shutdown, || this.schedule(stop)).await;
    }

    async fn schedule(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let mut wakeups = Wakeups::listen(&self.pool, TIMERS_NOTIFY_CHANNEL).await?;
        tracing::info!("scheduler watching timers");
        loop {
            // Fire everything due; a full batch means there may be more.
            let mut last = self.fire_batch().await?;
            while last.claimed == self.batch_size as usize && !shutdown.is_cancelled() {
                last = self.fire_batch().await?;
            }
            if last.alerted < last.claimed {
                tracing::debug!(
                    claimed = last.claimed,
                    alerted = last.alerted,
                    "some claimed deadlines had been alerted already"
                );
            }
            health::progress("scheduler");
            let next_due = timers::seconds_to_next(&self.pool).await?;
            let wait = sleep_for(next_due, last.claimed, self.max_sleep);
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Ok(()),
                // A notification, or a lost (and re-established) connection whose
                // notifications may be lost: either way, look again.
                woken = wakeups.next() => { woken?; }
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Claims one batch of due timers and raises their alerts, in one transaction.
    pub async fn fire_batch(&self) -> Result<Fired, StoreError> {
        timers::fire_due(&self.pool, self.batch_size, self.exchange).await
    }
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
            // Due now after a partial batch: a timer written meanwhile, or one just moved on
            // to a level already due; look again at once.
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
}
