//! `/desk`, a department handler's workbench: the department's orders in tabs (to
//! accept, in progress, extension asked, replied and waiting for the callback), the
//! nearest deadline first with the working time left; and the order page (also at
//! `/orders/{order_no}` for operators and supervisors) with the timeline, the dispatch
//! history, why the deadline is what it is, and the actions of whoever is looking.

use super::{
    ActionResult, Done, Frame, act, csrf_refusal, envelope, forbidden, new_event_id, render, words,
};
use crate::http::api::Api;
use crate::http::api::orders::CitizenView;
use crate::http::api::tokens::Role;
use crate::http::session::Session;
use askama::Template;
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use hotline_core::config::Limit;
use hotline_core::privacy::Purpose;
use hotline_core::rules::Rules;
use hotline_core::sla::Standing;
use hotline_schema::values::{OrderState, SlaState};
use hotline_store::read::{self, QueueFilter, QueueRow};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// The workbench's tabs: key, label, and which orders.
const TABS: [(&str, &str); 4] = [
    ("to_accept", "待签收"),
    ("in_progress", "办理中"),
    ("extension", "延期申请中"),
    ("replied", "已答复待回访"),
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
    /// Event ids for the forms drawn on this row.
    pub event_id: String,
    pub second_event_id: String,
}

