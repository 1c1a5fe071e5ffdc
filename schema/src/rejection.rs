//! Why an inbound event could not be accepted.

use crate::named_enum;
use std::fmt;

named_enum! {
    /// Why an inbound message could not be accepted. The code is what metrics count
    /// (`hotline_events_rejected_total{reason}`) and what `x-hotline-reason` starts with,
    /// so the set is closed and small.
    pub enum RejectCode("reason code") {
        /// The body is larger than `intake.max_body_bytes`.
        TooLarge = "too_large",
        /// The body is not UTF-8.
        NotUtf8 = "not_utf8",
        /// The body is not a JSON object.
        NotJson = "not_json",
        /// A required field is absent.
        MissingField = "missing_field",
        /// A field is present but malformed (bad UUID, timestamp, enum value, empty text…).
        InvalidField = "invalid_field",
        /// The `type` is not one of the contract's event types.
        UnknownType = "unknown_type",
        /// The event names an order the engine does not know.
        UnknownOrder = "unknown_order",
        /// A `complaint.received` for an order number that already exists.
        DuplicateOrder = "duplicate_order",
        /// The action is not allowed in the order's current state.
        InvalidState = "invalid_state",
        /// The department acting on the order does not hold it.
        WrongDepartment = "wrong_department",
        /// Well-formed, but the database refused to store it (a defect to investigate).
        Unprocessable = "unprocessable",
    }
}

/// An event turned away, with a reason a person can act on. Rendered as
/// `"<code>: <detail>"` in the `x-hotline-reason` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: RejectCode,
    pub detail: String,
}

impl Rejection {
    pub fn new(code: RejectCode, detail: impl Into<String>) -> Self {
        Rejection {
            code,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

impl std::error::Error for Rejection {}
