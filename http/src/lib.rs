//! The HTTP role: health, readiness, Prometheus metrics, and the API under `/api`
//! (see [`api`] and `docs/http-api.md`); the pages (`hotline-pages`) are served beside it.

pub mod api;
pub mod limits;
pub mod server;
pub mod session;
#[cfg(test)]
mod test_support;

use api::Api;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use hotline_core::config::KpiSettings;
use hotline_runtime::health::{self, RoleState};
use hotline_runtime::metrics::metrics;
use hotline_schema::topology::INTAKE_QUEUE;
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

/// The probes and `/metrics`: on the API's listener, or on a listener of their own
/// (`HOTLINE_METRICS_ADDR`) to keep them off the API's network.
pub fn probes(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(state)
}

/// Routes served beside the API (the pages, `hotline-pages`): those that need a signed-in
/// session, and those that need none. The HTTP side does not know them; the binary brings
/// them, so that they depend on the API and never the other way round.
pub struct SideRoutes {
    pub signed_in: Router,
    /// Signed in, and taking a file (an attachment's form).
    pub uploads: Router,
    pub anonymous: Router,
}

/// The API under `/api` and the routes beside it (the pages), with the probes unless
/// they have a listener of their own, each group behind its own capacity
/// ([`server::guarded`]).
pub fn router(state: AppState, with_probes: bool, beside: SideRoutes) -> Router {
    let limits = state.api.limits.clone();
    let api::ApiRoutes {
        answered,
        streaming,
        uploads,
        public,
    } = api::routes(state.api.clone());
    let SideRoutes {
        signed_in,
        uploads: side_uploads,
        anonymous,
    } = beside;
    server::guarded(
        server::Groups {
            probes: with_probes.then(|| probes(state)),
            anonymous: Router::new().nest("/api", public).merge(anonymous),
            authenticated: Router::new().nest("/api", answered).merge(signed_in),
            streaming: Router::new().nest("/api", streaming),
            uploads: Router::new().nest("/api", uploads).merge(side_uploads),
        },
        limits,
    )
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    server::serve(listener, router, shutdown).await
}

/// Ready when the database and the broker answer and every role of this process is: not
/// restarting, and not stalled (no progress for a minute while work waits for it: events
/// on `hotline.intake`, messages in the outbox, timers due).
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let probe = Duration::from_secs(2);
    let database = tokio::time::timeout(probe, hotline_store::ping(&state.pool))
        .await
        .unwrap_or(false);
    let intake_queue = tokio::time::timeout(probe, async {
        let connection = hotline_runtime::amqp::connect(&state.amqp_url, "hotline-readyz").await?;
        let waiting = hotline_runtime::amqp::queue_depth(&connection, INTAKE_QUEUE).await;
        let _ = connection.close(200, "readiness probe".into()).await;
        waiting
    })
    .await;
    let (broker, intake_waiting) = match intake_queue {
        Ok(Ok(depth)) => (true, depth > 0),
        Ok(Err(_)) | Err(_) => (false, false),
    };
    let outbox_waiting = database
        && hotline_store::outbox::oldest_pending_seconds(&state.pool)
            .await
            .ok()
            .flatten()
            .is_some();
    let timers_waiting = database
        && hotline_store::timers::seconds_to_next(&state.pool)
            .await
            .ok()
            .flatten()
            .is_some_and(|s| s < 0.0);
    let mut roles = serde_json::Map::new();
    let mut all_ready = true;
    for (name, report) in health::report() {
        let waiting = match name {
            "intake" => intake_waiting,
            "relay" => outbox_waiting,
            "scheduler" => timers_waiting,
            _ => false,
        };
        // Work in hand (an intake's unacknowledged batch) waits as much as a queue's.
        let waiting = waiting || report.holding;
        let ready = health::ready(&report, waiting);
        all_ready &= ready;
        let (state, error) = match &report.state {
            RoleState::Starting => ("starting", None),
            RoleState::Running => ("running", None),
            RoleState::Restarting(error) => ("restarting", Some(error.clone())),
        };
        roles.insert(
            name.to_owned(),
            serde_json::json!({
                "ready": ready,
                "state": state,
                "idle_seconds": report.idle_for.as_secs(),
                "work_waiting": waiting,
                "error": error,
            }),
        );
    }
    let status = if database && broker && all_ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({"database": database, "broker": broker, "roles": roles});
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
        [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
        metrics().render(),
    )
}
