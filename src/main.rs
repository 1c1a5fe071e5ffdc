//! `hotline`: the engine behind the 12345 government service hotline.

use anyhow::Context;
use clap::{Parser, Subcommand};
use hotline::serve::{self, Role};
use hotline::settings::Settings;

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
    /// Runs the engine: intake consumer, outbox relay, HTTP API with /metrics.
    Serve {
        /// Comma-separated subset of roles to run (default: all).
        #[arg(long, value_delimiter = ',', default_value = "intake,relay,http")]
        roles: Vec<Role>,
    },
    /// Applies the database migrations and exits.
    Migrate,
    /// Validates the configuration file and prints what it defines.
    CheckConfig,
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
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    hotline::init_tracing();
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
        Command::Migrate => {
            let pool = settings.connect_database(2).await?;
            hotline_schema::MIGRATOR
                .run(&pool)
                .await
                .context("applying database migrations")?;
            println!("migrations applied");
            Ok(())
        }
        Command::CheckConfig => {
            let config = settings.load_config()?;
            println!(
                "{}: {} departments, {} districts, {} matters",
                config.source,
                config.departments.len(),
                config.districts.len(),
                config.matters.len()
            );
            Ok(())
        }
        Command::Simulate { count, rate, seed } => {
            let config = settings.load_config()?;
            let seed = seed.unwrap_or_else(rand::random);
            let summary =
                hotline::simulate::run(&settings.amqp_url, &config, count, rate, seed).await?;
            println!(
                "published {} complaint.received events in {:.1}s ({:.0}/s), seed {seed}",
                summary.published,
                summary.elapsed.as_secs_f64(),
                summary.published as f64 / summary.elapsed.as_secs_f64().max(1e-9)
            );
            Ok(())
        }
    }
}
