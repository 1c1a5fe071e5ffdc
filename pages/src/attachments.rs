//! Attachments on the order page: the list (each file served by the API to whoever may see
//! the order) and the upload form of operators and of the handling departments, stored
//! through the same [`hotline_http::api::attachments::attach`] as the API's upload.

use super::order::order_view;
use super::{csrf_refusal, words};
use axum::Extension;
use axum::extract::{Multipart, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use hotline_core::attachment::{MediaType, RECORDING, human_size};
use hotline_http::api::Api;
use hotline_http::api::attachments::{AttachRefusal, attach, link_recording};
use hotline_http::session::Session;
use hotline_store::attachments::AttachmentRecord;
use std::sync::Arc;

/// One attachment as the order page lists it.
pub struct AttachmentItem {
    pub name: String,
    /// `图片 · 34.5 KB`.
    pub what: String,
    /// `市场监督管理局(SCJGJ) · zhang` or `话务员 · call-centre-07`.
    pub by: String,
    pub at: String,
    /// Where the file is served; `None` for a recording's reference (no file).
    pub url: Option<String>,
}

impl AttachmentItem {
    pub fn of(record: &AttachmentRecord, department_name: impl Fn(&str) -> String) -> Self {
        let kind = if record.media_type == RECORDING {
            "通话录音编号"
        } else {
            MediaType::parse(&record.media_type).map_or("文件", MediaType::label)
        };
        let unit = match &record.department {
            Some(code) => department_name(code),
            None => "话务员".to_owned(),
        };
        AttachmentItem {
            name: record.file_name.clone(),
            what: match &record.object_key {
                Some(_) => format!("{kind} · {}", human_size(record.size_bytes.max(0) as u64)),
                None => kind.to_owned(),
            },
            by: format!("{unit} · {}", record.uploaded_by),
            at: words::when(record.uploaded_at),
            url: record
                .object_key
                .as_ref()
                .map(|_| format!("/api/orders/{}/attachments/{}", record.order_no, record.id)),
        }
    }
}

/// `POST /orders/{order_no}/attachments`: the order page's upload form
/// (`multipart/form-data`: `csrf`, then `file`).
pub async fn upload(
    State(api): State<Arc<Api>>,
    Extension(session): Extension<Session>,
    Path(order_no): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let form = match multipart {
        Ok(multipart) => read_form(multipart).await,
        Err(_) => None,
    };
    let Some(form) = form else {
        return order_view(
            &api,
            &session,
            &order_no,
            None,
            Some("上传的表单不完整,请重新选择文件后提交。".to_owned()),
        )
        .await;
    };
    if let Some(refused) = csrf_refusal(&session, &form.csrf) {
        return refused;
    }
    let name = form.file_name.unwrap_or_default();
    match attach(&api, &session.caller, &order_no, &name, form.bytes.into()).await {
        Ok(_) => {
            let page = super::order::page_of(&session.caller.role, &order_no);
            Redirect::to(&format!("{page}?done=attached")).into_response()
        }
        Err(refusal) => {
            let words = refusal.words(&api.attachments.settings);
            let problem = match refusal {
                AttachRefusal::File(_) => format!("附件未上传:{words}"),
                _ => words,
            };
            order_view(&api, &session, &order_no, None, Some(problem)).await
        }
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct RecordingForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reference: String,
}

/// `POST /orders/{order_no}/recordings`: an operator links a call's recording.
pub async fn link(
    State(api): State<Arc<Api>>,
    Extension(session): Extension<Session>,
    Path(order_no): Path<String>,
    axum::extract::Form(form): axum::extract::Form<RecordingForm>,
) -> Response {
    if let Some(refused) = csrf_refusal(&session, &form.csrf) {
        return refused;
    }
    match link_recording(&api, &session.caller, &order_no, &form.reference).await {
        Ok(_) => Redirect::to(&format!("/orders/{order_no}?done=recorded")).into_response(),
        Err(refusal) => {
            let typed = super::order::Typed {
                form: "recording",
                text: form.reference.clone(),
                fault: Some(refusal.words(&api.attachments.settings)),
            };
            super::order::order_view_with(&api, &session, &order_no, None, typed).await
        }
    }
}

/// What the upload form sent.
struct UploadForm {
    csrf: String,
    file_name: Option<String>,
    bytes: Vec<u8>,
}

/// The form's `csrf` and `file` fields (others are read past); `None` if the body is not
/// a whole multipart form.
async fn read_form(mut multipart: Multipart) -> Option<UploadForm> {
    let mut form = UploadForm {
        csrf: String::new(),
        file_name: None,
        bytes: Vec::new(),
    };
    // The body is bounded before it gets here ([`hotline_http::limits::upload`]); the
    // fields of a form are few.
    for _ in 0..8 {
        let Some(field) = multipart.next_field().await.ok()? else {
            return Some(form);
        };
        match field.name() {
            Some("csrf") => form.csrf = field.text().await.ok()?,
            Some("file") => {
                form.file_name = field.file_name().map(str::to_owned);
                form.bytes = field.bytes().await.ok()?.to_vec();
            }
            _ => {
                field.bytes().await.ok()?;
            }
        }
    }
    None
}
