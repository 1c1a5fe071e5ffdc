//! The dashboards and the alerting rules, for real: promtool on the rules and the sample
//! scrape config; every Grafana dashboard's JSON for the fields an import needs; then a
//! live run — an engine on the built-in catalog fed by `hotline simulate --lifecycle` (and
//! a few malformed and repeated events), a real Prometheus scraping it every second with
//! `dashboards/prometheus/rules.yml` loaded — and every PromQL expression of every panel,
//! template variable and rule evaluated through Prometheus's HTTP API. Fails naming the
//! panel or rule and its expression when one errors or returns no data.
//!
//! `scripts/check-dashboards` runs this module alone; it needs `prometheus` and `promtool`
//! (`scripts/services --prometheus`). `DASHCHECK_COUNT` sets the cases of a simulated round
//! (400).

use crate::support::{RawMessage, TestEnv, wait_for};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn dashboards() -> Vec<(String, Value)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(repository().join("dashboards"))
        .expect("dashboards/")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("a dashboard");
            let name = path
                .strip_prefix(repository())
                .unwrap()
                .display()
                .to_string();
            let json = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{name}: not valid JSON: {e}"));
            (name, json)
        })
        .collect()
}

/// The variables an expression names: `${name}`, `${name:format}`, `$name`, `[[name]]`.
fn variables_named(expr: &str) -> Vec<String> {
    let word = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find(['$', '[']) {
        let tail = &rest[i..];
        let (name, skip) = if let Some(inner) = tail.strip_prefix("${") {
            let name = word(inner);
            let closed = inner[name.len()..].starts_with(['}', ':']);
            (closed.then_some(name), 2)
        } else if let Some(inner) = tail.strip_prefix("[[") {
            let name = word(inner);
            let closed = inner[name.len()..].starts_with("]]");
            (closed.then_some(name), 2)
        } else if let Some(inner) = tail.strip_prefix('$') {
            (Some(word(inner)), 1)
        } else {
            (None, 1)
        };
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            names.push(name);
        }
        rest = &tail[skip..];
    }
    names
}

/// Every panel of a dashboard, those inside rows included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut all = Vec::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        all.push(panel);
        all.extend(panel["panels"].as_array().into_iter().flatten());
    }
    all
}

fn template_variables(dashboard: &Value) -> BTreeMap<String, &Value> {
    dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| (v["name"].as_str().unwrap_or_default().to_owned(), v))
        .collect()
}

