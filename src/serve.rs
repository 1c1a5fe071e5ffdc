//! `hotline serve`: runs the chosen roles in one process and stops them cleanly.

use anyhow::Context;
use hotline_core::config::Config;
use hotline_core::rules::Rules;
use hotline_dispatcher::intake::Intake;
use hotline_dispatcher::rules::RulesHandle;
use hotline_dispatcher::submit::Submitter;
use hotline_http as http;
use hotline_runtime::settings::Settings;
use hotline_workers::periodic::Periodic;
use hotline_workers::relay::Relay;
use hotline_workers::scheduler::Scheduler;
use std::str::FromStr;
use std::sync::Arc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// A part of the engine that can run on its own, so roles can scale out across machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Intake,
    Relay,
    Scheduler,
    Http,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Intake, Role::Relay, Role::Scheduler, Role::Http];
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s.trim() {
            "intake" => Ok(Role::Intake),
            "relay" => Ok(Role::Relay),
            "scheduler" => Ok(Role::Scheduler),
            "http" => Ok(Role::Http),
            other => Err(format!(
                "unknown role {other:?} (roles: intake, relay, scheduler, http)"
            )),
        }
    }
}

/// When a role stops, in order: first whatever takes input in (the intake, the HTTP
/// API, reloads), then what makes outbox rows of its own (the scheduler), and the relay
/// last, so that it publishes everything the others committed before the process exits.
#[derive(Clone, Copy)]
enum Stage {
    Input = 0,
    Alerts = 1,
    Publish = 2,
}

/// A started engine.
pub struct Running {
    stages: [(CancellationToken, JoinSet<()>); 3],
}

impl Running {
    fn new() -> Running {
        Running {
            stages: std::array::from_fn(|_| (CancellationToken::new(), JoinSet::new())),
        }
    }

    /// Runs `role` until its stage is stopped.
    fn spawn<F, Fut>(&mut self, stage: Stage, role: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (token, tasks) = &mut self.stages[stage as usize];
        tasks.spawn(role(token.clone()));
    }

    /// Stops the roles stage by stage, each finishing its work in hand first.
    pub async fn stop(mut self) {
        for (token, tasks) in &mut self.stages {
            token.cancel();
            while tasks.join_next().await.is_some() {}
        }
    }

    /// Runs until SIGTERM or SIGINT, then stops cleanly.
    pub async fn until_signalled(self) -> anyhow::Result<()> {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: stopping"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping"),
        }
        self.stop().await;
        Ok(())
    }
}

