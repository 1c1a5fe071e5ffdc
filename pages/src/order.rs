//! The order page, at `/desk/orders/{order_no}` for handlers and `/orders/{order_no}` for
//! operators and supervisors: the timeline, the dispatch history, the co-handlers, why the
//! deadline is what it is, and the actions of whoever is looking (accept, return, extension,
//! reply, co-reply, appeal, return decision), each through the API's submit path.

use super::desk::standing_words;
use super::{Done, Frame, new_event_id, render, words};
use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hotline_core::privacy::Purpose;
use hotline_http::api::Api;
use hotline_http::api::orders::CitizenView;
use hotline_http::api::tokens::Role;
use hotline_http::session::Session;
use hotline_schema::event::EventType;
use hotline_schema::text::TextField;
use hotline_schema::values::{OrderState, SlaState, UrgeLevel};
use hotline_store::read::{self};
use std::sync::Arc;

/// What a person typed in one of the page's forms, and what the server said of it: drawn
/// again with the form as typed and the fault beside the field.
#[derive(Default)]
pub struct Typed {
    /// The form: `reply`, `co_reply`, `return`, `extension`, `appeal`, `note`; empty for none.
    pub form: &'static str,
    pub text: String,
    pub fault: Option<String>,
}

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
    /// For the lead: the co-handlers whose co-reply is still due (its reply waits).
    co_waiting: Vec<String>,
    /// The co-handling departments (协办), each with its part.
    co_handlers: Vec<CoHandlerItem>,
    /// A handler of a co-handling department may act on its part: `accept`, `co_reply`.
    co_actions: Vec<&'static str>,
    /// The department rated may appeal the rating (评价复核申请).
    may_appeal: bool,
    supervisor_actions: Vec<&'static str>,
    /// The levels a supervisor may urge at: value and words.
    urge_levels: Vec<(&'static str, &'static str)>,
    /// For an operator, on a return waiting for review (退单审核): where an approval may
    /// send it (code and name; not the department that returned it, not the manual desk).
    return_review: Option<Vec<(String, String)>>,
    event_ids: Vec<String>,
    extension_requested_days: Option<u32>,
    /// The reason given with the extension asked, for the supervisor who decides it.
    extension_reason: Option<String>,
    attachments: Vec<super::attachments::AttachmentItem>,
    /// The reader may add a file: an operator, or the holding or a co-handling department,
    /// while the order is open.
    may_attach: bool,
    /// An operator may link a call's recording (通话录音编号).
    may_link_recording: bool,
    /// `[attachments] max_bytes` in words, for the form's hint, and in bytes, for the
    /// script that says a file is too large before it is sent.
    attachment_limit: String,
    attachment_max_bytes: usize,
    typed: Typed,
    /// The reader's unit's internal notes (内部备注).
    notes: Vec<NoteItem>,
    /// The limits of the forms' fields, as the server holds them.
    max: FieldLimits,
}

/// One internal note as the order page lists it.
pub struct NoteItem {
    pub author: String,
    pub at: String,
    pub text: String,
}

/// The most characters each form field takes (the schema's limits and the note's).
pub struct FieldLimits {
    pub reply: usize,
    pub reason: usize,
    pub note: usize,
}

/// One co-handling department (协办单位) of the order, as its page shows it.
pub struct CoHandlerItem {
    pub department: String,
    pub sign_due_at: String,
    pub co_reply_due_at: String,
    /// `已签收 …` or `未签收`.
    pub accepted: String,
    /// `已答复 …(按时)`, `剩余 …` or `超时 …`.
    pub co_reply: String,
    pub over: bool,
}

