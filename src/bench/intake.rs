//! `hotline bench-intake`: intake throughput and dispatch latency against the bare
//! ceiling of the same machine, measured in the same run. Not a test.
//!
//! 1. Baseline: 500-byte persistent messages published with up to 1024 unconfirmed, then
//!    consumed in batches of ≤100 (or 5 ms) with one multi-row INSERT (UNNEST) and one
//!    multiple-ack per batch — the best a consumer that stores what it takes can do here
//!    (`../shared/services.md` measured 15.1–15.7k/s).
//! 2. The engine: the same number of realistic `complaint.received` events published as a
//!    backlog, then the intake and relay roles started; timed until every order is stored
//!    and every task confirmed by the broker.
//!
//! Runs in a scratch database next to `HOTLINE_DATABASE_URL`'s, in the virtual host of
//! `HOTLINE_AMQP_URL`, which must not hold a backlog of its own (`scripts/bench` makes a
//! fresh one).

use super::ScratchDatabase;
use crate::serve::{self, Role};
use crate::settings::Settings;
use crate::simulate::{MAX_UNCONFIRMED, Plan};
use anyhow::Context;
use futures::StreamExt;
use hotline_core::config::Config;
use hotline_runtime::amqp::ConfirmWindow;
use hotline_runtime::metrics::metrics;
use hotline_schema::topology;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use sqlx::PgPool;
use std::time::{Duration, Instant};

const BASELINE_QUEUE: &str = "hotline.bench.baseline";

#[derive(clap::Args, Debug, Clone)]
pub struct IntakeBenchOptions {
    /// Messages in each pipeline.
    #[arg(long, default_value_t = 50_000)]
    pub count: u64,
    /// Intake consumers in the engine (`[intake] consumers`).
    #[arg(long, default_value_t = 1)]
    pub consumers: usize,
    /// Keep the scratch database afterwards.
    #[arg(long)]
    pub keep: bool,
}

pub async fn run(settings: &Settings, options: IntakeBenchOptions) -> anyhow::Result<()> {
    let scratch = ScratchDatabase::create(&settings.database_url, "hotline_bench_intake").await?;
    let mut scratch_settings = settings.clone();
    scratch_settings.database_url = scratch.url.clone();
    let outcome = bench(&scratch.pool, &scratch_settings, &options).await;
    scratch.finish(options.keep).await?;
    outcome
}

