-- The pages' and the order list's views of issue 11's workflows: the orders a department
-- co-handles (协办: its handlers' desk tab, and `GET /api/orders` for them), and the
-- appeals of ratings waiting for a supervisor (the board). Both are a small share of all
-- orders: partial indexes, so that neither read scans the whole table.

-- `co_handlers @> '[{"department": "X"}]'` (with `co_handlers <> '[]'`, the predicate).
CREATE INDEX orders_co_handlers ON orders USING gin (co_handlers jsonb_path_ops)
    WHERE co_handlers <> '[]'::jsonb;

-- An appeal without a decision on the latest callback.
CREATE INDEX orders_appeal_pending ON orders ((callback #>> '{appeal,appealed_at}'))
    WHERE callback #> '{appeal,decision}' = 'null'::jsonb;
