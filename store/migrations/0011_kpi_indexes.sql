-- The KPIs of a period (`GET /api/kpis`, the board) count the timeline's acceptances,
-- replies and callbacks of the period, and its dispatches: without these, every count
-- read the whole history (tens of millions of rows in a city's year).
CREATE INDEX order_events_by_type_and_time ON order_events (event_type, occurred_at);
CREATE INDEX dispatches_by_time ON dispatches (dispatched_at);
