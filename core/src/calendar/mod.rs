//! The business calendar: which days are working days in mainland China,
//! which hours of a working day count, and arithmetic on *working time*.
//!
//! Every deadline of a 12345 hotline order (dispatch, first response,
//! resolution, supervision) is set in working days or working hours, never in
//! wall-clock time. An order taken on Friday evening with a "1 working day"
//! deadline is due on Monday afternoon; one taken on the eve of the National
//! Day holiday is due a week later. This module turns those rules into pure
//! functions over instants so that the engine, its tests and any replay of
//! history all compute the same deadline for the same order.
//!
//! # The rules
//!
//! * Business time is `Asia/Shanghai` local time ([`BUSINESS_TZ`]). The public
//!   API takes and returns [`DateTime<Utc>`]; conversion happens inside, so
//!   callers never mix local and universal time.
//! * A day is a working day if it is Monday–Friday, unless the State Council
//!   declared it a holiday, or if it is a Saturday/Sunday that was declared a
//!   make-up working day (调休). The declarations for 2019–2026 are embedded
//!   from the MIT-licensed [holiday-cn] data set; later years (or local
//!   changes) are added by operators through [`BusinessCalendarBuilder`],
//!   without a rebuild. Days not covered by any declaration follow the
//!   weekend rule alone.
//! * A working day has the same working periods, by default
//!   [`DEFAULT_PERIODS`] (`08:00-12:00` and `14:30-17:30`, 7 hours). A period
//!   is half-open, `[start, end)`: 12:00 is already lunch.
//!
//! # Units and exactness
//!
//! Period boundaries are whole seconds of the day. Working time is a
//! [`std::time::Duration`] (unsigned: the direction is chosen by calling
//! `add_*` or `subtract_*`) and all arithmetic is exact: nothing is rounded
//! to minutes, so whole-second inputs always give whole-second outputs, and
//! sub-second parts of the inputs are carried through unchanged. Rounding a
//! fractional limit (50% of 5 working days) is the caller's policy.
//!
//! # Cost and termination
//!
//! Nothing here iterates minute by minute. The walks step one working period
//! at a time, and outside the range of declared days (where only the weekend
//! rule applies and every 7 consecutive days hold exactly 5 working days) they
//! jump whole weeks at once. A call therefore costs at most a few steps per
//! day *inside* the declared range plus a constant, whatever the duration: a
//! 15-working-day deadline takes about 20 day-steps, and even a duration of a
//! thousand years terminates at once. Every loop is bounded because it moves
//! its date monotonically towards a hard limit (see below).
//!
//! # Range
//!
//! Instants are clamped to the local dates 0001-01-02 ..= 9999-12-30, and
//! results saturate at the ends of that range instead of overflowing or
//! panicking. Nothing in a hotline lives near either end; the clamp exists so
//! that absurd input (`Duration::MAX`, `DateTime::<Utc>::MAX_UTC`) cannot
//! crash the engine.
//!
//! Asia/Shanghai has observed no daylight-saving time since 1991. For earlier
//! instants the results are still well-defined, but a working period that
//! spans a historical DST switch (only plausible for a 24-hour calendar) is
//! not exactly as long as its nominal length.
//!
//! [holiday-cn]: https://github.com/NateScarlet/holiday-cn

mod audit;
mod days;
pub mod notice;
mod period;
mod walk;

pub use audit::{CalendarRecord, RecordedDay, Span, SpanKind};
pub use days::{SpecialDay, builtin_special_days, parse_holiday_cn};
pub use period::{WorkingPeriod, parse_periods};

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc, Weekday};
use chrono_tz::Tz;
use period::validate_periods;
use walk::{add_days, at, local_date, to_delta};

/// The time zone whose wall clock defines working hours and working days.
pub const BUSINESS_TZ: Tz = chrono_tz::Asia::Shanghai;

/// Working periods of a day unless configured otherwise: the usual office
/// hours of a government service centre, 7 working hours per day.
pub const DEFAULT_PERIODS: [&str; 2] = ["08:00-12:00", "14:30-17:30"];

