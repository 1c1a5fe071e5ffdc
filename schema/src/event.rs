//! Inbound events: the envelope every front end sends on `hotline.events`, and its
//! parsing into an [`InboundEvent`] or a [`Rejection`].
//!
//! Parsing is pure: bytes in, an event or a rejection out. Whether an event fits the order
//! it names (state, department) is decided later, by the engine's core.

use crate::body::EventBody;
use crate::named_enum;
use crate::rejection::{RejectCode, Rejection};
use crate::values::OrderNo;
use chrono::{DateTime, FixedOffset};
use serde::Deserialize;
use std::fmt;
use uuid::Uuid;

named_enum! {
    /// Every event type of the contract, as it appears in `type` and as the AMQP routing
    /// key on `hotline.events`.
    pub enum EventType("event type") {
        ComplaintReceived = "complaint.received",
        AppointmentBooked = "appointment.booked",
        AppointmentCheckedIn = "appointment.checked_in",
        AppointmentCalled = "appointment.called",
        AppointmentCompleted = "appointment.completed",
        OrderAccepted = "order.accepted",
        /// Added to the contract: an operator places an order by hand (人工派单).
        OrderDispatched = "order.dispatched",
        OrderReturned = "order.returned",
        ExtensionRequested = "order.extension_requested",
        ExtensionDecided = "order.extension_decided",
        OrderSuspended = "order.suspended",
        OrderResumed = "order.resumed",
        OrderReplied = "order.replied",
        OrderUrged = "order.urged",
        OrderFeedback = "order.feedback",
        /// Added: a co-handling department's contribution (协办答复).
        OrderCoReplied = "order.co_replied",
        /// Added: an operator's decision on a return (退单审核).
        ReturnDecided = "order.return_decided",
        /// Added: the replying department appeals a dissatisfied rating (评价复核).
        RatingAppealed = "order.rating_appealed",
        /// Added: a supervisor's decision on an appeal.
        AppealDecided = "order.appeal_decided",
    }
}

impl EventType {
    /// Whether the event is about an appointment (the service hall), not a work order.
    pub fn is_appointment(self) -> bool {
        match self {
            EventType::AppointmentBooked
            | EventType::AppointmentCheckedIn
            | EventType::AppointmentCalled
            | EventType::AppointmentCompleted => true,
            EventType::ComplaintReceived
            | EventType::OrderAccepted
            | EventType::OrderDispatched
            | EventType::OrderReturned
            | EventType::ExtensionRequested
            | EventType::ExtensionDecided
            | EventType::OrderSuspended
            | EventType::OrderResumed
            | EventType::OrderReplied
            | EventType::OrderUrged
            | EventType::OrderFeedback
            | EventType::OrderCoReplied
            | EventType::ReturnDecided
            | EventType::RatingAppealed
            | EventType::AppealDecided => false,
        }
    }
}

/// The `type` label under which input is counted in metrics: the event type, or
/// `invalid` for a body whose contract type could not be read.
pub fn type_label(event_type: Option<EventType>) -> &'static str {
    event_type.map_or(INVALID_TYPE_LABEL, EventType::as_str)
}

/// The metric label of input whose type could not be read.
pub const INVALID_TYPE_LABEL: &str = "invalid";

/// The fields every event carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The idempotency key: the same `event_id` has exactly one effect.
    pub event_id: Uuid,
    /// When it happened upstream; business deadlines are clocked from here.
    pub occurred_at: DateTime<FixedOffset>,
    pub order_no: OrderNo,
}

impl Envelope {
    /// The envelope of an event a person submits from a page: the ids as the form carried
    /// them (refused as the parser would refuse them in a body), the time as the caller
    /// sets it.
    pub fn from_form(
        event_id: &str,
        occurred_at: DateTime<FixedOffset>,
        order_no: &str,
    ) -> Result<Envelope, Rejection> {
        Ok(Envelope {
            event_id: event_id_from(event_id)?,
            occurred_at,
            order_no: order_no_from(order_no)?,
        })
    }
}

fn event_id_from(text: &str) -> Result<Uuid, Rejection> {
    Uuid::parse_str(text)
        .map_err(|_| Rejection::new(RejectCode::InvalidField, "event_id: expected a UUID string"))
}

