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

/// Publishes a complaint received on Christmas Eve 2026 at 10:00 and waits for its order.
async fn receive_on_christmas_eve(env: &TestEnv, order_no: &str, matter: &str, title: &str) {
    let mut case = complaint(order_no, matter, None, title);
    case["occurred_at"] = json!("2026-12-24T10:00:00+08:00");
    env.publish(&[case]).await;
    wait_for("the order", Duration::from_secs(30), || async {
        env.count_where("SELECT count(*) FROM orders WHERE order_no = $1", order_no)
            .await
            == 1
    })
    .await;
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
    receive_on_christmas_eve(&env, "PT-CAL-1", "SC-1501", "食品作坊无证生产").await;
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
    // The order view shows the same hand-worked instants, in Beijing time.
    assert_eq!(
        [
            &order["received_at"],
            &order["sign_due_at"],
            &order["warning_due_at"],
            &order["committed_due_at"],
            &order["statutory_due_at"],
        ],
        [
            "2026-12-24T10:00:00+08:00",
            "2026-12-25T10:00:00+08:00",
            "2027-01-01T10:00:00+08:00",
            "2027-01-04T16:00:00+08:00",
            "2027-01-14T10:00:00+08:00",
        ]
    );
    assert_eq!(
        order["provisional"], true,
        "past the days the calendar declares"
    );
    assert_eq!(order["sla"]["provisional"], true);
    const COVERAGE: &str = "hotline_calendar_covered_until_timestamp_seconds";
    assert_eq!(
        engine.metric(COVERAGE).await,
        at("2027-01-01T00:00:00+08:00").timestamp() as f64,
        "the embedded days end with 2026"
    );
    assert!(
        engine
            .log()
            .contains("the calendar declares no day after 2026-12-31"),
        "a start within 60 days of the coverage's end warns"
    );
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
    let (_, list) = engine.get("/api/orders?q=食品作坊", SUPERVISOR).await;
    assert_eq!(list["orders"][0]["order_no"], "PT-CAL-1");
    assert_eq!(list["orders"][0]["provisional"], true);

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
    assert_eq!(
        engine.metric(COVERAGE).await,
        at("2028-01-01T00:00:00+08:00").timestamp() as f64,
        "a notice of 2027 declares the year"
    );
    let (_, list) = engine.get("/api/orders?q=食品作坊", SUPERVISOR).await;
    assert_eq!(list["orders"][0]["order_no"], "PT-CAL-1");
    assert_eq!(list["orders"][0]["provisional"], false);
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

    // The same calendar again (a reload with nothing new): nothing moves. To know the
    // replayer has looked at it, a second change follows (a day off in June, which moves
    // no open deadline): once the calendar applied is that one, the replayer is past the
    // reload with nothing new, and neither made a recomputation.
    let applied = || async {
        sqlx::query_scalar::<_, String>("SELECT version FROM calendar_state")
            .fetch_one(&env.pool)
            .await
            .unwrap()
    };
    let before = applied().await;
    let reloads = engine.log().matches("configuration reloaded").count();
    engine.hangup();
    wait_for("the reload", Duration::from_secs(30), || async {
        engine.log().matches("configuration reloaded").count() > reloads
    })
    .await;
    env.write_config(&config(&NOTICE.replace(
        "]\n",
        "  { date = \"2027-06-01\", off = true, name = \"测试\" },\n]\n",
    )));
    engine.hangup();
    wait_for("the June day applied", Duration::from_secs(60), || async {
        applied().await != before
    })
    .await;
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
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

/// The same notice as a plain table, as an operator copies it from the State Council's
/// text.
const NOTICE_TABLE: &str =
    "# 2027 年元旦(虚构)\n2027-01-01 休 元旦\n2027-01-04 休 元旦\n2027-01-09 班 元旦\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_notice_is_shown_dry_run_first_and_replayed_by_the_command() {
    let mut env = TestEnv::with_config(&config("")).await;
    env.make_clock_lie(at("2026-12-24T10:00:00+08:00")).await;
    let engine = env.start_roles("intake,scheduler").await;
    receive_on_christmas_eve(&env, "PT-CAL-1", "SC-1501", "食品作坊无证生产").await;
    // The engine stops before the import, so that only the commands move the deadlines.
    assert!(engine.terminate().await.success());
    let before = deadlines(&env).await;
    assert_eq!(before.3, at("2027-01-14T10:00:00+08:00"));

    // A faulty notice is refused and writes nothing.
    let dir = env.config_path.parent().unwrap().to_owned();
    let faulty = dir.join("faulty.txt");
    std::fs::write(&faulty, "2027-01-04 班 元旦\n").unwrap();
    let refused = env
        .run_cli_output(&["calendar", "import", faulty.to_str().unwrap()])
        .await;
    assert_eq!(refused.status.code(), Some(1), "refused, not crashed");
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("2027-01-04 (元旦) is declared a make-up working day but falls on a Mon"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(!dir.join("calendar.d").exists());

    let notice = dir.join("notice.txt");
    std::fs::write(&notice, NOTICE_TABLE).unwrap();
    let imported = env
        .run_cli(&["calendar", "import", notice.to_str().unwrap()])
        .await;
    assert!(
        imported.contains("imported 2 day(s) off and 1 working day(s) of 2027"),
        "{imported}"
    );
    assert!(
        imported.contains("3 day(s) change: 2027-01-01 2027-01-04 2027-01-09"),
        "{imported}"
    );
    let written = std::fs::read_to_string(dir.join("calendar.d/2027.json")).unwrap();
    let written: Value = serde_json::from_str(&written).unwrap();
    assert_eq!(written["days"].as_array().map(Vec::len), Some(3));
    let shown = env.run_cli(&["calendar", "show", "2027"]).await;
    let rows: Vec<Vec<&str>> = shown
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [
            ["2027-01-01", "休", "1", "天", "元旦"],
            ["2027-01-04", "休", "1", "天", "元旦"],
            ["2027-01-09", "班", "1", "天", "元旦"],
        ],
        "{shown}"
    );

    // The dry run tells what would move and by how much, and writes nothing.
    let dry = env.run_cli(&["replay", "--dry-run"]).await;
    assert!(dry.contains("would move 1"), "{dry}");
    let line = dry
        .lines()
        .find(|l| l.starts_with("PT-CAL-1"))
        .unwrap_or_else(|| panic!("{dry}"));
    assert!(
        line.contains(
            "committed 2027-01-04T16:00:00+08:00 → 2027-01-06T16:00:00+08:00 (+2d 00h00m)"
        ),
        "{line}"
    );
    assert!(
        line.contains(
            "statutory 2027-01-14T10:00:00+08:00 → 2027-01-15T10:00:00+08:00 (+1d 00h00m)"
        ),
        "{line}"
    );
    assert_eq!(deadlines(&env).await, before, "a dry run writes nothing");
    assert_eq!(
        env.count("SELECT count(*) FROM order_events WHERE event_type = 'sla.recomputed'")
            .await,
        0
    );

    // Applied: the same moves, recorded, and a revised task in the outbox.
    let applied = env.run_cli(&["replay"]).await;
    assert!(applied.contains("moved 1"), "{applied}");
    assert_eq!(
        deadlines(&env).await,
        (
            at("2026-12-25T10:00:00+08:00"),
            at("2027-01-05T10:00:00+08:00"),
            at("2027-01-06T16:00:00+08:00"),
            at("2027-01-15T10:00:00+08:00"),
        )
    );
    assert_eq!(
        env.count("SELECT count(*) FROM outbox WHERE kind = 'task' AND message_id LIKE '%/r2'")
            .await,
        1
    );
    let again = env.run_cli(&["replay"]).await;
    assert!(again.contains("no deadline moves"), "{again}");
    env.cleanup().await;
}

