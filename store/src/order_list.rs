//! The order list's queries: one page of orders matching a filter, in keyset order after a
//! position (`hotline_core::order_list`), and how many match, on the same conditions.
//!
//! Each filter present becomes a predicate (absent ones add nothing, so every statement
//! is sargable and its plan fits its filters); enum values come from closed sets and are
//! written into the statement, so that the planner sees them (and can use the partial
//! index of urgent cases). A filter on `sla_state` becomes ranges on the deadline columns
//! ([`sla_state_predicates`]); when it has several alternatives, each is a `UNION ALL`
//! arm read in index order, and the arms are merged.

use crate::StoreError;
use crate::sla_sql::{SLA_STATE_SQL, sla_at_sql, sla_state_predicates};
use chrono::{DateTime, Utc};
use hotline_core::order_list::{OrderFilter, OrderSort, Position};
use hotline_core::privacy::PhoneReach;
use hotline_schema::values::{Channel, Citizen, OrderState, RequestKind, SlaState, Urgency};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

/// One order of the list: what a list row shows, and the citizen for the caller to mask.
pub struct ListedOrder {
    pub order_no: String,
    pub kind: RequestKind,
    pub channel: Channel,
    pub title: String,
    pub department: String,
    pub state: OrderState,
    pub sla_state: SlaState,
    pub urgency: Urgency,
    pub matter_code: Option<String>,
    pub matter_name: Option<String>,
    pub district: Option<String>,
    pub received_at: DateTime<Utc>,
    /// The list's sort key: `None` for an order without a running clock.
    pub next_due_at: Option<DateTime<Utc>>,
    pub sign_due_at: Option<DateTime<Utc>>,
    pub committed_due_at: Option<DateTime<Utc>>,
    pub statutory_due_at: Option<DateTime<Utc>>,
    /// Personal data, as stored: the caller decides what to show.
    pub citizen: Citizen,
    pub confidential: bool,
    /// The departments co-handling it (协办), in the order they were named.
    pub co_departments: Vec<String>,
    /// The statutory limit as stored (`15wd`, `24h`): which clock its deadlines run on.
    pub statutory_limit: Option<String>,
}

impl ListedOrder {
    /// This order's position in a list sorted by `sort` (for the next page's cursor).
    pub fn position(&self, sort: OrderSort) -> Position {
        Position {
            key: match sort {
                OrderSort::NextDue => self.next_due_at,
                OrderSort::Received => Some(self.received_at),
            },
            order_no: self.order_no.clone(),
        }
    }
}

/// A parameter of the statement being built.
enum Param {
    At(Option<DateTime<Utc>>),
    Text(String),
    Int(i64),
}

/// A statement's parameters: each pushed once, referred to as `$n` wherever needed.
#[derive(Default)]
struct Params(Vec<Param>);

impl Params {
    fn push(&mut self, param: Param) -> String {
        self.0.push(param);
        format!("${}", self.0.len())
    }
}

