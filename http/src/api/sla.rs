//! The `sla` part of `GET /api/orders/{order_no}`: why the order's deadlines are what
//! they are ([`hotline_core::explain`]), read from its timeline and the rules in force.

use hotline_core::calendar::business_time;
use hotline_core::explain::{self, Explanation, Segment, SegmentKind};
use hotline_core::rules::Rules;
use hotline_core::sla::Standing;
use hotline_store::read::OrderSnapshot;
use serde::Serialize;
use utoipa::ToSchema;

/// The explanation of `snapshot`'s clock, as the API shows it.
pub fn explanation(rules: &Rules, snapshot: &OrderSnapshot) -> Explanation {
    let (pauses, grants) = explain::history(
        snapshot
            .timeline
            .iter()
            .map(|e| (e.event_type.as_str(), e.occurred_at, &e.detail)),
    );
    let sign_limit = rules.sign_limit_of(&snapshot.order);
    explain::explain(
        &rules.clock,
        sign_limit,
        &snapshot.order,
        &pauses,
        &grants,
        snapshot.as_of,
    )
}

/// The order's SLA clock from its receipt to `until` (now, or its reply): the segments
/// whose `running` ones add up to `used_seconds`, each deadline's standing, and the
/// calendar days that moved a deadline.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SlaExplanation)]
pub struct SlaView {
    #[schema(format = DateTime)]
    until: String,
    /// Working time used, to the second: the sum of the `running` segments.
    used_seconds: u64,
    segments: Vec<SegmentView>,
    deadlines: Vec<DeadlineView>,
    /// The declared days that moved a deadline, as `2026-10-01..07 国庆节`.
    moving_days: Vec<String>,
    /// A deadline lies past the days the calendar declares: it may still move.
    provisional: bool,
    /// The version (digest) of the calendar that computed the deadlines.
    calendar_version: Option<String>,
}

/// One stretch of the clock.
#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentView {
    /// `running`, `off_hours`, `day_off`, `paused` or `extension`.
    kind: &'static str,
    #[schema(format = DateTime)]
    from: String,
    #[schema(format = DateTime)]
    to: String,
    seconds: i64,
    /// The day off's name (`day_off`).
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// Why the order was suspended (`paused`).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// The working days granted (`extension`).
    #[serde(skip_serializing_if = "Option::is_none")]
    days: Option<u32>,
}

/// Where the order stands against one deadline.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadlineView {
    /// `sign`, `committed` or `statutory`.
    deadline: &'static str,
    #[schema(format = DateTime)]
    due_at: String,
    left_seconds: u64,
    over_seconds: u64,
}

impl SegmentView {
    fn of(segment: &Segment) -> SegmentView {
        let (mut name, mut reason, mut days) = (None, None, None);
        match &segment.kind {
            SegmentKind::DayOff(day) => name = Some(day.clone()),
            SegmentKind::Paused(why) => reason.clone_from(why),
            SegmentKind::Extension(granted) => days = Some(*granted),
            SegmentKind::Running | SegmentKind::OffHours => {}
        }
        SegmentView {
            kind: segment.kind.as_str(),
            from: business_time(segment.from),
            to: business_time(segment.to),
            seconds: (segment.to - segment.from).num_seconds(),
            name,
            reason,
            days,
        }
    }
}

impl SlaView {
    pub fn of(e: &Explanation, calendar_version: Option<&str>) -> SlaView {
        SlaView {
            until: business_time(e.until),
            used_seconds: e.used.as_secs(),
            segments: e.segments.iter().map(SegmentView::of).collect(),
            deadlines: e
                .deadlines
                .iter()
                .map(|d| {
                    let (left_seconds, over_seconds) = match d.standing {
                        Standing::Left(span) => (span.as_secs(), 0),
                        Standing::Over(span) => (0, span.as_secs()),
                    };
                    DeadlineView {
                        deadline: d.deadline,
                        due_at: business_time(d.due_at),
                        left_seconds,
                        over_seconds,
                    }
                })
                .collect(),
            moving_days: e.moving_days.clone(),
            provisional: e.provisional,
            calendar_version: calendar_version.map(str::to_owned),
        }
    }

    pub fn provisional(&self) -> bool {
        self.provisional
    }
}
