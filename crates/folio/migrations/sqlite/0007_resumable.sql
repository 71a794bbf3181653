-- Resumable uploads (spec resumable.md): one row per tus upload, from its creation until the
-- sweeper removes it after `expires_at`. The upload URL is a capability: only its SHA-256 is
-- kept (id_hash). ledger_key is the burned token's ledger key (random for Basic callers), so a
-- creation retried with the same token finds its upload.
CREATE TABLE resumable_uploads (
    id_hash        BLOB PRIMARY KEY,
    ledger_key     BLOB NOT NULL,
    account_id     TEXT NOT NULL REFERENCES accounts(id),
    -- the key pair that authorised the creation (its public key)
    key_id         TEXT NOT NULL,
    -- the upload parameters as the token pinned them: a JSON array of [name, value]
    fields         TEXT NOT NULL,
    -- the client's Upload-Metadata, the token removed, echoed by HEAD
    metadata       TEXT NOT NULL,
    length         INTEGER NOT NULL,
    upload_offset  INTEGER NOT NULL DEFAULT 0,
    -- the version the file becomes (its blob key is derived from it)
    version_id     TEXT NOT NULL,
    -- where the bytes received so far are: the partial store's state (JSON)
    storage        TEXT NOT NULL,
    -- receiving | done | failed
    state          TEXT NOT NULL DEFAULT 'receiving',
    -- the v2 upload response (or error) once the upload has ended
    result_status  INTEGER,
    result_body    TEXT,
    -- the PATCH writing to it: a random token, valid until lease_until (Unix ms)
    lease_token    TEXT,
    lease_until    INTEGER,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
);

CREATE UNIQUE INDEX resumable_uploads_ledger ON resumable_uploads (ledger_key);
CREATE INDEX resumable_uploads_receiving ON resumable_uploads (key_id) WHERE state = 'receiving';
CREATE INDEX resumable_uploads_expiry ON resumable_uploads (expires_at);
