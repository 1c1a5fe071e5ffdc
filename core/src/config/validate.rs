//! From the file as written to a [`Config`]: every value checked, every cross reference
//! resolved, the first fault reported with its line.

use super::raw;
use super::{
    Assignee, Config, ConfigError, DEFAULT_MANUAL_DESK, Department, DepartmentKind, IntakeSettings,
    KpiSettings, Limit, Matter, RankingSettings, RetentionSettings, RoutingSettings,
    SchedulerSettings, ServicePoint, SlaSettings, Transfer,
};
use crate::attachment::{AttachmentSettings, StoreLocation};
use crate::calendar::{self, BusinessCalendar, SpecialDay};
use std::collections::HashSet;
use std::time::Duration;
use toml::Spanned;

use super::faults::Faults;

/// `notices`: the declared days of the notices directory, applied after the embedded data
/// and before the file's own `[calendar] days`. Each section is read by a function of its
/// own, in the order its cross references need; the defaults of a section are its
/// settings' `Default`.
pub(super) fn validate(
    raw: raw::File,
    text: &str,
    source: &str,
    notices: Vec<SpecialDay>,
) -> Result<Config, ConfigError> {
    let faults = Faults { text, source };
    let sla = sla(&faults, raw.sla.unwrap_or_default())?;
    let (departments, routing) =
        departments_and_routing(&faults, &raw.department, raw.routing.unwrap_or_default())?;
    let catalog = Known {
        faults: &faults,
        departments: departments.iter().map(|d| d.code.clone()).collect(),
    };
    let districts = districts(&catalog, &raw.district)?;
    let service_points = service_points(&faults, &raw.service_point, &districts)?;
    let matters = matters(&catalog, &raw.matter, !districts.is_empty())?;
    let transfers = transfers(&catalog, &raw.transfer, &matters)?;
    Ok(Config {
        source: source.to_owned(),
        sla,
        calendar: validate_calendar(&faults, raw.calendar.unwrap_or_default(), notices)?,
        routing,
        intake: intake(&faults, raw.intake.unwrap_or_default())?,
        kpi: kpi(&faults, raw.kpi.unwrap_or_default())?,
        scheduler: scheduler(&faults, raw.scheduler.unwrap_or_default())?,
        retention: retention(&faults, raw.retention.unwrap_or_default())?,
        attachments: attachments(&faults, raw.attachments.unwrap_or_default())?,
        departments,
        districts,
        service_points,
        matters,
        transfers,
    })
}

/// The department codes of the catalog, for the sections that name departments.
struct Known<'a> {
    faults: &'a Faults<'a>,
    departments: HashSet<String>,
}

impl Known<'_> {
    fn department(&self, value: &Spanned<String>, what: &str) -> Result<String, ConfigError> {
        if self.departments.contains(value.get_ref()) {
            Ok(value.get_ref().clone())
        } else {
            Err(self.faults.at(
                value.span(),
                format!("{what}: unknown department {:?}", value.get_ref()),
            ))
        }
    }
}

/// `[sla]`.
fn sla(faults: &Faults<'_>, raw: raw::Sla) -> Result<SlaSettings, ConfigError> {
    let defaults = SlaSettings::default();
    Ok(SlaSettings {
        commitment_ratio: faults.ratio(
            &raw.commitment_ratio,
            defaults.commitment_ratio,
            "sla.commitment_ratio",
        )?,
        warning_ratio: faults.ratio(
            &raw.warning_ratio,
            defaults.warning_ratio,
            "sla.warning_ratio",
        )?,
        sign_limit: match &raw.sign_limit {
            Some(v) => faults.limit(v, "sla.sign_limit")?,
            None => defaults.sign_limit,
        },
        urgent_sign_limit: match &raw.urgent_sign_limit {
            Some(v) => faults.limit(v, "sla.urgent_sign_limit")?,
            None => defaults.urgent_sign_limit,
        },
        emergency_sign_limit: match &raw.emergency_sign_limit {
            Some(v) => faults.limit(v, "sla.emergency_sign_limit")?,
            None => defaults.emergency_sign_limit,
        },
        max_extension_days: faults.within(
            &raw.max_extension_days,
            1..=250,
            defaults.max_extension_days,
            "sla.max_extension_days",
        )?,
        co_reply_ratio: faults.ratio(
            &raw.co_reply_ratio,
            defaults.co_reply_ratio,
            "sla.co_reply_ratio",
        )?,
    })
}

