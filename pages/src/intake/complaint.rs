//! The complaint form of `/intake`: its fields, what is wrong with them in the pages'
//! words, the preview of where the case would go, and its registration, which takes the
//! order's number.

use super::{Drawn, PreviewView, draw, unless_operator};
use crate::{ActionResult, act, csrf_refusal, form_event, new_event_id, words};
use axum::Extension;
use axum::extract::{Form, State};
use axum::response::{IntoResponse, Redirect, Response};
use hotline_core::calendar::BUSINESS_TZ;
use hotline_http::api::Api;
use hotline_http::session::Session;
use hotline_schema::body::{ComplaintReceived, EventBody, read_field};
use hotline_schema::rejection::Rejection;
use hotline_schema::text::{FieldFault, TextField, complaint_faults};
use hotline_schema::values::{Channel, Citizen, RequestKind, Urgency};
use hotline_store::read;
use serde::Deserialize;
use std::sync::Arc;

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
    pub(super) fn of(faults: &[FieldFault]) -> FieldFaults {
        let mut said = FieldFaults::default();
        for fault in faults {
            let slot = match fault.field {
                TextField::Title => &mut said.title,
                TextField::Content => &mut said.content,
                TextField::Address => &mut said.address,
                TextField::CitizenName => &mut said.citizen_name,
                TextField::CitizenPhone => &mut said.citizen_phone,
                // The form sends no answer, reasons or notes: `complaint_faults` names none.
                TextField::Reply | TextField::Reason | TextField::Note | TextField::Comment => {
                    continue;
                }
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

/// A blank form: its event id fixed now (submitting it twice has one effect), its order
/// number taken when it is registered.
pub(super) fn fresh_form() -> ComplaintForm {
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
pub(super) fn optional(text: &str) -> Option<String> {
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
                    statutory_limit: words::limit(route.statutory_limit),
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
            Err(err) => return crate::unavailable(&err),
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
                Err(err) => crate::unavailable(&err),
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
