//! Why a deadline is what it is: an order's SLA clock as segments in time order (running,
//! off hours, days off with their names, paused with the reason, extensions with the days
//! granted), the working time used and left to each deadline, and the declared days that
//! moved its deadlines. Pure: the order, its pauses and extensions, and the rules in.

use crate::calendar::{SpanKind, business_date};
use crate::config::Limit;
use crate::order::Order;
use crate::sla::{SlaClock, Standing};
use chrono::{DateTime, Utc};
use hotline_schema::event::EventType;
use std::time::Duration;

/// A stretch of the order's clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub kind: SegmentKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentKind {
    /// The clock ran.
    Running,
    /// A working day outside its working periods (night, lunch).
    OffHours,
    /// A day off: the declaration's name (国庆节), else 周末 or 休息日.
    DayOff(String),
    /// Suspended by a supervisor (挂起), with the reason given.
    Paused(Option<String>),
    /// An approved extension, at the instant it was granted (`from == to`).
    Extension(u32),
}

impl SegmentKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            SegmentKind::Running => "running",
            SegmentKind::OffHours => "off_hours",
            SegmentKind::DayOff(_) => "day_off",
            SegmentKind::Paused(_) => "paused",
            SegmentKind::Extension(_) => "extension",
        }
    }
}

/// A suspension of the order: from, to (`None` while it lasts), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pause {
    pub from: DateTime<Utc>,
    pub to: Option<DateTime<Utc>>,
    pub reason: Option<String>,
}

/// An approved extension: when, and how many working days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub at: DateTime<Utc>,
    pub days: u32,
}

/// How one deadline stands when the explanation ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineStanding {
    /// `sign`, `committed` or `statutory`.
    pub deadline: &'static str,
    pub due_at: DateTime<Utc>,
    pub standing: Standing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// Where the clock was read: now, or when it stopped (the reply).
    pub until: DateTime<Utc>,
    pub segments: Vec<Segment>,
    /// The sum of the running segments.
    pub used: Duration,
    pub deadlines: Vec<DeadlineStanding>,
    /// The declared days that moved a deadline (`2026-10-01..07 国庆节`).
    pub moving_days: Vec<String>,
    /// A deadline lies past the days the calendar declares: it may move when the next
    /// State Council notice is added.
    pub provisional: bool,
}

/// The suspensions and extensions an order's timeline records, from its entries
/// `(event type, when it took effect, detail)` in time order.
pub fn history<'a>(
    entries: impl IntoIterator<Item = (&'a str, DateTime<Utc>, &'a serde_json::Value)>,
) -> (Vec<Pause>, Vec<Grant>) {
    let mut pauses: Vec<Pause> = Vec::new();
    let mut grants = Vec::new();
    for (event_type, at, detail) in entries {
        match EventType::parse(event_type) {
            Some(EventType::OrderSuspended) => pauses.push(Pause {
                from: at,
                to: None,
                reason: detail["reason"].as_str().map(str::to_owned),
            }),
            Some(EventType::OrderResumed) => {
                if let Some(open) = pauses.last_mut().filter(|p| p.to.is_none()) {
                    open.to = Some(at);
                }
            }
            Some(EventType::ExtensionDecided) if detail["approved"] == true => {
                if let Some(days) = detail["extra_working_days"].as_u64() {
                    grants.push(Grant {
                        at,
                        days: u32::try_from(days).unwrap_or(u32::MAX),
                    });
                }
            }
            _ => {}
        }
    }
    (pauses, grants)
}

/// The instant the order's clock is read at: its reply, else `now`.
fn clock_stop(order: &Order, now: DateTime<Utc>) -> DateTime<Utc> {
    order
        .replied_at
        .or(order.closed_at)
        .unwrap_or(now)
        .max(order.report.received_at)
}

