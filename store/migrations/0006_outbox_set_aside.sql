-- An outbox row the broker refuses is set aside after a few tries instead of blocking
-- the relay: kept, with the error and when it was set aside, for an operator to look at.
-- Nothing is deleted.
ALTER TABLE outbox
    ADD COLUMN attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN failed_at timestamptz,
    ADD COLUMN last_error text;

DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL AND failed_at IS NULL;
CREATE INDEX outbox_set_aside ON outbox (kind) WHERE failed_at IS NOT NULL;
