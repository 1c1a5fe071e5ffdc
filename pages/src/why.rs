//! Why an order's deadlines are what they are, in sentences for its page: when the clock
//! started, the statutory and committed limits and their kind of time, the sign limit and
//! its bound, extensions, pauses, the working time used and the days off that moved it.

use super::words;
use hotline_core::config::Limit;
use hotline_core::rules::Rules;
use hotline_store::read;

/// Why the deadlines are what they are, from the order and the rules in force.
pub(super) fn why_deadlines(rules: &Rules, snapshot: &read::OrderSnapshot) -> Vec<String> {
    let order = &snapshot.order;
    let settings = &rules.clock.settings;
    let limit = order.statutory_limit;
    let mut why = vec![
        format!(
            "受理时间 {}:各项时限从此刻起算。",
            words::when(order.report.received_at)
        ),
        match limit {
            Limit::WorkingDays(days) => format!(
                "法定时限 {days} 个工作日(只计工作时间,周末和法定节假日不计,调休上班日照常计算),至 {}。",
                words::when(order.deadlines.statutory)
            ),
            Limit::Natural(_) => format!(
                "法定时限 {}(自然时间,昼夜连续计算),至 {}。",
                words::limit(limit),
                words::when(order.deadlines.statutory)
            ),
        },
        format!(
            "承诺办结时限为法定时限的 {:.0}%,至 {};用去其中 {:.0}% 时预警({})。",
            settings.commitment_ratio * 100.0,
            words::when(order.deadlines.committed),
            settings.warning_ratio * 100.0,
            words::when(order.deadlines.warning)
        ),
        format!(
            "签收时限 {}(按事项、紧急程度定),至 {}{}。",
            words::limit(rules.sign_limit_of(order)),
            words::when(order.deadlines.sign),
            if order.deadlines.sign == order.deadlines.committed {
                ",不晚于承诺办结时间"
            } else {
                ""
            }
        ),
    ];
    match &order.matter {
        Some(m) => why.push(format!("事项 {} {}:法定时限取自事项目录。", m.code, m.name)),
        None => why.push("未识别为目录中的事项:按诉求类型的默认法定时限。".into()),
    }
    if order.extension_days > 0 {
        why.push(format!(
            "经批准延期 {} 个工作日,承诺和法定时限均已顺延。",
            order.extension_days
        ));
    }
    if let Some(paused) = order.paused_at {
        why.push(format!(
            "自 {} 起挂起:计时暂停,恢复后按剩余时间继续。",
            words::when(paused)
        ));
    }
    // The same explanation as the API's `sla`: the clock as it ran, the days that moved it.
    let explained = hotline_http::api::sla::explanation(rules, snapshot);
    why.push(format!(
        "截至 {} 已用工作时间 {}。",
        words::when(explained.until),
        words::working_span(explained.used, rules.clock.calendar.working_day_length())
    ));
    if !explained.moving_days.is_empty() {
        why.push(format!(
            "影响时限的放假与调休:{}。",
            explained.moving_days.join(";")
        ));
    }
    if explained.provisional {
        why.push(format!(
            "暂定:法定办结时限晚于日历已公布的最后一天({}),按普通周末规则计算;公布该年放假安排后将自动重算。",
            rules
                .clock
                .calendar
                .covered_until()
                .map_or("无".to_owned(), |d| d.to_string())
        ));
    }
    why
}
