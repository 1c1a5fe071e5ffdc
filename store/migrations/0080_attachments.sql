-- Attachments (附件): files an order carries, kept in the attachments' storage (a
-- directory or an S3-compatible bucket) under `object_key`; here what the pages and the
-- API list, and who may see it. The timeline holds an `attachment.added` entry for each.
CREATE TABLE attachments (
    id uuid PRIMARY KEY,
    order_no text NOT NULL REFERENCES orders (order_no),
    object_key text NOT NULL UNIQUE,
    file_name text NOT NULL,
    media_type text NOT NULL,
    size_bytes bigint NOT NULL CHECK (size_bytes > 0),
    sha256 text NOT NULL,
    -- The account that uploaded it, its role, and a handler's department.
    uploaded_by text NOT NULL,
    uploader_role text NOT NULL,
    department text,
    uploaded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attachments_by_order ON attachments (order_no, uploaded_at);
