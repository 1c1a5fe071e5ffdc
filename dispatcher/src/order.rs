//! The work order as stored, and the states of its life.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Where an order stands. Stored as its snake_case name.
pub mod state {
    /// Placed with a department, waiting for it to accept (签收).
    pub const DISPATCHED: &str = "dispatched";
    /// Accepted by the department holding it.
    pub const ACCEPTED: &str = "accepted";
    /// Suspended by a supervisor (挂起): every clock stopped.
    pub const SUSPENDED: &str = "suspended";
    /// A duplicate report merged into an earlier order (`duplicate_of`); no task of its own.
    pub const MERGED: &str = "merged";
    /// The department has replied (办结答复); waiting for the callback.
    pub const REPLIED: &str = "replied";
    /// Closed after the callback, or answered at intake.
    pub const CLOSED: &str = "closed";
}

/// One row of `orders`. Holds the citizen's name and phone: no `Debug`, never logged.
#[derive(Clone, sqlx::FromRow, Serialize)]
pub struct Order {
    pub order_no: String,
    pub kind: String,
    pub channel: String,
    /// The matter code as filed (may be unknown to the catalog).
    pub category: String,
    /// The matter the routing recognised.
    pub matter_code: Option<String>,
    pub matter_name: Option<String>,
    pub district: Option<String>,
    pub address: Option<String>,
    pub urgency: String,
    pub title: String,
    pub content: String,
    pub citizen_name: Option<String>,
    pub citizen_phone: Option<String>,
    pub state: String,
    /// The one department that holds the order now.
    pub department: String,
    /// The routing rule that placed it with that department.
    pub rule: String,
    pub dispatch_count: i32,
    /// When the citizen's case was received upstream (`occurred_at`): the SLA start.
    pub received_at: DateTime<Utc>,
    pub statutory_limit: Option<String>,
    pub statutory_due_at: Option<DateTime<Utc>>,
    pub committed_due_at: Option<DateTime<Utc>>,
    pub sign_due_at: Option<DateTime<Utc>>,
    /// `warning_ratio` of the committed time used.
    pub warning_due_at: Option<DateTime<Utc>>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub replied_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Set while suspended: the clocks stopped at this instant.
    pub paused_at: Option<DateTime<Utc>>,
    /// The state to return to when resumed.
    pub resume_state: Option<String>,
    pub handler: Option<String>,
    pub resolved: Option<bool>,
    /// Replied before the committed deadline.
    pub on_time: Option<bool>,
    pub rating: Option<String>,
    /// An extension asked for and not yet decided.
    pub extension_requested_days: Option<i32>,
    /// Working days granted by approved extensions.
    pub extension_days: i32,
    pub return_count: i32,
    pub reopen_count: i32,
    pub urge_count: i32,
    /// The first order of the same matter this report was merged into.
    pub duplicate_of: Option<String>,
    /// Departments that returned the order: a re-dispatch never goes back to them.
    pub returned_by: Vec<String>,
    /// Version of the routing rule that placed it.
    pub rule_version: i32,
    /// Bumped on every write; see the migration.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An SLA timer level, as in the alert's `level` and routing key.
pub mod level {
    pub const SIGN_OVERDUE: &str = "sign_overdue";
    pub const WARNING: &str = "warning";
    pub const OVERDUE: &str = "overdue";
    pub const STATUTORY_OVERDUE: &str = "statutory_overdue";
}

/// What a new case is made of; everything the lifecycle adds later starts empty.
pub struct NewCase {
    pub order_no: String,
    pub kind: String,
    pub channel: String,
    pub category: String,
    pub district: Option<String>,
    pub address: Option<String>,
    pub urgency: String,
    pub title: String,
    pub content: String,
    pub citizen_name: Option<String>,
    pub citizen_phone: Option<String>,
    pub received_at: DateTime<Utc>,
}

impl Order {
    /// A case just received, placed with `department` by `rule`, waiting to be accepted.
    pub fn new(case: NewCase, department: String, rule: String, now: DateTime<Utc>) -> Order {
        Order {
            order_no: case.order_no,
            kind: case.kind,
            channel: case.channel,
            category: case.category,
            matter_code: None,
            matter_name: None,
            district: case.district,
            address: case.address,
            urgency: case.urgency,
            title: case.title,
            content: case.content,
            citizen_name: case.citizen_name,
            citizen_phone: case.citizen_phone,
            state: state::DISPATCHED.to_owned(),
            department,
            rule,
            dispatch_count: 1,
            received_at: case.received_at,
            statutory_limit: None,
            statutory_due_at: None,
            committed_due_at: None,
            sign_due_at: None,
            warning_due_at: None,
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
            rule_version: 1,
            version: 0,
            created_at: now,
            updated_at: now,
        }
    }

    /// The timers this order should have live, derived from its state and deadlines: a
    /// paused, replied, merged or closed order has none; only an order not yet accepted
    /// has a sign timer.
    pub fn timers(&self) -> Vec<(&'static str, DateTime<Utc>)> {
        let clocks_run = matches!(self.state.as_str(), state::DISPATCHED | state::ACCEPTED);
        if !clocks_run {
            return Vec::new();
        }
        let mut timers = Vec::with_capacity(4);
        if self.state == state::DISPATCHED {
            timers.extend(self.sign_due_at.map(|at| (level::SIGN_OVERDUE, at)));
        }
        timers.extend(self.warning_due_at.map(|at| (level::WARNING, at)));
        timers.extend(self.committed_due_at.map(|at| (level::OVERDUE, at)));
        timers.extend(
            self.statutory_due_at
                .map(|at| (level::STATUTORY_OVERDUE, at)),
        );
        timers
    }
}