/// Explains `order`'s clock from its receipt to its reply (or `now`); `sign_limit` is
/// the order's ([`crate::rules::Rules::sign_limit_of`]), whose clock the sign deadline
/// runs on.
pub fn explain(
    clock: &SlaClock,
    sign_limit: Limit,
    order: &Order,
    pauses: &[Pause],
    grants: &[Grant],
    now: DateTime<Utc>,
) -> Explanation {
    let from = order.report.received_at;
    let until = clock_stop(order, now);
    // The clock's own cut of the time (working-day limits follow the calendar; a natural
    // limit runs day and night).
    let base: Vec<(DateTime<Utc>, DateTime<Utc>, SegmentKind)> = match order.statutory_limit {
        Limit::WorkingDays(_) => clock
            .calendar
            .spans(from, until)
            .into_iter()
            .map(|s| {
                let kind = match s.kind {
                    SpanKind::Working => SegmentKind::Running,
                    SpanKind::OffHours => SegmentKind::OffHours,
                    SpanKind::DayOff(name) => SegmentKind::DayOff(name),
                };
                (s.from, s.to, kind)
            })
            .collect(),
        Limit::Natural(_) if until > from => vec![(from, until, SegmentKind::Running)],
        Limit::Natural(_) => Vec::new(),
    };
    let mut segments = Vec::new();
    for (s_from, s_to, kind) in base {
        // Cut out the suspensions: the time they cover is paused, whatever its kind.
        let mut cursor = s_from;
        for pause in pauses {
            let p_from = pause.from.max(cursor);
            let p_to = pause.to.unwrap_or(until).min(s_to);
            if p_to <= p_from {
                continue;
            }
            push(&mut segments, cursor, p_from, kind.clone());
            push(
                &mut segments,
                p_from,
                p_to,
                SegmentKind::Paused(pause.reason.clone()),
            );
            cursor = p_to;
        }
        push(&mut segments, cursor, s_to, kind);
    }
    for grant in grants {
        // Split the segment the grant falls in, so that the marker sits where it happened.
        if let Some(i) = segments
            .iter()
            .position(|s| s.from < grant.at && grant.at < s.to)
        {
            let mut after = segments[i].clone();
            after.from = grant.at;
            segments[i].to = grant.at;
            segments.insert(i + 1, after);
        }
        let at = segments.partition_point(|s: &Segment| {
            s.from < grant.at || (s.from == grant.at && s.to == grant.at)
        });
        segments.insert(
            at,
            Segment {
                from: grant.at,
                to: grant.at,
                kind: SegmentKind::Extension(grant.days),
            },
        );
    }
    let used = segments
        .iter()
        .filter(|s| s.kind == SegmentKind::Running)
        .map(|s| (s.to - s.from).to_std().unwrap_or_default())
        .sum();
    let mut deadlines = Vec::new();
    if order.accepted_at.is_none() {
        deadlines.push(DeadlineStanding {
            deadline: "sign",
            due_at: order.deadlines.sign,
            standing: clock.standing(sign_limit, order.deadlines.sign, until),
        });
    }
    for (deadline, due_at) in [
        ("committed", order.deadlines.committed),
        ("statutory", order.deadlines.statutory),
    ] {
        deadlines.push(DeadlineStanding {
            deadline,
            due_at,
            standing: clock.standing(order.statutory_limit, due_at, until),
        });
    }
    let last = order.deadlines.statutory.max(until);
    Explanation {
        until,
        segments,
        used,
        deadlines,
        moving_days: clock
            .calendar
            .moving_days(business_date(from), business_date(last)),
        provisional: provisional(clock, order.deadlines.statutory),
    }
}

/// Whether `deadline` lies past the days the calendar declares.
pub fn provisional(clock: &SlaClock, deadline: DateTime<Utc>) -> bool {
    match clock.calendar.covered_until() {
        Some(last) => business_date(deadline) > last,
        None => true,
    }
}

