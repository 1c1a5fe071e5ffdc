//! Inbound events: the envelope every front end sends on `hotline.events`, the typed
//! bodies of each event type, and the reasons an event can be turned away.
//!
//! Parsing is pure: bytes in, an [`InboundEvent`] or a [`Rejection`] out. Whether an
//! event fits the order it names (state, department) is decided later, by the dispatcher.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// Why an inbound message could not be accepted. The code is what metrics count
/// (`hotline_events_rejected_total{reason}`) and what `x-hotline-reason` starts with,
/// so the set is closed and small.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectCode {
    /// The body is larger than `intake.max_body_bytes`.
    TooLarge,
    /// The body is not UTF-8.
    NotUtf8,
    /// The body is not a JSON object.
    NotJson,
    /// A required field is absent.
    MissingField,
    /// A field is present but malformed (bad UUID, timestamp, enum value, empty text…).
    InvalidField,
    /// The `type` is not one of the contract's event types.
    UnknownType,
    /// The event names an order the engine does not know.
    UnknownOrder,
    /// A `complaint.received` for an order number that already exists.
    DuplicateOrder,
    /// The action is not allowed in the order's current state.
    InvalidState,
    /// The department acting on the order does not hold it.
    WrongDepartment,
    /// Well-formed, but the database refused to store it (a defect to investigate).
    Unprocessable,
}

impl RejectCode {
    pub const ALL: [RejectCode; 11] = [
        RejectCode::TooLarge,
        RejectCode::NotUtf8,
        RejectCode::NotJson,
        RejectCode::MissingField,
        RejectCode::InvalidField,
        RejectCode::UnknownType,
        RejectCode::UnknownOrder,
        RejectCode::DuplicateOrder,
        RejectCode::InvalidState,
        RejectCode::WrongDepartment,
        RejectCode::Unprocessable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectCode::TooLarge => "too_large",
            RejectCode::NotUtf8 => "not_utf8",
            RejectCode::NotJson => "not_json",
            RejectCode::MissingField => "missing_field",
            RejectCode::InvalidField => "invalid_field",
            RejectCode::UnknownType => "unknown_type",
            RejectCode::UnknownOrder => "unknown_order",
            RejectCode::DuplicateOrder => "duplicate_order",
            RejectCode::InvalidState => "invalid_state",
            RejectCode::WrongDepartment => "wrong_department",
            RejectCode::Unprocessable => "unprocessable",
        }
    }
}

impl fmt::Display for RejectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event turned away, with a reason a person can act on. Rendered as
/// `"<code>: <detail>"` in the `x-hotline-reason` header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct Rejection {
    pub code: RejectCode,
    pub detail: String,
}

impl Rejection {
    pub fn new(code: RejectCode, detail: impl Into<String>) -> Self {
        Rejection {
            code,
            detail: detail.into(),
        }
    }
}

/// A work order's number, assigned by the call centre (e.g. `PT20260930000123`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct OrderNo(String);

