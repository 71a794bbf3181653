//! Reading catalog rows into domain values, shared by the SQLite and PostgreSQL catalogs.
//!
//! Both schemas give every column the same Rust type, so one mapper per row shape serves both;
//! [`Columns`] is the little that differs (the row type a column is read from: sqlx's rows of
//! either backend, and rusqlite's on the embedded catalog's upload path).

use anyhow::Context;
use sqlx::Row;

use super::commit::{CurrentVersion, FoundFile};
use super::{
    Account, ApiKey, ClaimedDelivery, CopiedVersion, CustomField, DeliveryKind, DeliveryOutcome,
    DeliveryRecord, DeliveryReport, Job, JobKind, KeyWithAccount, ListedItem, MediaInfo, OutboxRow,
    StoredFolder, StoredVersion, WebhookEndpoint,
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

/// `SELECT` of an account, read by [`account_from_row`]; the caller adds the `WHERE`.
pub(super) const SELECT_ACCOUNT: &str = "SELECT id, url_id, disabled FROM accounts";

pub(super) fn account_from_row<R: Columns>(row: &R) -> anyhow::Result<Account> {
    Ok(Account {
        id: row.column("id")?,
        url_id: row.column("url_id")?,
        disabled: row.column("disabled")?,
    })
}

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
    + rusqlite::types::FromSql
{
}

impl<T> ColumnValue for T where
    T: for<'r> sqlx::Decode<'r, sqlx::Sqlite>
        + sqlx::Type<sqlx::Sqlite>
        + for<'r> sqlx::Decode<'r, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>
        + rusqlite::types::FromSql
{
}

impl Columns for sqlx::sqlite::SqliteRow {
    fn column<T: ColumnValue>(&self, name: &str) -> anyhow::Result<T> {
        Ok(self.try_get(name)?)
    }
}

impl Columns for rusqlite::Row<'_> {
    fn column<T: ColumnValue>(&self, name: &str) -> anyhow::Result<T> {
        Ok(self.get(name)?)
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

// Statements both backends run as they are. Both dialects take `$n` placeholders (sqlx binds
// SQLite's `$n` by number), so one text serves both; PostgreSQL appends what only it has
// (`FOR UPDATE`, `ON CONFLICT`).

/// A folder (`$1` account, `$2` path, `$3` id, `$4` now) unless it exists: uploads, copies
/// and moves create their destination's folders implicitly, top down.
pub(super) const INSERT_FOLDER: &str =
    "INSERT INTO folders (account_id, path, folder_id, created_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT DO NOTHING";

pub(super) fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

/// A job as inserted (`$1`…`$10`); bound by [`bind_job`].
pub(super) const INSERT_JOB: &str =
    "INSERT INTO jobs (job_id, account_id, kind, status, params, cursor, \
     purge_request_id, depends_on, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// Saves a job's cursor (`$1`) and extends its lease (`$2`, now `$3`), only while `$5` holds
/// job `$4`.
pub(super) const CHECKPOINT_JOB: &str =
    "UPDATE jobs SET cursor = $1, lease_until = $2, updated_at = $3 \
     WHERE job_id = $4 AND lease_owner = $5 AND status = 'Pending'";

/// Marks job `$3` Completed at `$1` (= `$2`), only while `$4` holds it.
pub(super) const COMPLETE_JOB: &str =
    "UPDATE jobs SET status = 'Completed', completed_at = $1, updated_at = $2, \
     lease_owner = NULL, lease_until = NULL \
     WHERE job_id = $3 AND lease_owner = $4 AND status = 'Pending'";

/// Gives up every lease `$1` holds.
pub(super) const RELEASE_JOBS: &str = "UPDATE jobs SET lease_owner = NULL, lease_until = NULL \
     WHERE lease_owner = $1 AND status = 'Pending'";

/// Writes back what a [`super::VersionEdit`] may change of version `$8` (at `$7`).
pub(super) const UPDATE_VERSION_ATTRIBUTES: &str =
    "UPDATE file_versions SET tags = $1, ai_tags = $2, custom_metadata = $3, \
     custom_coordinates = $4, description = $5, is_published = $6, updated_at = $7 \
     WHERE version_id = $8";

/// The stored status of a job.
pub(super) fn job_status(job: &Job) -> &'static str {
    if job.completed {
        "Completed"
    } else {
        "Pending"
    }
}

/// The default account: the oldest, ties broken by id so every backend picks the same one.
pub(super) const FIRST_ACCOUNT: &str = "SELECT id FROM accounts ORDER BY created_at, id LIMIT 1";

/// A new account, unless its URL id is taken (then no row).
pub(super) const INSERT_ACCOUNT: &str = "INSERT INTO accounts (id, url_id, created_at) \
     VALUES ($1, $2, $3) ON CONFLICT (url_id) DO NOTHING";

pub(super) const SET_ACCOUNT_DISABLED: &str = "UPDATE accounts SET disabled = $1 WHERE url_id = $2";

/// Every key pair, oldest first (ties by public key), read by [`key_from_row`].
pub(super) fn all_keys() -> String {
    format!(
        "SELECT {KEY_COLUMNS} FROM api_keys k JOIN accounts a ON a.id = k.account_id \
         ORDER BY k.created_at, k.public_key"
    )
}

/// The `files` row at a path (`$1` account, `$2` path), read into [`file_at_path_from_row`].
pub(super) const FILE_AT_PATH: &str =
    "SELECT file_id, current_version_id, last_version_number, created_at FROM files \
     WHERE account_id = $1 AND file_path = $2";

/// What an overwrite reads of a file (`$1`) and its current version (`$2`), in one round trip;
/// read into [`current_for_overwrite_from_row`].
pub(super) const CURRENT_FOR_OVERWRITE: &str =
    "SELECT (SELECT COUNT(*) FROM file_versions WHERE file_id = $1) AS version_count, \
     tags, ai_tags, custom_metadata FROM file_versions WHERE version_id = $2";

/// Points a file (`$4`) at a new current version (`$1`), with its highest number (`$2`) and
/// update time (`$3`): an overwrite, a copy or a move appending versions.
pub(super) const SET_CURRENT_VERSION: &str =
    "UPDATE files SET current_version_id = $1, last_version_number = $2, updated_at = $3 \
     WHERE file_id = $4";

/// A new file's row; bound by [`bind_new_file`].
pub(super) const INSERT_FILE: &str =
    "INSERT INTO files (file_id, account_id, file_path, folder_path, name, \
     current_version_id, last_version_number, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// A version row; bound by [`bind_version_row`].
pub(super) const INSERT_VERSION: &str =
    "INSERT INTO file_versions (version_id, file_id, version_number, blob_key, size, mime, \
     file_type, width, height, tags, ai_tags, custom_metadata, custom_coordinates, \
     is_private_file, is_published, description, media, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)";

pub(super) fn file_at_path_from_row<R: Columns>(row: &R) -> anyhow::Result<FoundFile> {
    let last: i64 = row.column("last_version_number")?;
    Ok(FoundFile {
        file_id: row.column("file_id")?,
        current_version_id: row.column("current_version_id")?,
        last_version_number: u32::try_from(last)?,
        created_at_ms: row.column("created_at")?,
    })
}

pub(super) fn current_for_overwrite_from_row<R: Columns>(
    row: &R,
) -> anyhow::Result<CurrentVersion> {
    Ok(CurrentVersion {
        version_count: row.column("version_count")?,
        tags: json_column(row, "tags")?,
        ai_tags: json_column(row, "ai_tags")?,
        custom_metadata: json_column(row, "custom_metadata")?,
    })
}

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> anyhow::Result<String> {
    Ok(serde_json::to_string(value)?)
}

/// The values of an [`INSERT_VERSION`], in its column order.
pub(super) struct VersionRow<'a> {
    pub version_id: &'a str,
    pub file_id: &'a str,
    pub version_number: i64,
    pub blob_key: &'a str,
    pub size: i64,
    pub mime: &'a str,
    pub file_type: &'a str,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub tags: Option<String>,
    pub ai_tags: Option<String>,
    pub custom_metadata: String,
    pub custom_coordinates: Option<&'a str>,
    pub is_private_file: bool,
    pub is_published: bool,
    pub description: Option<&'a str>,
    pub media: String,
    pub created_at: i64,
}

