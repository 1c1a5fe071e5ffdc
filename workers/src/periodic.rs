//! The scheduler's periodic jobs, driven by `cron` expressions (6 fields, seconds first,
//! evaluated in business time, Asia/Shanghai):
//!
//! - the **supervision digest** (督办日报), by default `0 0 8 * * *`: at the start of each
//!   working day (skipped on days off per the business calendar), one message per
//!   department on `hotline.alerts` with routing key `digest.<DEPT>` listing its open
//!   orders past the warning instant or a deadline. Exactly once per department and day
//!   across any number of engines: the `digests` table's primary key decides who sends.
//! - the **repair sweep**, by default `0 */5 * * * *` (and once when the role starts):
//!   re-arms the timers of any open order that has none although some of its deadlines
//!   were never alerted, e.g. timers deleted by hand or lost to a bug. Alerted deadlines
//!   are not re-armed. `hotline repair` runs one sweep from the command line.
//!
//! Both write through the outbox (or the timers table) in one transaction, so a crash
//! never leaves half a job behind. The cron clock is the process's; what is overdue is
//! always decided on the database's clock.

use chrono::{DateTime, NaiveDate, Utc};
use cron::Schedule;
use hotline_dispatcher::order::Order;
use hotline_schema::calendar::BusinessCalendar;
use hotline_schema::config::Config;
use hotline_schema::message::{Digest, DigestOrder};
use hotline_schema::metrics::metrics;
use hotline_schema::outbox::{self, OutboxMessage};
use hotline_schema::sla::{SLA_AT_SQL, SLA_STATE_SQL};
use hotline_schema::{BUSINESS_TZ, TIMERS_NOTIFY_CHANNEL, business_time, topology};
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::str::FromStr;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Orders examined per repair transaction.
const REPAIR_BATCH: i64 = 500;

/// When the periodic jobs run.
#[derive(Debug, Clone)]
pub struct PeriodicSettings {
    pub digest: Schedule,
    pub repair: Schedule,
}

/// The configuration's defaults: the digest at 08:00 every (working) day, the repair
/// sweep every 5 minutes.
impl Default for PeriodicSettings {
    fn default() -> Self {
        let defaults = hotline_schema::config::SchedulerSettings::default();
        PeriodicSettings::parse(&defaults.digest_cron, &defaults.repair_cron)
            .expect("the default schedules are valid")
    }
}

impl PeriodicSettings {
    /// Parses two cron expressions (`sec min hour day-of-month month day-of-week [year]`).
    pub fn parse(digest: &str, repair: &str) -> Result<PeriodicSettings, String> {
        let parse = |what: &str, expression: &str| {
            Schedule::from_str(expression).map_err(|e| {
                format!("{what} schedule {expression:?} is not a cron expression: {e}")
            })
        };
        Ok(PeriodicSettings {
            digest: parse("digest", digest)?,
            repair: parse("repair", repair)?,
        })
    }
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Job {
    Digest,
    Repair,
}

/// The periodic jobs of the scheduler role.
pub struct Periodic {
    pub pool: PgPool,
    pub calendar: BusinessCalendar,
    /// Every department of the catalog gets a digest, even with nothing to chase.
    pub departments: Vec<String>,
    pub settings: PeriodicSettings,
}

impl Periodic {
    /// The jobs for `config`'s catalog, calendar and `[scheduler]` schedules.
    pub fn from_config(pool: PgPool, config: &Config) -> anyhow::Result<Periodic> {
        Ok(Periodic {
            pool,
            calendar: hotline_schema::sla::calendar_from(&config.calendar)?,
            departments: config.departments.iter().map(|d| d.code.clone()).collect(),
            settings: PeriodicSettings::parse(
                &config.scheduler.digest_cron,
                &config.scheduler.repair_cron,
            )
            .map_err(anyhow::Error::msg)?,
        })
    }

