//! One inbound message as any transport hands it over: the AMQP intake (a delivery) or the
//! HTTP API (a request body).

use chrono::{DateTime, Utc};
use hotline_schema::event::{EventType, InboundEvent, sniff, type_label};
use hotline_schema::rejection::Rejection;

pub struct Incoming {
    /// `event_id` if one could be read, else the transport's message id (AMQP
    /// `message_id`, HTTP `Idempotency-Key`); `None` for a body with neither (it is
    /// processed every time it is delivered).
    pub idempotency_key: Option<String>,
    pub body: Vec<u8>,
    /// When the transport took it (dispatch latency is measured from here).
    pub consumed_at: DateTime<Utc>,
    pub parsed: Result<InboundEvent, Rejection>,
    /// The contract type, when one could be read (for metrics).
    pub event_type: Option<EventType>,
}

impl Incoming {
    /// Parses `body` (at most `max_body_bytes`) and works out its idempotency key.
    pub fn from_bytes(
        body: Vec<u8>,
        message_id: Option<&str>,
        consumed_at: DateTime<Utc>,
        max_body_bytes: usize,
    ) -> Incoming {
        let parsed = InboundEvent::parse(&body, max_body_bytes);
        let (event_id, event_type) = match &parsed {
            Ok(event) => (Some(event.envelope.event_id), Some(event.event_type())),
            Err(_) if body.len() <= max_body_bytes => sniff(&body),
            Err(_) => (None, None),
        };
        let idempotency_key = event_id
            .map(|id| id.to_string())
            .or_else(|| message_id.map(|m| format!("message:{m}")));
        Incoming {
            idempotency_key,
            body,
            consumed_at,
            parsed,
            event_type,
        }
    }

    /// The same message, to be dead-lettered with `rejection` instead of applied.
    pub fn refused(&self, rejection: Rejection) -> Incoming {
        Incoming {
            idempotency_key: self.idempotency_key.clone(),
            body: self.body.clone(),
            consumed_at: self.consumed_at,
            parsed: Err(rejection),
            event_type: self.event_type,
        }
    }

    /// The `type` label it is counted under.
    pub fn type_label(&self) -> &'static str {
        type_label(self.event_type)
    }
}