impl<'a> VersionRow<'a> {
    /// The row of a version an upload made ([`super::commit`]).
    pub fn of(v: &'a StoredVersion) -> anyhow::Result<Self> {
        Self::with_attributes(
            v,
            &v.version_id,
            &v.file_id,
            i64::from(v.version_number),
            &v.blob_key,
            v.created_at_ms,
        )
    }

    /// The row of a copied version: its own id and blob, numbered in `file_id`, with the
    /// attributes of its source.
    pub fn copy(
        copied: &'a CopiedVersion,
        file_id: &'a str,
        number: i64,
        now: i64,
    ) -> anyhow::Result<Self> {
        Self::with_attributes(
            &copied.source,
            &copied.version_id,
            file_id,
            number,
            &copied.blob_key,
            now,
        )
    }

    fn with_attributes(
        v: &'a StoredVersion,
        version_id: &'a str,
        file_id: &'a str,
        version_number: i64,
        blob_key: &'a str,
        created_at: i64,
    ) -> anyhow::Result<Self> {
        Ok(VersionRow {
            version_id,
            file_id,
            version_number,
            blob_key,
            size: i64::try_from(v.size)?,
            mime: &v.media.mime,
            file_type: &v.media.file_type,
            width: v.media.width.map(i64::from),
            height: v.media.height.map(i64::from),
            tags: v.tags.as_ref().map(to_json).transpose()?,
            ai_tags: v.ai_tags.as_ref().map(to_json).transpose()?,
            custom_metadata: to_json(&v.custom_metadata)?,
            custom_coordinates: v.custom_coordinates.as_deref(),
            is_private_file: v.is_private_file,
            is_published: v.is_published,
            description: v.description.as_deref(),
            media: to_json(&v.media)?,
            created_at,
        })
    }
}

