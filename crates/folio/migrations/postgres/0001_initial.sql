-- The shared catalog of a scale-out deployment: the same tables as the embedded SQLite
-- catalog (migrations/sqlite), in PostgreSQL types.
--
-- Migrations here are expand/contract: several instances of different versions may run
-- against this schema at once, so a migration only ever adds (tables, nullable or defaulted
-- columns, indexes). Dropping or renaming something waits until no running version reads it.
--
-- Timestamps are Unix milliseconds (seconds for expiries), as in SQLite, so both backends
-- share one row mapping. JSON documents are TEXT: byte for byte what the server wrote
-- (jsonb would reorder object keys), read back the same way on both backends.

-- Accounts own key pairs, files and folders. url_id is the first path segment of delivery URLs.
CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    url_id      TEXT NOT NULL UNIQUE,
    disabled    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT NOT NULL
);

-- The private key is needed as the HMAC key, so it is stored; lookups go through its SHA-256
-- so that the database never compares secrets.
CREATE TABLE api_keys (
    public_key        TEXT PRIMARY KEY,
    private_key       TEXT NOT NULL,
    private_key_hash  BYTEA NOT NULL UNIQUE,
    account_id        TEXT NOT NULL REFERENCES accounts(id),
    revoked           BOOLEAN NOT NULL DEFAULT FALSE,
    expires_at        BIGINT,
    created_at        BIGINT NOT NULL
);
CREATE INDEX api_keys_account ON api_keys (account_id);

CREATE TABLE folders (
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    path        TEXT NOT NULL,
    folder_id   TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (account_id, path)
);

-- One row per path. Commits that overwrite a path lock this row (SELECT … FOR UPDATE), which
-- serialises them across instances; the unique (account_id, file_path) settles the race of two
-- commits creating the same path.
CREATE TABLE files (
    file_id             TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL REFERENCES accounts(id),
    file_path           TEXT NOT NULL,
    folder_path         TEXT NOT NULL,
    name                TEXT NOT NULL,
    current_version_id  TEXT NOT NULL,
    -- highest version number this file ever had; numbers are never reused
    last_version_number BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    UNIQUE (account_id, file_path)
);

CREATE TABLE file_versions (
    version_id          TEXT PRIMARY KEY,
    file_id             TEXT NOT NULL REFERENCES files(file_id) ON DELETE CASCADE,
    version_number      BIGINT NOT NULL,
    blob_key            TEXT NOT NULL UNIQUE,
    size                BIGINT NOT NULL,
    mime                TEXT NOT NULL,
    file_type           TEXT NOT NULL,
    width               BIGINT,
    height              BIGINT,
    tags                TEXT,        -- JSON array or NULL
    ai_tags             TEXT,        -- JSON array or NULL
    custom_metadata     TEXT NOT NULL DEFAULT '{}',
    custom_coordinates  TEXT,
    is_private_file     BOOLEAN NOT NULL,
    is_published        BOOLEAN NOT NULL,
    description         TEXT,
    media               TEXT NOT NULL,  -- JSON: MediaInfo
    created_at          BIGINT NOT NULL,
    UNIQUE (file_id, version_number)
);

-- Single-use ledger: SHA-256 of each token proven genuine, kept until the token expires.
-- Burning is one INSERT … ON CONFLICT DO NOTHING on the primary key: atomic across instances.
CREATE TABLE burned_tokens (
    account_id  TEXT NOT NULL,
    token_hash  BYTEA NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (account_id, token_hash)
);

CREATE INDEX burned_tokens_expiry ON burned_tokens (expires_at);
