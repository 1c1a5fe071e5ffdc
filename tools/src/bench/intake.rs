//! `hotline bench-intake`: intake throughput, dispatch latency and memory against two bare
//! pipelines of the same machine, measured in the same run, on the same messages. Not a
//! test: it prints figures.
//!
//! On a scratch database (and, with `--preload N`, again on a second one filled first
//! with `N` orders of history, see [`super::history`]), with `n` realistic
//! `complaint.received` bodies (one in forty from one building manager's phone, one in a
//! hundred from a frequent caller):
//!
//! 1. **Bare ceiling**: the bodies consumed in batches (the engine's `[intake]` sizes:
//!    ≤256 or 5 ms, prefetch 1024), one multi-row INSERT (UNNEST) and one multiple-ack
//!    per batch — the best a consumer that stores what it takes can do here.
//! 2. **Bare same-shape pipeline**: consume → INSERT → commit → publish every row with
//!    confirms → mark them sent → ack multiple, one batch at a time: the engine's shape
//!    without its rules, its tables and its overlap of intake and relay.
//! 3. **The engine**, end to end: the bodies published as a backlog, then `hotline serve
//!    --roles intake,relay` started as a child process; timed from its start until every
//!    order is stored and every task confirmed by the broker. Then, still running, it is
//!    offered `--rate` events/s for `--latency-seconds`: the dispatch latency (consumed →
//!    task confirmed, and published → task confirmed) at that rate. Its peak RSS is the
//!    child's `VmHWM`. The rows written per event, and the buffers each table and its
//!    indexes touched, come from `pg_stat_user_tables` / `pg_statio_user_tables`.
//!
//! Runs in the virtual host of `HOTLINE_AMQP_URL`, which must not hold a backlog of its
//! own (`scripts/bench` makes a fresh one).

