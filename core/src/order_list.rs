//! The order list (`GET /api/orders`, `GET /api/orders.csv`) as values: its filters read
//! from query parameters, its two sort orders, and the opaque cursor that carries a reader
//! from one page to the next.
//!
//! Pagination is by keyset: a page is the first `limit` orders after the position of the
//! last order of the page before, in the order (sort key, order number). An order that is
//! inserted meanwhile lands before or after that position and is shown or not, but no order
//! already listed comes again and none that was there is skipped. The cursor also pins the
//! instant SLA states are judged at (`as_of`), so that `sla_state` means the same on every
//! page, and it holds a fingerprint of the sort and the filters: a cursor presented with
//! other filters is refused rather than silently resumed somewhere meaningless.
//!
//! The SQL for all this is the store's (`hotline_store::order_list`); what the sort keys
//! mean is written down in `docs/http-api.md`.

use crate::privacy::{PhoneReach, Purpose, Reader, phone_reach};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, FixedOffset, Utc};
use hotline_schema::values::{OrderState, SlaState, Urgency};
use serde::{Deserialize, Serialize};

/// Rows per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: u32 = 50;
/// The most rows one page holds (a larger `limit` is capped).
pub const MAX_LIMIT: u32 = 500;
/// The most words `q` may hold, and its longest length in characters.
pub const MAX_WORDS: usize = 8;
pub const MAX_QUERY_CHARS: usize = 200;
/// The longest department, matter or district value accepted, in characters (department
/// codes are at most 200 bytes, so no longer).
pub const MAX_VALUE_CHARS: usize = 200;
/// How many digits a phone searched for holds (`phone`): fewer is a number of another
/// kind (a year, a house number), more is no phone.
pub const PHONE_DIGITS: std::ops::RangeInclusive<usize> = 7..=20;
/// The longest phone searched for, in characters, separators included.
pub const MAX_PHONE_CHARS: usize = 40;

/// Which orders to list. Empty lists and `None` mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OrderFilter {
    /// The holding department's code.
    pub department: Option<String>,
    /// A department co-handling the order (协办, `co_department`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub co_department: Option<String>,
    /// A department that holds the order or co-handles it: a handler's list when it names
    /// neither `department` nor `co_department` ([`OrderFilter::scope_to_handler`]). Not
    /// a parameter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_or_co_handled_by: Option<String>,
    pub states: Vec<OrderState>,
    pub sla_states: Vec<SlaState>,
    /// The catalogued matter's code (`matter_code`).
    pub matter: Option<String>,
    pub district: Option<String>,
    pub urgencies: Vec<Urgency>,
    /// Received at or after this instant.
    pub received_from: Option<DateTime<Utc>>,
    /// Received before this instant.
    pub received_to: Option<DateTime<Utc>>,
    /// Words that must all occur in the title or the content (case-insensitive).
    pub words: Vec<String>,
    /// The citizen's phone, as its digits ([`phone_digits`]): only orders whose phone, as
    /// digits, is this one, within [`OrderFilter::phone_reach`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Which orders a phone search may find: those whose phone the reader sees in full
    /// ([`OrderFilter::scope_phone`]). Not a parameter; a phone without it finds nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_reach: Option<PhoneReach>,
}

hotline_schema::named_enum! {
    /// The order of the list.
    #[derive(Default)]
    pub enum OrderSort("sort order") {
        /// Nearest deadline first (`next_due_at` ascending, orders without one last), then
        /// by order number.
        #[default]
        NextDue = "next_due",
        /// Newest first (`received_at` descending), then by order number descending.
        Received = "received",
    }
}

hotline_schema::named_enum! {
    /// The query parameters of the order list (`GET /api/orders` and its CSV export): the
    /// one list of them, which the parser reads by and the API's document is checked
    /// against.
    pub enum ListParameter("list parameter") {
        Department = "department",
        CoDepartment = "co_department",
        State = "state",
        SlaState = "sla_state",
        Matter = "matter",
        District = "district",
        Urgency = "urgency",
        ReceivedFrom = "received_from",
        ReceivedTo = "received_to",
        Q = "q",
        /// The citizen's phone, for readers who see it in full.
        Phone = "phone",
        Sort = "sort",
        /// Pages only.
        Limit = "limit",
        /// Pages only.
        Next = "next",
        /// Pages only: count the whole list (`total` in the answer).
        Total = "total",
    }
}

impl ListParameter {
    /// Whether a request with this paging takes the parameter (the export has no pages).
    pub fn taken_with(self, paging: Paging) -> bool {
        paging == Paging::Pages
            || !matches!(
                self,
                ListParameter::Limit | ListParameter::Next | ListParameter::Total
            )
    }

