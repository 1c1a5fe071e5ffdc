//! The one SQL definition of an order's SLA state. The API, the `hotline_orders_open`
//! gauge and the digest all use it, so they always agree; the order list filters on it
//! through [`sla_state_predicates`], the same rule as ranges on the deadlines.

use hotline_schema::values::SlaState;

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

/// [`SLA_AT_SQL`] judged at `instant` (an SQL expression such as `$1`) instead of now.
pub fn sla_at_sql(instant: &str) -> String {
    format!(
        "CROSS JOIN LATERAL (SELECT CASE
        WHEN orders.state = 'replied' AND orders.replied_at IS NOT NULL THEN orders.replied_at
        ELSE {instant} END AS sla_at) AS sla_clock"
    )
}

/// The orders whose SLA state ([`SLA_STATE_SQL`] at `instant`) is `state`, as predicates
/// on the deadline columns that an index can use: alternatives that never hold for the
/// same row, to be ORed (or run as the arms of a `UNION ALL`, each in index order).
///
/// An open order is dispatched or accepted (its clock runs until `instant`), returned
/// and waiting for the return's review (`return_pending`: its clock runs too, but it has
/// no `next_due_at`), suspended (`paused_at` set), or replied (its clock stopped at
/// `replied_at`): the state machine keeps no other. While a dispatched or accepted
/// order's clock runs, `next_due_at` (migration 0009) is never after the committed
/// deadline, so "past the committed (or statutory) deadline" bounds it too: the list's
/// index scan stops at `instant` instead of reading every open order.
pub fn sla_state_predicates(state: SlaState, instant: &str) -> Vec<String> {
    let running = "state IN ('dispatched', 'accepted') AND paused_at IS NULL";
    // `next_due_at` is 'infinity' for every state but dispatched and accepted (its
    // definition): said outright, it puts these arms on the index's last range.
    let stopped = "state = 'replied' AND replied_at IS NOT NULL AND paused_at IS NULL \
                   AND next_due_at = 'infinity'";
    // Held by the manual desk for review: judged at `instant` like a running clock, on
    // the index's last range ('infinity') like a stopped one.
    let in_review = "state = 'return_pending' AND paused_at IS NULL AND next_due_at = 'infinity'";
    // The CASE of SLA_STATE_SQL over the deadlines, at `at`.
    let judged = |at: &str| match state {
        SlaState::StatutoryOverdue => format!("statutory_due_at <= {at}"),
        SlaState::Overdue => {
            format!("committed_due_at <= {at} AND statutory_due_at > {at}")
        }
        SlaState::Warning => format!(
            "warning_due_at <= {at} AND committed_due_at > {at} AND statutory_due_at > {at}"
        ),
        SlaState::OnTrack => {
            format!("warning_due_at > {at} AND committed_due_at > {at} AND statutory_due_at > {at}")
        }
        SlaState::Paused | SlaState::Closed => unreachable!("no clock"),
    };
    match state {
        SlaState::Closed => {
            vec!["state IN ('closed', 'merged') AND next_due_at = 'infinity'".to_owned()]
        }
        SlaState::Paused => {
            vec!["state NOT IN ('closed', 'merged') AND paused_at IS NOT NULL".to_owned()]
        }
        SlaState::StatutoryOverdue | SlaState::Overdue => vec![
            format!(
                "{running} AND {} AND next_due_at <= {instant}",
                judged(instant)
            ),
            format!("{stopped} AND {}", judged("replied_at")),
            format!("{in_review} AND {}", judged(instant)),
        ],
        SlaState::Warning | SlaState::OnTrack => vec![
            format!("{running} AND {}", judged(instant)),
            format!("{stopped} AND {}", judged("replied_at")),
            format!("{in_review} AND {}", judged(instant)),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judged_at_now_the_instant_is_the_one_sla_at_sql() {
        assert_eq!(sla_at_sql("now()"), SLA_AT_SQL);
        assert!(sla_at_sql("$1").contains("ELSE $1 END AS sla_at"));
    }

    #[test]
    fn each_sla_state_is_ranges_on_the_deadlines_of_a_running_or_a_stopped_clock() {
        let running = "state IN ('dispatched', 'accepted') AND paused_at IS NULL";
        let stopped = "state = 'replied' AND replied_at IS NOT NULL AND paused_at IS NULL \
                       AND next_due_at = 'infinity'";
        let in_review =
            "state = 'return_pending' AND paused_at IS NULL AND next_due_at = 'infinity'";
        // (state, its alternatives judged at `$1`)
        let cases = [
            (
                SlaState::Closed,
                vec!["state IN ('closed', 'merged') AND next_due_at = 'infinity'".to_owned()],
            ),
            (
                SlaState::Paused,
                vec!["state NOT IN ('closed', 'merged') AND paused_at IS NOT NULL".to_owned()],
            ),
            (
                SlaState::StatutoryOverdue,
                vec![
                    format!("{running} AND statutory_due_at <= $1 AND next_due_at <= $1"),
                    format!("{stopped} AND statutory_due_at <= replied_at"),
                    format!("{in_review} AND statutory_due_at <= $1"),
                ],
            ),
            (
                SlaState::Overdue,
                vec![
                    format!(
                        "{running} AND committed_due_at <= $1 AND statutory_due_at > $1 \
                         AND next_due_at <= $1"
                    ),
                    format!(
                        "{stopped} AND committed_due_at <= replied_at \
                         AND statutory_due_at > replied_at"
                    ),
                    format!("{in_review} AND committed_due_at <= $1 AND statutory_due_at > $1"),
                ],
            ),
            (
                SlaState::Warning,
                vec![
                    format!(
                        "{running} AND warning_due_at <= $1 AND committed_due_at > $1 \
                         AND statutory_due_at > $1"
                    ),
                    format!(
                        "{stopped} AND warning_due_at <= replied_at \
                         AND committed_due_at > replied_at AND statutory_due_at > replied_at"
                    ),
                    format!(
                        "{in_review} AND warning_due_at <= $1 AND committed_due_at > $1 \
                         AND statutory_due_at > $1"
                    ),
                ],
            ),
            (
                SlaState::OnTrack,
                vec![
                    format!(
                        "{running} AND warning_due_at > $1 AND committed_due_at > $1 \
                         AND statutory_due_at > $1"
                    ),
                    format!(
                        "{stopped} AND warning_due_at > replied_at \
                         AND committed_due_at > replied_at AND statutory_due_at > replied_at"
                    ),
                    format!(
                        "{in_review} AND warning_due_at > $1 AND committed_due_at > $1 \
                         AND statutory_due_at > $1"
                    ),
                ],
            ),
        ];
        for (state, alternatives) in cases {
            assert_eq!(sla_state_predicates(state, "$1"), alternatives, "{state}");
        }
    }
}
