//! `GET /api/catalog`: the departments, districts, matters (with their statutory limits)
//! and service points of the configuration in force, for the pickers of front ends; and
//! `POST /api/route-preview`: where a draft `complaint.received` would go, and by when,
//! if it were registered now — nothing is recorded.

use super::openapi::{ComplaintDraft, ErrorBody, Unauthorized, Unavailable, wire};
use super::tokens::{Caller, Role};
use super::{Api, ApiError};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hotline_core::calendar::business_time;
use hotline_core::config::Assignee;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use utoipa::ToSchema;

/// `GET /api/catalog`'s answer: the configuration in force (it follows reloads).
#[derive(Serialize, ToSchema)]
pub struct Catalog {
    pub departments: Vec<CatalogDepartment>,
    pub districts: Vec<CatalogDistrict>,
    pub matters: Vec<CatalogMatter>,
    pub service_points: Vec<CatalogServicePoint>,
}

/// A department of the catalog.
#[derive(Serialize, ToSchema)]
pub struct CatalogDepartment {
    #[schema(example = "SCJGJ")]
    pub code: String,
    #[schema(example = "市场监督管理局")]
    pub name: String,
    #[schema(value_type = wire::DepartmentKind)]
    pub kind: &'static str,
}

/// A district and its bureau.
#[derive(Serialize, ToSchema)]
pub struct CatalogDistrict {
    #[schema(example = "金井")]
    pub name: String,
    /// The district bureau that handles local matters there.
    pub department: String,
}

/// A matter (事项) with its statutory limit.
#[derive(Serialize, ToSchema)]
pub struct CatalogMatter {
    #[schema(example = "SC-0101")]
    pub code: String,
    pub name: String,
    /// The typical request kind, if the catalog gives one.
    #[schema(value_type = Option<wire::RequestKind>)]
    pub kind: Option<&'static str>,
    /// `15wd` (working days), `24h`, `30m` (natural hours, minutes).
    #[schema(example = "15wd")]
    pub statutory_limit: String,
    /// The department it goes to; `null` for matters of the district bureaus.
    pub department: Option<String>,
    /// Whether it goes to the bureau of the order's district.
    pub by_district: bool,
}

/// A service point of the hall.
#[derive(Serialize, ToSchema)]
pub struct CatalogServicePoint {
    #[schema(example = "ZX")]
    pub code: String,
    pub name: String,
    pub district: Option<String>,
}

