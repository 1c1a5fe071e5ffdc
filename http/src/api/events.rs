//! `POST /api/events`: the AMQP envelope over HTTP, with the same effect.
//!
//! The body goes through the same submit path as a delivery from `hotline.intake`, as a
//! one-event batch: same idempotency ledger, same validation, and a rejected event is
//! dead-lettered to `hotline.rejected` with its reason just as on AMQP. What HTTP adds is
//! the caller's role: an event the caller may not send is refused with 403 before anything
//! is recorded (see [`who_may_post`]).

use super::openapi::{ErrorBody, Event, Unauthorized, Unavailable, wire};
use super::tokens::{Caller, Role};
use super::{Api, ApiError};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use hotline_core::decide::{Incoming, Outcome};
use hotline_dispatcher::submit::{Patience, SubmitError};
use hotline_runtime::metrics::metrics;
use hotline_schema::event::EventType;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use utoipa::ToSchema;

/// The header that plays the part of AMQP's `message_id`: the idempotency key of a body
/// without a readable `event_id`.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// How long a request keeps retrying a batch that conflicts with a concurrent writer (or
/// meets a passing database fault) before answering 503.
const RETRY_FOR: Duration = Duration::from_secs(10);

/// Which role may send an event type over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// Operators, the call centre's and service halls' front ends, the callback team.
    Operator,
    /// A handler of the department named in the event's `department` field.
    OwnDepartment,
    Supervisor,
}

/// The permission matrix: who may send each event type over HTTP.
pub fn who_may_post(event_type: EventType) -> Sender {
    match event_type {
        EventType::ComplaintReceived
        | EventType::AppointmentBooked
        | EventType::AppointmentCheckedIn
        | EventType::AppointmentCalled
        | EventType::AppointmentCompleted
        // 人工派单: operators place what the rules could not.
        | EventType::OrderDispatched
        // 回访: the callback team posts as operator.
        | EventType::OrderFeedback
        // 退单审核: the manual desk's operators review returns.
        | EventType::ReturnDecided => Sender::Operator,
        EventType::OrderAccepted
        | EventType::OrderReturned
        | EventType::ExtensionRequested
        | EventType::OrderReplied
        // 协办答复, and the appeal of a rating (评价复核) by the department rated.
        | EventType::OrderCoReplied
        | EventType::RatingAppealed => Sender::OwnDepartment,
        EventType::ExtensionDecided
        | EventType::OrderSuspended
        | EventType::OrderResumed
        | EventType::OrderUrged
        | EventType::AppealDecided => Sender::Supervisor,
    }
}

/// Refuses an event its caller may not send. A body whose `type` cannot be read, or is no
/// contract type, is let through: the dispatcher rejects and dead-letters it, as on AMQP.
fn authorize(caller: &Caller, body: &[u8]) -> Result<(), ApiError> {
    let Ok(serde_json::Value::Object(object)) = serde_json::from_slice(body) else {
        return Ok(());
    };
    let Some(event_type) = object
        .get("type")
        .and_then(|t| t.as_str())
        .and_then(EventType::parse)
    else {
        return Ok(());
    };
    let type_name = event_type.as_str();
    let sender = who_may_post(event_type);
    let allowed = match (&sender, &caller.role) {
        (Sender::Operator, Role::Operator) | (Sender::Supervisor, Role::Supervisor) => true,
        (Sender::OwnDepartment, Role::Handler { department }) => {
            match object.get("department").and_then(|d| d.as_str()) {
                // Absent or malformed: the dispatcher rejects it as a bad event.
                None => true,
                Some(named) if named == department => true,
                Some(named) => {
                    return Err(ApiError::forbidden(format!(
                        "a handler of {department} may not post {type_name} for department {named}"
                    )));
                }
            }
        }
        (Sender::Operator, Role::Handler { .. } | Role::Supervisor)
        | (Sender::OwnDepartment, Role::Operator | Role::Supervisor)
        | (Sender::Supervisor, Role::Operator | Role::Handler { .. }) => false,
    };
    if allowed {
        Ok(())
    } else {
        let who = match sender {
            Sender::Operator => "an operator",
            Sender::OwnDepartment => "a handler of the department named in the event",
            Sender::Supervisor => "a supervisor",
        };
        Err(ApiError::forbidden(format!(
            "{type_name} may only be posted by {who}, not by {}",
            caller.role.name()
        )))
    }
}

