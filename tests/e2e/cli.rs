//! The one-shot commands: `check-config` and `migrate`.

use crate::support::{TEST_CONFIG, TestEnv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_describes_a_good_file_and_names_the_fault_of_a_bad_one() {
    let env = TestEnv::new().await;
    let out = env.run_cli(&["check-config"]).await;
    let path = env.config_path.display().to_string();
    assert_eq!(
        out.trim(),
        format!("{path}: 6 departments, 2 districts, 5 matters")
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
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no department \"NOPE\""));

    let bad = TEST_CONFIG.replace("statutory_limit = \"5wd\"", "statutory_limit = \"5 days\"");
    env.write_config(&bad);
    let refused = env.run_cli_output(&["check-config"]).await;
    assert!(!refused.status.success());
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