/// What Grafana needs to import a dashboard, and what the live check relies on.
fn lint(name: &str, d: &Value, uids: &mut BTreeMap<String, String>) -> Vec<String> {
    let mut errors = Vec::new();
    let mut err = |message: String| errors.push(format!("{name}: {message}"));
    for key in ["uid", "title", "schemaVersion", "panels", "templating"] {
        if d.get(key).is_none() {
            err(format!("missing top-level `{key}`"));
        }
    }
    if !d["id"].is_null() {
        err("`id` must be null so that an import creates the dashboard".into());
    }
    if d["schemaVersion"].as_i64().is_none_or(|v| v < 36) {
        err("schemaVersion must be an integer >= 36".into());
    }
    let uid = d["uid"].as_str().unwrap_or_default();
    let uid_ok = (1..=40).contains(&uid.len())
        && uid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !uid_ok {
        err(format!("bad uid {uid:?}"));
    } else if let Some(other) = uids.get(uid) {
        err(format!("uid {uid:?} also used by {other}"));
    } else {
        uids.insert(uid.to_owned(), name.to_owned());
    }
    let variables = template_variables(d);
    let datasource = variables.get("datasource");
    if !datasource.is_some_and(|v| v["type"] == "datasource" && v["query"] == "prometheus") {
        err(
            "needs a template variable `datasource` of type datasource with query `prometheus`"
                .into(),
        );
    }
    for (variable, v) in &variables {
        if v["type"] == "query" && v["datasource"]["uid"] != "${datasource}" {
            err(format!(
                "variable {variable}: datasource must be ${{datasource}}"
            ));
        }
    }
    let mut ids = BTreeSet::new();
    for p in panels(d) {
        let title = p["title"].as_str().unwrap_or("?");
        if p.get("id").is_none() || !ids.insert(p["id"].to_string()) {
            err(format!("panel {title:?}: missing or repeated id"));
        }
        if ["h", "w", "x", "y"]
            .iter()
            .any(|k| p["gridPos"].get(k).is_none())
        {
            err(format!("panel {title:?}: incomplete gridPos"));
        }
        if p["type"] == "row" {
            continue;
        }
        if p["datasource"]["uid"] != "${datasource}" {
            err(format!(
                "panel {title:?}: datasource must be ${{datasource}}"
            ));
        }
        let targets: Vec<&Value> = p["targets"].as_array().into_iter().flatten().collect();
        if targets.is_empty() {
            err(format!("panel {title:?}: no targets"));
        }
        let refs: Vec<Option<&str>> = targets.iter().map(|t| t["refId"].as_str()).collect();
        let distinct: BTreeSet<_> = refs.iter().collect();
        if distinct.len() != refs.len() || refs.contains(&None) {
            err(format!("panel {title:?}: refIds missing or repeated"));
        }
        for t in targets {
            let expr = t["expr"].as_str().unwrap_or_default();
            if expr.trim().is_empty() {
                err(format!("panel {title:?} {}: empty expr", t["refId"]));
            }
            for variable in variables_named(expr) {
                if !variable.starts_with("__") && !variables.contains_key(&variable) {
                    err(format!(
                        "panel {title:?}: expr uses undefined variable ${variable}"
                    ));
                }
            }
        }
    }
    errors
}

/// The values Grafana gives its built-in variables, for evaluating a panel's expression.
const BUILTIN: [(&str, &str); 6] = [
    ("__rate_interval", "1m"),
    ("__interval", "1m"),
    ("__range", "5m"),
    ("__range_s", "300"),
    ("__range_ms", "300000"),
    ("__interval_ms", "60000"),
];

/// `expr` with its variables replaced as Grafana would with "All" chosen.
fn substitute(expr: &str, variables: &BTreeMap<String, &Value>) -> Result<String, String> {
    let mut out = expr.to_owned();
    // Longest names first, so that `$__range_s` is not read as `$__range` then `_s`.
    let mut named = variables_named(expr);
    named.sort_by_key(|n| std::cmp::Reverse(n.len()));
    for name in named {
        let value = if let Some((_, v)) = BUILTIN.iter().find(|(n, _)| *n == name) {
            (*v).to_owned()
        } else {
            let v = variables.get(&name).ok_or_else(|| name.clone())?;
            if v["type"] == "query" || v["includeAll"] == true {
                v["allValue"].as_str().unwrap_or(".*").to_owned()
            } else {
                match &v["current"]["value"] {
                    Value::Array(items) => items
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("|"),
                    Value::String(s) => s.clone(),
                    _ => v["query"].as_str().unwrap_or_default().to_owned(),
                }
            }
        };
        for form in [
            format!("${{{name}}}"),
            format!("[[{name}]]"),
            format!("${name}"),
        ] {
            out = out.replace(&form, &value);
        }
        // `${name:format}`
        while let Some(start) = out.find(&format!("${{{name}:")) {
            let end = out[start..].find('}').map_or(out.len(), |e| start + e + 1);
            out.replace_range(start..end, &value);
        }
    }
    Ok(out)
}

