//! The pages people keep open all day, served by the engine itself: `/board` for the
//! supervision office, `/desk` for a department's handlers, `/intake` for operators.
//! Server-rendered (askama templates in `pages/templates/`), with a little plain JavaScript
//! (`pages/assets/hotline.js`) for live alerts, the matter search and confirmations; every form
//! works without it.
//!
//! Every action goes through the same submit path as AMQP and `POST /api/events`
//! ([`hotline_http::api::events::submit_as`]), as the signed-in token, with the event id
//! fixed when the form is drawn: submitting a form twice has one effect.

mod action;
mod attachments;
pub mod board;
mod bulk;
pub mod desk;
mod handling;
pub mod intake;
mod notes;
pub mod order;
pub mod order_list;
mod timeline;
mod why;
pub mod words;

pub use action::{ActionResult, act, form_event, new_event_id};
use askama::Template;
use axum::Router;
use axum::extract::{Extension, Form, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use hotline_http::api::Api;
use hotline_http::api::tokens::Role;
use hotline_http::limits::{self, ClientAddr, FailureKey};
use hotline_http::session::{self, Session};
use serde::Deserialize;
use std::sync::Arc;

/// The cookie that carries the sign-in form's token before there is a session.
const SIGNIN_COOKIE: &str = "hotline_signin";

/// What every page shows around its content.
pub struct Frame {
    pub csrf: String,
    /// The signed-in account and role, e.g. `call-centre-07 · 话务员`.
    pub who: String,
    pub nav: Vec<NavLink>,
    pub notice: Option<String>,
    pub problem: Option<String>,
    /// What the header's search box holds (the words of the list being shown).
    pub search: String,
    /// What the search box finds, for this role: a supervisor cannot search by phone.
    pub search_hint: &'static str,
}

pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

impl Frame {
    pub fn new(session: &Session, current: &str) -> Frame {
        let links: &[(&str, &str)] = match session.caller.role {
            Role::Operator => &[("/intake", "话务受理"), ("/orders", "工单查询")],
            Role::Handler { .. } => &[("/desk", "承办工作台"), ("/orders", "工单查询")],
            Role::Supervisor => &[("/board", "督办看板"), ("/orders", "工单查询")],
        };
        let phones = hotline_core::privacy::phone_reach(
            hotline_http::api::orders::reader(&session.caller.role),
            hotline_core::privacy::Purpose::View,
        )
        .is_some();
        Frame {
            csrf: session.csrf.clone(),
            who: format!(
                "{} · {}",
                session.caller.name,
                role_label(&session.caller.role)
            ),
            nav: links
                .iter()
                .map(|(href, label)| NavLink {
                    href,
                    label,
                    current: *href == current,
                })
                .collect(),
            notice: None,
            problem: None,
            search: String::new(),
            search_hint: if phones {
                "工单号、关键词或市民电话"
            } else {
                "工单号或标题、内容中的词"
            },
        }
    }
}

pub fn role_label(role: &Role) -> String {
    match role {
        Role::Operator => "话务员".into(),
        Role::Handler { department } => format!("承办人员({department})"),
        Role::Supervisor => "督办人员".into(),
    }
}

/// The page of a role: where signing in leads.
fn home(role: &Role) -> &'static str {
    match role {
        Role::Operator => "/intake",
        Role::Handler { .. } => "/desk",
        Role::Supervisor => "/board",
    }
}

/// A rendered template, with the headers every page carries.
pub fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => with_page_headers(Html(html).into_response()),
        Err(err) => {
            tracing::error!(error = %err, "a page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "页面生成失败").into_response()
        }
    }
}

/// Scripts and styles from this engine only, no framing, no sniffing.
fn with_page_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A page that says why a request was refused.
#[derive(Template)]
#[template(
    source = r#"{% extends "base.html" %}{% block title %}{{ title }}{% endblock %}{% block content %}<h1>{{ title }}</h1><p>{{ message }}</p><p><a href="{{ back }}">返回</a></p>{% endblock %}"#,
    ext = "html"
)]
struct RefusalPage {
    page: Frame,
    title: &'static str,
    message: String,
    back: &'static str,
}

