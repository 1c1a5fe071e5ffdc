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
    /// The account the transport authenticated (the HTTP API's token name): recorded as
    /// the actor on the timeline instead of any name the body gives. AMQP has none.
    pub sender: Option<String>,
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
            .or_else(|| message_id.map(message_key));
        Incoming {
            idempotency_key,
            body,
            consumed_at,
            parsed,
            event_type,
            sender: None,
        }
    }

    /// The same message, sent by the authenticated account `name`.
    pub fn sent_by(self, name: &str) -> Incoming {
        Incoming {
            sender: Some(name.to_owned()),
            ..self
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
            sender: self.sender.clone(),
        }
    }

    /// The `type` label it is counted under.
    pub fn type_label(&self) -> &'static str {
        type_label(self.event_type)
    }
}

/// The longest transport message id kept as it is in an idempotency key.
const MAX_PLAIN_MESSAGE_ID: usize = 200;

/// The idempotency key of a body without a readable `event_id`: `message:<id>`, or, for
/// an id the database or the broker could not carry back (long, or with control
/// characters such as NUL), `message-sha256:<digest>`. Either way the same id gives the
/// same key, and the key fits an AMQP `message_id` (255 bytes) when it is dead-lettered.
pub fn message_key(message_id: &str) -> String {
    let plain =
        message_id.len() <= MAX_PLAIN_MESSAGE_ID && !message_id.chars().any(char::is_control);
    if plain {
        format!("message:{message_id}")
    } else {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(message_id.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("message-sha256:{hex}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_keys_are_plain_or_a_digest_and_always_fit() {
        let long = "m".repeat(255);
        // (message id, plain?)
        let cases = [
            ("call-centre-42", true),
            (&long[..200], true),
            (&long[..201], false),
            (long.as_str(), false),
            ("nul\u{0}inside", false),
            ("tab\there", false),
            ("市民来电-1", true),
        ];
        for (id, plain) in cases {
            let key = message_key(id);
            assert_eq!(key == format!("message:{id}"), plain, "{id:?}");
            assert!(key.len() <= 255, "{id:?}: {} bytes", key.len());
            assert!(!key.chars().any(char::is_control), "{id:?}");
            assert_eq!(key, message_key(id), "stable");
        }
        assert_ne!(message_key(&long[..201]), message_key(&long[..202]));
    }
}