/// Binds a [`VersionRow`] to a query of [`INSERT_VERSION`] (a macro: the backends' query types
/// differ, the order of the values does not).
macro_rules! bind_version_row {
    ($query:expr, $row:expr) => {{
        let row: &$crate::store::rows::VersionRow<'_> = $row;
        $query
            .bind(row.version_id)
            .bind(row.file_id)
            .bind(row.version_number)
            .bind(row.blob_key)
            .bind(row.size)
            .bind(row.mime)
            .bind(row.file_type)
            .bind(row.width)
            .bind(row.height)
            .bind(row.tags.as_deref())
            .bind(row.ai_tags.as_deref())
            .bind(row.custom_metadata.as_str())
            .bind(row.custom_coordinates)
            .bind(row.is_private_file)
            .bind(row.is_published)
            .bind(row.description)
            .bind(row.media.as_str())
            .bind(row.created_at)
    }};
}
pub(super) use bind_version_row;

/// Binds a new file's row to a query of [`INSERT_FILE`].
macro_rules! bind_new_file {
    ($query:expr, $account_id:expr, $folder_path:expr, $file:expr) => {{
        let file: &$crate::store::commit::NewFile = $file;
        $query
            .bind(file.file_id.as_str())
            .bind($account_id)
            .bind(file.file_path.as_str())
            .bind($folder_path)
            .bind(file.name.as_str())
            .bind(file.current_version_id.as_str())
            .bind(file.last_version_number)
            .bind(file.created_at_ms)
            .bind(file.created_at_ms)
    }};
}
pub(super) use bind_new_file;

/// Binds a [`Job`] to a query of [`INSERT_JOB`] (its params already as JSON text).
macro_rules! bind_job {
    ($query:expr, $job:expr, $params:expr) => {{
        let job: &$crate::store::Job = $job;
        $query
            .bind(job.job_id.as_str())
            .bind(job.account_id.as_str())
            .bind(job.kind.as_str())
            .bind($crate::store::rows::job_status(job))
            .bind($params)
            .bind(job.cursor.as_deref())
            .bind(job.purge_request_id.as_deref())
            .bind(job.depends_on.as_deref())
            .bind(job.created_at_ms)
            .bind(job.created_at_ms)
    }};
}
pub(super) use bind_job;

