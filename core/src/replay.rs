//! Deadlines replayed on a changed calendar. When next year's State Council notice is
//! added, or a day corrected, an open order's deadlines computed on the old calendar may
//! fall on what is now a holiday (or miss a make-up working day): each is moved so that
//! it keeps the working time it stood for, on the new calendar.
//!
//! A working-day deadline `D` stood for `old.working_time_between(received, D)` of working
//! time (the limit, any extension granted, any pause given back): the new deadline is the
//! instant that much working time after receipt on the new calendar. A natural-time
//! deadline does not depend on the calendar. A suspended order is left alone: its
//! deadlines are recomputed when it resumes, on the calendar of that day. A pause that
//! spans a changed day is counted on the old calendar (the notice came after it).

use crate::config::Limit;
use crate::order::Order;
use crate::sla::{Deadlines, SlaClock};
use chrono::{DateTime, NaiveDate, Utc};
use hotline_schema::values::OrderState;

/// What a calendar change does to one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recomputed {
    pub before: Deadlines,
    pub after: Deadlines,
    /// The days the two calendars disagree on between receipt and the later of the two
    /// statutory deadlines: why the deadlines moved.
    pub days: Vec<NaiveDate>,
}

/// Whether a calendar change can concern `order` at all: open and running.
pub fn replayable(order: &Order) -> bool {
    matches!(order.state, OrderState::Dispatched | OrderState::Accepted)
        && order.paused_at.is_none()
}

/// `order`'s deadlines on `new` instead of `old`, or `None` if none moves. The SLA
/// settings are `new`'s (the sign limit's kind); only the calendar differs.
pub fn recompute(old: &SlaClock, new: &SlaClock, order: &Order) -> Option<Recomputed> {
    if !replayable(order) {
        return None;
    }
    let received = order.report.received_at;
    let moved = |limit: Limit, deadline: DateTime<Utc>| match limit {
        Limit::WorkingDays(_) => {
            let stood_for = old.calendar.working_time_between(received, deadline);
            let candidate = new.calendar.add_working_time(received, stood_for);
            // The end of one period and the start of the next are the same point of
            // working time: a deadline only moves when working time lies between.
            let (a, b) = (deadline.min(candidate), deadline.max(candidate));
            let same_point = old.calendar.working_time_between(a, b).is_zero()
                && new.calendar.working_time_between(a, b).is_zero();
            if same_point { deadline } else { candidate }
        }
        Limit::Natural(_) => deadline,
    };
    let before = order.deadlines;
    let limit = order.statutory_limit;
    let after = Deadlines {
        statutory: moved(limit, before.statutory),
        committed: moved(limit, before.committed),
        warning: moved(limit, before.warning),
        sign: moved(new.settings.sign_limit, before.sign),
    };
    if after == before {
        return None;
    }
    let first = crate::calendar::business_date(received);
    let last = crate::calendar::business_date(before.statutory.max(after.statutory));
    Some(Recomputed {
        before,
        after,
        days: old.calendar.changed_days(&new.calendar, first, last),
    })
}

/// One order moved by a calendar change: what the store writes for it in one transaction.
#[derive(Clone)]
pub struct Replayed {
    /// The order with its new deadlines and the new calendar's version.
    pub order: Order,
    pub recomputed: Recomputed,
    /// The timeline entry `sla.recomputed`: old and new deadlines, and the days.
    pub detail: serde_json::Value,
    /// The holding department's task again, with the new deadlines, the next revision
    /// and `reason: "calendar"` (when the order has a task).
    pub task: Option<crate::outbox::OutboxMessage>,
    pub revision: u32,
}

/// The timeline's type for a replay: not an inbound event, the engine's own entry.
pub const RECOMPUTED: &str = "sla.recomputed";

