//! The order list (`GET /api/orders`), its CSV export (`GET /api/orders.csv`) and the
//! masking of the citizen (脱敏) by role, in both and in `GET /api/orders/{order_no}`.
//!
//! Each test builds its orders over `POST /api/events` (a 202 means committed), knowing
//! what each one is: department, state, SLA state, urgency, matter, district, when it was
//! received. Every expected set below is computed from that knowledge, never read back
//! from the engine.

use crate::support::{EngineProcess, TestEnv, complaint, now, wait_for};
use chrono::{DateTime, FixedOffset, SubsecRound, TimeDelta, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

const OPERATOR: &str = "op-list-token-0123456789";
const SUPERVISOR: &str = "sv-list-token-0123456789";
const HANDLER_SC: &str = "sc-list-token-0123456789";
const HANDLER_YB: &str = "yb-list-token-0123456789";
const HANDLER_ZF: &str = "zf-list-token-0123456789";
const HANDLER_JJ: &str = "jj-list-token-0123456789";
const HANDLER_HT: &str = "ht-list-token-0123456789";

fn handler_of(department: &str) -> &'static str {
    match department {
        "SCJGJ" => HANDLER_SC,
        "YSBZX" => HANDLER_YB,
        "ZFYJJ" => HANDLER_ZF,
        "JJPQ" => HANDLER_JJ,
        "HTPQ" => HANDLER_HT,
        other => panic!("no handler token for {other}"),
    }
}

async fn start(env: &TestEnv) -> EngineProcess {
    let tokens = format!(
        "{OPERATOR}:operator,{SUPERVISOR}:supervisor,{HANDLER_SC}:handler:SCJGJ,\
         {HANDLER_YB}:handler:YSBZX,{HANDLER_ZF}:handler:ZFYJJ,{HANDLER_JJ}:handler:JJPQ,\
         {HANDLER_HT}:handler:HTPQ"
    );
    env.start_engine_with_env(&[("HOTLINE_API_TOKENS", &tokens)])
        .await
}

/// The list's reads and writes, on one engine's API.
struct Client<'a> {
    engine: &'a EngineProcess,
}

