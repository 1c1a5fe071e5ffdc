//! Bulk actions: a handler signs for several orders at once (批量签收) on the desk's 待签收
//! tab, a supervisor urges several at one level (批量催办) on the board's 预警与超期 list.
//! One confirmation for all; each order is then its own event through the same submit
//! path as a single action, under the event id its row was drawn with (sent twice, each
//! order is acted on once), and the page says how many were done and how many were not.

use super::{ActionResult, act, csrf_refusal, forbidden};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use hotline_http::api::Api;
use hotline_http::api::tokens::Role;
use hotline_http::session::Session;
use hotline_schema::body::read_field;
use hotline_schema::body::{EventBody, OrderAccepted, OrderUrged};
use std::sync::Arc;

/// The most orders one bulk action takes (a page lists at most 200).
pub const MAX_PICKED: usize = 200;

/// A bulk form as sent: its fields, and the orders picked, each with its row's event id
/// (`<order_no>|<event id>`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BulkForm {
    pub csrf: String,
    pub level: String,
    pub note: String,
    pub picked: Vec<(String, String)>,
}

/// Reads a bulk form's body (`application/x-www-form-urlencoded`, `order` repeated). A
/// pick that is not `<order>|<id>` is read past: the submit path refuses a bad id anyway.
pub fn read_form(body: &[u8]) -> BulkForm {
    let mut form = BulkForm::default();
    for (key, value) in form_urlencoded::parse(body) {
        match key.as_ref() {
            "csrf" => form.csrf = value.into_owned(),
            "level" => form.level = value.into_owned(),
            "note" => form.note = value.into_owned(),
            "order" => {
                if let Some((order_no, event_id)) = value.split_once('|')
                    && form.picked.len() <= MAX_PICKED
                {
                    form.picked.push((order_no.to_owned(), event_id.to_owned()));
                }
            }
            _ => {}
        }
    }
    form
}

/// What became of a bulk action.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub done: usize,
    pub refused: usize,
}

impl Tally {
    /// The query the page is redirected to: counts only, never what was sent.
    pub fn query(&self, done: &str) -> String {
        format!("done={done}&n={}&refused={}", self.done, self.refused)
    }
}

/// Why a bulk form is not acted on at all: nothing picked, or more than a page lists.
fn unfit(form: &BulkForm) -> Option<&'static str> {
    if form.picked.is_empty() {
        Some("bulk_none")
    } else if form.picked.len() > MAX_PICKED {
        Some("bulk_too_many")
    } else {
        None
    }
}

/// The notice after a bulk action: how many were done, how many not (counts only).
pub fn notice(done: Option<&str>, n: Option<u32>, refused: Option<u32>) -> Option<String> {
    let (n, refused) = (n.unwrap_or(0), refused.unwrap_or(0));
    let verb = match done? {
        "bulk_accepted" => "已签收",
        "bulk_urged" => "已催办",
        "bulk_none" => return Some("没有选中工单:请先勾选要处理的工单。".to_owned()),
        "bulk_too_many" => return Some(format!("一次最多处理 {MAX_PICKED} 个工单。")),
        _ => return None,
    };
    Some(if refused == 0 {
        format!("{verb} {n} 个工单。")
    } else {
        format!("{verb} {n} 个工单;{refused} 个未能处理(可能已被他人处理或状态已变),请看列表。")
    })
}

async fn run(api: &Api, session: &Session, form: &BulkForm, body: impl Fn() -> EventBody) -> Tally {
    let mut tally = Tally::default();
    for (order_no, event_id) in &form.picked {
        match act(api, &session.caller, event_id, order_no, body()).await {
            ActionResult::Done | ActionResult::AlreadyDone => tally.done += 1,
            ActionResult::Refused(_) => tally.refused += 1,
        }
    }
    tally
}

/// `POST /desk/accept`: 批量签收.
pub async fn accept(
    State(api): State<Arc<Api>>,
    Extension(session): Extension<Session>,
    body: Bytes,
) -> Response {
    let Role::Handler { department } = &session.caller.role else {
        return forbidden(&session, "只有承办单位的人员可以签收。");
    };
    let form = read_form(&body);
    if let Some(refused) = csrf_refusal(&session, &form.csrf) {
        return refused;
    }
    if let Some(key) = unfit(&form) {
        return Redirect::to(&format!("/desk?done={key}")).into_response();
    }
    let tally = run(&api, &session, &form, || {
        EventBody::OrderAccepted(OrderAccepted {
            department: department.clone(),
            handler: Some(session.caller.name.clone()),
        })
    })
    .await;
    Redirect::to(&format!("/desk?{}", tally.query("bulk_accepted"))).into_response()
}

/// `POST /board/urge`: 批量催办 at one level, with one note.
pub async fn urge(
    State(api): State<Arc<Api>>,
    Extension(session): Extension<Session>,
    body: Bytes,
) -> Response {
    if session.caller.role != Role::Supervisor {
        return forbidden(&session, "只有督办人员可以催办。");
    }
    let form = read_form(&body);
    if let Some(refused) = csrf_refusal(&session, &form.csrf) {
        return refused;
    }
    if let Some(key) = unfit(&form) {
        return Redirect::to(&format!("/board?done={key}")).into_response();
    }
    let Ok(level) = read_field("level", form.level.trim()) else {
        return forbidden(&session, "没有这个催督办级别。");
    };
    let note = Some(form.note.trim().to_owned()).filter(|n| !n.is_empty());
    let tally = run(&api, &session, &form, || {
        EventBody::OrderUrged(OrderUrged {
            note: note.clone(),
            level,
        })
    })
    .await;
    Redirect::to(&format!("/board?{}", tally.query("bulk_urged"))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bulk_form_reads_its_picks_and_bounds_them() {
        let body = b"csrf=c1&level=supervision&note=%E8%AF%B7%E5%8A%9E&order=PT-1%7Cid-1&order=PT-2%7Cid-2&order=no-bar&other=x";
        assert_eq!(
            read_form(body),
            BulkForm {
                csrf: "c1".into(),
                level: "supervision".into(),
                note: "请办".into(),
                picked: vec![
                    ("PT-1".into(), "id-1".into()),
                    ("PT-2".into(), "id-2".into())
                ],
            }
        );
        let many: String = (0..MAX_PICKED + 5)
            .map(|i| format!("order=PT-{i}%7Cid&"))
            .collect();
        // One past the bound is kept, so that the action refuses the whole form rather
        // than act on the first 200 silently.
        assert_eq!(read_form(many.as_bytes()).picked.len(), MAX_PICKED + 1);
        assert_eq!(
            Tally {
                done: 3,
                refused: 1
            }
            .query("bulk_urged"),
            "done=bulk_urged&n=3&refused=1"
        );
    }
}
