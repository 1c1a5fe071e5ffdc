//! The pages in a real headless Chromium, driven through chromedriver (WebDriver): each
//! role signs in and works in its page against a running engine. Screenshots of every
//! page are kept in `target/screenshots/` (the test's artifacts).

use crate::support::{EngineProcess, TestEnv, complaint, event, wait_for};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A chromedriver of its own (it picks a free port and says which), and one browser.
pub struct Browser {
    pub client: Client,
    _driver: Child,
    base: String,
}

impl Browser {
    pub async fn open(engine: &EngineProcess) -> Browser {
        let mut driver = Command::new("/usr/bin/chromedriver")
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver (Debian's chromium-driver) is installed");
        let mut lines = BufReader::new(driver.stdout.take().unwrap()).lines();
        let port = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(rest) = line.split("started successfully on port ").nth(1) {
                    return rest.trim_end_matches('.').parse::<u16>().unwrap();
                }
            }
            panic!("chromedriver ended before saying its port");
        })
        .await
        .expect("chromedriver started");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--no-first-run", "--window-size=1366,768", "--lang=zh-CN",
                ],
            },
            // A page that does not load (or a click whose navigation waits) within this
            // fails the step that caused it, never a minute later somewhere else.
            "timeouts": { "pageLoad": 15_000 },
        });
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities.as_object().unwrap().clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        Browser {
            client,
            _driver: driver,
            base: engine.base.clone(),
        }
    }

    pub async fn go(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// The text of `css`, once the page has it (a form's answer may still be loading; an
    /// element of the page being left is looked up again on the new one).
    pub async fn text(&self, css: &str) -> String {
        let started = std::time::Instant::now();
        loop {
            let found = self
                .client
                .wait()
                .at_most(Duration::from_secs(15))
                .for_element(Locator::Css(css))
                .await;
            match found {
                Ok(element) => match element.text().await {
                    Ok(text) => return text,
                    Err(e) if started.elapsed() < Duration::from_secs(15) => {
                        let _ = e;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => panic!("{css}: {e}"),
                },
                Err(e) => panic!("{css}: {e}"),
            }
        }
    }

    /// Waits until `css` reads `expected` (the answer of a form just sent).
    pub async fn expect_text(&self, css: &str, expected: &str) {
        let started = std::time::Instant::now();
        loop {
            let now = self.text(css).await;
            if now == expected {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "{css} reads {now:?}, expected {expected:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn texts(&self, css: &str) -> Vec<String> {
        let mut texts = Vec::new();
        for element in self.client.find_all(Locator::Css(css)).await.unwrap() {
            texts.push(element.text().await.unwrap());
        }
        texts
    }

    /// Waits for the browser to arrive at `path` (after a click that navigates).
    pub async fn wait_path(&self, path: &str) {
        let started = std::time::Instant::now();
        loop {
            let now = self.path().await;
            if now == path {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "at {now}, expected {path}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for the browser to leave `path` (after a click to a page whose address the
    /// test cannot know whole, such as one with a cursor): the path it arrived at.
    pub async fn wait_path_leaving(&self, path: &str) -> String {
        let started = std::time::Instant::now();
        loop {
            let now = self.path().await;
            if now != path {
                return now;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "still at {now}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn exists(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .unwrap()
            .is_empty()
    }

    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    pub async fn select(&self, css: &str, value: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .select_by_value(value)
            .await
            .unwrap();
    }

    /// Clicks `css`, which asks for a confirmation first, and confirms.
    pub async fn click_and_confirm(&self, css: &str) {
        self.click(css).await;
        self.client
            .accept_alert()
            .await
            .expect("a confirmation was asked");
    }

    /// Clicks, and accepts the confirmation after checking what it asks.
    pub async fn click_and_confirm_saying(&self, css: &str, question: &str) {
        self.click(css).await;
        let asked = self
            .client
            .get_alert_text()
            .await
            .expect("a confirmation was asked");
        assert_eq!(asked, question);
        self.client.accept_alert().await.unwrap();
    }

    pub async fn sign_in(&self, token: &str) {
        self.go("/signin").await;
        self.fill("#token", token).await;
        self.click("button[type=submit]").await;
    }

    pub async fn sign_out(&self) {
        self.click("header form[action='/signout'] button").await;
        self.wait_path("/signin").await;
    }

    /// Saves screenshots of the page as `target/screenshots/<name>.png` (1366 px wide, as
    /// the test runs), `<name>-390.png` (a phone) and `<name>-1920.png`, for a person to
    /// look at; the window is back at 1366 × 768 after.
    pub async fn screenshot(&self, name: &str) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        for (width, file) in [
            (390, format!("{name}-390.png")),
            (1920, format!("{name}-1920.png")),
            (1366, format!("{name}.png")),
        ] {
            self.client.set_window_size(width, 768).await.unwrap();
            let png = self.client.screenshot().await.unwrap();
            std::fs::write(dir.join(file), png).unwrap();
            self.assert_nothing_cut(&format!("{name} at {width} px"))
                .await;
        }
    }

    /// Nothing a person must read whole is cut at this width, measured from the DOM: no
    /// table cell, definition or badge whose content is wider than its box (only what is
    /// marked `.short`, a title or a name with its whole text in the tooltip, may be), and
    /// the page never scrolls sideways (a wide table scrolls in its own box).
    pub async fn assert_nothing_cut(&self, what: &str) {
        let cut = self
            .client
            .execute(
                "const cut = [];
                 const page = document.documentElement;
                 if (page.scrollWidth > window.innerWidth + 1) {
                     cut.push(`the page: ${page.scrollWidth} px wide in ${window.innerWidth}`);
                 }
                 for (const el of document.querySelectorAll(
                     'td, th, dd, .registered strong, .urge-badge, .co-progress')) {
                     if (el.closest('.short') || el.offsetParent === null) continue;
                     if (el.scrollWidth > el.clientWidth + 1) {
                         cut.push(`${el.tagName.toLowerCase()} '${el.textContent.trim().slice(0, 40)}': ${el.scrollWidth} > ${el.clientWidth}`);
                     }
                 }
                 return cut;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(cut, json!([]), "cut on {what}");
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

pub(crate) async fn create_token(
    env: &TestEnv,
    name: &str,
    role: &str,
    department: Option<&str>,
) -> String {
    let mut args = vec!["token", "create", "--name", name, "--role", role];
    if let Some(department) = department {
        args.extend(["--department", department]);
    }
    env.run_cli(&args).await.trim().to_owned()
}

/// A complaint received `ago` before now.
pub(crate) fn received(
    order_no: &str,
    category: &str,
    title: &str,
    ago: chrono::TimeDelta,
) -> Value {
    let mut case = complaint(order_no, category, None, title);
    case["occurred_at"] = json!(hotline_core::calendar::business_time(
        chrono::Utc::now() - ago
    ));
    case
}

async fn board_cell(browser: &Browser, department: &str, column: usize) -> i64 {
    let cells = browser
        .texts(&format!(
            "#open-counts tr[data-department='{department}'] td"
        ))
        .await;
    // An absent row or cell, or one that is not a count, fails: it must not read as 0.
    let cell = cells
        .get(column)
        .unwrap_or_else(|| panic!("no cell {column} in {department}'s row: {cells:?}"));
    cell.trim()
        .parse()
        .unwrap_or_else(|_| panic!("cell {column} of {department} is not a count: {cell:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_works_in_its_page_in_chromium() {
    let env = TestEnv::new().await;
    let engine = env.start_engine().await;
    let supervisor = create_token(&env, "supervision-1", "supervisor", None).await;
    let handler = create_token(&env, "scjgj-desk-1", "handler", Some("SCJGJ")).await;
    let operator = create_token(&env, "call-centre-1", "operator", None).await;

    // Seed: three fresh SCJGJ cases, two long overdue ones, one for YSBZX.
    let mut cases = vec![
        received(
            "PT-P-1",
            "SC-0101",
            "餐馆卖变质食品",
            chrono::TimeDelta::minutes(5),
        ),
        received(
            "PT-P-2",
            "SC-0101",
            "超市销售过期牛奶,顾客多次反映仍未整改,请尽快核查处理并回复市民,这是一个很长很长的标题用来检查布局不会被撑破",
            chrono::TimeDelta::minutes(4),
        ),
        received(
            "PT-P-3",
            "SC-0101",
            "路边摊卫生差",
            chrono::TimeDelta::minutes(3),
        ),
        received("PT-P-4", "SC-0101", "变质熟食", chrono::TimeDelta::days(40)),
        received("PT-P-5", "SC-0101", "过期糕点", chrono::TimeDelta::days(40)),
    ];
    cases.push(received(
        "PT-P-6",
        "YB-0201",
        "医保报销",
        chrono::TimeDelta::minutes(2),
    ));
    // No matter, no keyword: the manual-dispatch desk.
    cases.push(received(
        "PT-P-8",
        "其他",
        "情况说明",
        chrono::TimeDelta::minutes(1),
    ));
    env.publish(&cases).await;
    wait_for("seven orders", Duration::from_secs(60), || async {
        env.count("SELECT count(*) FROM orders").await == 7
    })
    .await;
    let holders: Vec<(String, String)> =
        sqlx::query_as("SELECT order_no, department FROM orders ORDER BY order_no")
            .fetch_all(&env.pool)
            .await
            .unwrap();
    assert_eq!(holders[0], ("PT-P-1".to_owned(), "SCJGJ".to_owned()));
    assert_eq!(holders[5].1, "YSBZX");

    let browser = Browser::open(&engine).await;
    // Signed out: every page sends to the sign-in form, which refuses a bad token.
    browser.go("/board").await;
    browser.wait_path("/signin?next=/board").await;
    browser.sign_in("hl_not-a-token").await;
    assert!(browser.text("#problem").await.contains("令牌无效"));

    // PT-P-3 is accepted and an extension asked, over the API, by the department's system.
    let http = reqwest::Client::new();
    for e in [
        event(
            "order.accepted",
            "PT-P-3",
            chrono::TimeDelta::zero(),
            json!({"department": "SCJGJ"}),
        ),
        event(
            "order.extension_requested",
            "PT-P-3",
            chrono::TimeDelta::zero(),
            json!({"department": "SCJGJ", "extra_working_days": 3, "reason": "需现场检测"}),
        ),
    ] {
        let answer = http
            .post(format!("{}/api/events", engine.base))
            .bearer_auth(&handler)
            .json(&e)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), reqwest::StatusCode::ACCEPTED);
    }

    // The supervisor's board: counts per department (columns: department, dispatched,
    // accepted, suspended, replied, on track, warning, overdue, statutory, paused, total).
    browser.sign_in(&supervisor).await;
    browser.wait_path("/board").await;
    // Today's alerts so far are listed from the start, not only those after the board
    // opened: the long-overdue PT-P-4 alerted when it came in.
    assert!(
        browser
            .exists("#live-alerts li[data-order-no='PT-P-4']")
            .await
    );
    // The place the live stream resumes from is one the API takes back (its documented
    // pattern: 1-18 digits, a dash, 1-18 digits).
    let after = browser
        .client
        .execute(
            "return document.getElementById('live-alerts').dataset.after",
            vec![],
        )
        .await
        .unwrap();
    let after = after.as_str().unwrap_or_default();
    let digits =
        |part: &str| (1..=18).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit());
    assert!(
        after
            .split_once('-')
            .is_some_and(|(x, s)| digits(x) && digits(s)),
        "{after:?}"
    );
    let listed = browser.texts("#live-alerts li[data-alert-id]").await.len();
    assert_eq!(
        browser.text("#live-count").await,
        listed.to_string(),
        "the count is the list's"
    );
    assert_eq!(
        listed as i64,
        env.count("SELECT count(*) FROM alerts").await.min(50),
        "every alert of today, once"
    );
    assert_eq!(board_cell(&browser, "SCJGJ", 1).await, 4, "SCJGJ to accept");
    assert_eq!(
        board_cell(&browser, "SCJGJ", 2).await,
        1,
        "SCJGJ in progress"
    );
    assert_eq!(board_cell(&browser, "SCJGJ", 5).await, 3, "SCJGJ on track");
    assert_eq!(
        board_cell(&browser, "SCJGJ", 8).await,
        2,
        "SCJGJ statutory overdue"
    );
    assert_eq!(board_cell(&browser, "SCJGJ", 10).await, 5, "SCJGJ total");
    assert_eq!(board_cell(&browser, "YSBZX", 10).await, 1, "YSBZX total");
    let warned = browser.texts("#warned tbody tr td.no").await;
    assert_eq!(warned, ["PT-P-4", "PT-P-5"]);
    assert!(browser.text("#warned tbody tr").await.contains("超时"));
    // Today's cases by hour: those received since midnight in Shanghai (not the back-dated).
    let today: Vec<String> = sqlx::query_scalar(
        "SELECT order_no FROM orders
         WHERE received_at >= (date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai')
         ORDER BY 1",
    )
    .fetch_all(&env.pool)
    .await
    .unwrap();
    assert_eq!(
        browser.text("#today-total").await,
        today.len().to_string(),
        "{today:?}"
    );
    let heat = browser.text("#heat").await;
    assert!(heat.contains("食品安全"), "{heat}");
    browser.screenshot("board").await;

    // Decide the extension from the board, the department's reason in front of the
    // supervisor: approved, the deadline moves by 3 working days.
    assert_eq!(
        browser
            .text("#extensions li[data-order-no='PT-P-3'] .reason")
            .await,
        "理由:需现场检测"
    );
    let before: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT committed_due_at FROM orders WHERE order_no = 'PT-P-3'")
            .fetch_one(&env.pool)
            .await
            .unwrap();
    browser
        .click_and_confirm("#extensions li[data-order-no='PT-P-3'] button[value=yes]")
        .await;
    browser.expect_text("#notice", "延期审核结果已提交。").await;
    let (after, granted): (chrono::DateTime<chrono::Utc>, i32) = sqlx::query_as(
        "SELECT committed_due_at, extension_days FROM orders WHERE order_no = 'PT-P-3'",
    )
    .fetch_one(&env.pool)
    .await
    .unwrap();
    assert_eq!(granted, 3);
    assert_eq!(
        after,
        crate::reference::working_days_after(before, 3),
        "3 working days after {before}"
    );
    // Suspend from the board, then resume: the order leaves and rejoins the warned list.
    browser
        .click_and_confirm("#warned tr[data-order-no='PT-P-5'] button.suspend")
        .await;
    browser.expect_text("#notice", "已挂起,计时暂停。").await;
    assert!(
        browser
            .exists("#suspended li[data-order-no='PT-P-5']")
            .await
    );
    assert!(!browser.exists("#warned tr[data-order-no='PT-P-5']").await);
    browser
        .click_and_confirm("#suspended li[data-order-no='PT-P-5'] button.resume")
        .await;
    browser.expect_text("#notice", "已恢复,计时继续。").await;
    assert!(browser.exists("#warned tr[data-order-no='PT-P-5']").await);
    // A confirmation declined does nothing.
    browser
        .click("#warned tr[data-order-no='PT-P-5'] button.suspend")
        .await;
    browser.client.dismiss_alert().await.unwrap();
    assert_eq!(
        env.count("SELECT count(*) FROM order_events WHERE event_type = 'order.suspended'")
            .await,
        1
    );

    // A new alert appears without a reload.
    assert!(
        !browser
            .exists("#live-alerts li[data-order-no='PT-P-7']")
            .await
    );
    env.publish(&[received(
        "PT-P-7",
        "SC-0101",
        "变质海鲜",
        chrono::TimeDelta::days(40),
    )])
    .await;
    wait_for(
        "the new alert on the board",
        Duration::from_secs(30),
        || async {
            browser
                .exists("#live-alerts li[data-order-no='PT-P-7']")
                .await
        },
    )
    .await;
    browser.screenshot("board-live-alert").await;

    // Urge from the board, with a confirmation: recorded as the supervisor's.
    browser
        .click_and_confirm("#warned tr[data-order-no='PT-P-4'] button.urge")
        .await;
    browser.expect_text("#notice", "已催办。").await;
    let urged: Option<String> = sqlx::query_scalar(
        "SELECT actor FROM order_events WHERE order_no = 'PT-P-4' AND event_type = 'order.urged'",
    )
    .fetch_one(&env.pool)
    .await
    .unwrap();
    assert_eq!(urged.as_deref(), Some("supervision-1"));
    // A supervisor sees the citizen masked.
    browser.go("/orders/PT-P-4").await;
    assert_eq!(browser.text("#citizen").await, "测*** 139****0000(已脱敏)");
    // The timeline in words, the urge's level among them, no event name of the wire.
    let timeline = browser.text("#timeline").await;
    assert!(timeline.contains("受理登记"), "{timeline}");
    assert!(
        ["催办", "督办", "挂牌督办"]
            .iter()
            .any(|level| timeline.contains(level)),
        "{timeline}"
    );
    assert!(
        !timeline.contains("order.") && !timeline.contains("complaint.") && !timeline.contains('_'),
        "{timeline}"
    );
    browser.go("/board").await;
    browser.sign_out().await;

    // The handler's workbench: accept, then reply.
    browser.sign_in(&handler).await;
    browser.wait_path("/desk").await;
    let to_accept = browser.texts("#desk-orders tbody tr td.no").await;
    assert_eq!(to_accept.len(), 5, "{to_accept:?}");
    browser.click("#tab-extension").await;
    browser.wait_path("/desk?tab=extension").await;
    assert_eq!(
        browser.texts("#desk-orders tbody tr td.no").await,
        Vec::<String>::new(),
        "decided already"
    );
    browser.click("#tab-in_progress").await;
    browser.wait_path("/desk?tab=in_progress").await;
    assert_eq!(
        browser.texts("#desk-orders tbody tr td.no").await,
        ["PT-P-3"]
    );
    assert!(
        !to_accept.contains(&"PT-P-6".to_owned()),
        "another department's order"
    );
    browser.screenshot("desk").await;
    browser.go("/desk/orders/PT-P-1").await;
    assert_eq!(
        browser.text("#citizen").await,
        "测试市民 13900000000",
        "the holder sees the citizen"
    );
    assert!(
        browser
            .text("#why")
            .await
            .contains("承诺办结时限为法定时限的 50%")
    );
    browser.screenshot("desk-order").await;
    browser.click("#accept").await;
    browser.expect_text("#notice", "已签收。").await;
    browser
        .fill("#reply-text", "已责令商家下架变质食品并处罚。")
        .await;
    browser.click("#reply").await;
    browser.wait_path("/desk?done=replied").await;
    browser.go("/desk?tab=replied").await;
    assert_eq!(
        browser.texts("#desk-orders tbody tr td.no").await,
        ["PT-P-1"]
    );
    // A refusal in plain words: returning without a reason is refused on the page.
    browser.go("/desk/orders/PT-P-3").await;
    let timeline = browser.text("#timeline").await;
    assert!(
        timeline.contains("延期审核"),
        "the decision in words: {timeline}"
    );
    assert!(timeline.contains("同意延期"), "{timeline}");
    browser
        .client
        .execute(
            "document.getElementById('return-reason').removeAttribute('required')",
            vec![],
        )
        .await
        .unwrap();
    browser.click_and_confirm("#return").await;
    // The server's fault beside the field.
    browser.expect_text("#return-fault", "请填写理由。").await;
    // Another department's order is not shown.
    browser.go("/desk/orders/PT-P-6").await;
    assert!(browser.text("#problem").await.contains("不由本单位办理"));
    browser.sign_out().await;

    // The board's counts changed: one SCJGJ order fewer to accept, one replied.
    browser.sign_in(&supervisor).await;
    browser.wait_path("/board").await;
    assert_eq!(
        board_cell(&browser, "SCJGJ", 1).await,
        4,
        "one fewer to accept"
    );
    assert_eq!(board_cell(&browser, "SCJGJ", 4).await, 1, "SCJGJ replied");
    browser.sign_out().await;

    // The operator registers a complaint after seeing the preview.
    browser.sign_in(&operator).await;
    browser.wait_path("/intake").await;
    // The number is taken when the case is registered: drawing the form takes none.
    assert_eq!(browser.text("#order-no").await, "登记时生成");
    let numbers_taken = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM desk_order_numbers",
        )
        .fetch_one(&env.pool)
        .await
        .unwrap()
    };
    let before_views = numbers_taken().await;
    browser.go("/intake").await;
    browser.go("/intake").await;
    assert_eq!(
        numbers_taken().await,
        before_views,
        "page views take no number"
    );
    browser.fill("#matter-search", "过期").await;
    let shown = browser
        .client
        .execute(
            "return [...document.querySelectorAll('#category option')].filter(o => !o.hidden).map(o => o.value)",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        shown,
        json!(["其他", "SC-0101"]),
        "the search matches keywords"
    );
    let chosen = || async {
        browser
            .client
            .execute("return document.getElementById('category').value", vec![])
            .await
            .unwrap()
    };
    assert_eq!(chosen().await, json!("SC-0101"), "one match: chosen");
    // Several matches: the operator chooses, and a choice the search hides is undone.
    browser.fill("#matter-search", "0001").await;
    assert_eq!(
        chosen().await,
        json!("其他"),
        "several matches: none chosen for them"
    );
    browser.select("#category", "其他").await;
    browser.fill("#title", "营业执照过期仍在经营").await;
    browser
        .fill("#content", "市民反映某店营业执照已过期。")
        .await;
    browser.fill("#citizen-phone", "13812345678").await;
    browser.click("#preview-button").await;
    assert_eq!(browser.text("#preview-rule").await, "keyword:过期→SC-0101");
    assert!(browser.text("#preview-department").await.contains("SCJGJ"));
    assert_eq!(
        env.count_where(
            "SELECT count(*) FROM orders WHERE title = $1",
            "营业执照过期仍在经营"
        )
        .await,
        0,
        "a preview registers nothing"
    );
    assert_eq!(numbers_taken().await, before_views, "nor takes a number");
    browser.screenshot("intake-preview").await;
    browser.click("#register-button").await;
    browser.expect_text("#notice", "诉求已登记并派单。").await;
    // The number to read to the citizen, large, with a copy button.
    let order_no = browser.text("#registered-no").await;
    assert!(order_no.starts_with("PT"), "{order_no}");
    assert_eq!(
        numbers_taken().await,
        before_views + 1,
        "one number, one case"
    );
    assert!(browser.exists("#copy-registered").await);
    browser.screenshot("intake-registered").await;
    assert_eq!(
        browser.text("#order-no").await,
        "登记时生成",
        "the next form's"
    );
    // The server judges what the browser let through: with the form's limits taken off,
    // a 10,000-character title, a blank content and a phone that is not one are each
    // refused beside their field, in Chinese, the form kept as typed and nothing taken.
    let rejected_before = env.count("SELECT count(*) FROM rejected_events").await;
    browser
        .client
        .execute(
            "for (const e of document.querySelectorAll('#complaint [maxlength], #complaint [required]')) {
                 e.removeAttribute('maxlength'); e.removeAttribute('required'); }
             document.getElementById('title').value = '很'.repeat(10000);
             document.getElementById('content').value = '   ';
             document.getElementById('citizen-phone').value = 'abc-not-a-phone!!';",
            vec![],
        )
        .await
        .unwrap();
    browser.click("#register-button").await;
    browser
        .expect_text("#title-fault", "标题最多 200 个字,请精简。")
        .await;
    assert_eq!(browser.text("#content-fault").await, "请填写诉求内容。");
    assert!(
        browser
            .text("#citizen-phone-fault")
            .await
            .starts_with("联系电话应为可拨打的号码"),
    );
    let kept = browser
        .client
        .execute(
            "return [document.getElementById('title').value.length,
                     document.getElementById('citizen-phone').value]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(kept, json!([10000, "abc-not-a-phone!!"]), "kept as typed");
    assert_eq!(numbers_taken().await, before_views + 1, "no number taken");
    assert_eq!(
        env.count("SELECT count(*) FROM rejected_events").await,
        rejected_before,
        "refused at the form: nothing submitted"
    );
    browser.screenshot("intake-faults").await;
    // Only an existing order's number is shown, never whatever the address says.
    for forged in [
        "/intake?done=registered&order=PT-NO-SUCH",
        "/intake?order=%3Cb%3Ex",
    ] {
        browser.go(forged).await;
        assert!(!browser.exists("#registered").await, "{forged}");
    }
    browser.go("/intake").await;
    let placed: (String, String, Option<String>) = sqlx::query_as(
        "SELECT o.department, o.rule, e.actor FROM orders o JOIN order_events e USING (order_no)
         WHERE o.order_no = $1",
    )
    .bind(&order_no)
    .fetch_one(&env.pool)
    .await
    .unwrap();
    assert_eq!(
        placed,
        (
            "SCJGJ".to_owned(),
            "keyword:过期→SC-0101".to_owned(),
            Some("call-centre-1".to_owned())
        )
    );
    browser.screenshot("intake").await;

    // The manual-dispatch queue: PT-P-8 placed with a chosen department, none chosen for
    // the operator.
    assert_eq!(
        browser
            .client
            .execute(
                "return document.querySelector('#manual-queue li form select[name=department]').value",
                vec![],
            )
            .await
            .unwrap(),
        json!("")
    );
    assert_eq!(browser.texts("#manual-queue li a").await.len(), 1);
    browser
        .select("#manual-queue li form select[name=department]", "YSBZX")
        .await;
    browser
        .click_and_confirm_saying(
            "#manual-queue li form button",
            "确认将 PT-P-8 派往「医社保中心」?",
        )
        .await;
    browser.expect_text("#notice", "已派单。").await;
    let placed: (String, String) =
        sqlx::query_as("SELECT department, rule FROM orders WHERE order_no = 'PT-P-8'")
            .fetch_one(&env.pool)
            .await
            .unwrap();
    assert_eq!(
        placed,
        ("YSBZX".to_owned(), "operator:call-centre-1".to_owned())
    );
    // The callback of the replied PT-P-1: the department's reply and the citizen to call
    // in front of the operator, nothing chosen for them; rated, closed.
    assert_eq!(
        browser
            .text("#callback-queue li[data-order-no='PT-P-1'] .reply")
            .await,
        "答复:已责令商家下架变质食品并处罚。(单位答复:已解决)"
    );
    let to_call = browser
        .text("#callback-queue li[data-order-no='PT-P-1'] .citizen")
        .await;
    assert!(
        to_call.starts_with("回访对象:") && to_call.contains("139"),
        "{to_call}"
    );
    assert_eq!(
        browser
            .client
            .execute(
                "return [...document.querySelectorAll('#callback-queue select')].map(s => s.value)",
                vec![],
            )
            .await
            .unwrap(),
        json!(["", ""]),
        "no rating chosen for the operator"
    );
    browser
        .select("#callback-queue li form select[name=rating]", "satisfied")
        .await;
    browser
        .select("#callback-queue li form select[name=resolved]", "yes")
        .await;
    browser
        .fill(
            "#callback-queue li form input[name=comment]",
            "市民表示满意",
        )
        .await;
    browser
        .click_and_confirm_saying(
            "#callback-queue li form button",
            "确认记录 PT-P-1 的回访结果?",
        )
        .await;
    browser.expect_text("#notice", "回访结果已记录。").await;
    let closed: (String, Option<String>) =
        sqlx::query_as("SELECT state, rating FROM orders WHERE order_no = 'PT-P-1'")
            .fetch_one(&env.pool)
            .await
            .unwrap();
    assert_eq!(closed, ("closed".to_owned(), Some("satisfied".to_owned())));

    // A forged form without its CSRF token is refused, and changes nothing.
    let forged = r#"
        const form = document.createElement('form');
        form.method = 'post';
        form.action = '/intake/orders/PT-P-6/dispatch';
        for (const [name, value] of [['event_id', crypto.randomUUID()], ['department', 'SCJGJ']]) {
            const input = document.createElement('input');
            input.name = name; input.value = value; form.append(input);
        }
        document.body.append(form);
        form.submit();
    "#;
    browser.client.execute(forged, vec![]).await.unwrap();
    wait_for("the refusal page", Duration::from_secs(10), || async {
        browser.exists("h1").await && browser.text("h1").await == "表单已失效"
    })
    .await;
    assert_eq!(
        env.count_where(
            "SELECT count(*) FROM order_events WHERE order_no = $1",
            "PT-P-6"
        )
        .await,
        1,
        "nothing but its receipt"
    );

    // A revoked token ends its sessions.
    browser.go("/intake").await;
    browser.wait_path("/intake").await;
    env.run_cli(&["token", "revoke", "call-centre-1"]).await;
    wait_for("the session ended", Duration::from_secs(30), || async {
        browser.go("/intake").await;
        browser.path().await.starts_with("/signin")
    })
    .await;

    browser.close().await;
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_refuse_other_roles_and_set_safe_cookies() {
    let env = TestEnv::new().await;
    let engine = env.start_engine().await;
    let handler = create_token(&env, "yb-desk-1", "handler", Some("YSBZX")).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signin = http
        .get(format!("{}/signin", engine.base))
        .send()
        .await
        .unwrap();
    let cookie = signin.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    assert_eq!(
        signin.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .split(';')
            .next(),
        Some("default-src 'self'")
    );
    let form_token = cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    let signed = http
        .post(format!("{}/signin", engine.base))
        .header("cookie", format!("hotline_signin={form_token}"))
        .header("x-forwarded-proto", "https")
        .form(&[
            ("token", handler.as_str()),
            ("csrf", &form_token),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), reqwest::StatusCode::SEE_OTHER);
    assert_eq!(signed.headers()["location"], "/desk");
    let session = signed
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("hotline_session="))
        .expect("a session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"));
    assert!(session.contains("; Secure"), "behind TLS: {session}");
    assert!(session.contains("Max-Age=43200"), "{session}");
    let id = session.split(';').next().unwrap().to_owned();

    // Another engine process behind the same load balancer knows the session.
    let mut second = env.spawn_engine(&["serve", "--roles", "http"]);
    second.wait_ready().await;
    let elsewhere = http
        .get(format!("{}/desk", second.base))
        .header("cookie", &id)
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), reqwest::StatusCode::OK);
    assert!(
        elsewhere
            .text()
            .await
            .unwrap()
            .contains("承办工作台 · YSBZX")
    );
    second.terminate().await;

    // (path, status) for a handler's session.
    for (path, status) in [
        ("/desk", 200),
        ("/board", 403),
        ("/intake", 403),
        ("/api/whoami", 200),
        ("/api/alerts/stream?department=SCJGJ", 403),
    ] {
        let answer = http
            .get(format!("{}{path}", engine.base))
            .header("cookie", &id)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), status, "{path}");
    }
    // The session posts to the API only with its form token.
    let posted = http
        .post(format!("{}/api/events", engine.base))
        .header("cookie", &id)
        .json(&event(
            "order.accepted",
            "PT-NONE",
            chrono::TimeDelta::zero(),
            json!({"department": "YSBZX"}),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), reqwest::StatusCode::FORBIDDEN);
    let signed_out = http
        .post(format!("{}/signout", engine.base))
        .header("cookie", &id)
        .form(&[("csrf", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        signed_out.status(),
        reqwest::StatusCode::FORBIDDEN,
        "sign-out needs the form token"
    );
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

/// The pages of issue 11's workflows: a co-handler (协办) accepts and co-replies on its
/// desk while the lead is told to wait; the department rated appeals its rating; an
/// operator approves one return and rejects another (退单审核); the supervisor sees the
/// league table with the figures of `GET /api/ranking`, urges at a level and decides the
/// appeal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn co_handling_return_review_appeals_and_the_league_table_in_chromium() {
    let env = TestEnv::new().await;
    let engine = env.start_engine().await;
    let supervisor = create_token(&env, "supervision-2", "supervisor", None).await;
    let lead = create_token(&env, "scjgj-desk-2", "handler", Some("SCJGJ")).await;
    let co = create_token(&env, "ysbzx-desk-2", "handler", Some("YSBZX")).await;
    let operator = create_token(&env, "call-centre-2", "operator", None).await;

    // XT-0001: SCJGJ leads, ZFYJJ and YSBZX co-handle. SC-0101: SCJGJ alone.
    let long_title = "无证诊所非法行医,附近居民多次反映仍在营业,请多部门联合整治并尽快答复市民,这是一个很长的标题";
    env.publish(&[
        received(
            "PT-X-1",
            "XT-0001",
            long_title,
            chrono::TimeDelta::minutes(5),
        ),
        received(
            "PT-X-2",
            "SC-0101",
            "店铺卖过期零食",
            chrono::TimeDelta::minutes(4),
        ),
        received(
            "PT-X-3",
            "SC-0101",
            "不属本单位的投诉",
            chrono::TimeDelta::minutes(3),
        ),
        received("PT-X-4", "SC-0101", "变质熟食", chrono::TimeDelta::days(40)),
        received(
            "PT-X-5",
            "SC-0101",
            "过期饮料",
            chrono::TimeDelta::minutes(2),
        ),
    ])
    .await;
    wait_for("five orders", Duration::from_secs(60), || async {
        env.count("SELECT count(*) FROM orders").await == 5
    })
    .await;
    // Over the API: SCJGJ returns PT-X-2 and PT-X-3 (to review) and replies to PT-X-5,
    // which the callback rates dissatisfied (and closes).
    let now = chrono::TimeDelta::zero();
    for (token, e) in [
        (
            &lead,
            event(
                "order.returned",
                "PT-X-2",
                now,
                json!({"department": "SCJGJ", "reason": "应由医保部门办理"}),
            ),
        ),
        (
            &lead,
            event(
                "order.returned",
                "PT-X-3",
                now,
                json!({"department": "SCJGJ", "reason": "不属本单位职责"}),
            ),
        ),
        (
            &lead,
            event(
                "order.accepted",
                "PT-X-5",
                now,
                json!({"department": "SCJGJ"}),
            ),
        ),
        (
            &lead,
            event(
                "order.replied",
                "PT-X-5",
                now,
                json!({"department": "SCJGJ", "reply": "已督促下架", "resolved": true}),
            ),
        ),
        (
            &operator,
            event(
                "order.feedback",
                "PT-X-5",
                now,
                json!({"rating": "dissatisfied", "resolved": true}),
            ),
        ),
    ] {
        let (status, body) = engine.post_event(token, &e).await;
        assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{e}: {body}");
    }

    let browser = Browser::open(&engine).await;

    // The co-handler's desk: the 协办 tab, with the co-reply deadline and the time left.
    browser.sign_in(&co).await;
    browser.wait_path("/desk").await;
    assert!(
        browser
            .texts("#desk-orders tbody tr td.no")
            .await
            .is_empty(),
        "YSBZX holds nothing"
    );
    browser.click("#tab-co").await;
    browser.wait_path("/desk?tab=co").await;
    let row = browser.text("#co-orders tr[data-order-no='PT-X-1']").await;
    assert!(
        row.contains("SCJGJ") && row.contains("待签收") && row.contains("剩余"),
        "{row}"
    );
    // Worked out independently from the co-dispatch's instant (an input, read from the
    // database): 0.6 of the committed 17.5 working hours, 10.5 h, on the reference walk.
    let co_dispatched: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
        "SELECT (c->>'dispatched_at')::timestamptz FROM orders, jsonb_array_elements(co_handlers) c
         WHERE order_no = 'PT-X-1' AND c->>'department' = 'YSBZX'",
    )
    .fetch_one(&env.pool)
    .await
    .unwrap();
    let co_due = crate::reference::working_time_after(
        co_dispatched,
        chrono::TimeDelta::minutes(10 * 60 + 30),
    );
    assert!(
        row.contains(&hotline_core::calendar::business_time(co_due)[..16].replace('T', " ")),
        "{row}"
    );
    browser.screenshot("desk-co").await;
    // The order page: the co-handlers, this department's part; never the lead's reply.
    browser
        .click("#co-orders tr[data-order-no='PT-X-1'] a")
        .await;
    browser.wait_path("/desk/orders/PT-X-1").await;
    assert_eq!(
        browser.texts("#co-handlers tbody tr td:first-child").await,
        ["ZFYJJ", "YSBZX"]
    );
    assert!(
        !browser.exists("#reply-form").await,
        "a co-handler never gets the lead's reply"
    );
    assert!(!browser.exists("#co-reply-form").await, "accept first");
    assert!(
        browser.text("#citizen").await.contains("已脱敏"),
        "a co-handler sees the citizen masked"
    );
    browser.click("#co-accept").await;
    browser.expect_text("#notice", "已签收。").await;
    browser
        .fill(
            "#co-reply-text",
            "已核查涉事人员医保结算记录,未发现违规报销。",
        )
        .await;
    browser.screenshot("desk-co-order").await;
    browser.click("#co-reply").await;
    browser.wait_path("/desk?tab=co&done=co_replied").await;
    assert!(
        browser
            .text("#co-orders tr[data-order-no='PT-X-1']")
            .await
            .contains("已协办答复")
    );
    let (replied, actor): (bool, Option<String>) = sqlx::query_as(
        "SELECT c->>'replied_at' IS NOT NULL,
                (SELECT actor FROM order_events WHERE order_no = 'PT-X-1' AND event_type = 'order.co_replied')
         FROM orders, jsonb_array_elements(co_handlers) c
         WHERE order_no = 'PT-X-1' AND c->>'department' = 'YSBZX'",
    )
    .fetch_one(&env.pool)
    .await
    .unwrap();
    assert!(replied);
    assert_eq!(actor.as_deref(), Some("ysbzx-desk-2"));
    browser.sign_out().await;

    // The lead: told which co-handler it waits for, and refused in words if it replies.
    browser.sign_in(&lead).await;
    browser.wait_path("/desk").await;
    let listed = browser
        .text("#desk-orders tr[data-order-no='PT-X-1']")
        .await;
    assert!(
        listed.contains("协办 1/2 已答复"),
        "the lead's list says how far its co-handlers are: {listed}"
    );
    browser.go("/desk/orders/PT-X-1").await;
    browser.click("#accept").await;
    browser.expect_text("#notice", "已签收。").await;
    let waiting = browser.text("#co-waiting").await;
    assert!(
        waiting.contains("ZFYJJ") && !waiting.contains("YSBZX"),
        "{waiting}"
    );
    browser.fill("#reply-text", "已联合查处。").await;
    browser.click("#reply").await;
    let problem = browser.text("#problem").await;
    assert!(
        problem.starts_with("该工单当前的状态不允许这项操作"),
        "{problem}"
    );
    assert!(problem.contains("ZFYJJ"), "{problem}");
    // The rated department appeals the dissatisfied rating from the order page.
    browser.go("/desk/orders/PT-X-5").await;
    assert!(browser.text("#facts").await.contains("不满意"));
    browser
        .fill("#appeal-reason", "市民不满意的是商场管理,不属本单位职责。")
        .await;
    browser.click_and_confirm("#appeal").await;
    browser
        .expect_text("#notice", "评价复核申请已提交,等待督办审核。")
        .await;
    assert!(
        !browser.exists("#appeal-form").await,
        "one appeal per callback"
    );
    browser.sign_out().await;

    // The operator's return review: the queue says who returned what and why.
    browser.sign_in(&operator).await;
    browser.wait_path("/intake").await;
    let pending = browser
        .text("#return-queue li[data-order-no='PT-X-2']")
        .await;
    assert!(
        pending.contains("SCJGJ") && pending.contains("应由医保部门办理"),
        "{pending}"
    );
    assert!(
        browser
            .exists("#return-queue li[data-order-no='PT-X-3']")
            .await
    );
    browser.screenshot("intake-returns").await;
    // A decision without a note is refused in words, and nothing happens.
    browser
        .client
        .execute(
            "document.querySelectorAll('#return-queue input[name=note]').forEach(i => i.removeAttribute('required'))",
            vec![],
        )
        .await
        .unwrap();
    browser
        .click_and_confirm("#return-queue li[data-order-no='PT-X-2'] button.approve")
        .await;
    assert!(browser.text("#problem").await.contains("必须填写审核意见"));
    // Approved, to YSBZX.
    browser
        .select(
            "#return-queue li[data-order-no='PT-X-2'] select[name=department]",
            "YSBZX",
        )
        .await;
    browser
        .fill(
            "#return-queue li[data-order-no='PT-X-2'] input[name=note]",
            "医保报销问题,改派医保中心",
        )
        .await;
    browser
        .click_and_confirm("#return-queue li[data-order-no='PT-X-2'] button.approve")
        .await;
    browser
        .expect_text("#notice", "退单审核:已同意退回,工单已改派。")
        .await;
    // Rejected from the order page: back to SCJGJ.
    browser
        .click("#return-queue li[data-order-no='PT-X-3'] a")
        .await;
    browser.wait_path("/orders/PT-X-3").await;
    assert!(browser.text("#facts").await.contains("不属本单位职责"));
    let choices = browser
        .texts("#return-decision-form select[name=department] option")
        .await;
    assert!(
        choices[0] == "按分派规则重新派单" && !choices.iter().any(|c| c.contains("SCJGJ")),
        "not back to the department that returned it: {choices:?}"
    );
    browser
        .fill(
            "#return-decision-form input[name=note]",
            "属市场监管职责,请继续办理",
        )
        .await;
    browser
        .click_and_confirm("#return-decision-form button[value=no]")
        .await;
    browser.wait_path("/intake?done=return_rejected").await;
    browser
        .expect_text("#notice", "退单审核:已驳回,工单退回原承办单位继续办理。")
        .await;
    assert!(
        !browser.exists("#return-queue li").await,
        "{:?}",
        browser.texts("#return-queue li").await
    );
    let placed: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT order_no, state, department FROM orders WHERE order_no IN ('PT-X-2', 'PT-X-3') ORDER BY 1",
    )
    .fetch_all(&env.pool)
    .await
    .unwrap();
    assert_eq!(
        placed,
        [
            (
                "PT-X-2".to_owned(),
                "dispatched".to_owned(),
                "YSBZX".to_owned()
            ),
            (
                "PT-X-3".to_owned(),
                "dispatched".to_owned(),
                "SCJGJ".to_owned()
            ),
        ]
    );
    browser.sign_out().await;

    // The supervisor's board: the league table, worked out by hand from what happened in
    // this test (last 30 days). SCJGJ: 5 dispatches (PT-X-1..5), 2 accepted in time
    // (PT-X-1, PT-X-5): 响应率 40%; PT-X-5's callback resolved (解决率 100%) but
    // dissatisfied (满意率 0%, the appeal is not yet decided): 100 × (0.3 × 0.4 + 0.35 × 1
    // + 0.35 × 0) = 47.00, red. YSBZX: PT-X-2's approved return, not accepted (0%), no
    // callback: 解决率 and 满意率 have no denominator and leave with their weights, 0.00.
    // ZFYJJ only co-handles, which is not a dispatch of its own: no row.
    browser.sign_in(&supervisor).await;
    browser.wait_path("/board").await;
    let expected = [
        ("SCJGJ", ["1", "40.0%", "100.0%", "0.0%", "47.00", "红"]),
        ("YSBZX", ["2", "0.0%", "—", "—", "0.00", "红"]),
    ];
    assert_eq!(
        browser.texts("#league tbody tr").await.len(),
        expected.len(),
        "one row per department with figures"
    );
    for (code, [rank, response, resolution, satisfaction, score, colour]) in expected {
        let cells = browser
            .texts(&format!("#league tr[data-department='{code}'] td"))
            .await;
        assert!(cells.len() == 7 && cells[1].starts_with(code), "{cells:?}");
        assert_eq!(
            [
                &cells[0], &cells[2], &cells[3], &cells[4], &cells[5], &cells[6]
            ],
            [rank, response, resolution, satisfaction, score, colour],
            "{code}"
        );
    }
    // The API's league table agrees with the same hand-worked scores.
    let (status, ranking) = engine.get("/api/ranking?period=last30", &supervisor).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    let scores: Vec<(&str, f64, u64)> = ranking["departments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["department"].as_str().unwrap(),
                d["score"].as_f64().unwrap(),
                d["rank"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(scores, [("SCJGJ", 47.0, 1), ("YSBZX", 0.0, 2)], "{ranking}");
    assert!(
        browser
            .exists("#league tr[data-department='SCJGJ'] .mark")
            .await
    );
    browser.screenshot("board-league").await;
    // Urge at a level: the live list shows it (over the statutory deadline, the engine
    // may have raised it to 督办 already; 挂牌督办 is higher).
    browser
        .select(
            "#warned tr[data-order-no='PT-X-4'] select[name=level]",
            "listed",
        )
        .await;
    browser
        .click_and_confirm_saying(
            "#warned tr[data-order-no='PT-X-4'] button.urge",
            "确认对 PT-X-4 发出「挂牌督办」?",
        )
        .await;
    browser.expect_text("#notice", "已催办。").await;
    assert_eq!(
        browser
            .text("#warned tr[data-order-no='PT-X-4'] td.urge-level")
            .await,
        "挂牌督办"
    );
    // Decide the appeal: upheld, the rating leaves 满意率.
    assert!(
        browser
            .text("#appeals li[data-order-no='PT-X-5']")
            .await
            .contains("不属本单位职责")
    );
    browser
        .fill(
            "#appeals li[data-order-no='PT-X-5'] input[name=note]",
            "经核实,诉求不属承办单位职责",
        )
        .await;
    browser
        .click_and_confirm("#appeals li[data-order-no='PT-X-5'] button[value=yes]")
        .await;
    browser.expect_text("#notice", "评价复核结果已提交。").await;
    assert!(!browser.exists("#appeals li").await);
    let upheld: Option<bool> =
        sqlx::query_scalar("SELECT (callback #>> '{appeal,decision,upheld}')::boolean FROM orders WHERE order_no = 'PT-X-5'")
            .fetch_one(&env.pool)
            .await
            .unwrap();
    assert_eq!(upheld, Some(true));
    browser.go("/orders/PT-X-5").await;
    assert!(browser.text("#facts").await.contains("复核成立"));
    browser.screenshot("board-appeal-order").await;

    browser.close().await;
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

/// Every deadline a page shows, against instants worked out by hand on a clock the test
/// sets: an emergency complaint (signed for in 15 minutes), a matter on a natural-hour
/// clock (4 hours; an urgent class, so 30 minutes to sign for), and an ordinary one (a
/// working day to sign for), on the handlers' desks, the order page and the operator's
/// preview.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_shows_the_hand_worked_deadlines() {
    let mut env = TestEnv::new().await;
    // Thursday 2026-12-24 10:00 in Beijing; working hours 08:00–12:00 and 14:30–17:30.
    const START: &str = "2026-12-24T10:00:00+08:00";
    let start = chrono::DateTime::parse_from_rfc3339(START)
        .unwrap()
        .with_timezone(&chrono::Utc);
    env.make_clock_lie(start).await;
    let engine = env.start_engine().await;
    let food = create_token(&env, "scjgj-desk-9", "handler", Some("SCJGJ")).await;
    let street = create_token(&env, "htpq-desk-9", "handler", Some("HTPQ")).await;
    let supervisor = create_token(&env, "supervision-9", "supervisor", None).await;
    let operator = create_token(&env, "call-centre-9", "operator", None).await;

    let at_start = |mut case: Value| {
        case["occurred_at"] = json!(START);
        case
    };
    let mut emergency = at_start(complaint("PT-D-1", "SC-0101", None, "变质食品致多人腹泻"));
    emergency["urgency"] = json!("emergency");
    env.publish(&[
        emergency,
        at_start(complaint("PT-D-2", "PQ-0001", Some("海坛"), "商铺占道经营")),
        at_start(complaint("PT-D-3", "SC-0101", None, "超市卖过期面包")),
    ])
    .await;
    // Two more for the board's day: at 07:00 in Beijing (23:00 UTC the day before: today
    // in Shanghai, yesterday in UTC), and yesterday evening, which SCJGJ then handles to
    // a satisfied callback this morning.
    let mut early = complaint("PT-D-4", "SC-0101", None, "早市卖变质肉");
    early["occurred_at"] = json!("2026-12-24T07:00:00+08:00");
    let mut yesterday = complaint("PT-D-5", "SC-0101", None, "夜市卖过期饮料");
    yesterday["occurred_at"] = json!("2026-12-23T20:00:00+08:00");
    env.publish(&[early, yesterday]).await;
    wait_for("five orders", Duration::from_secs(60), || async {
        env.count("SELECT count(*) FROM orders").await == 5
    })
    .await;
    let zero = chrono::TimeDelta::zero();
    for (token, e) in [
        (
            &food,
            event(
                "order.accepted",
                "PT-D-5",
                zero,
                json!({"department": "SCJGJ"}),
            ),
        ),
        (
            &food,
            event(
                "order.replied",
                "PT-D-5",
                zero,
                json!({"department": "SCJGJ", "reply": "已责令下架", "resolved": true}),
            ),
        ),
        (
            &operator,
            event(
                "order.feedback",
                "PT-D-5",
                zero,
                json!({"rating": "satisfied", "resolved": true}),
            ),
        ),
    ] {
        let (status, body) = engine.post_event(token, &e).await;
        assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{e}: {body}");
    }

    let browser = Browser::open(&engine).await;
    let due_cell = |order_no: &'static str| {
        let browser = &browser;
        async move {
            let cells = browser
                .texts(&format!(
                    "#desk-orders tr[data-order-no='{order_no}'] td:not(.pick)"
                ))
                .await;
            assert_eq!(cells.len(), 7, "{cells:?}");
            (cells[4].clone(), cells[5].clone())
        }
    };
    // SCJGJ's desk, to accept: the emergency case by 10:15 (15 minutes), the ordinary one
    // a working day on: 5 h on Thursday, 2 h on Friday, 10:00.
    browser.sign_in(&food).await;
    browser.wait_path("/desk").await;
    assert_eq!(
        due_cell("PT-D-1").await,
        ("2026-12-24 10:00".into(), "签收 2026-12-24 10:15".into())
    );
    assert_eq!(
        due_cell("PT-D-3").await,
        ("2026-12-24 10:00".into(), "签收 2026-12-25 10:00".into())
    );
    // The order page: committed at half of 5 working days (17.5 h: Thursday 5 h, Friday
    // 7 h, Monday 08:00–12:00 and 14:30–16:00), statutory at 35 h (Thursday 31st, 10:00;
    // 2027 has no notice yet, so New Year's Eve is a working day).
    browser.go("/desk/orders/PT-D-1").await;
    let facts = order_facts(&browser).await;
    assert_eq!(fact(&facts, "紧急程度"), "特急");
    assert_eq!(fact(&facts, "承诺办结"), "2026-12-28 16:00");
    assert_eq!(fact(&facts, "法定办结"), "2026-12-31 10:00");
    browser.sign_out().await;

    // 海坛片区管理局's desk: 占道经营 runs on a 4-hour natural clock, an urgent class:
    // signed for within 30 minutes.
    browser.sign_in(&street).await;
    browser.wait_path("/desk").await;
    assert_eq!(
        due_cell("PT-D-2").await,
        ("2026-12-24 10:00".into(), "签收 2026-12-24 10:30".into())
    );
    browser.sign_out().await;

    // The supervisor's order page: committed at 2 hours (12:00), statutory at 4 (14:00),
    // though the working day breaks for lunch in between: the clock is natural.
    browser.sign_in(&supervisor).await;
    browser.wait_path("/board").await;
    browser.go("/orders/PT-D-2").await;
    let facts = order_facts(&browser).await;
    assert_eq!(fact(&facts, "承办单位"), "HTPQ");
    assert_eq!(fact(&facts, "承诺办结"), "2026-12-24 12:00");
    assert_eq!(fact(&facts, "法定办结"), "2026-12-24 14:00");
    // The board's day is Shanghai's: four cases today (07:00 among them), not three.
    browser.go("/board").await;
    assert_eq!(browser.text("#today-total").await, "4");
    // SCJGJ's figures, of the 30 days and of today alike: 4 dispatches, 1 accepted in
    // time (响应率 25.0%), 1 reply before its committed deadline (按时办结率 100.0%), 1
    // satisfied callback (满意率 100.0%).
    let figures = browser.texts("#kpis tr[data-department='SCJGJ'] td").await;
    assert_eq!(
        figures[2..],
        ["100.0%", "100.0%", "25.0%", "100.0%", "100.0%", "25.0%"],
        "{figures:?}"
    );
    browser.sign_out().await;

    // The operator's preview, at 17:00 on Christmas Eve: 30 minutes of the working day
    // left, so an ordinary food complaint is signed for by Friday 17:00 (0.5 h + 4 h +
    // 2.5 h), committed by Tuesday 29th 11:00 (0.5 + 7 + 7 + 3 h) and due by law on
    // Thursday 31st 17:00 (0.5 + 4 × 7 + 6.5 h).
    env.set_clock(start + chrono::TimeDelta::hours(7)).await;
    browser.sign_in(&operator).await;
    browser.wait_path("/intake").await;
    browser.select("#category", "SC-0101").await;
    browser.fill("#title", "面包店卖过期面包").await;
    browser
        .fill("#content", "市民反映面包店售卖过期面包。")
        .await;
    browser.click("#preview-button").await;
    // The preview is the form's answer: wait for it before reading it whole.
    browser.text("#preview-committed").await;
    let preview: Vec<String> = browser.texts("#preview dd").await;
    assert_eq!(
        preview[3..],
        [
            "5个工作日".to_owned(),
            "2026-12-25 17:00".to_owned(),
            "2026-12-29 11:00".to_owned(),
            "2026-12-31 17:00".to_owned()
        ],
        "{preview:?}"
    );

    browser.close().await;
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

/// The order page's facts, label by label.
async fn order_facts(browser: &Browser) -> Vec<(String, String)> {
    let labels = browser.texts("#facts dt").await;
    let values = browser.texts("#facts dd").await;
    labels.into_iter().zip(values).collect()
}

fn fact<'a>(facts: &'a [(String, String)], label: &str) -> &'a str {
    facts
        .iter()
        .find(|(l, _)| l == label)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {label} among {facts:?}"))
}

/// The numbers of the orders listed on the order list page now, in its order.
async fn listed_orders(browser: &Browser) -> Vec<String> {
    browser.texts("#orders tbody td.no").await
}

/// The total the order list page says ("共 N 件").
async fn list_total(browser: &Browser) -> usize {
    let total = browser.text("#total").await;
    total
        .parse()
        .unwrap_or_else(|_| panic!("the total is not a count: {total:?}"))
}

/// Types `text` into the header's search box and sends it.
async fn search_for(browser: &Browser, text: &str) {
    browser.fill("#search", text).await;
    browser.click("#search-go").await;
}

/// Issue 20, finding and working through lists: the order list (`/orders`) reads through
/// `GET /api/orders` — its filters, keyset pages and the total counted with the same
/// conditions — so walking its pages gives every seeded order once; the header's search
/// box opens an order by its number, lists orders by words, and by phone only for a role
/// that sees phones in full; each count of the board opens the list of exactly the orders
/// it counts; the 导出 CSV link is the API's export with the list's filters, read with the
/// page's session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_list_pages_through_every_order_and_the_search_box_finds_them() {
    let env = TestEnv::new().await;
    let engine = env.start_engine().await;
    let supervisor = create_token(&env, "supervision-20", "supervisor", None).await;
    let operator = create_token(&env, "call-centre-20", "operator", None).await;
    let food = create_token(&env, "scjgj-desk-20", "handler", Some("SCJGJ")).await;

    // 60 orders in the last hour: PT-L-01..40 for SCJGJ, PT-L-41..60 for YSBZX; every
    // seventh about noise (噪声); PT-L-01..03 from the caller 137 1111 2222, PT-L-03 a
    // confidential case (保密件).
    let number = |n: usize| format!("PT-L-{n:02}");
    let noisy = |n: usize| n.is_multiple_of(7);
    let mut cases = Vec::new();
    for n in 1..=60 {
        let matter = if n <= 40 { "SC-0101" } else { "YB-0101" };
        let title = if noisy(n) {
            format!("第{n}号 夜间施工噪声扰民")
        } else {
            format!("第{n}号 小区路面积水")
        };
        let mut case = received(
            &number(n),
            matter,
            &title,
            chrono::TimeDelta::minutes(61 - n as i64),
        );
        if n <= 3 {
            case["citizen"]["phone"] = json!("137 1111 2222");
        }
        if n == 3 {
            case["confidential"] = json!(true);
        }
        cases.push(case);
    }
    env.publish(&cases).await;
    wait_for("sixty orders", Duration::from_secs(60), || async {
        env.count("SELECT count(*) FROM orders").await == 60
    })
    .await;
    // SCJGJ accepts three: 37 dispatched and 3 accepted on the board.
    for n in [5, 6, 7] {
        let accepted = event(
            "order.accepted",
            &number(n),
            chrono::TimeDelta::zero(),
            json!({"department": "SCJGJ"}),
        );
        let (status, body) = engine.post_event(&food, &accepted).await;
        assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{body}");
    }
    let seeded: std::collections::BTreeSet<String> = (1..=60).map(number).collect();
    let noise: std::collections::BTreeSet<String> =
        (1..=60).filter(|n| noisy(*n)).map(number).collect();
    assert_eq!(noise.len(), 8);

    // The API's addition: `total` counts the whole list when asked, `null` otherwise; a
    // supervisor, who sees phones masked, cannot search by one.
    let (status, body) = engine
        .get("/api/orders?limit=25&total=true", &supervisor)
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    assert_eq!(
        (body["count"].as_u64(), body["total"].as_u64()),
        (Some(25), Some(60))
    );
    let (_, body) = engine.get("/api/orders?limit=25", &supervisor).await;
    assert!(body["total"].is_null(), "{body}");
    let (status, _) = engine
        .get("/api/orders?phone=13711112222", &supervisor)
        .await;
    assert_eq!(status, reqwest::StatusCode::FORBIDDEN);

    let browser = Browser::open(&engine).await;
    browser.sign_in(&supervisor).await;
    browser.wait_path("/board").await;

    // Every page of 25, by the 下一页 link: 25, 25, 10, each order once, the total the
    // same on every page.
    browser.go("/orders?limit=25").await;
    assert_eq!(list_total(&browser).await, 60);
    browser.screenshot("orders").await;
    let mut walked: Vec<String> = Vec::new();
    let mut sizes = Vec::new();
    loop {
        assert_eq!(list_total(&browser).await, 60, "on every page");
        let page = listed_orders(&browser).await;
        assert_eq!(
            browser.text("#shown").await,
            page.len().to_string(),
            "the page says how many it shows"
        );
        sizes.push(page.len());
        walked.extend(page);
        if !browser.exists("#next-page").await {
            assert!(browser.exists("#last-page").await, "the last page says so");
            break;
        }
        assert!(sizes.len() < 5, "more pages than 60 orders make: {sizes:?}");
        let before = browser.path().await;
        browser.click("#next-page").await;
        let after = browser.wait_path_leaving(&before).await;
        assert!(
            after.starts_with("/orders?limit=25&next="),
            "the filters and the cursor: {after}"
        );
        assert!(browser.exists("#first-page").await);
    }
    assert_eq!(sizes, [25, 25, 10]);
    let distinct: std::collections::BTreeSet<String> = walked.iter().cloned().collect();
    assert_eq!(distinct.len(), walked.len(), "no order twice: {walked:?}");
    assert_eq!(distinct, seeded, "no order missing");

    // The search box: an order's number opens the order.
    search_for(&browser, "PT-L-07").await;
    browser.wait_path("/orders/PT-L-07").await;
    // Words: the list of exactly the orders whose title holds them, the words kept in
    // the box; its CSV link carries the filter and downloads those orders with the
    // page's session.
    search_for(&browser, "噪声").await;
    browser.wait_path("/orders?q=%E5%99%AA%E5%A3%B0").await;
    assert_eq!(list_total(&browser).await, noise.len());
    let found: std::collections::BTreeSet<String> =
        listed_orders(&browser).await.into_iter().collect();
    assert_eq!(found, noise);
    let kept = browser
        .client
        .find(Locator::Css("#search"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("噪声"));
    browser.screenshot("orders-search").await;
    let csv = browser
        .client
        .find(Locator::Css("#export-csv"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap();
    assert_eq!(csv.as_deref(), Some("/api/orders.csv?q=%E5%99%AA%E5%A3%B0"));
    let session = browser
        .client
        .get_named_cookie("hotline_session")
        .await
        .expect("the page's session cookie");
    let download = reqwest::Client::new()
        .get(format!("{}{}", engine.base, csv.unwrap()))
        .header("cookie", format!("hotline_session={}", session.value()))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), reqwest::StatusCode::OK);
    assert!(
        download.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = download.text().await.unwrap();
    let exported: std::collections::BTreeSet<String> = text
        .lines()
        .skip(1)
        .map(|line| line.split(',').next().unwrap().to_owned())
        .collect();
    assert_eq!(exported, noise, "{text}");
    // A supervisor sees phones masked: a phone number is searched as words, never in the
    // citizen's phone.
    search_for(&browser, "137 1111 2222").await;
    browser.wait_path("/orders?q=137%201111%202222").await;
    assert_eq!(list_total(&browser).await, 0);
    assert!(browser.exists("#orders-empty").await);

    // Each count of the board opens the list of exactly the orders it counts (columns:
    // department, dispatched, accepted, …, on track, …, total).
    for (column, filter) in [
        (1, "state=dispatched"),
        (2, "state=accepted"),
        (5, "sla_state=on_track"),
        (
            10,
            "state=dispatched,accepted,suspended,replied,return_pending",
        ),
    ] {
        browser.go("/board").await;
        let count = board_cell(&browser, "SCJGJ", column).await;
        browser
            .click(&format!(
                "#open-counts tr[data-department='SCJGJ'] td:nth-child({}) a",
                column + 1
            ))
            .await;
        browser
            .wait_path(&format!("/orders?department=SCJGJ&{filter}"))
            .await;
        assert_eq!(list_total(&browser).await as i64, count, "{filter}");
        assert_eq!(
            listed_orders(&browser).await.len() as i64,
            count,
            "{filter}"
        );
        let expected = match column {
            1 => 37,
            2 => 3,
            _ => 40,
        };
        assert_eq!(count, expected, "{filter}");
    }
    browser.screenshot("orders-board-count").await;
    browser.sign_out().await;

    // An operator sees phones in full: a phone finds that caller's orders, but not the
    // confidential one (whose phone it sees masked).
    browser.sign_in(&operator).await;
    browser.wait_path("/intake").await;
    search_for(&browser, "137 1111 2222").await;
    browser.wait_path("/orders?phone=13711112222").await;
    assert_eq!(list_total(&browser).await, 2);
    let mut by_phone = listed_orders(&browser).await;
    by_phone.sort();
    assert_eq!(by_phone, ["PT-L-01", "PT-L-02"]);
    assert!(browser.text("#summary").await.contains("137****2222"));
    browser.sign_out().await;

    // A handler's list is its department's: SCJGJ's 40, with no department to choose; the
    // number of another department's order is searched as words, telling nothing of it.
    browser.sign_in(&food).await;
    browser.wait_path("/desk").await;
    browser.go("/orders").await;
    assert_eq!(list_total(&browser).await, 40);
    assert!(!browser.exists("#f-department").await);
    search_for(&browser, "PT-L-41").await;
    browser.wait_path("/orders?q=PT-L-41").await;
    assert_eq!(list_total(&browser).await, 0);
    search_for(&browser, "PT-L-01").await;
    browser.wait_path("/orders/PT-L-01").await;

    browser.close().await;
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}