impl OrderNo {
    /// Accepts 1–64 characters of ASCII letters, digits, `-` and `_`: order numbers end up
    /// in URLs and logs, so anything else is a front end's bug worth rejecting early.
    pub fn parse(raw: &str) -> Result<OrderNo, String> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(OrderNo(raw.to_owned()))
        } else {
            Err(format!(
                "order_no {raw:?} must be 1-64 ASCII letters, digits, '-' or '_'"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrderNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the citizen asks for (诉求类型).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    Consultation,
    Help,
    Complaint,
    Report,
    Suggestion,
}

impl RequestKind {
    pub const ALL: [RequestKind; 5] = [
        RequestKind::Consultation,
        RequestKind::Help,
        RequestKind::Complaint,
        RequestKind::Report,
        RequestKind::Suggestion,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Consultation => "consultation",
            RequestKind::Help => "help",
            RequestKind::Complaint => "complaint",
            RequestKind::Report => "report",
            RequestKind::Suggestion => "suggestion",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Phone,
    Web,
    App,
    Wechat,
    Sms,
}

impl Channel {
    pub const ALL: [Channel; 5] = [
        Channel::Phone,
        Channel::Web,
        Channel::App,
        Channel::Wechat,
        Channel::Sms,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Phone => "phone",
            Channel::Web => "web",
            Channel::App => "app",
            Channel::Wechat => "wechat",
            Channel::Sms => "sms",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    #[default]
    Normal,
    Urgent,
    Emergency,
}

impl Urgency {
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Normal => "normal",
            Urgency::Urgent => "urgent",
            Urgency::Emergency => "emergency",
        }
    }
}

/// The callback team's rating (回访满意度).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rating {
    VerySatisfied,
    Satisfied,
    BasicallySatisfied,
    Dissatisfied,
    VeryDissatisfied,
}

impl Rating {
    pub const ALL: [Rating; 5] = [
        Rating::VerySatisfied,
        Rating::Satisfied,
        Rating::BasicallySatisfied,
        Rating::Dissatisfied,
        Rating::VeryDissatisfied,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Rating::VerySatisfied => "very_satisfied",
            Rating::Satisfied => "satisfied",
            Rating::BasicallySatisfied => "basically_satisfied",
            Rating::Dissatisfied => "dissatisfied",
            Rating::VeryDissatisfied => "very_dissatisfied",
        }
    }
}

/// The citizen behind a case. Personal data: stored and forwarded to the responsible
/// department, never logged and never a metric label.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Citizen {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

