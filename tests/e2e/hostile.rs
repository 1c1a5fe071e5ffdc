//! A hostile corpus, interleaved with good events: wrong types at every field, unknown
//! enum values, broken envelopes, bodies that are not UTF-8 or not JSON, deep nesting,
//! huge strings, SQL and HTML in text, and AMQP properties and headers at and past their
//! limits, some not UTF-8 at all (sent with a raw AMQP publisher). Every hostile message
//! must be dead-lettered once with a bounded reason that quotes none of its values, every
//! good one must become an order, and no role may stop.

use crate::raw_amqp::{Properties, RawPublisher, Value as Field};
use crate::support::{TestEnv, wait_for};
use serde_json::{Value, json};
use std::time::Duration;

/// Values that must never appear in a reason: a phone number and a marker.
const SECRET_PHONE: i64 = 13_812_345_678;
const SECRET: &str = "SECRETVALUE";

enum Expect {
    /// Dead-lettered with this reason code.
    Rejected(&'static str),
    Applied(String),
}

struct Message {
    routing_key: Vec<u8>,
    properties: Properties,
    body: Vec<u8>,
    expect: Expect,
}

fn persistent() -> Properties {
    Properties {
        delivery_mode: Some(2),
        ..Properties::default()
    }
}

/// A good complaint, to be changed into a hostile or a weird-but-good one.
fn complaint(order_no: &str) -> Value {
    json!({
        "event_id": uuid::Uuid::new_v4(), "type": "complaint.received",
        "occurred_at": hotline_core::calendar::business_time(chrono::Utc::now()),
        "order_no": order_no, "kind": "complaint", "channel": "phone",
        "category": "SC-0101", "district": "金井", "address": "金井大道1号",
        "urgency": "normal", "title": "超市销售过期食品", "content": "酸奶过期三天",
        "citizen": {"name": "测试市民", "phone": "13900000000"},
    })
}

/// Sets `path` (`citizen.phone`) in `event` to `value`.
fn set(event: &mut Value, path: &str, value: Value) {
    let mut at = event;
    let parts: Vec<&str> = path.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        at = &mut at[*part];
    }
    at[parts[parts.len() - 1]] = value;
}

fn json_message(event: &Value, expect: Expect) -> Message {
    Message {
        routing_key: event["type"].as_str().unwrap_or("x").as_bytes().to_vec(),
        properties: persistent(),
        body: serde_json::to_vec(event).unwrap(),
        expect,
    }
}

/// A body that is not a readable event, with a message id of its own (so that each is
/// dead-lettered once, not taken for a redelivery of another).
fn garbage(body: Vec<u8>, code: &'static str) -> Message {
    Message {
        routing_key: b"complaint.received".to_vec(),
        properties: Properties {
            message_id: Some(uuid::Uuid::new_v4().to_string().into_bytes()),
            ..persistent()
        },
        body,
        expect: Expect::Rejected(code),
    }
}

