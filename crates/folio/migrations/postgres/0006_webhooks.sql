-- Account webhook events (spec webhooks.md) and every other outbound call that must survive a
-- restart: per-upload webhookUrl callbacks and extension runner jobs (spec §3.9).

-- Where an account's events go. events: '' for every event, else ',type,type,' (so a filter is
-- one LIKE). secret: the signing secret as shown to the operator (its UTF-8 bytes are the HMAC
-- key). After a rotation the previous secret also signs until previous_secret_until (Unix ms).
CREATE TABLE webhook_endpoints (
    id                     TEXT PRIMARY KEY,
    account_id             TEXT NOT NULL REFERENCES accounts(id),
    url                    TEXT NOT NULL,
    events                 TEXT NOT NULL,
    secret                 TEXT NOT NULL,
    previous_secret        TEXT,
    previous_secret_until  BIGINT,
    -- declared in the config file (kept in step with it at start) rather than by the CLI
    from_config            BOOLEAN NOT NULL DEFAULT FALSE,
    -- set when the endpoint answered 410 Gone: nothing more is sent to it
    disabled_at            BIGINT,
    disabled_reason        TEXT,
    created_at             BIGINT NOT NULL
);

CREATE INDEX webhook_endpoints_account ON webhook_endpoints (account_id);

-- The outbox. A row is written in the transaction of the change it reports (kind 'event', one
-- per subscribed endpoint) or of the upload it belongs to (kind 'extension': a runner call; kind
-- 'callback': a POST to the upload's webhookUrl). A worker in every instance claims due rows by
-- moving next_attempt_at past the attempt's timeout (a lease: a claim dies with its instance and
-- the row is due again), and records the outcome.
CREATE TABLE deliveries (
    id               BIGSERIAL PRIMARY KEY,
    -- webhook-id: the same on every attempt
    message_id       TEXT NOT NULL,
    account_id       TEXT NOT NULL,
    -- event | callback | extension
    kind             TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    endpoint_id      TEXT,
    -- callback: the URL; extension: the extension's name
    target           TEXT,
    -- callback: the public key whose private key signs it
    key_id           TEXT,
    body             TEXT NOT NULL,
    -- pending | delivered | failed
    state            TEXT NOT NULL DEFAULT 'pending',
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    last_attempt_at  BIGINT,
    last_status      BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    finished_at      BIGINT
);

CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending';
