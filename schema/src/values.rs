//! The values the contract names: order numbers, request kinds, channels, urgencies,
//! ratings, order and SLA states, alert levels, and the citizen.

use crate::named_enum;
use serde::{Deserialize, Serialize};
use std::fmt;

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
            Err("order_no: expected 1-64 ASCII letters, digits, '-' or '_'".to_owned())
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

named_enum! {
    /// What the citizen asks for (诉求类型).
    pub enum RequestKind("request kind") {
        Consultation = "consultation",
        Help = "help",
        Complaint = "complaint",
        Report = "report",
        Suggestion = "suggestion",
    }
}

named_enum! {
    /// Where the case came in.
    pub enum Channel("channel") {
        Phone = "phone",
        Web = "web",
        App = "app",
        Wechat = "wechat",
        Sms = "sms",
    }
}

named_enum! {
    /// How urgent the case is; `normal` when the event does not say.
    #[derive(Default)]
    pub enum Urgency("urgency") {
        #[default]
        Normal = "normal",
        Urgent = "urgent",
        Emergency = "emergency",
    }
}

named_enum! {
    /// The callback team's rating (回访满意度).
    pub enum Rating("rating") {
        VerySatisfied = "very_satisfied",
        Satisfied = "satisfied",
        BasicallySatisfied = "basically_satisfied",
        Dissatisfied = "dissatisfied",
        VeryDissatisfied = "very_dissatisfied",
    }
}

impl Rating {
    /// Dissatisfied or very dissatisfied: the ratings that may reopen an order.
    pub fn is_unsatisfied(self) -> bool {
        matches!(self, Rating::Dissatisfied | Rating::VeryDissatisfied)
    }
}

named_enum! {
    /// Where a work order stands.
    pub enum OrderState("order state") {
        /// Placed with a department, waiting for it to accept (签收).
        Dispatched = "dispatched",
        /// Accepted by the department holding it.
        Accepted = "accepted",
        /// Suspended by a supervisor (挂起): every clock stopped.
        Suspended = "suspended",
        /// A duplicate report merged into an earlier order; no task of its own.
        Merged = "merged",
        /// The department has replied (办结答复); waiting for the callback.
        Replied = "replied",
        /// Closed after the callback, or answered at intake.
        Closed = "closed",
        /// Added: a return (退单) waiting for an operator's review (退单审核), held by the
        /// manual desk. The citizen's clocks run on.
        ReturnPending = "return_pending",
    }
}

impl OrderState {
    /// Whether the order's SLA clocks run: placed with a department and not paused.
    pub fn clocks_run(self) -> bool {
        matches!(
            self,
            OrderState::Dispatched | OrderState::Accepted | OrderState::ReturnPending
        )
    }

    /// Whether the order still needs someone: anything but closed or merged.
    pub fn is_open(self) -> bool {
        !matches!(self, OrderState::Closed | OrderState::Merged)
    }
}

named_enum! {
    /// An order's SLA state as the API and the `hotline_orders_open` gauge report it.
    pub enum SlaState("SLA state") {
        OnTrack = "on_track",
        Warning = "warning",
        Overdue = "overdue",
        StatutoryOverdue = "statutory_overdue",
        Paused = "paused",
        Closed = "closed",
    }
}

named_enum! {
    /// An SLA alert's level: its `level` field and the first word of its routing key.
    pub enum AlertLevel("alert level") {
        /// Not accepted (签收) by the sign deadline.
        SignOverdue = "sign_overdue",
        /// `warning_ratio` of the committed time used.
        Warning = "warning",
        /// The committed deadline passed.
        Overdue = "overdue",
        /// The statutory deadline passed.
        StatutoryOverdue = "statutory_overdue",
        /// Added: a co-handling department (协办单位) has not co-replied by its deadline;
        /// routing key `co_overdue.<co-handling department>`.
        CoOverdue = "co_overdue",
        /// Added: the order was raised to 督办 (supervision) because its statutory
        /// deadline passed; for the supervision office.
        Supervision = "supervision",
    }
}

named_enum! {
    /// How hard a supervisor presses (`order.urged` `level`): 催办, 督办, 挂牌督办. Ordered:
    /// an order's level only rises.
    #[derive(Default)]
    pub enum UrgeLevel("urge level") {
        /// 催办: a reminder (the default).
        #[default]
        Reminder = "reminder",
        /// 督办: formal supervision.
        Supervision = "supervision",
        /// 挂牌督办: listed supervision, the highest level.
        Listed = "listed",
    }
}

named_enum! {
    /// What a task asks of its department: to handle the order (主办), or to help the
    /// department that does (协办).
    #[derive(Default)]
    pub enum TaskRole("task role") {
        #[default]
        Lead = "lead",
        Co = "co",
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