use super::bare::{consume_and_store, declare_durable, publish_all, publish_paced, same_shape};
use super::cost::{Cpu, TableDelta, deltas, table_stats};
use super::{ScratchDatabase, history};
use crate::simulate::Plan;
use anyhow::Context;
use chrono::{DateTime, Utc};
use hotline_core::config::{Config, DEFAULT_CONFIG_TOML};
use hotline_runtime::settings::Settings;
use hotline_schema::body::EventBody;
use hotline_schema::event::{EventType, InboundEvent};
use hotline_schema::topology;
use lapin::options::{
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions, QueuePurgeOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub(super) const CEILING_QUEUE: &str = "hotline.bench.ceiling";
pub(super) const SHAPED_IN_QUEUE: &str = "hotline.bench.shaped.in";
pub(super) const SHAPED_OUT_QUEUE: &str = "hotline.bench.shaped.out";

#[derive(clap::Args, Debug, Clone)]
pub struct IntakeBenchOptions {
    /// Messages in each pipeline (the backlog).
    #[arg(long, default_value_t = 20_000)]
    pub count: u64,
    /// Intake consumers in the engine (`[intake] consumers`).
    #[arg(long, default_value_t = 1)]
    pub consumers: usize,
    /// The offered rate of the latency measurement, events per second.
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// How long the latency measurement offers `--rate`.
    #[arg(long, default_value_t = 10)]
    pub latency_seconds: u64,
    /// Also measure on a second scratch database first filled with this many orders of
    /// history (open and closed, timelines, dispatches, alerts, many callers, some
    /// frequent), and print the ratio to the empty database.
    #[arg(long)]
    pub preload: Option<i64>,
    /// Keep the scratch databases afterwards.
    #[arg(long)]
    pub keep: bool,
    /// Measure on this database, a history a `--preload … --keep` run kept, instead of
    /// filling one (it is kept again; each run adds its own orders to it).
    #[arg(long, value_name = "DATABASE", conflicts_with = "preload")]
    pub history_database: Option<String>,
}

/// What one measurement found.
struct Figures {
    label: String,
    publish: f64,
    ceiling: f64,
    shaped: f64,
    engine: f64,
    engine_stored: f64,
    started_consuming: Duration,
    mean_batch: f64,
    latency_consumed: (f64, f64),
    latency_published: (f64, f64),
    latency_samples: usize,
    offered: f64,
    rss_peak_kib: Option<u64>,
    tables: Vec<TableDelta>,
    events_written: u64,
    /// CPU seconds over the engine's run: the engine, its PostgreSQL backends, RabbitMQ,
    /// and every other PostgreSQL process (WAL writer, checkpointer, other databases).
    cpu: Cpu,
}

pub async fn run(settings: &Settings, options: IntakeBenchOptions) -> anyhow::Result<()> {
    let config = Config::builtin();
    let config_dir = write_config(options.consumers)?;
    // One seed for every run, so that runs compare on the same messages; but a kept
    // history already holds the orders of that seed (their numbers carry its run tag).
    let seed = match options.history_database {
        Some(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs(),
        None => 7,
    };
    let mut plan = Plan::Complaints {
        count: options.count + (options.rate * options.latency_seconds as f64) as u64,
    }
    .events(&config, seed)?;
    for (i, event) in plan.iter_mut().enumerate() {
        *event = callers(i, event);
    }
    let paced = plan.split_off(options.count as usize);
    let backlog: Vec<Vec<u8>> = plan.iter().map(InboundEvent::to_bytes).collect();
    let mean_body = backlog.iter().map(Vec::len).sum::<usize>() / backlog.len().max(1);
    println!(
        "{} complaints of {mean_body} bytes on average; {} more at {}/s for latency",
        backlog.len(),
        paced.len(),
        options.rate
    );

    // The history first, so that its checkpoints are behind us when measuring.
    // (clap refuses --preload with --history-database)
    let preloaded = match (options.preload, &options.history_database) {
        (Some(n), _) => {
            let scratch =
                ScratchDatabase::create(&settings.database_url, "hotline_bench_history").await?;
            hotline_store::migrate(&scratch.pool).await?;
            println!("filling {n} orders of history:");
            // A fill that fails leaves no ten-gigabyte database behind.
            if let Err(e) = history::fill(&scratch.pool, &config, n).await {
                scratch.finish(options.keep).await?;
                return Err(e);
            }
            Some((n, scratch))
        }
        (None, Some(name)) => {
            let kept = ScratchDatabase::reuse(&settings.database_url, name).await?;
            hotline_store::migrate(&kept.pool).await?;
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
                .fetch_one(&kept.pool)
                .await?;
            Some((n, kept))
        }
        (None, None) => None,
    };

    let mut all = Vec::new();
    let scratch = ScratchDatabase::create(&settings.database_url, "hotline_bench_intake").await?;
    hotline_store::migrate(&scratch.pool).await?;
    let outcome = measure(
        "empty database",
        &scratch,
        settings,
        &config,
        &config_dir,
        &backlog,
        &paced,
        &options,
    )
    .await;
    scratch.finish(options.keep).await?;
    all.push(outcome?);
    if let Some((n, scratch)) = preloaded {
        let outcome = measure(
            &format!("{n} orders preloaded"),
            &scratch,
            settings,
            &config,
            &config_dir,
            &backlog,
            &paced,
            &options,
        )
        .await;
        scratch
            .finish(options.keep || options.history_database.is_some())
            .await?;
        all.push(outcome?);
    }
    let _ = std::fs::remove_dir_all(&config_dir);
    summary(&all);
    Ok(())
}

/// One in forty complaints from the building manager (each at another address, so none is
/// a duplicate), one in a hundred from a frequent caller: the callers a preloaded history
/// holds many open orders of.
fn callers(i: usize, event: &InboundEvent) -> InboundEvent {
    let mut body = event.body.clone();
    if let EventBody::ComplaintReceived(complaint) = &mut body {
        if i % 40 == 7 {
            complaint.citizen.phone = Some(history::HOT_PHONE.into());
            complaint.address = Some(format!("君山路B{i}号"));
        } else if i % 100 == 3 {
            let caller = i / 100 % history::FREQUENT_CALLERS as usize;
            complaint.citizen.phone = Some(format!("{}{caller:02}", history::FREQUENT_PREFIX));
        }
    }
    InboundEvent::new(event.envelope.clone(), body)
}

/// The built-in catalog with `[intake] consumers`, in a directory of its own (the engine
/// child reads it, and its `calendar.d` beside it).
fn write_config(consumers: usize) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "hotline-bench-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    ));
    std::fs::create_dir_all(&dir)?;
    let text = format!("{DEFAULT_CONFIG_TOML}\n[intake]\nconsumers = {consumers}\n");
    std::fs::write(dir.join("hotline.toml"), text)?;
    Ok(dir)
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    label: &str,
    scratch: &ScratchDatabase,
    settings: &Settings,
    config: &Config,
    config_dir: &std::path::Path,
    backlog: &[Vec<u8>],
    paced: &[InboundEvent],
    options: &IntakeBenchOptions,
) -> anyhow::Result<Figures> {
    println!("\n== {label}");
    let pool = &scratch.pool;
    let n = backlog.len() as u64;
    let intake_settings = &config.intake;
    let connection = Connection::connect(&settings.amqp_url, ConnectionProperties::default())
        .await
        .context("cannot connect to RabbitMQ (HOTLINE_AMQP_URL)")?;
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    for queue in [CEILING_QUEUE, SHAPED_IN_QUEUE, SHAPED_OUT_QUEUE] {
        declare_durable(&channel, queue).await?;
    }

    // 1. The bare ceiling.
    let started = Instant::now();
    publish_all(&channel, "", CEILING_QUEUE, backlog.iter().cloned()).await?;
    let publish = n as f64 / started.elapsed().as_secs_f64();
    sqlx::query("CREATE TABLE bench_ceiling (id bigserial PRIMARY KEY, body bytea NOT NULL)")
        .execute(pool)
        .await?;
    let started = Instant::now();
    consume_and_store(&connection, pool, n, intake_settings).await?;
    let ceiling = n as f64 / started.elapsed().as_secs_f64();
    println!("  bare ceiling: {ceiling:.0}/s (publish {publish:.0}/s)");

    // 2. The bare same-shape pipeline.
    publish_all(&channel, "", SHAPED_IN_QUEUE, backlog.iter().cloned()).await?;
    sqlx::query(
        "CREATE TABLE bench_shaped (id bigserial PRIMARY KEY, body bytea NOT NULL,
                                    sent_at timestamptz)",
    )
    .execute(pool)
    .await?;
    let started = Instant::now();
    same_shape(&connection, pool, n, intake_settings).await?;
    let shaped = n as f64 / started.elapsed().as_secs_f64();
    println!("  bare same-shape pipeline: {shaped:.0}/s");
    for queue in [CEILING_QUEUE, SHAPED_IN_QUEUE, SHAPED_OUT_QUEUE] {
        channel
            .queue_delete(queue.into(), QueueDeleteOptions::default())
            .await?;
    }
    sqlx::query("DROP TABLE bench_ceiling, bench_shaped")
        .execute(pool)
        .await?;

    // 3. The engine, on the same bodies as a backlog.
    let departments = config.department_codes();
    hotline_runtime::amqp::declare(&channel, &departments).await?;
    let intake = channel
        .queue_declare(
            topology::INTAKE_QUEUE.into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    anyhow::ensure!(
        intake.message_count() == 0,
        "{} already holds {} messages: run in a fresh virtual host (scripts/bench makes one)",
        topology::INTAKE_QUEUE,
        intake.message_count()
    );
    publish_all(
        &channel,
        topology::EVENTS_EXCHANGE,
        EventType::ComplaintReceived.as_str(),
        backlog.iter().cloned(),
    )
    .await?;
    let last_order = order_no_of(backlog.last().expect("a backlog"))?;
    let outbox_before: i64 = sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM outbox")
        .fetch_one(pool)
        .await?;
    let stats_before = table_stats(pool).await?;

    let cpu_before = Cpu::sample(&scratch.name, None);
    let started = Instant::now();
    let mut engine = Engine::spawn(settings, &scratch.url, config_dir)?;
    let mut started_consuming = None;
    let mut stored = None;
    loop {
        let (any, last, pending): (bool, bool, bool) = sqlx::query_as(
            // max(id), not EXISTS (… id > $1): a generic plan of the latter scans the
            // whole outbox from its oldest row.
            "SELECT coalesce((SELECT max(id) FROM outbox), 0) > $1,
                    EXISTS (SELECT 1 FROM orders WHERE order_no = $2),
                    EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL AND failed_at IS NULL)",
        )
        .bind(outbox_before)
        .bind(&last_order)
        .fetch_one(pool)
        .await?;
        if any && started_consuming.is_none() {
            started_consuming = Some(started.elapsed());
        }
        if last && stored.is_none() {
            stored = Some(started.elapsed());
        }
        if last && !pending {
            break;
        }
        engine.check()?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed();
    let engine_rate = n as f64 / elapsed.as_secs_f64();
    let stored = stored.unwrap_or(elapsed);
    let (tasks, transactions): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT created_at) FROM outbox WHERE id > $1 AND kind = 'task'",
    )
    .bind(outbox_before)
    .fetch_one(pool)
    .await?;
    println!(
        "  engine: {engine_rate:.0}/s end to end ({:.0}/s stored)",
        n as f64 / stored.as_secs_f64()
    );

    // Latency at a fixed offered rate, on the running engine.
    let outbox_before_paced: i64 = sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM outbox")
        .fetch_one(pool)
        .await?;
    let (offered, published_at) = publish_paced(&channel, paced, options.rate).await?;
    let last_paced = paced
        .last()
        .map(|e| e.envelope.order_no.as_str().to_owned())
        .unwrap_or_default();
    loop {
        let (last, pending): (bool, bool) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM orders WHERE order_no = $1),
                    EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL AND failed_at IS NULL)",
        )
        .bind(&last_paced)
        .fetch_one(pool)
        .await?;
        if last_paced.is_empty() || (last && !pending) {
            break;
        }
        engine.check()?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rss_peak_kib = engine.peak_rss_kib();
    let cpu = Cpu::sample(&scratch.name, engine.child.id()).minus(&cpu_before);
    engine.stop().await?;
    let rows: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT d.order_no, o.origin_at, o.published_at
         FROM outbox o JOIN dispatches d ON d.task_id = o.message_id::uuid
         WHERE o.id > $1 AND o.kind = 'task'",
    )
    .bind(outbox_before_paced)
    .fetch_all(pool)
    .await?;
    let mut consumed = Vec::with_capacity(rows.len());
    let mut end_to_end = Vec::with_capacity(rows.len());
    for (order_no, origin, confirmed) in &rows {
        consumed.push(seconds(*confirmed - *origin));
        if let Some(sent) = published_at.get(order_no) {
            end_to_end.push(seconds(*confirmed - *sent));
        }
    }
    // Statistics reach the views when the engine's connections have closed.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stats_after = table_stats(pool).await?;
    let tables = deltas(&stats_before, &stats_after);
    for department in &departments {
        let _ = channel
            .queue_purge(
                topology::task_queue(department).as_str().into(),
                QueuePurgeOptions::default(),
            )
            .await;
    }
    let _ = connection.close(200, "bench".into()).await;

    Ok(Figures {
        label: label.to_owned(),
        publish,
        ceiling,
        shaped,
        engine: engine_rate,
        engine_stored: n as f64 / stored.as_secs_f64(),
        started_consuming: started_consuming.unwrap_or(elapsed),
        mean_batch: tasks as f64 / transactions.max(1) as f64,
        latency_consumed: percentiles(&mut consumed),
        latency_published: percentiles(&mut end_to_end),
        latency_samples: consumed.len(),
        offered,
        rss_peak_kib,
        tables,
        events_written: n + paced.len() as u64,
        cpu,
    })
}

