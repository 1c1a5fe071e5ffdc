-- The order list (GET /api/orders, GET /api/orders.csv): confidential cases, the sort key
-- of the list, and the indexes of its common filters.

-- 保密件: the citizen is shown in full to the holding department's handlers only.
ALTER TABLE orders ADD COLUMN confidential boolean NOT NULL DEFAULT false;
