//! KPIs: known events in, exact figures out of `/metrics` and `/api/kpis`.

use crate::support::{TestEnv, complaint, event, handle, metric_value, now};
use serde_json::{Value, json};

const SUPERVISOR: &str = "kpi-supervisor-token-0001";
const HANDLER: &str = "kpi-handler-yb-token-0001";

/// The ratings of ten callbacks: 9 satisfied counting "basically satisfied", 8 without;
/// the dissatisfied one says resolved, so it closes and does not reopen.
const RATINGS: [&str; 10] = [
    "very_satisfied",
    "very_satisfied",
    "very_satisfied",
    "very_satisfied",
    "very_satisfied",
    "satisfied",
    "satisfied",
    "satisfied",
    "basically_satisfied",
    "dissatisfied",
];

/// Ten orders at SCJGJ, accepted, replied and rated with [`RATINGS`], plus `extra` events.
async fn rate_ten_orders(env: &TestEnv, extra: Vec<Value>) {
    let complaints: Vec<Value> = (0..10)
        .map(|i| complaint(&format!("PT-KPI-{i}"), "SC-0101", None, "过期食品"))
        .collect();
    handle(env, &complaints).await;
    let mut steps = Vec::new();
    for (i, rating) in RATINGS.iter().enumerate() {
        let no = format!("PT-KPI-{i}");
        steps.push(now("order.accepted", &no, json!({"department": "SCJGJ"})));
        steps.push(now(
            "order.replied",
            &no,
            json!({"department": "SCJGJ", "reply": "已处理", "resolved": true}),
        ));
        steps.push(now(
            "order.feedback",
            &no,
            json!({"rating": rating, "resolved": true}),
        ));
    }
    steps.extend(extra);
    handle(env, &steps).await;
}