// The outbox (webhooks.md §3).

/// An account event for every endpoint of the account subscribed to its type (`$1` message
/// id, `$2` account, `$3` type, `$4` body, `$5` now): one statement, which writes nothing when
/// nobody listens.
pub(super) const INSERT_EVENT_DELIVERIES: &str =
    "INSERT INTO deliveries (message_id, account_id, kind, event_type, endpoint_id, body, \
     created_at, next_attempt_at) \
     SELECT $1, $2, 'event', $3, e.id, $4, $5, $5 FROM webhook_endpoints e \
     WHERE e.account_id = $2 AND e.disabled_at IS NULL \
     AND (e.events = '' OR e.events LIKE '%,' || CAST($3 AS TEXT) || ',%')";

/// A callback or an extension job (`$1` message id, `$2` account, `$3` kind, `$4` type,
/// `$5` target, `$6` key id, `$7` body, `$8` now).
pub(super) const INSERT_DELIVERY: &str =
    "INSERT INTO deliveries (message_id, account_id, kind, event_type, target, key_id, body, \
     created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)";

/// Columns of `deliveries` read by [`claimed_from_row`].
const CLAIMED_COLUMNS: &str = "id, message_id, account_id, kind, event_type, \
    endpoint_id, target, key_id, body, attempts, created_at";

/// Columns of `webhook_endpoints` read by [`endpoint_from_row`].
pub(super) const ENDPOINT_COLUMNS: &str = "id, account_id, url, events, secret, \
    previous_secret, previous_secret_until, from_config, disabled_at, disabled_reason, created_at";

pub(super) const INSERT_ENDPOINT: &str = "INSERT INTO webhook_endpoints (id, account_id, url, \
    events, secret, previous_secret, previous_secret_until, from_config, disabled_at, \
    disabled_reason, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

/// The outcome of an attempt, which it counts (`$1` state, `$2` next attempt, `$3` status,
/// `$4` error, `$5` finished at or NULL, `$6` attempted at, `$7` id).
pub(super) const FINISH_DELIVERY: &str = "UPDATE deliveries SET state = $1, next_attempt_at = $2, \
    last_status = $3, last_error = $4, finished_at = $5, attempts = attempts + 1, \
    last_attempt_at = $6 WHERE id = $7";

/// A new secret (`$1`); the current one signs too until `$2` (`$3` endpoint id).
pub(super) const ROTATE_SECRET: &str = "UPDATE webhook_endpoints SET previous_secret = secret, \
    previous_secret_until = $2, secret = $1 WHERE id = $3";

/// Disables the endpoint of delivery `$2` at `$1` (it answered 410 Gone).
pub(super) const DISABLE_ENDPOINT: &str = "UPDATE webhook_endpoints SET disabled_at = $1, \
    disabled_reason = '410 Gone' \
    WHERE id = (SELECT endpoint_id FROM deliveries WHERE id = $2)";

/// Finished rows older than `$1`.
/// Files of an account, and the bytes of their versions (`COUNT`/`SUM` as BIGINT in both
/// dialects).
pub(super) const ACCOUNT_USAGE: &str = "SELECT COUNT(DISTINCT f.file_id), \
     CAST(COALESCE(SUM(v.size), 0) AS BIGINT) FROM files f \
     JOIN file_versions v ON v.file_id = f.file_id WHERE f.account_id = $1";

/// Both counts of an [`ACCOUNT_USAGE`] row.
pub(super) fn usage_from_row<R: sqlx::Row>(row: &R) -> anyhow::Result<super::Usage>
where
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    let count = |i: usize| -> anyhow::Result<u64> {
        Ok(u64::try_from(row.try_get::<i64, _>(i)?).unwrap_or_default())
    };
    Ok(super::Usage {
        files: count(0)?,
        bytes: count(1)?,
    })
}