/// The idempotency key header, if present and sane.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY_HEADER) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 200 && k.bytes().all(|b| b.is_ascii_graphic()));
    match key {
        Some(key) => Ok(Some(key.to_owned())),
        None => Err(ApiError::bad_request(
            "Idempotency-Key must be 1-200 visible ASCII characters",
        )),
    }
}

/// What became of an event posted: applied, a duplicate, or rejected (and why).
#[derive(Debug, Serialize, ToSchema)]
pub struct EventAnswer {
    pub outcome: EventOutcome,
    /// The body's `event_id`, else the `Idempotency-Key` it was keyed by; `null` if neither.
    pub event_id: Option<String>,
    #[serde(rename = "type")]
    #[schema(value_type = wire::EventTypeLabel)]
    pub event_type: &'static str,
    /// The body's `order_no`, if it could be read.
    pub order_no: Option<String>,
    /// `<code>: <detail>`, when rejected: the `x-hotline-reason` it was dead-lettered with.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub reason: Option<String>,
    /// The reason code, when rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = wire::RejectCode)]
    pub code: Option<&'static str>,
}

/// What became of an event: `applied` (202), `duplicate` (200) or `rejected` (422).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventOutcome {
    Applied,
    Duplicate,
    Rejected,
}

/// `POST /api/events`.
#[utoipa::path(
    post,
    path = "/events",
    tag = "events",
    summary = "Post an inbound event, as on AMQP",
    description = "The body is one event of the contract (docs/contract.md), applied by the \
        same dispatcher, in the same kind of transaction, as a delivery from \
        `hotline.intake`: one effect per `event_id`; a rejected event is kept and \
        dead-lettered to `hotline.rejected` with its reason. The caller's role decides \
        which types it may post (docs/http-api.md, \"Authentication and roles\").",
    params(
        ("Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]{1,200}$",
            description = "1-200 visible ASCII \
            characters: the idempotency key of a body without a readable `event_id` (as \
            AMQP's `message_id`)"),
    ),
    request_body(content = Event, content_type = "application/json"),
    responses(
        (status = 202, description = "Applied: committed; its tasks and alerts follow through \
            the outbox", body = EventAnswer),
        (status = 200, description = "A duplicate: this `event_id` (or key) had its effect \
            before; nothing changed", body = EventAnswer),
        (status = 400, description = "A malformed `Idempotency-Key` (`bad_request`), or a \
            body that could not be read (`bad_body`)", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "The caller's role may not post this type, a handler \
            named another department, or a session sent no form token (`forbidden`); \
            nothing was recorded", body = ErrorBody),
        (status = 404, description = "A handler's event about an order its department does \
            not hold, or none (`not_found`); it was kept and dead-lettered with its full \
            reason", body = ErrorBody),
        (status = 413, description = "A body over `intake.max_body_bytes` (64 KiB by \
            default), refused before it is read whole and not kept (`too_large`)",
            body = ErrorBody),
        (status = 422, description = "Rejected: not accepted, dead-lettered with the same \
            reason", body = EventAnswer),
        (status = 503, response = Unavailable),
    ),
    security(("bearer" = []), ("session" = [], "csrf" = [])),
)]
pub async fn post_event(
    State(api): State<Arc<Api>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|rejection| {
        ApiError::new(
            rejection.status(),
            "bad_body",
            format!(
                "cannot read the body ({}); events are at most {} bytes",
                rejection.body_text(),
                api.max_body_bytes
            ),
        )
    })?;
    let message_id = idempotency_key(&headers)?;
    let Submitted { incoming, outcome } =
        submit_as(&api, &caller, body.to_vec(), message_id.as_deref()).await?;
    let event = incoming.parsed.as_ref().ok();
    let mut answer = EventAnswer {
        outcome: EventOutcome::Applied,
        // As the caller sent it (the key it is stored under is scoped to the caller).
        event_id: event
            .map(|e| e.envelope.event_id.to_string())
            .or(message_id),
        event_type: incoming.type_label(),
        order_no: event.map(|e| e.envelope.order_no.as_str().to_owned()),
        reason: None,
        code: None,
    };
    let status = match (&outcome, &incoming.parsed) {
        (Outcome::Applied(_), _) => StatusCode::ACCEPTED,
        (Outcome::Duplicate, Ok(_)) => {
            answer.outcome = EventOutcome::Duplicate;
            StatusCode::OK
        }
        // A duplicate of a body that cannot be read (the same bytes under the same key) is
        // refused again, though dead-lettered once: never answered as if accepted.
        (Outcome::Rejected(rejection), _) | (Outcome::Duplicate, Err(rejection)) => {
            answer.outcome = EventOutcome::Rejected;
            answer.reason = Some(rejection.to_string());
            answer.code = Some(rejection.code.as_str());
            StatusCode::UNPROCESSABLE_ENTITY
        }
    };
    tracing::debug!(caller = %caller.name, r#type = incoming.type_label(), outcome = ?answer.outcome, "event posted");
    Ok((status, axum::Json(answer)).into_response())
}

