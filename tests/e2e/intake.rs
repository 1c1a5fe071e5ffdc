//! The vertical slice: complaints on AMQP become dispatched work orders.

use crate::support::{RawMessage, TestEnv, complaint, header, metric_value, reason, wait_for};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

const TASK_QUEUES: [&str; 6] = ["SCJGJ", "YSBZX", "ZFYJJ", "JJPQ", "HTPQ", "MANUAL"];

/// A case of the test catalog, where it must land and by which rule.
struct Routed {
    category: &'static str,
    district: Option<&'static str>,
    title: &'static str,
    department: &'static str,
    rule: &'static str,
}

fn routed_cases() -> Vec<Routed> {
    let case = |category, district, title, department, rule| Routed {
        category,
        district,
        title,
        department,
        rule,
    };
    vec![
        case(
            "SC-0101",
            Some("金井"),
            "超市卖临期商品",
            "SCJGJ",
            "catalog:SC-0101",
        ),
        case("YB-0101", None, "异地就医报销", "YSBZX", "catalog:YB-0101"),
        case(
            "PQ-0001",
            Some("金井"),
            "小区门口有人摆摊",
            "JJPQ",
            "catalog:PQ-0001+district:金井",
        ),
        case(
            "PQ-0001",
            Some("海坛"),
            "早市堵路",
            "HTPQ",
            "catalog:PQ-0001+district:海坛",
        ),
        case(
            "PQ-0001",
            None,
            "路边摊",
            "ZFYJJ",
            "catalog:PQ-0001+district-fallback",
        ),
        case("", None, "牛奶变质了", "SCJGJ", "keyword:变质→SC-0101"),
        case(
            "XX-9999",
            Some("海坛"),
            "店外占道",
            "HTPQ",
            "keyword:占道→PQ-0001+district:海坛",
        ),
        case("", None, "路灯不亮", "MANUAL", "manual"),
    ]
}

