//! `GET /api/orders`: the order list, a page at a time, nearest deadline first; and
//! `GET /api/orders.csv`: the same list whole, streamed as a spreadsheet-safe CSV file.
//! Filters, sort and cursor are the core's (`hotline_core::order_list`); the query is the
//! store's. A handler sees the orders its department holds or co-handles (协办).

use super::openapi::{ErrorBody, Unauthorized, Unavailable, wire};
use super::orders::CitizenView;
use super::tokens::{Caller, Role};
use super::{Api, ApiError};
use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use hotline_core::calendar::{BUSINESS_TZ, business_time};
use hotline_core::order_list::{ListRequest, Paging, Position};
use hotline_core::privacy::Purpose;
use hotline_core::sla::SlaClock;
use hotline_schema::values::{Channel, OrderState, RequestKind, SlaState, TaskRole, Urgency};
use hotline_store::order_list::{self, ListedOrder};
use serde::Serialize;
use std::borrow::Cow;
use std::sync::Arc;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn, ParameterStyle};
use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{Ref, RefOr, Required, Schema};
use utoipa::{IntoParams, ToSchema};

/// Rows per query while the export streams.
const EXPORT_PAGE: i64 = 500;

/// Reads the request's parameters and applies the caller's reach: a handler's list is its
/// own department's (asking for another is 403).
fn request_for(
    caller: &Caller,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    paging: Paging,
) -> Result<ListRequest, ApiError> {
    let Query(params) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let mut request =
        ListRequest::parse(&params, paging).map_err(|e| ApiError::bad_request(e.0))?;
    if let Role::Handler { department: own } = &caller.role {
        request
            .filter
            .scope_to_handler(own)
            .map_err(ApiError::forbidden)?;
    }
    Ok(request)
}

/// Where to start: the instant to judge at and the position to resume after.
async fn start(
    api: &Api,
    request: &ListRequest,
) -> Result<(DateTime<Utc>, Option<Position>), ApiError> {
    let now = if request.next.is_some() {
        // The cursor's instant is used; the clock is not needed.
        DateTime::<Utc>::MIN_UTC
    } else {
        hotline_store::database_now(&api.pool)
            .await
            .map_err(|e| ApiError::database(&e))?
    };
    request.resume(now).map_err(|e| ApiError::bad_request(e.0))
}

fn time(at: Option<DateTime<Utc>>) -> Option<String> {
    at.map(business_time)
}

/// The query of `GET /api/orders` in the API's document: the core's one list of the
/// parameters (`ListParameter`), each described here (the core stays free of the
/// document's crate). The handlers read the same parameters with `ListRequest::parse`.
pub struct OrderListQuery;

/// The query of `GET /api/orders.csv`: the list's parameters without its pages.
pub struct ExportQuery;

impl IntoParams for OrderListQuery {
    fn into_params(parameter_in: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        list_parameters(Paging::Pages, parameter_in().unwrap_or(ParameterIn::Query))
    }
}

impl IntoParams for ExportQuery {
    fn into_params(parameter_in: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        list_parameters(Paging::Whole, parameter_in().unwrap_or(ParameterIn::Query))
    }
}

/// Free text: any characters but controls, at most 200.
const FREE_TEXT: &str = r"^[^\x00-\x1f\x7f-\x9f]*$";

/// Words separated by spaces, at most 8, no controls.
const WORDS: &str = r"^[^\S\x00-\x1f\x7f-\x9f]*(?:[^\s\x00-\x1f\x7f-\x9f]+[^\S\x00-\x1f\x7f-\x9f]+){0,7}[^\s\x00-\x1f\x7f-\x9f]*[^\S\x00-\x1f\x7f-\x9f]*$";

