//! Sessions of the pages, by the SHA-256 digest of their cookie's id.

use crate::StoreError;
use sqlx::PgPool;
use std::time::Duration;

/// A live session: whose token it was opened with, and its form token.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRecord {
    pub token_name: String,
    pub csrf: String,
}

/// Opens a session for `lifetime` (by the database's clock).
pub async fn open(
    pool: &PgPool,
    digest: &[u8; 32],
    token_name: &str,
    csrf: &str,
    lifetime: Duration,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO web_sessions (digest, token_name, csrf, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
    )
    .bind(&digest[..])
    .bind(token_name)
    .bind(csrf)
    .bind(lifetime.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(())
}

/// The session `digest` names, unless it has expired or was closed.
pub async fn find(pool: &PgPool, digest: &[u8; 32]) -> Result<Option<SessionRecord>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT token_name, csrf FROM web_sessions WHERE digest = $1 AND expires_at > now()",
    )
    .bind(&digest[..])
    .fetch_optional(pool)
    .await?)
}

/// Closes a session (sign-out).
pub async fn close(pool: &PgPool, digest: &[u8; 32]) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM web_sessions WHERE digest = $1")
        .bind(&digest[..])
        .execute(pool)
        .await?;
    Ok(())
}

/// Removes expired sessions, at most `limit` at a time; how many.
pub async fn remove_expired(pool: &PgPool, limit: i64) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "DELETE FROM web_sessions WHERE digest IN (
             SELECT digest FROM web_sessions WHERE expires_at <= now() LIMIT $1)",
    )
    .bind(limit)
    .execute(pool)
    .await?
    .rows_affected())
}
