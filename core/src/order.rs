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
    AlertLevel, Channel, Citizen, OrderState, Rating, RequestKind, TaskRole, UrgeLevel, Urgency,
};
use serde::{Deserialize, Serialize};
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

/// A department co-handling the order (协办单位) beside the lead (主办), which alone
/// replies. It gets its own task, sign deadline and co-reply deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoHandler {
    pub department: String,
    /// Its task's id (the AMQP `message_id` of its task message).
    pub task_id: Uuid,
    pub dispatched_at: DateTime<Utc>,
    /// Accept (签收) before this.
    pub sign_due_at: DateTime<Utc>,
    /// Co-reply (`order.co_replied`) before this; the lead may reply once it passed.
    pub co_reply_due_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub handler: Option<String>,
    pub replied_at: Option<DateTime<Utc>>,
    /// Co-replied by its deadline.
    pub on_time: Option<bool>,
    /// Its task's revision: 1 when sent, +1 each time a calendar change re-sends it with
    /// moved deadlines (absent in rows older than that: 1).
    #[serde(default = "first_revision")]
    pub revision: u32,
}

fn first_revision() -> u32 {
    1
}

impl CoHandler {
    /// Still owes its co-reply at `at`: not co-replied, and its deadline not passed.
    pub fn is_due(&self, at: DateTime<Utc>) -> bool {
        self.replied_at.is_none() && at < self.co_reply_due_at
    }
}

/// A return (退单) waiting for an operator's review: who returned it, why, and what to
/// restore if the return is rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingReturn {
    pub department: String,
    /// The dispatch that was returned.
    pub dispatch_no: i32,
    pub reason: String,
    pub returned_at: DateTime<Utc>,
    /// Where the order stood at the return (`dispatched` or `accepted`), and with whom.
    pub state: OrderState,
    pub rule: String,
    pub rule_version: i32,
    pub accepted_at: Option<DateTime<Utc>>,
    pub handler: Option<String>,
    pub sign_due_at: DateTime<Utc>,
    pub dispatched_at: Option<DateTime<Utc>>,
}

/// The latest callback (回访) of the order, and the appeal of its rating, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Callback {
    pub event_id: Uuid,
    pub at: DateTime<Utc>,
    pub rating: Rating,
    /// The department that had replied (the one rated).
    pub department: String,
    pub appeal: Option<Appeal>,
}

/// An appeal of a rating (评价复核): one per callback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Appeal {
    pub department: String,
    pub reason: String,
    pub appealed_at: DateTime<Utc>,
    pub decision: Option<AppealDecision>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppealDecision {
    /// Upheld: the rating no longer counts in 满意率.
    pub upheld: bool,
    pub note: String,
    pub decided_at: DateTime<Utc>,
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
    /// When the current dispatch was made (the return window runs from it).
    pub dispatched_at: Option<DateTime<Utc>>,
    /// Co-handling departments (协办), in the order they were named.
    pub co_handlers: Vec<CoHandler>,
    /// A return waiting for review (state `return_pending`).
    pub pending_return: Option<PendingReturn>,
    /// The highest supervision level the order was urged at (催办/督办/挂牌督办).
    pub urge_level: Option<UrgeLevel>,
    /// The latest callback, with the appeal of its rating.
    pub callback: Option<Callback>,
    /// The version of the calendar its deadlines were last computed on
    /// ([`crate::calendar::BusinessCalendar::version`]); `None` for orders older than
    /// calendar replays.
    pub calendar_version: Option<String>,
}

/// A deadline to watch: one level of one order, for one department. The store arms it as
/// a timer and fires it once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveTimer {
    pub order_no: String,
    pub level: AlertLevel,
    pub due_at: DateTime<Utc>,
    pub department: String,
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
            dispatched_at: None,
            co_handlers: Vec::new(),
            pending_return: None,
            urge_level: None,
            callback: None,
        }
    }

    /// Whether the latest rating was removed from 满意率 by an upheld appeal.
    pub fn rating_excluded(&self) -> bool {
        self.callback
            .as_ref()
            .and_then(|c| c.appeal.as_ref())
            .and_then(|a| a.decision.as_ref())
            .is_some_and(|d| d.upheld)
    }

    /// The co-handling department codes.
    pub fn co_departments(&self) -> Vec<String> {
        self.co_handlers
            .iter()
            .map(|c| c.department.clone())
            .collect()
    }

    /// The co-handler `department`, if it co-handles the order.
    pub fn co_handler(&self, department: &str) -> Option<&CoHandler> {
        self.co_handlers.iter().find(|c| c.department == department)
    }

    /// Co-handlers' timers (`co_overdue`, per co-handling department): one for each that
    /// has not co-replied, while the order's clocks run and the lead has not replied.
    pub fn co_timers(&self) -> Vec<(AlertLevel, DateTime<Utc>, &str)> {
        if !self.state.clocks_run() {
            return Vec::new();
        }
        self.co_handlers
            .iter()
            .filter(|c| c.replied_at.is_none())
            .map(|c| {
                (
                    AlertLevel::CoOverdue,
                    c.co_reply_due_at,
                    c.department.as_str(),
                )
            })
            .collect()
    }

    /// The task message for co-handler `co`: the lead's, addressed to it, its own
    /// deadlines, the citizen masked (it does not hold the order).
    pub fn co_task(&self, co: &CoHandler) -> Task {
        let mut task = self.task(co.task_id);
        // Only the holding department's task carries the citizen in full.
        task.citizen = crate::privacy::shown(
            &self.report.citizen,
            crate::privacy::disclosure(
                crate::privacy::Reader::Handler {
                    department: &co.department,
                },
                &self.department,
                self.report.confidential,
                crate::privacy::Purpose::View,
            ),
        );
        task.department = co.department.clone();
        task.role = TaskRole::Co;
        task.lead_department = Some(self.department.clone());
        task.co_departments = Vec::new();
        task.sign_due_at = Some(business_time(co.sign_due_at));
        task.co_reply_due_at = Some(business_time(co.co_reply_due_at));
        task.revision = co.revision;
        task
    }

    /// Every timer this order should have live: its own levels ([`Order::timers`], for the
    /// holding department) and each co-handler's co-reply deadline
    /// ([`Order::co_timers`], for that co-handler). What the store arms, as given.
    pub fn live_timers(&self) -> Vec<LiveTimer> {
        let own = self
            .timers()
            .into_iter()
            .map(|(level, due_at)| (level, due_at, self.department.as_str()));
        own.chain(self.co_timers())
            .map(|(level, due_at, department)| LiveTimer {
                order_no: self.order_no.clone(),
                level,
                due_at,
                department: department.to_owned(),
            })
            .collect()
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
            role: TaskRole::Lead,
            lead_department: None,
            co_departments: self.co_departments(),
            co_reply_due_at: None,
            revision: 1,
            reason: None,
            provisional: false,
        }
    }
}

impl Report {
    /// A phoned-in complaint of matter `SC-0101` without a citizen, received at
    /// `received_at`: the plain report tests start from, changing what they need.
    pub fn example(received_at: DateTime<Utc>) -> Report {
        Report {
            kind: RequestKind::Complaint,
            channel: Channel::Phone,
            category: "SC-0101".into(),
            district: None,
            address: None,
            urgency: Urgency::Normal,
            title: "t".into(),
            content: "c".into(),
            citizen: Citizen::default(),
            confidential: false,
            received_at,
        }
    }

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
