//! Internal notes (内部备注): `GET` and `POST /api/orders/{order_no}/notes`. A unit's notes
//! (a department's, the operators', the supervisors') are read and written by that unit
//! only, on orders it may see; they are never in the timeline nor in any message.

use super::openapi::{ErrorBody, Unauthorized, Unavailable};
use super::orders::visible_order;
use super::tokens::{Caller, Role};
use super::{Api, ApiError};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hotline_core::calendar::business_time;
use hotline_core::note::{NOTES_PER_ORDER, NoteFault, NoteText};
use hotline_store::notes::{self, NoteRecord, Written};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

/// The unit whose notes a caller reads and writes: its department, or its role's.
pub fn unit_of(role: &Role) -> String {
    match role {
        Role::Handler { department } => department.clone(),
        Role::Operator => "operators".to_owned(),
        Role::Supervisor => "supervisors".to_owned(),
    }
}

#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct NoteView {
    pub id: Uuid,
    /// A department's code, `operators` or `supervisors`: who may read it.
    #[schema(example = "SCJGJ")]
    pub unit: String,
    /// The account that wrote it.
    pub author: String,
    #[schema(example = "已电话联系商户,明早复查")]
    pub text: String,
    pub written_at: String,
}

impl From<NoteRecord> for NoteView {
    fn from(n: NoteRecord) -> NoteView {
        NoteView {
            id: n.id,
            unit: n.unit,
            author: n.author,
            text: n.body,
            written_at: business_time(n.written_at),
        }
    }
}

/// Why a note was not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteRefusal {
    Text(NoteFault),
    NotFound,
    Full,
    Unavailable,
}

impl NoteRefusal {
    pub fn api_error(self) -> ApiError {
        match self {
            NoteRefusal::Text(fault) => {
                ApiError::new(StatusCode::BAD_REQUEST, fault.code(), fault.words())
            }
            NoteRefusal::NotFound => ApiError::not_found("no such order"),
            NoteRefusal::Full => ApiError::new(
                StatusCode::CONFLICT,
                "too_many_notes",
                format!("a unit keeps at most {NOTES_PER_ORDER} notes on an order"),
            ),
            NoteRefusal::Unavailable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the database did not answer; retry later",
            ),
        }
    }

    pub fn words(self) -> String {
        match self {
            NoteRefusal::Text(fault) => fault.words(),
            NoteRefusal::NotFound => "没有这张工单,或您无权查看。".to_owned(),
            NoteRefusal::Full => format!("本单位在这张工单上最多保留 {NOTES_PER_ORDER} 条备注。"),
            NoteRefusal::Unavailable => "系统暂时无法保存备注,请稍后重试。".to_owned(),
        }
    }
}

/// The number of the order `order_no` if `caller` may see it.
async fn visible(api: &Api, caller: &Caller, order_no: &str) -> Result<String, NoteRefusal> {
    visible_order(api, &caller.role, order_no)
        .await
        .map_err(|err| {
            tracing::warn!(error = %err, "a note's order could not be read");
            NoteRefusal::Unavailable
        })?
        .map(|order| order.order_no)
        .ok_or(NoteRefusal::NotFound)
}

/// Writes `text` as `caller`'s unit's note on `order_no`, under `id` (a form's, fixed when
/// it was drawn, so that sending it twice writes one note).
pub async fn write_note(
    api: &Api,
    caller: &Caller,
    order_no: &str,
    id: Uuid,
    text: &str,
) -> Result<(), NoteRefusal> {
    let text = NoteText::parse(text).map_err(NoteRefusal::Text)?;
    let key = visible(api, caller, order_no).await?;
    let note = NoteRecord {
        id,
        order_no: key,
        unit: unit_of(&caller.role),
        author: caller.name.clone(),
        body: text.as_str().to_owned(),
        written_at: chrono::DateTime::<chrono::Utc>::MIN_UTC,
    };
    match notes::write(&api.pool, &note, NOTES_PER_ORDER).await {
        Ok(Written::Written) => Ok(()),
        Ok(Written::NoOrder) => Err(NoteRefusal::NotFound),
        Ok(Written::Full) => Err(NoteRefusal::Full),
        Err(err) => {
            tracing::warn!(error = %err, "a note could not be written");
            Err(NoteRefusal::Unavailable)
        }
    }
}

