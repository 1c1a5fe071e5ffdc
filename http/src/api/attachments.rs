//! Attachments (附件) of an order: `POST /api/orders/{order_no}/attachments` stores a file
//! (a handler's evidence, a citizen's photo an operator received), `GET …/attachments` lists
//! them and `GET …/attachments/{id}` serves one, each to exactly those who may see the
//! order. The pages upload through [`attach`] too.

use super::openapi::{ErrorBody, Unauthorized, Unavailable};
use super::orders::visible_order;
use super::tokens::{Caller, Role};
use super::{Api, ApiError};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hotline_core::attachment::{self, AttachmentFault, AttachmentSettings};
use hotline_core::calendar::business_time;
use hotline_runtime::attachments::{AttachmentStore, sha256_hex};
use hotline_store::attachments::{self as rows, AttachmentRecord, Recorded};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// What the attachment endpoints share: the limits and where the files are.
#[derive(Clone, Debug)]
pub struct Attachments {
    pub settings: AttachmentSettings,
    pub store: AttachmentStore,
}

/// What an upload's body may hold beyond the file: a page's multipart form around it.
pub const FORM_OVERHEAD_BYTES: usize = 64 * 1024;

/// An attachment as the API lists it.
#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct AttachmentView {
    pub id: Uuid,
    #[schema(example = "PT20261207D0000001")]
    pub order_no: String,
    /// The file's name as uploaded (its last path part).
    #[schema(example = "现场照片.jpg")]
    pub name: String,
    /// Told from the file's bytes: `image/jpeg`, `image/png`, `image/webp` or
    /// `application/pdf`; `recording` for a call recording's reference.
    #[schema(example = "image/jpeg")]
    pub media_type: String,
    pub size_bytes: i64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// The account that uploaded it.
    pub uploaded_by: String,
    /// `operator` or `handler`.
    pub uploader_role: String,
    /// A handler's department.
    pub department: Option<String>,
    pub uploaded_at: String,
    /// Where the file is served; `null` for a call recording's reference (no file).
    #[schema(example = "/api/orders/PT20261207D0000001/attachments/0193…")]
    pub url: Option<String>,
}

impl From<AttachmentRecord> for AttachmentView {
    fn from(r: AttachmentRecord) -> AttachmentView {
        AttachmentView {
            url: r
                .object_key
                .as_ref()
                .map(|_| format!("/api/orders/{}/attachments/{}", r.order_no, r.id)),
            id: r.id,
            order_no: r.order_no,
            name: r.file_name,
            media_type: r.media_type,
            size_bytes: r.size_bytes,
            sha256: r.sha256,
            uploaded_by: r.uploaded_by,
            uploader_role: r.uploader_role,
            department: r.department,
            uploaded_at: business_time(r.uploaded_at),
        }
    }
}

/// Why an upload was not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachRefusal {
    /// The file itself: fix it and send again.
    File(AttachmentFault),
    /// No such order, or one the caller may not see.
    NotFound,
    /// The caller's role attaches nothing to this order (a supervisor; a handler of a
    /// department that neither holds nor co-handles it).
    NotYours,
    /// The order is closed or merged.
    Finished,
    /// The database or the storage did not answer: send again later.
    Unavailable,
}

impl AttachRefusal {
    pub fn api_error(&self, settings: &AttachmentSettings) -> ApiError {
        match self {
            AttachRefusal::File(fault) => {
                let status = match fault {
                    AttachmentFault::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                    AttachmentFault::UnsupportedType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    AttachmentFault::TooMany => StatusCode::CONFLICT,
                    AttachmentFault::Empty
                    | AttachmentFault::BadName
                    | AttachmentFault::BadReference => StatusCode::BAD_REQUEST,
                };
                ApiError::new(status, fault.code(), fault.words(settings))
            }
            AttachRefusal::NotFound => ApiError::not_found("no such order"),
            AttachRefusal::NotYours => ApiError::forbidden(
                "only operators and the handlers of a department holding or co-handling the order attach files, and only operators link recordings",
            ),
            AttachRefusal::Finished => ApiError::new(
                StatusCode::CONFLICT,
                "order_finished",
                "the order is closed or merged: its record is final",
            ),
            AttachRefusal::Unavailable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the database or the attachments' storage did not answer; retry later",
            ),
        }
    }

    /// In words for a page.
    pub fn words(&self, settings: &AttachmentSettings) -> String {
        match self {
            AttachRefusal::File(fault) => fault.words(settings),
            AttachRefusal::NotFound => "没有这张工单,或您无权查看。".to_owned(),
            AttachRefusal::NotYours => {
                "只有话务员和主办、协办单位的承办人员可以上传附件。".to_owned()
            }
            AttachRefusal::Finished => "工单已办结或已合并,不能再上传附件。".to_owned(),
            AttachRefusal::Unavailable => "系统暂时无法保存附件,请稍后重试。".to_owned(),
        }
    }
}