/// A page of [`super::VersionBlob`]s after `$1`, at most `$2`.
pub(super) const VERSIONS_AFTER: &str = "SELECT f.account_id, v.file_id, v.version_id, \
     v.blob_key, v.size FROM file_versions v JOIN files f ON f.file_id = v.file_id \
     WHERE v.version_id > $1 ORDER BY v.version_id LIMIT $2";

pub(super) fn version_blob_from_row<R: sqlx::Row>(row: &R) -> anyhow::Result<super::VersionBlob>
where
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    Ok(super::VersionBlob {
        account_id: row.try_get(0)?,
        file_id: row.try_get(1)?,
        version_id: row.try_get(2)?,
        blob_key: row.try_get(3)?,
        size: u64::try_from(row.try_get::<i64, _>(4)?).unwrap_or_default(),
    })
}

/// A page of [`super::FileSequence`]s after `$1`, at most `$2`.
pub(super) const FILE_SEQUENCES_AFTER: &str = "SELECT f.account_id, f.file_id, \
     f.last_version_number, f.current_version_id, \
     (SELECT COUNT(*) FROM file_versions v WHERE v.file_id = f.file_id), \
     (SELECT MAX(v.version_number) FROM file_versions v WHERE v.file_id = f.file_id), \
     (SELECT COUNT(*) FROM file_versions v \
       WHERE v.file_id = f.file_id AND v.version_id = f.current_version_id) \
     FROM files f WHERE f.file_id > $1 ORDER BY f.file_id LIMIT $2";

pub(super) const RAISE_LAST_VERSION_NUMBER: &str = "UPDATE files SET last_version_number = $1 \
     WHERE file_id = $2 AND last_version_number < $1";

pub(super) fn file_sequence_from_row<R: sqlx::Row>(row: &R) -> anyhow::Result<super::FileSequence>
where
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    Ok(super::FileSequence {
        account_id: row.try_get(0)?,
        file_id: row.try_get(1)?,
        last_version_number: row.try_get(2)?,
        current_version_id: row.try_get(3)?,
        versions: u64::try_from(row.try_get::<i64, _>(4)?).unwrap_or_default(),
        highest: row.try_get(5)?,
        current_found: row.try_get::<i64, _>(6)? > 0,
    })
}

pub(super) const INSERT_CONSOLE_SESSION: &str = "INSERT INTO console_sessions \
     (id_hash, kind, public_key, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)";
const CONSOLE_SESSION_COLUMNS: &str = "id_hash, kind, public_key, csrf, created_at, expires_at";
/// Binds [`INSERT_CONSOLE_SESSION`] for one session (sqlx).
macro_rules! bind_console_session {
    ($session:expr) => {{
        let session: &$crate::store::ConsoleSession = $session;
        sqlx::query($crate::store::rows::INSERT_CONSOLE_SESSION)
            .bind(&session.id_hash)
            .bind(session.kind.as_str())
            .bind(&session.public_key)
            .bind(&session.csrf)
            .bind(session.created_at)
            .bind(session.expires_at)
    }};
}
pub(super) use bind_console_session;
pub(super) fn select_console_session() -> String {
    format!("SELECT {CONSOLE_SESSION_COLUMNS} FROM console_sessions WHERE id_hash = $1")
}
pub(super) fn take_console_session() -> String {
    format!("DELETE FROM console_sessions WHERE id_hash = $1 RETURNING {CONSOLE_SESSION_COLUMNS}")
}
pub(super) const PURGE_CONSOLE_SESSIONS: &str =
    "DELETE FROM console_sessions WHERE expires_at < $1";

pub(super) fn console_session_from_row<R: sqlx::Row>(
    row: &R,
) -> anyhow::Result<super::ConsoleSession>
where
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    let kind: String = row.try_get(1)?;
    Ok(super::ConsoleSession {
        id_hash: row.try_get(0)?,
        kind: super::ConsoleSessionKind::parse(&kind)
            .ok_or_else(|| anyhow::anyhow!("unknown console session kind {kind:?}"))?,
        public_key: row.try_get(2)?,
        csrf: row.try_get(3)?,
        created_at: row.try_get(4)?,
        expires_at: row.try_get(5)?,
    })
}

