//! A State Council holiday notice as an operator imports it (`hotline calendar import`):
//! read from the holiday-cn JSON format or from a plain table copied from the notice,
//! validated, and written back in the holiday-cn format, one file a year, to the
//! directory the engine reads its calendar from ([`NOTICES_DIR`]).
//!
//! The plain table has one declaration a line, `#` starting a comment:
//!
//! ```text
//! 2027-01-01..03  休  元旦
//! 2027-01-09      班  元旦
//! 2027-02-06 至 2027-02-13, off, 春节
//! ```
//!
//! A date or a range (`..`, `~` or `至`; the end may omit the year or the year and
//! month), the kind (`休`/`放假`/`off` or `班`/`上班`/`work`), then the name; fields are
//! separated by whitespace, commas or tabs.

use super::days::{SpecialDay, parse_holiday_cn};
use chrono::{Datelike, NaiveDate, Weekday};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// The directory, beside the configuration file (or in the working directory when the
/// built-in catalog is used), whose `*.json` files add declared days to the calendar:
/// after the embedded data, before the file's own `[calendar] days`.
pub const NOTICES_DIR: &str = "calendar.d";

/// Why a notice was refused; every variant names the line or the date to correct.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoticeError {
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("not a holiday-cn document: {message}")]
    Json { message: String },
    #[error("the notice declares no day")]
    Empty,
    #[error(
        "{date} ({name}) is declared a make-up working day but falls on a {weekday}: a make-up working day is a Saturday or Sunday"
    )]
    WorkingOnWeekday {
        date: NaiveDate,
        name: String,
        weekday: Weekday,
    },
    #[error("{date} is declared both a day off and a working day")]
    OffAndWorking { date: NaiveDate },
    #[error("{date} is declared twice")]
    Twice { date: NaiveDate },
}

/// A validated notice: declared days in date order, no date twice, every make-up working
/// day on a weekend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    days: Vec<SpecialDay>,
}

impl Notice {
    /// Reads `text` as holiday-cn JSON if it starts with `{`, else as a plain table.
    pub fn parse(text: &str) -> Result<Notice, NoticeError> {
        let days = if text.trim_start().starts_with('{') {
            parse_holiday_cn(text).map_err(|e| NoticeError::Json {
                message: e.to_string(),
            })?
        } else {
            parse_table(text)?
        };
        Notice::of(days)
    }

    /// Validates declared days.
    pub fn of(days: Vec<SpecialDay>) -> Result<Notice, NoticeError> {
        if days.is_empty() {
            return Err(NoticeError::Empty);
        }
        let mut by_date: BTreeMap<NaiveDate, SpecialDay> = BTreeMap::new();
        for day in days {
            if let Some(earlier) = by_date.get(&day.date) {
                return Err(if earlier.off == day.off {
                    NoticeError::Twice { date: day.date }
                } else {
                    NoticeError::OffAndWorking { date: day.date }
                });
            }
            if !day.off && !is_weekend(day.date) {
                return Err(NoticeError::WorkingOnWeekday {
                    date: day.date,
                    name: day.name,
                    weekday: day.date.weekday(),
                });
            }
            by_date.insert(day.date, day);
        }
        Ok(Notice {
            days: by_date.into_values().collect(),
        })
    }

    pub fn days(&self) -> &[SpecialDay] {
        &self.days
    }

    /// The years the notice declares days of.
    pub fn years(&self) -> BTreeSet<i32> {
        self.days.iter().map(|d| d.date.year()).collect()
    }

    /// The notice's days of `year` in the holiday-cn format: what the engine reads back.
    pub fn holiday_cn(&self, year: i32) -> String {
        let days: Vec<serde_json::Value> = self
            .days
            .iter()
            .filter(|d| d.date.year() == year)
            .map(|d| {
                serde_json::json!({
                    "name": d.name,
                    "date": d.date.to_string(),
                    "isOffDay": d.off,
                })
            })
            .collect();
        let document = serde_json::json!({ "year": year, "days": days });
        serde_json::to_string_pretty(&document).expect("a notice is JSON") + "\n"
    }
}

pub(super) fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