    /// A list of values, which may also be given by repeating the parameter.
    fn is_a_list(self) -> bool {
        matches!(
            self,
            ListParameter::State | ListParameter::SlaState | ListParameter::Urgency
        )
    }
}

/// Where a page ends: the last order's sort key and number. A key of `None` is an order
/// without a deadline ahead (sorted after every deadline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    #[serde(rename = "k")]
    pub key: Option<DateTime<Utc>>,
    #[serde(rename = "o")]
    pub order_no: String,
}

/// What a `next` cursor carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "v")]
    pub version: u8,
    #[serde(rename = "s")]
    pub sort: OrderSort,
    /// The instant the list is judged at, from its first page on.
    #[serde(rename = "t")]
    pub as_of: DateTime<Utc>,
    #[serde(rename = "f")]
    pub fingerprint: String,
    #[serde(flatten)]
    pub after: Position,
}

const CURSOR_VERSION: u8 = 1;

impl Cursor {
    /// The URL-safe text of the cursor (base64url of a small JSON object, no padding).
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("a cursor serializes"))
    }

    /// Reads a cursor made by [`Cursor::encode`]; `None` for anything else.
    pub fn decode(text: &str) -> Option<Cursor> {
        if text.len() > 2048 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let cursor: Cursor = serde_json::from_slice(&bytes).ok()?;
        (cursor.version == CURSOR_VERSION).then_some(cursor)
    }
}

/// A request for one page of the list (or, for the export, for all of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequest {
    pub filter: OrderFilter,
    pub sort: OrderSort,
    pub limit: u32,
    /// The `next` cursor presented, not yet checked against the filter (see
    /// [`ListRequest::resume`]).
    pub next: Option<Cursor>,
    /// Whether the answer counts the whole list (`total=true`): one more query, which
    /// reads every matching order, so only when asked.
    pub total: bool,
}

/// A query parameter the list cannot take: answered 400 with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadParameter(pub String);

fn bad(message: impl Into<String>) -> BadParameter {
    BadParameter(message.into())
}

/// A `limit` parameter: an integer from 1 to 2^63 - 1 (an `int64`, as the API's document
/// says); past `max` it is capped (the API's one rule for limits); absent, `default`.
pub fn capped_limit(value: Option<&str>, default: u32, max: u32) -> Result<u32, BadParameter> {
    let Some(value) = value else {
        return Ok(default);
    };
    match value.parse::<i64>() {
        Ok(limit) if limit >= 1 => Ok(limit.min(i64::from(max)) as u32),
        _ => Err(bad(format!(
            "limit {value:?} is not a positive integer (1 to 9223372036854775807)"
        ))),
    }
}

/// The refusal of a parameter the list does not know: what it takes, from
/// [`ListParameter`].
fn unknown_parameter(name: &str, paging: Paging) -> BadParameter {
    let taken: Vec<&str> = ListParameter::ALL
        .iter()
        .filter(|p| p.taken_with(paging))
        .map(|p| p.as_str())
        .collect();
    bad(format!("unknown parameter {name:?} ({})", taken.join(", ")))
}

/// Whether the request is for a page (`limit`, `next` allowed) or for an export of the
/// whole list (they are not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    Pages,
    Whole,
}

