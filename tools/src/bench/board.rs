//! `hotline bench-board`: the supervisors' board (`/board`) on a million open orders, over
//! real HTTP against a running engine, signed in as a browser is. Not a test.
//!
//! 1. Creates a scratch database (dropped at the end unless `--keep`) and fills it with
//!    `--orders` open orders (the benchmarks' shared fill, [`super::fill_open_orders`]),
//!    each with its dispatch and, for those accepted, its acceptance on the timeline: what
//!    the board's counts, lists and 30-day KPIs read.
//! 2. Starts `hotline serve --roles http` on it and signs in as a supervisor.
//! 3. Times `--requests` renders of `/board`, next to two baselines in the same run: the
//!    sign-in page (a template, no database) and `GET /api/whoami`; and times each of the
//!    board's reads on its own, to show where the time goes.

use super::http::{Client, Engine, Percentiles, ms, ratio};
use super::{OpenOrders, ScratchDatabase, fill_open_orders};
use chrono::Utc;
use hotline_runtime::settings::Settings;
use hotline_schema::values::OrderState;
use hotline_store::read::{self, QueueFilter};
use sqlx::PgPool;
use std::future::Future;
use std::time::{Duration, Instant};

const SUPERVISOR_TOKEN: &str = "bench-board-supervisor-0123456789";

#[derive(clap::Args, Debug, Clone)]
pub struct BoardBenchOptions {
    /// Open orders in the scratch database.
    #[arg(long, default_value_t = 1_000_000)]
    pub orders: i64,
    /// Timed renders of the board.
    #[arg(long, default_value_t = 20)]
    pub requests: usize,
    /// Keep the scratch database afterwards.
    #[arg(long)]
    pub keep: bool,
}

pub async fn run(settings: &Settings, options: BoardBenchOptions) -> anyhow::Result<()> {
    anyhow::ensure!(options.orders >= 1000, "need --orders >= 1000");
    let scratch = ScratchDatabase::create(&settings.database_url, "hotline_bench_board").await?;
    let outcome = bench(&scratch.pool, &scratch.url, settings, &options).await;
    scratch.finish(options.keep).await?;
    outcome
}

async fn bench(
    pool: &PgPool,
    database_url: &str,
    settings: &Settings,
    options: &BoardBenchOptions,
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
    let started = Instant::now();
    sqlx::query(
        "INSERT INTO dispatches (task_id, order_no, dispatch_no, department, rule, dispatched_at)
         SELECT gen_random_uuid(), order_no, 1, department, rule, received_at FROM orders",
    )
    .execute(pool)
    .await?;
    sqlx::query(
        "INSERT INTO order_events (order_no, event_id, event_type, actor, occurred_at, detail)
         SELECT order_no, gen_random_uuid(), 'order.accepted', department, accepted_at,
                jsonb_build_object('department', department,
                                   'effect', jsonb_build_object('department', department,
                                                                'on_time', true))
         FROM orders WHERE accepted_at IS NOT NULL",
    )
    .execute(pool)
    .await?;
    sqlx::query("VACUUM ANALYZE dispatches, order_events")
        .execute(pool)
        .await?;
    println!(
        "filled their dispatches and acceptances in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    let mut engine = Engine::start(database_url, &format!("{SUPERVISOR_TOKEN}:supervisor")).await?;
    let outcome = measure(pool, &engine.addr, options).await;
    engine.stop().await;
    outcome
}

async fn time<F, Fut>(n: usize, mut run: F) -> anyhow::Result<Percentiles>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        run().await?;
        samples.push(started.elapsed());
    }
    Ok(Percentiles::of(samples))
}

async fn measure(pool: &PgPool, addr: &str, options: &BoardBenchOptions) -> anyhow::Result<()> {
    let n = options.requests.max(3);
    let mut client = Client::connect(addr).await?;
    let session = client.sign_in(SUPERVISOR_TOKEN).await?;
    // Warm-up: plans, caches, the pool.
    for _ in 0..2 {
        client.get_with_cookie("/board", &session).await?;
    }
    let mut signin = Vec::with_capacity(n);
    let mut whoami = Vec::with_capacity(n);
    let mut board = Vec::with_capacity(n);
    let mut size = 0;
    for _ in 0..n {
        let started = Instant::now();
        client.get_with_cookie("/signin", "").await?;
        signin.push(started.elapsed());
        let started = Instant::now();
        client.get("/api/whoami", SUPERVISOR_TOKEN).await?;
        whoami.push(started.elapsed());
        let started = Instant::now();
        size = client.get_with_cookie("/board", &session).await?.len();
        board.push(started.elapsed());
    }
    let (signin, whoami, board) = (
        Percentiles::of(signin),
        Percentiles::of(whoami),
        Percentiles::of(board),
    );

    // Each of the board's reads alone.
    let now = Utc::now();
    let reads: [(&str, Percentiles); 6] = [
        (
            "open orders by department, state and SLA state",
            time(n, || async {
                hotline_store::board::open_counts(pool).await?;
                Ok(())
            })
            .await?,
        ),
        (
            "orders past their warning point (first 100)",
            time(n, || async {
                read::queue(
                    pool,
                    &QueueFilter {
                        states: &[OrderState::Dispatched, OrderState::Accepted],
                        warned: true,
                        limit: 100,
                        ..QueueFilter::default()
                    },
                )
                .await?;
                Ok(())
            })
            .await?,
        ),
        (
            "KPIs of the last 30 days",
            time(n, || async {
                hotline_store::kpi::period_counts(
                    pool,
                    now - chrono::TimeDelta::days(30),
                    now,
                    None,
                    true,
                )
                .await?;
                Ok(())
            })
            .await?,
        ),
        (
            "KPIs of today",
            time(n, || async {
                hotline_store::kpi::period_counts(
                    pool,
                    now - chrono::TimeDelta::hours(12),
                    now,
                    None,
                    true,
                )
                .await?;
                Ok(())
            })
            .await?,
        ),
        (
            "district × matter, 7 days",
            time(n, || async {
                hotline_store::board::by_place(pool, now - chrono::TimeDelta::days(7)).await?;
                Ok(())
            })
            .await?,
        ),
        (
            "today by hour",
            time(n, || async {
                hotline_store::board::by_hour(pool, now - chrono::TimeDelta::hours(12)).await?;
                Ok(())
            })
            .await?,
        ),
    ];

    println!(
        "\nthe board, {} open orders, {n} renders, one connection, p50 / p99:",
        options.orders
    );
    let row = |what: &str, p: &Percentiles| {
        println!("  {what:<52} {:>10} {:>10}", ms(p.p50), ms(p.p99));
    };
    row("GET /signin (a template, no database)", &signin);
    row("GET /api/whoami (bare HTTP)", &whoami);
    row(&format!("GET /board ({} KiB)", size / 1024), &board);
    println!(
        "  the board is × {:.0} the sign-in page; its reads alone:",
        ratio(board.p50, signin.p50)
    );
    for (what, p) in &reads {
        row(&format!("  {what}"), p);
    }
    let sum: Duration = reads.iter().map(|(_, p)| p.p50).sum();
    println!("  sum of the reads' p50: {}", ms(sum));
    Ok(())
}
