//! The HTTP API under `/api`: orders, events and alerts, for the call centre's front ends,
//! department systems and the supervision office. Every call carries a bearer token whose
//! role decides what it may see and do (see `docs/http-api.md`).

pub mod alert_stream;
pub mod alerts;
pub mod catalog;
pub mod events;
pub mod kpis;
pub mod order_list;
pub mod orders;
pub mod ranking;
pub mod sla;
pub mod tokens;

use super::session;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hotline_dispatcher::submit::Submitter;
use hotline_store::{PgPool, StoreError};
use std::sync::Arc;
use tokens::{Caller, Registry};

/// What the API's handlers share.
pub struct Api {
    pub pool: PgPool,
    /// The same submit path the AMQP intake applies events with.
    pub submitter: Submitter,
    pub tokens: Arc<Registry>,
    /// `intake.max_body_bytes`: larger events are rejected as `too_large`, as on AMQP.
    pub max_body_bytes: usize,
    /// How KPIs are counted where cities differ.
    pub kpi: hotline_core::config::KpiSettings,
    /// Cancelled when the engine stops: open streams end, so that a shutdown does not wait
    /// for clients that never hang up.
    pub shutdown: tokio_util::sync::CancellationToken,
}

/// The `/api` routes, to be nested under `/api` in a router of any state: those answered
/// within the request timeout, and those that stream for as long as the client reads
/// (kept apart so that the server gives them no timeout and a concurrency limit of their
/// own, see [`crate::http::server::guarded`]).
pub struct ApiRoutes<S> {
    pub answered: Router<S>,
    pub streaming: Router<S>,
}

pub fn routes<S: Clone + Send + Sync + 'static>(api: Arc<Api>) -> ApiRoutes<S> {
    let answered = Router::new()
        .route("/orders", get(order_list::list_orders))
        .route("/orders/{order_no}", get(orders::get_order))
        .route(
            "/events",
            post(events::post_event)
                .layer(axum::extract::DefaultBodyLimit::max(
                    events::http_body_limit(api.max_body_bytes),
                ))
                .layer(middleware::from_fn_with_state(
                    events::http_body_limit(api.max_body_bytes),
                    refuse_declared_oversize,
                )),
        )
        .route("/alerts", get(alerts::list_alerts))
        .route("/kpis", get(kpis::get_kpis))
        .route("/ranking", get(ranking::get_ranking))
        .route("/catalog", get(catalog::get_catalog))
        .route(
            "/route-preview",
            post(catalog::route_preview).layer(axum::extract::DefaultBodyLimit::max(
                events::http_body_limit(api.max_body_bytes),
            )),
        )
        .route("/whoami", get(whoami))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such API endpoint")
        })
        .layer(middleware::from_fn_with_state(api.clone(), authenticate))
        .with_state(api.clone());
    let streaming = Router::new()
        .route("/alerts/stream", get(alert_stream::stream_alerts))
        .route("/orders.csv", get(order_list::export_orders))
        .layer(middleware::from_fn_with_state(api.clone(), authenticate))
        .with_state(api);
    ApiRoutes {
        answered,
        streaming,
    }
}

/// Admits a request with `Authorization: Bearer <token>` of a known token, or, for the
/// pages' scripts, with a signed-in session's cookie (and, unless it only reads, the
/// session's form token in `X-CSRF-Token`); hands the caller to the handlers as a request
/// extension.
async fn authenticate(State(api): State<Arc<Api>>, mut request: Request, next: Next) -> Response {
    let caller = match request.headers().get(header::AUTHORIZATION) {
        Some(value) => match bearer_token(value.as_bytes()) {
            None => None,
            Some(token) => match api.tokens.authenticate_now(&api.pool, token).await {
                Ok(caller) => caller,
                Err(err) => return ApiError::database(&err).into_response(),
            },
        },
        None => match session::of_request(&api.pool, &api.tokens, request.headers()).await {
            Ok(Some(session)) => {
                let reads = matches!(*request.method(), Method::GET | Method::HEAD);
                let presented = request
                    .headers()
                    .get(session::CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                if !reads && !session::csrf_matches(&session, presented) {
                    return ApiError::forbidden(format!(
                        "a signed-in page must send its form token in {}",
                        session::CSRF_HEADER
                    ))
                    .into_response();
                }
                Some(session.caller)
            }
            Ok(None) => None,
            Err(err) => return ApiError::database(&err).into_response(),
        },
    };
    let Some(caller) = caller else {
        let mut response = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send Authorization: Bearer <token> with a token configured for this engine",
        )
        .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"hotline\""),
        );
        return response;
    };
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// Answers 413 from a declared `Content-Length` past the limit, before any of the body is
/// read: waiting for megabytes only to refuse them would hold the connection until the
/// request timeout (and a client that sent only the headers would see 408 instead).
async fn refuse_declared_oversize(
    State(limit): State<usize>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        let mut response = ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the HTTP body limit is {limit} bytes"),
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    next.run(request).await
}

/// The token of an `Authorization` header value `Bearer <token>` (scheme case-insensitive).
fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// `GET /api/whoami`: the role of the token presented (to check a client's setup).
async fn whoami(axum::Extension(caller): axum::Extension<Caller>) -> Response {
    axum::Json(serde_json::json!({
        "name": caller.name,
        "role": caller.role.name(),
        "department": caller.role.department(),
    }))
    .into_response()
}

/// An error answer: `{"error": "<code>", "message": "<for a person>"}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// A database fault: logged here, answered as 503 so that clients retry.
    pub fn database(err: &StoreError) -> ApiError {
        tracing::warn!(error = %err, "API request failed on the database");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the database did not answer; retry later",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry = self.status == StatusCode::SERVICE_UNAVAILABLE;
        let mut response = (
            self.status,
            axum::Json(serde_json::json!({"error": self.code, "message": self.message})),
        )
            .into_response();
        if retry {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn reads_bearer_tokens() {
        assert_eq!(bearer_token(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer_token(b"bearer  abc "), Some(&b"abc"[..]));
        assert_eq!(bearer_token(b"Basic abc"), None);
        assert_eq!(bearer_token(b"Bearer "), None);
        assert_eq!(bearer_token(b"Bearer"), None);
    }
}
