//! `GET /api/kpis?from=&to=&department=`: what supervisors are measured on, per
//! department and period, per service point of the hall, and per routing rule (the rates
//! are defined in `hotline_core::kpi`).
//!
//! Every figure is counted from the timeline (the events that happened in the period), so
//! a period's numbers do not change when orders move on later.

use super::openapi::{ErrorBody, Unauthorized, Unavailable};
use super::tokens::Caller;
use super::{Api, ApiError};
use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeZone, Utc};
use hotline_core::calendar::{BUSINESS_TZ, business_time};
use hotline_core::kpi;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// The parameters of `GET /api/kpis`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KpiQuery {
    /// Start of the period (inclusive): a date (`2026-10-01`, midnight Asia/Shanghai) or an
    /// RFC 3339 instant; default 30 days before `to`.
    #[param(schema_with = super::openapi::date_or_instant)]
    pub from: Option<String>,
    /// End of the period (exclusive), as `from`; default now.
    #[param(schema_with = super::openapi::date_or_instant)]
    pub to: Option<String>,
    /// One department's figures; a handler may only give its own (else 403) and gets its
    /// own without it.
    pub department: Option<String>,
}

/// `GET /api/kpis`'s answer. Rates are `null` when nothing was counted.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = KpiReport)]
pub struct KpiAnswer {
    #[schema(format = DateTime)]
    pub from: String,
    #[schema(format = DateTime)]
    pub to: String,
    /// Whether 基本满意 counts as satisfied in `satisfaction_rate` (`[kpi]`).
    pub basically_satisfied_counts: bool,
    pub departments: Vec<DepartmentKpis>,
    pub service_points: Vec<ServicePointKpis>,
    pub rules: Vec<RuleKpis>,
}

/// A department's figures for the period (`hotline_core::kpi::DepartmentKpis`).
#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentKpis {
    pub department: String,
    pub dispatched: i64,
    pub accepted: i64,
    pub accepted_on_time: i64,
    /// 响应率: acceptances before the sign deadline ÷ dispatches.
    pub response_rate: Option<f64>,
    pub replied: i64,
    pub replied_on_time: i64,
    /// 按时办结率: replies before the committed deadline ÷ replies.
    pub on_time_rate: Option<f64>,
    pub rated: i64,
    pub satisfied: i64,
    /// 满意率: satisfied ÷ rated callbacks.
    pub satisfaction_rate: Option<f64>,
    pub resolved: i64,
    /// 解决率: callbacks saying resolved ÷ rated callbacks.
    pub resolution_rate: Option<f64>,
    pub returned: i64,
    /// 回退率: dispatches returned ÷ dispatches.
    pub return_rate: Option<f64>,
    pub reopened: i64,
    /// 重办率: callbacks that reopened the order ÷ rated callbacks.
    pub reopen_rate: Option<f64>,
    /// Ratings an upheld appeal took out of 满意率 (satisfied ÷ (rated − these)).
    pub rated_excluded: i64,
    /// Returns the review approved, and those it rejected (回退驳回).
    pub returns_approved: i64,
    pub returns_rejected: i64,
    /// As a co-handler (协办): co-replies, those by the co-reply deadline, and their rate.
    pub co_replied: i64,
    pub co_replied_on_time: i64,
    pub co_on_time_rate: Option<f64>,
    /// Orders urged in the period, per level.
    pub urged: UrgeCounts,
}

/// Orders urged, per level: 催办 (`reminder`), 督办 (`supervision`), 挂牌督办 (`listed`).
#[derive(Debug, Serialize, ToSchema)]
pub struct UrgeCounts {
    pub reminder: i64,
    pub supervision: i64,
    pub listed: i64,
}

/// A service point's figures, by completion time (`hotline_core::kpi::HallKpis`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ServicePointKpis {
    pub service_point: String,
    pub completed: i64,
    /// Checked in → called.
    pub avg_waiting_seconds: Option<f64>,
    /// Called → completed.
    pub avg_handling_seconds: Option<f64>,
    pub within_30m: i64,
    pub within_30m_share: Option<f64>,
}

