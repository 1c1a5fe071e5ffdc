//! Orders and appointments as stored: reading a row into the core's types, and the flat
//! rows written back (as JSON, for `jsonb_populate_recordset`). The columns are the
//! migrations'; the conversions are written out by hand, so a column and a field can
//! differ in type (an enum stored as its name, a limit as `"5wd"`) without either side
//! knowing the other.

use crate::StoreError;
use chrono::{DateTime, Utc};
use hotline_core::appointment::{Appointment, AppointmentState};
use hotline_core::config::Limit;
use hotline_core::order::{Callback, CoHandler, MatterRef, Order, PendingReturn, Report};
use hotline_core::sla::Deadlines;
use hotline_schema::values::{Citizen, OrderState};
use serde::Serialize;
use sqlx::Row;
use sqlx::postgres::PgRow;
use std::str::FromStr;

/// A column that must hold a value of the core's type: its text parsed, a defect if not.
fn parsed<T: FromStr>(row: &PgRow, column: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    parsed_opt(row, column)?.ok_or_else(|| StoreError::Defect(format!("column {column} is null")))
}

/// A nullable column holding a value of the core's type.
fn parsed_opt<T: FromStr>(row: &PgRow, column: &str) -> Result<Option<T>, StoreError>
where
    T::Err: std::fmt::Display,
{
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| t.parse())
        .transpose()
        .map_err(|e| StoreError::Defect(format!("column {column}: {e}")))
}

/// A `jsonb` column holding one of the core's values (co-handlers, a pending return, a
/// callback), `None` when null.
fn json_column<T: serde::de::DeserializeOwned>(
    row: &PgRow,
    column: &str,
) -> Result<Option<T>, StoreError> {
    let value: Option<serde_json::Value> = row.try_get(column)?;
    value
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| StoreError::Defect(format!("column {column}: {e}")))
}

fn required<T>(value: Option<T>, order_no: &str, column: &str) -> Result<T, StoreError> {
    value.ok_or_else(|| StoreError::Defect(format!("order {order_no} has no {column}")))
}

fn count(row: &PgRow, column: &str) -> Result<u32, StoreError> {
    let n: i32 = row.try_get(column)?;
    u32::try_from(n).map_err(|_| StoreError::Defect(format!("column {column} is negative")))
}

/// An order read from a `SELECT * FROM orders` row, with the version it was read at.
pub fn order_from_row(row: &PgRow) -> Result<(Order, i32), StoreError> {
    let order_no: String = row.try_get("order_no")?;
    let deadline = |column: &str| -> Result<DateTime<Utc>, StoreError> {
        required(row.try_get(column)?, &order_no, column)
    };
    let deadlines = Deadlines {
        statutory: deadline("statutory_due_at")?,
        committed: deadline("committed_due_at")?,
        sign: deadline("sign_due_at")?,
        warning: deadline("warning_due_at")?,
    };
    let statutory_limit: Option<String> = row.try_get("statutory_limit")?;
    let statutory_limit = Limit::parse(&required(statutory_limit, &order_no, "statutory_limit")?)
        .map_err(StoreError::Defect)?;
    let matter_code: Option<String> = row.try_get("matter_code")?;
    let matter_name: Option<String> = row.try_get("matter_name")?;
    let order = Order {
        report: Report {
            kind: parsed(row, "kind")?,
            channel: parsed(row, "channel")?,
            category: row.try_get("category")?,
            district: row.try_get("district")?,
            address: row.try_get("address")?,
            urgency: parsed(row, "urgency")?,
            title: row.try_get("title")?,
            content: row.try_get("content")?,
            citizen: Citizen {
                name: row.try_get("citizen_name")?,
                phone: row.try_get("citizen_phone")?,
            },
            confidential: row.try_get("confidential")?,
            received_at: row.try_get("received_at")?,
        },
        matter: matter_code
            .zip(matter_name)
            .map(|(code, name)| MatterRef { code, name }),
        statutory_limit,
        deadlines,
        state: parsed(row, "state")?,
        department: row.try_get("department")?,
        rule: row.try_get("rule")?,
        rule_version: row.try_get("rule_version")?,
        calendar_version: row.try_get("calendar_version")?,
        dispatch_count: row.try_get("dispatch_count")?,
        accepted_at: row.try_get("accepted_at")?,
        replied_at: row.try_get("replied_at")?,
        closed_at: row.try_get("closed_at")?,
        paused_at: row.try_get("paused_at")?,
        resume_state: parsed_opt(row, "resume_state")?,
        handler: row.try_get("handler")?,
        resolved: row.try_get("resolved")?,
        on_time: row.try_get("on_time")?,
        rating: parsed_opt(row, "rating")?,
        extension_requested_days: row
            .try_get::<Option<i32>, _>("extension_requested_days")?
            .map(|d| d.max(0) as u32),
        extension_days: count(row, "extension_days")?,
        return_count: count(row, "return_count")?,
        reopen_count: count(row, "reopen_count")?,
        urge_count: count(row, "urge_count")?,
        duplicate_of: row.try_get("duplicate_of")?,
        returned_by: row.try_get("returned_by")?,
        dispatched_at: row.try_get("dispatched_at")?,
        co_handlers: json_column(row, "co_handlers")?.unwrap_or_default(),
        pending_return: json_column(row, "pending_return")?,
        urge_level: parsed_opt(row, "urge_level")?,
        callback: json_column(row, "callback")?,
        order_no,
    };
    Ok((order, row.try_get("version")?))
}

