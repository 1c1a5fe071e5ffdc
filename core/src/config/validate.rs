//! From the file as written to a [`Config`]: every value checked, every cross reference
//! resolved, the first fault reported with its line.

use super::raw;
use super::{
    Assignee, Config, ConfigError, DEFAULT_MANUAL_DESK, Department, DepartmentKind, IntakeSettings,
    KpiSettings, Limit, Marks, Matter, RankingSettings, RetentionSettings, RoutingSettings,
    SchedulerSettings, ServicePoint, SlaSettings, Transfer, line_of,
};
use crate::calendar::{self, BusinessCalendar, SpecialDay};
use std::collections::HashSet;
use std::ops::{Range, RangeInclusive};
use std::time::Duration;
use toml::Spanned;

/// Reports faults at a place in the file.
struct Faults<'a> {
    text: &'a str,
    source: &'a str,
}

impl Faults<'_> {
    fn at(&self, span: Range<usize>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.source.to_owned(),
            line: Some(line_of(self.text, span.start)),
            message: message.into(),
        }
    }

    /// A fault of the file as a whole (a missing table): no line, the message names it.
    fn whole(&self, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.source.to_owned(),
            line: None,
            message: message.into(),
        }
    }

    /// A code that becomes part of AMQP names and a metric label: anything an AMQP name
    /// allows (1-200 bytes of UTF-8), but `.`, `*` and `#`, which would break routing keys
    /// like `<level>.<DEPT>`, and control characters.
    fn code(&self, value: &Spanned<String>, what: &str) -> Result<String, ConfigError> {
        let code = value.get_ref();
        let fits = !code.is_empty() && code.len() <= 200;
        let forbidden = code
            .chars()
            .any(|c| matches!(c, '.' | '*' | '#') || c.is_control());
        if fits && !forbidden {
            Ok(code.clone())
        } else {
            Err(self.at(
                value.span(),
                format!("{what} must be 1-200 bytes without '.', '*', '#' or control characters"),
            ))
        }
    }

    fn limit(&self, value: &Spanned<String>, what: &str) -> Result<Limit, ConfigError> {
        Limit::parse(value.get_ref()).map_err(|e| self.at(value.span(), format!("{what}: {e}")))
    }

    fn ratio(
        &self,
        value: &Option<Spanned<f64>>,
        default: f64,
        what: &str,
    ) -> Result<f64, ConfigError> {
        match value {
            None => Ok(default),
            Some(v) if *v.get_ref() > 0.0 && *v.get_ref() <= 1.0 => Ok(*v.get_ref()),
            Some(v) => Err(self.at(
                v.span(),
                format!("{what} must be in (0, 1], found {}", v.get_ref()),
            )),
        }
    }

    /// A whole number within `range`, or `default` when absent.
    fn within<T>(
        &self,
        value: &Option<Spanned<T>>,
        range: RangeInclusive<T>,
        default: T,
        what: &str,
    ) -> Result<T, ConfigError>
    where
        T: Copy + PartialOrd + std::fmt::Display,
    {
        match value {
            None => Ok(default),
            Some(v) if range.contains(v.get_ref()) => Ok(*v.get_ref()),
            Some(v) => Err(self.at(
                v.span(),
                format!(
                    "{what} must be between {} and {}, found {}",
                    range.start(),
                    range.end(),
                    v.get_ref()
                ),
            )),
        }
    }

    /// `[green, yellow]`: two rates, 0 ≤ yellow ≤ green ≤ 1.
    fn marks(
        &self,
        value: &Option<Spanned<Vec<f64>>>,
        default: Marks,
        what: &str,
    ) -> Result<Marks, ConfigError> {
        let Some(v) = value else {
            return Ok(default);
        };
        match v.get_ref().as_slice() {
            [green, yellow] if (0.0..=1.0).contains(green) && (0.0..=*green).contains(yellow) => {
                Ok(Marks {
                    green: *green,
                    yellow: *yellow,
                })
            }
            _ => Err(self.at(
                v.span(),
                format!("{what} must be [green, yellow]: two rates with 0 <= yellow <= green <= 1"),
            )),
        }
    }

    fn cron(
        &self,
        value: &Option<Spanned<String>>,
        default: &str,
        what: &str,
    ) -> Result<cron::Schedule, ConfigError> {
        let Some(v) = value else {
            return Ok(default.parse().expect("the default schedules are valid"));
        };
        v.get_ref().parse().map_err(|e| {
            self.at(
                v.span(),
                format!(
                    "{what} {:?} is not a 6-field cron expression: {e}",
                    v.get_ref()
                ),
            )
        })
    }
}

