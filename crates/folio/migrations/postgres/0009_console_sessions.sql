-- Sign-ins to the console (`/console/`): a session (its cookie's value) or a one-time login
-- link (`folio console link`). Only the SHA-256 of the secret is kept. public_key is the key
-- pair the operator signed in with: the session acts with it, and ends when it is revoked.
CREATE TABLE console_sessions (
    id_hash     BYTEA PRIMARY KEY,
    -- session | link
    kind        TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    -- sent back in X-Folio-CSRF by every change the console asks for
    csrf        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);

CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
