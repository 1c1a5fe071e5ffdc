//! The department league table (部门排名): a score per department from its 响应率, 解决率
//! and 满意率 weighted by `[kpi] weights`, its rank, and its colour at `[kpi] yellow_below`
//! and `red_below`, over a calendar month or the last 30 days.
//!
//! A score is out of 100: `100 × Σ wᵢ·rateᵢ ÷ Σ wᵢ` over the rates the department has (a
//! rate without a denominator, e.g. no callback in the period, is left out and the other
//! weights carry the score); a department with none of the three has no score, no rank and
//! no colour. Ranks are competition ranks (1, 2, 2, 4): equal scores share a rank.

use crate::calendar::BUSINESS_TZ;
use crate::config::RankingSettings;
use crate::kpi::DepartmentKpis;
use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Utc};
use hotline_schema::named_enum;
use serde::Serialize;

named_enum! {
    /// A department's colour on the league table.
    pub enum Colour("colour") {
        Green = "green",
        Yellow = "yellow",
        Red = "red",
    }
}

/// The period a league table covers: `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// `2026-11` (that calendar month in business time, up to `now` if it is the current one)
/// or `last30` (the 30 days before `now`). A month that has not begun is refused.
pub fn period(raw: &str, now: DateTime<Utc>) -> Result<Period, String> {
    if raw == "last30" {
        return Ok(Period {
            from: now - TimeDelta::days(30),
            to: now,
        });
    }
    let first = NaiveDate::parse_from_str(&format!("{raw}-01"), "%Y-%m-%d")
        .ok()
        .filter(|_| raw.len() == 7)
        .ok_or_else(|| format!("period {raw:?}: use a month (2026-11) or last30"))?;
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    }
    .ok_or_else(|| format!("period {raw:?}: out of range"))?;
    let midnight = |d: NaiveDate| {
        BUSINESS_TZ
            .from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
            .single()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| format!("period {raw:?}: out of range"))
    };
    let (from, to) = (midnight(first)?, midnight(next)?);
    if from > now {
        return Err(format!("period {raw}: the month has not begun"));
    }
    Ok(Period {
        from,
        to: to.min(now),
    })
}

/// One row of the league table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Standing {
    pub department: String,
    pub response_rate: Option<f64>,
    pub resolution_rate: Option<f64>,
    pub satisfaction_rate: Option<f64>,
    /// Out of 100, `None` without any of the three rates.
    pub score: Option<f64>,
    pub rank: Option<u32>,
    pub colour: Option<Colour>,
}

/// The weighted score of three rates (0..=1 each) out of 100 to two decimals, `None`
/// without any.
pub fn score(
    settings: &RankingSettings,
    response: Option<f64>,
    resolution: Option<f64>,
    satisfaction: Option<f64>,
) -> Option<f64> {
    let parts = [
        (settings.response_weight, response),
        (settings.resolution_weight, resolution),
        (settings.satisfaction_weight, satisfaction),
    ];
    let (sum, weights) = parts
        .iter()
        .filter_map(|(w, rate)| rate.map(|r| (w * r, *w)))
        .fold((0.0, 0.0), |(s, ws), (x, w)| (s + x, ws + w));
    // Rounded to hundredths: the figure people compare (and floating-point noise gone).
    (weights > 0.0).then(|| (10_000.0 * sum / weights).round() / 100.0)
}

/// The colour of a score: red below `red_below`, yellow below `yellow_below`, else green.
pub fn colour(settings: &RankingSettings, score: f64) -> Colour {
    if score < settings.red_below {
        Colour::Red
    } else if score < settings.yellow_below {
        Colour::Yellow
    } else {
        Colour::Green
    }
}