/// `caller`'s unit's notes on `order_no`, oldest first.
pub async fn read_notes(
    api: &Api,
    caller: &Caller,
    order_no: &str,
) -> Result<Vec<NoteView>, NoteRefusal> {
    let key = visible(api, caller, order_no).await?;
    let listed = notes::of_unit(&api.pool, &key, &unit_of(&caller.role))
        .await
        .map_err(|err| {
            tracing::warn!(error = %err, "notes could not be read");
            NoteRefusal::Unavailable
        })?;
    Ok(listed.into_iter().map(NoteView::from).collect())
}

/// `POST /api/orders/{order_no}/notes`'s body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNote {
    /// At most 1,000 characters, not blank, no control characters but line breaks and tabs.
    #[schema(
        example = "已电话联系商户,明早复查",
        min_length = 1,
        max_length = 1000,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    pub text: String,
    /// Fixes the note's id: the same id sent again writes nothing more.
    pub id: Option<Uuid>,
}

/// `POST /api/orders/{order_no}/notes`.
#[utoipa::path(
    post,
    path = "/orders/{order_no}/notes",
    tag = "orders",
    summary = "Write an internal note (内部备注) on an order",
    description = "A note of the caller's unit (a handler's department, the operators or \
        the supervisors), read by that unit only: never in the timeline, a message or \
        another unit's answer. On any order the caller may see.",
    params(("order_no" = String, Path, description = "The order's number")),
    request_body(content = NewNote, content_type = "application/json"),
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "Written (or written before under the same `id`)",
            body = Vec<NoteView>),
        (status = 400, description = "Not a JSON note (`bad_request`), a blank note \
            (`blank_note`), one over 1,000 characters (`note_too_long`) or with control \
            characters (`bad_note`)", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such order, or one the caller may not see \
            (`not_found`)", body = ErrorBody),
        (status = 409, description = "The unit keeps 200 notes on the order already \
            (`too_many_notes`)", body = ErrorBody),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn post_note(
    State(api): State<Arc<Api>>,
    Extension(caller): Extension<Caller>,
    Path(order_no): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let new: NewNote = serde_json::from_slice(&body).map_err(|_| {
        ApiError::bad_request("the body is {\"text\": \"…\"} with an optional \"id\" (a UUID)")
    })?;
    let id = new.id.unwrap_or_else(Uuid::now_v7);
    write_note(&api, &caller, &order_no, id, &new.text)
        .await
        .map_err(NoteRefusal::api_error)?;
    let listed = read_notes(&api, &caller, &order_no)
        .await
        .map_err(NoteRefusal::api_error)?;
    Ok((StatusCode::CREATED, axum::Json(listed)).into_response())
}

/// `GET /api/orders/{order_no}/notes`.
#[utoipa::path(
    get,
    path = "/orders/{order_no}/notes",
    tag = "orders",
    summary = "The caller's unit's internal notes on an order",
    description = "Oldest first; only the notes of the caller's unit.",
    params(("order_no" = String, Path, description = "The order's number")),
    responses(
        (status = 200, description = "The notes", body = Vec<NoteView>),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such order, or one the caller may not see \
            (`not_found`)", body = ErrorBody),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn get_notes(
    State(api): State<Arc<Api>>,
    Extension(caller): Extension<Caller>,
    Path(order_no): Path<String>,
) -> Result<Response, ApiError> {
    let listed = read_notes(&api, &caller, &order_no)
        .await
        .map_err(NoteRefusal::api_error)?;
    Ok(axum::Json(listed).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_is_the_department_or_the_role() {
        let cases = [
            (
                Role::Handler {
                    department: "SCJGJ".into(),
                },
                "SCJGJ",
            ),
            (Role::Operator, "operators"),
            (Role::Supervisor, "supervisors"),
        ];
        for (role, unit) in cases {
            assert_eq!(unit_of(&role), unit);
        }
    }
}
