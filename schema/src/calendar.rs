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

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta,
    TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::Deserialize;

/// The time zone whose wall clock defines working hours and working days.
pub const BUSINESS_TZ: Tz = chrono_tz::Asia::Shanghai;

/// Working periods of a day unless configured otherwise: the usual office
/// hours of a government service centre, 7 working hours per day.
pub const DEFAULT_PERIODS: [&str; 2] = ["08:00-12:00", "14:30-17:30"];

/// Seconds in a (DST-free) day; also the largest allowed period end (`24:00`).
const SECS_PER_DAY: u32 = 86_400;

/// Lowest local date the walks will visit. One day of margin above chrono's
/// own limits keeps every "midnight + offset" computation representable.
const MIN_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1, 1, 2) {
    Some(d) => d,
    None => panic!("0001-01-02 is a valid date"),
};

/// Highest local date the walks will visit; see [`MIN_DATE`].
const MAX_DATE: NaiveDate = match NaiveDate::from_ymd_opt(9999, 12, 30) {
    Some(d) => d,
    None => panic!("9999-12-30 is a valid date"),
};

/// The embedded holiday-cn files, 2019 to 2026 in order. Each file covers
/// one year's State Council notice (a file may also declare days of the
/// neighbouring year, e.g. the 2019 file declares 2018-12-29..31).
const BUILTIN_FILES: [&str; 8] = [
    include_str!("../calendar/holiday-cn/2019.json"),
    include_str!("../calendar/holiday-cn/2020.json"),
    include_str!("../calendar/holiday-cn/2021.json"),
    include_str!("../calendar/holiday-cn/2022.json"),
    include_str!("../calendar/holiday-cn/2023.json"),
    include_str!("../calendar/holiday-cn/2024.json"),
    include_str!("../calendar/holiday-cn/2025.json"),
    include_str!("../calendar/holiday-cn/2026.json"),
];

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

/// One working period of a working day, e.g. `08:00-12:00`.
///
/// Stored as seconds since local midnight, half-open `[start, end)`. The end
/// may be `24:00` so that a round-the-clock calendar (`00:00-24:00`) can be
/// expressed; the start may not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkingPeriod {
    start: u32,
    end: u32,
}

impl WorkingPeriod {
    /// Creates a period from seconds since local midnight.
    ///
    /// Rejects `start >= end` and an end beyond `24:00` (86 400).
    pub fn from_seconds(start: u32, end: u32) -> Result<Self, CalendarError> {
        let input = || format!("{}-{}", format_secs(start), format_secs(end));
        if end > SECS_PER_DAY {
            return Err(CalendarError::InvalidPeriod {
                input: input(),
                reason: "the end is after 24:00".into(),
            });
        }
        if start >= end {
            return Err(CalendarError::InvalidPeriod {
                input: input(),
                reason: "the start must be before the end".into(),
            });
        }
        Ok(Self { start, end })
    }

    /// Parses `"HH:MM-HH:MM"` (seconds optional: `"HH:MM:SS-HH:MM:SS"`).
    ///
    /// Hours are `00`–`23`; `24:00` is accepted only as an end. Whitespace
    /// around either time is ignored, because config files are hand-written.
    pub fn parse(spec: &str) -> Result<Self, CalendarError> {
        let invalid = |reason: &str| CalendarError::InvalidPeriod {
            input: spec.to_owned(),
            reason: reason.to_owned(),
        };
        let (start, end) = spec
            .split_once('-')
            .ok_or_else(|| invalid("missing '-' between start and end"))?;
        let start = parse_clock(start.trim()).map_err(|reason| invalid(&reason))?;
        let end = parse_clock(end.trim()).map_err(|reason| invalid(&reason))?;
        if start == SECS_PER_DAY {
            return Err(invalid("24:00 can only be an end"));
        }
        if start >= end {
            return Err(invalid("the start must be before the end"));
        }
        Ok(Self { start, end })
    }

    /// Start, in seconds since local midnight.
    pub fn start_seconds(&self) -> u32 {
        self.start
    }

    /// End (exclusive), in seconds since local midnight; at most 86 400.
    pub fn end_seconds(&self) -> u32 {
        self.end
    }

    /// How much working time the period holds.
    pub fn length(&self) -> Duration {
        Duration::from_secs(u64::from(self.end - self.start))
    }
}

impl FromStr for WorkingPeriod {
    type Err = CalendarError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for WorkingPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", format_secs(self.start), format_secs(self.end))
    }
}

/// Parses a list of period strings and checks that, together, they form a
/// valid working day: at least one period, sorted, no overlaps.
///
/// ```
/// # use hotline_schema::calendar::parse_periods;
/// let periods = parse_periods(&["08:00-12:00", "14:30-17:30"]).unwrap();
/// assert_eq!(periods.len(), 2);
/// assert!(parse_periods(&["12:00-08:00"]).is_err());
/// ```
pub fn parse_periods<S: AsRef<str>>(specs: &[S]) -> Result<Vec<WorkingPeriod>, CalendarError> {
    let periods = specs
        .iter()
        .map(|s| WorkingPeriod::parse(s.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    validate_periods(&periods)?;
    Ok(periods)
}

/// Checks the invariants the walks rely on: non-empty, sorted, disjoint.
/// Adjacent periods (`08:00-12:00`, `12:00-13:00`) are allowed.
fn validate_periods(periods: &[WorkingPeriod]) -> Result<(), CalendarError> {
    if periods.is_empty() {
        return Err(CalendarError::NoPeriods);
    }
    for pair in periods.windows(2) {
        if pair[0].end > pair[1].start {
            return Err(CalendarError::OverlappingPeriods {
                earlier: pair[0].to_string(),
                later: pair[1].to_string(),
            });
        }
    }
    Ok(())
}

/// Parses `H:MM`, `HH:MM` or `HH:MM:SS` into seconds since midnight.
fn parse_clock(s: &str) -> Result<u32, String> {
    let parts: Vec<&str> = s.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return Err(format!("{s:?} is not a time of day"));
    }
    let number = |part: &str, max_len: usize| -> Result<u32, String> {
        if part.is_empty() || part.len() > max_len || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{s:?} is not a time of day"));
        }
        part.parse::<u32>()
            .map_err(|_| format!("{s:?} is not a time of day"))
    };
    let hours = number(parts[0], 2)?;
    let minutes = number(parts[1], 2)?;
    let seconds = match parts.get(2) {
        Some(p) => number(p, 2)?,
        None => 0,
    };
    if parts[1].len() != 2 || parts.get(2).is_some_and(|p| p.len() != 2) {
        return Err(format!("{s:?}: minutes and seconds take two digits"));
    }
    if minutes > 59 || seconds > 59 {
        return Err(format!("{s:?}: minutes and seconds must be 00-59"));
    }
    if hours > 24 || (hours == 24 && (minutes, seconds) != (0, 0)) {
        return Err(format!("{s:?}: hours must be 00-23 (24:00 only as an end)"));
    }
    Ok(hours * 3600 + minutes * 60 + seconds)
}

