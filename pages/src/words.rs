//! What the pages call things, in Simplified Chinese: the contract's values, a refusal in
//! plain words, a span of working time. Pure, so that the labels are tested once.

use hotline_core::ranking::Colour;
use hotline_schema::rejection::{RejectCode, Rejection};
use hotline_schema::text::{Fault, FieldFault, TextField};
use hotline_schema::values::{
    AlertLevel, Channel, OrderState, Rating, RequestKind, SlaState, UrgeLevel, Urgency,
};
use std::time::Duration;

pub fn kind(kind: RequestKind) -> &'static str {
    match kind {
        RequestKind::Consultation => "咨询",
        RequestKind::Help => "求助",
        RequestKind::Complaint => "投诉",
        RequestKind::Report => "举报",
        RequestKind::Suggestion => "建议",
    }
}

pub fn channel(channel: Channel) -> &'static str {
    match channel {
        Channel::Phone => "电话",
        Channel::Web => "网站",
        Channel::App => "App",
        Channel::Wechat => "微信",
        Channel::Sms => "短信",
    }
}

pub fn urgency(urgency: Urgency) -> &'static str {
    match urgency {
        Urgency::Normal => "一般",
        Urgency::Urgent => "紧急",
        Urgency::Emergency => "特急",
    }
}

pub fn rating(rating: Rating) -> &'static str {
    match rating {
        Rating::VerySatisfied => "非常满意",
        Rating::Satisfied => "满意",
        Rating::BasicallySatisfied => "基本满意",
        Rating::Dissatisfied => "不满意",
        Rating::VeryDissatisfied => "非常不满意",
    }
}

pub fn state(state: OrderState) -> &'static str {
    match state {
        OrderState::Dispatched => "待签收",
        OrderState::Accepted => "办理中",
        OrderState::Suspended => "已挂起",
        OrderState::Merged => "已合并",
        OrderState::Replied => "已答复待回访",
        OrderState::Closed => "已办结",
        OrderState::ReturnPending => "退单待审核",
    }
}

pub fn sla_state(state: SlaState) -> &'static str {
    match state {
        SlaState::OnTrack => "正常",
        SlaState::Warning => "预警",
        SlaState::Overdue => "超期",
        SlaState::StatutoryOverdue => "超法定时限",
        SlaState::Paused => "暂停计时",
        SlaState::Closed => "已办结",
    }
}

/// A supervision level (督办级别).
pub fn urge_level(level: UrgeLevel) -> &'static str {
    match level {
        UrgeLevel::Reminder => "催办",
        UrgeLevel::Supervision => "督办",
        UrgeLevel::Listed => "挂牌督办",
    }
}

/// A league-table colour, said (the mark beside it is only a colour).
pub fn colour(colour: Colour) -> &'static str {
    match colour {
        Colour::Green => "绿",
        Colour::Yellow => "黄",
        Colour::Red => "红",
    }
}

/// An instant as the pages show it: business time to the minute, `2026-12-01 17:52`.
pub fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    at.with_timezone(&hotline_core::calendar::BUSINESS_TZ)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// A refusal of the dispatcher, in words a handler or an operator can act on. The
/// rejection's own detail (an English path and reason) follows for the technical reader.
pub fn refusal(rejection: &Rejection) -> String {
    let plain = match rejection.code {
        RejectCode::InvalidState => {
            "该工单当前的状态不允许这项操作(可能已被他人处理),请刷新后查看最新状态。"
        }
        RejectCode::WrongDepartment => "该工单现在不由本单位办理。",
        RejectCode::UnknownOrder => "没有这个工单。",
        RejectCode::DuplicateOrder => "这个工单号已经登记过了。",
        RejectCode::InvalidField | RejectCode::MissingField => "填写的内容有误,请检查后重试。",
        RejectCode::TooLarge => "内容太长,请精简后重试。",
        RejectCode::NotUtf8 | RejectCode::NotJson | RejectCode::UnknownType => {
            "提交的内容无法识别。"
        }
        RejectCode::Unprocessable => "系统暂时无法处理这项操作,已记录,请联系管理员。",
    };
    format!("{plain}({})", rejection.detail)
}

/// An alert's level as the board lists it (the live script says the same,
/// `pages/assets/hotline.js`, `LEVELS`).
pub fn alert_level(level: AlertLevel) -> &'static str {
    match level {
        AlertLevel::SignOverdue => "超时未签收",
        AlertLevel::Warning => "临期预警",
        AlertLevel::Overdue => "超承诺时限",
        AlertLevel::StatutoryOverdue => "超法定时限",
        AlertLevel::CoOverdue => "协办超期未答复",
        AlertLevel::Supervision => "转为督办",
    }
}

/// A form field's name as the complaint form labels it.
pub fn text_field(field: TextField) -> &'static str {
    match field {
        TextField::Title => "标题",
        TextField::Content => "诉求内容",
        TextField::Address => "地址",
        TextField::CitizenName => "市民姓名",
        TextField::CitizenPhone => "联系电话",
        TextField::Reply => "答复内容",
        TextField::Reason => "理由",
        TextField::Note => "意见",
        TextField::Comment => "市民意见",
    }
}

/// What is wrong with a field, said beside it.
pub fn field_fault(fault: FieldFault) -> String {
    let name = text_field(fault.field);
    match fault.fault {
        Fault::Blank => format!("请填写{name}。"),
        Fault::TooLong => format!("{name}最多 {} 个字,请精简。", fault.field.max_chars()),
        Fault::NotAPhone => format!(
            "{name}应为可拨打的号码:至少 3 位数字,可含空格、+、-、括号、/、逗号、# 或“转”,最多 {} 个字符。",
            fault.field.max_chars()
        ),
    }
}

