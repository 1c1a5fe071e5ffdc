//! What 12345 practice needs beyond one department and one reply (issue 11): co-handling
//! departments (主办/协办), the review of returns (退单审核), appeals of ratings (评价复核),
//! supervision levels (督办) and the department league table. Deadlines are computed by
//! hand from a database clock that lies: Wednesday 2026-11-25 12:30, the lunch break, so
//! that the clock starts at 14:30 whatever the seconds the engine takes.

use crate::support::{TestEnv, complaint, handle, metric_value, now, reason, wait_for};
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

const OPERATOR: &str = "practice-operator-token-01";
const SUPERVISOR: &str = "practice-supervisor-token-01";
const SCJGJ: &str = "practice-handler-scjgj-token-01";
const YSBZX: &str = "practice-handler-ysbzx-token-01";
const ZFYJJ: &str = "practice-handler-zfyjj-token-01";

fn tokens() -> String {
    format!(
        "{OPERATOR}:operator,{SUPERVISOR}:supervisor,{SCJGJ}:handler:SCJGJ,\
         {YSBZX}:handler:YSBZX,{ZFYJJ}:handler:ZFYJJ"
    )
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

const LUNCH: &str = "2026-11-25T12:30:00+08:00";

/// A complaint received at the lying clock's start.
fn complaint_at_lunch(order_no: &str, category: &str, title: &str) -> Value {
    let mut event = complaint(order_no, category, None, title);
    event["occurred_at"] = json!(LUNCH);
    event
}

/// An action on an order, sent as of the lying clock's start (an `occurred_at` ahead of
/// the engine's clock is refused).
fn at_lunch(event_type: &str, order_no: &str, fields: Value) -> Value {
    let mut event = now(event_type, order_no, fields);
    event["occurred_at"] = json!(LUNCH);
    event
}

async fn post(engine_base: &str, token: &str, event: &Value) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{engine_base}/api/events"))
        .bearer_auth(token)
        .json(event)
        .send()
        .await
        .expect("POST /api/events");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Every task waiting on a department's queue, as JSON.
async fn tasks(env: &TestEnv, department: &str) -> Vec<Value> {
    env.drain(&format!("hotline.tasks.{department}"))
        .await
        .iter()
        .map(|m| serde_json::from_slice(&m.data).unwrap())
        .collect()
}

async fn state_of(env: &TestEnv, order_no: &str) -> (String, String, i32) {
    sqlx::query_as("SELECT state, department, dispatch_count FROM orders WHERE order_no = $1")
        .bind(order_no)
        .fetch_one(&env.pool)
        .await
        .unwrap()
}

/// One department's row of `/api/kpis`.
fn kpis_of(kpis: &Value, department: &str) -> Value {
    kpis["departments"]
        .as_array()
        .unwrap_or_else(|| panic!("departments in {kpis}"))
        .iter()
        .find(|d| d["department"] == department)
        .cloned()
        .unwrap_or_else(|| panic!("{department} in {kpis}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_co_handled_order_waits_for_both_co_replies_before_the_lead_replies() {
    let mut env = TestEnv::new().await;
    env.make_clock_lie(at(LUNCH)).await;
    let engine = env
        .start_engine_with_env(&[("HOTLINE_API_TOKENS", &tokens())])
        .await;
    env.declare_topology().await;
    let no = "PT-CO-1";
    // XT-0001 (5wd): 市场监督管理局 leads, 执法应急局 and 医社保中心 co-handle.
    handle(&env, &[complaint_at_lunch(no, "XT-0001", "无证诊所")]).await;

    // Committed time: half of 5 working days of 7 h, 17.5 h; a co-reply is due after 0.6
    // of it, 10.5 h of working time from the dispatch: Wed 14:30–17:30 (3 h), Thu (7 h),
    // Fri 08:00–08:30.
    let co_due = "2026-11-27T08:30:00+08:00";
    let lead = tasks(&env, "SCJGJ").await;
    assert_eq!(lead.len(), 1);
    assert_eq!(
        (&lead[0]["role"], &lead[0]["co_departments"]),
        (&json!("lead"), &json!(["ZFYJJ", "YSBZX"]))
    );
    for department in ["ZFYJJ", "YSBZX"] {
        let co = tasks(&env, department).await;
        assert_eq!(co.len(), 1, "{department}");
        assert_eq!(
            (
                &co[0]["role"],
                &co[0]["lead_department"],
                &co[0]["co_reply_due_at"],
                &co[0]["committed_due_at"]
            ),
            (
                &json!("co"),
                &json!("SCJGJ"),
                &json!(co_due),
                // 17.5 h: Wed 3 h, Thu 7, Fri 7, Mon 08:00–08:30.
                &json!("2026-11-30T08:30:00+08:00")
            ),
            "{department}"
        );
        assert_eq!(
            co[0]["citizen"],
            json!({"name": "测***", "phone": "139****0000"}),
            "a co-handler does not hold the order: the citizen masked"
        );
    }
    assert_eq!(
        env.count("SELECT count(*) FROM dispatches WHERE order_no = 'PT-CO-1'")
            .await,
        1,
        "co-handlers get tasks, not the order"
    );

    // The lead accepts; ZFYJJ accepts and co-replies; YSBZX's co-reply is still due, so
    // the lead's reply is refused.
    handle(
        &env,
        &[
            at_lunch("order.accepted", no, json!({"department": "SCJGJ"})),
            at_lunch("order.accepted", no, json!({"department": "ZFYJJ"})),
            at_lunch(
                "order.co_replied",
                no,
                json!({"department": "ZFYJJ", "reply": "已联合执法检查"}),
            ),
            at_lunch(
                "order.replied",
                no,
                json!({"department": "SCJGJ", "reply": "已取缔", "resolved": true}),
            ),
        ],
    )
    .await;
    let rejected = env.drain("hotline.rejected").await;
    assert_eq!(rejected.len(), 1);
    assert_eq!(
        reason(&rejected[0]),
        format!(
            "invalid_state: order {no}: co-handler YSBZX has not co-replied and its co-reply deadline {co_due} has not passed"
        )
    );

    // YSBZX's handlers see the order, its co-handlers and their deadlines; they cannot
    // reply for the lead (told why, not 404: the department knows of the order).
    let (status, view) = engine.get(&format!("/api/orders/{no}"), YSBZX).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["department"], "SCJGJ");
    let co: Vec<(Value, Value, Value)> = view["co_handlers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["department"].clone(),
                c["co_reply_due_at"].clone(),
                c["on_time"].clone(),
            )
        })
        .collect();
    assert_eq!(
        co,
        vec![
            (json!("ZFYJJ"), json!(co_due), json!(true)),
            (json!("YSBZX"), json!(co_due), Value::Null),
        ]
    );
    let (status, body) = post(
        &engine.base,
        YSBZX,
        &at_lunch(
            "order.replied",
            no,
            json!({"department": "YSBZX", "reply": "r", "resolved": true}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "wrong_department");

    for (token, event) in [
        (
            YSBZX,
            at_lunch("order.accepted", no, json!({"department": "YSBZX"})),
        ),
        (
            YSBZX,
            at_lunch(
                "order.co_replied",
                no,
                json!({"department": "YSBZX", "reply": "已核查执业资质"}),
            ),
        ),
        (
            SCJGJ,
            at_lunch(
                "order.replied",
                no,
                json!({"department": "SCJGJ", "reply": "已取缔", "resolved": true}),
            ),
        ),
        (
            OPERATOR,
            at_lunch(
                "order.feedback",
                no,
                json!({"rating": "satisfied", "resolved": true}),
            ),
        ),
    ] {
        let (status, body) = post(&engine.base, token, &event).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{event}: {body}");
    }
    assert_eq!(state_of(&env, no).await.0, "closed");
    let (_, view) = engine.get(&format!("/api/orders/{no}"), SUPERVISOR).await;
    let types: Vec<&str> = view["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "complaint.received",
            "order.accepted",
            "order.accepted",
            "order.co_replied",
            "order.accepted",
            "order.co_replied",
            "order.replied",
            "order.feedback"
        ]
    );

    // KPIs: each co-handler co-replied once, on time; their acceptances are not the lead's.
    let (_, kpis) = engine.get("/api/kpis", SUPERVISOR).await;
    for department in ["ZFYJJ", "YSBZX"] {
        let d = kpis_of(&kpis, department);
        assert_eq!(
            (
                &d["co_replied"],
                &d["co_replied_on_time"],
                &d["co_on_time_rate"]
            ),
            (&json!(1), &json!(1), &json!(1.0)),
            "{department}"
        );
        assert_eq!(d["accepted"], 0, "{department}");
    }
    let sc = kpis_of(&kpis, "SCJGJ");
    assert_eq!((&sc["accepted"], &sc["replied"]), (&json!(1), &json!(1)));
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_co_handler_is_alerted_once_and_a_statutory_overdue_order_is_raised_to_supervision()
{
    let env = TestEnv::new().await;
    let engine = env
        .start_engine_with_env(&[("HOTLINE_API_TOKENS", &tokens())])
        .await;
    env.declare_topology().await;
    let no = "PT-CO-2";
    // XT-0002: one minute, natural time; 执法应急局 leads, 市场监督管理局 co-handles.
    let mut case = complaint(no, "XT-0002", None, "燃气管线");
    case["occurred_at"] = json!(hotline_core::calendar::business_time(Utc::now()));
    handle(
        &env,
        &[
            case,
            now("order.urged", no, json!({"note": "请尽快"})),
            now("order.accepted", no, json!({"department": "ZFYJJ"})),
        ],
    )
    .await;
    wait_for(
        "the statutory deadline's alerts",
        Duration::from_secs(120),
        || async {
            env.count(
                "SELECT count(*) FROM alerts WHERE order_no = 'PT-CO-2' AND level = 'supervision'",
            )
            .await
                == 1
        },
    )
    .await;
    handle(&env, &[]).await; // the relay has published what was committed
    let levels: Vec<(String, String)> = sqlx::query_as(
        "SELECT level, department FROM alerts WHERE order_no = 'PT-CO-2' ORDER BY level",
    )
    .fetch_all(&env.pool)
    .await
    .unwrap();
    assert_eq!(
        levels,
        [
            ("co_overdue", "SCJGJ"),
            ("overdue", "ZFYJJ"),
            ("statutory_overdue", "ZFYJJ"),
            ("supervision", "ZFYJJ"),
            ("warning", "ZFYJJ"),
        ]
        .map(|(l, d)| (l.to_owned(), d.to_owned()))
    );
    let keys: Vec<String> = env
        .drain("hotline.alerts.supervision")
        .await
        .iter()
        .map(|m| m.delivery.routing_key.to_string())
        .collect();
    assert_eq!(
        keys.iter().filter(|k| *k == "co_overdue.SCJGJ").count(),
        1,
        "{keys:?}"
    );
    assert_eq!(
        keys.iter().filter(|k| *k == "supervision.ZFYJJ").count(),
        1,
        "{keys:?}"
    );
    let (_, view) = engine.get(&format!("/api/orders/{no}"), SUPERVISOR).await;
    assert_eq!(view["urge_level"], "supervision");
    let types: Vec<&str> = view["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "complaint.received",
            "order.urged",
            "order.accepted",
            "order.escalated"
        ]
    );
    // Urged once as a reminder, raised once to supervision: one order at each level.
    let (_, kpis) = engine.get("/api/kpis", SUPERVISOR).await;
    assert_eq!(
        kpis_of(&kpis, "ZFYJJ")["urged"],
        json!({"reminder": 1, "supervision": 1, "listed": 0})
    );
    // The co-handler co-replies late: recorded, not on time, and no second alert.
    handle(
        &env,
        &[
            now("order.accepted", no, json!({"department": "SCJGJ"})),
            now(
                "order.co_replied",
                no,
                json!({"department": "SCJGJ", "reply": "已排查"}),
            ),
        ],
    )
    .await;
    let (_, kpis) = engine.get("/api/kpis", SUPERVISOR).await;
    let sc = kpis_of(&kpis, "SCJGJ");
    assert_eq!(
        (&sc["co_replied"], &sc["co_replied_on_time"]),
        (&json!(1), &json!(0))
    );
    assert_eq!(
        env.count(
            "SELECT count(*) FROM alerts WHERE order_no = 'PT-CO-2' AND level = 'co_overdue'"
        )
        .await,
        1
    );
    assert_eq!(
        metric_value(
            &engine.metrics().await,
            "hotline_sla_alerts_total{department=\"SCJGJ\",level=\"co_overdue\"}"
        ),
        1.0
    );
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returns_wait_for_review_and_go_elsewhere_back_or_are_refused_late() {
    let mut env = TestEnv::new().await;
    env.make_clock_lie(at(LUNCH)).await;
    let engine = env
        .start_engine_with_env(&[("HOTLINE_API_TOKENS", &tokens())])
        .await;
    env.declare_topology().await;
    // SC-0101 (5wd) at SCJGJ; from 14:30 Wednesday: committed 17.5 h, Mon 08:30;
    // statutory 35 h: 3 + 7 × 4 = 31 h by Tuesday evening, 4 h more, Wed 12-02 12:00.
    let committed = "2026-11-30T08:30:00+08:00";
    let statutory = "2026-12-02T12:00:00+08:00";
    handle(
        &env,
        &[
            complaint_at_lunch("PT-RV-1", "SC-0101", "过期食品"),
            complaint_at_lunch("PT-RV-2", "SC-0101", "过期食品"),
        ],
    )
    .await;
    let first = tasks(&env, "SCJGJ").await;
    assert_eq!(first.len(), 2);
    // Signed for within one working day of the dispatch at lunch (the day's work resumes
    // at 14:30): 3 hours on Wednesday, 4 on Thursday morning.
    let sign = json!("2026-11-26T12:00:00+08:00");
    for task in &first {
        assert_eq!(
            (
                &task["committed_due_at"],
                &task["statutory_due_at"],
                &task["sign_due_at"]
            ),
            (&json!(committed), &json!(statutory), &sign)
        );
    }

    // Both returned by SCJGJ (the second after accepting): held by the manual desk for
    // review, with a task to it.
    handle(
        &env,
        &[
            at_lunch(
                "order.accepted",
                "PT-RV-2",
                json!({"department": "SCJGJ", "handler": "h"}),
            ),
            at_lunch(
                "order.returned",
                "PT-RV-1",
                json!({"department": "SCJGJ", "reason": "非本单位"}),
            ),
            at_lunch(
                "order.returned",
                "PT-RV-2",
                json!({"department": "SCJGJ", "reason": "非本单位"}),
            ),
        ],
    )
    .await;
    for no in ["PT-RV-1", "PT-RV-2"] {
        assert_eq!(
            state_of(&env, no).await,
            ("return_pending".into(), "MANUAL".into(), 2)
        );
    }
    assert_eq!(tasks(&env, "MANUAL").await.len(), 2);
    // Waiting for review, their clocks run: listed on track at lunch, and the list's
    // filter on that state finds them too (the board's count and the list it opens agree).
    for query in ["", "?sla_state=on_track"] {
        let (_, list) = engine.get(&format!("/api/orders{query}"), SUPERVISOR).await;
        let rows: Vec<(&str, &str)> = list["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o["order_no"].as_str().unwrap(),
                    o["sla_state"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [("PT-RV-1", "on_track"), ("PT-RV-2", "on_track")],
            "{query}"
        );
    }
    // Only an operator decides.
    let approve = at_lunch(
        "order.return_decided",
        "PT-RV-1",
        json!({"approved": true, "department": "ZFYJJ", "note": "确非本单位"}),
    );
    let (status, _) = post(&engine.base, SCJGJ, &approve).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = post(&engine.base, OPERATOR, &approve).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, body) = post(
        &engine.base,
        OPERATOR,
        &at_lunch(
            "order.return_decided",
            "PT-RV-2",
            json!({"approved": false, "note": "属本单位职责"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    handle(&env, &[]).await;

    // Approved: re-dispatched to the named department, the citizen's deadlines kept.
    assert_eq!(
        state_of(&env, "PT-RV-1").await,
        ("dispatched".into(), "ZFYJJ".into(), 3)
    );
    let elsewhere = tasks(&env, "ZFYJJ").await;
    assert_eq!(elsewhere.len(), 1);
    assert_eq!(
        (
            &elsewhere[0]["committed_due_at"],
            &elsewhere[0]["statutory_due_at"],
            &elsewhere[0]["dispatch_count"]
        ),
        (&json!(committed), &json!(statutory), &json!(3))
    );
    // Rejected (回退驳回): back with SCJGJ, accepted as it was, its deadlines those of
    // the original dispatch, sign deadline included.
    assert_eq!(
        state_of(&env, "PT-RV-2").await,
        ("accepted".into(), "SCJGJ".into(), 3)
    );
    let back = tasks(&env, "SCJGJ").await;
    assert_eq!(back.len(), 1);
    assert_eq!(
        (
            &back[0]["order_no"],
            &back[0]["committed_due_at"],
            &back[0]["statutory_due_at"],
            &back[0]["sign_due_at"]
        ),
        (
            &json!("PT-RV-2"),
            &json!(committed),
            &json!(statutory),
            &sign
        )
    );
    let outcomes: Vec<(String, i32, String, Option<String>)> = sqlx::query_as(
        "SELECT order_no, dispatch_no, purpose, return_outcome FROM dispatches
         ORDER BY order_no, dispatch_no",
    )
    .fetch_all(&env.pool)
    .await
    .unwrap();
    let row = |no: &str, n: i32, purpose: &str, outcome: Option<&str>| {
        (
            no.to_owned(),
            n,
            purpose.to_owned(),
            outcome.map(str::to_owned),
        )
    };
    assert_eq!(
        outcomes,
        vec![
            row("PT-RV-1", 1, "handle", Some("approved")),
            row("PT-RV-1", 2, "return_review", None),
            row("PT-RV-1", 3, "handle", None),
            row("PT-RV-2", 1, "handle", Some("rejected")),
            row("PT-RV-2", 2, "return_review", None),
            row("PT-RV-2", 3, "return_rejected", None),
        ]
    );
    let (_, kpis) = engine.get("/api/kpis", SUPERVISOR).await;
    let sc = kpis_of(&kpis, "SCJGJ");
    assert_eq!(
        (
            &sc["dispatched"],
            &sc["returned"],
            &sc["returns_approved"],
            &sc["returns_rejected"],
            &sc["return_rate"]
        ),
        (&json!(2), &json!(2), &json!(1), &json!(1), &json!(1.0))
    );

    // A return later than 2 working days after the dispatch (Wed 14:30 + 14 h: Fri 12:00)
    // is refused, saying why.
    handle(
        &env,
        &[complaint_at_lunch("PT-RV-3", "SC-0101", "过期食品")],
    )
    .await;
    env.set_clock(at("2026-11-27T15:00:00+08:00")).await;
    handle(
        &env,
        &[at_lunch(
            "order.returned",
            "PT-RV-3",
            json!({"department": "SCJGJ", "reason": "非本单位"}),
        )],
    )
    .await;
    let rejected = env.drain("hotline.rejected").await;
    assert_eq!(rejected.len(), 1);
    let why = reason(&rejected[0]);
    assert!(
        why.starts_with("invalid_state: order PT-RV-3 was dispatched to SCJGJ at 2026-11-25T12:3")
            && why.ends_with(
                "a return is accepted within 2wd of the dispatch (until 2026-11-27T12:00:00+08:00)"
            ),
        "{why}"
    );
    assert_eq!(
        state_of(&env, "PT-RV-3").await,
        ("dispatched".into(), "SCJGJ".into(), 1)
    );
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

/// Rates `orders` at SCJGJ: each accepted, replied, then called back with its rating and
/// whether it was resolved.
async fn rate(env: &TestEnv, department: &str, orders: &[(&str, &str, bool)]) {
    let category = if department == "SCJGJ" {
        "SC-0101"
    } else {
        "YB-0101"
    };
    let received: Vec<Value> = orders
        .iter()
        .map(|(no, _, _)| complaint(no, category, None, "诉求"))
        .collect();
    handle(env, &received).await;
    let mut steps = Vec::new();
    for (no, rating, resolved) in orders {
        steps.push(now("order.accepted", no, json!({"department": department})));
        steps.push(now(
            "order.replied",
            no,
            json!({"department": department, "reply": "已处理", "resolved": true}),
        ));
        steps.push(now(
            "order.feedback",
            no,
            json!({"rating": rating, "resolved": resolved}),
        ));
    }
    handle(env, &steps).await;
}

/// The satisfaction gauge of SCJGJ once a snapshot newer than now was taken.
async fn fresh_satisfaction(env: &TestEnv, engine: &crate::support::EngineProcess) -> f64 {
    let since: DateTime<Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&env.pool)
        .await
        .unwrap();
    wait_for(
        "a fresh gauge snapshot",
        Duration::from_secs(60),
        || async {
            engine.metrics().await;
            sqlx::query_scalar::<_, bool>(
                "SELECT coalesce((SELECT taken_at > $1 FROM gauge_snapshot_taken), false)",
            )
            .bind(since)
            .fetch_one(&env.pool)
            .await
            .unwrap()
        },
    )
    .await;
    metric_value(
        &engine.metrics().await,
        "hotline_satisfaction_ratio{department=\"SCJGJ\"}",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upheld_appeal_takes_one_rating_out_of_the_satisfaction_ratio_and_a_rejected_one_does_not()
 {
    let env = TestEnv::new().await;
    let engine = env
        .start_engine_with_env(&[("HOTLINE_API_TOKENS", &tokens())])
        .await;
    // Four ratings: two satisfied, two dissatisfied (resolved, so they close): 满意率 1/2.
    rate(
        &env,
        "SCJGJ",
        &[
            ("PT-AP-1", "very_satisfied", true),
            ("PT-AP-2", "satisfied", true),
            ("PT-AP-3", "dissatisfied", true),
            ("PT-AP-4", "very_dissatisfied", true),
        ],
    )
    .await;
    assert_eq!(fresh_satisfaction(&env, &engine).await, 0.5);

    // Appeals by the rated department only, and only of unsatisfied ratings.
    let appeal = |no: &str| {
        now(
            "order.rating_appealed",
            no,
            json!({"department": "SCJGJ", "reason": "诉求超出职责范围"}),
        )
    };
    let (status, body) = post(&engine.base, SCJGJ, &appeal("PT-AP-1")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "invalid_state");
    let (status, _) = post(&engine.base, YSBZX, &appeal("PT-AP-3")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "for SCJGJ, by YSBZX");
    for no in ["PT-AP-3", "PT-AP-4"] {
        let (status, body) = post(&engine.base, SCJGJ, &appeal(no)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{no}: {body}");
    }
    let (status, body) = post(&engine.base, SCJGJ, &appeal("PT-AP-3")).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("invalid_state")),
        "one appeal per callback: {body}"
    );

    // Rejected: nothing changes.
    let decide = |no: &str, upheld: bool| {
        now(
            "order.appeal_decided",
            no,
            json!({"upheld": upheld, "note": "复核"}),
        )
    };
    let (status, _) = post(&engine.base, OPERATOR, &decide("PT-AP-4", false)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "supervisors decide");
    let (status, _) = post(&engine.base, SUPERVISOR, &decide("PT-AP-4", false)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(fresh_satisfaction(&env, &engine).await, 0.5);
    let (_, kpis) = engine.get("/api/kpis", SUPERVISOR).await;
    assert_eq!(kpis_of(&kpis, "SCJGJ")["satisfaction_rate"], 0.5);

    // Upheld: 2 satisfied of 3 counted.
    let (status, _) = post(&engine.base, SUPERVISOR, &decide("PT-AP-3", true)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let ratio = fresh_satisfaction(&env, &engine).await;
    assert!((ratio - 2.0 / 3.0).abs() < 1e-12, "{ratio}");
    let (_, kpis) = engine.get("/api/kpis", SUPERVISOR).await;
    let sc = kpis_of(&kpis, "SCJGJ");
    assert_eq!(
        (&sc["rated"], &sc["rated_excluded"], &sc["satisfied"]),
        (&json!(4), &json!(1), &json!(2))
    );
    assert!((sc["satisfaction_rate"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-12);
    // The rating stays on the order and in hotline_feedback_total.
    let (_, view) = engine.get("/api/orders/PT-AP-3", SCJGJ).await;
    assert_eq!(view["rating"], "dissatisfied");
    assert_eq!(
        (
            &view["callback"]["excluded"],
            &view["callback"]["appeal"]["decision"]["upheld"]
        ),
        (&json!(true), &json!(true))
    );
    let text = engine.metrics().await;
    for (sample, value) in [
        (
            "hotline_feedback_total{department=\"SCJGJ\",rating=\"dissatisfied\"}",
            1.0,
        ),
        (
            "hotline_feedback_excluded_total{department=\"SCJGJ\",rating=\"dissatisfied\"}",
            1.0,
        ),
        (
            "hotline_feedback_excluded_total{department=\"SCJGJ\",rating=\"very_dissatisfied\"}",
            0.0,
        ),
    ] {
        assert_eq!(metric_value(&text, sample), value, "{sample}");
    }
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_league_table_scores_departments_from_their_callbacks() {
    let env = TestEnv::new().await;
    let engine = env
        .start_engine_with_env(&[("HOTLINE_API_TOKENS", &tokens())])
        .await;
    // SCJGJ: 4 dispatched and accepted in time (响应率 1), 3 of 4 resolved (解决率 0.75),
    // 2 of 4 satisfied (满意率 0.5): 100 × (0.3 + 0.35 × 0.75 + 0.35 × 0.5) = 73.75, red
    // (below 80). YSBZX: 1 of 1 of each: 100, green.
    rate(
        &env,
        "SCJGJ",
        &[
            ("PT-RK-1", "very_satisfied", true),
            ("PT-RK-2", "satisfied", false),
            ("PT-RK-3", "dissatisfied", true),
            ("PT-RK-4", "very_dissatisfied", true),
        ],
    )
    .await;
    rate(&env, "YSBZX", &[("PT-RK-5", "very_satisfied", true)]).await;
    let month = crate::support::business_today().format("%Y-%m").to_string();
    for period in ["last30", month.as_str()] {
        let (status, table) = engine
            .get(&format!("/api/ranking?period={period}"), SUPERVISOR)
            .await;
        assert_eq!(status, StatusCode::OK, "{table}");
        let rows: Vec<(Value, Value, Value, Value)> = table["departments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["department"].clone(),
                    d["score"].clone(),
                    d["rank"].clone(),
                    d["colour"].clone(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                (json!("YSBZX"), json!(100.0), json!(1), json!("green")),
                (json!("SCJGJ"), json!(73.75), json!(2), json!("red")),
            ],
            "{period}"
        );
        assert_eq!(table["departments"][1]["resolution_rate"], 0.75);
        assert_eq!(table["departments"][1]["name"], "市场监督管理局");
    }
    // A handler sees its own row, ranked among all.
    let (_, own) = engine.get("/api/ranking?period=last30", SCJGJ).await;
    assert_eq!(own["departments"].as_array().unwrap().len(), 1);
    assert_eq!(own["departments"][0]["rank"], 2);
    let (status, _) = engine.get("/api/ranking?period=2026-13", SUPERVISOR).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    wait_for("the score gauge", Duration::from_secs(60), || async {
        metric_value(
            &engine.metrics().await,
            "hotline_department_score{department=\"SCJGJ\"}",
        ) == 73.75
    })
    .await;
    assert_eq!(
        metric_value(
            &engine.metrics().await,
            "hotline_department_score{department=\"YSBZX\"}"
        ),
        100.0
    );
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

/// Ids and roles of a page of `GET /api/orders`.
fn listed(page: &Value) -> Vec<(String, Value)> {
    page["orders"]
        .as_array()
        .unwrap_or_else(|| panic!("orders in {page}"))
        .iter()
        .map(|o| {
            (
                o["order_no"].as_str().unwrap().to_owned(),
                o["role"].clone(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_co_handlers_list_and_export_hold_what_it_co_handles_marked_co() {
    let env = TestEnv::new().await;
    let engine = env
        .start_engine_with_env(&[("HOTLINE_API_TOKENS", &tokens())])
        .await;
    // PT-LS-CO: SCJGJ leads, ZFYJJ and YSBZX co-handle. PT-LS-OWN: YSBZX's own.
    // PT-LS-OTHER: SCJGJ's alone.
    handle(
        &env,
        &[
            complaint("PT-LS-CO", "XT-0001", None, "无证诊所"),
            complaint("PT-LS-OWN", "YB-0201", None, "医保报销"),
            complaint("PT-LS-OTHER", "SC-0101", None, "过期食品"),
        ],
    )
    .await;
    let get = |path: &'static str, token: &'static str| {
        let engine = &engine;
        async move {
            let (status, body) = engine.get(path, token).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
            body
        }
    };
    // By default a handler's list is what it holds (lead) and what it co-handles (co).
    let mut both = listed(&get("/api/orders", YSBZX).await);
    both.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        both,
        [
            ("PT-LS-CO".to_owned(), json!("co")),
            ("PT-LS-OWN".to_owned(), json!("lead")),
        ]
    );
    let page = get("/api/orders?co_department=YSBZX", YSBZX).await;
    assert_eq!(listed(&page), [("PT-LS-CO".to_owned(), json!("co"))]);
    let row = &page["orders"][0];
    assert_eq!(row["department"], "SCJGJ");
    assert_eq!(row["co_departments"], json!(["ZFYJJ", "YSBZX"]));
    assert_eq!(
        row["citizen"]["masked"], true,
        "the co-handler does not hold it"
    );
    assert_eq!(
        listed(&get("/api/orders?department=YSBZX", YSBZX).await),
        [("PT-LS-OWN".to_owned(), json!("lead"))]
    );
    // Keyset pages across the two: one order per page, each once.
    let first = get("/api/orders?limit=1", YSBZX).await;
    let next = first["next"].as_str().expect("a second page").to_owned();
    let (status, second) = engine
        .get(&format!("/api/orders?limit=1&next={next}"), YSBZX)
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let mut paged: Vec<String> = [listed(&first), listed(&second)]
        .concat()
        .into_iter()
        .map(|(no, _)| no)
        .collect();
    paged.sort();
    assert_eq!(paged, ["PT-LS-CO", "PT-LS-OWN"]);
    assert!(second["next"].is_null(), "{second}");
    // Another department, in either filter, is refused.
    for path in [
        "/api/orders?co_department=SCJGJ",
        "/api/orders?department=SCJGJ",
    ] {
        let (status, body) = engine.get(path, YSBZX).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
    }
    // The lead sees it as its own; an operator filters by co-handler, without a role.
    let lead = listed(&get("/api/orders", SCJGJ).await);
    assert!(
        lead.contains(&("PT-LS-CO".to_owned(), json!("lead"))),
        "{lead:?}"
    );
    assert_eq!(
        listed(&get("/api/orders?co_department=YSBZX", OPERATOR).await),
        [("PT-LS-CO".to_owned(), Value::Null)]
    );
    // The export says the same, in its last two columns.
    let response = reqwest::Client::new()
        .get(format!("{}/api/orders.csv?sort=received", engine.base))
        .bearer_auth(YSBZX)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    let mut lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert!(lines.remove(0).ends_with(",保密件,协办单位,本单位角色"));
    lines.sort();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("PT-LS-CO,"), "{}", lines[0]);
    assert!(
        lines[0].ends_with(",false,ZFYJJ;YSBZX,协办"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("测*"), "masked: {}", lines[0]);
    assert!(lines[1].ends_with(",false,,主办"), "{}", lines[1]);
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

async fn co_timers(env: &TestEnv, order_no: &str) -> Vec<(String, DateTime<Utc>)> {
    sqlx::query_as(
        "SELECT department, due_at FROM timers WHERE order_no = $1 AND level = 'co_overdue'
         ORDER BY department",
    )
    .bind(order_no)
    .fetch_all(&env.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_repair_sweep_re_arms_a_lost_co_reply_timer_and_only_for_who_still_owes_one() {
    let env = TestEnv::new().await;
    let engine = env
        .start_engine_with_env(&[("HOTLINE_API_TOKENS", &tokens())])
        .await;
    handle(&env, &[complaint("PT-REP-CO", "XT-0001", None, "无证诊所")]).await;
    let armed = co_timers(&env, "PT-REP-CO").await;
    assert_eq!(
        armed.iter().map(|(d, _)| d.as_str()).collect::<Vec<_>>(),
        ["YSBZX", "ZFYJJ"]
    );
    let all_before = env
        .count_where(
            "SELECT count(*) FROM timers WHERE order_no = $1",
            "PT-REP-CO",
        )
        .await;
    // YSBZX co-replies: its timer goes, ZFYJJ's stays.
    for e in [
        now(
            "order.accepted",
            "PT-REP-CO",
            json!({"department": "YSBZX"}),
        ),
        now(
            "order.co_replied",
            "PT-REP-CO",
            json!({"department": "YSBZX", "reply": "已核查"}),
        ),
    ] {
        let (status, body) = engine.post_event(YSBZX, &e).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    assert_eq!(co_timers(&env, "PT-REP-CO").await, armed[1..]);

    // Lost behind the engine's back, the order's other timers still there: re-armed, with
    // its deadline; nothing for the co-handler that co-replied.
    sqlx::query("DELETE FROM timers WHERE order_no = 'PT-REP-CO' AND level = 'co_overdue'")
        .execute(&env.pool)
        .await
        .unwrap();
    env.run_cli(&["repair"]).await;
    assert_eq!(co_timers(&env, "PT-REP-CO").await, armed[1..]);
    // Every timer lost: all back but YSBZX's.
    sqlx::query("DELETE FROM timers WHERE order_no = 'PT-REP-CO'")
        .execute(&env.pool)
        .await
        .unwrap();
    env.run_cli(&["repair"]).await;
    assert_eq!(co_timers(&env, "PT-REP-CO").await, armed[1..]);
    assert_eq!(
        env.count_where(
            "SELECT count(*) FROM timers WHERE order_no = $1",
            "PT-REP-CO"
        )
        .await,
        all_before - 1
    );
    // A second sweep finds nothing to do.
    let before = env.count("SELECT count(*) FROM timers").await;
    env.run_cli(&["repair"]).await;
    assert_eq!(env.count("SELECT count(*) FROM timers").await, before);
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}
