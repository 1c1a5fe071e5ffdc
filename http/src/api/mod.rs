//! The HTTP API under `/api`: orders, events and alerts, for the call centre's front ends,
//! department systems and the supervision office. Every call carries a bearer token whose
//! role decides what it may see and do (see `docs/http-api.md`).

pub mod alert_stream;
pub mod alerts;
pub mod attachments;
pub mod catalog;
pub mod events;
pub mod kpis;
pub mod list_query;
pub mod notes;
pub mod openapi;
pub mod order_list;
pub mod orders;
pub mod parameters;
pub mod ranking;
pub mod sla;
pub mod tokens;

use super::limits::{self, FailureKey, Limits};
use super::session;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hotline_dispatcher::submit::Submitter;
use hotline_store::{PgPool, StoreError};
use openapi::ErrorBody;
use std::sync::Arc;
use tokens::{Caller, Registry};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

/// What the API's handlers share.
pub struct Api {
    pub pool: PgPool,
    /// The same submit path the AMQP intake applies events with. Private: whatever acts
    /// goes through [`events::submit_as`], as an account, so that the pages can do nothing
    /// the API would not let the same account do.
    submitter: Submitter,
    pub tokens: Arc<Registry>,
    /// `intake.max_body_bytes`: larger events are rejected as `too_large`, as on AMQP.
    pub max_body_bytes: usize,
    /// How KPIs are counted where cities differ.
    pub kpi: hotline_core::config::KpiSettings,
    /// Cancelled when the engine stops: open streams end, so that a shutdown does not wait
    /// for clients that never hang up.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// What each client may hold of the HTTP side.
    pub limits: Arc<Limits>,
    /// Where attachments' files are, and their limits.
    pub attachments: attachments::Attachments,
}

impl Api {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        pool: PgPool,
        submitter: Submitter,
        tokens: Arc<Registry>,
        max_body_bytes: usize,
        kpi: hotline_core::config::KpiSettings,
        shutdown: tokio_util::sync::CancellationToken,
        limits: Arc<Limits>,
        attachments: attachments::Attachments,
    ) -> Api {
        Api {
            pool,
            submitter,
            tokens,
            max_body_bytes,
            kpi,
            shutdown,
            limits,
            attachments,
        }
    }

    /// The catalog, routing and SLA rules in force (they change on a reload).
    pub fn rules(&self) -> Arc<hotline_core::rules::Rules> {
        self.submitter.rules.current()
    }
}

/// The `/api` routes, to be nested under `/api` in a router of any state: those answered
/// within the request timeout, and those that stream for as long as the client reads
/// (kept apart so that the server gives them no timeout and a concurrency limit of their
/// own, see [`crate::server::guarded`]).
pub struct ApiRoutes<S> {
    pub answered: Router<S>,
    pub streaming: Router<S>,
    /// Take a file: a larger body, more time to send it ([`limits::upload`]).
    pub uploads: Router<S>,
    /// Needs no caller: the API's own description.
    pub public: Router<S>,
}

/// The routes that need a caller and are answered within the request timeout, each
/// registered with the operation its handler declares (`#[utoipa::path]`): what is served
/// is what [`openapi::document`] says.
pub(crate) fn answered_endpoints(body_limit: usize) -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::new()
        .routes(routes!(order_list::list_orders))
        .routes(routes!(orders::get_order))
        .routes(routes!(events::post_event).layer(axum::extract::DefaultBodyLimit::max(body_limit)))
        .routes(routes!(alerts::list_alerts))
        .routes(routes!(kpis::get_kpis))
        .routes(routes!(ranking::get_ranking))
        .routes(routes!(attachments::list_attachments))
        .routes(routes!(attachments::get_attachment))
        .routes(
            routes!(attachments::post_recording)
                .layer(axum::extract::DefaultBodyLimit::max(body_limit)),
        )
        .routes(
            routes!(notes::get_notes, notes::post_note)
                .layer(axum::extract::DefaultBodyLimit::max(body_limit)),
        )
        .routes(routes!(catalog::get_catalog))
        .routes(
            routes!(catalog::route_preview).layer(axum::extract::DefaultBodyLimit::max(body_limit)),
        )
        .routes(routes!(whoami))
}

/// The routes that need a caller and stream for as long as the client reads.
pub(crate) fn streaming_endpoints() -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::new()
        .routes(routes!(alert_stream::stream_alerts))
        .routes(routes!(order_list::export_orders))
}

/// The routes that need a caller and take a file: their own body limit and time
/// ([`limits::upload`]).
pub(crate) fn upload_endpoints() -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::new().routes(routes!(attachments::upload_attachment))
}

/// The routes that need no caller: the API's own description.
pub(crate) fn public_endpoints() -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::new().routes(routes!(openapi::openapi_json))
}

