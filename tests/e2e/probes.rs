//! The probes: `/healthz`, `/readyz` (with each role's state) and `/metrics`, on the API's
//! address or on `HOTLINE_METRICS_ADDR`.

use crate::support::{
    EngineProcess, MANAGEMENT, TEST_CONFIG, TestEnv, complaint, handle, wait_for,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

const OPERATOR: &str = "op-probes-token-0123456789";

/// The address after `addr=` on the engine's first log line holding `message`.
fn logged_addr(log: &str, message: &str) -> Option<String> {
    log.lines()
        .filter(|line| line.contains(message))
        .find_map(|line| line.split("addr=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
}

/// `GET url`: the status and the body as text.
async fn get(url: &str, token: Option<&str>) -> (StatusCode, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    (response.status(), response.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_metrics_addr_the_probes_are_served_there_and_not_on_the_api_address() {
    let env = TestEnv::new().await;
    let mut engine = env.spawn_engine_with_env(
        &["serve"],
        &[
            ("HOTLINE_METRICS_ADDR", "127.0.0.1:0"),
            ("HOTLINE_API_TOKENS", &format!("{OPERATOR}:operator")),
        ],
    );
    wait_for("both listeners", Duration::from_secs(60), || {
        let log = engine.log();
        async move {
            logged_addr(&log, "HTTP listening").is_some()
                && logged_addr(&log, "metrics and probes listening").is_some()
        }
    })
    .await;
    let api = format!(
        "http://{}",
        logged_addr(&engine.log(), "HTTP listening").unwrap()
    );
    let probes = format!(
        "http://{}",
        logged_addr(&engine.log(), "metrics and probes listening").unwrap()
    );
    assert_ne!(api, probes);
    engine.base = api.clone();
    wait_for(
        "ready on the probes' address",
        Duration::from_secs(60),
        || {
            let url = format!("{probes}/readyz");
            async move { get(&url, None).await.0 == StatusCode::OK }
        },
    )
    .await;

    // On HOTLINE_METRICS_ADDR: the three probes, and not the API.
    assert_eq!(
        get(&format!("{probes}/healthz"), None).await,
        (StatusCode::OK, "ok\n".to_owned())
    );
    let (status, ready) = get(&format!("{probes}/readyz"), None).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    let ready: Value = serde_json::from_str(&ready).unwrap();
    assert_eq!(
        (&ready["database"], &ready["broker"]),
        (&json!(true), &json!(true))
    );
    let metrics = reqwest::get(format!("{probes}/metrics")).await.unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    assert_eq!(
        metrics.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = metrics.text().await.unwrap();
    assert_eq!(
        crate::support::metric_value(
            &text,
            "hotline_events_received_total{type=\"complaint.received\"}"
        ),
        0.0
    );
    let (status, _) = get(&format!("{probes}/api/whoami"), Some(OPERATOR)).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the API is not on the probes' address"
    );

    // On HOTLINE_HTTP_ADDR: the API, and not the probes.
    let (status, me) = engine.get("/api/whoami", OPERATOR).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["role"], "operator");
    for path in ["/healthz", "/readyz", "/metrics"] {
        let (status, body) = get(&format!("{api}{path}"), None).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{path} on the API's address: {body}"
        );
    }
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

/// `/readyz`: its status and body.
async fn readyz(engine: &EngineProcess) -> (StatusCode, Value) {
    engine.get_anonymous("/readyz").await
}

/// The `state` of each role `/readyz` reports, by name.
fn states(ready: &Value) -> Vec<(String, String)> {
    ready["roles"]
        .as_object()
        .unwrap_or_else(|| panic!("no roles in {ready}"))
        .iter()
        .map(|(role, report)| {
            (
                role.clone(),
                report["state"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect()
}

/// The four reporting roles of a whole engine, each in `state`, as [`states`] lists them.
fn all_in(state: &str) -> Vec<(String, String)> {
    ["intake", "periodic", "relay", "scheduler"]
        .iter()
        .map(|role| (role.to_string(), state.to_owned()))
        .collect()
}

/// The first `/readyz` answer (polled, up to `limit`) whose body satisfies `check`.
async fn readyz_once(
    engine: &EngineProcess,
    what: &str,
    limit: Duration,
    check: impl Fn(&Value) -> bool,
) -> (StatusCode, Value) {
    let started = std::time::Instant::now();
    loop {
        let (status, ready) = readyz(engine).await;
        if check(&ready) {
            return (status, ready);
        }
        assert!(
            started.elapsed() < limit,
            "timed out waiting for: {what}: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A role's report with its `idle_seconds` checked to be a whole number and left out.
fn report_of(ready: &Value, role: &str) -> Value {
    let mut report = ready["roles"][role].clone();
    assert!(
        report["idle_seconds"].is_u64(),
        "{role}'s idle_seconds: {ready}"
    );
    report.as_object_mut().unwrap().remove("idle_seconds");
    report
}

/// The periodic jobs wake every second (a repair sweep), so that their role gets past its
/// first round at once; the digest and the retention sweep never run.
fn config_with_a_busy_periodic_role() -> String {
    format!(
        "{TEST_CONFIG}\n[scheduler]\ndigest_cron = \"0 0 0 1 1 * 2099\"\nrepair_cron = \"* * * * * *\"\nretention_cron = \"0 0 0 1 1 * 2099\"\n"
    )
}

/// Each of an engine's four roles running and ready, with nothing waiting and no error.
fn assert_every_role_running(ready: &Value) {
    for role in ["intake", "periodic", "relay", "scheduler"] {
        assert_eq!(
            report_of(ready, role),
            json!({"ready": true, "state": "running", "work_waiting": false, "error": null}),
            "{role}: {ready}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_reports_every_role_of_a_running_engine_running_and_ready() {
    let env = TestEnv::with_config(&config_with_a_busy_periodic_role()).await;
    let engine = env.start_engine().await;
    // The intake is `starting` until its first batch: idle, it is ready all the same.
    let (status, ready) = readyz(&engine).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(
        report_of(&ready, "intake"),
        json!({"ready": true, "state": "starting", "work_waiting": false, "error": null})
    );
    handle(&env, &[complaint("PT-RDY-1", "SC-0101", None, "过期")]).await;
    let (status, ready) = readyz_once(
        &engine,
        "every role running",
        Duration::from_secs(60),
        |ready| states(ready) == all_in("running"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(
        (&ready["database"], &ready["broker"]),
        (&json!(true), &json!(true))
    );
    assert_every_role_running(&ready);
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_reports_only_the_roles_the_process_runs() {
    let env = TestEnv::new().await;
    let http_only = env.start_roles("http").await;
    let (status, ready) = readyz(&http_only).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["roles"], json!({}), "the http role does not report");
    let with_relay = env.start_roles("http,relay").await;
    let (status, ready) = readyz_once(
        &with_relay,
        "the relay running",
        Duration::from_secs(60),
        |ready| states(ready) == [("relay".to_owned(), "running".to_owned())],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(
        report_of(&ready, "relay"),
        json!({"ready": true, "state": "running", "work_waiting": false, "error": null})
    );
    assert!(http_only.terminate().await.success());
    assert!(with_relay.terminate().await.success());
    env.cleanup().await;
}

/// Creates the environment's virtual host again, with the rights [`TestEnv::new`] gives.
async fn recreate_vhost(env: &TestEnv) {
    let http = reqwest::Client::new();
    let vhost = format!("hotline-{}", env.id);
    http.put(format!("{MANAGEMENT}/vhosts/{vhost}"))
        .basic_auth("guest", Some("guest"))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("create the vhost again");
    http.put(format!("{MANAGEMENT}/permissions/{vhost}/guest"))
        .basic_auth("guest", Some("guest"))
        .json(&json!({"configure": ".*", "write": ".*", "read": ".*"}))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("grant the vhost's permissions again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_reports_the_broker_roles_restarting_while_the_broker_refuses_them() {
    let env = TestEnv::with_config(&config_with_a_busy_periodic_role()).await;
    let engine = env
        .start_engine_with_env(&[("HOTLINE_API_TOKENS", &format!("{OPERATOR}:operator"))])
        .await;
    handle(&env, &[complaint("PT-RDY-2", "SC-0101", None, "过期")]).await;
    readyz_once(
        &engine,
        "every role running",
        Duration::from_secs(60),
        |ready| states(ready) == all_in("running"),
    )
    .await;

    // The engine's virtual host is deleted (this environment's alone): the intake loses
    // its consumer and cannot connect again; the relay finds out when it has something to
    // publish, a task for a complaint posted over HTTP.
    reqwest::Client::new()
        .delete(format!("{MANAGEMENT}/vhosts/hotline-{}", env.id))
        .basic_auth("guest", Some("guest"))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("delete the vhost");
    let (status, answer) = engine
        .post_event(OPERATOR, &complaint("PT-RDY-3", "SC-0101", None, "过期"))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let (status, ready) = readyz_once(
        &engine,
        "the intake and the relay restarting",
        Duration::from_secs(60),
        |ready| {
            ready["roles"]["intake"]["state"] == "restarting"
                && ready["roles"]["relay"]["state"] == "restarting"
        },
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
    assert_eq!(
        (&ready["database"], &ready["broker"]),
        (&json!(true), &json!(false))
    );
    // (role, work waiting for it: the task in the outbox for the relay)
    for (role, waiting) in [("intake", false), ("relay", true)] {
        let mut report = report_of(&ready, role);
        // Why, in at most 200 bytes.
        let error = report["error"].take();
        let error = error.as_str().unwrap_or_default();
        assert!(
            !error.is_empty() && error.len() <= 200,
            "{role}'s error: {ready}"
        );
        assert_eq!(
            report,
            json!({"ready": false, "state": "restarting", "work_waiting": waiting, "error": null}),
            "{role}: {ready}"
        );
    }
    // The roles that need only the database run on.
    for role in ["periodic", "scheduler"] {
        assert_eq!(
            report_of(&ready, role),
            json!({"ready": true, "state": "running", "work_waiting": false, "error": null}),
            "{role}: {ready}"
        );
    }

    // The broker takes them again: ready, the task delivered, and every role running once
    // it has worked.
    recreate_vhost(&env).await;
    wait_for("ready again", Duration::from_secs(120), || async {
        readyz(&engine).await.0 == StatusCode::OK
    })
    .await;
    wait_for("the task delivered", Duration::from_secs(60), || async {
        env.queue_len("hotline.tasks.SCJGJ").await == 1
    })
    .await;
    handle(&env, &[complaint("PT-RDY-4", "SC-0101", None, "过期")]).await;
    let (status, ready) = readyz_once(
        &engine,
        "every role running again",
        Duration::from_secs(60),
        |ready| states(ready) == all_in("running"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_every_role_running(&ready);
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

/// Alive but stuck is not ready: the intake, its batch blocked by a lock the test holds on
/// `orders` while an event waits, is reported not ready once it has made no progress for
/// 60 s (`STALL`), and ready again when the lock goes and the batch commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_reports_an_intake_stalled_60_seconds_with_work_waiting_not_ready() {
    let env = TestEnv::new().await;
    let engine = env.start_engine().await;
    let mut lock = hotline_store::begin(&env.pool).await.unwrap();
    sqlx::query("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    env.publish(&[complaint("PT-STALL-1", "SC-0101", None, "过期食品")])
        .await;
    let (status, ready) = readyz_once(
        &engine,
        "the intake not ready, stalled with work waiting",
        Duration::from_secs(180),
        |ready| ready["roles"]["intake"]["ready"] == false,
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
    let intake = &ready["roles"]["intake"];
    assert_eq!(
        (&intake["work_waiting"], &intake["error"]),
        (&json!(true), &Value::Null),
        "stalled, not failed: {ready}"
    );
    assert!(
        intake["idle_seconds"].as_u64().is_some_and(|s| s >= 60),
        "{ready}"
    );
    lock.rollback().await.unwrap();
    let (status, ready) = readyz_once(
        &engine,
        "the intake ready again",
        Duration::from_secs(60),
        |ready| ready["roles"]["intake"]["ready"] == true,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(
        env.count("SELECT count(*) FROM orders").await,
        1,
        "the batch committed"
    );
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}
