//! Deadlines that follow the calendar, on a database clock that lies (the engine believes
//! it is Christmas Eve 2026): an order whose deadline lies past the declared days is
//! provisional; a reload adds next year's notice; the order's deadlines move by exactly
//! the working time the notice changes, the timeline says so, a revised task reaches the
//! department, and the alerts fire at the new deadlines only.

use crate::support::{TEST_CONFIG, TestEnv, complaint, wait_for};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::time::Duration;

const SUPERVISOR: &str = "sv-deadline-0123456789";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The test catalog with a 15-working-day matter.
fn config(calendar_days: &str) -> String {
    let with_days =
        TEST_CONFIG.replacen("[calendar]\n", &format!("[calendar]\n{calendar_days}"), 1);
    format!(
        "{with_days}\n[[matter]]\ncode = \"SC-1501\"\nname = \"食品生产许可投诉\"\ndepartment = \"SCJGJ\"\nstatutory_limit = \"15wd\"\n"
    )
}

/// A made-up notice for January 2027: New Year's Day and the Monday after off, the
/// Saturday after worked.
const NOTICE: &str = "days = [\n  { date = \"2027-01-01\", off = true, name = \"元旦\" },\n  { date = \"2027-01-04\", off = true, name = \"元旦\" },\n  { date = \"2027-01-09\", off = false, name = \"元旦\" },\n]\n";

async fn deadlines(env: &TestEnv) -> (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>, DateTime<Utc>) {
    sqlx::query_as(
        "SELECT sign_due_at, warning_due_at, committed_due_at, statutory_due_at
         FROM orders WHERE order_no = 'PT-CAL-1'",
    )
    .fetch_one(&env.pool)
    .await
    .unwrap()
}

