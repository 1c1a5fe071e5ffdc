//! Test support: each test gets its own RabbitMQ virtual host and its own PostgreSQL
//! database, so tests run in parallel against the real services without seeing each other.

use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::future::Future;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};

pub const MANAGEMENT: &str = "http://127.0.0.1:15672/api";
pub const ADMIN_DATABASE_URL: &str = "postgres://hotline:hotline@127.0.0.1:5432/hotline";

/// The shared test catalog, whose routing outcomes the tests know.
pub use hotline_core::config::TEST_CATALOG as TEST_CONFIG;

/// Cron schedules that fire in 2099 only.
pub const QUIET_SCHEDULER: &str = "[scheduler]\ndigest_cron = \"0 0 0 1 1 * 2099\"\nrepair_cron = \"0 0 0 1 1 * 2099\"\nretention_cron = \"0 0 0 1 1 * 2099\"\n";

/// A message as a front end would publish it, possibly malformed.
#[derive(Clone)]
pub struct RawMessage {
    pub body: Vec<u8>,
    pub routing_key: String,
    pub message_id: Option<String>,
}

impl RawMessage {
    /// An event as JSON, routed by its `type`, with `message_id` = its `event_id`.
    pub fn event(event: &Value) -> RawMessage {
        RawMessage {
            body: serde_json::to_vec(event).unwrap(),
            routing_key: event["type"].as_str().unwrap_or("unknown").to_owned(),
            message_id: event["event_id"].as_str().map(str::to_owned),
        }
    }

    pub fn bytes(body: &[u8], message_id: Option<&str>) -> RawMessage {
        RawMessage {
            body: body.to_vec(),
            routing_key: "complaint.received".into(),
            message_id: message_id.map(str::to_owned),
        }
    }
}

pub struct TestEnv {
    pub id: String,
    pub amqp_url: String,
    pub database: String,
    pub database_url: String,
    pub pool: PgPool,
    pub config_path: PathBuf,
    http: reqwest::Client,
}

impl TestEnv {
    pub async fn new() -> TestEnv {
        TestEnv::with_config(TEST_CONFIG).await
    }

    /// An environment whose engines run `config`. Unless it sets `[scheduler]`, the
    /// engines' cron jobs (the digest, the repair sweep) never fire during a test, so that
    /// nothing but the test adds to the queues and counters it reads.
    pub async fn with_config(config: &str) -> TestEnv {
        let config = if config.contains("[scheduler]") {
            config.to_owned()
        } else {
            format!("{config}\n{QUIET_SCHEDULER}")
        };
        let config = config.as_str();
        let id = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let http = reqwest::Client::new();
        let vhost = format!("hotline-{id}");
        http.put(format!("{MANAGEMENT}/vhosts/{vhost}"))
            .basic_auth("guest", Some("guest"))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("create vhost (is the management plugin on?)");
        http.put(format!("{MANAGEMENT}/permissions/{vhost}/guest"))
            .basic_auth("guest", Some("guest"))
            .json(&serde_json::json!({"configure": ".*", "write": ".*", "read": ".*"}))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("grant vhost permissions");

        let database = format!("hotline_{id}");
        let admin = PgPool::connect(ADMIN_DATABASE_URL)
            .await
            .expect("admin database");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
            .execute(&admin)
            .await
            .expect("create test database");
        admin.close().await;
        let database_url = format!("postgres://hotline:hotline@127.0.0.1:5432/{database}");
        let pool = PgPool::connect(&database_url).await.expect("test database");
        hotline_store::MIGRATOR
            .run(&pool)
            .await
            .expect("migrations");

        // A directory of its own: the engine also reads the `calendar.d` beside the file.
        let config_dir = std::env::temp_dir().join(format!("hotline-{id}"));
        std::fs::create_dir_all(&config_dir).expect("create the test config directory");
        let config_path = config_dir.join("hotline.toml");
        std::fs::write(&config_path, config).expect("write test config");
        TestEnv {
            amqp_url: format!("amqp://guest:guest@127.0.0.1:5672/{vhost}"),
            id,
            database,
            database_url,
            pool,
            config_path,
            http,
        }
    }