/// Every parameter the core takes with `paging`, in the core's order, described. The
/// match has no catch-all: a parameter added to the core does not build until it is
/// described here.
fn list_parameters(paging: Paging, parameter_in: ParameterIn) -> Vec<Parameter> {
    use hotline_core::order_list::ListParameter as P;
    let text = |pattern: &str| -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(200))
            .pattern(Some(pattern))
            .into()
    };
    let instant = || -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .into()
    };
    let list_of = |schema: &str| -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(RefOr::Ref(Ref::from_schema_name(schema)))
            .into()
    };
    P::ALL
        .iter()
        .filter(|parameter| parameter.taken_with(paging))
        .map(|&parameter| {
            let (description, schema): (&str, RefOr<Schema>) = match parameter {
                P::Department => (
                    "The holding department's code. A handler gets the orders its department \
                     holds or co-handles without it (and without `co_department`), and 403 for \
                     another.",
                    text(FREE_TEXT),
                ),
                P::CoDepartment => (
                    "A department co-handling the order (协办). A handler may name its own \
                     only: the orders it co-handles.",
                    text(FREE_TEXT),
                ),
                P::State => (
                    "Any of these states, comma-separated (or the parameter repeated).",
                    list_of("OrderState"),
                ),
                P::SlaState => (
                    "Any of these SLA states (judged at `as_of`), comma-separated (or \
                     repeated).",
                    list_of("SlaState"),
                ),
                P::Matter => (
                    "The catalog matter code the order was recognised as (`matter_code`).",
                    text(FREE_TEXT),
                ),
                P::District => ("The district as received.", text(FREE_TEXT)),
                P::Urgency => (
                    "Any of these urgencies, comma-separated (or the parameter repeated).",
                    list_of("Urgency"),
                ),
                P::ReceivedFrom => (
                    "Received at or after this instant (RFC 3339 with offset; `+` is `%2B` \
                     in a URL).",
                    instant(),
                ),
                P::ReceivedTo => (
                    "Received before this instant (exclusive); must be after \
                     `received_from`.",
                    instant(),
                ),
                P::Q => (
                    "Words (separated by spaces) that must all occur in the title or the \
                     content, case-insensitively; at most 8 words, 200 characters.",
                    text(WORDS),
                ),
                P::Sort => (
                    "`next_due` (default: nearest deadline first) or `received` (newest \
                     first).",
                    RefOr::Ref(Ref::from_schema_name("SortOrder")),
                ),
                P::Limit => (
                    "Orders per page: default 50, at most 500 (larger values are capped).",
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                        .minimum(Some(1))
                        .into(),
                ),
                P::Next => (
                    "The `next` of the page before, as it was, with the same filters and \
                     sort.",
                    ObjectBuilder::new().schema_type(Type::String).into(),
                ),
            };
            let listed = matches!(parameter, P::State | P::SlaState | P::Urgency);
            ParameterBuilder::new()
                .name(parameter.as_str())
                .parameter_in(parameter_in.clone())
                .required(Required::False)
                .description(Some(description))
                .schema(Some(schema))
                .style(listed.then_some(ParameterStyle::Form))
                .explode(listed.then_some(false))
                .build()
        })
        .collect()
}

/// One row of the list.
#[derive(Serialize, ToSchema)]
#[schema(as = OrderRow)]
pub struct OrderRow {
    order_no: String,
    #[schema(value_type = wire::RequestKind)]
    kind: RequestKind,
    #[schema(value_type = wire::Channel)]
    channel: Channel,
    title: String,
    /// The holding department.
    department: String,
    #[schema(value_type = wire::OrderState)]
    state: OrderState,
    #[schema(value_type = wire::SlaState)]
    sla_state: SlaState,
    #[schema(value_type = wire::Urgency)]
    urgency: Urgency,
    /// The catalog matter code (`matter_code` in the order view).
    matter: Option<String>,
    matter_name: Option<String>,
    district: Option<String>,
    #[schema(format = DateTime)]
    received_at: String,
    /// The nearest deadline ahead of the running clock; `null` when no clock runs.
    #[schema(format = DateTime)]
    next_due_at: Option<String>,
    #[schema(format = DateTime)]
    sign_due_at: Option<String>,
    #[schema(format = DateTime)]
    committed_due_at: Option<String>,
    #[schema(format = DateTime)]
    statutory_due_at: Option<String>,
    confidential: bool,
    citizen: CitizenView,
    /// The statutory deadline lies past the days the calendar declares: it may move.
    provisional: bool,
    /// The departments co-handling it (协办), in the order they were named.
    co_departments: Vec<String>,
    /// For a handler: `lead` when its department holds the order (主办), `co` when it
    /// co-handles it (协办); `null` for operators and supervisors.
    #[schema(value_type = Option<wire::TaskRole>)]
    role: Option<TaskRole>,
}

