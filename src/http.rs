//! The HTTP role: health, readiness, Prometheus metrics, and the API under `/api`
//! (see [`crate::api`] and `docs/http-api.md`).

use crate::api::{self, Api};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use hotline_schema::metrics::metrics;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub amqp_url: String,
    /// What the `/api` routes need: tokens, the dispatcher events are applied with.
    pub api: Arc<Api>,
    /// How `hotline_satisfaction_ratio` counts.
    pub satisfaction: crate::gauges::SatisfactionRule,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .nest("/api", api::router(state.api.clone()))
        .with_state(state)
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await?;
    Ok(())
}

/// Ready when both the database and the broker answer.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let database = tokio::time::timeout(
        Duration::from_secs(2),
        sqlx::query("SELECT 1").execute(&state.pool),
    )
    .await
    .map(|r| r.is_ok())
    .unwrap_or(false);
    let broker = tokio::time::timeout(Duration::from_secs(2), async {
        let connection =
            lapin::Connection::connect(&state.amqp_url, lapin::ConnectionProperties::default())
                .await?;
        connection.close(200, "readiness probe".into()).await
    })
    .await
    .map(|r| r.is_ok())
    .unwrap_or(false);
    let status = if database && broker {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({"database": database, "broker": broker});
    (status, axum::Json(body))
}

/// Refreshes the gauges that describe the whole system from the database, then renders.
async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    if let Err(err) = crate::gauges::refresh(&state.pool, state.satisfaction).await {
        tracing::warn!(error = %err, "cannot refresh gauges from the database");
    }
    (
        [("content-type", "text/plain; version=0.0.4")],
        metrics().render(),
    )
}
