//! The configuration file as written, before validation: every value an operator can get
//! wrong keeps its place in the file (`toml::Spanned`), so a fault names its line.

use super::DepartmentKind;
use hotline_schema::values::RequestKind;
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
    pub retention: Option<Retention>,
    pub attachments: Option<Attachments>,
    #[serde(default)]
    pub department: Vec<Department>,
    #[serde(default)]
    pub district: Vec<District>,
    #[serde(default)]
    pub service_point: Vec<ServicePoint>,
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
    pub urgent_sign_limit: Option<Spanned<String>>,
    pub emergency_sign_limit: Option<Spanned<String>>,
    pub max_extension_days: Option<Spanned<u32>>,
    pub co_reply_ratio: Option<Spanned<f64>>,
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
    pub return_review: Option<bool>,
    pub return_window: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Scheduler {
    pub digest_cron: Option<Spanned<String>>,
    pub repair_cron: Option<Spanned<String>>,
    pub retention_cron: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    pub published_outbox_days: Option<Spanned<u32>>,
    pub processed_keys_days: Option<Spanned<u32>>,
    pub rejected_events_days: Option<Spanned<u32>>,
    pub citizen_data_days: Option<Spanned<u32>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Attachments {
    pub location: Option<Spanned<String>>,
    pub max_bytes: Option<Spanned<usize>>,
    pub per_order: Option<Spanned<u32>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Kpi {
    pub basically_satisfied_counts: Option<bool>,
    pub satisfaction_window_days: Option<Spanned<u32>>,
    pub satisfaction_marks: Option<Spanned<Vec<f64>>>,
    pub on_time_marks: Option<Spanned<Vec<f64>>>,
    pub response_marks: Option<Spanned<Vec<f64>>>,
    pub appeal_window: Option<Spanned<String>>,
    pub weights: Option<Spanned<Weights>>,
    pub yellow_below: Option<Spanned<f64>>,
    pub red_below: Option<Spanned<f64>>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    pub response: Option<f64>,
    pub resolution: Option<f64>,
    pub satisfaction: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Intake {
    pub prefetch: Option<Spanned<u16>>,
    pub batch_size: Option<Spanned<usize>>,
    pub batch_window_ms: Option<Spanned<u64>>,
    pub max_body_bytes: Option<Spanned<usize>>,
    pub consumers: Option<Spanned<usize>>,
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
pub struct ServicePoint {
    pub code: Spanned<String>,
    pub name: String,
    pub district: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matter {
    pub code: Spanned<String>,
    pub name: String,
    pub kind: Option<RequestKind>,
    pub department: Spanned<String>,
    pub statutory_limit: Spanned<String>,
    pub sign_limit: Option<Spanned<String>>,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub co_departments: Option<Spanned<Vec<String>>>,
}
