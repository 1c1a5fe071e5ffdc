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
///
/// A reason names the field (by its JSON path, `citizen.phone`) and what was expected,
/// never the value sent: reasons go to logs, headers and the rejected-events table, and a
/// value may be a phone number. They are bounded to [`MAX_DETAIL_CHARS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: RejectCode,
    pub detail: String,
}

/// The longest detail a rejection carries, in characters.
pub const MAX_DETAIL_CHARS: usize = 300;

impl Rejection {
    pub fn new(code: RejectCode, detail: impl Into<String>) -> Self {
        let mut detail = detail.into();
        if let Some((cut, _)) = detail.char_indices().nth(MAX_DETAIL_CHARS) {
            let (keep, _) = detail[..cut]
                .char_indices()
                .next_back()
                .expect("a cut past the first character");
            detail.truncate(keep);
            detail.push('…');
        }
        Rejection { code, detail }
    }

    /// A field of the body that could not be read: `missing_field` or `invalid_field`,
    /// with the field's JSON path and what was expected.
    pub fn at_path(path: &str, err: &serde_json::Error) -> Rejection {
        let message = err.to_string();
        let (code, what) = describe(&message);
        let detail = match path {
            "" | "." => what,
            path => format!("{path}: {what}"),
        };
        Rejection::new(code, detail)
    }
}

/// What a serde error says went wrong, without the value it quotes.
fn describe(message: &str) -> (RejectCode, String) {
    let message = message.split(" at line ").next().unwrap_or(message);
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or_default();
        return (RejectCode::MissingField, format!("missing field `{field}`"));
    }
    // "invalid type: integer `3`, expected a string", "unknown variant `x`, expected one
    // of `a`, `b`": what was expected is ours to say, what was found is not.
    if let Some((_, expected)) = message.split_once(", expected ") {
        return (RejectCode::InvalidField, format!("expected {expected}"));
    }
    // Other messages (a timestamp that does not parse) are kept only if they quote nothing.
    let quotes = message.contains(['`', '"', '\'']);
    let what = if quotes || message.is_empty() {
        "is not valid".to_owned()
    } else {
        format!("is not valid ({message})")
    };
    (RejectCode::InvalidField, what)
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

impl std::error::Error for Rejection {}

/// What a body too large to keep was (`too_large`): its size and digest. The dead letter
/// then carries the body's first `topology::KEPT_PREFIX_BYTES` bytes, with these in
/// headers (`topology::BODY_BYTES_HEADER`, `topology::BODY_SHA256_HEADER`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruncatedBody {
    pub bytes: usize,
    /// SHA-256, lowercase hex.
    pub sha256: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_are_bounded() {
        let long = Rejection::new(RejectCode::InvalidField, "字".repeat(1000));
        assert_eq!(long.detail.chars().count(), MAX_DETAIL_CHARS);
        assert!(long.detail.ends_with('…'));
        let short = Rejection::new(RejectCode::InvalidField, "x".repeat(MAX_DETAIL_CHARS));
        assert_eq!(
            short.detail.len(),
            MAX_DETAIL_CHARS,
            "at the bound nothing is cut"
        );
    }

    #[test]
    fn serde_errors_become_paths_and_expectations_without_values() {
        // (serde message, code, what the detail says)
        let cases = [
            (
                "missing field `title`",
                RejectCode::MissingField,
                "missing field `title`",
            ),
            (
                "invalid type: integer `13800000000`, expected a string",
                RejectCode::InvalidField,
                "expected a string",
            ),
            (
                "unknown variant `rant`, expected one of `normal`, `urgent`",
                RejectCode::InvalidField,
                "expected one of `normal`, `urgent`",
            ),
            (
                "invalid value: integer `-1`, expected u32 at line 1 column 40",
                RejectCode::InvalidField,
                "expected u32",
            ),
            (
                "premature end of input",
                RejectCode::InvalidField,
                "is not valid (premature end of input)",
            ),
            (
                "found `13800000000` here",
                RejectCode::InvalidField,
                "is not valid",
            ),
        ];
        for (message, code, what) in cases {
            assert_eq!(describe(message), (code, what.to_owned()), "{message}");
        }
    }
}
