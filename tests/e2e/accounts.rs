//! Accounts and the API built on them: tokens kept in the database (created, listed,
//! revoked across running processes), the token's name as the actor of what it posts,
//! the live alert stream, the catalog and the routing preview.

use crate::support::{EngineProcess, TestEnv, complaint, wait_for};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Runs `hotline token create` and returns the printed token.
async fn create_token(env: &TestEnv, name: &str, role: &str, department: Option<&str>) -> String {
    let mut args = vec!["token", "create", "--name", name, "--role", role];
    if let Some(department) = department {
        args.extend(["--department", department]);
    }
    let printed = env.run_cli(&args).await;
    let token = printed.trim().to_owned();
    assert_eq!(
        printed.lines().count(),
        1,
        "only the token on stdout: {printed}"
    );
    token
}

async fn status_of(engine: &EngineProcess, path: &str, token: &str) -> StatusCode {
    engine.get(path, token).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_created_listed_and_revoked_in_every_running_process() {
    let env = TestEnv::new().await;
    let mut first = env.start_engine().await;
    let mut second = env.spawn_engine(&["serve", "--roles", "http"]);
    second.wait_ready().await;

    let operator = create_token(&env, "call-centre-07", "operator", None).await;
    let handler = create_token(&env, "scjgj-system", "handler", Some("SCJGJ")).await;
    assert!(
        operator.starts_with("hl_") && operator.len() == 46,
        "{operator}"
    );
    assert_ne!(operator, handler);
    // Only the digest is stored.
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM api_tokens WHERE digest = sha256(convert_to($1, 'UTF8'))",
    )
    .bind(&operator)
    .fetch_one(&env.pool)
    .await
    .unwrap();
    assert_eq!(stored, 1);
    let leaked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM api_tokens WHERE position(convert_to($1, 'UTF8') in digest) > 0
            OR name = $1",
    )
    .bind(&operator[3..20])
    .fetch_one(&env.pool)
    .await
    .unwrap();
    assert_eq!(leaked, 0, "the secret is not stored");

    // Both processes learn of the new tokens without a restart.
    for engine in [&first, &second] {
        wait_for(
            "the new token accepted",
            Duration::from_secs(30),
            || async { status_of(engine, "/api/whoami", &operator).await == StatusCode::OK },
        )
        .await;
        let (_, who) = engine.get("/api/whoami", &handler).await;
        assert_eq!(
            who,
            json!({"name": "scjgj-system", "role": "handler", "department": "SCJGJ"})
        );
    }

    // A name is unique, a department must exist, a name is an account, not a person.
    for (args, fault) in [
        (
            vec!["--name", "call-centre-07", "--role", "supervisor"],
            "exists already",
        ),
        (
            vec!["--name", "x1", "--role", "handler", "--department", "NOPE"],
            "no department",
        ),
        (vec!["--name", "张三", "--role", "operator"], "token name"),
        (
            vec!["--name", "x2", "--role", "handler"],
            "needs a department",
        ),
        (vec!["--name", "x3", "--role", "admin"], "unknown role"),
    ] {
        let mut all = vec!["token", "create"];
        all.extend(args.iter().copied());
        let output = env.run_cli_output(&all).await;
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: refused, not crashed"
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(fault), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}: no token printed");
    }

    // The list shows when a token was last used (written within a refresh or two).
    wait_for("last use recorded", Duration::from_secs(30), || async {
        let list = env.run_cli(&["token", "list"]).await;
        list.lines()
            .find(|l| l.starts_with("call-centre-07 "))
            .is_some_and(|l| l.matches("+08:00").count() == 2)
    })
    .await;
    let list = env.run_cli(&["token", "list"]).await;
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    assert!(lines[0].starts_with("name "), "{list}");
    let columns: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(
        &columns[..3],
        ["scjgj-system", "handler", "SCJGJ"],
        "{list}"
    );
    assert_eq!(columns.last(), Some(&"-"), "not revoked: {list}");
    assert!(
        !list.contains(&operator[3..]),
        "the list never shows a secret"
    );

    // Revoked: refused by both processes, without a restart; the handler still works.
    let revoked_at = Instant::now();
    let said = env.run_cli(&["token", "revoke", "call-centre-07"]).await;
    assert!(said.starts_with("revoked \"call-centre-07\""), "{said}");
    for engine in [&first, &second] {
        wait_for(
            "the revoked token refused",
            Duration::from_secs(30),
            || async {
                status_of(engine, "/api/whoami", &operator).await == StatusCode::UNAUTHORIZED
            },
        )
        .await;
        assert_eq!(
            status_of(engine, "/api/whoami", &handler).await,
            StatusCode::OK
        );
    }
    eprintln!(
        "revocation took effect in both processes after {:.1} s",
        revoked_at.elapsed().as_secs_f64()
    );
    let again = env.run_cli(&["token", "revoke", "call-centre-07"]).await;
    assert!(again.contains("was revoked already"), "{again}");
    let unknown = env.run_cli_output(&["token", "revoke", "nobody"]).await;
    assert_eq!(unknown.status.code(), Some(1), "refused, not crashed");
    let list = env.run_cli(&["token", "list"]).await;
    let line = list
        .lines()
        .find(|l| l.starts_with("call-centre-07 "))
        .unwrap();
    assert_eq!(
        line.matches("+08:00").count(),
        3,
        "revoked time shown: {line}"
    );

    assert!(second.is_running() && first.is_running());
    second.terminate().await;
    first.terminate().await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_name_is_the_actor_of_what_it_posts() {
    let env = TestEnv::new().await;
    let engine = env
        .start_engine_with_env(&[("HOTLINE_API_TOKENS", "env-operator-0123456789:operator")])
        .await;
    let handler = create_token(&env, "scjgj-desk-3", "handler", Some("SCJGJ")).await;
    wait_for(
        "the new token accepted",
        Duration::from_secs(30),
        || async { status_of(&engine, "/api/whoami", &handler).await == StatusCode::OK },
    )
    .await;

    let http = reqwest::Client::new();
    let post = |token: &str, event: &Value| {
        http.post(format!("{}/api/events", engine.base))
            .bearer_auth(token)
            .json(event)
            .send()
    };
    let mut case = complaint("PT-ACT-1", "SC-0101", None, "过期食品");
    case["occurred_at"] = json!(hotline_core::calendar::business_time(chrono::Utc::now()));
    let answer = post("env-operator-0123456789", &case).await.unwrap();
    assert_eq!(answer.status(), StatusCode::ACCEPTED);
    let accept = crate::support::event(
        "order.accepted",
        "PT-ACT-1",
        chrono::TimeDelta::zero(),
        json!({"department": "SCJGJ", "handler": "someone-else"}),
    );
    let answer = post(&handler, &accept).await.unwrap();
    assert_eq!(answer.status(), StatusCode::ACCEPTED);

    let actors: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT event_type, actor FROM order_events WHERE order_no = 'PT-ACT-1' ORDER BY id",
    )
    .fetch_all(&env.pool)
    .await
    .unwrap();
    assert_eq!(
        actors,
        [
            ("complaint.received".to_owned(), Some("env#1".to_owned())),
            ("order.accepted".to_owned(), Some("scjgj-desk-3".to_owned())),
        ]
    );
    // The same over AMQP has no authenticated sender: the body's own account is kept.
    let mut amqp_case = complaint("PT-ACT-2", "SC-0101", None, "过期食品");
    amqp_case["occurred_at"] = case["occurred_at"].clone();
    env.publish(&[amqp_case]).await;
    wait_for(
        "the AMQP complaint recorded",
        Duration::from_secs(30),
        || async {
            env.count_where(
                "SELECT count(*) FROM orders WHERE order_no = $1",
                "PT-ACT-2",
            )
            .await
                == 1
        },
    )
    .await;
    let actor: Option<String> =
        sqlx::query_scalar("SELECT actor FROM order_events WHERE order_no = 'PT-ACT-2'")
            .fetch_one(&env.pool)
            .await
            .unwrap();
    assert_eq!(actor, None);
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

