//! The operator's configuration file (`HOTLINE_CONFIG`, TOML): catalog of departments,
//! districts and matters, SLA ratios, calendar and intake tuning.
//!
//! Loading is two steps: serde reads the file into `raw` structs that remember where each
//! value stood (`toml::Spanned`), then [`Config::from_raw`] checks the cross references
//! (a matter's department exists, codes are unique, limits parse) and reports the first
//! fault as `file:line: message`, so an operator can fix the file without reading code.

use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

/// The catalog the engine runs on when no `HOTLINE_CONFIG` file is given: a realistic
/// district government (departments, district bureaus, common matters).
pub const DEFAULT_CONFIG_TOML: &str = include_str!("default_catalog.toml");
const DEFAULT_CONFIG_NAME: &str = "<built-in default catalog>";

/// A fault in a configuration file, located by file and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// A time limit as operators write it: `"5wd"` (working days on the business calendar),
/// `"4h"` or `"30m"` (natural time, day and night, for urgent classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    WorkingDays(u32),
    Natural(Duration),
}

impl Limit {
    pub fn parse(raw: &str) -> Result<Limit, String> {
        let raw = raw.trim();
        let split = raw
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| format!("limit {raw:?} needs a unit: wd, h or m"))?;
        let (number, unit) = raw.split_at(split);
        let n: u32 = number
            .parse()
            .map_err(|_| format!("limit {raw:?} must start with a whole number"))?;
        if n == 0 {
            return Err(format!("limit {raw:?} must be greater than zero"));
        }
        match unit {
            "wd" => Ok(Limit::WorkingDays(n)),
            "h" => Ok(Limit::Natural(Duration::from_secs(u64::from(n) * 3600))),
            "m" => Ok(Limit::Natural(Duration::from_secs(u64::from(n) * 60))),
            _ => Err(format!(
                "limit {raw:?} has unknown unit {unit:?} (use wd, h or m)"
            )),
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::WorkingDays(n) => write!(f, "{n}wd"),
            Limit::Natural(d) if d.as_secs() % 3600 == 0 => write!(f, "{}h", d.as_secs() / 3600),
            Limit::Natural(d) => write!(f, "{}m", d.as_secs() / 60),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DepartmentKind {
    Department,
    DistrictBureau,
    Manual,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Department {
    /// Routing key on `hotline.tasks` and suffix of its queue: ASCII upper case.
    pub code: String,
    pub name: String,
    pub kind: DepartmentKind,
}

/// Where a matter goes: one department, or the district bureau of the order's place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignee {
    Department(String),
    District,
}

/// One catalogued public-service matter (事项) and who is responsible for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Matter {
    pub code: String,
    pub name: String,
    /// The typical request kind; informational (the event's own `kind` is authoritative).
    pub kind: Option<String>,
    pub assignee: Assignee,
    pub statutory_limit: Limit,
    pub keywords: Vec<String>,
}

/// A batch of powers moved between departments from an effective instant (e.g. 14
/// responsibilities handed to the district bureaus). Routing of the named matters changes
/// at that instant, without a restart; orders already dispatched keep their department.
#[derive(Debug, Clone, PartialEq)]
pub struct Transfer {
    pub name: String,
    pub effective: chrono::DateTime<chrono::Utc>,
    pub matters: Vec<String>,
    pub assignee: Assignee,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SlaSettings {
    /// Committed deadline = ratio × statutory limit (the "50% of statutory" promise).
    pub commitment_ratio: f64,
    /// Share of the committed time after which a `warning` alert is raised.
    pub warning_ratio: f64,
    /// Accept (签收) within this, else `sign_overdue`.
    pub sign_limit: Limit,
    /// The most extra working days one extension may grant.
    pub max_extension_days: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CalendarSettings {
    pub working_hours: Vec<String>,
    /// Operators' additions and corrections to the built-in holiday data (e.g. next
    /// year's State Council notice), without a rebuild.
    pub days: Vec<crate::calendar::SpecialDay>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingSettings {
    /// Where anything no rule places goes: the operators' manual-dispatch desk.
    pub manual_department: String,
    /// Where `@district` matters go when the order's district is unknown.
    pub district_fallback: String,
    /// A report of the same matter at the same address from the same phone within this
    /// window is merged into the first order instead of dispatched again.
    pub duplicate_window: Duration,
}

/// Intake tuning: how deliveries are batched into one transaction and one ack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeSettings {
    /// Unacknowledged deliveries the broker may push ahead (AMQP prefetch).
    pub prefetch: u16,
    /// At most this many deliveries per transaction.
    pub batch_size: usize,
    /// How long a partial batch waits for more deliveries before it is processed.
    pub batch_window: Duration,
    /// Bodies larger than this are rejected as `too_large` without parsing.
    pub max_body_bytes: usize,
    /// Intake consumers per process, each with its own connection and batches in flight.
    pub consumers: usize,
}

impl Default for IntakeSettings {
    fn default() -> Self {
        IntakeSettings {
            prefetch: 1024,
            batch_size: 256,
            batch_window: Duration::from_millis(5),
            max_body_bytes: 64 * 1024,
            consumers: 1,
        }
    }
}

/// When the periodic jobs run: cron expressions with six fields (seconds first), in
/// business time (Asia/Shanghai).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerSettings {
    /// The daily supervision digest (skipped on days off).
    pub digest_cron: String,
    /// The repair sweep that re-arms open orders without live timers.
    pub repair_cron: String,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        SchedulerSettings {
            digest_cron: "0 0 8 * * *".into(),
            repair_cron: "0 */5 * * * *".into(),
        }
    }
}

/// How KPIs are counted where cities differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KpiSettings {
    /// Whether "basically satisfied" (基本满意) counts as satisfied in 满意率.
    pub basically_satisfied_counts: bool,
    /// `hotline_satisfaction_ratio` covers orders closed within this many days.
    pub satisfaction_window_days: u32,
}

