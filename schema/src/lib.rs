//! The engine's shared vocabulary and its public contract: inbound events, outbound
//! messages, AMQP topology names, metric names, the configuration file, the business
//! calendar, and the database migrations.

pub mod calendar;
pub mod config;
pub mod event;
pub mod message;
pub mod metrics;
pub mod outbox;
pub mod sla;
pub mod supervise;
pub mod topology;

/// The SQL migrations in `schema/migrations/`, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The PostgreSQL NOTIFY channel that wakes the relay after outbox rows are committed.
pub const OUTBOX_NOTIFY_CHANNEL: &str = "hotline_outbox";

/// The PostgreSQL NOTIFY channel that wakes the schedulers after timers are written.
pub const TIMERS_NOTIFY_CHANNEL: &str = "hotline_timers";

pub use calendar::BUSINESS_TZ;

/// Formats an instant as RFC 3339 in business time (`2026-09-30T16:20:00+08:00`).
pub fn business_time(instant: chrono::DateTime<chrono::Utc>) -> String {
    instant
        .with_timezone(&BUSINESS_TZ)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}