/// `[[department]]` and `[routing]`, read together: every catalog has a manual-dispatch
/// desk — the one `[routing]` names, else the department of kind "manual", else one added
/// here — and routing's fallbacks name departments.
fn departments_and_routing(
    faults: &Faults<'_>,
    raw_departments: &[raw::Department],
    raw: raw::Routing,
) -> Result<(Vec<Department>, RoutingSettings), ConfigError> {
    let mut departments = Vec::new();
    let mut codes = HashSet::new();
    for d in raw_departments {
        let code = faults.code(&d.code, "department.code")?;
        if !codes.insert(code.clone()) {
            return Err(faults.at(d.code.span(), format!("duplicate department code {code:?}")));
        }
        departments.push(Department {
            code,
            name: d.name.clone(),
            kind: d.kind.unwrap_or(DepartmentKind::Department),
        });
    }
    if departments.is_empty() {
        return Err(faults.whole("[[department]]: the catalog names no department"));
    }
    let has_manual = departments.iter().any(|d| d.kind == DepartmentKind::Manual);
    if raw.manual_department.is_none() && !has_manual {
        let (code, name) = DEFAULT_MANUAL_DESK;
        if !codes.insert(code.to_owned()) {
            return Err(faults.whole(format!(
                "[routing] manual_department: department {code} is not of kind \"manual\"; name the manual-dispatch desk"
            )));
        }
        departments.push(Department {
            code: code.to_owned(),
            name: name.to_owned(),
            kind: DepartmentKind::Manual,
        });
    }
    let known = Known {
        faults,
        departments: codes,
    };
    let manual_department = match &raw.manual_department {
        Some(v) => known.department(v, "routing.manual_department")?,
        None => departments
            .iter()
            .find(|d| d.kind == DepartmentKind::Manual)
            .map(|d| d.code.clone())
            .expect("a manual desk was found or added"),
    };
    let routing = RoutingSettings {
        district_fallback: match &raw.district_fallback {
            Some(v) => known.department(v, "routing.district_fallback")?,
            None => manual_department.clone(),
        },
        manual_department,
        duplicate_window: match &raw.duplicate_window {
            Some(v) => match faults.limit(v, "routing.duplicate_window")? {
                Limit::Natural(window) => window,
                Limit::WorkingDays(_) => {
                    return Err(faults.at(
                        v.span(),
                        "routing.duplicate_window must be natural time (\"24h\", \"90m\")",
                    ));
                }
            },
            None => RoutingSettings::DEFAULT_DUPLICATE_WINDOW,
        },
        return_review: raw
            .return_review
            .unwrap_or(RoutingSettings::DEFAULT_RETURN_REVIEW),
        return_window: match &raw.return_window {
            Some(v) => faults.limit(v, "routing.return_window")?,
            None => RoutingSettings::DEFAULT_RETURN_WINDOW,
        },
    };
    Ok((departments, routing))
}

/// `[[district]]`: each name once, each served by a known department.
fn districts(
    known: &Known<'_>,
    raw: &[raw::District],
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut districts = Vec::new();
    let mut names = HashSet::new();
    for d in raw {
        if !names.insert(d.name.get_ref().clone()) {
            return Err(known.faults.at(
                d.name.span(),
                format!("duplicate district {:?}", d.name.get_ref()),
            ));
        }
        districts.push((
            d.name.get_ref().clone(),
            known.department(&d.department, "district")?,
        ));
    }
    Ok(districts)
}