/// Seconds in a (DST-free) day; also the largest allowed period end (`24:00`).
pub(crate) const SECS_PER_DAY: u32 = 86_400;

/// Lowest local date the walks will visit. One day of margin above chrono's
/// own limits keeps every "midnight + offset" computation representable.
pub(crate) const MIN_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1, 1, 2) {
    Some(d) => d,
    None => panic!("0001-01-02 is a valid date"),
};

/// Highest local date the walks will visit; see [`MIN_DATE`].
pub(crate) const MAX_DATE: NaiveDate = match NaiveDate::from_ymd_opt(9999, 12, 30) {
    Some(d) => d,
    None => panic!("9999-12-30 is a valid date"),
};

/// Everything that can be wrong with a calendar's configuration.
///
/// The calendar operations themselves cannot fail: once a
/// [`BusinessCalendar`] is built, every query has an answer. Errors can only
/// come from the strings and data an operator supplies, so each variant says
/// what was given and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// A period string could not be parsed, or its start is not before its end.
    #[error(
        "invalid working period {input:?}: {reason} (expected \"HH:MM-HH:MM\", e.g. \"08:00-12:00\")"
    )]
    InvalidPeriod { input: String, reason: String },

    /// A calendar needs at least one working period, otherwise no deadline
    /// could ever be reached.
    #[error("no working periods configured: a working day needs at least one period")]
    NoPeriods,

    /// Periods must be listed in order and must not overlap, so that each
    /// second of a day is counted at most once.
    #[error(
        "working periods {earlier} and {later} overlap or are out of order: list them sorted by start time, without overlaps"
    )]
    OverlappingPeriods { earlier: String, later: String },

    /// A special day's date is not a `YYYY-MM-DD` calendar date.
    #[error("invalid date {input:?}: expected YYYY-MM-DD, e.g. \"2027-01-01\"")]
    InvalidDate { input: String },

    /// A holiday-cn style JSON document could not be read.
    #[error("invalid holiday data: {message}")]
    HolidayData { message: String },
}

/// Builds a [`BusinessCalendar`]. Starts from the default periods and the
/// embedded declarations; every setting can be overridden.
#[derive(Debug, Clone)]
pub struct BusinessCalendarBuilder {
    periods: Option<Vec<WorkingPeriod>>,
    builtin: bool,
    extra: Vec<SpecialDay>,
}

impl BusinessCalendarBuilder {
    /// Replaces the working periods (validated by [`build`](Self::build)).
    pub fn periods(mut self, periods: Vec<WorkingPeriod>) -> Self {
        self.periods = Some(periods);
        self
    }

    /// Adds one declaration. Declarations added here override the embedded
    /// data for the same date, and later ones override earlier ones, so an
    /// operator can both add a new year and correct a single day.
    pub fn special_day(mut self, day: SpecialDay) -> Self {
        self.extra.push(day);
        self
    }

    /// Adds declarations; see [`special_day`](Self::special_day).
    pub fn special_days(mut self, days: impl IntoIterator<Item = SpecialDay>) -> Self {
        self.extra.extend(days);
        self
    }

    /// Drops the embedded 2019–2026 declarations: only the weekend rule and
    /// the declarations added to this builder apply.
    pub fn without_builtin_days(mut self) -> Self {
        self.builtin = false;
        self
    }

    /// Validates the periods and assembles the calendar.
    pub fn build(self) -> Result<BusinessCalendar, CalendarError> {
        let periods = match self.periods {
            Some(p) => p,
            None => parse_periods(&DEFAULT_PERIODS)?,
        };
        validate_periods(&periods)?;

        let builtin: &[SpecialDay] = if self.builtin {
            builtin_special_days()
        } else {
            &[]
        };
        // Inserted in order, so operator entries overwrite the embedded ones.
        let mut special: HashMap<NaiveDate, SpecialDay> =
            HashMap::with_capacity(builtin.len() + self.extra.len());
        for day in builtin.iter().cloned().chain(self.extra) {
            special.insert(day.date, day);
        }
        let special_range = special
            .keys()
            .min()
            .copied()
            .zip(special.keys().max().copied());

        let day_secs: i64 = periods.iter().map(|p| i64::from(p.end - p.start)).sum();
        let floor = at(MIN_DATE, 0);
        let ceiling = MAX_DATE
            .succ_opt()
            .map_or(DateTime::<Utc>::MAX_UTC, |d| at(d, 0));
        Ok(BusinessCalendar {
            periods,
            day_secs,
            special,
            special_range,
            floor,
            ceiling,
        })
    }
}