/// Splits `expr` at its top-level binary operators among `words` (outside brackets and
/// strings), dropping the operators and their `bool`, `on(…)`, `ignoring(…)` and
/// `group_*(…)` modifiers.
fn split_top(expr: &str, words: &[&str]) -> Vec<String> {
    let bytes = expr.as_bytes();
    let mut parts = Vec::new();
    let (mut depth, mut i, mut start, mut quote) = (0i32, 0usize, 0usize, None::<u8>);
    while i < bytes.len() {
        let c = bytes[i];
        if let Some(q) = quote {
            if c == b'\\' {
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
            }
        } else if matches!(c, b'"' | b'\'' | b'`') {
            quote = Some(c);
        } else if matches!(c, b'(' | b'[' | b'{') {
            depth += 1;
        } else if matches!(c, b')' | b']' | b'}') {
            depth -= 1;
        } else if depth == 0 {
            let rest = &expr[i..];
            let hit = words.iter().find(|w| {
                if w.bytes().all(|b| b.is_ascii_alphabetic()) {
                    let before_ok = i == 0 || {
                        let b = bytes[i - 1];
                        !(b.is_ascii_alphanumeric() || b == b'_' || b == b':')
                    };
                    let after = rest.as_bytes().get(w.len());
                    before_ok
                        && rest.starts_with(**w)
                        && after.is_none_or(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
                } else {
                    rest.starts_with(**w)
                        && !(matches!(**w, "<" | ">") && rest[w.len()..].starts_with('='))
                }
            });
            if let Some(w) = hit {
                parts.push(&expr[start..i]);
                i += w.len();
                start = i;
                continue;
            }
        }
        i += 1;
    }
    parts.push(&expr[start..]);
    parts
        .into_iter()
        .map(|part| {
            let mut p = part.trim();
            if let Some(rest) = p.strip_prefix("bool")
                && !rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            {
                p = rest.trim_start();
            }
            loop {
                let modifier = ["on", "ignoring", "group_left", "group_right"]
                    .iter()
                    .find(|m| {
                        p.strip_prefix(**m)
                            .is_some_and(|rest| rest.trim_start().starts_with('('))
                    });
                let Some(m) = modifier else { break };
                let rest = p[m.len()..].trim_start();
                let close = rest.find(')').map_or(rest.len(), |c| c + 1);
                p = rest[close..].trim_start();
            }
            p.trim().to_owned()
        })
        .collect()
}

/// What an alerting rule compares: the non-literal operands of its top-level
/// `and`/`or`/`unless` and comparison operators. These must return data even when all is
/// quiet.
fn signals(expr: &str) -> Vec<String> {
    split_top(expr, &["unless", "and", "or"])
        .iter()
        .flat_map(|part| split_top(part, &[">=", "<=", "==", "!=", ">", "<"]))
        .filter(|operand| operand.parse::<f64>().is_err())
        .collect()
}

struct Prometheus {
    child: Child,
    base: String,
    http: reqwest::Client,
    _dir: TempDir,
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Prometheus {
    async fn start(engine: &str) -> Prometheus {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = TempDir(std::env::temp_dir().join(format!(
            "hotline-dashcheck-{}",
            uuid::Uuid::new_v4().simple()
        )));
        std::fs::create_dir_all(&dir.0).expect("a directory for Prometheus");
        let rules = repository().join("dashboards/prometheus/rules.yml");
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {}\n\
             scrape_configs:\n  - job_name: hotline\n    static_configs:\n      - targets: [\"{engine}\"]\n",
            rules.display()
        );
        std::fs::write(dir.0.join("prometheus.yml"), config).expect("write prometheus.yml");
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.0.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.0.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("prometheus is missing: scripts/services --prometheus installs it");
        let prometheus = Prometheus {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            _dir: dir,
        };
        let ready = format!("{}/-/ready", prometheus.base);
        let http = prometheus.http.clone();
        wait_for("Prometheus ready", Duration::from_secs(30), || {
            let (http, ready) = (http.clone(), ready.clone());
            async move { matches!(http.get(&ready).send().await, Ok(r) if r.status().is_success()) }
        })
        .await;
        prometheus
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let url =
            reqwest::Url::parse_with_params(&format!("{}{path}", self.base), query).expect("a URL");
        self.http
            .get(url)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .expect("Prometheus answers")
            .json()
            .await
            .expect("Prometheus answers JSON")
    }

    /// An instant query: an error, or how many series it returned and how many of them
    /// hold a usable (non-NaN) value.
    async fn query(&self, expr: &str) -> Result<(usize, usize), String> {
        let r = self.get("/api/v1/query", &[("query", expr)]).await;
        if r["status"] != "success" {
            return Err(format!("{}: {}", r["errorType"], r["error"]));
        }
        let data = &r["data"];
        let values: Vec<&Value> = match data["resultType"].as_str() {
            Some("scalar") => vec![&data["result"][1]],
            Some("vector") => data["result"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| &s["value"][1])
                .collect(),
            other => return Err(format!("unexpected result type {other:?}")),
        };
        let usable = values
            .iter()
            .filter(|v| {
                v.as_str()
                    .and_then(|s| s.parse::<f64>().ok())
                    .is_some_and(|f| !f.is_nan())
            })
            .count();
        Ok((values.len(), usable))
    }

    async fn first_value(&self, expr: &str) -> f64 {
        let r = self.get("/api/v1/query", &[("query", expr)]).await;
        r["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0.0)
    }

    /// Waits until Prometheus holds at least `more` successful scrapes beyond `seen`.
    async fn wait_scrapes(&mut self, seen: &mut f64, more: f64) {
        let want = *seen + more;
        let mut now = 0.0;
        for _ in 0..240 {
            now = self
                .first_value(r#"sum(count_over_time(up{job="hotline"}[10m]))"#)
                .await;
            if now >= want {
                *seen = now;
                return;
            }
            assert!(
                self.child
                    .try_wait()
                    .expect("Prometheus's status")
                    .is_none(),
                "Prometheus exited"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("Prometheus did not scrape the engine ({now} scrapes, wanted {want})");
    }
}

fn promtool(args: &[&str]) {
    let output = std::process::Command::new("promtool")
        .args(args)
        .current_dir(repository())
        .output()
        .expect("promtool is missing: scripts/services --prometheus installs it");
    assert!(
        output.status.success(),
        "promtool {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_dashboards_are_importable_and_their_rules_load() {
    promtool(&["check", "rules", "dashboards/prometheus/rules.yml"]);
    promtool(&["check", "config", "dashboards/prometheus/prometheus.yml"]);
    let mut uids = BTreeMap::new();
    let errors: Vec<String> = dashboards()
        .iter()
        .flat_map(|(name, d)| lint(name, d, &mut uids))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert!(uids.len() >= 3, "the dashboards: {uids:?}");
}

#[test]
fn a_broken_dashboard_is_refused_for_each_fault() {
    let broken = json!({
        "id": 7, "uid": "no spaces allowed", "title": "t", "schemaVersion": 30,
        "templating": {"list": [{"name": "dept", "type": "query", "datasource": {"uid": "x"}}]},
        "panels": [
            {"id": 1, "title": "a", "type": "timeseries", "gridPos": {"h": 1, "w": 1, "x": 0},
             "datasource": {"uid": "${datasource}"},
             "targets": [{"refId": "A", "expr": "up{d=\"$nowhere\"}"}, {"refId": "A", "expr": " "}]},
            {"id": 1, "title": "b", "type": "stat", "gridPos": {"h": 1, "w": 1, "x": 0, "y": 0},
             "datasource": {"uid": "prometheus"}, "targets": []},
        ],
    });
    let errors = lint("broken.json", &broken, &mut BTreeMap::new());
    let faults: Vec<&str> = errors
        .iter()
        .map(|e| e.strip_prefix("broken.json: ").unwrap())
        .collect();
    assert_eq!(
        faults,
        [
            "`id` must be null so that an import creates the dashboard",
            "schemaVersion must be an integer >= 36",
            "bad uid \"no spaces allowed\"",
            "needs a template variable `datasource` of type datasource with query `prometheus`",
            "variable dept: datasource must be ${datasource}",
            "panel \"a\": incomplete gridPos",
            "panel \"a\": refIds missing or repeated",
            "panel \"a\": expr uses undefined variable $nowhere",
            "panel \"a\" \"A\": empty expr",
            "panel \"b\": missing or repeated id",
            "panel \"b\": datasource must be ${datasource}",
            "panel \"b\": no targets",
        ]
    );
}

#[test]
fn expressions_are_split_where_prometheus_would_split_them() {
    assert_eq!(
        signals(r#"(sum(rate(a[5m])) > 0.1) and on(x) b{l="a>b"} > bool 3 unless c"#),
        ["(sum(rate(a[5m])) > 0.1)", r#"b{l="a>b"}"#, "c"]
    );
    assert_eq!(signals("x >= 2 or y_and_z < 1"), ["x", "y_and_z"]);
    assert_eq!(
        variables_named(
            "rate(x{d=~\"$department\", s=\"${state:regex}\"}[$__rate_interval]) [[old]]"
        ),
        ["department", "state", "__rate_interval", "old"]
    );
    let variable = json!({"type": "query"});
    let variables = BTreeMap::from([("department".to_owned(), &variable)]);
    assert_eq!(
        substitute("x{d=~\"$department\"}[$__range_s]", &variables).unwrap(),
        "x{d=~\".*\"}[300]"
    );
}

/// What the live check found: a line per expression, and the failures.
#[derive(Default)]
struct Report {
    passed: usize,
    failures: Vec<String>,
}

impl Report {
    fn row(&mut self, kind: &str, name: String, series: usize, status: &str) {
        println!("{kind:8} {status:7} {series:>4} series  {name}");
        if status == "ok" {
            self.passed += 1;
        }
    }

    fn fail(&mut self, failure: String) {
        self.failures.push(failure);
    }

    /// Evaluates `expr`: an error fails it, and so does no data (no series, or only NaN)
    /// where data is needed.
    async fn check(
        &mut self,
        prometheus: &Prometheus,
        kind: &str,
        name: String,
        expr: &str,
        need_data: bool,
    ) {
        let (status, series) = match prometheus.query(expr).await {
            Err(error) => {
                self.fail(format!("{kind} {name}: {error}\n      {expr}"));
                ("ERROR", 0)
            }
            Ok((0, _)) if need_data => ("NO DATA", 0),
            Ok((n, 0)) if need_data => ("NaN", n),
            Ok((n, _)) => ("ok", n),
        };
        if matches!(status, "NO DATA" | "NaN") {
            self.fail(format!("{kind} {name}: {status}\n      {expr}"));
        }
        self.row(kind, name, series, status);
    }
}

/// The sum of a family's samples in the engine's exposition (every label set).
async fn exported(engine: &crate::support::EngineProcess, family: &str) -> f64 {
    engine
        .metrics()
        .await
        .lines()
        .filter(|line| line.starts_with(family))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn received(engine: &crate::support::EngineProcess) -> f64 {
    exported(engine, "hotline_events_received_total").await
}

async fn alerts_published(engine: &crate::support::EngineProcess) -> f64 {
    exported(engine, "hotline_alert_lag_seconds_count").await
}

/// Malformed and repeated events, so that the reject and duplicate counters have samples:
/// a body that is not JSON, an unknown type, an event for an unknown order, and a valid
/// complaint delivered twice.
fn bad_events(round: u32) -> Vec<RawMessage> {
    let now = hotline_core::calendar::business_time(chrono::Utc::now());
    let no = format!("DC{}{round}", uuid::Uuid::new_v4().simple());
    let no = &no[..20];
    let complaint = json!({
        "event_id": uuid::Uuid::new_v4(), "type": "complaint.received", "occurred_at": now,
        "order_no": no, "kind": "complaint", "channel": "phone", "category": "SC-0101",
        "title": "超市出售过期食品", "content": "检查脚本的投诉",
        "citizen": {"name": "测试", "phone": "13800000000"},
    });
    vec![
        RawMessage::bytes(b"this is not json", None),
        RawMessage::event(&json!({
            "event_id": uuid::Uuid::new_v4(), "type": "order.teleported",
            "occurred_at": now, "order_no": no,
        })),
        RawMessage::event(&json!({
            "event_id": uuid::Uuid::new_v4(), "type": "order.urged", "occurred_at": now,
            "order_no": format!("NO{no}"), "note": "催办",
        })),
        RawMessage::event(&complaint),
        RawMessage::event(&complaint),
    ]
}

/// One round: a simulated day of whole cases and the bad events, until the engine has
/// consumed them all.
async fn feed(env: &TestEnv, engine: &crate::support::EngineProcess, round: u32, count: &str) {
    let before = received(engine).await;
    let seed = round.to_string();
    let out = env
        .run_cli(&[
            "simulate",
            "--lifecycle",
            "--count",
            count,
            "--hours",
            "8",
            "--rate",
            "0",
            "--seed",
            &seed,
        ])
        .await;
    let published: f64 = out
        .lines()
        .filter_map(|line| line.split("published ").nth(1))
        .filter_map(|rest| rest.split(' ').next()?.parse().ok())
        .next_back()
        .unwrap_or_else(|| panic!("how many events did the simulator publish? {out}"));
    let bad = bad_events(round);
    env.publish_raw(&bad).await;
    let want = before + published + bad.len() as f64;
    wait_for(
        "the engine consumed the round",
        Duration::from_secs(60),
        || async { received(engine).await >= want },
    )
    .await;
    eprintln!(
        "round {round}: {published} simulated events and {} malformed or repeated ones consumed",
        bad.len()
    );
}

/// Every metric family the dashboards and rules name.
fn families() -> BTreeSet<String> {
    let mut text = std::fs::read_to_string(repository().join("dashboards/prometheus/rules.yml"))
        .expect("rules.yml");
    for (_, d) in dashboards() {
        text.push_str(&d.to_string());
    }
    let mut found = BTreeSet::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("hotline_") {
        let name: String = rest[i..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .unwrap_or(&name)
            .to_owned();
        found.insert(family);
        rest = &rest[i + name.len().max(1)..];
    }
    found
}

fn missing(families: &BTreeSet<String>, exposition: &str) -> Vec<String> {
    families
        .iter()
        .filter(|family| {
            !exposition.lines().any(|line| {
                ["", "_bucket", "_sum", "_count"].iter().any(|suffix| {
                    line.strip_prefix(&format!("{family}{suffix}"))
                        .is_some_and(|rest| rest.starts_with(['{', ' ']))
                })
            })
        })
        .cloned()
        .collect()
}

#[tokio::test]
async fn every_panel_variable_and_rule_returns_data_from_a_live_prometheus() {
    let config = format!("{}\n", hotline_core::config::DEFAULT_CONFIG_TOML);
    let env = TestEnv::with_config(&config).await;
    let engine = env.start_engine().await;
    let address = engine.base.trim_start_matches("http://").to_owned();
    let mut prometheus = Prometheus::start(&address).await;
    let mut scrapes = 0.0;
    prometheus.wait_scrapes(&mut scrapes, 2.0).await;
    let count = std::env::var("DASHCHECK_COUNT").unwrap_or_else(|_| "400".into());

    // Two rounds, so that every series Prometheus saw after the first increases during the
    // second, and rate() over the short windows is not zero.
    feed(&env, &engine, 1, &count).await;
    let families = families();
    wait_for(
        "the engine exports every family the dashboards use",
        Duration::from_secs(30),
        || async { missing(&families, &engine.metrics().await).is_empty() },
    )
    .await;
    prometheus.wait_scrapes(&mut scrapes, 2.0).await;
    let alerts_before = alerts_published(&engine).await;
    feed(&env, &engine, 2, &count).await;
    // The scheduler raises the second round's alerts (its orders are back-dated, some
    // already late) after the intake committed them.
    wait_for(
        "the second round raised an alert",
        Duration::from_secs(15),
        || async { alerts_published(&engine).await > alerts_before },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    prometheus.wait_scrapes(&mut scrapes, 4.0).await;

    let mut report = Report::default();
    for (_, d) in dashboards() {
        let board = d["uid"].as_str().unwrap_or_default().to_owned();
        let variables = template_variables(&d);
        for (variable, v) in &variables {
            if v["type"] != "query" {
                continue;
            }
            let q = v["definition"]
                .as_str()
                .or(v["query"]["query"].as_str())
                .unwrap_or_default();
            let name = format!("{board} ${variable}");
            let Some((metric, label)) = q
                .trim()
                .strip_prefix("label_values(")
                .and_then(|inner| inner.strip_suffix(')'))
                .and_then(|inner| inner.rsplit_once(','))
            else {
                report.fail(format!(
                    "variable {name}: only label_values(metric, label) is checked: {q}"
                ));
                continue;
            };
            let r = prometheus
                .get(
                    &format!("/api/v1/label/{}/values", label.trim()),
                    &[("match[]", metric.trim())],
                )
                .await;
            let n = r["data"].as_array().map_or(0, Vec::len);
            let ok = r["status"] == "success" && n > 0;
            if !ok {
                report.fail(format!("variable {name}: no values\n      {q}"));
            }
            report.row("variable", name, n, if ok { "ok" } else { "NO DATA" });
        }
        for p in panels(&d) {
            for t in p["targets"].as_array().into_iter().flatten() {
                let name = format!(
                    "{board} / {} [{}]",
                    p["title"].as_str().unwrap_or("?"),
                    t["refId"].as_str().unwrap_or("?")
                );
                let expr = t["expr"].as_str().unwrap_or_default();
                match substitute(expr, &variables) {
                    Ok(expr) => report.check(&prometheus, "panel", name, &expr, true).await,
                    Err(variable) => report.fail(format!(
                        "panel {name}: unknown variable {variable}\n      {expr}"
                    )),
                }
            }
        }
    }

    // The rules as the running Prometheus loaded them: the file was accepted and evaluated.
    let loaded = prometheus.get("/api/v1/rules", &[]).await;
    let groups = loaded["data"]["groups"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if groups.is_empty() {
        report.fail("rules.yml: Prometheus loaded no rule group".into());
    }
    for rule in groups
        .iter()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
    {
        let name = rule["name"].as_str().unwrap_or_default().to_owned();
        let query = rule["query"].as_str().unwrap_or_default().to_owned();
        let kind = rule["type"].as_str().unwrap_or_default().to_owned();
        if rule["health"] != "ok" {
            report.fail(format!(
                "{kind} {name}: health {} {}\n      {query}",
                rule["health"], rule["lastError"]
            ));
        }
        if kind == "recording" {
            report
                .check(&prometheus, "record", name.clone(), &query, true)
                .await;
            report
                .check(
                    &prometheus,
                    "record",
                    format!("{name} (as recorded)"),
                    &name,
                    true,
                )
                .await;
        } else {
            let whole = format!(
                "{name} (whole expr, {})",
                rule["state"].as_str().unwrap_or("?")
            );
            report
                .check(&prometheus, "alert", whole, &query, false)
                .await;
            for signal in signals(&query) {
                report
                    .check(
                        &prometheus,
                        "alert",
                        format!("{name} signal"),
                        &signal,
                        true,
                    )
                    .await;
            }
        }
    }

    println!(
        "dashboards: {} passed, {} failed",
        report.passed,
        report.failures.len()
    );
    assert!(
        report.failures.is_empty(),
        "FAILED:\n  {}",
        report.failures.join("\n  ")
    );
    drop(prometheus);
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}
