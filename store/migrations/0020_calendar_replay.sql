-- Deadlines that follow the calendar. Each order records the version of the calendar its
-- deadlines were computed on; the engine remembers the calendar it last applied, so that
-- when the effective calendar changes (a reload, an imported notice) it can tell which
-- days changed and move the deadlines of the open orders that cross them; and a task
-- message revised for new deadlines carries a revision number (consumers upsert by
-- task_id).
ALTER TABLE orders ADD COLUMN calendar_version text;

CREATE TABLE calendar_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version text NOT NULL,
    -- The calendar as applied: working periods and declared days (see
    -- hotline_core::calendar::CalendarRecord), to diff the next one against.
    calendar jsonb NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE dispatches ADD COLUMN revision integer NOT NULL DEFAULT 1;
