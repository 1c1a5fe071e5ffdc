//! Callers that go away mid-way (an HTTP client that hangs up, a stream closed while it
//! reads): whatever they leave behind must not change what the next caller's statements do.

use crate::support::{TestEnv, wait_for};
use hotline_store::replay::ReplayLock;
use sqlx::postgres::PgPoolOptions;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Polls `future` once, then drops it: a caller cancelled at its first `.await` that
/// waits. Whether it was still waiting (else it was not cancelled at all).
async fn poll_once_then_drop<F: Future>(future: F) -> bool {
    let mut future = pin!(future);
    std::future::poll_fn(|cx: &mut Context<'_>| Poll::Ready(future.as_mut().poll(cx).is_pending()))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_begun_by_a_caller_that_went_away_is_never_left_open() {
    let env = TestEnv::new().await;
    sqlx::query("CREATE TABLE written (round int)")
        .execute(&env.pool)
        .await
        .unwrap();
    // One connection: whatever a cancelled begin leaves behind, the next statement meets.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&env.database_url)
        .await
        .unwrap();
    let mut cancelled = 0;
    for round in 0..50 {
        if poll_once_then_drop(hotline_store::begin(&pool)).await {
            cancelled += 1;
        }
        // A statement outside a transaction commits when it ends: another connection
        // sees its row at once (inside a transaction left open, it would never commit).
        sqlx::query("INSERT INTO written VALUES ($1)")
            .bind(round)
            .execute(&pool)
            .await
            .unwrap();
        let seen = env.count("SELECT count(*) FROM written").await;
        assert_eq!(
            seen,
            i64::from(round) + 1,
            "round {round}: a write was not committed"
        );
    }
    assert!(
        cancelled > 0,
        "no begin was still waiting when its caller went away"
    );
    pool.close().await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_lock_its_holder_dropped_is_not_kept_by_the_pool() {
    let env = TestEnv::new().await;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&env.database_url)
        .await
        .unwrap();
    let lock = ReplayLock::try_take(&pool).await.unwrap();
    assert!(lock.is_some(), "nobody else holds it");
    assert!(
        ReplayLock::try_take(&env.pool).await.unwrap().is_none(),
        "held by the first pool"
    );
    // The holder goes away without releasing it (cancelled, or failed on the way).
    drop(lock);
    wait_for("the lock free again", Duration::from_secs(10), || async {
        match ReplayLock::try_take(&env.pool).await.unwrap() {
            Some(lock) => {
                lock.release().await.unwrap();
                true
            }
            None => false,
        }
    })
    .await;
    // The first pool still works: it opened a connection in place of the closed one.
    sqlx::query("SELECT 1").execute(&pool).await.unwrap();
    pool.close().await;
    env.cleanup().await;
}