impl ListRequest {
    /// Reads the query parameters of a list request. Every parameter may be given once;
    /// an empty value means no filter; several enum values are comma-separated
    /// (`state=dispatched,accepted`). An unknown parameter, an unknown value or a bad
    /// instant is refused.
    pub fn parse(params: &[(String, String)], paging: Paging) -> Result<ListRequest, BadParameter> {
        let mut request = ListRequest {
            filter: OrderFilter::default(),
            sort: OrderSort::default(),
            limit: DEFAULT_LIMIT,
            next: None,
            total: false,
        };
        let mut seen: Vec<ListParameter> = Vec::new();
        for (name, value) in params {
            let parameter =
                ListParameter::parse(name).ok_or_else(|| unknown_parameter(name, paging))?;
            if seen.contains(&parameter) && !parameter.is_a_list() {
                return Err(bad(format!("{name} is given twice: it takes one value")));
            }
            seen.push(parameter);
            // Taken as sent: a value with surrounding spaces or control characters is
            // not the value the API's document describes.
            let value = value.as_str();
            if value.is_empty() {
                continue;
            }
            if !parameter.taken_with(paging) {
                return Err(bad(format!(
                    "{name}: the export is the whole list, without pages (count its rows)"
                )));
            }
            let filter = &mut request.filter;
            match parameter {
                ListParameter::Department => filter.department = Some(text_value(name, value)?),
                ListParameter::CoDepartment => {
                    filter.co_department = Some(text_value(name, value)?)
                }
                ListParameter::Matter => filter.matter = Some(text_value(name, value)?),
                ListParameter::District => filter.district = Some(text_value(name, value)?),
                ListParameter::State => add(
                    &mut filter.states,
                    names(name, value, OrderState::parse, OrderState::NAMES)?,
                ),
                ListParameter::SlaState => add(
                    &mut filter.sla_states,
                    names(name, value, SlaState::parse, SlaState::NAMES)?,
                ),
                ListParameter::Urgency => add(
                    &mut filter.urgencies,
                    names(name, value, Urgency::parse, Urgency::NAMES)?,
                ),
                ListParameter::ReceivedFrom => filter.received_from = Some(instant(name, value)?),
                ListParameter::ReceivedTo => filter.received_to = Some(instant(name, value)?),
                ListParameter::Q => filter.words = words(value)?,
                ListParameter::Phone => {
                    // Never echoed: a phone is personal data, and messages are logged.
                    filter.phone = Some(phone_digits(value).ok_or_else(|| {
                        bad(format!(
                            "phone: {} to {} digits, with spaces, +, - or parentheses, at most \
                             {MAX_PHONE_CHARS} characters",
                            PHONE_DIGITS.start(),
                            PHONE_DIGITS.end()
                        ))
                    })?)
                }
                ListParameter::Sort => {
                    request.sort = OrderSort::parse(value).ok_or_else(|| {
                        bad(format!("sort {value:?} is not a sort order ({})", OrderSort::NAMES.join(", ")))
                    })?
                }
                ListParameter::Limit => {
                    request.limit = capped_limit(Some(value), DEFAULT_LIMIT, MAX_LIMIT)?
                }
                ListParameter::Next => {
                    request.next = Some(Cursor::decode(value).ok_or_else(|| {
                        bad("next is not a cursor of this list: pass the `next` of the page before as it was")
                    })?)
                }
                ListParameter::Total => {
                    request.total = match value {
                        "true" => true,
                        "false" => false,
                        _ => return Err(bad(format!("total {value:?} is not true or false"))),
                    }
                }
            }
        }
        if let (Some(from), Some(to)) = (request.filter.received_from, request.filter.received_to)
            && from >= to
        {
            return Err(bad("received_from must be before received_to"));
        }
        Ok(request)
    }

    /// The instant to judge SLA states at and the position to resume after: the cursor's
    /// if one was presented (refused if it belongs to another sort or other filters),
    /// else `now` and the start of the list.
    pub fn resume(
        &self,
        now: DateTime<Utc>,
    ) -> Result<(DateTime<Utc>, Option<Position>), BadParameter> {
        match &self.next {
            None => Ok((now, None)),
            Some(cursor) => {
                if cursor.sort != self.sort || cursor.fingerprint != self.fingerprint() {
                    return Err(bad(
                        "next belongs to a list with other filters or another sort: repeat the filters of its first page",
                    ));
                }
                Ok((cursor.as_of, Some(cursor.after.clone())))
            }
        }
    }

    /// The cursor to the page after one that ended at `last`.
    pub fn cursor_after(&self, as_of: DateTime<Utc>, last: Position) -> Cursor {
        Cursor {
            version: CURSOR_VERSION,
            sort: self.sort,
            as_of,
            fingerprint: self.fingerprint(),
            after: last,
        }
    }

    /// A stable digest of the sort and the filters (not of `limit`: pages may change
    /// size): equal for the same list, whatever the order values were given in.
    pub fn fingerprint(&self) -> String {
        let mut filter = self.filter.clone();
        filter.states.sort();
        filter.states.dedup();
        filter.sla_states.sort();
        filter.sla_states.dedup();
        filter.urgencies.sort();
        filter.urgencies.dedup();
        let canonical = serde_json::to_vec(&(self.sort, &filter)).expect("a filter serializes");
        format!("{:016x}", fnv1a(&canonical))
    }
}

