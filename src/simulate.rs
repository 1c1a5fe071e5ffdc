//! `hotline simulate`: realistic synthetic traffic over AMQP.
//!
//! The generator is pure and seeded (same seed, same traffic); the publisher sends with
//! publisher confirms, up to [`MAX_UNCONFIRMED`] in flight, paced to the requested rate.

use anyhow::Context;
use chrono::{DateTime, Utc};
use hotline_schema::config::{Config, Limit};
use hotline_schema::event::Channel;
use hotline_schema::topology;
use indicatif::{ProgressBar, ProgressStyle};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::io::IsTerminal;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Unconfirmed publishes allowed in flight (the measured sweet spot on these machines).
pub const MAX_UNCONFIRMED: usize = 1024;

const CORPUS_TOML: &str = include_str!("simulate_corpus.toml");

#[derive(Deserialize)]
struct Corpus {
    street: Vec<Streets>,
    sample: Vec<Sample>,
}

#[derive(Deserialize)]
struct Streets {
    district: String,
    names: Vec<String>,
}

#[derive(Deserialize, Clone)]
struct Sample {
    matter: String,
    title: String,
    content: String,
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "林", "郑", "何", "高",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超",
    "秀英", "建国", "海燕", "志强", "丽华", "晓东",
];

/// Makes synthetic events. Pure apart from its seeded random source.
pub struct Generator {
    rng: StdRng,
    samples: Vec<Sample>,
    streets: HashMap<String, Vec<String>>,
    districts: Vec<String>,
    matters: HashMap<String, (Option<String>, Limit)>,
    /// Distinguishes this run's order numbers from every other run's.
    run_tag: String,
    sequence: u64,
}

impl Generator {
    pub fn new(config: &Config, seed: u64) -> anyhow::Result<Generator> {
        let corpus: Corpus = toml::from_str(CORPUS_TOML).context("simulate_corpus.toml")?;
        let mut rng = StdRng::seed_from_u64(seed);
        let known: HashMap<String, (Option<String>, Limit)> = config
            .matters
            .iter()
            .map(|m| (m.code.clone(), (m.kind.clone(), m.statutory_limit)))
            .collect();
        // Samples of matters this configuration does not have are filed without a code.
        let samples = corpus
            .sample
            .into_iter()
            .map(|mut s| {
                if !known.contains_key(&s.matter) {
                    s.matter.clear();
                }
                s
            })
            .collect();
        Ok(Generator {
            run_tag: format!("{:04X}", rng.random::<u16>()),
            rng,
            samples,
            streets: corpus
                .street
                .into_iter()
                .map(|s| (s.district, s.names))
                .collect(),
            districts: config
                .districts
                .iter()
                .map(|(name, _)| name.clone())
                .collect(),
            matters: known,
            sequence: 0,
        })
    }

    /// The next `complaint.received` event, occurring at `at`.
    pub fn complaint(&mut self, at: DateTime<Utc>) -> Value {
        self.sequence += 1;
        let sample = self
            .samples
            .choose(&mut self.rng)
            .cloned()
            .expect("the corpus has samples");
        let district = self.districts.choose(&mut self.rng).cloned();
        let address = district.as_ref().map(|d| {
            let street = self
                .streets
                .get(d)
                .and_then(|names| names.choose(&mut self.rng).cloned())
                .unwrap_or_else(|| format!("{d}街道"));
            format!("{street}{}号", self.rng.random_range(1..300))
        });
        let (kind, limit) = self
            .matters
            .get(&sample.matter)
            .cloned()
            .unwrap_or((None, Limit::WorkingDays(5)));
        let kind = kind.unwrap_or_else(|| {
            ["consultation", "help", "complaint", "report", "suggestion"]
                .choose(&mut self.rng)
                .expect("non-empty")
                .to_string()
        });
        let urgency = match limit {
            Limit::Natural(_) => "urgent",
            Limit::WorkingDays(_) => "normal",
        };
        let channel = *[
            (Channel::Phone, 60),
            (Channel::Wechat, 15),
            (Channel::App, 10),
            (Channel::Web, 10),
            (Channel::Sms, 5),
        ]
        .choose_weighted(&mut self.rng, |(_, w)| *w)
        .expect("weights are positive");
        let name = format!(
            "{}{}",
            SURNAMES.choose(&mut self.rng).expect("non-empty"),
            GIVEN.choose(&mut self.rng).expect("non-empty")
        );
        let phone = format!(
            "1{}{:09}",
            self.rng.random_range(3..10),
            self.rng.random_range(0..1_000_000_000u64)
        );
        let local = at.with_timezone(&hotline_schema::BUSINESS_TZ);
        let content = sample
            .content
            .replace("{address}", address.as_deref().unwrap_or("本市"));
        json!({
            "event_id": Uuid::now_v7(),
            "type": "complaint.received",
            "occurred_at": hotline_schema::business_time(at),
            "order_no": format!("PT{}{}{:07}", local.format("%Y%m%d"), self.run_tag, self.sequence),
            "kind": kind,
            "channel": channel.0.as_str(),
            "category": sample.matter,
            "district": district,
            "address": address,
            "urgency": urgency,
            "title": sample.title,
            "content": content,
            "citizen": {"name": name, "phone": phone},
        })
    }
}

