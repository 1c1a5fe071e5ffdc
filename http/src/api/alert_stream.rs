//! `GET /api/alerts/stream?department=&level=`: Server-Sent Events of SLA alerts as they
//! fire, scoped by role like `GET /api/alerts` (a handler sees its own department's), and
//! resumable: each event's `id` is its place in the alert feed, and a client reconnecting
//! with `Last-Event-ID` gets every alert after it, none twice, none skipped.
//!
//! Each stream reads the feed every [`POLL_EVERY`]; the feed is in the database, so a
//! stream sees the alerts of every engine process, not only this one's.

use super::alerts::{alert_view, department_scope, level_filter};
use super::openapi::{ErrorBody, Unauthorized, Unavailable, wire};
use super::tokens::Caller;
use super::{Api, ApiError};
use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use hotline_store::read::{self, FeedPosition};
use serde::Deserialize;
use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use utoipa::IntoParams;
use uuid::Uuid;

/// How often a stream looks for new alerts (a new alert reaches a client within this and
/// the time the transaction that raised it takes to commit).
pub const POLL_EVERY: Duration = Duration::from_millis(500);
/// Alerts read at once.
const PAGE: i64 = 200;
/// What a client is told to wait before reconnecting.
const RECONNECT_AFTER: Duration = Duration::from_secs(2);

/// The parameters of `GET /api/alerts/stream`, as for `GET /api/alerts`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// A department code; a handler may only give its own (else 403) and gets its own
    /// without it.
    pub department: Option<String>,
    /// An alert level (else 400).
    #[param(value_type = Option<wire::AlertLevel>)]
    pub level: Option<String>,
    /// Start after this place in the feed, as `Last-Event-ID` would (which wins when both
    /// are sent): for a page that listed the alerts so far and read the feed's place when
    /// it was drawn (`GET /board` does), so that nothing raised in between is missed.
    #[param(pattern = r"^[0-9]{1,18}-[0-9]{1,18}$")]
    pub after: Option<String>,
}

/// The place `after=` names: exactly the document's pattern, `^[0-9]{1,18}-[0-9]{1,18}$`
/// (no spaces; a header is read more leniently, as browsers send it back).
fn parse_after(after: &str) -> Option<FeedPosition> {
    let (xact, seq) = after.split_once('-')?;
    let digits =
        |part: &str| (1..=18).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit());
    (digits(xact) && digits(seq))
        .then(|| parse_event_id(after))
        .flatten()
}

/// An SSE event id: `<xact>-<seq>`.
pub fn event_id(position: FeedPosition) -> String {
    format!("{}-{}", position.xact, position.seq)
}

/// The position a `Last-Event-ID` names, if it is one this engine gave out.
pub fn parse_event_id(id: &str) -> Option<FeedPosition> {
    let (xact, seq) = id.trim().split_once('-')?;
    let position = FeedPosition {
        xact: xact.parse().ok()?,
        seq: seq.parse().ok()?,
    };
    (position.xact >= 0 && position.seq >= 0).then_some(position)
}

struct Feed {
    api: Arc<Api>,
    department: Option<String>,
    level: Option<String>,
    position: FeedPosition,
    /// Alerts past `position` that the client must not get: committed before the stream
    /// opened. Emptied once the position has passed them all.
    skip: HashSet<Uuid>,
    ready: VecDeque<Event>,
    /// Whether the last read failed (logged once per outage, not every poll).
    failing: bool,
}

impl Feed {
    /// The next event: the next alert, read from the database as it comes.
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Feed)> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some((Ok(event), self));
            }
            tokio::select! {
                _ = self.api.shutdown.cancelled() => return None,
                _ = tokio::time::sleep(POLL_EVERY) => {}
            }
            self.read().await;
        }
    }

    async fn read(&mut self) {
        let page = read::alert_feed(
            &self.api.pool,
            self.position,
            self.department.as_deref(),
            self.level.as_deref(),
            PAGE,
        )
        .await;
        match page {
            Ok(page) => {
                self.failing = false;
                for (position, alert) in &page.alerts {
                    if self.skip.remove(&alert.alert_id) {
                        continue;
                    }
                    let data = serde_json::to_string(&alert_view(alert)).expect("an alert is JSON");
                    self.ready.push_back(
                        Event::default()
                            .id(event_id(*position))
                            .event("alert")
                            .data(data),
                    );
                }
                self.position = page.next;
            }
            Err(err) => {
                if !self.failing {
                    tracing::warn!(error = %err, "alert stream cannot read the feed; retrying");
                }
                self.failing = true;
            }
        }
    }
}