/// A reader of `GET /api/alerts/stream`: the events as `(id, data)`.
struct AlertStream {
    response: reqwest::Response,
    buffer: String,
}

impl AlertStream {
    async fn open(engine: &EngineProcess, token: &str, last_event_id: Option<&str>) -> AlertStream {
        AlertStream::open_at(engine, "/api/alerts/stream", token, last_event_id).await
    }

    async fn open_at(
        engine: &EngineProcess,
        path: &str,
        token: &str,
        last_event_id: Option<&str>,
    ) -> AlertStream {
        let mut request = reqwest::Client::new()
            .get(format!("{}{path}", engine.base))
            .bearer_auth(token);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        AlertStream {
            response,
            buffer: String::new(),
        }
    }

    /// The next alert event, or `None` if none comes within `patience`.
    async fn next(&mut self, patience: Duration) -> Option<(String, Value)> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut id = None;
                let mut data = None;
                let mut kind = None;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        kind = Some(v.to_owned());
                    }
                }
                if let (Some(id), Some(data), Some("alert")) = (id, data, kind.as_deref()) {
                    return Some((id, serde_json::from_str(&data).unwrap()));
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .ok()?
                .unwrap()?;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

async fn insert_alert(env: &TestEnv, order_no: &str, department: &str, level: &str) {
    sqlx::query(
        "INSERT INTO alerts (alert_id, order_no, department, level, due_at)
         VALUES ($1, $2, $3, $4, now() - interval '1 minute')",
    )
    .bind(uuid::Uuid::new_v4())
    .bind(order_no)
    .bind(department)
    .bind(level)
    .execute(&env.pool)
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_stream_live_scoped_by_role_and_resume_after_the_last_event() {
    let env = TestEnv::new().await;
    let engine = env
        .start_engine_with_env(&[(
            "HOTLINE_API_TOKENS",
            "sv-stream-0123456789:supervisor,yb-stream-0123456789:handler:YSBZX",
        )])
        .await;
    // An alert raised before the stream opens is not replayed to a new stream, even
    // while an older transaction is still running (its alerts may yet come).
    let mut older = hotline_store::begin(&env.pool).await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *older)
        .await
        .unwrap();
    insert_alert(&env, "PT-S-0", "SCJGJ", "warning").await;
    let mut supervisor = AlertStream::open(&engine, "sv-stream-0123456789", None).await;
    let mut handler = AlertStream::open(&engine, "yb-stream-0123456789", None).await;
    older.commit().await.unwrap();

    // The engine's own scheduler raises an alert: a back-dated complaint, long overdue.
    let mut late = complaint("PT-S-1", "SC-0101", None, "过期食品");
    late["occurred_at"] = json!(hotline_core::calendar::business_time(
        chrono::Utc::now() - chrono::TimeDelta::days(30)
    ));
    env.publish(&[late]).await;
    let (first_id, first) = supervisor
        .next(Duration::from_secs(30))
        .await
        .expect("the scheduler's alert streamed");
    assert_eq!(first["order_no"], "PT-S-1");
    assert_eq!(first["department"], "SCJGJ");

    // The order's five alerts, each once: read until five came (a generous bound each);
    // that none comes twice is shown below by PT-S-2's alert being the very next one.
    let mut received = vec![first["level"].as_str().unwrap().to_owned()];
    let mut last_id = first_id;
    while received.len() < 5 {
        let (id, alert) = supervisor
            .next(Duration::from_secs(60))
            .await
            .unwrap_or_else(|| panic!("only {received:?} came"));
        assert_eq!(alert["order_no"], "PT-S-1");
        received.push(alert["level"].as_str().unwrap().to_owned());
        last_id = id;
    }
    received.sort();
    assert_eq!(
        received,
        // The statutory deadline also raises the order to 督办: one `supervision` alert.
        [
            "overdue",
            "sign_overdue",
            "statutory_overdue",
            "supervision",
            "warning"
        ],
        "each of the order's alerts once"
    );
    let committed = Instant::now();
    insert_alert(&env, "PT-S-2", "YSBZX", "overdue").await;
    // A new alert reaches the open stream (how soon is printed, not asserted: the
    // machine is shared); it is the next event, so no alert of PT-S-1 came twice.
    let (id, alert) = supervisor
        .next(Duration::from_secs(60))
        .await
        .expect("the new alert on the open stream");
    eprintln!(
        "alert streamed {} ms after its commit",
        committed.elapsed().as_millis()
    );
    assert_eq!(alert["order_no"], "PT-S-2");
    assert_ne!(id, last_id);

    // The YSBZX handler saw only its department's alert.
    let (_, own) = handler
        .next(Duration::from_secs(60))
        .await
        .expect("its alert");
    assert_eq!(
        (own["order_no"].as_str(), own["department"].as_str()),
        (Some("PT-S-2"), Some("YSBZX"))
    );
    // Nothing else of another department came in between: the handler's next event is
    // its department's next alert (the supervisor sees it too).
    insert_alert(&env, "PT-S-2Y", "YSBZX", "warning").await;
    let (_, next) = handler
        .next(Duration::from_secs(60))
        .await
        .expect("its next alert");
    assert_eq!(next["order_no"], "PT-S-2Y");
    let (id, seen) = supervisor
        .next(Duration::from_secs(60))
        .await
        .expect("the supervisor's next alert");
    assert_eq!(seen["order_no"], "PT-S-2Y");
    last_id = id;
    let (status, _) = engine
        .get(
            "/api/alerts/stream?department=SCJGJ",
            "yb-stream-0123456789",
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Disconnected; alerts fire meanwhile; resumed from the last event id: exactly those.
    drop(supervisor);
    // The last, PT-S-END, marks the end: what a stream gives before it is all it gives.
    for n in ["3", "4", "5", "END"] {
        insert_alert(&env, &format!("PT-S-{n}"), "JJPQ", "warning").await;
    }
    let until_the_end = async |stream: &mut AlertStream| {
        let mut seen = Vec::new();
        loop {
            let (_, alert) = stream
                .next(Duration::from_secs(60))
                .await
                .unwrap_or_else(|| panic!("the stream ended after {seen:?}"));
            match alert["order_no"].as_str().unwrap() {
                "PT-S-END" => return seen,
                order_no => seen.push(order_no.to_owned()),
            }
        }
    };
    let mut resumed = AlertStream::open(&engine, "sv-stream-0123456789", Some(&last_id)).await;
    assert_eq!(
        until_the_end(&mut resumed).await,
        ["PT-S-3", "PT-S-4", "PT-S-5"]
    );
    // The same place given as `after` (a page that listed the alerts so far): the same.
    let mut after = AlertStream::open_at(
        &engine,
        &format!("/api/alerts/stream?after={last_id}"),
        "sv-stream-0123456789",
        None,
    )
    .await;
    assert_eq!(
        until_the_end(&mut after).await,
        ["PT-S-3", "PT-S-4", "PT-S-5"]
    );
    drop(after);
    let (status, _) = engine
        .get("/api/alerts/stream?after=yesterday", "sv-stream-0123456789")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, body) = engine
        .get("/api/alerts/stream", "not-a-known-token-0123")
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let bad = reqwest::Client::new()
        .get(format!("{}/api/alerts/stream", engine.base))
        .bearer_auth("sv-stream-0123456789")
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    // A shutdown ends open streams instead of waiting for their clients.
    let stopping = Instant::now();
    let status = engine.terminate().await;
    assert!(status.success(), "{status:?}");
    assert!(resumed.next(Duration::from_secs(5)).await.is_none());
    eprintln!(
        "stopped with a stream open in {} ms",
        stopping.elapsed().as_millis()
    );
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_and_a_routing_preview_show_what_the_engine_would_do() {
    let env = TestEnv::new().await;
    let engine = env
        .start_engine_with_env(&[(
            "HOTLINE_API_TOKENS",
            "op-prev-0123456789:operator,sc-prev-0123456789:handler:SCJGJ,sv-prev-0123456789:supervisor",
        )])
        .await;
    let expected = hotline_core::config::Config::load(&env.config_path).unwrap();

    for token in [
        "op-prev-0123456789",
        "sc-prev-0123456789",
        "sv-prev-0123456789",
    ] {
        let (status, catalog) = engine.get("/api/catalog", token).await;
        assert_eq!(status, StatusCode::OK);
        let codes: Vec<&str> = catalog["departments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["code"].as_str().unwrap())
            .collect();
        let configured: Vec<&str> = expected
            .departments
            .iter()
            .map(|d| d.code.as_str())
            .collect();
        assert_eq!(codes, configured);
        assert_eq!(
            catalog["matters"].as_array().unwrap().len(),
            expected.matters.len()
        );
        let food = catalog["matters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["code"] == "SC-0101")
            .unwrap();
        let configured = expected
            .matters
            .iter()
            .find(|m| m.code == "SC-0101")
            .unwrap();
        assert_eq!(
            food["statutory_limit"],
            configured.statutory_limit.to_string()
        );
        assert_eq!(food["name"], configured.name);
        assert_eq!(
            catalog["districts"].as_array().unwrap().len(),
            expected.districts.len()
        );
        assert_eq!(
            catalog["service_points"].as_array().unwrap().len(),
            expected.service_points.len()
        );
    }

    let http = reqwest::Client::new();
    let preview = |token: &'static str, body: Value| {
        http.post(format!("{}/api/route-preview", engine.base))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    // A draft without envelope: routed by keyword, as the intake will route it.
    let mut draft = complaint("PT-PREV-1", "其他", None, "营业执照过期");
    let occurred_at = hotline_core::calendar::business_time(chrono::Utc::now());
    draft["occurred_at"] = json!(occurred_at);
    let mut bare = draft.clone();
    for field in ["event_id", "order_no", "type"] {
        bare.as_object_mut().unwrap().remove(field);
    }
    let answer = preview("op-prev-0123456789", bare.clone()).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let predicted: Value = answer.json().await.unwrap();
    assert_eq!(predicted["rule"], "keyword:过期→SC-0101");
    assert_eq!(predicted["department"], "SCJGJ");
    assert_eq!(
        env.count("SELECT count(*) FROM orders").await,
        0,
        "nothing recorded"
    );
    assert_eq!(env.count("SELECT count(*) FROM processed_events").await, 0);
    assert_eq!(env.count("SELECT count(*) FROM outbox").await, 0);

    // Then registered for real: the same department, rule and deadlines.
    let posted = http
        .post(format!("{}/api/events", engine.base))
        .bearer_auth("op-prev-0123456789")
        .json(&draft)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::ACCEPTED);
    let (_, order) = engine
        .get("/api/orders/PT-PREV-1", "sv-prev-0123456789")
        .await;
    for field in [
        "department",
        "rule",
        "rule_version",
        "statutory_limit",
        "received_at",
        "sign_due_at",
        "warning_due_at",
        "committed_due_at",
        "statutory_due_at",
    ] {
        assert_eq!(predicted[field], order[field], "{field}");
    }

    // Who may preview, and what a bad draft gets.
    let answer = preview("sc-prev-0123456789", bare.clone()).await.unwrap();
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    let answer = preview("sv-prev-0123456789", bare.clone()).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let mut future = bare.clone();
    future["occurred_at"] = json!(hotline_core::calendar::business_time(
        chrono::Utc::now() + chrono::TimeDelta::hours(1)
    ));
    let answer = preview("op-prev-0123456789", future).await.unwrap();
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refusal: Value = answer.json().await.unwrap();
    assert_eq!(refusal["code"], "invalid_field");
    assert!(
        refusal["message"]
            .as_str()
            .unwrap()
            .contains("occurred_at: "),
        "{refusal}"
    );
    let answer = preview("op-prev-0123456789", json!([1, 2])).await.unwrap();
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        env.count("SELECT count(*) FROM rejected_events").await,
        0,
        "previews are not dead-lettered"
    );
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}
