-- The pages' and the order list's views of issue 11's workflows: the orders a department
-- co-handles (协办: its handlers' desk tab, and `GET /api/orders` for them), the appeals of
-- ratings waiting for a supervisor (the board) and the returns waiting for review (the
-- operators' desk). Each is a small share of all orders: partial indexes, so that no read
-- scans the whole table.

-- `co_handlers @> '[{"department": "X"}]'` (with `co_handlers <> '[]'`, the predicate).
CREATE INDEX orders_co_handlers ON orders USING gin (co_handlers jsonb_path_ops)
    WHERE co_handlers <> '[]'::jsonb;

-- An appeal without a decision on the latest callback.
CREATE INDEX orders_appeal_pending ON orders ((callback #>> '{appeal,appealed_at}'))
    WHERE callback #> '{appeal,decision}' = 'null'::jsonb;

-- Returns waiting for the operators' review (退单审核), the oldest first.
CREATE INDEX orders_return_pending ON orders ((pending_return->>'returned_at'))
    WHERE state = 'return_pending';
