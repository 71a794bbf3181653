-- Search and listing (GET /v1/files, spec §8.9): indexes for the list orders and filters, the
-- folders' parent and own name as generated columns, and version_tags, one row per tag and AI
-- tag name of a version, kept by triggers so that every writer of file_versions keeps it.
-- Text ranges (name and path prefixes) compare bytewise: those indexes use COLLATE "C", as
-- the queries do.

ALTER TABLE folders ADD COLUMN parent_path TEXT GENERATED ALWAYS AS (
    regexp_replace(path, '[^/]+/$', '')
) STORED;
ALTER TABLE folders ADD COLUMN name TEXT GENERATED ALWAYS AS (
    substring(path FROM '([^/]+)/$')
) STORED;
CREATE INDEX folders_parent_name ON folders (account_id, parent_path, name);
CREATE INDEX folders_created ON folders (account_id, created_at, folder_id);

CREATE INDEX files_folder_created ON files (account_id, folder_path, created_at, file_id);
CREATE INDEX files_folder_name ON files (account_id, folder_path, name);
CREATE INDEX files_created ON files (account_id, created_at, file_id);
CREATE INDEX files_updated ON files (account_id, updated_at, file_id);
CREATE INDEX files_name ON files (account_id, (name COLLATE "C"), file_id);
CREATE INDEX files_folder_path_c ON files (account_id, (folder_path COLLATE "C"));
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
);
CREATE INDEX version_tags_version ON version_tags (version_id);

-- The tags of one version: its tags (strings) and the names of its AI tags (objects).
CREATE FUNCTION version_tags_of(p_version_id TEXT, p_file_id TEXT, p_tags TEXT, p_ai_tags TEXT)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    tags_doc jsonb;
    ai_doc jsonb;
BEGIN
    DELETE FROM version_tags WHERE version_id = p_version_id;
    tags_doc := COALESCE(p_tags::jsonb, '[]'::jsonb);
    ai_doc := COALESCE(p_ai_tags::jsonb, '[]'::jsonb);
    IF jsonb_typeof(tags_doc) = 'array' THEN
        INSERT INTO version_tags (account_id, tag, version_id)
        SELECT f.account_id, t.value #>> '{}', p_version_id
        FROM files f, jsonb_array_elements(tags_doc) t
        WHERE f.file_id = p_file_id AND jsonb_typeof(t.value) = 'string'
        ON CONFLICT DO NOTHING;
    END IF;
    IF jsonb_typeof(ai_doc) = 'array' THEN
        INSERT INTO version_tags (account_id, tag, version_id)
        SELECT f.account_id, t.value ->> 'name', p_version_id
        FROM files f, jsonb_array_elements(ai_doc) t
        WHERE f.file_id = p_file_id AND jsonb_typeof(t.value) = 'object'
          AND jsonb_typeof(t.value -> 'name') = 'string'
        ON CONFLICT DO NOTHING;
    END IF;
END;
$$;

CREATE FUNCTION version_tags_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM version_tags_of(NEW.version_id, NEW.file_id, NEW.tags, NEW.ai_tags);
    RETURN NULL;
END;
$$;

CREATE TRIGGER version_tags_insert AFTER INSERT ON file_versions
    FOR EACH ROW EXECUTE FUNCTION version_tags_trigger();
CREATE TRIGGER version_tags_update AFTER UPDATE OF tags, ai_tags ON file_versions
    FOR EACH ROW EXECUTE FUNCTION version_tags_trigger();

-- Rows written before this migration.
SELECT version_tags_of(version_id, file_id, tags, ai_tags) FROM file_versions;