    /// Makes the database's clock lie: from now on `now()` in this database (what every
    /// engine decision reads) is `at`, and keeps running from there. A shadowing
    /// `public.now()` reads a shift from `test_clock`, and the database's search path puts
    /// `public` before `pg_catalog`; connections opened after this see it (the engine's).
    /// Call [`TestEnv::set_clock`] to jump.
    pub async fn make_clock_lie(&mut self, at: chrono::DateTime<chrono::Utc>) {
        for statement in [
            "CREATE TABLE test_clock (shift interval NOT NULL)".to_owned(),
            "INSERT INTO test_clock VALUES (interval '0')".to_owned(),
            "CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE sql STABLE AS
             'SELECT pg_catalog.now() + (SELECT shift FROM public.test_clock)'"
                .to_owned(),
            format!(
                "ALTER DATABASE {} SET search_path = public, pg_catalog",
                self.database
            ),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&self.pool)
                .await
                .expect("make the clock lie");
        }
        self.pool.close().await;
        self.pool = PgPool::connect(&self.database_url)
            .await
            .expect("test database");
        self.set_clock(at).await;
    }

    /// Sets the lying clock (see [`TestEnv::make_clock_lie`]) to `at`.
    pub async fn set_clock(&self, at: chrono::DateTime<chrono::Utc>) {
        sqlx::query("UPDATE test_clock SET shift = $1 - pg_catalog.now()")
            .bind(at)
            .execute(&self.pool)
            .await
            .expect("set the clock");
        let seen: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT now()")
            .fetch_one(&self.pool)
            .await
            .unwrap();
        assert!(
            (seen - at).num_seconds().abs() < 5,
            "the clock reads {seen}, not {at}"
        );
    }

    /// Removes the virtual host and the database (only when the test passed, so that a
    /// failed test leaves its evidence behind).
    pub async fn cleanup(self) {
        self.pool.close().await;
        let _ = self
            .http
            .delete(format!("{MANAGEMENT}/vhosts/hotline-{}", self.id))
            .basic_auth("guest", Some("guest"))
            .send()
            .await;
        if let Ok(admin) = PgPool::connect(ADMIN_DATABASE_URL).await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.database
            )))
            .execute(&admin)
            .await;
        }
        if let Some(dir) = self.config_path.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// Starts `hotline serve` as a real process and waits until it is ready.
    pub async fn start_engine(&self) -> EngineProcess {
        let mut engine = self.spawn_engine(&["serve"]);
        engine.wait_ready().await;
        engine
    }

    pub fn spawn_engine(&self, args: &[&str]) -> EngineProcess {
        self.spawn_engine_with_env(args, &[])
    }

    /// Runs a `hotline` command to completion against this environment; its stdout.
    pub async fn run_cli(&self, args: &[&str]) -> String {
        let output = self.run_cli_output(args).await;
        assert!(
            output.status.success(),
            "hotline {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("UTF-8 output")
    }

    /// Runs a `hotline` command to completion, whatever its exit status.
    pub async fn run_cli_output(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_hotline"))
            .args(args)
            .env("HOTLINE_AMQP_URL", &self.amqp_url)
            .env("HOTLINE_DATABASE_URL", &self.database_url)
            .env("HOTLINE_CONFIG", &self.config_path)
            .current_dir(self.config_path.parent().expect("the test's directory"))
            .output()
            .await
            .expect("run hotline")
    }

    /// Starts `hotline serve --roles <roles>` and waits until it has started them (with
    /// the `http` role, until `/readyz` answers).
    pub async fn start_roles(&self, roles: &str) -> EngineProcess {
        let mut engine = self.spawn_engine(&["serve", "--roles", roles]);
        if roles.split(',').any(|r| r == "http") {
            engine.wait_ready().await;
        } else {
            let log = engine.log.clone();
            wait_for("the engine started", Duration::from_secs(60), || {
                let started = log.lock().unwrap().contains("engine started");
                async move { started }
            })
            .await;
        }
        engine
    }

    /// Writes the engine's configuration file (read at the next start or reload).
    pub fn write_config(&self, config: &str) {
        std::fs::write(&self.config_path, config).expect("write the configuration");
    }

    /// Starts `hotline serve` with extra environment variables and waits until it is ready.
    pub async fn start_engine_with_env(&self, env: &[(&str, &str)]) -> EngineProcess {
        let mut engine = self.spawn_engine_with_env(&["serve"], env);
        engine.wait_ready().await;
        engine
    }

    /// Like [`TestEnv::spawn_engine`], with extra environment variables (e.g. API tokens).
    /// The engine binds port 0 (the system picks a free one, so parallel tests never
    /// collide) and logs the address it bound, which [`EngineProcess::wait_ready`] reads.
    pub fn spawn_engine_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> EngineProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hotline"))
            .args(args)
            .env("HOTLINE_AMQP_URL", &self.amqp_url)
            .env("HOTLINE_DATABASE_URL", &self.database_url)
            .env("HOTLINE_HTTP_ADDR", "127.0.0.1:0")
            .env("HOTLINE_CONFIG", &self.config_path)
            .env("RUST_LOG", "info")
            // The test's own directory, removed with it: the default attachments'
            // directory (relative) lands there.
            .current_dir(self.config_path.parent().expect("the test's directory"))
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn hotline");
        // Keep the engine's log in the test output (shown for failing tests).
        let stderr = child.stderr.take().expect("piped stderr");
        let tag = self.id.clone();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = log.clone();
        let log_read = tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("[engine {tag}] {line}");
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        EngineProcess {
            child,
            base: String::new(),
            http: self.http.clone(),
            log,
            log_read,
        }
    }

    pub async fn channel(&self) -> (Connection, Channel) {
        let connection = Connection::connect(&self.amqp_url, ConnectionProperties::default())
            .await
            .expect("connect to the test vhost");
        let channel = connection.create_channel().await.expect("channel");
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("confirms");
        (connection, channel)
    }

    /// Declares the topology (as the engine would) so that events published before the
    /// engine starts are kept.
    pub async fn declare_topology(&self) {
        let (connection, channel) = self.channel().await;
        let departments = hotline_core::config::Config::test_catalog().department_codes();
        hotline_runtime::amqp::declare(&channel, &departments)
            .await
            .expect("declare topology");
        connection.close(200, "done".into()).await.ok();
    }

    /// Publishes events to `hotline.events` (routing key = their type), confirmed.
    pub async fn publish(&self, events: &[Value]) {
        let raw: Vec<RawMessage> = events.iter().map(RawMessage::event).collect();
        self.publish_raw(&raw).await;
    }

    /// Publishes messages as they are, confirmed.
    pub async fn publish_raw(&self, messages: &[RawMessage]) {
        let (connection, channel) = self.channel().await;
        let mut confirms = Vec::new();
        for message in messages {
            let mut properties = BasicProperties::default().with_delivery_mode(2);
            if let Some(id) = &message.message_id {
                properties = properties.with_message_id(id.as_str().into());
            }
            confirms.push(
                channel
                    .basic_publish(
                        "hotline.events".into(),
                        message.routing_key.as_str().into(),
                        BasicPublishOptions::default(),
                        &message.body,
                        properties,
                    )
                    .await
                    .expect("publish"),
            );
        }
        for confirm in confirms {
            assert!(confirm.await.expect("confirm").is_ack());
        }
        connection.close(200, "done".into()).await.ok();
    }

    /// Takes every message currently in `queue`.
    pub async fn drain(&self, queue: &str) -> Vec<lapin::message::BasicGetMessage> {
        let (connection, channel) = self.channel().await;
        let mut messages = Vec::new();
        while let Some(message) = channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get")
        {
            messages.push(message);
        }
        connection.close(200, "done".into()).await.ok();
        messages
    }

    pub async fn queue_len(&self, queue: &str) -> u32 {
        let (connection, channel) = self.channel().await;
        let declared = channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await;
        connection.close(200, "done".into()).await.ok();
        // A queue that was never declared is a failure, not an empty queue: an `== 0`
        // check must not pass because the engine forgot to declare it.
        match declared {
            Ok(q) => q.message_count(),
            Err(e) => panic!("queue {queue} does not exist: {e}"),
        }
    }

    /// A count with one text parameter (`$1`).
    pub async fn count_where(&self, sql: &'static str, param: &str) -> i64 {
        sqlx::query_scalar(sql)
            .bind(param)
            .fetch_one(&self.pool)
            .await
            .expect(sql)
    }

    pub async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.pool)
            .await
            .expect(sql)
    }
}

