//! The scheduler's periodic jobs, driven by the `[scheduler]` cron schedules (6 fields,
//! seconds first, evaluated in business time, Asia/Shanghai):
//!
//! - the **supervision digest** (督办日报), by default `0 0 8 * * *`: at the start of each
//!   working day (skipped on days off per the business calendar), one message per
//!   department on `hotline.alerts` with routing key `digest.<DEPT>` listing its open
//!   orders past the warning instant or a deadline. Exactly once per department and day
//!   across any number of engines (`hotline_store::digest`).
//! - the **repair sweep**, by default `0 */5 * * * *` (and once when the role starts):
//!   re-arms the timers of any open order that has none although some of its deadlines
//!   were never alerted, and marks appointments never checked in as no-shows
//!   (`hotline_store::repair`). `hotline repair` runs one sweep from the command line.
//!
//! The cron clock is the process's; what is overdue is always decided on the database's.

use chrono::{DateTime, NaiveDate, Utc};
use cron::Schedule;
use hotline_core::calendar::{BUSINESS_TZ, BusinessCalendar};
use hotline_core::config::{Config, RetentionSettings, SchedulerSettings};
use hotline_runtime::attachments::AttachmentStore;
use hotline_runtime::health;
use hotline_runtime::metrics::metrics;
use hotline_runtime::supervise::supervise;
use hotline_store::digest::{self, DigestOutcome};
use hotline_store::{PgPool, StoreError, repair, retention};
use tokio_util::sync::CancellationToken;

/// The next instant strictly after `after` at which `schedule` fires, in business time.
pub fn next_fire(schedule: &Schedule, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    schedule
        .after(&after.with_timezone(&BUSINESS_TZ))
        .next()
        .map(|at| at.with_timezone(&Utc))
}

/// The business day a run at `fired` is for: its Asia/Shanghai date.
pub fn business_day(fired: DateTime<Utc>) -> NaiveDate {
    fired.with_timezone(&BUSINESS_TZ).date_naive()
}

/// The longest the periodic jobs sleep before looking at their schedules again.
const LONGEST_SLEEP: std::time::Duration = std::time::Duration::from_secs(3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Job {
    Digest,
    Repair,
    Retention,
}

/// The periodic jobs of the scheduler role.
pub struct Periodic {
    pub pool: PgPool,
    pub calendar: BusinessCalendar,
    /// Every department of the catalog gets a digest, even with nothing to chase.
    pub departments: Vec<String>,
    pub schedules: SchedulerSettings,
    pub retention: RetentionSettings,
    /// Where attachments' files are: retention removes them with the citizen's data.
    pub attachments: AttachmentStore,
}

impl Periodic {
    /// The jobs for `config`'s catalog, calendar and `[scheduler]` schedules.
    pub fn from_config(pool: PgPool, config: &Config, attachments: AttachmentStore) -> Periodic {
        Periodic {
            pool,
            calendar: config.calendar.clone(),
            departments: config.department_codes(),
            schedules: config.scheduler.clone(),
            retention: config.retention.clone(),
            attachments,
        }
    }

    /// Runs until `shutdown` is cancelled. A failed job is logged and tried again at its
    /// next time; it never stops the others.
    pub async fn run(self, shutdown: CancellationToken) {
        let (this, stop) = (&self, &shutdown);
        supervise("periodic", &shutdown, || this.jobs(stop)).await;
    }

    async fn jobs(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        // Timers may have been lost while no scheduler ran: look once at start.
        self.run_job(Job::Repair, self.now().await).await;
        let jobs = [
            (Job::Digest, &self.schedules.digest),
            (Job::Repair, &self.schedules.repair),
            (Job::Retention, &self.schedules.retention),
        ];
        let now = self.now().await;
        let mut next: Vec<Option<DateTime<Utc>>> =
            jobs.iter().map(|(_, s)| next_fire(s, now)).collect();
        loop {
            let Some(earliest) = next.iter().flatten().min().copied() else {
                tracing::warn!("no periodic job has a next run; periodic jobs stop");
                shutdown.cancelled().await;
                return Ok(());
            };
            // Sleep at most an hour at a time: a far-off schedule (or a clock that moved)
            // is looked at again rather than trusted for months.
            let wait = (earliest - self.now().await).to_std().unwrap_or_default();
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(wait.min(LONGEST_SLEEP)) => {}
            }
            health::progress("periodic");
            if wait > LONGEST_SLEEP {
                continue;
            }
            // Every job due now runs, in turn (jobs on the same schedule all run), and its
            // next time is after both this one and the clock: never the same fire twice,
            // even if the clock steps back, and no pile-up after a long job.
            for ((job, schedule), due) in jobs.iter().zip(next.iter_mut()) {
                let Some(at) = *due else { continue };
                if at <= earliest {
                    self.run_job(*job, at).await;
                    *due = next_fire(schedule, at.max(self.now().await));
                }
            }
        }
        Ok(())
    }

    /// Now on the database's clock, the one deadlines and digests are kept on (the host's
    /// may be off); the host's while the database does not answer (the jobs then fail and
    /// are tried again at their next time anyway).
    async fn now(&self) -> DateTime<Utc> {
        hotline_store::database_now(&self.pool)
            .await
            .unwrap_or_else(|_| Utc::now())
    }

    async fn run_job(&self, job: Job, at: DateTime<Utc>) {
        match job {
            Job::Digest => {
                let day = business_day(at);
                match self.send_digests(day, at).await {
                    Ok(DigestOutcome::NotAWorkingDay) => {
                        tracing::info!(%day, "no supervision digest on a day off");
                    }
                    Ok(DigestOutcome::Sent(n)) => {
                        tracing::info!(%day, departments = n, "supervision digests sent");
                    }
                    Err(err) => tracing::warn!(%day, error = %err, "supervision digest failed"),
                }
            }
            Job::Repair => {
                match repair_timers(&self.pool).await {
                    Ok(r) if r.timers > 0 => tracing::warn!(
                        orders = r.orders,
                        timers = r.timers,
                        "repair sweep re-armed timers missing from open orders"
                    ),
                    Ok(_) => tracing::debug!("repair sweep: every open order has its timers"),
                    Err(err) => tracing::warn!(error = %err, "repair sweep failed"),
                }
                match repair::mark_no_shows(&self.pool).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(appointments = n, "appointments marked no-show"),
                    Err(err) => tracing::warn!(error = %err, "no-show sweep failed"),
                }
            }
            Job::Retention => {
                match sweep_retention(&self.pool, &self.retention, &self.attachments).await {
                    Ok(swept) => tracing::info!(
                        outbox = swept.outbox,
                        processed_keys = swept.processed_keys,
                        rejected_events = swept.rejected_events,
                        citizen_data = swept.citizen_data,
                        attachments = swept.attachments,
                        "retention sweep done"
                    ),
                    Err(err) => tracing::warn!(error = %err, "retention sweep failed"),
                }
            }
        }
    }

    /// The digests of `day` not sent yet (none on a day off).
    pub async fn send_digests(
        &self,
        day: NaiveDate,
        scheduled_at: DateTime<Utc>,
    ) -> Result<DigestOutcome, StoreError> {
        digest::send_digests(
            &self.pool,
            &self.calendar,
            &self.departments,
            day,
            scheduled_at,
        )
        .await
    }
}

