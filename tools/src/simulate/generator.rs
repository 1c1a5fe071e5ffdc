//! The generator of synthetic traffic: seeded, pure apart from its random source, and
//! realistic (the corpus's streets and complaints, the catalog's matters and service
//! points, cases that live through acceptance, returns, replies and ratings).

use anyhow::Context;
use chrono::{DateTime, Utc};
use hotline_core::calendar::{BUSINESS_TZ, business_instant};
use hotline_core::config::{Config, Limit};
use hotline_core::routing::{Case, Router};
use hotline_core::sla::SlaClock;
use hotline_schema::body::{
    AnswerAtIntake, AppealDecided, AppointmentBooked, AppointmentCalled, AppointmentCheckedIn,
    ComplaintReceived, EventBody, ExtensionDecided, ExtensionRequested, OrderAccepted,
    OrderCoReplied, OrderFeedback, OrderReplied, OrderReturned, OrderUrged, RatingAppealed,
    ReturnDecided, SupervisorNote,
};
use hotline_schema::event::{Envelope, InboundEvent};
use hotline_schema::values::{Channel, Citizen, OrderNo, Rating, RequestKind, UrgeLevel, Urgency};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use std::collections::HashMap;
use uuid::Uuid;

const CORPUS_TOML: &str = include_str!("corpus.toml");

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
    pub(super) rng: StdRng,
    samples: Vec<Sample>,
    streets: HashMap<String, Vec<String>>,
    districts: Vec<String>,
    /// The catalog's service points, where appointments are served.
    service_points: Vec<String>,
    matters: HashMap<String, (Option<RequestKind>, Limit)>,
    /// Matter code → its co-handling departments (协办).
    co_departments: HashMap<String, Vec<String>>,
    /// Whether returns wait for an operator's review (`[routing] return_review`).
    return_review: bool,
    /// Distinguishes this run's order numbers from every other run's.
    run_tag: String,
    sequence: u64,
}