impl OrderFilter {
    /// A handler's reach: the orders its department `own` holds and those it co-handles
    /// (协办). Without `department` and `co_department` the list is both; with
    /// `department` it is those it holds, with `co_department` those it co-handles; naming
    /// another department in either is refused (the message says why).
    pub fn scope_to_handler(&mut self, own: &str) -> Result<(), String> {
        for (name, asked) in [
            ("department", &self.department),
            ("co_department", &self.co_department),
        ] {
            if let Some(asked) = asked
                && asked != own
            {
                return Err(format!(
                    "a handler of {own} sees only the orders its department holds or co-handles ({name}={asked})"
                ));
            }
        }
        if self.department.is_none() && self.co_department.is_none() {
            self.held_or_co_handled_by = Some(own.to_owned());
        }
        Ok(())
    }

    /// A phone search's reach for `reader`: the orders whose phone it sees in full for
    /// `purpose` ([`phone_reach`]). Without a phone, nothing to do; a reader who sees every
    /// phone masked is refused (the message says why).
    pub fn scope_phone(&mut self, reader: Reader<'_>, purpose: Purpose) -> Result<(), String> {
        if self.phone.is_none() {
            return Ok(());
        }
        match phone_reach(reader, purpose) {
            Some(reach) => {
                self.phone_reach = Some(reach);
                Ok(())
            }
            None => Err(
                "phone: this role sees citizens' phones masked, so it cannot search by one"
                    .to_owned(),
            ),
        }
    }
}

/// The digits of a phone number as a person types it (`138 1234 5678`, `+86-138…`,
/// `(0591) 8765 4321`): only digits, spaces, `+`, `-` and parentheses, at most
/// [`MAX_PHONE_CHARS`] characters, and [`PHONE_DIGITS`] digits; `None` for anything else.
/// The pages' search box sends what this reads to the list as `phone`.
pub fn phone_digits(text: &str) -> Option<String> {
    if text.len() > MAX_PHONE_CHARS
        || !text
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')'))
    {
        return None;
    }
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    PHONE_DIGITS.contains(&digits.len()).then_some(digits)
}

/// FNV-1a, 64 bits: stable across builds and platforms (the standard hasher is not
/// promised to be), and enough to tell two filters apart.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn text_value(name: &str, value: &str) -> Result<String, BadParameter> {
    if value.chars().count() > MAX_VALUE_CHARS || value.chars().any(char::is_control) {
        return Err(bad(format!(
            "{name}: at most {MAX_VALUE_CHARS} characters, no control characters"
        )));
    }
    Ok(value.to_owned())
}

/// `more` added to the values of a list filter, each value once, in order.
fn add<T: Ord>(values: &mut Vec<T>, more: Vec<T>) {
    values.extend(more);
    values.sort();
    values.dedup();
}

fn names<T: Ord>(
    name: &str,
    value: &str,
    parse: fn(&str) -> Option<T>,
    known: &[&str],
) -> Result<Vec<T>, BadParameter> {
    let mut values = Vec::new();
    for part in value.split(',') {
        let parsed = parse(part).ok_or_else(|| {
            bad(format!(
                "{name} {part:?} is not one of {}",
                known.join(", ")
            ))
        })?;
        values.push(parsed);
    }
    values.sort();
    values.dedup();
    Ok(values)
}

fn instant(name: &str, value: &str) -> Result<DateTime<Utc>, BadParameter> {
    DateTime::<FixedOffset>::parse_from_rfc3339(value)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| {
            bad(format!(
                "{name} must be RFC 3339 with an offset, e.g. 2026-11-25T10:00:00+08:00"
            ))
        })
}

fn words(value: &str) -> Result<Vec<String>, BadParameter> {
    if value.chars().count() > MAX_QUERY_CHARS || value.chars().any(char::is_control) {
        return Err(bad(format!(
            "q: at most {MAX_QUERY_CHARS} characters, no control characters"
        )));
    }
    let mut words: Vec<String> = value.split_whitespace().map(str::to_owned).collect();
    // Counted as written, repeats included, as the API's document says.
    if words.len() > MAX_WORDS {
        return Err(bad(format!("q: at most {MAX_WORDS} words")));
    }
    let mut seen = std::collections::HashSet::new();
    words.retain(|word| seen.insert(word.clone()));
    Ok(words)
}

#[cfg(test)]
mod tests {

    #[test]
    fn limits_are_capped_never_refused_for_being_large() {
        // (value, result)
        let cases = [
            (None, Ok(100)),
            (Some("1"), Ok(1)),
            (Some("250"), Ok(250)),
            (Some("1000"), Ok(1000)),
            (Some("1001"), Ok(1000)),
            (Some("99999999999"), Ok(1000)),
            (Some("9223372036854775807"), Ok(1000)),
            (Some("9223372036854775808"), Err(())),
            (Some("+5"), Ok(5)),
            (Some("0"), Err(())),
            (Some("-1"), Err(())),
            (Some("1.5"), Err(())),
            (Some("ten"), Err(())),
        ];
        for (value, expected) in cases {
            assert_eq!(
                capped_limit(value, 100, 1000).map_err(|_| ()),
                expected,
                "{value:?}"
            );
        }
    }
    use super::*;

