//! `/orders`, the order list (工单查询), for every role: the orders matching the filters of
//! the query string, a page at a time, with the total number of matching orders, the next
//! deadline of each and the time left or over; and `/search`, where the search box in
//! every page's header leads.
//!
//! The list is read by [`hotline_http::api::order_list::read_page`], the one path
//! `GET /api/orders` takes: the same parameters (read by the core's `ListRequest`), the
//! same reach (a handler's list is what its department holds or co-handles, a phone search
//! finds only the orders whose phone the reader sees in full), the same keyset cursor
//! (`next`), and the total counted with the same conditions. The 导出 CSV link is
//! `GET /api/orders.csv` with the list's filters, which takes the page's session.

use super::desk::standing_words;
use super::{Frame, render, words};
use askama::Template;
use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use hotline_core::config::Limit;
use hotline_core::order_list::{ListParameter, OrderSort, phone_digits};
use hotline_core::privacy::{Purpose, mask_phone, phone_reach};
use hotline_core::rules::Rules;
use hotline_http::api::Api;
use hotline_http::api::order_list::{Counting, ListPage, read_page};
use hotline_http::api::orders::reader;
use hotline_http::api::tokens::Role;
use hotline_http::session::Session;
use hotline_schema::values::{OrderNo, OrderState, SlaState, Urgency};
use hotline_store::order_list::ListedOrder;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What a query value keeps as it is: letters, digits, `-`, `_`, `.`, `~` and the commas
/// between the values of a list filter.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b',');

