-- Custom metadata fields (spec §9): account-wide schema entries for files' customMetadata.
-- A name stays reserved after deletion (unique across all rows); a label is unique among the
-- fields that are not deleted. schema is the canonical JSON document the API returns.
CREATE TABLE custom_metadata_fields (
    field_id     TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts(id),
    name         TEXT NOT NULL,
    label        TEXT NOT NULL,
    description  TEXT,
    schema       TEXT NOT NULL,
    deleted      INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    UNIQUE (account_id, name)
);

CREATE UNIQUE INDEX custom_metadata_fields_live_label
    ON custom_metadata_fields (account_id, label) WHERE deleted = 0;