/// A routing rule's figures (`hotline_core::kpi::RuleKpis`).
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleKpis {
    pub rule: String,
    pub dispatched: i64,
    pub returned: i64,
    pub return_rate: Option<f64>,
    /// The working time the departments that returned them held them.
    pub lost_working_seconds: f64,
}

// The core's figures, field by field: a field added there fails to compile here until the
// API (and so its document) says what becomes of it.
impl From<kpi::DepartmentKpis> for DepartmentKpis {
    fn from(k: kpi::DepartmentKpis) -> DepartmentKpis {
        let kpi::DepartmentKpis {
            department,
            dispatched,
            accepted,
            accepted_on_time,
            response_rate,
            replied,
            replied_on_time,
            on_time_rate,
            rated,
            satisfied,
            satisfaction_rate,
            resolved,
            resolution_rate,
            returned,
            return_rate,
            reopened,
            reopen_rate,
            rated_excluded,
            returns_approved,
            returns_rejected,
            co_replied,
            co_replied_on_time,
            co_on_time_rate,
            urged,
        } = k;
        DepartmentKpis {
            department,
            dispatched,
            accepted,
            accepted_on_time,
            response_rate,
            replied,
            replied_on_time,
            on_time_rate,
            rated,
            satisfied,
            satisfaction_rate,
            resolved,
            resolution_rate,
            returned,
            return_rate,
            reopened,
            reopen_rate,
            rated_excluded,
            returns_approved,
            returns_rejected,
            co_replied,
            co_replied_on_time,
            co_on_time_rate,
            urged: UrgeCounts {
                reminder: urged.reminder,
                supervision: urged.supervision,
                listed: urged.listed,
            },
        }
    }
}

impl From<kpi::HallKpis> for ServicePointKpis {
    fn from(k: kpi::HallKpis) -> ServicePointKpis {
        let kpi::HallKpis {
            figures:
                kpi::HallFigures {
                    service_point,
                    completed,
                    avg_waiting_seconds,
                    avg_handling_seconds,
                    within_30m,
                },
            within_30m_share,
        } = k;
        ServicePointKpis {
            service_point,
            completed,
            avg_waiting_seconds,
            avg_handling_seconds,
            within_30m,
            within_30m_share,
        }
    }
}

impl From<kpi::RuleKpis> for RuleKpis {
    fn from(k: kpi::RuleKpis) -> RuleKpis {
        let kpi::RuleKpis {
            rule,
            dispatched,
            returned,
            return_rate,
            lost_working_seconds,
        } = k;
        RuleKpis {
            rule,
            dispatched,
            returned,
            return_rate,
            lost_working_seconds,
        }
    }
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
#[utoipa::path(
    get,
    path = "/kpis",
    tag = "kpis",
    summary = "A period's KPIs",
    description = "Per department, service point and routing rule, counted from the \
        orders' timelines (a closed period's figures do not change later). Operators and \
        supervisors see every department, a handler its own.",
    params(KpiQuery),
    responses(
        (status = 200, description = "The figures", body = KpiAnswer),
        (status = 400, description = "A bad `from` or `to`, or `from` not before `to` \
            (`bad_request`)", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "A handler asking for another department (`forbidden`)",
            body = ErrorBody),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn get_kpis(
    State(api): State<Arc<Api>>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<KpiQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let mut department = query.department.filter(|d| !d.is_empty());
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
        // Now on the database's clock, the one the timelines were written on.
        None => hotline_store::database_now(&api.pool)
            .await
            .map_err(|e| ApiError::database(&e))?,
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
    let rules = api.rules();
    let kpi::KpiReport {
        departments,
        service_points,
        rules: by_rule,
    } = kpi::report(counts, &rules.clock.calendar);
    Ok(axum::Json(KpiAnswer {
        from: business_time(from),
        to: business_time(to),
        basically_satisfied_counts: api.kpi.basically_satisfied_counts,
        departments: departments.into_iter().map(Into::into).collect(),
        service_points: service_points.into_iter().map(Into::into).collect(),
        rules: by_rule.into_iter().map(Into::into).collect(),
    })
    .into_response())
}
