//! A timeline entry as a person reads it: what happened, in Chinese, and what was decided
//! (approved or refused, how many days, which level, the reason given), never a raw event
//! name or a value of the wire. Pure: from the entry's type and its stored detail (the
//! event as received, without the citizen, and its `effect` on the order).

use super::words;
use hotline_core::attachment::{ATTACHED, MediaType, RECORDING, human_size};
use hotline_core::replay::RECOMPUTED;
use hotline_core::rules::Catalog;
use hotline_schema::event::EventType;
use hotline_schema::values::{Rating, UrgeLevel};
use serde_json::Value;

/// What happened, and its details, for one entry.
pub fn entry_words(event_type: &str, detail: &Value, catalog: &Catalog) -> (String, String) {
    let text = |key: &str| {
        detail
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|t| !t.is_empty())
    };
    let effect = |key: &str| detail.get("effect").and_then(|e| e.get(key));
    let flag = |key: &str| effect(key).and_then(Value::as_bool);
    // A yes-or-no the event itself carries (approved, upheld, resolved).
    let decided = |key: &str| detail.get(key).and_then(Value::as_bool);
    let department = |code: &str| match catalog.department(code) {
        Some(d) => format!("{}({code})", d.name),
        None => code.to_owned(),
    };
    let timing = |on_time: Option<bool>| match on_time {
        Some(true) => "按时",
        Some(false) => "超时",
        None => "",
    };
    let resolved = |key: &str| match decided(key) {
        Some(true) => "已解决",
        Some(false) => "未解决",
        None => "",
    };
    let mut parts: Vec<String> = Vec::new();
    let mut say = |part: String| {
        if !part.is_empty() {
            parts.push(part)
        }
    };
    let Some(kind) = EventType::parse(event_type) else {
        let what = if event_type == RECOMPUTED {
            say(format!(
                "承诺办结 {} → {}",
                instant(detail.pointer("/before/committed_due_at")),
                instant(detail.pointer("/after/committed_due_at"))
            ));
            say(format!(
                "法定办结 {} → {}",
                instant(detail.pointer("/before/statutory_due_at")),
                instant(detail.pointer("/after/statutory_due_at"))
            ));
            "节假日调整,期限重算"
        } else if event_type == ATTACHED && text("media_type") == Some(RECORDING) {
            if let Some(code) = text("department") {
                say(format!("由 {} 提供", department(code)));
            }
            "关联通话录音"
        } else if event_type == ATTACHED {
            if let Some(kind) = text("media_type").and_then(MediaType::parse) {
                say(kind.label().to_owned());
            }
            if let Some(bytes) = detail.get("size_bytes").and_then(Value::as_u64) {
                say(human_size(bytes));
            }
            if let Some(code) = text("department") {
                say(format!("由 {} 提供", department(code)));
            }
            "上传附件"
        } else {
            "其他记录"
        };
        return (what.to_owned(), parts.join(";"));
    };
    let what = match kind {
        EventType::ComplaintReceived => {
            if let Some(to) = effect("department").and_then(Value::as_str) {
                say(format!("分派至 {}", department(to)));
            }
            if let Some(co) = effect("co_departments").and_then(Value::as_array) {
                let names: Vec<String> = co
                    .iter()
                    .filter_map(Value::as_str)
                    .map(department)
                    .collect();
                say(format!("协办 {}", names.join("、")));
            }
            "受理登记"
        }
        EventType::AppointmentBooked => "预约",
        EventType::AppointmentCheckedIn => "到场签到",
        EventType::AppointmentCalled => "叫号",
        EventType::AppointmentCompleted => "办理完成",
        EventType::OrderAccepted => {
            let who = text("department").map(department).unwrap_or_default();
            say(format!("{who} {}", timing(flag("on_time")))
                .trim()
                .to_owned());
            if effect("co_handler").is_some() {
                "协办签收"
            } else {
                "签收"
            }
        }
        EventType::OrderDispatched => {
            say(format!(
                "派至 {}",
                text("department").map(department).unwrap_or_default()
            ));
            "人工派单"
        }
        EventType::OrderReturned => {
            say(reason("退回原因", text("reason")));
            if flag("review") == Some(true) {
                say("等待退单审核".to_owned());
            }
            "退单"
        }
        EventType::ExtensionRequested => {
            if let Some(days) = detail.get("extra_working_days").and_then(Value::as_u64) {
                say(format!("申请延期 {days} 个工作日"));
            }
            say(reason("理由", text("reason")));
            "申请延期"
        }
        EventType::ExtensionDecided => {
            match decided("approved") {
                Some(true) => match detail.get("extra_working_days").and_then(Value::as_u64) {
                    Some(days) => say(format!("同意延期 {days} 个工作日")),
                    None => say("同意延期(按申请天数)".to_owned()),
                },
                Some(false) => say("不同意延期".to_owned()),
                None => {}
            }
            say(reason("意见", text("reason")));
            "延期审核"
        }
        EventType::OrderSuspended => {
            say(reason("原因", text("reason")));
            "挂起(暂停计时)"
        }
        EventType::OrderResumed => {
            say(reason("原因", text("reason")));
            "恢复(继续计时)"
        }
        EventType::OrderReplied => {
            say(reason("答复", text("reply")));
            say(resolved("resolved").to_owned());
            say(timing(flag("on_time")).to_owned());
            "答复"
        }
        EventType::OrderUrged => {
            let level = detail
                .get("level")
                .and_then(Value::as_str)
                .and_then(UrgeLevel::parse)
                .unwrap_or(UrgeLevel::Reminder);
            say(reason("意见", text("note")));
            words::urge_level(level)
        }
        EventType::OrderFeedback => {
            if let Some(rating) = detail
                .get("rating")
                .and_then(Value::as_str)
                .and_then(Rating::parse)
            {
                say(format!("评价:{}", words::rating(rating)));
            }
            say(resolved("resolved").to_owned());
            say(reason("回访意见", text("comment")));
            if flag("reopened") == Some(true) {
                say("不满意且未解决,退回原单位重办".to_owned());
            }
            "回访"
        }
        EventType::OrderCoReplied => {
            say(reason("协办答复", text("reply")));
            say(timing(flag("on_time")).to_owned());
            "协办答复"
        }
        EventType::ReturnDecided => {
            match decided("approved") {
                Some(true) => say(match text("department") {
                    Some(to) => format!("同意退单,改派 {}", department(to)),
                    None => "同意退单,按规则改派".to_owned(),
                }),
                Some(false) => say("驳回退单,原单位继续办理".to_owned()),
                None => {}
            }
            say(reason("审核意见", text("note")));
            "退单审核"
        }
        EventType::RatingAppealed => {
            say(reason("理由", text("reason")));
            "评价复核申请"
        }
        EventType::AppealDecided => {
            match decided("upheld") {
                Some(true) => say("复核成立,该评价不计入满意率".to_owned()),
                Some(false) => say("复核不成立,维持原评价".to_owned()),
                None => {}
            }
            say(reason("意见", text("note")));
            "评价复核"
        }
    };
    (what.to_owned(), parts.join(";"))
}

