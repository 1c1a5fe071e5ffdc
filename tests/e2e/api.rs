//! The HTTP API: bearer tokens and roles, events over HTTP with the AMQP effect, the order
//! view with its SLA state and timeline, and the alert list.

use crate::support::{EngineProcess, TestEnv, complaint, metric_value, wait_for};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

pub(crate) const OPERATOR: &str = "op-e2e-token-0123456789";
pub(crate) const SUPERVISOR: &str = "sv-e2e-token-0123456789";
pub(crate) const HANDLER_SC: &str = "sc-e2e-token-0123456789";
pub(crate) const HANDLER_YB: &str = "yb-e2e-token-0123456789";

fn tokens_env() -> String {
    format!(
        "{OPERATOR}:operator,{SUPERVISOR}:supervisor,{HANDLER_SC}:handler:SCJGJ,{HANDLER_YB}:handler:YSBZX"
    )
}

/// An engine with four API tokens: an operator, a supervisor, a handler of SCJGJ and one of
/// YSBZX (`env#1` to `env#4`).
pub(crate) async fn start(env: &TestEnv) -> EngineProcess {
    env.start_engine_with_env(&[("HOTLINE_API_TOKENS", &tokens_env())])
        .await
}

/// An RFC 3339 instant in business time, `minutes` from now.
fn business_now(minutes: i64) -> String {
    (chrono::Utc::now() + chrono::TimeDelta::minutes(minutes))
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// A complaint received just now, so its deadlines lie ahead whatever the date.
fn fresh_complaint(order_no: &str, category: &str, title: &str) -> Value {
    let mut event = complaint(order_no, category, None, title);
    event["occurred_at"] = json!(business_now(0));
    event
}

fn is_business_time(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.ends_with("+08:00") && chrono::DateTime::parse_from_rfc3339(s).is_ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_call_needs_a_known_bearer_token() {
    let env = TestEnv::new().await;
    let engine = start(&env).await;
    let api = &engine;

    for path in [
        "/api/orders/PT1",
        "/api/alerts",
        "/api/whoami",
        "/api/nowhere",
    ] {
        let (status, _) = api.request(path, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} without a token");
        let (status, body) = api
            .request(path, Some("not-a-configured-token-at-all"))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} unknown token");
        assert_eq!(body["error"], "unauthorized");
    }
    // The scheme must be Bearer; the header is what carries the token, not the query.
    let response = reqwest::Client::new()
        .get(format!("{}/api/whoami", engine.base))
        .basic_auth(OPERATOR, Some(""))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().contains_key("www-authenticate"));
    let response = reqwest::Client::new()
        .post(format!("{}/api/events", engine.base))
        .json(&fresh_complaint("PT-NOAUTH", "SC-0101", "过期"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(env.count("SELECT count(*) FROM orders").await, 0);
    assert_eq!(
        env.count("SELECT count(*) FROM processed_events").await,
        0,
        "an unauthenticated event leaves no trace"
    );

    let (status, me) = api.request("/api/whoami", Some(HANDLER_SC)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        me,
        json!({"name": "env#3", "role": "handler", "department": "SCJGJ"})
    );
    // Health and metrics stay open to probes and Prometheus.
    let (status, _) = api.request("/healthz", None).await;
    assert_eq!(status, StatusCode::OK);

    let log = engine.log();
    for token in [OPERATOR, SUPERVISOR, HANDLER_SC, HANDLER_YB] {
        assert!(!log.contains(token), "a token was logged");
    }
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complaint_posted_over_http_becomes_an_order_a_task_and_a_timeline() {
    let env = TestEnv::new().await;
    let engine = start(&env).await;
    let api = &engine;

    let event = fresh_complaint("PT-HTTP-1", "SC-0101", "超市销售过期食品");
    let (status, answer) = api.post_event(OPERATOR, &event).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["outcome"], "applied");
    assert_eq!(answer["event_id"], event["event_id"]);
    assert_eq!(answer["order_no"], "PT-HTTP-1");

    // The same event_id again: one effect.
    let (status, answer) = api.post_event(OPERATOR, &event).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["outcome"], "duplicate");

    wait_for(
        "the task on SCJGJ's queue",
        Duration::from_secs(30),
        || async { env.queue_len("hotline.tasks.SCJGJ").await == 1 },
    )
    .await;
    let tasks = env.drain("hotline.tasks.SCJGJ").await;
    assert_eq!(tasks.len(), 1);
    let task: Value = serde_json::from_slice(&tasks[0].delivery.data).unwrap();
    assert_eq!(task["order_no"], "PT-HTTP-1");
    assert_eq!(task["citizen"]["phone"], "13900000000");
    assert_eq!(env.count("SELECT count(*) FROM orders").await, 1);
    assert_eq!(env.count("SELECT count(*) FROM dispatches").await, 1);

    // The order as the operator sees it.
    let (status, order) = api.request("/api/orders/PT-HTTP-1", Some(OPERATOR)).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    assert_eq!(order["order_no"], "PT-HTTP-1");
    assert_eq!(order["department"], "SCJGJ");
    assert_eq!(order["state"], "dispatched");
    assert_eq!(order["sla_state"], "on_track");
    assert_eq!(order["matter_code"], "SC-0101");
    assert_eq!(order["title"], "超市销售过期食品");
    assert_eq!(order["citizen"]["name"], "测试市民");
    assert_eq!(order["citizen"]["phone"], "13900000000");
    for field in [
        "received_at",
        "sign_due_at",
        "warning_due_at",
        "committed_due_at",
        "statutory_due_at",
        "as_of",
    ] {
        assert!(is_business_time(&order[field]), "{field}: {}", order[field]);
    }
    assert!(
        order["committed_due_at"].as_str() < order["statutory_due_at"].as_str(),
        "the committed deadline comes before the statutory one"
    );
    let dispatches = order["dispatches"].as_array().unwrap();
    assert_eq!(dispatches.len(), 1);
    assert_eq!(dispatches[0]["department"], "SCJGJ");
    assert_eq!(dispatches[0]["task_id"], task["task_id"]);
    let timeline = order["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 1);
    assert_eq!(timeline[0]["type"], "complaint.received");
    assert_eq!(timeline[0]["event_id"], event["event_id"]);
    assert!(is_business_time(&timeline[0]["occurred_at"]));
    assert!(
        timeline[0]["detail"].get("citizen").is_none(),
        "personal data stays off the timeline"
    );
    assert_eq!(order["alerts"], json!([]));

    // The department holding it sees it with the citizen; another department does not.
    let (status, seen) = api.request("/api/orders/PT-HTTP-1", Some(HANDLER_SC)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen["citizen"]["phone"], "13900000000");
    let (status, _) = api.request("/api/orders/PT-HTTP-1", Some(HANDLER_YB)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.request("/api/orders/PT-NOWHERE", Some(OPERATOR)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api
        .request("/api/orders/not%20an%20order", Some(OPERATOR))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The SLA state follows the deadlines against the database's clock.
    let sla_cases = [
        ("warning_due_at = now() - interval '1 minute'", "warning"),
        ("committed_due_at = now() - interval '1 minute'", "overdue"),
        (
            "statutory_due_at = now() - interval '1 minute'",
            "statutory_overdue",
        ),
        ("paused_at = now()", "paused"),
        ("state = 'closed'", "closed"),
    ];
    for (change, expected) in sla_cases {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE orders SET {change} WHERE order_no = 'PT-HTTP-1'"
        )))
        .execute(&env.pool)
        .await
        .unwrap();
        let (_, order) = api.request("/api/orders/PT-HTTP-1", Some(SUPERVISOR)).await;
        assert_eq!(order["sla_state"], expected, "after {change}");
    }

    let text = engine.metrics().await;
    assert_eq!(
        metric_value(
            &text,
            "hotline_events_received_total{type=\"complaint.received\"}"
        ),
        2.0
    );
    assert_eq!(
        metric_value(
            &text,
            "hotline_events_duplicate_total{type=\"complaint.received\"}"
        ),
        1.0
    );
    let log = engine.log();
    assert!(!log.contains("13900000000"), "no phone number in logs");
    assert!(!log.contains("测试市民"), "no name in logs");
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_decide_who_may_post_which_event() {
    let env = TestEnv::new().await;
    let engine = start(&env).await;
    let api = &engine;

    let (status, _) = api
        .post_event(OPERATOR, &fresh_complaint("PT-ROLE-1", "SC-0101", "过期"))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let accept = |department: &str| {
        json!({
            "event_id": uuid::Uuid::new_v4(), "type": "order.accepted",
            "occurred_at": business_now(0), "order_no": "PT-ROLE-1",
            "department": department, "handler": "张科员"
        })
    };
    let urge = json!({
        "event_id": uuid::Uuid::new_v4(), "type": "order.urged",
        "occurred_at": business_now(0), "order_no": "PT-ROLE-1", "note": "请尽快"
    });

    // Refused before anything is recorded: 403, not dead-lettered, not counted.
    let refused = [
        (HANDLER_YB, accept("SCJGJ"), "another department's event"),
        (
            HANDLER_SC,
            fresh_complaint("PT-ROLE-2", "SC-0101", "x"),
            "a handler registering",
        ),
        (
            SUPERVISOR,
            fresh_complaint("PT-ROLE-3", "SC-0101", "x"),
            "a supervisor registering",
        ),
        (OPERATOR, accept("SCJGJ"), "an operator accepting"),
        (OPERATOR, urge.clone(), "an operator urging"),
        (HANDLER_SC, urge.clone(), "a handler urging"),
    ];
    for (token, event, what) in &refused {
        let (status, body) = api.post_event(token, event).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{what}: {body}");
        assert_eq!(body["error"], "forbidden");
    }
    assert_eq!(env.count("SELECT count(*) FROM rejected_events").await, 0);
    assert_eq!(
        engine
            .metric("hotline_events_received_total{type=\"order.accepted\"}")
            .await,
        0.0
    );
    // A handler naming its own department for an order another department holds passes
    // the role check; the dispatcher rejects it, as it would on AMQP, and the handler is
    // told only what it would be told of an order that does not exist.
    let (status, body) = api.post_event(HANDLER_YB, &accept("YSBZX")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(
        body,
        json!({"error": "not_found", "message": "no order PT-ROLE-1"})
    );
    let (status, unknown) = api
        .post_event(
            HANDLER_YB,
            &json!({
                "event_id": uuid::Uuid::new_v4(), "type": "order.accepted",
                "occurred_at": business_now(0), "order_no": "PT-ROLE-NONE", "department": "YSBZX"
            }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(unknown["message"], "no order PT-ROLE-NONE");
    assert_eq!(
        env.count("SELECT count(*) FROM rejected_events").await,
        2,
        "both kept and dead-lettered, with their full reasons"
    );
    assert_eq!(env.count("SELECT count(*) FROM orders").await, 1);

    let (_, order) = api.request("/api/orders/PT-ROLE-1", Some(OPERATOR)).await;
    assert_eq!(order["state"], "dispatched");
    assert_eq!(order["timeline"].as_array().unwrap().len(), 1);

    // The handler of the department holding it accepts it; the supervisor urges it.
    let (status, body) = api.post_event(HANDLER_SC, &accept("SCJGJ")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, body) = api.post_event(SUPERVISOR, &urge).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (_, order) = api.request("/api/orders/PT-ROLE-1", Some(HANDLER_SC)).await;
    assert_eq!(order["state"], "accepted");
    let types: Vec<&str> = order["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["complaint.received", "order.accepted", "order.urged"],
        "the timeline, in order"
    );
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_event_is_answered_422_and_dead_lettered() {
    let env = TestEnv::new().await;
    let engine = start(&env).await;
    let api = &engine;

    let mut invalid = fresh_complaint("PT-BAD-1", "SC-0101", "过期");
    invalid["urgency"] = json!("whenever");
    let invalid_body = serde_json::to_vec(&invalid).unwrap();
    let (status, answer) = api.post_bytes(OPERATOR, invalid_body.clone(), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["outcome"], "rejected");
    assert_eq!(answer["code"], "invalid_field");
    let reason = answer["reason"].as_str().unwrap().to_owned();
    assert!(reason.starts_with("invalid_field: "), "{reason}");

    let garbage = b"{this is not json".to_vec();
    let (status, answer) = api.post_bytes(OPERATOR, garbage.clone(), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        answer["reason"].as_str().unwrap().starts_with("not_json: "),
        "{answer}"
    );

    // Without an event_id, the Idempotency-Key header is the idempotency key.
    let mut no_id = fresh_complaint("PT-BAD-2", "SC-0101", "过期");
    no_id.as_object_mut().unwrap().remove("event_id");
    let no_id = serde_json::to_vec(&no_id).unwrap();
    let (status, answer) = api
        .post_bytes(OPERATOR, no_id.clone(), Some("call-centre-42"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["code"], "missing_field");
    // Sent again with the same key: refused again, but dead-lettered once (the three
    // below), never answered as if it had been accepted.
    let (status, answer) = api
        .post_bytes(OPERATOR, no_id.clone(), Some("call-centre-42"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(
        (&answer["outcome"], &answer["code"]),
        (&json!("rejected"), &json!("missing_field"))
    );

    wait_for(
        "three events dead-lettered",
        Duration::from_secs(30),
        || async { env.queue_len("hotline.rejected").await == 3 },
    )
    .await;
    let rejected = env.drain("hotline.rejected").await;
    let dead = rejected
        .iter()
        .find(|m| m.delivery.data == invalid_body)
        .expect("the invalid body, dead-lettered unchanged");
    assert_eq!(crate::support::reason(dead), reason);
    assert!(rejected.iter().any(|m| m.delivery.data == garbage));
    assert_eq!(env.count("SELECT count(*) FROM orders").await, 0);
    assert_eq!(env.count("SELECT count(*) FROM rejected_events").await, 3);

    let text = engine.metrics().await;
    for (code, n) in [
        ("invalid_field", 1.0),
        ("not_json", 1.0),
        ("missing_field", 1.0),
    ] {
        let sample = format!("hotline_events_rejected_total{{reason=\"{code}\"}}");
        assert_eq!(metric_value(&text, &sample), n, "{sample}");
    }
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_listed_newest_first_filtered_and_scoped_to_a_handler() {
    let env = TestEnv::new().await;
    // The supervisor's token from a file, the others from the variable.
    let file = std::env::temp_dir().join(format!("hotline-{}-tokens.toml", env.id));
    std::fs::write(
        &file,
        r#"
[[api_token]]
name = "supervision-office"
token = "file-supervisor-token-0123456789"
role = "supervisor"
"#,
    )
    .unwrap();
    let engine = env
        .start_engine_with_env(&[
            ("HOTLINE_API_TOKENS", &tokens_env()),
            ("HOTLINE_API_TOKENS_FILE", file.to_str().unwrap()),
        ])
        .await;
    let api = &engine;
    let file_supervisor = "file-supervisor-token-0123456789";
    let (_, me) = api.request("/api/whoami", Some(file_supervisor)).await;
    assert_eq!(me["name"], "supervision-office");

    // (order, department, level, fired minutes ago)
    let rows = [
        ("PT-A-1", "SCJGJ", "warning", 50),
        ("PT-A-1", "SCJGJ", "overdue", 40),
        ("PT-A-2", "YSBZX", "sign_overdue", 30),
        ("PT-A-3", "YSBZX", "overdue", 20),
        ("PT-A-4", "JJPQ", "statutory_overdue", 10),
    ];
    for (order_no, department, level, ago) in rows {
        sqlx::query(
            "INSERT INTO alerts (alert_id, order_no, department, level, due_at, fired_at)
             VALUES ($1, $2, $3, $4, now() - make_interval(mins => $5 + 1),
                     now() - make_interval(mins => $5))",
        )
        .bind(uuid::Uuid::new_v4())
        .bind(order_no)
        .bind(department)
        .bind(level)
        .bind(ago)
        .execute(&env.pool)
        .await
        .unwrap();
    }
    let list = |body: &Value| -> Vec<(String, String)> {
        body["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["order_no"].as_str().unwrap().to_owned(),
                    a["level"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };

    let (status, all) = api.request("/api/alerts", Some(file_supervisor)).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(
        list(&all),
        pairs(&[
            ("PT-A-4", "statutory_overdue"),
            ("PT-A-3", "overdue"),
            ("PT-A-2", "sign_overdue"),
            ("PT-A-1", "overdue"),
            ("PT-A-1", "warning"),
        ]),
        "newest first"
    );
    let first = &all["alerts"][0];
    assert!(is_business_time(&first["fired_at"]) && is_business_time(&first["due_at"]));
    assert_eq!(first["department"], "JJPQ");

    let (_, by_department) = api
        .request("/api/alerts?department=SCJGJ", Some(OPERATOR))
        .await;
    assert_eq!(
        list(&by_department),
        pairs(&[("PT-A-1", "overdue"), ("PT-A-1", "warning")])
    );
    let (_, by_level) = api
        .request("/api/alerts?level=overdue", Some(SUPERVISOR))
        .await;
    assert_eq!(
        list(&by_level),
        pairs(&[("PT-A-3", "overdue"), ("PT-A-1", "overdue")])
    );
    let (_, both) = api
        .request(
            "/api/alerts?department=YSBZX&level=overdue",
            Some(SUPERVISOR),
        )
        .await;
    assert_eq!(list(&both), pairs(&[("PT-A-3", "overdue")]));
    let (_, limited) = api.request("/api/alerts?limit=2", Some(SUPERVISOR)).await;
    assert_eq!(
        list(&limited),
        pairs(&[("PT-A-4", "statutory_overdue"), ("PT-A-3", "overdue")])
    );
    let (_, capped) = api
        .request("/api/alerts?limit=5000", Some(SUPERVISOR))
        .await;
    assert_eq!(capped["limit"], 1000);
    assert_eq!(capped["count"], 5);
    let (_, empty_filter) = api
        .request("/api/alerts?department=&level=", Some(SUPERVISOR))
        .await;
    assert_eq!(empty_filter["count"], 5);

    // A handler sees its own department only, and may not ask for another one.
    let (status, own) = api.request("/api/alerts", Some(HANDLER_YB)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list(&own),
        pairs(&[("PT-A-3", "overdue"), ("PT-A-2", "sign_overdue")])
    );
    let (status, _) = api
        .request("/api/alerts?department=SCJGJ", Some(HANDLER_YB))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, _) = api
        .request("/api/alerts?limit=many", Some(SUPERVISOR))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = api
        .request("/api/alerts?level=Overdue!", Some(SUPERVISOR))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = api.request("/api/alerts", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    assert!(engine.terminate().await.success());
    let _ = std::fs::remove_file(&file);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_and_event_type_over_http() {
    let env = TestEnv::new().await;
    let engine = start(&env).await;
    let api = &engine;
    // (type, who may post it) — "dept" is a handler of the department named in the event.
    let matrix = [
        ("complaint.received", "operator"),
        ("appointment.booked", "operator"),
        ("appointment.checked_in", "operator"),
        ("appointment.called", "operator"),
        ("appointment.completed", "operator"),
        ("order.dispatched", "operator"),
        ("order.feedback", "operator"),
        ("order.accepted", "dept"),
        ("order.returned", "dept"),
        ("order.extension_requested", "dept"),
        ("order.replied", "dept"),
        ("order.extension_decided", "supervisor"),
        ("order.suspended", "supervisor"),
        ("order.resumed", "supervisor"),
        ("order.urged", "supervisor"),
        ("order.co_replied", "dept"),
        ("order.rating_appealed", "dept"),
        ("order.return_decided", "operator"),
        ("order.appeal_decided", "supervisor"),
    ];
    assert_eq!(
        matrix.len(),
        hotline_schema::event::EventType::ALL.len(),
        "every event type is in the matrix"
    );
    let callers = [
        (OPERATOR, "operator"),
        (SUPERVISOR, "supervisor"),
        (HANDLER_SC, "dept"),
        (HANDLER_YB, "other department"),
    ];
    for (event_type, sender) in matrix {
        for (token, who) in callers {
            // An event on an order nobody has: allowed callers reach the dispatcher, which
            // rejects it (422) or, for a new order or booking, applies it (202).
            let event = json!({
                "event_id": uuid::Uuid::new_v4(), "type": event_type,
                "occurred_at": business_now(0), "order_no": format!("PT-MX-{}", uuid::Uuid::new_v4().simple()),
                // Every field a department's action needs, so that its event reaches the
                // order (and the handler's answer is about the order, not the body).
                "department": "SCJGJ", "reason": "r", "extra_working_days": 1,
                "reply": "r", "resolved": true,
            });
            let (status, body) = api.post_event(token, &event).await;
            let allowed = who == sender;
            if allowed {
                // A handler is told of an unknown order as of one it does not hold: 404.
                let expected: &[StatusCode] = if who == "dept" {
                    &[StatusCode::NOT_FOUND]
                } else {
                    &[StatusCode::UNPROCESSABLE_ENTITY, StatusCode::ACCEPTED]
                };
                assert!(
                    expected.contains(&status),
                    "{who} posting {event_type}: {status} {body}"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{who} posting {event_type}: {body}"
                );
            }
        }
    }
    // Reading: every role may read the alert list and KPIs; a handler only its own.
    for (token, _) in callers {
        for path in ["/api/alerts", "/api/kpis", "/api/whoami"] {
            let (status, body) = api.request(path, Some(token)).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
        }
    }
    let (status, _) = api
        .request("/api/alerts?department=SCJGJ", Some(HANDLER_YB))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_bad_headers_and_an_absent_database_get_their_http_answers() {
    let env = TestEnv::new().await;
    let engine = start(&env).await;
    let api = &engine;

    // 413: larger than the HTTP body limit (1 MiB, or intake.max_body_bytes if larger),
    // answered from the declared length, before the body is read (a client still sending
    // it may then see the connection close: so the headers alone are sent here).
    let status_line = {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = engine.base.trim_start_matches("http://").to_owned();
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "POST /api/events HTTP/1.1\r\nHost: engine\r\nAuthorization: Bearer {OPERATOR}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            2 * 1024 * 1024
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = vec![0u8; 512];
        let n = stream.read(&mut answer).await.unwrap();
        String::from_utf8_lossy(&answer[..n])
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(status_line, "HTTP/1.1 413 Payload Too Large");
    // 400: an Idempotency-Key no transport could carry.
    let event = fresh_complaint("PT-H400", "SC-0101", "过期");
    let body = serde_json::to_vec(&event).unwrap();
    let (status, answer) = api
        .post_bytes(OPERATOR, body.clone(), Some(&"k".repeat(201)))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"], "bad_request");
    assert_eq!(env.count("SELECT count(*) FROM processed_events").await, 0);

    // The database goes away: the API answers 503 with Retry-After, /readyz says which.
    let admin = sqlx::PgPool::connect(crate::support::ADMIN_DATABASE_URL)
        .await
        .unwrap();
    let database = env.database.clone();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {database} CONNECTION LIMIT 0"
    )))
    .execute(&admin)
    .await
    .unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(&database)
        .execute(&admin)
        .await
        .unwrap();
    let response = reqwest::Client::new()
        .get(format!("{}/api/orders/PT-H503", engine.base))
        .bearer_auth(SUPERVISOR)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
    let refusal: Value = response.json().await.unwrap();
    assert_eq!(refusal["error"], "unavailable");
    let (status, ready) = api.request("/readyz", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        (&ready["database"], &ready["broker"]),
        (&json!(false), &json!(true)),
        "{ready}"
    );
    // An event is retried for a while, then refused with 503: nothing was committed.
    let (status, answer) = api.post_bytes(OPERATOR, body.clone(), None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["error"], "unavailable");

    // Back: ready again, and the same event, sent again, goes through once.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {database} CONNECTION LIMIT -1"
    )))
    .execute(&admin)
    .await
    .unwrap();
    admin.close().await;
    wait_for("ready again", Duration::from_secs(60), || async {
        api.request("/readyz", None).await.0 == StatusCode::OK
    })
    .await;
    let (status, answer) = api.post_bytes(OPERATOR, body, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");

    // The broker goes away (its virtual host deleted): /readyz says so.
    reqwest::Client::new()
        .delete(format!(
            "{}/vhosts/hotline-{}",
            crate::support::MANAGEMENT,
            env.id
        ))
        .basic_auth("guest", Some("guest"))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let (status, ready) = api.request("/readyz", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        (&ready["database"], &ready["broker"]),
        (&json!(true), &json!(false)),
        "{ready}"
    );
    for role in ["intake", "relay", "scheduler", "periodic"] {
        assert!(ready["roles"][role].is_object(), "{role} reported: {ready}");
    }
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_messages_carry_the_reason_code_alone() {
    let env = TestEnv::new().await;
    let engine = start(&env).await;
    let event = |event_type: &str, order_no: &str, fields: Value| {
        let mut v = json!({
            "event_id": uuid::Uuid::new_v4(), "type": event_type,
            "occurred_at": business_now(0), "order_no": order_no,
        });
        for (k, val) in fields.as_object().unwrap() {
            v[k] = val.clone();
        }
        serde_json::to_vec(&v).unwrap()
    };
    let mut no_title = fresh_complaint("PT-RC-2", "SC-0101", "过期");
    no_title.as_object_mut().unwrap().remove("title");
    let mut bad_urgency = fresh_complaint("PT-RC-3", "SC-0101", "过期");
    bad_urgency["urgency"] = json!("whenever");
    let mut unknown_type = fresh_complaint("PT-RC-4", "SC-0101", "过期");
    unknown_type["type"] = json!("complaint.teleported");
    let mut too_large = fresh_complaint("PT-RC-5", "SC-0101", "过期");
    too_large["content"] = json!("很".repeat(2_000)); // 6,000 bytes: past the 4,096 of the test catalog
    let the_order = serde_json::to_vec(&fresh_complaint("PT-RC-1", "SC-0101", "过期")).unwrap();
    // The same number again, under an event_id of its own (the same one would be a
    // duplicate event, with no effect and no rejection).
    let the_order_again =
        serde_json::to_vec(&fresh_complaint("PT-RC-1", "SC-0101", "过期")).unwrap();
    // (body, the code alone): the order PT-RC-1 exists (held by SCJGJ, dispatched) when
    // the rest arrive, in this order, on one consumer.
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"\xff\xfe{\"event_id\": 1}".to_vec(), "not_utf8"),
        (b"{this is not json".to_vec(), "not_json"),
        (serde_json::to_vec(&no_title).unwrap(), "missing_field"),
        (serde_json::to_vec(&bad_urgency).unwrap(), "invalid_field"),
        (serde_json::to_vec(&unknown_type).unwrap(), "unknown_type"),
        (serde_json::to_vec(&too_large).unwrap(), "too_large"),
        (
            event(
                "order.accepted",
                "PT-RC-NOWHERE",
                json!({"department": "SCJGJ"}),
            ),
            "unknown_order",
        ),
        (the_order_again, "duplicate_order"),
        (
            event("order.resumed", "PT-RC-1", json!({"reason": "r"})),
            "invalid_state",
        ),
        (
            event("order.accepted", "PT-RC-1", json!({"department": "YSBZX"})),
            "wrong_department",
        ),
    ];
    let mut messages = vec![crate::support::RawMessage::bytes(&the_order, Some("rc-0"))];
    for (n, (body, _)) in cases.iter().enumerate() {
        messages.push(crate::support::RawMessage::bytes(
            body,
            Some(&format!("rc-{}", n + 1)),
        ));
    }
    env.publish_raw(&messages).await;
    // One over HTTP: dead-lettered the same way.
    let mut no_channel = fresh_complaint("PT-RC-6", "SC-0101", "过期");
    no_channel.as_object_mut().unwrap().remove("channel");
    let over_http = serde_json::to_vec(&no_channel).unwrap();
    let (status, answer) = engine.post_bytes(OPERATOR, over_http.clone(), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["code"], "missing_field");
    let mut cases = cases;
    cases.push((over_http, "missing_field"));

    wait_for(
        "every bad event dead-lettered",
        Duration::from_secs(60),
        || async { env.queue_len("hotline.rejected").await == cases.len() as u32 },
    )
    .await;
    let rejected = env.drain("hotline.rejected").await;
    assert_eq!(rejected.len(), cases.len());
    for (body, code) in &cases {
        // A too_large body is dead-lettered as its first 4,096 bytes.
        let kept = &body[..body.len().min(4096)];
        let dead = rejected
            .iter()
            .find(|m| m.delivery.data == kept)
            .unwrap_or_else(|| panic!("the {code} body was not dead-lettered"));
        assert_eq!(
            crate::support::header(dead, "x-hotline-reason-code").as_deref(),
            Some(*code),
            "reason: {}",
            crate::support::reason(dead)
        );
        let reason = crate::support::reason(dead);
        assert!(reason.starts_with(&format!("{code}: ")), "{reason}");
        // Through the dead-letter exchange the contract names (its fanout to
        // hotline.rejected), not published to the queue directly.
        assert_eq!(dead.delivery.exchange.as_str(), "hotline.dlx");
    }
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

/// A complaint of the one-minute matter received ten minutes ago: every deadline passed on
/// arrival, so its five alerts (sign_overdue, warning, overdue, statutory_overdue and the
/// raise to supervision) fire at once.
fn overdue_on_arrival(order_no: &str) -> Value {
    let mut event = complaint(order_no, "JJ-0001", None, "闻到燃气味");
    event["occurred_at"] = json!(business_now(-10));
    event
}

/// `(order_no, level)` of the alerts of a `GET /api/alerts` answer, sorted.
fn alert_pairs(body: &Value) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = body["alerts"]
        .as_array()
        .unwrap_or_else(|| panic!("no alerts in {body}"))
        .iter()
        .map(|a| {
            (
                a["order_no"].as_str().unwrap().to_owned(),
                a["level"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    pairs.sort();
    pairs
}

/// The five alerts of an order overdue on arrival, as [`alert_pairs`] lists them.
fn five_alerts(order_no: &str) -> Vec<(String, String)> {
    [
        "overdue",
        "sign_overdue",
        "statutory_overdue",
        "supervision",
        "warning",
    ]
    .iter()
    .map(|level| (order_no.to_owned(), level.to_string()))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_filtered_by_order_no_and_since() {
    let mut env = TestEnv::new().await;
    // The database's clock, which alerts are fired on, is made to jump two hours between
    // the two orders' alerts.
    let t0 = chrono::Utc::now();
    env.make_clock_lie(t0).await;
    let engine = start(&env).await;
    let alerts_of = |order_no: &'static str| {
        let engine = &engine;
        async move {
            let path = format!("/api/alerts?order_no={order_no}");
            alert_pairs(&engine.get(&path, SUPERVISOR).await.1)
        }
    };
    env.publish(&[overdue_on_arrival("PT-AL-OLD")]).await;
    wait_for("PT-AL-OLD's alerts", Duration::from_secs(60), || async {
        alerts_of("PT-AL-OLD").await.len() == 5
    })
    .await;
    env.set_clock(t0 + chrono::TimeDelta::hours(2)).await;
    env.publish(&[overdue_on_arrival("PT-AL-NEW")]).await;
    wait_for("PT-AL-NEW's alerts", Duration::from_secs(60), || async {
        alerts_of("PT-AL-NEW").await.len() == 5
    })
    .await;

    // One order's alerts, and none of the other's.
    let (status, old) = engine
        .get("/api/alerts?order_no=PT-AL-OLD", SUPERVISOR)
        .await;
    assert_eq!(status, StatusCode::OK, "{old}");
    assert_eq!(alert_pairs(&old), five_alerts("PT-AL-OLD"));
    assert_eq!(old["count"], 5);
    let (_, new) = engine.get("/api/alerts?order_no=PT-AL-NEW", OPERATOR).await;
    assert_eq!(alert_pairs(&new), five_alerts("PT-AL-NEW"));
    let (_, none) = engine
        .get("/api/alerts?order_no=PT-AL-NOWHERE", SUPERVISOR)
        .await;
    assert_eq!((&none["alerts"], &none["count"]), (&json!([]), &json!(0)));
    let (_, unfiltered) = engine.get("/api/alerts", SUPERVISOR).await;
    assert_eq!(unfiltered["count"], 10);

    // `since` (RFC 3339 with offset, `+` as %2B): the alerts fired at or after it only.
    let since = |at: chrono::DateTime<chrono::Utc>| {
        hotline_core::calendar::business_time(at).replace('+', "%2B")
    };
    let hour_after_t0 = t0 + chrono::TimeDelta::hours(1);
    let (status, later) = engine
        .get(
            &format!("/api/alerts?since={}", since(hour_after_t0)),
            SUPERVISOR,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{later}");
    assert_eq!(alert_pairs(&later), five_alerts("PT-AL-NEW"));
    for alert in later["alerts"].as_array().unwrap() {
        let fired =
            chrono::DateTime::parse_from_rfc3339(alert["fired_at"].as_str().unwrap()).unwrap();
        assert!(fired >= hour_after_t0, "{alert}");
    }
    let (_, both) = engine
        .get(
            &format!(
                "/api/alerts?since={}",
                since(t0 - chrono::TimeDelta::hours(1))
            ),
            SUPERVISOR,
        )
        .await;
    let mut all = five_alerts("PT-AL-NEW");
    all.extend(five_alerts("PT-AL-OLD"));
    all.sort();
    assert_eq!(alert_pairs(&both), all);
    // Both filters at once: the old order's alerts all came before.
    let (_, old_since) = engine
        .get(
            &format!(
                "/api/alerts?order_no=PT-AL-OLD&since={}",
                since(hour_after_t0)
            ),
            SUPERVISOR,
        )
        .await;
    assert_eq!(old_since["count"], 0, "{old_since}");
    let (status, _) = engine
        .get("/api/alerts?since=2026-11-25T10:00:00", SUPERVISOR)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a time without offset");
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}
