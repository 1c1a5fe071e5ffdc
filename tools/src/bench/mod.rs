//! The benchmarks (`hotline bench-*`): commands that print figures, never tests. Each
//! runs in a scratch database of its own, next to `HOTLINE_DATABASE_URL`'s, and measures
//! the engine against a bare baseline in the same run.

pub mod alerts;
mod bare;
pub mod board;
mod cost;
pub mod history;
pub mod http;
pub mod intake;
pub mod orders;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};
use std::str::FromStr;
use std::time::Instant;

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
        let name = format!(
            "{prefix}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        Self::connect(database_url, name, true).await
    }

    /// Connects to `name`, a database a run before kept (`--keep`): filling ten million
    /// orders of history takes twenty minutes, measuring on them two.
    pub async fn reuse(database_url: &str, name: &str) -> anyhow::Result<ScratchDatabase> {
        Self::connect(database_url, name.to_owned(), false).await
    }

    async fn connect(
        database_url: &str,
        name: String,
        create: bool,
    ) -> anyhow::Result<ScratchDatabase> {
        let admin_options = PgConnectOptions::from_str(database_url)?;
        let mut admin = admin_options
            .connect()
            .await
            .context("cannot connect to PostgreSQL (HOTLINE_DATABASE_URL)")?;
        if create {
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut admin)
                .await
                .context("creating the scratch database")?;
            println!("scratch database {name}");
        } else {
            println!("database {name}, kept by an earlier run");
        }
        // The fills' statements run for seconds on purpose: no warning for each.
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(
                admin_options
                    .clone()
                    .database(&name)
                    .disable_statement_logging(),
            )
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

/// The shape of a scratch database's open orders (see [`fill_open_orders`]).
pub struct OpenOrders {
    pub orders: i64,
    /// When the first warning instant falls, as a PostgreSQL interval from now (`"1
    /// hour"`, or `"-3 days"` for some orders already past their deadlines).
    pub first_warning: &'static str,
    /// Every n-th order not accepted yet (`dispatched`); 0: every order accepted.
    pub dispatched_every: i64,
    /// Whether to write their live timers too: one per order, armed for its warning, then
    /// overdue and statutory.
    pub timers: bool,
}

/// Fills `shape.orders` open orders, set-based: numbered `BENCH000000001`…, spread over
/// `config`'s departments, matters and districts (one in five without a district), one in
/// ten urgent and one in fifty an emergency; warning instants spread over 30 days from
/// `first_warning`, the committed deadline a day after, the statutory one five days after,
/// the sign deadline 12 hours before. Shared by the benchmarks, so that they measure on the
/// same data.
pub async fn fill_open_orders(
    pool: &PgPool,
    config: &hotline_core::config::Config,
    shape: &OpenOrders,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let departments = config.department_codes();
    let matters: Vec<&str> = config.matters.iter().map(|m| m.code.as_str()).collect();
    let matter_names: Vec<&str> = config.matters.iter().map(|m| m.name.as_str()).collect();
    let districts: Vec<&str> = config.districts.iter().map(|(d, _)| d.as_str()).collect();
    let mut tx = hotline_store::begin(pool).await?;
    sqlx::query("SET LOCAL synchronous_commit = off")
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO orders (order_no, kind, channel, category, matter_code, matter_name,
                             district, urgency, title, content, state, department, rule,
                             dispatch_count, received_at, statutory_limit, warning_due_at,
                             committed_due_at, statutory_due_at, sign_due_at, accepted_at,
                             version)
         SELECT 'BENCH' || lpad(g::text, 9, '0'), 'complaint', 'phone',
                $3[1 + g % cardinality($3)], $3[1 + g % cardinality($3)],
                $4[1 + g % cardinality($4)],
                $5[1 + g % (cardinality($5) + 1)],
                CASE WHEN g % 50 = 0 THEN 'emergency' WHEN g % 10 = 0 THEN 'urgent'
                     ELSE 'normal' END,
                'bench', 'bench', s.state, $2[1 + g % cardinality($2)], 'bench', 1,
                now() - interval '1 hour', '15wd',
                w, w + interval '1 day', w + interval '5 days', w - interval '12 hours',
                CASE WHEN s.state = 'accepted' THEN now() END, 1
         FROM generate_series(1, $1::bigint) AS g,
              LATERAL (SELECT now() + $6::interval
                              + (g * 7919 % 2592000) * interval '1 second' AS w) AS d,
              LATERAL (SELECT CASE WHEN $7 > 0 AND g % $7 = 0 THEN 'dispatched'
                                   ELSE 'accepted' END AS state) AS s",
    )
    .bind(shape.orders)
    .bind(&departments)
    .bind(&matters)
    .bind(&matter_names)
    .bind(&districts)
    .bind(shape.first_warning)
    .bind(shape.dispatched_every)
    .execute(&mut *tx)
    .await?;
    if shape.timers {
        sqlx::query(
            "INSERT INTO timers (order_no, level, due_at, department, then_levels, then_due)
             SELECT order_no, 'warning', warning_due_at, department,
                    ARRAY['overdue', 'statutory_overdue'],
                    ARRAY[committed_due_at, statutory_due_at]
             FROM orders",
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    sqlx::query("VACUUM ANALYZE orders").execute(pool).await?;
    if shape.timers {
        sqlx::query("VACUUM ANALYZE timers").execute(pool).await?;
    }
    let timers: i64 = sqlx::query_scalar("SELECT count(*) FROM timers")
        .fetch_one(pool)
        .await?;
    println!(
        "filled {} open orders and {timers} live timers in {:.1}s",
        shape.orders,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