/// A 403 page for a signed-in caller whose role may not use this page or action.
pub fn forbidden(session: &Session, message: impl Into<String>) -> Response {
    let page = RefusalPage {
        page: Frame::new(session, ""),
        title: "无权访问",
        message: message.into(),
        back: home(&session.caller.role),
    };
    (StatusCode::FORBIDDEN, render(&page)).into_response()
}

/// The answer to a form posted without its session's form token (forged, or drawn before
/// the session it is posted in).
fn stale_form(session: &Session) -> Response {
    let page = RefusalPage {
        page: Frame::new(session, ""),
        title: "表单已失效",
        message: "这个表单不是本次登录打开的(或已过期),没有执行任何操作。请刷新页面后重试。".into(),
        back: home(&session.caller.role),
    };
    (StatusCode::FORBIDDEN, render(&page)).into_response()
}

/// The answer to send instead of acting, if a posted form's token is not its session's.
pub fn csrf_refusal(session: &Session, presented: &str) -> Option<Response> {
    (!session::csrf_matches(session, presented)).then(|| stale_form(session))
}

/// A page's answer to a database that does not answer.
pub fn unavailable(err: &hotline_store::StoreError) -> Response {
    tracing::warn!(error = %err, "a page could not read the database");
    unavailable_now()
}

/// A page's answer when the database did not answer (the fault was logged where it was
/// met).
pub fn unavailable_now() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "2")],
        Html("<!doctype html><meta charset=utf-8><title>暂时无法访问</title><p>数据库暂时没有响应,请稍后刷新。</p>"),
    )
        .into_response()
}

/// The short notices a redirect after an action may show (`?done=<key>`): fixed texts,
/// never echoed input.
pub fn notice(done: Option<&str>) -> Option<String> {
    let text = match done? {
        "accepted" => "已签收。",
        "returned" => "已退回,工单回到派单环节。",
        "extension" => "延期申请已提交,等待督办审核。",
        "replied" => "已答复,等待回访。",
        "registered" => "诉求已登记并派单。",
        "dispatched" => "已派单。",
        "feedback" => "回访结果已记录。",
        "urged" => "已催办。",
        "decided" => "延期审核结果已提交。",
        "suspended" => "已挂起,计时暂停。",
        "resumed" => "已恢复,计时继续。",
        "co_replied" => "协办答复已提交,主办单位可据此答复。",
        "appealed" => "评价复核申请已提交,等待督办审核。",
        "return_approved" => "退单审核:已同意退回,工单已改派。",
        "return_rejected" => "退单审核:已驳回,工单退回原承办单位继续办理。",
        "appeal_decided" => "评价复核结果已提交。",
        "attached" => "附件已上传。",
        "recorded" => "通话录音编号已关联。",
        "noted" => "备注已保存,仅本单位可见。",
        "again" => "这张表单已经提交过,没有重复执行。",
        _ => return None,
    };
    Some(text.to_owned())
}

#[derive(Deserialize)]
pub struct Done {
    pub done: Option<String>,
}

/// The largest form a signed-in page posts (a complaint's text, percent-encoded).
pub const FORM_BODY_LIMIT: usize = 256 * 1024;