pub fn routes<S: Clone + Send + Sync + 'static>(api: Arc<Api>) -> ApiRoutes<S> {
    // The HTTP body limit is the event limit itself (`intake.max_body_bytes`): a larger
    // body is refused 413 and not kept, so a body nobody could accept never fills the
    // database or the dead-letter queue.
    let body_limit = api.max_body_bytes;
    let (answered, _) = answered_endpoints(body_limit).split_for_parts();
    let (public, _) = public_endpoints().split_for_parts();
    let public = public.layer(middleware::from_fn(parameters::one_rule));
    let (streaming, _) = streaming_endpoints().split_for_parts();
    let (uploads, _) = upload_endpoints().split_for_parts();
    // Layers run outside in: authenticate, then the token's share (and its body read).
    let answered = answered
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such API endpoint")
        })
        .layer(middleware::from_fn(parameters::one_rule))
        .layer(middleware::from_fn_with_state(
            (api.limits.clone(), body_limit),
            limits::per_token,
        ))
        .layer(middleware::from_fn_with_state(api.clone(), authenticate))
        .with_state(api.clone());
    let streaming = streaming
        .layer(middleware::from_fn(parameters::one_rule))
        .layer(middleware::from_fn_with_state(
            api.limits.clone(),
            limits::stream,
        ))
        .layer(middleware::from_fn_with_state(api.clone(), authenticate))
        .with_state(api.clone());
    let upload_limit = api.attachments.settings.max_bytes + attachments::FORM_OVERHEAD_BYTES;
    let uploads = uploads
        .layer(middleware::from_fn(parameters::one_rule))
        .layer(middleware::from_fn_with_state(
            (api.limits.clone(), upload_limit),
            limits::upload,
        ))
        .layer(middleware::from_fn_with_state(api.clone(), authenticate))
        .with_state(api.clone());
    ApiRoutes {
        answered,
        streaming,
        uploads,
        public: public.with_state(api),
    }
}

/// Admits a request with `Authorization: Bearer <token>` of a known token, or, for the
/// pages' scripts, with a signed-in session's cookie (and, unless it only reads, the
/// session's form token in `X-CSRF-Token`); hands the caller to the handlers as a request
/// extension. Failed bearer tokens are counted per client address and token prefix: past
/// their limit, the next is refused 429 before it is looked at.
async fn authenticate(State(api): State<Arc<Api>>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let client = limits::client_of(&request);
    let caller = match request.headers().get(header::AUTHORIZATION) {
        Some(value) => match bearer_token(value.as_bytes()) {
            None => None,
            Some(token) => {
                let keys = vec![
                    FailureKey::BearerFrom(client.0),
                    FailureKey::token_prefix(token),
                ];
                if let Some(refused) = api.limits.locked_out(&path, &keys) {
                    tracing::info!(client = %client, "bearer token refused: too many failures");
                    return refused;
                }
                match api.tokens.authenticate_now(&api.pool, token).await {
                    Ok(Some(caller)) => Some(caller),
                    Ok(None) => {
                        tracing::info!(client = %client, "API request with an unknown or revoked token");
                        api.limits.record_failure(keys);
                        None
                    }
                    Err(err) => return ApiError::database(&err).into_response(),
                }
            }
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
    request.extensions_mut().insert(limits::Admitted {
        token_name: caller.name.clone(),
    });
    request.extensions_mut().insert(caller);
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

/// `GET /api/whoami`'s answer: who the token presented is.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct WhoAmI {
    /// The token's name (`call-centre-07`, `env#1`): the actor of what it posts.
    pub name: String,
    /// `operator`, `handler` or `supervisor`.
    #[schema(example = "handler")]
    pub role: &'static str,
    /// A handler's department; `null` for the roles that see every department.
    pub department: Option<String>,
}

/// `GET /api/whoami`: the role of the token presented (to check a client's setup).
#[utoipa::path(
    get,
    path = "/whoami",
    tag = "accounts",
    summary = "Who the token presented is",
    responses(
        (status = 200, description = "The token's name and role", body = WhoAmI),
        (status = 401, response = openapi::Unauthorized),
        (status = 503, response = openapi::Unavailable),
    ),
)]
async fn whoami(axum::Extension(caller): axum::Extension<Caller>) -> axum::Json<WhoAmI> {
    axum::Json(WhoAmI {
        name: caller.name,
        role: caller.role.name(),
        department: caller.role.department().map(str::to_owned),
    })
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
            axum::Json(ErrorBody {
                error: self.code,
                message: self.message,
            }),
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
    use super::{ApiError, IntoResponse, StatusCode, bearer_token, header};

    #[tokio::test]
    async fn an_error_is_json_and_a_503_says_retry_after_a_second() {
        // (error, status, body, Retry-After)
        let cases = [
            (
                ApiError::bad_request("no such level"),
                StatusCode::BAD_REQUEST,
                r#"{"error":"bad_request","message":"no such level"}"#,
                None,
            ),
            (
                ApiError::forbidden("not yours"),
                StatusCode::FORBIDDEN,
                r#"{"error":"forbidden","message":"not yours"}"#,
                None,
            ),
            (
                ApiError::not_found("no order PT1"),
                StatusCode::NOT_FOUND,
                r#"{"error":"not_found","message":"no order PT1"}"#,
                None,
            ),
            (
                ApiError::database(&hotline_store::StoreError::Unavailable("down".into())),
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"error":"unavailable","message":"the database did not answer; retry later"}"#,
                Some("1"),
            ),
        ];
        for (error, status, body, retry_after) in cases {
            let response = error.into_response();
            assert_eq!(response.status(), status);
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
            let retry = response.headers().get(header::RETRY_AFTER).cloned();
            assert_eq!(
                retry.as_ref().map(|v| v.to_str().unwrap()),
                retry_after,
                "{status}"
            );
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            assert_eq!(std::str::from_utf8(&bytes).unwrap(), body);
        }
    }

    #[test]
    fn reads_bearer_tokens() {
        assert_eq!(bearer_token(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer_token(b"bearer  abc "), Some(&b"abc"[..]));
        assert_eq!(bearer_token(b"Basic abc"), None);
        assert_eq!(bearer_token(b"Bearer "), None);
        assert_eq!(bearer_token(b"Bearer"), None);
    }
}
