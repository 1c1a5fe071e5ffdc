//! `GET /api/alerts?department=&level=&order_no=&since=&limit=`: recent SLA alerts, newest
//! first. A handler sees its own department's alerts only.

use super::openapi::{ErrorBody, Unauthorized, Unavailable, wire};
use super::tokens::Caller;
use super::{Api, ApiError};
use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use hotline_core::calendar::business_time;
use hotline_core::order_list::capped_limit;
use hotline_store::read::{self, AlertFilter, AlertRecord};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;

/// The parameters of `GET /api/alerts`. An empty one (`?department=`) means no filter.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// A department code; a handler may only give its own (else 403) and gets its own
    /// without it.
    pub department: Option<String>,
    /// An alert level (else 400).
    #[param(value_type = Option<wire::AlertLevel>)]
    pub level: Option<String>,
    /// One order's alerts.
    pub order_no: Option<String>,
    /// Only alerts fired at or after this instant (RFC 3339 with offset; `+` is `%2B`).
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// At most this many: default 100, at most 1000 (larger values are capped).
    #[param(value_type = Option<u64>, minimum = 1)]
    pub limit: Option<String>,
}

/// An SLA alert as the API shows it, times in business time.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Alert)]
pub struct AlertView {
    pub alert_id: uuid::Uuid,
    pub order_no: String,
    pub department: String,
    #[schema(value_type = wire::AlertLevel)]
    pub level: String,
    /// The deadline the alert is about.
    #[schema(format = DateTime)]
    pub due_at: String,
    #[schema(format = DateTime)]
    pub fired_at: String,
}

/// An alert as the API shows it, times in business time.
pub fn alert_view(a: &AlertRecord) -> AlertView {
    AlertView {
        alert_id: a.alert_id,
        order_no: a.order_no.clone(),
        department: a.department.clone(),
        level: a.level.clone(),
        due_at: business_time(a.due_at),
        fired_at: business_time(a.fired_at),
    }
}

/// `GET /api/alerts`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertList {
    /// Newest first (`fired_at`).
    pub alerts: Vec<AlertView>,
    /// How many `alerts` holds.
    pub count: usize,
    /// The limit applied.
    pub limit: u32,
}

/// An empty parameter (`?department=`) means no filter.
fn given(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// The department whose alerts `caller` asked for: a handler's own (asking for another is
/// 403), anyone else's choice (`None`: every department).
pub fn department_scope(
    caller: &Caller,
    asked: Option<String>,
) -> Result<Option<String>, ApiError> {
    let asked = given(asked);
    match (caller.role.department(), asked) {
        (Some(own), Some(asked)) if asked != own => Err(ApiError::forbidden(format!(
            "a handler of {own} sees only its own department's alerts"
        ))),
        (Some(own), _) => Ok(Some(own.to_owned())),
        (None, asked) => Ok(asked),
    }
}

/// An alert level to filter by, if one was asked for and could be one.
pub fn level_filter(level: Option<String>) -> Result<Option<String>, ApiError> {
    let level = given(level);
    if let Some(level) = &level
        && hotline_schema::values::AlertLevel::parse(level).is_none()
    {
        let shown: String = level.chars().take(40).collect();
        return Err(ApiError::bad_request(format!(
            "level {shown:?} is not an alert level ({})",
            hotline_schema::values::AlertLevel::NAMES.join(", ")
        )));
    }
    Ok(level)
}

/// `GET /api/alerts`.
#[utoipa::path(
    get,
    path = "/alerts",
    tag = "alerts",
    summary = "Recent SLA alerts",
    description = "Recent SLA alerts, newest first, filterable; a handler sees its own \
        department's.",
    params(AlertQuery),
    responses(
        (status = 200, description = "The alerts", body = AlertList),
        (status = 400, description = "A bad parameter (`bad_request`)", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "A handler asking for another department (`forbidden`)",
            body = ErrorBody),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn list_alerts(
    State(api): State<Arc<Api>>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<AlertQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let department = department_scope(&caller, query.department)?;
    let level = level_filter(query.level)?;
    let since = match given(query.since) {
        None => None,
        Some(raw) => Some(
            DateTime::parse_from_rfc3339(&raw)
                .map_err(|_| {
                    ApiError::bad_request(
                        "since must be RFC 3339 with an offset, e.g. 2026-11-25T10:00:00+08:00",
                    )
                })?
                .with_timezone(&Utc),
        ),
    };
    let limit = capped_limit(query.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;

    let filter = AlertFilter {
        department,
        level,
        order_no: given(query.order_no),
        since,
        limit: i64::from(limit),
    };
    let rows = read::alerts(&api.pool, &filter)
        .await
        .map_err(|e| ApiError::database(&e))?;

    let alerts: Vec<AlertView> = rows.iter().map(alert_view).collect();
    Ok(axum::Json(AlertList {
        count: alerts.len(),
        alerts,
        limit,
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::tokens::Role;
    use crate::test_support::caller;
    use axum::http::StatusCode;

    #[test]
    fn a_handler_gets_its_own_departments_alerts_and_the_others_what_they_ask_for() {
        let sc = || {
            caller(Role::Handler {
                department: "SCJGJ".into(),
            })
        };
        // (caller, department asked, department filtered by, or the refusal's status)
        let cases = [
            (sc(), None, Ok(Some("SCJGJ"))),
            (sc(), Some(""), Ok(Some("SCJGJ"))),
            (sc(), Some("SCJGJ"), Ok(Some("SCJGJ"))),
            (sc(), Some("YSBZX"), Err(StatusCode::FORBIDDEN)),
            (caller(Role::Operator), None, Ok(None)),
            (caller(Role::Operator), Some(""), Ok(None)),
            (caller(Role::Supervisor), Some("YSBZX"), Ok(Some("YSBZX"))),
        ];
        for (caller, asked, scope) in cases {
            assert_eq!(
                department_scope(&caller, asked.map(String::from)).map_err(|e| e.status),
                scope.map(|d| d.map(String::from)),
                "{} asking {asked:?}",
                caller.role
            );
        }
    }

    #[test]
    fn a_level_is_an_alert_level_and_an_empty_one_no_filter() {
        let refused = |asked: &str| {
            format!(
                "level {asked:?} is not an alert level ({})",
                hotline_schema::values::AlertLevel::NAMES.join(", ")
            )
        };
        // (level asked, level filtered by, or the refusal's message)
        let cases = [
            (None, Ok(None)),
            (Some(""), Ok(None)),
            (Some("warning"), Ok(Some("warning"))),
            (Some("sign_overdue"), Ok(Some("sign_overdue"))),
            (Some("urgent"), Err(refused("urgent"))),
            (Some("Warning"), Err(refused("Warning"))),
        ];
        for (asked, level) in cases {
            let got = level_filter(asked.map(String::from)).map_err(|e| {
                assert_eq!(e.status, StatusCode::BAD_REQUEST);
                e.message
            });
            assert_eq!(got, level.map(|l| l.map(String::from)), "{asked:?}");
        }
        let long = level_filter(Some("x".repeat(50))).unwrap_err();
        assert!(
            long.message
                .starts_with(&format!("level \"{}\" is not", "x".repeat(40))),
            "{}",
            long.message
        );
    }
}
