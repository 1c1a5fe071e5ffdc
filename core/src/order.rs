//! The work order as the core decides on it: what the citizen reported, where the order
//! stands, who holds it, and its deadlines. Typed through and through; the database row
//! (`hotline_store::rows::OrderRow`) and the outward views are other types, converted by
//! hand.

use crate::calendar::business_time;
use crate::config::Limit;
use crate::sla::Deadlines;
use chrono::{DateTime, Utc};
use hotline_schema::message::Task;
use hotline_schema::values::{
    AlertLevel, Channel, Citizen, OrderState, Rating, RequestKind, Urgency,
};
use uuid::Uuid;

/// What the citizen reported (诉求), as received: fixed for the order's whole life.
#[derive(Clone, PartialEq)]
pub struct Report {
    pub kind: RequestKind,
    pub channel: Channel,
    /// The matter code as filed (may be unknown to the catalog, or empty).
    pub category: String,
    pub district: Option<String>,
    pub address: Option<String>,
    pub urgency: Urgency,
    pub title: String,
    pub content: String,
    /// Personal data: forwarded to the holding department, never logged.
    pub citizen: Citizen,
    /// A confidential case (保密件): the citizen is shown in full to the holding
    /// department's handlers only (see [`crate::privacy`]).
    pub confidential: bool,
    /// When the case was received upstream (`occurred_at`): the SLA clocks start here.
    pub received_at: DateTime<Utc>,
}

/// The catalogued matter (事项) routing recognised the case as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatterRef {
    pub code: String,
    pub name: String,
}

/// One work order. Holds the citizen's name and phone: no `Debug`, never logged.
#[derive(Clone, PartialEq)]
pub struct Order {
    pub order_no: String,
    pub report: Report,
    pub matter: Option<MatterRef>,
    pub statutory_limit: Limit,
    pub deadlines: Deadlines,
    pub state: OrderState,
    /// The one department that holds the order now.
    pub department: String,
    /// The routing rule that placed it with that department, and the rule's version.
    pub rule: String,
    pub rule_version: i32,
    /// 1 for the first dispatch, +1 for each re-dispatch; 0 for an order never dispatched.
    pub dispatch_count: i32,
    pub accepted_at: Option<DateTime<Utc>>,
    pub replied_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Set while suspended: the clocks stopped at this instant.
    pub paused_at: Option<DateTime<Utc>>,
    /// The state to return to when resumed.
    pub resume_state: Option<OrderState>,
    pub handler: Option<String>,
    pub resolved: Option<bool>,
    /// Replied before the committed deadline.
    pub on_time: Option<bool>,
    pub rating: Option<Rating>,
    /// An extension asked for and not yet decided.
    pub extension_requested_days: Option<u32>,
    /// Working days granted by approved extensions.
    pub extension_days: u32,
    pub return_count: u32,
    pub reopen_count: u32,
    pub urge_count: u32,
    /// The first order of the same matter this report was merged into (重复件).
    pub duplicate_of: Option<String>,
    /// Departments that returned the order (退单): a re-dispatch never goes back to them.
    pub returned_by: Vec<String>,
    /// The version of the calendar its deadlines were last computed on
    /// ([`crate::calendar::BusinessCalendar::version`]); `None` for orders older than
    /// calendar replays.
    pub calendar_version: Option<String>,
}

impl Order {
    /// A case just received, placed with `department` by `rule`, waiting to be accepted.
    pub fn new(
        order_no: String,
        report: Report,
        statutory_limit: Limit,
        deadlines: Deadlines,
        department: String,
        rule: String,
    ) -> Order {
        Order {
            order_no,
            report,
            matter: None,
            statutory_limit,
            deadlines,
            state: OrderState::Dispatched,
            department,
            rule,
            rule_version: 1,
            calendar_version: None,
            dispatch_count: 1,
            accepted_at: None,
            replied_at: None,
            closed_at: None,
            paused_at: None,
            resume_state: None,
            handler: None,
            resolved: None,
            on_time: None,
            rating: None,
            extension_requested_days: None,
            extension_days: 0,
            return_count: 0,
            reopen_count: 0,
            urge_count: 0,
            duplicate_of: None,
            returned_by: Vec::new(),
        }
    }

    /// The timers this order should have live, derived from its state and deadlines: a
    /// paused, replied, merged or closed order has none; only an order not yet accepted
    /// has a sign timer.
    pub fn timers(&self) -> Vec<(AlertLevel, DateTime<Utc>)> {
        if !self.state.clocks_run() {
            return Vec::new();
        }
        let d = &self.deadlines;
        let mut timers = Vec::with_capacity(4);
        if self.state == OrderState::Dispatched {
            timers.push((AlertLevel::SignOverdue, d.sign));
        }
        timers.push((AlertLevel::Warning, d.warning));
        timers.push((AlertLevel::Overdue, d.committed));
        timers.push((AlertLevel::StatutoryOverdue, d.statutory));
        timers
    }

    /// The key under which a later report of the same matter, place and phone is merged
    /// into this order (重复件); `None` without a matter, a place or a phone.
    pub fn merge_key(&self) -> Option<crate::decide::MergeKey> {
        crate::decide::MergeKey::of(
            self.matter.as_ref().map(|m| m.code.as_str()),
            self.report.address.as_deref(),
            self.report.citizen.phone.as_deref(),
        )
    }

    /// The task message for the order's current department.
    pub fn task(&self, task_id: Uuid) -> Task {
        let report = &self.report;
        Task {
            task_id,
            order_no: self.order_no.clone(),
            department: self.department.clone(),
            kind: report.kind,
            category: report.category.clone(),
            urgency: report.urgency,
            title: report.title.clone(),
            content: report.content.clone(),
            district: report.district.clone(),
            address: report.address.clone(),
            citizen: report.citizen.clone(),
            received_at: business_time(report.received_at),
            committed_due_at: Some(business_time(self.deadlines.committed)),
            statutory_due_at: Some(business_time(self.deadlines.statutory)),
            rule: self.rule.clone(),
            dispatch_count: self.dispatch_count,
            matter_name: self.matter.as_ref().map(|m| m.name.clone()),
            sign_due_at: Some(business_time(self.deadlines.sign)),
            revision: 1,
            reason: None,
            provisional: false,
        }
    }
}

impl Report {
    /// The fields routing looks at.
    /// The report a `complaint.received` makes, received at `received_at`.
    pub fn of(
        complaint: &hotline_schema::body::ComplaintReceived,
        received_at: DateTime<Utc>,
    ) -> Report {
        Report {
            kind: complaint.kind,
            channel: complaint.channel,
            category: complaint.category.clone(),
            district: complaint.district.clone(),
            address: complaint.address.clone(),
            urgency: complaint.urgency,
            title: complaint.title.clone(),
            content: complaint.content.clone(),
            citizen: complaint.citizen.clone(),
            confidential: complaint.confidential,
            received_at,
        }
    }

    pub fn case(&self) -> crate::routing::Case<'_> {
        crate::routing::Case {
            kind: self.kind,
            category: &self.category,
            district: self.district.as_deref(),
            title: &self.title,
            content: &self.content,
        }
    }
}
