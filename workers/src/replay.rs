//! The calendar replay: when the effective calendar changes (a configuration reload, an
//! imported notice), one process moves the deadlines of the open orders that cross a
//! changed day, in batches, and records the calendar as applied. Every process looks
//! every few seconds; an advisory lock lets one of them do it.

use chrono::{Days, TimeZone, Utc};
use hotline_core::calendar::BUSINESS_TZ;
use hotline_core::replay::replay;
use hotline_core::rules::Rules;
use hotline_core::sla::SlaClock;
use hotline_store::replay::{ReplayLock, ReplayTx};
use hotline_store::{PgPool, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often a process compares the calendar in force with the one applied.
pub const CHECK_EVERY: Duration = Duration::from_secs(5);
/// Orders locked and written per transaction.
const BATCH: i64 = 500;

/// What one replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    /// The calendar versions, applied before and now.
    pub from_version: String,
    pub to_version: String,
    pub changed_days: usize,
    pub orders_checked: usize,
    pub orders_moved: usize,
}

pub struct Replayer<F> {
    pub pool: PgPool,
    /// The rules in force (they change with configuration reloads).
    pub rules: F,
}

impl<F> Replayer<F>
where
    F: Fn() -> Arc<Rules> + Send + Sync,
{
    /// Checks every [`CHECK_EVERY`] until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            match self.once().await {
                Ok(Some(summary)) => tracing::info!(?summary, "calendar replayed"),
                Ok(None) => {}
                Err(err) => tracing::warn!(error = %err, "calendar replay failed; retrying"),
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(CHECK_EVERY) => {}
            }
        }
    }

    /// Replays the calendar in force if it is not the one applied and no other process is
    /// at it. `None`: nothing to do (or another process is doing it).
    pub async fn once(&self) -> Result<Option<ReplaySummary>, StoreError> {
        let rules = (self.rules)();
        let version = rules.calendar_version.as_str();
        let new = &rules.clock.calendar;
        match hotline_store::replay::applied(&self.pool).await? {
            Some((applied, _)) if applied == version => return Ok(None),
            // The first start: nothing to compare with; the orders were computed on it.
            None => {
                hotline_store::replay::record_applied(&self.pool, version, &new.record()).await?;
                return Ok(None);
            }
            Some(_) => {}
        }
        let Some(lock) = ReplayLock::try_take(&self.pool).await? else {
            return Ok(None);
        };
        let outcome = self.replay_under_lock(&rules).await;
        lock.release().await?;
        outcome
    }

    async fn replay_under_lock(&self, rules: &Rules) -> Result<Option<ReplaySummary>, StoreError> {
        let version = rules.calendar_version.as_str();
        let new = &rules.clock.calendar;
        // Read again under the lock: another process may just have finished.
        let Some((from_version, old_record)) = hotline_store::replay::applied(&self.pool).await?
        else {
            return Ok(None);
        };
        if from_version == version {
            return Ok(None);
        }
        let old = old_record
            .build()
            .map_err(|e| StoreError::Defect(format!("calendar_state: {e}")))?;
        let old_clock = SlaClock {
            calendar: old.clone(),
            settings: rules.clock.settings.clone(),
        };
        let declared = old
            .declared_days()
            .into_iter()
            .chain(new.declared_days())
            .map(|d| d.date)
            .collect::<Vec<_>>();
        let (lo, hi) = match (declared.iter().min(), declared.iter().max()) {
            (Some(lo), Some(hi)) => (*lo, *hi),
            _ => (chrono::NaiveDate::MIN, chrono::NaiveDate::MIN),
        };
        let changed = if old.periods() == new.periods() {
            old.changed_days(new, lo, hi)
        } else {
            // Other working hours change every day: every open order is concerned.
            vec![
                chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date"),
                hi.max(chrono::NaiveDate::from_ymd_opt(2999, 12, 31).expect("a date")),
            ]
        };
        let mut summary = ReplaySummary {
            from_version,
            to_version: version.to_owned(),
            changed_days: changed.len(),
            ..ReplaySummary::default()
        };
        if let (Some(first), Some(last)) = (changed.first(), changed.last()) {
            let midnight = |d: chrono::NaiveDate| {
                BUSINESS_TZ
                    .from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
                    .earliest()
                    .map_or(chrono::DateTime::<Utc>::MIN_UTC, |t| t.with_timezone(&Utc))
            };
            let (first, last) = (
                midnight(*first),
                midnight(last.checked_add_days(Days::new(1)).unwrap_or(*last)),
            );
            let mut after = String::new();
            loop {
                let mut tx = ReplayTx::begin(&self.pool).await?;
                let candidates = tx.candidates(first, last, version, &after, BATCH).await?;
                let Some(last_one) = candidates.last() else {
                    break;
                };
                after = last_one.order.order_no.clone();
                summary.orders_checked += candidates.len();
                let now = tx.now;
                let mut moved = Vec::new();
                let mut unmoved = Vec::new();
                for c in candidates {
                    let order_no = c.order.order_no.clone();
                    match replay(&old_clock, &rules.clock, version, c.order, c.task, now) {
                        Some(r) => moved.push(r),
                        None => unmoved.push(order_no),
                    }
                }
                summary.orders_moved += moved.len();
                let unmoved: Vec<&str> = unmoved.iter().map(String::as_str).collect();
                tx.finish(&moved, &unmoved, version).await?;
            }
        }
        hotline_store::replay::record_applied(&self.pool, version, &new.record()).await?;
        Ok(Some(summary))
    }
}
