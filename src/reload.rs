//! Configuration reloads without a restart: on SIGHUP, or when the file's modification
//! time changes (checked every two seconds), the file is validated again and, if sound,
//! the dispatcher's routing table and clocks are replaced between two batches. A file
//! with a fault is reported and ignored: the engine keeps the configuration it has.

use hotline_dispatcher::apply::{Dispatcher, DispatcherHandle};
use hotline_schema::config::Config;
use hotline_schema::topology;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;

pub struct Reloader {
    pub path: PathBuf,
    pub amqp_url: String,
    pub dispatcher: DispatcherHandle,
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
        let dispatcher = match Dispatcher::from_config(&config) {
            Ok(d) => d,
            Err(err) => {
                tracing::error!(error = %format!("{err:#}"), "configuration NOT reloaded");
                return;
            }
        };
        // New departments need their task queues before the first task is published.
        let departments: Vec<String> = config.departments.iter().map(|d| d.code.clone()).collect();
        if let Err(err) = topology::declare_at(&self.amqp_url, &departments).await {
            tracing::error!(error = %err, "configuration NOT reloaded: cannot declare queues");
            return;
        }
        self.dispatcher.replace(dispatcher);
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
