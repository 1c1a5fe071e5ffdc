//! PostgreSQL: the migrations, the batch writer, the outbox, timers and their claims, the
//! repair sweep, the digest, the gauges' snapshot, and the queries of the API. Every SQL
//! statement of the engine lives here.
//!
//! Architecture invariant: the store knows nothing of RabbitMQ, HTTP or Prometheus, and
//! decides nothing: it reads rows into the core's types, writes what the core decided,
//! and says what a failure means for the caller ([`StoreError`]).

pub mod attachments;
mod batch;
pub mod board;
mod error;
mod rows;

pub mod digest;
pub mod gauges;
pub mod kpi;
pub mod notes;
pub mod order_list;
pub mod outbox;
pub mod read;
pub mod repair;
pub mod replay;
pub mod retention;
pub mod sessions;
pub mod sla_sql;
pub mod timers;
pub mod tokens;

pub use batch::BatchTx;
pub use error::{ErrorKind, StoreError, kind_of_sqlstate};
pub use sqlx::PgPool;

use std::time::Duration;

/// The SQL migrations in `store/migrations/`, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The PostgreSQL NOTIFY channel that wakes the relay after outbox rows are committed.
pub const OUTBOX_NOTIFY_CHANNEL: &str = "hotline_outbox";

/// The PostgreSQL NOTIFY channel that wakes the schedulers after timers are written.
pub const TIMERS_NOTIFY_CHANNEL: &str = "hotline_timers";

/// A pool of at most `max_connections` to `url`.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, StoreError> {
    Ok(sqlx::postgres::PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await?)
}

/// Begins a transaction on `pool` that a caller who goes away cannot leave open.
///
/// sqlx 0.9.0 counts a transaction as begun only once the answer to BEGIN is read, and a
/// dropped transaction rolls back only if it was counted (transact-rs/sqlx#4393). A caller
/// cancelled in between (an HTTP client that hangs up, a stream closed mid-read, a
/// timeout) returns its connection to the pool inside a transaction nobody ends: the
/// statements of whoever gets that connection next are never committed. Begun in a task of
/// its own, BEGIN is always counted, and a transaction its caller no longer awaits is
/// dropped in that task and rolled back as sqlx intends. Every transaction of the engine
/// begins here (scripts/check-architecture).
pub async fn begin(
    pool: &PgPool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let pool = pool.clone();
    match tokio::spawn(async move { pool.begin().await }).await {
        Ok(begun) => begun,
        Err(failed) if failed.is_panic() => std::panic::resume_unwind(failed.into_panic()),
        // The runtime is shutting down: so is every pool.
        Err(_) => Err(sqlx::Error::PoolClosed),
    }
}

/// Applies the migrations not applied yet.
pub async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    MIGRATOR
        .run(pool)
        .await
        .map_err(|e| StoreError::Unavailable(format!("applying migrations: {e}")))
}

/// The database's clock: the engine's time (never the host's).
pub async fn database_now(pool: &PgPool) -> Result<chrono::DateTime<chrono::Utc>, StoreError> {
    Ok(sqlx::query_scalar("SELECT now()").fetch_one(pool).await?)
}

/// Whether the database answers a trivial query.
pub async fn ping(pool: &PgPool) -> bool {
    sqlx::query("SELECT 1").execute(pool).await.is_ok()
}

/// Queues a wake-up on `channel`, delivered when the caller's transaction commits.
async fn notify(tx: &mut sqlx::PgConnection, channel: &str) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(channel)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Wake-ups from other processes: NOTIFYs on one channel.
pub struct Wakeups(sqlx::postgres::PgListener);

impl Wakeups {
    pub async fn listen(pool: &PgPool, channel: &str) -> Result<Wakeups, StoreError> {
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
        listener.listen(channel).await?;
        Ok(Wakeups(listener))
    }

    /// Waits for the next wake-up and swallows any already queued behind it (one look
    /// serves them all). Also returns when the connection was lost and re-established,
    /// since notifications may have been lost with it.
    pub async fn next(&mut self) -> Result<(), StoreError> {
        self.0.try_recv().await?;
        while self.0.next_buffered().is_some() {}
        Ok(())
    }
}
