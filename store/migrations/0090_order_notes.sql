-- Internal notes (内部备注): what a unit's staff write on an order for each other. `unit`
-- is the department's code for its handlers, `operators` or `supervisors`; a note is read
-- by its unit only. Not in the timeline, which every reader of the order sees.
CREATE TABLE order_notes (
    id uuid PRIMARY KEY,
    order_no text NOT NULL REFERENCES orders (order_no),
    unit text NOT NULL,
    author text NOT NULL,
    body text NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_notes_by_order ON order_notes (order_no, unit, written_at);