/// The `value` of the first `<input name="{name}" value="…">` in `html`.
fn input_value(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no input {name} in the page"));
    let rest = &html[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// The host's clock and the database's disagree by three weeks (an engine host whose clock
/// lies): an operator registers a complaint on the intake page, and it counts from the
/// database's now, as every deadline does, never from the host's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_registered_on_a_page_counts_from_the_databases_clock() {
    let mut env = TestEnv::new().await;
    let lie = at("2026-12-24T10:00:00+08:00");
    env.make_clock_lie(lie).await;
    let engine = env.start_engine().await;
    let token = env
        .run_cli(&[
            "token",
            "create",
            "--name",
            "clock-desk",
            "--role",
            "operator",
        ])
        .await
        .trim()
        .to_owned();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signin = http
        .get(format!("{}/signin", engine.base))
        .send()
        .await
        .unwrap();
    let form_cookie = signin.headers()["set-cookie"].to_str().unwrap().to_owned();
    let form_cookie = form_cookie.split(';').next().unwrap().to_owned();
    let csrf = form_cookie.split_once('=').unwrap().1.to_owned();
    let signed = http
        .post(format!("{}/signin", engine.base))
        .header("cookie", &form_cookie)
        .form(&[
            ("token", token.as_str()),
            ("csrf", &csrf),
            ("next", "/intake"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), reqwest::StatusCode::SEE_OTHER);
    let session = signed
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("hotline_session="))
        .expect("a session cookie");
    let session = session.split(';').next().unwrap().to_owned();
    let page = http
        .get(format!("{}/intake", engine.base))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let registered = http
        .post(format!("{}/intake/complaints", engine.base))
        .header("cookie", &session)
        .form(&[
            ("csrf", input_value(&page, "csrf").as_str()),
            ("event_id", &input_value(&page, "event_id")),
            ("step", "register"),
            ("kind", "complaint"),
            ("channel", "phone"),
            ("urgency", "normal"),
            ("category", "SC-0101"),
            ("title", "超市销售过期食品"),
            ("content", "酸奶过期三天"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), reqwest::StatusCode::SEE_OTHER);
    // Back to the desk with the number taken at registration.
    let location = registered.headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    let order_no = location
        .split_once("&order=")
        .map(|(_, number)| number.to_owned())
        .unwrap_or_else(|| panic!("the registered number in {location}"));
    assert!(
        order_no.starts_with("PT20261224"),
        "the desk numbers orders by the database's date: {order_no}"
    );
    let received: DateTime<Utc> =
        sqlx::query_scalar("SELECT received_at FROM orders WHERE order_no = $1")
            .bind(&order_no)
            .fetch_one(&env.pool)
            .await
            .expect("the registered order");
    let after_lie = (received - lie).num_seconds();
    assert!(
        (0..120).contains(&after_lie),
        "received {received}: the database's clock reads {lie} and on, the host's three weeks earlier"
    );
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

/// The supervision digest goes out for the database's day, not the engine host's: with
/// the database three weeks ahead, the digests are those of 2026-12-24.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_digest_is_sent_for_the_databases_day() {
    let config = TEST_CONFIG.replacen(
        "[calendar]\n",
        "[scheduler]\ndigest_cron = \"*/2 * * * * *\"\n\n[calendar]\n",
        1,
    );
    let mut env = TestEnv::with_config(&config).await;
    env.make_clock_lie(at("2026-12-24T10:00:00+08:00")).await;
    let engine = env.start_roles("scheduler").await;
    wait_for("the digests", Duration::from_secs(30), || async {
        env.count("SELECT count(*) FROM digests").await > 0
    })
    .await;
    let days: Vec<chrono::NaiveDate> = sqlx::query_scalar("SELECT DISTINCT day FROM digests")
        .fetch_all(&env.pool)
        .await
        .unwrap();
    assert_eq!(
        days,
        [chrono::NaiveDate::from_ymd_opt(2026, 12, 24).unwrap()]
    );
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

/// A co-handler's co-reply deadline (协办答复期限) is replayed with the order's: the
/// notice takes two weekdays before it, so it moves two days later, and so does its timer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_moves_a_co_handlers_co_reply_deadline_and_its_timer() {
    let with_co = format!(
        "{}\n[[matter]]\ncode = \"SC-3001\"\nname = \"食品安全联合检查\"\ndepartment = \"SCJGJ\"\nstatutory_limit = \"30wd\"\nco_departments = [\"YSBZX\"]\n",
        config("")
    );
    let mut env = TestEnv::with_config(&with_co).await;
    env.make_clock_lie(at("2026-12-24T10:00:00+08:00")).await;
    let engine = env.start_roles("intake,scheduler").await;
    receive_on_christmas_eve(&env, "PT-CAL-CO", "SC-3001", "食品作坊联合检查").await;
    assert!(engine.terminate().await.success());
    let co_due = || async {
        let due: (DateTime<Utc>, DateTime<Utc>) = sqlx::query_as(
            "SELECT (c->>'co_reply_due_at')::timestamptz,
                    (SELECT due_at FROM timers WHERE order_no = 'PT-CAL-CO'
                         AND level = 'co_overdue' AND department = 'YSBZX')
             FROM orders, jsonb_array_elements(co_handlers) c
             WHERE order_no = 'PT-CAL-CO' AND c->>'department' = 'YSBZX'",
        )
        .fetch_one(&env.pool)
        .await
        .unwrap();
        due
    };
    // 0.6 of the committed 105 h after the task (63 h of working time from about Dec 24
    // 10:00): Jan 6, past the days the notice changes (Jan 1 and 4, both weekdays).
    let (before, timer) = co_due().await;
    assert_eq!(timer, before);
    assert_eq!(
        hotline_core::calendar::business_date(before),
        chrono::NaiveDate::from_ymd_opt(2027, 1, 6).unwrap(),
        "{before}"
    );

    let dir = env.config_path.parent().unwrap().to_owned();
    let notice = dir.join("notice.txt");
    std::fs::write(&notice, NOTICE_TABLE).unwrap();
    env.run_cli(&["calendar", "import", notice.to_str().unwrap()])
        .await;
    let applied = env.run_cli(&["replay"]).await;
    assert!(applied.contains("moved 1"), "{applied}");
    // Two working days lost before it, none gained (the Saturday worked is Jan 9): the
    // same working time ends two days later, and the timer with it.
    let (after, timer) = co_due().await;
    assert_eq!(after, before + chrono::TimeDelta::days(2));
    assert_eq!(timer, after);
    let detail: Value = sqlx::query_scalar(
        "SELECT detail FROM order_events WHERE order_no = 'PT-CAL-CO' AND event_type = 'sla.recomputed'",
    )
    .fetch_one(&env.pool)
    .await
    .unwrap();
    assert_eq!(detail["co_handlers"][0]["department"], "YSBZX");
    assert_eq!(
        detail["co_handlers"][0]["after"]["co_reply_due_at"],
        hotline_core::calendar::business_time(after)
    );
    // Both tasks again, each its own second revision: the lead's and the co-handler's,
    // with its new co-reply deadline.
    let revised: Vec<(String, Value)> = sqlx::query_as(
        "SELECT routing_key, convert_from(body, 'UTF8')::jsonb FROM outbox
         WHERE kind = 'task' AND message_id LIKE '%/r2' ORDER BY routing_key",
    )
    .fetch_all(&env.pool)
    .await
    .unwrap();
    let keys: Vec<&str> = revised.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["SCJGJ", "YSBZX"]);
    let co_task = &revised[1].1;
    assert_eq!(
        (&co_task["role"], &co_task["reason"], &co_task["revision"]),
        (&json!("co"), &json!("calendar"), &json!(2))
    );
    assert_eq!(
        co_task["co_reply_due_at"],
        hotline_core::calendar::business_time(after)
    );
    env.cleanup().await;
}
