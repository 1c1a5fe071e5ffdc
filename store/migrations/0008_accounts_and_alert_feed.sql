-- API tokens kept in the database, so that one revoked in any process stops working in
-- every process within seconds; and a feed position on alerts, so that a live stream of
-- them can resume exactly where a client left off.

-- A token is stored only as the SHA-256 digest of its secret: the secret is shown once,
-- when `hotline token create` makes it. Rows are never deleted: a revoked token stays
-- listed, and its name stays taken (timelines name it as the actor).
CREATE TABLE api_tokens (
    name         text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9._-]{1,64}$'),
    digest       bytea NOT NULL UNIQUE CHECK (octet_length(digest) = 32),
    role         text NOT NULL CHECK (role IN ('operator', 'handler', 'supervisor')),
    department   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz,
    CHECK ((role = 'handler') = (department IS NOT NULL))
);

-- The alert feed's order: the inserting transaction's id, then a sequence within it. A
-- reader takes only rows of transactions older than every transaction still running
-- (pg_snapshot_xmin), so no row can later appear behind the position it has reached,
-- which a sequence alone cannot promise (sequence values are not committed in order).
ALTER TABLE alerts
    ADD COLUMN feed_xact bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    ADD COLUMN feed_seq bigserial NOT NULL;
CREATE INDEX alerts_feed ON alerts (feed_xact, feed_seq);
