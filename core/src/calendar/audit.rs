//! What a calendar says about itself: a version that changes exactly when a deadline could,
//! how far its declared days reach, the days two calendars disagree on, and the spans of
//! working and non-working time between two instants (what an explanation of a deadline
//! is made of).

use super::notice::is_weekend;
use super::walk::{at, local_date};
use super::{BusinessCalendar, CalendarError, SpecialDay, parse_periods};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A stretch of time on the calendar's clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub kind: SpanKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpanKind {
    /// Inside a working period of a working day: the clock runs.
    Working,
    /// A working day outside its working periods (night, lunch).
    OffHours,
    /// A whole day off: the declaration's name (国庆节), else 周末 on a weekend and 休息日 on
    /// a weekday declared off without a name.
    DayOff(String),
}

/// A calendar written down whole (its periods and every declared day, the embedded ones
/// included), to be stored and rebuilt exactly: what the engine remembers of the calendar
/// it last applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarRecord {
    pub periods: Vec<String>,
    pub days: Vec<RecordedDay>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedDay {
    pub date: NaiveDate,
    pub off: bool,
    pub name: String,
}

impl CalendarRecord {
    /// The calendar it records.
    pub fn build(&self) -> Result<BusinessCalendar, CalendarError> {
        let periods: Vec<&str> = self.periods.iter().map(String::as_str).collect();
        BusinessCalendar::builder()
            .without_builtin_days()
            .periods(parse_periods(&periods)?)
            .special_days(self.days.iter().map(|d| SpecialDay {
                date: d.date,
                off: d.off,
                name: d.name.clone(),
            }))
            .build()
    }
}

impl BusinessCalendar {
    /// The calendar written down whole; see [`CalendarRecord`].
    pub fn record(&self) -> CalendarRecord {
        CalendarRecord {
            periods: self.periods.iter().map(ToString::to_string).collect(),
            days: self
                .declared_days()
                .into_iter()
                .map(|d| RecordedDay {
                    date: d.date,
                    off: d.off,
                    name: d.name.clone(),
                })
                .collect(),
        }
    }

