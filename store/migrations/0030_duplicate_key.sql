-- Duplicate reports (重复件) are looked up by their key, not by the caller. Before, every
-- batch read every open order of each caller's phone received within the window, so a
-- frequent caller or a building manager behind tens of thousands of orders made every
-- batch slower. Now each new complaint costs one index probe that stops at the first
-- open order of its key, whatever the caller's history.
--
-- The key is hotline_core::decide::MergeKey::digest: SHA-256 of
-- '<bytes of matter>:<matter><address without white space>' || E'\n' || '<phone trimmed>',
-- written by the engine with every order. Orders written before this migration get it
-- here, with White_Space spelled out as Rust's char::is_whitespace has it, so that the
-- digests agree; it is only needed for orders a new report may still merge into.
ALTER TABLE orders ADD COLUMN duplicate_key bytea;

UPDATE orders
SET duplicate_key = sha256(convert_to(
        octet_length(matter_code)::text || ':' || matter_code
        || regexp_replace(address,
               '[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]',
               '', 'g')
        || E'\n'
        || regexp_replace(citizen_phone,
               '^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]+|[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]+$',
               '', 'g'),
        'UTF8'))
WHERE state NOT IN ('closed', 'merged')
  AND matter_code IS NOT NULL AND matter_name IS NOT NULL
  AND address IS NOT NULL AND citizen_phone IS NOT NULL
  AND regexp_replace(address,
          '[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]',
          '', 'g') <> ''
  AND regexp_replace(citizen_phone,
          '[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]',
          '', 'g') <> '';

-- Only open orders can take a duplicate: the index holds them alone.
CREATE INDEX orders_duplicate_key ON orders (duplicate_key, received_at)
    WHERE duplicate_key IS NOT NULL AND state NOT IN ('closed', 'merged');

-- The caller's index served nothing else: one index fewer on every write of an order.
DROP INDEX orders_by_phone;
-- It was also the only bound on a phone's length (an index row holds about 2.7 kB): a
-- longer one was refused by the database, isolated and dead-lettered as `unprocessable`.
-- The bound is now said outright (a phone is a score of characters). NOT VALID: enforced
-- on every write from now on, without scanning the rows written before.
ALTER TABLE orders ADD CONSTRAINT orders_citizen_phone_length
    CHECK (octet_length(citizen_phone) <= 1024) NOT VALID;
