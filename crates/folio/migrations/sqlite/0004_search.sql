-- Search and listing (GET /v1/files, spec §8.9): indexes for the list orders and filters, the
-- folders' parent and own name as generated columns, and version_tags, one row per tag and AI
-- tag name of a version, kept by triggers so that every writer of file_versions keeps it.

-- Folder paths are stored as '/a/b/'. rtrim(s, <every non-slash character of s>) strips the
-- last segment: for '/a/b' that leaves '/a/'.
ALTER TABLE folders ADD COLUMN parent_path TEXT GENERATED ALWAYS AS (
    rtrim(rtrim(path, '/'), replace(rtrim(path, '/'), '/', ''))
) VIRTUAL;
ALTER TABLE folders ADD COLUMN name TEXT GENERATED ALWAYS AS (
    substr(rtrim(path, '/'), length(rtrim(rtrim(path, '/'), replace(rtrim(path, '/'), '/', ''))) + 1)
) VIRTUAL;
CREATE INDEX folders_parent_name ON folders (account_id, parent_path, name);
CREATE INDEX folders_created ON folders (account_id, created_at, folder_id);

CREATE INDEX files_folder_created ON files (account_id, folder_path, created_at, file_id);
CREATE INDEX files_folder_name ON files (account_id, folder_path, name);
CREATE INDEX files_created ON files (account_id, created_at, file_id);
CREATE INDEX files_updated ON files (account_id, updated_at, file_id);
CREATE INDEX files_name ON files (account_id, name, file_id);
CREATE INDEX files_current_version ON files (current_version_id);
CREATE INDEX file_versions_file ON file_versions (file_id);
CREATE INDEX file_versions_size ON file_versions (size);
CREATE INDEX file_versions_width ON file_versions (width);
CREATE INDEX file_versions_height ON file_versions (height);

CREATE TABLE version_tags (
    account_id  TEXT NOT NULL,
    tag         TEXT NOT NULL,
    version_id  TEXT NOT NULL REFERENCES file_versions(version_id) ON DELETE CASCADE,
    PRIMARY KEY (account_id, tag, version_id)
) WITHOUT ROWID;
CREATE INDEX version_tags_version ON version_tags (version_id);

-- The tags of one version: its tags (strings) and the names of its AI tags (objects).
CREATE TRIGGER version_tags_insert AFTER INSERT ON file_versions BEGIN
    INSERT OR IGNORE INTO version_tags (account_id, tag, version_id)
    SELECT f.account_id, t.value, NEW.version_id
    FROM files f, json_each(CASE WHEN json_valid(NEW.tags) THEN NEW.tags ELSE '[]' END) t
    WHERE f.file_id = NEW.file_id AND t.type = 'text';
    INSERT OR IGNORE INTO version_tags (account_id, tag, version_id)
    SELECT f.account_id, json_extract(t.value, '$.name'), NEW.version_id
    FROM files f, json_each(CASE WHEN json_valid(NEW.ai_tags) THEN NEW.ai_tags ELSE '[]' END) t
    WHERE f.file_id = NEW.file_id AND t.type = 'object'
      AND json_type(t.value, '$.name') = 'text';
END;

CREATE TRIGGER version_tags_update AFTER UPDATE OF tags, ai_tags ON file_versions BEGIN
    DELETE FROM version_tags WHERE version_id = NEW.version_id;
    INSERT OR IGNORE INTO version_tags (account_id, tag, version_id)
    SELECT f.account_id, t.value, NEW.version_id
    FROM files f, json_each(CASE WHEN json_valid(NEW.tags) THEN NEW.tags ELSE '[]' END) t
    WHERE f.file_id = NEW.file_id AND t.type = 'text';
    INSERT OR IGNORE INTO version_tags (account_id, tag, version_id)
    SELECT f.account_id, json_extract(t.value, '$.name'), NEW.version_id
    FROM files f, json_each(CASE WHEN json_valid(NEW.ai_tags) THEN NEW.ai_tags ELSE '[]' END) t
    WHERE f.file_id = NEW.file_id AND t.type = 'object'
      AND json_type(t.value, '$.name') = 'text';
END;

-- Rows written before this migration.
INSERT OR IGNORE INTO version_tags (account_id, tag, version_id)
SELECT f.account_id, t.value, v.version_id
FROM file_versions v JOIN files f ON f.file_id = v.file_id,
     json_each(CASE WHEN json_valid(v.tags) THEN v.tags ELSE '[]' END) t
WHERE t.type = 'text';
INSERT OR IGNORE INTO version_tags (account_id, tag, version_id)
SELECT f.account_id, json_extract(t.value, '$.name'), v.version_id
FROM file_versions v JOIN files f ON f.file_id = v.file_id,
     json_each(CASE WHEN json_valid(v.ai_tags) THEN v.ai_tags ELSE '[]' END) t
WHERE t.type = 'object' AND json_type(t.value, '$.name') = 'text';
