-- The order list's phone search (`GET /api/orders?phone=`, the header's search box) finds a
-- caller by the digits of the phone, whatever separators were typed or stored
-- (`regexp_replace(citizen_phone, '[^0-9]', '', 'g') = $1`): an index on that expression
-- makes it a lookup instead of a scan of every order. Built once when the migration runs
-- (a few seconds a million orders; intake waits meanwhile).
CREATE INDEX orders_by_phone_digits ON orders ((regexp_replace(citizen_phone, '[^0-9]', '', 'g')))
    WHERE citizen_phone IS NOT NULL;
