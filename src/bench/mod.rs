//! The benchmarks (`hotline bench-*`): commands that print figures, never tests. Each
//! runs in a scratch database of its own, next to `HOTLINE_DATABASE_URL`'s, and measures
//! the engine against a bare baseline in the same run.

pub mod alerts;
pub mod intake;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};
use std::str::FromStr;

/// A database made for one benchmark run, next to `HOTLINE_DATABASE_URL`'s.
pub struct ScratchDatabase {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
    admin: sqlx::PgConnection,
}

impl ScratchDatabase {
    /// Creates `<prefix>_<random>` and connects to it.
    pub async fn create(database_url: &str, prefix: &str) -> anyhow::Result<ScratchDatabase> {
        let admin_options = PgConnectOptions::from_str(database_url)?;
        let name = format!(
            "{prefix}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let mut admin = admin_options
            .connect()
            .await
            .context("cannot connect to PostgreSQL (HOTLINE_DATABASE_URL)")?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .context("creating the scratch database")?;
        println!("scratch database {name}");
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(admin_options.clone().database(&name))
            .await?;
        let url = match database_url.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{name}"),
            None => database_url.to_owned(),
        };
        Ok(ScratchDatabase {
            name,
            url,
            pool,
            admin,
        })
    }

    /// Drops it, unless `keep`.
    pub async fn finish(mut self, keep: bool) -> anyhow::Result<()> {
        self.pool.close().await;
        if keep {
            println!("kept database {}", self.name);
        } else {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )))
            .execute(&mut self.admin)
            .await?;
        }
        Ok(())
    }
}
