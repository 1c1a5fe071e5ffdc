//! What one client may hold of the HTTP side, so that no client, with a token or without,
//! can take it from the others (docs/RELIABILITY.md, "HTTP", has each limit and why).
//!
//! Requests fall into four groups, each with capacity of its own:
//! - the probes and `/metrics` ([`PROBE_SLOTS`]);
//! - anonymous requests — signing in, the assets, the API's document — bounded in total
//!   ([`ANONYMOUS_SLOTS`]), per client address at once ([`ANONYMOUS_SLOTS_PER_ADDRESS`])
//!   and per client address over time ([`ANONYMOUS_RATE`]);
//! - requests with a token or a session, admitted only once the credential is known, then
//!   bounded in total ([`crate::server::MAX_CONCURRENT_REQUESTS`]), per token at once
//!   ([`TOKEN_SLOTS`]) and per token over time ([`TOKEN_RATE`]);
//! - streams (the alert stream, the CSV export), which hold their slot until they end:
//!   [`STREAM_SLOTS`] in total, [`STREAMS_PER_TOKEN`] per token.
//!
//! A body must arrive whole within [`BODY_TIMEOUT`] of the request being admitted, and is
//! read only after that: a client that sends a body slowly holds one slot of its own group
//! for at most that long. Failed credentials (a token at sign-in, a bearer token) are
//! counted per client address and per token prefix ([`FailureLog`]); past their limit the
//! next attempt is refused with 429 before the credential is even looked at.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use hotline_runtime::metrics::metrics;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Probes and `/metrics` served at once, apart from everything else: a load balancer's
/// health check answers even while the API is saturated.
pub const PROBE_SLOTS: usize = 32;
/// Anonymous requests (sign-in, assets, the API's document) served at once, in total.
pub const ANONYMOUS_SLOTS: usize = 64;
/// … and from one client address.
pub const ANONYMOUS_SLOTS_PER_ADDRESS: usize = 16;
/// Anonymous requests one client address may start: 20 a second, in bursts of 100 (a page
/// and its assets are three requests).
pub const ANONYMOUS_RATE: (u32, u32) = (20, 100);
/// Requests one token (or the sessions signed in with it) is served at once.
pub const TOKEN_SLOTS: usize = 64;
/// Requests one token may start: 200 a second, in bursts of 1,000.
pub const TOKEN_RATE: (u32, u32) = (200, 1000);
/// Streams (alert streams, CSV exports) open at once, in total; each holds its slot until
/// it ends.
pub const STREAM_SLOTS: usize = 256;
/// … and per token.
pub const STREAMS_PER_TOKEN: usize = 64;
/// A request's body must have arrived whole this long after the request was admitted, or
/// it is answered 408 and the connection closed.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// An upload's file (an attachment, up to `[attachments] max_bytes`) must have arrived whole
/// this long after the request was admitted: 10 MiB at 1 Mbit/s, a phone's slow network.
pub const UPLOAD_BODY_TIMEOUT: Duration = Duration::from_secs(120);
/// Failed sign-ins from one address within [`FAILURE_WINDOW`] before the next is refused.
pub const SIGNIN_FAILURES: usize = 10;
/// Failed bearer tokens from one address, or with one prefix, within the window. Higher
/// than sign-in's: a system whose token was just revoked retries for a while.
pub const BEARER_FAILURES: usize = 60;
/// The window failures are counted in.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// How many bytes of a presented token key its failures (a token's prefix, so that guesses
/// at one token from many addresses are counted together).
pub const TOKEN_PREFIX_BYTES: usize = 8;
/// Addresses and prefixes whose failures are kept at once; past this the oldest are
/// forgotten first.
const MAX_FAILURE_KEYS: usize = 100_000;

/// The connection's peer, set by the server on every request.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// The client's address: the peer's, or, when the peer is a trusted proxy, the last
/// address in `X-Forwarded-For` that is not one (`HOTLINE_TRUSTED_PROXIES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub IpAddr);

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpAddr>);

impl TrustedProxies {
    /// Reads `HOTLINE_TRUSTED_PROXIES`: addresses separated by commas (none by default).
    pub fn from_env() -> anyhow::Result<TrustedProxies> {
        match std::env::var("HOTLINE_TRUSTED_PROXIES") {
            Ok(list) => TrustedProxies::parse(&list)
                .map_err(|fault| anyhow::anyhow!("HOTLINE_TRUSTED_PROXIES: {fault}")),
            Err(_) => Ok(TrustedProxies::default()),
        }
    }

    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        list.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<IpAddr>()
                    .map_err(|_| format!("{item:?} is not an IP address"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.contains(&canonical(address))
    }

    /// The client behind `peer`, given the request's headers.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> ClientAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return ClientAddr(peer);
        }
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .map(|hop| hop.parse::<IpAddr>().ok())
            .collect::<Option<Vec<_>>>()
            .unwrap_or_default();
        // The last hop not a proxy of ours is the one our proxies saw; anything before it
        // the client could have written itself.
        let client = forwarded
            .into_iter()
            .rev()
            .map(canonical)
            .find(|hop| !self.trusts(*hop))
            .unwrap_or(peer);
        ClientAddr(client)
    }
}

