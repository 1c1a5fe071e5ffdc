//! The HTTP server loop: hyper with a header-read timeout, each connection watched for a
//! graceful shutdown, and the router behind a concurrency limit and a request timeout.

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tower::ServiceBuilder;

/// A client has this long to send a request's headers (slow-loris clients are dropped).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A request has this long to be answered (the API's own retries stop at 10 s).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Requests served at once; more are answered 503 at once rather than queued.
pub const MAX_CONCURRENT_REQUESTS: usize = 256;
/// How long a shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Streams (Server-Sent Events, CSV exports) served at once, apart from the requests above
/// so that open streams cannot starve the API.
pub const MAX_CONCURRENT_STREAMS: usize = 64;

/// `answered` behind the concurrency limit and the request timeout, `streaming` behind a
/// limit of its own and no timeout: a request past a limit or the timeout is answered
/// (503, 408) without reaching a handler. `answered` keeps the fallback.
pub fn guarded(answered: Router, streaming: Router) -> Router {
    let answered = answered.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(refusal))
            .load_shed()
            .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                MAX_CONCURRENT_REQUESTS,
            ))
            .timeout(REQUEST_TIMEOUT),
    );
    let streaming = streaming.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(refusal))
            .load_shed()
            .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                MAX_CONCURRENT_STREAMS,
            )),
    );
    streaming.merge(answered)
}

async fn refusal(err: tower::BoxError) -> axum::response::Response {
    if err.is::<tower::timeout::error::Elapsed>() {
        (StatusCode::REQUEST_TIMEOUT, "the request took too long\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [("retry-after", "1")],
            "too many requests at once; retry\n",
        )
            .into_response()
    }
}

/// Serves `router` on `listener` until `shutdown`, then lets requests in flight finish
/// (for at most [`SHUTDOWN_GRACE`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let graceful = GracefulShutdown::new();
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let service = TowerToHyperService::new(router.clone());
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("HTTP connections still open after the grace period; closing them");
        }
    }
    Ok(())
}
