-- Sessions of the pages (/board, /desk, /intake): a browser signs in with an API token
-- and gets a random session id in an HttpOnly cookie. Kept in the database so that every
-- engine process behind a load balancer knows every session; only the id's SHA-256
-- digest is stored. A session names its token, not the token's secret: when the token is
-- revoked, its sessions stop working at once (every request checks the token is live).
CREATE TABLE web_sessions (
    digest     bytea PRIMARY KEY CHECK (octet_length(digest) = 32),
    token_name text NOT NULL,
    csrf       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);

-- Order numbers of cases registered at the operator's desk (/intake): PT<date><number>,
-- unique across engine processes.
CREATE SEQUENCE desk_order_numbers;
