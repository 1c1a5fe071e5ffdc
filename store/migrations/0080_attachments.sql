-- Attachments (附件): files an order carries, kept in the attachments' storage (a
-- directory or an S3-compatible bucket) under `object_key`; here what the pages and the
-- API list, and who may see it. A call recording's reference (通话录音编号) is a row
-- with no file: `media_type` 'recording', its reference as the name. The timeline holds
-- an `attachment.added` entry for each.
CREATE TABLE attachments (
    id uuid PRIMARY KEY,
    order_no text NOT NULL REFERENCES orders (order_no),
    object_key text UNIQUE,
    file_name text NOT NULL,
    media_type text NOT NULL,
    size_bytes bigint NOT NULL,
    sha256 text NOT NULL,
    -- The account that uploaded it, its role, and a handler's department.
    uploaded_by text NOT NULL,
    uploader_role text NOT NULL,
    department text,
    uploaded_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT attachments_file_or_recording CHECK (
        (object_key IS NOT NULL AND size_bytes > 0)
        OR (object_key IS NULL AND media_type = 'recording' AND size_bytes = 0))
);
CREATE INDEX attachments_by_order ON attachments (order_no, uploaded_at);