/// The departments of a `/api/kpis` answer, by code.
fn departments(kpis: &Value) -> Vec<(String, Value)> {
    kpis["departments"]
        .as_array()
        .unwrap_or_else(|| panic!("departments in {kpis}"))
        .iter()
        .map(|d| (d["department"].as_str().unwrap().to_owned(), d.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_callbacks_and_hall_visits_give_exact_kpis() {
    let env = TestEnv::new().await;
    let tokens = format!("{SUPERVISOR}:supervisor,{HANDLER}:handler:YSBZX");
    let engine = env
        .start_engine_with_env(&[("HOTLINE_API_TOKENS", &tokens)])
        .await;

    // One more order, returned by the department it was sent to.
    rate_ten_orders(&env, vec![complaint("PT-KPI-R", "YB-0101", None, "医保")]).await;
    handle(
        &env,
        &[now(
            "order.returned",
            "PT-KPI-R",
            json!({"department": "YSBZX", "reason": "非本单位"}),
        )],
    )
    .await;

    // Two hall visits with known times at ZX: waits of 10 and 20 minutes, handling of 5
    // and 40 minutes.
    let minutes = chrono::TimeDelta::minutes;
    let slot = hotline_core::calendar::business_time(chrono::Utc::now() - minutes(120));
    let booked = json!({"category": "SP-0101", "service_point": "ZX", "slot_start": slot});
    handle(
        &env,
        &[
            event("appointment.booked", "YY-K1", minutes(600), booked.clone()),
            event("appointment.booked", "YY-K2", minutes(600), booked),
            event(
                "appointment.checked_in",
                "YY-K1",
                minutes(100),
                json!({"service_point": "ZX"}),
            ),
            event(
                "appointment.checked_in",
                "YY-K2",
                minutes(100),
                json!({"service_point": "ZX"}),
            ),
            event("appointment.called", "YY-K1", minutes(90), json!({})),
            event("appointment.called", "YY-K2", minutes(80), json!({})),
            event("appointment.completed", "YY-K1", minutes(85), json!({})),
            event("appointment.completed", "YY-K2", minutes(40), json!({})),
        ],
    )
    .await;

    let text = engine.metrics().await;
    assert_eq!(
        metric_value(&text, "hotline_satisfaction_ratio{department=\"SCJGJ\"}"),
        0.9
    );
    assert_eq!(
        metric_value(
            &text,
            "hotline_feedback_total{department=\"SCJGJ\",rating=\"very_satisfied\"}"
        ),
        5.0
    );
    assert_eq!(
        metric_value(
            &text,
            "hotline_orders_closed_total{department=\"SCJGJ\",on_time=\"true\"}"
        ),
        10.0
    );
    assert_eq!(
        metric_value(
            &text,
            "hotline_waiting_time_seconds_sum{service_point=\"ZX\"}"
        ),
        1800.0
    );
    assert_eq!(
        metric_value(
            &text,
            "hotline_waiting_time_seconds_count{service_point=\"ZX\"}"
        ),
        2.0
    );
    assert_eq!(
        metric_value(
            &text,
            "hotline_handling_time_seconds_sum{service_point=\"ZX\"}"
        ),
        2700.0
    );
    // 5 minutes falls in the 5-minute bucket, 40 minutes above the 30-minute one.
    assert_eq!(
        metric_value(
            &text,
            "hotline_handling_time_seconds_bucket{service_point=\"ZX\",le=\"1800\"}"
        ),
        1.0
    );
    // The returned order waits at the manual desk (nothing else fits), on track.
    assert_eq!(
        metric_value(
            &text,
            "hotline_orders_open{department=\"MANUAL\",sla_state=\"on_track\"}"
        ),
        1.0
    );

    let (_, kpis) = engine.get("/api/kpis", SUPERVISOR).await;
    let all = departments(&kpis);
    let department = |code: &str| {
        all.iter()
            .find(|(d, _)| d == code)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{code} in {kpis}"))
    };
    let sc = department("SCJGJ");
    assert_eq!(sc["rated"], 10);
    assert_eq!(sc["satisfaction_rate"], 0.9);
    assert_eq!(sc["resolution_rate"], 1.0);
    assert_eq!(sc["on_time_rate"], 1.0);
    assert_eq!(sc["response_rate"], 1.0);
    assert_eq!(sc["reopen_rate"], 0.0);
    let yb = department("YSBZX");
    assert_eq!(
        (
            yb["dispatched"].clone(),
            yb["returned"].clone(),
            yb["return_rate"].clone()
        ),
        (json!(1), json!(1), json!(1.0))
    );
    let zx = &kpis["service_points"][0];
    assert_eq!(zx["service_point"], "ZX");
    assert_eq!(zx["avg_waiting_seconds"], 900.0);
    assert_eq!(zx["avg_handling_seconds"], 1350.0);
    assert_eq!(zx["within_30m_share"], 0.5);
    let rule = kpis["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "catalog:YB-0101")
        .unwrap();
    assert_eq!(rule["returned"], 1);

    // A handler sees its own department only.
    let (status, _) = engine.get("/api/kpis?department=SCJGJ", HANDLER).await;
    assert_eq!(status, reqwest::StatusCode::FORBIDDEN);
    let (_, own) = engine.get("/api/kpis", HANDLER).await;
    let seen: Vec<(String, Value)> = departments(&own)
        .into_iter()
        .map(|(d, v)| (d, v["dispatched"].clone()))
        .collect();
    assert_eq!(
        seen,
        [("YSBZX".to_owned(), json!(1))],
        "exactly its own department"
    );
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basically_satisfied_can_be_left_out_and_kpis_filter_by_department_and_period() {
    let config = format!(
        "{}\n[kpi]\nbasically_satisfied_counts = false\n",
        crate::support::TEST_CONFIG
    );
    let env = TestEnv::with_config(&config).await;
    let tokens = format!("{SUPERVISOR}:supervisor");
    let engine = env
        .start_engine_with_env(&[("HOTLINE_API_TOKENS", &tokens)])
        .await;
    rate_ten_orders(&env, vec![complaint("PT-KPI-Y", "YB-0101", None, "医保")]).await;

    // 基本满意 left out: 8 of 10, in the gauge and in the API alike.
    assert_eq!(
        engine
            .metric("hotline_satisfaction_ratio{department=\"SCJGJ\"}")
            .await,
        0.8
    );
    let (_, kpis) = engine.get("/api/kpis", SUPERVISOR).await;
    assert_eq!(kpis["basically_satisfied_counts"], false);
    let all = departments(&kpis);
    let sc = &all.iter().find(|(d, _)| d == "SCJGJ").unwrap().1;
    assert_eq!(
        (sc["satisfied"].clone(), sc["satisfaction_rate"].clone()),
        (json!(8), json!(0.8))
    );
    assert!(all.iter().any(|(d, _)| d == "YSBZX"), "{kpis}");

    // One department.
    let (_, one) = engine.get("/api/kpis?department=YSBZX", SUPERVISOR).await;
    let codes: Vec<String> = departments(&one).into_iter().map(|(d, _)| d).collect();
    assert_eq!(codes, ["YSBZX"]);
    // A period before any of it: nothing counted. A period around it: everything.
    let (_, before) = engine
        .get("/api/kpis?from=2026-01-01&to=2026-01-02", SUPERVISOR)
        .await;
    assert_eq!(before["departments"], json!([]), "{before}");
    assert_eq!(before["from"], "2026-01-01T00:00:00+08:00");
    let from =
        hotline_core::calendar::business_time(chrono::Utc::now() - chrono::TimeDelta::hours(1));
    let (status, around) = engine
        .get(
            &format!("/api/kpis?from={}", from.replace('+', "%2B")),
            SUPERVISOR,
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{around}");
    assert_eq!(departments(&around).len(), 2, "{around}");
    let (status, _) = engine.get("/api/kpis?from=yesterday", SUPERVISOR).await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST);
    let (status, _) = engine
        .get("/api/kpis?from=2026-02-01&to=2026-01-01", SUPERVISOR)
        .await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST);
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}
