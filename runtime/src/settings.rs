//! Process settings: where the broker, the database and the HTTP listener are, and which
//! configuration file to load. Layered: built-in defaults < environment < command line.

use clap::Args;
use hotline_core::config::Config;
use std::path::PathBuf;

#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// AMQP URL of RabbitMQ.
    #[arg(
        long,
        env = "HOTLINE_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f",
        global = true
    )]
    pub amqp_url: String,
    /// PostgreSQL URL.
    #[arg(
        long,
        env = "HOTLINE_DATABASE_URL",
        default_value = "postgres://hotline:hotline@127.0.0.1:5432/hotline",
        global = true
    )]
    pub database_url: String,
    /// Where the HTTP API and /metrics listen.
    #[arg(
        long,
        env = "HOTLINE_HTTP_ADDR",
        default_value = "127.0.0.1:9345",
        global = true
    )]
    pub http_addr: String,
    /// A listener of their own for `/metrics`, `/healthz` and `/readyz` (default: they are
    /// served with the API on `--http-addr`).
    #[arg(long, env = "HOTLINE_METRICS_ADDR", global = true)]
    pub metrics_addr: Option<String>,
    /// Configuration file (catalog, routing, calendar, SLA). Default: `hotline.toml` in the
    /// working directory if present, else the built-in catalog.
    #[arg(long, env = "HOTLINE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
}

impl Settings {
    /// The configuration file in use, if any.
    pub fn config_path(&self) -> Option<PathBuf> {
        match &self.config {
            Some(path) => Some(path.clone()),
            None => {
                let local = PathBuf::from("hotline.toml");
                local.exists().then_some(local)
            }
        }
    }

    /// Loads and validates the configuration file these settings name.
    pub fn load_config(&self) -> anyhow::Result<Config> {
        load_config_at(self.config_path().as_deref())
    }
}

/// The configuration file at `path` (or the built-in catalog), with the notices of its
/// calendar directory.
pub fn load_config_at(path: Option<&std::path::Path>) -> anyhow::Result<Config> {
    match path {
        Some(path) => Config::load(path).map_err(anyhow::Error::new),
        None => Config::builtin_with_notices().map_err(anyhow::Error::new),
    }
}