/// `a IN ('x', 'y')` over names of a closed set (never user text).
fn one_of(column: &str, names: &[&'static str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    format!("{column} IN ({})", quoted.join(", "))
}

/// A word as an `ILIKE` pattern matching it anywhere, `%`, `_` and `\` taken literally.
pub fn contains_pattern(word: &str) -> String {
    let mut pattern = String::with_capacity(word.len() + 2);
    pattern.push('%');
    for c in word.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// What an order of the list must satisfy: every one of `common`, and one of `arms`
/// (alternatives that never hold for the same order, each read on its own in sort order).
struct Conditions {
    common: Vec<String>,
    arms: Vec<String>,
}

/// The conditions of `filter` (and of the position `after`, in `sort` order), with SLA
/// states judged at the parameter `at`; their values pushed onto `params`.
fn conditions(
    filter: &OrderFilter,
    sort: OrderSort,
    at: &str,
    after: Option<&Position>,
    params: &mut Params,
) -> Conditions {
    let mut common: Vec<String> = Vec::new();
    if let Some(department) = &filter.department {
        common.push(format!(
            "department = {}",
            params.push(Param::Text(department.clone()))
        ));
    }
    // `co_handlers @> '[{"department": …}]'`, on the partial index orders_co_handlers.
    let co_handled_by = |params: &mut Params, department: &str| {
        let wanted = serde_json::json!([{ "department": department }]).to_string();
        format!(
            "(co_handlers <> '[]'::jsonb AND co_handlers @> {}::jsonb)",
            params.push(Param::Text(wanted))
        )
    };
    if let Some(co) = &filter.co_department {
        common.push(co_handled_by(params, co));
    }
    // A handler's reach: held (on the department's index) or co-handled, one arm each.
    let scopes: Vec<String> = match &filter.held_or_co_handled_by {
        None => vec![],
        Some(own) => {
            let own_param = params.push(Param::Text(own.clone()));
            vec![
                format!("department = {own_param}"),
                format!(
                    "{} AND department <> {own_param}",
                    co_handled_by(params, own)
                ),
            ]
        }
    };
    if !filter.states.is_empty() {
        let names: Vec<&str> = filter.states.iter().map(|s| s.as_str()).collect();
        common.push(one_of("state", &names));
        if !filter.states.iter().any(|s| s.clocks_run()) {
            // Implied (no running clock: `next_due_at` is 'infinity' by its definition),
            // and it puts the scan on the last range of the sort index instead of behind
            // every open order.
            common.push("next_due_at = 'infinity'".to_owned());
        }
    }
    if let Some(matter) = &filter.matter {
        common.push(format!(
            "matter_code = {}",
            params.push(Param::Text(matter.clone()))
        ));
    }
    if let Some(district) = &filter.district {
        common.push(format!(
            "district = {}",
            params.push(Param::Text(district.clone()))
        ));
    }
    if !filter.urgencies.is_empty() {
        let names: Vec<&str> = filter.urgencies.iter().map(|u| u.as_str()).collect();
        common.push(one_of("urgency", &names));
        if !filter.urgencies.contains(&Urgency::Normal) {
            // Implied, and what the partial index orders_urgent_next_due is defined by.
            common.push("urgency <> 'normal'".to_owned());
        }
    }
    if let Some(from) = filter.received_from {
        common.push(format!(
            "received_at >= {}",
            params.push(Param::At(Some(from)))
        ));
    }
    if let Some(to) = filter.received_to {
        common.push(format!(
            "received_at < {}",
            params.push(Param::At(Some(to)))
        ));
    }
    for word in &filter.words {
        let pattern = params.push(Param::Text(contains_pattern(word)));
        common.push(format!(
            "(title ILIKE {pattern} ESCAPE '\\' OR content ILIKE {pattern} ESCAPE '\\')"
        ));
    }
    if let Some(phone) = &filter.phone {
        common.extend(phone_conditions(phone, filter.phone_reach.as_ref(), params));
    }
    if let Some(after) = after {
        let key = params.push(Param::At(after.key));
        let order_no = params.push(Param::Text(after.order_no.clone()));
        common.push(match sort {
            OrderSort::NextDue => format!(
                "(next_due_at, order_no COLLATE \"C\") > (COALESCE({key}::timestamptz, 'infinity'), {order_no})"
            ),
            OrderSort::Received => {
                format!("(received_at, order_no COLLATE \"C\") < ({key}::timestamptz, {order_no})")
            }
        });
    }
    // The arms: one without an SLA filter, else one per alternative of each state asked;
    // times each scope of a handler's reach.
    let sla_arms: Vec<String> = if filter.sla_states.is_empty() {
        vec!["TRUE".to_owned()]
    } else {
        filter
            .sla_states
            .iter()
            .flat_map(|s| sla_state_predicates(*s, at))
            .collect()
    };
    let arms: Vec<String> = if scopes.is_empty() {
        sla_arms
    } else {
        scopes
            .iter()
            .flat_map(|scope| sla_arms.iter().map(move |arm| format!("{scope} AND {arm}")))
            .collect()
    };
    Conditions { common, arms }
}

/// A phone search: the phone's digits, within the reader's reach (the orders whose phone
/// it sees in full); without a reach, nothing.
fn phone_conditions(phone: &str, reach: Option<&PhoneReach>, params: &mut Params) -> Vec<String> {
    let Some(reach) = reach else {
        return vec!["FALSE".to_owned()];
    };
    // The caller's few orders first, through the index on the phone's digits
    // (`orders_by_phone_digits`, migration 0100), as a set the rest of the query starts
    // from: written as a plain condition, the planner walks the list's order and filters
    // every order (0.3 s on 300,000 orders, against 0.1 ms so).
    let mut found = vec![format!(
        "order_no = ANY(ARRAY(SELECT order_no FROM orders WHERE citizen_phone IS NOT NULL \
         AND regexp_replace(citizen_phone, '[^0-9]', '', 'g') = {}))",
        params.push(Param::Text(phone.to_owned()))
    )];
    if !reach.confidential {
        found.push("NOT confidential".to_owned());
    }
    if let Some(department) = &reach.held_by {
        found.push(format!(
            "department = {}",
            params.push(Param::Text(department.clone()))
        ));
    }
    found
}

/// The SQL of one page and its parameters.
fn page_sql(
    filter: &OrderFilter,
    sort: OrderSort,
    as_of: DateTime<Utc>,
    after: Option<&Position>,
    limit: i64,
) -> (String, Params) {
    let mut params = Params::default();
    let at = params.push(Param::At(Some(as_of)));
    let limit = params.push(Param::Int(limit));
    let Conditions { common, arms } = conditions(filter, sort, &at, after, &mut params);
    let (order_by, inner_order_by) = match sort {
        OrderSort::NextDue => (
            "next_due_at, order_no COLLATE \"C\"",
            "orders.next_due_at, orders.order_no COLLATE \"C\"",
        ),
        OrderSort::Received => (
            "received_at DESC, order_no COLLATE \"C\" DESC",
            "orders.received_at DESC, orders.order_no COLLATE \"C\" DESC",
        ),
    };
    let clock = sla_at_sql(&at);
    let select = |arm: &str| {
        let mut conditions = common.clone();
        conditions.push(arm.to_owned());
        format!(
            "SELECT orders.order_no, kind, channel, title, department, state, urgency,
                    matter_code, matter_name, district, received_at, next_due_at,
                    NULLIF(next_due_at, 'infinity') AS next_due, sign_due_at,
                    committed_due_at, statutory_due_at, citizen_name, citizen_phone,
                    confidential, {SLA_STATE_SQL} AS sla_state,
                    ARRAY(SELECT e->>'department' FROM jsonb_array_elements(co_handlers) e)
                        AS co_departments, statutory_limit
             FROM orders {clock}
             WHERE {}
             ORDER BY {inner_order_by} LIMIT {limit}",
            conditions.join(" AND ")
        )
    };
    let sql = if arms.len() == 1 {
        select(&arms[0])
    } else {
        let unions: Vec<String> = arms
            .iter()
            .map(|arm| format!("({})", select(arm)))
            .collect();
        format!(
            "SELECT * FROM ({}) AS page ORDER BY {order_by} LIMIT {limit}",
            unions.join(" UNION ALL ")
        )
    };
    (sql, params)
}

/// The SQL of a page, with its parameters written in (for `EXPLAIN` in the benchmark
/// and in tests; never executed this way by the API).
pub fn page_sql_for_explain(
    filter: &OrderFilter,
    sort: OrderSort,
    as_of: DateTime<Utc>,
    after: Option<&Position>,
    limit: i64,
) -> String {
    let (mut sql, params) = page_sql(filter, sort, as_of, after, limit);
    // From the last parameter down, so that `$1` does not match inside `$12`.
    for (i, param) in params.0.iter().enumerate().rev() {
        let literal = match param {
            Param::At(Some(at)) => format!("'{}'::timestamptz", at.to_rfc3339()),
            Param::At(None) => "NULL::timestamptz".to_owned(),
            Param::Text(text) => format!("'{}'", text.replace('\'', "''")),
            Param::Int(n) => n.to_string(),
        };
        sql = sql.replace(&format!("${}", i + 1), &literal);
    }
    sql
}

/// The SQL that counts the orders matching `filter` (SLA states judged at `as_of`), and
/// its parameters: the conditions of a page, without position, order or limit; several
/// arms (which never hold for the same order) counted as one `UNION ALL`.
fn count_sql(filter: &OrderFilter, as_of: DateTime<Utc>) -> (String, Params) {
    let mut params = Params::default();
    let at = params.push(Param::At(Some(as_of)));
    // The sort does not matter without a position.
    let Conditions { common, arms } =
        conditions(filter, OrderSort::default(), &at, None, &mut params);
    let each = |arm: &str| {
        let mut all = common.clone();
        all.push(arm.to_owned());
        all.join(" AND ")
    };
    let sql = if arms.len() == 1 {
        format!("SELECT count(*) FROM orders WHERE {}", each(&arms[0]))
    } else {
        let unions: Vec<String> = arms
            .iter()
            .map(|arm| format!("(SELECT 1 FROM orders WHERE {})", each(arm)))
            .collect();
        format!(
            "SELECT count(*) FROM ({}) AS matching",
            unions.join(" UNION ALL ")
        )
    };
    (sql, params)
}

/// Binds `params` to `sql`, in order.
fn bound(
    sql: String,
    params: Params,
) -> sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for param in params.0 {
        query = match param {
            Param::At(at) => query.bind(at),
            Param::Text(text) => query.bind(text),
            Param::Int(n) => query.bind(n),
        };
    }
    query
}

/// How many orders match `filter`, with SLA states judged at `as_of`: the orders every
/// page of the list holds together (the count of `GET /api/orders?total=true`).
pub async fn count(
    pool: &PgPool,
    filter: &OrderFilter,
    as_of: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let (sql, params) = count_sql(filter, as_of);
    let total: i64 = bound(sql, params).fetch_one(pool).await?.try_get(0)?;
    Ok(total)
}

/// At most `limit` orders matching `filter`, in `sort` order, after `after` (from the
/// start without it), with SLA states judged at `as_of`.
pub async fn page(
    pool: &PgPool,
    filter: &OrderFilter,
    sort: OrderSort,
    as_of: DateTime<Utc>,
    after: Option<&Position>,
    limit: i64,
) -> Result<Vec<ListedOrder>, StoreError> {
    let (sql, params) = page_sql(filter, sort, as_of, after, limit);
    let rows = bound(sql, params).fetch_all(pool).await?;
    rows.iter().map(listed).collect()
}

fn listed(row: &PgRow) -> Result<ListedOrder, StoreError> {
    fn named<T: std::str::FromStr>(row: &PgRow, column: &str) -> Result<T, StoreError>
    where
        T::Err: std::fmt::Display,
    {
        let text: String = row.try_get(column)?;
        text.parse()
            .map_err(|e| StoreError::Defect(format!("column {column}: {e}")))
    }
    Ok(ListedOrder {
        order_no: row.try_get("order_no")?,
        kind: named(row, "kind")?,
        channel: named(row, "channel")?,
        title: row.try_get("title")?,
        department: row.try_get("department")?,
        state: named(row, "state")?,
        sla_state: named(row, "sla_state")?,
        urgency: named(row, "urgency")?,
        matter_code: row.try_get("matter_code")?,
        matter_name: row.try_get("matter_name")?,
        district: row.try_get("district")?,
        received_at: row.try_get("received_at")?,
        next_due_at: row.try_get("next_due")?,
        sign_due_at: row.try_get("sign_due_at")?,
        committed_due_at: row.try_get("committed_due_at")?,
        statutory_due_at: row.try_get("statutory_due_at")?,
        citizen: Citizen {
            name: row.try_get("citizen_name")?,
            phone: row.try_get("citizen_phone")?,
        },
        confidential: row.try_get("confidential")?,
        co_departments: row.try_get("co_departments")?,
        statutory_limit: row.try_get("statutory_limit")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_match_literally() {
        let cases = [
            ("过期", "%过期%"),
            ("100%", "%100\\%%"),
            ("a_b", "%a\\_b%"),
            ("C:\\dir", "%C:\\\\dir%"),
            ("", "%%"),
        ];
        for (word, want) in cases {
            assert_eq!(contains_pattern(word), want, "{word:?}");
        }
    }

    fn instant(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    /// [`page_sql_for_explain`] with each run of white space as one space.
    fn explained(
        filter: &OrderFilter,
        sort: OrderSort,
        as_of: DateTime<Utc>,
        after: Option<&Position>,
        limit: i64,
    ) -> String {
        let sql = page_sql_for_explain(filter, sort, as_of, after, limit);
        sql.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn filter(edit: impl FnOnce(&mut OrderFilter)) -> OrderFilter {
        let mut filter = OrderFilter::default();
        edit(&mut filter);
        filter
    }

    #[test]
    fn each_filter_given_adds_its_predicate_and_an_absent_one_adds_none() {
        let as_of = instant("2026-11-25T10:00:00+08:00");
        // (filter, sort, in the statement, not in it)
        let cases: Vec<(OrderFilter, OrderSort, &[&str], &[&str])> = vec![
            (
                OrderFilter::default(),
                OrderSort::NextDue,
                &["WHERE TRUE ORDER BY orders.next_due_at, orders.order_no COLLATE \"C\" LIMIT 50"],
                &[
                    "next_due_at = 'infinity'",
                    "urgency IN",
                    "ILIKE",
                    "UNION ALL",
                ],
            ),
            (
                filter(|f| f.states = vec![OrderState::Closed, OrderState::Merged]),
                OrderSort::NextDue,
                &["state IN ('closed', 'merged')", "next_due_at = 'infinity'"],
                &[],
            ),
            (
                filter(|f| f.states = vec![OrderState::Dispatched, OrderState::Closed]),
                OrderSort::NextDue,
                &["state IN ('dispatched', 'closed')"],
                &["next_due_at = 'infinity'"],
            ),
            (
                filter(|f| f.urgencies = vec![Urgency::Urgent, Urgency::Emergency]),
                OrderSort::NextDue,
                &["urgency IN ('urgent', 'emergency')", "urgency <> 'normal'"],
                &[],
            ),
            (
                filter(|f| f.urgencies = vec![Urgency::Normal, Urgency::Urgent]),
                OrderSort::NextDue,
                &["urgency IN ('normal', 'urgent')"],
                &["urgency <> 'normal'"],
            ),
            (
                filter(|f| {
                    f.department = Some("SCJGJ".into());
                    f.matter = Some("SC-0101".into());
                    f.district = Some("天河区".into());
                    f.words = vec!["it's".into(), "100%".into()];
                }),
                OrderSort::NextDue,
                &[
                    "department = 'SCJGJ'",
                    "matter_code = 'SC-0101'",
                    "district = '天河区'",
                    "(title ILIKE '%it''s%' ESCAPE '\\' OR content ILIKE '%it''s%' ESCAPE '\\')",
                    "(title ILIKE '%100\\%%' ESCAPE '\\' OR content ILIKE '%100\\%%' ESCAPE '\\')",
                ],
                &[],
            ),
            (
                filter(|f| {
                    f.received_from = Some(instant("2026-11-01T00:00:00+08:00"));
                    f.received_to = Some(instant("2026-12-01T00:00:00+08:00"));
                }),
                OrderSort::Received,
                &[
                    "received_at >= '2026-10-31T16:00:00+00:00'::timestamptz",
                    "received_at < '2026-11-30T16:00:00+00:00'::timestamptz",
                    "ORDER BY orders.received_at DESC, orders.order_no COLLATE \"C\" DESC LIMIT 50",
                ],
                &[],
            ),
        ];
        for (n, (filter, sort, present, absent)) in cases.iter().enumerate() {
            let sql = explained(filter, *sort, as_of, None, 50);
            for wanted in *present {
                assert!(sql.contains(wanted), "case {n}: no {wanted:?} in {sql}");
            }
            for unwanted in *absent {
                assert!(!sql.contains(unwanted), "case {n}: {unwanted:?} in {sql}");
            }
        }
    }

    #[test]
    fn sla_states_and_a_handlers_reach_are_union_arms_merged_in_sort_order() {
        let as_of = instant("2026-11-25T10:00:00+08:00");
        // The alternatives of each state are `sla_sql`'s (pinned by its tests).
        let alternatives = |states: &[SlaState]| -> usize {
            states
                .iter()
                .map(|s| sla_state_predicates(*s, "$1").len())
                .sum()
        };
        assert_eq!(alternatives(&[SlaState::Closed]), 1);
        assert!(alternatives(&[SlaState::Overdue]) > 1);
        // (filter, arms: alternatives of the SLA states asked, times the handler's scopes)
        let cases = [
            (OrderFilter::default(), 1),
            (filter(|f| f.sla_states = vec![SlaState::Closed]), 1),
            (
                filter(|f| f.sla_states = vec![SlaState::Overdue]),
                alternatives(&[SlaState::Overdue]),
            ),
            (
                filter(|f| f.sla_states = vec![SlaState::Overdue, SlaState::Paused]),
                alternatives(&[SlaState::Overdue, SlaState::Paused]),
            ),
            (
                filter(|f| f.held_or_co_handled_by = Some("SCJGJ".into())),
                2,
            ),
            (
                filter(|f| {
                    f.held_or_co_handled_by = Some("SCJGJ".into());
                    f.sla_states = vec![SlaState::Warning];
                }),
                2 * alternatives(&[SlaState::Warning]),
            ),
        ];
        for (n, (filter, arms)) in cases.iter().enumerate() {
            let sql = explained(filter, OrderSort::NextDue, as_of, None, 50);
            assert_eq!(
                sql.matches("SELECT orders.order_no").count(),
                *arms,
                "case {n}: {sql}"
            );
            let merged = *arms > 1;
            assert_eq!(sql.contains(" UNION ALL "), merged, "case {n}: {sql}");
            assert_eq!(
                sql.starts_with("SELECT * FROM ("),
                merged,
                "case {n}: {sql}"
            );
            if merged {
                assert!(
                    sql.ends_with(
                        ") AS page ORDER BY next_due_at, order_no COLLATE \"C\" LIMIT 50"
                    ),
                    "case {n}: {sql}"
                );
            }
        }
    }

    #[test]
    fn explain_writes_every_parameter_in_as_a_literal() {
        let as_of = instant("2026-11-25T10:00:00+08:00");
        let after = Position {
            key: None,
            order_no: "PT9".into(),
        };
        let sql = explained(
            &filter(|f| f.department = Some("SCJGJ".into())),
            OrderSort::NextDue,
            as_of,
            Some(&after),
            51,
        );
        assert!(!sql.contains('$'), "{sql}");
        for wanted in [
            "ELSE '2026-11-25T02:00:00+00:00'::timestamptz END AS sla_at",
            "department = 'SCJGJ'",
            "(next_due_at, order_no COLLATE \"C\") > \
             (COALESCE(NULL::timestamptz::timestamptz, 'infinity'), 'PT9')",
            "LIMIT 51",
        ] {
            assert!(sql.contains(wanted), "no {wanted:?} in {sql}");
        }
        let after = Position {
            key: Some(instant("2026-11-20T09:00:00+08:00")),
            order_no: "PT9".into(),
        };
        let sql = explained(
            &OrderFilter::default(),
            OrderSort::Received,
            as_of,
            Some(&after),
            50,
        );
        assert!(
            sql.contains(
                "(received_at, order_no COLLATE \"C\") < \
                 ('2026-11-20T01:00:00+00:00'::timestamptz::timestamptz, 'PT9')"
            ),
            "{sql}"
        );
    }
}
