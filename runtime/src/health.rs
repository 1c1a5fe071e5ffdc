//! How each role of this process is doing, for `/readyz`: whether it is running or being
//! started again after a failure, and when it last made progress. A role is not ready
//! while it restarts, or when work waits for it and it has made no progress for
//! [`STALL`]: alive but stuck is not ready.

use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// How long a role may make no progress while work waits before it counts as stalled.
pub const STALL: Duration = Duration::from_secs(60);

/// The roles that report, by name (`intake`, `relay`, `scheduler`, `periodic`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleState {
    /// Started or restarted, not yet past its first round.
    Starting,
    Running,
    /// The last attempt failed with this error; it is being started again.
    Restarting(String),
}

#[derive(Debug, Clone)]
struct Role {
    state: RoleState,
    last_progress: Instant,
    /// Pieces of work taken and not yet finished (an intake's batch in hand, its
    /// deliveries unacknowledged): work waits for the role even when its queue is empty.
    holding: usize,
}

/// What `/readyz` reports of one role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleReport {
    pub state: RoleState,
    /// Seconds since its last progress.
    pub idle_for: Duration,
    /// Whether it holds work taken and not finished ([`Holding`]).
    pub holding: bool,
}

static ROLES: LazyLock<Mutex<BTreeMap<&'static str, Role>>> =
    LazyLock::new(|| Mutex::new(BTreeMap::new()));

fn update(role: &'static str, change: impl FnOnce(&mut Role)) {
    let mut roles = ROLES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let entry = roles.entry(role).or_insert_with(|| Role {
        state: RoleState::Starting,
        last_progress: Instant::now(),
        holding: 0,
    });
    change(entry);
}

/// `role` is starting (again).
pub fn starting(role: &'static str) {
    update(role, |r| r.state = RoleState::Starting);
}

/// `role` finished a round of its work (a batch, a claim, a wait that timed out).
pub fn progress(role: &'static str) {
    update(role, |r| {
        r.state = RoleState::Running;
        r.last_progress = Instant::now();
    });
}

/// Work `role` has taken and not finished, for as long as this lives: an intake holds its
/// batch's deliveries unacknowledged, so the queue looks empty while the work waits. If
/// the role then makes no progress for [`STALL`], it is stuck with work in hand.
pub struct Holding(&'static str);

impl Holding {
    /// Taking work ends a wait, which is progress: a role idle for an hour that takes a
    /// batch is not stuck the moment it takes it.
    pub fn new(role: &'static str) -> Holding {
        update(role, |r| {
            if r.holding == 0 {
                r.last_progress = Instant::now();
            }
            r.holding += 1;
        });
        Holding(role)
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        update(self.0, |r| r.holding = r.holding.saturating_sub(1));
    }
}

/// `role` failed and is being started again.
pub fn failed(role: &'static str, error: &str) {
    let mut error = error.to_owned();
    error.truncate(error.floor_char_boundary(200));
    update(role, |r| r.state = RoleState::Restarting(error));
}

/// Every role of this process that has reported.
pub fn report() -> BTreeMap<&'static str, RoleReport> {
    let roles = ROLES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    roles
        .iter()
        .map(|(name, r)| {
            (
                *name,
                RoleReport {
                    state: r.state.clone(),
                    idle_for: r.last_progress.elapsed(),
                    holding: r.holding > 0,
                },
            )
        })
        .collect()
}

/// Whether a role is ready, given whether work waits for it (besides what it holds).
pub fn ready(report: &RoleReport, work_waiting: bool) -> bool {
    let work_waiting = work_waiting || report.holding;
    match report.state {
        RoleState::Restarting(_) => false,
        RoleState::Starting | RoleState::Running => !(work_waiting && report.idle_for > STALL),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_is_ready_unless_it_restarts_or_stalls_with_work_waiting() {
        let at = |state: RoleState, idle: u64| RoleReport {
            state,
            idle_for: Duration::from_secs(idle),
            holding: false,
        };
        let holding = |idle: u64| RoleReport {
            holding: true,
            ..at(RoleState::Running, idle)
        };
        // (report, work waiting, ready)
        let cases = [
            (at(RoleState::Running, 1), true, true),
            (at(RoleState::Running, 600), false, true),
            (at(RoleState::Running, 61), true, false),
            (at(RoleState::Starting, 61), true, false),
            (at(RoleState::Starting, 5), true, true),
            // Work in hand counts as work waiting, the queue empty or not.
            (holding(61), false, false),
            (holding(59), false, true),
            (
                at(RoleState::Restarting("broker gone".into()), 1),
                false,
                false,
            ),
        ];
        for (report, waiting, expected) in cases {
            assert_eq!(
                ready(&report, waiting),
                expected,
                "{report:?} waiting={waiting}"
            );
        }
    }
}