/// `lead` or `co` for a handler's department, `None` for other readers.
fn handler_role(order: &ListedOrder, role: &Role) -> Option<TaskRole> {
    let own = role.department()?;
    Some(if order.department == own {
        TaskRole::Lead
    } else {
        TaskRole::Co
    })
}

/// One row of the list as `role` sees it, its deadlines judged on `clock`'s calendar.
fn row_view(order: &ListedOrder, role: &Role, clock: &SlaClock) -> OrderRow {
    OrderRow {
        order_no: order.order_no.clone(),
        kind: order.kind,
        channel: order.channel,
        title: order.title.clone(),
        department: order.department.clone(),
        state: order.state,
        sla_state: order.sla_state,
        urgency: order.urgency,
        matter: order.matter_code.clone(),
        matter_name: order.matter_name.clone(),
        district: order.district.clone(),
        received_at: business_time(order.received_at),
        next_due_at: time(order.next_due_at),
        sign_due_at: time(order.sign_due_at),
        committed_due_at: time(order.committed_due_at),
        statutory_due_at: time(order.statutory_due_at),
        confidential: order.confidential,
        citizen: CitizenView::of(
            &order.citizen,
            role,
            &order.department,
            order.confidential,
            Purpose::View,
        ),
        provisional: order
            .statutory_due_at
            .is_some_and(|due| hotline_core::explain::provisional(clock, due)),
        co_departments: order.co_departments.clone(),
        role: handler_role(order, role),
    }
}

/// A page of the list.
#[derive(Serialize, ToSchema)]
pub struct OrderPage {
    orders: Vec<OrderRow>,
    /// How many `orders` holds.
    count: usize,
    /// The limit applied.
    limit: u32,
    #[schema(value_type = wire::SortOrder)]
    sort: &'static str,
    /// The cursor of the next page; `null` on the last page.
    next: Option<String>,
    /// The instant SLA states are judged at: the first page's, on every page.
    #[schema(format = DateTime)]
    as_of: String,
}