fn summary(all: &[Figures]) {
    for f in all {
        println!("\nintake benchmark, {}:", f.label);
        let line = |what: &str, rate: f64| println!("  {what:<66} {rate:>8.0} events/s");
        line("publish (≤1024 unconfirmed)", f.publish);
        line(
            "(a) bare ceiling: consume → batch INSERT → ack multiple",
            f.ceiling,
        );
        line(
            "(b) bare same shape: consume → INSERT → commit → publish+confirm → mark → ack",
            f.shaped,
        );
        line("(c) engine end to end (every task confirmed)", f.engine);
        line("    of which every order stored", f.engine_stored);
        println!(
            "  engine / (a) ceiling: {:.2}   engine / (b) same shape: {:.2}",
            f.engine / f.ceiling,
            f.engine / f.shaped
        );
        println!(
            "  engine: consuming {:.2}s after its start; mean intake batch {:.0}; peak RSS {}",
            f.started_consuming.as_secs_f64(),
            f.mean_batch,
            f.rss_peak_kib.map_or("unknown".to_owned(), |k| format!(
                "{:.1} MiB",
                k as f64 / 1024.0
            ))
        );
        println!(
            "  dispatch latency at {:.0} events/s offered ({} tasks): consumed → confirmed p50 {:.1} ms \
             p99 {:.1} ms; published → confirmed p50 {:.1} ms p99 {:.1} ms",
            f.offered,
            f.latency_samples,
            f.latency_consumed.0 * 1e3,
            f.latency_consumed.1 * 1e3,
            f.latency_published.0 * 1e3,
            f.latency_published.1 * 1e3
        );
        let per_k = |s: f64| s * 1000.0 / f.events_written.max(1) as f64;
        println!(
            "  CPU seconds per 1000 events: engine {:.3}, its PostgreSQL backends {:.3}, \
             RabbitMQ {:.3}, other PostgreSQL processes {:.3}",
            per_k(f.cpu.engine),
            per_k(f.cpu.backends),
            per_k(f.cpu.broker),
            per_k(f.cpu.other_postgres)
        );
        println!(
            "  per event ({} events): rows written, index entries, buffers touched (hit + read):",
            f.events_written
        );
        let per = |x: i64| x as f64 / f.events_written.max(1) as f64;
        let mut total = (0, 0, 0);
        for t in &f.tables {
            let entries = t.index_entries();
            println!(
                "    {:<18} ins {:>5.2} upd {:>5.2} (hot {:>5.2}) del {:>5.2}  index entries {:>5.2}  buffers {:>6.1} (read {:>5.1})  scans: seq {} index {}",
                t.name,
                per(t.inserted),
                per(t.updated),
                per(t.hot_updated),
                per(t.deleted),
                per(entries),
                per(t.buffers_hit + t.buffers_read),
                per(t.buffers_read),
                t.seq_scans,
                t.index_scans
            );
            total.0 += t.inserted + t.updated + t.deleted;
            total.1 += entries;
            total.2 += t.buffers_hit + t.buffers_read;
        }
        println!(
            "    {:<18} rows {:>5.2}  index entries {:>5.2}  buffers {:>6.1}",
            "total",
            per(total.0),
            per(total.1),
            per(total.2)
        );
    }
    if let [empty, preloaded, ..] = all {
        println!(
            "\n{} / empty database: engine {:.2}, stored {:.2}; the bare same shape on each: {:.2}",
            preloaded.label,
            preloaded.engine / empty.engine,
            preloaded.engine_stored / empty.engine_stored,
            preloaded.shaped / empty.shaped
        );
    }
}

