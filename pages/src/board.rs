//! `/board`, the supervision office's board: open orders per department by state and SLA
//! state; the live list of orders past their warning point with the working time left or
//! over; new alerts as they fire (Server-Sent Events); per department, today's and the
//! last 30 days' 满意率, 按时办结率 and 响应率, in the league table's order, and marked;
//! where cases came from in the last 7 days (district × matter); today's cases by hour;
//! and the supervisors' actions (urge, decide an extension, suspend and resume), each
//! confirmed first.

use super::desk::{ListedOrder, listed};
use super::{ActionResult, Frame, act, csrf_refusal, forbidden, render, words};
use askama::Template;
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, TimeZone, Utc};
use hotline_core::calendar::BUSINESS_TZ;
use hotline_core::config::Marks;
use hotline_core::kpi::{DepartmentKpis, Mark};
use hotline_core::ranking::Standing;
use hotline_http::api::Api;
use hotline_http::api::tokens::Role;
use hotline_http::session::Session;
use hotline_schema::body::{
    AppealDecided, EventBody, ExtensionDecided, OrderUrged, SupervisorNote, read_field,
};
use hotline_schema::values::{AlertLevel, OrderState, SlaState, UrgeLevel};
use hotline_store::board::{OpenCount, PlaceCount};
use hotline_store::read::{self, QueueFilter};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The columns of the open-orders table: workflow states, then SLA states.
const STATE_COLUMNS: [OrderState; 4] = [
    OrderState::Dispatched,
    OrderState::Accepted,
    OrderState::Suspended,
    OrderState::Replied,
];
const SLA_COLUMNS: [SlaState; 5] = [
    SlaState::OnTrack,
    SlaState::Warning,
    SlaState::Overdue,
    SlaState::StatutoryOverdue,
    SlaState::Paused,
];

/// One department's row of the open-orders table.
pub struct CountRow {
    pub department: String,
    pub name: String,
    pub cells: Vec<i64>,
    pub total: i64,
}

impl CountRow {
    /// The list of exactly the orders cell `column` (as in `cells`) counts: the
    /// department's open orders (not closed or merged, as `open_counts` counts them) in
    /// that state or SLA state.
    pub fn href(&self, column: usize) -> String {
        let (name, value) = match column.checked_sub(STATE_COLUMNS.len()) {
            None => ("state", STATE_COLUMNS[column].as_str()),
            Some(i) => ("sla_state", SLA_COLUMNS[i].as_str()),
        };
        super::order_list::list_of(&[("department", &self.department), (name, value)])
    }

    /// The list of every open order of the department (the row's total).
    pub fn total_href(&self) -> String {
        let open: Vec<&str> = OrderState::ALL
            .iter()
            .filter(|s| s.is_open())
            .map(|s| s.as_str())
            .collect();
        super::order_list::list_of(&[("department", &self.department), ("state", &open.join(","))])
    }
}

/// Open orders by department: counts under the state columns, then the SLA columns.
pub fn count_rows(counts: &[OpenCount], names: &BTreeMap<String, String>) -> Vec<CountRow> {
    let mut rows: BTreeMap<&str, CountRow> = BTreeMap::new();
    for c in counts {
        let row = rows.entry(&c.department).or_insert_with(|| CountRow {
            department: c.department.clone(),
            name: names.get(&c.department).cloned().unwrap_or_default(),
            cells: vec![0; STATE_COLUMNS.len() + SLA_COLUMNS.len()],
            total: 0,
        });
        if let Some(i) = STATE_COLUMNS.iter().position(|s| s.as_str() == c.state) {
            row.cells[i] += c.orders;
        }
        if let Some(i) = SLA_COLUMNS.iter().position(|s| s.as_str() == c.sla_state) {
            row.cells[STATE_COLUMNS.len() + i] += c.orders;
        }
        row.total += c.orders;
    }
    rows.into_values().collect()
}

/// One rate on the board: the figure and its mark.
pub struct Rate {
    pub text: String,
    pub mark: &'static str,
}

