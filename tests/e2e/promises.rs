//! Promises of `docs/contract.md` that no other module holds to account: the AMQP
//! properties of every message the engine publishes, `matter_name` on tasks, unknown
//! inbound fields kept on the timeline, the outbox setting aside a message the broker keeps
//! refusing, the retention sweep's counter, and a running engine replaying deadlines
//! after `hotline calendar import`.

use crate::support::{
    TEST_CONFIG, TestEnv, complaint, handle, header, metric_value, now, wait_for,
};
use chrono::{DateTime, Utc};
use lapin::message::BasicGetMessage;
use lapin::options::{QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use serde_json::{Value, json};
use std::time::Duration;

const SUPERVISOR: &str = "sv-promises-0123456789";
const SUPERVISION: &str = "hotline.alerts.supervision";

fn body(message: &BasicGetMessage) -> Value {
    serde_json::from_slice(&message.delivery.data).expect("a JSON body")
}

fn message_id(message: &BasicGetMessage) -> Option<String> {
    let properties = &message.delivery.properties;
    properties.message_id().as_ref().map(|m| m.to_string())
}

/// Waits until `queue` holds at least `n` messages, then takes them all.
async fn take(env: &TestEnv, queue: &str, n: u32) -> Vec<BasicGetMessage> {
    wait_for(queue, Duration::from_secs(60), || async {
        env.queue_len(queue).await >= n
    })
    .await;
    env.drain(queue).await
}

/// §3: JSON, persistent, `content_type` `application/json`, `app_id` `hotline`, a
/// `timestamp` in seconds (taken when it was published) and the `message_id` §6 gives.
fn assert_properties(message: &BasicGetMessage, id: &str, before: i64, after: i64) {
    let p = &message.delivery.properties;
    let what = message.delivery.routing_key.to_string();
    assert_eq!(
        p.content_type().as_ref().map(|c| c.as_str()),
        Some("application/json"),
        "{what}"
    );
    assert_eq!(p.delivery_mode(), &Some(2), "{what}: persistent");
    assert_eq!(p.app_id().as_ref().map(|a| a.as_str()), Some("hotline"));
    assert_eq!(message_id(message).as_deref(), Some(id), "{what}");
    let timestamp = p.timestamp().expect("a timestamp") as i64;
    assert!(
        (before..=after).contains(&timestamp),
        "{what}: timestamp {timestamp} outside [{before}, {after}] (seconds)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_messages_carry_the_documented_amqp_properties() {
    let env = TestEnv::new().await;
    let engine = env.start_engine().await;
    let before = Utc::now().timestamp();

    // A task, alerts (a one-minute matter received ten minutes ago is overdue on
    // arrival), and a dead letter (a complaint without its title).
    let mut late = complaint("PT-PROPS-1", "JJ-0001", None, "燃气泄漏");
    late["occurred_at"] = json!(hotline_core::calendar::business_time(
        Utc::now() - chrono::TimeDelta::minutes(10)
    ));
    let mut untitled = complaint("PT-PROPS-2", "SC-0101", None, "过期");
    untitled.as_object_mut().unwrap().remove("title");
    env.publish(&[late, untitled.clone()]).await;

    let tasks = take(&env, "hotline.tasks.ZFYJJ", 1).await;
    let alerts = take(&env, SUPERVISION, 1).await;
    let rejected = take(&env, "hotline.rejected", 1).await;
    let after = Utc::now().timestamp();

    assert_eq!(tasks.len(), 1);
    let task = body(&tasks[0]);
    assert_eq!(task["order_no"], "PT-PROPS-1");
    assert_properties(&tasks[0], task["task_id"].as_str().unwrap(), before, after);

    for alert in &alerts {
        let fields = body(alert);
        assert_eq!(fields["order_no"], "PT-PROPS-1");
        let level = fields["level"].as_str().unwrap();
        assert_eq!(
            alert.delivery.routing_key.as_str(),
            format!("{level}.ZFYJJ")
        );
        assert_eq!(header(alert, "x-hotline-level").as_deref(), Some(level));
        assert_properties(alert, fields["alert_id"].as_str().unwrap(), before, after);
    }

    // A refused body's key: its event_id and the first 16 hex digits of its SHA-256 (§4).
    assert_eq!(rejected.len(), 1);
    use sha2::Digest;
    let digest: String = sha2::Sha256::digest(&rejected[0].delivery.data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        rejected[0].delivery.data,
        serde_json::to_vec(&untitled).unwrap(),
        "the body byte for byte"
    );
    let key = format!(
        "{}#{}",
        untitled["event_id"].as_str().unwrap(),
        &digest[..16]
    );
    assert_properties(&rejected[0], &key, before, after);
    assert_eq!(
        header(&rejected[0], "x-hotline-reason-code").as_deref(),
        Some("missing_field")
    );
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_names_its_matter_or_null_when_none_was_identified() {
    let env = TestEnv::new().await;
    let engine = env.start_engine().await;
    handle(
        &env,
        &[
            // By its catalog code, by a keyword, and by nothing at all (the manual desk).
            complaint("PT-MATTER-1", "SC-0101", None, "超市销售过期食品"),
            complaint("PT-MATTER-2", "", None, "医保报销比例咨询"),
            complaint("PT-MATTER-3", "", None, "路灯不亮"),
        ],
    )
    .await;
    for (queue, order_no, rule, matter_name) in [
        (
            "hotline.tasks.SCJGJ",
            "PT-MATTER-1",
            "catalog:SC-0101",
            json!("食品安全投诉"),
        ),
        (
            "hotline.tasks.YSBZX",
            "PT-MATTER-2",
            "keyword:医保→YB-0101",
            json!("医保报销咨询"),
        ),
        ("hotline.tasks.MANUAL", "PT-MATTER-3", "manual", Value::Null),
    ] {
        let tasks = take(&env, queue, 1).await;
        assert_eq!(tasks.len(), 1, "{queue}");
        let task = body(&tasks[0]);
        assert_eq!(task["order_no"], order_no);
        assert_eq!(task["rule"], rule);
        // Present even when null: a consumer can tell "no matter" from an old engine.
        assert_eq!(task.get("matter_name"), Some(&matter_name), "{order_no}");
    }
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_inbound_fields_are_kept_on_the_timeline() {
    let env = TestEnv::new().await;
    let engine = env
        .start_engine_with_env(&[("HOTLINE_API_TOKENS", &format!("{SUPERVISOR}:supervisor"))])
        .await;
    let front_end = json!({"ticket": "A-0017", "seat": 7, "tags": ["回拨", null]});
    let mut case = complaint("PT-EXTRA-1", "SC-0101", None, "过期");
    case["x_front_end"] = front_end.clone();
    let urge = now(
        "order.urged",
        "PT-EXTRA-1",
        json!({"note": "尽快", "x_supervisor_desk": "督查科-3"}),
    );
    handle(&env, &[case]).await;
    handle(&env, &[urge]).await;

    let (status, order) = engine.get("/api/orders/PT-EXTRA-1", SUPERVISOR).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{order}");
    let timeline = order["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 2, "{order}");
    assert_eq!(timeline[0]["type"], "complaint.received");
    assert_eq!(timeline[0]["detail"]["x_front_end"], front_end);
    assert_eq!(timeline[1]["type"], "order.urged");
    assert_eq!(timeline[1]["detail"]["x_supervisor_desk"], "督查科-3");
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

/// A queue of the integrator's own, bound to `hotline.tasks` for `SCJGJ`, that refuses
/// every message (`x-max-length` 0, `reject-publish`): the broker nacks each task to
/// `SCJGJ`, whatever the engine does, and keeps accepting every other message.
async fn bind_a_refusing_queue(env: &TestEnv) {
    env.declare_topology().await;
    let (connection, channel) = env.channel().await;
    let mut arguments = FieldTable::default();
    arguments.insert("x-max-length".into(), AMQPValue::LongLongInt(0));
    arguments.insert(
        "x-overflow".into(),
        AMQPValue::LongString("reject-publish".into()),
    );
    channel
        .queue_declare(
            "integrator.full".into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            arguments,
        )
        .await
        .expect("declare the refusing queue");
    channel
        .queue_bind(
            "integrator.full".into(),
            "hotline.tasks".into(),
            "SCJGJ".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bind the refusing queue");
    connection.close(200, "done".into()).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_broker_keeps_refusing_is_set_aside_and_the_others_flow() {
    let env = TestEnv::new().await;
    bind_a_refusing_queue(&env).await;
    let engine = env.start_engine().await;

    // The first task (to SCJGJ) is refused; the second (to YSBZX), behind it, is not.
    env.publish(&[
        complaint("PT-ASIDE-1", "SC-0101", None, "过期"),
        complaint("PT-ASIDE-2", "YB-0101", None, "医保"),
    ])
    .await;
    wait_for(
        "the refused task set aside",
        Duration::from_secs(120),
        || async {
            env.count("SELECT count(*) FROM outbox WHERE failed_at IS NOT NULL")
                .await
                == 1
        },
    )
    .await;
    let (kind, routing_key, published, error): (String, String, bool, Option<String>) =
        sqlx::query_as(
            "SELECT kind, routing_key, published_at IS NOT NULL, last_error
             FROM outbox WHERE failed_at IS NOT NULL",
        )
        .fetch_one(&env.pool)
        .await
        .unwrap();
    assert_eq!(
        (kind.as_str(), routing_key.as_str(), published),
        ("task", "SCJGJ", false)
    );
    assert_eq!(
        error.as_deref(),
        Some("refused by the broker 3 times; set aside")
    );
    let task_id: uuid::Uuid =
        sqlx::query_scalar("SELECT task_id FROM dispatches WHERE order_no = 'PT-ASIDE-1'")
            .fetch_one(&env.pool)
            .await
            .unwrap();
    let kept: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE failed_at IS NOT NULL AND message_id = $1",
    )
    .bind(task_id.to_string())
    .fetch_one(&env.pool)
    .await
    .unwrap();
    assert_eq!(kept, 1, "kept, not deleted");

    // Once nothing but it is pending, every copy of the others is in its queue.
    wait_for("the outbox drained", Duration::from_secs(60), || async {
        env.count("SELECT count(*) FROM outbox WHERE published_at IS NULL AND failed_at IS NULL")
            .await
            == 0
    })
    .await;
    // The other task went through (at least once: the batch the refusal broke may have
    // carried it already, under the same message_id).
    let tasks = take(&env, "hotline.tasks.YSBZX", 1).await;
    let orders: Vec<(Value, Option<String>)> = tasks
        .iter()
        .map(|m| (body(m)["order_no"].clone(), message_id(m)))
        .collect();
    let first = orders[0].clone();
    assert_eq!(first.0, "PT-ASIDE-2");
    assert!(orders.iter().all(|o| *o == first), "{orders:?}");
    // A nack refuses a message for one queue, not for all it was routed to: the
    // department's own queue took each copy. Refused once in the first batch, then
    // MAX_ATTEMPTS times on its own, then set aside and never sent again.
    let copies = env.drain("hotline.tasks.SCJGJ").await;
    let ids: Vec<Option<String>> = copies.iter().map(message_id).collect();
    assert_eq!(
        ids,
        vec![Some(task_id.to_string()); 1 + hotline_workers::relay::MAX_ATTEMPTS as usize]
    );

    // The gauges are computed from the database at most every 10 s.
    wait_for("the set-aside gauge", Duration::from_secs(60), || async {
        engine
            .metric("hotline_outbox_set_aside{kind=\"task\"}")
            .await
            == 1.0
    })
    .await;
    let text = engine.metrics().await;
    for kind in ["task", "alert", "rejected", "digest"] {
        let want = if kind == "task" { 1.0 } else { 0.0 };
        for metric in ["hotline_outbox_set_aside", "hotline_outbox_failed_total"] {
            let sample = format!("{metric}{{kind=\"{kind}\"}}");
            assert_eq!(metric_value(&text, &sample), want, "{sample}");
        }
        let pending = format!("hotline_outbox_pending{{kind=\"{kind}\"}}");
        assert_eq!(
            metric_value(&text, &pending),
            0.0,
            "{pending}: set aside excluded"
        );
    }
    assert_eq!(
        metric_value(&text, "hotline_relay_published_total{kind=\"task\"}"),
        1.0
    );
    for (department, dispatched) in [("SCJGJ", 0.0), ("YSBZX", 1.0)] {
        let sample = format!("hotline_orders_dispatched_total{{department=\"{department}\"}}");
        assert_eq!(metric_value(&text, &sample), dispatched, "{sample}");
    }

    // Later messages keep flowing, and the one set aside is not tried again.
    env.publish(&[complaint("PT-ASIDE-3", "YB-0101", None, "医保")])
        .await;
    let later = take(&env, "hotline.tasks.YSBZX", 1).await;
    assert_eq!(later.len(), 1);
    assert_eq!(body(&later[0])["order_no"], "PT-ASIDE-3");
    assert_eq!(env.queue_len("hotline.tasks.SCJGJ").await, 0);
    assert_eq!(
        engine
            .metric("hotline_outbox_failed_total{kind=\"task\"}")
            .await,
        1.0
    );
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retention_sweep_counts_what_it_removed_per_kind() {
    let retention = "[retention]\npublished_outbox_days = 1\nprocessed_keys_days = 1\nrejected_events_days = 1\ncitizen_data_days = 1\n";
    let env = TestEnv::with_config(&format!("{TEST_CONFIG}\n{retention}")).await;
    let engine = env.start_engine().await;
    let mut untitled = complaint("PT-KEEP-X", "SC-0101", None, "过期");
    untitled.as_object_mut().unwrap().remove("title");
    handle(
        &env,
        &[
            complaint("PT-KEEP-1", "SC-0101", None, "过期"),
            complaint("PT-KEEP-2", "SC-0101", None, "过期"),
            complaint("PT-KEEP-3", "SC-0101", None, "过期"),
            untitled,
        ],
    )
    .await;
    assert!(engine.terminate().await.success());

    // Age rows past the one-day windows: 4 published outbox rows (3 tasks, 1 dead
    // letter), 3 of the 4 spent keys, the 1 rejected body, 2 of the 3 orders closed.
    for (sql, rows) in [
        (
            "UPDATE outbox SET created_at = now() - interval '2 days',
                               published_at = now() - interval '2 days'",
            4,
        ),
        (
            "UPDATE processed_events SET processed_at = now() - interval '2 days'
             WHERE ctid = ANY(ARRAY(SELECT ctid FROM processed_events LIMIT 3))",
            3,
        ),
        (
            "UPDATE rejected_events SET rejected_at = now() - interval '2 days'",
            1,
        ),
        (
            "UPDATE orders SET state = 'closed', closed_at = now() - interval '2 days'
             WHERE order_no IN ('PT-KEEP-1', 'PT-KEEP-2')",
            2,
        ),
    ] {
        let done = sqlx::query(sql).execute(&env.pool).await.unwrap();
        assert_eq!(done.rows_affected(), rows, "{sql}");
    }

    // The sweep every second; the digest and the repair sweep never.
    let scheduler = "[scheduler]\ndigest_cron = \"0 0 0 1 1 * 2099\"\nrepair_cron = \"0 0 0 1 1 * 2099\"\nretention_cron = \"* * * * * *\"\n";
    env.write_config(&format!("{TEST_CONFIG}\n{retention}\n{scheduler}"));
    let engine = env.start_engine().await;
    // Two sweeps: the first removes everything old, the second nothing (counted once).
    wait_for("two retention sweeps", Duration::from_secs(60), || async {
        engine.log().matches("retention sweep done").count() >= 2
    })
    .await;
    let text = engine.metrics().await;
    for (kind, removed) in [
        ("outbox", 4.0),
        ("processed_keys", 3.0),
        ("rejected_events", 1.0),
        ("citizen_data", 2.0),
    ] {
        let sample = format!("hotline_retention_removed_total{{kind=\"{kind}\"}}");
        assert_eq!(metric_value(&text, &sample), removed, "{sample}");
    }
    assert_eq!(env.count("SELECT count(*) FROM outbox").await, 0);
    assert_eq!(env.count("SELECT count(*) FROM processed_events").await, 1);
    assert_eq!(env.count("SELECT count(*) FROM rejected_events").await, 0);
    assert_eq!(
        env.count(
            "SELECT count(*) FROM orders WHERE citizen_name IS NULL AND citizen_phone IS NULL"
        )
        .await,
        2
    );
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_engine_replays_deadlines_after_a_calendar_import() {
    // A 15-working-day matter, received on Christmas Eve 2026 (the database's clock lies):
    // its deadlines run into January 2027, which no notice declares yet.
    let config = format!(
        "{TEST_CONFIG}\n[[matter]]\ncode = \"SC-1501\"\nname = \"食品生产许可投诉\"\ndepartment = \"SCJGJ\"\nstatutory_limit = \"15wd\"\n"
    );
    let mut env = TestEnv::with_config(&config).await;
    env.make_clock_lie(at("2026-12-24T10:00:00+08:00")).await;
    let engine = env.start_engine().await;
    let mut case = complaint("PT-IMPORT-1", "SC-1501", None, "食品作坊无证生产");
    case["occurred_at"] = json!("2026-12-24T10:00:00+08:00");
    handle(&env, &[case]).await;
    let deadlines = || async {
        let due: (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>, DateTime<Utc>) = sqlx::query_as(
            "SELECT sign_due_at, warning_due_at, committed_due_at, statutory_due_at
             FROM orders WHERE order_no = 'PT-IMPORT-1'",
        )
        .fetch_one(&env.pool)
        .await
        .unwrap();
        due
    };
    assert_eq!(deadlines().await.3, at("2027-01-14T10:00:00+08:00"));

    // The notice, imported by the command while the engine runs: no SIGHUP, no restart.
    let notice = env.config_path.parent().unwrap().join("2027.txt");
    std::fs::write(
        &notice,
        "2027-01-01 休 元旦\n2027-01-04 休 元旦\n2027-01-09 班 元旦\n",
    )
    .unwrap();
    env.run_cli(&["calendar", "import", notice.to_str().unwrap()])
        .await;
    // The contract: picked up within 2 s, replayed within 5 s. A generous bound here.
    wait_for(
        "the deadlines replayed",
        Duration::from_secs(60),
        || async { deadlines().await.3 == at("2027-01-15T10:00:00+08:00") },
    )
    .await;
    // Jan 1 and 4 off, Saturday Jan 9 worked: statutory one working day later, committed
    // two, warning past Jan 1 into Jan 5; the sign deadline (Dec 25) is not crossed.
    assert_eq!(
        deadlines().await,
        (
            at("2026-12-25T10:00:00+08:00"),
            at("2027-01-05T10:00:00+08:00"),
            at("2027-01-06T16:00:00+08:00"),
            at("2027-01-15T10:00:00+08:00"),
        )
    );
    assert_eq!(
        env.count("SELECT count(*) FROM order_events WHERE event_type = 'sla.recomputed'")
            .await,
        1
    );
    // The department has the revised task: the same task_id, revision 2.
    let tasks = take(&env, "hotline.tasks.SCJGJ", 2).await;
    let revisions: Vec<(Value, Value, Value)> = tasks
        .iter()
        .map(|m| {
            let task = body(m);
            (
                task["revision"].clone(),
                task["statutory_due_at"].clone(),
                task["task_id"].clone(),
            )
        })
        .collect();
    assert_eq!(revisions[0].2, revisions[1].2, "the same task");
    assert_eq!(
        revisions
            .iter()
            .map(|r| (r.0.clone(), r.1.clone()))
            .collect::<Vec<_>>(),
        [
            (json!(1), json!("2027-01-14T10:00:00+08:00")),
            (json!(2), json!("2027-01-15T10:00:00+08:00")),
        ]
    );
    assert!(
        engine.log().contains("configuration reloaded"),
        "the watcher read the new notice"
    );
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}
