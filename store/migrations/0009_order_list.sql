-- The order list (GET /api/orders, GET /api/orders.csv): confidential cases, the sort key
-- of the list, and the indexes of its common filters.

-- 保密件: the citizen is shown in full to the holding department's handlers only.
ALTER TABLE orders ADD COLUMN confidential boolean NOT NULL DEFAULT false;

-- The list's default sort key: the nearest deadline still ahead of the order's running
-- clocks. Not yet accepted (dispatched): the sign deadline, or the committed one if that
-- comes first (a re-dispatch late in the case); accepted (being handled): the committed
-- deadline. Suspended, replied, merged and closed orders have no running clock: 'infinity',
-- so they sort after every deadline (the API shows null). Generated, so that every writer
-- of a row (the batch writer, a repair, a bench fill) keeps it right.
ALTER TABLE orders ADD COLUMN next_due_at timestamptz NOT NULL GENERATED ALWAYS AS (
    CASE state
        WHEN 'dispatched' THEN COALESCE(LEAST(sign_due_at, committed_due_at), 'infinity')
        WHEN 'accepted' THEN COALESCE(committed_due_at, 'infinity')
        ELSE 'infinity'
    END) STORED;

-- Keyset pagination reads these in order and stops after a page: (key, order_no) is the
-- position a cursor holds. order_no in the "C" collation, so that the order does not
-- depend on the database's locale.
-- Everyone's list by nearest deadline (supervisors, the overdue list: sla_state filters
-- become ranges on the deadlines, which this scan meets in order).
CREATE INDEX orders_next_due ON orders (next_due_at, order_no COLLATE "C");
-- A department's queue (every handler's list).
CREATE INDEX orders_department_next_due ON orders (department, next_due_at, order_no COLLATE "C");
-- Urgent and emergency cases not yet handled: the operators' watch on sign-in (urgent
-- classes must be accepted within minutes). Partial: most cases are normal.
CREATE INDEX orders_urgent_next_due ON orders (state, next_due_at, order_no COLLATE "C")
    WHERE urgency <> 'normal';
-- Newest first, and the received_from/received_to ranges.
CREATE INDEX orders_received ON orders (received_at, order_no COLLATE "C");
-- Replied orders waiting for their callback: their clock stopped, so an SLA filter judges
-- them at replied_at, not by a range on now (small: only replied orders).
CREATE INDEX orders_replied ON orders (next_due_at, order_no COLLATE "C")
    WHERE state = 'replied';