/// A running `hotline serve` process.
pub struct EngineProcess {
    pub child: Child,
    pub base: String,
    http: reqwest::Client,
    log: std::sync::Arc<std::sync::Mutex<String>>,
    /// Reads the engine's stderr into `log` until the process closes it.
    log_read: tokio::task::JoinHandle<()>,
}

impl EngineProcess {
    /// Waits (up to `patience`) for the engine to exit by itself: its status and its whole
    /// log, read to the end (the log reader may lag behind the exit).
    pub async fn exit(mut self, patience: Duration) -> (std::process::ExitStatus, String) {
        let status = tokio::time::timeout(patience, self.child.wait())
            .await
            .expect("the engine exits")
            .expect("exit status");
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.log_read).await;
        (status, self.log())
    }

    /// Waits for the engine to say where it listens, then for `/readyz` to answer 200.
    pub async fn wait_ready(&mut self) {
        let log = self.log.clone();
        wait_for("the engine's HTTP address", Duration::from_secs(60), || {
            let found = listening_addr(&log.lock().unwrap()).is_some();
            async move { found }
        })
        .await;
        let addr = listening_addr(&self.log()).expect("an address");
        self.base = format!("http://{addr}");
        let url = format!("{}/readyz", self.base);
        let http = self.http.clone();
        wait_for("engine ready", Duration::from_secs(60), || {
            let http = http.clone();
            let url = url.clone();
            async move { matches!(http.get(&url).send().await, Ok(r) if r.status().is_success()) }
        })
        .await;
    }

    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics body")
    }

    /// `GET path` with a bearer token: the status and the JSON body (`Null` if none).
    pub async fn get(&self, path: &str, token: &str) -> (reqwest::StatusCode, Value) {
        self.request(path, Some(token)).await
    }

    /// `GET path` without a token: the status and the JSON body (`Null` if none).
    pub async fn get_anonymous(&self, path: &str) -> (reqwest::StatusCode, Value) {
        self.request(path, None).await
    }

    /// `GET path`, with a bearer token if given: the status and the JSON body (`Null` if
    /// none).
    pub async fn request(&self, path: &str, token: Option<&str>) -> (reqwest::StatusCode, Value) {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `POST /api/events` of `body` as JSON with a bearer token (and an `Idempotency-Key`
    /// if given): the status and the JSON body (`Null` if none).
    pub async fn post_bytes(
        &self,
        token: &str,
        body: Vec<u8>,
        idempotency_key: Option<&str>,
    ) -> (reqwest::StatusCode, Value) {
        let mut request = self
            .http
            .post(format!("{}/api/events", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.expect("POST /api/events");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `POST /api/events` of one event: the status and the JSON body.
    /// `POST` of `body` as JSON to `path` with a bearer token: the status and the JSON body
    /// (`Null` if none).
    pub async fn post_json(
        &self,
        token: &str,
        path: &str,
        body: &Value,
    ) -> (reqwest::StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn post_event(&self, token: &str, event: &Value) -> (reqwest::StatusCode, Value) {
        self.post_bytes(token, serde_json::to_vec(event).expect("JSON"), None)
            .await
    }

    /// The value of one sample, e.g. `hotline_events_rejected_total{reason="not_json"}`.
    pub async fn metric(&self, sample: &str) -> f64 {
        metric_value(&self.metrics().await, sample)
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGTERM, then waits for the exit status.
    pub async fn terminate(self) -> std::process::ExitStatus {
        self.stop_with(15).await
    }

    /// SIGINT (Ctrl-C), then waits for the exit status.
    pub async fn interrupt(self) -> std::process::ExitStatus {
        self.stop_with(2).await
    }

    async fn stop_with(mut self, signal: i32) -> std::process::ExitStatus {
        let pid = self.child.id().expect("running") as i32;
        // SAFETY: sending a signal to our own child process.
        unsafe { libc_kill(pid, signal) };
        tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("engine stops within a minute of the signal")
            .expect("exit status")
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGHUP: reload the configuration.
    pub fn hangup(&self) {
        let pid = self.child.id().expect("running") as i32;
        // SAFETY: sending a signal to our own child process.
        unsafe { libc_kill(pid, 1) };
    }

    /// SIGKILL: the crash case.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("kill");
    }
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, signal: i32) -> i32;
}

/// The value of one sample of a Prometheus text exposition. A sample that is not there is
/// a failure, never a zero: the engine exports every series of a closed label set from its
/// start, so an absent one means the metric is missing.
pub fn metric_value(text: &str, sample: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            line.strip_prefix(sample)
                .and_then(|rest| rest.strip_prefix(' '))
                .map(|v| v.trim().parse::<f64>().expect("numeric sample"))
        })
        .unwrap_or_else(|| panic!("no sample {sample} in the exposition"))
}

/// The address in the engine's `HTTP listening addr=…` log line.
fn listening_addr(log: &str) -> Option<String> {
    log.lines()
        .filter(|line| line.contains("HTTP listening"))
        .find_map(|line| line.split("addr=").nth(1))
        .map(|rest| {
            rest.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned()
        })
}

/// Polls `check` until it holds; panics after `limit` (a liveness bound, not a timing
/// assertion: it is generous on purpose).
pub async fn wait_for<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return;
        }
        assert!(started.elapsed() < limit, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A `complaint.received` event with the given fields.
pub fn complaint(order_no: &str, category: &str, district: Option<&str>, title: &str) -> Value {
    serde_json::json!({
        "event_id": uuid::Uuid::new_v4(),
        "type": "complaint.received",
        "occurred_at": hotline_core::calendar::business_time(chrono::Utc::now()),
        "order_no": order_no,
        "kind": "complaint",
        "channel": "phone",
        "category": category,
        "district": district,
        // Unique per order, so that only tests that mean to report a duplicate do.
        "address": district.map(|d| format!("{d}大道{order_no}号")),
        "title": title,
        "content": "市民来电反映情况,请核实处理。",
        "citizen": {"name": "测试市民", "phone": "13900000000"},
    })
}

/// A string header of a message taken from a queue.
pub fn header(message: &lapin::message::BasicGetMessage, name: &str) -> Option<String> {
    let headers = message.delivery.properties.headers().as_ref()?;
    match headers.inner().get(name) {
        Some(lapin::types::AMQPValue::LongString(s)) => Some(s.to_string()),
        _ => None,
    }
}

/// The `x-hotline-reason` header of a dead-lettered message.
pub fn reason(message: &lapin::message::BasicGetMessage) -> String {
    header(message, "x-hotline-reason").expect("x-hotline-reason header")
}

/// Today's date in business time (Asia/Shanghai).
pub fn business_today() -> chrono::NaiveDate {
    chrono::Utc::now()
        .with_timezone(&hotline_core::calendar::BUSINESS_TZ)
        .date_naive()
}

/// An event on an existing order, happening now (or `ago` before now).
pub fn event(event_type: &str, order_no: &str, ago: chrono::TimeDelta, fields: Value) -> Value {
    let at = chrono::Utc::now() - ago;
    let mut v = json!({
        "event_id": uuid::Uuid::new_v4(),
        "type": event_type,
        "occurred_at": hotline_core::calendar::business_time(at),
        "order_no": order_no,
    });
    for (k, val) in fields.as_object().unwrap() {
        v[k] = val.clone();
    }
    v
}

pub fn now(event_type: &str, order_no: &str, fields: Value) -> Value {
    event(event_type, order_no, chrono::TimeDelta::zero(), fields)
}

/// Publishes `events` and waits until the engine has handled all of them.
pub async fn handle(env: &TestEnv, events: &[Value]) {
    let before = env.count("SELECT count(*) FROM processed_events").await;
    env.publish(events).await;
    let want = before + events.len() as i64;
    wait_for("events handled", Duration::from_secs(60), || async {
        env.count("SELECT count(*) FROM processed_events").await >= want
    })
    .await;
    // The batch that took them has committed; let the relay publish what it wrote.
    wait_for("outbox drained", Duration::from_secs(60), || async {
        env.count("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .await
            == 0
    })
    .await;
}
