-- The whole life of an order, SLA timers and alerts, and appointments.

-- The timeline also holds appointment events, which have no row in `orders`.
ALTER TABLE order_events DROP CONSTRAINT order_events_order_no_fkey;

ALTER TABLE orders
    ADD COLUMN warning_due_at timestamptz,
    ADD COLUMN accepted_at timestamptz,
    ADD COLUMN replied_at timestamptz,
    ADD COLUMN closed_at timestamptz,
    -- Set while suspended (挂起): every clock is stopped from this instant, and the
    -- state to return to on resumption.
    ADD COLUMN paused_at timestamptz,
    ADD COLUMN resume_state text,
    ADD COLUMN handler text,
    ADD COLUMN resolved boolean,
    -- Replied before the committed deadline.
    ADD COLUMN on_time boolean,
    ADD COLUMN rating text,
    -- An extension asked for and not yet decided.
    ADD COLUMN extension_requested_days integer,
    ADD COLUMN extension_days integer NOT NULL DEFAULT 0,
    ADD COLUMN return_count integer NOT NULL DEFAULT 0,
    ADD COLUMN reopen_count integer NOT NULL DEFAULT 0,
    ADD COLUMN urge_count integer NOT NULL DEFAULT 0,
    -- The first order of the same matter this one was merged into (重复件).
    ADD COLUMN duplicate_of text,
    -- Departments that returned it (退单): a re-dispatch never goes back to them.
    ADD COLUMN returned_by text[] NOT NULL DEFAULT '{}',
    ADD COLUMN rule_version integer NOT NULL DEFAULT 1;

CREATE INDEX orders_open_due ON orders (committed_due_at) WHERE state <> 'closed';
-- Finding an open order of the same citizen to merge a duplicate report into.
CREATE INDEX orders_by_phone ON orders (citizen_phone, received_at) WHERE citizen_phone IS NOT NULL;

-- The time a wrong department held an order is charged to the routing rule that sent it.
ALTER TABLE dispatches
    ADD COLUMN returned_at timestamptz,
    ADD COLUMN return_reason text,
    ADD COLUMN rule_version integer NOT NULL DEFAULT 1;

-- Live SLA timers: one per order and level, derived from the order on every write.
-- The scheduler claims due ones with FOR UPDATE SKIP LOCKED and deletes them.
CREATE TABLE timers (
    order_no text NOT NULL REFERENCES orders (order_no),
    level text NOT NULL,
    due_at timestamptz NOT NULL,
    department text NOT NULL,
    PRIMARY KEY (order_no, level)
);
CREATE INDEX timers_due ON timers (due_at);

-- Every alert raised. The unique key is the "exactly one alert per order, level and
-- deadline" rule, enforced by the database whatever number of schedulers run.
CREATE TABLE alerts (
    alert_id uuid PRIMARY KEY,
    order_no text NOT NULL,
    department text NOT NULL,
    level text NOT NULL,
    due_at timestamptz NOT NULL,
    fired_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (order_no, level, due_at)
);
CREATE INDEX alerts_recent ON alerts (fired_at DESC);

CREATE TABLE appointments (
    order_no text PRIMARY KEY,
    category text NOT NULL,
    service_point text NOT NULL,
    slot_start timestamptz NOT NULL,
    citizen_name text,
    citizen_phone text,
    -- booked, checked_in, called, completed, no_show
    state text NOT NULL,
    booked_at timestamptz NOT NULL,
    checked_in_at timestamptz,
    called_at timestamptz,
    completed_at timestamptz,
    service_window text,
    version integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX appointments_open_slots ON appointments (slot_start) WHERE state = 'booked';