/// One round of the corpus; `round` makes order numbers unique.
fn corpus(round: usize) -> Vec<Message> {
    let mut out = Vec::new();
    let mut n = 0;
    let mut order_no = |tag: &str| {
        n += 1;
        format!("PT-H{round}-{tag}-{n}")
    };
    let wrong_types = [
        json!(SECRET_PHONE),
        json!(true),
        json!([SECRET]),
        json!({"x": SECRET}),
        json!(null),
        json!(SECRET),
    ];
    // (field, what it is)
    let fields = [
        ("kind", "enum"),
        ("channel", "enum"),
        ("urgency", "optional enum"),
        ("category", "text"),
        ("title", "text"),
        ("content", "text"),
        ("district", "optional text"),
        ("address", "optional text"),
        ("citizen", "optional object"),
        ("citizen.name", "optional text"),
        // A phone is held to what a person can dial: the marker text is not one.
        ("citizen.phone", "optional phone"),
    ];
    for (field, what) in fields {
        for value in &wrong_types {
            let no = order_no("F");
            let mut event = complaint(&no);
            set(&mut event, field, value.clone());
            let expect = match (what, value) {
                // `null` reads as absent in an optional field; in a required one outside
                // the envelope it is the wrong JSON type (contract §5).
                (_, Value::Null) if what.starts_with("optional") => Expect::Applied(no),
                ("text" | "optional text", Value::String(_)) => Expect::Applied(no),
                // Unknown fields are ignored, in a citizen as anywhere.
                ("optional object", Value::Object(_)) => Expect::Applied(no),
                _ => Expect::Rejected("invalid_field"),
            };
            out.push(json_message(&event, expect));
        }
    }
    // A wrong type at every field of every other event type: rejected before any order
    // is looked up.
    let others: [(&str, &[&str]); 8] = [
        ("order.accepted", &["department", "handler"]),
        ("order.returned", &["department", "reason"]),
        ("order.dispatched", &["department", "operator"]),
        (
            "order.extension_requested",
            &["department", "extra_working_days", "reason"],
        ),
        (
            "order.extension_decided",
            &["approved", "extra_working_days"],
        ),
        ("order.replied", &["department", "reply", "resolved"]),
        ("order.feedback", &["rating", "resolved", "comment"]),
        (
            "appointment.booked",
            &["category", "service_point", "slot_start"],
        ),
    ];
    for (event_type, fields) in others {
        for field in fields {
            let mut event = json!({
                "event_id": uuid::Uuid::new_v4(), "type": event_type,
                "occurred_at": hotline_core::calendar::business_time(chrono::Utc::now()),
                "order_no": order_no("T"),
                "department": "SCJGJ", "handler": "h", "reason": "r", "operator": "o",
                "extra_working_days": 2, "approved": true, "reply": "r", "resolved": true,
                "rating": "satisfied", "comment": "c", "category": "SP", "service_point": "ZX",
                "slot_start": "2026-12-01T10:00:00+08:00",
            });
            event[*field] = json!([SECRET_PHONE]);
            out.push(json_message(&event, Expect::Rejected("invalid_field")));
        }
    }
    // Broken envelopes.
    let envelope: [(&str, Value, &str); 14] = [
        ("event_id", json!(SECRET_PHONE), "invalid_field"),
        ("event_id", json!(SECRET), "invalid_field"),
        ("event_id", json!(null), "missing_field"),
        ("type", json!(SECRET), "unknown_type"),
        ("type", json!(SECRET_PHONE), "invalid_field"),
        // A NUL character in any string is a malformed field, before its meaning.
        ("type", json!("complaint.received\u{0}"), "invalid_field"),
        ("occurred_at", json!("yesterday"), "invalid_field"),
        (
            "occurred_at",
            json!("9999-12-31T23:59:59+08:00"),
            "invalid_field",
        ),
        ("occurred_at", json!("2026-12-01T10:00:00"), "invalid_field"),
        ("occurred_at", json!(SECRET_PHONE), "invalid_field"),
        ("order_no", json!("x".repeat(65)), "invalid_field"),
        (
            "order_no",
            json!("PT 1'; DROP TABLE orders; --"),
            "invalid_field",
        ),
        ("order_no", json!("工单一"), "invalid_field"),
        ("order_no", json!(SECRET_PHONE), "invalid_field"),
    ];
    for (field, value, code) in envelope {
        let mut event = complaint(&order_no("E"));
        event[field] = value;
        let mut message = json_message(&event, Expect::Rejected(code));
        // Without a usable event_id the message id keys it.
        message.properties.message_id = Some(uuid::Uuid::new_v4().to_string().into_bytes());
        out.push(message);
    }
    // Bodies that are not events at all.
    let mut deep_array = "[".repeat(300);
    deep_array.push_str(&"]".repeat(300));
    let mut deep_object = complaint(&order_no("D"));
    let mut nest = json!(SECRET);
    for _ in 0..200 {
        nest = json!({"a": nest});
    }
    deep_object["extra"] = nest;
    let mut huge = complaint(&order_no("B"));
    huge["content"] = json!(format!("{SECRET}{}", "很".repeat(3000)));
    let mut nul = complaint(&order_no("N"));
    nul["title"] = json!("过期\u{0}食品");
    for (body, code) in [
        (vec![0xff, 0xfe, 0xfd], "not_utf8"),
        (b"{\"event_id\": \"\xff\xfe\"}".to_vec(), "not_utf8"),
        (b"not json at all".to_vec(), "not_json"),
        (b"[1, 2, 3]".to_vec(), "not_json"),
        (b"\"a string\"".to_vec(), "not_json"),
        (b"13812345678".to_vec(), "not_json"),
        (b"null".to_vec(), "not_json"),
        (b"true".to_vec(), "not_json"),
        (b"{}".to_vec(), "missing_field"),
        (Vec::new(), "not_json"),
        (b"   ".to_vec(), "not_json"),
        (
            [
                b"\xef\xbb\xbf".as_slice(),
                &serde_json::to_vec(&complaint("PT-BOM")).unwrap(),
            ]
            .concat(),
            "not_json",
        ),
        (deep_array.into_bytes(), "not_json"),
        (serde_json::to_vec(&deep_object).unwrap(), "not_json"),
        (serde_json::to_vec(&huge).unwrap(), "too_large"),
        (serde_json::to_vec(&nul).unwrap(), "invalid_field"),
    ] {
        out.push(garbage(body, code));
    }
    // Weird but good: SQL and HTML in text, unknown extra fields, odd routing keys.
    for (title, content) in [
        (
            "'; DROP TABLE orders; --",
            "Robert'); DELETE FROM outbox;--",
        ),
        (
            "<script>alert('x')</script>",
            "<img src=x onerror=alert(1)>",
        ),
        ("{{7*7}} ${jndi:ldap://x}", "%s%s%s%n"),
    ] {
        let no = order_no("W");
        let mut event = complaint(&no);
        event["title"] = json!(title);
        event["content"] = json!(content);
        event["unknown_field"] = json!({"nested": [1, 2, 3]});
        let mut message = json_message(&event, Expect::Applied(no));
        message.routing_key = b"no.such.type".to_vec();
        out.push(message);
    }
    let no = order_no("R");
    let mut message = json_message(&complaint(&no), Expect::Applied(no));
    message.routing_key = vec![b'k'; 255];
    out.push(message);
    // AMQP properties and headers at and past their limits, some not UTF-8.
    let not_utf8 = b"\xff\xfe\xfd".to_vec();
    let property_cases: Vec<Properties> = vec![
        Properties {
            message_id: Some(not_utf8.clone()),
            ..persistent()
        },
        Properties {
            message_id: Some(vec![b'm'; 255]),
            ..persistent()
        },
        Properties {
            content_type: Some(not_utf8.clone()),
            correlation_id: Some(not_utf8.clone()),
            app_id: Some(not_utf8.clone()),
            ..persistent()
        },
        Properties {
            headers: Some(vec![
                (not_utf8.clone(), Field::LongString(not_utf8.clone())),
                (vec![b'h'; 255], Field::LongString(vec![b'v'; 10_000])),
                (
                    b"nested".to_vec(),
                    Field::Table(vec![(b"deeper".to_vec(), Field::Int(-1))]),
                ),
            ]),
            ..persistent()
        },
        Properties {
            headers: Some(
                (0..1000)
                    .map(|i| (format!("x-{i}").into_bytes(), Field::Int(i)))
                    .collect(),
            ),
            ..persistent()
        },
    ];
    for properties in property_cases {
        let no = order_no("P");
        let mut message = json_message(&complaint(&no), Expect::Applied(no));
        message.properties = properties;
        out.push(message);
    }
    // A bad body whose message id is at the protocol's limit, or not UTF-8: its dead
    // letter must still be publishable.
    for message_id in [vec![b'm'; 255], not_utf8, vec![0u8; 10]] {
        let mut message = garbage(b"{not json".to_vec(), "not_json");
        message.properties.message_id = Some(message_id);
        // The same id in several rounds is one key: only the first round's is hostile.
        if round > 0 {
            message.expect = Expect::Applied(String::new());
        }
        out.push(message);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_corpus_is_dead_lettered_with_bounded_reasons_and_stops_no_role() {
    let env = TestEnv::new().await;
    let engine = env.start_engine().await;
    let vhost = env.amqp_url.rsplit('/').next().unwrap().to_owned();
    let mut publisher = RawPublisher::connect(&vhost).await;
    let mut hostile = 0;
    let mut good = Vec::new();
    let mut published = 0;
    let mut expected_codes: std::collections::BTreeMap<&str, i64> = Default::default();
    for round in 0..10 {
        for message in corpus(round) {
            publisher
                .publish(
                    "hotline.events",
                    &message.routing_key,
                    &message.properties,
                    &message.body,
                )
                .await;
            published += 1;
            match message.expect {
                Expect::Rejected(code) => {
                    hostile += 1;
                    *expected_codes.entry(code).or_insert(0) += 1;
                }
                Expect::Applied(no) if no.is_empty() => {} // a repeated id: no second effect
                Expect::Applied(no) => good.push(no),
            }
        }
    }
    publisher.close().await;
    assert!(hostile >= 1000, "{hostile} hostile messages");
    eprintln!(
        "published {published}: {hostile} hostile, {} good",
        good.len()
    );

    wait_for(
        "the intake queue drained",
        Duration::from_secs(180),
        || async { env.queue_len("hotline.intake").await == 0 },
    )
    .await;
    wait_for(
        "every hostile message dead-lettered",
        Duration::from_secs(120),
        || async {
            env.count("SELECT count(*) FROM rejected_events").await >= hostile
                && env
                    .count("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                    .await
                    == 0
        },
    )
    .await;
    assert_eq!(
        env.count("SELECT count(*) FROM rejected_events").await,
        hostile
    );
    assert_eq!(
        env.queue_len("hotline.rejected").await as i64,
        hostile,
        "each dead-lettered once"
    );
    assert_eq!(
        env.count("SELECT count(*) FROM outbox WHERE failed_at IS NOT NULL")
            .await,
        0,
        "every dead letter could be published"
    );
    // Each entry's own reason code, counted per code: a refusal for the wrong reason (a
    // phone taken for a missing field, a deep nest for too large) changes the counts.
    let codes: Vec<(String, i64)> = sqlx::query_as(
        "SELECT reason_code, count(*) FROM rejected_events GROUP BY reason_code ORDER BY 1",
    )
    .fetch_all(&env.pool)
    .await
    .unwrap();
    assert_eq!(
        codes,
        expected_codes
            .iter()
            .map(|(code, n)| (code.to_string(), *n))
            .collect::<Vec<_>>()
    );
    let reasons: Vec<String> = sqlx::query_scalar("SELECT reason FROM rejected_events")
        .fetch_all(&env.pool)
        .await
        .unwrap();
    for reason in &reasons {
        let (code, detail) = reason.split_once(": ").expect("<code>: <detail>");
        assert!(
            hotline_schema::rejection::RejectCode::parse(code).is_some(),
            "{reason}"
        );
        assert!(detail.chars().count() <= 300, "{reason}");
        for secret in [
            SECRET,
            "13812345678",
            "13900000000",
            "测试市民",
            "DROP TABLE",
        ] {
            assert!(
                !reason.contains(secret),
                "a reason quotes a value: {reason}"
            );
        }
    }
    for no in &good {
        assert_eq!(
            env.count_where("SELECT count(*) FROM orders WHERE order_no = $1", no)
                .await,
            1,
            "{no} became an order"
        );
    }
    let log = engine.log();
    assert!(!log.contains("role interrupted"), "no role was restarted");
    assert!(
        !log.contains("13812345678") && !log.contains(SECRET),
        "no value in the log"
    );
    let (status, ready) = engine.get_anonymous("/readyz").await;
    assert_eq!(status, reqwest::StatusCode::OK, "{ready}");
    assert!(engine.terminate().await.success());
    env.cleanup().await;
}
