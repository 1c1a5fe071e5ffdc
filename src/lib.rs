//! The `hotline` binary's library: the process around the engine's crates (settings,
//! the roles of `serve`, the HTTP API, the simulator). Tests drive it in process.

pub mod api;
pub mod bench;
pub mod gauges;
pub mod http;
pub mod reload;
pub mod serve;
pub mod settings;
pub mod simulate;

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