/// Where `role` opens the order `order_no`: a handler under its desk, the others under
/// the order list.
pub(super) fn page_of(role: &Role, order_no: &str) -> String {
    match role {
        Role::Handler { .. } => format!("/desk/orders/{order_no}"),
        Role::Operator | Role::Supervisor => format!("/orders/{order_no}"),
    }
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

pub(super) async fn order_view(
    api: &Api,
    session: &Session,
    order_no: &str,
    notice: Option<String>,
    problem: Option<String>,
) -> Response {
    order_page_view(
        api,
        session,
        order_no,
        notice,
        problem,
        Typed::default(),
        false,
    )
    .await
}

/// `GET /orders/{order_no}/print` (and `/desk/orders/{order_no}/print`): the order on
/// paper — its facts, content, deadlines and why, dispatches, co-handlers, attachments'
/// names and timeline, who printed it and when; no forms, no navigation, no internal notes
/// (a printed copy leaves the unit).
pub async fn print_page(
    State(api): State<Arc<Api>>,
    Extension(session): Extension<Session>,
    Path(order_no): Path<String>,
) -> Response {
    order_page_view(
        &api,
        &session,
        &order_no,
        None,
        None,
        Typed::default(),
        true,
    )
    .await
}

#[derive(Template)]
#[template(path = "order_print.html")]
struct OrderPrint {
    o: OrderPage,
    printed_by: String,
    printed_at: String,
}

/// The order page with a form drawn again as typed, its fault beside the field (and a
/// refusal of the whole action, if any, above the page).
pub(super) async fn order_view_with(
    api: &Api,
    session: &Session,
    order_no: &str,
    problem: Option<String>,
    typed: Typed,
) -> Response {
    order_page_view(api, session, order_no, None, problem, typed, false).await
}

async fn order_page_view(
    api: &Api,
    session: &Session,
    order_no: &str,
    notice: Option<String>,
    problem: Option<String>,
    typed: Typed,
    print: bool,
) -> Response {
    let snapshot = match read::order_snapshot(&api.pool, order_no).await {
        Ok(snapshot) => snapshot,
        Err(err) => return super::unavailable(&err),
    };
    // As the API's order view: a handler sees what its department holds, co-handles, or
    // was rated on.
    let visible =
        snapshot.filter(|s| hotline_http::api::orders::may_see(&session.caller.role, &s.order));
    let Some(snapshot) = visible else {
        let mut page = Frame::new(session, "");
        page.problem = Some(format!("没有工单 {order_no},或它不由本单位办理。"));
        return (StatusCode::NOT_FOUND, render(&NotFound { page })).into_response();
    };
    let rules = api.rules();
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
    let now = snapshot.as_of;
    let own = session.caller.role.department();
    // The lead may reply once every co-handler co-replied or its deadline passed.
    let co_waiting: Vec<String> = if holds {
        order
            .co_handlers
            .iter()
            .filter(|c| c.is_due(now))
            .map(|c| {
                format!(
                    "{}(协办答复期限 {})",
                    c.department,
                    words::when(c.co_reply_due_at)
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    // A co-handler's own part: accept its task, then co-reply while the lead has not.
    let lead_open = matches!(
        order.state,
        OrderState::Dispatched
            | OrderState::Accepted
            | OrderState::Suspended
            | OrderState::ReturnPending
    );
    let co_actions = match own.and_then(|d| order.co_handler(d)) {
        Some(co) if !holds && lead_open && co.replied_at.is_none() => {
            if co.accepted_at.is_none() {
                vec!["accept"]
            } else {
                vec!["co_reply"]
            }
        }
        _ => vec![],
    };
    let may_appeal = order.state != OrderState::Merged
        && order.callback.as_ref().is_some_and(|c| {
            Some(c.department.as_str()) == own && c.rating.is_unsatisfied() && c.appeal.is_none()
        });
    let appeal_pending = order
        .callback
        .as_ref()
        .is_some_and(|c| c.appeal.as_ref().is_some_and(|a| a.decision.is_none()));
    let mut supervisor_actions = match (&session.caller.role, order.state) {
        (Role::Supervisor, OrderState::Dispatched | OrderState::Accepted) => {
            let mut actions = vec!["urge", "suspend"];
            if order.extension_requested_days.is_some() {
                actions.push("decide");
            }
            actions
        }
        (Role::Supervisor, OrderState::Suspended) => vec!["urge", "resume"],
        (Role::Supervisor, OrderState::ReturnPending) => vec!["urge"],
        _ => vec![],
    };
    if session.caller.role == Role::Supervisor && appeal_pending {
        supervisor_actions.push("appeal");
    }
    let sla = snapshot.sla_state;
    let (due, limit) = if order.accepted_at.is_none() {
        (order.deadlines.sign, rules.sign_limit_of(order))
    } else {
        (order.deadlines.committed, order.statutory_limit)
    };
    let (standing, _) = standing_words(&rules, limit, due, snapshot.as_of);
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
    if let Some(level) = order.urge_level {
        facts.push(("督办级别", words::urge_level(level).to_owned()));
    }
    if let Some(p) = &order.pending_return {
        facts.push((
            "退单待审核",
            format!(
                "{} 于 {} 退回:{}",
                p.department,
                words::when(p.returned_at),
                p.reason
            ),
        ));
    }
    if let Some(c) = &order.callback {
        let excluded = if order.rating_excluded() {
            "(经复核不计入满意率)"
        } else {
            ""
        };
        facts.push((
            "回访评价",
            format!(
                "{}{excluded} · {} · 评价对象 {}",
                words::rating(c.rating),
                words::when(c.at),
                c.department
            ),
        ));
        if let Some(a) = &c.appeal {
            let decision = match &a.decision {
                None => "待督办审核".to_owned(),
                Some(d) if d.upheld => format!("复核成立:{}", d.note),
                Some(d) => format!("复核不成立:{}", d.note),
            };
            facts.push((
                "评价复核",
                format!("{} 申请:{};{decision}", a.department, a.reason),
            ));
        }
    }
    let attached = match hotline_store::attachments::list(&api.pool, &order.order_no).await {
        Ok(attached) => attached,
        Err(err) => return super::unavailable(&err),
    };
    let names = words::department_names(&rules.catalog);
    let department_name = |code: &str| match names.get(code) {
        Some(name) => format!("{name}({code})"),
        None => code.to_owned(),
    };
    let attachments = attached
        .iter()
        .map(|a| super::attachments::AttachmentItem::of(a, department_name))
        .collect();
    let may_attach = !matches!(order.state, OrderState::Closed | OrderState::Merged)
        && hotline_http::api::attachments::may_attach(&session.caller.role, order);
    let notes = match hotline_http::api::notes::read_notes(api, &session.caller, order_no).await {
        Ok(notes) => notes
            .into_iter()
            .map(|n| NoteItem {
                author: n.author,
                at: n
                    .written_at
                    .get(..16)
                    .unwrap_or(&n.written_at)
                    .replace('T', " "),
                text: n.text,
            })
            .collect(),
        Err(refusal) => {
            tracing::warn!(?refusal, "an order's notes could not be read");
            Vec::new()
        }
    };
    let mut page = Frame::new(session, "");
    page.notice = notice;
    page.problem = problem;
    let printed_at = words::when(snapshot.as_of);
    let may_link_recording = may_attach && session.caller.role == Role::Operator;
    let view = OrderPage {
        may_link_recording,
        typed,
        notes,
        max: FieldLimits {
            reply: TextField::Reply.max_chars(),
            reason: TextField::Reason.max_chars(),
            note: hotline_core::note::MAX_NOTE_CHARS,
        },
        attachments,
        may_attach,
        attachment_max_bytes: api.attachments.settings.max_bytes,
        attachment_limit: hotline_core::attachment::human_size(
            api.attachments.settings.max_bytes as u64,
        ),
        page,
        order_no: order.order_no.clone(),
        title: order.report.title.clone(),
        content: order.report.content.clone(),
        facts,
        citizen,
        why: super::why::why_deadlines(&rules, &snapshot),
        timeline: snapshot
            .timeline
            .iter()
            .map(|e| {
                let (what, detail) =
                    super::timeline::entry_words(&e.event_type, &e.detail, &rules.catalog);
                TimelineItem {
                    event_type: what,
                    actor: e.actor.clone().unwrap_or_else(|| "—".into()),
                    recorded_at: words::when(e.recorded_at),
                    detail,
                }
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
        co_waiting,
        co_handlers: order
            .co_handlers
            .iter()
            .map(|c| {
                let (co_reply, over) = match (c.replied_at, c.on_time) {
                    (Some(at), Some(false)) => (format!("已答复 {}(逾期)", words::when(at)), true),
                    (Some(at), _) => (format!("已答复 {}(按时)", words::when(at)), false),
                    (None, _) if order.paused_at.is_some() => ("暂停计时".to_owned(), false),
                    (None, _) => {
                        standing_words(&rules, order.statutory_limit, c.co_reply_due_at, now)
                    }
                };
                CoHandlerItem {
                    department: c.department.clone(),
                    sign_due_at: words::when(c.sign_due_at),
                    co_reply_due_at: words::when(c.co_reply_due_at),
                    accepted: c.accepted_at.map_or_else(
                        || "未签收".to_owned(),
                        |at| format!("已签收 {}", words::when(at)),
                    ),
                    co_reply,
                    over,
                }
            })
            .collect(),
        co_actions,
        may_appeal,
        supervisor_actions,
        urge_levels: UrgeLevel::ALL
            .iter()
            .map(|l| (l.as_str(), words::urge_level(*l)))
            .collect(),
        return_review: match (&session.caller.role, &order.pending_return) {
            (Role::Operator, Some(pending)) if order.state == OrderState::ReturnPending => Some(
                rules
                    .catalog
                    .departments
                    .iter()
                    .filter(|d| {
                        d.code != pending.department && d.code != rules.router.manual_department()
                    })
                    .map(|d| (d.code.clone(), format!("{}({})", d.name, d.code)))
                    .collect(),
            ),
            _ => None,
        },
        event_ids: (0..10).map(|_| new_event_id()).collect(),
        extension_requested_days: order.extension_requested_days,
        extension_reason: order.extension_requested_days.and_then(|_| {
            snapshot
                .timeline
                .iter()
                .rev()
                .find(|e| e.event_type == EventType::ExtensionRequested.as_str())
                .and_then(|e| e.detail.get("reason")?.as_str().map(str::to_owned))
        }),
    };
    if print {
        render(&OrderPrint {
            o: view,
            printed_by: session.caller.name.clone(),
            printed_at,
        })
    } else {
        render(&view)
    }
}

#[derive(Template)]
#[template(
    source = r#"{% extends "base.html" %}{% block title %}工单{% endblock %}{% block content %}<p><a href="/">返回</a></p>{% endblock %}"#,
    ext = "html"
)]
struct NotFound {
    page: Frame,
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
