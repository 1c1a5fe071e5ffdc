//! An independent reference for working time, so that a test's expected deadline is not
//! read back from the engine: the test catalog's working hours (08:00–12:00, 14:30–17:30,
//! Beijing time) on the days the PyPI package chinesecalendar declares (checked in under
//! `core/calendar/reference/`, weekdays otherwise). It shares no code with the engine's
//! calendar: a plain walk over days and their two periods.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, Utc, Weekday};
use std::collections::HashMap;
use std::sync::OnceLock;

const PERIODS: [((u32, u32), (u32, u32)); 2] = [((8, 0), (12, 0)), ((14, 30), (17, 30))];

/// Dates whose status differs from the weekday rule: `true` = a working day.
fn exceptions() -> &'static HashMap<NaiveDate, bool> {
    static DAYS: OnceLock<HashMap<NaiveDate, bool>> = OnceLock::new();
    DAYS.get_or_init(|| {
        include_str!("../../core/calendar/reference/chinesecalendar.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let (date, status) = l.split_once(' ').expect("<date> off|work");
                (date.parse().expect("a date"), status.trim() == "work")
            })
            .collect()
    })
}

fn is_working_day(date: NaiveDate) -> bool {
    exceptions()
        .get(&date)
        .copied()
        .unwrap_or(!matches!(date.weekday(), Weekday::Sat | Weekday::Sun))
}

/// `days` working days (of 7 hours) after `from`: the earliest instant by which that much
/// working time has passed, so Friday 17:30 + 1 day is Monday 17:30, not Tuesday 08:00.
pub fn working_days_after(from: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    working_time_after(from, TimeDelta::hours(7) * days as i32)
}

/// The earliest instant by which `amount` of working time has passed since `from`.
pub fn working_time_after(from: DateTime<Utc>, amount: TimeDelta) -> DateTime<Utc> {
    let tz = hotline_core::calendar::BUSINESS_TZ;
    let mut left = amount;
    let mut date = from.with_timezone(&tz).date_naive();
    loop {
        if is_working_day(date) {
            for ((sh, sm), (eh, em)) in PERIODS {
                let at = |h, m| {
                    date.and_time(NaiveTime::from_hms_opt(h, m, 0).unwrap())
                        .and_local_timezone(tz)
                        .unwrap()
                        .with_timezone(&Utc)
                };
                let (start, end) = (at(sh, sm).max(from), at(eh, em));
                if start >= end {
                    continue;
                }
                if left <= end - start {
                    return start + left;
                }
                left -= end - start;
            }
        }
        date = date.succ_opt().unwrap();
    }
}

#[test]
fn the_reference_walks_as_worked_by_hand() {
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    for (from, days, expected) in [
        // Wednesday lunch: work resumes at 14:30, 3 h, then Thursday 08:00–12:00.
        ("2026-11-25T12:30:00+08:00", 1, "2026-11-26T12:00:00+08:00"),
        // Friday 17:30 (the day's end) + 1 day: Monday's end.
        ("2026-12-04T17:30:00+08:00", 1, "2026-12-07T17:30:00+08:00"),
        // Across National Day 2026 (Oct 1–7 off; Saturday Oct 10 worked).
        ("2026-09-30T10:00:00+08:00", 1, "2026-10-08T10:00:00+08:00"),
        ("2026-10-09T10:00:00+08:00", 1, "2026-10-10T10:00:00+08:00"),
        ("2026-12-24T10:00:00+08:00", 3, "2026-12-29T10:00:00+08:00"),
    ] {
        assert_eq!(
            working_days_after(at(from), days),
            at(expected),
            "{from} + {days}"
        );
    }
}
