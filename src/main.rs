//! `hotline`: the engine behind the 12345 government service hotline. The process around
//! the engine's crates: the command line, the wiring of `serve`, the HTTP API, the
//! simulator and the benchmarks.

mod accounts;
mod calendar;
mod database;
mod reload;
mod serve;

use anyhow::Context;
use clap::{Parser, Subcommand};
use hotline_runtime::settings::Settings;
use hotline_store::digest::DigestOutcome;
use hotline_tools::bench;
use hotline_tools::simulate::{self, Plan};
use hotline_workers::periodic;
use serve::Role;

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

#[derive(Parser)]
#[command(
    name = "hotline",
    version,
    about = "The engine behind the 12345 government service hotline"
)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the engine: intake consumer, outbox relay, SLA scheduler, HTTP API with /metrics.
    Serve {
        /// Comma-separated subset of roles to run: intake, relay, scheduler, http
        /// (default: all).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "intake,relay,scheduler,http"
        )]
        roles: Vec<Role>,
    },
    /// Runs one repair sweep and exits: re-arms the timers of open orders that have none
    /// although some deadline of theirs was never alerted, and marks appointments never
    /// checked in by the end of their slot's day as no-shows (the scheduler role also runs
    /// it at start and on `[scheduler] repair_cron`).
    Repair,
    /// Runs one retention sweep (`[retention]`: old published outbox rows, spent
    /// idempotency keys, old rejected bodies, and, if set, citizen data of orders closed
    /// long ago) and exits (the scheduler role runs it on `[scheduler] retention_cron`).
    Retention,
    /// Sends the supervision digests of a day that have not been sent yet, and exits
    /// (the scheduler role sends them at 08:00 on working days).
    Digest {
        /// The Asia/Shanghai date (YYYY-MM-DD); default: today. Days off send nothing.
        #[arg(long)]
        day: Option<chrono::NaiveDate>,
    },
    /// Benchmarks the SLA scheduler on a scratch database filled with open orders: prints
    /// the alert lag percentiles and the plan of the claim query. Not a test.
    BenchAlerts(bench::alerts::BenchOptions),
    /// Benchmarks the intake against the bare broker + database ceiling of this machine,
    /// in one run, and prints the ratio. Not a test.
    BenchIntake(bench::intake::IntakeBenchOptions),
    /// The API's tokens, kept in the database: create, list, revoke.
    Token {
        #[command(subcommand)]
        command: accounts::TokenCommand,
    },
    /// Benchmarks the order list (GET /api/orders) on a scratch database of open orders,
    /// over HTTP against `hotline serve --roles http`, next to bare baselines; prints the
    /// percentiles, the ratios and the query plans. Not a test.
    BenchOrders(bench::orders::OrdersBenchOptions),
    /// Benchmarks the supervisors' board (/board) on a scratch database of open orders,
    /// signed in over HTTP, next to bare baselines; prints the render time and each of its
    /// reads. Not a test.
    BenchBoard(bench::board::BoardBenchOptions),
    /// The calendar's declared days: import a State Council notice, show a year.
    Calendar {
        #[command(subcommand)]
        command: calendar::CalendarCommand,
    },
    /// Moves the open orders' deadlines onto the calendar in force, as the scheduler role
    /// does within seconds of a change; `--dry-run` prints which orders would move and by
    /// how much, and writes nothing.
    Replay {
        #[arg(long)]
        dry_run: bool,
    },
    /// Applies the database migrations and exits.
    Migrate,
    /// Validates the configuration file and prints what it defines.
    CheckConfig {
        /// Print only the name of this department (for scripts).
        #[arg(long)]
        department: Option<String>,
    },
    /// Publishes realistic synthetic complaints over AMQP.
    Simulate {
        /// How many events to publish.
        #[arg(long, default_value_t = 100)]
        count: u64,
        /// Events per second (0: as fast as the broker confirms).
        #[arg(long, default_value_t = 50.0)]
        rate: f64,
        /// Random seed: the same seed makes the same traffic.
        #[arg(long)]
        seed: Option<u64>,
        /// Play whole cases instead of bare complaints: `--count` cases (complaints with
        /// their accepts, returns, replies and callbacks; appointments through the hall)
        /// that started over the last `--hours`.
        #[arg(long)]
        lifecycle: bool,
        /// With `--lifecycle`: how many hours of the day to play, ending now.
        #[arg(long, default_value_t = 8)]
        hours: u32,
        /// With `--lifecycle`: end the day at this instant (RFC 3339) instead of now, so
        /// that a seed makes exactly the same cases whenever it runs.
        #[arg(long, value_name = "RFC3339")]
        until: Option<chrono::DateTime<chrono::Utc>>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_tracing();
    let cli = Cli::parse();
    let settings = cli.settings;
    match cli.command {
        Command::Serve { roles } => {
            let config = settings.load_config()?;
            let roles = if roles.is_empty() {
                Role::ALL.to_vec()
            } else {
                roles
            };
            serve::start(&settings, config, &roles)
                .await?
                .until_signalled()
                .await
        }
        Command::Repair => {
            let pool = crate::database::migrated(&settings, 2).await?;
            let repaired = periodic::repair_timers(&pool).await?;
            let no_shows = hotline_store::repair::mark_no_shows(&pool).await?;
            println!(
                "re-armed {} timer(s) on {} order(s); marked {no_shows} appointment(s) no-show",
                repaired.timers, repaired.orders
            );
            Ok(())
        }
        Command::Retention => {
            let config = settings.load_config()?;
            let pool = crate::database::migrated(&settings, 2).await?;
            let attachments =
                hotline_runtime::attachments::AttachmentStore::open(&config.attachments.location)?;
            let swept = periodic::sweep_retention(&pool, &config.retention, &attachments).await?;
            println!(
                "deleted {} outbox message(s), {} idempotency key(s), {} rejected event(s); erased the citizen data of {} order(s) and appointment(s) and {} attachment(s)",
                swept.outbox,
                swept.processed_keys,
                swept.rejected_events,
                swept.citizen_data,
                swept.attachments
            );
            Ok(())
        }
        Command::Digest { day } => {
            let config = settings.load_config()?;
            let pool = crate::database::migrated(&settings, 2).await?;
            let attachments =
                hotline_runtime::attachments::AttachmentStore::open(&config.attachments.location)?;
            let jobs = periodic::Periodic::from_config(pool, &config, attachments);
            let now = chrono::Utc::now();
            let day = day.unwrap_or_else(|| periodic::business_day(now));
            match jobs.send_digests(day, now).await? {
                DigestOutcome::NotAWorkingDay => println!("{day} is not a working day: no digest"),
                DigestOutcome::Sent(n) => println!("{day}: {n} digest(s) sent"),
            }
            Ok(())
        }
        Command::BenchAlerts(options) => {
            bench::alerts::run(&settings.database_url, &settings.amqp_url, options).await
        }
        Command::BenchIntake(options) => bench::intake::run(&settings, options).await,
        Command::Token { command } => accounts::run(&settings, command).await,
        Command::BenchOrders(options) => bench::orders::run(&settings, options).await,
        Command::BenchBoard(options) => bench::board::run(&settings, options).await,
        Command::Calendar { command } => calendar::run(&settings, command),
        Command::Replay { dry_run } => calendar::replay(&settings, dry_run).await,
        Command::Migrate => {
            crate::database::migrated(&settings, 2).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::CheckConfig { department } => {
            let config = settings.load_config()?;
            if let Some(code) = department {
                let department = config
                    .department(&code)
                    .with_context(|| format!("no department {code:?} in {}", config.source))?;
                println!("{}", department.name);
                return Ok(());
            }
            println!(
                "{}: {} departments, {} districts, {} matters",
                config.source,
                config.departments.len(),
                config.districts.len(),
                config.matters.len()
            );
            Ok(())
        }
        Command::Simulate {
            count,
            rate,
            seed,
            lifecycle,
            hours,
            until,
        } => {
            let config = settings.load_config()?;
            let seed = seed.unwrap_or_else(rand::random);
            let plan = if lifecycle {
                Plan::Day {
                    cases: count,
                    hours,
                    until,
                }
            } else {
                Plan::Complaints { count }
            };
            let summary = simulate::run(&settings.amqp_url, &config, plan, rate, seed).await?;
            println!(
                "published {} events in {:.1}s ({:.0}/s), seed {seed}",
                summary.published,
                summary.elapsed.as_secs_f64(),
                summary.published as f64 / summary.elapsed.as_secs_f64().max(1e-9)
            );
            Ok(())
        }
    }
}