fn push(segments: &mut Vec<Segment>, from: DateTime<Utc>, to: DateTime<Utc>, kind: SegmentKind) {
    if to <= from {
        return;
    }
    match segments.last_mut() {
        Some(last) if last.kind == kind && last.to == from => last.to = to,
        _ => segments.push(Segment { from, to, kind }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::order::Report;
    use chrono::TimeDelta;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn order(received: DateTime<Utc>, limit: Limit, clock: &SlaClock) -> Order {
        let report = Report::example(received);
        let deadlines = clock.deadlines(received, limit, clock.settings.sign_limit);
        Order::new(
            "PT1".into(),
            report,
            limit,
            deadlines,
            "SCJGJ".into(),
            "r".into(),
        )
    }

    fn clock() -> SlaClock {
        SlaClock::from_config(&Config::builtin())
    }

    #[test]
    fn an_order_over_the_national_day_week_explains_its_clock() {
        let clock = clock();
        // Received Wednesday 2026-09-30 16:00, 5 working days; suspended on 10-08 09:00
        // for an hour; read at 10-08 11:00.
        let order = order(
            at("2026-09-30T16:00:00+08:00"),
            Limit::WorkingDays(5),
            &clock,
        );
        let pauses = [Pause {
            from: at("2026-10-08T09:00:00+08:00"),
            to: Some(at("2026-10-08T10:00:00+08:00")),
            reason: Some("等待检测结果".into()),
        }];
        let grants = [Grant {
            at: at("2026-10-08T10:30:00+08:00"),
            days: 2,
        }];
        let e = explain(
            &clock,
            clock.settings.sign_limit,
            &order,
            &pauses,
            &grants,
            at("2026-10-08T11:00:00+08:00"),
        );
        let kinds: Vec<(String, &str, &str)> = e
            .segments
            .iter()
            .map(|s| {
                let name = match &s.kind {
                    SegmentKind::DayOff(n) => n.clone(),
                    SegmentKind::Paused(r) => r.clone().unwrap_or_default(),
                    SegmentKind::Extension(d) => d.to_string(),
                    _ => String::new(),
                };
                (name, s.kind.as_str(), "")
            })
            .collect();
        assert_eq!(
            kinds
                .iter()
                .map(|k| (k.0.as_str(), k.1))
                .collect::<Vec<_>>(),
            [
                ("", "running"),
                ("", "off_hours"),
                ("国庆节", "day_off"),
                ("", "off_hours"),
                ("", "running"),
                ("等待检测结果", "paused"),
                ("", "running"),
                ("2", "extension"),
                ("", "running"),
            ]
        );
        // 1.5 h on 09-30, 1 h before the pause, 1 h after: 3.5 h.
        assert_eq!(e.used, Duration::from_secs(3 * 3600 + 1800));
        assert_eq!(e.until, at("2026-10-08T11:00:00+08:00"));
        assert_eq!(
            e.deadlines.iter().map(|d| d.deadline).collect::<Vec<_>>(),
            ["sign", "committed", "statutory"]
        );
        assert!(
            e.moving_days.contains(&"2026-10-01..07 国庆节".to_owned()),
            "{:?}",
            e.moving_days
        );
        assert!(
            e.moving_days
                .contains(&"2026-10-10 国庆节调休上班".to_owned())
        );
        assert!(!e.provisional);
    }

    #[test]
    fn a_deadline_past_the_declared_days_is_provisional() {
        let clock = clock();
        // 2026-12-24 + 15 working days lands in January 2027, which no notice covers yet.
        let order = order(
            at("2026-12-24T10:00:00+08:00"),
            Limit::WorkingDays(15),
            &clock,
        );
        assert!(provisional(&clock, order.deadlines.statutory));
        assert!(!provisional(&clock, at("2026-12-31T17:00:00+08:00")));
        let natural = order_with_natural_limit(&clock);
        let e = explain(
            &clock,
            clock.settings.sign_limit,
            &natural,
            &[],
            &[],
            at("2026-11-28T11:00:00+08:00"),
        );
        assert_eq!(
            e.segments
                .iter()
                .map(|s| s.kind.as_str())
                .collect::<Vec<_>>(),
            ["running"],
            "a natural-time limit runs through the weekend"
        );
        assert_eq!(e.used, Duration::from_secs(25 * 3600));
    }

    fn order_with_natural_limit(clock: &SlaClock) -> Order {
        order(
            at("2026-11-27T10:00:00+08:00"),
            Limit::Natural(Duration::from_secs(48 * 3600)),
            clock,
        )
    }

    #[test]
    fn timelines_give_pauses_and_extensions() {
        let (s, r, d) = (
            serde_json::json!({"reason": "等材料"}),
            serde_json::json!({}),
            serde_json::json!({"approved": true, "extra_working_days": 3}),
        );
        let refused = serde_json::json!({"approved": false, "extra_working_days": 3});
        let entries = [
            (
                EventType::OrderSuspended.as_str(),
                at("2026-11-25T10:00:00+08:00"),
                &s,
            ),
            (
                EventType::OrderResumed.as_str(),
                at("2026-11-25T11:00:00+08:00"),
                &r,
            ),
            (
                EventType::ExtensionDecided.as_str(),
                at("2026-11-26T10:00:00+08:00"),
                &d,
            ),
            (
                EventType::ExtensionDecided.as_str(),
                at("2026-11-26T11:00:00+08:00"),
                &refused,
            ),
            (
                EventType::OrderSuspended.as_str(),
                at("2026-11-27T10:00:00+08:00"),
                &r,
            ),
        ];
        let (pauses, grants) = history(entries);
        assert_eq!(
            pauses,
            [
                Pause {
                    from: at("2026-11-25T10:00:00+08:00"),
                    to: Some(at("2026-11-25T11:00:00+08:00")),
                    reason: Some("等材料".into()),
                },
                Pause {
                    from: at("2026-11-27T10:00:00+08:00"),
                    to: None,
                    reason: None,
                },
            ]
        );
        assert_eq!(
            grants,
            [Grant {
                at: at("2026-11-26T10:00:00+08:00"),
                days: 3
            }]
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

            /// The running segments add up to the calendar's working time between receipt
            /// and the reading, less the working time of the pauses, to the second.
            #[test]
            fn running_time_is_the_working_time_outside_the_pauses(
                start in 0i64..(3 * 365 * 24 * 3600),
                length in 0i64..(60 * 24 * 3600),
                cuts in proptest::collection::vec(0i64..(60 * 24 * 3600), 0..6),
            ) {
                let clock = clock();
                let received = at("2024-01-01T00:00:00+08:00") + TimeDelta::seconds(start);
                let until = received + TimeDelta::seconds(length);
                let order = order(received, Limit::WorkingDays(15), &clock);
                // Cut points inside [received, until], paired into disjoint pauses.
                let mut points: Vec<DateTime<Utc>> = cuts
                    .iter()
                    .map(|c| received + TimeDelta::seconds(c % (length + 1)))
                    .collect();
                points.sort();
                let pauses: Vec<Pause> = points
                    .chunks_exact(2)
                    .map(|p| Pause { from: p[0], to: Some(p[1]), reason: None })
                    .collect();
                let e = explain(&clock, clock.settings.sign_limit, &order, &pauses, &[], until);
                let paused: Duration = pauses
                    .iter()
                    .map(|p| clock.calendar.working_time_between(p.from, p.to.unwrap()))
                    .sum();
                let expected = clock.calendar.working_time_between(received, until) - paused;
                prop_assert_eq!(e.used, expected);
                // Segments tile [received, until] without gaps or overlaps.
                let mut cursor = received;
                for s in e.segments.iter().filter(|s| s.from != s.to) {
                    prop_assert_eq!(s.from, cursor);
                    cursor = s.to;
                }
                prop_assert!(cursor == until || length == 0);
            }
        }
    }
}
