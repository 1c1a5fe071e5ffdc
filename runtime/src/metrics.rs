//! The one place metrics are defined. Names and labels are part of the public contract.
//!
//! Counters and histograms are per process, as Prometheus expects; gauges that describe
//! the whole system are refreshed from the database by whoever serves `/metrics`.
//! No label ever holds an order number, a name or a phone number.

use hotline_core::decide::{Incoming, Outcome};
use hotline_core::observation::{HallObservation, Observation};
use hotline_core::outbox::OutboxKind;
use hotline_schema::event::{EventType, INVALID_TYPE_LABEL};
use hotline_schema::rejection::RejectCode;
use hotline_schema::values::{AlertLevel, Rating};
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use std::collections::BTreeMap;
use std::sync::LazyLock;

pub struct Metrics {
    pub registry: Registry,
    /// Inbound events by `type` (`invalid` for bodies whose type could not be read).
    pub events_received: IntCounterVec,
    /// Rejected inbound events by reason code.
    pub events_rejected: IntCounterVec,
    /// Task messages confirmed by the broker, by department.
    pub orders_dispatched: IntCounterVec,
    /// Event consumed → task confirmed by the broker.
    pub dispatch_latency: Histogram,
    /// Open orders by department and SLA state (from the database).
    pub orders_open: IntGaugeVec,
    /// Outbox rows not yet confirmed by the broker (from the database).
    pub outbox_pending: IntGaugeVec,
    /// Outbox rows the broker refused, set aside and kept (from the database).
    pub outbox_set_aside: IntGaugeVec,
    /// Outbox rows this process set aside, by kind.
    pub outbox_failed: IntCounterVec,
    /// Duplicate deliveries the idempotency ledger absorbed.
    pub events_duplicate: IntCounterVec,
    /// Deliveries per committed intake batch.
    pub intake_batch_size: Histogram,
    /// Messages the relay published, by kind (`task`, `alert`, `rejected`, `digest`).
    pub relay_published: IntCounterVec,
    /// SLA alerts by department and level.
    pub sla_alerts: IntCounterVec,
    /// Alert published − deadline.
    pub alert_lag: Histogram,
    /// Rows the retention sweep deleted (or citizen data it erased), by kind.
    pub retention_removed: IntCounterVec,
    /// Timers the repair sweep re-armed on open orders that had lost them.
    pub timers_repaired: prometheus::IntCounter,
    pub orders_closed: IntCounterVec,
    pub feedback: IntCounterVec,
    pub satisfaction_ratio: prometheus::GaugeVec,
    /// Ratings an upheld appeal (评价复核) removed from 满意率, by department and rating.
    pub feedback_excluded: IntCounterVec,
    /// The league table's score of each department over the last 30 days.
    pub department_score: prometheus::GaugeVec,
    pub waiting_time: HistogramVec,
    pub handling_time: HistogramVec,
    pub resolution_time: HistogramVec,
    /// The end of the last day the calendar in force declares (Asia/Shanghai midnight
    /// after it): past it, deadlines assume plain weekdays and are provisional.
    pub calendar_covered_until: prometheus::IntGauge,
    /// HTTP requests refused before any handler saw them, by reason (`busy`,
    /// `rate_limited`, `locked_out`, `body_timeout`, `too_large`, `bad_body`,
    /// `bad_target`, `too_many_streams`: a closed set, never free input).
    pub http_refused: IntCounterVec,
}

/// Seconds in a working day (7 working hours), for resolution-time buckets.
const WORKING_DAY: f64 = 7.0 * 3600.0;

