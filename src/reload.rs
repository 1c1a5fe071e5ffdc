//! Configuration reloads without a restart: on SIGHUP, or when the file's modification
//! time changes (checked every two seconds), the file is validated again and, if sound,
//! the routing table and clocks are replaced between two batches. A file
//! with a fault is reported and ignored: the engine keeps the configuration it has.

use hotline_core::config::Config;
use hotline_core::rules::Rules;
use hotline_dispatcher::rules::RulesHandle;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;

pub struct Reloader {
    pub path: PathBuf,
    pub amqp_url: String,
    pub rules: RulesHandle,
}

impl Reloader {
    pub async fn run(self, shutdown: CancellationToken) {
        let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        {
            Ok(signal) => Some(signal),
            Err(err) => {
                tracing::warn!(error = %err, "no SIGHUP handler; watching the file only");
                None
            }
        };
        let mut seen = modified(&self.path);
        loop {
            let signalled = tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = async { match hangup.as_mut() { Some(h) => { h.recv().await; } None => std::future::pending().await } } => true,
                _ = tokio::time::sleep(Duration::from_secs(2)) => false,
            };
            let now = modified(&self.path);
            if signalled || now != seen {
                seen = now;
                self.reload().await;
            }
        }
    }

    async fn reload(&self) {
        let config = match Config::load(&self.path) {
            Ok(config) => config,
            Err(err) => {
                tracing::error!(error = %err, "configuration NOT reloaded: the file has a fault");
                return;
            }
        };
        // New departments need their task queues before the first task is published.
        if let Err(err) =
            hotline_runtime::amqp::declare_at(&self.amqp_url, &config.department_codes()).await
        {
            tracing::error!(error = %err, "configuration NOT reloaded: cannot declare queues");
            return;
        }
        hotline_runtime::metrics::metrics().register_catalog(&config.department_codes());
        self.rules.replace(Rules::new(&config));
        tracing::info!(
            file = %self.path.display(),
            departments = config.departments.len(),
            matters = config.matters.len(),
            transfers = config.transfers.len(),
            "configuration reloaded"
        );
    }
}

fn modified(path: &PathBuf) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}
