//! The HTTP side under hostile clients (docs/RELIABILITY.md, "HTTP"): slow bodies without
//! a token, too many streams with one, NULs in paths and queries, one caller's keys
//! against another's, and guessed tokens at sign-in.

use crate::support::{EngineProcess, TestEnv, complaint, wait_for};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const OPERATOR: &str = "op-limits-token-0123456789";
const OTHER_OPERATOR: &str = "op2-limits-token-0123456789";
const HANDLER: &str = "sc-limits-token-0123456789";
const SUPERVISOR: &str = "sv-limits-token-0123456789";

async fn start(env: &TestEnv) -> EngineProcess {
    let tokens = format!(
        "{OPERATOR}:operator,{OTHER_OPERATOR}:operator,{HANDLER}:handler:SCJGJ,{SUPERVISOR}:supervisor"
    );
    env.start_engine_with_env(&[("HOTLINE_API_TOKENS", &tokens)])
        .await
}

fn address(engine: &EngineProcess) -> String {
    engine.base.trim_start_matches("http://").to_owned()
}

/// A client without a token that declares a 4 kB sign-in form (within the limit: a larger
/// one is refused 413 from its declared length) and sends one byte a second, for at most `for_how_long`; what the engine answered, if it did.
async fn slow_signin(addr: String, for_how_long: Duration) -> Option<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let head = "POST /signin HTTP/1.1\r\nHost: engine\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 4000\r\n\r\n";
    stream.write_all(head.as_bytes()).await.ok()?;
    let started = Instant::now();
    let mut answer = vec![0u8; 256];
    while started.elapsed() < for_how_long {
        tokio::select! {
            read = stream.read(&mut answer) => {
                let n = read.ok()?;
                return (n > 0).then(|| {
                    String::from_utf8_lossy(&answer[..n]).lines().next().unwrap_or_default().to_owned()
                });
            }
            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                if stream.write_all(b"t").await.is_err() {
                    return None;
                }
            }
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_slow_bodies_without_a_token_leave_probes_and_token_holders_answering() {
    let env = TestEnv::new().await;
    let engine = start(&env).await;
    let addr = address(&engine);
    let attackers: Vec<_> = (0..300)
        .map(|_| tokio::spawn(slow_signin(addr.clone(), Duration::from_secs(14))))
        .collect();
    // While they trickle, the probes and a token holder's list answer within a second,
    // every time.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let started = Instant::now();
    let mut asked = 0;
    while started.elapsed() < Duration::from_secs(12) {
        let health = http
            .get(format!("{}/healthz", engine.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("/healthz at {:?}: {e}", started.elapsed()));
        assert_eq!(health.status(), StatusCode::OK, "/healthz");
        let list = http
            .get(format!("{}/api/orders", engine.base))
            .bearer_auth(SUPERVISOR)
            .send()
            .await
            .unwrap_or_else(|e| panic!("/api/orders at {:?}: {e}", started.elapsed()));
        assert_eq!(list.status(), StatusCode::OK, "/api/orders");
        asked += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(asked >= 10, "asked {asked} times");
    let mut answers = Vec::new();
    for attacker in attackers {
        answers.push(attacker.await.unwrap());
    }
    // Those past the anonymous share (16 at once from one address, 100 in a burst) were
    // refused at once; those admitted were cut off when their body had not come in 10 s.
    let busy = answers
        .iter()
        .filter(|a| a.as_deref() == Some("HTTP/1.1 503 Service Unavailable"))
        .count();
    let limited = answers
        .iter()
        .filter(|a| a.as_deref() == Some("HTTP/1.1 429 Too Many Requests"))
        .count();
    let refused = busy + limited;
    let cut = answers
        .iter()
        .filter(|a| a.as_deref() == Some("HTTP/1.1 408 Request Timeout"))
        .count();
    assert!(
        refused >= 300 - 16,
        "{refused} refused at once: {answers:?}"
    );
    assert!(cut >= 1, "{cut} cut off after the body timeout");
    assert_eq!(refused + cut, 300, "{answers:?}");
    let metrics = engine.metrics().await;
    let counted = |reason: &str| {
        let sample = format!("hotline_http_refused_total{{reason=\"{reason}\"}}");
        crate::support::metric_value(&metrics, &sample) as usize
    };
    assert_eq!(
        (
            counted("busy"),
            counted("rate_limited"),
            counted("body_timeout")
        ),
        (busy, limited, cut)
    );
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_holds_at_most_64_streams_and_a_closed_stream_gives_its_slot_back() {
    let env = TestEnv::new().await;
    let engine = start(&env).await;
    let http = reqwest::Client::new();
    let open = || {
        http.get(format!("{}/api/alerts/stream", engine.base))
            .bearer_auth(HANDLER)
            .send()
    };
    let mut streams = Vec::new();
    for n in 0..64 {
        let response = open().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "stream {n}");
        streams.push(response);
    }
    let refused = open().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "too_many_requests");
    // Another token has streams of its own.
    let other = http
        .get(format!("{}/api/alerts/stream", engine.base))
        .bearer_auth(SUPERVISOR)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::OK);
    drop(other);
    // The CSV export counts among the token's streams too.
    let export = http
        .get(format!("{}/api/orders.csv", engine.base))
        .bearer_auth(HANDLER)
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), StatusCode::TOO_MANY_REQUESTS);
    // Closing streams gives their slots back once the engine sees the connection close.
    streams.truncate(54);
    wait_for("a slot given back", Duration::from_secs(20), || async {
        match open().await {
            Ok(response) if response.status() == StatusCode::OK => {
                drop(response);
                true
            }
            _ => false,
        }
    })
    .await;
    drop(streams);
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_or_bytes_not_utf8_in_any_path_or_query_get_400() {
    let env = TestEnv::new().await;
    let engine = start(&env).await;
    let http = reqwest::Client::new();
    // Every endpoint and page, with a NUL where a value goes.
    let paths = [
        "/api/alerts?department=%00",
        "/api/alerts?level=%00",
        "/api/kpis?department=%00",
        "/api/ranking?period=%00",
        "/api/catalog?x=%00",
        "/api/orders?q=%00",
        "/api/orders.csv?q=%00",
        "/api/orders/%00",
        "/api/orders/PT%00X",
        "/api/alerts/stream?department=%00",
        "/api/whoami?%00",
        "/api/openapi.json?%00",
        "/api/nowhere/%00",
        "/orders/%00",
        "/desk/orders/%00",
        "/desk?tab=%00",
        "/board?x=%00",
        "/intake?q=%00",
        "/signin?next=%00",
        "/assets/%00",
        "/healthz?%00",
        "/api/orders/%FF",
        "/orders/%C3%28",
    ];
    for path in paths {
        let response = http
            .get(format!("{}{path}", engine.base))
            .bearer_auth(SUPERVISOR)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        if path.starts_with("/api/") {
            assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
            assert_eq!(response.headers()["x-content-type-options"], "nosniff");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"], "bad_request", "{path}");
        }
    }
    for path in ["/api/events?x=%00", "/api/route-preview?%00"] {
        let response = http
            .post(format!("{}{path}", engine.base))
            .bearer_auth(OPERATOR)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
    }
    // No WARN: a NUL is the client's fault, not the database's.
    assert!(
        !engine.log().contains("failed on the database"),
        "{}",
        engine.log()
    );
    // Every API answer, error or not, is neither cached nor sniffed; an error is JSON.
    for (path, status) in [
        ("/api/orders", StatusCode::OK),
        ("/api/nowhere", StatusCode::NOT_FOUND),
        ("/api/orders/NOPE", StatusCode::NOT_FOUND),
    ] {
        let response = http
            .get(format!("{}{path}", engine.base))
            .bearer_auth(SUPERVISOR)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{path}");
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{path}"
        );
    }
    let wrong_method = http
        .delete(format!("{}/api/orders", engine.base))
        .bearer_auth(SUPERVISOR)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: Value = wrong_method.json().await.unwrap();
    assert_eq!(body["error"], "method_not_allowed");
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_callers_keys_never_mask_another_callers_event_or_refusal() {
    let env = TestEnv::new().await;
    let engine = start(&env).await;
    // An operator's refused body with Idempotency-Key k; a handler's refused body with the
    // same key is refused in its own right, not answered "duplicate".
    let (status, answer) = engine
        .post_bytes(OPERATOR, b"{not json".to_vec(), Some("k"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["code"], "not_json");
    let (status, answer) = engine
        .post_bytes(HANDLER, b"{not json either".to_vec(), Some("k"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(
        (&answer["outcome"], &answer["event_id"]),
        (&json!("rejected"), &json!("k"))
    );
    // The same caller, the same key, the same bytes: refused again, kept once.
    let (status, answer) = engine
        .post_bytes(OPERATOR, b"{not json".to_vec(), Some("k"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(env.count("SELECT count(*) FROM rejected_events").await, 2);

    // A caller that learned another's event id sends a refused body under it first: the
    // other's event still takes effect.
    let event = complaint("PT-KEYS-1", "SC-0101", None, "超市销售过期食品");
    let mut spoiler = event.clone();
    spoiler["citizen"] = json!("nobody");
    let (status, answer) = engine.post_event(OTHER_OPERATOR, &spoiler).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    // The owner's own refused body does not mask its corrected one either.
    let (status, answer) = engine.post_event(OPERATOR, &spoiler).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let (status, answer) = engine.post_event(OPERATOR, &event).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["event_id"], event["event_id"]);
    let (status, order) = engine.get("/api/orders/PT-KEYS-1", OPERATOR).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    // And again from its owner: a duplicate.
    let (status, answer) = engine.post_event(OPERATOR, &event).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["outcome"], "duplicate");
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

/// The form token `GET /signin` sets in its cookie.
async fn signin_form(http: &reqwest::Client, base: &str) -> String {
    let response = http.get(format!("{base}/signin")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    cookie
        .trim_start_matches("hotline_signin=")
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_eleventh_failed_sign_in_from_one_address_within_a_minute_gets_429() {
    let env = TestEnv::new().await;
    let engine = start(&env).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let csrf = signin_form(&http, &engine.base).await;
    let attempt = |token: String| {
        let http = http.clone();
        let csrf = csrf.clone();
        let base = engine.base.clone();
        async move {
            http.post(format!("{base}/signin"))
                .header("cookie", format!("hotline_signin={csrf}"))
                .form(&[
                    ("token", token.as_str()),
                    ("csrf", csrf.as_str()),
                    ("next", "/"),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    for n in 0..10 {
        let response = attempt(format!("guess-{n:04}-0123456789")).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {n}");
    }
    let refused = attempt("guess-0010-0123456789".into()).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    // The person at the page is told in the page's words, on the sign-in form itself.
    let page = refused.text().await.unwrap();
    assert!(
        page.contains(&format!("令牌错误次数过多,请 {wait} 秒后再试。")),
        "{page}"
    );
    // Even the right token waits: the address is locked, not the guess.
    let locked = attempt(SUPERVISOR.into()).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    // A bearer token already known is not a sign-in: the API still answers it.
    let (status, _) = engine.get("/api/whoami", SUPERVISOR).await;
    assert_eq!(status, StatusCode::OK);
    // Each failure was logged with the client's address, never the token.
    let log = engine.log();
    let failures = log
        .lines()
        .filter(|l| l.contains("page sign-in with an unknown or revoked token"))
        .collect::<Vec<_>>();
    assert_eq!(failures.len(), 10, "{log}");
    assert!(
        failures.iter().all(|l| l.contains("client=127.0.0.1")),
        "{failures:?}"
    );
    assert!(!log.contains("guess-"), "no token in the log");
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_bearer_tokens_are_locked_out_per_address_and_a_proxys_client_is_counted_apart() {
    let env = TestEnv::new().await;
    // Behind a proxy on loopback: its X-Forwarded-For names the client.
    let tokens = format!("{OPERATOR}:operator,{SUPERVISOR}:supervisor");
    let engine = env
        .start_engine_with_env(&[
            ("HOTLINE_API_TOKENS", &tokens),
            ("HOTLINE_TRUSTED_PROXIES", "127.0.0.1"),
        ])
        .await;
    let http = reqwest::Client::new();
    let whoami = |token: String, client: &'static str| {
        http.get(format!("{}/api/whoami", engine.base))
            .bearer_auth(token)
            .header("x-forwarded-for", client)
            .send()
    };
    for n in 0..60 {
        let response = whoami(format!("wrong-{n:04}-0123456789"), "198.51.100.7")
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {n}");
    }
    let refused = whoami("wrong-0060-0123456789".into(), "198.51.100.7")
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "too_many_requests");
    // Another client behind the same proxy is not locked out.
    let other = whoami(OPERATOR.into(), "198.51.100.8").await.unwrap();
    assert_eq!(other.status(), StatusCode::OK);
    assert!(
        engine.log().contains("client=198.51.100.7"),
        "{}",
        engine.log()
    );
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_megabyte_body_leaves_at_most_a_bounded_prefix_anywhere() {
    let env = TestEnv::new().await;
    let engine = start(&env).await;
    let huge: Vec<u8> = std::iter::repeat_n(&b"{\"content\": \"1234567890\"}"[..], 42_000)
        .flatten()
        .copied()
        .take(1 << 20)
        .collect();
    assert_eq!(huge.len(), 1 << 20);
    // Over HTTP: refused 413 from its declared length, nothing kept.
    let (status, answer) = engine.post_bytes(OPERATOR, huge.clone(), None).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert_eq!(answer["error"], "too_large");
    // Over AMQP: dead-lettered as its first 4 KiB, with its size and digest.
    env.publish_raw(&[crate::support::RawMessage::bytes(&huge, Some("huge-1"))])
        .await;
    wait_for(
        "the huge body dead-lettered",
        Duration::from_secs(30),
        || async { env.queue_len("hotline.rejected").await == 1 },
    )
    .await;
    let dead = env.drain("hotline.rejected").await;
    assert_eq!(dead[0].delivery.data, huge[..4096]);
    assert_eq!(
        crate::support::header(&dead[0], "x-hotline-body-bytes").as_deref(),
        Some("1048576")
    );
    use sha2::Digest;
    let digest: String = sha2::Sha256::digest(&huge)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        crate::support::header(&dead[0], "x-hotline-body-sha256"),
        Some(digest)
    );
    assert_eq!(
        env.count("SELECT count(*) FROM rejected_events").await,
        1,
        "only the AMQP one is kept"
    );
    assert_eq!(
        env.count("SELECT max(length(body))::bigint FROM rejected_events")
            .await,
        4096
    );
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

/// What a raw HTTP/1.1 client saw: the answer's status line (empty if none came) and
/// whether the engine closed the connection. The connection is read to its end only when
/// the answer says `Connection: close` or none came; otherwise it is left as it is.
async fn raw_exchange(addr: &str, request: &[u8]) -> (String, bool) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 1024];
    let read_all = async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return true,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
            let text = String::from_utf8_lossy(&received).to_lowercase();
            if let Some(end) = text.find("\r\n\r\n")
                && !text[..end].contains("\r\nconnection: close")
            {
                return false;
            }
        }
    };
    // A liveness bound only: every exchange here ends well within it.
    let closed = tokio::time::timeout(Duration::from_secs(90), read_all)
        .await
        .expect("an answer or the connection closed");
    let status = String::from_utf8_lossy(&received)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    (status, closed)
}

/// `POST /api/events` with `token`, announcing a body of 100 bytes that never comes.
fn body_never_sent(token: &str) -> Vec<u8> {
    format!(
        "POST /api/events HTTP/1.1\r\nHost: engine\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"event_id\""
    )
    .into_bytes()
}

fn refused(metrics: &str, reason: &str) -> f64 {
    crate::support::metric_value(
        metrics,
        &format!("hotline_http_refused_total{{reason=\"{reason}\"}}"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_has_not_sent_its_headers_within_10_seconds_is_disconnected() {
    let env = TestEnv::new().await;
    let engine = start(&env).await;
    let addr = address(&engine);
    // Headers begun, never finished: no answer, the connection closed.
    let (status, closed) = raw_exchange(&addr, b"GET /healthz HTTP/1.1\r\nHost: engine\r\n").await;
    assert_eq!((status.as_str(), closed), ("", true));
    // The same headers finished are answered; the connection, kept alive, is closed when
    // the next request's headers do not come either.
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: engine\r\n\r\n")
        .await
        .unwrap();
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(90), stream.read_to_end(&mut received))
        .await
        .expect("the kept-alive connection closed")
        .expect("closed, not reset");
    let received = String::from_utf8_lossy(&received);
    assert!(received.starts_with("HTTP/1.1 200 OK\r\n"), "{received}");
    assert!(received.ends_with("\r\n\r\nok\n"), "one answer: {received}");
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

/// Whether the engine closes `stream` (or resets it) within `bound`, having sent nothing.
async fn closed_silently(stream: &mut tokio::net::TcpStream, bound: Duration) -> bool {
    let mut byte = [0u8; 1];
    matches!(
        tokio::time::timeout(bound, stream.read(&mut byte)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_send_nothing_are_closed_and_one_address_holds_at_most_512() {
    let env = TestEnv::new().await;
    let engine = start(&env).await;
    let addr: std::net::SocketAddr = address(&engine).parse().unwrap();
    // From an address of its own on the loopback (127.0.0.2), so that nothing else of the
    // test's holds a connection from it.
    let connect = || async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        socket.connect(addr).await.unwrap()
    };
    // 511 connections that send nothing, and one that sends the start of the HTTP/2
    // preface and stops: 512, all one address may hold.
    let mut silent = Vec::new();
    for _ in 0..511 {
        silent.push(connect().await);
    }
    let mut preface = connect().await;
    preface.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    silent.push(preface);
    // The 513th is closed at once (well before any 10 s timeout could have closed it),
    // while another address is served.
    let mut one_too_many = connect().await;
    assert!(closed_silently(&mut one_too_many, Duration::from_secs(5)).await);
    let (status, _) = engine.request("/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
    // The silent ones are closed without an answer (10 s after they connected; the bound
    // is generous, the machine shared), and each refusal was counted.
    for stream in &mut silent {
        assert!(closed_silently(stream, Duration::from_secs(60)).await);
    }
    let metrics = engine.metrics().await;
    assert_eq!(
        (
            refused(&metrics, "silent"),
            refused(&metrics, "too_many_connections")
        ),
        (512.0, 1.0)
    );
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_not_in_within_10_seconds_of_admission_is_408_and_the_connection_closed() {
    let env = TestEnv::new().await;
    let engine = start(&env).await;
    let (status, closed) = raw_exchange(&address(&engine), &body_never_sent(OPERATOR)).await;
    assert_eq!(
        (status.as_str(), closed),
        ("HTTP/1.1 408 Request Timeout", true)
    );
    let metrics = engine.metrics().await;
    assert_eq!(refused(&metrics, "body_timeout"), 1.0);
    assert_eq!(env.count("SELECT count(*) FROM processed_events").await, 0);
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_past_64_requests_at_once_gets_503_while_another_token_is_served() {
    let env = TestEnv::new().await;
    let engine = start(&env).await;
    let addr = address(&engine);
    // 65 requests of one token at once, each held by a body that never comes.
    let held: Vec<_> = (0..65)
        .map(|_| {
            let addr = addr.clone();
            tokio::spawn(async move { raw_exchange(&addr, &body_never_sent(OPERATOR)).await })
        })
        .collect();
    wait_for("one request refused", Duration::from_secs(60), || async {
        refused(&engine.metrics().await, "busy") == 1.0
    })
    .await;
    // Another token has a share of its own.
    let (status, me) = engine.get("/api/whoami", OTHER_OPERATOR).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_busy_and_late(&engine, held, 1, 64).await;
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

/// Of the `held` requests (their bodies never sent), `busy` were refused at once (503) and
/// `late` admitted and timed out (408), and the refusals were counted as such.
async fn assert_busy_and_late(
    engine: &EngineProcess,
    held: Vec<tokio::task::JoinHandle<(String, bool)>>,
    busy: usize,
    late: usize,
) {
    let mut answers = Vec::new();
    for request in held {
        answers.push(request.await.unwrap().0);
    }
    let count = |line: &str| answers.iter().filter(|a| a.as_str() == line).count();
    assert_eq!(
        (
            count("HTTP/1.1 503 Service Unavailable"),
            count("HTTP/1.1 408 Request Timeout")
        ),
        (busy, late),
        "{answers:?}"
    );
    let metrics = engine.metrics().await;
    assert_eq!(
        (refused(&metrics, "busy"), refused(&metrics, "body_timeout")),
        (busy as f64, late as f64)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_256_requests_with_tokens_at_once_the_next_gets_503() {
    let env = TestEnv::new().await;
    // Five tokens, each 52 requests at once: within its own share of 64, 260 in all.
    let tokens: Vec<String> = (0..5)
        .map(|n| format!("cap-{n}-token-0123456789"))
        .collect();
    let configured: Vec<String> = tokens.iter().map(|t| format!("{t}:supervisor")).collect();
    let engine = env
        .start_engine_with_env(&[("HOTLINE_API_TOKENS", &configured.join(","))])
        .await;
    let addr = address(&engine);
    let held: Vec<_> = tokens
        .iter()
        .flat_map(|token| std::iter::repeat_n(token.clone(), 52))
        .map(|token| {
            let addr = addr.clone();
            tokio::spawn(async move { raw_exchange(&addr, &body_never_sent(&token)).await })
        })
        .collect();
    assert_busy_and_late(&engine, held, 4, 256).await;
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_not_answered_within_30_seconds_is_408() {
    let env = TestEnv::new().await;
    let engine = start(&env).await;
    // The orders table locked: a lookup of an order waits for the lock as long as it is
    // held.
    let mut lock = hotline_store::begin(&env.pool).await.unwrap();
    sqlx::query("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let (status, body) = engine.get("/api/orders/PT-SLOW-1", SUPERVISOR).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT, "{body}");
    assert_eq!(body["error"], "request_timeout");
    lock.rollback().await.unwrap();
    // Free again: answered.
    let (status, body) = engine.get("/api/orders/PT-SLOW-1", SUPERVISOR).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}