impl Default for KpiSettings {
    fn default() -> Self {
        KpiSettings {
            basically_satisfied_counts: true,
            satisfaction_window_days: 90,
        }
    }
}

/// A validated configuration: everything in it is consistent.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where it came from, for messages.
    pub source: String,
    pub sla: SlaSettings,
    pub calendar: CalendarSettings,
    pub routing: RoutingSettings,
    pub intake: IntakeSettings,
    pub kpi: KpiSettings,
    pub scheduler: SchedulerSettings,
    pub departments: Vec<Department>,
    /// District name → the code of its district bureau.
    pub districts: Vec<(String, String)>,
    /// In file order: keyword routing takes the first matter whose keyword matches.
    pub matters: Vec<Matter>,
    /// Sorted by effective instant.
    pub transfers: Vec<Transfer>,
}

impl Config {
    /// The built-in default catalog.
    pub fn builtin() -> Config {
        Config::parse(DEFAULT_CONFIG_TOML, DEFAULT_CONFIG_NAME)
            .expect("the built-in default catalog is valid")
    }

    /// Reads and validates a file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: name.clone(),
            line: 0,
            message: format!("cannot read: {e}"),
        })?;
        Config::parse(&text, &name)
    }

    /// Validates TOML text; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Config, ConfigError> {
        let raw: raw::File = toml::from_str(text).map_err(|e| ConfigError {
            file: source.to_owned(),
            line: e.span().map(|s| line_of(text, s.start)).unwrap_or(0),
            message: e.message().trim().to_owned(),
        })?;
        Config::from_raw(raw, text, source)
    }

    fn from_raw(raw: raw::File, text: &str, source: &str) -> Result<Config, ConfigError> {
        let fault = |span: std::ops::Range<usize>, message: String| ConfigError {
            file: source.to_owned(),
            line: line_of(text, span.start),
            message,
        };
        let limit = |value: &Spanned<String>, what: &str| {
            Limit::parse(value.get_ref()).map_err(|e| fault(value.span(), format!("{what}: {e}")))
        };
        let ratio = |value: &Option<Spanned<f64>>, default: f64, what: &str| match value {
            None => Ok(default),
            Some(v) if *v.get_ref() > 0.0 && *v.get_ref() <= 1.0 => Ok(*v.get_ref()),
            Some(v) => Err(fault(
                v.span(),
                format!("{what} must be in (0, 1], found {}", v.get_ref()),
            )),
        };

        let sla_raw = raw.sla.unwrap_or_default();
        let sla = SlaSettings {
            commitment_ratio: ratio(&sla_raw.commitment_ratio, 0.5, "sla.commitment_ratio")?,
            warning_ratio: ratio(&sla_raw.warning_ratio, 0.8, "sla.warning_ratio")?,
            sign_limit: match &sla_raw.sign_limit {
                Some(v) => limit(v, "sla.sign_limit")?,
                None => Limit::WorkingDays(1),
            },
            max_extension_days: sla_raw.max_extension_days.unwrap_or(10),
        };

        let mut departments = Vec::new();
        let mut codes = HashSet::new();
        for d in &raw.department {
            let code = d.code.get_ref();
            let valid = !code.is_empty()
                && code.len() <= 32
                && code
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            if !valid {
                return Err(fault(
                    d.code.span(),
                    format!(
                        "department code {code:?} must be 1-32 upper-case ASCII letters, digits or '_'"
                    ),
                ));
            }
            if !codes.insert(code.clone()) {
                return Err(fault(
                    d.code.span(),
                    format!("duplicate department code {code:?}"),
                ));
            }
            departments.push(Department {
                code: code.clone(),
                name: d.name.clone(),
                kind: d.kind.unwrap_or(DepartmentKind::Department),
            });
        }
        if departments.is_empty() {
            return Err(ConfigError {
                file: source.to_owned(),
                line: 0,
                message: "no [[department]] is defined".into(),
            });
        }
        let known = |value: &Spanned<String>, what: &str| {
            if codes.contains(value.get_ref()) {
                Ok(value.get_ref().clone())
            } else {
                Err(fault(
                    value.span(),
                    format!("{what}: unknown department {:?}", value.get_ref()),
                ))
            }
        };

        let routing_raw = raw.routing.unwrap_or_default();
        let routing = RoutingSettings {
            manual_department: match &routing_raw.manual_department {
                Some(v) => known(v, "routing.manual_department")?,
                None => default_manual(&departments, source)?,
            },
            district_fallback: match &routing_raw.district_fallback {
                Some(v) => known(v, "routing.district_fallback")?,
                None => default_manual(&departments, source)?,
            },
            duplicate_window: match &routing_raw.duplicate_window {
                Some(v) => match limit(v, "routing.duplicate_window")? {
                    Limit::Natural(window) => window,
                    Limit::WorkingDays(_) => {
                        return Err(fault(
                            v.span(),
                            "routing.duplicate_window must be natural time (\"24h\", \"90m\")"
                                .into(),
                        ));
                    }
                },
                None => Duration::from_secs(24 * 3600),
            },
        };

        let mut districts = Vec::new();
        let mut district_names = HashSet::new();
        for d in &raw.district {
            if !district_names.insert(d.name.get_ref().clone()) {
                return Err(fault(
                    d.name.span(),
                    format!("duplicate district {:?}", d.name.get_ref()),
                ));
            }
            districts.push((d.name.get_ref().clone(), known(&d.department, "district")?));
        }

        let mut matters = Vec::new();
        let mut matter_codes = HashSet::new();
        for m in &raw.matter {
            if m.code.get_ref().trim().is_empty() {
                return Err(fault(m.code.span(), "matter code must not be empty".into()));
            }
            if !matter_codes.insert(m.code.get_ref().clone()) {
                return Err(fault(
                    m.code.span(),
                    format!("duplicate matter code {:?}", m.code.get_ref()),
                ));
            }
            let assignee = if m.department.get_ref() == "@district" {
                if districts.is_empty() {
                    return Err(fault(
                        m.department.span(),
                        "matter uses \"@district\" but no [[district]] is defined".into(),
                    ));
                }
                Assignee::District
            } else {
                Assignee::Department(known(&m.department, "matter")?)
            };
            matters.push(Matter {
                code: m.code.get_ref().clone(),
                name: m.name.clone(),
                kind: m.kind.clone(),
                assignee,
                statutory_limit: limit(&m.statutory_limit, "statutory_limit")?,
                keywords: m
                    .keywords
                    .iter()
                    .map(|k| k.trim().to_owned())
                    .filter(|k| !k.is_empty())
                    .collect(),
            });
        }

        let mut transfers = Vec::new();
        for t in &raw.transfer {
            let effective = parse_effective(t.effective.get_ref())
                .map_err(|e| fault(t.effective.span(), format!("transfer.effective: {e}")))?;
            for code in t.matters.get_ref() {
                if !matter_codes.contains(code) {
                    return Err(fault(
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

        let calendar_raw = raw.calendar.unwrap_or_default();
        let mut days = Vec::new();
        for d in &calendar_raw.days {
            let day = crate::calendar::SpecialDay::parse(
                d.date.get_ref(),
                d.off,
                d.name.as_deref().unwrap_or_default(),
            )
            .map_err(|e| fault(d.date.span(), format!("calendar.days: {e}")))?;
            days.push(day);
        }
        let calendar = CalendarSettings {
            working_hours: match calendar_raw.working_hours {
                Some(hours) => {
                    crate::calendar::parse_periods(hours.get_ref())
                        .map_err(|e| fault(hours.span(), format!("calendar.working_hours: {e}")))?;
                    hours.into_inner()
                }
                None => vec!["08:00-12:00".into(), "14:30-17:30".into()],
            },
            days,
        };

        let intake_raw = raw.intake.unwrap_or_default();
        let defaults = IntakeSettings::default();
        let intake = IntakeSettings {
            prefetch: intake_raw.prefetch.unwrap_or(defaults.prefetch).max(1),
            batch_size: intake_raw.batch_size.unwrap_or(defaults.batch_size).max(1),
            batch_window: intake_raw
                .batch_window_ms
                .map(Duration::from_millis)
                .unwrap_or(defaults.batch_window),
            max_body_bytes: intake_raw.max_body_bytes.unwrap_or(defaults.max_body_bytes),
            consumers: intake_raw
                .consumers
                .unwrap_or(defaults.consumers)
                .clamp(1, 16),
        };

        let kpi_raw = raw.kpi.unwrap_or_default();
        let kpi_defaults = KpiSettings::default();
        let kpi = KpiSettings {
            basically_satisfied_counts: kpi_raw
                .basically_satisfied_counts
                .unwrap_or(kpi_defaults.basically_satisfied_counts),
            satisfaction_window_days: kpi_raw
                .satisfaction_window_days
                .unwrap_or(kpi_defaults.satisfaction_window_days)
                .max(1),
        };

        let scheduler_raw = raw.scheduler.unwrap_or_default();
        let cron = |value: Option<Spanned<String>>, default: String, what: &str| match value {
            None => Ok(default),
            Some(v) => {
                use std::str::FromStr;
                cron::Schedule::from_str(v.get_ref()).map_err(|e| {
                    fault(
                        v.span(),
                        format!(
                            "{what} {:?} is not a 6-field cron expression: {e}",
                            v.get_ref()
                        ),
                    )
                })?;
                Ok(v.into_inner())
            }
        };
        let scheduler_defaults = SchedulerSettings::default();
        let scheduler = SchedulerSettings {
            digest_cron: cron(
                scheduler_raw.digest_cron,
                scheduler_defaults.digest_cron,
                "scheduler.digest_cron",
            )?,
            repair_cron: cron(
                scheduler_raw.repair_cron,
                scheduler_defaults.repair_cron,
                "scheduler.repair_cron",
            )?,
        };

        Ok(Config {
            source: source.to_owned(),
            sla,
            calendar,
            routing,
            intake,
            kpi,
            scheduler,
            departments,
            districts,
            matters,
            transfers,
        })
    }

    pub fn department(&self, code: &str) -> Option<&Department> {
        self.departments.iter().find(|d| d.code == code)
    }

    pub fn matter_index(&self) -> HashMap<&str, &Matter> {
        self.matters.iter().map(|m| (m.code.as_str(), m)).collect()
    }
}

fn default_manual(departments: &[Department], source: &str) -> Result<String, ConfigError> {
    departments
        .iter()
        .find(|d| d.kind == DepartmentKind::Manual)
        .map(|d| d.code.clone())
        .ok_or_else(|| ConfigError {
            file: source.to_owned(),
            line: 0,
            message: "no [routing] manual_department and no department of kind \"manual\"".into(),
        })
}

/// `"2027-01-01"` (midnight, business time) or an RFC 3339 instant.
fn parse_effective(raw: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    use chrono::TimeZone;
    if let Ok(instant) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Ok(instant.with_timezone(&chrono::Utc));
    }
    let date = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| format!("{raw:?} is neither a date (YYYY-MM-DD) nor an RFC 3339 instant"))?;
    crate::BUSINESS_TZ
        .from_local_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .single()
        .map(|t| t.with_timezone(&chrono::Utc))
        .ok_or_else(|| format!("{raw:?} has no single midnight"))
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

/// The file as written, before validation.
mod raw {
    use super::DepartmentKind;
    use serde::Deserialize;
    use toml::Spanned;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct File {
        pub sla: Option<Sla>,
        pub calendar: Option<Calendar>,
        pub routing: Option<Routing>,
        pub intake: Option<Intake>,
        pub kpi: Option<Kpi>,
        pub scheduler: Option<Scheduler>,
        #[serde(default)]
        pub department: Vec<Department>,
        #[serde(default)]
        pub district: Vec<District>,
        #[serde(default)]
        pub matter: Vec<Matter>,
        #[serde(default)]
        pub transfer: Vec<Transfer>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Transfer {
        pub name: String,
        pub effective: Spanned<String>,
        pub matters: Spanned<Vec<String>>,
        pub department: Spanned<String>,
    }

    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    pub struct Sla {
        pub commitment_ratio: Option<Spanned<f64>>,
        pub warning_ratio: Option<Spanned<f64>>,
        pub sign_limit: Option<Spanned<String>>,
        pub max_extension_days: Option<u32>,
    }

    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    pub struct Calendar {
        pub working_hours: Option<Spanned<Vec<String>>>,
        #[serde(default)]
        pub days: Vec<Day>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Day {
        pub date: Spanned<String>,
        pub off: bool,
        pub name: Option<String>,
    }

    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    pub struct Routing {
        pub manual_department: Option<Spanned<String>>,
        pub district_fallback: Option<Spanned<String>>,
        pub duplicate_window: Option<Spanned<String>>,
    }

    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    pub struct Scheduler {
        pub digest_cron: Option<Spanned<String>>,
        pub repair_cron: Option<Spanned<String>>,
    }

    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    pub struct Kpi {
        pub basically_satisfied_counts: Option<bool>,
        pub satisfaction_window_days: Option<u32>,
    }

    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    pub struct Intake {
        pub prefetch: Option<u16>,
        pub batch_size: Option<usize>,
        pub batch_window_ms: Option<u64>,
        pub max_body_bytes: Option<usize>,
        pub consumers: Option<usize>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Department {
        pub code: Spanned<String>,
        pub name: String,
        pub kind: Option<DepartmentKind>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct District {
        pub name: Spanned<String>,
        pub department: Spanned<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Matter {
        pub code: Spanned<String>,
        pub name: String,
        pub kind: Option<String>,
        pub department: Spanned<String>,
        pub statutory_limit: Spanned<String>,
        #[serde(default)]
        pub keywords: Vec<String>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[sla]
commitment_ratio = 0.5
warning_ratio = 0.8
sign_limit = "1wd"

[calendar]
working_hours = ["08:00-12:00", "14:30-17:30"]

[[department]]
code = "SCJGJ"
name = "市场监督管理局"

[[department]]
code = "JJPQ"
name = "金井片区管理局"
kind = "district_bureau"

[[department]]
code = "MANUAL"
name = "人工派单"
kind = "manual"

[[district]]
name = "金井"
department = "JJPQ"

[[matter]]
code = "SC-0101"
name = "食品安全投诉"
department = "SCJGJ"
statutory_limit = "5wd"
keywords = ["食品", "过期"]

[[matter]]
code = "PQ-0001"
name = "占道经营"
department = "@district"
statutory_limit = "4h"
"#;

    #[test]
    fn a_good_file_loads() {
        let config = Config::parse(GOOD, "good.toml").unwrap();
        assert_eq!(config.departments.len(), 3);
        assert_eq!(config.routing.manual_department, "MANUAL");
        assert_eq!(config.routing.district_fallback, "MANUAL");
        assert_eq!(config.matters[0].statutory_limit, Limit::WorkingDays(5));
        assert_eq!(config.matters[1].assignee, Assignee::District);
        assert_eq!(
            config.matters[1].statutory_limit,
            Limit::Natural(Duration::from_secs(4 * 3600))
        );
        assert_eq!(config.intake, IntakeSettings::default());
        assert_eq!(
            config.routing.duplicate_window,
            Duration::from_secs(24 * 3600)
        );
        assert!(config.transfers.is_empty());
    }

    #[test]
    fn transfers_parse_dates_and_instants_in_business_time() {
        let text = format!(
            "{GOOD}\n[[transfer]]\nname = \"第二批\"\neffective = \"2027-01-01\"\nmatters = [\"SC-0101\"]\ndepartment = \"@district\"\n\n[[transfer]]\nname = \"第一批\"\neffective = \"2026-12-01T09:00:00+08:00\"\nmatters = [\"SC-0101\"]\ndepartment = \"JJPQ\"\n"
        );
        let config = Config::parse(&text, "t.toml").unwrap();
        assert_eq!(config.transfers.len(), 2);
        assert_eq!(
            config.transfers[0].name, "第一批",
            "sorted by effective instant"
        );
        assert_eq!(
            config.transfers[0].effective.to_rfc3339(),
            "2026-12-01T01:00:00+00:00"
        );
        assert_eq!(
            config.transfers[1].effective.to_rfc3339(),
            "2026-12-31T16:00:00+00:00"
        );
        assert_eq!(config.transfers[1].assignee, Assignee::District);
    }

    #[test]
    fn the_builtin_catalog_is_valid() {
        let config = Config::builtin();
        assert!(config.departments.len() >= 16);
        assert!(config.matters.len() >= 30);
        assert_eq!(config.districts.len(), 4);
    }

    #[test]
    fn faults_name_the_line_and_the_fault() {
        // (what, replace this, with this, the part of it the fault is reported at,
        //  expected words in the message)
        let cases = [
            (
                "unknown department",
                "department = \"SCJGJ\"",
                "department = \"NOPE\"",
                "department",
                "unknown department \"NOPE\"",
            ),
            (
                "bad limit",
                "statutory_limit = \"4h\"",
                "statutory_limit = \"4 weeks\"",
                "statutory_limit",
                "statutory_limit",
            ),
            (
                "zero limit",
                "statutory_limit = \"5wd\"",
                "statutory_limit = \"0wd\"",
                "statutory_limit",
                "greater than zero",
            ),
            (
                "duplicate matter",
                "code = \"PQ-0001\"",
                "code = \"SC-0101\"",
                "code",
                "duplicate matter code",
            ),
            (
                "duplicate department",
                "code = \"JJPQ\"",
                "code = \"SCJGJ\"",
                "code",
                "duplicate department code",
            ),
            (
                "ratio out of range",
                "warning_ratio = 0.8",
                "warning_ratio = 1.8",
                "warning_ratio",
                "warning_ratio",
            ),
            (
                "bad sign limit",
                "sign_limit = \"1wd\"",
                "sign_limit = \"1 day\"",
                "sign_limit",
                "sign_limit",
            ),
            (
                "unknown key",
                "warning_ratio = 0.8",
                "warning_ratio = 0.8\nwarn_ratio = 0.9",
                "warn_ratio",
                "unknown field",
            ),
            (
                "bad hours",
                "\"14:30-17:30\"]",
                "\"11:30-17:30\"]",
                "\"11:30",
                "working_hours",
            ),
            (
                "district bureau unknown",
                "department = \"JJPQ\"",
                "department = \"XXPQ\"",
                "department",
                "unknown department \"XXPQ\"",
            ),
            ("not toml", "[sla]", "[sla", "[sla", ""),
            (
                "bad cron",
                "[calendar]",
                "[scheduler]\ndigest_cron = \"every morning\"\n\n[calendar]",
                "digest_cron",
                "scheduler.digest_cron",
            ),
            (
                "transfer of an unknown matter",
                "keywords = [\"食品\", \"过期\"]",
                "keywords = []\n[[transfer]]\nname = \"b\"\neffective = \"2027-01-01\"\nmatters = [\"NOPE\"]\ndepartment = \"SCJGJ\"",
                "matters",
                "unknown matter \"NOPE\"",
            ),
            (
                "transfer with a bad date",
                "keywords = [\"食品\", \"过期\"]",
                "keywords = []\n[[transfer]]\nname = \"b\"\neffective = \"2027-13-01\"\nmatters = []\ndepartment = \"SCJGJ\"",
                "effective",
                "transfer.effective",
            ),
        ];
        for (what, from, to, at, words) in cases {
            let replaced_at = GOOD
                .find(from)
                .unwrap_or_else(|| panic!("{what}: not in GOOD"));
            let text = GOOD.replacen(from, to, 1);
            let fault_at = replaced_at + to.find(at).expect("marker inside the replacement");
            let line = text[..fault_at].matches('\n').count() + 1;
            let err = Config::parse(&text, "ops.toml").expect_err(what);
            assert_eq!(err.file, "ops.toml", "{what}");
            assert_eq!(err.line, line, "{what}: {err}");
            assert!(err.message.contains(words), "{what}: {err}");
            assert!(err.to_string().starts_with(&format!("ops.toml:{line}: ")));
        }
    }

    #[test]
    fn limits_parse_and_print() {
        let cases = [
            ("5wd", Some(Limit::WorkingDays(5))),
            ("15wd", Some(Limit::WorkingDays(15))),
            ("2h", Some(Limit::Natural(Duration::from_secs(7200)))),
            ("30m", Some(Limit::Natural(Duration::from_secs(1800)))),
            ("wd", None),
            ("5", None),
            ("5d", None),
            ("-1wd", None),
            ("0h", None),
            ("", None),
        ];
        for (text, expected) in cases {
            let parsed = Limit::parse(text).ok();
            assert_eq!(parsed, expected, "{text}");
            if let Some(limit) = parsed {
                assert_eq!(limit.to_string(), text);
            }
        }
    }
}