async fn bench(
    pool: &PgPool,
    settings: &Settings,
    options: &IntakeBenchOptions,
) -> anyhow::Result<()> {
    let n = options.count;
    let connection = Connection::connect(&settings.amqp_url, ConnectionProperties::default())
        .await
        .context("cannot connect to RabbitMQ (HOTLINE_AMQP_URL)")?;
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;

    // 1. The bare baseline.
    channel
        .queue_declare(
            BASELINE_QUEUE.into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    let body = vec![b'x'; 500];
    let started = Instant::now();
    publish_all(&channel, "", BASELINE_QUEUE, (0..n).map(|_| body.clone())).await?;
    let baseline_publish = n as f64 / started.elapsed().as_secs_f64();
    sqlx::query("CREATE TABLE baseline (id bigserial PRIMARY KEY, body bytea NOT NULL)")
        .execute(pool)
        .await?;
    let started = Instant::now();
    consume_and_store(&connection, pool, n).await?;
    let baseline_consume = n as f64 / started.elapsed().as_secs_f64();
    channel
        .queue_delete(BASELINE_QUEUE.into(), QueueDeleteOptions::default())
        .await?;

    // 2. The engine, on a backlog of realistic complaints.
    let mut config = Config::builtin();
    config.intake.consumers = options.consumers;
    let departments: Vec<String> = config.departments.iter().map(|d| d.code.clone()).collect();
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
    let events = Plan::Complaints { count: n }.events(&config, 7)?;
    let bodies = events.iter().map(|e| serde_json::to_vec(e).expect("JSON"));
    publish_all(
        &channel,
        topology::EVENTS_EXCHANGE,
        "complaint.received",
        bodies,
    )
    .await?;
    let _ = connection.close(200, "bench".into()).await;

    let started = Instant::now();
    let engine = serve::start(settings, config, &[Role::Intake, Role::Relay]).await?;
    let mut stored = None;
    loop {
        let (orders, pending): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM orders),
                    (SELECT count(*) FROM outbox WHERE published_at IS NULL)",
        )
        .fetch_one(pool)
        .await?;
        if orders as u64 >= n && stored.is_none() {
            stored = Some(started.elapsed());
        }
        if orders as u64 >= n && pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    engine.stop().await;
    let engine_rate = n as f64 / elapsed.as_secs_f64();

    let m = metrics();
    let batches = m.intake_batch_size.get_sample_count();
    let mean_batch = m.intake_batch_size.get_sample_sum() / batches.max(1) as f64;
    println!("\nintake benchmark, {n} messages each, on this machine:");
    println!(
        "  {:<64} {:>9.0} msg/s",
        "baseline publish (≤1024 unconfirmed, 500 B)", baseline_publish
    );
    println!(
        "  {:<64} {:>9.0} msg/s",
        "baseline consume → batch INSERT (UNNEST) → ack multiple", baseline_consume
    );
    println!(
        "  {:<64} {:>9.0} msg/s",
        "engine: event → order + timeline + timers + task confirmed", engine_rate
    );
    let stored = stored.unwrap_or(elapsed);
    println!(
        "  {:<64} {:>9.0} msg/s",
        "  of which: every order stored (the intake alone)",
        n as f64 / stored.as_secs_f64()
    );
    println!(
        "  engine / baseline consume: {:.2}",
        engine_rate / baseline_consume
    );
    println!("  intake batches: {batches}, mean size {mean_batch:.1}");
    println!(
        "  dispatch latency on a backlog (consumed → task confirmed): p50 {:.3}s p99 {:.3}s",
        hotline_runtime::metrics::quantile(&m.dispatch_latency, 0.5),
        hotline_runtime::metrics::quantile(&m.dispatch_latency, 0.99)
    );
    Ok(())
}

/// Publishes every body with up to [`MAX_UNCONFIRMED`] confirms outstanding.
async fn publish_all(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    bodies: impl Iterator<Item = Vec<u8>>,
) -> anyhow::Result<()> {
    let mut window = ConfirmWindow::new(channel, MAX_UNCONFIRMED);
    for body in bodies {
        let properties = BasicProperties::default().with_delivery_mode(2);
        window
            .publish(exchange, routing_key, &body, properties)
            .await?;
    }
    window.finish().await
}

/// The baseline consumer: batches of ≤100 or 5 ms, one INSERT and one ack per batch.
async fn consume_and_store(connection: &Connection, pool: &PgPool, n: u64) -> anyhow::Result<()> {
    let channel = connection.create_channel().await?;
    channel.basic_qos(1024, BasicQosOptions::default()).await?;
    let mut consumer = channel
        .basic_consume(
            BASELINE_QUEUE.into(),
            "baseline".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut taken = 0;
    while taken < n {
        let Some(first) = consumer.next().await else {
            anyhow::bail!("consumer cancelled")
        };
        let mut batch = vec![first?];
        let window = tokio::time::Instant::now() + Duration::from_millis(5);
        while batch.len() < 100 {
            match tokio::time::timeout_at(window, consumer.next()).await {
                Ok(Some(delivery)) => batch.push(delivery?),
                _ => break,
            }
        }
        let bodies: Vec<Vec<u8>> = batch.iter().map(|d| d.data.clone()).collect();
        sqlx::query("INSERT INTO baseline (body) SELECT * FROM UNNEST($1::bytea[])")
            .bind(&bodies)
            .execute(pool)
            .await?;
        batch
            .last()
            .expect("non-empty")
            .acker
            .ack(BasicAckOptions { multiple: true })
            .await?;
        taken += batch.len() as u64;
    }
    channel.close(200, "baseline done".into()).await?;
    Ok(())
}
