-- Accounts own key pairs, files and folders. url_id is the first path segment of delivery URLs.
CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    url_id      TEXT NOT NULL UNIQUE,
    disabled    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);

-- The private key is needed as the HMAC key, so it is stored; lookups go through its SHA-256
-- so that the database never compares secrets.
CREATE TABLE api_keys (
    public_key        TEXT PRIMARY KEY,
    private_key       TEXT NOT NULL,
    private_key_hash  BLOB NOT NULL UNIQUE,
    account_id        TEXT NOT NULL REFERENCES accounts(id),
    revoked           INTEGER NOT NULL DEFAULT 0,
    expires_at        INTEGER,
    created_at        INTEGER NOT NULL
);

CREATE TABLE folders (
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    path        TEXT NOT NULL,
    folder_id   TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, path)
);

CREATE TABLE files (
    file_id             TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL REFERENCES accounts(id),
    file_path           TEXT NOT NULL,
    folder_path         TEXT NOT NULL,
    name                TEXT NOT NULL,
    current_version_id  TEXT NOT NULL,
    -- highest version number this file ever had; numbers are never reused
    last_version_number INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    UNIQUE (account_id, file_path)
);

CREATE TABLE file_versions (
    version_id          TEXT PRIMARY KEY,
    file_id             TEXT NOT NULL REFERENCES files(file_id) ON DELETE CASCADE,
    version_number      INTEGER NOT NULL,
    blob_key            TEXT NOT NULL UNIQUE,
    size                INTEGER NOT NULL,
    mime                TEXT NOT NULL,
    file_type           TEXT NOT NULL,
    width               INTEGER,
    height              INTEGER,
    tags                TEXT,        -- JSON array or NULL
    ai_tags             TEXT,        -- JSON array or NULL
    custom_metadata     TEXT NOT NULL DEFAULT '{}',
    custom_coordinates  TEXT,
    is_private_file     INTEGER NOT NULL,
    is_published        INTEGER NOT NULL,
    description         TEXT,
    media               TEXT NOT NULL,  -- JSON: MediaInfo
    created_at          INTEGER NOT NULL,
    UNIQUE (file_id, version_number)
);

-- Single-use ledger: SHA-256 of each token proven genuine, kept until the token expires.
CREATE TABLE burned_tokens (
    account_id  TEXT NOT NULL,
    token_hash  BLOB NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, token_hash)
) WITHOUT ROWID;

CREATE INDEX burned_tokens_expiry ON burned_tokens (expires_at);
