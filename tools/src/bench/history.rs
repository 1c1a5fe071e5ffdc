//! A scratch database filled with a city's history, set-based (`INSERT … SELECT
//! generate_series`): `n` orders received over `n / 10,000,000` of a year, the most recent
//! tenth open (a city's 10,000,000 a year with 1,000,000 open), with their timelines,
//! dispatches (one in ten returned and dispatched again), alerts, published task messages
//! and idempotency keys of the last 30 days (what retention keeps), and live timers of the
//! open orders. Callers: about `n / 3` citizens with a few orders each, 50 frequent
//! callers (重复来电) behind one order in a hundred, and one building manager behind
//! [`hot_caller_orders`] open orders received within the last 12 hours, each at another
//! address, so that none merges into another.

use sqlx::PgPool;
use std::time::Instant;

/// The building manager's phone: the bench's own complaints use it too.
pub const HOT_PHONE: &str = "19999999999";
/// The frequent callers' phones are `FREQUENT_PREFIX` + two digits.
pub const FREQUENT_PREFIX: &str = "199000000";
pub const FREQUENT_CALLERS: u32 = 50;

/// Open orders of the building manager within the duplicate window, for `n` orders.
pub fn hot_caller_orders(n: i64) -> i64 {
    (n / 10).min(60_000)
}

