-- No sign deadline lies after the committed deadline. Until now the sign deadline was
-- `received + [sla] sign_limit` (a working day) whatever the matter, so an urgent class
-- promised in 30 minutes showed a sign deadline a day away, and its `sign_overdue`
-- alert would have come long after `overdue`. New orders get the sign limit of their
-- matter, urgency and class (`SlaClock::sign_limit`), never past the committed deadline;
-- here the orders already open are brought under the same bound: an order not yet
-- accepted is to be signed for by its committed deadline at the latest, and a
-- co-handler (协办) by its co-reply deadline. The alert still to come moves with it.

CREATE TEMPORARY TABLE sign_moved (
    order_no text PRIMARY KEY,
    sign_due_at timestamptz NOT NULL
) ON COMMIT DROP;

WITH moved AS (
    UPDATE orders SET sign_due_at = committed_due_at
    WHERE state = 'dispatched' AND sign_due_at > committed_due_at
    RETURNING order_no, sign_due_at
)
INSERT INTO sign_moved SELECT order_no, sign_due_at FROM moved;

-- The lead's timer chain of each order moved, its sign level at the new instant, folded
-- again earliest first (ties in the order Order::timers lists them), as 0050 folds them.
CREATE TEMPORARY TABLE chains_moved ON COMMIT DROP AS
SELECT t.order_no, t.department, s.level,
       CASE WHEN s.level = 'sign_overdue' THEN m.sign_due_at ELSE s.due_at END AS due_at
FROM timers t
JOIN sign_moved m USING (order_no),
     unnest(ARRAY[t.level] || t.then_levels, ARRAY[t.due_at] || t.then_due) AS s(level, due_at)
WHERE t.level <> 'co_overdue';

DELETE FROM timers t USING sign_moved m
WHERE t.order_no = m.order_no AND t.level <> 'co_overdue';

INSERT INTO timers (order_no, level, due_at, department, then_levels, then_due)
SELECT order_no, levels[1], due[1], department, levels[2:], due[2:]
FROM (
    SELECT order_no, department,
           array_agg(level ORDER BY due_at, array_position(
               ARRAY['sign_overdue', 'warning', 'overdue', 'statutory_overdue'], level)) AS levels,
           array_agg(due_at ORDER BY due_at, array_position(
               ARRAY['sign_overdue', 'warning', 'overdue', 'statutory_overdue'], level)) AS due
    FROM chains_moved
    GROUP BY order_no, department
) chains;

-- Co-handlers not yet accepted: signed for by their co-reply deadline at the latest.
UPDATE orders o SET co_handlers = (
    SELECT jsonb_agg(
               CASE WHEN c->>'accepted_at' IS NULL
                         AND (c->>'sign_due_at')::timestamptz > (c->>'co_reply_due_at')::timestamptz
                    THEN jsonb_set(c, '{sign_due_at}', c->'co_reply_due_at')
                    ELSE c END
               ORDER BY i)
    FROM jsonb_array_elements(o.co_handlers) WITH ORDINALITY AS e(c, i))
WHERE o.state IN ('dispatched', 'accepted', 'suspended')
  AND jsonb_typeof(o.co_handlers) = 'array' AND jsonb_array_length(o.co_handlers) > 0
  AND EXISTS (
      SELECT 1 FROM jsonb_array_elements(o.co_handlers) AS c
      WHERE c->>'accepted_at' IS NULL
        AND (c->>'sign_due_at')::timestamptz > (c->>'co_reply_due_at')::timestamptz);
