-- A body rejected as too_large is kept as its first bytes only: what it was, its size
-- and digest, is kept beside them (NULL for a body kept whole).
ALTER TABLE rejected_events
    ADD COLUMN original_bytes bigint,
    ADD COLUMN original_sha256 text;