fn order_no_from(text: &str) -> Result<OrderNo, Rejection> {
    OrderNo::parse(text).map_err(|e| Rejection::new(RejectCode::InvalidField, e))
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
        if let Some(path) = nul_at(&raw, String::new()) {
            return Err(Rejection::new(
                RejectCode::InvalidField,
                format!("{path}: contains a NUL character, which cannot be stored"),
            ));
        }

        let event_id = match object.get("event_id") {
            None | Some(serde_json::Value::Null) => {
                return Err(Rejection::new(
                    RejectCode::MissingField,
                    "missing field `event_id`",
                ));
            }
            Some(value) => event_id_from(value.as_str().unwrap_or_default())?,
        };
        let type_name = required_str(object, "type")?;
        let event_type = EventType::parse(type_name).ok_or_else(|| {
            Rejection::new(
                RejectCode::UnknownType,
                "type: not an event type of the contract",
            )
        })?;
        let occurred_at = DateTime::parse_from_rfc3339(required_str(object, "occurred_at")?)
            .map_err(|e| {
                Rejection::new(
                    RejectCode::InvalidField,
                    format!("occurred_at: expected RFC 3339 with an offset ({e})"),
                )
            })?;
        let order_no = order_no_from(required_str(object, "order_no")?)?;
        let body = EventBody::parse(event_type, raw.clone())?;
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

    /// An event built by the engine's own front ends (the pages, the simulator, the
    /// benchmarks): encoded from the same types [`InboundEvent::parse`] reads, so that
    /// parsing [`InboundEvent::to_bytes`] gives it back. It is not judged here: whoever
    /// submits it sends the bytes down the path every client's event takes.
    pub fn new(envelope: Envelope, body: EventBody) -> InboundEvent {
        let mut raw = body.fields();
        let text = |s: String| serde_json::Value::String(s);
        raw.insert("event_id".into(), text(envelope.event_id.to_string()));
        raw.insert("type".into(), text(body.event_type().as_str().into()));
        raw.insert(
            "occurred_at".into(),
            text(
                envelope
                    .occurred_at
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false),
            ),
        );
        raw.insert("order_no".into(), text(envelope.order_no.as_str().into()));
        InboundEvent {
            envelope,
            body,
            raw: serde_json::Value::Object(raw),
        }
    }

    /// The event as the contract's JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.raw.to_string().into_bytes()
    }

    pub fn event_type(&self) -> EventType {
        self.body.event_type()
    }
}

/// The JSON path of the first string (or key) holding a NUL character, if any: text
/// columns and `jsonb` cannot store one, and the whole event is kept on the timeline.
fn nul_at(value: &serde_json::Value, path: String) -> Option<String> {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        serde_json::Value::String(s) => s.contains('\0').then_some(path),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_at(item, join(&i.to_string()))),
        serde_json::Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                Some(join("<key>"))
            } else {
                nul_at(item, join(key))
            }
        }),
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => None,
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
            format!("{field}: expected a string"),
        )),
    }
}

