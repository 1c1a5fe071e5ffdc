//! Working periods of a working day (`08:00-12:00`), parsed and checked.

use super::{CalendarError, SECS_PER_DAY};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// One working period of a working day, e.g. `08:00-12:00`.
///
/// Stored as seconds since local midnight, half-open `[start, end)`. The end
/// may be `24:00` so that a round-the-clock calendar (`00:00-24:00`) can be
/// expressed; the start may not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkingPeriod {
    pub(super) start: u32,
    pub(super) end: u32,
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
/// # use hotline_core::calendar::parse_periods;
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
pub(super) fn validate_periods(periods: &[WorkingPeriod]) -> Result<(), CalendarError> {
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
pub(super) fn format_secs(secs: u32) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if s == 0 {
        format!("{h:02}:{m:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}