async fn alerts(env: &TestEnv) -> Vec<(String, DateTime<Utc>)> {
    sqlx::query_as("SELECT level, due_at FROM alerts WHERE order_no = 'PT-CAL-1' ORDER BY due_at")
        .fetch_all(&env.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_notice_moves_open_deadlines_revises_the_task_and_alerts_at_the_new_deadline() {
    let mut env = TestEnv::with_config(&config("")).await;
    env.make_clock_lie(at("2026-12-24T10:00:00+08:00")).await;
    let engine = env
        .start_engine_with_env(&[("HOTLINE_API_TOKENS", &format!("{SUPERVISOR}:supervisor"))])
        .await;
    env.declare_topology().await;

    // Thursday 2026-12-24 10:00, 15 working days of 7 hours (105 h). January 2027 has no
    // notice yet, so its weekdays count: Dec 24 (5 h left), 25, 28–31 (40 h), Jan 1 (47),
    // 4–8 (82), 11–13 (103), 2 h of Jan 14: 2027-01-14 10:00. Committed at half (52.5 h):
    // 5.5 h into Jan 4, 16:00. Warning at 80% of that (42 h): 2 h into Jan 1, 10:00.
    let mut case = complaint("PT-CAL-1", "SC-1501", None, "食品作坊无证生产");
    case["occurred_at"] = json!("2026-12-24T10:00:00+08:00");
    env.publish(&[case]).await;
    wait_for("the order", Duration::from_secs(30), || async {
        env.count("SELECT count(*) FROM orders WHERE order_no = 'PT-CAL-1'")
            .await
            == 1
    })
    .await;
    assert_eq!(
        deadlines(&env).await,
        (
            at("2026-12-25T10:00:00+08:00"),
            at("2027-01-01T10:00:00+08:00"),
            at("2027-01-04T16:00:00+08:00"),
            at("2027-01-14T10:00:00+08:00"),
        )
    );
    let (status, order) = engine.get("/api/orders/PT-CAL-1", SUPERVISOR).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert_eq!(
        order["provisional"], true,
        "past the days the calendar declares"
    );
    assert_eq!(order["sla"]["provisional"], true);
    wait_for("the first task", Duration::from_secs(30), || async {
        env.queue_len("hotline.tasks.SCJGJ").await == 1
    })
    .await;
    let first = env.drain("hotline.tasks.SCJGJ").await;
    let task: Value = serde_json::from_slice(&first[0].data).unwrap();
    assert_eq!(
        (task["revision"].as_u64(), task["provisional"].as_bool()),
        (Some(1), Some(true))
    );
    let task_id = task["task_id"].as_str().unwrap().to_owned();

    // The notice arrives: a reload. Jan 1 and 4 are off, Saturday Jan 9 is worked.
    env.write_config(&config(NOTICE));
    engine.hangup();
    wait_for("the deadlines moved", Duration::from_secs(60), || async {
        deadlines(&env).await.3 == at("2027-01-15T10:00:00+08:00")
    })
    .await;
    // Statutory: two weekdays off, one Saturday worked before it: one working day later.
    // Committed: Jan 1 and 4 off before it, the Saturday after: two working days later.
    // Warning: Jan 1 off: 2 h into the next working day, Jan 5. Sign: unchanged.
    assert_eq!(
        deadlines(&env).await,
        (
            at("2026-12-25T10:00:00+08:00"),
            at("2027-01-05T10:00:00+08:00"),
            at("2027-01-06T16:00:00+08:00"),
            at("2027-01-15T10:00:00+08:00"),
        )
    );
    // The timeline says why; the order is no longer provisional.
    let recomputed: Vec<Value> = sqlx::query_scalar(
        "SELECT detail FROM order_events WHERE order_no = 'PT-CAL-1' AND event_type = 'sla.recomputed'",
    )
    .fetch_all(&env.pool)
    .await
    .unwrap();
    assert_eq!(recomputed.len(), 1);
    assert_eq!(
        recomputed[0]["days"],
        json!(["2027-01-01", "2027-01-04", "2027-01-09"])
    );
    assert_eq!(
        recomputed[0]["before"]["statutory_due_at"],
        "2027-01-14T10:00:00+08:00"
    );
    assert_eq!(
        recomputed[0]["after"]["statutory_due_at"],
        "2027-01-15T10:00:00+08:00"
    );
    let (_, order) = engine.get("/api/orders/PT-CAL-1", SUPERVISOR).await;
    assert_eq!(order["provisional"], false);
    let timeline = order["timeline"].as_array().unwrap();
    assert_eq!(timeline.last().unwrap()["type"], "sla.recomputed");
    // One revised task, same task_id, revision 2, a message id of its own.
    wait_for("the revised task", Duration::from_secs(30), || async {
        env.queue_len("hotline.tasks.SCJGJ").await == 1
    })
    .await;
    let revised = env.drain("hotline.tasks.SCJGJ").await;
    assert_eq!(revised.len(), 1);
    let body: Value = serde_json::from_slice(&revised[0].data).unwrap();
    assert_eq!(body["task_id"], task_id.as_str());
    assert_eq!(body["revision"], 2);
    assert_eq!(body["reason"], "calendar");
    assert_eq!(body["statutory_due_at"], "2027-01-15T10:00:00+08:00");
    assert_eq!(body["provisional"], false);
    assert_eq!(
        revised[0]
            .delivery
            .properties
            .message_id()
            .as_ref()
            .map(|m| m.to_string()),
        Some(format!("{task_id}/r2"))
    );

    // Time passes the old warning and committed deadlines, not yet the new ones: only the
    // sign deadline (unchanged) is alerted.
    env.set_clock(at("2027-01-05T09:00:00+08:00")).await;
    wait_for("the sign alert", Duration::from_secs(30), || async {
        !alerts(&env).await.is_empty()
    })
    .await;
    assert_eq!(
        alerts(&env).await,
        [("sign_overdue".to_owned(), at("2026-12-25T10:00:00+08:00"))],
        "nothing at the old warning (Jan 1) or the old committed deadline (Jan 4)"
    );
    // Past the new warning and committed deadlines: alerted there, once each.
    env.set_clock(at("2027-01-06T16:00:01+08:00")).await;
    wait_for(
        "alerts at the new deadlines",
        Duration::from_secs(30),
        || async { alerts(&env).await.len() == 3 },
    )
    .await;
    assert_eq!(
        alerts(&env).await,
        [
            ("sign_overdue".to_owned(), at("2026-12-25T10:00:00+08:00")),
            ("warning".to_owned(), at("2027-01-05T10:00:00+08:00")),
            ("overdue".to_owned(), at("2027-01-06T16:00:00+08:00")),
        ]
    );

    // The same calendar again (a reload with nothing new): nothing moves. Once the reload
    // is logged, a replay check has at most CHECK_EVERY to run.
    let reloads = engine.log().matches("configuration reloaded").count();
    engine.hangup();
    wait_for("the reload", Duration::from_secs(30), || async {
        engine.log().matches("configuration reloaded").count() > reloads
    })
    .await;
    tokio::time::sleep(hotline_workers::replay::CHECK_EVERY + Duration::from_secs(1)).await;
    assert_eq!(
        env.count("SELECT count(*) FROM order_events WHERE event_type = 'sla.recomputed'")
            .await,
        1
    );
    let revision: i32 =
        sqlx::query_scalar("SELECT revision FROM dispatches WHERE order_no = 'PT-CAL-1'")
            .fetch_one(&env.pool)
            .await
            .unwrap();
    assert_eq!(revision, 2);
    engine.terminate().await;
    env.cleanup().await;
}