    /// A digest of what decides deadlines: the working periods and every declared day's
    /// date and whether it is off (not the names). Two calendars with the same version
    /// give every deadline the same instant.
    pub fn version(&self) -> String {
        let mut hasher = Sha256::new();
        for p in &self.periods {
            hasher.update(p.to_string().as_bytes());
            hasher.update(b";");
        }
        for day in self.declared_days() {
            hasher.update(format!("{}:{};", day.date, u8::from(day.off)).as_bytes());
        }
        let digest = hasher.finalize();
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Every declared day, by date.
    pub fn declared_days(&self) -> Vec<&SpecialDay> {
        let mut days: Vec<&SpecialDay> = self.special.values().collect();
        days.sort_by_key(|d| d.date);
        days
    }

    /// The last day the declared days are known for: the end of the latest year with a
    /// declaration (the State Council publishes a year's notice each November). Past it,
    /// only the weekend rule applies, and a deadline there is provisional.
    pub fn covered_until(&self) -> Option<NaiveDate> {
        let (_, last) = self.special_range?;
        NaiveDate::from_ymd_opt(last.year(), 12, 31)
    }

    /// Whether `date`'s working time differs between the two calendars.
    pub fn differs_on(&self, other: &BusinessCalendar, date: NaiveDate) -> bool {
        match (self.is_working_day(date), other.is_working_day(date)) {
            (true, true) => self.periods != other.periods,
            (a, b) => a != b,
        }
    }

    /// The days in `[first, last]` whose working time differs between the two calendars.
    pub fn changed_days(
        &self,
        other: &BusinessCalendar,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Vec<NaiveDate> {
        if self.periods != other.periods {
            return first.iter_days().take_while(|d| *d <= last).collect();
        }
        let mut dates: Vec<NaiveDate> = self
            .special
            .keys()
            .chain(other.special.keys())
            .copied()
            .filter(|d| (first..=last).contains(d) && self.differs_on(other, *d))
            .collect();
        dates.sort();
        dates.dedup();
        dates
    }

    /// `[from, to)` cut into working time, off hours and days off, in time order.
    /// Adjacent spans of the same kind are merged (a weekend is one span, a holiday week
    /// with one name one span).
    pub fn spans(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Span> {
        let mut spans: Vec<Span> = Vec::new();
        let mut push = |from: DateTime<Utc>, to: DateTime<Utc>, kind: SpanKind| {
            if to <= from {
                return;
            }
            match spans.last_mut() {
                Some(last) if last.kind == kind && last.to == from => last.to = to,
                _ => spans.push(Span { from, to, kind }),
            }
        };
        if to <= from {
            return Vec::new();
        }
        let mut date = local_date(from);
        while at(date, 0) < to {
            let start = at(date, 0).max(from);
            let end = date.succ_opt().map_or(to, |next| at(next, 0)).min(to);
            if self.is_working_day(date) {
                let mut cursor = start;
                for p in &self.periods {
                    let (p_from, p_to) = (at(date, p.start).max(start), at(date, p.end).min(end));
                    if p_to <= p_from {
                        continue;
                    }
                    push(cursor, p_from, SpanKind::OffHours);
                    push(p_from, p_to, SpanKind::Working);
                    cursor = p_to;
                }
                push(cursor.max(start), end, SpanKind::OffHours);
            } else {
                let name = match self.special.get(&date) {
                    Some(day) if !day.name.is_empty() => day.name.clone(),
                    _ if is_weekend(date) => "周末".to_owned(),
                    _ => "休息日".to_owned(),
                };
                push(start, end, SpanKind::DayOff(name));
            }
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
        }
        spans
    }

    /// The declared days in `[first, last]` that move a deadline (a day off on a weekday,
    /// a make-up working day on a weekend), grouped into runs of consecutive declared days
    /// of the same kind: `2026-10-01..08 国庆节、中秋节`, `2026-10-10 调休上班`.
    pub fn moving_days(&self, first: NaiveDate, last: NaiveDate) -> Vec<String> {
        let declared = self
            .declared_days()
            .into_iter()
            .filter(|d| (first..=last).contains(&d.date));
        super::notice::runs(declared)
            .into_iter()
            .filter(|run| run.moves)
            .map(|run| {
                let names = if run.off {
                    run.names.join("、")
                } else {
                    format!("{}调休上班", run.names.join("、"))
                };
                format!("{} {names}", run.dates()).trim_end().to_owned()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::BUSINESS_TZ;
    use chrono::TimeZone;

    fn at_local(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        BUSINESS_TZ
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn spans_cut_time_into_working_off_hours_and_named_days_off() {
        let calendar = BusinessCalendar::china_default();
        // Wednesday 2026-09-30 16:00 → Thursday 10-08 09:00: the afternoon's last 1.5 h,
        // the night, the National Day week (one span), then Thursday's morning.
        let spans = calendar.spans(at_local(2026, 9, 30, 16, 0), at_local(2026, 10, 8, 9, 0));
        let expected = [
            (
                at_local(2026, 9, 30, 16, 0),
                at_local(2026, 9, 30, 17, 30),
                SpanKind::Working,
            ),
            (
                at_local(2026, 9, 30, 17, 30),
                at_local(2026, 10, 1, 0, 0),
                SpanKind::OffHours,
            ),
            (
                at_local(2026, 10, 1, 0, 0),
                at_local(2026, 10, 8, 0, 0),
                SpanKind::DayOff("国庆节".into()),
            ),
            (
                at_local(2026, 10, 8, 0, 0),
                at_local(2026, 10, 8, 8, 0),
                SpanKind::OffHours,
            ),
            (
                at_local(2026, 10, 8, 8, 0),
                at_local(2026, 10, 8, 9, 0),
                SpanKind::Working,
            ),
        ];
        let got: Vec<(DateTime<Utc>, DateTime<Utc>, SpanKind)> =
            spans.into_iter().map(|s| (s.from, s.to, s.kind)).collect();
        assert_eq!(got, expected);
        // A plain weekend is one span called 周末; lunch is off hours.
        let weekend = calendar.spans(at_local(2026, 11, 27, 12, 0), at_local(2026, 11, 30, 15, 0));
        let kinds: Vec<&SpanKind> = weekend.iter().map(|s| &s.kind).collect();
        assert_eq!(
            kinds,
            [
                &SpanKind::OffHours,
                &SpanKind::Working,
                &SpanKind::OffHours,
                &SpanKind::DayOff("周末".into()),
                &SpanKind::OffHours,
                &SpanKind::Working,
                &SpanKind::OffHours,
                &SpanKind::Working,
            ]
        );
        // A day declared off without a name: 周末 on a weekend, 休息日 on a weekday.
        let unnamed = BusinessCalendar::builder()
            .special_days([
                SpecialDay::off(date(2027, 3, 3), ""),
                SpecialDay::off(date(2027, 3, 6), ""),
            ])
            .build()
            .unwrap();
        // (day, its span's kind)
        let cases = [
            (date(2027, 3, 3), SpanKind::DayOff("休息日".into())),
            (date(2027, 3, 6), SpanKind::DayOff("周末".into())),
        ];
        for (day, kind) in cases {
            let (y, m, d) = (day.year(), day.month(), day.day());
            let spans = unnamed.spans(at_local(y, m, d, 0, 0), at_local(y, m, d, 12, 0));
            let kinds: Vec<&SpanKind> = spans.iter().map(|s| &s.kind).collect();
            assert_eq!(kinds, [&kind], "{day}");
        }
        let working: i64 = weekend
            .iter()
            .filter(|s| s.kind == SpanKind::Working)
            .map(|s| (s.to - s.from).num_seconds())
            .sum();
        assert_eq!(
            working as u64,
            calendar
                .working_time_between(at_local(2026, 11, 27, 12, 0), at_local(2026, 11, 30, 15, 0))
                .as_secs()
        );
    }

    #[test]
    fn a_calendar_knows_its_version_coverage_and_the_days_it_differs_on() {
        let builtin = BusinessCalendar::china_default();
        assert_eq!(builtin.covered_until(), Some(date(2026, 12, 31)));
        assert_eq!(
            builtin.version(),
            BusinessCalendar::china_default().version()
        );
        assert_eq!(builtin.version().len(), 16);
        let notice = BusinessCalendar::builder()
            .special_days([
                SpecialDay::off(date(2027, 1, 1), "元旦"),
                SpecialDay::working(date(2027, 1, 9), "元旦"),
                // Agrees with the weekend rule: changes nothing.
                SpecialDay::off(date(2027, 1, 3), "元旦"),
            ])
            .build()
            .unwrap();
        assert_ne!(notice.version(), builtin.version());
        assert_eq!(notice.covered_until(), Some(date(2027, 12, 31)));
        assert_eq!(
            builtin.changed_days(&notice, date(2026, 12, 1), date(2027, 1, 31)),
            [date(2027, 1, 1), date(2027, 1, 9)]
        );
        assert!(
            builtin
                .changed_days(&notice, date(2026, 12, 1), date(2026, 12, 31))
                .is_empty()
        );
        // A day both declare alike is no change, even a working Saturday: only the day
        // one of them declares otherwise.
        let notice_and_spring = BusinessCalendar::builder()
            .special_days([
                SpecialDay::off(date(2027, 1, 1), "元旦"),
                SpecialDay::working(date(2027, 1, 9), "元旦"),
                SpecialDay::off(date(2027, 2, 15), "春节"),
            ])
            .build()
            .unwrap();
        assert_eq!(
            notice.changed_days(&notice_and_spring, date(2027, 1, 1), date(2027, 2, 28)),
            [date(2027, 2, 15)]
        );
        // Other working hours change every working day, and no day off.
        let longer_hours = BusinessCalendar::builder()
            .periods(
                crate::calendar::period::parse_periods(&["08:30-12:00", "14:00-18:00"]).unwrap(),
            )
            .build()
            .unwrap();
        // (date, differs)
        let cases = [
            (date(2026, 11, 30), true),  // a Monday
            (date(2026, 11, 28), false), // a Saturday
            (date(2026, 10, 1), false),  // National Day
        ];
        for (day, differs) in cases {
            assert_eq!(builtin.differs_on(&longer_hours, day), differs, "{day}");
            assert!(!builtin.differs_on(&builtin, day), "{day}");
        }
        assert_eq!(
            builtin.changed_days(&longer_hours, date(2026, 11, 28), date(2026, 11, 30)),
            [date(2026, 11, 28), date(2026, 11, 29), date(2026, 11, 30)],
            "every day of the range, for any of them may hold a deadline"
        );
        // A name alone is no change.
        let renamed = BusinessCalendar::builder()
            .special_day(SpecialDay::off(date(2026, 10, 1), "国庆"))
            .build()
            .unwrap();
        assert_eq!(renamed.version(), builtin.version());
    }

    #[test]
    fn a_recorded_calendar_rebuilds_to_the_same_version() {
        let notice = BusinessCalendar::builder()
            .periods(parse_periods(&["09:00-12:00", "13:00-18:00"]).unwrap())
            .special_day(SpecialDay::off(date(2027, 1, 1), "元旦"))
            .build()
            .unwrap();
        let record = notice.record();
        let json = serde_json::to_string(&record).unwrap();
        let back: CalendarRecord = serde_json::from_str(&json).unwrap();
        let rebuilt = back.build().unwrap();
        assert_eq!(rebuilt.version(), notice.version());
        assert_eq!(rebuilt.record(), record);
        assert!(
            record.days.len() > 200,
            "the embedded days are recorded too"
        );
    }

    #[test]
    fn the_days_that_move_a_deadline_read_as_the_notice_does() {
        let calendar = BusinessCalendar::china_default();
        assert_eq!(
            calendar.moving_days(date(2026, 9, 15), date(2026, 10, 15)),
            [
                "2026-09-20 国庆节调休上班",
                "2026-09-25..27 中秋节",
                "2026-10-01..07 国庆节",
                "2026-10-10 国庆节调休上班",
            ]
        );
        assert!(
            calendar
                .moving_days(date(2026, 11, 1), date(2026, 11, 30))
                .is_empty()
        );
    }
}
