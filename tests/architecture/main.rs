//! The architecture's invariants that a machine can check: every "Architecture invariant:"
//! line of ARCHITECTURE.md that names a dependency or a place in the sources is checked
//! here, from `cargo metadata` (the dependency graph) and the sources git knows.
//! `scripts/check-architecture` runs this test alone; `cargo test` runs it with the rest.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace's dependency graph: for each package, the crates of its normal (non-dev,
/// non-build) build.
struct Graph {
    /// Package name → its direct normal dependencies, by package name.
    direct: BTreeMap<String, BTreeSet<String>>,
}

impl Graph {
    fn load() -> Graph {
        let output = Command::new(env!("CARGO"))
            .args(["metadata", "--format-version", "1"])
            .current_dir(root())
            .output()
            .expect("cargo metadata runs");
        assert!(
            output.status.success(),
            "cargo metadata: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata JSON");
        let name_of: BTreeMap<&str, &str> = metadata["packages"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
            .collect();
        let mut direct = BTreeMap::new();
        for node in metadata["resolve"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let deps = node["deps"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|dep| {
                    dep["dep_kinds"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|kind| kind["kind"].is_null())
                })
                .map(|dep| name_of[dep["pkg"].as_str().unwrap()].to_owned())
                .collect();
            direct.insert(name_of[node["id"].as_str().unwrap()].to_owned(), deps);
        }
        Graph { direct }
    }

    fn direct(&self, package: &str) -> &BTreeSet<String> {
        self.direct
            .get(package)
            .unwrap_or_else(|| panic!("{package} is not in the workspace"))
    }

    /// Every crate `package` builds with, itself excluded.
    fn all(&self, package: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut next: Vec<&str> = self.direct(package).iter().map(String::as_str).collect();
        while let Some(crate_name) = next.pop() {
            if seen.insert(crate_name.to_owned()) {
                next.extend(self.direct(crate_name).iter().map(String::as_str));
            }
        }
        seen
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A check's findings: empty when the invariant holds.
type Findings = Vec<String>;

fn only_direct(graph: &Graph, package: &str, allowed: &[&str]) -> Findings {
    graph
        .direct(package)
        .iter()
        .filter(|dep| !allowed.contains(&dep.as_str()))
        .map(|dep| format!("{package} depends directly on {dep}"))
        .collect()
}

fn no_direct(graph: &Graph, package: &str, forbidden: &[&str]) -> Findings {
    let direct = graph.direct(package);
    forbidden
        .iter()
        .filter(|crate_name| direct.contains(**crate_name))
        .map(|crate_name| format!("{package} depends directly on {crate_name}"))
        .collect()
}

fn none_of(graph: &Graph, package: &str, forbidden: &[&str]) -> Findings {
    let all = graph.all(package);
    forbidden
        .iter()
        .filter(|crate_name| all.contains(**crate_name))
        .map(|crate_name| format!("{package} depends on {crate_name}"))
        .collect()
}

/// The Rust sources git knows (committed or not, ignored files left out).
fn sources() -> Vec<(String, String)> {
    let output = Command::new("git")
        .args(["ls-files", "-co", "--exclude-standard", "*.rs"])
        .current_dir(root())
        .output()
        .expect("git ls-files runs");
    String::from_utf8(output.stdout)
        .expect("UTF-8 paths")
        .lines()
        // This file names what it looks for.
        .filter(|path| !path.starts_with("vendor/") && *path != "tests/architecture/main.rs")
        .filter_map(|path| {
            let text = std::fs::read_to_string(root().join(path)).ok()?;
            Some((path.to_owned(), text))
        })
        .collect()
}

/// Lines containing any of `needles` in files under none of the `allowed` prefixes.
fn outside(sources: &[(String, String)], needles: &[&str], allowed: &[&str]) -> Findings {
    lines_with(sources, needles, |path| {
        !allowed.iter().any(|prefix| path.starts_with(prefix))
    })
}

/// Lines containing any of `needles` in files under `prefix`.
fn within(sources: &[(String, String)], needles: &[&str], prefix: &str) -> Findings {
    lines_with(sources, needles, |path| path.starts_with(prefix))
}

/// Lines containing any of `needles` in the files whose path `looked_at` takes.
fn lines_with(
    sources: &[(String, String)],
    needles: &[&str],
    looked_at: impl Fn(&str) -> bool,
) -> Findings {
    sources
        .iter()
        .filter(|(path, _)| looked_at(path))
        .flat_map(|(path, text)| {
            text.lines()
                .enumerate()
                .filter(|(_, line)| needles.iter().any(|needle| line.contains(needle)))
                .map(move |(i, line)| format!("{path}:{}: {}", i + 1, line.trim()))
        })
        .collect()
}

/// A module that only tests compile (`#[cfg(test)] mod tests;` and its helpers).
fn is_test_module(path: &str) -> bool {
    let name = Path::new(path).file_name().and_then(|n| n.to_str());
    path.starts_with("tests/") || matches!(name, Some("tests.rs" | "test_support.rs"))
}

/// The lines of a source before its first `#[cfg(test)]`: the code it ships.
fn shipped_lines(text: &str) -> usize {
    text.lines()
        .take_while(|line| !line.starts_with("#[cfg(test)]"))
        .count()
}

/// Past this many shipped lines a file says why in ARCHITECTURE.md.
const LONG_FILE: usize = 600;

#[test]
fn the_architecture_holds() {
    let graph = Graph::load();
    let sources = sources();
    let architecture =
        std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let event_literals: Vec<String> = hotline_schema::event::EventType::NAMES
        .iter()
        .map(|name| format!("\"{name}\""))
        .collect();
    let event_literals: Vec<&str> = event_literals.iter().map(String::as_str).collect();
    let binary_only = ["hotline-pages", "hotline-tools"];

    let checks: Vec<(&str, Findings)> = vec![
        (
            "schema depends on the serde family, uuid and chrono only",
            only_direct(
                &graph,
                "hotline-schema",
                &[
                    "serde",
                    "serde_json",
                    "serde_path_to_error",
                    "uuid",
                    "chrono",
                ],
            ),
        ),
        (
            "core knows nothing of PostgreSQL, RabbitMQ, tokio, Prometheus or HTTP",
            none_of(
                &graph,
                "hotline-core",
                &["sqlx", "lapin", "tokio", "prometheus", "axum"],
            ),
        ),
        (
            "store knows nothing of RabbitMQ, HTTP or Prometheus",
            none_of(&graph, "hotline-store", &["lapin", "axum", "prometheus"]),
        ),
        (
            "runtime knows no SQL and no HTTP",
            none_of(&graph, "hotline-runtime", &["sqlx", "axum"]),
        ),
        (
            "dispatcher and workers know no HTTP",
            [
                none_of(&graph, "hotline-dispatcher", &["axum"]),
                none_of(&graph, "hotline-workers", &["axum"]),
            ]
            .concat(),
        ),
        (
            "the HTTP side reads through the store and acts through the dispatcher: no SQL, broker, worker or Prometheus of its own",
            no_direct(
                &graph,
                "hotline-http",
                &["sqlx", "lapin", "hotline-workers", "prometheus"],
            ),
        ),
        (
            "the pages read through the store and act only through the API's submit path: they build on the HTTP side, with no dispatcher, SQL, broker, worker or Prometheus of their own",
            [
                no_direct(
                    &graph,
                    "hotline-pages",
                    &[
                        "hotline-dispatcher",
                        "sqlx",
                        "lapin",
                        "hotline-workers",
                        "prometheus",
                    ],
                ),
                (!graph.direct("hotline-pages").contains("hotline-http"))
                    .then(|| "hotline-pages does not build on hotline-http".to_owned())
                    .into_iter()
                    .collect(),
            ]
            .concat(),
        ),
        (
            "the pages read through the store's reading modules only",
            within(
                &sources,
                &[
                    "hotline_store::batch",
                    "hotline_store::outbox",
                    "hotline_store::timers",
                    "hotline_store::repair",
                    "hotline_store::replay",
                    "hotline_store::retention",
                    "hotline_store::sessions",
                    "hotline_store::tokens",
                    "hotline_store::attachments::record",
                    "hotline_store::attachments::forget",
                    "hotline_store::notes",
                    "hotline_store::begin",
                    "BatchTx",
                ],
                "pages/",
            ),
        ),
        (
            "nothing but the binary depends on the pages or the tools, and nothing but the binary and the pages on the HTTP side",
            graph
                .direct
                .keys()
                .filter(|package| package.as_str() != "hotline")
                .flat_map(|package| {
                    let all = graph.all(package);
                    let mut sides: Vec<&str> = binary_only.to_vec();
                    if package != "hotline-pages" {
                        sides.push("hotline-http");
                    }
                    sides
                        .into_iter()
                        .filter(move |side| all.contains(*side))
                        .map(move |side| format!("{package} depends on {side}"))
                })
                .collect(),
        ),
        (
            "the batch decision is the core's top floor: no other module of the core imports it",
            outside(&sources, &["decide::"], &["core/src/decide/"])
                .into_iter()
                .filter(|finding| finding.starts_with("core/src/"))
                .collect(),
        ),
        (
            "every SQL statement lives in the store (the benchmarks fill scratch databases)",
            outside(
                &sources,
                &["sqlx::query"],
                &["store/", "tools/src/bench/", "tests/"],
            ),
        ),
        (
            "every transaction begins through the cancel-safe hotline_store::begin",
            outside(
                &sources,
                &[".begin()"],
                &["store/src/lib.rs", "tools/src/bench/bare.rs"],
            ),
        ),
        (
            "Prometheus is named in one metrics module",
            outside(&sources, &["prometheus::"], &["runtime/src/metrics.rs"]),
        ),
        (
            "the broker is reached through the runtime, the intake, the relay and the tools",
            outside(
                &sources,
                &["lapin::"],
                &[
                    "runtime/",
                    "dispatcher/src/intake.rs",
                    "workers/src/relay.rs",
                    "tools/",
                    "tests/",
                ],
            ),
        ),
        (
            "events are built on the schema's types: no event type is a string literal outside the schema (the end-to-end tests speak the contract's JSON on purpose)",
            outside(&sources, &event_literals, &["schema/", "tests/"]),
        ),
        (
            "a file of more than 600 shipped lines says why in ARCHITECTURE.md",
            sources
                .iter()
                .filter(|(path, _)| !is_test_module(path))
                .filter(|(path, text)| {
                    shipped_lines(text) > LONG_FILE && !architecture.contains(&format!("`{path}`"))
                })
                .map(|(path, text)| format!("{path}: {} lines", shipped_lines(text)))
                .collect(),
        ),
    ];

    let mut failed = 0;
    for (what, findings) in &checks {
        if findings.is_empty() {
            println!("ok    {what}");
        } else {
            failed += 1;
            println!("FAIL  {what}");
            for finding in findings {
                println!("      {finding}");
            }
        }
    }
    println!(
        "architecture: {} passed, {failed} failed",
        checks.len() - failed
    );
    assert_eq!(failed, 0, "architecture invariants broken (see above)");
}
