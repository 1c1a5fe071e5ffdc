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
    /// The co-handlers (协办) whose deadlines moved, in the order's order.
    pub co_handlers: Vec<CoMoved>,
}

/// A co-handler's deadlines before and after a calendar change: the co-reply deadline
/// while it owes its co-reply, the sign deadline while it has not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoMoved {
    pub department: String,
    pub sign_due_at: (DateTime<Utc>, DateTime<Utc>),
    pub co_reply_due_at: (DateTime<Utc>, DateTime<Utc>),
}

/// Whether a calendar change can concern `order` at all: open and running.
pub fn replayable(order: &Order) -> bool {
    matches!(order.state, OrderState::Dispatched | OrderState::Accepted)
        && order.paused_at.is_none()
}

/// `order`'s deadlines on `new` instead of `old`, or `None` if none moves. `sign_limit`
/// is the order's (`Rules::sign_limit_of`), whose clock its sign deadlines run on; only
/// the calendar differs.
pub fn recompute(
    old: &SlaClock,
    new: &SlaClock,
    sign_limit: Limit,
    order: &Order,
) -> Option<Recomputed> {
    if !replayable(order) {
        return None;
    }
    let received = order.report.received_at;
    let moved_from = |from: DateTime<Utc>, limit: Limit, deadline: DateTime<Utc>| match limit {
        Limit::WorkingDays(_) => {
            let stood_for = old.calendar.working_time_between(from, deadline);
            let candidate = new.calendar.add_working_time(from, stood_for);
            // The end of one period and the start of the next are the same point of
            // working time: a deadline only moves when working time lies between.
            let (a, b) = (deadline.min(candidate), deadline.max(candidate));
            let same_point = old.calendar.working_time_between(a, b).is_zero()
                && new.calendar.working_time_between(a, b).is_zero();
            if same_point { deadline } else { candidate }
        }
        Limit::Natural(_) => deadline,
    };
    let moved = |limit: Limit, deadline: DateTime<Utc>| moved_from(received, limit, deadline);
    let before = order.deadlines;
    let limit = order.statutory_limit;
    let committed = moved(limit, before.committed);
    let after = Deadlines {
        statutory: moved(limit, before.statutory),
        committed,
        warning: moved(limit, before.warning),
        sign: moved(sign_limit, before.sign).min(committed),
    };
    // A co-handler's deadlines stand for working time after its task (the co-reply one
    // never later than the committed deadline); what it is done with stays.
    let co_handlers: Vec<CoMoved> = order
        .co_handlers
        .iter()
        .filter_map(|c| {
            let sign = if c.accepted_at.is_none() {
                moved_from(c.dispatched_at, sign_limit, c.sign_due_at)
            } else {
                c.sign_due_at
            };
            let co_reply = if c.replied_at.is_none() {
                moved_from(c.dispatched_at, limit, c.co_reply_due_at).min(after.committed)
            } else {
                c.co_reply_due_at
            };
            let sign = if c.accepted_at.is_none() {
                sign.min(co_reply)
            } else {
                sign
            };
            (sign != c.sign_due_at || co_reply != c.co_reply_due_at).then(|| CoMoved {
                department: c.department.clone(),
                sign_due_at: (c.sign_due_at, sign),
                co_reply_due_at: (c.co_reply_due_at, co_reply),
            })
        })
        .collect();
    if after == before && co_handlers.is_empty() {
        return None;
    }
    let first = crate::calendar::business_date(received);
    let last = crate::calendar::business_date(before.statutory.max(after.statutory));
    Some(Recomputed {
        before,
        after,
        days: old.calendar.changed_days(&new.calendar, first, last),
        co_handlers,
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
    /// The task of each co-handler whose deadlines moved and that still owes its
    /// co-reply, again: its own next revision, `reason: "calendar"`.
    pub co_tasks: Vec<crate::outbox::OutboxMessage>,
}

/// The timeline's type for a replay: not an inbound event, the engine's own entry.
pub const RECOMPUTED: &str = "sla.recomputed";

/// What a calendar change does to `order` (whose current task is `task`: its id and
/// revision), or `None` if it moves no deadline.
pub fn replay(
    old: &SlaClock,
    new: &SlaClock,
    sign_limit: Limit,
    new_version: &str,
    mut order: Order,
    task: Option<(uuid::Uuid, u32)>,
    now: DateTime<Utc>,
) -> Option<Replayed> {
    let recomputed = recompute(old, new, sign_limit, &order)?;
    order.deadlines = recomputed.after;
    let mut revised = Vec::new();
    for m in &recomputed.co_handlers {
        if let Some(c) = order
            .co_handlers
            .iter_mut()
            .find(|c| c.department == m.department)
        {
            c.sign_due_at = m.sign_due_at.1;
            c.co_reply_due_at = m.co_reply_due_at.1;
            if c.replied_at.is_none() {
                c.revision += 1;
                revised.push(c.department.clone());
            }
        }
    }
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
    let mut detail = serde_json::json!({
        "reason": "calendar",
        "calendar_version": new_version,
        "before": deadlines(&recomputed.before),
        "after": deadlines(&recomputed.after),
        "days": recomputed.days.iter().map(ToString::to_string).collect::<Vec<_>>(),
    });
    if !recomputed.co_handlers.is_empty() {
        detail["co_handlers"] = recomputed
            .co_handlers
            .iter()
            .map(|m| {
                serde_json::json!({
                    "department": m.department,
                    "before": {"sign_due_at": time(m.sign_due_at.0), "co_reply_due_at": time(m.co_reply_due_at.0)},
                    "after": {"sign_due_at": time(m.sign_due_at.1), "co_reply_due_at": time(m.co_reply_due_at.1)},
                })
            })
            .collect();
    }
    let revision = task.map_or(1, |(_, r)| r + 1);
    let message = task.map(|(task_id, _)| {
        let mut task = order.task(task_id);
        task.revision = revision;
        task.reason = Some("calendar".into());
        task.provisional = crate::explain::provisional(new, order.deadlines.statutory);
        crate::outbox::OutboxMessage::task(&task, now)
    });
    let provisional = crate::explain::provisional(new, order.deadlines.statutory);
    let co_tasks = order
        .co_handlers
        .iter()
        .filter(|c| revised.contains(&c.department))
        .map(|c| {
            let mut task = order.co_task(c);
            task.reason = Some("calendar".into());
            task.provisional = provisional;
            crate::outbox::OutboxMessage::task(&task, now)
        })
        .collect();
    Some(Replayed {
        order,
        recomputed,
        detail,
        task: message,
        revision,
        co_tasks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{BusinessCalendar, SpecialDay};
    use crate::config::Config;
    use crate::order::Report;
    use chrono::TimeDelta;

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
        let report = Report::example(received);
        let mut order = Order::new(
            "PT1".into(),
            report,
            limit,
            clock.deadlines(received, limit, clock.settings.sign_limit),
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
        let r = recompute(&old, &new, new.settings.sign_limit, &o)
            .expect("the statutory deadline moves");
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
    fn a_co_handlers_open_deadlines_move_with_the_calendar_and_its_finished_ones_stay() {
        let old = clock_with(BusinessCalendar::china_default());
        let new = clock_with(notice());
        let mut o = order(
            at("2026-12-24T10:00:00+08:00"),
            Limit::WorkingDays(15),
            &old,
            OrderState::Accepted,
        );
        let task = at("2026-12-24T10:00:00+08:00");
        // Committed: Jan 4 16:00 on the old calendar, Jan 6 16:00 on the new (above).
        // ZFYJJ's co-reply deadline, Dec 30 15:00, is before the notice: it stays.
        // YSBZX's, Jan 4 10:00, stood for 49 h after its task (Dec 24 5 h, Dec 25–31
        // 40 h, Jan 1 7 h, Jan 4 2 h); with Jan 1 and 4 off: Jan 5 (47 h), Jan 6 10:00.
        // JTJ co-replied: its deadline is history.
        let co = |department: &str, due: &str, replied: bool| crate::order::CoHandler {
            department: department.into(),
            task_id: uuid::Uuid::nil(),
            dispatched_at: task,
            sign_due_at: at("2026-12-25T10:00:00+08:00"),
            co_reply_due_at: at(due),
            accepted_at: Some(task),
            handler: None,
            replied_at: replied.then_some(task),
            on_time: replied.then_some(true),
            revision: 1,
        };
        o.co_handlers = vec![
            co("ZFYJJ", "2026-12-30T15:00:00+08:00", false),
            co("YSBZX", "2027-01-04T10:00:00+08:00", false),
            co("JTJ", "2027-01-04T10:00:00+08:00", true),
        ];
        let r = replay(&old, &new, new.settings.sign_limit, "v2", o, None, task).unwrap();
        assert_eq!(
            r.recomputed.co_handlers,
            [CoMoved {
                department: "YSBZX".into(),
                sign_due_at: (
                    at("2026-12-25T10:00:00+08:00"),
                    at("2026-12-25T10:00:00+08:00")
                ),
                co_reply_due_at: (
                    at("2027-01-04T10:00:00+08:00"),
                    at("2027-01-06T10:00:00+08:00")
                ),
            }],
            "ZFYJJ's deadline is before the notice; JTJ co-replied"
        );
        let due: Vec<_> = r
            .order
            .co_handlers
            .iter()
            .map(|c| c.co_reply_due_at)
            .collect();
        assert_eq!(
            due,
            [
                at("2026-12-30T15:00:00+08:00"),
                at("2027-01-06T10:00:00+08:00"),
                at("2027-01-04T10:00:00+08:00"),
            ]
        );
        assert_eq!(r.detail["co_handlers"][0]["department"], "YSBZX");
        // YSBZX's task again, its own second revision; ZFYJJ's and JTJ's not.
        assert_eq!(r.co_tasks.len(), 1);
        let co_task = &r.co_tasks[0];
        assert_eq!(co_task.routing_key, "YSBZX");
        assert_eq!(co_task.message_id, format!("{}/r2", uuid::Uuid::nil()));
        let body: serde_json::Value = serde_json::from_slice(&co_task.body).unwrap();
        assert_eq!(
            (&body["role"], &body["reason"], &body["revision"]),
            (
                &serde_json::json!("co"),
                &serde_json::json!("calendar"),
                &serde_json::json!(2)
            )
        );
        assert_eq!(body["co_reply_due_at"], "2027-01-06T10:00:00+08:00");
        assert_eq!(r.order.co_handlers[1].revision, 2);
        assert_eq!(
            r.detail["co_handlers"][0]["after"]["co_reply_due_at"],
            "2027-01-06T10:00:00+08:00"
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
                recompute(&old, &new, new.settings.sign_limit, &o).is_some(),
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
        let task_id = uuid::Uuid::now_v7();
        let r = replay(
            &old,
            &new,
            new.settings.sign_limit,
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
                prop_assert_eq!(recompute(&clock, &clock, clock.settings.sign_limit, &o), None);
            }
        }
    }
}
