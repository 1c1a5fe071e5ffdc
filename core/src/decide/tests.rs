use super::*;
use crate::config::Config;
use crate::outbox::OutboxKind;
use hotline_schema::event::EventType;
use hotline_schema::values::{AlertLevel, OrderState};
use serde_json::{Value, json};

fn rules() -> Rules {
    Rules::new(&Config::test_catalog())
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T10:00:00+08:00")
        .unwrap()
        .with_timezone(&Utc)
}

fn complaint(order_no: &str, fields: Value) -> Value {
    let mut v = json!({
        "event_id": uuid::Uuid::new_v4(), "type": EventType::ComplaintReceived,
        "occurred_at": "2026-11-25T09:30:00+08:00", "order_no": order_no,
        "kind": "complaint", "channel": "phone", "category": "SC-0101",
        "address": "海坛大道1号", "title": "餐馆卖变质食品", "content": "c",
        "citizen": {"name": "测试市民", "phone": "13900000000"},
    });
    for (k, val) in fields.as_object().unwrap() {
        v[k] = val.clone();
    }
    v
}

fn action(event_type: EventType, order_no: &str, fields: Value) -> Value {
    let mut v = json!({
        "event_id": uuid::Uuid::new_v4(), "type": event_type.as_str(),
        "occurred_at": "2026-11-25T09:50:00+08:00", "order_no": order_no,
    });
    for (k, val) in fields.as_object().unwrap() {
        v[k] = val.clone();
    }
    v
}

fn incoming(events: &[Value]) -> Vec<Incoming> {
    events
        .iter()
        .map(|e| Incoming::from_bytes(e.to_string().into_bytes(), None, now(), 1 << 16))
        .collect()
}

/// Decides `events` as one batch of fresh deliveries against `loaded`.
fn run(events: &[Value], loaded: Loaded) -> Decided {
    let batch = incoming(events);
    let fresh = vec![true; batch.len()];
    decide(&rules(), &batch, &fresh, loaded, now())
}

fn order_of<'a>(decided: &'a Decided, order_no: &str) -> &'a Order {
    &decided
        .orders
        .iter()
        .find(|(o, _)| o.order_no == order_no)
        .unwrap_or_else(|| panic!("{order_no} not written"))
        .0
}

fn codes(decided: &Decided) -> Vec<Option<RejectCode>> {
    decided
        .outcomes
        .iter()
        .map(|o| match o {
            Outcome::Rejected(r) => Some(r.code),
            Outcome::Applied(_) | Outcome::Duplicate => None,
        })
        .collect()
}

#[test]
fn a_new_complaint_is_routed_clocked_and_dispatched() {
    let decided = run(&[complaint("PT1", json!({}))], Loaded::default());
    assert_eq!(codes(&decided), [None]);
    let order = order_of(&decided, "PT1");
    assert_eq!(order.state, OrderState::Dispatched);
    assert_eq!(
        (order.department.as_str(), order.rule.as_str()),
        ("SCJGJ", "catalog:SC-0101")
    );
    assert_eq!(order.matter.as_ref().unwrap().name, "食品安全投诉");
    assert_eq!(decided.orders[0].1, Existed::No);
    assert_eq!(decided.dispatches.len(), 1);
    assert_eq!(decided.outbox.len(), 1);
    assert_eq!(decided.outbox[0].kind, OutboxKind::Task);
    assert_eq!(decided.outbox[0].routing_key, "SCJGJ");
    assert_eq!(decided.timeline.len(), 1);
    assert!(
        decided.timeline[0].detail.get("citizen").is_none(),
        "no personal data on the timeline"
    );
    // Its deadlines are watched from this batch on: one timer a level, for the department
    // that holds it, at the deadlines it was given.
    let d = &order.deadlines;
    let timers: Vec<(AlertLevel, DateTime<Utc>, &str)> = decided
        .timers
        .iter()
        .map(|t| {
            assert_eq!(t.order_no, "PT1");
            (t.level, t.due_at, t.department.as_str())
        })
        .collect();
    assert_eq!(
        timers,
        [
            (AlertLevel::SignOverdue, d.sign, "SCJGJ"),
            (AlertLevel::Warning, d.warning, "SCJGJ"),
            (AlertLevel::Overdue, d.committed, "SCJGJ"),
            (AlertLevel::StatutoryOverdue, d.statutory, "SCJGJ"),
        ]
    );
}

