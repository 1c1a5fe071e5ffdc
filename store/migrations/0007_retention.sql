-- Retention sweeps delete old rows by age in small batches. BRIN indexes find them at
-- almost no cost to the writes: these tables are appended to in time order.
CREATE INDEX processed_events_age ON processed_events USING brin (processed_at);
CREATE INDEX outbox_age ON outbox USING brin (created_at);
CREATE INDEX rejected_events_age ON rejected_events USING brin (rejected_at);
