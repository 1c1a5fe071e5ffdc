//! Internal notes (内部备注) from the order page: written through
//! [`hotline_http::api::notes::write_note`], as `POST /api/orders/{order_no}/notes` writes
//! them, under the id the form was drawn with (sent twice, one note).

use super::csrf_refusal;
use super::order::{Typed, order_view_with};
use axum::Extension;
use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use hotline_http::api::Api;
use hotline_http::api::notes::write_note;
use hotline_http::session::Session;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Debug, Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    event_id: String,
    #[serde(default)]
    text: String,
}

/// `POST /orders/{order_no}/notes`.
pub async fn write(
    State(api): State<Arc<Api>>,
    Extension(session): Extension<Session>,
    Path(order_no): Path<String>,
    Form(form): Form<NoteForm>,
) -> Response {
    if let Some(refused) = csrf_refusal(&session, &form.csrf) {
        return refused;
    }
    let Ok(id) = uuid::Uuid::parse_str(&form.event_id) else {
        return order_view_with(
            &api,
            &session,
            &order_no,
            None,
            kept(&form, "表单已失效,请重新填写。"),
        )
        .await;
    };
    match write_note(&api, &session.caller, &order_no, id, &form.text).await {
        Ok(()) => {
            let page = super::order::page_of(&session.caller.role, &order_no);
            Redirect::to(&format!("{page}?done=noted#notes-heading")).into_response()
        }
        Err(refusal) => {
            order_view_with(
                &api,
                &session,
                &order_no,
                None,
                kept(&form, &refusal.words()),
            )
            .await
        }
    }
}

fn kept(form: &NoteForm, fault: &str) -> Typed {
    Typed {
        form: "note",
        text: form.text.clone(),
        fault: Some(fault.to_owned()),
    }
}
