//! One inbound message as any transport hands it over: the AMQP intake (a delivery) or the
//! HTTP API (a request body).

use chrono::{DateTime, Utc};
use hotline_schema::event::{EventType, InboundEvent, sniff, type_label};
use hotline_schema::rejection::{Rejection, TruncatedBody};
use hotline_schema::topology;

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
    /// A body past `max_body_bytes` is kept only as its first
    /// [`topology::KEPT_PREFIX_BYTES`] bytes (in `body`); this says what it was.
    pub truncated: Option<TruncatedBody>,
}

/// Cuts `body` to its kept prefix if it is larger than `max_body_bytes`: what it was.
fn cut(body: &mut Vec<u8>, max_body_bytes: usize) -> Option<TruncatedBody> {
    if body.len() <= max_body_bytes {
        return None;
    }
    use sha2::Digest;
    let truncated = TruncatedBody {
        bytes: body.len(),
        sha256: hex(&sha2::Sha256::digest(body.as_slice())),
    };
    body.truncate(topology::KEPT_PREFIX_BYTES.min(max_body_bytes));
    body.shrink_to_fit();
    Some(truncated)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Incoming {
    /// Parses `body` (at most `max_body_bytes`) and works out its idempotency key.
    pub fn from_bytes(
        body: Vec<u8>,
        message_id: Option<&str>,
        consumed_at: DateTime<Utc>,
        max_body_bytes: usize,
    ) -> Incoming {
        let mut body = body;
        let parsed = InboundEvent::parse(&body, max_body_bytes);
        let (event_id, event_type) = match &parsed {
            Ok(event) => (Some(event.envelope.event_id), Some(event.event_type())),
            Err(_) if body.len() <= max_body_bytes => sniff(&body),
            Err(_) => (None, None),
        };
        let key = event_id
            .map(|id| id.to_string())
            .or_else(|| message_id.map(message_key));
        // A refused body takes its key together with its digest: the same bytes delivered
        // again have one effect, and the same event_id with a corrected body is a new
        // attempt, not a duplicate of its own refusal.
        let idempotency_key = match &parsed {
            Ok(_) => key,
            Err(_) => key.map(|key| refused_key(&key, &body)),
        };
        let truncated = cut(&mut body, max_body_bytes);
        Incoming {
            idempotency_key,
            body,
            consumed_at,
            parsed,
            event_type,
            sender: None,
            truncated,
        }
    }

    /// The same message, sent by the authenticated account `name`. Its idempotency key is
    /// scoped to that account ([`account_key`]): one caller's `event_id` or
    /// `Idempotency-Key` can never take another caller's, nor an AMQP publisher's.
    pub fn sent_by(self, name: &str) -> Incoming {
        Incoming {
            idempotency_key: self.idempotency_key.map(|key| account_key(name, &key)),
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
            truncated: self.truncated.clone(),
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
        format!(
            "message-sha256:{}",
            hex(&sha2::Sha256::digest(message_id.as_bytes()))
        )
    }
}

/// The key of a refused body: `<key>#<the first 16 hex digits of its SHA-256>`, or
/// `refused-sha256:<digest>` when that would not fit an AMQP `message_id`.
fn refused_key(key: &str, body: &[u8]) -> String {
    use sha2::Digest;
    let plain = format!("{key}#{}", &hex(&sha2::Sha256::digest(body))[..16]);
    fitting(plain, "refused-sha256")
}

/// The idempotency key of `key` posted by the account `account`: `http:<length of the
/// name>:<name>:<key>` (the length keeps two accounts' keys apart whatever their names
/// hold), or `http-sha256:<digest>` when that would not fit an AMQP `message_id`.
pub fn account_key(account: &str, key: &str) -> String {
    fitting(
        format!("http:{}:{account}:{key}", account.len()),
        "http-sha256",
    )
}

/// `key` as it is if an AMQP `message_id` can carry it back (at most 255 bytes, no control
/// character), else `<digest_name>:<its SHA-256 in hex>`.
fn fitting(key: String, digest_name: &str) -> String {
    if key.len() <= 255 && !key.chars().any(char::is_control) {
        key
    } else {
        use sha2::Digest;
        format!(
            "{digest_name}:{}",
            hex(&sha2::Sha256::digest(key.as_bytes()))
        )
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

    #[test]
    fn bodies_too_large_are_kept_as_a_prefix_with_their_size_and_digest() {
        let max = 8192;
        // (body size, kept, truncated)
        let cases = [
            (100, 100, false),
            (max, max, false),
            (max + 1, topology::KEPT_PREFIX_BYTES, true),
            (1 << 20, topology::KEPT_PREFIX_BYTES, true),
        ];
        for (size, kept, truncated) in cases {
            let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let incoming = Incoming::from_bytes(body.clone(), Some("m"), Utc::now(), max);
            assert_eq!(incoming.body, body[..kept], "{size}");
            assert_eq!(incoming.truncated.is_some(), truncated, "{size}");
            if let Some(t) = incoming.truncated {
                assert_eq!(t.bytes, size);
                use sha2::Digest;
                assert_eq!(t.sha256, hex(&sha2::Sha256::digest(&body)));
                assert_eq!(t.sha256.len(), 64);
            }
        }
        // A limit below the prefix keeps no more than the limit.
        let small = Incoming::from_bytes(vec![b' '; 3000], None, Utc::now(), 1024);
        assert_eq!(small.body.len(), 1024);
    }

    #[test]
    fn account_keys_keep_accounts_apart_and_always_fit() {
        let long = "k".repeat(250);
        // (account, key, expected)
        let cases = [
            ("call-centre-07", "0193", "http:14:call-centre-07:0193"),
            ("a:b", "c", "http:3:a:b:c"),
            ("a", "b:c", "http:1:a:b:c"),
        ];
        for (account, key, expected) in cases {
            assert_eq!(account_key(account, key), expected);
        }
        assert_ne!(account_key("a:b", "c"), account_key("a", "b:c"));
        // What an account sends is keyed in its own namespace, its actor recorded.
        let sent = Incoming::from_bytes(b"{not json".to_vec(), Some("k"), Utc::now(), 4096)
            .sent_by("call-centre-07");
        let own = Incoming::from_bytes(b"{not json".to_vec(), Some("k"), Utc::now(), 4096);
        assert_eq!(
            sent.idempotency_key,
            own.idempotency_key
                .as_deref()
                .map(|key| account_key("call-centre-07", key))
        );
        assert_eq!(sent.sender.as_deref(), Some("call-centre-07"));
        assert_ne!(account_key("x", "k"), account_key("y", "k"));
        let digested = account_key("x", &long);
        assert!(digested.starts_with("http-sha256:") && digested.len() <= 255);
        assert_ne!(digested, account_key("y", &long));
    }
}
