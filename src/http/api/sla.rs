//! The `sla` part of `GET /api/orders/{order_no}`: why the order's deadlines are what
//! they are ([`hotline_core::explain`]), read from its timeline and the rules in force.

use hotline_core::calendar::business_time;
use hotline_core::explain::{self, Explanation, SegmentKind};
use hotline_core::sla::{SlaClock, Standing};
use hotline_store::read::OrderSnapshot;
use serde_json::{Value, json};

/// The explanation of `snapshot`'s clock, as the API shows it.
pub fn explanation(clock: &SlaClock, snapshot: &OrderSnapshot) -> Explanation {
    let (pauses, grants) = explain::history(
        snapshot
            .timeline
            .iter()
            .map(|e| (e.event_type.as_str(), e.occurred_at, &e.detail)),
    );
    explain::explain(clock, &snapshot.order, &pauses, &grants, snapshot.as_of)
}

pub fn view(e: &Explanation, calendar_version: Option<&str>) -> Value {
    let segments: Vec<Value> = e
        .segments
        .iter()
        .map(|s| {
            let mut v = json!({
                "kind": s.kind.as_str(),
                "from": business_time(s.from),
                "to": business_time(s.to),
                "seconds": (s.to - s.from).num_seconds(),
            });
            match &s.kind {
                SegmentKind::DayOff(name) => v["name"] = json!(name),
                SegmentKind::Paused(reason) => v["reason"] = json!(reason),
                SegmentKind::Extension(days) => v["days"] = json!(days),
                SegmentKind::Running | SegmentKind::OffHours => {}
            }
            v
        })
        .collect();
    let deadlines: Vec<Value> = e
        .deadlines
        .iter()
        .map(|d| {
            let (left, over) = match d.standing {
                Standing::Left(span) => (span.as_secs(), 0),
                Standing::Over(span) => (0, span.as_secs()),
            };
            json!({
                "deadline": d.deadline,
                "due_at": business_time(d.due_at),
                "left_seconds": left,
                "over_seconds": over,
            })
        })
        .collect();
    json!({
        "until": business_time(e.until),
        "used_seconds": e.used.as_secs(),
        "segments": segments,
        "deadlines": deadlines,
        "moving_days": e.moving_days,
        "provisional": e.provisional,
        "calendar_version": calendar_version,
    })
}