pub(super) const COUNT_PENDING_DELIVERIES: &str =
    "SELECT COUNT(*) FROM deliveries WHERE state = 'pending'";

pub(super) const PURGE_DELIVERIES: &str =
    "DELETE FROM deliveries WHERE state <> 'pending' AND finished_at < $1";

/// [`INSERT_ENDPOINT`] that replaces the URL, filter and secret of an endpoint already there
/// (the config file's endpoints at start); a rotation's previous secret and a 410's disabling
/// are kept only while the secret and URL stay the same.
pub(super) fn upsert_endpoint() -> String {
    format!(
        "{INSERT_ENDPOINT} ON CONFLICT (id) DO UPDATE SET url = excluded.url, \
         events = excluded.events, secret = excluded.secret, \
         disabled_at = CASE WHEN webhook_endpoints.url = excluded.url \
             THEN webhook_endpoints.disabled_at END, \
         disabled_reason = CASE WHEN webhook_endpoints.url = excluded.url \
             THEN webhook_endpoints.disabled_reason END, \
         previous_secret = CASE WHEN webhook_endpoints.secret = excluded.secret \
             THEN webhook_endpoints.previous_secret END, \
         previous_secret_until = CASE WHEN webhook_endpoints.secret = excluded.secret \
             THEN webhook_endpoints.previous_secret_until END"
    )
}

/// Every endpoint, oldest first.
pub(super) fn all_endpoints() -> String {
    format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY created_at, id")
}

/// The deliveries still pending for endpoint `$1` (they go with it).
pub(super) const DROP_PENDING_OF_ENDPOINT: &str =
    "DELETE FROM deliveries WHERE endpoint_id = $1 AND state = 'pending'";

pub(super) const DELETE_ENDPOINT: &str = "DELETE FROM webhook_endpoints WHERE id = $1";

/// The ids of the endpoints the config file declared.
pub(super) const CONFIG_ENDPOINT_IDS: &str =
    "SELECT id FROM webhook_endpoints WHERE from_config = TRUE";

/// The delivery log, newest first (`$1` limit); the `WHERE` of failed-only is added.
pub(super) fn delivery_log(failed_only: bool) -> String {
    format!(
        "SELECT id, message_id, kind, event_type, endpoint_id, \
         COALESCE(target, (SELECT url FROM webhook_endpoints e WHERE e.id = endpoint_id)) AS target, \
         state, attempts, next_attempt_at, last_status, last_error, created_at \
         FROM deliveries {} ORDER BY id DESC LIMIT $1",
        if failed_only {
            "WHERE state = 'failed'"
        } else {
            ""
        }
    )
}

/// Due rows, oldest due first (`$1` now, `$2` limit).
pub(super) const DUE_DELIVERIES: &str = "WHERE state = 'pending' AND next_attempt_at <= $1 \
    ORDER BY next_attempt_at LIMIT $2";

/// The embedded catalog's claim: due rows, read (its leases are kept in memory, see
/// `SqliteCatalog::claim_deliveries`).
pub(super) fn select_due() -> String {
    format!("SELECT {CLAIMED_COLUMNS} FROM deliveries {DUE_DELIVERIES}")
}

/// PostgreSQL's claim: due rows leased until `$3` (`FOR UPDATE SKIP LOCKED`: instances
/// claiming at the same moment pass over each other's rows).
pub(super) fn lease_due() -> String {
    format!(
        "UPDATE deliveries SET next_attempt_at = $3 WHERE id IN \
         (SELECT id FROM deliveries {DUE_DELIVERIES} FOR UPDATE SKIP LOCKED) \
         RETURNING {CLAIMED_COLUMNS}"
    )
}

pub(super) fn claimed_from_row<R: Columns>(row: &R) -> anyhow::Result<ClaimedDelivery> {
    let kind: String = row.column("kind")?;
    Ok(ClaimedDelivery {
        id: row.column("id")?,
        row: OutboxRow {
            message_id: row.column("message_id")?,
            account_id: row.column("account_id")?,
            kind: DeliveryKind::parse(&kind)
                .with_context(|| format!("unknown delivery kind {kind}"))?,
            event_type: row.column("event_type")?,
            target: row.column("target")?,
            key_id: row.column("key_id")?,
            body: row.column("body")?,
            created_at_ms: row.column("created_at")?,
        },
        endpoint_id: row.column("endpoint_id")?,
        // The attempts recorded so far, and this one.
        attempts: row.column::<i64>("attempts")?.saturating_add(1),
    })
}

