//! The calendar replay: when the effective calendar changes (a configuration reload, an
//! imported notice), one process moves the deadlines of the open orders that cross a
//! changed day, in batches, and records the calendar as applied. Every process looks
//! every few seconds; an advisory lock lets one of them do it.

use chrono::Days;
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

/// Moves listed in a summary, at most (the counts are complete).
const MOVES_LISTED: usize = 1000;

/// What one replay did (or, dry, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    /// The calendar versions, applied before and now.
    pub from_version: String,
    pub to_version: String,
    pub changed_days: usize,
    pub orders_checked: usize,
    pub orders_moved: usize,
    /// The first [`MOVES_LISTED`] orders moved, by order number.
    pub moves: Vec<Move>,
}

/// One order's deadlines moved by the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub order_no: String,
    pub department: String,
    pub recomputed: hotline_core::replay::Recomputed,
}

/// Whether a replay writes what it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Apply,
    /// Finds and reports the moves, writes nothing and takes no lock.
    DryRun,
}

/// Why a replay found nothing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Idle {
    /// The calendar in force is the one applied.
    UpToDate,
    /// No calendar was recorded yet (a first start): the orders were computed on this one.
    FirstStart,
    /// Another process holds the replay lock.
    Busy,
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
        Ok(self.replay(Mode::Apply).await?.ok())
    }

    /// What the calendar in force does to the open orders, applied or not (`mode`).
    pub async fn replay(&self, mode: Mode) -> Result<Result<ReplaySummary, Idle>, StoreError> {
        let rules = (self.rules)();
        let version = rules.calendar_version.as_str();
        let new = &rules.clock.calendar;
        match hotline_store::replay::applied(&self.pool).await? {
            Some((applied, _)) if applied == version => return Ok(Err(Idle::UpToDate)),
            None if mode == Mode::DryRun => return Ok(Err(Idle::FirstStart)),
            // The first start: nothing to compare with; the orders were computed on it.
            None => {
                hotline_store::replay::record_applied(&self.pool, version, &new.record()).await?;
                return Ok(Err(Idle::FirstStart));
            }
            Some(_) => {}
        }
        if mode == Mode::DryRun {
            return self.replay_under_lock(&rules, mode).await;
        }
        let Some(lock) = ReplayLock::try_take(&self.pool).await? else {
            return Ok(Err(Idle::Busy));
        };
        let outcome = self.replay_under_lock(&rules, mode).await;
        lock.release().await?;
        outcome
    }

    async fn replay_under_lock(
        &self,
        rules: &Rules,
        mode: Mode,
    ) -> Result<Result<ReplaySummary, Idle>, StoreError> {
        let version = rules.calendar_version.as_str();
        let new = &rules.clock.calendar;
        // Read again under the lock: another process may just have finished.
        let Some((from_version, old_record)) = hotline_store::replay::applied(&self.pool).await?
        else {
            return Ok(Err(Idle::FirstStart));
        };
        if from_version == version {
            return Ok(Err(Idle::UpToDate));
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
            let midnight = hotline_core::calendar::start_of_business_day;
            let (first, last) = (
                midnight(*first),
                midnight(last.checked_add_days(Days::new(1)).unwrap_or(*last)),
            );
            let mut after = String::new();
            loop {
                let mut tx = ReplayTx::begin(&self.pool).await?;
                let candidates = tx
                    .candidates(first, last, version, &after, BATCH, mode == Mode::Apply)
                    .await?;
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
                    let sign_limit = rules.sign_limit_of(&c.order);
                    match replay(
                        &old_clock,
                        &rules.clock,
                        sign_limit,
                        version,
                        c.order,
                        c.task,
                        now,
                    ) {
                        Some(r) => moved.push(r),
                        None => unmoved.push(order_no),
                    }
                }
                summary.orders_moved += moved.len();
                let room = MOVES_LISTED.saturating_sub(summary.moves.len());
                summary.moves.extend(moved.iter().take(room).map(|r| Move {
                    order_no: r.order.order_no.clone(),
                    department: r.order.department.clone(),
                    recomputed: r.recomputed.clone(),
                }));
                if mode == Mode::Apply {
                    let unmoved: Vec<&str> = unmoved.iter().map(String::as_str).collect();
                    tx.finish(&moved, &unmoved, version).await?;
                }
            }
        }
        if mode == Mode::Apply {
            hotline_store::replay::record_applied(&self.pool, version, &new.record()).await?;
        }
        Ok(Ok(summary))
    }
}
