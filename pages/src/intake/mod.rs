//! `/intake`, the operator's desk: register a complaint (a matter picker over the catalog,
//! and the department and deadlines the rules would choose, shown before registering),
//! the manual-dispatch queue with dispatch to a chosen department, and the callback (回访)
//! of orders the departments have replied to.

use super::{
    ActionResult, Frame, act, csrf_refusal, forbidden, form_event, new_event_id, render, words,
};
use askama::Template;
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use hotline_core::calendar::BUSINESS_TZ;
use hotline_core::config::Assignee;
use hotline_core::rules::Rules;
use hotline_http::api::Api;
use hotline_http::api::tokens::Role;
use hotline_http::session::Session;
use hotline_schema::body::{
    ComplaintReceived, EventBody, OrderDispatched, OrderFeedback, ReturnDecided, read_field,
};
use hotline_schema::rejection::Rejection;
use hotline_schema::text::{FieldFault, TextField, complaint_faults};
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

/// The complaint form's fields as posted (and redrawn after a preview or a refusal).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ComplaintForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub event_id: String,
    #[serde(default)]
    pub order_no: String,
    /// `preview` or `register`: which button was pressed.
    #[serde(default)]
    pub step: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub channel: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub district: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub urgency: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub citizen_name: String,
    #[serde(default)]
    pub citizen_phone: String,
    /// `yes` when ticked: 保密件.
    #[serde(default)]
    pub confidential: String,
}

/// The complaint form's faults, a field each, in words.
#[derive(Default)]
pub struct FieldFaults {
    pub title: Option<String>,
    pub content: Option<String>,
    pub address: Option<String>,
    pub citizen_name: Option<String>,
    pub citizen_phone: Option<String>,
}

impl FieldFaults {
    fn of(faults: &[FieldFault]) -> FieldFaults {
        let mut said = FieldFaults::default();
        for fault in faults {
            let slot = match fault.field {
                TextField::Title => &mut said.title,
                TextField::Content => &mut said.content,
                TextField::Address => &mut said.address,
                TextField::CitizenName => &mut said.citizen_name,
                TextField::CitizenPhone => &mut said.citizen_phone,
            };
            *slot = Some(words::field_fault(*fault));
        }
        said
    }
}

pub struct MaxChars {
    pub title: usize,
    pub content: usize,
    pub address: usize,
    pub citizen_name: usize,
    pub citizen_phone: usize,
}

impl Default for MaxChars {
    fn default() -> MaxChars {
        MaxChars {
            title: TextField::Title.max_chars(),
            content: TextField::Content.max_chars(),
            address: TextField::Address.max_chars(),
            citizen_name: TextField::CitizenName.max_chars(),
            citizen_phone: TextField::CitizenPhone.max_chars(),
        }
    }
}