/// The league table of `departments`: best score first (ties by department code), those
/// without a score last.
pub fn table(settings: &RankingSettings, departments: &[DepartmentKpis]) -> Vec<Standing> {
    let mut rows: Vec<Standing> = departments
        .iter()
        .map(|d| {
            let score = score(
                settings,
                d.response_rate,
                d.resolution_rate,
                d.satisfaction_rate,
            );
            Standing {
                department: d.department.clone(),
                response_rate: d.response_rate,
                resolution_rate: d.resolution_rate,
                satisfaction_rate: d.satisfaction_rate,
                score,
                rank: None,
                colour: score.map(|s| colour(settings, s)),
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        let key = |s: &Standing| s.score.unwrap_or(f64::NEG_INFINITY);
        key(b)
            .total_cmp(&key(a))
            .then_with(|| a.department.cmp(&b.department))
    });
    let scores: Vec<Option<f64>> = rows.iter().map(|r| r.score).collect();
    for row in &mut rows {
        if let Some(s) = row.score {
            let better = scores.iter().flatten().filter(|o| **o > s).count();
            row.rank = Some(better as u32 + 1);
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kpi::{self, CallbackCounts, DispatchCounts, PeriodCounts, TimelyCounts};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_period_is_a_business_month_or_the_last_30_days() {
        let now = at("2026-11-25T10:00:00+08:00");
        let cases = [
            (
                "2026-10",
                Ok((
                    at("2026-10-01T00:00:00+08:00"),
                    at("2026-11-01T00:00:00+08:00"),
                )),
            ),
            ("2026-11", Ok((at("2026-11-01T00:00:00+08:00"), now))),
            (
                "2025-12",
                Ok((
                    at("2025-12-01T00:00:00+08:00"),
                    at("2026-01-01T00:00:00+08:00"),
                )),
            ),
            ("last30", Ok((at("2026-10-26T10:00:00+08:00"), now))),
            ("2026-12", Err("period 2026-12: the month has not begun")),
            (
                "2026-13",
                Err("period \"2026-13\": use a month (2026-11) or last30"),
            ),
            (
                "2026-1",
                Err("period \"2026-1\": use a month (2026-11) or last30"),
            ),
            (
                "november",
                Err("period \"november\": use a month (2026-11) or last30"),
            ),
        ];
        for (raw, want) in cases {
            let got = period(raw, now).map(|p| (p.from, p.to));
            assert_eq!(got, want.map_err(str::to_owned), "{raw}");
        }
    }

    #[test]
    fn scores_weigh_the_rates_present_and_colour_at_the_thresholds() {
        let s = RankingSettings::default();
        // 0.3 × 1 + 0.35 × 0.5 + 0.35 × 0.8 = 0.755.
        assert_eq!(score(&s, Some(1.0), Some(0.5), Some(0.8)), Some(75.5));
        // 0.3 × 2/3 + 0.35 × 1 + 0.35 × 1/3 = 0.6667 (to hundredths of a point).
        assert_eq!(
            score(&s, Some(2.0 / 3.0), Some(1.0), Some(1.0 / 3.0)),
            Some(66.67)
        );
        // Without callbacks only 响应率 counts.
        assert_eq!(score(&s, Some(0.9), None, None), Some(90.0));
        assert_eq!(score(&s, None, None, None), None);
        let cases = [
            (95.0, Colour::Green),
            (90.0, Colour::Green),
            (89.99, Colour::Yellow),
            (80.0, Colour::Yellow),
            (79.99, Colour::Red),
        ];
        for (score, want) in cases {
            assert_eq!(colour(&s, score), want, "{score}");
        }
    }

    #[test]
    fn the_table_ranks_best_first_ties_share_a_rank_and_no_score_comes_last() {
        let counts = PeriodCounts {
            accepts: vec![
                TimelyCounts {
                    department: "A".into(),
                    total: 2,
                    on_time: 2,
                },
                TimelyCounts {
                    department: "B".into(),
                    total: 2,
                    on_time: 2,
                },
                TimelyCounts {
                    department: "C".into(),
                    total: 2,
                    on_time: 1,
                },
            ],
            dispatches: ["A", "B", "C", "D"]
                .iter()
                .map(|d| DispatchCounts {
                    department: (*d).into(),
                    rule: "r".into(),
                    dispatched: 2,
                    returned: 0,
                    returns_approved: 0,
                    returns_rejected: 0,
                })
                .collect(),
            callbacks: vec![CallbackCounts {
                department: "C".into(),
                rated: 2,
                satisfied: 2,
                resolved: 2,
                reopened: 0,
                excluded: 0,
            }],
            ..PeriodCounts::default()
        };
        let report = kpi::report(counts, &crate::calendar::BusinessCalendar::china_default());
        let mut departments = report.departments;
        // D was dispatched to but accepted nothing: 响应率 0.
        let table = table(&RankingSettings::default(), &departments);
        type Row<'a> = (&'a str, Option<f64>, Option<u32>, Option<Colour>);
        let got: Vec<Row> = table
            .iter()
            .map(|r| (r.department.as_str(), r.score, r.rank, r.colour))
            .collect();
        // C: 0.3 × 0.5 + 0.35 + 0.35 = 0.85 → 85, yellow.
        assert_eq!(
            got,
            vec![
                ("A", Some(100.0), Some(1), Some(Colour::Green)),
                ("B", Some(100.0), Some(1), Some(Colour::Green)),
                ("C", Some(85.0), Some(3), Some(Colour::Yellow)),
                ("D", Some(0.0), Some(4), Some(Colour::Red)),
            ]
        );
        departments.retain(|d| d.department == "D");
        departments[0].response_rate = None;
        let table = super::table(&RankingSettings::default(), &departments);
        assert_eq!(
            (table[0].score, table[0].rank, table[0].colour),
            (None, None, None)
        );
    }
}