    /// Runs until `shutdown` is cancelled. A failed job is logged and tried again at its
    /// next time; it never stops the others.
    pub async fn run(self, shutdown: CancellationToken) {
        // Timers may have been lost while no scheduler ran: look once at start.
        self.run_job(Job::Repair, Utc::now()).await;
        let mut last: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
        loop {
            let now = Utc::now();
            let next = [
                (Job::Digest, &self.settings.digest, "digest"),
                (Job::Repair, &self.settings.repair, "repair"),
            ]
            .into_iter()
            .filter_map(|(job, schedule, name)| {
                // Never the same fire time twice, even if the clock steps back.
                let from = last.get(name).map_or(now, |l| (*l).max(now));
                next_fire(schedule, from).map(|at| (at, job, name))
            })
            .min_by_key(|(at, _, _)| *at);
            let Some((at, job, name)) = next else {
                tracing::warn!("no periodic job has a next run; periodic jobs stop");
                shutdown.cancelled().await;
                return;
            };
            let wait = (at - now).to_std().unwrap_or_default();
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(wait) => {}
            }
            last.insert(name, at);
            self.run_job(job, at).await;
        }
        tracing::info!("periodic jobs stopped");
    }

    async fn run_job(&self, job: Job, at: DateTime<Utc>) {
        match job {
            Job::Digest => {
                let day = business_day(at);
                match send_digests(&self.pool, &self.calendar, &self.departments, day, at).await {
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
                match repair(&self.pool).await {
                    Ok(r) if r.timers > 0 => tracing::warn!(
                        orders = r.orders,
                        timers = r.timers,
                        "repair sweep re-armed timers missing from open orders"
                    ),
                    Ok(_) => tracing::debug!("repair sweep: every open order has its timers"),
                    Err(err) => tracing::warn!(error = %err, "repair sweep failed"),
                }
                match mark_no_shows(&self.pool).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(appointments = n, "appointments marked no-show"),
                    Err(err) => tracing::warn!(error = %err, "no-show sweep failed"),
                }
            }
        }
    }
}

/// What a repair sweep re-armed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Repaired {
    pub orders: usize,
    pub timers: usize,
}

/// Open orders with no live timer although some deadline of theirs was never alerted, in
/// `order_no` order after `$1`. Locked, skipping any a dispatcher is writing (it rewrites
/// their timers itself). The orders without timers are found first (one anti-join of
/// orders and timers: about 2.5 s for a million open orders), and only those are checked
/// against `alerts`. The deadline test here only narrows the search; the timers come from
/// [`Order::timers`], the dispatcher's own rule.
const REPAIR_CANDIDATES_SQL: &str = "WITH bare AS MATERIALIZED (
         SELECT o.order_no FROM orders o
         WHERE o.state IN ('dispatched', 'accepted') AND o.paused_at IS NULL
           AND o.order_no > $1
           AND NOT EXISTS (SELECT 1 FROM timers t WHERE t.order_no = o.order_no))
     SELECT o.* FROM orders o JOIN bare USING (order_no)
     WHERE o.state IN ('dispatched', 'accepted') AND o.paused_at IS NULL
       AND EXISTS (
           SELECT 1 FROM (VALUES
               ('sign_overdue', CASE WHEN o.state = 'dispatched' THEN o.sign_due_at END),
               ('warning', o.warning_due_at),
               ('overdue', o.committed_due_at),
               ('statutory_overdue', o.statutory_due_at)) AS d(level, due_at)
           WHERE d.due_at IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.order_no = o.order_no
                                 AND a.level = d.level AND a.due_at = d.due_at))
     ORDER BY o.order_no
     LIMIT $2
     FOR UPDATE OF o SKIP LOCKED";

/// One repair sweep over every open order, a batch per transaction.
/// Marks every appointment still only booked after its slot's day (business time) ended
/// as a no-show, with a timeline entry; returns how many. Idempotent: a marked
/// appointment is no longer `booked`. A late check-in is still accepted afterwards.
pub async fn mark_no_shows(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let marked: i64 = sqlx::query_scalar(
        "WITH marked AS (
             UPDATE appointments
             SET state = 'no_show', version = version + 1, updated_at = now()
             WHERE state = 'booked'
               AND slot_start < (date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai')
                                 AT TIME ZONE 'Asia/Shanghai')
             RETURNING order_no, slot_start),
         recorded AS (
             INSERT INTO order_events (order_no, event_id, event_type, actor, occurred_at, detail)
             SELECT order_no, gen_random_uuid(), 'appointment.no_show', 'engine', now(),
                    jsonb_build_object('slot_start', slot_start,
                                       'effect', jsonb_build_object('state', 'no_show'))
             FROM marked
             RETURNING 1)
         SELECT count(*) FROM recorded",
    )
    .fetch_one(pool)
    .await?;
    Ok(marked as u64)
}