/// A row of the manual-dispatch or the callback queue.
pub struct QueueItem {
    pub order_no: String,
    pub title: String,
    pub department: String,
    pub received_at: String,
    pub event_id: String,
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
    callbacks: Vec<QueueItem>,
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

/// A new order number for a case registered at this desk: `PT`, the business date, and
/// the next number of a database sequence (unique across engine processes). Taken when a
/// case is registered, never when a form is drawn: numbers are not used up by page views.
async fn new_order_no(api: &Api) -> Result<String, hotline_store::StoreError> {
    let n = hotline_store::read::next_desk_number(&api.pool).await?;
    let today = hotline_store::database_now(&api.pool)
        .await?
        .with_timezone(&BUSINESS_TZ)
        .format("%Y%m%d");
    Ok(format!("PT{today}{n:06}"))
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
        Ok::<_, hotline_store::StoreError>((manual, callbacks, returns))
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
        callbacks: queue_items(callbacks),
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
                label: format!("{} {}({department},{})", m.code, m.name, m.statutory_limit),
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

/// A blank form: its event id fixed now (submitting it twice has one effect), its order
/// number taken when it is registered.
fn fresh_form() -> ComplaintForm {
    ComplaintForm {
        event_id: new_event_id(),
        kind: RequestKind::Complaint.as_str().into(),
        channel: Channel::Phone.as_str().into(),
        urgency: Urgency::Normal.as_str().into(),
        ..ComplaintForm::default()
    }
}

/// Stands for the number a previewed case will get: a preview stores nothing.
const PREVIEW_ORDER_NO: &str = "PREVIEW";

/// The `complaint.received` the form stands for; a choice the form did not offer is refused
/// as the parser would refuse it in a body.
fn complaint_body(form: &ComplaintForm) -> Result<EventBody, Rejection> {
    Ok(EventBody::ComplaintReceived(ComplaintReceived {
        kind: read_field("kind", &form.kind)?,
        channel: read_field("channel", &form.channel)?,
        category: form.category.trim().to_owned(),
        district: optional(&form.district),
        address: optional(&form.address),
        urgency: read_field("urgency", &form.urgency)?,
        title: form.title.trim().to_owned(),
        content: form.content.trim().to_owned(),
        citizen: Citizen {
            name: optional(&form.citizen_name),
            phone: optional(&form.citizen_phone),
        },
        confidential: form.confidential == "yes",
        answer: None,
    }))
}

/// A text field left blank is a field left out.
fn optional(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// `POST /intake/complaints`: `step=preview` redraws the form with what the rules would
/// choose; `step=register` registers it.
pub async fn register(
    State(api): State<Arc<Api>>,
    Extension(session): Extension<Session>,
    Form(form): Form<ComplaintForm>,
) -> Response {
    if let Some(refused) = unless_operator(&session).or_else(|| csrf_refusal(&session, &form.csrf))
    {
        return refused;
    }
    let body = match complaint_body(&form) {
        Ok(body) => body,
        Err(rejection) => {
            let problem = words::refusal(&rejection);
            return draw(&api, &session, form, None, Drawn::problem(problem)).await;
        }
    };
    // Judged here by the parser's own rules (`hotline_schema::text`), every fault at once
    // and beside its field, before anything is previewed or submitted.
    if let EventBody::ComplaintReceived(complaint) = &body {
        let faults = complaint_faults(complaint);
        if !faults.is_empty() {
            return draw(&api, &session, form, None, Drawn::faults(faults)).await;
        }
    }
    if form.step != "register" {
        let event = match form_event(&api, &form.event_id, PREVIEW_ORDER_NO, body).await {
            Ok(event) => event,
            Err(problem) => return draw(&api, &session, form, None, Drawn::problem(problem)).await,
        };
        let now = event.envelope.occurred_at.to_utc();
        let rules = api.rules();
        let draft = event.raw.as_object().cloned().unwrap_or_default();
        return match hotline_core::decide::preview(&rules, &draft, now, api.max_body_bytes) {
            Ok(preview) => {
                let route = &preview.placement.route;
                let deadlines = &preview.placement.deadlines;
                let department = rules
                    .catalog
                    .department(&route.department)
                    .map_or(route.department.clone(), |d| {
                        format!("{}({})", d.name, d.code)
                    });
                let view = PreviewView {
                    department,
                    rule: route.rule.clone(),
                    matter: route
                        .matter_name
                        .clone()
                        .unwrap_or_else(|| "未识别(按类别默认时限)".into()),
                    statutory_limit: route.statutory_limit.to_string(),
                    sign_due_at: words::when(deadlines.sign),
                    committed_due_at: words::when(deadlines.committed),
                    statutory_due_at: words::when(deadlines.statutory),
                    answered_at_intake: preview.answered_at_intake,
                };
                draw(&api, &session, form, Some(view), Drawn::default()).await
            }
            Err(rejection) => {
                let problem = words::refusal(&rejection);
                draw(&api, &session, form, None, Drawn::problem(problem)).await
            }
        };
    }
    // The number is taken now, once: a form redrawn after a refusal keeps it, so the case
    // registered at the second try has the number the first try took.
    let mut form = form;
    if form.order_no.is_empty() {
        form.order_no = match new_order_no(&api).await {
            Ok(order_no) => order_no,
            Err(err) => return super::unavailable(&err),
        };
    }
    match act(&api, &session.caller, &form.event_id, &form.order_no, body).await {
        ActionResult::Done => registered_at(&form.order_no, "registered"),
        ActionResult::AlreadyDone => {
            // Submitted twice (a double click, a resent form): the first submission's
            // order, whatever number this one took.
            let first = match uuid::Uuid::parse_str(&form.event_id) {
                Ok(event_id) => read::order_of_event(&api.pool, event_id).await,
                Err(_) => Ok(None),
            };
            match first {
                Ok(Some(order_no)) => registered_at(&order_no, "again"),
                Ok(None) => Redirect::to("/intake?done=again").into_response(),
                Err(err) => super::unavailable(&err),
            }
        }
        ActionResult::Refused(problem) => {
            draw(&api, &session, form, None, Drawn::problem(problem)).await
        }
    }
}

/// Back to the desk, showing the case's number.
fn registered_at(order_no: &str, done: &str) -> Response {
    let order_no: String =
        percent_encoding::utf8_percent_encode(order_no, percent_encoding::NON_ALPHANUMERIC)
            .collect();
    Redirect::to(&format!("/intake?done={done}&order={order_no}")).into_response()
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
        "dispatch" => (
            EventBody::OrderDispatched(OrderDispatched {
                department: form.department.clone(),
                operator: Some(session.caller.name.clone()),
                co_departments: Vec::new(),
            }),
            "dispatched",
        ),
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