fn reason(label: &str, text: Option<&str>) -> String {
    text.map_or_else(String::new, |t| format!("{label}:{t}"))
}

/// A stored business time (RFC 3339) to the minute, as the pages show instants.
fn instant(value: Option<&Value>) -> String {
    value
        .and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map_or_else(|| "—".to_owned(), |t| words::when(t.to_utc()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_core::config::Config;
    use hotline_core::rules::Rules;
    use serde_json::json;

    #[test]
    fn every_entry_reads_in_words_with_its_decision() {
        let rules = Rules::new(&Config::test_catalog());
        let catalog = &rules.catalog;
        // (type, detail, what, details)
        let cases = [
            (
                EventType::ComplaintReceived.as_str(),
                json!({"title": "t", "effect": {"department": "SCJGJ", "co_departments": ["YSBZX"]}}),
                "受理登记",
                "分派至 市场监督管理局(SCJGJ);协办 医社保中心(YSBZX)",
            ),
            (
                EventType::OrderAccepted.as_str(),
                json!({"department": "SCJGJ", "effect": {"on_time": false}}),
                "签收",
                "市场监督管理局(SCJGJ) 超时",
            ),
            (
                EventType::OrderAccepted.as_str(),
                json!({"department": "YSBZX", "effect": {"co_handler": "YSBZX", "on_time": true}}),
                "协办签收",
                "医社保中心(YSBZX) 按时",
            ),
            (
                EventType::ExtensionRequested.as_str(),
                json!({"department": "SCJGJ", "extra_working_days": 3, "reason": "需现场核查"}),
                "申请延期",
                "申请延期 3 个工作日;理由:需现场核查",
            ),
            (
                EventType::ExtensionDecided.as_str(),
                json!({"approved": true, "extra_working_days": 2}),
                "延期审核",
                "同意延期 2 个工作日",
            ),
            (
                EventType::ExtensionDecided.as_str(),
                json!({"approved": false, "reason": "理由不充分"}),
                "延期审核",
                "不同意延期;意见:理由不充分",
            ),
            (
                EventType::OrderUrged.as_str(),
                json!({"level": "supervision", "note": "尽快办理"}),
                "督办",
                "意见:尽快办理",
            ),
            (
                EventType::OrderUrged.as_str(),
                json!({"level": "listed"}),
                "挂牌督办",
                "",
            ),
            (
                EventType::OrderReplied.as_str(),
                json!({"reply": "已责令下架", "resolved": true, "effect": {"on_time": true}}),
                "答复",
                "答复:已责令下架;已解决;按时",
            ),
            (
                EventType::OrderFeedback.as_str(),
                json!({"rating": "dissatisfied", "resolved": false, "effect": {"reopened": true}}),
                "回访",
                "评价:不满意;未解决;不满意且未解决,退回原单位重办",
            ),
            (
                EventType::ReturnDecided.as_str(),
                json!({"approved": true, "department": "YSBZX", "note": "职责不符"}),
                "退单审核",
                "同意退单,改派 医社保中心(YSBZX);审核意见:职责不符",
            ),
            (
                EventType::ReturnDecided.as_str(),
                json!({"approved": false, "note": "属本单位职责"}),
                "退单审核",
                "驳回退单,原单位继续办理;审核意见:属本单位职责",
            ),
            (
                EventType::OrderReturned.as_str(),
                json!({"department": "SCJGJ", "reason": "非本单位职责", "effect": {"review": true}}),
                "退单",
                "退回原因:非本单位职责;等待退单审核",
            ),
            (
                EventType::AppealDecided.as_str(),
                json!({"upheld": true, "note": "市民诉求超出职权"}),
                "评价复核",
                "复核成立,该评价不计入满意率;意见:市民诉求超出职权",
            ),
            (
                RECOMPUTED,
                json!({"before": {"committed_due_at": "2026-12-30T10:00:00+08:00", "statutory_due_at": "2027-01-06T10:00:00+08:00"},
                       "after": {"committed_due_at": "2026-12-31T10:00:00+08:00", "statutory_due_at": "2027-01-07T10:00:00+08:00"}}),
                "节假日调整,期限重算",
                "承诺办结 2026-12-30 10:00 → 2026-12-31 10:00;法定办结 2027-01-06 10:00 → 2027-01-07 10:00",
            ),
            (
                ATTACHED,
                json!({"attachment_id": "0193", "media_type": "image/jpeg", "size_bytes": 35328, "department": "SCJGJ"}),
                "上传附件",
                "图片;34.5 KB;由 市场监督管理局(SCJGJ) 提供",
            ),
            (
                ATTACHED,
                json!({"media_type": "application/pdf", "size_bytes": 820, "department": null}),
                "上传附件",
                "PDF 文档;820 B",
            ),
            (
                ATTACHED,
                json!({"media_type": "recording", "size_bytes": 0, "department": null}),
                "关联通话录音",
                "",
            ),
            ("something.else", json!({}), "其他记录", ""),
        ];
        for (event_type, detail, what, details) in cases {
            assert_eq!(
                entry_words(event_type, &detail, catalog),
                (what.to_owned(), details.to_owned()),
                "{event_type} {detail}"
            );
        }
    }

    #[test]
    fn no_entry_shows_a_raw_event_name_or_wire_value() {
        let rules = Rules::new(&Config::test_catalog());
        let detail = json!({"level": "reminder", "approved": true, "rating": "satisfied",
                            "resolved": true, "upheld": false, "extra_working_days": 1});
        for event_type in EventType::NAMES {
            let (what, details) = entry_words(event_type, &detail, &rules.catalog);
            for shown in [&what, &details] {
                assert!(
                    !shown.contains('.') && !shown.contains('_'),
                    "{event_type}: {shown}"
                );
                for value in ["reminder", "satisfied", "true", "false"] {
                    assert!(!shown.contains(value), "{event_type}: {shown}");
                }
            }
            assert!(!what.is_ascii(), "{event_type}: {what}");
        }
    }
}