/// Working days, working hours and arithmetic on working time.
///
/// Cheap to query and immutable once built; share it behind an `Arc` (it is
/// `Send + Sync`). Build with [`china_default`](Self::china_default),
/// [`new`](Self::new) or [`builder`](Self::builder).
#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    /// Sorted, disjoint, non-empty.
    periods: Vec<WorkingPeriod>,
    /// Working seconds in one working day.
    day_secs: i64,
    /// Declared exceptions to the weekend rule, by local date.
    special: HashMap<NaiveDate, SpecialDay>,
    /// Smallest and largest declared date. Outside this range only the
    /// weekend rule applies, which is what lets the walks skip whole weeks.
    special_range: Option<(NaiveDate, NaiveDate)>,
    /// Start of [`MIN_DATE`]: the earliest instant any operation returns.
    floor: DateTime<Utc>,
    /// End of [`MAX_DATE`]: the latest instant any operation returns.
    ceiling: DateTime<Utc>,
}

impl Default for BusinessCalendar {
    fn default() -> Self {
        Self::china_default()
    }
}

impl BusinessCalendar {
    /// Default hours ([`DEFAULT_PERIODS`]) and the embedded 2019–2026 data.
    pub fn china_default() -> Self {
        Self::builder()
            .build()
            .expect("the default periods and embedded data are valid")
    }

    /// Starts from the defaults; see [`BusinessCalendarBuilder`].
    pub fn builder() -> BusinessCalendarBuilder {
        BusinessCalendarBuilder {
            periods: None,
            builtin: true,
            extra: Vec::new(),
        }
    }

    /// The embedded data plus `extra_days` (which win over it), with the
    /// given working periods.
    pub fn new(
        periods: Vec<WorkingPeriod>,
        extra_days: Vec<SpecialDay>,
    ) -> Result<Self, CalendarError> {
        Self::builder()
            .periods(periods)
            .special_days(extra_days)
            .build()
    }

    /// The working periods of every working day, in order.
    pub fn periods(&self) -> &[WorkingPeriod] {
        &self.periods
    }

    /// The declaration for `date`, if any (e.g. to show "国庆节" in the UI).
    pub fn special_day(&self, date: NaiveDate) -> Option<&SpecialDay> {
        self.special.get(&date)
    }

