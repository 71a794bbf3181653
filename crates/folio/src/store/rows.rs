//! Reading catalog rows into domain values, shared by the SQLite and PostgreSQL catalogs.
//!
//! Both schemas give every column the same Rust type, so one mapper per row shape serves both;
//! [`Columns`] is the little that differs (the row type `try_get` is called on).

use anyhow::Context;
use sqlx::Row;

use super::{
    Account, ApiKey, CustomField, Job, JobKind, KeyWithAccount, ListedItem, MediaInfo,
    StoredFolder, StoredVersion,
};

/// Columns of `file_versions v JOIN files f` read by [`version_from_row`].
pub(super) const VERSION_COLUMNS: &str =
    "f.file_id, v.version_id, v.version_number, f.name, f.file_path, \
    v.blob_key, v.size, v.tags, v.ai_tags, v.custom_metadata, v.custom_coordinates, \
    v.is_private_file, v.is_published, v.description, v.media, v.created_at, \
    f.created_at AS file_created_at, f.updated_at AS file_updated_at, \
    COALESCE(v.updated_at, v.created_at) AS version_updated_at, \
    (f.current_version_id = v.version_id) AS is_current";

/// Columns of `folders` read by [`folder_from_row`].
pub(super) const FOLDER_COLUMNS: &str = "folder_id, path, created_at";

/// Columns of `api_keys k JOIN accounts a` read by [`key_from_row`].
pub(super) const KEY_COLUMNS: &str =
    "k.public_key, k.private_key, k.account_id, k.revoked, k.expires_at, \
    k.created_at, a.url_id, a.disabled";

/// Columns of `custom_metadata_fields` read by [`field_from_row`].
pub(super) const FIELD_COLUMNS: &str =
    "field_id, account_id, name, label, description, schema, deleted, created_at";

/// A column read from a row of either backend.
pub(super) trait Columns {
    fn column<T>(&self, name: &str) -> anyhow::Result<T>
    where
        T: ColumnValue;
}

/// The Rust types catalog columns are read as.
pub(super) trait ColumnValue:
    for<'r> sqlx::Decode<'r, sqlx::Sqlite>
    + sqlx::Type<sqlx::Sqlite>
    + for<'r> sqlx::Decode<'r, sqlx::Postgres>
    + sqlx::Type<sqlx::Postgres>
{
}

impl<T> ColumnValue for T where
    T: for<'r> sqlx::Decode<'r, sqlx::Sqlite>
        + sqlx::Type<sqlx::Sqlite>
        + for<'r> sqlx::Decode<'r, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>
{
}

impl Columns for sqlx::sqlite::SqliteRow {
    fn column<T: ColumnValue>(&self, name: &str) -> anyhow::Result<T> {
        Ok(self.try_get(name)?)
    }
}

impl Columns for sqlx::postgres::PgRow {
    fn column<T: ColumnValue>(&self, name: &str) -> anyhow::Result<T> {
        Ok(self.try_get(name)?)
    }
}

pub(super) fn key_from_row<R: Columns>(row: &R) -> anyhow::Result<KeyWithAccount> {
    let account_id: String = row.column("account_id")?;
    Ok(KeyWithAccount {
        key: ApiKey {
            public_key: row.column("public_key")?,
            private_key: row.column("private_key")?,
            account_id: account_id.clone(),
            revoked: row.column("revoked")?,
            expires_at: row.column("expires_at")?,
            created_at_ms: row.column("created_at")?,
        },
        account: Account {
            id: account_id,
            url_id: row.column("url_id")?,
            disabled: row.column("disabled")?,
        },
    })
}

pub(super) fn json_column<T: serde::de::DeserializeOwned>(
    row: &impl Columns,
    column: &str,
) -> anyhow::Result<Option<T>> {
    let text: Option<String> = row.column(column)?;
    text.map(|t| serde_json::from_str(&t).with_context(|| format!("column {column}")))
        .transpose()
}