/// What can be read of a body that is otherwise invalid: its `event_id` (so that even a
/// rejected event is rejected once per id) and its contract `type` (for counting).
pub fn sniff(bytes: &[u8]) -> (Option<Uuid>, Option<EventType>) {
    #[derive(Deserialize)]
    struct Sniffed {
        event_id: Option<Uuid>,
        #[serde(rename = "type")]
        type_name: Option<String>,
    }
    let sniffed = serde_json::from_slice::<Sniffed>(bytes).ok();
    let event_id = sniffed.as_ref().and_then(|s| s.event_id);
    let event_type = sniffed
        .and_then(|s| s.type_name)
        .and_then(|t| EventType::parse(&t));
    (event_id, event_type)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::EventBody;
    use crate::rejection::RejectCode;
    use crate::values::{RequestKind, Urgency};

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
        assert_eq!(event.event_type().as_str(), "complaint.received");
        assert_eq!(event.envelope.order_no.as_str(), "PT20260930000123");
        let EventBody::ComplaintReceived(c) = event.body else {
            panic!("wrong body")
        };
        assert_eq!(c.urgency, Urgency::Normal);
        assert_eq!(c.kind, RequestKind::Complaint);
        assert_eq!(c.citizen.phone.as_deref(), Some("13800000000"));
    }

    #[test]
    fn confidential_is_optional_false_by_default_and_a_boolean() {
        // (the field as sent, or absent; what it reads as, or the rejection)
        let cases: [(Option<serde_json::Value>, Result<bool, &str>); 5] = [
            (None, Ok(false)),
            (Some(serde_json::Value::Null), Ok(false)),
            (Some(serde_json::json!(false)), Ok(false)),
            (Some(serde_json::json!(true)), Ok(true)),
            (
                Some(serde_json::json!("yes")),
                Err("invalid_field: confidential"),
            ),
        ];
        for (sent, expected) in cases {
            let mut body = complaint();
            if let Some(value) = &sent {
                body["confidential"] = value.clone();
            }
            match (parse(&body), expected) {
                (Ok(event), Ok(want)) => {
                    let EventBody::ComplaintReceived(c) = event.body else {
                        panic!("wrong body")
                    };
                    assert_eq!(c.confidential, want, "{sent:?}");
                }
                (Err(rejection), Err(want)) => {
                    assert!(
                        rejection.to_string().starts_with(want),
                        "{sent:?}: {rejection}"
                    )
                }
                (got, want) => panic!("{sent:?}: got {got:?}, want {want:?}"),
            }
        }
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
        // What is not personal is still shown.
        assert!(debug.starts_with("InboundEvent { envelope: "), "{debug}");
        assert!(debug.contains("PT20260930000123"), "{debug}");
        assert!(debug.contains("ComplaintReceived"), "{debug}");
    }

    #[test]
    fn a_body_of_exactly_the_limit_is_read_and_one_byte_more_is_refused() {
        let body = complaint().to_string().into_bytes();
        // (limit, accepted?)
        let cases = [
            (body.len() + 1, true),
            (body.len(), true),
            (body.len() - 1, false),
        ];
        for (limit, accepted) in cases {
            match InboundEvent::parse(&body, limit) {
                Ok(_) => assert!(accepted, "{} bytes over a limit of {limit}", body.len()),
                Err(e) => {
                    assert!(!accepted, "limit {limit}: {e}");
                    assert_eq!(e.code, RejectCode::TooLarge);
                    assert!(e.detail.contains(&format!("exceeds {limit}")), "{e}");
                }
            }
        }
    }

    #[test]
    fn hall_events_are_appointments_and_the_rest_work_orders() {
        for &event_type in EventType::ALL {
            let expected = event_type.as_str().starts_with("appointment.");
            assert_eq!(event_type.is_appointment(), expected, "{event_type}");
        }
        let hall = EventType::ALL.iter().filter(|t| t.is_appointment()).count();
        assert_eq!(hall, 4, "booked, checked_in, called, completed");
    }

    #[test]
    fn metrics_label_input_by_its_type_or_as_invalid() {
        // (type read from the body, label)
        let cases = [
            (Some(EventType::ComplaintReceived), "complaint.received"),
            (Some(EventType::OrderFeedback), "order.feedback"),
            (Some(EventType::AppointmentCalled), "appointment.called"),
            (None, "invalid"),
        ];
        for (event_type, label) in cases {
            assert_eq!(type_label(event_type), label, "{event_type:?}");
        }
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
            assert_eq!(event.event_type().as_str(), t);
        }
    }

    #[test]
    fn a_nul_anywhere_is_refused_naming_where() {
        let mut v = complaint();
        v["citizen"]["name"] = serde_json::json!("张\u{0}三");
        let err = parse(&v).unwrap_err();
        assert_eq!(err.code, RejectCode::InvalidField);
        assert_eq!(
            err.detail,
            "citizen.name: contains a NUL character, which cannot be stored"
        );
        let mut v = complaint();
        v["tags"] = serde_json::json!(["a", "b\u{0}"]);
        assert!(parse(&v).unwrap_err().detail.starts_with("tags.1: "));
    }

    #[test]
    fn a_field_read_from_a_form_is_refused_as_the_parser_refuses_it() {
        use crate::body::read_field;
        use crate::values::Rating;
        let mut v = complaint();
        v["type"] = "order.feedback".into();
        v["rating"] = "great".into();
        v["resolved"] = true.into();
        let parsed = parse(&v).unwrap_err();
        let read = read_field::<Rating>("rating", "great").unwrap_err();
        assert_eq!(
            (read.code, read.detail.as_str()),
            (parsed.code, parsed.detail.as_str())
        );
        assert_eq!(read.code, RejectCode::InvalidField);
        assert_eq!(
            read_field::<Urgency>("urgency", "urgent"),
            Ok(Urgency::Urgent)
        );
    }

    #[test]
    fn sniffs_the_event_id_of_an_invalid_event() {
        let mut v = complaint();
        v.as_object_mut().unwrap().remove("title");
        let (id, type_name) = sniff(v.to_string().as_bytes());
        assert!(id.is_some());
        assert_eq!(type_name, Some(EventType::ComplaintReceived));
        assert_eq!(sniff(b"garbage"), (None, None));
        assert_eq!(sniff(br#"{"type": "x.y"}"#), (None, None));
    }
}

#[cfg(test)]
mod properties {
    //! The parser against arbitrary input: it never panics, every rejection is bounded,
    //! and a field that is wrong is named by its path, its value never quoted.
    use super::*;
    use proptest::prelude::*;

    const MAX: usize = 16 * 1024;

    /// A JSON value of any shape, strings drawn from `marker` so that a quote shows.
    fn any_json(marker: &'static str) -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(serde_json::Value::from),
            "[a-z]{0,8}".prop_map(move |s| serde_json::Value::from(format!("{marker}{s}"))),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map("[a-z_]{1,10}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn base(event_type: &str) -> serde_json::Value {
        serde_json::json!({
            "event_id": "0193a5b2-7c1d-7e00-8000-000000000001", "type": event_type,
            "occurred_at": "2026-09-30T16:20:00+08:00", "order_no": "PT1",
            "kind": "complaint", "channel": "phone", "category": "SC-0101",
            "title": "t", "content": "c", "citizen": {"name": "n", "phone": "13800000000"},
            "department": "SCJGJ", "reason": "r", "reply": "r", "resolved": true,
            "extra_working_days": 1, "approved": true, "rating": "satisfied",
            "service_point": "ZX", "slot_start": "2026-09-30T16:20:00+08:00",
            "note": "n", "upheld": false,
        })
    }

    /// Encodes `event` from its types and parses it again: it must come back the same.
    fn round_trip(event: &InboundEvent) -> Result<(), TestCaseError> {
        let built = InboundEvent::new(event.envelope.clone(), event.body.clone());
        let again = InboundEvent::parse(&built.to_bytes(), usize::MAX)
            .map_err(|r| TestCaseError::fail(format!("{r:?}")))?;
        prop_assert_eq!(&again.envelope, &event.envelope);
        prop_assert_eq!(&again.body, &event.body);
        prop_assert_eq!(again.raw, built.raw);
        Ok(())
    }

    #[test]
    fn every_event_type_is_encoded_on_the_types_it_is_parsed_with() {
        for event_type in EventType::NAMES {
            let event = InboundEvent::parse(base(event_type).to_string().as_bytes(), MAX)
                .unwrap_or_else(|r| panic!("{event_type}: {r:?}"));
            round_trip(&event).unwrap_or_else(|e| panic!("{event_type}: {e}"));
        }
    }

    fn field_names() -> Vec<&'static str> {
        vec![
            "event_id",
            "type",
            "occurred_at",
            "order_no",
            "kind",
            "channel",
            "category",
            "district",
            "address",
            "urgency",
            "title",
            "content",
            "citizen",
            "answer",
            "department",
            "handler",
            "reason",
            "reply",
            "resolved",
            "extra_working_days",
            "approved",
            "rating",
            "comment",
            "note",
            "operator",
            "service_point",
            "slot_start",
            "window",
        ]
    }

    fn check(rejection: &Rejection) -> Result<(), TestCaseError> {
        prop_assert!(rejection.detail.chars().count() <= crate::rejection::MAX_DETAIL_CHARS);
        prop_assert!(
            !rejection.detail.contains("QQMARK"),
            "a value is quoted: {rejection}"
        );
        if matches!(
            rejection.code,
            RejectCode::MissingField | RejectCode::InvalidField
        ) {
            let (path, _) = rejection
                .detail
                .split_once(": ")
                .unwrap_or((rejection.detail.as_str(), ""));
            prop_assert!(
                rejection.detail.starts_with("missing field `") || !path.is_empty(),
                "no path: {rejection}"
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            if let Err(rejection) = InboundEvent::parse(&bytes, MAX) {
                check(&rejection)?;
            }
        }

        #[test]
        fn any_value_at_any_field_of_any_type_is_accepted_or_refused_by_its_path(
            event_type in prop::sample::select(EventType::NAMES.to_vec()),
            field in prop::sample::select(field_names()),
            value in any_json("QQMARK"),
        ) {
            let mut event = base(event_type);
            event[field] = value;
            match InboundEvent::parse(event.to_string().as_bytes(), MAX) {
                Err(rejection) => check(&rejection)?,
                Ok(event) => round_trip(&event)?,
            }
        }

        #[test]
        fn any_json_body_at_all_never_panics(value in any_json("QQMARK")) {
            if let Err(rejection) = InboundEvent::parse(value.to_string().as_bytes(), MAX) {
                check(&rejection)?;
            }
        }
    }
}
