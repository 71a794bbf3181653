-- Custom metadata fields (spec §9): account-wide schema entries for files' customMetadata.
-- A name stays reserved after deletion (unique across all rows); a label is unique among the
-- fields that are not deleted. schema is the canonical JSON document the API returns (TEXT,
-- as every JSON column here).
CREATE TABLE custom_metadata_fields (
    field_id     TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts(id),
    name         TEXT NOT NULL,
    label        TEXT NOT NULL,
    description  TEXT,
    schema       TEXT NOT NULL,
    deleted      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   BIGINT NOT NULL,
    UNIQUE (account_id, name)
);

CREATE UNIQUE INDEX custom_metadata_fields_live_label
    ON custom_metadata_fields (account_id, label) WHERE NOT deleted;