async fn task_counts(env: &TestEnv) -> u32 {
    let mut total = 0;
    for dept in TASK_QUEUES {
        total += env.queue_len(&format!("hotline.tasks.{dept}")).await;
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complaints_become_orders_and_tasks_on_the_right_department_queues() {
    let env = TestEnv::new().await;
    let engine = env.start_engine().await;

    let cases = routed_cases();
    let n = 400;
    let mut expected: HashMap<String, &Routed> = HashMap::new();
    let events: Vec<Value> = (0..n)
        .map(|i| {
            let case = &cases[i % cases.len()];
            let order_no = format!("PT20261125{i:06}");
            expected.insert(order_no.clone(), case);
            complaint(&order_no, case.category, case.district, case.title)
        })
        .collect();
    env.publish(&events).await;

    wait_for("every task published", Duration::from_secs(120), || async {
        task_counts(&env).await == n as u32
    })
    .await;
    assert_eq!(env.count("SELECT count(*) FROM orders").await, n as i64);

    let mut per_department: BTreeMap<String, usize> = BTreeMap::new();
    for dept in TASK_QUEUES {
        for message in env.drain(&format!("hotline.tasks.{dept}")).await {
            let task: Value = serde_json::from_slice(&message.delivery.data).unwrap();
            let order_no = task["order_no"].as_str().unwrap();
            assert_eq!(
                expected[order_no].department, dept,
                "{order_no} landed on the wrong queue"
            );
            assert_eq!(task["department"], dept);
            assert_eq!(task["rule"], expected[order_no].rule, "{order_no}");
            assert_eq!(task["dispatch_count"], 1);
            assert_eq!(task["citizen"]["phone"], "13900000000");
            assert!(task["committed_due_at"].is_string() && task["statutory_due_at"].is_string());
            let properties = &message.delivery.properties;
            assert_eq!(properties.delivery_mode(), &Some(2), "persistent");
            assert_eq!(
                properties.message_id().as_ref().map(|m| m.as_str()),
                task["task_id"].as_str(),
                "message_id is the task id"
            );
            *per_department.entry(dept.to_owned()).or_default() += 1;
        }
    }
    let mut wanted: BTreeMap<String, usize> = BTreeMap::new();
    for case in expected.values() {
        *wanted.entry(case.department.to_string()).or_default() += 1;
    }
    assert_eq!(per_department, wanted);

    // The database agrees with the queues, and every order says which rule placed it.
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT order_no, department, rule FROM orders")
            .fetch_all(&env.pool)
            .await
            .unwrap();
    for (order_no, department, rule) in rows {
        assert_eq!(
            (department.as_str(), rule.as_str()),
            (expected[&order_no].department, expected[&order_no].rule)
        );
    }
    assert_eq!(env.count("SELECT count(*) FROM dispatches").await, n as i64);
    assert_eq!(
        env.count("SELECT count(*) FROM order_events").await,
        n as i64
    );

    // Metrics.
    let text = engine.metrics().await;
    assert_eq!(
        metric_value(
            &text,
            "hotline_events_received_total{type=\"complaint.received\"}"
        ),
        n as f64
    );
    for (dept, count) in &wanted {
        let sample = format!("hotline_orders_dispatched_total{{department=\"{dept}\"}}");
        assert_eq!(metric_value(&text, &sample), *count as f64, "{sample}");
    }
    assert_eq!(
        metric_value(&text, "hotline_dispatch_latency_seconds_count"),
        n as f64
    );
    for code in hotline_schema::rejection::RejectCode::ALL {
        let sample = format!("hotline_events_rejected_total{{reason=\"{code}\"}}");
        assert_eq!(metric_value(&text, &sample), 0.0, "{sample}");
    }
    assert!(!text.contains("13900000000"), "no phone number in metrics");
    assert!(
        !engine.log().contains("13900000000"),
        "no phone number in logs"
    );
    assert!(!engine.log().contains("测试市民"), "no name in logs");

    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_and_redelivered_events_have_one_effect() {
    let env = TestEnv::new().await;
    let engine = env.start_engine().await;

    let event = complaint("PT-DUP-1", "SC-0101", None, "过期面包");
    let copy = RawMessage::event(&event);
    let mut changed = event.clone();
    changed["title"] = json!("同一事件的另一个版本");
    // Five copies: same message_id, another message_id, none, and the same event_id
    // with other content — all one event.
    env.publish_raw(&[
        copy.clone(),
        copy.clone(),
        RawMessage {
            message_id: Some("some-other-message-id".into()),
            ..copy.clone()
        },
        RawMessage {
            message_id: None,
            ..copy.clone()
        },
        RawMessage::event(&changed),
    ])
    .await;
    // A marker after them: once it is in, the copies have been handled.
    env.publish(&[complaint("PT-DUP-MARK", "SC-0101", None, "x")])
        .await;
    wait_for("the marker order", Duration::from_secs(60), || async {
        env.count("SELECT count(*) FROM orders WHERE order_no = 'PT-DUP-MARK'")
            .await
            == 1
    })
    .await;
    wait_for("two tasks", Duration::from_secs(30), || async {
        env.queue_len("hotline.tasks.SCJGJ").await == 2
    })
    .await;
    assert_eq!(env.count("SELECT count(*) FROM orders").await, 2);
    assert_eq!(env.count("SELECT count(*) FROM dispatches").await, 2);
    assert_eq!(env.count("SELECT count(*) FROM rejected_events").await, 0);
    let title: String = sqlx::query_scalar("SELECT title FROM orders WHERE order_no = 'PT-DUP-1'")
        .fetch_one(&env.pool)
        .await
        .unwrap();
    assert_eq!(title, "过期面包", "the first copy is the one that counts");
    assert_eq!(
        engine
            .metric("hotline_events_duplicate_total{type=\"complaint.received\"}")
            .await,
        4.0
    );
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_bad_input_is_dead_lettered_with_its_reason() {
    let env = TestEnv::new().await;
    let engine = env.start_engine().await;

    let mut missing = complaint("PT-BAD-1", "SC-0101", None, "t");
    missing.as_object_mut().unwrap().remove("content");
    let mut invalid = complaint("PT-BAD-2", "SC-0101", None, "t");
    invalid["urgency"] = json!("whenever");
    let mut unknown_type = complaint("PT-BAD-3", "SC-0101", None, "t");
    unknown_type["type"] = json!("complaint.teleported");
    let mut oversized = complaint("PT-BAD-4", "SC-0101", None, "t");
    oversized["content"] = json!("很长".repeat(2000));
    let unknown_order = json!({
        "event_id": uuid::Uuid::new_v4(), "type": "order.accepted",
        "occurred_at": "2026-11-25T11:00:00+08:00", "order_no": "PT-NOWHERE",
        "department": "SCJGJ", "handler": "h1"
    });
    let first = complaint("PT-BAD-5", "SC-0101", None, "过期");
    let same_order_again = complaint("PT-BAD-5", "SC-0101", None, "过期");
    // Well-formed, but the database refuses to store it (a constraint this test adds, in
    // place of a defect no valid event reaches any more: the parser now holds every text
    // field to its limit): it is isolated and dead-lettered rather than retried.
    sqlx::query("ALTER TABLE orders ADD CONSTRAINT test_refuses CHECK (title <> '存不下的工单')")
        .execute(&env.pool)
        .await
        .unwrap();
    let unstorable = complaint("PT-BAD-6", "SC-0101", None, "存不下的工单");

    let bad: Vec<(RawMessage, &str)> = vec![
        (RawMessage::bytes(b"{this is not json", None), "not_json"),
        (
            RawMessage::bytes(&[0xff, 0xfe, 0x00, 0x7b], Some("m-utf8")),
            "not_utf8",
        ),
        (RawMessage::event(&missing), "missing_field"),
        (RawMessage::event(&invalid), "invalid_field"),
        (RawMessage::event(&unknown_type), "unknown_type"),
        (RawMessage::event(&oversized), "too_large"),
        (RawMessage::event(&unknown_order), "unknown_order"),
        (RawMessage::event(&same_order_again), "duplicate_order"),
        (RawMessage::event(&unstorable), "unprocessable"),
    ];
    env.publish(std::slice::from_ref(&first)).await;
    let messages: Vec<_> = bad.iter().map(|(m, _)| m.clone()).collect();
    env.publish_raw(&messages).await;
    // The queue is not blocked: a good event after the bad ones goes through.
    env.publish(&[complaint("PT-GOOD-AFTER", "YB-0101", None, "医保")])
        .await;

    wait_for(
        "every bad event dead-lettered",
        Duration::from_secs(60),
        || async { env.queue_len("hotline.rejected").await == bad.len() as u32 },
    )
    .await;
    wait_for(
        "the good event dispatched",
        Duration::from_secs(30),
        || async { env.queue_len("hotline.tasks.YSBZX").await == 1 },
    )
    .await;

    let rejected = env.drain("hotline.rejected").await;
    let mut by_body: HashMap<Vec<u8>, (String, Option<String>, Option<String>)> = HashMap::new();
    for message in rejected {
        by_body.insert(
            message.delivery.data.clone(),
            (
                reason(&message),
                header(&message, "x-hotline-body-bytes"),
                header(&message, "x-hotline-body-truncated"),
            ),
        );
    }
    for (message, code) in &bad {
        // A body too large to keep is dead-lettered as its first 4 KiB, with its size;
        // every other unchanged.
        let too_large = *code == "too_large";
        let kept = if too_large {
            &message.body[..hotline_schema::topology::KEPT_PREFIX_BYTES]
        } else {
            &message.body[..]
        };
        let (why, bytes, truncated) = by_body
            .get(kept)
            .unwrap_or_else(|| panic!("{code}: body not dead-lettered as expected"));
        assert!(why.starts_with(&format!("{code}: ")), "{code}: got {why}");
        let expected_bytes = too_large.then(|| message.body.len().to_string());
        assert_eq!(bytes, &expected_bytes, "{code}");
        assert_eq!(truncated.as_deref(), too_large.then_some("true"), "{code}");
    }
    assert_eq!(
        env.count(
            "SELECT count(*) FROM rejected_events WHERE reason_code = 'too_large'
               AND length(body) = 4096 AND original_bytes > 4096
               AND length(original_sha256) = 64"
        )
        .await,
        1,
        "the database keeps the prefix, the size and the digest"
    );
    let text = engine.metrics().await;
    for code in hotline_schema::rejection::RejectCode::ALL {
        let expected = bad.iter().filter(|(_, c)| *c == code.as_str()).count() as f64;
        let sample = format!("hotline_events_rejected_total{{reason=\"{code}\"}}");
        assert_eq!(metric_value(&text, &sample), expected, "{sample}");
    }
    assert_eq!(
        env.count("SELECT count(*) FROM rejected_events").await,
        bad.len() as i64,
        "every rejected body is kept in the database too"
    );
    assert_eq!(env.count("SELECT count(*) FROM orders").await, 2);
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engines_killed_and_restarted_mid_stream_lose_nothing() {
    let env = TestEnv::new().await;
    env.declare_topology().await;
    let n = 3000;
    let cases = routed_cases();
    let events: Vec<Value> = (0..n)
        .map(|i| {
            let case = &cases[i % cases.len()];
            complaint(
                &format!("PT-CRASH-{i:05}"),
                case.category,
                case.district,
                case.title,
            )
        })
        .collect();
    env.publish(&events).await;

    // First engine: killed without warning once it is under way.
    let first = env.start_engine().await;
    wait_for("some orders in", Duration::from_secs(60), || async {
        env.count("SELECT count(*) FROM orders").await >= 300
    })
    .await;
    first.kill().await;
    let after_crash = env.count("SELECT count(*) FROM orders").await;
    assert!(after_crash < n as i64, "the crash happened mid-stream");

    // Two engines take over side by side, then one is stopped gracefully.
    let second = env.start_engine().await;
    let third = env.start_engine().await;
    wait_for("every order in", Duration::from_secs(180), || async {
        env.count("SELECT count(*) FROM orders").await == n as i64
    })
    .await;
    assert!(second.terminate().await.success(), "SIGTERM exits cleanly");
    wait_for("outbox drained", Duration::from_secs(60), || async {
        env.count("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .await
            == 0
    })
    .await;
    assert!(third.terminate().await.success());

    // Exactly one dispatch per order; on the queues, every task at least once (a crash
    // between confirm and commit may publish one again, with the same message_id).
    assert_eq!(env.count("SELECT count(*) FROM dispatches").await, n as i64);
    assert_eq!(
        env.count("SELECT count(DISTINCT order_no) FROM dispatches")
            .await,
        n as i64
    );
    let mut task_ids = HashSet::new();
    let mut orders = HashSet::new();
    for dept in TASK_QUEUES {
        for message in env.drain(&format!("hotline.tasks.{dept}")).await {
            let task: Value = serde_json::from_slice(&message.delivery.data).unwrap();
            task_ids.insert(task["task_id"].as_str().unwrap().to_owned());
            orders.insert(task["order_no"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(task_ids.len(), n, "every task reached its queue");
    assert_eq!(orders.len(), n);
    assert_eq!(env.queue_len("hotline.intake").await, 0);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_config_stops_the_start_naming_file_line_and_fault() {
    let bad = crate::support::TEST_CONFIG.replace(
        "department = \"YSBZX\"\nstatutory_limit = \"2wd\"",
        "department = \"NOPE\"\nstatutory_limit = \"2wd\"",
    );
    let env = TestEnv::with_config(&bad).await;
    let engine = env.spawn_engine(&["serve"]);
    let (status, log) = engine.exit(Duration::from_secs(30)).await;
    assert_eq!(status.code(), Some(1), "stopped, not crashed: {log}");
    let path = env.config_path.display().to_string();
    let line = bad[..bad.find("department = \"NOPE\"").unwrap()]
        .matches('\n')
        .count()
        + 1;
    assert!(
        log.contains(&format!(
            "{path}:{line}: matter: unknown department \"NOPE\""
        )),
        "{log}"
    );
    env.cleanup().await;
}

/// Publishes `n` complaints of the routed cases, numbered `prefix-00000`….
fn backlog(prefix: &str, n: usize) -> Vec<Value> {
    let cases = routed_cases();
    (0..n)
        .map(|i| {
            let case = &cases[i % cases.len()];
            complaint(
                &format!("{prefix}-{i:05}"),
                case.category,
                case.district,
                case.title,
            )
        })
        .collect()
}

/// What the engine committed (keys taken), and what the broker still holds for it.
async fn committed_and_queued(env: &TestEnv) -> (i64, u32) {
    (
        env.count("SELECT count(*) FROM processed_events").await,
        env.queue_len("hotline.intake").await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_and_sigint_while_a_backlog_drains_lose_nothing_and_ack_nothing_uncommitted() {
    let env = TestEnv::new().await;
    env.declare_topology().await;
    let n = 10_000;
    env.publish(&backlog("PT-SIG", n)).await;

    for (round, signal) in ["SIGTERM", "SIGINT"].into_iter().enumerate() {
        let engine = env.start_engine().await;
        let target = 1_000 * (round as i64 + 1) * 2;
        wait_for(
            "some of the backlog in",
            Duration::from_secs(120),
            || async { env.count("SELECT count(*) FROM orders").await >= target },
        )
        .await;
        let status = match signal {
            "SIGTERM" => engine.terminate().await,
            _ => engine.interrupt().await,
        };
        assert!(status.success(), "{signal}: a clean exit");
        let (committed, queued) = committed_and_queued(&env).await;
        assert!(committed < n as i64, "{signal} came mid-stream");
        // Every delivery is either committed (and acknowledged) or back on the queue:
        // nothing acknowledged without its effects, nothing lost.
        assert_eq!(committed + i64::from(queued), n as i64, "after {signal}");
        assert_eq!(env.count("SELECT count(*) FROM orders").await, committed);
        // What was committed was published before the exit.
        assert_eq!(
            env.count("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                .await,
            0,
            "{signal}: the relay published what was committed"
        );
    }

    let last = env.start_engine().await;
    wait_for("the whole backlog in", Duration::from_secs(180), || async {
        env.count("SELECT count(*) FROM orders").await == n as i64
    })
    .await;
    wait_for("every task published", Duration::from_secs(60), || async {
        env.count("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .await
            == 0
    })
    .await;
    assert!(last.terminate().await.success());
    assert_eq!(env.count("SELECT count(*) FROM dispatches").await, n as i64);
    assert_eq!(env.queue_len("hotline.intake").await, 0);
    assert_eq!(task_counts(&env).await, n as u32, "one task per order");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_intake_consumers_in_one_process_dispatch_every_order_once() {
    let config =
        crate::support::TEST_CONFIG.replace("batch_size = 64", "batch_size = 64\nconsumers = 2");
    let env = TestEnv::with_config(&config).await;
    env.declare_topology().await;
    let n = 2_000;
    env.publish(&backlog("PT-TWO", n)).await;
    let engine = env.start_engine().await;
    wait_for("every task published", Duration::from_secs(120), || async {
        task_counts(&env).await == n as u32
    })
    .await;
    assert_eq!(
        engine.log().matches("intake consuming").count(),
        2,
        "two consumers"
    );
    assert_eq!(env.count("SELECT count(*) FROM orders").await, n as i64);
    assert_eq!(
        env.count("SELECT count(DISTINCT order_no) FROM dispatches")
            .await,
        n as i64
    );
    assert_eq!(env.count("SELECT count(*) FROM dispatches").await, n as i64);
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_run_apart_and_the_counters_say_exactly_what_each_did() {
    let env = TestEnv::new().await;
    env.declare_topology().await;
    // The HTTP role alone consumes nothing.
    let http = env.start_roles("http").await;
    let mut events = backlog("PT-ROLE", 5);
    events.push(serde_json::json!({"type": "complaint.received", "order_no": "PT-ROLE-BAD"}));
    env.publish(&events).await;
    // Not a pause: the running HTTP role holds no consumer on the intake queue at all.
    let (connection, channel) = env.channel().await;
    let intake_queue = channel
        .queue_declare(
            "hotline.intake".into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await
        .expect("the intake queue");
    connection.close(200, "done".into()).await.ok();
    assert_eq!(intake_queue.consumer_count(), 0, "no consumer");
    assert_eq!(intake_queue.message_count(), 6, "nothing consumed");
    assert_eq!(env.count("SELECT count(*) FROM processed_events").await, 0);

    // The intake alone: every event applied, nothing published (no relay).
    let intake = env.start_roles("intake").await;
    wait_for("the events applied", Duration::from_secs(60), || async {
        env.count("SELECT count(*) FROM orders").await == 5
            && env.count("SELECT count(*) FROM rejected_events").await == 1
    })
    .await;
    assert_eq!(env.queue_len("hotline.intake").await, 0);
    assert_eq!(task_counts(&env).await, 0, "no relay, no task");
    let text = http.metrics().await;
    for (kind, pending) in [
        ("task", 5.0),
        ("rejected", 1.0),
        ("alert", 0.0),
        ("digest", 0.0),
    ] {
        let sample = format!("hotline_outbox_pending{{kind=\"{kind}\"}}");
        assert_eq!(metric_value(&text, &sample), pending, "{sample}");
    }

    // The relay alone publishes them.
    let relay = env.start_roles("relay").await;
    wait_for("the outbox published", Duration::from_secs(60), || async {
        task_counts(&env).await == 5 && env.queue_len("hotline.rejected").await == 1
    })
    .await;
    assert!(intake.terminate().await.success());
    assert!(relay.terminate().await.success());
    assert!(http.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_intake_and_relay_counters_are_exact() {
    let env = TestEnv::new().await;
    env.declare_topology().await;
    let mut events = backlog("PT-COUNT", 5);
    events.push(serde_json::json!({"type": "complaint.received", "order_no": "PT-COUNT-BAD"}));
    env.publish(&events).await;
    let engine = env.start_engine().await;
    wait_for("everything published", Duration::from_secs(60), || async {
        task_counts(&env).await == 5 && env.queue_len("hotline.rejected").await == 1
    })
    .await;
    let text = engine.metrics().await;
    let exact = [
        // Every delivery went through exactly one committed batch.
        ("hotline_intake_batch_size_sum", 6.0),
        (
            "hotline_events_received_total{type=\"complaint.received\"}",
            6.0,
        ),
        (
            "hotline_events_rejected_total{reason=\"missing_field\"}",
            1.0,
        ),
        ("hotline_relay_published_total{kind=\"task\"}", 5.0),
        ("hotline_relay_published_total{kind=\"rejected\"}", 1.0),
        ("hotline_relay_published_total{kind=\"alert\"}", 0.0),
        ("hotline_relay_published_total{kind=\"digest\"}", 0.0),
        ("hotline_dispatch_latency_seconds_count", 5.0),
    ];
    for (sample, value) in exact {
        assert_eq!(metric_value(&text, sample), value, "{sample}");
    }
    let batches = metric_value(&text, "hotline_intake_batch_size_count");
    assert!((1.0..=6.0).contains(&batches), "{batches} batches");
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}
