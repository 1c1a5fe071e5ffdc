//! The database every command but the tools reaches through the settings.

use anyhow::Context;
use hotline_runtime::settings::Settings;

/// Connects to `HOTLINE_DATABASE_URL` and applies the migrations not applied yet.
pub async fn migrated(
    settings: &Settings,
    max_connections: u32,
) -> anyhow::Result<hotline_store::PgPool> {
    let pool = hotline_store::connect(&settings.database_url, max_connections)
        .await
        .context("cannot connect to PostgreSQL (HOTLINE_DATABASE_URL)")?;
    hotline_store::migrate(&pool)
        .await
        .context("applying database migrations")?;
    Ok(pool)
}
