//! `hotline bench-alerts`: the SLA scheduler under a realistic load. Not a test.
//!
//! 1. Creates a scratch database next to `HOTLINE_DATABASE_URL`'s (`hotline_bench_<id>`,
//!    dropped at the end unless `--keep`) and fills it, set-based, with `--orders` open
//!    orders (default 1,000,000) and their live timers (one row each, armed for its
//!    warning, then overdue and statutory), due over the next weeks.
//! 2. Prints the plan of the claim query ([`CLAIM_SQL`]), and `EXPLAIN ANALYZE` of one claim
//!    (rolled back): an index scan on `timers_due` that stops at the first row not due.
//! 3. Starts `--schedulers` schedulers (default 2, competing like two engines) and a relay
//!    that publishes to a private exchange (`hotline.bench.alerts`, unbound: the broker
//!    confirms and drops), then moves `--due` armed warnings (default 5,000) to come due over the
//!    next `--window-secs` seconds, as a dispatcher would (UPDATE + NOTIFY).
//! 4. When every alert is published, prints the lag percentiles on the database's clock:
//!    claimed − due (`alerts.fired_at − due_at`) and published − due (the contract's
//!    `hotline_alert_lag_seconds`: `outbox.published_at − origin_at`).

use super::ScratchDatabase;
use anyhow::Context;
use hotline_store::timers::CLAIM_SQL;
use hotline_workers::relay::Relay;
use hotline_workers::scheduler::Scheduler;
use lapin::options::{ExchangeDeclareOptions, ExchangeDeleteOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties, ExchangeKind};
use sqlx::PgPool;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const BENCH_EXCHANGE: &str = "hotline.bench.alerts";

#[derive(clap::Args, Debug, Clone)]
pub struct BenchOptions {
    /// Open orders in the scratch database (one live timer each, three levels).
    #[arg(long, default_value_t = 1_000_000)]
    pub orders: i64,
    /// Timers made to come due during the run.
    #[arg(long, default_value_t = 5_000)]
    pub due: i64,
    /// Seconds over which they come due.
    #[arg(long, default_value_t = 10)]
    pub window_secs: u32,
    /// Schedulers claiming side by side (as several engines would).
    #[arg(long, default_value_t = 2)]
    pub schedulers: usize,
    /// Measure the scheduler alone: no broker, no relay.
    #[arg(long)]
    pub no_relay: bool,
    /// Keep the scratch database afterwards.
    #[arg(long)]
    pub keep: bool,
}

pub async fn run(database_url: &str, amqp_url: &str, options: BenchOptions) -> anyhow::Result<()> {
    anyhow::ensure!(
        options.orders >= 1 && options.due >= 1 && options.due <= options.orders,
        "need 1 <= --due <= --orders"
    );
    let scratch = ScratchDatabase::create(database_url, "hotline_bench").await?;
    let outcome = bench(&scratch.pool, amqp_url, &options).await;
    scratch.finish(options.keep).await?;
    outcome
}