/// The columns of `orders` an [`OrderRow`] writes, in its field order: every column but
/// the generated ones (`next_due_at`), which an `INSERT` may not name.
pub const ORDER_COLUMNS: &str = "order_no, kind, channel, category, matter_code, matter_name, \
    district, address, urgency, title, content, citizen_name, citizen_phone, confidential, \
    state, department, rule, dispatch_count, received_at, statutory_limit, statutory_due_at, \
    committed_due_at, sign_due_at, warning_due_at, accepted_at, replied_at, closed_at, \
    paused_at, resume_state, handler, resolved, on_time, rating, extension_requested_days, \
    extension_days, return_count, reopen_count, urge_count, duplicate_of, returned_by, \
    rule_version, calendar_version, dispatched_at, co_handlers, pending_return, urge_level, \
    callback, version, created_at, updated_at, duplicate_key";

/// One row of `orders` as written, every column named as in the table.
#[derive(Serialize)]
pub struct OrderRow<'a> {
    order_no: &'a str,
    kind: &'static str,
    channel: &'static str,
    category: &'a str,
    matter_code: Option<&'a str>,
    matter_name: Option<&'a str>,
    district: Option<&'a str>,
    address: Option<&'a str>,
    urgency: &'static str,
    title: &'a str,
    content: &'a str,
    citizen_name: Option<&'a str>,
    citizen_phone: Option<&'a str>,
    confidential: bool,
    state: OrderState,
    department: &'a str,
    rule: &'a str,
    dispatch_count: i32,
    received_at: DateTime<Utc>,
    statutory_limit: String,
    statutory_due_at: DateTime<Utc>,
    committed_due_at: DateTime<Utc>,
    sign_due_at: DateTime<Utc>,
    warning_due_at: DateTime<Utc>,
    accepted_at: Option<DateTime<Utc>>,
    replied_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    paused_at: Option<DateTime<Utc>>,
    resume_state: Option<OrderState>,
    handler: Option<&'a str>,
    resolved: Option<bool>,
    on_time: Option<bool>,
    rating: Option<&'static str>,
    extension_requested_days: Option<u32>,
    extension_days: u32,
    return_count: u32,
    reopen_count: u32,
    urge_count: u32,
    duplicate_of: Option<&'a str>,
    returned_by: &'a [String],
    rule_version: i32,
    calendar_version: Option<&'a str>,
    dispatched_at: Option<DateTime<Utc>>,
    co_handlers: &'a [CoHandler],
    pending_return: Option<&'a PendingReturn>,
    urge_level: Option<&'static str>,
    callback: Option<&'a Callback>,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// [`Order::merge_key`]'s digest as PostgreSQL reads `bytea` from text (`\\x…`).
    duplicate_key: Option<String>,
}