/// Formats seconds since midnight as `HH:MM`, or `HH:MM:SS` when needed.
fn format_secs(secs: u32) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if s == 0 {
        format!("{h:02}:{m:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// A declared exception to the weekend rule: a holiday on a weekday
/// (`off: true`) or a make-up working day on a weekend (`off: false`).
///
/// A declaration that agrees with the weekend rule (a holiday on a Sunday)
/// is harmless; the notices list them so the data keeps them too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialDay {
    /// The local (Asia/Shanghai) date.
    pub date: NaiveDate,
    /// `true`: no work that day; `false`: a working day.
    pub off: bool,
    /// What the notice calls it, e.g. "国庆节"; for display and audit only.
    pub name: String,
}

impl SpecialDay {
    /// A day off, e.g. a public holiday.
    pub fn off(date: NaiveDate, name: impl Into<String>) -> Self {
        Self {
            date,
            off: true,
            name: name.into(),
        }
    }

    /// A working day, e.g. a make-up Saturday.
    pub fn working(date: NaiveDate, name: impl Into<String>) -> Self {
        Self {
            date,
            off: false,
            name: name.into(),
        }
    }

    /// Builds a special day from operator input, with the date as `YYYY-MM-DD`.
    pub fn parse(date: &str, off: bool, name: &str) -> Result<Self, CalendarError> {
        let parsed = NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").map_err(|_| {
            CalendarError::InvalidDate {
                input: date.to_owned(),
            }
        })?;
        Ok(Self {
            date: parsed,
            off,
            name: name.to_owned(),
        })
    }
}

/// The subset of a holiday-cn file that matters here; `year`, `papers` and
/// the schema links are ignored.
#[derive(Deserialize)]
struct HolidayCnFile {
    days: Vec<HolidayCnDay>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HolidayCnDay {
    name: String,
    date: NaiveDate,
    is_off_day: bool,
}

/// Reads a document in the holiday-cn format
/// (`{"year":2027,"days":[{"name":"元旦","date":"2027-01-01","isOffDay":true}, ...]}`).
///
/// This is how a new year's notice gets in without a rebuild: the operator
/// drops the published file next to the config and passes its text to
/// [`BusinessCalendarBuilder::special_days`].
pub fn parse_holiday_cn(json: &str) -> Result<Vec<SpecialDay>, CalendarError> {
    let file: HolidayCnFile =
        serde_json::from_str(json).map_err(|e| CalendarError::HolidayData {
            message: e.to_string(),
        })?;
    Ok(file
        .days
        .into_iter()
        .map(|d| SpecialDay {
            date: d.date,
            off: d.is_off_day,
            name: d.name,
        })
        .collect())
}

/// The declarations embedded at build time (2019–2026), parsed once.
///
/// The data is part of the binary and covered by this module's tests, so a
/// parse failure is a build defect, not a runtime condition: hence the panic.
pub fn builtin_special_days() -> &'static [SpecialDay] {
    static BUILTIN: OnceLock<Vec<SpecialDay>> = OnceLock::new();
    BUILTIN.get_or_init(|| {
        BUILTIN_FILES
            .iter()
            .zip(2019..)
            .flat_map(|(json, year)| {
                parse_holiday_cn(json).unwrap_or_else(|e| {
                    panic!("embedded holiday-cn file {year}.json must parse: {e}")
                })
            })
            .collect()
    })
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

    /// Keeps `t` inside the supported range; see the module docs.
    fn clamp(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        t.clamp(self.floor, self.ceiling)
    }

    /// How many days from `date` on (inclusive) follow the weekend rule
    /// alone and lie within the supported range: the room for week skips.
    fn regular_days_ahead(&self, date: NaiveDate) -> i64 {
        let to_limit = (MAX_DATE - date).num_days() + 1;
        let room = match self.special_range {
            Some((lo, _)) if date < lo => (lo - date).num_days().min(to_limit),
            Some((_, hi)) if date <= hi => 0,
            _ => to_limit,
        };
        room.max(0)
    }

    /// The mirror of [`regular_days_ahead`](Self::regular_days_ahead): days
    /// from `date` back (inclusive).
    fn regular_days_behind(&self, date: NaiveDate) -> i64 {
        let to_limit = (date - MIN_DATE).num_days() + 1;
        let room = match self.special_range {
            Some((_, hi)) if date > hi => (date - hi).num_days().min(to_limit),
            Some((lo, _)) if date >= lo => 0,
            _ => to_limit,
        };
        room.max(0)
    }

    /// Whole weeks that can be skipped while strictly more than their
    /// working time remains, so the walk still ends inside a later day.
    fn weeks_to_skip(&self, remaining: TimeDelta, room_days: i64) -> i64 {
        let week = 5 * self.day_secs;
        if remaining <= TimeDelta::zero() || room_days < 7 {
            return 0;
        }
        // Largest k with k * week < remaining (not <=: an exact fit must end
        // at the end of the last working day, which the day loop handles).
        let secs = remaining.num_seconds();
        let k = if remaining.subsec_nanos() > 0 {
            secs / week
        } else {
            (secs - 1) / week
        };
        k.min(room_days / 7)
    }

    /// Forward walk: consume `remaining >= 0` of working time from `t`.
    ///
    /// With `remaining == 0` this is [`next_working_instant`](Self::next_working_instant).
    /// Terminates because the date strictly increases and stops at [`MAX_DATE`].
    fn walk_forward(&self, t: DateTime<Utc>, mut remaining: TimeDelta) -> DateTime<Utc> {
        let t = self.clamp(t);
        let mut date = local_date(t);
        let mut first_day = true;
        loop {
            if date > MAX_DATE {
                return self.ceiling;
            }
            if !first_day {
                let weeks = self.weeks_to_skip(remaining, self.regular_days_ahead(date));
                if weeks > 0 {
                    remaining -= TimeDelta::seconds(weeks * 5 * self.day_secs);
                    date = add_days(date, weeks * 7);
                    continue;
                }
            }
            if self.is_working_day(date) {
                for p in &self.periods {
                    let end = at(date, p.end);
                    if end <= t {
                        continue;
                    }
                    let from = at(date, p.start).max(t);
                    let available = end - from;
                    if remaining <= available {
                        return from + remaining;
                    }
                    remaining -= available;
                }
            }
            match date.succ_opt() {
                Some(next) => date = next,
                None => return self.ceiling,
            }
            first_day = false;
        }
    }

    /// Backward walk: the mirror image of [`walk_forward`](Self::walk_forward),
    /// treating periods as closed `[start, end]` so that an instant at a
    /// period's end is a valid starting point and running out at a start
    /// returns that start.
    fn walk_backward(&self, t: DateTime<Utc>, mut remaining: TimeDelta) -> DateTime<Utc> {
        let t = self.clamp(t);
        let mut date = local_date(t);
        let mut first_day = true;
        loop {
            if date < MIN_DATE {
                return self.floor;
            }
            if !first_day {
                let weeks = self.weeks_to_skip(remaining, self.regular_days_behind(date));
                if weeks > 0 {
                    remaining -= TimeDelta::seconds(weeks * 5 * self.day_secs);
                    date = sub_days(date, weeks * 7);
                    continue;
                }
            }
            if self.is_working_day(date) {
                for p in self.periods.iter().rev() {
                    let start = at(date, p.start);
                    if start > t {
                        continue;
                    }
                    let to = at(date, p.end).min(t);
                    let available = to - start;
                    if remaining <= available {
                        return to - remaining;
                    }
                    remaining -= available;
                }
            }
            match date.pred_opt() {
                Some(prev) => date = prev,
                None => return self.floor,
            }
            first_day = false;
        }
    }
}