/// `GET /api/catalog`: every role may read it (it names no citizen and no order).
#[utoipa::path(
    get,
    path = "/catalog",
    tag = "catalog",
    summary = "Departments, districts, matters and service points",
    description = "The configuration in force (it follows reloads), for the pickers of \
        front ends. Every role may read it.",
    responses(
        (status = 200, description = "The catalog", body = Catalog),
        (status = 401, response = Unauthorized),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn get_catalog(State(api): State<Arc<Api>>) -> axum::Json<Catalog> {
    let rules = api.rules();
    let catalog = &rules.catalog;
    let departments = catalog
        .departments
        .iter()
        .map(|d| CatalogDepartment {
            code: d.code.clone(),
            name: d.name.clone(),
            kind: d.kind.as_str(),
        })
        .collect();
    let districts = catalog
        .districts
        .iter()
        .map(|(name, bureau)| CatalogDistrict {
            name: name.clone(),
            department: bureau.clone(),
        })
        .collect();
    let matters = catalog
        .matters
        .iter()
        .map(|m| {
            let department = match &m.assignee {
                Assignee::Department(code) => Some(code.clone()),
                Assignee::District => None,
            };
            CatalogMatter {
                code: m.code.clone(),
                name: m.name.clone(),
                kind: m.kind.map(|k| k.as_str()),
                statutory_limit: m.statutory_limit.to_string(),
                by_district: department.is_none(),
                department,
            }
        })
        .collect();
    let service_points = catalog
        .service_points
        .iter()
        .map(|p| CatalogServicePoint {
            code: p.code.clone(),
            name: p.name.clone(),
            district: p.district.clone(),
        })
        .collect();
    axum::Json(Catalog {
        departments,
        districts,
        matters,
        service_points,
    })
}

/// `POST /api/route-preview`'s answer: what the intake would decide if the draft were
/// registered now.
#[derive(Serialize, ToSchema)]
pub struct RoutePreview {
    /// The department it would go to.
    pub department: String,
    pub department_name: Option<String>,
    /// The routing rule that would choose it, e.g. `catalog:SC-0101`, `keyword:过期→SC-0101`.
    pub rule: String,
    pub rule_version: i32,
    pub matter_code: Option<String>,
    pub matter_name: Option<String>,
    #[schema(example = "5wd")]
    pub statutory_limit: String,
    #[schema(format = DateTime)]
    pub received_at: String,
    #[schema(format = DateTime)]
    pub sign_due_at: String,
    #[schema(format = DateTime)]
    pub warning_due_at: String,
    #[schema(format = DateTime)]
    pub committed_due_at: String,
    #[schema(format = DateTime)]
    pub statutory_due_at: String,
    /// An `answer` with `resolved: true` closes the case at intake, without a task.
    pub answered_at_intake: bool,
    /// The database's clock the deadlines were computed from.
    #[schema(format = DateTime)]
    pub as_of: String,
}

/// `POST /api/route-preview`'s answer to a draft the intake would reject.
#[derive(Serialize, ToSchema)]
pub struct PreviewRejected {
    /// Always `rejected`.
    #[schema(example = "rejected")]
    pub error: &'static str,
    /// The reason code the intake would dead-letter it with.
    #[schema(value_type = wire::RejectCode)]
    pub code: &'static str,
    /// `<code>: <detail>`.
    pub message: String,
}

/// `POST /api/route-preview`: a draft `complaint.received` body (its `event_id`,
/// `order_no`, `type` and `occurred_at` may be left out) → the department, rule, and
/// deadlines the engine would choose now, from the database's clock. A draft the intake
/// would reject is answered 422 with the same reason; nothing is recorded or counted.
#[utoipa::path(
    post,
    path = "/route-preview",
    tag = "catalog",
    summary = "Where a draft complaint would go, and by when",
    description = "What the intake would decide if the draft were registered now, by the \
        database's clock and the routing in force (transfers included). Nothing is \
        recorded, counted or dead-lettered; no duplicate is looked for. Operators and \
        supervisors only.",
    request_body(content = ComplaintDraft, content_type = "application/json"),
    responses(
        (status = 200, description = "The department, rule and deadlines", body = RoutePreview),
        (status = 400, description = "The body is not a JSON object (`bad_request`)",
            body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "A handler token, or a session without its form token \
            (`forbidden`)", body = ErrorBody),
        (status = 413, description = "A body over `intake.max_body_bytes` (64 KiB by \
            default), refused before it is read (`too_large`)", body = ErrorBody),
        (status = 422, description = "A draft the intake would reject, with its reason code",
            body = PreviewRejected),
        (status = 503, response = Unavailable),
    ),
    security(("bearer" = []), ("session" = [], "csrf" = [])),
)]
pub async fn route_preview(
    State(api): State<Arc<Api>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Response, ApiError> {
    if let Role::Handler { .. } = caller.role {
        return Err(ApiError::forbidden(
            "cases are registered by operators: a handler token cannot preview routing",
        ));
    }
    let draft: serde_json::Map<String, Value> = serde_json::from_slice(&body).map_err(|_| {
        ApiError::bad_request("the body must be a JSON object: a draft complaint.received")
    })?;
    let now = hotline_store::database_now(&api.pool)
        .await
        .map_err(|e| ApiError::database(&e))?;
    let rules = api.rules();
    match hotline_core::decide::preview(&rules, &draft, now, api.max_body_bytes) {
        Ok(preview) => {
            let route = &preview.placement.route;
            let deadlines = &preview.placement.deadlines;
            let department_name = rules
                .catalog
                .department(&route.department)
                .map(|d| d.name.clone());
            Ok(axum::Json(RoutePreview {
                department: route.department.clone(),
                department_name,
                rule: route.rule.clone(),
                rule_version: route.rule_version,
                matter_code: route.matter_code.clone(),
                matter_name: route.matter_name.clone(),
                statutory_limit: route.statutory_limit.to_string(),
                received_at: business_time(preview.received_at),
                sign_due_at: business_time(deadlines.sign),
                warning_due_at: business_time(deadlines.warning),
                committed_due_at: business_time(deadlines.committed),
                statutory_due_at: business_time(deadlines.statutory),
                answered_at_intake: preview.answered_at_intake,
                as_of: business_time(now),
            })
            .into_response())
        }
        Err(rejection) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(PreviewRejected {
                error: "rejected",
                code: rejection.code.as_str(),
                message: rejection.to_string(),
            }),
        )
            .into_response()),
    }
}