/// IPv4-mapped IPv6 addresses as IPv4, so that one client has one address.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The key an address's limits are counted under: an IPv6 client controls a whole /64, so
/// it is counted as one.
fn address_key(address: ClientAddr) -> IpAddr {
    match address.0 {
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(
                segments[0],
                segments[1],
                segments[2],
                segments[3],
                0,
                0,
                0,
                0,
            ))
        }
        v4 => v4,
    }
}

/// A bounded number of slots per key: at most `cap` held at once for any one key. Keys
/// exist only while a slot is held, so the map is as large as what is in flight.
pub struct KeyedSlots<K> {
    cap: usize,
    held: Arc<Mutex<HashMap<K, usize>>>,
}

/// A slot of a [`KeyedSlots`], given back when dropped.
pub struct Slot<K: Hash + Eq> {
    key: K,
    held: Arc<Mutex<HashMap<K, usize>>>,
}

impl<K: Hash + Eq + Clone> KeyedSlots<K> {
    pub fn new(cap: usize) -> KeyedSlots<K> {
        KeyedSlots {
            cap,
            held: Arc::default(),
        }
    }

    /// A slot for `key`, unless `key` holds `cap` already.
    pub fn try_take(&self, key: &K) -> Option<Slot<K>> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let count = held.entry(key.clone()).or_insert(0);
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(Slot {
            key: key.clone(),
            held: self.held.clone(),
        })
    }

    #[cfg(test)]
    fn keys(&self) -> usize {
        self.held.lock().unwrap().len()
    }
}

impl<K: Hash + Eq> Drop for Slot<K> {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = held.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.key);
            }
        }
    }
}

/// What failed credentials are counted under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FailureKey {
    /// Failed sign-ins at `/signin` from an address.
    SigninFrom(IpAddr),
    /// Failed bearer tokens from an address.
    BearerFrom(IpAddr),
    /// Failed tokens, at sign-in or as bearer, beginning with these bytes.
    TokenPrefix(Vec<u8>),
}

impl FailureKey {
    fn limit(&self) -> usize {
        match self {
            FailureKey::SigninFrom(_) => SIGNIN_FAILURES,
            FailureKey::BearerFrom(_) | FailureKey::TokenPrefix(_) => BEARER_FAILURES,
        }
    }

    pub fn token_prefix(presented: &[u8]) -> FailureKey {
        FailureKey::TokenPrefix(presented[..presented.len().min(TOKEN_PREFIX_BYTES)].to_vec())
    }
}

/// Failed credentials per key within the last [`FAILURE_WINDOW`]. Only failures count, so
/// that an office behind one address can sign in all at once; a key at its limit is
/// refused before its next credential is looked at. (A rate limiter such as governor's
/// counts every attempt and cannot be asked without spending one, hence this log.)
pub struct FailureLog {
    failures: Mutex<HashMap<FailureKey, VecDeque<Instant>>>,
    /// Keys kept at once: [`MAX_FAILURE_KEYS`] (fewer in tests).
    max_keys: usize,
}

impl Default for FailureLog {
    fn default() -> Self {
        FailureLog {
            failures: Mutex::new(HashMap::new()),
            max_keys: MAX_FAILURE_KEYS,
        }
    }
}

impl FailureLog {
    /// How long until `key` may try again, if it is at its limit.
    pub fn locked(&self, key: &FailureKey, now: Instant) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let times = failures.get(key)?;
        let recent: Vec<&Instant> = times
            .iter()
            .filter(|t| now.saturating_duration_since(**t) < FAILURE_WINDOW)
            .collect();
        if recent.len() < key.limit() {
            return None;
        }
        // Free again when the oldest failure that keeps it at the limit leaves the window.
        let oldest = recent[recent.len() - key.limit()];
        Some(FAILURE_WINDOW.saturating_sub(now.saturating_duration_since(*oldest)))
    }

    /// Records a failure of `key` at `now`.
    pub fn record(&self, key: FailureKey, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= self.max_keys && !failures.contains_key(&key) {
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.saturating_duration_since(*t) < FAILURE_WINDOW)
            });
            if failures.len() >= self.max_keys {
                // Still full of live keys: forget the one whose last failure is oldest.
                if let Some(stalest) = failures
                    .iter()
                    .min_by_key(|(_, times)| times.back().copied())
                    .map(|(key, _)| key.clone())
                {
                    failures.remove(&stalest);
                }
            }
        }
        let limit = key.limit();
        let times = failures.entry(key).or_default();
        times.push_back(now);
        while times.len() > limit {
            times.pop_front();
        }
    }
}

