//! API tokens kept in the database (`api_tokens`): only the SHA-256 digest of each secret,
//! with the token's name, role and department. Every engine process reloads the active
//! ones every few seconds, so a revocation reaches them all without a restart.

use crate::StoreError;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// A token as listed: never its secret, which the database does not have.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRecord {
    pub name: String,
    pub role: String,
    pub department: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A token that may be used: what authenticating a caller needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActiveToken {
    pub digest: Vec<u8>,
    pub name: String,
    pub role: String,
    pub department: Option<String>,
}

/// Stores a new token. `Ok(false)` when the name is taken (by a live or revoked token:
/// names stay taken because timelines name them as actors).
pub async fn create(
    pool: &PgPool,
    name: &str,
    digest: &[u8; 32],
    role: &str,
    department: Option<&str>,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO api_tokens (name, digest, role, department) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(&digest[..])
    .bind(role)
    .bind(department)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Every token, live and revoked, by name.
pub async fn list(pool: &PgPool) -> Result<Vec<TokenRecord>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT name, role, department, created_at, last_used_at, revoked_at
         FROM api_tokens ORDER BY name",
    )
    .fetch_all(pool)
    .await?)
}

/// What revoking a token found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    Now,
    Already(DateTime<Utc>),
    NoSuchToken,
}

/// Revokes the token `name` (for good: a revoked token cannot be restored, create another).
pub async fn revoke(pool: &PgPool, name: &str) -> Result<Revoked, StoreError> {
    let row: Option<(Option<DateTime<Utc>>, bool)> = sqlx::query_as(
        "WITH before AS (SELECT name, revoked_at FROM api_tokens WHERE name = $1 FOR UPDATE),
              changed AS (
                  UPDATE api_tokens t SET revoked_at = now()
                  FROM before WHERE t.name = before.name AND before.revoked_at IS NULL
                  RETURNING t.name)
         SELECT before.revoked_at, EXISTS (SELECT 1 FROM changed) FROM before",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?;
    Ok(match row {
        None => Revoked::NoSuchToken,
        Some((_, true)) => Revoked::Now,
        Some((Some(at), false)) => Revoked::Already(at),
        Some((None, false)) => {
            return Err(StoreError::Defect(format!(
                "token {name:?} was neither revoked nor revocable"
            )));
        }
    })
}

/// The tokens not revoked.
pub async fn active(pool: &PgPool) -> Result<Vec<ActiveToken>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT digest, name, role, department FROM api_tokens WHERE revoked_at IS NULL",
    )
    .fetch_all(pool)
    .await?)
}

/// The active token of this digest, if any.
pub async fn active_by_digest(
    pool: &PgPool,
    digest: &[u8; 32],
) -> Result<Option<ActiveToken>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT digest, name, role, department FROM api_tokens
         WHERE digest = $1 AND revoked_at IS NULL",
    )
    .bind(&digest[..])
    .fetch_optional(pool)
    .await?)
}

/// Records that the tokens `names` were used (at the database's now).
pub async fn touch(pool: &PgPool, names: &[String]) -> Result<(), StoreError> {
    if names.is_empty() {
        return Ok(());
    }
    sqlx::query("UPDATE api_tokens SET last_used_at = now() WHERE name = ANY($1)")
        .bind(names)
        .execute(pool)
        .await?;
    Ok(())
}