/// Whether `role` may attach files to an order it sees: an operator (what the citizen
/// sent), a handler of the holding or a co-handling department (evidence); a supervisor
/// only reads.
pub fn may_attach(role: &Role, order: &hotline_core::order::Order) -> bool {
    match role {
        Role::Operator => true,
        Role::Handler { department } => {
            &order.department == department || order.co_handler(department).is_some()
        }
        Role::Supervisor => false,
    }
}

/// The order `order_no` if `caller` may attach to it.
async fn attachable(
    api: &Api,
    caller: &Caller,
    order_no: &str,
) -> Result<hotline_core::order::Order, AttachRefusal> {
    let order = visible_order(api, &caller.role, order_no)
        .await
        .map_err(|err| {
            tracing::warn!(error = %err, "an attachment's order could not be read");
            AttachRefusal::Unavailable
        })?
        .ok_or(AttachRefusal::NotFound)?;
    if may_attach(&caller.role, &order) {
        Ok(order)
    } else {
        Err(AttachRefusal::NotYours)
    }
}

/// A new row of `order_no` by `caller`, its file (if any) under `object_key`.
fn new_row(
    caller: &Caller,
    order_no: &str,
    object_key: Option<String>,
    id: Uuid,
) -> AttachmentRecord {
    AttachmentRecord {
        id,
        order_no: order_no.to_owned(),
        object_key,
        file_name: String::new(),
        media_type: String::new(),
        size_bytes: 0,
        sha256: String::new(),
        uploaded_by: caller.name.clone(),
        uploader_role: match caller.role {
            Role::Operator => "operator",
            Role::Handler { .. } => "handler",
            Role::Supervisor => "supervisor",
        }
        .to_owned(),
        department: match &caller.role {
            Role::Handler { department } => Some(department.clone()),
            Role::Operator | Role::Supervisor => None,
        },
        uploaded_at: chrono::DateTime::<chrono::Utc>::MIN_UTC,
    }
}

/// Records `new` and its timeline entry: the view, or why not.
async fn record_row(api: &Api, new: &AttachmentRecord) -> Result<AttachmentView, AttachRefusal> {
    match rows::record(&api.pool, new, api.attachments.settings.per_order).await {
        Ok(Recorded::Recorded(record)) => Ok((*record).into()),
        Ok(Recorded::NoOrder) => Err(AttachRefusal::NotFound),
        Ok(Recorded::OrderFinished) => Err(AttachRefusal::Finished),
        Ok(Recorded::Full) => Err(AttachRefusal::File(AttachmentFault::TooMany)),
        Err(err) => {
            tracing::warn!(error = %err, "an attachment's row could not be written");
            Err(AttachRefusal::Unavailable)
        }
    }
}

/// Stores `bytes` as an attachment named `name` of `order_no`, uploaded by `caller`: the
/// file first, then its row and timeline entry; a file whose row is refused is removed.
pub async fn attach(
    api: &Api,
    caller: &Caller,
    order_no: &str,
    name: &str,
    bytes: Bytes,
) -> Result<AttachmentView, AttachRefusal> {
    let order = attachable(api, caller, order_no).await?;
    let admitted =
        attachment::admit(&api.attachments.settings, name, &bytes).map_err(AttachRefusal::File)?;
    let id = Uuid::now_v7();
    let key = format!("orders/{}/{id}", order.order_no);
    let new = AttachmentRecord {
        file_name: admitted.name,
        media_type: admitted.media_type.as_str().to_owned(),
        size_bytes: bytes.len() as i64,
        sha256: sha256_hex(&bytes),
        ..new_row(caller, &order.order_no, Some(key.clone()), id)
    };
    let store = &api.attachments.store;
    if let Err(err) = store.put(&key, bytes).await {
        tracing::warn!(error = %err, "an attachment could not be written to its storage");
        return Err(AttachRefusal::Unavailable);
    }
    let recorded = record_row(api, &new).await;
    if recorded.is_err()
        && let Err(err) = store.delete(&key).await
    {
        tracing::warn!(error = %err, "a refused attachment's file stays in the storage");
    }
    recorded
}

/// Links a call recording's reference (通话录音编号) to `order_no`: an operator's, a row
/// with no file, listed with the order's attachments.
pub async fn link_recording(
    api: &Api,
    caller: &Caller,
    order_no: &str,
    reference: &str,
) -> Result<AttachmentView, AttachRefusal> {
    let order = attachable(api, caller, order_no).await?;
    if caller.role != Role::Operator {
        return Err(AttachRefusal::NotYours);
    }
    let reference = attachment::recording_reference(reference).map_err(AttachRefusal::File)?;
    let new = AttachmentRecord {
        file_name: reference,
        media_type: attachment::RECORDING.to_owned(),
        ..new_row(caller, &order.order_no, None, Uuid::now_v7())
    };
    record_row(api, &new).await
}