pub(super) fn version_from_row<R: Columns>(row: &R) -> anyhow::Result<StoredVersion> {
    let size: i64 = row.column("size")?;
    let number: i64 = row.column("version_number")?;
    Ok(StoredVersion {
        file_id: row.column("file_id")?,
        version_id: row.column("version_id")?,
        version_number: u32::try_from(number)?,
        name: row.column("name")?,
        file_path: row.column("file_path")?,
        blob_key: row.column("blob_key")?,
        size: u64::try_from(size)?,
        tags: json_column(row, "tags")?,
        ai_tags: json_column(row, "ai_tags")?,
        custom_metadata: json_column(row, "custom_metadata")?.unwrap_or_default(),
        custom_coordinates: row.column("custom_coordinates")?,
        is_private_file: row.column("is_private_file")?,
        is_published: row.column("is_published")?,
        description: row.column("description")?,
        media: json_column::<MediaInfo>(row, "media")?.unwrap_or_default(),
        created_at_ms: row.column("created_at")?,
        is_current: row.column("is_current")?,
        file_created_at_ms: row.column("file_created_at")?,
        file_updated_at_ms: row.column("file_updated_at")?,
        updated_at_ms: row.column("version_updated_at")?,
    })
}

/// The last segment of a canonical folder path (`/a/b/` → `b`).
fn folder_name(path: &str) -> String {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}

pub(super) fn folder_from_row<R: Columns>(row: &R) -> anyhow::Result<StoredFolder> {
    let path: String = row.column("path")?;
    Ok(StoredFolder {
        folder_id: row.column("folder_id")?,
        name: folder_name(&path),
        path,
        created_at_ms: row.column("created_at")?,
    })
}

pub(super) fn field_from_row<R: Columns>(row: &R) -> anyhow::Result<CustomField> {
    Ok(CustomField {
        id: row.column("field_id")?,
        account_id: row.column("account_id")?,
        name: row.column("name")?,
        label: row.column("label")?,
        description: row.column("description")?,
        schema: json_column(row, "schema")?.unwrap_or_default(),
        deleted: row.column("deleted")?,
        created_at_ms: row.column("created_at")?,
    })
}

/// A row of a list statement (columns [`super::listing::LIST_COLUMNS`]).
pub(super) fn listed_from_row<R: Columns>(row: &R) -> anyhow::Result<ListedItem> {
    let kind: String = row.column("kind")?;
    if kind == "folder" {
        let path: String = row.column("file_path")?;
        return Ok(ListedItem::Folder(StoredFolder {
            folder_id: row.column("item_id")?,
            name: folder_name(&path),
            path,
            created_at_ms: row.column("created_at")?,
        }));
    }
    let size: i64 = row.column("size")?;
    let number: i64 = row.column("version_number")?;
    Ok(ListedItem::File(Box::new(StoredVersion {
        file_id: row.column("item_id")?,
        version_id: row.column("version_id")?,
        version_number: u32::try_from(number)?,
        name: row.column("name")?,
        file_path: row.column("file_path")?,
        blob_key: row.column("blob_key")?,
        size: u64::try_from(size)?,
        tags: json_column(row, "tags")?,
        ai_tags: json_column(row, "ai_tags")?,
        custom_metadata: json_column(row, "custom_metadata")?.unwrap_or_default(),
        custom_coordinates: row.column("custom_coordinates")?,
        is_private_file: row.column("is_private_file")?,
        is_published: row.column("is_published")?,
        description: row.column("description")?,
        media: json_column::<MediaInfo>(row, "media")?.unwrap_or_default(),
        created_at_ms: row.column("version_created_at")?,
        is_current: kind == "file",
        file_created_at_ms: row.column("file_created_at")?,
        file_updated_at_ms: row.column("file_updated_at")?,
        updated_at_ms: row.column("version_updated_at")?,
    })))
}

/// Columns of `jobs` read by [`job_from_row`].
pub(super) const JOB_COLUMNS: &str = "job_id, account_id, kind, status, params, cursor, \
    purge_request_id, depends_on, attempts, created_at";

pub(super) fn job_from_row<R: Columns>(row: &R) -> anyhow::Result<Job> {
    let kind: String = row.column("kind")?;
    let status: String = row.column("status")?;
    Ok(Job {
        job_id: row.column("job_id")?,
        account_id: row.column("account_id")?,
        kind: JobKind::parse(&kind).with_context(|| format!("unknown job kind {kind}"))?,
        completed: status == "Completed",
        params: json_column(row, "params")?.unwrap_or_default(),
        cursor: row.column("cursor")?,
        purge_request_id: row.column("purge_request_id")?,
        depends_on: row.column("depends_on")?,
        attempts: row.column("attempts")?,
        created_at_ms: row.column("created_at")?,
    })
}
