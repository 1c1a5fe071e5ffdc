//! The SLA scheduler: durable timers become alerts on `hotline.alerts`, exactly once, on
//! time; the repair sweep; the daily supervision digest.
//!
//! The test catalog has a matter with a one-minute statutory limit, and events are
//! back-dated (`occurred_at` in the past), so deadlines come due within seconds: with
//! `commitment_ratio` 0.5 and `warning_ratio` 0.8, an order received at t0 is due for
//! `warning` at t0+24s, `overdue` at t0+30s, `statutory_overdue` at t0+60s, and
//! `sign_overdue` at t0+30s too: an urgent class is signed for within 30 minutes, and
//! never after the committed deadline. Lags are measured and printed, never asserted
//! tightly.

use crate::support::{TEST_CONFIG, TestEnv, complaint, handle, header, metric_value, wait_for};
use chrono::{DateTime, FixedOffset, Utc};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const SUPERVISION: &str = "hotline.alerts.supervision";
const LEVELS: [&str; 4] = ["sign_overdue", "warning", "overdue", "statutory_overdue"];

/// A complaint received `ago` before now (business time, +08:00).
fn received_ago(order_no: &str, category: &str, ago: Duration) -> Value {
    let mut event = complaint(order_no, category, None, "闻到燃气味");
    let at = Utc::now() - chrono::TimeDelta::from_std(ago).unwrap();
    let business = at.with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap());
    event["occurred_at"] =
        Value::String(business.to_rfc3339_opts(chrono::SecondsFormat::Secs, false));
    event
}

fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().expect("a time"))
        .unwrap_or_else(|e| panic!("{value} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

/// Every deadline `order_no` still has to alert, armed or following (`timer_schedule`).
async fn timers(env: &TestEnv, order_no: &str) -> BTreeMap<String, DateTime<Utc>> {
    sqlx::query_as("SELECT level, due_at FROM timer_schedule WHERE order_no = $1")
        .bind(order_no)
        .fetch_all(&env.pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

/// `order_no`'s lead timer row as the levels it holds: the armed one, then those after it.
async fn chain(env: &TestEnv, order_no: &str) -> Vec<(String, DateTime<Utc>)> {
    let (level, due_at, then_levels, then_due): (String, _, Vec<String>, Vec<_>) = sqlx::query_as(
        "SELECT level, due_at, then_levels, then_due FROM timers
             WHERE order_no = $1 AND level <> 'co_overdue'",
    )
    .bind(order_no)
    .fetch_one(&env.pool)
    .await
    .unwrap();
    std::iter::once((level, due_at))
        .chain(then_levels.into_iter().zip(then_due))
        .collect()
}

async fn alerted_levels(env: &TestEnv, order_no: &str) -> Vec<String> {
    // The raise to 督办 that follows a statutory_overdue is practice.rs's subject.
    sqlx::query_scalar(
        "SELECT level FROM alerts WHERE order_no = $1 AND level <> 'supervision' ORDER BY level",
    )
    .bind(order_no)
    .fetch_all(&env.pool)
    .await
    .unwrap()
}

/// Runs a one-shot subcommand (`repair`, `digest ...`) of the binary to its end.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_alerts_fire_at_their_levels_exactly_once_with_two_engines() {
    let env = TestEnv::new().await;
    let first = env.start_engine().await;
    let second = env.start_engine().await;

    // Live orders received 40 s ago: warning (−16 s), sign and overdue (−10 s) are due at
    // once, statutory (+20 s) while the schedulers sleep. One back-dated order whose
    // deadlines have all passed.
    let live: Vec<String> = (0..20).map(|i| format!("PT-SLA-{i:03}")).collect();
    let mut events: Vec<Value> = live
        .iter()
        .map(|no| received_ago(no, "JJ-0001", Duration::from_secs(40)))
        .collect();
    events.push(received_ago(
        "PT-SLA-LATE",
        "JJ-0001",
        Duration::from_secs(600),
    ));
    let published_at = Utc::now();
    env.publish(&events).await;

    // The back-dated order: all four alerts at once (a generous liveness bound).
    wait_for(
        "every alert of the back-dated order",
        Duration::from_secs(30),
        || async { alerted_levels(&env, "PT-SLA-LATE").await.len() == 4 },
    )
    .await;
    let late_lag = (Utc::now() - published_at).num_milliseconds();
    eprintln!("back-dated order: all 4 alerts raised {late_lag} ms after publishing");

    let expected = events.len() * LEVELS.len();
    // Each statutory_overdue also raises its order to 督办, once: one `supervision` alert
    // per order.
    let raised_to_supervision = events.len();
    wait_for(
        "every alert on the supervision queue",
        Duration::from_secs(120),
        || async { env.queue_len(SUPERVISION).await as usize >= expected + raised_to_supervision },
    )
    .await;
    // Anything raised twice would be an outbox row of its own: once no timer is left to
    // fire and every row is published, the queue holds all there will ever be.
    settled(&env).await;
    let (raised, messages): (Vec<_>, Vec<_>) = env
        .drain(SUPERVISION)
        .await
        .into_iter()
        .partition(|m| m.delivery.routing_key.as_str() == "supervision.ZFYJJ");
    assert_eq!(messages.len(), expected, "no alert twice");
    assert_eq!(raised.len(), raised_to_supervision, "raised once per order");

    // The deadlines, computed here from when each order was received: the one-minute
    // matter with commitment 0.5 and warning 0.8, signed for by the committed deadline.
    let received: BTreeMap<String, DateTime<Utc>> = events
        .iter()
        .map(|e| {
            (
                e["order_no"].as_str().unwrap().to_owned(),
                time(&e["occurred_at"]),
            )
        })
        .collect();
    let expected_due = |order_no: &str, level: &str| {
        let seconds = match level {
            "warning" => 24,
            "sign_overdue" | "overdue" => 30,
            "statutory_overdue" => 60,
            other => panic!("unexpected level {other}"),
        };
        received[order_no] + chrono::TimeDelta::seconds(seconds)
    };
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    for message in &messages {
        let alert: Value = serde_json::from_slice(&message.delivery.data).unwrap();
        let order_no = alert["order_no"].as_str().unwrap().to_owned();
        let level = alert["level"].as_str().unwrap().to_owned();
        assert!(LEVELS.contains(&level.as_str()), "{alert}");
        assert!(
            seen.insert((order_no.clone(), level.clone())),
            "{order_no} {level} twice"
        );
        assert_eq!(alert["department"], "ZFYJJ");
        assert_eq!(
            message.delivery.routing_key.as_str(),
            format!("{level}.ZFYJJ"),
            "routing key <level>.<DEPT>"
        );
        assert_eq!(
            message
                .delivery
                .properties
                .message_id()
                .as_ref()
                .map(|m| m.as_str()),
            alert["alert_id"].as_str(),
            "message_id is the alert id"
        );
        assert_eq!(message.delivery.properties.delivery_mode(), &Some(2));
        assert_eq!(
            header(message, "x-hotline-level").as_deref(),
            Some(level.as_str())
        );
        for field in ["due_at", "fired_at", "committed_due_at", "statutory_due_at"] {
            assert!(
                alert[field].as_str().unwrap().ends_with("+08:00"),
                "{field} in business time: {alert}"
            );
        }
        let due = expected_due(&order_no, &level);
        assert_eq!(time(&alert["due_at"]), due, "{alert}");
        assert_eq!(
            time(&alert["committed_due_at"]),
            expected_due(&order_no, "overdue")
        );
        assert_eq!(
            time(&alert["statutory_due_at"]),
            expected_due(&order_no, "statutory_overdue")
        );
        let fired = time(&alert["fired_at"]);
        // Whole seconds in the message: fired_at is never before the deadline's second.
        assert!(fired >= due, "raised early: {alert}");
    }
    assert_eq!(seen.len(), expected);
    let mut raised_orders = BTreeSet::new();
    for message in &raised {
        let alert: Value = serde_json::from_slice(&message.delivery.data).unwrap();
        let order_no = alert["order_no"].as_str().unwrap().to_owned();
        assert_eq!(
            time(&alert["due_at"]),
            expected_due(&order_no, "statutory_overdue"),
            "{alert}"
        );
        assert!(raised_orders.insert(order_no), "{alert}");
    }
    assert_eq!(
        env.count("SELECT count(*) FROM alerts").await,
        (expected + raised_to_supervision) as i64
    );
    assert_eq!(env.count("SELECT count(*) FROM timers").await, 0);

    // The lag of deadlines still ahead when the orders came in (statutory; the others
    // were overdue on arrival and went out at once), on the database's clock.
    let mut lags: Vec<f64> = sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM published_at - origin_at)::float8 FROM outbox
         WHERE kind = 'alert' AND origin_at > $1",
    )
    .bind(published_at)
    .fetch_all(&env.pool)
    .await
    .unwrap();
    // (The raise to 督办 goes out with its statutory_overdue alert, from the same deadline.)
    assert_eq!(
        lags.len(),
        live.len() * 2,
        "statutory (and its supervision) was ahead"
    );
    lags.sort_by(f64::total_cmp);
    eprintln!(
        "published − due of deadlines ahead, {} alerts: p50 {:.3}s, p90 {:.3}s, max {:.3}s",
        lags.len(),
        percentile(&lags, 0.5),
        percentile(&lags, 0.9),
        lags[lags.len() - 1]
    );
    assert!(lags[0] >= 0.0, "never before the deadline");

    // Metrics, summed over both engines (their relays split the publishing).
    let texts = [first.metrics().await, second.metrics().await];
    let sum = |sample: &str| texts.iter().map(|t| metric_value(t, sample)).sum::<f64>();
    for level in LEVELS {
        let sample = format!("hotline_sla_alerts_total{{department=\"ZFYJJ\",level=\"{level}\"}}");
        assert_eq!(sum(&sample), events.len() as f64, "{sample}");
    }
    assert_eq!(
        sum("hotline_sla_alerts_total{department=\"ZFYJJ\",level=\"supervision\"}"),
        events.len() as f64
    );
    let lag_count = sum("hotline_alert_lag_seconds_count");
    assert_eq!(lag_count, (expected + raised_to_supervision) as f64);
    eprintln!(
        "hotline_alert_lag_seconds: {lag_count} alerts, mean {:.3}s (includes the back-dated order)",
        sum("hotline_alert_lag_seconds_sum") / lag_count
    );

    assert!(first.terminate().await.success());
    assert!(second.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_repair_sweep_restores_timers_deleted_behind_the_engines_back() {
    let env = TestEnv::new().await;
    let engine = env.start_engine().await;
    env.publish(&[
        // Every deadline ahead.
        received_ago("PT-REP-FUTURE", "SC-0101", Duration::ZERO),
        // Warning, sign and overdue passed (alerted at once); statutory in 25 s.
        received_ago("PT-REP-PARTIAL", "JJ-0001", Duration::from_secs(35)),
        // Every deadline passed and alerted: no timer left.
        received_ago("PT-REP-LATE", "JJ-0001", Duration::from_secs(600)),
    ])
    .await;
    wait_for(
        "timers and first alerts",
        Duration::from_secs(60),
        || async {
            timers(&env, "PT-REP-FUTURE").await.len() == 4
                && alerted_levels(&env, "PT-REP-PARTIAL").await
                    == ["overdue", "sign_overdue", "warning"]
                && alerted_levels(&env, "PT-REP-LATE").await.len() == 4
        },
    )
    .await;
    let future = timers(&env, "PT-REP-FUTURE").await;
    let partial = timers(&env, "PT-REP-PARTIAL").await;
    let late = timers(&env, "PT-REP-LATE").await;
    assert!(late.is_empty(), "{late:?}");
    // One row an order, armed for its earliest deadline, the others following in order:
    // PT-REP-PARTIAL moved on from warning, sign and overdue to statutory.
    assert_eq!(
        chain(&env, "PT-REP-PARTIAL").await,
        [("statutory_overdue".to_owned(), partial["statutory_overdue"])]
    );
    let mut earliest_first: Vec<(String, DateTime<Utc>)> = future.clone().into_iter().collect();
    earliest_first.sort_by_key(|(_, due)| *due);
    assert_eq!(
        chain(&env, "PT-REP-FUTURE").await,
        earliest_first,
        "all four levels, earliest armed"
    );
    // Warning, sign and overdue were alerted: what remains armed is statutory, a minute
    // after the order was received.
    assert_eq!(partial.keys().collect::<Vec<_>>(), ["statutory_overdue"]);

    // Behind the engine's back.
    sqlx::query("DELETE FROM timers WHERE order_no IN ('PT-REP-FUTURE', 'PT-REP-PARTIAL')")
        .execute(&env.pool)
        .await
        .unwrap();
    env.run_cli(&["repair"]).await;

    // The same deadlines again, except those already alerted.
    assert_eq!(timers(&env, "PT-REP-FUTURE").await, future);
    assert_eq!(timers(&env, "PT-REP-PARTIAL").await, partial);
    assert_eq!(
        timers(&env, "PT-REP-LATE").await,
        late,
        "every deadline alerted: none re-armed"
    );

    // A second sweep finds nothing to do.
    let before = env.count("SELECT count(*) FROM timer_schedule").await;
    env.run_cli(&["repair"]).await;
    assert_eq!(
        env.count("SELECT count(*) FROM timer_schedule").await,
        before
    );

    // The running scheduler fires the re-armed statutory timer, once.
    wait_for(
        "the re-armed statutory deadline alerted",
        Duration::from_secs(90),
        || async {
            alerted_levels(&env, "PT-REP-PARTIAL").await
                == ["overdue", "sign_overdue", "statutory_overdue", "warning"]
        },
    )
    .await;
    wait_for("alerts published", Duration::from_secs(30), || async {
        env.count("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .await
            == 0
    })
    .await;
    let mut keys = BTreeMap::<String, usize>::new();
    for message in env.drain(SUPERVISION).await {
        let alert: Value = serde_json::from_slice(&message.delivery.data).unwrap();
        *keys
            .entry(format!("{} {}", alert["order_no"], alert["level"]))
            .or_default() += 1;
    }
    assert!(keys.values().all(|n| *n == 1), "{keys:?}");
    // Four each for the partial and the late order, and their raise to 督办.
    assert_eq!(keys.len(), 10, "{keys:?}");
    assert_eq!(
        engine
            .metric("hotline_sla_alerts_total{department=\"ZFYJJ\",level=\"statutory_overdue\"}")
            .await,
        2.0,
        "the late order's at arrival, the partial one's once re-armed"
    );
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_supervision_digest_goes_out_once_per_department_and_working_day() {
    let env = TestEnv::new().await;
    let engine = env.start_engine().await;
    env.publish(&[
        received_ago("PT-DIG-LATE", "JJ-0001", Duration::from_secs(600)),
        received_ago("PT-DIG-FINE", "SC-0101", Duration::ZERO),
    ])
    .await;
    wait_for("both orders in", Duration::from_secs(60), || async {
        env.count("SELECT count(*) FROM orders").await == 2
    })
    .await;

    // Two processes at once for the same working day (Wednesday), then a Saturday.
    let day = ["digest", "--day", "2026-11-25"];
    tokio::join!(env.run_cli(&day), env.run_cli(&day));
    env.run_cli(&["digest", "--day", "2026-11-28"]).await;

    let departments = ["SCJGJ", "YSBZX", "ZFYJJ", "JJPQ", "HTPQ", "MANUAL"];
    assert_eq!(
        env.count("SELECT count(*) FROM digests WHERE day = '2026-11-25'")
            .await,
        departments.len() as i64
    );
    assert_eq!(
        env.count("SELECT count(*) FROM digests").await,
        6,
        "none on Saturday"
    );
    wait_for("digests published", Duration::from_secs(30), || async {
        env.count("SELECT count(*) FROM outbox WHERE kind = 'digest' AND published_at IS NOT NULL")
            .await
            == 6
    })
    .await;
    let mut digests: BTreeMap<String, Value> = BTreeMap::new();
    for message in env.drain(SUPERVISION).await {
        let key = message.delivery.routing_key.as_str().to_owned();
        let Some(department) = key.strip_prefix("digest.") else {
            continue;
        };
        let digest: Value = serde_json::from_slice(&message.delivery.data).unwrap();
        assert_eq!(
            digest["day"], "2026-11-25",
            "the engine's own cron is quiet here"
        );
        assert_eq!(digest["department"], department);
        assert_eq!(
            message
                .delivery
                .properties
                .message_id()
                .as_ref()
                .map(|m| m.as_str()),
            digest["digest_id"].as_str()
        );
        assert!(
            digests.insert(department.to_owned(), digest).is_none(),
            "{department} twice"
        );
    }
    assert_eq!(
        digests.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        departments.into_iter().collect()
    );
    let late = &digests["ZFYJJ"];
    assert_eq!(late["open"], 1);
    assert_eq!(late["statutory_overdue"], 1);
    assert_eq!(late["orders"][0]["order_no"], "PT-DIG-LATE");
    assert_eq!(late["orders"][0]["sla_state"], "statutory_overdue");
    assert_eq!(late["orders"][0]["matter_name"], "燃气泄漏");
    assert_eq!(late["truncated"], false);
    let fine = &digests["SCJGJ"];
    assert_eq!(fine["open"], 1);
    assert_eq!(
        fine["orders"].as_array().unwrap().len(),
        0,
        "on track: nothing to chase"
    );
    assert_eq!(digests["YSBZX"]["open"], 0);
    let text = serde_json::to_string(&digests).unwrap();
    assert!(
        !text.contains("13900000000") && !text.contains("测试市民"),
        "no citizen data"
    );
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

/// An event on an existing order, happening now.
fn action(event_type: &str, order_no: &str, fields: Value) -> Value {
    let mut event = serde_json::json!({
        "event_id": uuid::Uuid::new_v4(),
        "type": event_type,
        "occurred_at": hotline_core::calendar::business_time(Utc::now()),
        "order_no": order_no,
    });
    for (key, value) in fields.as_object().unwrap() {
        event[key] = value.clone();
    }
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_no_alert_for_a_suspended_or_replied_order_and_none_to_sign_an_accepted_one() {
    let env = TestEnv::new().await;
    let engine = env.start_engine().await;
    // Received 15 s ago: warning in 9 s, sign and overdue in 15 s, statutory in 45 s; the
    // actions are handled long before the first of them.
    let ago = Duration::from_secs(15);
    let accept = |no| {
        action(
            "order.accepted",
            no,
            serde_json::json!({"department": "ZFYJJ", "handler": "h1"}),
        )
    };
    env.publish(&[
        received_ago("PT-Q-CONTROL", "JJ-0001", ago),
        received_ago("PT-Q-SUSPENDED", "JJ-0001", ago),
        received_ago("PT-Q-REPLIED", "JJ-0001", ago),
        received_ago("PT-Q-ACCEPTED", "JJ-0001", ago),
        action(
            "order.suspended",
            "PT-Q-SUSPENDED",
            serde_json::json!({"reason": "等待现场核查"}),
        ),
        accept("PT-Q-REPLIED"),
        action(
            "order.replied",
            "PT-Q-REPLIED",
            serde_json::json!({"department": "ZFYJJ", "reply": "已处置", "resolved": true}),
        ),
        accept("PT-Q-ACCEPTED"),
    ])
    .await;
    wait_for("the actions applied", Duration::from_secs(30), || async {
        env.count(
            "SELECT count(*) FROM orders WHERE state IN ('suspended', 'replied')
                OR (order_no = 'PT-Q-ACCEPTED' AND state = 'accepted')",
        )
        .await
            == 3
    })
    .await;
    assert_eq!(timers(&env, "PT-Q-SUSPENDED").await.len(), 0);
    assert_eq!(timers(&env, "PT-Q-REPLIED").await.len(), 0);
    assert!(
        !timers(&env, "PT-Q-ACCEPTED")
            .await
            .contains_key("sign_overdue")
    );

    wait_for(
        "every deadline passed and alerted",
        Duration::from_secs(120),
        || async {
            alerted_levels(&env, "PT-Q-CONTROL").await.len() == 4
                && alerted_levels(&env, "PT-Q-ACCEPTED").await.len() == 3
        },
    )
    .await;
    settled(&env).await;
    assert_eq!(
        alerted_levels(&env, "PT-Q-ACCEPTED").await,
        ["overdue", "statutory_overdue", "warning"],
        "accepted: no sign_overdue"
    );
    assert!(alerted_levels(&env, "PT-Q-SUSPENDED").await.is_empty());
    assert!(alerted_levels(&env, "PT-Q-REPLIED").await.is_empty());
    // The repair sweep leaves them alone too.
    env.run_cli(&["repair"]).await;
    assert_eq!(env.count("SELECT count(*) FROM timers").await, 0);
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

/// Waits until the engine has nothing left to do: no timer left to fire and every outbox
/// row published. A positive marker for "nothing more will come", instead of a pause.
async fn settled(env: &TestEnv) {
    wait_for(
        "no timer left and every outbox row published",
        Duration::from_secs(60),
        || async {
            env.count("SELECT count(*) FROM timers").await == 0
                && env
                    .count("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                    .await
                    == 0
        },
    )
    .await;
}

/// The test catalog with today declared `off` (or working), and the digest and repair
/// jobs firing every two seconds.
fn busy_scheduler_config(today_off: bool) -> String {
    let today = crate::support::business_today();
    TEST_CONFIG.replace(
        "[calendar]\n",
        &format!(
            "[scheduler]\ndigest_cron = \"*/2 * * * * *\"\nrepair_cron = \"*/2 * * * * *\"\n\n[calendar]\ndays = [{{ date = \"{today}\", off = {today_off}, name = \"测试\" }}]\n"
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_the_running_engines_digest_cron_sends_once_on_a_working_day_and_never_on_a_day_off() {
    // A day off: the cron fires, nothing is sent.
    let env = TestEnv::with_config(&busy_scheduler_config(true)).await;
    let engine = env.start_engine().await;
    wait_for(
        "the digest job skipping a day off",
        Duration::from_secs(30),
        || async {
            engine
                .log()
                .matches("no supervision digest on a day off")
                .count()
                >= 2
        },
    )
    .await;
    assert_eq!(env.count("SELECT count(*) FROM digests").await, 0);
    assert!(engine.terminate().await.success());

    // The same day declared a working day (a make-up day when it falls on a weekend):
    // one digest per department, however often the cron fires and however many engines.
    env.write_config(&busy_scheduler_config(false));
    let first = env.start_engine().await;
    let second = env.start_engine().await;
    wait_for(
        "the digests of the day",
        Duration::from_secs(30),
        || async { env.count("SELECT count(*) FROM digests").await == 6 },
    )
    .await;
    wait_for("the cron fired again", Duration::from_secs(30), || async {
        first.log().matches("supervision digests sent").count()
            + second.log().matches("supervision digests sent").count()
            >= 4
    })
    .await;
    wait_for("digests published", Duration::from_secs(30), || async {
        env.count("SELECT count(*) FROM outbox WHERE kind = 'digest' AND published_at IS NOT NULL")
            .await
            == 6
    })
    .await;
    assert_eq!(
        env.count("SELECT count(*) FROM digests").await,
        6,
        "once per department"
    );
    let today = crate::support::business_today().to_string();
    let digests: Vec<Value> = env
        .drain(SUPERVISION)
        .await
        .iter()
        .filter(|m| m.delivery.routing_key.as_str().starts_with("digest."))
        .map(|m| serde_json::from_slice(&m.delivery.data).unwrap())
        .collect();
    assert_eq!(digests.len(), 6);
    assert!(
        digests.iter().all(|d| d["day"] == today.as_str()),
        "{digests:?}"
    );
    assert!(first.terminate().await.success());
    assert!(second.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_the_repair_sweep_runs_on_its_cron_and_when_the_scheduler_starts() {
    let env = TestEnv::with_config(&busy_scheduler_config(false)).await;
    let engine = env.start_engine().await;
    env.publish(&[received_ago("PT-CRON-1", "SC-0101", Duration::ZERO)])
        .await;
    wait_for("four timers", Duration::from_secs(30), || async {
        timers(&env, "PT-CRON-1").await.len() == 4
    })
    .await;
    let armed = timers(&env, "PT-CRON-1").await;
    sqlx::query("DELETE FROM timers")
        .execute(&env.pool)
        .await
        .unwrap();
    wait_for("re-armed by the cron", Duration::from_secs(30), || async {
        timers(&env, "PT-CRON-1").await == armed
    })
    .await;
    assert_eq!(engine.metric("hotline_timers_repaired_total").await, 4.0);
    assert!(engine.terminate().await.success());

    // With the cron quiet, the sweep at the scheduler's start alone re-arms them.
    sqlx::query("DELETE FROM timers")
        .execute(&env.pool)
        .await
        .unwrap();
    env.write_config(&format!(
        "{TEST_CONFIG}\n{}",
        crate::support::QUIET_SCHEDULER
    ));
    let restarted = env.start_engine().await;
    wait_for("re-armed at start", Duration::from_secs(30), || async {
        timers(&env, "PT-CRON-1").await == armed
    })
    .await;
    assert_eq!(restarted.metric("hotline_timers_repaired_total").await, 4.0);
    assert!(restarted.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_timers_written_a_row_per_level_are_folded_by_the_migration_as_the_engine_arms_them() {
    // Migration 0050 folds the timers written before it (a row per order and level) into
    // one chain per order and kind; the chains must be the ones the engine arms itself,
    // a co-handler's `co_overdue` apart from the lead's levels.
    let env = TestEnv::new().await;
    let engine = env.start_engine().await;
    handle(
        &env,
        &[
            received_ago("PT-FOLD-1", "SC-0101", Duration::ZERO),
            received_ago("PT-FOLD-CO", "XT-0001", Duration::ZERO),
        ],
    )
    .await;
    assert!(engine.terminate().await.success());
    let chains = || async {
        sqlx::query_as::<
            _,
            (
                String,
                String,
                String,
                DateTime<Utc>,
                Vec<String>,
                Vec<DateTime<Utc>>,
            ),
        >(
            "SELECT order_no, department, level, due_at, then_levels, then_due FROM timers
             ORDER BY order_no, department, level",
        )
        .fetch_all(&env.pool)
        .await
        .unwrap()
    };
    let armed = chains().await;
    assert_eq!(
        armed.iter().filter(|c| c.0 == "PT-FOLD-CO").count(),
        3,
        "the lead's chain and one per co-handler: {armed:?}"
    );

    // As before the migration: a row per level.
    let mut tx = hotline_store::begin(&env.pool).await.unwrap();
    sqlx::raw_sql(
        "CREATE TEMPORARY TABLE schedule ON COMMIT DROP AS SELECT * FROM timer_schedule;
         DELETE FROM timers;
         INSERT INTO timers (order_no, level, due_at, department)
         SELECT order_no, level, due_at, department FROM schedule ORDER BY random()",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    let migration = include_str!("../../store/migrations/0050_one_timer_per_order.sql");
    let fold = &migration[migration.find("CREATE TEMPORARY TABLE").unwrap()..];
    let fold = &fold[..fold.find("\n-- Every deadline").unwrap()];
    sqlx::raw_sql(sqlx::AssertSqlSafe(fold))
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        chains().await,
        armed,
        "the migration's chains are the engine's"
    );
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_the_migration_brings_sign_deadlines_past_the_committed_one_back_to_it() {
    // Migration 0070: orders opened when the sign deadline was a working day whatever the
    // matter had sign deadlines after their committed ones. Made so here behind the
    // engine's back, then the migration's statements run: the lead's sign deadline and its
    // timer move to the committed deadline, a co-handler's to its co-reply deadline, and
    // an order already within the bound is left as it was.
    let env = TestEnv::new().await;
    let engine = env.start_engine().await;
    handle(
        &env,
        &[
            received_ago("PT-SIGN-LATE", "SC-0101", Duration::ZERO),
            received_ago("PT-SIGN-CO", "XT-0001", Duration::ZERO),
            received_ago("PT-SIGN-OK", "SC-0101", Duration::ZERO),
        ],
    )
    .await;
    assert!(engine.terminate().await.success());
    let untouched = chain(&env, "PT-SIGN-OK").await;

    let mut tx = hotline_store::begin(&env.pool).await.unwrap();
    sqlx::raw_sql(
        "UPDATE orders SET sign_due_at = committed_due_at + interval '1 day'
             WHERE order_no IN ('PT-SIGN-LATE', 'PT-SIGN-CO');
         UPDATE timers t SET
             due_at = CASE WHEN t.level = 'sign_overdue' THEN o.sign_due_at ELSE t.due_at END,
             then_due = ARRAY(SELECT CASE WHEN l = 'sign_overdue' THEN o.sign_due_at ELSE d END
                              FROM unnest(t.then_levels, t.then_due) AS u(l, d))
             FROM orders o WHERE o.order_no = t.order_no AND t.level <> 'co_overdue'
             AND o.order_no IN ('PT-SIGN-LATE', 'PT-SIGN-CO');
         UPDATE orders SET co_handlers = (
             SELECT jsonb_agg(jsonb_set(c, '{sign_due_at}',
                 to_jsonb((c->>'co_reply_due_at')::timestamptz + interval '2 days')))
             FROM jsonb_array_elements(co_handlers) AS c)
             WHERE order_no = 'PT-SIGN-CO'",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    let migration = include_str!("../../store/migrations/0070_sign_never_after_committed.sql");
    sqlx::raw_sql(sqlx::AssertSqlSafe(migration))
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    for order_no in ["PT-SIGN-LATE", "PT-SIGN-CO"] {
        let (sign, committed): (DateTime<Utc>, DateTime<Utc>) =
            sqlx::query_as("SELECT sign_due_at, committed_due_at FROM orders WHERE order_no = $1")
                .bind(order_no)
                .fetch_one(&env.pool)
                .await
                .unwrap();
        assert_eq!(
            sign, committed,
            "{order_no}: signed for by the committed deadline"
        );
        let armed = chain(&env, order_no).await;
        assert_eq!(
            armed
                .iter()
                .map(|(level, _)| level.as_str())
                .collect::<Vec<_>>(),
            ["warning", "sign_overdue", "overdue", "statutory_overdue"],
            "{order_no}: the sign level moved behind the warning, before `overdue` at the same instant"
        );
        assert_eq!(armed[1].1, committed, "{order_no}: {armed:?}");
        assert!(armed.windows(2).all(|w| w[0].1 <= w[1].1), "{armed:?}");
    }
    let co: Vec<(DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT (c->>'sign_due_at')::timestamptz, (c->>'co_reply_due_at')::timestamptz
             FROM orders, jsonb_array_elements(co_handlers) AS c WHERE order_no = 'PT-SIGN-CO'",
    )
    .fetch_all(&env.pool)
    .await
    .unwrap();
    assert_eq!(co.len(), 2);
    for (sign, co_reply) in co {
        assert_eq!(
            sign, co_reply,
            "a co-handler signs for by its co-reply deadline"
        );
    }
    assert_eq!(
        chain(&env, "PT-SIGN-OK").await,
        untouched,
        "within the bound: as it was"
    );
    env.cleanup().await;
}