/// `[[service_point]]`: each code once, in a known district if it names one.
fn service_points(
    faults: &Faults<'_>,
    raw: &[raw::ServicePoint],
    districts: &[(String, String)],
) -> Result<Vec<ServicePoint>, ConfigError> {
    let mut service_points = Vec::new();
    let mut codes = HashSet::new();
    for p in raw {
        let code = faults.code(&p.code, "service_point.code")?;
        if !codes.insert(code.clone()) {
            return Err(faults.at(p.code.span(), format!("duplicate service point {code:?}")));
        }
        if let Some(district) = &p.district
            && !districts.iter().any(|(name, _)| name == district.get_ref())
        {
            return Err(faults.at(
                district.span(),
                format!(
                    "service_point {code:?}: unknown district {:?}",
                    district.get_ref()
                ),
            ));
        }
        service_points.push(ServicePoint {
            code,
            name: p.name.clone(),
            district: p.district.as_ref().map(|d| d.get_ref().clone()),
        });
    }
    Ok(service_points)
}

/// `[[matter]]`: each code once; its department, co-handlers and limit valid; `@district`
/// only where districts are defined.
fn matters(
    known: &Known<'_>,
    raw: &[raw::Matter],
    has_districts: bool,
) -> Result<Vec<Matter>, ConfigError> {
    let faults = known.faults;
    let mut matters = Vec::new();
    let mut codes = HashSet::new();
    for m in raw {
        if m.code.get_ref().trim().is_empty() {
            return Err(faults.at(m.code.span(), "matter code must not be empty"));
        }
        if !codes.insert(m.code.get_ref().clone()) {
            return Err(faults.at(
                m.code.span(),
                format!("duplicate matter code {:?}", m.code.get_ref()),
            ));
        }
        let assignee = if m.department.get_ref() == "@district" {
            if !has_districts {
                return Err(faults.at(
                    m.department.span(),
                    "matter uses \"@district\" but no [[district]] is defined",
                ));
            }
            Assignee::District
        } else {
            Assignee::Department(known.department(&m.department, "matter")?)
        };
        let mut co_departments = Vec::new();
        if let Some(co) = &m.co_departments {
            for code in co.get_ref() {
                if !known.departments.contains(code) {
                    return Err(faults.at(
                        co.span(),
                        format!(
                            "matter {:?}: unknown co-handling department {code:?}",
                            m.code.get_ref()
                        ),
                    ));
                }
                if !co_departments.contains(code) {
                    co_departments.push(code.clone());
                }
            }
        }
        matters.push(Matter {
            code: m.code.get_ref().clone(),
            name: m.name.clone(),
            kind: m.kind,
            assignee,
            statutory_limit: faults.limit(&m.statutory_limit, "statutory_limit")?,
            sign_limit: match &m.sign_limit {
                Some(v) => Some(faults.limit(v, "sign_limit")?),
                None => None,
            },
            keywords: m
                .keywords
                .iter()
                .map(|k| k.trim().to_owned())
                .filter(|k| !k.is_empty())
                .collect(),
            co_departments,
        });
    }
    Ok(matters)
}

/// `[[transfer]]`: known matters moved to a known department (or `@district`) from a date;
/// sorted by that date.
fn transfers(
    known: &Known<'_>,
    raw: &[raw::Transfer],
    matters: &[Matter],
) -> Result<Vec<Transfer>, ConfigError> {
    let faults = known.faults;
    let mut transfers = Vec::new();
    for t in raw {
        let effective = parse_effective(t.effective.get_ref())
            .map_err(|e| faults.at(t.effective.span(), format!("transfer.effective: {e}")))?;
        for code in t.matters.get_ref() {
            if !matters.iter().any(|m| m.code == *code) {
                return Err(faults.at(
                    t.matters.span(),
                    format!("transfer {:?}: unknown matter {code:?}", t.name),
                ));
            }
        }
        let assignee = if t.department.get_ref() == "@district" {
            Assignee::District
        } else {
            Assignee::Department(known.department(&t.department, "transfer")?)
        };
        transfers.push(Transfer {
            name: t.name.clone(),
            effective,
            matters: t.matters.get_ref().clone(),
            assignee,
        });
    }
    transfers.sort_by_key(|t| t.effective);
    Ok(transfers)
}

