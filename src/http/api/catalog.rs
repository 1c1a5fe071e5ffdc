//! `GET /api/catalog`: the departments, districts, matters (with their statutory limits)
//! and service points of the configuration in force, for the pickers of front ends; and
//! `POST /api/route-preview`: where a draft `complaint.received` would go, and by when,
//! if it were registered now — nothing is recorded.

use super::tokens::{Caller, Role};
use super::{Api, ApiError};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hotline_core::calendar::business_time;
use hotline_core::config::Assignee;
use serde_json::{Value, json};
use std::sync::Arc;

/// `GET /api/catalog`: every role may read it (it names no citizen and no order).
pub async fn get_catalog(State(api): State<Arc<Api>>) -> Response {
    let rules = api.submitter.rules.current();
    let catalog = &rules.catalog;
    let departments: Vec<Value> = catalog
        .departments
        .iter()
        .map(|d| json!({"code": d.code, "name": d.name, "kind": d.kind.as_str()}))
        .collect();
    let districts: Vec<Value> = catalog
        .districts
        .iter()
        .map(|(name, bureau)| json!({"name": name, "department": bureau}))
        .collect();
    let matters: Vec<Value> = catalog
        .matters
        .iter()
        .map(|m| {
            let department = match &m.assignee {
                Assignee::Department(code) => Some(code.as_str()),
                Assignee::District => None,
            };
            json!({
                "code": m.code,
                "name": m.name,
                "kind": m.kind.map(|k| k.as_str()),
                "statutory_limit": m.statutory_limit.to_string(),
                "department": department,
                "by_district": department.is_none(),
            })
        })
        .collect();
    let service_points: Vec<Value> = catalog
        .service_points
        .iter()
        .map(|p| json!({"code": p.code, "name": p.name, "district": p.district}))
        .collect();
    axum::Json(json!({
        "departments": departments,
        "districts": districts,
        "matters": matters,
        "service_points": service_points,
    }))
    .into_response()
}

/// `POST /api/route-preview`: a draft `complaint.received` body (its `event_id`,
/// `order_no`, `type` and `occurred_at` may be left out) → the department, rule, and
/// deadlines the engine would choose now, from the database's clock. A draft the intake
/// would reject is answered 422 with the same reason; nothing is recorded or counted.
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
    let rules = api.submitter.rules.current();
    match hotline_core::decide::preview(&rules, &draft, now, api.max_body_bytes) {
        Ok(preview) => {
            let route = &preview.placement.route;
            let deadlines = &preview.placement.deadlines;
            let department_name = rules
                .catalog
                .departments
                .iter()
                .find(|d| d.code == route.department)
                .map(|d| d.name.clone());
            Ok(axum::Json(json!({
                "department": route.department,
                "department_name": department_name,
                "rule": route.rule,
                "rule_version": route.rule_version,
                "matter_code": route.matter_code,
                "matter_name": route.matter_name,
                "statutory_limit": route.statutory_limit.to_string(),
                "received_at": business_time(preview.received_at),
                "sign_due_at": business_time(deadlines.sign),
                "warning_due_at": business_time(deadlines.warning),
                "committed_due_at": business_time(deadlines.committed),
                "statutory_due_at": business_time(deadlines.statutory),
                "answered_at_intake": preview.answered_at_intake,
                "as_of": business_time(now),
            }))
            .into_response())
        }
        Err(rejection) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({
                "error": "rejected",
                "code": rejection.code.as_str(),
                "message": rejection.to_string(),
            })),
        )
            .into_response()),
    }
}
