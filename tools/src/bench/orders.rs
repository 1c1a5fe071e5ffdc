//! `hotline bench-orders`: the order list (`GET /api/orders`) on a million open orders,
//! over real HTTP against a running engine. Not a test.
//!
//! 1. Creates a scratch database next to `HOTLINE_DATABASE_URL`'s (dropped at the end
//!    unless `--keep`) and fills it with `--orders` open orders (default 1,000,000) with the
//!    scheduler benchmark's fill ([`super::fill_open_orders`]): one in three not accepted
//!    yet, one in ten urgent, deadlines spread over a month from three days ago, so that
//!    about 7% are past their committed deadline.
//! 2. Starts this binary as `hotline serve --roles http` on that database (port 0) with two
//!    API tokens (a supervisor, a handler of the largest department).
//! 3. For each of the three most common lists — a handler's department queue, the
//!    supervisors' overdue list, and the operators' watch on urgent cases not yet accepted
//!    (urgent classes must be signed for within minutes) — prints the plan of its query,
//!    then times `--requests` first pages and as many following pages (by `next`), one
//!    keep-alive connection, one request at a time.
//! 4. Baselines in the same run: `GET /api/whoami` (HTTP, authentication and JSON with no
//!    database), and the rows of the same page read by primary key straight from
//!    PostgreSQL. Prints p50 and p99 of each and the ratios.

use super::http::{Client, Engine, Percentiles, ms, ratio};
use super::{OpenOrders, ScratchDatabase, fill_open_orders};
use anyhow::Context;
use axum::body::Bytes;
use chrono::Utc;
use hotline_core::order_list::{OrderFilter, OrderSort};
use hotline_runtime::settings::Settings;
use hotline_schema::values::{OrderState, SlaState, Urgency};
use hotline_store::order_list::page_sql_for_explain;
use sqlx::PgPool;
use std::time::Instant;

const SUPERVISOR_TOKEN: &str = "bench-supervisor-token-0123456789";
const HANDLER_TOKEN: &str = "bench-handler-token-0123456789";

#[derive(clap::Args, Debug, Clone)]
pub struct OrdersBenchOptions {
    /// Open orders in the scratch database.
    #[arg(long, default_value_t = 1_000_000)]
    pub orders: i64,
    /// Timed requests per list and page kind (first pages, then as many next pages).
    #[arg(long, default_value_t = 200)]
    pub requests: usize,
    /// Orders per page (`limit`).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Keep the scratch database afterwards.
    #[arg(long)]
    pub keep: bool,
}

pub async fn run(settings: &Settings, options: OrdersBenchOptions) -> anyhow::Result<()> {
    anyhow::ensure!(options.orders >= 1000, "need --orders >= 1000");
    let scratch = ScratchDatabase::create(&settings.database_url, "hotline_bench_orders").await?;
    let outcome = bench(&scratch.pool, &scratch.url, settings, &options).await;
    scratch.finish(options.keep).await?;
    outcome
}

/// One list to time.
struct Case {
    name: &'static str,
    query: String,
    token: &'static str,
    /// The filter the engine applies (for the plan).
    filter: OrderFilter,
}

async fn bench(
    pool: &PgPool,
    database_url: &str,
    settings: &Settings,
    options: &OrdersBenchOptions,
) -> anyhow::Result<()> {
    hotline_store::migrate(pool).await?;
    let config = settings.load_config()?;
    fill_open_orders(
        pool,
        &config,
        &OpenOrders {
            orders: options.orders,
            first_warning: "-3 days",
            dispatched_every: 3,
            timers: false,
        },
    )
    .await?;
    let (department, queue): (String, i64) = sqlx::query_as(
        "SELECT department, count(*) FROM orders GROUP BY department ORDER BY 2 DESC LIMIT 1",
    )
    .fetch_one(pool)
    .await?;
    let overdue: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM orders WHERE committed_due_at <= now() AND statutory_due_at > now()",
    )
    .fetch_one(pool)
    .await?;
    let urgent: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM orders WHERE state = 'dispatched' AND urgency <> 'normal'",
    )
    .fetch_one(pool)
    .await?;
    println!(
        "{department}: {queue} orders; overdue: {overdue}; urgent or emergency not accepted: {urgent}"
    );

    let tokens = format!("{SUPERVISOR_TOKEN}:supervisor,{HANDLER_TOKEN}:handler:{department}");
    let mut engine = Engine::start(database_url, &tokens).await?;
    let outcome = measure(pool, &engine.addr, &department, options).await;
    engine.stop().await;
    outcome
}