/// `POST /api/orders/{order_no}/recordings`'s body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRecording {
    /// The recording system's reference: 1-100 of ASCII letters, digits and `._-:/#`.
    #[schema(
        example = "REC-20261207-0001",
        min_length = 1,
        max_length = 100,
        pattern = r"^[ \t\r\n]*[A-Za-z0-9._:/#-]{1,100}[ \t\r\n]*$"
    )]
    pub reference: String,
}

/// `POST /api/orders/{order_no}/recordings`.
#[utoipa::path(
    post,
    path = "/orders/{order_no}/recordings",
    tag = "orders",
    summary = "Link a call recording to an order",
    description = "An operator links the reference of a call's recording (通话录音编号) to \
        the order: listed with its attachments (`media_type` `recording`, the reference as \
        its `name`, no file, `url` null), to whoever may see the order.",
    params(("order_no" = String, Path, description = "The order's number")),
    request_body(content = NewRecording, content_type = "application/json"),
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "Linked", body = AttachmentView),
        (status = 400, description = "Not a JSON body (`bad_request`) or not a reference \
            (`bad_recording_reference`)", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not an operator (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such order, or one the caller may not see \
            (`not_found`)", body = ErrorBody),
        (status = 409, description = "The order is closed or merged (`order_finished`), or \
            holds as many attachments as it may (`too_many_attachments`)", body = ErrorBody),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn post_recording(
    State(api): State<Arc<Api>>,
    Extension(caller): Extension<Caller>,
    Path(order_no): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let new: NewRecording = serde_json::from_slice(&body)
        .map_err(|_| ApiError::bad_request("the body is {\"reference\": \"…\"}"))?;
    match link_recording(&api, &caller, &order_no, &new.reference).await {
        Ok(view) => Ok((StatusCode::CREATED, axum::Json(view)).into_response()),
        Err(refusal) => Err(refusal.api_error(&api.attachments.settings)),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file's name (its last path part is kept, at most 120 characters); `附件.<ext>`
    /// if left out.
    name: Option<String>,
}

/// A file's bytes, in the body as they are.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // Describes the body; the handler reads it as bytes.
pub struct FileBody(Vec<u8>);

/// `POST /api/orders/{order_no}/attachments`: the body is the file.
#[utoipa::path(
    post,
    path = "/orders/{order_no}/attachments",
    tag = "orders",
    summary = "Attach a file to an order",
    description = "The body is the file itself (any `Content-Type`: the type is told from \
        the file's own bytes): a JPEG, PNG or WebP image or a PDF document of at most \
        `[attachments] max_bytes` (default 10 MiB), at most `[attachments] per_order` \
        (default 30) an order. Operators attach what a citizen sent; handlers of the \
        holding or a co-handling department their evidence. The upload has 120 s to arrive. \
        The order's timeline gets an `attachment.added` entry.",
    params(("order_no" = String, Path, description = "The order's number"), UploadQuery),
    request_body(content = FileBody, content_type = "application/octet-stream"),
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "Stored", body = AttachmentView),
        (status = 400, description = "An empty file (`empty_file`) or a name with control \
            characters or over 120 characters (`bad_file_name`)", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "A supervisor, or a handler whose department neither \
            holds nor co-handles the order (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such order, or one the caller may not see \
            (`not_found`)", body = ErrorBody),
        (status = 409, description = "The order is closed or merged (`order_finished`), or \
            holds as many files as it may (`too_many_attachments`)", body = ErrorBody),
        (status = 413, description = "Over `[attachments] max_bytes` (`too_large`)",
            body = ErrorBody),
        (status = 415, description = "Not a JPEG, PNG, WebP or PDF \
            (`unsupported_media_type`)", body = ErrorBody),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn upload_attachment(
    State(api): State<Arc<Api>>,
    Extension(caller): Extension<Caller>,
    Path(order_no): Path<String>,
    Query(query): Query<UploadQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let name = query.name.unwrap_or_default();
    match attach(&api, &caller, &order_no, &name, body).await {
        Ok(view) => Ok((StatusCode::CREATED, axum::Json(view)).into_response()),
        Err(refusal) => Err(refusal.api_error(&api.attachments.settings)),
    }
}

/// The number of the order `order_no` if `caller` may see it, else `not_found`.
async fn visible_order_no(api: &Api, caller: &Caller, order_no: &str) -> Result<String, ApiError> {
    visible_order(api, &caller.role, order_no)
        .await
        .map_err(|e| ApiError::database(&e))?
        .map(|order| order.order_no)
        .ok_or_else(|| ApiError::not_found(format!("no order {order_no}")))
}

/// `GET /api/orders/{order_no}/attachments`.
#[utoipa::path(
    get,
    path = "/orders/{order_no}/attachments",
    tag = "orders",
    summary = "An order's attachments",
    description = "Oldest first, to whoever may see the order.",
    params(("order_no" = String, Path, description = "The order's number")),
    responses(
        (status = 200, description = "The attachments", body = Vec<AttachmentView>),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such order, or one the caller may not see \
            (`not_found`)", body = ErrorBody),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn list_attachments(
    State(api): State<Arc<Api>>,
    Extension(caller): Extension<Caller>,
    Path(order_no): Path<String>,
) -> Result<Response, ApiError> {
    let key = visible_order_no(&api, &caller, &order_no).await?;
    let listed = rows::list(&api.pool, &key)
        .await
        .map_err(|e| ApiError::database(&e))?;
    let views: Vec<AttachmentView> = listed.into_iter().map(AttachmentView::from).collect();
    Ok(axum::Json(views).into_response())
}

/// `GET /api/orders/{order_no}/attachments/{id}`.
#[utoipa::path(
    get,
    path = "/orders/{order_no}/attachments/{id}",
    tag = "orders",
    summary = "One attachment's file",
    description = "The file as uploaded, with its type, `Content-Disposition: attachment` \
        and its name; to whoever may see the order, else `404` as for an order not there.",
    params(
        ("order_no" = String, Path, description = "The order's number"),
        ("id" = Uuid, Path, description = "The attachment's id"),
    ),
    responses(
        (status = 200, description = "The file",
            content(
                (FileBody = "image/jpeg"), (FileBody = "image/png"),
                (FileBody = "image/webp"), (FileBody = "application/pdf"),
            ),
            headers(("Content-Disposition" = String,
                description = "`attachment; filename*=UTF-8''<name>`"))),
        (status = 400, description = "An id that is not a UUID (`bad_request`)",
            body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such order or attachment, or an order the caller \
            may not see (`not_found`)", body = ErrorBody),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn get_attachment(
    State(api): State<Arc<Api>>,
    Extension(caller): Extension<Caller>,
    Path((order_no, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id =
        Uuid::parse_str(&id).map_err(|_| ApiError::bad_request("an attachment's id is a UUID"))?;
    let key = visible_order_no(&api, &caller, &order_no).await?;
    let record = rows::one(&api.pool, &key, id)
        .await
        .map_err(|e| ApiError::database(&e))?
        .ok_or_else(|| ApiError::not_found("no such attachment"))?;
    let Some(key) = &record.object_key else {
        return Err(ApiError::not_found("a recording's reference has no file"));
    };
    let bytes = api.attachments.store.get(key).await.map_err(|err| {
        tracing::warn!(error = %err, "an attachment's file could not be read");
        AttachRefusal::Unavailable.api_error(&api.attachments.settings)
    })?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    if let Ok(media_type) = HeaderValue::from_str(&record.media_type) {
        headers.insert(header::CONTENT_TYPE, media_type);
    }
    if let Ok(disposition) = HeaderValue::from_str(&content_disposition(&record.file_name)) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    // Opened on its own, the file runs nothing and loads nothing.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(response)
}

/// `attachment; filename*=UTF-8''<name>` (RFC 6266 and 8187), with a plain ASCII fallback.
fn content_disposition(name: &str) -> String {
    const ATTR_CHAR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{fallback}\"; filename*=UTF-8''{}",
        percent_encoding::utf8_percent_encode(name, ATTR_CHAR)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_download_is_named_in_utf8_with_an_ascii_fallback_and_no_header_injection() {
        let cases = [
            (
                "现场照片.jpg",
                "attachment; filename=\"____.jpg\"; filename*=UTF-8''%E7%8E%B0%E5%9C%BA%E7%85%A7%E7%89%87.jpg",
            ),
            (
                "a b\";x.pdf",
                "attachment; filename=\"a_b__x.pdf\"; filename*=UTF-8''a%20b%22%3Bx.pdf",
            ),
        ];
        for (name, want) in cases {
            let got = content_disposition(name);
            assert_eq!(got, want);
            assert!(HeaderValue::from_str(&got).is_ok());
        }
    }

    #[test]
    fn operators_and_the_handling_departments_attach_and_supervisors_only_read() {
        // Held by SCJGJ, co-handled by YSBZX, its callback rated ZJJ (which sees it).
        let order = crate::api::orders::tests::order();
        let handler = |d: &str| Role::Handler {
            department: d.to_owned(),
        };
        let cases = [
            (Role::Operator, true),
            (handler("SCJGJ"), true),
            (handler("YSBZX"), true),
            (handler("ZJJ"), false),
            (handler("GAJ"), false),
            (Role::Supervisor, false),
        ];
        for (role, attaches) in cases {
            assert_eq!(may_attach(&role, &order), attaches, "{role}");
        }
    }
}