    /// Whether `date` (a local Asia/Shanghai date) is a working day.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        match self.special.get(&date) {
            Some(day) => !day.off,
            None => !matches!(date.weekday(), Weekday::Sat | Weekday::Sun),
        }
    }

    /// Whether `t` falls inside a working period (`[start, end)`).
    pub fn is_working_time(&self, t: DateTime<Utc>) -> bool {
        let t = self.clamp(t);
        let date = local_date(t);
        self.is_working_day(date)
            && self
                .periods
                .iter()
                .any(|p| at(date, p.start) <= t && t < at(date, p.end))
    }

    /// Working time in one working day (7 hours by default).
    pub fn working_day_length(&self) -> Duration {
        Duration::from_secs(self.day_secs.unsigned_abs())
    }

    /// `n` working days as working time: `n ×` [`working_day_length`](Self::working_day_length).
    pub fn working_days(&self, n: u32) -> Duration {
        Duration::from_secs(self.day_secs.unsigned_abs() * u64::from(n))
    }

    /// `t` itself if it is inside a working period, else the start of the
    /// next one: a clock started outside working hours starts then.
    pub fn next_working_instant(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        self.walk_forward(t, TimeDelta::zero())
    }

    /// `t` itself if it is inside a working period or exactly at its start or
    /// end (`[start, end]`), else the end of the previous one. The mirror
    /// image of [`next_working_instant`](Self::next_working_instant), used by
    /// backward arithmetic.
    pub fn previous_working_instant(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        self.walk_backward(t, TimeDelta::zero())
    }

    /// Moves forward by `amount` of working time.
    ///
    /// Starting outside working hours first moves to the next working
    /// period. When `amount` runs out exactly at the end of a period, the
    /// result is that end (Mon 10:00 + 5 h = Mon 17:30, not Tue 08:00), so a
    /// deadline is never pushed across a night or a holiday for nothing.
    pub fn add_working_time(&self, t: DateTime<Utc>, amount: Duration) -> DateTime<Utc> {
        self.walk_forward(t, to_delta(amount))
    }

    /// Moves backwards by `amount` of working time: the inverse of
    /// [`add_working_time`](Self::add_working_time).
    ///
    /// Starting outside working hours first moves back to the end of the
    /// previous period; running out exactly at a period's start gives that
    /// start. So for `t` inside working hours,
    /// `subtract_working_time(add_working_time(t, d), d) == t`.
    pub fn subtract_working_time(&self, t: DateTime<Utc>, amount: Duration) -> DateTime<Utc> {
        self.walk_backward(t, to_delta(amount))
    }

    /// Adds `n` working days, defined as `n ×` the working day's length of
    /// working time: Mon 10:00 + 1 = Tue 10:00, Fri 19:00 + 1 = Mon 17:30.
    /// Fractions of a day go through [`add_working_time`](Self::add_working_time),
    /// e.g. 2.5 working days is `cal.working_day_length().mul_f64(2.5)`.
    pub fn add_working_days(&self, t: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        self.add_working_time(t, self.working_days(n))
    }

    /// Subtracts `n` working days; see [`add_working_days`](Self::add_working_days).
    pub fn subtract_working_days(&self, t: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        self.subtract_working_time(t, self.working_days(n))
    }

    /// Working time inside `[a, b)`; zero if `b <= a`.
    ///
    /// Consistent with the walks: for every `t` and `d >= 0`,
    /// `working_time_between(t, add_working_time(t, d)) == d`.
    pub fn working_time_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> Duration {
        let (a, b) = (self.clamp(a), self.clamp(b));
        if b <= a {
            return Duration::ZERO;
        }
        let first = local_date(a);
        let last = local_date(b);
        let mut total = TimeDelta::zero();
        let mut date = first;
        while date <= last {
            // Days strictly between the first and last day are whole days;
            // in the weekend-rule region a week of them is exactly 5 days' work.
            if date > first && date < last {
                let room = self.regular_days_ahead(date).min((last - date).num_days());
                let weeks = room / 7;
                if weeks > 0 {
                    total += TimeDelta::seconds(weeks * 5 * self.day_secs);
                    date = add_days(date, weeks * 7);
                    continue;
                }
            }
            if self.is_working_day(date) {
                for p in &self.periods {
                    let from = at(date, p.start).max(a);
                    let to = at(date, p.end).min(b);
                    if to > from {
                        total += to - from;
                    }
                }
            }
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
        }
        // Never negative: every term added is positive.
        total.to_std().unwrap_or(Duration::ZERO)
    }
}

/// The business (Asia/Shanghai) date of an instant.
pub fn business_date(instant: DateTime<Utc>) -> chrono::NaiveDate {
    walk::local_date(instant)
}

/// Local (Asia/Shanghai) midnight at the start of `date`.
pub fn start_of_business_day(date: chrono::NaiveDate) -> DateTime<Utc> {
    walk::at(date, 0)
}

/// An instant in business time (`+08:00`), to the whole second: how the engine's own
/// events carry the time they happened.
pub fn business_instant(instant: DateTime<Utc>) -> DateTime<chrono::FixedOffset> {
    use chrono::SubsecRound;
    instant
        .with_timezone(&BUSINESS_TZ)
        .fixed_offset()
        .trunc_subsecs(0)
}

/// Formats an instant as RFC 3339 in business time (`2026-09-30T16:20:00+08:00`), whole
/// seconds: how every time in the engine's messages and API is written.
pub fn business_time(instant: DateTime<Utc>) -> String {
    instant
        .with_timezone(&BUSINESS_TZ)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

#[cfg(test)]
mod tests;