/// `[intake]`.
fn intake(faults: &Faults<'_>, raw: raw::Intake) -> Result<IntakeSettings, ConfigError> {
    let defaults = IntakeSettings::default();
    Ok(IntakeSettings {
        prefetch: faults.within(
            &raw.prefetch,
            1..=u16::MAX,
            defaults.prefetch,
            "intake.prefetch",
        )?,
        batch_size: faults.within(
            &raw.batch_size,
            1..=10_000,
            defaults.batch_size,
            "intake.batch_size",
        )?,
        batch_window: Duration::from_millis(faults.within(
            &raw.batch_window_ms,
            0..=10_000,
            defaults.batch_window.as_millis() as u64,
            "intake.batch_window_ms",
        )?),
        max_body_bytes: faults.within(
            &raw.max_body_bytes,
            1024..=16 * 1024 * 1024,
            defaults.max_body_bytes,
            "intake.max_body_bytes",
        )?,
        consumers: faults.within(
            &raw.consumers,
            1..=16,
            defaults.consumers,
            "intake.consumers",
        )?,
    })
}

/// `[kpi]`, the ranking's weights and thresholds included.
fn kpi(faults: &Faults<'_>, raw: raw::Kpi) -> Result<KpiSettings, ConfigError> {
    let defaults = KpiSettings::default();
    Ok(KpiSettings {
        basically_satisfied_counts: raw
            .basically_satisfied_counts
            .unwrap_or(defaults.basically_satisfied_counts),
        satisfaction_window_days: faults.within(
            &raw.satisfaction_window_days,
            1..=3660,
            defaults.satisfaction_window_days,
            "kpi.satisfaction_window_days",
        )?,
        satisfaction_marks: faults.marks(
            &raw.satisfaction_marks,
            defaults.satisfaction_marks,
            "kpi.satisfaction_marks",
        )?,
        on_time_marks: faults.marks(
            &raw.on_time_marks,
            defaults.on_time_marks,
            "kpi.on_time_marks",
        )?,
        response_marks: faults.marks(
            &raw.response_marks,
            defaults.response_marks,
            "kpi.response_marks",
        )?,
        appeal_window: match &raw.appeal_window {
            Some(v) => faults.limit(v, "kpi.appeal_window")?,
            None => defaults.appeal_window,
        },
        ranking: ranking(faults, &raw)?,
    })
}

/// `[scheduler]`.
fn scheduler(faults: &Faults<'_>, raw: raw::Scheduler) -> Result<SchedulerSettings, ConfigError> {
    Ok(SchedulerSettings {
        digest: faults.cron(
            &raw.digest_cron,
            SchedulerSettings::DEFAULT_DIGEST_CRON,
            "scheduler.digest_cron",
        )?,
        repair: faults.cron(
            &raw.repair_cron,
            SchedulerSettings::DEFAULT_REPAIR_CRON,
            "scheduler.repair_cron",
        )?,
        retention: faults.cron(
            &raw.retention_cron,
            SchedulerSettings::DEFAULT_RETENTION_CRON,
            "scheduler.retention_cron",
        )?,
    })
}

/// `[retention]`: days from 1 to 3650; citizen data kept for ever unless a number is set.
fn retention(faults: &Faults<'_>, raw: raw::Retention) -> Result<RetentionSettings, ConfigError> {
    let defaults = RetentionSettings::default();
    let days = |value: &Option<Spanned<u32>>, default: u32, what: &str| {
        faults.within(value, 1..=3650, default, what)
    };
    Ok(RetentionSettings {
        published_outbox_days: days(
            &raw.published_outbox_days,
            defaults.published_outbox_days,
            "retention.published_outbox_days",
        )?,
        processed_keys_days: days(
            &raw.processed_keys_days,
            defaults.processed_keys_days,
            "retention.processed_keys_days",
        )?,
        rejected_events_days: days(
            &raw.rejected_events_days,
            defaults.rejected_events_days,
            "retention.rejected_events_days",
        )?,
        citizen_data_days: match &raw.citizen_data_days {
            None => None,
            some => Some(days(some, 0, "retention.citizen_data_days")?),
        },
    })
}

/// `[attachments]`: a location, files of 1 KiB to 100 MiB, 1 to 200 files an order.
fn attachments(
    faults: &Faults<'_>,
    raw: raw::Attachments,
) -> Result<AttachmentSettings, ConfigError> {
    let defaults = AttachmentSettings::default();
    let location = match &raw.location {
        None => defaults.location,
        Some(text) => StoreLocation::parse(text.get_ref())
            .map_err(|why| faults.at(text.span(), format!("attachments.location: {why}")))?,
    };
    Ok(AttachmentSettings {
        location,
        max_bytes: faults.within(
            &raw.max_bytes,
            1024..=100 * 1024 * 1024,
            defaults.max_bytes,
            "attachments.max_bytes",
        )?,
        per_order: faults.within(
            &raw.per_order,
            1..=200,
            defaults.per_order,
            "attachments.per_order",
        )?,
    })
}

