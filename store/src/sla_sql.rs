//! The one SQL definition of an order's SLA state. The API, the `hotline_orders_open`
//! gauge and the digest all use it, so they always agree.

/// An order's SLA state over a row of `orders` joined with [`SLA_AT_SQL`]: `closed`,
/// `paused`, `statutory_overdue`, `overdue`, `warning` or `on_track`
/// (`hotline_schema::values::SlaState`).
pub const SLA_STATE_SQL: &str = "CASE
        WHEN state IN ('closed', 'merged') THEN 'closed'
        WHEN paused_at IS NOT NULL THEN 'paused'
        WHEN statutory_due_at <= sla_at THEN 'statutory_overdue'
        WHEN committed_due_at <= sla_at THEN 'overdue'
        WHEN warning_due_at <= sla_at THEN 'warning'
        ELSE 'on_track' END";

/// The instant an order's SLA state is judged at, as a lateral column `sla_at`: now, or
/// for a replied order the moment its clock stopped.
pub const SLA_AT_SQL: &str = "CROSS JOIN LATERAL (SELECT CASE
        WHEN orders.state = 'replied' AND orders.replied_at IS NOT NULL THEN orders.replied_at
        ELSE now() END AS sla_at) AS sla_clock";
