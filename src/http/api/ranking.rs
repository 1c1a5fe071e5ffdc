//! `GET /api/ranking?period=2026-11` (or `last30`): the department league table (部门排名),
//! each department's 响应率, 解决率 and 满意率 over the period, its score from
//! `[kpi] weights`, its rank and its colour at `[kpi] yellow_below` / `red_below` (the
//! rules are `hotline_core::ranking`; the counts are those of `GET /api/kpis`).
//!
//! Role-scoped as the KPIs are: operators and supervisors see every department; a
//! handler sees its own department's row only, ranked among all.

use super::tokens::Caller;
use super::{Api, ApiError};
use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use hotline_core::calendar::business_time;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

#[derive(Debug, Default, Deserialize)]
pub struct RankingQuery {
    /// `YYYY-MM` (a calendar month, business time) or `last30`; default `last30`.
    pub period: Option<String>,
}

/// `GET /api/ranking`.
pub async fn get_ranking(
    State(api): State<Arc<Api>>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<RankingQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let raw = query.period.unwrap_or_else(|| "last30".to_owned());
    let period =
        hotline_core::ranking::period(raw.trim(), Utc::now()).map_err(ApiError::bad_request)?;
    let counts = hotline_store::kpi::period_counts(
        &api.pool,
        period.from,
        period.to,
        None,
        api.kpi.basically_satisfied_counts,
    )
    .await
    .map_err(|e| ApiError::database(&e))?;
    let rules = api.submitter.rules.current();
    let report = hotline_core::kpi::report(counts, &rules.clock.calendar);
    let mut table = hotline_core::ranking::table(&api.kpi.ranking, &report.departments);
    if let Some(own) = caller.role.department() {
        table.retain(|s| s.department == own);
    }
    let name = |code: &str| {
        rules
            .catalog
            .departments
            .iter()
            .find(|d| d.code == code)
            .map(|d| d.name.clone())
    };
    let departments: Vec<serde_json::Value> = table
        .iter()
        .map(|s| {
            let mut row = serde_json::to_value(s).unwrap_or_default();
            row["name"] = json!(name(&s.department));
            row
        })
        .collect();
    let settings = &api.kpi.ranking;
    Ok(axum::Json(json!({
        "period": raw.trim(),
        "from": business_time(period.from),
        "to": business_time(period.to),
        "weights": {
            "response": settings.response_weight,
            "resolution": settings.resolution_weight,
            "satisfaction": settings.satisfaction_weight,
        },
        "yellow_below": settings.yellow_below,
        "red_below": settings.red_below,
        "departments": departments,
    }))
    .into_response())
}
