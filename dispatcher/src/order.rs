//! The work order as stored, and the states of its life.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Where an order stands. Stored as its snake_case name.
pub mod state {
    /// Placed with a department, waiting for it to accept (签收).
    pub const DISPATCHED: &str = "dispatched";
    /// Accepted by the department holding it.
    pub const ACCEPTED: &str = "accepted";
    /// The department has replied (办结答复); waiting for the callback.
    pub const REPLIED: &str = "replied";
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
    /// Bumped on every write; see the migration.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
