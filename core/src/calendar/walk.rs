//! The walks behind the calendar's arithmetic: forward and backward over working periods,
//! a period at a time, skipping whole weeks where only the weekend rule applies.

use super::{BUSINESS_TZ, BusinessCalendar, MAX_DATE, MIN_DATE};
use chrono::{
    DateTime, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone,
    Utc,
};
use std::time::Duration;

impl BusinessCalendar {
    /// Keeps `t` inside the supported range; see the module docs.
    pub(super) fn clamp(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        t.clamp(self.floor, self.ceiling)
    }

    /// How many days from `date` on (inclusive) follow the weekend rule
    /// alone and lie within the supported range: the room for week skips.
    pub(super) fn regular_days_ahead(&self, date: NaiveDate) -> i64 {
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
    pub(super) fn walk_forward(&self, t: DateTime<Utc>, mut remaining: TimeDelta) -> DateTime<Utc> {
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
    pub(super) fn walk_backward(
        &self,
        t: DateTime<Utc>,
        mut remaining: TimeDelta,
    ) -> DateTime<Utc> {
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
pub(super) fn local_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&BUSINESS_TZ).date_naive()
}

/// The instant at `secs` seconds after local midnight of `date`.
///
/// `secs` may be 86 400 (a `24:00` period end), i.e. next midnight. Local
/// times that do not exist (a historical DST gap) are mapped with the offset
/// in force just before the gap; ambiguous ones take the earlier instant.
pub(super) fn at(date: NaiveDate, secs: u32) -> DateTime<Utc> {
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
pub(super) fn to_delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// `date + days`, saturating far beyond the supported range (callers check
/// against [`MAX_DATE`] right after).
pub(super) fn add_days(date: NaiveDate, days: i64) -> NaiveDate {
    date.checked_add_days(Days::new(days.unsigned_abs()))
        .unwrap_or(NaiveDate::MAX)
}

/// `date - days`, saturating; see [`add_days`].
fn sub_days(date: NaiveDate, days: i64) -> NaiveDate {
    date.checked_sub_days(Days::new(days.unsigned_abs()))
        .unwrap_or(NaiveDate::MIN)
}
