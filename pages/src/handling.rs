//! A department's actions on an order, posted from its order page: sign for it (签收),
//! return it (退回), ask for more time (延期申请), reply (答复), reply as a co-handler
//! (协办答复) and appeal a rating (评价复核申请).

use super::order::{Typed, order_view_with};
use super::{ActionResult, act, csrf_refusal, forbidden};
use axum::Extension;
use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use hotline_http::api::Api;
use hotline_http::api::tokens::Role;
use hotline_http::session::Session;
use hotline_schema::body::{
    EventBody, ExtensionRequested, OrderAccepted, OrderCoReplied, OrderReplied, OrderReturned,
    RatingAppealed,
};
use serde::Deserialize;
use std::sync::Arc;

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

/// `POST /desk/orders/{order_no}/{accept|return|extension|reply|co_reply|appeal}`:
/// `accept` is the lead's or a co-handler's (the engine tells which by the department).
pub async fn act_on(
    State(api): State<Arc<Api>>,
    Extension(session): Extension<Session>,
    Path((order_no, action)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    let Role::Handler { department } = &session.caller.role else {
        return forbidden(
            &session,
            "只有承办单位的人员可以签收、退回、申请延期、答复、协办答复和申请评价复核。",
        );
    };
    if let Some(refused) = csrf_refusal(&session, &form.csrf) {
        return refused;
    }
    let department = department.clone();
    let reason = form.reason.trim().to_owned();
    let reply = form.reply.trim().to_owned();
    // What the person typed in the form sent, kept if it is refused.
    let typed_text = match action.as_str() {
        "reply" | "co_reply" => form.reply.clone(),
        _ => form.reason.clone(),
    };
    let form_name = ["reply", "co_reply", "return", "extension", "appeal"]
        .into_iter()
        .find(|form| *form == action)
        .unwrap_or_default();
    let typed = |fault: Option<String>| Typed {
        form: form_name,
        text: typed_text.clone(),
        fault,
    };
    let (built, done) = match action.as_str() {
        "accept" => (
            Ok(EventBody::OrderAccepted(OrderAccepted {
                department,
                handler: Some(session.caller.name.clone()),
            })),
            "accepted",
        ),
        "return" => (
            Ok(EventBody::OrderReturned(OrderReturned {
                department,
                reason,
            })),
            "returned",
        ),
        "extension" => match form.days.trim().parse::<u32>() {
            Ok(extra_working_days) if extra_working_days > 0 && !reason.is_empty() => (
                Ok(EventBody::ExtensionRequested(ExtensionRequested {
                    department,
                    extra_working_days,
                    reason,
                })),
                "extension",
            ),
            _ => (Err("申请延期须填写延期工作日数(正整数)和理由。"), ""),
        },
        "appeal" => (
            Ok(EventBody::RatingAppealed(RatingAppealed {
                department,
                reason,
            })),
            "appealed",
        ),
        "reply" | "co_reply" if reply.is_empty() => (Err("答复内容不能为空。"), ""),
        "co_reply" => (
            Ok(EventBody::OrderCoReplied(OrderCoReplied {
                department,
                reply,
            })),
            "co_replied",
        ),
        "reply" => (
            Ok(EventBody::OrderReplied(OrderReplied {
                department,
                reply,
                resolved: form.resolved == "yes",
            })),
            "replied",
        ),
        _ => return forbidden(&session, "没有这项操作。"),
    };
    let body = match built {
        Ok(body) => body,
        Err(problem) => {
            return order_view_with(
                &api,
                &session,
                &order_no,
                None,
                typed(Some(problem.to_owned())),
            )
            .await;
        }
    };
    // The server judges what was typed, with the limits every client is held to, and says
    // so beside the field.
    if let Some(fault) = hotline_schema::text::action_faults(&body).first() {
        let said = super::words::field_fault(*fault);
        return order_view_with(&api, &session, &order_no, None, typed(Some(said))).await;
    }
    match act(&api, &session.caller, &form.event_id, &order_no, body).await {
        ActionResult::Done => {
            let back = match action.as_str() {
                "accept" | "appeal" => format!("/desk/orders/{order_no}?done={done}"),
                "co_reply" => format!("/desk?tab=co&done={done}"),
                _ => format!("/desk?done={done}"),
            };
            Redirect::to(&back).into_response()
        }
        ActionResult::AlreadyDone => {
            Redirect::to(&format!("/desk/orders/{order_no}?done=again")).into_response()
        }
        ActionResult::Refused(problem) => {
            order_view_with(&api, &session, &order_no, Some(problem), typed(None)).await
        }
    }
}
