//! Outbound messages: what departments and the supervision office receive.

use crate::values::{
    AlertLevel, Citizen, OrderState, RequestKind, SlaState, TaskRole, UrgeLevel, Urgency,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A work order for a department, on `hotline.tasks` with routing key = department code.
/// Sent on every dispatch and re-dispatch; `task_id` is also the AMQP `message_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub task_id: Uuid,
    pub order_no: String,
    pub department: String,
    pub kind: RequestKind,
    pub category: String,
    pub urgency: Urgency,
    pub title: String,
    pub content: String,
    pub district: Option<String>,
    pub address: Option<String>,
    /// The citizen, so that the department can call back.
    pub citizen: Citizen,
    /// RFC 3339, Asia/Shanghai offset.
    pub received_at: String,
    pub committed_due_at: Option<String>,
    pub statutory_due_at: Option<String>,
    /// The routing rule that chose this department.
    pub rule: String,
    /// 1 for the first dispatch, +1 for each re-dispatch.
    pub dispatch_count: i32,
    /// Added to the contract: the catalog name of the matter, for the handler's screen.
    pub matter_name: Option<String>,
    /// Added to the contract: accept (签收) before this.
    pub sign_due_at: Option<String>,
    /// Added: `lead` (主办, the department that replies) or `co` (协办, it helps the lead
    /// and sends `order.co_replied`).
    #[serde(default)]
    pub role: TaskRole,
    /// Added: on a co-handler's task, the lead department.
    #[serde(default)]
    pub lead_department: Option<String>,
    /// Added: on the lead's task, the departments co-handling the order.
    #[serde(default)]
    pub co_departments: Vec<String>,
    /// Added: on a co-handler's task, its co-reply deadline.
    #[serde(default)]
    pub co_reply_due_at: Option<String>,
    /// Added to the contract: 1 for the task as dispatched; +1 each time the same task is
    /// sent again with new deadlines (same `task_id`: consumers upsert by it).
    #[serde(default = "first_revision")]
    pub revision: u32,
    /// Added to the contract: why a revision was sent (`calendar`: the deadlines moved with
    /// a calendar change); absent on revision 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Added to the contract: the statutory deadline lies past the days the calendar
    /// declares (next year's notice is not out yet): it may move when it is.
    #[serde(default)]
    pub provisional: bool,
}

fn first_revision() -> u32 {
    1
}

/// An SLA alert, on `hotline.alerts` with routing key `<level>.<DEPT>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub alert_id: Uuid,
    pub order_no: String,
    pub department: String,
    pub level: AlertLevel,
    pub due_at: String,
    pub fired_at: String,
    pub committed_due_at: Option<String>,
    pub statutory_due_at: Option<String>,
}

/// A department's daily supervision digest (督办日报), on `hotline.alerts` with routing key
/// `digest.<DEPT>` (an addition to the contract), sent at the start of each working day:
/// the counts of its open orders by SLA state, and the orders that need chasing, worst
/// first. `digest_id` is also the AMQP `message_id`; one digest per department and day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    pub digest_id: Uuid,
    pub department: String,
    /// The working day it is for: an Asia/Shanghai date, `YYYY-MM-DD`.
    pub day: String,
    /// RFC 3339, Asia/Shanghai offset.
    pub generated_at: String,
    /// Open orders whose clocks run (dispatched or accepted, not suspended).
    pub open: i64,
    /// Of those, not accepted (签收) by their sign deadline.
    pub sign_overdue: i64,
    /// Past the warning instant, before the committed deadline.
    pub warning: i64,
    /// Past the committed deadline, before the statutory one.
    pub overdue: i64,
    pub statutory_overdue: i64,
    /// The orders past a deadline or the warning instant, worst first (statutory overdue,
    /// overdue, warning, then sign overdue only), at most [`Digest::MAX_ORDERS`].
    pub orders: Vec<DigestOrder>,
    /// Whether `orders` was cut at [`Digest::MAX_ORDERS`] (the counts are complete).
    pub truncated: bool,
    /// Added: open orders of the department by supervision level (催办/督办/挂牌督办).
    #[serde(default)]
    pub urge_levels: UrgeLevelCounts,
    /// Added: orders the department co-handles (协办) without having co-replied, and of
    /// those the ones past their co-reply deadline.
    #[serde(default)]
    pub co_handling: i64,
    #[serde(default)]
    pub co_overdue: i64,
    /// Added: returns waiting for review (退单审核) held by the department (the manual desk).
    #[serde(default)]
    pub return_pending: i64,
    /// Added: the department's appeals of ratings (评价复核) not decided yet.
    #[serde(default)]
    pub appeals_pending: i64,
}

/// Open orders by the highest supervision level they were urged at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrgeLevelCounts {
    pub reminder: i64,
    pub supervision: i64,
    pub listed: i64,
}

impl Digest {
    pub const MAX_ORDERS: usize = 500;
}

/// One order in a [`Digest`]. No citizen data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestOrder {
    pub order_no: String,
    pub state: OrderState,
    /// `warning`, `overdue`, `statutory_overdue`, or `on_track` (only sign overdue).
    pub sla_state: SlaState,
    pub sign_overdue: bool,
    pub matter_name: Option<String>,
    pub received_at: String,
    pub committed_due_at: Option<String>,
    pub statutory_due_at: Option<String>,
    pub urge_count: i32,
    /// Added: the highest supervision level the order was urged at, if any.
    #[serde(default)]
    pub urge_level: Option<UrgeLevel>,
}
