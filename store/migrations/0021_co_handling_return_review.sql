-- Issue 11: co-handling departments (主办/协办), the review of returns (退单审核), appeals
-- of ratings (评价复核) and supervision levels (催办/督办/挂牌督办).

ALTER TABLE orders
    -- When the current dispatch was made: a return is accepted within
    -- `[routing] return_window` of it.
    ADD COLUMN dispatched_at timestamptz,
    -- The co-handlers, each with its task, deadlines, acceptance and co-reply
    -- (hotline_core::order::CoHandler as JSON).
    ADD COLUMN co_handlers jsonb NOT NULL DEFAULT '[]',
    -- A return waiting for review (state `return_pending`), with what to restore if the
    -- review rejects it (hotline_core::order::PendingReturn as JSON).
    ADD COLUMN pending_return jsonb,
    -- The highest supervision level the order was urged at: reminder, supervision, listed.
    ADD COLUMN urge_level text,
    -- The latest callback and the appeal of its rating (hotline_core::order::Callback).
    ADD COLUMN callback jsonb;

-- Why a dispatch was written: `handle` (a department handles it), `return_review` (the
-- manual desk reviews a return), `return_rejected` (back to the department after a
-- rejected return). Only `handle` dispatches count in 响应率 and 回退率.
ALTER TABLE dispatches
    ADD COLUMN purpose text NOT NULL DEFAULT 'handle',
    -- What the review made of this dispatch's return: pending, approved, rejected
    -- (回退驳回); null when there was no review.
    ADD COLUMN return_outcome text;

-- Co-handlers: one `co_overdue` timer per co-handling department of an order.
ALTER TABLE timers DROP CONSTRAINT timers_pkey;
ALTER TABLE timers ADD PRIMARY KEY (order_no, level, department);

-- Exactly one alert per order, level and deadline; for `co_overdue`, per co-handling
-- department too (two co-handlers named together share their deadline).
ALTER TABLE alerts DROP CONSTRAINT alerts_order_no_level_due_at_key;
CREATE UNIQUE INDEX alerts_once ON alerts (order_no, level, due_at) WHERE level <> 'co_overdue';
CREATE UNIQUE INDEX alerts_once_per_co_handler ON alerts (order_no, level, due_at, department)
    WHERE level = 'co_overdue';
