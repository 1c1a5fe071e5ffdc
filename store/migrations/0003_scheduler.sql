-- The scheduler's periodic jobs.

-- One supervision digest per department and working day, whatever the number of engine
-- processes: the process whose insert wins sends it, in the same transaction.
CREATE TABLE digests (
    department text NOT NULL,
    -- The Asia/Shanghai date it is for.
    day date NOT NULL,
    -- Also the AMQP message_id of the digest message.
    digest_id uuid NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (department, day)
);