/// The local (business) date of an instant.
fn local_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&BUSINESS_TZ).date_naive()
}

/// The instant at `secs` seconds after local midnight of `date`.
///
/// `secs` may be 86 400 (a `24:00` period end), i.e. next midnight. Local
/// times that do not exist (a historical DST gap) are mapped with the offset
/// in force just before the gap; ambiguous ones take the earlier instant.
fn at(date: NaiveDate, secs: u32) -> DateTime<Utc> {
    let midnight = date.and_time(NaiveTime::MIN);
    let local = midnight
        .checked_add_signed(TimeDelta::seconds(i64::from(secs)))
        .unwrap_or(NaiveDateTime::MAX);
    match BUSINESS_TZ.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        LocalResult::None => {
            let before = local
                .checked_sub_signed(TimeDelta::hours(3))
                .unwrap_or(local);
            let offset = BUSINESS_TZ.offset_from_utc_datetime(&before).fix();
            let utc = local
                .checked_sub_signed(TimeDelta::seconds(i64::from(offset.local_minus_utc())))
                .unwrap_or(local);
            Utc.from_utc_datetime(&utc)
        }
    }
}

/// Working time as chrono's signed type, which the instant arithmetic uses.
/// Saturates: a `Duration` beyond `TimeDelta::MAX` (~292 million years) is
/// as good as infinite here.
fn to_delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// `date + days`, saturating far beyond the supported range (callers check
/// against [`MAX_DATE`] right after).
fn add_days(date: NaiveDate, days: i64) -> NaiveDate {
    date.checked_add_days(Days::new(days.unsigned_abs()))
        .unwrap_or(NaiveDate::MAX)
}

