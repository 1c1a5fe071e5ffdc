//! Internal notes (内部备注): each unit reads and writes its own, on orders it may see,
//! and nothing of them reaches the timeline; the order page keeps what was typed and says
//! the server's fault beside the field, for notes and for a department's reply alike.

use crate::support::{EngineProcess, TestEnv, complaint};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api::{HANDLER_SC, HANDLER_YB, OPERATOR, SUPERVISOR};

async fn post_note(
    engine: &EngineProcess,
    token: &str,
    order_no: &str,
    body: Value,
) -> (StatusCode, Value) {
    engine
        .post_json(token, &format!("/api/orders/{order_no}/notes"), &body)
        .await
}

fn texts(notes: &Value) -> Vec<&str> {
    notes
        .as_array()
        .expect("a list of notes")
        .iter()
        .map(|n| n["text"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_unit_reads_only_its_own_notes_and_none_reaches_the_timeline() {
    let env = TestEnv::new().await;
    let engine = crate::api::start(&env).await;
    let (status, _) = engine
        .post_event(
            OPERATOR,
            &complaint("PT-NOTE-1", "SC-0101", None, "超市销售过期食品"),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);

    let id = uuid::Uuid::now_v7();
    let note = json!({"text": "  已电话联系商户,明早复查  ", "id": id});
    let (status, notes) = post_note(&engine, HANDLER_SC, "PT-NOTE-1", note.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{notes}");
    assert_eq!(texts(&notes), ["已电话联系商户,明早复查"]);
    assert_eq!(notes[0]["unit"], "SCJGJ");
    assert_eq!(notes[0]["author"], "env#3");
    // The same form twice: one note.
    let (status, notes) = post_note(&engine, HANDLER_SC, "PT-NOTE-1", note).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(notes.as_array().unwrap().len(), 1);
    let (status, _) = post_note(
        &engine,
        OPERATOR,
        "PT-NOTE-1",
        json!({"text": "市民情绪激动,回访时注意"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = post_note(
        &engine,
        SUPERVISOR,
        "PT-NOTE-1",
        json!({"text": "本周例会通报"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    // Each unit its own; a department not involved learns nothing of the order.
    for (token, want) in [
        (HANDLER_SC, vec!["已电话联系商户,明早复查"]),
        (OPERATOR, vec!["市民情绪激动,回访时注意"]),
        (SUPERVISOR, vec!["本周例会通报"]),
    ] {
        let (status, notes) = engine
            .request("/api/orders/PT-NOTE-1/notes", Some(token))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(texts(&notes), want, "{token}");
    }
    let (status, _) = engine
        .request("/api/orders/PT-NOTE-1/notes", Some(HANDLER_YB))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = post_note(&engine, HANDLER_YB, "PT-NOTE-1", json!({"text": "x"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Refusals, each with its code.
    for (body, want) in [
        (json!({"text": "  "}), "blank_note"),
        (json!({"text": "很".repeat(1001)}), "note_too_long"),
        (json!({"text": "a\u{7}b"}), "bad_note"),
        (json!({"words": "x"}), "bad_request"),
        (json!({"text": 5}), "bad_request"),
    ] {
        let (status, answer) = post_note(&engine, OPERATOR, "PT-NOTE-1", body.clone()).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some(want)),
            "{body}"
        );
    }

    // Nothing of a note is in what every reader of the order sees.
    let (_, order) = engine
        .request("/api/orders/PT-NOTE-1", Some(SUPERVISOR))
        .await;
    let shown = order.to_string();
    for text in ["已电话联系商户", "市民情绪激动", "本周例会通报"] {
        assert!(!shown.contains(text), "{text} in the order view");
    }
    assert_eq!(env.count("SELECT count(*) FROM order_notes").await, 3);
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_page_keeps_what_was_typed_and_says_the_servers_fault_beside_the_field() {
    use crate::pages::{Browser, create_token};
    let env = TestEnv::new().await;
    let engine = env.start_engine().await;
    let food = create_token(&env, "scjgj-desk-n", "handler", Some("SCJGJ")).await;
    let street = create_token(&env, "htpq-desk-n", "handler", Some("HTPQ")).await;
    let operator = create_token(&env, "call-centre-n", "operator", None).await;
    env.publish(&[complaint("PT-NOTE-P", "SC-0101", None, "超市销售过期食品")])
        .await;
    crate::support::wait_for("the order", std::time::Duration::from_secs(30), || async {
        env.count("SELECT count(*) FROM orders WHERE order_no = 'PT-NOTE-P'")
            .await
            == 1
    })
    .await;
    let browser = Browser::open(&engine).await;
    browser.sign_in(&food).await;
    browser.wait_path("/desk").await;
    browser.go("/desk/orders/PT-NOTE-P").await;
    browser.click("#accept").await;
    browser
        .wait_path("/desk/orders/PT-NOTE-P?done=accepted")
        .await;
    // The browser's own limits removed: the server is the judge.
    browser
        .client
        .execute(
            "for (const f of document.querySelectorAll('[maxlength],[required]')) { f.removeAttribute('maxlength'); f.removeAttribute('required'); }",
            vec![],
        )
        .await
        .unwrap();
    let long_reply = "答".repeat(10_000);
    browser
        .client
        .execute(
            "document.getElementById('reply-text').value = arguments[0];",
            vec![json!(long_reply)],
        )
        .await
        .unwrap();
    browser.click("#reply").await;
    browser
        .expect_text("#reply-fault", "答复内容最多 5000 个字,请精简。")
        .await;
    let kept = browser
        .client
        .execute(
            "return document.getElementById('reply-text').value;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        kept.as_str().map(|t| t.chars().count()),
        Some(10_000),
        "the reply is kept as typed"
    );
    assert_eq!(
        env.count("SELECT count(*) FROM orders WHERE state = 'replied'")
            .await,
        0
    );

    // A note: too long first (kept, the fault beside it), then one that fits.
    browser
        .client
        .execute(
            "for (const f of document.querySelectorAll('[maxlength],[required]')) { f.removeAttribute('maxlength'); f.removeAttribute('required'); }
             document.getElementById('note-text').value = arguments[0];",
            vec![json!("记".repeat(1001))],
        )
        .await
        .unwrap();
    browser.click("#note").await;
    browser
        .expect_text("#note-fault", "备注不能超过 1000 个字。")
        .await;
    browser.fill("#note-text", "已电话联系商户,明早复查").await;
    browser.click("#note").await;
    browser.wait_path("/desk/orders/PT-NOTE-P?done=noted").await;
    browser
        .expect_text("#notes .note-text", "已电话联系商户,明早复查")
        .await;
    let timeline = browser.texts("#timeline li").await.join("\n");
    assert!(!timeline.contains("明早复查"), "{timeline}");
    browser.screenshot("order-notes").await;

    // The print view: the order whole, who printed it and when; no form, no note.
    browser.go("/desk/orders/PT-NOTE-P/print").await;
    browser.expect_text("#print-order-no", "PT-NOTE-P").await;
    browser
        .expect_text("#print-title", "超市销售过期食品")
        .await;
    let printed = browser.text("#printed").await;
    assert!(printed.starts_with("打印:scjgj-desk-n · "), "{printed}");
    let forms = browser
        .client
        .execute("return document.forms.length;", vec![])
        .await
        .unwrap();
    assert_eq!(forms, json!(0));
    let whole = browser.text("main").await;
    assert!(!whole.contains("明早复查"), "a note on paper: {whole}");
    assert!(whole.contains("受理登记"), "{whole}");
    browser.screenshot("order-print").await;
    browser.go("/desk/orders/PT-NOTE-P").await;
    browser.sign_out().await;

    // Neither the operators nor another department read the department's note.
    browser.sign_in(&operator).await;
    browser.wait_path("/intake").await;
    browser.go("/orders/PT-NOTE-P").await;
    browser.expect_text("#no-notes", "暂无备注。").await;
    browser.sign_out().await;
    browser.sign_in(&street).await;
    browser.wait_path("/desk").await;
    browser.go("/desk/orders/PT-NOTE-P").await;
    assert!(!browser.exists("#notes").await && !browser.exists("#note-form").await);
    browser.go("/orders/PT-NOTE-P/print").await;
    assert!(
        !browser.exists("#print-order-no").await,
        "another department prints nothing"
    );
    browser.close().await;
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}
