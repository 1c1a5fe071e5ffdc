//! An SLA alert as raised, and the message the supervision office receives.

use crate::calendar::business_time;
use crate::outbox::OutboxMessage;
use chrono::{DateTime, Utc};
use hotline_schema::message::Alert;
use hotline_schema::values::AlertLevel;
use uuid::Uuid;

/// A deadline that passed and was recorded, exactly once, with the order's deadlines.
#[derive(Debug, Clone, PartialEq)]
pub struct RaisedAlert {
    pub alert_id: Uuid,
    pub order_no: String,
    pub department: String,
    pub level: AlertLevel,
    pub due_at: DateTime<Utc>,
    pub fired_at: DateTime<Utc>,
    pub committed_due_at: Option<DateTime<Utc>>,
    pub statutory_due_at: Option<DateTime<Utc>>,
}

impl RaisedAlert {
    /// The contract's alert message, times in business time.
    pub fn message(&self) -> Alert {
        Alert {
            alert_id: self.alert_id,
            order_no: self.order_no.clone(),
            department: self.department.clone(),
            level: self.level,
            due_at: business_time(self.due_at),
            fired_at: business_time(self.fired_at),
            committed_due_at: self.committed_due_at.map(business_time),
            statutory_due_at: self.statutory_due_at.map(business_time),
        }
    }

    /// What this alert raises in turn: a `statutory_overdue` raises the order to 督办
    /// (`supervision`), with an alert of that level for the supervision office, same
    /// department and deadline. Every other level raises nothing.
    pub fn escalation(&self, alert_id: Uuid) -> Option<RaisedAlert> {
        match self.level {
            AlertLevel::StatutoryOverdue => Some(RaisedAlert {
                alert_id,
                level: AlertLevel::Supervision,
                ..self.clone()
            }),
            AlertLevel::SignOverdue
            | AlertLevel::Warning
            | AlertLevel::Overdue
            | AlertLevel::CoOverdue
            | AlertLevel::Supervision => None,
        }
    }

    /// The outbox row that publishes it (its lag is measured from the deadline).
    pub fn outbox_message(&self) -> OutboxMessage {
        OutboxMessage::alert(&self.message(), self.due_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_alert_message_is_in_business_time() {
        let utc = |h, m| Utc.with_ymd_and_hms(2026, 11, 25, h, m, 0).unwrap();
        let raised = RaisedAlert {
            alert_id: Uuid::nil(),
            order_no: "PT1".into(),
            department: "SCJGJ".into(),
            level: AlertLevel::Overdue,
            due_at: utc(8, 20),
            fired_at: utc(8, 21),
            committed_due_at: Some(utc(8, 20)),
            statutory_due_at: None,
        };
        let message = serde_json::to_value(raised.message()).unwrap();
        assert_eq!(
            message,
            serde_json::json!({
                "alert_id": "00000000-0000-0000-0000-000000000000",
                "order_no": "PT1",
                "department": "SCJGJ",
                "level": "overdue",
                "due_at": "2026-11-25T16:20:00+08:00",
                "fired_at": "2026-11-25T16:21:00+08:00",
                "committed_due_at": "2026-11-25T16:20:00+08:00",
                "statutory_due_at": null,
            })
        );
        assert_eq!(
            raised.escalation(Uuid::max()),
            None,
            "overdue raises nothing"
        );
        let statutory = RaisedAlert {
            level: AlertLevel::StatutoryOverdue,
            ..raised.clone()
        };
        let raised_to = statutory.escalation(Uuid::max()).unwrap();
        assert_eq!(
            (raised_to.level, raised_to.alert_id, raised_to.due_at),
            (AlertLevel::Supervision, Uuid::max(), statutory.due_at)
        );
        assert_eq!(raised_to.outbox_message().routing_key, "supervision.SCJGJ");
        let outbox = raised.outbox_message();
        assert_eq!(
            outbox.routing_key, "overdue.SCJGJ",
            "routing key <level>.<DEPT>"
        );
        assert_eq!(outbox.headers["x-hotline-level"], "overdue");
        assert_eq!(outbox.message_id, "00000000-0000-0000-0000-000000000000");
    }
}