/// `GET /api/alerts/stream`.
#[utoipa::path(
    get,
    path = "/alerts/stream",
    tag = "alerts",
    summary = "SLA alerts as they fire (Server-Sent Events)",
    description = "A Server-Sent Events stream: each alert is an event `alert` whose `data` \
        is an `Alert` (JSON) and whose `id` is its place in the feed (`<number>-<number>`). \
        It starts from now; reconnecting with `Last-Event-ID` first sends every alert after \
        that one. A comment line is sent every 15 s. No request timeout; at most 64 streams \
        at once per process.",
    params(
        StreamQuery,
        ("Last-Event-ID" = Option<String>, Header, pattern = r"^[0-9]{1,18}-[0-9]{1,18}$",
            description = "Resume after this event's `id` (browsers send it by themselves)"),
    ),
    responses(
        (status = 200, description = "The stream: `id: …`, `event: alert`, `data: <Alert>` \
            per alert", body = String, content_type = "text/event-stream"),
        (status = 400, description = "A bad level, or a `Last-Event-ID` or `after` this \
            engine did not give out (`bad_request`)", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "A handler asking for another department (`forbidden`)",
            body = ErrorBody),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn stream_alerts(
    State(api): State<Arc<Api>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    query: Result<Query<StreamQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let department = department_scope(&caller, query.department)?;
    let level = level_filter(query.level)?;
    // A bad `after` is refused even when the header wins: a request is judged whole.
    let after = match query.after.as_deref() {
        None => None,
        Some(after) => Some(parse_after(after).ok_or_else(|| {
            ApiError::bad_request("after is not a place in the feed (<number>-<number>)")
        })?),
    };
    let resume = match (headers.get("last-event-id"), after) {
        (None, None) => None,
        (Some(value), _) => Some(value.to_str().ok().and_then(parse_event_id).ok_or_else(
            || {
                ApiError::bad_request(
                    "Last-Event-ID is not an id this stream gave out (<number>-<number>)",
                )
            },
        )?),
        (None, Some(after)) => Some(after),
    };
    let (position, skip) = match resume {
        Some(position) => (position, HashSet::new()),
        None => {
            let head = read::feed_head(&api.pool)
                .await
                .map_err(|e| ApiError::database(&e))?;
            (head.position, head.already_committed)
        }
    };
    let mut feed = Feed {
        api,
        department,
        level,
        position,
        skip,
        ready: VecDeque::new(),
        failing: false,
    };
    // The first event tells the browser how soon to reconnect; a resumed stream also
    // sends what it missed at once.
    feed.ready
        .push_back(Event::default().retry(RECONNECT_AFTER).comment("alerts"));
    if resume.is_some() {
        feed.read().await;
    }
    let events = futures::stream::unfold(feed, Feed::next);
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_round_trip_and_strangers_are_refused() {
        let position = FeedPosition {
            xact: 7_123_456,
            seq: 42,
        };
        assert_eq!(event_id(position), "7123456-42");
        assert_eq!(parse_event_id("7123456-42"), Some(position));
        assert_eq!(parse_event_id(" 7123456-42 "), Some(position));
        assert_eq!(parse_after("7123456-42"), Some(position));
        for stranger in [
            " 7123456-42",
            "7123456-42 ",
            "1234567890123456789-1",
            "+1-2",
            "1-2-3",
            "",
        ] {
            assert_eq!(parse_after(stranger), None, "{stranger:?}");
        }
        for stranger in [
            "",
            "42",
            "a-b",
            "1-",
            "-1",
            "1--2",
            "1-2-3",
            "99999999999999999999-1",
        ] {
            assert_eq!(parse_event_id(stranger), None, "{stranger:?}");
        }
    }
}