impl<'a> Client<'a> {
    fn new(engine: &'a EngineProcess) -> Client<'a> {
        Client { engine }
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.engine.get(path, token).await
    }

    /// `GET /api/orders?query`, which must answer 200: the body.
    async fn list(&self, query: &str, token: &str) -> Value {
        let (status, body) = self.get(&format!("/api/orders?{query}"), token).await;
        assert_eq!(status, StatusCode::OK, "GET /api/orders?{query}: {body}");
        body
    }

    /// The order numbers of one page, in the order given.
    async fn page(&self, query: &str, token: &str) -> Vec<String> {
        numbers(&self.list(query, token).await)
    }

    /// Every order number of the list, following `next` to the end.
    async fn all(&self, query: &str, token: &str) -> Vec<String> {
        let mut found = Vec::new();
        let mut body = self.list(query, token).await;
        loop {
            found.extend(numbers(&body));
            let Some(next) = body["next"].as_str() else {
                return found;
            };
            body = self.list(&format!("{query}&next={next}"), token).await;
        }
    }

    async fn csv(&self, query: &str, token: &str) -> reqwest::Response {
        reqwest::Client::new()
            .get(format!("{}/api/orders.csv?{query}", self.engine.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET csv")
    }

    async fn post(&self, token: &str, event: &Value) {
        let (status, body) = self.engine.post_event(token, event).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{event}: {body}");
    }
}

fn numbers(body: &Value) -> Vec<String> {
    body["orders"]
        .as_array()
        .unwrap_or_else(|| panic!("no orders in {body}"))
        .iter()
        .map(|o| o["order_no"].as_str().unwrap().to_owned())
        .collect()
}

fn set<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> BTreeSet<String> {
    items.into_iter().map(Into::into).collect()
}

fn business(at: DateTime<Utc>) -> String {
    at.with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap())
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// A query value, percent-encoded.
fn enc(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What happens to an order after it is received.
#[derive(Clone, Copy, PartialEq)]
enum Then {
    Nothing,
    Accept,
    Reply,
    Suspend,
    /// Answered on the call: closed at once, held by the manual desk.
    AnsweredAtIntake,
}

/// One order of a fixture, and everything the tests expect of it.
#[derive(Clone)]
struct Spec {
    no: &'static str,
    matter: &'static str,
    district: Option<&'static str>,
    minutes_ago: i64,
    urgency: &'static str,
    title: &'static str,
    confidential: bool,
    then: Then,
    /// The SLA state it has while the test runs (by construction, see `fixture`).
    sla: &'static str,
}

impl Spec {
    fn department(&self) -> &'static str {
        if self.then == Then::AnsweredAtIntake {
            return "MANUAL";
        }
        match (self.matter, self.district) {
            ("SC-0101", _) => "SCJGJ",
            ("YB-0101", _) => "YSBZX",
            ("PQ-0001", Some("金井")) => "JJPQ",
            ("PQ-0001", Some("海坛")) => "HTPQ",
            ("ZF-0001" | "JJ-0001", _) => "ZFYJJ",
            other => panic!("no department for {other:?}"),
        }
    }

    fn state(&self) -> &'static str {
        match self.then {
            Then::Nothing => "dispatched",
            Then::Accept => "accepted",
            Then::Reply => "replied",
            Then::Suspend => "suspended",
            Then::AnsweredAtIntake => "closed",
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn spec(
    no: &'static str,
    matter: &'static str,
    district: Option<&'static str>,
    minutes_ago: i64,
    urgency: &'static str,
    title: &'static str,
    then: Then,
    sla: &'static str,
) -> Spec {
    Spec {
        no,
        matter,
        district,
        minutes_ago,
        urgency,
        title,
        confidential: false,
        then,
        sla,
    }
}

/// The fixture. SLA states by construction: `PQ-0001` has a 4-hour statutory limit in
/// natural hours (committed 2 h, warning at 96 min), so received 150 minutes ago it is
/// overdue and 100 minutes ago in warning (for 20 minutes more); `JJ-0001` (1 minute)
/// received minutes ago is past its statutory deadline; the working-day matters received
/// within the last half hour are on track; a suspended order is paused, one answered at
/// intake closed; a reply stops the clock where it was.
fn fixture() -> Vec<Spec> {
    use Then::*;
    vec![
        spec(
            "OL001",
            "SC-0101",
            Some("金井"),
            5,
            "normal",
            "超市销售过期食品",
            Nothing,
            "on_track",
        ),
        spec(
            "OL002",
            "SC-0101",
            None,
            7,
            "urgent",
            "餐馆后厨变质肉类",
            Accept,
            "on_track",
        ),
        spec(
            "OL003",
            "SC-0101",
            Some("海坛"),
            9,
            "normal",
            "100%纯果汁掺水",
            Reply,
            "on_track",
        ),
        spec(
            "OL004",
            "SC-0101",
            None,
            11,
            "normal",
            "奶茶店使用过期原料",
            Suspend,
            "paused",
        ),
        spec(
            "OL005",
            "YB-0101",
            Some("金井"),
            13,
            "normal",
            "医保报销比例咨询",
            Nothing,
            "on_track",
        ),
        spec(
            "OL006",
            "YB-0101",
            None,
            15,
            "emergency",
            "医保卡被盗刷",
            Accept,
            "on_track",
        ),
        spec(
            "OL007",
            "PQ-0001",
            Some("金井"),
            150,
            "normal",
            "商贩占道经营 早市",
            Nothing,
            "overdue",
        ),
        spec(
            "OL008",
            "PQ-0001",
            Some("金井"),
            100,
            "urgent",
            "夜市摆摊占道",
            Nothing,
            "warning",
        ),
        spec(
            "OL009",
            "PQ-0001",
            Some("海坛"),
            150,
            "normal",
            "门店占道堆放货物",
            Accept,
            "overdue",
        ),
        spec(
            "OL010",
            "PQ-0001",
            Some("海坛"),
            20,
            "normal",
            "流动摊贩占道",
            Nothing,
            "on_track",
        ),
        spec(
            "OL011",
            "JJ-0001",
            Some("金井"),
            3,
            "emergency",
            "小区燃气泄漏",
            Nothing,
            "statutory_overdue",
        ),
        spec(
            "OL012",
            "JJ-0001",
            None,
            4,
            "urgent",
            "餐馆燃气味道很重",
            Accept,
            "statutory_overdue",
        ),
        spec(
            "OL013",
            "ZF-0001",
            Some("海坛"),
            17,
            "normal",
            "无证经营的100_元店",
            Nothing,
            "on_track",
        ),
        spec(
            "OL014",
            "ZF-0001",
            None,
            19,
            "normal",
            "无证网吧 噪音扰民",
            Accept,
            "on_track",
        ),
        spec(
            "OL015",
            "SC-0101",
            None,
            21,
            "normal",
            "咨询食品经营许可办理",
            AnsweredAtIntake,
            "closed",
        ),
        spec(
            "OL016",
            "JJ-0001",
            None,
            6,
            "normal",
            "燃气表漏气已处理",
            Reply,
            "statutory_overdue",
        ),
    ]
}

/// A second department queue: `JJ-0001` orders are held by ZFYJJ, so are `ZF-0001` ones.
/// Builds the fixture over HTTP: each complaint, then what happens to it. `base` is the
/// instant `minutes_ago` counts back from (whole seconds, so that received_at is exact).
async fn build(api: &Client<'_>, specs: &[Spec], base: DateTime<Utc>) {
    for s in specs {
        let mut event = complaint(s.no, s.matter, s.district, s.title);
        event["occurred_at"] = json!(business(base - TimeDelta::minutes(s.minutes_ago)));
        event["urgency"] = json!(s.urgency);
        event["content"] = json!(format!("市民来电反映:{}。请核实处理。", s.title));
        event["citizen"] = json!({"name": "张三丰", "phone": "13812345678"});
        if s.confidential {
            event["confidential"] = json!(true);
        }
        if s.then == Then::AnsweredAtIntake {
            event["kind"] = json!("consultation");
            event["answer"] = json!({"reply": "已在电话中答复", "resolved": true});
        }
        api.post(OPERATOR, &event).await;
        let department = s.department();
        match s.then {
            Then::Nothing | Then::AnsweredAtIntake => {}
            Then::Accept | Then::Reply => {
                let accepted = now(
                    "order.accepted",
                    s.no,
                    json!({"department": department, "handler": "李科员"}),
                );
                api.post(handler_of(department), &accepted).await;
                if s.then == Then::Reply {
                    let replied = now(
                        "order.replied",
                        s.no,
                        json!({"department": department, "reply": "已处理", "resolved": true}),
                    );
                    api.post(handler_of(department), &replied).await;
                }
            }
            Then::Suspend => {
                let suspended = now("order.suspended", s.no, json!({"reason": "待鉴定"}));
                api.post(SUPERVISOR, &suspended).await;
            }
        }
    }
}

fn base_instant() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

fn received(base: DateTime<Utc>, s: &Spec) -> DateTime<Utc> {
    base - TimeDelta::minutes(s.minutes_ago)
}

/// The sign and committed deadlines of a fixture order, by the rules of the contract
/// (§7) on the test catalog, with working time from the independent reference: committed
/// at half the statutory limit; signed for within a working day, 30 minutes for an urgent
/// class (a matter on a natural clock) or an `urgent` order, 15 for an `emergency` one,
/// and never after the committed deadline.
fn expected_deadlines(s: &Spec, received: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    use crate::reference::working_time_after;
    let working_hours = |days: i64| TimeDelta::hours(7 * days);
    let (committed, natural) = match s.matter {
        "SC-0101" => (working_time_after(received, working_hours(5) / 2), false),
        "YB-0101" => (working_time_after(received, working_hours(2) / 2), false),
        "ZF-0001" => (working_time_after(received, working_hours(10) / 2), false),
        "PQ-0001" => (received + TimeDelta::hours(2), true),
        "JJ-0001" => (received + TimeDelta::seconds(30), true),
        other => panic!("no limit for {other}"),
    };
    let sign = match (s.urgency, natural) {
        ("emergency", _) => received + TimeDelta::minutes(15),
        ("urgent", _) | (_, true) => received + TimeDelta::minutes(30),
        _ => working_time_after(received, working_hours(1)),
    };
    (sign.min(committed), committed)
}

fn parse_time(value: &Value) -> Option<DateTime<Utc>> {
    value
        .as_str()
        .map(|s| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_filter_narrows_the_list_to_exactly_its_orders() {
    let env = TestEnv::new().await;
    let engine = start(&env).await;
    let api = Client::new(&engine);
    let base = base_instant();
    let specs = fixture();
    build(&api, &specs, base).await;
    let all = set(specs.iter().map(|s| s.no));
    let matching =
        |keep: &dyn Fn(&Spec) -> bool| set(specs.iter().filter(|s| keep(s)).map(|s| s.no));

    // Without a filter: everything, on one page.
    let listed = api.page("limit=500", SUPERVISOR).await;
    assert_eq!(set(listed.clone()), all);
    assert_eq!(listed.len(), all.len(), "no order twice");

    let from = received(base, &specs[6]); // OL007 and OL009, 150 minutes ago: inclusive
    let to = received(base, &specs[4]); // OL005, 13 minutes ago: exclusive
    type Keep = Box<dyn Fn(&Spec) -> bool>;
    let cases: Vec<(String, Keep)> = vec![
        (
            "department=SCJGJ".into(),
            Box::new(|s| s.department() == "SCJGJ"),
        ),
        (
            "department=ZFYJJ".into(),
            Box::new(|s| s.department() == "ZFYJJ"),
        ),
        (
            "department=MANUAL".into(),
            Box::new(|s| s.department() == "MANUAL"),
        ),
        ("department=NOSUCH".into(), Box::new(|_| false)),
        (
            "state=dispatched".into(),
            Box::new(|s| s.state() == "dispatched"),
        ),
        (
            "state=accepted".into(),
            Box::new(|s| s.state() == "accepted"),
        ),
        ("state=replied".into(), Box::new(|s| s.state() == "replied")),
        (
            "state=suspended".into(),
            Box::new(|s| s.state() == "suspended"),
        ),
        ("state=closed".into(), Box::new(|s| s.state() == "closed")),
        (
            "state=dispatched,accepted".into(),
            Box::new(|s| matches!(s.state(), "dispatched" | "accepted")),
        ),
        ("matter=PQ-0001".into(), Box::new(|s| s.matter == "PQ-0001")),
        ("matter=YB-0101".into(), Box::new(|s| s.matter == "YB-0101")),
        (
            format!("district={}", enc("金井")),
            Box::new(|s| s.district == Some("金井")),
        ),
        (
            format!("district={}", enc("海坛")),
            Box::new(|s| s.district == Some("海坛")),
        ),
        ("urgency=normal".into(), Box::new(|s| s.urgency == "normal")),
        ("urgency=urgent".into(), Box::new(|s| s.urgency == "urgent")),
        (
            "urgency=urgent,emergency".into(),
            Box::new(|s| s.urgency != "normal"),
        ),
        (
            "state=dispatched&urgency=urgent".into(),
            Box::new(|s| s.state() == "dispatched" && s.urgency == "urgent"),
        ),
        (
            format!("received_from={}", enc(&business(from))),
            Box::new(move |s| received(base, s) >= from),
        ),
        (
            format!("received_to={}", enc(&business(to))),
            Box::new(move |s| received(base, s) < to),
        ),
        (
            format!(
                "received_from={}&received_to={}",
                enc(&business(from)),
                enc(&business(to))
            ),
            Box::new(move |s| received(base, s) >= from && received(base, s) < to),
        ),
        // Words: all must occur, in the title or the content, case-insensitively;
        // % and _ are literal.
        (
            format!("q={}", enc("过期")),
            Box::new(|s| s.title.contains("过期")),
        ),
        (
            format!("q={}", enc("占道 海坛")),
            Box::new(|_| false), // 海坛 is a district, never in the text
        ),
        (
            format!("q={}", enc("占道 早市")),
            Box::new(|s| s.title.contains("占道") && s.title.contains("早市")),
        ),
        (
            format!("q={}", enc("市民来电 燃气")),
            Box::new(|s| s.title.contains("燃气")),
        ),
        (
            format!("q={}", enc("100%")),
            Box::new(|s| s.title.contains("100%")),
        ),
        (
            format!("q={}", enc("100_")),
            Box::new(|s| s.title.contains("100_")),
        ),
        (
            format!("q={}", enc("%")),
            Box::new(|s| s.title.contains('%')),
        ),
        (
            format!("department=SCJGJ&q={}", enc("过期")),
            Box::new(|s| s.department() == "SCJGJ" && s.title.contains("过期")),
        ),
        // Empty values are no filter.
        ("department=&state=&q=".into(), Box::new(|_| true)),
    ];
    for (query, keep) in &cases {
        let found = api.page(&format!("{query}&limit=500"), SUPERVISOR).await;
        assert_eq!(set(found), matching(keep.as_ref()), "{query}");
    }

    // sla_state: each state narrows to the orders in it, agreeing with the order view.
    for sla in [
        "on_track",
        "warning",
        "overdue",
        "statutory_overdue",
        "paused",
        "closed",
    ] {
        let want = matching(&|s: &Spec| s.sla == sla);
        let body = api
            .list(&format!("sla_state={sla}&limit=500"), SUPERVISOR)
            .await;
        assert_eq!(set(numbers(&body)), want, "sla_state={sla}");
        for row in body["orders"].as_array().unwrap() {
            assert_eq!(row["sla_state"], sla, "{row}");
        }
        assert!(!want.is_empty(), "the fixture has an order {sla}");
    }
    let late = api
        .page("sla_state=overdue,statutory_overdue&limit=500", SUPERVISOR)
        .await;
    assert_eq!(
        set(late),
        matching(&|s: &Spec| matches!(s.sla, "overdue" | "statutory_overdue"))
    );
    let zf_late = api
        .page(
            "sla_state=statutory_overdue&department=ZFYJJ&state=accepted",
            SUPERVISOR,
        )
        .await;
    assert_eq!(zf_late, vec!["OL012".to_owned()]);

    // Each row says what it is.
    let body = api.list("limit=500", OPERATOR).await;
    let rows: HashMap<String, Value> = body["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["order_no"].as_str().unwrap().to_owned(), r.clone()))
        .collect();
    for s in &specs {
        let row = &rows[s.no];
        assert_eq!(row["department"], s.department(), "{row}");
        assert_eq!(row["state"], s.state(), "{row}");
        assert_eq!(row["sla_state"], s.sla, "{row}");
        assert_eq!(row["urgency"], s.urgency, "{row}");
        assert_eq!(row["title"], s.title, "{row}");
        assert_eq!(row["district"], json!(s.district), "{row}");
        assert_eq!(
            parse_time(&row["received_at"]),
            Some(received(base, s)),
            "{row}"
        );
        assert!(row["committed_due_at"].is_string() && row["statutory_due_at"].is_string());
        if s.then != Then::AnsweredAtIntake {
            assert_eq!(row["matter"], s.matter, "{row}");
        }
    }
    assert!(body["as_of"].as_str().unwrap().ends_with("+08:00"));
    assert_eq!(body["next"], Value::Null, "one page holds them all");

    // The default order: nearest deadline first, worked out here from each order's
    // received instant and the catalog (never read back from the engine): not accepted
    // yet, the sign deadline (or the committed one if earlier); accepted, the committed
    // deadline; no running clock, last; ties by order number.
    let mut expected: Vec<(Option<DateTime<Utc>>, String)> = Vec::new();
    for s in &specs {
        let (sign, committed) = expected_deadlines(s, received(base, s));
        let key = match s.state() {
            "dispatched" => Some(sign.min(committed)),
            "accepted" => Some(committed),
            _ => None,
        };
        assert_eq!(parse_time(&rows[s.no]["next_due_at"]), key, "{}", s.no);
        expected.push((key, s.no.to_owned()));
    }
    // None sorts last.
    expected.sort_by(|a, b| match (a.0, b.0) {
        (Some(x), Some(y)) => x.cmp(&y).then(a.1.cmp(&b.1)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.1.cmp(&b.1),
    });
    let expected: Vec<String> = expected.into_iter().map(|(_, no)| no).collect();
    assert_eq!(api.page("limit=500", SUPERVISOR).await, expected);
    assert_eq!(
        api.page("limit=500&sort=next_due", SUPERVISOR).await,
        expected
    );
    // Page by page, the same order.
    assert_eq!(api.all("limit=4", SUPERVISOR).await, expected);

    // Newest first.
    let mut newest: Vec<&Spec> = specs.iter().collect();
    newest.sort_by(|a, b| {
        received(base, b)
            .cmp(&received(base, a))
            .then(b.no.cmp(a.no))
    });
    let newest: Vec<String> = newest.iter().map(|s| s.no.to_owned()).collect();
    assert_eq!(
        api.page("limit=500&sort=received", SUPERVISOR).await,
        newest
    );
    assert_eq!(api.all("limit=3&sort=received", SUPERVISOR).await, newest);

    // A limit cuts the page and hands a cursor on.
    let body = api.list("limit=2", SUPERVISOR).await;
    assert_eq!(numbers(&body), expected[..2]);
    assert_eq!(body["limit"], 2);
    assert!(body["next"].is_string());

    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_neither_repeat_nor_skip_orders_while_new_ones_arrive() {
    let env = TestEnv::new().await;
    let engine = start(&env).await;
    let api = Client::new(&engine);
    let base = base_instant();
    let specs = fixture();
    build(&api, &specs, base).await;
    let existing = set(specs.iter().map(|s| s.no));

    for sort in ["next_due", "received"] {
        let query = format!("sort={sort}&limit=3");
        let mut seen: Vec<String> = Vec::new();
        let mut body = api.list(&query, SUPERVISOR).await;
        let as_of = body["as_of"].clone();
        let mut inserted = 0;
        loop {
            seen.extend(numbers(&body));
            // Between two pages, new orders arrive: deadlines before and after the
            // cursor, received before and after it.
            for minutes_ago in [0, 160] {
                inserted += 1;
                let no = format!("NEW-{sort}-{inserted:03}");
                let mut event = complaint(&no, "PQ-0001", Some("金井"), "新来的占道投诉");
                event["occurred_at"] =
                    json!(business(Utc::now() - TimeDelta::minutes(minutes_ago)));
                api.post(OPERATOR, &event).await;
            }
            let Some(next) = body["next"].as_str() else {
                break;
            };
            body = api.list(&format!("{query}&next={next}"), SUPERVISOR).await;
            assert_eq!(
                body["as_of"], as_of,
                "every page is judged at the first one's instant"
            );
        }
        let distinct = set(seen.clone());
        assert_eq!(
            distinct.len(),
            seen.len(),
            "{sort}: an order came twice: {seen:?}"
        );
        let missing: Vec<&String> = existing.difference(&distinct).collect();
        assert!(missing.is_empty(), "{sort}: skipped {missing:?}");
        assert!(inserted >= 6, "orders arrived between the pages");
    }

    // A cursor belongs to its list: other filters, another sort, or a forged one: 400.
    let body = api.list("department=SCJGJ&limit=1", SUPERVISOR).await;
    let next = body["next"].as_str().expect("a next page").to_owned();
    assert_eq!(
        api.page(&format!("department=SCJGJ&limit=1&next={next}"), SUPERVISOR)
            .await
            .len(),
        1
    );
    for query in [
        format!("department=YSBZX&limit=1&next={next}"),
        format!("limit=1&next={next}"),
        format!("department=SCJGJ&state=accepted&next={next}"),
        format!("department=SCJGJ&sort=received&next={next}"),
        format!("department=SCJGJ&next={}", tampered(&next)),
        "next=eyJ2IjoxfQ".to_owned(),
    ] {
        let (status, body) = api.get(&format!("/api/orders?{query}"), SUPERVISOR).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["error"], "bad_request");
        assert!(body["message"].as_str().unwrap().contains("next"), "{body}");
    }
    // A handler's list is what its department holds and co-handles (协办): its cursor
    // serves that list only, not the held half alone nor anyone else's.
    let body = api.list("limit=1", HANDLER_SC).await;
    let next = body["next"].as_str().unwrap().to_owned();
    for (query, token) in [
        (format!("limit=1&next={next}"), SUPERVISOR),
        (format!("limit=1&department=SCJGJ&next={next}"), HANDLER_SC),
    ] {
        let (status, _) = api.get(&format!("/api/orders?{query}"), token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
    }
    let (status, _) = api
        .get(&format!("/api/orders?limit=1&next={next}"), HANDLER_SC)
        .await;
    assert_eq!(status, StatusCode::OK);
    // The held half, named, is the same list as a supervisor's of the department.
    let body = api.list("limit=1&department=SCJGJ", HANDLER_SC).await;
    let next = body["next"].as_str().unwrap().to_owned();
    let (status, _) = api
        .get(
            &format!("/api/orders?limit=1&department=SCJGJ&next={next}"),
            SUPERVISOR,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "the same list, named");

    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_citizen_is_masked_by_role_and_a_confidential_case_is_the_holders_alone() {
    let env = TestEnv::new().await;
    let engine = start(&env).await;
    let api = Client::new(&engine);
    let base = base_instant();
    let mut open = spec(
        "PLAIN01",
        "SC-0101",
        None,
        5,
        "normal",
        "超市销售过期食品",
        Then::Nothing,
        "on_track",
    );
    let mut secret = open.clone();
    secret.no = "SECRET01";
    secret.confidential = true;
    open.confidential = false;
    build(&api, &[open, secret], base).await;

    // The task still carries the confidential case's citizen to the holding department.
    wait_for("both tasks", Duration::from_secs(30), || async {
        env.queue_len("hotline.tasks.SCJGJ").await == 2
    })
    .await;
    for task in env.drain("hotline.tasks.SCJGJ").await {
        let task: Value = serde_json::from_slice(&task.delivery.data).unwrap();
        assert_eq!(
            task["citizen"],
            json!({"name": "张三丰", "phone": "13812345678"})
        );
    }

    let full = json!({"name": "张三丰", "phone": "13812345678", "masked": false});
    let masked = json!({"name": "张**", "phone": "138****5678", "masked": true});
    // (token, plain order, confidential order) on screen; None = not visible at all.
    let on_screen: [(&str, Option<&Value>, Option<&Value>); 4] = [
        (OPERATOR, Some(&full), Some(&masked)),
        (HANDLER_SC, Some(&full), Some(&full)),
        (HANDLER_YB, None, None),
        (SUPERVISOR, Some(&masked), Some(&masked)),
    ];
    for (token, plain, confidential) in on_screen {
        for (no, want) in [("PLAIN01", plain), ("SECRET01", confidential)] {
            let (status, order) = api.get(&format!("/api/orders/{no}"), token).await;
            match want {
                Some(want) => {
                    assert_eq!(status, StatusCode::OK, "{token} {no}");
                    assert_eq!(&order["citizen"], want, "{token} {no}: the order view");
                    assert_eq!(order["confidential"], no == "SECRET01");
                }
                None => assert_eq!(status, StatusCode::NOT_FOUND, "{token} {no}"),
            }
            let body = api.list("", token).await;
            let row = body["orders"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["order_no"] == no);
            match want {
                Some(want) => {
                    let row = row.unwrap_or_else(|| panic!("{token}: {no} not listed"));
                    assert_eq!(&row["citizen"], want, "{token} {no}: the list");
                    assert_eq!(row["confidential"], no == "SECRET01");
                }
                None => assert!(row.is_none(), "{token} sees {no}"),
            }
        }
    }

    // The export: a confidential case is always masked; the others by role.
    let csv_full = ("张三丰", "13812345678");
    let csv_masked = ("张**", "138****5678");
    let exported: [(&str, Shown, Shown); 4] = [
        (OPERATOR, Some(csv_full), Some(csv_masked)),
        (HANDLER_SC, Some(csv_full), Some(csv_masked)),
        (HANDLER_YB, None, None),
        (SUPERVISOR, Some(csv_masked), Some(csv_masked)),
    ];
    for (token, plain, confidential) in exported {
        let response = api.csv("", token).await;
        assert_eq!(response.status(), StatusCode::OK);
        let text = response.text().await.unwrap();
        let records = csv_records(&text);
        for (no, want) in [("PLAIN01", plain), ("SECRET01", confidential)] {
            let record = records.iter().find(|r| r[0] == no);
            match want {
                Some((name, phone)) => {
                    let record = record.unwrap_or_else(|| panic!("{token}: {no} not exported"));
                    assert_eq!(
                        (record[16].as_str(), record[17].as_str()),
                        (name, phone),
                        "{token} {no}"
                    );
                    assert_eq!(record[18], (no == "SECRET01").to_string());
                }
                None => assert!(record.is_none(), "{token} exports {no}"),
            }
        }
        if token == SUPERVISOR {
            assert!(!text.contains("13812345678"), "a full phone in the export");
        }
    }

    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

/// A name and phone as exported; `None`: not exported at all.
type Shown = Option<(&'static str, &'static str)>;

/// A cursor shifted by one character: nothing in it reads any more.
fn tampered(cursor: &str) -> String {
    format!("A{cursor}")
}

/// The data records of an export (after the BOM and the header).
fn csv_records(text: &str) -> Vec<Vec<String>> {
    let text = text.strip_prefix('\u{feff}').expect("a byte-order mark");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| r.expect("a CSV record").iter().map(str::to_owned).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_is_the_whole_filtered_list_as_a_spreadsheet_safe_csv() {
    let env = TestEnv::new().await;
    let engine = start(&env).await;
    let api = Client::new(&engine);
    let base = base_instant();
    let mut specs = fixture();
    // Cells a spreadsheet would evaluate, and cells that need quoting.
    specs.extend([
        spec(
            "OL101",
            "SC-0101",
            None,
            2,
            "normal",
            "=HYPERLINK(\"http://evil\",\"点我\")",
            Then::Nothing,
            "on_track",
        ),
        spec(
            "OL102",
            "SC-0101",
            None,
            2,
            "normal",
            "@SUM(A1:A9)",
            Then::Nothing,
            "on_track",
        ),
        spec(
            "OL103",
            "SC-0101",
            None,
            2,
            "normal",
            "-1+2 过期",
            Then::Nothing,
            "on_track",
        ),
        spec(
            "OL104",
            "SC-0101",
            None,
            2,
            "normal",
            "+1 过期",
            Then::Nothing,
            "on_track",
        ),
        spec(
            "OL105",
            "SC-0101",
            None,
            2,
            "normal",
            "逗号,和\"引号\"\n还有换行",
            Then::Nothing,
            "on_track",
        ),
    ]);
    build(&api, &specs, base).await;

    let response = api.csv("", OPERATOR).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    let day = chrono::DateTime::parse_from_rfc3339(&business(Utc::now()))
        .unwrap()
        .date_naive();
    let yesterday = day.pred_opt().unwrap();
    assert!(
        [day, yesterday]
            .iter()
            .any(|d| disposition == format!("attachment; filename=\"orders-{d}.csv\"")),
        "{disposition}"
    );
    let bytes = response.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with a BOM");
    let text = std::str::from_utf8(&bytes).unwrap();
    let header = text[3..].split("\r\n").next().unwrap();
    assert_eq!(
        header,
        "工单编号,诉求类型,渠道,标题,承办单位,状态,时限状态,紧急程度,事项编码,事项名称,区域,受理时间,下一时限,签收时限,承诺时限,法定时限,市民姓名,联系电话,保密件,协办单位,本单位角色"
    );
    let records = csv_records(text);
    assert_eq!(records.len(), specs.len());
    assert!(records.iter().all(|r| r.len() == 21));
    // In the list's default order.
    let listed = api.page("limit=500", OPERATOR).await;
    let exported: Vec<String> = records.iter().map(|r| r[0].clone()).collect();
    assert_eq!(exported, listed);
    let by_no: HashMap<&str, &Vec<String>> = records.iter().map(|r| (r[0].as_str(), r)).collect();
    let cases = [
        ("OL101", "'=HYPERLINK(\"http://evil\",\"点我\")"),
        ("OL102", "'@SUM(A1:A9)"),
        ("OL103", "'-1+2 过期"),
        ("OL104", "'+1 过期"),
        ("OL105", "逗号,和\"引号\"\n还有换行"),
        ("OL001", "超市销售过期食品"),
    ];
    for (no, title) in cases {
        assert_eq!(by_no[no][3], title, "{no}");
    }
    assert!(
        text.contains("\"逗号,和\"\"引号\"\"\n还有换行\""),
        "RFC 4180 quoting"
    );
    let ol007 = by_no["OL007"];
    assert_eq!(
        &ol007[..12],
        &[
            "OL007",
            "complaint",
            "phone",
            "商贩占道经营 早市",
            "JJPQ",
            "dispatched",
            "overdue",
            "normal",
            "PQ-0001",
            "占道经营",
            "金井",
            &business(received(base, &specs[6])),
        ]
    );
    assert_eq!(
        by_no["OL015"][12], "",
        "a closed order has no next deadline"
    );

    // The same filters as the list; the export has no pages.
    for query in [
        "department=SCJGJ".to_owned(),
        "sla_state=overdue,statutory_overdue".to_owned(),
        format!("q={}&sort=received", enc("过期")),
    ] {
        let response = api.csv(&query, SUPERVISOR).await;
        assert_eq!(response.status(), StatusCode::OK, "{query}");
        let exported: Vec<String> = csv_records(&response.text().await.unwrap())
            .into_iter()
            .map(|r| r[0].clone())
            .collect();
        assert_eq!(
            exported,
            api.all(&format!("{query}&limit=3"), SUPERVISOR).await,
            "{query}"
        );
    }
    let handler = csv_records(&api.csv("", HANDLER_SC).await.text().await.unwrap());
    assert!(
        handler.iter().all(|r| r[4] == "SCJGJ"),
        "a handler exports its own orders"
    );
    assert_eq!(
        set(handler.iter().map(|r| r[0].as_str())),
        set(specs
            .iter()
            .filter(|s| s.department() == "SCJGJ")
            .map(|s| s.no)),
        "all of them, and once each"
    );
    assert_eq!(
        handler.len(),
        set(handler.iter().map(|r| r[0].as_str())).len()
    );
    for (query, token, status) in [
        ("limit=10", OPERATOR, StatusCode::BAD_REQUEST),
        ("next=abc", OPERATOR, StatusCode::BAD_REQUEST),
        ("state=open", OPERATOR, StatusCode::BAD_REQUEST),
        ("department=YSBZX", HANDLER_SC, StatusCode::FORBIDDEN),
    ] {
        let response = api.csv(query, token).await;
        assert_eq!(response.status(), status, "{query}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"].is_string() && body["message"].is_string(),
            "{body}"
        );
    }
    let response = reqwest::get(format!("{}/api/orders.csv", engine.base))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_lists_its_own_department_and_bad_requests_are_400() {
    let env = TestEnv::new().await;
    let engine = start(&env).await;
    let api = Client::new(&engine);
    let specs = fixture();
    build(&api, &specs, base_instant()).await;

    for department in ["SCJGJ", "ZFYJJ", "JJPQ"] {
        let want = set(specs
            .iter()
            .filter(|s| s.department() == department)
            .map(|s| s.no));
        let token = handler_of(department);
        assert_eq!(set(api.all("limit=2", token).await), want, "{department}");
        assert_eq!(
            set(api.page(&format!("department={department}"), token).await),
            want
        );
        let (status, body) = api.get("/api/orders?department=YSBZX", token).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"], "forbidden");
    }
    // Nothing of another department leaks through a filter either.
    let found = api.page("sla_state=statutory_overdue", HANDLER_SC).await;
    assert!(found.is_empty(), "{found:?}");

    for query in [
        "state=open",
        "state=accepted,nope",
        "sla_state=late",
        "urgency=high",
        "received_from=2026-11-25",
        "received_to=yesterday",
        "received_from=2026-11-26T00:00:00%2B08:00&received_to=2026-11-25T00:00:00%2B08:00",
        "limit=0",
        "limit=many",
        "sort=oldest",
        "next=not-a-cursor",
        "departmnet=SCJGJ",
        "department=SCJGJ&department=YSBZX",
        "q=a%20b%20c%20d%20e%20f%20g%20h%20i",
    ] {
        let (status, body) = api.get(&format!("/api/orders?{query}"), OPERATOR).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["error"], "bad_request", "{query}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{query}"
        );
    }
    let (status, body) = api.get("/api/orders?limit=100000", OPERATOR).await;
    assert_eq!(status, StatusCode::OK, "a large limit is taken: {body}");
    let response = reqwest::get(format!("{}/api/orders", engine.base))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_reads_past_one_query_of_orders_without_a_gap_or_a_repeat() {
    let env = TestEnv::new().await;
    let engine = start(&env).await;
    let api = Client::new(&engine);
    // More than two of the export's 500-row queries, received over the last hours, so that
    // their sort keys differ and tie too (the same minute: then by order number).
    let count = 1_234;
    let events: Vec<Value> = (0..count)
        .map(|i| {
            let no = format!("BULK{i:05}");
            let mut event = complaint(&no, "PQ-0001", Some("海坛"), "占道经营");
            event["occurred_at"] = json!(business(base_instant() - TimeDelta::minutes(i % 200)));
            event
        })
        .collect();
    crate::support::handle(&env, &events).await;

    let response = api.csv("", SUPERVISOR).await;
    assert_eq!(response.status(), StatusCode::OK);
    let exported: Vec<String> = csv_records(&response.text().await.unwrap())
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(exported.len(), count as usize);
    assert_eq!(
        set(exported.clone()).len(),
        count as usize,
        "no order twice"
    );
    assert_eq!(
        exported,
        api.all("limit=500", SUPERVISOR).await,
        "the list's order"
    );
    let newest: Vec<String> = csv_records(
        &api.csv("sort=received", SUPERVISOR)
            .await
            .text()
            .await
            .unwrap(),
    )
    .into_iter()
    .map(|r| r[0].clone())
    .collect();
    assert_eq!(newest, api.all("limit=500&sort=received", SUPERVISOR).await);

    // A limit past the maximum is capped at 500 (http-api.md), not refused and not obeyed:
    // the first 500 of the list, and a cursor to the rest.
    let capped = api.list("limit=100000", SUPERVISOR).await;
    assert_eq!(numbers(&capped), exported[..500], "the first 500");
    assert!(
        capped["next"].is_string(),
        "more follow: {}",
        capped["next"]
    );
    let page = api.list("limit=1", SUPERVISOR).await;
    assert_eq!(numbers(&page), exported[..1], "a small limit is obeyed");

    assert!(engine.terminate().await.success());
    env.cleanup().await;
}
