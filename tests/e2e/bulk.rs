//! Bulk actions in Chromium: a handler signs for the orders ticked on the desk's 待签收 tab
//! with one confirmation that names how many, a supervisor urges the ticked overdue orders
//! at one level; the orders not ticked are left as they were.

use crate::pages::{Browser, create_token, received};
use crate::support::{TestEnv, wait_for};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_sign_for_and_supervisors_urge_the_ticked_orders_at_once() {
    let env = TestEnv::new().await;
    let engine = env.start_engine().await;
    let food = create_token(&env, "scjgj-desk-b", "handler", Some("SCJGJ")).await;
    let supervisor = create_token(&env, "supervision-b", "supervisor", None).await;
    // Received a month ago: past every deadline, so on the board's 预警与超期 list.
    let month = chrono::TimeDelta::days(30);
    env.publish(&[
        received("PT-B-1", "SC-0101", "超市销售过期食品", month),
        received("PT-B-2", "SC-0101", "餐馆后厨卫生差", month),
        received("PT-B-3", "SC-0101", "药店无证经营", month),
    ])
    .await;
    wait_for("the orders", Duration::from_secs(30), || async {
        env.count("SELECT count(*) FROM orders").await == 3
    })
    .await;

    let browser = Browser::open(&engine).await;
    browser.sign_in(&food).await;
    browser.wait_path("/desk").await;
    // Nothing ticked: nothing done, and the page says why.
    browser.click_and_confirm("#bulk-accept").await;
    browser
        .expect_text("#notice", "没有选中工单:请先勾选要处理的工单。")
        .await;
    for order in ["PT-B-1", "PT-B-2"] {
        browser
            .click(&format!("tr[data-order-no='{order}'] input[name=order]"))
            .await;
    }
    browser
        .click_and_confirm_saying("#bulk-accept", "确认签收选中的 2 个工单?")
        .await;
    browser.expect_text("#notice", "已签收 2 个工单。").await;
    let accepted = env
        .count("SELECT count(*) FROM orders WHERE state = 'accepted' AND order_no IN ('PT-B-1', 'PT-B-2')")
        .await;
    assert_eq!(accepted, 2);
    assert_eq!(
        env.count("SELECT count(*) FROM orders WHERE state = 'dispatched' AND order_no = 'PT-B-3'")
            .await,
        1
    );
    browser.screenshot("desk-bulk-accept").await;
    browser.sign_out().await;

    browser.sign_in(&supervisor).await;
    browser.wait_path("/board").await;
    for order in ["PT-B-1", "PT-B-3"] {
        browser
            .click(&format!(
                "#warned tr[data-order-no='{order}'] input[name=order]"
            ))
            .await;
    }
    browser
        .select("#bulk-urge-form select[name=level]", "supervision")
        .await;
    browser
        .click_and_confirm_saying("#bulk-urge", "确认对选中的 2 个工单发出「督办」?")
        .await;
    browser.expect_text("#notice", "已催办 2 个工单。").await;
    // (An order past its statutory deadline may already stand at 督办 by the engine's own
    // escalation: what the supervisor did is in the timeline.)
    let urged = env
        .count("SELECT count(*) FROM order_events WHERE event_type = 'order.urged' AND detail->>'level' = 'supervision' AND order_no IN ('PT-B-1', 'PT-B-3')")
        .await;
    assert_eq!(urged, 2);
    assert_eq!(
        env.count("SELECT count(*) FROM order_events WHERE event_type = 'order.urged' AND order_no = 'PT-B-2'")
            .await,
        0
    );
    browser.screenshot("board-bulk-urge").await;
    browser.close().await;
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}