pub(super) fn endpoint_from_row<R: Columns>(row: &R) -> anyhow::Result<WebhookEndpoint> {
    let events: String = row.column("events")?;
    Ok(WebhookEndpoint {
        id: row.column("id")?,
        account_id: row.column("account_id")?,
        url: row.column("url")?,
        events: crate::webhooks::outbox::events_from_column(&events),
        secret: row.column("secret")?,
        previous_secret: row.column("previous_secret")?,
        previous_secret_until_ms: row.column("previous_secret_until")?,
        from_config: row.column("from_config")?,
        disabled_at_ms: row.column("disabled_at")?,
        disabled_reason: row.column("disabled_reason")?,
        created_at_ms: row.column("created_at")?,
    })
}

pub(super) fn delivery_record_from_row<R: Columns>(row: &R) -> anyhow::Result<DeliveryRecord> {
    let kind: String = row.column("kind")?;
    Ok(DeliveryRecord {
        id: row.column("id")?,
        message_id: row.column("message_id")?,
        kind: DeliveryKind::parse(&kind)
            .with_context(|| format!("unknown delivery kind {kind}"))?,
        event_type: row.column("event_type")?,
        endpoint_id: row.column("endpoint_id")?,
        target: row.column("target")?,
        state: row.column("state")?,
        attempts: row.column("attempts")?,
        next_attempt_at_ms: row.column("next_attempt_at")?,
        last_status: row.column("last_status")?,
        last_error: row.column("last_error")?,
        created_at_ms: row.column("created_at")?,
    })
}

/// The row values of a report: state, next attempt, finished at.
pub(super) fn finish_values(report: &DeliveryReport) -> (&'static str, i64, Option<i64>) {
    match report.outcome {
        DeliveryOutcome::Delivered => ("delivered", report.at_ms, Some(report.at_ms)),
        DeliveryOutcome::Retry(at) => ("pending", at, None),
        DeliveryOutcome::Failed | DeliveryOutcome::EndpointGone => {
            ("failed", report.at_ms, Some(report.at_ms))
        }
    }
}

/// Binds [`INSERT_DELIVERY`] or [`INSERT_EVENT_DELIVERIES`] for one outbox row (sqlx).
macro_rules! bind_outbox_row {
    ($row:expr) => {{
        let row: &$crate::store::OutboxRow = $row;
        if row.kind == $crate::store::DeliveryKind::Event {
            sqlx::query($crate::store::rows::INSERT_EVENT_DELIVERIES)
                .bind(&row.message_id)
                .bind(&row.account_id)
                .bind(&row.event_type)
                .bind(&row.body)
                .bind(row.created_at_ms)
        } else {
            sqlx::query($crate::store::rows::INSERT_DELIVERY)
                .bind(&row.message_id)
                .bind(&row.account_id)
                .bind(row.kind.as_str())
                .bind(&row.event_type)
                .bind(&row.target)
                .bind(&row.key_id)
                .bind(&row.body)
                .bind(row.created_at_ms)
        }
    }};
}
pub(super) use bind_outbox_row;

/// Binds [`INSERT_ENDPOINT`] (sqlx).
macro_rules! bind_endpoint {
    ($q:expr, $e:expr) => {{
        let e: &$crate::store::WebhookEndpoint = $e;
        $q.bind(&e.id)
            .bind(&e.account_id)
            .bind(&e.url)
            .bind($crate::webhooks::outbox::events_column(&e.events))
            .bind(&e.secret)
            .bind(&e.previous_secret)
            .bind(e.previous_secret_until_ms)
            .bind(e.from_config)
            .bind(e.disabled_at_ms)
            .bind(&e.disabled_reason)
            .bind(e.created_at_ms)
    }};
}
pub(super) use bind_endpoint;