/// Each department's name by its code, as the catalog gives them.
pub fn department_names(
    catalog: &hotline_core::rules::Catalog,
) -> std::collections::BTreeMap<String, String> {
    catalog
        .departments
        .iter()
        .map(|d| (d.code.clone(), d.name.clone()))
        .collect()
}

/// A time limit as a person reads it: `5个工作日`, `4小时`, `30分钟`, `1天`, never the
/// configuration's `5wd` or `4h`.
pub fn limit(limit: hotline_core::config::Limit) -> String {
    use hotline_core::config::Limit;
    match limit {
        Limit::WorkingDays(d) => format!("{d}个工作日"),
        Limit::Natural(span) => {
            let minutes = span.as_secs() / 60;
            match (minutes / (24 * 60), minutes / 60 % 24, minutes % 60) {
                (0, 0, m) => format!("{m}分钟"),
                (0, h, 0) => format!("{h}小时"),
                (0, h, m) => format!("{h}小时{m}分钟"),
                (d, 0, 0) => format!("{d}天"),
                (d, h, 0) => format!("{d}天{h}小时"),
                (d, h, m) => format!("{d}天{h}小时{m}分钟"),
            }
        }
    }
}

/// Working time as a person reads it on a deadline: `3天2小时` (a working day of
/// `day_length`), `2小时15分`, `40分`.
pub fn working_span(span: Duration, day_length: Duration) -> String {
    let minutes = span.as_secs() / 60;
    let day_minutes = (day_length.as_secs() / 60).max(1);
    let (days, rest) = (minutes / day_minutes, minutes % day_minutes);
    let (hours, minutes) = (rest / 60, rest % 60);
    match (days, hours, minutes) {
        (0, 0, m) => format!("{m}分"),
        (0, h, 0) => format!("{h}小时"),
        (0, h, m) => format!("{h}小时{m}分"),
        (d, 0, _) => format!("{d}个工作日"),
        (d, h, _) => format!("{d}个工作日{h}小时"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_in_words_not_in_the_configurations_units() {
        use hotline_core::config::Limit;
        for (raw, words) in [
            ("5wd", "5个工作日"),
            ("1m", "1分钟"),
            ("4h", "4小时"),
            ("90m", "1小时30分钟"),
            ("24h", "1天"),
            ("36h", "1天12小时"),
        ] {
            assert_eq!(limit(Limit::parse(raw).unwrap()), words, "{raw}");
        }
    }

    #[test]
    fn the_live_script_names_each_alert_level_as_the_page_does() {
        let script = include_str!("../assets/hotline.js");
        for level in AlertLevel::ALL {
            let entry = format!("{}: \"{}\"", level.as_str(), alert_level(*level));
            assert!(script.contains(&entry), "hotline.js LEVELS lacks {entry}");
        }
    }

    #[test]
    fn every_field_fault_is_said_in_words_with_its_limit() {
        use hotline_schema::text::{Fault, FieldFault, TextField};
        for field in TextField::ALL {
            for fault in [Fault::Blank, Fault::TooLong, Fault::NotAPhone] {
                let said = field_fault(FieldFault {
                    field: *field,
                    fault,
                });
                assert!(said.contains(text_field(*field)), "{said}");
                assert!(!said.is_ascii(), "{said}");
                if fault != Fault::Blank {
                    assert!(said.contains(&field.max_chars().to_string()), "{said}");
                }
            }
        }
    }

    #[test]
    fn instants_are_shown_in_business_time_to_the_minute() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T09:52:45Z").unwrap();
        assert_eq!(when(at.with_timezone(&chrono::Utc)), "2026-12-01 17:52");
    }

    #[test]
    fn working_spans_read_as_people_say_them() {
        let day = Duration::from_secs(8 * 3600);
        let h = |h: u64, m: u64| Duration::from_secs(h * 3600 + m * 60);
        // (span, words)
        let cases = [
            (Duration::ZERO, "0分"),
            (Duration::from_secs(59), "0分"),
            (h(0, 40), "40分"),
            (h(2, 0), "2小时"),
            (h(2, 15), "2小时15分"),
            (h(8, 0), "1个工作日"),
            (h(8, 30), "1个工作日"),
            (h(26, 0), "3个工作日2小时"),
        ];
        for (span, words) in cases {
            assert_eq!(working_span(span, day), words, "{span:?}");
        }
    }

    #[test]
    fn every_refusal_has_plain_words_and_keeps_its_detail() {
        for code in RejectCode::ALL {
            let rejection = Rejection::new(*code, "department: not a department of the catalog");
            let words = refusal(&rejection);
            assert!(!words.starts_with('('), "{code:?}");
            assert!(
                words.ends_with("(department: not a department of the catalog)"),
                "{words}"
            );
        }
        assert!(refusal(&Rejection::new(RejectCode::InvalidState, "x")).contains("状态"));
    }

    #[test]
    fn every_value_has_a_label() {
        for k in RequestKind::ALL {
            assert!(!kind(*k).is_empty());
        }
        for s in OrderState::ALL {
            assert!(!state(*s).is_empty());
        }
        for s in SlaState::ALL {
            assert!(!sla_state(*s).is_empty());
        }
        for l in UrgeLevel::ALL {
            assert!(!urge_level(*l).is_empty());
        }
        for c in Colour::ALL {
            assert!(!colour(*c).is_empty());
        }
        assert_eq!(urge_level(UrgeLevel::Listed), "挂牌督办");
        assert_eq!(rating(Rating::BasicallySatisfied), "基本满意");
        assert_eq!(channel(Channel::Wechat), "微信");
        assert_eq!(urgency(Urgency::Urgent), "紧急");
    }
}