#[test]
fn duplicate_reports_merge_into_the_first_open_order() {
    // (what, the first report's changes, the second's, merged into PT1?)
    let cases = [
        ("same matter, place and phone", json!({}), json!({}), true),
        (
            "white space in the address",
            json!({}),
            json!({"address": "海坛大道 1 号"}),
            true,
        ),
        (
            "another phone",
            json!({}),
            json!({"citizen": {"phone": "13700000000"}}),
            false,
        ),
        (
            "another place",
            json!({}),
            json!({"address": "海坛大道2号"}),
            false,
        ),
        (
            "another matter",
            json!({}),
            json!({"category": "YB-0101"}),
            false,
        ),
        ("no address", json!({}), json!({"address": null}), false),
        (
            "just inside the window",
            json!({"occurred_at": "2026-11-24T09:30:00+08:00"}),
            json!({}),
            true,
        ),
        (
            "after the window",
            json!({"occurred_at": "2026-11-24T09:29:59+08:00"}),
            json!({}),
            false,
        ),
    ];
    for (what, first, second, merged) in cases {
        let events = [complaint("PT1", first), complaint("PT2", second)];
        let decided = run(&events, Loaded::default());
        let second = order_of(&decided, "PT2");
        if merged {
            assert_eq!(second.state, OrderState::Merged, "{what}");
            assert_eq!(second.duplicate_of.as_deref(), Some("PT1"), "{what}");
            assert_eq!(second.department, "SCJGJ", "{what}");
            assert_eq!(second.dispatch_count, 0, "{what}");
            assert_eq!(decided.dispatches.len(), 1, "{what}: one task for the pair");
            assert_eq!(
                decided.timeline[1].detail["effect"],
                json!({"merged_into": "PT1"})
            );
        } else {
            assert_eq!(second.state, OrderState::Dispatched, "{what}");
            assert_eq!(decided.dispatches.len(), 2, "{what}");
        }
    }
}

#[test]
fn a_report_merges_into_an_open_order_the_store_found() {
    let loaded = Loaded {
        merge_candidates: vec![MergeCandidate {
            order_no: "PT-OLD".into(),
            matter_code: Some("SC-0101".into()),
            address: Some("海坛大道1号".into()),
            phone: Some("13900000000".into()),
            received_at: now() - chrono::TimeDelta::hours(3),
        }],
        ..Loaded::default()
    };
    let decided = run(&[complaint("PT2", json!({}))], loaded);
    assert_eq!(
        order_of(&decided, "PT2").duplicate_of.as_deref(),
        Some("PT-OLD")
    );
    assert!(
        decided.outbox.is_empty(),
        "the first order's department has the task"
    );
}

#[test]
fn a_consultation_answered_on_the_call_closes_without_a_task() {
    // (answer, closed at once?)
    let cases = [
        (json!({"reply": "已答复政策", "resolved": true}), true),
        (json!({"reply": "需转办", "resolved": false}), false),
    ];
    for (answer, closed) in cases {
        let event = complaint("PT1", json!({"kind": "consultation", "answer": answer}));
        let decided = run(&[event], Loaded::default());
        let order = order_of(&decided, "PT1");
        if closed {
            assert_eq!(order.state, OrderState::Closed);
            assert_eq!(
                (order.department.as_str(), order.rule.as_str()),
                ("MANUAL", "answered-at-intake")
            );
            assert_eq!((order.on_time, order.resolved), (Some(true), Some(true)));
            assert!(decided.outbox.is_empty() && decided.dispatches.is_empty());
            assert_eq!(
                decided.outcomes[0],
                Outcome::Applied(vec![Observation::Closed {
                    department: "MANUAL".into(),
                    on_time: true
                }])
            );
        } else {
            assert_eq!(order.state, OrderState::Dispatched);
            assert_eq!(decided.dispatches.len(), 1);
        }
    }
}