pub async fn repair(pool: &PgPool) -> Result<Repaired, sqlx::Error> {
    let mut total = Repaired::default();
    let mut cursor = String::new();
    loop {
        let mut tx = pool.begin().await?;
        // A sweep is one big scan: compiling it (JIT) costs more than it saves.
        sqlx::query("SET LOCAL jit = off").execute(&mut *tx).await?;
        let orders: Vec<Order> = sqlx::query_as(REPAIR_CANDIDATES_SQL)
            .bind(&cursor)
            .bind(REPAIR_BATCH)
            .fetch_all(&mut *tx)
            .await?;
        let Some(last) = orders.last() else {
            tx.rollback().await?;
            break;
        };
        cursor = last.order_no.clone();
        let mut order_nos = Vec::new();
        let mut levels = Vec::new();
        let mut due = Vec::new();
        let mut departments = Vec::new();
        for order in &orders {
            for (level, due_at) in order.timers() {
                order_nos.push(order.order_no.as_str());
                levels.push(level);
                due.push(due_at);
                departments.push(order.department.as_str());
            }
        }
        // Alerted deadlines stay alerted; an order another sweep re-armed meanwhile is left.
        let armed: Vec<String> = sqlx::query_scalar(
            "INSERT INTO timers (order_no, level, due_at, department)
             SELECT r.order_no, r.level, r.due_at, r.department
             FROM UNNEST($1::text[], $2::text[], $3::timestamptz[], $4::text[])
                 AS r(order_no, level, due_at, department)
             WHERE NOT EXISTS (SELECT 1 FROM alerts a WHERE a.order_no = r.order_no
                                   AND a.level = r.level AND a.due_at = r.due_at)
               AND NOT EXISTS (SELECT 1 FROM timers t WHERE t.order_no = r.order_no)
             ON CONFLICT DO NOTHING
             RETURNING order_no",
        )
        .bind(&order_nos)
        .bind(&levels)
        .bind(&due)
        .bind(&departments)
        .fetch_all(&mut *tx)
        .await?;
        if !armed.is_empty() {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(TIMERS_NOTIFY_CHANNEL)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        total.orders += armed.iter().collect::<std::collections::HashSet<_>>().len();
        total.timers += armed.len();
        if orders.len() < REPAIR_BATCH as usize {
            break;
        }
    }
    if total.timers > 0 {
        metrics().timers_repaired.inc_by(total.timers as u64);
    }
    Ok(total)
}

/// What a digest run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestOutcome {
    NotAWorkingDay,
    /// Digests sent by this run (0 when another process had sent them).
    Sent(usize),
}

/// One row of the digest query: an open order, with its department's counts.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct DigestRow {
    pub department: String,
    pub order_no: String,
    pub state: String,
    pub sla_state: String,
    pub sign_overdue: bool,
    pub matter_name: Option<String>,
    pub received_at: DateTime<Utc>,
    pub committed_due_at: Option<DateTime<Utc>>,
    pub statutory_due_at: Option<DateTime<Utc>>,
    pub urge_count: i32,
    pub open: i64,
    /// Orders of the department that need chasing (listed or not).
    pub flagged_count: i64,
    pub sign_overdue_count: i64,
    pub warning_count: i64,
    pub overdue_count: i64,
    pub statutory_overdue_count: i64,
}

/// Per department of `$1`: its counts on every row, and its open orders worst first, at
/// most `$2` of them (the first row is there even when nothing needs chasing). The SLA
/// state is the one definition the API and the gauges use ([`SLA_STATE_SQL`]).
fn digest_sql() -> String {
    format!(
        "WITH open AS (
             SELECT department, order_no, state, matter_name, received_at, committed_due_at,
                    statutory_due_at, urge_count, {SLA_STATE_SQL} AS sla_state,
                    COALESCE(state = 'dispatched' AND sign_due_at <= now(), false)
                        AS sign_overdue
             FROM orders {SLA_AT_SQL}
             WHERE state IN ('dispatched', 'accepted') AND paused_at IS NULL
               AND department = ANY($1)
         ), ranked AS (
             SELECT *,
                    count(*) OVER w AS open,
                    count(*) FILTER (WHERE sla_state <> 'on_track' OR sign_overdue) OVER w
                        AS flagged_count,
                    count(*) FILTER (WHERE sign_overdue) OVER w AS sign_overdue_count,
                    count(*) FILTER (WHERE sla_state = 'warning') OVER w AS warning_count,
                    count(*) FILTER (WHERE sla_state = 'overdue') OVER w AS overdue_count,
                    count(*) FILTER (WHERE sla_state = 'statutory_overdue') OVER w
                        AS statutory_overdue_count,
                    row_number() OVER (PARTITION BY department ORDER BY
                        CASE sla_state WHEN 'statutory_overdue' THEN 0 WHEN 'overdue' THEN 1
                                       WHEN 'warning' THEN 2 ELSE 3 END,
                        sign_overdue DESC, committed_due_at, order_no) AS rank
             FROM open
             WINDOW w AS (PARTITION BY department)
         )
         SELECT department, order_no, state, sla_state, sign_overdue, matter_name, received_at,
                committed_due_at, statutory_due_at, urge_count, open, flagged_count,
                sign_overdue_count, warning_count, overdue_count, statutory_overdue_count
         FROM ranked WHERE rank <= $2
         ORDER BY department, rank"
    )
}

