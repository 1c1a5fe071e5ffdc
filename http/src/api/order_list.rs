//! `GET /api/orders`: the order list, a page at a time, nearest deadline first; and
//! `GET /api/orders.csv`: the same list whole, streamed as a spreadsheet-safe CSV file.
//! Filters, sort and cursor are the core's (`hotline_core::order_list`); the query is the
//! store's. A handler sees the orders its department holds or co-handles (协办).

pub use super::list_query::{ExportQuery, OrderListQuery};
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
use utoipa::ToSchema;

/// Rows per query while the export streams.
const EXPORT_PAGE: i64 = 500;

/// Reads the request's parameters and applies the caller's reach: a handler's list is its
/// own department's (asking for another is 403), and a phone search finds only the orders
/// whose phone the caller sees in full (a supervisor's is 403).
fn request_for(
    caller: &Caller,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    paging: Paging,
) -> Result<ListRequest, ApiError> {
    let Query(params) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    request_of(&caller.role, &params, paging)
}

/// [`request_for`] on parameters already split from the query.
fn request_of(
    role: &Role,
    params: &[(String, String)],
    paging: Paging,
) -> Result<ListRequest, ApiError> {
    let mut request = ListRequest::parse(params, paging).map_err(|e| ApiError::bad_request(e.0))?;
    if let Role::Handler { department: own } = role {
        request
            .filter
            .scope_to_handler(own)
            .map_err(ApiError::forbidden)?;
    }
    let purpose = match paging {
        Paging::Pages => Purpose::View,
        Paging::Whole => Purpose::Export,
    };
    request
        .filter
        .scope_phone(super::orders::reader(role), purpose)
        .map_err(ApiError::forbidden)?;
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
    /// With `total=true`: how many orders the whole list holds (every page together),
    /// SLA states judged at `as_of`; `null` when not asked.
    total: Option<i64>,
}

/// One page of the list as a caller asked for it: what `GET /api/orders` answers, before
/// it is put in JSON (the pages' order list shows the same).
pub struct ListPage {
    /// The request, read and scoped to the caller.
    pub request: ListRequest,
    pub orders: Vec<ListedOrder>,
    /// The cursor of the page after, if there is one.
    pub next: Option<String>,
    /// The instant SLA states are judged at (the first page's).
    pub as_of: DateTime<Utc>,
    /// How many orders the whole list holds, if counted.
    pub total: Option<i64>,
}

/// Whether a page counts the whole list: when the request asks (`total=true`), or always.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    AsAsked,
    Always,
}

/// One page of the list for `role`, from the query's parameters (`name`, `value` pairs as
/// sent): the one way the list is read, by `GET /api/orders` and by the pages.
pub async fn read_page(
    api: &Api,
    role: &Role,
    params: &[(String, String)],
    counting: Counting,
) -> Result<ListPage, ApiError> {
    let request = request_of(role, params, Paging::Pages)?;
    let (as_of, after) = start(api, &request).await?;
    let limit = usize::try_from(request.limit).unwrap_or(usize::MAX);
    // One more than a page: whether there is a next page at all.
    let rows = order_list::page(
        &api.pool,
        &request.filter,
        request.sort,
        as_of,
        after.as_ref(),
        i64::from(request.limit) + 1,
    );
    let counted = async {
        if request.total || counting == Counting::Always {
            order_list::count(&api.pool, &request.filter, as_of)
                .await
                .map(Some)
        } else {
            Ok(None)
        }
    };
    let (mut orders, total) =
        futures::try_join!(rows, counted).map_err(|e| ApiError::database(&e))?;
    let more = orders.len() > limit;
    orders.truncate(limit);
    let next = match orders.last() {
        Some(last) if more => Some(
            request
                .cursor_after(as_of, last.position(request.sort))
                .encode(),
        ),
        _ => None,
    };
    Ok(ListPage {
        request,
        orders,
        next,
        as_of,
        total,
    })
}

