//! The HTTP role: health, readiness, Prometheus metrics, and the API under `/api`
//! (see [`api`] and `docs/http-api.md`).

pub mod api;

use api::Api;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use hotline_core::config::KpiSettings;
use hotline_runtime::metrics::metrics;
use hotline_store::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub amqp_url: String,
    /// What the `/api` routes need: tokens, the submit path events go through.
    pub api: Arc<Api>,
    /// How `hotline_satisfaction_ratio` counts.
    pub kpi: KpiSettings,
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
    let database = tokio::time::timeout(Duration::from_secs(2), hotline_store::ping(&state.pool))
        .await
        .unwrap_or(false);
    let broker = tokio::time::timeout(Duration::from_secs(2), async {
        let connection = hotline_runtime::amqp::connect(&state.amqp_url, "hotline-readyz").await?;
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
    match hotline_store::gauges::snapshot(&state.pool, &state.kpi).await {
        Ok(samples) => metrics().load_snapshot(
            samples
                .iter()
                .map(|s| (s.name.as_str(), &s.labels.0, s.value)),
        ),
        Err(err) => tracing::warn!(error = %err, "cannot refresh gauges from the database"),
    }
    (
        [("content-type", "text/plain; version=0.0.4")],
        metrics().render(),
    )
}