/// How a deadline stands, in words, on its limit's clock.
pub fn standing_words(
    rules: &Rules,
    limit: Option<&str>,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> (String, bool) {
    let limit = limit
        .and_then(|l| Limit::parse(l).ok())
        .unwrap_or(Limit::WorkingDays(1));
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

pub fn listed(rules: &Rules, row: QueueRow, now: DateTime<Utc>) -> ListedOrder {
    let (due_label, due) = if row.accepted_at.is_none() && row.state == "dispatched" {
        ("签收", row.sign_due_at)
    } else {
        ("承诺办结", row.committed_due_at)
    };
    let paused = row.paused_at.is_some();
    let (standing, over) = if paused {
        ("暂停计时".to_owned(), false)
    } else if row.state == "replied" {
        ("已答复".to_owned(), false)
    } else {
        standing_words(rules, row.statutory_limit.as_deref(), due, now)
    };
    ListedOrder {
        state: OrderState::parse(&row.state)
            .map_or(row.state.clone(), |s| words::state(s).to_owned()),
        urgency: hotline_schema::values::Urgency::parse(&row.urgency)
            .map_or(row.urgency.clone(), |u| words::urgency(u).to_owned()),
        received_at: words::when(row.received_at),
        due_at: words::when(due),
        order_no: row.order_no,
        title: row.title,
        department: row.department,
        due_label,
        standing,
        over,
        extension_requested_days: row.extension_requested_days,
        event_id: new_event_id(),
        second_event_id: new_event_id(),
    }
}

#[derive(Template)]
#[template(path = "desk.html")]
struct DeskPage {
    page: Frame,
    department: String,
    tabs: Vec<Tab>,
    orders: Vec<ListedOrder>,
}

#[derive(Deserialize)]
pub struct DeskQuery {
    tab: Option<String>,
    done: Option<String>,
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
    let (states, extension_asked): (&[&str], Option<bool>) = match tab {
        "in_progress" => (&["accepted"], Some(false)),
        "extension" => (&["accepted"], Some(true)),
        "replied" => (&["replied"], None),
        _ => (&["dispatched"], None),
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
    let rules = api.submitter.rules.current();
    let mut page = Frame::new(&session, "/desk");
    page.notice = super::notice(query.done.as_deref());
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
        orders: rows.into_iter().map(|r| listed(&rules, r, now)).collect(),
    })
}

/// One entry of the order's timeline, as the page shows it.
pub struct TimelineItem {
    pub event_type: String,
    pub actor: String,
    pub recorded_at: String,
    pub detail: String,
}

pub struct DispatchItem {
    pub dispatch_no: i32,
    pub department: String,
    pub rule: String,
    pub dispatched_at: String,
    pub returned: String,
}

#[derive(Template)]
#[template(path = "order.html")]
struct OrderPage {
    page: Frame,
    order_no: String,
    title: String,
    content: String,
    facts: Vec<(&'static str, String)>,
    citizen: String,
    why: Vec<String>,
    timeline: Vec<TimelineItem>,
    dispatches: Vec<DispatchItem>,
    /// The handler of the holding department may act, and on what.
    handler_actions: Vec<&'static str>,
    supervisor_actions: Vec<&'static str>,
    event_ids: Vec<String>,
    extension_requested_days: Option<u32>,
}

/// Why the deadlines are what they are, from the order and the rules in force.
fn why_deadlines(rules: &Rules, snapshot: &read::OrderSnapshot) -> Vec<String> {
    let order = &snapshot.order;
    let settings = &rules.clock.settings;
    let limit = order.statutory_limit;
    let mut why = vec![
        format!(
            "受理时间 {}:各项时限从此刻起算。",
            words::when(order.report.received_at)
        ),
        match limit {
            Limit::WorkingDays(days) => format!(
                "法定时限 {days} 个工作日(只计工作时间,周末和法定节假日不计,调休上班日照常计算),至 {}。",
                words::when(order.deadlines.statutory)
            ),
            Limit::Natural(_) => format!(
                "法定时限 {limit}(自然时间,昼夜连续计算),至 {}。",
                words::when(order.deadlines.statutory)
            ),
        },
        format!(
            "承诺办结时限为法定时限的 {:.0}%,至 {};用去其中 {:.0}% 时预警({})。",
            settings.commitment_ratio * 100.0,
            words::when(order.deadlines.committed),
            settings.warning_ratio * 100.0,
            words::when(order.deadlines.warning)
        ),
        format!(
            "签收时限 {},至 {}。",
            settings.sign_limit,
            words::when(order.deadlines.sign)
        ),
    ];
    match &order.matter {
        Some(m) => why.push(format!("事项 {} {}:法定时限取自事项目录。", m.code, m.name)),
        None => why.push("未识别为目录中的事项:按诉求类型的默认法定时限。".into()),
    }
    if order.extension_days > 0 {
        why.push(format!(
            "经批准延期 {} 个工作日,承诺和法定时限均已顺延。",
            order.extension_days
        ));
    }
    if let Some(paused) = order.paused_at {
        why.push(format!(
            "自 {} 起挂起:计时暂停,恢复后按剩余时间继续。",
            words::when(paused)
        ));
    }
    // The same explanation as the API's `sla`: the clock as it ran, the days that moved it.
    let explained = crate::http::api::sla::explanation(&rules.clock, snapshot);
    why.push(format!(
        "截至 {} 已用工作时间 {}。",
        words::when(explained.until),
        words::working_span(explained.used, rules.clock.calendar.working_day_length())
    ));
    if !explained.moving_days.is_empty() {
        why.push(format!(
            "影响时限的放假与调休:{}。",
            explained.moving_days.join(";")
        ));
    }
    if explained.provisional {
        why.push(format!(
            "暂定:法定办结时限晚于日历已公布的最后一天({}),按普通周末规则计算;公布该年放假安排后将自动重算。",
            rules
                .clock
                .calendar
                .covered_until()
                .map_or("无".to_owned(), |d| d.to_string())
        ));
    }
    why
}

/// `GET /desk/orders/{order_no}` and `GET /orders/{order_no}`.
pub async fn order_page(
    State(api): State<Arc<Api>>,
    Extension(session): Extension<Session>,
    Path(order_no): Path<String>,
    Query(done): Query<Done>,
) -> Response {
    order_view(
        &api,
        &session,
        &order_no,
        super::notice(done.done.as_deref()),
        None,
    )
    .await
}

async fn order_view(
    api: &Api,
    session: &Session,
    order_no: &str,
    notice: Option<String>,
    problem: Option<String>,
) -> Response {
    let snapshot = match read::order_snapshot(&api.pool, order_no).await {
        Ok(snapshot) => snapshot,
        Err(err) => return super::unavailable(&err),
    };
    let visible = snapshot.filter(|s| match &session.caller.role {
        Role::Handler { department } => *department == s.order.department,
        Role::Operator | Role::Supervisor => true,
    });
    let Some(snapshot) = visible else {
        let mut page = Frame::new(session, "");
        page.problem = Some(format!("没有工单 {order_no},或它不由本单位办理。"));
        return (StatusCode::NOT_FOUND, render(&NotFound { page })).into_response();
    };
    let rules = api.submitter.rules.current();
    let order = &snapshot.order;
    let holds = matches!(&session.caller.role, Role::Handler { department } if *department == order.department);
    let handler_actions = match (holds, order.state) {
        (true, OrderState::Dispatched) => vec!["accept", "return"],
        (true, OrderState::Accepted) if order.extension_requested_days.is_none() => {
            vec!["reply", "extension", "return"]
        }
        (true, OrderState::Accepted) => vec!["reply", "return"],
        _ => vec![],
    };
    let supervisor_actions = match (&session.caller.role, order.state) {
        (Role::Supervisor, OrderState::Dispatched | OrderState::Accepted) => {
            let mut actions = vec!["urge", "suspend"];
            if order.extension_requested_days.is_some() {
                actions.push("decide");
            }
            actions
        }
        (Role::Supervisor, OrderState::Suspended) => vec!["resume"],
        _ => vec![],
    };
    let sla = snapshot.sla_state;
    let (standing, _) = standing_words(
        &rules,
        Some(&order.statutory_limit.to_string()),
        if order.accepted_at.is_none() {
            order.deadlines.sign
        } else {
            order.deadlines.committed
        },
        snapshot.as_of,
    );
    let mut facts = vec![
        ("工单状态", words::state(order.state).to_owned()),
        ("时限状态", words::sla_state(sla).to_owned()),
        ("承办单位", order.department.clone()),
        ("分派依据", order.rule.clone()),
        ("诉求类型", words::kind(order.report.kind).to_owned()),
        ("紧急程度", words::urgency(order.report.urgency).to_owned()),
        ("受理时间", words::when(order.report.received_at)),
        ("承诺办结", words::when(order.deadlines.committed)),
        ("法定办结", words::when(order.deadlines.statutory)),
    ];
    if !matches!(sla, SlaState::Closed | SlaState::Paused) && order.state != OrderState::Replied {
        facts.push(("当前期限", standing));
    }
    if let Some(district) = &order.report.district {
        facts.push(("区县", district.clone()));
    }
    if let Some(address) = &order.report.address {
        facts.push(("地址", address.clone()));
    }
    // The same rule as the API's order view: masked (张*, 138****5678) unless the reader
    // may see the citizen in full.
    let shown = CitizenView::of(
        &order.report.citizen,
        &session.caller.role,
        &order.department,
        order.report.confidential,
        Purpose::View,
    );
    let citizen = match (&shown.name, &shown.phone) {
        (None, None) => "(未留)".to_owned(),
        (name, phone) => format!(
            "{} {}{}",
            name.as_deref().unwrap_or(""),
            phone.as_deref().unwrap_or(""),
            if shown.masked { "(已脱敏)" } else { "" }
        ),
    };
    if order.report.confidential {
        facts.push(("保密件", "是:市民信息仅承办单位可见".to_owned()));
    }
    let mut page = Frame::new(session, "");
    page.notice = notice;
    page.problem = problem;
    render(&OrderPage {
        page,
        order_no: order.order_no.clone(),
        title: order.report.title.clone(),
        content: order.report.content.clone(),
        facts,
        citizen,
        why: why_deadlines(&rules, &snapshot),
        timeline: snapshot
            .timeline
            .iter()
            .map(|e| TimelineItem {
                event_type: e.event_type.clone(),
                actor: e.actor.clone().unwrap_or_else(|| "—".into()),
                recorded_at: words::when(e.recorded_at),
                detail: summary_of(&e.detail),
            })
            .collect(),
        dispatches: snapshot
            .dispatches
            .iter()
            .map(|d| DispatchItem {
                dispatch_no: d.dispatch_no,
                department: d.department.clone(),
                rule: d.rule.clone(),
                dispatched_at: words::when(d.dispatched_at),
                returned: match (&d.returned_at, &d.return_reason) {
                    (Some(at), reason) => format!(
                        "{} 退回:{}",
                        words::when(*at),
                        reason.as_deref().unwrap_or("")
                    ),
                    (None, _) => String::new(),
                },
            })
            .collect(),
        handler_actions,
        supervisor_actions,
        event_ids: (0..4).map(|_| new_event_id()).collect(),
        extension_requested_days: order.extension_requested_days,
    })
}

/// The parts of a timeline entry's detail a person reads (reason, reply, note, effect).
fn summary_of(detail: &serde_json::Value) -> String {
    let mut parts = Vec::new();
    for (key, label) in [
        ("reason", "原因"),
        ("reply", "答复"),
        ("note", "督办意见"),
        ("comment", "回访意见"),
        ("extra_working_days", "延期工作日"),
    ] {
        if let Some(value) = detail.get(key).filter(|v| !v.is_null()) {
            let text = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            parts.push(format!("{label}:{text}"));
        }
    }
    parts.join(";")
}

#[derive(Template)]
#[template(
    source = r#"{% extends "base.html" %}{% block title %}工单{% endblock %}{% block content %}<p><a href="/">返回</a></p>{% endblock %}"#,
    ext = "html"
)]
struct NotFound {
    page: Frame,
}

