-- The engine's durable state: work orders, their timelines, the idempotency ledger,
-- rejected input, and the transactional outbox the relay publishes from.

-- Every idempotency key the intake has taken (an event's `event_id`, or the AMQP
-- `message_id` of a body without one). A key present here has had its one effect.
CREATE TABLE processed_events (
    idempotency_key text PRIMARY KEY,
    processed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders (
    order_no text PRIMARY KEY,
    kind text NOT NULL,
    channel text NOT NULL,
    category text NOT NULL,
    matter_code text,
    matter_name text,
    district text,
    address text,
    urgency text NOT NULL,
    title text NOT NULL,
    content text NOT NULL,
    citizen_name text,
    citizen_phone text,
    state text NOT NULL,
    department text NOT NULL,
    rule text NOT NULL,
    dispatch_count integer NOT NULL,
    received_at timestamptz NOT NULL,
    statutory_limit text,
    statutory_due_at timestamptz,
    committed_due_at timestamptz,
    sign_due_at timestamptz,
    -- Optimistic concurrency: every write of an order bumps it, and a write that finds
    -- another version than the one it read is retried as a whole batch.
    version integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_department_state ON orders (department, state);

-- The order's timeline: every accepted event, who sent it and from which message.
CREATE TABLE order_events (
    id bigserial PRIMARY KEY,
    order_no text NOT NULL REFERENCES orders (order_no),
    event_id uuid NOT NULL UNIQUE,
    event_type text NOT NULL,
    actor text,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    detail jsonb NOT NULL
);
CREATE INDEX order_events_by_order ON order_events (order_no, id);

-- Every dispatch of an order to a department, one task message each.
CREATE TABLE dispatches (
    task_id uuid PRIMARY KEY,
    order_no text NOT NULL REFERENCES orders (order_no),
    dispatch_no integer NOT NULL,
    department text NOT NULL,
    rule text NOT NULL,
    dispatched_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (order_no, dispatch_no)
);

-- Input the engine could not accept, kept with its reason (nothing a citizen sent is dropped).
CREATE TABLE rejected_events (
    id bigserial PRIMARY KEY,
    idempotency_key text,
    reason_code text NOT NULL,
    reason text NOT NULL,
    body bytea NOT NULL,
    rejected_at timestamptz NOT NULL DEFAULT now()
);

-- Messages to publish, written in the same transaction as the change that causes them.
-- Only the relay publishes them, and marks them published after the broker's confirm.
CREATE TABLE outbox (
    id bigserial PRIMARY KEY,
    exchange text NOT NULL,
    routing_key text NOT NULL,
    message_id text NOT NULL,
    -- 'task', 'alert' or 'rejected': what the relay counts it as.
    kind text NOT NULL,
    -- Extra AMQP headers (string values), e.g. x-hotline-reason on a rejected event.
    headers jsonb NOT NULL DEFAULT '{}',
    body bytea NOT NULL,
    -- When the inbound delivery that caused it was consumed (for dispatch latency).
    origin_at timestamptz,
    -- The department the message concerns, for per-department counters.
    department text,
    created_at timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL;
