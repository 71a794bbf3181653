-- Durable background jobs (media-api §2): folder copy, move and rename (bulk jobs) and cache
-- purge requests. A runner in every instance claims a pending job with
-- `FOR UPDATE SKIP LOCKED` and takes its lease (lease_owner until lease_until, Unix ms); it
-- works in batches, saves its progress (cursor) and renews the lease after each batch, only
-- while it still holds the lease, and marks the job Completed. A job whose lease ran out (its
-- instance died) is claimed by any instance and resumes from its cursor.
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
    lease_until       BIGINT,
    attempts          BIGINT NOT NULL DEFAULT 0,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    completed_at      BIGINT
);

CREATE INDEX jobs_pending ON jobs (status, created_at);

-- Folder jobs walk a folder's files in bytewise path order (a range on the path, then a
-- keyset cursor), the order SQLite's BINARY collation gives the unique (account_id, file_path).
CREATE INDEX files_path_c ON files (account_id, (file_path COLLATE "C"));