fn parse_table(text: &str) -> Result<Vec<SpecialDay>, NoticeError> {
    let mut days = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let fault = |message: String| NoticeError::Line {
            line: index + 1,
            message,
        };
        let fields: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || c == ',' || c == '，')
            .filter(|f| !f.is_empty())
            .collect();
        let (dates, rest) = match fields.as_slice() {
            [first, "至" | "~" | "..", last, rest @ ..] => ((*first, Some(*last)), rest),
            [range, rest @ ..] => match split_range(range) {
                Some((first, last)) => ((first, Some(last)), rest),
                None => ((*range, None), rest),
            },
            [] => unreachable!("the line is not empty"),
        };
        let (kind, name) = match rest {
            [kind, name @ ..] => (*kind, name.join(" ")),
            [] => return Err(fault("expected <date or range> <休|班> <name>".to_owned())),
        };
        let off = match kind {
            "休" | "放假" | "off" | "holiday" => true,
            "班" | "上班" | "work" | "working" => false,
            other => {
                return Err(fault(format!(
                    "{other:?} is not a kind of day: write 休 (off) or 班 (working)"
                )));
            }
        };
        let first = parse_date(dates.0).map_err(fault)?;
        let last = match dates.1 {
            Some(end) => parse_end(first, end).map_err(fault)?,
            None => first,
        };
        if last < first {
            return Err(fault(format!("the range ends ({last}) before it starts")));
        }
        if (last - first).num_days() > 31 {
            return Err(fault(format!(
                "{first}..{last} is longer than a month: is the end mistyped?"
            )));
        }
        for date in first.iter_days().take_while(|d| *d <= last) {
            days.push(SpecialDay {
                date,
                off,
                name: name.clone(),
            });
        }
    }
    Ok(days)
}

fn split_range(field: &str) -> Option<(&str, &str)> {
    ["..", "~", "至"]
        .iter()
        .find_map(|separator| field.split_once(separator))
}

fn parse_date(field: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(field, "%Y-%m-%d")
        .map_err(|_| format!("{field:?} is not a date: expected YYYY-MM-DD"))
}

/// A range's end: `2027-01-03`, `01-03` or `03`, completed from its start.
fn parse_end(first: NaiveDate, field: &str) -> Result<NaiveDate, String> {
    let full = match field.matches('-').count() {
        0 => format!("{}-{:02}-{field}", first.year(), first.month()),
        1 => format!("{}-{field}", first.year()),
        _ => field.to_owned(),
    };
    parse_date(&full).map_err(|_| format!("{field:?} is not the end of a range"))
}

/// A run of consecutive declared days of one kind, for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayRun {
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub off: bool,
    /// The names of the run's days, each once, in order.
    pub names: Vec<String>,
    /// Whether the run changes a working day's status (a day off on a weekday, a make-up
    /// working day on a weekend) rather than restating the weekend rule.
    pub moves: bool,
}

impl DayRun {
    /// `2026-10-01..08`, `2026-12-31..2027-01-02`, `2026-10-10`.
    pub fn dates(&self) -> String {
        let (first, last) = (self.first, self.last);
        if first == last {
            first.to_string()
        } else if first.year() == last.year() && first.month() == last.month() {
            format!("{first}..{:02}", last.day())
        } else {
            format!("{first}..{last}")
        }
    }
}

/// `days` (in date order) grouped into runs of consecutive days of the same kind.
pub fn runs<'a>(days: impl IntoIterator<Item = &'a SpecialDay>) -> Vec<DayRun> {
    let mut runs: Vec<DayRun> = Vec::new();
    for day in days {
        let moves = day.off != is_weekend(day.date);
        match runs.last_mut() {
            Some(run) if run.off == day.off && run.last.succ_opt() == Some(day.date) => {
                run.last = day.date;
                run.moves |= moves;
                if !day.name.is_empty() && !run.names.contains(&day.name) {
                    run.names.push(day.name.clone());
                }
            }
            _ => runs.push(DayRun {
                first: day.date,
                last: day.date,
                off: day.off,
                names: (!day.name.is_empty())
                    .then(|| day.name.clone())
                    .into_iter()
                    .collect(),
                moves,
            }),
        }
    }
    runs
}

