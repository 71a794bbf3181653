-- Durable background jobs (media-api §2): folder copy, move and rename (bulk jobs) and cache
-- purge requests. A runner in every server claims a pending job by taking its lease
-- (lease_owner until lease_until, Unix ms), works in batches, saves its progress (cursor) and
-- renews the lease after each batch, and marks it Completed. A job whose lease ran out (its
-- instance died) is claimed again and resumes from its cursor.
CREATE TABLE jobs (
    job_id            TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES accounts(id),
    -- COPY_FOLDER | MOVE_FOLDER | RENAME_FOLDER | PURGE
    kind              TEXT NOT NULL,
    -- Pending | Completed
    status            TEXT NOT NULL,
    -- JSON: what to do, fixed at submission
    params            TEXT NOT NULL,
    -- progress: the last source file path done (jobs that walk a folder in path order)
    cursor            TEXT,
    -- renameFolder with purgeCache: the purge job this one creates
    purge_request_id  TEXT,
    -- not claimed while this job is Pending (the purge of a rename waits for the rename)
    depends_on        TEXT,
    lease_owner       TEXT,
    lease_until       INTEGER,
    attempts          INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    completed_at      INTEGER
);

CREATE INDEX jobs_pending ON jobs (status, created_at);
