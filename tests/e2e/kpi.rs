//! KPIs: known events in, exact figures out of `/metrics` and `/api/kpis`.

use crate::support::{TestEnv, complaint, event, handle, metric_value, now};
use serde_json::{Value, json};

const SUPERVISOR: &str = "kpi-supervisor-token-0001";
const HANDLER: &str = "kpi-handler-yb-token-0001";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_callbacks_and_hall_visits_give_exact_kpis() {
    let env = TestEnv::new().await;
    let tokens = format!("{SUPERVISOR}:supervisor,{HANDLER}:handler:YSBZX");
    let engine = env
        .start_engine_with_env(&[("HOTLINE_API_TOKENS", &tokens)])
        .await;

    // Ten orders at SCJGJ, accepted, replied and rated: 9 satisfied (counting "basically
    // satisfied", the default), 1 dissatisfied but resolved (closed, not reopened).
    let ratings = [
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
    let complaints: Vec<Value> = (0..10)
        .map(|i| complaint(&format!("PT-KPI-{i}"), "SC-0101", None, "过期食品"))
        .collect();
    handle(&env, &complaints).await;
    let mut steps = Vec::new();
    for (i, rating) in ratings.iter().enumerate() {
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
    // One more order, returned by the department it was sent to.
    steps.push(complaint("PT-KPI-R", "YB-0101", None, "医保"));
    handle(&env, &steps).await;
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

    let http = reqwest::Client::new();
    let kpis: Value = http
        .get(format!("{}/api/kpis", engine.base))
        .bearer_auth(SUPERVISOR)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let department = |code: &str| {
        kpis["departments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["department"] == code)
            .cloned()
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
    let own = http
        .get(format!("{}/api/kpis?department=SCJGJ", engine.base))
        .bearer_auth(HANDLER)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), reqwest::StatusCode::FORBIDDEN);
    let own: Value = http
        .get(format!("{}/api/kpis", engine.base))
        .bearer_auth(HANDLER)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        own["departments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["department"] == "YSBZX")
    );
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}