fn rate(value: Option<f64>, marks: Marks) -> Rate {
    Rate {
        text: value.map_or_else(|| "—".to_owned(), |v| format!("{:.1}%", v * 100.0)),
        mark: Mark::of(value, marks).as_str(),
    }
}

/// One department's KPIs, today and over the last 30 days.
pub struct KpiRow {
    /// Its place in the league table (`—` with nothing to judge).
    pub rank: String,
    pub department: String,
    pub today: [Rate; 3],
    pub month: [Rate; 3],
}

/// Each department's KPIs, in the order and with the rank of the league table (one ranking
/// rule on the board: `GET /api/ranking`'s).
pub fn kpi_rows(
    today: &[DepartmentKpis],
    month: &[DepartmentKpis],
    settings: &hotline_core::config::KpiSettings,
    league: &[Standing],
) -> Vec<KpiRow> {
    let rates = |k: Option<&DepartmentKpis>| {
        [
            rate(
                k.and_then(|k| k.satisfaction_rate),
                settings.satisfaction_marks,
            ),
            rate(k.and_then(|k| k.on_time_rate), settings.on_time_marks),
            rate(k.and_then(|k| k.response_rate), settings.response_marks),
        ]
    };
    league
        .iter()
        .filter_map(|standing| {
            let k = month.iter().find(|k| k.department == standing.department)?;
            Some(KpiRow {
                rank: rank_text(standing.rank),
                department: k.department.clone(),
                today: rates(today.iter().find(|t| t.department == k.department)),
                month: rates(Some(k)),
            })
        })
        .collect()
}

fn rank_text(rank: Option<u32>) -> String {
    rank.map_or_else(|| "—".to_owned(), |r| r.to_string())
}

/// How hot a count is beside the busiest: 0 for none, else 1–5 by its share. The one heat
/// formula of the board (the district × matter cells and the hours of the day).
pub fn heat_level(count: i64, busiest: i64) -> u8 {
    if count <= 0 {
        0
    } else {
        (1 + (count * 4) / busiest.max(1)).min(5) as u8
    }
}

/// The district × matter table of the last 7 days: the busiest matters as columns, each
/// cell with a heat class 0–5.
pub struct Heat {
    pub matters: Vec<String>,
    pub rows: Vec<(String, Vec<(i64, u8)>)>,
}

pub fn heat(places: &[PlaceCount], columns: usize) -> Heat {
    let name = |m: &Option<String>| m.clone().unwrap_or_else(|| "(未识别事项)".into());
    let place = |d: &Option<String>| d.clone().unwrap_or_else(|| "(未指定区县)".into());
    let mut by_matter: BTreeMap<String, i64> = BTreeMap::new();
    for p in places {
        *by_matter.entry(name(&p.matter)).or_default() += p.orders;
    }
    let mut matters: Vec<(String, i64)> = by_matter.into_iter().collect();
    matters.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let matters: Vec<String> = matters.into_iter().take(columns).map(|(m, _)| m).collect();
    let max = places.iter().map(|p| p.orders).max().unwrap_or(0);
    let mut rows: BTreeMap<String, Vec<(i64, u8)>> = BTreeMap::new();
    for p in places {
        let Some(column) = matters.iter().position(|m| *m == name(&p.matter)) else {
            continue;
        };
        let row = rows
            .entry(place(&p.district))
            .or_insert_with(|| vec![(0, 0); matters.len()]);
        row[column].0 += p.orders;
    }
    for cells in rows.values_mut() {
        for cell in cells.iter_mut() {
            cell.1 = heat_level(cell.0, max);
        }
    }
    Heat {
        matters,
        rows: rows.into_iter().collect(),
    }
}

/// One department's row of the league table (部门排名): the figures of `GET /api/ranking`
/// for the last 30 days.
pub struct LeagueRow {
    pub rank: String,
    pub department: String,
    pub name: String,
    pub rates: [String; 3],
    pub score: String,
    /// `green`, `yellow`, `red` or `none` (no score): the mark's class.
    pub colour: &'static str,
    /// The colour in words (绿, 黄, 红), for whoever does not see the mark.
    pub colour_words: &'static str,
}

