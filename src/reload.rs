//! Configuration reloads without a restart: on SIGHUP, or when the file or the notices
//! directory beside it (`calendar.d`, written by `hotline calendar import`) changes
//! (checked every two seconds), the configuration is validated again and, if sound, the
//! routing table and clocks are replaced between two batches. A configuration with a
//! fault is reported and ignored: the engine keeps the one it has.

use hotline_core::config::Config;
use hotline_core::rules::Rules;
use hotline_dispatcher::rules::RulesHandle;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;

pub struct Reloader {
    /// The configuration file; `None` for the built-in catalog (its notices still count).
    pub path: Option<PathBuf>,
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
        let mut seen = self.fingerprint();
        loop {
            let signalled = tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = async { match hangup.as_mut() { Some(h) => { h.recv().await; } None => std::future::pending().await } } => true,
                _ = tokio::time::sleep(Duration::from_secs(2)) => false,
            };
            let now = self.fingerprint();
            if signalled || now != seen {
                seen = now;
                self.reload().await;
            }
        }
    }

    async fn reload(&self) {
        let config = match hotline_runtime::settings::load_config_at(self.path.as_deref()) {
            Ok(config) => config,
            Err(err) => {
                tracing::error!(error = %err, "configuration NOT reloaded: it has a fault");
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
        hotline_runtime::metrics::metrics().observe_calendar(&config.calendar);
        self.rules.replace(Rules::new(&config));
        tracing::info!(
            file = %self.path.as_deref().map_or("<built-in>".into(), |p| p.display().to_string()),
            departments = config.departments.len(),
            matters = config.matters.len(),
            transfers = config.transfers.len(),
            "configuration reloaded"
        );
    }
}

impl Reloader {
    /// What a change shows in: the file's modification time, and every notice's name and
    /// modification time (an import renames a new file into the directory).
    fn fingerprint(&self) -> Vec<(PathBuf, Option<SystemTime>)> {
        let mut seen = Vec::new();
        if let Some(path) = &self.path {
            seen.push((path.clone(), modified(path)));
        }
        let notices = Config::notices_dir(self.path.as_deref());
        if let Ok(entries) = std::fs::read_dir(&notices) {
            let mut files: Vec<(PathBuf, Option<SystemTime>)> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .map(|p| {
                    let when = modified(&p);
                    (p, when)
                })
                .collect();
            files.sort();
            seen.extend(files);
        }
        seen
    }
}

fn modified(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}
