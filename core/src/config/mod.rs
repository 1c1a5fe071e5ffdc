//! The operator's configuration file (`HOTLINE_CONFIG`, TOML): catalog of departments,
//! districts and matters, SLA ratios, calendar, routing, schedules and intake tuning.
//!
//! Loading is two steps: serde reads the file into [`raw`] structs that remember where
//! each value stood (`toml::Spanned`), then [`validate`] checks every value and cross
//! reference (a matter's department exists, codes are unique, limits, hours and cron
//! expressions parse, tuning values are in range) and reports the first fault as
//! `file:line: message`. What comes out is typed through and through: nothing is parsed
//! again later.

mod faults;
mod limit;
mod raw;
mod validate;

pub use limit::Limit;

use crate::calendar::notice::{NOTICES_DIR, Notice};
use crate::calendar::{BusinessCalendar, SpecialDay};
use hotline_schema::named_enum;
use hotline_schema::values::RequestKind;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The catalog the engine runs on when no `HOTLINE_CONFIG` file is given: a realistic
/// district government (departments, district bureaus, common matters).
pub const DEFAULT_CONFIG_TOML: &str = include_str!("default_catalog.toml");
const DEFAULT_CONFIG_NAME: &str = "<built-in default catalog>";

/// A small catalog whose routing outcomes the tests know: the one fixture unit and
/// end-to-end tests share.
pub const TEST_CATALOG: &str = include_str!("test_catalog.toml");

/// A fault in a configuration file: the file, the line when the fault has one, and a
/// message that names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{} {message}", at_line(line))]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

/// `12:` for a fault on line 12, nothing for one without a line: `file:12: fault`,
/// `file: fault`.
fn at_line(line: &Option<usize>) -> String {
    line.map(|line| format!("{line}:")).unwrap_or_default()
}

named_enum! {
    /// What a unit of the catalog is.
    pub enum DepartmentKind("department kind") {
        /// A department of the district government (区直部门).
        Department = "department",
        /// A district bureau (片区管理局), the place's unit for local matters.
        DistrictBureau = "district_bureau",
        /// The hotline's manual-dispatch desk (人工派单席).
        Manual = "manual",
    }
}

/// The manual-dispatch desk a catalog without one gets: every order no rule places
/// lands somewhere.
pub const DEFAULT_MANUAL_DESK: (&str, &str) = ("MANUAL", "12345热线人工派单席");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Department {
    /// Routing key on `hotline.tasks` and suffix of its queue: what an AMQP name allows
    /// but `.`, `*` and `#` (they would break `<level>.<DEPT>` routing keys).
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
    pub kind: Option<RequestKind>,
    pub assignee: Assignee,
    pub statutory_limit: Limit,
    /// Accept (签收) within this, when the matter has a limit of its own (else by the
    /// order's urgency and class, [`crate::sla::SlaClock::sign_limit`]).
    pub sign_limit: Option<Limit>,
    pub keywords: Vec<String>,
    /// Departments that co-handle (协办) every order of this matter beside the lead.
    pub co_departments: Vec<String>,
}

/// A place of the service hall (服务网点): the main centre, a branch centre, an office, the
/// 24-hour self-service hall. Appointments name one; it is a metric label, so only the
/// catalog's codes are accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePoint {
    pub code: String,
    pub name: String,
    pub district: Option<String>,
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
    /// Accept (签收) within this, else `sign_overdue`: the general rule, for orders that
    /// are neither urgent nor of an urgent class and whose matter has no limit of its own.
    pub sign_limit: Limit,
    /// The sign limit of an `urgent` order, and of an urgent class (a matter whose
    /// statutory limit runs on the clock, day and night).
    pub urgent_sign_limit: Limit,
    /// The sign limit of an `emergency` order.
    pub emergency_sign_limit: Limit,
    /// The most extra working days one extension may grant.
    pub max_extension_days: u32,
    /// A co-handler's co-reply deadline: this share of the committed time after its task.
    pub co_reply_ratio: f64,
}