/// `date - days`, saturating; see [`add_days`].
fn sub_days(date: NaiveDate, days: i64) -> NaiveDate {
    date.checked_sub_days(Days::new(days.unsigned_abs()))
        .unwrap_or(NaiveDate::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    // ---------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------

    /// "2026-09-30 16:00" or "2026-09-30 16:00:05", Asia/Shanghai, as UTC.
    fn sh(s: &str) -> DateTime<Utc> {
        let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
            .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M"))
            .unwrap_or_else(|e| panic!("bad test instant {s:?}: {e}"));
        BUSINESS_TZ
            .from_local_datetime(&naive)
            .single()
            .expect("unambiguous")
            .with_timezone(&Utc)
    }

    /// Local rendering for readable assertion failures.
    fn show(t: DateTime<Utc>) -> String {
        t.with_timezone(&BUSINESS_TZ)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
    }

    fn mins(m: u64) -> Duration {
        Duration::from_secs(m * 60)
    }

    /// Working time from a PRNG draw (always non-negative here).
    fn secs(s: i64) -> Duration {
        Duration::from_secs(s.unsigned_abs())
    }

    fn cal() -> BusinessCalendar {
        BusinessCalendar::china_default()
    }

    /// SplitMix64: a tiny deterministic PRNG, so property tests are
    /// reproducible without extra crates.
    struct SplitMix64(u64);

    impl SplitMix64 {
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// Uniform in `lo..=hi` (modulo bias is irrelevant here).
        fn range(&mut self, lo: i64, hi: i64) -> i64 {
            let span = (hi - lo) as u64 + 1;
            lo + (self.next_u64() % span) as i64
        }

        /// A random instant in `[from, to)`, whole seconds.
        fn instant(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> DateTime<Utc> {
            from + TimeDelta::seconds(self.range(0, (to - from).num_seconds() - 1))
        }
    }

    const SAMPLES: usize = 3000;
    /// 15 working days of the default calendar, in seconds.
    const MAX_PROPERTY_SECS: i64 = 15 * 420 * 60;

    /// Working intervals of `cal` from `from` through `to` (local dates),
    /// built in the most obvious way: the reference the fast walks are
    /// checked against.
    fn intervals(
        cal: &BusinessCalendar,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        from.iter_days()
            .take_while(|d| *d <= to)
            .filter(|d| cal.is_working_day(*d))
            .flat_map(|d| {
                cal.periods()
                    .iter()
                    .map(move |p| (at(d, p.start_seconds()), at(d, p.end_seconds())))
            })
            .collect()
    }

    fn reference_add(
        ivs: &[(DateTime<Utc>, DateTime<Utc>)],
        t: DateTime<Utc>,
        d: Duration,
    ) -> DateTime<Utc> {
        let mut remaining = to_delta(d);
        for &(s, e) in ivs {
            if e <= t {
                continue;
            }
            let from = s.max(t);
            if remaining <= e - from {
                return from + remaining;
            }
            remaining -= e - from;
        }
        panic!("reference intervals too short");
    }

    fn reference_between(
        ivs: &[(DateTime<Utc>, DateTime<Utc>)],
        a: DateTime<Utc>,
        b: DateTime<Utc>,
    ) -> Duration {
        ivs.iter()
            .map(|&(s, e)| (e.min(b) - s.max(a)).to_std().unwrap_or(Duration::ZERO))
            .sum()
    }

    /// Inside a working period, or exactly at a period's end.
    fn in_period_or_at_end(cal: &BusinessCalendar, t: DateTime<Utc>) -> bool {
        let d = local_date(t);
        cal.is_working_time(t)
            || [d, d.pred_opt().expect("in range")].iter().any(|&day| {
                cal.is_working_day(day)
                    && cal.periods().iter().any(|p| at(day, p.end_seconds()) == t)
            })
    }

    // ---------------------------------------------------------------------
    // Embedded data
    // ---------------------------------------------------------------------

    #[test]
    fn embedded_data_parses_and_covers_2019_to_2026() {
        let days = builtin_special_days();
        for year in 2019..=2026 {
            assert!(
                days.iter().any(|d| d.date.year() == year && d.off),
                "no holidays for {year}"
            );
        }
        // Each file is a year's notice: a few dozen entries each.
        assert!(days.len() > 8 * 25, "only {} entries", days.len());
        let c = cal();
        for d in days {
            assert_eq!(c.is_working_day(d.date), !d.off, "{d:?}");
        }
    }

    #[test]
    fn embedded_files_are_in_year_order() {
        // builtin_special_days() names files by position; keep them aligned.
        for (json, year) in BUILTIN_FILES.iter().zip(2019..) {
            let value: serde_json::Value = serde_json::from_str(json).expect("valid JSON");
            assert_eq!(value["year"], year);
        }
    }

    #[test]
    fn embedded_make_up_days_fall_on_weekends() {
        // A make-up working day only means something on a weekend. The one
        // exception in the data is 2020-02-03 (the extended Spring Festival
        // of 2020 ended on the Sunday; Monday is listed as a working day).
        for d in builtin_special_days().iter().filter(|d| !d.off) {
            let weekend = matches!(d.date.weekday(), Weekday::Sat | Weekday::Sun);
            assert!(weekend || d.date == date("2020-02-03"), "{d:?}");
        }
    }

    // ---------------------------------------------------------------------
    // Working days
    // ---------------------------------------------------------------------

    #[test]
    fn working_days_table() {
        let table = [
            // National Day 2026 and its make-up days.
            ("2026-09-19", false), // Saturday
            ("2026-09-20", true),  // Sunday, make-up day
            ("2026-09-25", false), // Mid-Autumn (Friday)
            ("2026-09-30", true),  // Wednesday
            ("2026-10-01", false),
            ("2026-10-02", false),
            ("2026-10-03", false),
            ("2026-10-04", false),
            ("2026-10-05", false),
            ("2026-10-06", false),
            ("2026-10-07", false),
            ("2026-10-08", true),  // Thursday
            ("2026-10-10", true),  // Saturday, make-up day
            ("2026-10-11", false), // Sunday
            // Spring Festival 2026: off 02-15..23, make-up 02-14 and 02-28.
            ("2026-02-13", true),
            ("2026-02-14", true), // Saturday, make-up day
            ("2026-02-15", false),
            ("2026-02-18", false),
            ("2026-02-23", false), // Monday, still holiday
            ("2026-02-24", true),
            ("2026-02-28", true),  // Saturday, make-up day
            ("2026-03-01", false), // Sunday
            // New Year 2026: 01-01..03 off, Sunday 01-04 a make-up day.
            ("2026-01-01", false),
            ("2026-01-02", false),
            ("2026-01-04", true),
            // Data from the 2019 file that lands in 2018.
            ("2018-12-29", true), // Saturday, make-up day
            ("2018-12-31", false),
            // Outside the data: weekend rule only.
            ("2027-01-01", true),  // Friday; no 2027 data embedded
            ("2030-01-05", false), // Saturday
            ("2030-01-07", true),  // Monday
            ("2010-10-01", true),  // Friday; no 2010 data
            ("2026-06-15", true),  // ordinary Monday
        ];
        let c = cal();
        for (d, expected) in table {
            assert_eq!(c.is_working_day(date(d)), expected, "{d:?}");
        }
    }

    #[test]
    fn special_day_names_are_kept() {
        let c = cal();
        assert_eq!(
            c.special_day(date("2026-10-01")).map(|d| d.name.as_str()),
            Some("国庆节")
        );
        assert_eq!(c.special_day(date("2026-06-15")), None);
    }

    // ---------------------------------------------------------------------
    // Instants
    // ---------------------------------------------------------------------

    #[test]
    fn next_working_instant_table() {
        let table = [
            ("2026-06-15 07:00", "2026-06-15 08:00:00"), // Monday, before work
            ("2026-06-15 08:00", "2026-06-15 08:00:00"), // exactly at start
            ("2026-06-15 11:59:59", "2026-06-15 11:59:59"),
            ("2026-06-15 12:00", "2026-06-15 14:30:00"), // period end is exclusive
            ("2026-06-15 12:30", "2026-06-15 14:30:00"), // lunch
            ("2026-06-15 14:30", "2026-06-15 14:30:00"),
            ("2026-06-15 17:29:59", "2026-06-15 17:29:59"),
            ("2026-06-15 17:30", "2026-06-16 08:00:00"), // end of day
            ("2026-06-15 23:59:59", "2026-06-16 08:00:00"),
            ("2026-06-12 19:00", "2026-06-15 08:00:00"), // Friday evening
            ("2026-06-18 18:00", "2026-06-22 08:00:00"), // Dragon Boat 06-19..21
            ("2026-10-03 10:00", "2026-10-08 08:00:00"), // National Day
            ("2026-09-30 17:30", "2026-10-08 08:00:00"),
            ("2026-09-19 10:00", "2026-09-20 08:00:00"), // Sat off, Sun make-up
            ("2026-02-14 07:00", "2026-02-14 08:00:00"), // Saturday make-up
            ("2026-02-14 18:00", "2026-02-24 08:00:00"), // Spring Festival
        ];
        let c = cal();
        for (input, expected) in table {
            assert_eq!(show(c.next_working_instant(sh(input))), expected, "{input}");
        }
    }

    #[test]
    fn previous_working_instant_table() {
        let table = [
            ("2026-06-15 12:00", "2026-06-15 12:00:00"), // end is included backwards
            ("2026-06-15 08:00", "2026-06-15 08:00:00"), // start too
            ("2026-06-15 13:00", "2026-06-15 12:00:00"),
            ("2026-06-15 07:00", "2026-06-12 17:30:00"), // back over the weekend
            ("2026-10-08 07:59", "2026-09-30 17:30:00"),
        ];
        let c = cal();
        for (input, expected) in table {
            assert_eq!(
                show(c.previous_working_instant(sh(input))),
                expected,
                "{input}"
            );
        }
    }

    #[test]
    fn is_working_time_table() {
        let table = [
            ("2026-06-15 07:59:59", false),
            ("2026-06-15 08:00", true),
            ("2026-06-15 12:00", false),
            ("2026-06-15 14:29:59", false),
            ("2026-06-15 14:30", true),
            ("2026-06-15 17:30", false),
            ("2026-06-13 10:00", false), // Saturday
            ("2026-09-20 10:00", true),  // make-up Sunday
            ("2026-10-01 10:00", false),
        ];
        let c = cal();
        for (input, expected) in table {
            assert_eq!(c.is_working_time(sh(input)), expected, "{input}");
        }
    }

    // ---------------------------------------------------------------------
    // Arithmetic
    // ---------------------------------------------------------------------

    #[test]
    fn add_working_time_table() {
        // (start, working minutes, expected)
        let table = [
            ("2026-06-15 10:00", 300, "2026-06-15 17:30:00"), // exact end of day
            ("2026-06-15 10:00", 301, "2026-06-16 08:01:00"),
            ("2026-06-15 10:00", 120, "2026-06-15 12:00:00"), // exact end of morning
            ("2026-06-15 10:00", 121, "2026-06-15 14:31:00"),
            ("2026-06-15 08:00", 0, "2026-06-15 08:00:00"),
            ("2026-06-15 08:00", 240, "2026-06-15 12:00:00"),
            ("2026-06-15 08:00", 420, "2026-06-15 17:30:00"),
            ("2026-06-15 08:00", 421, "2026-06-16 08:01:00"),
            ("2026-06-15 12:30", 0, "2026-06-15 14:30:00"), // lunch
            ("2026-06-15 12:30", 60, "2026-06-15 15:30:00"),
            ("2026-06-15 17:30", 0, "2026-06-16 08:00:00"),
            ("2026-06-15 17:30", 1, "2026-06-16 08:01:00"),
            ("2026-06-15 17:30", 420, "2026-06-16 17:30:00"),
            ("2026-06-12 19:00", 420, "2026-06-15 17:30:00"), // Friday evening
            ("2026-06-12 17:00", 60, "2026-06-15 08:30:00"),  // Friday afternoon
            ("2026-06-15 08:00", 1050, "2026-06-17 11:30:00"), // 2.5 working days
            ("2026-09-30 16:00", 420, "2026-10-08 16:00:00"), // over National Day
            ("2026-09-30 16:00", 90, "2026-09-30 17:30:00"),
            ("2026-09-30 16:00", 120, "2026-10-08 08:30:00"),
            ("2026-10-03 10:00", 0, "2026-10-08 08:00:00"),
            ("2026-10-03 10:00", 1, "2026-10-08 08:01:00"),
            ("2026-09-19 10:00", 60, "2026-09-20 09:00:00"), // make-up Sunday
            ("2026-10-09 16:00", 420, "2026-10-10 16:00:00"), // into make-up Saturday
            ("2026-02-13 16:00", 420, "2026-02-14 16:00:00"), // Spring Festival
            ("2026-02-14 16:00", 420, "2026-02-24 16:00:00"),
            ("2026-02-27 16:00", 420, "2026-02-28 16:00:00"),
        ];
        let c = cal();
        for (start, m, expected) in table {
            assert_eq!(
                show(c.add_working_time(sh(start), mins(m))),
                expected,
                "{start} + {m} min"
            );
        }
    }

    #[test]
    fn add_working_time_is_exact_to_the_second() {
        let c = cal();
        let t = sh("2026-06-15 11:59:59");
        assert_eq!(
            show(c.add_working_time(t, Duration::from_secs(1))),
            "2026-06-15 12:00:00"
        );
        assert_eq!(
            show(c.add_working_time(t, Duration::from_secs(2))),
            "2026-06-15 14:30:01"
        );
        // Sub-second parts survive untouched.
        let t = sh("2026-06-15 10:00") + TimeDelta::milliseconds(250);
        assert_eq!(
            c.add_working_time(t, mins(300)),
            sh("2026-06-16 08:00") + TimeDelta::milliseconds(250)
        );
    }

    #[test]
    fn fractional_working_days_as_the_sla_clock_computes_them() {
        // The SLA clock scales the day length (50% of 5 working days) and
        // passes the rounded span to add_working_time.
        let c = cal();
        let span = c.working_day_length().mul_f64(5.0 * 0.5);
        assert_eq!(span, mins(1050));
        assert_eq!(
            show(c.add_working_time(sh("2026-06-15 08:00"), span)),
            "2026-06-17 11:30:00"
        );
        // Config validation passes a Vec<&str>.
        let strings: Vec<&str> = vec!["08:00-12:00", "14:30-17:30"];
        assert_eq!(parse_periods(&strings).map(|p| p.len()), Ok(2));
        let owned: Vec<String> = vec!["09:00-17:00".into()];
        assert_eq!(parse_periods(&owned).map(|p| p.len()), Ok(1));
    }

    #[test]
    fn add_working_days_table() {
        let table = [
            ("2026-06-15 10:00", 1, "2026-06-16 10:00:00"),
            ("2026-06-08 10:00", 5, "2026-06-15 10:00:00"),
            ("2026-06-15 10:00", 5, "2026-06-23 10:00:00"), // Dragon Boat 06-19
            ("2026-06-12 19:00", 1, "2026-06-15 17:30:00"), // Friday evening
            ("2026-06-15 08:00", 1, "2026-06-15 17:30:00"),
            ("2026-06-15 17:30", 1, "2026-06-16 17:30:00"),
            ("2026-06-15 12:30", 1, "2026-06-16 12:00:00"), // from 14:30; ends at a period end
            ("2026-09-30 16:00", 1, "2026-10-08 16:00:00"),
            ("2026-10-03 09:00", 1, "2026-10-08 17:30:00"),
            ("2026-09-30 16:00", 3, "2026-10-10 16:00:00"), // Thu, Fri, make-up Sat
            ("2026-02-13 10:00", 2, "2026-02-24 10:00:00"), // over Spring Festival
            ("2026-06-15 10:00", 0, "2026-06-15 10:00:00"),
        ];
        let c = cal();
        for (start, n, expected) in table {
            assert_eq!(
                show(c.add_working_days(sh(start), n)),
                expected,
                "{start} + {n} wd"
            );
        }
        assert_eq!(c.working_day_length(), mins(420));
        assert_eq!(c.working_days(3), mins(1260));
    }

    #[test]
    fn whole_weeks_far_from_the_data() {
        // Beyond the embedded years the walks skip whole weeks; exact fits
        // must still end at the end of the last day (forward) or at the
        // start of the first day (backward).
        let c = cal();
        let forward = [
            ("2100-01-01 17:30", 5, "2100-01-08 17:30:00"), // Friday evening
            ("2100-01-01 17:30", 10, "2100-01-15 17:30:00"),
            ("2100-01-01 10:00", 50, "2100-03-12 10:00:00"),
            ("2100-01-02 10:00", 5, "2100-01-08 17:30:00"), // Saturday
            ("2018-06-01 17:30", 10, "2018-06-15 17:30:00"), // before the data
            ("2018-12-14 17:30", 10, "2018-12-28 17:30:00"),
            ("2018-12-14 17:30", 11, "2018-12-29 17:30:00"), // make-up Saturday
            ("2018-12-14 17:30", 12, "2019-01-02 17:30:00"), // over New Year
        ];
        for (start, n, expected) in forward {
            assert_eq!(
                show(c.add_working_days(sh(start), n)),
                expected,
                "{start} + {n} wd"
            );
        }
        let backward = [
            ("2100-01-15 17:30", 10, "2100-01-04 08:00:00"),
            ("2100-01-15 17:30", 11, "2100-01-01 08:00:00"),
            ("2100-03-12 10:00", 50, "2100-01-01 10:00:00"),
            ("2027-01-15 17:30", 10, "2027-01-04 08:00:00"),
            ("2027-01-15 17:30", 11, "2027-01-01 08:00:00"), // no 2027 data: a Friday
            ("2027-01-15 17:30", 12, "2026-12-31 08:00:00"), // into the data
            ("2027-01-15 10:00", 11, "2026-12-31 10:00:00"),
        ];
        for (start, n, expected) in backward {
            assert_eq!(
                show(c.subtract_working_days(sh(start), n)),
                expected,
                "{start} - {n} wd"
            );
        }
    }

    #[test]
    fn subtract_working_time_table() {
        let table = [
            ("2026-06-16 08:00", 1, "2026-06-15 17:29:00"),
            ("2026-06-15 14:30", 1, "2026-06-15 11:59:00"),
            ("2026-06-15 17:30", 180, "2026-06-15 14:30:00"), // exact period start
            ("2026-06-15 17:30", 181, "2026-06-15 11:59:00"),
            ("2026-06-15 13:00", 0, "2026-06-15 12:00:00"),
            ("2026-06-15 07:00", 0, "2026-06-12 17:30:00"),
            ("2026-06-15 17:30", 420, "2026-06-15 08:00:00"),
            ("2026-06-15 17:30", 421, "2026-06-12 17:29:00"),
            ("2026-10-08 08:00", 60, "2026-09-30 16:30:00"),
            ("2026-10-08 16:00", 420, "2026-09-30 16:00:00"),
            ("2026-02-24 10:00", 840, "2026-02-13 10:00:00"),
        ];
        let c = cal();
        for (start, m, expected) in table {
            assert_eq!(
                show(c.subtract_working_time(sh(start), mins(m))),
                expected,
                "{start} - {m} min"
            );
        }
        assert_eq!(
            show(c.subtract_working_days(sh("2026-10-08 16:00"), 1)),
            "2026-09-30 16:00:00"
        );
    }

    #[test]
    fn working_time_between_table() {
        let table = [
            ("2026-06-15 08:00", "2026-06-15 17:30", 420),
            ("2026-06-15 12:00", "2026-06-15 14:30", 0), // lunch
            ("2026-06-15 11:00", "2026-06-15 15:00", 90),
            ("2026-06-15 10:00", "2026-06-15 10:00", 0),
            ("2026-06-15 10:00", "2026-06-15 09:00", 0), // b < a
            ("2026-06-12 17:00", "2026-06-15 09:00", 90), // over a weekend
            ("2026-06-13 00:00", "2026-06-15 00:00", 0),
            ("2026-06-08 00:00", "2026-06-15 00:00", 5 * 420), // plain week
            ("2026-06-15 00:00", "2026-06-22 00:00", 4 * 420), // Dragon Boat Friday
            ("2026-09-30 16:00", "2026-10-08 16:00", 420),     // National Day
            ("2026-09-19 00:00", "2026-09-21 00:00", 420),     // Sat off, Sun on
            // Spring Festival: 02-13, 02-14 (make-up), 02-24..27, 02-28 (make-up).
            ("2026-02-13 00:00", "2026-03-01 00:00", 7 * 420),
        ];
        let c = cal();
        for (a, b, m) in table {
            assert_eq!(c.working_time_between(sh(a), sh(b)), mins(m), "[{a}, {b})");
        }
    }

    #[test]
    fn whole_years_of_working_time() {
        let c = cal();
        // A whole year is the sum of its working days, however many the
        // notice made (and the week-skipping path agrees far from the data).
        let expected_days = date("2026-01-01")
            .iter_days()
            .take(365)
            .filter(|d| c.is_working_day(*d))
            .count() as u64;
        assert_eq!(
            c.working_time_between(sh("2026-01-01 00:00"), sh("2027-01-01 00:00")),
            mins(expected_days * 420)
        );
        assert!((245..=252).contains(&expected_days), "{expected_days}");
        // Far outside the data, a plain week is always 5 working days.
        assert_eq!(
            c.working_time_between(sh("2100-01-04 00:00"), sh("2100-03-01 00:00")),
            mins(
                date("2100-01-04")
                    .iter_days()
                    .take_while(|d| *d < date("2100-03-01"))
                    .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
                    .count() as u64
                    * 420
            )
        );
    }

    // ---------------------------------------------------------------------
    // Configuration
    // ---------------------------------------------------------------------

    #[test]
    fn parse_valid_periods() {
        let table: [(&[&str], u64); 5] = [
            (&["08:00-12:00", "14:30-17:30"], 420),
            (&["09:00-17:00"], 480),
            (&[" 8:00 - 12:00 ", "12:00-13:00"], 300), // adjacent is fine
            (&["00:00-24:00"], 1440),
            (&["08:00:30-08:01:00"], 0), // 30 seconds, see below
        ];
        for (specs, minutes) in table {
            let periods = parse_periods(specs).unwrap_or_else(|e| panic!("{specs:?}: {e}"));
            let total: Duration = periods.iter().map(WorkingPeriod::length).sum();
            assert_eq!(total.as_secs() / 60, minutes, "{specs:?}");
        }
        let p: WorkingPeriod = "08:00:30-08:01:00".parse().expect("valid");
        assert_eq!(p.length(), Duration::from_secs(30));
        assert_eq!(p.to_string(), "08:00:30-08:01");
        assert_eq!(
            WorkingPeriod::parse("14:30-17:30").map(|p| p.to_string()),
            Ok("14:30-17:30".to_string())
        );
    }

    #[test]
    fn parse_invalid_periods() {
        let table: [(&[&str], &str); 14] = [
            (&["25:00-26:00"], "hours must be 00-23"),
            (&["12:00-08:00"], "start must be before the end"),
            (&["08:00-08:00"], "start must be before the end"),
            (&["24:00-24:00"], "24:00 can only be an end"),
            (&["08:00-24:30"], "hours must be 00-23"),
            (&["08:60-12:00"], "minutes and seconds must be 00-59"),
            (&["08:00"], "missing '-'"),
            (&["8-12"], "not a time of day"),
            (&["08:0-12:00"], "two digits"),
            (&["08:00-12:00-13:00"], "not a time of day"),
            (&["０８:00-12:00"], "not a time of day"), // full-width digits
            (&[""], "missing '-'"),
            (&["08:00-12:00", "11:00-13:00"], "overlap"),
            (&["14:30-17:30", "08:00-12:00"], "out of order"),
        ];
        for (specs, needle) in table {
            match parse_periods(specs) {
                Ok(p) => panic!("{specs:?} accepted as {p:?}"),
                Err(e) => assert!(e.to_string().contains(needle), "{specs:?}: {e}"),
            }
        }
        let empty: [&str; 0] = [];
        assert_eq!(parse_periods(&empty), Err(CalendarError::NoPeriods));
        assert!(WorkingPeriod::from_seconds(10, 10).is_err());
        assert!(WorkingPeriod::from_seconds(0, SECS_PER_DAY + 1).is_err());
        assert!(WorkingPeriod::from_seconds(0, SECS_PER_DAY).is_ok());
    }

    #[test]
    fn builder_validates_periods() {
        let morning = WorkingPeriod::parse("08:00-12:00").expect("valid");
        let overlapping = WorkingPeriod::parse("11:00-13:00").expect("valid");
        assert_eq!(
            BusinessCalendar::new(vec![], vec![]).err(),
            Some(CalendarError::NoPeriods)
        );
        assert!(matches!(
            BusinessCalendar::new(vec![morning, overlapping], vec![]),
            Err(CalendarError::OverlappingPeriods { .. })
        ));
        assert!(matches!(
            BusinessCalendar::new(vec![overlapping, morning], vec![]),
            Err(CalendarError::OverlappingPeriods { .. })
        ));
    }

    #[test]
    fn custom_periods_change_the_day() {
        let c = BusinessCalendar::new(parse_periods(&["09:00-17:00"]).expect("valid"), vec![])
            .expect("valid");
        assert_eq!(c.working_day_length(), mins(480));
        assert_eq!(
            show(c.add_working_days(sh("2026-06-15 10:00"), 1)),
            "2026-06-16 10:00:00"
        );
        assert_eq!(
            show(c.add_working_time(sh("2026-06-15 12:30"), mins(60))),
            "2026-06-15 13:30:00"
        );
        // Holidays still apply.
        assert_eq!(
            show(c.next_working_instant(sh("2026-10-01 10:00"))),
            "2026-10-08 09:00:00"
        );
    }

    #[test]
    fn round_the_clock_calendar() {
        let c = BusinessCalendar::new(parse_periods(&["00:00-24:00"]).expect("valid"), vec![])
            .expect("valid");
        // Friday 20:00 + 6 h = Saturday 02:00? No: Saturday is off, so Monday 02:00.
        assert_eq!(
            show(c.add_working_time(sh("2026-06-12 20:00"), Duration::from_secs(6 * 3600))),
            "2026-06-15 02:00:00"
        );
        // Exactly used up at midnight: the end of Friday, not Monday 00:00.
        assert_eq!(
            show(c.add_working_time(sh("2026-06-12 20:00"), Duration::from_secs(4 * 3600))),
            "2026-06-13 00:00:00"
        );
        assert_eq!(
            c.working_time_between(sh("2026-06-12 00:00"), sh("2026-06-16 00:00")),
            Duration::from_secs(48 * 3600)
        );
        assert_eq!(
            show(c.subtract_working_time(sh("2026-06-15 02:00"), Duration::from_secs(6 * 3600))),
            "2026-06-12 20:00:00"
        );
    }

    #[test]
    fn extra_days_override_builtin_and_weekend_rule() {
        let c = BusinessCalendar::builder()
            .special_days([
                SpecialDay::off(date("2027-01-01"), "元旦"), // new year's notice
                SpecialDay::working(date("2027-01-09"), "调休"), // a Saturday
                SpecialDay::off(date("2026-06-15"), "local closure"), // a Monday
                SpecialDay::working(date("2026-10-01"), "duty day"), // over a holiday
            ])
            .build()
            .expect("valid");
        let table = [
            ("2027-01-01", false),
            ("2027-01-09", true),
            ("2026-06-15", false),
            ("2026-10-01", true),
            ("2026-10-02", false), // untouched builtin
            ("2027-01-04", true),  // untouched weekday
        ];
        for (d, expected) in table {
            assert_eq!(c.is_working_day(date(d)), expected, "{d:?}");
        }
        // The arithmetic follows the overrides.
        assert_eq!(
            show(c.add_working_days(sh("2026-06-12 10:00"), 1)),
            "2026-06-16 10:00:00"
        );
        assert_eq!(
            show(c.next_working_instant(sh("2026-09-30 18:00"))),
            "2026-10-01 08:00:00"
        );
        assert_eq!(
            show(c.add_working_days(sh("2026-12-31 10:00"), 1)),
            "2027-01-04 10:00:00"
        );
        assert_eq!(
            show(c.add_working_days(sh("2027-01-08 10:00"), 1)),
            "2027-01-09 10:00:00"
        );
        // Later entries win over earlier ones.
        let c = BusinessCalendar::builder()
            .special_day(SpecialDay::off(date("2027-01-04"), "first"))
            .special_day(SpecialDay::working(date("2027-01-04"), "second"))
            .build()
            .expect("valid");
        assert!(c.is_working_day(date("2027-01-04")));
        assert_eq!(
            c.special_day(date("2027-01-04")).map(|d| d.name.as_str()),
            Some("second")
        );
    }

    #[test]
    fn without_builtin_days_is_the_weekend_rule() {
        let c = BusinessCalendar::builder()
            .without_builtin_days()
            .build()
            .expect("valid");
        assert!(c.is_working_day(date("2026-10-01"))); // Thursday
        assert!(!c.is_working_day(date("2026-09-20"))); // Sunday
        assert_eq!(
            show(c.add_working_days(sh("2026-09-30 16:00"), 1)),
            "2026-10-01 16:00:00"
        );
    }

    #[test]
    fn special_days_from_strings_and_holiday_cn_json() {
        assert_eq!(
            SpecialDay::parse("2027-01-01", true, "元旦"),
            Ok(SpecialDay::off(date("2027-01-01"), "元旦"))
        );
        for bad in ["2027-13-01", "2027-02-30", "01/01/2027", ""] {
            assert_eq!(
                SpecialDay::parse(bad, true, "x"),
                Err(CalendarError::InvalidDate { input: bad.into() })
            );
        }
        let json = r#"{"year":2027,"papers":[],"days":[
            {"name":"元旦","date":"2027-01-01","isOffDay":true},
            {"name":"春节","date":"2027-02-06","isOffDay":false}]}"#;
        let days = parse_holiday_cn(json).expect("valid");
        assert_eq!(days.len(), 2);
        let c = BusinessCalendar::builder()
            .special_days(days)
            .build()
            .expect("valid");
        assert!(!c.is_working_day(date("2027-01-01")));
        assert!(c.is_working_day(date("2027-02-06"))); // a Saturday
        for bad in ["", "{}", r#"{"days":[{"date":"2027-01-01"}]}"#, "[1]"] {
            assert!(
                matches!(
                    parse_holiday_cn(bad),
                    Err(CalendarError::HolidayData { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn long_declared_closures_terminate() {
        // 3000 consecutive days off: the walks step through them one by one
        // (they are inside the declared range) and come out the other side.
        let start = date("2030-01-01");
        let closure = start
            .iter_days()
            .take(3000)
            .map(|d| SpecialDay::off(d, "closure"));
        let c = BusinessCalendar::builder()
            .special_days(closure)
            .build()
            .expect("valid");
        let reopen = add_days(start, 3000);
        let first_working = reopen
            .iter_days()
            .find(|d| c.is_working_day(*d))
            .expect("weekday");
        assert_eq!(
            local_date(c.next_working_instant(sh("2030-01-01 09:00"))),
            first_working
        );
        assert_eq!(
            c.working_time_between(sh("2030-01-01 00:00"), at(reopen, 0)),
            Duration::ZERO
        );
    }

    #[test]
    fn extreme_inputs_saturate_without_panicking() {
        let c = cal();
        let t = sh("2026-06-15 10:00");
        let max = c.add_working_time(t, Duration::MAX);
        let min = c.subtract_working_time(t, Duration::MAX);
        assert!(max > sh("9999-01-01 00:00"), "{max}");
        assert!(min < sh("0002-01-01 00:00"), "{min}");
        assert_eq!(c.next_working_instant(DateTime::<Utc>::MAX_UTC), c.ceiling);
        assert_eq!(
            c.previous_working_instant(DateTime::<Utc>::MIN_UTC),
            c.floor
        );
        assert_eq!(
            c.add_working_days(DateTime::<Utc>::MAX_UTC, u32::MAX),
            c.ceiling
        );
        assert_eq!(
            c.subtract_working_days(DateTime::<Utc>::MIN_UTC, u32::MAX),
            c.floor
        );
        let all = c.working_time_between(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
        // Roughly 5/7 of 10 000 years of 7-hour days.
        let years = all.as_secs_f64() / (420.0 * 60.0 * 365.2425 * 5.0 / 7.0);
        assert!((9990.0..10_000.0).contains(&years), "{years}");
        // A huge but representable duration is still answered exactly.
        let thousand_years = c.working_days(260_000);
        let far = c.add_working_time(t, thousand_years);
        assert_eq!(c.working_time_between(t, far), thousand_years);
        assert_eq!(c.subtract_working_time(far, thousand_years), t);
    }

    // ---------------------------------------------------------------------
    // Properties (deterministic PRNG, a few thousand cases each)
    // ---------------------------------------------------------------------

    fn random_working_instant(rng: &mut SplitMix64, c: &BusinessCalendar) -> DateTime<Utc> {
        let t = rng.instant(sh("2025-01-01 00:00"), sh("2027-01-01 00:00"));
        c.next_working_instant(t)
    }

    #[test]
    fn prop_add_then_subtract_round_trips() {
        let c = cal();
        let mut rng = SplitMix64(1);
        for _ in 0..SAMPLES {
            let t = random_working_instant(&mut rng, &c);
            assert!(c.is_working_time(t), "{}", show(t));
            let d = secs(rng.range(0, MAX_PROPERTY_SECS));
            let later = c.add_working_time(t, d);
            assert_eq!(c.subtract_working_time(later, d), t, "{} ± {d:?}", show(t));
            let days = rng.range(0, 15) as u32;
            assert_eq!(
                c.subtract_working_days(c.add_working_days(t, days), days),
                t
            );
        }
    }

    #[test]
    fn prop_subtract_then_add_round_trips_off_period_starts() {
        // The other direction holds except at a period start, where adding
        // back stops at the previous period's end (the same working instant).
        let c = cal();
        let mut rng = SplitMix64(2);
        for _ in 0..SAMPLES {
            let t = random_working_instant(&mut rng, &c);
            let d = secs(rng.range(1, MAX_PROPERTY_SECS));
            let earlier = c.subtract_working_time(t, d);
            let back = c.add_working_time(earlier, d);
            if c.previous_working_instant(t - TimeDelta::seconds(1)) == t - TimeDelta::seconds(1) {
                assert_eq!(back, t, "{} ∓ {d:?}", show(t));
            } else {
                assert_eq!(c.next_working_instant(back), t, "{} ∓ {d:?}", show(t));
            }
            assert_eq!(c.working_time_between(earlier, t), d);
        }
    }

    #[test]
    fn prop_between_measures_what_add_added() {
        let c = cal();
        let mut rng = SplitMix64(3);
        for _ in 0..SAMPLES {
            // Any instant, not only working ones.
            let t = rng.instant(sh("2025-01-01 00:00"), sh("2027-01-01 00:00"));
            let d = secs(rng.range(0, MAX_PROPERTY_SECS));
            let later = c.add_working_time(t, d);
            assert_eq!(c.working_time_between(t, later), d, "{} + {d:?}", show(t));
        }
    }

    #[test]
    fn prop_between_is_monotone_and_additive() {
        let c = cal();
        let mut rng = SplitMix64(4);
        let (lo, hi) = (sh("2025-01-01 00:00"), sh("2027-01-01 00:00"));
        for _ in 0..SAMPLES {
            let a = rng.instant(lo, hi);
            let b = a + TimeDelta::seconds(rng.range(0, 40 * 86_400));
            let b2 = b + TimeDelta::seconds(rng.range(0, 10 * 86_400));
            let ab = c.working_time_between(a, b);
            let ab2 = c.working_time_between(a, b2);
            assert!(ab <= ab2, "[{}, {}) vs {}", show(a), show(b), show(b2));
            assert_eq!(ab + c.working_time_between(b, b2), ab2);
            assert!(ab <= (b - a).to_std().expect("b >= a"));
            assert_eq!(c.working_time_between(b, a), Duration::ZERO);
        }
    }

    #[test]
    fn prop_add_lands_in_a_period_or_at_its_end() {
        let c = cal();
        let mut rng = SplitMix64(5);
        for _ in 0..SAMPLES {
            let t = rng.instant(sh("2025-01-01 00:00"), sh("2027-01-01 00:00"));
            let d = secs(rng.range(0, MAX_PROPERTY_SECS));
            let r = c.add_working_time(t, d);
            assert!(r >= t);
            assert!(
                in_period_or_at_end(&c, r),
                "{} + {d:?} = {}",
                show(t),
                show(r)
            );
            if d.is_zero() {
                assert!(c.is_working_time(r));
            }
        }
    }

    #[test]
    fn prop_add_is_monotone_in_duration_and_start() {
        let c = cal();
        let mut rng = SplitMix64(6);
        for _ in 0..SAMPLES {
            let t = rng.instant(sh("2025-01-01 00:00"), sh("2027-01-01 00:00"));
            let d1 = secs(rng.range(0, MAX_PROPERTY_SECS));
            let d2 = d1 + secs(rng.range(0, 3 * 420 * 60));
            assert!(c.add_working_time(t, d1) <= c.add_working_time(t, d2));
            let t2 = t + TimeDelta::seconds(rng.range(0, 5 * 86_400));
            assert!(c.add_working_time(t, d1) <= c.add_working_time(t2, d1));
        }
    }

    #[test]
    fn prop_walks_match_a_naive_reference_everywhere() {
        // Covers the week-skipping fast path: before the embedded data, across
        // its edges and far after it, with durations up to 60 working days.
        let c = cal();
        let windows = [
            ("2010-01-01 00:00", "2019-06-01 00:00"),
            ("2026-06-01 00:00", "2027-06-01 00:00"),
            ("2090-01-01 00:00", "2110-01-01 00:00"),
        ];
        let mut rng = SplitMix64(7);
        for i in 0..SAMPLES {
            let (lo, hi) = windows[i % windows.len()];
            let t = rng.instant(sh(lo), sh(hi)) + TimeDelta::nanoseconds(rng.range(0, 999));
            // Every other case an exact number of working days, so week
            // skips that fit exactly are exercised too.
            let d = if i % 2 == 0 {
                c.working_days(rng.range(0, 60) as u32)
            } else {
                secs(rng.range(0, 60 * 420 * 60))
            };
            let day = local_date(t);
            let ivs = intervals(&c, day, add_days(day, 120));
            let expected = reference_add(&ivs, t, d);
            assert_eq!(c.add_working_time(t, d), expected, "{} + {d:?}", show(t));
            assert_eq!(c.working_time_between(t, expected), d);
            let b = t + TimeDelta::seconds(rng.range(0, 100 * 86_400));
            assert_eq!(
                c.working_time_between(t, b),
                reference_between(&ivs, t, b),
                "[{}, {})",
                show(t),
                show(b)
            );
            let back = c.subtract_working_time(expected, d);
            if c.is_working_time(t) {
                assert_eq!(back, t);
            }
        }
    }

    #[test]
    fn prop_reference_check_with_operator_days_and_odd_periods() {
        // Irregular periods and a sprinkling of operator declarations far from
        // the embedded data, so the declared range has holes and edges.
        let periods = parse_periods(&[
            "07:15-09:00",
            "09:00-11:45:30",
            "13:00-13:01",
            "18:00-22:00",
        ])
        .expect("valid");
        let mut rng = SplitMix64(8);
        let extra: Vec<SpecialDay> = (0..200)
            .map(|_| {
                let d = add_days(date("2040-01-01"), rng.range(0, 3 * 365));
                SpecialDay {
                    date: d,
                    off: rng.range(0, 1) == 0,
                    name: "random".into(),
                }
            })
            .collect();
        let c = BusinessCalendar::new(periods, extra).expect("valid");
        for _ in 0..SAMPLES {
            let t = rng.instant(sh("2039-06-01 00:00"), sh("2043-06-01 00:00"));
            let d = secs(rng.range(0, 30 * c.day_secs));
            let day = local_date(t);
            let ivs = intervals(&c, day, add_days(day, 120));
            let expected = reference_add(&ivs, t, d);
            assert_eq!(c.add_working_time(t, d), expected, "{} + {d:?}", show(t));
            assert_eq!(c.working_time_between(t, expected), d);
            if c.is_working_time(t) {
                assert_eq!(c.subtract_working_time(expected, d), t);
            }
        }
    }

    #[test]
    fn many_long_deadlines_are_cheap() {
        // Not a benchmark, a tripwire: a quadratic or minute-stepping walk
        // would make this take seconds even in a debug build.
        let c = cal();
        let mut rng = SplitMix64(9);
        let started = std::time::Instant::now();
        let mut acc = TimeDelta::zero(); // instants still subtract to TimeDelta
        for _ in 0..5_000 {
            let t = rng.instant(sh("2025-01-01 00:00"), sh("2027-01-01 00:00"));
            let r = c.add_working_days(t, 15);
            acc += r - t;
        }
        assert!(acc > TimeDelta::zero());
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
    }
}
