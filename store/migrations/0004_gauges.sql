-- System-wide gauges (open orders by SLA state, satisfaction) are computed from the
-- database, not from one process's memory. One process at a time recomputes them (under
-- an advisory lock) into this snapshot; every process serving /metrics reads the snapshot.

CREATE TABLE gauge_snapshot (
    name text NOT NULL,
    labels jsonb NOT NULL,
    value double precision NOT NULL,
    PRIMARY KEY (name, labels)
);

CREATE TABLE gauge_snapshot_taken (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    taken_at timestamptz NOT NULL
);

-- Open orders' deadlines by department, read by an index-only scan.
CREATE INDEX orders_open_sla ON orders (department, state)
    INCLUDE (warning_due_at, committed_due_at, statutory_due_at, paused_at, replied_at)
    WHERE state NOT IN ('closed', 'merged');

-- Rated orders by department and closing time, for satisfaction over a window.
CREATE INDEX orders_rated ON orders (closed_at, department) INCLUDE (rating)
    WHERE rating IS NOT NULL;