impl Default for SlaSettings {
    fn default() -> Self {
        SlaSettings {
            commitment_ratio: 0.5,
            warning_ratio: 0.8,
            sign_limit: Limit::WorkingDays(1),
            // Practice: urgent classes are signed for within 15–30 minutes.
            urgent_sign_limit: Limit::Natural(Duration::from_secs(30 * 60)),
            emergency_sign_limit: Limit::Natural(Duration::from_secs(15 * 60)),
            max_extension_days: 10,
            co_reply_ratio: 0.6,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RoutingSettings {
    /// Where anything no rule places goes: the operators' manual-dispatch desk.
    pub manual_department: String,
    /// Where `@district` matters go when the order's district is unknown.
    pub district_fallback: String,
    /// A report of the same matter at the same address from the same phone within this
    /// window is merged into the first order instead of dispatched again.
    pub duplicate_window: Duration,
    /// Whether a return (退单) waits for an operator's review (`return_pending`) instead of
    /// being re-dispatched at once.
    pub return_review: bool,
    /// A return later than this after the dispatch is refused.
    pub return_window: Limit,
}

/// The defaults of `[routing]` (its departments default to the catalog's manual desk).
impl RoutingSettings {
    pub const DEFAULT_DUPLICATE_WINDOW: Duration = Duration::from_secs(24 * 3600);
    pub const DEFAULT_RETURN_REVIEW: bool = true;
    pub const DEFAULT_RETURN_WINDOW: Limit = Limit::WorkingDays(2);
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

/// When the periodic jobs run: cron schedules with six fields (seconds first), evaluated
/// in business time (Asia/Shanghai).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerSettings {
    /// The daily supervision digest (skipped on days off).
    pub digest: cron::Schedule,
    /// The repair sweep that re-arms open orders without live timers.
    pub repair: cron::Schedule,
    /// The retention sweep (`[retention]`).
    pub retention: cron::Schedule,
}

impl SchedulerSettings {
    pub const DEFAULT_DIGEST_CRON: &str = "0 0 8 * * *";
    pub const DEFAULT_REPAIR_CRON: &str = "0 */5 * * * *";
    pub const DEFAULT_RETENTION_CRON: &str = "0 30 3 * * *";
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        let parse = |cron: &str| cron.parse().expect("the default schedules are valid");
        SchedulerSettings {
            digest: parse(Self::DEFAULT_DIGEST_CRON),
            repair: parse(Self::DEFAULT_REPAIR_CRON),
            retention: parse(Self::DEFAULT_RETENTION_CRON),
        }
    }
}

/// What the engine keeps, and for how long (in days). Nothing a citizen sent is lost
/// before these: rejected bodies stay half a year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionSettings {
    /// Outbox messages published (confirmed by the broker) this long ago are deleted.
    pub published_outbox_days: u32,
    /// Idempotency keys taken this long ago are forgotten: an event redelivered later
    /// than this would take effect again.
    pub processed_keys_days: u32,
    /// Rejected bodies (the dead letters' copies) are deleted after this.
    pub rejected_events_days: u32,
    /// When set, the citizen's name and phone are erased from orders closed (and
    /// appointments finished) this long ago. Off by default.
    pub citizen_data_days: Option<u32>,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            published_outbox_days: 30,
            processed_keys_days: 30,
            rejected_events_days: 180,
            citizen_data_days: None,
        }
    }
}

/// How KPIs are counted where cities differ.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiSettings {
    /// Whether "basically satisfied" (基本满意) counts as satisfied in 满意率.
    pub basically_satisfied_counts: bool,
    /// `hotline_satisfaction_ratio` covers orders closed within this many days.
    pub satisfaction_window_days: u32,
    /// Where the board marks 满意率, 按时办结率 and 响应率 green, yellow or red.
    pub satisfaction_marks: Marks,
    pub on_time_marks: Marks,
    pub response_marks: Marks,
    /// A dissatisfied rating may be appealed (评价复核) within this of its callback.
    pub appeal_window: Limit,
    /// The league table's weights and colour thresholds (scores out of 100).
    pub ranking: RankingSettings,
}

/// How the department league table scores: `weights` of 响应率, 解决率 and 满意率, and
/// the scores below which a department is yellow or red.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankingSettings {
    pub response_weight: f64,
    pub resolution_weight: f64,
    pub satisfaction_weight: f64,
    pub yellow_below: f64,
    pub red_below: f64,
}

impl Default for RankingSettings {
    fn default() -> Self {
        RankingSettings {
            response_weight: 0.3,
            resolution_weight: 0.35,
            satisfaction_weight: 0.35,
            yellow_below: 90.0,
            red_below: 80.0,
        }
    }
}

/// A rate at or above `green` is marked green, at or above `yellow` yellow, else red
/// (`[kpi] *_marks = [green, yellow]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Marks {
    pub green: f64,
    pub yellow: f64,
}