#[derive(Debug, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    event_id: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    reply: String,
    #[serde(default)]
    resolved: String,
    #[serde(default)]
    days: String,
}

/// `POST /desk/orders/{order_no}/{accept|return|extension|reply}`.
pub async fn act_on(
    State(api): State<Arc<Api>>,
    Extension(session): Extension<Session>,
    Path((order_no, action)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    let Role::Handler { department } = &session.caller.role else {
        return forbidden(
            &session,
            "只有承办单位的人员可以签收、退回、申请延期和答复。",
        );
    };
    if let Some(refused) = csrf_refusal(&session, &form.csrf) {
        return refused;
    }
    let page_problem = |problem: &str| problem.to_owned();
    let (event_type, done) = match action.as_str() {
        "accept" => ("order.accepted", "accepted"),
        "return" => ("order.returned", "returned"),
        "extension" => ("order.extension_requested", "extension"),
        "reply" => ("order.replied", "replied"),
        _ => return forbidden(&session, "没有这项操作。"),
    };
    let mut event = envelope(&form.event_id, event_type, &order_no);
    event["department"] = json!(department);
    let problem = match action.as_str() {
        "accept" => {
            event["handler"] = json!(session.caller.name);
            None
        }
        "return" if form.reason.trim().is_empty() => Some(page_problem("退回必须填写原因。")),
        "return" => {
            event["reason"] = json!(form.reason.trim());
            None
        }
        "extension" => match form.days.trim().parse::<u32>() {
            Ok(days) if days > 0 && !form.reason.trim().is_empty() => {
                event["extra_working_days"] = json!(days);
                event["reason"] = json!(form.reason.trim());
                None
            }
            _ => Some(page_problem("申请延期须填写延期工作日数(正整数)和理由。")),
        },
        _ if form.reply.trim().is_empty() => Some(page_problem("答复内容不能为空。")),
        _ => {
            event["reply"] = json!(form.reply.trim());
            event["resolved"] = json!(form.resolved == "yes");
            None
        }
    };
    if let Some(problem) = problem {
        return order_view(&api, &session, &order_no, None, Some(problem)).await;
    }
    match act(&api, &session.caller, event).await {
        ActionResult::Done => {
            let back = if action == "accept" {
                format!("/desk/orders/{order_no}?done={done}")
            } else {
                format!("/desk?done={done}")
            };
            Redirect::to(&back).into_response()
        }
        ActionResult::AlreadyDone => {
            Redirect::to(&format!("/desk/orders/{order_no}?done=again")).into_response()
        }
        ActionResult::Refused(problem) => {
            order_view(&api, &session, &order_no, None, Some(problem)).await
        }
    }
}

/// Supervisor actions share the order page: the board's handler calls this on refusal.
pub async fn order_with_problem(
    api: &Api,
    session: &Session,
    order_no: &str,
    problem: String,
) -> Response {
    order_view(api, session, order_no, None, Some(problem)).await
}