impl Metrics {
    fn new() -> Metrics {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid counter");
            registry.register(Box::new(c.clone())).expect("unique name");
            c
        };
        let histogram = |name: &str, help: &str, buckets: Vec<f64>| {
            let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
                .expect("valid histogram");
            registry.register(Box::new(h.clone())).expect("unique name");
            h
        };
        let histogram_vec = |name: &str, help: &str, labels: &[&str], buckets: Vec<f64>| {
            let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
                .expect("valid histogram");
            registry.register(Box::new(h.clone())).expect("unique name");
            h
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid gauge");
            registry.register(Box::new(g.clone())).expect("unique name");
            g
        };
        let minutes = |m: &[f64]| m.iter().map(|m| m * 60.0).collect::<Vec<_>>();
        let satisfaction_ratio = prometheus::GaugeVec::new(
            Opts::new(
                "hotline_satisfaction_ratio",
                "Satisfied share of rated orders (满意率), from the database",
            ),
            &["department"],
        )
        .expect("valid gauge");
        registry
            .register(Box::new(satisfaction_ratio.clone()))
            .expect("unique name");
        let calendar_covered_until = prometheus::IntGauge::new(
            "hotline_calendar_covered_until_timestamp_seconds",
            "End of the last day the calendar in force declares; later deadlines are provisional",
        )
        .expect("valid gauge");
        registry
            .register(Box::new(calendar_covered_until.clone()))
            .expect("unique name");
        let department_score = prometheus::GaugeVec::new(
            Opts::new(
                "hotline_department_score",
                "League-table score of each department over the last 30 days, from the database",
            ),
            &["department"],
        )
        .expect("valid gauge");
        registry
            .register(Box::new(department_score.clone()))
            .expect("unique name");
        Metrics {
            calendar_covered_until,
            department_score,
            feedback_excluded: counter(
                "hotline_feedback_excluded_total",
                "Callback ratings removed from the satisfaction ratio by an upheld appeal",
                &["department", "rating"],
            ),
            events_received: counter(
                "hotline_events_received_total",
                "Inbound events consumed, by type",
                &["type"],
            ),
            events_rejected: counter(
                "hotline_events_rejected_total",
                "Inbound events dead-lettered, by reason",
                &["reason"],
            ),
            orders_dispatched: counter(
                "hotline_orders_dispatched_total",
                "Task messages confirmed by the broker, by department",
                &["department"],
            ),
            dispatch_latency: histogram(
                "hotline_dispatch_latency_seconds",
                "Event consumed to task confirmed by the broker",
                vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                ],
            ),
            orders_open: gauge(
                "hotline_orders_open",
                "Open orders by department and SLA state, from the database",
                &["department", "sla_state"],
            ),
            outbox_pending: gauge(
                "hotline_outbox_pending",
                "Outbox messages not yet confirmed by the broker, by kind",
                &["kind"],
            ),
            outbox_set_aside: gauge(
                "hotline_outbox_set_aside",
                "Outbox messages the broker refused, set aside and kept, by kind",
                &["kind"],
            ),
            outbox_failed: counter(
                "hotline_outbox_failed_total",
                "Outbox messages set aside, by kind: refused by the broker, or unpublishable before publishing",
                &["kind"],
            ),
            events_duplicate: counter(
                "hotline_events_duplicate_total",
                "Redelivered or repeated events that had no second effect, by type",
                &["type"],
            ),
            intake_batch_size: histogram(
                "hotline_intake_batch_size",
                "Deliveries handled in one intake transaction",
                vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0],
            ),
            relay_published: counter(
                "hotline_relay_published_total",
                "Outbox messages published and confirmed, by kind",
                &["kind"],
            ),
            sla_alerts: counter(
                "hotline_sla_alerts_total",
                "SLA alerts published, by department and level",
                &["department", "level"],
            ),
            alert_lag: histogram(
                "hotline_alert_lag_seconds",
                "Alert published minus its deadline",
                vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0],
            ),
            retention_removed: counter(
                "hotline_retention_removed_total",
                "Rows the retention sweep deleted, or orders whose citizen data it erased, by kind",
                &["kind"],
            ),
            timers_repaired: {
                let c = prometheus::IntCounter::new(
                    "hotline_timers_repaired_total",
                    "SLA timers the repair sweep re-armed on open orders that had lost them",
                )
                .expect("valid counter");
                registry.register(Box::new(c.clone())).expect("unique name");
                c
            },
            orders_closed: counter(
                "hotline_orders_closed_total",
                "Orders closed, by department and whether replied before the committed deadline",
                &["department", "on_time"],
            ),
            feedback: counter(
                "hotline_feedback_total",
                "Callback ratings, by department and rating",
                &["department", "rating"],
            ),
            satisfaction_ratio,
            waiting_time: histogram_vec(
                "hotline_waiting_time_seconds",
                "Service hall: checked in to called (等候时长)",
                &["service_point"],
                minutes(&[
                    1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0,
                ]),
            ),
            handling_time: histogram_vec(
                "hotline_handling_time_seconds",
                "Service hall: called to completed (受理时长)",
                &["service_point"],
                minutes(&[1.0, 2.0, 5.0, 9.0, 12.0, 15.0, 20.0, 30.0, 45.0, 60.0]),
            ),
            resolution_time: histogram_vec(
                "hotline_resolution_time_seconds",
                "Order received to replied",
                &["department"],
                [0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0]
                    .iter()
                    .map(|d| d * WORKING_DAY)
                    .collect(),
            ),
            http_refused: counter(
                "hotline_http_refused_total",
                "HTTP requests refused before a handler saw them, by reason",
                &["reason"],
            ),
            registry,
        }
    }

    /// Counts an HTTP request refused at the edge; `reason` is one of a closed set.
    pub fn http_refused(&self, reason: &'static str) {
        self.http_refused.with_label_values(&[reason]).inc();
    }

    /// Creates every series whose labels come from a closed set, at zero: event types,
    /// reason codes, outbox kinds, and the catalog's departments with levels, ratings and
    /// on-time flags. A series that is exported from the start reads 0 rather than being
    /// absent, so `rate()` and `increase()` see its first increment, and an absent series
    /// means a defect.
    /// Records how far `calendar` declares its days (0: it declares none).
    pub fn observe_calendar(&self, calendar: &hotline_core::calendar::BusinessCalendar) {
        let end = calendar
            .covered_until()
            .and_then(|last| last.succ_opt())
            .map_or(0, |next| {
                hotline_core::calendar::start_of_business_day(next).timestamp()
            });
        self.calendar_covered_until.set(end);
    }

    pub fn register_catalog(&self, departments: &[String]) {
        for event_type in EventType::ALL {
            self.events_received
                .with_label_values(&[event_type.as_str()]);
            self.events_duplicate
                .with_label_values(&[event_type.as_str()]);
        }
        self.events_received
            .with_label_values(&[INVALID_TYPE_LABEL]);
        self.events_duplicate
            .with_label_values(&[INVALID_TYPE_LABEL]);
        for code in RejectCode::ALL {
            self.events_rejected.with_label_values(&[code.as_str()]);
        }
        for kind in [
            "outbox",
            "processed_keys",
            "rejected_events",
            "citizen_data",
            "attachments",
        ] {
            self.retention_removed.with_label_values(&[kind]);
        }
        for kind in OutboxKind::ALL {
            self.relay_published.with_label_values(&[kind.as_str()]);
            self.outbox_failed.with_label_values(&[kind.as_str()]);
        }
        for department in departments {
            let d = department.as_str();
            self.orders_dispatched.with_label_values(&[d]);
            self.resolution_time.with_label_values(&[d]);
            for level in AlertLevel::ALL {
                self.sla_alerts.with_label_values(&[d, level.as_str()]);
            }
            for on_time in ["true", "false"] {
                self.orders_closed.with_label_values(&[d, on_time]);
            }
            for rating in Rating::ALL {
                self.feedback.with_label_values(&[d, rating.as_str()]);
            }
            for rating in [Rating::Dissatisfied, Rating::VeryDissatisfied] {
                self.feedback_excluded
                    .with_label_values(&[d, rating.as_str()]);
            }
        }
    }

    /// Counts what became of inbound events (received, duplicate, rejected by reason), for
    /// every transport that feeds the submit path, and what the applied ones did.
    pub fn record_outcomes(&self, batch: &[Incoming], outcomes: &[Outcome]) {
        for (item, outcome) in batch.iter().zip(outcomes) {
            let type_label = item.type_label();
            self.events_received.with_label_values(&[type_label]).inc();
            match outcome {
                Outcome::Applied(observations) => observations.iter().for_each(|o| self.observe(o)),
                Outcome::Duplicate => self.events_duplicate.with_label_values(&[type_label]).inc(),
                Outcome::Rejected(rejection) => {
                    tracing::info!(reason = %rejection, r#type = type_label, "event rejected");
                    self.events_rejected
                        .with_label_values(&[rejection.code.as_str()])
                        .inc();
                }
            }
        }
    }

    /// Feeds the contract's business metrics from what a committed event did.
    fn observe(&self, observation: &Observation) {
        match observation {
            Observation::Replied {
                department,
                seconds,
            } => self
                .resolution_time
                .with_label_values(&[department])
                .observe(*seconds),
            Observation::Closed {
                department,
                on_time,
            } => self
                .orders_closed
                .with_label_values(&[department.as_str(), if *on_time { "true" } else { "false" }])
                .inc(),
            Observation::Feedback { department, rating } => self
                .feedback
                .with_label_values(&[department, rating.as_str()])
                .inc(),
            Observation::FeedbackExcluded { department, rating } => self
                .feedback_excluded
                .with_label_values(&[department, rating.as_str()])
                .inc(),
            Observation::Hall(HallObservation::Waiting {
                service_point,
                seconds,
            }) => self
                .waiting_time
                .with_label_values(&[service_point])
                .observe(*seconds),
            Observation::Hall(HallObservation::Handling {
                service_point,
                seconds,
            }) => self
                .handling_time
                .with_label_values(&[service_point])
                .observe(*seconds),
        }
    }

    /// Replaces the system-wide gauges with a snapshot taken from the database:
    /// `(metric name, labels, value)` samples.
    pub fn load_snapshot<'a>(
        &self,
        samples: impl IntoIterator<Item = (&'a str, &'a BTreeMap<String, String>, f64)>,
    ) {
        self.orders_open.reset();
        self.satisfaction_ratio.reset();
        self.department_score.reset();
        self.outbox_pending.reset();
        self.outbox_set_aside.reset();
        for (name, labels, value) in samples {
            let label = |key: &str| labels.get(key).map(String::as_str).unwrap_or_default();
            match name {
                "hotline_orders_open" => self
                    .orders_open
                    .with_label_values(&[label("department"), label("sla_state")])
                    .set(value as i64),
                "hotline_satisfaction_ratio" => self
                    .satisfaction_ratio
                    .with_label_values(&[label("department")])
                    .set(value),
                "hotline_department_score" => self
                    .department_score
                    .with_label_values(&[label("department")])
                    .set(value),
                "hotline_outbox_pending" => self
                    .outbox_pending
                    .with_label_values(&[label("kind")])
                    .set(value as i64),
                "hotline_outbox_set_aside" => self
                    .outbox_set_aside
                    .with_label_values(&[label("kind")])
                    .set(value as i64),
                _ => tracing::debug!(name, "gauge snapshot sample of no known gauge"),
            }
        }
    }

    /// Prometheus text exposition of everything registered.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding of metrics");
        String::from_utf8(buffer).expect("metrics are UTF-8")
    }
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

/// A quantile of a histogram, interpolated within its bucket (as PromQL does).
pub fn quantile(histogram: &Histogram, q: f64) -> f64 {
    let metric = prometheus::core::Collector::collect(histogram);
    let h = metric[0].get_metric()[0].get_histogram();
    let total = h.get_sample_count() as f64;
    if total == 0.0 {
        return f64::NAN;
    }
    let rank = q * total;
    let mut previous = (0.0, 0.0);
    for bucket in h.get_bucket() {
        let (bound, count) = (bucket.upper_bound(), bucket.cumulative_count() as f64);
        if count >= rank {
            let (low, below) = previous;
            return low + (bound - low) * (rank - below) / (count - below).max(1.0);
        }
        previous = (bound, count);
    }
    previous.0
}