#[test]
fn events_the_batch_cannot_accept_are_rejected_and_dead_lettered() {
    let events = [
        complaint("PT1", json!({})),
        complaint("PT1", json!({"title": "同一单号又来一次"})),
        action(
            EventType::OrderAccepted,
            "PT-NOWHERE",
            json!({"department": "SCJGJ"}),
        ),
        action(
            EventType::AppointmentCheckedIn,
            "PT1",
            json!({"service_point": "ZX"}),
        ),
        action(
            EventType::OrderAccepted,
            "PT1",
            json!({"department": "YSBZX"}),
        ),
        action(
            EventType::OrderAccepted,
            "PT1",
            json!({"department": "SCJGJ"}),
        ),
    ];
    let decided = run(&events, Loaded::default());
    assert_eq!(
        codes(&decided),
        [
            None,
            Some(RejectCode::DuplicateOrder),
            Some(RejectCode::UnknownOrder),
            Some(RejectCode::InvalidState),
            Some(RejectCode::WrongDepartment),
            None,
        ]
    );
    assert_eq!(decided.rejected.len(), 4);
    let dead: Vec<_> = decided
        .outbox
        .iter()
        .filter(|m| m.kind == OutboxKind::Rejected)
        .collect();
    assert_eq!(dead.len(), 4);
    assert!(dead[0].headers["x-hotline-reason"].starts_with("duplicate_order: "));
    assert_eq!(dead[0].headers["x-hotline-reason-code"], "duplicate_order");
    assert_eq!(
        dead[0].body, decided.rejected[0].body,
        "dead-lettered unchanged"
    );
    // Later events of the batch see the earlier ones: the order was accepted once.
    assert_eq!(order_of(&decided, "PT1").state, OrderState::Accepted);
    assert_eq!(
        decided.orders.len(),
        1,
        "written once however often touched"
    );
}

#[test]
fn freshness_and_what_to_load() {
    let events = [
        complaint("PT2", json!({})),
        action(
            EventType::OrderAccepted,
            "PT1",
            json!({"department": "SCJGJ"}),
        ),
        action(
            EventType::AppointmentBooked,
            "YY1",
            json!({"category": "SP", "service_point": "ZX", "slot_start": "2026-11-25T10:00:00+08:00"}),
        ),
    ];
    let mut batch = incoming(&events);
    // The same event twice in one batch, and one without any key.
    batch.push(Incoming::from_bytes(
        events[1].to_string().into_bytes(),
        None,
        now(),
        1 << 16,
    ));
    batch.push(Incoming::from_bytes(
        b"{not json".to_vec(),
        None,
        now(),
        1 << 16,
    ));
    let keys: Vec<String> = batch
        .iter()
        .filter_map(|i| i.idempotency_key.clone())
        .collect();
    // The store claimed every key but the complaint's (seen before).
    let claimed: HashSet<String> = keys[1..].iter().cloned().collect();
    let fresh = freshness(&batch, &claimed);
    assert_eq!(fresh, [false, true, true, false, true]);
    let wanted = wanted(&rules(), &batch, &fresh, now());
    assert_eq!(
        wanted,
        Wanted {
            order_nos: vec!["PT1".into()],
            appointment_nos: vec!["YY1".into()],
            merge_keys: vec![],
        }
    );
    let all = wanted_for_all(&batch);
    assert_eq!(all.order_nos, ["PT1", "PT2"]);
    assert_eq!(
        all.merge_keys,
        [MergeKey::of(Some("SC-0101"), Some("海坛大道1号"), Some("13900000000")).unwrap()]
    );
}

fn wanted_for_all(batch: &[Incoming]) -> Wanted {
    wanted(&rules(), batch, &vec![true; batch.len()], now())
}

#[test]
fn the_store_is_asked_for_the_key_each_new_order_is_merged_under() {
    // The key `wanted` names before the batch is decided must be the one the order it
    // makes carries: keywords and catalog codes route to a matter, and without a place or a
    // phone there is no key at all.
    let cases = [
        json!({}),
        json!({"category": "OTHER", "title": "食品过期", "content": "超市卖过期食品"}),
        json!({"address": " 海坛 大道 1号 ", "citizen": {"phone": " 139 "}}),
        json!({"address": null}),
        json!({"citizen": {"name": "x"}}),
        json!({"kind": "consultation", "answer": {"reply": "已答复", "resolved": false}}),
    ];
    for fields in cases {
        let batch = incoming(&[complaint("PT9", fields.clone())]);
        let keys = wanted_for_all(&batch).merge_keys;
        let decided = decide(&rules(), &batch, &[true], Loaded::default(), now());
        let order = order_of(&decided, "PT9");
        assert_eq!(
            keys,
            MergeKey::of_order(order).into_iter().collect::<Vec<_>>(),
            "{fields}"
        );
    }
}