/// An event a caller submitted, and what became of it.
pub struct Submitted {
    pub incoming: Incoming,
    pub outcome: Outcome,
}

/// Submits `body` as `caller` through the submit path, as `POST /api/events` and the
/// pages' forms do: refused (403) if the caller's role may not send it, else applied,
/// found a duplicate, or rejected and dead-lettered, with the token's name as the actor.
pub async fn submit_as(
    api: &Api,
    caller: &Caller,
    body: Vec<u8>,
    message_id: Option<&str>,
) -> Result<Submitted, ApiError> {
    if let Err(refused) = authorize(caller, &body) {
        tracing::info!(caller = %caller.name, role = %caller.role.name(), reason = %refused.message, "event refused");
        return Err(refused);
    }
    let incoming = Incoming::from_bytes(body, message_id, Utc::now(), api.max_body_bytes)
        .sent_by(&caller.name);
    let outcome = apply(api, &incoming).await?;
    metrics().record_outcomes(
        std::slice::from_ref(&incoming),
        std::slice::from_ref(&outcome),
    );
    if let (Ok(event), Role::Handler { department }, Outcome::Rejected(rejection)) =
        (&incoming.parsed, &caller.role, &outcome)
    {
        hide_other_departments_orders(api, event, department, rejection).await?;
    }
    Ok(Submitted { incoming, outcome })
}

/// A handler learns nothing of an order its department does not hold: a refusal that
/// concerns such an order (its state, its holder, or whether it exists) is answered as
/// `GET /api/orders/{order_no}` would be, 404. The event was still recorded and
/// dead-lettered with its full reason, for the operators.
async fn hide_other_departments_orders(
    api: &Api,
    event: &hotline_schema::event::InboundEvent,
    department: &str,
    rejection: &hotline_schema::rejection::Rejection,
) -> Result<(), ApiError> {
    use hotline_schema::rejection::RejectCode;
    let about_the_order = match rejection.code {
        RejectCode::UnknownOrder
        | RejectCode::DuplicateOrder
        | RejectCode::InvalidState
        | RejectCode::WrongDepartment => true,
        RejectCode::TooLarge
        | RejectCode::NotUtf8
        | RejectCode::NotJson
        | RejectCode::MissingField
        | RejectCode::InvalidField
        | RejectCode::UnknownType
        | RejectCode::Unprocessable => false,
    };
    if !about_the_order {
        return Ok(());
    }
    let order_no = event.envelope.order_no.as_str();
    // The holder, its co-handlers (协办) and the department rated on its callback know of
    // the order: they are told the true reason.
    let involved = hotline_store::read::involved(&api.pool, order_no)
        .await
        .map_err(|e| ApiError::database(&e))?;
    if involved.iter().any(|d| d == department) {
        return Ok(());
    }
    Err(ApiError::not_found(format!("no order {order_no}")))
}

