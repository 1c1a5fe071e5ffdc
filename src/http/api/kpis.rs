//! `GET /api/kpis?from=&to=&department=`: what supervisors are measured on, per
//! department and period, per service point of the hall, and per routing rule (the rates
//! are defined in `hotline_core::kpi`).
//!
//! Every figure is counted from the timeline (the events that happened in the period), so
//! a period's numbers do not change when orders move on later.

use super::tokens::Caller;
use super::{Api, ApiError};
use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeZone, Utc};
use hotline_core::calendar::{BUSINESS_TZ, business_time};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

#[derive(Debug, Default, Deserialize)]
pub struct KpiQuery {
    /// Start of the period (inclusive): RFC 3339, or a date (midnight, business time).
    pub from: Option<String>,
    /// End of the period (exclusive); default now.
    pub to: Option<String>,
    pub department: Option<String>,
}

/// `2026-10-01` (midnight Asia/Shanghai) or an RFC 3339 instant.
fn instant(raw: &str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|d| BUSINESS_TZ.from_local_datetime(&d).single())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "{raw:?}: use a date (2026-10-01) or RFC 3339 (2026-10-01T00:00:00+08:00)"
            ))
        })
}

/// `GET /api/kpis`.
pub async fn get_kpis(
    State(api): State<Arc<Api>>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<KpiQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let mut department = query.department.filter(|d| !d.trim().is_empty());
    if let Some(own) = caller.role.department() {
        match &department {
            Some(asked) if asked != own => {
                return Err(ApiError::forbidden(format!(
                    "a handler of {own} sees only its own department's figures"
                )));
            }
            _ => department = Some(own.to_owned()),
        }
    }
    let to = match &query.to {
        Some(raw) => instant(raw)?,
        None => Utc::now(),
    };
    let from = match &query.from {
        Some(raw) => instant(raw)?,
        None => to - chrono::TimeDelta::days(30),
    };
    if from >= to {
        return Err(ApiError::bad_request("from must be before to"));
    }
    let counts = hotline_store::kpi::period_counts(
        &api.pool,
        from,
        to,
        department.as_deref(),
        api.kpi.basically_satisfied_counts,
    )
    .await
    .map_err(|e| ApiError::database(&e))?;
    let rules = api.submitter.rules.current();
    let report = hotline_core::kpi::report(counts, &rules.clock.calendar);
    Ok(axum::Json(json!({
        "from": business_time(from),
        "to": business_time(to),
        "basically_satisfied_counts": api.kpi.basically_satisfied_counts,
        "departments": report.departments,
        "service_points": report.service_points,
        "rules": report.rules,
    }))
    .into_response())
}