#[test]
fn client_clocks_cannot_move_deadlines_or_on_time_flags() {
    let loaded = |state: OrderState| {
        let received = now() - chrono::TimeDelta::days(10);
        let mut decided = run(
            &[complaint(
                "PT1",
                json!({"occurred_at": "2026-11-15T10:00:00+08:00"}),
            )],
            Loaded::default(),
        );
        let (mut order, _) = decided.orders.remove(0);
        assert_eq!(
            order.report.received_at, received,
            "a back-dated complaint counts from its claim"
        );
        order.state = state;
        Loaded {
            orders: vec![order],
            ..Loaded::default()
        }
    };
    // A reply back-dated to before the committed deadline (long past) is still late: the
    // engine counts it from when it received it.
    let reply = action(
        EventType::OrderReplied,
        "PT1",
        json!({"department": "SCJGJ", "reply": "已处理", "resolved": true,
               "occurred_at": "2026-11-15T11:00:00+08:00"}),
    );
    let decided = run(&[reply], loaded(OrderState::Accepted));
    let order = order_of(&decided, "PT1");
    assert_eq!(
        (order.replied_at, order.on_time),
        (Some(now()), Some(false))
    );
    assert_eq!(decided.timeline[0].occurred_at, now());
    assert_eq!(
        decided.timeline[0].detail["occurred_at"], "2026-11-15T11:00:00+08:00",
        "the sender's claim is kept"
    );

    // (occurred_at, accepted?) against the engine's clock of 10:00.
    let cases = [
        ("2026-11-25T10:04:59+08:00", true),
        ("2026-11-25T10:05:00+08:00", true),
        ("2026-11-25T10:05:01+08:00", false),
        ("9999-12-31T23:59:59+08:00", false),
    ];
    for (occurred_at, accepted) in cases {
        let decided = run(
            &[complaint("PT9", json!({"occurred_at": occurred_at}))],
            Loaded::default(),
        );
        match &decided.outcomes[0] {
            Outcome::Applied(_) => {
                assert!(accepted, "{occurred_at}");
                assert_eq!(
                    order_of(&decided, "PT9").report.received_at,
                    now(),
                    "never from the future"
                );
            }
            Outcome::Rejected(r) => {
                assert!(!accepted, "{occurred_at}: {r}");
                assert_eq!(r.code, RejectCode::InvalidField);
                assert!(r.detail.starts_with("occurred_at: "), "{r}");
            }
            Outcome::Duplicate => panic!("{occurred_at}"),
        }
    }
}

#[test]
fn each_appointment_is_written_once_in_its_last_state_with_whether_it_existed() {
    use crate::appointment::AppointmentState::{Booked, Called, CheckedIn};
    let booked = |no: &str| {
        action(
            EventType::AppointmentBooked,
            no,
            json!({"category": "SP-0101", "service_point": "ZX", "slot_start": "2026-11-25T10:00:00+08:00"}),
        )
    };
    let checked_in = |no: &str| {
        action(
            EventType::AppointmentCheckedIn,
            no,
            json!({"service_point": "ZX"}),
        )
    };
    let called = |no: &str| action(EventType::AppointmentCalled, no, json!({"window": "A3"}));
    // (what, appointments the store loaded, events, written in order)
    let cases = [
        (
            "booked and checked in within the batch",
            vec![],
            vec![booked("YY1"), checked_in("YY1")],
            vec![("YY1", CheckedIn, Existed::No)],
        ),
        (
            "one loaded, touched twice",
            vec!["YY2"],
            vec![checked_in("YY2"), called("YY2")],
            vec![("YY2", Called, Existed::Yes)],
        ),
        (
            "a new one and a loaded one, in first-touch order",
            vec!["YY2"],
            vec![booked("YY1"), checked_in("YY2"), checked_in("YY1")],
            vec![
                ("YY1", CheckedIn, Existed::No),
                ("YY2", CheckedIn, Existed::Yes),
            ],
        ),
        (
            "loaded but not touched",
            vec!["YY2"],
            vec![booked("YY1")],
            vec![("YY1", Booked, Existed::No)],
        ),
    ];
    for (what, loaded, events, expected) in cases {
        let appointments = loaded
            .iter()
            .map(|no| {
                let event = InboundEvent::parse(booked(no).to_string().as_bytes(), 1 << 16);
                appointment::book(&event.unwrap(), now()).unwrap()
            })
            .collect();
        let decided = run(
            &events,
            Loaded {
                appointments,
                ..Loaded::default()
            },
        );
        assert!(codes(&decided).iter().all(Option::is_none), "{what}");
        let written: Vec<_> = decided
            .appointments
            .iter()
            .map(|(a, existed)| (a.order_no.as_str(), a.state, *existed))
            .collect();
        assert_eq!(written, expected, "{what}");
        assert_eq!(decided.timeline.len(), events.len(), "{what}");
        assert!(decided.orders.is_empty(), "{what}");
    }
}