/// Sends the supervision digest of `day` for each of `departments` that has not had it
/// yet, in one transaction. Skipped on days off.
pub async fn send_digests(
    pool: &PgPool,
    calendar: &BusinessCalendar,
    departments: &[String],
    day: NaiveDate,
    scheduled_at: DateTime<Utc>,
) -> Result<DigestOutcome, sqlx::Error> {
    if !calendar.is_working_day(day) {
        return Ok(DigestOutcome::NotAWorkingDay);
    }
    let mut tx = pool.begin().await?;
    // Claim first: a second process blocks here until the first commits, then finds
    // every department taken and sends nothing.
    let ids: Vec<Uuid> = departments.iter().map(|_| Uuid::now_v7()).collect();
    let claimed: Vec<(String, Uuid)> = sqlx::query_as(
        "INSERT INTO digests (department, day, digest_id)
         SELECT d, $2, id FROM UNNEST($1::text[], $3::uuid[]) AS r(d, id)
         ON CONFLICT DO NOTHING
         RETURNING department, digest_id",
    )
    .bind(departments)
    .bind(day)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    if claimed.is_empty() {
        tx.rollback().await?;
        return Ok(DigestOutcome::Sent(0));
    }
    let claimed_departments: Vec<&str> = claimed.iter().map(|(d, _)| d.as_str()).collect();
    let rows: Vec<DigestRow> = sqlx::query_as(sqlx::AssertSqlSafe(digest_sql()))
        .bind(&claimed_departments)
        .bind(Digest::MAX_ORDERS as i64)
        .fetch_all(&mut *tx)
        .await?;
    let generated_at: DateTime<Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut *tx)
        .await?;
    let digests = build_digests(&claimed, day, generated_at, &rows);

    let messages: Vec<OutboxMessage> = digests
        .iter()
        .map(|digest| OutboxMessage {
            exchange: topology::ALERTS_EXCHANGE.into(),
            routing_key: format!("digest.{}", digest.department),
            message_id: digest.digest_id.to_string(),
            kind: "digest",
            headers: Default::default(),
            body: serde_json::to_vec(digest).expect("a digest serializes"),
            origin_at: Some(scheduled_at),
            department: Some(digest.department.clone()),
        })
        .collect();
    outbox::enqueue(&mut tx, &messages).await?;
    tx.commit().await?;
    Ok(DigestOutcome::Sent(digests.len()))
}