/// `notices`: the declared days of the notices directory, applied after the embedded data
/// and before the file's own `[calendar] days`.
pub(super) fn validate(
    raw: raw::File,
    text: &str,
    source: &str,
    notices: Vec<SpecialDay>,
) -> Result<Config, ConfigError> {
    let faults = Faults { text, source };

    let sla_raw = raw.sla.unwrap_or_default();
    let sla = SlaSettings {
        commitment_ratio: faults.ratio(&sla_raw.commitment_ratio, 0.5, "sla.commitment_ratio")?,
        warning_ratio: faults.ratio(&sla_raw.warning_ratio, 0.8, "sla.warning_ratio")?,
        sign_limit: match &sla_raw.sign_limit {
            Some(v) => faults.limit(v, "sla.sign_limit")?,
            None => Limit::WorkingDays(1),
        },
        max_extension_days: faults.within(
            &sla_raw.max_extension_days,
            1..=250,
            10,
            "sla.max_extension_days",
        )?,
        co_reply_ratio: faults.ratio(&sla_raw.co_reply_ratio, 0.6, "sla.co_reply_ratio")?,
    };

    let mut departments = Vec::new();
    let mut codes = HashSet::new();
    for d in &raw.department {
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
    let routing_raw = raw.routing.unwrap_or_default();
    // Every catalog has a manual-dispatch desk: the one named in [routing], else the
    // department of kind "manual", else one added here.
    let has_manual = departments.iter().any(|d| d.kind == DepartmentKind::Manual);
    if routing_raw.manual_department.is_none() && !has_manual {
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
    let known = |value: &Spanned<String>, what: &str| {
        if codes.contains(value.get_ref()) {
            Ok(value.get_ref().clone())
        } else {
            Err(faults.at(
                value.span(),
                format!("{what}: unknown department {:?}", value.get_ref()),
            ))
        }
    };
    let manual_department = match &routing_raw.manual_department {
        Some(v) => known(v, "routing.manual_department")?,
        None => departments
            .iter()
            .find(|d| d.kind == DepartmentKind::Manual)
            .map(|d| d.code.clone())
            .expect("a manual desk was found or added"),
    };
    let routing = RoutingSettings {
        district_fallback: match &routing_raw.district_fallback {
            Some(v) => known(v, "routing.district_fallback")?,
            None => manual_department.clone(),
        },
        manual_department,
        duplicate_window: match &routing_raw.duplicate_window {
            Some(v) => match faults.limit(v, "routing.duplicate_window")? {
                Limit::Natural(window) => window,
                Limit::WorkingDays(_) => {
                    return Err(faults.at(
                        v.span(),
                        "routing.duplicate_window must be natural time (\"24h\", \"90m\")",
                    ));
                }
            },
            None => Duration::from_secs(24 * 3600),
        },
        return_review: routing_raw.return_review.unwrap_or(true),
        return_window: match &routing_raw.return_window {
            Some(v) => faults.limit(v, "routing.return_window")?,
            None => Limit::WorkingDays(2),
        },
    };

    let mut districts = Vec::new();
    let mut district_names = HashSet::new();
    for d in &raw.district {
        if !district_names.insert(d.name.get_ref().clone()) {
            return Err(faults.at(
                d.name.span(),
                format!("duplicate district {:?}", d.name.get_ref()),
            ));
        }
        districts.push((d.name.get_ref().clone(), known(&d.department, "district")?));
    }

    let mut service_points = Vec::new();
    let mut point_codes = HashSet::new();
    for p in &raw.service_point {
        let code = faults.code(&p.code, "service_point.code")?;
        if !point_codes.insert(code.clone()) {
            return Err(faults.at(p.code.span(), format!("duplicate service point {code:?}")));
        }
        if let Some(district) = &p.district
            && !district_names.contains(district.get_ref())
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

    let mut matters = Vec::new();
    let mut matter_codes = HashSet::new();
    for m in &raw.matter {
        if m.code.get_ref().trim().is_empty() {
            return Err(faults.at(m.code.span(), "matter code must not be empty"));
        }
        if !matter_codes.insert(m.code.get_ref().clone()) {
            return Err(faults.at(
                m.code.span(),
                format!("duplicate matter code {:?}", m.code.get_ref()),
            ));
        }
        let assignee = if m.department.get_ref() == "@district" {
            if districts.is_empty() {
                return Err(faults.at(
                    m.department.span(),
                    "matter uses \"@district\" but no [[district]] is defined",
                ));
            }
            Assignee::District
        } else {
            Assignee::Department(known(&m.department, "matter")?)
        };
        let mut co_departments = Vec::new();
        if let Some(co) = &m.co_departments {
            for code in co.get_ref() {
                if !codes.contains(code) {
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
            keywords: m
                .keywords
                .iter()
                .map(|k| k.trim().to_owned())
                .filter(|k| !k.is_empty())
                .collect(),
            co_departments,
        });
    }

    let mut transfers = Vec::new();
    for t in &raw.transfer {
        let effective = parse_effective(t.effective.get_ref())
            .map_err(|e| faults.at(t.effective.span(), format!("transfer.effective: {e}")))?;
        for code in t.matters.get_ref() {
            if !matter_codes.contains(code) {
                return Err(faults.at(
                    t.matters.span(),
                    format!("transfer {:?}: unknown matter {code:?}", t.name),
                ));
            }
        }
        let assignee = if t.department.get_ref() == "@district" {
            Assignee::District
        } else {
            Assignee::Department(known(&t.department, "transfer")?)
        };
        transfers.push(Transfer {
            name: t.name.clone(),
            effective,
            matters: t.matters.get_ref().clone(),
            assignee,
        });
    }
    transfers.sort_by_key(|t| t.effective);

    let calendar = validate_calendar(&faults, raw.calendar.unwrap_or_default(), notices)?;

    let intake_raw = raw.intake.unwrap_or_default();
    let defaults = IntakeSettings::default();
    let intake = IntakeSettings {
        prefetch: faults.within(
            &intake_raw.prefetch,
            1..=u16::MAX,
            defaults.prefetch,
            "intake.prefetch",
        )?,
        batch_size: faults.within(
            &intake_raw.batch_size,
            1..=10_000,
            defaults.batch_size,
            "intake.batch_size",
        )?,
        batch_window: Duration::from_millis(faults.within(
            &intake_raw.batch_window_ms,
            0..=10_000,
            defaults.batch_window.as_millis() as u64,
            "intake.batch_window_ms",
        )?),
        max_body_bytes: faults.within(
            &intake_raw.max_body_bytes,
            1024..=16 * 1024 * 1024,
            defaults.max_body_bytes,
            "intake.max_body_bytes",
        )?,
        consumers: faults.within(
            &intake_raw.consumers,
            1..=16,
            defaults.consumers,
            "intake.consumers",
        )?,
    };

    let kpi_raw = raw.kpi.unwrap_or_default();
    let kpi_defaults = KpiSettings::default();
    let kpi = KpiSettings {
        basically_satisfied_counts: kpi_raw
            .basically_satisfied_counts
            .unwrap_or(kpi_defaults.basically_satisfied_counts),
        satisfaction_window_days: faults.within(
            &kpi_raw.satisfaction_window_days,
            1..=3660,
            kpi_defaults.satisfaction_window_days,
            "kpi.satisfaction_window_days",
        )?,
        satisfaction_marks: faults.marks(
            &kpi_raw.satisfaction_marks,
            kpi_defaults.satisfaction_marks,
            "kpi.satisfaction_marks",
        )?,
        on_time_marks: faults.marks(
            &kpi_raw.on_time_marks,
            kpi_defaults.on_time_marks,
            "kpi.on_time_marks",
        )?,
        response_marks: faults.marks(
            &kpi_raw.response_marks,
            kpi_defaults.response_marks,
            "kpi.response_marks",
        )?,
        appeal_window: match &kpi_raw.appeal_window {
            Some(v) => faults.limit(v, "kpi.appeal_window")?,
            None => kpi_defaults.appeal_window,
        },
        ranking: ranking(&faults, &kpi_raw)?,
    };

    let scheduler_raw = raw.scheduler.unwrap_or_default();
    let scheduler = SchedulerSettings {
        digest: faults.cron(
            &scheduler_raw.digest_cron,
            SchedulerSettings::DEFAULT_DIGEST_CRON,
            "scheduler.digest_cron",
        )?,
        repair: faults.cron(
            &scheduler_raw.repair_cron,
            SchedulerSettings::DEFAULT_REPAIR_CRON,
            "scheduler.repair_cron",
        )?,
        retention: faults.cron(
            &scheduler_raw.retention_cron,
            SchedulerSettings::DEFAULT_RETENTION_CRON,
            "scheduler.retention_cron",
        )?,
    };

    let retention_raw = raw.retention.unwrap_or_default();
    let kept = RetentionSettings::default();
    let days = |value: &Option<Spanned<u32>>, default: u32, what: &str| {
        faults.within(value, 1..=3650, default, what)
    };
    let retention = RetentionSettings {
        published_outbox_days: days(
            &retention_raw.published_outbox_days,
            kept.published_outbox_days,
            "retention.published_outbox_days",
        )?,
        processed_keys_days: days(
            &retention_raw.processed_keys_days,
            kept.processed_keys_days,
            "retention.processed_keys_days",
        )?,
        rejected_events_days: days(
            &retention_raw.rejected_events_days,
            kept.rejected_events_days,
            "retention.rejected_events_days",
        )?,
        citizen_data_days: match &retention_raw.citizen_data_days {
            None => None,
            some => Some(days(some, 0, "retention.citizen_data_days")?),
        },
    };

    Ok(Config {
        source: source.to_owned(),
        sla,
        calendar,
        routing,
        intake,
        kpi,
        scheduler,
        retention,
        departments,
        districts,
        service_points,
        matters,
        transfers,
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
