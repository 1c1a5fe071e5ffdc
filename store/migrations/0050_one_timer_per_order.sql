-- One timer row per order (and per co-handler), armed for its next level, instead of one
-- row per order and level. Every new complaint wrote four timer rows and eight index
-- entries (sign, warning, overdue, statutory: 24 of ~125 buffers per event at a million
-- orders) and deleted them again at the reply, although most orders are replied before
-- their first deadline and never fire any. Now the armed row carries the levels that
-- follow it, earliest first; the scheduler that fires it moves the row on to the next
-- level (or deletes it after the last), in the same transaction as the alert.
--
-- The key stays (order_no, level, department): a chain's level is its head's, and the
-- lead's chain and each co-handler's (`co_overdue`) stay apart as before.

ALTER TABLE timers
    ADD COLUMN then_levels text[] NOT NULL DEFAULT '{}',
    ADD COLUMN then_due timestamptz[] NOT NULL DEFAULT '{}',
    ADD CONSTRAINT timers_then_aligned
        CHECK (cardinality(then_levels) = cardinality(then_due));

-- The timers written before: folded into chains, earliest first (ties in the order
-- Order::timers lists them).
CREATE TEMPORARY TABLE timers_before ON COMMIT DROP AS SELECT * FROM timers;
DELETE FROM timers;
INSERT INTO timers (order_no, level, due_at, department, then_levels, then_due)
SELECT order_no, levels[1], due[1], department, levels[2:], due[2:]
FROM (
    SELECT order_no, department,
           array_agg(level ORDER BY due_at, array_position(
               ARRAY['sign_overdue', 'warning', 'overdue', 'statutory_overdue'], level)) AS levels,
           array_agg(due_at ORDER BY due_at, array_position(
               ARRAY['sign_overdue', 'warning', 'overdue', 'statutory_overdue'], level)) AS due
    FROM timers_before
    GROUP BY order_no, department, level = 'co_overdue'
) chains;

-- Every deadline still to alert, armed or following: what an operator asks ("what will
-- this order still raise?") and what the tests compare.
CREATE VIEW timer_schedule AS
    SELECT order_no, level, due_at, department, true AS armed FROM timers
    UNION ALL
    SELECT t.order_no, s.level, s.due_at, t.department, false AS armed
    FROM timers t, unnest(t.then_levels, t.then_due) AS s(level, due_at);