pub fn league_rows(table: &[Standing], names: &BTreeMap<String, String>) -> Vec<LeagueRow> {
    let percent =
        |r: Option<f64>| r.map_or_else(|| "—".to_owned(), |v| format!("{:.1}%", v * 100.0));
    table
        .iter()
        .map(|s| LeagueRow {
            rank: rank_text(s.rank),
            name: names.get(&s.department).cloned().unwrap_or_default(),
            department: s.department.clone(),
            rates: [
                percent(s.response_rate),
                percent(s.resolution_rate),
                percent(s.satisfaction_rate),
            ],
            score: s
                .score
                .map_or_else(|| "—".to_owned(), |v| format!("{v:.2}")),
            colour: s.colour.map_or("none", |c| c.as_str()),
            colour_words: s.colour.map_or("—", words::colour),
        })
        .collect()
}

/// An appeal of a rating waiting for the supervisors (评价复核).
pub struct AppealItem {
    pub order_no: String,
    pub title: String,
    pub department: String,
    pub rating: &'static str,
    pub reason: String,
    pub appealed_at: String,
    pub event_id: String,
}

/// An alert on the board's list, as the live stream adds them.
pub struct AlertItem {
    pub alert_id: String,
    pub order_no: String,
    pub level: String,
    pub what: String,
}

/// An alert in the list's words: the level's, the department, the time it fired.
fn alert_item(alert: read::AlertRecord) -> AlertItem {
    let level_words = AlertLevel::parse(&alert.level)
        .map_or(alert.level.clone(), |l| words::alert_level(l).to_owned());
    AlertItem {
        what: format!(
            "{level_words} · {} · {}",
            alert.department,
            alert
                .fired_at
                .with_timezone(&hotline_core::calendar::BUSINESS_TZ)
                .format("%H:%M:%S")
        ),
        alert_id: alert.alert_id.to_string(),
        order_no: alert.order_no,
        level: alert.level,
    }
}

/// An extension waiting for the supervisor, with the reason the department gave.
pub struct ExtensionItem {
    pub order: ListedOrder,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "board.html")]
struct BoardPage {
    page: Frame,
    /// Today's alerts so far, newest first; the live stream continues after `feed_after`.
    alerts: Vec<AlertItem>,
    feed_after: String,
    state_columns: Vec<&'static str>,
    sla_columns: Vec<&'static str>,
    counts: Vec<CountRow>,
    warned: Vec<ListedOrder>,
    extensions: Vec<ExtensionItem>,
    suspended: Vec<ListedOrder>,
    kpis: Vec<KpiRow>,
    league: Vec<LeagueRow>,
    appeals: Vec<AppealItem>,
    urge_levels: Vec<(&'static str, &'static str)>,
    heat: Heat,
    hours: Vec<(u32, i64, u8)>,
    today_total: i64,
}

fn midnight(at: DateTime<Utc>) -> DateTime<Utc> {
    let day = at.with_timezone(&BUSINESS_TZ).date_naive();
    BUSINESS_TZ
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .earliest()
        .map_or(at, |t| t.with_timezone(&Utc))
}

#[derive(Deserialize)]
pub struct BoardQuery {
    done: Option<String>,
    /// After a bulk action: how many were done and how many not.
    n: Option<u32>,
    refused: Option<u32>,
}

