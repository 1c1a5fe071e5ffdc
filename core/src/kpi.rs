//! What supervisors are measured on, from the counts of a period (pure):
//! - 满意率 `satisfaction_rate` = satisfied ÷ rated callbacks;
//! - 解决率 `resolution_rate` = callbacks saying resolved ÷ rated callbacks;
//! - 响应率/及时签收率 `response_rate` = acceptances before the sign deadline ÷ dispatches;
//! - 按时办结率 `on_time_rate` = replies before the committed deadline ÷ replies;
//! - 回退率 `return_rate` = dispatches returned ÷ dispatches;
//! - 重办率 `reopen_rate` = callbacks that reopened the order ÷ rated callbacks;
//! - the hall: average waiting and handling time, and the share handled within 30 minutes;
//! - per routing rule: dispatches, returns, and the working time the departments that
//!   returned them held them (charged to the routing, not to the citizen).

use crate::calendar::BusinessCalendar;
use chrono::{DateTime, Utc};
use hotline_schema::message::UrgeLevelCounts;
use hotline_schema::values::UrgeLevel;
use serde::Serialize;
use std::collections::BTreeMap;

/// A period's callbacks of one department.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallbackCounts {
    pub department: String,
    pub rated: i64,
    pub satisfied: i64,
    pub resolved: i64,
    pub reopened: i64,
    /// Ratings removed from 满意率 by an upheld appeal (评价复核).
    pub excluded: i64,
}

/// Orders of one department urged at one level in the period (each order once per level).
#[derive(Debug, Clone, PartialEq)]
pub struct UrgeCounts {
    pub department: String,
    pub level: UrgeLevel,
    pub orders: i64,
}

/// A period's acceptances (or replies) of one department, and how many were in time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimelyCounts {
    pub department: String,
    pub total: i64,
    pub on_time: i64,
}

/// The dispatches of the period by department and routing rule, and how many of them
/// were returned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DispatchCounts {
    pub department: String,
    pub rule: String,
    pub dispatched: i64,
    pub returned: i64,
    /// Of the returned, those the review approved, and those it rejected (回退驳回).
    pub returns_approved: i64,
    pub returns_rejected: i64,
}

/// One dispatch of the period that was returned: the working time it cost is charged to
/// its routing rule.
#[derive(Debug, Clone, PartialEq)]
pub struct ReturnSpan {
    pub rule: String,
    pub dispatched_at: DateTime<Utc>,
    pub returned_at: DateTime<Utc>,
}

/// A service point's completed visits of the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HallFigures {
    pub service_point: String,
    pub completed: i64,
    pub avg_waiting_seconds: Option<f64>,
    pub avg_handling_seconds: Option<f64>,
    pub within_30m: i64,
}