#[test]
fn a_service_point_outside_the_catalog_is_refused_at_booking_and_at_check_in() {
    use crate::appointment::AppointmentState::CheckedIn;
    let booked = |no: &str, point: &str| {
        action(
            EventType::AppointmentBooked,
            no,
            json!({"category": "SP-0101", "service_point": point, "slot_start": "2026-11-25T10:00:00+08:00"}),
        )
    };
    let checked_in = |no: &str, point: &str| {
        action(
            EventType::AppointmentCheckedIn,
            no,
            json!({"service_point": point}),
        )
    };
    let events = [
        booked("YY1", "NOWHERE"),
        booked("YY1", "ZX"),
        checked_in("YY1", "NOWHERE"),
        checked_in("YY1", "ZX"),
    ];
    let decided = run(&events, Loaded::default());
    assert_eq!(
        codes(&decided),
        [
            Some(RejectCode::InvalidField),
            None,
            Some(RejectCode::InvalidField),
            None
        ]
    );
    for rejected in &decided.rejected {
        assert_eq!(
            rejected.reason,
            "invalid_field: service_point: not a service point of the catalog"
        );
    }
    // The refused check-in changed nothing; the good one checked the citizen in.
    let written: Vec<_> = decided
        .appointments
        .iter()
        .map(|(a, _)| (a.order_no.as_str(), a.state))
        .collect();
    assert_eq!(written, [("YY1", CheckedIn)]);
    assert_eq!(decided.timeline.len(), 2, "the two accepted events only");
}

