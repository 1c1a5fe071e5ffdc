//! `/intake`, the operator's desk: register a complaint (a matter picker over the catalog,
//! and the department and deadlines the rules would choose, shown before registering),
//! the manual-dispatch queue with dispatch to a chosen department, and the callback (回访)
//! of orders the departments have replied to.

mod complaint;

use super::{ActionResult, Frame, act, csrf_refusal, forbidden, new_event_id, render, words};
use askama::Template;
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
pub use complaint::{ComplaintForm, register};
use complaint::{FieldFaults, MaxChars, fresh_form, optional};
use hotline_core::config::Assignee;
use hotline_core::privacy::{Purpose, Reader, disclosure, shown};
use hotline_core::rules::Rules;
use hotline_http::api::Api;
use hotline_http::api::tokens::Role;
use hotline_http::session::Session;
use hotline_schema::body::{EventBody, OrderDispatched, OrderFeedback, ReturnDecided, read_field};
use hotline_schema::text::FieldFault;
use hotline_schema::values::{Channel, Citizen, OrderNo, OrderState, Rating, RequestKind, Urgency};
use hotline_store::read::{self, QueueFilter, QueueRow};
use serde::Deserialize;
use std::sync::Arc;

/// One option of a picker: the value posted and what the operator reads.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// One matter of the picker, with what the search matches (name, code, keywords).
pub struct MatterChoice {
    pub code: String,
    pub label: String,
    pub search: String,
    pub selected: bool,
}

/// What the rules would choose for the draft.
pub struct PreviewView {
    pub department: String,
    pub rule: String,
    pub matter: String,
    pub statutory_limit: String,
    pub sign_due_at: String,
    pub committed_due_at: String,
    pub statutory_due_at: String,
    pub answered_at_intake: bool,
}

/// A row of the manual-dispatch or the callback queue.
pub struct QueueItem {
    pub order_no: String,
    pub title: String,
    pub department: String,
    pub received_at: String,
    pub event_id: String,
}

/// A replied order waiting for its callback (回访): what the department answered, and
/// the citizen to call, as an operator may see them.
pub struct CallbackItem {
    pub item: QueueItem,
    pub reply: String,
    pub resolved: &'static str,
    pub citizen: String,
}

fn callback_items(rows: Vec<QueueRow>, details: Vec<read::CallbackDetail>) -> Vec<CallbackItem> {
    let mut details: std::collections::HashMap<String, read::CallbackDetail> = details
        .into_iter()
        .map(|d| (d.order_no.clone(), d))
        .collect();
    queue_items(rows)
        .into_iter()
        .map(|item| {
            let detail = details.remove(&item.order_no);
            let (reply, resolved, citizen) = match detail {
                Some(d) => {
                    let disclosure = disclosure(
                        Reader::Operator,
                        &d.department,
                        d.confidential,
                        Purpose::View,
                    );
                    let citizen = shown(
                        &Citizen {
                            name: d.citizen_name,
                            phone: d.citizen_phone,
                        },
                        disclosure,
                    );
                    let said = [citizen.name, citizen.phone]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" ");
                    let resolved = match d.resolved {
                        Some(true) => "单位答复:已解决",
                        Some(false) => "单位答复:未解决",
                        None => "",
                    };
                    (d.reply.unwrap_or_default(), resolved, said)
                }
                None => (String::new(), "", String::new()),
            };
            CallbackItem {
                item,
                reply,
                resolved,
                citizen: if citizen.is_empty() {
                    "(未留联系方式)".to_owned()
                } else {
                    citizen
                },
            }
        })
        .collect()
}

/// A return waiting for review (退单审核): who returned it, why, and where it may go.
pub struct ReturnItem {
    pub order_no: String,
    pub title: String,
    pub department: String,
    pub reason: String,
    pub returned_at: String,
    /// The departments an approval may send it to (not the one that returned it).
    pub departments: Vec<Choice>,
    pub event_id: String,
}

#[derive(Template)]
#[template(path = "intake.html")]
struct IntakePage {
    page: Frame,
    /// The number of the case just registered, to read to the citizen.
    registered: Option<String>,
    form: ComplaintForm,
    /// What is wrong with each field, said beside it (the server's judgement, whatever
    /// the browser let through).
    faults: FieldFaults,
    /// Each text field's limit, the server's own, for the browser's `maxlength`.
    max: MaxChars,
    kinds: Vec<Choice>,
    channels: Vec<Choice>,
    urgencies: Vec<Choice>,
    matters: Vec<MatterChoice>,
    districts: Vec<Choice>,
    preview: Option<PreviewView>,
    manual: Vec<QueueItem>,
    callbacks: Vec<CallbackItem>,
    returns: Vec<ReturnItem>,
    departments: Vec<Choice>,
    ratings: Vec<Choice>,
}

