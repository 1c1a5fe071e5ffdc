//! The daily supervision digest (督办日报), built from what the store read (pure).

use crate::calendar::business_time;
use chrono::{DateTime, NaiveDate, Utc};
use hotline_schema::message::{Digest, DigestOrder, UrgeLevelCounts};
use hotline_schema::values::{OrderState, SlaState, UrgeLevel};
use std::collections::HashMap;
use uuid::Uuid;

/// One open order of a department, with the department's counts (the same on each of its
/// lines), as the digest query returns them: per department, worst first.
#[derive(Debug, Clone)]
pub struct DigestLine {
    pub department: String,
    pub order_no: String,
    pub state: OrderState,
    pub sla_state: SlaState,
    pub sign_overdue: bool,
    pub matter_name: Option<String>,
    pub received_at: DateTime<Utc>,
    pub committed_due_at: Option<DateTime<Utc>>,
    pub statutory_due_at: Option<DateTime<Utc>>,
    pub urge_count: i32,
    pub urge_level: Option<UrgeLevel>,
    pub counts: DigestCounts,
}

/// What else a department's digest counts: its open orders by supervision level, what it
/// co-handles, the returns it reviews, its appeals awaiting a decision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestExtras {
    pub urge_levels: UrgeLevelCounts,
    pub co_handling: i64,
    pub co_overdue: i64,
    pub return_pending: i64,
    pub appeals_pending: i64,
}

/// A department's open orders by what they need.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DigestCounts {
    pub open: i64,
    /// Orders that need chasing (listed or not).
    pub flagged: i64,
    pub sign_overdue: i64,
    pub warning: i64,
    pub overdue: i64,
    pub statutory_overdue: i64,
}

/// The digest of each claimed department (with its `digest_id`) from the query's lines.
pub fn build(
    claimed: &[(String, Uuid)],
    day: NaiveDate,
    generated_at: DateTime<Utc>,
    lines: &[DigestLine],
    extras: &HashMap<String, DigestExtras>,
) -> Vec<Digest> {
    claimed
        .iter()
        .map(|(department, digest_id)| {
            let mine: Vec<&DigestLine> = lines
                .iter()
                .filter(|l| &l.department == department)
                .collect();
            let counts = mine
                .first()
                .map_or_else(DigestCounts::default, |l| l.counts);
            let orders: Vec<DigestOrder> = mine
                .iter()
                .filter(|l| l.sla_state != SlaState::OnTrack || l.sign_overdue)
                .map(|l| DigestOrder {
                    order_no: l.order_no.clone(),
                    state: l.state,
                    sla_state: l.sla_state,
                    sign_overdue: l.sign_overdue,
                    matter_name: l.matter_name.clone(),
                    received_at: business_time(l.received_at),
                    committed_due_at: l.committed_due_at.map(business_time),
                    statutory_due_at: l.statutory_due_at.map(business_time),
                    urge_count: l.urge_count,
                    urge_level: l.urge_level,
                })
                .collect();
            let extra = extras.get(department).cloned().unwrap_or_default();
            Digest {
                digest_id: *digest_id,
                department: department.clone(),
                day: day.format("%Y-%m-%d").to_string(),
                generated_at: business_time(generated_at),
                open: counts.open,
                sign_overdue: counts.sign_overdue,
                warning: counts.warning,
                overdue: counts.overdue,
                statutory_overdue: counts.statutory_overdue,
                truncated: counts.flagged > orders.len() as i64,
                orders,
                urge_levels: extra.urge_levels,
                co_handling: extra.co_handling,
                co_overdue: extra.co_overdue,
                return_pending: extra.return_pending,
                appeals_pending: extra.appeals_pending,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::BUSINESS_TZ;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        BUSINESS_TZ
            .with_ymd_and_hms(2026, 11, 25, h, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_digest_lists_what_needs_chasing_worst_first() {
        let counts = DigestCounts {
            open: 4,
            flagged: 3,
            sign_overdue: 1,
            warning: 1,
            overdue: 0,
            statutory_overdue: 1,
        };
        let line = |dept: &str, no: &str, sla: SlaState, sign: bool| DigestLine {
            department: dept.into(),
            order_no: no.into(),
            state: OrderState::Accepted,
            sla_state: sla,
            sign_overdue: sign,
            matter_name: Some("燃气泄漏".into()),
            received_at: at(8),
            committed_due_at: Some(at(9)),
            statutory_due_at: Some(at(10)),
            urge_count: 0,
            urge_level: (no == "1").then_some(UrgeLevel::Supervision),
            counts,
        };
        // As the query returns them: per department, worst first.
        let lines = vec![
            line("A", "1", SlaState::StatutoryOverdue, false),
            line("A", "2", SlaState::Warning, false),
            line("A", "3", SlaState::OnTrack, true),
            line("A", "4", SlaState::OnTrack, false),
        ];
        let claimed = vec![("A".to_owned(), Uuid::nil()), ("B".to_owned(), Uuid::max())];
        let day = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let extras: HashMap<String, DigestExtras> = [(
            "A".to_owned(),
            DigestExtras {
                urge_levels: UrgeLevelCounts {
                    reminder: 0,
                    supervision: 1,
                    listed: 0,
                },
                co_handling: 2,
                co_overdue: 1,
                return_pending: 0,
                appeals_pending: 1,
            },
        )]
        .into();
        let digests = build(&claimed, day, at(8), &lines, &extras);
        assert_eq!(digests.len(), 2);
        let a = &digests[0];
        assert_eq!((a.department.as_str(), a.day.as_str()), ("A", "2026-11-25"));
        assert_eq!(a.generated_at, "2026-11-25T08:00:00+08:00");
        assert_eq!(
            a.orders
                .iter()
                .map(|o| o.order_no.as_str())
                .collect::<Vec<_>>(),
            ["1", "2", "3"]
        );
        assert_eq!(
            (
                a.open,
                a.sign_overdue,
                a.warning,
                a.overdue,
                a.statutory_overdue
            ),
            (4, 1, 1, 0, 1)
        );
        assert!(!a.truncated);
        assert_eq!(a.orders[0].urge_level, Some(UrgeLevel::Supervision));
        assert_eq!(a.orders[1].urge_level, None);
        assert_eq!(
            (
                a.urge_levels.supervision,
                a.co_handling,
                a.co_overdue,
                a.appeals_pending
            ),
            (1, 2, 1, 1)
        );
        assert_eq!(
            a.orders[0].statutory_due_at.as_deref(),
            Some("2026-11-25T10:00:00+08:00")
        );
        // A department with no open order still gets its (empty) digest.
        let b = &digests[1];
        assert_eq!((b.open, b.orders.len(), b.truncated), (0, 0, false));
        assert_eq!(b.digest_id, Uuid::max());
        assert_eq!((b.co_handling, b.urge_levels.supervision), (0, 0));
        // Cut at the query's limit: the counts say how many there are.
        let cut = build(&claimed[..1], day, at(8), &lines[..1], &extras);
        assert!(cut[0].truncated);
    }
}