#[test]
fn what_arrives_is_keyed_by_its_event_id_else_its_message_id_and_labelled_by_type() {
    let id = "0193a5b2-7c1d-7e00-8000-00000000000a";
    let accepted = json!({
        "event_id": id, "type": EventType::OrderAccepted.as_str(),
        "occurred_at": "2026-11-25T09:50:00+08:00", "order_no": "PT1", "department": "SCJGJ",
    });
    let mut no_department = accepted.clone();
    no_department.as_object_mut().unwrap().remove("department");
    let valid = accepted.to_string().into_bytes();
    let invalid = no_department.to_string().into_bytes();
    let limit = valid.len().max(invalid.len());
    // (what, body, AMQP message_id, body limit, idempotency key, type label, parsed?)
    let cases = [
        (
            "valid",
            valid.clone(),
            Some("m1"),
            limit,
            Some(id.to_owned()),
            EventType::OrderAccepted.as_str(),
            true,
        ),
        // An invalid body within the limit is sniffed: rejected once per event_id.
        (
            "invalid",
            invalid.clone(),
            Some("m1"),
            limit,
            Some(id.to_owned()),
            EventType::OrderAccepted.as_str(),
            false,
        ),
        (
            "invalid, no message id",
            invalid.clone(),
            None,
            limit,
            Some(id.to_owned()),
            EventType::OrderAccepted.as_str(),
            false,
        ),
        // A body over the limit is never read, not even sniffed.
        (
            "too large",
            invalid.clone(),
            Some("m1"),
            invalid.len() - 1,
            Some("message:m1".to_owned()),
            "invalid",
            false,
        ),
        (
            "too large, no message id",
            valid.clone(),
            None,
            valid.len() - 1,
            None,
            "invalid",
            false,
        ),
        (
            "garbage",
            b"{not json".to_vec(),
            Some("m2"),
            limit,
            Some("message:m2".to_owned()),
            "invalid",
            false,
        ),
        (
            "garbage, no message id",
            b"{not json".to_vec(),
            None,
            limit,
            None,
            "invalid",
            false,
        ),
    ];
    for (what, body, message_id, max, key, label, parsed) in cases {
        let incoming = Incoming::from_bytes(body.clone(), message_id, now(), max);
        // A refused body's key carries its digest after the event_id or message id.
        let base = incoming.idempotency_key.as_deref().map(|k| {
            if parsed {
                k
            } else {
                k.split_once('#').map_or(k, |(base, _)| base)
            }
        });
        assert_eq!(base, key.as_deref(), "{what}");
        if !parsed && key.is_some() {
            let digest = incoming
                .idempotency_key
                .as_deref()
                .unwrap()
                .rsplit('#')
                .next();
            assert!(
                digest.is_some_and(|d| d.len() == 16 && d.bytes().all(|b| b.is_ascii_hexdigit())),
                "{what}: {:?}",
                incoming.idempotency_key
            );
        }
        assert_eq!(incoming.type_label(), label, "{what}");
        assert_eq!(incoming.parsed.is_ok(), parsed, "{what}");
        // Kept as it came, or past the limit as its first bytes with its size.
        assert_eq!(incoming.truncated.is_some(), body.len() > max, "{what}");
        let kept = body.len().min(max);
        assert_eq!(incoming.body, body[..kept], "{what}: kept as it came");
    }
}

#[test]
fn the_timeline_says_who_acted_and_what_each_event_did() {
    let events = [
        complaint("PT1", json!({})),
        action(
            EventType::OrderAccepted,
            "PT1",
            json!({"department": "SCJGJ", "handler": "张科员"}),
        ),
        action(EventType::OrderUrged, "PT1", json!({"note": "请尽快"})),
        action(
            EventType::ExtensionRequested,
            "PT1",
            json!({"department": "SCJGJ", "extra_working_days": 2, "reason": "r"}),
        ),
        action(
            EventType::ExtensionDecided,
            "PT1",
            json!({"approved": false}),
        ),
        action(
            EventType::OrderReplied,
            "PT1",
            json!({"department": "SCJGJ", "reply": "已处理", "resolved": false}),
        ),
        action(
            EventType::OrderFeedback,
            "PT1",
            json!({"rating": "dissatisfied", "resolved": false}),
        ),
        action(
            EventType::OrderReturned,
            "PT1",
            json!({"department": "SCJGJ", "reason": "r"}),
        ),
        action(
            EventType::ReturnDecided,
            "PT1",
            json!({"approved": true, "department": "MANUAL", "note": "待人工派单"}),
        ),
        action(
            EventType::OrderDispatched,
            "PT1",
            json!({"department": "YSBZX", "operator": "op7"}),
        ),
        action(
            EventType::OrderAccepted,
            "PT1",
            json!({"department": "YSBZX"}),
        ),
        action(EventType::OrderSuspended, "PT1", json!({"reason": "r"})),
        action(EventType::OrderResumed, "PT1", json!({})),
    ];
    let decided = run(&events, Loaded::default());
    assert!(
        codes(&decided).iter().all(Option::is_none),
        "{:?}",
        codes(&decided)
    );
    // (actor, effect) per event, in order. Received 09:30 with a 1-working-day sign
    // limit; the actions happen at 09:50, in time.
    let expected = [
        (
            None,
            json!({"department": "SCJGJ", "rule": "catalog:SC-0101"}),
        ),
        (
            Some("SCJGJ/张科员"),
            json!({"state": "accepted", "department": "SCJGJ", "on_time": true}),
        ),
        (
            Some("supervisor"),
            json!({"state": "accepted", "department": "SCJGJ", "level": "reminder", "urge_level": "reminder"}),
        ),
        (
            Some("SCJGJ"),
            json!({"state": "accepted", "department": "SCJGJ"}),
        ),
        (
            Some("supervisor"),
            json!({"state": "accepted", "department": "SCJGJ"}),
        ),
        (
            Some("SCJGJ"),
            json!({"state": "replied", "department": "SCJGJ", "on_time": true, "resolved": false}),
        ),
        (
            Some("callback"),
            json!({"state": "dispatched", "department": "SCJGJ", "rating": "dissatisfied", "resolved": false, "reopened": true}),
        ),
        (
            Some("SCJGJ"),
            json!({"state": "return_pending", "department": "MANUAL", "returned_by": "SCJGJ", "review": true}),
        ),
        (
            Some("operator"),
            json!({"state": "dispatched", "department": "MANUAL", "approved": true}),
        ),
        (
            Some("operator/op7"),
            json!({"state": "dispatched", "department": "YSBZX"}),
        ),
        (
            Some("YSBZX"),
            json!({"state": "accepted", "department": "YSBZX", "on_time": true}),
        ),
        (
            Some("supervisor"),
            json!({"state": "suspended", "department": "YSBZX"}),
        ),
        (
            Some("supervisor"),
            json!({"state": "accepted", "department": "YSBZX"}),
        ),
    ];
    assert_eq!(decided.timeline.len(), expected.len());
    for (entry, (actor, effect)) in decided.timeline.iter().zip(expected) {
        let what = entry.event_type;
        assert_eq!(entry.order_no, "PT1", "{what}");
        assert_eq!(entry.actor.as_deref(), actor, "{what}");
        assert_eq!(entry.detail["effect"], effect, "{what}");
        assert_eq!(
            entry.detail["type"],
            json!(what.as_str()),
            "{what}: the event as sent"
        );
    }
}

