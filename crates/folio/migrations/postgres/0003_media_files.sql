-- The media management API (media-api §2): a version's attributes can change after its upload
-- (update details, bulk tags, publish), so a version remembers when it last changed. NULL: never
-- since it was created. Expand-only: older instances ignore the column.
ALTER TABLE file_versions ADD COLUMN updated_at BIGINT;
