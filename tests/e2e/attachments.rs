//! Attachments (附件): a file stored through the API, served to exactly those who may see
//! its order, refused as the contract says when it is not a photo or a document, too large
//! or one too many, and removed with the citizen's data by retention.

use crate::support::{EngineProcess, TEST_CONFIG, TestEnv, complaint};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api::{HANDLER_SC, HANDLER_YB, OPERATOR, SUPERVISOR};

/// The first bytes of a PNG, and some more: what the engine tells a PNG by.
fn png(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.resize(len, 7);
    bytes
}

async fn upload(
    engine: &EngineProcess,
    token: &str,
    order_no: &str,
    name: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut url = reqwest::Url::parse(&format!(
        "{}/api/orders/{order_no}/attachments",
        engine.base
    ))
    .unwrap();
    url.query_pairs_mut().append_pair("name", name);
    let response = reqwest::Client::new()
        .post(url)
        .bearer_auth(token)
        .header("content-type", "image/png")
        .body(body)
        .send()
        .await
        .expect("upload");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn download(engine: &EngineProcess, token: &str, url: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}{url}", engine.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("download")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_is_kept_for_those_who_see_its_order_and_refused_as_the_contract_says() {
    let env = TestEnv::with_config(&format!(
        "{TEST_CONFIG}\n[attachments]\nmax_bytes = 2048\nper_order = 3\n"
    ))
    .await;
    let engine = crate::api::start(&env).await;
    let (status, answer) = engine
        .post_event(
            OPERATOR,
            &complaint("PT-ATT-1", "SC-0101", None, "超市销售过期食品"),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");

    // The holding department's handler attaches a photo; a browser may send a whole path.
    let photo = png(1500);
    let (status, stored) = upload(
        &engine,
        HANDLER_SC,
        "PT-ATT-1",
        "C:\\现场\\照片.png",
        photo.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    assert_eq!(stored["name"], "照片.png");
    assert_eq!(stored["media_type"], "image/png");
    assert_eq!(stored["size_bytes"], 1500);
    assert_eq!(stored["department"], "SCJGJ");
    assert_eq!(stored["uploader_role"], "handler");
    assert_eq!(stored["uploaded_by"], "env#3");
    let url = stored["url"].as_str().expect("a url").to_owned();
    assert_eq!(
        url,
        format!(
            "/api/orders/PT-ATT-1/attachments/{}",
            stored["id"].as_str().unwrap()
        )
    );

    // Served, byte for byte, to every reader of the order; a department not involved
    // learns nothing, not even that it exists.
    for token in [HANDLER_SC, OPERATOR, SUPERVISOR] {
        let response = download(&engine, token, &url).await;
        assert_eq!(response.status(), StatusCode::OK, "{token}");
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], "image/png");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(
            headers["content-security-policy"],
            "default-src 'none'; sandbox"
        );
        assert_eq!(
            headers["content-disposition"],
            "attachment; filename=\"__.png\"; filename*=UTF-8''%E7%85%A7%E7%89%87.png"
        );
        assert_eq!(response.bytes().await.unwrap().as_ref(), photo.as_slice());
        let (status, listed) = engine
            .request("/api/orders/PT-ATT-1/attachments", Some(token))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
        assert_eq!(listed[0]["id"], stored["id"]);
    }
    let response = download(&engine, HANDLER_YB, &url).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let (status, _) = engine
        .request("/api/orders/PT-ATT-1/attachments", Some(HANDLER_YB))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, answer) = upload(&engine, HANDLER_YB, "PT-ATT-1", "x.png", png(100)).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );

    // Each refusal with its own code; nothing of a refused file stays.
    let cases: Vec<(&str, &str, Vec<u8>, StatusCode, &str)> = vec![
        (
            SUPERVISOR,
            "x.png",
            png(100),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            OPERATOR,
            "page.html",
            b"<html><script>alert(1)</script>".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            OPERATOR,
            "big.png",
            png(2049),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
        (
            OPERATOR,
            "empty.png",
            Vec::new(),
            StatusCode::BAD_REQUEST,
            "empty_file",
        ),
        (
            OPERATOR,
            "a\u{202E}gnp.exe",
            png(100),
            StatusCode::BAD_REQUEST,
            "bad_file_name",
        ),
    ];
    for (token, name, body, want_status, want_code) in cases {
        let (status, answer) = upload(&engine, token, "PT-ATT-1", name, body).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (want_status, Some(want_code)),
            "{name}: {answer}"
        );
        assert!(!answer["message"].as_str().unwrap_or_default().is_empty());
    }
    let (status, _) = upload(&engine, OPERATOR, "PT-NONE", "x.png", png(100)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The operator attaches what the citizen sent (a PDF whatever its name says); the
    // third file is the last the order may hold.
    let (status, pdf) = upload(
        &engine,
        OPERATOR,
        "PT-ATT-1",
        "",
        b"%PDF-1.7\n%%EOF".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{pdf}");
    assert_eq!(
        (pdf["name"].as_str(), pdf["media_type"].as_str()),
        (Some("附件.pdf"), Some("application/pdf"))
    );
    assert_eq!(pdf["department"], Value::Null);
    let (status, _) = upload(&engine, HANDLER_SC, "PT-ATT-1", "3.png", png(64)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, answer) = upload(&engine, HANDLER_SC, "PT-ATT-1", "4.png", png(64)).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::CONFLICT, Some("too_many_attachments"))
    );

    // Each stored file is a timeline entry naming its type and size, never its name.
    let (_, order) = engine
        .request("/api/orders/PT-ATT-1", Some(SUPERVISOR))
        .await;
    let entries: Vec<&Value> = order["timeline"]
        .as_array()
        .expect("a timeline")
        .iter()
        .filter(|e| e["type"] == "attachment.added")
        .collect();
    assert_eq!(entries.len(), 3, "{}", order["timeline"]);
    assert!(!order["timeline"].to_string().contains("照片"));

    // On disk: the three files stored, none of those refused.
    let kept = std::fs::read_dir(
        env.config_path
            .parent()
            .unwrap()
            .join("attachments/orders/PT-ATT-1"),
    )
    .expect("the order's directory")
    .count();
    assert_eq!(kept, 3);
    assert_eq!(env.count("SELECT count(*) FROM attachments").await, 3);
    let (status, _) = engine
        .request(
            "/api/orders/PT-ATT-1/attachments/not-a-uuid",
            Some(OPERATOR),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = engine
        .request(
            "/api/orders/PT-ATT-1/attachments/0193a1b2-0000-7000-8000-000000000000",
            Some(OPERATOR),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // An operator links a call's recording: listed with the files, with no file to serve.
    let (status, answer) = engine
        .post_json(
            OPERATOR,
            "/api/orders/PT-ATT-2/recordings",
            &json!({"reference": " REC-20261207-0001 "}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no such order yet: {answer}");
    let (status, _) = engine
        .post_event(
            OPERATOR,
            &complaint("PT-ATT-2", "SC-0101", None, "餐馆后厨卫生差"),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, linked) = engine
        .post_json(
            OPERATOR,
            "/api/orders/PT-ATT-2/recordings",
            &json!({"reference": " REC-20261207-0001 "}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{linked}");
    assert_eq!(
        (
            linked["name"].as_str(),
            linked["media_type"].as_str(),
            linked["size_bytes"].as_i64(),
            &linked["url"]
        ),
        (
            Some("REC-20261207-0001"),
            Some("recording"),
            Some(0),
            &Value::Null
        )
    );
    for (token, body, want) in [
        (
            HANDLER_SC,
            json!({"reference": "REC-1"}),
            (StatusCode::FORBIDDEN, "forbidden"),
        ),
        (
            OPERATOR,
            json!({"reference": "REC 1"}),
            (StatusCode::BAD_REQUEST, "bad_recording_reference"),
        ),
        (
            OPERATOR,
            json!({"ref": "REC-1"}),
            (StatusCode::BAD_REQUEST, "bad_request"),
        ),
    ] {
        let (status, answer) = engine
            .post_json(token, "/api/orders/PT-ATT-2/recordings", &body)
            .await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (want.0, Some(want.1)),
            "{body}"
        );
    }
    let (_, listed) = engine
        .request("/api/orders/PT-ATT-2/attachments", Some(HANDLER_SC))
        .await;
    assert_eq!(listed[0]["name"], "REC-20261207-0001");
    let response = download(
        &engine,
        OPERATOR,
        &format!(
            "/api/orders/PT-ATT-2/attachments/{}",
            linked["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "a reference has no file"
    );

    // A closed order's record is final.
    sqlx::query("UPDATE orders SET state = 'closed', closed_at = now() - interval '40 days' WHERE order_no = 'PT-ATT-1'")
        .execute(&env.pool)
        .await
        .unwrap();
    let (status, answer) = upload(&engine, OPERATOR, "PT-ATT-1", "late.png", png(64)).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::CONFLICT, Some("order_finished"))
    );
    assert!(engine.terminate().await.success());

    // Retention removes the files with the citizen's data, file and row.
    let mut config = std::fs::read_to_string(&env.config_path).unwrap();
    config.push_str("\n[retention]\ncitizen_data_days = 30\n");
    env.write_config(&config);
    let said = env.run_cli(&["retention"]).await;
    assert!(said.contains("and 3 attachment(s)"), "{said}");
    assert_eq!(
        env.count("SELECT count(*) FROM attachments WHERE order_no = 'PT-ATT-1'")
            .await,
        0
    );
    // An open order keeps what it holds.
    assert_eq!(
        env.count("SELECT count(*) FROM attachments WHERE order_no = 'PT-ATT-2'")
            .await,
        1
    );
    let left = std::fs::read_dir(
        env.config_path
            .parent()
            .unwrap()
            .join("attachments/orders/PT-ATT-1"),
    )
    .map(|d| d.count())
    .unwrap_or(0);
    assert_eq!(left, 0);
    env.cleanup().await;
}

/// What `fetch(url)` answers in the browser's session: its status.
async fn fetched_status(browser: &crate::pages::Browser, url: &str) -> u64 {
    browser
        .client
        .execute_async(
            "const [url, done] = arguments; fetch(url).then(r => done(r.status), () => done(0));",
            vec![serde_json::json!(url)],
        )
        .await
        .expect("fetch in the page")
        .as_u64()
        .expect("a status")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_attaches_evidence_in_chromium_and_another_department_gets_404() {
    use crate::pages::{Browser, create_token};
    let env = TestEnv::new().await;
    let engine = env.start_engine().await;
    let food = create_token(&env, "scjgj-desk-a", "handler", Some("SCJGJ")).await;
    let street = create_token(&env, "htpq-desk-a", "handler", Some("HTPQ")).await;
    let operator = create_token(&env, "call-centre-a", "operator", None).await;
    env.publish(&[complaint("PT-ATT-P", "SC-0101", None, "超市销售过期食品")])
        .await;
    crate::support::wait_for("the order", std::time::Duration::from_secs(30), || async {
        env.count("SELECT count(*) FROM orders WHERE order_no = 'PT-ATT-P'")
            .await
            == 1
    })
    .await;
    let dir = env.config_path.parent().unwrap();
    let photo = dir.join("现场照片.png");
    std::fs::write(&photo, png(4096)).unwrap();
    let page = dir.join("page.html");
    std::fs::write(&page, "<html><script>alert(1)</script></html>").unwrap();

    let browser = Browser::open(&engine).await;
    browser.sign_in(&food).await;
    browser.wait_path("/desk").await;
    browser.go("/desk/orders/PT-ATT-P").await;
    browser.expect_text("#no-attachments", "暂无附件。").await;
    // Something that is not a photo or a document is refused by the server, in words.
    let input = browser
        .client
        .find(fantoccini::Locator::Css("#attach-file"))
        .await
        .unwrap();
    input.send_keys(page.to_str().unwrap()).await.unwrap();
    browser.click("#attach").await;
    browser
        .expect_text(
            "#problem",
            "附件未上传:只能上传图片(JPEG、PNG、WebP)或 PDF 文档。",
        )
        .await;
    // A file over the limit is said beside the field before it is sent.
    let huge = dir.join("huge.png");
    std::fs::write(&huge, png(10 * 1024 * 1024 + 1)).unwrap();
    browser
        .client
        .find(fantoccini::Locator::Css("#attach-file"))
        .await
        .unwrap()
        .send_keys(huge.to_str().unwrap())
        .await
        .unwrap();
    browser.click("#attach").await;
    browser
        .expect_text(
            "#attach-file-fault",
            "文件超过 10 MB 的上限,请压缩或换一个文件。",
        )
        .await;
    assert_eq!(env.count("SELECT count(*) FROM attachments").await, 0);
    browser.go("/desk/orders/PT-ATT-P").await;
    let input = browser
        .client
        .find(fantoccini::Locator::Css("#attach-file"))
        .await
        .unwrap();
    input.send_keys(photo.to_str().unwrap()).await.unwrap();
    browser.click("#attach").await;
    browser
        .wait_path("/desk/orders/PT-ATT-P?done=attached")
        .await;
    browser.expect_text("#notice", "附件已上传。").await;
    browser
        .expect_text("#attachments li a", "现场照片.png")
        .await;
    let listed = browser.text("#attachments li .meta").await;
    assert!(
        listed.starts_with("图片 · 4 KB · 市场监督管理局(SCJGJ) · scjgj-desk-a · "),
        "{listed}"
    );
    let timeline = browser.texts("#timeline li").await.join("\n");
    assert!(timeline.contains("上传附件"), "{timeline}");
    assert!(
        !timeline.contains("attachment.added") && !timeline.contains("现场照片"),
        "{timeline}"
    );
    let href = browser
        .client
        .find(fantoccini::Locator::Css("#attachments li a"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .expect("a link");
    assert_eq!(fetched_status(&browser, &href).await, 200);
    browser.screenshot("order-attachments").await;
    browser.sign_out().await;

    // The operator links the call's recording; a reference that is not one is said
    // beside the field, kept as typed.
    browser.sign_in(&operator).await;
    browser.wait_path("/intake").await;
    browser.go("/orders/PT-ATT-P").await;
    browser.fill("#recording-ref", "录音 0815").await;
    browser.click("#link-recording").await;
    browser
        .expect_text(
            "#recording-fault",
            "录音编号应为 1-100 个字母、数字或 . _ - : / # 字符。",
        )
        .await;
    browser.fill("#recording-ref", "REC-20261207-0815").await;
    browser.click("#link-recording").await;
    browser.wait_path("/orders/PT-ATT-P?done=recorded").await;
    let listed = browser.texts("#attachments li").await.join("\n");
    assert!(
        listed.contains("REC-20261207-0815") && listed.contains("通话录音编号"),
        "{listed}"
    );
    assert!(browser.text("#timeline").await.contains("关联通话录音"));
    browser.sign_out().await;

    // Another department: the file is not there for it, as the order is not.
    browser.sign_in(&street).await;
    browser.wait_path("/desk").await;
    assert_eq!(fetched_status(&browser, &href).await, 404);
    browser.go("/desk/orders/PT-ATT-P").await;
    assert!(!browser.exists("#attachments").await);
    browser.close().await;
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}