/// Every limit one HTTP listener enforces, shared by its routes.
pub struct Limits {
    pub trusted_proxies: TrustedProxies,
    anonymous_total: Arc<Semaphore>,
    anonymous_at_once: KeyedSlots<IpAddr>,
    anonymous_rate: DefaultKeyedRateLimiter<IpAddr>,
    token_at_once: KeyedSlots<String>,
    token_rate: DefaultKeyedRateLimiter<String>,
    streams_total: Arc<Semaphore>,
    streams_per_token: KeyedSlots<String>,
    pub failures: FailureLog,
}

/// Spends one of `key`'s requests, or says how long until it has one to spend.
fn within_rate<K: Hash + Eq + Clone>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
) -> Result<(), Duration> {
    limiter
        .check_key(key)
        .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
}

fn quota((per_second, burst): (u32, u32)) -> Quota {
    Quota::per_second(NonZeroU32::new(per_second).expect("a positive rate"))
        .allow_burst(NonZeroU32::new(burst).expect("a positive burst"))
}

impl Limits {
    pub fn new(trusted_proxies: TrustedProxies) -> Limits {
        for refusal in Refusal::ALL.iter().copied() {
            // Exported at zero from the start, like every closed-set series.
            metrics()
                .http_refused
                .with_label_values(&[refusal.as_str()]);
        }
        Limits {
            trusted_proxies,
            anonymous_total: Arc::new(Semaphore::new(ANONYMOUS_SLOTS)),
            anonymous_at_once: KeyedSlots::new(ANONYMOUS_SLOTS_PER_ADDRESS),
            anonymous_rate: RateLimiter::keyed(quota(ANONYMOUS_RATE)),
            token_at_once: KeyedSlots::new(TOKEN_SLOTS),
            token_rate: RateLimiter::keyed(quota(TOKEN_RATE)),
            streams_total: Arc::new(Semaphore::new(STREAM_SLOTS)),
            streams_per_token: KeyedSlots::new(STREAMS_PER_TOKEN),
            failures: FailureLog::default(),
        }
    }

    /// Forgets rate-limit state that no longer limits anyone (called now and then).
    pub fn forget_idle(&self) {
        self.anonymous_rate.retain_recent();
        self.token_rate.retain_recent();
    }

    /// How long until a credential may be tried again, while any of `keys` is at its
    /// limit of failures (at least a second).
    pub fn lockout(&self, keys: &[FailureKey]) -> Option<Duration> {
        let now = Instant::now();
        let wait = keys.iter().find_map(|key| self.failures.locked(key, now))?;
        Some(wait.max(Duration::from_secs(1)))
    }

    /// The 429 to answer while any of `keys` is at its limit of failures.
    pub fn locked_out(&self, path: &str, keys: &[FailureKey]) -> Option<Response> {
        let wait = self.lockout(keys)?;
        Some(refusal(path, Refusal::LockedOut, Some(wait)))
    }

    /// The token a request was admitted as (see [`Admitted`]), if it is within its rate.
    fn token_within_rate(&self, request: &Request) -> Result<String, (Refusal, Option<Duration>)> {
        let Some(Admitted { token_name }) = request.extensions().get::<Admitted>().cloned() else {
            // Every route behind these limits authenticates first; refuse rather than serve
            // an unaccounted request if one ever does not.
            tracing::error!(path = %request.uri().path(), "a request reached the per-token limits unauthenticated");
            return Err((Refusal::Busy, None));
        };
        match within_rate(&self.token_rate, &token_name) {
            Ok(()) => Ok(token_name),
            Err(wait) => Err((Refusal::RateLimited, Some(wait))),
        }
    }

    /// Counts a failed credential against each of `keys`.
    pub fn record_failure(&self, keys: Vec<FailureKey>) {
        let now = Instant::now();
        for key in keys {
            self.failures.record(key, now);
        }
    }
}