/// `GET /board`.
pub async fn page(
    State(api): State<Arc<Api>>,
    Extension(session): Extension<Session>,
    Query(query): Query<BoardQuery>,
) -> Response {
    if session.caller.role != Role::Supervisor {
        return forbidden(&session, "督办看板只对督办人员开放。");
    }
    let now = match hotline_store::database_now(&api.pool).await {
        Ok(now) => now,
        Err(err) => return super::unavailable(&err),
    };
    let today = midnight(now);
    // The feed's place first, then today's alerts: the live stream resumes from that
    // place, so an alert raised while the page is drawn is listed or streamed (or both,
    // and the script keeps one).
    let feed = match read::feed_head(&api.pool).await {
        Ok(head) => head.position,
        Err(err) => return super::unavailable(&err),
    };
    let todays_alerts = read::AlertFilter {
        since: Some(today),
        limit: 50,
        ..read::AlertFilter::default()
    };
    let open = [OrderState::Dispatched, OrderState::Accepted];
    // The reads are independent: run side by side, the board takes as long as the slowest.
    let pool = &api.pool;
    let month_ago = now - chrono::TimeDelta::days(30);
    let week_ago = now - chrono::TimeDelta::days(7);
    let counted = api.kpi.basically_satisfied_counts;
    let warned_filter = QueueFilter {
        states: &open,
        warned: true,
        limit: 100,
        ..QueueFilter::default()
    };
    let extensions_filter = QueueFilter {
        states: &[OrderState::Accepted],
        extension_asked: Some(true),
        limit: 50,
        ..QueueFilter::default()
    };
    let suspended_filter = QueueFilter {
        states: &[OrderState::Suspended],
        limit: 50,
        ..QueueFilter::default()
    };
    let reads = async {
        futures::try_join!(
            hotline_store::board::open_counts(pool),
            read::queue(pool, &warned_filter),
            read::queue(pool, &extensions_filter),
            read::queue(pool, &suspended_filter),
            read::appeal_queue(pool, 50),
            read::alerts(pool, &todays_alerts),
            hotline_store::kpi::period_counts(pool, today, now, None, counted),
            hotline_store::kpi::period_counts(pool, month_ago, now, None, counted),
            hotline_store::board::by_place(pool, week_ago),
            hotline_store::board::by_hour(pool, today),
        )
    };
    let (
        counts,
        warned,
        extensions,
        suspended,
        appeals,
        alerts,
        counted_today,
        counted_month,
        places,
        hours,
    ) = match reads.await {
        Ok(read) => read,
        Err(err) => return super::unavailable(&err),
    };
    let asked: Vec<String> = extensions.iter().map(|r| r.order_no.clone()).collect();
    let reasons = match read::extension_reasons(pool, &asked).await {
        Ok(reasons) => reasons,
        Err(err) => return super::unavailable(&err),
    };
    let rules = api.rules();
    let calendar = &rules.clock.calendar;
    let names = words::department_names(&rules.catalog);
    let report_today = hotline_core::kpi::report(counted_today, calendar);
    let report_month = hotline_core::kpi::report(counted_month, calendar);
    // The league table of `GET /api/ranking?period=last30`: the same counts, the same rule.
    let standings = hotline_core::ranking::table(&api.kpi.ranking, &report_month.departments);
    let busiest = hours.iter().map(|(_, n)| *n).max().unwrap_or(0);
    let by_hour: BTreeMap<i32, i64> = hours.into_iter().collect();
    let hours: Vec<(u32, i64, u8)> = (0..24)
        .map(|h| {
            let n = by_hour.get(&h).copied().unwrap_or(0);
            (h as u32, n, heat_level(n, busiest))
        })
        .collect();
    let mut page = Frame::new(&session, "/board");
    page.notice = super::notice(query.done.as_deref())
        .or_else(|| super::bulk::notice(query.done.as_deref(), query.n, query.refused));
    render(&BoardPage {
        page,
        alerts: alerts.into_iter().map(alert_item).collect(),
        feed_after: hotline_http::api::alert_stream::event_id(feed),
        state_columns: STATE_COLUMNS.iter().map(|s| words::state(*s)).collect(),
        sla_columns: SLA_COLUMNS.iter().map(|s| words::sla_state(*s)).collect(),
        counts: count_rows(&counts, &names),
        warned: warned.into_iter().map(|r| listed(&rules, r, now)).collect(),
        extensions: extensions
            .into_iter()
            .map(|r| {
                let reason = reasons.get(&r.order_no).cloned().unwrap_or_default();
                ExtensionItem {
                    order: listed(&rules, r, now),
                    reason,
                }
            })
            .collect(),
        suspended: suspended
            .into_iter()
            .map(|r| listed(&rules, r, now))
            .collect(),
        kpis: kpi_rows(
            &report_today.departments,
            &report_month.departments,
            &api.kpi,
            &standings,
        ),
        league: league_rows(&standings, &names),
        appeals: appeals
            .into_iter()
            .map(|a| {
                let callback = a.callback.0;
                let (reason, appealed_at) = callback
                    .appeal
                    .as_ref()
                    .map(|x| (x.reason.clone(), words::when(x.appealed_at)))
                    .unwrap_or_default();
                AppealItem {
                    order_no: a.order.order_no,
                    title: a.order.title,
                    department: callback.department.clone(),
                    rating: words::rating(callback.rating),
                    reason,
                    appealed_at,
                    event_id: super::new_event_id(),
                }
            })
            .collect(),
        urge_levels: UrgeLevel::ALL
            .iter()
            .map(|l| (l.as_str(), words::urge_level(*l)))
            .collect(),
        heat: heat(&places, 8),
        today_total: hours.iter().map(|(_, n, _)| n).sum(),
        hours,
    })
}