/// The digest of each claimed department from the query's rows (pure).
pub fn build_digests(
    claimed: &[(String, Uuid)],
    day: NaiveDate,
    generated_at: DateTime<Utc>,
    rows: &[DigestRow],
) -> Vec<Digest> {
    claimed
        .iter()
        .map(|(department, digest_id)| {
            let mine: Vec<&DigestRow> = rows
                .iter()
                .filter(|r| &r.department == department)
                .collect();
            let count = |f: fn(&DigestRow) -> i64| mine.first().map_or(0, |r| f(r));
            let orders: Vec<DigestOrder> = mine
                .iter()
                .filter(|r| r.sla_state != "on_track" || r.sign_overdue)
                .map(|r| DigestOrder {
                    order_no: r.order_no.clone(),
                    state: r.state.clone(),
                    sla_state: r.sla_state.clone(),
                    sign_overdue: r.sign_overdue,
                    matter_name: r.matter_name.clone(),
                    received_at: business_time(r.received_at),
                    committed_due_at: r.committed_due_at.map(business_time),
                    statutory_due_at: r.statutory_due_at.map(business_time),
                    urge_count: r.urge_count,
                })
                .collect();
            Digest {
                digest_id: *digest_id,
                department: department.clone(),
                day: day.format("%Y-%m-%d").to_string(),
                generated_at: business_time(generated_at),
                open: count(|r| r.open),
                sign_overdue: count(|r| r.sign_overdue_count),
                warning: count(|r| r.warning_count),
                overdue: count(|r| r.overdue_count),
                statutory_overdue: count(|r| r.statutory_overdue_count),
                truncated: count(|r| r.flagged_count) > orders.len() as i64,
                orders,
            }
        })
        .collect()
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
        let settings = PeriodicSettings::default();
        // Friday 21:47 in Shanghai: the next digest is Saturday 08:00 there (00:00 UTC).
        let now = business(2026, 11, 27, 21, 47, 44);
        let digest = next_fire(&settings.digest, now).unwrap();
        assert_eq!(digest, business(2026, 11, 28, 8, 0, 0));
        assert_eq!(business_day(digest).to_string(), "2026-11-28");
        // Exactly at a fire time, the next one is the following day's.
        assert_eq!(
            next_fire(&settings.digest, digest).unwrap(),
            business(2026, 11, 29, 8, 0, 0)
        );
        assert_eq!(
            next_fire(&settings.repair, now).unwrap(),
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

    #[test]
    fn bad_schedules_are_refused_with_their_name() {
        let err = PeriodicSettings::parse("0 0 8 * *", "0 */5 * * * *").unwrap_err();
        assert!(err.starts_with("digest schedule \"0 0 8 * *\""), "{err}");
        let err = PeriodicSettings::parse("0 0 8 * * *", "every minute").unwrap_err();
        assert!(err.starts_with("repair schedule"), "{err}");
        assert!(PeriodicSettings::parse("0 0 8 * * Mon-Fri", "*/1 * * * * *").is_ok());
    }

    #[test]
    fn a_digest_lists_what_needs_chasing_worst_first() {
        let at = |h| business(2026, 11, 25, h, 0, 0);
        let row = |dept: &str, no: &str, sla: &str, sign: bool| DigestRow {
            department: dept.into(),
            order_no: no.into(),
            state: "accepted".into(),
            sla_state: sla.into(),
            sign_overdue: sign,
            matter_name: Some("燃气泄漏".into()),
            received_at: at(8),
            committed_due_at: Some(at(9)),
            statutory_due_at: Some(at(10)),
            urge_count: 0,
            open: 4,
            flagged_count: 3,
            sign_overdue_count: 1,
            warning_count: 1,
            overdue_count: 0,
            statutory_overdue_count: 1,
        };
        // As the query returns them: per department, worst first.
        let rows = vec![
            row("A", "1", "statutory_overdue", false),
            row("A", "2", "warning", false),
            row("A", "3", "on_track", true),
            row("A", "4", "on_track", false),
        ];
        let claimed = vec![("A".to_owned(), Uuid::nil()), ("B".to_owned(), Uuid::max())];
        let day = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let digests = build_digests(&claimed, day, at(8), &rows);
        assert_eq!(digests.len(), 2);
        let a = &digests[0];
        assert_eq!((a.department.as_str(), a.day.as_str()), ("A", "2026-11-25"));
        assert_eq!(a.generated_at, "2026-11-25T08:00:00+08:00");
        assert_eq!(
            a.orders
                .iter()
                .map(|o| o.order_no.as_str())
                .collect::<Vec<_>>(),
            ["1", "2", "3"]
        );
        assert_eq!(
            (
                a.open,
                a.sign_overdue,
                a.warning,
                a.overdue,
                a.statutory_overdue
            ),
            (4, 1, 1, 0, 1)
        );
        assert!(!a.truncated);
        assert_eq!(
            a.orders[0].statutory_due_at.as_deref(),
            Some("2026-11-25T10:00:00+08:00")
        );
        // A department with no open order still gets its (empty) digest.
        let b = &digests[1];
        assert_eq!((b.open, b.orders.len(), b.truncated), (0, 0, false));
        assert_eq!(b.digest_id, Uuid::max());
        // Cut at the query's limit: the counts say how many there are.
        let cut = build_digests(&claimed[..1], day, at(8), &rows[..1]);
        assert!(cut[0].truncated);
    }
}