/// What a calendar change does to `order` (whose current task is `task`: its id and
/// revision), or `None` if it moves no deadline.
pub fn replay(
    old: &SlaClock,
    new: &SlaClock,
    new_version: &str,
    mut order: Order,
    task: Option<(uuid::Uuid, u32)>,
    now: DateTime<Utc>,
) -> Option<Replayed> {
    let recomputed = recompute(old, new, &order)?;
    order.deadlines = recomputed.after;
    order.calendar_version = Some(new_version.to_owned());
    let time = crate::calendar::business_time;
    let deadlines = |d: &Deadlines| {
        serde_json::json!({
            "sign_due_at": time(d.sign),
            "warning_due_at": time(d.warning),
            "committed_due_at": time(d.committed),
            "statutory_due_at": time(d.statutory),
        })
    };
    let detail = serde_json::json!({
        "reason": "calendar",
        "calendar_version": new_version,
        "before": deadlines(&recomputed.before),
        "after": deadlines(&recomputed.after),
        "days": recomputed.days.iter().map(ToString::to_string).collect::<Vec<_>>(),
    });
    let revision = task.map_or(1, |(_, r)| r + 1);
    let message = task.map(|(task_id, _)| {
        let mut task = order.task(task_id);
        task.revision = revision;
        task.reason = Some("calendar".into());
        task.provisional = crate::explain::provisional(new, order.deadlines.statutory);
        crate::outbox::OutboxMessage::task(&task, now)
    });
    Some(Replayed {
        order,
        recomputed,
        detail,
        task: message,
        revision,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{BusinessCalendar, SpecialDay};
    use crate::config::Config;
    use crate::order::Report;
    use chrono::TimeDelta;
    use hotline_schema::values::{Channel, Citizen, RequestKind, Urgency};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn clock_with(calendar: BusinessCalendar) -> SlaClock {
        let mut clock = SlaClock::from_config(&Config::builtin());
        clock.calendar = calendar;
        clock
    }

    fn order(received: DateTime<Utc>, limit: Limit, clock: &SlaClock, state: OrderState) -> Order {
        let report = Report {
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
            received_at: received,
        };
        let mut order = Order::new(
            "PT1".into(),
            report,
            limit,
            clock.deadlines(received, limit),
            "SCJGJ".into(),
            "r".into(),
        );
        order.state = state;
        order
    }

    /// A made-up January 2027 notice: New Year's Day and the Monday after off, the
    /// Saturday after worked.
    fn notice() -> BusinessCalendar {
        BusinessCalendar::builder()
            .special_days([
                SpecialDay::off(date(2027, 1, 1), "元旦"),
                SpecialDay::off(date(2027, 1, 4), "元旦"),
                SpecialDay::working(date(2027, 1, 9), "元旦"),
            ])
            .build()
            .unwrap()
    }

    #[test]
    fn a_new_notice_moves_the_deadlines_that_cross_it_by_the_working_time_it_changes() {
        let old = clock_with(BusinessCalendar::china_default());
        let new = clock_with(notice());
        // Thursday 2026-12-24 10:00 + 15 working days of 7 hours (105 h). On the old
        // calendar January has plain weekdays: Dec 24 (5 h left), 25, 28–31 (40 h), Jan 1
        // (47), 4–8 (82), 11–13 (103), and 2 h of Jan 14: 2027-01-14 10:00. The notice
        // takes two weekdays (Jan 1, 4) and gives a Saturday (Jan 9): one working day
        // later, Jan 15 10:00.
        let o = order(
            at("2026-12-24T10:00:00+08:00"),
            Limit::WorkingDays(15),
            &old,
            OrderState::Accepted,
        );
        assert_eq!(o.deadlines.statutory, at("2027-01-14T10:00:00+08:00"));
        let r = recompute(&old, &new, &o).expect("the statutory deadline moves");
        assert_eq!(r.after.statutory, at("2027-01-15T10:00:00+08:00"));
        assert_eq!(
            new.calendar
                .working_time_between(o.report.received_at, r.after.statutory),
            old.calendar
                .working_time_between(o.report.received_at, o.deadlines.statutory),
            "the same working time on the new calendar"
        );
        // The committed deadline (7.5 working days, 52.5 h: 47 h by Jan 1, then 5.5 h of
        // Jan 4, 16:00) loses Jan 1 and 4 before it: Jan 5 (47 h), Jan 6 16:00.
        assert_eq!(o.deadlines.committed, at("2027-01-04T16:00:00+08:00"));
        assert_eq!(r.after.committed, at("2027-01-06T16:00:00+08:00"));
        // The sign deadline (1 working day, Dec 25) does not cross the notice.
        assert_eq!(r.after.sign, o.deadlines.sign);
        assert_eq!(
            r.days,
            [date(2027, 1, 1), date(2027, 1, 4), date(2027, 1, 9)]
        );
    }

    #[test]
    fn orders_the_change_cannot_concern_are_left_alone() {
        let old = clock_with(BusinessCalendar::china_default());
        let new = clock_with(notice());
        let received = at("2026-12-24T10:00:00+08:00");
        // (order, recomputed?)
        let natural = order(
            received,
            Limit::Natural(std::time::Duration::from_secs(4 * 3600)),
            &old,
            OrderState::Dispatched,
        );
        let cases = [
            (
                order(received, Limit::WorkingDays(15), &old, OrderState::Replied),
                false,
            ),
            (
                order(received, Limit::WorkingDays(15), &old, OrderState::Closed),
                false,
            ),
            (
                order(
                    received,
                    Limit::WorkingDays(15),
                    &old,
                    OrderState::Suspended,
                ),
                false,
            ),
            (
                order(
                    at("2026-12-01T10:00:00+08:00"),
                    Limit::WorkingDays(5),
                    &old,
                    OrderState::Accepted,
                ),
                false,
            ),
            (natural, false),
            (
                order(
                    received,
                    Limit::WorkingDays(15),
                    &old,
                    OrderState::Dispatched,
                ),
                true,
            ),
        ];
        for (o, moved) in cases {
            assert_eq!(
                recompute(&old, &new, &o).is_some(),
                moved,
                "{:?} {}",
                o.state,
                o.statutory_limit
            );
        }
    }

    #[test]
    fn a_replayed_order_carries_its_revised_task_and_timeline_entry() {
        let old = clock_with(BusinessCalendar::china_default());
        let new = clock_with(notice());
        let o = order(
            at("2026-12-24T10:00:00+08:00"),
            Limit::WorkingDays(15),
            &old,
            OrderState::Dispatched,
        );
        let task_id = uuid::Uuid::new_v4();
        let r = replay(
            &old,
            &new,
            "v2",
            o,
            Some((task_id, 1)),
            at("2026-12-24T11:00:00+08:00"),
        )
        .unwrap();
        assert_eq!(r.order.calendar_version.as_deref(), Some("v2"));
        assert_eq!(r.order.deadlines.statutory, at("2027-01-15T10:00:00+08:00"));
        assert_eq!(r.revision, 2);
        let message = r.task.unwrap();
        assert_eq!(message.message_id, format!("{task_id}/r2"));
        let body: serde_json::Value = serde_json::from_slice(&message.body).unwrap();
        assert_eq!(body["task_id"], task_id.to_string());
        assert_eq!(body["revision"], 2);
        assert_eq!(body["reason"], "calendar");
        assert_eq!(body["statutory_due_at"], "2027-01-15T10:00:00+08:00");
        assert_eq!(body["provisional"], false, "the notice covers 2027 now");
        assert_eq!(
            r.detail["before"]["statutory_due_at"],
            "2027-01-14T10:00:00+08:00"
        );
        assert_eq!(
            r.detail["after"]["statutory_due_at"],
            "2027-01-15T10:00:00+08:00"
        );
        assert_eq!(
            r.detail["days"],
            serde_json::json!(["2027-01-01", "2027-01-04", "2027-01-09"])
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

            /// A replay on an unchanged calendar changes nothing, whatever extensions and
            /// pauses moved the deadlines before.
            #[test]
            fn an_unchanged_calendar_moves_nothing(
                start in 0i64..(6 * 365 * 24 * 3600),
                days in 1u32..40,
                extension in 0u32..10,
                pause_at in 0i64..(10 * 24 * 3600),
                pause_for in 0i64..(20 * 24 * 3600),
            ) {
                let clock = clock_with(BusinessCalendar::china_default());
                let received = at("2019-02-01T00:00:00+08:00") + TimeDelta::seconds(start);
                let mut o = order(received, Limit::WorkingDays(days), &clock, OrderState::Accepted);
                if extension > 0 {
                    let d = &mut o.deadlines;
                    d.statutory = clock.extend(o.statutory_limit, d.statutory, extension);
                    d.committed = clock.extend(o.statutory_limit, d.committed, extension);
                }
                let paused = received + TimeDelta::seconds(pause_at);
                let resumed = paused + TimeDelta::seconds(pause_for);
                for d in [&mut o.deadlines.statutory, &mut o.deadlines.committed, &mut o.deadlines.warning] {
                    *d = clock.resume(o.statutory_limit, *d, paused, resumed);
                }
                prop_assert_eq!(recompute(&clock, &clock, &o), None);
            }
        }
    }
}
