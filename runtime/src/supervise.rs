//! The supervisor every long-running role sits in: when its connection to the broker or
//! the database dies, the role is started again from scratch (new connection, topology
//! declared again) after a growing pause, until shutdown. lapin's own auto-recovery is
//! not relied on: a fresh connection is the one state known to be sound.

use crate::health;
use futures::FutureExt;
use std::panic::AssertUnwindSafe;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const FIRST_PAUSE: Duration = Duration::from_millis(500);
const LONGEST_PAUSE: Duration = Duration::from_secs(15);
/// An attempt that ran this long was healthy: the next failure starts the pauses afresh.
const HEALTHY_RUN: Duration = Duration::from_secs(30);

/// Runs `attempt` until it returns `Ok` (a clean stop) or `shutdown` is cancelled,
/// starting it again after each error and after a panic: no failure of one attempt stops
/// the role. What happens is reported to [`crate::health`] for `/readyz`.
pub async fn supervise<F, Fut>(role: &'static str, shutdown: &CancellationToken, mut attempt: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut pause = FIRST_PAUSE;
    while !shutdown.is_cancelled() {
        let started = Instant::now();
        health::starting(role);
        let outcome = AssertUnwindSafe(attempt()).catch_unwind().await;
        let error = match outcome {
            Ok(Ok(())) => break,
            Ok(Err(err)) => format!("{err:#}"),
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".into());
                format!("panicked: {what}")
            }
        };
        health::failed(role, &error);
        if started.elapsed() >= HEALTHY_RUN {
            pause = FIRST_PAUSE;
        }
        tracing::warn!(role, %error, retry_in = ?pause, "role interrupted; starting it again");
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
    tracing::info!(role, "stopped");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::RoleState;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn a_role_is_started_again_after_an_error_and_after_a_panic() {
        let shutdown = CancellationToken::new();
        let attempts = AtomicU32::new(0);
        supervise("test-role", &shutdown, || async {
            match attempts.fetch_add(1, Ordering::Relaxed) {
                0 => anyhow::bail!("the broker went away"),
                1 => panic!("a bug in one attempt"),
                _ => Ok(()),
            }
        })
        .await;
        assert_eq!(
            attempts.load(Ordering::Relaxed),
            3,
            "an error, a panic, then a clean stop"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_role_reports_that_it_restarts() {
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let role = tokio::spawn(async move {
            supervise("failing-role", &stop, || async {
                anyhow::bail!("cannot connect")
            })
            .await;
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(matches!(
            health::report()["failing-role"].state,
            RoleState::Restarting(ref e) if e == "cannot connect"
        ));
        shutdown.cancel();
        role.await.unwrap();
    }
}