hotline_schema::named_enum! {
    /// Why the HTTP side refused a request before any handler saw it; the label of
    /// `hotline_http_refused_total{reason}`.
    pub enum Refusal("HTTP refusal") {
        /// Too many requests of the client's group, address or token at once.
        Busy = "busy",
        /// Past the client's rate.
        RateLimited = "rate_limited",
        /// Too many failed credentials from the address or for the token prefix.
        LockedOut = "locked_out",
        /// The body did not arrive within [`BODY_TIMEOUT`].
        BodyTimeout = "body_timeout",
        /// The body is larger than the route takes.
        TooLarge = "too_large",
        /// The body could not be read (the client went away mid-body).
        BadBody = "bad_body",
        /// A NUL, or bytes that are not UTF-8, in the path or the query.
        BadTarget = "bad_target",
        /// Too many streams at once, in total or for the token.
        TooManyStreams = "too_many_streams",
    }
}

impl Refusal {
    fn status(self) -> StatusCode {
        match self {
            Refusal::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::RateLimited | Refusal::LockedOut | Refusal::TooManyStreams => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Refusal::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Refusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::BadBody | Refusal::BadTarget => StatusCode::BAD_REQUEST,
        }
    }

    /// The `error` code of the API's JSON error.
    fn code(self) -> &'static str {
        match self {
            Refusal::Busy => "unavailable",
            Refusal::RateLimited | Refusal::LockedOut | Refusal::TooManyStreams => {
                "too_many_requests"
            }
            Refusal::BodyTimeout => "request_timeout",
            Refusal::TooLarge => "too_large",
            Refusal::BadBody => "bad_body",
            Refusal::BadTarget => "bad_request",
        }
    }

    /// The same for a person at a page, in the pages' language.
    fn words(self) -> &'static str {
        match self {
            Refusal::Busy => "系统繁忙,请稍后重试。",
            Refusal::RateLimited => "请求过于频繁,请稍后重试。",
            Refusal::LockedOut => "令牌错误次数过多,请稍后再试。",
            Refusal::BodyTimeout => "提交超时,请重新提交。",
            Refusal::TooLarge => "提交的内容过长。",
            Refusal::BadBody => "提交的内容无法读取,请重新提交。",
            Refusal::BadTarget => "网址中含有无法识别的字符。",
            Refusal::TooManyStreams => "打开的实时页面过多,请关闭一些后重试。",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Refusal::Busy => "too many requests are being served at once; retry",
            Refusal::RateLimited => "too many requests from this client; retry after a while",
            Refusal::LockedOut => {
                "too many failed tokens from this address or for this token; retry after a while"
            }
            Refusal::BodyTimeout => "the request's body did not arrive in time",
            Refusal::TooLarge => "the request's body is larger than this endpoint takes",
            Refusal::BadBody => "the request's body could not be read",
            Refusal::BadTarget => {
                "the path or the query holds a NUL character or bytes that are not UTF-8"
            }
            Refusal::TooManyStreams => "too many streams are open, for this token or in total",
        }
    }
}

/// The answer to a refused request: the API's JSON error under `/api`, plain words
/// elsewhere; counted.
pub fn refusal(path: &str, refusal: Refusal, retry_after: Option<Duration>) -> Response {
    metrics().http_refused(refusal.as_str());
    let status = refusal.status();
    let mut response = if path.starts_with("/api/") || path == "/api" {
        crate::api::ApiError::new(status, refusal.code(), refusal.message()).into_response()
    } else {
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{}\n({})\n", refusal.words(), refusal.message()),
        )
            .into_response()
    };
    let headers = response.headers_mut();
    let retry = retry_after.or_else(|| {
        matches!(status, StatusCode::SERVICE_UNAVAILABLE).then_some(Duration::from_secs(1))
    });
    if let Some(wait) = retry {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from_str(&seconds.max(1).to_string()).expect("digits"),
        );
    }
    if matches!(
        refusal,
        Refusal::BodyTimeout | Refusal::TooLarge | Refusal::BadBody
    ) {
        // The rest of the body is not wanted: the connection is closed after the answer.
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// The client address of a request, as the edge layer recorded it.
pub fn client_of(request: &Request) -> ClientAddr {
    request
        .extensions()
        .get::<ClientAddr>()
        .copied()
        .unwrap_or(ClientAddr(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)))
}

/// Admits an anonymous request: a slot of the anonymous group and of its address, within
/// its address's rate; its body read within [`BODY_TIMEOUT`], at most `limits.1` bytes.
pub async fn anonymous(
    State((limits, body_limit)): State<(Arc<Limits>, usize)>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let client = address_key(client_of(&request));
    if let Err(wait) = within_rate(&limits.anonymous_rate, &client) {
        return refusal(&path, Refusal::RateLimited, Some(wait));
    }
    let Some(_address_slot) = limits.anonymous_at_once.try_take(&client) else {
        return refusal(&path, Refusal::Busy, None);
    };
    let Ok(_slot) = limits.anonymous_total.clone().try_acquire_owned() else {
        return refusal(&path, Refusal::Busy, None);
    };
    match read_body(request, body_limit).await {
        Ok(request) => next.run(request).await,
        Err(refused) => refused,
    }
}