async fn bench(pool: &PgPool, amqp_url: &str, options: &BenchOptions) -> anyhow::Result<()> {
    hotline_store::migrate(pool).await?;
    super::fill_open_orders(
        pool,
        &hotline_core::config::Config::builtin(),
        &super::OpenOrders {
            orders: options.orders,
            // Nothing due in the first hour: the run makes its own timers come due.
            first_warning: "1 hour",
            dispatched_every: 0,
            timers: true,
        },
    )
    .await?;

    println!("\n-- plan of the claim query:");
    let claim = CLAIM_SQL.replace("$1", "500");
    let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("EXPLAIN {claim}")))
        .fetch_all(pool)
        .await?;
    println!("{}", plan.join("\n"));

    let shutdown = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..options.schedulers.max(1) {
        let mut scheduler = Scheduler::new(pool.clone());
        scheduler.exchange = BENCH_EXCHANGE;
        tasks.spawn(scheduler.run(shutdown.clone()));
    }
    let broker = if options.no_relay {
        None
    } else {
        let connection = Connection::connect(amqp_url, ConnectionProperties::default())
            .await
            .context("cannot connect to RabbitMQ (HOTLINE_AMQP_URL); try --no-relay")?;
        let channel = connection.create_channel().await?;
        channel
            .exchange_declare(
                BENCH_EXCHANGE.into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let relay = Relay::new(amqp_url.to_owned(), pool.clone(), Vec::new());
        tasks.spawn(relay.run(shutdown.clone()));
        Some((connection, channel))
    };
    // Let them reach their first sleep.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The claim with nothing due: what every wake-up costs.
    let mut tx = hotline_store::begin(pool).await?;
    let analyzed: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) {claim}"
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.rollback().await?;
    println!("\n-- one claim, nothing due yet (rolled back):");
    println!("{}", analyzed.join("\n"));

    // Spread `due` orders' armed warnings over the window, as dispatchers would write them
    // (their overdue and statutory levels stay a day and more away).
    let step = (options.orders / options.due).max(1);
    let mut tx = hotline_store::begin(pool).await?;
    let moved = sqlx::query(
        "UPDATE timers t SET due_at = now() + interval '2 seconds'
                + (s.k - 1) * ($3::float8 / $2) * interval '1 second'
         FROM (SELECT k, 'BENCH' || lpad((k * $1)::text, 9, '0') AS order_no
               FROM generate_series(1, $2::bigint) AS k) s
         WHERE t.order_no = s.order_no AND t.level = 'warning'",
    )
    .bind(step)
    .bind(options.due)
    .bind(f64::from(options.window_secs))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(hotline_store::TIMERS_NOTIFY_CHANNEL)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    println!(
        "\n{moved} timers come due over {}s, from 2s from now; {} scheduler(s){}",
        options.window_secs,
        options.schedulers.max(1),
        if options.no_relay { "" } else { " and a relay" }
    );

    let started = Instant::now();
    let limit = Duration::from_secs(u64::from(options.window_secs) + 120);
    let done_sql = if options.no_relay {
        "SELECT count(*) FROM alerts"
    } else {
        "SELECT count(*) FROM outbox WHERE kind = 'alert' AND published_at IS NOT NULL"
    };
    loop {
        let done: i64 = sqlx::query_scalar(done_sql).fetch_one(pool).await?;
        if done >= moved as i64 {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < limit,
            "only {done} of {moved} alerts after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    shutdown.cancel();
    while tasks.join_next().await.is_some() {}
    if let Some((connection, channel)) = broker {
        let _ = channel
            .exchange_delete(BENCH_EXCHANGE.into(), ExchangeDeleteOptions::default())
            .await;
        let _ = connection.close(200, "bench done".into()).await;
    }

    let alerts: i64 = sqlx::query_scalar("SELECT count(*) FROM alerts")
        .fetch_one(pool)
        .await?;
    let distinct: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT (order_no, level, due_at)) FROM alerts")
            .fetch_one(pool)
            .await?;
    println!("\n{alerts} alerts, {distinct} distinct (order, level, deadline)");
    anyhow::ensure!(
        alerts == distinct && alerts == moved as i64,
        "alerts lost or doubled"
    );
    print_lag(
        pool,
        "claimed − due   (alerts.fired_at − due_at)",
        "SELECT EXTRACT(EPOCH FROM fired_at - due_at)::float8 AS lag FROM alerts",
    )
    .await?;
    if !options.no_relay {
        print_lag(
            pool,
            "published − due (outbox.published_at − origin_at)",
            "SELECT EXTRACT(EPOCH FROM published_at - origin_at)::float8 AS lag
             FROM outbox WHERE kind = 'alert'",
        )
        .await?;
    }
    Ok(())
}

async fn print_lag(pool: &PgPool, what: &str, sql: &str) -> anyhow::Result<()> {
    let (p50, p90, p99, max): (f64, f64, f64, f64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag),
                    percentile_cont(0.9) WITHIN GROUP (ORDER BY lag),
                    percentile_cont(0.99) WITHIN GROUP (ORDER BY lag),
                    max(lag)
             FROM ({sql}) AS l"
    )))
    .fetch_one(pool)
    .await?;
    println!(
        "{what}: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        p50 * 1e3,
        p90 * 1e3,
        p99 * 1e3,
        max * 1e3
    );
    Ok(())
}