#[derive(Debug, Deserialize)]
pub struct SupervisorForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    event_id: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    approved: String,
    #[serde(default)]
    days: String,
    /// `reminder` (催办), `supervision` (督办) or `listed` (挂牌督办); empty is 催办.
    #[serde(default)]
    level: String,
    /// `yes`: the appeal of a rating is upheld.
    #[serde(default)]
    upheld: String,
    /// Where to go back to: the board (default) or the order page.
    #[serde(default)]
    back: String,
}

/// `POST /board/orders/{order_no}/{urge|decide|suspend|resume|appeal}`.
pub async fn act_on(
    State(api): State<Arc<Api>>,
    Extension(session): Extension<Session>,
    Path((order_no, action)): Path<(String, String)>,
    Form(form): Form<SupervisorForm>,
) -> Response {
    if session.caller.role != Role::Supervisor {
        return forbidden(
            &session,
            "只有督办人员可以催办、审核延期、挂起、恢复和审核评价复核。",
        );
    }
    if let Some(refused) = csrf_refusal(&session, &form.csrf) {
        return refused;
    }
    let text = |s: &str| {
        let s = s.trim();
        (!s.is_empty()).then(|| s.to_owned())
    };
    let problem =
        |text: &str| super::order::order_with_problem(&api, &session, &order_no, text.into());
    let (body, done) = match action.as_str() {
        "urge" => match text(&form.level).map(|level| read_field("level", &level)) {
            Some(Err(rejection)) => return problem(&words::refusal(&rejection)).await,
            level => (
                EventBody::OrderUrged(OrderUrged {
                    note: text(&form.note),
                    level: level.and_then(Result::ok).unwrap_or_default(),
                }),
                "urged",
            ),
        },
        "suspend" => (
            EventBody::OrderSuspended(SupervisorNote {
                reason: text(&form.reason),
            }),
            "suspended",
        ),
        "resume" => (
            EventBody::OrderResumed(SupervisorNote {
                reason: text(&form.reason),
            }),
            "resumed",
        ),
        "decide" => {
            let approved = form.approved == "yes";
            let extra_working_days = match form.days.trim().parse::<u32>() {
                Ok(days) if days > 0 => Some(days),
                _ if approved => return problem("批准延期须填写延期工作日数(正整数)。").await,
                _ => None,
            };
            (
                EventBody::ExtensionDecided(ExtensionDecided {
                    approved,
                    extra_working_days: extra_working_days.filter(|_| approved),
                }),
                "decided",
            )
        }
        "appeal" => {
            let Some(note) = text(&form.note) else {
                return problem("评价复核须填写复核意见。").await;
            };
            (
                EventBody::AppealDecided(AppealDecided {
                    upheld: form.upheld == "yes",
                    note,
                }),
                "appeal_decided",
            )
        }
        _ => return forbidden(&session, "没有这项操作。"),
    };
    let back = if form.back == "order" {
        format!("/orders/{order_no}")
    } else {
        "/board".to_owned()
    };
    match act(&api, &session.caller, &form.event_id, &order_no, body).await {
        ActionResult::Done => Redirect::to(&format!("{back}?done={done}")).into_response(),
        ActionResult::AlreadyDone => Redirect::to(&format!("{back}?done=again")).into_response(),
        ActionResult::Refused(problem) => {
            super::order::order_with_problem(&api, &session, &order_no, problem).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_orders_are_counted_under_their_state_and_sla_state() {
        let count = |department: &str, state: &str, sla_state: &str, orders: i64| OpenCount {
            department: department.into(),
            state: state.into(),
            sla_state: sla_state.into(),
            orders,
        };
        let counts = [
            count("SCJGJ", "dispatched", "on_track", 3),
            count("SCJGJ", "accepted", "overdue", 2),
            count("SCJGJ", "replied", "on_track", 1),
            count("YSBZX", "suspended", "paused", 4),
        ];
        let names = BTreeMap::from([("SCJGJ".to_owned(), "市场监督管理局".to_owned())]);
        let rows = count_rows(&counts, &names);
        assert_eq!(rows.len(), 2);
        // dispatched, accepted, suspended, replied | on_track, warning, overdue, statutory, paused
        assert_eq!(rows[0].department, "SCJGJ");
        assert_eq!(rows[0].name, "市场监督管理局");
        assert_eq!(rows[0].cells, [3, 2, 0, 1, 4, 0, 2, 0, 0]);
        assert_eq!(rows[0].total, 6);
        assert_eq!(rows[1].cells, [0, 0, 4, 0, 0, 0, 0, 0, 4]);
        assert_eq!(rows[1].name, "");
    }

    #[test]
    fn each_count_links_to_the_list_of_exactly_the_orders_it_counts() {
        let row = CountRow {
            department: "SCJGJ".into(),
            name: "市场监督管理局".into(),
            cells: vec![0; STATE_COLUMNS.len() + SLA_COLUMNS.len()],
            total: 0,
        };
        // (column, href)
        let cases = [
            (0, "/orders?department=SCJGJ&state=dispatched"),
            (1, "/orders?department=SCJGJ&state=accepted"),
            (2, "/orders?department=SCJGJ&state=suspended"),
            (3, "/orders?department=SCJGJ&state=replied"),
            (4, "/orders?department=SCJGJ&sla_state=on_track"),
            (5, "/orders?department=SCJGJ&sla_state=warning"),
            (6, "/orders?department=SCJGJ&sla_state=overdue"),
            (7, "/orders?department=SCJGJ&sla_state=statutory_overdue"),
            (8, "/orders?department=SCJGJ&sla_state=paused"),
        ];
        assert_eq!(cases.len(), row.cells.len(), "every column has its link");
        for (column, want) in cases {
            assert_eq!(row.href(column), want, "column {column}");
        }
        // The total: every state but closed and merged, as the board counts open orders.
        assert_eq!(
            row.total_href(),
            "/orders?department=SCJGJ&state=dispatched,accepted,suspended,replied,return_pending"
        );
        let odd = CountRow {
            department: "A&B C".into(),
            ..row
        };
        assert_eq!(odd.href(0), "/orders?department=A%26B%20C&state=dispatched");
    }

    #[test]
    fn the_kpi_table_follows_the_league_tables_rule_and_marks_each_rate() {
        let settings = hotline_core::config::KpiSettings::default();
        let kpis = |department: &str, rates: Option<[f64; 3]>, on_time| DepartmentKpis {
            department: department.into(),
            response_rate: rates.map(|r| r[0]),
            resolution_rate: rates.map(|r| r[1]),
            satisfaction_rate: rates.map(|r| r[2]),
            on_time_rate: on_time,
            ..DepartmentKpis::default()
        };
        // Scores by the default weights (0.3, 0.35, 0.35), worked by hand: A 30 + 35 + 28
        // = 93.00; B 15 + 21 + 33.25 = 69.25; C none. Ranked by 满意率 alone, B would lead.
        let month = [
            kpis("B", Some([0.5, 0.6, 0.95]), Some(0.80)),
            kpis("C", None, None),
            kpis("A", Some([1.0, 1.0, 0.80]), Some(0.99)),
        ];
        let today = [kpis("B", Some([1.0, 1.0, 1.0]), None)];
        let league = hotline_core::ranking::table(&Default::default(), &month);
        let rows = kpi_rows(&today, &month, &settings, &league);
        let order: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r.department.as_str(), r.rank.as_str()))
            .collect();
        assert_eq!(order, [("A", "1"), ("B", "2"), ("C", "—")]);
        assert_eq!(
            (rows[1].month[0].text.as_str(), rows[1].month[0].mark),
            ("95.0%", "green")
        );
        assert_eq!(rows[1].month[1].mark, "red", "80% on time");
        assert_eq!(rows[1].today[0].text, "100.0%");
        assert_eq!(rows[1].today[1].text, "—");
        assert_eq!(rows[0].today[0].mark, "none", "nothing today for A");
        assert_eq!(rows[2].month[0].mark, "none");
    }

    #[test]
    fn heat_is_graded_by_the_share_of_the_busiest() {
        let levels: Vec<u8> = [0, 1, 24, 25, 50, 99, 100]
            .into_iter()
            .map(|n| heat_level(n, 100))
            .collect();
        assert_eq!(levels, [0, 1, 1, 2, 3, 4, 5]);
        assert_eq!(
            heat_level(3, 0),
            5,
            "a count above a zero busiest is the hottest"
        );
    }

    #[test]
    fn the_league_table_is_shown_as_ranked_with_its_colour_in_words() {
        use hotline_core::ranking::{Colour, Standing};
        let standing = |department: &str, score: Option<f64>, rank, colour| Standing {
            department: department.into(),
            response_rate: Some(0.4),
            resolution_rate: score.map(|_| 1.0),
            satisfaction_rate: None,
            score,
            rank,
            colour,
        };
        let names = BTreeMap::from([("SCJGJ".to_owned(), "市场监督管理局".to_owned())]);
        let rows = league_rows(
            &[
                standing("SCJGJ", Some(73.75), Some(1), Some(Colour::Red)),
                standing("YSBZX", None, None, None),
            ],
            &names,
        );
        let shown: Vec<Vec<&str>> = rows
            .iter()
            .map(|r| {
                let mut cells = vec![r.rank.as_str(), r.department.as_str()];
                cells.extend(r.rates.iter().map(String::as_str));
                cells.extend([r.score.as_str(), r.colour, r.colour_words, r.name.as_str()]);
                cells
            })
            .collect();
        assert_eq!(
            shown,
            [
                vec![
                    "1",
                    "SCJGJ",
                    "40.0%",
                    "100.0%",
                    "—",
                    "73.75",
                    "red",
                    "红",
                    "市场监督管理局"
                ],
                vec!["—", "YSBZX", "40.0%", "—", "—", "—", "none", "—", ""],
            ]
        );
    }

    #[test]
    fn the_heat_map_keeps_the_busiest_matters_and_grades_cells() {
        let place = |d: Option<&str>, m: Option<&str>, n: i64| PlaceCount {
            district: d.map(Into::into),
            matter: m.map(Into::into),
            orders: n,
        };
        let places = [
            place(Some("海坛"), Some("食品安全"), 8),
            place(Some("金井"), Some("食品安全"), 2),
            place(Some("海坛"), Some("噪声扰民"), 1),
            place(None, None, 3),
            place(Some("金井"), Some("路灯"), 1),
        ];
        let heat = heat(&places, 2);
        assert_eq!(heat.matters, ["食品安全", "(未识别事项)"]);
        let rows: BTreeMap<String, Vec<(i64, u8)>> = heat.rows.into_iter().collect();
        assert_eq!(rows["海坛"], [(8, 5), (0, 0)]);
        assert_eq!(rows["金井"], [(2, 2), (0, 0)]);
        assert_eq!(rows["(未指定区县)"], [(0, 0), (3, 2)]);
    }
}
