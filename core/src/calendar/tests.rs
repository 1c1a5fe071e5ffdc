use super::days::BUILTIN_FILES;
use super::*;
use chrono::{NaiveDateTime, TimeZone};

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
            cal.is_working_day(day) && cal.periods().iter().any(|p| at(day, p.end_seconds()) == t)
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
    let table: [(&[&str], u64); 7] = [
        (&["08:00-12:00", "14:30-17:30"], 420),
        (&["09:00-17:00"], 480),
        (&[" 8:00 - 12:00 ", "12:00-13:00"], 300), // adjacent is fine
        (&["00:00-24:00"], 1440),
        (&["08:00:30-08:01:00"], 0), // 30 seconds, see below
        (&["08:59-09:59"], 60),      // 59 is the last minute
        (&["08:00:59-08:02:59"], 2), // and the last second
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
    let table: [(&[&str], &str); 18] = [
        (&["25:00-26:00"], "hours must be 00-23"),
        (&["12:00-08:00"], "start must be before the end"),
        (&["08:00-08:00"], "start must be before the end"),
        (&["24:00-24:00"], "24:00 can only be an end"),
        (&["08:00-24:30"], "hours must be 00-23"),
        (&["08:60-12:00"], "minutes and seconds must be 00-59"),
        (&["08:00:60-12:00"], "minutes and seconds must be 00-59"),
        (&["0008:00-12:00"], "not a time of day"), // at most two digits
        (&["+8:00-12:00"], "not a time of day"),   // digits only, no sign
        (&["08:+5-12:00"], "not a time of day"),
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

#[test]
fn the_first_and_last_supported_days_are_still_walked() {
    let c = cal();
    // 0001-01-02 is a Tuesday and 9999-12-30 a Thursday: both working days, and the
    // ends of the range (MIN_DATE, MAX_DATE); past them the walks saturate.
    let first = "0001-01-02";
    let last = "9999-12-30";
    let h = |n: u64| Duration::from_secs(n * 3600);
    let at = |day: &str, hm: &str| sh(&format!("{day} {hm}"));
    // (start, working time added, result)
    let forward = [
        (at(last, "10:00"), h(1), at(last, "11:00")),
        (at(last, "07:00"), h(4), at(last, "12:00")),
        (
            at(last, "17:00"),
            Duration::from_secs(1800),
            at(last, "17:30"),
        ),
        (at(last, "17:00"), h(1), c.ceiling),
    ];
    for (start, amount, expected) in forward {
        let got = c.add_working_time(start, amount);
        assert_eq!(show(got), show(expected), "{} + {amount:?}", show(start));
    }
    // (start, working time subtracted, result)
    let backward = [
        (at(first, "10:00"), h(1), at(first, "09:00")),
        (at(first, "18:00"), h(3), at(first, "14:30")),
        (at(first, "09:00"), h(1), at(first, "08:00")),
        (at(first, "09:00"), h(2), c.floor),
    ];
    for (start, amount, expected) in backward {
        let got = c.subtract_working_time(start, amount);
        assert_eq!(show(got), show(expected), "{} - {amount:?}", show(start));
    }
    assert_eq!(
        c.working_time_between(at(first, "00:00"), at(first, "23:00")),
        h(7)
    );
    assert_eq!(
        c.working_time_between(at(last, "00:00"), at(last, "23:00")),
        h(7)
    );
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
fn long_deadlines_hold_exactly_their_working_time() {
    // Speed is measured by the benchmarks, never asserted here; what a test can hold is
    // that every 15-working-day deadline spans exactly 15 days of working time.
    let c = cal();
    let mut rng = SplitMix64(9);
    for _ in 0..5_000 {
        let t = rng.instant(sh("2025-01-01 00:00"), sh("2027-01-01 00:00"));
        let r = c.add_working_days(t, 15);
        assert_eq!(
            c.working_time_between(t, r),
            c.working_days(15),
            "from {}",
            show(t)
        );
    }
}

// ---------------------------------------------------------------------
// Against an independent implementation
// ---------------------------------------------------------------------

/// Every date of 2019–2026 is a working day for the engine exactly when it is one for
/// the PyPI package chinesecalendar (its results are checked in by
/// `scripts/calendar-reference`; the package does not read holiday-cn).
#[test]
fn working_days_2019_to_2026_agree_with_chinesecalendar() {
    let reference = include_str!("../../calendar/reference/chinesecalendar.txt");
    let mut exceptions = std::collections::HashMap::new();
    for line in reference.lines().filter(|l| !l.starts_with('#')) {
        let (day, status) = line.split_once(' ').expect("<date> off|work");
        let working = match status {
            "work" => true,
            "off" => false,
            other => panic!("unknown status {other:?}"),
        };
        exceptions.insert(date(day), working);
    }
    assert!(
        exceptions.len() > 150,
        "the reference lists every year's days"
    );
    let calendar = BusinessCalendar::china_default();
    let mut disagreements = Vec::new();
    let mut day = date("2019-01-01");
    while day <= date("2026-12-31") {
        let plain = day.weekday().num_days_from_monday() < 5;
        let expected = exceptions.get(&day).copied().unwrap_or(plain);
        if calendar.is_working_day(day) != expected {
            disagreements.push(format!("{day}: chinesecalendar says working={expected}"));
        }
        day = day.succ_opt().unwrap();
    }
    assert_eq!(disagreements, Vec::<String>::new());
}
