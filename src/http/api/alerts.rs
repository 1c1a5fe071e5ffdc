//! `GET /api/alerts?department=&level=&order_no=&since=&limit=`: recent SLA alerts, newest
//! first. A handler sees its own department's alerts only.

use super::tokens::Caller;
use super::{Api, ApiError};
use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use hotline_core::calendar::business_time;
use hotline_store::read::{self, AlertFilter, AlertRecord};
use serde::Deserialize;
use std::sync::Arc;

pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;

#[derive(Debug, Default, Deserialize)]
pub struct AlertQuery {
    /// Department code.
    pub department: Option<String>,
    /// `sign_overdue`, `warning`, `overdue`, `statutory_overdue` (or any level added later).
    pub level: Option<String>,
    pub order_no: Option<String>,
    /// Only alerts fired at or after this instant (RFC 3339 with offset).
    pub since: Option<String>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// An alert as the API shows it, times in business time.
pub fn alert_view(a: &AlertRecord) -> serde_json::Value {
    serde_json::json!({
        "alert_id": a.alert_id,
        "order_no": a.order_no,
        "department": a.department,
        "level": a.level,
        "due_at": business_time(a.due_at),
        "fired_at": business_time(a.fired_at),
    })
}

/// An empty parameter (`?department=`) means no filter.
fn given(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
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
        && !(level.len() <= 32 && level.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
    {
        return Err(ApiError::bad_request(format!(
            "level {level:?} is not an alert level (sign_overdue, warning, overdue, statutory_overdue)"
        )));
    }
    Ok(level)
}

/// `GET /api/alerts`.
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
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);

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

    let alerts: Vec<serde_json::Value> = rows.iter().map(alert_view).collect();
    Ok(axum::Json(serde_json::json!({
        "alerts": alerts,
        "count": alerts.len(),
        "limit": limit,
    }))
    .into_response())
}