/// `GET /api/orders`.
#[utoipa::path(
    get,
    path = "/orders",
    tag = "orders",
    summary = "The order list, a page at a time",
    description = "Filtered, nearest deadline first (or newest first), in keyset pages with \
        an opaque `next` cursor. A handler sees the orders its department holds or \
        co-handles (`role` says which). An empty \
        parameter is no filter; an unknown parameter or value is 400.",
    params(OrderListQuery),
    responses(
        (status = 200, description = "A page of orders", body = OrderPage),
        (status = 400, description = "An unknown parameter or value, a bad instant or limit, \
            a cursor of another list (`bad_request`)", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "A handler asking for another department (`forbidden`)",
            body = ErrorBody),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn list_orders(
    State(api): State<Arc<Api>>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let request = request_for(&caller, query, Paging::Pages)?;
    let (as_of, after) = start(&api, &request).await?;
    let limit = usize::try_from(request.limit).unwrap_or(usize::MAX);
    // One more than a page: whether there is a next page at all.
    let mut rows = order_list::page(
        &api.pool,
        &request.filter,
        request.sort,
        as_of,
        after.as_ref(),
        i64::from(request.limit) + 1,
    )
    .await
    .map_err(|e| ApiError::database(&e))?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = match rows.last() {
        Some(last) if more => Some(
            request
                .cursor_after(as_of, last.position(request.sort))
                .encode(),
        ),
        _ => None,
    };
    let rules = api.rules();
    let orders: Vec<OrderRow> = rows
        .iter()
        .map(|o| row_view(o, &caller.role, &rules.clock))
        .collect();
    Ok(axum::Json(OrderPage {
        count: orders.len(),
        orders,
        limit: request.limit,
        sort: request.sort.as_str(),
        next,
        as_of: business_time(as_of),
    })
    .into_response())
}

/// The export's header row (Chinese; `docs/http-api.md` gives the English).
pub const CSV_HEADER: [&str; 21] = [
    "工单编号",
    "诉求类型",
    "渠道",
    "标题",
    "承办单位",
    "状态",
    "时限状态",
    "紧急程度",
    "事项编码",
    "事项名称",
    "区域",
    "受理时间",
    "下一时限",
    "签收时限",
    "承诺时限",
    "法定时限",
    "市民姓名",
    "联系电话",
    "保密件",
    "协办单位",
    "本单位角色",
];

/// A cell a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, or a tab or carriage
/// return first) gets a leading `'`, so that it is shown as text and never evaluated.
pub fn neutralised(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// One order as a CSV record, masked as an export is.
fn csv_record(order: &ListedOrder, role: &Role) -> Vec<String> {
    let citizen = CitizenView::of(
        &order.citizen,
        role,
        &order.department,
        order.confidential,
        Purpose::Export,
    );
    let text = |value: &str| neutralised(value).into_owned();
    let opt = |value: &Option<String>| value.as_deref().map(text).unwrap_or_default();
    let at = |value: Option<DateTime<Utc>>| value.map(business_time).unwrap_or_default();
    vec![
        text(&order.order_no),
        order.kind.as_str().to_owned(),
        order.channel.as_str().to_owned(),
        text(&order.title),
        text(&order.department),
        order.state.as_str().to_owned(),
        order.sla_state.as_str().to_owned(),
        order.urgency.as_str().to_owned(),
        opt(&order.matter_code),
        opt(&order.matter_name),
        opt(&order.district),
        business_time(order.received_at),
        at(order.next_due_at),
        at(order.sign_due_at),
        at(order.committed_due_at),
        at(order.statutory_due_at),
        opt(&citizen.name),
        opt(&citizen.phone),
        order.confidential.to_string(),
        text(&order.co_departments.join(";")),
        match handler_role(order, role) {
            Some(TaskRole::Lead) => "主办".to_owned(),
            Some(TaskRole::Co) => "协办".to_owned(),
            None => String::new(),
        },
    ]
}

/// Records as CSV bytes (RFC 4180 quoting, CRLF line ends).
fn csv_bytes<I, R>(records: I) -> Result<Bytes, csv::Error>
where
    I: IntoIterator<Item = R>,
    R: IntoIterator,
    R::Item: AsRef<[u8]>,
{
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for record in records {
        writer.write_record(record)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(Bytes::from(bytes))
}

/// Where the export's stream stands.
struct Export {
    api: Arc<Api>,
    request: ListRequest,
    role: Role,
    as_of: DateTime<Utc>,
    /// The page read before the response started (its errors are a 503, not a cut file).
    first: Option<Vec<ListedOrder>>,
    after: Option<Position>,
    done: bool,
}

impl Export {
    async fn next_chunk(mut self) -> Option<(Result<Bytes, std::io::Error>, Export)> {
        if self.done {
            return None;
        }
        let rows = match self.first.take() {
            Some(rows) => rows,
            None => match order_list::page(
                &self.api.pool,
                &self.request.filter,
                self.request.sort,
                self.as_of,
                self.after.as_ref(),
                EXPORT_PAGE,
            )
            .await
            {
                Ok(rows) => rows,
                Err(err) => {
                    // The header is out: cut the body, so the client sees a failed
                    // download rather than a file that looks complete.
                    tracing::warn!(error = %err, "order export failed on the database");
                    self.done = true;
                    return Some((Err(std::io::Error::other("the database failed")), self));
                }
            },
        };
        // An empty page: the export is complete.
        let last = rows.last()?;
        self.after = Some(last.position(self.request.sort));
        if (rows.len() as i64) < EXPORT_PAGE {
            self.done = true;
        }
        let chunk = csv_bytes(rows.iter().map(|o| csv_record(o, &self.role)))
            .map_err(std::io::Error::other);
        Some((chunk, self))
    }
}

/// `GET /api/orders.csv`: every order of the list (the same filters, no pages), UTF-8 with
/// a byte-order mark (spreadsheets read Chinese right only with it), read page by page as
/// the client takes it.
#[utoipa::path(
    get,
    path = "/orders.csv",
    tag = "orders",
    summary = "The order list whole, as a CSV file (streamed)",
    description = "The same filters and reach as `GET /api/orders`, without pages: UTF-8 \
        with a byte-order mark, CRLF line ends, RFC 4180 quoting, a Chinese header row \
        (docs/http-api.md lists the columns), formula cells neutralised with a leading `'`, \
        the citizen masked as for an export. Streamed with no request timeout; if the \
        database fails after the first rows, the body is cut off.",
    params(ExportQuery),
    responses(
        (status = 200, description = "The CSV file", body = String,
            content_type = "text/csv; charset=utf-8",
            headers(("Content-Disposition" = String,
                description = "`attachment; filename=\"orders-<date>.csv\"`"))),
        (status = 400, description = "An unknown parameter or value (`limit` and `next` \
            included), a bad instant (`bad_request`)", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "A handler asking for another department (`forbidden`)",
            body = ErrorBody),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn export_orders(
    State(api): State<Arc<Api>>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let request = request_for(&caller, query, Paging::Whole)?;
    let (as_of, _) = start(&api, &request).await?;
    let first = order_list::page(
        &api.pool,
        &request.filter,
        request.sort,
        as_of,
        None,
        EXPORT_PAGE,
    )
    .await
    .map_err(|e| ApiError::database(&e))?;
    let mut head = b"\xEF\xBB\xBF".to_vec();
    head.extend_from_slice(&csv_bytes([CSV_HEADER]).expect("the header is CSV"));
    let export = Export {
        api,
        request,
        role: caller.role.clone(),
        as_of,
        first: Some(first),
        after: None,
        done: false,
    };
    let rest = futures::stream::unfold(export, Export::next_chunk);
    let body = futures::StreamExt::chain(
        futures::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(head)) }),
        rest,
    );
    let day = as_of.with_timezone(&BUSINESS_TZ).format("%Y-%m-%d");
    let disposition = format!("attachment; filename=\"orders-{day}.csv\"");
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).expect("an ASCII header value"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names of an `IntoParams` type's parameters.
    fn names<P: IntoParams>() -> Vec<String> {
        P::into_params(|| None)
            .into_iter()
            .map(|p| p.name)
            .collect()
    }

    /// The parameters the core's parser takes with `paging`.
    fn accepted(paging: Paging) -> Vec<String> {
        hotline_core::order_list::ListParameter::ALL
            .iter()
            .filter(|p| p.taken_with(paging))
            .map(|p| p.as_str().to_owned())
            .collect()
    }

    #[test]
    fn the_documented_parameters_are_those_the_parser_accepts() {
        assert_eq!(names::<ExportQuery>(), accepted(Paging::Whole));
        assert_eq!(names::<OrderListQuery>(), accepted(Paging::Pages));
        for value in ["next_due", "received"] {
            let params = [("sort".to_owned(), value.to_owned())];
            assert!(
                ListRequest::parse(&params, Paging::Pages).is_ok(),
                "{value}"
            );
        }
    }

    #[test]
    fn the_integrators_guide_names_every_parameter_in_its_table() {
        let guide = include_str!("../../../docs/http-api.md");
        let section = guide
            .split("\n## `GET /api/orders`\n")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .expect("docs/http-api.md has a GET /api/orders section");
        let rows: Vec<&str> = section
            .lines()
            .skip_while(|line| !line.starts_with("| parameter |"))
            .skip(2)
            .map_while(|line| line.strip_prefix("| `")?.split('`').next())
            .collect();
        assert_eq!(rows, accepted(Paging::Pages));
    }

    #[test]
    fn formulas_are_neutralised_and_nothing_else_changes() {
        let cases = [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+8613812345678", "'+8613812345678"),
            ("-1+1", "'-1+1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("超市销售过期食品", "超市销售过期食品"),
            ("a=b", "a=b"),
            ("'quoted", "'quoted"),
            ("", ""),
            (" =x", " =x"),
        ];
        for (cell, want) in cases {
            assert_eq!(neutralised(cell), want, "{cell:?}");
        }
    }

    #[test]
    fn records_are_quoted_as_rfc_4180_says() {
        let cases: [(&[&str], &str); 4] = [
            (&["a", "b"], "a,b\r\n"),
            (&["含,逗号", "x"], "\"含,逗号\",x\r\n"),
            (&["say \"hi\"", ""], "\"say \"\"hi\"\"\",\r\n"),
            (&["two\nlines", "张三"], "\"two\nlines\",张三\r\n"),
        ];
        for (record, want) in cases {
            let bytes = csv_bytes([record]).unwrap();
            assert_eq!(std::str::from_utf8(&bytes).unwrap(), want, "{record:?}");
        }
    }
}