    fn params(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn parse(query: &[(&str, &str)]) -> Result<ListRequest, BadParameter> {
        ListRequest::parse(&params(query), Paging::Pages)
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_handler_sees_what_its_department_holds_or_co_handles_and_nothing_else() {
        // (department, co_department) asked → Ok(held_or_co_handled_by) or refused
        let own = Some("YSBZX".to_owned());
        let other = Some("SCJGJ".to_owned());
        let cases = [
            ((None, None), Some(Some("YSBZX"))),
            ((own.clone(), None), Some(None)),
            ((None, own.clone()), Some(None)),
            ((own.clone(), own.clone()), Some(None)),
            ((other.clone(), None), None),
            ((None, other.clone()), None),
            ((own.clone(), other.clone()), None),
        ];
        for ((department, co_department), want) in cases {
            let mut filter = OrderFilter {
                department: department.clone(),
                co_department: co_department.clone(),
                ..Default::default()
            };
            let got = filter.scope_to_handler("YSBZX");
            match want {
                Some(reach) => {
                    assert_eq!(got, Ok(()), "{department:?} {co_department:?}");
                    assert_eq!(filter.held_or_co_handled_by.as_deref(), reach);
                    assert_eq!(
                        (filter.department, filter.co_department),
                        (department, co_department)
                    );
                }
                None => assert!(got.unwrap_err().contains("SCJGJ")),
            }
        }
        // The reach is part of the list's fingerprint; absent, the fingerprint is as before.
        let plain = parse(&[]).unwrap();
        let mut scoped = plain.clone();
        scoped.filter.scope_to_handler("YSBZX").unwrap();
        assert_ne!(plain.fingerprint(), scoped.fingerprint());
    }

    #[test]
    fn filters_are_read_from_their_parameters() {
        let cases: Vec<(Vec<(&str, &str)>, OrderFilter)> = vec![
            (vec![], OrderFilter::default()),
            (
                vec![("department", "SCJGJ")],
                OrderFilter {
                    department: Some("SCJGJ".into()),
                    ..Default::default()
                },
            ),
            (vec![("department", "")], OrderFilter::default()),
            // Taken as sent: spaces are a value (matching no department), not an absence.
            (
                vec![("department", "  ")],
                OrderFilter {
                    department: Some("  ".into()),
                    ..Default::default()
                },
            ),
            (
                vec![("co_department", "YSBZX")],
                OrderFilter {
                    co_department: Some("YSBZX".into()),
                    ..Default::default()
                },
            ),
            (
                vec![("state", "accepted,dispatched,accepted")],
                OrderFilter {
                    states: vec![OrderState::Dispatched, OrderState::Accepted],
                    ..Default::default()
                },
            ),
            (
                vec![("sla_state", "overdue")],
                OrderFilter {
                    sla_states: vec![SlaState::Overdue],
                    ..Default::default()
                },
            ),
            (
                vec![("urgency", "urgent,emergency")],
                OrderFilter {
                    urgencies: vec![Urgency::Urgent, Urgency::Emergency],
                    ..Default::default()
                },
            ),
            (
                vec![("matter", "SC-0101"), ("district", "金井")],
                OrderFilter {
                    matter: Some("SC-0101".into()),
                    district: Some("金井".into()),
                    ..Default::default()
                },
            ),
            (
                vec![
                    ("received_from", "2026-11-25T00:00:00+08:00"),
                    ("received_to", "2026-11-26T00:00:00Z"),
                ],
                OrderFilter {
                    received_from: Some(at("2026-11-24T16:00:00Z")),
                    received_to: Some(at("2026-11-26T00:00:00Z")),
                    ..Default::default()
                },
            ),
            (
                vec![("q", " 过期  食品\u{3000}超市 ")],
                OrderFilter {
                    words: vec!["过期".into(), "食品".into(), "超市".into()],
                    ..Default::default()
                },
            ),
            (
                vec![("q", "100%_off")],
                OrderFilter {
                    words: vec!["100%_off".into()],
                    ..Default::default()
                },
            ),
        ];
        for (query, want) in cases {
            let request = parse(&query).unwrap_or_else(|e| panic!("{query:?}: {e}"));
            assert_eq!(request.filter, want, "{query:?}");
        }
    }

    /// A query's parameters, as `(name, value)` pairs.
    type Params = Vec<(&'static str, &'static str)>;

    #[test]
    fn a_list_filter_takes_its_values_comma_separated_or_repeated() {
        let comma = parse(&[("state", "accepted,dispatched")]).unwrap();
        let repeated = parse(&[("state", "dispatched"), ("state", "accepted,dispatched")]).unwrap();
        assert_eq!(comma.filter.states, repeated.filter.states);
        assert_eq!(
            comma.filter.states,
            vec![OrderState::Dispatched, OrderState::Accepted]
                .into_iter()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
        );
        let urgencies = parse(&[("urgency", "urgent"), ("urgency", "emergency")]).unwrap();
        assert_eq!(urgencies.filter.urgencies.len(), 2);
    }

    #[test]
    fn sort_and_limit_have_defaults_and_bounds() {
        // (query, sort, limit)
        let cases: Vec<(Params, OrderSort, u32)> = vec![
            (vec![], OrderSort::NextDue, DEFAULT_LIMIT),
            (
                vec![("sort", "received")],
                OrderSort::Received,
                DEFAULT_LIMIT,
            ),
            (
                vec![("sort", "next_due"), ("limit", "1")],
                OrderSort::NextDue,
                1,
            ),
            (vec![("limit", "500")], OrderSort::NextDue, 500),
            (vec![("limit", "501")], OrderSort::NextDue, MAX_LIMIT),
            (vec![("limit", "")], OrderSort::NextDue, DEFAULT_LIMIT),
        ];
        for (query, sort, limit) in cases {
            let request = parse(&query).unwrap();
            assert_eq!((request.sort, request.limit), (sort, limit), "{query:?}");
        }
    }

    #[test]
    fn unknown_values_and_parameters_are_refused() {
        let long_q = "长".repeat(201);
        let long_code = "D".repeat(201);
        // (query, a part of the message)
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (
                vec![("state", "open")],
                "state \"open\" is not one of dispatched",
            ),
            (vec![("state", "accepted,")], "state \"\" is not one of"),
            (vec![("sla_state", "late")], "sla_state \"late\""),
            (vec![("urgency", "URGENT")], "urgency \"URGENT\""),
            (
                vec![("received_from", "2026-11-25")],
                "received_from must be RFC 3339",
            ),
            (
                vec![("received_to", "2026-11-25T10:00:00")],
                "received_to must be RFC 3339",
            ),
            (
                vec![
                    ("received_from", "2026-11-26T00:00:00+08:00"),
                    ("received_to", "2026-11-25T00:00:00+08:00"),
                ],
                "received_from must be before received_to",
            ),
            (
                vec![
                    ("received_from", "2026-11-26T00:00:00+08:00"),
                    ("received_to", "2026-11-26T00:00:00+08:00"),
                ],
                "received_from must be before received_to",
            ),
            (
                vec![("limit", "0")],
                "limit \"0\" is not a positive integer",
            ),
            (vec![("limit", "ten")], "limit \"ten\""),
            (vec![("limit", "-5")], "limit \"-5\""),
            (vec![("sort", "oldest")], "sort \"oldest\""),
            (vec![("next", "not-a-cursor")], "next is not a cursor"),
            (
                vec![("departmnet", "SCJGJ")],
                "unknown parameter \"departmnet\"",
            ),
            (
                vec![("department", "SCJGJ"), ("department", "YSBZX")],
                "department is given twice",
            ),
            (
                vec![("q", "一 二 三 四 五 六 七 八 九")],
                "q: at most 8 words",
            ),
            (vec![("q", &long_q)], "q: at most 200 characters"),
            (
                vec![("department", &long_code)],
                "department: at most 200 characters",
            ),
            (
                vec![("matter", "SC\u{0}01")],
                "matter: at most 200 characters, no control",
            ),
        ];
        for (query, want) in cases {
            match parse(&query) {
                Ok(request) => panic!("{query:?} was accepted: {request:?}"),
                Err(BadParameter(message)) => {
                    assert!(message.contains(want), "{query:?}: {message}")
                }
            }
        }
    }

    #[test]
    fn a_phone_is_read_as_its_digits_and_anything_else_is_refused_unechoed() {
        // (typed, digits)
        let cases = [
            ("13812345678", Some("13812345678")),
            ("138 1234 5678", Some("13812345678")),
            ("+86-138-1234-5678", Some("8613812345678")),
            ("(0591) 8765 4321", Some("059187654321")),
            ("1234567", Some("1234567")),
            ("123456", None),
            ("2026", None),
            (&"1".repeat(21), None),
            ("1-2-3-4-5-6-7", Some("1234567")),
            (&format!("{}1234567", " ".repeat(34)), None),
            ("138 1234 567x", None),
            ("１３８１２３４５６７８", None),
            ("PT20261125000123", None),
            ("", None),
        ];
        for (typed, digits) in cases {
            assert_eq!(phone_digits(typed).as_deref(), digits, "{typed:?}");
        }
        let request = parse(&[("phone", "139 0000 0000")]).unwrap();
        assert_eq!(request.filter.phone.as_deref(), Some("13900000000"));
        let err = parse(&[("phone", "139-secret")]).unwrap_err();
        assert!(!err.0.contains("secret"), "{err}");
        // A phone is part of the list's fingerprint; absent, the fingerprint is as before.
        assert_ne!(request.fingerprint(), parse(&[]).unwrap().fingerprint());
    }

    #[test]
    fn a_phone_search_is_scoped_to_what_the_reader_sees_in_full() {
        use crate::privacy::{Purpose, Reader};
        // (reader, purpose, scoped: Some(held_by, confidential), or refused)
        let cases = [
            (Reader::Operator, Purpose::View, Some((None, false))),
            (
                Reader::Handler {
                    department: "SCJGJ",
                },
                Purpose::View,
                Some((Some("SCJGJ"), true)),
            ),
            (
                Reader::Handler {
                    department: "SCJGJ",
                },
                Purpose::Export,
                Some((Some("SCJGJ"), false)),
            ),
            (Reader::Supervisor, Purpose::View, None),
            (Reader::Supervisor, Purpose::Export, None),
        ];
        for (reader, purpose, want) in cases {
            let mut filter = parse(&[("phone", "13900000000")]).unwrap().filter;
            match (filter.scope_phone(reader, purpose), want) {
                (Ok(()), Some(want)) => {
                    let reach = filter.phone_reach.expect("a reach");
                    assert_eq!((reach.held_by.as_deref(), reach.confidential), want);
                }
                (Err(message), None) => assert!(message.contains("masked"), "{message}"),
                (got, want) => panic!("{reader:?} {purpose:?}: {got:?}, expected {want:?}"),
            }
            // Without a phone there is nothing to scope, for any reader.
            let mut plain = OrderFilter::default();
            assert_eq!(plain.scope_phone(reader, purpose), Ok(()));
            assert_eq!(plain.phone_reach, None);
        }
    }

    #[test]
    fn total_is_asked_for_a_page_only() {
        // (query, paging, total or the refusal's words)
        let cases: Vec<(Params, Paging, Result<bool, &str>)> = vec![
            (vec![], Paging::Pages, Ok(false)),
            (vec![("total", "true")], Paging::Pages, Ok(true)),
            (vec![("total", "false")], Paging::Pages, Ok(false)),
            (vec![("total", "")], Paging::Pages, Ok(false)),
            (
                vec![("total", "yes")],
                Paging::Pages,
                Err("not true or false"),
            ),
            (
                vec![("total", "true")],
                Paging::Whole,
                Err("count its rows"),
            ),
        ];
        for (query, paging, want) in cases {
            let got = ListRequest::parse(&params(&query), paging)
                .map(|r| r.total)
                .map_err(|e| e.0);
            match (got, want) {
                (Ok(total), Ok(want)) => assert_eq!(total, want, "{query:?}"),
                (Err(message), Err(want)) => assert!(message.contains(want), "{message}"),
                (got, want) => panic!("{query:?}: {got:?}, expected {want:?}"),
            }
        }
        // Counting is not a filter: a cursor resumes with or without it.
        let plain = parse(&[("department", "SCJGJ")]).unwrap();
        let counted = parse(&[("department", "SCJGJ"), ("total", "true")]).unwrap();
        assert_eq!(plain.fingerprint(), counted.fingerprint());
    }

    #[test]
    fn the_export_takes_the_filters_but_no_pages() {
        let whole = |query: &[(&str, &str)]| ListRequest::parse(&params(query), Paging::Whole);
        assert!(whole(&[("department", "SCJGJ"), ("sort", "received")]).is_ok());
        for query in [[("limit", "10")], [("next", "x")]] {
            let err = whole(&query).unwrap_err();
            assert!(err.0.contains("without pages"), "{query:?}: {err}");
        }
        let err = whole(&[("nope", "1")]).unwrap_err();
        assert!(!err.0.contains("limit"), "{err}");
    }

    #[test]
    fn cursors_survive_the_round_trip_and_nothing_else_reads_as_one() {
        let request = parse(&[("department", "SCJGJ")]).unwrap();
        let positions = [
            Position {
                key: Some(at("2026-11-27T08:00:00Z")),
                order_no: "PT1".into(),
            },
            Position {
                key: None,
                order_no: "PT-最后_9".into(),
            },
        ];
        for after in positions {
            let cursor = request.cursor_after(at("2026-11-25T02:00:00Z"), after);
            let text = cursor.encode();
            assert!(
                text.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "URL-safe: {text}"
            );
            assert_eq!(Cursor::decode(&text), Some(cursor));
        }
        let valid = request
            .cursor_after(at("2026-11-25T02:00:00Z"), positions_first())
            .encode();
        let other_version = URL_SAFE_NO_PAD.encode(
            String::from_utf8(URL_SAFE_NO_PAD.decode(&valid).unwrap())
                .unwrap()
                .replace("\"v\":1", "\"v\":2"),
        );
        for text in [
            "",
            "!!!",
            "eyJ2IjoxfQ",                        // {"v":1}: fields missing
            &URL_SAFE_NO_PAD.encode(b"[1,2,3]"), // JSON, not a cursor
            &other_version,
            &format!("{valid}="),
            &"A".repeat(3000),
        ] {
            assert_eq!(Cursor::decode(text), None, "{text:?}");
        }
    }

    fn positions_first() -> Position {
        Position {
            key: Some(at("2026-11-27T08:00:00Z")),
            order_no: "PT1".into(),
        }
    }

    #[test]
    fn a_cursor_resumes_only_the_list_it_came_from() {
        let now = at("2026-11-25T03:00:00Z");
        let as_of = at("2026-11-25T02:00:00Z");
        let first = parse(&[("state", "dispatched,accepted"), ("department", "SCJGJ")]).unwrap();
        let next = first.cursor_after(as_of, positions_first()).encode();
        // (the next request's query, resumed?)
        let cases: Vec<(Vec<(&str, &str)>, bool)> = vec![
            // The same filters in another order and spelling, another page size.
            (
                vec![
                    ("department", "SCJGJ"),
                    ("state", "accepted,dispatched"),
                    ("limit", "7"),
                ],
                true,
            ),
            (
                vec![("department", "SCJGJ"), ("state", "dispatched,accepted")],
                true,
            ),
            (vec![("department", "SCJGJ")], false),
            (
                vec![("department", "YSBZX"), ("state", "dispatched,accepted")],
                false,
            ),
            (
                vec![
                    ("department", "SCJGJ"),
                    ("state", "dispatched,accepted"),
                    ("q", "过期"),
                ],
                false,
            ),
            (
                vec![
                    ("department", "SCJGJ"),
                    ("state", "dispatched,accepted"),
                    ("sort", "received"),
                ],
                false,
            ),
            (
                vec![("department", "SCJGJ"), ("state", "dispatched")],
                false,
            ),
        ];
        for (query, resumed) in cases {
            let mut query = query;
            query.push(("next", &next));
            let request = parse(&query).unwrap();
            match request.resume(now) {
                Ok((at, after)) => {
                    assert!(resumed, "{query:?} resumed another list");
                    assert_eq!(at, as_of, "the first page's instant holds");
                    assert_eq!(after, Some(positions_first()));
                }
                Err(e) => {
                    assert!(!resumed, "{query:?}: {e}");
                    assert!(e.0.contains("other filters"), "{e}");
                }
            }
        }
        // Without a cursor: from the start, judged now.
        assert_eq!(first.resume(now), Ok((now, None)));
    }

    #[test]
    fn fingerprints_tell_filters_apart() {
        let fingerprint = |query: &[(&str, &str)]| parse(query).unwrap().fingerprint();
        let all = [
            fingerprint(&[]),
            fingerprint(&[("department", "A")]),
            fingerprint(&[("matter", "A")]),
            fingerprint(&[("district", "A")]),
            fingerprint(&[("q", "A")]),
            fingerprint(&[("q", "A B")]),
            fingerprint(&[("q", "AB")]),
            fingerprint(&[("state", "closed")]),
            fingerprint(&[("sla_state", "closed")]),
            fingerprint(&[("urgency", "urgent")]),
            fingerprint(&[("received_from", "2026-11-25T00:00:00+08:00")]),
            fingerprint(&[("received_to", "2026-11-25T00:00:00+08:00")]),
            fingerprint(&[("sort", "received")]),
        ];
        let mut distinct = all.to_vec();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), all.len(), "{all:?}");
        // Stable: the same text in every build (cursors outlive a restart).
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