/// The token a request was admitted as, by the API's authentication or a page's session.
#[derive(Debug, Clone)]
pub struct Admitted {
    pub token_name: String,
}

/// Admits a request whose credential is known (the authentication before it inserted
/// [`Admitted`]): a slot of its token's, within its token's rate; its body read within
/// [`BODY_TIMEOUT`], at most `body_limit` bytes.
pub async fn per_token(
    State((limits, body_limit)): State<(Arc<Limits>, usize)>,
    request: Request,
    next: Next,
) -> Response {
    within_token_share(&limits, request, next, body_limit, BODY_TIMEOUT).await
}

/// A slot of the request's token, within its rate; its body read within `timeout`, at most
/// `body_limit` bytes; then the request.
async fn within_token_share(
    limits: &Limits,
    request: Request,
    next: Next,
    body_limit: usize,
    timeout: Duration,
) -> Response {
    let path = request.uri().path().to_owned();
    let token_name = match limits.token_within_rate(&request) {
        Ok(token_name) => token_name,
        Err((refused, wait)) => return refusal(&path, refused, wait),
    };
    let Some(_slot) = limits.token_at_once.try_take(&token_name) else {
        return refusal(&path, Refusal::Busy, None);
    };
    match read_body_within(request, body_limit, timeout).await {
        Ok(request) => next.run(request).await,
        Err(refused) => refused,
    }
}

/// Admits an upload as [`per_token`] admits a request, with its body (a file) read within
/// [`UPLOAD_BODY_TIMEOUT`], at most `body_limit` bytes. How many uploads run at once in all
/// is the server's group's limit ([`crate::server::MAX_UPLOADS_AT_ONCE`]).
pub async fn upload(
    State((limits, body_limit)): State<(Arc<Limits>, usize)>,
    request: Request,
    next: Next,
) -> Response {
    within_token_share(&limits, request, next, body_limit, UPLOAD_BODY_TIMEOUT).await
}