/// Declares the topology before any role runs, so that once the engine answers `/readyz`
/// an event published to `hotline.events` is kept. A broker that stays away for
/// [`DECLARE_PATIENCE`] does not stop the start: every role declares the topology again
/// when it connects, and `/readyz` reports the broker unreachable meanwhile.
async fn declare_topology(amqp_url: &str, departments: &[String]) {
    let give_up = tokio::time::Instant::now() + DECLARE_PATIENCE;
    loop {
        match hotline_runtime::amqp::declare_at(amqp_url, departments).await {
            Ok(()) => return,
            Err(err) if tokio::time::Instant::now() < give_up => {
                tracing::warn!(error = %err, "cannot declare the AMQP topology yet; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            Err(err) => {
                tracing::error!(error = %err, "starting without the AMQP topology declared");
                return;
            }
        }
    }
}

/// How long before the calendar's last declared day a start warns (and the shipped
/// Prometheus rule alerts): the State Council publishes next year's notice in November.
const CALENDAR_WARNING_DAYS: i64 = 60;

/// Says at start when the calendar declares no days past the next 60 (by the database's
/// clock): later deadlines assume plain weekdays and may move when the notice arrives.
async fn warn_if_the_calendar_ends_soon(
    calendar: &hotline_core::calendar::BusinessCalendar,
    pool: &hotline_store::PgPool,
) -> anyhow::Result<()> {
    let today = hotline_core::calendar::business_date(hotline_store::database_now(pool).await?);
    match calendar.covered_until() {
        Some(last) if (last - today).num_days() >= CALENDAR_WARNING_DAYS => {}
        Some(last) => tracing::warn!(
            covered_until = %last,
            "the calendar declares no day after {last}: import next year's State Council notice (hotline calendar import FILE); deadlines past it are provisional"
        ),
        None => tracing::warn!(
            "the calendar declares no day at all: every deadline is provisional (hotline calendar import FILE)"
        ),
    }
    Ok(())
}

const DECLARE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

/// Applies migrations, declares the topology, then starts `roles`.
pub async fn start(settings: &Settings, config: Config, roles: &[Role]) -> anyhow::Result<Running> {
    let pool = crate::database::migrated(settings, 16).await?;
    let departments = config.department_codes();
    hotline_runtime::metrics::metrics().register_catalog(&departments);
    hotline_runtime::metrics::metrics().observe_calendar(&config.calendar);
    warn_if_the_calendar_ends_soon(&config.calendar, &pool).await?;
    // Everything that can fail is checked before any role starts, so that a fault (a port
    // taken, a bad token) stops the start cleanly instead of leaving roles half-running.
    let attachments =
        hotline_runtime::attachments::AttachmentStore::open(&config.attachments.location)?;
    let http = if roles.contains(&Role::Http) {
        let listener = tokio::net::TcpListener::bind(&settings.http_addr)
            .await
            .with_context(|| format!("cannot listen on {}", settings.http_addr))?;
        let configured = hotline_http::api::tokens::Tokens::from_env(&departments)?;
        let tokens = Arc::new(hotline_http::api::tokens::Registry::new(configured));
        tokens.refresh(&pool).await?;
        if tokens.is_empty() {
            tracing::warn!(
                "no API tokens (HOTLINE_API_TOKENS, HOTLINE_API_TOKENS_FILE, hotline token create): every /api call answers 401 until one is created"
            );
        } else {
            tracing::info!(tokens = %tokens.summary(), "API tokens loaded");
        }
        let probes = match &settings.metrics_addr {
            Some(addr) => Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr} (HOTLINE_METRICS_ADDR)"))?,
            ),
            None => None,
        };
        Some((listener, probes, tokens))
    } else {
        None
    };
    let http_addr = match &http {
        Some((listener, probes, _)) => {
            let addr = listener.local_addr()?;
            // The address actually bound (with port 0 in HOTLINE_HTTP_ADDR, the one the
            // system chose): the line supervisors, scripts and tests read it from.
            tracing::info!(%addr, "HTTP listening");
            if let Some(probes) = probes {
                tracing::info!(addr = %probes.local_addr()?, "metrics and probes listening");
            }
            Some(addr)
        }
        None => None,
    };
    declare_topology(&settings.amqp_url, &departments).await;
    let mut running = Running::new();
    // One submit path for every way events come in: the AMQP intake and `POST /api/events`.
    let rules = RulesHandle::new(Rules::new(&config));
    let submitter = Submitter {
        pool: pool.clone(),
        rules: rules.clone(),
    };
    let reloader = crate::reload::Reloader {
        path: settings.config_path(),
        amqp_url: settings.amqp_url.clone(),
        rules: rules.clone(),
    };
    running.spawn(Stage::Input, |stop| reloader.run(stop));

    if roles.contains(&Role::Intake) {
        for _ in 0..config.intake.consumers {
            let intake = Intake {
                amqp_url: settings.amqp_url.clone(),
                submitter: submitter.clone(),
                settings: config.intake.clone(),
                departments: departments.clone(),
            };
            running.spawn(Stage::Input, |stop| intake.run(stop));
        }
    }
    if roles.contains(&Role::Relay) {
        let relay = Relay::new(settings.amqp_url.clone(), pool.clone(), departments.clone());
        running.spawn(Stage::Publish, |stop| relay.run(stop));
    }
    if roles.contains(&Role::Scheduler) {
        let scheduler = Scheduler::new(pool.clone());
        running.spawn(Stage::Alerts, |stop| scheduler.run(stop));
        let periodic = Periodic::from_config(pool.clone(), &config, attachments.clone());
        running.spawn(Stage::Alerts, |stop| periodic.run(stop));
        // Deadlines follow the calendar: when a reload changes it, one process replays.
        let in_force = rules.clone();
        let replayer = hotline_workers::replay::Replayer {
            pool: pool.clone(),
            rules: move || in_force.current(),
        };
        running.spawn(Stage::Alerts, |stop| replayer.run(stop));
    }
    if let Some((listener, probes, tokens)) = http {
        let streams_stop = tokio_util::sync::CancellationToken::new();
        let refresher = tokens.clone();
        let refresh_pool = pool.clone();
        running.spawn(Stage::Input, |stop| async move {
            refresher.run(refresh_pool, stop).await;
        });
        let limits = Arc::new(http::limits::Limits::new(
            http::limits::TrustedProxies::from_env()?,
        ));
        let forgetting = limits.clone();
        running.spawn(Stage::Input, |stop| async move {
            // Rate-limit state of clients gone quiet is dropped, so that it stays as large
            // as the clients of the last minute.
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => forgetting.forget_idle(),
                }
            }
        });
        let state = http::AppState {
            pool: pool.clone(),
            amqp_url: settings.amqp_url.clone(),
            api: Arc::new(hotline_http::api::Api::new(
                pool.clone(),
                submitter.clone(),
                tokens,
                config.intake.max_body_bytes,
                config.kpi.clone(),
                streams_stop.clone(),
                limits.clone(),
                hotline_http::api::attachments::Attachments {
                    settings: config.attachments.clone(),
                    store: attachments.clone(),
                },
            )),
            kpi: config.kpi.clone(),
        };
        let pages = hotline_pages::routes(state.api.clone());
        let api = http::router(state.clone(), probes.is_none(), pages);
        running.spawn(Stage::Input, |stop| async move {
            // Streams end as soon as the stop comes, or the graceful shutdown would wait for
            // clients that never hang up.
            let stopping = stop.clone();
            tokio::spawn(async move {
                stopping.cancelled().await;
                streams_stop.cancel();
            });
            if let Err(err) = http::serve(listener, api, stop).await {
                tracing::error!(error = %err, "HTTP server failed");
            }
        });
        if let Some(probes) = probes {
            let router = http::server::probes_only(http::probes(state), limits);
            running.spawn(Stage::Input, |stop| async move {
                if let Err(err) = http::serve(probes, router, stop).await {
                    tracing::error!(error = %err, "metrics listener failed");
                }
            });
        }
    }
    tracing::info!(?roles, ?http_addr, config = %config.source, "engine started");
    Ok(running)
}