/// Everything the store counted for a period.
#[derive(Debug, Clone, Default)]
pub struct PeriodCounts {
    pub callbacks: Vec<CallbackCounts>,
    pub accepts: Vec<TimelyCounts>,
    pub replies: Vec<TimelyCounts>,
    pub dispatches: Vec<DispatchCounts>,
    /// The returned dispatches alone (few: the rest is only counted).
    pub returns: Vec<ReturnSpan>,
    pub hall: Vec<HallFigures>,
    /// Co-handlers' co-replies (协办答复) of the period, and how many were in time.
    pub co_replies: Vec<TimelyCounts>,
    pub urges: Vec<UrgeCounts>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DepartmentKpis {
    pub department: String,
    pub dispatched: i64,
    pub accepted: i64,
    pub accepted_on_time: i64,
    pub response_rate: Option<f64>,
    pub replied: i64,
    pub replied_on_time: i64,
    pub on_time_rate: Option<f64>,
    pub rated: i64,
    pub satisfied: i64,
    pub satisfaction_rate: Option<f64>,
    pub resolved: i64,
    pub resolution_rate: Option<f64>,
    pub returned: i64,
    pub return_rate: Option<f64>,
    pub reopened: i64,
    pub reopen_rate: Option<f64>,
    /// Ratings removed from 满意率 by upheld appeals: `satisfaction_rate` is
    /// satisfied ÷ (rated − rated_excluded).
    pub rated_excluded: i64,
    /// Returns the review approved, and those it rejected (回退驳回).
    pub returns_approved: i64,
    pub returns_rejected: i64,
    /// As a co-handler (协办): co-replies, those by the co-reply deadline, and their rate.
    pub co_replied: i64,
    pub co_replied_on_time: i64,
    pub co_on_time_rate: Option<f64>,
    /// Orders urged in the period, per level (催办, 督办, 挂牌督办).
    pub urged: UrgeLevelCounts,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HallKpis {
    #[serde(flatten)]
    pub figures: HallFigures,
    pub within_30m_share: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleKpis {
    pub rule: String,
    pub dispatched: i64,
    pub returned: i64,
    pub return_rate: Option<f64>,
    pub lost_working_seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KpiReport {
    pub departments: Vec<DepartmentKpis>,
    pub service_points: Vec<HallKpis>,
    pub rules: Vec<RuleKpis>,
}

/// The board's mark for a rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Green,
    Yellow,
    Red,
    /// Nothing to judge (no denominator in the period).
    None,
}

impl Mark {
    pub fn of(rate: Option<f64>, marks: crate::config::Marks) -> Mark {
        match rate {
            None => Mark::None,
            Some(r) if r >= marks.green => Mark::Green,
            Some(r) if r >= marks.yellow => Mark::Yellow,
            Some(_) => Mark::Red,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mark::Green => "green",
            Mark::Yellow => "yellow",
            Mark::Red => "red",
            Mark::None => "none",
        }
    }
}

/// `numerator ÷ denominator`, or nothing to report when there is no denominator.
pub fn ratio(numerator: i64, denominator: i64) -> Option<f64> {
    (denominator != 0).then(|| numerator as f64 / denominator as f64)
}

/// The rates of a period, per department (sorted by code), service point and rule.
pub fn report(counts: PeriodCounts, calendar: &BusinessCalendar) -> KpiReport {
    let mut departments: BTreeMap<String, DepartmentKpis> = BTreeMap::new();
    fn of<'a>(
        departments: &'a mut BTreeMap<String, DepartmentKpis>,
        department: &str,
    ) -> &'a mut DepartmentKpis {
        departments
            .entry(department.to_owned())
            .or_insert_with(|| DepartmentKpis::empty(department))
    }
    for c in counts.callbacks {
        let d = of(&mut departments, &c.department);
        (
            d.rated,
            d.satisfied,
            d.resolved,
            d.reopened,
            d.rated_excluded,
        ) = (c.rated, c.satisfied, c.resolved, c.reopened, c.excluded);
    }
    for c in counts.co_replies {
        let d = of(&mut departments, &c.department);
        (d.co_replied, d.co_replied_on_time) = (c.total, c.on_time);
    }
    for u in counts.urges {
        let d = of(&mut departments, &u.department);
        match u.level {
            UrgeLevel::Reminder => d.urged.reminder += u.orders,
            UrgeLevel::Supervision => d.urged.supervision += u.orders,
            UrgeLevel::Listed => d.urged.listed += u.orders,
        }
    }
    for a in counts.accepts {
        let d = of(&mut departments, &a.department);
        (d.accepted, d.accepted_on_time) = (a.total, a.on_time);
    }
    for r in counts.replies {
        let d = of(&mut departments, &r.department);
        (d.replied, d.replied_on_time) = (r.total, r.on_time);
    }
    let mut rules: BTreeMap<String, RuleKpis> = BTreeMap::new();
    for c in &counts.dispatches {
        let d = of(&mut departments, &c.department);
        d.dispatched += c.dispatched;
        d.returned += c.returned;
        d.returns_approved += c.returns_approved;
        d.returns_rejected += c.returns_rejected;
        let rule = rules.entry(c.rule.clone()).or_insert_with(|| RuleKpis {
            rule: c.rule.clone(),
            dispatched: 0,
            returned: 0,
            return_rate: None,
            lost_working_seconds: 0.0,
        });
        rule.dispatched += c.dispatched;
        rule.returned += c.returned;
    }
    for span in &counts.returns {
        if let Some(rule) = rules.get_mut(&span.rule) {
            rule.lost_working_seconds += calendar
                .working_time_between(span.dispatched_at, span.returned_at)
                .as_secs_f64();
        }
    }
    KpiReport {
        departments: departments
            .into_values()
            .map(|mut d| {
                d.response_rate = ratio(d.accepted_on_time, d.dispatched);
                d.on_time_rate = ratio(d.replied_on_time, d.replied);
                d.satisfaction_rate = ratio(d.satisfied, d.rated - d.rated_excluded);
                d.co_on_time_rate = ratio(d.co_replied_on_time, d.co_replied);
                d.resolution_rate = ratio(d.resolved, d.rated);
                d.return_rate = ratio(d.returned, d.dispatched);
                d.reopen_rate = ratio(d.reopened, d.rated);
                d
            })
            .collect(),
        service_points: counts
            .hall
            .into_iter()
            .map(|figures| HallKpis {
                within_30m_share: ratio(figures.within_30m, figures.completed),
                figures,
            })
            .collect(),
        rules: rules
            .into_values()
            .map(|mut r| {
                r.return_rate = ratio(r.returned, r.dispatched);
                r
            })
            .collect(),
    }
}

impl DepartmentKpis {
    fn empty(department: &str) -> DepartmentKpis {
        DepartmentKpis {
            department: department.to_owned(),
            ..DepartmentKpis::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn rates_are_marked_at_their_thresholds() {
        let marks = crate::config::Marks {
            green: 0.9,
            yellow: 0.8,
        };
        // (rate, mark)
        let cases = [
            (Some(1.0), Mark::Green),
            (Some(0.9), Mark::Green),
            (Some(0.899), Mark::Yellow),
            (Some(0.8), Mark::Yellow),
            (Some(0.799), Mark::Red),
            (Some(0.0), Mark::Red),
            (None, Mark::None),
        ];
        for (rate, mark) in cases {
            assert_eq!(Mark::of(rate, marks), mark, "{rate:?}");
        }
    }

    #[test]
    fn an_upheld_appeal_takes_its_rating_out_of_the_satisfaction_rate_only() {
        let counts = PeriodCounts {
            callbacks: vec![CallbackCounts {
                department: "SCJGJ".into(),
                rated: 4,
                satisfied: 2,
                resolved: 4,
                reopened: 1,
                excluded: 1,
            }],
            ..PeriodCounts::default()
        };
        let report = report(counts, &BusinessCalendar::china_default());
        let sc = &report.departments[0];
        assert_eq!(sc.satisfaction_rate, Some(2.0 / 3.0));
        assert_eq!(sc.resolution_rate, Some(1.0));
        assert_eq!(sc.reopen_rate, Some(0.25));
        assert_eq!(sc.rated_excluded, 1);
    }

    #[test]
    fn rates_come_from_the_counts_and_none_without_a_denominator() {
        let counts = PeriodCounts {
            callbacks: vec![CallbackCounts {
                department: "SCJGJ".into(),
                rated: 10,
                satisfied: 9,
                resolved: 10,
                reopened: 0,
                excluded: 0,
            }],
            accepts: vec![TimelyCounts {
                department: "SCJGJ".into(),
                total: 10,
                on_time: 8,
            }],
            replies: vec![TimelyCounts {
                department: "SCJGJ".into(),
                total: 10,
                on_time: 10,
            }],
            dispatches: vec![DispatchCounts {
                department: "YSBZX".into(),
                rule: "catalog:YB-0101".into(),
                dispatched: 2,
                returned: 1,
                returns_approved: 0,
                returns_rejected: 1,
            }],
            returns: vec![ReturnSpan {
                rule: "catalog:YB-0101".into(),
                // Wednesday 10:00 → 11:30: 1.5 working hours lost.
                dispatched_at: t("2026-11-25T10:00:00+08:00"),
                returned_at: t("2026-11-25T11:30:00+08:00"),
            }],
            hall: vec![HallFigures {
                service_point: "ZX".into(),
                completed: 2,
                avg_waiting_seconds: Some(900.0),
                avg_handling_seconds: Some(1350.0),
                within_30m: 1,
            }],
            co_replies: vec![TimelyCounts {
                department: "YSBZX".into(),
                total: 4,
                on_time: 3,
            }],
            urges: vec![
                UrgeCounts {
                    department: "YSBZX".into(),
                    level: UrgeLevel::Supervision,
                    orders: 2,
                },
                UrgeCounts {
                    department: "YSBZX".into(),
                    level: UrgeLevel::Reminder,
                    orders: 1,
                },
            ],
        };
        let report = report(counts, &BusinessCalendar::china_default());
        let sc = &report.departments[0];
        assert_eq!(sc.department, "SCJGJ");
        assert_eq!(sc.satisfaction_rate, Some(0.9));
        assert_eq!(sc.resolution_rate, Some(1.0));
        assert_eq!(sc.on_time_rate, Some(1.0));
        assert_eq!(sc.response_rate, None, "no dispatch counted in the period");
        let yb = &report.departments[1];
        assert_eq!(
            (yb.dispatched, yb.returned, yb.return_rate),
            (2, 1, Some(0.5))
        );
        assert_eq!(yb.satisfaction_rate, None);
        assert_eq!((yb.returns_approved, yb.returns_rejected), (0, 1));
        assert_eq!((yb.co_replied, yb.co_on_time_rate), (4, Some(0.75)));
        assert_eq!(
            yb.urged,
            UrgeLevelCounts {
                reminder: 1,
                supervision: 2,
                listed: 0
            }
        );
        assert_eq!(report.rules[0].lost_working_seconds, 5400.0);
        assert_eq!(report.rules[0].return_rate, Some(0.5));
        assert_eq!(report.service_points[0].within_30m_share, Some(0.5));
        let json = serde_json::to_value(&report.service_points[0]).unwrap();
        assert_eq!(json["service_point"], "ZX");
        assert_eq!(json["avg_handling_seconds"], 1350.0);
    }
}