#[test]
fn the_authenticated_sender_is_the_actor_whatever_the_body_says() {
    // (event, sender, actor recorded)
    let accept = |fields: Value| action(EventType::OrderAccepted, "PT1", fields);
    let cases = [
        (complaint("PT1", json!({})), None, None),
        (
            complaint("PT1", json!({})),
            Some("call-centre-07"),
            Some("call-centre-07"),
        ),
        (
            accept(json!({"department": "SCJGJ", "handler": "假冒"})),
            None,
            Some("SCJGJ/假冒"),
        ),
        (
            accept(json!({"department": "SCJGJ", "handler": "假冒"})),
            Some("scjgj-system"),
            Some("scjgj-system"),
        ),
    ];
    for (event, sender, actor) in cases {
        let mut batch = incoming(&[complaint("PT1", json!({})), event.clone()]);
        if event["type"] == EventType::ComplaintReceived.as_str() {
            batch.remove(0);
        }
        let last = batch.pop().unwrap();
        batch.push(match sender {
            Some(name) => last.sent_by(name),
            None => last,
        });
        let fresh = vec![true; batch.len()];
        let decided = decide(&rules(), &batch, &fresh, Loaded::default(), now());
        assert!(
            decided
                .outcomes
                .iter()
                .all(|o| matches!(o, Outcome::Applied(_))),
            "{event}"
        );
        let entry = decided.timeline.last().unwrap();
        assert_eq!(entry.event_type.as_str(), event["type"], "{sender:?}");
        assert_eq!(entry.actor.as_deref(), actor, "{event} sent by {sender:?}");
    }
}

