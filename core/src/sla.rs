//! The SLA clock: statutory, committed, sign and warning deadlines of an order. Pure.
//!
//! Working-day limits run on the business calendar (working hours of working days);
//! natural limits (`"4h"`, `"30m"`) run day and night. The committed deadline is
//! `commitment_ratio` of the statutory limit on the same clock ("50% of statutory").

use crate::calendar::BusinessCalendar;
use crate::config::{Config, Limit, SlaSettings};
use chrono::{DateTime, Utc};
use hotline_schema::values::Urgency;

/// The deadlines promised for one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    pub statutory: DateTime<Utc>,
    pub committed: DateTime<Utc>,
    /// Accept (签收) before this.
    pub sign: DateTime<Utc>,
    /// `warning_ratio` of the committed time used.
    pub warning: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct SlaClock {
    pub calendar: BusinessCalendar,
    pub settings: SlaSettings,
}

impl SlaClock {
    pub fn from_config(config: &Config) -> SlaClock {
        SlaClock {
            calendar: config.calendar.clone(),
            settings: config.sla.clone(),
        }
    }

    /// `share` of `limit` measured from `start` on the limit's own clock.
    pub fn after(&self, start: DateTime<Utc>, limit: Limit, share: f64) -> DateTime<Utc> {
        match limit {
            Limit::WorkingDays(days) => {
                let day = self.calendar.working_day_length().as_secs_f64();
                let span = seconds(day * f64::from(days) * share);
                self.calendar.add_working_time(start, span)
            }
            Limit::Natural(span) => {
                start
                    + chrono::TimeDelta::from_std(seconds(span.as_secs_f64() * share))
                        .expect("limits are far inside chrono's range")
            }
        }
    }

    /// The deadlines of an order received at `start`: `sign_limit` is the one
    /// [`SlaClock::sign_limit`] chose for it.
    pub fn deadlines(
        &self,
        start: DateTime<Utc>,
        statutory_limit: Limit,
        sign_limit: Limit,
    ) -> Deadlines {
        let ratio = self.settings.commitment_ratio;
        let committed = self.after(start, statutory_limit, ratio);
        Deadlines {
            statutory: self.after(start, statutory_limit, 1.0),
            committed,
            sign: self.sign_deadline(start, sign_limit, committed),
            warning: self.after(start, statutory_limit, ratio * self.settings.warning_ratio),
        }
    }

    /// Accept by `sign_limit` after `start`, and never after `latest` (the committed
    /// deadline, or a co-handler's co-reply deadline): a handler is never shown a sign
    /// deadline a day away while the promise to the citizen runs out in minutes.
    pub fn sign_deadline(
        &self,
        start: DateTime<Utc>,
        sign_limit: Limit,
        latest: DateTime<Utc>,
    ) -> DateTime<Utc> {
        self.after(start, sign_limit, 1.0).min(latest)
    }

    /// The sign limit (签收时限) of an order: its matter's own if the catalog gives one,
    /// else `urgent_sign_limit` for an urgent class (a statutory limit on the clock) and
    /// `sign_limit` for the rest; an `urgent` or `emergency` order takes its urgency's
    /// limit where that is shorter. Practice: urgent classes are signed for within 15–30
    /// minutes, the rest within a working day.
    pub fn sign_limit(&self, statutory: Limit, urgency: Urgency, matter: Option<Limit>) -> Limit {
        let s = &self.settings;
        let by_class = matter.unwrap_or(match statutory {
            Limit::Natural(_) => s.urgent_sign_limit,
            Limit::WorkingDays(_) => s.sign_limit,
        });
        let by_urgency = match urgency {
            Urgency::Normal => None,
            Urgency::Urgent => Some(s.urgent_sign_limit),
            Urgency::Emergency => Some(s.emergency_sign_limit),
        };
        by_urgency
            .filter(|limit| self.nominal(*limit) < self.nominal(by_class))
            .unwrap_or(by_class)
    }

    /// A limit's length, a working day counted as the calendar's working hours: only to
    /// compare limits of the two kinds.
    fn nominal(&self, limit: Limit) -> std::time::Duration {
        match limit {
            Limit::WorkingDays(days) => self.calendar.working_day_length() * days,
            Limit::Natural(span) => span,
        }
    }
}