/// Admits a stream: a slot of all streams and of its token's, held until the response's
/// body ends (the client hangs up, or the engine stops), not merely until the handler
/// returns.
pub async fn stream(State(limits): State<Arc<Limits>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let token_name = match limits.token_within_rate(&request) {
        Ok(token_name) => token_name,
        Err((refused, wait)) => return refusal(&path, refused, wait),
    };
    let Some(token_slot) = limits.streams_per_token.try_take(&token_name) else {
        return refusal(&path, Refusal::TooManyStreams, Some(Duration::from_secs(5)));
    };
    let Ok(total_slot) = limits.streams_total.clone().try_acquire_owned() else {
        return refusal(&path, Refusal::TooManyStreams, Some(Duration::from_secs(5)));
    };
    let response = match read_body(request, 0).await {
        Ok(request) => next.run(request).await,
        Err(refused) => return refused,
    };
    let (parts, body) = response.into_parts();
    let held = (token_slot, total_slot);
    let body = futures::StreamExt::map(body.into_data_stream(), move |chunk| {
        let _ = &held;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(body))
}

/// The request with its body read whole: within [`BODY_TIMEOUT`] and at most `limit`
/// bytes (a declared `Content-Length` past it is refused before anything is read).
async fn read_body(request: Request, limit: usize) -> Result<Request, Response> {
    read_body_within(request, limit, BODY_TIMEOUT).await
}

/// The request with its body read whole within `timeout`, at most `limit` bytes.
async fn read_body_within(
    request: Request,
    limit: usize,
    timeout: Duration,
) -> Result<Request, Response> {
    let path = request.uri().path().to_owned();
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(refusal(&path, Refusal::TooLarge, None));
    }
    let (parts, body) = request.into_parts();
    let bytes: Bytes = match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await
    {
        Err(_) => return Err(refusal(&path, Refusal::BodyTimeout, None)),
        Ok(Err(err)) => {
            let refused = if err.into_inner().is::<http_body_util::LengthLimitError>() {
                Refusal::TooLarge
            } else {
                Refusal::BadBody
            };
            return Err(refusal(&path, refused, None));
        }
        Ok(Ok(bytes)) => bytes,
    };
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::body_text;

    #[tokio::test]
    async fn a_body_is_read_within_its_limit_whether_declared_or_streamed() {
        let streamed = |chunks: usize| {
            let stream = futures::stream::iter(
                (0..chunks).map(|_| Ok::<_, std::io::Error>(Bytes::from_static(b"0123456789"))),
            );
            Request::post("/api/events")
                .body(Body::from_stream(stream))
                .unwrap()
        };
        // (request, limit, the status refused with, if refused)
        let cases = [
            (streamed(3), 30, None),
            (streamed(4), 30, Some(StatusCode::PAYLOAD_TOO_LARGE)),
            (
                Request::post("/api/events")
                    .header(header::CONTENT_LENGTH, "31")
                    .body(Body::from(vec![b'x'; 31]))
                    .unwrap(),
                30,
                Some(StatusCode::PAYLOAD_TOO_LARGE),
            ),
            (
                Request::post("/api/events")
                    .header(header::CONTENT_LENGTH, "30")
                    .body(Body::from(vec![b'x'; 30]))
                    .unwrap(),
                30,
                None,
            ),
            // A declared length past the limit is refused before the body is read.
            (
                Request::post("/api/events")
                    .header(header::CONTENT_LENGTH, "31")
                    .body(Body::from(vec![b'x'; 5]))
                    .unwrap(),
                30,
                Some(StatusCode::PAYLOAD_TOO_LARGE),
            ),
        ];
        for (n, (request, limit, refused)) in cases.into_iter().enumerate() {
            let status = read_body(request, limit).await.err().map(|r| r.status());
            assert_eq!(status, refused, "case {n}");
        }
    }

    #[tokio::test]
    async fn each_refusal_has_its_status_its_code_under_api_and_its_words_on_a_page() {
        // (refusal, status, the API's error code, the page's words, connection closed)
        let cases = [
            (
                Refusal::Busy,
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "系统繁忙,请稍后重试。",
                false,
            ),
            (
                Refusal::RateLimited,
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "请求过于频繁,请稍后重试。",
                false,
            ),
            (
                Refusal::LockedOut,
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "令牌错误次数过多,请稍后再试。",
                false,
            ),
            (
                Refusal::BodyTimeout,
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "提交超时,请重新提交。",
                true,
            ),
            (
                Refusal::TooLarge,
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "提交的内容过长。",
                true,
            ),
            (
                Refusal::BadBody,
                StatusCode::BAD_REQUEST,
                "bad_body",
                "提交的内容无法读取,请重新提交。",
                true,
            ),
            (
                Refusal::BadTarget,
                StatusCode::BAD_REQUEST,
                "bad_request",
                "网址中含有无法识别的字符。",
                false,
            ),
            (
                Refusal::TooManyStreams,
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "打开的实时页面过多,请关闭一些后重试。",
                false,
            ),
        ];
        assert_eq!(cases.len(), Refusal::ALL.len());
        for (refusal_, status, code, words, closed) in cases {
            let api = refusal("/api/orders", refusal_, None);
            assert_eq!(api.status(), status, "{refusal_}");
            let connection = api.headers().get(header::CONNECTION).cloned();
            assert_eq!(
                connection.is_some_and(|v| v == "close"),
                closed,
                "{refusal_}"
            );
            let json: serde_json::Value = serde_json::from_str(&body_text(api).await).unwrap();
            assert_eq!(json["error"], code, "{refusal_}");
            let page = refusal("/signin", refusal_, None);
            assert_eq!(page.status(), status, "{refusal_}");
            assert_eq!(
                page.headers()[header::CONTENT_TYPE],
                "text/plain; charset=utf-8",
                "{refusal_}"
            );
            let text = body_text(page).await;
            assert_eq!(
                text,
                format!("{words}\n({})\n", json["message"].as_str().unwrap()),
                "{refusal_}"
            );
        }
        let busy = body_text(refusal("/", Refusal::Busy, None)).await;
        assert!(
            busy.ends_with("(too many requests are being served at once; retry)\n"),
            "{busy}"
        );
    }

    #[tokio::test]
    async fn only_paths_under_api_are_answered_in_json() {
        // (path, JSON)
        let cases = [
            ("/api", true),
            ("/api/", true),
            ("/api/orders/PT1", true),
            ("/apix", false),
            ("/signin", false),
            ("/", false),
        ];
        for (path, json) in cases {
            let answer = refusal(path, Refusal::TooLarge, None);
            let content_type = answer.headers()[header::CONTENT_TYPE].clone();
            assert_eq!(content_type == "application/json", json, "{path}");
        }
    }

    #[test]
    fn retry_after_is_the_wait_in_whole_seconds_rounded_up_and_at_least_one() {
        let ms = Duration::from_millis;
        // (refusal, wait given, Retry-After)
        let cases = [
            (Refusal::Busy, None, Some("1")),
            (Refusal::TooLarge, None, None),
            (Refusal::RateLimited, None, None),
            (Refusal::RateLimited, Some(ms(1500)), Some("2")),
            (Refusal::LockedOut, Some(ms(2000)), Some("2")),
            (Refusal::LockedOut, Some(ms(59_001)), Some("60")),
            (Refusal::TooManyStreams, Some(ms(250)), Some("1")),
            (Refusal::RateLimited, Some(Duration::ZERO), Some("1")),
        ];
        for (refusal_, wait, retry_after) in cases {
            let answer = refusal("/api/events", refusal_, wait);
            let header = answer.headers().get(header::RETRY_AFTER);
            assert_eq!(
                header.map(|v| v.to_str().unwrap()),
                retry_after,
                "{refusal_} {wait:?}"
            );
        }
    }

    #[test]
    fn failed_credentials_at_their_limit_are_refused_429_for_the_rest_of_the_window() {
        let limits = Limits::new(TrustedProxies::default());
        let address: IpAddr = "192.0.2.7".parse().unwrap();
        let keys = vec![
            FailureKey::SigninFrom(address),
            FailureKey::token_prefix(b"hl_guess"),
        ];
        assert_eq!(limits.lockout(&keys), None);
        assert!(limits.locked_out("/signin", &keys).is_none());
        for _ in 1..SIGNIN_FAILURES {
            limits.record_failure(keys.clone());
        }
        assert_eq!(
            limits.lockout(&keys),
            None,
            "one failure short of the limit"
        );
        limits.record_failure(keys.clone());
        let wait = limits.lockout(&keys).expect("locked at the limit");
        assert!(
            wait > Duration::from_secs(50) && wait <= FAILURE_WINDOW,
            "{wait:?}"
        );
        let refused = limits
            .locked_out("/api/orders", &keys)
            .expect("locked at the limit");
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = refused.headers()[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((51..=60).contains(&retry), "{retry}");
        let elsewhere = [FailureKey::SigninFrom("192.0.2.8".parse().unwrap())];
        assert_eq!(limits.lockout(&elsewhere), None);
    }

    #[test]
    fn a_request_spends_its_tokens_rate_and_one_not_admitted_is_refused() {
        let limits = Limits::new(TrustedProxies::default());
        let mut admitted = Request::new(Body::empty());
        admitted.extensions_mut().insert(Admitted {
            token_name: "call-centre-07".into(),
        });
        assert_eq!(
            limits.token_within_rate(&admitted),
            Ok("call-centre-07".to_owned())
        );
        assert_eq!(
            limits.token_within_rate(&Request::new(Body::empty())),
            Err((Refusal::Busy, None))
        );
        // One a second in bursts of two: the third at once waits at most a second.
        let limiter = RateLimiter::keyed(quota((1, 2)));
        assert_eq!(within_rate(&limiter, &"a"), Ok(()));
        assert_eq!(within_rate(&limiter, &"a"), Ok(()));
        let wait = within_rate(&limiter, &"a").expect_err("past the burst");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert_eq!(within_rate(&limiter, &"b"), Ok(()), "another key");
    }

    #[test]
    fn a_full_log_forgets_keys_past_the_window_first_then_the_stalest() {
        let start = Instant::now();
        let at = |seconds: u64| start + Duration::from_secs(seconds);
        let key = |n: u8| FailureKey::TokenPrefix(vec![n]);
        let keys_of = |log: &FailureLog| {
            let mut keys: Vec<u8> = log
                .failures
                .lock()
                .unwrap()
                .keys()
                .map(|k| match k {
                    FailureKey::TokenPrefix(p) => p[0],
                    other => panic!("{other:?}"),
                })
                .collect();
            keys.sort_unstable();
            keys
        };
        // (failures recorded: key, at second; keys kept after, at most three)
        type Case = (&'static [(u8, u64)], &'static [u8]);
        let cases: &[Case] = &[
            // Below the limit nothing is forgotten, however old.
            (&[(1, 0), (2, 100)], &[1, 2]),
            // Full: a key with no failure in the window is forgotten for a new one.
            (&[(1, 0), (2, 10), (3, 20), (4, 65)], &[2, 3, 4]),
            // A failure exactly a window old is out of it.
            (&[(1, 0), (2, 0), (3, 50), (4, 60)], &[3, 4]),
            // Full of live keys: the one whose last failure is oldest goes.
            (&[(1, 0), (2, 10), (3, 20), (1, 30), (4, 40)], &[1, 3, 4]),
            // Full, and a known key fails again: nothing is forgotten.
            (&[(1, 0), (2, 10), (3, 20), (1, 30)], &[1, 2, 3]),
        ];
        for (failures, kept) in cases {
            let log = FailureLog {
                failures: Mutex::new(HashMap::new()),
                max_keys: 3,
            };
            for (n, second) in *failures {
                log.record(key(*n), at(*second));
            }
            assert_eq!(keys_of(&log), *kept, "{failures:?}");
        }
    }

    #[test]
    fn keyed_slots_cap_each_key_and_forget_keys_not_in_use() {
        let slots = KeyedSlots::new(2);
        let a1 = slots.try_take(&"a").expect("first");
        let a2 = slots.try_take(&"a").expect("second");
        assert!(slots.try_take(&"a").is_none(), "a third for the same key");
        let b = slots
            .try_take(&"b")
            .expect("another key has slots of its own");
        drop(a1);
        let a3 = slots
            .try_take(&"a")
            .expect("a slot given back is free again");
        drop((a2, a3, b));
        assert_eq!(slots.keys(), 0, "no key without a slot held");
    }

    #[test]
    fn failures_lock_a_key_at_its_limit_for_the_rest_of_the_window() {
        let log = FailureLog::default();
        let address: IpAddr = "192.0.2.7".parse().unwrap();
        let key = FailureKey::SigninFrom(address);
        let start = Instant::now();
        let at = |seconds: u64| start + Duration::from_secs(seconds);
        // (failures recorded at these seconds, asked at, locked for)
        let cases: &[(&[u64], u64, Option<u64>)] = &[
            (&[], 0, None),
            (&[0, 1, 2, 3, 4, 5, 6, 7, 8], 9, None),
            (&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 10, Some(50)),
            (&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 59, Some(1)),
            (&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 60, None),
            // Only the last ten count: the eleventh pushes the first out.
            (&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 30], 35, Some(26)),
        ];
        for (failures, asked, locked) in cases {
            let log_case = FailureLog::default();
            for second in *failures {
                log_case.record(key.clone(), at(*second));
            }
            assert_eq!(
                log_case.locked(&key, at(*asked)),
                locked.map(Duration::from_secs),
                "{failures:?} asked at {asked}"
            );
        }
        // Keys are apart: another address, or a bearer failure, is not locked.
        for _ in 0..SIGNIN_FAILURES {
            log.record(key.clone(), at(0));
        }
        assert!(log.locked(&key, at(1)).is_some());
        let other = FailureKey::SigninFrom("192.0.2.8".parse().unwrap());
        assert_eq!(log.locked(&other, at(1)), None);
        assert_eq!(log.locked(&FailureKey::BearerFrom(address), at(1)), None);
    }

    #[test]
    fn token_prefixes_are_bounded() {
        assert_eq!(
            FailureKey::token_prefix(b"hl_abcdefghijk"),
            FailureKey::TokenPrefix(b"hl_abcde".to_vec())
        );
        assert_eq!(
            FailureKey::token_prefix(b"ab"),
            FailureKey::TokenPrefix(b"ab".to_vec())
        );
    }

    #[test]
    fn the_client_is_the_peer_unless_the_peer_is_a_trusted_proxy() {
        let trusted = TrustedProxies::parse("10.0.0.1, ::1").unwrap();
        let headers = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("x-forwarded-for", HeaderValue::from_str(value).unwrap());
            headers
        };
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // (peer, X-Forwarded-For, client)
        let cases = [
            ("192.0.2.1", Some("198.51.100.9"), "192.0.2.1"),
            ("10.0.0.1", Some("198.51.100.9"), "198.51.100.9"),
            ("10.0.0.1", Some("6.6.6.6, 198.51.100.9"), "198.51.100.9"),
            ("10.0.0.1", Some("198.51.100.9, 10.0.0.1"), "198.51.100.9"),
            ("10.0.0.1", Some("not an address"), "10.0.0.1"),
            ("10.0.0.1", None, "10.0.0.1"),
            ("::1", Some("2001:db8::5"), "2001:db8::5"),
            ("::ffff:192.0.2.1", None, "192.0.2.1"),
        ];
        for (peer, forwarded, client) in cases {
            let headers = forwarded.map(headers).unwrap_or_default();
            assert_eq!(
                trusted.client(ip(peer), &headers),
                ClientAddr(ip(client)),
                "{peer} {forwarded:?}"
            );
        }
        assert!(TrustedProxies::parse("10.0.0.0/8").is_err());
        assert_eq!(ClientAddr(ip("2001:db8::5")).to_string(), "2001:db8::5");
        assert_eq!(ClientAddr(ip("192.0.2.1")).to_string(), "192.0.2.1");
        assert_eq!(
            address_key(ClientAddr(ip("2001:db8:1:2:3:4:5:6"))),
            ip("2001:db8:1:2::")
        );
    }
}
