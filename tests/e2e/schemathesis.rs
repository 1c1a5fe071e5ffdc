//! An independent API fuzzer against a live engine: Schemathesis (pinned, installed by
//! `scripts/services --schemathesis`) reads `GET /api/openapi.json` and sends what it
//! generates from it, valid and invalid, as each role, with every check it has
//! (`--checks all`: no 5xx, statuses, content types, headers and bodies as documented,
//! invalid input refused, valid input accepted, authentication not ignored). Any finding
//! fails the test. `tests/schemathesis/schemathesis.toml` and `hooks.py` hold the few
//! exceptions, each with the reason the engine is right there.

use crate::support::{EngineProcess, TestEnv};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Cases per operation and phase, and the seed: the same cases every run.
const EXAMPLES: &str = "60";
const SEED: &str = "20261207";

/// The roles the fuzzer asks as, with their tokens.
const CALLERS: [(&str, &str); 3] = [
    ("operator", "op-fuzz-token-0123456789"),
    ("handler", "sc-fuzz-token-0123456789"),
    ("supervisor", "sv-fuzz-token-0123456789"),
];

/// The schemathesis command: `HOTLINE_SCHEMATHESIS`, else where scripts/services puts it.
fn schemathesis() -> PathBuf {
    std::env::var_os("HOTLINE_SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/hotline-tools/schemathesis/bin/schemathesis"))
}

async fn start(env: &TestEnv) -> EngineProcess {
    let tokens = format!(
        "{}:operator,{}:handler:SCJGJ,{}:supervisor",
        CALLERS[0].1, CALLERS[1].1, CALLERS[2].1
    );
    env.start_engine_with_env(&[("HOTLINE_API_TOKENS", &tokens)])
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_as_any_role() {
    let command = schemathesis();
    assert!(
        command.exists(),
        "{} is missing: run scripts/services --schemathesis",
        command.display()
    );
    let env = TestEnv::new().await;
    let engine = start(&env).await;
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis");
    let mut findings = Vec::new();
    for (role, token) in CALLERS {
        let started = Instant::now();
        let output = tokio::process::Command::new(&command)
            .current_dir(&config)
            .args([
                "--config-file",
                "schemathesis.toml",
                "run",
                &format!("{}/api/openapi.json", engine.base),
                "--url",
                &engine.base,
                "--header",
                &format!("Authorization: Bearer {token}"),
                "--checks",
                "all",
                "--max-examples",
                EXAMPLES,
                "--seed",
                SEED,
                // One worker: two threads compiling hypothesis's strategies at once have
                // crashed CPython 3.11's AST compiler (a runtime error, not a finding).
                "--workers",
                "1",
                "--no-color",
            ])
            .output()
            .await
            .expect("schemathesis runs");
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        let summary = text
            .lines()
            .rev()
            .find(|line| line.starts_with('='))
            .unwrap_or_default()
            .to_owned();
        eprintln!(
            "schemathesis as {role}: {summary} ({} s)",
            started.elapsed().as_secs()
        );
        if !output.status.success() {
            findings.push(format!("as {role}:\n{text}"));
        }
    }
    // The fuzzer's traffic stopped no role and left the engine ready.
    let (status, _) = engine.request("/readyz", None).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert!(findings.is_empty(), "{}", findings.join("\n\n"));
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}