/// The engine as a child process: `hotline serve --roles intake,relay` on the scratch
/// database, so that its memory is its own.
struct Engine {
    child: tokio::process::Child,
}

impl Engine {
    fn spawn(
        settings: &Settings,
        database_url: &str,
        config_dir: &std::path::Path,
    ) -> anyhow::Result<Engine> {
        let child = tokio::process::Command::new(std::env::current_exe()?)
            .args(["serve", "--roles", "intake,relay"])
            .env("HOTLINE_DATABASE_URL", database_url)
            .env("HOTLINE_AMQP_URL", &settings.amqp_url)
            .env("HOTLINE_CONFIG", config_dir.join("hotline.toml"))
            .env_remove("HOTLINE_METRICS_ADDR")
            .kill_on_drop(true)
            .spawn()
            .context("starting the engine")?;
        Ok(Engine { child })
    }

    /// Fails if the engine has exited.
    fn check(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait()? {
            Some(status) => anyhow::bail!("the engine exited: {status}"),
            None => Ok(()),
        }
    }

    /// The child's peak resident set (`VmHWM`), in KiB.
    fn peak_rss_kib(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// SIGTERM, then waits for a clean exit.
    async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(pid) = self.child.id() {
            let _ = tokio::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        match tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await {
            Ok(status) => {
                status?;
            }
            Err(_) => self.child.kill().await?,
        }
        Ok(())
    }
}

fn order_no_of(body: &[u8]) -> anyhow::Result<String> {
    let event: Value = serde_json::from_slice(body)?;
    Ok(event["order_no"].as_str().unwrap_or_default().to_owned())
}

fn seconds(d: chrono::TimeDelta) -> f64 {
    d.num_microseconds().unwrap_or(0) as f64 / 1e6
}

/// (p50, p99) of `samples`, NaN when empty.
fn percentiles(samples: &mut [f64]) -> (f64, f64) {
    if samples.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}