/// What a simulation run did.
#[derive(Debug, Default)]
pub struct Summary {
    pub published: u64,
    pub elapsed: Duration,
}

/// Publishes `count` complaints at up to `rate` per second (0: as fast as confirms allow).
pub async fn run(
    amqp_url: &str,
    config: &Config,
    count: u64,
    rate: f64,
    seed: u64,
) -> anyhow::Result<Summary> {
    let connection = Connection::connect(amqp_url, ConnectionProperties::default())
        .await
        .context("cannot connect to RabbitMQ (HOTLINE_AMQP_URL)")?;
    let channel = connection.create_channel().await?;
    let departments: Vec<String> = config.departments.iter().map(|d| d.code.clone()).collect();
    topology::declare(&channel, &departments).await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;

    let mut generator = Generator::new(config, seed)?;
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
    let mut in_flight = VecDeque::with_capacity(MAX_UNCONFIRMED);
    for i in 0..count {
        if rate > 0.0 {
            let due = started + Duration::from_secs_f64(i as f64 / rate);
            tokio::time::sleep_until(due.into()).await;
        }
        let event = generator.complaint(Utc::now());
        let body = serde_json::to_vec(&event)?;
        let properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into())
            .with_message_id(event["event_id"].as_str().unwrap_or_default().into())
            .with_app_id("hotline-simulate".into());
        let confirm = channel
            .basic_publish(
                topology::EVENTS_EXCHANGE.into(),
                "complaint.received".into(),
                BasicPublishOptions::default(),
                &body,
                properties,
            )
            .await?;
        in_flight.push_back(confirm);
        if in_flight.len() >= MAX_UNCONFIRMED {
            confirmed(in_flight.pop_front().expect("non-empty").await?)?;
        }
        if let Some(bar) = &progress {
            bar.inc(1);
        }
    }
    for confirm in in_flight {
        confirmed(confirm.await?)?;
    }
    if let Some(bar) = progress {
        bar.finish();
    }
    let _ = connection.close(200, "simulation done".into()).await;
    Ok(Summary {
        published: count,
        elapsed: started.elapsed(),
    })
}

fn confirmed(confirmation: lapin::Confirmation) -> anyhow::Result<()> {
    anyhow::ensure!(
        confirmation.is_ack(),
        "the broker refused a simulated event"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_schema::event::InboundEvent;

    #[test]
    fn generated_complaints_are_valid_events() {
        let config = Config::builtin();
        let mut generator = Generator::new(&config, 7).unwrap();
        for _ in 0..500 {
            let event = generator.complaint(Utc::now());
            let parsed = InboundEvent::parse(event.to_string().as_bytes(), 64 * 1024);
            assert!(parsed.is_ok(), "{event}: {:?}", parsed.err());
        }
    }

    #[test]
    fn the_same_seed_makes_the_same_traffic() {
        let config = Config::builtin();
        let a = Generator::new(&config, 42).unwrap().complaint(Utc::now());
        let b = Generator::new(&config, 42).unwrap().complaint(Utc::now());
        assert_eq!(a["order_no"], b["order_no"]);
        assert_eq!(a["title"], b["title"]);
    }
}
