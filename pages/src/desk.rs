//! `/desk`, a department handler's workbench: the department's orders in tabs (to
//! accept, in progress, extension asked, replied and waiting for the callback, and those
//! it co-handles), the nearest deadline first with the working time left. The order page
//! the rows open is [`super::order`].

use super::{Frame, forbidden, new_event_id, render, words};
use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use hotline_core::config::Limit;
use hotline_core::rules::Rules;
use hotline_core::sla::Standing;
use hotline_http::api::Api;
use hotline_http::api::tokens::Role;
use hotline_http::session::Session;
use hotline_schema::values::{OrderState, UrgeLevel};
use hotline_store::read::{self, CoQueueRow, QueueFilter, QueueRow};
use serde::Deserialize;
use std::sync::Arc;

/// The workbench's tabs: key, label, and which orders.
const TABS: [(&str, &str); 5] = [
    ("to_accept", "待签收"),
    ("in_progress", "办理中"),
    ("extension", "延期申请中"),
    ("replied", "已答复待回访"),
    ("co", "协办"),
];

pub struct Tab {
    pub key: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// An order in a list, with its nearest deadline and how it stands.
pub struct ListedOrder {
    pub order_no: String,
    pub title: String,
    pub department: String,
    pub state: String,
    pub urgency: String,
    pub received_at: String,
    /// Which deadline: 签收 or 承诺办结.
    pub due_label: &'static str,
    pub due_at: String,
    /// `剩余 2小时15分` or `超时 1个工作日`.
    pub standing: String,
    pub over: bool,
    pub extension_requested_days: Option<i32>,
    /// 催办, 督办 or 挂牌督办; empty if never urged.
    pub urge_level: String,
    /// `协办 1/2 已答复` for the lead of a co-handled order; empty otherwise.
    pub co_progress: String,
    /// Event ids for the forms drawn on this row.
    pub event_id: String,
    pub second_event_id: String,
}

/// How a deadline stands, in words, on its limit's clock (working time for a working-day
/// limit, day and night for one on the clock).
pub fn standing_words(
    rules: &Rules,
    limit: Limit,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> (String, bool) {
    let day = rules.clock.calendar.working_day_length();
    let natural_day = std::time::Duration::from_secs(24 * 3600);
    let unit = match limit {
        Limit::WorkingDays(_) => day,
        Limit::Natural(_) => natural_day,
    };
    match rules.clock.standing(limit, due, now) {
        Standing::Left(span) => (format!("剩余 {}", words::working_span(span, unit)), false),
        Standing::Over(span) => (format!("超时 {}", words::working_span(span, unit)), true),
    }
}

/// A listed order's statutory limit as stored (a working day where it is missing, as for
/// orders stored before limits were).
fn statutory_limit(row: &QueueRow) -> Limit {
    row.statutory_limit
        .as_deref()
        .and_then(|l| Limit::parse(l).ok())
        .unwrap_or(Limit::WorkingDays(1))
}

pub fn listed(rules: &Rules, row: QueueRow, now: DateTime<Utc>) -> ListedOrder {
    let statutory = statutory_limit(&row);
    let urgency = hotline_schema::values::Urgency::parse(&row.urgency);
    // The deadline that matters now, on its own clock: signing for it until it is
    // accepted (never later than the committed deadline), then the committed one.
    let (due_label, due, limit) =
        if row.accepted_at.is_none() && row.state == OrderState::Dispatched {
            let sign = rules.sign_limit(
                row.matter_code.as_deref(),
                urgency.unwrap_or_default(),
                statutory,
            );
            ("签收", row.sign_due_at, sign)
        } else {
            ("承诺办结", row.committed_due_at, statutory)
        };
    let paused = row.paused_at.is_some();
    let (standing, over) = if paused {
        ("暂停计时".to_owned(), false)
    } else if row.state == OrderState::Replied {
        ("已答复".to_owned(), false)
    } else {
        standing_words(rules, limit, due, now)
    };
    ListedOrder {
        state: words::state(row.state).to_owned(),
        urgency: urgency.map_or(row.urgency.clone(), |u| words::urgency(u).to_owned()),
        received_at: words::when(row.received_at),
        due_at: words::when(due),
        order_no: row.order_no,
        title: row.title,
        department: row.department,
        due_label,
        standing,
        over,
        extension_requested_days: row.extension_requested_days,
        urge_level: row
            .urge_level
            .as_deref()
            .and_then(UrgeLevel::parse)
            .map_or_else(String::new, |l| words::urge_level(l).to_owned()),
        co_progress: co_progress(row.co_replied, row.co_total),
        event_id: new_event_id(),
        second_event_id: new_event_id(),
    }
}

/// Where the co-handlers of an order stand, as the lead's lists say it.
fn co_progress(replied: i32, total: i32) -> String {
    if total == 0 {
        return String::new();
    }
    format!("协办 {replied}/{total} 已答复")
}

/// An order the department co-handles (协办), as its tab lists it.
pub struct CoListed {
    pub order_no: String,
    pub title: String,
    /// The lead (主办) department.
    pub lead: String,
    pub state: String,
    /// Where this department's part stands: 待签收, 待协办答复, 已协办答复.
    pub part: &'static str,
    pub due_at: String,
    /// `剩余 …`, `超时 …`, `暂停计时` or, once co-replied, `已答复(按时)`.
    pub standing: String,
    pub over: bool,
}

fn co_listed(rules: &Rules, row: CoQueueRow, now: DateTime<Utc>) -> CoListed {
    let co = row.co_handler.0;
    let order = row.order;
    let part = match (co.accepted_at, co.replied_at) {
        (_, Some(_)) => "已协办答复",
        (None, None) => "待签收",
        (Some(_), None) => "待协办答复",
    };
    let (standing, over) = match (co.replied_at, co.on_time, order.paused_at) {
        (Some(_), Some(false), _) => ("已答复(逾期)".to_owned(), true),
        (Some(_), _, _) => ("已答复(按时)".to_owned(), false),
        (None, _, Some(_)) => ("暂停计时".to_owned(), false),
        (None, _, None) => standing_words(rules, statutory_limit(&order), co.co_reply_due_at, now),
    };
    CoListed {
        state: words::state(order.state).to_owned(),
        order_no: order.order_no,
        title: order.title,
        lead: order.department,
        part,
        due_at: words::when(co.co_reply_due_at),
        standing,
        over,
    }
}

#[derive(Template)]
#[template(path = "desk.html")]
struct DeskPage {
    page: Frame,
    department: String,
    tabs: Vec<Tab>,
    orders: Vec<ListedOrder>,
    /// The 协办 tab: the orders co-handled instead of `orders`.
    co_tab: bool,
    /// The 待签收 tab: its orders may be signed for together (批量签收).
    bulk_accept: bool,
    co_orders: Vec<CoListed>,
}

#[derive(Deserialize)]
pub struct DeskQuery {
    tab: Option<String>,
    done: Option<String>,
    /// After a bulk action: how many were done and how many not.
    n: Option<u32>,
    refused: Option<u32>,
}

/// `GET /desk?tab=`.
pub async fn page(
    State(api): State<Arc<Api>>,
    Extension(session): Extension<Session>,
    Query(query): Query<DeskQuery>,
) -> Response {
    let Role::Handler { department } = &session.caller.role else {
        return forbidden(&session, "承办工作台只对承办单位的人员开放。");
    };
    let tab = TABS
        .iter()
        .find(|(key, _)| Some(*key) == query.tab.as_deref())
        .map_or("to_accept", |(key, _)| key);
    let rules = api.rules();
    let (orders, co_orders) = if tab == "co" {
        let (rows, now) = match futures::try_join!(
            read::co_queue(&api.pool, department, 200),
            hotline_store::database_now(&api.pool)
        ) {
            Ok(found) => found,
            Err(err) => return super::unavailable(&err),
        };
        let co: Vec<CoListed> = rows
            .into_iter()
            .map(|r| co_listed(&rules, r, now))
            .collect();
        (Vec::new(), co)
    } else {
        let (states, extension_asked): (&[OrderState], Option<bool>) = match tab {
            "in_progress" => (&[OrderState::Accepted], Some(false)),
            "extension" => (&[OrderState::Accepted], Some(true)),
            "replied" => (&[OrderState::Replied], None),
            _ => (&[OrderState::Dispatched], None),
        };
        let filter = QueueFilter {
            department: Some(department),
            states,
            extension_asked,
            warned: false,
            limit: 200,
        };
        let (rows, now) = match futures::try_join!(
            read::queue(&api.pool, &filter),
            hotline_store::database_now(&api.pool)
        ) {
            Ok(found) => found,
            Err(err) => return super::unavailable(&err),
        };
        let listed: Vec<ListedOrder> = rows.into_iter().map(|r| listed(&rules, r, now)).collect();
        (listed, Vec::new())
    };
    let mut page = Frame::new(&session, "/desk");
    page.notice = super::notice(query.done.as_deref())
        .or_else(|| super::bulk::notice(query.done.as_deref(), query.n, query.refused));
    render(&DeskPage {
        page,
        department: department.clone(),
        tabs: TABS
            .iter()
            .map(|(key, label)| Tab {
                key,
                label,
                current: *key == tab,
            })
            .collect(),
        orders,
        co_tab: tab == "co",
        bulk_accept: tab == "to_accept",
        co_orders,
    })
}

/// One entry of the order's timeline, as the page shows it.
#[cfg(test)]
mod tests {
    use super::*;
    use hotline_core::config::Config;
    use hotline_core::order::CoHandler;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_lead_reads_how_many_co_handlers_have_replied() {
        for (replied, total, expect) in [
            (0, 0, ""),
            (0, 2, "协办 0/2 已答复"),
            (1, 2, "协办 1/2 已答复"),
            (2, 2, "协办 2/2 已答复"),
        ] {
            assert_eq!(co_progress(replied, total), expect);
        }
    }

    #[test]
    fn an_order_to_accept_shows_its_sign_deadline_on_the_sign_limits_own_clock() {
        let rules = Rules::new(&Config::test_catalog());
        // A five-working-day matter reported as an emergency at 22:00 on a Friday: signed
        // for within 15 minutes, day and night; at 22:05 ten minutes are left (on the
        // working clock there would be none until Monday).
        let received = at("2026-11-27T22:00:00+08:00");
        let row = |state: OrderState, accepted: bool| QueueRow {
            order_no: "PT1".into(),
            title: "燃气管道破裂".into(),
            department: "SCJGJ".into(),
            state,
            urgency: "emergency".into(),
            received_at: received,
            sign_due_at: at("2026-11-27T22:15:00+08:00"),
            committed_due_at: at("2026-12-02T12:00:00+08:00"),
            statutory_due_at: at("2026-12-09T10:00:00+08:00"),
            accepted_at: accepted.then_some(received),
            extension_requested_days: None,
            paused_at: None,
            statutory_limit: Some("5wd".into()),
            matter_code: Some("SC-0101".into()),
            urge_level: None,
            co_total: 0,
            co_replied: 0,
        };
        let now = at("2026-11-27T22:05:00+08:00");
        let to_accept = listed(&rules, row(OrderState::Dispatched, false), now);
        assert_eq!(
            (
                to_accept.due_label,
                to_accept.standing.as_str(),
                to_accept.over
            ),
            ("签收", "剩余 10分", false)
        );
        assert_eq!(
            to_accept.due_at,
            words::when(at("2026-11-27T22:15:00+08:00"))
        );
        let late = listed(
            &rules,
            row(OrderState::Dispatched, false),
            at("2026-11-27T22:45:00+08:00"),
        );
        assert_eq!((late.standing.as_str(), late.over), ("超时 30分", true));
        // Accepted: the committed deadline, on the working clock.
        let accepted = listed(&rules, row(OrderState::Accepted, true), now);
        assert_eq!(accepted.due_label, "承诺办结");
        assert!(!accepted.over && accepted.standing.starts_with("剩余 "));
    }

    fn row(co: CoHandler, paused: bool) -> CoQueueRow {
        let t = at("2026-11-25T14:30:00+08:00");
        CoQueueRow {
            order: QueueRow {
                order_no: "PT1".into(),
                title: "无证诊所".into(),
                department: "SCJGJ".into(),
                state: OrderState::Accepted,
                urgency: "normal".into(),
                received_at: t,
                sign_due_at: t,
                committed_due_at: t,
                statutory_due_at: t,
                accepted_at: Some(t),
                extension_requested_days: None,
                paused_at: paused.then_some(t),
                statutory_limit: Some("5wd".into()),
                matter_code: None,
                urge_level: None,
                co_total: 1,
                co_replied: 0,
            },
            co_handler: sqlx::types::Json(co),
        }
    }

    #[test]
    fn a_co_handled_order_says_where_the_co_handlers_part_stands() {
        let rules = Rules::new(&Config::test_catalog());
        let task = at("2026-11-25T14:30:00+08:00");
        let co = |accepted: bool, replied: Option<bool>| CoHandler {
            department: "YSBZX".into(),
            task_id: uuid::Uuid::nil(),
            dispatched_at: task,
            sign_due_at: at("2026-11-26T14:30:00+08:00"),
            co_reply_due_at: at("2026-11-27T08:30:00+08:00"),
            accepted_at: accepted.then_some(task),
            handler: None,
            replied_at: replied.map(|_| task),
            on_time: replied,
            revision: 1,
        };
        // Wednesday 15:30: 1 h of the 10.5 h used (Wed 14:30–17:30, Thu 7 h, Fri 0.5 h).
        let now = at("2026-11-25T15:30:00+08:00");
        // (accepted, co-replied on time?, paused) → (part, standing, over)
        let cases = [
            (
                (false, None, false),
                ("待签收", "剩余 1个工作日2小时", false),
            ),
            (
                (true, None, false),
                ("待协办答复", "剩余 1个工作日2小时", false),
            ),
            ((true, None, true), ("待协办答复", "暂停计时", false)),
            (
                (true, Some(true), false),
                ("已协办答复", "已答复(按时)", false),
            ),
            (
                (true, Some(false), false),
                ("已协办答复", "已答复(逾期)", true),
            ),
        ];
        for ((accepted, replied, paused), (part, standing, over)) in cases {
            let listed = co_listed(&rules, row(co(accepted, replied), paused), now);
            assert_eq!(
                (listed.part, listed.standing.as_str(), listed.over),
                (part, standing, over),
                "{accepted} {replied:?} {paused}"
            );
            assert_eq!(listed.lead, "SCJGJ");
            assert_eq!(listed.due_at, "2026-11-27 08:30");
        }
        let late = co_listed(
            &rules,
            row(co(true, None), false),
            at("2026-11-27T09:30:00+08:00"),
        );
        assert_eq!((late.standing.as_str(), late.over), ("超时 1小时", true));
    }
}