fn choices<T: Copy + PartialEq>(
    all: &[T],
    value: impl Fn(T) -> &'static str,
    label: impl Fn(T) -> &'static str,
    selected: &str,
) -> Vec<Choice> {
    all.iter()
        .map(|v| Choice {
            value: value(*v).to_owned(),
            label: label(*v).to_owned(),
            selected: value(*v) == selected,
        })
        .collect()
}

fn queue_items(rows: Vec<QueueRow>) -> Vec<QueueItem> {
    rows.into_iter()
        .map(|r| QueueItem {
            order_no: r.order_no,
            title: r.title,
            department: r.department,
            received_at: words::when(r.received_at),
            event_id: new_event_id(),
        })
        .collect()
}

/// The page's query: the notice of the action just done, and the number of the case just
/// registered.
#[derive(Debug, Default, Deserialize)]
pub struct IntakeQuery {
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    order: Option<String>,
}

/// The number of `?order=`, shown only if it is an order's (never an echo of any text).
async fn registered(
    api: &Api,
    order: Option<&str>,
) -> Result<Option<String>, hotline_store::StoreError> {
    let Some(order_no) = order.and_then(|o| OrderNo::parse(o).ok()) else {
        return Ok(None);
    };
    Ok(read::order_exists(&api.pool, order_no.as_str())
        .await?
        .then(|| order_no.as_str().to_owned()))
}

#[derive(Default)]
struct Drawn {
    notice: Option<String>,
    problem: Option<String>,
    registered: Option<String>,
    faults: Vec<FieldFault>,
}

impl Drawn {
    fn problem(problem: String) -> Drawn {
        Drawn {
            problem: Some(problem),
            ..Drawn::default()
        }
    }

    /// The form as typed, each faulty field marked.
    fn faults(faults: Vec<FieldFault>) -> Drawn {
        Drawn {
            problem: Some("请按标出的提示修改后再提交,已填写的内容都保留着。".to_owned()),
            faults,
            ..Drawn::default()
        }
    }
}

async fn draw(
    api: &Api,
    session: &Session,
    form: ComplaintForm,
    preview: Option<PreviewView>,
    drawn: Drawn,
) -> Response {
    let rules = api.rules();
    let manual_desk = rules.router.manual_department().to_owned();
    let queues = async {
        let manual = read::queue(
            &api.pool,
            &QueueFilter {
                department: Some(&manual_desk),
                states: &[OrderState::Dispatched],
                limit: 50,
                ..QueueFilter::default()
            },
        )
        .await?;
        let callbacks = read::queue(
            &api.pool,
            &QueueFilter {
                states: &[OrderState::Replied],
                limit: 50,
                ..QueueFilter::default()
            },
        )
        .await?;
        let returns = read::return_queue(&api.pool, 50).await?;
        let replied: Vec<String> = callbacks.iter().map(|r| r.order_no.clone()).collect();
        let details = read::callback_details(&api.pool, &replied).await?;
        Ok::<_, hotline_store::StoreError>((manual, callback_items(callbacks, details), returns))
    };
    let (manual, callbacks, returns) = match queues.await {
        Ok(queues) => queues,
        Err(err) => return super::unavailable(&err),
    };
    let mut page = Frame::new(session, "/intake");
    page.notice = drawn.notice;
    page.problem = drawn.problem;
    let returns = returns
        .into_iter()
        .map(|r| {
            let pending = r.pending_return.0;
            ReturnItem {
                departments: rules
                    .catalog
                    .departments
                    .iter()
                    .filter(|d| d.code != manual_desk && d.code != pending.department)
                    .map(|d| Choice {
                        value: d.code.clone(),
                        label: format!("{}({})", d.name, d.code),
                        selected: false,
                    })
                    .collect(),
                order_no: r.order.order_no,
                title: r.order.title,
                department: pending.department,
                reason: pending.reason,
                returned_at: words::when(pending.returned_at),
                event_id: new_event_id(),
            }
        })
        .collect();
    let template = IntakePage {
        kinds: choices(
            RequestKind::ALL,
            RequestKind::as_str,
            words::kind,
            &form.kind,
        ),
        channels: choices(Channel::ALL, Channel::as_str, words::channel, &form.channel),
        urgencies: choices(Urgency::ALL, Urgency::as_str, words::urgency, &form.urgency),
        matters: matter_choices(&rules, &form.category),
        districts: rules
            .catalog
            .districts
            .iter()
            .map(|(name, _)| Choice {
                value: name.clone(),
                label: name.clone(),
                selected: *name == form.district,
            })
            .collect(),
        departments: rules
            .catalog
            .departments
            .iter()
            .filter(|d| d.code != manual_desk)
            .map(|d| Choice {
                value: d.code.clone(),
                label: d.name.clone(),
                selected: false,
            })
            .collect(),
        ratings: choices(Rating::ALL, Rating::as_str, words::rating, ""),
        manual: queue_items(manual),
        callbacks,
        returns,
        preview,
        registered: drawn.registered,
        faults: FieldFaults::of(&drawn.faults),
        max: MaxChars::default(),
        form,
        page,
    };
    render(&template)
}