impl<'a> OrderRow<'a> {
    /// `order` at `version`, written at `now` (`created_at` only counts for a new row).
    pub fn new(order: &'a Order, version: i32, now: DateTime<Utc>) -> OrderRow<'a> {
        let report = &order.report;
        OrderRow {
            order_no: &order.order_no,
            kind: report.kind.as_str(),
            channel: report.channel.as_str(),
            category: &report.category,
            matter_code: order.matter.as_ref().map(|m| m.code.as_str()),
            matter_name: order.matter.as_ref().map(|m| m.name.as_str()),
            district: report.district.as_deref(),
            address: report.address.as_deref(),
            urgency: report.urgency.as_str(),
            title: &report.title,
            content: &report.content,
            citizen_name: report.citizen.name.as_deref(),
            citizen_phone: report.citizen.phone.as_deref(),
            confidential: report.confidential,
            state: order.state,
            department: &order.department,
            rule: &order.rule,
            dispatch_count: order.dispatch_count,
            received_at: report.received_at,
            statutory_limit: order.statutory_limit.to_string(),
            statutory_due_at: order.deadlines.statutory,
            committed_due_at: order.deadlines.committed,
            sign_due_at: order.deadlines.sign,
            warning_due_at: order.deadlines.warning,
            accepted_at: order.accepted_at,
            replied_at: order.replied_at,
            closed_at: order.closed_at,
            paused_at: order.paused_at,
            resume_state: order.resume_state,
            handler: order.handler.as_deref(),
            resolved: order.resolved,
            on_time: order.on_time,
            rating: order.rating.map(|r| r.as_str()),
            extension_requested_days: order.extension_requested_days,
            extension_days: order.extension_days,
            return_count: order.return_count,
            reopen_count: order.reopen_count,
            urge_count: order.urge_count,
            duplicate_of: order.duplicate_of.as_deref(),
            returned_by: &order.returned_by,
            rule_version: order.rule_version,
            calendar_version: order.calendar_version.as_deref(),
            dispatched_at: order.dispatched_at,
            co_handlers: &order.co_handlers,
            pending_return: order.pending_return.as_ref(),
            urge_level: order.urge_level.map(|l| l.as_str()),
            callback: order.callback.as_ref(),
            version,
            created_at: now,
            updated_at: now,
            duplicate_key: hotline_core::decide::MergeKey::of_order(order)
                .map(|key| bytea_text(&key.digest())),
        }
    }
}

/// `bytes` as PostgreSQL's text form of `bytea` (`\\x` and hex digits).
fn bytea_text(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut text = String::with_capacity(2 + 2 * bytes.len());
    text.push_str("\\x");
    for b in bytes {
        let _ = write!(text, "{b:02x}");
    }
    text
}

/// An appointment read from a `SELECT * FROM appointments` row, with its version.
pub fn appointment_from_row(row: &PgRow) -> Result<(Appointment, i32), StoreError> {
    let appointment = Appointment {
        order_no: row.try_get("order_no")?,
        category: row.try_get("category")?,
        service_point: row.try_get("service_point")?,
        slot_start: row.try_get("slot_start")?,
        citizen: Citizen {
            name: row.try_get("citizen_name")?,
            phone: row.try_get("citizen_phone")?,
        },
        state: parsed(row, "state")?,
        booked_at: row.try_get("booked_at")?,
        checked_in_at: row.try_get("checked_in_at")?,
        called_at: row.try_get("called_at")?,
        completed_at: row.try_get("completed_at")?,
        service_window: row.try_get("service_window")?,
    };
    Ok((appointment, row.try_get("version")?))
}

/// One row of `appointments` as written.
#[derive(Serialize)]
pub struct AppointmentRow<'a> {
    order_no: &'a str,
    category: &'a str,
    service_point: &'a str,
    slot_start: DateTime<Utc>,
    citizen_name: Option<&'a str>,
    citizen_phone: Option<&'a str>,
    state: AppointmentState,
    booked_at: DateTime<Utc>,
    checked_in_at: Option<DateTime<Utc>>,
    called_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    service_window: Option<&'a str>,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl<'a> AppointmentRow<'a> {
    pub fn new(a: &'a Appointment, version: i32, now: DateTime<Utc>) -> AppointmentRow<'a> {
        AppointmentRow {
            order_no: &a.order_no,
            category: &a.category,
            service_point: &a.service_point,
            slot_start: a.slot_start,
            citizen_name: a.citizen.name.as_deref(),
            citizen_phone: a.citizen.phone.as_deref(),
            state: a.state,
            booked_at: a.booked_at,
            checked_in_at: a.checked_in_at,
            called_at: a.called_at,
            completed_at: a.completed_at,
            service_window: a.service_window.as_deref(),
            version,
            created_at: now,
            updated_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_core::config::Limit;

    #[test]
    fn order_columns_name_every_field_of_an_order_row_in_order() {
        let at = DateTime::parse_from_rfc3339("2026-11-25T10:00:00+08:00")
            .unwrap()
            .with_timezone(&Utc);
        let report = Report {
            confidential: true,
            ..Report::example(at)
        };
        let deadlines = Deadlines {
            statutory: at,
            committed: at,
            sign: at,
            warning: at,
        };
        let order = Order::new(
            "PT1".into(),
            report,
            Limit::parse("5wd").unwrap(),
            deadlines,
            "SCJGJ".into(),
            "catalog:SC-0101".into(),
        );
        // serde_json keeps a struct's field order (preserve_order is not needed for a
        // struct: it serializes field by field into the writer).
        let text = serde_json::to_string(&OrderRow::new(&order, 1, at)).unwrap();
        let fields: Vec<String> = ORDER_COLUMNS
            .split(',')
            .map(|c| c.trim().to_owned())
            .collect();
        let mut position = 0;
        for field in &fields {
            let key = format!("\"{field}\":");
            let found = text[position..]
                .find(&key)
                .unwrap_or_else(|| panic!("{field} is not the next field of OrderRow: {text}"));
            position += found + key.len();
        }
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value.as_object().unwrap().len(), fields.len(), "{text}");
        assert_eq!(value["confidential"], true);
    }

    #[test]
    fn bytes_are_written_in_the_text_form_postgres_reads_as_bytea() {
        // (bytes, text)
        let cases: [(&[u8], &str); 3] = [
            (&[], "\\x"),
            (&[0x00, 0x0f, 0xab, 0xff], "\\x000fabff"),
            (b"PT", "\\x5054"),
        ];
        for (bytes, text) in cases {
            assert_eq!(bytea_text(bytes), text, "{bytes:?}");
        }
    }
}
