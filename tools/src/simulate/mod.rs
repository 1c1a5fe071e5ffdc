//! `hotline simulate`: realistic synthetic traffic over AMQP.
//!
//! The generator is pure and seeded (same seed, same traffic); the publisher sends with
//! publisher confirms, up to [`MAX_UNCONFIRMED`] in flight, paced to the requested rate.

use anyhow::Context;
use chrono::{DateTime, Utc};
use hotline_core::config::Config;
use hotline_core::routing::Router;
use hotline_core::sla::SlaClock;
use hotline_runtime::amqp::ConfirmWindow;
use hotline_schema::event::InboundEvent;
use hotline_schema::topology;
use indicatif::{ProgressBar, ProgressStyle};
use lapin::options::ConfirmSelectOptions;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use rand::Rng;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Unconfirmed publishes allowed in flight (the measured sweet spot on these machines).
pub const MAX_UNCONFIRMED: usize = 1024;

mod generator;

pub use generator::Generator;

/// What to simulate.
#[derive(Debug, Clone, Copy)]
pub enum Plan {
    /// `count` new complaints, happening now.
    Complaints { count: u64 },
    /// `cases` whole cases (complaints with their lifecycles, and appointments through the
    /// service hall) that started over the `hours` up to `until` (default: now). With
    /// `until` given, a seed makes the same events whenever it runs.
    Day {
        cases: u64,
        hours: u32,
        until: Option<DateTime<Utc>>,
    },
}

impl Plan {
    /// Every event of the plan, in the order they happened.
    pub fn events(self, config: &Config, seed: u64) -> anyhow::Result<Vec<InboundEvent>> {
        let mut generator = Generator::new(config, seed)?;
        let now = Utc::now();
        Ok(match self {
            Plan::Complaints { count } => (0..count).map(|_| generator.complaint(now)).collect(),
            Plan::Day {
                cases,
                hours,
                until,
            } => {
                let now = until.unwrap_or(now);
                let router = Router::new(config);
                let clock = SlaClock::from_config(config);
                let span = chrono::TimeDelta::hours(i64::from(hours.max(1)));
                let mut events = Vec::new();
                for i in 0..cases {
                    let start = now - span + span * (i as i32) / (cases.max(1) as i32);
                    if generator.rng.random_bool(0.25) {
                        events.extend(generator.appointment_life(start, now));
                    } else {
                        events.extend(generator.complaint_life(&router, &clock, start, now));
                    }
                }
                // The sort is stable, so one case's events keep their order even within the
                // same second.
                events.sort_by_key(|event| event.envelope.occurred_at);
                events
            }
        })
    }
}

/// What a simulation run did.
#[derive(Debug, Default)]
pub struct Summary {
    pub published: u64,
    pub elapsed: Duration,
}

/// Publishes the plan's events at up to `rate` per second (0: as fast as confirms allow).
pub async fn run(
    amqp_url: &str,
    config: &Config,
    plan: Plan,
    rate: f64,
    seed: u64,
) -> anyhow::Result<Summary> {
    let events = plan.events(config, seed)?;
    let connection = Connection::connect(amqp_url, ConnectionProperties::default())
        .await
        .context("cannot connect to RabbitMQ (HOTLINE_AMQP_URL)")?;
    let channel = connection.create_channel().await?;
    hotline_runtime::amqp::declare(&channel, &config.department_codes()).await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;

    let count = events.len() as u64;
    let progress = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(count);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {bar:40} {pos}/{len} events  {per_sec}  eta {eta}",
            )
            .expect("valid template"),
        );
        Some(bar)
    } else {
        None
    };
    let started = Instant::now();
    let mut window = ConfirmWindow::new(&channel, MAX_UNCONFIRMED);
    for (i, event) in events.iter().enumerate() {
        if rate > 0.0 {
            let due = started + Duration::from_secs_f64(i as f64 / rate);
            tokio::time::sleep_until(due.into()).await;
        }
        let body = event.to_bytes();
        let properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into())
            .with_message_id(event.envelope.event_id.to_string().into())
            .with_app_id("hotline-simulate".into());
        let routing_key = event.event_type().as_str();
        window
            .publish(topology::EVENTS_EXCHANGE, routing_key, &body, properties)
            .await?;
        if let Some(bar) = &progress {
            bar.inc(1);
        }
    }
    window.finish().await?;
    if let Some(bar) = progress {
        bar.finish();
    }
    let _ = connection.close(200, "simulation done".into()).await;
    Ok(Summary {
        published: count,
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_schema::event::EventType;

    #[test]
    fn a_seed_and_an_end_make_the_same_day_whenever_it_runs() {
        let config = Config::builtin();
        let until = "2026-11-27T17:00:00+08:00".parse::<DateTime<Utc>>().ok();
        let day = || {
            Plan::Day {
                cases: 50,
                hours: 8,
                until,
            }
            .events(&config, 20261127)
            .unwrap()
            .into_iter()
            .map(|e| {
                (
                    e.event_type(),
                    e.envelope.order_no.to_string(),
                    e.envelope.occurred_at,
                )
            })
            .collect::<Vec<_>>()
        };
        let first = day();
        assert_eq!(first, day());
        assert!(first.iter().all(|(_, _, at)| *at <= until.unwrap()));
    }

    #[test]
    fn a_simulated_day_is_every_valid_event_in_time_order() {
        let config = Config::builtin();
        let events = Plan::Day {
            cases: 400,
            hours: 8,
            until: None,
        }
        .events(&config, 3)
        .unwrap();
        let mut types = std::collections::BTreeSet::new();
        for pair in events.windows(2) {
            assert!(pair[0].envelope.occurred_at <= pair[1].envelope.occurred_at);
        }
        for event in &events {
            let parsed = InboundEvent::parse(&event.to_bytes(), 64 * 1024);
            assert_eq!(parsed.as_ref().map(|p| &p.body), Ok(&event.body));
            types.insert(event.event_type());
        }
        for wanted in [
            EventType::ComplaintReceived,
            EventType::OrderAccepted,
            EventType::OrderReturned,
            EventType::OrderReplied,
            EventType::OrderFeedback,
            EventType::AppointmentBooked,
            EventType::AppointmentCheckedIn,
            EventType::AppointmentCalled,
            EventType::AppointmentCompleted,
        ] {
            assert!(types.contains(&wanted), "a day has {wanted}");
        }
    }
}
