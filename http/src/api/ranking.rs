//! `GET /api/ranking?period=2026-11` (or `last30`): the department league table (部门排名),
//! each department's 响应率, 解决率 and 满意率 over the period, its score from
//! `[kpi] weights`, its rank and its colour at `[kpi] yellow_below` / `red_below` (the
//! rules are `hotline_core::ranking`; the counts are those of `GET /api/kpis`).
//!
//! Role-scoped as the KPIs are: operators and supervisors see every department; a
//! handler sees its own department's row only, ranked among all.

use super::openapi::{ErrorBody, Unauthorized, Unavailable, wire};
use super::tokens::Caller;
use super::{Api, ApiError};
use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use hotline_core::calendar::business_time;
use hotline_core::ranking::{Colour, Standing};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RankingQuery {
    /// `YYYY-MM` (a calendar month, business time, up to now if it is the current one) or
    /// `last30`; default `last30`. A month that has not begun is refused.
    #[param(pattern = r"^([0-9]{4}-(0[1-9]|1[0-2])|last30)$")]
    pub period: Option<String>,
}

/// The league table of a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct RankingAnswer {
    /// As asked: `YYYY-MM` or `last30`.
    period: String,
    #[schema(format = DateTime)]
    from: String,
    #[schema(format = DateTime)]
    to: String,
    weights: Weights,
    /// Scores below this are yellow.
    yellow_below: f64,
    /// Scores below this are red.
    red_below: f64,
    /// Best score first; departments without any rate last, unranked.
    departments: Vec<RankedDepartment>,
}

/// `[kpi] weights`: how much each rate counts in the score.
#[derive(Debug, Serialize, ToSchema)]
pub struct Weights {
    response: f64,
    resolution: f64,
    satisfaction: f64,
}

/// One department's row.
#[derive(Debug, Serialize, ToSchema)]
pub struct RankedDepartment {
    department: String,
    name: Option<String>,
    /// 响应率.
    response_rate: Option<f64>,
    /// 解决率.
    resolution_rate: Option<f64>,
    /// 满意率.
    satisfaction_rate: Option<f64>,
    /// Out of 100, two decimals; `null` without any of the three rates.
    score: Option<f64>,
    rank: Option<u32>,
    #[schema(value_type = Option<wire::Colour>)]
    colour: Option<Colour>,
}

/// `GET /api/ranking`.
#[utoipa::path(
    get,
    path = "/ranking",
    tag = "kpis",
    summary = "The department league table",
    description = "Each department's 响应率, 解决率 and 满意率 over a month or the last 30 \
        days, its weighted score, rank and colour. Operators and supervisors see every \
        department; a handler its own row, ranked among all.",
    params(RankingQuery),
    responses(
        (status = 200, description = "The table", body = RankingAnswer),
        (status = 400, description = "A period that is neither a month nor `last30`, or a \
            month not begun (`bad_request`)", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn get_ranking(
    State(api): State<Arc<Api>>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<RankingQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let raw = query.period.unwrap_or_else(|| "last30".to_owned());
    let now = hotline_store::database_now(&api.pool)
        .await
        .map_err(|e| ApiError::database(&e))?;
    let period = hotline_core::ranking::period(&raw, now).map_err(ApiError::bad_request)?;
    let counts = hotline_store::kpi::period_counts(
        &api.pool,
        period.from,
        period.to,
        None,
        api.kpi.basically_satisfied_counts,
    )
    .await
    .map_err(|e| ApiError::database(&e))?;
    let rules = api.rules();
    let report = hotline_core::kpi::report(counts, &rules.clock.calendar);
    let mut table = hotline_core::ranking::table(&api.kpi.ranking, &report.departments);
    if let Some(own) = caller.role.department() {
        table.retain(|s| s.department == own);
    }
    let name = |code: &str| rules.catalog.department(code).map(|d| d.name.clone());
    let settings = &api.kpi.ranking;
    Ok(axum::Json(RankingAnswer {
        period: raw.clone(),
        from: business_time(period.from),
        to: business_time(period.to),
        weights: Weights {
            response: settings.response_weight,
            resolution: settings.resolution_weight,
            satisfaction: settings.satisfaction_weight,
        },
        yellow_below: settings.yellow_below,
        red_below: settings.red_below,
        departments: table
            .into_iter()
            .map(|s| {
                let Standing {
                    department,
                    response_rate,
                    resolution_rate,
                    satisfaction_rate,
                    score,
                    rank,
                    colour,
                } = s;
                RankedDepartment {
                    name: name(&department),
                    department,
                    response_rate,
                    resolution_rate,
                    satisfaction_rate,
                    score,
                    rank,
                    colour,
                }
            })
            .collect(),
    })
    .into_response())
}