/// Removes the attachments of orders whose citizen data retention erases: each file, then
/// the rows of the files removed. A file the storage will not remove stops the sweep (its
/// row stays, to be tried at the next), so that a broken storage is not walked for ever.
async fn sweep_attachments(
    pool: &PgPool,
    days: u32,
    attachments: &AttachmentStore,
) -> Result<u64, StoreError> {
    const BATCH: i64 = 200;
    let mut removed = 0;
    loop {
        let expired = hotline_store::attachments::expired(pool, days, BATCH).await?;
        let mut gone = Vec::with_capacity(expired.len());
        let mut failed = false;
        for attachment in &expired {
            let Some(key) = &attachment.object_key else {
                // A recording's reference: no file to remove.
                gone.push(attachment.id);
                continue;
            };
            match attachments.delete(key).await {
                Ok(()) => gone.push(attachment.id),
                Err(err) => {
                    tracing::warn!(error = %err, "retention could not remove an attachment's file");
                    failed = true;
                    break;
                }
            }
        }
        removed += hotline_store::attachments::forget(pool, &gone).await?;
        if failed || (expired.len() as i64) < BATCH {
            return Ok(removed);
        }
    }
}

/// One retention sweep, counted in `hotline_retention_removed_total`.
pub async fn sweep_retention(
    pool: &PgPool,
    settings: &RetentionSettings,
    attachments: &AttachmentStore,
) -> Result<retention::Swept, StoreError> {
    let mut swept = retention::sweep(pool, settings).await?;
    if let Some(days) = settings.citizen_data_days {
        swept.attachments = sweep_attachments(pool, days, attachments).await?;
    }
    let m = metrics();
    for (kind, n) in [
        ("outbox", swept.outbox),
        ("processed_keys", swept.processed_keys),
        ("rejected_events", swept.rejected_events),
        ("citizen_data", swept.citizen_data),
        ("attachments", swept.attachments),
    ] {
        m.retention_removed.with_label_values(&[kind]).inc_by(n);
    }
    Ok(swept)
}

/// One repair sweep, counted in `hotline_timers_repaired_total`.
pub async fn repair_timers(pool: &PgPool) -> Result<repair::Repaired, StoreError> {
    let repaired = repair::repair_timers(pool).await?;
    if repaired.timers > 0 {
        metrics().timers_repaired.inc_by(repaired.timers as u64);
    }
    Ok(repaired)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn business(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
        BUSINESS_TZ
            .with_ymd_and_hms(y, m, d, h, min, s)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn schedules_run_in_business_time() {
        let schedules = SchedulerSettings::default();
        // Friday 21:47 in Shanghai: the next digest is Saturday 08:00 there (00:00 UTC).
        let now = business(2026, 11, 27, 21, 47, 44);
        let digest = next_fire(&schedules.digest, now).unwrap();
        assert_eq!(digest, business(2026, 11, 28, 8, 0, 0));
        assert_eq!(business_day(digest).to_string(), "2026-11-28");
        // Exactly at a fire time, the next one is the following day's.
        assert_eq!(
            next_fire(&schedules.digest, digest).unwrap(),
            business(2026, 11, 29, 8, 0, 0)
        );
        assert_eq!(
            next_fire(&schedules.repair, now).unwrap(),
            business(2026, 11, 27, 21, 50, 0)
        );
        // 07:59:59 UTC+8 is the previous UTC day: the business day is the local date.
        assert_eq!(
            business_day(business(2026, 11, 30, 7, 59, 59)).to_string(),
            "2026-11-30"
        );
    }

    #[test]
    fn digests_skip_days_off() {
        let calendar = BusinessCalendar::china_default();
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        for (date, working) in [
            ("2026-11-27", true),  // Friday
            ("2026-11-28", false), // Saturday
            ("2026-10-01", false), // National Day
            ("2026-10-07", false),
            ("2026-10-10", true),  // make-up Saturday (调休)
            ("2026-09-20", true),  // make-up Sunday
            ("2026-02-17", false), // Spring Festival
        ] {
            assert_eq!(calendar.is_working_day(day(date)), working, "{date}");
        }
    }
}
