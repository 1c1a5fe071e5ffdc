//! The HTTP server loop: hyper with a header-read timeout, each connection watched for a
//! graceful shutdown, and the routes in groups that each have capacity of their own
//! ([`super::limits`]), behind one edge layer that every request passes first.

use super::limits::{self, Limits, Peer, Refusal};
use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tower::{ServiceBuilder, ServiceExt};

/// A client has this long to send a request's headers (slow-loris clients are dropped).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A request has this long to be answered (the API's own retries stop at 10 s).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Requests with a known token or session served at once; more are answered 503 at once
/// rather than queued.
pub const MAX_CONCURRENT_REQUESTS: usize = 256;
/// Uploads (attachments) served at once in all: each holds its file in memory until stored.
pub const MAX_UPLOADS_AT_ONCE: usize = 16;
/// An upload has this long to be answered: its body's time and then the storing.
pub const UPLOAD_TIMEOUT: Duration = Duration::from_secs(150);
/// How long a shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Connections open at once from one address: a client that opens connections and sends
/// nothing (or little) cannot take every socket. A proxy in front multiplexes its clients
/// over keep-alive connections, well within this.
pub const CONNECTIONS_PER_ADDRESS: usize = 512;
/// Connections open at once in all, well under the process's file limit.
pub const MAX_CONNECTIONS: usize = 8192;

hotline_schema::named_enum! {
    /// Why a connection was closed before any request on it was read; counted in
    /// `hotline_http_refused_total{reason}` with the requests' refusals.
    pub enum ConnectionRefusal("connection refusal") {
        /// No request begun within [`HEADER_READ_TIMEOUT`] of connecting (nothing sent, or
        /// only a beginning of the HTTP/2 preface).
        Silent = "silent",
        /// [`CONNECTIONS_PER_ADDRESS`] from the address, or [`MAX_CONNECTIONS`] in all,
        /// are open already.
        TooManyConnections = "too_many_connections",
    }
}

/// The HTTP/2 connection preface a client with prior knowledge sends first.
const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Whether the client has begun a request within [`HEADER_READ_TIMEOUT`]: any first bytes
/// of HTTP/1 (whose header timeout then runs in hyper), or the whole HTTP/2 preface.
/// hyper-util's version detection waits for those bytes with no timer of its own.
async fn begun(stream: &tokio::net::TcpStream) -> bool {
    let mut first = [0u8; HTTP2_PREFACE.len()];
    let looked = tokio::time::timeout(HEADER_READ_TIMEOUT, async {
        loop {
            match stream.peek(&mut first).await {
                Ok(0) | Err(_) => return false,
                Ok(n) if n == first.len() || !HTTP2_PREFACE.starts_with(&first[..n]) => {
                    return true;
                }
                // A part of the preface: peek returns at once while those bytes wait, so
                // look again a little later for the rest.
                Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await;
    looked.unwrap_or(false)
}

fn refuse_connection(refusal: ConnectionRefusal) {
    hotline_runtime::metrics::metrics().http_refused(refusal.as_str());
}
/// The largest body an anonymous request may carry (a sign-in form).
pub const ANONYMOUS_BODY_LIMIT: usize = 8 * 1024;

/// The routes of one listener, by the capacity they draw on.
pub struct Groups {
    /// `/healthz`, `/readyz`, `/metrics`: capacity of their own.
    pub probes: Option<Router>,
    /// Needs no credential: signing in, the assets, the API's document.
    pub anonymous: Router,
    /// Authenticates first (a bearer token or a session), then draws on its token's share
    /// ([`limits::per_token`], applied by the group's own authentication).
    pub authenticated: Router,
    /// Streams, authenticated the same way, each holding its slot until it ends
    /// ([`limits::stream`]).
    pub streaming: Router,
    /// Uploads, authenticated the same way, with a larger body and more time to send it
    /// ([`limits::upload`]), [`MAX_UPLOADS_AT_ONCE`] in all.
    pub uploads: Router,
}

/// One router of every group, each behind its capacity, and all behind [`edge`].
pub fn guarded(groups: Groups, limits: Arc<Limits>) -> Router {
    let authenticated = groups.authenticated.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(refusal))
            .load_shed()
            .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                MAX_CONCURRENT_REQUESTS,
            ))
            .timeout(REQUEST_TIMEOUT),
    );
    let anonymous = groups.anonymous.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(refusal))
            .timeout(REQUEST_TIMEOUT)
            .layer(middleware::from_fn_with_state(
                (limits.clone(), ANONYMOUS_BODY_LIMIT),
                limits::anonymous,
            )),
    );
    let uploads = groups.uploads.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(refusal))
            .load_shed()
            .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                MAX_UPLOADS_AT_ONCE,
            ))
            .timeout(UPLOAD_TIMEOUT),
    );
    let mut router = groups
        .streaming
        .merge(uploads)
        .merge(authenticated)
        .merge(anonymous);
    if let Some(probes) = groups.probes {
        router = router.merge(probes_guarded(probes));
    }
    router.layer(middleware::from_fn_with_state(limits, edge))
}

