//! A new work order: routed, clocked and dispatched — or merged into the open order of the
//! same matter, place and phone (重复件), or closed at once when answered on the call
//! (咨询即时办结).

use super::{Batch, MergeKey};
use crate::lifecycle::{DispatchPurpose, Effect, add_co_handlers};
use crate::observation::Observation;
use crate::order::{MatterRef, Order, Report};
use crate::routing::Route;
use crate::rules::Rules;
use crate::sla::Deadlines;
use chrono::{DateTime, Utc};
use hotline_schema::body::ComplaintReceived;
use hotline_schema::event::InboundEvent;
use hotline_schema::values::OrderState;
use serde_json::json;

/// Where a new report goes and by when.
#[derive(Debug, Clone)]
pub struct Placement {
    pub route: Route,
    pub deadlines: Deadlines,
}

/// Routes and clocks `report` under `rules` as of `now` (transfers in effect then).
pub fn place(rules: &Rules, report: &Report, now: DateTime<Utc>) -> Placement {
    let route = rules.router.route(report.case(), now);
    let sign_limit = rules.sign_limit(
        route.matter_code.as_deref(),
        report.urgency,
        route.statutory_limit,
    );
    let deadlines = rules
        .clock
        .deadlines(report.received_at, route.statutory_limit, sign_limit);
    Placement { route, deadlines }
}

/// The duplicate key of a new complaint received at `received_at`: the matter it is routed
/// to as of `now`, its place and its phone ([`Order::merge_key`] of the order
/// [`Batch::receive`] makes of it).
pub(super) fn merge_key(
    rules: &Rules,
    complaint: &ComplaintReceived,
    received_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<MergeKey> {
    let report = Report::of(complaint, received_at);
    let route = rules.router.route(report.case(), now);
    let matter = route.matter_code.filter(|_| route.matter_name.is_some());
    MergeKey::of(
        matter.as_deref(),
        report.address.as_deref(),
        report.citizen.phone.as_deref(),
    )
}

impl Batch<'_> {
    pub(super) fn receive(
        &mut self,
        event: &InboundEvent,
        complaint: &ComplaintReceived,
        received_at: DateTime<Utc>,
        consumed_at: DateTime<Utc>,
    ) -> Vec<Observation> {
        let report = Report::of(complaint, received_at);
        let Placement { route, deadlines } = place(self.rules, &report, self.now);
        let mut order = Order::new(
            event.envelope.order_no.as_str().to_owned(),
            report,
            route.statutory_limit,
            deadlines,
            route.department,
            route.rule,
        );
        order.matter = route
            .matter_code
            .zip(route.matter_name)
            .map(|(code, name)| MatterRef { code, name });
        order.rule_version = route.rule_version;
        order.calendar_version = Some(self.rules.calendar_version.clone());

        let key = MergeKey::of_order(&order);
        let first = key
            .as_ref()
            .and_then(|k| self.merge_targets.duplicate_of(k, received_at))
            .map(str::to_owned);
        let mut observations = Vec::new();
        let effect = if let Some(first) = first {
            // 重复件: linked to the first order; its department already has the task.
            order.state = OrderState::Merged;
            if let Some(target) = self.orders.get(&first) {
                order.department = target.department.clone();
            }
            order.rule = format!("duplicate-of:{first}");
            order.dispatch_count = 0;
            order.duplicate_of = Some(first.clone());
            json!({"merged_into": first})
        } else if let Some(answer) = complaint.answer.as_ref().filter(|a| a.resolved) {
            // Answered on the call: closed without a task.
            order.department = self.rules.router.manual_department().to_owned();
            order.rule = "answered-at-intake".into();
            order.dispatch_count = 0;
            order.state = OrderState::Closed;
            order.replied_at = Some(received_at);
            order.closed_at = Some(received_at);
            order.resolved = Some(true);
            order.on_time = Some(true);
            observations.push(Observation::Closed {
                department: order.department.clone(),
                on_time: true,
            });
            json!({"answered_at_intake": answer.reply})
        } else {
            if let Some(key) = key {
                self.merge_targets
                    .remember(key, &order.order_no, received_at);
            }
            order.dispatched_at = Some(self.now);
            // 协办: the matter's co-handling departments get their own tasks.
            let co = order
                .matter
                .as_ref()
                .and_then(|m| self.rules.co_departments.get(&m.code))
                .cloned()
                .unwrap_or_default();
            let co_effects = add_co_handlers(&mut order, &co, self.now, self.rules);
            self.dispatch(&order, DispatchPurpose::Handle, consumed_at);
            for effect in co_effects {
                if let Effect::CoDispatch { department } = effect {
                    self.out.co_dispatch(&order, &department, consumed_at);
                }
            }
            let mut effect = json!({"department": order.department, "rule": order.rule});
            if !order.co_handlers.is_empty() {
                effect["co_departments"] = json!(order.co_departments());
            }
            effect
        };
        self.out.record(event, received_at, None, effect);
        self.put(order);
        observations
    }
}
