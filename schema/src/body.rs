//! The type-specific fields of each inbound event.

use crate::event::EventType;
use crate::rejection::{RejectCode, Rejection};
use crate::values::{Channel, Citizen, Rating, RequestKind, UrgeLevel, Urgency};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComplaintReceived {
    pub kind: RequestKind,
    pub channel: Channel,
    pub category: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, deserialize_with = "default_if_null")]
    pub urgency: Urgency,
    pub title: String,
    pub content: String,
    #[serde(default, deserialize_with = "default_if_null")]
    pub citizen: Citizen,
    /// Added to the contract: a confidential case (保密件). Only the handlers of the
    /// department holding it see the citizen's name and phone in full; everyone else, and
    /// every export, sees them masked. Default `false` (`null` reads as absent).
    #[serde(default, deserialize_with = "default_if_null")]
    pub confidential: bool,
    /// Added to the contract: a consultation the operator answered on the call. With
    /// `resolved: true` the order closes at once, without a task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<AnswerAtIntake>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerAtIntake {
    pub reply: String,
    pub resolved: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppointmentBooked {
    pub category: String,
    pub service_point: String,
    pub slot_start: DateTime<FixedOffset>,
    #[serde(default, deserialize_with = "default_if_null")]
    pub citizen: Citizen,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppointmentCheckedIn {
    pub service_point: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppointmentCalled {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderAccepted {
    pub department: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler: Option<String>,
}

/// Added to the contract: an operator places an order by hand (人工派单), typically one
/// at the manual-dispatch desk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderDispatched {
    pub department: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// Added: departments that co-handle the order (协办) beside `department` (主办).
    #[serde(default, deserialize_with = "default_if_null")]
    pub co_departments: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderReturned {
    pub department: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtensionRequested {
    pub department: String,
    pub extra_working_days: u32,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtensionDecided {
    pub approved: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_working_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupervisorNote {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderReplied {
    pub department: String,
    pub reply: String,
    pub resolved: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderUrged {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Added: 催办 (`reminder`, the default), 督办 (`supervision`) or 挂牌督办 (`listed`).
    #[serde(default, deserialize_with = "default_if_null")]
    pub level: UrgeLevel,
}

/// Added: a co-handling department's contribution to the lead's reply (协办答复).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderCoReplied {
    pub department: String,
    pub reply: String,
}

/// Added: an operator's decision on a return waiting for review (退单审核).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReturnDecided {
    pub approved: bool,
    /// Approved: where to send it (else the rules decide, avoiding every department that
    /// returned it). Ignored when rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    pub note: String,
}

/// Added: the department that replied appeals a dissatisfied rating (评价复核申请).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatingAppealed {
    pub department: String,
    pub reason: String,
}

/// Added: a supervisor's decision on an appeal of a rating.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppealDecided {
    pub upheld: bool,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderFeedback {
    pub rating: Rating,
    pub resolved: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
    OrderCoReplied(OrderCoReplied),
    ReturnDecided(ReturnDecided),
    RatingAppealed(RatingAppealed),
    AppealDecided(AppealDecided),
}

impl EventBody {
    pub fn event_type(&self) -> EventType {
        match self {
            EventBody::ComplaintReceived(_) => EventType::ComplaintReceived,
            EventBody::AppointmentBooked(_) => EventType::AppointmentBooked,
            EventBody::AppointmentCheckedIn(_) => EventType::AppointmentCheckedIn,
            EventBody::AppointmentCalled(_) => EventType::AppointmentCalled,
            EventBody::AppointmentCompleted => EventType::AppointmentCompleted,
            EventBody::OrderAccepted(_) => EventType::OrderAccepted,
            EventBody::OrderDispatched(_) => EventType::OrderDispatched,
            EventBody::OrderReturned(_) => EventType::OrderReturned,
            EventBody::ExtensionRequested(_) => EventType::ExtensionRequested,
            EventBody::ExtensionDecided(_) => EventType::ExtensionDecided,
            EventBody::OrderSuspended(_) => EventType::OrderSuspended,
            EventBody::OrderResumed(_) => EventType::OrderResumed,
            EventBody::OrderReplied(_) => EventType::OrderReplied,
            EventBody::OrderUrged(_) => EventType::OrderUrged,
            EventBody::OrderFeedback(_) => EventType::OrderFeedback,
            EventBody::OrderCoReplied(_) => EventType::OrderCoReplied,
            EventBody::ReturnDecided(_) => EventType::ReturnDecided,
            EventBody::RatingAppealed(_) => EventType::RatingAppealed,
            EventBody::AppealDecided(_) => EventType::AppealDecided,
        }
    }

    /// The type-specific fields as the contract writes them: the inverse of
    /// [`EventBody::parse`], on the same types.
    pub(crate) fn fields(&self) -> serde_json::Map<String, serde_json::Value> {
        fn object<T: Serialize>(body: &T) -> serde_json::Map<String, serde_json::Value> {
            match serde_json::to_value(body) {
                Ok(serde_json::Value::Object(fields)) => fields,
                // Every body is a struct of strings, numbers, booleans and named values.
                _ => unreachable!("an event body serialises to an object"),
            }
        }
        match self {
            EventBody::ComplaintReceived(b) => object(b),
            EventBody::AppointmentBooked(b) => object(b),
            EventBody::AppointmentCheckedIn(b) => object(b),
            EventBody::AppointmentCalled(b) => object(b),
            EventBody::AppointmentCompleted => serde_json::Map::new(),
            EventBody::OrderAccepted(b) => object(b),
            EventBody::OrderDispatched(b) => object(b),
            EventBody::OrderReturned(b) => object(b),
            EventBody::ExtensionRequested(b) => object(b),
            EventBody::ExtensionDecided(b) => object(b),
            EventBody::OrderSuspended(b) | EventBody::OrderResumed(b) => object(b),
            EventBody::OrderReplied(b) => object(b),
            EventBody::OrderUrged(b) => object(b),
            EventBody::OrderFeedback(b) => object(b),
            EventBody::OrderCoReplied(b) => object(b),
            EventBody::ReturnDecided(b) => object(b),
            EventBody::RatingAppealed(b) => object(b),
            EventBody::AppealDecided(b) => object(b),
        }
    }

    /// Parses the type-specific fields of `object` for `event_type`.
    pub(crate) fn parse(
        event_type: EventType,
        object: serde_json::Value,
    ) -> Result<EventBody, Rejection> {
        // serde reads a struct from an array too (["张三"] as a citizen): the contract
        // says objects, so anything else is refused.
        for field in ["citizen", "answer"] {
            match object.get(field) {
                None | Some(serde_json::Value::Null | serde_json::Value::Object(_)) => {}
                Some(_) => {
                    return Err(Rejection::new(
                        RejectCode::InvalidField,
                        format!("{field}: expected an object"),
                    ));
                }
            }
        }
        let body = match event_type {
            EventType::ComplaintReceived => {
                let c: ComplaintReceived = typed(object)?;
                // Title and content required, every text within its limit, a phone a
                // person could dial (`text.rs`): the first fault is the rejection.
                if let Some(fault) = crate::text::complaint_faults(&c).first() {
                    return Err(fault.rejection());
                }
                // An empty `category` is allowed: such orders are routed by keywords.
                EventBody::ComplaintReceived(c)
            }
            EventType::AppointmentBooked => EventBody::AppointmentBooked(typed(object)?),
            EventType::AppointmentCheckedIn => EventBody::AppointmentCheckedIn(typed(object)?),
            EventType::AppointmentCalled => EventBody::AppointmentCalled(typed(object)?),
            EventType::AppointmentCompleted => EventBody::AppointmentCompleted,
            EventType::OrderAccepted => EventBody::OrderAccepted(typed(object)?),
            EventType::OrderDispatched => EventBody::OrderDispatched(typed(object)?),
            EventType::OrderReturned => EventBody::OrderReturned(typed(object)?),
            EventType::ExtensionRequested => {
                let r: ExtensionRequested = typed(object)?;
                if r.extra_working_days == 0 {
                    return Err(Rejection::new(
                        RejectCode::InvalidField,
                        "extra_working_days: must be at least 1",
                    ));
                }
                EventBody::ExtensionRequested(r)
            }
            EventType::ExtensionDecided => EventBody::ExtensionDecided(typed(object)?),
            EventType::OrderSuspended => EventBody::OrderSuspended(typed(object)?),
            EventType::OrderResumed => EventBody::OrderResumed(typed(object)?),
            EventType::OrderReplied => EventBody::OrderReplied(typed(object)?),
            EventType::OrderUrged => EventBody::OrderUrged(typed(object)?),
            EventType::OrderFeedback => EventBody::OrderFeedback(typed(object)?),
            EventType::OrderCoReplied => EventBody::OrderCoReplied(typed(object)?),
            EventType::ReturnDecided => EventBody::ReturnDecided(typed(object)?),
            EventType::RatingAppealed => EventBody::RatingAppealed(typed(object)?),
            EventType::AppealDecided => EventBody::AppealDecided(typed(object)?),
        };
        // Reasons, replies and notes: those required not blank, each within its length
        // (`text.rs`); the first fault is the rejection.
        if let Some(fault) = crate::text::action_faults(&body).first() {
            return Err(fault.rejection());
        }
        Ok(body)
    }
}

fn typed<T: serde::de::DeserializeOwned>(object: serde_json::Value) -> Result<T, Rejection> {
    serde_path_to_error::deserialize(object)
        .map_err(|e| Rejection::at_path(&e.path().to_string(), e.inner()))
}

/// Reads one field of an event from text a person typed or chose (a page's form), with
/// the rejection the parser would give the same text in that field.
pub fn read_field<T: serde::de::DeserializeOwned>(field: &str, text: &str) -> Result<T, Rejection> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|e| Rejection::at_path(field, &e))
}

/// An optional field sent as `null` reads as absent.
fn default_if_null<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
