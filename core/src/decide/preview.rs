//! What the intake would do with a draft `complaint.received` now, without recording
//! anything: for the operator's screen before the case is registered (`POST
//! /api/route-preview`).

use super::effective_instant;
use super::receive::{Placement, place};
use crate::order::Report;
use crate::rules::Rules;
use chrono::{DateTime, Utc};
use hotline_schema::body::EventBody;
use hotline_schema::event::{EventType, InboundEvent};
use hotline_schema::rejection::{RejectCode, Rejection};
use serde_json::{Map, Value};

/// The envelope fields a draft may leave out (an operator drafting a case has no order
/// number or event id yet), and what stands in for them.
const DRAFT_ENVELOPE: [(&str, &str); 3] = [
    ("type", EventType::ComplaintReceived.as_str()),
    ("event_id", "00000000-0000-0000-0000-000000000000"),
    ("order_no", "PREVIEW"),
];

/// The placement the intake would choose for the draft, and when it counts from.
#[derive(Debug, Clone)]
pub struct Preview {
    pub received_at: DateTime<Utc>,
    pub placement: Placement,
    /// Answered on the call (`answer.resolved`): closed at intake, no department task.
    pub answered_at_intake: bool,
}

/// Previews `draft` (a JSON object: a `complaint.received` body, envelope optional) as the
/// intake would decide it at `now`. A draft the intake would reject is rejected with the
/// same reason.
pub fn preview(
    rules: &Rules,
    draft: &Map<String, Value>,
    now: DateTime<Utc>,
    max_body_bytes: usize,
) -> Result<Preview, Rejection> {
    let mut event = draft.clone();
    for (field, stand_in) in DRAFT_ENVELOPE {
        event
            .entry(field)
            .or_insert_with(|| Value::String(stand_in.to_owned()));
    }
    event
        .entry("occurred_at")
        .or_insert_with(|| Value::String(now.to_rfc3339()));
    let bytes = Value::Object(event).to_string().into_bytes();
    let event = InboundEvent::parse(&bytes, max_body_bytes)?;
    let EventBody::ComplaintReceived(complaint) = &event.body else {
        return Err(Rejection::new(
            RejectCode::InvalidField,
            "type: only a complaint.received can be previewed",
        ));
    };
    let received_at = effective_instant(&event, now)?;
    let report = Report::of(complaint, received_at);
    Ok(Preview {
        received_at,
        placement: place(rules, &report, now),
        answered_at_intake: complaint.answer.as_ref().is_some_and(|a| a.resolved),
    })
}