/// Fills `pool` with `n` orders of history (see the module's documentation).
pub async fn fill(
    pool: &PgPool,
    config: &hotline_core::config::Config,
    n: i64,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let departments = config.department_codes();
    let matters: Vec<&str> = config.matters.iter().map(|m| m.code.as_str()).collect();
    let matter_names: Vec<&str> = config.matters.iter().map(|m| m.name.as_str()).collect();
    let districts: Vec<&str> = config.districts.iter().map(|(d, _)| d.as_str()).collect();
    // The span of the history: a city's year holds 10,000,000 orders.
    let span_seconds = (n as f64 * 365.0 * 86_400.0 / 10_000_000.0).max(86_400.0);
    let hot = hot_caller_orders(n);
    let mut connection = pool.acquire().await?;
    sqlx::query("SET synchronous_commit = off")
        .execute(&mut *connection)
        .await?;
    let step = |what: &'static str| {
        let at = started.elapsed().as_secs_f64();
        move || println!("  {what} ({:.0}s)", started.elapsed().as_secs_f64() - at)
    };

    let done = step("orders");
    sqlx::query(
        "INSERT INTO orders (order_no, kind, channel, category, matter_code, matter_name,
                             district, address, urgency, title, content, citizen_name,
                             citizen_phone, state, department, rule, dispatch_count,
                             received_at, statutory_limit, warning_due_at, committed_due_at,
                             statutory_due_at, sign_due_at, accepted_at, replied_at,
                             closed_at, resolved, on_time, rating, return_count,
                             duplicate_of, rule_version, version, created_at, updated_at)
         SELECT 'HIST' || lpad(g::text, 10, '0'), 'complaint',
                (ARRAY['phone','phone','phone','wechat','app','web'])[1 + g % 6],
                m.code, m.code, m.name,
                $4[1 + g % (cardinality($4) + 1)],
                CASE WHEN g > $1 - $6 THEN '君山路' || g || '号'
                     ELSE (ARRAY['海坛大道','金井镇中心街','苏平路','君山大道','麒麟路'])[1 + g % 5]
                          || (g % 997) || '号' END,
                CASE WHEN g % 50 = 0 THEN 'emergency' WHEN g % 10 = 0 THEN 'urgent'
                     ELSE 'normal' END,
                '反映' || m.name || '的问题',
                '市民来电反映:' || m.name || '相关问题,地点在本市,已持续一段时间,'
                    || '希望有关部门尽快核实处理并回复。诉求编号 ' || g,
                (ARRAY['张','王','李','赵','陈','林','黄','吴'])[1 + g % 8] || '先生',
                p.phone, s.state, $2[1 + g % cardinality($2)],
                CASE WHEN s.state = 'merged' THEN 'duplicate-of:HIST' || lpad((g - 1)::text, 10, '0')
                     ELSE 'catalog:' || m.code END,
                CASE WHEN s.state = 'merged' THEN 0 WHEN g % 10 = 5 THEN 2 ELSE 1 END,
                t.received_at, '15wd',
                d.due - interval '1 day', d.due, d.due + interval '5 days',
                t.received_at + interval '1 day',
                CASE WHEN s.state IN ('accepted', 'replied', 'closed')
                     THEN t.received_at + interval '2 hours' END,
                CASE WHEN s.state IN ('replied', 'closed')
                     THEN t.received_at + interval '3 days' END,
                CASE WHEN s.state = 'closed' THEN t.received_at + interval '4 days'
                     WHEN s.state = 'merged' THEN t.received_at END,
                CASE WHEN s.state IN ('replied', 'closed') THEN g % 17 <> 0 END,
                CASE WHEN s.state IN ('replied', 'closed') THEN g % 13 <> 0 END,
                CASE WHEN s.state = 'closed'
                     THEN (ARRAY['very_satisfied','satisfied','satisfied','basically_satisfied',
                                 'satisfied','very_satisfied','dissatisfied','satisfied',
                                 'very_satisfied','very_dissatisfied'])[1 + g % 10] END,
                CASE WHEN g % 10 = 5 AND s.state <> 'merged' THEN 1 ELSE 0 END,
                CASE WHEN s.state = 'merged' THEN 'HIST' || lpad((g - 1)::text, 10, '0') END,
                1, 1, t.received_at, t.received_at
         FROM generate_series(1, $1::bigint) AS g,
              LATERAL (SELECT $3[1 + (g * 31) % cardinality($3)] AS code,
                              $5[1 + (g * 31) % cardinality($5)] AS name) AS m,
              LATERAL (SELECT CASE
                  WHEN g > $1 - $6
                      THEN now() - interval '12 hours' * ($1 - g) / $6 - interval '1 minute'
                  ELSE now() - interval '1 second' * ($7 * ($1 - g) / $1) - interval '1 minute'
                  END AS received_at) AS t,
              LATERAL (SELECT CASE
                  WHEN g > $1 - $6 THEN $8
                  WHEN g % 100 = 0 THEN $9 || lpad((g / 100 % $10)::text, 2, '0')
                  ELSE '13' || lpad(((g * 2654435761) % ($1 / 3 + 1))::text, 9, '0')
                  END AS phone) AS p,
              LATERAL (SELECT CASE
                  WHEN g <= $1 * 9 / 10 THEN
                      CASE WHEN g % 33 = 0 AND g > 1 THEN 'merged' ELSE 'closed' END
                  WHEN g % 20 = 0 THEN 'replied'
                  WHEN g % 3 = 0 THEN 'dispatched'
                  ELSE 'accepted' END AS state) AS s,
              LATERAL (SELECT CASE
                  WHEN s.state IN ('dispatched', 'accepted')
                      THEN now() + interval '2 hours' + (g * 7919 % 1728000) * interval '1 second'
                  ELSE t.received_at + interval '20 days' END AS due) AS d",
    )
    .bind(n)
    .bind(&departments)
    .bind(&matters)
    .bind(&districts)
    .bind(&matter_names)
    .bind(hot)
    .bind(span_seconds)
    .bind(HOT_PHONE)
    .bind(FREQUENT_PREFIX)
    .bind(FREQUENT_CALLERS as i64)
    .execute(&mut *connection)
    .await?;
    done();

    let done = step("dispatches");
    sqlx::query(
        "INSERT INTO dispatches (task_id, order_no, dispatch_no, department, rule, rule_version,
                                 dispatched_at, returned_at, return_reason)
         SELECT md5(o.order_no || '/' || n)::uuid, o.order_no, n,
                CASE WHEN n < o.dispatch_count THEN 'MANUAL' ELSE o.department END,
                o.rule, 1, o.received_at + interval '1 minute' * n,
                CASE WHEN n < o.dispatch_count THEN o.received_at + interval '1 hour' END,
                CASE WHEN n < o.dispatch_count THEN '不属于本单位职责' END
         FROM orders o, generate_series(1, o.dispatch_count) AS n",
    )
    .execute(&mut *connection)
    .await?;
    done();

    let done = step("timelines");
    sqlx::query(
        "INSERT INTO order_events (order_no, event_id, event_type, actor, occurred_at, detail)
         SELECT o.order_no, md5(o.order_no || '#' || e.n)::uuid, e.type, e.actor, e.at, e.detail
         FROM orders o, LATERAL (VALUES
             (1, 'complaint.received', NULL, o.received_at,
              CASE WHEN o.state = 'merged' THEN jsonb_build_object('merged_into', o.duplicate_of)
                   ELSE jsonb_build_object('department', o.department, 'rule', o.rule) END),
             (2, CASE WHEN o.return_count > 0 THEN 'order.returned' END, 'MANUAL',
              o.received_at + interval '1 hour', '{\"reason\": \"不属于本单位职责\"}'::jsonb),
             (3, CASE WHEN o.accepted_at IS NOT NULL THEN 'order.accepted' END, o.department,
              o.accepted_at, '{}'::jsonb),
             (4, CASE WHEN o.replied_at IS NOT NULL THEN 'order.replied' END, o.department,
              o.replied_at, '{\"resolved\": true}'::jsonb),
             (5, CASE WHEN o.rating IS NOT NULL THEN 'order.feedback' END, 'callback',
              o.closed_at, jsonb_build_object('rating', o.rating))
         ) AS e(n, type, actor, at, detail)
         WHERE e.type IS NOT NULL",
    )
    .execute(&mut *connection)
    .await?;
    done();

    let done = step("alerts");
    sqlx::query(
        "INSERT INTO alerts (alert_id, order_no, department, level, due_at, fired_at)
         SELECT md5(o.order_no || '!' || l.level)::uuid, o.order_no, o.department, l.level,
                l.due, l.due
         FROM orders o, LATERAL (VALUES ('warning', o.warning_due_at),
                                        ('overdue', o.committed_due_at)) AS l(level, due)
         WHERE o.state IN ('replied', 'closed') AND l.due < now()
           AND (o.on_time = false OR (l.level = 'warning' AND substr(o.order_no, 14) = '7'))",
    )
    .execute(&mut *connection)
    .await?;
    done();

    let done = step("outbox (published, last 30 days)");
    sqlx::query(
        "INSERT INTO outbox (exchange, routing_key, message_id, kind, body, origin_at,
                             department, created_at, published_at)
         SELECT 'hotline.tasks', d.department, d.task_id::text, 'task',
                convert_to(repeat('{\"task\": \"history\"}', 48), 'UTF8'),
                d.dispatched_at, d.department, d.dispatched_at,
                d.dispatched_at + interval '50 milliseconds'
         FROM dispatches d WHERE d.dispatched_at > now() - interval '30 days'
         ORDER BY d.dispatched_at",
    )
    .execute(&mut *connection)
    .await?;
    sqlx::query(
        "INSERT INTO outbox (exchange, routing_key, message_id, kind, body, origin_at,
                             department, created_at, published_at)
         SELECT 'hotline.alerts', a.level || '.' || a.department, a.alert_id::text, 'alert',
                convert_to(repeat('{\"alert\": \"history\"}', 16), 'UTF8'),
                a.due_at, a.department, a.fired_at, a.fired_at + interval '50 milliseconds'
         FROM alerts a WHERE a.fired_at > now() - interval '30 days'
         ORDER BY a.fired_at",
    )
    .execute(&mut *connection)
    .await?;
    done();

    let done = step("idempotency keys (last 30 days)");
    sqlx::query(
        "INSERT INTO processed_events (idempotency_key, processed_at)
         SELECT event_id::text, occurred_at FROM order_events
         WHERE occurred_at > now() - interval '30 days' ORDER BY occurred_at",
    )
    .execute(&mut *connection)
    .await?;
    done();

    let done = step("live timers of the open orders");
    sqlx::query(
        "INSERT INTO timers (order_no, level, due_at, department, then_levels, then_due)
         SELECT o.order_no, c.levels[1], c.due[1], o.department, c.levels[2:], c.due[2:]
         FROM orders o, LATERAL (
             SELECT array_agg(v.level ORDER BY v.due_at, v.n) AS levels,
                    array_agg(v.due_at ORDER BY v.due_at, v.n) AS due
             FROM (VALUES
                 (1, CASE WHEN o.state = 'dispatched' THEN 'sign_overdue' END,
                  greatest(o.sign_due_at, now() + interval '2 hours')),
                 (2, 'warning', o.warning_due_at),
                 (3, 'overdue', o.committed_due_at),
                 (4, 'statutory_overdue', o.statutory_due_at)) AS v(n, level, due_at)
             WHERE v.level IS NOT NULL) c
         WHERE o.state IN ('dispatched', 'accepted')",
    )
    .execute(&mut *connection)
    .await?;
    done();

    let done = step("VACUUM ANALYZE");
    for table in [
        "orders",
        "order_events",
        "dispatches",
        "alerts",
        "outbox",
        "processed_events",
        "timers",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM ANALYZE {table}")))
            .execute(&mut *connection)
            .await?;
    }
    done();

    let (orders, open, events, keys, size): (i64, i64, i64, i64, String) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM orders),
                (SELECT count(*) FROM orders WHERE state NOT IN ('closed', 'merged')),
                (SELECT count(*) FROM order_events),
                (SELECT count(*) FROM processed_events),
                pg_size_pretty(pg_database_size(current_database()))",
    )
    .fetch_one(&mut *connection)
    .await?;
    println!(
        "preloaded {orders} orders ({open} open, {hot} of them one building manager's within \
         12 hours), {events} timeline entries, {keys} idempotency keys: {size}, in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
