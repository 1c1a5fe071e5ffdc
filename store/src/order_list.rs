//! The order list's query: one page of orders matching a filter, in keyset order after a
//! position (`hotline_core::order_list`).
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
        common.push(co_handled_by(&mut params, co));
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
                    co_handled_by(&mut params, own)
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
            .flat_map(|s| sla_state_predicates(*s, &at))
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
                        AS co_departments
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
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for param in params.0 {
        query = match param {
            Param::At(at) => query.bind(at),
            Param::Text(text) => query.bind(text),
            Param::Int(n) => query.bind(n),
        };
    }
    let rows = query.fetch_all(pool).await?;
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
}