fn matter_choices(rules: &Rules, selected: &str) -> Vec<MatterChoice> {
    rules
        .catalog
        .matters
        .iter()
        .map(|m| {
            let department = match &m.assignee {
                Assignee::Department(code) => code.clone(),
                Assignee::District => "属地".into(),
            };
            MatterChoice {
                code: m.code.clone(),
                label: format!(
                    "{} {}({department},{})",
                    m.code,
                    m.name,
                    words::limit(m.statutory_limit)
                ),
                search: format!("{} {} {}", m.code, m.name, m.keywords.join(" ")),
                selected: m.code == selected,
            }
        })
        .collect()
}

/// The answer to send instead, unless the session is an operator's.
fn unless_operator(session: &Session) -> Option<Response> {
    match session.caller.role {
        Role::Operator => None,
        _ => Some(forbidden(session, "话务受理页面只对话务员开放。")),
    }
}

/// `GET /intake`.
pub async fn page(
    State(api): State<Arc<Api>>,
    Extension(session): Extension<Session>,
    Query(query): Query<IntakeQuery>,
) -> Response {
    if let Some(refused) = unless_operator(&session) {
        return refused;
    }
    let registered = match registered(&api, query.order.as_deref()).await {
        Ok(registered) => registered,
        Err(err) => return super::unavailable(&err),
    };
    let drawn = Drawn {
        notice: super::notice(query.done.as_deref()),
        registered,
        ..Drawn::default()
    };
    draw(&api, &session, fresh_form(), None, drawn).await
}

#[derive(Debug, Deserialize)]
pub struct QueueForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    event_id: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    rating: String,
    #[serde(default)]
    resolved: String,
    #[serde(default)]
    comment: String,
    /// The return review's decision: `yes` approves (re-dispatch), `no` rejects.
    #[serde(default)]
    approved: String,
    #[serde(default)]
    note: String,
}

/// `POST /intake/orders/{order_no}/dispatch` (人工派单), `…/feedback` (回访) and
/// `…/return_decision` (退单审核).
pub async fn act_on(
    State(api): State<Arc<Api>>,
    Extension(session): Extension<Session>,
    Path((order_no, action)): Path<(String, String)>,
    Form(form): Form<QueueForm>,
) -> Response {
    if let Some(refused) = unless_operator(&session).or_else(|| csrf_refusal(&session, &form.csrf))
    {
        return refused;
    }
    let (body, done) = match action.as_str() {
        "dispatch" if form.department.is_empty() => {
            return refused_here(&api, &session, "请选择派往的承办单位。".into()).await;
        }
        "dispatch" => (
            EventBody::OrderDispatched(OrderDispatched {
                department: form.department.clone(),
                operator: Some(session.caller.name.clone()),
                co_departments: Vec::new(),
            }),
            "dispatched",
        ),
        "feedback" if form.rating.is_empty() => {
            return refused_here(&api, &session, "请选择市民的满意度。".into()).await;
        }
        "feedback" if !matches!(form.resolved.as_str(), "yes" | "no") => {
            return refused_here(&api, &session, "请选择市民认为问题是否解决。".into()).await;
        }
        "feedback" => match read_field("rating", &form.rating) {
            Ok(rating) => (
                EventBody::OrderFeedback(OrderFeedback {
                    rating,
                    resolved: form.resolved == "yes",
                    comment: optional(&form.comment),
                }),
                "feedback",
            ),
            Err(rejection) => {
                return refused_here(&api, &session, words::refusal(&rejection)).await;
            }
        },
        "return_decision" => {
            let approved = match form.approved.as_str() {
                "yes" => true,
                "no" => false,
                _ => {
                    return refused_here(&api, &session, "请选择同意退回或驳回退回。".into()).await;
                }
            };
            let Some(note) = optional(&form.note) else {
                return refused_here(&api, &session, "退单审核必须填写审核意见。".into()).await;
            };
            (
                EventBody::ReturnDecided(ReturnDecided {
                    approved,
                    department: optional(&form.department).filter(|_| approved),
                    note,
                }),
                if approved {
                    "return_approved"
                } else {
                    "return_rejected"
                },
            )
        }
        _ => return forbidden(&session, "没有这项操作。"),
    };
    match act(&api, &session.caller, &form.event_id, &order_no, body).await {
        ActionResult::Done => Redirect::to(&format!("/intake?done={done}")).into_response(),
        ActionResult::AlreadyDone => Redirect::to("/intake?done=again").into_response(),
        ActionResult::Refused(problem) => refused_here(&api, &session, problem).await,
    }
}

/// The desk again, with a fresh complaint form and why the action was not taken.
async fn refused_here(api: &Api, session: &Session, problem: String) -> Response {
    draw(api, session, fresh_form(), None, Drawn::problem(problem)).await
}