impl Default for KpiSettings {
    fn default() -> Self {
        KpiSettings {
            basically_satisfied_counts: true,
            satisfaction_window_days: 90,
            satisfaction_marks: Marks {
                green: 0.90,
                yellow: 0.80,
            },
            on_time_marks: Marks {
                green: 0.95,
                yellow: 0.85,
            },
            response_marks: Marks {
                green: 0.95,
                yellow: 0.85,
            },
            appeal_window: Limit::WorkingDays(5),
            ranking: RankingSettings::default(),
        }
    }
}

/// A validated configuration: everything in it is consistent and typed.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it came from, for messages.
    pub source: String,
    pub sla: SlaSettings,
    /// Working hours and days: the built-in holiday data, corrected and extended by the
    /// file's `[calendar] days`.
    pub calendar: BusinessCalendar,
    pub routing: RoutingSettings,
    pub intake: IntakeSettings,
    pub kpi: KpiSettings,
    pub scheduler: SchedulerSettings,
    pub retention: RetentionSettings,
    pub attachments: crate::attachment::AttachmentSettings,
    pub departments: Vec<Department>,
    /// District name → the code of its district bureau.
    pub districts: Vec<(String, String)>,
    pub service_points: Vec<ServicePoint>,
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

    /// The shared test catalog ([`TEST_CATALOG`]).
    pub fn test_catalog() -> Config {
        Config::parse(TEST_CATALOG, "<test catalog>").expect("the test catalog is valid")
    }

    /// Reads and validates a file, with the notices of the [`NOTICES_DIR`] beside it.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: name.clone(),
            line: None,
            message: format!("cannot read: {e}"),
        })?;
        let notices = read_notices(&Config::notices_dir(Some(path)))?;
        Config::parse_with_notices(&text, &name, notices)
    }

    /// The built-in catalog, with the notices of the [`NOTICES_DIR`] in the working
    /// directory.
    pub fn builtin_with_notices() -> Result<Config, ConfigError> {
        let notices = read_notices(&Config::notices_dir(None))?;
        Config::parse_with_notices(DEFAULT_CONFIG_TOML, DEFAULT_CONFIG_NAME, notices)
    }

    /// Where the imported notices of the configuration file at `path` (or of the built-in
    /// catalog) are kept.
    pub fn notices_dir(path: Option<&Path>) -> PathBuf {
        let beside = path
            .and_then(Path::parent)
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        beside.join(NOTICES_DIR)
    }

    /// Validates TOML text; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Config, ConfigError> {
        Config::parse_with_notices(text, source, Vec::new())
    }

    fn parse_with_notices(
        text: &str,
        source: &str,
        notices: Vec<SpecialDay>,
    ) -> Result<Config, ConfigError> {
        let raw: raw::File = toml::from_str(text).map_err(|e| ConfigError {
            file: source.to_owned(),
            line: e.span().map(|s| line_of(text, s.start)),
            message: e.message().trim().to_owned(),
        })?;
        validate::validate(raw, text, source, notices)
    }

    /// The co-handling departments (协办) of each matter that names some, by matter code.
    pub fn co_departments_by_matter(&self) -> HashMap<String, Vec<String>> {
        self.matters
            .iter()
            .filter(|m| !m.co_departments.is_empty())
            .map(|m| (m.code.clone(), m.co_departments.clone()))
            .collect()
    }

    pub fn department(&self, code: &str) -> Option<&Department> {
        self.departments.iter().find(|d| d.code == code)
    }

    /// Every department code, in catalog order (a task queue each).
    pub fn department_codes(&self) -> Vec<String> {
        self.departments.iter().map(|d| d.code.clone()).collect()
    }

    pub fn matter_index(&self) -> HashMap<&str, &Matter> {
        self.matters.iter().map(|m| (m.code.as_str(), m)).collect()
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests;

/// The declared days of every `*.json` notice in `dir`, by file name; none if there is no
/// such directory. A notice with a fault refuses the whole configuration, naming the file.
fn read_notices(dir: &Path) -> Result<Vec<SpecialDay>, ConfigError> {
    let fault = |file: &Path, message: String| ConfigError {
        file: file.display().to_string(),
        line: None,
        message,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(fault(
                dir,
                format!("cannot read the notices directory: {e}"),
            ));
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    let mut days = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| fault(&file, format!("cannot read: {e}")))?;
        let notice = Notice::parse(&text).map_err(|e| fault(&file, e.to_string()))?;
        days.extend(notice.days().iter().cloned());
    }
    Ok(days)
}