/// Applies one event through the submit path, waiting for the database a little while:
/// past [`RETRY_FOR`] the client is told to retry (503), nothing having been committed.
async fn apply(api: &Api, incoming: &Incoming) -> Result<Outcome, ApiError> {
    let patience = Patience::Until(Instant::now() + RETRY_FOR);
    match api
        .submitter
        .submit(std::slice::from_ref(incoming), patience)
        .await
    {
        Ok(mut outcomes) => Ok(outcomes.remove(0)),
        Err(SubmitError::NotCommitted(err)) => {
            tracing::warn!(error = %err, "event over HTTP not committed; answering 503");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the event could not be committed now; retry with the same event_id",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::caller;
    use serde_json::json;

    fn handler(department: &str) -> Caller {
        caller(Role::Handler {
            department: department.into(),
        })
    }

    /// Only what `authorize` reads: the type and the department.
    fn event(event_type: EventType, department: Option<&str>) -> Vec<u8> {
        let mut v = json!({"type": event_type.as_str(), "event_id": "x", "order_no": "PT1"});
        if let Some(d) = department {
            v["department"] = json!(d);
        }
        v.to_string().into_bytes()
    }

    #[test]
    fn an_idempotency_key_is_1_to_200_visible_ascii_characters_trimmed() {
        let longest = "k".repeat(200);
        let too_long = "k".repeat(201);
        // (header value, the key, or refused)
        let cases: [(Option<&str>, Option<&str>); 10] = [
            (Some("evt-1"), Some("evt-1")),
            (Some("  evt-1 "), Some("evt-1")),
            (Some("!~"), Some("!~")),
            (Some(&longest), Some(&longest)),
            (Some(&too_long), None),
            (Some(""), None),
            (Some("   "), None),
            (Some("evt 1"), None),
            (Some("evt\t1"), None),
            (Some("键"), None),
        ];
        for (value, key) in cases {
            let mut headers = HeaderMap::new();
            if let Some(value) = value {
                headers.insert(
                    IDEMPOTENCY_KEY_HEADER,
                    axum::http::HeaderValue::from_str(value).unwrap(),
                );
            }
            let got = idempotency_key(&headers).map_err(|e| e.status);
            let want = key
                .map(|k| Some(k.to_owned()))
                .ok_or(StatusCode::BAD_REQUEST);
            assert_eq!(got, want, "{value:?}");
        }
        assert_eq!(
            idempotency_key(&HeaderMap::new()).map_err(|e| e.status),
            Ok(None)
        );
    }

    #[test]
    fn the_matrix() {
        let operator = caller(Role::Operator);
        let supervisor = caller(Role::Supervisor);
        let sc = handler("SCJGJ");
        let ok = |c: &Caller, body: Vec<u8>| authorize(c, &body).is_ok();

        assert!(ok(&operator, event(EventType::ComplaintReceived, None)));
        assert!(!ok(&supervisor, event(EventType::ComplaintReceived, None)));
        assert!(!ok(&sc, event(EventType::ComplaintReceived, None)));
        assert!(ok(&operator, event(EventType::AppointmentCalled, None)));
        assert!(!ok(&sc, event(EventType::AppointmentBooked, None)));
        assert!(ok(&operator, event(EventType::OrderFeedback, None)));
        assert!(!ok(&supervisor, event(EventType::OrderFeedback, None)));
        assert!(ok(
            &operator,
            event(EventType::OrderDispatched, Some("YSBZX"))
        ));
        assert!(!ok(&sc, event(EventType::OrderDispatched, Some("SCJGJ"))));

        assert!(ok(&sc, event(EventType::OrderAccepted, Some("SCJGJ"))));
        assert!(!ok(&sc, event(EventType::OrderAccepted, Some("YSBZX"))));
        assert!(!ok(&sc, event(EventType::OrderReplied, Some("YSBZX"))));
        assert!(
            ok(&sc, event(EventType::OrderReplied, None)),
            "left to the dispatcher"
        );
        assert!(!ok(
            &operator,
            event(EventType::OrderAccepted, Some("SCJGJ"))
        ));
        assert!(!ok(
            &supervisor,
            event(EventType::OrderReturned, Some("SCJGJ"))
        ));

        for t in [
            EventType::ExtensionDecided,
            EventType::OrderSuspended,
            EventType::OrderResumed,
            EventType::OrderUrged,
        ] {
            assert!(ok(&supervisor, event(t, None)), "{t}");
            assert!(!ok(&operator, event(t, None)), "{t}");
            assert!(!ok(&sc, event(t, Some("SCJGJ"))), "{t}");
        }

        // Unreadable bodies and unknown types are the dispatcher's to reject.
        assert!(ok(&sc, b"{not json".to_vec()));
        assert!(ok(&sc, br#"{"type": "complaint.teleported"}"#.to_vec()));
        assert!(ok(&sc, br#"{"type": 3}"#.to_vec()));
    }
}
