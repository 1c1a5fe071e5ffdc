//! The one-shot commands: `check-config` and `migrate`.

use crate::support::{TEST_CONFIG, TestEnv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_describes_a_good_file_and_names_the_fault_of_a_bad_one() {
    let env = TestEnv::new().await;
    let out = env.run_cli(&["check-config"]).await;
    let path = env.config_path.display().to_string();
    assert_eq!(
        out.trim(),
        format!("{path}: 6 departments, 2 districts, 7 matters")
    );
    assert_eq!(
        env.run_cli(&["check-config", "--department", "YSBZX"])
            .await
            .trim(),
        "医社保中心"
    );
    let unknown = env
        .run_cli_output(&["check-config", "--department", "NOPE"])
        .await;
    assert_eq!(unknown.status.code(), Some(1), "refused, not crashed");
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no department \"NOPE\""));
    // Called wrongly: the usage, and status 2.
    let usage = env.run_cli_output(&["check-config", "--nope"]).await;
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("Usage: hotline check-config"));

    let bad = TEST_CONFIG.replace("statutory_limit = \"5wd\"", "statutory_limit = \"5 days\"");
    env.write_config(&bad);
    let refused = env.run_cli_output(&["check-config"]).await;
    assert_eq!(refused.status.code(), Some(1), "refused, not crashed");
    let line = bad[..bad.find("5 days").unwrap()].matches('\n').count() + 1;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&format!("{path}:{line}: statutory_limit")),
        "{stderr}"
    );
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_brings_an_empty_database_to_the_schema_and_can_run_again() {
    let env = TestEnv::new().await;
    // The harness migrated it: start again from an empty database.
    sqlx::query("DROP SCHEMA public CASCADE")
        .execute(&env.pool)
        .await
        .unwrap();
    sqlx::query("CREATE SCHEMA public")
        .execute(&env.pool)
        .await
        .unwrap();
    for _ in 0..2 {
        assert_eq!(env.run_cli(&["migrate"]).await.trim(), "migrations applied");
    }
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = 'public' ORDER BY 1",
    )
    .fetch_all(&env.pool)
    .await
    .unwrap();
    for table in [
        "alerts",
        "appointments",
        "dispatches",
        "orders",
        "outbox",
        "timers",
    ] {
        assert!(tables.iter().any(|t| t == table), "{table} in {tables:?}");
    }
    let applied = env
        .count("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .await;
    assert_eq!(applied, hotline_store::MIGRATOR.iter().count() as i64);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_what_is_old_enough_and_nothing_else() {
    let config = format!("{}\n[retention]\ncitizen_data_days = 365\n", TEST_CONFIG);
    let env = TestEnv::with_config(&config).await;
    let engine = env.start_engine().await;
    crate::support::handle(
        &env,
        &[
            crate::support::complaint("PT-RET-OLD", "SC-0101", None, "过期"),
            crate::support::complaint("PT-RET-NEW", "SC-0101", None, "过期"),
        ],
    )
    .await;
    assert!(engine.terminate().await.success());
    // Age some rows by hand: two published outbox rows, keys, a rejected body, a closed
    // order past the citizen-data window.
    for sql in [
        "UPDATE outbox SET created_at = now() - interval '40 days',
                           published_at = now() - interval '40 days'
         WHERE id = (SELECT min(id) FROM outbox)",
        "INSERT INTO outbox (exchange, routing_key, message_id, kind, body, created_at)
         VALUES ('hotline.tasks', 'SCJGJ', 'old-unpublished', 'task', '\\x7b7d',
                 now() - interval '40 days')",
        "UPDATE processed_events SET processed_at = now() - interval '40 days'
         WHERE idempotency_key = (SELECT min(idempotency_key) FROM processed_events)",
        "INSERT INTO rejected_events (reason_code, reason, body, rejected_at)
         VALUES ('not_json', 'not_json: body is not JSON', '\\x00', now() - interval '200 days'),
                ('not_json', 'not_json: body is not JSON', '\\x00', now() - interval '10 days')",
        "UPDATE orders SET state = 'closed', closed_at = now() - interval '400 days'
         WHERE order_no = 'PT-RET-OLD'",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&env.pool)
            .await
            .unwrap();
    }
    let out = env.run_cli(&["retention"]).await;
    assert_eq!(
        out.trim(),
        "deleted 1 outbox message(s), 1 idempotency key(s), 1 rejected event(s); erased the citizen data of 1 order(s) and appointment(s) and 0 attachment(s)"
    );
    assert_eq!(
        env.count("SELECT count(*) FROM outbox").await,
        2,
        "the new one and the unpublished old one"
    );
    assert_eq!(
        env.count("SELECT count(*) FROM outbox WHERE message_id = 'old-unpublished'")
            .await,
        1,
        "nothing unpublished is deleted"
    );
    assert_eq!(env.count("SELECT count(*) FROM processed_events").await, 1);
    assert_eq!(env.count("SELECT count(*) FROM rejected_events").await, 1);
    let citizens: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT order_no, citizen_name, citizen_phone FROM orders ORDER BY order_no",
    )
    .fetch_all(&env.pool)
    .await
    .unwrap();
    assert_eq!(
        citizens,
        vec![
            (
                "PT-RET-NEW".into(),
                Some("测试市民".into()),
                Some("13900000000".into())
            ),
            ("PT-RET-OLD".into(), None, None),
        ]
    );
    // A second sweep finds nothing.
    assert!(
        env.run_cli(&["retention"])
            .await
            .starts_with("deleted 0 outbox message(s), 0")
    );
    env.cleanup().await;
}