#[test]
fn a_preview_places_a_draft_as_the_intake_then_does() {
    // (draft fields over a complaint, expected department and rule)
    let cases = [
        (json!({}), "SCJGJ", "catalog:SC-0101"),
        (
            json!({"category": "其他", "title": "牌照过期", "content": "营业执照过期"}),
            "SCJGJ",
            "keyword:过期→SC-0101",
        ),
        (
            json!({"category": "其他", "title": "t", "content": "c"}),
            "MANUAL",
            "manual",
        ),
    ];
    for (fields, department, rule) in cases {
        let event = complaint("PT1", fields.clone());
        let decided = run(std::slice::from_ref(&event), Loaded::default());
        let order = order_of(&decided, "PT1");
        let mut draft = event.as_object().unwrap().clone();
        for envelope in ["event_id", "order_no", "type"] {
            draft.remove(envelope);
        }
        let preview = preview(&rules(), &draft, now(), 1 << 16).unwrap();
        let placement = &preview.placement;
        assert_eq!(
            (
                placement.route.department.as_str(),
                placement.route.rule.as_str()
            ),
            (department, rule),
            "{fields}"
        );
        assert_eq!(order.department, department, "{fields}");
        assert_eq!(order.rule, rule, "{fields}");
        assert_eq!(placement.deadlines, order.deadlines, "{fields}");
        assert_eq!(preview.received_at, order.report.received_at);
        assert!(!preview.answered_at_intake);
    }

    // (draft change, rejection code, reason starts with)
    let refusals = [
        (
            json!({"type": EventType::OrderAccepted}),
            RejectCode::InvalidField,
            "type: ",
        ),
        (
            json!({"occurred_at": "2026-11-25T11:00:00+08:00"}),
            RejectCode::InvalidField,
            "occurred_at: ",
        ),
        (json!({"title": 5}), RejectCode::InvalidField, "title: "),
    ];
    for (fields, code, reason) in refusals {
        let mut draft = complaint("PT1", fields.clone())
            .as_object()
            .unwrap()
            .clone();
        if fields.get("type").is_some() {
            draft.insert("department".into(), json!("SCJGJ"));
        }
        let refused = preview(&rules(), &draft, now(), 1 << 16).unwrap_err();
        assert_eq!(refused.code, code, "{fields}: {refused}");
        assert!(refused.detail.starts_with(reason), "{fields}: {refused}");
    }
}

#[test]
fn a_co_handled_matter_sends_the_lead_and_each_co_handler_a_task_but_one_dispatch() {
    let decided = run(
        &[
            complaint("PT1", json!({"category": "XT-0001", "title": "无证诊所"})),
            action(
                EventType::OrderAccepted,
                "PT1",
                json!({"department": "YSBZX"}),
            ),
            action(
                EventType::OrderCoReplied,
                "PT1",
                json!({"department": "YSBZX", "reply": "已核查执业资质"}),
            ),
        ],
        Loaded::default(),
    );
    assert_eq!(codes(&decided), [None, None, None]);
    let order = order_of(&decided, "PT1");
    assert_eq!(order.department, "SCJGJ");
    assert_eq!(order.co_departments(), ["ZFYJJ", "YSBZX"]);
    assert_eq!(
        decided.dispatches.len(),
        1,
        "co-handlers do not hold the order"
    );
    let tasks: Vec<Value> = decided
        .outbox
        .iter()
        .filter(|m| m.kind == OutboxKind::Task)
        .map(|m| serde_json::from_slice(&m.body).unwrap())
        .collect();
    let summary: Vec<(String, String, Value, Value)> = tasks
        .iter()
        .map(|t| {
            (
                t["department"].as_str().unwrap().to_owned(),
                t["role"].as_str().unwrap().to_owned(),
                t["lead_department"].clone(),
                t["co_departments"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "SCJGJ".into(),
                "lead".into(),
                Value::Null,
                json!(["ZFYJJ", "YSBZX"])
            ),
            ("ZFYJJ".into(), "co".into(), json!("SCJGJ"), json!([])),
            ("YSBZX".into(), "co".into(), json!("SCJGJ"), json!([])),
        ]
    );
    // Received 09:30, decided at 10:00 (the engine's clock): co-reply due 0.6 of the
    // committed 2.5 working days after 10:00, Thu 16:00.
    assert_eq!(tasks[1]["co_reply_due_at"], "2026-11-26T16:00:00+08:00");
    assert_eq!(decided.outbox[1].routing_key, "ZFYJJ");
    // A co-handler's acceptance is recorded as its own, judged by its own sign deadline.
    assert_eq!(
        decided.timeline[1].detail["effect"],
        json!({"state": "dispatched", "department": "SCJGJ", "co_handler": "YSBZX",
               "on_time": true})
    );
    let co_reply = &decided.timeline[2];
    assert_eq!(
        co_reply.detail["effect"],
        json!({"state": "dispatched", "department": "SCJGJ", "co_handler": "YSBZX",
               "on_time": true, "co_reply_due_at": "2026-11-26T16:00:00+08:00"})
    );
    assert_eq!(
        decided.timeline[0].detail["effect"]["co_departments"],
        json!(["ZFYJJ", "YSBZX"])
    );
}