/// The probes behind a limit of their own (for a listener of their own, or merged).
pub fn probes_guarded(probes: Router) -> Router {
    probes.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(refusal))
            .load_shed()
            .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                limits::PROBE_SLOTS,
            ))
            .timeout(REQUEST_TIMEOUT),
    )
}

/// A listener of the probes alone (`HOTLINE_METRICS_ADDR`).
pub fn probes_only(probes: Router, limits: Arc<Limits>) -> Router {
    probes_guarded(probes).layer(middleware::from_fn_with_state(limits, edge))
}

async fn refusal(err: tower::BoxError) -> Response {
    // The path is not known here: the edge layer turns a plain answer under /api into the
    // API's JSON error.
    if err.is::<tower::timeout::error::Elapsed>() {
        (StatusCode::REQUEST_TIMEOUT, "the request took too long\n").into_response()
    } else {
        limits::refusal("", Refusal::Busy, None)
    }
}

/// What every request passes first: its client's address is worked out; a path or query
/// the database could not hold (a NUL) or that is not UTF-8 is refused 400; and every
/// answer under `/api` is in the API's JSON error format when it is an error, and is
/// neither cached nor sniffed.
async fn edge(State(limits): State<Arc<Limits>>, mut request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<Peer>()
        .map(|peer| peer.0.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    let client = limits.trusted_proxies.client(peer, request.headers());
    request.extensions_mut().insert(client);
    let path = request.uri().path().to_owned();
    let target_ok = decodes_cleanly(&path) && request.uri().query().is_none_or(decodes_cleanly);
    let response = if target_ok {
        next.run(request).await
    } else {
        limits::refusal(&path, Refusal::BadTarget, None)
    };
    if path == "/api" || path.starts_with("/api/") {
        api_answer(response).await
    } else {
        response
    }
}

/// Whether a path or query, percent-decoded (`+` is a space either way), is UTF-8 without
/// a NUL: what every handler and the database can take.
pub fn decodes_cleanly(text: &str) -> bool {
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(text).collect();
    !decoded.contains(&0) && std::str::from_utf8(&decoded).is_ok()
}

/// An `/api` answer as the API documents it: an error in `{"error", "message"}` whatever
/// produced it (axum's own rejections are plain text), and `Cache-Control: no-store`
/// and `X-Content-Type-Options: nosniff` on every answer (they carry citizens' data).
async fn api_answer(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let mut response = if (status.is_client_error() || status.is_server_error()) && !is_json {
        let (parts, body) = response.into_parts();
        let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
        let text = String::from_utf8_lossy(&text).trim().to_owned();
        let message = if text.is_empty() {
            status
                .canonical_reason()
                .unwrap_or("refused")
                .to_lowercase()
        } else {
            text
        };
        let mut answer =
            crate::api::ApiError::new(status, error_code(status), message).into_response();
        for name in [
            header::RETRY_AFTER,
            header::ALLOW,
            header::WWW_AUTHENTICATE,
            header::CONNECTION,
        ] {
            if let Some(value) = parts.headers.get(&name) {
                answer.headers_mut().insert(name, value.clone());
            }
        }
        answer
    } else {
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The `error` code of an answer that came without one.
fn error_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "bad_body",
        StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        _ if status.is_server_error() => "internal",
        _ => "bad_request",
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
    for refusal in ConnectionRefusal::ALL.iter().copied() {
        // Exported at zero from the start, like every closed-set series.
        hotline_runtime::metrics::metrics()
            .http_refused
            .with_label_values(&[refusal.as_str()]);
    }
    let per_address = limits::KeyedSlots::new(CONNECTIONS_PER_ADDRESS);
    let in_all = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let (Some(from_address), Ok(of_all)) = (
            per_address.try_take(&peer.ip()),
            in_all.clone().try_acquire_owned(),
        ) else {
            refuse_connection(ConnectionRefusal::TooManyConnections);
            continue;
        };
        let service = router.clone().map_request(
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(Peer(peer));
                request
            },
        );
        let service = TowerToHyperService::new(service);
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _held = (from_address, of_all);
            if !begun(&stream).await {
                refuse_connection(ConnectionRefusal::Silent);
                return;
            }
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned();
            let _ = watcher.watch(connection).await;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::body_text;

    #[test]
    fn paths_and_queries_must_decode_to_utf8_without_nul() {
        // (path or query, clean)
        let cases = [
            ("/api/orders/PT1", true),
            ("department=SCJGJ&q=%E9%A3%9F%E5%93%81", true),
            ("q=a+b", true),
            ("department=%00", false),
            ("/orders/%00", false),
            ("q=%ff", false),
            ("q=%E9%A3", false),
            ("q=%zz", true),
            ("q=%", true),
        ];
        for (text, clean) in cases {
            assert_eq!(decodes_cleanly(text), clean, "{text}");
        }
    }

    #[test]
    fn an_anonymous_body_holds_8_kib_as_the_documents_say() {
        // docs/RELIABILITY.md and docs/http-api.md: "8 KiB without a token".
        assert_eq!(ANONYMOUS_BODY_LIMIT, 8192);
    }

    #[test]
    fn an_error_without_a_code_gets_the_one_of_its_status() {
        // (status, error code)
        let cases = [
            (StatusCode::BAD_REQUEST, "bad_request"),
            (StatusCode::UNAUTHORIZED, "unauthorized"),
            (StatusCode::FORBIDDEN, "forbidden"),
            (StatusCode::NOT_FOUND, "not_found"),
            (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            (StatusCode::UNPROCESSABLE_ENTITY, "bad_body"),
            (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            (StatusCode::BAD_GATEWAY, "internal"),
            (StatusCode::CONFLICT, "bad_request"),
            (StatusCode::IM_A_TEAPOT, "bad_request"),
        ];
        for (status, code) in cases {
            assert_eq!(error_code(status), code, "{status}");
        }
    }

    #[tokio::test]
    async fn api_errors_become_json_and_no_api_answer_is_cached_or_sniffed() {
        let plain = |status: StatusCode, text: &'static str| (status, text).into_response();
        let json = |status: StatusCode, body: &'static str| {
            (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        };
        let mut not_allowed = plain(StatusCode::METHOD_NOT_ALLOWED, "");
        not_allowed
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET,HEAD"));
        // (answer, its status and body after api_answer)
        let cases = [
            (
                plain(StatusCode::NOT_FOUND, "no route\n"),
                StatusCode::NOT_FOUND,
                r#"{"error":"not_found","message":"no route"}"#,
            ),
            (
                not_allowed,
                StatusCode::METHOD_NOT_ALLOWED,
                r#"{"error":"method_not_allowed","message":"method not allowed"}"#,
            ),
            (
                plain(StatusCode::BAD_GATEWAY, "upstream"),
                StatusCode::BAD_GATEWAY,
                r#"{"error":"internal","message":"upstream"}"#,
            ),
            (
                json(
                    StatusCode::BAD_REQUEST,
                    r#"{"error":"bad_request","message":"x"}"#,
                ),
                StatusCode::BAD_REQUEST,
                r#"{"error":"bad_request","message":"x"}"#,
            ),
            (plain(StatusCode::OK, "fine"), StatusCode::OK, "fine"),
            (
                plain(StatusCode::SWITCHING_PROTOCOLS, "up"),
                StatusCode::SWITCHING_PROTOCOLS,
                "up",
            ),
        ];
        for (n, (response, status, body)) in cases.into_iter().enumerate() {
            let allow = response.headers().get(header::ALLOW).cloned();
            let answer = api_answer(response).await;
            assert_eq!(answer.status(), status, "case {n}");
            let headers = answer.headers();
            assert_eq!(headers[header::CACHE_CONTROL], "no-store", "case {n}");
            assert_eq!(
                headers[header::X_CONTENT_TYPE_OPTIONS],
                "nosniff",
                "case {n}"
            );
            assert_eq!(headers.get(header::ALLOW), allow.as_ref(), "case {n}");
            assert_eq!(body_text(answer).await, body, "case {n}");
        }
    }

    #[tokio::test]
    async fn a_request_timed_out_is_408_and_one_shed_is_503_to_retry() {
        let timed_out = refusal(Box::new(tower::timeout::error::Elapsed::new())).await;
        assert_eq!(timed_out.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(body_text(timed_out).await, "the request took too long\n");
        let shed = refusal(Box::new(tower::load_shed::error::Overloaded::new())).await;
        assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(shed.headers()[header::RETRY_AFTER], "1");
    }
}