/// `name=value&…`, each percent-encoded.
pub fn query_string(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| {
            format!(
                "{}={}",
                percent_encoding::utf8_percent_encode(name, QUERY_VALUE),
                percent_encoding::utf8_percent_encode(value, QUERY_VALUE)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The order list with these parameters.
pub fn list_of(pairs: &[(&str, &str)]) -> String {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    with_query("/orders", &pairs)
}

/// `path`, with `?query` when there are parameters.
fn with_query(path: &str, pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query_string(pairs))
    }
}

/// The parameters as sent, without empty ones (no filter) and without `dropped`.
fn kept(params: &[(String, String)], dropped: &[ListParameter]) -> Vec<(String, String)> {
    params
        .iter()
        .filter(|(name, value)| {
            !value.is_empty() && !dropped.iter().any(|d| d.as_str() == name.as_str())
        })
        .cloned()
        .collect()
}

/// Where the list page's links lead, from the parameters it was asked with: the same
/// filters throughout.
#[derive(Debug, PartialEq, Eq)]
pub struct Links {
    /// The page after this one (`next` = its cursor), if there is one.
    pub next: Option<String>,
    /// The first page, when this one is not it.
    pub first: Option<String>,
    /// The whole list as a CSV file: `GET /api/orders.csv` with the filters (the export
    /// takes no `limit`, `next` or `total`).
    pub csv: String,
    /// The list sorted each way (from its first page), with whether it is this sort.
    pub sorts: Vec<(String, &'static str, bool)>,
}

impl Links {
    pub fn of(params: &[(String, String)], sort: OrderSort, cursor: Option<&str>) -> Links {
        use ListParameter as P;
        let filters = kept(params, &[P::Next]);
        let resumed = params
            .iter()
            .any(|(name, value)| name == P::Next.as_str() && !value.is_empty());
        let next = cursor.map(|cursor| {
            let mut pairs = filters.clone();
            pairs.push((P::Next.as_str().to_owned(), cursor.to_owned()));
            with_query("/orders", &pairs)
        });
        let sorts = [
            (OrderSort::NextDue, "按下一时限"),
            (OrderSort::Received, "按受理时间(新→旧)"),
        ]
        .into_iter()
        .map(|(each, label)| {
            let mut pairs = kept(params, &[P::Next, P::Sort]);
            if each != OrderSort::default() {
                pairs.push((P::Sort.as_str().to_owned(), each.as_str().to_owned()));
            }
            (with_query("/orders", &pairs), label, each == sort)
        })
        .collect();
        Links {
            next,
            first: resumed.then(|| with_query("/orders", &filters)),
            csv: with_query(
                "/api/orders.csv",
                &kept(params, &[P::Limit, P::Next, P::Total]),
            ),
            sorts,
        }
    }
}

/// Where the search box leads for `text`, once it is known not to be the number of an
/// order the reader may open: a phone number to the list of the orders with that phone,
/// for a role that sees phones in full (for the others, and for anything else, the list of
/// the orders whose title or content hold the words); nothing typed, the whole list.
pub fn list_search(text: &str, role: &Role) -> String {
    let text = text.trim();
    if text.is_empty() {
        return "/orders".to_owned();
    }
    let (name, value) = match phone_digits(text) {
        Some(digits) if phone_reach(reader(role), Purpose::View).is_some() => {
            (ListParameter::Phone, digits)
        }
        _ => (ListParameter::Q, text.to_owned()),
    };
    with_query("/orders", &[(name.as_str().to_owned(), value)])
}

/// The order number `text` may be (trimmed), if it is one by the contract's rule.
pub fn order_number(text: &str) -> Option<&str> {
    let text = text.trim();
    OrderNo::parse(text).ok().map(|_| text)
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// `GET /search?q=`: the header's search box. The number of an order the reader may open
/// goes to that order; anything else to the list ([`list_search`]). What was typed is never
/// logged.
pub async fn search(
    State(api): State<Arc<Api>>,
    Extension(session): Extension<Session>,
    Query(query): Query<SearchQuery>,
) -> Response {
    if let Some(order_no) = order_number(&query.q) {
        // As the order page decides: a handler opens what its department holds,
        // co-handles or was rated on; anything else is searched as words, so that the
        // answer tells nothing of other departments' orders.
        let involved = match hotline_store::read::involved(&api.pool, order_no).await {
            Ok(involved) => involved,
            Err(err) => return super::unavailable(&err),
        };
        let visible = match &session.caller.role {
            Role::Handler { department } => involved.contains(department),
            Role::Operator | Role::Supervisor => !involved.is_empty(),
        };
        if visible {
            return Redirect::to(&format!("/orders/{order_no}")).into_response();
        }
    }
    Redirect::to(&list_search(&query.q, &session.caller.role)).into_response()
}

/// One order of the list, in words.
pub struct Row {
    pub order_no: String,
    pub title: String,
    pub department: String,
    pub department_name: String,
    /// For a handler, an order its department co-handles (协办) rather than holds.
    pub co: bool,
    pub state: &'static str,
    /// The SLA state's name (for its colour) and its words.
    pub sla_class: &'static str,
    pub sla_state: &'static str,
    pub received_at: String,
    /// The next deadline's kind (签收, 承诺办结), empty when no clock runs.
    pub due_label: &'static str,
    pub due_at: String,
    /// `剩余 …`, `超时 …`, or why no clock runs.
    pub standing: String,
    pub over: bool,
}

/// `order`'s next deadline, its kind and the limit whose clock it runs on: the sign
/// deadline of an order not yet accepted (never after the committed one), else the
/// committed one; none while no clock runs.
fn next_deadline(
    rules: &Rules,
    order: &ListedOrder,
) -> Option<(&'static str, DateTime<Utc>, Limit)> {
    let statutory = order
        .statutory_limit
        .as_deref()
        .and_then(|l| Limit::parse(l).ok())
        .unwrap_or(Limit::WorkingDays(1));
    match order.state {
        OrderState::Dispatched => {
            let due = order.next_due_at?;
            if order.sign_due_at == Some(due) {
                let sign = rules.sign_limit(order.matter_code.as_deref(), order.urgency, statutory);
                Some(("签收", due, sign))
            } else {
                Some(("承诺办结", due, statutory))
            }
        }
        OrderState::Accepted | OrderState::ReturnPending => order
            .committed_due_at
            .map(|due| ("承诺办结", due, statutory)),
        OrderState::Suspended | OrderState::Replied | OrderState::Merged | OrderState::Closed => {
            None
        }
    }
}

/// Why an order shows no deadline: its clock is stopped or done.
fn no_clock(state: OrderState) -> &'static str {
    match state {
        OrderState::Suspended => "暂停计时",
        OrderState::Replied => "已答复,停止计时",
        OrderState::Merged => "已合并,不计时",
        OrderState::Closed => "已办结",
        OrderState::Dispatched | OrderState::Accepted | OrderState::ReturnPending => "—",
    }
}

pub fn row(
    rules: &Rules,
    names: &BTreeMap<String, String>,
    role: &Role,
    order: &ListedOrder,
    now: DateTime<Utc>,
) -> Row {
    let (due_label, due_at, standing, over) = match next_deadline(rules, order) {
        Some((label, due, limit)) => {
            let (standing, over) = standing_words(rules, limit, due, now);
            (label, words::when(due), standing, over)
        }
        None => ("", "—".to_owned(), no_clock(order.state).to_owned(), false),
    };
    Row {
        order_no: order.order_no.clone(),
        title: order.title.clone(),
        department_name: names.get(&order.department).cloned().unwrap_or_default(),
        co: role.department().is_some_and(|own| own != order.department),
        department: order.department.clone(),
        state: words::state(order.state),
        sla_class: order.sla_state.as_str(),
        sla_state: words::sla_state(order.sla_state),
        received_at: words::when(order.received_at),
        due_label,
        due_at,
        standing,
        over,
    }
}

/// One choice of a filter's select.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// The choices of a select: 全部, each of `all` (value, label), and, when the list was
/// asked with something else (several values, `state=dispatched,accepted`, as a count of
/// the board asks; a code the catalog does not know), that, chosen.
fn choices(
    asked: &[String],
    all: &[(String, String)],
    label_of: impl Fn(&str) -> Option<&'static str>,
) -> Vec<Choice> {
    let current = asked.join(",");
    let mut found = vec![Choice {
        value: String::new(),
        label: "全部".to_owned(),
        selected: current.is_empty(),
    }];
    found.extend(all.iter().map(|(value, label)| Choice {
        value: value.clone(),
        label: label.clone(),
        selected: current == *value,
    }));
    if !current.is_empty() && !all.iter().any(|(value, _)| current == *value) {
        let label = current
            .split(',')
            .map(|part| label_of(part).unwrap_or(part))
            .collect::<Vec<&str>>()
            .join("、");
        found.push(Choice {
            value: current,
            label,
            selected: true,
        });
    }
    found
}

/// The values of `parameter` as sent (a list filter may be repeated).
fn values_of(params: &[(String, String)], parameter: ListParameter) -> Vec<String> {
    params
        .iter()
        .filter(|(name, value)| name == parameter.as_str() && !value.is_empty())
        .map(|(_, value)| value.clone())
        .collect()
}

/// The filters the form has no field for, carried along as hidden fields.
const CARRIED: [ListParameter; 7] = [
    ListParameter::CoDepartment,
    ListParameter::Matter,
    ListParameter::District,
    ListParameter::ReceivedFrom,
    ListParameter::ReceivedTo,
    ListParameter::Phone,
    ListParameter::Limit,
];

/// The filters of a list, said in words (`状态 待签收、办理中`), for the line above it.
pub fn filters_said(params: &[(String, String)]) -> Vec<String> {
    use ListParameter as P;
    let enum_words = |value: &str, word: fn(&str) -> Option<&'static str>| {
        value
            .split(',')
            .map(|part| word(part).unwrap_or(part).to_owned())
            .collect::<Vec<_>>()
            .join("、")
    };
    kept(params, &[P::Next, P::Limit, P::Sort, P::Total])
        .iter()
        .filter_map(|(name, value)| {
            let parameter = ListParameter::parse(name)?;
            Some(match parameter {
                P::Department => format!("承办单位 {value}"),
                P::CoDepartment => format!("协办单位 {value}"),
                P::State => format!(
                    "状态 {}",
                    enum_words(value, |v| OrderState::parse(v).map(words::state))
                ),
                P::SlaState => format!(
                    "时限状态 {}",
                    enum_words(value, |v| SlaState::parse(v).map(words::sla_state))
                ),
                P::Urgency => format!(
                    "紧急程度 {}",
                    enum_words(value, |v| Urgency::parse(v).map(words::urgency))
                ),
                P::Matter => format!("事项 {value}"),
                P::District => format!("区域 {value}"),
                P::ReceivedFrom => format!("受理不早于 {value}"),
                P::ReceivedTo => format!("受理早于 {value}"),
                P::Q => format!("关键词「{value}」"),
                // Masked, as on a screen anyone may look over.
                P::Phone => format!("市民电话 {}", mask_phone(value)),
                P::Sort | P::Limit | P::Next | P::Total => return None,
            })
        })
        .collect()
}

#[derive(Template)]
#[template(path = "orders.html")]
struct OrdersPage {
    page: Frame,
    /// Whether the reader may choose the department (a handler's list is its own).
    any_department: bool,
    departments: Vec<Choice>,
    states: Vec<Choice>,
    sla_states: Vec<Choice>,
    urgencies: Vec<Choice>,
    sorts: Vec<Choice>,
    q: String,
    carried: Vec<(String, String)>,
    said: Vec<String>,
    /// `None` when the list could not be read (the problem says why).
    total: Option<i64>,
    rows: Vec<Row>,
    links: Links,
    as_of: String,
}

/// `GET /orders`: the list, filtered as `GET /api/orders` is, with its total.
pub async fn page(
    State(api): State<Arc<Api>>,
    Extension(session): Extension<Session>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let role = &session.caller.role;
    let (params, read) = match query {
        Ok(Query(params)) => {
            let read = read_page(&api, role, &params, Counting::Always).await;
            (params, read)
        }
        Err(rejection) => (
            Vec::new(),
            Err(hotline_http::api::ApiError::bad_request(
                rejection.body_text(),
            )),
        ),
    };
    let rules = api.rules();
    let names = words::department_names(&rules.catalog);
    let mut frame = Frame::new(&session, "/orders");
    frame.search = values_of(&params, ListParameter::Q).join(" ");
    let (status, total, rows, links, as_of) = match read {
        Ok(ListPage {
            request,
            orders,
            next,
            as_of,
            total,
        }) => (
            StatusCode::OK,
            total,
            orders
                .iter()
                .map(|o| row(&rules, &names, role, o, as_of))
                .collect(),
            Links::of(&params, request.sort, next.as_deref()),
            words::when(as_of),
        ),
        Err(refused) => {
            if refused.status == StatusCode::SERVICE_UNAVAILABLE {
                return super::unavailable_now();
            }
            frame.problem = Some(format!("无法按这些条件列出工单:{}", refused.message));
            (
                refused.status,
                None,
                Vec::new(),
                Links::of(&params, OrderSort::default(), None),
                String::new(),
            )
        }
    };
    let department_names: Vec<(String, String)> = names
        .iter()
        .map(|(code, name)| (code.clone(), format!("{code} {name}")))
        .collect();
    let all = |names: &[&'static str], word: fn(&str) -> &'static str| {
        names
            .iter()
            .map(|n| ((*n).to_owned(), word(n).to_owned()))
            .collect::<Vec<(String, String)>>()
    };
    let state_names = all(OrderState::NAMES, |n| {
        OrderState::parse(n).map_or("", words::state)
    });
    let sla_names = all(SlaState::NAMES, |n| {
        SlaState::parse(n).map_or("", words::sla_state)
    });
    let urgency_names = all(Urgency::NAMES, |n| {
        Urgency::parse(n).map_or("", words::urgency)
    });
    let sort = values_of(&params, ListParameter::Sort);
    let page = OrdersPage {
        page: frame,
        any_department: role.department().is_none(),
        departments: choices(
            &values_of(&params, ListParameter::Department),
            &department_names,
            |_| None,
        ),
        states: choices(
            &values_of(&params, ListParameter::State),
            &state_names,
            |v| OrderState::parse(v).map(words::state),
        ),
        sla_states: choices(
            &values_of(&params, ListParameter::SlaState),
            &sla_names,
            |v| SlaState::parse(v).map(words::sla_state),
        ),
        urgencies: choices(
            &values_of(&params, ListParameter::Urgency),
            &urgency_names,
            |v| Urgency::parse(v).map(words::urgency),
        ),
        sorts: [
            (OrderSort::NextDue, "下一时限"),
            (OrderSort::Received, "受理时间(新→旧)"),
        ]
        .into_iter()
        .map(|(each, label)| Choice {
            value: each.as_str().to_owned(),
            label: label.to_owned(),
            selected: sort
                .first()
                .map_or(each == OrderSort::default(), |s| s == each.as_str()),
        })
        .collect(),
        q: values_of(&params, ListParameter::Q).join(" "),
        carried: CARRIED
            .iter()
            .flat_map(|p| {
                values_of(&params, *p)
                    .into_iter()
                    .map(|value| (p.as_str().to_owned(), value))
            })
            .collect(),
        said: filters_said(&params),
        total,
        rows,
        links,
        as_of,
    };
    (status, render(&page)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn query_strings_encode_every_value_and_keep_commas() {
        // (pairs, query string)
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (vec![], ""),
            (vec![("department", "SCJGJ")], "department=SCJGJ"),
            (
                vec![("state", "dispatched,accepted"), ("limit", "25")],
                "state=dispatched,accepted&limit=25",
            ),
            (
                vec![("q", "噪声 扰民")],
                "q=%E5%99%AA%E5%A3%B0%20%E6%89%B0%E6%B0%91",
            ),
            (vec![("q", "a&b=c#d+e")], "q=a%26b%3Dc%23d%2Be"),
            (
                vec![("received_from", "2026-11-25T00:00:00+08:00")],
                "received_from=2026-11-25T00%3A00%3A00%2B08%3A00",
            ),
        ];
        for (query, want) in cases {
            assert_eq!(query_string(&pairs(&query)), want, "{query:?}");
        }
    }

    #[test]
    fn the_lists_links_keep_its_filters_and_page_on_with_the_cursor() {
        // (asked with, sort, cursor of the page after, links)
        type Case = (
            Vec<(&'static str, &'static str)>,
            OrderSort,
            Option<&'static str>,
            Links,
        );
        let cases: Vec<Case> = vec![
            (
                vec![],
                OrderSort::NextDue,
                None,
                Links {
                    next: None,
                    first: None,
                    csv: "/api/orders.csv".into(),
                    sorts: vec![
                        ("/orders".into(), "按下一时限", true),
                        ("/orders?sort=received".into(), "按受理时间(新→旧)", false),
                    ],
                },
            ),
            (
                vec![
                    ("department", "SCJGJ"),
                    ("state", "dispatched"),
                    ("limit", "25"),
                    ("q", ""),
                ],
                OrderSort::NextDue,
                Some("CUR1"),
                Links {
                    next: Some(
                        "/orders?department=SCJGJ&state=dispatched&limit=25&next=CUR1".into(),
                    ),
                    first: None,
                    csv: "/api/orders.csv?department=SCJGJ&state=dispatched".into(),
                    sorts: vec![
                        (
                            "/orders?department=SCJGJ&state=dispatched&limit=25".into(),
                            "按下一时限",
                            true,
                        ),
                        (
                            "/orders?department=SCJGJ&state=dispatched&limit=25&sort=received"
                                .into(),
                            "按受理时间(新→旧)",
                            false,
                        ),
                    ],
                },
            ),
            // A later page: the next cursor replaces the one it was asked with, the first
            // page is the filters alone, the export never carries a cursor or a count.
            (
                vec![
                    ("sort", "received"),
                    ("next", "CUR1"),
                    ("limit", "25"),
                    ("total", "true"),
                ],
                OrderSort::Received,
                Some("CUR2"),
                Links {
                    next: Some("/orders?sort=received&limit=25&total=true&next=CUR2".into()),
                    first: Some("/orders?sort=received&limit=25&total=true".into()),
                    csv: "/api/orders.csv?sort=received".into(),
                    sorts: vec![
                        ("/orders?limit=25&total=true".into(), "按下一时限", false),
                        (
                            "/orders?limit=25&total=true&sort=received".into(),
                            "按受理时间(新→旧)",
                            true,
                        ),
                    ],
                },
            ),
            // The last page: no next, the first page still reachable.
            (
                vec![("q", "噪声"), ("next", "CUR2")],
                OrderSort::NextDue,
                None,
                Links {
                    next: None,
                    first: Some("/orders?q=%E5%99%AA%E5%A3%B0".into()),
                    csv: "/api/orders.csv?q=%E5%99%AA%E5%A3%B0".into(),
                    sorts: vec![
                        ("/orders?q=%E5%99%AA%E5%A3%B0".into(), "按下一时限", true),
                        (
                            "/orders?q=%E5%99%AA%E5%A3%B0&sort=received".into(),
                            "按受理时间(新→旧)",
                            false,
                        ),
                    ],
                },
            ),
        ];
        for (asked, sort, cursor, want) in cases {
            assert_eq!(Links::of(&pairs(&asked), sort, cursor), want, "{asked:?}");
        }
    }

    #[test]
    fn the_search_box_opens_an_order_by_its_number_else_the_list() {
        let handler = Role::Handler {
            department: "SCJGJ".into(),
        };
        // (typed, the order number it may be)
        let numbers = [
            ("PT20261125000123", Some("PT20261125000123")),
            ("  PT-P-1 ", Some("PT-P-1")),
            ("13900000000", Some("13900000000")),
            ("噪声", None),
            ("PT 1", None),
            ("", None),
        ];
        for (typed, want) in numbers {
            assert_eq!(order_number(typed), want, "{typed:?}");
        }
        // (typed, role, where the list search leads)
        let cases = [
            ("", Role::Operator, "/orders"),
            ("   ", Role::Supervisor, "/orders"),
            (
                "噪声 扰民",
                Role::Operator,
                "/orders?q=%E5%99%AA%E5%A3%B0%20%E6%89%B0%E6%B0%91",
            ),
            ("139 0000 0000", Role::Operator, "/orders?phone=13900000000"),
            (
                "139-0000-0000",
                handler.clone(),
                "/orders?phone=13900000000",
            ),
            // A supervisor sees phones masked: a number is words in the title or content.
            ("13900000000", Role::Supervisor, "/orders?q=13900000000"),
            // Too few digits for a phone: words.
            ("2026", Role::Operator, "/orders?q=2026"),
            ("PT-P-9", handler.clone(), "/orders?q=PT-P-9"),
        ];
        for (typed, role, want) in cases {
            assert_eq!(list_search(typed, &role), want, "{typed:?} as {role:?}");
        }
    }

    #[test]
    fn a_list_filter_asked_with_several_values_is_one_choice_chosen() {
        let all = [("dispatched", "待签收"), ("accepted", "办理中")]
            .map(|(v, l)| (v.to_owned(), l.to_owned()));
        let label = |v: &str| OrderState::parse(v).map(words::state);
        let chosen = |asked: &[&str]| -> Vec<(String, String, bool)> {
            let asked: Vec<String> = asked.iter().map(|s| (*s).to_owned()).collect();
            choices(&asked, &all, label)
                .into_iter()
                .map(|c| (c.value, c.label, c.selected))
                .collect()
        };
        let base = |selected: [bool; 3]| {
            vec![
                (String::new(), "全部".to_owned(), selected[0]),
                ("dispatched".to_owned(), "待签收".to_owned(), selected[1]),
                ("accepted".to_owned(), "办理中".to_owned(), selected[2]),
            ]
        };
        assert_eq!(chosen(&[]), base([true, false, false]));
        assert_eq!(chosen(&["accepted"]), base([false, false, true]));
        let mut several = base([false, false, false]);
        several.push((
            "dispatched,accepted,replied".to_owned(),
            "待签收、办理中、已答复待回访".to_owned(),
            true,
        ));
        assert_eq!(chosen(&["dispatched,accepted", "replied"]), several);
    }

    #[test]
    fn filters_are_said_in_words_and_a_phone_masked() {
        let said = filters_said(&pairs(&[
            ("department", "SCJGJ"),
            ("state", "dispatched,accepted"),
            ("sla_state", "overdue"),
            ("q", "噪声"),
            ("phone", "13900000000"),
            ("limit", "25"),
            ("next", "CUR"),
            ("urgency", ""),
        ]));
        assert_eq!(
            said,
            [
                "承办单位 SCJGJ",
                "状态 待签收、办理中",
                "时限状态 超期",
                "关键词「噪声」",
                "市民电话 139****0000",
            ]
        );
    }

    #[test]
    fn each_order_shows_its_next_deadline_on_its_own_clock_or_why_none_runs() {
        use hotline_core::config::Config;
        use hotline_schema::values::{Channel, Citizen, RequestKind};
        let rules = Rules::new(&Config::test_catalog());
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let order = |state: OrderState, next: Option<&str>, sign: &str| ListedOrder {
            order_no: "PT1".into(),
            kind: RequestKind::Complaint,
            channel: Channel::Phone,
            title: "t".into(),
            department: "YSBZX".into(),
            state,
            sla_state: SlaState::OnTrack,
            urgency: Urgency::Normal,
            matter_code: None,
            matter_name: None,
            district: None,
            received_at: at("2026-11-23T09:00:00+08:00"),
            next_due_at: next.map(at),
            sign_due_at: Some(at(sign)),
            committed_due_at: Some(at("2026-11-27T17:00:00+08:00")),
            statutory_due_at: Some(at("2026-12-01T17:00:00+08:00")),
            citizen: Citizen {
                name: None,
                phone: None,
            },
            confidential: false,
            co_departments: vec![],
            statutory_limit: Some("5wd".into()),
        };
        let names = BTreeMap::from([("YSBZX".to_owned(), "医社保中心".to_owned())]);
        let now = at("2026-11-24T10:00:00+08:00");
        let sign = "2026-11-24T09:00:00+08:00";
        // (order, reader, due label, due, over, standing starts with, co)
        let cases = [
            (
                order(OrderState::Dispatched, Some(sign), sign),
                Role::Supervisor,
                "签收",
                "2026-11-24 09:00",
                true,
                "超时",
                false,
            ),
            (
                order(
                    OrderState::Dispatched,
                    Some("2026-11-27T17:00:00+08:00"),
                    "2026-11-28T09:00:00+08:00",
                ),
                Role::Operator,
                "承诺办结",
                "2026-11-27 17:00",
                false,
                "剩余",
                false,
            ),
            (
                order(
                    OrderState::Accepted,
                    Some("2026-11-27T17:00:00+08:00"),
                    sign,
                ),
                Role::Handler {
                    department: "SCJGJ".into(),
                },
                "承诺办结",
                "2026-11-27 17:00",
                false,
                "剩余",
                true,
            ),
            (
                order(OrderState::Suspended, None, sign),
                Role::Supervisor,
                "",
                "—",
                false,
                "暂停计时",
                false,
            ),
            (
                order(OrderState::Replied, None, sign),
                Role::Handler {
                    department: "YSBZX".into(),
                },
                "",
                "—",
                false,
                "已答复",
                false,
            ),
        ];
        for (n, (order, role, label, due, over, standing, co)) in cases.into_iter().enumerate() {
            let row = row(&rules, &names, &role, &order, now);
            assert_eq!(
                (row.due_label, row.due_at.as_str(), row.over, row.co),
                (label, due, over, co),
                "case {n}"
            );
            assert!(
                row.standing.starts_with(standing),
                "case {n}: {}",
                row.standing
            );
            assert_eq!(row.department_name, "医社保中心");
            assert_eq!((row.sla_state, row.sla_class), ("正常", "on_track"));
        }
    }
}
