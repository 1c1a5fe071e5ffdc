//! Messages to publish, as values. A decision produces them; the store writes them into
//! the outbox in the same transaction as the change that causes them; the relay is the only
//! one that publishes them. Each has one constructor here, so every task, alert, digest and
//! dead letter leaves the engine with the same properties.

use chrono::{DateTime, Utc};
use hotline_schema::message::{Alert, Digest, Task};
use hotline_schema::named_enum;
use hotline_schema::rejection::Rejection;
use hotline_schema::topology;
use std::collections::BTreeMap;

named_enum! {
    /// What an outbox message is, for the relay's counters.
    pub enum OutboxKind("outbox kind") {
        Task = "task",
        Alert = "alert",
        Rejected = "rejected",
        Digest = "digest",
    }
}

/// One message to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    pub exchange: &'static str,
    pub routing_key: String,
    /// The AMQP `message_id`: stable across republishing, consumers dedupe on it.
    pub message_id: String,
    pub kind: OutboxKind,
    /// Extra AMQP headers (string values).
    pub headers: BTreeMap<&'static str, String>,
    pub body: Vec<u8>,
    /// The instant latency is measured from: the consumption of the event that caused a
    /// task, or the deadline of an alert.
    pub origin_at: Option<DateTime<Utc>>,
    /// The department the message concerns, for per-department counters.
    pub department: Option<String>,
}

impl OutboxMessage {
    /// A task for its department, caused by an event consumed at `consumed_at`. A
    /// revision of a task keeps its `task_id` (consumers upsert by it) but is a message of
    /// its own (`<task_id>/r<revision>`): a consumer that drops redelivered message ids
    /// must not drop it.
    pub fn task(task: &Task, consumed_at: DateTime<Utc>) -> OutboxMessage {
        let message_id = match task.revision {
            0 | 1 => task.task_id.to_string(),
            revision => format!("{}/r{revision}", task.task_id),
        };
        OutboxMessage {
            exchange: topology::TASKS_EXCHANGE,
            routing_key: task.department.clone(),
            message_id,
            kind: OutboxKind::Task,
            headers: BTreeMap::new(),
            body: serde_json::to_vec(task).expect("a task serializes"),
            origin_at: Some(consumed_at),
            department: Some(task.department.clone()),
        }
    }

    /// An SLA alert (the relay reads its level from the header). Its lag is measured from
    /// the deadline.
    pub fn alert(alert: &Alert, due_at: DateTime<Utc>) -> OutboxMessage {
        OutboxMessage {
            exchange: topology::ALERTS_EXCHANGE,
            routing_key: topology::alert_routing_key(alert.level, &alert.department),
            message_id: alert.alert_id.to_string(),
            kind: OutboxKind::Alert,
            headers: [(topology::LEVEL_HEADER, alert.level.as_str().to_owned())].into(),
            body: serde_json::to_vec(alert).expect("an alert serializes"),
            origin_at: Some(due_at),
            department: Some(alert.department.clone()),
        }
    }

    /// A department's daily supervision digest.
    pub fn digest(digest: &Digest, scheduled_at: DateTime<Utc>) -> OutboxMessage {
        OutboxMessage {
            exchange: topology::ALERTS_EXCHANGE,
            routing_key: topology::digest_routing_key(&digest.department),
            message_id: digest.digest_id.to_string(),
            kind: OutboxKind::Digest,
            headers: BTreeMap::new(),
            body: serde_json::to_vec(digest).expect("a digest serializes"),
            origin_at: Some(scheduled_at),
            department: Some(digest.department.clone()),
        }
    }

    /// An event that could not be accepted, dead-lettered with its body unchanged and its
    /// reason in the headers; a body too large to keep goes as its prefix, with headers
    /// that say so and give the original's size and digest.
    pub fn dead_letter(
        message_id: String,
        body: Vec<u8>,
        truncated: Option<&hotline_schema::rejection::TruncatedBody>,
        rejection: &Rejection,
        consumed_at: DateTime<Utc>,
    ) -> OutboxMessage {
        let mut headers: BTreeMap<&'static str, String> = [
            (topology::REASON_HEADER, rejection.to_string()),
            (
                topology::REASON_CODE_HEADER,
                rejection.code.as_str().to_owned(),
            ),
        ]
        .into();
        if let Some(truncated) = truncated {
            headers.insert(topology::BODY_BYTES_HEADER, truncated.bytes.to_string());
            headers.insert(topology::BODY_SHA256_HEADER, truncated.sha256.clone());
            headers.insert(topology::BODY_TRUNCATED_HEADER, "true".to_owned());
        }
        OutboxMessage {
            exchange: topology::DEAD_LETTER_EXCHANGE,
            routing_key: String::new(),
            message_id,
            kind: OutboxKind::Rejected,
            headers,
            body,
            origin_at: Some(consumed_at),
            department: None,
        }
    }
}