impl SlaClock {
    /// Where `deadline` moves when the clock of `limit`'s kind stood still from `paused_at`
    /// to `resumed_at`: the time that remained at the pause is counted again from the
    /// resumption (working time for working-day limits, natural time otherwise). A
    /// deadline already passed at the pause stays passed by as much as it was: the pause
    /// neither adds to nor forgives the time over.
    pub fn resume(
        &self,
        limit: Limit,
        deadline: DateTime<Utc>,
        paused_at: DateTime<Utc>,
        resumed_at: DateTime<Utc>,
    ) -> DateTime<Utc> {
        match limit {
            Limit::WorkingDays(_) if deadline > paused_at => {
                let remaining = self.calendar.working_time_between(paused_at, deadline);
                self.calendar.add_working_time(resumed_at, remaining)
            }
            Limit::WorkingDays(_) => {
                let over = self.calendar.working_time_between(deadline, paused_at);
                self.calendar.subtract_working_time(resumed_at, over)
            }
            Limit::Natural(_) => resumed_at + (deadline - paused_at),
        }
    }

    /// `deadline` moved by `days` extra working days (an approved extension). Natural-time
    /// limits move by whole natural days.
    pub fn extend(&self, limit: Limit, deadline: DateTime<Utc>, days: u32) -> DateTime<Utc> {
        match limit {
            Limit::WorkingDays(_) => self.calendar.add_working_days(deadline, days),
            Limit::Natural(_) => deadline + chrono::TimeDelta::days(i64::from(days)),
        }
    }
}

/// How a deadline stands at an instant, on its limit's own clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// This much (working or natural) time is left.
    Left(std::time::Duration),
    /// The deadline passed this much (working or natural) time ago.
    Over(std::time::Duration),
}

impl SlaClock {
    /// How `deadline` stands at `now`: working time left or over for working-day limits
    /// (nights, weekends and holidays do not count), natural time otherwise.
    pub fn standing(&self, limit: Limit, deadline: DateTime<Utc>, now: DateTime<Utc>) -> Standing {
        let span = |from: DateTime<Utc>, to: DateTime<Utc>| match limit {
            Limit::WorkingDays(_) => self.calendar.working_time_between(from, to),
            Limit::Natural(_) => (to - from).to_std().unwrap_or_default(),
        };
        if now < deadline {
            Standing::Left(span(now, deadline))
        } else {
            Standing::Over(span(deadline, now))
        }
    }
}