/// `[kpi] weights`, `yellow_below`, `red_below`: weights not negative and not all zero,
/// thresholds scores (0-100) with red_below <= yellow_below.
fn ranking(faults: &Faults<'_>, kpi: &raw::Kpi) -> Result<RankingSettings, ConfigError> {
    let defaults = RankingSettings::default();
    let mut settings = defaults;
    if let Some(weights) = &kpi.weights {
        let w = weights.get_ref();
        settings.response_weight = w.response.unwrap_or(defaults.response_weight);
        settings.resolution_weight = w.resolution.unwrap_or(defaults.resolution_weight);
        settings.satisfaction_weight = w.satisfaction.unwrap_or(defaults.satisfaction_weight);
        let all = [
            settings.response_weight,
            settings.resolution_weight,
            settings.satisfaction_weight,
        ];
        if all.iter().any(|w| !w.is_finite() || *w < 0.0) || all.iter().sum::<f64>() <= 0.0 {
            return Err(faults.at(
                weights.span(),
                "kpi.weights must be numbers >= 0, not all zero",
            ));
        }
    }
    let score = |value: &Option<Spanned<f64>>, default: f64, what: &str| match value {
        None => Ok(default),
        Some(v) if (0.0..=100.0).contains(v.get_ref()) => Ok(*v.get_ref()),
        Some(v) => Err(faults.at(
            v.span(),
            format!(
                "{what} must be a score from 0 to 100, found {}",
                v.get_ref()
            ),
        )),
    };
    settings.yellow_below = score(&kpi.yellow_below, defaults.yellow_below, "kpi.yellow_below")?;
    settings.red_below = score(&kpi.red_below, defaults.red_below, "kpi.red_below")?;
    if settings.red_below > settings.yellow_below {
        let span = kpi
            .red_below
            .as_ref()
            .or(kpi.yellow_below.as_ref())
            .map_or(0..0, |v| v.span());
        return Err(faults.at(span, "kpi.red_below must not be above kpi.yellow_below"));
    }
    Ok(settings)
}

/// The calendar the `[calendar]` section describes: its working hours, and the built-in
/// holiday data corrected and extended by its days.
fn validate_calendar(
    faults: &Faults<'_>,
    raw: raw::Calendar,
    notices: Vec<SpecialDay>,
) -> Result<BusinessCalendar, ConfigError> {
    let mut days = notices;
    for d in &raw.days {
        let day = SpecialDay::parse(
            d.date.get_ref(),
            d.off,
            d.name.as_deref().unwrap_or_default(),
        )
        .map_err(|e| faults.at(d.date.span(), format!("calendar.days: {e}")))?;
        days.push(day);
    }
    let (periods, span) = match &raw.working_hours {
        Some(hours) => (
            calendar::parse_periods(hours.get_ref())
                .map_err(|e| faults.at(hours.span(), format!("calendar.working_hours: {e}")))?,
            hours.span(),
        ),
        None => (
            calendar::parse_periods(&calendar::DEFAULT_PERIODS)
                .expect("the default periods are valid"),
            0..0,
        ),
    };
    BusinessCalendar::new(periods, days)
        .map_err(|e| faults.at(span, format!("calendar.working_hours: {e}")))
}

/// `"2027-01-01"` (midnight, business time) or an RFC 3339 instant.
fn parse_effective(raw: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    use chrono::TimeZone;
    if let Ok(instant) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Ok(instant.with_timezone(&chrono::Utc));
    }
    let date = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| format!("{raw:?} is neither a date (YYYY-MM-DD) nor an RFC 3339 instant"))?;
    crate::calendar::BUSINESS_TZ
        .from_local_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .single()
        .map(|t| t.with_timezone(&chrono::Utc))
        .ok_or_else(|| format!("{raw:?} has no single midnight"))
}