/// The pages' routes, for the router of `/`.
pub fn routes(api: Arc<Api>) -> hotline_http::SideRoutes {
    // Layers run outside in: the session, then its token's share (and the form's read).
    let signed_in = Router::new()
        .route("/", get(root))
        .route("/board", get(board::page))
        .route("/board/orders/{order_no}/{action}", post(board::act_on))
        .route("/board/urge", post(bulk::urge))
        .route("/desk/accept", post(bulk::accept))
        .route("/desk", get(desk::page))
        .route("/desk/orders/{order_no}", get(order::order_page))
        .route("/desk/orders/{order_no}/{action}", post(handling::act_on))
        .route("/intake", get(intake::page))
        .route("/intake/complaints", post(intake::register))
        .route("/intake/orders/{order_no}/{action}", post(intake::act_on))
        .route("/orders", get(order_list::page))
        .route("/search", get(order_list::search))
        .route("/orders/{order_no}", get(order::order_page))
        .route("/orders/{order_no}/notes", post(notes::write))
        .route("/orders/{order_no}/recordings", post(attachments::link))
        .route("/orders/{order_no}/print", get(order::print_page))
        .route("/desk/orders/{order_no}/print", get(order::print_page))
        .layer(middleware::from_fn_with_state(
            (api.limits.clone(), FORM_BODY_LIMIT),
            limits::per_token,
        ))
        .layer(middleware::from_fn_with_state(api.clone(), require_session))
        .with_state(api.clone());
    // A file takes a larger body and more time; the same session and token's share.
    let upload_limit =
        api.attachments.settings.max_bytes + hotline_http::api::attachments::FORM_OVERHEAD_BYTES;
    let uploads = Router::new()
        .route("/orders/{order_no}/attachments", post(attachments::upload))
        .layer(middleware::from_fn_with_state(
            (api.limits.clone(), upload_limit),
            limits::upload,
        ))
        .layer(middleware::from_fn_with_state(api.clone(), require_session))
        .with_state(api.clone());
    let anonymous = Router::new()
        .route("/signin", get(signin_page).post(signin))
        .route("/signout", post(signout))
        .route("/assets/{file}", get(asset))
        .with_state(api);
    hotline_http::SideRoutes {
        signed_in,
        uploads,
        anonymous,
    }
}

/// Admits a request with an open session (its token still live), else sends the browser
/// to sign in and come back.
async fn require_session(
    State(api): State<Arc<Api>>,
    mut request: Request,
    next: Next,
) -> Response {
    match session::of_request(&api.pool, &api.tokens, request.headers()).await {
        Ok(Some(session)) => {
            request.extensions_mut().insert(limits::Admitted {
                token_name: session.caller.name.clone(),
            });
            request.extensions_mut().insert(session);
            next.run(request).await
        }
        Ok(None) => {
            let path = request.uri().path();
            let back = if request.method() == axum::http::Method::GET && is_local_path(path) {
                path.to_owned()
            } else {
                "/".to_owned()
            };
            Redirect::to(&format!("/signin?next={}", percent_encode(&back))).into_response()
        }
        Err(err) => unavailable(&err),
    }
}

async fn root(axum::Extension(session): axum::Extension<Session>) -> Response {
    Redirect::to(home(&session.caller.role)).into_response()
}

/// A path of this site (never `//elsewhere` or `https://…`): where signing in may return.
fn is_local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && path.bytes().all(|b| b.is_ascii_graphic())
}

/// What a path keeps as it is in a query value: letters, digits, `/`, `-`, `_`, `.`.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.');

fn percent_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, QUERY_VALUE).to_string()
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SigninPage {
    csrf: String,
    next: String,
    problem: Option<String>,
}

#[derive(Deserialize)]
struct SigninQuery {
    next: Option<String>,
}

/// `GET /signin`: the form, with a fresh form token in a cookie of its own (there is no
/// session yet to hold it).
async fn signin_page(headers: HeaderMap, Query(query): Query<SigninQuery>) -> Response {
    let next = query
        .next
        .filter(|n| is_local_path(n))
        .unwrap_or_else(|| "/".into());
    signin_form(&headers, next, None, StatusCode::OK)
}

fn signin_form(
    headers: &HeaderMap,
    next: String,
    problem: Option<String>,
    status: StatusCode,
) -> Response {
    let csrf = session::random_token();
    let mut response = (
        status,
        render(&SigninPage {
            csrf: csrf.clone(),
            next,
            problem,
        }),
    )
        .into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(
            SIGNIN_COOKIE,
            &csrf,
            std::time::Duration::from_secs(3600),
            session::over_tls(headers),
        ),
    );
    response
}

#[derive(Deserialize)]
struct SigninForm {
    token: String,
    csrf: String,
    #[serde(default)]
    next: String,
}

