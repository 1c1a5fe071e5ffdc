//! Declared days: State Council holidays and make-up working days (调休), from the
//! embedded holiday-cn data and from operators.

use super::CalendarError;
use chrono::NaiveDate;
use serde::Deserialize;
use std::sync::OnceLock;

/// The embedded holiday-cn files, 2019 to 2026 in order. Each file covers
/// one year's State Council notice (a file may also declare days of the
/// neighbouring year, e.g. the 2019 file declares 2018-12-29..31).
pub(super) const BUILTIN_FILES: [&str; 8] = [
    include_str!("../../calendar/holiday-cn/2019.json"),
    include_str!("../../calendar/holiday-cn/2020.json"),
    include_str!("../../calendar/holiday-cn/2021.json"),
    include_str!("../../calendar/holiday-cn/2022.json"),
    include_str!("../../calendar/holiday-cn/2023.json"),
    include_str!("../../calendar/holiday-cn/2024.json"),
    include_str!("../../calendar/holiday-cn/2025.json"),
    include_str!("../../calendar/holiday-cn/2026.json"),
];

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
