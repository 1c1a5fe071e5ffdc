-- Every index on `orders` is paid for on every write of an order. These two serve no
-- query: open orders by department are read through orders_open_sla (department, state,
-- with the deadlines included), and nothing scans by committed deadline (the scheduler
-- reads `timers`).
DROP INDEX orders_department_state;
DROP INDEX orders_open_due;