/// `GET /api/orders`.
#[utoipa::path(
    get,
    path = "/orders",
    tag = "orders",
    summary = "The order list, a page at a time",
    description = "Filtered, nearest deadline first (or newest first), in keyset pages with \
        an opaque `next` cursor; with `total=true`, the number of orders of the whole list. \
        A handler sees the orders its department holds or \
        co-handles (`role` says which). An empty \
        parameter is no filter; an unknown parameter or value is 400.",
    params(OrderListQuery),
    responses(
        (status = 200, description = "A page of orders", body = OrderPage),
        (status = 400, description = "An unknown parameter or value, a bad instant or limit, \
            a cursor of another list (`bad_request`)", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "A handler asking for another department, or a \
            supervisor searching by phone (`forbidden`)", body = ErrorBody),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn list_orders(
    State(api): State<Arc<Api>>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let page = read_page(&api, &caller.role, &params, Counting::AsAsked).await?;
    let rules = api.rules();
    let orders: Vec<OrderRow> = page
        .orders
        .iter()
        .map(|o| row_view(o, &caller.role, &rules.clock))
        .collect();
    Ok(axum::Json(OrderPage {
        count: orders.len(),
        orders,
        limit: page.request.limit,
        sort: page.request.sort.as_str(),
        next: page.next,
        as_of: business_time(page.as_of),
        total: page.total,
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
    description = "The same filters and reach as `GET /api/orders`, without pages (a phone \
        search of a handler leaves its confidential cases out: they are masked in an \
        export): UTF-8 \
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
        (status = 403, description = "A handler asking for another department, or a \
            supervisor searching by phone (`forbidden`)", body = ErrorBody),
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
    use utoipa::IntoParams;

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

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn handler(department: &str) -> Role {
        Role::Handler {
            department: department.into(),
        }
    }

    /// A confidential order SCJGJ holds and YSBZX co-handles, its title a formula.
    fn listed() -> ListedOrder {
        ListedOrder {
            order_no: "PT1".into(),
            kind: RequestKind::Complaint,
            channel: Channel::Phone,
            title: "=1+1".into(),
            department: "SCJGJ".into(),
            state: OrderState::Accepted,
            sla_state: SlaState::Warning,
            urgency: Urgency::Urgent,
            matter_code: Some("SC-0101".into()),
            matter_name: None,
            district: Some("-东区".into()),
            received_at: at("2026-11-25T10:00:00+08:00"),
            next_due_at: Some(at("2026-11-26T09:00:00+08:00")),
            sign_due_at: None,
            committed_due_at: Some(at("2026-12-02T10:00:00+08:00")),
            statutory_due_at: Some(at("2026-12-02T10:00:00+08:00")),
            citizen: hotline_schema::values::Citizen {
                name: Some("张三".into()),
                phone: Some("13812345678".into()),
            },
            confidential: false,
            co_departments: vec!["YSBZX".into(), "ZJJ".into()],
            statutory_limit: Some("15wd".into()),
        }
    }

    #[test]
    fn a_handlers_role_is_lead_where_its_department_holds_the_order_and_co_elsewhere() {
        let order = listed();
        // (role, its task role)
        let cases = [
            (handler("SCJGJ"), Some(TaskRole::Lead)),
            (handler("YSBZX"), Some(TaskRole::Co)),
            (Role::Operator, None),
            (Role::Supervisor, None),
        ];
        for (role, task_role) in cases {
            assert_eq!(handler_role(&order, &role), task_role, "{role}");
        }
    }

    #[test]
    fn times_are_shown_in_business_time_and_none_stays_none() {
        assert_eq!(time(None), None);
        assert_eq!(
            time(Some(at("2026-11-25T02:00:00Z"))).as_deref(),
            Some("2026-11-25T10:00:00+08:00")
        );
    }

    #[test]
    fn a_csv_record_has_every_column_masked_as_an_export_and_no_formula() {
        let order = listed();
        let record = |role: &Role| csv_record(&order, role);
        let lead = record(&handler("SCJGJ"));
        assert_eq!(lead.len(), CSV_HEADER.len());
        assert_eq!(
            lead,
            [
                "PT1",
                "complaint",
                "phone",
                "'=1+1",
                "SCJGJ",
                "accepted",
                "warning",
                "urgent",
                "SC-0101",
                "",
                "'-东区",
                "2026-11-25T10:00:00+08:00",
                "2026-11-26T09:00:00+08:00",
                "",
                "2026-12-02T10:00:00+08:00",
                "2026-12-02T10:00:00+08:00",
                "张三",
                "13812345678",
                "false",
                "YSBZX;ZJJ",
                "主办",
            ]
        );
        // (role, citizen's name, phone, role column)
        let cases = [
            (handler("YSBZX"), "张*", "138****5678", "协办"),
            (Role::Operator, "张三", "13812345678", ""),
            (Role::Supervisor, "张*", "138****5678", ""),
        ];
        for (role, name, phone, task_role) in cases {
            let record = record(&role);
            assert_eq!(
                (
                    record[16].as_str(),
                    record[17].as_str(),
                    record[20].as_str()
                ),
                (name, phone, task_role),
                "{role}"
            );
        }
    }

    #[test]
    fn a_handlers_list_is_scoped_to_its_department_and_another_is_refused() {
        let query = |pairs: &[(&str, &str)]| {
            Ok(Query(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ))
        };
        let caller = |role: Role| Caller {
            name: "t".into(),
            role,
        };
        let sc = caller(handler("SCJGJ"));
        let own = request_for(&sc, query(&[]), Paging::Pages).unwrap();
        assert_eq!(own.filter.held_or_co_handled_by.as_deref(), Some("SCJGJ"));
        let held = request_for(&sc, query(&[("department", "SCJGJ")]), Paging::Pages).unwrap();
        assert_eq!(held.filter.department.as_deref(), Some("SCJGJ"));
        assert_eq!(held.filter.held_or_co_handled_by, None);
        let other = request_for(&sc, query(&[("department", "YSBZX")]), Paging::Pages);
        assert_eq!(
            other.map(|_| ()).map_err(|e| e.status),
            Err(axum::http::StatusCode::FORBIDDEN)
        );
        let operator = caller(Role::Operator);
        let any = request_for(&operator, query(&[("department", "YSBZX")]), Paging::Whole).unwrap();
        assert_eq!(any.filter.department.as_deref(), Some("YSBZX"));
        assert_eq!(any.filter.held_or_co_handled_by, None);
        let bad = request_for(&operator, query(&[("sort", "sideways")]), Paging::Pages);
        assert_eq!(
            bad.map(|_| ()).map_err(|e| e.status),
            Err(axum::http::StatusCode::BAD_REQUEST)
        );
    }

    #[test]
    fn a_phone_search_reaches_what_the_caller_sees_in_full_and_a_supervisor_is_refused() {
        let phone = || vec![("phone".to_owned(), "139 0000 0000".to_owned())];
        // (role, paging, reach as (held by, confidential) or the status)
        let cases = [
            (Role::Operator, Paging::Pages, Ok((None, false))),
            (Role::Operator, Paging::Whole, Ok((None, false))),
            (handler("SCJGJ"), Paging::Pages, Ok((Some("SCJGJ"), true))),
            (handler("SCJGJ"), Paging::Whole, Ok((Some("SCJGJ"), false))),
            (
                Role::Supervisor,
                Paging::Pages,
                Err(axum::http::StatusCode::FORBIDDEN),
            ),
            (
                Role::Supervisor,
                Paging::Whole,
                Err(axum::http::StatusCode::FORBIDDEN),
            ),
        ];
        for (role, paging, want) in cases {
            let got = request_of(&role, &phone(), paging).map_err(|e| e.status);
            match (got, want) {
                (Ok(request), Ok(want)) => {
                    assert_eq!(request.filter.phone.as_deref(), Some("13900000000"));
                    let reach = request.filter.phone_reach.expect("scoped");
                    assert_eq!(
                        (reach.held_by.as_deref(), reach.confidential),
                        want,
                        "{role:?} {paging:?}"
                    );
                }
                (Err(status), Err(want)) => assert_eq!(status, want, "{role:?}"),
                (got, want) => panic!(
                    "{role:?} {paging:?}: {:?}, expected {want:?}",
                    got.map(|_| ())
                ),
            }
        }
        // Without a phone a supervisor's list is as before.
        assert!(request_of(&Role::Supervisor, &[], Paging::Pages).is_ok());
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