async fn measure(
    pool: &PgPool,
    addr: &str,
    department: &str,
    options: &OrdersBenchOptions,
) -> anyhow::Result<()> {
    let limit = options.limit;
    let cases = [
        Case {
            name: "handler's queue (its department)",
            query: format!("limit={limit}"),
            token: HANDLER_TOKEN,
            filter: OrderFilter {
                department: Some(department.to_owned()),
                ..Default::default()
            },
        },
        Case {
            name: "overdue list (sla_state=overdue)",
            query: format!("sla_state=overdue&limit={limit}"),
            token: SUPERVISOR_TOKEN,
            filter: OrderFilter {
                sla_states: vec![SlaState::Overdue],
                ..Default::default()
            },
        },
        Case {
            name: "urgent not accepted (state=dispatched&urgency=urgent,emergency)",
            query: format!("state=dispatched&urgency=urgent,emergency&limit={limit}"),
            token: SUPERVISOR_TOKEN,
            filter: OrderFilter {
                states: vec![OrderState::Dispatched],
                urgencies: vec![Urgency::Urgent, Urgency::Emergency],
                ..Default::default()
            },
        },
    ];
    let mut client = Client::connect(addr).await?;
    let n = options.requests.max(10);

    // The bare baseline: HTTP, authentication and a JSON answer, no database.
    for _ in 0..20 {
        client.get("/api/whoami", SUPERVISOR_TOKEN).await?;
    }
    let mut whoami = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        client.get("/api/whoami", SUPERVISOR_TOKEN).await?;
        whoami.push(started.elapsed());
    }
    let whoami = Percentiles::of(whoami);
    println!(
        "\nbaseline GET /api/whoami: p50 {} p99 {}",
        ms(whoami.p50),
        ms(whoami.p99)
    );

    let mut summary = Vec::new();
    for case in &cases {
        println!("\n-- {}: GET /api/orders?{}", case.name, case.query);
        let sql = page_sql_for_explain(
            &case.filter,
            OrderSort::NextDue,
            Utc::now(),
            None,
            i64::from(limit) + 1,
        );
        let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) {sql}"
        )))
        .fetch_all(pool)
        .await?;
        println!("{}", plan.join("\n"));

        let path = format!("/api/orders?{}", case.query);
        for _ in 0..20 {
            client.get(&path, case.token).await?;
        }
        let mut first = Vec::with_capacity(n);
        let mut page_numbers = Vec::new();
        for _ in 0..n {
            let started = Instant::now();
            let body = client.get(&path, case.token).await?;
            first.push(started.elapsed());
            if page_numbers.is_empty() {
                page_numbers = order_numbers(&body)?;
            }
        }
        anyhow::ensure!(
            page_numbers.len() == limit as usize,
            "{}: a short first page ({} orders)",
            case.name,
            page_numbers.len()
        );
        // Following `next` from the first page on.
        let mut following = Vec::with_capacity(n);
        let mut body = client.get(&path, case.token).await?;
        while following.len() < n {
            let Some(next) = next_of(&body)? else {
                break;
            };
            let started = Instant::now();
            body = client
                .get(&format!("{path}&next={next}"), case.token)
                .await?;
            following.push(started.elapsed());
        }
        // The same page's rows by primary key, straight from PostgreSQL.
        let mut by_key = Vec::with_capacity(n);
        for _ in 0..n {
            let started = Instant::now();
            let rows = sqlx::query(
                "SELECT order_no, kind, channel, title, department, state, urgency, matter_code,
                        matter_name, district, received_at, sign_due_at, committed_due_at,
                        statutory_due_at, citizen_name, citizen_phone, confidential
                 FROM orders WHERE order_no = ANY($1)",
            )
            .bind(&page_numbers)
            .fetch_all(pool)
            .await?;
            by_key.push(started.elapsed());
            anyhow::ensure!(rows.len() == page_numbers.len(), "rows by key");
        }
        let first = Percentiles::of(first);
        let following = Percentiles::of(following);
        let by_key = Percentiles::of(by_key);
        println!(
            "first page:     p50 {} p99 {}   ({n} requests)",
            ms(first.p50),
            ms(first.p99)
        );
        println!(
            "next pages:     p50 {} p99 {}   ({} pages)",
            ms(following.p50),
            ms(following.p99),
            following.count
        );
        println!(
            "same rows by primary key (SQL only): p50 {} p99 {}",
            ms(by_key.p50),
            ms(by_key.p99)
        );
        summary.push((case.name, first, following, by_key));
    }

    println!(
        "\norder list, {} open orders, limit {limit}, one connection, p50 / p99:",
        options.orders
    );
    println!(
        "  {:<66} {:>9} {:>9}",
        "GET /api/whoami (bare HTTP baseline)",
        ms(whoami.p50),
        ms(whoami.p99)
    );
    for (name, first, following, by_key) in summary {
        println!(
            "  {:<66} {:>9} {:>9}   × {:.1} whoami, × {:.1} (whoami + rows by key)",
            format!("{name}: first page"),
            ms(first.p50),
            ms(first.p99),
            ratio(first.p50, whoami.p50),
            ratio(first.p50, whoami.p50 + by_key.p50)
        );
        println!(
            "  {:<66} {:>9} {:>9}   × {:.1} whoami",
            format!("{name}: next pages"),
            ms(following.p50),
            ms(following.p99),
            ratio(following.p50, whoami.p50)
        );
    }
    Ok(())
}

fn order_numbers(body: &Bytes) -> anyhow::Result<Vec<String>> {
    let value: serde_json::Value = serde_json::from_slice(body)?;
    Ok(value["orders"]
        .as_array()
        .context("no orders in the answer")?
        .iter()
        .filter_map(|o| o["order_no"].as_str().map(str::to_owned))
        .collect())
}

fn next_of(body: &Bytes) -> anyhow::Result<Option<String>> {
    let value: serde_json::Value = serde_json::from_slice(body)?;
    Ok(value["next"].as_str().map(str::to_owned))
}
