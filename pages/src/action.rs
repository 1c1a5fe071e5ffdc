//! What a page's form does: the event it stands for, built on the schema's types, and its
//! submission through the same path as AMQP and `POST /api/events`
//! ([`hotline_http::api::events::submit_as`]) as the signed-in account.

use super::words;
use axum::http::StatusCode;
use hotline_core::calendar::business_instant;
use hotline_core::decide::Outcome;
use hotline_http::api::events::{Submitted, submit_as};
use hotline_http::api::tokens::Caller;
use hotline_http::api::{Api, ApiError};
use hotline_schema::body::EventBody;
use hotline_schema::event::{Envelope, InboundEvent};

/// What became of an action submitted from a page, in words for the page.
pub enum ActionResult {
    Done,
    /// Submitted before (the same form twice): nothing more happened.
    AlreadyDone,
    /// Refused: why, in plain words.
    Refused(String),
}

/// A new event id for a form being drawn (UUID v7: ordered by time). Fixed when the form
/// is drawn, so that submitting it twice has one effect.
pub fn new_event_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The event a form stands for: `body` about `order_no`, under the id the form was drawn
/// with, happening now on the database's clock (the clock the deadlines run on; the
/// engine host's own may be off). Refused, in words for the page, if the form's ids are not
/// ids or the database does not answer.
pub async fn form_event(
    api: &Api,
    event_id: &str,
    order_no: &str,
    body: EventBody,
) -> Result<InboundEvent, String> {
    let now = hotline_store::database_now(&api.pool)
        .await
        .map_err(|_| "系统暂时无法提交,请稍后重试。(数据库不可用)".to_owned())?;
    let envelope = Envelope::from_form(event_id, business_instant(now), order_no)
        .map_err(|rejection| words::refusal(&rejection))?;
    Ok(InboundEvent::new(envelope, body))
}

/// Submits what a form stands for as the signed-in caller. The event's bytes take the path
/// every client's event takes, so a page is judged exactly as a client is.
pub async fn act(
    api: &Api,
    caller: &Caller,
    event_id: &str,
    order_no: &str,
    body: EventBody,
) -> ActionResult {
    let event = match form_event(api, event_id, order_no, body).await {
        Ok(event) => event,
        Err(problem) => return ActionResult::Refused(problem),
    };
    match submit_as(api, caller, event.to_bytes(), None).await {
        Ok(Submitted {
            outcome: Outcome::Applied(_),
            ..
        }) => ActionResult::Done,
        Ok(Submitted {
            outcome: Outcome::Duplicate,
            ..
        }) => ActionResult::AlreadyDone,
        Ok(Submitted {
            outcome: Outcome::Rejected(rejection),
            ..
        }) => ActionResult::Refused(words::refusal(&rejection)),
        Err(ApiError {
            status, message, ..
        }) if status == StatusCode::NOT_FOUND => {
            ActionResult::Refused(format!("该工单现在不由本单位办理。({message})"))
        }
        Err(ApiError {
            status, message, ..
        }) if status == StatusCode::FORBIDDEN => {
            ActionResult::Refused(format!("您的角色不能执行这项操作。({message})"))
        }
        Err(ApiError { message, .. }) => {
            ActionResult::Refused(format!("系统暂时无法提交,请稍后重试。({message})"))
        }
    }
}