/// What `hotline calendar show YEAR` prints: the year's days off and make-up working
/// days, one run a line.
pub fn year_table<'a>(year: i32, days: impl IntoIterator<Item = &'a SpecialDay>) -> String {
    let of_year: Vec<&SpecialDay> = days.into_iter().filter(|d| d.date.year() == year).collect();
    let mut out = String::new();
    if of_year.is_empty() {
        let _ = writeln!(
            out,
            "{year}: no declared days; only the weekend rule applies (import the State Council notice)"
        );
        return out;
    }
    for run in runs(of_year) {
        let kind = if run.off { "休" } else { "班" };
        let count = (run.last - run.first).num_days() + 1;
        let _ = writeln!(
            out,
            "{:<24} {kind} {:>2} 天  {}",
            run.dates(),
            count,
            run.names.join("、")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// `input` → the days it declares (`date off|work name`, one a line) or its error.
    fn check(input: &str, expect: &str) {
        let got = match Notice::parse(input) {
            Ok(notice) => notice
                .days()
                .iter()
                .map(|d| {
                    let kind = if d.off { "off" } else { "work" };
                    format!("{} {kind} {}", d.date, d.name)
                })
                .collect::<Vec<_>>()
                .join("\n"),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got.trim(), expect.trim(), "input:\n{input}");
    }

    #[test]
    fn plain_tables_in_the_notices_words() {
        check(
            "# 2027 年部分节假日安排\n2027-01-01..03  休  元旦\n2027-01-09 班 元旦\n",
            "2027-01-01 off 元旦\n2027-01-02 off 元旦\n2027-01-03 off 元旦\n2027-01-09 work 元旦",
        );
        check(
            "2027-02-06 至 2027-02-08, off, 春节\n2027-02-20，上班，春节",
            "2027-02-06 off 春节\n2027-02-07 off 春节\n2027-02-08 off 春节\n2027-02-20 work 春节",
        );
        check(
            "2027-04-30~05-01 放假 劳动节",
            "2027-04-30 off 劳动节\n2027-05-01 off 劳动节",
        );
        check(
            "2026-12-31..2027-01-01 休 元旦",
            "2026-12-31 off 元旦\n2027-01-01 off 元旦",
        );
    }

    #[test]
    fn a_range_may_span_a_month_but_not_more() {
        let month = Notice::parse("2027-01-01..2027-02-01 休 x").expect("32 days");
        assert_eq!(month.days().len(), 32);
        assert!(Notice::parse("2027-01-01..2027-02-02 休 x").is_err());
    }

    #[test]
    fn faults_are_named_with_their_line_or_date() {
        check("", "error: the notice declares no day");
        check("# only a comment", "error: the notice declares no day");
        check(
            "2027-01-01 休 元旦\n2027-13-01 休 x",
            r#"error: line 2: "2027-13-01" is not a date: expected YYYY-MM-DD"#,
        );
        check(
            "2027-01-01 rest 元旦",
            r#"error: line 1: "rest" is not a kind of day: write 休 (off) or 班 (working)"#,
        );
        check(
            "2027-01-01",
            "error: line 1: expected <date or range> <休|班> <name>",
        );
        check(
            "2027-01-05..03 休 x",
            "error: line 1: the range ends (2027-01-03) before it starts",
        );
        check(
            "2027-01-01..2027-03-01 休 x",
            "error: line 1: 2027-01-01..2027-03-01 is longer than a month: is the end mistyped?",
        );
        check(
            "2027-01-04 班 元旦",
            "error: 2027-01-04 (元旦) is declared a make-up working day but falls on a Mon: a make-up working day is a Saturday or Sunday",
        );
        check(
            "2027-01-09 休 元旦\n2027-01-09 班 元旦",
            "error: 2027-01-09 is declared both a day off and a working day",
        );
        check(
            "2027-01-01..03 休 元旦\n2027-01-03 休 元旦",
            "error: 2027-01-03 is declared twice",
        );
        check(
            r#"{"year": 2027, "days": [{"name": "元旦", "date": "2027-01-01"}]}"#,
            "error: not a holiday-cn document: invalid holiday data: missing field `isOffDay` at line 1 column 64",
        );
    }

    #[test]
    fn holiday_cn_documents_round_trip_one_year_a_file() {
        let notice = Notice::parse("2026-12-31..2027-01-02 休 元旦\n2027-01-09 班 元旦\n").unwrap();
        assert_eq!(notice.years(), BTreeSet::from([2026, 2027]));
        let file_2027 = notice.holiday_cn(2027);
        let back = Notice::parse(&file_2027).unwrap();
        assert_eq!(
            back.days(),
            &notice.days()[1..],
            "the 2027 file holds 2027's days"
        );
        for (embedded, year) in super::super::days::BUILTIN_FILES.iter().zip(2019..) {
            let notice = match Notice::parse(embedded) {
                // holiday-cn restates Monday 2020-02-03 as a working day (the end of the
                // extended 春节 of 2020): an import refuses it, the embedded data keeps it.
                Err(NoticeError::WorkingOnWeekday { date: d, .. }) if d == date("2020-02-03") => {
                    continue;
                }
                parsed => parsed.unwrap_or_else(|e| panic!("{year}: {e}")),
            };
            let rewritten: Vec<SpecialDay> = notice
                .years()
                .iter()
                .flat_map(|y| Notice::parse(&notice.holiday_cn(*y)).unwrap().days)
                .collect();
            assert_eq!(rewritten, notice.days(), "{year}");
        }
    }

    #[test]
    fn runs_join_consecutive_days_of_one_kind_and_name_each_holiday_once() {
        let d = |s: &str| date(s);
        let days = [
            SpecialDay::off(d("2023-09-29"), "中秋节"),
            SpecialDay::off(d("2023-09-30"), "国庆节"),
            SpecialDay::off(d("2023-10-01"), ""),
            SpecialDay::off(d("2023-10-02"), "国庆节"),
            SpecialDay::working(d("2023-10-07"), "国庆节"),
            SpecialDay::working(d("2023-10-08"), "国庆节"),
            SpecialDay::off(d("2025-01-28"), "春节"),
            SpecialDay::off(d("2025-02-04"), "春节"),
            SpecialDay::off(d("2026-12-31"), "元旦"),
            SpecialDay::off(d("2027-01-01"), "元旦"),
        ];
        let runs = runs(&days);
        // (dates as shown, off, names)
        let expected = [
            ("2023-09-29..2023-10-02", true, vec!["中秋节", "国庆节"]),
            ("2023-10-07..08", false, vec!["国庆节"]),
            ("2025-01-28", true, vec!["春节"]),
            ("2025-02-04", true, vec!["春节"]),
            ("2026-12-31..2027-01-01", true, vec!["元旦"]),
        ];
        let got: Vec<(String, bool, Vec<&str>)> = runs
            .iter()
            .map(|r| {
                (
                    r.dates(),
                    r.off,
                    r.names.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        let expected: Vec<(String, bool, Vec<&str>)> = expected
            .into_iter()
            .map(|(dates, off, names)| (dates.to_owned(), off, names))
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn a_run_reads_its_dates_as_short_as_they_stay_clear() {
        let run = |first: &str, last: &str| DayRun {
            first: date(first),
            last: date(last),
            off: true,
            names: vec![],
            moves: true,
        };
        // (first, last, shown)
        let cases = [
            ("2026-10-10", "2026-10-10", "2026-10-10"),
            ("2026-10-01", "2026-10-08", "2026-10-01..08"),
            ("2025-01-28", "2025-02-04", "2025-01-28..2025-02-04"),
            ("2026-12-31", "2027-01-02", "2026-12-31..2027-01-02"),
            ("2026-01-01", "2027-01-03", "2026-01-01..2027-01-03"),
        ];
        for (first, last, shown) in cases {
            assert_eq!(run(first, last).dates(), shown, "{first}..{last}");
        }
    }

    #[test]
    fn a_year_is_shown_as_runs_of_days() {
        let notice = Notice::parse(include_str!("../../calendar/holiday-cn/2026.json")).unwrap();
        let table = year_table(2026, notice.days());
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["2026-01-01..03", "休", "3", "天", "元旦"]
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("2026-10-01..07") && l.contains("国庆节")),
            "{table}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("2026-10-10") && l.contains('班')),
            "{table}"
        );
        assert_eq!(
            year_table(2031, notice.days()),
            "2031: no declared days; only the weekend rule applies (import the State Council notice)\n"
        );
        let runs = runs(notice.days());
        assert!(
            runs.iter()
                .all(|r| r.first.year() == 2026 || r.last.year() == 2026)
        );
        assert_eq!(
            runs.iter()
                .find(|r| r.first == date("2026-10-10"))
                .map(|r| (r.off, r.moves)),
            Some((false, true))
        );
    }
}