impl Generator {
    pub fn new(config: &Config, seed: u64) -> anyhow::Result<Generator> {
        let corpus: Corpus = toml::from_str(CORPUS_TOML).context("simulate/corpus.toml")?;
        let mut rng = StdRng::seed_from_u64(seed);
        let known: HashMap<String, (Option<RequestKind>, Limit)> = config
            .matters
            .iter()
            .map(|m| (m.code.clone(), (m.kind, m.statutory_limit)))
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
            co_departments: config.co_departments_by_matter(),
            return_review: config.routing.return_review,
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
            service_points: config
                .service_points
                .iter()
                .map(|p| p.code.clone())
                .collect(),
            matters: known,
            sequence: 0,
        })
    }

    /// The next `complaint.received` event, occurring at `at`.
    pub fn complaint(&mut self, at: DateTime<Utc>) -> InboundEvent {
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
        let kind =
            kind.unwrap_or_else(|| *RequestKind::ALL.choose(&mut self.rng).expect("non-empty"));
        let urgency = match limit {
            Limit::Natural(_) => Urgency::Urgent,
            Limit::WorkingDays(_) => Urgency::Normal,
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
        let local = at.with_timezone(&BUSINESS_TZ);
        let content = sample
            .content
            .replace("{address}", address.as_deref().unwrap_or("本市"));
        let order_no = format!(
            "PT{}{}{:07}",
            local.format("%Y%m%d"),
            self.run_tag,
            self.sequence
        );
        InboundEvent::new(
            envelope(&order_no, at),
            EventBody::ComplaintReceived(ComplaintReceived {
                kind,
                channel: channel.0,
                category: sample.matter,
                district,
                address,
                urgency,
                title: sample.title,
                content,
                citizen: Citizen {
                    name: Some(name),
                    phone: Some(phone),
                },
                confidential: false,
                answer: None,
            }),
        )
    }

    /// A whole case as it unfolds from `start`: the complaint and what the departments,
    /// supervisors and the callback team then do, as far as `until` (later steps are left
    /// for the future, so open orders stay open). Sorted by `occurred_at`.
    pub fn complaint_life(
        &mut self,
        router: &Router,
        clock: &SlaClock,
        start: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Vec<InboundEvent> {
        let complaint = self.complaint(start);
        let order_no = complaint.envelope.order_no.as_str().to_owned();
        let EventBody::ComplaintReceived(received) = complaint.body.clone() else {
            unreachable!("the generator's complaint is a complaint.received")
        };
        let kind = received.kind;
        let category = received.category.clone();
        let case = Case {
            kind,
            category: &received.category,
            district: received.district.as_deref(),
            title: &received.title,
            content: &received.content,
        };
        if kind == RequestKind::Consultation && self.rng.random_bool(0.3) {
            let answered = ComplaintReceived {
                answer: Some(AnswerAtIntake {
                    reply: "已在电话中解答政策口径。".into(),
                    resolved: true,
                }),
                ..received
            };
            return vec![InboundEvent::new(
                complaint.envelope,
                EventBody::ComplaintReceived(answered),
            )];
        }
        let route = router.route(case, start);
        let committed = clock.after(
            start,
            route.statutory_limit,
            clock.settings.commitment_ratio,
        );
        let mut department = route.department;
        let mut life = Life {
            at: start,
            until,
            order_no,
            events: vec![complaint],
        };
        let minutes = |rng: &mut StdRng, lo: i64, hi: i64| {
            chrono::TimeDelta::minutes(rng.random_range(lo..hi))
        };

        if self.rng.random_bool(0.06) {
            let after = minutes(&mut self.rng, 20, 90);
            if !life.step(
                after,
                EventBody::OrderReturned(OrderReturned {
                    department: department.clone(),
                    reason: "非本单位职责范围,申请退回".into(),
                }),
            ) {
                return life.events;
            }
            // 退单审核: mostly approved (re-dispatched elsewhere), sometimes rejected
            // (回退驳回: back to the same department, deadlines unchanged).
            if self.return_review {
                let approved = self.rng.random_bool(0.8);
                if !life.step(
                    minutes(&mut self.rng, 5, 30),
                    EventBody::ReturnDecided(ReturnDecided {
                        approved,
                        department: None,
                        note: if approved {
                            "确非本单位职责"
                        } else {
                            "属本单位职责,驳回退单"
                        }
                        .into(),
                    }),
                ) {
                    return life.events;
                }
                if approved {
                    department = router
                        .route_avoiding(case, life.at, std::slice::from_ref(&department))
                        .department;
                }
            } else {
                department = router
                    .route_avoiding(case, life.at, std::slice::from_ref(&department))
                    .department;
            }
        }
        let handler = format!("handler-{}", self.rng.random_range(1..40));
        let accepted = |department: &str, handler: &str| {
            EventBody::OrderAccepted(OrderAccepted {
                department: department.to_owned(),
                handler: Some(handler.to_owned()),
            })
        };
        if !life.step(
            minutes(&mut self.rng, 5, 60),
            accepted(&department, &handler),
        ) {
            return life.events;
        }
        // 催办 mostly; now and then 督办 or 挂牌督办.
        let urge = [
            (UrgeLevel::Reminder, 80),
            (UrgeLevel::Supervision, 17),
            (UrgeLevel::Listed, 3),
        ]
        .choose_weighted(&mut self.rng, |(_, w)| *w)
        .expect("weights")
        .0;
        if self.rng.random_bool(0.08)
            && !life.step(
                minutes(&mut self.rng, 10, 90),
                EventBody::OrderUrged(OrderUrged {
                    note: Some("市民再次来电催办".into()),
                    level: urge,
                }),
            )
        {
            return life.events;
        }
        if self.rng.random_bool(0.05) {
            if !life.step(
                minutes(&mut self.rng, 10, 60),
                EventBody::OrderSuspended(SupervisorNote {
                    reason: Some("等待市民补充材料".into()),
                }),
            ) {
                return life.events;
            }
            if !life.step(
                minutes(&mut self.rng, 30, 120),
                EventBody::OrderResumed(SupervisorNote {
                    reason: Some("材料已补齐".into()),
                }),
            ) {
                return life.events;
            }
        }
        // Departments ask for more time before the committed deadline, not after; the
        // engine clocks what departments do when it receives it, and a simulated day is
        // published at once, at `until`.
        if self.rng.random_bool(0.04) && until + chrono::TimeDelta::hours(1) < committed {
            let days = self.rng.random_range(1..6);
            let requested = EventBody::ExtensionRequested(ExtensionRequested {
                department: department.clone(),
                extra_working_days: days,
                reason: "需现场核查".into(),
            });
            if !life.step(minutes(&mut self.rng, 10, 60), requested) {
                return life.events;
            }
            let approved = self.rng.random_bool(0.8);
            if !life.step(
                minutes(&mut self.rng, 10, 60),
                EventBody::ExtensionDecided(ExtensionDecided {
                    approved,
                    extra_working_days: Some(days),
                }),
            ) {
                return life.events;
            }
        }
        // 协办: each co-handler of the matter accepts and co-replies before the lead replies
        // (the lead may not reply while a co-reply is due).
        let co = self
            .co_departments
            .get(&category)
            .cloned()
            .unwrap_or_default();
        for co_department in co.iter().filter(|d| **d != department) {
            if !life.step(
                minutes(&mut self.rng, 5, 40),
                accepted(co_department, &format!("co-{co_department}")),
            ) || !life.step(
                minutes(&mut self.rng, 10, 90),
                EventBody::OrderCoReplied(OrderCoReplied {
                    department: co_department.clone(),
                    reply: "已配合核查,情况已告知主办单位。".into(),
                }),
            ) {
                return life.events;
            }
        }
        for attempt in 0..2 {
            let resolved = self.rng.random_bool(0.97);
            let replied = EventBody::OrderReplied(OrderReplied {
                department: department.clone(),
                reply: "已核实处理并答复市民。".into(),
                resolved,
            });
            if !life.step(minutes(&mut self.rng, 30, 300), replied) {
                return life.events;
            }
            let weights: &[(Rating, u32)] = if resolved {
                &[
                    (Rating::VerySatisfied, 700),
                    (Rating::Satisfied, 250),
                    (Rating::BasicallySatisfied, 45),
                    (Rating::Dissatisfied, 5),
                ]
            } else {
                &[
                    (Rating::Satisfied, 30),
                    (Rating::BasicallySatisfied, 40),
                    (Rating::Dissatisfied, 20),
                    (Rating::VeryDissatisfied, 10),
                ]
            };
            let rating = weights
                .choose_weighted(&mut self.rng, |(_, w)| *w)
                .expect("weights")
                .0;
            if !life.step(
                minutes(&mut self.rng, 10, 60),
                EventBody::OrderFeedback(OrderFeedback {
                    rating,
                    resolved,
                    comment: Some(String::new()),
                }),
            ) {
                return life.events;
            }
            let reopened =
                !resolved && matches!(rating, Rating::Dissatisfied | Rating::VeryDissatisfied);
            // 评价复核: a department sometimes appeals an unsatisfied rating; a supervisor
            // decides.
            if rating.is_unsatisfied() && self.rng.random_bool(0.3) {
                if !life.step(
                    minutes(&mut self.rng, 30, 240),
                    EventBody::RatingAppealed(RatingAppealed {
                        department: department.clone(),
                        reason: "市民诉求超出职责范围,已依法答复".into(),
                    }),
                ) {
                    return life.events;
                }
                let upheld = self.rng.random_bool(0.5);
                if !life.step(
                    minutes(&mut self.rng, 30, 240),
                    EventBody::AppealDecided(AppealDecided {
                        upheld,
                        note: if upheld {
                            "复核属实,不计入满意率"
                        } else {
                            "复核不予支持"
                        }
                        .into(),
                    }),
                ) {
                    return life.events;
                }
            }
            if !reopened || attempt == 1 {
                break;
            }
            if !life.step(
                minutes(&mut self.rng, 5, 60),
                accepted(&department, &handler),
            ) {
                return life.events;
            }
        }
        life.events
    }

    /// An appointment through the service hall: booked the day before, checked in around
    /// its slot, called after a wait, completed after being served; some never show up.
    pub fn appointment_life(
        &mut self,
        slot: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Vec<InboundEvent> {
        self.sequence += 1;
        let order_no = format!(
            "YY{}{}{:07}",
            slot.with_timezone(&BUSINESS_TZ).format("%Y%m%d"),
            self.run_tag,
            self.sequence
        );
        let Some(point) = self.service_points.choose(&mut self.rng).cloned() else {
            return Vec::new(); // a catalog without a service hall
        };
        let category = self
            .samples
            .choose(&mut self.rng)
            .map(|s| s.matter.clone())
            .unwrap_or_default();
        let booked_at = slot - chrono::TimeDelta::hours(self.rng.random_range(2..72));
        let mut life = Life {
            at: booked_at,
            until,
            order_no,
            events: Vec::new(),
        };
        let phone = format!(
            "1{:010}",
            self.rng.random_range(3_000_000_000u64..9_999_999_999)
        );
        let booked = EventBody::AppointmentBooked(AppointmentBooked {
            category,
            service_point: point.clone(),
            slot_start: business_instant(slot),
            citizen: Citizen {
                name: Some("预约市民".into()),
                phone: Some(phone),
            },
        });
        life.step(chrono::TimeDelta::zero(), booked);
        if self.rng.random_bool(0.05) {
            return life.events; // no-show
        }
        life.at = slot - chrono::TimeDelta::minutes(15);
        let seconds = |rng: &mut StdRng, mean_minutes: f64, max_minutes: f64| {
            // Exponential waits, as queues have them, capped.
            let u: f64 = rng.random_range(0.0001..1.0);
            chrono::TimeDelta::seconds(
                (-u.ln() * mean_minutes * 60.0).min(max_minutes * 60.0) as i64 + 30,
            )
        };
        let early = chrono::TimeDelta::minutes(self.rng.random_range(0..25));
        if !life.step(
            early,
            EventBody::AppointmentCheckedIn(AppointmentCheckedIn {
                service_point: point,
            }),
        ) {
            return life.events;
        }
        let wait = seconds(&mut self.rng, 19.0, 90.0);
        let window = format!("{}号窗口", self.rng.random_range(1..20));
        let called = EventBody::AppointmentCalled(AppointmentCalled {
            window: Some(window),
        });
        if !life.step(wait, called) {
            return life.events;
        }
        let serve = seconds(&mut self.rng, 9.0, 45.0);
        life.step(serve, EventBody::AppointmentCompleted);
        life.events
    }
}

/// The envelope of a generated event: a new id, and `at` to the second in business time.
fn envelope(order_no: &str, at: DateTime<Utc>) -> Envelope {
    Envelope {
        event_id: Uuid::now_v7(),
        occurred_at: business_instant(at),
        order_no: OrderNo::parse(order_no).expect("the generator writes valid order numbers"),
    }
}

/// One case's events as they are generated, in time order.
struct Life {
    at: DateTime<Utc>,
    until: DateTime<Utc>,
    order_no: String,
    events: Vec<InboundEvent>,
}

impl Life {
    /// The next event, `after` the previous one; `false` (and nothing added) once that
    /// would be later than `until`.
    fn step(&mut self, after: chrono::TimeDelta, body: EventBody) -> bool {
        let at = self.at + after;
        if at > self.until {
            return false;
        }
        self.at = at;
        self.events
            .push(InboundEvent::new(envelope(&self.order_no, at), body));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_complaints_are_valid_events() {
        let config = Config::builtin();
        let mut generator = Generator::new(&config, 7).unwrap();
        for _ in 0..500 {
            let event = generator.complaint(Utc::now());
            let parsed = InboundEvent::parse(&event.to_bytes(), 64 * 1024);
            assert_eq!(parsed.map(|p| p.body), Ok(event.body));
        }
    }

    #[test]
    fn the_same_seed_makes_the_same_traffic() {
        let config = Config::builtin();
        let a = Generator::new(&config, 42).unwrap().complaint(Utc::now());
        let b = Generator::new(&config, 42).unwrap().complaint(Utc::now());
        assert_eq!(a.envelope.order_no, b.envelope.order_no);
        assert_eq!(a.body, b.body);
    }
}