/// `POST /signin`: a live token opens a session.
async fn signin(
    State(api): State<Arc<Api>>,
    Extension(client): Extension<ClientAddr>,
    headers: HeaderMap,
    Form(form): Form<SigninForm>,
) -> Response {
    let next = if is_local_path(&form.next) {
        form.next.clone()
    } else {
        "/".into()
    };
    let expected = session::cookie(&headers, SIGNIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || expected != form.csrf {
        return signin_form(
            &headers,
            next,
            Some("登录表单已失效,请重新输入令牌。".into()),
            StatusCode::FORBIDDEN,
        );
    }
    let presented = form.token.trim().as_bytes();
    let keys = vec![
        FailureKey::SigninFrom(client.0),
        FailureKey::token_prefix(presented),
    ];
    if let Some(wait) = api.limits.lockout(&keys) {
        tracing::info!(client = %client, "page sign-in refused: too many failures");
        hotline_runtime::metrics::metrics().http_refused(limits::Refusal::LockedOut.as_str());
        let seconds = wait.as_secs_f64().ceil() as u64;
        let mut response = signin_form(
            &headers,
            next,
            Some(format!("令牌错误次数过多,请 {seconds} 秒后再试。")),
            StatusCode::TOO_MANY_REQUESTS,
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_str(&seconds.to_string()).expect("digits"),
        );
        return response;
    }
    let caller = match api.tokens.authenticate_now(&api.pool, presented).await {
        Ok(caller) => caller,
        Err(err) => return unavailable(&err),
    };
    let Some(caller) = caller else {
        tracing::info!(client = %client, "page sign-in with an unknown or revoked token");
        api.limits.record_failure(keys);
        return signin_form(
            &headers,
            next,
            Some("令牌无效或已被吊销。".into()),
            StatusCode::UNAUTHORIZED,
        );
    };
    let (id, _csrf) = match session::open(&api.pool, &caller).await {
        Ok(opened) => opened,
        Err(err) => return unavailable(&err),
    };
    tracing::info!(caller = %caller.name, role = %caller.role.name(), client = %client, "signed in to the pages");
    let target = if next == "/" {
        home(&caller.role).to_owned()
    } else {
        next
    };
    let mut response = Redirect::to(&target).into_response();
    let secure = session::over_tls(&headers);
    let cookies = response.headers_mut();
    cookies.append(
        header::SET_COOKIE,
        session::set_cookie(session::COOKIE, &id, session::LIFETIME, secure),
    );
    cookies.append(
        header::SET_COOKIE,
        session::set_cookie(SIGNIN_COOKIE, "", std::time::Duration::ZERO, secure),
    );
    response
}

#[derive(Deserialize)]
struct SignoutForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /signout`: closes the session (with its form token, so that another site cannot
/// sign a user out).
async fn signout(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    Form(form): Form<SignoutForm>,
) -> Response {
    match session::of_request(&api.pool, &api.tokens, &headers).await {
        Ok(Some(session)) => {
            if let Some(refused) = csrf_refusal(&session, &form.csrf) {
                return refused;
            }
        }
        Ok(None) => {}
        Err(err) => return unavailable(&err),
    }
    if let Err(err) = session::close(&api.pool, &headers).await {
        return unavailable(&err);
    }
    let mut response = Redirect::to("/signin").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(
            session::COOKIE,
            "",
            std::time::Duration::ZERO,
            session::over_tls(&headers),
        ),
    );
    response
}

/// The pages' own style sheet and script (no third-party asset).
async fn asset(Path(file): Path<String>) -> Response {
    let (body, content_type) = match file.as_str() {
        "hotline.css" => (
            include_str!("../assets/hotline.css"),
            "text/css; charset=utf-8",
        ),
        "hotline.js" => (
            include_str!("../assets/hotline.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_in_returns_only_to_this_site() {
        // (next, allowed)
        let cases = [
            ("/desk", true),
            ("/desk/orders/PT1", true),
            ("/", true),
            ("//evil.example", false),
            ("https://evil.example", false),
            ("/\\evil", false),
            ("desk", false),
            ("/a b", false),
            ("", false),
        ];
        for (next, allowed) in cases {
            assert_eq!(is_local_path(next), allowed, "{next:?}");
        }
        assert_eq!(percent_encode("/desk/orders/PT1"), "/desk/orders/PT1");
        assert_eq!(percent_encode("/a?b=c"), "/a%3Fb%3Dc");
    }

    #[test]
    fn notices_are_fixed_texts() {
        assert_eq!(notice(Some("accepted")).as_deref(), Some("已签收。"));
        assert_eq!(notice(Some("<script>")), None);
        assert_eq!(notice(None), None);
    }
}