impl fmt::Debug for Citizen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Citizen { .. }")
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ComplaintReceived {
    pub kind: RequestKind,
    pub channel: Channel,
    pub category: String,
    #[serde(default)]
    pub district: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub urgency: Urgency,
    pub title: String,
    pub content: String,
    #[serde(default)]
    pub citizen: Citizen,
    /// Added to the contract: a consultation the operator answered on the call. With
    /// `resolved: true` the order closes at once, without a task.
    #[serde(default)]
    pub answer: Option<AnswerAtIntake>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AnswerAtIntake {
    pub reply: String,
    pub resolved: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AppointmentBooked {
    pub category: String,
    pub service_point: String,
    pub slot_start: DateTime<FixedOffset>,
    #[serde(default)]
    pub citizen: Citizen,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AppointmentCheckedIn {
    pub service_point: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AppointmentCalled {
    #[serde(default)]
    pub window: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OrderAccepted {
    pub department: String,
    #[serde(default)]
    pub handler: Option<String>,
}

/// Added to the contract: an operator places an order by hand (人工派单), typically one
/// at the manual-dispatch desk.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OrderDispatched {
    pub department: String,
    #[serde(default)]
    pub operator: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OrderReturned {
    pub department: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ExtensionRequested {
    pub department: String,
    pub extra_working_days: u32,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ExtensionDecided {
    pub approved: bool,
    #[serde(default)]
    pub extra_working_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SupervisorNote {
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OrderReplied {
    pub department: String,
    pub reply: String,
    pub resolved: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OrderUrged {
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OrderFeedback {
    pub rating: Rating,
    pub resolved: bool,
    #[serde(default)]
    pub comment: Option<String>,
}

/// The type-specific part of an event.
#[derive(Debug, Clone, PartialEq)]
pub enum EventBody {
    ComplaintReceived(ComplaintReceived),
    AppointmentBooked(AppointmentBooked),
    AppointmentCheckedIn(AppointmentCheckedIn),
    AppointmentCalled(AppointmentCalled),
    AppointmentCompleted,
    OrderAccepted(OrderAccepted),
    OrderDispatched(OrderDispatched),
    OrderReturned(OrderReturned),
    ExtensionRequested(ExtensionRequested),
    ExtensionDecided(ExtensionDecided),
    OrderSuspended(SupervisorNote),
    OrderResumed(SupervisorNote),
    OrderReplied(OrderReplied),
    OrderUrged(OrderUrged),
    OrderFeedback(OrderFeedback),
}

/// Every event type of the contract, as it appears in `type` and as the AMQP routing key.
pub const EVENT_TYPES: [&str; 16] = [
    "complaint.received",
    "appointment.booked",
    "appointment.checked_in",
    "appointment.called",
    "appointment.completed",
    "order.accepted",
    "order.dispatched",
    "order.returned",
    "order.extension_requested",
    "order.extension_decided",
    "order.suspended",
    "order.resumed",
    "order.replied",
    "order.urged",
    "order.feedback",
    // Not sent by front ends: the label under which unparsable input is counted.
    "invalid",
];

impl EventBody {
    pub fn type_name(&self) -> &'static str {
        match self {
            EventBody::ComplaintReceived(_) => "complaint.received",
            EventBody::AppointmentBooked(_) => "appointment.booked",
            EventBody::AppointmentCheckedIn(_) => "appointment.checked_in",
            EventBody::AppointmentCalled(_) => "appointment.called",
            EventBody::AppointmentCompleted => "appointment.completed",
            EventBody::OrderAccepted(_) => "order.accepted",
            EventBody::OrderDispatched(_) => "order.dispatched",
            EventBody::OrderReturned(_) => "order.returned",
            EventBody::ExtensionRequested(_) => "order.extension_requested",
            EventBody::ExtensionDecided(_) => "order.extension_decided",
            EventBody::OrderSuspended(_) => "order.suspended",
            EventBody::OrderResumed(_) => "order.resumed",
            EventBody::OrderReplied(_) => "order.replied",
            EventBody::OrderUrged(_) => "order.urged",
            EventBody::OrderFeedback(_) => "order.feedback",
        }
    }

    /// Parses the type-specific fields of `object` for the event type `type_name`.
    fn parse(type_name: &str, object: serde_json::Value) -> Result<EventBody, Rejection> {
        fn typed<T: serde::de::DeserializeOwned>(
            object: serde_json::Value,
        ) -> Result<T, Rejection> {
            serde_json::from_value(object).map_err(field_rejection)
        }
        Ok(match type_name {
            "complaint.received" => {
                let c: ComplaintReceived = typed(object)?;
                require_text("title", &c.title)?;
                require_text("content", &c.content)?;
                // An empty `category` is allowed: such orders are routed by keywords.
                EventBody::ComplaintReceived(c)
            }
            "appointment.booked" => EventBody::AppointmentBooked(typed(object)?),
            "appointment.checked_in" => EventBody::AppointmentCheckedIn(typed(object)?),
            "appointment.called" => EventBody::AppointmentCalled(typed(object)?),
            "appointment.completed" => EventBody::AppointmentCompleted,
            "order.accepted" => EventBody::OrderAccepted(typed(object)?),
            "order.dispatched" => EventBody::OrderDispatched(typed(object)?),
            "order.returned" => {
                let r: OrderReturned = typed(object)?;
                require_text("reason", &r.reason)?;
                EventBody::OrderReturned(r)
            }
            "order.extension_requested" => {
                let r: ExtensionRequested = typed(object)?;
                if r.extra_working_days == 0 {
                    return Err(Rejection::new(
                        RejectCode::InvalidField,
                        "extra_working_days must be at least 1",
                    ));
                }
                EventBody::ExtensionRequested(r)
            }
            "order.extension_decided" => EventBody::ExtensionDecided(typed(object)?),
            "order.suspended" => EventBody::OrderSuspended(typed(object)?),
            "order.resumed" => EventBody::OrderResumed(typed(object)?),
            "order.replied" => EventBody::OrderReplied(typed(object)?),
            "order.urged" => EventBody::OrderUrged(typed(object)?),
            "order.feedback" => EventBody::OrderFeedback(typed(object)?),
            other => {
                return Err(Rejection::new(
                    RejectCode::UnknownType,
                    format!("unknown event type {other:?}"),
                ));
            }
        })
    }
}

fn require_text(field: &str, value: &str) -> Result<(), Rejection> {
    if value.trim().is_empty() {
        Err(Rejection::new(
            RejectCode::InvalidField,
            format!("{field} must not be empty"),
        ))
    } else {
        Ok(())
    }
}

fn field_rejection(err: serde_json::Error) -> Rejection {
    let message = err.to_string();
    let code = if message.starts_with("missing field") {
        RejectCode::MissingField
    } else {
        RejectCode::InvalidField
    };
    Rejection::new(code, message)
}

/// The fields every event carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The idempotency key: the same `event_id` has exactly one effect.
    pub event_id: Uuid,
    /// When it happened upstream; business deadlines are clocked from here.
    pub occurred_at: DateTime<FixedOffset>,
    pub order_no: OrderNo,
}

/// A well-formed inbound event. `raw` keeps the original object for the timeline.
#[derive(Clone, PartialEq)]
pub struct InboundEvent {
    pub envelope: Envelope,
    pub body: EventBody,
    pub raw: serde_json::Value,
}

/// Leaves out `raw`: it holds the citizen's name and phone, which never reach a log.
impl fmt::Debug for InboundEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboundEvent")
            .field("envelope", &self.envelope)
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}

impl InboundEvent {
    /// Parses a message body. `max_bytes` bounds the body size before any parsing.
    pub fn parse(bytes: &[u8], max_bytes: usize) -> Result<InboundEvent, Rejection> {
        if bytes.len() > max_bytes {
            return Err(Rejection::new(
                RejectCode::TooLarge,
                format!("body of {} bytes exceeds {max_bytes}", bytes.len()),
            ));
        }
        let text = std::str::from_utf8(bytes).map_err(|e| {
            Rejection::new(
                RejectCode::NotUtf8,
                format!("body is not UTF-8 (at byte {})", e.valid_up_to()),
            )
        })?;
        let raw: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| Rejection::new(RejectCode::NotJson, format!("body is not JSON: {e}")))?;
        let object = raw
            .as_object()
            .ok_or_else(|| Rejection::new(RejectCode::NotJson, "body is JSON but not an object"))?;

        let event_id = match object.get("event_id") {
            None | Some(serde_json::Value::Null) => {
                return Err(Rejection::new(
                    RejectCode::MissingField,
                    "missing field `event_id`",
                ));
            }
            Some(value) => value
                .as_str()
                .and_then(|s| Uuid::parse_str(s).ok())
                .ok_or_else(|| {
                    Rejection::new(RejectCode::InvalidField, "event_id must be a UUID string")
                })?,
        };
        let type_name = required_str(object, "type")?;
        if !EVENT_TYPES[..EVENT_TYPES.len() - 1].contains(&type_name) {
            return Err(Rejection::new(
                RejectCode::UnknownType,
                format!("unknown event type {type_name:?}"),
            ));
        }
        let occurred_at = DateTime::parse_from_rfc3339(required_str(object, "occurred_at")?)
            .map_err(|e| {
                Rejection::new(
                    RejectCode::InvalidField,
                    format!("occurred_at must be RFC 3339 with an offset: {e}"),
                )
            })?;
        let order_no = OrderNo::parse(required_str(object, "order_no")?)
            .map_err(|e| Rejection::new(RejectCode::InvalidField, e))?;
        let body = EventBody::parse(type_name, raw.clone())?;
        Ok(InboundEvent {
            envelope: Envelope {
                event_id,
                occurred_at,
                order_no,
            },
            body,
            raw,
        })
    }

    pub fn type_name(&self) -> &'static str {
        self.body.type_name()
    }
}

fn required_str<'a>(
    object: &'a serde_json::Map<String, serde_json::Value>,
    field: &str,
) -> Result<&'a str, Rejection> {
    match object.get(field) {
        None | Some(serde_json::Value::Null) => Err(Rejection::new(
            RejectCode::MissingField,
            format!("missing field `{field}`"),
        )),
        Some(serde_json::Value::String(s)) => Ok(s),
        Some(_) => Err(Rejection::new(
            RejectCode::InvalidField,
            format!("{field} must be a string"),
        )),
    }
}

/// What can be read of a body that is otherwise invalid: its `event_id` (so that even a
/// rejected event is rejected once per id) and its contract `type` (for counting).
pub fn sniff(bytes: &[u8]) -> (Option<Uuid>, &'static str) {
    #[derive(Deserialize)]
    struct Sniffed {
        event_id: Option<Uuid>,
        #[serde(rename = "type")]
        type_name: Option<String>,
    }
    let sniffed = serde_json::from_slice::<Sniffed>(bytes).ok();
    let event_id = sniffed.as_ref().and_then(|s| s.event_id);
    let type_name = sniffed
        .and_then(|s| s.type_name)
        .and_then(|t| EVENT_TYPES.iter().find(|known| **known == t).copied())
        .unwrap_or("invalid");
    (event_id, type_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 64 * 1024;

    fn complaint() -> serde_json::Value {
        serde_json::json!({
            "event_id": "0193a5b2-7c1d-7e00-8000-000000000001",
            "type": "complaint.received",
            "occurred_at": "2026-09-30T16:20:00+08:00",
            "order_no": "PT20260930000123",
            "kind": "complaint", "channel": "phone", "category": "SC-0101",
            "district": "金井", "title": "超市销售过期食品", "content": "酸奶过期三天",
            "citizen": {"name": "张三", "phone": "13800000000"}
        })
    }

    fn parse(value: &serde_json::Value) -> Result<InboundEvent, Rejection> {
        InboundEvent::parse(value.to_string().as_bytes(), MAX)
    }

    #[test]
    fn a_complete_complaint_parses() {
        let event = parse(&complaint()).unwrap();
        assert_eq!(event.type_name(), "complaint.received");
        assert_eq!(event.envelope.order_no.as_str(), "PT20260930000123");
        let EventBody::ComplaintReceived(c) = event.body else {
            panic!("wrong body")
        };
        assert_eq!(c.urgency, Urgency::Normal);
        assert_eq!(c.kind, RequestKind::Complaint);
        assert_eq!(c.citizen.phone.as_deref(), Some("13800000000"));
    }

    #[test]
    fn citizen_debug_hides_personal_data() {
        let event = parse(&complaint()).unwrap();
        let debug = format!("{event:?}");
        assert!(!debug.contains("13800000000"), "{debug}");
        assert!(!debug.contains("张三"), "{debug}");
        let EventBody::ComplaintReceived(c) = event.body else {
            panic!()
        };
        assert_eq!(format!("{:?}", c.citizen), "Citizen { .. }");
    }

    #[test]
    fn each_kind_of_bad_input_has_its_reason() {
        let mutate = |f: &dyn Fn(&mut serde_json::Map<String, serde_json::Value>)| {
            let mut v = complaint();
            f(v.as_object_mut().unwrap());
            v.to_string().into_bytes()
        };
        let cases: Vec<(&str, Vec<u8>, RejectCode)> = vec![
            ("not utf-8", vec![0xff, 0xfe, b'{'], RejectCode::NotUtf8),
            ("not json", b"{not json".to_vec(), RejectCode::NotJson),
            ("json array", b"[1,2]".to_vec(), RejectCode::NotJson),
            ("too large", vec![b' '; MAX + 1], RejectCode::TooLarge),
            (
                "no event_id",
                mutate(&|o| {
                    o.remove("event_id");
                }),
                RejectCode::MissingField,
            ),
            (
                "bad event_id",
                mutate(&|o| {
                    o.insert("event_id".into(), "nope".into());
                }),
                RejectCode::InvalidField,
            ),
            (
                "unknown type",
                mutate(&|o| {
                    o.insert("type".into(), "complaint.exploded".into());
                }),
                RejectCode::UnknownType,
            ),
            (
                "no order_no",
                mutate(&|o| {
                    o.remove("order_no");
                }),
                RejectCode::MissingField,
            ),
            (
                "bad order_no",
                mutate(&|o| {
                    o.insert("order_no".into(), "PT 1/2".into());
                }),
                RejectCode::InvalidField,
            ),
            (
                "no offset",
                mutate(&|o| {
                    o.insert("occurred_at".into(), "2026-09-30T16:20:00".into());
                }),
                RejectCode::InvalidField,
            ),
            (
                "no title",
                mutate(&|o| {
                    o.remove("title");
                }),
                RejectCode::MissingField,
            ),
            (
                "empty title",
                mutate(&|o| {
                    o.insert("title".into(), "  ".into());
                }),
                RejectCode::InvalidField,
            ),
            (
                "bad kind",
                mutate(&|o| {
                    o.insert("kind".into(), "rant".into());
                }),
                RejectCode::InvalidField,
            ),
            (
                "bad urgency",
                mutate(&|o| {
                    o.insert("urgency".into(), 3.into());
                }),
                RejectCode::InvalidField,
            ),
        ];
        for (name, body, expected) in cases {
            let got = InboundEvent::parse(&body, MAX).expect_err(name);
            assert_eq!(got.code, expected, "{name}: {got}");
        }
    }

    #[test]
    fn every_contract_type_parses_with_its_fields() {
        let base = |t: &str, extra: serde_json::Value| {
            let mut v = serde_json::json!({
                "event_id": "0193a5b2-7c1d-7e00-8000-000000000002", "type": t,
                "occurred_at": "2026-10-08T09:00:00+08:00", "order_no": "PT1"
            });
            for (k, val) in extra.as_object().unwrap() {
                v[k] = val.clone();
            }
            v
        };
        let cases = [
            (
                "appointment.booked",
                serde_json::json!({"category": "SP-0101", "service_point": "ZX", "slot_start": "2026-10-08T09:00:00+08:00"}),
            ),
            (
                "appointment.checked_in",
                serde_json::json!({"service_point": "ZX"}),
            ),
            ("appointment.called", serde_json::json!({})),
            ("appointment.completed", serde_json::json!({})),
            (
                "order.accepted",
                serde_json::json!({"department": "SCJGJ", "handler": "h1"}),
            ),
            (
                "order.returned",
                serde_json::json!({"department": "SCJGJ", "reason": "非本单位职责"}),
            ),
            (
                "order.dispatched",
                serde_json::json!({"department": "SCJGJ", "operator": "op7"}),
            ),
            (
                "order.extension_requested",
                serde_json::json!({"department": "SCJGJ", "extra_working_days": 3, "reason": "需现场核查"}),
            ),
            (
                "order.extension_decided",
                serde_json::json!({"approved": true, "extra_working_days": 3}),
            ),
            (
                "order.suspended",
                serde_json::json!({"reason": "等待司法鉴定"}),
            ),
            ("order.resumed", serde_json::json!({})),
            (
                "order.replied",
                serde_json::json!({"department": "SCJGJ", "reply": "已处理", "resolved": true}),
            ),
            ("order.urged", serde_json::json!({"note": "请尽快"})),
            (
                "order.feedback",
                serde_json::json!({"rating": "satisfied", "resolved": true}),
            ),
        ];
        for (t, extra) in cases {
            let event = parse(&base(t, extra)).unwrap_or_else(|e| panic!("{t}: {e}"));
            assert_eq!(event.type_name(), t);
        }
    }

    #[test]
    fn sniffs_the_event_id_of_an_invalid_event() {
        let mut v = complaint();
        v.as_object_mut().unwrap().remove("title");
        let (id, type_name) = sniff(v.to_string().as_bytes());
        assert!(id.is_some());
        assert_eq!(type_name, "complaint.received");
        assert_eq!(sniff(b"garbage"), (None, "invalid"));
        assert_eq!(sniff(br#"{"type": "x.y"}"#), (None, "invalid"));
    }
}
