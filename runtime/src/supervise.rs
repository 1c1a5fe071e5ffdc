//! The supervisor every long-running role sits in: when its connection to the broker or
//! the database dies, the role is started again from scratch (new connection, topology
//! declared again) after a growing pause, until shutdown. lapin's own auto-recovery is
//! not relied on: a fresh connection is the one state known to be sound.

use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const FIRST_PAUSE: Duration = Duration::from_millis(500);
const LONGEST_PAUSE: Duration = Duration::from_secs(15);
/// An attempt that ran this long was healthy: the next failure starts the pauses afresh.
const HEALTHY_RUN: Duration = Duration::from_secs(30);

/// Runs `attempt` until it returns `Ok` (a clean stop) or `shutdown` is cancelled,
/// starting it again after each error.
pub async fn supervise<F, Fut>(role: &'static str, shutdown: &CancellationToken, mut attempt: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut pause = FIRST_PAUSE;
    while !shutdown.is_cancelled() {
        let started = Instant::now();
        match attempt().await {
            Ok(()) => break,
            Err(err) => {
                if started.elapsed() >= HEALTHY_RUN {
                    pause = FIRST_PAUSE;
                }
                tracing::warn!(role, error = %format!("{err:#}"), retry_in = ?pause, "role interrupted; starting it again");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(pause) => {}
                }
                pause = (pause * 2).min(LONGEST_PAUSE);
            }
        }
    }
    tracing::info!(role, "stopped");
}