/// Whole seconds: deadlines are promised to the second, not to the nanosecond.
fn seconds(amount: f64) -> std::time::Duration {
    std::time::Duration::from_secs(amount.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::time::Duration;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        crate::calendar::BUSINESS_TZ
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_deadline_stands_in_working_time_or_natural_time_by_its_limit() {
        let clock = SlaClock::from_config(&Config::builtin());
        let hours = |h: u64| Duration::from_secs(h * 3600);
        // Friday 2026-11-27 16:00 → Monday 11-30 10:00: 1.5 working hours until Friday's
        // 17:30, none over the weekend, 2 from Monday's 08:00.
        let friday = at(2026, 11, 27, 16, 0);
        let monday = at(2026, 11, 30, 10, 0);
        let working = Duration::from_secs(3 * 3600 + 1800);
        // (limit, deadline, now, standing)
        let cases = [
            (
                Limit::WorkingDays(5),
                monday,
                friday,
                Standing::Left(working),
            ),
            (
                Limit::WorkingDays(5),
                friday,
                monday,
                Standing::Over(working),
            ),
            (
                Limit::Natural(hours(24)),
                monday,
                friday,
                Standing::Left(hours(66)),
            ),
            (
                Limit::Natural(hours(24)),
                friday,
                monday,
                Standing::Over(hours(66)),
            ),
            (
                Limit::WorkingDays(5),
                friday,
                friday,
                Standing::Over(Duration::ZERO),
            ),
        ];
        for (limit, deadline, now, standing) in cases {
            assert_eq!(
                clock.standing(limit, deadline, now),
                standing,
                "{limit} {deadline} {now}"
            );
        }
    }

    #[test]
    fn committed_is_half_of_statutory_on_the_same_clock() {
        let clock = SlaClock::from_config(&Config::builtin());
        // (start, limit, statutory, committed, sign)
        let cases = [
            // Wednesday 10:00 + 5 working days = next Wednesday 10:00. Committed 2.5 wd =
            // 1050 working minutes: Wed 300 + Thu 420 + Fri 240 (morning) + 90 = Fri 16:00.
            (
                at(2026, 11, 25, 10, 0),
                Limit::WorkingDays(5),
                at(2026, 12, 2, 10, 0),
                at(2026, 11, 27, 16, 0),
                at(2026, 11, 26, 10, 0),
            ),
            // Natural hours run through the night.
            (
                at(2026, 11, 27, 22, 0),
                Limit::Natural(Duration::from_secs(4 * 3600)),
                at(2026, 11, 28, 2, 0),
                at(2026, 11, 28, 0, 0),
                // An urgent class: signed for within 30 minutes, day and night (not a
                // working day later, on Monday, long after the promise ran out).
                at(2026, 11, 27, 22, 30),
            ),
            // Across National Day 2026: off 10-01..10-07.
            (
                at(2026, 9, 30, 16, 0),
                Limit::WorkingDays(2),
                at(2026, 10, 9, 16, 0),
                at(2026, 10, 8, 16, 0),
                at(2026, 10, 8, 16, 0),
            ),
        ];
        for (start, limit, statutory, committed, sign) in cases {
            let d = clock.deadlines(start, limit, clock.sign_limit(limit, Urgency::Normal, None));
            assert_eq!(d.statutory, statutory, "statutory from {start} {limit}");
            assert_eq!(d.committed, committed, "committed from {start} {limit}");
            assert_eq!(d.sign, sign, "sign from {start}");
            assert!(d.warning <= d.committed && d.warning >= start);
        }
    }

    #[test]
    fn the_sign_limit_follows_the_matter_then_the_urgency_and_class() {
        let clock = SlaClock::from_config(&Config::builtin());
        let minutes = |m: u64| Limit::Natural(Duration::from_secs(m * 60));
        let (five, four_hours) = (Limit::WorkingDays(5), minutes(240));
        // (statutory, urgency, the matter's own, sign limit)
        let cases = [
            (five, Urgency::Normal, None, Limit::WorkingDays(1)),
            (five, Urgency::Urgent, None, minutes(30)),
            (five, Urgency::Emergency, None, minutes(15)),
            // An urgent class (on the clock) is signed for within 30 minutes.
            (four_hours, Urgency::Normal, None, minutes(30)),
            (four_hours, Urgency::Emergency, None, minutes(15)),
            // The matter's own limit, unless the urgency's is shorter.
            (
                five,
                Urgency::Normal,
                Some(Limit::WorkingDays(2)),
                Limit::WorkingDays(2),
            ),
            (five, Urgency::Normal, Some(minutes(60)), minutes(60)),
            (five, Urgency::Urgent, Some(minutes(10)), minutes(10)),
            (five, Urgency::Urgent, Some(minutes(60)), minutes(30)),
            (four_hours, Urgency::Normal, Some(minutes(20)), minutes(20)),
        ];
        for (statutory, urgency, matter, want) in cases {
            assert_eq!(
                clock.sign_limit(statutory, urgency, matter),
                want,
                "{statutory} {urgency} {matter:?}"
            );
        }
    }

    #[test]
    fn limits_of_the_two_kinds_compare_by_a_working_days_hours() {
        // A working day is the calendar's 7 working hours: 2wd (14 h) is longer than an
        // urgent limit of 10 h, 1wd as long as one of 7 h (a tie keeps the matter's own).
        let mut clock = SlaClock::from_config(&Config::builtin());
        let hours = |h: u64| Limit::Natural(Duration::from_secs(h * 3600));
        for (urgent, matter, want) in [
            (hours(10), Limit::WorkingDays(2), hours(10)),
            (hours(15), Limit::WorkingDays(2), Limit::WorkingDays(2)),
            (hours(7), Limit::WorkingDays(1), Limit::WorkingDays(1)),
        ] {
            clock.settings.urgent_sign_limit = urgent;
            assert_eq!(
                clock.sign_limit(Limit::WorkingDays(5), Urgency::Urgent, Some(matter)),
                want,
                "urgent {urgent}, the matter's {matter}"
            );
        }
    }

    #[test]
    fn no_sign_deadline_lies_after_the_committed_one_for_any_matter_or_urgency() {
        let config = Config::builtin();
        let clock = SlaClock::from_config(&config);
        let rules = crate::rules::Rules::new(&config);
        // Every hour of a week with a holiday and a make-up working day in it (National
        // Day 2026), and the night hours of an ordinary one.
        let starts = (0..24 * 12).map(|h| at(2026, 9, 26, 0, 0) + chrono::TimeDelta::hours(h));
        for start in starts {
            for matter in &config.matters {
                for urgency in Urgency::ALL {
                    let sign_limit =
                        rules.sign_limit(Some(&matter.code), *urgency, matter.statutory_limit);
                    let d = clock.deadlines(start, matter.statutory_limit, sign_limit);
                    assert!(
                        d.sign <= d.committed,
                        "{} {urgency} from {start}: sign {} after committed {}",
                        matter.code,
                        d.sign,
                        d.committed
                    );
                    assert!(d.sign > start, "{} {urgency} from {start}", matter.code);
                    if matches!(matter.statutory_limit, Limit::Natural(_))
                        || *urgency != Urgency::Normal
                    {
                        assert!(
                            d.sign - start <= chrono::TimeDelta::minutes(30),
                            "{} {urgency} from {start}: signed for within 30 minutes",
                            matter.code
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_pause_gives_back_the_time_that_remained() {
        let clock = SlaClock::from_config(&Config::builtin());
        let five = Limit::WorkingDays(5);
        // Paused Wednesday 10:00 with the deadline Thursday 10:00 (7 working hours left),
        // resumed Monday 14:30: 3 hours that afternoon and 4 on Tuesday morning.
        let moved = clock.resume(
            five,
            at(2026, 11, 26, 10, 0),
            at(2026, 11, 25, 10, 0),
            at(2026, 11, 30, 14, 30),
        );
        assert_eq!(moved, at(2026, 12, 1, 12, 0));
        // Natural time: 1 hour left, resumed the next day.
        let four_hours = Limit::Natural(Duration::from_secs(4 * 3600));
        let moved = clock.resume(
            four_hours,
            at(2026, 11, 25, 11, 0),
            at(2026, 11, 25, 10, 0),
            at(2026, 11, 26, 9, 0),
        );
        assert_eq!(moved, at(2026, 11, 26, 10, 0));
    }

    #[test]
    fn a_deadline_passed_before_the_pause_stays_passed_by_as_much() {
        let clock = SlaClock::from_config(&Config::builtin());
        let five = Limit::WorkingDays(5);
        let hour = Duration::from_secs(3600);
        // (deadline, paused, resumed): the time over at the pause, and just after the
        // resumption, on the limit's own clock.
        let cases = [
            // 2 working hours over, resumed in the evening (out of hours) and on a Monday.
            (
                at(2026, 11, 25, 8, 0),
                at(2026, 11, 25, 10, 0),
                at(2026, 11, 25, 19, 0),
            ),
            (
                at(2026, 11, 25, 8, 0),
                at(2026, 11, 25, 10, 0),
                at(2026, 11, 30, 9, 30),
            ),
            // Passed at the very instant of the pause, resumed in and out of hours: it is
            // passed (by nothing) at the resumption, never due again the next morning.
            (
                at(2026, 11, 25, 10, 0),
                at(2026, 11, 25, 10, 0),
                at(2026, 11, 26, 11, 0),
            ),
            (
                at(2026, 11, 25, 10, 0),
                at(2026, 11, 25, 10, 0),
                at(2026, 11, 26, 19, 0),
            ),
        ];
        for (deadline, paused, resumed) in cases {
            let over_at_pause = clock.standing(five, deadline, paused);
            let moved = clock.resume(five, deadline, paused, resumed);
            assert!(
                moved <= resumed,
                "{deadline} paused {paused} resumed {resumed}: {moved}"
            );
            let after = clock.standing(five, moved, clock.calendar.next_working_instant(resumed));
            assert_eq!(
                after, over_at_pause,
                "{deadline} paused {paused} resumed {resumed}"
            );
        }
        assert_eq!(
            clock.standing(five, at(2026, 11, 25, 8, 0), at(2026, 11, 25, 10, 0)),
            Standing::Over(2 * hour)
        );
        // Natural time: 30 minutes over at the pause, 30 minutes over at the resumption.
        let four_hours = Limit::Natural(4 * hour);
        let moved = clock.resume(
            four_hours,
            at(2026, 11, 25, 9, 30),
            at(2026, 11, 25, 10, 0),
            at(2026, 11, 26, 9, 0),
        );
        assert_eq!(moved, at(2026, 11, 26, 8, 30));
    }

    #[test]
    fn an_extension_moves_a_deadline_by_working_or_natural_days() {
        let clock = SlaClock::from_config(&Config::builtin());
        let four_hours = Limit::Natural(Duration::from_secs(4 * 3600));
        // (limit, deadline, extra days, moved deadline)
        let cases = [
            // Thursday 2026-09-24 10:00 + 3 working days, over Mid-Autumn (09-25..27 off):
            // Mon 28, Tue 29, Wed 30 → 2026-09-30 10:00.
            (
                Limit::WorkingDays(5),
                at(2026, 9, 24, 10, 0),
                3,
                at(2026, 9, 30, 10, 0),
            ),
            // + 4 also crosses National Day (10-01..07 off): 2026-10-08 10:00.
            (
                Limit::WorkingDays(5),
                at(2026, 9, 24, 10, 0),
                4,
                at(2026, 10, 8, 10, 0),
            ),
            // A natural-time limit moves by natural days, holidays and nights included.
            (
                four_hours,
                at(2026, 9, 24, 10, 0),
                3,
                at(2026, 9, 27, 10, 0),
            ),
            (
                four_hours,
                at(2026, 9, 30, 23, 0),
                1,
                at(2026, 10, 1, 23, 0),
            ),
        ];
        for (limit, deadline, days, moved) in cases {
            assert_eq!(
                clock.extend(limit, deadline, days),
                moved,
                "{limit} deadline {deadline} + {days} days"
            );
        }
    }
}
