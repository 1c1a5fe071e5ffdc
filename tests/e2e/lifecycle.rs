//! The whole life of a work order and an appointment, on the real engine.

use crate::support::{TestEnv, complaint, event, handle, metric_value, now, reason, wait_for};
use serde_json::{Value, json};
use std::time::Duration;

async fn tasks(env: &TestEnv, department: &str, count: u32) -> Vec<Value> {
    let queue = format!("hotline.tasks.{department}");
    wait_for(
        &format!("{count} task(s) on {queue}"),
        Duration::from_secs(60),
        || async { env.queue_len(&queue).await >= count },
    )
    .await;
    env.drain(&queue)
        .await
        .iter()
        .map(|m| serde_json::from_slice(&m.delivery.data).unwrap())
        .collect()
}

async fn order_state(env: &TestEnv, order_no: &str) -> (String, String, i32) {
    sqlx::query_as("SELECT state, department, dispatch_count FROM orders WHERE order_no = $1")
        .bind(order_no)
        .fetch_one(&env.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returned_order_goes_elsewhere_and_a_reopened_one_back_to_its_department() {
    // Returns re-dispatched at once, without the review (退单审核, see practice.rs).
    let config = crate::support::TEST_CONFIG.replace(
        "district_fallback = \"ZFYJJ\"",
        "district_fallback = \"ZFYJJ\"\nreturn_review = false",
    );
    let env = TestEnv::with_config(&config).await;
    let engine = env.start_engine().await;
    let no = "PT-LIFE-1";
    handle(
        &env,
        &[complaint(
            no,
            "SC-0101",
            Some("金井"),
            "商场门口占道卖过期食品",
        )],
    )
    .await;
    assert_eq!(tasks(&env, "SCJGJ", 1).await[0]["dispatch_count"], 1);

    // SCJGJ returns it: the keyword 占道 places it with the 金井 bureau, never back.
    handle(
        &env,
        &[now(
            "order.returned",
            no,
            json!({"department": "SCJGJ", "reason": "属地管理事项"}),
        )],
    )
    .await;
    let second = tasks(&env, "JJPQ", 1).await;
    assert_eq!(second[0]["dispatch_count"], 2);
    assert_eq!(second[0]["rule"], "keyword:占道→PQ-0001+district:金井");
    assert_eq!(
        order_state(&env, no).await,
        ("dispatched".into(), "JJPQ".into(), 2)
    );

    // The old department can no longer act on it; the new one can.
    handle(
        &env,
        &[
            now(
                "order.accepted",
                no,
                json!({"department": "SCJGJ", "handler": "h1"}),
            ),
            now(
                "order.accepted",
                no,
                json!({"department": "JJPQ", "handler": "h2"}),
            ),
            now("order.urged", no, json!({"note": "市民多次来电"})),
            now(
                "order.replied",
                no,
                json!({"department": "JJPQ", "reply": "已劝离", "resolved": false}),
            ),
            now(
                "order.feedback",
                no,
                json!({"rating": "dissatisfied", "resolved": false, "comment": "又来了"}),
            ),
        ],
    )
    .await;
    // Unsatisfied and not resolved: reopened (重办) to the same department.
    let third = tasks(&env, "JJPQ", 1).await;
    assert_eq!(third[0]["dispatch_count"], 3);
    assert_eq!(
        order_state(&env, no).await,
        ("dispatched".into(), "JJPQ".into(), 3)
    );

    let rejected = env.drain("hotline.rejected").await;
    assert_eq!(rejected.len(), 1);
    let why = reason(&rejected[0]);
    assert!(
        why.starts_with("wrong_department: ") && why.contains("held by JJPQ"),
        "{why}"
    );

    // The timeline shows every accepted event, and the dispatches both departments.
    let timeline: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT event_type, actor FROM order_events WHERE order_no = $1 ORDER BY id",
    )
    .bind(no)
    .fetch_all(&env.pool)
    .await
    .unwrap();
    let types: Vec<&str> = timeline.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "complaint.received",
            "order.returned",
            "order.accepted",
            "order.urged",
            "order.replied",
            "order.feedback"
        ]
    );
    assert_eq!(timeline[1].1.as_deref(), Some("SCJGJ"));
    let dispatches: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT department, return_reason FROM dispatches WHERE order_no = $1 ORDER BY dispatch_no",
    )
    .bind(no)
    .fetch_all(&env.pool)
    .await
    .unwrap();
    assert_eq!(
        dispatches,
        vec![
            ("SCJGJ".to_string(), Some("属地管理事项".to_string())),
            ("JJPQ".to_string(), None),
            ("JJPQ".to_string(), None),
        ]
    );
    let text = engine.metrics().await;
    for (sample, value) in [
        (
            "hotline_feedback_total{department=\"JJPQ\",rating=\"dissatisfied\"}",
            1.0,
        ),
        (
            "hotline_events_rejected_total{reason=\"wrong_department\"}",
            1.0,
        ),
        (
            "hotline_events_rejected_total{reason=\"invalid_state\"}",
            0.0,
        ),
    ] {
        assert_eq!(metric_value(&text, sample), value, "{sample}");
    }
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_satisfied_callback_closes_the_order_and_counts_it() {
    let env = TestEnv::new().await;
    let engine = env.start_engine().await;
    let no = "PT-LIFE-2";
    handle(&env, &[complaint(no, "YB-0101", None, "医保报销")]).await;
    handle(
        &env,
        &[
            now("order.accepted", no, json!({"department": "YSBZX"})),
            now(
                "order.extension_requested",
                no,
                json!({"department": "YSBZX", "extra_working_days": 2, "reason": "需调取材料"}),
            ),
            now("order.extension_decided", no, json!({"approved": true})),
            now("order.suspended", no, json!({"reason": "等待市民补充材料"})),
            now(
                "order.replied",
                no,
                json!({"department": "YSBZX", "reply": "r", "resolved": true}),
            ),
            now("order.resumed", no, json!({})),
            now(
                "order.replied",
                no,
                json!({"department": "YSBZX", "reply": "已办结", "resolved": true}),
            ),
            now(
                "order.feedback",
                no,
                json!({"rating": "very_satisfied", "resolved": true}),
            ),
        ],
    )
    .await;
    assert_eq!(order_state(&env, no).await.0, "closed");
    let (extension_days, on_time): (i32, Option<bool>) =
        sqlx::query_as("SELECT extension_days, on_time FROM orders WHERE order_no = $1")
            .bind(no)
            .fetch_one(&env.pool)
            .await
            .unwrap();
    assert_eq!((extension_days, on_time), (2, Some(true)));
    // The reply while suspended was refused, naming the state.
    let rejected = env.drain("hotline.rejected").await;
    assert_eq!(rejected.len(), 1);
    let why = reason(&rejected[0]);
    assert!(
        why.starts_with("invalid_state: ") && why.contains("is suspended"),
        "{why}"
    );
    assert_eq!(
        env.count("SELECT count(*) FROM timers").await,
        0,
        "a closed order has no timers"
    );
    let text = engine.metrics().await;
    assert_eq!(
        metric_value(
            &text,
            "hotline_orders_closed_total{department=\"YSBZX\",on_time=\"true\"}"
        ),
        1.0
    );
    assert_eq!(
        metric_value(
            &text,
            "hotline_resolution_time_seconds_count{department=\"YSBZX\"}"
        ),
        1.0
    );
    assert_eq!(
        metric_value(
            &text,
            "hotline_events_rejected_total{reason=\"invalid_state\"}"
        ),
        1.0,
        "the reply while suspended"
    );
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_reports_merge_into_the_first_order() {
    let env = TestEnv::new().await;
    let engine = env.start_engine().await;
    let first = complaint("PT-DUPL-1", "SC-0101", Some("海坛"), "餐馆卖变质食品");
    let mut again = complaint("PT-DUPL-2", "SC-0101", Some("海坛"), "又去了那家餐馆");
    again["address"] = first["address"].clone();
    let mut other_phone = complaint("PT-DUPL-3", "SC-0101", Some("海坛"), "同一家餐馆");
    other_phone["address"] = first["address"].clone();
    other_phone["citizen"]["phone"] = json!("13700000000");
    handle(&env, &[first]).await;
    handle(&env, &[again, other_phone]).await;

    assert_eq!(
        tasks(&env, "SCJGJ", 2).await.len(),
        2,
        "one task for the merged pair, one for the other citizen"
    );
    let merged: (String, Option<String>) =
        sqlx::query_as("SELECT state, duplicate_of FROM orders WHERE order_no = 'PT-DUPL-2'")
            .fetch_one(&env.pool)
            .await
            .unwrap();
    assert_eq!(merged, ("merged".into(), Some("PT-DUPL-1".into())));
    assert_eq!(
        env.count("SELECT count(*) FROM order_events WHERE order_no = 'PT-DUPL-2'")
            .await,
        1,
        "the citizen's report is still recorded"
    );
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_order_keyed_by_the_migration_takes_duplicates_as_one_keyed_by_the_engine() {
    // Orders written before migration 0030 get their duplicate key from its SQL; a report
    // the engine keys must find them, white space (a full-width space, a tab) and all.
    let env = TestEnv::new().await;
    let engine = env.start_engine().await;
    let mut first = complaint("PT-KEY-1", "SC-0101", Some("海坛"), "餐馆卖变质食品");
    first["address"] = json!("海坛大道\u{3000}18 号");
    first["citizen"]["phone"] = json!("\t13600000000 ");
    handle(&env, &[first]).await;
    let migration = include_str!("../../store/migrations/0030_duplicate_key.sql");
    let update = &migration[migration.find("UPDATE orders").unwrap()..];
    let update = &update[..update.find(";\n").unwrap()];
    let engine_key: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT duplicate_key FROM orders WHERE order_no = 'PT-KEY-1'")
            .fetch_one(&env.pool)
            .await
            .unwrap();
    sqlx::query("UPDATE orders SET duplicate_key = NULL")
        .execute(&env.pool)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(update))
        .execute(&env.pool)
        .await
        .unwrap();
    let migrated_key: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT duplicate_key FROM orders WHERE order_no = 'PT-KEY-1'")
            .fetch_one(&env.pool)
            .await
            .unwrap();
    assert!(engine_key.is_some());
    assert_eq!(
        migrated_key, engine_key,
        "the migration's digest is the engine's"
    );

    let mut again = complaint("PT-KEY-2", "SC-0101", Some("海坛"), "又去了那家餐馆");
    again["address"] = json!("海坛大道18号");
    again["citizen"]["phone"] = json!("13600000000");
    handle(&env, &[again]).await;
    let merged: (String, Option<String>) =
        sqlx::query_as("SELECT state, duplicate_of FROM orders WHERE order_no = 'PT-KEY-2'")
            .fetch_one(&env.pool)
            .await
            .unwrap();
    assert_eq!(merged, ("merged".into(), Some("PT-KEY-1".into())));
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

/// Writes `text` to `path` keeping its modification time, so that only a signal makes the
/// engine see it (written beside it and renamed over it: the watcher never sees a change).
fn write_unseen(path: &std::path::Path, text: &str) {
    let modified = std::fs::metadata(path).unwrap().modified().unwrap();
    let staged = path.with_extension("staged");
    std::fs::write(&staged, text).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&staged)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    std::fs::rename(&staged, path).unwrap();
}

/// `event` as happening at `instant` (on a test's set clock).
fn at(instant: chrono::DateTime<chrono::Utc>, mut event: Value) -> Value {
    event["occurred_at"] = json!(hotline_core::calendar::business_time(instant));
    event
}

async fn reloads(engine: &crate::support::EngineProcess, count: usize) {
    wait_for(
        &format!("{count} configuration reload(s)"),
        Duration::from_secs(30),
        || async { engine.log().matches("configuration reloaded").count() >= count },
    )
    .await;
}

async fn routed(env: &TestEnv, order_no: &str) -> (String, i32, chrono::DateTime<chrono::Utc>) {
    sqlx::query_as("SELECT department, rule_version, created_at FROM orders WHERE order_no = $1")
        .bind(order_no)
        .fetch_one(&env.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_routes_from_its_effective_instant_and_reloads_need_no_restart() {
    let mut env = TestEnv::new().await;
    // The database's clock is set, so that "before" and "after" the effective instant are
    // where the test puts them, however slowly the machine reloads.
    let start: chrono::DateTime<chrono::Utc> = "2026-11-27T10:00:00+08:00".parse().unwrap();
    env.make_clock_lie(start).await;
    let engine = env.start_engine().await;
    let base = std::fs::read_to_string(&env.config_path).unwrap();
    let transfer = |name: &str, effective: &str, matter: &str, department: &str| {
        format!(
            "\n[[transfer]]\nname = \"{name}\"\neffective = \"{effective}\"\nmatters = [\"{matter}\"]\ndepartment = \"{department}\"\n"
        )
    };

    // A batch of powers effective an hour from now, made known by SIGHUP alone.
    let effective = start + chrono::TimeDelta::hours(1);
    let first_batch = transfer(
        "第二批赋权事项",
        &hotline_core::calendar::business_time(effective),
        "SC-0101",
        "@district",
    );
    let with_first = format!("{base}{first_batch}");
    write_unseen(&env.config_path, &with_first);
    engine.hangup();
    reloads(&engine, 1).await;
    handle(
        &env,
        &[at(
            start,
            complaint("PT-RULE-1", "SC-0101", Some("海坛"), "t"),
        )],
    )
    .await;
    let (department, version, routed_at) = routed(&env, "PT-RULE-1").await;
    assert!(
        routed_at < effective,
        "the first order was routed before the instant"
    );
    assert_eq!((department.as_str(), version), ("SCJGJ", 1));
    let later = effective + chrono::TimeDelta::minutes(1);
    env.set_clock(later).await;
    handle(
        &env,
        &[at(
            later,
            complaint("PT-RULE-2", "SC-0101", Some("海坛"), "t"),
        )],
    )
    .await;
    let (department, version, _) = routed(&env, "PT-RULE-2").await;
    assert_eq!((department.as_str(), version), ("HTPQ", 2));

    // A changed file alone (no signal) is seen by the watcher.
    let more = transfer("医保下放", "2026-01-01", "YB-0101", "ZFYJJ");
    std::fs::write(&env.config_path, format!("{with_first}{more}")).unwrap();
    reloads(&engine, 2).await;
    handle(
        &env,
        &[at(later, complaint("PT-RULE-3", "YB-0101", None, "t"))],
    )
    .await;
    assert_eq!(routed(&env, "PT-RULE-3").await.0, "ZFYJJ");
    assert_eq!(
        routed(&env, "PT-RULE-1").await.0,
        "SCJGJ",
        "dispatched orders keep their department"
    );

    // A broken file is refused and the engine keeps routing with what it has.
    std::fs::write(
        &env.config_path,
        "[[department]]\ncode = \"has.a.dot\"\nname = \"x\"\n",
    )
    .unwrap();
    engine.hangup();
    wait_for("reload refused", Duration::from_secs(30), || async {
        engine.log().contains("NOT reloaded")
    })
    .await;
    handle(
        &env,
        &[at(later, complaint("PT-RULE-4", "YB-0101", None, "t"))],
    )
    .await;
    assert_eq!(routed(&env, "PT-RULE-4").await.0, "ZFYJJ");
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appointments_record_waiting_and_handling_time_per_service_point() {
    let env = TestEnv::new().await;
    let engine = env.start_engine().await;
    let minutes = chrono::TimeDelta::minutes;
    let slot = hotline_core::calendar::business_time(chrono::Utc::now() - minutes(60));
    handle(&env, &[
        event("appointment.booked", "YY-1", minutes(24 * 60), json!({"category": "SP-0101", "service_point": "ZX", "slot_start": slot, "citizen": {"name": "预约市民", "phone": "13600000000"}})),
        event("appointment.checked_in", "YY-1", minutes(70), json!({"service_point": "ZX"})),
        event("appointment.called", "YY-1", minutes(51), json!({"window": "A3"})),
        event("appointment.completed", "YY-1", minutes(42), json!({})),
        // Out of order for another appointment: called before checked in.
        event("appointment.booked", "YY-2", minutes(60), json!({"category": "SP-0101", "service_point": "ZX", "slot_start": slot})),
        event("appointment.called", "YY-2", minutes(1), json!({})),
    ])
    .await;
    let state: String =
        sqlx::query_scalar("SELECT state FROM appointments WHERE order_no = 'YY-1'")
            .fetch_one(&env.pool)
            .await
            .unwrap();
    assert_eq!(state, "completed");
    let text = engine.metrics().await;
    assert_eq!(
        metric_value(
            &text,
            "hotline_waiting_time_seconds_sum{service_point=\"ZX\"}"
        ),
        19.0 * 60.0
    );
    assert_eq!(
        metric_value(
            &text,
            "hotline_handling_time_seconds_sum{service_point=\"ZX\"}"
        ),
        9.0 * 60.0
    );
    assert_eq!(env.queue_len("hotline.rejected").await, 1);
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_day_leaves_every_case_with_a_department_and_a_state() {
    let mut env = TestEnv::with_config(hotline_core::config::DEFAULT_CONFIG_TOML).await;
    // The day ends at a set instant, and the database's clock reads it: the same seed
    // then makes the same cases, handled at the same moments, whenever the test runs.
    const UNTIL: &str = "2026-11-27T17:00:00+08:00";
    env.make_clock_lie(UNTIL.parse().unwrap()).await;
    let engine = env.start_engine().await;
    let out = env
        .run_cli(&[
            "simulate",
            "--lifecycle",
            "--count",
            "400",
            "--hours",
            "8",
            "--rate",
            "0",
            "--seed",
            "20261127",
            "--until",
            UNTIL,
        ])
        .await;
    let published: i64 = out
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected simulate output: {out}"));
    wait_for(
        "every simulated event handled",
        Duration::from_secs(180),
        || async { env.count("SELECT count(*) FROM processed_events").await >= published },
    )
    .await;

    // The simulator plays what real users would do: nothing it sends is refused.
    let refused: Vec<(String,)> = sqlx::query_as("SELECT reason FROM rejected_events LIMIT 5")
        .fetch_all(&env.pool)
        .await
        .unwrap();
    assert!(refused.is_empty(), "{refused:?}");
    let config = hotline_core::config::Config::builtin();
    let known: std::collections::HashSet<&str> =
        config.departments.iter().map(|d| d.code.as_str()).collect();
    let orders: Vec<(String, String, String, i32)> =
        sqlx::query_as("SELECT order_no, department, state, dispatch_count FROM orders")
            .fetch_all(&env.pool)
            .await
            .unwrap();
    let mut states = std::collections::BTreeMap::<String, usize>::new();
    for (order_no, department, state, dispatch_count) in &orders {
        assert!(
            known.contains(department.as_str()),
            "{order_no} at unknown {department}"
        );
        assert!(
            ["dispatched", "accepted", "suspended", "replied", "closed"].contains(&state.as_str()),
            "{order_no} is {state}"
        );
        let dispatches: i64 =
            sqlx::query_scalar("SELECT count(*) FROM dispatches WHERE order_no = $1")
                .bind(order_no)
                .fetch_one(&env.pool)
                .await
                .unwrap();
        assert_eq!(
            dispatches,
            i64::from(*dispatch_count),
            "{order_no}: one task per dispatch"
        );
        *states.entry(state.clone()).or_default() += 1;
    }
    // Pinned for this seed and this end of the day (the simulator's unit test holds that
    // they make the same events every time): 1,324 events, 400 cases, each one order or
    // one appointment, and the states the lifecycles leave.
    let appointments = env.count("SELECT count(*) FROM appointments").await;
    assert_eq!(published, 1324);
    assert_eq!((orders.len(), appointments), (301, 99));
    assert_eq!(
        states,
        [
            ("accepted", 105),
            ("closed", 148),
            ("dispatched", 24),
            ("replied", 23),
            ("suspended", 1)
        ]
        .into_iter()
        .map(|(state, n)| (state.to_owned(), n))
        .collect()
    );
    let text = engine.metrics().await;
    assert!(
        metric_value(
            &text,
            "hotline_waiting_time_seconds_count{service_point=\"ZX\"}"
        ) > 0.0
    );
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_never_checked_in_by_the_end_of_its_day_is_a_no_show() {
    let env = TestEnv::new().await;
    let engine = env.start_engine().await;
    let days = chrono::TimeDelta::days;
    let booking = |slot: chrono::DateTime<chrono::Utc>| {
        json!({"category": "SP-0101", "service_point": "ZX",
               "slot_start": hotline_core::calendar::business_time(slot)})
    };
    let now_ = chrono::Utc::now();
    handle(
        &env,
        &[
            event(
                "appointment.booked",
                "YY-NS-1",
                days(3),
                booking(now_ - days(2)),
            ),
            event(
                "appointment.booked",
                "YY-NS-2",
                days(3),
                booking(now_ - days(2)),
            ),
            event(
                "appointment.checked_in",
                "YY-NS-2",
                days(2),
                json!({"service_point": "ZX"}),
            ),
            event(
                "appointment.booked",
                "YY-NS-3",
                days(1),
                booking(now_ + days(1)),
            ),
        ],
    )
    .await;
    let out = env.run_cli(&["repair"]).await;
    assert!(out.contains("marked 1 appointment(s) no-show"), "{out}");
    let states: Vec<(String, String)> =
        sqlx::query_as("SELECT order_no, state FROM appointments ORDER BY order_no")
            .fetch_all(&env.pool)
            .await
            .unwrap();
    assert_eq!(
        states,
        vec![
            ("YY-NS-1".into(), "no_show".into()),
            ("YY-NS-2".into(), "checked_in".into()),
            ("YY-NS-3".into(), "booked".into()),
        ]
    );
    assert_eq!(
        env.count("SELECT count(*) FROM order_events WHERE event_type = 'appointment.no_show'")
            .await,
        1
    );
    // Marking is idempotent.
    assert!(
        env.run_cli(&["repair"])
            .await
            .contains("marked 0 appointment(s)")
    );
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consultation_answered_on_the_call_closes_without_a_task() {
    let env = TestEnv::new().await;
    let engine = env.start_engine().await;
    let answered = |order_no: &str, resolved: bool| {
        let mut event = complaint(order_no, "YB-0101", None, "医保报销比例是多少");
        event["kind"] = json!("consultation");
        event["answer"] = json!({"reply": "已在电话中解答报销比例。", "resolved": resolved});
        event
    };
    handle(
        &env,
        &[answered("PT-ANS-1", true), answered("PT-ANS-2", false)],
    )
    .await;
    let closed: (String, String, String, Option<bool>) = sqlx::query_as(
        "SELECT state, department, rule, on_time FROM orders WHERE order_no = 'PT-ANS-1'",
    )
    .fetch_one(&env.pool)
    .await
    .unwrap();
    assert_eq!(
        closed,
        (
            "closed".into(),
            "MANUAL".into(),
            "answered-at-intake".into(),
            Some(true)
        )
    );
    assert_eq!(
        order_state(&env, "PT-ANS-2").await,
        ("dispatched".into(), "YSBZX".into(), 1),
        "not resolved on the call: dispatched as usual"
    );
    assert_eq!(tasks(&env, "YSBZX", 1).await.len(), 1);
    assert_eq!(
        env.queue_len("hotline.tasks.MANUAL").await,
        0,
        "no task for the answered one"
    );
    assert_eq!(
        env.count("SELECT count(*) FROM dispatches WHERE order_no = 'PT-ANS-1'")
            .await,
        0
    );
    let effect: Value =
        sqlx::query_scalar("SELECT detail->'effect' FROM order_events WHERE order_no = 'PT-ANS-1'")
            .fetch_one(&env.pool)
            .await
            .unwrap();
    assert_eq!(
        effect,
        json!({"answered_at_intake": "已在电话中解答报销比例。"})
    );
    assert_eq!(
        engine
            .metric("hotline_orders_closed_total{department=\"MANUAL\",on_time=\"true\"}")
            .await,
        1.0
    );
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_dispatches_an_order_from_the_manual_desk() {
    let env = TestEnv::new().await;
    let engine = env.start_engine().await;
    let no = "PT-MAN-1";
    handle(&env, &[complaint(no, "", None, "路灯不亮")]).await;
    assert_eq!(tasks(&env, "MANUAL", 1).await[0]["rule"], "manual");
    let dispatch = |department: &str| {
        now(
            "order.dispatched",
            no,
            json!({"department": department, "operator": "op7"}),
        )
    };
    handle(&env, &[dispatch("NOWHERE"), dispatch("ZFYJJ")]).await;
    let task = &tasks(&env, "ZFYJJ", 1).await[0];
    assert_eq!(
        (task["rule"].clone(), task["dispatch_count"].clone()),
        (json!("operator:op7"), json!(2))
    );
    assert_eq!(
        order_state(&env, no).await,
        ("dispatched".into(), "ZFYJJ".into(), 2)
    );
    let dispatches: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT department, return_reason FROM dispatches WHERE order_no = $1 ORDER BY dispatch_no",
    )
    .bind(no)
    .fetch_all(&env.pool)
    .await
    .unwrap();
    assert_eq!(
        dispatches,
        vec![
            (
                "MANUAL".to_string(),
                Some("re-dispatched by an operator".to_string())
            ),
            ("ZFYJJ".to_string(), None),
        ]
    );
    let rejected = env.drain("hotline.rejected").await;
    assert_eq!(rejected.len(), 1);
    let why = reason(&rejected[0]);
    assert!(
        why.starts_with("invalid_field: department: not a department of the catalog"),
        "{why}"
    );
    let actor: Option<String> = sqlx::query_scalar(
        "SELECT actor FROM order_events WHERE order_no = $1 AND event_type = 'order.dispatched'",
    )
    .bind(no)
    .fetch_one(&env.pool)
    .await
    .unwrap();
    assert_eq!(actor.as_deref(), Some("operator/op7"));
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendar_days_in_the_configuration_move_deadlines() {
    // Round-the-clock working hours and ten declared days from today: all working but the
    // day after tomorrow, a declared day off. A 2-working-day limit from now then ends
    // three natural days later instead of two; the committed day (1 working day) is not
    // touched by it.
    let today = crate::support::business_today();
    let days: Vec<String> = (0..10)
        .map(|i| {
            let date = today + chrono::Days::new(i);
            format!("{{ date = \"{date}\", off = {}, name = \"测试\" }}", i == 2)
        })
        .collect();
    let config = crate::support::TEST_CONFIG.replace(
        "working_hours = [\"08:00-12:00\", \"14:30-17:30\"]",
        &format!(
            "working_hours = [\"00:00-24:00\"]\ndays = [{}]",
            days.join(", ")
        ),
    );
    assert!(config.contains("00:00-24:00"));
    let env = TestEnv::with_config(&config).await;
    let engine = env.start_engine().await;
    let event = complaint("PT-CAL-1", "YB-0101", None, "医保");
    let received = chrono::DateTime::parse_from_rfc3339(event["occurred_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    handle(&env, &[event]).await;
    let (committed, statutory): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as(
            "SELECT committed_due_at, statutory_due_at FROM orders WHERE order_no = 'PT-CAL-1'",
        )
        .fetch_one(&env.pool)
        .await
        .unwrap();
    let day = chrono::TimeDelta::days(1);
    assert_eq!(committed, received + day);
    assert_eq!(
        statutory,
        received + day * 3,
        "the declared day off does not count"
    );
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}
